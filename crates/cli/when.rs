//! Times as flags give them: a time (RFC 3339), a day (from midnight UTC) or a span from now,
//! ahead (a retention's end, an expiry) or back (a tree as it was).

use time::{Duration, OffsetDateTime, UtcOffset};

/// Which way a span goes from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Way {
    /// `90d`: ninety days from now.
    Ahead,
    /// `90d`: ninety days ago.
    Back,
}

/// `when` as an instant (UTC): a time (`2030-01-01T00:00:00Z`, any offset), a day
/// (`2030-01-01`, from midnight UTC), or a span from `now` that way (`90d`), in one of `units`
/// (of `m`inutes, `h`ours, `d`ays, `w`eeks and `y`ears of 365 days). `None` when it is none
/// of these.
pub(crate) fn instant(
    when: &str,
    now: OffsetDateTime,
    way: Way,
    units: &str,
) -> Option<OffsetDateTime> {
    let when = when.trim();
    if let Some((n, unit)) = span(when).filter(|(_, u)| units.contains(*u)) {
        let minutes = match unit {
            'm' => 1,
            'h' => 60,
            'd' => 60 * 24,
            'w' => 60 * 24 * 7,
            'y' => 60 * 24 * 365,
            _ => return None,
        };
        let span = Duration::minutes(i64::from(n) * minutes);
        return Some(match way {
            Way::Ahead => now + span,
            Way::Back => now - span,
        });
    }
    if let Ok(t) = OffsetDateTime::parse(when, &time::format_description::well_known::Rfc3339) {
        return Some(t.to_offset(UtcOffset::UTC));
    }
    let day = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(when, day)
        .ok()
        .map(|d| d.midnight().assume_utc())
}

/// A span as `90d` says it: the number and its unit (any one character).
pub(crate) fn span(when: &str) -> Option<(u32, char)> {
    let (i, unit) = when.char_indices().last()?;
    Some((when[..i].parse().ok()?, unit))
}

/// `t` as RFC 3339, in whole seconds.
pub(crate) fn shown(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// An HTTP date (`Tue, 01 Jan 2030 00:00:00 GMT`), as the `Expires` header takes it: from an
/// HTTP date, or from what [`instant`] takes, a span going ahead from `now` (`30d`).
pub(crate) fn http_date(when: &str, now: OffsetDateTime) -> Option<String> {
    let at = match httpdate::parse_http_date(when.trim()) {
        Ok(at) => at,
        Err(_) => instant(when, now, Way::Ahead, "mhdwy")?.into(),
    };
    Some(httpdate::fmt_http_date(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expiry_is_an_http_date_from_a_time_a_day_a_span_or_one() {
        let now = time::macros::datetime!(2026-12-06 16:36:19 UTC);
        let at = |w| http_date(w, now);
        let want = Some("Sun, 13 Dec 2026 16:36:19 GMT".to_string());
        assert_eq!(at("1w"), want);
        assert_eq!(at("2026-12-13T16:36:19Z"), want);
        assert_eq!(at("2026-12-13T17:36:19+01:00"), want);
        assert_eq!(at(" Sun, 13 Dec 2026 16:36:19 GMT "), want);
        assert_eq!(
            at("2030-01-01").as_deref(),
            Some("Tue, 01 Jan 2030 00:00:00 GMT")
        );
        for bad in ["", "soon", "5s", "Sun, 32 Dec 2026 16:36:19 GMT"] {
            assert_eq!(at(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_time_a_day_or_a_span_either_way() {
        let now = time::macros::datetime!(2026-12-06 16:36:19 UTC);
        let at = |w, way| instant(w, now, way, "mhdwy").map(shown);
        assert_eq!(
            at("90m", Way::Back).as_deref(),
            Some("2026-12-06T15:06:19Z")
        );
        assert_eq!(at("2d", Way::Back).as_deref(), Some("2026-12-04T16:36:19Z"));
        assert_eq!(
            at("1w", Way::Ahead).as_deref(),
            Some("2026-12-13T16:36:19Z")
        );
        assert_eq!(
            at("1y", Way::Ahead).as_deref(),
            Some("2027-12-06T16:36:19Z")
        );
        assert_eq!(
            at("2026-12-01", Way::Back).as_deref(),
            Some("2026-12-01T00:00:00Z")
        );
        assert_eq!(
            at("2026-12-01T02:00:00+02:00", Way::Back).as_deref(),
            Some("2026-12-01T00:00:00Z")
        );
        for bad in ["", "d", "5s", "-3d", "yesterday", "2030-13-01"] {
            assert_eq!(at(bad, Way::Back), None, "{bad}");
        }
        // A unit not among those taken.
        assert_eq!(instant("5m", now, Way::Ahead, "hdwy"), None);
    }
}
