//! Client settings, and how they are resolved from explicit values, the environment and the
//! shared profile files, in the order the AWS CLI uses.
//!
//! Owns: region, endpoint URL, addressing style, credentials chain, timeouts, pool size,
//! attempts per request.

use std::sync::Arc;
use std::time::Duration;

use crate::credentials::{
    ChainProvider, ChainSettings, Credentials, SharedCredentialProvider, StaticProvider,
};
use crate::endpoint::{AddressError, AddressingStyle, AwsVariant, Endpoint};
use crate::profile::{Env, ProfileSet};

/// The region used when none is configured anywhere (what S3-compatible servers expect).
pub const DEFAULT_REGION: &str = "us-east-1";

/// The origin of a setting that nothing configures.
const DEFAULTED: &str = "default";

/// The most attempts per request that may be configured.
const MAX_ATTEMPTS: u32 = 100;

/// Settings of an S3 client. Build with [`ClientConfig::resolve`] or field by field.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Where requests go.
    pub endpoint: Endpoint,
    /// Signing region.
    pub region: String,
    /// Path-style or virtual-hosted. By default, [`AddressingStyle::Auto`].
    pub addressing_style: AddressingStyle,
    /// Where credentials come from.
    pub credentials: SharedCredentialProvider,
    /// Time to establish a connection. By default, 10 s.
    pub connect_timeout: Duration,
    /// Longest silence of a request: sending, no body bytes taken and no answer; reading, less
    /// than 1 KiB of the answer's body. A body that flows, however slowly, is never cut off
    /// for its length. By default, 60 s.
    pub read_timeout: Duration,
    /// Idle connections kept per host; size it to the requests in flight (fewer, and
    /// connections are closed and opened again, a round trip each). By default, 128.
    pub pool_size: usize,
    /// Root certificates (PEM) to trust instead of the system's, as the AWS CLI's
    /// `--ca-bundle` does.
    pub ca_bundle_pem: Option<Vec<u8>>,
    /// Verify TLS certificates. By default, `true`; `false` only for tests against servers
    /// with throwaway certificates: anyone on the path can then read and alter the transfer.
    pub verify_tls: bool,
    /// Attempts per request, the first included, as configured (`AWS_MAX_ATTEMPTS`, the
    /// profile's `max_attempts`), for whatever retries requests (ferry-engine's
    /// `RetryPolicy::max_attempts`); `None`: not configured, the retrier's default.
    pub max_attempts: Option<u32>,
}

/// What the caller (e.g. the command line) says explicitly; `None` means "look it up". Each
/// is what the AWS CLI option of that name sets.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// The profile (`--profile`).
    pub profile: Option<String>,
    /// The region (`--region`).
    pub region: Option<String>,
    /// The endpoint URL (`--endpoint-url`).
    pub endpoint_url: Option<String>,
    /// Path-style or virtual-hosted (`--addressing-style`).
    pub addressing_style: Option<AddressingStyle>,
    /// Fixed credentials, instead of the chain.
    pub credentials: Option<Credentials>,
    /// The CA bundle (`--ca-bundle`; else `AWS_CA_BUNDLE`, else the profile's `ca_bundle`).
    pub ca_bundle: Option<std::path::PathBuf>,
    /// Do not verify TLS certificates (`--no-verify-ssl`).
    pub no_verify_tls: bool,
    /// Attempts per request (`--max-attempts`; else `AWS_MAX_ATTEMPTS`, else the profile's
    /// `max_attempts`).
    pub max_attempts: Option<u32>,
    /// Where a setting's origin is told ([`Origins`], [`ConfigError::NoSuchProfile`]), name
    /// a value given here by its option (`--region`), as a command line that takes those
    /// options does; by default, [`GIVEN`].
    pub named_as_options: bool,
}

/// The origin of a setting given in [`Overrides`], unless they are named as options.
pub const GIVEN: &str = "given by the program";

/// Why a configuration could not be resolved.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The shared files could not be read or parsed.
    #[error("AWS config files: {0}")]
    Files(String),
    /// A profile other than `default`, named by [`Overrides`] or `AWS_PROFILE`, that no file
    /// defines: its region and endpoint would be silently left out (the aws cli refuses it
    /// too).
    #[error("profile {profile:?} ({named_by}) is not defined in {files}")]
    NoSuchProfile {
        /// The profile name.
        profile: String,
        /// What named it: `AWS_PROFILE`, or [`GIVEN`] (`--profile` for a command line).
        named_by: String,
        /// The files that were read.
        files: String,
    },
    /// The endpoint or addressing style is unusable.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// A setting has an unusable value.
    #[error("{0}")]
    Invalid(String),
}

impl ClientConfig {
    /// Resolves settings: explicit values first, then the environment (`AWS_REGION`,
    /// `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, `AWS_PROFILE`), then the
    /// profile in the shared files (`region`, `endpoint_url`, `s3.endpoint_url`,
    /// `s3.addressing_style`, or a `[services]` section), then defaults.
    /// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true` ignores configured endpoints, as the AWS CLI.
    /// AWS's endpoint is of the kind `AWS_USE_FIPS_ENDPOINT` and `AWS_USE_DUALSTACK_ENDPOINT`
    /// (or the profile's `use_fips_endpoint`, `use_dualstack_endpoint`) and the profile's
    /// `s3.use_accelerate_endpoint` choose; any with an endpoint URL is an error, as the SDKs
    /// make it.
    pub fn resolve(env: &Env, overrides: Overrides) -> Result<Self, ConfigError> {
        Self::resolve_explained(env, overrides).map(|(c, _)| c)
    }

    /// [`resolve`](Self::resolve), also saying where each setting came from (for `ferry
    /// config`, as `aws configure list`).
    pub fn resolve_explained(
        env: &Env,
        overrides: Overrides,
    ) -> Result<(Self, Origins), ConfigError> {
        Self::resolve_from(env, overrides, None)
    }

    /// [`resolve_explained`](Self::resolve_explained), and when no region is configured and
    /// requests go to AWS, the region of the EC2 instance this runs on, from its metadata
    /// service (IMDSv2), as the AWS CLI v2 and the SDKs take it. Asked only on an instance
    /// (its firmware says so, or `AWS_EC2_METADATA_SERVICE_ENDPOINT` names the service) and
    /// unless `AWS_EC2_METADATA_DISABLED=true`; one attempt, within 2 s. No answer leaves
    /// [`DEFAULT_REGION`]. Without it, requests to a bucket in another region still find it
    /// (each client learns a bucket's region from the refusal), but only over a route to
    /// `us-east-1`'s endpoint, which an instance in a private subnet may not have.
    pub async fn resolve_with_instance(
        env: &Env,
        overrides: Overrides,
    ) -> Result<(Self, Origins), ConfigError> {
        let (config, origins) = Self::resolve_from(env, overrides.clone(), None)?;
        let to_aws = config
            .endpoint
            .for_region(&config.region, &config.region)
            .is_some();
        if !(origins.region_defaulted() && to_aws && crate::instance::may_ask(env)) {
            return Ok((config, origins));
        }
        let settings = ChainSettings {
            region: None,
            ca_bundle_pem: config.ca_bundle_pem.clone(),
            no_verify_tls: !config.verify_tls,
        };
        match crate::instance::region(settings).await {
            Some(region) => Self::resolve_from(env, overrides, Some(region)),
            None => {
                // Said by `ferry config`, for an instance whose service does not answer.
                let mut origins = origins;
                origins.region.1 = format!(
                    "{DEFAULTED} ({} gave no region)",
                    crate::instance::described(env)
                );
                Ok((config, origins))
            }
        }
    }

    /// The resolution, with the instance's region (when asked) last before the default.
    fn resolve_from(
        env: &Env,
        overrides: Overrides,
        instance_region: Option<String>,
    ) -> Result<(Self, Origins), ConfigError> {
        let files = ProfileSet::load(env).map_err(ConfigError::Files)?;
        let (creds_file, config_file) = ProfileSet::paths(env);
        let show = |p: &Option<std::path::PathBuf>| {
            p.as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        };
        // A value given explicitly: named by its option, or as given.
        let given = |option: &str| match overrides.named_as_options {
            true => option.to_string(),
            false => GIVEN.to_string(),
        };
        let (profile, profile_origin) = first([
            (overrides.profile.clone(), given("--profile")),
            (env.var("AWS_PROFILE"), "AWS_PROFILE".into()),
            (Some("default".into()), DEFAULTED.into()),
        ]);
        let named = overrides.profile.is_some() || profile_origin == "AWS_PROFILE";
        if named && profile != "default" && !files.has_profile(&profile) {
            return Err(ConfigError::NoSuchProfile {
                profile,
                named_by: profile_origin,
                files: format!("{} or {}", show(&creds_file), show(&config_file)),
            });
        }
        let in_profile = format!("profile {profile} in {}", show(&config_file));
        let (region, region_origin) = first([
            (overrides.region.clone(), given("--region")),
            (env.var("AWS_REGION"), "AWS_REGION".into()),
            (env.var("AWS_DEFAULT_REGION"), "AWS_DEFAULT_REGION".into()),
            (files.get(&profile, "region"), in_profile.clone()),
            (instance_region, crate::instance::described(env)),
            (Some(DEFAULT_REGION.into()), DEFAULTED.into()),
        ]);
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(ConfigError::Invalid(format!(
                "invalid region {region:?}: expected e.g. us-east-1"
            )));
        }
        let ignore_configured = env
            .var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let configured = |v: Option<String>| v.filter(|_| !ignore_configured);
        let (url, endpoint_origin) = first([
            (overrides.endpoint_url.clone(), given("--endpoint-url")),
            (
                configured(env.var("AWS_ENDPOINT_URL_S3")),
                "AWS_ENDPOINT_URL_S3".into(),
            ),
            (
                configured(env.var("AWS_ENDPOINT_URL")),
                "AWS_ENDPOINT_URL".into(),
            ),
            (
                configured(files.get_s3(&profile, "endpoint_url")),
                format!("s3 endpoint_url of {in_profile}"),
            ),
            (
                configured(files.get(&profile, "endpoint_url")),
                format!("endpoint_url of {in_profile}"),
            ),
            (Some(String::new()), format!("AWS, region {region}")),
        ]);
        let (endpoint, endpoint_origin) = endpoint_of(
            env,
            (&files, &profile, &in_profile),
            &region,
            (url, endpoint_origin),
        )?;
        let (addressing_style, addressing_origin) = match overrides.addressing_style {
            Some(s) => (s, given("--addressing-style")),
            None => match files.get_s3(&profile, "addressing_style") {
                Some(s) => (
                    s.parse().map_err(ConfigError::Invalid)?,
                    format!("s3 addressing_style of {in_profile}"),
                ),
                None => (AddressingStyle::Auto, DEFAULTED.into()),
            },
        };
        let (ca_bundle, ca_bundle_origin) = first([
            (
                overrides.ca_bundle.clone().map(|p| p.display().to_string()),
                given("--ca-bundle"),
            ),
            (env.var("AWS_CA_BUNDLE"), "AWS_CA_BUNDLE".into()),
            (files.get(&profile, "ca_bundle"), in_profile.clone()),
            (Some(String::new()), "the system's roots".into()),
        ]);
        let ca_bundle_pem =
            match ca_bundle.as_str() {
                "" => None,
                path => Some(std::fs::read(path).map_err(|e| {
                    ConfigError::Invalid(format!("cannot read CA bundle {path}: {e}"))
                })?),
            };
        let (attempts, attempts_origin) = first([
            (
                overrides.max_attempts.map(|n| n.to_string()),
                given("--max-attempts"),
            ),
            (env.var("AWS_MAX_ATTEMPTS"), "AWS_MAX_ATTEMPTS".into()),
            (files.get(&profile, "max_attempts"), in_profile.clone()),
            (Some(String::new()), DEFAULTED.into()),
        ]);
        let max_attempts = match attempts.as_str() {
            "" => None,
            n => Some(
                n.trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=MAX_ATTEMPTS).contains(n))
                    .ok_or_else(|| {
                        ConfigError::Invalid(format!(
                            "invalid max_attempts {n:?} ({attempts_origin}): give a whole \
                             number from 1 (no retries) to {MAX_ATTEMPTS}"
                        ))
                    })?,
            ),
        };
        let credentials: SharedCredentialProvider = match overrides.credentials {
            Some(c) => Arc::new(StaticProvider::new(c)),
            None => Arc::new(ChainProvider::with_settings(
                env.clone(),
                overrides.profile.as_deref(),
                ChainSettings {
                    region: Some(region.clone()),
                    ca_bundle_pem: ca_bundle_pem.clone(),
                    no_verify_tls: overrides.no_verify_tls,
                },
            )),
        };
        let origins = Origins {
            profile: (profile, profile_origin),
            region: (region.clone(), region_origin),
            endpoint: (endpoint.url(), endpoint_origin),
            addressing_style: (addressing_style.name().to_string(), addressing_origin),
            ca_bundle: (ca_bundle, ca_bundle_origin),
            max_attempts: (attempts, attempts_origin),
        };
        let config = Self {
            endpoint,
            region,
            addressing_style,
            credentials,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            pool_size: 128,
            ca_bundle_pem,
            verify_tls: !overrides.no_verify_tls,
            max_attempts,
        };
        Ok((config, origins))
    }
}

/// Each resolved setting with where it came from (a flag, a variable, a profile in a file,
/// a default), as `aws configure list` shows them.
#[derive(Debug, Clone)]
pub struct Origins {
    /// The profile in use.
    pub profile: (String, String),
    /// The region.
    pub region: (String, String),
    /// The endpoint.
    pub endpoint: (String, String),
    /// The addressing style.
    pub addressing_style: (String, String),
    /// The CA bundle's path (empty: the system's roots).
    pub ca_bundle: (String, String),
    /// Attempts per request (empty: not configured).
    pub max_attempts: (String, String),
}

impl Origins {
    /// Whether the region is [`DEFAULT_REGION`] for want of any setting: no flag, variable or
    /// profile names one.
    pub fn region_defaulted(&self) -> bool {
        self.region.1.starts_with(DEFAULTED)
    }

    /// Whether a flag, a variable or the profile names the region: neither defaulted nor
    /// the EC2 instance's own (which says where ferry runs, not where a bucket is).
    pub fn region_configured(&self) -> bool {
        !self.region_defaulted() && !self.region.1.starts_with(crate::instance::NAME)
    }
}

/// The endpoint, with where it came from: `url` when one is configured, else AWS's for
/// `region`, of the kind the AWS CLI's settings choose (the variable, else the profile):
/// FIPS (`AWS_USE_FIPS_ENDPOINT`, `use_fips_endpoint`), dual-stack
/// (`AWS_USE_DUALSTACK_ENDPOINT`, `s3.use_dualstack_endpoint` or `use_dualstack_endpoint`), or
/// Transfer Acceleration (`s3.use_accelerate_endpoint`: one global endpoint, dual-stack or
/// not). Any of them with an endpoint URL is refused, as the SDKs refuse it, and so are FIPS
/// with acceleration, and either in China, where AWS has neither.
fn endpoint_of(
    env: &Env,
    (files, profile, in_profile): (&ProfileSet, &str, &str),
    region: &str,
    (url, origin): (String, String),
) -> Result<(Endpoint, String), ConfigError> {
    let flag = |var: Option<&str>, key: &str, s3: bool| -> Result<Option<String>, ConfigError> {
        let (value, origin) = first([
            (
                var.and_then(|v| env.var(v)),
                var.unwrap_or_default().to_string(),
            ),
            (
                files.get_s3(profile, key).filter(|_| s3),
                format!("s3 {key} of {in_profile}"),
            ),
            (
                files.get(profile, key).filter(|_| var.is_some()),
                format!("{key} of {in_profile}"),
            ),
            (Some("false".into()), DEFAULTED.into()),
        ]);
        match value.to_ascii_lowercase().as_str() {
            "true" => Ok(Some(origin)),
            "false" => Ok(None),
            _ => Err(ConfigError::Invalid(format!(
                "{origin}: {value:?} is neither true nor false"
            ))),
        }
    };
    let fips = flag(Some("AWS_USE_FIPS_ENDPOINT"), "use_fips_endpoint", false)?;
    let dualstack = flag(
        Some("AWS_USE_DUALSTACK_ENDPOINT"),
        "use_dualstack_endpoint",
        true,
    )?;
    let accelerate = flag(None, "use_accelerate_endpoint", true)?;
    let asked = [
        ("FIPS", &fips),
        ("dual-stack", &dualstack),
        ("Transfer Acceleration", &accelerate),
    ]
    .into_iter()
    .filter_map(|(what, origin)| Some(format!("{what} ({})", origin.as_ref()?)))
    .collect::<Vec<_>>();
    let refused = |why: String| Err(ConfigError::Invalid(why));
    if !url.is_empty() {
        if !asked.is_empty() {
            // A custom endpoint is no AWS endpoint to choose a kind of.
            return refused(format!(
                "{origin} names the endpoint, and {} asks for one of AWS's: give one or the \
                 other",
                asked.join(" and ")
            ));
        }
        return Ok((Endpoint::custom(&url)?, origin));
    }
    let china = region.starts_with("cn-");
    match (&fips, &accelerate) {
        (Some(f), Some(a)) => {
            return refused(format!(
                "{f} asks for a FIPS endpoint and {a} for Transfer Acceleration, which has none"
            ));
        }
        (Some(o), None) | (None, Some(o)) if china => {
            return refused(format!(
                "{o} asks for an endpoint AWS does not have in {region}"
            ));
        }
        _ => {}
    }
    let kind: String = asked.iter().map(|a| format!(", {a}")).collect();
    let origin = format!("{origin}{kind}");
    if accelerate.is_some() {
        let stack = if dualstack.is_some() {
            ".dualstack"
        } else {
            ""
        };
        let url = format!("https://s3-accelerate{stack}.amazonaws.com");
        return Ok((Endpoint::custom(&url)?, origin));
    }
    let variant = AwsVariant {
        fips: fips.is_some(),
        dualstack: dualstack.is_some(),
    };
    Ok((Endpoint::aws_variant(region, variant), origin))
}

/// The first value given, with where it came from.
fn first<const N: usize>(candidates: [(Option<String>, String); N]) -> (String, String) {
    candidates
        .into_iter()
        .find_map(|(v, origin)| v.map(|v| (v, origin)))
        .expect("the last candidate is a default")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_with_files(vars: &[(&str, &str)], config: &str) -> (Env, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config");
        std::fs::write(&cfg, config).unwrap();
        let mut map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.insert("AWS_CONFIG_FILE".into(), cfg.display().to_string());
        map.insert(
            "AWS_SHARED_CREDENTIALS_FILE".into(),
            dir.path().join("credentials").display().to_string(),
        );
        (Env::from_map(map), dir)
    }

    const CONFIG: &str = "[default]\nregion = eu-central-1\n\n[profile minio]\nregion = us-west-1\nendpoint_url = http://127.0.0.1:9000\ns3 =\n  addressing_style = virtual\n";

    #[test]
    fn a_profile_named_that_no_file_defines_is_refused_but_default() {
        let refused = |vars: &[(&str, &str)], flag: Option<&str>| {
            let (env, _d) = env_with_files(vars, CONFIG);
            let o = Overrides {
                profile: flag.map(str::to_string),
                ..Default::default()
            };
            ClientConfig::resolve(&env, o).err().map(|e| e.to_string())
        };
        let e = refused(&[("AWS_PROFILE", "minoi")], None).unwrap();
        assert!(
            e.starts_with("profile \"minoi\" (AWS_PROFILE) is not defined in"),
            "{e}"
        );
        let e = refused(&[("AWS_PROFILE", "minio")], Some("prod")).unwrap();
        assert!(
            e.starts_with("profile \"prod\" (given by the program) is not defined in"),
            "{e}"
        );
        assert_eq!(refused(&[("AWS_PROFILE", "minio")], None), None);
        // `default` may be absent: it holds what is not set elsewhere, here nothing.
        let (env, _d) = env_with_files(&[("AWS_PROFILE", "default")], "");
        assert!(ClientConfig::resolve(&env, Overrides::default()).is_ok());
    }

    /// As the AWS CLI: the variables, else the profile (dual-stack: its `s3` setting too;
    /// acceleration: that alone); the kind goes with the region, is shown where it came from,
    /// and is refused with a custom endpoint, FIPS in China or with acceleration, and for a
    /// value other than true or false.
    #[test]
    fn fips_dual_stack_and_accelerated_endpoints() {
        let gov = "[default]\nregion = us-gov-west-1\nuse_fips_endpoint = true\n\n\
                   [profile v6]\nregion = eu-west-1\ns3 =\n  use_dualstack_endpoint = true\n";
        let resolved = |vars: &[(&str, &str)]| {
            let (env, _d) = env_with_files(vars, gov);
            ClientConfig::resolve_explained(&env, Overrides::default())
                .map(|(c, o)| (c.endpoint.url(), o.endpoint.1))
                .map_err(|e| e.to_string())
        };
        let (url, origin) = resolved(&[]).unwrap();
        assert_eq!(url, "https://s3-fips.us-gov-west-1.amazonaws.com");
        assert!(
            origin.starts_with("AWS, region us-gov-west-1, FIPS (use_fips_endpoint of profile"),
            "{origin}"
        );
        let (url, _) = resolved(&[("AWS_USE_FIPS_ENDPOINT", "false")]).unwrap();
        assert_eq!(url, "https://s3.us-gov-west-1.amazonaws.com");
        let (url, origin) = resolved(&[("AWS_PROFILE", "v6")]).unwrap();
        assert_eq!(url, "https://s3.dualstack.eu-west-1.amazonaws.com");
        assert!(
            origin.contains("dual-stack (s3 use_dualstack_endpoint of profile v6"),
            "{origin}"
        );
        let both = [("AWS_PROFILE", "v6"), ("AWS_USE_FIPS_ENDPOINT", "TRUE")];
        let (url, _) = resolved(&both).unwrap();
        assert_eq!(url, "https://s3-fips.dualstack.eu-west-1.amazonaws.com");
        let (url, _) = resolved(&[
            ("AWS_REGION", "cn-north-1"),
            ("AWS_USE_FIPS_ENDPOINT", "false"),
            ("AWS_USE_DUALSTACK_ENDPOINT", "true"),
        ])
        .unwrap();
        assert_eq!(url, "https://s3.dualstack.cn-north-1.amazonaws.com.cn");
        let e = resolved(&[("AWS_REGION", "cn-north-1")]).unwrap_err();
        assert!(
            e.contains("an endpoint AWS does not have in cn-north-1"),
            "{e}"
        );
        let e = resolved(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")]).unwrap_err();
        assert!(
            e.starts_with("AWS_ENDPOINT_URL names the endpoint, and FIPS ("),
            "{e}"
        );
        // Transfer Acceleration: one global endpoint, dual-stack or not; never with FIPS.
        let fast = "[default]\nregion = eu-west-1\ns3 =\n  use_accelerate_endpoint = true\n";
        let accelerated = |vars: &[(&str, &str)]| {
            let (env, _d) = env_with_files(vars, fast);
            ClientConfig::resolve(&env, Overrides::default())
                .map(|c| c.endpoint.url())
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            accelerated(&[]).unwrap(),
            "https://s3-accelerate.amazonaws.com"
        );
        assert_eq!(
            accelerated(&[("AWS_USE_DUALSTACK_ENDPOINT", "true")]).unwrap(),
            "https://s3-accelerate.dualstack.amazonaws.com"
        );
        let e = accelerated(&[("AWS_USE_FIPS_ENDPOINT", "true")]).unwrap_err();
        assert!(
            e.contains("for Transfer Acceleration, which has none"),
            "{e}"
        );
        let e = resolved(&[("AWS_USE_DUALSTACK_ENDPOINT", "yes")]).unwrap_err();
        assert!(e.contains("\"yes\" is neither true nor false"), "{e}");
    }

    #[test]
    fn region_precedence() {
        let (env, _d) = env_with_files(&[], CONFIG);
        let c = ClientConfig::resolve(&env, Overrides::default()).unwrap();
        assert_eq!(c.region, "eu-central-1");
        assert_eq!(c.endpoint.url(), "https://s3.eu-central-1.amazonaws.com");

        let (env, _d) = env_with_files(&[("AWS_DEFAULT_REGION", "ap-south-1")], CONFIG);
        assert_eq!(
            ClientConfig::resolve(&env, Overrides::default())
                .unwrap()
                .region,
            "ap-south-1"
        );
        let (env, _d) = env_with_files(
            &[
                ("AWS_DEFAULT_REGION", "ap-south-1"),
                ("AWS_REGION", "sa-east-1"),
            ],
            CONFIG,
        );
        assert_eq!(
            ClientConfig::resolve(&env, Overrides::default())
                .unwrap()
                .region,
            "sa-east-1"
        );
        let o = Overrides {
            region: Some("us-east-2".into()),
            ..Default::default()
        };
        assert_eq!(ClientConfig::resolve(&env, o).unwrap().region, "us-east-2");
        let (env, _d) = env_with_files(&[], "");
        assert_eq!(
            ClientConfig::resolve(&env, Overrides::default())
                .unwrap()
                .region,
            DEFAULT_REGION
        );
    }

    #[test]
    fn the_instance_region_comes_after_every_setting_and_is_not_a_configured_one() {
        let from = |vars: &[(&str, &str)], config: &str| {
            let (env, _d) = env_with_files(vars, config);
            let instance = Some("eu-west-3".to_string());
            ClientConfig::resolve_from(&env, Overrides::default(), instance).unwrap()
        };
        let (c, o) = from(&[], "");
        assert_eq!(c.region, "eu-west-3");
        assert_eq!(c.endpoint.url(), "https://s3.eu-west-3.amazonaws.com");
        assert!(
            o.region.1.starts_with("instance metadata (IMDSv2 at "),
            "{o:?}"
        );
        assert!(!o.region_defaulted() && !o.region_configured());
        let (c, o) = from(&[("AWS_REGION", "sa-east-1")], "");
        assert_eq!(c.region, "sa-east-1");
        assert!(o.region_configured());
        let (c, o) = from(&[], CONFIG);
        assert_eq!(c.region, "eu-central-1");
        assert!(o.region_configured());
        let (env, _d) = env_with_files(&[], "");
        let (_, o) = ClientConfig::resolve_explained(&env, Overrides::default()).unwrap();
        assert!(o.region_defaulted() && !o.region_configured());
    }

    #[test]
    fn endpoint_precedence() {
        let (env, _d) = env_with_files(&[("AWS_PROFILE", "minio")], CONFIG);
        let c = ClientConfig::resolve(&env, Overrides::default()).unwrap();
        assert_eq!(c.endpoint.url(), "http://127.0.0.1:9000");
        assert_eq!(c.region, "us-west-1");
        assert_eq!(c.addressing_style, AddressingStyle::Virtual);

        // AWS_ENDPOINT_URL beats the profile's; AWS_ENDPOINT_URL_S3 beats both.
        let general = ("AWS_ENDPOINT_URL", "http://127.0.0.2:1");
        let s3 = ("AWS_ENDPOINT_URL_S3", "http://127.0.0.3:2");
        for (vars, want) in [
            (vec![("AWS_PROFILE", "minio"), general], general.1),
            (vec![general, s3], s3.1),
        ] {
            let (env, _d) = env_with_files(&vars, CONFIG);
            let c = ClientConfig::resolve(&env, Overrides::default()).unwrap();
            assert_eq!(c.endpoint.url(), want, "{vars:?}");
        }
        let (env, _d) = env_with_files(&[general, s3], CONFIG);
        let o = Overrides {
            endpoint_url: Some("http://localhost:7".into()),
            ..Default::default()
        };
        assert_eq!(
            ClientConfig::resolve(&env, o).unwrap().endpoint.url(),
            "http://localhost:7"
        );
        let (env, _d) = env_with_files(
            &[
                ("AWS_ENDPOINT_URL_S3", "http://127.0.0.3:2"),
                ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
            ],
            CONFIG,
        );
        let c = ClientConfig::resolve(&env, Overrides::default()).unwrap();
        assert!(c.endpoint.url().starts_with("https://s3."));
    }

    #[test]
    fn attempts_precedence() {
        let config = "[default]\nmax_attempts = 3\n\n[profile bad]\nmax_attempts = 0\n";
        let attempts = |vars: &[(&str, &str)], flag: Option<u32>| {
            let (env, _d) = env_with_files(vars, config);
            let o = Overrides {
                max_attempts: flag,
                ..Default::default()
            };
            ClientConfig::resolve_explained(&env, o)
                .map(|(c, o)| (c.max_attempts, o.max_attempts.1))
                .map_err(|e| e.to_string())
        };
        let (n, origin) = attempts(&[], None).unwrap();
        assert_eq!(n, Some(3));
        assert!(origin.starts_with("profile default in "), "{origin}");
        let env = ("AWS_MAX_ATTEMPTS", "9");
        assert_eq!(attempts(&[env], None).unwrap().0, Some(9));
        assert_eq!(attempts(&[env], Some(1)).unwrap().0, Some(1));
        let (env, _d) = env_with_files(&[], "");
        let (c, o) = ClientConfig::resolve_explained(&env, Overrides::default()).unwrap();
        assert_eq!(
            (c.max_attempts, o.max_attempts.1.as_str()),
            (None, DEFAULTED)
        );
        for (vars, flag, named) in [
            (vec![("AWS_PROFILE", "bad")], None, "profile bad in "),
            (vec![("AWS_MAX_ATTEMPTS", "six")], None, "AWS_MAX_ATTEMPTS"),
            (vec![], Some(101), GIVEN),
        ] {
            let e = attempts(&vars, flag).unwrap_err();
            assert!(
                e.contains("invalid max_attempts") && e.contains(named),
                "{e}"
            );
        }
    }

    #[test]
    fn bad_settings_are_named() {
        let (env, _d) = env_with_files(&[], CONFIG);
        let o = Overrides {
            profile: Some("nope".into()),
            ..Default::default()
        };
        let e = ClientConfig::resolve(&env, o).unwrap_err().to_string();
        assert!(e.contains("\"nope\""), "{e}");
        let o = Overrides {
            endpoint_url: Some("localhost:9000".into()),
            ..Default::default()
        };
        let e = ClientConfig::resolve(&env, o).unwrap_err().to_string();
        assert!(e.contains("invalid endpoint URL"), "{e}");
        let (env, _d) = env_with_files(&[("AWS_CA_BUNDLE", "/nonexistent/ca.pem")], CONFIG);
        let e = ClientConfig::resolve(&env, Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cannot read CA bundle /nonexistent/ca.pem"),
            "{e}"
        );
    }
}
