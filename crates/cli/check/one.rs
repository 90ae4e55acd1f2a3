//! `ferry check` of single ones: a file and an object (either way), or two objects, compared
//! alone rather than as trees: the file read once against the object's own checksum
//! (`Manager::file_matches`), two objects by what their HeadObjects say (`compare_content`);
//! with `--download`, each object read back whole (`Manager::file_holds`, `read_back`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use ferry_engine::{Manager, ManagerConfig, SyncAction, SyncOutcome, compare_content};
use ferry_s3::{GetObjectRequest, ObjectMeta, S3Client};

use super::summary;
use crate::args::{CheckArgs, Global};
use crate::client::{S3Url, manager, parse_s3_url};
use crate::exit::{CliError, bad_input, engine_error};
use crate::options::refuse_flags;
use crate::output::Output;
use crate::report::Found;

/// What a check of single ones compares.
pub(super) struct One {
    /// The source: a file, or an object (with its HeadObject).
    from: Side,
    /// The destination.
    to: Side,
    /// The managers that read the destination and, when it is an object, the source.
    managers: (Manager<S3Client>, Manager<S3Client>),
}

/// One side of a check of single ones.
enum Side {
    File(PathBuf),
    Object(S3Url, Option<Box<ObjectMeta>>),
}

impl Side {
    fn name(&self) -> String {
        match self {
            Side::File(p) => p.display().to_string(),
            Side::Object(u, _) => format!("s3://{}/{}", u.bucket, u.key),
        }
    }
}

/// The single ones `src` and `dst` name, if they do: a file (not a folder) sent to a key (a
/// key ending in `/` takes the file's name, as `cp` gives it), or a key that is an object
/// (its HeadObject answers) read into a file or another key (a folder, or a key ending in
/// `/`, taking its name). Anything else is a tree: `None`.
/// `clients` are the destination's, the source's when it is another server, and the budgets.
pub(super) async fn single(
    a: &CheckArgs,
    src: &str,
    dst: &str,
    direction: SyncAction,
    clients: (&S3Client, Option<&S3Client>, &ManagerConfig),
) -> Result<Option<One>, CliError> {
    let named = |mut url: S3Url, name: &str| {
        if url.key.is_empty() || url.key.ends_with('/') {
            url.key += name;
        }
        url
    };
    let (client, source, config) = clients;
    let write = manager(client.clone(), config.clone(), None)?;
    if direction == SyncAction::Upload {
        if !std::fs::metadata(src).is_ok_and(|m| m.is_file()) {
            return Ok(None);
        }
        let name = Path::new(src).file_name().unwrap_or_default();
        let to = named(parse_s3_url(dst)?, &name.to_string_lossy());
        let from = Side::File(src.into());
        let managers = (write.clone(), write);
        return Ok(Some(One {
            from,
            to: Side::Object(to, None),
            managers,
        }));
    }
    let from = parse_s3_url(src)?;
    if from.key.is_empty() || from.key.ends_with('/') {
        return Ok(None);
    }
    let read = match source {
        Some(c) => manager(c.clone(), config.clone(), None)?,
        None => write.clone(),
    };
    let req = request(a, &from, true)?;
    let meta = match read.stat(req).await {
        Ok(meta) => meta,
        // Not an object: a prefix, as a tree's check reads it (but not into a file).
        Err(e) if is_missing(&e) && !Path::new(dst).is_file() => return Ok(None),
        Err(e) => return Err(engine_error(&e, false, None)),
    };
    let name = from.key.rsplit('/').next().unwrap_or_default().to_string();
    let to = match direction {
        SyncAction::Copy => Side::Object(named(parse_s3_url(dst)?, &name), None),
        _ if Path::new(dst).is_dir() => Side::File(Path::new(dst).join(&name)),
        _ => Side::File(dst.into()),
    };
    Ok(Some(One {
        from: Side::Object(from, Some(Box::new(meta))),
        to,
        managers: (write, read),
    }))
}

/// Checks single ones: a line when they do not match (or with -v), the summary, the code.
pub(super) async fn check(global: &Global, a: &CheckArgs, one: One) -> Result<(), CliError> {
    if let Some(flag) = a.filters.given() {
        return Err(bad_input(format!(
            "{flag} chooses among a tree's paths: check a folder and a prefix to use it"
        )));
    }
    refuse_flags(
        &[("--as-of", a.as_of.is_some()), ("--one-way", a.one_way)],
        "for a check of one file or object",
    )?;
    let output = Output::new(&a.out, false, global.verbose > 0)
        .for_check()
        .within(crate::options::limits(&a.budget)?);
    let started = Instant::now();
    let (from, to) = (one.from.name(), one.to.name());
    let (found, size, bucket, key) = match (&one.from, &one.to) {
        (Side::File(path), Side::Object(url, _)) => {
            let size = std::fs::metadata(path).map_or(0, |m| m.len());
            let found = file_and_object(a, &one.managers.0, path, url, true, &from, &to).await?;
            (found, size, &url.bucket, &url.key)
        }
        (Side::Object(url, meta), Side::File(path)) => {
            let size = meta.as_ref().map_or(0, |m| m.content_length);
            let found = match path.exists() {
                false => Found::Missing,
                true => file_and_object(a, &one.managers.1, path, url, false, &to, &from).await?,
            };
            (found, size, &url.bucket, &url.key)
        }
        (Side::Object(from_url, Some(source)), Side::Object(url, _)) => {
            let found = match one.managers.0.stat(request(a, url, false)?).await {
                Ok(meta) if a.size_only || meta.content_length != source.content_length => {
                    same(meta.content_length == source.content_length)
                }
                Ok(_) if a.download => {
                    let (x, y) = tokio::join!(
                        one.managers.1.read_back(request(a, from_url, true)?),
                        one.managers.0.read_back(request(a, url, false)?)
                    );
                    let read = |r| engine_error(&r, false, None);
                    same(x.map_err(read)? == y.map_err(read)?)
                }
                Ok(meta) => objects(source, &meta, &from, &to)?,
                Err(e) if is_missing(&e) => Found::Missing,
                Err(e) => return Err(engine_error(&e, false, None)),
            };
            (found, source.content_length, &url.bucket, &url.key)
        }
        _ => unreachable!("a check of single ones reads at least one object"),
    };
    if output.json {
        output.emit_json(&found.json(key, &from, Some(&to), size));
    } else if found != Found::Same || global.verbose > 0 {
        output.say(&found.line(&from, &to));
    }
    let mut outcome = SyncOutcome::default();
    match found {
        Found::Same => outcome.skipped = 1,
        _ => outcome.differing = 1,
    }
    outcome.missing = u64::from(found == Found::Missing);
    summary(&output, bucket, &outcome, started)
}

/// The file at `path` against the object at `url` (`up`: the file is the source), by content
/// (by size with --size-only); `file` and `object` name them.
async fn file_and_object(
    a: &CheckArgs,
    manager: &Manager<S3Client>,
    path: &Path,
    url: &S3Url,
    up: bool,
    file: &str,
    object: &str,
) -> Result<Found, CliError> {
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    let req = request(a, url, !up)?;
    let found = match (a.size_only, a.download) {
        (true, _) => manager
            .stat(req)
            .await
            .map(|m| Some(m.content_length == size)),
        (_, true) => manager.file_holds(req, path).await.map(Some),
        _ => manager.file_matches(req, path).await,
    };
    match found {
        Ok(Some(same_bytes)) => Ok(same(same_bytes)),
        Ok(None) => Err(CliError::Failed(anyhow::anyhow!(
            "{object} offers no checksum to compare {file} with (no additional checksum, and its \
             ETag is no MD5: under a KMS or customer key): nothing could be said; --size-only \
             compares sizes"
        ))),
        Err(e) if up && is_missing(&e) => Ok(Found::Missing),
        Err(e) => Err(engine_error(&e, false, None)),
    }
}

/// Two objects by their HeadObjects (`compare_content`); where nothing can be said, the
/// check fails.
fn objects(x: &ObjectMeta, y: &ObjectMeta, from: &str, to: &str) -> Result<Found, CliError> {
    compare_content(x, y).map(same).ok_or_else(|| {
        CliError::Failed(anyhow::anyhow!(
            "{from} and {to} offer nothing to compare by (no checksums of one kind, and ETags \
             that are not both MD5s: parts of other sizes, or a KMS or customer key): nothing \
             could be said; --size-only compares sizes"
        ))
    })
}

/// The same or not.
fn same(same: bool) -> Found {
    match same {
        true => Found::Same,
        false => Found::Differs,
    }
}

/// The HeadObject request for `url`, with the SSE-C key of its side (`source`: the source's).
fn request(a: &CheckArgs, url: &S3Url, source: bool) -> Result<GetObjectRequest, CliError> {
    let request = match source {
        true if a.source.source_sse_c_key.is_some() => {
            a.bucket.source_request(&a.source.source_sse_c_key)?
        }
        _ => a.bucket.request(&a.sse_c_key)?,
    };
    Ok(GetObjectRequest {
        bucket: url.bucket.clone(),
        key: url.key.clone(),
        request,
        ..Default::default()
    })
}

/// Whether `e` says the object is not there (not that its bucket is not).
fn is_missing(e: &ferry_engine::Error) -> bool {
    e.s3()
        .is_some_and(|s| s.status() == Some(404) && s.code() != Some("NoSuchBucket"))
}
