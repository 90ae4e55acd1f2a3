//! Trees: a folder to a prefix (every file under it) and a prefix to a folder (every object
//! under it), as one transfer of many objects. The walk or the listing streams in (`walk`),
//! objects start as it goes (`run`), as many at once as the manager's request budget has room
//! for, each an upload or download like any other (checksummed, verified, journaled or kept as
//! a partial file), their parts sharing the one memory budget. One object failing does not
//! stop the others: each is reported as it ends, and the outcome lists what failed. A failure
//! every other object would meet too (a missing bucket, rejected credentials, a full disk)
//! stops the run instead, reported once.

mod as_of;
pub(crate) mod copy;
mod each;
pub(crate) mod filter;
pub(crate) mod keys;
pub(crate) mod list;
pub(crate) mod lock;
mod named;
pub(crate) mod remove;
pub(crate) mod restore;
mod run;
pub(crate) mod sides;
pub(crate) mod sync;
mod walk;

use std::path::PathBuf;
use std::sync::Arc;

use ferry_s3::{ListObjectsRequest, ObjectClient, ObjectOptions, RequestOptions};
use futures_util::future::BoxFuture;
use tokio::sync::mpsc;

use crate::context::Context;
use crate::download::{Download, DownloadSettings, Listed, Target};
use crate::error::{Error, ErrorKind};
use crate::job::UploadSettings;
use crate::outcome::{ObjectFailure, TreeOutcome};
use crate::shard::Shard;
use crate::upload::{Source, Upload};
use filter::{Filters, Named, selected_all};
use sides::{Direction, Sides};

use run::Tally;
pub(crate) use run::{Ended, as_listed, run};

/// Items a walk or a listing reads ahead of the transfers.
const READ_AHEAD: usize = 1000;

/// A folder to a prefix: every regular file under `root` (links followed) to `prefix` and
/// its path below `root`.
#[derive(Debug, Clone)]
pub struct TreeUpload {
    /// The folder.
    pub root: PathBuf,
    /// Bucket.
    pub bucket: String,
    /// The prefix (a `/` is added when it has none).
    pub prefix: String,
    /// What each object carries.
    pub options: ObjectOptions,
    /// Guess each object's content type from its file name when `options` gives none. By
    /// default, `true`.
    pub guess_content_type: bool,
    /// How each object is uploaded.
    pub settings: UploadSettings,
    /// Which files take part, by their path below `root` (every one by default).
    pub filters: Filters,
    /// Only the files of this shard (see [`Shard::owns`]).
    pub shard: Option<Shard>,
    /// Only report what would be sent (see [`Event::Synced`](crate::Event::Synced)), send nothing.
    pub dry_run: bool,
    /// Take a symbolic link below `root` as what it points at (by default, `true`, as the
    /// aws cli does); with `false` each one is passed over
    /// ([`Event::PassedOver`](crate::Event::PassedOver)), so a link to `/` in a home folder
    /// does not send the whole disk. A sync takes such a path as not
    /// there: its object is deleted with `delete`, as for a file that is gone.
    pub follow_links: bool,
    /// Only these entries of `root` (names, not paths: files, or folders taken whole), as a
    /// shell's glob of one folder gives them (`*.iso`); each must be there. Their keys are
    /// the prefix and their path below `root`, as in the whole tree; the rest of `root` is
    /// not read. By default (`None`), every entry. A copy only: a sync refuses it.
    pub only: Option<Vec<std::ffi::OsString>>,
}

impl TreeUpload {
    /// Every file under `root` to `bucket`/`prefix`, with default options and settings.
    pub fn new(root: impl Into<PathBuf>, bucket: impl Into<String>, prefix: &str) -> Self {
        Self {
            root: root.into(),
            bucket: bucket.into(),
            prefix: prefix.to_string(),
            options: ObjectOptions::default(),
            guess_content_type: true,
            settings: UploadSettings::default(),
            filters: Filters::default(),
            shard: None,
            dry_run: false,
            follow_links: true,
            only: None,
        }
    }

    /// Its sides: the folder's paths to the same paths below the prefix.
    pub(crate) fn sides(&self) -> Sides {
        Sides::folder(Direction::Up, &self.bucket, keys::as_folder(&self.prefix))
    }
}

/// A prefix to a folder: every object under `prefix` to `root` and its key below the prefix
/// (folder markers, keys ending in `/`, skipped).
#[derive(Debug, Clone)]
pub struct TreeDownload {
    /// Bucket.
    pub bucket: String,
    /// The prefix (a `/` is added when it has none; empty: the whole bucket).
    pub prefix: String,
    /// The folder (created as needed).
    pub root: PathBuf,
    /// SSE-C key, expected bucket owner, requester pays: sent with every request.
    pub request: RequestOptions,
    /// How each object is downloaded.
    pub settings: DownloadSettings,
    /// Which objects take part, by their key below `prefix` (every one by default).
    pub filters: Filters,
    /// Only the objects of this shard (see [`Shard::owns`]).
    pub shard: Option<Shard>,
    /// Only report what would be written (see [`Event::Synced`](crate::Event::Synced)), write
    /// nothing.
    pub dry_run: bool,
    /// Each object as it was at this time, from a listing of versions (ListObjectVersions):
    /// the version then current; a key deleted then, or only written later, is left out. A
    /// key whose only version came later with no version id (versioning off or suspended)
    /// fails on its own: what it held then was not kept (and a sync's deletions are held
    /// back, rather than take it for absent). By default (`None`), each object as it is now.
    pub as_of: Option<std::time::SystemTime>,
    /// Pass over each archived object no restored copy of which is readable (reported in an
    /// [`Event::PassedOver`](crate::Event::PassedOver), counted in `passed_over`), rather
    /// than fail it with [`ErrorKind::Archived`]: as the aws cli does by default.
    pub skip_archived: bool,
}

impl TreeDownload {
    /// Every object under `bucket`/`prefix` into `root`, with default settings.
    pub fn new(bucket: impl Into<String>, prefix: &str, root: impl Into<PathBuf>) -> Self {
        Self {
            bucket: bucket.into(),
            prefix: prefix.to_string(),
            root: root.into(),
            request: RequestOptions::default(),
            settings: DownloadSettings::default(),
            filters: Filters::default(),
            shard: None,
            dry_run: false,
            as_of: None,
            skip_archived: false,
        }
    }

    /// Its sides: the keys below the prefix to the same paths in the folder.
    pub(crate) fn sides(&self) -> Sides {
        Sides::folder(Direction::Down, &self.bucket, keys::as_folder(&self.prefix))
    }
}

/// One object of a tree: its file, its key, its size, its ETag when listed, and its time (a
/// file's mtime, an object's LastModified).
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub(crate) path: PathBuf,
    pub(crate) key: String,
    pub(crate) size: u64,
    pub(crate) etag: Option<String>,
    pub(crate) mtime: Option<std::time::SystemTime>,
    /// The version listed, where a listing of versions found it (deleted, or transferred, as
    /// that version).
    pub(crate) version_id: Option<String>,
    /// The storage class listed (a file's: none).
    pub(crate) storage_class: Option<String>,
    /// In a sync: the destination holds this path too (and, when it is sent, differs).
    pub(crate) in_destination: bool,
    /// In a sync: what already holds this item's bytes on the destination's side, to make it
    /// from rather than move them again: up, an object of the destination's bucket (at a path
    /// the source no longer holds, or below the copy-from prefix), copied on the server; down,
    /// a file of the folder at a path the prefix no longer holds, moved.
    pub(crate) held_by: Option<Box<Item>>,
    /// The bucket this object lies in, where that is not its side's (an object below a prefix
    /// to copy from in another bucket, as `held_by`); else none.
    pub(crate) bucket: Option<String>,
}

#[cfg(test)]
impl Item {
    /// An item of `key` and `size` (its path the key), with nothing else known: for tests.
    pub(crate) fn named(key: &str, size: u64) -> Self {
        Self {
            path: PathBuf::from(key),
            key: key.into(),
            size,
            etag: None,
            mtime: None,
            version_id: None,
            storage_class: None,
            in_destination: false,
            held_by: None,
            bucket: None,
        }
    }
}

/// What the walk or the listing found next.
pub(crate) enum Found {
    /// An object to transfer.
    Item(Item),
    /// An entry that cannot be transferred (an unreadable folder, a name that cannot be a
    /// key, a key that cannot be a file): it fails, the others go on.
    Bad(ObjectFailure),
    /// The walk or listing itself failed: nothing more is started.
    Fatal(Error),
    /// An entry that is no object to transfer, and no failure either: reported, not counted.
    PassedOver(PassedOver),
}

/// An entry a walk or listing passes over: a link to nothing or back to a folder above it,
/// a file that is not a regular one, a key ending in `/` that holds bytes.
#[derive(Debug)]
pub(crate) struct PassedOver {
    /// Its key, for the filters (empty when they have ruled on it already).
    pub(crate) key: String,
    /// Its path, or `s3://bucket/key`.
    pub(crate) what: String,
    /// Why it is passed over.
    pub(crate) why: String,
}

/// A channel of `capacity` that `feed` fills on a task of its own (a listing, a filter), ending
/// when `feed` does or the receiver is dropped.
pub(crate) fn fed<Fut>(
    capacity: usize,
    feed: impl FnOnce(mpsc::Sender<Found>) -> Fut,
) -> mpsc::Receiver<Found>
where
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(capacity);
    tokio::spawn(feed(tx));
    rx
}

/// The folder `ctx`'s journals are files in, if any: a walk passes it over.
pub(crate) fn journal_folder<C>(ctx: &Context<C>) -> Option<&std::path::Path> {
    ctx.shared.journal.as_deref().and_then(|j| j.folder())
}

/// Uploads a folder in `ctx`.
pub(crate) async fn upload<C: ObjectClient>(
    ctx: Context<C>,
    tree: TreeUpload,
) -> Result<TreeOutcome, Error> {
    crate::job::check(&tree.settings, &tree.options)?;
    let prefix = keys::as_folder(&tree.prefix);
    let filters = tree.filters.for_run(tree.shard);
    let walk = walk::Walk::new(&tree.root, &prefix, &filters, journal_folder(&ctx))?
        .following_links(tree.follow_links)
        .only(tree.only.as_deref())?;
    let (root, key_prefix) = (tree.root.clone(), prefix.clone());
    let named: Named = Box::new(move |rel| (root.join(rel), format!("{key_prefix}{rel}")));
    let found = selected_all(walk::walk_into(walk, READ_AHEAD), filters, prefix, named);
    if tree.dry_run {
        return sides::report_only(&ctx, found, &tree.sides()).await;
    }
    upload_found(ctx, tree, found).await
}

/// Uploads what `found` yields, as `tree` says.
pub(crate) async fn upload_found<C: ObjectClient>(
    ctx: Context<C>,
    tree: TreeUpload,
    found: mpsc::Receiver<Found>,
) -> Result<TreeOutcome, Error> {
    let weight = parts_weight(tree.settings.plan);
    let start = move |ctx: Context<C>, item: Item| -> BoxFuture<'static, _> {
        let mut options = tree.options.clone();
        if tree.guess_content_type && options.content.content_type.is_none() {
            options.content.content_type = mime_guess::from_path(&item.path)
                .first_raw()
                .map(str::to_string);
        }
        let upload = Upload {
            source: Source::File(item.path.clone()),
            bucket: tree.bucket.clone(),
            key: item.key,
            options,
            settings: tree.settings.clone(),
        };
        match item.held_by {
            Some(object) => Box::pin(sync::copied(ctx, upload, item.path, *object)),
            None => Box::pin(crate::upload::run(ctx, upload)),
        }
    };
    run(ctx, found, weight, start, &as_listed, None).await
}

/// An object's weight when it is written in parts: how many `plan` gives it.
pub(crate) fn parts_weight(plan: crate::plan::PlanConfig) -> impl Fn(&Item) -> u32 {
    move |item: &Item| match crate::plan::plan(item.size, &plan) {
        Ok(crate::plan::Plan::Multipart { parts, .. }) => parts,
        _ => 1,
    }
}

/// Downloads a prefix in `ctx`.
pub(crate) async fn download<C: ObjectClient>(
    ctx: Context<C>,
    tree: TreeDownload,
) -> Result<TreeOutcome, Error> {
    crate::download::check(&tree.settings)?;
    crate::moving::not_as_of(tree.settings.remove_source, tree.as_of)?;
    check_folder(&tree.root)?;
    tree.filters.walks_none("a download to a folder")?;
    let root = Some(tree.root.clone());
    let how = (tree.as_of, &tree.filters);
    let listed = source_list(&ctx, listing(&tree), root, how, false);
    let filters = tree.filters.for_run(tree.shard);
    let (root, prefix) = (tree.root.clone(), keys::as_folder(&tree.prefix));
    let key_prefix = prefix.clone();
    let named: Named = Box::new(move |rel| (root.join(rel), format!("{key_prefix}{rel}")));
    let found = selected_all(listed, filters, prefix, named);
    if tree.dry_run {
        return sides::report_only(&ctx, found, &tree.sides()).await;
    }
    download_found(ctx, tree, found).await
}

/// A tree is written into a folder, never over a file (`FILE/` names the file too: its
/// metadata is ENOTDIR, which `exists` takes for absent).
fn check_folder(root: &std::path::Path) -> Result<(), Error> {
    let named: PathBuf = root.components().collect();
    if named.is_file() {
        return Err(Error::invalid(format!(
            "{} is a file; a tree is written into a folder",
            named.display()
        )));
    }
    Ok(())
}

/// The listing of everything below `prefix` taken as a folder (`a/b` lists `a/b/…`, not
/// `a/bc`).
fn folder_listing(bucket: &str, prefix: &str, request: &RequestOptions) -> ListObjectsRequest {
    let prefix = keys::as_folder(prefix);
    ListObjectsRequest {
        bucket: bucket.to_string(),
        prefix: (!prefix.is_empty()).then_some(prefix),
        request: request.clone(),
        ..Default::default()
    }
}

/// The source side of a tree: `req`'s prefix listed page by page (see [`list::list`]), as it
/// is or, with `as_of`, as it was then (see [`as_of::list_as_of`]); as it is, where `filters`
/// name a few paths to take, those asked for alone (see [`named`]).
pub(crate) fn source_list<C: ObjectClient>(
    ctx: &Context<C>,
    req: ListObjectsRequest,
    root: Option<PathBuf>,
    (as_of, filters): (Option<std::time::SystemTime>, &Filters),
    empty_ok: bool,
) -> mpsc::Receiver<Found> {
    match (as_of, filters.few_paths()) {
        (Some(at), _) => as_of::list_as_of(ctx, req, root, at, READ_AHEAD, empty_ok),
        (None, Some(paths)) => named::asked(ctx, req, root, paths, READ_AHEAD),
        (None, None) => {
            // A list too long to ask for each: listed, from one name to the next.
            let skips = list::Skips::named(filters.named());
            list::list(ctx, req, (root, skips), READ_AHEAD, empty_ok)
        }
    }
}

/// The listing of a tree download's prefix.
fn listing(tree: &TreeDownload) -> ListObjectsRequest {
    folder_listing(&tree.bucket, &tree.prefix, &tree.request)
}

/// Downloads what `found` yields, as `tree` says.
pub(crate) async fn download_found<C: ObjectClient>(
    ctx: Context<C>,
    tree: TreeDownload,
    found: mpsc::Receiver<Found>,
) -> Result<TreeOutcome, Error> {
    // The tree's folders are flushed once each at the end.
    let folders = Arc::new(crate::durable::Folders::default());
    let mut ctx = ctx;
    ctx.folders = Some(folders.clone());
    let range = tree.settings.range_size.max(1);
    let weight = move |item: &Item| item.size.div_ceil(range).min(u64::from(u32::MAX)) as u32;
    let archived = tree.skip_archived.then(|| tree.bucket.clone());
    // A download creates the folders its file goes in.
    let start = move |ctx: Context<C>, item: Item| -> BoxFuture<'static, _> {
        let download = Download {
            bucket: tree.bucket.clone(),
            key: item.key,
            version_id: item.version_id,
            as_of: None,
            request: tree.request.clone(),
            // The listing's size and ETag let a small object come down in one GET.
            listed: item.etag.map(|etag| Listed {
                size: item.size,
                etag,
            }),
            range: None,
            target: Target::File(item.path.clone()),
            settings: tree.settings.clone(),
        };
        match item.held_by {
            Some(file) => Box::pin(sync::moved(ctx, download, *file)),
            None => Box::pin(crate::download::run(ctx, download)),
        }
    };
    let ended = run(ctx, found, weight, start, &as_listed, archived.as_deref()).await;
    tokio::task::spawn_blocking(move || folders.sync())
        .await
        .map_err(|e| Error::new(ErrorKind::Local, format!("the folder flush failed: {e}")))?;
    ended
}
