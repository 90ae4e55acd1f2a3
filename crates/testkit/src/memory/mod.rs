//! An in-memory S3 for fast unit tests of the engine's decisions (scheduling, budgets,
//! resume): buckets, objects and multipart uploads in maps, with the rules the engine relies
//! on (part ETags in Complete, `If-Match`, ranges, pagination (`listing`), a checksum trailer
//! that must match, the lock PutObjectRetention and PutObjectLegalHold set), and counters a
//! test reads: calls per operation and the most requests in flight at once. Each request can
//! be made to take a while, so concurrency shows.
//!
//! Not a server and not evidence that a transfer works: the real-server tests are that.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use ferry_s3::chunked::ChunkItem;
use ferry_s3::{
    AbortMultipartUploadRequest, AccessControlPolicy, Body, ChecksumAlgorithm, ChecksumType,
    ChecksumValue, CompleteMultipartUploadOutput, CompleteMultipartUploadRequest, ContentRange,
    CopyObjectOutput, CopyObjectRequest, CreateBucketRequest, CreateMultipartUploadOutput,
    CreateMultipartUploadRequest, DeleteObjectRequest, DeleteObjectsOutput, DeleteObjectsRequest,
    GetObjectAclRequest, GetObjectAttributesOutput, GetObjectAttributesRequest, GetObjectOutput,
    GetObjectRequest, GetObjectTaggingRequest, ListMultipartUploadsOutput,
    ListMultipartUploadsRequest, ListObjectVersionsOutput, ListObjectVersionsRequest,
    ListObjectsOutput, ListObjectsRequest, ListPartsOutput, ListPartsRequest, ObjectChecksum,
    ObjectClient, ObjectMeta, ObjectVersion, PartInfo, PutObjectAclRequest,
    PutObjectLegalHoldRequest, PutObjectOutput, PutObjectRequest, PutObjectRetentionRequest,
    PutObjectTaggingRequest, Result, S3Error, ServiceError, UploadInfo, UploadPartCopyOutput,
    UploadPartCopyRequest, UploadPartOutput, UploadPartRequest,
};
use futures_util::StreamExt as _;

mod listing;

/// An object: its bytes and ETag, and the lock PutObjectRetention and PutObjectLegalHold set.
#[derive(Debug, Clone)]
struct Stored {
    data: Bytes,
    etag: String,
    /// The retention's mode and date, as HeadObject shows them.
    retention: Option<(String, String)>,
    /// `ON` or `OFF`, once set.
    legal_hold: Option<String>,
    /// Its storage class, when not STANDARD.
    storage_class: Option<String>,
    /// An archived object's copy was restored (at once, as moto restores).
    restored: bool,
}

impl Stored {
    /// Bytes as S3 stores a single PUT or a part: the ETag is their quoted MD5.
    fn new(data: Bytes) -> Self {
        let etag = format!("\"{}\"", md5_hex(&[&data]));
        Stored {
            data,
            etag,
            retention: None,
            legal_hold: None,
            storage_class: None,
            restored: false,
        }
    }

    /// Archived and not restored: GetObject answers InvalidObjectState.
    fn unreadable(&self) -> bool {
        !self.restored
            && self
                .storage_class
                .as_deref()
                .is_some_and(ferry_s3::is_archived_class)
    }
}

#[derive(Debug, Default)]
struct Upload {
    bucket: String,
    key: String,
    parts: BTreeMap<u32, Stored>,
}

#[derive(Debug, Default)]
struct State {
    buckets: HashMap<String, BTreeMap<String, Stored>>,
    uploads: BTreeMap<String, Upload>,
    next_id: u64,
}

/// The in-memory S3 (see the module's doc). Clones share the same store and counters.
#[derive(Debug, Default, Clone)]
pub struct MemoryClient(Arc<Inner>);

#[derive(Debug, Default)]
pub struct Inner {
    state: Mutex<State>,
    calls: Mutex<HashMap<&'static str, u32>>,
    in_flight: AtomicU32,
    most_in_flight: AtomicU32,
    /// How long each request takes.
    delay: Duration,
    /// Lists from the start whatever `start_after` says, as a server that does not know it.
    ignores_start_after: AtomicBool,
    /// Refuses a listing that gives `start_after` (400 InvalidArgument).
    refuses_start_after: AtomicBool,
}

impl std::ops::Deref for MemoryClient {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

fn service(operation: &'static str, status: u16, code: &str) -> S3Error {
    ServiceError::new(operation, status, code, "from the in-memory S3").into()
}

fn md5_hex(parts: &[&[u8]]) -> String {
    use md5::Digest as _;
    let mut h = md5::Md5::new();
    for p in parts {
        h.update(p);
    }
    hex::encode(h.finalize())
}

fn crc64(data: &[u8]) -> ChecksumValue {
    let v = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, data);
    ChecksumValue {
        algorithm: ChecksumAlgorithm::Crc64Nvme,
        value: base64::engine::general_purpose::STANDARD.encode(v.to_be_bytes()),
    }
}

/// Counts a request while it runs.
struct InFlight<'a>(&'a Inner);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl MemoryClient {
    /// An empty S3 whose requests each take `delay`.
    pub fn new(delay: Duration) -> Self {
        Self(Arc::new(Inner {
            delay,
            ..Inner::default()
        }))
    }

    /// Makes a bucket.
    pub fn bucket(&self, name: &str) {
        self.state
            .lock()
            .unwrap()
            .buckets
            .entry(name.into())
            .or_default();
    }

    /// The bytes of an object, if there is one.
    pub fn object(&self, bucket: &str, key: &str) -> Option<Bytes> {
        let st = self.state.lock().unwrap();
        Some(st.buckets.get(bucket)?.get(key)?.data.clone())
    }

    /// Puts an object directly.
    pub fn insert(&self, bucket: &str, key: &str, data: Vec<u8>) {
        let mut st = self.state.lock().unwrap();
        st.buckets
            .entry(bucket.into())
            .or_default()
            .insert(key.into(), Stored::new(data.into()));
    }

    /// Moves `key` to the storage class `class` (`GLACIER`, `DEEP_ARCHIVE`: archived, read
    /// only once RestoreObject restored it).
    pub fn set_storage_class(&self, bucket: &str, key: &str, class: &str) {
        let mut st = self.state.lock().unwrap();
        let stored = st.buckets.get_mut(bucket).and_then(|b| b.get_mut(key));
        stored.expect("the object is there").storage_class = Some(class.into());
    }

    /// Multipart uploads in progress.
    pub fn uploads(&self) -> usize {
        self.state.lock().unwrap().uploads.len()
    }

    /// Forgets part `n` of every upload in progress, as a server that lost it would.
    pub fn lose_part(&self, n: u32) {
        for up in self.state.lock().unwrap().uploads.values_mut() {
            up.parts.remove(&n);
        }
    }

    /// Calls of `operation` so far.
    pub fn calls(&self, operation: &str) -> u32 {
        self.calls
            .lock()
            .unwrap()
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// The most requests that ran at once.
    pub fn most_in_flight(&self) -> u32 {
        self.most_in_flight.load(Ordering::SeqCst)
    }

    /// Counts the call, waits the delay, and holds the request in flight until dropped.
    async fn begin(&self, operation: &'static str) -> InFlight<'_> {
        *self.calls.lock().unwrap().entry(operation).or_insert(0) += 1;
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        let guard = InFlight(&self.0);
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        guard
    }

    fn get_stored(&self, op: &'static str, bucket: &str, key: &str) -> Result<Stored> {
        let st = self.state.lock().unwrap();
        let b = st
            .buckets
            .get(bucket)
            .ok_or_else(|| service(op, 404, "NoSuchBucket"))?;
        b.get(key)
            .cloned()
            .ok_or_else(|| service(op, 404, "NoSuchKey"))
    }

    fn meta(stored: &Stored, checksum: bool) -> ObjectMeta {
        ObjectMeta {
            content_length: stored.data.len() as u64,
            etag: stored.etag.clone(),
            checksum: ObjectChecksum {
                value: checksum.then(|| crc64(&stored.data)),
                checksum_type: checksum.then_some(ChecksumType::FullObject),
            },
            object_lock_mode: stored.retention.as_ref().map(|r| r.0.clone()),
            object_lock_retain_until: stored.retention.as_ref().map(|r| r.1.clone()),
            object_lock_legal_hold: stored.legal_hold.clone(),
            storage_class: stored.storage_class.clone(),
            restore: stored.restored.then(|| ferry_s3::RestoreState {
                ongoing: false,
                expiry: Some("Fri, 01 Jan 2027 00:00:00 GMT".into()),
            }),
            ..Default::default()
        }
    }

    /// Changes the object `key` holds now (NoSuchBucket, NoSuchKey as S3 answers them).
    fn change(
        &self,
        op: &'static str,
        bucket: &str,
        key: &str,
        f: impl FnOnce(&mut Stored),
    ) -> Result<()> {
        let mut st = self.state.lock().unwrap();
        let b = st
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| service(op, 404, "NoSuchBucket"))?;
        f(b.get_mut(key)
            .ok_or_else(|| service(op, 404, "NoSuchKey"))?);
        Ok(())
    }
}

/// Reads a request body whole; a trailer's checksum must match the bytes.
async fn read_body(op: &'static str, body: Body) -> Result<Bytes> {
    let bad = |m: String| service(op, 400, &m);
    match body {
        Body::Bytes(b) => Ok(b),
        Body::Stream { length, mut stream } => {
            let mut out = Vec::with_capacity(length as usize);
            while let Some(c) = stream.next().await {
                out.extend_from_slice(&c.map_err(|e| bad(format!("IncompleteBody {e}")))?);
            }
            Ok(out.into())
        }
        Body::AwsChunked {
            decoded_length,
            mut stream,
            ..
        } => {
            let mut out = Vec::with_capacity(decoded_length as usize);
            while let Some(item) = stream.next().await {
                match item.map_err(|e| bad(format!("IncompleteBody {e}")))? {
                    ChunkItem::Data(d) => out.extend_from_slice(&d),
                    ChunkItem::Trailer(v) => {
                        if v.algorithm == ChecksumAlgorithm::Crc64Nvme && v != crc64(&out) {
                            return Err(bad("BadDigest".into()));
                        }
                    }
                }
            }
            if out.len() as u64 != decoded_length {
                return Err(bad("IncompleteBody".into()));
            }
            Ok(out.into())
        }
    }
}

impl ObjectClient for MemoryClient {
    fn endpoint(&self) -> String {
        "memory://".into()
    }

    async fn create_multipart_upload(
        &self,
        req: &CreateMultipartUploadRequest,
    ) -> Result<CreateMultipartUploadOutput> {
        let _f = self.begin("CreateMultipartUpload").await;
        let mut st = self.state.lock().unwrap();
        if !st.buckets.contains_key(&req.bucket) {
            return Err(service("CreateMultipartUpload", 404, "NoSuchBucket"));
        }
        st.next_id += 1;
        let id = format!("upload-{}", st.next_id);
        st.uploads.insert(
            id.clone(),
            Upload {
                bucket: req.bucket.clone(),
                key: req.key.clone(),
                parts: BTreeMap::new(),
            },
        );
        Ok(CreateMultipartUploadOutput { upload_id: id })
    }

    async fn upload_part(&self, req: UploadPartRequest) -> Result<UploadPartOutput> {
        let _f = self.begin("UploadPart").await;
        let part = Stored::new(read_body("UploadPart", req.body).await?);
        let etag = part.etag.clone();
        let mut st = self.state.lock().unwrap();
        let up = st
            .uploads
            .get_mut(&req.upload_id)
            .ok_or_else(|| service("UploadPart", 404, "NoSuchUpload"))?;
        up.parts.insert(req.part_number, part);
        Ok(UploadPartOutput {
            etag,
            checksum: None,
        })
    }

    async fn complete_multipart_upload(
        &self,
        req: &CompleteMultipartUploadRequest,
    ) -> Result<CompleteMultipartUploadOutput> {
        const OP: &str = "CompleteMultipartUpload";
        let _f = self.begin(OP).await;
        let mut st = self.state.lock().unwrap();
        let up = st
            .uploads
            .get(&req.upload_id)
            .ok_or_else(|| service(OP, 404, "NoSuchUpload"))?;
        let mut data = Vec::new();
        let mut md5s = Vec::new();
        let mut last = 0;
        for p in &req.parts {
            let stored = up
                .parts
                .get(&p.part_number)
                .filter(|s| s.etag.trim_matches('"') == p.etag.trim_matches('"'))
                .ok_or_else(|| service(OP, 400, "InvalidPart"))?;
            if p.part_number <= last {
                return Err(service(OP, 400, "InvalidPartOrder"));
            }
            last = p.part_number;
            data.extend_from_slice(&stored.data);
            md5s.extend(hex::decode(stored.etag.trim_matches('"')).unwrap());
        }
        if req.object_size.is_some_and(|s| s != data.len() as u64) {
            return Err(service(OP, 400, "InvalidRequest"));
        }
        if let Some(c) = &req.checksum
            && c.algorithm == ChecksumAlgorithm::Crc64Nvme
            && *c != crc64(&data)
        {
            return Err(service(OP, 400, "BadDigest"));
        }
        let etag = format!("\"{}-{}\"", md5_hex(&[&md5s]), req.parts.len());
        let (bucket, key) = (up.bucket.clone(), up.key.clone());
        st.uploads.remove(&req.upload_id);
        st.buckets.entry(bucket).or_default().insert(
            key,
            Stored {
                etag: etag.clone(),
                ..Stored::new(data.clone().into())
            },
        );
        Ok(CompleteMultipartUploadOutput {
            etag,
            version_id: None,
            checksum: Some(crc64(&data)),
            checksum_type: Some(ChecksumType::FullObject),
            location: None,
        })
    }

    async fn abort_multipart_upload(&self, req: &AbortMultipartUploadRequest) -> Result<()> {
        let _f = self.begin("AbortMultipartUpload").await;
        match self.state.lock().unwrap().uploads.remove(&req.upload_id) {
            Some(_) => Ok(()),
            None => Err(service("AbortMultipartUpload", 404, "NoSuchUpload")),
        }
    }

    async fn list_parts(&self, req: &ListPartsRequest) -> Result<ListPartsOutput> {
        let _f = self.begin("ListParts").await;
        let st = self.state.lock().unwrap();
        let up = st
            .uploads
            .get(&req.upload_id)
            .ok_or_else(|| service("ListParts", 404, "NoSuchUpload"))?;
        let from = req.part_number_marker.unwrap_or(0);
        let max = req.max_parts.unwrap_or(1000) as usize;
        let parts: Vec<PartInfo> = up
            .parts
            .range(from + 1..)
            .take(max)
            .map(|(n, s)| PartInfo {
                part_number: *n,
                etag: s.etag.clone(),
                size: s.data.len() as u64,
                last_modified: None,
                checksum: None,
            })
            .collect();
        let more = up.parts.range(from + 1..).count() > parts.len();
        Ok(ListPartsOutput {
            next_part_number_marker: more.then(|| parts.last().map(|p| p.part_number)).flatten(),
            parts,
            checksum_algorithm: None,
            checksum_type: None,
        })
    }

    async fn list_multipart_uploads(
        &self,
        req: &ListMultipartUploadsRequest,
    ) -> Result<ListMultipartUploadsOutput> {
        let _f = self.begin("ListMultipartUploads").await;
        let st = self.state.lock().unwrap();
        let uploads = st
            .uploads
            .iter()
            .filter(|(_, u)| {
                u.bucket == req.bucket && req.prefix.as_deref().is_none_or(|p| u.key.starts_with(p))
            })
            .map(|(id, u)| UploadInfo {
                key: u.key.clone(),
                upload_id: id.clone(),
                initiated: Some("2026-01-01T00:00:00Z".into()),
                storage_class: None,
            })
            .collect();
        Ok(ListMultipartUploadsOutput {
            uploads,
            is_truncated: false,
            next_key_marker: None,
            next_upload_id_marker: None,
        })
    }

    async fn list_objects(&self, req: &ListObjectsRequest) -> Result<ListObjectsOutput> {
        let _f = self.begin("ListObjectsV2").await;
        self.listing("ListObjectsV2", req)
    }

    /// As S3 lists a bucket never versioned: each object once, as version `null`, the
    /// latest. The key marker is the listing's continuation token.
    async fn list_object_versions(
        &self,
        req: &ListObjectVersionsRequest,
    ) -> Result<ListObjectVersionsOutput> {
        let _f = self.begin("ListObjectVersions").await;
        let page = self.listing(
            "ListObjectVersions",
            &ListObjectsRequest {
                bucket: req.bucket.clone(),
                prefix: req.prefix.clone(),
                delimiter: req.delimiter.clone(),
                continuation_token: req.key_marker.clone(),
                start_after: None,
                max_keys: req.max_keys,
                request: req.request.clone(),
            },
        )?;
        let versions = page.objects.into_iter().map(|object| ObjectVersion {
            object,
            version_id: "null".into(),
            is_latest: true,
            delete_marker: false,
        });
        Ok(ListObjectVersionsOutput {
            versions: versions.collect(),
            common_prefixes: page.common_prefixes,
            is_truncated: page.next_continuation_token.is_some(),
            next_version_id_marker: page.next_continuation_token.as_ref().map(|_| "null".into()),
            next_key_marker: page.next_continuation_token,
        })
    }

    async fn put_object(&self, req: PutObjectRequest) -> Result<PutObjectOutput> {
        let _f = self.begin("PutObject").await;
        let object = Stored::new(read_body("PutObject", req.body).await?);
        let etag = object.etag.clone();
        let mut st = self.state.lock().unwrap();
        let b = st
            .buckets
            .get_mut(&req.bucket)
            .ok_or_else(|| service("PutObject", 404, "NoSuchBucket"))?;
        if req.if_none_match && b.contains_key(&req.key) {
            return Err(service("PutObject", 412, "PreconditionFailed"));
        }
        let checksum = Some(crc64(&object.data));
        b.insert(req.key, object);
        Ok(PutObjectOutput {
            etag,
            version_id: None,
            checksum,
        })
    }

    async fn get_object(&self, req: &GetObjectRequest) -> Result<GetObjectOutput> {
        const OP: &str = "GetObject";
        let _f = self.begin(OP).await;
        let stored = self.get_stored(OP, &req.bucket, &req.key)?;
        if stored.unreadable() {
            return Err(service(OP, 403, "InvalidObjectState"));
        }
        if req
            .if_match
            .as_deref()
            .is_some_and(|e| e.trim_matches('"') != stored.etag.trim_matches('"'))
        {
            return Err(service(OP, 412, "PreconditionFailed"));
        }
        let total = stored.data.len() as u64;
        let mut meta = Self::meta(&stored, req.checksum_mode && req.range.is_none());
        let data = match req.range {
            Some(r) => {
                let last = r.last.min(total.saturating_sub(1));
                meta.content_range = Some(ContentRange {
                    range: ferry_s3::ByteRange {
                        first: r.first,
                        last,
                    },
                    total,
                });
                stored.data.slice(r.first as usize..=last as usize)
            }
            None => stored.data.clone(),
        };
        meta.content_length = data.len() as u64;
        let body = futures_util::stream::iter(vec![Ok(data)]);
        Ok(GetObjectOutput {
            meta,
            body: Box::pin(body),
        })
    }

    async fn head_object(&self, req: &GetObjectRequest) -> Result<ObjectMeta> {
        const OP: &str = "HeadObject";
        let _f = self.begin(OP).await;
        let stored = self.get_stored(OP, &req.bucket, &req.key)?;
        Ok(Self::meta(&stored, req.checksum_mode))
    }

    async fn create_bucket(&self, req: &CreateBucketRequest) -> Result<()> {
        let _f = self.begin("CreateBucket").await;
        self.bucket(&req.bucket);
        Ok(())
    }

    async fn delete_object(&self, req: &DeleteObjectRequest) -> Result<()> {
        const OP: &str = "DeleteObject";
        let _f = self.begin(OP).await;
        if let Some(b) = self.state.lock().unwrap().buckets.get_mut(&req.bucket) {
            // `If-Match` compares with the object there; S3 answers 404 for a missing one.
            if let Some(want) = req.if_match.as_deref() {
                match b.get(&req.key) {
                    None => return Err(service(OP, 404, "NoSuchKey")),
                    Some(o) if o.etag.trim_matches('"') != want.trim_matches('"') => {
                        return Err(service(OP, 412, "PreconditionFailed"));
                    }
                    Some(_) => {}
                }
            }
            b.remove(&req.key);
        }
        Ok(())
    }

    async fn delete_objects(&self, req: &DeleteObjectsRequest) -> Result<DeleteObjectsOutput> {
        let _f = self.begin("DeleteObjects").await;
        if let Some(b) = self.state.lock().unwrap().buckets.get_mut(&req.bucket) {
            // Its objects have one version each, `null`: another named is not there.
            for o in &req.objects {
                if o.version_id.as_deref().is_none_or(|v| v == "null") {
                    b.remove(&o.key);
                }
            }
        }
        Ok(DeleteObjectsOutput {
            deleted: req.objects.iter().map(|o| o.key.clone()).collect(),
            failed: Vec::new(),
        })
    }

    async fn upload_part_copy(&self, req: &UploadPartCopyRequest) -> Result<UploadPartCopyOutput> {
        const OP: &str = "UploadPartCopy";
        let _f = self.begin(OP).await;
        let source = self.get_stored(OP, &req.source.bucket, &req.source.key)?;
        if req
            .conditions
            .if_match
            .as_deref()
            .is_some_and(|e| e.trim_matches('"') != source.etag.trim_matches('"'))
        {
            return Err(service(OP, 412, "PreconditionFailed"));
        }
        let data = match req.source_range {
            Some(r) => source.data.slice(r.first as usize..=r.last as usize),
            None => source.data.clone(),
        };
        let part = Stored::new(data);
        let etag = part.etag.clone();
        let mut st = self.state.lock().unwrap();
        let up = st
            .uploads
            .get_mut(&req.upload_id)
            .ok_or_else(|| service(OP, 404, "NoSuchUpload"))?;
        up.parts.insert(req.part_number, part);
        Ok(UploadPartCopyOutput {
            etag,
            checksum: None,
        })
    }

    async fn copy_object(&self, req: &CopyObjectRequest) -> Result<CopyObjectOutput> {
        const OP: &str = "CopyObject";
        let _f = self.begin(OP).await;
        let source = self.get_stored(OP, &req.source.bucket, &req.source.key)?;
        let etag = source.etag.clone();
        let checksum = Some(crc64(&source.data));
        self.state
            .lock()
            .unwrap()
            .buckets
            .entry(req.bucket.clone())
            .or_default()
            .insert(req.key.clone(), source);
        Ok(CopyObjectOutput {
            etag,
            version_id: None,
            checksum,
        })
    }

    async fn get_object_attributes(
        &self,
        _req: &GetObjectAttributesRequest,
    ) -> Result<GetObjectAttributesOutput> {
        let _f = self.begin("GetObjectAttributes").await;
        Err(service("GetObjectAttributes", 501, "NotImplemented"))
    }

    async fn put_object_acl(&self, _req: &PutObjectAclRequest) -> Result<()> {
        let _f = self.begin("PutObjectAcl").await;
        Err(service("PutObjectAcl", 501, "NotImplemented"))
    }

    async fn get_object_acl(&self, _req: &GetObjectAclRequest) -> Result<AccessControlPolicy> {
        let _f = self.begin("GetObjectAcl").await;
        Err(service("GetObjectAcl", 501, "NotImplemented"))
    }

    async fn put_object_retention(&self, req: &PutObjectRetentionRequest) -> Result<()> {
        const OP: &str = "PutObjectRetention";
        let _f = self.begin(OP).await;
        let retention = (req.mode.as_str().to_string(), req.retain_until.clone());
        self.change(OP, &req.bucket, &req.key, |o| o.retention = Some(retention))
    }

    async fn put_object_legal_hold(&self, req: &PutObjectLegalHoldRequest) -> Result<()> {
        const OP: &str = "PutObjectLegalHold";
        let _f = self.begin(OP).await;
        let on = if req.on { "ON" } else { "OFF" };
        self.change(OP, &req.bucket, &req.key, |o| {
            o.legal_hold = Some(on.into())
        })
    }

    async fn restore_object(
        &self,
        req: &ferry_s3::RestoreObjectRequest,
    ) -> Result<ferry_s3::Restored> {
        const OP: &str = "RestoreObject";
        let _f = self.begin(OP).await;
        // S3 refuses to restore an object never archived; one restored is kept longer.
        let mut done = None;
        self.change(OP, &req.bucket, &req.key, |o| {
            if o.storage_class
                .as_deref()
                .is_some_and(ferry_s3::is_archived_class)
            {
                done = Some(match o.restored {
                    true => ferry_s3::Restored::Extended,
                    false => ferry_s3::Restored::Started,
                });
                o.restored = true;
            }
        })?;
        done.ok_or_else(|| service(OP, 403, "InvalidObjectState"))
    }

    async fn put_object_tagging(&self, _req: &PutObjectTaggingRequest) -> Result<()> {
        let _f = self.begin("PutObjectTagging").await;
        Ok(())
    }

    async fn get_object_tagging(
        &self,
        _req: &GetObjectTaggingRequest,
    ) -> Result<Vec<(String, String)>> {
        let _f = self.begin("GetObjectTagging").await;
        Ok(Vec::new())
    }
}
