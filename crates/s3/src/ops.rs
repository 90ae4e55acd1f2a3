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
use crate::options::{
    ChecksumType, ChecksumValue, ContentHeaders, ObjectOptions, RequestOptions, SseCustomerKey,
};

pub use crate::acl::{
    AccessControlPolicy, AclSpec, GetObjectAclRequest, Grant, Permission, PutObjectAclRequest,
};
pub use crate::listing::*;
pub use crate::object_lock::*;

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
    /// An `aws-chunked` body (see [`crate::chunked`]): data chunks of `chunk_size` (the last
    /// shorter), then the trailer's checksum if one is declared. The client frames it, and with
    /// `signed` signs each chunk and the trailer; otherwise it is sent as
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER` (which needs a trailer).
    AwsChunked {
        /// Bytes of data it carries.
        decoded_length: u64,
        /// Size of every chunk but the last.
        chunk_size: u64,
        /// The checksum algorithm of the trailer.
        trailer: Option<crate::options::ChecksumAlgorithm>,
        /// Sign each chunk (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`).
        signed: bool,
        /// The chunks.
        stream: crate::chunked::ChunkStream,
    },
}

impl Body {
    /// The body's length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Body::Bytes(b) => b.len() as u64,
            Body::Stream { length, .. } => *length,
            Body::AwsChunked { decoded_length, .. } => *decoded_length,
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
            Body::AwsChunked { decoded_length, .. } => {
                write!(f, "Body::AwsChunked({decoded_length} bytes)")
            }
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::Bytes(Bytes::new())
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
#[derive(Debug, Default)]
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
    /// SSE-C key, expected bucket owner, requester pays.
    pub request: RequestOptions,
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
    /// SSE-C key, expected bucket owner, requester pays.
    pub request: RequestOptions,
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
    /// SSE-C key, expected bucket owner, requester pays.
    pub request: RequestOptions,
}

/// Stores an object in one request.
#[derive(Debug, Default)]
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
    /// SSE-C key, expected bucket owner, requester pays.
    pub request: RequestOptions,
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
    /// Content-Type, Content-Encoding and the other standard headers.
    pub content: ContentHeaders,
    /// User metadata, names lower-case.
    pub metadata: BTreeMap<String, String>,
    /// Storage class (absent means STANDARD).
    pub storage_class: Option<String>,
    /// `x-amz-server-side-encryption` (`AES256`, `aws:kms`).
    pub server_side_encryption: Option<String>,
    /// `x-amz-server-side-encryption-aws-kms-key-id`.
    pub sse_kms_key_id: Option<String>,
    /// `x-amz-server-side-encryption-bucket-key-enabled`.
    pub sse_bucket_key_enabled: Option<bool>,
    /// `x-amz-server-side-encryption-customer-key-MD5`: the object is SSE-C, with this key.
    pub sse_customer_key_md5: Option<String>,
    /// `x-amz-object-lock-mode`.
    pub object_lock_mode: Option<String>,
    /// `x-amz-object-lock-retain-until-date`.
    pub object_lock_retain_until: Option<String>,
    /// `x-amz-object-lock-legal-hold` (`ON` or `OFF`).
    pub object_lock_legal_hold: Option<String>,
    /// `x-amz-mp-parts-count`: parts of a multipart object (on a `partNumber` request).
    pub parts_count: Option<u32>,
    /// `x-amz-tagging-count`.
    pub tag_count: Option<u32>,
    /// `Content-Range`, on a ranged or part read.
    pub content_range: Option<ContentRange>,
    /// Stored checksum, with checksum mode.
    pub checksum: ObjectChecksum,
    /// `x-amz-restore`: an archived object's restore, under way or done.
    pub restore: Option<crate::restore::RestoreState>,
    /// `x-amz-website-redirect-location`: where a bucket configured as a website redirects
    /// requests for the object.
    pub website_redirect: Option<String>,
    /// `x-amz-archive-status`: an Intelligent-Tiering object in an archive tier
    /// (`ARCHIVE_ACCESS`, `DEEP_ARCHIVE_ACCESS`), which must be restored to be read.
    pub archive_status: Option<String>,
}

impl ObjectMeta {
    /// `Last-Modified`, read (an HTTP date); `None` when absent or not a date.
    pub fn modified(&self) -> Option<std::time::SystemTime> {
        httpdate::parse_http_date(self.last_modified.as_deref()?).ok()
    }

    /// Whether the object is archived (its storage class one of
    /// [`ARCHIVED_CLASSES`](crate::ARCHIVED_CLASSES), or an Intelligent-Tiering archive tier)
    /// with no restored copy readable: GetObject would answer InvalidObjectState.
    pub fn is_archived(&self) -> bool {
        let archived = self.archive_status.is_some()
            || self
                .storage_class
                .as_deref()
                .is_some_and(crate::restore::is_archived_class);
        archived && self.restore.as_ref().is_none_or(|r| r.ongoing)
    }
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

/// Creates a bucket.
#[derive(Debug, Clone, Default)]
pub struct CreateBucketRequest {
    /// Bucket.
    pub bucket: String,
    /// Make it with object lock (`x-amz-bucket-object-lock-enabled`), which also turns on
    /// versioning: its objects may then be written with a retention or a legal hold.
    pub object_lock: bool,
}

/// Deletes an object.
#[derive(Debug, Clone, Default)]
pub struct DeleteObjectRequest {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// A specific version.
    pub version_id: Option<String>,
    /// Delete only if the current version's ETag is this one (`If-Match`): else the server
    /// answers 412 and keeps it. A server that does not know the header deletes regardless.
    pub if_match: Option<String>,
    /// Delete a version under a GOVERNANCE retention all the same
    /// (`x-amz-bypass-governance-retention`; needs `s3:BypassGovernanceRetention`).
    pub bypass_governance_retention: bool,
    /// SSE-C key, expected bucket owner, requester pays.
    pub request: RequestOptions,
}

/// One object DeleteObjects removes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectIdentifier {
    /// Key.
    pub key: String,
    /// A specific version.
    pub version_id: Option<String>,
}

/// Deletes up to 1,000 objects of a bucket in one request.
#[derive(Debug, Clone, Default)]
pub struct DeleteObjectsRequest {
    /// Bucket.
    pub bucket: String,
    /// The objects (1 to [`DeleteObjectsRequest::MAX_KEYS`]).
    pub objects: Vec<ObjectIdentifier>,
    /// Delete versions under a GOVERNANCE retention all the same
    /// (`x-amz-bypass-governance-retention`; needs `s3:BypassGovernanceRetention`).
    pub bypass_governance_retention: bool,
    /// Expected bucket owner, requester pays.
    pub request: RequestOptions,
}

impl DeleteObjectsRequest {
    /// The most keys one request may name.
    pub const MAX_KEYS: usize = 1000;
}

/// A key DeleteObjects could not delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteFailure {
    /// Key.
    pub key: String,
    /// Version, if one was named.
    pub version_id: Option<String>,
    /// The S3 error code, e.g. `AccessDenied`.
    pub code: String,
    /// The service's message.
    pub message: String,
    /// For an `AccessDenied`: the permission the deletion needed and on what, e.g.
    /// `s3:DeleteObject on arn:aws:s3:::bucket/key`.
    pub needed: Option<String>,
}

/// The code, the message and what was needed (the key is the caller's to name).
impl std::fmt::Display for DeleteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.code)?;
        if !self.message.is_empty() {
            write!(f, " ({})", self.message)?;
        }
        if let Some(needed) = &self.needed {
            write!(
                f,
                "; this deletion needs {needed}: grant it to the user or role, or check the \
                 bucket policy"
            )?;
            if self.version_id.is_some() {
                write!(f, "; {}", crate::denied::LOCKED_VERSION)?;
            }
        }
        Ok(())
    }
}

/// What DeleteObjects did: the keys it deleted (S3 lists a key that did not exist as
/// deleted) and those it could not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteObjectsOutput {
    /// Keys deleted.
    pub deleted: Vec<String>,
    /// Keys refused, each with its error.
    pub failed: Vec<DeleteFailure>,
}

/// The object a copy reads from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopySource {
    /// Source bucket.
    pub bucket: String,
    /// Source key.
    pub key: String,
    /// A specific version of the source.
    pub version_id: Option<String>,
}

/// Conditions on a copy's source (`x-amz-copy-source-if-*`): the copy fails with 412 when one
/// does not hold, which pins a multipart copy to one version of its source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyConditions {
    /// Copy only if the source's ETag is this.
    pub if_match: Option<String>,
    /// Copy only if the source's ETag is not this.
    pub if_none_match: Option<String>,
    /// Copy only if the source changed since this HTTP date.
    pub if_modified_since: Option<String>,
    /// Copy only if the source did not change since this HTTP date.
    pub if_unmodified_since: Option<String>,
}

/// Copies a byte range of an existing object into a part.
#[derive(Debug, Clone, Default)]
pub struct UploadPartCopyRequest {
    /// Destination bucket.
    pub bucket: String,
    /// Destination key.
    pub key: String,
    /// The destination upload.
    pub upload_id: String,
    /// 1 to 10,000.
    pub part_number: u32,
    /// What to copy from.
    pub source: CopySource,
    /// The source bytes (`x-amz-copy-source-range`); the whole source when absent.
    pub source_range: Option<ByteRange>,
    /// Conditions on the source.
    pub conditions: CopyConditions,
    /// The source's SSE-C key.
    pub source_sse_customer_key: Option<SseCustomerKey>,
    /// The destination's SSE-C key, expected owner, requester pays.
    pub request: RequestOptions,
}

/// A copied part.
#[derive(Debug, Clone)]
pub struct UploadPartCopyOutput {
    /// The part's ETag, for Complete.
    pub etag: String,
    /// The part's checksum, when the upload has an algorithm.
    pub checksum: Option<ChecksumValue>,
}

/// Whether a copy keeps the source's metadata or tags, or replaces them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Directive {
    /// Keep the source's.
    #[default]
    Copy,
    /// Use the ones in the request.
    Replace,
}

impl Directive {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Directive::Copy => "COPY",
            Directive::Replace => "REPLACE",
        }
    }
}

/// Copies an object (up to 5 GiB) in one request, on the server.
#[derive(Debug, Clone, Default)]
pub struct CopyObjectRequest {
    /// Destination bucket.
    pub bucket: String,
    /// Destination key.
    pub key: String,
    /// What to copy from.
    pub source: CopySource,
    /// Conditions on the source.
    pub conditions: CopyConditions,
    /// `x-amz-metadata-directive`; with `Replace`, content headers and metadata come from
    /// `options`.
    pub metadata_directive: Option<Directive>,
    /// `x-amz-tagging-directive`; with `Replace`, tags come from `options`.
    pub tagging_directive: Option<Directive>,
    /// The new object's options (storage class, ACL, SSE, and with `Replace` its metadata).
    pub options: ObjectOptions,
    /// The source's SSE-C key.
    pub source_sse_customer_key: Option<SseCustomerKey>,
}

/// The copy.
#[derive(Debug, Clone)]
pub struct CopyObjectOutput {
    /// The new object's ETag.
    pub etag: String,
    /// Its version id.
    pub version_id: Option<String>,
    /// Its checksum, if reported.
    pub checksum: Option<ChecksumValue>,
}

/// Which attributes GetObjectAttributes returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectAttributes {
    /// `ETag`.
    pub etag: bool,
    /// `Checksum`.
    pub checksum: bool,
    /// `ObjectParts`.
    pub object_parts: bool,
    /// `StorageClass`.
    pub storage_class: bool,
    /// `ObjectSize`.
    pub object_size: bool,
}

impl Default for ObjectAttributes {
    /// All of them.
    fn default() -> Self {
        Self {
            etag: true,
            checksum: true,
            object_parts: true,
            storage_class: true,
            object_size: true,
        }
    }
}

/// Reads an object's attributes, with one page of its parts.
#[derive(Debug, Clone, Default)]
pub struct GetObjectAttributesRequest {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// A specific version.
    pub version_id: Option<String>,
    /// What to return.
    pub attributes: ObjectAttributes,
    /// Parts per page (`x-amz-max-parts`).
    pub max_parts: Option<u32>,
    /// Start after this part (`x-amz-part-number-marker`).
    pub part_number_marker: Option<u32>,
    /// SSE-C key, expected bucket owner, requester pays.
    pub request: RequestOptions,
}

/// One page of an object's parts, as GetObjectAttributes lists them (only for objects with
/// an additional checksum).
#[derive(Debug, Clone, Default)]
pub struct ObjectParts {
    /// How many parts the object has.
    pub total_parts_count: Option<u32>,
    /// The parts on this page: number, size and checksum (no ETag).
    pub parts: Vec<PartInfo>,
    /// The marker for the next page, when truncated.
    pub next_part_number_marker: Option<u32>,
}

/// An object's attributes.
#[derive(Debug, Clone, Default)]
pub struct GetObjectAttributesOutput {
    /// ETag (S3 gives it without quotes here).
    pub etag: Option<String>,
    /// The object's checksum and its type.
    pub checksum: ObjectChecksum,
    /// Parts, for a multipart object with an additional checksum.
    pub object_parts: Option<ObjectParts>,
    /// Storage class.
    pub storage_class: Option<String>,
    /// Size in bytes.
    pub object_size: Option<u64>,
    /// Version id.
    pub version_id: Option<String>,
}

/// Replaces an object's tags.
#[derive(Debug, Clone, Default)]
pub struct PutObjectTaggingRequest {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// A specific version.
    pub version_id: Option<String>,
    /// The tags (at most 10).
    pub tags: Vec<(String, String)>,
    /// Expected bucket owner, requester pays.
    pub request: RequestOptions,
}

/// Reads an object's tags.
#[derive(Debug, Clone, Default)]
pub struct GetObjectTaggingRequest {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// A specific version.
    pub version_id: Option<String>,
    /// Expected bucket owner, requester pays.
    pub request: RequestOptions,
}

/// A bucket's versioning state, as GetBucketVersioning reads it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Versioning {
    /// Never turned on: a write replaces the object its key held.
    #[default]
    Unversioned,
    /// On: a write or a deletion keeps the version it replaces.
    Enabled,
    /// Turned on once, then suspended: the versions kept stay, and a write replaces the key's
    /// `null` version. A bucket never goes back to unversioned.
    Suspended,
}

impl Versioning {
    /// The name S3 uses (`Enabled`, `Suspended`), or `Unversioned` for a bucket S3 answers
    /// with no status.
    pub fn as_str(self) -> &'static str {
        match self {
            Versioning::Unversioned => "Unversioned",
            Versioning::Enabled => "Enabled",
            Versioning::Suspended => "Suspended",
        }
    }
}

/// A bucket's versioning configuration, as GetBucketVersioning reads it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BucketVersioning {
    /// Its state.
    pub status: Versioning,
    /// Whether changing its state or deleting a version needs an MFA device too (S3 says so
    /// only of a bucket once configured with it).
    pub mfa_delete: bool,
}
