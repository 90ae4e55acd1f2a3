//! Progress: counters a UI can poll at any rate, and a stream of discrete events (plan, parts,
//! retries, objects, the end) that a CLI turns into bars or JSON lines and a backup tool into
//! its own UI. A transfer's counters also count into its parent's (a tree's, the manager's),
//! so one snapshot covers everything in flight.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::outcome::{DownloadOutcome, UploadOutcome};

/// Counters, updated as the transfer runs.
#[derive(Debug, Default)]
pub struct Progress {
    total: AtomicU64,
    bytes: AtomicU64,
    parts_done: AtomicU32,
    parts_total: AtomicU32,
    retries: AtomicU32,
    in_flight: AtomicU32,
    objects: AtomicU64,
    objects_done: AtomicU64,
    reused: AtomicU64,
    finding: AtomicU32,
    /// Counts into this one too.
    parent: Option<Arc<Progress>>,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Snapshot {
    /// Bytes in the object (0 while a stream's size is unknown).
    pub total: u64,
    /// Bytes sent and acknowledged, or in flight in the current attempt.
    pub bytes: u64,
    /// Parts finished.
    pub parts_done: u32,
    /// Parts planned (0 while a stream's count is unknown).
    pub parts_total: u32,
    /// Retries so far.
    pub retries: u32,
    /// Parts in flight.
    pub in_flight: u32,
    /// Objects started: a tree's, a transfer of one object's own (1 once its turn comes), a
    /// manager's of all its transfers.
    pub objects: u64,
    /// Objects finished, well or not.
    pub objects_done: u64,
    /// Of `bytes`, those an earlier, interrupted run had moved (a resumed upload's parts on
    /// the server, a resumed download's ranges on disk): a rate is of `bytes - reused`.
    pub reused: u64,
    /// Trees still finding their objects (a walk or listing underway, or objects it found
    /// not started yet): while any is, `objects` and `total` still grow, so a share done or
    /// a time left computed from them would be wrong.
    pub finding: u32,
}

impl Progress {
    /// Counters that also count into `parent`.
    pub(crate) fn child_of(parent: &Arc<Progress>) -> Self {
        Self {
            parent: Some(parent.clone()),
            ..Self::default()
        }
    }

    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            total: self.total.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            parts_done: self.parts_done.load(Ordering::Relaxed),
            parts_total: self.parts_total.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            objects: self.objects.load(Ordering::Relaxed),
            objects_done: self.objects_done.load(Ordering::Relaxed),
            reused: self.reused.load(Ordering::Relaxed),
            finding: self.finding.load(Ordering::Relaxed),
        }
    }

    /// These counters, then each parent's up to the root.
    fn lineage(&self) -> impl Iterator<Item = &Progress> {
        std::iter::successors(Some(self), |p| p.parent.as_deref())
    }

    /// Sets the size and part count (counted into the parents as the difference).
    pub(crate) fn set_total(&self, total: u64, parts: u32) {
        let bytes = total as i64 - self.total.swap(total, Ordering::Relaxed) as i64;
        let parts = parts as i64 - self.parts_total.swap(parts, Ordering::Relaxed) as i64;
        for p in self.lineage().skip(1) {
            add_signed(&p.total, bytes);
            if parts >= 0 {
                p.parts_total.fetch_add(parts as u32, Ordering::Relaxed);
            } else {
                p.parts_total
                    .fetch_sub(parts.unsigned_abs() as u32, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn add_bytes(&self, n: u64) {
        self.lineage()
            .for_each(|p| _ = p.bytes.fetch_add(n, Ordering::Relaxed));
    }

    /// Counts `n` bytes an earlier run had moved as done.
    pub(crate) fn add_reused(&self, n: u64) {
        for p in self.lineage() {
            p.bytes.fetch_add(n, Ordering::Relaxed);
            p.reused.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub(crate) fn sub_bytes(&self, n: u64) {
        self.lineage()
            .for_each(|p| _ = p.bytes.fetch_sub(n, Ordering::Relaxed));
    }

    pub(crate) fn part_started(&self) {
        self.lineage()
            .for_each(|p| _ = p.in_flight.fetch_add(1, Ordering::Relaxed));
    }

    pub(crate) fn part_ended(&self, ok: bool) {
        for p in self.lineage() {
            p.in_flight.fetch_sub(1, Ordering::Relaxed);
            if ok {
                p.parts_done.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn retried(&self) {
        self.lineage()
            .for_each(|p| _ = p.retries.fetch_add(1, Ordering::Relaxed));
    }

    /// An object (a transfer) started.
    pub(crate) fn object_started(&self) {
        self.lineage()
            .for_each(|p| _ = p.objects.fetch_add(1, Ordering::Relaxed));
    }

    /// An object ended, well or not.
    pub(crate) fn object_ended(&self) {
        self.lineage()
            .for_each(|p| _ = p.objects_done.fetch_add(1, Ordering::Relaxed));
    }

    /// A tree starts finding its objects; counted until the guard drops (every object found
    /// has started, or the tree stopped).
    pub(crate) fn finding(self: &Arc<Self>) -> Finding {
        self.lineage()
            .for_each(|p| _ = p.finding.fetch_add(1, Ordering::Relaxed));
        Finding(self.clone())
    }
}

/// A tree finding its objects (see [`Progress::finding`]).
pub(crate) struct Finding(Arc<Progress>);

impl Drop for Finding {
    fn drop(&mut self) {
        self.0
            .lineage()
            .for_each(|p| _ = p.finding.fetch_sub(1, Ordering::Relaxed));
    }
}

fn add_signed(a: &AtomicU64, d: i64) {
    if d >= 0 {
        a.fetch_add(d as u64, Ordering::Relaxed);
    } else {
        a.fetch_sub(d.unsigned_abs(), Ordering::Relaxed);
    }
}

/// A discrete event of a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The plan: size (unknown for a stream), part size, parts (unknown for a stream).
    Planned {
        /// Object size, if known.
        size: Option<u64>,
        /// Part size (the first part's, for a stream).
        part_size: u64,
        /// Part count, if known.
        parts: Option<u32>,
        /// Whether it is a multipart upload.
        multipart: bool,
    },
    /// A journaled upload resumes.
    Resumed {
        /// The upload id.
        upload_id: String,
        /// Parts already on the server and intact in the file.
        parts_done: u32,
        /// Parts to send.
        parts_to_send: u32,
    },
    /// CreateMultipartUpload answered.
    UploadCreated {
        /// The upload id.
        upload_id: String,
    },
    /// A part started (or restarted after a retry).
    PartStarted {
        /// Part number.
        part: u32,
        /// Its size.
        size: u64,
    },
    /// A part was stored.
    PartFinished {
        /// Part number.
        part: u32,
        /// Its size.
        size: u64,
        /// Its ETag.
        etag: String,
    },
    /// A request failed and will be sent again.
    Retry {
        /// The part, or `None` for Create/Complete/PutObject.
        part: Option<u32>,
        /// The attempt that failed (1 = the first).
        attempt: u32,
        /// The wait before the next attempt.
        delay: Duration,
        /// Why.
        reason: String,
    },
    /// The server asked to slow down, or recovered: the new concurrency.
    Concurrency {
        /// Parts allowed in flight.
        limit: u32,
    },
    /// The upload finished.
    Finished(Box<UploadOutcome>),
    /// A download's plan: the object's size, its ranges, and the check it will end with.
    DownloadPlanned {
        /// Object size.
        size: u64,
        /// Ranges.
        ranges: u32,
        /// Bytes per range (the last, and those ending a part, may be shorter).
        range_size: u64,
        /// The check, e.g. `full-object CRC64NVME …`.
        check: String,
    },
    /// A download continues from its partial file.
    DownloadResumed {
        /// Ranges on disk that checked out.
        ranges_done: u32,
        /// Ranges to fetch.
        ranges_to_fetch: u32,
        /// Bytes kept.
        bytes_done: u64,
    },
    /// A partial download could not be continued (the object changed): it starts over.
    Restarted {
        /// Why.
        reason: String,
    },
    /// A range's GET started (or restarted after a retry). Ranges count from 0.
    RangeStarted {
        /// Range index.
        range: u32,
        /// First byte.
        first: u64,
        /// Bytes.
        len: u64,
    },
    /// A range is written.
    RangeFinished {
        /// Range index.
        range: u32,
        /// First byte.
        first: u64,
        /// Bytes.
        len: u64,
    },
    /// After a failed check, a range came back different when fetched again: it replaced the
    /// first copy.
    Refetched {
        /// Range index.
        range: u32,
        /// First byte.
        first: u64,
        /// Bytes.
        len: u64,
    },
    /// The download finished, verified.
    Downloaded(Box<DownloadOutcome>),
    /// The transfer failed.
    Failed {
        /// What went wrong.
        error: String,
    },
    /// An object of a tree was uploaded.
    ObjectUploaded {
        /// The local file (none for a copy).
        path: Option<PathBuf>,
        /// The outcome.
        outcome: Box<UploadOutcome>,
    },
    /// An object of a tree was downloaded.
    ObjectDownloaded(Box<DownloadOutcome>),
    /// An object of a tree was copied from another.
    ObjectCopied {
        /// The source, `s3://bucket/key` (its version, where the copy named one, is the
        /// outcome's `source_version_id`).
        from: String,
        /// The outcome.
        outcome: Box<UploadOutcome>,
    },
    /// A sync decided about a path: a skip (the same on both sides), or in a dry run a
    /// transfer that would be made; a tree's dry run (`cp -r --dry-run`) reports each of its
    /// objects so. (A transfer made reports its end as any tree's object does; deletions are
    /// [`Event::Removed`].)
    Synced {
        /// What.
        action: crate::outcome::SyncAction,
        /// The destination's key (the source's, for a skip or a download).
        key: String,
        /// What the action reads or removes: a file's path, or `s3://bucket/key`.
        from: String,
        /// Where a transfer writes, or what a skip compared with.
        to: Option<String>,
        /// Its size, as walked or listed.
        size: u64,
        /// The destination holds the path (a skip always; a transfer when it replaces what
        /// differs, rather than adding what is missing).
        in_destination: bool,
        /// Only reported, not done.
        dry_run: bool,
    },
    /// Objects a removal ([`Manager::remove`](crate::Manager::remove)) deleted, or files and
    /// objects a sync's deletions took away; in a dry run, those that would go. A
    /// DeleteObjects request's worth (up to 1,000) in one event, so that a watcher keeps up
    /// with thousands a second. Those refused are not here but in the outcome's failures.
    Removed {
        /// Each object or file.
        objects: Arc<[crate::outcome::Removal]>,
        /// Only reported, not done.
        dry_run: bool,
    },
    /// An object's lock was set (or, in a dry run, would be): its retention, its legal hold,
    /// or both, as the [`Lock`](crate::Lock) asked.
    Locked {
        /// `s3://bucket/key`.
        object: String,
        /// The version locked, when one was named (else the current one).
        version_id: Option<String>,
        /// Only reported, not done.
        dry_run: bool,
    },
    /// What a restore found an object to be, and did (or, in a dry run, would do).
    Restore {
        /// `s3://bucket/key`.
        object: String,
        /// The version, when one was named (else the current one).
        version_id: Option<String>,
        /// Its storage class, as listed or as HeadObject gave it.
        storage_class: String,
        /// What it found, and did.
        restoring: crate::outcome::Restoring,
        /// Only reported, not done.
        dry_run: bool,
    },
    /// A tree passed over an entry that is no object to transfer, and no failure: a link to
    /// nothing or back to a folder above it, a file that is not a regular one (a socket, a
    /// device, a pipe), a key ending in `/` that holds bytes. The others go on.
    PassedOver {
        /// Its path, or `s3://bucket/key`.
        what: String,
        /// Why it is passed over.
        why: String,
    },
    /// An object of a tree was left as it was: its destination exists, and the settings
    /// forbid replacing it (`no_clobber`); or, a prefix copied onto itself to another storage
    /// class, it is in that class already. Neither done nor failed.
    Existed {
        /// The local file; for a copy, its source's `s3://bucket/key` URL.
        path: PathBuf,
        /// The key, in the tree's bucket (a copy's destination key).
        key: String,
        /// What was found there.
        why: String,
    },
    /// An object of a tree was not started: its size is more than is left of the manager's
    /// transfer allowance ([`Manager::set_transfer_allowance`](crate::Manager)). The tree
    /// starts nothing more, and ends interrupted once its objects in flight are done.
    OverAllowance {
        /// The local file; for a copy, its source's `s3://bucket/key` URL.
        path: PathBuf,
        /// The key, in the tree's bucket (a copy's destination key).
        key: String,
        /// Its size, as walked or listed.
        size: u64,
        /// What was left of the allowance.
        left: u64,
    },
    /// An object of a tree failed; the others go on.
    ObjectFailed {
        /// The local file; for a copy, its source's `s3://bucket/key` URL.
        path: PathBuf,
        /// The key, in the tree's bucket (a copy's destination key).
        key: String,
        /// Its size, as walked or listed.
        size: u64,
        /// What went wrong.
        error: String,
        /// Whether it was kept to resume (a journaled upload, a partial download).
        kept: bool,
    },
}
