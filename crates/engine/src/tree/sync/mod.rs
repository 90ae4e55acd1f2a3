//! Sync: a folder to a prefix, a prefix to a folder, or a prefix to a prefix (on one server or
//! across two), moving only what differs. Both sides are read as streams in the byte order of
//! keys (the folder walk sorts as ListObjectsV2 does) and merged as they come (`merge`), so
//! memory does not grow with the count; pairs the listings cannot settle are judged with a
//! request each, several at a time (`judge`); what differs goes through the tree runner like
//! any transfer; what only the destination holds is deleted at the end when asked, and only
//! when both sides were read whole, every transfer succeeded, and the source held something
//! (or a deletion limit says emptying the destination is meant): [`DeletionsHeld`] says why
//! not. With [`SyncSettings::no_traverse`] the destination is not listed: each source path is
//! asked of it alone (`lookup`), and its pair judged the same way. Without deletions or renames
//! tracked, what the destination alone holds matters to nothing, and its listing passes over
//! each folder the source lacks, up or between prefixes (`passing`).
//!
//! Same or not, with no request per object where the listing says enough:
//! - [`Compare::SizeAndTime`]: the sizes are equal and the times agree. Up, and prefix to
//!   prefix, the destination object is not older than its source (written after the source
//!   last changed: the aws cli's and s5cmd's rule; the stored `mtime` is not in a listing).
//!   Up, an object older than its file is the same still when it stores the file's time as
//!   its `mtime` (a HeadObject for such a pair): a file dated in the future is sent once,
//!   not by every sync.
//!   Down, the file has the object's time: its Last-Modified, or else (a HeadObject, for
//!   same-size objects only) the `mtime` stored at upload, which downloads give their files.
//! - [`Compare::Checksum`]: the sizes are equal and the contents agree: a file is read and
//!   compared with the object's own check (full-object or composite CRC, SHA, MD5 ETag), as a
//!   download checks what it fetched; two objects compare their checksums or ETags. One
//!   HeadObject per same-size pair (two, prefix to prefix), none for a small file whose MD5
//!   is the ETag listed or for two objects listed with one ETag.
//! - [`Compare::SizeOnly`]: the sizes are equal.
//! - [`Compare::Download`]: the sizes are equal and the bytes, read from both sides, agree:
//!   each object of a same-size pair is downloaded (in memory) and hashed beside its file,
//!   or beside the other object; no stored checksum is trusted (a restore test).
//!
//! Beyond comparing, the settings may leave what the destination holds alone
//! (`ignore_existing`, `update`: kept), refuse to replace it (`immutable`: a failure), or
//! keep it elsewhere before it is replaced or deleted (`backup`, in `backup`).
//!
//! A pair whose HeadObject the server refuses (an SSE-C object without its key) fails, named,
//! rather than counting as a difference: the transfer would replace the object unasked at
//! every sync. An object gone since it was listed differs, and so does one the credentials
//! may not read (a 403: write-only keys can only send again).

mod backup;
mod judge;
mod lookup;
mod merge;
mod passing;
mod reference;
mod renames;

pub use backup::{Backup, Suffix};
pub use judge::{compare_content, same_content};
pub(crate) use renames::{copied, moved};

use std::sync::Arc;

use ferry_s3::{ObjectClient, RequestOptions};
use tokio::sync::mpsc;

use super::copy::TreeCopy;
use super::filter::{Filters, selected};
use super::list::list;
use super::remove::{Deleting, delete_found};
use super::sides::{Direction, Sides};
use super::walk::{Walk, walk_into};
use super::{Found, READ_AHEAD, TreeDownload, TreeUpload, journal_folder, keys};
use crate::context::Context;
use crate::error::{Error, ErrorKind};
use crate::outcome::{ObjectFailure, TreeOutcome};
use backup::Backing;
use judge::Probe;
use reference::{Matched, Reference, Use};

/// What a sync asks the server: whether a pair is the same; in a sync that tracks renames,
/// whether a file holds the bytes of an object only the destination holds; up, whether a file
/// is the same as an object below the prefix to copy from or compare with.
struct Probes {
    pairs: Probe,
    renames: Option<Probe>,
    /// Up: where a file the destination lacks is looked for first (see
    /// [`SyncSettings::copy_dest`], [`SyncSettings::compare_dest`]).
    reference: Option<Arc<Reference>>,
    /// With [`SyncSettings::no_traverse`]: how the destination is asked for each path, its
    /// listing left out.
    lookup: Option<lookup::Lookup>,
}

/// When a source object and its destination count as the same. A pair whose HeadObject the
/// server refuses (other than a 404, or a 403 that credentials which may not read meet) is
/// neither: it fails, in [`SyncOutcome::transfers`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compare {
    /// Same size, and times that agree (see the module's documentation).
    #[default]
    SizeAndTime,
    /// Same size.
    SizeOnly,
    /// Same size and same content, by checksum (a file is read; the object is not).
    Checksum,
    /// As [`Compare::Checksum`], but a file and an object whose contents cannot be compared
    /// (the object offers no checksum, or the credentials may not read it) fail, named,
    /// rather than count as a difference: what a check wants, where a sync sends again.
    Verify,
    /// Same size and the same bytes, read from both sides: each object of a same-size pair is
    /// downloaded (in ranges, in memory, checked against its own checksum as it comes when it
    /// has one) and its CRC64NVME compared with the file's, or with the other object's. It
    /// trusts no checksum the server stores and reads every byte: a restore test (rclone's
    /// `check --download`), and the one comparison for objects that offer no checksum (under
    /// a KMS or customer key, or of parts whose sizes cannot be known).
    Download,
}

/// How a sync decides and what it may do beyond copying.
#[derive(Debug, Clone, Default)]
pub struct SyncSettings {
    /// When two sides are the same.
    pub compare: Compare,
    /// Delete from the destination what the source does not hold (after every transfer
    /// succeeded, never after a listing failed).
    pub delete: bool,
    /// Say what would be done, do nothing.
    pub dry_run: bool,
    /// Refuse to delete more than this many (nothing is deleted then). Also what lets a sync
    /// from an empty source delete: without it, a source that holds nothing (after the
    /// filters) deletes nothing (see [`DeletionsHeld::EmptySource`]).
    pub max_delete: Option<u64>,
    /// With `delete`: delete from the destination what the filters leave out as well
    /// (rclone's and rsync's `--delete-excluded`): its paths the globs, the list of paths, the
    /// bounds on size and time or a marker file leave out, as if the source did not hold
    /// them. A worker's shard still bounds it: no worker deletes another's paths. A marker in
    /// a sync down's own folder still keeps that folder as it is.
    pub delete_excluded: bool,
    /// Leave every path the destination holds as it is, whatever it holds, and send only
    /// what it lacks (rclone's `--ignore-existing`): a write-once archive's rule.
    pub ignore_existing: bool,
    /// Leave a path as the destination holds it when that is newer than the source, by a
    /// file's mtime and an object's Last-Modified, in whole seconds (rclone's and rsync's
    /// `--update`): a local edit survives a sync down, an object written since survives a
    /// sync up. Equal times are compared as `compare` says.
    pub update: bool,
    /// Replace nothing the destination holds: a path it holds otherwise than the source
    /// fails, named ([`ErrorKind::Exists`](crate::ErrorKind::Exists)), rather than being
    /// sent (rclone's `--immutable`): a backup whose files never change says so when one
    /// has. What it lacks is sent; with a failure, no deletion runs.
    pub immutable: bool,
    /// Keep what the sync replaces or deletes, each at its path below the destination, first
    /// (rclone's `--backup-dir`): up and across, copied on the server to a prefix; down,
    /// moved into a folder. A path whose backup fails is neither replaced nor deleted. A
    /// dry run makes none.
    pub backup: Option<Backup>,
    /// What each backup's name gets after its path (rclone's `--suffix`): backups of one path
    /// made by several syncs then stand side by side. With `backup` only.
    pub backup_suffix: Option<Suffix>,
    /// Make what the destination lacks from what it holds at a path the source no longer
    /// holds (a file renamed or moved since the last sync), where that holds the same bytes
    /// (rclone's `--track-renames`). Up, the object is copied on the server to the new key
    /// rather than the file sent; with `delete`, the old object then goes with the other
    /// deletions, as a rename. Down (with `delete` only), the file is moved to the new path
    /// rather than the object fetched, and is no deletion. Candidates are found by size and
    /// proven by content: the file is read and compared with the object's own checksum (or
    /// its MD5 ETag), whatever `compare` says. What the destination lacks waits until both
    /// sides are read (at most [`RENAMES_HELD`] paths; any beyond are sent as they come);
    /// once the destination is read whole, only where what it alone holds has the same size
    /// (into an empty prefix, nothing waits). Not between prefixes, which read the bytes from
    /// the source whatever their names.
    pub track_renames: bool,
    /// Up: a prefix of the destination's bucket (or of `reference_bucket`) to copy from
    /// (rclone's `--copy-dest`, an
    /// earlier snapshot's): a file the destination lacks, or holds otherwise, is first looked
    /// for at its path below this prefix (a HeadObject), and where `compare` finds that
    /// object the same as the file, it is copied on the server rather than the file sent. It
    /// may not overlap the destination.
    pub copy_dest: Option<String>,
    /// Up: a prefix of the destination's bucket (or of `reference_bucket`) to compare with
    /// (rclone's `--compare-dest`,
    /// the last full snapshot's): a file the destination lacks is first looked for at its
    /// path below this prefix (a HeadObject), and where `compare` finds that object the same
    /// as the file, the file is not sent. A differential snapshot then holds only what changed
    /// since the full one. A file the destination holds otherwise is sent (unlike rclone's):
    /// left out, the destination's stale object would stand over the full snapshot's one in
    /// a restore of both. It may not overlap the destination, and goes without `copy_dest`.
    pub compare_dest: Option<String>,
    /// The bucket `copy_dest` or `compare_dest` lies in, on the destination's server, where
    /// that is not the destination's own (as rclone's flags take any location): snapshots
    /// kept in a bucket of their own.
    pub reference_bucket: Option<String>,
    /// Ask the destination for each path the source holds (a HeadObject; down, the file's
    /// metadata), several at a time, rather than list it whole (rclone's `--no-traverse`):
    /// for a few files sent into a prefix of millions, where the listing would cost more
    /// than the transfers. Each pair is judged as a listed one is. What only the destination
    /// holds stays unknown, so it goes without `delete` and `track_renames`.
    pub no_traverse: bool,
}

/// How many files a sync that tracks renames holds back, until both sides are read, to match
/// with what only the destination holds (about 300 bytes each).
pub const RENAMES_HELD: usize = 100_000;

/// Why a sync's deletions were held back: none were made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeletionsHeld {
    /// A listing failed part-way: what looked missing from the source may only be unlisted.
    ListingFailed,
    /// Not every transfer succeeded.
    TransfersFailed,
    /// More deletions than [`SyncSettings::max_delete`] allows.
    OverLimit {
        /// The deletions the sync found.
        deletions: u64,
        /// The limit.
        max: u64,
    },
    /// The source holds nothing (after the filters), so every path of the destination would
    /// go: far more often a mistyped prefix or a folder whose disk is not mounted than a
    /// wish. A [`SyncSettings::max_delete`] of at least `deletions` says it is one.
    EmptySource {
        /// The deletions the sync found: everything in the destination.
        deletions: u64,
    },
    /// The deletions themselves could not be made.
    Failed(String),
}

impl std::fmt::Display for DeletionsHeld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ListingFailed => f.write_str("nothing was deleted: a listing failed part-way"),
            Self::TransfersFailed => {
                f.write_str("nothing was deleted: not every transfer succeeded")
            }
            Self::OverLimit { deletions, max } => write!(
                f,
                "nothing was deleted: {deletions} deletions are more than the limit of {max}"
            ),
            Self::EmptySource { deletions } => write!(
                f,
                "nothing was deleted: the source holds nothing, so all {deletions} in the \
                 destination would go (a mistyped prefix? a folder not mounted?); a deletion \
                 limit of at least {deletions} allows it"
            ),
            Self::Failed(e) => write!(f, "the deletions failed: {e}"),
        }
    }
}

/// A folder to a prefix, moving only what differs (only the tree's shard, when it has one).
#[derive(Debug, Clone)]
pub struct SyncUp {
    /// The folder, the prefix, and how each object is uploaded.
    pub tree: TreeUpload,
    /// How to decide and delete.
    pub sync: SyncSettings,
}

/// A prefix to a folder, moving only what differs.
#[derive(Debug, Clone)]
pub struct SyncDown {
    /// The prefix, the folder, and how each object is downloaded.
    pub tree: TreeDownload,
    /// How to decide and delete.
    pub sync: SyncSettings,
}

/// A prefix to a prefix, moving only what differs.
#[derive(Debug, Clone)]
pub struct SyncCopy {
    /// The two prefixes, and how each object is copied.
    pub tree: TreeCopy,
    /// How to decide and delete.
    pub sync: SyncSettings,
}

/// What a sync did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct SyncOutcome {
    /// The transfers (uploads, downloads or copies) it ran.
    pub transfers: TreeOutcome,
    /// Paths the same on both sides.
    pub skipped: u64,
    /// Paths left as the destination holds them, not compared
    /// ([`SyncSettings::ignore_existing`], [`SyncSettings::update`]).
    pub kept: u64,
    /// Paths found to differ (sent to the transfers, or in a dry run, that would be).
    pub differing: u64,
    /// Their bytes.
    pub differing_bytes: u64,
    /// Of the paths found to differ, those the destination did not hold at all (the others
    /// it held otherwise).
    pub missing: u64,
    /// Of those, files matched with an object (up) or a file (down) that held their bytes
    /// ([`SyncSettings::track_renames`]), to be copied on the server or moved rather than
    /// sent. (One whose copy or move then fails is sent after all, and still counted here:
    /// its [`UploadOutcome::copied_from`](crate::UploadOutcome) or
    /// [`DownloadOutcome::moved_from`](crate::DownloadOutcome) is `None`.)
    pub renamed: u64,
    /// Of those, files found the same below [`SyncSettings::copy_dest`], to be copied from
    /// there on the server rather than sent (as `renamed`, counted before the copy).
    pub copied: u64,
    /// Files the destination lacks found the same below [`SyncSettings::compare_dest`], and so
    /// not sent (nor counted above).
    pub in_compare_dest: u64,
    /// Paths deleted from the destination (or, in a dry run, that would be).
    pub deleted: u64,
    /// Destination paths kept in [`SyncSettings::backup`] before they were replaced or
    /// deleted.
    pub backed_up: u64,
    /// Deletions that failed.
    pub delete_failed: Vec<ObjectFailure>,
    /// Why the deletions were not made, when they were asked for and held back.
    pub deletions_held: Option<DeletionsHeld>,
    /// The sync was cancelled: its transfers were (see theirs), or its deletions before
    /// every one was made.
    pub interrupted: bool,
    /// Nothing was done: what would be was reported.
    pub dry_run: bool,
}

impl SyncOutcome {
    /// Whether everything asked for was done.
    pub fn is_complete(&self) -> bool {
        self.transfers.is_complete()
            && self.delete_failed.is_empty()
            && self.deletions_held.is_none()
            && !self.interrupted
    }

    /// After a check ([`SyncSettings::check`]): whether the destination holds what the source
    /// does, every path compared, none differing or missing, none only in the destination.
    pub fn matches(&self) -> bool {
        self.differing == 0 && self.deleted == 0 && self.is_complete()
    }
}

impl SyncSettings {
    /// The settings of a check (`ferry check`): every path compared by content
    /// ([`Compare::Verify`]), nothing sent or deleted. Its events say what each path is (an
    /// [`Event::Synced`](crate::Event::Synced) that is a skip: the same; a transfer, to a
    /// path the destination holds or not: it differs, or is missing; a dry run's
    /// [`Event::Removed`](crate::Event::Removed): only in the destination), and
    /// [`SyncOutcome::matches`] the verdict.
    pub fn check() -> Self {
        Self {
            compare: Compare::Verify,
            delete: true,
            dry_run: true,
            // Every path only in the destination reported, however many, an empty source's too.
            max_delete: Some(u64::MAX),
            ..Default::default()
        }
    }
}

/// Runs a sync up in `ctx`.
pub(crate) async fn up<C: ObjectClient>(ctx: Context<C>, s: SyncUp) -> Result<SyncOutcome, Error> {
    crate::job::check(&s.tree.settings, &s.tree.options)?;
    crate::moving::not_in_sync(s.tree.settings.remove_source)?;
    if s.tree.only.is_some() {
        // What the prefix holds beyond those entries would look deleted from the folder.
        return Err(Error::invalid(
            "a sync makes a prefix match a whole folder, not some of its entries (`only`)",
        ));
    }
    // Deletions and backups carry what every request to the bucket does (expected owner,
    // payer), and backups the objects' SSE-C key.
    let sides = (s.tree.sides(), s.tree.options.request.clone());
    let backing = backing(&s.sync, &sides, None)?;
    lookup::check(&s.sync, Direction::Up)?;
    let reference = match (&s.sync.copy_dest, &s.sync.compare_dest) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid(
                "a file found the same below the prefix to copy from is copied, and below the \
                 prefix to compare with is not sent: give one of them",
            ));
        }
        (Some(from), None) | (None, Some(from)) => {
            // Its objects are compared where they lie.
            let bucket = s.sync.reference_bucket.as_deref().unwrap_or(&s.tree.bucket);
            let request = &s.tree.options.request;
            let probe = judge::file_and_object(&ctx, bucket, request, s.sync.compare, true);
            let compare = (s.sync.compare, probe);
            let used = match s.sync.copy_dest {
                Some(_) => Use::Copy,
                None => Use::Compare,
            };
            let at = (s.sync.reference_bucket.as_deref(), from.as_str());
            let from = Reference::new(at, &sides.0, &sides.1, compare, used)?;
            from.check(&ctx).await?;
            Some(Arc::new(from))
        }
        (None, None) => None,
    };
    let prefix = keys::as_folder(&s.tree.prefix);
    let filters = s.tree.filters.for_run(s.tree.shard);
    let walk = Walk::new(&s.tree.root, &prefix, &filters, journal_folder(&ctx))?
        .following_links(s.tree.follow_links);
    let source = walk_into(walk, READ_AHEAD);
    let listing = super::folder_listing(&s.tree.bucket, &prefix, &s.tree.options.request);
    let skips = passing::up(&s.sync, s.tree.root.clone(), &filters);
    let dest = match s.sync.no_traverse {
        true => mpsc::channel(1).1,
        false => {
            let how = (Some(s.tree.root.clone()), skips);
            list(&ctx, listing, how, READ_AHEAD, true)
        }
    };
    let (source, dest) = both_selected(&filters, &s.sync, (source, &prefix), (dest, &prefix));
    let probe = Probes {
        pairs: judge::up(&ctx, &s.tree, s.sync.compare),
        renames: s
            .sync
            .track_renames
            .then(|| judge::renamed(&ctx, &s.tree.bucket, &s.tree.options.request, true)),
        reference,
        lookup: (s.sync.no_traverse).then(|| lookup::objects(&ctx, &sides.0, &sides.1, &s.sync)),
    };
    let transfer = |ctx, found| super::upload_found(ctx, s.tree, found);
    let settings = (s.sync, filters, backing);
    run(ctx, sides, settings, source, dest, probe, transfer).await
}

/// Runs a sync down in `ctx`.
pub(crate) async fn down<C: ObjectClient>(
    ctx: Context<C>,
    s: SyncDown,
) -> Result<SyncOutcome, Error> {
    crate::download::check(&s.tree.settings)?;
    crate::moving::not_in_sync(s.tree.settings.remove_source)?;
    super::check_folder(&s.tree.root)?;
    let sides = (s.tree.sides(), RequestOptions::default());
    let backing = backing(&s.sync, &sides, Some(&s.tree.root))?;
    lookup::check(&s.sync, Direction::Down)?;
    reference_up_only(&s.sync, "a sync down")?;
    if s.sync.track_renames && !s.sync.delete {
        return Err(Error::invalid(
            "a sync down tracks renames by moving each renamed file to its new path, which \
             deletes it from its old one: set delete too",
        ));
    }
    let prefix = keys::as_folder(&s.tree.prefix);
    let root = Some(s.tree.root.clone());
    let how = (s.tree.as_of, &s.tree.filters);
    let source = super::source_list(&ctx, super::listing(&s.tree), root, how, true);
    let filters = s.tree.filters.for_run(s.tree.shard);
    let dest = if s.tree.root.is_dir() && !s.sync.no_traverse {
        let walked = filters.for_destination(s.sync.delete_excluded);
        let walk = Walk::new(&s.tree.root, &prefix, &walked, journal_folder(&ctx))?;
        walk_into(walk, READ_AHEAD)
    } else {
        mpsc::channel(1).1
    };
    let (source, dest) = both_selected(&filters, &s.sync, (source, &prefix), (dest, &prefix));
    let probe = Probes {
        pairs: judge::down(&ctx, &s.tree, s.sync.compare),
        renames: s
            .sync
            .track_renames
            .then(|| judge::renamed(&ctx, &s.tree.bucket, &s.tree.request, false)),
        reference: None,
        lookup: s.sync.no_traverse.then(lookup::files),
    };
    let transfer = |ctx, found| super::download_found(ctx, s.tree, found);
    let settings = (s.sync, filters, backing);
    run(ctx, sides, settings, source, dest, probe, transfer).await
}

/// Runs a sync from prefix to prefix in `ctx`, reading through `source` when it is another
/// server.
pub(crate) async fn copy<C: ObjectClient, D: ObjectClient>(
    ctx: Context<C>,
    source: Option<Context<D>>,
    mut s: SyncCopy,
) -> Result<SyncOutcome, Error> {
    crate::job::check(&s.tree.settings, &s.tree.options)?;
    crate::moving::not_in_sync(s.tree.settings.remove_source)?;
    s.tree.filters.walks_none("a sync between prefixes")?;
    if source.is_none() {
        s.tree.check_overlap(false, true)?;
    }
    // A destination written after the time is newer than every version then, whatever it
    // holds: with a time, same-size pairs compare their checksums rather than their times.
    if s.tree.as_of.is_some() && s.sync.compare == Compare::SizeAndTime {
        s.sync.compare = Compare::Checksum;
    }
    let sides = (s.tree.sides(), s.tree.options.request.clone());
    let backing = backing(&s.sync, &sides, None)?;
    lookup::check(&s.sync, Direction::Copy)?;
    reference_up_only(&s.sync, "a sync between prefixes")?;
    if s.sync.track_renames {
        return Err(Error::invalid(
            "tracking renames saves moving a renamed file's bytes again: a sync between \
             prefixes reads them from the source whichever way they are named; track them up \
             or down",
        ));
    }
    let (listing, at) = (s.tree.source_listing(), (s.tree.as_of, &s.tree.filters));
    let filters = s.tree.filters.for_run(s.tree.shard);
    let (from, skips) = match &source {
        Some(read) => (
            super::source_list(read, listing.clone(), None, at, true),
            passing::across(&s.sync, at.0, read, listing, &filters),
        ),
        None => (
            super::source_list(&ctx, listing.clone(), None, at, true),
            passing::across(&s.sync, at.0, &ctx, listing, &filters),
        ),
    };
    let dest = match s.sync.no_traverse {
        true => mpsc::channel(1).1,
        false => {
            let how = (None, skips);
            list(&ctx, s.tree.destination_listing(), how, READ_AHEAD, true)
        }
    };
    let (from, dest) = both_selected(
        &filters,
        &s.sync,
        (from, &sides.0.source_prefix),
        (dest, &sides.0.dest_prefix),
    );
    let probe = Probes {
        pairs: judge::copy(&ctx, source.as_ref(), &s.tree, s.sync.compare),
        renames: None,
        reference: None,
        lookup: (s.sync.no_traverse).then(|| lookup::objects(&ctx, &sides.0, &sides.1, &s.sync)),
    };
    let transfer = |ctx, found| super::copy::copy_found(ctx, source, s.tree, found);
    let settings = (s.sync, filters, backing);
    run(ctx, sides, settings, from, dest, probe, transfer).await
}

/// The files found the same below the reference prefix, if it is `used` so.
fn found_below(reference: &Option<Arc<Reference>>, used: Use) -> Matched {
    reference
        .as_ref()
        .filter(|r| r.used == used)
        .map_or_else(Matched::default, |r| {
            *r.found.lock().expect("reference lock")
        })
}

/// A stage between the merge and the transfers: each entry of `found` passed through `step`,
/// `n` at once (ending in any order); an entry `step` gives nothing for is dropped.
fn staged<F, Fut>(mut found: mpsc::Receiver<Found>, n: usize, step: F) -> mpsc::Receiver<Found>
where
    F: Fn(Found) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Option<Found>> + Send + 'static,
{
    use futures_util::StreamExt as _;
    super::fed(READ_AHEAD, move |tx| async move {
        let entries = futures_util::stream::poll_fn(move |cx| found.poll_recv(cx));
        let mut done = std::pin::pin!(entries.map(step).buffer_unordered(n));
        while let Some(f) = done.next().await {
            if let Some(f) = f
                && tx.send(f).await.is_err()
            {
                break;
            }
        }
    })
}

/// A prefix to copy from or compare with is for a sync up: `what` is the sync that asks.
fn reference_up_only(settings: &SyncSettings, what: &str) -> Result<(), Error> {
    let to = match (&settings.copy_dest, &settings.compare_dest) {
        (Some(_), _) => Use::Copy.what(),
        (None, Some(_)) => Use::Compare.what(),
        (None, None) => return Ok(()),
    };
    Err(Error::invalid(format!(
        "a prefix {to} saves sending a file's bytes: {what} sends none; give it to a sync up"
    )))
}

/// The backups `settings` asks for, checked against the sides (`root`: a sync down's
/// folder), once the settings are found to make sense; none are made in a dry run.
fn backing(
    settings: &SyncSettings,
    (sides, request): &(Sides, RequestOptions),
    root: Option<&std::path::Path>,
) -> Result<Option<Arc<Backing>>, Error> {
    if settings.delete_excluded && !settings.delete {
        return Err(Error::invalid(
            "deleting what the filters leave out is deleting: delete_excluded goes with delete",
        ));
    }
    let Some(to) = &settings.backup else {
        if settings.backup_suffix.is_some() {
            return Err(Error::invalid(
                "a backup suffix names the backups a backup location keeps: set backup too",
            ));
        }
        return Ok(None);
    };
    to.check(sides, root)?;
    let root = root.map(std::path::Path::to_path_buf);
    let to = (to.clone(), settings.backup_suffix.clone());
    let made = || Backing::new(to, sides.clone(), request.clone(), root);
    Ok((!settings.dry_run).then(made))
}

/// The two sides of a sync, each narrowed to the paths `filters` allows (by its key below its
/// own prefix): a path left out is neither copied nor deleted; with `delete_excluded`, the
/// destination only to its shard, so that the merge deletes what the source's filters leave
/// out. Their bounds on size and time are the merge's to weigh.
fn both_selected(
    filters: &Filters,
    settings: &SyncSettings,
    (source, source_prefix): (mpsc::Receiver<Found>, &str),
    (dest, dest_prefix): (mpsc::Receiver<Found>, &str),
) -> (mpsc::Receiver<Found>, mpsc::Receiver<Found>) {
    (
        selected(source, filters.paths_only(), source_prefix.to_string()),
        selected(
            dest,
            filters.for_destination(settings.delete_excluded),
            dest_prefix.to_string(),
        ),
    )
}

/// Merges the two sides, runs the transfers of what differs, and deletes when asked (from a
/// bucket with `deleting`, what every request to the destination carries), within the
/// filters' bounds on size and time.
async fn run<C, F, Fut>(
    ctx: Context<C>,
    (sides, deleting): (Sides, RequestOptions),
    (settings, filters, backing): (SyncSettings, Filters, Option<Arc<Backing>>),
    source: mpsc::Receiver<Found>,
    dest: mpsc::Receiver<Found>,
    probe: Probes,
    transfer: F,
) -> Result<SyncOutcome, Error>
where
    C: ObjectClient,
    F: FnOnce(Context<C>, mpsc::Receiver<Found>) -> Fut,
    Fut: std::future::Future<Output = Result<TreeOutcome, Error>>,
{
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    let reference = probe.reference.clone();
    let merging = {
        let (ctx, settings, sides) = (ctx.clone(), settings.clone(), sides.clone());
        tokio::spawn(async move {
            let how = (&settings, &filters);
            merge::merge(&ctx, &sides, how, probe, source, dest, tx).await
        })
    };
    let rx = match &reference {
        Some(from) => reference::before_transfers(&ctx, from.clone(), rx, settings.dry_run),
        None => rx,
    };
    let transfers = if settings.dry_run {
        // Nothing moves: the merge's transfers are only reported, and what cannot be read
        // fails as it would.
        super::sides::report_only(&ctx, rx, &sides).await
    } else {
        let rx = match &backing {
            Some(b) => backup::before_transfers(&ctx, b.clone(), rx),
            None => rx,
        };
        transfer(ctx.clone(), rx).await
    };
    let merged = merging
        .await
        .map_err(|e| Error::new(ErrorKind::Local, format!("the sync's merge failed: {e}")))?;
    let transfers = transfers?;
    // Files found the same below a prefix to compare with are not sent: they do not differ
    // (and the destination lacked each of them).
    let unsent = found_below(&reference, Use::Compare);
    let mut outcome = SyncOutcome {
        skipped: merged.skipped,
        kept: merged.kept,
        differing: merged.planned.0.saturating_sub(unsent.files),
        missing: merged.missing.saturating_sub(unsent.files),
        renamed: merged.renamed,
        copied: found_below(&reference, Use::Copy).files,
        in_compare_dest: unsent.files,
        differing_bytes: merged.planned.1.saturating_sub(unsent.bytes),
        dry_run: settings.dry_run,
        interrupted: transfers.interrupted,
        transfers,
        ..Default::default()
    };
    let deletions = merged.deletions;
    outcome.backed_up = backing.as_ref().map_or(0, |b| b.made());
    if !settings.delete || deletions.is_empty() {
        return Ok(outcome);
    }
    let found = deletions.len() as u64;
    let held = if merged.listing_failed {
        Some(DeletionsHeld::ListingFailed)
    } else if !outcome.transfers.is_complete() {
        Some(DeletionsHeld::TransfersFailed)
    } else {
        match settings.max_delete {
            Some(max) if found > max => Some(DeletionsHeld::OverLimit {
                deletions: found,
                max,
            }),
            None if merged.skipped + merged.kept + merged.planned.0 + merged.out_of_bounds == 0 => {
                Some(DeletionsHeld::EmptySource { deletions: found })
            }
            _ => None,
        }
    };
    if held.is_some() {
        outcome.deletions_held = held;
        return Ok(outcome);
    }
    // Objects to delete are backed up first; files, moved to the backup as they go.
    let (deletions, backup_failed) = match &backing {
        Some(b) if b.moving_files().is_none() => backup::before_deletions(&ctx, b, deletions).await,
        _ => (deletions, Vec::new()),
    };
    // The destination's objects (files, down) go a thousand a batch, several batches at once,
    // each batch reported as one event.
    let how = Deleting {
        bucket: (sides.direction != Direction::Down).then(|| (sides.dest_bucket.clone(), deleting)),
        bypass_governance_retention: false,
        dry_run: settings.dry_run,
        sync: true,
        files_to: backing.as_ref().and_then(|b| b.moving_files()),
    };
    let moving_files = how.files_to.is_some();
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    tokio::spawn(async move {
        for d in deletions {
            if tx.send(Found::Item(d)).await.is_err() {
                break;
            }
        }
    });
    match delete_found(&ctx, how, rx).await {
        Ok(o) => {
            // A refused deletion is a failure, not a deletion.
            outcome.deleted = o.removed;
            outcome.delete_failed = o.failed;
            outcome.interrupted = o.interrupted;
        }
        Err(e) => outcome.deletions_held = Some(DeletionsHeld::Failed(e.to_string())),
    }
    outcome.delete_failed.extend(backup_failed);
    outcome.interrupted |= ctx.cancel.is_cancelled();
    // Files deleted were moved into the backup folder.
    let moved = if moving_files { outcome.deleted } else { 0 };
    outcome.backed_up = backing.as_ref().map_or(0, |b| b.made()) + moved;
    Ok(outcome)
}
