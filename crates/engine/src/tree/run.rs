//! The many-object runner every tree shares: objects start as the walk or the listing finds
//! them, side by side within the request budget ([`run`]), and each is counted and reported
//! as it ends ([`Tally`]): done, left as it was, passed over, or failed (a failure every other
//! object would meet too stops the run, reported once).

use std::path::PathBuf;
use std::sync::Arc;

use ferry_s3::ObjectClient;
use tokio::sync::{Semaphore, mpsc};

use super::{Found, Item, PassedOver};
use crate::budget::Slots;
use crate::context::Context;
use crate::error::{Error, ErrorKind};
use crate::outcome::{DownloadOutcome, ObjectFailure, TreeOutcome, UploadOutcome};
use crate::progress::Event;
use crate::schedule::{Pool, Sink};

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
pub(super) struct Tally<'a, C> {
    ctx: &'a Context<C>,
    pub(super) outcome: TreeOutcome,
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

impl<'a, C: ObjectClient> Tally<'a, C> {
    /// Counts the objects of a run in `ctx`, failed ones named by `name`; an archived one
    /// passed over, not failed, with `pass_archived` (its bucket).
    pub(super) fn new(
        ctx: &'a Context<C>,
        name: &'a Naming,
        pass_archived: Option<&'a str>,
    ) -> Self {
        Self {
            ctx,
            outcome: TreeOutcome::default(),
            unsigned: 0,
            name,
            pass_archived,
        }
    }

    /// Counts and reports a failed object (`size`: as found).
    pub(super) fn failed(&mut self, f: ObjectFailure, size: u64) {
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
    pub(super) fn passed_over(&mut self, p: PassedOver) {
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
    let mut tally = Tally::new(&ctx, name, pass_archived);
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
