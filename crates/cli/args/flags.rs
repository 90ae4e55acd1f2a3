//! The groups of flags several commands share (what a new object carries, the bucket's
//! request options, the budgets, a copy's source, filters, output), flattened into each.

use clap::Args;

/// How a transfer shows itself: the same flags on `cp`, `resume` and `sync`.
#[derive(Debug, Args)]
pub(crate) struct OutputFlags {
    /// One JSON event per line on stdout (stderr when data goes to stdout).
    #[arg(long)]
    pub(crate) json: bool,
    /// No progress display.
    #[arg(long)]
    pub(crate) no_progress: bool,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub(crate) quiet: bool,
}

/// What every request to a bucket carries: the same flags on `cp`, `sync` and `acl`, as the
/// aws cli spells them.
#[derive(Debug, Default, Args)]
pub(crate) struct BucketFlags {
    /// Fail unless this account owns the bucket written to, or a download's (each request to
    /// it carries x-amz-expected-bucket-owner; a copy's source does not): a mistyped bucket
    /// name cannot reach someone else's bucket.
    #[arg(long, value_name = "ACCOUNT")]
    pub(crate) expected_bucket_owner: Option<String>,
    /// Agree to pay for the requests and the bytes (a requester-pays bucket refuses anyone
    /// else with 403): `--request-payer` or `--request-payer requester`.
    #[arg(
        long,
        value_name = "requester",
        num_args = 0..=1,
        default_missing_value = "requester",
        value_parser = ["requester"]
    )]
    pub(crate) request_payer: Option<String>,
}

/// What a new object carries (content headers, metadata, tags, storage class, ACL, object
/// lock) and how it is encrypted: the same flags on `cp` and `sync`.
#[derive(Debug, Args)]
pub(crate) struct ObjectFlags {
    /// Content-Type. By default, guessed from the file name (see --no-guess-mime-type).
    #[arg(long, help_heading = "Object")]
    pub(crate) content_type: Option<String>,
    /// Send no Content-Type that --content-type does not give, rather than one guessed from
    /// the file name (S3 then stores binary/octet-stream), as the aws cli's flag of that name.
    #[arg(long, help_heading = "Object", conflicts_with = "content_type")]
    pub(crate) no_guess_mime_type: bool,
    /// Cache-Control.
    #[arg(long, help_heading = "Object")]
    pub(crate) cache_control: Option<String>,
    /// Content-Disposition.
    #[arg(long, help_heading = "Object")]
    pub(crate) content_disposition: Option<String>,
    /// Content-Encoding.
    #[arg(long, help_heading = "Object")]
    pub(crate) content_encoding: Option<String>,
    /// Content-Language.
    #[arg(long, help_heading = "Object")]
    pub(crate) content_language: Option<String>,
    /// Expires: when caches should stop serving the object. A time (2030-01-01T00:00:00Z), a
    /// day (2030-01-01, from midnight UTC), a span from now (30d, 12h, 1y) or an HTTP date
    /// (Tue, 01 Jan 2030 00:00:00 GMT); sent as an HTTP date.
    #[arg(long, value_name = "WHEN", help_heading = "Object")]
    pub(crate) expires: Option<String>,
    /// User metadata, KEY=VALUE (repeatable).
    #[arg(long, value_name = "KEY=VALUE", help_heading = "Object")]
    pub(crate) metadata: Vec<String>,
    /// Storage class: STANDARD, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER_IR,
    /// GLACIER, DEEP_ARCHIVE and the others S3 names, in any case; a name of the store's own
    /// (an S3-compatible store's placement class) is sent as given.
    #[arg(long, help_heading = "Object")]
    pub(crate) storage_class: Option<String>,
    /// Where a bucket configured as a website redirects requests for the object: a key of the
    /// bucket from / (/docs/new.html) or a URL (x-amz-website-redirect-location). A copy keeps
    /// its source's unless this names another (S3 itself never copies it).
    #[arg(long, value_name = "LOCATION", help_heading = "Object")]
    pub(crate) website_redirect: Option<String>,
    /// Tags, as k1=v1&k2=v2, with %XX escapes decoded (%26 for &, %3D for =), as the aws
    /// cli takes them.
    #[arg(long, help_heading = "Object")]
    pub(crate) tagging: Option<String>,
    /// Canned ACL, e.g. private or bucket-owner-full-control (not with --grant-*).
    #[arg(long, help_heading = "Object")]
    pub(crate) acl: Option<String>,
    #[command(flatten, next_help_heading = "Object")]
    pub(crate) grants: GrantFlags,
    /// Object lock retention: GOVERNANCE (those allowed s3:BypassGovernanceRetention may
    /// lift it) or COMPLIANCE (nobody may, until it ends). Needs
    /// --object-lock-retain-until-date, and a bucket made with object lock.
    #[arg(long, value_name = "MODE", help_heading = "Object lock")]
    pub(crate) object_lock_mode: Option<String>,
    /// Until when each version written may not be deleted (newer versions may still be
    /// written over it): a time (RFC 3339,
    /// 2030-01-01T00:00:00Z), a day (2030-01-01, from midnight UTC), or a span from now (90d,
    /// 12h, 4w, 7y, a year being 365 days).
    #[arg(long, value_name = "WHEN", help_heading = "Object lock")]
    pub(crate) object_lock_retain_until_date: Option<String>,
    /// Legal hold: ON (no deletion until it is set OFF, whatever the retention) or OFF.
    #[arg(long, value_name = "ON|OFF", help_heading = "Object lock")]
    pub(crate) object_lock_legal_hold_status: Option<String>,
    /// Server-side encryption: AES256 (SSE-S3), aws:kms (SSE-KMS) or aws:kms:dsse (DSSE-KMS,
    /// two layers under the KMS key).
    #[arg(long, value_name = "ALG", help_heading = "Encryption")]
    pub(crate) sse: Option<String>,
    /// KMS key for --sse aws:kms or aws:kms:dsse (else the account's default key).
    #[arg(long, value_name = "KEY", help_heading = "Encryption")]
    pub(crate) sse_kms_key_id: Option<String>,
    /// SSE-C key: 32 bytes in base64, or @FILE holding the 32 raw bytes. Never logged.
    #[arg(long, value_name = "KEY|@FILE", help_heading = "Encryption")]
    pub(crate) sse_c_key: Option<String>,
}

impl ObjectFlags {
    /// Whether an upload names each object's Content-Type from its file name: when
    /// --content-type gives none and --no-guess-mime-type does not say not to.
    pub(crate) fn guesses_content_type(&self) -> bool {
        self.content_type.is_none() && !self.no_guess_mime_type
    }
}

/// Grants to give a new object or an ACL (`cp`, `sync`, `acl set`).
#[derive(Debug, Args)]
pub(crate) struct GrantFlags {
    /// Grant READ: id=ID, uri=URI or emailAddress=ADDR, comma-separated.
    #[arg(long, value_name = "GRANTEES")]
    pub(crate) grant_read: Option<String>,
    /// Grant READ_ACP.
    #[arg(long, value_name = "GRANTEES")]
    pub(crate) grant_read_acp: Option<String>,
    /// Grant WRITE_ACP.
    #[arg(long, value_name = "GRANTEES")]
    pub(crate) grant_write_acp: Option<String>,
    /// Grant FULL_CONTROL.
    #[arg(long, value_name = "GRANTEES")]
    pub(crate) grant_full_control: Option<String>,
}

/// What a transfer may hold at once, how fast it may go and for how long, for the whole
/// process: the same flags on `cp`, `sync`, `check` and `resume`.
#[derive(Debug, Default, Args)]
pub(crate) struct BudgetFlags {
    /// Requests in flight, all objects together, and parts of one object in flight. By
    /// default, 128 requests, 8 parts of one object.
    #[arg(long, value_name = "N")]
    pub(crate) concurrency: Option<u32>,
    /// Memory for part and range buffers, all objects together, e.g. 128MiB (by default 32MiB;
    /// for `cp` from stdin, 256MiB). A copy from another server holds a part larger than this
    /// in a temporary file.
    #[arg(long, value_name = "SIZE")]
    pub(crate) memory_limit: Option<String>,
    /// Bytes per second, uploads and downloads together, e.g. 50MiB (a size per second). A
    /// copy between servers counts its bytes once; a copy on one server moves none. Or a
    /// timetable by local time of day, as rclone writes it: "08:00,2MiB 19:00,off" (2 MiB/s
    /// from 8:00, no limit from 19:00 until 8:00 again; HH:MM:SS too), followed while the run
    /// lasts.
    #[arg(long, value_name = "RATE")]
    pub(crate) bwlimit: Option<String>,
    /// Stop once SPAN has passed (e.g. 45m, 6h, 1h30m), as rclone's flag: nothing more
    /// starts, the parts in flight finish (an interrupt stops them too), what is left is kept
    /// as at Ctrl-C (an upload for resume, a download's partial file), and ferry exits 10. The
    /// same command again goes on where it stopped: a backup window, night after night.
    #[arg(long, value_name = "SPAN")]
    pub(crate) max_duration: Option<String>,
    /// Stop once SIZE has moved (e.g. 500GiB; what an earlier run moved not counted), as
    /// rclone's flag: as --max-duration stops, exiting 8. The parts in flight then finish, so
    /// up to their size more moves (--cutoff-mode cautious moves no more than SIZE). A cap on
    /// a run's transfer, and its bill.
    #[arg(long, value_name = "SIZE")]
    pub(crate) max_transfer: Option<String>,
    /// How a run stops at --max-transfer or --max-duration, as rclone's flag: soft (the
    /// default: nothing more starts, the parts in flight finish), hard (what is in flight
    /// stops too, kept as at Ctrl-C), cautious (with --max-transfer: a file or object whose
    /// size, or what is left of it to resume, would take the run past SIZE is not started, so
    /// no more than SIZE moves).
    #[arg(
        long,
        value_name = "soft|hard|cautious",
        value_parser = ["soft", "hard", "cautious"]
    )]
    pub(crate) cutoff_mode: Option<String>,
}

/// Which of a source's properties its copy takes: the same flag on `cp` and `sync`.
#[derive(Debug, Args)]
pub(crate) struct CopyPropsFlag {
    /// Between two S3 locations: which of the source's properties a copy takes, as the aws
    /// cli's flag: default (its content headers, metadata and tags; for cp, as
    /// --metadata-directive says), metadata-directive (the same but its tags, so
    /// s3:GetObjectTagging on the source is not needed), none (none of them)
    #[arg(
        long = "copy-props",
        value_name = "default|metadata-directive|none",
        help_heading = "Copy"
    )]
    pub(crate) value: Option<String>,
}

/// A copy's source, when it is not read as the destination is: the same flags on `cp`,
/// `sync` and `resume`.
#[derive(Debug, Args)]
pub(crate) struct SourceFlags {
    /// Copy from another server: its endpoint URL. The bytes then pass through ferry (ranged
    /// GETs into upload parts, in bounded memory, checked on both sides). `resume` reads the
    /// source at the endpoint its journal names, unless this is given.
    #[arg(long, value_name = "URL")]
    pub(crate) source_endpoint_url: Option<String>,
    /// Copy with other credentials for the source: their profile (the bytes then pass
    /// through ferry).
    #[arg(long, value_name = "PROFILE")]
    pub(crate) source_profile: Option<String>,
    /// The source's region, when it differs.
    #[arg(long, value_name = "REGION")]
    pub(crate) source_region: Option<String>,
    /// The source's SSE-C key: 32 bytes in base64, or @FILE. Never logged.
    #[arg(long, value_name = "KEY|@FILE")]
    pub(crate) source_sse_c_key: Option<String>,
}

/// Which paths of a tree take part: the same flags on `cp -r` and `sync`.
#[derive(Debug, Args)]
pub(crate) struct FilterFlags {
    /// Leave out paths (below the folder or prefix) the glob matches (repeatable; with
    /// --include, the last that matches decides; * matches / too).
    #[arg(long, value_name = "GLOB")]
    pub(crate) exclude: Vec<String>,
    /// Take part again what an earlier --exclude left out (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub(crate) include: Vec<String>,
    /// --exclude each glob FILE holds, a line each, where the flag stands among the others
    /// (as rclone's and rsync's flag): blank lines and lines starting with # or ; are passed
    /// over, a leading / is the folder's or the prefix's own (repeatable).
    #[arg(long, value_name = "FILE")]
    pub(crate) exclude_from: Vec<std::path::PathBuf>,
    /// --include each glob FILE holds, a line each, as --exclude-from reads them (repeatable).
    #[arg(long, value_name = "FILE")]
    pub(crate) include_from: Vec<std::path::PathBuf>,
    /// Only the paths FILE names, a line each (- for stdin), below the folder or the prefix,
    /// as rclone's flag: blank lines and lines starting with # or ; are passed over. A copy
    /// fails each path named that is not there; the other filters still apply.
    #[arg(long, value_name = "FILE")]
    pub(crate) files_from: Option<std::path::PathBuf>,
    /// Leave out each folder holding an entry of this NAME (a .nobackup, a cache's
    /// CACHEDIR.TAG), with all below it, as rclone's, restic's and borg's flag (repeatable).
    /// Weighs the folder walked: an upload's, or a sync's or a check's folder, either way;
    /// a sync neither sends nor deletes anything below such a folder.
    #[arg(long, value_name = "NAME")]
    pub(crate) exclude_if_present: Vec<String>,
    /// Only files and objects of SIZE or more, e.g. 1MiB (as rclone's flag).
    #[arg(long, value_name = "SIZE")]
    pub(crate) min_size: Option<String>,
    /// Only files and objects of SIZE or less, e.g. 4GiB (as rclone's flag).
    #[arg(long, value_name = "SIZE")]
    pub(crate) max_size: Option<String>,
    /// Only what changed at or after WHEN, by a file's mtime or an object's Last-Modified: a
    /// span back from now (90m, 12h, 2d, 1w), a day (from midnight UTC) or a time, as
    /// rclone's flag (no older than the age). A sync compares and deletes only in these
    /// bounds: what the destination holds at a source's path left out stays as it is.
    #[arg(long, value_name = "WHEN")]
    pub(crate) max_age: Option<String>,
    /// Only what last changed at or before WHEN (a span back from now, a day or a time), as
    /// rclone's flag (at least the age old): `rm -r --min-age 90d` deletes what is 90 days
    /// old or more.
    #[arg(long, value_name = "WHEN")]
    pub(crate) min_age: Option<String>,
    /// The four, in the order given: (include, what). Filled from the command line's order,
    /// which clap keeps per flag only.
    #[arg(skip)]
    pub(crate) ordered: Vec<(bool, Pattern)>,
}

/// What an --exclude or --include gives (or their -from forms): a glob, or a file of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pattern {
    Glob(String),
    File(std::path::PathBuf),
}

impl FilterFlags {
    /// The first filter flag given, if any: for commands that have no entries to pick among.
    pub(crate) fn given(&self) -> Option<&'static str> {
        [
            ("--exclude", !self.exclude.is_empty()),
            ("--include", !self.include.is_empty()),
            ("--exclude-from", !self.exclude_from.is_empty()),
            ("--include-from", !self.include_from.is_empty()),
            ("--files-from", self.files_from.is_some()),
            ("--exclude-if-present", !self.exclude_if_present.is_empty()),
            ("--min-size", self.min_size.is_some()),
            ("--max-size", self.max_size.is_some()),
            ("--max-age", self.max_age.is_some()),
            ("--min-age", self.min_age.is_some()),
        ]
        .into_iter()
        .find_map(|(flag, on)| on.then_some(flag))
    }
}

/// `--exclude`, `--include`, `--exclude-from` and `--include-from` of the subcommand, in
/// the order they were given.
pub(crate) fn ordered_filters(m: &clap::ArgMatches) -> Vec<(bool, Pattern)> {
    let Some((_, m)) = m.subcommand() else {
        return Vec::new();
    };
    let mut all: Vec<(usize, bool, Pattern)> = Vec::new();
    for (id, include) in [("exclude", false), ("include", true)] {
        if let (Some(at), Some(values)) = (m.indices_of(id), m.get_many::<String>(id)) {
            let globs = values.map(|v| Pattern::Glob(v.clone()));
            all.extend(at.zip(globs).map(|(i, p)| (i, include, p)));
        }
    }
    for (id, include) in [("exclude_from", false), ("include_from", true)] {
        let files = m.get_many::<std::path::PathBuf>(id);
        if let (Some(at), Some(files)) = (m.indices_of(id), files) {
            let files = files.map(|f| Pattern::File(f.clone()));
            all.extend(at.zip(files).map(|(i, p)| (i, include, p)));
        }
    }
    all.sort_by_key(|(i, _, _)| *i);
    all.into_iter().map(|(_, inc, p)| (inc, p)).collect()
}
