//! The end of a planned upload: every part listed (ListParts gives each part's size, and its
//! checksum where the server keeps it), each part's CRC64NVME taken from the record of the
//! worker that computed it from the source and checked against the server's, the full-object
//! CRC64NVME combined from them without reading any data, the upload completed with it,
//! the object verified with HeadObject, and the plan and records deleted. Missing parts or a
//! checksum that differs refuse the finish, naming the parts and their workers.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ferry_s3::{
    ChecksumAlgorithm, ChecksumValue, CompletedPart, ObjectClient, ObjectOptions, RequestOptions,
};

use super::Shard;
use super::plan::{ShardRecord, get, read, remove_plan};
use super::work::listed;
use crate::checksum::Digest;
use crate::context::Context;
use crate::error::Error;
use crate::multipart::Done;
use crate::outcome::UploadOutcome;

/// What the finish did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FinishOutcome {
    /// The object written.
    pub upload: UploadOutcome,
    /// Where its plan was (now deleted).
    pub plan: String,
}

/// Parts as a short list: `3, 7-9`.
fn runs(numbers: &[u32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < numbers.len() {
        let mut j = i;
        while j + 1 < numbers.len() && numbers[j + 1] == numbers[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            numbers[i].to_string()
        } else {
            format!("{}-{}", numbers[i], numbers[j])
        });
        i = j + 1;
    }
    out.join(", ")
}

/// Completes the plan at `bucket`/`key`, every request in the bucket's `terms`.
pub(crate) async fn finish<C: ObjectClient>(
    ctx: Context<C>,
    bucket: &str,
    key: &str,
    terms: &RequestOptions,
) -> Result<FinishOutcome, Error> {
    let terms = &terms.bucket_terms();
    let plan = read(&ctx, bucket, key, terms).await?;
    let shard_of = |n: u32| {
        (0..plan.shards)
            .find(|&index| {
                Shard {
                    index,
                    count: plan.shards,
                }
                .parts(plan.parts)
                .contains(&n)
            })
            .unwrap_or(0)
    };
    let workers = |parts: &[u32]| {
        let mut w: Vec<u32> = parts.iter().map(|&n| shard_of(n)).collect();
        w.dedup();
        w.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
    };
    let listed = listed(&ctx, &plan, terms).await?;
    let missing: Vec<u32> = (1..=plan.parts)
        .filter(|n| !listed.contains_key(n))
        .collect();
    if !missing.is_empty() {
        return Err(Error::invalid(format!(
            "{} of {} parts are missing or of the wrong size: {} (worker {}); run those workers again, then finish",
            missing.len(),
            plan.parts,
            runs(&missing),
            workers(&missing)
        )));
    }
    // Each part's CRC64NVME, as its worker computed it from the source.
    let mut computed = vec![None; plan.parts as usize + 1];
    for index in 0..plan.shards {
        let Some(bytes) = get(&ctx, &plan.plan_bucket, &plan.record_key(index), terms).await?
        else {
            continue;
        };
        let record: ShardRecord = serde_json::from_slice(&bytes).map_err(|e| {
            Error::invalid(format!("the record of worker {index} is not readable: {e}"))
        })?;
        if (record.size, record.mtime_ns) != (plan.size, plan.mtime_ns) {
            return Err(Error::invalid(format!(
                "worker {index} read another version of {} than was planned; plan again",
                plan.source.display()
            )));
        }
        for part in record.parts {
            if let Some(slot) = computed.get_mut(part.number as usize) {
                *slot = Some(part);
            }
        }
    }
    let mut unrecorded = Vec::new();
    let mut differing = Vec::new();
    let mut done = Vec::with_capacity(plan.parts as usize);
    for n in 1..=plan.parts {
        let Some(recorded) = &computed[n as usize] else {
            unrecorded.push(n);
            continue;
        };
        // The part the server holds is the one its worker sent: the same ETag, and the same
        // checksum where the server lists one.
        let same = |p: &&ferry_s3::PartInfo| {
            p.etag.trim_matches('"') == recorded.etag.trim_matches('"')
                && (recorded.crc64nvme.is_empty()
                    || p.checksum
                        .as_ref()
                        .is_none_or(|c| c.value == recorded.crc64nvme))
        };
        let Some(p) = listed[&n].iter().find(same) else {
            differing.push(n);
            continue;
        };
        // A copied part has a CRC only when the server gave one: then no full-object
        // checksum is combined, and the copy is checked against its source's after.
        let crc = (!recorded.crc64nvme.is_empty()).then(|| recorded.crc64nvme.clone());
        let raw = match &crc {
            Some(c) => Some(B64.decode(c).map_err(|_| {
                Error::invalid(format!("part {n}'s recorded checksum is not base64"))
            })?),
            None => None,
        };
        done.push(Done {
            part: CompletedPart {
                part_number: n,
                etag: p.etag.clone(),
                checksum: crc.map(|value| ChecksumValue {
                    algorithm: ChecksumAlgorithm::Crc64Nvme,
                    value,
                }),
            },
            digest: raw.map(|raw| Digest { raw, len: p.size }),
        });
    }
    if !differing.is_empty() {
        return Err(Error::invalid(format!(
            "part {} on the server is not the one its worker sent from {} (its ETag or checksum differs; worker {}): those parts hold other bytes; run those workers again, then finish",
            runs(&differing),
            plan.source.display(),
            workers(&differing)
        )));
    }
    if !unrecorded.is_empty() {
        return Err(Error::invalid(format!(
            "parts {} have no checksum recorded by their worker (worker {} did not finish); run those workers again, then finish",
            runs(&unrecorded),
            workers(&unrecorded)
        )));
    }
    let job = plan.job(&ctx, ObjectOptions::in_terms(terms));
    let _ = job.kept_by.set(plan.url());
    ctx.progress.set_total(plan.size, plan.parts);
    let upload_id: Arc<str> = Arc::from(plan.upload_id.as_str());
    let mut upload = crate::multipart::finish(&job, upload_id, Ok(done), plan.size).await?;
    if let Some(from) = plan.object_source() {
        // A copy is checked against its source's full-object checksum, when it has one.
        let (_, meta) = from.head(&ctx, terms).await?;
        upload = crate::copy::checked_against_source(&ctx, &meta, upload, terms).await?;
    }
    remove_plan(&ctx, &plan, terms).await;
    Ok(FinishOutcome {
        upload,
        plan: plan.url(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn parts_are_named_in_runs() {
        assert_eq!(super::runs(&[3, 7, 8, 9, 12]), "3, 7-9, 12");
        assert_eq!(super::runs(&[1]), "1");
    }
}
