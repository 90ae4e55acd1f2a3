//! Uploads: plan, create (journaled for files), run the parts through a bounded pool with
//! retries, complete with the whole object's checksum and size, check the result with
//! HeadObject; or, on failure, keep the upload for resume or abort it (see [`FailurePolicy`]).
//!
//! Dropping an [`UploadHandle`] does not stop the upload; [`UploadHandle::cancel`] does: a
//! journaled file upload is then kept for resume, anything else aborted.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_s3::{
    AbortMultipartUploadRequest, ChecksumType, ChecksumValue, CompleteMultipartUploadRequest,
    CompletedPart, CreateMultipartUploadRequest, GetObjectRequest, ObjectClient, ObjectOptions,
    PutObjectRequest, S3Error, UploadPartRequest,
};
use tokio::io::AsyncRead;
use tokio::sync::broadcast;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::checksum::{ChecksumMode, Digest, object_checksum};
use crate::copy::{CopyState, ObjectSource};
use crate::direct::{DirectIo, DirectSource};
use crate::error::{Error, ErrorKind};
use crate::handle::{EVENT_CAPACITY, Handle};
use crate::journal::{
    Destination, Journal, JournalError, JournalHandle, JournalStore, PartRecord, SourceIdentity,
    UploadRecord,
};
use crate::plan::{Plan, PlanConfig, STREAM_FIRST_PART, plan, stream_part_size};
use crate::progress::{Event, Progress, UploadOutcome, Verification};
use crate::retry::{Attempts, Jitter, RandomJitter, RetryPolicy, RetryQuota};
use crate::schedule::Aimd;
use crate::source::{
    CHUNK_SIZE, Guard, PartData, PartDigests, ReadFailure, part_body, read_stream_part,
    recheck_digest,
};

const MIB: u64 = 1024 * 1024;

/// Settings of an upload. Build with `Default` and set what differs.
#[derive(Debug, Clone)]
pub struct UploadConfig {
    /// Part planning: part size, single-request threshold, object size limit.
    pub plan: PlanConfig,
    /// Most parts in flight. By default, 8.
    pub concurrency: u32,
    /// The memory budget for part buffers, in bytes; caps concurrency x buffers. By default,
    /// 256 MiB.
    pub memory_limit: u64,
    /// Checksums. By default, CRC64NVME, FULL_OBJECT.
    pub checksum: ChecksumMode,
    /// Retries.
    pub retry: RetryPolicy,
    /// Refuse to replace an existing object (`If-None-Match: *`).
    pub no_clobber: bool,
    /// A stream's exact size, if known (`--expected-size`): uniform parts.
    pub expected_size: Option<u64>,
    /// Sign every chunk of every body (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`) instead
    /// of sending it unsigned with a checksum trailer. Costs a SHA-256 of all the data. By
    /// default, `false`.
    pub sign_payload: bool,
    /// Journal file uploads so they can resume. By default, none (no resume).
    pub resume: Option<ResumeConfig>,
    /// What to do with a multipart upload that failed. By default, [`FailurePolicy::Auto`].
    pub on_failure: FailurePolicy,
    /// When a source file is read with `O_DIRECT` rather than through the page cache. By
    /// default, when it is too big for the page cache to hold comfortably.
    pub direct_io: DirectIo,
}

/// Where journals live, and how to treat an existing one.
#[derive(Debug, Clone)]
pub struct ResumeConfig {
    /// The journal store.
    pub store: Arc<dyn JournalStore>,
    /// The endpoint, as part of the destination's identity.
    pub endpoint: String,
    /// Abort the upload an existing journal describes and start fresh.
    pub restart: bool,
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

impl Default for UploadConfig {
    fn default() -> Self {
        Self {
            plan: PlanConfig::default(),
            concurrency: 8,
            memory_limit: 256 * MIB,
            checksum: ChecksumMode::default(),
            retry: RetryPolicy::default(),
            no_clobber: false,
            expected_size: None,
            sign_payload: false,
            resume: None,
            on_failure: FailurePolicy::Auto,
            direct_io: DirectIo::Auto,
        }
    }
}

/// Where an upload's bytes come from.
pub enum Source {
    /// A local file, read with positional reads (never whole in memory).
    File(PathBuf),
    /// A stream of unknown length (stdin, a pipe, any `AsyncRead`): parts are kept until
    /// acknowledged, so a stream upload cannot be resumed.
    Stream(Box<dyn AsyncRead + Send + Unpin>),
    /// An object on the same server: copied there (CopyObject, or UploadPartCopy in parallel
    /// parts), no bytes through ferry. Journaled and resumable as a file is.
    Object(ObjectSource),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File(p) => write!(f, "Source::File({})", p.display()),
            Source::Stream(_) => f.write_str("Source::Stream"),
            Source::Object(o) => write!(f, "Source::Object(s3://{}/{})", o.bucket, o.key),
        }
    }
}

/// A running upload (see [`Handle`]). Dropping it does not stop the upload.
pub type UploadHandle = Handle<UploadOutcome>;

/// Uploads through one client. Its retry quota is shared by every upload it runs.
#[derive(Debug)]
pub struct Uploader<C> {
    client: Arc<C>,
    config: UploadConfig,
    quota: Arc<RetryQuota>,
    jitter: Arc<dyn Jitter>,
}

impl<C> Clone for Uploader<C> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            config: self.config.clone(),
            quota: self.quota.clone(),
            jitter: self.jitter.clone(),
        }
    }
}

/// Everything one upload needs, shared by its tasks.
pub(crate) struct Job<C> {
    pub(crate) client: Arc<C>,
    pub(crate) config: UploadConfig,
    quota: Arc<RetryQuota>,
    jitter: Arc<dyn Jitter>,
    pub(crate) bucket: String,
    pub(crate) key: String,
    pub(crate) options: ObjectOptions,
    events: broadcast::Sender<Event>,
    pub(crate) progress: Arc<Progress>,
    pub(crate) cancel: CancellationToken,
    aimd: Aimd,
    /// The journal of this upload, when it is journaled.
    journal: Mutex<Option<Box<dyn JournalHandle>>>,
    /// What a server-side copy copies from, once its source was read.
    pub(crate) copy: Option<Arc<CopyState>>,
    /// Set when a CreateMultipartUpload's reply never came: an upload may exist that no one
    /// knows, even one the server makes late.
    orphans: Mutex<Option<Orphans>>,
    /// A file source as the caller named it, and its identity before its first byte was
    /// read: compared again before the object is completed (see [`Job::source_changed`]).
    watched: std::sync::OnceLock<(PathBuf, SourceIdentity)>,
}

/// Where to look for uploads a lost CreateMultipartUpload reply may have left, and when.
#[derive(Debug, Clone, Copy)]
struct Orphans {
    /// When the first Create was sent (seconds since the epoch).
    since: u64,
    /// The last sweep waits until then: a request that went unanswered for a while may reach
    /// the server as long again after it was given up (a stalled network path delivers it
    /// late), and the upload it makes must be seen by the sweep.
    not_before: Instant,
}

impl<C: ObjectClient> Uploader<C> {
    /// An uploader with its own retry quota.
    pub fn new(client: Arc<C>, config: UploadConfig) -> Self {
        Self {
            client,
            config,
            quota: Arc::new(RetryQuota::default()),
            jitter: Arc::new(RandomJitter),
        }
    }

    /// Uses `jitter` for backoff (tests make it deterministic).
    pub fn with_jitter(mut self, jitter: Arc<dyn Jitter>) -> Self {
        self.jitter = jitter;
        self
    }

    /// Shares `quota` with other uploaders and downloaders of the same client.
    pub fn with_quota(mut self, quota: Arc<RetryQuota>) -> Self {
        self.quota = quota;
        self
    }

    /// The retry quota this uploader's transfers share.
    pub fn quota(&self) -> Arc<RetryQuota> {
        self.quota.clone()
    }

    /// Checks settings and options before anything is sent.
    pub fn check(&self, options: &ObjectOptions) -> Result<(), Error> {
        options
            .validate()
            .map_err(|e| Error::new(ErrorKind::InvalidInput, e.to_string()))?;
        if let ChecksumMode::Additional(a, t) = self.config.checksum
            && !a.allows(t)
        {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "checksum algorithm {a} cannot be used with type {t} (CRC64NVME is FULL_OBJECT only; SHA1 and SHA256 are COMPOSITE only)"
                ),
            ));
        }
        if self.config.concurrency == 0 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "concurrency must be at least 1",
            ));
        }
        if self.config.memory_limit < 8 * MIB {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "the memory limit must be at least 8 MiB",
            ));
        }
        Ok(())
    }

    /// Resumes the upload a journal describes (the journal names the file and the
    /// destination; `request` gives the SSE-C key again, if the upload has one). Needs
    /// [`UploadConfig::resume`]. Must be called within a tokio runtime.
    pub fn resume(
        &self,
        journal_id: &str,
        request: ferry_s3::RequestOptions,
    ) -> Result<UploadHandle, Error> {
        let resume = self.config.resume.as_ref().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                "resuming needs a journal store (UploadConfig::resume)",
            )
        })?;
        let journal = resume
            .store
            .peek(journal_id)
            .map_err(journal_error)?
            .ok_or_else(|| {
                Error::new(ErrorKind::InvalidInput, format!("no journal {journal_id}"))
            })?;
        if journal.destination.endpoint != resume.endpoint {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "journal {journal_id} is for {}, not {}",
                    journal.destination.endpoint, resume.endpoint
                ),
            ));
        }
        let options = ObjectOptions {
            request,
            ..Default::default()
        };
        Ok(self.upload(
            Source::File(journal.source.path),
            journal.destination.bucket,
            journal.destination.key,
            options,
        ))
    }

    /// Starts uploading `source` to `bucket`/`key`. Must be called within a tokio runtime.
    pub fn upload(
        &self,
        source: Source,
        bucket: impl Into<String>,
        key: impl Into<String>,
        options: ObjectOptions,
    ) -> UploadHandle {
        let (events, first) = broadcast::channel(EVENT_CAPACITY);
        let progress = Arc::new(Progress::default());
        let cancel = CancellationToken::new();
        let job = Arc::new(Job {
            client: self.client.clone(),
            config: self.config.clone(),
            quota: self.quota.clone(),
            jitter: self.jitter.clone(),
            bucket: bucket.into(),
            key: key.into(),
            options,
            events: events.clone(),
            progress: progress.clone(),
            cancel: cancel.clone(),
            aimd: Aimd::new(self.config.concurrency),
            journal: Mutex::new(None),
            copy: None,
            orphans: Mutex::new(None),
            watched: Default::default(),
        });
        let check = self.check(&job.options);
        let task = tokio::spawn(async move {
            check?;
            let result = run(job.clone(), source).await;
            match &result {
                Ok(o) => job.emit(Event::Finished(o.clone())),
                Err(e) => job.emit(Event::Failed {
                    error: e.to_string(),
                }),
            }
            result
        });
        Handle::new(task, events, first, progress, cancel)
    }
}

impl<C: ObjectClient> Job<C> {
    /// The same job copying from `copy`, with the destination options it implies.
    pub(crate) fn with_copy(
        &self,
        config: UploadConfig,
        options: ObjectOptions,
        copy: CopyState,
    ) -> Self {
        Self {
            options,
            copy: Some(Arc::new(copy)),
            ..self.with_config(config)
        }
    }

    /// The same job with other settings (a resume takes the journal's), keeping its journal.
    fn with_config(&self, config: UploadConfig) -> Self {
        Self {
            client: self.client.clone(),
            config,
            quota: self.quota.clone(),
            jitter: self.jitter.clone(),
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            options: self.options.clone(),
            events: self.events.clone(),
            progress: self.progress.clone(),
            cancel: self.cancel.clone(),
            aimd: Aimd::new(self.config.concurrency),
            journal: Mutex::new(self.journal.lock().expect("journal lock").take()),
            copy: self.copy.clone(),
            orphans: Mutex::new(*self.orphans.lock().expect("orphans lock")),
            watched: self.watched.clone(),
        }
    }

    /// The error to report when the file source changed since it was first looked at (its
    /// size, times or inode differ, or it is gone), or `None` while it is as it was. A stat,
    /// no request.
    pub(crate) fn source_changed(&self) -> Option<Error> {
        let (path, was) = self.watched.get()?;
        let change = match SourceIdentity::of(path) {
            Ok(now) => was.change(&now)?,
            Err(e) => format!("it can no longer be read: {e}"),
        };
        Some(Error::new(
            ErrorKind::SourceChanged,
            format!(
                "{} changed while it was being uploaded ({change}), so s3://{}/{} was not \
                 written: the object would have mixed old and new bytes. Copy or snapshot the \
                 file first, then upload the copy",
                path.display(),
                self.bucket,
                self.key
            ),
        ))
    }

    /// A check for the body of a single-request upload: the source is as it was when the
    /// upload began (see [`Guard`]).
    fn guard(self: &Arc<Self>) -> Option<Guard> {
        self.watched.get()?;
        let job = self.clone();
        Some(Arc::new(move || match job.source_changed() {
            Some(e) => Err(std::io::Error::other(e.to_string())),
            None => Ok(()),
        }))
    }

    pub(crate) fn emit(&self, e: Event) {
        let _ = self.events.send(e);
    }

    fn mode(&self) -> ChecksumMode {
        self.config.checksum
    }

    /// Runs `attempt` until it succeeds, fails for good, or the policy or quota says stop.
    pub(crate) async fn retrying<T, F, Fut>(
        &self,
        part: Option<u32>,
        attempt: F,
    ) -> Result<T, S3Error>
    where
        F: FnMut(u32) -> Fut,
        Fut: std::future::Future<Output = Result<T, S3Error>>,
    {
        let client = self.client.clone();
        let refresh = move || client.refresh_credentials();
        let ctx = Attempts {
            policy: &self.config.retry,
            quota: &self.quota,
            jitter: self.jitter.as_ref(),
            aimd: &self.aimd,
            cancel: &self.cancel,
            progress: &self.progress,
            events: &self.events,
            refresh: &refresh,
        };
        ctx.run(part, attempt).await
    }

    /// Uploads one part, retrying under the same part number, reading its data again for
    /// each attempt.
    async fn upload_part(
        self: Arc<Self>,
        upload_id: Arc<str>,
        number: u32,
        data: PartData,
    ) -> Result<Done, Error> {
        if let PartData::Copy { offset, len } = data {
            return self.copy_part(upload_id, number, offset, len).await;
        }
        let size = data.len();
        self.progress.part_started();
        self.emit(Event::PartStarted { part: number, size });
        let result = self
            .retrying(Some(number), |_| {
                let (job, data, upload_id) = (self.clone(), data.clone(), upload_id.clone());
                async move {
                    job.send_data(data, None, |body, content_md5| {
                        let req = UploadPartRequest {
                            bucket: job.bucket.clone(),
                            key: job.key.clone(),
                            upload_id: upload_id.to_string(),
                            part_number: number,
                            body,
                            content_md5,
                            checksum: None,
                            request: job.options.request.clone(),
                        };
                        async { job.client.upload_part(req).await.map(|out| out.etag) }
                    })
                    .await
                }
            })
            .await;
        let (etag, digests) = match result {
            Ok(r) => r,
            Err(e) => {
                self.progress.part_ended(false);
                return Err(self.part_error(Some(number), e));
            }
        };
        let checksum = checksum_value(self.mode(), digests.additional.as_ref());
        // Durable before the part counts as done.
        self.record(&PartRecord {
            part: number,
            size,
            etag: etag.clone(),
            crc64nvme: digests.recheck.base64(),
            checksum: checksum.as_ref().map(|c| c.value.clone()),
        })
        .inspect_err(|_| self.progress.part_ended(false))?;
        self.progress.part_ended(true);
        if let Some(limit) = self.aimd.on_success() {
            self.emit(Event::Concurrency { limit });
        }
        self.emit(Event::PartFinished {
            part: number,
            size,
            etag: etag.clone(),
        });
        Ok(Done {
            part: CompletedPart {
                part_number: number,
                etag,
                checksum,
            },
            digest: digests.additional,
        })
    }

    /// Appends a part to the journal, if there is one.
    pub(crate) fn record(&self, part: &PartRecord) -> Result<(), Error> {
        let mut guard = self.journal.lock().expect("journal lock");
        match guard.as_mut() {
            Some(j) => j.write_part(part).map_err(journal_error),
            None => Ok(()),
        }
    }

    /// The journal's id, if the upload is journaled.
    fn journal_id(&self) -> Option<String> {
        self.journal
            .lock()
            .expect("journal lock")
            .as_ref()
            .map(|j| j.id().to_string())
    }

    /// Deletes the journal: the upload finished or was aborted.
    fn forget(&self) {
        if let Some(j) = self.journal.lock().expect("journal lock").take()
            && let Err(e) = j.remove()
        {
            warn!("removing the journal: {e}");
        }
    }

    /// Aborts, once more, uploads a lost Create reply may have left (a server can make one
    /// after the retry's sweep): at the end of the upload, whatever the end, no sooner than
    /// [`Orphans::not_before`] (unless cancelled).
    async fn sweep_orphans(self: &Arc<Self>, keep: &str) {
        let orphans = *self.orphans.lock().expect("orphans lock");
        let Some(orphans) = orphans else {
            return;
        };
        let wait = orphans.not_before.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            info!(
                "waiting {:.1} s for a CreateMultipartUpload that may still reach the server, to abort the upload it would make",
                wait.as_secs_f64()
            );
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.cancel.cancelled() => {}
            }
        }
        if let Err(e) = abort_orphans(self, orphans.since, Some(keep)).await {
            warn!("could not look for uploads left by a lost CreateMultipartUpload reply: {e}");
        }
    }

    /// After a failure: keep the upload for resume (returning the error marked so), or abort
    /// it and forget its journal.
    async fn give_up(self: &Arc<Self>, upload_id: &str, err: Error) -> Error {
        self.sweep_orphans(upload_id).await;
        let journaled = self.journal_id();
        let transient = err.kind() == ErrorKind::Cancelled
            || err.s3().is_some_and(|e| e.is_retryable())
            || err.kind() == ErrorKind::Local;
        // A source that changed cannot resume: the parts sent mix old and new bytes, and
        // the journal no longer matches the file.
        let keep = journaled.is_some()
            && err.kind() != ErrorKind::SourceChanged
            && match self.config.on_failure {
                FailurePolicy::Keep => true,
                FailurePolicy::Abort => false,
                FailurePolicy::Auto => transient,
            };
        match journaled {
            Some(id) if keep => err.kept_for_resume(id),
            _ => {
                self.abort(upload_id).await;
                self.forget();
                err
            }
        }
    }

    /// One attempt at sending `data`: streams it as a body through `send` and returns the
    /// answer with the data's digest. A failed attempt takes its bytes back out of the
    /// progress, so a retry does not count them twice.
    async fn send_data<T, F, Fut>(
        &self,
        data: PartData,
        guard: Option<Guard>,
        send: F,
    ) -> Result<(T, PartDigests), S3Error>
    where
        F: FnOnce(ferry_s3::Body, Option<String>) -> Fut,
        Fut: std::future::Future<Output = Result<T, S3Error>>,
    {
        let body = part_body(
            data,
            self.mode(),
            self.config.sign_payload,
            self.progress.clone(),
            guard,
        )
        .await
        .map_err(local_io)?;
        let counted = body.counted.clone();
        let out = send(body.body, body.content_md5).await;
        let result = match (out, body.digests.await) {
            (Ok(out), Ok(Ok(d))) => return Ok((out, d)),
            // Reading failed here: that, not what the request made of its broken body, is
            // the error (and no retry sends the same unreadable bytes).
            (_, Ok(Err(ReadFailure::Local(e)))) => Err(local_io(e)),
            (Ok(_), _) => Err(local_io(std::io::Error::other(
                "the data's checksum was not computed",
            ))),
            (Err(e), _) => Err(e),
        };
        self.progress
            .sub_bytes(counted.load(std::sync::atomic::Ordering::Relaxed));
        result
    }

    /// The error of a part (`Some(number)`) or of a single-request upload (`None`).
    pub(crate) fn part_error(&self, number: Option<u32>, e: S3Error) -> Error {
        if self.cancel.is_cancelled() {
            return Error::new(ErrorKind::Cancelled, "the upload was cancelled");
        }
        if e.client_kind() == Some(ferry_s3::ClientErrorKind::InvalidRequest)
            && e.to_string().contains("cannot read source")
        {
            // A read that failed because the file changed (shrank, vanished) says so.
            if let Some(changed) = self.source_changed() {
                return changed;
            }
            return Error::new(ErrorKind::Local, e.to_string()).with_source(e);
        }
        let what = match number {
            Some(n) => format!("part {n} of"),
            None => "uploading".into(),
        };
        Error::from_s3(format!("{what} s3://{}/{}", self.bucket, self.key), e)
    }

    async fn abort(&self, upload_id: &str) {
        let req = AbortMultipartUploadRequest {
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            upload_id: upload_id.to_string(),
            request: self.options.request.clone(),
        };
        // Not cancellable: an abort must get through even after Ctrl-C.
        for attempt in 1..=3u32 {
            match self.client.abort_multipart_upload(&req).await {
                Ok(()) => return,
                Err(e) if e.code() == Some("NoSuchUpload") => return,
                Err(e) => {
                    warn!("aborting upload {upload_id} (attempt {attempt}): {e}");
                    tokio::time::sleep(Duration::from_millis(200 * attempt as u64)).await;
                }
            }
        }
    }
}

/// The additional checksum of some data, as S3 writes it.
fn checksum_value(mode: ChecksumMode, digest: Option<&Digest>) -> Option<ChecksumValue> {
    match (mode, digest) {
        (ChecksumMode::Additional(a, _), Some(d)) => Some(ChecksumValue {
            algorithm: a,
            value: d.base64(),
        }),
        _ => None,
    }
}

fn local_io(e: std::io::Error) -> S3Error {
    S3Error::client(
        "UploadPart",
        ferry_s3::ClientErrorKind::InvalidRequest,
        format!("cannot read source: {e}"),
    )
}

async fn run<C: ObjectClient>(job: Arc<Job<C>>, source: Source) -> Result<UploadOutcome, Error> {
    match source {
        Source::File(path) => {
            let file = std::fs::File::open(&path).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!("cannot open source {}: {e}", path.display()),
                )
            })?;
            let meta = file.metadata().map_err(|e| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!("cannot read source {}: {e}", path.display()),
                )
            })?;
            if meta.is_dir() {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("source {} is a folder; give a file", path.display()),
                ));
            }
            let size = meta.len();
            // The identity every later look is compared with: taken before the first byte
            // is read, and of the very file opened.
            let source = SourceIdentity::of(&path).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!("cannot read source {}: {e}", path.display()),
                )
            })?;
            {
                use std::os::unix::fs::MetadataExt as _;
                if (source.inode, source.device, source.size) != (meta.ino(), meta.dev(), size) {
                    return Err(Error::new(
                        ErrorKind::SourceChanged,
                        format!(
                            "{} changed while it was being opened; try again once it is stable",
                            path.display()
                        ),
                    ));
                }
            }
            let _ = job.watched.set((path.clone(), source.clone()));
            let direct = DirectSource::open(&path, &file, size, job.config.direct_io, CHUNK_SIZE)
                .map(Arc::new);
            let file = Arc::new(file);
            match job.config.resume.clone() {
                Some(resume) => run_journaled(job, source, file_parts(file, direct), &resume).await,
                None => {
                    let plan = plan(size, &job.config.plan)
                        .map_err(|e| Error::new(ErrorKind::InvalidInput, e.to_string()))?;
                    run_known(job, plan, file_parts(file, direct), None).await
                }
            }
        }
        Source::Object(from) => crate::copy::run_copy(job, from).await,
        Source::Stream(reader) => match job.config.expected_size {
            Some(size) => {
                let plan = plan(size, &job.config.plan)
                    .map_err(|e| Error::new(ErrorKind::InvalidInput, e.to_string()))?;
                run_stream(job, reader, Some(plan)).await
            }
            None => run_stream(job, reader, None).await,
        },
    }
}

/// Where the parts of a known-size source come from, by offset and length.
pub(crate) type PartsOf = Arc<dyn Fn(u64, u64) -> PartData + Send + Sync>;

/// Parts of a file, by offset and length.
fn file_parts(file: Arc<std::fs::File>, direct: Option<Arc<DirectSource>>) -> PartsOf {
    Arc::new(move |offset, len| PartData::File {
        file: file.clone(),
        direct: direct.clone(),
        offset,
        len,
    })
}

/// A journal about to record a new upload.
pub(crate) struct NewJournal {
    handle: Box<dyn JournalHandle>,
    destination: Destination,
    source: SourceIdentity,
}

/// A file (or any source of known size whose parts can be read again), optionally journaled.
pub(crate) async fn run_known<C: ObjectClient>(
    job: Arc<Job<C>>,
    plan: Plan,
    part: PartsOf,
    journal: Option<NewJournal>,
) -> Result<UploadOutcome, Error> {
    match plan {
        Plan::Single { size } => {
            job.emit(Event::Planned {
                size: Some(size),
                part_size: size,
                parts: Some(1),
                multipart: false,
            });
            job.progress.set_total(size, 1);
            if let Some(j) = journal {
                // One request needs no journal.
                let _ = j.handle.remove();
            }
            put_single(&job, part(0, size)).await
        }
        Plan::Multipart {
            size,
            part_size,
            parts,
        } => {
            job.emit(Event::Planned {
                size: Some(size),
                part_size,
                parts: Some(parts),
                multipart: true,
            });
            job.progress.set_total(size, parts);
            let upload_id = match journal {
                Some(j) => create_journaled(&job, j, part_size, parts).await?,
                None => create(&job).await?,
            };
            let next = (1..=parts).map(move |n| {
                let (offset, len) = plan.part_range(n);
                Ok((n, part(offset, len)))
            });
            let result = run_parts(&job, &upload_id, file_concurrency(&job), next).await;
            finish(&job, upload_id, result, size).await
        }
    }
}

fn journal_error(e: JournalError) -> Error {
    let kind = match e {
        JournalError::Locked { .. } | JournalError::Damaged { .. } => ErrorKind::InvalidInput,
        JournalError::Io { .. } => ErrorKind::Local,
    };
    Error::new(kind, e.to_string()).with_source(e)
}

/// How a checksum mode is written in a journal.
fn mode_record(mode: ChecksumMode) -> (String, Option<String>) {
    match mode {
        ChecksumMode::Additional(a, t) => (a.as_str().to_string(), Some(t.as_str().to_string())),
        ChecksumMode::ContentMd5 => ("md5".into(), None),
        ChecksumMode::None => ("none".into(), None),
    }
}

fn mode_from_record(u: &UploadRecord) -> Result<ChecksumMode, Error> {
    let bad = || {
        Error::new(
            ErrorKind::InvalidInput,
            format!("the journal names an unknown checksum {:?}", u.checksum),
        )
    };
    Ok(match u.checksum.as_str() {
        "md5" => ChecksumMode::ContentMd5,
        "none" => ChecksumMode::None,
        a => ChecksumMode::Additional(
            a.parse().map_err(|_| bad())?,
            u.checksum_type
                .as_deref()
                .and_then(|t| t.parse().ok())
                .ok_or_else(bad)?,
        ),
    })
}

/// Writes the intent, creates the upload, records it: so no upload exists that no journal
/// knows of, even if the process dies between the two.
async fn create_journaled<C: ObjectClient>(
    job: &Arc<Job<C>>,
    mut journal: NewJournal,
    part_size: u64,
    parts: u32,
) -> Result<Arc<str>, Error> {
    journal
        .handle
        .write_intent(&journal.destination, &journal.source)
        .map_err(journal_error)?;
    *job.journal.lock().expect("journal lock") = Some(journal.handle);
    let upload_id = match create(job).await {
        Ok(id) => id,
        Err(e) => {
            // The server said no: nothing was created. Any other failure may have created
            // an upload: the intent stays, and the next run cleans it up.
            if e.s3().is_some_and(|s| s.service().is_some()) {
                job.forget();
            }
            return Err(e);
        }
    };
    let (checksum, checksum_type) = mode_record(job.mode());
    let record = UploadRecord {
        upload_id: upload_id.to_string(),
        part_size,
        parts,
        checksum,
        checksum_type,
        sse_c_key_md5: job
            .options
            .request
            .sse_customer_key
            .as_ref()
            .map(|k| k.key_md5().to_string()),
    };
    let written = job
        .journal
        .lock()
        .expect("journal lock")
        .as_mut()
        .map(|j| j.write_upload(&record));
    if let Some(Err(e)) = written {
        job.abort(&upload_id).await;
        job.forget();
        return Err(journal_error(e));
    }
    Ok(upload_id)
}

/// A file upload (or a copy) with a journal: resumes what a journal of the same source and
/// destination recorded, or starts one.
pub(crate) async fn run_journaled<C: ObjectClient>(
    job: Arc<Job<C>>,
    source: SourceIdentity,
    parts_of: PartsOf,
    resume: &ResumeConfig,
) -> Result<UploadOutcome, Error> {
    let size = source.size;
    let destination = Destination {
        endpoint: resume.endpoint.clone(),
        bucket: job.bucket.clone(),
        key: job.key.clone(),
    };
    let id = resume.store.id_for(&destination, &source.path);
    let mut handle = resume.store.open(&id).map_err(journal_error)?;
    match handle.replay().map_err(journal_error)? {
        Some(old) if old.upload.is_some() && !resume.restart => {
            *job.journal.lock().expect("journal lock") = Some(handle);
            return resume_upload(job, old, source, parts_of).await;
        }
        Some(old) => {
            match &old.upload {
                // --restart: the old upload goes.
                Some(u) => job.abort(&u.upload_id).await,
                // Only an intent: Create may have run; abort what it may have left.
                None => abort_orphans(&job, old.started, None).await?,
            }
        }
        None => {}
    }
    let plan = plan(size, &job.config.plan)
        .map_err(|e| Error::new(ErrorKind::InvalidInput, e.to_string()))?;
    let journal = NewJournal {
        handle,
        destination,
        source,
    };
    run_known(job, plan, parts_of, Some(journal)).await
}

/// Aborts uploads of this key that started after `since` (seconds since the epoch, less a
/// margin for clock skew), but `keep`: left by a Create whose reply was lost.
async fn abort_orphans<C: ObjectClient>(
    job: &Arc<Job<C>>,
    since: u64,
    keep: Option<&str>,
) -> Result<(), Error> {
    let uploads = ferry_s3::list_all_uploads(
        job.client.as_ref(),
        &ferry_s3::ListMultipartUploadsRequest {
            bucket: job.bucket.clone(),
            prefix: Some(job.key.clone()),
            request: job.options.request.clone(),
            ..Default::default()
        },
    )
    .await
    .map_err(|e| Error::from_s3("listing uploads left by an interrupted start", e))?;
    let margin = 300;
    for u in uploads
        .iter()
        .filter(|u| u.key == job.key && Some(u.upload_id.as_str()) != keep)
    {
        let started = u
            .initiated
            .as_deref()
            .and_then(|t| {
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
            })
            .map(|t| t.unix_timestamp());
        if started.is_some_and(|t| t + margin >= since as i64) {
            debug!(upload_id = %u.upload_id, "aborting an upload left by an interrupted start");
            job.abort(&u.upload_id).await;
        }
    }
    Ok(())
}

/// Resumes the upload a journal describes: re-checks the parts it lists against the file,
/// reconciles them with ListParts, sends what is missing or wrong, completes.
async fn resume_upload<C: ObjectClient>(
    job: Arc<Job<C>>,
    old: Journal,
    source: SourceIdentity,
    parts_of: PartsOf,
) -> Result<UploadOutcome, Error> {
    let u = old.upload.clone().expect("a journal with an upload");
    let refuse = |what: String| {
        // Refused before anything changed: the journal and the upload stay as they are.
        Error::new(ErrorKind::InvalidInput, what).kept_for_resume(old.id.clone())
    };
    if let Some(diff) = old.source.difference(&source) {
        return Err(refuse(format!(
            "{} changed since its upload began ({diff} differ); run again with --restart to abort the old upload and start fresh",
            source.path.display()
        )));
    }
    let key_md5 = job
        .options
        .request
        .sse_customer_key
        .as_ref()
        .map(|k| k.key_md5().to_string());
    if key_md5 != u.sse_c_key_md5 {
        return Err(refuse(match u.sse_c_key_md5 {
            Some(_) if key_md5.is_some() => {
                "the SSE-C key is not the one the upload began with; give that key, or --restart"
                    .into()
            }
            Some(_) => "the upload began with an SSE-C key: give it again with --sse-c-key".into(),
            None => "the upload began without an SSE-C key: drop --sse-c-key, or --restart".into(),
        }));
    }
    if let Some(ps) = job.config.plan.part_size
        && ps != u.part_size
    {
        return Err(refuse(format!(
            "the upload began with part size {} bytes, not {ps}; drop --part-size, or --restart",
            u.part_size
        )));
    }
    // The journal's settings finish the upload, whatever this run asked for.
    let mut config = job.config.clone();
    config.checksum = mode_from_record(&u)?;
    let job = Arc::new(job.with_config(config));
    let size = source.size;
    let plan = Plan::Multipart {
        size,
        part_size: u.part_size,
        parts: u.parts,
    };
    if plan.part_range(u.parts).0 >= size || u.parts as u64 * u.part_size < size {
        return Err(refuse("the journal's plan does not fit the file".into()));
    }
    let upload_id: Arc<str> = Arc::from(u.upload_id.as_str());
    job.emit(Event::Planned {
        size: Some(size),
        part_size: u.part_size,
        parts: Some(u.parts),
        multipart: true,
    });
    job.progress.set_total(size, u.parts);

    // 1. The parts the journal lists, re-read and re-checksummed locally (the last record of
    //    a part number wins).
    let mut recorded: std::collections::BTreeMap<u32, PartRecord> = Default::default();
    for p in old.parts {
        recorded.insert(p.part, p);
    }
    let mut intact = Vec::new();
    for (n, rec) in &recorded {
        let (offset, len) = plan.part_range(*n);
        let data = parts_of(offset, len);
        if let PartData::Copy { .. } = data {
            // A copied part has no local bytes: the source's ETag (in its identity) vouches.
            if rec.size == len {
                intact.push(rec.clone());
            }
            continue;
        }
        let digest = tokio::task::spawn_blocking(move || recheck_digest(&data))
            .await
            .map_err(|e| Error::new(ErrorKind::Local, e.to_string()))?
            .map_err(|e| Error::new(ErrorKind::Local, format!("re-reading the source: {e}")))?;
        if rec.size == len && digest.base64() == rec.crc64nvme {
            intact.push(rec.clone());
        } else {
            warn!(
                part = n,
                "part {n} of the file changed since it was sent; sending it again"
            );
        }
    }
    // 2. What the server holds (a part number may be listed twice: any copy with the
    //    journal's ETag will do).
    let listed = ferry_s3::list_all_parts(
        job.client.as_ref(),
        &ferry_s3::ListPartsRequest {
            bucket: job.bucket.clone(),
            key: job.key.clone(),
            upload_id: upload_id.to_string(),
            request: job.options.request.clone(),
            ..Default::default()
        },
    )
    .await;
    let listed = match listed {
        Ok(l) => l,
        Err(e) if e.code() == Some("NoSuchUpload") => {
            return finished_elsewhere(&job, &upload_id, &recorded, size).await;
        }
        Err(e) => {
            let err = Error::from_s3("listing the parts of the upload to resume", e);
            return Err(job.give_up(&upload_id, err).await);
        }
    };
    let mut done = Vec::new();
    for rec in intact {
        if listed
            .iter()
            .any(|l| l.part_number == rec.part && same_etag(&l.etag, &rec.etag))
        {
            done.push(done_from_record(job.mode(), &rec)?);
        }
    }
    let have: std::collections::HashSet<u32> = done.iter().map(|d| d.part.part_number).collect();
    job.emit(Event::Resumed {
        upload_id: upload_id.to_string(),
        parts_done: have.len() as u32,
        parts_to_send: u.parts - have.len() as u32,
    });
    for d in &done {
        job.progress
            .add_bytes(plan.part_range(d.part.part_number).1);
        job.progress.part_started();
        job.progress.part_ended(true);
    }
    // 3. The rest.
    let todo: Vec<u32> = (1..=u.parts).filter(|n| !have.contains(n)).collect();
    let next = todo.into_iter().map(move |n| {
        let (offset, len) = plan.part_range(n);
        Ok((n, parts_of(offset, len)))
    });
    let sent = run_parts(&job, &upload_id, file_concurrency(&job), next).await;
    let all = sent.map(|mut s| {
        s.extend(done);
        s
    });
    finish(&job, upload_id, all, size).await
}

/// Whether two ETags are the same (servers differ on quoting them).
fn same_etag(a: &str, b: &str) -> bool {
    a.trim_matches('"') == b.trim_matches('"')
}

/// A part recorded in the journal, as Complete needs it.
fn done_from_record(mode: ChecksumMode, rec: &PartRecord) -> Result<Done, Error> {
    use base64::Engine as _;
    let (checksum, digest) = match (mode, &rec.checksum) {
        (ChecksumMode::Additional(a, _), Some(v)) => {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(v)
                .map_err(|_| {
                    Error::new(ErrorKind::InvalidInput, "a journal checksum is not base64")
                })?;
            (
                Some(ChecksumValue {
                    algorithm: a,
                    value: v.clone(),
                }),
                Some(Digest { raw, len: rec.size }),
            )
        }
        _ => (None, None),
    };
    Ok(Done {
        part: CompletedPart {
            part_number: rec.part,
            etag: rec.etag.clone(),
            checksum,
        },
        digest,
    })
}

/// The upload is gone: maybe a Complete whose reply was lost finished it. If the object
/// matches the journal (size, and checksum when all parts are recorded), that is success.
async fn finished_elsewhere<C: ObjectClient>(
    job: &Arc<Job<C>>,
    upload_id: &str,
    recorded: &std::collections::BTreeMap<u32, PartRecord>,
    size: u64,
) -> Result<UploadOutcome, Error> {
    let parts: Vec<Done> = recorded
        .values()
        .map(|r| done_from_record(job.mode(), r))
        .collect::<Result<_, _>>()?;
    let (expected, checksum_type) = match job.mode() {
        ChecksumMode::Additional(a, t) => {
            let digests: Vec<Digest> = parts.iter().filter_map(|p| p.digest.clone()).collect();
            let covered: u64 = digests.iter().map(|d| d.len).sum();
            (
                (covered == size)
                    .then(|| object_checksum(a, t, &digests))
                    .flatten(),
                Some(t),
            )
        }
        _ => (None, None),
    };
    match verify(
        job,
        size,
        expected.clone(),
        checksum_type,
        parts.len() as u32,
        String::new(),
        None,
    )
    .await
    {
        Ok(outcome) if expected.is_some() => {
            job.forget();
            Ok(outcome)
        }
        _ => {
            Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "the multipart upload {upload_id} no longer exists and s3://{}/{} is not the finished file; run again with --restart to start fresh",
                    job.bucket, job.key
                ),
            )
            .kept_for_resume(job.journal_id().unwrap_or_default()))
        }
    }
}

/// Parts in flight for a file: each holds a few chunks, so the budget rarely binds (a copy
/// holds nothing).
fn file_concurrency<C>(job: &Job<C>) -> u32 {
    if job.copy.is_some() {
        return job.config.concurrency;
    }
    let per_part = 6 * CHUNK_SIZE as u64;
    let by_memory = (job.config.memory_limit / per_part).max(1) as u32;
    job.config.concurrency.min(by_memory)
}

async fn create<C: ObjectClient>(job: &Arc<Job<C>>) -> Result<Arc<str>, Error> {
    let mut options = job.options.clone();
    if let ChecksumMode::Additional(a, t) = job.mode() {
        options.checksum_algorithm = Some(a);
        options.checksum_type = Some(t);
    }
    let req = CreateMultipartUploadRequest {
        bucket: job.bucket.clone(),
        key: job.key.clone(),
        options,
    };
    // CreateMultipartUpload is not idempotent: a retry after a lost reply can leave an upload
    // no one knows. Such a retry is made all the same (the transfer goes on), and once an
    // upload is had, the uploads of this key begun since are listed and the others aborted:
    // the rule a resume applies to a journal's intent.
    let since = crate::journal::unix_now();
    // The latest `not_before` of the attempts whose answer was lost.
    let maybe_left: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let out = job
        .retrying(None, |_| {
            let (job, req, maybe_left) = (job.clone(), req.clone(), maybe_left.clone());
            async move {
                let sent = Instant::now();
                let out = job.client.create_multipart_upload(&req).await;
                // Sent, with no answer read: the server may have made an upload.
                if let Err(e) = &out
                    && e.client_kind().is_some_and(|k| {
                        use ferry_s3::ClientErrorKind as K;
                        matches!(
                            k,
                            K::Network | K::Timeout | K::BodyCutShort | K::InvalidResponse
                        )
                    })
                {
                    let now = Instant::now();
                    let not_before = now + (now - sent);
                    let mut m = maybe_left.lock().expect("create lock");
                    *m = Some(m.map_or(not_before, |t| t.max(not_before)));
                }
                out
            }
        })
        .await;
    let maybe_left = *maybe_left.lock().expect("create lock");
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            // Without a journal's intent to clean up after, try now (the server may be gone).
            let journaled = job.journal.lock().expect("journal lock").is_some();
            if maybe_left.is_some() && !journaled {
                let _ = abort_orphans(job, since, None).await;
            }
            return Err(if job.cancel.is_cancelled() {
                Error::new(ErrorKind::Cancelled, "the upload was cancelled")
            } else {
                Error::from_s3(format!("creating s3://{}/{}", job.bucket, job.key), e)
            });
        }
    };
    if let Some(not_before) = maybe_left {
        *job.orphans.lock().expect("orphans lock") = Some(Orphans { since, not_before });
        abort_orphans(job, since, Some(&out.upload_id)).await?;
    }
    job.emit(Event::UploadCreated {
        upload_id: out.upload_id.clone(),
    });
    Ok(Arc::from(out.upload_id))
}

/// A part the server holds: what Complete needs, and its digest for the object's checksum.
#[derive(Debug, Clone)]
pub(crate) struct Done {
    pub(crate) part: CompletedPart,
    pub(crate) digest: Option<Digest>,
}

type PartResult = Result<Done, Error>;

/// Takes one finished part task: its part, or nothing when it failed (the first failure is
/// kept and stops the other parts: one part failed for good).
fn settle(
    joined: Result<PartResult, tokio::task::JoinError>,
    set: &mut JoinSet<PartResult>,
    failure: &mut Option<Error>,
) -> Option<Done> {
    match joined {
        Ok(Ok(part)) => Some(part),
        Ok(Err(e)) => {
            if failure.is_none() {
                *failure = Some(e);
                set.abort_all();
            }
            None
        }
        Err(e) if e.is_cancelled() => None,
        Err(e) => {
            failure.get_or_insert(Error::new(
                ErrorKind::Local,
                format!("a part task failed: {e}"),
            ));
            None
        }
    }
}

/// Runs parts through the pool: at most `limit` (and what the AIMD limit allows) in flight.
/// `next` yields parts in order; the first failure stops new parts and is returned.
async fn run_parts<C: ObjectClient>(
    job: &Arc<Job<C>>,
    upload_id: &Arc<str>,
    limit: u32,
    next: impl Iterator<Item = Result<(u32, PartData), Error>>,
) -> Result<Vec<Done>, Error> {
    job.aimd.set_max(limit);
    let mut set: JoinSet<PartResult> = JoinSet::new();
    let mut done = Vec::new();
    let mut failure: Option<Error> = None;
    let mut next = next.peekable();
    loop {
        while failure.is_none()
            && !job.cancel.is_cancelled()
            && (set.len() as u32) < job.aimd.limit()
            && let Some(item) = next.next()
        {
            match item {
                Ok((n, data)) => {
                    set.spawn(job.clone().upload_part(upload_id.clone(), n, data));
                }
                Err(e) => failure = Some(e),
            }
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        if let Some(part) = settle(joined, &mut set, &mut failure) {
            done.push(part);
        }
    }
    if job.cancel.is_cancelled() {
        return Err(Error::new(ErrorKind::Cancelled, "the upload was cancelled"));
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(done),
    }
}

/// A stream: parts read one after another, each kept until acknowledged.
async fn run_stream<C: ObjectClient>(
    job: Arc<Job<C>>,
    mut reader: Box<dyn AsyncRead + Send + Unpin>,
    known: Option<Plan>,
) -> Result<UploadOutcome, Error> {
    // An explicit part size is kept for every part (uniform parts, as some stores need);
    // otherwise parts grow as the stream goes, so no stream meets a low ceiling.
    let explicit = job.config.plan.part_size;
    let part_size_of = move |n: u32| match (known, explicit) {
        (Some(Plan::Multipart { part_size, .. }), _) => part_size,
        (_, Some(ps)) => ps,
        _ => stream_part_size(STREAM_FIRST_PART, n),
    };
    let threshold = job.config.plan.multipart_threshold.max(1);
    let budget = job.config.memory_limit;
    // Read up to the threshold first: a stream that ends below it is one PutObject.
    let PartData::Memory(mut pending) = read(threshold, true, &mut reader).await? else {
        unreachable!("read into memory")
    };
    if (pending.len() as u64) < threshold {
        let size = pending.len() as u64;
        if let Some(p) = known
            && p.size() != size
        {
            return Err(Error::new(
                ErrorKind::Local,
                format!(
                    "the stream had {size} bytes, not the {} given with --expected-size",
                    p.size()
                ),
            ));
        }
        job.emit(Event::Planned {
            size: Some(size),
            part_size: size,
            parts: Some(1),
            multipart: false,
        });
        job.progress.set_total(size, 1);
        return put_single(&job, PartData::Memory(pending)).await;
    }
    let (total, parts) = match known {
        Some(Plan::Multipart { size, parts, .. }) => (Some(size), Some(parts)),
        _ => (None, None),
    };
    job.emit(Event::Planned {
        size: total,
        part_size: part_size_of(1),
        parts,
        multipart: true,
    });
    job.progress
        .set_total(total.unwrap_or(0), parts.unwrap_or(0));
    let upload_id = create(&job).await?;

    // Parts in flight each hold their whole part until acknowledged: the budget caps how
    // many are in memory; beyond it they are spilled to temporary files.
    let limit = job.config.concurrency;
    let mut set: JoinSet<PartResult> = JoinSet::new();
    let mut done = Vec::new();
    let mut failure = None;
    let mut n = 1u32;
    let mut sent = 0u64;
    let mut ended = false;
    let mut in_memory: u64 = 0;
    let mut memory_of: std::collections::HashMap<u32, u64> = Default::default();
    loop {
        while failure.is_none()
            && !ended
            && !job.cancel.is_cancelled()
            && (set.len() as u32) < job.aimd.limit().min(limit)
        {
            if n > crate::limits::MAX_PARTS {
                failure = Some(Error::new(
                    ErrorKind::Local,
                    "the stream needs more than 10,000 parts",
                ));
                break;
            }
            let want = part_size_of(n);
            let data = if pending.len() as u64 >= want {
                PartData::Memory(pending.split_to(want as usize))
            } else if !pending.is_empty() {
                let PartData::Memory(tail) =
                    read(want - pending.len() as u64, true, &mut reader).await?
                else {
                    unreachable!("read into memory")
                };
                let mut all = bytes::BytesMut::with_capacity(pending.len() + tail.len());
                all.extend_from_slice(&pending);
                all.extend_from_slice(&tail);
                pending = bytes::Bytes::new();
                PartData::Memory(all.freeze())
            } else {
                let fits = in_memory + want <= budget;
                read(want, fits, &mut reader).await?
            };
            let len = data.len();
            if len == 0 {
                ended = true;
                break;
            }
            if len < want {
                ended = true;
            }
            if matches!(data, PartData::Memory(_)) {
                in_memory += len;
                memory_of.insert(n, len);
            }
            sent += len;
            set.spawn(job.clone().upload_part(upload_id.clone(), n, data));
            n += 1;
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        if let Some(part) = settle(joined, &mut set, &mut failure) {
            in_memory -= memory_of.remove(&part.part.part_number).unwrap_or(0);
            done.push(part);
        }
    }
    let result = if job.cancel.is_cancelled() {
        Err(Error::new(ErrorKind::Cancelled, "the upload was cancelled"))
    } else if let Some(e) = failure {
        Err(e)
    } else if let Some(t) = total
        && t != sent
    {
        Err(Error::new(
            ErrorKind::Local,
            format!("the stream had {sent} bytes, not the {t} given with --expected-size"),
        ))
    } else {
        Ok(done)
    };
    finish(&job, upload_id, result, sent).await
}

async fn read(
    len: u64,
    in_memory: bool,
    reader: &mut Box<dyn AsyncRead + Send + Unpin>,
) -> Result<PartData, Error> {
    read_stream_part(reader, len, in_memory)
        .await
        .map_err(|e| Error::new(ErrorKind::Local, format!("reading the stream: {e}")))
}

/// Completes (or aborts) a multipart upload and checks the result.
async fn finish<C: ObjectClient>(
    job: &Arc<Job<C>>,
    upload_id: Arc<str>,
    parts: Result<Vec<Done>, Error>,
    size: u64,
) -> Result<UploadOutcome, Error> {
    let mut parts = match parts {
        Ok(p) => p,
        Err(e) => return Err(job.give_up(&upload_id, e).await),
    };
    // Every part is read and stored: the file must still be the one the first part was read
    // from, or the object would mix two versions of it.
    if let Some(changed) = job.source_changed() {
        return Err(job.give_up(&upload_id, changed).await);
    }
    parts.sort_by_key(|p| p.part.part_number);
    let count = parts.len() as u32;
    let (expected, checksum_type) = match job.mode() {
        ChecksumMode::Additional(a, t) => {
            let digests: Vec<Digest> = parts.iter().filter_map(|p| p.digest.clone()).collect();
            // A copy on a server that reports no part checksums: nothing to combine.
            let whole = digests.len() == parts.len();
            (
                whole.then(|| object_checksum(a, t, &digests)).flatten(),
                Some(t),
            )
        }
        _ => (None, None),
    };
    let req = CompleteMultipartUploadRequest {
        bucket: job.bucket.clone(),
        key: job.key.clone(),
        upload_id: upload_id.to_string(),
        parts: parts.into_iter().map(|p| p.part).collect(),
        // A full-object value is checked by the server before it replaces anything; a
        // composite one is checked with HeadObject after.
        checksum: expected
            .clone()
            .filter(|_| checksum_type == Some(ChecksumType::FullObject)),
        checksum_type: checksum_type.filter(|t| *t == ChecksumType::FullObject),
        object_size: Some(size),
        if_none_match: job.config.no_clobber,
        request: job.options.request.clone(),
    };
    let completed = job
        .retrying(None, |attempt| {
            let (job, req) = (job.clone(), req.clone());
            async move {
                match job.client.complete_multipart_upload(&req).await {
                    // A retried Complete whose first try succeeded finds no upload.
                    Err(e) if attempt > 1 && e.code() == Some("NoSuchUpload") => Ok(None),
                    other => other.map(Some),
                }
            }
        })
        .await;
    let completed = match completed {
        Ok(c) => c,
        Err(e) => {
            let err = if job.cancel.is_cancelled() {
                Error::new(ErrorKind::Cancelled, "the upload was cancelled")
            } else {
                Error::from_s3(format!("completing s3://{}/{}", job.bucket, job.key), e)
            };
            return Err(job.give_up(&upload_id, err).await);
        }
    };
    // The object exists now: the journal has done its work.
    job.forget();
    job.sweep_orphans(&upload_id).await;
    let (etag, version_id) = match completed {
        Some(c) => (c.etag, c.version_id),
        None => (String::new(), None),
    };
    verify(job, size, expected, checksum_type, count, etag, version_id).await
}

/// One PutObject, with the checksum in a trailer.
async fn put_single<C: ObjectClient>(
    job: &Arc<Job<C>>,
    data: PartData,
) -> Result<UploadOutcome, Error> {
    if let PartData::Copy { len, .. } = data {
        return crate::copy::copy_single(job, len).await;
    }
    let size = data.len();
    job.progress.part_started();
    let out = job
        .retrying(Some(1), |_| {
            let (job, data) = (job.clone(), data.clone());
            let guard = job.guard();
            async move {
                job.send_data(data, guard, |body, content_md5| {
                    let req = PutObjectRequest {
                        bucket: job.bucket.clone(),
                        key: job.key.clone(),
                        body,
                        options: job.options.clone(),
                        content_md5,
                        checksum: None,
                        if_none_match: job.config.no_clobber,
                    };
                    job.client.put_object(req)
                })
                .await
            }
        })
        .await;
    job.progress.part_ended(out.is_ok());
    let (out, digest) = out.map_err(|e| job.part_error(None, e))?;
    let expected = checksum_value(job.mode(), digest.additional.as_ref());
    verify(job, size, expected, None, 1, out.etag, out.version_id).await
}

/// HeadObject after the upload: the size must match, and the checksum the server keeps must
/// be the one computed here.
pub(crate) async fn verify<C: ObjectClient>(
    job: &Arc<Job<C>>,
    size: u64,
    expected: Option<ChecksumValue>,
    checksum_type: Option<ChecksumType>,
    parts: u32,
    etag: String,
    version_id: Option<String>,
) -> Result<UploadOutcome, Error> {
    let req = GetObjectRequest {
        bucket: job.bucket.clone(),
        key: job.key.clone(),
        // "null" is the version of an object written while versioning was off or suspended;
        // moto refuses it as a versionId (S3 takes it): the latest is that object anyway.
        version_id: version_id.clone().filter(|v| v != "null"),
        checksum_mode: expected.is_some(),
        request: job.options.request.clone(),
        ..Default::default()
    };
    let head = job
        .retrying(None, |_| {
            let (job, req) = (job.clone(), req.clone());
            async move { job.client.head_object(&req).await }
        })
        .await
        .map_err(|e| {
            Error::from_s3(
                format!("checking s3://{}/{} after upload", job.bucket, job.key),
                e,
            )
        })?;
    let wrong = |what: String| {
        Error::new(
            ErrorKind::Verification,
            format!(
                "s3://{}/{} does not match what was sent: {what}",
                job.bucket, job.key
            ),
        )
    };
    if head.content_length != size {
        return Err(wrong(format!(
            "the server has {} bytes, {size} were sent",
            head.content_length
        )));
    }
    let verification = match (&expected, &head.checksum.value) {
        (Some(mine), Some(theirs)) if theirs.algorithm == mine.algorithm => {
            if theirs.value != mine.value {
                return Err(wrong(format!(
                    "its {} is {}, ferry computed {}",
                    mine.algorithm, theirs.value, mine.value
                )));
            }
            Verification::Checksum(mine.clone())
        }
        (Some(_), _) => Verification::PartsAndSize,
        (None, _) if job.mode() == ChecksumMode::ContentMd5 => Verification::PartsAndSize,
        (None, _) => Verification::SizeOnly,
    };
    Ok(UploadOutcome {
        bucket: job.bucket.clone(),
        key: job.key.clone(),
        size,
        etag: if etag.is_empty() { head.etag } else { etag },
        version_id: version_id.or(head.version_id),
        checksum: expected,
        checksum_type,
        parts,
        verification,
    })
}
