//! Where requests go: `s3://bucket/key` locations, and the S3 client the global flags
//! describe (endpoint, region, profile, addressing, TLS, timeouts), with credentials found
//! before anything is sent, and the manager that runs transfers through it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_engine::{FileJournalStore, Manager, ManagerConfig, RetryPolicy};
use ferry_s3::{AddressingStyle, ClientConfig, Env, Origins, Overrides, S3Client};

use crate::args::{Global, SourceFlags};
use crate::exit::{CliError, bad_input};
use crate::report::{errln, outln};

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

/// Parses `s3://bucket/key` for `command`, which takes one object: a bucket alone is
/// refused, naming what to give.
pub(crate) fn parse_object_url(s: &str, command: &str) -> Result<S3Url, CliError> {
    let url = parse_s3_url(s)?;
    if url.key.is_empty() {
        return Err(bad_input(format!(
            "{s:?} names no object: {command} takes s3://bucket/key"
        )));
    }
    ferry_s3::validate_key(&url.key).map_err(bad_input)?;
    Ok(url)
}

/// The global flags for a source on another server (or read with other credentials), when
/// a source flag says so: `--source-endpoint-url`, `--source-profile`, `--source-region`.
pub(crate) fn source_global(global: &Global, flags: &SourceFlags) -> Option<Global> {
    let SourceFlags {
        source_endpoint_url,
        source_profile,
        source_region,
        ..
    } = flags;
    if source_endpoint_url.is_none() && source_profile.is_none() && source_region.is_none() {
        return None;
    }
    let mut source = global.clone();
    if let Some(e) = source_endpoint_url {
        source.endpoint_url = Some(e.clone());
    }
    if let Some(p) = source_profile {
        source.profile = Some(p.clone());
    }
    if let Some(r) = source_region {
        source.region = Some(r.clone());
    }
    Some(source)
}

/// The client the global flags describe.
pub(crate) async fn client(global: &Global) -> Result<S3Client, CliError> {
    client_for(global, None).await
}

/// The client the global flags describe, keeping `connections` idle connections (the
/// requests in flight) when given.
pub(crate) async fn client_for(
    global: &Global,
    connections: Option<usize>,
) -> Result<S3Client, CliError> {
    Ok(client_and_origins(global, connections).await?.0)
}

/// As [`client_for`], with where each of its settings came from.
pub(crate) async fn client_and_origins(
    global: &Global,
    connections: Option<usize>,
) -> Result<(S3Client, Origins), CliError> {
    let (mut config, origins) = resolve(global).await?;
    if let Some(n) = connections {
        config.pool_size = n;
    }
    if global.no_verify_ssl {
        errln!(
            "ferry: WARNING: --no-verify-ssl: TLS certificates are NOT verified; anyone on the \
             network path can read and alter this transfer"
        );
    }
    // Find credentials now, so that a missing key is bad input, not a failed transfer.
    config.credentials.credentials().await.map_err(bad_input)?;
    Ok((S3Client::new(config)?, origins))
}

/// The settings the global flags, the environment and the profile files give (and, on an EC2
/// instance with no region configured, the instance's region).
async fn resolve(global: &Global) -> Result<(ClientConfig, Origins), CliError> {
    let addressing_style = global
        .addressing_style
        .as_deref()
        .map(str::parse::<AddressingStyle>)
        .transpose()
        .map_err(bad_input)?;
    let (mut config, origins) = ClientConfig::resolve_with_instance(
        &Env::process(),
        Overrides {
            profile: global.profile.clone(),
            region: global.region.clone(),
            endpoint_url: global.endpoint_url.clone(),
            addressing_style,
            credentials: None,
            ca_bundle: global.ca_bundle.clone(),
            no_verify_tls: global.no_verify_ssl,
            max_attempts: global.max_attempts,
            named_as_options: true,
        },
    )
    .await
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
    Ok((config, origins))
}

/// `ferry config`: each setting, its value and where it came from, as `aws configure list`;
/// then the credentials that would be used: their source, the access key id's last four
/// characters, their expiry. No secret. Exit 2 when no credentials are found.
pub(crate) async fn show_config(global: &Global) -> Result<(), CliError> {
    let (config, o) = resolve(global).await?;
    // As wide as the longest setting (a FIPS dual-stack endpoint is), the expiry's at least.
    let width = [&o.endpoint.0, &o.ca_bundle.0, &o.profile.0]
        .iter()
        .map(|v| v.chars().count())
        .max()
        .unwrap_or(0)
        .max(44);
    let row = |name: &str, value: &str, origin: &str| {
        let value = if value.is_empty() { "-" } else { value };
        outln!("{name:<12} {value:<width$} {origin}");
    };
    row("NAME", "VALUE", "SOURCE");
    row("profile", &o.profile.0, &o.profile.1);
    row("region", &o.region.0, &o.region.1);
    row("endpoint", &o.endpoint.0, &o.endpoint.1);
    row("addressing", &o.addressing_style.0, &o.addressing_style.1);
    row("ca bundle", &o.ca_bundle.0, &o.ca_bundle.1);
    let attempts = config
        .max_attempts
        .unwrap_or(RetryPolicy::default().max_attempts);
    row("attempts", &attempts.to_string(), &o.max_attempts.1);
    let creds = config.credentials.credentials().await.map_err(bad_input)?;
    let id = &creds.access_key_id;
    let tail = id.get(id.len().saturating_sub(4)..).unwrap_or("");
    row(
        "access key",
        &format!("****************{tail}"),
        &creds.source,
    );
    let expiry = match creds.expires_at {
        // A session token makes them temporary keys, whose source did not say until when.
        None if creds.session_token.is_some() => {
            "unknown (temporary keys: a session token, no expiry given)".to_string()
        }
        None => "never (long-term keys)".to_string(),
        Some(t) => {
            let at = crate::report::rfc3339(t);
            match t.duration_since(std::time::SystemTime::now()) {
                Ok(left) => format!("{at} (in {})", crate::report::span(left)),
                Err(_) => format!("{at} (expired)"),
            }
        }
    };
    row("expires", &expiry, "");
    Ok(())
}

/// The folder journals live in: `dir`, else `$FERRY_STATE_DIR`, `$XDG_STATE_HOME/ferry` or
/// `~/.local/state/ferry`.
pub(crate) fn state_dir(dir: Option<PathBuf>) -> Result<PathBuf, CliError> {
    dir.or_else(FileJournalStore::default_dir)
        .ok_or_else(|| bad_input("no folder for journals: set HOME or give --state-dir"))
}

/// The folder journals go in, for a transfer that would keep one: as [`state_dir`], made if
/// need be and found writable. With no folder to be had (no HOME, as under some service
/// managers), or a default one that cannot be written (a read-only home in a container), it
/// runs without journals, and cannot resume, rather than not at all; a folder given
/// (`--state-dir`, `FERRY_STATE_DIR`) that cannot be written is bad input, before anything is
/// sent.
pub(crate) fn journal_dir(dir: Option<PathBuf>) -> Result<Option<PathBuf>, CliError> {
    let given = dir.is_some() || std::env::var_os("FERRY_STATE_DIR").is_some_and(|d| !d.is_empty());
    let Ok(found) = state_dir(dir) else {
        tracing::warn!(
            "no folder for journals (set HOME or give --state-dir): this transfer cannot resume \
             if it is cut off"
        );
        return Ok(None);
    };
    match writable(&found) {
        Ok(()) => Ok(Some(found)),
        Err(e) if given => Err(bad_input(format!(
            "cannot keep journals in {}: {e}; give a folder ferry can write (--state-dir or \
             FERRY_STATE_DIR)",
            found.display()
        ))),
        Err(e) => {
            tracing::warn!(
                "cannot keep journals in {} ({e}): this transfer cannot resume if it is cut \
                 off; give --state-dir for a folder ferry can write",
                found.display()
            );
            Ok(None)
        }
    }
}

/// Makes `dir` (0700) if it is not there, and checks a file can be made in it.
fn writable(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let probe = dir.join(format!(".ferry-probe-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&probe)?;
    std::fs::remove_file(&probe)
}

/// A manager through `client` with `config` (its attempts per request as the client's
/// settings configure them), journaling in `journal` when given.
pub(crate) fn manager(
    client: S3Client,
    mut config: ManagerConfig,
    journal: Option<PathBuf>,
) -> Result<Manager<S3Client>, CliError> {
    if let Some(n) = client.config().max_attempts {
        config.retry.max_attempts = n;
    }
    config.journal = journal.map(|d| Arc::new(FileJournalStore::new(d)) as _);
    let manager = Manager::new(Arc::new(client), config).map_err(bad_input)?;
    crate::bwlimit::follow(&manager);
    Ok(manager)
}

/// A manager with the default budgets and no journal, for a command that only sends requests
/// (`ls`, `rm`, `stat`, `acl`, `mb`, `rb`): each in a slot, retried as a transfer's are.
pub(crate) async fn plain_manager(global: &Global) -> Result<Manager<S3Client>, CliError> {
    manager(client(global).await?, ManagerConfig::default(), None)
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
