//! `ferry check`: whether a destination holds what a source does (a folder and a prefix,
//! either way, or two prefixes), by content. It is a sync's comparison, made in full and
//! reported path by path: the engine's dry run with deletions listed, so nothing is moved or
//! deleted; the lines, the summary and the exit code are a check's. One file and one object
//! are compared alone (`Manager::file_matches`).

use std::time::Instant;

use ferry_engine::{
    Compare, DeletionsHeld, SyncAction, SyncCopy, SyncDown, SyncOutcome, SyncSettings, SyncUp,
    TreeCopy, TreeDownload, TreeUpload,
};
use ferry_s3::{GetObjectRequest, ObjectOptions, RequestOptions};
use serde_json::Value;

use crate::args::{CheckArgs, Global};
use crate::client::{S3Url, client, client_for, manager, parse_s3_url, source_global, state_dir};
use crate::exit::{CliError, bad_input, engine_error};
use crate::options::{manager_config, refuse_flags};
use crate::output::{Output, first_failures, secs};
use crate::report::json_line;

/// Runs `ferry check`.
pub(crate) async fn run(global: &Global, a: CheckArgs) -> Result<(), CliError> {
    let filters = crate::request::filters(&a.filters)?;
    let mut settings = SyncSettings::check();
    if a.size_only {
        settings.compare = Compare::SizeOnly;
    }
    settings.delete = !a.one_way;
    let source = source_global(global, &a.source);
    let (src, dst, direction) = crate::sync::sides(&a.src, &a.dst, "check")?;
    if let Some(one) = one_file(&src, &dst, direction)? {
        return check_one(global, &a, one).await;
    }
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
    let as_of = crate::request::as_of(a.as_of.as_deref())?;
    let config = manager_config(&a.budget, 32 << 20)?;
    let connections = Some(config.max_requests as usize);
    let client = client_for(global, connections).await?;
    let output = Output::new(&a.out, false, global.verbose > 0).for_check();
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
            let handle = crate::sync::copying(&manager, source.as_ref(), connections, sync).await?;
            (to.bucket.clone(), output.run_tree(&to.bucket, handle).await)
        }
    };
    match result {
        Ok(o) => summary(&output, &bucket, &o, started),
        Err(e) => Err(engine_error(&e, interrupted, None)),
    }
}

/// One file and one object, as a check of single ones compares them.
struct One {
    /// The file.
    path: std::path::PathBuf,
    /// The object.
    object: S3Url,
    /// The file is the source (else the object is).
    up: bool,
}

/// The file and the object `src` and `dst` name, when they name single ones: a file (not a
/// folder) and a key (one ending in `/` takes the file's name, as `cp` gives it), or a key
/// not ending in `/` and a file that is there.
fn one_file(src: &str, dst: &str, direction: SyncAction) -> Result<Option<One>, CliError> {
    let is_file = |p: &str| std::fs::metadata(p).is_ok_and(|m| m.is_file());
    let one = match direction {
        SyncAction::Upload if is_file(src) => {
            let mut object = parse_s3_url(dst)?;
            if object.key.is_empty() || object.key.ends_with('/') {
                let name = std::path::Path::new(src).file_name().unwrap_or_default();
                object.key += &name.to_string_lossy();
            }
            (src, object, true)
        }
        SyncAction::Download if is_file(dst) => {
            let object = parse_s3_url(src)?;
            if object.key.is_empty() || object.key.ends_with('/') {
                return Ok(None);
            }
            (dst, object, false)
        }
        _ => return Ok(None),
    };
    let (path, object, up) = one;
    Ok(Some(One {
        path: path.into(),
        object,
        up,
    }))
}

/// Checks one file and one object: the file is read once and compared with the object's own
/// checksum, unless their sizes differ.
async fn check_one(global: &Global, a: &CheckArgs, one: One) -> Result<(), CliError> {
    if let Some(flag) = a.filters.given() {
        return Err(bad_input(format!(
            "{flag} chooses among a tree's paths: check a folder and a prefix to use it"
        )));
    }
    refuse_flags(
        &[("--as-of", a.as_of.is_some()), ("--one-way", a.one_way)],
        "for a check of one file and one object",
    )?;
    let output = Output::new(&a.out, false, global.verbose > 0).for_check();
    let started = Instant::now();
    let manager = manager(
        client(global).await?,
        manager_config(&a.budget, 32 << 20)?,
        None,
    )?;
    let (bucket, key) = (one.object.bucket.clone(), one.object.key.clone());
    let url = format!("s3://{bucket}/{key}");
    let file = one.path.display().to_string();
    let size = std::fs::metadata(&one.path).map_or(0, |m| m.len());
    let req = GetObjectRequest {
        bucket: bucket.clone(),
        key: key.clone(),
        request: a.bucket.request(&a.sse_c_key)?,
        ..Default::default()
    };
    let found = match a.size_only {
        true => manager
            .stat(req)
            .await
            .map(|meta| Some(meta.content_length == size)),
        false => manager.file_matches(req, &one.path).await,
    };
    let found = match found {
        Ok(Some(true)) => Found::Same,
        Ok(Some(false)) => Found::Differs,
        Ok(None) => {
            return Err(CliError::Failed(anyhow::anyhow!(
                "{url} offers no checksum to compare {file} with (an SSE-C object's ETag is no \
                 MD5): nothing could be said; --size-only compares sizes"
            )));
        }
        Err(e) if one.up && is_missing(&e) => Found::Missing,
        Err(e) => return Err(engine_error(&e, false, None)),
    };
    let (from, to) = match one.up {
        true => (file.as_str(), url.as_str()),
        false => (url.as_str(), file.as_str()),
    };
    if output.json {
        output.emit_json(&found.json(&key, from, Some(to), size));
    } else if found != Found::Same || global.verbose > 0 {
        output.say(&found.line(from, to));
    }
    let mut outcome = SyncOutcome::default();
    match found {
        Found::Same => outcome.skipped = 1,
        _ => outcome.differing = 1,
    }
    outcome.missing = u64::from(found == Found::Missing);
    summary(&output, &bucket, &outcome, started)
}

/// Whether `e` says the object is not there (not that its bucket is not).
fn is_missing(e: &ferry_engine::Error) -> bool {
    e.s3()
        .is_some_and(|s| s.status() == Some(404) && s.code() != Some("NoSuchBucket"))
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
fn summary(
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
    match problems.is_empty() {
        true => Ok(()),
        false => Err(CliError::Failed(anyhow::anyhow!(
            "the destination does not match: {}",
            problems.join("; ")
        ))),
    }
}

/// What a check found a path to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// The same on both sides.
    Same,
    /// On both sides, not the same.
    Differs,
    /// Only in the source.
    Missing,
    /// Only in the destination.
    Extra,
}

impl Found {
    /// What a sync's decision about a source path (`action`, the destination holding the
    /// path or not) says of it.
    pub(crate) fn of(action: ferry_engine::SyncAction, in_destination: bool) -> Self {
        match (action, in_destination) {
            (ferry_engine::SyncAction::Skip, _) => Self::Same,
            (_, true) => Self::Differs,
            (_, false) => Self::Missing,
        }
    }

    /// Its name in lines and JSON.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Same => "same",
            Self::Differs => "differs",
            Self::Missing => "missing",
            Self::Extra => "extra",
        }
    }

    /// Its line, of source `from` and destination `to` (`extra: TO` alone).
    pub(crate) fn line(self, from: &str, to: &str) -> String {
        let between = match self {
            Self::Same => "=",
            Self::Differs => "<>",
            Self::Missing => "not in",
            Self::Extra => return format!("extra: {from}"),
        };
        format!("{}: {from} {between} {to}", self.as_str())
    }

    /// Its JSON event, of the path at `key`, from `from` to `to`, of `size` bytes.
    pub(crate) fn json(self, key: &str, from: &str, to: Option<&str>, size: u64) -> Value {
        let v = serde_json::json!({
            "state": self.as_str(), "key": key, "from": from, "to": to, "size": size,
        });
        json_line("check", v)
    }
}
