//! The engine's one error type, with a kind callers match on (the CLI maps it to exit codes).

use std::fmt;

/// What kind of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bad input, found before anything was created (exit 2 in the CLI).
    InvalidInput,
    /// The local source or destination failed (read error, file changed).
    Local,
    /// The service refused (AccessDenied, NoSuchBucket, …), or retries ran out.
    Service,
    /// The object the server holds does not match what was sent.
    Verification,
    /// The caller cancelled.
    Cancelled,
    /// The object changed during the transfer (its ETag no longer matches).
    Changed,
    /// The local source file changed while it was read (its size, times or inode): nothing
    /// was completed, the upload was aborted. Retry once the file is stable, or upload a
    /// copy or snapshot of it.
    SourceChanged,
}

/// An engine error: a kind, a message that names the object or part and what to do, and the
/// S3 error behind it, if any.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
    resume: Option<String>,
}

impl Error {
    /// A new error.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
            resume: None,
        }
    }

    /// The upload was kept for resume under this journal id.
    pub fn kept_for_resume(mut self, journal_id: impl Into<String>) -> Self {
        self.resume = Some(journal_id.into());
        self
    }

    /// The journal id to resume from, when the upload was kept.
    pub fn resume_id(&self) -> Option<&str> {
        self.resume.as_deref()
    }

    /// With the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The S3 error behind this one, if any.
    pub fn s3(&self) -> Option<&ferry_s3::S3Error> {
        self.source.as_ref()?.downcast_ref()
    }

    pub(crate) fn from_s3(context: impl fmt::Display, e: ferry_s3::S3Error) -> Self {
        let kind = match e.client_kind() {
            Some(ferry_s3::ClientErrorKind::InvalidRequest)
            | Some(ferry_s3::ClientErrorKind::Credentials) => ErrorKind::InvalidInput,
            _ => ErrorKind::Service,
        };
        Self::new(kind, format!("{context}: {e}")).with_source(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
