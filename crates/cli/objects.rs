//! `ferry ls`, `ferry rm` and `ferry rb`: what a bucket holds under a prefix, page by page,
//! deleting an object or a prefix's worth of them, and removing a bucket (the engine lists,
//! retries and deletes; this module turns flags into its requests and its pages into lines).

use std::io::Write as _;
use std::time::Instant;

use ferry_engine::{Manager, PageAsOf, Remove, RemoveOutcome};
use ferry_s3::{
    GetObjectRequest, ListObjectVersionsOutput, ListObjectVersionsRequest, ListObjectsOutput,
    ListObjectsRequest, ObjectClient as _, ObjectIdentifier, ObjectInfo, RequestOptions, S3Client,
};
use futures_util::{StreamExt as _, TryStreamExt as _};

use crate::args::{Global, LsArgs, OutputFlags, RmArgs};
use crate::client::{parse_s3_url, plain_manager};
use crate::exit::{CliError, bad_input, engine_error};
use crate::output::{Output, outln, secs};
use crate::report::json_line;

/// Runs `ferry ls`: one level under the prefix (its folders as `PRE` lines), or with `-r`
/// every object; a prefix that holds nothing is an error, as for the aws cli and s5cmd (an
/// empty bucket is not). With no target, the buckets.
pub(crate) async fn ls(global: &Global, a: LsArgs) -> Result<(), CliError> {
    let manager = plain_manager(global).await?;
    let target = match a.target.as_deref() {
        None | Some("s3://") => return buckets(&manager, a.list.json).await,
        Some(t) => t,
    };
    let url = parse_s3_url(target)?;
    let (bucket, request) = (url.bucket.clone(), a.list.bucket.request(&None)?);
    let prefix = (!url.key.is_empty()).then(|| url.key.clone());
    let delimiter = (!a.recursive).then(|| "/".to_string());
    let as_of = crate::request::as_of(a.list.as_of.as_deref())?;
    if as_of.is_some() && !a.recursive {
        return Err(bad_input(
            "--as-of lists every object under the prefix as it was: give -r",
        ));
    }
    let filters = crate::request::filters(&a.list.filters)?;
    if let Some(flag) = a.list.filters.given().filter(|_| !a.recursive) {
        return Err(bad_input(format!(
            "{flag} picks among the objects under a prefix: add -r"
        )));
    }
    if !a.list.filters.exclude_if_present.is_empty() {
        return Err(bad_input(
            "--exclude-if-present leaves out folders that hold a file, where a folder is \
             walked: ls lists a prefix",
        ));
    }
    // The globs match a key below the folder the prefix is in, as a tree's do.
    let folder = url.key[..url.key.rfind('/').map_or(0, |i| i + 1)].to_string();
    let mut pages: Pages = match (as_of, a.list.all_versions) {
        (Some(at), _) => Box::pin(
            manager
                .list_as_of(
                    ListObjectVersionsRequest {
                        bucket,
                        prefix,
                        request,
                        ..Default::default()
                    },
                    at,
                )
                .map_ok(Page::as_of),
        ),
        (None, false) => {
            let req = ListObjectsRequest {
                bucket,
                prefix,
                delimiter,
                request,
                ..Default::default()
            };
            match a.list.filters.files_from.is_some() {
                // From one name to the next.
                true => Box::pin(
                    manager
                        .list_filtered(req, &filters)
                        .map_ok(Page::of_objects),
                ),
                false => Box::pin(manager.list(req).map_ok(Page::of_objects)),
            }
        }
        (None, true) => Box::pin(
            manager
                .list_versions(ListObjectVersionsRequest {
                    bucket,
                    prefix,
                    delimiter,
                    request,
                    ..Default::default()
                })
                .map_ok(Page::of_versions),
        ),
    };
    // One level shows each name below the folder the prefix is in, as the aws cli does.
    let shown_from = match a.recursive {
        true => 0,
        false => url.key.rfind('/').map_or(0, |i| i + 1),
    };
    let (mut objects, mut bytes, mut prefixes, mut markers) = (0u64, 0u64, 0u64, 0u64);
    // `du -s`: objects and bytes of each storage class.
    let mut classes: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    let mut unknown = 0u64;
    let then = as_of.map(|at| crate::when::shown(at.into()));
    let mut out = std::io::stdout().lock();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| engine_error(&e, false, None))?;
        let mut text = String::new();
        for p in page.prefixes.iter().filter(|_| !a.totals_only) {
            text += &match a.list.json {
                true => format!("{}\n", serde_json::json!({ "prefix": p })),
                false => format!("{:>30} {}\n", "PRE", &p[shown_from..]),
            };
        }
        for r in &page.rows {
            let rel = r.object.key.strip_prefix(&folder).unwrap_or(&r.object.key);
            if !filters.takes(rel, &r.object) {
                continue;
            }
            if !a.totals_only {
                text += &line(r, shown_from, &a);
            }
            match r.version.as_ref().is_some_and(|v| v.delete_marker) {
                true => markers += 1,
                false => {
                    objects += 1;
                    bytes += r.object.size;
                    let class = r.object.storage_class.as_deref().unwrap_or("-");
                    let c = classes.entry(class.to_string()).or_default();
                    (c.0, c.1) = (c.0 + 1, c.1 + r.object.size);
                }
            }
        }
        prefixes += page.prefixes.len() as u64;
        for o in &page.unknown {
            unknown += 1;
            eprintln!(
                "ferry: s3://{}/{} was written at {} with no version id (versioning off or \
                 suspended), so what it held at {} was not kept",
                url.bucket,
                o.key,
                o.last_modified.as_deref().unwrap_or("an unknown time"),
                then.as_deref().unwrap_or_default()
            );
        }
        // Written a page at a time; a reader that stops reading (`| head`) ends the listing.
        if out
            .write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            return Err(CliError::ReaderGone);
        }
    }
    if a.totals_only {
        let _ = write!(
            out,
            "{}",
            totals(&a, target, (objects, bytes, markers), &classes)
        );
    } else if a.summarize {
        let size = match a.list.human_readable {
            true => indicatif::BinaryBytes(bytes).to_string(),
            false => format!("{bytes} Bytes"),
        };
        let _ = match (a.list.json, a.list.all_versions) {
            (true, false) => writeln!(
                out,
                "{}",
                json_line(
                    "summary",
                    serde_json::json!({ "objects": objects, "bytes": bytes })
                )
            ),
            (true, true) => writeln!(
                out,
                "{}",
                json_line(
                    "summary",
                    serde_json::json!({
                        "versions": objects, "delete_markers": markers, "bytes": bytes
                    })
                )
            ),
            (false, false) => writeln!(out, "\nTotal Objects: {objects}\n   Total Size: {size}"),
            (false, true) => writeln!(
                out,
                "\nTotal Versions: {objects}\nDelete Markers: {markers}\n    Total Size: {size}"
            ),
        };
    }
    if unknown > 0 {
        return Err(CliError::Failed(anyhow::anyhow!(
            "{unknown} object(s) under {target} cannot be listed as they were: what they held \
             then was not kept"
        )));
    }
    if objects + markers + prefixes == 0 && !url.key.is_empty() {
        let when = then.map(|t| format!(" as of {t}")).unwrap_or_default();
        return Err(CliError::Failed(anyhow::anyhow!(
            "nothing under {target}{when}; check the bucket and prefix"
        )));
    }
    Ok(())
}

/// What `ferry du` prints of a listing of `target`: with `-s`, a line for each storage class
/// (`classes`), then the totals (objects, bytes, and with versions, delete markers), in
/// s5cmd's form (`131072000 bytes in 2000 objects: s3://b/p`) or as JSON lines.
fn totals(
    a: &LsArgs,
    target: &str,
    (objects, bytes, markers): (u64, u64, u64),
    classes: &std::collections::BTreeMap<String, (u64, u64)>,
) -> String {
    let size = |b: u64| match a.list.human_readable {
        true => indicatif::BinaryBytes(b).to_string(),
        false => format!("{b} bytes"),
    };
    let noun = if a.list.all_versions {
        "version"
    } else {
        "object"
    };
    let plural = |n: u64| if n == 1 { "" } else { "s" };
    let mut text = String::new();
    let by_class = classes.iter().filter(|_| a.storage_class);
    for (class, &(n, b)) in by_class {
        text += &match a.list.json {
            true => format!(
                "{}\n",
                serde_json::json!({ "storage_class": class, "objects": n, "bytes": b })
            ),
            false => format!(
                "{} in {n} {noun}{} [{class}]: {target}\n",
                size(b),
                plural(n)
            ),
        };
    }
    let markers_said = match (a.list.all_versions, markers) {
        (true, m) => format!(", {m} delete marker{}", plural(m)),
        (false, _) => String::new(),
    };
    text + &match a.list.json {
        true => format!(
            "{}\n",
            json_line(
                "summary",
                serde_json::json!({ "objects": objects, "bytes": bytes, "delete_markers": markers })
            )
        ),
        false => format!(
            "{} in {objects} {noun}{}{markers_said}: {target}\n",
            size(bytes),
            plural(objects)
        ),
    }
}

/// `ferry ls` alone: the buckets, each with the time it was made, as the aws cli's `s3 ls`.
async fn buckets(manager: &Manager<S3Client>, json: bool) -> Result<(), CliError> {
    let buckets = manager
        .request("listing the buckets", |c| c.list_buckets())
        .await
        .map_err(|e| engine_error(&e, false, None))?;
    let mut text = String::new();
    for b in &buckets {
        text += &match json {
            true => format!(
                "{}\n",
                serde_json::json!({ "bucket": b.name, "creation_date": b.creation_date })
            ),
            false => format!("{} {}\n", utc(b.creation_date.as_deref()), b.name),
        };
    }
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|_| CliError::ReaderGone)
}

/// An RFC 3339 time from a listing as `YYYY-MM-DD HH:MM:SS` in UTC (`?` in its place when
/// there is none, or it does not parse).
fn utc(t: Option<&str>) -> String {
    t.and_then(|t| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
    })
    .map(|t| {
        let t = t.to_offset(time::UtcOffset::UTC);
        let (h, m, s) = t.to_hms();
        format!("{} {h:02}:{m:02}:{s:02}", t.date())
    })
    .unwrap_or_else(|| format!("{:19}", "?"))
}

/// A page of `ferry ls`: the folders below this level, and the objects (or their versions).
struct Page {
    prefixes: Vec<String>,
    rows: Vec<Row>,
    /// Objects whose state at the time asked was not kept (with `--as-of`).
    unknown: Vec<ObjectInfo>,
}

/// The pages of a listing, of objects or of versions.
type Pages =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<Page, ferry_engine::Error>> + Send>>;

/// A line of `ferry ls`: an object, or a version of one (or a delete marker).
struct Row {
    object: ObjectInfo,
    version: Option<Version>,
}

/// Which version a line shows.
struct Version {
    id: String,
    latest: bool,
    delete_marker: bool,
}

impl Page {
    fn of_objects(page: ListObjectsOutput) -> Self {
        let rows = page.objects.into_iter().map(|object| Row {
            object,
            version: None,
        });
        Self {
            prefixes: page.common_prefixes,
            rows: rows.collect(),
            unknown: Vec::new(),
        }
    }

    /// A page of the prefix as it was at a time: each object's version then.
    fn as_of(page: PageAsOf) -> Self {
        Self {
            unknown: page.unknown.into_iter().map(|v| v.object).collect(),
            ..Self::of_versions(ListObjectVersionsOutput {
                versions: page.versions,
                ..Default::default()
            })
        }
    }

    fn of_versions(page: ListObjectVersionsOutput) -> Self {
        let rows = page.versions.into_iter().map(|v| Row {
            object: v.object,
            version: Some(Version {
                id: v.version_id,
                latest: v.is_latest,
                delete_marker: v.delete_marker,
            }),
        });
        Self {
            prefixes: page.common_prefixes,
            rows: rows.collect(),
            unknown: Vec::new(),
        }
    }
}

/// An object's line: its time (UTC), size and name, as the aws cli's `s3 ls` prints them
/// (with `-s`, its storage class before its size), then its version id (`(latest)` for the current one; a delete marker's size column says
/// `DELETED`); or its JSON.
fn line(r: &Row, shown_from: usize, a: &LsArgs) -> String {
    let o = &r.object;
    if a.list.json {
        let mut v = serde_json::json!({
            "key": o.key, "size": o.size, "last_modified": o.last_modified, "etag": o.etag,
            "storage_class": o.storage_class,
        });
        if let Some(ver) = &r.version {
            v["version_id"] = ver.id.clone().into();
            v["latest"] = ver.latest.into();
            v["delete_marker"] = ver.delete_marker.into();
        }
        return format!("{v}\n");
    }
    let when = utc(o.last_modified.as_deref());
    let size = match (&r.version, a.list.human_readable) {
        (Some(v), _) if v.delete_marker => "DELETED".to_string(),
        (_, true) => indicatif::BinaryBytes(o.size).to_string(),
        (_, false) => o.size.to_string(),
    };
    let size = match a.storage_class {
        true => format!(
            "{:<19} {size:>10}",
            o.storage_class.as_deref().unwrap_or("-")
        ),
        false => format!("{size:>10}"),
    };
    let name = o.key.get(shown_from..).unwrap_or(&o.key);
    match &r.version {
        None => format!("{when} {size} {name}\n"),
        Some(v) => {
            let latest = if v.latest { " (latest)" } else { "" };
            format!("{when} {size} {name}  {}{latest}\n", v.id)
        }
    }
}

/// Runs `ferry rm`: one object, or with `-r` every object under the prefix; a line per object
/// deleted, then a summary.
pub(crate) async fn rm(global: &Global, a: RmArgs) -> Result<(), CliError> {
    let target = match a.targets.as_slice() {
        [one] if one != "-" => one.clone(),
        _ => return rm_named(global, &a).await,
    };
    let url = parse_s3_url(&target)?;
    let filters = crate::request::filters(&a.filters)?;
    if !a.recursive {
        if let Some(flag) = a.filters.given() {
            return Err(bad_input(format!(
                "{flag} picks among the objects under a prefix: add -r"
            )));
        }
        if url.key.is_empty() || url.key.ends_with('/') {
            return Err(bad_input(format!(
                "{target} names no object: give s3://bucket/key, or -r for every object under it"
            )));
        }
    }
    if a.bypass_governance_retention && a.version_id.is_none() && !a.all_versions {
        return Err(bad_input(
            "--bypass-governance-retention lifts a retention for a version deleted for good: \
             give --version-id or --all-versions (a plain deletion in a versioned bucket adds a \
             delete marker, which no retention refuses)",
        ));
    }
    let remove = Remove {
        version_id: a.version_id.clone(),
        bypass_governance_retention: a.bypass_governance_retention,
        request: a.bucket.request(&None)?,
        filters,
        dry_run: a.dry_run,
        all_versions: a.all_versions,
        ..match a.recursive {
            true => Remove::prefix(&url.bucket, &url.key),
            false => Remove::object(&url.bucket, &url.key),
        }
    };
    let manager = plain_manager(global).await?;
    removed(global, &manager, remove, &a.out).await
}

/// Runs `ferry rm` of several objects named (`s3://bucket/a s3://bucket/b …`), or of the
/// s3:// URLs stdin gives a line each (`-`): all of one bucket, deleted a thousand a
/// DeleteObjects request as they are read (the engine's `remove_objects`), so a list of any
/// length holds little memory. As S3 does, a key that is not there is deleted without a word.
/// The named ones are checked before anything is deleted; a bad line of stdin stops the
/// reading there: what came before it is deleted, nothing after, and the run fails saying so.
async fn rm_named(global: &Global, a: &RmArgs) -> Result<(), CliError> {
    let one_object = |flag: &str| {
        bad_input(format!(
            "{flag} takes one object: give one s3://bucket/key, not several"
        ))
    };
    if a.recursive {
        return Err(bad_input(
            "-r deletes every object under one prefix: give one s3://bucket/prefix",
        ));
    }
    if a.version_id.is_some() {
        return Err(one_object("--version-id"));
    }
    if a.all_versions {
        return Err(one_object("--all-versions"));
    }
    if a.bypass_governance_retention {
        return Err(one_object("--bypass-governance-retention"));
    }
    if a.dry_run {
        return Err(bad_input(
            "--dry-run shows what a prefix holds; keys named are deleted as named: drop --dry-run",
        ));
    }
    if let Some(flag) = a.filters.given() {
        return Err(bad_input(format!(
            "{flag} picks among the objects under a prefix: give one with -r"
        )));
    }
    let request = a.bucket.request(&None)?;
    // Why stdin's lines stopped being read early, if they did.
    let mut stopped = None;
    let (bucket, objects) = match a.targets.as_slice() {
        [dash] if dash == "-" => {
            let mut lines = NumberedLines::stdin();
            let read = lines.next().await;
            let read = read.map_err(|e| CliError::Failed(anyhow::anyhow!("reading stdin: {e}")))?;
            let Some((n, first)) = read else {
                return Err(bad_input(
                    "rm -: stdin gave no s3:// URL (give one a line: s3://bucket/key)",
                ));
            };
            let first =
                object_url(&first, None).map_err(|e| bad_input(format!("line {n}: {e}")))?;
            let (rest, why) = stdin_objects(lines, first.0.clone());
            stopped = Some(why);
            let objects = futures_util::stream::iter([first.1]).chain(rest).boxed();
            (first.0, objects)
        }
        [dash, ..] if dash == "-" => {
            return Err(bad_input(
                "rm -: the URLs come from stdin alone: give no other target",
            ));
        }
        targets => {
            let first = object_url(&targets[0], None).map_err(bad_input)?;
            let mut ids = vec![first.1];
            for t in &targets[1..] {
                ids.push(object_url(t, Some(&first.0)).map_err(bad_input)?.1);
            }
            (first.0, futures_util::stream::iter(ids).boxed())
        }
    };
    let manager = plain_manager(global).await?;
    if let [_, _, ..] = a.targets.as_slice() {
        absent_wildcards(&manager, &a.targets, &request).await?;
    }
    let mut output = Output::new(&a.out, false, global.verbose > 0);
    output.no_progress = true;
    let json = output.json;
    let started = Instant::now();
    let remove = Remove {
        request,
        ..Remove::named(bucket.clone())
    };
    let handle = manager.remove_objects(remove, objects);
    let (result, interrupted) = output.run_tree(&bucket, handle).await;
    let o = result.map_err(|e| engine_error(&e, interrupted, None))?;
    let done = summary_sized(json, a.out.quiet, &o, started, false);
    match stopped.and_then(|mut why| why.try_recv().ok()) {
        Some(why) if done.is_ok() => Err(CliError::Failed(anyhow::anyhow!(
            "{why}; the objects on the lines before it were deleted, none after"
        ))),
        _ => done,
    }
}

/// Refuses a list of keys to delete where one holds a shell wildcard (`s3://b/logs/*`, as
/// s5cmd takes it) and no such object is there: deleting a key that is not there succeeds
/// without a word, so the run would say `delete:` of it and leave what the pattern meant.
/// One HeadObject for each such key, none for the others; a key the credentials may not
/// read is left to the deletion.
async fn absent_wildcards(
    manager: &Manager<S3Client>,
    targets: &[String],
    request: &RequestOptions,
) -> Result<(), CliError> {
    for t in targets.iter().filter(|t| t.contains(['*', '?'])) {
        let url = parse_s3_url(t)?;
        let head = GetObjectRequest {
            bucket: url.bucket,
            key: url.key,
            request: request.clone(),
            ..Default::default()
        };
        if let Err(e) = manager.stat(head).await
            && e.s3().is_some_and(|e| e.status() == Some(404))
        {
            return Err(CliError::Failed(anyhow::anyhow!(
                "{t}: no such object; nothing was deleted"
            )));
        }
    }
    Ok(())
}

/// The objects the rest of stdin's lines name, all in `bucket`: a stream that ends at the
/// end of stdin, or early at a line that names none (or a failed read), which the receiver
/// then says.
fn stdin_objects(
    lines: NumberedLines,
    bucket: String,
) -> (
    futures_util::stream::BoxStream<'static, ObjectIdentifier>,
    tokio::sync::oneshot::Receiver<String>,
) {
    let (tell, why) = tokio::sync::oneshot::channel();
    let objects = futures_util::stream::unfold((lines, tell), move |(mut lines, tell)| {
        let bucket = bucket.clone();
        async move {
            let stopped = match lines.next().await {
                Ok(None) => return None,
                Ok(Some((n, line))) => match object_url(&line, Some(&bucket)) {
                    Ok((_, id)) => return Some((id, (lines, tell))),
                    Err(e) => format!("line {n}: {e}"),
                },
                Err(e) => format!("reading stdin: {e}"),
            };
            let _ = tell.send(stopped);
            None
        }
    });
    (objects.boxed(), why)
}

/// An object's bucket and identifier from `s3://bucket/key`, which must name an object (not a
/// prefix) in `bucket` when one is given.
fn object_url(text: &str, bucket: Option<&str>) -> Result<(String, ObjectIdentifier), String> {
    let url = parse_s3_url(text).map_err(|e| e.to_string())?;
    if url.key.is_empty() || url.key.ends_with('/') {
        return Err(format!("{text} names no object: give s3://bucket/key"));
    }
    if let Some(b) = bucket.filter(|b| *b != url.bucket) {
        return Err(format!(
            "{text} is not in s3://{b}: objects of one bucket at a time"
        ));
    }
    let id = ObjectIdentifier {
        key: url.key,
        version_id: None,
    };
    Ok((url.bucket, id))
}

/// Stdin's lines, numbered from 1, blank ones passed over, each without its line ending or
/// the blanks around it.
struct NumberedLines {
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::io::Stdin>>,
    n: usize,
}

impl NumberedLines {
    fn stdin() -> Self {
        use tokio::io::AsyncBufReadExt as _;
        Self {
            lines: tokio::io::BufReader::new(tokio::io::stdin()).lines(),
            n: 0,
        }
    }

    async fn next(&mut self) -> std::io::Result<Option<(usize, String)>> {
        while let Some(line) = self.lines.next_line().await? {
            self.n += 1;
            let line = line.trim();
            if !line.is_empty() {
                return Ok(Some((self.n, line.to_string())));
            }
        }
        Ok(None)
    }
}

/// Runs `remove` through `manager`, a line (or JSON event) per object deleted, then the
/// summary.
async fn removed(
    global: &Global,
    manager: &Manager<S3Client>,
    remove: Remove,
    out: &OutputFlags,
) -> Result<(), CliError> {
    let bucket = remove.bucket.clone();
    let mut output = Output::new(out, false, global.verbose > 0);
    // Nothing moves: a line per object is the progress.
    output.no_progress = true;
    let json = output.json;
    let started = Instant::now();
    let (result, interrupted) = output.run_tree(&bucket, manager.remove(remove)).await;
    let o = result.map_err(|e| engine_error(&e, interrupted, None))?;
    summary(json, out.quiet, &o, started)
}

/// Runs `ferry rb`: DeleteBucket of a bucket that holds no object. One that does is refused
/// first, as a server that deletes a full bucket would not (SeaweedFS does); with `force`,
/// every object is deleted (as `rm -r s3://bucket`), then the bucket. Credentials that may not
/// list leave the refusal to the server.
pub(crate) async fn rb(
    global: &Global,
    target: &str,
    force: bool,
    quiet: bool,
) -> Result<(), CliError> {
    let url = parse_s3_url(target)?;
    if !url.key.is_empty() {
        return Err(bad_input(format!(
            "{target:?} names a key; rb takes s3://bucket (ferry rm -r deletes a prefix)"
        )));
    }
    let bucket = url.bucket;
    let manager = plain_manager(global).await?;
    let first = ListObjectsRequest {
        bucket: bucket.clone(),
        max_keys: Some(1),
        ..Default::default()
    };
    let listed = manager
        .request(&format!("looking into s3://{bucket}"), |c| {
            c.list_objects(&first)
        })
        .await;
    let held = match listed {
        Ok(page) => page.objects.into_iter().next().map(|o| o.key),
        // May delete but not list: the server refuses a bucket that is not empty.
        Err(e) if e.kind() == ferry_engine::ErrorKind::Denied => None,
        Err(e) => return Err(engine_error(&e, false, None)),
    };
    match held {
        Some(key) if !force => {
            return Err(CliError::Failed(anyhow::anyhow!(
                "s3://{bucket} is not empty (it holds s3://{bucket}/{key}): nothing was \
                 deleted; give --force to delete every object in it, then the bucket"
            )));
        }
        Some(_) => {
            let out = OutputFlags {
                json: false,
                no_progress: true,
                quiet,
            };
            removed(global, &manager, Remove::prefix(&bucket, ""), &out).await?;
        }
        None => {}
    }
    let what = format!("removing the bucket s3://{bucket}");
    let mut deleted = manager.request(&what, |c| c.delete_bucket(&bucket)).await;
    let not_empty = |e: &ferry_engine::Error| {
        e.s3().and_then(ferry_s3::S3Error::code) == Some("BucketNotEmpty")
    };
    // What a versioned bucket keeps behind its delete markers: gone with --force, each
    // version by its id (a bucket never versioned costs no listing of versions).
    if force && deleted.as_ref().is_err_and(not_empty) {
        let out = OutputFlags {
            json: false,
            no_progress: true,
            quiet,
        };
        let every = Remove {
            all_versions: true,
            ..Remove::prefix(&bucket, "")
        };
        removed(global, &manager, every, &out).await?;
        deleted = manager.request(&what, |c| c.delete_bucket(&bucket)).await;
    }
    deleted.map_err(|e| {
        let hint = match force {
            false => "give --force to delete every object in it first",
            true => "something was written to it while it was emptied",
        };
        engine_error(&e, false, None).noted(not_empty(&e).then(|| hint.to_string()))
    })?;
    if !quiet {
        outln!("remove_bucket: s3://{bucket}");
    }
    Ok(())
}

/// The summary line (or JSON event), and the exit code: 1 when a deletion failed, 130 when
/// interrupted.
fn summary(json: bool, quiet: bool, o: &RemoveOutcome, started: Instant) -> Result<(), CliError> {
    summary_sized(json, quiet, o, started, true)
}

/// [`summary`], saying the bytes deleted only where they are known (`sized`: objects deleted
/// by name, as listed by nobody, have no size here).
fn summary_sized(
    json: bool,
    quiet: bool,
    o: &RemoveOutcome,
    started: Instant,
    sized: bool,
) -> Result<(), CliError> {
    let dry = if o.dry_run { " (dry run)" } else { "" };
    let fields = serde_json::json!({
        "deleted": o.removed, "bytes": sized.then_some(o.bytes), "failed": o.failed.len(),
        "dry_run": o.dry_run, "interrupted": o.interrupted, "seconds": secs(started),
    });
    crate::output::summarize(json, quiet, fields, || {
        let bytes = match sized {
            true => format!(" ({} bytes)", o.bytes),
            false => String::new(),
        };
        let (removed, failed) = (o.removed, o.failed.len());
        format!(
            "rm{dry}: {removed} deleted{bytes}, {failed} failed in {:.1} s",
            secs(started)
        )
    });
    crate::exit::many_ended(&o.failed, o.interrupted, "delete", "deletions")
}
