//! `ferry check`: whether a destination holds what a source does (a folder and a prefix,
//! either way, or two prefixes), by content. It is a sync's comparison, made in full and
//! reported path by path: the engine's dry run with deletions listed, so nothing is moved or
//! deleted; the lines, the summary and the exit code are a check's. A file and an object, or
//! two objects, are compared alone (`one`).

mod one;

use std::time::Instant;

use ferry_engine::{
    Compare, DeletionsHeld, SyncAction, SyncCopy, SyncDown, SyncOutcome, SyncSettings, SyncUp,
    TreeCopy, TreeDownload, TreeUpload,
};
use ferry_s3::{ObjectOptions, RequestOptions};

use crate::args::{CheckArgs, Global};
use crate::client::{client_for, manager, parse_s3_url, source_global, state_dir};
use crate::exit::{CliError, engine_error};
use crate::options::{manager_config, refuse_flags};
use crate::output::{Output, first_failures, secs};
use crate::report::json_line;

/// Runs `ferry check`.
pub(crate) async fn run(global: &Global, a: CheckArgs) -> Result<(), CliError> {
    let filters = crate::request::filters(&a.filters)?;
    let mut settings = SyncSettings::check();
    if a.size_only {
        settings.compare = Compare::SizeOnly;
    } else if a.download {
        settings.compare = Compare::Download;
    }
    settings.delete = !a.one_way;
    let source = source_global(global, &a.source);
    let (src, dst, direction) = crate::sync::sides(&a.src, &a.dst, "check")?;
    if direction != SyncAction::Copy {
        refuse_flags(&a.source.given(), "for a check of two S3 locations")?;
    }
    if direction != SyncAction::Upload {
        refuse_flags(
            &[("--no-follow-symlinks", a.no_follow_symlinks)],
            "for a folder checked against a prefix: only its links can be followed",
        )?;
    } else {
        crate::request::refuse_as_of(a.as_of.as_deref())?;
    }
    // The clients, resolved once (credentials included) for either kind of check.
    let config = manager_config(&a.budget, 32 << 20)?;
    let connections = Some(config.max_requests as usize);
    let client = client_for(global, connections).await?;
    let source = match direction {
        SyncAction::Copy => crate::sync::source_client(source.as_ref(), connections).await?,
        _ => None,
    };
    let clients = (&client, source.as_ref(), &config);
    if let Some(one) = one::single(&a, &src, &dst, direction, clients).await? {
        return one::check(global, &a, one).await;
    }
    let as_of = crate::request::as_of(a.as_of.as_deref())?;
    let output = Output::new(&a.out, false, global.verbose > 0)
        .for_check()
        .within(crate::options::limits(&a.budget)?);
    let started = Instant::now();
    let (bucket, (result, interrupted)) = match direction {
        SyncAction::Upload => {
            let url = parse_s3_url(&dst)?;
            let manager = manager(client, config, None)?;
            let tree = TreeUpload {
                filters,
                options: requested(a.bucket.request(&a.sse_c_key)?),
                follow_links: !a.no_follow_symlinks,
                ..TreeUpload::new(&a.src, &url.bucket, &url.key)
            };
            let sync = SyncUp {
                tree,
                sync: settings,
            };
            (
                url.bucket.clone(),
                output.run_tree(&url.bucket, manager.sync_up(sync)).await,
            )
        }
        SyncAction::Download => {
            let url = parse_s3_url(&src)?;
            // Told where journals live, so that a home folder's are not taken for its files.
            let manager = manager(client, config, state_dir(None).ok())?;
            let tree = TreeDownload {
                filters,
                request: a.bucket.request(&a.sse_c_key)?,
                as_of,
                ..TreeDownload::new(&url.bucket, &url.key, &a.dst)
            };
            let sync = SyncDown {
                tree,
                sync: settings,
            };
            (
                url.bucket.clone(),
                output.run_tree(&url.bucket, manager.sync_down(sync)).await,
            )
        }
        _ => {
            let (from, to) = (parse_s3_url(&src)?, parse_s3_url(&dst)?);
            let manager = manager(client, config, None)?;
            let tree = TreeCopy {
                filters,
                from_request: a.bucket.source_request(&a.source.source_sse_c_key)?,
                options: requested(a.bucket.request(&a.sse_c_key)?),
                as_of,
                ..TreeCopy::new(&from.bucket, &from.key, &to.bucket, &to.key)
            };
            let sync = SyncCopy {
                tree,
                sync: settings,
            };
            let handle = crate::sync::copying(&manager, source, sync);
            (to.bucket.clone(), output.run_tree(&to.bucket, handle).await)
        }
    };
    match result {
        Ok(o) => summary(&output, &bucket, &o, started),
        Err(e) => Err(engine_error(&e, interrupted, None)),
    }
}

/// Object options that say only what each request to the destination carries.
fn requested(request: RequestOptions) -> ObjectOptions {
    ObjectOptions {
        request,
        ..Default::default()
    }
}

/// The summary line (or JSON event), and the exit code: 0 when the destination matches, 1
/// when it does not or a path could not be compared, 130 when interrupted.
pub(super) fn summary(
    output: &Output,
    bucket: &str,
    o: &SyncOutcome,
    started: Instant,
) -> Result<(), CliError> {
    let failed = &o.transfers.failed;
    let differ = o.differing - o.missing;
    let extra = o.deleted;
    if output.json {
        output.emit_json(&json_line(
            "summary",
            serde_json::json!({
                "same": o.skipped, "differ": differ, "missing": o.missing, "extra": extra,
                "failed": failed.len(), "interrupted": o.interrupted,
                "extra_unlisted": o.deletions_held.as_ref().map(|h| h.to_string()),
                "seconds": secs(started), "passed_over": o.transfers.passed_over,
            }),
        ));
    } else {
        output.say(&format!(
            "check: {} same, {differ} differ, {} missing, {extra} only in the destination, {} \
             failed{} in {:.1} s",
            o.skipped,
            o.missing,
            failed.len(),
            crate::run::passed_over(o.transfers.passed_over),
            secs(started)
        ));
    }
    if o.interrupted {
        return Err(CliError::Interrupted(anyhow::anyhow!(
            "interrupted: the check is not complete"
        )));
    }
    let mut problems = Vec::new();
    for (n, what) in [
        (differ, "differ"),
        (o.missing, "missing"),
        (extra, "only in the destination"),
    ] {
        if n > 0 {
            problems.push(format!("{n} {what}"));
        }
    }
    if !failed.is_empty() {
        let names = first_failures(
            failed.iter().map(|f| format!("s3://{bucket}/{}", f.key)),
            failed.len(),
            "",
        );
        problems.push(format!(
            "{} could not be compared: {}",
            failed.len(),
            names.join(", ")
        ));
    }
    let compared = o.skipped + o.differing + o.deleted + failed.len() as u64;
    if compared == 0 {
        // Neither side held anything: far more often a mistyped path or prefix than a match.
        problems.push(
            "nothing was compared: neither side holds anything (a mistyped path or prefix?)"
                .to_string(),
        );
    }
    if let Some(why) = &o.deletions_held {
        // The dry run lists every deletion but after a failure, when what looks missing from
        // the source may only be unread.
        let why = match why {
            DeletionsHeld::TransfersFailed | DeletionsHeld::ListingFailed => {
                "what only the destination holds is not listed: not every source path was read"
                    .to_string()
            }
            other => other.to_string(),
        };
        problems.push(why);
    }
    match problems.as_slice() {
        [] => Ok(()),
        [only] if compared == 0 => Err(CliError::Failed(anyhow::anyhow!("{only}"))),
        _ => Err(CliError::Failed(anyhow::anyhow!(
            "the destination does not match: {}",
            problems.join("; ")
        ))),
    }
}
