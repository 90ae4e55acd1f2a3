//! Downloads: HeadObject (or, for an object a listing shows fits one range, one whole-object
//! GET that describes it and brings its bytes), a plan of ranges (never crossing a part
//! boundary when the check needs the parts), parallel ranged GETs pinned to the object's ETag
//! with `If-Match`, then the target: written at offsets into `LOCAL.ferry-partial` and renamed
//! over LOCAL once verified (`to_file`, journaled beside the partial file, resumed from what is
//! on disk), or written in order to a writer or into memory through a window bounded by the
//! memory budget (`to_writer`).
//!
//! The rest by concern: `check` (which check, and computing it), `layout` (part boundaries and
//! ranges), `fetch` (one range), `partial` (the partial file and its journal), `span` (which
//! bytes of the object).

mod check;
mod fetch;
mod file_check;
mod landing;
mod layout;
mod partial;
mod place;
mod read_back;
mod same;
mod span;
mod to_file;
mod to_writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use ferry_s3::{GetObjectOutput, GetObjectRequest, ObjectClient, ObjectMeta, RequestOptions};
use tokio::io::AsyncWrite;
use tracing::info;

use crate::budget::MemoryPermit;
use crate::context::Context;
use crate::direct::DirectIo;
use crate::error::{Error, ErrorKind, Failure};
use crate::outcome::{Check, DownloadOutcome};
use crate::progress::Event;

pub use check::VerifyMode;
pub(crate) use fetch::answered_range;
pub(crate) use partial::download_state;
pub use partial::partial_path;
pub(crate) use place::{Placement, move_into};
pub use read_back::ReadBack;
pub(crate) use read_back::{file_holds, read_back};
pub(crate) use same::{LISTED_ETAG_MAX, file_gives_etag, file_matches};
pub use span::Span;

const MIB: u64 = 1024 * 1024;
/// Ranges a plan aims to stay under (the range size grows for huge objects).
const MAX_RANGES: u64 = 10_000;

/// A download: which object, where to, how.
#[derive(Debug)]
pub struct Download {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// A specific version (sent with every request).
    pub version_id: Option<String>,
    /// The version current at this time, found in a listing of the key's versions
    /// (ListObjectVersions) before anything else, instead of `version_id`; an error says why
    /// there is none (deleted then, written only later). By default (`None`), the object as
    /// it is now.
    pub as_of: Option<std::time::SystemTime>,
    /// SSE-C key, expected bucket owner, requester pays: sent with every request.
    pub request: RequestOptions,
    /// What a listing said of the object. When it fits in one range and has at most one
    /// part, the download skips HeadObject: one GET of the whole object, pinned to this ETag,
    /// brings its size, ETag and checksum with its bytes (a HeadObject follows only if the
    /// object has changed since).
    pub listed: Option<Listed>,
    /// Only these bytes of the object (see [`range`](Self::range) and [`span`](Self::span)).
    /// By default, the whole object.
    pub range: Option<Span>,
    /// Where the bytes go.
    pub target: Target,
    /// How to download.
    pub settings: DownloadSettings,
}

impl Download {
    /// A download of `bucket`/`key` to `target`, with default settings.
    pub fn new(bucket: impl Into<String>, key: impl Into<String>, target: Target) -> Self {
        Self {
            bucket: bucket.into(),
            key: key.into(),
            version_id: None,
            as_of: None,
            request: RequestOptions::default(),
            listed: None,
            range: None,
            target,
            settings: DownloadSettings::default(),
        }
    }

    /// Only bytes `first` to `last` (inclusive) of the object, to a writer or to memory (as a
    /// backup tool reads one blob out of a pack): fetched in parallel ranges pinned to the
    /// object's ETag, so they all come from one version, and checked by their size (a range
    /// has no checksum of its own; [`VerifyMode::Require`] refuses one that is not the whole
    /// object).
    pub fn range(self, first: u64, last: u64) -> Self {
        self.span(Span::Exact { first, last })
    }

    /// Only the bytes `span` names (an exact range, an open one as HTTP's, or the last N
    /// bytes), as [`range`](Self::range) reads them.
    pub fn span(mut self, span: Span) -> Self {
        self.range = Some(span);
        self
    }

    /// With these settings.
    pub fn settings(mut self, settings: DownloadSettings) -> Self {
        self.settings = settings;
        self
    }
}

/// How to download. Build with `Default` and set what differs.
#[derive(Debug, Clone)]
pub struct DownloadSettings {
    /// Bytes per ranged GET. By default, 16 MiB (grown to keep an object under 10,000
    /// ranges). For a writer, cut to fit two ranges per connection in the memory budget.
    pub range_size: u64,
    /// How to check the result. By default, [`VerifyMode::Auto`].
    pub verify: VerifyMode,
    /// Refuse to replace an existing file. In a tree, such a file is left as it was and
    /// counted in [`TreeOutcome::existed`](crate::TreeOutcome::existed), not failed. By
    /// default, `false`.
    pub no_clobber: bool,
    /// Journal a file download beside the partial file so a killed one resumes, and keep the
    /// partial file when a download is interrupted or a transient fault outlasts the retries.
    /// By default, `true`.
    pub resume: bool,
    /// Ignore a partial file an earlier run left, and start over. By default, `false`.
    pub restart: bool,
    /// When a file download is written with `O_DIRECT` rather than through the page cache.
    /// By default, when it is too big for the page cache to absorb.
    pub direct_io: DirectIo,
    /// A move: once the file is written and verified, delete the object, if it is still the
    /// version that was read (else fail with [`ErrorKind::SourceKept`], the file kept). To
    /// a file only, of the current version. By default, `false`.
    ///
    /// [`ErrorKind::SourceKept`]: crate::ErrorKind::SourceKept
    pub remove_source: bool,
}

impl Default for DownloadSettings {
    fn default() -> Self {
        Self {
            range_size: 16 * MIB,
            verify: VerifyMode::Auto,
            no_clobber: false,
            resume: true,
            restart: false,
            direct_io: DirectIo::Auto,
            remove_source: false,
        }
    }
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
    /// A symbolic link is followed (the file it names is replaced, the link kept, as `cp`
    /// does); a path that is there and is neither a file nor a folder (a device such as
    /// `/dev/null`, a named pipe, a shell's `>(command)`) is written in order, as a
    /// [`Target::Writer`] is: renaming a file over it would replace the device or the pipe.
    /// The folders it goes in are created when missing; a folder is refused
    /// (`ErrorKind::InvalidInput`) before anything is fetched.
    File(PathBuf),
    /// A writer (stdout, a pipe): bytes in order, through a reordering window bounded by the
    /// memory budget. Cannot resume. The check comes once every byte is written: an
    /// `ErrorKind::Verification` error means what the writer took is not the object.
    Writer(Box<dyn AsyncWrite + Send + Unpin>),
    /// Memory: the object's bytes come back in the outcome (`data`). For small objects: one
    /// bigger than the manager's memory budget is refused (`ErrorKind::InvalidInput`).
    Memory,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::File(p) => write!(f, "Target::File({})", p.display()),
            Target::Writer(_) => f.write_str("Target::Writer"),
            Target::Memory => f.write_str("Target::Memory"),
        }
    }
}

impl Target {
    /// What a file target really is (see [`Target::File`]); a named pipe's opening, which
    /// waits for its reader, gives way to `cancel`. A folder is refused before anything is
    /// fetched; the folders a new file goes in are created.
    async fn resolved(self, cancel: &tokio_util::sync::CancellationToken) -> Result<Self, Error> {
        let Target::File(path) = self else {
            return Ok(self);
        };
        use std::io::ErrorKind::{NotADirectory, NotFound};
        let cannot =
            |e: std::io::Error| Error::local(format!("cannot write to {}", path.display()), e);
        match std::fs::metadata(&path) {
            Ok(m) if !m.is_file() && !m.is_dir() => {
                let mut options = tokio::fs::OpenOptions::new();
                options.write(true);
                tokio::select! {
                    file = options.open(&path) => Ok(Target::Writer(Box::new(file.map_err(cannot)?))),
                    () = cancel.cancelled() => Err(Error::cancelled("download")),
                }
            }
            Ok(m) if m.is_dir() => Err(Error::invalid(format!(
                "{} is a folder: a download goes to a file, so give the file's path",
                path.display()
            ))),
            Ok(_) if path.is_symlink() => {
                Ok(Target::File(std::fs::canonicalize(&path).map_err(cannot)?))
            }
            // Not there, or a file stands where a folder above it must.
            Err(e) if matches!(e.kind(), NotFound | NotADirectory) => {
                let folder = place::folder_of(&path);
                if !std::fs::metadata(folder).is_ok_and(|m| m.is_dir()) {
                    place::create_folders(folder)?;
                }
                Ok(Target::File(path))
            }
            _ => Ok(Target::File(path)),
        }
    }
}

/// Checks the settings before anything is sent.
pub(crate) fn check(settings: &DownloadSettings) -> Result<(), Error> {
    if settings.range_size < 64 * 1024 {
        return Err(Error::invalid("the range size must be at least 64 KiB"));
    }
    Ok(())
}

/// One download's state, shared by its range tasks.
pub(crate) struct Job<C> {
    ctx: Context<C>,
    /// The object (the download's target taken out).
    object: ObjectRef,
    settings: DownloadSettings,
    /// Bytes received over the network.
    fetched: AtomicU64,
    /// A whole-object GET already answered (in place of HeadObject), for the first range.
    opened: Mutex<Option<GetObjectOutput>>,
    /// The memory taken for that GET before it was sent: the first range's.
    opened_memory: Mutex<Option<MemoryPermit>>,
}

/// Which object, as every request names it.
struct ObjectRef {
    bucket: String,
    key: String,
    version_id: Option<String>,
    request: RequestOptions,
    listed: Option<Listed>,
}

/// The object as HeadObject described it, and the plan.
#[derive(Debug, Clone)]
pub(crate) struct Object {
    /// Bytes the download delivers: the object's size, or its range's.
    size: u64,
    etag: Arc<str>,
    version_id: Option<String>,
    check: Check,
    /// Part sizes, when the check needs them.
    parts: Option<Vec<u64>>,
    /// Whether `parts` was inferred (uniform parts) rather than listed.
    guessed: bool,
    /// The time a downloaded file gets (stored `mtime`, else Last-Modified).
    mtime: Option<std::time::SystemTime>,
    /// The permission bits a new file gets (stored `mode`).
    mode: Option<u32>,
}

impl<C: ObjectClient> Job<C> {
    fn new(ctx: Context<C>, object: ObjectRef, settings: DownloadSettings) -> Self {
        Self {
            ctx,
            object,
            settings,
            fetched: AtomicU64::new(0),
            opened: Mutex::new(None),
            opened_memory: Mutex::new(None),
        }
    }

    /// Announces the plan.
    fn planned(&self, object: &Object, ranges: usize, range_size: u64) {
        self.ctx.emit(Event::DownloadPlanned {
            size: object.size,
            ranges: ranges as u32,
            range_size,
            check: object.check.to_string(),
        });
        self.ctx.progress.set_total(object.size, ranges as u32);
    }

    fn name(&self) -> String {
        format!("s3://{}/{}", self.object.bucket, self.object.key)
    }

    /// Takes `bytes`, what is left to fetch, from the transfer allowance (see
    /// [`Context::allowed`]), before the first range is fetched.
    fn allowed(&self, bytes: u64) -> Result<(), Error> {
        self.ctx
            .allowed(bytes, &format!("the download of {}", self.name()))
    }

    /// A failed request as an engine error; a 412 on a request pinned to `etag` means the
    /// object changed.
    fn failed(&self, what: &str, f: Failure, etag: Option<&str>) -> Error {
        if self.ctx.cancel.is_cancelled() {
            return Error::cancelled("download");
        }
        let Failure::S3(e) = f else {
            return f.into_error(format!("{what} {}", self.name()), "download");
        };
        let status = e.status();
        match (status, etag) {
            (Some(412), Some(etag)) => Error::new(
                ErrorKind::Changed,
                format!(
                    "{} changed during the download (it is no longer ETag {etag}); run again to download the new version",
                    self.name()
                ),
            )
            .with_source(e),
            (Some(404), _) if e.code() != Some("NoSuchBucket") => {
                Error::missing(&self.name(), self.object.version_id.as_deref(), e)
            }
            _ => Error::from_s3(format!("{what} {}", self.name()), e),
        }
    }

    fn get(&self) -> GetObjectRequest {
        GetObjectRequest {
            bucket: self.object.bucket.clone(),
            key: self.object.key.clone(),
            version_id: self.object.version_id.clone(),
            request: self.object.request.clone(),
            ..Default::default()
        }
    }

    async fn head(&self, part_number: Option<u32>) -> Result<ObjectMeta, Error> {
        let req = GetObjectRequest {
            part_number,
            checksum_mode: part_number.is_none(),
            ..self.get()
        };
        self.ctx
            .head_object(&req)
            .await
            .map_err(|h| h.into_error(&self.name(), |f| self.failed("reading", f, None)))
    }

    /// Starts one GET of the whole object, pinned to the listed ETag, asking for its
    /// checksum: the object's description (a whole-object GET carries the checksum, as
    /// HeadObject does) and its bytes in one request. `None` when the object is no longer the
    /// one listed.
    /// The memory already taken for range `i`: the first range's, when its GET was sent
    /// before the download was planned.
    fn whole_memory(&self, i: usize) -> Option<MemoryPermit> {
        (i == 0)
            .then(|| self.opened_memory.lock().expect("opened lock").take())
            .flatten()
    }

    async fn get_whole(&self, listed: &Listed) -> Result<Option<GetObjectOutput>, Error> {
        let req = GetObjectRequest {
            checksum_mode: true,
            if_match: Some(listed.etag.clone()),
            ..self.get()
        };
        let req = &req;
        let got = self
            .ctx
            .request(None, |c| async move {
                match c.get_object(req).await {
                    Err(e) if e.status() == Some(412) => Ok(None),
                    other => other.map(Some),
                }
            })
            .await;
        match got {
            Ok(Some(out))
                if out.meta.content_range.is_none() && out.meta.content_length == listed.size =>
            {
                Ok(Some(out))
            }
            Ok(Some(out)) => {
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
            Ok(None) => {
                info!("{} changed since it was listed", self.name());
                Ok(None)
            }
            Err(f) => Err(self.failed("reading", f, None)),
        }
    }

    fn outcome(
        &self,
        object: &Object,
        path: Option<PathBuf>,
        ranges: usize,
        reused: u64,
        refetched: u32,
    ) -> DownloadOutcome {
        DownloadOutcome {
            bucket: self.object.bucket.clone(),
            key: self.object.key.clone(),
            path,
            data: None,
            size: object.size,
            etag: object.etag.to_string(),
            version_id: object.version_id.clone(),
            ranges: ranges as u32,
            fetched: self.fetched.load(std::sync::atomic::Ordering::Relaxed),
            reused,
            refetched,
            check: object.check.clone(),
            source_removed: false,
            pinned: self.object.version_id.is_some(),
            moved_from: None,
        }
    }
}

/// A range of the object `meta` describes, `len` bytes of it: checked by its size alone
/// (refused when `verify` requires a checksum).
fn part_of<C: ObjectClient>(
    job: &Job<C>,
    meta: &ObjectMeta,
    verify: VerifyMode,
    len: u64,
) -> Result<Object, Error> {
    let why = "a range of the object, which has no checksum of its own";
    if verify == VerifyMode::Require {
        return Err(Error::new(
            ErrorKind::Verification,
            format!(
                "{} cannot be verified ({why}); nothing was downloaded",
                job.name()
            ),
        ));
    }
    Ok(Object {
        size: len,
        etag: Arc::from(meta.etag.as_str()),
        version_id: meta.version_id.clone(),
        check: Check::SizeOnly(why.to_string()),
        parts: None,
        guessed: false,
        mtime: None,
        mode: None,
    })
}

/// The object as `meta` describes it, with the check `verify` asks for and the part sizes
/// that check needs (listed, or inferred).
async fn describe<C: ObjectClient>(
    job: &Job<C>,
    meta: &ObjectMeta,
    verify: VerifyMode,
) -> Result<Object, Error> {
    if meta.is_archived() {
        return Err(Error::archived(job.name()));
    }
    let unverifiable = |why: &str| {
        Error::new(
            ErrorKind::Verification,
            format!(
                "{} cannot be verified ({why}); nothing was downloaded (a size check alone can be accepted)",
                job.name()
            ),
        )
    };
    let chosen = check::choose_check(meta, verify);
    if verify == VerifyMode::Require
        && let Check::SizeOnly(why) = &chosen
    {
        return Err(unverifiable(why));
    }
    let size = meta.content_length;
    let (parts, guessed) = match chosen.parts() {
        Some(n) if size > 0 => match layout::part_sizes(job, size, n).await? {
            Some((p, g)) => (Some(p), g),
            None => (None, false),
        },
        _ => (None, false),
    };
    let chosen = match (&chosen, &parts) {
        (Check::Composite(_) | Check::MultipartEtag(_), None) => {
            let why = if size == 0 {
                "an empty object of empty parts".to_string()
            } else {
                format!(
                    "its {} needs the part boundaries, which the server does not give",
                    chosen.kind()
                )
            };
            if verify == VerifyMode::Require {
                return Err(unverifiable(&why));
            }
            Check::SizeOnly(why)
        }
        _ => chosen,
    };
    Ok(Object {
        size,
        etag: Arc::from(meta.etag.as_str()),
        version_id: meta.version_id.clone(),
        check: chosen,
        parts,
        guessed,
        mtime: crate::mtime::of_object(meta),
        mode: crate::mtime::mode_of_object(meta),
    })
}

/// Runs a download in `ctx`.
pub(crate) async fn run<C: ObjectClient>(
    ctx: Context<C>,
    download: Download,
) -> Result<DownloadOutcome, Error> {
    check(&download.settings)?;
    // The outcome names the path given, whatever it resolved to.
    let named = match &download.target {
        Target::File(p) => Some(p.clone()),
        _ => None,
    };
    let target = download.target.resolved(&ctx.cancel).await?;
    let Download {
        bucket,
        key,
        version_id,
        as_of,
        request,
        listed,
        range,
        target: _,
        settings,
    } = download;
    let version_id = match as_of {
        Some(_) if version_id.is_some() => {
            return Err(Error::invalid(format!(
                "s3://{bucket}/{key}: a download names its version by its id or by a time, not both"
            )));
        }
        Some(at) => {
            Some(crate::as_of::version_at(&ctx, &bucket, &key, &request, at, "download").await?)
        }
        None => version_id,
    };
    if range.is_some() && matches!(target, Target::File(_)) {
        return Err(Error::invalid(format!(
            "s3://{bucket}/{key}: a range of an object downloads to a writer or to memory, not to a file"
        )));
    }
    // A move deletes the object once the file holds it: kept, for the deletion.
    let moving = match settings.remove_source {
        false => None,
        true if !matches!(target, Target::File(_)) => {
            return Err(crate::moving::refuse("an object moves to a file only"));
        }
        true => {
            crate::moving::current_version(version_id.as_deref())?;
            Some((ctx.clone(), request.clone()))
        }
    };
    let shared = ctx.shared.clone();
    let object = ObjectRef {
        bucket,
        key,
        version_id,
        request,
        listed,
    };
    let job = Arc::new(Job::new(ctx, object, settings));
    let mut range_size = job.settings.range_size;
    if !matches!(target, Target::File(_)) {
        // Whole ranges are held in memory until their turn: one per connection fills the
        // budget, which holds back new ones while early arrivals wait. Half that (two per
        // connection) kept a 40 ms round trip to half the bytes in flight: 256 MiB to stdout
        // came in 0.91 s there, 0.67 s with this; 1 GiB on the loopback in 1.74 s, 1.52 s.
        let fits = (shared.memory.total() / u64::from(shared.parts_per_object.max(1))) / MIB * MIB;
        range_size = range_size.min(fits.max(MIB));
    }
    let whole = match job.object.listed.as_ref() {
        Some(l) if range.is_none() && layout::one_range(l, range_size) => {
            // The GET is the range's fetch: its memory is taken first, as the range's would
            // be, so a tree of small objects opens no more bodies than the budget holds.
            let memory = match target {
                Target::File(_) => fetch::range_memory(false, l.size),
                _ => l.size,
            };
            let held = shared.memory.take(memory).await;
            job.get_whole(l).await?.map(|out| (out, held))
        }
        _ => None,
    };
    let meta = match whole {
        Some((out, held)) => {
            let meta = out.meta.clone();
            *job.opened.lock().expect("opened lock") = Some(out);
            *job.opened_memory.lock().expect("opened lock") = Some(held);
            meta
        }
        None => job.head(None).await?,
    };
    let part = match range {
        Some(span) => span
            .within(&job.name(), meta.content_length)
            .map_err(Error::invalid)?,
        None => None,
    };
    // Memory holds the bytes whole: no more than the memory budget allows (checked before
    // any request about the object's parts).
    let most = shared.memory.total();
    let wanted = part.map_or(meta.content_length, |r| r.last - r.first + 1);
    if matches!(target, Target::Memory) && wanted > most {
        let (what, to) = match part {
            None => (
                format!("{} is {wanted} bytes", job.name()),
                "a file or a writer",
            ),
            Some(r) => (
                format!(
                    "bytes {}-{} of {} are {wanted}",
                    r.first,
                    r.last,
                    job.name()
                ),
                "a writer",
            ),
        };
        return Err(Error::invalid(format!(
            "{what}, more than the {most} bytes of the memory budget a download to memory may \
             hold; download to {to}"
        )));
    }
    let object = match part {
        None => describe(&job, &meta, job.settings.verify).await?,
        Some(_) => part_of(&job, &meta, job.settings.verify, wanted)?,
    };
    let size = object.size;
    // At most MAX_RANGES ranges: an object that would need more has larger ones, in whole
    // MiB. (Rounding every size up gave ranges of 1 MiB at least, whatever was asked.)
    let range_size = match size.div_ceil(range_size) > MAX_RANGES {
        true => size.div_ceil(MAX_RANGES).next_multiple_of(MIB),
        false => range_size,
    };
    let ranges = match part {
        None => layout::plan_ranges(size, range_size, object.parts.as_deref()),
        Some(r) => layout::ranges_within(r.first, r.last, range_size),
    };
    if !matches!(target, Target::File(_)) {
        job.allowed(size)?;
    }
    let object = Arc::new(object);
    let mut outcome = match target {
        Target::File(path) => to_file::to_file(job, object, ranges, range_size, &path).await?,
        Target::Writer(mut w) => {
            to_writer::to_writer(job, object, ranges, range_size, &mut *w).await?
        }
        Target::Memory => {
            let mut buf: Vec<u8> = Vec::with_capacity(size as usize);
            let mut o = to_writer::to_writer(job, object, ranges, range_size, &mut buf).await?;
            o.data = Some(buf.into());
            o
        }
    };
    if named.is_some() {
        outcome.path = named;
    }
    if let Some((ctx, request)) = moving {
        let moved = crate::moving::Moved {
            bucket: &outcome.bucket,
            key: &outcome.key,
            etag: &outcome.etag,
            request: &request,
        };
        let to = outcome.path.as_deref().map(Path::display);
        let to = to.map(|p| p.to_string()).unwrap_or_default();
        crate::moving::remove_object(&ctx, moved, &to).await?;
        outcome.source_removed = true;
    }
    Ok(outcome)
}
