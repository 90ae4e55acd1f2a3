//! Creating a multipart upload, journaled or not, and cleaning up after a Create whose reply
//! was lost.
//!
//! CreateMultipartUpload is not idempotent: a retry after a lost reply can leave an upload no
//! one knows. The retry is made all the same (the transfer goes on); once an upload is had,
//! the uploads of this key begun since are listed and the others aborted, and again at the
//! end of the transfer (a delayed request can still reach the server and make one). A
//! journaled upload writes its intent before Create, so even a process that dies in between
//! leaves nothing the next run cannot find.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use ferry_s3::{CreateMultipartUploadRequest, ListMultipartUploadsRequest, ObjectClient};
use tracing::{debug, info, warn};

use crate::checksum::ChecksumMode;
use crate::error::{Error, ErrorKind, Failure};
use crate::job::{Job, Orphans, journal_error};
use crate::journal::{
    Destination, JournalHandle, LockRecord, ObjectRecord, SourceIdentity, UploadRecord,
};
use crate::progress::Event;

/// A journal about to record a new upload.
pub(crate) struct NewJournal {
    pub(crate) handle: Box<dyn JournalHandle>,
    pub(crate) destination: Destination,
    pub(crate) source: SourceIdentity,
}

/// Creates the upload with the job's options and checksum settings (after making sure the
/// destination does not exist, when replacing it is not allowed).
pub(crate) async fn create<C: ObjectClient>(job: &Arc<Job<C>>) -> Result<Arc<str>, Error> {
    job.refuse_existing(true).await?;
    let mut options = job.options.clone();
    if let ChecksumMode::Additional(a, t) = job.mode() {
        options.checksum_algorithm = Some(a);
        options.checksum_type = Some(t);
    }
    let req = CreateMultipartUploadRequest {
        bucket: job.bucket.clone(),
        key: job.key.clone(),
        options,
    };
    let since = crate::journal::unix_now();
    // The latest `not_before` of the attempts whose answer was lost.
    let maybe_left: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let out = job
        .ctx
        .retrying(None, |_| {
            let (job, req, maybe_left) = (job.clone(), req.clone(), maybe_left.clone());
            async move {
                let sent = Instant::now();
                let out = job.client().create_multipart_upload(&req).await;
                // Sent, with no answer read: the server may have made an upload.
                if let Err(e) = &out
                    && e.client_kind().is_some_and(|k| {
                        use ferry_s3::ClientErrorKind as K;
                        matches!(
                            k,
                            K::Network | K::Timeout | K::BodyCutShort | K::InvalidResponse
                        )
                    })
                {
                    let now = Instant::now();
                    let not_before = now + (now - sent);
                    let mut m = maybe_left.lock().expect("create lock");
                    *m = Some(m.map_or(not_before, |t| t.max(not_before)));
                }
                out.map_err(Failure::S3)
            }
        })
        .await;
    let maybe_left = *maybe_left.lock().expect("create lock");
    let out = match out {
        Ok(out) => out,
        Err(f) => {
            // Without a journal's intent to clean up after, try now (the server may be gone).
            if maybe_left.is_some() && !job.is_journaled() {
                let _ = abort_orphans(job, since, None).await;
            }
            return Err(job.failed(format!("creating {}", job.url()), f));
        }
    };
    if let Some(not_before) = maybe_left {
        *job.orphans.lock().expect("orphans lock") = Some(Orphans { since, not_before });
        abort_orphans(job, since, Some(&out.upload_id)).await?;
    }
    job.emit(Event::UploadCreated {
        upload_id: out.upload_id.clone(),
    });
    Ok(Arc::from(out.upload_id))
}

/// Writes the intent, creates the upload, records it: so no upload exists that no journal
/// knows of, even if the process dies between the two.
pub(crate) async fn create_journaled<C: ObjectClient>(
    job: &Arc<Job<C>>,
    mut journal: NewJournal,
    part_size: u64,
    parts: u32,
) -> Result<Arc<str>, Error> {
    if let Err(e) = journal
        .handle
        .write_intent(&journal.destination, &journal.source)
    {
        // Nothing is created yet, and the old journal's upload was dealt with before (see
        // `resume::start_or_resume`): a journal without its intent (a disk full) is of no use.
        let _ = journal.handle.remove();
        return Err(journal_error(e));
    }
    job.set_journal(journal.handle);
    let upload_id = match create(job).await {
        Ok(id) => id,
        Err(e) => {
            // The server said no: nothing was created. Any other failure may have created
            // an upload: the intent stays, and the next run cleans it up.
            if e.s3().is_some_and(|s| s.service().is_some()) || e.kind() == ErrorKind::Exists {
                job.forget();
            }
            return Err(e);
        }
    };
    let (checksum, checksum_type) = mode_record(job.mode());
    let record = UploadRecord {
        upload_id: upload_id.to_string(),
        part_size,
        parts,
        checksum,
        checksum_type,
        sse_c_key_md5: job
            .options
            .request
            .sse_customer_key
            .as_ref()
            .map(|k| k.key_md5().to_string()),
        expected_bucket_owner: job.options.request.expected_bucket_owner.clone(),
        request_payer: job.options.request.request_payer,
        remove_source: job.settings.remove_source,
        object_lock: Some(LockRecord::of(&job.options)),
        object: Some(ObjectRecord::of(&job.options)),
    };
    let written = job
        .journal
        .lock()
        .expect("journal lock")
        .as_mut()
        .map(|j| j.write_upload(&record));
    if let Some(Err(e)) = written {
        let aborted = job.abort(&upload_id).await;
        job.forget();
        return Err(match aborted {
            Ok(()) => journal_error(e),
            Err(why) => journal_error(e).leaving_behind(job.left(&upload_id), &why),
        });
    }
    Ok(upload_id)
}

/// Aborts uploads of this key that started after `since` (seconds since the epoch, less a
/// margin for clock skew), but `keep`: left by a Create whose reply was lost.
pub(super) async fn abort_orphans<C: ObjectClient>(
    job: &Arc<Job<C>>,
    since: u64,
    keep: Option<&str>,
) -> Result<(), Error> {
    let req = ListMultipartUploadsRequest {
        bucket: job.bucket.clone(),
        prefix: Some(job.key.clone()),
        request: job.options.request.clone(),
        ..Default::default()
    };
    let uploads = job
        .ctx
        .request(None, |c| ferry_s3::list_all_uploads(c, &req))
        .await
        .map_err(|f| job.failed("listing uploads left by an interrupted start", f))?;
    let margin = 300;
    for u in uploads
        .iter()
        .filter(|u| u.key == job.key && Some(u.upload_id.as_str()) != keep)
    {
        let started = u
            .initiated
            .as_deref()
            .and_then(|t| {
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
            })
            .map(|t| t.unix_timestamp());
        if started.is_some_and(|t| t + margin >= since as i64) {
            debug!(upload_id = %u.upload_id, "aborting an upload left by an interrupted start");
            job.abort_or_warn(&u.upload_id).await;
        }
    }
    Ok(())
}

impl<C: ObjectClient> Job<C> {
    /// Aborts, once more, uploads a lost Create reply may have left (a server can make one
    /// after the retry's sweep): at the end of the upload, whatever the end, no sooner than
    /// [`Orphans::not_before`] (unless cancelled).
    pub(crate) async fn sweep_orphans(self: &Arc<Self>, keep: &str) {
        let orphans = *self.orphans.lock().expect("orphans lock");
        let Some(orphans) = orphans else {
            return;
        };
        let wait = orphans.not_before.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            info!(
                "waiting {:.1} s for a CreateMultipartUpload that may still reach the server, to abort the upload it would make",
                wait.as_secs_f64()
            );
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.ctx.cancel.cancelled() => {}
            }
        }
        if let Err(e) = abort_orphans(self, orphans.since, Some(keep)).await {
            warn!("could not look for uploads left by a lost CreateMultipartUpload reply: {e}");
        }
    }
}

/// How a checksum mode is written in a journal.
pub(super) fn mode_record(mode: ChecksumMode) -> (String, Option<String>) {
    match mode {
        ChecksumMode::Additional(a, t) => (a.as_str().to_string(), Some(t.as_str().to_string())),
        ChecksumMode::ContentMd5 => ("md5".into(), None),
        ChecksumMode::None => ("none".into(), None),
    }
}

/// The checksum mode a journal names.
pub(crate) fn mode_from_record(u: &UploadRecord) -> Result<ChecksumMode, Error> {
    let bad = || {
        Error::invalid(format!(
            "the journal names an unknown checksum {:?}",
            u.checksum
        ))
    };
    Ok(match u.checksum.as_str() {
        "md5" => ChecksumMode::ContentMd5,
        "none" => ChecksumMode::None,
        a => ChecksumMode::Additional(
            a.parse().map_err(|_| bad())?,
            u.checksum_type
                .as_deref()
                .and_then(|t| t.parse().ok())
                .ok_or_else(bad)?,
        ),
    })
}
