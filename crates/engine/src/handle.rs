//! A running transfer's handle: wait for its outcome, watch its events and counters, or
//! cancel it. Every kind of transfer (upload, download, copy, tree) returns one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, ErrorKind};
use crate::progress::{Event, Progress};

/// Events a transfer of one object buffers for a slow watcher before the oldest are dropped
/// (the watcher then sees `Lagged`). The buffer is allocated whole when the transfer starts
/// (or is first watched), and a backup tool may run hundreds of transfers at once: at 1,024
/// slots of 256 bytes each (before the outcomes in events were boxed), 2,000 downloads of
/// 64 KiB held 512 MiB of buffers and spent a fifth of their CPU faulting them in.
pub(crate) const ONE_OBJECT_EVENTS: usize = 128;

/// The same for a tree, which reports an event for each of its objects.
pub(crate) const TREE_EVENTS: usize = 1024;

/// A transfer's events. The channel is made when the transfer starts running or when it is
/// first watched, whichever comes first (a transfer waiting for its turn holds no buffer);
/// its first receiver keeps every event from the start for the first watcher, who may come
/// after the end (the CLI subscribes just after starting a transfer that may end at once).
/// When the transfer ends unwatched, what the first receiver kept moves to a buffer of its
/// size: a program that waits for its transfers in the order it submitted them, while later
/// ones end first, holds a few hundred bytes for each of those, not 14 KiB.
pub(crate) struct Events {
    capacity: usize,
    state: Mutex<EventState>,
    /// A watcher asked for every event ([`Handle::subscribe_lossless`]): the transfer waits
    /// for its watchers to read before it reports more.
    lossless: AtomicBool,
}

#[derive(Default)]
struct EventState {
    sender: Option<broadcast::Sender<Event>>,
    first: Option<broadcast::Receiver<Event>>,
    ended: bool,
}

impl Events {
    /// Events of a transfer that buffers `capacity` of them ([`ONE_OBJECT_EVENTS`] or
    /// [`TREE_EVENTS`]).
    pub(crate) fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            capacity,
            state: Mutex::default(),
            lossless: AtomicBool::new(false),
        })
    }

    /// What the running transfer reports to, the channel made first if need be.
    pub(crate) fn reporter(self: &Arc<Self>) -> Reporter {
        let mut s = self.state.lock().expect("events lock");
        let tx = match &s.sender {
            Some(tx) => tx.clone(),
            None => {
                let (tx, rx) = broadcast::channel(self.capacity);
                s.first = Some(rx);
                s.sender = Some(tx.clone());
                tx
            }
        };
        Reporter {
            tx,
            events: self.clone(),
        }
    }

    /// Sends the transfer's last event; if no one has watched, moves what the first receiver
    /// kept into a buffer of its size.
    fn end(&self, last: Option<Event>) {
        let mut s = self.state.lock().expect("events lock");
        s.ended = true;
        let sender = s.sender.take();
        let mut kept = Vec::new();
        match (sender, s.first.take()) {
            (Some(tx), None) => {
                if let Some(e) = last {
                    let _ = tx.send(e);
                }
                return;
            }
            (_, Some(mut first)) => loop {
                match first.try_recv() {
                    Ok(e) => kept.push(e),
                    Err(broadcast::error::TryRecvError::Lagged(_)) => {}
                    Err(_) => break,
                }
            },
            (None, None) => {}
        }
        kept.extend(last);
        s.first = Some(replay(kept));
    }

    fn subscribe(&self) -> broadcast::Receiver<Event> {
        let mut s = self.state.lock().expect("events lock");
        if let Some(rx) = s.first.take() {
            return rx;
        }
        match &s.sender {
            Some(tx) => tx.subscribe(),
            None if s.ended => replay(Vec::new()),
            None => {
                // Watched before it runs: this receiver is the first.
                let (tx, rx) = broadcast::channel(self.capacity);
                s.sender = Some(tx);
                rx
            }
        }
    }
}

/// Where a running transfer sends its events.
#[derive(Clone)]
pub(crate) struct Reporter {
    tx: broadcast::Sender<Event>,
    events: Arc<Events>,
}

impl Reporter {
    /// Sends `e`; a watcher that has fallen a whole buffer behind loses the oldest.
    pub(crate) fn send(&self, e: Event) {
        let _ = self.tx.send(e);
    }

    /// Waits, when a watcher asked for every event, until the watchers have read all but
    /// half a buffer: what a transfer reports before it next waits (an object's end or
    /// failure, a sync's decision, a batch deleted, a part's start or end, and the few events
    /// of a plan between them) then fits. Nothing to wait for otherwise.
    pub(crate) async fn caught_up(&self) {
        if !self.events.lossless.load(Ordering::Relaxed) {
            return;
        }
        // The receivers cannot wake a sender: look again after a nap that doubles, to 50 ms,
        // so that many parts waiting on a reader stopped for long cost little.
        let mut nap = Duration::from_millis(1);
        while self.tx.len() > self.events.capacity / 2 {
            tokio::time::sleep(nap).await;
            nap = (nap * 2).min(Duration::from_millis(50));
        }
    }
}

/// A receiver that yields `events`, then `Closed`, from a buffer of their size.
fn replay(events: Vec<Event>) -> broadcast::Receiver<Event> {
    let (tx, rx) = broadcast::channel(events.len().max(1));
    for e in events {
        let _ = tx.send(e);
    }
    rx
}

/// A running transfer: wait for it, watch it, or cancel it. `T` is its outcome. Dropping it
/// does not stop the transfer; [`cancel`](Self::cancel) does.
pub struct Handle<T> {
    task: tokio::task::JoinHandle<Result<T, Error>>,
    events: Arc<Events>,
    progress: Arc<Progress>,
    cancel: CancellationToken,
    drain: CancellationToken,
}

impl<T> std::fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Handle<T> {
    /// Spawns `run` with the events, counters, cancel and drain tokens it reports to and
    /// obeys; its end is also an event (`Failed`, or what `done` makes of the outcome).
    pub(crate) fn spawn<F>(
        events: Arc<Events>,
        progress: Arc<Progress>,
        (cancel, drain): (CancellationToken, CancellationToken),
        run: F,
        done: fn(&T) -> Option<Event>,
    ) -> Self
    where
        F: std::future::Future<Output = Result<T, Error>> + Send + 'static,
    {
        let end = events.clone();
        let task = tokio::spawn(async move {
            let result = run.await;
            end.end(match &result {
                Ok(o) => done(o),
                Err(e) => Some(Event::Failed {
                    error: e.to_string(),
                }),
            });
            result
        });
        Self {
            task,
            events,
            progress,
            cancel,
            drain,
        }
    }
}

impl<T> Handle<T> {
    /// Events from the start of the transfer (the first call, even after the end), or from
    /// now (later calls). A watcher that falls a whole buffer behind (1,024 events for a
    /// tree, 128 for one object) loses the oldest and is told how many (`Lagged`).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Events as [`subscribe`](Self::subscribe) gives them, but none lost: a tree's reports
    /// of its objects (each object's end or failure, a sync's decisions, the batches a
    /// removal deleted) and a transfer's part, range and retry events wait for the watchers
    /// to read, so a slow reader (a script reading the output) slows the transfer instead.
    /// While this receiver lives, every receiver of this handle's events holds the transfer
    /// back when it falls behind: read them, or drop them.
    pub fn subscribe_lossless(&self) -> broadcast::Receiver<Event> {
        let rx = self.events.subscribe();
        self.events.lossless.store(true, Ordering::Relaxed);
        rx
    }

    /// Counters to poll.
    pub fn progress(&self) -> Arc<Progress> {
        self.progress.clone()
    }

    /// Stops the transfer: nothing new starts, requests in flight are dropped. A journaled
    /// transfer is kept for resume (a multipart upload or copy, a partial download file),
    /// anything else undone. [`wait`](Self::wait) then returns an error of kind `Cancelled`
    /// (a tree returns its outcome, marked interrupted).
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Stops the transfer gently: no new part, range or object starts, and what is in
    /// flight finishes (nothing sent is thrown away, at the cost of waiting for it). It then
    /// ends as [`cancel`](Self::cancel) ends it: kept for resume where it is journaled,
    /// [`wait`](Self::wait) an error of kind `Cancelled` (a tree's outcome marked
    /// interrupted). One whose work had all started ends as it would have. A cancel after it
    /// stops what is still in flight.
    pub fn drain(&self) {
        self.drain.cancel();
    }

    /// A handle that cancels (or drains) this transfer, usable while [`wait`](Self::wait)
    /// runs.
    pub fn canceller(&self) -> Canceller {
        Canceller {
            cancel: self.cancel.clone(),
            drain: self.drain.clone(),
        }
    }

    /// Waits for the end.
    pub async fn wait(self) -> Result<T, Error> {
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(Error::new(
                ErrorKind::Local,
                format!("the transfer task failed: {e}"),
            )),
        }
    }
}

/// Cancels or drains a transfer (see [`Handle::cancel`], [`Handle::drain`]).
#[derive(Debug, Clone)]
pub struct Canceller {
    cancel: CancellationToken,
    drain: CancellationToken,
}

impl Canceller {
    /// Cancels the transfer.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Drains the transfer: nothing new starts, what is in flight finishes.
    pub fn drain(&self) {
        self.drain.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_buffer_of_one_object_stays_small() {
        // A slot holds an event beside its lock and counters. A transfer's buffer stays small
        // and a tree's under malloc's mmap threshold (128 KiB), so it comes from the heap's
        // reused pages rather than a fresh mapping to fault in; an event grown much bigger
        // would want its large fields boxed, as the outcomes are.
        let slot = std::mem::size_of::<Event>() + 24;
        assert!(
            ONE_OBJECT_EVENTS * slot <= 32 * 1024,
            "{ONE_OBJECT_EVENTS} events of {slot} bytes"
        );
        assert!(
            TREE_EVENTS * slot < 128 * 1024,
            "{TREE_EVENTS} events of {slot} bytes"
        );
    }
}
