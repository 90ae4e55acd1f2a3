//! `ferry cp s3://a/key s3://b/key2`: a server-side copy (journaled, resumable) when both
//! sides are on one server with one set of credentials; otherwise a copy streamed through
//! ferry, ranged GETs into upload parts, in bounded memory and checked on both sides.

use std::sync::Arc;

use ferry_engine::{
    DownloadConfig, DownloadRequest, Downloader, FileJournalStore, ObjectSource, ResumeConfig,
    Source, Target, UploadConfig, Uploader, copy_metadata, object_tags, pipe,
};
use ferry_s3::{
    Directive, GetObjectRequest, GetObjectTaggingRequest, ObjectClient, ObjectOptions,
    RequestOptions, S3Client,
};

use crate::args::{CpArgs, Global};
use crate::commands::{S3Url, client, parse_s3_url};
use crate::exit::{CliError, bad_input};
use crate::output::Output;
use crate::upload::{Transfer, object_options, settle, sse_c_key, upload_config};

/// Flags that set what the new object carries, which a COPY directive takes from the source.
fn metadata_flags(args: &CpArgs) -> Vec<&'static str> {
    crate::upload::object_content_flags(args)
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(f, _)| f)
        .collect()
}

/// Runs `ferry cp s3://… s3://…`.
pub(crate) async fn copy(global: &Global, args: &CpArgs) -> Result<(), CliError> {
    let src = parse_s3_url(&args.src)?;
    let mut dst = parse_s3_url(&args.dst)?;
    if src.key.is_empty() || src.key.ends_with('/') {
        return Err(bad_input(format!(
            "{} names no object: give s3://bucket/key",
            args.src
        )));
    }
    if dst.key.is_empty() || dst.key.ends_with('/') {
        dst.key
            .push_str(src.key.rsplit('/').next().unwrap_or(&src.key));
    }
    ferry_s3::validate_key(&src.key).map_err(bad_input)?;
    ferry_s3::validate_key(&dst.key).map_err(bad_input)?;
    if (&src.bucket, &src.key) == (&dst.bucket, &dst.key) && args.metadata_directive.is_none() {
        return Err(bad_input(
            "the source and the destination are the same object; give --metadata-directive REPLACE to rewrite its metadata",
        ));
    }
    let directive = match args
        .metadata_directive
        .as_deref()
        .map(str::to_ascii_uppercase)
    {
        None => Directive::Copy,
        Some(d) if d == "COPY" => Directive::Copy,
        Some(d) if d == "REPLACE" => Directive::Replace,
        Some(other) => {
            return Err(bad_input(format!(
                "--metadata-directive {other:?}: use COPY or REPLACE"
            )));
        }
    };
    let flags = metadata_flags(args);
    if directive == Directive::Copy && !flags.is_empty() {
        return Err(bad_input(format!(
            "{} would replace what the copy takes from its source: add --metadata-directive REPLACE",
            flags.join(", ")
        )));
    }
    if args.verify.is_some() || args.expected_size.is_some() || args.direct_io.is_some() {
        return Err(bad_input(
            "--verify, --expected-size and --direct-io are not for copies: a copy is always checked and writes no file",
        ));
    }
    let mut config = upload_config(args)?;
    let options = object_options(args, None)?;
    let source_key = args
        .source_sse_c_key
        .as_deref()
        .map(sse_c_key)
        .transpose()?;
    let streamed = args.source_endpoint_url.is_some()
        || args.source_profile.is_some()
        || args.source_region.is_some();
    let client = client(global).await?;
    if streamed {
        let mut source_global = global.clone();
        if let Some(e) = &args.source_endpoint_url {
            source_global.endpoint_url = Some(e.clone());
        }
        if let Some(p) = &args.source_profile {
            source_global.profile = Some(p.clone());
        }
        if let Some(r) = &args.source_region {
            source_global.region = Some(r.clone());
        }
        let source_client = crate::commands::client(&source_global).await?;
        if args.restart {
            return Err(bad_input(
                "--restart is for copies on one server: a copy between servers cannot resume",
            ));
        }
        return streamed_copy(
            args,
            StreamedCopy {
                source_client,
                client,
                src,
                dst,
                source_key,
                directive,
                config,
                options,
            },
        )
        .await;
    }
    let dir = args
        .state_dir
        .clone()
        .or_else(FileJournalStore::default_dir)
        .ok_or_else(|| bad_input("no folder for copy journals: set HOME or give --state-dir"))?;
    config.resume = Some(ResumeConfig {
        store: Arc::new(FileJournalStore::new(dir)),
        endpoint: client.config().endpoint.url(),
        restart: args.restart,
    });
    let uploader = Uploader::new(Arc::new(client), config);
    uploader.check(&options).map_err(bad_input)?;
    let source = Source::Object(ObjectSource {
        bucket: src.bucket.clone(),
        key: src.key.clone(),
        version_id: args.version_id.clone(),
        sse_customer_key: source_key,
        metadata_directive: directive,
    });
    let output = Output::new(args.json, args.quiet, args.no_progress, false);
    let handle = uploader.upload(source, dst.bucket.clone(), dst.key.clone(), options);
    let (result, interrupted) = output.run(handle).await;
    settle(
        &output,
        Transfer::Copy,
        &args.src,
        &dst,
        result,
        interrupted,
    )
}

/// What a copy between two servers needs.
struct StreamedCopy {
    source_client: S3Client,
    client: S3Client,
    src: S3Url,
    dst: S3Url,
    source_key: Option<ferry_s3::SseCustomerKey>,
    directive: Directive,
    config: UploadConfig,
    options: ObjectOptions,
}

/// Downloads the source in ranges into a pipe the upload reads as a stream of known size:
/// the download checks the source's bytes with what the source offers, the upload checksums
/// every part for the destination, and the upload completes only after the download checked
/// out.
async fn streamed_copy(args: &CpArgs, c: StreamedCopy) -> Result<(), CliError> {
    let request = RequestOptions {
        sse_customer_key: c.source_key.clone(),
        ..Default::default()
    };
    let head = c
        .source_client
        .head_object(&GetObjectRequest {
            bucket: c.src.bucket.clone(),
            key: c.src.key.clone(),
            version_id: args.version_id.clone(),
            request: request.clone(),
            ..Default::default()
        })
        .await?;
    let mut options = c.options;
    if c.directive == Directive::Copy {
        copy_metadata(&head, &mut options);
        options.tagging = object_tags(
            &c.source_client,
            &GetObjectTaggingRequest {
                bucket: c.src.bucket.clone(),
                key: c.src.key.clone(),
                version_id: args.version_id.clone(),
                request: request.clone(),
            },
        )
        .await?;
    }
    // The budget: half for the upload's parts, a quarter for the download's reordering
    // window, the rest for the pipe and the buffers being filled.
    let budget = c.config.memory_limit;
    let mut config = c.config;
    config.memory_limit = (budget / 2).max(8 << 20);
    config.expected_size = Some(head.content_length);
    let downloader = Downloader::new(
        Arc::new(c.source_client),
        DownloadConfig {
            concurrency: config.concurrency,
            memory_limit: (budget / 4).max(8 << 20),
            range_size: config.plan.part_size.unwrap_or(16 << 20).min(64 << 20),
            resume: false,
            ..Default::default()
        },
    );
    downloader.check().map_err(bad_input)?;
    let uploader = Uploader::new(Arc::new(c.client), config);
    uploader.check(&options).map_err(bad_input)?;
    let (writer, reader, end) = pipe(8);
    let download = downloader.download(
        DownloadRequest {
            bucket: c.src.bucket.clone(),
            key: c.src.key.clone(),
            version_id: args.version_id.clone(),
            request,
            listed: None,
        },
        Target::Writer(Box::new(writer)),
    );
    let fed = tokio::spawn(async move {
        let r = download.wait().await;
        match &r {
            Ok(_) => end.finish(),
            Err(e) => end.fail(format!("reading the source: {e}")).await,
        }
        r
    });
    let output = Output::new(args.json, args.quiet, args.no_progress, false);
    let handle = uploader.upload(
        Source::Stream(Box::new(reader)),
        c.dst.bucket.clone(),
        c.dst.key.clone(),
        options,
    );
    let (result, interrupted) = output.run(handle).await;
    let read = fed.await;
    // The download's own error says more than the upload's "the stream failed".
    let result = match (result, read) {
        (Err(_), Ok(Err(e))) => Err(e),
        (r, _) => r,
    };
    settle(
        &output,
        Transfer::StreamedCopy,
        &args.src,
        &c.dst,
        result,
        interrupted,
    )
}
