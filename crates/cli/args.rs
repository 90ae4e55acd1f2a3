//! Raw command-line flags, as clap parses them. Checks on their values happen in `commands`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Parallel, verified, resumable transfers to and from S3.
#[derive(Debug, Parser)]
#[command(
    name = "ferry",
    version,
    about,
    after_help = "Exit codes: 0 done, 1 failed, 2 bad input (nothing was created), 130 interrupted."
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Cmd,
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// S3 endpoint URL (else AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile, or AWS by region).
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) endpoint_url: Option<String>,
    /// Region (else AWS_REGION, AWS_DEFAULT_REGION, the profile, or us-east-1).
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
    /// More log output on stderr (-v: info, -vv: debug). Secrets are never logged.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Cmd {
    /// Copy a file to S3 (FILE s3://bucket/key) or an object to a file or stdout
    /// (s3://bucket/key FILE|-).
    Cp(CpArgs),
    /// Print a presigned URL that lets anyone holding it GET (or PUT) one object until it
    /// expires.
    Presign(PresignArgs),
    /// Make a bucket.
    Mb {
        /// s3://bucket
        bucket: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct CpArgs {
    /// Source: a local file, or s3://bucket/key.
    pub(crate) src: String,
    /// Destination: s3://bucket/key, or a local file, or - for stdout.
    pub(crate) dst: String,
    /// Content-Type of the new object.
    #[arg(long)]
    pub(crate) content_type: Option<String>,
    /// Refuse to replace an existing destination.
    #[arg(long)]
    pub(crate) no_clobber: bool,
}

impl CpArgs {
    pub(crate) fn local(s: &str) -> Option<PathBuf> {
        (!s.starts_with("s3://") && s != "-").then(|| PathBuf::from(s))
    }
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
