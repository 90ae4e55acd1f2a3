//! `ferry ls` and `ferry rm`: what a bucket holds under a prefix, page by page, and deleting
//! an object or a prefix's worth of them (the engine lists, retries and deletes; this module
//! turns flags into its requests and its pages into lines).

use std::io::Write as _;
use std::time::Instant;

use ferry_engine::{Manager, ManagerConfig, Remove, RemoveOutcome};
use ferry_s3::{ListObjectsRequest, ObjectInfo, S3Client};
use futures_util::StreamExt as _;

use crate::args::{Global, LsArgs, RmArgs};
use crate::client::{client, manager, parse_s3_url};
use crate::exit::{CliError, bad_input, engine_error};
use crate::output::{Output, errln, first_failures, outln, secs};
use crate::report::json_line;

/// Runs `ferry ls`: one level under the prefix (its folders as `PRE` lines), or with `-r`
/// every object; a prefix that holds nothing is an error, as for the aws cli and s5cmd (an
/// empty bucket is not). With no target, the buckets.
pub(crate) async fn ls(global: &Global, a: LsArgs) -> Result<(), CliError> {
    let manager = manager(client(global).await?, ManagerConfig::default(), None)?;
    let target = match a.target.as_deref() {
        None | Some("s3://") => return buckets(&manager, a.json).await,
        Some(t) => t,
    };
    let url = parse_s3_url(target)?;
    let req = ListObjectsRequest {
        bucket: url.bucket.clone(),
        prefix: (!url.key.is_empty()).then(|| url.key.clone()),
        delimiter: (!a.recursive).then(|| "/".to_string()),
        request: a.bucket.request(&None)?,
        ..Default::default()
    };
    // One level shows each name below the folder the prefix is in, as the aws cli does.
    let shown_from = match a.recursive {
        true => 0,
        false => url.key.rfind('/').map_or(0, |i| i + 1),
    };
    let (mut objects, mut bytes, mut prefixes) = (0u64, 0u64, 0u64);
    let mut pages = std::pin::pin!(manager.list(req));
    let mut out = std::io::stdout().lock();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| engine_error(&e, false, None))?;
        let mut text = String::new();
        for p in &page.common_prefixes {
            text += &match a.json {
                true => format!("{}\n", serde_json::json!({ "prefix": p })),
                false => format!("{:>30} {}\n", "PRE", &p[shown_from..]),
            };
        }
        for o in &page.objects {
            text += &line(o, shown_from, &a);
        }
        objects += page.objects.len() as u64;
        bytes += page.objects.iter().map(|o| o.size).sum::<u64>();
        prefixes += page.common_prefixes.len() as u64;
        // Written a page at a time; a reader that stops reading (`| head`) ends the listing.
        if out
            .write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            return Err(CliError::ReaderGone);
        }
    }
    if a.summarize {
        let size = match a.human_readable {
            true => indicatif::BinaryBytes(bytes).to_string(),
            false => format!("{bytes} Bytes"),
        };
        let _ = match a.json {
            true => writeln!(
                out,
                "{}",
                json_line(
                    "summary",
                    serde_json::json!({ "objects": objects, "bytes": bytes })
                )
            ),
            false => writeln!(out, "\nTotal Objects: {objects}\n   Total Size: {size}"),
        };
    }
    if objects + prefixes == 0 && !url.key.is_empty() {
        return Err(CliError::Failed(anyhow::anyhow!(
            "nothing under {target}; check the bucket and prefix"
        )));
    }
    Ok(())
}

/// `ferry ls` alone: the buckets, each with the time it was made, as the aws cli's `s3 ls`.
async fn buckets(manager: &Manager<S3Client>, json: bool) -> Result<(), CliError> {
    let buckets = manager
        .request("listing the buckets", |c| c.list_buckets())
        .await
        .map_err(|e| engine_error(&e, false, None))?;
    let mut text = String::new();
    for b in &buckets {
        text += &match json {
            true => format!(
                "{}\n",
                serde_json::json!({ "bucket": b.name, "creation_date": b.creation_date })
            ),
            false => format!("{} {}\n", utc(b.creation_date.as_deref()), b.name),
        };
    }
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|_| CliError::ReaderGone)
}

/// An RFC 3339 time from a listing as `YYYY-MM-DD HH:MM:SS` in UTC (`?` in its place when
/// there is none, or it does not parse).
fn utc(t: Option<&str>) -> String {
    t.and_then(|t| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
    })
    .map(|t| {
        let t = t.to_offset(time::UtcOffset::UTC);
        let (h, m, s) = t.to_hms();
        format!("{} {h:02}:{m:02}:{s:02}", t.date())
    })
    .unwrap_or_else(|| format!("{:19}", "?"))
}

/// An object's line: its time (UTC), size and name, as the aws cli's `s3 ls` prints them;
/// or its JSON.
fn line(o: &ObjectInfo, shown_from: usize, a: &LsArgs) -> String {
    if a.json {
        let v = serde_json::json!({
            "key": o.key, "size": o.size, "last_modified": o.last_modified, "etag": o.etag,
        });
        return format!("{v}\n");
    }
    let when = utc(o.last_modified.as_deref());
    let size = match a.human_readable {
        true => indicatif::BinaryBytes(o.size).to_string(),
        false => o.size.to_string(),
    };
    let name = o.key.get(shown_from..).unwrap_or(&o.key);
    format!("{when} {size:>10} {name}\n")
}

/// Runs `ferry rm`: one object, or with `-r` every object under the prefix; a line per object
/// deleted, then a summary.
pub(crate) async fn rm(global: &Global, a: RmArgs) -> Result<(), CliError> {
    let url = parse_s3_url(&a.target)?;
    let filters = crate::request::filters(&a.filters)?;
    if !a.recursive {
        if !a.filters.ordered.is_empty() {
            return Err(bad_input(
                "--include and --exclude pick among the objects under a prefix: add -r",
            ));
        }
        if url.key.is_empty() || url.key.ends_with('/') {
            return Err(bad_input(format!(
                "{} names no object: give s3://bucket/key, or -r for every object under it",
                a.target
            )));
        }
    }
    let remove = Remove {
        version_id: a.version_id.clone(),
        request: a.bucket.request(&None)?,
        filters,
        dry_run: a.dry_run,
        ..match a.recursive {
            true => Remove::prefix(&url.bucket, &url.key),
            false => Remove::object(&url.bucket, &url.key),
        }
    };
    let manager = manager(client(global).await?, ManagerConfig::default(), None)?;
    let mut output = Output::new(&a.out, false, global.verbose > 0);
    // Nothing moves: a line per object is the progress.
    output.no_progress = true;
    let json = output.json;
    let started = Instant::now();
    let (result, interrupted) = output.run_tree(&url.bucket, manager.remove(remove)).await;
    let o = result.map_err(|e| engine_error(&e, interrupted, None))?;
    summary(json, a.out.quiet, &o, started)
}

/// The summary line (or JSON event), and the exit code: 1 when a deletion failed, 130 when
/// interrupted.
fn summary(json: bool, quiet: bool, o: &RemoveOutcome, started: Instant) -> Result<(), CliError> {
    let dry = if o.dry_run { " (dry run)" } else { "" };
    if json {
        crate::output::emit_event(
            &json_line(
                "summary",
                serde_json::json!({
                    "deleted": o.removed, "bytes": o.bytes, "failed": o.failed.len(),
                    "dry_run": o.dry_run, "interrupted": o.interrupted, "seconds": secs(started),
                }),
            ),
            false,
        );
    } else if !quiet {
        outln!(
            "rm{dry}: {} deleted ({} bytes), {} failed in {:.1} s",
            o.removed,
            o.bytes,
            o.failed.len(),
            secs(started)
        );
    }
    for f in &o.failed {
        errln!(
            "ferry: failed: {}",
            crate::output::shown(&f.error.to_string(), false)
        );
    }
    if o.interrupted {
        return Err(CliError::Interrupted(anyhow::anyhow!(
            "interrupted; run the same command again to delete the rest"
        )));
    }
    if o.failed.is_empty() {
        return Ok(());
    }
    let names = first_failures(o.failed.iter().map(|f| f.key.clone()), o.failed.len(), "");
    Err(CliError::Failed(anyhow::anyhow!(
        "{} deletions failed: {}",
        o.failed.len(),
        names.join(", ")
    )))
}
