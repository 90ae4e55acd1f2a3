//! A file's modification time in object metadata, and back: uploads of files store it under
//! `mtime` as seconds and nanoseconds since the epoch (`1577934245.123456789`, what rclone
//! writes and reads), and downloads give the file that time, else the object's Last-Modified.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferry_s3::ObjectMeta;

/// The user-metadata key (`x-amz-meta-mtime`).
pub const MTIME_KEY: &str = "mtime";

/// `t` as the metadata value: seconds, a dot, nine digits of nanoseconds.
pub fn format_mtime(t: SystemTime) -> Option<String> {
    let d = t.duration_since(UNIX_EPOCH).ok()?;
    Some(format!("{}.{:09}", d.as_secs(), d.subsec_nanos()))
}

/// Reads a metadata value: whole seconds, or seconds with a fraction of up to nine digits.
pub fn parse_mtime(v: &str) -> Option<SystemTime> {
    let v = v.trim();
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    let secs: u64 = secs.parse().ok()?;
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

/// The time a downloaded file gets: the stored `mtime`, else the object's Last-Modified.
pub(crate) fn of_object(meta: &ObjectMeta) -> Option<SystemTime> {
    meta.metadata
        .get(MTIME_KEY)
        .and_then(|v| parse_mtime(v))
        .or_else(|| {
            meta.last_modified
                .as_deref()
                .and_then(|t| httpdate::parse_http_date(t).ok())
        })
}

/// A listing's LastModified (RFC 3339).
pub(crate) fn listed_time(t: &str) -> Option<SystemTime> {
    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(SystemTime::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_to_the_nanosecond_in_rclones_form() {
        let t = UNIX_EPOCH + Duration::new(1_577_934_245, 123_456_789);
        let v = format_mtime(t).unwrap();
        assert_eq!(v, "1577934245.123456789");
        assert_eq!(parse_mtime(&v), Some(t));
        assert_eq!(
            parse_mtime("1577934245.5"),
            Some(UNIX_EPOCH + Duration::new(1_577_934_245, 500_000_000))
        );
        assert_eq!(
            parse_mtime("1577934245"),
            Some(UNIX_EPOCH + Duration::from_secs(1_577_934_245))
        );
        for bad in ["", "x", "1.2.3", "-5", "1.1234567890", "1.x"] {
            assert_eq!(parse_mtime(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_object_without_mtime_has_its_last_modified() {
        let mut meta = ObjectMeta {
            last_modified: Some("Wed, 02 Dec 2026 07:42:36 GMT".into()),
            ..Default::default()
        };
        let lm = of_object(&meta).unwrap();
        assert_eq!(
            lm.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            1_796_197_356
        );
        meta.metadata
            .insert(MTIME_KEY.into(), "1577934245.123456789".into());
        assert_eq!(
            of_object(&meta),
            Some(UNIX_EPOCH + Duration::new(1_577_934_245, 123_456_789))
        );
    }
}
