//! The check after an object is written (an upload's Complete or PutObject, a copy): its size
//! and, where the server keeps one, its checksum, read back with HeadObject and compared with
//! what ferry computed.

use std::sync::Arc;

use ferry_s3::{ChecksumType, ChecksumValue, GetObjectRequest, ObjectClient, ObjectOptions};

use crate::checksum::ChecksumMode;
use crate::error::{Error, ErrorKind};
use crate::job::Job;
use crate::outcome::{UploadOutcome, Verification};

/// What was written, as ferry sent it and the write's answer said.
pub(crate) struct Written {
    /// The object's size.
    pub(crate) size: u64,
    /// The checksum ferry computed.
    pub(crate) expected: Option<ChecksumValue>,
    /// Its type.
    pub(crate) checksum_type: Option<ChecksumType>,
    /// How many parts.
    pub(crate) parts: u32,
    /// The answer's ETag (empty when the answer was lost: HeadObject's is taken).
    pub(crate) etag: String,
    /// The answer's version id.
    pub(crate) version_id: Option<String>,
}

impl Written {
    fn outcome<C: ObjectClient>(self, job: &Job<C>, verification: Verification) -> UploadOutcome {
        UploadOutcome {
            bucket: job.bucket.clone(),
            key: job.key.clone(),
            size: self.size,
            etag: self.etag,
            version_id: self.version_id,
            checksum: self.expected,
            checksum_type: self.checksum_type,
            parts: self.parts,
            verification,
            reused: job.reused.get().copied().unwrap_or(0),
            source_removed: false,
            source_version_id: None,
            copied_from: None,
            copied_from_bucket: None,
        }
    }
}

/// [`verify`] after a write the server has checked itself (a PutObject, a Complete, a copy):
/// when the credentials may not read the object back (a write-only role), the object stands
/// as the server checked it, with a note saying what was skipped and why. `answered`: the
/// checksum the write's answer carried; `how`: when the server checked it ("on Complete").
pub(crate) async fn verify_written<C: ObjectClient>(
    job: &Arc<Job<C>>,
    w: Written,
    answered: Option<ChecksumValue>,
    how: &str,
) -> Result<UploadOutcome, Error> {
    let e = match head(job, &w).await {
        Ok(meta) => return checked(job, w, meta),
        Err(e) if e.s3().is_some_and(ferry_s3::S3Error::is_denied) => e,
        Err(e) => return Err(e),
    };
    let on = e
        .s3()
        .and_then(|s| s.denial())
        .map_or_else(|| job.url(), |d| d.resource.clone());
    let skipped = format!(
        "stored and checked by the server {how}; not read back: HeadObject needs s3:GetObject \
         on {on}, which these credentials lack"
    );
    tracing::info!("{}: {skipped}", job.url());
    let checksum = answered.filter(|a| Some(a) == w.expected.as_ref());
    Ok(w.outcome(job, Verification::ServerOnly { checksum, skipped }))
}

/// HeadObject of what was written.
async fn head<C: ObjectClient>(
    job: &Arc<Job<C>>,
    w: &Written,
) -> Result<ferry_s3::ObjectMeta, Error> {
    let req = GetObjectRequest {
        bucket: job.bucket.clone(),
        key: job.key.clone(),
        // "null" is the version of an object written while versioning was off or suspended;
        // moto refuses it as a versionId (S3 takes it): the latest is that object anyway.
        version_id: w.version_id.clone().filter(|v| v != "null"),
        checksum_mode: w.expected.is_some(),
        request: job.options.request.clone(),
        ..Default::default()
    };
    job.ctx
        .request(None, |c| c.head_object(&req))
        .await
        .map_err(|f| job.failed(format!("checking {} after the {}", job.url(), job.noun), f))
}

/// HeadObject after the upload: the size must match, and the checksum the server keeps must
/// be the one computed here.
pub(crate) async fn verify<C: ObjectClient>(
    job: &Arc<Job<C>>,
    w: Written,
) -> Result<UploadOutcome, Error> {
    let meta = head(job, &w).await?;
    checked(job, w, meta)
}

/// What HeadObject said against what was written.
fn checked<C: ObjectClient>(
    job: &Job<C>,
    mut w: Written,
    head: ferry_s3::ObjectMeta,
) -> Result<UploadOutcome, Error> {
    let wrong = |what: String| {
        Error::new(
            ErrorKind::Verification,
            format!("{} does not match what was sent: {what}", job.url()),
        )
    };
    if head.content_length != w.size {
        return Err(wrong(format!(
            "the server has {} bytes, {} were sent",
            head.content_length, w.size
        )));
    }
    let verification = match (&w.expected, &head.checksum.value) {
        (Some(mine), Some(theirs)) if theirs.algorithm == mine.algorithm => {
            if !same_value(&mine.value, &theirs.value) {
                let mut what = format!(
                    "its {} is {}, ferry computed {}; the object stays as the server stored it",
                    mine.algorithm, theirs.value, mine.value
                );
                if w.parts > 1 && w.checksum_type == Some(ChecksumType::FullObject) {
                    what.push_str(&format!(
                        ". Its {} parts were each checked as they were sent: a store that does \
                         not compute a multipart object's full-object checksum answers so (a \
                         composite checksum of CRC32, CRC32C, SHA1 or SHA256, or none, is not \
                         checked that way)",
                        w.parts
                    ));
                }
                return Err(wrong(what));
            }
            Verification::Checksum(mine.clone())
        }
        (Some(_), _) => Verification::PartsAndSize,
        (None, _) if job.mode() == ChecksumMode::ContentMd5 => Verification::PartsAndSize,
        (None, _) => Verification::SizeOnly,
    };
    if let Some(what) = lock_differs(&job.options, &head) {
        return Err(Error::new(
            ErrorKind::Verification,
            format!(
                "{} was stored without the object lock asked for: {what}",
                job.url()
            ),
        ));
    }
    if w.etag.is_empty() {
        w.etag = head.etag;
    }
    w.version_id = w.version_id.or(head.version_id);
    Ok(w.outcome(job, verification))
}

/// How the object lock HeadObject shows differs from the one asked for, if it does. A lock
/// it does not show (or a date it shows in a form not RFC 3339) is not taken as missing: S3
/// shows it only to credentials allowed `s3:GetObjectRetention` (and `s3:GetObjectLegalHold`).
fn lock_differs(asked: &ObjectOptions, head: &ferry_s3::ObjectMeta) -> Option<String> {
    use time::format_description::well_known::Rfc3339;
    let instant = |t: &str| {
        time::OffsetDateTime::parse(t, &Rfc3339)
            .ok()
            .map(|t| t.unix_timestamp())
    };
    let mut differs = Vec::new();
    if let (Some(mode), Some(shown)) = (asked.object_lock_mode, &head.object_lock_mode)
        && !shown.eq_ignore_ascii_case(mode.as_str())
    {
        differs.push(format!(
            "its retention mode is {shown}, not {}",
            mode.as_str()
        ));
    }
    if let (Some(until), Some(shown)) = (
        &asked.object_lock_retain_until,
        &head.object_lock_retain_until,
    ) && let (Some(asked_at), Some(shown_at)) = (instant(until), instant(shown))
        && asked_at != shown_at
    {
        differs.push(format!("it is retained until {shown}, not {until}"));
    }
    if let (Some(hold), Some(shown)) = (asked.object_lock_legal_hold, &head.object_lock_legal_hold)
        && !shown.eq_ignore_ascii_case(if hold { "ON" } else { "OFF" })
    {
        differs.push(format!("its legal hold is {shown}"));
    }
    (!differs.is_empty()).then(|| {
        format!(
            "{} (the server did not apply the object lock headers sent; some S3-compatible \
             stores ignore them on CopyObject)",
            differs.join(", ")
        )
    })
}

/// Whether the checksum the server keeps is the one computed here. A composite is `BASE-N`
/// (N the parts); some stores (moto) keep it without its `-N`: the base is the checksum, the
/// count only a count (the parts were each checked as they were sent, and Complete named them).
fn same_value(mine: &str, theirs: &str) -> bool {
    mine == theirs
        || mine
            .rsplit_once('-')
            .is_some_and(|(base, n)| base == theirs && n.parse::<u32>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_differs_only_where_the_head_shows_another() {
        let asked = ObjectOptions {
            object_lock_mode: Some(ferry_s3::ObjectLockMode::Governance),
            object_lock_retain_until: Some("2030-01-01T00:00:00Z".into()),
            object_lock_legal_hold: Some(true),
            ..Default::default()
        };
        let shown = |mode: &str, until: &str, hold: &str| ferry_s3::ObjectMeta {
            object_lock_mode: Some(mode.into()).filter(|m: &String| !m.is_empty()),
            object_lock_retain_until: Some(until.into()).filter(|u: &String| !u.is_empty()),
            object_lock_legal_hold: Some(hold.into()).filter(|h: &String| !h.is_empty()),
            ..Default::default()
        };
        let same = shown("GOVERNANCE", "2030-01-01T00:00:00.000Z", "ON");
        assert_eq!(lock_differs(&asked, &same), None);
        // Not shown (credentials that may not read it), or in a form not RFC 3339: unknown.
        assert_eq!(lock_differs(&asked, &shown("", "", "")), None);
        let odd = shown("GOVERNANCE", "Tue, 01 Jan 2030 00:00:00 GMT", "ON");
        assert_eq!(lock_differs(&asked, &odd), None);
        let other =
            lock_differs(&asked, &shown("COMPLIANCE", "2030-01-02T00:00:00Z", "OFF")).unwrap();
        assert!(other.contains("mode is COMPLIANCE"), "{other}");
        assert!(other.contains("until 2030-01-02T00:00:00Z"), "{other}");
        assert!(other.contains("legal hold is OFF"), "{other}");
        assert_eq!(lock_differs(&ObjectOptions::default(), &same), None);
    }

    #[test]
    fn a_composite_matches_with_or_without_its_part_count() {
        assert!(same_value("MgRrtg==-3", "MgRrtg==-3"));
        assert!(same_value("MgRrtg==-3", "MgRrtg=="));
        assert!(same_value("6KujW+B30F4=", "6KujW+B30F4="));
        assert!(!same_value("MgRrtg==-3", "MgRrtA=="));
        assert!(!same_value("MgRrtg==-3", "MgRrtg==-4"));
        assert!(!same_value("6KujW+B30F4=", "UBRIhQ=="));
        // Only a count is dropped: a value that is not `BASE-N` is compared whole.
        assert!(!same_value("MgRrtg==-x", "MgRrtg=="));
    }
}
