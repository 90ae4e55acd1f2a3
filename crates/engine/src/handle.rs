//! A running transfer's handle: wait for its outcome, watch its events and counters, or
//! cancel it. Every kind of transfer (upload, download, copy, tree) returns one.

use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, ErrorKind};
use crate::progress::{Event, Progress};

/// Events a transfer of one object buffers for a slow watcher before the oldest are dropped
/// (the watcher then sees `Lagged`). The buffer is allocated whole when the transfer starts,
/// and a backup tool may start thousands of transfers at once: at 1,024 slots of 256 bytes
/// each (before the outcomes in events were boxed), 2,000 downloads of 64 KiB held 512 MiB
/// of buffers and spent a fifth of their CPU faulting them in.
pub(crate) const ONE_OBJECT_EVENTS: usize = 128;

/// The same for a tree, which reports an event for each of its objects.
pub(crate) const TREE_EVENTS: usize = 1024;

/// A running transfer: wait for it, watch it, or cancel it. `T` is its outcome. Dropping it
/// does not stop the transfer; [`cancel`](Self::cancel) does.
pub struct Handle<T> {
    task: tokio::task::JoinHandle<Result<T, Error>>,
    events: broadcast::Sender<Event>,
    first: Mutex<Option<broadcast::Receiver<Event>>>,
    progress: Arc<Progress>,
    cancel: CancellationToken,
}

impl<T> std::fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Handle<T> {
    /// Spawns `run` with the events, counters and cancel token it reports to and obeys; its
    /// end is also an event (`Failed`, or what `done` makes of the outcome).
    pub(crate) fn spawn<F>(
        events: broadcast::Sender<Event>,
        first: broadcast::Receiver<Event>,
        progress: Arc<Progress>,
        cancel: CancellationToken,
        run: F,
        done: fn(&T) -> Option<Event>,
    ) -> Self
    where
        F: std::future::Future<Output = Result<T, Error>> + Send + 'static,
    {
        let tx = events.clone();
        let task = tokio::spawn(async move {
            let result = run.await;
            let end = match &result {
                Ok(o) => done(o),
                Err(e) => Some(Event::Failed {
                    error: e.to_string(),
                }),
            };
            if let Some(e) = end {
                let _ = tx.send(e);
            }
            result
        });
        Self {
            task,
            events,
            first: Mutex::new(Some(first)),
            progress,
            cancel,
        }
    }
}

impl<T> Handle<T> {
    /// Events from the start of the transfer (the first call), or from now (later calls).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.first
            .lock()
            .expect("events lock")
            .take()
            .unwrap_or_else(|| self.events.subscribe())
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

    /// A handle that cancels this transfer, usable while [`wait`](Self::wait) runs.
    pub fn canceller(&self) -> Canceller {
        Canceller(self.cancel.clone())
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

/// Cancels a transfer (see [`Handle::cancel`]).
#[derive(Debug, Clone)]
pub struct Canceller(CancellationToken);

impl Canceller {
    /// Cancels the transfer.
    pub fn cancel(&self) {
        self.0.cancel();
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
