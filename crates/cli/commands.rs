//! The commands: user input checked and turned into requests in one place, then run.
//! Uploads and downloads have modules of their own (`upload`, `download`).

use ferry_s3::{
    AddressingStyle, ClientConfig, CreateBucketRequest, Env, ObjectClient, Overrides, S3Client,
};

use crate::args::{Cli, Cmd, CpArgs, Global, PresignArgs};
use crate::exit::{CliError, bad_input};

pub(crate) async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Cmd::Cp(args) => cp(&cli.global, *args).await,
        Cmd::Mb { bucket, quiet } => mb(&cli.global, &bucket, quiet).await,
        Cmd::Presign(args) => presign(&cli.global, args).await,
        Cmd::Resume { id, state_dir } => resume(&cli.global, id, state_dir).await,
        Cmd::Uploads(cmd) => crate::uploads::run(&cli.global, cmd).await,
    }
}

/// An `s3://bucket/key` location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct S3Url {
    pub(crate) bucket: String,
    pub(crate) key: String,
}

/// Parses `s3://bucket/key` (key may be empty: `s3://bucket` or `s3://bucket/`).
pub(crate) fn parse_s3_url(s: &str) -> Result<S3Url, CliError> {
    let rest = s.strip_prefix("s3://").ok_or_else(|| {
        bad_input(format!(
            "{s:?} is not an S3 location: expected s3://bucket/key"
        ))
    })?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(bad_input(format!(
            "{s:?} has no bucket: expected s3://bucket/key"
        )));
    }
    ferry_s3::validate_bucket(bucket).map_err(bad_input)?;
    Ok(S3Url {
        bucket: bucket.to_string(),
        key: key.to_string(),
    })
}

pub(crate) async fn client(global: &Global) -> Result<S3Client, CliError> {
    let addressing_style = global
        .addressing_style
        .as_deref()
        .map(str::parse::<AddressingStyle>)
        .transpose()
        .map_err(bad_input)?;
    let mut config = ClientConfig::resolve(
        &Env::process(),
        Overrides {
            profile: global.profile.clone(),
            region: global.region.clone(),
            endpoint_url: global.endpoint_url.clone(),
            addressing_style,
            credentials: None,
            ca_bundle: global.ca_bundle.clone(),
            no_verify_tls: global.no_verify_ssl,
        },
    )
    .map_err(bad_input)?;
    for (flag, value, field) in [
        (
            "--connect-timeout",
            global.connect_timeout,
            &mut config.connect_timeout,
        ),
        (
            "--read-timeout",
            global.read_timeout,
            &mut config.read_timeout,
        ),
    ] {
        if let Some(v) = value {
            if !(v > 0.0 && v <= 3600.0) {
                return Err(bad_input(format!("{flag}: give 0.001 to 3600 seconds")));
            }
            *field = std::time::Duration::from_secs_f64(v);
        }
    }
    if global.no_verify_ssl {
        eprintln!(
            "ferry: WARNING: --no-verify-ssl: TLS certificates are NOT verified; anyone on the \
             network path can read and alter this transfer"
        );
    }
    // Find credentials now, so that a missing key is bad input, not a failed transfer.
    config.credentials.credentials().await.map_err(bad_input)?;
    S3Client::new(config).map_err(CliError::from)
}

async fn mb(global: &Global, bucket: &str, quiet: bool) -> Result<(), CliError> {
    let url = parse_s3_url(bucket)?;
    if !url.key.is_empty() {
        return Err(bad_input(format!(
            "{bucket:?} names a key; mb takes s3://bucket"
        )));
    }
    let client = client(global).await?;
    client
        .create_bucket(&CreateBucketRequest {
            bucket: url.bucket.clone(),
        })
        .await?;
    if !quiet {
        println!("make_bucket: s3://{}", url.bucket);
    }
    Ok(())
}

async fn presign(global: &Global, args: PresignArgs) -> Result<(), CliError> {
    let url = parse_s3_url(&args.target)?;
    ferry_s3::validate_key(&url.key).map_err(bad_input)?;
    let method = match args.method.to_ascii_uppercase().as_str() {
        "GET" => http::Method::GET,
        "PUT" => http::Method::PUT,
        other => return Err(bad_input(format!("--method {other:?}: use GET or PUT"))),
    };
    let client = client(global).await?;
    let signed = client
        .presign(
            method,
            &url.bucket,
            &url.key,
            std::time::Duration::from_secs(args.expires_in),
        )
        .await?;
    println!("{signed}");
    Ok(())
}

/// `ferry resume [ID]`: the journal names the file, the destination and the endpoint; the
/// rest (credentials, region) comes from the usual places.
async fn resume(
    global: &Global,
    id: Option<String>,
    state_dir: Option<std::path::PathBuf>,
) -> Result<(), CliError> {
    use ferry_engine::JournalStore as _;
    let dir = state_dir
        .or_else(ferry_engine::FileJournalStore::default_dir)
        .ok_or_else(|| bad_input("no folder for upload journals: set HOME or give --state-dir"))?;
    let store = ferry_engine::FileJournalStore::new(&dir);
    let ids = store.list().map_err(bad_input)?;
    let id = match id {
        Some(id) => id,
        None if ids.len() == 1 => ids[0].clone(),
        None if ids.is_empty() => {
            return Err(bad_input(format!(
                "no interrupted upload in {}",
                dir.display()
            )));
        }
        None => {
            return Err(bad_input(format!(
                "{} interrupted uploads in {}: name one ({})",
                ids.len(),
                dir.display(),
                ids.join(", ")
            )));
        }
    };
    let journal = store
        .peek(&id)
        .map_err(bad_input)?
        .ok_or_else(|| bad_input(format!("no journal {id} in {}", dir.display())))?;
    let mut global = global.clone();
    global.endpoint_url = Some(journal.destination.endpoint.clone());
    let args = CpArgs::for_resume(
        journal.source.path.display().to_string(),
        format!(
            "s3://{}/{}",
            journal.destination.bucket, journal.destination.key
        ),
        dir,
    );
    crate::upload::upload(&global, &args).await
}

async fn cp(global: &Global, args: CpArgs) -> Result<(), CliError> {
    let s3 = |s: &str| s.starts_with("s3://");
    match (s3(&args.src), s3(&args.dst)) {
        (false, true) if args.recursive => crate::tree::upload(global, &args).await,
        (true, false) if args.recursive => crate::tree::download(global, &args).await,
        (true, true) if args.recursive => Err(bad_input(
            "--recursive is for a folder and a prefix; copies between S3 locations take one \
             object",
        )),
        (false, true) => crate::upload::upload(global, &args).await,
        (true, false) => crate::download::download(global, &args).await,
        (true, true) => crate::copy::copy(global, &args).await,
        (false, false) => Err(bad_input(format!(
            "cannot copy {:?} to {:?}: one side must be s3://bucket/key and the other a local path",
            args.src, args.dst
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls() {
        assert_eq!(
            parse_s3_url("s3://bkt/a/b c").unwrap(),
            S3Url {
                bucket: "bkt".into(),
                key: "a/b c".into()
            }
        );
        assert_eq!(parse_s3_url("s3://bkt").unwrap().key, "");
        for bad in ["bkt/key", "s3:/bkt/k", "s3:///k", "s3://a/k", "s3://b!d/k"] {
            assert!(parse_s3_url(bad).is_err(), "{bad}");
        }
    }
}
