//! `ferry restore`: archived objects made readable through the engine's
//! [`Manager::restore`](ferry_engine::Manager::restore): one object, or with `-r` every
//! archived object under a prefix, a line each and a summary.

use std::time::Instant;

use ferry_engine::{Restore, RestoreOutcome};
use ferry_s3::RestoreTier;

use crate::args::{Global, RestoreArgs};
use crate::client::{parse_s3_url, plain_manager};
use crate::exit::{CliError, bad_input, engine_error};
use crate::output::{Output, secs};

/// Runs `ferry restore`.
pub(crate) async fn run(global: &Global, a: RestoreArgs) -> Result<(), CliError> {
    let url = parse_s3_url(&a.target)?;
    if !a.recursive {
        if url.key.is_empty() || url.key.ends_with('/') {
            return Err(bad_input(format!(
                "{} names no object: give s3://bucket/key, or -r for every archived object \
                 under it",
                a.target
            )));
        }
        if let Some(flag) = a.filters.given() {
            return Err(bad_input(format!(
                "{flag} picks among the objects under a prefix: add -r"
            )));
        }
    }
    let tier = a
        .tier
        .as_deref()
        .map(|t| {
            RestoreTier::parse(t)
                .ok_or_else(|| bad_input(format!("--tier {t:?}: give Standard, Bulk or Expedited")))
        })
        .transpose()?;
    let restore = Restore {
        version_id: a.version_id.clone(),
        tier,
        filters: crate::request::filters(&a.filters)?,
        dry_run: a.dry_run,
        request: a.bucket.request(&None)?,
        ..match a.recursive {
            true => Restore::prefix(&url.bucket, &url.key, a.days),
            false => Restore::object(&url.bucket, &url.key, a.days),
        }
    };
    let manager = plain_manager(global).await?;
    let mut output = Output::new(&a.out, false, global.verbose > 0);
    output.no_progress = true;
    let json = output.json;
    let started = Instant::now();
    let (result, interrupted) = output.run_tree(&url.bucket, manager.restore(restore)).await;
    let o = result.map_err(|e| engine_error(&e, interrupted, None))?;
    if !a.recursive {
        return Ok(());
    }
    summary(json, a.out.quiet, &o, started)
}

/// The end of `restore -r` (or a dry run): the counts, each failure named, and the exit
/// that says how it went.
fn summary(json: bool, quiet: bool, o: &RestoreOutcome, started: Instant) -> Result<(), CliError> {
    let dry = if o.dry_run { " (dry run)" } else { "" };
    let fields = serde_json::json!({
        "started": o.started, "extended": o.extended, "in_progress": o.in_progress,
        "readable": o.readable, "failed": o.failed.len(), "dry_run": o.dry_run,
        "interrupted": o.interrupted, "seconds": secs(started),
    });
    crate::output::summarize(json, quiet, fields, || {
        let verb = if o.dry_run { "to start" } else { "started" };
        format!(
            "restore{dry}: {} {verb}, {} kept longer, {} under way already, {} readable as they \
             are, {} failed in {:.1} s",
            o.started,
            o.extended,
            o.in_progress,
            o.readable,
            o.failed.len(),
            secs(started)
        )
    });
    crate::exit::many_ended(&o.failed, o.interrupted, "restore", "restores")
}
