//! The listings: one page of an upload's parts, of a bucket's uploads in progress, of the
//! objects under a prefix or of their versions, and the buckets. Plain data, as the rest of `ops`.

use crate::error::{ClientErrorKind, Result, S3Error};
use crate::options::{ChecksumValue, RequestOptions};

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
    /// SSE-C key, expected bucket owner, requester pays.
    pub request: RequestOptions,
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
    /// SSE-C key, expected bucket owner, requester pays.
    pub request: RequestOptions,
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

/// Lists one page of the objects under a prefix (ListObjectsV2): the whole tree below it, or
/// with a delimiter one level of it.
#[derive(Debug, Clone, Default)]
pub struct ListObjectsRequest {
    /// Bucket.
    pub bucket: String,
    /// Only keys starting with this.
    pub prefix: Option<String>,
    /// Group the keys that have this after the prefix (`/`: one level of a folder tree) into
    /// common prefixes, instead of listing them.
    pub delimiter: Option<String>,
    /// The `NextContinuationToken` of the page before.
    pub continuation_token: Option<String>,
    /// List only the keys after this one, in byte order (`StartAfter`: any string, not only a
    /// key). A continuation token takes its place: give one or the other.
    pub start_after: Option<String>,
    /// Page size (S3 caps it at 1,000).
    pub max_keys: Option<u32>,
    /// SSE-C key, expected bucket owner, requester pays.
    pub request: RequestOptions,
}

impl ListObjectsRequest {
    /// Makes this the request of the page after `page`: `true` when there is one, `false`
    /// when `page` was the last. A token the server gives again is an error: its listing
    /// would never end.
    pub fn advance(&mut self, page: &ListObjectsOutput) -> Result<bool> {
        match &page.next_continuation_token {
            None => Ok(false),
            Some(t) if self.continuation_token.as_ref() == Some(t) => Err(S3Error::client(
                "ListObjectsV2",
                ClientErrorKind::InvalidResponse,
                "the server's continuation token does not advance; stopping",
            )),
            Some(t) => {
                self.continuation_token = Some(t.clone());
                Ok(true)
            }
        }
    }
}

/// Lists one page of the versions under a prefix (ListObjectVersions): each version of each
/// object, and each delete marker.
#[derive(Debug, Clone, Default)]
pub struct ListObjectVersionsRequest {
    /// Bucket.
    pub bucket: String,
    /// Only keys starting with this.
    pub prefix: Option<String>,
    /// Group keys by the part up to this (one level of a `/` tree).
    pub delimiter: Option<String>,
    /// Start after this key …
    pub key_marker: Option<String>,
    /// … and this version of it.
    pub version_id_marker: Option<String>,
    /// Page size (S3 caps it at 1,000).
    pub max_keys: Option<u32>,
    /// Expected bucket owner, requester pays.
    pub request: RequestOptions,
}

impl ListObjectVersionsRequest {
    /// Makes this the request of the page after `page`: `true` when there is one, `false`
    /// when `page` was the last. Markers the server gives again are an error: its listing
    /// would never end.
    pub fn advance(&mut self, page: &ListObjectVersionsOutput) -> Result<bool> {
        if !page.is_truncated {
            return Ok(false);
        }
        let next = (
            page.next_key_marker.clone(),
            page.next_version_id_marker.clone(),
        );
        if next.0.is_none() || next == (self.key_marker.clone(), self.version_id_marker.clone()) {
            return Err(S3Error::client(
                "ListObjectVersions",
                ClientErrorKind::InvalidResponse,
                "the server's next markers are missing or do not advance; stopping",
            ));
        }
        (self.key_marker, self.version_id_marker) = next;
        Ok(true)
    }
}

/// A version of an object, or a delete marker, in a listing of versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    /// The key, and this version's size (0 for a delete marker), ETag (none for a delete
    /// marker) and time.
    pub object: ObjectInfo,
    /// Version id (`null` for what was written before versioning was enabled).
    pub version_id: String,
    /// This is the key's current version (or, for a delete marker, the key reads as deleted).
    pub is_latest: bool,
    /// A delete marker, not a version holding bytes.
    pub delete_marker: bool,
}

/// One page of versions.
#[derive(Debug, Clone, Default)]
pub struct ListObjectVersionsOutput {
    /// The versions and delete markers on this page, in the server's order (by key, each
    /// key's newest first).
    pub versions: Vec<ObjectVersion>,
    /// With a delimiter: the prefixes that group the keys below this level.
    pub common_prefixes: Vec<String>,
    /// There are more pages.
    pub is_truncated: bool,
    /// Where the next page starts: this key …
    pub next_key_marker: Option<String>,
    /// … and this version of it.
    pub next_version_id_marker: Option<String>,
}

/// An object in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// ETag, quotes and all, as the server wrote it.
    pub etag: Option<String>,
    /// Last modified (RFC 3339, as the server wrote it).
    pub last_modified: Option<String>,
    /// Storage class (`STANDARD`, `GLACIER`, …), where the listing names one.
    pub storage_class: Option<String>,
}

/// One page of objects.
#[derive(Debug, Clone)]
pub struct ListObjectsOutput {
    /// The objects on this page, in key order.
    pub objects: Vec<ObjectInfo>,
    /// With a delimiter: the prefixes up to and including it that group the keys below this
    /// level (the "folders"), in key order.
    pub common_prefixes: Vec<String>,
    /// The token for the next page, when the listing is truncated.
    pub next_continuation_token: Option<String>,
}

/// A bucket, as ListBuckets names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketInfo {
    /// Its name.
    pub name: String,
    /// When it was made (RFC 3339, as the server wrote it).
    pub creation_date: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_advances_by_its_token_and_refuses_one_given_again() {
        let page = |t: Option<&str>| ListObjectsOutput {
            objects: Vec::new(),
            common_prefixes: Vec::new(),
            next_continuation_token: t.map(str::to_string),
        };
        let mut req = ListObjectsRequest::default();
        assert!(req.advance(&page(Some("t1"))).unwrap());
        assert_eq!(req.continuation_token.as_deref(), Some("t1"));
        let e = req.advance(&page(Some("t1"))).unwrap_err();
        assert!(e.to_string().contains("does not advance"), "{e}");
        assert!(!req.advance(&page(None)).unwrap());
    }
}
