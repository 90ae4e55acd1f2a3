//! A failure-injecting [`ObjectClient`]: wraps a real client and fails chosen requests before
//! they are sent, so tests can prove the engine's retries against a real server.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use ferry_s3::*;
use futures_util::StreamExt as _;

/// Which requests fail, and how.
#[derive(Debug, Clone)]
pub struct Fault {
    /// The operation, e.g. `UploadPart`.
    pub operation: &'static str,
    /// For UploadPart: only this part number.
    pub part: Option<u32>,
    /// How many times to fail before letting requests through.
    pub times: u32,
    /// The error to return.
    pub error: fn() -> S3Error,
}

impl Fault {
    /// Fails `times` calls of `operation` with `error`.
    pub fn new(operation: &'static str, times: u32, error: fn() -> S3Error) -> Self {
        Fault {
            operation,
            part: None,
            times,
            error,
        }
    }

    /// Only for calls about part `n`.
    pub fn on_part(self, n: u32) -> Self {
        Fault {
            part: Some(n),
            ..self
        }
    }
}

/// A 500 InternalError.
pub fn internal_error() -> S3Error {
    service(500, "InternalError")
}

/// A 503 SlowDown.
pub fn slow_down() -> S3Error {
    service(503, "SlowDown")
}

/// A connection reset.
pub fn reset() -> S3Error {
    S3Error::client(
        "injected",
        ClientErrorKind::Network,
        "connection reset (injected)",
    )
}

/// A 400 ExpiredToken: refresh credentials, then retry.
pub fn expired_token() -> S3Error {
    service(400, "ExpiredToken")
}

/// A 403 RequestTimeTooSkewed: the request was signed too far from the server's time.
pub fn clock_skew() -> S3Error {
    service(403, "RequestTimeTooSkewed")
}

/// A 400 AuthorizationHeaderMalformed naming the bucket's region (`eu-west-1`): the request
/// was signed for another.
pub fn wrong_region() -> S3Error {
    ServiceError {
        region: Some("eu-west-1".into()),
        ..ServiceError::new(
            "injected",
            400,
            "AuthorizationHeaderMalformed",
            "injected by the test",
        )
    }
    .into()
}

/// A 403 AccessDenied (permanent).
pub fn access_denied() -> S3Error {
    service(403, "AccessDenied")
}

fn service(status: u16, code: &str) -> S3Error {
    ServiceError::new("injected", status, code, "injected by the test").into()
}

/// Wraps `C`, failing requests that match a [`Fault`] and counting every call.
pub struct FailingClient<C> {
    inner: C,
    faults: Mutex<Vec<Fault>>,
    /// UploadPart calls per part number (index = part number).
    pub part_calls: Mutex<Vec<u32>>,
    /// Calls of each kind that were failed on purpose.
    pub injected: AtomicU32,
    /// Aborts seen.
    pub aborts: AtomicU32,
    /// Credential refreshes asked for.
    pub refreshes: AtomicU32,
    /// HeadObject calls so far.
    pub heads: AtomicU32,
    /// GetObject calls (1-based) whose body gets one byte flipped in flight.
    flips: Mutex<Vec<u32>>,
    /// Hooks run before call n (1-based) of an operation, e.g. to replace the object.
    hooks: Mutex<Vec<(&'static str, u32, CallHook)>>,
    /// Calls so far, per hooked operation (GetObject, UploadPartCopy).
    calls: Mutex<std::collections::HashMap<&'static str, u32>>,
}

/// A hook run before a chosen call.
pub type CallHook = Box<dyn FnOnce() + Send>;

impl<C: std::fmt::Debug> std::fmt::Debug for FailingClient<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FailingClient")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<C> FailingClient<C> {
    /// Wraps `inner` with `faults`.
    pub fn new(inner: C, faults: Vec<Fault>) -> Self {
        Self {
            inner,
            faults: Mutex::new(faults),
            part_calls: Mutex::new(vec![0; 10_001]),
            injected: AtomicU32::new(0),
            aborts: AtomicU32::new(0),
            refreshes: AtomicU32::new(0),
            heads: AtomicU32::new(0),
            flips: Mutex::new(Vec::new()),
            hooks: Mutex::new(Vec::new()),
            calls: Mutex::new(Default::default()),
        }
    }

    /// Adds a fault.
    pub fn add_fault(&self, fault: Fault) {
        self.faults.lock().unwrap().push(fault);
    }

    /// Flips one byte in the middle of the body of GetObject call `n` (1-based), as damage
    /// in flight that TCP's checksum missed.
    pub fn flip_byte_of_get(&self, n: u32) {
        self.flips.lock().unwrap().push(n);
    }

    /// Runs `hook` just before GetObject call `n` (1-based) is sent.
    pub fn before_get(&self, n: u32, hook: CallHook) {
        self.before("GetObject", n, hook);
    }

    /// Runs `hook` just before call `n` (1-based) of `operation` (`GetObject`,
    /// `UploadPartCopy`, `UploadPart`, `CompleteMultipartUpload`, `DeleteObject`,
    /// `DeleteObjects`) is sent.
    pub fn before(&self, operation: &'static str, n: u32, hook: CallHook) {
        self.hooks.lock().unwrap().push((operation, n, hook));
    }

    /// Counts a call of `operation`, runs the hook set for it, if any, and returns its number
    /// (1-based).
    fn hook(&self, operation: &'static str) -> u32 {
        let n = {
            let mut calls = self.calls.lock().unwrap();
            let c = calls.entry(operation).or_insert(0);
            *c += 1;
            *c
        };
        let hook = {
            let mut hooks = self.hooks.lock().unwrap();
            hooks
                .iter()
                .position(|(op, k, _)| *op == operation && *k == n)
                .map(|i| hooks.remove(i).2)
        };
        if let Some(h) = hook {
            h();
        }
        n
    }

    /// Fails the call with the first matching fault that has times left.
    fn fail(&self, op: &str, part: Option<u32>) -> Result<()> {
        let mut faults = self.faults.lock().unwrap();
        let found = faults
            .iter_mut()
            .find(|f| f.operation == op && f.times > 0 && (f.part.is_none() || f.part == part));
        match found {
            Some(f) => {
                f.times -= 1;
                self.injected.fetch_add(1, Ordering::Relaxed);
                Err((f.error)())
            }
            None => Ok(()),
        }
    }
}

impl<C: ObjectClient> ObjectClient for FailingClient<C> {
    async fn create_multipart_upload(
        &self,
        req: &CreateMultipartUploadRequest,
    ) -> Result<CreateMultipartUploadOutput> {
        self.fail("CreateMultipartUpload", None)?;
        self.inner.create_multipart_upload(req).await
    }

    async fn upload_part(&self, req: UploadPartRequest) -> Result<UploadPartOutput> {
        self.part_calls.lock().unwrap()[req.part_number as usize] += 1;
        let _ = self.hook("UploadPart");
        self.fail("UploadPart", Some(req.part_number))?;
        self.inner.upload_part(req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: &CompleteMultipartUploadRequest,
    ) -> Result<CompleteMultipartUploadOutput> {
        let _ = self.hook("CompleteMultipartUpload");
        self.fail("CompleteMultipartUpload", None)?;
        self.inner.complete_multipart_upload(req).await
    }

    async fn abort_multipart_upload(&self, req: &AbortMultipartUploadRequest) -> Result<()> {
        self.aborts.fetch_add(1, Ordering::Relaxed);
        self.inner.abort_multipart_upload(req).await
    }

    async fn list_parts(&self, req: &ListPartsRequest) -> Result<ListPartsOutput> {
        self.inner.list_parts(req).await
    }

    async fn list_multipart_uploads(
        &self,
        req: &ListMultipartUploadsRequest,
    ) -> Result<ListMultipartUploadsOutput> {
        self.inner.list_multipart_uploads(req).await
    }

    async fn list_objects(&self, req: &ListObjectsRequest) -> Result<ListObjectsOutput> {
        self.fail("ListObjectsV2", None)?;
        self.inner.list_objects(req).await
    }

    async fn list_object_versions(
        &self,
        req: &ListObjectVersionsRequest,
    ) -> Result<ListObjectVersionsOutput> {
        self.hook("ListObjectVersions");
        self.fail("ListObjectVersions", None)?;
        self.inner.list_object_versions(req).await
    }

    async fn put_object(&self, req: PutObjectRequest) -> Result<PutObjectOutput> {
        self.fail("PutObject", None)?;
        self.inner.put_object(req).await
    }

    async fn get_object(&self, req: &GetObjectRequest) -> Result<GetObjectOutput> {
        let n = self.hook("GetObject");
        self.fail("GetObject", None)?;
        let mut out = self.inner.get_object(req).await?;
        if self.flips.lock().unwrap().contains(&n) {
            self.injected.fetch_add(1, Ordering::Relaxed);
            let at = out.meta.content_length / 2;
            let mut seen = 0u64;
            out.body = Box::pin(out.body.map(move |chunk| {
                chunk.map(|c| {
                    let start = seen;
                    seen += c.len() as u64;
                    if (start..seen).contains(&at) {
                        let mut v = c.to_vec();
                        v[(at - start) as usize] ^= 0x01;
                        bytes::Bytes::from(v)
                    } else {
                        c
                    }
                })
            }));
        }
        Ok(out)
    }

    async fn head_object(&self, req: &GetObjectRequest) -> Result<ObjectMeta> {
        self.heads.fetch_add(1, Ordering::Relaxed);
        self.inner.head_object(req).await
    }

    async fn create_bucket(&self, req: &CreateBucketRequest) -> Result<()> {
        self.inner.create_bucket(req).await
    }

    async fn delete_object(&self, req: &DeleteObjectRequest) -> Result<()> {
        let _ = self.hook("DeleteObject");
        self.fail("DeleteObject", None)?;
        self.inner.delete_object(req).await
    }

    async fn delete_objects(&self, req: &DeleteObjectsRequest) -> Result<DeleteObjectsOutput> {
        let _ = self.hook("DeleteObjects");
        self.fail("DeleteObjects", None)?;
        self.inner.delete_objects(req).await
    }

    async fn upload_part_copy(&self, req: &UploadPartCopyRequest) -> Result<UploadPartCopyOutput> {
        let _ = self.hook("UploadPartCopy");
        self.fail("UploadPartCopy", Some(req.part_number))?;
        self.inner.upload_part_copy(req).await
    }

    async fn copy_object(&self, req: &CopyObjectRequest) -> Result<CopyObjectOutput> {
        self.fail("CopyObject", None)?;
        self.inner.copy_object(req).await
    }

    async fn get_object_attributes(
        &self,
        req: &GetObjectAttributesRequest,
    ) -> Result<GetObjectAttributesOutput> {
        self.fail("GetObjectAttributes", None)?;
        self.inner.get_object_attributes(req).await
    }

    async fn put_object_acl(&self, req: &PutObjectAclRequest) -> Result<()> {
        self.inner.put_object_acl(req).await
    }

    async fn get_object_acl(&self, req: &GetObjectAclRequest) -> Result<AccessControlPolicy> {
        self.inner.get_object_acl(req).await
    }

    async fn put_object_retention(&self, req: &PutObjectRetentionRequest) -> Result<()> {
        self.fail("PutObjectRetention", None)?;
        self.inner.put_object_retention(req).await
    }

    async fn put_object_legal_hold(&self, req: &PutObjectLegalHoldRequest) -> Result<()> {
        self.fail("PutObjectLegalHold", None)?;
        self.inner.put_object_legal_hold(req).await
    }

    async fn restore_object(
        &self,
        req: &ferry_s3::RestoreObjectRequest,
    ) -> Result<ferry_s3::Restored> {
        self.fail("RestoreObject", None)?;
        self.inner.restore_object(req).await
    }

    async fn put_object_tagging(&self, req: &PutObjectTaggingRequest) -> Result<()> {
        self.inner.put_object_tagging(req).await
    }

    async fn get_object_tagging(
        &self,
        req: &GetObjectTaggingRequest,
    ) -> Result<Vec<(String, String)>> {
        self.inner.get_object_tagging(req).await
    }

    fn refresh_credentials(&self) {
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        self.inner.refresh_credentials();
    }

    fn endpoint(&self) -> String {
        self.inner.endpoint()
    }

    fn read_timeout(&self) -> std::time::Duration {
        self.inner.read_timeout()
    }
}
