//! `ferry cp -r`: a folder to a prefix (every file under it) and a prefix to a folder (every
//! object under it), in one process through one client. Objects run side by side within one
//! budget of `--concurrency` requests: each takes as many slots as it has parts or ranges (all
//! of them at most), so small objects go many at a time and a big one gets the full width.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_engine::{
    Canceller, DownloadRequest, Downloader, ErrorKind, Handle, Listed, Progress, RetryPolicy,
    RetryQuota, Source, Target, Uploader,
};
use ferry_s3::{ListObjectsRequest, ObjectInfo, RequestOptions, S3Client, list_all_objects};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::args::{CpArgs, Global};
use crate::commands::{S3Url, client, parse_s3_url};
use crate::exit::{CliError, bad_input};
use crate::output::{Output, json_line};
use crate::upload::{secs, sse_c_key};

/// One object of a tree copy: its file, its key, its size, and its ETag when listed.
#[derive(Debug, Clone)]
struct Item {
    path: PathBuf,
    key: String,
    size: u64,
    etag: Option<String>,
}

/// `prefix` as a folder: empty (the whole bucket) or ending in `/`.
fn as_folder(prefix: &str) -> String {
    if prefix.is_empty() || prefix.ends_with('/') {
        prefix.to_string()
    } else {
        format!("{prefix}/")
    }
}

/// The key of the file at `rel` (a path below the folder): the prefix and the path's
/// components joined by `/`.
fn key_for(prefix: &str, rel: &Path) -> Result<String, String> {
    let mut key = prefix.to_string();
    for (i, c) in rel.components().enumerate() {
        let Component::Normal(name) = c else {
            return Err(format!("{} is not a path below the folder", rel.display()));
        };
        let name = name.to_str().ok_or_else(|| {
            format!(
                "{}: the name is not UTF-8, and a key must be; rename it",
                rel.display()
            )
        })?;
        if i > 0 {
            key.push('/');
        }
        key.push_str(name);
    }
    Ok(key)
}

/// Where the object `key` listed under `prefix` goes below `root`: `None` for a folder
/// marker (a key ending in `/`); an error for a key that cannot be a path below `root`
/// (`.`, `..` or empty segments, a NUL byte).
fn path_for(root: &Path, prefix: &str, key: &str) -> Result<Option<PathBuf>, String> {
    let rel = key
        .strip_prefix(prefix)
        .ok_or_else(|| format!("{key:?} is not under {prefix:?}"))?;
    if rel.is_empty() || rel.ends_with('/') {
        return Ok(None);
    }
    if let Some(bad) = rel
        .split('/')
        .find(|s| s.is_empty() || *s == "." || *s == ".." || s.contains('\0'))
    {
        return Err(format!(
            "the key {key:?} has a segment {bad:?} that cannot be a file name below {}; \
             copy it alone with `ferry cp s3://…/KEY FILE`",
            root.display()
        ));
    }
    Ok(Some(root.join(rel)))
}

/// Every regular file under `root` (symbolic links followed, in name order), with its key.
fn walk(root: &Path, prefix: &str) -> Result<Vec<Item>, CliError> {
    let mut items = Vec::new();
    for entry in walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|e| {
            let at = e.path().unwrap_or(root).display().to_string();
            bad_input(format!("cannot read {at}: {e}"))
        })?;
        let meta = entry
            .metadata()
            .map_err(|e| bad_input(format!("cannot read {}: {e}", entry.path().display())))?;
        if meta.is_dir() {
            continue;
        }
        if !meta.is_file() {
            eprintln!(
                "ferry: skipping {}: not a regular file",
                entry.path().display()
            );
            continue;
        }
        let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let key = key_for(prefix, rel).map_err(bad_input)?;
        ferry_s3::validate_key(&key).map_err(bad_input)?;
        items.push(Item {
            path: entry.path().to_path_buf(),
            key,
            size: meta.len(),
            etag: None,
        });
    }
    Ok(items)
}

/// Refuses the flags a tree copy cannot honour.
fn single_only(args: &CpArgs) -> Result<(), CliError> {
    crate::upload::refuse_flags(
        &[
            ("--expected-size", args.expected_size.is_some()),
            ("--version-id", args.version_id.is_some()),
        ],
        "for one object, not with --recursive",
    )
}

/// Runs `ferry cp -r FOLDER s3://bucket/prefix`.
pub(crate) async fn upload(global: &Global, args: &CpArgs) -> Result<(), CliError> {
    if args.src == "-" {
        return Err(bad_input(
            "--recursive copies a folder; a stream from stdin is one object",
        ));
    }
    single_only(args)?;
    if args.verify.is_some() {
        return Err(bad_input(
            "--verify is for downloads; an upload is always checked",
        ));
    }
    crate::upload::copy_only(args)?;
    let root = PathBuf::from(&args.src);
    let meta = std::fs::metadata(&root)
        .map_err(|e| bad_input(format!("cannot read source {}: {e}", root.display())))?;
    if !meta.is_dir() {
        return Err(bad_input(format!(
            "source {} is not a folder; without --recursive, give it as is",
            root.display()
        )));
    }
    let dst = parse_s3_url(&args.dst)?;
    let prefix = as_folder(&dst.key);
    let mut config = crate::upload::upload_config(args)?;
    let items = walk(&root, &prefix)?;
    let mut weights = Vec::with_capacity(items.len());
    for item in &items {
        let plan = ferry_engine::plan(item.size, &config.plan)
            .map_err(|e| bad_input(format!("{}: {e}", item.path.display())))?;
        weights.push(match plan {
            ferry_engine::Plan::Single { .. } => 1,
            ferry_engine::Plan::Multipart { parts, .. } => parts,
        });
    }
    let base = crate::upload::object_options(args, None)?;
    let client = Arc::new(client(global).await?);
    config.resume = Some(crate::upload::resume_config(args, &client)?);
    let width = config.concurrency;
    let quota = Arc::new(RetryQuota::default());
    Uploader::new(client.clone(), config.clone())
        .check(&base)
        .map_err(bad_input)?;
    let output = Output::new(args.json, args.quiet, args.no_progress, false);
    if items.is_empty() {
        if !output.quiet && !output.json {
            println!("upload: {} holds no files; nothing to do", root.display());
        }
        return Ok(());
    }
    let bucket = dst.bucket.clone();
    let start = move |item: &Item, slots: u32| -> Result<Handle<_>, String> {
        let mut options = base.clone();
        if args.content_type.is_none() {
            options.content_type = mime_guess::from_path(&item.path)
                .first_raw()
                .map(str::to_string);
        }
        let mut config = config.clone();
        config.concurrency = slots;
        let uploader = Uploader::new(client.clone(), config).with_quota(quota.clone());
        Ok(uploader.upload(
            Source::File(item.path.clone()),
            bucket.clone(),
            item.key.clone(),
            options,
        ))
    };
    let report = |output: &Output, item: &Item, o: &ferry_engine::UploadOutcome| {
        let dst = S3Url {
            bucket: dst.bucket.clone(),
            key: item.key.clone(),
        };
        crate::upload::report(output, "upload", &item.path.display().to_string(), &dst, o);
    };
    let tally = run(&items, &weights, width, output, start, report, &dst.bucket).await;
    tally.settle(output, "upload")
}

/// Runs `ferry cp -r s3://bucket/prefix FOLDER`.
pub(crate) async fn download(global: &Global, args: &CpArgs) -> Result<(), CliError> {
    if args.dst == "-" {
        return Err(bad_input(
            "--recursive writes a folder; stdout takes one object",
        ));
    }
    single_only(args)?;
    crate::upload::copy_only(args)?;
    let src = parse_s3_url(&args.src)?;
    let prefix = as_folder(&src.key);
    let mut config = crate::download::download_config(args)?;
    let root = PathBuf::from(&args.dst);
    if root.exists() && !root.is_dir() {
        return Err(bad_input(format!(
            "{} is a file; --recursive needs a folder to write into",
            root.display()
        )));
    }
    let sse_c = args.sse_c_key.as_deref().map(sse_c_key).transpose()?;
    let client = Arc::new(client(global).await?);
    config.endpoint = client.config().endpoint.url();
    Downloader::new(client.clone(), config.clone())
        .check()
        .map_err(bad_input)?;
    let listed = list(&client, &src.bucket, &prefix).await?;
    let mut items = Vec::with_capacity(listed.len());
    let mut seen = HashSet::new();
    for o in listed {
        match path_for(&root, &prefix, &o.key).map_err(bad_input)? {
            Some(path) => {
                seen.insert(o.key.clone());
                items.push(Item {
                    path,
                    key: o.key,
                    size: o.size,
                    etag: o.etag,
                });
            }
            None if o.size > 0 => eprintln!(
                "ferry: skipping s3://{}/{}: a key ending in / cannot be a file",
                src.bucket, o.key
            ),
            None => {}
        }
    }
    // A key that is also the folder of another cannot be both a file and a folder.
    for item in &items {
        let mut at = 0;
        while let Some(i) = item.key[at..].find('/') {
            let parent = &item.key[..at + i];
            if parent.len() > prefix.len() && seen.contains(parent) {
                return Err(bad_input(format!(
                    "s3://{b}/{parent} and s3://{b}/{} cannot both be written: {parent:?} would \
                     be a file and a folder; copy one of them alone",
                    item.key,
                    b = src.bucket
                )));
            }
            at += i + 1;
        }
    }
    if items.is_empty() {
        return Err(bad_input(format!(
            "no objects under s3://{}/{prefix}; check the bucket and prefix",
            src.bucket
        )));
    }
    if args.no_clobber
        && let Some(there) = items.iter().find(|i| i.path.exists())
    {
        return Err(bad_input(format!(
            "{} exists and --no-clobber was given",
            there.path.display()
        )));
    }
    let range = config.range_size.max(1);
    let weights: Vec<u32> = items
        .iter()
        .map(|i| i.size.div_ceil(range).clamp(1, u64::from(u32::MAX)) as u32)
        .collect();
    let width = config.concurrency;
    let quota = Arc::new(RetryQuota::default());
    let bucket = src.bucket.clone();
    let start = move |item: &Item, slots: u32| -> Result<Handle<_>, String> {
        if let Some(parent) = item.path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create the folder {}: {e}", parent.display()))?;
        }
        let mut config = config.clone();
        config.concurrency = slots;
        let downloader = Downloader::new(client.clone(), config).with_quota(quota.clone());
        let request = DownloadRequest {
            bucket: bucket.clone(),
            key: item.key.clone(),
            version_id: None,
            request: RequestOptions {
                sse_customer_key: sse_c.clone(),
                ..Default::default()
            },
            // The listing's size and ETag let a small object come down in one GET.
            listed: item.etag.clone().map(|etag| Listed {
                size: item.size,
                etag,
            }),
        };
        Ok(downloader.download(request, Target::File(item.path.clone())))
    };
    let report = |output: &Output, item: &Item, o: &ferry_engine::DownloadOutcome| {
        let src = format!("s3://{}/{}", src.bucket, item.key);
        crate::download::report(output, &src, o);
    };
    let output = Output::new(args.json, args.quiet, args.no_progress, false);
    let tally = run(&items, &weights, width, output, start, report, &src.bucket).await;
    tally.settle(output, "download")
}

/// Every object under `prefix`; a page that meets a transient error is asked for again as the
/// engine retries a request.
async fn list(client: &S3Client, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>, CliError> {
    let policy = RetryPolicy::default();
    let req = ListObjectsRequest {
        bucket: bucket.to_string(),
        prefix: (!prefix.is_empty()).then(|| prefix.to_string()),
        ..Default::default()
    };
    let retry = |e: &ferry_s3::S3Error, n: u32| {
        (e.is_retryable() && n < policy.max_attempts)
            .then(|| policy.delay(e, n, &ferry_engine::RandomJitter))
    };
    list_all_objects(client, &req, retry).await.map_err(|e| {
        let what = anyhow::anyhow!("listing s3://{bucket}/{prefix}: {e}");
        match CliError::from(e) {
            CliError::BadInput(_) => CliError::BadInput(what),
            _ => CliError::Failed(what),
        }
    })
}

/// How the objects of a tree copy ended.
#[derive(Debug)]
struct Tally {
    total: usize,
    done: usize,
    bytes: u64,
    failed: Vec<String>,
    /// Objects kept to resume: journaled uploads, partial downloads.
    kept: usize,
    interrupted: bool,
    started: Instant,
}

impl Tally {
    fn settle(self, output: Output, verb: &str) -> Result<(), CliError> {
        let elapsed = secs(self.started);
        if output.json {
            output.emit_json(&json_line(
                "summary",
                serde_json::json!({
                    "objects": self.total, "done": self.done, "failed": self.failed.len(),
                    "kept": self.kept, "bytes": self.bytes, "seconds": elapsed,
                    "interrupted": self.interrupted,
                }),
            ));
        } else if !output.quiet && self.failed.is_empty() && !self.interrupted {
            println!(
                "{verb}: {} object{}, {} bytes in {elapsed:.1} s ({:.1} MiB/s)",
                self.done,
                if self.done == 1 { "" } else { "s" },
                self.bytes,
                self.bytes as f64 / f64::from(1u32 << 20) / elapsed.max(1e-3),
            );
        }
        let resume = if self.kept > 0 {
            format!(
                "; {} kept: run the same command again to resume them (finished objects are \
                 copied again)",
                self.kept
            )
        } else {
            String::new()
        };
        let summary = format!("{} of {} objects done{resume}", self.done, self.total);
        if self.interrupted {
            Err(CliError::Interrupted(anyhow::anyhow!(
                "interrupted; {summary}"
            )))
        } else if !self.failed.is_empty() {
            Err(CliError::Failed(anyhow::anyhow!(
                "{} object{} failed:\n  {}\n{summary}",
                self.failed.len(),
                if self.failed.len() == 1 { "" } else { "s" },
                self.failed.join("\n  ")
            )))
        } else {
            Ok(())
        }
    }
}

/// What the display and Ctrl-C see of the objects in flight.
#[derive(Default)]
struct Board {
    /// Bytes of the objects that ended.
    ended_bytes: AtomicU64,
    ended: AtomicUsize,
    running: Mutex<HashMap<usize, (Canceller, Arc<Progress>)>>,
}

impl Board {
    fn bytes(&self) -> u64 {
        let running = self.running.lock().expect("board lock");
        self.ended_bytes.load(Ordering::Relaxed)
            + running
                .values()
                .map(|(_, p)| p.snapshot().bytes)
                .sum::<u64>()
    }

    fn cancel_all(&self) {
        for (c, _) in self.running.lock().expect("board lock").values() {
            c.cancel();
        }
    }
}

/// Runs every item through `start`, `width` request slots shared out by `weights`; reports
/// each as it ends; Ctrl-C or SIGTERM cancels those in flight and starts no more.
async fn run<T, S, R>(
    items: &[Item],
    weights: &[u32],
    width: u32,
    output: Output,
    start: S,
    report: R,
    bucket: &str,
) -> Tally
where
    T: Send + 'static,
    S: Fn(&Item, u32) -> Result<Handle<T>, String>,
    R: Fn(&Output, &Item, &T),
{
    let total_bytes: u64 = items.iter().map(|i| i.size).sum();
    let mut tally = Tally {
        total: items.len(),
        done: 0,
        bytes: 0,
        failed: Vec::new(),
        kept: 0,
        interrupted: false,
        started: Instant::now(),
    };
    let board = Arc::new(Board::default());
    let bar = output.wants_bar().then(|| crate::output::bar(total_bytes));
    let ticker = bar.clone().map(|bar| {
        let board = board.clone();
        let count = items.len();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            loop {
                tick.tick().await;
                bar.set_position(board.bytes());
                bar.set_message(format!(
                    "objects {}/{count}",
                    board.ended.load(Ordering::Relaxed)
                ));
            }
        })
    });
    let slots = Arc::new(Semaphore::new(width.max(1) as usize));
    let mut running: JoinSet<(usize, Result<T, ferry_engine::Error>)> = JoinSet::new();
    let interrupt = crate::output::interrupt();
    tokio::pin!(interrupt);
    let ended = |tally: &mut Tally, i: usize, result: Result<T, ferry_engine::Error>| {
        let item = &items[i];
        board.running.lock().expect("board lock").remove(&i);
        board.ended_bytes.fetch_add(item.size, Ordering::Relaxed);
        board.ended.fetch_add(1, Ordering::Relaxed);
        let (file, object) = (
            item.path.display().to_string(),
            format!("s3://{bucket}/{}", item.key),
        );
        let show = |f: &dyn Fn()| match &bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        };
        match result {
            Ok(o) => {
                tally.done += 1;
                tally.bytes += item.size;
                show(&|| report(&output, item, &o));
                if output.json {
                    output.emit_json(&json_line(
                            "object",
                            serde_json::json!({"file": file, "object": object, "size": item.size, "ok": true}),
                        ),
                    );
                }
            }
            Err(e) => {
                if e.resume_id().is_some() {
                    tally.kept += 1;
                }
                if e.kind() != ErrorKind::Cancelled {
                    let line = format!("{object} ({file}): {e}");
                    if output.json {
                        output.emit_json(&json_line(
                            "object",
                            serde_json::json!({"file": file, "object": object, "size": item.size,
                                    "ok": false, "error": e.to_string(),
                                    "kept": e.resume_id().is_some()}),
                        ));
                    } else {
                        show(&|| eprintln!("ferry: failed: {line}"));
                    }
                    tally.failed.push(line);
                }
            }
        }
    };
    'start: for (i, item) in items.iter().enumerate() {
        let want = weights[i].clamp(1, width.max(1));
        let permit = loop {
            tokio::select! {
                biased;
                () = &mut interrupt => {
                    tally.interrupted = true;
                    board.cancel_all();
                    break 'start;
                }
                Some(joined) = running.join_next() => {
                    if let Ok((j, r)) = joined {
                        ended(&mut tally, j, r);
                    }
                }
                p = slots.clone().acquire_many_owned(want) => {
                    break p.expect("the semaphore is never closed");
                }
            }
        };
        match start(item, want) {
            Ok(handle) => {
                board
                    .running
                    .lock()
                    .expect("board lock")
                    .insert(i, (handle.canceller(), handle.progress()));
                running.spawn(async move {
                    let r = handle.wait().await;
                    drop(permit);
                    (i, r)
                });
            }
            Err(e) => {
                drop(permit);
                ended(
                    &mut tally,
                    i,
                    Err(ferry_engine::Error::new(ErrorKind::InvalidInput, e)),
                );
            }
        }
    }
    loop {
        tokio::select! {
            biased;
            () = &mut interrupt, if !tally.interrupted => {
                tally.interrupted = true;
                board.cancel_all();
            }
            joined = running.join_next() => match joined {
                Some(Ok((j, r))) => ended(&mut tally, j, r),
                Some(Err(_)) => {}
                None => break,
            },
        }
    }
    if let Some(t) = ticker {
        t.abort();
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_become_folders() {
        assert_eq!(as_folder(""), "");
        assert_eq!(as_folder("p"), "p/");
        assert_eq!(as_folder("p/"), "p/");
        assert_eq!(as_folder("a/b"), "a/b/");
    }

    #[test]
    fn files_map_to_keys_below_the_prefix() {
        assert_eq!(key_for("p/", Path::new("a/b.txt")).unwrap(), "p/a/b.txt");
        assert_eq!(key_for("", Path::new("x")).unwrap(), "x");
        assert!(key_for("p/", Path::new("../x")).is_err());
        assert!(key_for("p/", Path::new("/abs")).is_err());
        use std::os::unix::ffi::OsStrExt as _;
        let bad = std::ffi::OsStr::from_bytes(b"caf\xe9");
        let err = key_for("p/", Path::new(bad)).unwrap_err();
        assert!(err.contains("UTF-8"), "{err}");
    }

    #[test]
    fn keys_map_to_paths_below_the_folder_or_are_refused() {
        let root = Path::new("/dl");
        assert_eq!(
            path_for(root, "p/", "p/a/b").unwrap(),
            Some(PathBuf::from("/dl/a/b"))
        );
        assert_eq!(
            path_for(root, "", "x").unwrap(),
            Some(PathBuf::from("/dl/x"))
        );
        assert_eq!(path_for(root, "p/", "p/").unwrap(), None);
        assert_eq!(path_for(root, "p/", "p/dir/").unwrap(), None);
        for evil in ["p/../etc/passwd", "p/a/../../x", "p/./a", "p//a", "p/a\0b"] {
            let err = path_for(root, "p/", evil).unwrap_err();
            assert!(err.contains("cannot be a file name"), "{evil}: {err}");
        }
        assert!(path_for(root, "p/", "q/x").is_err());
    }
}
