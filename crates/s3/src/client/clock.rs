//! The time requests are signed with: the local clock, corrected by what a server said its
//! own time was when it refused a request as `RequestTimeTooSkewed`.
//!
//! S3 refuses a request signed more than 15 minutes away from its own time. A machine whose
//! clock is off (a VM after a suspend, a board with no real-time clock before NTP) would fail
//! every request. As the AWS SDKs for Go, Java and Rust do, the client takes the server's time
//! from the refusal's `Date` header, signs with it from then on, and sends the refused request
//! again once. A refused HEAD has no body to name the reason: a 403 whose `Date` is
//! [`FAR`] or more from the time it was signed with counts as such a refusal.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::SystemTime;

use tracing::warn;

/// How far a HEAD's signing time and its 403's `Date` must be apart to blame the clock: well
/// inside S3's 15 minutes' tolerance, well outside a slow answer.
pub(super) const FAR: i64 = 300;

/// Seconds to add to the local clock to get the server's (shared by a client's clones).
#[derive(Debug, Default)]
pub(super) struct Clock {
    offset: AtomicI64,
}

impl Clock {
    /// The time to sign with now.
    pub(super) fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc() + time::Duration::seconds(self.offset())
    }

    /// The correction in use, in seconds.
    pub(super) fn offset(&self) -> i64 {
        self.offset.load(Ordering::Relaxed)
    }

    /// Whether a server `offset` seconds from the local clock sees this client's signing time
    /// [`FAR`] or more from its own.
    pub(super) fn is_far(&self, offset: i64) -> bool {
        (offset - self.offset()).abs() >= FAR
    }

    /// Signs with the server's time, `offset` seconds from the local clock, from now on.
    /// Returns whether the correction changed. The refusals of requests signed together give
    /// offsets a second or two apart (a `Date` has whole seconds, answers take time): those
    /// keep the first, so the correction does not flap and is told once.
    pub(super) fn learn(&self, offset: i64) -> bool {
        let changed = self
            .offset
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |before| {
                ((offset - before).abs() > BLUR).then_some(offset)
            })
            .is_ok();
        if changed {
            warn!(
                "the local clock is {} the server's; signing requests with the server's time",
                describe(offset)
            );
        }
        changed
    }
}

/// Seconds by which two readings of the server's time may differ and be the same.
const BLUR: i64 = 2;

/// Seconds to add to `local` to get the time in an answer's `Date` header (whole seconds: the
/// header has no finer grain).
pub(super) fn server_offset(date: Option<&http::HeaderValue>, local: SystemTime) -> Option<i64> {
    let server = httpdate::parse_http_date(date?.to_str().ok()?).ok()?;
    Some(match server.duration_since(local) {
        Ok(ahead) => ahead.as_secs_f64().round() as i64,
        Err(behind) => -(behind.duration().as_secs_f64().round() as i64),
    })
}

/// "12 min behind", "2 h 0 min ahead of": how far the local clock is from the server's, to the
/// minute (a `Date` header and an answer's latency blur the seconds).
fn describe(offset: i64) -> String {
    let (n, way) = if offset > 0 {
        (offset, "behind")
    } else {
        (-offset, "ahead of")
    };
    let minutes = (n + 30) / 60;
    let amount = match n {
        0..90 => format!("{n} s"),
        90..3570 => format!("{minutes} min"),
        _ => format!("{} h {} min", minutes / 60, minutes % 60),
    };
    format!("{amount} {way}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn date(t: SystemTime) -> http::HeaderValue {
        http::HeaderValue::from_str(&httpdate::fmt_http_date(t)).unwrap()
    }

    #[test]
    fn the_servers_date_sets_the_signing_time() {
        let clock = Clock::default();
        let local = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        // The server is 30 minutes ahead: the local clock is behind.
        let ahead = server_offset(Some(&date(local + Duration::from_secs(1800))), local);
        assert_eq!(ahead, Some(1800));
        assert!(clock.is_far(1800));
        assert!(clock.learn(1800));
        assert_eq!(clock.offset(), 1800);
        let skew = clock.now() - time::OffsetDateTime::now_utc();
        assert!((skew.whole_seconds() - 1800).abs() <= 1, "{skew}");
        // The same answer again, or one a second or two later, changes nothing.
        assert!(!clock.is_far(1800 + 2));
        assert!(!clock.learn(1800));
        assert!(!clock.learn(1802));
        assert!(!clock.learn(1799));
        assert_eq!(clock.offset(), 1800);
        // Two hours behind.
        let behind = server_offset(Some(&date(local - Duration::from_secs(7200))), local);
        assert_eq!(behind, Some(-7200));
        assert!(clock.learn(-7200));
        assert_eq!(clock.offset(), -7200);
    }

    #[test]
    fn no_date_or_a_bad_one_tells_nothing() {
        let now = SystemTime::now();
        assert_eq!(server_offset(None, now), None);
        let bad = http::HeaderValue::from_static("yesterday");
        assert_eq!(server_offset(Some(&bad), now), None);
    }

    #[test]
    fn the_warning_says_which_way_and_how_far() {
        assert_eq!(describe(1801), "30 min behind");
        assert_eq!(describe(-1799), "30 min ahead of");
        assert_eq!(describe(-7260), "2 h 1 min ahead of");
        assert_eq!(describe(7199), "2 h 0 min behind");
        assert_eq!(describe(3599), "1 h 0 min behind");
        assert_eq!(describe(-5), "5 s ahead of");
    }
}
