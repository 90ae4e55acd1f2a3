//! Downloads: HeadObject (or, for an object a listing shows fits one range, one whole-object
//! GET that describes it and brings its bytes), a plan of ranges (never crossing a part
//! boundary when the check needs the parts), parallel ranged GETs pinned to the object's ETag
//! with `If-Match`, written at their offsets into `LOCAL.ferry-partial` (or in order to a
//! writer, through a bounded reordering window), verified end to end with what the object
//! offers, then renamed over LOCAL. A file download is journaled beside its partial file and
//! resumes from what is on disk.
//!
//! Checks, best first: a FULL_OBJECT CRC (combined from the ranges' CRCs, no second pass); a
//! COMPOSITE checksum (per-part checksums, then the checksum of those); a single-request
//! object's SHA checksum; the multipart ETag (MD5 of the parts' MD5s) or the plain MD5 ETag,
//! never for SSE-C or SSE-KMS objects, whose ETags are not MD5s. What needs one pass in order
//! (SHA, MD5) reads the ranges back from the partial file as they complete, beside the
//! download. A failed check fetches every range again, keeping the first fetch that makes the
//! object check out; failing again is an error, and LOCAL is left as it was.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::{Bytes, BytesMut};
use ferry_s3::{
    ByteRange, ChecksumAlgorithm, ChecksumType, ChecksumValue, ClientErrorKind,
    GetObjectAttributesRequest, GetObjectOutput, GetObjectRequest, ObjectAttributes, ObjectClient,
    ObjectMeta, RequestOptions, S3Error,
};
use futures_util::StreamExt as _;
use tokio::io::{AsyncWrite, AsyncWriteExt as _};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::checksum::{Digest, Hasher, combine, object_checksum};
use crate::direct::{ALIGN, Aligned, DirectIo, Out};
use crate::error::{Error, ErrorKind};
use crate::handle::{EVENT_CAPACITY, Handle};
use crate::partial::{Header, PARTIAL_VERSION, Partial, RangeLine};
use crate::progress::{Event, Progress};
use crate::retry::{Attempts, Jitter, RandomJitter, RetryPolicy, RetryQuota};
use crate::schedule::Aimd;

const MIB: u64 = 1024 * 1024;
/// Bytes a range gathers before writing them; a range holds at most two of these.
const WRITE_CHUNK: usize = 1 << 20;
/// Ranges a plan aims to stay under (the range size grows for huge objects).
const MAX_RANGES: u64 = 10_000;

/// Settings of a download. Build with `Default` and set what differs.
#[derive(Debug, Clone)]
pub struct DownloadConfig {
    /// Most ranges in flight. By default, 8.
    pub concurrency: u32,
    /// The memory budget for range buffers, in bytes. A file download holds about 2 MiB per
    /// range in flight (3 MiB written direct); a download to a writer holds whole ranges
    /// until their turn. By default, 32 MiB (a file download needs no more; a download to a
    /// writer then stays under 64 MiB of resident memory).
    pub memory_limit: u64,
    /// Bytes per ranged GET. By default, 16 MiB (grown to keep an object under 10,000
    /// ranges). For a writer, cut to fit two ranges per connection in the budget.
    pub range_size: u64,
    /// Retries.
    pub retry: RetryPolicy,
    /// How to check the result.
    pub verify: VerifyMode,
    /// Refuse to replace an existing file.
    pub no_clobber: bool,
    /// Journal file downloads beside the partial file so a killed one resumes, and keep the
    /// partial file when a download is interrupted or a transient fault outlasts the retries.
    /// By default, on.
    pub resume: bool,
    /// Ignore a partial file an earlier run left, and start over.
    pub restart: bool,
    /// The endpoint, recorded in the journal so a partial file from another server is never
    /// continued.
    pub endpoint: String,
    /// When a file download is written with `O_DIRECT` rather than through the page cache.
    /// By default, when it is too big for the page cache to absorb.
    pub direct_io: DirectIo,
}

impl Default for DownloadConfig {
    fn default() -> Self {
        Self {
            concurrency: 8,
            memory_limit: 32 * MIB,
            range_size: 16 * MIB,
            retry: RetryPolicy::default(),
            verify: VerifyMode::Auto,
            no_clobber: false,
            resume: true,
            restart: false,
            endpoint: String::new(),
            direct_io: DirectIo::Auto,
        }
    }
}

/// How much checking a download insists on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VerifyMode {
    /// The best check the object offers; the size alone when it offers none.
    #[default]
    Auto,
    /// Fail before fetching anything when the object offers no check.
    Require,
    /// Only the size.
    Off,
}

/// The object to download.
#[derive(Debug, Clone, Default)]
pub struct DownloadRequest {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// A specific version (sent with every request).
    pub version_id: Option<String>,
    /// SSE-C key, expected bucket owner, requester pays: sent with every request.
    pub request: RequestOptions,
    /// What a listing said of the object. When it fits in one range and has at most one
    /// part, the download skips HeadObject: one GET of the whole object, pinned to this ETag,
    /// brings its size, ETag and checksum with its bytes (a HeadObject follows only if the
    /// object has changed since).
    pub listed: Option<Listed>,
}

/// An object as a listing (ListObjectsV2) described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Size in bytes.
    pub size: u64,
    /// ETag, quotes included.
    pub etag: String,
}

/// Where a download's bytes go.
pub enum Target {
    /// A file: written at offsets into `FILE.ferry-partial`, renamed over FILE once verified.
    File(PathBuf),
    /// A writer (stdout, a pipe): bytes in order, through a reordering window bounded by the
    /// memory budget. Cannot resume.
    Writer(Box<dyn AsyncWrite + Send + Unpin>),
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::File(p) => write!(f, "Target::File({})", p.display()),
            Target::Writer(_) => f.write_str("Target::Writer"),
        }
    }
}

/// How a download was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Check {
    /// The object's FULL_OBJECT checksum, combined from the ranges' CRCs.
    FullObject(ChecksumValue),
    /// The object's COMPOSITE checksum: the checksum of its parts' checksums (`-N`).
    Composite(ChecksumValue),
    /// A single-request object's checksum (SHA1, SHA256), over all the bytes in order.
    WholeObject(ChecksumValue),
    /// The multipart ETag: the MD5 of the parts' MD5s, `-N`.
    MultipartEtag(String),
    /// The ETag as the object's MD5.
    Md5Etag(String),
    /// Only the size: why no more.
    SizeOnly(String),
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Check::FullObject(v) => write!(f, "full-object {} {}", v.algorithm, v.value),
            Check::Composite(v) => write!(f, "composite {} {}", v.algorithm, v.value),
            Check::WholeObject(v) => write!(f, "{} {}", v.algorithm, v.value),
            Check::MultipartEtag(e) => write!(f, "multipart ETag {e}"),
            Check::Md5Etag(e) => write!(f, "MD5 ETag {e}"),
            Check::SizeOnly(why) => write!(f, "size only ({why})"),
        }
    }
}

impl Check {
    /// A short name: `full-object`, `composite`, `whole-object`, `multipart-etag`,
    /// `md5-etag` or `size`.
    pub fn kind(&self) -> &'static str {
        match self {
            Check::FullObject(_) => "full-object",
            Check::Composite(_) => "composite",
            Check::WholeObject(_) => "whole-object",
            Check::MultipartEtag(_) => "multipart-etag",
            Check::Md5Etag(_) => "md5-etag",
            Check::SizeOnly(_) => "size",
        }
    }

    /// The CRC each range computes as it arrives, when the check combines range CRCs.
    fn range_algorithm(&self) -> Option<ChecksumAlgorithm> {
        match self {
            Check::FullObject(v) | Check::Composite(v) if is_crc(v.algorithm) => Some(v.algorithm),
            _ => None,
        }
    }

    /// Parts the check is computed over, when it needs the object's part boundaries.
    fn parts(&self) -> Option<u32> {
        match self {
            Check::Composite(v) => parts_suffix(&v.value),
            Check::MultipartEtag(e) => parts_suffix(e),
            _ => None,
        }
    }

    /// The value the check expects, in the form [`Ordered::finish`] gives.
    fn expected(&self) -> Option<&str> {
        match self {
            Check::FullObject(v) | Check::Composite(v) | Check::WholeObject(v) => Some(&v.value),
            Check::MultipartEtag(e) | Check::Md5Etag(e) => Some(e),
            Check::SizeOnly(_) => None,
        }
    }
}

fn is_crc(a: ChecksumAlgorithm) -> bool {
    matches!(
        a,
        ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c | ChecksumAlgorithm::Crc64Nvme
    )
}

fn parts_suffix(v: &str) -> Option<u32> {
    v.rsplit_once('-')?.1.parse().ok()
}

/// What a finished download produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadOutcome {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// The file written, or `None` for a writer.
    pub path: Option<PathBuf>,
    /// The object's size.
    pub size: u64,
    /// Its ETag.
    pub etag: String,
    /// Its version id, if the server gave one.
    pub version_id: Option<String>,
    /// Ranges in the plan.
    pub ranges: u32,
    /// Bytes fetched over the network (refetches included).
    pub fetched: u64,
    /// Bytes reused from an earlier, interrupted run.
    pub reused: u64,
    /// Ranges fetched again because the object did not check out.
    pub refetched: u32,
    /// How the bytes were checked.
    pub check: Check,
}

/// A running download (see [`Handle`]).
pub type DownloadHandle = Handle<DownloadOutcome>;

/// Downloads through one client. Its retry quota is shared by every download it runs.
#[derive(Debug)]
pub struct Downloader<C> {
    client: Arc<C>,
    config: DownloadConfig,
    quota: Arc<RetryQuota>,
    jitter: Arc<dyn Jitter>,
}

impl<C> Clone for Downloader<C> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            config: self.config.clone(),
            quota: self.quota.clone(),
            jitter: self.jitter.clone(),
        }
    }
}

impl<C: ObjectClient> Downloader<C> {
    /// A downloader with its own retry quota.
    pub fn new(client: Arc<C>, config: DownloadConfig) -> Self {
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

    /// Shares `quota` with other transfers.
    pub fn with_quota(mut self, quota: Arc<RetryQuota>) -> Self {
        self.quota = quota;
        self
    }

    /// Checks the settings before anything is sent.
    pub fn check(&self) -> Result<(), Error> {
        let c = &self.config;
        if c.concurrency == 0 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "concurrency must be at least 1",
            ));
        }
        if c.memory_limit < 8 * MIB {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "the memory limit must be at least 8 MiB",
            ));
        }
        if c.range_size < 64 * 1024 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "the range size must be at least 64 KiB",
            ));
        }
        Ok(())
    }

    /// Starts downloading `request` to `target`. Must be called within a tokio runtime.
    pub fn download(&self, request: DownloadRequest, target: Target) -> DownloadHandle {
        let (events, first) = broadcast::channel(EVENT_CAPACITY);
        let progress = Arc::new(Progress::default());
        let cancel = CancellationToken::new();
        let job = Arc::new(Job {
            client: self.client.clone(),
            config: self.config.clone(),
            quota: self.quota.clone(),
            jitter: self.jitter.clone(),
            req: request,
            events: events.clone(),
            progress: progress.clone(),
            cancel: cancel.clone(),
            aimd: Aimd::new(self.config.concurrency),
            fetched: Default::default(),
            opened: Default::default(),
        });
        let check = self.check();
        let task = tokio::spawn(async move {
            check?;
            let result = run(job.clone(), target).await;
            match &result {
                Ok(o) => job.emit(Event::Downloaded(o.clone())),
                Err(e) => job.emit(Event::Failed {
                    error: e.to_string(),
                }),
            }
            result
        });
        Handle::new(task, events, first, progress, cancel)
    }
}

/// Everything one download needs, shared by its tasks.
struct Job<C> {
    client: Arc<C>,
    config: DownloadConfig,
    quota: Arc<RetryQuota>,
    jitter: Arc<dyn Jitter>,
    req: DownloadRequest,
    events: broadcast::Sender<Event>,
    progress: Arc<Progress>,
    cancel: CancellationToken,
    aimd: Aimd,
    /// Bytes received over the network.
    fetched: std::sync::atomic::AtomicU64,
    /// A whole-object GET already answered (in place of HeadObject), for the first range.
    opened: Mutex<Option<GetObjectOutput>>,
}

/// The object as HeadObject described it, and the plan.
#[derive(Debug, Clone)]
struct Object {
    size: u64,
    etag: Arc<str>,
    version_id: Option<String>,
    check: Check,
    /// Part sizes, when the check needs them.
    parts: Option<Vec<u64>>,
    /// Whether `parts` was inferred (uniform parts) rather than listed.
    guessed: bool,
}

/// One range's digests: CRC64NVME (re-checked on resume) and the check's CRC, if it
/// combines range CRCs.
#[derive(Debug, Clone)]
struct RangeDigests {
    crc64: Digest,
    digest: Option<Digest>,
}

/// A fetched range.
struct Fetched {
    i: usize,
    digests: RangeDigests,
    /// The bytes, for a writer target.
    data: Option<Vec<Bytes>>,
}

impl<C: ObjectClient> Job<C> {
    fn emit(&self, e: Event) {
        let _ = self.events.send(e);
    }

    /// Announces the plan.
    fn planned(&self, object: &Object, ranges: usize, range_size: u64) {
        self.emit(Event::DownloadPlanned {
            size: object.size,
            ranges: ranges as u32,
            range_size,
            check: object.check.to_string(),
        });
        self.progress.set_total(object.size, ranges as u32);
    }

    fn name(&self) -> String {
        format!("s3://{}/{}", self.req.bucket, self.req.key)
    }

    fn cancelled(&self) -> Error {
        Error::new(ErrorKind::Cancelled, "the download was cancelled")
    }

    async fn retrying<T, F, Fut>(&self, part: Option<u32>, attempt: F) -> Result<T, S3Error>
    where
        F: FnMut(u32) -> Fut,
        Fut: std::future::Future<Output = Result<T, S3Error>>,
    {
        let client = self.client.clone();
        let refresh = move || client.refresh_credentials();
        Attempts {
            policy: &self.config.retry,
            quota: &self.quota,
            jitter: self.jitter.as_ref(),
            aimd: &self.aimd,
            cancel: &self.cancel,
            progress: &self.progress,
            events: &self.events,
            refresh: &refresh,
        }
        .run(part, attempt)
        .await
    }

    fn s3_error(&self, what: &str, e: S3Error, etag: Option<&str>) -> Error {
        if self.cancel.is_cancelled() {
            return self.cancelled();
        }
        let status = e.service().map(|s| s.status);
        match (status, etag) {
            (Some(412), Some(etag)) => Error::new(
                ErrorKind::Changed,
                format!(
                    "{} changed during the download (it is no longer ETag {etag}); run again to download the new version",
                    self.name()
                ),
            )
            .with_source(e),
            (Some(404), _) if e.code() != Some("NoSuchBucket") => Error::new(
                ErrorKind::Service,
                format!(
                    "{} does not exist{}: {e}",
                    self.name(),
                    match &self.req.version_id {
                        Some(v) => format!(" in version {v}"),
                        None => String::new(),
                    }
                ),
            )
            .with_source(e),
            _ => Error::from_s3(format!("{what} {}", self.name()), e),
        }
    }

    fn get(&self) -> GetObjectRequest {
        GetObjectRequest {
            bucket: self.req.bucket.clone(),
            key: self.req.key.clone(),
            version_id: self.req.version_id.clone(),
            request: self.req.request.clone(),
            ..Default::default()
        }
    }

    async fn head(&self, part_number: Option<u32>) -> Result<ObjectMeta, Error> {
        let req = GetObjectRequest {
            part_number,
            checksum_mode: part_number.is_none(),
            ..self.get()
        };
        self.retrying(None, |_| {
            let req = req.clone();
            async move { self.client.head_object(&req).await }
        })
        .await
        .map_err(|e| self.s3_error("reading", e, None))
    }

    /// Starts one GET of the whole object, pinned to the listed ETag, asking for its
    /// checksum: the object's description (a whole-object GET carries the checksum, as
    /// HeadObject does) and its bytes in one request. `None` when the object is no longer the
    /// one listed.
    async fn get_whole(&self, listed: &Listed) -> Result<Option<GetObjectOutput>, Error> {
        let req = GetObjectRequest {
            checksum_mode: true,
            if_match: Some(listed.etag.clone()),
            ..self.get()
        };
        let got = self
            .retrying(None, |_| {
                let req = req.clone();
                async move { self.client.get_object(&req).await }
            })
            .await;
        match got {
            Ok(out)
                if out.meta.content_range.is_none() && out.meta.content_length == listed.size =>
            {
                Ok(Some(out))
            }
            Ok(out) => {
                info!(
                    "{} answered a whole-object GET with {} bytes{}, not the {} listed",
                    self.name(),
                    out.meta.content_length,
                    if out.meta.content_range.is_some() {
                        " of a range"
                    } else {
                        ""
                    },
                    listed.size
                );
                Ok(None)
            }
            Err(e) if e.service().is_some_and(|s| s.status == 412) => {
                info!("{} changed since it was listed", self.name());
                Ok(None)
            }
            Err(e) => Err(self.s3_error("reading", e, None)),
        }
    }

    /// Fetches range `i` (`first`, `len`), writing it into `file` at its offset or keeping
    /// it in memory, with its digests. Retries under the same range; a retry starts over.
    async fn fetch(
        self: Arc<Self>,
        i: usize,
        [first, len]: [u64; 2],
        object: Arc<Object>,
        out: Option<Out>,
    ) -> Result<Fetched, Error> {
        self.progress.part_started();
        self.emit(Event::RangeStarted {
            range: i as u32,
            first,
            len,
        });
        let local: Arc<Mutex<Option<std::io::Error>>> = Default::default();
        let result = self
            .retrying(Some(i as u32 + 1), |_| {
                let (object, out, local) = (object.clone(), out.clone(), local.clone());
                let job = self.clone();
                async move { job.attempt(first, len, &object, out, &local).await }
            })
            .await;
        self.progress.part_ended(result.is_ok());
        let (digests, data) = match result {
            Ok(r) => r,
            Err(e) => {
                if let Some(io) = local.lock().expect("local error lock").take() {
                    return Err(Error::new(
                        ErrorKind::Local,
                        format!("writing the download of {}: {io}", self.name()),
                    )
                    .with_source(io));
                }
                return Err(self.s3_error(
                    &format!("range {} (bytes {first}-{}) of", i + 1, first + len - 1),
                    e,
                    Some(&object.etag),
                ));
            }
        };
        if let Some(limit) = self.aimd.on_success() {
            self.emit(Event::Concurrency { limit });
        }
        self.emit(Event::RangeFinished {
            range: i as u32,
            first,
            len,
        });
        Ok(Fetched { i, digests, data })
    }

    /// One GET of a range.
    async fn attempt(
        &self,
        first: u64,
        len: u64,
        object: &Object,
        dest: Option<Out>,
        local: &Mutex<Option<std::io::Error>>,
    ) -> Result<(RangeDigests, Option<Vec<Bytes>>), S3Error> {
        const OP: &str = "GetObject";
        let last = first + len - 1;
        let req = GetObjectRequest {
            range: Some(ByteRange { first, last }),
            if_match: Some(object.etag.to_string()),
            ..self.get()
        };
        let whole = first == 0 && len == object.size;
        let opened = whole
            .then(|| self.opened.lock().expect("opened lock").take())
            .flatten();
        let out = match opened {
            Some(out) => out,
            None => self.client.get_object(&req).await?,
        };
        match out.meta.content_range {
            Some(cr) if cr.range.first == first && cr.range.last == last => {}
            // A server may answer a range that is the whole object with the whole object.
            None if whole && out.meta.content_length == len => {}
            other => {
                return Err(S3Error::client(
                    OP,
                    ClientErrorKind::InvalidResponse,
                    format!(
                        "asked for bytes {first}-{last}, got {}",
                        match other {
                            Some(cr) => format!("bytes {}-{}", cr.range.first, cr.range.last),
                            None =>
                                format!("{} bytes without a Content-Range", out.meta.content_length),
                        }
                    ),
                ));
            }
        }
        let mut batch = match &dest {
            Some(_) => Batch::Chunks {
                chunks: Vec::new(),
                len: 0,
            },
            None => Batch::Copy(BytesMut::new()),
        };
        let direct = dest
            .as_ref()
            .is_some_and(|o| o.is_direct() && first.is_multiple_of(ALIGN as u64));
        let mut state = Some(WriteState {
            out: dest,
            offset: first,
            crc64: Hasher::new(ChecksumAlgorithm::Crc64Nvme),
            digest: object
                .check
                .range_algorithm()
                .filter(|a| *a != ChecksumAlgorithm::Crc64Nvme)
                .map(Hasher::new),
            kept: Vec::new(),
            aligned: direct.then(|| Aligned::new(WRITE_CHUNK)),
        });
        let mut pending: Option<tokio::task::JoinHandle<std::io::Result<WriteState>>> = None;
        let mut received = 0u64;
        let mut body = out.body;
        let result = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk?;
                received += chunk.len() as u64;
                self.progress.add_bytes(chunk.len() as u64);
                if received > len {
                    return Err(S3Error::client(
                        OP,
                        ClientErrorKind::InvalidResponse,
                        format!("more than the {len} bytes asked for"),
                    ));
                }
                let mut rest = chunk;
                while !rest.is_empty() {
                    rest = batch.take(rest);
                    if batch.is_full() {
                        let s = match pending.take() {
                            Some(p) => joined(p, local).await?,
                            None => state.take().expect("state"),
                        };
                        pending = Some(write_chunk(s, batch.parts()));
                    }
                }
            }
            if received != len {
                return Err(S3Error::client(
                    OP,
                    ClientErrorKind::BodyCutShort,
                    format!("the body ended after {received} of {len} bytes"),
                ));
            }
            let s = match pending.take() {
                Some(p) => joined(p, local).await?,
                None => state.take().expect("state"),
            };
            if batch.is_empty() {
                return Ok(s);
            }
            joined(write_chunk(s, batch.parts()), local).await
        }
        .await;
        self.fetched
            .fetch_add(received, std::sync::atomic::Ordering::Relaxed);
        match result {
            Ok(s) => {
                let crc64 = s.crc64.finish(len);
                let digest = match object.check.range_algorithm() {
                    Some(ChecksumAlgorithm::Crc64Nvme) => Some(crc64.clone()),
                    Some(_) => s.digest.map(|h| h.finish(len)),
                    None => None,
                };
                let kept = s.out.is_none().then_some(s.kept);
                Ok((RangeDigests { crc64, digest }, kept))
            }
            Err(e) => {
                // A failed attempt takes its bytes back out of the progress.
                self.progress.sub_bytes(received);
                if let Some(p) = pending {
                    let _ = p.await;
                }
                Err(e)
            }
        }
    }
}

/// A range being written: where, and its running digests.
struct WriteState {
    out: Option<Out>,
    offset: u64,
    crc64: Hasher,
    digest: Option<Hasher>,
    /// The bytes, when there is no file.
    kept: Vec<Bytes>,
    /// The range's buffer for direct writes, when it is written direct.
    aligned: Option<Aligned>,
}

/// Received bytes gathered for one write, up to [`WRITE_CHUNK`].
enum Batch {
    /// To a file: the network's own chunks (no copy here; one `pwritev`, or copied into the
    /// range's aligned buffer for a direct write, beside the CRC that reads them anyway).
    Chunks { chunks: Vec<Bytes>, len: usize },
    /// To a writer: one buffer, its own allocation, so what a writer target holds is exactly
    /// the range, never the slack of a network buffer.
    Copy(BytesMut),
}

impl Batch {
    /// Most chunks one write takes (`IOV_MAX` is 1024).
    const MAX_CHUNKS: usize = 256;

    fn len(&self) -> usize {
        match self {
            Batch::Chunks { len, .. } => *len,
            Batch::Copy(b) => b.len(),
        }
    }

    /// Takes what fits of `chunk`; returns the rest.
    fn take(&mut self, mut chunk: Bytes) -> Bytes {
        let n = chunk.len().min(WRITE_CHUNK - self.len());
        let rest = chunk.split_off(n);
        match self {
            Batch::Chunks { chunks, len } => {
                *len += n;
                chunks.push(chunk);
            }
            Batch::Copy(b) => {
                if b.capacity() == 0 {
                    *b = BytesMut::with_capacity(WRITE_CHUNK);
                }
                b.extend_from_slice(&chunk);
            }
        }
        rest
    }

    fn is_full(&self) -> bool {
        self.len() == WRITE_CHUNK
            || matches!(self, Batch::Chunks { chunks, .. } if chunks.len() == Self::MAX_CHUNKS)
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The gathered bytes, leaving the batch empty.
    fn parts(&mut self) -> Vec<Bytes> {
        match self {
            Batch::Chunks { chunks, len } => {
                *len = 0;
                std::mem::take(chunks)
            }
            // The whole buffer goes: the next chunk starts a new allocation.
            Batch::Copy(b) => vec![std::mem::take(b).freeze()],
        }
    }
}

/// Hashes `data` and writes it at its offset, on a blocking thread.
fn write_chunk(
    mut s: WriteState,
    data: Vec<Bytes>,
) -> tokio::task::JoinHandle<std::io::Result<WriteState>> {
    tokio::task::spawn_blocking(move || {
        let len: usize = data.iter().map(Bytes::len).sum();
        for d in &data {
            s.crc64.update(d);
            if let Some(h) = &mut s.digest {
                h.update(d);
            }
            // Copied while the CRC's read of it is still in the cache.
            if let Some(a) = &mut s.aligned {
                a.extend(d);
            }
        }
        match (&s.out, &mut s.aligned) {
            (Some(out), Some(a)) => {
                out.write_at(a.bytes(), s.offset)?;
                a.clear();
            }
            (Some(out), None) => out.write_chunks_at(&data, s.offset)?,
            (None, _) => s.kept.extend(data),
        }
        s.offset += len as u64;
        Ok(s)
    })
}

async fn joined(
    p: tokio::task::JoinHandle<std::io::Result<WriteState>>,
    local: &Mutex<Option<std::io::Error>>,
) -> Result<WriteState, S3Error> {
    let r = p
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(format!("the write task failed: {e}"))));
    r.map_err(|e| {
        let msg = e.to_string();
        *local.lock().expect("local error lock") = Some(e);
        // Not retryable: a full disk does not empty itself.
        S3Error::client("GetObject", ClientErrorKind::InvalidRequest, msg)
    })
}

/// The check an object offers, given what was asked for.
fn choose_check(meta: &ObjectMeta, mode: VerifyMode) -> Check {
    if mode == VerifyMode::Off {
        return Check::SizeOnly("--verify none".into());
    }
    if let Some(v) = &meta.checksum.value {
        let composite = meta.checksum.checksum_type == Some(ChecksumType::Composite)
            || parts_suffix(&v.value).is_some();
        return if composite {
            Check::Composite(v.clone())
        } else if is_crc(v.algorithm) {
            Check::FullObject(v.clone())
        } else {
            Check::WholeObject(v.clone())
        };
    }
    if meta.sse_customer_key_md5.is_some() {
        return Check::SizeOnly(
            "an SSE-C object with no additional checksum: its ETag is not an MD5".into(),
        );
    }
    if meta.server_side_encryption.as_deref() == Some("aws:kms") {
        return Check::SizeOnly(
            "an SSE-KMS object with no additional checksum: its ETag is not an MD5".into(),
        );
    }
    let etag = meta.etag.trim_matches('"').to_ascii_lowercase();
    let (hex, parts) = match etag.split_once('-') {
        Some((h, n)) => (h, n.parse::<u32>().ok()),
        None => (etag.as_str(), None),
    };
    let is_md5 = hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    match (is_md5, parts, etag.contains('-')) {
        (true, Some(n), _) if n >= 1 => Check::MultipartEtag(etag.clone()),
        (true, None, false) => Check::Md5Etag(etag.clone()),
        _ => Check::SizeOnly(format!(
            "no additional checksum, and the ETag {} is not an MD5",
            meta.etag
        )),
    }
}

/// Cuts the object into ranges of at most `range_size`, none crossing a part boundary.
fn plan_ranges(size: u64, range_size: u64, parts: Option<&[u64]>) -> Vec<[u64; 2]> {
    let whole = [size];
    let parts = parts.unwrap_or(&whole);
    let mut out = Vec::new();
    let mut offset = 0;
    for &p in parts {
        let mut done = 0;
        while done < p {
            let len = range_size.min(p - done);
            out.push([offset + done, len]);
            done += len;
        }
        offset += p;
    }
    out
}

/// The part index of each range, from the part sizes.
fn part_of_ranges(ranges: &[[u64; 2]], parts: &[u64]) -> Vec<usize> {
    let mut starts = Vec::with_capacity(parts.len());
    let mut o = 0;
    for p in parts {
        starts.push(o);
        o += p;
    }
    ranges
        .iter()
        .map(|r| starts.partition_point(|&s| s <= r[0]).saturating_sub(1))
        .collect()
}

/// A check computed from the bytes in order (for what cannot be combined from ranges).
struct Ordered {
    check: Check,
    /// Part sizes, for per-part checks.
    parts: Vec<u64>,
    part: usize,
    in_part: u64,
    hasher: Option<Hasher>,
    digests: Vec<Digest>,
}

impl Ordered {
    fn new(check: &Check, parts: Option<&[u64]>) -> Self {
        let mut o = Self {
            check: check.clone(),
            parts: parts.map(<[u64]>::to_vec).unwrap_or_default(),
            part: 0,
            in_part: 0,
            hasher: None,
            digests: Vec::new(),
        };
        o.hasher = o.new_hasher();
        o
    }

    fn new_hasher(&self) -> Option<Hasher> {
        match &self.check {
            Check::FullObject(v) | Check::Composite(v) | Check::WholeObject(v) => {
                Some(Hasher::new(v.algorithm))
            }
            Check::MultipartEtag(_) | Check::Md5Etag(_) => Some(Hasher::md5()),
            Check::SizeOnly(_) => None,
        }
    }

    fn per_part(&self) -> bool {
        matches!(self.check, Check::Composite(_) | Check::MultipartEtag(_))
    }

    fn update(&mut self, mut data: &[u8]) {
        if self.hasher.is_none() {
            return;
        }
        while !data.is_empty() {
            let room = if self.per_part() {
                self.parts.get(self.part).copied().unwrap_or(u64::MAX) - self.in_part
            } else {
                u64::MAX
            };
            let n = (data.len() as u64).min(room) as usize;
            if let Some(h) = &mut self.hasher {
                h.update(&data[..n]);
            }
            self.in_part += n as u64;
            data = &data[n..];
            if self.per_part() && self.parts.get(self.part) == Some(&self.in_part) {
                self.end_part();
            }
        }
    }

    fn end_part(&mut self) {
        let next = self.new_hasher();
        if let Some(h) = std::mem::replace(&mut self.hasher, next) {
            self.digests.push(h.finish(self.in_part));
        }
        self.part += 1;
        self.in_part = 0;
    }

    /// The value, in the form the check expects.
    fn finish(mut self) -> Option<String> {
        if self.per_part() {
            if self.in_part > 0 {
                self.end_part();
            }
            return value_from_parts(&self.check, &self.digests);
        }
        let h = self.hasher.take()?;
        Some(value_from_whole(&self.check, &h.finish(self.in_part)))
    }
}

fn value_from_whole(check: &Check, d: &Digest) -> String {
    match check {
        Check::Md5Etag(_) => hex_lower(&d.raw),
        _ => d.base64(),
    }
}

fn value_from_parts(check: &Check, parts: &[Digest]) -> Option<String> {
    match check {
        Check::Composite(v) => {
            object_checksum(v.algorithm, ChecksumType::Composite, parts).map(|c| c.value)
        }
        Check::MultipartEtag(_) => {
            let mut h = Hasher::md5();
            for p in parts {
                h.update(&p.raw);
            }
            Some(format!("{}-{}", hex_lower(&h.finish(0).raw), parts.len()))
        }
        _ => None,
    }
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The value from the ranges' CRCs (checks that combine), or `None` if it needs a pass in
/// order.
fn combined_value(
    object: &Object,
    ranges: &[[u64; 2]],
    digests: &[Option<RangeDigests>],
) -> Option<String> {
    let alg = object.check.range_algorithm()?;
    let ds: Option<Vec<Digest>> = digests
        .iter()
        .map(|d| d.as_ref().and_then(|d| d.digest.clone()))
        .collect();
    let ds = ds?;
    match &object.check {
        Check::FullObject(_) => Some(value_from_whole(&object.check, &combine(alg, &ds)?)),
        Check::Composite(_) => {
            let parts = object.parts.as_deref()?;
            let owner = part_of_ranges(ranges, parts);
            let mut per_part: Vec<Vec<Digest>> = vec![Vec::new(); parts.len()];
            for (d, p) in ds.into_iter().zip(owner) {
                per_part.get_mut(p)?.push(d);
            }
            let parts: Option<Vec<Digest>> = per_part.iter().map(|p| combine(alg, p)).collect();
            value_from_parts(&object.check, &parts?)
        }
        _ => None,
    }
}

/// Learns the part sizes of a multipart object of `n` parts: listed by GetObjectAttributes
/// when the server does; else inferred from part 1 and part `n` (uniform parts, as every
/// common tool writes them; `guessed`, so a failed check lists them one by one before
/// blaming the bytes). `None` when the server does not serve parts by number.
async fn part_sizes<C: ObjectClient>(
    job: &Job<C>,
    size: u64,
    n: u32,
) -> Result<Option<(Vec<u64>, bool)>, Error> {
    if n == 1 {
        return Ok(Some((vec![size], false)));
    }
    if let Some(listed) = listed_parts(job, size, n).await {
        return Ok(Some((listed, false)));
    }
    let first = job.head(Some(1)).await?;
    // A server that ignores partNumber answers with the whole object.
    if first.parts_count != Some(n) || first.content_length >= size {
        info!("the server does not serve parts by number: no part boundaries");
        return Ok(None);
    }
    let p = first.content_length;
    if p > 0 && p * (n as u64 - 1) < size && size <= p * n as u64 {
        let last = size - p * (n as u64 - 1);
        let tail = job.head(Some(n)).await?;
        if tail.content_length == last {
            let mut v = vec![p; n as usize - 1];
            v.push(last);
            return Ok(Some((v, true)));
        }
    }
    let each = head_each_part(job, n).await?;
    Ok((each.iter().sum::<u64>() == size).then_some((each, false)))
}

/// Part sizes from GetObjectAttributes, if the server lists them all.
async fn listed_parts<C: ObjectClient>(job: &Job<C>, size: u64, n: u32) -> Option<Vec<u64>> {
    let mut sizes = Vec::with_capacity(n as usize);
    let mut marker = None;
    loop {
        let req = GetObjectAttributesRequest {
            bucket: job.req.bucket.clone(),
            key: job.req.key.clone(),
            version_id: job.req.version_id.clone(),
            attributes: ObjectAttributes {
                etag: false,
                checksum: false,
                object_parts: true,
                storage_class: false,
                object_size: false,
            },
            max_parts: Some(1000),
            part_number_marker: marker,
            request: job.req.request.clone(),
        };
        let out = match job.client.get_object_attributes(&req).await {
            Ok(o) => o,
            Err(e) => {
                info!("GetObjectAttributes gave no part list: {e}");
                return None;
            }
        };
        let page = out.object_parts?;
        for p in &page.parts {
            if p.part_number as usize != sizes.len() + 1 {
                return None;
            }
            sizes.push(p.size);
        }
        match page.next_part_number_marker {
            Some(m) if (sizes.len() as u32) < n && !page.parts.is_empty() => marker = Some(m),
            _ => break,
        }
    }
    (sizes.len() as u32 == n && sizes.iter().sum::<u64>() == size).then_some(sizes)
}

/// Part sizes, one HeadObject `partNumber` each.
async fn head_each_part<C: ObjectClient>(job: &Job<C>, n: u32) -> Result<Vec<u64>, Error> {
    let limit = job.config.concurrency as usize;
    let mut sizes: Vec<(u32, u64)> = futures_util::stream::iter(1..=n)
        .map(|i| async move { job.head(Some(i)).await.map(|m| (i, m.content_length)) })
        .buffer_unordered(limit)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    sizes.sort();
    Ok(sizes.into_iter().map(|(_, s)| s).collect())
}

/// Reads a range of `file` in chunks, passing each to `f`.
fn read_range(
    file: &File,
    [first, len]: [u64; 2],
    mut f: impl FnMut(&[u8]),
) -> std::io::Result<()> {
    let mut buf = vec![0u8; WRITE_CHUNK];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(buf.len() as u64) as usize;
        file.read_exact_at(&mut buf[..n], first + done)?;
        f(&buf[..n]);
        done += n as u64;
    }
    Ok(())
}

/// Reads ranges of `file` in order and feeds them to a check.
fn read_ordered(file: &File, ranges: &[[u64; 2]], ordered: &mut Ordered) -> std::io::Result<()> {
    for &r in ranges {
        read_range(file, r, |b| ordered.update(b))?;
    }
    Ok(())
}

/// CRC64NVME of a range of `file`.
fn crc64_of(file: &File, range: [u64; 2]) -> std::io::Result<Digest> {
    let mut h = Hasher::new(ChecksumAlgorithm::Crc64Nvme);
    read_range(file, range, |b| h.update(b))?;
    Ok(h.finish(range[1]))
}

/// Follows a file download: as ranges complete, reads the ones now in order back and feeds
/// them to the check, beside the download.
struct Follower {
    tx: mpsc::UnboundedSender<usize>,
    task: tokio::task::JoinHandle<std::io::Result<Option<String>>>,
}

impl Follower {
    fn start(file: Arc<File>, ranges: Arc<Vec<[u64; 2]>>, mut ordered: Ordered) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<usize>();
        let task = tokio::spawn(async move {
            let mut done = BTreeSet::new();
            let mut next = 0usize;
            while let Some(i) = rx.recv().await {
                done.insert(i);
                let start = next;
                while done.remove(&next) {
                    next += 1;
                }
                if next > start {
                    let (file, ranges) = (file.clone(), ranges.clone());
                    ordered = tokio::task::spawn_blocking(move || {
                        read_ordered(&file, &ranges[start..next], &mut ordered).map(|()| ordered)
                    })
                    .await
                    .map_err(std::io::Error::other)??;
                }
            }
            if next < ranges.len() {
                return Ok(None);
            }
            Ok(ordered.finish())
        });
        Self { tx, task }
    }

    fn done(&self, i: usize) {
        let _ = self.tx.send(i);
    }

    async fn finish(self) -> Result<Option<String>, Error> {
        drop(self.tx);
        self.task
            .await
            .map_err(|e| Error::new(ErrorKind::Local, format!("the check task failed: {e}")))?
            .map_err(|e| {
                Error::new(
                    ErrorKind::Local,
                    format!("reading the partial file back: {e}"),
                )
            })
    }
}

async fn run<C: ObjectClient>(job: Arc<Job<C>>, target: Target) -> Result<DownloadOutcome, Error> {
    let mut range_size = job.config.range_size;
    if matches!(target, Target::Writer(_)) {
        // Whole ranges wait in memory for their turn: two per connection fit the budget.
        let fits =
            (job.config.memory_limit / (2 * u64::from(job.config.concurrency.max(1)))) / MIB * MIB;
        range_size = range_size.min(fits.max(MIB));
    }
    let whole = match job.req.listed.as_ref() {
        Some(l) if one_range(l, range_size) => job.get_whole(l).await?,
        _ => None,
    };
    let meta = match whole {
        Some(out) => {
            let meta = out.meta.clone();
            *job.opened.lock().expect("opened lock") = Some(out);
            meta
        }
        None => job.head(None).await?,
    };
    let check = choose_check(&meta, job.config.verify);
    if job.config.verify == VerifyMode::Require
        && let Check::SizeOnly(why) = &check
    {
        return Err(Error::new(
            ErrorKind::Verification,
            format!(
                "{} cannot be verified ({why}); nothing was downloaded (use --verify auto to accept a size check)",
                job.name()
            ),
        ));
    }
    let size = meta.content_length;
    let (parts, guessed) = match check.parts() {
        Some(n) if size > 0 => match part_sizes(&job, size, n).await? {
            Some((p, g)) => (Some(p), g),
            None => (None, false),
        },
        _ => (None, false),
    };
    let check = match (&check, &parts) {
        (Check::Composite(_) | Check::MultipartEtag(_), None) => {
            let why = if size == 0 {
                "an empty object of empty parts".to_string()
            } else {
                format!(
                    "its {} needs the part boundaries, which the server does not give",
                    check.kind()
                )
            };
            if job.config.verify == VerifyMode::Require {
                return Err(Error::new(
                    ErrorKind::Verification,
                    format!(
                        "{} cannot be verified ({why}); nothing was downloaded",
                        job.name()
                    ),
                ));
            }
            Check::SizeOnly(why)
        }
        _ => check,
    };
    let object = Arc::new(Object {
        size,
        etag: Arc::from(meta.etag.as_str()),
        version_id: meta.version_id.clone(),
        check,
        parts,
        guessed,
    });
    let range_size = range_size.max(size.div_ceil(MAX_RANGES).next_multiple_of(MIB));
    let ranges = plan_ranges(size, range_size, object.parts.as_deref());
    match target {
        Target::File(path) => to_file(job, object, ranges, range_size, &path).await,
        Target::Writer(w) => to_writer(job, object, ranges, range_size, w).await,
    }
}

/// Whether a listed object is fetched in one range of `range_size`, whatever its check: no
/// bigger than a range, and of one part at most (the ETag of an object of N parts ends `-N`).
fn one_range(listed: &Listed, range_size: u64) -> bool {
    listed.size <= range_size && parts_suffix(listed.etag.trim_matches('"')).is_none_or(|n| n <= 1)
}

fn outcome<C>(
    job: &Job<C>,
    object: &Object,
    path: Option<PathBuf>,
    ranges: usize,
    reused: u64,
    refetched: u32,
) -> DownloadOutcome {
    DownloadOutcome {
        bucket: job.req.bucket.clone(),
        key: job.req.key.clone(),
        path,
        size: object.size,
        etag: object.etag.to_string(),
        version_id: object.version_id.clone(),
        ranges: ranges as u32,
        fetched: job.fetched.load(std::sync::atomic::Ordering::Relaxed),
        reused,
        refetched,
        check: object.check.clone(),
    }
}

/// Ranges in flight for a file: each holds two write chunks at most, three written direct.
fn file_concurrency<C>(job: &Job<C>, out: &Out) -> u32 {
    // Written direct, a range also holds the aligned buffer its writes go through.
    let chunks = if out.is_direct() { 3 } else { 2 };
    let per_range = chunks * WRITE_CHUNK as u64 + 64 * 1024;
    job.config
        .concurrency
        .min((job.config.memory_limit / per_range).max(1) as u32)
}

async fn to_file<C: ObjectClient>(
    job: Arc<Job<C>>,
    object: Arc<Object>,
    planned: Vec<[u64; 2]>,
    range_size: u64,
    path: &Path,
) -> Result<DownloadOutcome, Error> {
    if job.config.no_clobber && path.exists() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{} exists and --no-clobber was given", path.display()),
        ));
    }
    let (mut partial, previous) = Partial::open(path)?;
    let header = Header {
        v: PARTIAL_VERSION,
        endpoint: job.config.endpoint.clone(),
        bucket: job.req.bucket.clone(),
        key: job.req.key.clone(),
        version_id: job.req.version_id.clone(),
        etag: object.etag.to_string(),
        size: object.size,
        check: object.check.to_string(),
        ranges: planned,
    };
    let mut digests: Vec<Option<RangeDigests>> = vec![None; header.ranges.len()];
    let mut reused = 0u64;
    let opened = async {
        Ok(
            match previous.filter(|_| job.config.resume && !job.config.restart) {
                Some((old, lines)) if same_download(&old, &header) => {
                    let alg = object.check.range_algorithm();
                    match resume_from(&mut partial, &old, lines, alg, &mut digests).await {
                        Ok((file, bytes)) => {
                            reused = bytes;
                            (file, old.ranges)
                        }
                        Err(e) => {
                            warn!("the partial download cannot be continued ({e}); starting over");
                            digests = vec![None; header.ranges.len()];
                            (partial.start(&header)?, header.ranges.clone())
                        }
                    }
                }
                Some((old, _)) => {
                    let reason = restart_reason(&old, &header);
                    warn!("{reason}");
                    job.emit(Event::Restarted { reason });
                    (partial.start(&header)?, header.ranges.clone())
                }
                None => (partial.start(&header)?, header.ranges.clone()),
            },
        )
    }
    .await;
    let (file, ranges) = match opened {
        Ok(v) => v,
        Err(e) => {
            partial.discard();
            return Err(e);
        }
    };
    let ranges = Arc::new(ranges);
    job.planned(&object, ranges.len(), range_size);
    job.progress.add_bytes(reused);
    if reused > 0 {
        job.emit(Event::DownloadResumed {
            ranges_done: digests.iter().filter(|d| d.is_some()).count() as u32,
            ranges_to_fetch: digests.iter().filter(|d| d.is_none()).count() as u32,
            bytes_done: reused,
        });
    }
    let follower = needs_pass(&object).then(|| {
        Follower::start(
            file.clone(),
            ranges.clone(),
            Ordered::new(&object.check, object.parts.as_deref()),
        )
    });
    if let Some(f) = &follower {
        for (i, d) in digests.iter().enumerate() {
            if d.is_some() {
                f.done(i);
            }
        }
    }
    // A follower reads each range back as soon as it lands: those stay in the page cache.
    let out = Out::open(
        &partial.path,
        file.clone(),
        object.size,
        if follower.is_some() {
            DirectIo::Never
        } else {
            job.config.direct_io
        },
    );
    let todo: Vec<usize> = (0..ranges.len())
        .filter(|i| digests[*i].is_none())
        .collect();
    let mut sink = FileSink {
        partial: &mut partial,
        digests: &mut digests,
        follower: follower.as_ref(),
        out: &out,
        ranges: &ranges,
    };
    let result = run_ranges(&job, &object, &ranges, todo, Some(out.clone()), &mut sink).await;
    let result = match result {
        Ok(()) => {
            let ordered = match follower {
                Some(f) => f.finish().await?,
                None => None,
            };
            verify_file(
                &job,
                &object,
                &ranges,
                &out,
                &mut partial,
                &mut digests,
                ordered,
            )
            .await
        }
        Err(e) => {
            if let Some(f) = follower {
                f.task.abort();
            }
            Err(e)
        }
    };
    match result {
        Ok((check, refetched)) => {
            // The fsyncs and the rename block: off the async workers, which other downloads
            // (a tree's) share.
            let (target, no_clobber) = (path.to_path_buf(), job.config.no_clobber);
            tokio::task::spawn_blocking(move || partial.finish(&target, no_clobber))
                .await
                .map_err(|e| {
                    Error::new(ErrorKind::Local, format!("the rename task failed: {e}"))
                })??;
            let mut o = outcome(
                &job,
                &object,
                Some(path.to_path_buf()),
                ranges.len(),
                reused,
                refetched,
            );
            o.check = check;
            Ok(o)
        }
        Err(e) => {
            // Keep what can resume (interrupted, a transient fault, a local error); what is
            // wrong or of another version goes.
            let keep = job.config.resume
                && (e.kind() == ErrorKind::Cancelled
                    || e.kind() == ErrorKind::Local
                    || e.s3().is_some_and(S3Error::is_retryable));
            if keep {
                Err(e.kept_for_resume(partial.path.display().to_string()))
            } else {
                partial.discard();
                Err(e)
            }
        }
    }
}

fn needs_pass(object: &Object) -> bool {
    object.check.expected().is_some() && object.check.range_algorithm().is_none()
}

fn same_download(old: &Header, new: &Header) -> bool {
    old.endpoint == new.endpoint
        && old.bucket == new.bucket
        && old.key == new.key
        && old.version_id == new.version_id
        && old.etag == new.etag
        && old.size == new.size
        && old.check == new.check
        && old.ranges.iter().map(|r| r[1]).sum::<u64>() == new.size
}

fn restart_reason(old: &Header, new: &Header) -> String {
    if (&old.endpoint, &old.bucket, &old.key, &old.version_id)
        != (&new.endpoint, &new.bucket, &new.key, &new.version_id)
    {
        format!(
            "the partial download was of another object (s3://{}/{}); starting over",
            old.bucket, old.key
        )
    } else if old.etag != new.etag || old.size != new.size {
        format!(
            "s3://{}/{} changed since the partial download (ETag {} and {} bytes then, ETag {} and {} bytes now); starting over",
            new.bucket, new.key, old.etag, old.size, new.etag, new.size
        )
    } else {
        "the partial download was checked another way; starting over".into()
    }
}

/// Re-reads the ranges an earlier run wrote and keeps those whose CRC64NVME still matches.
/// Returns the partial file and the bytes kept.
async fn resume_from(
    partial: &mut Partial,
    old: &Header,
    lines: Vec<RangeLine>,
    alg: Option<ChecksumAlgorithm>,
    digests: &mut [Option<RangeDigests>],
) -> Result<(Arc<File>, u64), Error> {
    let file = partial.reopen(old.size)?;
    let ranges = old.ranges.clone();
    let f = file.clone();
    let checked: Vec<(usize, Option<RangeDigests>)> = tokio::task::spawn_blocking(move || {
        lines
            .into_iter()
            .map(|l| {
                let i = l.i as usize;
                let r = ranges[i];
                let kept = crc64_of(&f, r).ok().and_then(|d| {
                    (d.base64() == l.crc64).then(|| RangeDigests {
                        digest: match alg {
                            Some(ChecksumAlgorithm::Crc64Nvme) => Some(d.clone()),
                            Some(_) => l
                                .digest
                                .as_deref()
                                .and_then(|b| B64.decode(b).ok())
                                .map(|raw| Digest { raw, len: r[1] }),
                            None => None,
                        },
                        crc64: d,
                    })
                });
                (i, kept)
            })
            .collect()
    })
    .await
    .map_err(|e| {
        Error::new(
            ErrorKind::Local,
            format!("re-checking the partial file: {e}"),
        )
    })?;
    let mut bytes = 0;
    let mut bad = 0;
    for (i, d) in checked {
        match d {
            Some(d) if alg.is_none() || d.digest.is_some() => {
                bytes += d.crc64.len;
                digests[i] = Some(d);
            }
            _ => bad += 1,
        }
    }
    if bad > 0 {
        warn!(
            "{bad} range(s) of the partial file no longer match their journal; fetching them again"
        );
    }
    info!("resuming: {bytes} bytes on disk kept");
    Ok((file, bytes))
}

/// Where fetched ranges go for a file: their digests kept and journaled, the check told.
struct FileSink<'a> {
    partial: &'a mut Partial,
    digests: &'a mut Vec<Option<RangeDigests>>,
    follower: Option<&'a Follower>,
    /// The partial file and the ranges' bounds, to start each range's writeback.
    out: &'a Out,
    ranges: &'a [[u64; 2]],
}

/// What receives finished ranges.
trait Sink {
    /// A range finished.
    fn accept(&mut self, f: Fetched)
    -> impl std::future::Future<Output = Result<(), Error>> + Send;
    /// Ranges that may start: none beyond `written + window` for an ordered writer.
    fn window_end(&self) -> usize {
        usize::MAX
    }
}

impl Sink for FileSink<'_> {
    async fn accept(&mut self, f: Fetched) -> Result<(), Error> {
        self.partial.record(&RangeLine {
            i: f.i as u32,
            crc64: f.digests.crc64.base64(),
            digest: f.digests.digest.as_ref().map(Digest::base64),
        })?;
        self.digests[f.i] = Some(f.digests);
        if let Some(fl) = self.follower {
            fl.done(f.i);
        } else if !self.out.is_direct() {
            // Start writing the range to disk now, in the background, so the fsync before the
            // rename finds little left: a 1 GiB download spent 0.4 s in that fsync. (Advice
            // DontNeed starts writeback of dirty pages and drops them once clean; with a
            // follower the pages are kept, since it reads the range back.)
            // Starting writeback can block on the disk's queue: off the async workers.
            let [first, len] = self.ranges[f.i];
            let file = self.out.file.clone();
            tokio::task::spawn_blocking(move || {
                let _ = rustix::fs::fadvise(
                    &*file,
                    first,
                    std::num::NonZeroU64::new(len),
                    rustix::fs::Advice::DontNeed,
                );
            });
        }
        Ok(())
    }
}

/// Runs ranges `todo` through the pool: at most the AIMD limit in flight, none beyond the
/// sink's window; the first failure stops new ranges and is returned.
async fn run_ranges<C: ObjectClient>(
    job: &Arc<Job<C>>,
    object: &Arc<Object>,
    ranges: &Arc<Vec<[u64; 2]>>,
    todo: Vec<usize>,
    out: Option<Out>,
    sink: &mut impl Sink,
) -> Result<(), Error> {
    let limit = if let Some(out) = &out {
        file_concurrency(job, out)
    } else {
        job.config.concurrency
    };
    job.aimd.set_max(limit);
    let mut set: JoinSet<Result<Fetched, Error>> = JoinSet::new();
    let mut failure: Option<Error> = None;
    let mut next = todo.into_iter().peekable();
    loop {
        while failure.is_none()
            && !job.cancel.is_cancelled()
            && (set.len() as u32) < job.aimd.limit()
            && next.peek().is_some_and(|&i| i < sink.window_end())
        {
            let i = next.next().expect("peeked");
            set.spawn(job.clone().fetch(i, ranges[i], object.clone(), out.clone()));
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        match joined {
            Ok(Ok(f)) => {
                if failure.is_none()
                    && let Err(e) = sink.accept(f).await
                {
                    failure = Some(e);
                    set.abort_all();
                }
            }
            Ok(Err(e)) => {
                if failure.is_none() {
                    failure = Some(e);
                    set.abort_all();
                }
            }
            Err(e) if e.is_cancelled() => {}
            Err(e) => {
                failure.get_or_insert(Error::new(
                    ErrorKind::Local,
                    format!("a range task failed: {e}"),
                ));
            }
        }
    }
    if job.cancel.is_cancelled() {
        return Err(job.cancelled());
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Checks a file download; when it fails, lists the parts one by one (if they were
/// inferred) and then fetches ranges again until the object checks out. Returns the check
/// and the ranges fetched again.
async fn verify_file<C: ObjectClient>(
    job: &Arc<Job<C>>,
    object: &Arc<Object>,
    ranges: &Arc<Vec<[u64; 2]>>,
    out: &Out,
    partial: &mut Partial,
    digests: &mut Vec<Option<RangeDigests>>,
    ordered: Option<String>,
) -> Result<(Check, u32), Error> {
    let Some(expected) = object.check.expected().map(str::to_string) else {
        return Ok((object.check.clone(), 0));
    };
    let value = ordered.or_else(|| combined_value(object, ranges, digests));
    if value.as_deref() == Some(expected.as_str()) {
        return Ok((object.check.clone(), 0));
    }
    let mut object = object.clone();
    if object.guessed {
        // The parts were inferred: list them one by one and compute again from the file.
        let n = object.check.parts().unwrap_or(1);
        let sizes = head_each_part(job, n).await?;
        if Some(&sizes) != object.parts.as_ref() {
            info!("the object's parts are not uniform; checking again with their real sizes");
            object = Arc::new(Object {
                parts: Some(sizes),
                guessed: false,
                ..(*object).clone()
            });
            if readback(&object, ranges, &out.file).await?.as_deref() == Some(expected.as_str()) {
                return Ok((object.check.clone(), 0));
            }
        }
    }
    let first_value = value.unwrap_or_default();
    warn!(
        "{} does not check out ({}: expected {expected}, got {first_value}); fetching it again",
        job.name(),
        object.check.kind()
    );
    // Fetch every range again. A range that comes back different was damaged at least once
    // (the first time, or this time: a fault can strike the second fetch too), so the
    // ranges that ever varied are fetched again, pass after pass, until the object checks
    // out; ranges that came back the same every time are taken as right.
    let combinable = object.check.range_algorithm().is_some()
        && object.parts.is_some() == object.check.parts().is_some();
    let mut sink = Refetch {
        job,
        ranges,
        partial,
        digests,
        refetched: 0,
        varied: vec![false; ranges.len()],
        pass: 1,
    };
    let mut todo: Vec<usize> = (0..ranges.len()).collect();
    let mut value = None;
    while !todo.is_empty() && sink.pass <= REFETCH_PASSES {
        run_ranges(job, &object, ranges, todo, Some(out.clone()), &mut sink).await?;
        value = if combinable {
            combined_value(&object, ranges, sink.digests)
        } else {
            readback(&object, ranges, &out.file).await?
        };
        if value.as_deref() == Some(expected.as_str()) {
            return Ok((object.check.clone(), sink.refetched));
        }
        todo = (0..ranges.len()).filter(|&i| sink.varied[i]).collect();
        sink.pass += 1;
    }
    let why = if sink.varied.contains(&true) {
        format!(
            "even after {REFETCH_PASSES} passes fetching again the ranges that came back different"
        )
    } else {
        "even after fetching every range again (each came back the same: the object's bytes \
         do not match its checksum)"
            .to_string()
    };
    Err(Error::new(
        ErrorKind::Verification,
        format!(
            "{}: the downloaded bytes do not match the object's {} (expected {expected}, got {}), {why}; the file was not written",
            job.name(),
            object.check,
            value.unwrap_or_default()
        ),
    ))
}

/// Passes of fetching ranges again after a failed check: the first fetches every range, the
/// later ones the ranges that came back different.
const REFETCH_PASSES: u32 = 4;

/// Computes the check over the whole partial file, in order.
async fn readback(
    object: &Object,
    ranges: &Arc<Vec<[u64; 2]>>,
    file: &Arc<File>,
) -> Result<Option<String>, Error> {
    let mut ordered = Ordered::new(&object.check, object.parts.as_deref());
    let (file, ranges) = (file.clone(), ranges.clone());
    tokio::task::spawn_blocking(move || {
        read_ordered(&file, &ranges, &mut ordered).map(|()| ordered.finish())
    })
    .await
    .map_err(|e| Error::new(ErrorKind::Local, format!("the check task failed: {e}")))?
    .map_err(|e| {
        Error::new(
            ErrorKind::Local,
            format!("reading the partial file back: {e}"),
        )
    })
}

/// Ranges fetched again after a failed check.
struct Refetch<'a, C> {
    job: &'a Arc<Job<C>>,
    ranges: &'a [[u64; 2]],
    partial: &'a mut Partial,
    digests: &'a mut Vec<Option<RangeDigests>>,
    /// Ranges fetched again, over all passes.
    refetched: u32,
    /// Per range: it came back different at least once.
    varied: Vec<bool>,
    /// Which pass this is (1: every range).
    pass: u32,
}

impl<C: ObjectClient> Sink for Refetch<'_, C> {
    async fn accept(&mut self, f: Fetched) -> Result<(), Error> {
        self.refetched += 1;
        let changed = self.digests[f.i]
            .as_ref()
            .is_none_or(|d| d.crc64 != f.digests.crc64);
        self.partial.record(&RangeLine {
            i: f.i as u32,
            crc64: f.digests.crc64.base64(),
            digest: f.digests.digest.as_ref().map(Digest::base64),
        })?;
        if changed {
            let r = self.ranges[f.i];
            warn!(
                "range {} (bytes {}-{}) came back different (fetched again, pass {})",
                f.i + 1,
                r[0],
                r[0] + r[1] - 1,
                self.pass
            );
            self.varied[f.i] = true;
            self.job.emit(Event::Refetched {
                range: f.i as u32,
                first: r[0],
                len: r[1],
            });
        }
        self.digests[f.i] = Some(f.digests);
        // The check waits for the end of the pass: stopping early would abort ranges whose
        // bytes are already being written (a blocking write cannot be called back), and a
        // damaged answer among them would land in the file after its check.
        Ok(())
    }
}

/// Where fetched ranges go for a writer: held until their turn, then written in order and
/// fed to the check.
struct WriterSink<'a> {
    writer: &'a mut (dyn AsyncWrite + Send + Unpin),
    held: BTreeMap<usize, Vec<Bytes>>,
    next: usize,
    window: usize,
    ordered: Option<Ordered>,
    digests: &'a mut Vec<Option<RangeDigests>>,
}

impl Sink for WriterSink<'_> {
    async fn accept(&mut self, f: Fetched) -> Result<(), Error> {
        self.held.insert(f.i, f.data.unwrap_or_default());
        self.digests[f.i] = Some(f.digests);
        while let Some(data) = self.held.remove(&self.next) {
            for b in data {
                if let Some(o) = &mut self.ordered {
                    o.update(&b);
                }
                self.writer.write_all(&b).await.map_err(|e| {
                    Error::new(ErrorKind::Local, format!("writing the output: {e}")).with_source(e)
                })?;
            }
            self.next += 1;
        }
        Ok(())
    }

    fn window_end(&self) -> usize {
        self.next + self.window
    }
}

async fn to_writer<C: ObjectClient>(
    job: Arc<Job<C>>,
    object: Arc<Object>,
    ranges: Vec<[u64; 2]>,
    range_size: u64,
    mut writer: Box<dyn AsyncWrite + Send + Unpin>,
) -> Result<DownloadOutcome, Error> {
    let ranges = Arc::new(ranges);
    job.planned(&object, ranges.len(), range_size);
    // Whole ranges wait in memory for their turn: the window keeps them within the budget,
    // one range's worth left for the connections' and the writer's own buffers.
    let window = ((job.config.memory_limit / range_size.max(1)) as usize)
        .saturating_sub(1)
        .max(1);
    let mut digests: Vec<Option<RangeDigests>> = vec![None; ranges.len()];
    let mut sink = WriterSink {
        writer: writer.as_mut(),
        held: BTreeMap::new(),
        next: 0,
        window,
        ordered: needs_pass(&object).then(|| Ordered::new(&object.check, object.parts.as_deref())),
        digests: &mut digests,
    };
    run_ranges(
        &job,
        &object,
        &ranges,
        (0..ranges.len()).collect(),
        None,
        &mut sink,
    )
    .await?;
    let ordered = sink.ordered.take().and_then(Ordered::finish);
    writer
        .flush()
        .await
        .map_err(|e| Error::new(ErrorKind::Local, format!("writing the output: {e}")))?;
    if let Some(expected) = object.check.expected() {
        let value = ordered.or_else(|| combined_value(&object, &ranges, &digests));
        if value.as_deref() != Some(expected) {
            return Err(Error::new(
                ErrorKind::Verification,
                format!(
                    "{}: the bytes written do not match the object's {} (got {}); discard the output",
                    job.name(),
                    object.check,
                    value.unwrap_or_default()
                ),
            ));
        }
    }
    Ok(outcome(&job, &object, None, ranges.len(), 0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(etag: &str) -> ObjectMeta {
        ObjectMeta {
            etag: format!("\"{etag}\""),
            ..Default::default()
        }
    }

    #[test]
    fn the_best_check_is_chosen() {
        let mut m = meta("abc");
        m.checksum.value = Some(ChecksumValue {
            algorithm: ChecksumAlgorithm::Crc64Nvme,
            value: "AAAAAAAAAAA=".into(),
        });
        assert_eq!(choose_check(&m, VerifyMode::Auto).kind(), "full-object");
        m.checksum.value = Some(ChecksumValue {
            algorithm: ChecksumAlgorithm::Crc32,
            value: "VLm86A==-3".into(),
        });
        let c = choose_check(&m, VerifyMode::Auto);
        assert_eq!((c.kind(), c.parts()), ("composite", Some(3)));
        m.checksum.value = Some(ChecksumValue {
            algorithm: ChecksumAlgorithm::Sha256,
            value: "x".into(),
        });
        assert_eq!(choose_check(&m, VerifyMode::Auto).kind(), "whole-object");
        let m = meta("1c9a057dacec2be5ad1828ee5fe2b1fb-4");
        let c = choose_check(&m, VerifyMode::Auto);
        assert_eq!((c.kind(), c.parts()), ("multipart-etag", Some(4)));
        assert_eq!(
            choose_check(&meta("abbdd0bd34d6426dfe45f4a7d5f8d935"), VerifyMode::Auto).kind(),
            "md5-etag"
        );
        assert_eq!(
            choose_check(&meta("weird"), VerifyMode::Auto).kind(),
            "size"
        );
        let mut c = meta("abbdd0bd34d6426dfe45f4a7d5f8d935");
        c.sse_customer_key_md5 = Some("k".into());
        assert_eq!(choose_check(&c, VerifyMode::Auto).kind(), "size");
        let mut k = meta("abbdd0bd34d6426dfe45f4a7d5f8d935");
        k.server_side_encryption = Some("aws:kms".into());
        assert_eq!(choose_check(&k, VerifyMode::Auto).kind(), "size");
        assert_eq!(
            choose_check(&meta("abbdd0bd34d6426dfe45f4a7d5f8d935"), VerifyMode::Off).kind(),
            "size"
        );
    }

    #[test]
    fn ranges_never_cross_parts() {
        assert_eq!(plan_ranges(0, 10, None), Vec::<[u64; 2]>::new());
        assert_eq!(plan_ranges(25, 10, None), vec![[0, 10], [10, 10], [20, 5]]);
        let parts = [8, 8, 3];
        let r = plan_ranges(19, 5, Some(&parts));
        assert_eq!(r, vec![[0, 5], [5, 3], [8, 5], [13, 3], [16, 3]]);
        assert_eq!(part_of_ranges(&r, &parts), vec![0, 0, 1, 1, 2]);
    }

    #[test]
    fn a_listed_object_skips_head_only_when_it_is_one_range() {
        let l = |size, etag: &str| Listed {
            size,
            etag: etag.to_string(),
        };
        assert!(one_range(&l(0, "\"d41d8cd98f00b204e9800998ecf8427e\""), 16));
        assert!(one_range(&l(16, "\"0f1e\""), 16));
        // A multipart object of one part is still one range.
        assert!(one_range(&l(16, "\"0f1e-1\""), 16));
        assert!(!one_range(&l(17, "\"0f1e\""), 16));
        // Of two parts: its check may need their boundaries.
        assert!(!one_range(&l(10, "\"0f1e-2\""), 16));
        assert!(!one_range(&l(10, "0f1e-2"), 16));
    }

    fn md5(data: &[u8]) -> Digest {
        let mut h = Hasher::md5();
        h.update(data);
        h.finish(data.len() as u64)
    }

    #[test]
    fn ordered_checks_match_their_definitions() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        // Multipart ETag over parts of 400, 400, 200, fed in uneven pieces.
        let parts = [400, 400, 200];
        let mut cat = Vec::new();
        for (a, b) in [(0, 400), (400, 800), (800, 1000)] {
            cat.extend_from_slice(&md5(&data[a..b]).raw);
        }
        let etag = format!("{}-3", hex_lower(&md5(&cat).raw));
        let check = Check::MultipartEtag(etag.clone());
        let mut o = Ordered::new(&check, Some(&parts));
        for piece in data.chunks(333) {
            o.update(piece);
        }
        assert_eq!(o.finish(), Some(etag));
        // Plain MD5.
        let whole = hex_lower(&md5(&data).raw);
        let mut o = Ordered::new(&Check::Md5Etag(whole.clone()), None);
        o.update(&data);
        assert_eq!(o.finish(), Some(whole));
        // Composite CRC32 from ranges equals the ordered value.
        let mut parts_d = Vec::new();
        for (a, b) in [(0, 400), (400, 800), (800, 1000)] {
            let mut h = Hasher::new(ChecksumAlgorithm::Crc32);
            h.update(&data[a..b]);
            parts_d.push(h.finish((b - a) as u64));
        }
        let value =
            object_checksum(ChecksumAlgorithm::Crc32, ChecksumType::Composite, &parts_d).unwrap();
        let check = Check::Composite(value.clone());
        let mut o = Ordered::new(&check, Some(&parts));
        o.update(&data);
        assert_eq!(o.finish().as_deref(), Some(value.value.as_str()));
        let object = Object {
            size: 1000,
            etag: Arc::from("e"),
            version_id: None,
            check,
            parts: Some(parts.to_vec()),
            guessed: false,
        };
        let ranges = plan_ranges(1000, 150, Some(&parts));
        let digests: Vec<Option<RangeDigests>> = ranges
            .iter()
            .map(|&[f, l]| {
                let mut h = Hasher::new(ChecksumAlgorithm::Crc32);
                h.update(&data[f as usize..(f + l) as usize]);
                Some(RangeDigests {
                    crc64: Hasher::new(ChecksumAlgorithm::Crc64Nvme).finish(0),
                    digest: Some(h.finish(l)),
                })
            })
            .collect();
        assert_eq!(
            combined_value(&object, &ranges, &digests).as_deref(),
            Some(value.value.as_str())
        );
    }
}
