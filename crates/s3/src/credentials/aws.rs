//! The sources that speak AWS's credential protocols, from the aws-config crate: a web identity
//! token with a role (STS AssumeRoleWithWebIdentity), the profile (static keys, assume-role chains
//! with cycle detection, SSO with `sso-session` or a legacy start URL, a console session from `aws
//! login` (`login_session`), `credential_process`), the container endpoint (ECS, EKS Pod Identity)
//! and IMDSv2. Each is a source of ferry's chain, asked in the AWS CLI's order; ferry's own profile
//! parser decides which profile is in use and whether it holds credentials at all, and hands
//! aws-config that name and those files, so both read the same profile.
//!
//! An assume-role profile's `duration_seconds`, which aws-config's chain leaves out, is asked
//! for by `session`.
//!
//! aws-config reads the process environment itself for the container endpoint and IMDS
//! settings (`AWS_CONTAINER_CREDENTIALS_*`, `AWS_EC2_METADATA_SERVICE_ENDPOINT`).

use std::path::PathBuf;

use aws_config::BehaviorVersion;
use aws_config::ecs::EcsCredentialsProvider;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::web_identity_token::{StaticConfiguration, WebIdentityTokenCredentialsProvider};
use aws_credential_types::provider::error::CredentialsError as AwsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use aws_smithy_async::rt::sleep::TokioSleep;

use super::http::ReqwestHttpClient;
use super::source::{LOGIN_SESSION, LoadFuture, Loaded, Source, describe_profile};
use super::{ChainSettings, Credentials, CredentialsError, Secret};
use crate::profile::{Env, ProfileSet};

/// The profile keys that make a profile a source of credentials.
const PROFILE_CREDENTIAL_KEYS: [&str; 8] = [
    "aws_access_key_id",
    "role_arn",
    "sso_session",
    "sso_start_url",
    "login_session",
    "credential_process",
    "web_identity_token_file",
    "credential_source",
];

/// Which source, and what it needs to build its provider.
#[derive(Debug, Clone, Copy)]
enum Kind {
    WebIdentity,
    Profile,
    Container,
    Imds,
}

/// One aws-config source. Its provider is built each time it is asked (the profile files read
/// again, so keys rewritten in them during a long transfer are seen after an `ExpiredToken`).
#[derive(Debug)]
struct AwsSource {
    kind: Kind,
    env: Env,
    profile: String,
    config: ProviderConfig,
    /// For a role session of a profile's `duration_seconds` (see `session`).
    sts: aws_config::SdkConfig,
}

impl Source for AwsSource {
    fn load(&self) -> LoadFuture<'_> {
        Box::pin(async move {
            let (name, provider) = self.provider();
            let provider = match provider {
                Ok(p) => p,
                Err(why) => return Ok(Loaded::Absent(format!("{name}: {why}"))),
            };
            match provider.provide_credentials().await {
                Ok(c) => Ok(Loaded::Found(Credentials {
                    access_key_id: c.access_key_id().to_string(),
                    secret_access_key: Secret::new(c.secret_access_key()),
                    session_token: c.session_token().map(Secret::new),
                    expires_at: c.expiry(),
                    source: name,
                })),
                Err(e @ AwsError::CredentialsNotLoaded(_)) => {
                    let why = crate::error::error_chain(&e);
                    let why = why
                        .strip_prefix("the credential provider was not enabled: ")
                        .unwrap_or(&why);
                    Ok(Loaded::Absent(format!("{name}: {why}")))
                }
                Err(e) => {
                    let mut reason = crate::error::error_chain(&e);
                    let relogin = if name.starts_with("sso-session") || name.starts_with("SSO ") {
                        Some(("SSO session", "aws sso login"))
                    } else if name.starts_with(LOGIN_SESSION) {
                        Some(("console session", "aws login"))
                    } else {
                        None
                    };
                    if let Some((what, command)) = relogin {
                        reason.push_str(&format!(
                            " (an expired or revoked {what}: run `{command} --profile {}`)",
                            self.profile
                        ));
                    }
                    Err(CredentialsError::Invalid {
                        source_name: name,
                        reason,
                    })
                }
            }
        })
    }
}

impl AwsSource {
    /// The source's name in messages, and its provider or why it has none.
    fn provider(&self) -> (String, Result<SharedCredentialsProvider, String>) {
        let (env, profile, config) = (&self.env, self.profile.as_str(), &self.config);
        match self.kind {
            Kind::WebIdentity => {
                // The token file's path (not the token) names it: a token not there yet, or
                // no longer, is a common fault.
                let name = match (
                    env.var("AWS_ROLE_ARN"),
                    env.var("AWS_WEB_IDENTITY_TOKEN_FILE"),
                ) {
                    (Some(role), Some(file)) => {
                        format!("web identity (role {role}, token file {file})")
                    }
                    (Some(role), None) => format!("web identity (role {role})"),
                    (None, _) => "web identity".to_string(),
                };
                let p = match (
                    env.var("AWS_WEB_IDENTITY_TOKEN_FILE"),
                    env.var("AWS_ROLE_ARN"),
                ) {
                    (Some(file), Some(role)) => Ok(SharedCredentialsProvider::new(
                        WebIdentityTokenCredentialsProvider::builder()
                            .configure(config)
                            .static_configuration(StaticConfiguration {
                                web_identity_token_file: PathBuf::from(file),
                                role_arn: role,
                                session_name: env
                                    .var("AWS_ROLE_SESSION_NAME")
                                    .unwrap_or_else(|| format!("ferry-{}", std::process::id())),
                            })
                            .build(),
                    )),
                    (None, _) => Err("AWS_WEB_IDENTITY_TOKEN_FILE is not set".to_string()),
                    (Some(_), None) => {
                        Err("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not".into())
                    }
                };
                (name, p)
            }
            Kind::Profile => profile_provider(env, profile, config, &self.sts),
            Kind::Container => (
                match env.var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
                    Some(file) => format!("container endpoint (token file {file})"),
                    None => "container endpoint".into(),
                },
                if env.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_some()
                    || env.var("AWS_CONTAINER_CREDENTIALS_FULL_URI").is_some()
                {
                    Ok(SharedCredentialsProvider::new(
                        EcsCredentialsProvider::builder().configure(config).build(),
                    ))
                } else {
                    Err("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI are not set".into())
                },
            ),
            Kind::Imds => {
                let name = crate::instance::described(env);
                if crate::instance::disabled(env) {
                    return (name, Err("AWS_EC2_METADATA_DISABLED=true".into()));
                }
                (
                    name,
                    Ok(SharedCredentialsProvider::new(
                        ImdsCredentialsProvider::builder().configure(config).build(),
                    )),
                )
            }
        }
    }
}

/// The profile, as ferry's parser reads it: no provider when it holds no credentials.
fn profile_provider(
    env: &Env,
    profile: &str,
    config: &ProviderConfig,
    sts: &aws_config::SdkConfig,
) -> (String, Result<SharedCredentialsProvider, String>) {
    let (creds_path, config_path) = ProfileSet::paths(env);
    let shown = |p: &Option<PathBuf>| {
        p.as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "(no home folder)".into())
    };
    let looked_in = format!("{} and {}", shown(&creds_path), shown(&config_path));
    let plain = format!("profile {profile}");
    let files = match ProfileSet::load(env) {
        Err(e) => return (plain, Err(format!("{looked_in}: {e}"))),
        Ok(f) => f,
    };
    if !PROFILE_CREDENTIAL_KEYS
        .iter()
        .any(|k| files.get(profile, k).is_some())
    {
        let why = if files.has_profile(profile) {
            format!("no credentials in it ({looked_in})")
        } else {
            format!("not in {looked_in}")
        };
        return (plain, Err(why));
    }
    let mut paths = EnvConfigFiles::builder();
    for (kind, path) in [
        (EnvConfigFileKind::Credentials, &creds_path),
        (EnvConfigFileKind::Config, &config_path),
    ] {
        if let Some(p) = path.as_ref().filter(|p| p.exists()) {
            // A file saved by Notepad begins with a byte order mark, which aws-config's parser
            // refuses: it is given the text without it.
            paths = match std::fs::read_to_string(p) {
                Ok(text) if text.starts_with('\u{feff}') => {
                    paths.with_contents(kind, text.trim_start_matches('\u{feff}'))
                }
                _ => paths.with_file(kind, p),
            };
        }
    }
    let name = describe_profile(&files, profile).unwrap_or(plain);
    let paths = paths.build();
    if let Some(session) = super::session::provider(&files, &paths, profile, config, sts) {
        return (name, session);
    }
    (
        name,
        Ok(SharedCredentialsProvider::new(
            ProfileFileCredentialsProvider::builder()
                .configure(config)
                .profile_name(profile)
                .profile_files(paths)
                .build(),
        )),
    )
}

/// The sources after the environment's keys, in the AWS CLI's order.
pub(super) fn sources(env: &Env, profile: &str, settings: &ChainSettings) -> Vec<Box<dyn Source>> {
    let mut config = ProviderConfig::empty()
        .with_http_client(ReqwestHttpClient::new(settings.clone()))
        .with_sleep_impl(TokioSleep::new())
        .with_behavior_version(Some(BehaviorVersion::latest()));
    if let Some(r) = &settings.region {
        config = config.with_region(Some(aws_config::Region::new(r.clone())));
    }
    let sts = super::session::sts_config(env, settings);
    [
        Kind::WebIdentity,
        Kind::Profile,
        Kind::Container,
        Kind::Imds,
    ]
    .into_iter()
    .map(|kind| {
        Box::new(AwsSource {
            kind,
            env: env.clone(),
            profile: profile.to_string(),
            config: config.clone(),
            sts: sts.clone(),
        }) as Box<dyn Source>
    })
    .collect()
}
