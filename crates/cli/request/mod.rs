//! `ferry cp`'s raw flags turned into one validated request (as ripgrep goes from low-level to
//! high-level arguments): which kind of transfer, the engine request for it, the budgets and
//! the output. Every check on user input happens here, before a client exists; what is wrong
//! is exit 2 with the flag named. A tree's requests (folders, prefixes, several files of one
//! folder) and the filters and shard they take: `tree`.

mod tree;

use std::path::{Path, PathBuf};

use ferry_engine::{
    Copy, Download, ManagerConfig, ObjectSource, PlanWork, Source, Span, Target, TreeCopy,
    TreeDownload, TreeUpload, Upload,
};
use ferry_s3::Directive;

use crate::args::{Cmd, CopyPropsFlag, CpArgs, Global};
use crate::client::{parse_s3_url, source_global};
use crate::exit::{CliError, bad_input};
use crate::options::{
    copy_only, download_settings, manager_config, object_content_flags, object_options,
    parse_exact_size, refuse_flags, sse_c_key, upload_settings,
};
use crate::output::Output;
use tree::{copy_tree, download_tree, upload_tree};
pub(crate) use tree::{filters, shard};

const MIB: u64 = 1024 * 1024;
/// A stream's default memory budget: its parts are kept until acknowledged.
const STREAM_MEMORY: u64 = 256 * MIB;
/// Everything else's: file parts and ranges hold a few MiB each.
const FILE_MEMORY: u64 = 32 * MIB;

/// A `cp` (or `mv`), checked: what to run, its budgets, how to show it.
pub(crate) struct Cp {
    pub(crate) work: Work,
    /// A move: each source is deleted once its destination holds it.
    pub(crate) moving: bool,
    pub(crate) manager: ManagerConfig,
    /// Where journals go (uploads and copies that can resume).
    pub(crate) state_dir: Option<PathBuf>,
    pub(crate) output: Output,
}

/// The kinds of `cp`.
pub(crate) enum Work {
    /// A file or stdin to an object.
    Upload {
        upload: Upload,
        /// As the user named it.
        src: String,
    },
    /// An object to a file or stdout.
    Download(Download),
    /// An object to another key, on the server.
    Copy { copy: Copy, src: String },
    /// An object to another server, through ferry: `source` reaches the source.
    CrossCopy {
        copy: Copy,
        source: Box<Global>,
        src: String,
    },
    /// A folder to a prefix.
    UploadTree(TreeUpload),
    /// A prefix to a folder.
    DownloadTree(TreeDownload),
    /// One worker's parts of a planned upload.
    PlanWork(PlanWork),
    /// A prefix to a prefix: on the server, or from another server through ferry (`source`).
    CopyTree {
        tree: TreeCopy,
        source: Option<Box<Global>>,
    },
}

impl Work {
    /// Makes it a move: each source deleted once its destination holds it.
    fn moving(&mut self) {
        match self {
            Work::Upload { upload, .. } => upload.settings.remove_source = true,
            Work::Download(download) => download.settings.remove_source = true,
            Work::Copy { copy, .. } | Work::CrossCopy { copy, .. } => {
                copy.settings.remove_source = true;
            }
            Work::UploadTree(tree) => tree.settings.remove_source = true,
            Work::DownloadTree(tree) => tree.settings.remove_source = true,
            Work::CopyTree { tree, .. } => tree.settings.remove_source = true,
            // Refused before it is built (see `refuse_for_move`).
            Work::PlanWork(_) => {}
        }
    }

    /// Whether it writes journals.
    pub(crate) fn journaled(&self) -> bool {
        matches!(
            self,
            Work::Upload { .. }
                | Work::Copy { .. }
                | Work::CrossCopy { .. }
                | Work::UploadTree(_)
                | Work::CopyTree { .. }
        )
    }
}

/// A path argument as text: a local file's name need not be UTF-8 (shown with U+FFFD where it
/// is not); an `s3://` location's must, as a bucket's and a key's are. A local path that
/// begins `s3:` otherwise (`s3:/b/k`, `S3://b/k`) is a mistyped location far more often than
/// a folder of that name: refused, where it was written to (or read from) as one.
pub(crate) fn arg_text(given: &Path) -> Result<String, CliError> {
    let text = given.to_string_lossy();
    if given.to_str().is_none() && text.starts_with("s3://") {
        return Err(bad_input(format!(
            "{text} is not UTF-8 (shown with U+FFFD where it is not), and a key must be"
        )));
    }
    if !text.starts_with("s3://") && text.get(..3).is_some_and(|s| s.eq_ignore_ascii_case("s3:")) {
        return Err(bad_input(format!(
            "{text:?}: an S3 location begins s3:// (in lower case); for a local path of that \
             name, write ./{text}"
        )));
    }
    Ok(text.into_owned())
}

/// What `mv` cannot do that `cp` can: each refused with what to do instead.
fn refuse_for_move(args: &CpArgs) -> Result<(), CliError> {
    let refused = if args.sources.iter().any(|s| s == "-") {
        "ferry mv moves files and objects: stdin cannot be deleted once it is sent; ferry cp - \
         s3://bucket/key sends it"
    } else if names_stdout(&args.dst) {
        "ferry mv writes a file or an object, not stdout: ferry cp s3://bucket/key - reads it, \
         then ferry rm s3://bucket/key deletes it"
    } else if args.plan.is_some() {
        "--plan sends one worker's parts of a planned upload, which ferry finish completes: a \
         move is of a whole file (ferry mv FILE s3://bucket/key)"
    } else if args.version_id.is_some() || args.as_of.is_some() {
        "--version-id, --as-of: ferry mv moves the current version of an object (a versioned \
         bucket keeps the others); to move an older one, ferry cp --version-id it, then ferry \
         rm --version-id"
    } else {
        return Ok(());
    };
    Err(bad_input(refused))
}

/// Checks `cp SRC DST` and its flags; `moving`: `mv SRC DST`, which deletes each source once
/// its destination holds it.
pub(crate) fn cp(global: &Global, args: &CpArgs, moving: bool) -> Result<Cp, CliError> {
    if moving {
        refuse_for_move(args)?;
    }
    let s3 = |s: &str| s.starts_with("s3://");
    // A path that can only be read once (a named pipe, a shell's `<(command)`): a stream, as
    // stdin is.
    let piped = args.src != "-" && !s3(&args.src) && Source::is_stream_path(args.src_path());
    let stream = args.src == "-" || piped;
    let to_stdout = names_stdout(&args.dst);
    if args.sources.is_empty() {
        return Err(bad_input(format!(
            "{:?} alone: give a source and a destination (ferry cp SRC DST)",
            args.dst
        )));
    }
    for src in &args.sources {
        both_given(src, &args.dst, "a path, - or s3://bucket/key")?;
    }
    for given in args.source_paths.iter().chain([&args.dst_path]) {
        arg_text(given)?;
    }
    // Several sources: files (folders with -r) of one folder, sent up together as a tree.
    let several = args.sources.len() > 1;
    if several && (!s3(&args.dst) || args.sources.iter().any(|s| s == "-" || s3(s))) {
        return Err(bad_input(
            "several sources are files of one folder (a shell's glob) sent up together: \
             ferry cp FILE... s3://bucket/prefix/; for objects, copy their prefix with -r and \
             --include",
        ));
    }
    let tree = args.recursive || several;
    let mut work = match (s3(&args.src), s3(&args.dst)) {
        _ if several => upload_tree(args)?,
        _ if args.plan.is_some() => plan_work(args)?,
        _ if args.shard.is_some() && !tree => {
            return Err(bad_input(
                "--shard splits a tree (with -r) or a plan's parts (with --plan)",
            ));
        }
        _ if args.dry_run && !tree => {
            return Err(bad_input(
                "--dry-run lists what a tree would copy (with -r); without it, the one object is the one named",
            ));
        }
        _ if args.range.is_some() && !(s3(&args.src) && !s3(&args.dst) && to_stdout) => {
            return Err(bad_input(RANGE_TO_STDOUT));
        }
        _ if args.no_follow_symlinks && !(tree && !s3(&args.src) && s3(&args.dst)) => {
            return Err(bad_input(
                "--no-follow-symlinks is for a folder sent up (-r FOLDER s3://…): only it has links to follow",
            ));
        }
        _ if args.skip_archived && !(tree && s3(&args.src)) => {
            return Err(bad_input(
                "--skip-archived passes over archived objects of a prefix read (-r s3://… FOLDER \
                 or s3://…): one object named alone fails, saying it is archived",
            ));
        }
        _ if let (Some(flag), false) = (args.filters.given(), tree) => {
            return Err(bad_input(format!(
                "{flag} chooses among a tree's paths: give -r to copy a folder or a prefix"
            )));
        }
        (false, true) if tree => upload_tree(args)?,
        (true, false) if args.recursive => download_tree(args)?,
        (true, true) if args.recursive => copy_tree(global, args)?,
        (false, true) => upload(args, piped)?,
        (true, false) => download(args, to_stdout)?,
        (true, true) => copy(global, args)?,
        (false, false) => {
            return Err(bad_input(format!(
                "cannot copy {:?} to {:?}: one side must be s3://bucket/key and the other a local path",
                args.src, args.dst
            )));
        }
    };
    if moving {
        work.moving();
    }
    let memory = if stream { STREAM_MEMORY } else { FILE_MEMORY };
    let manager = manager_config(&args.budget, memory)?;
    Ok(Cp {
        work,
        moving,
        manager,
        state_dir: args.state_dir.clone(),
        output: Output::new(&args.out, to_stdout, global.verbose > 0)
            .for_move(moving)
            .for_no_clobber(args.no_clobber)
            .within(crate::options::limits(&args.budget)?),
    })
}

/// Refuses an empty source or destination (`""` from a script whose variable was unset),
/// saying what to `give` instead.
pub(crate) fn both_given(src: &str, dst: &str, give: &str) -> Result<(), CliError> {
    match (src.is_empty(), dst.is_empty()) {
        (false, false) => Ok(()),
        (true, _) => Err(bad_input(format!("the source is empty: give {give}"))),
        (false, true) => Err(bad_input(format!("the destination is empty: give {give}"))),
    }
}

/// Where `--range` goes.
const RANGE_TO_STDOUT: &str = "--range reads part of one object to stdout: ferry cp s3://bucket/key - --range FIRST-LAST (> FILE to keep it)";

/// `--range`, in bytes from 0, as HTTP reads a range: FIRST-LAST (LAST past the end reads to
/// the end), FIRST- (to the end), or -N (the last N bytes).
fn byte_range(s: &str) -> Result<Span, CliError> {
    let bad = || {
        bad_input(format!(
            "--range {s:?}: give FIRST-LAST, FIRST- (to the end) or -N (the last N bytes), \
             in bytes from 0, e.g. 0-1023"
        ))
    };
    let number = |n: &str| n.trim().parse::<u64>().map_err(|_| bad());
    let span = match s.trim().split_once('-').ok_or_else(bad)? {
        ("", n) => Span::Last(number(n)?),
        (first, "") => Span::From {
            first: number(first)?,
            last: None,
        },
        (first, last) => Span::From {
            first: number(first)?,
            last: Some(number(last)?),
        },
    };
    match span {
        Span::Last(0) => Err(bad_input(format!(
            "--range {s:?} asks for no bytes: give -N with N of 1 or more"
        ))),
        Span::From {
            first,
            last: Some(last),
        } if first > last => Err(bad_input(format!(
            "--range {s:?}: the last byte ({last}) comes before the first ({first}); \
             give FIRST-LAST with FIRST no greater than LAST"
        ))),
        span => Ok(span),
    }
}

/// `--as-of`: the time a source is read as it was then, which must have come.
pub(crate) fn as_of(flag: Option<&str>) -> Result<Option<std::time::SystemTime>, CliError> {
    flag.map(|when| {
        past(
            "--as-of",
            when,
            "the source as it is now is read without --as-of",
        )
    })
    .transpose()
}

/// A time in the past that `flag` gives (`when`): a time, a day (from midnight UTC) or a span
/// back from now. One still to come is refused, saying `instead`.
pub(crate) fn past(
    flag: &str,
    when: &str,
    instead: &str,
) -> Result<std::time::SystemTime, CliError> {
    use crate::when::{Way, instant, shown};
    let now = time::OffsetDateTime::now_utc();
    let at = instant(when, now, Way::Back, "mhdwy").ok_or_else(|| {
        bad_input(format!(
            "{flag} {when:?}: give a time (2026-12-05T10:00:00Z), a day (2026-12-05) or a \
             span back from now (90m, 12h, 2d, 1w)"
        ))
    })?;
    if at > now {
        return Err(bad_input(format!(
            "{flag} {when:?} is {}, still to come: {instead}",
            shown(at)
        )));
    }
    Ok(at.into())
}

/// Refuses `--as-of` (`flag`) for an upload, which sends the file as it is.
pub(crate) fn refuse_as_of(flag: Option<&str>) -> Result<(), CliError> {
    match flag {
        Some(_) => Err(bad_input(
            "--as-of reads objects as they were (a download, or a copy's source); an upload \
             sends the file as it is",
        )),
        None => Ok(()),
    }
}

/// Refuses the flags one object takes that a tree cannot honour.
fn single_only(args: &CpArgs) -> Result<(), CliError> {
    refuse_flags(
        &[
            ("--expected-size", args.expected_size.is_some()),
            ("--version-id", args.version_id.is_some()),
            ("--range", args.range.is_some()),
            ("--plan", args.plan.is_some()),
        ],
        "for one object, not with --recursive or several sources",
    )
}

/// `ferry cp FILE|- s3://bucket/key` (`piped`: FILE is a named pipe or a device, read once
/// as a stream).
fn upload(args: &CpArgs, piped: bool) -> Result<Work, CliError> {
    let from_stdin = args.src == "-";
    let src_path = (!from_stdin).then(|| args.src_path().to_path_buf());
    let mut dst = parse_s3_url(&args.dst)?;
    if dst.key.is_empty() || dst.key.ends_with('/') {
        let Some(name) = src_path
            .as_ref()
            .and_then(|p| p.file_name())
            .filter(|_| !piped)
        else {
            return Err(bad_input(format!(
                "give the destination key (s3://bucket/key) when reading from {}",
                if piped { "a pipe" } else { "stdin" }
            )));
        };
        let Some(name) = name.to_str() else {
            return Err(bad_input(format!(
                "{}: the name is not UTF-8, and a key must be; give the key \
                 (s3://{}/{}NAME)",
                args.src, dst.bucket, dst.key
            )));
        };
        dst.key.push_str(name);
    }
    ferry_s3::validate_key(&dst.key).map_err(bad_input)?;
    refuse_flags(
        &[
            ("--verify", args.verify.is_some()),
            ("--version-id", args.version_id.is_some()),
        ],
        "for reading an object (a download, or a copy's source); an upload is always checked",
    )?;
    refuse_as_of(args.as_of.as_deref())?;
    copy_only(args)?;
    let settings = upload_settings(args)?;
    let expected_size = args
        .expected_size
        .as_deref()
        .map(|s| parse_exact_size(s).map_err(|e| bad_input(format!("--expected-size: {e}"))))
        .transpose()?;
    let source = match &src_path {
        Some(p) if !piped => {
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
            if expected_size.is_some() {
                return Err(bad_input(
                    "--expected-size is for streams (stdin or a pipe); a file has a size",
                ));
            }
            ferry_engine::plan(meta.len(), &settings.plan)
                .map_err(|e| bad_input(format!("{}: {e}", p.display())))?;
            Source::File(p.clone())
        }
        _ => {
            if args.restart {
                return Err(bad_input("--restart is for files: a stream cannot resume"));
            }
            if args.direct_io.is_some() {
                return Err(bad_input(
                    "--direct-io is for files: a stream is read as it comes",
                ));
            }
            if let Some(size) = expected_size {
                ferry_engine::plan(size, &settings.plan)
                    .map_err(|e| bad_input(format!("--expected-size: {e}")))?;
            }
            let reader: Box<dyn tokio::io::AsyncRead + Send + Unpin> = match &src_path {
                // Opened once, here: a named pipe waits for its writer (as `cat` does), and a
                // second open would wait for another.
                Some(p) => Box::new(tokio::fs::File::from_std(std::fs::File::open(p).map_err(
                    |e| bad_input(format!("cannot read source {}: {e}", p.display())),
                )?)),
                None => Box::new(tokio::io::stdin()),
            };
            Source::Reader {
                reader,
                size: expected_size,
            }
        }
    };
    let options = object_options(&args.object, &args.bucket, src_path.as_deref())?;
    let upload = Upload {
        source,
        bucket: dst.bucket.clone(),
        key: dst.key.clone(),
        options,
        settings,
    };
    Ok(Work::Upload {
        upload,
        src: args.src.clone(),
    })
}

/// Where the `--json` events of `cmd` go, if it was given: `Some(true)` for stderr (the data
/// goes to stdout), `Some(false)` for stdout.
pub(crate) fn json_events(cmd: &Cmd) -> Option<bool> {
    let (out, to_stdout) = match cmd {
        Cmd::Cp(c) | Cmd::Mv(c) => (&c.out, names_stdout(&c.dst)),
        Cmd::Sync(s) => (&s.out, false),
        Cmd::Check(c) => (&c.out, false),
        Cmd::Plan(p) => (&p.out, false),
        Cmd::Finish(f) => (&f.out, false),
        Cmd::Resume(r) => (&r.out, false),
        Cmd::Rm(r) => (&r.out, false),
        // The listing is the data on stdout; a failure goes to stderr.
        Cmd::Ls(l) => return l.list.json.then_some(true),
        Cmd::Du(d) => return d.list.json.then_some(true),
        _ => return None,
    };
    out.json.then_some(to_stdout)
}

/// Whether `dst` is this process's stdout: `-`, or a path that is the same file
/// (`/dev/stdout`, `/dev/fd/1`, where stdout is redirected). It is then written in order, as
/// `-` is, and reports go to stderr, not into the data.
fn names_stdout(dst: &str) -> bool {
    use std::os::fd::AsFd as _;
    use std::os::unix::fs::MetadataExt as _;
    if dst == "-" {
        return true;
    }
    let ours = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|f| f.metadata());
    match (ours, std::fs::metadata(dst)) {
        (Ok(o), Ok(d)) => (o.dev(), o.ino()) == (d.dev(), d.ino()),
        _ => false,
    }
}

/// `ferry cp s3://bucket/key FILE|-` (`to_stdout`: FILE is ferry's stdout, or `-`).
fn download(args: &CpArgs, to_stdout: bool) -> Result<Work, CliError> {
    let src = parse_s3_url(&args.src)?;
    if src.key.is_empty() || src.key.ends_with('/') {
        return Err(bad_input(format!(
            "{} names no object: give s3://bucket/key, or --recursive for every object under it",
            args.src
        )));
    }
    ferry_s3::validate_key(&src.key).map_err(bad_input)?;
    copy_only(args)?;
    let settings = download_settings(args)?;
    let target = if to_stdout {
        if args.restart {
            return Err(bad_input("--restart is for files: stdout cannot resume"));
        }
        if args.direct_io.is_some() {
            return Err(bad_input(
                "--direct-io is for files: stdout is written as a stream",
            ));
        }
        Target::Writer(Box::new(tokio::io::stdout()))
    } else {
        let mut p = args.dst_path.clone();
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
        Target::File(p)
    };
    let download = Download {
        bucket: src.bucket,
        key: src.key,
        version_id: args.version_id.clone(),
        as_of: as_of(args.as_of.as_deref())?,
        request: args.bucket.request(&args.object.sse_c_key)?,
        listed: None,
        range: args.range.as_deref().map(byte_range).transpose()?,
        target,
        settings,
    };
    Ok(Work::Download(download))
}

/// The metadata directive of a copy (COPY by default), refusing the flags it would ignore.
fn copy_directive(args: &CpArgs) -> Result<(Directive, Directive), CliError> {
    let given = match args
        .metadata_directive
        .as_deref()
        .map(str::to_ascii_uppercase)
    {
        None => None,
        Some(d) if d == "COPY" => Some(Directive::Copy),
        Some(d) if d == "REPLACE" => Some(Directive::Replace),
        Some(other) => {
            return Err(bad_input(format!(
                "--metadata-directive {other:?}: use COPY or REPLACE"
            )));
        }
    };
    let (directive, tagging) = copy_props(&args.copy_props, given)?;
    let flags: Vec<&str> = object_content_flags(&args.object)
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(f, _)| f)
        .collect();
    if directive == Directive::Copy && !flags.is_empty() {
        return Err(bad_input(format!(
            "{} would replace what the copy takes from its source: add --metadata-directive REPLACE",
            flags.join(", ")
        )));
    }
    refuse_flags(
        &[
            ("--verify", args.verify.is_some()),
            ("--expected-size", args.expected_size.is_some()),
            ("--direct-io", args.direct_io.is_some()),
        ],
        "not for copies: a copy is always checked and writes no file",
    )?;
    Ok((directive, tagging))
}

/// `--copy-props`, as the aws cli takes it, with `--metadata-directive` (`given`): the copy's
/// metadata and tagging directives. The source's tags go only by default.
pub(crate) fn copy_props(
    props: &CopyPropsFlag,
    given: Option<Directive>,
) -> Result<(Directive, Directive), CliError> {
    Ok(
        match props
            .value
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("default") => (given.unwrap_or_default(), Directive::Copy),
            Some("metadata-directive") => (given.unwrap_or_default(), Directive::Replace),
            Some("none") if given == Some(Directive::Copy) => {
                return Err(bad_input(
                    "--copy-props none copies none of the source's properties, and \
                 --metadata-directive COPY all of them: give one",
                ));
            }
            Some("none") => (Directive::Replace, Directive::Replace),
            Some(other) => {
                return Err(bad_input(format!(
                    "--copy-props {other:?}: use default, metadata-directive or none"
                )));
            }
        },
    )
}

/// Refuses the flags about bodies ferry sends, for a copy the server makes.
fn on_the_server(args: &CpArgs) -> Result<(), CliError> {
    refuse_flags(
        &[("--sign-payload", args.sign_payload)],
        "for bodies ferry sends; a copy on one server sends none (between servers, it applies)",
    )
}

/// `ferry cp s3://a/key s3://b/key2`.
fn copy(global: &Global, args: &CpArgs) -> Result<Work, CliError> {
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
    let (directive, tagging) = copy_directive(args)?;
    let options = object_options(&args.object, &args.bucket, None)?;
    // S3 copies an object onto itself when the copy changes something: an earlier version
    // made current again, another storage class (a restored archive kept for good), other
    // encryption, or metadata replaced.
    let changes = args.version_id.is_some()
        || args.as_of.is_some()
        || options.storage_class.is_some()
        || options.sse.is_some()
        || directive != Directive::Copy;
    if (&src.bucket, &src.key) == (&dst.bucket, &dst.key)
        && args.metadata_directive.is_none()
        && !changes
    {
        return Err(bad_input(
            "the source and the destination are the same object: a copy onto itself changes \
             something (--metadata-directive REPLACE with new metadata, --storage-class, --sse, \
             or --version-id/--as-of for an earlier version)",
        ));
    }
    let copy = Copy {
        from: ObjectSource {
            bucket: src.bucket,
            key: src.key,
            version_id: args.version_id.clone(),
            as_of: as_of(args.as_of.as_deref())?,
            sse_customer_key: args
                .source
                .source_sse_c_key
                .as_deref()
                .map(sse_c_key)
                .transpose()?,
            metadata_directive: directive,
            tagging_directive: tagging,
            if_match: None,
        },
        bucket: dst.bucket.clone(),
        key: dst.key.clone(),
        options,
        settings: upload_settings(args)?,
    };
    let Some(source) = source_global(global, &args.source) else {
        on_the_server(args)?;
        return Ok(Work::Copy {
            copy,
            src: args.src.clone(),
        });
    };
    Ok(Work::CrossCopy {
        copy,
        source: Box::new(source),
        src: args.src.clone(),
    })
}

/// `ferry cp FILE s3://bucket/key --plan PLAN --shard I/N`: one worker of a plan.
fn plan_work(args: &CpArgs) -> Result<Work, CliError> {
    if args.recursive || args.src == "-" {
        return Err(bad_input(
            "--plan sends a worker's parts of one file or object: give FILE|s3://… s3://bucket/key",
        ));
    }
    let plan = parse_s3_url(args.plan.as_deref().unwrap_or_default())?;
    let dst = parse_s3_url(&args.dst)?;
    let shard = shard(&args.shard)?
        .ok_or_else(|| bad_input("--plan needs --shard I/N (or N with an index variable)"))?;
    if args.object.sse_c_key.is_some() {
        return Err(bad_input(
            "--sse-c-key: a plan's parts are sent without one (a plan holds no secrets)",
        ));
    }
    Ok(Work::PlanWork(PlanWork {
        plan_bucket: plan.bucket,
        plan_key: plan.key,
        shard,
        source: Some(args.src_path().to_path_buf()),
        destination: Some((dst.bucket, dst.key)),
        request: args.bucket.request(&None)?,
    }))
}
