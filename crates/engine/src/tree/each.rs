//! The objects under a prefix, listed and filtered as they come, and a few requests on each
//! of them side by side through one pool, each object failing alone: what a lock, a restore
//! and a removal of every object under a prefix share.

use std::future::Future;

use ferry_s3::ObjectClient;
use tokio::sync::mpsc;

use super::filter::{Filters, selected};
use super::list::{Skips, list};
use super::{Found, Item, READ_AHEAD, keys};
use crate::context::Context;
use crate::error::{Error, ErrorKind};
use crate::outcome::ObjectFailure;
use crate::schedule::{Pool, Sink};

/// The current version of every object under `key` (a prefix: a `/` is added when it has
/// none; empty, the whole bucket) in `bucket` that `filters` let through, keys only, listed
/// page by page into a channel that runs ahead.
pub(crate) fn under_prefix<C: ObjectClient>(
    ctx: &Context<C>,
    bucket: &str,
    key: &str,
    request: &ferry_s3::RequestOptions,
    filters: &Filters,
) -> mpsc::Receiver<Found> {
    let prefix = keys::as_folder(key);
    let req = ferry_s3::ListObjectsRequest {
        bucket: bucket.to_string(),
        prefix: (!prefix.is_empty()).then(|| prefix.clone()),
        request: request.bucket_terms(),
        ..Default::default()
    };
    let skips = Skips::named(filters.named());
    let found = list(ctx, req, (None, skips), READ_AHEAD, false);
    selected(found, filters.clone(), prefix)
}

/// How a run over a listing ended, besides what each object gave.
pub(crate) struct Each {
    /// The objects that failed, each with why.
    pub(crate) failed: Vec<ObjectFailure>,
    /// The run was cancelled before every object listed was done.
    pub(crate) interrupted: bool,
}

/// Runs `one` on each object `found` lists, `at_once` at a time (`name` names the work for a
/// cancel), handing each result to `done` as it ends. An object's error fails that object
/// alone, unless it concerns every object (the bucket, the credentials, the endpoint): that
/// one ends the run, as a listing's failure does.
pub(crate) async fn each<C, T, Fut>(
    ctx: &Context<C>,
    mut found: mpsc::Receiver<Found>,
    at_once: u32,
    name: &'static str,
    one: impl Fn(Item) -> Fut,
    done: impl FnMut(T) + Send,
) -> Result<Each, Error>
where
    C: ObjectClient,
    T: Send + 'static,
    Fut: Future<Output = Result<T, Error>> + Send + 'static,
{
    let mut pool: Pool<Result<T, ObjectFailure>> =
        Pool::new(at_once, &ctx.shared.memory, ctx.stops(), name);
    let mut tally = Tally {
        done,
        failed: Vec::new(),
    };
    while pool.room(0, &mut tally).await.is_some() {
        let item = tokio::select! {
            next = found.recv() => match next {
                Some(Found::Item(i)) => i,
                Some(Found::Fatal(e)) if e.kind() == ErrorKind::Cancelled => break,
                Some(Found::Fatal(e)) => {
                    pool.fail(e);
                    break;
                }
                // Keys only: a listing without a folder yields nothing else.
                Some(Found::Bad(_) | Found::PassedOver(_)) => continue,
                None => break,
            },
            () = ctx.cancel.cancelled() => break,
        };
        let key = item.key.clone();
        let work = one(item);
        pool.spawn(async move {
            match work.await {
                Ok(t) => Ok(Ok(t)),
                Err(e) if e.concerns_every_object() || e.kind() == ErrorKind::Cancelled => Err(e),
                Err(error) => Ok(Err(ObjectFailure {
                    path: Default::default(),
                    key,
                    error,
                })),
            }
        });
    }
    let finished = pool.finish(&mut tally).await;
    let interrupted = match finished {
        Err(e) if e.kind() == ErrorKind::Cancelled => true,
        Err(e) => return Err(e),
        Ok(()) => ctx.cancel.is_cancelled(),
    };
    Ok(Each {
        failed: tally.failed,
        interrupted,
    })
}

/// Hands each object's end to `done`, or keeps its failure.
struct Tally<F> {
    done: F,
    failed: Vec<ObjectFailure>,
}

impl<T: Send, F: FnMut(T) + Send> Sink<Result<T, ObjectFailure>> for Tally<F> {
    async fn accept(&mut self, ended: Result<T, ObjectFailure>) -> Result<(), Error> {
        match ended {
            Ok(t) => (self.done)(t),
            Err(f) => self.failed.push(f),
        }
        Ok(())
    }
}
