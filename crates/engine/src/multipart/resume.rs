//! Resuming a journaled upload or copy: the journal of the same source and destination is
//! found, its parts are checked against the source (re-read and re-checksummed for a file; a
//! copy's source is pinned by its ETag) and against what the server lists (ListParts); a part
//! the server holds that the journal missed (the run ended between its answer and its record)
//! is kept when the source's bytes, read again, match it; only what is missing or wrong is
//! sent again. A journal that cannot be followed (the source changed, another part size, SSE-C
//! key, object lock or object settings) refuses the resume with a [`Mismatch`] and leaves everything as it was;
//! restarting aborts the old upload first.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use base64::Engine as _;
use ferry_s3::{ChecksumValue, CompletedPart, ListPartsRequest, ObjectClient};
use tracing::warn;

use super::create::{abort_orphans, mode_from_record};
use super::{Done, NewJournal, PartSource, finish, run_parts};
use crate::checksum::{ChecksumMode, Digest, object_checksum};
use crate::error::{Error, ErrorKind, Mismatch};
use crate::job::{Job, journal_error};
use crate::journal::{
    Destination, Journal, JournalError, JournalStore, LockRecord, ObjectRecord, PartRecord,
    SourceIdentity,
};
use crate::outcome::UploadOutcome;
use crate::plan::Plan;
use crate::progress::Event;
use crate::verify::Written;

/// What a journaled upload starts with.
pub(crate) enum Start {
    /// A journal of the same source and destination was followed to the end.
    Resumed(UploadOutcome),
    /// Nothing to resume: a fresh upload, to be journaled here.
    Fresh(NewJournal),
}

/// The journal store, the destination, and the id of the journal an upload of `source` to
/// the job's destination has.
fn journal_of<C: ObjectClient>(
    job: &Job<C>,
    source: &SourceIdentity,
) -> (Arc<dyn JournalStore>, Destination, String) {
    let store = job
        .ctx
        .shared
        .journal
        .clone()
        .expect("a journaled upload has a store");
    let destination = Destination {
        endpoint: job.ctx.shared.endpoint.clone(),
        bucket: job.bucket.clone(),
        key: job.key.clone(),
    };
    let id = store.id_for(&destination, &source.path);
    (store, destination, id)
}

/// Whether an earlier upload of `source` to the job's destination left a journal.
pub(crate) fn has_journal<C: ObjectClient>(
    job: &Job<C>,
    source: &SourceIdentity,
) -> Result<bool, Error> {
    let (store, _, id) = journal_of(job, source);
    match store.peek(&id) {
        Ok(journal) => Ok(journal.is_some()),
        // There is one: opening it decides ([`start_or_resume`]).
        Err(JournalError::Damaged { .. }) => Ok(true),
        Err(e) => Err(journal_error(e)),
    }
}

/// Opens the journal of this source and destination: resumes the upload it describes (unless
/// the settings say restart, which aborts it), or returns it empty for a fresh upload.
pub(crate) async fn start_or_resume<C: ObjectClient>(
    job: &Arc<Job<C>>,
    source: SourceIdentity,
    parts: &Arc<dyn PartSource<C>>,
) -> Result<Start, Error> {
    let (store, destination, id) = journal_of(job, &source);
    let mut handle = store.open(&id).map_err(journal_error)?;
    let replayed = match handle.replay() {
        // Nothing in it can be trusted: a restart starts over in its place (its first line
        // is rewritten), the upload it recorded, if any, unknown and so left as it is.
        Err(e @ JournalError::Damaged { .. }) if job.settings.restart => {
            warn!(
                "{e}: starting over in its place; the multipart upload it recorded, if any, \
                 was not aborted and stays among the uploads in progress until it is"
            );
            None
        }
        replayed => replayed.map_err(journal_error)?,
    };
    match replayed {
        Some(old) if old.upload.is_some() && !job.settings.restart => {
            job.set_journal(handle);
            return resume(job.clone(), old, source, parts)
                .await
                .map(Start::Resumed);
        }
        Some(old) => match &old.upload {
            // Restarting: the old upload goes.
            Some(u) => job.abort_or_warn(&u.upload_id).await,
            // Only an intent: Create may have run; abort what it may have left.
            None => abort_orphans(job, old.started, None).await?,
        },
        None => {}
    }
    Ok(Start::Fresh(NewJournal {
        handle,
        destination,
        source,
    }))
}

/// Resumes the upload a journal describes: re-checks the parts it lists against the source,
/// reconciles them with ListParts, sends what is missing or wrong, completes.
async fn resume<C: ObjectClient>(
    job: Arc<Job<C>>,
    old: Journal,
    source: SourceIdentity,
    parts: &Arc<dyn PartSource<C>>,
) -> Result<UploadOutcome, Error> {
    let u = old.upload.clone().expect("a journal with an upload");
    // Refused before anything changed: the journal and the upload stay as they are.
    let refuse = |what: Mismatch, message: String| {
        Error::mismatch(what, message).kept_for_resume(old.id.clone())
    };
    if let Some(diff) = old.source.difference(&source) {
        return Err(refuse(
            Mismatch::Source(diff.clone()),
            format!(
                "{} changed since its {} began ({diff} differ)",
                source.path.display(),
                job.noun
            ),
        ));
    }
    let key_md5 = job
        .options
        .request
        .sse_customer_key
        .as_ref()
        .map(|k| k.key_md5().to_string());
    if key_md5 != u.sse_c_key_md5 {
        let what = Mismatch::SseCustomerKey {
            began: u.sse_c_key_md5.is_some(),
            given: key_md5.is_some(),
        };
        let message = match u.sse_c_key_md5 {
            Some(_) if key_md5.is_some() => "the SSE-C key is not the one the upload began with",
            Some(_) => "the upload began with an SSE-C key: give it again",
            None => "the upload began without an SSE-C key, and one was given",
        };
        return Err(refuse(what, message.into()));
    }
    if let Some(ps) = job.settings.plan.part_size
        && ps != u.part_size
    {
        return Err(refuse(
            Mismatch::PartSize {
                began: u.part_size,
                asked: ps,
            },
            format!(
                "the upload began with part size {} bytes, not {ps}",
                u.part_size
            ),
        ));
    }
    // The object gets the lock the upload was created with: another asked now is refused,
    // and the check after the write compares the object with the upload's own.
    let mut options = job.options.clone();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let elapsed = now.saturating_sub(old.started);
    if let Some(recorded) = &u.object_lock {
        options = finishing_lock(&options, recorded, elapsed).map_err(|differs| {
            let (headers, said): (Vec<String>, Vec<String>) = differs.into_iter().unzip();
            refuse(
                Mismatch::ObjectLock(headers),
                format!(
                    "the {} began with another object lock than the one asked now: {}",
                    job.noun,
                    said.join("; ")
                ),
            )
        })?;
    }
    // So are the object's other settings: another asked now is refused.
    if let Some(recorded) = &u.object {
        let expires = &recorded.content.expires;
        if same_span(&options.content.expires, expires, elapsed) {
            options.content.expires.clone_from(expires);
        }
        let differs = settings_differ(&options, recorded);
        if !differs.is_empty() {
            let (headers, said): (Vec<String>, Vec<String>) = differs.into_iter().unzip();
            return Err(refuse(
                Mismatch::ObjectSettings(headers),
                format!(
                    "the {} began with other settings for its object than the ones asked now: \
                     {}",
                    job.noun,
                    said.join("; ")
                ),
            ));
        }
    }
    // The journal's settings finish the upload, whatever this run asked for.
    let mut settings = job.settings.clone();
    settings.checksum = mode_from_record(&u)?;
    let job = Arc::new(job.with(settings, options));
    let size = source.size;
    let plan = Plan::Multipart {
        size,
        part_size: u.part_size,
        parts: u.parts,
    };
    if plan.part_range(u.parts).0 >= size || u.parts as u64 * u.part_size < size {
        return Err(refuse(
            Mismatch::Plan,
            "the journal's plan does not fit the source".into(),
        ));
    }
    let upload_id: Arc<str> = Arc::from(u.upload_id.as_str());
    job.planned(Some(size), u.part_size, Some(u.parts));

    // 1. The parts the journal lists, checked against the source (the last record of a part
    //    number wins).
    let mut recorded: BTreeMap<u32, PartRecord> = BTreeMap::new();
    for p in old.parts {
        recorded.insert(p.part, p);
    }
    let mut intact = Vec::new();
    for (n, rec) in &recorded {
        if parts.intact(rec, plan.part_range(*n)).await? {
            intact.push(rec.clone());
        } else {
            warn!(
                part = n,
                "part {n} of the source changed since it was sent; sending it again"
            );
        }
    }
    // 2. What the server holds (a part number may be listed twice: any copy with the
    //    journal's ETag will do).
    let req = ListPartsRequest {
        bucket: job.bucket.clone(),
        key: job.key.clone(),
        upload_id: upload_id.to_string(),
        request: job.options.request.clone(),
        ..Default::default()
    };
    let req = &req;
    let listed = job
        .ctx
        .request(None, |c| async move {
            match ferry_s3::list_all_parts(c, req).await {
                Err(e) if e.code() == Some("NoSuchUpload") => Ok(None),
                other => other.map(Some),
            }
        })
        .await;
    let listed = match listed {
        Ok(Some(l)) => l,
        Ok(None) => return finished_elsewhere(&job, &upload_id, &recorded, size).await,
        Err(f) => {
            let err = job.failed("listing the parts of the upload to resume", f);
            if err.kind() == ErrorKind::Denied {
                // Nothing is wrong with the upload: these credentials may not list its
                // parts. It and its journal stay, for credentials that may, or a restart.
                let message = format!(
                    "resuming needs s3:ListMultipartUploadParts, to learn which parts the \
                     server holds: {err}; the upload {upload_id} and its journal are kept"
                );
                let err = err.with_message(message);
                return Err(match job.journal_id() {
                    Some(id) => err.kept_for_resume(id),
                    None => err,
                });
            }
            return Err(job.give_up(&upload_id, err).await);
        }
    };
    let mut done = Vec::new();
    for rec in intact {
        if listed
            .iter()
            .any(|l| l.part_number == rec.part && same_etag(&l.etag, &rec.etag))
        {
            done.push(done_from_record(job.mode(), &rec)?);
        }
    }
    // 3. What the server holds that the journal does not list (the run ended between a
    //    part's answer and its record): kept when the source's bytes, read again, match it.
    let mut have: HashSet<u32> = done.iter().map(|d| d.part.part_number).collect();
    for l in &listed {
        if l.part_number == 0 || l.part_number > u.parts || have.contains(&l.part_number) {
            continue;
        }
        let range = plan.part_range(l.part_number);
        if let Some(rec) = parts.adopt(job.mode(), l, range).await? {
            job.record(&rec)?;
            have.insert(rec.part);
            done.push(done_from_record(job.mode(), &rec)?);
        }
    }
    job.emit(Event::Resumed {
        upload_id: upload_id.to_string(),
        parts_done: have.len() as u32,
        parts_to_send: u.parts - have.len() as u32,
    });
    let mut reused = 0;
    for d in &done {
        let len = plan.part_range(d.part.part_number).1;
        reused += len;
        job.ctx.progress.add_reused(len);
        job.ctx.progress.part_started();
        job.ctx.progress.part_ended(true);
    }
    let _ = job.reused.set(reused);
    // What is left to send, from the allowance: the upload and its journal stay as they were
    // when it does not fit.
    if let Err(e) = job.allowed(size.saturating_sub(reused)) {
        return Err(match job.journal_id() {
            Some(id) => e.kept_for_resume(id),
            None => e,
        });
    }
    // 4. The rest.
    let todo = (1..=u.parts).filter(|n| !have.contains(n));
    let sent = run_parts(&job, &upload_id, parts, plan, todo).await;
    let all = sent.map(|mut s| {
        s.extend(done);
        s
    });
    finish(&job, upload_id, all, size).await
}

/// Whether two ETags are the same (servers differ on quoting them).
fn same_etag(a: &str, b: &str) -> bool {
    a.trim_matches('"') == b.trim_matches('"')
}

/// A part recorded in the journal, as Complete needs it.
fn done_from_record(mode: ChecksumMode, rec: &PartRecord) -> Result<Done, Error> {
    let (checksum, digest) = match (mode, &rec.checksum) {
        (ChecksumMode::Additional(a, _), Some(v)) => {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(v)
                .map_err(|_| Error::invalid("a journal checksum is not base64"))?;
            (
                Some(ChecksumValue {
                    algorithm: a,
                    value: v.clone(),
                }),
                Some(Digest { raw, len: rec.size }),
            )
        }
        _ => (None, None),
    };
    Ok(Done {
        part: CompletedPart {
            part_number: rec.part,
            etag: rec.etag.clone(),
            checksum,
        },
        digest,
    })
}

/// The upload is gone: maybe a Complete whose reply was lost finished it. If the object
/// matches the journal (size, and checksum when all parts are recorded), that is success.
async fn finished_elsewhere<C: ObjectClient>(
    job: &Arc<Job<C>>,
    upload_id: &str,
    recorded: &BTreeMap<u32, PartRecord>,
    size: u64,
) -> Result<UploadOutcome, Error> {
    let parts: Vec<Done> = recorded
        .values()
        .map(|r| done_from_record(job.mode(), r))
        .collect::<Result<_, _>>()?;
    let (expected, checksum_type) = match job.mode() {
        ChecksumMode::Additional(a, t) => {
            let digests: Vec<Digest> = parts.iter().filter_map(|p| p.digest.clone()).collect();
            let covered: u64 = digests.iter().map(|d| d.len).sum();
            (
                (covered == size)
                    .then(|| object_checksum(a, t, &digests))
                    .flatten(),
                Some(t),
            )
        }
        _ => (None, None),
    };
    let written = Written {
        size,
        expected: expected.clone(),
        checksum_type,
        parts: parts.len() as u32,
        etag: String::new(),
        version_id: None,
    };
    let checked = crate::verify::verify(job, written).await;
    match checked {
        Ok(outcome) if expected.is_some() => {
            job.forget();
            Ok(outcome)
        }
        _ => Err(Error::mismatch(
            Mismatch::UploadGone,
            format!(
                "the multipart upload {upload_id} no longer exists and {} is not the finished {}",
                job.url(),
                job.noun
            ),
        )
        .kept_for_resume(job.journal_id().unwrap_or_default())),
    }
}

/// The options a resumed upload finishes with: `asked`, with the object lock the upload was
/// created with (`recorded`, which its object gets), when `asked` names no other; else what
/// differs: each header's name, and it said as asked and as it began. A retention's end given as a span from now names a later end on each run: an end
/// no later than the recorded one plus the time since the upload began (`elapsed` seconds,
/// and a minute) is the same one asked again.
fn finishing_lock(
    asked: &ferry_s3::ObjectOptions,
    recorded: &LockRecord,
    elapsed: u64,
) -> Result<ferry_s3::ObjectOptions, Vec<(String, String)>> {
    const LOCK_MODE: &str = "x-amz-object-lock-mode";
    const LOCK_UNTIL: &str = "x-amz-object-lock-retain-until-date";
    const LOCK_HOLD: &str = "x-amz-object-lock-legal-hold";
    use time::format_description::well_known::Rfc3339;
    let instant = |t: &str| time::OffsetDateTime::parse(t, &Rfc3339).ok();
    let began = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
    let mut differs = Vec::new();
    if let Some(mode) = asked.object_lock_mode
        && recorded.mode.as_deref() != Some(mode.as_str())
    {
        differs.push((
            LOCK_MODE.to_string(),
            format!(
                "retention mode {}, where it began with {}",
                mode.as_str(),
                began(&recorded.mode)
            ),
        ));
    }
    if let Some(until) = &asked.object_lock_retain_until {
        let drift = time::Duration::seconds(elapsed.saturating_add(60) as i64);
        let later = match (
            instant(until),
            recorded.retain_until.as_deref().and_then(instant),
        ) {
            (Some(a), Some(r)) => a > r + drift,
            _ => recorded.retain_until.as_ref() != Some(until),
        };
        if later {
            differs.push((
                LOCK_UNTIL.to_string(),
                format!(
                    "retained until {until}, where it began with {}",
                    began(&recorded.retain_until)
                ),
            ));
        }
    }
    let hold = |on: bool| if on { "ON" } else { "OFF" };
    if let Some(on) = asked.object_lock_legal_hold
        && recorded.legal_hold.unwrap_or(false) != on
    {
        differs.push((
            LOCK_HOLD.to_string(),
            format!(
                "legal hold {}, where it began with {}",
                hold(on),
                hold(recorded.legal_hold.unwrap_or(false))
            ),
        ));
    }
    if !differs.is_empty() {
        return Err(differs);
    }
    let mode = match &recorded.mode {
        Some(m) => Some(
            m.parse()
                .map_err(|_| vec![(LOCK_MODE.to_string(), format!("the journal's mode {m:?}"))])?,
        ),
        None => None,
    };
    Ok(ferry_s3::ObjectOptions {
        object_lock_mode: mode,
        object_lock_retain_until: recorded.retain_until.clone(),
        object_lock_legal_hold: recorded.legal_hold,
        ..asked.clone()
    })
}

/// Whether an expiry (`Expires`, an HTTP date) `asked` now is the `recorded` one asked again
/// as a span from now (`30d`), which names a later date on each run: no earlier than the
/// recorded one, and no later than it plus the time since the upload began (`elapsed`
/// seconds) and a minute.
fn same_span(asked: &Option<String>, recorded: &Option<String>, elapsed: u64) -> bool {
    let at = |t: &Option<String>| httpdate::parse_http_date(t.as_deref()?).ok();
    let drift = std::time::Duration::from_secs(elapsed.saturating_add(60));
    matches!((at(asked), at(recorded)), (Some(a), Some(r)) if a >= r && a <= r + drift)
}

/// What of the object's settings `asked` gives otherwise than the upload was created with
/// (`recorded`): each header's name, and it said as asked and as it began; empty when nothing
/// differs. Tags are a set: the same ones in another order are the same.
fn settings_differ(
    asked: &ferry_s3::ObjectOptions,
    recorded: &ObjectRecord,
) -> Vec<(String, String)> {
    let headers = |mut o: ferry_s3::ObjectOptions| -> BTreeMap<String, String> {
        o.tagging.sort();
        o.object_headers().into_iter().collect()
    };
    let began = headers(recorded.onto(ferry_s3::ObjectOptions::default()));
    let asked = headers(asked.clone());
    let names: std::collections::BTreeSet<&String> = began.keys().chain(asked.keys()).collect();
    let shown = |v: Option<&String>| v.map_or_else(|| "none".to_string(), |v| format!("{v:?}"));
    names
        .into_iter()
        .filter(|n| began.get(*n) != asked.get(*n))
        .map(|n| {
            let said = format!(
                "{n} {}, where it began with {}",
                shown(asked.get(n)),
                shown(began.get(n))
            );
            (n.clone(), said)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_s3::{ObjectLockMode, ObjectOptions};

    #[test]
    fn an_expiry_asked_as_the_same_span_again_is_the_recorded_one() {
        let t = |s: &str| Some(s.to_string());
        let began = t("Tue, 01 Jan 2030 00:00:00 GMT");
        // Asked again an hour later: an hour later, which is the same one.
        assert!(same_span(&t("Tue, 01 Jan 2030 01:00:00 GMT"), &began, 3600));
        assert!(same_span(&began, &began, 0));
        // Later than the time since could make it, or earlier: another expiry.
        assert!(!same_span(
            &t("Tue, 01 Jan 2030 01:02:00 GMT"),
            &began,
            3600
        ));
        assert!(!same_span(
            &t("Mon, 31 Dec 2029 23:00:00 GMT"),
            &began,
            3600
        ));
        assert!(!same_span(&None, &began, 3600));
        assert!(!same_span(&began, &None, 3600));
    }

    fn asked(
        mode: Option<ObjectLockMode>,
        until: Option<&str>,
        hold: Option<bool>,
    ) -> ObjectOptions {
        ObjectOptions {
            object_lock_mode: mode,
            object_lock_retain_until: until.map(str::to_string),
            object_lock_legal_hold: hold,
            ..Default::default()
        }
    }

    #[test]
    fn a_resume_keeps_the_lock_the_upload_began_with_and_refuses_another() {
        let recorded = LockRecord {
            mode: Some("GOVERNANCE".into()),
            retain_until: Some("2030-01-01T00:00:00Z".into()),
            legal_hold: None,
        };
        let g = Some(ObjectLockMode::Governance);
        // The same span asked an hour later: a later end by the hour, which is the same one.
        let o = finishing_lock(
            &asked(g, Some("2030-01-01T01:00:00Z"), None),
            &recorded,
            3600,
        )
        .unwrap();
        assert_eq!(
            o.object_lock_retain_until.as_deref(),
            Some("2030-01-01T00:00:00Z")
        );
        assert_eq!(o.object_lock_mode, g);
        // No lock asked now: the upload's own is what the object gets, and is checked.
        let o = finishing_lock(&asked(None, None, None), &recorded, 0).unwrap();
        assert_eq!(o.object_lock_mode, g);
        // An earlier end: the object keeps the longer one it began with.
        assert!(
            finishing_lock(&asked(g, Some("2029-01-01T00:00:00Z"), None), &recorded, 0).is_ok()
        );
        // Hold OFF asked where none was: the same.
        assert!(finishing_lock(&asked(None, None, Some(false)), &recorded, 0).is_ok());
        for (options, needle) in [
            (
                asked(g, Some("2030-01-02T00:00:00Z"), None),
                "retained until 2030-01-02T00:00:00Z, where it began with 2030-01-01T00:00:00Z",
            ),
            (
                asked(
                    Some(ObjectLockMode::Compliance),
                    Some("2030-01-01T00:00:00Z"),
                    None,
                ),
                "retention mode COMPLIANCE, where it began with GOVERNANCE",
            ),
            (
                asked(None, None, Some(true)),
                "legal hold ON, where it began with OFF",
            ),
        ] {
            let e = finishing_lock(&options, &recorded, 3600).unwrap_err();
            assert_eq!(e.len(), 1, "{e:?}");
            assert!(e[0].1.contains(needle), "{e:?}");
        }
        // An upload created without a lock takes none afterwards.
        let e = finishing_lock(
            &asked(g, Some("2030-01-01T00:00:00Z"), None),
            &LockRecord::default(),
            0,
        )
        .unwrap_err();
        let headers: Vec<&str> = e.iter().map(|(h, _)| h.as_str()).collect();
        assert_eq!(
            headers,
            [
                "x-amz-object-lock-mode",
                "x-amz-object-lock-retain-until-date"
            ]
        );
        assert!(
            e.iter()
                .all(|(_, s)| s.contains("where it began with none")),
            "{e:?}"
        );
    }

    /// The settings a resume compares: the same ones agree whatever their order; each
    /// other one is named, as asked and as begun.
    #[test]
    fn a_resume_names_each_setting_asked_otherwise_than_it_began() {
        let mut began = ferry_s3::ObjectOptions::default();
        began.content.content_type = Some("text/plain".into());
        began.metadata.insert("a".into(), "1".into());
        began.tagging = vec![("t".into(), "1".into()), ("u".into(), "2".into())];
        began.website_redirect = Some("/a.html".into());
        let recorded = ObjectRecord::of(&began);
        let said = |asked: &ferry_s3::ObjectOptions, recorded: &ObjectRecord| {
            let differs = settings_differ(asked, recorded);
            differs
                .into_iter()
                .map(|(_, s)| s)
                .collect::<Vec<_>>()
                .join("; ")
        };
        assert_eq!(said(&began, &recorded), "");
        // What travels with every request, and the lock, are not the object's settings.
        let mut same = began.clone();
        same.request.request_payer = true;
        same.object_lock_legal_hold = Some(true);
        assert_eq!(said(&same, &recorded), "");
        // A resume by journal id asks for the recorded settings.
        assert_eq!(
            recorded
                .onto(ferry_s3::ObjectOptions::default())
                .object_headers(),
            began.object_headers()
        );

        let mut moved = began.clone();
        moved.website_redirect = Some("/b.html".into());
        assert_eq!(
            said(&moved, &recorded),
            "x-amz-website-redirect-location \"/b.html\", where it began with \"/a.html\""
        );

        let mut other = began.clone();
        other.content.content_type = None;
        other.metadata.insert("a".into(), "2".into());
        other.storage_class = Some("STANDARD_IA".into());
        other.sse = Some(ferry_s3::ServerSideEncryption::S3);
        assert_eq!(
            said(&other, &recorded),
            "content-type none, where it began with \"text/plain\"; \
             x-amz-meta-a \"2\", where it began with \"1\"; \
             x-amz-server-side-encryption \"AES256\", where it began with none; \
             x-amz-storage-class \"STANDARD_IA\", where it began with none"
        );
        let named: Vec<String> = settings_differ(&other, &recorded)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            named,
            [
                "content-type",
                "x-amz-meta-a",
                "x-amz-server-side-encryption",
                "x-amz-storage-class"
            ]
        );
        // The same tags in another order are the same tags; another value is not.
        let mut swapped = began.clone();
        swapped.tagging.reverse();
        assert_eq!(said(&swapped, &recorded), "");
        swapped.tagging[0].1 = "3".into();
        assert_eq!(
            said(&swapped, &recorded),
            "x-amz-tagging \"t=1&u=3\", where it began with \"t=1&u=2\""
        );
    }
}
