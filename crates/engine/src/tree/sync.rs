//! Sync: a folder to a prefix, or a prefix to a folder, moving only what differs. Both sides
//! are read as streams in the byte order of keys (the folder walk sorts as ListObjectsV2
//! does) and merged as they come, so memory does not grow with the count; what differs goes
//! through the tree runner like any transfer; what only the destination holds is deleted at
//! the end when asked, and only when both sides were read whole and every transfer
//! succeeded.
//!
//! Same or not, with no request per object where the listing says enough:
//! - [`Compare::SizeAndTime`]: the sizes are equal and the times agree. Up, the object is not
//!   older than the file (written after the file last changed: the aws cli's and s5cmd's
//!   rule; the stored `mtime` is not in a listing). Down, the file has the object's time: its
//!   Last-Modified, or else (a HeadObject, for same-size objects only) the `mtime` stored at
//!   upload, which downloads give their files.
//! - [`Compare::SizeOnly`]: the sizes are equal.

use std::time::{Duration, SystemTime};

use ferry_s3::{DeleteObjectsRequest, GetObjectRequest, ObjectClient, ObjectIdentifier};
use globset::{Glob, GlobMatcher};
use tokio::sync::mpsc;

use super::walk::{Walk, list, walk_into};
use super::{Found, Item, READ_AHEAD, TreeDownload, TreeUpload, keys};
use crate::context::Context;
use crate::error::{Error, ErrorKind};
use crate::outcome::{ObjectFailure, TreeOutcome};
use crate::progress::Event;

/// When a source object and its destination count as the same.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compare {
    /// Same size, and times that agree (see the module's documentation).
    #[default]
    SizeAndTime,
    /// Same size.
    SizeOnly,
}

/// Which paths take part: `--exclude` and `--include` globs, in the order given; the last
/// one that matches a path decides, and a path none matches takes part (the aws cli's rule).
/// A glob matches the path below the folder, or the key below the prefix; `*` matches `/`
/// too.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    rules: Vec<(bool, GlobMatcher)>,
}

impl Filters {
    /// Adds a rule: `include` or exclude the paths `glob` matches.
    pub fn push(&mut self, include: bool, glob: &str) -> Result<(), Error> {
        let g = Glob::new(glob)
            .map_err(|e| Error::invalid(format!("the filter {glob:?} is not a glob: {e}")))?;
        self.rules.push((include, g.compile_matcher()));
        Ok(())
    }

    /// Whether `rel` takes part.
    pub fn allows(&self, rel: &str) -> bool {
        self.rules
            .iter()
            .rev()
            .find(|(_, g)| g.is_match(rel))
            .is_none_or(|(include, _)| *include)
    }
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
    /// Refuse to delete more than this many (nothing is deleted then).
    pub max_delete: Option<u64>,
    /// Which paths take part.
    pub filters: Filters,
}

/// A folder to a prefix, moving only what differs.
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

/// What one path of a sync came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncAction {
    /// Sent to S3.
    Upload,
    /// Brought from S3.
    Download,
    /// The same on both sides.
    Skip,
    /// An object removed from the destination prefix.
    DeleteObject,
    /// A file removed from the destination folder.
    DeleteFile,
}

impl SyncAction {
    /// Its name in messages and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncAction::Upload => "upload",
            SyncAction::Download => "download",
            SyncAction::Skip => "skip",
            SyncAction::DeleteObject | SyncAction::DeleteFile => "delete",
        }
    }
}

/// What a sync did.
#[derive(Debug, Default)]
pub struct SyncOutcome {
    /// The transfers (uploads or downloads) it ran.
    pub transfers: TreeOutcome,
    /// Paths the same on both sides.
    pub skipped: u64,
    /// Paths found to differ (sent to the transfers, or in a dry run, that would be).
    pub differing: u64,
    /// Their bytes.
    pub differing_bytes: u64,
    /// Paths deleted from the destination (or, in a dry run, that would be).
    pub deleted: u64,
    /// Deletions that failed.
    pub delete_failed: Vec<ObjectFailure>,
    /// Why the deletions were not made, when they were asked for and held back (a failed
    /// transfer or listing, or more than the limit).
    pub deletions_held: Option<String>,
    /// Nothing was done: what would be was reported.
    pub dry_run: bool,
}

impl SyncOutcome {
    /// Whether everything asked for was done.
    pub fn is_complete(&self) -> bool {
        self.transfers.is_complete()
            && self.delete_failed.is_empty()
            && self.deletions_held.is_none()
    }
}

/// Which side is which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Up,
    Down,
}

/// What the merge decided, beyond the transfers it sent on.
#[derive(Default)]
struct Merged {
    skipped: u64,
    /// Transfers decided: their count and bytes.
    planned: (u64, u64),
    deletions: Vec<Item>,
    listing_failed: bool,
}

/// Runs a sync up in `ctx`.
pub(crate) async fn up<C: ObjectClient>(ctx: Context<C>, s: SyncUp) -> Result<SyncOutcome, Error> {
    crate::job::check(&s.tree.settings, &s.tree.options)?;
    let prefix = keys::as_folder(&s.tree.prefix);
    let source = walk_into(Walk::new(&s.tree.root, &prefix)?, READ_AHEAD);
    let listing = ferry_s3::ListObjectsRequest {
        bucket: s.tree.bucket.clone(),
        prefix: (!prefix.is_empty()).then_some(prefix.clone()),
        request: s.tree.options.request.clone(),
        ..Default::default()
    };
    let dest = list(&ctx, listing, s.tree.root.clone(), READ_AHEAD, true);
    let tree = s.tree.clone();
    run(
        ctx,
        Direction::Up,
        s.sync,
        prefix,
        source,
        dest,
        &tree.bucket.clone(),
        |ctx, found| super::upload_found(ctx, tree, found),
    )
    .await
}

/// Runs a sync down in `ctx`.
pub(crate) async fn down<C: ObjectClient>(
    ctx: Context<C>,
    s: SyncDown,
) -> Result<SyncOutcome, Error> {
    crate::download::check(&s.tree.settings)?;
    super::check_folder(&s.tree.root)?;
    let prefix = keys::as_folder(&s.tree.prefix);
    let source = list(
        &ctx,
        super::listing(&s.tree),
        s.tree.root.clone(),
        READ_AHEAD,
        true,
    );
    let dest = if s.tree.root.is_dir() {
        walk_into(Walk::new(&s.tree.root, &prefix)?, READ_AHEAD)
    } else {
        mpsc::channel(1).1
    };
    let tree = s.tree.clone();
    run(
        ctx,
        Direction::Down,
        s.sync,
        prefix,
        source,
        dest,
        &tree.bucket.clone(),
        |ctx, found| super::download_found(ctx, tree, found),
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn run<C, F, Fut>(
    ctx: Context<C>,
    direction: Direction,
    settings: SyncSettings,
    prefix: String,
    source: mpsc::Receiver<Found>,
    dest: mpsc::Receiver<Found>,
    bucket: &str,
    transfer: F,
) -> Result<SyncOutcome, Error>
where
    C: ObjectClient,
    F: FnOnce(Context<C>, mpsc::Receiver<Found>) -> Fut,
    Fut: std::future::Future<Output = Result<TreeOutcome, Error>>,
{
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    let merging = {
        let (ctx, settings, prefix, bucket) = (
            ctx.clone(),
            settings.clone(),
            prefix.clone(),
            bucket.to_string(),
        );
        tokio::spawn(async move {
            merge(
                &ctx, direction, &settings, &prefix, &bucket, source, dest, tx,
            )
            .await
        })
    };
    let transfers = if settings.dry_run {
        // Nothing moves: the merge's transfers are only reported.
        let mut rx = rx;
        let mut failed = None;
        while let Some(f) = rx.recv().await {
            if let Found::Fatal(e) = f {
                failed = Some(e);
            }
        }
        failed.map_or(Ok(TreeOutcome::default()), Err)
    } else {
        transfer(ctx.clone(), rx).await
    };
    let merged = merging
        .await
        .map_err(|e| Error::new(ErrorKind::Local, format!("the sync's merge failed: {e}")))?;
    let transfers = transfers?;
    let mut outcome = SyncOutcome {
        skipped: merged.skipped,
        differing: merged.planned.0,
        differing_bytes: merged.planned.1,
        dry_run: settings.dry_run,
        ..Default::default()
    };
    let deletions = merged.deletions;
    outcome.transfers = transfers;
    if !settings.delete || deletions.is_empty() {
        return Ok(outcome);
    }
    let held = if merged.listing_failed {
        Some("a listing failed part-way".to_string())
    } else if !outcome.transfers.is_complete() {
        Some("not every transfer succeeded".to_string())
    } else {
        settings
            .max_delete
            .filter(|m| deletions.len() as u64 > *m)
            .map(|max| {
                format!(
                    "{} deletions are more than --max-delete {max} allows",
                    deletions.len()
                )
            })
    };
    if let Some(why) = held {
        outcome.deletions_held = Some(format!("nothing was deleted: {why}"));
        return Ok(outcome);
    }
    for d in &deletions {
        ctx.emit(Event::Synced {
            action: match direction {
                Direction::Up => SyncAction::DeleteObject,
                Direction::Down => SyncAction::DeleteFile,
            },
            key: d.key.clone(),
            path: d.path.clone(),
            size: d.size,
            dry_run: settings.dry_run,
        });
    }
    if settings.dry_run {
        outcome.deleted = deletions.len() as u64;
        return Ok(outcome);
    }
    match direction {
        Direction::Up => delete_objects(&ctx, bucket, deletions, &mut outcome).await,
        Direction::Down => delete_files(deletions, &mut outcome).await,
    }
    Ok(outcome)
}

/// Removes objects, a thousand a request.
async fn delete_objects<C: ObjectClient>(
    ctx: &Context<C>,
    bucket: &str,
    deletions: Vec<Item>,
    outcome: &mut SyncOutcome,
) {
    for batch in deletions.chunks(DeleteObjectsRequest::MAX_KEYS) {
        let req = DeleteObjectsRequest {
            bucket: bucket.to_string(),
            objects: batch
                .iter()
                .map(|d| ObjectIdentifier {
                    key: d.key.clone(),
                    version_id: None,
                })
                .collect(),
            ..Default::default()
        };
        match ctx.request(None, |c| c.delete_objects(&req)).await {
            Ok(out) => {
                outcome.deleted += (batch.len() - out.failed.len()) as u64;
                for f in out.failed {
                    let path = batch
                        .iter()
                        .find(|d| d.key == f.key)
                        .map(|d| d.path.clone())
                        .unwrap_or_default();
                    outcome.delete_failed.push(ObjectFailure {
                        error: Error::new(
                            ErrorKind::Service,
                            format!("deleting s3://{bucket}/{}: {} {}", f.key, f.code, f.message),
                        ),
                        key: f.key,
                        path,
                    });
                }
            }
            Err(f) => {
                let e = f.into_error(format!("deleting from s3://{bucket}"), "sync");
                let text = e.to_string();
                for d in batch {
                    outcome.delete_failed.push(ObjectFailure {
                        error: Error::new(e.kind(), text.clone()),
                        key: d.key.clone(),
                        path: d.path.clone(),
                    });
                }
            }
        }
    }
}

/// Removes regular files (never folders, never what is not a regular file).
async fn delete_files(deletions: Vec<Item>, outcome: &mut SyncOutcome) {
    let done = tokio::task::spawn_blocking(move || {
        let mut failed = Vec::new();
        let mut deleted = 0;
        for d in deletions {
            let r = match std::fs::symlink_metadata(&d.path) {
                Ok(m) if m.is_file() => std::fs::remove_file(&d.path),
                Ok(_) => continue,
                Err(e) => Err(e),
            };
            match r {
                Ok(()) => deleted += 1,
                Err(e) => failed.push(ObjectFailure {
                    error: Error::local(format!("deleting {}", d.path.display()), e),
                    key: d.key,
                    path: d.path,
                }),
            }
        }
        (deleted, failed)
    })
    .await;
    match done {
        Ok((deleted, failed)) => {
            outcome.deleted += deleted;
            outcome.delete_failed.extend(failed);
        }
        Err(e) => outcome.deletions_held = Some(format!("the deletions failed: {e}")),
    }
}

/// The next item of a side, or its end (`None`); a bad entry goes on to the transfers (it
/// fails there, named), a failed listing ends the merge.
enum Next {
    Item(Item),
    End,
    Failed(Error),
}

async fn next(rx: &mut mpsc::Receiver<Found>, tx: &mpsc::Sender<Found>) -> Next {
    loop {
        match rx.recv().await {
            None => return Next::End,
            Some(Found::Item(i)) => return Next::Item(i),
            Some(Found::Bad(b)) => {
                let _ = tx.send(Found::Bad(b)).await;
            }
            Some(Found::Fatal(e)) => return Next::Failed(e),
        }
    }
}

/// Keys in the order of their path components (`b/x` before `b-c`): SeaweedFS lists a
/// prefix so, where S3 sorts whole keys by their bytes (`b-c` before `b/x`).
fn component_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.split('/').cmp(b.split('/'))
}

/// Whether no later item of a side whose next key is `head` can be `key`, whichever of the
/// two orders the side is sorted in.
fn passed(key: &str, head: Option<&str>) -> bool {
    head.is_none_or(|h| key.as_bytes() < h.as_bytes() && component_order(key, h).is_lt())
}

/// Merges the two sides: what only the source holds, or holds differently, goes to `tx`;
/// what both hold alike is skipped; what only the destination holds may be deleted.
///
/// Each side is taken in its order, the lesser head first; an item waits until the same
/// key comes from the other side (then the two are compared) or that side has passed it in
/// both orders a listing may use (then it is on one side only). Items wait only where the
/// orders disagree (names beside a folder of the same stem), so memory stays bounded.
#[allow(clippy::too_many_arguments)]
async fn merge<C: ObjectClient>(
    ctx: &Context<C>,
    direction: Direction,
    settings: &SyncSettings,
    prefix: &str,
    bucket: &str,
    mut source: mpsc::Receiver<Found>,
    mut dest: mpsc::Receiver<Found>,
    tx: mpsc::Sender<Found>,
) -> Merged {
    use std::collections::BTreeMap;
    let mut merged = Merged::default();
    let rel = |i: &Item| i.key.strip_prefix(prefix).unwrap_or(&i.key).to_string();
    let transfer = match direction {
        Direction::Up => SyncAction::Upload,
        Direction::Down => SyncAction::Download,
    };
    let mut waiting_s: BTreeMap<String, Item> = BTreeMap::new();
    let mut waiting_d: BTreeMap<String, Item> = BTreeMap::new();
    let mut s = next(&mut source, &tx).await;
    let mut d = next(&mut dest, &tx).await;
    loop {
        let (from_source, item) = match (s, d) {
            (Next::Failed(e), _) | (_, Next::Failed(e)) => {
                merged.listing_failed = true;
                let _ = tx.send(Found::Fatal(e)).await;
                return merged;
            }
            (Next::End, Next::End) => {
                s = Next::End;
                d = Next::End;
                (true, None)
            }
            (Next::Item(a), Next::End) => {
                d = Next::End;
                s = next(&mut source, &tx).await;
                (true, Some(a))
            }
            (Next::End, Next::Item(b)) => {
                s = Next::End;
                d = next(&mut dest, &tx).await;
                (false, Some(b))
            }
            (Next::Item(a), Next::Item(b)) => {
                if a.key.as_bytes() <= b.key.as_bytes() {
                    d = Next::Item(b);
                    s = next(&mut source, &tx).await;
                    (true, Some(a))
                } else {
                    s = Next::Item(a);
                    d = next(&mut dest, &tx).await;
                    (false, Some(b))
                }
            }
        };
        if let Some(item) = item.filter(|i| settings.filters.allows(&rel(i))) {
            let (mine, theirs) = if from_source {
                (&mut waiting_s, &mut waiting_d)
            } else {
                (&mut waiting_d, &mut waiting_s)
            };
            match theirs.remove(&item.key) {
                Some(other) => {
                    let (a, b) = if from_source {
                        (item, other)
                    } else {
                        (other, item)
                    };
                    if same(ctx, direction, settings.compare, bucket, &a, &b).await {
                        merged.skipped += 1;
                        report(ctx, SyncAction::Skip, &a, settings.dry_run);
                    } else if !send(ctx, transfer, a, settings.dry_run, &tx, &mut merged).await {
                        return merged;
                    }
                }
                None => {
                    mine.insert(item.key.clone(), item);
                }
            }
        }
        // What the other side has passed is on one side only.
        let head = |n: &Next| match n {
            Next::Item(i) => Some(i.key.clone()),
            _ => None,
        };
        let (head_s, head_d) = (head(&s), head(&d));
        let gone_s: Vec<String> = waiting_s
            .keys()
            .take_while(|k| head_d.as_ref().is_none_or(|h| k.as_bytes() < h.as_bytes()))
            .filter(|k| passed(k, head_d.as_deref()))
            .cloned()
            .collect();
        for k in gone_s {
            let i = waiting_s.remove(&k).expect("waiting");
            if !send(ctx, transfer, i, settings.dry_run, &tx, &mut merged).await {
                return merged;
            }
        }
        let gone_d: Vec<String> = waiting_d
            .keys()
            .take_while(|k| head_s.as_ref().is_none_or(|h| k.as_bytes() < h.as_bytes()))
            .filter(|k| passed(k, head_s.as_deref()))
            .cloned()
            .collect();
        for k in gone_d {
            let i = waiting_d.remove(&k).expect("waiting");
            if settings.delete {
                merged.deletions.push(i);
            }
        }
        if matches!((&s, &d), (Next::End, Next::End))
            && waiting_s.is_empty()
            && waiting_d.is_empty()
        {
            return merged;
        }
    }
}

/// Sends a path to the transfers (or, in a dry run, reports it); false when the transfers
/// have stopped.
async fn send<C: ObjectClient>(
    ctx: &Context<C>,
    action: SyncAction,
    i: Item,
    dry_run: bool,
    tx: &mpsc::Sender<Found>,
    merged: &mut Merged,
) -> bool {
    report(ctx, action, &i, dry_run);
    merged.planned.0 += 1;
    merged.planned.1 += i.size;
    tx.send(Found::Item(i)).await.is_ok()
}

/// Reports a decision: a skip always, a transfer only in a dry run (a real one reports its
/// end as any tree's object does).
fn report<C: ObjectClient>(ctx: &Context<C>, action: SyncAction, i: &Item, dry_run: bool) {
    if action == SyncAction::Skip || dry_run {
        ctx.emit(Event::Synced {
            action,
            key: i.key.clone(),
            path: i.path.clone(),
            size: i.size,
            dry_run,
        });
    }
}

/// Whole seconds since the epoch.
fn secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

/// Whether source `a` and destination `b` are the same.
async fn same<C: ObjectClient>(
    ctx: &Context<C>,
    direction: Direction,
    compare: Compare,
    bucket: &str,
    a: &Item,
    b: &Item,
) -> bool {
    if a.size != b.size {
        return false;
    }
    if compare == Compare::SizeOnly {
        return true;
    }
    match direction {
        // The object (b) was written no earlier than the file (a) last changed.
        Direction::Up => match (a.mtime, b.mtime) {
            (Some(file), Some(object)) => secs(object) >= secs(file),
            _ => false,
        },
        // The file (b) has the object's (a) time: its Last-Modified, or the stored mtime.
        Direction::Down => {
            let (Some(file), Some(listed)) = (b.mtime, a.mtime) else {
                return false;
            };
            if secs(file) == secs(listed) {
                return true;
            }
            let req = GetObjectRequest {
                bucket: bucket.to_string(),
                key: a.key.clone(),
                ..Default::default()
            };
            match ctx.request(None, |c| c.head_object(&req)).await {
                Ok(meta) => meta
                    .metadata
                    .get(crate::mtime::MTIME_KEY)
                    .and_then(|v| crate::mtime::parse_mtime(v))
                    .is_some_and(|stored| {
                        stored == file
                            || (stored
                                .duration_since(SystemTime::UNIX_EPOCH)
                                .map(|d| d.subsec_nanos() == 0)
                                .unwrap_or(false)
                                && secs(stored) == secs(file))
                    }),
                Err(_) => false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_passed_only_when_both_orders_agree() {
        // S3's byte order puts b-c before b/x; SeaweedFS's component order, after.
        assert!("b-c" < "b/x");
        assert!(component_order("b/x", "b-c").is_lt());
        assert!(
            !passed("b-c", Some("b/x")),
            "a component-ordered side may still list b-c"
        );
        assert!(
            !passed("b/x", Some("b-c")),
            "a byte-ordered side may still list b/x"
        );
        assert!(passed("a.txt", Some("b/x")));
        assert!(passed("b/x", Some("c")));
        assert!(passed("anything", None));
    }

    #[test]
    fn the_last_matching_filter_decides() {
        let mut f = Filters::default();
        assert!(f.allows("a/b.txt"));
        f.push(false, "*.log").unwrap();
        f.push(true, "keep/*.log").unwrap();
        assert!(!f.allows("x.log"));
        assert!(!f.allows("deep/x.log"), "* matches / too");
        assert!(f.allows("keep/x.log"));
        assert!(f.allows("x.txt"));
        f.push(false, "*").unwrap();
        assert!(!f.allows("keep/x.log"));
        assert!(Filters::default().push(true, "a[").is_err());
    }
}
