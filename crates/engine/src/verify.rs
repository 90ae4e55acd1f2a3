//! The check after an object is written (an upload's Complete or PutObject, a copy): its size
//! and, where the server keeps one, its checksum, read back with HeadObject and compared with
//! what ferry computed.

use std::sync::Arc;

use ferry_s3::{ChecksumType, ChecksumValue, GetObjectRequest, ObjectClient};

use crate::checksum::ChecksumMode;
use crate::error::{Error, ErrorKind};
use crate::job::Job;
use crate::outcome::{UploadOutcome, Verification};

/// HeadObject after the upload: the size must match, and the checksum the server keeps must
/// be the one computed here.
pub(crate) async fn verify<C: ObjectClient>(
    job: &Arc<Job<C>>,
    size: u64,
    expected: Option<ChecksumValue>,
    checksum_type: Option<ChecksumType>,
    parts: u32,
    etag: String,
    version_id: Option<String>,
) -> Result<UploadOutcome, Error> {
    let req = GetObjectRequest {
        bucket: job.bucket.clone(),
        key: job.key.clone(),
        // "null" is the version of an object written while versioning was off or suspended;
        // moto refuses it as a versionId (S3 takes it): the latest is that object anyway.
        version_id: version_id.clone().filter(|v| v != "null"),
        checksum_mode: expected.is_some(),
        request: job.options.request.clone(),
        ..Default::default()
    };
    let head = job
        .ctx
        .request(None, |c| c.head_object(&req))
        .await
        .map_err(|f| job.failed(format!("checking {} after the {}", job.url(), job.noun), f))?;
    let wrong = |what: String| {
        Error::new(
            ErrorKind::Verification,
            format!("{} does not match what was sent: {what}", job.url()),
        )
    };
    if head.content_length != size {
        return Err(wrong(format!(
            "the server has {} bytes, {size} were sent",
            head.content_length
        )));
    }
    let verification = match (&expected, &head.checksum.value) {
        (Some(mine), Some(theirs)) if theirs.algorithm == mine.algorithm => {
            if theirs.value != mine.value {
                return Err(wrong(format!(
                    "its {} is {}, ferry computed {}",
                    mine.algorithm, theirs.value, mine.value
                )));
            }
            Verification::Checksum(mine.clone())
        }
        (Some(_), _) => Verification::PartsAndSize,
        (None, _) if job.mode() == ChecksumMode::ContentMd5 => Verification::PartsAndSize,
        (None, _) => Verification::SizeOnly,
    };
    Ok(UploadOutcome {
        bucket: job.bucket.clone(),
        key: job.key.clone(),
        size,
        etag: if etag.is_empty() { head.etag } else { etag },
        version_id: version_id.or(head.version_id),
        checksum: expected,
        checksum_type,
        parts,
        verification,
    })
}
