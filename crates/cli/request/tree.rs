//! A tree's request: a folder up to a prefix (or several files of one folder), a prefix down
//! to a folder, a prefix across to a prefix; and the filters and shard each takes.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use ferry_engine::{Filters, Shard, TreeCopy, TreeDownload, TreeUpload};

use super::{Work, as_of, copy_directive, on_the_server, past, refuse_as_of, single_only};
use crate::args::{CpArgs, FilterFlags, Global, Pattern};
use crate::client::{parse_s3_url, source_global};
use crate::exit::{CliError, bad_input};
use crate::options::{copy_only, download_settings, object_options, parse_size, upload_settings};
use crate::when::shown;

/// `ferry cp -r s3://a/prefix s3://b/prefix2`.
pub(super) fn copy_tree(global: &Global, args: &CpArgs) -> Result<Work, CliError> {
    single_only(args)?;
    let src = parse_s3_url(&args.src)?;
    let dst = parse_s3_url(&args.dst)?;
    let (directive, tagging) = copy_directive(args)?;
    let source = source_global(global, &args.source);
    if source.is_none() {
        on_the_server(args)?;
    }
    let tree = TreeCopy {
        from_request: args.bucket.source_request(&args.source.source_sse_c_key)?,
        metadata_directive: directive,
        tagging_directive: tagging,
        options: object_options(&args.object, &args.bucket, None)?,
        settings: upload_settings(args)?,
        filters: filters(&args.filters)?,
        shard: shard(&args.shard)?,
        dry_run: args.dry_run,
        as_of: as_of(args.as_of.as_deref())?,
        skip_archived: args.skip_archived,
        ..TreeCopy::new(src.bucket, &src.key, dst.bucket, &dst.key)
    };
    Ok(Work::CopyTree {
        tree,
        source: source.map(Box::new),
    })
}

/// `ferry cp -r FOLDER s3://bucket/prefix`.
pub(super) fn upload_tree(args: &CpArgs) -> Result<Work, CliError> {
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
    refuse_as_of(args.as_of.as_deref())?;
    copy_only(args)?;
    let (root, only) = match &args.source_paths[..] {
        [one] => (one.clone(), None),
        several => {
            let (root, names) = one_folder(several, args.recursive)?;
            (root, Some(names))
        }
    };
    let meta = std::fs::metadata(&root)
        .map_err(|e| bad_input(format!("cannot read source {}: {e}", root.display())))?;
    if !meta.is_dir() {
        return Err(bad_input(format!(
            "source {} is not a folder; without --recursive, give it as is",
            root.display()
        )));
    }
    let dst = parse_s3_url(&args.dst)?;
    Ok(Work::UploadTree(TreeUpload {
        root,
        bucket: dst.bucket,
        prefix: dst.key,
        options: object_options(&args.object, &args.bucket, None)?,
        guess_content_type: args.object.guesses_content_type(),
        settings: upload_settings(args)?,
        filters: filters(&args.filters)?,
        shard: shard(&args.shard)?,
        dry_run: args.dry_run,
        follow_links: !args.no_follow_symlinks,
        only,
    }))
}

/// The folder `sources` are in (each a file, or with `recursive` a folder, directly in it)
/// and their names in it: `ferry cp *.iso s3://…`.
fn one_folder(sources: &[PathBuf], recursive: bool) -> Result<(PathBuf, Vec<OsString>), CliError> {
    let mut root: Option<PathBuf> = None;
    let mut names = Vec::with_capacity(sources.len());
    for path in sources {
        let src = path.display();
        let meta = std::fs::metadata(path)
            .map_err(|e| bad_input(format!("cannot read source {src}: {e}")))?;
        if meta.is_dir() && !recursive {
            return Err(bad_input(format!(
                "source {src} is a folder; give -r to send folders whole, or name its files"
            )));
        }
        if !meta.is_file() && !meta.is_dir() {
            return Err(bad_input(format!(
                "source {src} is not a file: a stream goes up alone (ferry cp {src} s3://bucket/key)"
            )));
        }
        let (Some(name), parent) = (path.file_name(), path.parent()) else {
            return Err(bad_input(format!(
                "source {src} has no name of its own in a folder; give its folder's files"
            )));
        };
        let parent = match parent {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        match &root {
            None => root = Some(parent),
            Some(r) if same_folder(r, &parent) => {}
            Some(_) => {
                return Err(bad_input(format!(
                    "sources {} and {src} are in different folders; several sources are files \
                     of one folder (a shell's glob), else copy a folder with -r and --include",
                    sources[0].display()
                )));
            }
        }
        names.push(name.to_os_string());
    }
    Ok((root.unwrap_or_else(|| PathBuf::from(".")), names))
}

/// Whether `a` and `b` name one folder (`dir` and `./dir/`, or through a link).
fn same_folder(a: &Path, b: &Path) -> bool {
    a.components().eq(b.components())
        || matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(x), Ok(y)) if x == y
        )
}

/// `ferry cp -r s3://bucket/prefix FOLDER`.
pub(super) fn download_tree(args: &CpArgs) -> Result<Work, CliError> {
    if args.dst == "-" {
        return Err(bad_input(
            "--recursive writes a folder; stdout takes one object",
        ));
    }
    single_only(args)?;
    copy_only(args)?;
    let src = parse_s3_url(&args.src)?;
    let settings = download_settings(args)?;
    // A file where the folder should be is the engine's refusal (exit 2), before any request.
    let root = args.dst_path.clone();
    Ok(Work::DownloadTree(TreeDownload {
        bucket: src.bucket,
        prefix: src.key,
        root,
        request: args.bucket.request(&args.object.sse_c_key)?,
        settings,
        filters: filters(&args.filters)?,
        shard: shard(&args.shard)?,
        dry_run: args.dry_run,
        as_of: as_of(args.as_of.as_deref())?,
        skip_archived: args.skip_archived,
    }))
}

/// `--exclude` and `--include` (globs given, or read from files), in the order given, within
/// the bounds on size and time.
pub(crate) fn filters(flags: &FilterFlags) -> Result<Filters, CliError> {
    let mut filters = Filters::default();
    for (include, pattern) in &flags.ordered {
        let globs = match pattern {
            Pattern::Glob(g) => vec![g.clone()],
            Pattern::File(f) => {
                let flag = match include {
                    true => "--include-from",
                    false => "--exclude-from",
                };
                let lines = lines_of(flag, f)?;
                lines
                    .into_iter()
                    .map(|l| l.trim_start_matches('/').to_string())
                    .collect()
            }
        };
        for glob in globs {
            filters
                .push(*include, &glob)
                .map_err(|e| bad_input(e.to_string()))?;
        }
    }
    let size = |flag: &str, given: &Option<String>| {
        given
            .as_deref()
            .map(|s| parse_size(s).map_err(|e| bad_input(format!("{flag}: {e}"))))
            .transpose()
    };
    let (min, max) = (
        size("--min-size", &flags.min_size)?,
        size("--max-size", &flags.max_size)?,
    );
    if let (Some(min), Some(max)) = (min, max)
        && min > max
    {
        return Err(bad_input(format!(
            "--min-size ({min} bytes) is more than --max-size ({max} bytes): nothing could take part"
        )));
    }
    let none_since = "nothing has changed since";
    let since = flags
        .max_age
        .as_deref()
        .map(|w| past("--max-age", w, none_since));
    let before = flags
        .min_age
        .as_deref()
        .map(|w| past("--min-age", w, "all is younger"));
    let (since, before) = (since.transpose()?, before.transpose()?);
    if let (Some(since), Some(before)) = (since, before)
        && since > before
    {
        return Err(bad_input(format!(
            "--max-age takes what changed since {}, --min-age what changed before {}: no \
             time is both; nothing could take part",
            shown(since.into()),
            shown(before.into())
        )));
    }
    if let Some(n) = min {
        filters = filters.min_size(n);
    }
    if let Some(n) = max {
        filters = filters.max_size(n);
    }
    if let Some(t) = since {
        filters = filters.modified_since(t);
    }
    if let Some(t) = before {
        filters = filters.modified_before(t);
    }
    if let Some(list) = &flags.files_from {
        filters = filters.only_paths(listed_paths(list)?);
    }
    for name in &flags.exclude_if_present {
        filters = filters
            .exclude_if_present(name)
            .map_err(|e| bad_input(format!("--exclude-if-present: {e}")))?;
    }
    Ok(filters)
}

/// The paths `--files-from` names: a line each of the file (`-`: stdin), trimmed, with leading
/// `/` and `./` taken off; blank lines and comments (`#`, `;`) passed over.
fn listed_paths(list: &Path) -> Result<Vec<String>, CliError> {
    let mut paths = Vec::new();
    for line in lines_of("--files-from", list)? {
        let mut path = line.trim_start_matches('/');
        while let Some(rest) = path.strip_prefix("./") {
            path = rest.trim_start_matches('/');
        }
        paths.push(path.to_string());
    }
    if paths.is_empty() {
        return Err(bad_input(format!(
            "--files-from {} names no path: give one a line",
            list.display()
        )));
    }
    Ok(paths)
}

/// The lines of the file `flag` names (`-`: stdin), trimmed; blank lines and comments (`#`,
/// `;`) passed over.
fn lines_of(flag: &str, file: &Path) -> Result<Vec<String>, CliError> {
    let text = match file.as_os_str() == "-" {
        true => std::io::read_to_string(std::io::stdin()),
        false => std::fs::read_to_string(file),
    };
    let text =
        text.map_err(|e| bad_input(format!("{flag} {}: cannot read it: {e}", file.display())))?;
    let lines = text.lines().map(str::trim);
    let kept = lines.filter(|l| !l.is_empty() && !l.starts_with(['#', ';']));
    Ok(kept.map(str::to_string).collect())
}

/// `--shard I/N` (or N, the index from the environment).
pub(crate) fn shard(spec: &Option<String>) -> Result<Option<Shard>, CliError> {
    spec.as_deref()
        .map(|s| Shard::parse(s, |k| std::env::var(k).ok()))
        .transpose()
        .map_err(|e| bad_input(format!("--shard: {e}")))
}
