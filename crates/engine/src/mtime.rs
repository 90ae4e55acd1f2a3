//! A file's modification time and mode in object metadata, and back: uploads of files store
//! the time under `mtime` as seconds and nanoseconds since the epoch
//! (`1577934245.123456789`, what rclone writes and reads), and downloads give the file that
//! time, else the object's Last-Modified. They store the mode under `mode` in octal, file type
//! included (`100755`, rclone's form), and a download gives a new file its permission bits,
//! within the umask, as rsync does without `-p`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferry_s3::ObjectMeta;

/// The user-metadata key (`x-amz-meta-mtime`).
pub const MTIME_KEY: &str = "mtime";

/// The user-metadata key of a file's mode (`x-amz-meta-mode`).
pub const MODE_KEY: &str = "mode";

/// The file type bits of a mode, and those of a regular file.
const TYPE_BITS: u32 = 0o170000;
const REGULAR: u32 = 0o100000;

/// A regular file's mode (`st_mode`, type bits included) as the metadata value: octal.
pub fn format_mode(mode: u32) -> String {
    format!("{mode:o}")
}

/// The permission bits (read, write, execute; no set-id or sticky bit, which a download
/// never takes from a server) of a regular file's mode as stored: octal as rclone writes it
/// (`100644`), or decimal as s3fs does (`33188`), each known by its file type bits.
pub fn parse_mode(v: &str) -> Option<u32> {
    let v = v.trim();
    [8, 10]
        .into_iter()
        .filter_map(|radix| u32::from_str_radix(v, radix).ok())
        .find(|m| m & TYPE_BITS == REGULAR)
        .map(|m| m & 0o777)
}

/// The permission bits a downloaded file is made with, from its object's stored mode.
pub(crate) fn mode_of_object(meta: &ObjectMeta) -> Option<u32> {
    meta.metadata.get(MODE_KEY).and_then(|v| parse_mode(v))
}

/// This process's umask (from `/proc/self/status`; 022 where that does not say), which a
/// new file's stored mode is taken within: reading it by setting it would race the other
/// threads' file creation.
pub(crate) fn umask() -> u32 {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("Umask:"))
            .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            .unwrap_or(0o022)
    })
}

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

/// Into a whole file's object's metadata, the modification time and the mode of the file
/// (`meta`; a download gives them back), unless the caller set them.
pub(crate) fn stamp(options: &mut ferry_s3::ObjectOptions, meta: &std::fs::Metadata) {
    let time = meta.modified().ok().and_then(format_mtime);
    let mode = std::os::unix::fs::MetadataExt::mode(meta);
    let stamps = [(MTIME_KEY, time), (MODE_KEY, Some(format_mode(mode)))];
    for (key, value) in stamps {
        if let Some(v) = value {
            options.metadata.entry(key.to_string()).or_insert(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_read_in_rclones_and_s3fss_forms_only_for_regular_files() {
        assert_eq!(format_mode(0o100755), "100755");
        assert_eq!(parse_mode("100755"), Some(0o755));
        assert_eq!(parse_mode("100600"), Some(0o600));
        assert_eq!(parse_mode(" 33188 "), Some(0o644), "s3fs: decimal");
        assert_eq!(parse_mode("33261"), Some(0o755));
        assert_eq!(
            parse_mode("104755"),
            Some(0o755),
            "no set-uid from a server"
        );
        for not in ["40755", "16877", "755", "0644", "", "x", "120777"] {
            assert_eq!(parse_mode(not), None, "{not:?}");
        }
        assert!(umask() <= 0o777);
    }

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
