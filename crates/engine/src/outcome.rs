//! What finished transfers produced: plain data that events carry and handles return.

use std::path::PathBuf;

use ferry_s3::{ChecksumType, ChecksumValue};

use crate::error::Error;

/// How a finished upload or copy was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verification {
    /// The server computed the object's checksum on Complete (or PutObject) and HeadObject
    /// gave back the value ferry computed locally, and the size.
    Checksum(ChecksumValue),
    /// The server keeps no checksum ferry could compare: the size matched, and each part was
    /// checked by the server on arrival (trailer checksum or Content-MD5).
    PartsAndSize,
    /// Only the size matched (no checksum was asked for).
    SizeOnly,
    /// Not read back: the credentials may not read the object (HeadObject was denied, as for
    /// a write-only backup role). The server checked what it was given: each part's checksum
    /// on arrival and, on Complete, the whole object's checksum and size that ferry sent;
    /// `checksum` is the one its answer carried, when it equals ferry's.
    ServerOnly {
        /// The checksum the server's answer carried, equal to ferry's.
        checksum: Option<ChecksumValue>,
        /// Why it was not read back, naming the permission.
        skipped: String,
    },
}

/// What a finished upload (or copy) produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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
    /// Bytes an earlier, interrupted run had sent (the parts a resume found on the server),
    /// not sent again.
    pub reused: u64,
    /// A move: the source (file or object) was deleted once the object was verified.
    pub source_removed: bool,
    /// A copy whose source was asked for by version (by its id, or as the one current at a
    /// time): that version.
    pub source_version_id: Option<String>,
    /// A file a sync up found on the server already, at another key: that key (of the same
    /// bucket, unless `copied_from_bucket` names another), whose object was copied on the
    /// server rather than the file's bytes sent (see
    /// [`SyncSettings::track_renames`](crate::SyncSettings) and `copy_dest`).
    pub copied_from: Option<String>,
    /// The bucket of `copied_from`, where it is not this object's (a prefix to copy from in
    /// another bucket, [`SyncSettings::reference_bucket`](crate::SyncSettings)).
    pub copied_from_bucket: Option<String>,
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
    /// Nothing fetched: a file the folder held at another path, found to hold the object's
    /// bytes by the object's own checksum, was moved into place (a sync down that tracks
    /// renames).
    Moved,
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
            Check::Moved => {
                f.write_str("its bytes compared with the object's checksum, then moved")
            }
        }
    }
}

impl Check {
    /// A short name: `full-object`, `composite`, `whole-object`, `multipart-etag`,
    /// `md5-etag`, `size` or `moved`.
    pub fn kind(&self) -> &'static str {
        match self {
            Check::FullObject(_) => "full-object",
            Check::Composite(_) => "composite",
            Check::WholeObject(_) => "whole-object",
            Check::MultipartEtag(_) => "multipart-etag",
            Check::Md5Etag(_) => "md5-etag",
            Check::SizeOnly(_) => "size",
            Check::Moved => "moved",
        }
    }
}

/// What a finished download produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DownloadOutcome {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// The path given as the target (a file, or a device or pipe written as a stream), or
    /// `None` for a writer or memory.
    pub path: Option<PathBuf>,
    /// The object's bytes, for a download into memory.
    pub data: Option<bytes::Bytes>,
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
    /// A move: the object was deleted once the file was verified.
    pub source_removed: bool,
    /// `version_id` is the version asked for (by its id, or as the one current at a time),
    /// not the latest taken as found.
    pub pinned: bool,
    /// A sync down that tracks renames found the object's bytes in the folder already, in a
    /// file at a path the prefix no longer holds: that file, moved to `path` rather than the
    /// object fetched (see [`SyncSettings::track_renames`](crate::SyncSettings)).
    pub moved_from: Option<PathBuf>,
}

/// An object or file deleted (or, in a dry run, that would be), as [`Event::Removed`](crate::Event::Removed)
/// reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Removal {
    /// What went: `s3://bucket/key`, or a file's path.
    pub what: String,
    /// Its key (a file's: its path below the folder, as a key).
    pub key: String,
    /// Its size, as listed or walked (0 for one object removed alone that could not be
    /// read, and for a delete marker).
    pub size: u64,
    /// The version deleted, where the removal named one or listed versions.
    pub version_id: Option<String>,
}

/// One object of a tree transfer that did not finish.
#[derive(Debug)]
#[non_exhaustive]
pub struct ObjectFailure {
    /// The local file; for a copy, its source's `s3://bucket/key` URL.
    pub path: PathBuf,
    /// The key, in the tree's bucket: the key written (an upload's, a copy's destination) or
    /// read (a download's); for a folder that could not be read, its key, ending in `/`.
    pub key: String,
    /// Why.
    pub error: Error,
}

/// How a tree transfer (a folder to a prefix, or back) ended. Objects that failed do not stop
/// the others; they are listed here.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct TreeOutcome {
    /// Objects found (files walked, or objects listed) and started.
    pub objects: u64,
    /// Objects transferred and checked.
    pub done: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Of those bytes, the ones an earlier, interrupted run had moved (resumed uploads' parts,
    /// resumed downloads' ranges on disk): `bytes - reused` moved in this run.
    pub reused: u64,
    /// Objects that failed (cancelled ones are not listed: see `interrupted`).
    pub failed: Vec<ObjectFailure>,
    /// Objects kept to resume: journaled uploads, partial downloads.
    pub kept: u64,
    /// Entries passed over, each reported by an [`Event::PassedOver`]: links to nothing or
    /// back to a folder above them, files that are not regular ones, keys ending in `/` that
    /// hold bytes. They are neither objects nor failures.
    ///
    /// [`Event::PassedOver`]: crate::Event::PassedOver
    pub passed_over: u64,
    /// Objects left as they were, each reported by an [`Event::Existed`]: their destination
    /// exists, and the settings forbid replacing it (`no_clobber`); or, a prefix copied onto
    /// itself to another storage class, they are listed in that class already (never started,
    /// so not in `objects`). Neither done nor failed.
    ///
    /// [`Event::Existed`]: crate::Event::Existed
    pub existed: u64,
    /// The run was cancelled before every object ended.
    pub interrupted: bool,
    /// A failure every other object would meet too (a missing bucket, rejected credentials,
    /// a full disk: see [`Error::concerns_every_object`]) stopped the run: it is in `failed`
    /// once, no object was started after it, and those under way were cancelled (kept to
    /// resume where they can).
    ///
    /// [`Error::concerns_every_object`]: crate::Error::concerns_every_object
    pub stopped: bool,
}

impl TreeOutcome {
    /// Every object was transferred, or left as it was because it existed (`no_clobber`).
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty() && !self.interrupted && !self.stopped
    }
}

/// What one path of a sync came to (its deletions are [`Event::Removed`](crate::Event::Removed)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncAction {
    /// Sent to S3.
    Upload,
    /// Brought from S3.
    Download,
    /// Copied from one prefix to the other (or, up, a renamed file's object copied on the
    /// server from the one that holds its bytes).
    Copy,
    /// A sync down's renamed object: the file that holds its bytes moved to its path.
    Move,
    /// The same on both sides.
    Skip,
    /// Left as the destination holds it, not compared: it holds the path
    /// ([`SyncSettings::ignore_existing`](crate::SyncSettings::ignore_existing)), or holds it
    /// newer than the source ([`SyncSettings::update`](crate::SyncSettings::update)).
    Keep,
}

impl SyncAction {
    /// Its name in messages and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncAction::Upload => "upload",
            SyncAction::Download => "download",
            SyncAction::Copy => "copy",
            SyncAction::Move => "move",
            SyncAction::Skip => "skip",
            SyncAction::Keep => "keep",
        }
    }
}

/// What a restore found an object to be, and did (or in a dry run, would do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Restoring {
    /// A restore began: the object is readable once it ends (hours; up to two days from
    /// Deep Archive at the Bulk tier).
    Started,
    /// Restored already: its copy now stays readable the days asked, from now.
    Extended,
    /// A restore was under way already: the object is readable once it ends.
    InProgress,
    /// Not archived: readable as it is, nothing to restore.
    Readable,
}

impl Restoring {
    /// As the JSON names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Restoring::Started => "started",
            Restoring::Extended => "extended",
            Restoring::InProgress => "in_progress",
            Restoring::Readable => "readable",
        }
    }
}
