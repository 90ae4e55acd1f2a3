//! Checking a downloaded file: the check over the bytes in order, read back beside the
//! download as ranges land ([`Follower`]) or after; and when the file does not check out,
//! the part sizes listed one by one (if they were inferred) and ranges fetched again, pass
//! after pass, until it does.

use std::collections::BTreeSet;
use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::sync::Arc;

use ferry_s3::{ChecksumAlgorithm, ObjectClient};
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::check::RangeDigests;
use super::check::{Ordered, combined_value};
use super::fetch::{Fetched, WRITE_CHUNK, fetch_all};
use super::landing::Landing;
use super::layout::head_each_part;
use super::partial::RangeLine;
use super::{Job, Object};
use crate::checksum::{Digest, Hasher};
use crate::direct::Out;
use crate::error::{Error, ErrorKind};
use crate::outcome::Check;
use crate::progress::Event;
use crate::schedule::Sink;

/// Reads a range of `file` in chunks, passing each to `f`.
pub(super) fn read_range(
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
pub(super) fn crc64_of(file: &File, range: [u64; 2]) -> std::io::Result<Digest> {
    let mut h = Hasher::new(ChecksumAlgorithm::Crc64Nvme);
    read_range(file, range, |b| h.update(b))?;
    Ok(h.finish(range[1]))
}

/// Follows a file download: as ranges complete, reads the ones now in order back and feeds
/// them to the check, beside the download.
pub(super) struct Follower {
    tx: mpsc::UnboundedSender<usize>,
    pub(super) task: tokio::task::JoinHandle<std::io::Result<Option<String>>>,
}

impl Follower {
    pub(super) fn start(file: Arc<File>, ranges: Arc<Vec<[u64; 2]>>, mut ordered: Ordered) -> Self {
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

    pub(super) fn done(&self, i: usize) {
        let _ = self.tx.send(i);
    }

    pub(super) async fn finish(self) -> Result<Option<String>, Error> {
        drop(self.tx);
        read_back(self.task.await)
    }
}

/// Checks a file download; when it fails, lists the parts one by one (if they were
/// inferred) and then fetches ranges again until the object checks out. Returns the check
/// and the ranges fetched again.
pub(super) async fn verify_file<C: ObjectClient>(
    job: &Arc<Job<C>>,
    object: &Arc<Object>,
    ranges: &Arc<Vec<[u64; 2]>>,
    out: &Out,
    partial: &mut Landing,
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
        fetch_all(job, &object, ranges, todo, Some(out), &mut sink).await?;
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
    read_back(
        tokio::task::spawn_blocking(move || {
            read_ordered(&file, &ranges, &mut ordered).map(|()| ordered.finish())
        })
        .await,
    )
}

/// What a task that read the partial file back found.
fn read_back<T>(joined: Result<std::io::Result<T>, tokio::task::JoinError>) -> Result<T, Error> {
    joined
        .map_err(|e| Error::new(ErrorKind::Local, format!("the check task failed: {e}")))?
        .map_err(|e| Error::local("reading the partial file back", e))
}

/// Ranges fetched again after a failed check.
struct Refetch<'a, C> {
    job: &'a Arc<Job<C>>,
    ranges: &'a [[u64; 2]],
    partial: &'a mut Landing,
    digests: &'a mut Vec<Option<RangeDigests>>,
    /// Ranges fetched again, over all passes.
    refetched: u32,
    /// Per range: it came back different at least once.
    varied: Vec<bool>,
    /// Which pass this is (1: every range).
    pass: u32,
}

impl<C: ObjectClient> Sink<Fetched> for Refetch<'_, C> {
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
            self.job.ctx.emit(Event::Refetched {
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
