//! Object options that requests carry (content headers, metadata, storage class, tagging,
//! server-side encryption, checksums), checked before sending and turned into headers.
//!
//! One type, [`ObjectOptions`], used by PutObject and CreateMultipartUpload; later protocol
//! work extends it (ACLs, SSE-KMS, SSE-C, object lock).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// An additional checksum algorithm S3 can store with an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    /// CRC-32 (IEEE).
    Crc32,
    /// CRC-32C (Castagnoli).
    Crc32c,
    /// CRC-64/NVME: S3's default; full-object only.
    Crc64Nvme,
    /// SHA-1: composite only.
    Sha1,
    /// SHA-256: composite only.
    Sha256,
}

impl ChecksumAlgorithm {
    /// Every algorithm.
    pub const ALL: [ChecksumAlgorithm; 5] = [
        Self::Crc32,
        Self::Crc32c,
        Self::Crc64Nvme,
        Self::Sha1,
        Self::Sha256,
    ];

    /// The name S3 uses (`CRC32`, `CRC64NVME`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    /// The header carrying a value: `x-amz-checksum-crc32`, …
    pub fn header(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// Whether S3 allows this algorithm with this type (CRC64NVME is full-object only,
    /// SHA1/SHA256 composite only, CRC32/CRC32C either).
    pub fn allows(self, ty: ChecksumType) -> bool {
        match self {
            Self::Crc32 | Self::Crc32c => true,
            Self::Crc64Nvme => ty == ChecksumType::FullObject,
            Self::Sha1 | Self::Sha256 => ty == ChecksumType::Composite,
        }
    }
}

impl fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChecksumAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!(
                    "unknown checksum algorithm {s:?}: use CRC32, CRC32C, CRC64NVME, SHA1 or SHA256"
                )
            })
    }
}

/// How a multipart object's checksum is formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumType {
    /// Checksum of the concatenated part checksums, written `BASE64-N`.
    Composite,
    /// Checksum of the whole byte stream.
    FullObject,
}

impl ChecksumType {
    /// The name S3 uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Composite => "COMPOSITE",
            Self::FullObject => "FULL_OBJECT",
        }
    }
}

impl fmt::Display for ChecksumType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChecksumType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_uppercase().replace('-', "_").as_str() {
            "COMPOSITE" => Ok(Self::Composite),
            "FULL_OBJECT" => Ok(Self::FullObject),
            _ => Err(format!(
                "unknown checksum type {s:?}: use COMPOSITE or FULL_OBJECT"
            )),
        }
    }
}

/// A checksum value as S3 writes it: an algorithm and its base64 value (a composite
/// object-level value carries its `-N` suffix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksumValue {
    /// The algorithm.
    pub algorithm: ChecksumAlgorithm,
    /// Base64 of the digest, as in the `x-amz-checksum-*` header.
    pub value: String,
}

/// Server-side encryption (SSE-S3 here; SSE-KMS and SSE-C arrive with the protocol issue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerSideEncryption {
    /// SSE-S3 (`AES256`).
    S3,
}

/// Options stored with a new object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectOptions {
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Content-Encoding`.
    pub content_encoding: Option<String>,
    /// `Content-Disposition`.
    pub content_disposition: Option<String>,
    /// `Content-Language`.
    pub content_language: Option<String>,
    /// `Cache-Control`.
    pub cache_control: Option<String>,
    /// `Expires` (an HTTP date, passed as given).
    pub expires: Option<String>,
    /// User metadata (`x-amz-meta-NAME`); names are stored lower-case.
    pub metadata: BTreeMap<String, String>,
    /// `x-amz-storage-class`, e.g. `STANDARD_IA`.
    pub storage_class: Option<String>,
    /// Tags, sent URL-encoded in `x-amz-tagging`.
    pub tagging: Vec<(String, String)>,
    /// Server-side encryption.
    pub sse: Option<ServerSideEncryption>,
    /// The additional checksum algorithm of a multipart upload (`x-amz-checksum-algorithm` on
    /// CreateMultipartUpload).
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// The checksum type of a multipart upload (`x-amz-checksum-type`).
    pub checksum_type: Option<ChecksumType>,
}

/// Why options cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid object option: {0}")]
pub struct OptionsError(pub String);

fn header_safe(name: &str, v: &str) -> Result<(), OptionsError> {
    if v.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
        return Err(OptionsError(format!("{name} contains a control character")));
    }
    Ok(())
}

impl ObjectOptions {
    /// Checks the options against S3's rules before anything is sent.
    pub fn validate(&self) -> Result<(), OptionsError> {
        for (name, v) in [
            ("content type", &self.content_type),
            ("content encoding", &self.content_encoding),
            ("content disposition", &self.content_disposition),
            ("content language", &self.content_language),
            ("cache control", &self.cache_control),
            ("expires", &self.expires),
            ("storage class", &self.storage_class),
        ] {
            if let Some(v) = v {
                header_safe(name, v)?;
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
        if let (Some(a), Some(t)) = (self.checksum_algorithm, self.checksum_type)
            && !a.allows(t)
        {
            return Err(OptionsError(format!(
                "checksum algorithm {a} cannot be used with type {t} (CRC64NVME is FULL_OBJECT only; SHA1 and SHA256 are COMPOSITE only)"
            )));
        }
        if self.checksum_type.is_some() && self.checksum_algorithm.is_none() {
            return Err(OptionsError(
                "a checksum type needs a checksum algorithm".into(),
            ));
        }
        Ok(())
    }

    /// The headers shared by PutObject and CreateMultipartUpload.
    pub(crate) fn push_headers(&self, headers: &mut Vec<(String, String)>) {
        let mut put = |name: &str, v: &Option<String>| {
            if let Some(v) = v {
                headers.push((name.to_string(), v.clone()));
            }
        };
        put("content-type", &self.content_type);
        put("content-encoding", &self.content_encoding);
        put("content-disposition", &self.content_disposition);
        put("content-language", &self.content_language);
        put("cache-control", &self.cache_control);
        put("expires", &self.expires);
        put("x-amz-storage-class", &self.storage_class);
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
        if let Some(ServerSideEncryption::S3) = self.sse {
            headers.push(("x-amz-server-side-encryption".into(), "AES256".into()));
        }
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
    fn headers_and_checks() {
        let o = ObjectOptions {
            content_type: Some("text/plain".into()),
            metadata: BTreeMap::from([("Owner".into(), "me".into())]),
            tagging: vec![("project".into(), "a b&c".into())],
            sse: Some(ServerSideEncryption::S3),
            storage_class: Some("STANDARD".into()),
            ..Default::default()
        };
        o.validate().unwrap();
        let mut h = Vec::new();
        o.push_headers(&mut h);
        assert!(h.contains(&("x-amz-meta-owner".into(), "me".into())));
        assert!(h.contains(&("x-amz-tagging".into(), "project=a%20b%26c".into())));
        assert!(h.contains(&("x-amz-server-side-encryption".into(), "AES256".into())));
        let bad = ObjectOptions {
            metadata: BTreeMap::from([("k".into(), "naïve".into())]),
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        let bad = ObjectOptions {
            content_type: Some("a\nb".into()),
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }
}
