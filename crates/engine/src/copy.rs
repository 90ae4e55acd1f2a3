//! Server-side copies (`Source::Object`): the upload engine with UploadPartCopy for parts
//! (CopyObject for an object under the multipart threshold), every request pinned to the
//! source's ETag with `x-amz-copy-source-if-match`. A multipart copy makes a new object, so the
//! source's content headers, metadata and tags are read and carried over unless the caller
//! replaces them. Journaled and resumed as file uploads are; the source's ETag is its identity.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ferry_s3::{
    ByteRange, ChecksumType, ChecksumValue, CompletedPart, CopyConditions, CopyObjectRequest,
    CopySource, Directive, GetObjectRequest, GetObjectTaggingRequest, ObjectClient, ObjectMeta,
    ObjectOptions, S3Error, SseCustomerKey, UploadPartCopyRequest,
};

use tracing::warn;

use crate::checksum::{ChecksumMode, Digest};
use crate::error::{Error, ErrorKind};
use crate::journal::{PartRecord, SourceIdentity};
use crate::plan::{Plan, plan};
use crate::progress::{Event, UploadOutcome, Verification};
use crate::source::PartData;
use crate::upload::{Done, Job, PartsOf, run_journaled, run_known, verify};

/// The largest object CopyObject copies in one request.
const COPY_OBJECT_MAX: u64 = 5 * 1024 * 1024 * 1024;

/// The object a copy reads (on the server it is copied to).
#[derive(Debug, Clone, Default)]
pub struct ObjectSource {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// A specific version.
    pub version_id: Option<String>,
    /// The source's SSE-C key (the destination's goes in the upload's options).
    pub sse_customer_key: Option<SseCustomerKey>,
    /// `Copy` (default): the new object takes the source's content headers, metadata and
    /// tags; `Replace`: it takes those of the upload's options.
    pub metadata_directive: Directive,
}

/// A copy's source, as read when the copy began.
#[derive(Debug)]
pub(crate) struct CopyState {
    source: CopySource,
    key: Option<SseCustomerKey>,
    /// The ETag every request is pinned to.
    etag: String,
    directive: Directive,
    /// The source's full-object checksum, if it has one.
    checksum: Option<ChecksumValue>,
}

impl CopyState {
    fn conditions(&self) -> CopyConditions {
        CopyConditions {
            if_match: Some(self.etag.clone()),
            ..Default::default()
        }
    }

    fn url(&self) -> String {
        format!("s3://{}/{}", self.source.bucket, self.source.key)
    }
}

/// The error for a failed copy request: a 412 means the source changed.
fn copy_error(state: &CopyState, context: String, e: S3Error) -> Error {
    if e.service().is_some_and(|s| s.status == 412) {
        return Error::new(
            ErrorKind::Changed,
            format!(
                "{} changed during the copy (it is no longer ETag {}); run again to copy the new version",
                state.url(),
                state.etag
            ),
        )
        .with_source(e);
    }
    Error::from_s3(context, e)
}

/// Copies `from` to the job's destination.
pub(crate) async fn run_copy<C: ObjectClient>(
    job: Arc<Job<C>>,
    from: ObjectSource,
) -> Result<UploadOutcome, Error> {
    let url = format!("s3://{}/{}", from.bucket, from.key);
    let head = GetObjectRequest {
        bucket: from.bucket.clone(),
        key: from.key.clone(),
        version_id: from.version_id.clone(),
        checksum_mode: true,
        request: ferry_s3::RequestOptions {
            sse_customer_key: from.sse_customer_key.clone(),
            ..job.options.request.clone()
        },
        ..Default::default()
    };
    let meta = job
        .retrying(None, |_| {
            let (job, head) = (job.clone(), head.clone());
            async move { job.client.head_object(&head).await }
        })
        .await
        .map_err(|e| {
            if e.service().is_some_and(|s| s.status == 404) && e.code() != Some("NoSuchBucket") {
                Error::new(
                    ErrorKind::Service,
                    format!("the source {url} does not exist: {e}"),
                )
                .with_source(e)
            } else {
                Error::from_s3(format!("reading the source {url}"), e)
            }
        })?;
    let size = meta.content_length;
    let state = CopyState {
        source: CopySource {
            bucket: from.bucket.clone(),
            key: from.key.clone(),
            version_id: from.version_id.clone(),
        },
        key: from.sse_customer_key.clone(),
        etag: meta.etag.clone(),
        directive: from.metadata_directive,
        checksum: full_object_checksum(&meta).cloned(),
    };
    let mut config = job.config.clone();
    // CopyObject copies at most 5 GiB.
    config.plan.multipart_threshold = config.plan.multipart_threshold.min(COPY_OBJECT_MAX + 1);
    let plan =
        plan(size, &config.plan).map_err(|e| Error::new(ErrorKind::InvalidInput, e.to_string()))?;
    let mut options = job.options.clone();
    if from.metadata_directive == Directive::Copy && !matches!(plan, Plan::Single { .. }) {
        // A multipart copy is a new object: carry the source's headers, metadata and tags.
        copy_metadata(&meta, &mut options);
        options.tagging = source_tags(&job, &state, &head).await?;
    }
    let job = Arc::new(job.with_copy(config, options, state));
    let parts_of: PartsOf = Arc::new(|offset, len| PartData::Copy { offset, len });
    let outcome = match job.config.resume.clone() {
        Some(resume) => {
            let identity = SourceIdentity::object(&url, size, &meta.etag);
            run_journaled(job.clone(), identity, parts_of, &resume).await?
        }
        None => run_known(job.clone(), plan, parts_of, None).await?,
    };
    same_as_source(&meta, outcome)
}

/// The source's content headers and metadata (as HeadObject gave them), into a new object's
/// options: what a copy that makes a new object carries over.
pub fn copy_metadata(meta: &ObjectMeta, options: &mut ObjectOptions) {
    options.content_type = meta.content_type.clone();
    options.content_encoding = meta.content_encoding.clone();
    options.content_disposition = meta.content_disposition.clone();
    options.content_language = meta.content_language.clone();
    options.cache_control = meta.cache_control.clone();
    options.expires = meta.expires.clone();
    options.metadata = meta.metadata.clone();
}

/// An object's tags; none from a server that keeps no tags (it answers 501).
pub async fn object_tags<C: ObjectClient>(
    client: &C,
    req: &GetObjectTaggingRequest,
) -> Result<Vec<(String, String)>, S3Error> {
    match client.get_object_tagging(req).await {
        Err(e) if e.service().is_some_and(|s| s.status == 501) => {
            warn!(
                "s3://{}/{}: the server keeps no tags: {e}",
                req.bucket, req.key
            );
            Ok(Vec::new())
        }
        other => other,
    }
}

/// The source's tags, with retries.
async fn source_tags<C: ObjectClient>(
    job: &Arc<Job<C>>,
    state: &CopyState,
    head: &GetObjectRequest,
) -> Result<Vec<(String, String)>, Error> {
    let req = GetObjectTaggingRequest {
        bucket: head.bucket.clone(),
        key: head.key.clone(),
        version_id: head.version_id.clone(),
        request: head.request.clone(),
    };
    job.retrying(None, |_| {
        let (job, req) = (job.clone(), req.clone());
        async move { object_tags(job.client.as_ref(), &req).await }
    })
    .await
    .map_err(|e| Error::from_s3(format!("reading the tags of {}", state.url()), e))
}

/// The object's checksum, if it is a full-object one (comparable whatever the part layout).
fn full_object_checksum(meta: &ObjectMeta) -> Option<&ChecksumValue> {
    meta.checksum.value.as_ref().filter(|v| {
        meta.checksum.checksum_type != Some(ChecksumType::Composite) && !v.value.contains('-')
    })
}

/// A copy whose source has a full-object checksum is checked against it: the server computed
/// the copy's from the bytes it copied.
fn same_as_source(meta: &ObjectMeta, outcome: UploadOutcome) -> Result<UploadOutcome, Error> {
    let Some(source) = full_object_checksum(meta) else {
        return Ok(outcome);
    };
    if let Verification::Checksum(mine) = &outcome.verification
        && mine.algorithm == source.algorithm
        && mine.value != source.value
    {
        return Err(Error::new(
            ErrorKind::Verification,
            format!(
                "the copy s3://{}/{} has {} {}, its source {}",
                outcome.bucket, outcome.key, mine.algorithm, mine.value, source.value
            ),
        ));
    }
    Ok(outcome)
}

impl<C: ObjectClient> Job<C> {
    fn copy_state(&self) -> &CopyState {
        self.copy.as_deref().expect("a copy job")
    }

    /// Copies one part with UploadPartCopy, retrying under the same part number.
    pub(crate) async fn copy_part(
        self: Arc<Self>,
        upload_id: Arc<str>,
        number: u32,
        offset: u64,
        len: u64,
    ) -> Result<Done, Error> {
        let state = self.copy_state();
        self.progress.part_started();
        self.emit(Event::PartStarted {
            part: number,
            size: len,
        });
        let req = UploadPartCopyRequest {
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            upload_id: upload_id.to_string(),
            part_number: number,
            source: state.source.clone(),
            source_range: (len > 0).then(|| ByteRange {
                first: offset,
                last: offset + len - 1,
            }),
            conditions: state.conditions(),
            source_sse_customer_key: state.key.clone(),
            request: self.options.request.clone(),
        };
        let result = self
            .retrying(Some(number), |_| {
                let (job, req) = (self.clone(), req.clone());
                async move { job.client.upload_part_copy(&req).await }
            })
            .await;
        let out = match result {
            Ok(o) => o,
            Err(e) => {
                self.progress.part_ended(false);
                if self.cancel.is_cancelled() {
                    return Err(self.part_error(Some(number), e));
                }
                return Err(copy_error(
                    state,
                    format!(
                        "copying part {number} of {} to s3://{}/{}",
                        state.url(),
                        self.bucket,
                        self.key
                    ),
                    e,
                ));
            }
        };
        let checksum = match (self.config.checksum, out.checksum) {
            (ChecksumMode::Additional(a, _), Some(c)) if c.algorithm == a => Some(c),
            _ => None,
        };
        let digest = checksum
            .as_ref()
            .and_then(|c| B64.decode(&c.value).ok())
            .map(|raw| Digest { raw, len });
        self.record(&PartRecord {
            part: number,
            size: len,
            etag: out.etag.clone(),
            crc64nvme: String::new(),
            checksum: checksum.as_ref().map(|c| c.value.clone()),
        })
        .inspect_err(|_| self.progress.part_ended(false))?;
        self.progress.add_bytes(len);
        self.progress.part_ended(true);
        self.emit(Event::PartFinished {
            part: number,
            size: len,
            etag: out.etag.clone(),
        });
        Ok(Done {
            part: CompletedPart {
                part_number: number,
                etag: out.etag,
                checksum,
            },
            digest,
        })
    }
}

/// CopyObject: an object under the multipart threshold, in one request.
pub(crate) async fn copy_single<C: ObjectClient>(
    job: &Arc<Job<C>>,
    size: u64,
) -> Result<UploadOutcome, Error> {
    let state = job.copy_state();
    if job.config.no_clobber {
        // CopyObject takes no If-None-Match: look first (a multipart copy's Complete does
        // send it, and is exact).
        let head = GetObjectRequest {
            bucket: job.bucket.clone(),
            key: job.key.clone(),
            request: job.options.request.clone(),
            ..Default::default()
        };
        match job.client.head_object(&head).await {
            Ok(_) => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "s3://{}/{} exists and --no-clobber was given",
                        job.bucket, job.key
                    ),
                ));
            }
            Err(e) if e.service().is_some_and(|s| s.status == 404) => {}
            Err(e) => {
                return Err(Error::from_s3(
                    format!("checking s3://{}/{}", job.bucket, job.key),
                    e,
                ));
            }
        }
    }
    let replace = state.directive == Directive::Replace;
    let req = CopyObjectRequest {
        bucket: job.bucket.clone(),
        key: job.key.clone(),
        source: state.source.clone(),
        conditions: state.conditions(),
        metadata_directive: Some(state.directive),
        tagging_directive: Some(if replace || !job.options.tagging.is_empty() {
            Directive::Replace
        } else {
            Directive::Copy
        }),
        options: job.options.clone(),
        source_sse_customer_key: state.key.clone(),
    };
    job.progress.part_started();
    let out = job
        .retrying(Some(1), |_| {
            let (job, req) = (job.clone(), req.clone());
            async move { job.client.copy_object(&req).await }
        })
        .await;
    job.progress.part_ended(out.is_ok());
    let out = out.map_err(|e| {
        if job.cancel.is_cancelled() {
            Error::new(ErrorKind::Cancelled, "the copy was cancelled")
        } else {
            copy_error(
                state,
                format!("copying {} to s3://{}/{}", state.url(), job.bucket, job.key),
                e,
            )
        }
    })?;
    job.progress.add_bytes(size);
    verify(
        job,
        size,
        state.checksum.clone(),
        None,
        1,
        out.etag,
        out.version_id,
    )
    .await
}

impl SourceIdentity {
    /// The identity of an S3 object a copy reads: its URL, size and ETag.
    pub fn object(url: &str, size: u64, etag: &str) -> Self {
        Self {
            path: url.into(),
            size,
            mtime_ns: 0,
            ctime_ns: 0,
            inode: 0,
            device: 0,
            etag: Some(etag.to_string()),
        }
    }
}
