//! `ferry cp FILE|- s3://bucket/key`: every check on the user's upload flags in one place,
//! turning them into an engine request; then the run, with progress and Ctrl-C.

use std::io::IsTerminal as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_engine::{
    ChecksumMode, ErrorKind, Event, FailurePolicy, FileJournalStore, PlanConfig, ResumeConfig,
    Source, UploadConfig, UploadOutcome, Uploader, Verification,
};
use ferry_s3::{
    ChecksumAlgorithm, ChecksumType, Grantee, Grants, ObjectOptions, RequestOptions, S3Client,
    ServerSideEncryption, SseCustomerKey,
};

use crate::args::{CpArgs, Global};
use crate::commands::{S3Url, client, parse_s3_url};
use crate::exit::{CliError, bad_input};
use crate::output::{Output, json_line};

/// Parses a size: a number of bytes with an optional binary suffix (K, KiB, KB, M, MiB, MB,
/// G, GiB, GB, T, TiB, TB: all powers of 1024, as the AWS CLI reads them).
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(format!("{s:?} is not a size (e.g. 64MiB, 1GiB, 5242880)")),
    };
    let value: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 64MiB, 1GiB, 5242880)"))?;
    if value.is_nan() || value < 0.0 {
        return Err(format!("{s:?} is not a size"));
    }
    Ok((value * mult as f64).round() as u64)
}

fn grantees(list: &Option<String>) -> Result<Vec<Grantee>, CliError> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    list.split(',')
        .filter(|g| !g.trim().is_empty())
        .map(|g| g.parse::<Grantee>().map_err(bad_input))
        .collect()
}

pub(crate) fn sse_c_key(v: &str) -> Result<SseCustomerKey, CliError> {
    match v.strip_prefix('@') {
        Some(path) => {
            let raw = std::fs::read(path)
                .map_err(|e| bad_input(format!("cannot read the SSE-C key file {path}: {e}")))?;
            SseCustomerKey::new(&raw).map_err(bad_input)
        }
        None => SseCustomerKey::from_base64(v).map_err(bad_input),
    }
}

fn checksum_mode(args: &CpArgs) -> Result<ChecksumMode, CliError> {
    let alg = args.checksum.as_deref().map(str::to_ascii_lowercase);
    let ty = args
        .checksum_type
        .as_deref()
        .map(|t| t.parse::<ChecksumType>().map_err(bad_input))
        .transpose()?;
    match alg.as_deref() {
        Some("none") | Some("md5") if ty.is_some() => Err(bad_input(
            "--checksum-type needs an additional checksum algorithm, not none or md5",
        )),
        Some("none") => Ok(ChecksumMode::None),
        Some("md5") => Ok(ChecksumMode::ContentMd5),
        other => {
            let a = match other {
                Some(a) => a
                    .parse::<ChecksumAlgorithm>()
                    .map_err(|e| bad_input(format!("{e}; or md5 (Content-MD5 only) or none")))?,
                None => ChecksumAlgorithm::Crc64Nvme,
            };
            let t = ty.unwrap_or(if a.allows(ChecksumType::FullObject) {
                ChecksumType::FullObject
            } else {
                ChecksumType::Composite
            });
            if !a.allows(t) {
                return Err(bad_input(format!(
                    "checksum algorithm {a} cannot be used with type {t} (CRC64NVME is FULL_OBJECT only; SHA1 and SHA256 are COMPOSITE only)"
                )));
            }
            Ok(ChecksumMode::Additional(a, t))
        }
    }
}

/// The flags that set what a new object carries (its content headers, metadata and tags),
/// each with whether it was given.
pub(crate) fn object_content_flags(args: &CpArgs) -> [(&'static str, bool); 7] {
    [
        ("--content-type", args.content_type.is_some()),
        ("--cache-control", args.cache_control.is_some()),
        ("--content-disposition", args.content_disposition.is_some()),
        ("--content-encoding", args.content_encoding.is_some()),
        ("--content-language", args.content_language.is_some()),
        ("--metadata", !args.metadata.is_empty()),
        ("--tagging", args.tagging.is_some()),
    ]
}

/// Refuses the flags that only a copy between S3 locations takes.
pub(crate) fn copy_only(args: &CpArgs) -> Result<(), CliError> {
    refuse_flags(
        &[
            ("--metadata-directive", args.metadata_directive.is_some()),
            ("--source-endpoint-url", args.source_endpoint_url.is_some()),
            ("--source-profile", args.source_profile.is_some()),
            ("--source-region", args.source_region.is_some()),
            ("--source-sse-c-key", args.source_sse_c_key.is_some()),
        ],
        "for copies between S3 locations",
    )
}

/// Bad input naming every flag of `flags` that was given: "--a, --b are `why`".
pub(crate) fn refuse_flags(flags: &[(&str, bool)], why: &str) -> Result<(), CliError> {
    let set: Vec<&str> = flags
        .iter()
        .filter(|(_, on)| *on)
        .map(|(f, _)| *f)
        .collect();
    if set.is_empty() {
        Ok(())
    } else {
        Err(bad_input(format!(
            "{} {} {why}",
            set.join(", "),
            if set.len() == 1 { "is" } else { "are" }
        )))
    }
}

/// The object options the flags ask for.
pub(crate) fn object_options(args: &CpArgs, src: Option<&Path>) -> Result<ObjectOptions, CliError> {
    let mut metadata = std::collections::BTreeMap::new();
    for kv in &args.metadata {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| bad_input(format!("--metadata {kv:?}: expected KEY=VALUE")))?;
        metadata.insert(k.trim().to_ascii_lowercase(), v.to_string());
    }
    let tagging = match &args.tagging {
        Some(t) => t
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), v.to_string())
            })
            .collect(),
        None => Vec::new(),
    };
    let sse = match args.sse.as_deref() {
        None if args.sse_kms_key_id.is_some() => {
            return Err(bad_input("--sse-kms-key-id needs --sse aws:kms"));
        }
        None => None,
        Some("AES256") => Some(ServerSideEncryption::S3),
        Some("aws:kms") => Some(ServerSideEncryption::Kms {
            key_id: args.sse_kms_key_id.clone(),
            context: None,
            bucket_key: None,
        }),
        Some(other) => {
            return Err(bad_input(format!(
                "--sse {other:?}: use AES256 or aws:kms (and --sse-c-key for SSE-C)"
            )));
        }
    };
    let content_type = args
        .content_type
        .clone()
        .or_else(|| src.and_then(|p| mime_guess::from_path(p).first_raw().map(str::to_string)));
    let options = ObjectOptions {
        content_type,
        content_encoding: args.content_encoding.clone(),
        content_disposition: args.content_disposition.clone(),
        content_language: args.content_language.clone(),
        cache_control: args.cache_control.clone(),
        metadata,
        storage_class: args.storage_class.clone(),
        tagging,
        sse,
        acl: args.acl.clone(),
        grants: Grants {
            read: grantees(&args.grant_read)?,
            read_acp: grantees(&args.grant_read_acp)?,
            write_acp: grantees(&args.grant_write_acp)?,
            full_control: grantees(&args.grant_full_control)?,
        },
        request: RequestOptions {
            sse_customer_key: args.sse_c_key.as_deref().map(sse_c_key).transpose()?,
            ..Default::default()
        },
        ..Default::default()
    };
    options.validate().map_err(bad_input)?;
    Ok(options)
}

/// The engine settings the flags ask for.
pub(crate) fn upload_config(args: &CpArgs) -> Result<UploadConfig, CliError> {
    let size = |flag: &str, v: &Option<String>| {
        v.as_deref()
            .map(|s| parse_size(s).map_err(|e| bad_input(format!("{flag}: {e}"))))
            .transpose()
    };
    let part_size = size("--part-size", &args.part_size)?;
    if let Some(ps) = part_size {
        ferry_engine::check_part_size(ps).map_err(bad_input)?;
    }
    let mut config = UploadConfig {
        plan: PlanConfig {
            part_size,
            ..Default::default()
        },
        checksum: checksum_mode(args)?,
        no_clobber: args.no_clobber,
        sign_payload: args.sign_payload,
        expected_size: size("--expected-size", &args.expected_size)?,
        direct_io: crate::download::direct_io(args)?,
        ..Default::default()
    };
    if let Some(c) = args.concurrency {
        if c == 0 || c > 1024 {
            return Err(bad_input("--concurrency: give 1 to 1024"));
        }
        config.concurrency = c;
    }
    config.on_failure = match args.on_failure.as_deref() {
        None => FailurePolicy::Auto,
        Some("keep") => FailurePolicy::Keep,
        Some("abort") => FailurePolicy::Abort,
        Some(other) => {
            return Err(bad_input(format!(
                "--on-failure {other:?}: use keep or abort"
            )));
        }
    };
    if let Some(m) = size("--memory-limit", &args.memory_limit)? {
        if m < 8 << 20 {
            return Err(bad_input("--memory-limit: give at least 8MiB"));
        }
        config.memory_limit = m;
    }
    Ok(config)
}

/// Runs `ferry cp FILE|- s3://…`.
pub(crate) async fn upload(global: &Global, args: &CpArgs) -> Result<(), CliError> {
    let from_stdin = args.src == "-";
    let src_path = (!from_stdin).then(|| Path::new(&args.src).to_path_buf());
    let mut dst = parse_s3_url(&args.dst)?;
    if dst.key.is_empty() || dst.key.ends_with('/') {
        let Some(name) = src_path.as_ref().and_then(|p| p.file_name()) else {
            return Err(bad_input(
                "give the destination key (s3://bucket/key) when reading from stdin",
            ));
        };
        dst.key.push_str(&name.to_string_lossy());
    }
    ferry_s3::validate_key(&dst.key).map_err(bad_input)?;
    if args.verify.is_some() || args.version_id.is_some() {
        return Err(bad_input(
            "--verify and --version-id are for downloads; an upload is always checked",
        ));
    }
    copy_only(args)?;
    let config = upload_config(args)?;
    if let Some(p) = &src_path {
        let meta = std::fs::metadata(p)
            .map_err(|e| bad_input(format!("cannot read source {}: {e}", p.display())))?;
        if meta.is_dir() {
            return Err(bad_input(format!(
                "source {} is a folder; give a file, or --recursive for every file under it",
                p.display()
            )));
        }
        std::fs::File::open(p)
            .map_err(|e| bad_input(format!("cannot read source {}: {e}", p.display())))?;
        if args.expected_size.is_some() {
            return Err(bad_input("--expected-size is for streams from stdin"));
        }
        ferry_engine::plan(meta.len(), &config.plan)
            .map_err(|e| bad_input(format!("{}: {e}", p.display())))?;
    }
    let options = object_options(args, src_path.as_deref())?;
    let client = client(global).await?;
    let mut config = config;
    if src_path.is_some() {
        config.resume = Some(resume_config(args, &client)?);
    } else if args.restart {
        return Err(bad_input("--restart is for files: a stream cannot resume"));
    } else if args.direct_io.is_some() {
        return Err(bad_input(
            "--direct-io is for files: a stream is read as it comes",
        ));
    }
    let uploader = Uploader::new(Arc::new(client), config);
    uploader.check(&options).map_err(bad_input)?;
    let source = match &src_path {
        Some(p) => Source::File(p.clone()),
        None => Source::Stream(Box::new(tokio::io::stdin())),
    };
    let output = Output::new(args.json, args.quiet, args.no_progress, false);
    let handle = uploader.upload(source, dst.bucket.clone(), dst.key.clone(), options);
    let (result, interrupted) = output.run(handle).await;
    let what = if from_stdin {
        Transfer::Stream
    } else {
        Transfer::File
    };
    settle(&output, what, &args.src, &dst, result, interrupted)
}

/// Where file uploads keep their journals, so an interrupted one resumes.
pub(crate) fn resume_config(args: &CpArgs, client: &S3Client) -> Result<ResumeConfig, CliError> {
    let dir = args
        .state_dir
        .clone()
        .or_else(FileJournalStore::default_dir)
        .ok_or_else(|| bad_input("no folder for upload journals: set HOME or give --state-dir"))?;
    Ok(ResumeConfig {
        store: Arc::new(FileJournalStore::new(dir)),
        endpoint: client.config().endpoint.url(),
        restart: args.restart,
    })
}

/// What kind of transfer into S3 ended, for its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transfer {
    /// A file upload (resumable).
    File,
    /// A stream upload (never resumable).
    Stream,
    /// A server-side copy (resumable).
    Copy,
    /// A copy streamed between two servers (never resumable).
    StreamedCopy,
}

/// Reports a finished upload or copy, or turns its error into the exit code and message
/// (with the command that resumes it, when it was kept).
pub(crate) fn settle(
    output: &Output,
    what: Transfer,
    src: &str,
    dst: &S3Url,
    result: Result<UploadOutcome, ferry_engine::Error>,
    interrupted: bool,
) -> Result<(), CliError> {
    let noun = match what {
        Transfer::File | Transfer::Stream => "upload",
        Transfer::Copy | Transfer::StreamedCopy => "copy",
    };
    match result {
        Ok(outcome) => {
            report(output, noun, src, dst, &outcome);
            Ok(())
        }
        Err(e) => {
            let kept = e.resume_id().map(|id| {
                format!(
                    "the {noun} is kept (journal {id}); to resume it, run:\n  {}\nor: ferry resume {id}",
                    resume_command()
                )
            });
            let message = |what: String| match &kept {
                Some(k) => anyhow::anyhow!("{what}\n{k}"),
                None => anyhow::anyhow!("{what}"),
            };
            if e.kind() == ErrorKind::Cancelled || interrupted {
                let what = if kept.is_some() {
                    "interrupted".to_string()
                } else if matches!(what, Transfer::Stream | Transfer::StreamedCopy) {
                    format!("interrupted; the {noun} was aborted (a stream cannot resume)")
                } else {
                    "interrupted; nothing was left on the server".into()
                };
                Err(CliError::Interrupted(message(what)))
            } else if e.kind() == ErrorKind::InvalidInput {
                Err(CliError::BadInput(message(e.to_string())))
            } else {
                Err(CliError::Failed(message(e.to_string())))
            }
        }
    }
}

/// Flags whose value is a secret, never printed.
const SECRET_FLAGS: [&str; 2] = ["--sse-c-key", "--source-sse-c-key"];

/// This very command, to run again: an SSE-C key given inline shows as `@FILE` (never its
/// value), and `--restart` is dropped.
fn resume_command() -> String {
    let mut out = Vec::new();
    let mut args = std::env::args();
    let program = args.next().unwrap_or_else(|| "ferry".into());
    out.push(shell_quote(&program));
    let mut hide_next = false;
    for a in args {
        if hide_next {
            hide_next = false;
            out.push(if a.starts_with('@') {
                shell_quote(&a)
            } else {
                "@FILE".into()
            });
            continue;
        }
        if a == "--restart" {
            continue;
        }
        if SECRET_FLAGS.contains(&a.as_str()) {
            hide_next = true;
        } else if let Some((flag, v)) = a.split_once('=')
            && SECRET_FLAGS.contains(&flag)
        {
            out.push(if v.starts_with('@') {
                shell_quote(&a)
            } else {
                format!("{flag}=@FILE")
            });
            continue;
        }
        out.push(shell_quote(&a));
    }
    out.join(" ")
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

pub(crate) fn report(output: &Output, noun: &str, src: &str, dst: &S3Url, o: &UploadOutcome) {
    if output.json || output.quiet {
        return;
    }
    let check = match &o.verification {
        Verification::Checksum(c) => format!(
            "{} {} verified: {}",
            c.algorithm,
            o.checksum_type.map(|t| t.as_str()).unwrap_or(""),
            c.value
        )
        .replace("  ", " "),
        Verification::PartsAndSize => "parts checked on arrival, size verified".into(),
        Verification::SizeOnly => "size verified, no checksum".into(),
    };
    println!(
        "{noun}: {src} to s3://{}/{} ({} bytes, {} part{}, {check})",
        dst.bucket,
        dst.key,
        o.size,
        o.parts,
        if o.parts == 1 { "" } else { "s" }
    );
}

/// The JSON form of an upload event (schema version 1).
pub(crate) fn event_json(e: &Event) -> serde_json::Value {
    use serde_json::json;
    match e {
        Event::Planned {
            size,
            part_size,
            parts,
            multipart,
        } => json_line(
            "planned",
            json!({"size": size, "part_size": part_size, "parts": parts, "multipart": multipart}),
        ),
        Event::UploadCreated { upload_id } => {
            json_line("upload_created", json!({"upload_id": upload_id}))
        }
        Event::PartStarted { part, size } => {
            json_line("part_started", json!({"part": part, "size": size}))
        }
        Event::PartFinished { part, size, etag } => json_line(
            "part_finished",
            json!({"part": part, "size": size, "etag": etag}),
        ),
        Event::Retry {
            part,
            attempt,
            delay,
            reason,
        } => json_line(
            "retry",
            json!({"part": part, "attempt": attempt, "delay_ms": delay.as_millis() as u64, "reason": reason}),
        ),
        Event::Concurrency { limit } => json_line("concurrency", json!({"limit": limit})),
        Event::Resumed {
            upload_id,
            parts_done,
            parts_to_send,
        } => json_line(
            "resumed",
            json!({"upload_id": upload_id, "parts_done": parts_done, "parts_to_send": parts_to_send}),
        ),
        Event::Finished(o) => json_line(
            "finished",
            json!({
                "bucket": o.bucket, "key": o.key, "size": o.size, "etag": o.etag,
                "version_id": o.version_id, "parts": o.parts,
                "checksum": o.checksum.as_ref().map(|c| c.value.clone()),
                "checksum_algorithm": o.checksum.as_ref().map(|c| c.algorithm.as_str()),
                "checksum_type": o.checksum_type.map(|t| t.as_str()),
                "verified": match &o.verification {
                    Verification::Checksum(_) => "checksum",
                    Verification::PartsAndSize => "parts_and_size",
                    Verification::SizeOnly => "size",
                },
            }),
        ),
        Event::Failed { error } => json_line("failed", json!({"error": error})),
        Event::DownloadPlanned {
            size,
            ranges,
            range_size,
            check,
        } => json_line(
            "download_planned",
            json!({"size": size, "ranges": ranges, "range_size": range_size, "check": check}),
        ),
        Event::DownloadResumed {
            ranges_done,
            ranges_to_fetch,
            bytes_done,
        } => json_line(
            "download_resumed",
            json!({"ranges_done": ranges_done, "ranges_to_fetch": ranges_to_fetch, "bytes_done": bytes_done}),
        ),
        Event::Restarted { reason } => json_line("restarted", json!({"reason": reason})),
        Event::RangeStarted { range, first, len } => json_line(
            "range_started",
            json!({"range": range, "first": first, "len": len}),
        ),
        Event::RangeFinished { range, first, len } => json_line(
            "range_finished",
            json!({"range": range, "first": first, "len": len}),
        ),
        Event::Refetched { range, first, len } => json_line(
            "refetched",
            json!({"range": range, "first": first, "len": len}),
        ),
        Event::Downloaded(o) => json_line(
            "downloaded",
            json!({
                "bucket": o.bucket, "key": o.key, "size": o.size, "etag": o.etag,
                "version_id": o.version_id, "path": o.path, "ranges": o.ranges,
                "fetched": o.fetched, "reused": o.reused, "refetched": o.refetched,
                "check": o.check.kind(), "checked": o.check.to_string(),
            }),
        ),
        _ => json_line("unknown", json!({})),
    }
}

/// Whether stderr is a terminal (for the progress bar).
pub(crate) fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// How often a non-terminal progress line is printed.
pub(crate) const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Seconds since `start`, for rates.
pub(crate) fn secs(start: Instant) -> f64 {
    start.elapsed().as_secs_f64().max(1e-3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("5242880"), Ok(5242880));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("64MB"), Ok(64 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("8k"), Ok(8192));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
    }
}
