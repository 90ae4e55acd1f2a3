//! The one worker pool for part, range and object work: tasks in one `JoinSet`, at most a
//! width of them in flight, each started only once the memory it will hold is granted (an
//! owned permit it carries), results handed to a [`Sink`] as they finish, the first failure
//! stopping new work, and a cancel token obeyed throughout. A drain token stops new work
//! only: what is in flight finishes, and the run then ends as cancelled. Uploads (file, stream, copy),
//! downloads (to a file, a writer, memory) and trees all run their work through it.
//!
//! Requests in flight are bounded one level down: every request takes a slot of the
//! manager's request budget (see [`Context::retrying`](crate::context::Context::retrying)).

use tokio::task::{JoinError, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::budget::{Memory, MemoryPermit};
use crate::error::{Error, ErrorKind};

/// Where finished tasks go: a download's file or writer, an upload's parts, a tree's tally.
pub(crate) trait Sink<T> {
    /// A task finished with `item`; an error stops the run.
    fn accept(&mut self, item: T) -> impl std::future::Future<Output = Result<(), Error>> + Send;
}

/// Collects the items in a vector.
impl<T: Send> Sink<T> for Vec<T> {
    async fn accept(&mut self, item: T) -> Result<(), Error> {
        self.push(item);
        Ok(())
    }
}

/// Tasks in flight (see the module's doc).
pub(crate) struct Pool<T> {
    set: JoinSet<Result<T, Error>>,
    width: u32,
    memory: Memory,
    cancel: CancellationToken,
    /// No new task starts once it fires; those in flight finish.
    drain: CancellationToken,
    /// Work was left unstarted for the drain: the run ends as cancelled.
    drained: bool,
    failure: Option<Error>,
    /// What runs, for the cancel error: `upload`, `download`, …
    what: &'static str,
}

/// What a wait for room ended with.
enum Woke<T> {
    Room(MemoryPermit),
    Joined(Result<Result<T, Error>, JoinError>),
    Cancelled,
    Drained,
}

impl<T: Send + 'static> Pool<T> {
    /// At most `width` tasks in flight, their memory from `memory`, stopped by `cancel` (and
    /// starting none after `drain`: see [`room`](Self::room)).
    pub(crate) fn new(
        width: u32,
        memory: &Memory,
        (cancel, drain): (&CancellationToken, &CancellationToken),
        what: &'static str,
    ) -> Self {
        Self {
            set: JoinSet::new(),
            width: width.max(1),
            memory: memory.clone(),
            cancel: cancel.clone(),
            drain: drain.clone(),
            drained: false,
            failure: None,
            what,
        }
    }

    /// Whether no task is in flight.
    pub(crate) fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    fn stopped(&self) -> bool {
        self.failure.is_some() || self.cancel.is_cancelled()
    }

    /// Waits until one more task may start: fewer than the width in flight, and `memory`
    /// bytes granted (the permit returned, for the task to hold). Finished tasks go to `sink`
    /// meanwhile. `None` once the run must stop: a task or the sink failed, it was
    /// cancelled, or drained (then [`finish`](Self::finish) says it was cancelled: work was
    /// left).
    pub(crate) async fn room(
        &mut self,
        memory: u64,
        sink: &mut impl Sink<T>,
    ) -> Option<MemoryPermit> {
        loop {
            if self.stopped() {
                return None;
            }
            if self.drain.is_cancelled() {
                self.drained = true;
                return None;
            }
            let woke = if (self.set.len() as u32) < self.width {
                let busy = !self.set.is_empty();
                tokio::select! {
                    biased;
                    () = self.cancel.cancelled() => Woke::Cancelled,
                    () = self.drain.cancelled() => Woke::Drained,
                    Some(j) = self.set.join_next(), if busy => Woke::Joined(j),
                    p = self.memory.take(memory) => Woke::Room(p),
                }
            } else {
                tokio::select! {
                    biased;
                    () = self.cancel.cancelled() => Woke::Cancelled,
                    () = self.drain.cancelled() => Woke::Drained,
                    Some(j) = self.set.join_next() => Woke::Joined(j),
                }
            };
            match woke {
                Woke::Room(p) => return Some(p),
                Woke::Joined(j) => self.settle(j, sink).await,
                Woke::Cancelled => return None,
                Woke::Drained => {
                    self.drained = true;
                    return None;
                }
            }
        }
    }

    /// Starts a task (after [`room`](Self::room) granted it).
    pub(crate) fn spawn(
        &mut self,
        task: impl std::future::Future<Output = Result<T, Error>> + Send + 'static,
    ) {
        self.set.spawn(task);
    }

    /// Stops the run with `e` (a failure found outside the tasks): no new task starts.
    pub(crate) fn fail(&mut self, e: Error) {
        if self.failure.is_none() {
            self.failure = Some(e);
            self.set.abort_all();
        }
    }

    /// Waits for one task to finish and takes it to `sink`; `false` when none is in flight.
    pub(crate) async fn settle_one(&mut self, sink: &mut impl Sink<T>) -> bool {
        match self.set.join_next().await {
            Some(j) => {
                self.settle(j, sink).await;
                true
            }
            None => false,
        }
    }

    /// Waits for every task in flight; the first failure, or the cancel, is the result (a
    /// drain that left work unstarted is a cancel, after any failure).
    pub(crate) async fn finish(mut self, sink: &mut impl Sink<T>) -> Result<(), Error> {
        while let Some(j) = self.set.join_next().await {
            self.settle(j, sink).await;
        }
        if self.cancel.is_cancelled() {
            return Err(Error::cancelled(self.what));
        }
        match self.failure {
            Some(e) => Err(e),
            None if self.drained => Err(Error::cancelled(self.what)),
            None => Ok(()),
        }
    }

    async fn settle(
        &mut self,
        joined: Result<Result<T, Error>, JoinError>,
        sink: &mut impl Sink<T>,
    ) {
        match joined {
            Ok(Ok(item)) => {
                if self.failure.is_none()
                    && let Err(e) = sink.accept(item).await
                {
                    self.fail(e);
                }
            }
            Ok(Err(e)) => self.fail(e),
            Err(e) if e.is_cancelled() => {}
            Err(e) => self.fail(Error::new(
                ErrorKind::Local,
                format!("a {} task failed: {e}", self.what),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use super::*;

    /// Runs `n` tasks that each hold `memory` bytes for a moment, and returns the most that
    /// ran at once.
    async fn most_at_once(n: u32, width: u32, budget: u64, memory: u64) -> u32 {
        let mem = Memory::new(budget);
        let cancel = CancellationToken::new();
        let mut pool: Pool<u32> =
            Pool::new(width, &mem, (&cancel, &CancellationToken::new()), "test");
        let now = Arc::new(AtomicU32::new(0));
        let most = Arc::new(AtomicU32::new(0));
        let mut done = Vec::new();
        for i in 0..n {
            let permit = pool.room(memory, &mut done).await.expect("room");
            let (now, most) = (now.clone(), most.clone());
            pool.spawn(async move {
                let _held = permit;
                let k = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(k, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                Ok(i)
            });
        }
        pool.finish(&mut done).await.unwrap();
        done.sort();
        assert_eq!(
            done,
            (0..n).collect::<Vec<_>>(),
            "every task's result, once"
        );
        most.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn width_and_memory_both_bound_what_runs_at_once() {
        // The width binds.
        assert_eq!(most_at_once(20, 3, 64 << 20, 1 << 20).await, 3);
        // The memory binds: 4 MiB of budget, 1 MiB each.
        assert_eq!(most_at_once(20, 16, 4 << 20, 1 << 20).await, 4);
    }

    #[tokio::test]
    async fn the_first_failure_stops_new_work_and_is_the_result() {
        let mem = Memory::new(8 << 20);
        let cancel = CancellationToken::new();
        let mut pool: Pool<u32> = Pool::new(2, &mem, (&cancel, &CancellationToken::new()), "test");
        let mut done = Vec::new();
        let mut started = 0;
        for i in 0..10u32 {
            let Some(permit) = pool.room(0, &mut done).await else {
                break;
            };
            started += 1;
            pool.spawn(async move {
                let _held = permit;
                if i == 1 {
                    return Err(Error::new(ErrorKind::Service, "part 2 failed"));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(i)
            });
        }
        let err = pool.finish(&mut done).await.unwrap_err();
        assert_eq!(err.to_string(), "part 2 failed");
        assert!(started < 10, "no new work after the failure ({started})");
        assert_eq!(mem.free(), 8 << 20, "every permit given back");
    }

    #[tokio::test]
    async fn a_cancel_stops_the_run() {
        let mem = Memory::new(8 << 20);
        let cancel = CancellationToken::new();
        let mut pool: Pool<()> = Pool::new(4, &mem, (&cancel, &CancellationToken::new()), "upload");
        let mut done = Vec::new();
        let token = cancel.clone();
        let permit = pool.room(0, &mut done).await.unwrap();
        pool.spawn(async move {
            let _held = permit;
            token.cancelled().await;
            Err(Error::cancelled("upload"))
        });
        cancel.cancel();
        assert!(pool.room(0, &mut done).await.is_none());
        let err = pool.finish(&mut done).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled);
    }

    #[tokio::test]
    async fn a_drain_starts_nothing_new_lets_what_runs_finish_and_is_a_cancel() {
        let mem = Memory::new(8 << 20);
        let (cancel, drain) = (CancellationToken::new(), CancellationToken::new());
        let mut pool: Pool<u32> = Pool::new(2, &mem, (&cancel, &drain), "upload");
        let mut done = Vec::new();
        for i in 0..2u32 {
            let permit = pool.room(0, &mut done).await.unwrap();
            pool.spawn(async move {
                let _held = permit;
                tokio::time::sleep(Duration::from_millis(30)).await;
                Ok(i)
            });
        }
        drain.cancel();
        assert!(pool.room(0, &mut done).await.is_none(), "nothing new");
        let err = pool.finish(&mut done).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled);
        done.sort_unstable();
        assert_eq!(done, [0, 1], "what ran finished and was taken");
        assert!(!cancel.is_cancelled());

        // A drain once all the work has started leaves the run whole.
        let drain = CancellationToken::new();
        let mut pool: Pool<u32> = Pool::new(2, &mem, (&cancel, &drain), "upload");
        let mut done = Vec::new();
        let permit = pool.room(0, &mut done).await.unwrap();
        pool.spawn(async move {
            let _held = permit;
            Ok(7)
        });
        drain.cancel();
        pool.finish(&mut done).await.unwrap();
        assert_eq!(done, [7]);
    }
}
