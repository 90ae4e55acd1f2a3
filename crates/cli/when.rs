//! Times as flags give them: a time (RFC 3339), a day (from midnight UTC) or a span from now,
//! ahead (a retention's end) or back (a tree as it was).

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

#[cfg(test)]
mod tests {
    use super::*;

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
