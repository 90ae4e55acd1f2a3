//! One object being written to S3, whatever writes it (an upload, a copy, a stream): the
//! [`Job`] with its destination, what the object carries, the settings, its journal, and the
//! file it reads when it reads one; and the settings themselves ([`UploadSettings`]).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use ferry_s3::{AbortMultipartUploadRequest, ObjectClient, ObjectOptions};
use tracing::warn;

use crate::checksum::ChecksumMode;
use crate::context::Context;
use crate::direct::DirectIo;
use crate::error::{Error, ErrorKind, Failure};
use crate::journal::{JournalError, JournalHandle, PartRecord, SourceIdentity};
use crate::plan::PlanConfig;
use crate::progress::Event;

/// How to upload. Build with `Default` and set what differs.
#[derive(Debug, Clone, Default)]
pub struct UploadSettings {
    /// Part planning: part size, single-request threshold, object size limit.
    pub plan: PlanConfig,
    /// Checksums. By default, CRC64NVME, FULL_OBJECT.
    pub checksum: ChecksumMode,
    /// Refuse to replace an existing object (`If-None-Match: *`). In a tree, such an object
    /// is left as it was and counted in [`TreeOutcome::existed`], not failed. By default,
    /// `false`.
    ///
    /// [`TreeOutcome::existed`]: crate::TreeOutcome::existed
    pub no_clobber: bool,
    /// Sign every chunk of every body (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`) instead
    /// of sending it unsigned with a checksum trailer. Costs a SHA-256 of all the data. By
    /// default, `false`.
    pub sign_payload: bool,
    /// What to do with a multipart upload that failed. By default, [`FailurePolicy::Auto`].
    pub on_failure: FailurePolicy,
    /// When a source file is read with `O_DIRECT` rather than through the page cache. By
    /// default, when it is too big for the page cache to hold comfortably.
    pub direct_io: DirectIo,
    /// Abort the interrupted upload of the same source and destination that a journal
    /// describes, and start fresh. By default, `false`: resume it.
    pub restart: bool,
    /// A move: once the object is written and verified, delete its source, a whole file (if
    /// it is still as it was read) or, for a copy, the source object (if it is still the
    /// version that was read), else fail with [`ErrorKind::SourceKept`]. Not for streams,
    /// bytes, part of a file, a version of an object, or a sync. By default, `false`.
    ///
    /// [`ErrorKind::SourceKept`]: crate::ErrorKind::SourceKept
    pub remove_source: bool,
}

/// What happens to a multipart upload that failed or was interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailurePolicy {
    /// Keep it (with its journal) when it can resume: interrupted, or retries ran out on a
    /// transient fault. Abort it on a permanent error (AccessDenied, NoSuchBucket, …), and
    /// always for streams, which cannot be read again.
    #[default]
    Auto,
    /// Keep it whenever it is journaled, except when its source file changed during the
    /// upload: those parts mix two versions of the file, so it is always aborted.
    Keep,
    /// Always abort it.
    Abort,
}

/// Checks what can be checked before anything is sent.
pub(crate) fn check(settings: &UploadSettings, options: &ObjectOptions) -> Result<(), Error> {
    options
        .validate()
        .map_err(|e| Error::invalid(e.to_string()))?;
    if let ChecksumMode::Additional(a, t) = settings.checksum
        && !a.allows(t)
    {
        return Err(Error::invalid(format!(
            "checksum algorithm {a} cannot be used with type {t} (CRC64NVME is FULL_OBJECT only; SHA1 and SHA256 are COMPOSITE only)"
        )));
    }
    if let Some(ps) = settings.plan.part_size {
        crate::plan::check_part_size(ps).map_err(|e| Error::invalid(e.to_string()))?;
    }
    // Source: the PutObject API reference: a request with object lock parameters must carry
    // Content-MD5 or an additional checksum.
    if options.locks() && settings.checksum == ChecksumMode::None {
        return Err(Error::invalid(
            "an object written under object lock needs a checksum (S3 refuses its bytes \
             without Content-MD5 or an additional checksum): choose one rather than none",
        ));
    }
    Ok(())
}

/// One object being written to S3 (an upload or a copy): its destination, what it carries,
/// its settings, its journal. Its requests go through its context.
pub(crate) struct Job<C> {
    pub(crate) ctx: Context<C>,
    pub(crate) bucket: String,
    pub(crate) key: String,
    pub(crate) options: ObjectOptions,
    pub(crate) settings: UploadSettings,
    /// `upload` or `copy`, for messages.
    pub(crate) noun: &'static str,
    /// The journal of this upload, when it is journaled.
    pub(crate) journal: Mutex<Option<Box<dyn JournalHandle>>>,
    /// Set when a CreateMultipartUpload's reply never came (see `multipart`).
    pub(crate) orphans: Mutex<Option<Orphans>>,
    /// A file source as the caller named it, and its identity before its first byte was
    /// read: compared again before the object is completed (see [`Job::source_changed`]).
    pub(crate) watched: OnceLock<(PathBuf, SourceIdentity)>,
    /// Where the upload's state lives when no local journal holds it (a shard plan's
    /// location): after a failure the upload is kept for it, never aborted.
    pub(crate) kept_by: OnceLock<String>,
    /// Bytes an earlier run sent: the parts a resume found on the server and in the journal.
    pub(crate) reused: OnceLock<u64>,
}

impl<C: ObjectClient> Job<C> {
    pub(crate) fn new(
        ctx: Context<C>,
        bucket: String,
        key: String,
        options: ObjectOptions,
        settings: UploadSettings,
        noun: &'static str,
    ) -> Self {
        Self {
            ctx,
            bucket,
            key,
            options,
            settings,
            noun,
            journal: Mutex::new(None),
            orphans: Mutex::new(None),
            watched: OnceLock::new(),
            kept_by: OnceLock::new(),
            reused: OnceLock::new(),
        }
    }

    /// The same job with other settings and options (a resume takes the journal's), keeping
    /// its journal.
    pub(crate) fn with(&self, settings: UploadSettings, options: ObjectOptions) -> Self {
        Self {
            ctx: self.ctx.clone(),
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            options,
            settings,
            noun: self.noun,
            journal: Mutex::new(self.journal.lock().expect("journal lock").take()),
            orphans: Mutex::new(*self.orphans.lock().expect("orphans lock")),
            watched: self.watched.clone(),
            kept_by: self.kept_by.clone(),
            reused: self.reused.clone(),
        }
    }

    pub(crate) fn client(&self) -> &C {
        self.ctx.client()
    }

    pub(crate) fn emit(&self, e: Event) {
        self.ctx.emit(e);
    }

    /// Announces a multipart plan (the event, and the counters' totals): `size` bytes
    /// (unknown for a stream) in `parts` parts (unknown for a stream) of `part_size` (a
    /// stream's first).
    pub(crate) fn planned(&self, size: Option<u64>, part_size: u64, parts: Option<u32>) {
        self.emit(Event::Planned {
            size,
            part_size,
            parts,
            multipart: true,
        });
        self.ctx
            .progress
            .set_total(size.unwrap_or(0), parts.unwrap_or(0));
    }

    /// Announces a single-request plan of `size` bytes.
    pub(crate) fn planned_single(&self, size: u64) {
        self.emit(Event::Planned {
            size: Some(size),
            part_size: size,
            parts: Some(1),
            multipart: false,
        });
        self.ctx.progress.set_total(size, 1);
    }

    pub(crate) fn mode(&self) -> ChecksumMode {
        self.settings.checksum
    }

    /// Takes `bytes`, what is left to send, from the transfer allowance (see
    /// [`Context::allowed`]), before the first request that writes.
    pub(crate) fn allowed(&self, bytes: u64) -> Result<(), Error> {
        self.ctx
            .allowed(bytes, &format!("the {} to {}", self.noun, self.url()))
    }

    /// `s3://bucket/key`.
    pub(crate) fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// A failed request as an engine error: `context` says what was being done.
    pub(crate) fn failed(&self, context: impl std::fmt::Display, f: Failure) -> Error {
        if self.ctx.cancel.is_cancelled() {
            return Error::cancelled(self.noun);
        }
        // The one condition a job puts on its own destination is `If-None-Match: *`.
        let f = match f {
            Failure::S3(e) if self.settings.no_clobber && e.status() == Some(412) => {
                return self.exists().with_source(e);
            }
            f => f,
        };
        // An SSE-KMS upload's parts and Complete carry no SSE header: their denial names the
        // key's actions from the upload's settings.
        let f = match (f, &self.options.sse) {
            (Failure::S3(e), Some(ferry_s3::ServerSideEncryption::Kms { key_id, .. })) => {
                Failure::S3(e.with_kms(key_id.clone()))
            }
            (f, _) => f,
        };
        let e = f.into_error(context, self.noun);
        match self.options.locks() {
            true => e.refusing_locks(),
            false => e,
        }
    }

    /// The destination exists, and replacing it was not allowed.
    pub(crate) fn exists(&self) -> Error {
        Error::new(
            ErrorKind::Exists,
            format!("{} exists and replacing it was not allowed", self.url()),
        )
    }

    /// With `no_clobber`, refuses a destination that exists already (one HeadObject). Before
    /// a multipart upload sends its parts, or a large PutObject its body, `exact_later` (the
    /// `If-None-Match` of the Complete or PutObject is exact, but would refuse only once
    /// every byte was sent): then credentials that may write but not read (a HeadObject
    /// denied) go on without the early look.
    pub(crate) async fn refuse_existing(&self, exact_later: bool) -> Result<(), Error> {
        if !self.settings.no_clobber {
            return Ok(());
        }
        let head = ferry_s3::GetObjectRequest {
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            request: self.options.request.clone(),
            ..Default::default()
        };
        let head = &head;
        let found = self
            .ctx
            .request(None, |c| async move {
                match c.head_object(head).await {
                    Ok(_) => Ok(true),
                    Err(e) if e.status() == Some(404) => Ok(false),
                    Err(e) if exact_later && e.status() == Some(403) => Ok(false),
                    Err(e) => Err(e),
                }
            })
            .await
            .map_err(|f| self.failed(format!("checking {}", self.url()), f))?;
        if found { Err(self.exists()) } else { Ok(()) }
    }

    /// The file source and how it changed since it was first looked at (its size, times or
    /// inode differ, or it is gone), or `None` while it is as it was. A stat, no request.
    pub(crate) fn source_change(&self) -> Option<(&Path, String)> {
        let (path, was) = self.watched.get()?;
        let now = was.again().map(|now| match was.range {
            Some([offset, len]) => now.with_range(offset, len),
            None => now,
        });
        let change = match now {
            Ok(now) => was.change(&now)?,
            Err(e) => format!("it can no longer be read: {e}"),
        };
        Some((path, change))
    }

    /// The error to report when the file source changed since it was first looked at (see
    /// [`Job::source_change`]), or `None` while it is as it was.
    pub(crate) fn source_changed(&self) -> Option<Error> {
        let (path, change) = self.source_change()?;
        Some(Error::new(
            ErrorKind::SourceChanged,
            format!(
                "{} changed while it was being uploaded ({change}), so {} was not written: \
                 the object would have mixed old and new bytes. Copy or snapshot the file \
                 first, then upload the copy",
                path.display(),
                self.url()
            ),
        ))
    }

    /// Appends a part to the journal, if there is one (durable when this returns).
    pub(crate) fn record(&self, part: &PartRecord) -> Result<(), Error> {
        let mut guard = self.journal.lock().expect("journal lock");
        match guard.as_mut() {
            Some(j) => j.write_part(part).map_err(journal_error),
            None => Ok(()),
        }
    }

    /// The journal's id, if the upload is journaled.
    pub(crate) fn journal_id(&self) -> Option<String> {
        self.journal
            .lock()
            .expect("journal lock")
            .as_ref()
            .map(|j| j.id().to_string())
    }

    /// Deletes the journal: the upload finished or was aborted.
    pub(crate) fn forget(&self) {
        if let Some(j) = self.journal.lock().expect("journal lock").take()
            && let Err(e) = j.remove()
        {
            warn!("removing the journal: {e}");
        }
    }

    pub(crate) fn set_journal(&self, handle: Box<dyn JournalHandle>) {
        *self.journal.lock().expect("journal lock") = Some(handle);
    }

    pub(crate) fn is_journaled(&self) -> bool {
        self.journal.lock().expect("journal lock").is_some()
    }

    /// `upload_id` of this job's object, as a failure leaves it behind.
    pub(crate) fn left(&self, upload_id: &str) -> crate::error::LeftBehind {
        crate::error::LeftBehind {
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            upload_id: upload_id.to_string(),
        }
    }

    /// Aborts an upload whose failure to go can only be logged (an old upload a restart
    /// replaces, one a lost Create reply left).
    pub(crate) async fn abort_or_warn(&self, upload_id: &str) {
        if let Err(e) = self.abort(upload_id).await {
            warn!("upload {upload_id} of {} is left behind: {e}", self.url());
        }
    }

    /// Aborts a multipart upload, trying three times while the failure is one worth retrying.
    /// Not cancellable: an abort must get through even after a cancel. The error says why
    /// the upload is left behind (a denial names s3:AbortMultipartUpload); the caller
    /// reports it.
    pub(crate) async fn abort(&self, upload_id: &str) -> Result<(), ferry_s3::S3Error> {
        let req = AbortMultipartUploadRequest {
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            upload_id: upload_id.to_string(),
            request: self.options.request.clone(),
        };
        let mut attempt = 1u32;
        loop {
            let slot = self.ctx.shared.requests.acquire().await;
            let r = self.client().abort_multipart_upload(&req).await;
            drop(slot);
            match r {
                Ok(()) => return Ok(()),
                Err(e) if e.code() == Some("NoSuchUpload") => return Ok(()),
                Err(e) if attempt < 3 && e.is_retryable() => {
                    warn!("aborting upload {upload_id} (attempt {attempt}): {e}");
                    tokio::time::sleep(Duration::from_millis(200 * attempt as u64)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Where to look for uploads a lost CreateMultipartUpload reply may have left, and when.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Orphans {
    /// When the first Create was sent (seconds since the epoch).
    pub(crate) since: u64,
    /// The last sweep waits until then: a request that went unanswered for a while may reach
    /// the server as long again after it was given up (a stalled network path delivers it
    /// late), and the upload it makes must be seen by the sweep.
    pub(crate) not_before: Instant,
}

/// A journal's error as an engine error.
pub(crate) fn journal_error(e: JournalError) -> Error {
    let (kind, hint) = match &e {
        JournalError::Locked { .. } | JournalError::Damaged { .. } => (ErrorKind::InvalidInput, ""),
        JournalError::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull => (
            ErrorKind::Local,
            ": free some space for the journals and run again",
        ),
        JournalError::Io { .. } => (ErrorKind::Local, ""),
    };
    Error::new(kind, format!("{e}{hint}")).with_source(e)
}
