//! The object lock flags of `cp` (`--object-lock-*`) and `lock` (`--mode`, `--until`,
//! `--legal-hold`) as S3 takes them: a retention's mode and end, a legal hold, and a bucket's
//! default retention period. Every message names the flag at fault.

use ferry_s3::{ObjectLockMode, RetentionPeriod};

use crate::exit::{CliError, bad_input};
use crate::when::{Way, instant, shown, span};

/// An object lock as flags give it: a retention's mode and end (both or neither) and a legal
/// hold, each flag named in errors as `names` (mode, until, hold) say.
pub(crate) struct LockFlags<'a> {
    pub(crate) mode: Option<&'a str>,
    pub(crate) until: Option<&'a str>,
    pub(crate) hold: Option<&'a str>,
    pub(crate) names: [&'static str; 3],
}

/// The object lock flags ask for.
pub(crate) struct Lock {
    /// The retention's mode, and its end as S3 takes it.
    pub(crate) retention: Option<(ObjectLockMode, String)>,
    /// The legal hold: on, off, or neither asked.
    pub(crate) hold: Option<bool>,
}

/// The retention and the legal hold that `f` asks for.
pub(crate) fn object_lock(f: LockFlags<'_>) -> Result<Lock, CliError> {
    let [mode_flag, until_flag, hold_flag] = f.names;
    let retention = match (f.mode, f.until) {
        (Some(m), Some(w)) => {
            let mode = m.parse().map_err(|_| {
                bad_input(format!("{mode_flag} {m:?}: use GOVERNANCE or COMPLIANCE"))
            })?;
            let until = retain_until(w, time::OffsetDateTime::now_utc())
                .map_err(|e| bad_input(format!("{until_flag} {w:?}: {e}")))?;
            Some((mode, until))
        }
        (Some(_), None) => {
            return Err(bad_input(format!(
                "{mode_flag} needs {until_flag} (until when)"
            )));
        }
        (None, Some(_)) => {
            return Err(bad_input(format!(
                "{until_flag} needs {mode_flag} (GOVERNANCE or COMPLIANCE)"
            )));
        }
        (None, None) => None,
    };
    let hold = match f.hold {
        None => None,
        Some(s) if s.eq_ignore_ascii_case("on") => Some(true),
        Some(s) if s.eq_ignore_ascii_case("off") => Some(false),
        Some(s) => return Err(bad_input(format!("{hold_flag} {s:?}: use ON or OFF"))),
    };
    Ok(Lock { retention, hold })
}

/// An object lock's retain-until date as S3 takes it (RFC 3339, UTC, whole seconds), from a
/// time (RFC 3339), a day (`2030-01-01`, from midnight UTC) or a span from `now` (`90d`,
/// `12h`, `4w`, `7y`, a year being 365 days), which must lie after `now`.
pub(crate) fn retain_until(when: &str, now: time::OffsetDateTime) -> Result<String, String> {
    let at = instant(when, now, Way::Ahead, "hdwy").ok_or_else(|| {
        "give a time (2030-01-01T00:00:00Z), a day (2030-01-01) or a span from now (90d, 12h, \
         4w, 7y)"
            .to_string()
    })?;
    if at <= now {
        return Err(format!(
            "{} has passed: the retention must end in the future",
            shown(at)
        ));
    }
    // Whole seconds, rounded up: a span is never cut short.
    let secs = at.unix_timestamp() + i64::from(at.nanosecond() > 0);
    let at = time::OffsetDateTime::from_unix_timestamp(secs).map_err(|e| e.to_string())?;
    Ok(shown(at))
}

/// A bucket's default retention period (from each version's writing), from `--until`: whole
/// days (`30d`), weeks (`4w`, as days) or years (`7y`), 1 or more, as S3 takes it.
pub(crate) fn default_period(until: &str) -> Result<RetentionPeriod, CliError> {
    let why = match span(until.trim()) {
        Some((0, _)) => "a default retention lasts a day or more".to_string(),
        Some((n, 'd')) => return Ok(RetentionPeriod::Days(n)),
        Some((n, 'w')) if n <= u32::MAX / 7 => return Ok(RetentionPeriod::Days(n * 7)),
        Some((n, 'y')) => return Ok(RetentionPeriod::Years(n)),
        _ => "a default retention is a period from each version's writing, in whole days, \
              weeks or years (30d, 4w, 7y), not hours or a date"
            .to_string(),
    };
    Err(bad_input(format!("--until {until:?}: {why}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retention_ends_at_a_time_a_day_or_a_span_from_now_and_never_in_the_past() {
        let now = time::macros::datetime!(2026-12-06 16:36:19.25 UTC);
        let at = |w| retain_until(w, now);
        assert_eq!(at("90d").as_deref(), Ok("2027-03-06T16:36:20Z"));
        assert_eq!(at("12h").as_deref(), Ok("2026-12-07T04:36:20Z"));
        assert_eq!(at("1w").as_deref(), Ok("2026-12-13T16:36:20Z"));
        assert_eq!(at("1y").as_deref(), Ok("2027-12-06T16:36:20Z"));
        assert_eq!(at("2030-01-01").as_deref(), Ok("2030-01-01T00:00:00Z"));
        assert_eq!(
            at("2030-01-01T02:00:00+02:00").as_deref(),
            Ok("2030-01-01T00:00:00Z")
        );
        assert!(at("2026-12-06").unwrap_err().contains("has passed"));
        assert!(at("0d").unwrap_err().contains("has passed"));
        for bad in ["", "d", "5m", "-3d", "tomorrow", "2030-13-01"] {
            assert!(at(bad).unwrap_err().contains("a span from now"), "{bad}");
        }
    }

    #[test]
    fn a_default_retention_is_whole_days_or_years() {
        let p = |w| default_period(w).map_err(|e| format!("{e:?}"));
        assert_eq!(p("30d"), Ok(RetentionPeriod::Days(30)));
        assert_eq!(p("4w"), Ok(RetentionPeriod::Days(28)));
        assert_eq!(p("7y"), Ok(RetentionPeriod::Years(7)));
        for bad in ["12h", "0d", "2030-01-01", "d", "-1d", "30", ""] {
            let e = p(bad).unwrap_err();
            assert!(e.contains("--until"), "{bad}: {e}");
        }
    }
}
