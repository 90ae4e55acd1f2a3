//! A sync that does not list its destination (rclone's `--no-traverse`): each path the source
//! holds is asked of the destination alone, a HeadObject for an object or the metadata of a
//! file, several at a time, and the pair judged as a listed one is. For a few files sent into
//! a prefix that holds millions, where listing them all costs more than the transfers. What
//! only the destination holds stays unknown: nothing is deleted, and renames are not tracked.

use std::pin::pin;
use std::sync::Arc;

use ferry_s3::{GetObjectRequest, ObjectClient, RequestOptions};
use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;
use tokio::sync::mpsc;

use super::SyncSettings;
use super::judge::{Merged, Probe, at_once, left_alone, probed, send};
use crate::context::Context;
use crate::error::Error;
use crate::outcome::SyncAction;
use crate::tree::sides::{Direction, Sides, url};
use crate::tree::{Found, Item};

/// Asks the destination for what it holds at source item `a`'s path: `None` when it holds
/// nothing there; gives `a` back. An error is a refusal to say: the path fails, named.
pub(super) type Lookup =
    Arc<dyn Fn(Item) -> BoxFuture<'static, (Item, Result<Option<Item>, Error>)> + Send + Sync>;

/// Paths asked at once: each is one small request, bound by the round trip.
const LOOKUPS: usize = 64;

/// The lookup of a sync whose destination is a prefix (up, and between prefixes): a
/// HeadObject of each source item's destination key, with what every request to that
/// bucket carries (`request`, the SSE-C key included). An object the credentials may not
/// read (a 403, as write-only keys meet) is taken as missing and sent, as a sync that lists
/// sends what differs; unless `settings` promise to replace nothing unseen (kept, immutable,
/// newer, backed up first), when the path fails, saying so.
pub(super) fn objects<C: ObjectClient>(
    ctx: &Context<C>,
    sides: &Sides,
    request: &RequestOptions,
    settings: &SyncSettings,
) -> Lookup {
    let (ctx, sides, request) = (ctx.clone(), sides.clone(), request.clone());
    let unseen_sends = !(settings.ignore_existing
        || settings.immutable
        || settings.update
        || settings.backup.is_some());
    Arc::new(move |a: Item| {
        let key = sides.dest_key(&a);
        let head = GetObjectRequest {
            bucket: sides.dest_bucket.clone(),
            key: key.clone(),
            request: request.clone(),
            ..Default::default()
        };
        let path = a.path.clone();
        let ctx = ctx.clone();
        Box::pin(async move {
            let meta = match ctx.request(None, |c| c.head_object(&head)).await {
                Ok(meta) => meta,
                Err(f) => {
                    let what = format!("looking at {}", url(&head.bucket, &key));
                    let e = f.into_error(what, "sync");
                    return match e.s3().and_then(|e| e.status()) {
                        Some(404) => (a, Ok(None)),
                        Some(403) if unseen_sends => (a, Ok(None)),
                        Some(403) => (a, Err(unseen(e))),
                        _ => (a, Err(e)),
                    };
                }
            };
            let object = Item::headed(path, key, &meta);
            (a, Ok(Some(object)))
        })
    })
}

/// Why a path whose object the credentials may not read fails, when the settings promise to
/// replace nothing unseen.
fn unseen(e: Error) -> Error {
    let why = format!(
        "{e}: whether the destination holds it cannot be said, and the sync may replace \
         nothing it has not seen (it keeps what exists, or backs it up first)"
    );
    e.with_message(why)
}

/// The lookup of a sync down: the metadata of each source object's file. Nothing there, or
/// something that is no file (a folder, a path through a file), is missing: the download
/// meets it and says what is in the way.
pub(super) fn files() -> Lookup {
    Arc::new(|a: Item| {
        Box::pin(async move {
            let meta = match tokio::fs::metadata(&a.path).await {
                Ok(meta) if meta.is_file() => meta,
                Ok(_) => return (a, Ok(None)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (a, Ok(None)),
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) => {
                    return (a, Ok(None));
                }
                Err(e) => {
                    let what = format!("looking at {}", a.path.display());
                    return (a, Err(Error::local(what, e)));
                }
            };
            let file = Item::file(a.path.clone(), a.key.clone(), &meta);
            (a, Ok(Some(file)))
        })
    })
}

/// What a path looked up comes to.
enum Verdict {
    /// The destination holds nothing there.
    Missing,
    /// Left as the destination holds it (see [`left_alone`]).
    Kept,
    /// Whether the two are the same, or why that could not be said.
    Judged(Result<bool, Error>),
}

/// The lookups at work: source items sent to `items` (each in the filters' bounds, on one
/// side only as far as the merge knows) are looked up several at a time and judged; what
/// differs or is missing goes on to the transfers. `done` ends, once `items` is dropped,
/// with what they decided.
pub(super) struct Looking {
    pub(super) items: mpsc::Sender<Item>,
    pub(super) done: tokio::task::JoinHandle<Merged>,
}

/// Starts the lookups, judging what is found with the listings' rules and `probe`, and
/// sending what differs or is missing to `tx`.
pub(super) fn start<C: ObjectClient>(
    ctx: &Context<C>,
    sides: &Sides,
    settings: &SyncSettings,
    (lookup, probe): (Lookup, Probe),
    tx: mpsc::Sender<Found>,
) -> Looking {
    let (items, mut rx) = mpsc::channel::<Item>(LOOKUPS);
    let (ctx, sides, settings) = (ctx.clone(), sides.clone(), Arc::new(settings.clone()));
    let task = tokio::spawn(async move {
        let (direction, compare) = (sides.direction, settings.compare);
        let judge = |a: Item| {
            let (lookup, probe, settings) = (lookup.clone(), probe.clone(), settings.clone());
            async move {
                let (mut a, found) = lookup(a).await;
                let b = match found {
                    Ok(Some(b)) => b,
                    Ok(None) => return (a, Verdict::Missing),
                    Err(e) => return (a, Verdict::Judged(Err(e))),
                };
                a.in_destination = true;
                if left_alone(&settings, &a, &b) {
                    return (a, Verdict::Kept);
                }
                match at_once(direction, compare, &a, &b) {
                    Some(same) => (a, Verdict::Judged(Ok(same))),
                    None => {
                        let (a, same) = probe(a, b).await;
                        (a, Verdict::Judged(same))
                    }
                }
            }
        };
        let mut judged = pin!(
            futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
                .map(judge)
                .buffer_unordered(LOOKUPS)
        );
        let mut merged = Merged::default();
        let dry_run = settings.dry_run;
        while let Some((a, verdict)) = judged.next().await {
            let sent = match verdict {
                Verdict::Missing => send(a, &tx, &mut merged).await,
                Verdict::Kept => {
                    merged.kept += 1;
                    sides.report(&ctx, SyncAction::Keep, &a, dry_run).await;
                    true
                }
                Verdict::Judged(same) => {
                    let how = (settings.immutable, dry_run);
                    probed(&ctx, &sides, how, (a, same), &tx, &mut merged).await
                }
            };
            if !sent {
                break;
            }
        }
        merged
    });
    Looking { items, done: task }
}

/// Refuses `settings` that need the whole destination read, when it is to be looked up path
/// by path instead.
pub(super) fn check(settings: &SyncSettings, direction: Direction) -> Result<(), Error> {
    if !settings.no_traverse {
        return Ok(());
    }
    let why = if settings.delete || settings.delete_excluded {
        "deleting what the source does not hold needs the destination listed whole"
    } else if settings.track_renames {
        "tracking renames matches what only the destination holds, which needs it listed whole"
    } else {
        return Ok(());
    };
    let side = match direction {
        Direction::Down => "folder",
        _ => "prefix",
    };
    Err(Error::invalid(format!(
        "a sync that looks up each path rather than list the destination {side} (no_traverse) \
         cannot delete or track renames: {why}"
    )))
}
