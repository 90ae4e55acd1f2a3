//! The engine's one error type, with a kind callers match on (the CLI maps it to exit codes
//! and flag hints), and the typed failure of one attempt at a request that the retry loop
//! carries: what the service or the client said, a local I/O error, or a cancel.
//!
//! The engine names no command-line flag: where a caller can act, the error says so in terms
//! of the library ([`Mismatch`] names the setting that differs), and the CLI adds its flags.

use std::fmt;

/// What kind of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bad input, found before anything was created (exit 2 in the CLI).
    InvalidInput,
    /// The local source or destination failed (a read or write error, a full disk).
    Local,
    /// The service refused (NoSuchBucket, …), or retries ran out.
    Service,
    /// The credentials lack a permission the step needs: [`Error::denial`] names the action
    /// and the resource. Running again as it is cannot help.
    Denied,
    /// The object the server holds does not match what was sent, or the bytes received do
    /// not match the object's checksum.
    Verification,
    /// The caller cancelled.
    Cancelled,
    /// The object changed during the transfer (its ETag no longer matches).
    Changed,
    /// The local source file changed while it was read (its size, times or inode): nothing
    /// was completed, the upload was aborted. Retry once the file is stable, or upload a
    /// copy or snapshot of it.
    SourceChanged,
    /// An interrupted transfer cannot be resumed as asked: [`Error::resume_mismatch`] says which
    /// setting differs. Nothing was changed; starting over (restart) is the way out.
    ResumeMismatch,
    /// The destination exists and replacing it was not allowed (no-clobber).
    Exists,
    /// A move wrote its destination, verified, but kept its source: the source changed since
    /// it was read (the destination holds what was read), or deleting it failed.
    SourceKept,
    /// The object is archived (S3 Glacier Flexible Retrieval or Deep Archive, or an
    /// Intelligent-Tiering archive tier) and no restored copy is readable: restore it first
    /// ([`Manager::restore`](crate::Manager::restore)), then read it once the restore is done.
    Archived,
    /// Not started: the object's bytes, or what is left of them to move when it resumes,
    /// are more than is left of the manager's transfer allowance
    /// ([`Manager::set_transfer_allowance`](crate::Manager::set_transfer_allowance)). Nothing
    /// was created; an interrupted upload or partial download it would resume is kept as it
    /// was.
    OverAllowance,
}

/// What differs between an interrupted transfer and the request to resume it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mismatch {
    /// The source (file or object) changed since the transfer began: these fields differ.
    Source(String),
    /// The part size.
    PartSize {
        /// The interrupted upload's.
        began: u64,
        /// The one asked for now.
        asked: u64,
    },
    /// The SSE-C key: the upload began with one (`began`) and another or none is given
    /// now, or the other way round.
    SseCustomerKey {
        /// Whether the upload began with a key.
        began: bool,
        /// Whether one is given now.
        given: bool,
    },
    /// The multipart upload no longer exists and the object is not the finished one.
    UploadGone,
    /// The journal's plan does not fit the source.
    Plan,
    /// The object lock asked for is not the one the upload was created with (which its
    /// object gets): the headers that differ (`x-amz-object-lock-mode`,
    /// `x-amz-object-lock-retain-until-date`, `x-amz-object-lock-legal-hold`); the message says
    /// each as asked and as begun.
    ObjectLock(Vec<String>),
    /// The object's settings asked for (content headers, metadata, tags, storage class,
    /// encryption, ACL) are not those the upload was created with (which its object gets):
    /// the headers that differ (`content-type`, `x-amz-meta-NAME`, `x-amz-storage-class`, …);
    /// the message says each as asked and as begun.
    ObjectSettings(Vec<String>),
}

/// An engine error: a kind, a message that names the object or part and what to do, and the
/// S3 error behind it, if any.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
    resume: Option<String>,
    mismatch: Option<Mismatch>,
    left_behind: Option<Box<LeftBehind>>,
    /// The bucket or the server refused what every object of the run asks for alike.
    bucket_wide: bool,
}

/// A multipart upload a failure left on the server, because aborting it failed too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftBehind {
    /// Its bucket.
    pub bucket: String,
    /// Its key.
    pub key: String,
    /// Its upload id.
    pub upload_id: String,
}

impl Error {
    /// The object `url` (in `version`, if one was asked for) is not there: the server's 404
    /// `e`, other than NoSuchBucket.
    pub(crate) fn missing(url: &str, version: Option<&str>, e: ferry_s3::S3Error) -> Self {
        let version = version
            .map(|v| format!(" in version {v}"))
            .unwrap_or_default();
        Error::new(
            ErrorKind::Service,
            format!("{url} does not exist{version}: {e}"),
        )
        .with_source(e)
    }

    /// A new error.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
            resume: None,
            mismatch: None,
            left_behind: None,
            bucket_wide: false,
        }
    }

    /// A refused resume: `what` differs.
    pub(crate) fn mismatch(what: Mismatch, message: impl Into<String>) -> Self {
        Self {
            mismatch: Some(what),
            ..Self::new(ErrorKind::ResumeMismatch, message)
        }
    }

    /// The transfer was kept for resume: a journal id (an upload or copy), or the partial
    /// file (a download).
    pub fn kept_for_resume(mut self, id: impl Into<String>) -> Self {
        self.resume = Some(id.into());
        self
    }

    /// The journal id (or partial file) to resume from, when the transfer was kept.
    pub fn resume_id(&self) -> Option<&str> {
        self.resume.as_deref()
    }

    /// The multipart upload this failure left on the server, when aborting it failed too
    /// (its parts are stored, and billed, until it is aborted or a lifecycle rule removes
    /// it).
    pub fn left_behind(&self) -> Option<&LeftBehind> {
        self.left_behind.as_deref()
    }

    /// Says that aborting the upload failed with `why`: it is left behind.
    pub(crate) fn leaving_behind(mut self, upload: LeftBehind, why: &ferry_s3::S3Error) -> Self {
        self.message = format!(
            "{}; the multipart upload {} is left behind: {why}",
            self.message, upload.upload_id
        );
        self.left_behind = Some(Box::new(upload));
        self
    }

    /// For a request that carried a retention or a legal hold (PutObject,
    /// CreateMultipartUpload, CopyObject, PutObjectRetention, PutObjectLegalHold): says why
    /// the bucket or the server refused it, where the answer is one every such request would meet (so that a
    /// run of many objects stops at it, see [`Self::concerns_every_object`]). S3 answers a
    /// lock in a bucket without object lock with a bare `InvalidRequest` ("Bucket is missing
    /// Object Lock Configuration", when it says why); a server without object lock answers
    /// `NotImplemented`.
    pub(crate) fn refusing_locks(mut self) -> Self {
        // Only the requests that carry the lock: not a part or a Complete, whose refusal
        // is about itself.
        let carried = self.s3().and_then(|e| e.service()).is_some_and(|s| {
            matches!(
                s.operation,
                "PutObject"
                    | "CreateMultipartUpload"
                    | "CopyObject"
                    | "PutObjectRetention"
                    | "PutObjectLegalHold"
            )
        });
        if !carried {
            return self;
        }
        let why = match self.s3().and_then(ferry_s3::S3Error::code) {
            Some("InvalidRequest") => {
                "a bucket without object lock refuses a retention or a legal hold (object lock \
                 is turned on when a bucket is made, or later on a versioned one)"
            }
            Some("NotImplemented") => "the server does not implement object lock",
            _ => return self,
        };
        self.message = format!("{}; {why}", self.message);
        self.bucket_wide = true;
        self
    }

    /// The same error, said another way.
    pub(crate) fn with_message(mut self, message: String) -> Self {
        self.message = message;
        self
    }

    /// The permission the service refused, for [`ErrorKind::Denied`].
    pub fn denial(&self) -> Option<&ferry_s3::Denial> {
        self.s3()?.denial()
    }

    /// What differs, for [`ErrorKind::ResumeMismatch`].
    pub fn resume_mismatch(&self) -> Option<&Mismatch> {
        self.mismatch.as_ref()
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

    /// The journal's refusal behind this one (locked by another process, damaged), if any.
    pub fn journal(&self) -> Option<&crate::journal::JournalError> {
        self.source.as_ref()?.downcast_ref()
    }

    /// The S3 error behind this one, if any.
    pub fn s3(&self) -> Option<&ferry_s3::S3Error> {
        self.source.as_ref()?.downcast_ref()
    }

    /// Whether running again may succeed as it is: interrupted, a transient fault that
    /// outlasted the retries, or a local failure (what a kept transfer needs to resume).
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, ErrorKind::Cancelled | ErrorKind::Local)
            || self.s3().is_some_and(ferry_s3::S3Error::is_retryable)
    }

    /// Whether every other object of a run would meet this error too: the server's answer
    /// concerns the bucket, the credentials or the endpoint, not the object (see
    /// [`ferry_s3::S3Error::concerns_every_request`]); the bucket or the server refuses object
    /// lock, the storage class or the ACL, which the run asks for every object alike; or the
    /// local disk is full or read-only.
    pub fn concerns_every_object(&self) -> bool {
        use std::io::ErrorKind as Io;
        let source = self.source.as_deref();
        self.bucket_wide
            || self
                .s3()
                .is_some_and(ferry_s3::S3Error::concerns_every_request)
            || matches!(
                self.s3().and_then(ferry_s3::S3Error::code),
                Some("InvalidStorageClass" | "AccessControlListNotSupported")
            )
            || source
                .and_then(|e| e.downcast_ref::<std::io::Error>())
                .is_some_and(|e| {
                    matches!(
                        e.kind(),
                        Io::StorageFull | Io::QuotaExceeded | Io::ReadOnlyFilesystem
                    )
                })
    }

    pub(crate) fn from_s3(context: impl fmt::Display, e: ferry_s3::S3Error) -> Self {
        let kind = match e.client_kind() {
            Some(ferry_s3::ClientErrorKind::InvalidRequest)
            | Some(ferry_s3::ClientErrorKind::Credentials) => ErrorKind::InvalidInput,
            _ if e.is_denied() => ErrorKind::Denied,
            // What a read of an archived object meets: GetObject's, and a copy's of its source.
            _ if matches!(
                e.code(),
                Some("InvalidObjectState" | "ObjectNotInActiveTierError")
            ) =>
            {
                return Self::archived(format!("{context}: {e}")).with_source(e);
            }
            _ => ErrorKind::Service,
        };
        Self::new(kind, format!("{context}: {e}")).with_source(e)
    }

    /// An archived object that cannot be read until restored: `what` says which.
    pub(crate) fn archived(what: impl fmt::Display) -> Self {
        Self::new(
            ErrorKind::Archived,
            format!(
                "{what}: the object is archived and no restored copy is readable; restore it \
                 first (RestoreObject: hours, or days from Deep Archive), then read it once \
                 the restore is done"
            ),
        )
    }

    /// A local I/O error while `what`.
    pub(crate) fn local(what: impl fmt::Display, e: std::io::Error) -> Self {
        Self::new(ErrorKind::Local, format!("{what}: {e}")).with_source(e)
    }

    /// No room on the disk for `size` bytes of `what` (a local error every other file of the
    /// run would meet too).
    pub(crate) fn no_space(what: &std::path::Path, size: u64) -> Self {
        let message = format!(
            "not enough disk space for {} ({size} bytes): free some space and run again",
            what.display()
        );
        Self::new(ErrorKind::Local, message)
            .with_source(std::io::Error::from(std::io::ErrorKind::StorageFull))
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// A source file or folder that cannot be opened or read (`verb`): bad input, with the OS
    /// error as its source, so a caller can tell a missing file from a denied one.
    pub(crate) fn unreadable(verb: &str, path: &std::path::Path, e: std::io::Error) -> Self {
        Self::invalid(format!("cannot {verb} source {}: {e}", path.display())).with_source(e)
    }

    pub(crate) fn cancelled(what: &str) -> Self {
        Self::new(ErrorKind::Cancelled, format!("the {what} was cancelled"))
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

/// How one attempt at a request failed, as the retry loop sees it: only an S3 error that
/// says so is retried.
#[derive(Debug)]
pub(crate) enum Failure {
    /// What the service answered, or what failed in the client (ferry-s3 classifies which
    /// are worth retrying).
    S3(ferry_s3::S3Error),
    /// A local read or write failed, or the source changed under the read: sending the
    /// request again cannot help.
    Local(std::io::Error),
    /// The transfer was cancelled.
    Cancelled,
}

impl From<ferry_s3::S3Error> for Failure {
    fn from(e: ferry_s3::S3Error) -> Self {
        Failure::S3(e)
    }
}

impl Failure {
    /// The engine error, with `context` (what was being done, on which object) for an S3
    /// error and `what` naming the transfer for a cancel.
    pub(crate) fn into_error(self, context: impl fmt::Display, what: &str) -> Error {
        match self {
            Failure::S3(e) => Error::from_s3(context, e),
            Failure::Local(e) => Error::local(context, e),
            Failure::Cancelled => Error::cancelled(what),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_archived_source_or_object_is_its_own_kind() {
        for (op, code) in [
            ("GetObject", "InvalidObjectState"),
            ("CopyObject", "ObjectNotInActiveTierError"),
        ] {
            let e = ferry_s3::ServiceError::new(op, 403, code, "not in the active tier");
            let e = Error::from_s3("reading s3://b/k", e.into());
            assert_eq!(e.kind(), ErrorKind::Archived, "{code}");
            assert!(e.to_string().contains("restore it first"), "{e}");
        }
        let denied = ferry_s3::ServiceError::new("GetObject", 403, "AccessDenied", "no");
        assert_eq!(Error::from_s3("x", denied.into()).kind(), ErrorKind::Denied);
    }

    #[test]
    fn kinds_say_what_can_run_again() {
        assert!(Error::cancelled("upload").is_transient());
        let reset =
            ferry_s3::S3Error::client("UploadPart", ferry_s3::ClientErrorKind::Network, "reset");
        assert!(
            Failure::S3(reset)
                .into_error("part 1", "upload")
                .is_transient()
        );
        let bad = Error::mismatch(Mismatch::Plan, "no");
        assert_eq!(bad.kind(), ErrorKind::ResumeMismatch);
        assert_eq!(bad.resume_mismatch(), Some(&Mismatch::Plan));
        assert!(!bad.is_transient());
        let full = Failure::Local(std::io::Error::from_raw_os_error(28));
        assert!(
            full.into_error("writing f", "download")
                .concerns_every_object()
        );
        let gone = ferry_s3::ServiceError::new("PutObject", 404, "NoSuchBucket", "");
        assert!(Error::from_s3("uploading k", gone.into()).concerns_every_object());
        let class = ferry_s3::ServiceError::new("PutObject", 400, "InvalidStorageClass", "");
        assert!(Error::from_s3("uploading k", class.into()).concerns_every_object());
        let acl =
            ferry_s3::ServiceError::new("PutObject", 400, "AccessControlListNotSupported", "");
        assert!(Error::from_s3("uploading k", acl.into()).concerns_every_object());
        let denied = ferry_s3::ServiceError::new("PutObject", 403, "AccessDenied", "");
        assert!(!Error::from_s3("uploading k", denied.into()).concerns_every_object());
        let io = Failure::Local(std::io::Error::other("disk on fire"));
        let e = io.into_error("writing f", "download");
        assert_eq!(e.kind(), ErrorKind::Local);
        assert_eq!(e.to_string(), "writing f: disk on fire");
        assert!(!e.concerns_every_object());
    }
}
