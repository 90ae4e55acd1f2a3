//! The budgets every transfer of a manager shares, each handed out as owned permits that a
//! task holds while it runs and gives back when it ends (dropped):
//!
//! - [`Memory`]: bytes of part and range buffers. A part takes what it will hold before it
//!   starts; a range waiting for its turn keeps its permit until it is written.
//! - [`Requests`]: requests in flight, lowered when the server throttles and raised again
//!   slowly (AIMD), so a sick server sees fewer requests from every transfer at once.
//! - [`Bandwidth`]: bytes per second, both directions together, shared out in the order bytes
//!   ask to pass (fair between transfers); and, under it, the request bodies sent at once
//!   (its send window), so that each body, sharing the rate with the others, is sent before
//!   the client's read timeout.
//! - [`Allowance`]: bytes the transfers may still move, taken by a tree's object before it
//!   starts.
//! - [`Turns`]: transfers of one object running at once. One submitted past it waits for its
//!   turn as little more than its request, before it builds what it runs with (tens of KiB:
//!   its state, its event buffer), so a program may submit 100,000 small transfers at once.
//! - [`Slots`]: what one object of a tree holds of the tree's width (its parts or ranges at
//!   once), given back as soon as its requests are over, before its file is flushed and named.
//!
//! To stay free of deadlock, a transfer takes its turn before anything else, holding nothing
//! while it waits; a task takes memory before a request slot, never the other way; a body
//! takes its share of the send window after its request slot (a holder of the window holds a
//! slot already and is sending, so it always ends). A transfer fed or drained by its caller
//! (a stream source, a writer target) takes no turn: its caller may be waiting for another
//! transfer before it feeds this one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Bytes in memory, counted in KiB (so a budget may pass 4 GiB).
#[derive(Debug, Clone)]
pub(crate) struct Memory {
    semaphore: Arc<Semaphore>,
    total_kib: u32,
}

/// Memory held until dropped.
#[derive(Debug)]
pub(crate) struct MemoryPermit(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

impl MemoryPermit {
    /// A permit for nothing (a part that holds no buffers).
    pub(crate) fn none() -> Self {
        Self(None)
    }
}

impl Memory {
    /// A budget of `bytes` (at least 1 MiB).
    pub(crate) fn new(bytes: u64) -> Self {
        let total_kib = (bytes / 1024).clamp(1024, u64::from(u32::MAX)) as u32;
        Self {
            semaphore: Arc::new(Semaphore::new(total_kib as usize)),
            total_kib,
        }
    }

    /// The budget, in bytes.
    pub(crate) fn total(&self) -> u64 {
        u64::from(self.total_kib) * 1024
    }

    fn kib(&self, bytes: u64) -> u32 {
        // More than the whole budget waits for the whole budget.
        bytes.div_ceil(1024).min(u64::from(self.total_kib)) as u32
    }

    /// Waits until `bytes` are free, and holds them.
    pub(crate) async fn take(&self, bytes: u64) -> MemoryPermit {
        if bytes == 0 {
            return MemoryPermit::none();
        }
        let permit = self
            .semaphore
            .clone()
            .acquire_many_owned(self.kib(bytes))
            .await
            .expect("the memory budget is never closed");
        MemoryPermit(Some(permit))
    }

    /// Holds `bytes` if they are free now.
    pub(crate) fn try_take(&self, bytes: u64) -> Option<MemoryPermit> {
        if bytes == 0 {
            return Some(MemoryPermit::none());
        }
        self.semaphore
            .clone()
            .try_acquire_many_owned(self.kib(bytes))
            .ok()
            .map(|p| MemoryPermit(Some(p)))
    }

    /// Bytes free now.
    #[cfg(test)]
    pub(crate) fn free(&self) -> u64 {
        self.semaphore.available_permits() as u64 * 1024
    }
}

/// Transfers of one object running at once, in the order they were submitted.
#[derive(Debug, Clone)]
pub(crate) struct Turns(Arc<Semaphore>);

/// A transfer's turn, given back when dropped (when the transfer ends).
#[derive(Debug)]
pub(crate) struct Turn(#[allow(dead_code)] OwnedSemaphorePermit);

impl Turns {
    /// At most `n` at once.
    pub(crate) fn new(n: usize) -> Self {
        Self(Arc::new(Semaphore::new(n.max(1))))
    }

    /// Waits for a turn.
    pub(crate) async fn take(&self) -> Turn {
        Turn(
            self.0
                .clone()
                .acquire_owned()
                .await
                .expect("the turns are never closed"),
        )
    }
}

/// Requests in flight: at most a limit that halves when the server throttles and grows back
/// by one request per `limit` successes (additive increase, multiplicative decrease).
#[derive(Debug)]
pub(crate) struct Requests {
    state: Mutex<RequestState>,
    freed: Notify,
}

#[derive(Debug)]
struct RequestState {
    in_flight: u32,
    limit: f64,
    max: u32,
}

/// A request slot, given back when dropped.
#[derive(Debug)]
pub(crate) struct RequestPermit(Arc<Requests>);

impl Drop for RequestPermit {
    fn drop(&mut self) {
        self.0.state.lock().expect("requests lock").in_flight -= 1;
        self.0.freed.notify_one();
    }
}

impl Requests {
    /// At most `max` requests in flight.
    pub(crate) fn new(max: u32) -> Arc<Self> {
        let max = max.max(1);
        Arc::new(Self {
            state: Mutex::new(RequestState {
                in_flight: 0,
                limit: f64::from(max),
                max,
            }),
            freed: Notify::new(),
        })
    }

    /// Waits for a slot.
    pub(crate) async fn acquire(self: &Arc<Self>) -> RequestPermit {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            {
                let mut s = self.state.lock().expect("requests lock");
                if f64::from(s.in_flight) < s.limit.floor() {
                    s.in_flight += 1;
                    return RequestPermit(self.clone());
                }
            }
            freed.await;
        }
    }

    /// Requests allowed in flight now.
    pub(crate) fn limit(&self) -> u32 {
        self.state.lock().expect("requests lock").limit as u32
    }

    /// The server throttled: halve. Returns the new limit.
    pub(crate) fn on_throttle(&self) -> u32 {
        let mut s = self.state.lock().expect("requests lock");
        s.limit = (s.limit / 2.0).max(1.0);
        s.limit as u32
    }

    /// A request succeeded: grow by 1/limit. Returns the new limit when it rose by a whole
    /// request.
    pub(crate) fn on_success(&self) -> Option<u32> {
        let risen = {
            let mut s = self.state.lock().expect("requests lock");
            let before = s.limit as u32;
            s.limit = (s.limit + 1.0 / s.limit).min(f64::from(s.max));
            (s.limit as u32 > before).then_some(s.limit as u32)
        };
        if risen.is_some() {
            self.freed.notify_one();
        }
        risen
    }
}

/// The slots of a tree's width that one of its objects holds (as many as its parts or ranges
/// in flight at once). Given back when its requests are over ([`give_back`](Self::give_back)),
/// or else when it ends: an object whose file waits for the disk (its flush, its rename)
/// leaves its slots to the next objects, whose requests go out meanwhile.
#[derive(Debug)]
pub(crate) struct Slots(Mutex<Option<OwnedSemaphorePermit>>);

impl Slots {
    /// Slots held until given back.
    pub(crate) fn new(held: OwnedSemaphorePermit) -> Arc<Self> {
        Arc::new(Self(Mutex::new(Some(held))))
    }

    /// Gives the slots back (the first call; later ones do nothing).
    pub(crate) fn give_back(&self) {
        drop(self.0.lock().expect("slots lock").take());
    }
}

/// Bytes the transfers may still move ([`Manager::set_transfer_allowance`](crate::Manager)):
/// a tree's object takes its size before it starts, and one that does not fit is not
/// started. `None`: no allowance, everything fits.
#[derive(Debug, Default)]
pub(crate) struct Allowance(Mutex<Option<u64>>);

impl Allowance {
    /// An allowance of `bytes` (`None`: none).
    pub(crate) fn new(bytes: Option<u64>) -> Self {
        Self(Mutex::new(bytes))
    }

    /// Sets what is left (`None`: no allowance).
    pub(crate) fn set(&self, bytes: Option<u64>) {
        *self.0.lock().expect("allowance lock") = bytes;
    }

    /// What is left.
    pub(crate) fn left(&self) -> Option<u64> {
        *self.0.lock().expect("allowance lock")
    }

    /// Takes `n` bytes if they fit in what is left.
    pub(crate) fn take(&self, n: u64) -> bool {
        let mut left = self.0.lock().expect("allowance lock");
        match *left {
            Some(l) if n > l => false,
            Some(l) => {
                *left = Some(l - n);
                true
            }
            None => true,
        }
    }

    /// Gives back `n` bytes taken for what did not move them.
    pub(crate) fn give_back(&self, n: u64) {
        if let Some(l) = self.0.lock().expect("allowance lock").as_mut() {
            *l = l.saturating_add(n);
        }
    }
}

/// Bytes per second, shared: each caller reserves its bytes on one clock and waits until they
/// may pass, so the rate holds over any stretch longer than the allowance, whoever sends. The
/// rate may change while transfers run ([`Bandwidth::set`]), or be lifted: bytes reserved
/// after a change pass at the new rate, and the send window is sized for it.
#[derive(Debug)]
pub(crate) struct Bandwidth {
    /// Bytes per second; [`UNLIMITED`] when there is no limit.
    rate: AtomicU64,
    /// When the bytes reserved so far will have passed at the rate.
    clock: Mutex<Option<Instant>>,
    /// The longest a request body should take to send (a third of the client's read timeout).
    body_time: Duration,
    /// Bytes of request bodies being sent at once: what the rate sends in `body_time`. Each
    /// body is paced at the rate shared out between all that are sending, so without this a
    /// tree of many objects (each within its own parts-at-once) spreads the rate so thin
    /// that no body ends before the read timeout. A new rate gets a window of its own; a body
    /// holding a share of the old one gives it back to that one.
    window: Mutex<Memory>,
}

/// The rate of no limit.
const UNLIMITED: u64 = u64::MAX;

/// How far ahead of the rate's clock bytes may go: one chunk's worth of slack, so a transfer
/// is not paced in steps smaller than its chunks.
const ALLOWANCE: Duration = Duration::from_millis(50);

impl Bandwidth {
    /// A limit of `bytes_per_second` (at least 1 KiB/s; `None`: none, until one is set) for a
    /// client that gives up on a server silent for `read_timeout`.
    pub(crate) fn new(bytes_per_second: Option<u64>, read_timeout: Duration) -> Self {
        let bw = Self {
            rate: AtomicU64::new(UNLIMITED),
            clock: Mutex::new(None),
            body_time: read_timeout / 3,
            window: Mutex::new(Memory::new(0)),
        };
        bw.set(bytes_per_second);
        bw
    }

    /// Sets the rate (at least 1 KiB/s), or lifts the limit (`None`), from now on.
    pub(crate) fn set(&self, bytes_per_second: Option<u64>) {
        let rate = bytes_per_second.map_or(UNLIMITED, |b| b.max(1024));
        let window = (rate as f64 * self.body_time.as_secs_f64()).min(u64::MAX as f64) as u64;
        *self.window.lock().expect("bandwidth lock") = Memory::new(window);
        self.rate.store(rate, Ordering::Relaxed);
    }

    /// The rate, if there is a limit.
    pub(crate) fn limit(&self) -> Option<u64> {
        Some(self.rate.load(Ordering::Relaxed)).filter(|&r| r != UNLIMITED)
    }

    fn bytes_per_second(&self) -> f64 {
        self.rate.load(Ordering::Relaxed) as f64
    }

    /// How many bodies of `size` bytes, sharing the rate, each end within the body time (at
    /// least one, at most `width`).
    pub(crate) fn bodies_at_once(&self, size: u64, width: u32) -> u32 {
        let fit = self.bytes_per_second() * self.body_time.as_secs_f64() / size.max(1) as f64;
        width.min((fit.min(f64::from(u32::MAX)) as u32).max(1))
    }

    /// The size of the chunks a request body is sent in under this limit: what the rate
    /// sends in about a second (in steps of 8 KiB, the least aws-chunked allows), at most
    /// `most`. Each chunk's bytes wait for the rate before they go, and the client takes a
    /// server silent for its read timeout as gone: a 1 MiB chunk at 10 KiB/s would wait 100 s.
    pub(crate) fn chunk_size(&self, most: usize) -> usize {
        const STEP: usize = 8 * 1024;
        let per_second = self.rate.load(Ordering::Relaxed).min(usize::MAX as u64) as usize;
        (per_second / STEP * STEP).clamp(STEP, most.max(STEP))
    }

    /// Waits until a body of `size` bytes may start sending, and holds its share of the send
    /// window until dropped (a body larger than the window sends alone).
    pub(crate) async fn send(&self, size: u64) -> MemoryPermit {
        let window = self.window.lock().expect("bandwidth lock").clone();
        window.take(size).await
    }

    /// Reserves `n` bytes: how long to wait before they go (none without a limit).
    pub(crate) fn reserve(&self, n: u64) -> Duration {
        let now = Instant::now();
        let mut clock = self.clock.lock().expect("bandwidth lock");
        let Some(rate) = self.limit() else {
            *clock = None;
            return Duration::ZERO;
        };
        let start = clock.map_or(now, |c| c.max(now));
        let end = start + Duration::from_secs_f64(n as f64 / rate as f64);
        *clock = Some(end);
        end.saturating_duration_since(now + ALLOWANCE)
    }

    /// Waits until `n` more bytes may pass.
    pub(crate) async fn take(&self, n: u64) {
        let wait = self.reserve(n);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_is_held_until_dropped_and_capped_at_the_budget() {
        let m = Memory::new(4 << 20);
        assert_eq!(m.total(), 4 << 20);
        let a = m.take(3 << 20).await;
        assert!(m.try_take(2 << 20).is_none());
        let b = m.try_take(1 << 20).expect("1 MiB is free");
        assert_eq!(m.free(), 0);
        drop(a);
        assert_eq!(m.free(), 3 << 20);
        // More than the whole budget waits for the whole budget, not forever.
        drop(b);
        let all = m.take(10 << 20).await;
        assert_eq!(m.free(), 0);
        drop(all);
        assert!(m.try_take(0).is_some());
    }

    #[tokio::test]
    async fn requests_wait_for_a_slot_and_follow_aimd() {
        let r = Requests::new(2);
        let a = r.acquire().await;
        let _b = r.acquire().await;
        let waiter = {
            let r = r.clone();
            tokio::spawn(async move { r.acquire().await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "a third request waits");
        drop(a);
        let _c = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("a freed slot wakes the waiter")
            .unwrap();
        // Throttled: one at a time, until successes raise it again.
        assert_eq!(r.on_throttle(), 1);
        assert_eq!(r.on_throttle(), 1);
        assert_eq!(r.on_success(), Some(2));
        assert_eq!(r.on_success(), None);
        assert_eq!(r.limit(), 2);
    }

    #[test]
    fn an_allowance_hands_out_what_fits_and_takes_back_what_did_not_move() {
        let a = Allowance::new(Some(10));
        assert!(a.take(4) && a.take(6));
        assert!(!a.take(1), "nothing is left");
        a.give_back(3);
        assert_eq!(a.left(), Some(3));
        assert!(!a.take(4) && a.take(3));
        a.set(None);
        assert!(a.take(u64::MAX), "no allowance: everything fits");
    }

    #[test]
    fn bandwidth_spreads_bytes_over_time() {
        let bw = Bandwidth::new(Some(1 << 20), Duration::from_secs(60));
        // The first 50 ms of bytes pass at once; the rest wait their turn.
        assert_eq!(bw.reserve(50 << 10), Duration::ZERO);
        let wait = bw.reserve(1 << 20);
        let want = Duration::from_secs_f64((50.0 + 1024.0) / 1024.0) - ALLOWANCE;
        assert!(
            wait.abs_diff(want) < Duration::from_millis(20),
            "{wait:?} vs {want:?}"
        );
    }

    #[test]
    fn a_body_under_a_low_limit_goes_in_chunks_of_about_a_second() {
        let t = Duration::from_secs(60);
        assert_eq!(
            Bandwidth::new(Some(50 << 20), t).chunk_size(1 << 20),
            1 << 20
        );
        assert_eq!(
            Bandwidth::new(Some(256 << 10), t).chunk_size(1 << 20),
            256 << 10
        );
        assert_eq!(
            Bandwidth::new(Some(100_000), t).chunk_size(1 << 20),
            12 * 8192
        );
        // The least: 8 KiB, whatever the rate (1 KiB/s at the least: 8 s a chunk).
        assert_eq!(Bandwidth::new(Some(10), t).chunk_size(1 << 20), 8192);
    }

    #[tokio::test]
    async fn the_send_window_holds_what_the_rate_sends_in_a_third_of_the_read_timeout() {
        // 1 MiB/s, 6 s read timeout: bodies of 2 MiB at once, each sent within 2 s.
        let bw = Bandwidth::new(Some(1 << 20), Duration::from_secs(6));
        assert_eq!(bw.bodies_at_once(1 << 20, 8), 2);
        assert_eq!(bw.bodies_at_once(8 << 20, 8), 1);
        assert_eq!(bw.bodies_at_once(64 << 10, 8), 8);
        let first = bw.send(1 << 20).await;
        let _second = bw.send(1 << 20).await;
        // A third body waits until one of the first two is sent.
        let third = tokio::time::timeout(Duration::from_millis(50), bw.send(1 << 20));
        assert!(
            third.await.is_err(),
            "a third body started within the window"
        );
        drop(first);
        let _third = tokio::time::timeout(Duration::from_millis(50), bw.send(1 << 20))
            .await
            .expect("the third body starts once the first is sent");
        // A body larger than the window waits for all of it.
        drop(_second);
        drop(_third);
        let _big = bw.send(8 << 20).await;
        assert!(bw.window.lock().unwrap().try_take(1024).is_none());
    }
}
