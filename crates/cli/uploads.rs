//! `ferry uploads ls|abort`: the multipart uploads in progress on the server, which of them a
//! local journal can resume, and aborting the ones nobody will finish.

use std::collections::HashMap;
use std::path::PathBuf;

use ferry_engine::{FileJournalStore, JournalStore as _};
use ferry_s3::{
    AbortMultipartUploadRequest, ListMultipartUploadsRequest, ListPartsRequest, ObjectClient,
    UploadInfo, list_all_parts, list_all_uploads,
};

use crate::args::{Global, UploadsCmd};
use crate::client::{client, parse_s3_url};
use crate::exit::{CliError, bad_input};
use crate::report::json_line;

/// Parses `7d`, `12h`, `30m`, `45s`.
pub(crate) fn parse_age(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, unit) = t.split_at(t.len().saturating_sub(1));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not an age (e.g. 7d, 12h, 30m)"))?;
    let secs = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return Err(format!("{s:?} is not an age (e.g. 7d, 12h, 30m)")),
    };
    Ok(n * secs)
}

fn initiated_secs(u: &UploadInfo) -> Option<i64> {
    let t = u.initiated.as_deref()?;
    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// Upload id to journal id, for the journals in `dir`.
fn journals_by_upload(dir: &Option<PathBuf>) -> HashMap<String, String> {
    let Some(dir) = dir.clone().or_else(FileJournalStore::default_dir) else {
        return HashMap::new();
    };
    let store = FileJournalStore::new(dir);
    let mut map = HashMap::new();
    for id in store.list().unwrap_or_default() {
        if let Ok(Some(j)) = store.peek(&id)
            && let Some(u) = j.upload
        {
            map.insert(u.upload_id, id);
        }
    }
    map
}

pub(crate) async fn run(global: &Global, cmd: UploadsCmd) -> Result<(), CliError> {
    match cmd {
        UploadsCmd::Ls {
            target,
            json,
            state_dir,
        } => {
            let url = parse_s3_url(&target)?;
            let client = client(global).await?;
            let prefix = (!url.key.is_empty()).then(|| url.key.clone());
            let uploads = list_all_uploads(
                &client,
                &ListMultipartUploadsRequest {
                    bucket: url.bucket.clone(),
                    prefix,
                    ..Default::default()
                },
            )
            .await?;
            let journals = journals_by_upload(&state_dir);
            if !json {
                println!(
                    "{:<24} {:>6} {:>14}  {:<10} UPLOAD ID  KEY",
                    "INITIATED", "PARTS", "BYTES", "RESUMABLE"
                );
            }
            for u in &uploads {
                let parts = list_all_parts(
                    &client,
                    &ListPartsRequest {
                        bucket: url.bucket.clone(),
                        key: u.key.clone(),
                        upload_id: u.upload_id.clone(),
                        ..Default::default()
                    },
                )
                .await
                .unwrap_or_default();
                let mut numbers: Vec<u32> = parts.iter().map(|p| p.part_number).collect();
                numbers.sort();
                numbers.dedup();
                let bytes: u64 = parts.iter().map(|p| p.size).sum();
                let journal = journals.get(&u.upload_id);
                if json {
                    println!(
                        "{}",
                        json_line(
                            "upload",
                            serde_json::json!({
                                "bucket": url.bucket, "key": u.key, "upload_id": u.upload_id,
                                "initiated": u.initiated, "parts": numbers.len(), "bytes": bytes,
                                "journal": journal,
                            })
                        )
                    );
                } else {
                    println!(
                        "{:<24} {:>6} {:>14}  {:<10} {}  {}",
                        u.initiated.as_deref().unwrap_or("?"),
                        numbers.len(),
                        bytes,
                        journal.map(String::as_str).unwrap_or("no"),
                        u.upload_id,
                        u.key
                    );
                }
            }
            Ok(())
        }
        UploadsCmd::Abort {
            target,
            upload_id,
            older_than,
            all,
            dry_run,
            state_dir,
        } => {
            let url = parse_s3_url(&target)?;
            let min_age = older_than
                .as_deref()
                .map(parse_age)
                .transpose()
                .map_err(bad_input)?;
            if upload_id.is_none() && min_age.is_none() && !all {
                return Err(bad_input(
                    "say which uploads: --upload-id ID, --older-than AGE or --all",
                ));
            }
            if upload_id.is_some() && url.key.is_empty() {
                return Err(bad_input("--upload-id needs s3://bucket/key"));
            }
            let client = client(global).await?;
            let candidates = match &upload_id {
                Some(id) => vec![UploadInfo {
                    key: url.key.clone(),
                    upload_id: id.clone(),
                    initiated: None,
                    storage_class: None,
                }],
                None => {
                    list_all_uploads(
                        &client,
                        &ListMultipartUploadsRequest {
                            bucket: url.bucket.clone(),
                            prefix: (!url.key.is_empty()).then(|| url.key.clone()),
                            ..Default::default()
                        },
                    )
                    .await?
                }
            };
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let chosen: Vec<&UploadInfo> = candidates
                .iter()
                .filter(|u| match min_age {
                    Some(age) => initiated_secs(u).is_some_and(|t| now - t >= age as i64),
                    None => true,
                })
                .collect();
            let dir = state_dir.clone().or_else(FileJournalStore::default_dir);
            let journals = journals_by_upload(&dir);
            for u in chosen {
                let verb = if dry_run { "would abort" } else { "aborted" };
                if !dry_run {
                    client
                        .abort_multipart_upload(&AbortMultipartUploadRequest {
                            bucket: url.bucket.clone(),
                            key: u.key.clone(),
                            upload_id: u.upload_id.clone(),
                            ..Default::default()
                        })
                        .await?;
                    if let (Some(dir), Some(id)) = (&dir, journals.get(&u.upload_id)) {
                        let _ = std::fs::remove_file(dir.join(format!("{id}.journal")));
                    }
                }
                println!(
                    "{verb}: s3://{}/{} upload {}",
                    url.bucket, u.key, u.upload_id
                );
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(parse_age("7d"), Ok(7 * 86_400));
        assert_eq!(parse_age("12h"), Ok(43_200));
        assert_eq!(parse_age("30m"), Ok(1_800));
        assert!(parse_age("soon").is_err());
        assert!(parse_age("7").is_err());
    }
}
