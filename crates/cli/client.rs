//! Where requests go: `s3://bucket/key` locations, and the S3 client the global flags
//! describe (endpoint, region, profile, addressing, TLS, timeouts), with credentials found
//! before anything is sent.

use ferry_s3::{AddressingStyle, ClientConfig, Env, Overrides, S3Client};

use crate::args::Global;
use crate::exit::{CliError, bad_input};

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
    if let Some(n) = connections {
        config.pool_size = n;
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
