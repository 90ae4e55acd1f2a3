//! Raw command-line flags, as clap parses them: the commands here (those that list, describe,
//! lock, restore and delete objects in `objects`), the flag groups they share in `flags`. Every check on their values, and their turning into one engine request, happens
//! in `request`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod flags;
mod objects;
pub(crate) use flags::{
    BucketFlags, BudgetFlags, CopyPropsFlag, FilterFlags, GrantFlags, ObjectFlags, OutputFlags,
    Pattern, SourceFlags, ordered_filters,
};
pub(crate) use objects::{DuArgs, LockArgs, LsArgs, RestoreArgs, RmArgs, StatArgs, VersioningArgs};

/// Parallel, verified, resumable transfers to and from S3.
#[derive(Debug, Parser)]
#[command(
    name = "ferry",
    version,
    about,
    after_help = "Exit codes: 0 done, 1 failed, 2 bad input (nothing was created), 8 stopped by --max-transfer, 10 stopped by --max-duration (the same command goes on), 130 interrupted, 141 the reader of stdout stopped reading."
)]
pub(crate) struct Cli {
    /// Under their own heading, so that a command's help lists its own flags first and these
    /// apart, rather than interleaved.
    #[command(flatten, next_help_heading = "Global options")]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Cmd,
}

/// Flags every command takes.
#[derive(Debug, Clone, Args)]
pub(crate) struct Global {
    /// S3 endpoint URL (else AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile, or AWS by region).
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) endpoint_url: Option<String>,
    /// Region (else AWS_REGION, AWS_DEFAULT_REGION, the profile, the EC2 instance's when requests
    /// go to AWS, or us-east-1).
    #[arg(long, global = true)]
    pub(crate) region: Option<String>,
    /// Profile in ~/.aws/config and ~/.aws/credentials (else AWS_PROFILE, or default).
    #[arg(long, global = true)]
    pub(crate) profile: Option<String>,
    /// Bucket addressing: auto, path or virtual.
    #[arg(long, global = true, value_name = "STYLE")]
    pub(crate) addressing_style: Option<String>,
    /// Trust only the CA certificates in this PEM file (else AWS_CA_BUNDLE, the profile's
    /// ca_bundle, or the system's).
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) ca_bundle: Option<PathBuf>,
    /// Do not verify TLS certificates. Unsafe: anyone on the network path can read and alter
    /// the transfer. For test servers with throwaway certificates only.
    #[arg(long, global = true)]
    pub(crate) no_verify_ssl: bool,
    /// Seconds to wait for a connection (default 10).
    #[arg(long, global = true, value_name = "SECONDS")]
    pub(crate) connect_timeout: Option<f64>,
    /// Seconds a request may be silent before it is retried (default 60): neither taking the
    /// next bytes of its body nor answering; an answer's body must also bring at least 1 KiB
    /// in each such window, so a server trickling bytes cannot hold a transfer. A body sent
    /// slowly (under --bwlimit) is not cut off while it flows.
    #[arg(long, global = true, value_name = "SECONDS")]
    pub(crate) read_timeout: Option<f64>,
    /// Attempts per request, the first included, 1 to 100 (else AWS_MAX_ATTEMPTS, the
    /// profile's max_attempts, or 6): a request failing for a cause that may pass (a 5xx, a
    /// throttle, a cut connection) is sent again, after a backoff, until then.
    #[arg(long, global = true, value_name = "N")]
    pub(crate) max_attempts: Option<u32>,
    /// More log output on stderr (-v: info, -vv: debug). Secrets are never logged.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Cmd {
    /// Copy a file to S3 (FILE s3://bucket/key; several, FILE... s3://bucket/prefix) or an
    /// object to a file or stdout (s3://bucket/key FILE|-); -r for folders and prefixes.
    #[command(override_usage = "ferry cp [OPTIONS] <SRC>... <DST>")]
    Cp(Box<CpArgs>),
    /// Move: copy as cp does (files, objects, -r folders and prefixes), then delete each
    /// source once its destination holds it, verified. A source that changed since it was
    /// read is kept (an object is deleted only if its ETag is still the one read, where the
    /// server honours If-Match); folders emptied by a move stay.
    #[command(override_usage = "ferry mv [OPTIONS] <SRC>... <DST>")]
    Mv(Box<CpArgs>),
    /// Make a prefix match a folder, or a folder match a prefix (DIR s3://bucket/prefix or
    /// back): only what differs moves; --delete removes what the source does not hold.
    Sync(Box<SyncArgs>),
    /// Check that a destination holds what a source does (a folder and a prefix, either way,
    /// or two prefixes; a file and an object, or two objects), by content: a line for each
    /// path that differs, is missing or is only in the destination; exit 0 when they match, 1
    /// when they do not. Nothing is moved or deleted.
    Check(Box<CheckArgs>),
    /// Print a presigned URL that lets anyone holding it GET (or PUT) one object until it
    /// expires. Signed for the bucket's region: with none configured, ferry asks the bucket
    /// where it is first.
    Presign(PresignArgs),
    /// Resume an interrupted upload or copy by its journal id (`ferry uploads ls` shows
    /// them); without an id, the only one there is.
    Resume(ResumeArgs),
    /// Multipart uploads in progress on the server (`ls|abort s3://bucket[/prefix]`), or the
    /// ones this machine can resume (`ls` alone).
    #[command(subcommand)]
    Uploads(UploadsCmd),
    /// Show where each setting comes from (profile, region, endpoint, addressing, CA
    /// bundle) and which credentials would be used, with their source and expiry. Never
    /// shows a secret.
    Config,
    /// Read or set an object's access control list (owner and grants).
    #[command(subcommand)]
    Acl(AclCmd),
    /// Plan an upload of one file, or a server-side copy of one object, by several workers
    /// (FILE|s3://… s3://bucket/key --shards N): creates the multipart upload, writes the
    /// plan beside the object, prints where.
    Plan(Box<PlanArgs>),
    /// Finish a planned upload once its workers are done: checks every part, completes the
    /// upload with the combined CRC64NVME, verifies it, deletes the plan.
    Finish(FinishArgs),
    /// List what lies under s3://bucket[/prefix]: one level, the folders below it as PRE
    /// lines (as the aws cli's `s3 ls`), or with -r every object under it; alone, the
    /// buckets.
    Ls(LsArgs),
    /// Count the objects under s3://bucket[/prefix] and their bytes (as s5cmd's du and
    /// rclone's size): the totals only, with -s a line for each storage class.
    Du(DuArgs),
    /// Show what the server holds of one object (HeadObject): its size, time, ETag, stored
    /// checksum, content headers, website redirect, storage class, encryption, version, lock,
    /// tag count and metadata; of s3://bucket, its versioning and object lock.
    Stat(StatArgs),
    /// Show a bucket's versioning, or turn it on (enable) or suspend it (suspend), then show
    /// it as the server holds it.
    Versioning(VersioningArgs),
    /// Set or extend an object's retention under object lock, or set or lift its legal hold,
    /// after it was written (PutObjectRetention, PutObjectLegalHold), then show its lock as
    /// the server holds it; with -r, of every object under a prefix; with --default, set or
    /// show a bucket's default retention
    Lock(Box<LockArgs>),
    /// Restore an archived object (S3 Glacier Flexible Retrieval, Deep Archive, an
    /// Intelligent-Tiering archive tier) so that it can be read: start the restore
    /// (RestoreObject), which takes hours, or keep a restored copy longer; with -r, every
    /// archived object under a prefix. `ferry stat` shows when it is done
    Restore(Box<RestoreArgs>),
    /// Delete an object (s3://bucket/key), several of one bucket, those stdin names (-), or
    /// with -r every object under a prefix.
    Rm(Box<RmArgs>),
    /// Make a bucket.
    Mb {
        /// s3://bucket
        bucket: String,
        /// Make it with object lock (which turns versioning on, for good), so that its
        /// objects may be written with a retention or a legal hold (cp's --object-lock-*).
        #[arg(long)]
        object_lock: bool,
        /// Turn versioning on once it is made: a write or a deletion then keeps the version
        /// it replaces (`ferry rm --version-id`, `--all-versions` reach them).
        #[arg(long)]
        versioning: bool,
        /// Print nothing on success.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Remove an empty bucket; with --force, every object in it first (as rm -r s3://bucket).
    Rb {
        /// s3://bucket
        bucket: String,
        /// Delete every object in the bucket first, when it is not empty. A versioned
        /// bucket's older versions and delete markers are not deleted: such a bucket stays.
        #[arg(long)]
        force: bool,
        /// Print nothing on success.
        #[arg(short, long)]
        quiet: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct CpArgs {
    /// SRC... DST: the source, then the destination. Source: a local file, - for stdin, or
    /// s3://bucket/key; several files of one folder (as a shell's glob gives them: *.iso),
    /// with -r folders too, go up together under the prefix the destination names, each as
    /// the prefix and its name. Destination: s3://bucket/key, a local file, or - for stdout.
    #[arg(required = true, num_args = 1.., value_name = "PATH")]
    pub(crate) paths: Vec<std::ffi::OsString>,
    /// The sources: every path but the last, as text (set once the arguments are parsed; a
    /// name that is not UTF-8 shows U+FFFD where it is not).
    #[arg(skip)]
    pub(crate) sources: Vec<String>,
    /// The first source, as text.
    #[arg(skip)]
    pub(crate) src: String,
    /// The destination, the last path, as text.
    #[arg(skip)]
    pub(crate) dst: String,
    /// The sources as given: a local file's name need not be UTF-8.
    #[arg(skip)]
    pub(crate) source_paths: Vec<std::path::PathBuf>,
    /// The destination as given.
    #[arg(skip)]
    pub(crate) dst_path: std::path::PathBuf,
    /// Copy a whole folder to a prefix (every file under it, the key being the prefix and the
    /// file's path below the folder) or a whole prefix to a folder (every object under it).
    /// Objects run side by side within --concurrency requests in flight.
    #[arg(short, long, help_heading = "Transfer")]
    pub(crate) recursive: bool,
    /// Part size, e.g. 64MiB (5MiB to 5GiB; never changed: too small for the file is an
    /// error naming the smallest that works). By default, 16MiB, raised to fit 10,000 parts.
    /// For a download, the size of each ranged GET (64KiB or more; default 16MiB).
    #[arg(long, value_name = "SIZE", help_heading = "Transfer")]
    pub(crate) part_size: Option<String>,
    #[command(flatten, next_help_heading = "Transfer")]
    pub(crate) budget: BudgetFlags,
    /// Checksum algorithm: crc64nvme (default), crc32, crc32c, sha1, sha256; md5 for
    /// Content-MD5 only; none for no checksum.
    #[arg(long, value_name = "ALG", help_heading = "Transfer")]
    pub(crate) checksum: Option<String>,
    /// Checksum type: full-object (default for CRCs) or composite (SHA1 and SHA256 only).
    #[arg(long, value_name = "TYPE", help_heading = "Transfer")]
    pub(crate) checksum_type: Option<String>,
    /// The exact size of a stream from stdin, in bytes or whole KiB, MiB, GiB or TiB: uniform
    /// parts (some stores need them). A stream of another size fails (exit 1) and stores
    /// nothing; one longer is read no further than a byte past the size.
    #[arg(long, value_name = "SIZE", help_heading = "Transfer")]
    pub(crate) expected_size: Option<String>,
    /// Refuse to replace an existing destination. With -r, each object whose destination
    /// exists is left as it was and counted (named with -v), not failed.
    #[arg(long, help_heading = "Transfer")]
    pub(crate) no_clobber: bool,
    /// Print what would be copied (each object the walk or listing finds and the filters and
    /// --shard let through), copy nothing.
    #[arg(long, help_heading = "Tree (with -r)")]
    pub(crate) dry_run: bool,
    /// Up: pass over each symbolic link below the folder, rather than following it to what it
    /// points at (as the aws cli's flag of that name).
    #[arg(long, help_heading = "Tree (with -r)")]
    pub(crate) no_follow_symlinks: bool,
    /// Down, or prefix to prefix: pass over each archived object (GLACIER, DEEP_ARCHIVE, an
    /// Intelligent-Tiering archive tier) that has no restored copy, with a warning, rather
    /// than fail it (as the aws cli does by default); `ferry restore -r` restores them.
    #[arg(long, help_heading = "Tree (with -r)")]
    pub(crate) skip_archived: bool,
    /// Download: how to check the bytes. auto (the best the object offers: its checksum, else
    /// its MD5 ETag, else the size), require (fail when the object offers no check), none
    /// (size only).
    #[arg(long, value_name = "auto|require|none", help_heading = "Transfer")]
    pub(crate) verify: Option<String>,
    /// When to read (upload) or write (download) the file with O_DIRECT, on ext4, XFS, btrfs
    /// and F2FS, rather than through the page cache. auto (default): when it is bigger than
    /// the kernel's background writeback threshold, past which the page cache slows a
    /// transfer down; always; never.
    #[arg(long, value_name = "auto|always|never", help_heading = "Transfer")]
    pub(crate) direct_io: Option<String>,
    /// Download (or copy) this version of the source object.
    #[arg(
        long,
        value_name = "ID",
        help_heading = "Object",
        conflicts_with = "as_of"
    )]
    pub(crate) version_id: Option<String>,
    /// Download (or copy) the source as it was at WHEN, from its versions (a versioned bucket):
    /// a time (2026-12-05T10:00:00Z), a day (2026-12-05, from midnight UTC) or a span back
    /// from now (90m, 12h, 2d, 1w). With -r, each object's version then; an object deleted
    /// then, or written only later, is left out.
    #[arg(long, value_name = "WHEN", help_heading = "Object")]
    pub(crate) as_of: Option<String>,
    /// Download only part of the object, to stdout (-), as an HTTP range reads it: bytes
    /// FIRST to LAST (inclusive, from 0; the end stops a LAST past it), e.g. 0-1023; FIRST- to
    /// the end; -N the last N bytes. In parallel ranges pinned to one version, checked by
    /// their size.
    #[arg(
        long,
        value_name = "FIRST-LAST",
        help_heading = "Object",
        allow_hyphen_values = true
    )]
    pub(crate) range: Option<String>,
    /// Copy: COPY (default) keeps the source's content headers, metadata and tags; REPLACE
    /// takes them from --content-type, --metadata, --tagging and the like.
    #[arg(long, value_name = "COPY|REPLACE", help_heading = "Copy")]
    pub(crate) metadata_directive: Option<String>,
    #[command(flatten)]
    pub(crate) copy_props: CopyPropsFlag,
    #[command(flatten, next_help_heading = "Copy")]
    pub(crate) source: SourceFlags,
    #[command(flatten, next_help_heading = "Bucket")]
    pub(crate) bucket: BucketFlags,
    /// Where upload journals live (else FERRY_STATE_DIR, $XDG_STATE_HOME/ferry or
    /// ~/.local/state/ferry).
    #[arg(long, value_name = "DIR", help_heading = "Resume")]
    pub(crate) state_dir: Option<PathBuf>,
    /// Take one share of the work: I/N (from 0), or N alone with I from
    /// JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX or SLURM_ARRAY_TASK_ID. With -r, the
    /// paths whose CRC-32 modulo N is I; with --plan, worker I's parts.
    #[arg(long, value_name = "I/N", help_heading = "Scale-out")]
    pub(crate) shard: Option<String>,
    /// Send this worker's parts of the plan `ferry plan` wrote (s3://bucket/key.ferry-plan).
    #[arg(
        long,
        value_name = "PLAN",
        help_heading = "Scale-out",
        requires = "shard"
    )]
    pub(crate) plan: Option<String>,
    /// Abort the interrupted upload of this file to this key, if any, and start fresh (for a
    /// download: ignore the partial file).
    #[arg(long, help_heading = "Resume")]
    pub(crate) restart: bool,
    /// What to do with a failed multipart upload: keep (resume later) or abort. By default,
    /// keep it when it can resume (interrupted, or a transient fault outlasted the retries)
    /// and abort it on a permanent error.
    #[arg(long, value_name = "keep|abort", help_heading = "Resume")]
    pub(crate) on_failure: Option<String>,
    /// Sign every chunk of the body with SigV4 instead of sending it unsigned with a checksum
    /// trailer (costs a SHA-256 of all the data).
    #[arg(long, help_heading = "Transfer")]
    pub(crate) sign_payload: bool,
    #[command(flatten)]
    pub(crate) object: ObjectFlags,
    #[command(flatten, next_help_heading = "Tree (with -r)")]
    pub(crate) filters: FilterFlags,
    #[command(flatten, next_help_heading = "Output")]
    pub(crate) out: OutputFlags,
}

/// A path as the OS gives it, empty too (clap's own path parser refuses an empty one before
/// ferry can say what is wrong with it).
fn any_path() -> impl clap::builder::TypedValueParser<Value = std::path::PathBuf> {
    use clap::builder::TypedValueParser as _;
    clap::builder::OsStringValueParser::new().map(std::path::PathBuf::from)
}

impl CpArgs {
    /// Sets `source_paths` and `dst_path` from the paths given, as given, and `sources`,
    /// `src` and `dst` as their text (one path alone is the request's refusal). One
    /// positional list rather than `SRC... DST`: clap cannot tell a destination from one more
    /// source once an option comes between them.
    pub(crate) fn split_paths(&mut self) {
        let mut paths: Vec<std::path::PathBuf> = std::mem::take(&mut self.paths)
            .into_iter()
            .map(Into::into)
            .collect();
        let text = |p: &std::path::Path| p.to_string_lossy().into_owned();
        self.dst_path = paths.pop().unwrap_or_default();
        self.dst = text(&self.dst_path);
        self.sources = paths.iter().map(|p| text(p)).collect();
        self.src = self.sources.first().cloned().unwrap_or_default();
        self.source_paths = paths;
    }

    /// The first source as given.
    pub(crate) fn src_path(&self) -> &std::path::Path {
        self.source_paths
            .first()
            .map_or(std::path::Path::new(""), |p| p.as_path())
    }
}

#[derive(Debug, Args)]
// A plan holds no secrets, so `--sse-c-key` is refused; hidden from the help, it still meets
// the refusal that says why rather than clap's "unexpected argument".
#[command(mut_arg("sse_c_key", |a| a.hide(true)))]
pub(crate) struct PlanArgs {
    /// The file, at a path every worker can read (shared storage); or s3://bucket/key, an
    /// object to copy on the server (UploadPartCopy ranges).
    #[arg(value_parser = any_path())]
    pub(crate) src: std::path::PathBuf,
    /// s3://bucket/key
    pub(crate) dst: String,
    /// Workers.
    #[arg(long, value_name = "N")]
    pub(crate) shards: u32,
    /// Part size, e.g. 256MiB (by default, ferry's for the file's size).
    #[arg(long, value_name = "SIZE")]
    pub(crate) part_size: Option<String>,
    /// Where to write the plan (else s3://bucket/key.ferry-plan). `uploads ls|abort` look for
    /// a plan beside its object only: a plan elsewhere leaves its upload unmarked, and a bulk
    /// `uploads abort` (--all, --older-than) would take it.
    #[arg(long, value_name = "S3URL")]
    pub(crate) plan_at: Option<String>,
    // What the object carries, set when the plan creates its upload (a planned copy keeps its
    // source's content headers, metadata and tags).
    #[command(flatten)]
    pub(crate) object: ObjectFlags,
    // The bucket's terms, for the plan's requests (each worker and the finish take them too).
    #[command(flatten, next_help_heading = "Bucket")]
    pub(crate) bucket: BucketFlags,
    #[command(flatten, next_help_heading = "Output")]
    pub(crate) out: OutputFlags,
}

#[derive(Debug, Args)]
pub(crate) struct FinishArgs {
    /// The plan: s3://bucket/key.ferry-plan
    pub(crate) plan: String,
    #[command(flatten, next_help_heading = "Bucket")]
    pub(crate) bucket: BucketFlags,
    #[command(flatten, next_help_heading = "Output")]
    pub(crate) out: OutputFlags,
}

#[derive(Debug, Args)]
pub(crate) struct PresignArgs {
    /// s3://bucket/key
    pub(crate) target: String,
    /// Seconds the URL stays valid (1 to 604800).
    #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
    pub(crate) expires_in: u64,
    /// The method the URL allows: GET or PUT.
    #[arg(long, default_value = "GET")]
    pub(crate) method: String,
}

#[derive(Debug, Args)]
pub(crate) struct ResumeArgs {
    /// The journal id (up-…).
    pub(crate) id: Option<String>,
    /// Where upload journals live.
    #[arg(long, value_name = "DIR")]
    pub(crate) state_dir: Option<PathBuf>,
    /// The SSE-C key the upload began with: 32 bytes in base64, or @FILE. Never logged.
    #[arg(long, value_name = "KEY|@FILE")]
    pub(crate) sse_c_key: Option<String>,
    #[command(flatten, next_help_heading = "Copy")]
    pub(crate) source: SourceFlags,
    #[command(flatten, next_help_heading = "Transfer")]
    pub(crate) budget: BudgetFlags,
    #[command(flatten, next_help_heading = "Output")]
    pub(crate) out: OutputFlags,
}

#[derive(Debug, Subcommand)]
pub(crate) enum UploadsCmd {
    /// List uploads in progress under s3://bucket[/prefix], marking those a local journal can
    /// resume and those a plan of workers shares (`ferry plan`); with no target, the uploads
    /// and copies this machine's journals can resume (`ferry resume ID`), asking no server.
    Ls {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        at: UploadsAt,
    },
    /// Abort uploads (and remove their journals): one by id, or all under a prefix, or those
    /// older than an age. One a running ferry is sending (its journal locked) is left alone;
    /// so is one a plan of workers shares, unless named by --upload-id (which removes the
    /// plan too).
    Abort {
        /// The upload to abort.
        #[arg(long, value_name = "ID")]
        upload_id: Option<String>,
        /// Only uploads started longer ago than this (e.g. 7d, 12h).
        #[arg(long, value_name = "AGE")]
        older_than: Option<String>,
        /// Every upload under the prefix.
        #[arg(long)]
        all: bool,
        /// Say what would be aborted, abort nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        at: UploadsAt,
    },
}

/// Where `uploads ls|abort` look: the bucket, the journals that resume uploads here, and
/// the bucket's terms.
#[derive(Debug, Args)]
pub(crate) struct UploadsAt {
    /// s3://bucket[/prefix]; for `abort --upload-id`, s3://bucket/key. `ls` without it lists
    /// the local journals.
    pub(crate) target: Option<String>,
    /// Where upload journals live.
    #[arg(long, value_name = "DIR")]
    pub(crate) state_dir: Option<PathBuf>,
    #[command(flatten, next_help_heading = "Bucket")]
    pub(crate) bucket: BucketFlags,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AclCmd {
    /// Print an object's owner and grants (GetObjectAcl; needs s3:GetObjectAcl).
    Get {
        /// s3://bucket/key
        target: String,
        #[command(flatten)]
        object: AclObject,
        /// The policy as JSON, in the aws cli's shape (what `acl set --policy` takes).
        #[arg(long)]
        json: bool,
    },
    /// Set an object's ACL (PutObjectAcl; needs s3:PutObjectAcl) with exactly one of: a
    /// canned ACL, grant flags, or a policy document.
    Set(Box<AclSetArgs>),
}

/// Which object an ACL command is about, beyond its URL.
#[derive(Debug, Args)]
pub(crate) struct AclObject {
    /// A specific version of the object.
    #[arg(long, value_name = "ID")]
    pub(crate) version_id: Option<String>,
    #[command(flatten)]
    pub(crate) bucket: BucketFlags,
}

#[derive(Debug, Args)]
pub(crate) struct AclSetArgs {
    /// s3://bucket/key
    pub(crate) target: String,
    #[command(flatten)]
    pub(crate) object: AclObject,
    /// A canned ACL: private, public-read, public-read-write, authenticated-read,
    /// aws-exec-read, bucket-owner-read or bucket-owner-full-control.
    #[arg(long, value_name = "CANNED")]
    pub(crate) acl: Option<String>,
    #[command(flatten)]
    pub(crate) grants: GrantFlags,
    /// Grant WRITE (of the object's ACL, PutObjectAcl only).
    #[arg(long, value_name = "GRANTEES")]
    pub(crate) grant_write: Option<String>,
    /// An AccessControlPolicy document: the aws cli's JSON (as `acl get --json` prints it)
    /// or S3's XML.
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
    /// Print nothing on success.
    #[arg(short, long)]
    pub(crate) quiet: bool,
}

#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// Source: a folder, or s3://bucket[/prefix].
    #[arg(value_parser = any_path())]
    pub(crate) src: std::path::PathBuf,
    /// Destination: s3://bucket[/prefix], or a folder.
    #[arg(value_parser = any_path())]
    pub(crate) dst: std::path::PathBuf,
    /// Compare sizes only (not times).
    #[arg(long, conflicts_with = "checksum")]
    pub(crate) size_only: bool,
    /// Compare sizes and contents: a file is read and checked against the object's own
    /// checksum (or MD5 ETag); two objects compare theirs. One HeadObject per same-size pair
    /// (none for a file of 1 MiB or less whose MD5 is the ETag listed).
    #[arg(long)]
    pub(crate) checksum: bool,
    /// Leave every path the destination holds as it is, whatever it holds: send only what it
    /// lacks (as rclone's flag; a write-once archive's rule). Counted as kept.
    #[arg(long)]
    pub(crate) ignore_existing: bool,
    /// Leave a path as the destination holds it when that is newer than the source (a file's
    /// mtime, an object's Last-Modified, in whole seconds), as rclone's and rsync's -u: a
    /// file edited since it came down survives a sync down. Counted as kept.
    #[arg(short = 'u', long)]
    pub(crate) update: bool,
    /// Replace nothing the destination holds: a path it holds otherwise than the source fails,
    /// named (exit 1), rather than being sent, as rclone's flag: a backup whose files never
    /// change says so when one has. What it lacks is still sent.
    #[arg(long)]
    pub(crate) immutable: bool,
    /// Keep what the sync replaces or deletes, each at its path below the destination, in
    /// LOCATION first (as rclone's flag): up and across, s3://bucket/prefix on the
    /// destination's server (objects copied there on the server); down, a folder on the
    /// destination's filesystem (files moved there). Beside the destination, not inside it;
    /// a path whose backup fails is neither replaced nor deleted.
    #[arg(long, value_name = "LOCATION")]
    pub(crate) backup_dir: Option<String>,
    /// With --backup-dir: add SUFFIX to each backup's name (as rclone's flag), e.g.
    /// .$(date +%F), so that the backups of one path from several syncs stand side by side.
    #[arg(
        long,
        value_name = "SUFFIX",
        requires = "backup_dir",
        allow_hyphen_values = true
    )]
    pub(crate) suffix: Option<String>,
    /// With --suffix: put it before the name's extension (a-2026-12-07.txt), as rclone's flag.
    #[arg(long, requires = "suffix")]
    pub(crate) suffix_keep_extension: bool,
    /// Delete from the destination what the source does not hold: only after every transfer
    /// succeeded, never after a listing failed.
    #[arg(long)]
    pub(crate) delete: bool,
    /// Print every action, take none.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Up: pass over each symbolic link below the folder, rather than following it to what it
    /// points at (as the aws cli's flag of that name); with --delete, its object goes, as a
    /// file's that is gone.
    #[arg(long)]
    pub(crate) no_follow_symlinks: bool,
    /// Down, or prefix to prefix: pass over each archived object (GLACIER, DEEP_ARCHIVE, an
    /// Intelligent-Tiering archive tier) that has no restored copy, with a warning, rather
    /// than fail it (as the aws cli does by default); `ferry restore -r` restores them.
    #[arg(long)]
    pub(crate) skip_archived: bool,
    /// With --delete: refuse (exit 1, nothing deleted) when more than N would go. Without it, a
    /// source that holds nothing (a mistyped prefix, an unmounted folder) deletes nothing;
    /// with it, up to N.
    #[arg(long, value_name = "N")]
    pub(crate) max_delete: Option<u64>,
    /// With --delete: delete from the destination what the filters leave out too (the globs,
    /// --files-from, sizes, ages, --exclude-if-present), as rclone's and rsync's flag: the
    /// prefix loses what a new --exclude leaves out. Never another --shard's paths; a marked
    /// folder of a sync down's own is kept. Try it with --dry-run first.
    #[arg(long)]
    pub(crate) delete_excluded: bool,
    /// Make what the destination lacks from what it holds at a path the source no longer has
    /// (a file renamed or moved since the last sync), as rclone's flag. Up, that object is
    /// copied on the server rather than the file sent again (with --delete, the old object
    /// then goes: a rename); down (with --delete), that file is moved rather than the object
    /// fetched. Matched by size, proven by content (the file is read and compared with the
    /// object's checksum or MD5 ETag). What the destination lacks waits until both sides are
    /// listed (up to 100,000 paths; any more are sent as they come).
    #[arg(long)]
    pub(crate) track_renames: bool,
    /// Up: before a file is sent, look at s3://bucket/prefix (an earlier snapshot: beside the
    /// destination, or in another bucket of its server) for the object at its path, and where it is
    /// the same (compared as the sync compares), copy it on the server instead, as rclone's flag:
    /// `sync ~/docs s3://b/2026-12-07 --copy-dest s3://b/2026-12-06` sends only what changed, and
    /// each day's prefix holds every file. One HeadObject for each file to send.
    #[arg(long, value_name = "LOCATION")]
    pub(crate) copy_dest: Option<String>,
    /// Up: before a file the destination lacks is sent, look at s3://bucket/prefix (the last full
    /// snapshot: beside the destination, or in another bucket of its server) for the object at its
    /// path, and where it is the same (compared as the sync compares), do not send the file, as
    /// rclone's flag: `sync ~/docs s3://b/diff-2026-12-07 --compare-dest s3://b/full-2026-12-01`
    /// makes a differential snapshot, holding only what changed since the full one. A file the
    /// destination holds otherwise is sent (rclone leaves it), so no stale object stays there. One
    /// HeadObject for each file to send.
    #[arg(long, value_name = "LOCATION", conflicts_with = "copy_dest")]
    pub(crate) compare_dest: Option<String>,
    /// Do not list the destination: ask it for each path the source holds (a HeadObject; down,
    /// the file's metadata), 64 at a time, as rclone's flag. For a few files sent into a
    /// prefix of millions (with --files-from, --max-age), where the listing costs more than
    /// the transfers. Each path is compared as the sync compares. Not with --delete or
    /// --track-renames, which need what only the destination holds.
    #[arg(long)]
    pub(crate) no_traverse: bool,
    /// Down, or prefix to prefix: make the destination match the source as it was at WHEN,
    /// from its versions (a versioned bucket): a time (2026-12-05T10:00:00Z), a day
    /// (2026-12-05, from midnight UTC) or a span back from now (90m, 12h, 2d, 1w). An object
    /// deleted then, or written only later, is not in the source (with --delete, it goes).
    #[arg(long, value_name = "WHEN")]
    pub(crate) as_of: Option<String>,
    #[command(flatten)]
    pub(crate) filters: FilterFlags,
    /// Part size of uploads and copies, e.g. 64MiB (5MiB to 5GiB; by default 16MiB, raised
    /// to fit 10,000 parts); for downloads, the size of each ranged GET (64KiB or more).
    #[arg(long, value_name = "SIZE", help_heading = "Transfer")]
    pub(crate) part_size: Option<String>,
    #[command(flatten, next_help_heading = "Transfer")]
    pub(crate) budget: BudgetFlags,
    /// Where upload journals live (else FERRY_STATE_DIR, $XDG_STATE_HOME/ferry or
    /// ~/.local/state/ferry).
    #[arg(long, value_name = "DIR", help_heading = "Resume")]
    pub(crate) state_dir: Option<PathBuf>,
    /// Take one share of the paths: I/N (from 0), or N alone with I from
    /// JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX or SLURM_ARRAY_TASK_ID; a path is
    /// shard I's when the CRC-32 of its UTF-8 bytes modulo N is I.
    #[arg(long, value_name = "I/N", help_heading = "Scale-out")]
    pub(crate) shard: Option<String>,
    #[command(flatten)]
    pub(crate) copy_props: CopyPropsFlag,
    #[command(flatten, next_help_heading = "Copy")]
    pub(crate) source: SourceFlags,
    #[command(flatten, next_help_heading = "Bucket")]
    pub(crate) bucket: BucketFlags,
    #[command(flatten)]
    pub(crate) object: ObjectFlags,
    #[command(flatten, next_help_heading = "Output")]
    pub(crate) out: OutputFlags,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// What should be there: a folder or s3://bucket[/prefix]; a file or s3://bucket/key.
    #[arg(value_parser = any_path())]
    pub(crate) src: std::path::PathBuf,
    /// Where it should be: s3://bucket[/prefix] or a folder; s3://bucket/key or a file (a
    /// key ending in / or a folder: the one of the source's name in it).
    #[arg(value_parser = any_path())]
    pub(crate) dst: std::path::PathBuf,
    /// Compare sizes only, not contents: no file is read and no HeadObject asked.
    #[arg(long)]
    pub(crate) size_only: bool,
    /// Read every object back and compare its bytes with the file's (or, two prefixes or
    /// objects, with the other object's), trusting no checksum the server stores: a restore
    /// test, as rclone's `check --download`, and the one comparison for objects that offer no
    /// checksum (under a KMS or customer key). Each object of a same-size pair is downloaded
    /// into memory, in ranges checked against its own checksum when it has one; nothing is
    /// written to disk.
    #[arg(long, conflicts_with = "size_only")]
    pub(crate) download: bool,
    /// Check only that the destination holds what the source does: what only the
    /// destination holds is neither listed nor a mismatch.
    #[arg(long)]
    pub(crate) one_way: bool,
    /// Up: pass over each symbolic link below the folder, rather than following it.
    #[arg(long)]
    pub(crate) no_follow_symlinks: bool,
    /// Down, or prefix to prefix: check against the source as it was at WHEN, from its
    /// versions (a versioned bucket): a time, a day (from midnight UTC) or a span back from
    /// now (90m, 12h, 2d, 1w).
    #[arg(long, value_name = "WHEN")]
    pub(crate) as_of: Option<String>,
    #[command(flatten)]
    pub(crate) filters: FilterFlags,
    #[command(flatten, next_help_heading = "Transfer")]
    pub(crate) budget: BudgetFlags,
    #[command(flatten, next_help_heading = "Copy")]
    pub(crate) source: SourceFlags,
    #[command(flatten, next_help_heading = "Bucket")]
    pub(crate) bucket: BucketFlags,
    /// The objects' SSE-C key, to read their checksums: 32 bytes in base64, or @FILE. Never
    /// logged.
    #[arg(long, value_name = "KEY|@FILE", help_heading = "Encryption")]
    pub(crate) sse_c_key: Option<String>,
    #[command(flatten, next_help_heading = "Output")]
    pub(crate) out: OutputFlags,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// The help of `name`, as `ferry name --help` prints it.
    fn help(name: &str) -> String {
        let mut cli = super::Cli::command();
        cli.find_subcommand_mut(name)
            .unwrap()
            .render_long_help()
            .to_string()
    }

    #[test]
    fn the_flags_are_consistent() {
        super::Cli::command().debug_assert();
    }

    #[test]
    fn the_filter_flags_keep_the_order_they_were_given_in() {
        use super::Pattern::{File, Glob};
        let m = super::Cli::command().get_matches_from([
            "ferry",
            "sync",
            "a",
            "s3://b/p",
            "--include-from",
            "i",
            "--exclude",
            "*.log",
            "--exclude-from",
            "e",
            "--include",
            "keep/*",
            "--exclude-from",
            "f",
        ]);
        let got = super::ordered_filters(&m);
        let want = [
            (true, File("i".into())),
            (false, Glob("*.log".into())),
            (false, File("e".into())),
            (true, Glob("keep/*".into())),
            (false, File("f".into())),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn a_plan_offers_no_customer_key_it_would_refuse() {
        assert!(help("cp").contains("--sse-c-key"));
        let plan = help("plan");
        assert!(plan.contains("--sse-kms-key-id"), "{plan}");
        assert!(!plan.contains("--sse-c-key"), "{plan}");
    }
}
