//! Sending bytes: one part with UploadPart (retried under the same part number, recorded in
//! the journal before it counts), or a whole small object with one PutObject.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ferry_s3::{CompletedPart, ObjectClient, PutObjectRequest, UploadPartRequest};

use super::body::{BodyOptions, Declared, Guard, PartData, PartDigests, ReadFailure, part_body};
use crate::error::{Error, Failure};
use crate::job::Job;
use crate::journal::PartRecord;
use crate::multipart::Done;
use crate::outcome::{UploadOutcome, Verification};
use crate::progress::Event;
use crate::verify::{Written, verify_written};

impl<C: ObjectClient> Job<C> {
    /// How this job's bodies are made; `guard` checks the source before the last bytes.
    fn body_options(&self, guard: Option<Guard>) -> BodyOptions {
        BodyOptions {
            mode: self.mode(),
            signed: self.settings.sign_payload,
            guard,
            bandwidth: self.ctx.bandwidth().cloned(),
        }
    }

    /// One attempt at sending `data`: streams it as a body through `send` and returns the
    /// answer with the data's digests. Under a bandwidth limit, the body first waits for its
    /// share of the send window (it runs in a request slot already). A failed attempt takes
    /// its bytes back out of the progress, so a retry does not count them twice.
    async fn send_data<T, F, Fut>(
        &self,
        data: PartData,
        guard: Option<Guard>,
        send: F,
    ) -> Result<(T, PartDigests), Failure>
    where
        F: FnOnce(ferry_s3::Body, Declared) -> Fut,
        Fut: std::future::Future<Output = Result<T, ferry_s3::S3Error>>,
    {
        let _sending = match self.ctx.bandwidth() {
            Some(bw) => Some(bw.send(data.len()).await),
            None => None,
        };
        let progress = self.ctx.progress.clone();
        let body = part_body(data, &self.body_options(guard), progress)
            .await
            .map_err(Failure::Local)?;
        let counted = body.counted.clone();
        let out = send(body.body, body.declared).await;
        let result = match (out, body.digests.await) {
            (Ok(out), Ok(Ok(d))) => return Ok((out, d)),
            // Reading failed here: that, not what the request made of its broken body, is
            // the error (and no retry sends the same unreadable bytes).
            (_, Ok(Err(ReadFailure::Local(e)))) => Err(Failure::Local(e)),
            (Ok(_), _) => Err(Failure::Local(std::io::Error::other(
                "the data's checksum was not computed",
            ))),
            (Err(e), _) => Err(Failure::S3(e)),
        };
        self.ctx.progress.sub_bytes(counted.load(Ordering::Relaxed));
        result
    }

    /// The error of a part (`Some(number)`) or of a single-request upload (`None`): a read
    /// that failed because the file changed (shrank, vanished) says so.
    fn send_error(&self, number: Option<u32>, f: Failure) -> Error {
        if matches!(f, Failure::Local(_))
            && let Some(changed) = self.source_changed()
        {
            return changed;
        }
        let what = match (number, &f) {
            (Some(n), Failure::Local(_)) => format!("reading part {n} for {}", self.url()),
            (None, Failure::Local(_)) => format!("reading the source of {}", self.url()),
            (Some(n), _) => format!("part {n} of {}", self.url()),
            (None, _) => format!("uploading {}", self.url()),
        };
        self.failed(what, f)
    }
}

/// Uploads one part, retrying under the same part number, reading its data again for each
/// attempt; records it in the journal before it counts.
pub(crate) async fn send_part<C: ObjectClient>(
    job: Arc<Job<C>>,
    upload_id: Arc<str>,
    number: u32,
    data: PartData,
) -> Result<Done, Error> {
    let size = data.len();
    let progress = &job.ctx.progress;
    progress.part_started();
    job.ctx
        .emit_kept(Event::PartStarted { part: number, size })
        .await;
    let result = job
        .ctx
        .retrying(Some(number), |_| {
            let (job, data, upload_id) = (job.clone(), data.clone(), upload_id.clone());
            async move {
                job.send_data(data, None, |body, declared| {
                    let req = UploadPartRequest {
                        bucket: job.bucket.clone(),
                        key: job.key.clone(),
                        upload_id: upload_id.to_string(),
                        part_number: number,
                        body,
                        content_md5: declared.content_md5,
                        checksum: declared.checksum,
                        request: job.options.request.clone(),
                    };
                    async { job.client().upload_part(req).await.map(|out| out.etag) }
                })
                .await
            }
        })
        .await;
    let (etag, digests) = match result {
        Ok(r) => r,
        Err(f) => {
            progress.part_ended(false);
            return Err(job.send_error(Some(number), f));
        }
    };
    let checksum = job.mode().value_of(digests.additional.as_ref());
    // Durable before the part counts as done.
    job.record(&PartRecord {
        part: number,
        size,
        etag: etag.clone(),
        crc64nvme: digests.recheck.base64(),
        checksum: checksum.as_ref().map(|c| c.value.clone()),
    })
    .inspect_err(|_| progress.part_ended(false))?;
    progress.part_ended(true);
    job.ctx
        .emit_kept(Event::PartFinished {
            part: number,
            size,
            etag: etag.clone(),
        })
        .await;
    Ok(Done {
        part: CompletedPart {
            part_number: number,
            etag,
            checksum,
        },
        digest: digests.additional,
    })
}

/// From this size up, a PutObject under `no_clobber` looks first (one HeadObject), so that a
/// destination that exists costs a round trip rather than the body: a `cp -r --no-clobber`
/// run again over a tree sends nothing it would not keep. Below it, the body costs about
/// what the look would, and the PutObject's `If-None-Match` refuses as surely.
const LOOK_FIRST_FROM: u64 = 1024 * 1024;

/// One PutObject, with the checksum in a header (in a trailer, for a body over one chunk); a
/// file source is checked, after its last byte is read and before that byte is sent, to be
/// the file it was (see [`Guard`]).
pub(crate) async fn put_single<C: ObjectClient>(
    job: &Arc<Job<C>>,
    data: PartData,
) -> Result<UploadOutcome, Error> {
    let size = data.len();
    if size >= LOOK_FIRST_FROM {
        job.refuse_existing(true).await?;
    }
    let progress = &job.ctx.progress;
    progress.part_started();
    let out = job
        .ctx
        .retrying(Some(1), |_| {
            let (job, data) = (job.clone(), data.clone());
            let guard = job.guard();
            async move {
                job.send_data(data, guard, |body, declared| {
                    let req = PutObjectRequest {
                        bucket: job.bucket.clone(),
                        key: job.key.clone(),
                        body,
                        options: job.options.clone(),
                        content_md5: declared.content_md5,
                        checksum: declared.checksum,
                        if_none_match: job.settings.no_clobber,
                    };
                    job.client().put_object(req)
                })
                .await
            }
        })
        .await;
    progress.part_ended(out.is_ok());
    let (out, digest) = out.map_err(|f| job.send_error(None, f))?;
    let expected = job.mode().value_of(digest.additional.as_ref());
    // The answer carries the checksum the server computed from the bytes it stored: when it
    // is ferry's, the object is checked without another request, unless a lock was asked for,
    // which only HeadObject shows.
    if let Some(mine) = &expected
        && out.checksum.as_ref() == Some(mine)
        && !job.options.locks()
    {
        return Ok(UploadOutcome {
            bucket: job.bucket.clone(),
            key: job.key.clone(),
            size,
            etag: out.etag,
            version_id: out.version_id,
            checksum: expected.clone(),
            checksum_type: None,
            parts: 1,
            verification: Verification::Checksum(mine.clone()),
            reused: 0,
            source_removed: false,
            source_version_id: None,
            copied_from: None,
            copied_from_bucket: None,
        });
    }
    let written = Written {
        size,
        expected,
        checksum_type: None,
        parts: 1,
        etag: out.etag,
        version_id: out.version_id,
    };
    verify_written(job, written, out.checksum, "on arrival").await
}

impl<C: ObjectClient> Job<C> {
    /// A check for the body of a single-request upload: the source is as it was when the
    /// upload began.
    fn guard(self: &Arc<Self>) -> Option<Guard> {
        self.watched.get()?;
        let job = self.clone();
        Some(Arc::new(move || match job.source_changed() {
            Some(e) => Err(std::io::Error::other(e.to_string())),
            None => Ok(()),
        }))
    }
}
