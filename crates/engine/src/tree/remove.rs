//! Removing objects: one object, or every object under a prefix, listed page by page while
//! the objects already listed are deleted, a thousand keys a DeleteObjects request, several
//! requests at once through the pool; every version of them (listed with ListObjectVersions
//! and deleted by id); or the objects a caller's stream names. A sync's deletions (objects, or
//! files) run through the same loop.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ferry_s3::{
    DeleteObjectRequest, DeleteObjectsRequest, GetObjectRequest, ListObjectVersionsRequest,
    ObjectClient, ObjectIdentifier, RequestOptions,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::filter::{Filters, selected};
use super::list::list_versions;
use super::{Found, Item, READ_AHEAD, keys, sides::url};
use crate::context::{Context, HeadFailure};
use crate::error::{Error, ErrorKind, Failure};
use crate::outcome::{ObjectFailure, Removal};
use crate::progress::Event;
use crate::schedule::{Pool, Sink};

/// Objects to delete: one object, or with `recursive` every object under a prefix; with
/// `all_versions`, every version and delete marker of them.
#[derive(Debug, Clone)]
pub struct Remove {
    /// Bucket.
    pub bucket: String,
    /// The object's key; with `recursive`, the prefix (a `/` is added when it has none;
    /// empty: the whole bucket).
    pub key: String,
    /// Every object under the prefix `key` names, folder markers too.
    pub recursive: bool,
    /// One object: delete this version of it, for good (by default, the current version,
    /// which a versioned bucket keeps behind a delete marker).
    pub version_id: Option<String>,
    /// Expected bucket owner, requester pays: sent with every request.
    pub request: RequestOptions,
    /// Which objects under the prefix are deleted, by their key below it (every one by
    /// default).
    pub filters: Filters,
    /// Only report what would be deleted (in [`Event::Removed`], with `dry_run`).
    pub dry_run: bool,
    /// Delete every version and every delete marker, for good (ListObjectVersions, then
    /// DeleteObjects naming each version): of the one object, or with `recursive` of every
    /// key under the prefix. What a versioned bucket holds goes; needs
    /// `s3:ListBucketVersions` and `s3:DeleteObjectVersion`.
    pub all_versions: bool,
    /// Delete a version under a GOVERNANCE retention all the same, where a version is
    /// deleted for good (`version_id`, `all_versions`, or versions a stream names); needs
    /// `s3:BypassGovernanceRetention`. A COMPLIANCE retention or a legal hold still refuses.
    pub bypass_governance_retention: bool,
}

impl Remove {
    /// The object `bucket`/`key`.
    pub fn object(bucket: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            key: key.into(),
            recursive: false,
            version_id: None,
            request: RequestOptions::default(),
            filters: Filters::default(),
            dry_run: false,
            all_versions: false,
            bypass_governance_retention: false,
        }
    }

    /// The objects a stream names in `bucket`, for
    /// [`Manager::remove_objects`](crate::Manager::remove_objects): its `request`, `dry_run`
    /// and `bypass_governance_retention` apply; the names say the keys and versions.
    pub fn named(bucket: impl Into<String>) -> Self {
        Self::object(bucket, "")
    }

    /// Every object under `bucket`/`prefix`.
    pub fn prefix(bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self {
            recursive: true,
            ..Self::object(bucket, prefix)
        }
    }
}

/// What a removal did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct RemoveOutcome {
    /// Objects deleted (or, in a dry run, that would be).
    pub removed: u64,
    /// Their bytes: as listed; for one object removed alone, its size as HeadObject gave
    /// it (0 when the credentials may not read it).
    pub bytes: u64,
    /// Objects the server refused to delete, each with why.
    pub failed: Vec<ObjectFailure>,
    /// The run was cancelled before every object listed was deleted.
    pub interrupted: bool,
    /// Nothing was deleted: what would be was reported.
    pub dry_run: bool,
}

impl RemoveOutcome {
    /// Every object found was deleted.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty() && !self.interrupted
    }
}

/// Runs `remove`.
pub(crate) async fn run<C: ObjectClient>(
    ctx: Context<C>,
    remove: Remove,
) -> Result<RemoveOutcome, Error> {
    remove.filters.walks_none("a removal")?;
    if remove.all_versions {
        return every_version(&ctx, remove).await;
    }
    if remove.recursive {
        return under_prefix(&ctx, remove).await;
    }
    if remove.key.is_empty() {
        return Err(Error::invalid(format!(
            "s3://{}/ names no object: give its key, or remove every object under a prefix",
            remove.bucket
        )));
    }
    let url = url(&remove.bucket, &remove.key);
    let mut outcome = RemoveOutcome {
        dry_run: remove.dry_run,
        ..Default::default()
    };
    let req = GetObjectRequest {
        bucket: remove.bucket.clone(),
        key: remove.key.clone(),
        version_id: remove.version_id.clone(),
        request: remove.request.clone(),
        ..Default::default()
    };
    // S3 deletes a key that is not there without a word: a HeadObject first says so (a
    // typo, or a prefix given as a key). Credentials that may delete but not read meet a
    // 403 here, and the deletion goes ahead.
    let size = match ctx.head_object(&req).await {
        Ok(meta) => meta.content_length,
        Err(h) if h.prefix => {
            return Err(Error::invalid(format!(
                "{url} is a prefix, not an object: remove it recursively to delete every object under it"
            )));
        }
        // Refused, not missing: the credentials may not read it, or it is encrypted with a
        // key of the customer's (SSE-C) that a deletion does not need.
        Err(HeadFailure {
            failure: Failure::S3(e),
            ..
        }) if e
            .status()
            .is_some_and(|s| s != 404 && (400..500).contains(&s)) =>
        {
            0
        }
        Err(HeadFailure {
            failure: Failure::S3(e),
            ..
        }) if e.status() == Some(404) && e.code() != Some("NoSuchBucket") => {
            return Err(Error::new(
                ErrorKind::Service,
                format!("{url}: no such object; nothing was deleted"),
            )
            .with_source(e));
        }
        Err(h) => {
            return Err(h.into_error(&url, |f| f.into_error(format!("removing {url}"), "removal")));
        }
    };
    if !remove.dry_run {
        let del = DeleteObjectRequest {
            bucket: remove.bucket.clone(),
            key: remove.key.clone(),
            version_id: remove.version_id.clone(),
            request: remove.request.bucket_terms(),
            if_match: None,
            bypass_governance_retention: remove.bypass_governance_retention,
        };
        ctx.request(None, |c| c.delete_object(&del))
            .await
            .map_err(|f| f.into_error(format!("removing {url}"), "removal"))?;
    }
    ctx.emit(Event::Removed {
        objects: Arc::new([Removal {
            what: url,
            key: remove.key,
            size,
            version_id: remove.version_id,
        }]),
        dry_run: remove.dry_run,
    });
    outcome.removed = 1;
    outcome.bytes = size;
    Ok(outcome)
}

/// DeleteObjects requests in flight at once, each of up to 1,000 keys. Each also takes a slot
/// of the manager's requests in flight, which a throttling server shrinks. Measured on
/// SeaweedFS (10,000 objects, `benches/rm.sh`): 6.4 s one at a time, 3.6-4.0 s four, 2.9 s
/// sixteen (s5cmd: 3.1-3.5 s).
const BATCHES_AT_ONCE: u32 = 16;

/// How long a DeleteObjects request in flight when the run is cancelled may take to answer.
const ANSWER_AFTER_CANCEL: Duration = Duration::from_secs(2);

/// What a batch came to.
struct Batch {
    /// Items it was given.
    sent: u64,
    /// Those deleted.
    gone: Vec<Item>,
    /// Those refused, each with why (a file that is not a regular one is neither).
    failed: Vec<ObjectFailure>,
}

impl Batch {
    fn new(sent: usize, gone: Vec<Item>, failed: Vec<ObjectFailure>) -> Self {
        let sent = sent as u64;
        Self { sent, gone, failed }
    }
}

/// Every object under the prefix: listed into a channel that runs ahead, and deleted as
/// [`delete_found`] deletes.
async fn under_prefix<C: ObjectClient>(
    ctx: &Context<C>,
    remove: Remove,
) -> Result<RemoveOutcome, Error> {
    let r = &remove;
    let found = super::each::under_prefix(ctx, &r.bucket, &r.key, &r.request, &r.filters);
    delete_found(ctx, Deleting::of(remove), found).await
}

/// Every version and delete marker of the object, or under the prefix: listed into a channel
/// that runs ahead, and deleted as [`delete_found`] deletes, each by its version id.
async fn every_version<C: ObjectClient>(
    ctx: &Context<C>,
    remove: Remove,
) -> Result<RemoveOutcome, Error> {
    if remove.version_id.is_some() {
        return Err(Error::invalid(
            "one version and every version cannot both be removed: name the version, or ask \
             for all",
        ));
    }
    let (prefix, only) = match remove.recursive {
        true => (keys::as_folder(&remove.key), None),
        false if remove.key.is_empty() => {
            return Err(Error::invalid(format!(
                "s3://{}/ names no object: give its key, or remove every version under a prefix",
                remove.bucket
            )));
        }
        false => (remove.key.clone(), Some(remove.key.clone())),
    };
    let req = ListObjectVersionsRequest {
        bucket: remove.bucket.clone(),
        prefix: (!prefix.is_empty()).then(|| prefix.clone()),
        request: remove.request.bucket_terms(),
        ..Default::default()
    };
    let found = list_versions(ctx, req, only.clone(), READ_AHEAD);
    let found = match only {
        Some(_) => found,
        None => selected(found, remove.filters.clone(), prefix),
    };
    delete_found(ctx, Deleting::of(remove), found).await
}

/// The objects `objects` names (each a key, and a version to delete for good, or none), in
/// `bucket`: handed on as they come, a thousand a DeleteObjects request as [`delete_found`]
/// deletes. A key that is not there is deleted without a word, as S3 deletes it; sizes are
/// not known (0).
pub(crate) async fn named<C: ObjectClient>(
    ctx: Context<C>,
    remove: Remove,
    objects: impl futures_util::Stream<Item = ObjectIdentifier> + Send + 'static,
) -> Result<RemoveOutcome, Error> {
    let set = [
        ("key", !remove.key.is_empty()),
        ("recursive", remove.recursive),
        ("version_id", remove.version_id.is_some()),
        ("all_versions", remove.all_versions),
        ("filters", !remove.filters.takes_all()),
    ];
    if let Some((what, _)) = set.iter().find(|(_, on)| *on) {
        return Err(Error::invalid(format!(
            "the objects a stream names are removed by their names' keys and versions: the \
             removal (Remove::named) sets no {what}"
        )));
    }
    let (tx, found) = mpsc::channel(READ_AHEAD);
    let feeding = tokio::spawn(async move {
        let mut objects = std::pin::pin!(objects);
        while let Some(o) = futures_util::StreamExt::next(&mut objects).await {
            let item = Item {
                path: Default::default(),
                key: o.key,
                size: 0,
                etag: None,
                mtime: None,
                version_id: o.version_id,
                storage_class: None,
                in_destination: false,
                held_by: None,
                bucket: None,
            };
            if tx.send(Found::Item(item)).await.is_err() {
                return;
            }
        }
    });
    let outcome = delete_found(&ctx, Deleting::of(remove), found).await;
    feeding.abort();
    outcome
}

/// The longest the first name of a batch waits for the batch to fill before it goes as it is.
/// A listing fills a batch from each page at once; a slower source (a list a program or a user
/// gives) sees its names deleted within this of their coming.
const BATCH_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Where a run of deletions moves the file at a path rather than delete it (a sync's backup
/// folder).
pub(crate) type FilesTo = Arc<dyn Fn(&Path) -> PathBuf + Send + Sync>;

/// Moves the file at `from` to `to` (replacing one there), making `to`'s folders.
pub(crate) fn move_file(from: &Path, to: &Path) -> Result<(), Error> {
    let moving = |e| {
        let what = format!("backing up {} to {}", from.display(), to.display());
        Error::local(what, e)
    };
    if let Some(folder) = to.parent() {
        std::fs::create_dir_all(folder).map_err(moving)?;
    }
    std::fs::rename(from, to).map_err(moving)
}

/// How a run of deletions goes.
pub(crate) struct Deleting {
    /// Where: the bucket the objects are in, with what every request to it carries (expected
    /// owner, payer); `None` for files.
    pub(crate) bucket: Option<(String, RequestOptions)>,
    /// Versions under a GOVERNANCE retention are deleted all the same.
    pub(crate) bypass_governance_retention: bool,
    /// Only report what would be deleted.
    pub(crate) dry_run: bool,
    /// A sync's deletions: a DeleteObjects request refused as a whole fails each of its keys
    /// and the others go on (the sync's outcome lists them), where a removal ends with that
    /// error.
    pub(crate) sync: bool,
    /// Files are moved there rather than deleted: a sync's backup.
    pub(crate) files_to: Option<FilesTo>,
}

impl Deleting {
    /// A removal's deletions, as `remove` asks.
    fn of(remove: Remove) -> Self {
        Self {
            bucket: Some((remove.bucket, remove.request)),
            bypass_governance_retention: remove.bypass_governance_retention,
            dry_run: remove.dry_run,
            sync: false,
            files_to: None,
        }
    }
}

/// What runs the deletions, as a cancel's error names it: a sync's, or a removal.
fn running(sync: bool) -> &'static str {
    if sync { "sync" } else { "removal" }
}

/// Deletes each item `found` yields: a thousand a batch (a DeleteObjects request, or files
/// removed on a blocking thread; fewer, once the first of them waited [`BATCH_WAIT`]),
/// [`BATCHES_AT_ONCE`] batches in flight through the pool, each reported in one
/// [`Event::Removed`] as it ends. A cancel stops it, `interrupted`.
pub(crate) async fn delete_found<C: ObjectClient>(
    ctx: &Context<C>,
    how: Deleting,
    mut found: mpsc::Receiver<Found>,
) -> Result<RemoveOutcome, Error> {
    let what = running(how.sync);
    let mut tally = Tally {
        ctx,
        bucket: how.bucket.as_ref().map(|(b, _)| b.as_str()),
        outcome: RemoveOutcome {
            dry_run: how.dry_run,
            ..Default::default()
        },
        answered: 0,
    };
    let mut pool: Pool<Batch> = Pool::new(BATCHES_AT_ONCE, &ctx.shared.memory, ctx.stops(), what);
    let mut batch = Vec::with_capacity(DeleteObjectsRequest::MAX_KEYS);
    let mut fatal = None;
    // Items handed to batches, and whether `found` was read to its end.
    let (mut sent, mut whole) = (0u64, false);
    // When the batch being gathered goes, full or not: a source that gives its names slowly
    // (a program deciding as it goes, a list on stdin) has them deleted as it goes.
    let mut due: Option<tokio::time::Instant> = None;
    while let Some(_room) = pool.room(0, &mut tally).await {
        let waited = async {
            match due {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        // Whether `found` ended (`last`), or the batch waited its time (`overdue`).
        let busy = !pool.is_empty();
        let (last, overdue) = tokio::select! {
            () = waited => (false, true),
            // A batch answered while the next one waits for names: reported now, not when
            // the next name comes.
            _ = pool.settle_one(&mut tally), if busy => continue,
            next = found.recv() => match next {
                Some(Found::Item(i)) => {
                    if batch.is_empty() {
                        due = Some(tokio::time::Instant::now() + BATCH_WAIT);
                    }
                    batch.push(i);
                    (false, false)
                }
                // A listing cut short by the cancel is an interruption, not a failure.
                Some(Found::Fatal(e)) if e.kind() == ErrorKind::Cancelled => break,
                Some(Found::Fatal(e)) => {
                    fatal = Some(e);
                    break;
                }
                // Keys only: a listing without a folder yields nothing else.
                Some(Found::Bad(_) | Found::PassedOver(_)) => continue,
                None => (true, false),
            },
            () = ctx.cancel.cancelled() => break,
        };
        if batch.len() == DeleteObjectsRequest::MAX_KEYS || ((last || overdue) && !batch.is_empty())
        {
            due = None;
            let items = std::mem::take(&mut batch);
            sent += items.len() as u64;
            match &how.bucket {
                _ if how.dry_run => {
                    tally
                        .accept(Batch::new(items.len(), items, Vec::new()))
                        .await?
                }
                Some((bucket, request)) => {
                    let (ctx, bucket, request) = (ctx.clone(), bucket.clone(), request.clone());
                    let terms = (request, how.bypass_governance_retention);
                    let sync = how.sync;
                    pool.spawn(
                        async move { delete_batch(&ctx, &bucket, &terms, items, sync).await },
                    );
                }
                None => pool.spawn(remove_files(items, how.files_to.clone())),
            }
        }
        if last {
            whole = true;
            break;
        }
    }
    let ended = pool.finish(&mut tally).await;
    let (answered, mut outcome) = (tally.answered, tally.outcome);
    if let Some(e) = fatal {
        return Err(e);
    }
    match ended {
        Err(e) if e.kind() != ErrorKind::Cancelled => return Err(e),
        // A cancel that came once every batch was sent, and each answered, cut nothing.
        _ => outcome.interrupted = !whole || answered < sent,
    }
    Ok(outcome)
}

/// Counts the batches deleted, and reports each in one event.
struct Tally<'a, C> {
    ctx: &'a Context<C>,
    /// The objects' bucket; `None` for files.
    bucket: Option<&'a str>,
    outcome: RemoveOutcome,
    /// Items of the batches that ended.
    answered: u64,
}

impl<C: ObjectClient> Sink<Batch> for Tally<'_, C> {
    async fn accept(&mut self, Batch { sent, gone, failed }: Batch) -> Result<(), Error> {
        self.ctx.caught_up().await;
        self.answered += sent;
        let o = &mut self.outcome;
        o.removed += gone.len() as u64;
        o.bytes += gone.iter().map(|i| i.size).sum::<u64>();
        o.failed.extend(failed);
        if !gone.is_empty() {
            let bucket = self.bucket;
            self.ctx.emit(Event::Removed {
                objects: gone
                    .into_iter()
                    .map(|i| Removal {
                        what: match bucket {
                            Some(b) => url(b, &i.key),
                            None => i.path.display().to_string(),
                        },
                        key: i.key,
                        size: i.size,
                        version_id: i.version_id,
                    })
                    .collect(),
                dry_run: o.dry_run,
            });
        }
        Ok(())
    }
}

/// Deletes `items` (a thousand at most) from `bucket` in one DeleteObjects request (with
/// what each request carries, and whether it bypasses a GOVERNANCE retention): those
/// deleted, and a failure for each the server refused. A request that fails as a whole (the
/// bucket is gone, the credentials refused) is the error, or for a `sync` a failure of each
/// key; a cancel is the error either way.
async fn delete_batch<C: ObjectClient>(
    ctx: &Context<C>,
    bucket: &str,
    (request, bypass_governance_retention): &(RequestOptions, bool),
    items: Vec<Item>,
    sync: bool,
) -> Result<Batch, Error> {
    let req = DeleteObjectsRequest {
        bucket: bucket.to_string(),
        objects: items
            .iter()
            .map(|d| ObjectIdentifier {
                key: d.key.clone(),
                version_id: d.version_id.clone(),
            })
            .collect(),
        request: request.bucket_terms(),
        bypass_governance_retention: *bypass_governance_retention,
    };
    let what = running(sync);
    // A request sent before a cancel has most likely been carried out: its answer is waited
    // for a moment (retries included), so that what is reported deleted is what went.
    let answered = Context {
        cancel: CancellationToken::new(),
        ..ctx.clone()
    };
    let send = answered.request(None, |c| c.delete_objects(&req));
    tokio::pin!(send);
    let sent = tokio::select! {
        r = &mut send => r,
        () = ctx.cancel.cancelled() => tokio::time::timeout(ANSWER_AFTER_CANCEL, send)
            .await
            .unwrap_or(Err(Failure::Cancelled)),
    };
    let out = match sent {
        Ok(out) => out,
        Err(f) => {
            let e = f.into_error(format!("deleting from s3://{bucket}"), what);
            if !sync || e.kind() == ErrorKind::Cancelled {
                return Err(e);
            }
            let text = e.to_string();
            let sent = items.len();
            let failed = items
                .into_iter()
                .map(|d| ObjectFailure {
                    error: Error::new(e.kind(), text.clone()),
                    key: d.key,
                    path: d.path,
                })
                .collect();
            return Ok(Batch::new(sent, Vec::new(), failed));
        }
    };
    // By key and version: a run of versions names one key many times.
    let refused: std::collections::HashMap<(&str, Option<&str>), &ferry_s3::DeleteFailure> = out
        .failed
        .iter()
        .map(|f| ((f.key.as_str(), f.version_id.as_deref()), f))
        .collect();
    let sent = items.len();
    let (mut gone, mut failed) = (Vec::new(), Vec::new());
    for d in items {
        // A refusal that names no version (as some servers write it) is taken to be every
        // version of that key in the batch: none is reported deleted that may not be.
        let key = d.key.as_str();
        let Some(f) = refused
            .get(&(key, d.version_id.as_deref()))
            .or_else(|| refused.get(&(key, None)))
        else {
            gone.push(d);
            continue;
        };
        let kind = match f.needed {
            Some(_) => ErrorKind::Denied,
            None => ErrorKind::Service,
        };
        failed.push(ObjectFailure {
            error: Error::new(
                kind,
                format!(
                    "deleting s3://{bucket}/{}{}: DeleteObjects refused it: {f}",
                    f.key,
                    d.version_id
                        .as_deref()
                        .map(|v| format!(" (version {v})"))
                        .unwrap_or_default()
                ),
            ),
            key: d.key,
            path: d.path,
        });
    }
    Ok(Batch::new(sent, gone, failed))
}

/// Deletes regular files (never folders, never what is not a regular file, which is left as
/// it is), or moves them into `to.0` at their paths below `to.1` (a sync's backup): those
/// gone, and a failure for each that could not be.
async fn remove_files(items: Vec<Item>, to: Option<FilesTo>) -> Result<Batch, Error> {
    let removing = tokio::task::spawn_blocking(move || {
        let sent = items.len();
        let (mut gone, mut failed) = (Vec::new(), Vec::new());
        for d in items {
            let r = match std::fs::symlink_metadata(&d.path) {
                Ok(m) if m.is_file() => match &to {
                    Some(to) => move_file(&d.path, &to(&d.path)),
                    None => std::fs::remove_file(&d.path)
                        .map_err(|e| Error::local(format!("deleting {}", d.path.display()), e)),
                },
                Ok(_) => continue,
                Err(e) => Err(Error::local(format!("deleting {}", d.path.display()), e)),
            };
            match r {
                Ok(()) => gone.push(d),
                Err(error) => failed.push(ObjectFailure {
                    error,
                    key: d.key,
                    path: d.path,
                }),
            }
        }
        Batch::new(sent, gone, failed)
    });
    removing
        .await
        .map_err(|e| Error::new(ErrorKind::Local, format!("deleting files: {e}")))
}
