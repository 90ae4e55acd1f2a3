//! `--bwlimit`: one rate, or a timetable of rates by local time of day in rclone's form
//! (`"08:00,2MiB 19:00,off"`: 2 MiB/s from 8 in the morning, no limit from 7 in the
//! evening), which the run follows through [`Manager::set_bandwidth`] while it lasts.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::Timelike as _;
use ferry_engine::Manager;

use crate::size::parse_size;

/// Seconds in a day.
const DAY: u32 = 24 * 60 * 60;

/// Rates by time of day: from each entry's second of the day (local time) until the next's,
/// that rate (`None`: no limit); the last holds over midnight until the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Timetable(Vec<(u32, Option<u64>)>);

/// What `--bwlimit` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Limit {
    /// One rate for the whole run (`None`: `off`, no limit).
    Fixed(Option<u64>),
    /// Rates by time of day.
    Timetable(Timetable),
}

/// The timetable of this run, for the managers it makes to follow.
static FOLLOWED: OnceLock<Timetable> = OnceLock::new();

/// Reads `--bwlimit`: `RATE` (a size per second, `/s` allowed, at least 1 KiB), `off`, or
/// entries `HH:MM,RATE` (or `HH:MM:SS,RATE`; RATE may be `off`) separated by spaces.
pub(crate) fn parse(text: &str) -> Result<Limit, String> {
    let text = text.trim();
    if !text.contains(',') && !text.contains(char::is_whitespace) {
        return rate(text).map(Limit::Fixed);
    }
    let mut entries = Vec::new();
    for entry in text.split_whitespace() {
        let Some((when, r)) = entry.split_once(',') else {
            return Err(format!(
                "{entry:?} is no entry of a timetable: give HH:MM,RATE (e.g. 08:00,2MiB or \
                 19:00,off), entries separated by spaces"
            ));
        };
        entries.push((second_of_day(when)?, rate(r)?));
    }
    entries.sort_by_key(|e| e.0);
    if let Some(w) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(format!("the timetable names {} twice", shown_time(w[0].0)));
    }
    Ok(Limit::Timetable(Timetable(entries)))
}

/// A rate: a size per second of at least 1 KiB, or `off`.
fn rate(text: &str) -> Result<Option<u64>, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    if text.contains(':') {
        return Err(format!(
            "{text:?}: one rate limits uploads and downloads together (not UP:DOWN)"
        ));
    }
    let per_second = text.strip_suffix("/s").unwrap_or(text);
    let b = parse_size(per_second)?;
    if b < 1024 {
        return Err("give at least 1KiB (per second)".into());
    }
    Ok(Some(b))
}

/// `HH:MM` or `HH:MM:SS` as a second of the day.
fn second_of_day(text: &str) -> Result<u32, String> {
    let bad = || {
        format!(
            "{text:?} is no time of day: give HH:MM (00:00 to 23:59, local time), or HH:MM:SS \
             (rclone's day names, Mon-08:00, are not taken)"
        )
    };
    let fields: Vec<&str> = text.split(':').collect();
    if !(2..=3).contains(&fields.len()) || fields.iter().any(|f| f.len() != 2) {
        return Err(bad());
    }
    let n: Vec<u32> = fields
        .iter()
        .map(|f| f.parse::<u32>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let (h, m, s) = (n[0], n[1], n.get(2).copied().unwrap_or(0));
    if h > 23 || m > 59 || s > 59 {
        return Err(bad());
    }
    Ok(h * 3600 + m * 60 + s)
}

fn shown_time(second: u32) -> String {
    let (h, m, s) = (second / 3600, second / 60 % 60, second % 60);
    if s == 0 {
        format!("{h:02}:{m:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

impl Timetable {
    /// The entry in force at `second` of the day: the last that began at or before it, else
    /// (before the first) the last of the day before. Its index, start and rate.
    fn at(&self, second: u32) -> (usize, u32, Option<u64>) {
        let i = match self.0.iter().rposition(|e| e.0 <= second) {
            Some(i) => i,
            None => self.0.len() - 1,
        };
        (i, self.0[i].0, self.0[i].1)
    }

    /// The rate at `second` of the day.
    pub(crate) fn rate_at(&self, second: u32) -> Option<u64> {
        self.at(second).2
    }

    /// Seconds from `second` of the day until the next entry begins.
    fn until_next(&self, second: u32) -> u32 {
        let (i, _, _) = self.at(second);
        let next = self.0[(i + 1) % self.0.len()].0;
        match (next + DAY - second) % DAY {
            0 => DAY,
            n => n,
        }
    }

    /// Has the managers of this run follow the timetable (see [`follow`]).
    pub(crate) fn keep(self) {
        let _ = FOLLOWED.set(self);
    }
}

/// The second of the day now, in local time (the `TZ` variable, else the system's zone).
pub(crate) fn now() -> u32 {
    chrono::Local::now().num_seconds_from_midnight()
}

/// Sets `manager`'s limit as the run's timetable says, if it has one, and changes it at each
/// entry's time while the run lasts (looking again at least once a minute, so that a change
/// of the clock or of summer time is followed).
pub(crate) fn follow<C: ferry_s3::ObjectClient>(manager: &Manager<C>) {
    let Some(table) = FOLLOWED.get() else {
        return;
    };
    let manager = manager.clone();
    tokio::spawn(async move {
        loop {
            let second = now();
            let (_, from, rate) = table.at(second);
            if manager.bandwidth() != rate {
                let shown = rate.map_or("none".to_string(), |r| format!("{r} bytes/s"));
                tracing::info!(
                    "--bwlimit: from {}, the bandwidth limit is {shown}",
                    shown_time(from)
                );
                let _ = manager.set_bandwidth(rate);
            }
            let wait = table.until_next(second).min(60);
            tokio::time::sleep(Duration::from_secs(u64::from(wait))).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_timetables_are_read_as_rclone_writes_them() {
        assert_eq!(parse("2MiB"), Ok(Limit::Fixed(Some(2 << 20))));
        assert_eq!(parse("512KiB/s"), Ok(Limit::Fixed(Some(512 << 10))));
        assert_eq!(parse("off"), Ok(Limit::Fixed(None)));
        let Ok(Limit::Timetable(t)) = parse("19:00,off  08:00,2MiB 12:30:15,1MiB") else {
            panic!("a timetable");
        };
        assert_eq!(
            t.0,
            [
                (8 * 3600, Some(2 << 20)),
                (12 * 3600 + 30 * 60 + 15, Some(1 << 20)),
                (19 * 3600, None)
            ]
        );
        // Before the first entry, the last of the day before holds.
        assert_eq!(t.rate_at(3600), None);
        assert_eq!(t.rate_at(8 * 3600), Some(2 << 20));
        assert_eq!(t.rate_at(13 * 3600), Some(1 << 20));
        assert_eq!(t.until_next(3600), 7 * 3600);
        assert_eq!(t.until_next(20 * 3600), 12 * 3600);
        let one = Timetable(vec![(600, Some(4096))]);
        assert_eq!((one.rate_at(0), one.until_next(600)), (Some(4096), DAY));
        for (bad, said) in [
            ("08:00,2MiB 08:00,off", "names 08:00 twice"),
            ("Mon-08:00,2MiB", "day names"),
            ("24:00,1MiB", "no time of day"),
            ("8:00,1MiB", "no time of day"),
            ("08:00,100", "at least 1KiB"),
            ("1MiB:2MiB", "not UP:DOWN"),
            ("08:00 2MiB", "no entry of a timetable"),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(said), "{bad}: {e}");
        }
    }
}
