//! One typed request and response per S3 operation, and the request bodies they send.
//!
//! Plain data: the HTTP mapping lives in `client`, so the engine and tests can build and
//! inspect requests without a network.

use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::Stream;

use crate::error::S3Error;
use crate::options::{ChecksumType, ChecksumValue, ObjectOptions};

/// A stream of body bytes.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, S3Error>> + Send>>;

/// A stream that produces a request body.
pub type BodyStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// A request body: bytes in memory (signed with their SHA-256, cheap to clone for a retry), or
/// a stream of known length (sent `UNSIGNED-PAYLOAD`, read once).
pub enum Body {
    /// Bytes in memory.
    Bytes(Bytes),
    /// A stream of exactly `length` bytes.
    Stream {
        /// The exact length the stream yields.
        length: u64,
        /// The bytes.
        stream: BodyStream,
    },
}

impl Body {
    /// The body's length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Body::Bytes(b) => b.len() as u64,
            Body::Stream { length, .. } => *length,
        }
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Bytes(b) => write!(f, "Body::Bytes({} bytes)", b.len()),
            Body::Stream { length, .. } => write!(f, "Body::Stream({length} bytes)"),
        }
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        Body::Bytes(b)
    }
}

impl From<Vec<u8>> for Body {
    fn from(b: Vec<u8>) -> Self {
        Body::Bytes(Bytes::from(b))
    }
}

impl From<&'static [u8]> for Body {
    fn from(b: &'static [u8]) -> Self {
        Body::Bytes(Bytes::from_static(b))
    }
}

/// An inclusive byte range, as in `Range: bytes=first-last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte.
    pub first: u64,
    /// Last byte, inclusive.
    pub last: u64,
}

impl ByteRange {
    /// The range's length.
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    /// Whether the range is empty (never, for a valid range).
    pub fn is_empty(&self) -> bool {
        self.last < self.first
    }
}

/// `Content-Range: bytes first-last/total` of a ranged or part GET.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    /// The bytes returned.
    pub range: ByteRange,
    /// The object's size.
    pub total: u64,
}

/// Starts a multipart upload.
#[derive(Debug, Clone, Default)]
pub struct CreateMultipartUploadRequest {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// What the finished object will carry (checksum algorithm and type included).
    pub options: ObjectOptions,
}

/// The new upload.
#[derive(Debug, Clone)]
pub struct CreateMultipartUploadOutput {
    /// The upload id every later request names.
    pub upload_id: String,
}

/// Sends one part.
#[derive(Debug)]
pub struct UploadPartRequest {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// The upload.
    pub upload_id: String,
    /// 1 to 10,000.
    pub part_number: u32,
    /// The part's bytes.
    pub body: Body,
    /// Base64 MD5 of the body (`Content-MD5`).
    pub content_md5: Option<String>,
    /// The part's additional checksum.
    pub checksum: Option<ChecksumValue>,
}

/// A stored part.
#[derive(Debug, Clone)]
pub struct UploadPartOutput {
    /// The part's ETag, quotes included, as Complete needs it.
    pub etag: String,
    /// The checksum the server echoed, if any.
    pub checksum: Option<ChecksumValue>,
}

/// A part as CompleteMultipartUpload lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedPart {
    /// Part number.
    pub part_number: u32,
    /// ETag from UploadPart.
    pub etag: String,
    /// The part's checksum, when the upload has an algorithm.
    pub checksum: Option<ChecksumValue>,
}

/// Finishes a multipart upload.
#[derive(Debug, Clone, Default)]
pub struct CompleteMultipartUploadRequest {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// The upload.
    pub upload_id: String,
    /// Parts, sent sorted by number whatever their order here.
    pub parts: Vec<CompletedPart>,
    /// The whole object's checksum, so the server refuses a wrong object.
    pub checksum: Option<ChecksumValue>,
    /// The type of that checksum.
    pub checksum_type: Option<ChecksumType>,
    /// `x-amz-mp-object-size`: the server checks the total size.
    pub object_size: Option<u64>,
    /// `If-None-Match: *`: refuse to replace an existing object.
    pub if_none_match: bool,
}

/// The finished object.
#[derive(Debug, Clone)]
pub struct CompleteMultipartUploadOutput {
    /// The object's ETag.
    pub etag: String,
    /// `x-amz-version-id`, in a versioned bucket.
    pub version_id: Option<String>,
    /// The object's checksum, as the server computed it.
    pub checksum: Option<ChecksumValue>,
    /// Its type.
    pub checksum_type: Option<ChecksumType>,
    /// The object's URL, as the server gave it.
    pub location: Option<String>,
}

/// Abandons a multipart upload and frees its parts.
#[derive(Debug, Clone, Default)]
pub struct AbortMultipartUploadRequest {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// The upload.
    pub upload_id: String,
}

/// Lists one page of an upload's parts.
#[derive(Debug, Clone, Default)]
pub struct ListPartsRequest {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// The upload.
    pub upload_id: String,
    /// Start after this part number.
    pub part_number_marker: Option<u32>,
    /// Page size (S3 caps it at 1,000).
    pub max_parts: Option<u32>,
}

/// A part the server holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    /// Part number.
    pub part_number: u32,
    /// ETag, quotes included.
    pub etag: String,
    /// Size in bytes.
    pub size: u64,
    /// When it was stored (as the server wrote it).
    pub last_modified: Option<String>,
    /// Its checksum, if the server reports it.
    pub checksum: Option<ChecksumValue>,
}

/// One page of parts.
#[derive(Debug, Clone)]
pub struct ListPartsOutput {
    /// The parts on this page, in the server's order.
    pub parts: Vec<PartInfo>,
    /// The marker for the next page, when the listing is truncated.
    pub next_part_number_marker: Option<u32>,
    /// The upload's checksum algorithm, if reported.
    pub checksum_algorithm: Option<String>,
    /// The upload's checksum type, if reported.
    pub checksum_type: Option<String>,
}

/// Lists one page of a bucket's in-progress multipart uploads.
#[derive(Debug, Clone, Default)]
pub struct ListMultipartUploadsRequest {
    /// Bucket.
    pub bucket: String,
    /// Only keys starting with this.
    pub prefix: Option<String>,
    /// Start after this key …
    pub key_marker: Option<String>,
    /// … and, within it, after this upload id.
    pub upload_id_marker: Option<String>,
    /// Page size (S3 caps it at 1,000).
    pub max_uploads: Option<u32>,
}

/// An in-progress upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadInfo {
    /// Key.
    pub key: String,
    /// Upload id.
    pub upload_id: String,
    /// When it was started (RFC 3339, as the server wrote it).
    pub initiated: Option<String>,
    /// Storage class.
    pub storage_class: Option<String>,
}

/// One page of uploads.
#[derive(Debug, Clone)]
pub struct ListMultipartUploadsOutput {
    /// The uploads on this page.
    pub uploads: Vec<UploadInfo>,
    /// Whether more pages follow.
    pub is_truncated: bool,
    /// `NextKeyMarker`, as the server gave it.
    pub next_key_marker: Option<String>,
    /// `NextUploadIdMarker`, as the server gave it.
    pub next_upload_id_marker: Option<String>,
}

/// Stores an object in one request.
#[derive(Debug)]
pub struct PutObjectRequest {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// The bytes.
    pub body: Body,
    /// What the object carries.
    pub options: ObjectOptions,
    /// Base64 MD5 of the body (`Content-MD5`).
    pub content_md5: Option<String>,
    /// The object's additional checksum.
    pub checksum: Option<ChecksumValue>,
    /// `If-None-Match: *`: refuse to replace an existing object.
    pub if_none_match: bool,
}

/// The stored object.
#[derive(Debug, Clone)]
pub struct PutObjectOutput {
    /// ETag.
    pub etag: String,
    /// Version id, in a versioned bucket.
    pub version_id: Option<String>,
    /// The checksum the server stored, if echoed.
    pub checksum: Option<ChecksumValue>,
}

/// Reads an object, or a range or part of it. Also the request of HeadObject.
#[derive(Debug, Clone, Default)]
pub struct GetObjectRequest {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// `Range: bytes=first-last`.
    pub range: Option<ByteRange>,
    /// `partNumber=N`: one part of a multipart object.
    pub part_number: Option<u32>,
    /// `If-Match`: fail with 412 unless the ETag matches (pins a download to one version).
    pub if_match: Option<String>,
    /// `versionId`.
    pub version_id: Option<String>,
    /// `x-amz-checksum-mode: ENABLED`: return the stored checksum.
    pub checksum_mode: bool,
}

/// Checksums the server reported for an object or part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectChecksum {
    /// The value (a composite one ends in `-N`).
    pub value: Option<ChecksumValue>,
    /// `x-amz-checksum-type`.
    pub checksum_type: Option<ChecksumType>,
}

/// What HeadObject and GetObject say about an object.
#[derive(Debug, Clone, Default)]
pub struct ObjectMeta {
    /// Bytes in this answer (the range or part for a ranged read).
    pub content_length: u64,
    /// ETag, quotes included.
    pub etag: String,
    /// `Last-Modified`, as sent.
    pub last_modified: Option<String>,
    /// Version id.
    pub version_id: Option<String>,
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
    /// `Expires`.
    pub expires: Option<String>,
    /// User metadata, names lower-case.
    pub metadata: BTreeMap<String, String>,
    /// Storage class (absent means STANDARD).
    pub storage_class: Option<String>,
    /// `x-amz-server-side-encryption`.
    pub server_side_encryption: Option<String>,
    /// `x-amz-mp-parts-count`: parts of a multipart object (on a `partNumber` request).
    pub parts_count: Option<u32>,
    /// `x-amz-tagging-count`.
    pub tag_count: Option<u32>,
    /// `Content-Range`, on a ranged or part read.
    pub content_range: Option<ContentRange>,
    /// Stored checksum, with checksum mode.
    pub checksum: ObjectChecksum,
}

/// An object's bytes and what the server said about them.
pub struct GetObjectOutput {
    /// Headers.
    pub meta: ObjectMeta,
    /// The bytes; an error item if the connection breaks or the body ends early.
    pub body: ByteStream,
}

impl fmt::Debug for GetObjectOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetObjectOutput")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

/// Creates a bucket (tests and set-up).
#[derive(Debug, Clone, Default)]
pub struct CreateBucketRequest {
    /// Bucket.
    pub bucket: String,
}

/// Deletes an object (tests and clean-up).
#[derive(Debug, Clone, Default)]
pub struct DeleteObjectRequest {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// A specific version.
    pub version_id: Option<String>,
}
