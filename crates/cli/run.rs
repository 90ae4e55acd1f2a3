//! Running a checked request through the engine: the client and the manager with its
//! budgets, the transfer shown while it runs, and its end turned into the report or the exit
//! code (with how to resume what was kept).

use std::sync::Arc;
use std::time::Instant;

use ferry_engine::{FileJournalStore, Mismatch, ResumeKeys, TreeOutcome, UploadOutcome};

use crate::args::{Global, ResumeArgs};
use crate::client::{client, client_for, journal_dir, manager, source_global, state_dir};
use crate::exit::{CliError, bad_input, engine_error};
use crate::options::{manager_config, refuse_flags, sse_c_key};
use crate::output::{Output, first_failures, secs};
use crate::report::{downloaded, json_line, uploaded};
use crate::request::{Cp, Work};

/// Runs a checked `cp`.
pub(crate) async fn cp(global: &Global, cp: Cp) -> Result<(), CliError> {
    let Cp {
        work,
        moving,
        manager: config,
        state_dir: dir,
        output,
    } = cp;
    // A tree's summary: what it did to each object.
    let verb = |did: &'static str| if moving { "move" } else { did };
    let journal = if work.journaled() {
        journal_dir(dir)?
    } else {
        None
    };
    let connections = Some(config.max_requests as usize);
    let client = client_for(global, connections).await?;
    let manager = manager(client, config, journal)?;
    match work {
        Work::Upload { upload, src } => {
            let stream = matches!(upload.source, ferry_engine::Source::Reader { .. });
            let (result, interrupted) = output.run(manager.upload(upload)).await;
            let noun = Noun::Upload { stream };
            settle(output, noun, &src, result, interrupted)
        }
        Work::Copy { copy, src } => {
            let (result, interrupted) = output.run(manager.copy(copy)).await;
            settle(
                output,
                Noun::Copy {
                    between_servers: false,
                },
                &src,
                result,
                interrupted,
            )
        }
        Work::CrossCopy { copy, source, src } => {
            let source = manager.sibling(Arc::new(client_for(&source, connections).await?));
            let (result, interrupted) = output.run(manager.copy_from(&source, copy)).await;
            settle(
                output,
                Noun::Copy {
                    between_servers: true,
                },
                &src,
                result,
                interrupted,
            )
        }
        Work::Download(download) => {
            let to_stdout = matches!(download.target, ferry_engine::Target::Writer(_));
            let (result, interrupted) = output.run(manager.download(download)).await;
            match result {
                Ok(o) => {
                    output.say(&downloaded(&o));
                    Ok(())
                }
                Err(e) if e.kind() == ferry_engine::ErrorKind::Local && reader_gone(&e) => {
                    Err(CliError::ReaderGone)
                }
                Err(e) if to_stdout && e.kind() == ferry_engine::ErrorKind::Verification => {
                    let told = "what was written to stdout is not the object: discard it";
                    Err(engine_error(&e, interrupted, None).noted(Some(told.to_string())))
                }
                Err(e) => {
                    let kept = e.resume_id().map(|partial| match over_allowance(&e) {
                        true => format!(
                            "the partial download is kept in {partial}; to resume it, run the \
                             command again with a larger --max-transfer (or none)"
                        ),
                        false => format!(
                            "the partial download is kept in {partial}; run the same command again to resume it"
                        ),
                    });
                    Err(engine_error(&e, interrupted, kept))
                }
            }
        }
        Work::UploadTree(tree) => {
            let (root, bucket) = (tree.root.clone(), tree.bucket.clone());
            let (started, dry) = (Instant::now(), tree.dry_run);
            let (result, interrupted) = output.run_tree(&bucket, manager.upload_tree(tree)).await;
            match result {
                Ok(o) if o.objects == 0 && !o.interrupted => {
                    output.say(&format!(
                        "upload: {} holds no files to send{}; nothing to do",
                        root.display(),
                        passed_over(o.passed_over)
                    ));
                    Ok(())
                }
                Ok(o) => tally(output, verb("upload"), &bucket, &o, (started, dry)),
                Err(e) => Err(engine_error(&e, interrupted, None)),
            }
        }
        Work::PlanWork(work) => crate::scale::worker(output, manager.work(work)).await,
        Work::CopyTree { tree, source } => {
            let bucket = tree.bucket.clone();
            let (started, dry) = (Instant::now(), tree.dry_run);
            let handle = match source {
                Some(g) => {
                    let source = manager.sibling(Arc::new(client_for(&g, connections).await?));
                    manager.copy_tree_from(&source, tree)
                }
                None => manager.copy_tree(tree),
            };
            let (result, interrupted) = output.run_tree(&bucket, handle).await;
            match result {
                Ok(o) => tally(output, verb("copy"), &bucket, &o, (started, dry)),
                Err(e) => Err(engine_error(&e, interrupted, None)),
            }
        }
        Work::DownloadTree(tree) => {
            let bucket = tree.bucket.clone();
            let (started, dry) = (Instant::now(), tree.dry_run);
            let (result, interrupted) = output.run_tree(&bucket, manager.download_tree(tree)).await;
            match result {
                Ok(o) => tally(output, verb("download"), &bucket, &o, (started, dry)),
                Err(e) => Err(engine_error(&e, interrupted, None)),
            }
        }
    }
}

/// Whether writing stdout failed because its reader went away (a broken pipe).
fn reader_gone(e: &ferry_engine::Error) -> bool {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

/// `ferry resume [ID]`: the journal names the source, the destination and the endpoint; the
/// rest (credentials, region) comes from the usual places.
pub(crate) async fn resume(global: &Global, args: ResumeArgs) -> Result<(), CliError> {
    use ferry_engine::JournalStore as _;
    let dir = state_dir(args.state_dir.clone())?;
    let store = FileJournalStore::new(&dir);
    let ids = store.list().map_err(bad_input)?;
    let id = match args.id.clone() {
        Some(id) => id,
        None if ids.len() == 1 => ids[0].clone(),
        None if ids.is_empty() => {
            return Err(bad_input(format!(
                "no interrupted upload or copy in {}",
                dir.display()
            )));
        }
        None => {
            // Each with what it copies where, so the right one can be named.
            let each: Vec<String> = ids
                .iter()
                .map(|id| match store.peek(id) {
                    Ok(Some(j)) => format!(
                        "\n  {id}  {} to s3://{}/{}",
                        journal_source(&j),
                        j.destination.bucket,
                        j.destination.key
                    ),
                    _ => format!("\n  {id}"),
                })
                .collect();
            return Err(bad_input(format!(
                "{} interrupted uploads and copies in {}: name one:{}",
                ids.len(),
                dir.display(),
                each.concat()
            )));
        }
    };
    let journal = store
        .peek(&id)
        .map_err(bad_input)?
        .ok_or_else(|| bad_input(format!("no journal {id} in {}", dir.display())))?;
    if journal.source.server().is_none() {
        refuse_flags(
            &args.source.server(),
            &format!(
                "for a copy from another server, and journal {id} is not one (its source is {})",
                journal.source.path.display()
            ),
        )?;
    }
    let keys = ResumeKeys {
        sse_customer_key: args.sse_c_key.as_deref().map(sse_c_key).transpose()?,
        source_sse_customer_key: args
            .source
            .source_sse_c_key
            .as_deref()
            .map(sse_c_key)
            .transpose()?,
    };
    let config = manager_config(&args.budget, 32 << 20)?;
    let mut global = global.clone();
    global.endpoint_url = Some(journal.destination.endpoint.clone());
    let manager = manager(client(&global).await?, config, Some(dir))?;
    let output = Output::new(&args.out, false, global.verbose > 0)
        .within(crate::options::limits(&args.budget)?);
    // A copy from another server reaches it again at the endpoint its journal names, with the
    // destination's credentials unless others are given.
    let resumed = match journal.source.server() {
        Some(server) => {
            let mut recorded = global.clone();
            recorded.endpoint_url = Some(server);
            let source = source_global(&recorded, &args.source).unwrap_or(recorded);
            let source = manager.sibling(Arc::new(client(&source).await?));
            manager.resume_from(&source, &id, keys)
        }
        None => manager.resume(&id, keys),
    };
    let (result, interrupted) = match resumed {
        Ok(handle) => output.run(handle).await,
        Err(e) => (Err(e), false),
    };
    if let Err(e) = &result
        && !interrupted
        && let Some(Mismatch::Source(_) | Mismatch::UploadGone) = e.resume_mismatch()
    {
        return Err(cannot_resume(e, &id, &journal));
    }
    let src = journal_source(&journal);
    let noun = match journal.source.kind {
        ferry_engine::SourceKind::File => Noun::Upload { stream: false },
        ferry_engine::SourceKind::Object => Noun::Copy {
            between_servers: false,
        },
        ferry_engine::SourceKind::Remote => Noun::Copy {
            between_servers: true,
        },
    };
    settle(output, noun, &src, result, interrupted)
}

/// A journaled transfer that cannot resume as it is (its source changed or is gone, or its
/// upload is gone): the ways on, as commands.
fn cannot_resume(e: &ferry_engine::Error, id: &str, journal: &ferry_engine::Journal) -> CliError {
    let d = &journal.destination;
    let dst = format!("s3://{}/{}", d.bucket, d.key);
    let path = &journal.source.path;
    let (src, server) = cp_source(journal);
    let (word, gone) = match journal.source.kind {
        ferry_engine::SourceKind::File => ("upload", !path.exists()),
        _ => ("copy", false),
    };
    let mut ways = if gone {
        format!(
            "the {word} is kept (journal {id}); if {src} comes back, ferry resume {id} finishes it"
        )
    } else {
        format!(
            "the {word} is kept (journal {id}), but cannot resume as it is; to start over (with \
             the options it began with): ferry cp {src} {}{server} --restart",
            shell_quote(&dst)
        )
    };
    if let Some(u) = &journal.upload {
        ways.push_str(&format!(
            "\nor to give it up: ferry uploads abort {} --upload-id {}",
            shell_quote(&dst),
            u.upload_id
        ));
    }
    CliError::BadInput(anyhow::anyhow!("{e}\n{ways}"))
}

/// The source of a journaled transfer as `ferry cp` takes it (a file, `s3://bucket/key`), and
/// for a copy from another server the flag that names its server.
fn cp_source(journal: &ferry_engine::Journal) -> (String, String) {
    match remote_object(journal) {
        Some((object, server)) => (
            shell_quote(&object),
            format!(" --source-endpoint-url {}", shell_quote(&server)),
        ),
        None => (
            shell_quote(&journal.source.path.to_string_lossy()),
            String::new(),
        ),
    }
}

/// A journal's source as its transfer named it: a file, or `s3://bucket/key`.
pub(crate) fn journal_source(journal: &ferry_engine::Journal) -> String {
    remote_object(journal)
        .map(|(object, _)| object)
        .unwrap_or_else(|| journal.source.path.display().to_string())
}

/// For a copy from another server, its source as `s3://bucket/key` and the server's endpoint
/// (the journal records the object's URL there, `http://host/bucket/key`).
fn remote_object(journal: &ferry_engine::Journal) -> Option<(String, String)> {
    let server = journal.source.server()?;
    let path = journal.source.path.to_string_lossy();
    let object = path.strip_prefix(server.as_str())?.strip_prefix('/')?;
    Some((format!("s3://{object}"), server))
}

/// What kind of transfer into S3 ended, for its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Noun {
    /// An upload of a file (resumable) or a stream (never).
    Upload { stream: bool },
    /// A copy on the server, or between servers (which can resume only when it could be
    /// journaled).
    Copy { between_servers: bool },
}

/// Whether `e` is a transfer refused before it started for not fitting in what was left of
/// the --max-transfer (`--cutoff-mode cautious`): run again as it is, it is refused again.
fn over_allowance(e: &ferry_engine::Error) -> bool {
    e.kind() == ferry_engine::ErrorKind::OverAllowance
}

/// Reports a finished upload or copy, or turns its error into the exit code and message
/// (with the command that resumes it, when it was kept).
fn settle(
    output: Output,
    noun: Noun,
    src: &str,
    result: Result<UploadOutcome, ferry_engine::Error>,
    interrupted: bool,
) -> Result<(), CliError> {
    let (word, stream, between_servers) = match noun {
        Noun::Upload { stream } => ("upload", stream, false),
        Noun::Copy { between_servers } => ("copy", false, between_servers),
    };
    let e = match result {
        Ok(outcome) => {
            output.say(&uploaded(word, src, &outcome));
            return Ok(());
        }
        Err(e) => e,
    };
    let kept = e.resume_id().map(|id| match e.resume_mismatch() {
        // What it began from is not there as it was, or this command asks for other
        // settings than it began with (so running it again fails again): the error says the
        // way on.
        Some(_) => format!("the {word} is kept (journal {id})"),
        // Refused by --cutoff-mode cautious: the same command is refused again.
        None if over_allowance(&e) => format!(
            "the {word} is kept (journal {id}); to resume it, run the command again with a \
             larger --max-transfer (or none), or: ferry resume {id}"
        ),
        // `ferry resume` names it already.
        _ if stream || std::env::args_os().nth(1).is_some_and(|a| a == "resume") => {
            format!(
                "the {word} is kept (journal {id}); to resume it, run:\n  {}",
                resume_command()
            )
        }
        _ => format!(
            "the {word} is kept (journal {id}); to resume it, run:\n  {}\nor: ferry resume {id}",
            resume_command()
        ),
    });
    if interrupted || e.kind() == ferry_engine::ErrorKind::Cancelled {
        let why = if kept.is_some() {
            "interrupted".to_string()
        } else if between_servers {
            "interrupted; the copy was aborted (a copy between servers resumes only when it is \
             multipart and journaled, and its source has a full-object checksum of the copy's \
             algorithm)"
                .to_string()
        } else if stream {
            format!("interrupted; the {word} was aborted (a stream cannot resume)")
        } else {
            "interrupted; nothing was left on the server".into()
        };
        let message = match kept {
            Some(k) => anyhow::anyhow!("{why}\n{k}"),
            None => anyhow::anyhow!("{why}"),
        };
        return Err(CliError::Interrupted(message));
    }
    Err(engine_error(&e, false, kept))
}

/// `, N passed over` for entries a tree passed over (each named in a warning), or nothing.
pub(crate) fn passed_over(n: u64) -> String {
    match n {
        0 => String::new(),
        n => format!(", {n} passed over"),
    }
}

/// `N objects, B bytes`, and `after` the bytes.
fn objects_and_bytes(n: u64, bytes: u64, after: &str) -> String {
    format!(
        "{n} object{}, {bytes} bytes{after}",
        if n == 1 { "" } else { "s" }
    )
}

/// Prints a tree's summary (begun at `started`; `dry_run`: what it would move) and turns its
/// failures into the exit code.
fn tally(
    output: Output,
    verb: &str,
    bucket: &str,
    o: &TreeOutcome,
    (started, dry_run): (Instant, bool),
) -> Result<(), CliError> {
    let elapsed = secs(started);
    let existed = match (o.existed, output.no_clobber) {
        (0, _) => String::new(),
        (n, true) => format!(", {n} left as they were (they exist: --no-clobber)"),
        (n, false) => format!(", {n} left as they were (in that storage class already)"),
    };
    let after = format!("{}{existed}", passed_over(o.passed_over));
    if output.json {
        output.emit_json(&json_line(
            "summary",
            serde_json::json!({
                "objects": o.objects, "done": o.done, "failed": o.failed.len(),
                "kept": o.kept, "bytes": o.bytes, "reused": o.reused, "seconds": elapsed,
                "passed_over": o.passed_over, "existed": o.existed,
                "interrupted": o.interrupted, "stopped": o.stopped, "dry_run": dry_run,
            }),
        ));
    } else if dry_run && o.is_complete() {
        output.say(&format!(
            "(dry run) {verb}: {}; nothing was {}",
            objects_and_bytes(o.objects, o.bytes, &after),
            if verb == "upload" { "sent" } else { "written" },
        ));
        return Ok(());
    } else if o.is_complete() {
        // The rate is of what moved in this run, not what an earlier one had moved.
        let reused = if o.reused > 0 {
            format!(" ({} resumed)", o.reused)
        } else {
            String::new()
        };
        let after = format!("{reused}{after}");
        output.say(&format!(
            "{verb}: {} in {elapsed:.1} s ({:.1} MiB/s)",
            objects_and_bytes(o.done, o.bytes, &after),
            o.bytes.saturating_sub(o.reused) as f64 / f64::from(1u32 << 20) / elapsed.max(1e-3),
        ));
    }
    // Kept, but refused to resume (each failure says the way on): the same command again
    // would be refused again.
    let refused = o
        .failed
        .iter()
        .filter(|f| f.error.resume_mismatch().is_some() && f.error.resume_id().is_some())
        .count();
    let mut resume = match o.kept.saturating_sub(refused as u64) {
        0 => String::new(),
        again => format!(
            "; {again} kept: run the same command again to resume them (finished objects are \
             copied again; `ferry sync` from the same source to the same destination sends \
             only what is missing)"
        ),
    };
    if refused > 0 {
        resume += &format!(
            "; {refused} kept that this command cannot resume, as begun otherwise (the way on \
             is said with each)"
        );
    }
    let stopped = if o.stopped {
        "stopped at the failure above, which every other object would meet too; "
    } else {
        ""
    };
    // Stopped or interrupted, the walk or listing may not have found every object.
    let counted = if o.interrupted || o.stopped {
        format!("{} of the {} objects started were done", o.done, o.objects)
    } else {
        format!("{} of {} objects done", o.done, o.objects)
    };
    if let Some(a) = crate::report::archived(&o.failed) {
        resume += &format!("; {a}");
    }
    let summary = format!("{stopped}{counted}{resume}");
    if o.interrupted {
        Err(CliError::Interrupted(anyhow::anyhow!(
            "interrupted; {summary}"
        )))
    } else if !o.failed.is_empty() {
        // Each was reported as it failed: the summary names the first few again.
        let lines = first_failures(
            o.failed.iter().map(|f| {
                let way_on = crate::exit::way_on(&f.error)
                    .map(|w| format!("; {w}"))
                    .unwrap_or_default();
                format!(
                    "s3://{bucket}/{} ({}): {}{way_on}",
                    f.key,
                    f.path.display(),
                    f.error
                )
            }),
            o.failed.len(),
            ", each reported as it failed",
        );
        Err(CliError::Failed(anyhow::anyhow!(
            "{} object{} failed:\n  {}\n{summary}",
            o.failed.len(),
            if o.failed.len() == 1 { "" } else { "s" },
            lines.join("\n  ")
        )))
    } else {
        Ok(())
    }
}

/// Flags whose value is a secret, never printed.
const SECRET_FLAGS: [&str; 2] = ["--sse-c-key", "--source-sse-c-key"];

/// This very command, to run again: an SSE-C key given inline shows as `@FILE` (never its
/// value), and `--restart` is dropped.
fn resume_command() -> String {
    command_line(std::env::args_os())
}

/// `args` (the program first) as a command line to paste, as [`resume_command`] says; an
/// argument that is not UTF-8 (a file's name may not be) is quoted as bash's `$'…'`.
fn command_line(mut args: impl Iterator<Item = std::ffi::OsString>) -> String {
    use std::os::unix::ffi::OsStrExt as _;
    let mut out = Vec::new();
    let program = args.next().unwrap_or_else(|| "ferry".into());
    out.push(shell_quote(&program.to_string_lossy()));
    let mut hide_next = false;
    for raw in args {
        let Some(a) = raw.to_str() else {
            out.push(if std::mem::take(&mut hide_next) {
                "@FILE".into()
            } else {
                bytes_quoted(raw.as_bytes())
            });
            continue;
        };
        if hide_next {
            hide_next = false;
            out.push(if a.starts_with('@') {
                shell_quote(a)
            } else {
                "@FILE".into()
            });
            continue;
        }
        if a == "--restart" {
            continue;
        }
        if SECRET_FLAGS.contains(&a) {
            hide_next = true;
        } else if let Some((flag, v)) = a.split_once('=')
            && SECRET_FLAGS.contains(&flag)
        {
            out.push(if v.starts_with('@') {
                shell_quote(a)
            } else {
                format!("{flag}=@FILE")
            });
            continue;
        }
        out.push(shell_quote(a));
    }
    out.join(" ")
}

/// Bytes that are not UTF-8 as a shell word: bash's `$'…'`, each byte that is not printable
/// ASCII as `\xNN`.
fn bytes_quoted(bytes: &[u8]) -> String {
    let mut out = String::from("$'");
    for &b in bytes {
        match b {
            b'\'' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('\'');
    out
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt as _;

    use super::command_line;

    #[test]
    fn the_command_to_run_again_hides_keys_drops_restart_and_quotes_any_name() {
        let args = [
            b"ferry".to_vec(),
            b"cp".to_vec(),
            b"caf\xe9 it's.bin".to_vec(),
            b"s3://b/k".to_vec(),
            b"--restart".to_vec(),
            b"--sse-c-key".to_vec(),
            b"c2VjcmV0".to_vec(),
            b"--source-sse-c-key=c2VjcmV0".to_vec(),
        ]
        .map(OsString::from_vec);
        assert_eq!(
            command_line(args.into_iter()),
            r"ferry cp $'caf\xe9 it\'s.bin' s3://b/k --sse-c-key @FILE --source-sse-c-key=@FILE"
        );
    }
}
