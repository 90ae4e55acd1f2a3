//! Progress: counters a UI can poll at any rate, and a stream of discrete events (plan, parts,
//! retries, the end) that a CLI turns into bars or JSON lines and a backup tool into its own UI.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use ferry_s3::{ChecksumType, ChecksumValue};

/// Counters, updated as the transfer runs.
#[derive(Debug, Default)]
pub struct Progress {
    total: AtomicU64,
    bytes: AtomicU64,
    parts_done: AtomicU32,
    parts_total: AtomicU32,
    retries: AtomicU32,
    in_flight: AtomicU32,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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
}

impl Progress {
    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            total: self.total.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            parts_done: self.parts_done.load(Ordering::Relaxed),
            parts_total: self.parts_total.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn set_total(&self, total: u64, parts: u32) {
        self.total.store(total, Ordering::Relaxed);
        self.parts_total.store(parts, Ordering::Relaxed);
    }

    pub(crate) fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn sub_bytes(&self, n: u64) {
        self.bytes.fetch_sub(n, Ordering::Relaxed);
    }

    pub(crate) fn part_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn part_ended(&self, ok: bool) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        if ok {
            self.parts_done.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn retried(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }
}

/// How the finished object was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// The server computed the object's checksum on Complete (or PutObject) and HeadObject
    /// gave back the value ferry computed locally, and the size.
    Checksum(ChecksumValue),
    /// The server keeps no checksum ferry could compare: the size matched, and each part was
    /// checked by the server on arrival (trailer checksum or Content-MD5).
    PartsAndSize,
    /// Only the size matched (`--checksum none`).
    SizeOnly,
}

/// What a finished upload produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadOutcome {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// The object's size.
    pub size: u64,
    /// Its ETag.
    pub etag: String,
    /// Its version id, in a versioned bucket.
    pub version_id: Option<String>,
    /// Its checksum as ferry computed it (and the server confirmed, see `verification`).
    pub checksum: Option<ChecksumValue>,
    /// The checksum's type (absent for a single PutObject).
    pub checksum_type: Option<ChecksumType>,
    /// Parts sent (1 for a single PutObject).
    pub parts: u32,
    /// How the object was checked.
    pub verification: Verification,
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
    Finished(UploadOutcome),
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
    Downloaded(crate::download::DownloadOutcome),
    /// The upload failed.
    Failed {
        /// What went wrong.
        error: String,
    },
}
