//! `ferry cp s3://bucket/key FILE|-`: the download flags checked in one place and turned into
//! an engine request; then the run, with progress, Ctrl-C and the report.

use std::path::PathBuf;
use std::sync::Arc;

use ferry_engine::{
    Check, DirectIo, DownloadConfig, DownloadOutcome, DownloadRequest, Downloader, ErrorKind,
    Target, VerifyMode,
};
use ferry_s3::RequestOptions;

use crate::args::{CpArgs, Global};
use crate::commands::{client, parse_s3_url};
use crate::exit::{CliError, bad_input};
use crate::output::Output;
use crate::upload::{parse_size, sse_c_key};

/// Refuses the flags that shape the object an upload writes: meaningless for a download.
fn upload_only(args: &CpArgs) -> Result<(), CliError> {
    let mut flags = vec![
        ("--checksum", args.checksum.is_some()),
        ("--checksum-type", args.checksum_type.is_some()),
        ("--expected-size", args.expected_size.is_some()),
        ("--sign-payload", args.sign_payload),
        ("--on-failure", args.on_failure.is_some()),
    ];
    flags.extend(crate::upload::object_content_flags(args));
    flags.extend([
        ("--storage-class", args.storage_class.is_some()),
        ("--acl", args.acl.is_some()),
        ("--grant-read", args.grant_read.is_some()),
        ("--grant-read-acp", args.grant_read_acp.is_some()),
        ("--grant-write-acp", args.grant_write_acp.is_some()),
        ("--grant-full-control", args.grant_full_control.is_some()),
        ("--sse", args.sse.is_some()),
        ("--sse-kms-key-id", args.sse_kms_key_id.is_some()),
        ("--state-dir", args.state_dir.is_some()),
    ]);
    crate::upload::refuse_flags(&flags, "for uploads; a download keeps the object as it is")
}

/// The engine settings the flags ask for.
pub(crate) fn download_config(args: &CpArgs) -> Result<DownloadConfig, CliError> {
    upload_only(args)?;
    let mut config = DownloadConfig {
        no_clobber: args.no_clobber,
        restart: args.restart,
        ..Default::default()
    };
    if let Some(ps) = &args.part_size {
        let v = parse_size(ps).map_err(|e| bad_input(format!("--part-size: {e}")))?;
        if !(64 << 10..=5 << 30).contains(&v) {
            return Err(bad_input(
                "--part-size: a download's ranges must be 64KiB to 5GiB",
            ));
        }
        config.range_size = v;
    }
    if let Some(c) = args.concurrency {
        if c == 0 || c > 1024 {
            return Err(bad_input("--concurrency: give 1 to 1024"));
        }
        config.concurrency = c;
    }
    if let Some(m) = &args.memory_limit {
        let m = parse_size(m).map_err(|e| bad_input(format!("--memory-limit: {e}")))?;
        if m < 8 << 20 {
            return Err(bad_input("--memory-limit: give at least 8MiB"));
        }
        config.memory_limit = m;
    }
    config.verify = match args.verify.as_deref() {
        None | Some("auto") => VerifyMode::Auto,
        Some("require") => VerifyMode::Require,
        Some("none") => VerifyMode::Off,
        Some(other) => {
            return Err(bad_input(format!(
                "--verify {other:?}: use auto, require or none"
            )));
        }
    };
    config.direct_io = direct_io(args)?;
    Ok(config)
}

/// `--direct-io`, for uploads and downloads.
pub(crate) fn direct_io(args: &CpArgs) -> Result<DirectIo, CliError> {
    Ok(match args.direct_io.as_deref() {
        None | Some("auto") => DirectIo::Auto,
        Some("always") => DirectIo::Always,
        Some("never") => DirectIo::Never,
        Some(other) => {
            return Err(bad_input(format!(
                "--direct-io {other:?}: use auto, always or never"
            )));
        }
    })
}

/// Runs `ferry cp s3://… FILE|-`.
pub(crate) async fn download(global: &Global, args: &CpArgs) -> Result<(), CliError> {
    let src = parse_s3_url(&args.src)?;
    if src.key.is_empty() || src.key.ends_with('/') {
        return Err(bad_input(format!(
            "{} names no object: give s3://bucket/key, or --recursive for every object under it",
            args.src
        )));
    }
    ferry_s3::validate_key(&src.key).map_err(bad_input)?;
    crate::upload::copy_only(args)?;
    let mut config = download_config(args)?;
    let to_stdout = args.dst == "-";
    let path = (!to_stdout)
        .then(|| {
            let mut p = PathBuf::from(&args.dst);
            if p.is_dir() || args.dst.ends_with('/') {
                let name = src.key.rsplit('/').next().unwrap_or(&src.key);
                p.push(name);
            }
            if p.is_dir() {
                return Err(bad_input(format!(
                    "{} is a folder; give a file name",
                    p.display()
                )));
            }
            if args.no_clobber && p.exists() {
                return Err(bad_input(format!(
                    "{} exists and --no-clobber was given",
                    p.display()
                )));
            }
            if let Some(parent) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| {
                    bad_input(format!(
                        "cannot create the folder {}: {e}",
                        parent.display()
                    ))
                })?;
            }
            Ok(p)
        })
        .transpose()?;
    if to_stdout && args.restart {
        return Err(bad_input("--restart is for files: stdout cannot resume"));
    }
    if to_stdout && args.direct_io.is_some() {
        return Err(bad_input(
            "--direct-io is for files: stdout is written as a stream",
        ));
    }
    let request = DownloadRequest {
        bucket: src.bucket.clone(),
        key: src.key.clone(),
        version_id: args.version_id.clone(),
        request: RequestOptions {
            sse_customer_key: args.sse_c_key.as_deref().map(sse_c_key).transpose()?,
            ..Default::default()
        },
        listed: None,
    };
    let client = client(global).await?;
    config.endpoint = client.config().endpoint.url();
    let downloader = Downloader::new(Arc::new(client), config);
    downloader.check().map_err(bad_input)?;
    let target = match &path {
        Some(p) => Target::File(p.clone()),
        None => Target::Writer(Box::new(tokio::io::stdout())),
    };
    let output = Output::new(args.json, args.quiet, args.no_progress, to_stdout);
    let handle = downloader.download(request, target);
    let (result, interrupted) = output.run(handle).await;
    match result {
        Ok(o) => {
            report(&output, &args.src, &o);
            Ok(())
        }
        Err(e) => {
            let kept = e.resume_id().map(|partial| {
                format!(
                    "the partial download is kept in {partial}; run the same command again to resume it"
                )
            });
            let message = |what: String| match &kept {
                Some(k) => anyhow::anyhow!("{what}\n{k}"),
                None => anyhow::anyhow!("{what}"),
            };
            if e.kind() == ErrorKind::Cancelled || interrupted {
                Err(CliError::Interrupted(message("interrupted".into())))
            } else if e.kind() == ErrorKind::InvalidInput {
                Err(CliError::BadInput(message(e.to_string())))
            } else {
                Err(CliError::Failed(message(e.to_string())))
            }
        }
    }
}

pub(crate) fn report(output: &Output, src: &str, o: &DownloadOutcome) {
    if output.json || output.quiet {
        return;
    }
    let check = match &o.check {
        Check::SizeOnly(why) => format!("size verified only: {why}"),
        other => format!("verified: {other}"),
    };
    let mut extra = String::new();
    if o.reused > 0 {
        extra.push_str(&format!(", resumed with {} bytes on disk", o.reused));
    }
    if o.refetched > 0 {
        extra.push_str(&format!(", {} range(s) fetched again", o.refetched));
    }
    let to = o
        .path
        .as_ref()
        .map_or_else(|| "stdout".to_string(), |p| p.display().to_string());
    let line = format!(
        "download: {src} to {to} ({} bytes, {} range{}{extra}, {check})",
        o.size,
        o.ranges,
        if o.ranges == 1 { "" } else { "s" }
    );
    // With the data on stdout, the report goes to stderr.
    if o.path.is_some() {
        println!("{line}");
    } else {
        eprintln!("{line}");
    }
}
