//! An assume-role profile's `duration_seconds`: the length of the role session it asks STS for
//! (900 s to 12 h, within the role's maximum), as the AWS CLI sends it. aws-config's profile
//! chain leaves the setting out, so every session lasts STS's default hour: a presigned URL
//! then dies within the hour, whatever the profile says. For such a profile this asks for the
//! role itself (aws-config's `AssumeRoleProvider`, given the length), on the credentials of its
//! `source_profile` (any kind aws-config reads, chains included) or its `credential_source`.

use std::time::Duration;

use aws_config::ecs::EcsCredentialsProvider;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider};
use aws_runtime::env_config::file::EnvConfigFiles;
use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_async::time::SystemTimeSource;

use super::ChainSettings;
use super::http::ReqwestHttpClient;
use crate::profile::{Env, ProfileSet};

/// The role session of a profile with `duration_seconds`, on its source's credentials.
#[derive(Debug)]
struct LongerSession {
    base: SharedCredentialsProvider,
    role_arn: String,
    session_name: Option<String>,
    external_id: Option<String>,
    length: Duration,
    sts: SdkConfig,
}

impl ProvideCredentials for LongerSession {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(async move {
            let mut role = AssumeRoleProvider::builder(&self.role_arn)
                .session_length(self.length)
                .configure(&self.sts);
            if let Some(name) = &self.session_name {
                role = role.session_name(name);
            }
            if let Some(id) = &self.external_id {
                role = role.external_id(id);
            }
            role.build_from_provider(self.base.clone())
                .await
                .provide_credentials()
                .await
        })
    }
}

/// The STS settings a role session is asked with: ferry's HTTP client and region, and the STS
/// endpoint the environment names (`AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`), as
/// aws-config's own clients take them.
pub(super) fn sts_config(env: &Env, settings: &ChainSettings) -> SdkConfig {
    let region = settings
        .region
        .clone()
        .unwrap_or_else(|| "us-east-1".into());
    let mut sts = SdkConfig::builder()
        .http_client(ReqwestHttpClient::new(settings.clone()))
        .sleep_impl(TokioSleep::new())
        .time_source(SystemTimeSource::new())
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region));
    let ignored = env
        .var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if let Some(url) = (!ignored)
        .then(|| {
            env.var("AWS_ENDPOINT_URL_STS")
                .or(env.var("AWS_ENDPOINT_URL"))
        })
        .flatten()
    {
        sts = sts.endpoint_url(url);
    }
    sts.build()
}

/// A provider for `profile` when it assumes a role with `duration_seconds`: `None` for any
/// other profile (aws-config's chain serves it), and for one whose source this cannot take
/// (`mfa_serial`, a web identity token file), which aws-config serves without the length;
/// `Err` when `duration_seconds` is not a number of seconds.
pub(super) fn provider(
    files: &ProfileSet,
    paths: &EnvConfigFiles,
    profile: &str,
    config: &ProviderConfig,
    sts: &SdkConfig,
) -> Option<Result<SharedCredentialsProvider, String>> {
    let get = |k: &str| files.get(profile, k);
    let (role_arn, length) = (get("role_arn")?, get("duration_seconds")?);
    if get("mfa_serial").is_some() {
        return None;
    }
    let length = match length.trim().parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            return Some(Err(format!(
                "duration_seconds = {length:?}: give the role session's length in seconds \
                 (900 to 43200, within the role's maximum)"
            )));
        }
    };
    let base = match (get("source_profile"), get("credential_source")) {
        // The profile's own keys, under its role (the AWS CLI's reading of a profile that
        // names itself).
        (Some(source), _) if source == profile => {
            let (id, secret) = (get("aws_access_key_id")?, get("aws_secret_access_key")?);
            let keys = aws_credential_types::Credentials::new(
                id,
                secret,
                get("aws_session_token"),
                None,
                "profile",
            );
            SharedCredentialsProvider::new(keys)
        }
        (Some(source), _) => SharedCredentialsProvider::new(
            ProfileFileCredentialsProvider::builder()
                .configure(config)
                .profile_name(source)
                .profile_files(paths.clone())
                .build(),
        ),
        (None, Some(source)) => match source.as_str() {
            "Environment" => {
                SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new())
            }
            "Ec2InstanceMetadata" => SharedCredentialsProvider::new(
                ImdsCredentialsProvider::builder().configure(config).build(),
            ),
            "EcsContainer" => SharedCredentialsProvider::new(
                EcsCredentialsProvider::builder().configure(config).build(),
            ),
            _ => return None,
        },
        (None, None) => return None,
    };
    Some(Ok(SharedCredentialsProvider::new(LongerSession {
        base,
        role_arn,
        session_name: get("role_session_name"),
        external_id: get("external_id"),
        length,
        sts: sts.clone(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_role_with_a_length_and_a_source_this_can_take_is_asked_for_here() {
        let config = "[profile long]\nrole_arn = r\nsource_profile = base\nduration_seconds = 7200\n\
                      [profile self]\nrole_arn = r\nsource_profile = self\nduration_seconds = 7200\n\
                      aws_access_key_id = AK\naws_secret_access_key = SK\n\
                      [profile env]\nrole_arn = r\ncredential_source = Environment\n\
                      duration_seconds = 900\n\
                      [profile hour]\nrole_arn = r\nsource_profile = base\n\
                      [profile mfa]\nrole_arn = r\nsource_profile = base\nduration_seconds = 7200\n\
                      mfa_serial = arn:aws:iam::1:mfa/me\n\
                      [profile token]\nrole_arn = r\nweb_identity_token_file = /t\n\
                      duration_seconds = 7200\n\
                      [profile bad]\nrole_arn = r\nsource_profile = base\nduration_seconds = 2h\n";
        let creds = "[base]\naws_access_key_id = AK\naws_secret_access_key = SK\n";
        let files = ProfileSet::from_text(creds, config).unwrap();
        let paths = EnvConfigFiles::builder()
            .with_contents(
                aws_runtime::env_config::file::EnvConfigFileKind::Config,
                config,
            )
            .build();
        let provider_config = ProviderConfig::empty()
            .with_http_client(ReqwestHttpClient::new(ChainSettings::default()))
            .with_sleep_impl(TokioSleep::new());
        let sts = sts_config(
            &Env::from_map(Default::default()),
            &ChainSettings::default(),
        );
        let asked = |p: &str| super::provider(&files, &paths, p, &provider_config, &sts);
        for p in ["long", "self", "env"] {
            assert!(matches!(asked(p), Some(Ok(_))), "{p}");
        }
        // The default hour, an MFA prompt or a web identity token: aws-config's chain.
        for p in ["hour", "mfa", "token", "base", "missing"] {
            assert!(asked(p).is_none(), "{p}");
        }
        let Some(Err(why)) = asked("bad") else {
            panic!("a length that is no number of seconds is refused")
        };
        assert!(why.contains("duration_seconds = \"2h\""), "{why}");
    }
}
