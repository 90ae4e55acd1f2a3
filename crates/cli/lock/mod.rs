//! `ferry lock`: the object lock of objects already written, its retention and its legal
//! hold, set through the engine's [`Manager::lock`](ferry_engine::Manager::lock): of one
//! object, then read back with HeadObject and shown as the server holds it; or with `-r`, of
//! every object under a prefix, a line each and a summary. A bucket's default retention:
//! `bucket`; the flags of both, and of `cp`'s `--object-lock-*`: `flags`.

use std::time::Instant;

use ferry_engine::{Lock as LockObjects, LockOutcome, Retention};
use ferry_s3::GetObjectRequest;

use crate::args::{Global, LockArgs};
use crate::client::{parse_s3_url, plain_manager};
use crate::exit::{CliError, bad_input, engine_error};
use crate::output::{Output, outln, secs, shown};
use crate::report::json_line;
use flags::{Lock, LockFlags, object_lock};

mod bucket;
pub(crate) mod flags;

pub(crate) use bucket::{in_words, lock_fields};

pub(crate) async fn run(global: &Global, a: LockArgs) -> Result<(), CliError> {
    if a.default {
        return bucket::run(global, a).await;
    }
    let url = parse_s3_url(&a.target)?;
    let Lock { retention, hold } = object_lock(LockFlags {
        mode: a.mode.as_deref(),
        until: a.until.as_deref(),
        hold: a.legal_hold.as_deref(),
        names: ["--mode", "--until", "--legal-hold"],
    })?;
    if retention.is_none() && hold.is_none() {
        return Err(bad_input(
            "give a retention (--mode and --until), a legal hold (--legal-hold ON|OFF), or both",
        ));
    }
    if a.bypass_governance_retention && retention.is_none() {
        return Err(bad_input(
            "--bypass-governance-retention goes with the retention it shortens or changes: \
             give --mode and --until",
        ));
    }
    if !a.recursive {
        if url.key.is_empty() || url.key.ends_with('/') {
            return Err(bad_input(format!(
                "{} names no object: give s3://bucket/key, or -r for every object under it",
                a.target
            )));
        }
        if let Some(flag) = a.filters.given() {
            return Err(bad_input(format!(
                "{flag} picks among the objects under a prefix: add -r"
            )));
        }
    }
    let lock = LockObjects {
        version_id: a.version_id.clone(),
        retention: retention.map(|(mode, until)| Retention { mode, until }),
        legal_hold: hold,
        bypass_governance_retention: a.bypass_governance_retention,
        filters: crate::request::filters(&a.filters)?,
        dry_run: a.dry_run,
        request: a.bucket.request(&None)?,
        ..match a.recursive {
            true => LockObjects::prefix(&url.bucket, &url.key),
            false => LockObjects::object(&url.bucket, &url.key),
        }
    };
    let manager = plain_manager(global).await?;
    let one = !a.recursive && !a.dry_run;
    let mut output = Output::new(&a.out, false, global.verbose > 0);
    output.no_progress = true;
    let json = output.json;
    let started = Instant::now();
    let handle = manager.lock(lock);
    let (result, interrupted) = match one {
        // One object: its lock as the server holds it is the line, not the event.
        true => (handle.wait().await, false),
        false => output.run_tree(&url.bucket, handle).await,
    };
    let o = result.map_err(|e| engine_error(&e, interrupted, None))?;
    if !one {
        return summary(json, a.out.quiet, &o, started);
    }
    // As the server holds it now: HeadObject shows a lock to those allowed to read it
    // (s3:GetObjectRetention, s3:GetObjectLegalHold); others are told what was set.
    let head = GetObjectRequest {
        bucket: url.bucket,
        key: url.key,
        version_id: a.version_id,
        request: a.bucket.request(&None)?,
        ..Default::default()
    };
    let meta = manager
        .stat(head)
        .await
        .map_err(|e| engine_error(&e, false, None))?;
    let mut said = Vec::new();
    if let Some(mode) = &meta.object_lock_mode {
        let until = meta.object_lock_retain_until.as_deref().unwrap_or("?");
        said.push(format!("{mode} until {until}"));
    }
    if let Some(h) = &meta.object_lock_legal_hold {
        said.push(format!("legal hold {h}"));
    }
    let target = shown(&a.target, false);
    let version = meta
        .version_id
        .as_ref()
        .map(|v| format!(" (version {v})"))
        .unwrap_or_default();
    if json {
        let line = serde_json::json!({
            "object": a.target, "version_id": meta.version_id,
            "mode": meta.object_lock_mode, "retain_until": meta.object_lock_retain_until,
            "legal_hold": meta.object_lock_legal_hold,
        });
        outln!("{}", json_line("lock", line));
    } else if said.is_empty() {
        outln!(
            "lock: {target}{version}: set; HeadObject shows no lock to these credentials \
             (it needs s3:GetObjectRetention and s3:GetObjectLegalHold)"
        );
    } else if !a.out.quiet {
        outln!("lock: {target}{version}: {}", said.join(", "));
    }
    Ok(())
}

/// The end of `lock -r` (or a dry run): the count locked and failed, each failure named, and
/// the exit that says how it went.
fn summary(json: bool, quiet: bool, o: &LockOutcome, started: Instant) -> Result<(), CliError> {
    let dry = if o.dry_run { " (dry run)" } else { "" };
    let fields = serde_json::json!({
        "locked": o.locked, "failed": o.failed.len(), "dry_run": o.dry_run,
        "interrupted": o.interrupted, "seconds": secs(started),
    });
    crate::output::summarize(json, quiet, fields, || {
        let (locked, failed) = (o.locked, o.failed.len());
        format!(
            "lock{dry}: {locked} locked, {failed} failed in {:.1} s",
            secs(started)
        )
    });
    crate::exit::many_ended(&o.failed, o.interrupted, "lock", "locks")
}
