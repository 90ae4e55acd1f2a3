//! A download to a file: written at offsets into `LOCAL.ferry-partial` (its space reserved
//! up front), journaled range by range beside it, verified (`file_check`), then flushed and
//! renamed over LOCAL. An earlier run's partial file of the same object is continued: the
//! ranges its journal lists are re-read and kept when their CRC64NVME still matches. What can
//! resume (interrupted, a transient fault, a local error) is kept; anything else discarded.
//! A small object that comes in one range is fetched into memory, checked, and made a file
//! in one step ([`SMALL`]).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ferry_s3::{ChecksumAlgorithm, ObjectClient};
use tracing::{info, warn};

use super::check::RangeDigests;
use super::check::{Ordered, combined_value, needs_pass};
use super::fetch::{Fetched, WRITE_CHUNK, fetch_all};
use super::file_check::{self, Follower, crc64_of};
use super::landing::{Landing, Scratch};
use super::partial::{Header, PARTIAL_VERSION, Partial, RangeLine, journal_path, partial_path};
use super::place::{Placement, prepare};
use super::{Job, Object};
use crate::checksum::Digest;
use crate::direct::{DirectIo, Out, write_all_vectored_at};
use crate::durable::Folders;
use crate::error::{Error, ErrorKind};
use crate::outcome::DownloadOutcome;
use crate::progress::Event;
use crate::schedule::Sink;

pub(super) async fn to_file<C: ObjectClient>(
    job: Arc<Job<C>>,
    object: Arc<Object>,
    planned: Vec<[u64; 2]>,
    range_size: u64,
    path: &Path,
) -> Result<DownloadOutcome, Error> {
    if job.settings.no_clobber && path.exists() {
        return Err(Error::new(
            ErrorKind::Exists,
            format!("{} exists and replacing it was not allowed", path.display()),
        ));
    }
    let size = object.size;
    let journaled = journal_path(path).exists();
    if !journaled {
        // Nothing to resume: the whole size, before anything is made.
        job.allowed(size)?;
    }
    let fresh = planned.len() <= 1 && !journaled;
    if fresh && planned.len() == 1 && size <= SMALL {
        return small_file(job, object, planned[0], range_size, path).await;
    }
    let (mut landing, file, ranges, mut digests, reused) = if fresh {
        // One range: nothing to resume, no journal. Making a file can take a while (the
        // filesystem looks for a free inode): off the async workers, which a tree shares.
        let target = path.to_path_buf();
        let scratch = tokio::task::spawn_blocking(move || Scratch::create(&target, size))
            .await
            .map_err(|e| Error::new(ErrorKind::Local, format!("a file task failed: {e}")))??;
        let file = scratch.file.clone();
        let n = planned.len();
        (Landing::Scratch(scratch), file, planned, vec![None; n], 0)
    } else {
        let o = open_partial(&job, &object, planned, path).await?;
        (
            Landing::Partial(o.partial),
            o.file,
            o.ranges,
            o.digests,
            o.reused,
        )
    };
    if journaled && let Err(e) = job.allowed(size.saturating_sub(reused)) {
        // What is left to fetch does not fit: the partial file stays as it was.
        return Err(match landing.kept() {
            Some(kept) => e.kept_for_resume(kept),
            None => e,
        });
    }
    let ranges = Arc::new(ranges);
    job.planned(&object, ranges.len(), range_size);
    job.ctx.progress.add_reused(reused);
    if reused > 0 {
        job.ctx.emit(Event::DownloadResumed {
            ranges_done: digests.iter().filter(|d| d.is_some()).count() as u32,
            ranges_to_fetch: digests.iter().filter(|d| d.is_none()).count() as u32,
            bytes_done: reused,
        });
    }
    // A check that reads the bytes in order follows the file, reading back each range as it
    // lands; a whole object fetched in one range is checked as it arrives instead.
    let one_fetch = ranges.len() == 1 && digests[0].is_none();
    let follower = (needs_pass(&object.check) && !one_fetch).then(|| {
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
    // A scratch file holds one range: the page cache.
    let direct = match (&landing, &follower) {
        (Landing::Partial(_), None) => job.settings.direct_io,
        _ => DirectIo::Never,
    };
    let out = Out::open(&partial_path(path), file.clone(), size, direct);
    let todo: Vec<usize> = (0..ranges.len())
        .filter(|i| digests[*i].is_none())
        .collect();
    let mut sink = FileSink {
        landing: &mut landing,
        digests: &mut digests,
        follower: follower.as_ref(),
        out: &out,
        ranges: &ranges,
    };
    let fetched = fetch_all(&job, &object, &ranges, todo, Some(&out), &mut sink).await;
    let checked = match (fetched, follower) {
        (Ok(()), Some(f)) => f.finish().await,
        (Ok(()), None) => Ok(digests.first().and_then(|d| d.as_ref()?.whole.clone())),
        (Err(e), f) => {
            if let Some(f) = f {
                f.task.abort();
            }
            Err(e)
        }
    };
    let landed = Landed {
        landing,
        out,
        ranges,
        digests,
        reused,
    };
    settle(job, &object, path, landed, checked).await
}

/// The largest object fetched into memory, checked, and then made a file in one step
/// (created, written, given its time and mode) when it comes in one range: a small file's
/// hops to and from blocking threads cost more than its bytes do. The range holds this much
/// memory anyway. The thread that flushes the files the manager's downloads wrote meanwhile
/// makes it, flushes it with them, and names it after that flush
/// ([`Together`](crate::durable::Together)): a tree's 2,000 x 64 KiB came down 1.09-1.12x as
/// fast at 0.87-0.88x the CPU as with a flush of each file's own, and 1.04x as fast again at
/// 0.87x the CPU once the flushing thread also wrote them.
const SMALL: u64 = WRITE_CHUNK as u64;

/// A small object in one range to a file (see [`SMALL`]). If it does not check out, its
/// bytes go to an unnamed file as any one-range download's do, and on to the file's check,
/// which fetches it again.
async fn small_file<C: ObjectClient>(
    job: Arc<Job<C>>,
    object: Arc<Object>,
    range: [u64; 2],
    range_size: u64,
    path: &Path,
) -> Result<DownloadOutcome, Error> {
    job.planned(&object, 1, range_size);
    let ranges = Arc::new(vec![range]);
    let mut kept = Kept(None);
    fetch_all(&job, &object, &ranges, vec![0], None, &mut kept).await?;
    let Some(Fetched {
        digests: fetched,
        data: Some((data, memory)),
        ..
    }) = kept.0
    else {
        return Err(Error::cancelled("download"));
    };
    let ordered = fetched.whole.clone();
    let digests = vec![Some(fetched)];
    let value = ordered
        .clone()
        .or_else(|| combined_value(&object, &ranges, &digests));
    let checks_out = object
        .check
        .expected()
        .is_none_or(|e| value.as_deref() == Some(e));
    let (size, name) = (object.size, job.name());
    // Its space is not reserved first: its one write reserves it (or fails ENOSPC).
    let write = move |target: &Path| -> Result<Scratch, Error> {
        let scratch = Scratch::create(target, 0)?;
        if let Err(e) = write_all_vectored_at(&scratch.file, &data, 0) {
            scratch.discard();
            return Err(match e.kind() {
                std::io::ErrorKind::StorageFull => Error::no_space(target, size),
                _ => Error::local(format!("writing the download of {name}"), e),
            });
        }
        Ok(scratch)
    };
    if checks_out {
        job.ctx.requests_over();
        // Written, flushed and named with the files of its group, by the thread that
        // flushes them.
        let to = Place::of(&job, &object, path);
        job.ctx
            .shared
            .together
            .write_flush_then_name(
                move || {
                    let scratch = write(&to.target)?;
                    // The bytes are in the file: their memory is free.
                    drop(memory);
                    match prepare(&scratch.file, &to.target, &to.placement()) {
                        Ok(existing) => Ok((scratch.file.clone(), (scratch, existing, to))),
                        Err(e) => {
                            scratch.discard();
                            Err(e)
                        }
                    }
                },
                |flushed, (scratch, existing, to), group| match flushed {
                    true => scratch.name(&to.placement_in(group), existing),
                    false => {
                        scratch.discard();
                        Ok(())
                    }
                },
            )
            .await?;
        return Ok(job.outcome(&object, Some(path.to_path_buf()), 1, 0, 0));
    }
    let scratch = on_blocking_thread(&job, &object, path, move |to| write(to.target)).await?;
    drop(memory);
    let out = Out::open(
        &partial_path(path),
        scratch.file.clone(),
        size,
        DirectIo::Never,
    );
    let landed = Landed {
        landing: Landing::Scratch(scratch),
        out,
        ranges,
        digests,
        reused: 0,
    };
    settle(job, &object, path, landed, Ok(ordered)).await
}

/// The one range of a small file, kept in memory.
struct Kept(Option<Fetched>);

impl Sink<Fetched> for Kept {
    async fn accept(&mut self, f: Fetched) -> Result<(), Error> {
        self.0 = Some(f);
        Ok(())
    }
}

/// A file download's bytes on disk, waiting for their check.
struct Landed {
    landing: Landing,
    out: Out,
    ranges: Arc<Vec<[u64; 2]>>,
    digests: Vec<Option<RangeDigests>>,
    /// Bytes an earlier run left on disk that were kept.
    reused: u64,
}

/// Checks the fetched file (`checked`: the fetch's result, the value of a check read in
/// order if one was), fetching ranges again when it does not check out, and places it. On
/// failure, keeps what can resume (interrupted, a transient fault, a local error); what is
/// wrong or of another version goes.
async fn settle<C: ObjectClient>(
    job: Arc<Job<C>>,
    object: &Arc<Object>,
    path: &Path,
    landed: Landed,
    checked: Result<Option<String>, Error>,
) -> Result<DownloadOutcome, Error> {
    let Landed {
        mut landing,
        out,
        ranges,
        mut digests,
        reused,
    } = landed;
    let result = match checked {
        Ok(ordered) => {
            file_check::verify_file(
                &job,
                object,
                &ranges,
                &out,
                &mut landing,
                &mut digests,
                ordered,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok((check, refetched)) => {
            job.ctx.requests_over();
            on_blocking_thread(&job, object, path, move |to| landing.finish(to)).await?;
            let mut o = job.outcome(
                object,
                Some(path.to_path_buf()),
                ranges.len(),
                reused,
                refetched,
            );
            o.check = check;
            Ok(o)
        }
        Err(e) => match landing.kept() {
            Some(kept) if job.settings.resume && e.is_transient() => Err(e.kept_for_resume(kept)),
            _ => {
                landing.discard();
                Err(e)
            }
        },
    }
}

/// Runs `land`, which makes the verified file the download's target, on a blocking thread:
/// its fsyncs and rename block, and the async workers are shared (by a tree's downloads).
async fn on_blocking_thread<C: ObjectClient, T: Send + 'static>(
    job: &Job<C>,
    object: &Object,
    path: &Path,
    land: impl FnOnce(&Placement<'_>) -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let to = Place::of(job, object, path);
    tokio::task::spawn_blocking(move || land(&to.placement()))
        .await
        .map_err(|e| Error::new(ErrorKind::Local, format!("the rename task failed: {e}")))?
}

/// Where a download's verified file goes, owned (see [`Placement`]).
struct Place {
    target: std::path::PathBuf,
    no_clobber: bool,
    /// A tree's folders, flushed at its end.
    folders: Option<Arc<Folders>>,
    mtime: Option<std::time::SystemTime>,
    mode: Option<u32>,
}

impl Place {
    fn of<C>(job: &Job<C>, object: &Object, path: &Path) -> Self {
        Self {
            target: path.to_path_buf(),
            no_clobber: job.settings.no_clobber,
            folders: job.ctx.folders.clone(),
            mtime: object.mtime,
            mode: object.mode,
        }
    }

    fn placement(&self) -> Placement<'_> {
        Placement {
            target: &self.target,
            no_clobber: self.no_clobber,
            folders: self.folders.as_deref(),
            mtime: self.mtime,
            mode: self.mode,
        }
    }

    /// The placement of a file of a flushed `group`: its folder flushed with the group's,
    /// or with its tree's.
    fn placement_in<'a>(&'a self, group: &'a Folders) -> Placement<'a> {
        Placement {
            folders: Some(self.folders.as_deref().unwrap_or(group)),
            ..self.placement()
        }
    }
}

/// A partial file opened: the ranges it is cut into, those already on disk (their digests),
/// and their bytes.
struct Opened {
    partial: Partial,
    file: Arc<File>,
    ranges: Vec<[u64; 2]>,
    digests: Vec<Option<RangeDigests>>,
    reused: u64,
}

/// What an earlier run left for the same object and plan: the partial file continued (its
/// ranges that still check out kept), or started afresh.
async fn open_partial<C: ObjectClient>(
    job: &Arc<Job<C>>,
    object: &Object,
    planned: Vec<[u64; 2]>,
    path: &Path,
) -> Result<Opened, Error> {
    let (mut partial, previous) = Partial::open(path)?;
    let header = Header {
        v: PARTIAL_VERSION,
        endpoint: job.ctx.shared.endpoint.clone(),
        bucket: job.object.bucket.clone(),
        key: job.object.key.clone(),
        version_id: job.object.version_id.clone(),
        etag: object.etag.to_string(),
        size: object.size,
        check: object.check.to_string(),
        ranges: planned,
    };
    let mut digests: Vec<Option<RangeDigests>> = vec![None; header.ranges.len()];
    let mut reused = 0u64;
    let opened = async {
        Ok(
            match previous.filter(|_| job.settings.resume && !job.settings.restart) {
                Some((old, lines)) if same_download(&old, &header) => {
                    // The partial file's ranges go on, as many as they are: a run with
                    // another range size plans others.
                    digests = vec![None; old.ranges.len()];
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
                    job.ctx.emit(Event::Restarted { reason });
                    (partial.start(&header)?, header.ranges.clone())
                }
                None => (partial.start(&header)?, header.ranges.clone()),
            },
        )
    }
    .await;
    match opened {
        Ok((file, ranges)) => Ok(Opened {
            partial,
            file,
            ranges,
            digests,
            reused,
        }),
        Err(e) => {
            partial.discard();
            Err(e)
        }
    }
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
                        whole: None,
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
    landing: &'a mut Landing,
    digests: &'a mut Vec<Option<RangeDigests>>,
    follower: Option<&'a Follower>,
    /// The partial file and the ranges' bounds, to start each range's writeback.
    out: &'a Out,
    ranges: &'a [[u64; 2]],
}

impl Sink<Fetched> for FileSink<'_> {
    async fn accept(&mut self, f: Fetched) -> Result<(), Error> {
        self.landing.record(&RangeLine {
            i: f.i as u32,
            crc64: f.digests.crc64.base64(),
            digest: f.digests.digest.as_ref().map(Digest::base64),
        })?;
        self.digests[f.i] = Some(f.digests);
        if let Some(fl) = self.follower {
            fl.done(f.i);
        } else if !self.out.is_direct() && self.ranges.len() > 1 {
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
