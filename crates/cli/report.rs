//! What ferry prints of a transfer: the line for a finished upload, copy or download, or for
//! an object a restore looked at, the way on for archived objects a tree met, what a check
//! found of each path, the versioned JSON form of every event (`--json`), and the `outln!`
//! and `errln!` that print lines.

use ferry_engine::{Check, DownloadOutcome, Event, UploadOutcome, Verification};

/// `println!`, but a reader that went away (`ferry … | head -1`) loses the rest of the report,
/// not the transfer: the write's error is dropped, as for `--json` events (`println!` panics,
/// exit 101). Data to stdout is another matter: its reader going away ends ferry with 141.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}
pub(crate) use outln;

/// [`outln`] for stderr: a closed stderr (`2>&1 | head`) loses messages, not the transfer.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}
pub(crate) use errln;

/// The JSON schema version of `--json` events.
pub(crate) const JSON_VERSION: u32 = 1;

/// A time as ferry prints it: RFC 3339, UTC (`2026-12-04T21:48:10Z`); `?` if out of range.
pub(crate) fn rfc3339(t: std::time::SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "?".into())
}

/// A span of time as ferry prints it, to the unit that reads best: `under a minute`,
/// `12 min`, `3 h 5 min`, `2 days 4 h`.
pub(crate) fn span(d: std::time::Duration) -> String {
    let mins = d.as_secs() / 60;
    let (days, hours, mins) = (mins / 1_440, mins / 60 % 24, mins % 60);
    match (days, hours, mins) {
        (0, 0, 0) => "under a minute".to_string(),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (1, 0, _) => "1 day".to_string(),
        (1, h, _) => format!("1 day {h} h"),
        (d, 0, _) => format!("{d} days"),
        (d, h, _) => format!("{d} days {h} h"),
    }
}

/// A path as a JSON string: a name that is not UTF-8 (which a file's may be) is shown as the
/// human lines show it, with U+FFFD for what is not (serde refuses such a path).
fn file(path: &std::path::Path) -> String {
    path.to_string_lossy().into_owned()
}

/// A JSON event line: `{"v":1,"event":NAME,…fields}`.
pub(crate) fn json_line(event: &str, fields: serde_json::Value) -> serde_json::Value {
    let mut obj = serde_json::Map::new();
    obj.insert("v".into(), JSON_VERSION.into());
    obj.insert("event".into(), event.into());
    if let serde_json::Value::Object(f) = fields {
        obj.extend(f);
    }
    serde_json::Value::Object(obj)
}

/// A JSON line about one range of a download.
fn range_line(kind: &str, range: u32, first: u64, len: u64) -> serde_json::Value {
    json_line(
        kind,
        serde_json::json!({"range": range, "first": first, "len": len}),
    )
}

/// The line that reports a finished upload or copy (`noun`) of `src`.
pub(crate) fn uploaded(noun: &str, src: &str, o: &UploadOutcome) -> String {
    let noun = match (o.source_removed, &o.copied_from) {
        (true, _) => "move",
        (false, Some(_)) => "copy",
        (false, None) => noun,
    };
    let check = match &o.verification {
        Verification::Checksum(c) => format!(
            "{} {} verified: {}",
            c.algorithm,
            o.checksum_type.map(|t| t.as_str()).unwrap_or(""),
            c.value
        )
        .replace("  ", " "),
        Verification::PartsAndSize => "parts checked on arrival, size verified".into(),
        Verification::SizeOnly => "size verified, no checksum".into(),
        Verification::ServerOnly { checksum, skipped } => match checksum {
            Some(c) => format!("{} {skipped}", c.algorithm),
            None => skipped.clone(),
        },
        _ => "verified".into(),
    };
    let resumed = if o.reused > 0 {
        format!(", resumed with {} bytes already on the server", o.reused)
    } else {
        String::new()
    };
    // The source's version is named where one was asked for; a file made from an object
    // that held its bytes (renamed, or the same below --copy-dest), that object.
    let version = match (&o.source_version_id, &o.copied_from) {
        (Some(v), _) => format!(" (version {v})"),
        (None, Some(k)) => format!(
            " (its bytes copied on the server from s3://{}/{k})",
            o.copied_from_bucket.as_ref().unwrap_or(&o.bucket)
        ),
        (None, None) => String::new(),
    };
    format!(
        "{noun}: {src}{version} to s3://{}/{} ({} bytes, {} part{}{resumed}, {check})",
        o.bucket,
        o.key,
        o.size,
        o.parts,
        if o.parts == 1 { "" } else { "s" }
    )
}

/// The line that reports a finished download.
pub(crate) fn downloaded(o: &DownloadOutcome) -> String {
    let check = match &o.check {
        Check::SizeOnly(why) => format!("size verified only: {why}"),
        other => format!("verified: {other}"),
    };
    let mut extra = String::new();
    if o.reused > 0 {
        extra.push_str(&format!(", resumed with {} bytes on disk", o.reused));
    }
    if o.refetched > 0 {
        extra.push_str(&format!(", {} range(s) fetched again", o.refetched));
    }
    let to = o
        .path
        .as_ref()
        .map_or_else(|| "stdout".to_string(), |p| p.display().to_string());
    // The version is named where one was asked for, as a copy names its source's.
    let version = match (&o.version_id, o.pinned) {
        (Some(v), true) => format!(" (version {v})"),
        _ => String::new(),
    };
    if let Some(from) = &o.moved_from {
        return format!(
            "move: {} (renamed: it holds the bytes of s3://{}/{}) to {to} ({} bytes, {})",
            from.display(),
            o.bucket,
            o.key,
            o.size,
            o.check
        );
    }
    format!(
        "{}: s3://{}/{}{version} to {to} ({} bytes, {} range{}{extra}, {check})",
        if o.source_removed { "move" } else { "download" },
        o.bucket,
        o.key,
        o.size,
        o.ranges,
        if o.ranges == 1 { "" } else { "s" }
    )
}

/// The JSON form of an event (schema version 1).
pub(crate) fn event_json(e: &Event) -> serde_json::Value {
    use serde_json::json;
    match e {
        Event::Planned {
            size,
            part_size,
            parts,
            multipart,
        } => json_line(
            "planned",
            json!({"size": size, "part_size": part_size, "parts": parts, "multipart": multipart}),
        ),
        Event::UploadCreated { upload_id } => {
            json_line("upload_created", json!({"upload_id": upload_id}))
        }
        Event::PartStarted { part, size } => {
            json_line("part_started", json!({"part": part, "size": size}))
        }
        Event::PartFinished { part, size, etag } => json_line(
            "part_finished",
            json!({"part": part, "size": size, "etag": etag}),
        ),
        Event::Retry {
            part,
            attempt,
            delay,
            reason,
        } => json_line(
            "retry",
            json!({"part": part, "attempt": attempt, "delay_ms": delay.as_millis() as u64, "reason": reason}),
        ),
        Event::Concurrency { limit } => json_line("concurrency", json!({"limit": limit})),
        Event::Resumed {
            upload_id,
            parts_done,
            parts_to_send,
        } => json_line(
            "resumed",
            json!({"upload_id": upload_id, "parts_done": parts_done, "parts_to_send": parts_to_send}),
        ),
        Event::Finished(o) => json_line(
            "finished",
            json!({
                "bucket": o.bucket, "key": o.key, "size": o.size, "etag": o.etag,
                "version_id": o.version_id, "parts": o.parts, "reused": o.reused,
                "from_version_id": o.source_version_id,
                "checksum": o.checksum.as_ref().map(|c| c.value.clone()),
                "checksum_algorithm": o.checksum.as_ref().map(|c| c.algorithm.as_str()),
                "checksum_type": o.checksum_type.map(|t| t.as_str()),
                "verified": match &o.verification {
                    Verification::Checksum(_) => "checksum",
                    Verification::PartsAndSize => "parts_and_size",
                    Verification::SizeOnly => "size",
                    Verification::ServerOnly { .. } => "server",
                    _ => "other",
                },
                "skipped": match &o.verification {
                    Verification::ServerOnly { skipped, .. } => Some(skipped.as_str()),
                    _ => None,
                },
            }),
        ),
        Event::Failed { error } => json_line("failed", json!({"error": error})),
        Event::DownloadPlanned {
            size,
            ranges,
            range_size,
            check,
        } => json_line(
            "download_planned",
            json!({"size": size, "ranges": ranges, "range_size": range_size, "check": check}),
        ),
        Event::DownloadResumed {
            ranges_done,
            ranges_to_fetch,
            bytes_done,
        } => json_line(
            "download_resumed",
            json!({"ranges_done": ranges_done, "ranges_to_fetch": ranges_to_fetch, "bytes_done": bytes_done}),
        ),
        Event::Restarted { reason } => json_line("restarted", json!({"reason": reason})),
        Event::RangeStarted { range, first, len } => {
            range_line("range_started", *range, *first, *len)
        }
        Event::RangeFinished { range, first, len } => {
            range_line("range_finished", *range, *first, *len)
        }
        Event::Refetched { range, first, len } => range_line("refetched", *range, *first, *len),
        Event::Downloaded(o) => json_line(
            "downloaded",
            json!({
                "bucket": o.bucket, "key": o.key, "size": o.size, "etag": o.etag,
                "version_id": o.version_id, "path": o.path.as_deref().map(file), "ranges": o.ranges,
                "fetched": o.fetched, "reused": o.reused, "refetched": o.refetched,
                "check": o.check.kind(), "checked": o.check.to_string(),
            }),
        ),
        Event::ObjectUploaded { path, outcome } => {
            let from = outcome
                .copied_from_bucket
                .as_ref()
                .unwrap_or(&outcome.bucket);
            json_line(
                "object",
                json!({
                    "file": path.as_deref().map(file), "object": format!("s3://{}/{}", outcome.bucket, outcome.key),
                    "size": outcome.size, "ok": true, "moved": outcome.source_removed,
                    "copied_from": outcome.copied_from.as_ref().map(|k| format!("s3://{from}/{k}")),
                }),
            )
        }
        Event::ObjectDownloaded(o) => json_line(
            "object",
            json!({
                "file": o.path.as_deref().map(file), "object": format!("s3://{}/{}", o.bucket, o.key),
                "version_id": o.version_id, "size": o.size, "ok": true, "moved": o.source_removed,
                "moved_from": o.moved_from.as_deref().map(file),
            }),
        ),
        Event::ObjectFailed {
            path,
            key,
            size,
            error,
            kept,
        } => json_line(
            "object",
            json!({"file": file(path), "key": key, "size": size, "ok": false, "error": error, "kept": kept}),
        ),
        Event::Existed { path, key, why } => json_line(
            "existed",
            json!({"file": file(path), "key": key, "why": why}),
        ),
        Event::PassedOver { what, why } => {
            json_line("passed_over", json!({"what": what, "why": why}))
        }
        Event::OverAllowance {
            path,
            key,
            size,
            left,
        } => json_line(
            "over_allowance",
            json!({"file": file(path), "key": key, "size": size, "left": left}),
        ),
        Event::ObjectCopied { from, outcome } => {
            let mut line = json!({
                "from": from, "object": format!("s3://{}/{}", outcome.bucket, outcome.key),
                "size": outcome.size, "ok": true, "moved": outcome.source_removed,
            });
            if let Some(v) = &outcome.source_version_id {
                line["from_version_id"] = v.as_str().into();
            }
            json_line("object", line)
        }
        Event::Synced {
            action,
            key,
            from,
            to,
            size,
            in_destination,
            dry_run,
        } => json_line(
            "sync",
            json!({"action": action.as_str(), "key": key, "from": from, "to": to, "size": size,
                   "in_destination": in_destination, "dry_run": dry_run}),
        ),
        _ => json_line("unknown", json!({})),
    }
}

/// The line that reports what a restore found `object` to be, and did.
pub(crate) fn restore_line(
    object: &str,
    version_id: Option<&str>,
    class: &str,
    restoring: ferry_engine::Restoring,
    dry_run: bool,
) -> String {
    let dry = if dry_run { "(dry run) " } else { "" };
    let version = version_id
        .map(|v| format!(" (version {v})"))
        .unwrap_or_default();
    let what = match restoring {
        ferry_engine::Restoring::Started if dry_run => format!("{class}: would be restored"),
        ferry_engine::Restoring::Started => {
            format!(
                "{class}: restore started; readable once it is done (hours: `ferry stat` shows it)"
            )
        }
        ferry_engine::Restoring::Extended if dry_run => {
            format!("{class}: restored; would be kept longer")
        }
        ferry_engine::Restoring::Extended => {
            format!("{class}: restored already; kept readable from now on")
        }
        ferry_engine::Restoring::InProgress => format!("{class}: a restore is under way already"),
        ferry_engine::Restoring::Readable => format!("{class}: not archived, readable as it is"),
        _ => format!("{class}: {}", restoring.as_str()),
    };
    format!("{dry}restore: {object}{version}: {what}")
}

/// The way on for a tree whose `failed` objects include archived ones: restore them first.
pub(crate) fn archived(failed: &[ferry_engine::ObjectFailure]) -> Option<String> {
    let n = failed
        .iter()
        .filter(|f| f.error.kind() == ferry_engine::ErrorKind::Archived)
        .count();
    (n > 0).then(|| {
        format!(
            "{n} archived and not restored: `ferry restore -r` on the source starts their \
             restore (hours); run this again once it is done"
        )
    })
}

/// A check's progress, `(paths, bytes)` compared, after event `e`: each decision about a
/// path, and each path only in the destination.
pub(crate) fn compared((paths, bytes): (u64, u64), e: &ferry_engine::Event) -> (u64, u64) {
    use ferry_engine::Event;
    match e {
        Event::Synced { size, .. } => (paths + 1, bytes + size),
        Event::Removed { objects, .. } => (paths + objects.len() as u64, bytes),
        _ => (paths, bytes),
    }
}

/// What a check found a path to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// The same on both sides.
    Same,
    /// On both sides, not the same.
    Differs,
    /// Only in the source.
    Missing,
    /// Only in the destination.
    Extra,
}

impl Found {
    /// What a sync's decision about a source path (`action`, the destination holding the
    /// path or not) says of it.
    pub(crate) fn of(action: ferry_engine::SyncAction, in_destination: bool) -> Self {
        match (action, in_destination) {
            (ferry_engine::SyncAction::Skip, _) => Self::Same,
            (_, true) => Self::Differs,
            (_, false) => Self::Missing,
        }
    }

    /// Its name in lines and JSON.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Same => "same",
            Self::Differs => "differs",
            Self::Missing => "missing",
            Self::Extra => "extra",
        }
    }

    /// Its line, of source `from` and destination `to` (`extra: TO` alone).
    pub(crate) fn line(self, from: &str, to: &str) -> String {
        let between = match self {
            Self::Same => "=",
            Self::Differs => "<>",
            Self::Missing => "not in",
            Self::Extra => return format!("extra: {from}"),
        };
        format!("{}: {from} {between} {to}", self.as_str())
    }

    /// Its JSON event, of the path at `key`, from `from` to `to`, of `size` bytes.
    pub(crate) fn json(
        self,
        key: &str,
        from: &str,
        to: Option<&str>,
        size: u64,
    ) -> serde_json::Value {
        let v = serde_json::json!({
            "state": self.as_str(), "key": key, "from": from, "to": to, "size": size,
        });
        json_line("check", v)
    }
}

#[cfg(test)]
mod tests {
    use super::span;
    use std::time::Duration;

    #[test]
    fn spans_read_in_the_unit_that_fits() {
        let s = |secs| span(Duration::from_secs(secs));
        assert_eq!(s(59), "under a minute");
        assert_eq!(s(12 * 60 + 30), "12 min");
        assert_eq!(s(3 * 3_600), "3 h");
        assert_eq!(s(3 * 3_600 + 5 * 60), "3 h 5 min");
        assert_eq!(s(86_400 + 60), "1 day");
        assert_eq!(s(2 * 86_400 + 4 * 3_600 + 59), "2 days 4 h");
        assert_eq!(s(1_122 * 86_400), "1122 days");
    }
}
