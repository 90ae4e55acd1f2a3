//! The plan of one huge upload split across workers: made once (the multipart upload
//! created, the plan written as a small JSON object), read by every worker and by the finish.
//! Each worker leaves a record of its parts beside the plan.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use ferry_s3::{
    ChecksumAlgorithm, ChecksumType, DeleteObjectRequest, GetObjectRequest, ObjectClient,
    ObjectOptions, RequestOptions,
};
use serde::{Deserialize, Serialize};

use super::Shard;
use crate::checksum::ChecksumMode;
use crate::context::Context;
use crate::copy::ObjectSource;
use crate::download::{Download, Target};
use crate::error::{Error, ErrorKind};
use crate::job::{Job, UploadSettings};
use crate::journal::{SourceIdentity, timestamp};
use crate::plan::{Plan, PlanConfig};
use crate::upload::{Source, Upload};

/// What the plan's format is called, and its version.
const KIND: &str = "ferry-shard-plan";
const VERSION: u32 = 1;

/// A plan: `ferry plan` writes it, workers and `ferry finish` read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardPlan {
    /// Always `ferry-shard-plan`.
    pub kind: String,
    /// The format's version.
    pub version: u32,
    /// Where the plan itself is stored.
    pub plan_bucket: String,
    /// Its key.
    pub plan_key: String,
    /// The object being written.
    pub bucket: String,
    /// Its key.
    pub key: String,
    /// The multipart upload.
    pub upload_id: String,
    /// The source: a path every worker can read, or for a copy the object's `s3://` URL.
    #[serde(with = "crate::journal::os_path")]
    pub source: PathBuf,
    /// For a copy: the source object's ETag, which every part copy is pinned to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_etag: Option<String>,
    /// Its size in bytes when planned.
    pub size: u64,
    /// Its modification time when planned, in nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Bytes per part (the last may be shorter).
    pub part_size: u64,
    /// Parts in all.
    pub parts: u32,
    /// Workers.
    pub shards: u32,
    /// The checksum each part carries and the object's: always CRC64NVME, FULL_OBJECT.
    pub checksum: String,
    /// Each worker's parts, first and last (numbers from 1), by index.
    pub shard_parts: Vec<[u32; 2]>,
}

impl ShardPlan {
    /// The multipart plan the parts follow.
    pub(crate) fn plan(&self) -> Plan {
        Plan::Multipart {
            size: self.size,
            part_size: self.part_size,
            parts: self.parts,
        }
    }

    /// For a copy, the object copied.
    pub(crate) fn object_source(&self) -> Option<ObjectSource> {
        self.source_etag.as_ref()?;
        let url = self.source.to_string_lossy();
        let (bucket, key) = url.strip_prefix("s3://")?.split_once('/')?;
        Some(ObjectSource::new(bucket, key))
    }

    /// `upload` or `copy`, for messages.
    pub(crate) fn noun(&self) -> &'static str {
        if self.source_etag.is_some() {
            "copy"
        } else {
            "upload"
        }
    }

    /// Where worker `index` records its parts.
    pub fn record_key(&self, index: u32) -> String {
        format!("{}.shard-{index}", self.plan_key)
    }

    /// The plan's location, `s3://bucket/key`.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.plan_bucket, self.plan_key)
    }

    /// Settings for the upload's parts: the plan's part size, CRC64NVME full-object.
    pub(crate) fn settings(&self) -> UploadSettings {
        UploadSettings {
            plan: PlanConfig {
                part_size: Some(self.part_size),
                ..Default::default()
            },
            checksum: ChecksumMode::Additional(
                ChecksumAlgorithm::Crc64Nvme,
                ChecksumType::FullObject,
            ),
            ..Default::default()
        }
    }

    /// A job writing the plan's object, carrying `options`.
    pub(crate) fn job<C: ObjectClient>(
        &self,
        ctx: &Context<C>,
        options: ObjectOptions,
    ) -> Arc<Job<C>> {
        Arc::new(Job::new(
            ctx.clone(),
            self.bucket.clone(),
            self.key.clone(),
            options,
            self.settings(),
            self.noun(),
        ))
    }

    /// Whether the file `identity` describes is still the one planned. (A worker may reach it
    /// by another path, where the shared storage is mounted elsewhere.)
    pub(crate) fn check_source(&self, identity: &SourceIdentity) -> Result<(), Error> {
        if identity.size == self.size && identity.mtime_ns == self.mtime_ns {
            return Ok(());
        }
        let (planned, given) = (self.source.display(), identity.path.display());
        let was = format!("{} bytes, modified {}", self.size, timestamp(self.mtime_ns));
        let is = format!(
            "{} bytes, modified {}",
            identity.size,
            timestamp(identity.mtime_ns)
        );
        let differs = if identity.path == self.source {
            format!("it was {was}, and is now {is}")
        } else {
            format!("{planned} was {was}; {given} is {is}")
        };
        Err(Error::new(
            ErrorKind::SourceChanged,
            format!(
                "{given} is not the file planned in {}: {differs}. The upload would mix two \
                 versions; plan again",
                self.url()
            ),
        ))
    }
}

/// What a worker sent (or found already sent) for its parts: each part's number, size and
/// CRC64NVME, computed from the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// The worker's index.
    pub shard: u32,
    /// The source's size and mtime as the worker saw them.
    pub size: u64,
    /// Its modification time, in nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Its parts.
    pub parts: Vec<RecordedPart>,
}

/// One part as its worker left it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RecordedPart {
    /// Part number.
    pub number: u32,
    /// Size.
    pub size: u64,
    /// Base64 CRC64NVME, computed from the source.
    pub crc64nvme: String,
    /// The ETag the server gave it (quotes included).
    pub etag: String,
}

/// What a plan reads.
#[derive(Debug, Clone)]
pub enum PlanSource {
    /// A file, at a path every worker can read.
    File(PathBuf),
    /// An object the server copies, part by part (UploadPartCopy ranges).
    Object(ObjectSource),
}

/// `ferry plan FILE|s3://… s3://bucket/key --shards N`: what to plan.
#[derive(Debug, Clone)]
pub struct PlanUpload {
    /// The file or object.
    pub source: PlanSource,
    /// The object.
    pub bucket: String,
    /// Its key.
    pub key: String,
    /// Workers.
    pub shards: u32,
    /// Part size (else ferry's default for the file's size).
    pub part_size: Option<u64>,
    /// What the object carries.
    pub options: ObjectOptions,
    /// Where the plan goes (else beside the object: `KEY.ferry-plan`). The bucket's terms
    /// in `options.request` (expected owner, requester pays) go to it too; its workers and
    /// finish are given them again ([`PlanWork::request`](super::PlanWork::request)).
    pub plan_bucket: Option<String>,
    /// Its key.
    pub plan_key: Option<String>,
}

impl PlanUpload {
    /// A plan of `source` to `bucket`/`key` for `shards` workers, with defaults.
    pub fn new(source: impl Into<PathBuf>, bucket: &str, key: &str, shards: u32) -> Self {
        Self::of(PlanSource::File(source.into()), bucket, key, shards)
    }

    /// A plan of a copy of `from` to `bucket`/`key` for `shards` workers, with defaults.
    pub fn copy(from: ObjectSource, bucket: &str, key: &str, shards: u32) -> Self {
        Self::of(PlanSource::Object(from), bucket, key, shards)
    }

    fn of(source: PlanSource, bucket: &str, key: &str, shards: u32) -> Self {
        Self {
            source,
            bucket: bucket.to_string(),
            key: key.to_string(),
            shards,
            part_size: None,
            options: ObjectOptions::default(),
            plan_bucket: None,
            plan_key: None,
        }
    }
}

/// Creates the upload and writes the plan.
pub(crate) async fn create<C: ObjectClient>(
    ctx: Context<C>,
    p: PlanUpload,
) -> Result<ShardPlan, Error> {
    if p.shards == 0 {
        return Err(Error::invalid("a plan needs at least one worker"));
    }
    // Neither the copy's key nor its source's (which the copy would keep, see
    // ObjectSource::keep).
    let source_key =
        matches!(&p.source, PlanSource::Object(from) if from.sse_customer_key.is_some());
    if p.options.request.sse_customer_key.is_some() || source_key {
        return Err(Error::invalid(
            "an SSE-C key cannot be planned: every worker's part would need it, and a plan holds no secrets",
        ));
    }
    let mut options = p.options;
    let terms = options.request.bucket_terms();
    let (source, size, mtime_ns, source_etag) = match &p.source {
        PlanSource::File(path) => {
            let identity =
                SourceIdentity::of(path).map_err(|e| Error::unreadable("read", path, e))?;
            (path.clone(), identity.size, identity.mtime_ns, None)
        }
        PlanSource::Object(from) => {
            let (head, meta) = from.head(&ctx, &options.request).await?;
            // A multipart copy is a new object: it carries what the source has (with COPY).
            from.carry(&ctx, &head, &meta, &mut options).await?;
            from.keep(&meta, Some(&p.bucket), &mut options);
            let url = PathBuf::from(from.url());
            (url, meta.content_length, 0, Some(meta.etag))
        }
    };
    let config = PlanConfig {
        part_size: p.part_size,
        multipart_threshold: 0,
        ..Default::default()
    };
    let Plan::Multipart {
        size,
        part_size,
        parts,
    } = crate::plan::plan(size, &config).map_err(|e| Error::invalid(e.to_string()))?
    else {
        return Err(Error::invalid(format!(
            "{} is empty: nothing to split",
            source.display()
        )));
    };
    if p.shards > parts {
        return Err(Error::invalid(format!(
            "{} workers for {parts} parts: give at most {parts} workers, or a smaller part size",
            p.shards
        )));
    }
    let mut plan = ShardPlan {
        kind: KIND.into(),
        version: VERSION,
        plan_bucket: p.plan_bucket.unwrap_or_else(|| p.bucket.clone()),
        plan_key: p.plan_key.unwrap_or_else(|| key_beside(&p.key)),
        bucket: p.bucket,
        key: p.key,
        upload_id: String::new(),
        source,
        source_etag,
        size,
        mtime_ns,
        part_size,
        parts,
        shards: p.shards,
        checksum: "CRC64NVME FULL_OBJECT".into(),
        shard_parts: (0..p.shards)
            .map(|index| {
                let r = Shard {
                    index,
                    count: p.shards,
                }
                .parts(parts);
                [*r.start(), *r.end()]
            })
            .collect(),
    };
    let job = plan.job(&ctx, options);
    plan.upload_id = crate::multipart::create(&job).await?.to_string();
    let body = serde_json::to_vec_pretty(&plan).expect("a plan serializes");
    if let Err(e) = put(&ctx, &plan.plan_bucket, &plan.plan_key, body, &terms).await {
        job.abort_or_warn(&plan.upload_id).await;
        return Err(e);
    }
    Ok(plan)
}

/// What a plan's key ends with, beside its object.
const PLAN_SUFFIX: &str = ".ferry-plan";

/// Where a plan of `key` goes unless told otherwise: beside it, `KEY.ferry-plan`.
fn key_beside(key: &str) -> String {
    format!("{key}{PLAN_SUFFIX}")
}

/// The plan beside `bucket`/`key` (where a plan goes unless told otherwise), if there is one
/// and it is the plan of upload `upload_id`, read in the bucket's `terms`. One that cannot be
/// read counts as none.
pub(crate) async fn beside<C: ObjectClient>(
    ctx: &Context<C>,
    bucket: &str,
    key: &str,
    upload_id: &str,
    terms: &RequestOptions,
) -> Option<ShardPlan> {
    let plan_key = key_beside(key);
    // Most uploads have none: one HeadObject says so (a read's 404 costs another request,
    // which asks whether a prefix was meant).
    let head = GetObjectRequest {
        bucket: bucket.to_string(),
        key: plan_key.clone(),
        request: terms.clone(),
        ..Default::default()
    };
    ctx.request(None, |c| c.head_object(&head)).await.ok()?;
    let plan = read(ctx, bucket, &plan_key, terms).await.ok()?;
    (plan.upload_id == upload_id && plan.bucket == bucket && plan.key == key).then_some(plan)
}

/// Removes the plan and its workers' records, quietly where they are gone already.
pub(crate) async fn remove_plan<C: ObjectClient>(
    ctx: &Context<C>,
    plan: &ShardPlan,
    terms: &RequestOptions,
) {
    for index in 0..plan.shards {
        remove(ctx, &plan.plan_bucket, &plan.record_key(index), terms).await;
    }
    remove(ctx, &plan.plan_bucket, &plan.plan_key, terms).await;
}

/// Writes a small object, in the bucket's `terms`.
pub(crate) async fn put<C: ObjectClient>(
    ctx: &Context<C>,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    terms: &RequestOptions,
) -> Result<(), Error> {
    let mut upload = Upload::new(Source::Bytes(Bytes::from(body)), bucket, key);
    upload.options = ObjectOptions::in_terms(terms);
    crate::upload::run(ctx.child(), upload).await.map(|_| ())
}

/// Reads a small object in the bucket's `terms`, or `None` when there is none.
pub(crate) async fn get<C: ObjectClient>(
    ctx: &Context<C>,
    bucket: &str,
    key: &str,
    terms: &RequestOptions,
) -> Result<Option<Bytes>, Error> {
    let mut download = Download::new(bucket, key, Target::Memory);
    download.request = terms.clone();
    let read = crate::download::run(ctx.child(), download).await;
    match read {
        Ok(o) => Ok(o.data),
        Err(e) if e.s3().and_then(|s| s.status()) == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Removes an object (a plan or a record), quietly when it is gone already.
pub(crate) async fn remove<C: ObjectClient>(
    ctx: &Context<C>,
    bucket: &str,
    key: &str,
    terms: &RequestOptions,
) {
    let req = DeleteObjectRequest {
        bucket: bucket.to_string(),
        key: key.to_string(),
        request: terms.clone(),
        ..Default::default()
    };
    if let Err(f) = ctx.request(None, |c| c.delete_object(&req)).await {
        tracing::warn!(
            "could not delete s3://{bucket}/{key}: {}",
            f.into_error("deleting", "finish")
        );
    }
}

/// Reads the plan at `bucket`/`key`, in the bucket's `terms`.
pub(crate) async fn read<C: ObjectClient>(
    ctx: &Context<C>,
    bucket: &str,
    key: &str,
    terms: &RequestOptions,
) -> Result<ShardPlan, Error> {
    let url = format!("s3://{bucket}/{key}");
    let bytes = get(ctx, bucket, key, terms).await?.ok_or_else(|| {
        // An object's own URL given for its plan's: name where its plan would be.
        let hint = if key.ends_with(PLAN_SUFFIX) {
            String::new()
        } else {
            format!(
                "; the plan of s3://{bucket}/{key}, if it has one, is s3://{bucket}/{}",
                key_beside(key)
            )
        };
        Error::invalid(format!(
            "no plan at {url} (finished already, given up, or never made){hint}"
        ))
    })?;
    let plan: ShardPlan = serde_json::from_slice(&bytes)
        .map_err(|e| Error::invalid(format!("{url} is not a ferry plan: {e}")))?;
    if plan.kind != KIND || plan.version != VERSION {
        return Err(Error::invalid(format!(
            "{url} is a {} plan of version {}; this ferry reads {KIND} version {VERSION}",
            plan.kind, plan.version
        )));
    }
    Ok(plan)
}
