//! Trees: a folder to a prefix (every file under it) and a prefix to a folder (every object
//! under it), as one transfer of many objects. The walk or the listing streams in (`walk`),
//! objects start as it goes, as many at once as the manager's request budget has room for,
//! each an upload or download like any other (checksummed, verified, journaled or kept as a
//! partial file), their parts sharing the one memory budget. One object failing does not stop
//! the others: each is reported as it ends, and the outcome lists what failed. A failure every
//! other object would meet too (a missing bucket, rejected credentials, a full disk) stops the
//! run instead, reported once.

mod as_of;
pub(crate) mod copy;
mod each;
pub(crate) mod filter;
pub(crate) mod keys;
pub(crate) mod lock;
pub(crate) mod remove;
pub(crate) mod restore;
pub(crate) mod sides;
pub(crate) mod sync;
mod walk;

use std::path::PathBuf;
use std::sync::Arc;

use ferry_s3::{ListObjectsRequest, ObjectClient, ObjectOptions, RequestOptions};
use futures_util::future::BoxFuture;
use tokio::sync::{Semaphore, mpsc};

use crate::budget::Slots;
use crate::context::Context;
use crate::download::{Download, DownloadSettings, Listed, Target};
use crate::error::{Error, ErrorKind};
use crate::job::UploadSettings;
use crate::outcome::{DownloadOutcome, ObjectFailure, TreeOutcome, UploadOutcome};
use crate::progress::Event;
use crate::schedule::{Pool, Sink};
use crate::shard::Shard;
use crate::upload::{Source, Upload};
use filter::{Filters, Named, selected_all};
use sides::{Direction, Sides};

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
    /// Only report what would be sent (see [`Event::Synced`]), send nothing.
    pub dry_run: bool,
    /// Take a symbolic link below `root` as what it points at (by default, `true`, as the
    /// aws cli does); with `false` each one is passed over ([`Event::PassedOver`]), so a link
    /// to `/` in a home folder does not send the whole disk. A sync takes such a path as not
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
    /// Only report what would be written (see [`Event::Synced`]), write nothing.
    pub dry_run: bool,
    /// Each object as it was at this time, from a listing of versions (ListObjectVersions):
    /// the version then current; a key deleted then, or only written later, is left out. A
    /// key whose only version came later with no version id (versioning off or suspended)
    /// fails on its own: what it held then was not kept (and a sync's deletions are held
    /// back, rather than take it for absent). By default (`None`), each object as it is now.
    pub as_of: Option<std::time::SystemTime>,
    /// Pass over each archived object no restored copy of which is readable (reported in an
    /// [`Event::PassedOver`], counted in `passed_over`), rather than fail it with
    /// [`ErrorKind::Archived`]: as the aws cli does by default.
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
    let listed = source_list(&ctx, listing(&tree), root, tree.as_of, false);
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

/// The source side of a tree: `req`'s prefix listed page by page (see [`walk::list`]), as it
/// is or, with `as_of`, as it was then (see [`as_of::list_as_of`]).
pub(crate) fn source_list<C: ObjectClient>(
    ctx: &Context<C>,
    req: ListObjectsRequest,
    root: Option<PathBuf>,
    as_of: Option<std::time::SystemTime>,
    empty_ok: bool,
) -> mpsc::Receiver<Found> {
    match as_of {
        Some(at) => as_of::list_as_of(ctx, req, root, at, READ_AHEAD, empty_ok),
        None => walk::list(ctx, req, root, READ_AHEAD, empty_ok),
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

/// How one object's end is reported.
pub(crate) trait Ended: Send + 'static {
    /// The event for a finished object.
    fn event(&self, item: &Item) -> Event;
    /// Its bytes an earlier run had moved.
    fn reused(&self) -> u64;
    /// Its size as it was moved (a file of the kernel's, walked as 0 bytes, holds more).
    fn size(&self) -> u64;
}

impl Ended for UploadOutcome {
    fn event(&self, item: &Item) -> Event {
        Event::ObjectUploaded {
            path: Some(item.path.clone()),
            outcome: Box::new(self.clone()),
        }
    }
    fn reused(&self) -> u64 {
        self.reused
    }
    fn size(&self) -> u64 {
        self.size
    }
}

impl Ended for DownloadOutcome {
    fn event(&self, _item: &Item) -> Event {
        Event::ObjectDownloaded(Box::new(self.clone()))
    }
    fn reused(&self) -> u64 {
        self.reused
    }
    fn size(&self) -> u64 {
        self.size
    }
}

/// Counts objects as they end, and reports each.
struct Tally<'a, C> {
    ctx: &'a Context<C>,
    outcome: TreeOutcome,
    /// Objects refused for their signature while none has succeeded.
    unsigned: u32,
    /// How a failed object is named (see [`Naming`]).
    name: &'a Naming,
    /// The source bucket, when an archived object is passed over rather than failed.
    pass_archived: Option<&'a str>,
}

/// How a tree names an object that failed, as an [`ObjectFailure`]'s path and key: by
/// default the item's own (an upload's file and key, a download's key and file).
pub(crate) type Naming = dyn Fn(&Item) -> (PathBuf, String) + Send + Sync;

/// The item's own path and key.
pub(crate) fn as_listed(item: &Item) -> (PathBuf, String) {
    (item.path.clone(), item.key.clone())
}

impl<C: ObjectClient> Tally<'_, C> {
    fn failed(&mut self, f: ObjectFailure, size: u64) {
        let kept = f.error.resume_id().is_some();
        if kept {
            self.outcome.kept += 1;
        }
        if f.error.kind() == ErrorKind::Cancelled {
            // Cancelled or drained partway, not stopped for a failure: the run is
            // interrupted, whatever else ends it.
            self.outcome.interrupted |= !self.outcome.stopped;
            return;
        }
        if self.every_other_would_fail(&f.error) {
            if self.outcome.stopped {
                // Met again by an object that was under way: listed once.
                return;
            }
            self.outcome.stopped = true;
        }
        self.ctx.emit(Event::ObjectFailed {
            path: f.path.clone(),
            key: f.key.clone(),
            size,
            error: f.error.to_string(),
            kept,
        });
        self.outcome.failed.push(f);
    }

    /// Reports an entry passed over, and counts it.
    fn passed_over(&mut self, p: PassedOver) {
        self.outcome.passed_over += 1;
        self.ctx.emit(Event::PassedOver {
            what: p.what,
            why: p.why,
        });
    }
}

impl<C> Tally<'_, C> {
    /// Whether `e` is one every other object would meet too (see
    /// [`Error::concerns_every_object`]): a missing bucket, rejected credentials, a full disk.
    /// A wrong secret key shows as `SignatureDoesNotMatch`, which a server may also answer
    /// for one key it names otherwise: that stops the run only once two objects met it and
    /// none succeeded.
    fn every_other_would_fail(&mut self, e: &Error) -> bool {
        if e.concerns_every_object() {
            return true;
        }
        let unsigned = e.s3().and_then(ferry_s3::S3Error::code) == Some("SignatureDoesNotMatch");
        if !unsigned || self.outcome.done > 0 {
            return false;
        }
        self.unsigned += 1;
        self.unsigned >= 2
    }
}

impl<C: ObjectClient, T: Ended> Sink<(Item, Result<T, Error>)> for Tally<'_, C> {
    async fn accept(&mut self, (item, result): (Item, Result<T, Error>)) -> Result<(), Error> {
        self.ctx.caught_up().await;
        self.ctx.progress.object_ended();
        match result {
            Ok(o) => {
                self.outcome.done += 1;
                self.outcome.bytes += o.size();
                self.outcome.reused += o.reused();
                self.ctx.emit(o.event(&item));
            }
            // Left as it was, as asked: the run goes on, and did what it was asked.
            Err(error) if error.kind() == ErrorKind::Exists => {
                let (path, key) = (self.name)(&item);
                self.outcome.existed += 1;
                let why = error.to_string();
                self.ctx.emit(Event::Existed { path, key, why });
            }
            // Archived, passed over as asked: neither done nor failed.
            Err(error) if error.kind() == ErrorKind::Archived && self.pass_archived.is_some() => {
                let bucket = self.pass_archived.unwrap_or_default();
                self.passed_over(PassedOver {
                    what: format!("s3://{bucket}/{}", item.key),
                    why: "archived, with no restored copy readable (restore it first)".into(),
                    key: item.key,
                });
            }
            Err(error) => {
                let (path, key) = (self.name)(&item);
                self.failed(ObjectFailure { path, key, error }, item.size);
            }
        }
        Ok(())
    }
}

/// Runs every object `found` yields through `start`, side by side within the request budget:
/// each object takes as many of its slots as it has parts or ranges (`weight`), a whole
/// object's width at most, so small objects go many at a time and a big one gets its full
/// width (and an interrupted run leaves few objects half done). An object gives its slots
/// back once its requests are over ([`Context::requests_over`]): a file waiting for its flush
/// and rename leaves them to the next objects, up to as many objects again as the width
/// waiting so (each holding its bytes' memory until written). Reports each as it ends. A
/// cancel stops new objects and cancels those running (the outcome is then marked
/// interrupted); a failed walk or listing stops new objects and is the error once those
/// running have ended. A failure every other object would meet too (a missing bucket,
/// rejected credentials, a full disk) stops new objects and cancels those running: the
/// outcome is marked stopped, that failure listed once (not again for each object that was
/// under way).
pub(crate) async fn run<C, T, W, F, Fut>(
    ctx: Context<C>,
    mut found: mpsc::Receiver<Found>,
    weight: W,
    start: F,
    name: &Naming,
    pass_archived: Option<&str>,
) -> Result<TreeOutcome, Error>
where
    C: ObjectClient,
    T: Ended,
    W: Fn(&Item) -> u32,
    F: Fn(Context<C>, Item) -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>> + Send + 'static,
{
    let shared = ctx.shared.clone();
    let width = shared.requests.limit().max(1);
    let slots = Arc::new(Semaphore::new(width as usize));
    let mut pool: Pool<(Item, Result<T, Error>)> =
        Pool::new(2 * width, &shared.memory, ctx.stops(), "transfer");
    let mut tally = Tally {
        ctx: &ctx,
        outcome: TreeOutcome::default(),
        unsigned: 0,
        name,
        pass_archived,
    };
    // The objects' cancel token: this run's cancels it, and so does a failure every object
    // would meet (without marking the run interrupted).
    let objects = Context {
        cancel: ctx.cancel.child_token(),
        ..ctx.clone()
    };
    let mut fatal = None;
    // Until the last object found has started, the totals are not all known.
    let finding = ctx.progress.finding();
    while pool.room(0, &mut tally).await.is_some() && !tally.outcome.stopped {
        ctx.caught_up().await;
        let item = tokio::select! {
            f = found.recv() => f,
            () = ctx.cancel.cancelled() => None,
        };
        match item {
            None => break,
            Some(Found::Fatal(e)) => {
                fatal = Some(e);
                break;
            }
            Some(Found::Bad(f)) => {
                tally.outcome.objects += 1;
                tally.failed(f, 0);
            }
            Some(Found::PassedOver(p)) => tally.passed_over(p),
            Some(Found::Item(item)) => {
                if !shared.allowance.take(item.size) {
                    // It would take the run past its allowance: nothing more starts.
                    let (path, key) = name(&item);
                    let left = shared.allowance.left().unwrap_or_default();
                    let size = item.size;
                    ctx.emit(Event::OverAllowance {
                        path,
                        key,
                        size,
                        left,
                    });
                    tally.outcome.interrupted = true;
                    break;
                }
                let want = weight(&item).clamp(1, shared.parts_per_object.min(width));
                let held = loop {
                    if tally.outcome.stopped {
                        break None;
                    }
                    let busy = !pool.is_empty();
                    tokio::select! {
                        biased;
                        () = ctx.cancel.cancelled() => break None,
                        () = ctx.drain.cancelled() => break None,
                        p = slots.clone().acquire_many_owned(want) => {
                            break Some(p.expect("the slots are never closed"));
                        }
                        _ = pool.settle_one(&mut tally), if busy => {}
                    }
                };
                let Some(held) = held else {
                    // This object is left: the run is interrupted (or failed).
                    shared.allowance.give_back(item.size);
                    tally.outcome.interrupted |= !tally.outcome.stopped;
                    break;
                };
                tally.outcome.objects += 1;
                ctx.progress.object_started();
                let held = Slots::new(held);
                let child = Context {
                    slots: Some(held.clone()),
                    ..objects.child()
                };
                // Counted in the tree's total now, as found; its transfer corrects the size
                // (a file that grew) and adds its parts once planned.
                let counted = child.progress.clone();
                counted.set_total(item.size, 0);
                let run = start(child, item.clone());
                let allowance = shared.allowance.clone();
                pool.spawn(async move {
                    let result = run.await;
                    if matches!(&result, Err(e) if e.kind() == ErrorKind::Exists) {
                        // Left as it was: none of its bytes are to move.
                        counted.set_total(0, 0);
                        allowance.give_back(item.size);
                    }
                    held.give_back();
                    Ok((item, result))
                });
            }
        }
    }
    drop(finding);
    if tally.outcome.stopped {
        objects.cancel.cancel();
    }
    let ended = pool.finish(&mut tally).await;
    let mut outcome = tally.outcome;
    // Drained: objects were left unstarted, or some stopped partway.
    let drained = ctx.drain.is_cancelled()
        && (outcome.interrupted || matches!(&ended, Err(e) if e.kind() == ErrorKind::Cancelled));
    if ctx.cancel.is_cancelled() || drained {
        outcome.interrupted = true;
        return Ok(outcome);
    }
    if let Some(e) = fatal {
        return Err(e);
    }
    ended.map(|()| outcome)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use ferry_testkit::MemoryClient;
    use tokio::sync::Notify;
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::manager::{Manager, ManagerConfig};

    /// An object's end, for a tree of objects that do nothing.
    struct Done;

    impl Ended for Done {
        fn event(&self, _item: &Item) -> Event {
            Event::Concurrency { limit: 0 }
        }
        fn reused(&self) -> u64 {
            0
        }
        fn size(&self) -> u64 {
            1
        }
    }

    fn item(key: &str) -> Found {
        Found::Item(Item::named(key, 1))
    }

    /// A tree one object wide: `a` waits (as a file waits for its flush) until `b` has
    /// started, having said its requests are over or not.
    async fn first_waits_for_second(requests_over: bool, wait: Duration) -> TreeOutcome {
        let client = Arc::new(MemoryClient::new(Duration::ZERO));
        let config = ManagerConfig {
            max_requests: 1,
            parts_per_object: 1,
            ..Default::default()
        };
        let manager = Manager::new(client, config).expect("a manager");
        let ctx = manager.quiet_context(&CancellationToken::new());
        let (tx, rx) = mpsc::channel(2);
        for key in ["a", "b"] {
            tx.send(item(key)).await.expect("the run listens");
        }
        drop(tx);
        let second = Arc::new(Notify::new());
        let start = move |ctx: Context<MemoryClient>, item: Item| {
            let second = second.clone();
            async move {
                if item.key == "b" {
                    second.notify_one();
                    return Ok(Done);
                }
                if requests_over {
                    ctx.requests_over();
                }
                match tokio::time::timeout(wait, second.notified()).await {
                    Ok(()) => Ok(Done),
                    Err(_) => Err(Error::invalid("b did not start while a waited")),
                }
            }
        };
        run(ctx, rx, |_| 1, start, &as_listed, None)
            .await
            .expect("the run ends")
    }

    #[tokio::test]
    async fn an_object_whose_requests_are_over_leaves_its_slots_to_the_next() {
        let o = first_waits_for_second(true, Duration::from_secs(10)).await;
        assert_eq!((o.done, o.failed.len()), (2, 0), "{:?}", o.failed);
        // Until then an object holds its slots: the width still bounds the tree.
        let o = first_waits_for_second(false, Duration::from_millis(200)).await;
        assert_eq!((o.done, o.failed.len()), (1, 1));
        assert_eq!(o.failed[0].key, "a");
    }
}
