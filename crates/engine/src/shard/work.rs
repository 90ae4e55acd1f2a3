//! One worker of a plan: it sends only its own parts, and only those the server does not
//! already hold with the checksum it computes for them from the source (the part's CRC64NVME,
//! or its MD5 ETag where the server lists no checksum), so a worker run again, or replaced on
//! a fresh host with no local state, picks up from ListParts; then it records its parts'
//! CRCs beside the plan for the finish.

use std::collections::BTreeMap;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_s3::{
    ChecksumAlgorithm, ListPartsRequest, ObjectClient, ObjectOptions, PartInfo, RequestOptions,
};

use super::Shard;
use super::plan::{RecordedPart, ShardRecord, put, read};
use crate::checksum::{Hasher, hex_lower};
use crate::context::Context;
use crate::error::{Error, ErrorKind};
use crate::journal::SourceIdentity;

/// One worker's run of a plan.
#[derive(Debug, Clone)]
pub struct PlanWork {
    /// Where the plan is: bucket.
    pub plan_bucket: String,
    /// And key.
    pub plan_key: String,
    /// Which worker this is.
    pub shard: Shard,
    /// The source's path on this host (else the plan's).
    pub source: Option<PathBuf>,
    /// The object the caller means to write (`bucket`, `key`): refused if the plan writes
    /// another.
    pub destination: Option<(String, String)>,
    /// The bucket's terms (expected owner, requester pays; an SSE-C key is not sent), with
    /// every request: the plan's and the record's, the parts' and those of a copy's source.
    pub request: RequestOptions,
}

/// What a worker did.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct WorkOutcome {
    /// Its parts.
    pub parts: u32,
    /// Parts it sent.
    pub sent: u32,
    /// Parts the server already held with the right checksum.
    pub kept: u32,
    /// Bytes it sent.
    pub bytes: u64,
    /// Where it recorded its parts.
    pub record: String,
}

/// Every part of `plan`'s upload the server lists, by number and of the planned size, asked
/// in the bucket's `terms`. (A number may come more than once: SeaweedFS lists each upload of
/// a part, and Complete takes the one whose ETag it is given.)
pub(crate) async fn listed<C: ObjectClient>(
    ctx: &Context<C>,
    plan: &super::ShardPlan,
    terms: &RequestOptions,
) -> Result<BTreeMap<u32, Vec<PartInfo>>, Error> {
    let req = ListPartsRequest {
        bucket: plan.bucket.clone(),
        key: plan.key.clone(),
        upload_id: plan.upload_id.clone(),
        part_number_marker: None,
        max_parts: None,
        request: terms.clone(),
    };
    let parts = ctx
        .request(None, |c| async { ferry_s3::list_all_parts(c, &req).await })
        .await
        .map_err(|f| {
            f.into_error(
                format!("listing the parts of upload {}", plan.upload_id),
                "upload",
            )
        })?;
    let multipart = plan.plan();
    let mut by_number: BTreeMap<u32, Vec<PartInfo>> = BTreeMap::new();
    for p in parts {
        if (1..=plan.parts).contains(&p.part_number)
            && p.size == multipart.part_range(p.part_number).1
        {
            by_number.entry(p.part_number).or_default().push(p);
        }
    }
    Ok(by_number)
}

/// The CRC64NVME of bytes `offset..offset + len` of the file at `path`, when the part the
/// server lists holds them: its checksum is that CRC (AWS lists part checksums), or else its
/// ETag is their MD5 (servers that list none, as SeaweedFS; not SSE-KMS or SSE-C parts).
async fn held(
    path: &Path,
    offset: u64,
    len: u64,
    listed: &PartInfo,
) -> Result<Option<String>, Error> {
    let listed_crc = listed.checksum.as_ref().map(|c| c.value.clone());
    let etag = listed.etag.trim_matches('"').to_ascii_lowercase();
    if listed_crc.is_none() && (etag.len() != 32 || !etag.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Ok(None);
    }
    let path = path.to_path_buf();
    let (crc, md5) = tokio::task::spawn_blocking(move || -> std::io::Result<(String, String)> {
        let file = std::fs::File::open(&path)?;
        let mut crc = Hasher::new(ChecksumAlgorithm::Crc64Nvme);
        let mut md5 = Hasher::md5();
        let mut buf = vec![0u8; 1 << 20];
        let mut done = 0;
        while done < len {
            let n = (len - done).min(buf.len() as u64) as usize;
            file.read_exact_at(&mut buf[..n], offset + done)?;
            crc.update(&buf[..n]);
            md5.update(&buf[..n]);
            done += n as u64;
        }
        Ok((crc.finish(len).base64(), hex_lower(&md5.finish(len).raw)))
    })
    .await
    .map_err(|e| Error::new(ErrorKind::Local, format!("the check task failed: {e}")))?
    .map_err(|e| Error::local("reading the source", e))?;
    let same = match listed_crc {
        Some(listed) => listed == crc,
        None => etag == md5,
    };
    Ok(same.then_some(crc))
}

/// Runs one worker of a plan.
pub(crate) async fn work<C: ObjectClient>(
    ctx: Context<C>,
    w: PlanWork,
) -> Result<WorkOutcome, Error> {
    let terms = &w.request.bucket_terms();
    let plan = read(&ctx, &w.plan_bucket, &w.plan_key, terms).await?;
    if let Some((bucket, key)) = &w.destination
        && (bucket, key) != (&plan.bucket, &plan.key)
    {
        return Err(Error::invalid(format!(
            "{} writes s3://{}/{}, not s3://{bucket}/{key}",
            plan.url(),
            plan.bucket,
            plan.key
        )));
    }
    let (shard, source) = (w.shard, w.source);
    if shard.count != plan.shards {
        return Err(Error::invalid(format!(
            "{} is a plan for {} workers, not {}",
            plan.url(),
            plan.shards,
            shard.count
        )));
    }
    let job = plan.job(&ctx, ObjectOptions::in_terms(terms));
    let multipart = plan.plan();
    let mine = shard.parts(plan.parts);
    let bytes: u64 = mine.clone().map(|n| multipart.part_range(n).1).sum();
    ctx.progress.set_total(bytes, mine.clone().count() as u32);
    let mut record = ShardRecord {
        shard: shard.index,
        size: plan.size,
        mtime_ns: plan.mtime_ns,
        parts: Vec::new(),
    };
    let listed = listed(&ctx, &plan, terms).await?;
    let mut todo = Vec::new();
    let (parts, file) = match plan.object_source() {
        Some(from) => {
            if let Some(named) = source.filter(|s| *s != plan.source) {
                return Err(Error::invalid(format!(
                    "{} copies {}, not {}",
                    plan.url(),
                    plan.source.display(),
                    named.display()
                )));
            }
            let etag = plan.source_etag.as_deref().unwrap_or_default();
            let (parts, _) = crate::copy::pinned_parts(&ctx, &from, etag, plan.size, terms).await?;
            // Every part copy is pinned to the source's ETag: a part listed whole was copied
            // from this very object.
            for n in mine.clone() {
                match listed.get(&n).and_then(|v| v.first()) {
                    Some(p) => record.parts.push(RecordedPart {
                        number: n,
                        size: p.size,
                        crc64nvme: p
                            .checksum
                            .as_ref()
                            .map(|c| c.value.clone())
                            .unwrap_or_default(),
                        etag: p.etag.clone(),
                    }),
                    None => todo.push(n),
                }
            }
            (parts, None)
        }
        None => {
            let path = source.unwrap_or_else(|| plan.source.clone());
            let cannot = |e: std::io::Error| Error::unreadable("read", &path, e);
            let file = std::fs::File::open(&path).map_err(cannot)?;
            plan.check_source(&SourceIdentity::of(&path).map_err(cannot)?)?;
            for n in mine.clone() {
                let (offset, len) = multipart.part_range(n);
                let mut found = None;
                for p in listed.get(&n).into_iter().flatten() {
                    if let Some(crc) = held(&path, offset, len, p).await? {
                        found = Some(RecordedPart {
                            number: n,
                            size: len,
                            crc64nvme: crc,
                            etag: p.etag.clone(),
                        });
                        break;
                    }
                }
                match found {
                    Some(part) => record.parts.push(part),
                    None => todo.push(n),
                }
            }
            (crate::upload::file_parts::<C>(file), Some(path))
        }
    };
    let kept = record.parts.len() as u32;
    let upload_id: Arc<str> = Arc::from(plan.upload_id.as_str());
    let sent =
        crate::multipart::run_parts(&job, &upload_id, &parts, multipart, todo.into_iter()).await?;
    let mut sent_bytes = 0;
    for d in &sent {
        let size = multipart.part_range(d.part.part_number).1;
        sent_bytes += size;
        record.parts.push(RecordedPart {
            number: d.part.part_number,
            size,
            // A copied part has one only when the server gives it.
            crc64nvme: d.digest.as_ref().map(|d| d.base64()).unwrap_or_default(),
            etag: d.part.etag.clone(),
        });
    }
    record.parts.sort();
    // A file must still be the planned one after its last byte was read.
    if let Some(path) = &file {
        let identity = SourceIdentity::of(path).map_err(|e| Error::unreadable("read", path, e))?;
        plan.check_source(&identity)?;
    }
    let record_key = plan.record_key(shard.index);
    let body = serde_json::to_vec(&record).expect("a record serializes");
    put(&ctx, &plan.plan_bucket, &record_key, body, terms).await?;
    Ok(WorkOutcome {
        parts: mine.count() as u32,
        sent: sent.len() as u32,
        kept,
        bytes: sent_bytes,
        record: format!("s3://{}/{record_key}", plan.plan_bucket),
    })
}
