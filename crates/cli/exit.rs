//! Exit codes scripts rely on, the error type that carries them, and log set-up.

use std::process::ExitCode;

/// The transfer failed.
pub(crate) const FAILED: u8 = 1;
/// Bad input: nothing was created.
pub(crate) const BAD_INPUT: u8 = 2;
/// Interrupted by Ctrl-C or SIGTERM.
pub(crate) const INTERRUPTED: u8 = 130;

/// An error with the exit code it maps to.
#[derive(Debug)]
pub(crate) enum CliError {
    /// Bad input (exit 2): refused before anything was created.
    BadInput(anyhow::Error),
    /// The work failed (exit 1).
    Failed(anyhow::Error),
    /// Interrupted (exit 130).
    Interrupted(anyhow::Error),
}

impl CliError {
    pub(crate) fn report(self) -> ExitCode {
        let (code, e) = match self {
            CliError::BadInput(e) => (BAD_INPUT, e),
            CliError::Failed(e) => (FAILED, e),
            CliError::Interrupted(e) => (INTERRUPTED, e),
        };
        eprintln!("ferry: error: {e:#}");
        ExitCode::from(code)
    }
}

/// Bad input, with a message.
pub(crate) fn bad_input(msg: impl std::fmt::Display) -> CliError {
    CliError::BadInput(anyhow::anyhow!("{msg}"))
}

impl From<ferry_s3::S3Error> for CliError {
    fn from(e: ferry_s3::S3Error) -> Self {
        match e.client_kind() {
            Some(ferry_s3::ClientErrorKind::InvalidRequest)
            | Some(ferry_s3::ClientErrorKind::Credentials) => CliError::BadInput(e.into()),
            _ => CliError::Failed(e.into()),
        }
    }
}

pub(crate) fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERRY_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "ferry={level},ferry_s3={level},ferry_engine={level}"
        ))
    });
    // Colours only on a terminal: a log file or a pipe gets plain text.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
