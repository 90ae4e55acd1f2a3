//! The null sink: an S3 endpoint (on the `s3s` crate, in this process) that checks signatures
//! and checksums like a real server but stores nothing; GETs return deterministic bytes. It
//! measures what a client costs without a server eating both cores. For benchmarks.
//!
//! Per part it computes the checksum the upload declared (with s3s's own implementations,
//! not ferry's) and refuses a mismatch with its header or trailer value; on Complete it
//! builds the object's checksum from the parts (FULL_OBJECT by CRC combination, COMPOSITE from
//! the part digests) and refuses a mismatch with the value sent.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use futures_util::StreamExt;
use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};

/// Repeats a 1 MiB pattern: the content of every object the sink serves.
fn pattern() -> &'static Bytes {
    static P: std::sync::OnceLock<Bytes> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut v = Vec::with_capacity(1 << 20);
        while v.len() < 1 << 20 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v.extend_from_slice(&x.to_le_bytes());
        }
        Bytes::from(v)
    })
}

/// The sink's content for bytes `start..end` of any object.
pub fn null_sink_bytes(start: u64, end: u64) -> Vec<u8> {
    let p = pattern();
    (start..end)
        .map(|i| p[(i % p.len() as u64) as usize])
        .collect()
}

#[derive(Debug, Clone)]
struct Part {
    size: u64,
    raw: Vec<u8>,
}

#[derive(Debug, Default)]
struct Upload {
    algorithm: Option<String>,
    checksum_type: Option<String>,
    parts: BTreeMap<i32, Part>,
}

#[derive(Debug, Clone)]
struct Object {
    size: u64,
    etag: String,
    checksum: Option<(String, String)>,
    checksum_type: Option<String>,
}

/// The sink's state.
#[derive(Debug, Default)]
pub struct NullSink {
    uploads: Mutex<HashMap<String, Upload>>,
    objects: Mutex<HashMap<(String, String), Object>>,
    next: AtomicU64,
    /// Bytes received in request bodies.
    pub received: AtomicU64,
    /// Access control policies given in PutObjectAcl bodies (parsed by s3s from S3's XML),
    /// served back by GetObjectAcl: to check a policy body the way S3 reads it.
    acls: Mutex<HashMap<(String, String), AccessControlPolicy>>,
}

fn hasher_for(alg: Option<&str>) -> s3s::checksum::ChecksumHasher {
    let mut h = s3s::checksum::ChecksumHasher::default();
    match alg {
        Some("CRC32") => h.crc32 = Some(Default::default()),
        Some("CRC32C") => h.crc32c = Some(Default::default()),
        Some("CRC64NVME") => h.crc64nvme = Some(Default::default()),
        Some("SHA1") => h.sha1 = Some(Default::default()),
        Some("SHA256") => h.sha256 = Some(Default::default()),
        _ => {}
    }
    h
}

fn value_of(c: &Checksum, alg: &str) -> Option<String> {
    match alg {
        "CRC32" => c.checksum_crc32.clone(),
        "CRC32C" => c.checksum_crc32c.clone(),
        "CRC64NVME" => c.checksum_crc64nvme.clone(),
        "SHA1" => c.checksum_sha1.clone(),
        "SHA256" => c.checksum_sha256.clone(),
        _ => None,
    }
}

/// The algorithm a request declares: `x-amz-sdk-checksum-algorithm`, `x-amz-trailer`, or a
/// checksum header.
fn declared(headers: &http::HeaderMap) -> Option<String> {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    if let Some(a) = h("x-amz-sdk-checksum-algorithm") {
        return Some(a.to_ascii_uppercase());
    }
    if let Some(t) = h("x-amz-trailer") {
        return t
            .strip_prefix("x-amz-checksum-")
            .map(str::to_ascii_uppercase);
    }
    ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"]
        .into_iter()
        .find(|a| headers.contains_key(format!("x-amz-checksum-{a}").as_str()))
        .map(str::to_ascii_uppercase)
}

/// The value the client sent for `alg`, in a header or the trailer.
fn sent(
    headers: &http::HeaderMap,
    trailers: Option<&http::HeaderMap>,
    alg: &str,
) -> Option<String> {
    let name = format!("x-amz-checksum-{}", alg.to_ascii_lowercase());
    trailers
        .and_then(|t| t.get(name.as_str()))
        .or_else(|| headers.get(name.as_str()))
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// An ETag as s3s sends it (it adds the quotes).
fn strong(etag: &str) -> Option<ETag> {
    Some(ETag::Strong(etag.trim_matches('"').to_string()))
}

impl NullSink {
    /// Stores an object; its ETag, for the answer.
    fn store(&self, bucket: String, key: String, object: Object) -> Option<ETag> {
        let etag = strong(&object.etag);
        self.objects.lock().unwrap().insert((bucket, key), object);
        etag
    }

    fn etag(&self) -> String {
        format!("\"{:032x}\"", self.next.fetch_add(1, Ordering::Relaxed))
    }

    /// What is stored of an object, or NoSuchKey.
    fn object(&self, bucket: String, key: String) -> S3Result<Object> {
        self.objects
            .lock()
            .unwrap()
            .get(&(bucket, key))
            .cloned()
            .ok_or_else(|| s3_error!(NoSuchKey))
    }

    /// The checksum algorithm an upload was created with, or NoSuchUpload.
    fn upload_algorithm(&self, upload_id: &str) -> S3Result<Option<String>> {
        let uploads = self.uploads.lock().unwrap();
        let upload = uploads
            .get(upload_id)
            .ok_or_else(|| s3_error!(NoSuchUpload))?;
        Ok(upload.algorithm.clone())
    }

    /// Consumes a body, checksumming it with `alg`; checks the sent value.
    async fn consume(
        &self,
        body: Option<StreamingBlob>,
        headers: &http::HeaderMap,
        trailers: Option<s3s::TrailingHeaders>,
        alg: Option<&str>,
        mut md5: Option<&mut md5::Md5>,
    ) -> S3Result<(u64, Option<String>)> {
        let mut hasher = hasher_for(alg);
        let mut size = 0u64;
        if let Some(mut body) = body {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| s3_error!(IncompleteBody, "{e}"))?;
                size += chunk.len() as u64;
                hasher.update(&chunk);
                if let Some(m) = md5.as_deref_mut() {
                    md5::Digest::update(m, &chunk);
                }
            }
        }
        self.received.fetch_add(size, Ordering::Relaxed);
        let Some(alg) = alg else {
            return Ok((size, None));
        };
        let computed = value_of(&hasher.finalize(), alg);
        let trailers = trailers.and_then(|t| t.take());
        let expected = sent(headers, trailers.as_ref(), alg);
        if let (Some(e), Some(c)) = (&expected, &computed)
            && e != c
        {
            return Err(s3_error!(
                BadDigest,
                "the {alg} you sent does not match the body"
            ));
        }
        Ok((size, computed))
    }
}

fn combine(alg: &str, parts: &[&Part]) -> Option<Vec<u8>> {
    let crc = match alg {
        "CRC32" => crc_fast::CrcAlgorithm::Crc32IsoHdlc,
        "CRC32C" => crc_fast::CrcAlgorithm::Crc32Iscsi,
        "CRC64NVME" => crc_fast::CrcAlgorithm::Crc64Nvme,
        _ => return None,
    };
    let value = |raw: &[u8]| raw.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b));
    let mut acc = value(&parts.first()?.raw);
    for p in &parts[1..] {
        acc = crc_fast::checksum_combine(crc, acc, value(&p.raw), p.size);
    }
    Some(if alg == "CRC64NVME" {
        acc.to_be_bytes().to_vec()
    } else {
        (acc as u32).to_be_bytes().to_vec()
    })
}

/// Puts a checksum into an output that has the five `checksum_*` fields.
macro_rules! set_checksum {
    ($out:expr, $alg:expr, $value:expr) => {{
        let c = with_checksum($alg, $value);
        $out.checksum_crc32 = c.checksum_crc32;
        $out.checksum_crc32c = c.checksum_crc32c;
        $out.checksum_crc64nvme = c.checksum_crc64nvme;
        $out.checksum_sha1 = c.checksum_sha1;
        $out.checksum_sha256 = c.checksum_sha256;
    }};
}

fn with_checksum(alg: &str, value: String) -> Checksum {
    let mut c = Checksum::default();
    match alg {
        "CRC32" => c.checksum_crc32 = Some(value),
        "CRC32C" => c.checksum_crc32c = Some(value),
        "CRC64NVME" => c.checksum_crc64nvme = Some(value),
        "SHA1" => c.checksum_sha1 = Some(value),
        _ => c.checksum_sha256 = Some(value),
    }
    c
}

#[async_trait::async_trait]
impl S3 for NullSink {
    async fn put_object_acl(
        &self,
        req: S3Request<PutObjectAclInput>,
    ) -> S3Result<S3Response<PutObjectAclOutput>> {
        let i = req.input;
        let Some(policy) = i.access_control_policy else {
            return Err(s3_error!(
                NotImplemented,
                "the null sink keeps only policy bodies"
            ));
        };
        self.acls.lock().unwrap().insert((i.bucket, i.key), policy);
        Ok(S3Response::new(PutObjectAclOutput::default()))
    }

    async fn get_object_acl(
        &self,
        req: S3Request<GetObjectAclInput>,
    ) -> S3Result<S3Response<GetObjectAclOutput>> {
        let i = req.input;
        let acls = self.acls.lock().unwrap();
        let Some(policy) = acls.get(&(i.bucket, i.key)) else {
            return Err(s3_error!(NoSuchKey));
        };
        Ok(S3Response::new(GetObjectAclOutput {
            grants: policy.grants.clone(),
            owner: policy.owner.clone(),
            ..Default::default()
        }))
    }

    async fn create_bucket(
        &self,
        _req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        Ok(S3Response::new(CreateBucketOutput::default()))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let id = format!("sink-{}", self.next.fetch_add(1, Ordering::Relaxed));
        let upload = Upload {
            algorithm: req.input.checksum_algorithm.map(|a| a.as_str().to_string()),
            checksum_type: req.input.checksum_type.map(|t| t.as_str().to_string()),
            parts: BTreeMap::new(),
        };
        self.uploads.lock().unwrap().insert(id.clone(), upload);
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(req.input.bucket),
            key: Some(req.input.key),
            upload_id: Some(id),
            ..Default::default()
        }))
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let alg = self.upload_algorithm(&req.input.upload_id)?;
        let alg = alg.or_else(|| declared(&req.headers));
        let (size, computed) = self
            .consume(
                req.input.body,
                &req.headers,
                req.trailing_headers,
                alg.as_deref(),
                None,
            )
            .await?;
        let raw = computed
            .as_deref()
            .map(|c| B64.decode(c).unwrap_or_default())
            .unwrap_or_default();
        let mut uploads = self.uploads.lock().unwrap();
        let upload = uploads
            .get_mut(&req.input.upload_id)
            .ok_or_else(|| s3_error!(NoSuchUpload))?;
        upload
            .parts
            .insert(req.input.part_number, Part { size, raw });
        let mut out = UploadPartOutput {
            e_tag: strong(&self.etag()),
            ..Default::default()
        };
        if let (Some(a), Some(c)) = (alg.as_deref(), computed) {
            set_checksum!(out, a, c);
        }
        Ok(S3Response::new(out))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = req.input;
        let upload = self
            .uploads
            .lock()
            .unwrap()
            .remove(&input.upload_id)
            .ok_or_else(|| s3_error!(NoSuchUpload))?;
        let listed: Vec<i32> = input
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.part_number)
            .collect();
        if listed.is_empty() || listed.windows(2).any(|w| w[0] >= w[1]) {
            return Err(s3_error!(InvalidPartOrder));
        }
        let mut parts = Vec::with_capacity(listed.len());
        for n in &listed {
            parts.push(upload.parts.get(n).ok_or_else(|| s3_error!(InvalidPart))?);
        }
        let size: u64 = parts.iter().map(|p| p.size).sum();
        let mut checksum = None;
        if let Some(alg) = upload.algorithm.as_deref() {
            let value = if upload.checksum_type.as_deref() == Some("FULL_OBJECT") {
                B64.encode(combine(alg, &parts).ok_or_else(|| s3_error!(InvalidRequest))?)
            } else {
                let mut h = hasher_for(Some(alg));
                for p in &parts {
                    h.update(&p.raw);
                }
                format!(
                    "{}-{}",
                    value_of(&h.finalize(), alg).unwrap_or_default(),
                    parts.len()
                )
            };
            if let Some(sent) = sent(&req.headers, None, alg)
                && sent != value
            {
                return Err(s3_error!(BadDigest, "the object's {alg} does not match"));
            }
            checksum = Some((alg.to_string(), value));
        }
        let etag = format!(
            "\"{:032x}-{}\"",
            self.next.fetch_add(1, Ordering::Relaxed),
            parts.len()
        );
        let object = Object {
            size,
            etag,
            checksum,
            checksum_type: upload.checksum_type,
        };
        let e_tag = self.store(input.bucket.clone(), input.key.clone(), object);
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            e_tag,
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.uploads.lock().unwrap().remove(&req.input.upload_id);
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let alg = declared(&req.headers);
        // As S3: a single PUT's ETag is the body's MD5 (tools such as rclone compare it with
        // the file's).
        let mut md5 = <md5::Md5 as md5::Digest>::new();
        let (size, computed) = self
            .consume(
                req.input.body,
                &req.headers,
                req.trailing_headers,
                alg.as_deref(),
                Some(&mut md5),
            )
            .await?;
        let etag = format!("\"{}\"", hex::encode(md5::Digest::finalize(md5)));
        let object = Object {
            size,
            etag,
            checksum: alg.zip(computed),
            checksum_type: None,
        };
        Ok(S3Response::new(PutObjectOutput {
            e_tag: self.store(req.input.bucket, req.input.key, object),
            ..Default::default()
        }))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let after = input
            .continuation_token
            .clone()
            .or(input.start_after.clone())
            .unwrap_or_default();
        let max = input.max_keys.unwrap_or(1000).clamp(1, 1000) as usize;
        let objects = self.objects.lock().unwrap();
        let mut keys: Vec<(&String, &Object)> = objects
            .iter()
            .filter(|((b, k), _)| *b == input.bucket && k.starts_with(&prefix) && *k > after)
            .map(|((_, k), o)| (k, o))
            .collect();
        keys.sort_by(|a, b| a.0.cmp(b.0));
        let mut contents = Vec::new();
        let mut prefixes: Vec<String> = Vec::new();
        let mut last = None;
        for (k, o) in keys.iter().copied() {
            if contents.len() + prefixes.len() == max {
                break;
            }
            last = Some(k.clone());
            if let Some(d) = input.delimiter.as_deref()
                && let Some(i) = k[prefix.len()..].find(d)
            {
                let p = k[..prefix.len() + i + d.len()].to_string();
                if prefixes.last() != Some(&p) {
                    prefixes.push(p);
                }
                continue;
            }
            contents.push(s3s::dto::Object {
                key: Some(k.clone()),
                size: Some(o.size as i64),
                e_tag: strong(&o.etag),
                last_modified: Some(Timestamp::from(std::time::SystemTime::now())),
                ..Default::default()
            });
        }
        let truncated = last
            .as_ref()
            .is_some_and(|l| keys.last().is_some_and(|(k, _)| *k != l));
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: input.prefix,
            key_count: Some((contents.len() + prefixes.len()) as i32),
            max_keys: Some(max as i32),
            is_truncated: Some(truncated),
            next_continuation_token: if truncated { last } else { None },
            continuation_token: input.continuation_token,
            contents: Some(contents),
            common_prefixes: Some(
                prefixes
                    .into_iter()
                    .map(|p| CommonPrefix { prefix: Some(p) })
                    .collect(),
            ),
            ..Default::default()
        }))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let o = self.object(req.input.bucket, req.input.key)?;
        let mut out = HeadObjectOutput {
            content_length: Some(o.size as i64),
            // Tools such as the aws cli need it (to set the file's mtime).
            last_modified: Some(Timestamp::from(std::time::SystemTime::now())),
            e_tag: strong(&o.etag),
            checksum_type: o.checksum_type.map(ChecksumType::from),
            ..Default::default()
        };
        if let Some((alg, value)) = o.checksum {
            set_checksum!(out, &alg, value);
        }
        Ok(S3Response::new(out))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let o = self.object(req.input.bucket.clone(), req.input.key.clone())?;
        // As S3: `If-Match` with another ETag is 412.
        if let Some(m) = req.input.if_match.as_ref().and_then(|c| c.as_etag())
            && m.value() != o.etag.trim_matches('"')
        {
            return Err(s3_error!(PreconditionFailed));
        }
        let range = match req.input.range {
            Some(r) => r.check(o.size).map_err(|_| s3_error!(InvalidRange))?,
            None => 0..o.size,
        };
        let (start, end) = (range.start, range.end);
        let p = pattern().clone();
        let plen = p.len() as u64;
        let stream = futures_util::stream::unfold(start, move |pos| {
            let p = p.clone();
            async move {
                if pos >= end {
                    return None;
                }
                let off = pos % plen;
                let n = (plen - off).min(end - pos);
                let chunk = p.slice(off as usize..(off + n) as usize);
                Some((Ok::<_, std::io::Error>(chunk), pos + n))
            }
        });
        let mut out = GetObjectOutput {
            body: Some(StreamingBlob::wrap(stream)),
            last_modified: Some(Timestamp::from(std::time::SystemTime::now())),
            content_length: Some((end - start) as i64),
            content_range: req
                .input
                .range
                .map(|_| format!("bytes {}-{}/{}", start, end.saturating_sub(1), o.size)),
            e_tag: strong(&o.etag),
            ..Default::default()
        };
        // As S3: the object's checksum comes with a whole-object GET that asks for it, never
        // with a range.
        if req.input.range.is_none()
            && req.input.checksum_mode.is_some()
            && let Some((alg, value)) = o.checksum
        {
            set_checksum!(out, &alg, value);
            out.checksum_type = o.checksum_type.map(ChecksumType::from);
        }
        Ok(S3Response::new(out))
    }
}
