//! ferry-engine: the transfer engine that backup tools embed. Generic over
//! [`ferry_s3::ObjectClient`]; owns part planning, scheduling, budgets, retries, checksums,
//! journals and resume. It prints nothing: progress reaches callers as events and counters.
//!
//! One [`Manager`] per process owns the client and the budgets every transfer shares
//! (requests in flight, bytes in memory, bytes per second). Every transfer is submitted to it
//! and returns a [`Handle`] to wait on, watch, cancel or drain:
//!
//! ```no_run
//! # async fn example(client: ferry_s3::S3Client) -> Result<(), ferry_engine::Error> {
//! use std::sync::Arc;
//! use ferry_engine::{Manager, ManagerConfig, Source, Upload};
//! let manager = Manager::new(Arc::new(client), ManagerConfig::default())?;
//! let handle = manager.upload(Upload::new(Source::File("big.iso".into()), "bucket", "big.iso"));
//! let outcome = handle.wait().await?;
//! println!("{} bytes, ETag {}", outcome.size, outcome.etag);
//! # Ok(()) }
//! ```
//!
//! The core every transfer shares: `context` (the shared client, policy and budgets, and the
//! one retry loop), `budget` (memory, requests, bandwidth as owned permits), `schedule` (the
//! one worker pool). Its clients: `upload` (files, ranges, streams, bytes), `copy` (on the
//! server) and `crosscopy` (between servers), both writing through `multipart`; `download`
//! (to a file, a writer, memory), whose small files are flushed together (`durable`); `tree`
//! (folders and prefixes, sync, and removing objects: one, a prefix's, every version, or those
//! a stream names, [`Manager::remove_objects`]; and object locks set afterwards,
//! [`Manager::lock`]; and archived objects restored, [`Manager::restore`], each through the
//! one pool a prefix's objects share, `tree::each`); `moving` (a move's deletion of each
//! source once its destination holds it); `uploads` (the multipart uploads in progress, and
//! aborting them). Requests of the caller's own (a listing page by page, one object's
//! description, any other) go through the same retry loop and budget: [`Manager::list`],
//! [`Manager::list_versions`], [`Manager::stat`], [`Manager::request`].
#![deny(missing_docs)]

mod as_of;
mod budget;
mod checksum;
mod context;
mod copy;
mod crosscopy;
mod direct;
mod download;
mod durable;
mod error;
mod handle;
mod job;
mod journal;
pub mod limits;
mod manager;
mod moving;
mod mtime;
mod multipart;
mod outcome;
mod pipe;
mod plan;
mod progress;
mod retry;
mod schedule;
mod shard;
mod tree;
mod upload;
mod uploads;
mod verify;

pub use as_of::PageAsOf;
pub use checksum::{ChecksumMode, Digest, Hasher, combine, object_checksum};
pub use copy::{Copy, ObjectSource, copy_metadata, object_tags};
pub use direct::DirectIo;
pub use download::{
    Download, DownloadSettings, Listed, ReadBack, Span, Target, VerifyMode, partial_path,
};
pub use error::{Error, ErrorKind, LeftBehind, Mismatch};
pub use handle::{Canceller, Handle};
pub use job::{FailurePolicy, UploadSettings};
pub use journal::{
    Destination, FileJournalStore, JOURNAL_VERSION, Journal, JournalError, JournalHandle,
    JournalStore, LockRecord, ObjectRecord, PartRecord, SourceIdentity, SourceKind, UploadRecord,
};
pub use manager::{Manager, ManagerConfig, OpenFiles, ResumeKeys};
pub use mtime::{MODE_KEY, MTIME_KEY, format_mode, format_mtime, parse_mode, parse_mtime};
pub use outcome::{
    Check, DownloadOutcome, ObjectFailure, Removal, Restoring, SyncAction, TreeOutcome,
    UploadOutcome, Verification,
};
pub use pipe::{PipeEnd, PipeReader, PipeWriter, pipe};
pub use plan::{
    DEFAULT_MULTIPART_THRESHOLD, DEFAULT_PART_SIZE, Plan, PlanConfig, PlanError,
    STREAM_DOUBLING_PARTS, STREAM_FIRST_PART, check_part_size, plan, smallest_part_size,
    stream_capacity, stream_part_size,
};
pub use progress::{Event, Progress, Snapshot};
pub use retry::{
    Jitter, QUOTA_TOKENS, RETRY_COST, RandomJitter, RetryPolicy, RetryQuota, THROTTLE_COST,
};
pub use shard::{
    FinishOutcome, INDEX_VARIABLES, PlanSource, PlanUpload, PlanWork, RecordedPart, Shard,
    ShardPlan, ShardRecord, WorkOutcome,
};
pub use tree::copy::TreeCopy;
pub use tree::filter::Filters;
pub use tree::keys::as_folder;
pub use tree::lock::{Lock, LockOutcome, Retention};
pub use tree::remove::{Remove, RemoveOutcome};
pub use tree::restore::{Restore, RestoreOutcome};
pub use tree::sync::{
    Backup, Compare, DeletionsHeld, RENAMES_HELD, Suffix, SyncCopy, SyncDown, SyncOutcome,
    SyncSettings, SyncUp, compare_content, same_content,
};
pub use tree::{TreeDownload, TreeUpload};
pub use upload::{CHUNK_SIZE, Source, Upload};
pub use uploads::{Aborted, UploadInProgress};
