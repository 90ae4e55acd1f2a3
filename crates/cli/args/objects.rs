//! The flags of the commands that list, describe, lock, restore and delete objects: `ls`,
//! `stat`, `versioning`, `lock`, `restore`, `rm`.

use clap::Args;

use super::flags::{BucketFlags, FilterFlags, OutputFlags};

#[derive(Debug, Args)]
pub(crate) struct LsArgs {
    /// s3://bucket[/prefix]: what starts with the prefix (s3://bucket/logs/ lists the folder
    /// logs/; s3://bucket/logs also shows logs/ itself, and logs.txt). None: the buckets the
    /// account owns.
    pub(crate) target: Option<String>,
    /// Every object under the prefix, by its whole key, rather than one level.
    #[arg(short, long)]
    pub(crate) recursive: bool,
    /// Each object's storage class as listed, before its size (`-` where the listing names
    /// none): which objects are archived (GLACIER, DEEP_ARCHIVE) and want `ferry restore`.
    #[arg(short, long)]
    pub(crate) storage_class: bool,
    /// End with the count of objects and their total size.
    #[arg(long)]
    pub(crate) summarize: bool,
    #[command(flatten)]
    pub(crate) list: ListFlags,
    /// Only the totals, no line per object (`ferry du`).
    #[arg(skip)]
    pub(crate) totals_only: bool,
}

/// What `ls` and `du` share: which objects (versions, a time, the filters), and how sizes and
/// lines are shown.
#[derive(Debug, Args)]
pub(crate) struct ListFlags {
    /// Sizes in KiB, MiB, GiB rather than bytes.
    #[arg(short = 'H', long)]
    pub(crate) human_readable: bool,
    /// One JSON object per line: ls, an object's key, size, last_modified, etag and
    /// storage_class (with --all-versions or --as-of, version_id, latest and delete_marker
    /// too), or a prefix; du, each storage class's objects and bytes, then the summary.
    #[arg(long)]
    pub(crate) json: bool,
    /// Every version of each object and every delete marker (ListObjectVersions), each
    /// key's newest first, with its version id; `(latest)` marks the current one.
    #[arg(long)]
    pub(crate) all_versions: bool,
    /// Every object as it was at WHEN (a time, a day from midnight UTC, or a span back from
    /// now: 2d), from its versions: the version current then, with its id (`(latest)` when it
    /// still is); one deleted then, or written only later, is not listed. (ls: with -r.)
    #[arg(long, value_name = "WHEN", conflicts_with = "all_versions")]
    pub(crate) as_of: Option<String>,
    #[command(flatten, next_help_heading = "Filters (ls: with -r)")]
    pub(crate) filters: FilterFlags,
    #[command(flatten, next_help_heading = "Bucket")]
    pub(crate) bucket: BucketFlags,
}

#[derive(Debug, Args)]
pub(crate) struct DuArgs {
    /// s3://bucket[/prefix]: every object whose key starts with the prefix.
    pub(crate) target: String,
    /// A line for each storage class as listed (`-` where the listing names none): what is
    /// archived, and what each class holds.
    #[arg(short, long)]
    pub(crate) storage_class: bool,
    #[command(flatten)]
    pub(crate) list: ListFlags,
}

impl DuArgs {
    /// The listing `ferry ls -r --summarize` would make, showing only its totals.
    pub(crate) fn listing(self) -> LsArgs {
        LsArgs {
            target: Some(self.target),
            recursive: true,
            storage_class: self.storage_class,
            summarize: true,
            list: self.list,
            totals_only: true,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct StatArgs {
    /// s3://bucket/key, or s3://bucket
    pub(crate) target: String,
    /// This version of the object.
    #[arg(long, value_name = "ID", conflicts_with = "as_of")]
    pub(crate) version_id: Option<String>,
    /// The version that was current at WHEN (a versioned bucket): a time
    /// (2026-12-05T10:00:00Z), a day (2026-12-05, from midnight UTC) or a span back from now
    /// (90m, 12h, 2d, 1w). An object deleted then, or written only later, fails (exit 1).
    #[arg(long, value_name = "WHEN")]
    pub(crate) as_of: Option<String>,
    /// The object's SSE-C key: 32 bytes in base64, or @FILE holding the 32 raw bytes. Never
    /// logged.
    #[arg(long, value_name = "KEY|@FILE")]
    pub(crate) sse_c_key: Option<String>,
    /// One JSON object, every field named (null when the object has none).
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten, next_help_heading = "Bucket")]
    pub(crate) bucket: BucketFlags,
}

#[derive(Debug, Args)]
pub(crate) struct VersioningArgs {
    /// s3://bucket
    pub(crate) target: String,
    /// enable (keep the version each write or deletion replaces) or suspend (keep those
    /// kept, keep no more); without it, show the bucket's versioning.
    #[arg(value_parser = ["enable", "suspend"])]
    pub(crate) state: Option<String>,
    /// One JSON event on stdout.
    #[arg(long)]
    pub(crate) json: bool,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub(crate) quiet: bool,
    #[command(flatten)]
    pub(crate) bucket: BucketFlags,
}

#[derive(Debug, Args)]
pub(crate) struct LockArgs {
    /// s3://bucket/key; with -r, s3://bucket/prefix (every object under prefix/) or
    /// s3://bucket (every object in it); with --default, s3://bucket.
    pub(crate) target: String,
    /// Lock the current version of every object under the prefix, a line each.
    #[arg(short, long)]
    pub(crate) recursive: bool,
    /// The bucket's default retention, rather than an object's lock: with --mode and --until
    /// (a period: 30d, 4w, 7y), every version written later without a retention of its own
    /// gets one that long (those written before keep theirs); --mode none takes it away;
    /// alone, shows it (and whether the bucket has object lock). Setting it turns object lock
    /// on, which S3 allows on a versioned bucket made without it.
    #[arg(
        long,
        conflicts_with_all = ["recursive", "dry_run", "version_id", "legal_hold", "bypass_governance_retention"]
    )]
    pub(crate) default: bool,
    /// Print what would be locked, lock nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// This version of the object (else the current one).
    #[arg(long, value_name = "ID", conflicts_with = "recursive")]
    pub(crate) version_id: Option<String>,
    /// The retention's mode: GOVERNANCE or COMPLIANCE. Needs --until. With --default, none
    /// takes the bucket's default retention away.
    #[arg(long, value_name = "MODE")]
    pub(crate) mode: Option<String>,
    /// Until when: a time (2030-01-01T00:00:00Z), a day (2030-01-01, from midnight UTC), or a
    /// span from now (90d, 12h, 4w, 7y). Anyone allowed may lengthen a retention; shortening
    /// one, or changing its mode, takes GOVERNANCE and --bypass-governance-retention. With
    /// --default, how long from each version's writing: whole days, weeks or years.
    #[arg(long, value_name = "WHEN")]
    pub(crate) until: Option<String>,
    /// The legal hold: ON or OFF.
    #[arg(long, value_name = "ON|OFF")]
    pub(crate) legal_hold: Option<String>,
    /// Shorten or change a GOVERNANCE retention (needs s3:BypassGovernanceRetention).
    #[arg(long)]
    pub(crate) bypass_governance_retention: bool,
    #[command(flatten, next_help_heading = "Bucket")]
    pub(crate) bucket: BucketFlags,
    #[command(flatten, next_help_heading = "With -r")]
    pub(crate) filters: FilterFlags,
    #[command(flatten, next_help_heading = "Output")]
    pub(crate) out: OutputFlags,
}

#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// s3://bucket/key; with -r, s3://bucket/prefix (every archived object under prefix/) or
    /// s3://bucket (every archived object in it).
    pub(crate) target: String,
    /// Restore every archived object under the prefix (its current version), a line each:
    /// those listed as GLACIER or DEEP_ARCHIVE, and those in INTELLIGENT_TIERING that
    /// HeadObject shows in an archive tier; the others are counted as readable.
    #[arg(short, long)]
    pub(crate) recursive: bool,
    /// Days the restored copy stays readable, from the restore's end (for a copy restored
    /// already: from now). Not sent for Intelligent-Tiering, whose objects move back to
    /// their frequent tier.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub(crate) days: u32,
    /// How fast, at what price: Standard (S3's default: 3-5 hours, 12 from Deep Archive),
    /// Bulk (cheapest: 5-12 hours, 48 from Deep Archive) or Expedited (minutes, not from Deep
    /// Archive).
    #[arg(long, value_name = "TIER")]
    pub(crate) tier: Option<String>,
    /// Print what would be restored, restore nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// This version of the object (else the current one).
    #[arg(long, value_name = "ID", conflicts_with = "recursive")]
    pub(crate) version_id: Option<String>,
    #[command(flatten, next_help_heading = "Bucket")]
    pub(crate) bucket: BucketFlags,
    #[command(flatten, next_help_heading = "With -r")]
    pub(crate) filters: FilterFlags,
    #[command(flatten, next_help_heading = "Output")]
    pub(crate) out: OutputFlags,
}

#[derive(Debug, Args)]
pub(crate) struct RmArgs {
    /// s3://bucket/key; several keys of one bucket (s3://bucket/a s3://bucket/b ...), or -
    /// for the s3:// URLs stdin gives, a line each, deleted a thousand a request as they are
    /// read; with -r, s3://bucket/prefix (every object under prefix/) or s3://bucket (every
    /// object in it).
    #[arg(required = true, num_args = 1.., value_name = "TARGET")]
    pub(crate) targets: Vec<String>,
    /// Every object under the prefix, folder markers too.
    #[arg(short, long)]
    pub(crate) recursive: bool,
    /// Print what would be deleted, delete nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Delete this version of the object, for good (in a versioned bucket, a plain delete
    /// leaves the versions behind a delete marker).
    #[arg(long, value_name = "ID", conflicts_with = "recursive")]
    pub(crate) version_id: Option<String>,
    /// Delete every version and delete marker of the object (with -r, of every key under the
    /// prefix), for good: a versioned bucket keeps nothing of it. A line each.
    #[arg(long, conflicts_with = "version_id")]
    pub(crate) all_versions: bool,
    /// With --version-id or --all-versions: delete versions under a GOVERNANCE object lock
    /// retention all the same (needs s3:BypassGovernanceRetention). A COMPLIANCE retention
    /// or a legal hold still refuses.
    #[arg(long)]
    pub(crate) bypass_governance_retention: bool,
    #[command(flatten, next_help_heading = "Bucket")]
    pub(crate) bucket: BucketFlags,
    #[command(flatten, next_help_heading = "With -r")]
    pub(crate) filters: FilterFlags,
    #[command(flatten, next_help_heading = "Output")]
    pub(crate) out: OutputFlags,
}
