//! Uploads: a file (or a range of one), bytes in memory, or a stream, to one object. A source
//! of known size is planned (one PutObject below the threshold, else a multipart upload); a
//! file's upload is journaled when the manager keeps journals and resumes from one; a file is
//! checked not to have changed before its object is completed.
//!
//! The bytes: `body` (a part as a request body), `send` (UploadPart, PutObject), `stream`
//! (a source read once, in order).

mod body;
mod send;
mod spill;
mod stream;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use ferry_s3::{ObjectClient, ObjectOptions, PartInfo};
use futures_util::future::BoxFuture;
use tokio::io::AsyncRead;

use crate::checksum::ChecksumMode;
use crate::context::Context;
use crate::direct::DirectSource;
use crate::error::{Error, ErrorKind};
use crate::job::{Job, UploadSettings};
use crate::journal::{PartRecord, SourceIdentity};
use crate::multipart::{Done, NewJournal, Part, PartSource, Start, start_or_resume};
use crate::outcome::UploadOutcome;
use crate::plan::{Plan, plan};

pub use body::CHUNK_SIZE;
pub(crate) use spill::{Spill, spill_error};

/// An upload: what, where, what the new object carries, and how.
#[derive(Debug)]
pub struct Upload {
    /// Where the bytes come from.
    pub source: Source,
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// What the new object carries (content headers, metadata, tags, ACL, encryption, …).
    pub options: ObjectOptions,
    /// How to upload.
    pub settings: UploadSettings,
}

impl Upload {
    /// An upload of `source` to `bucket`/`key`, with default options and settings.
    pub fn new(source: Source, bucket: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            source,
            bucket: bucket.into(),
            key: key.into(),
            options: ObjectOptions::default(),
            settings: UploadSettings::default(),
        }
    }

    /// With these object options.
    pub fn options(mut self, options: ObjectOptions) -> Self {
        self.options = options;
        self
    }

    /// With these settings.
    pub fn settings(mut self, settings: UploadSettings) -> Self {
        self.settings = settings;
        self
    }
}

/// Where an upload's bytes come from.
pub enum Source {
    /// A local file, read with positional reads (never whole in memory); journaled and
    /// resumable when the manager keeps journals. A path that is neither a file nor a folder
    /// (a named pipe, `/dev/fd/N` of a shell's `<(command)`, a device), or a file of the
    /// kernel's (`/proc`, `/sys`: its size says 0 or 4096, whatever it holds), is read once,
    /// as a [`Source::Reader`] of unknown size is: it has no size to plan by.
    File(PathBuf),
    /// `len` bytes of a local file from `offset`, as one object (journaled as a file is).
    FileRange {
        /// The file.
        path: PathBuf,
        /// First byte.
        offset: u64,
        /// Bytes.
        len: u64,
    },
    /// A stream, read once (stdin, a pipe, a download): each part is kept until acknowledged,
    /// so it cannot resume. With `size`, its parts are uniform and its size is checked: a
    /// stream that ends short fails when it ends, one that goes on at its first byte past
    /// `size` (read no further), and nothing is stored.
    Reader {
        /// The stream.
        reader: Box<dyn AsyncRead + Send + Unpin>,
        /// Its exact size, if known.
        size: Option<u64>,
    },
    /// Bytes in memory: below the multipart threshold, one PutObject.
    Bytes(Bytes),
}

impl Source {
    /// Whether [`Source::File`] reads `path` as a stream: it is there and is neither a
    /// regular file nor a folder (a pipe, a device, a socket), or it is a file of the
    /// kernel's, whose size is not what it holds (see [`Source::File`]).
    pub fn is_stream_path(path: &Path) -> bool {
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() => on_pseudo_filesystem(path),
            Ok(m) => !m.is_dir(),
            Err(_) => false,
        }
    }
}

/// Whether `path` is on one of the kernel's filesystems whose files are made as they are read
/// (procfs, sysfs, cgroup, debugfs, tracefs, securityfs, configfs): `/proc/cpuinfo` says it
/// has 0 bytes, `/sys/…/enabled` 4096, whatever they hold.
fn on_pseudo_filesystem(path: &Path) -> bool {
    // Source: statfs(2), the filesystems' magic numbers (linux/magic.h).
    const MAGIC: [u64; 8] = [
        0x9fa0,      // PROC_SUPER_MAGIC
        0x6265_6572, // SYSFS_MAGIC
        0x0027_e0eb, // CGROUP_SUPER_MAGIC
        0x6367_7270, // CGROUP2_SUPER_MAGIC
        0x6462_6720, // DEBUGFS_MAGIC
        0x7472_6163, // TRACEFS_MAGIC
        0x7363_6673, // SECURITYFS_MAGIC
        0x6265_6570, // CONFIGFS_MAGIC
    ];
    rustix::fs::statfs(path).is_ok_and(|s| MAGIC.contains(&(s.f_type as u64)))
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File(p) => write!(f, "Source::File({})", p.display()),
            Source::FileRange { path, offset, len } => {
                write!(f, "Source::FileRange({}, {offset}+{len})", path.display())
            }
            Source::Reader { size, .. } => write!(f, "Source::Reader(size {size:?})"),
            Source::Bytes(b) => write!(f, "Source::Bytes({} bytes)", b.len()),
        }
    }
}

/// Runs an upload in `ctx`.
pub(crate) async fn run<C: ObjectClient>(
    ctx: Context<C>,
    upload: Upload,
) -> Result<UploadOutcome, Error> {
    run_as(ctx, upload, "upload").await
}

/// Runs an upload in `ctx`, named `noun` in messages (a copy streamed through ferry is one).
pub(crate) async fn run_as<C: ObjectClient>(
    ctx: Context<C>,
    upload: Upload,
    noun: &'static str,
) -> Result<UploadOutcome, Error> {
    crate::job::check(&upload.settings, &upload.options)?;
    let (bucket, key, mut options) = (upload.bucket, upload.key, upload.options);
    let settings = upload.settings;
    let cancel = ctx.cancel.clone();
    if settings.remove_source {
        match &upload.source {
            Source::File(path) if !Source::is_stream_path(path) => {}
            Source::File(_) | Source::Reader { .. } => {
                return Err(crate::moving::refuse("a stream cannot be deleted"));
            }
            Source::FileRange { .. } => {
                return Err(crate::moving::refuse("give the whole file, not part of it"));
            }
            Source::Bytes(_) => return Err(crate::moving::refuse("bytes in memory have none")),
        }
    }
    let job = |options| Arc::new(Job::new(ctx, bucket, key, options, settings, noun));
    match upload.source {
        Source::File(path) if Source::is_stream_path(&path) => {
            // Opening a named pipe waits for its writer: a cancel must not wait with it.
            let file = tokio::select! {
                opened = tokio::fs::File::open(&path) => opened.map_err(|e| {
                    Error::unreadable("open", &path, e)
                })?,
                () = cancel.cancelled() => return Err(Error::cancelled(noun)),
            };
            stream::run_stream(job(options), Box::new(file), None).await
        }
        Source::File(path) => {
            let opened = open_source(&path)?;
            crate::mtime::stamp(&mut options, &opened.1);
            run_file(job(options), path, opened, None).await
        }
        Source::FileRange { path, offset, len } => {
            let opened = open_source(&path)?;
            run_file(job(options), path, opened, Some((offset, len))).await
        }
        Source::Reader { reader, size } => stream::run_stream(job(options), reader, size).await,
        Source::Bytes(bytes) => {
            let size = bytes.len() as u64;
            let parts = Arc::new(LocalParts::Memory(bytes));
            run_planned(job(options), size, parts, None).await
        }
    }
}

/// A source file, opened, and what it is; a folder is refused.
fn open_source(path: &Path) -> Result<(File, std::fs::Metadata), Error> {
    let cannot = |what: &str, e: std::io::Error| Error::unreadable(what, path, e);
    let file = File::open(path).map_err(|e| cannot("open", e))?;
    let meta = file.metadata().map_err(|e| cannot("read", e))?;
    if meta.is_dir() {
        return Err(Error::invalid(format!(
            "source {} is a folder; give a file",
            path.display()
        )));
    }
    if !meta.is_file() {
        return Err(Error::invalid(format!(
            "source {} is not a regular file (a pipe or a device): it can only be read whole, as a stream",
            path.display()
        )));
    }
    Ok((file, meta))
}

/// A file, or `range` of it, opened; for a move, the file is deleted once its object is
/// written, if it is still as it was read.
async fn run_file<C: ObjectClient>(
    job: Arc<Job<C>>,
    path: PathBuf,
    opened: (File, std::fs::Metadata),
    range: Option<(u64, u64)>,
) -> Result<UploadOutcome, Error> {
    let outcome = write_file(job.clone(), path.clone(), opened, range).await?;
    if !job.settings.remove_source {
        return Ok(outcome);
    }
    let change = job.source_change().map(|(_, change)| change);
    crate::moving::remove_file(&path, &job.url(), change).await?;
    Ok(UploadOutcome {
        source_removed: true,
        ..outcome
    })
}

/// Writes a file, or `range` of it, opened.
async fn write_file<C: ObjectClient>(
    job: Arc<Job<C>>,
    path: PathBuf,
    (file, meta): (File, std::fs::Metadata),
    range: Option<(u64, u64)>,
) -> Result<UploadOutcome, Error> {
    let cannot = |what: &str, e: std::io::Error| Error::unreadable(what, &path, e);
    // The identity every later look is compared with: taken before the first byte is read,
    // and of the very file opened.
    let mut identity = SourceIdentity::of(&path).map_err(|e| cannot("read", e))?;
    {
        use std::os::unix::fs::MetadataExt as _;
        if (identity.inode, identity.device, identity.size) != (meta.ino(), meta.dev(), meta.len())
        {
            return Err(Error::new(
                ErrorKind::SourceChanged,
                format!(
                    "{} changed while it was being opened; try again once it is stable",
                    path.display()
                ),
            ));
        }
    }
    let (base, size) = match range {
        Some((offset, len)) => {
            if offset.checked_add(len).is_none_or(|end| end > meta.len()) {
                return Err(Error::invalid(format!(
                    "bytes {offset}..{} are not all in {} ({} bytes)",
                    offset.saturating_add(len),
                    path.display(),
                    meta.len()
                )));
            }
            identity = identity.with_range(offset, len);
            (offset, len)
        }
        None => (0, meta.len()),
    };
    let _ = job.watched.set((path.clone(), identity.clone()));
    let direct = DirectSource::open(&path, &file, size, job.settings.direct_io, CHUNK_SIZE);
    let parts = Arc::new(LocalParts::File {
        file: Arc::new(file),
        direct: direct.map(Arc::new),
        base,
    });
    // A file sent in one PutObject needs no journal (nothing to resume), unless an earlier
    // upload of it left one (a multipart one, when the file was larger): that one decides.
    let single = matches!(plan(size, &job.settings.plan), Ok(Plan::Single { .. }));
    if job.ctx.shared.journal.is_none()
        || (single && !crate::multipart::has_journal(&job, &identity)?)
    {
        return run_planned(job, size, parts, None).await;
    }
    let source: Arc<dyn PartSource<C>> = parts.clone();
    match start_or_resume(&job, identity, &source).await? {
        Start::Resumed(outcome) => Ok(outcome),
        Start::Fresh(journal) => run_planned(job, size, parts, Some(journal)).await,
    }
}

/// Plans `size` bytes of `parts`: one PutObject below the threshold (a journal is not needed
/// then, and removed), else a multipart upload.
async fn run_planned<C: ObjectClient>(
    job: Arc<Job<C>>,
    size: u64,
    parts: Arc<LocalParts>,
    journal: Option<NewJournal>,
) -> Result<UploadOutcome, Error> {
    let plan = plan(size, &job.settings.plan).map_err(|e| Error::invalid(e.to_string()))?;
    match plan {
        Plan::Single { size } => {
            job.planned_single(size);
            job.allowed(size)?;
            if let Some(j) = journal {
                let _ = j.handle.remove();
            }
            // The body's chunks in flight, as a part's: a tree of small files runs many of
            // these at once, within the memory budget like everything else.
            let memory = PartSource::<C>::memory(&*parts, size);
            let _held = job.ctx.shared.memory.take(memory).await;
            send::put_single(&job, parts.data(0, size)).await
        }
        Plan::Multipart { .. } => crate::multipart::run(job, plan, parts, journal).await,
    }
}

/// A part's bytes fetched from elsewhere (a copy's source) before they are sent: in memory,
/// or spilled to a temporary file (a part larger than the memory budget).
pub(crate) enum FetchedPart {
    /// In memory.
    Memory(Bytes),
    /// In a temporary file.
    Spilled(Spill),
}

/// Sends part `number` of `upload_id` from `data` (see [`send::send_part`]).
pub(crate) async fn send_fetched_part<C: ObjectClient>(
    job: Arc<Job<C>>,
    upload_id: Arc<str>,
    number: u32,
    data: FetchedPart,
) -> Result<crate::multipart::Done, Error> {
    let data = match data {
        FetchedPart::Memory(b) => body::PartData::Memory(b),
        FetchedPart::Spilled(spill) => spill.into_data(),
    };
    send::send_part(job, upload_id, number, data).await
}

/// Memory a part of `len` bytes read from a file holds while it is sent: a few chunks.
pub(crate) fn file_part_memory(len: u64) -> u64 {
    len.min(CHUNK_SIZE as u64) * body::CHUNKS_IN_FLIGHT
}

/// The whole of an open file as a source of parts (read through the page cache).
pub(crate) fn file_parts<C: ObjectClient>(file: File) -> Arc<dyn PartSource<C>> {
    Arc::new(LocalParts::File {
        file: Arc::new(file),
        direct: None,
        base: 0,
    })
}

/// Local bytes as a source of parts: a file (from `base`), or a buffer.
enum LocalParts {
    File {
        file: Arc<File>,
        /// The same file for direct reads, when it is read direct.
        direct: Option<Arc<DirectSource>>,
        /// Where the uploaded bytes start in the file.
        base: u64,
    },
    Memory(Bytes),
}

impl LocalParts {
    /// Bytes `offset..offset + len` of the source.
    fn data(&self, offset: u64, len: u64) -> body::PartData {
        match self {
            LocalParts::File { file, direct, base } => body::PartData::File {
                file: file.clone(),
                direct: direct.clone(),
                offset: base + offset,
                len,
            },
            LocalParts::Memory(b) => {
                body::PartData::Memory(b.slice(offset as usize..(offset + len) as usize))
            }
        }
    }
}

impl<C: ObjectClient> PartSource<C> for LocalParts {
    fn memory(&self, len: u64) -> u64 {
        match self {
            // A few chunks of it at a time.
            LocalParts::File { .. } => file_part_memory(len),
            // Already in memory.
            LocalParts::Memory(_) => 0,
        }
    }

    fn send(&self, job: &Arc<Job<C>>, part: Part) -> BoxFuture<'static, Result<Done, Error>> {
        let data = self.data(part.offset, part.len);
        Box::pin(send::send_part(
            job.clone(),
            part.upload_id,
            part.number,
            data,
        ))
    }

    fn intact(
        &self,
        record: &PartRecord,
        (offset, len): (u64, u64),
    ) -> BoxFuture<'static, Result<bool, Error>> {
        let data = self.data(offset, len);
        let (size, crc) = (record.size, record.crc64nvme.clone());
        Box::pin(async move {
            let digest = tokio::task::spawn_blocking(move || body::recheck_digest(&data))
                .await
                .map_err(|e| Error::new(ErrorKind::Local, e.to_string()))?
                .map_err(|e| Error::local("re-reading the source", e))?;
            Ok(size == len && digest.base64() == crc)
        })
    }

    fn adopt(
        &self,
        mode: ChecksumMode,
        listed: &PartInfo,
        (offset, len): (u64, u64),
    ) -> BoxFuture<'static, Result<Option<PartRecord>, Error>> {
        let (data, listed) = (self.data(offset, len), listed.clone());
        Box::pin(async move {
            if listed.size != len {
                return Ok(None);
            }
            tokio::task::spawn_blocking(move || body::held_by(&data, mode, &listed))
                .await
                .map_err(|e| Error::new(ErrorKind::Local, e.to_string()))?
                .map_err(|e| Error::local("re-reading the source", e))
        })
    }
}
