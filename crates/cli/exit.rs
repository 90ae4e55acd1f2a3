//! The error type that carries an exit code (`codes`), the mapping of the engine's error kinds
//! to them (with the flags that help, which only the CLI knows), and log set-up.

use std::process::ExitCode;

use crate::codes::{BAD_INPUT, FAILED, INTERRUPTED, READER_GONE};
use crate::output::errln;
use ferry_engine::{ErrorKind, Mismatch};

/// An error with the exit code it maps to.
#[derive(Debug)]
pub(crate) enum CliError {
    /// Bad input (exit 2): refused before anything was created.
    BadInput(anyhow::Error),
    /// The work failed (exit 1).
    Failed(anyhow::Error),
    /// Interrupted (exit 130).
    Interrupted(anyhow::Error),
    /// The reader of stdout went away (exit 141, silently, as `cat` ends in `cat f | head`).
    ReaderGone,
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::BadInput(e) | CliError::Failed(e) | CliError::Interrupted(e) => {
                write!(f, "{e:#}")
            }
            CliError::ReaderGone => f.write_str("the reader of the output went away"),
        }
    }
}

impl CliError {
    /// The same error, with `note` (if any) on a line of its own after the message, unless
    /// it was an interruption.
    pub(crate) fn noted(self, note: Option<String>) -> Self {
        let Some(note) = note else { return self };
        match self {
            CliError::BadInput(e) => CliError::BadInput(anyhow::anyhow!("{e:#}\n{note}")),
            CliError::Failed(e) => CliError::Failed(anyhow::anyhow!("{e:#}\n{note}")),
            other => other,
        }
    }

    /// Prints the error on stderr and gives its exit code. With `--json` (`json_events`:
    /// whether the events go to stderr), a `failed` event carries it too, unless the
    /// transfer's own `failed` event already did: a script reading the events learns of
    /// every failure, a refusal of bad input included.
    pub(crate) fn report(self, json_events: Option<bool>) -> ExitCode {
        let (code, e) = match self {
            CliError::BadInput(e) => (BAD_INPUT, e),
            CliError::Failed(e) => (FAILED, e),
            CliError::Interrupted(e) => match crate::stop::stopped_by() {
                // Said as what stopped it: "interrupted; run the same command again…" reads
                // "stopped: the --max-duration of 1h has passed; run the same command again…".
                Some(limit) => {
                    let said = format!("{e:#}");
                    let rest = said.strip_prefix("interrupted").unwrap_or(&said);
                    (limit.code(), anyhow::anyhow!("stopped: {limit}{rest}"))
                }
                None => (INTERRUPTED, e),
            },
            CliError::ReaderGone => return ExitCode::from(READER_GONE),
        };
        let message = format!("{e:#}");
        if let Some(to_stderr) = json_events
            && !crate::output::failure_sent()
        {
            let line = crate::report::json_line("failed", serde_json::json!({"error": message}));
            crate::output::emit_event(&line, to_stderr);
        }
        errln!("ferry: error: {}", crate::output::shown(&message, true));
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

/// What the flags can do about a refused resume of the journal `id`.
fn mismatch_hint(m: &Mismatch, id: Option<&str>) -> String {
    let hint = match m {
        Mismatch::Source(_) => "run again with --restart to abort the old upload and start fresh",
        Mismatch::PartSize { .. } => "drop --part-size, or --restart",
        Mismatch::SseCustomerKey {
            began: true,
            given: true,
        } => "give that key with --sse-c-key, or --restart",
        Mismatch::SseCustomerKey { began: true, .. } => "give it again with --sse-c-key",
        Mismatch::SseCustomerKey { .. } => "drop --sse-c-key, or --restart",
        Mismatch::UploadGone => "run again with --restart to start fresh",
        Mismatch::ObjectLock(_) => {
            "drop the --object-lock-* flags to finish it with the lock it began with (`ferry lock` \
             lengthens a retention afterwards), or --restart to begin again with this one"
        }
        Mismatch::ObjectSettings(_) => {
            return format!(
                "`ferry resume {}` finishes it with the settings it began with, or run again \
                 with --restart to begin again with these",
                id.unwrap_or("ID")
            );
        }
        _ => "run again with --restart to start fresh",
    };
    hint.to_string()
}

/// The way on for an object whose kept transfer refused to resume (another source, part size,
/// key, lock or settings than it began with), with its journal: said beside its failure in a
/// run over many objects, where the same command again is refused again.
pub(crate) fn way_on(e: &ferry_engine::Error) -> Option<String> {
    e.resume_mismatch().map(|m| mismatch_hint(m, e.resume_id()))
}

/// An engine error as the CLI reports it: its exit code, its message with the flags that
/// help, and `kept` (how to resume, when the transfer was kept) on a line of its own.
pub(crate) fn engine_error(
    e: &ferry_engine::Error,
    interrupted: bool,
    kept: Option<String>,
) -> CliError {
    let mut what = e.to_string();
    match e.kind() {
        // Cancelled by a signal: said as every interrupted transfer says it.
        ErrorKind::Cancelled if interrupted => what = "interrupted".into(),
        ErrorKind::ResumeMismatch => {
            if let Some(m) = e.resume_mismatch() {
                what = format!("{what}; {}", mismatch_hint(m, e.resume_id()));
            }
        }
        ErrorKind::Exists => what = format!("{what} (--no-clobber was given)"),
        ErrorKind::Archived => {
            what = format!(
                "{what}\n`ferry restore` starts the restore (-r: every archived object under a \
                 prefix); run this again once `ferry stat` shows the object restored"
            );
        }
        _ if matches!(
            e.journal(),
            Some(ferry_engine::JournalError::Damaged { .. })
        ) =>
        {
            what =
                format!("{what}; run the command again with --restart to start over in its place");
        }
        ErrorKind::Denied
            if e.s3().and_then(|s| s.service()).map(|s| s.operation) == Some("ListParts") =>
        {
            what = format!(
                "{what}; or start over with --restart (it aborts the old upload, which needs \
                 s3:AbortMultipartUpload)"
            );
        }
        ErrorKind::Denied
            if e.s3().and_then(|s| s.service()).map(|s| s.operation)
                == Some("GetObjectTagging") =>
        {
            what = format!(
                "{what}; or copy without the source's tags: --copy-props metadata-directive"
            );
        }
        _ => {}
    }
    if let Some(u) = e.left_behind() {
        what = format!(
            "{what}\nto remove it, with credentials allowed s3:AbortMultipartUpload: ferry uploads \
             abort s3://{}/{} --upload-id {} (or let a lifecycle rule abort incomplete multipart \
             uploads)",
            u.bucket, u.key, u.upload_id
        );
    }
    let message = match kept {
        Some(k) => anyhow::anyhow!("{what}\n{k}"),
        None => anyhow::anyhow!("{what}"),
    };
    match e.kind() {
        _ if interrupted => CliError::Interrupted(message),
        ErrorKind::Cancelled => CliError::Interrupted(message),
        ErrorKind::OverAllowance => {
            // Said as what stopped it, and exits with its code (see `report`).
            crate::stop::over_allowance();
            CliError::Interrupted(anyhow::anyhow!("interrupted; {message:#}"))
        }
        ErrorKind::InvalidInput | ErrorKind::ResumeMismatch | ErrorKind::Exists => {
            CliError::BadInput(message)
        }
        _ => CliError::Failed(message),
    }
}

pub(crate) fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let (filter, asked) = match tracing_subscriber::EnvFilter::try_from_env("FERRY_LOG") {
        Ok(f) => (f, true),
        Err(_) => (
            tracing_subscriber::EnvFilter::new(format!(
                "ferry={level},ferry_s3={level},ferry_engine={level}"
            )),
            verbose > 0,
        ),
    };
    let log = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| crate::output::LogLine);
    if asked {
        // A log asked for: times and where each line comes from; colours only on a terminal.
        log.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    } else {
        log.event_format(Plain).init();
    }
}

/// Warnings as the rest of ferry's messages read: `ferry: warning: …`.
struct Plain;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for Plain
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let level = match *event.metadata().level() {
            tracing::Level::ERROR => "error",
            tracing::Level::WARN => "warning",
            _ => "note",
        };
        write!(writer, "ferry: {level}: ")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// How a run over many objects (`rm -r`, `lock -r`) ends, after its summary: each failure
/// said on stderr, then the exit: interrupted (the same command again will `verb` the rest),
/// failed naming the first few (`nouns` failed), or done.
pub(crate) fn many_ended(
    failed: &[ferry_engine::ObjectFailure],
    interrupted: bool,
    verb: &str,
    nouns: &str,
) -> Result<(), CliError> {
    for f in failed {
        errln!(
            "ferry: failed: {}",
            crate::output::shown(&f.error.to_string(), false)
        );
    }
    if interrupted {
        return Err(CliError::Interrupted(anyhow::anyhow!(
            "interrupted; run the same command again to {verb} the rest"
        )));
    }
    if failed.is_empty() {
        return Ok(());
    }
    let names =
        crate::output::first_failures(failed.iter().map(|f| f.key.clone()), failed.len(), "");
    Err(CliError::Failed(anyhow::anyhow!(
        "{} {nouns} failed: {}",
        failed.len(),
        names.join(", ")
    )))
}
