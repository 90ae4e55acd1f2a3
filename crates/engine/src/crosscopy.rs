//! A copy between two servers (or two sets of credentials), through ferry.
//!
//! When it can resume, it is a multipart upload whose parts come from ranged GETs of the
//! source, each pinned to the source's ETag, held while it is sent (in memory, or in an
//! unlinked temporary file when a part is larger than the memory budget), and journaled like a
//! file's: interrupted, the same copy again fetches only the parts the destination does not
//! hold. That needs a journal store and a source whose full-object checksum has the upload's
//! algorithm (CRC64NVME by default, as ferry and current AWS SDKs write): the parts'
//! checksums, combined, are then checked against it, so the source's bytes are checked as a
//! download checks them.
//!
//! Otherwise (no journal, a small object, a source with no such checksum) the source is
//! downloaded in ranges into a bounded pipe that the destination's upload reads as a stream of
//! known size: the download checks the source's bytes with what the source offers, and the
//! upload completes only after the download checked out. That cannot resume: a failure aborts
//! it.

use std::sync::Arc;

use bytes::BytesMut;
use ferry_s3::{
    ByteRange, ChecksumType, ClientErrorKind, GetObjectRequest, ObjectClient, ObjectMeta, S3Error,
};
use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;

use crate::checksum::ChecksumMode;
use crate::context::Context;
use crate::copy::{Copy, changed_during_copy, same_as_source};
use crate::download::{Download, DownloadSettings, Target, answered_range};
use crate::error::{Error, ErrorKind, Failure};
use crate::job::Job;
use crate::journal::SourceIdentity;
use crate::multipart::{Done, Part, PartSource, Start, start_or_resume};
use crate::outcome::UploadOutcome;
use crate::pipe::pipe;
use crate::plan::{Plan, plan};
use crate::upload::{
    FetchedPart, Source, Spill, Upload, file_part_memory, send_fetched_part, spill_error,
};

/// Copies `copy.from`, read through `source`, to `copy`'s destination through `ctx`.
pub(crate) async fn run<C: ObjectClient, D: ObjectClient>(
    ctx: Context<C>,
    source: Context<D>,
    mut copy: Copy,
) -> Result<UploadOutcome, Error> {
    crate::job::check(&copy.settings, &copy.options)?;
    copy.from = copy.from.pinned(&source, &copy.options.request).await?;
    let from = copy.from.clone();
    if copy.settings.remove_source {
        crate::moving::current_version(from.version_id.as_deref())?;
    }
    let mover = copy.settings.remove_source.then(|| source.clone());
    // The agreement to pay covers the source too (as on one server); the expected owner is
    // the destination's.
    let (head, meta) = from.head(&source, &copy.options.request).await?;
    from.carry(&source, &head, &meta, &mut copy.options).await?;
    from.keep(&meta, None, &mut copy.options);
    let outcome = write(ctx, source, copy, head.clone(), &meta).await?;
    from.finished(mover, &head, &meta, outcome).await
}

/// Writes the copy of the source `head` read (`meta`, as HeadObject described it).
async fn write<C: ObjectClient, D: ObjectClient>(
    ctx: Context<C>,
    source: Context<D>,
    copy: Copy,
    head: GetObjectRequest,
    meta: &ObjectMeta,
) -> Result<UploadOutcome, Error> {
    let from = &copy.from;
    let size = meta.content_length;
    let planned = plan(size, &copy.settings.plan).map_err(|e| Error::invalid(e.to_string()))?;
    let job = Arc::new(Job::new(
        ctx,
        copy.bucket,
        copy.key,
        copy.options,
        copy.settings,
        "copy",
    ));
    if matches!(planned, Plan::Single { .. })
        || job.ctx.shared.journal.is_none()
        || !checked_by_parts(job.mode(), meta)
    {
        return streamed(job, source, head, size).await;
    }
    let identity = SourceIdentity::remote(
        &source.shared.endpoint,
        (&from.bucket, &from.key),
        size,
        &meta.etag,
        from.version_id.as_deref(),
    );
    let get = GetObjectRequest {
        if_match: Some(meta.etag.clone()),
        checksum_mode: false,
        ..head
    };
    let parts: Arc<dyn PartSource<C>> = Arc::new(RemoteParts {
        source,
        get,
        url: from.url(),
        budget: job.ctx.shared.memory.total(),
    });
    let outcome = match start_or_resume(&job, identity, &parts).await? {
        Start::Resumed(outcome) => outcome,
        Start::Fresh(journal) => crate::multipart::run(job, planned, parts, Some(journal)).await?,
    };
    same_as_source(meta, outcome)
}

/// Whether the upload's checksum, combined from its parts, can be compared with the source's:
/// both full-object, of one algorithm.
fn checked_by_parts(mode: ChecksumMode, meta: &ObjectMeta) -> bool {
    let ChecksumMode::Additional(algorithm, ChecksumType::FullObject) = mode else {
        return false;
    };
    meta.checksum.checksum_type != Some(ChecksumType::Composite)
        && meta
            .checksum
            .value
            .as_ref()
            .is_some_and(|v| v.algorithm == algorithm && !v.value.contains('-'))
}

/// The copy as a download into a pipe that an upload of known size reads.
async fn streamed<C: ObjectClient, D: ObjectClient>(
    job: Arc<Job<C>>,
    source: Context<D>,
    head: GetObjectRequest,
    size: u64,
) -> Result<UploadOutcome, Error> {
    // Taken before the source is read; the stream's upload then takes nothing more.
    job.allowed(size)?;
    let ctx = Context {
        allowance: None,
        ..job.ctx.clone()
    };
    let (writer, reader, end) = pipe(8);
    let part_size = job.settings.plan.part_size.unwrap_or(16 << 20);
    let mut download = Download::new(&head.bucket, &head.key, Target::Writer(Box::new(writer)));
    download.version_id = head.version_id.clone();
    download.request = head.request.clone();
    download.settings = DownloadSettings {
        range_size: part_size.clamp(1 << 20, 64 << 20),
        resume: false,
        ..Default::default()
    };
    let fed = tokio::spawn(async move {
        let r = crate::download::run(source, download).await;
        match &r {
            Ok(_) => end.finish(),
            Err(e) => end.fail(format!("reading the source: {e}")).await,
        }
        r
    });
    let stream = Source::Reader {
        reader: Box::new(reader),
        size: Some(size),
    };
    let upload = Upload::new(stream, job.bucket.clone(), job.key.clone())
        .options(job.options.clone())
        .settings(crate::job::UploadSettings {
            // The copy deletes its source, not the upload (a stream).
            remove_source: false,
            ..job.settings.clone()
        });
    let result = crate::upload::run_as(ctx, upload, "copy").await;
    let read = fed.await;
    // The download's own error says more than the upload's "the stream failed".
    match (result, read) {
        (Err(_), Ok(Err(e))) if e.kind() == ErrorKind::Verification => {
            let told = format!("{e}; nothing was stored at s3://{}/{}", job.bucket, job.key);
            Err(e.with_message(told))
        }
        (Err(_), Ok(Err(e))) => Err(e),
        (r, _) => r,
    }
}

/// The source object as a source of parts: each part a ranged GET pinned to its ETag, held
/// while it is sent.
struct RemoteParts<D> {
    source: Context<D>,
    /// The GET of the object (its version, SSE-C key and ETag), without a range.
    get: GetObjectRequest,
    url: String,
    /// The memory budget: a part larger than this is held in a temporary file. (Decided part
    /// by part, as a resumed copy goes on with its journal's part size, whatever was asked.)
    budget: u64,
}

impl<D> RemoteParts<D> {
    /// Whether a part of `len` bytes is held in a temporary file, not in memory.
    fn spills(&self, len: u64) -> bool {
        len > self.budget
    }
}

impl<C: ObjectClient, D: ObjectClient> PartSource<C> for RemoteParts<D> {
    fn memory(&self, len: u64) -> u64 {
        if self.spills(len) {
            file_part_memory(len)
        } else {
            len
        }
    }

    fn send(&self, job: &Arc<Job<C>>, part: Part) -> BoxFuture<'static, Result<Done, Error>> {
        let (job, source, get, url, spill) = (
            job.clone(),
            self.source.clone(),
            self.get.clone(),
            self.url.clone(),
            self.spills(part.len),
        );
        Box::pin(async move {
            let data = fetch(&source, &get, part.offset, part.len, spill)
                .await
                .map_err(|f| match f {
                    Failure::S3(e) if e.status() == Some(412) => {
                        changed_during_copy(&url, get.if_match.as_deref().unwrap_or_default(), e)
                    }
                    Failure::Local(e) => {
                        spill_error(&format!("holding part {} of {url}", part.number), e)
                    }
                    f => job.failed(format!("reading part {} from {url}", part.number), f),
                })?;
            send_fetched_part(job, part.upload_id, part.number, data).await
        })
    }
}

/// The `len` bytes at `first` of the object `get` reads (into a temporary file when `spill`),
/// retried; a changed object fails with 412 (its ETag is the condition). (The source's reads
/// are not paced: the part's upload is, so the copy counts once against a bandwidth limit.)
async fn fetch<D: ObjectClient>(
    source: &Context<D>,
    get: &GetObjectRequest,
    first: u64,
    len: u64,
    spill: bool,
) -> Result<FetchedPart, Failure> {
    let req = &GetObjectRequest {
        range: Some(ByteRange {
            first,
            last: first + len - 1,
        }),
        ..get.clone()
    };
    source
        .retrying(None, |_| async move {
            let out = source.client().get_object(req).await?;
            answered_range(&out.meta, first, len, false)?;
            let mut data = PartBytes::new(spill, len).map_err(Failure::Local)?;
            let mut body = out.body;
            while let Some(chunk) = body.next().await {
                let chunk = chunk?;
                if data.len() + chunk.len() as u64 > len {
                    return Err(Failure::S3(S3Error::client(
                        "GetObject",
                        ClientErrorKind::InvalidResponse,
                        format!("more than the {len} bytes asked for"),
                    )));
                }
                data.write(&chunk).map_err(Failure::Local)?;
            }
            if data.len() != len {
                return Err(Failure::S3(S3Error::client(
                    "GetObject",
                    ClientErrorKind::BodyCutShort,
                    format!("the body ended after {} of {len} bytes", data.len()),
                )));
            }
            Ok(data.into_fetched())
        })
        .await
}

/// Where one attempt's bytes of a part land.
enum PartBytes {
    Memory(BytesMut),
    Spilled(Spill),
}

impl PartBytes {
    fn new(spill: bool, len: u64) -> std::io::Result<Self> {
        Ok(if spill {
            PartBytes::Spilled(Spill::new()?)
        } else {
            PartBytes::Memory(BytesMut::with_capacity(len as usize))
        })
    }

    fn len(&self) -> u64 {
        match self {
            PartBytes::Memory(b) => b.len() as u64,
            PartBytes::Spilled(s) => s.len(),
        }
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            PartBytes::Memory(b) => b.extend_from_slice(bytes),
            PartBytes::Spilled(s) => s.write(bytes)?,
        }
        Ok(())
    }

    fn into_fetched(self) -> FetchedPart {
        match self {
            PartBytes::Memory(b) => FetchedPart::Memory(b.freeze()),
            PartBytes::Spilled(s) => FetchedPart::Spilled(s),
        }
    }
}
