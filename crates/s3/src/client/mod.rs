//! The [`ObjectClient`] trait (the seam the engine is generic over) and [`S3Client`], its
//! implementation over reqwest: HTTP/1.1 only, rustls with ring, one connection pool, connect
//! and idle-read timeouts, proxies from the environment except for loopback endpoints.

use std::future::Future;
use std::time::Duration;

use crate::error::{ClientErrorKind, Result, S3Error};
use crate::ops::*;

mod clock;
mod lock;
mod ops;
mod prepared;
mod region;
mod response;
mod restore;
mod transport;
mod versioning;
mod versions;

pub use transport::{Presigned, S3Client};

/// The S3 operations ferry needs, one method each. The engine is generic over this trait, so
/// it runs against [`S3Client`], a mock, or a failure-injecting wrapper.
pub trait ObjectClient: Send + Sync + 'static {
    /// CreateMultipartUpload.
    fn create_multipart_upload(
        &self,
        req: &CreateMultipartUploadRequest,
    ) -> impl Future<Output = Result<CreateMultipartUploadOutput>> + Send;
    /// UploadPart. Takes the request by value: its body is consumed.
    fn upload_part(
        &self,
        req: UploadPartRequest,
    ) -> impl Future<Output = Result<UploadPartOutput>> + Send;
    /// CompleteMultipartUpload. A 200 whose body is `<Error>` is an error.
    fn complete_multipart_upload(
        &self,
        req: &CompleteMultipartUploadRequest,
    ) -> impl Future<Output = Result<CompleteMultipartUploadOutput>> + Send;
    /// AbortMultipartUpload.
    fn abort_multipart_upload(
        &self,
        req: &AbortMultipartUploadRequest,
    ) -> impl Future<Output = Result<()>> + Send;
    /// ListParts, one page.
    fn list_parts(
        &self,
        req: &ListPartsRequest,
    ) -> impl Future<Output = Result<ListPartsOutput>> + Send;
    /// ListMultipartUploads, one page.
    fn list_multipart_uploads(
        &self,
        req: &ListMultipartUploadsRequest,
    ) -> impl Future<Output = Result<ListMultipartUploadsOutput>> + Send;
    /// ListObjectsV2, one page.
    fn list_objects(
        &self,
        req: &ListObjectsRequest,
    ) -> impl Future<Output = Result<ListObjectsOutput>> + Send;
    /// ListObjectVersions, one page: every version and delete marker under the prefix, by
    /// key, each key's newest first (on a bucket never versioned, each object once, as
    /// version `null`). Needs `s3:ListBucketVersions`.
    fn list_object_versions(
        &self,
        req: &ListObjectVersionsRequest,
    ) -> impl Future<Output = Result<ListObjectVersionsOutput>> + Send;
    /// PutObject. Takes the request by value: its body is consumed.
    fn put_object(
        &self,
        req: PutObjectRequest,
    ) -> impl Future<Output = Result<PutObjectOutput>> + Send;
    /// GetObject: the headers now, the body as a stream.
    fn get_object(
        &self,
        req: &GetObjectRequest,
    ) -> impl Future<Output = Result<GetObjectOutput>> + Send;
    /// HeadObject.
    fn head_object(
        &self,
        req: &GetObjectRequest,
    ) -> impl Future<Output = Result<ObjectMeta>> + Send;
    /// CreateBucket.
    fn create_bucket(&self, req: &CreateBucketRequest) -> impl Future<Output = Result<()>> + Send;
    /// DeleteObject.
    fn delete_object(&self, req: &DeleteObjectRequest) -> impl Future<Output = Result<()>> + Send;
    /// DeleteObjects: up to 1,000 keys in one request; each key that failed is in the
    /// answer, not an error.
    fn delete_objects(
        &self,
        req: &DeleteObjectsRequest,
    ) -> impl Future<Output = Result<DeleteObjectsOutput>> + Send;
    /// UploadPartCopy. A 200 whose body is `<Error>` is an error.
    fn upload_part_copy(
        &self,
        req: &UploadPartCopyRequest,
    ) -> impl Future<Output = Result<UploadPartCopyOutput>> + Send;
    /// CopyObject. A 200 whose body is `<Error>` is an error.
    fn copy_object(
        &self,
        req: &CopyObjectRequest,
    ) -> impl Future<Output = Result<CopyObjectOutput>> + Send;
    /// GetObjectAttributes, with one page of parts.
    fn get_object_attributes(
        &self,
        req: &GetObjectAttributesRequest,
    ) -> impl Future<Output = Result<GetObjectAttributesOutput>> + Send;
    /// PutObjectAcl.
    fn put_object_acl(&self, req: &PutObjectAclRequest) -> impl Future<Output = Result<()>> + Send;
    /// GetObjectAcl.
    fn get_object_acl(
        &self,
        req: &GetObjectAclRequest,
    ) -> impl Future<Output = Result<AccessControlPolicy>> + Send;
    /// PutObjectRetention: sets or extends a version's object lock retention.
    fn put_object_retention(
        &self,
        req: &PutObjectRetentionRequest,
    ) -> impl Future<Output = Result<()>> + Send;
    /// PutObjectLegalHold: sets or lifts a version's legal hold.
    fn put_object_legal_hold(
        &self,
        req: &PutObjectLegalHoldRequest,
    ) -> impl Future<Output = Result<()>> + Send;
    /// RestoreObject: makes a temporary copy of an archived object readable (or keeps a
    /// restored one for the days asked, from now).
    fn restore_object(
        &self,
        req: &crate::restore::RestoreObjectRequest,
    ) -> impl Future<Output = Result<crate::restore::Restored>> + Send;
    /// PutObjectTagging (replaces all tags).
    fn put_object_tagging(
        &self,
        req: &PutObjectTaggingRequest,
    ) -> impl Future<Output = Result<()>> + Send;
    /// GetObjectTagging.
    fn get_object_tagging(
        &self,
        req: &GetObjectTaggingRequest,
    ) -> impl Future<Output = Result<Vec<(String, String)>>> + Send;
    /// Forget cached credentials, so the next request fetches fresh ones (after
    /// `ExpiredToken`). By default, does nothing.
    fn refresh_credentials(&self) {}

    /// The server this client talks to, as journals record it (so an interrupted transfer is
    /// only ever resumed against the same server). By default, empty.
    fn endpoint(&self) -> String {
        String::new()
    }

    /// How long the client waits for the server between reads: a request body that takes
    /// longer than this to send can fail for the server's silence, so a bandwidth limit must
    /// not spread bodies thinner. By default, 60 s.
    fn read_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(60)
    }
}

/// Every part of an upload, following `NextPartNumberMarker` page by page from `req`'s
/// marker.
pub async fn list_all_parts<C: ObjectClient>(
    client: &C,
    req: &ListPartsRequest,
) -> Result<Vec<PartInfo>> {
    let mut parts = Vec::new();
    let mut marker: Option<u32> = req.part_number_marker;
    loop {
        let page = client
            .list_parts(&ListPartsRequest {
                part_number_marker: marker,
                ..req.clone()
            })
            .await?;
        parts.extend(page.parts);
        match page.next_part_number_marker {
            Some(next) if marker.is_none_or(|m| next > m) => marker = Some(next),
            Some(next) => {
                return Err(S3Error::client(
                    "ListParts",
                    ClientErrorKind::InvalidResponse,
                    format!("the server's next part marker {next} does not advance; stopping"),
                ));
            }
            None => return Ok(parts),
        }
    }
}

/// Every object under a prefix, page by page, following `NextContinuationToken`. A page that
/// fails is asked for again on its own (the pages before it kept) for as long as `retry`,
/// given the error and the retry's number (1-based), returns how long to wait first; expired
/// credentials are refreshed before such a retry.
pub async fn list_all_objects<C: ObjectClient>(
    client: &C,
    req: &ListObjectsRequest,
    mut retry: impl FnMut(&S3Error, u32) -> Option<Duration>,
) -> Result<Vec<ObjectInfo>> {
    let mut objects = Vec::new();
    let mut req = req.clone();
    let mut retries = 0;
    loop {
        let page = match client.list_objects(&req).await {
            Ok(page) => page,
            Err(e) => {
                retries += 1;
                let Some(wait) = retry(&e, retries) else {
                    return Err(e);
                };
                if e.is_expired_credentials() {
                    client.refresh_credentials();
                }
                tokio::time::sleep(wait).await;
                continue;
            }
        };
        retries = 0;
        let more = req.advance(&page)?;
        objects.extend(page.objects);
        if !more {
            return Ok(objects);
        }
    }
}

/// Every in-progress upload in a bucket (under a prefix), page by page. Sends back exactly
/// the markers the server gave: S3 gives both `NextKeyMarker` and `NextUploadIdMarker`;
/// SeaweedFS orders uploads by id and gives only `NextUploadIdMarker`, and inventing a key
/// marker for it would skip uploads. An upload listed twice is kept once.
pub async fn list_all_uploads<C: ObjectClient>(
    client: &C,
    req: &ListMultipartUploadsRequest,
) -> Result<Vec<UploadInfo>> {
    let mut uploads: Vec<UploadInfo> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut markers = (req.key_marker.clone(), req.upload_id_marker.clone());
    loop {
        let page = client
            .list_multipart_uploads(&ListMultipartUploadsRequest {
                key_marker: markers.0.clone(),
                upload_id_marker: markers.1.clone(),
                ..req.clone()
            })
            .await?;
        for u in page.uploads {
            if seen.insert((u.key.clone(), u.upload_id.clone())) {
                uploads.push(u);
            }
        }
        if !page.is_truncated {
            return Ok(uploads);
        }
        let next = (page.next_key_marker, page.next_upload_id_marker);
        if next == markers {
            return Err(S3Error::client(
                "ListMultipartUploads",
                ClientErrorKind::InvalidResponse,
                "the server's next markers do not advance; stopping",
            ));
        }
        markers = next;
    }
}
