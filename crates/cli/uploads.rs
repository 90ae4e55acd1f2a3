//! `ferry uploads ls|abort`: the multipart uploads in progress on the server, which of them a
//! local journal can resume, and aborting the ones nobody will finish; with no target, `ls`
//! lists the local journals alone.

use std::path::PathBuf;

use ferry_engine::{FileJournalStore, Journal, Manager, ManagerConfig, UploadInProgress};
use ferry_s3::S3Client;

use crate::args::{Global, UploadsAt, UploadsCmd};
use crate::client::{client, manager, parse_s3_url, state_dir as state_dir_of};
use crate::exit::{CliError, bad_input, engine_error};
use crate::output::shown;
use crate::output::{errln, outln};
use crate::report::{json_line, rfc3339};
use crate::run::journal_source;

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

/// Uploads as the rows of `uploads ls`'s table.
fn rows(uploads: &[UploadInProgress]) -> Vec<[String; 6]> {
    uploads
        .iter()
        .map(|u| {
            let (parts, bytes) = u.held.unwrap_or_default();
            let held = |n: u64| u.held.map_or("?".to_string(), |_| n.to_string());
            let (resumable, plan) = match (&u.journal, &u.plan) {
                (Some(j), _) => (j.clone(), String::new()),
                (None, Some(p)) => ("plan".into(), format!("  (planned: {p})")),
                (None, None) => ("no".into(), String::new()),
            };
            [
                u.initiated.clone().unwrap_or_else(|| "?".into()),
                held(u64::from(parts)),
                held(bytes),
                resumable,
                u.upload_id.clone(),
                format!("{}{plan}", shown(&u.key, false)),
            ]
        })
        .collect()
}

/// The server's uploads under their header.
fn table(rows: &[[String; 6]]) -> String {
    let header = [
        "INITIATED",
        "PARTS",
        "BYTES",
        "RESUMABLE",
        "UPLOAD ID",
        "KEY",
    ];
    columns(header, rows, &[1, 2])
}

/// Rows under their header, each column as wide as its widest value (journal and upload ids
/// vary in length from one server to another); the columns `right` (counts) align right, the
/// last runs free.
fn columns<const N: usize>(header: [&str; N], rows: &[[String; N]], right: &[usize]) -> String {
    let header = header.map(String::from);
    let all: Vec<&[String; N]> = std::iter::once(&header).chain(rows).collect();
    let width = |i: usize| all.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for r in all.iter() {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            let last = i + 1 == N;
            let pad = if last { 0 } else { width(i) };
            let cell = if right.contains(&i) {
                format!("{cell:>pad$}")
            } else {
                format!("{cell:<pad$}")
            };
            line.push_str(&cell);
            line.push_str(if last { "" } else { "  " });
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// `uploads ls` with no target: the journals in the state folder, each an upload or copy this
/// machine can resume, read without a request (or a lock: one a running ferry drives shows as
/// it is now, marked running: `ferry resume` would refuse it until that ferry stops).
fn journals(state_dir: Option<PathBuf>, json: bool) -> Result<(), CliError> {
    use ferry_engine::JournalStore as _;
    let dir = state_dir_of(state_dir)?;
    let store = FileJournalStore::new(&dir);
    let mut found: Vec<Journal> = Vec::new();
    for id in store.list().map_err(bad_input)? {
        match store.peek(&id) {
            Ok(Some(j)) => found.push(j),
            Ok(None) => {}
            Err(e) => errln!("ferry: passed over journal {id}: {e}"),
        }
    }
    found.sort_by_key(|j| j.started);
    let running = store.in_use();
    if json {
        for j in &found {
            let (done, bytes) = recorded(j);
            outln!(
                "{}",
                json_line(
                    "journal",
                    serde_json::json!({
                        "id": j.id, "started": started(j), "parts": done,
                        "parts_total": j.upload.as_ref().map(|u| u.parts), "bytes": bytes,
                        "size": j.source.size, "source": journal_source(j),
                        "endpoint": j.destination.endpoint, "bucket": j.destination.bucket,
                        "key": j.destination.key,
                        "upload_id": j.upload.as_ref().map(|u| &u.upload_id),
                        "running": running.contains(&j.id), "move": moving(j),
                    })
                )
            );
        }
        return Ok(());
    }
    if found.is_empty() {
        outln!("no interrupted upload or copy in {}", dir.display());
        return Ok(());
    }
    let rows: Vec<[String; 7]> = found
        .iter()
        .map(|j| {
            let (done, bytes) = recorded(j);
            let total = j
                .upload
                .as_ref()
                .map_or("?".into(), |u| u.parts.to_string());
            let state = if running.contains(&j.id) {
                "running"
            } else {
                "stopped"
            };
            [
                j.id.clone(),
                state.into(),
                started(j),
                format!("{done}/{total}"),
                format!("{bytes}/{}", j.source.size),
                format!(
                    "s3://{}/{}",
                    j.destination.bucket,
                    shown(&j.destination.key, false)
                ),
                // Resuming a move deletes its source: said beside it.
                match moving(j) {
                    true => format!("{} (move)", journal_source(j)),
                    false => journal_source(j),
                },
            ]
        })
        .collect();
    let header = [
        "JOURNAL",
        "STATE",
        "STARTED",
        "PARTS",
        "BYTES",
        "DESTINATION",
        "SOURCE",
    ];
    outln!("{}", columns(header, &rows, &[3, 4]).trim_end());
    outln!(
        "resume a stopped one with `ferry resume JOURNAL`, or by running its command again (a \
         running one is being sent now)"
    );
    Ok(())
}

/// The parts a journal records (a part number recorded twice counts once) and their bytes.
fn recorded(j: &Journal) -> (usize, u64) {
    let parts: std::collections::BTreeMap<u32, u64> =
        j.parts.iter().map(|p| (p.part, p.size)).collect();
    (parts.len(), parts.values().sum())
}

/// When a journal was started (seconds since the epoch), as ferry prints times.
fn started(j: &Journal) -> String {
    rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs(j.started))
}

impl UploadsAt {
    /// A manager with the journals of `--state-dir` (else the default folder).
    async fn manager(&self, global: &Global) -> Result<Manager<S3Client>, CliError> {
        let journals = self
            .state_dir
            .clone()
            .or_else(ferry_engine::FileJournalStore::default_dir);
        manager(client(global).await?, ManagerConfig::default(), journals)
    }
}

pub(crate) async fn run(global: &Global, cmd: UploadsCmd) -> Result<(), CliError> {
    match cmd {
        UploadsCmd::Ls { json, at } => {
            let Some(target) = &at.target else {
                return journals(at.state_dir, json);
            };
            let (url, request) = (parse_s3_url(target)?, at.bucket.request(&None)?);
            let manager = at.manager(global).await?;
            let uploads = manager
                .uploads(&url.bucket, Some(&url.key), &request)
                .await
                .map_err(|e| engine_error(&e, false, None))?;
            if json {
                for u in &uploads {
                    outln!(
                        "{}",
                        json_line(
                            "upload",
                            serde_json::json!({
                                "bucket": u.bucket, "key": u.key, "upload_id": u.upload_id,
                                "initiated": u.initiated, "parts": u.held.map(|h| h.0),
                                "bytes": u.held.map(|h| h.1), "journal": u.journal,
                                "plan": u.plan,
                            })
                        )
                    );
                }
            } else if uploads.is_empty() {
                outln!("no multipart uploads in progress under {target}");
            } else {
                outln!("{}", table(&rows(&uploads)).trim_end());
            }
            Ok(())
        }
        UploadsCmd::Abort {
            upload_id,
            older_than,
            all,
            dry_run,
            at,
        } => {
            let target = at.target.as_deref().ok_or_else(|| {
                bad_input("abort takes s3://bucket[/prefix] (or s3://bucket/key with --upload-id)")
            })?;
            let (url, request) = (parse_s3_url(target)?, at.bucket.request(&None)?);
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
            let manager = at.manager(global).await?;
            let named = upload_id.is_some();
            // The key and id, and the upload as listed (with its journal) when it was.
            let chosen: Vec<(String, String, Option<UploadInProgress>)> = match upload_id {
                Some(id) => vec![(url.key.clone(), id, None)],
                None => manager
                    .uploads(&url.bucket, Some(&url.key), &request)
                    .await
                    .map_err(|e| engine_error(&e, false, None))?
                    .into_iter()
                    .filter(|u: &UploadInProgress| match min_age {
                        Some(age) => u.age_secs().is_some_and(|a| a >= age),
                        None => true,
                    })
                    .map(|u| (u.key.clone(), u.upload_id.clone(), Some(u)))
                    .collect(),
            };
            if chosen.is_empty() {
                let older = older_than
                    .map(|a| format!(" older than {a}"))
                    .unwrap_or_default();
                outln!("nothing to abort: no uploads under {target}{older}");
                return Ok(());
            }
            let mut refused = Vec::new();
            for (key, id, listed) in &chosen {
                let what = format!("s3://{}/{} upload {id}", url.bucket, shown(key, false));
                // A planned upload is given up only when named.
                let give_up = format!(
                    "`ferry uploads abort s3://{}/{key} --upload-id {id}` gives it up, with its plan",
                    url.bucket
                );
                let plan = listed.as_ref().and_then(|u| u.plan.as_deref());
                if dry_run {
                    match plan {
                        Some(plan) => {
                            outln!("would leave: {what}: it belongs to the plan {plan}; {give_up}")
                        }
                        None => outln!("would abort: {what}"),
                    }
                    continue;
                }
                let aborted = match listed {
                    Some(u) => manager.abort(u).await,
                    None => manager.abort_upload(&url.bucket, key, id, &request).await,
                };
                match aborted {
                    Ok(a) => match a.plan {
                        Some(plan) => outln!("aborted: {what}, and removed its plan {plan}"),
                        None => outln!("aborted: {what}"),
                    },
                    Err(e) if named => {
                        let note = not_in_progress(&e, &url.bucket, key, id);
                        refused.push(engine_error(&e, false, None).noted(note));
                    }
                    Err(e) => {
                        let hint = plan.map(|_| format!("; {give_up}")).unwrap_or_default();
                        errln!("ferry: not aborted: {what}: {e}{hint}");
                        refused.push(engine_error(&e, false, None));
                    }
                }
            }
            match refused.len() {
                0 => Ok(()),
                // The one named: its own error and exit code (bad input for an upload a
                // transfer is sending).
                _ if named => Err(refused.remove(0)),
                n => Err(CliError::Failed(anyhow::anyhow!(
                    "{n} of {} uploads were not aborted (each is named above)",
                    chosen.len()
                ))),
            }
        }
    }
}

/// What to do when the upload named by `--upload-id` is not in progress (NoSuchUpload): list
/// the ones that are; and a journal's id (`up-…`, what `ferry resume` takes) is not an upload
/// ID.
fn not_in_progress(e: &ferry_engine::Error, bucket: &str, key: &str, id: &str) -> Option<String> {
    if e.s3().and_then(|s| s.code()) != Some("NoSuchUpload") {
        return None;
    }
    let list = format!("`ferry uploads ls s3://{bucket}/{key}` lists the uploads in progress");
    Some(if id.starts_with("up-") {
        format!(
            "{id} looks like one of ferry's journal ids, which `ferry resume` takes; abort takes \
             the server's upload ID, which `ferry uploads ls` shows beside it; {list}"
        )
    } else {
        list
    })
}

/// Whether the journal is a move's: resuming it deletes the source once the object is written.
fn moving(j: &ferry_engine::Journal) -> bool {
    j.upload.as_ref().is_some_and(|u| u.remove_source)
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

    #[test]
    fn the_table_keeps_its_columns_in_line_whatever_the_ids() {
        let row = |journal: &str, id: &str, key: &str| {
            ["2026-12-03T20:14:53Z", "1", "4194304", journal, id, key].map(String::from)
        };
        let t = table(&[
            row("up-35727d55a6e7e2b3dcaa", "4a0a19218e082a343a1b", "f"),
            row("no", "x", "some/other key"),
        ]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3, "{t}");
        // Each column starts where its header does.
        for (header, cells) in [
            ("UPLOAD ID", ["4a0a1", "x "]),
            ("KEY", ["f", "some/other key"]),
        ] {
            let at = lines[0].find(header).unwrap();
            for (line, cell) in lines[1..].iter().zip(cells) {
                assert_eq!(line.find(cell), Some(at), "{t}");
            }
        }
        // Counts align right: they end where their header does.
        let end = |line: &str, cell: &str| line.find(cell).map(|i| i + cell.len());
        assert_eq!(end(lines[1], "4194304"), end(lines[0], "BYTES"), "{t}");
    }
}
