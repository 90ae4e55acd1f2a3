//! Removing objects: one object, or every object under a prefix, listed page by page while
//! the objects already listed are deleted, a thousand keys a DeleteObjects request (what a
//! sync's deletions use too).

use std::sync::Arc;

use ferry_s3::{
    DeleteObjectRequest, DeleteObjectsRequest, GetObjectRequest, ObjectClient, ObjectIdentifier,
    RequestOptions,
};

use super::filter::{Filters, selected};
use super::walk::list;
use super::{Found, Item, READ_AHEAD, keys, sides::url};
use crate::context::{Context, HeadFailure};
use crate::error::{Error, ErrorKind, Failure};
use crate::outcome::ObjectFailure;
use crate::progress::Event;
use crate::schedule::{Pool, Sink};

/// Objects to delete: one object, or with `recursive` every object under a prefix.
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
        }
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
        };
        ctx.request(None, |c| c.delete_object(&del))
            .await
            .map_err(|f| f.into_error(format!("removing {url}"), "removal"))?;
    }
    ctx.emit(Event::Removed {
        objects: Arc::new([(url, size)]),
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

/// What a batch deleted, and the keys the server refused.
type Batch = (Vec<Item>, Vec<ObjectFailure>);

/// Every object under the prefix: listed into a channel that runs ahead, deleted a batch at
/// a time, [`BATCHES_AT_ONCE`] batches in flight through the pool.
async fn under_prefix<C: ObjectClient>(
    ctx: &Context<C>,
    remove: Remove,
) -> Result<RemoveOutcome, Error> {
    let prefix = keys::as_folder(&remove.key);
    let req = ferry_s3::ListObjectsRequest {
        bucket: remove.bucket.clone(),
        prefix: (!prefix.is_empty()).then(|| prefix.clone()),
        request: remove.request.bucket_terms(),
        ..Default::default()
    };
    let found = list(ctx, req, None, READ_AHEAD, false);
    let mut found = selected(found, remove.filters.clone(), prefix);
    let mut tally = Tally {
        ctx,
        bucket: &remove.bucket,
        outcome: RemoveOutcome {
            dry_run: remove.dry_run,
            ..Default::default()
        },
    };
    let mut pool: Pool<Batch> =
        Pool::new(BATCHES_AT_ONCE, &ctx.shared.memory, &ctx.cancel, "removal");
    let mut batch = Vec::with_capacity(DeleteObjectsRequest::MAX_KEYS);
    let mut fatal = None;
    while let Some(_room) = pool.room(0, &mut tally).await {
        let last = tokio::select! {
            next = found.recv() => match next {
                Some(Found::Item(i)) => {
                    batch.push(i);
                    false
                }
                Some(Found::Fatal(e)) => {
                    fatal = Some(e);
                    break;
                }
                // Keys only: a listing without a folder yields nothing else.
                Some(Found::Bad(_) | Found::PassedOver(_)) => continue,
                None => true,
            },
            () = ctx.cancel.cancelled() => break,
        };
        if batch.len() == DeleteObjectsRequest::MAX_KEYS || (last && !batch.is_empty()) {
            let items = std::mem::take(&mut batch);
            if remove.dry_run {
                tally.accept((items, Vec::new())).await?;
            } else {
                let (ctx, bucket, request) =
                    (ctx.clone(), remove.bucket.clone(), remove.request.clone());
                pool.spawn(
                    async move { delete_batch(&ctx, &bucket, &request, items, "removal").await },
                );
            }
        }
        if last {
            break;
        }
    }
    let ended = pool.finish(&mut tally).await;
    let mut outcome = tally.outcome;
    if let Some(e) = fatal {
        return Err(e);
    }
    match ended {
        Err(e) if e.kind() == ErrorKind::Cancelled => outcome.interrupted = true,
        Err(e) => return Err(e),
        Ok(()) => outcome.interrupted = ctx.cancel.is_cancelled(),
    }
    Ok(outcome)
}

/// Counts the batches deleted, and reports each object in them.
struct Tally<'a, C> {
    ctx: &'a Context<C>,
    bucket: &'a str,
    outcome: RemoveOutcome,
}

impl<C: ObjectClient> Sink<Batch> for Tally<'_, C> {
    async fn accept(&mut self, (gone, failed): Batch) -> Result<(), Error> {
        let o = &mut self.outcome;
        o.removed += gone.len() as u64;
        o.bytes += gone.iter().map(|i| i.size).sum::<u64>();
        o.failed.extend(failed);
        if !gone.is_empty() {
            self.ctx.emit(Event::Removed {
                objects: gone
                    .iter()
                    .map(|i| (url(self.bucket, &i.key), i.size))
                    .collect(),
                dry_run: o.dry_run,
            });
        }
        Ok(())
    }
}

/// Deletes `items` (a thousand at most) from `bucket` in one DeleteObjects request: those
/// deleted, and a failure for each the server refused. A request that fails as a whole (the
/// bucket is gone, the credentials refused, the transfer `what` cancelled) is the error.
pub(crate) async fn delete_batch<C: ObjectClient>(
    ctx: &Context<C>,
    bucket: &str,
    request: &RequestOptions,
    items: Vec<Item>,
    what: &str,
) -> Result<(Vec<Item>, Vec<ObjectFailure>), Error> {
    let req = DeleteObjectsRequest {
        bucket: bucket.to_string(),
        objects: items
            .iter()
            .map(|d| ObjectIdentifier {
                key: d.key.clone(),
                version_id: None,
            })
            .collect(),
        request: request.bucket_terms(),
    };
    let out = ctx
        .request(None, |c| c.delete_objects(&req))
        .await
        .map_err(|f| f.into_error(format!("deleting from s3://{bucket}"), what))?;
    let mut failed = Vec::new();
    for f in out.failed {
        let path = items
            .iter()
            .find(|d| d.key == f.key)
            .map(|d| d.path.clone())
            .unwrap_or_default();
        let kind = match f.needed {
            Some(_) => ErrorKind::Denied,
            None => ErrorKind::Service,
        };
        failed.push(ObjectFailure {
            error: Error::new(
                kind,
                format!(
                    "deleting s3://{bucket}/{}: DeleteObjects refused it: {f}",
                    f.key
                ),
            ),
            key: f.key,
            path,
        });
    }
    let gone = items
        .into_iter()
        .filter(|d| !failed.iter().any(|f| f.key == d.key))
        .collect();
    Ok((gone, failed))
}
