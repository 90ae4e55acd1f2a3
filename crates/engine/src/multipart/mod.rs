//! Multipart uploads, whatever feeds them: the [`PartSource`] each kind of source implements
//! (a file, bytes in memory, an object copied on the server; a stream feeds the same parts in
//! order), parts run through the shared pool, and the end: CompleteMultipartUpload with the
//! whole object's checksum and size, or, after a failure, keeping the upload for resume or
//! aborting it (see [`FailurePolicy`](crate::job::FailurePolicy)).
//!
//! Creating an upload (and cleaning up after a lost Create reply) is `create`; resuming one a
//! journal describes is `resume`.

mod create;
mod resume;

use std::sync::Arc;

use ferry_s3::{
    ChecksumType, CompleteMultipartUploadRequest, CompletedPart, ObjectClient, PartInfo,
};
use futures_util::future::BoxFuture;

use crate::checksum::{ChecksumMode, Digest, object_checksum};
use crate::error::{Error, ErrorKind, Failure};
use crate::job::{FailurePolicy, Job};
use crate::journal::PartRecord;
use crate::outcome::UploadOutcome;
use crate::plan::Plan;
use crate::schedule::Pool;
use crate::verify::{Written, verify_written};

pub(crate) use create::{NewJournal, create, create_journaled, mode_from_record};
pub(crate) use resume::{Start, has_journal, start_or_resume};

impl<C: ObjectClient> Job<C> {
    /// After a failure: keep the upload for resume (returning the error marked so), or abort
    /// it and forget its journal.
    pub(crate) async fn give_up(self: &Arc<Self>, upload_id: &str, err: Error) -> Error {
        self.sweep_orphans(upload_id).await;
        if let Some(plan) = self.kept_by.get() {
            let message = format!("{err}; upload {upload_id} is kept, with its plan {plan}");
            return err.with_message(message);
        }
        let journaled = self.journal_id();
        // A source that changed cannot resume: the parts sent mix old and new bytes, and
        // the journal no longer matches the file.
        let keep = journaled.is_some()
            && err.kind() != ErrorKind::SourceChanged
            && match self.settings.on_failure {
                FailurePolicy::Keep => true,
                FailurePolicy::Abort => false,
                FailurePolicy::Auto => err.is_transient(),
            };
        match journaled {
            Some(id) if keep => err.kept_for_resume(id),
            _ => {
                let aborted = self.abort(upload_id).await;
                self.forget();
                match aborted {
                    Ok(()) => err,
                    Err(why) => err.leaving_behind(self.left(upload_id), &why),
                }
            }
        }
    }
}

/// A part the server holds: what Complete needs, and its digest for the object's checksum.
#[derive(Debug, Clone)]
pub(crate) struct Done {
    pub(crate) part: CompletedPart,
    pub(crate) digest: Option<Digest>,
}

/// Where an upload's parts come from, by number and byte range: a file (or a range of one),
/// bytes in memory, or an object the server copies. (A stream, read once in order, makes its
/// parts as it goes and sends them as a file's are.)
pub(crate) trait PartSource<C: ObjectClient>: Send + Sync + 'static {
    /// Memory a part of `len` bytes holds while it is sent.
    fn memory(&self, len: u64) -> u64;

    /// Sends `part`, with retries under its number; records it in the journal before it
    /// counts.
    fn send(&self, job: &Arc<Job<C>>, part: Part) -> BoxFuture<'static, Result<Done, Error>>;

    /// Whether a part a journal recorded, bytes `offset..offset + len` of the source, is still
    /// this source's bytes (on resume).
    ///
    /// By default, for an object's bytes (a copy on the server or from another): there are no
    /// local bytes to read again, and the source's ETag in the journal's identity vouches for
    /// them, so a part of the right size is intact. What the destination holds is checked by
    /// ListParts and the combined checksum.
    fn intact(
        &self,
        record: &PartRecord,
        (_, len): (u64, u64),
    ) -> BoxFuture<'static, Result<bool, Error>> {
        let same = record.size == len;
        Box::pin(async move { Ok(same) })
    }

    /// A part the server holds but the journal does not list (sent, and the run ended before
    /// it was recorded), as the journal would have recorded it, when it holds bytes
    /// `offset..offset + len` of this source: read again, their checksum in the upload's
    /// algorithm (or, when the server reports none, their MD5) is the listed part's.
    ///
    /// By default, for an object's bytes, none: nothing local vouches for them, and the part
    /// is sent again.
    fn adopt(
        &self,
        _mode: ChecksumMode,
        _listed: &PartInfo,
        _range: (u64, u64),
    ) -> BoxFuture<'static, Result<Option<PartRecord>, Error>> {
        Box::pin(async { Ok(None) })
    }
}

/// One part of a multipart upload: its number, and the bytes of the source it holds.
#[derive(Debug, Clone)]
pub(crate) struct Part {
    pub(crate) upload_id: Arc<str>,
    pub(crate) number: u32,
    pub(crate) offset: u64,
    pub(crate) len: u64,
}

/// Sends the parts `numbers` of `plan` through the pool: at most the job's width in flight,
/// each once its memory is granted; the first failure stops new parts and is returned.
pub(crate) async fn run_parts<C: ObjectClient>(
    job: &Arc<Job<C>>,
    upload_id: &Arc<str>,
    source: &Arc<dyn PartSource<C>>,
    plan: Plan,
    numbers: impl Iterator<Item = u32>,
) -> Result<Vec<Done>, Error> {
    let shared = &job.ctx.shared;
    let mut pool = Pool::new(
        job.ctx.parts_at_once(plan.part_range(1).1),
        &shared.memory,
        job.ctx.stops(),
        job.noun,
    );
    let mut done = Vec::new();
    for n in numbers {
        let (offset, len) = plan.part_range(n);
        let Some(memory) = pool.room(source.memory(len), &mut done).await else {
            break;
        };
        let part = Part {
            upload_id: upload_id.clone(),
            number: n,
            offset,
            len,
        };
        let send = source.send(job, part);
        pool.spawn(async move {
            let _held = memory;
            send.await
        });
    }
    pool.finish(&mut done).await?;
    Ok(done)
}

/// Completes (or, after a failure, keeps or aborts) a multipart upload and checks the result.
pub(crate) async fn finish<C: ObjectClient>(
    job: &Arc<Job<C>>,
    upload_id: Arc<str>,
    parts: Result<Vec<Done>, Error>,
    size: u64,
) -> Result<UploadOutcome, Error> {
    let mut parts = match parts {
        Ok(p) => p,
        Err(e) => return Err(job.give_up(&upload_id, e).await),
    };
    // Every part is read and stored: the file must still be the one the first part was read
    // from, or the object would mix two versions of it.
    if let Some(changed) = job.source_changed() {
        return Err(job.give_up(&upload_id, changed).await);
    }
    parts.sort_by_key(|p| p.part.part_number);
    let count = parts.len() as u32;
    let (expected, checksum_type) = match job.mode() {
        ChecksumMode::Additional(a, t) => {
            let digests: Vec<Digest> = parts.iter().filter_map(|p| p.digest.clone()).collect();
            // A copy on a server that reports no part checksums: nothing to combine.
            let whole = digests.len() == parts.len();
            (
                whole.then(|| object_checksum(a, t, &digests)).flatten(),
                Some(t),
            )
        }
        _ => (None, None),
    };
    let full_object = checksum_type == Some(ChecksumType::FullObject);
    let req = CompleteMultipartUploadRequest {
        bucket: job.bucket.clone(),
        key: job.key.clone(),
        upload_id: upload_id.to_string(),
        parts: parts.into_iter().map(|p| p.part).collect(),
        // A full-object value is checked by the server before it replaces anything; a
        // composite one is checked with HeadObject after.
        checksum: expected.clone().filter(|_| full_object),
        checksum_type: checksum_type.filter(|_| full_object),
        object_size: Some(size),
        if_none_match: job.settings.no_clobber,
        request: job.options.request.clone(),
    };
    let req = &req;
    let completed = job
        .ctx
        .retrying(None, |attempt| async move {
            match job.client().complete_multipart_upload(req).await {
                // A retried Complete whose first try succeeded finds no upload.
                Err(e) if attempt > 1 && e.code() == Some("NoSuchUpload") => Ok(None),
                other => other.map(Some).map_err(Failure::S3),
            }
        })
        .await;
    let completed = match completed {
        Ok(c) => c,
        Err(f) => {
            let err = job.failed(format!("completing {}", job.url()), f);
            return Err(job.give_up(&upload_id, err).await);
        }
    };
    // The object exists now: the journal has done its work.
    job.forget();
    job.sweep_orphans(&upload_id).await;
    let (etag, version_id, answered) = match completed {
        Some(c) => (c.etag, c.version_id, c.checksum),
        None => (String::new(), None, None),
    };
    let written = Written {
        size,
        expected,
        checksum_type,
        parts: count,
        etag,
        version_id,
    };
    verify_written(job, written, answered, "on Complete").await
}

/// Runs a multipart upload of `plan` from `source`: creates it (journaled when `journal` is
/// given), sends every part, completes it.
pub(crate) async fn run<C: ObjectClient>(
    job: Arc<Job<C>>,
    plan: Plan,
    source: Arc<dyn PartSource<C>>,
    journal: Option<NewJournal>,
) -> Result<UploadOutcome, Error> {
    let Plan::Multipart {
        size,
        part_size,
        parts,
    } = plan
    else {
        unreachable!("a single-request plan is not a multipart upload")
    };
    job.planned(Some(size), part_size, Some(parts));
    job.allowed(size)?;
    let upload_id = match journal {
        Some(j) => create_journaled(&job, j, part_size, parts).await?,
        None => create(&job).await?,
    };
    let result = run_parts(&job, &upload_id, &source, plan, 1..=parts).await;
    finish(&job, upload_id, result, size).await
}
