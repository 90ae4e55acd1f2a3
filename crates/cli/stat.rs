//! `ferry stat`: what the server holds of one object (the engine's HeadObject, with its
//! errors), as `Name: value` lines or one JSON object.

use ferry_s3::{GetObjectRequest, ObjectMeta};

use crate::args::{Global, StatArgs};
use crate::client::{parse_object_url, plain_manager};
use crate::exit::{CliError, engine_error};
use crate::output::outln;

/// Runs `ferry stat`.
pub(crate) async fn run(global: &Global, a: StatArgs) -> Result<(), CliError> {
    if let Ok(url) = crate::client::parse_s3_url(&a.target)
        && url.key.is_empty()
    {
        return crate::bucket::stat(global, &url.bucket, &a).await;
    }
    // A key ending in `/` is an object too (a folder marker).
    let url = parse_object_url(&a.target, "stat")?;
    let as_of = crate::request::as_of(a.as_of.as_deref())?;
    let request = a.bucket.request(&a.sse_c_key)?;
    let manager = plain_manager(global).await?;
    let version_id = match as_of {
        Some(at) => Some(
            manager
                .version_at(&url.bucket, &url.key, &request, at)
                .await
                .map_err(|e| engine_error(&e, false, None))?,
        ),
        None => a.version_id.clone(),
    };
    let req = GetObjectRequest {
        bucket: url.bucket.clone(),
        key: url.key.clone(),
        version_id,
        request,
        ..Default::default()
    };
    let meta = manager
        .stat(req)
        .await
        .map_err(|e| engine_error(&e, false, None))?;
    let name = format!("s3://{}/{}", url.bucket, url.key);
    match a.json {
        true => outln!("{}", json(&url.bucket, &url.key, &meta)),
        false => outln!("{}", text(&name, &meta).trim_end()),
    }
    Ok(())
}

/// Last-Modified in RFC 3339, UTC.
fn modified(meta: &ObjectMeta) -> Option<String> {
    let t = time::OffsetDateTime::from(meta.modified()?);
    t.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// The object as `Name: value` lines under its name; what it does not have is left out
/// (but its storage class: none is STANDARD).
fn text(name: &str, m: &ObjectMeta) -> String {
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut row = |k: &str, v: String| rows.push((k.to_string(), v));
    row(
        "Size",
        format!(
            "{} ({})",
            m.content_length,
            indicatif::BinaryBytes(m.content_length)
        ),
    );
    let when = modified(m).map(|t| t.replace('T', " ").replace('Z', " UTC"));
    row(
        "Last modified",
        when.or(m.last_modified.clone()).unwrap_or_default(),
    );
    row("ETag", m.etag.clone());
    if let Some(c) = &m.checksum.value {
        let kind = m
            .checksum
            .checksum_type
            .map(|t| format!(" ({t})"))
            .unwrap_or_default();
        row("Checksum", format!("{} {}{kind}", c.algorithm, c.value));
    }
    for (header, value) in m.content.fields() {
        if let Some(v) = value {
            row(&http_name(header), v.clone());
        }
    }
    row(
        "Storage class",
        m.storage_class.clone().unwrap_or_else(|| "STANDARD".into()),
    );
    if let Some(to) = &m.website_redirect {
        row("Website redirect", to.clone());
    }
    if let Some(r) = archive(m) {
        row("Archive", r);
    }
    if let Some(v) = &m.version_id {
        row("Version", v.clone());
    }
    if let Some(e) = encryption(m) {
        row("Encryption", e);
    }
    if let Some(mode) = &m.object_lock_mode {
        let until = m.object_lock_retain_until.as_deref().unwrap_or("?");
        row("Object lock", format!("{mode} until {until}"));
    }
    if let Some(hold) = &m.object_lock_legal_hold {
        row("Legal hold", hold.clone());
    }
    if let Some(n) = m.tag_count {
        row("Tags", n.to_string());
    }
    for (i, (k, v)) in m.metadata.iter().enumerate() {
        row(if i == 0 { "Metadata" } else { "" }, format!("{k}={v}"));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    let mut out = format!("{name}\n");
    for (k, v) in rows {
        let label = if k.is_empty() {
            String::new()
        } else {
            format!("{k}:")
        };
        out += &format!("  {label:width$}  {v}\n");
    }
    out
}

/// `content-type` as `Content-Type`.
fn http_name(header: &str) -> String {
    header
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// How the object is encrypted at rest, when the server says.
fn encryption(m: &ObjectMeta) -> Option<String> {
    if let Some(md5) = &m.sse_customer_key_md5 {
        return Some(format!("SSE-C (key MD5 {md5})"));
    }
    let alg = m.server_side_encryption.as_ref()?;
    let mut e = alg.clone();
    if let Some(k) = &m.sse_kms_key_id {
        e += &format!(", key {k}");
    }
    if m.sse_bucket_key_enabled == Some(true) {
        e += ", bucket key";
    }
    Some(e)
}

/// Whether an archived object can be read: restored (until when), being restored, or
/// not; `None` for an object never archived.
fn archive(m: &ObjectMeta) -> Option<String> {
    let tier = m.archive_status.as_deref().map(|t| format!(" ({t})"));
    Some(match &m.restore {
        Some(r) if r.ongoing => "being restored: not readable yet".to_string(),
        Some(r) => match &r.expiry {
            Some(until) => format!("restored, readable until {until}"),
            None => "restored, readable".to_string(),
        },
        None if m.is_archived() => format!(
            "archived{}: not readable until restored (`ferry restore`)",
            tier.unwrap_or_default()
        ),
        None => return None,
    })
}

/// The object as one JSON object: every field, null where the object has none.
fn json(bucket: &str, key: &str, m: &ObjectMeta) -> serde_json::Value {
    let mut v = serde_json::json!({
        "bucket": bucket,
        "key": key,
        "size": m.content_length,
        "last_modified": modified(m),
        "etag": m.etag,
        "version_id": m.version_id,
        "checksum": m.checksum.value.as_ref().map(|c| serde_json::json!({
            "algorithm": c.algorithm.as_str(),
            "value": c.value,
            "type": m.checksum.checksum_type.map(|t| t.as_str()),
        })),
        "storage_class": m.storage_class.as_deref().unwrap_or("STANDARD"),
        "server_side_encryption": m.server_side_encryption,
        "sse_kms_key_id": m.sse_kms_key_id,
        "sse_bucket_key_enabled": m.sse_bucket_key_enabled,
        "sse_customer_key_md5": m.sse_customer_key_md5,
        "object_lock_mode": m.object_lock_mode,
        "object_lock_retain_until": m.object_lock_retain_until,
        "object_lock_legal_hold": m.object_lock_legal_hold,
        "tag_count": m.tag_count,
        "metadata": m.metadata,
        "archived": m.is_archived(),
        "website_redirect": m.website_redirect,
        "archive_status": m.archive_status,
        "restore": m.restore.as_ref().map(|r| serde_json::json!({
            "ongoing": r.ongoing, "expiry": r.expiry,
        })),
    });
    for (header, value) in m.content.fields() {
        v[header.replace('-', "_")] = serde_json::json!(value);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_named_as_http_writes_them() {
        assert_eq!(http_name("content-type"), "Content-Type");
        assert_eq!(http_name("cache-control"), "Cache-Control");
        assert_eq!(http_name("expires"), "Expires");
    }

    #[test]
    fn an_object_reads_as_lines_and_as_json() {
        let mut m = ObjectMeta {
            content_length: 3_000_000,
            etag: "\"e\"".into(),
            last_modified: Some("Sun, 06 Dec 2026 11:34:51 GMT".into()),
            sse_customer_key_md5: Some("bWQ1".into()),
            ..Default::default()
        };
        m.content.content_type = Some("text/plain".into());
        m.metadata.insert("a".into(), "1".into());
        m.metadata.insert("b".into(), "2".into());
        let t = text("s3://b/k", &m);
        for line in [
            "s3://b/k\n",
            "  Size:           3000000 (2.86 MiB)\n",
            "  Last modified:  2026-12-06 11:34:51 UTC\n",
            "  Content-Type:   text/plain\n",
            "  Storage class:  STANDARD\n",
            "  Encryption:     SSE-C (key MD5 bWQ1)\n",
            "  Metadata:       a=1\n                  b=2\n",
        ] {
            assert!(t.contains(line), "{line:?} in\n{t}");
        }
        let j = json("b", "k", &m);
        assert_eq!(j["last_modified"], "2026-12-06T11:34:51Z");
        assert_eq!(j["content_type"], "text/plain");
        assert_eq!(j["cache_control"], serde_json::Value::Null);
        assert_eq!(j["metadata"]["b"], "2");
        assert_eq!(j["checksum"], serde_json::Value::Null);
        assert_eq!(j["archived"], false);
        assert!(!t.contains("Archive:"), "{t}");
    }

    #[test]
    fn an_archived_object_says_whether_it_can_be_read() {
        let mut m = ObjectMeta {
            storage_class: Some("DEEP_ARCHIVE".into()),
            ..Default::default()
        };
        let said = |m: &ObjectMeta| archive(m).unwrap();
        assert!(said(&m).starts_with("archived: not readable until restored"));
        m.restore = ferry_s3::RestoreState::parse(r#"ongoing-request="true""#);
        assert_eq!(said(&m), "being restored: not readable yet");
        m.restore = ferry_s3::RestoreState::parse(
            r#"ongoing-request="false", expiry-date="Fri, 11 Dec 2026 00:00:00 GMT""#,
        );
        assert_eq!(
            said(&m),
            "restored, readable until Fri, 11 Dec 2026 00:00:00 GMT"
        );
        assert_eq!(json("b", "k", &m)["restore"]["ongoing"], false);
        assert_eq!(json("b", "k", &m)["archived"], false);
    }
}
