//! `ferry sync`: a folder to a prefix, a prefix to a folder, or a prefix to a prefix (on one
//! server or from another), moving only what differs; the flags become one engine request,
//! the engine's report becomes lines, a summary and the exit code.

use std::sync::Arc;
use std::time::Instant;

use ferry_engine::{
    Backup, Compare, DeletionsHeld, DownloadSettings, Handle, Manager, Suffix, SyncAction,
    SyncCopy, SyncDown, SyncOutcome, SyncSettings, SyncUp, TreeCopy, TreeDownload, TreeUpload,
    UploadSettings,
};

use ferry_s3::S3Client;

use crate::args::{Global, SyncArgs};
use crate::client::{client_for, journal_dir, manager, parse_s3_url, source_global, state_dir};
use crate::exit::{CliError, bad_input, engine_error};
use crate::options::{
    manager_config, new_object_flags, object_content_flags, object_options, part_size, range_size,
    refuse_flags,
};
use crate::output::{Output, errln, first_failures, secs};
use crate::report::json_line;
use crate::request::arg_text;

/// Runs `ferry sync`.
pub(crate) async fn run(global: &Global, a: SyncArgs) -> Result<(), CliError> {
    let filters = crate::request::filters(&a.filters)?;
    for (flag, given) in [
        ("--max-delete limits", a.max_delete.is_some()),
        ("--delete-excluded widens", a.delete_excluded),
    ] {
        if given && !a.delete {
            return Err(bad_input(format!("{flag} --delete; give both")));
        }
    }
    for (flag, given) in [("--delete", a.delete), ("--track-renames", a.track_renames)] {
        if given && a.no_traverse {
            return Err(bad_input(format!(
                "{flag} needs what only the destination holds, and --no-traverse does not list \
                 it: give one of them"
            )));
        }
    }
    let backup_dir = a.backup_dir.clone();
    let mut settings = SyncSettings {
        compare: if a.size_only {
            Compare::SizeOnly
        } else if a.checksum {
            Compare::Checksum
        } else {
            Compare::SizeAndTime
        },
        delete: a.delete,
        dry_run: a.dry_run,
        max_delete: a.max_delete,
        delete_excluded: a.delete_excluded,
        ignore_existing: a.ignore_existing,
        update: a.update,
        immutable: a.immutable,
        backup: match a.backup_dir.as_deref() {
            Some(to) if to.starts_with("s3://") => {
                let url = parse_s3_url(to)?;
                Some(Backup::Prefix {
                    bucket: url.bucket,
                    prefix: url.key,
                })
            }
            Some(to) => Some(Backup::Folder(to.into())),
            None => None,
        },
        backup_suffix: a
            .suffix
            .as_deref()
            .map(|s| Suffix::new(s, a.suffix_keep_extension))
            .transpose()
            .map_err(|e| bad_input(format!("--suffix: {e}")))?,
        track_renames: a.track_renames,
        copy_dest: None,
        compare_dest: None,
        reference_bucket: None,
        no_traverse: a.no_traverse,
    };
    let source = source_global(global, &a.source);
    let (src, dst, direction) = sides(&a.src, &a.dst, "sync")?;
    let reference = [
        ("--copy-dest", &a.copy_dest),
        ("--compare-dest", &a.compare_dest),
    ];
    for (flag, from) in reference {
        let Some(from) = from else { continue };
        if direction != SyncAction::Upload {
            return Err(bad_input(format!(
                "{flag} is for a sync up: it saves sending a file's bytes, and a sync down or \
                 between prefixes sends none",
            )));
        }
        let (from, to) = (parse_s3_url(from)?, parse_s3_url(&dst)?);
        settings.reference_bucket = (from.bucket != to.bucket).then_some(from.bucket);
        match flag {
            "--copy-dest" => settings.copy_dest = Some(from.key),
            _ => settings.compare_dest = Some(from.key),
        }
    }
    if direction == SyncAction::Copy {
        refuse_flags(
            &[("--track-renames", a.track_renames)],
            "for a sync up or down: between prefixes the bytes are read from the source \
             whichever way they are named",
        )?;
    }
    if direction == SyncAction::Download && a.track_renames && !a.delete {
        return Err(bad_input(
            "--track-renames down moves each renamed file to its new path, which deletes it \
             from its old one: give --delete too",
        ));
    }
    if direction != SyncAction::Copy {
        let mut flags = a.source.given();
        flags.push(("--copy-props", a.copy_props.value.is_some()));
        refuse_flags(&flags, "for a sync between two S3 locations")?;
    }
    if direction != SyncAction::Upload {
        refuse_flags(
            &[("--no-follow-symlinks", a.no_follow_symlinks)],
            "for a sync up: only a folder sent has links to follow",
        )?;
    }
    if direction == SyncAction::Upload {
        crate::request::refuse_as_of(a.as_of.as_deref())?;
        refuse_flags(
            &[("--skip-archived", a.skip_archived)],
            "for a sync up: a folder holds nothing archived",
        )?;
    }
    let as_of = crate::request::as_of(a.as_of.as_deref())?;
    let shard = crate::request::shard(&a.shard)?;
    let config = manager_config(&a.budget, 32 << 20)?;
    // Uploads and copies: in parts of --part-size.
    let uploads = || -> Result<UploadSettings, CliError> {
        Ok(UploadSettings {
            plan: ferry_engine::PlanConfig {
                part_size: part_size(&a.part_size)?,
                ..Default::default()
            },
            ..Default::default()
        })
    };
    let connections = Some(config.max_requests as usize);
    let output = Output::new(&a.out, false, global.verbose > 0)
        .for_sync()
        .within(crate::options::limits(&a.budget)?);
    let started = Instant::now();
    // Uploads and copies (on the server and between servers: see `crosscopy`) resume from
    // journals; a download resumes from its partial files, and is told where journals live
    // only so that a sync into the folder holding them (a home) neither takes them for its
    // own files nor deletes them.
    let journal = match direction {
        SyncAction::Download => state_dir(a.state_dir.clone()).ok(),
        _ => journal_dir(a.state_dir.clone())?,
    };
    let (bucket, result, interrupted) = match direction {
        SyncAction::Upload => {
            let url = parse_s3_url(&dst)?;
            // (The engine's walk refuses a root that is missing or no folder.)
            let root = a.src.clone();
            let manager = manager(client_for(global, connections).await?, config, journal)?;
            let sync = SyncUp {
                tree: TreeUpload {
                    filters,
                    shard,
                    options: object_options(&a.object, &a.bucket, None)?,
                    guess_content_type: a.object.guesses_content_type(),
                    settings: uploads()?,
                    follow_links: !a.no_follow_symlinks,
                    ..TreeUpload::new(root, &url.bucket, &url.key)
                },
                sync: settings,
            };
            let (r, i) = output.run_tree(&url.bucket, manager.sync_up(sync)).await;
            (url.bucket, r, i)
        }
        SyncAction::Download => {
            let url = parse_s3_url(&src)?;
            refuse_flags(
                &new_object_flags(&a.object),
                "for uploads and copies; a download keeps the object as it is",
            )?;
            let mut downloads = DownloadSettings::default();
            if let Some(size) = range_size(&a.part_size)? {
                downloads.range_size = size;
            }
            let manager = manager(client_for(global, connections).await?, config, journal)?;
            let sync = SyncDown {
                tree: TreeDownload {
                    filters,
                    shard,
                    request: a.bucket.request(&a.object.sse_c_key)?,
                    settings: downloads,
                    as_of,
                    skip_archived: a.skip_archived,
                    ..TreeDownload::new(&url.bucket, &url.key, &a.dst)
                },
                sync: settings,
            };
            let (r, i) = output.run_tree(&url.bucket, manager.sync_down(sync)).await;
            (url.bucket, r, i)
        }
        _ => {
            let (from, to) = (parse_s3_url(&src)?, parse_s3_url(&dst)?);
            // Each copy keeps its source's content headers, metadata and tags.
            refuse_flags(
                &object_content_flags(&a.object),
                "for uploads; a sync's copies keep their source's",
            )?;
            let (metadata_directive, tagging_directive) =
                crate::request::copy_props(&a.copy_props, None)?;
            let manager = manager(client_for(global, connections).await?, config, journal)?;
            let sync = SyncCopy {
                tree: TreeCopy {
                    filters,
                    shard,
                    metadata_directive,
                    tagging_directive,
                    from_request: a.bucket.source_request(&a.source.source_sse_c_key)?,
                    options: object_options(&a.object, &a.bucket, None)?,
                    settings: uploads()?,
                    as_of,
                    skip_archived: a.skip_archived,
                    ..TreeCopy::new(&from.bucket, &from.key, &to.bucket, &to.key)
                },
                sync: settings,
            };
            let read = source_client(source.as_ref(), connections).await?;
            let handle = copying(&manager, read, sync);
            let (r, i) = output.run_tree(&to.bucket, handle).await;
            (to.bucket, r, i)
        }
    };
    match result {
        Ok(o) => summary(&output, &bucket, (direction, backup_dir), &o, started),
        Err(e) => Err(engine_error(&e, interrupted, None)),
    }
}

/// Starts a sync from prefix to prefix on `manager`'s server, reading through a sibling
/// manager of `source`, the other server's client, when there is one.
pub(crate) fn copying(
    manager: &Manager<S3Client>,
    source: Option<S3Client>,
    sync: SyncCopy,
) -> Handle<SyncOutcome> {
    match source {
        Some(client) => manager.sync_copy_from(&manager.sibling(Arc::new(client)), sync),
        None => manager.sync_copy(sync),
    }
}

/// The client of the server a sync (or a check) reads its source from, when it is another:
/// `source`, the global flags the source flags give.
pub(crate) async fn source_client(
    source: Option<&Global>,
    connections: Option<usize>,
) -> Result<Option<S3Client>, CliError> {
    match source {
        Some(g) => Ok(Some(client_for(g, connections).await?)),
        None => Ok(None),
    }
}

/// The source and destination of a sync (or a `check`: `command`), as text, and the way
/// between them: up, down, or prefix to prefix.
pub(crate) fn sides(
    src: &std::path::Path,
    dst: &std::path::Path,
    command: &str,
) -> Result<(String, String, SyncAction), CliError> {
    let (src, dst) = (arg_text(src)?, arg_text(dst)?);
    crate::request::both_given(&src, &dst, "a folder or s3://bucket[/prefix]")?;
    let direction = match (src.starts_with("s3://"), dst.starts_with("s3://")) {
        (false, true) => SyncAction::Upload,
        (true, false) => SyncAction::Download,
        (true, true) => SyncAction::Copy,
        (false, false) => {
            return Err(bad_input(format!(
                "one side of a {command} is s3://bucket[/prefix], the other a folder or a prefix"
            )));
        }
    };
    Ok((src, dst, direction))
}

/// The summary line (or JSON event), and the exit code: 1 when anything failed or was held
/// back, 130 when interrupted.
fn summary(
    output: &Output,
    bucket: &str,
    (direction, backup): (SyncAction, Option<String>),
    o: &SyncOutcome,
    started: Instant,
) -> Result<(), CliError> {
    let t = &o.transfers;
    let verb = match direction {
        SyncAction::Upload => "uploaded",
        SyncAction::Download => "downloaded",
        _ => "copied",
    };
    let moved = if o.dry_run { o.differing } else { t.done };
    let bytes = if o.dry_run {
        o.differing_bytes
    } else {
        t.bytes
    };
    if output.json {
        output.emit_json(&json_line(
            "summary",
            serde_json::json!({
                verb: moved, "bytes": bytes, "reused": t.reused, "skipped": o.skipped,
                "kept": o.kept, "renamed": o.renamed, "copied": o.copied,
                "in_compare_dest": o.in_compare_dest, "deleted": o.deleted, "backed_up": o.backed_up,
                "failed": t.failed.len() + o.delete_failed.len(), "dry_run": o.dry_run,
                "deletions_held": o.deletions_held.as_ref().map(held), "interrupted": o.interrupted,
                "seconds": secs(started), "passed_over": t.passed_over,
            }),
        ));
    } else {
        output.say(&format!(
            "sync{}: {moved} {verb} ({bytes} bytes{}{}{}), {} unchanged{}{}, {} deleted{}, {} failed{} in {:.1} s",
            if o.dry_run { " (dry run)" } else { "" },
            match t.reused {
                0 => String::new(),
                r => format!(", {r} resumed"),
            },
            match o.renamed {
                0 => String::new(),
                r if direction == SyncAction::Download => {
                    format!(", {r} renamed: moved from the file that held them")
                }
                r => format!(", {r} renamed: copied on the server from the object that held them"),
            },
            match o.copied {
                0 => String::new(),
                c => format!(", {c} copied on the server from --copy-dest"),
            },
            o.skipped,
            match o.in_compare_dest {
                0 => String::new(),
                n => format!(", {n} the same below --compare-dest"),
            },
            match o.kept {
                0 => String::new(),
                k => format!(", {k} kept as the destination holds them"),
            },
            o.deleted,
            match (o.backed_up, backup) {
                (0, _) | (_, None) => String::new(),
                (n, Some(to)) => format!(", {n} backed up to {to}"),
            },
            t.failed.len() + o.delete_failed.len(),
            crate::run::passed_over(t.passed_over),
            secs(started)
        ));
    }
    for f in &o.delete_failed {
        errln!(
            "ferry: failed: {}",
            crate::output::shown(&f.error.to_string(), false)
        );
    }
    if o.interrupted {
        return Err(CliError::Interrupted(anyhow::anyhow!(
            "interrupted; run the same command again to finish (what is done is not sent again)"
        )));
    }
    let mut problems = Vec::new();
    if !t.failed.is_empty() {
        // A kept transfer refused to resume names the way on (the same sync again is refused
        // again).
        let names = first_failures(
            t.failed
                .iter()
                .map(|f| match crate::exit::way_on(&f.error) {
                    Some(w) => format!("s3://{bucket}/{} ({w})", f.key),
                    None => format!("s3://{bucket}/{}", f.key),
                }),
            t.failed.len(),
            "",
        );
        problems.push(format!("{} failed: {}", t.failed.len(), names.join(", ")));
        problems.extend(crate::report::archived(&t.failed));
    }
    if t.stopped {
        problems
            .push("stopped at a failure every other object would meet too (reported above)".into());
    }
    if !o.delete_failed.is_empty() {
        problems.push(format!("{} deletions failed", o.delete_failed.len()));
    }
    if let Some(why) = &o.deletions_held {
        problems.push(held(why));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CliError::Failed(anyhow::anyhow!("{}", problems.join("; "))))
    }
}

/// Why the deletions were held back, in this command's words: the engine's deletion limit is
/// `--max-delete`.
fn held(why: &DeletionsHeld) -> String {
    match why {
        DeletionsHeld::OverLimit { deletions, max } => format!(
            "nothing was deleted: {deletions} deletions are more than --max-delete {max} allows"
        ),
        DeletionsHeld::EmptySource { deletions } => format!(
            "nothing was deleted: the source holds nothing, so all {deletions} in the destination \
             would go (a mistyped prefix? a folder not mounted?); to delete them all, add \
             --max-delete {deletions}"
        ),
        other => other.to_string(),
    }
}
