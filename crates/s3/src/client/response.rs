//! Reading S3's answers: headers into object metadata and checksums, listing fields that may
//! be missing, padded or URL-encoded.

use std::time::Duration;

use http::{HeaderMap, StatusCode};

use crate::error::{ClientErrorKind, Result, S3Error};
use crate::ops::*;
use crate::options::{ChecksumAlgorithm, ChecksumValue, ContentHeaders};

/// An answer S3 would not give: a missing or malformed field.
pub(super) fn invalid(op: &'static str, msg: impl Into<String>) -> S3Error {
    S3Error::client(op, ClientErrorKind::InvalidResponse, msg)
}

pub(super) fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The object's `Content-Encoding`, without `aws-chunked`: that token says how an upload's
/// body was framed, not what the object is. S3 never stores it, but some servers (SeaweedFS
/// 4.48; Ceph RGW before its fix) hand it back, and a copy must not carry it on.
pub(super) fn object_encoding(h: &HeaderMap) -> Option<String> {
    let kept: Vec<&str> = h
        .get_all("content-encoding")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!kept.is_empty()).then(|| kept.join(","))
}

pub(super) fn retry_after(h: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = header(h, "x-amz-retry-after").and_then(|v| v.trim().parse::<u64>().ok()) {
        return Some(Duration::from_millis(ms));
    }
    header(h, "retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

pub(super) fn status_code_name(status: StatusCode) -> &'static str {
    match status.as_u16() {
        301 => "PermanentRedirect",
        304 => "NotModified",
        400 => "BadRequest",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        412 => "PreconditionFailed",
        416 => "InvalidRange",
        429 => "TooManyRequests",
        500 => "InternalError",
        501 => "NotImplemented",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => "UnknownError",
    }
}

pub(super) fn checksum_from_headers(h: &HeaderMap) -> ObjectChecksum {
    let value = ChecksumAlgorithm::ALL.into_iter().find_map(|a| {
        header(h, a.header()).map(|value| ChecksumValue {
            algorithm: a,
            value,
        })
    });
    let checksum_type = header(h, "x-amz-checksum-type").and_then(|t| t.parse().ok());
    ObjectChecksum {
        value,
        checksum_type,
    }
}

pub(super) fn parse_content_range(v: &str) -> Option<ContentRange> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    Some(ContentRange {
        range: ByteRange {
            first: first.trim().parse().ok()?,
            last: last.trim().parse().ok()?,
        },
        total: total.trim().parse().ok()?,
    })
}

pub(super) fn object_meta(op: &'static str, h: &HeaderMap) -> Result<ObjectMeta> {
    let content_length = header(h, "content-length")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| invalid(op, "the answer has no Content-Length"))?;
    let metadata = h
        .iter()
        .filter_map(|(k, v)| {
            let name = k.as_str().strip_prefix("x-amz-meta-")?;
            Some((name.to_string(), v.to_str().ok()?.to_string()))
        })
        .collect();
    Ok(ObjectMeta {
        content_length,
        etag: header(h, "etag").unwrap_or_default(),
        last_modified: header(h, "last-modified"),
        version_id: header(h, "x-amz-version-id"),
        content: ContentHeaders::from_response(|name| header(h, name), object_encoding(h)),
        metadata,
        storage_class: header(h, "x-amz-storage-class"),
        server_side_encryption: header(h, "x-amz-server-side-encryption"),
        sse_kms_key_id: header(h, "x-amz-server-side-encryption-aws-kms-key-id"),
        sse_bucket_key_enabled: header(h, "x-amz-server-side-encryption-bucket-key-enabled")
            .map(|v| v.eq_ignore_ascii_case("true")),
        sse_customer_key_md5: header(h, "x-amz-server-side-encryption-customer-key-md5"),
        object_lock_mode: header(h, "x-amz-object-lock-mode"),
        object_lock_retain_until: header(h, "x-amz-object-lock-retain-until-date"),
        object_lock_legal_hold: header(h, "x-amz-object-lock-legal-hold"),
        parts_count: header(h, "x-amz-mp-parts-count").and_then(|v| v.parse().ok()),
        tag_count: header(h, "x-amz-tagging-count").and_then(|v| v.parse().ok()),
        content_range: header(h, "content-range").and_then(|v| parse_content_range(&v)),
        checksum: checksum_from_headers(h),
        restore: header(h, "x-amz-restore").and_then(|v| crate::restore::RestoreState::parse(&v)),
        archive_status: header(h, "x-amz-archive-status"),
        website_redirect: header(h, "x-amz-website-redirect-location"),
    })
}

/// A number from an element that may be missing, empty or padded.
pub(super) fn num<T: std::str::FromStr>(v: &Option<String>) -> Option<T> {
    v.as_deref().and_then(|v| v.trim().parse().ok())
}

/// A key from a listing. Keys may hold characters XML 1.0 cannot carry, so listings ask for
/// `encoding-type=url`; a server that honoured it says so, and its keys are form-encoded (`+`
/// is a space).
pub(super) fn listed_key(encoding_type: &Option<String>, key: String) -> String {
    if encoding_type.as_deref() != Some("url") {
        return key;
    }
    percent_encoding::percent_decode_str(&key.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// An object of a listing (a `Contents`, or a `Version` or `DeleteMarker` of one): its key
/// decoded, a missing or empty size read as 0.
pub(super) fn listed_object(
    op: &'static str,
    encoding_type: &Option<String>,
    c: crate::xml::ContentsXml,
) -> Result<ObjectInfo> {
    let key = listed_key(encoding_type, c.key);
    let size = match c.size.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(v) => v
            .parse()
            .map_err(|_| invalid(op, format!("object {key:?} has size {v:?}")))?,
    };
    Ok(ObjectInfo {
        key,
        size,
        etag: c.etag,
        last_modified: c.last_modified,
        storage_class: c.storage_class,
    })
}

pub(super) fn lenient_bool(v: &Option<String>) -> bool {
    v.as_deref()
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_parses() {
        assert_eq!(
            parse_content_range("bytes 0-9/100"),
            Some(ContentRange {
                range: ByteRange { first: 0, last: 9 },
                total: 100
            })
        );
        assert_eq!(parse_content_range("bytes */100"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
    }

    #[test]
    fn aws_chunked_is_no_object_encoding() {
        let enc = |values: &[&str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append("content-encoding", v.parse().unwrap());
            }
            object_encoding(&h)
        };
        assert_eq!(enc(&[]), None);
        assert_eq!(enc(&["aws-chunked"]), None);
        assert_eq!(enc(&["gzip"]).as_deref(), Some("gzip"));
        assert_eq!(enc(&["aws-chunked,gzip"]).as_deref(), Some("gzip"));
        assert_eq!(enc(&["gzip", "AWS-Chunked"]).as_deref(), Some("gzip"));
        assert_eq!(enc(&["gzip, br"]).as_deref(), Some("gzip,br"));
    }

    #[test]
    fn retry_after_headers() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert("x-amz-retry-after", "1500".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(1500)));
    }
}
