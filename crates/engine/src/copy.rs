//! Server-side copies of one object to another key on the same server: no byte passes
//! through ferry. CopyObject for an object under the multipart threshold (at most 5 GiB),
//! else a multipart upload whose parts are UploadPartCopy ranges of the source (a
//! [`PartSource`] beside files and streams). Every request is pinned to the source's ETag
//! with `x-amz-copy-source-if-match`. A multipart copy makes a new object, so the source's
//! content headers, metadata and tags are read and carried over unless the caller replaces
//! them. Journaled and resumed as file uploads are; the source's URL, size, ETag and version
//! are its identity.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ferry_s3::{
    ByteRange, ChecksumType, ChecksumValue, CompletedPart, CopyConditions, CopyObjectRequest,
    CopySource, Directive, GetObjectRequest, GetObjectTaggingRequest, ObjectClient, ObjectMeta,
    ObjectOptions, S3Error, ServerSideEncryption, SseCustomerKey, UploadPartCopyRequest,
};
use futures_util::future::BoxFuture;
use tracing::warn;

use crate::checksum::{ChecksumMode, Digest};
use crate::context::Context;
use crate::error::{Error, ErrorKind, Failure};
use crate::job::{Job, UploadSettings};
use crate::journal::{PartRecord, SourceIdentity};
use crate::multipart::{Done, Part, PartSource, Start, start_or_resume};
use crate::outcome::{UploadOutcome, Verification};
use crate::plan::{Plan, plan};
use crate::progress::Event;
use crate::verify::{Written, verify_written};

/// The largest object CopyObject copies in one request.
const COPY_OBJECT_MAX: u64 = 5 * 1024 * 1024 * 1024;

/// A copy of an object to `bucket`/`key` on the same server.
#[derive(Debug, Clone)]
pub struct Copy {
    /// What to copy.
    pub from: ObjectSource,
    /// Destination bucket.
    pub bucket: String,
    /// Destination key.
    pub key: String,
    /// What the new object carries: its storage class, ACL, encryption always (with none
    /// named, an SSE-C source's copy keeps its key, and a copy in the source's bucket its
    /// SSE-KMS key); its content headers, metadata and tags only with
    /// [`Directive::Replace`] (else the source's, and its website redirect).
    pub options: ObjectOptions,
    /// How to copy (part size, checksum, no-clobber, restart, …).
    pub settings: UploadSettings,
}

impl Copy {
    /// A copy of `from` to `bucket`/`key`, with default options and settings.
    pub fn new(from: ObjectSource, bucket: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            from,
            bucket: bucket.into(),
            key: key.into(),
            options: ObjectOptions::default(),
            settings: UploadSettings::default(),
        }
    }
}

/// The object a copy reads.
#[derive(Debug, Clone, Default)]
pub struct ObjectSource {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// A specific version.
    pub version_id: Option<String>,
    /// The version current at this time (see [`crate::Download::as_of`]), instead of
    /// `version_id`. By default (`None`), the object as it is now.
    pub as_of: Option<std::time::SystemTime>,
    /// The source's SSE-C key (the destination's goes in the copy's options).
    pub sse_customer_key: Option<SseCustomerKey>,
    /// `Copy` (default): the new object takes the source's content headers, metadata and
    /// tags; `Replace`: it takes those of the copy's options.
    pub metadata_directive: Directive,
    /// `Copy` (default): with the `Copy` metadata directive, the new object takes the source's
    /// tags too, which needs s3:GetObjectTagging on the source; `Replace`: it takes the copy's
    /// options' tags (none by default), and the source's are not read.
    pub tagging_directive: Directive,
    /// Copy only while the source's ETag is this one (as a listing or a comparison found it):
    /// a source written since fails the copy with
    /// [`ErrorKind::SourceChanged`](crate::ErrorKind::SourceChanged), before anything is
    /// written. By default (`None`), whatever the source holds when the copy begins.
    pub if_match: Option<String>,
}

impl ObjectSource {
    /// The object `bucket`/`key`.
    pub fn new(bucket: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            key: key.into(),
            ..Default::default()
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// This source pinned to a version: the one current at `as_of`, when it is given, found
    /// through `ctx` (see [`Self::head`] for `request`).
    pub(crate) async fn pinned<C: ObjectClient>(
        self,
        ctx: &Context<C>,
        request: &ferry_s3::RequestOptions,
    ) -> Result<Self, Error> {
        let Some(at) = self.as_of else {
            return Ok(self);
        };
        if self.version_id.is_some() {
            return Err(Error::invalid(format!(
                "the source {}: a copy names its version by its id or by a time, not both",
                self.url()
            )));
        }
        let request = ferry_s3::RequestOptions {
            expected_bucket_owner: None,
            ..request.clone()
        };
        let version = crate::as_of::version_at(ctx, &self.bucket, &self.key, &request, at, "copy")
            .await
            .map_err(|e| Error::new(e.kind(), format!("the source: {e}")))?;
        Ok(Self {
            version_id: Some(version),
            as_of: None,
            ..self
        })
    }

    /// Ends a copy of this source: `outcome` names the version read where one was asked
    /// for, and for a move (`through`, the source's server), the source that `outcome`'s
    /// object now holds is deleted, if it is still the version HeadObject described (`meta`;
    /// `head`, the request that read it).
    pub(crate) async fn finished<D: ObjectClient>(
        &self,
        through: Option<Context<D>>,
        head: &GetObjectRequest,
        meta: &ObjectMeta,
        outcome: UploadOutcome,
    ) -> Result<UploadOutcome, Error> {
        let outcome = UploadOutcome {
            source_version_id: self.version_id.clone(),
            ..outcome
        };
        let Some(ctx) = through else {
            return Ok(outcome);
        };
        let moved = crate::moving::Moved {
            bucket: &self.bucket,
            key: &self.key,
            etag: &meta.etag,
            request: &head.request,
        };
        let to = format!("s3://{}/{}", outcome.bucket, outcome.key);
        crate::moving::remove_object(&ctx, moved, &to).await?;
        Ok(UploadOutcome {
            source_removed: true,
            ..outcome
        })
    }

    /// With the COPY directive, the source's content headers, metadata (as `meta` gives them)
    /// and tags (read through `ctx`) into a new object's `options`: what a copy that makes a
    /// new object carries over.
    pub(crate) async fn carry<C: ObjectClient>(
        &self,
        ctx: &Context<C>,
        head: &GetObjectRequest,
        meta: &ObjectMeta,
        options: &mut ObjectOptions,
    ) -> Result<(), Error> {
        if self.metadata_directive != Directive::Copy {
            return Ok(());
        }
        copy_metadata(meta, options);
        if self.tagging_directive != Directive::Copy {
            return Ok(());
        }
        options.tagging = tags_of(ctx, head)
            .await
            .map_err(|f| f.into_error(format!("reading the tags of {}", self.url()), "copy"))?;
        Ok(())
    }

    /// What the source has and S3 does not copy, into the `options` of a copy that do not
    /// name their own. S3 stores a copy sent without encryption headers as the destination
    /// bucket's default (SSE-S3 unless set otherwise) and never copies a website redirect,
    /// whatever the directive; so, silently, a copy lost:
    /// - an SSE-C source's customer key (the copy readable without it): the key that read the
    ///   source goes on, on any bucket or server;
    /// - an SSE-KMS or DSSE-KMS key, when the copy stays in the source's own bucket (an
    ///   object moved to another storage class in place, or renamed). In another bucket
    ///   (`in_bucket` `None`, or perhaps another region, where the key is unknown) that
    ///   bucket's default applies, as S3 does it;
    /// - with the COPY directive, the website redirect.
    pub(crate) fn keep(
        &self,
        meta: &ObjectMeta,
        in_bucket: Option<&str>,
        options: &mut ObjectOptions,
    ) {
        if self.metadata_directive == Directive::Copy {
            keep_redirect(meta, options);
        }
        if options.sse.is_some() || options.request.sse_customer_key.is_some() {
            return;
        }
        let alg = meta.server_side_encryption.as_deref().unwrap_or_default();
        if meta.sse_customer_key_md5.is_some() {
            options
                .request
                .sse_customer_key
                .clone_from(&self.sse_customer_key);
        } else if ferry_s3::is_kms(alg) && in_bucket == Some(self.bucket.as_str()) {
            options.sse = Some(ServerSideEncryption::Kms {
                key_id: meta.sse_kms_key_id.clone(),
                context: None,
                bucket_key: meta.sse_bucket_key_enabled.filter(|on| *on),
                dual_layer: alg == "aws:kms:dsse",
            });
        }
    }

    /// HeadObject of the source, with its checksum, retried. `request` is the copy's (the
    /// destination's): its agreement to pay covers the source too, its expected owner does
    /// not (the source may be another account's).
    pub(crate) async fn head<C: ObjectClient>(
        &self,
        ctx: &Context<C>,
        request: &ferry_s3::RequestOptions,
    ) -> Result<(GetObjectRequest, ObjectMeta), Error> {
        let head = GetObjectRequest {
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            version_id: self.version_id.clone(),
            checksum_mode: true,
            request: ferry_s3::RequestOptions {
                sse_customer_key: self.sse_customer_key.clone(),
                expected_bucket_owner: None,
                request_payer: request.request_payer,
            },
            ..Default::default()
        };
        let url = self.url();
        let meta = ctx.head_object(&head).await.map_err(|h| {
            h.into_error(&url, |f| match f {
                Failure::S3(e) if e.status() == Some(404) && e.code() != Some("NoSuchBucket") => {
                    Error::new(
                        ErrorKind::Service,
                        format!("the source {url} does not exist: {e}"),
                    )
                    .with_source(e)
                }
                f => f.into_error(format!("reading the source {url}"), "copy"),
            })
        })?;
        if meta.is_archived() {
            return Err(Error::archived(format!("the source {url}")));
        }
        let bare = |e: &str| e.trim_matches('"').to_string();
        if let Some(want) = self
            .if_match
            .as_deref()
            .filter(|w| bare(w) != bare(&meta.etag))
        {
            return Err(Error::new(
                ErrorKind::SourceChanged,
                format!(
                    "the source {url} changed: its ETag is {}, where {want} was expected",
                    meta.etag
                ),
            ));
        }
        Ok((head, meta))
    }
}

/// A copy's source, as read when the copy began.
#[derive(Debug)]
struct CopyState {
    source: CopySource,
    key: Option<SseCustomerKey>,
    /// The ETag every request is pinned to.
    etag: String,
    directive: Directive,
    /// Whether the source's tags go with it (see [`ObjectSource::tagging_directive`]).
    tagging: Directive,
    /// The source's full-object checksum, if it has one.
    checksum: Option<ChecksumValue>,
}

impl CopyState {
    /// The state of a copy of `from`, as HeadObject described it (`meta`).
    fn of(from: &ObjectSource, meta: &ObjectMeta) -> Self {
        Self {
            source: CopySource {
                bucket: from.bucket.clone(),
                key: from.key.clone(),
                version_id: from.version_id.clone(),
            },
            key: from.sse_customer_key.clone(),
            etag: meta.etag.clone(),
            directive: from.metadata_directive,
            tagging: from.tagging_directive,
            checksum: full_object_checksum(meta).cloned(),
        }
    }

    fn conditions(&self) -> CopyConditions {
        CopyConditions {
            if_match: Some(self.etag.clone()),
            ..Default::default()
        }
    }

    fn url(&self) -> String {
        format!("s3://{}/{}", self.source.bucket, self.source.key)
    }

    /// The error for a failed copy request: a 412 means the source changed.
    fn error<C: ObjectClient>(&self, job: &Job<C>, context: String, f: Failure) -> Error {
        match f {
            Failure::S3(e) if e.status() == Some(412) => {
                changed_during_copy(&self.url(), &self.etag, e)
            }
            Failure::S3(e)
                if e.status() == Some(501)
                    && job.options.request.sse_customer_key.is_some()
                    && e.service().is_some_and(|s| s.operation == "UploadPartCopy") =>
            {
                let why = "the server does not copy parts under a customer key (SSE-C), \
                           which S3 does; a part size above the object's size copies it in one \
                           CopyObject";
                let failed = job.failed(context, Failure::S3(e));
                let message = format!("{failed}; {why}");
                failed.with_message(message)
            }
            f => job.failed(context, f),
        }
    }
}

/// Copies `copy` in `ctx`.
pub(crate) async fn run<C: ObjectClient>(
    ctx: Context<C>,
    mut copy: Copy,
) -> Result<UploadOutcome, Error> {
    crate::job::check(&copy.settings, &copy.options)?;
    let from = copy.from.pinned(&ctx, &copy.options.request).await?;
    if copy.settings.remove_source {
        crate::moving::current_version(from.version_id.as_deref())?;
        if (from.bucket.as_str(), from.key.as_str()) == (copy.bucket.as_str(), copy.key.as_str()) {
            return Err(crate::moving::refuse(&format!(
                "{} onto itself would delete it",
                from.url()
            )));
        }
    }
    let mover = copy.settings.remove_source.then(|| ctx.clone());
    let (head, meta) = from.head(&ctx, &copy.options.request).await?;
    from.keep(&meta, Some(&copy.bucket), &mut copy.options);
    let size = meta.content_length;
    let state = Arc::new(CopyState::of(&from, &meta));
    // CopyObject copies at most 5 GiB.
    let threshold = &mut copy.settings.plan.multipart_threshold;
    *threshold = (*threshold).min(COPY_OBJECT_MAX + 1);
    let plan = plan(size, &copy.settings.plan).map_err(|e| Error::invalid(e.to_string()))?;
    let multipart = !matches!(plan, Plan::Single { .. });
    if multipart {
        // A multipart copy is a new object: it carries what the source has (with COPY).
        from.carry(&ctx, &head, &meta, &mut copy.options).await?;
    }
    let (bucket, key) = (copy.bucket, copy.key);
    let job = Arc::new(Job::new(
        ctx,
        bucket,
        key,
        copy.options,
        copy.settings,
        "copy",
    ));
    let parts: Arc<dyn PartSource<C>> = Arc::new(CopyParts(state.clone()));
    let journal = if job.ctx.shared.journal.is_some() && multipart {
        let identity =
            SourceIdentity::object(&from.url(), size, &meta.etag, from.version_id.as_deref());
        match start_or_resume(&job, identity, &parts).await? {
            Start::Resumed(outcome) => {
                let outcome = same_as_source(&meta, outcome)?;
                return from.finished(mover, &head, &meta, outcome).await;
            }
            Start::Fresh(journal) => Some(journal),
        }
    } else {
        None
    };
    let outcome = match plan {
        Plan::Single { size } => {
            job.planned_single(size);
            job.allowed(size)?;
            copy_single(&job, &state, size).await?
        }
        Plan::Multipart { .. } => crate::multipart::run(job, plan, parts, journal).await?,
    };
    let outcome = same_as_source(&meta, outcome)?;
    from.finished(mover, &head, &meta, outcome).await
}

/// The source's content headers, metadata and website redirect (as HeadObject gave them),
/// into a new object's options: what a copy that makes a new object carries over. A
/// redirect the options name already stays.
pub fn copy_metadata(meta: &ObjectMeta, options: &mut ObjectOptions) {
    options.content = meta.content.clone();
    options.metadata = meta.metadata.clone();
    keep_redirect(meta, options);
}

/// The source's website redirect into a copy's `options`, unless they name one: CopyObject
/// never copies it, not even with the COPY directive, so a copy that keeps what the source
/// has sends it again.
fn keep_redirect(meta: &ObjectMeta, options: &mut ObjectOptions) {
    if options.website_redirect.is_none() {
        options.website_redirect.clone_from(&meta.website_redirect);
    }
}

/// An object's tags; none from a server that keeps no tags (it answers 501).
pub async fn object_tags<C: ObjectClient>(
    client: &C,
    req: &GetObjectTaggingRequest,
) -> Result<Vec<(String, String)>, S3Error> {
    match client.get_object_tagging(req).await {
        Err(e) if e.status() == Some(501) => {
            warn!(
                "s3://{}/{}: the server keeps no tags: {e}",
                req.bucket, req.key
            );
            Ok(Vec::new())
        }
        other => other,
    }
}

/// An object's tags, with retries, in `ctx`.
pub(crate) async fn tags_of<C: ObjectClient>(
    ctx: &Context<C>,
    head: &GetObjectRequest,
) -> Result<Vec<(String, String)>, Failure> {
    let req = GetObjectTaggingRequest {
        bucket: head.bucket.clone(),
        key: head.key.clone(),
        version_id: head.version_id.clone(),
        request: head.request.clone(),
    };
    ctx.request(None, |c| object_tags(c, &req)).await
}

/// The object's checksum, if it is a full-object one (comparable whatever the part layout).
fn full_object_checksum(meta: &ObjectMeta) -> Option<&ChecksumValue> {
    meta.checksum.value.as_ref().filter(|v| {
        meta.checksum.checksum_type != Some(ChecksumType::Composite) && !v.value.contains('-')
    })
}

/// A copy whose source has a full-object checksum is checked against it: the server computed
/// the copy's from the bytes it copied.
pub(crate) fn same_as_source(
    meta: &ObjectMeta,
    outcome: UploadOutcome,
) -> Result<UploadOutcome, Error> {
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

/// A copy assembled from parts the server reported no checksum for (so none was combined):
/// its own full-object checksum, read with HeadObject (in the bucket's `terms`), must be its
/// source's (`meta`), when both have one of the same algorithm; the outcome then says so.
pub(crate) async fn checked_against_source<C: ObjectClient>(
    ctx: &Context<C>,
    meta: &ObjectMeta,
    mut outcome: UploadOutcome,
    terms: &ferry_s3::RequestOptions,
) -> Result<UploadOutcome, Error> {
    let outcome_checked = matches!(outcome.verification, Verification::Checksum(_));
    let Some(source) = full_object_checksum(meta).filter(|_| !outcome_checked) else {
        return same_as_source(meta, outcome);
    };
    let written = ObjectSource::new(&outcome.bucket, &outcome.key);
    let (_, now) = written.head(ctx, terms).await?;
    match full_object_checksum(&now) {
        Some(mine) if mine.algorithm == source.algorithm && mine.value == source.value => {
            outcome.verification = Verification::Checksum(mine.clone());
            Ok(outcome)
        }
        Some(mine) if mine.algorithm == source.algorithm => Err(Error::new(
            ErrorKind::Verification,
            format!(
                "the copy {} has {} {}, its source {}",
                written.url(),
                mine.algorithm,
                mine.value,
                source.value
            ),
        )),
        _ => Ok(outcome),
    }
}

/// The object `from` as a source of UploadPartCopy parts pinned to ETag `etag` (what a
/// plan's workers copy), or the error that it is no longer that object; and what HeadObject
/// (agreeing to pay as `request` does) said of it.
pub(crate) async fn pinned_parts<C: ObjectClient>(
    ctx: &Context<C>,
    from: &ObjectSource,
    etag: &str,
    size: u64,
    request: &ferry_s3::RequestOptions,
) -> Result<(Arc<dyn PartSource<C>>, ObjectMeta), Error> {
    let (_, meta) = from.head(ctx, request).await?;
    if meta.etag != etag || meta.content_length != size {
        return Err(Error::new(
            ErrorKind::SourceChanged,
            format!(
                "{} is no longer the object planned (ETag {etag}, {size} bytes; now {}, {} bytes): plan again",
                from.url(),
                meta.etag,
                meta.content_length
            ),
        ));
    }
    let state = Arc::new(CopyState::of(from, &meta));
    Ok((Arc::new(CopyParts(state)), meta))
}

/// The source object as a source of parts: each part an UploadPartCopy of its range.
struct CopyParts(Arc<CopyState>);

impl<C: ObjectClient> PartSource<C> for CopyParts {
    fn memory(&self, _len: u64) -> u64 {
        // No bytes pass through ferry.
        0
    }

    fn send(&self, job: &Arc<Job<C>>, part: Part) -> BoxFuture<'static, Result<Done, Error>> {
        Box::pin(copy_part(job.clone(), self.0.clone(), part))
    }
}

/// The error of a request pinned to `etag` of `url` that failed with 412: the source changed.
pub(crate) fn changed_during_copy(url: &str, etag: &str, e: S3Error) -> Error {
    Error::new(
        ErrorKind::Changed,
        format!(
            "{url} changed during the copy (it is no longer ETag {etag}); run again to copy the \
             new version"
        ),
    )
    .with_source(e)
}

/// Copies one part with UploadPartCopy, retrying under the same part number.
async fn copy_part<C: ObjectClient>(
    job: Arc<Job<C>>,
    state: Arc<CopyState>,
    part: Part,
) -> Result<Done, Error> {
    let (number, offset, len) = (part.number, part.offset, part.len);
    let progress = &job.ctx.progress;
    progress.part_started();
    job.ctx
        .emit_kept(Event::PartStarted {
            part: number,
            size: len,
        })
        .await;
    let req = UploadPartCopyRequest {
        bucket: job.bucket.clone(),
        key: job.key.clone(),
        upload_id: part.upload_id.to_string(),
        part_number: number,
        source: state.source.clone(),
        source_range: (len > 0).then(|| ByteRange {
            first: offset,
            last: offset + len - 1,
        }),
        conditions: state.conditions(),
        source_sse_customer_key: state.key.clone(),
        request: job.options.request.clone(),
    };
    let result = job
        .ctx
        .request(Some(number), |c| c.upload_part_copy(&req))
        .await;
    let out = match result {
        Ok(o) => o,
        Err(f) => {
            progress.part_ended(false);
            let context = format!("copying part {number} of {} to {}", state.url(), job.url());
            return Err(state.error(&job, context, f));
        }
    };
    let checksum = match (job.mode(), out.checksum) {
        (ChecksumMode::Additional(a, _), Some(c)) if c.algorithm == a => Some(c),
        _ => None,
    };
    let digest = checksum
        .as_ref()
        .and_then(|c| B64.decode(&c.value).ok())
        .map(|raw| Digest { raw, len });
    job.record(&PartRecord {
        part: number,
        size: len,
        etag: out.etag.clone(),
        crc64nvme: String::new(),
        checksum: checksum.as_ref().map(|c| c.value.clone()),
    })
    .inspect_err(|_| progress.part_ended(false))?;
    progress.add_bytes(len);
    progress.part_ended(true);
    job.ctx
        .emit_kept(Event::PartFinished {
            part: number,
            size: len,
            etag: out.etag.clone(),
        })
        .await;
    Ok(Done {
        part: CompletedPart {
            part_number: number,
            etag: out.etag,
            checksum,
        },
        digest,
    })
}

/// CopyObject: an object under the multipart threshold, in one request.
async fn copy_single<C: ObjectClient>(
    job: &Arc<Job<C>>,
    state: &CopyState,
    size: u64,
) -> Result<UploadOutcome, Error> {
    // CopyObject takes no If-None-Match: look first (a multipart copy's Complete does send
    // it, and is exact).
    job.refuse_existing(false).await?;
    // The source's tags go only with both directives COPY and no tags of the copy's own.
    let own_tags = state.directive == Directive::Replace || state.tagging == Directive::Replace;
    let req = CopyObjectRequest {
        bucket: job.bucket.clone(),
        key: job.key.clone(),
        source: state.source.clone(),
        conditions: state.conditions(),
        metadata_directive: Some(state.directive),
        tagging_directive: Some(if own_tags || !job.options.tagging.is_empty() {
            Directive::Replace
        } else {
            Directive::Copy
        }),
        options: job.options.clone(),
        source_sse_customer_key: state.key.clone(),
    };
    let progress = &job.ctx.progress;
    progress.part_started();
    let out = job.ctx.request(Some(1), |c| c.copy_object(&req)).await;
    progress.part_ended(out.is_ok());
    let out = out.map_err(|f| {
        let context = format!("copying {} to {}", state.url(), job.url());
        state.error(job, context, f)
    })?;
    progress.add_bytes(size);
    let written = Written {
        size,
        expected: state.checksum.clone(),
        checksum_type: None,
        parts: 1,
        etag: out.etag,
        version_id: out.version_id,
    };
    verify_written(job, written, out.checksum, "as it copied").await
}
