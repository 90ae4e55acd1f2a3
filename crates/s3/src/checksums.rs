//! The additional checksums S3 stores with an object: the algorithms, how a multipart
//! object's checksum is formed, and a value as S3 writes it.

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
