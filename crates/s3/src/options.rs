//! Object options that requests carry (content headers, metadata, storage class, tagging,
//! server-side encryption, the checksum to store), checked before sending and turned into
//! headers.
//!
//! One type, [`ObjectOptions`], used by PutObject and CreateMultipartUpload, with the object
//! lock and the request terms; its encryption types live in `encryption`, its canned ACLs and
//! grants in `grants`, its error in `error`, and are named here too.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use crate::checksums::{ChecksumAlgorithm, ChecksumType, ChecksumValue};
pub use crate::encryption::{ServerSideEncryption, SseCustomerKey, is_kms};
pub use crate::error::OptionsError;
pub use crate::grants::{CANNED_ACLS, Grantee, Grants};

/// The storage classes S3 names (the API reference's `StorageClass`), as `x-amz-storage-class`
/// spells them. An S3-compatible store may take fewer, or others of its own (Ceph's placement
/// classes): a name not here is sent as given.
pub const STORAGE_CLASSES: &[&str] = &[
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "GLACIER_IR",
    "OUTPOSTS",
    "SNOW",
    "EXPRESS_ONEZONE",
    "FSX_OPENZFS",
    "FSX_ONTAP",
];

/// The one of [`STORAGE_CLASSES`] that `name` spells in any case (`standard_ia`), as S3 spells
/// it: S3 takes upper case only, and answers another with `InvalidStorageClass`.
pub fn storage_class_named(name: &str) -> Option<&'static str> {
    STORAGE_CLASSES
        .iter()
        .copied()
        .find(|c| c.eq_ignore_ascii_case(name))
}

/// Object lock retention mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectLockMode {
    /// Users with special permission may shorten or lift it.
    Governance,
    /// Nobody may, until it expires.
    Compliance,
}

impl ObjectLockMode {
    /// The name S3 uses: `GOVERNANCE` or `COMPLIANCE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Governance => "GOVERNANCE",
            Self::Compliance => "COMPLIANCE",
        }
    }
}

impl FromStr for ObjectLockMode {
    type Err = OptionsError;
    fn from_str(s: &str) -> Result<Self, OptionsError> {
        match s.to_ascii_uppercase().as_str() {
            "GOVERNANCE" => Ok(Self::Governance),
            "COMPLIANCE" => Ok(Self::Compliance),
            _ => Err(OptionsError(format!(
                "object lock mode {s:?} is not GOVERNANCE or COMPLIANCE"
            ))),
        }
    }
}

/// Headers every request about one object may need, whatever the operation: the SSE-C key,
/// the expected bucket owner, and requester-pays consent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestOptions {
    /// SSE-C key of the object (sent on every request that reads or writes its data).
    pub sse_customer_key: Option<SseCustomerKey>,
    /// `x-amz-expected-bucket-owner`: fail unless this account owns the bucket.
    pub expected_bucket_owner: Option<String>,
    /// `x-amz-request-payer: requester`.
    pub request_payer: bool,
}

impl RequestOptions {
    /// The bucket's terms alone (expected owner, requester pays), without the SSE-C key: for
    /// requests about the bucket or other objects in it (listings, deletions, a plan).
    pub fn bucket_terms(&self) -> RequestOptions {
        RequestOptions {
            sse_customer_key: None,
            ..self.clone()
        }
    }

    /// Headers except SSE-C, for requests that do not touch object data.
    pub(crate) fn push_owner_headers(&self, headers: &mut Vec<(String, String)>) {
        if let Some(o) = &self.expected_bucket_owner {
            headers.push(("x-amz-expected-bucket-owner".into(), o.clone()));
        }
        if self.request_payer {
            headers.push(("x-amz-request-payer".into(), "requester".into()));
        }
    }

    /// All headers.
    pub(crate) fn push_headers(&self, headers: &mut Vec<(String, String)>) {
        self.push_owner_headers(headers);
        if let Some(k) = &self.sse_customer_key {
            headers.extend(k.headers(false));
        }
    }
}

/// The standard HTTP headers an object is stored with and served with: what a new object
/// is given ([`ObjectOptions::content`]) and what HeadObject and GetObject report
/// ([`ObjectMeta::content`](crate::ObjectMeta::content)), so a copy carries them over whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContentHeaders {
    /// `Content-Type`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// `Content-Encoding` (of the object: never `aws-chunked`, which describes an upload).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    /// `Content-Disposition`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    /// `Content-Language`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    /// `Cache-Control`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    /// `Expires` (an HTTP date, passed as given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

impl ContentHeaders {
    /// Each header as (its name in lower case, its value), in the order they are sent.
    pub fn fields(&self) -> [(&'static str, &Option<String>); 6] {
        [
            ("content-type", &self.content_type),
            ("content-encoding", &self.content_encoding),
            ("content-disposition", &self.content_disposition),
            ("content-language", &self.content_language),
            ("cache-control", &self.cache_control),
            ("expires", &self.expires),
        ]
    }

    /// Reads them from an answer's headers; `encoding` is its Content-Encoding with
    /// `aws-chunked` taken out.
    pub(crate) fn from_response(
        header: impl Fn(&str) -> Option<String>,
        encoding: Option<String>,
    ) -> Self {
        ContentHeaders {
            content_type: header("content-type"),
            content_encoding: encoding,
            content_disposition: header("content-disposition"),
            content_language: header("content-language"),
            cache_control: header("cache-control"),
            expires: header("expires"),
        }
    }
}

/// Options stored with a new object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectOptions {
    /// Content-Type, Content-Encoding and the other standard headers.
    pub content: ContentHeaders,
    /// User metadata (`x-amz-meta-NAME`); names are stored lower-case.
    pub metadata: BTreeMap<String, String>,
    /// `x-amz-storage-class`, e.g. `STANDARD_IA`.
    pub storage_class: Option<String>,
    /// Tags, sent URL-encoded in `x-amz-tagging`.
    pub tagging: Vec<(String, String)>,
    /// Server-side encryption with S3-managed keys (SSE-S3, SSE-KMS).
    pub sse: Option<ServerSideEncryption>,
    /// A canned ACL (`x-amz-acl`); never together with [`grants`](Self::grants).
    pub acl: Option<String>,
    /// Explicit grants; never together with a canned ACL.
    pub grants: Grants,
    /// `x-amz-website-redirect-location`: where a bucket configured as a website redirects
    /// requests for the object (`/another/key.html` in the bucket, or an `http(s)://` URL).
    /// CopyObject never copies it, whatever its metadata directive: a copy gives it again.
    pub website_redirect: Option<String>,
    /// Object lock mode; needs [`object_lock_retain_until`](Self::object_lock_retain_until).
    pub object_lock_mode: Option<ObjectLockMode>,
    /// Object lock retention date, RFC 3339 (e.g. `2030-01-01T00:00:00Z`).
    pub object_lock_retain_until: Option<String>,
    /// Object lock legal hold.
    pub object_lock_legal_hold: Option<bool>,
    /// SSE-C key, expected bucket owner, requester pays: what every request of the transfer
    /// carries.
    pub request: RequestOptions,
    /// The additional checksum algorithm of a multipart upload (`x-amz-checksum-algorithm` on
    /// CreateMultipartUpload).
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// The checksum type of a multipart upload (`x-amz-checksum-type`).
    pub checksum_type: Option<ChecksumType>,
}

fn header_safe(name: &str, v: &str) -> Result<(), OptionsError> {
    if v.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
        return Err(OptionsError(format!("{name} contains a control character")));
    }
    Ok(())
}

/// Source: the S3 API reference, PutObject's `x-amz-website-redirect-location`: a key in the
/// bucket (from `/`) or a URL, at most 2 KB.
fn website_redirect(to: &str) -> Result<(), OptionsError> {
    let lower = to.to_ascii_lowercase();
    if !(to.starts_with('/') || lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(OptionsError(format!(
            "website redirect {to:?}: S3 takes a key of the bucket from / (/docs/new.html) or a \
             URL from http:// or https://"
        )));
    }
    if to.len() > 2048 {
        return Err(OptionsError(format!(
            "the website redirect is {} bytes; S3 allows 2048",
            to.len()
        )));
    }
    Ok(())
}

impl ObjectOptions {
    /// Nothing for the object, the bucket's `terms` for each request (expected owner,
    /// requester pays): for requests that set no object headers (parts, Complete, a small
    /// object of ferry's own).
    pub fn in_terms(terms: &RequestOptions) -> Self {
        Self {
            request: terms.clone(),
            ..Default::default()
        }
    }

    /// Whether they ask for an object lock: a retention or a legal hold.
    pub fn locks(&self) -> bool {
        self.object_lock_mode.is_some() || self.object_lock_legal_hold.is_some()
    }

    /// Checks the options against S3's rules before anything is sent.
    pub fn validate(&self) -> Result<(), OptionsError> {
        let content = self.content.fields();
        for (name, v) in content.into_iter().chain([
            ("storage class", &self.storage_class),
            ("website redirect", &self.website_redirect),
        ]) {
            if let Some(v) = v {
                header_safe(name, v)?;
            }
        }
        if let Some(to) = &self.website_redirect {
            website_redirect(to)?;
        }
        if let Some(class) = &self.storage_class {
            match storage_class_named(class) {
                Some(named) if named != class => {
                    return Err(OptionsError(format!(
                        "storage class {class:?}: S3 spells it {named} (in upper case)"
                    )));
                }
                None if class.is_empty() => {
                    return Err(OptionsError(format!(
                        "the storage class is empty: give one of {}",
                        STORAGE_CLASSES.join(", ")
                    )));
                }
                _ => {}
            }
        }
        for (k, v) in &self.metadata {
            if k.is_empty()
                || !k
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
            {
                return Err(OptionsError(format!(
                    "metadata name {k:?} must be letters, digits, '-', '_' or '.'"
                )));
            }
            if !v.is_ascii() {
                return Err(OptionsError(format!(
                    "metadata {k:?} has a non-ASCII value; S3 stores only ASCII in metadata headers"
                )));
            }
            header_safe("metadata value", v)?;
        }
        let meta_size: usize = self.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
        // Source: S3 user guide, "Working with object metadata": 2 KB of user metadata.
        if meta_size > 2048 {
            return Err(OptionsError(format!(
                "user metadata is {meta_size} bytes; S3 allows 2048"
            )));
        }
        // Source: S3 user guide, "Categorizing your storage using tags": 10 tags per object.
        if self.tagging.len() > 10 {
            return Err(OptionsError(format!(
                "{} tags given; S3 allows 10 per object",
                self.tagging.len()
            )));
        }
        // Source: the S3 API reference, `Tag`: a key of 1 to 128 Unicode characters, a value of
        // 0 to 256; a key once per object.
        for (i, (k, v)) in self.tagging.iter().enumerate() {
            let chars = k.chars().count();
            if !(1..=128).contains(&chars) {
                return Err(OptionsError(format!(
                    "tag key {k:?} has {chars} characters; S3 takes 1 to 128"
                )));
            }
            let chars = v.chars().count();
            if chars > 256 {
                return Err(OptionsError(format!(
                    "the value of tag {k:?} has {chars} characters; S3 takes 256 at most"
                )));
            }
            if self.tagging[..i].iter().any(|(seen, _)| seen == k) {
                return Err(OptionsError(format!(
                    "tag {k:?} is given twice; a key holds one value"
                )));
            }
        }
        if let (Some(a), Some(t)) = (self.checksum_algorithm, self.checksum_type)
            && !a.allows(t)
        {
            return Err(OptionsError(format!(
                "checksum algorithm {a} cannot be used with type {t} (CRC64NVME is FULL_OBJECT only; SHA1 and SHA256 are COMPOSITE only)"
            )));
        }
        if !self.grants.write.is_empty() {
            return Err(OptionsError(
                "a WRITE grant is for an existing object's ACL (PutObjectAcl), not an upload"
                    .into(),
            ));
        }
        if let Some(acl) = &self.acl {
            if !self.grants.is_empty() {
                return Err(OptionsError(format!(
                    "a canned ACL ({acl}) and explicit grants cannot be combined; give one or the other"
                )));
            }
            if !CANNED_ACLS.contains(&acl.as_str()) {
                return Err(OptionsError(format!(
                    "unknown canned ACL {acl:?}: use one of {}",
                    CANNED_ACLS.join(", ")
                )));
            }
        }
        if self.request.sse_customer_key.is_some() && self.sse.is_some() {
            return Err(OptionsError(
                "SSE-C cannot be combined with SSE-S3 or SSE-KMS; choose one".into(),
            ));
        }
        if let Some(ServerSideEncryption::Kms {
            context: Some(c), ..
        }) = &self.sse
            && serde_json::from_str::<serde_json::Value>(c).map_or(true, |v| !v.is_object())
        {
            return Err(OptionsError(
                "the SSE-KMS encryption context must be a JSON object".into(),
            ));
        }
        if let Some(ServerSideEncryption::Kms {
            bucket_key: Some(true),
            dual_layer: true,
            ..
        }) = &self.sse
        {
            return Err(OptionsError(
                "an S3 Bucket Key cannot be used with DSSE-KMS (aws:kms:dsse); leave it out".into(),
            ));
        }
        match (&self.object_lock_mode, &self.object_lock_retain_until) {
            (Some(_), None) | (None, Some(_)) => {
                return Err(OptionsError(
                    "object lock needs both a mode and a retain-until date".into(),
                ));
            }
            (Some(_), Some(date)) => {
                time::OffsetDateTime::parse(date, &time::format_description::well_known::Rfc3339)
                    .map_err(|_| {
                    OptionsError(format!(
                        "retain-until date {date:?} is not RFC 3339 (e.g. 2030-01-01T00:00:00Z)"
                    ))
                })?;
            }
            (None, None) => {}
        }
        if self.checksum_type.is_some() && self.checksum_algorithm.is_none() {
            return Err(OptionsError(
                "a checksum type needs a checksum algorithm".into(),
            ));
        }
        Ok(())
    }

    /// The headers that describe the object (content headers, storage class, metadata, tags,
    /// encryption, ACL and grants), in the order they are sent: what an object is created
    /// with, without its lock or what every request of a transfer carries.
    pub fn object_headers(&self) -> Vec<(String, String)> {
        let mut headers = Vec::new();
        let mut put = |name: &str, v: &Option<String>| {
            if let Some(v) = v {
                headers.push((name.to_string(), v.clone()));
            }
        };
        for (name, v) in self.content.fields() {
            put(name, v);
        }
        put("x-amz-storage-class", &self.storage_class);
        put("x-amz-website-redirect-location", &self.website_redirect);
        for (k, v) in &self.metadata {
            headers.push((format!("x-amz-meta-{}", k.to_ascii_lowercase()), v.clone()));
        }
        if !self.tagging.is_empty() {
            let encoded = self
                .tagging
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        crate::signing::uri_encode(k),
                        crate::signing::uri_encode(v)
                    )
                })
                .collect::<Vec<_>>()
                .join("&");
            headers.push(("x-amz-tagging".into(), encoded));
        }
        if let Some(sse) = &self.sse {
            let value = sse.header_value().into();
            headers.push(("x-amz-server-side-encryption".into(), value));
        }
        if let Some(ServerSideEncryption::Kms {
            key_id,
            context,
            bucket_key,
            dual_layer: _,
        }) = &self.sse
        {
            use base64::Engine as _;
            if let Some(k) = key_id {
                headers.push((
                    "x-amz-server-side-encryption-aws-kms-key-id".into(),
                    k.clone(),
                ));
            }
            if let Some(c) = context {
                headers.push((
                    "x-amz-server-side-encryption-context".into(),
                    base64::engine::general_purpose::STANDARD.encode(c),
                ));
            }
            if let Some(b) = bucket_key {
                headers.push((
                    "x-amz-server-side-encryption-bucket-key-enabled".into(),
                    b.to_string(),
                ));
            }
        }
        if let Some(acl) = &self.acl {
            headers.push(("x-amz-acl".into(), acl.clone()));
        }
        self.grants.push_headers(&mut headers);
        headers
    }

    /// The headers shared by PutObject and CreateMultipartUpload.
    pub(crate) fn push_headers(&self, headers: &mut Vec<(String, String)>) {
        headers.extend(self.object_headers());
        if let Some(m) = self.object_lock_mode {
            headers.push(("x-amz-object-lock-mode".into(), m.as_str().into()));
        }
        if let Some(d) = &self.object_lock_retain_until {
            headers.push(("x-amz-object-lock-retain-until-date".into(), d.clone()));
        }
        if let Some(h) = self.object_lock_legal_hold {
            headers.push((
                "x-amz-object-lock-legal-hold".into(),
                if h { "ON" } else { "OFF" }.into(),
            ));
        }
        self.request.push_headers(headers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_and_type_pairs() {
        use ChecksumAlgorithm::*;
        use ChecksumType::*;
        for (a, ok_composite, ok_full) in [
            (Crc32, true, true),
            (Crc32c, true, true),
            (Crc64Nvme, false, true),
            (Sha1, true, false),
            (Sha256, true, false),
        ] {
            assert_eq!(a.allows(Composite), ok_composite, "{a}");
            assert_eq!(a.allows(FullObject), ok_full, "{a}");
            let o = ObjectOptions {
                checksum_algorithm: Some(a),
                checksum_type: Some(FullObject),
                ..Default::default()
            };
            assert_eq!(o.validate().is_ok(), ok_full);
        }
        assert_eq!("crc64nvme".parse::<ChecksumAlgorithm>(), Ok(Crc64Nvme));
        assert!("md4".parse::<ChecksumAlgorithm>().is_err());
        assert_eq!("full_object".parse::<ChecksumType>(), Ok(FullObject));
    }

    #[test]
    fn acl_grants_sse_and_lock_checks() {
        let mixed = ObjectOptions {
            acl: Some("private".into()),
            grants: Grants {
                read: vec!["id=abc".parse().unwrap()],
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(
            mixed
                .validate()
                .unwrap_err()
                .0
                .contains("cannot be combined")
        );
        let grants = ObjectOptions {
            grants: Grants {
                read: vec![
                    "id=abc".parse().unwrap(),
                    "uri=http://acs.amazonaws.com/groups/global/AllUsers"
                        .parse()
                        .unwrap(),
                ],
                full_control: vec!["emailAddress=\"a@example.com\"".parse().unwrap()],
                ..Default::default()
            },
            ..Default::default()
        };
        grants.validate().unwrap();
        let mut h = Vec::new();
        grants.push_headers(&mut h);
        assert!(h.contains(&(
            "x-amz-grant-read".into(),
            "id=\"abc\", uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"".into()
        )));
        assert!(h.contains(&(
            "x-amz-grant-full-control".into(),
            "emailAddress=\"a@example.com\"".into()
        )));
        assert!("owner=x".parse::<Grantee>().is_err());
        assert!(
            ObjectOptions {
                acl: Some("world-writable".into()),
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        let lock = ObjectOptions {
            object_lock_mode: Some(ObjectLockMode::Governance),
            ..Default::default()
        };
        assert!(lock.validate().is_err());
        let kms = ObjectOptions {
            sse: Some(ServerSideEncryption::Kms {
                key_id: Some("k1".into()),
                context: Some("{\"a\":\"b\"}".into()),
                bucket_key: Some(true),
                dual_layer: false,
            }),
            ..Default::default()
        };
        kms.validate().unwrap();
        let mut h = Vec::new();
        kms.push_headers(&mut h);
        assert!(h.contains(&("x-amz-server-side-encryption".into(), "aws:kms".into())));
        assert!(h.contains(&(
            "x-amz-server-side-encryption-context".into(),
            "eyJhIjoiYiJ9".into()
        )));
        let dual = |bucket_key| ObjectOptions {
            sse: Some(ServerSideEncryption::Kms {
                key_id: Some("k1".into()),
                context: None,
                bucket_key,
                dual_layer: true,
            }),
            ..Default::default()
        };
        dual(None).validate().unwrap();
        let mut h = Vec::new();
        dual(None).push_headers(&mut h);
        assert!(h.contains(&("x-amz-server-side-encryption".into(), "aws:kms:dsse".into())));
        assert!(h.contains(&(
            "x-amz-server-side-encryption-aws-kms-key-id".into(),
            "k1".into()
        )));
        let e = dual(Some(true)).validate().unwrap_err().to_string();
        assert!(e.contains("Bucket Key cannot be used with DSSE-KMS"), "{e}");
    }

    #[test]
    fn s3s_storage_classes_are_taken_in_upper_case_and_a_stores_own_as_given() {
        let with = |class: &str| ObjectOptions {
            storage_class: Some(class.into()),
            ..Default::default()
        };
        assert_eq!(storage_class_named("standard_ia"), Some("STANDARD_IA"));
        assert_eq!(storage_class_named("Deep_Archive"), Some("DEEP_ARCHIVE"));
        assert_eq!(storage_class_named("COLD"), None);
        with("GLACIER_IR").validate().unwrap();
        // A store's own class (Ceph's placement classes) goes as given.
        with("COLD").validate().unwrap();
        let e = with("standard_ia").validate().unwrap_err().to_string();
        assert!(e.contains("S3 spells it STANDARD_IA"), "{e}");
        let e = with("").validate().unwrap_err().to_string();
        assert!(e.contains("empty") && e.contains("ONEZONE_IA"), "{e}");
    }

    #[test]
    fn a_website_redirect_is_a_key_from_slash_or_a_url() {
        let to = |v: &str| ObjectOptions {
            website_redirect: Some(v.into()),
            ..Default::default()
        };
        for ok in [
            "/docs/new.html",
            "https://example.com/",
            "HTTP://example.com/a",
        ] {
            to(ok).validate().unwrap();
            let sent = to(ok).object_headers();
            assert!(
                sent.contains(&("x-amz-website-redirect-location".into(), ok.into())),
                "{sent:?}"
            );
        }
        for bad in ["docs/new.html", "ftp://example.com/", "", "/a\nb"] {
            let e = to(bad).validate().unwrap_err().to_string();
            assert!(e.contains("website redirect"), "{bad:?}: {e}");
        }
        let long = format!("/{}", "a".repeat(2048));
        assert!(
            to(&long)
                .validate()
                .unwrap_err()
                .to_string()
                .contains("2048")
        );
    }

    #[test]
    fn headers_and_checks() {
        let o = ObjectOptions {
            content: ContentHeaders {
                content_type: Some("text/plain".into()),
                ..Default::default()
            },
            metadata: BTreeMap::from([("Owner".into(), "me".into())]),
            tagging: vec![("project".into(), "a b&c".into())],
            sse: Some(ServerSideEncryption::S3),
            storage_class: Some("STANDARD".into()),
            ..Default::default()
        };
        o.validate().unwrap();
        let mut h = Vec::new();
        o.push_headers(&mut h);
        assert!(h.contains(&("content-type".into(), "text/plain".into())));
        assert!(h.contains(&("x-amz-meta-owner".into(), "me".into())));
        assert!(h.contains(&("x-amz-tagging".into(), "project=a%20b%26c".into())));
        assert!(h.contains(&("x-amz-server-side-encryption".into(), "AES256".into())));
        let bad = ObjectOptions {
            metadata: BTreeMap::from([("k".into(), "naïve".into())]),
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        let bad = ObjectOptions {
            content: ContentHeaders {
                content_type: Some("a\nb".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let e = bad.validate().unwrap_err().to_string();
        assert!(
            e.contains("content-type contains a control character"),
            "{e}"
        );
    }

    #[test]
    fn tags_are_checked_as_s3_checks_them() {
        let tagged = |tags: &[(&str, String)]| ObjectOptions {
            tagging: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            ..Default::default()
        };
        let error = |tags: &[(&str, String)]| tagged(tags).validate().unwrap_err().to_string();
        // The limits, in characters (not bytes), pass; one more is refused.
        let key = "é".repeat(128);
        tagged(&[(&key, "ü".repeat(256)), ("empty", String::new())])
            .validate()
            .unwrap();
        let e = error(&[(&"k".repeat(129), String::new())]);
        assert!(e.contains("has 129 characters; S3 takes 1 to 128"), "{e}");
        let e = error(&[("", "v".into())]);
        assert!(e.contains("tag key \"\" has 0 characters"), "{e}");
        let e = error(&[("k", "v".repeat(257))]);
        assert!(
            e.contains("the value of tag \"k\" has 257 characters"),
            "{e}"
        );
        let e = error(&[("a", "1".into()), ("b", "2".into()), ("a", "3".into())]);
        assert!(e.contains("tag \"a\" is given twice"), "{e}");
        let keys: Vec<String> = (0..11).map(|i| format!("k{i}")).collect();
        let eleven: Vec<_> = keys.iter().map(|k| (k.as_str(), String::new())).collect();
        assert!(error(&eleven).contains("11 tags given; S3 allows 10"));
    }
}
