//! Retry policy: which failures to retry (ferry-s3's classification), how long to wait
//! (exponential backoff with full jitter from an injectable random source, `Retry-After`
//! honoured up to a cap), when to stop (attempts, total time), and the retry quota a client
//! shares between all its transfers so a sick server does not get a retry storm. The loop
//! that applies them is [`Context::retrying`](crate::context::Context::retrying).

use std::sync::Mutex;
use std::time::Duration;

use ferry_s3::S3Error;

/// When and how long to retry. Values follow the AWS SDKs' standard mode (2026).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included. By default, 6.
    pub max_attempts: u32,
    /// Longest time spent retrying one request, waits included. By default, 120 s.
    pub max_total: Duration,
    /// Base delay of transient errors. By default, 50 ms.
    pub base: Duration,
    /// Base delay of throttling errors (SlowDown). By default, 1 s.
    pub throttle_base: Duration,
    /// Longest single wait. By default, 20 s.
    pub max_delay: Duration,
    /// Longest `Retry-After` honoured. By default, 20 s.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            max_total: Duration::from_secs(120),
            base: Duration::from_millis(50),
            throttle_base: Duration::from_secs(1),
            max_delay: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(20),
        }
    }
}

/// A source of randomness in `[0, 1)`, injectable so tests are deterministic.
pub trait Jitter: Send + Sync + std::fmt::Debug {
    /// A number in `[0, 1)`.
    fn next(&self) -> f64;
}

/// The thread-local RNG.
#[derive(Debug, Default)]
pub struct RandomJitter;

impl Jitter for RandomJitter {
    fn next(&self) -> f64 {
        rand::random::<f64>()
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1-based) after `err`: full jitter,
    /// `random(0, min(max_delay, base * 2^(retry-1)))`, or the server's `Retry-After` (capped)
    /// when it is longer.
    pub fn delay(&self, err: &S3Error, retry: u32, jitter: &dyn Jitter) -> Duration {
        let base = if err.is_throttling() {
            self.throttle_base
        } else {
            self.base
        };
        let ceiling = base
            .saturating_mul(1u32 << retry.saturating_sub(1).min(20))
            .min(self.max_delay);
        let wait = ceiling.mul_f64(jitter.next().clamp(0.0, 1.0));
        match err.retry_after() {
            Some(asked) => wait.max(asked.min(self.max_retry_after)),
            None => wait,
        }
    }
}

/// The retry quota: a token bucket of 500 that a retry draws from (5 for throttling, 14 for
/// other errors) and a success refills. Shared by every transfer of one client.
/// Source: AWS SDKs and Tools Reference Guide, "Retry behavior", standard mode.
#[derive(Debug)]
pub struct RetryQuota {
    tokens: Mutex<u32>,
    max: u32,
}

/// Tokens in a full quota.
pub const QUOTA_TOKENS: u32 = 500;
/// Cost of retrying a throttling error.
pub const THROTTLE_COST: u32 = 5;
/// Cost of retrying any other error.
pub const RETRY_COST: u32 = 14;

impl Default for RetryQuota {
    fn default() -> Self {
        Self::new(QUOTA_TOKENS)
    }
}

impl RetryQuota {
    /// A full quota of `max` tokens.
    pub fn new(max: u32) -> Self {
        Self {
            tokens: Mutex::new(max),
            max,
        }
    }

    /// Takes the cost of retrying `err`; `None` when the quota is spent (do not retry).
    pub fn acquire(&self, err: &S3Error) -> Option<u32> {
        let cost = if err.is_throttling() {
            THROTTLE_COST
        } else {
            RETRY_COST
        };
        let mut t = self.tokens.lock().expect("quota lock");
        if *t < cost {
            return None;
        }
        *t -= cost;
        Some(cost)
    }

    /// A request succeeded: gives back what its retries took, or 1 if it had none.
    pub fn release(&self, taken: u32) {
        let mut t = self.tokens.lock().expect("quota lock");
        *t = (*t + taken.max(1)).min(self.max);
    }

    /// Tokens left.
    pub fn available(&self) -> u32 {
        *self.tokens.lock().expect("quota lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_s3::{ClientErrorKind, ServiceError};

    #[derive(Debug)]
    struct Fixed(f64);
    impl Jitter for Fixed {
        fn next(&self) -> f64 {
            self.0
        }
    }

    fn svc(status: u16, code: &str, retry_after: Option<Duration>) -> S3Error {
        ServiceError {
            retry_after,
            ..ServiceError::new("UploadPart", status, code, "")
        }
        .into()
    }

    #[test]
    fn backoff_is_exponential_with_full_jitter_and_a_cap() {
        let p = RetryPolicy::default();
        let e = svc(500, "InternalError", None);
        assert_eq!(p.delay(&e, 1, &Fixed(1.0)), Duration::from_millis(50));
        assert_eq!(p.delay(&e, 3, &Fixed(1.0)), Duration::from_millis(200));
        assert_eq!(p.delay(&e, 3, &Fixed(0.5)), Duration::from_millis(100));
        assert_eq!(p.delay(&e, 3, &Fixed(0.0)), Duration::ZERO);
        assert_eq!(p.delay(&e, 30, &Fixed(1.0)), Duration::from_secs(20));
        let slow = svc(503, "SlowDown", None);
        assert_eq!(p.delay(&slow, 2, &Fixed(1.0)), Duration::from_secs(2));
    }

    #[test]
    fn retry_after_is_honoured_up_to_a_cap() {
        let p = RetryPolicy::default();
        let e = svc(503, "SlowDown", Some(Duration::from_secs(7)));
        assert_eq!(p.delay(&e, 1, &Fixed(0.0)), Duration::from_secs(7));
        let e = svc(503, "SlowDown", Some(Duration::from_secs(3600)));
        assert_eq!(p.delay(&e, 1, &Fixed(0.0)), Duration::from_secs(20));
    }

    #[test]
    fn quota_runs_out_and_refills() {
        let q = RetryQuota::new(30);
        let e = S3Error::client("UploadPart", ClientErrorKind::Network, "reset");
        assert_eq!(q.acquire(&e), Some(14));
        assert_eq!(q.acquire(&e), Some(14));
        assert_eq!(q.acquire(&e), None);
        assert_eq!(q.acquire(&svc(503, "SlowDown", None)), None);
        q.release(14);
        assert_eq!(q.available(), 16);
        q.release(0);
        assert_eq!(q.available(), 17);
        q.release(1000);
        assert_eq!(q.available(), 30);
    }
}
