//! Credentials and where they come from: explicit keys, the environment, shared profile files,
//! and (with the `aws-config` feature, on by default) web identity, assume-role chains, SSO,
//! `aws login` console sessions, `credential_process`, the container endpoint and IMDSv2,
//! tried in the AWS CLI's order by [`ChainProvider`], which refreshes expiring credentials in
//! the background. Secrets are wrapped so that `Debug` and `Display` never show them.
//!
//! Does not own region or endpoint resolution (see `config`), nor signing (see `signing`).

#[cfg(feature = "aws-config")]
mod aws;
mod chain;
#[cfg(feature = "aws-config")]
mod http;
#[cfg(feature = "aws-config")]
mod session;
mod source;

pub use chain::{ChainProvider, ChainSettings};
#[cfg(feature = "aws-config")]
pub(crate) use http::ReqwestHttpClient;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use crate::error::{ClientErrorKind, S3Error};
use crate::profile::{Env, ProfileSet};

/// A secret string: shown as `** redacted **` by `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Call only where it is used (signing), never to print it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("** redacted **")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("** redacted **")
    }
}

/// A set of AWS credentials.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// Access key id (not secret: it names the key).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: Secret,
    /// Session token of temporary credentials.
    pub session_token: Option<Secret>,
    /// When temporary credentials stop working, if known.
    pub expires_at: Option<SystemTime>,
    /// Where they came from, for messages (e.g. `environment`, `profile default`).
    pub source: String,
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "access key {} from {}", self.access_key_id, self.source)
    }
}

impl Credentials {
    /// Long-term credentials.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: Secret::new(secret_access_key),
            session_token: session_token.map(Secret::new),
            expires_at: None,
            source: "explicit".into(),
        }
    }
}

/// Why credentials could not be had.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// No source had credentials. The message lists where ferry looked.
    #[error("no credentials found; looked in: {looked}")]
    NotFound {
        /// The places that were tried, in order.
        looked: String,
    },
    /// A source exists but is unusable (half-configured profile, unreadable file).
    #[error("credentials from {source_name} are unusable: {reason}")]
    Invalid {
        /// Which source.
        source_name: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A boxed future returned by [`CredentialProvider::credentials`].
pub type CredentialsFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Credentials, CredentialsError>> + Send + 'a>>;

/// A source of credentials that may refresh them: the client asks before every request, and
/// calls [`invalidate`](Self::invalidate) when the service says the token expired, so the next
/// call fetches fresh ones.
pub trait CredentialProvider: Send + Sync + fmt::Debug {
    /// Current credentials.
    fn credentials(&self) -> CredentialsFuture<'_>;
    /// Forget cached credentials (after `ExpiredToken`). By default, does nothing.
    fn invalidate(&self) {}
}

/// Fixed credentials given by the caller.
#[derive(Debug, Clone)]
pub struct StaticProvider(Credentials);

impl StaticProvider {
    /// Wraps fixed credentials.
    pub fn new(credentials: Credentials) -> Self {
        Self(credentials)
    }
}

impl CredentialProvider for StaticProvider {
    fn credentials(&self) -> CredentialsFuture<'_> {
        let c = self.0.clone();
        Box::pin(async move { Ok(c) })
    }
}

/// Credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`,
/// read each time they are asked for (so a refreshed environment is seen).
#[derive(Clone)]
pub struct EnvProvider {
    env: Env,
}

impl fmt::Debug for EnvProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnvProvider")
    }
}

impl EnvProvider {
    /// Reads the given environment.
    pub fn new(env: Env) -> Self {
        Self { env }
    }

    pub(crate) fn load(&self) -> Result<Option<Credentials>, CredentialsError> {
        let ak = self.env.var("AWS_ACCESS_KEY_ID");
        let sk = self.env.var("AWS_SECRET_ACCESS_KEY");
        match (ak, sk) {
            (Some(ak), Some(sk)) => Ok(Some(Credentials {
                source: "environment (AWS_ACCESS_KEY_ID)".into(),
                ..Credentials::new(ak, sk, self.env.var("AWS_SESSION_TOKEN"))
            })),
            (None, None) => Ok(None),
            (Some(_), None) => Err(CredentialsError::Invalid {
                source_name: "the environment".into(),
                reason: "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not".into(),
            }),
            (None, Some(_)) => Err(CredentialsError::Invalid {
                source_name: "the environment".into(),
                reason: "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not".into(),
            }),
        }
    }
}

impl CredentialProvider for EnvProvider {
    fn credentials(&self) -> CredentialsFuture<'_> {
        Box::pin(async move {
            self.load()?.ok_or_else(|| CredentialsError::NotFound {
                looked: "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY".into(),
            })
        })
    }
}

/// Credentials of a named profile in the shared files (`~/.aws/credentials`, then
/// `~/.aws/config`), re-read each time they are asked for.
#[derive(Debug, Clone)]
pub struct ProfileProvider {
    env: Env,
    profile: String,
}

impl ProfileProvider {
    /// The profile `name` in the files the environment points at.
    pub fn new(env: Env, profile: impl Into<String>) -> Self {
        Self {
            env,
            profile: profile.into(),
        }
    }

    pub(crate) fn load(&self) -> Result<Option<Credentials>, CredentialsError> {
        let files = ProfileSet::load(&self.env).map_err(|e| CredentialsError::Invalid {
            source_name: format!("profile {}", self.profile),
            reason: e,
        })?;
        let get = |k: &str| files.get(&self.profile, k);
        match (get("aws_access_key_id"), get("aws_secret_access_key")) {
            (Some(ak), Some(sk)) => Ok(Some(Credentials {
                source: source::describe_profile(&files, &self.profile)
                    .unwrap_or_else(|| format!("profile {}", self.profile)),
                ..Credentials::new(ak, sk, get("aws_session_token"))
            })),
            (None, None) => Ok(None),
            _ => Err(CredentialsError::Invalid {
                source_name: format!("profile {}", self.profile),
                reason: "it needs both aws_access_key_id and aws_secret_access_key".into(),
            }),
        }
    }

    pub(crate) fn describe(&self) -> String {
        let (creds, config) = ProfileSet::paths(&self.env);
        let show = |p: Option<std::path::PathBuf>| {
            p.map(|p| p.display().to_string())
                .unwrap_or_else(|| "(no home folder)".into())
        };
        format!(
            "profile {} in {} and {}",
            self.profile,
            show(creds),
            show(config)
        )
    }
}

impl CredentialProvider for ProfileProvider {
    fn credentials(&self) -> CredentialsFuture<'_> {
        Box::pin(async move {
            self.load()?.ok_or_else(|| CredentialsError::NotFound {
                looked: self.describe(),
            })
        })
    }
}

/// A shared provider, as the client holds it.
pub type SharedCredentialProvider = Arc<dyn CredentialProvider>;

impl From<CredentialsError> for S3Error {
    fn from(e: CredentialsError) -> Self {
        S3Error::client("request", ClientErrorKind::Credentials, e.to_string()).with_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// An environment of `pairs`, with instance metadata off: no test probes it.
    fn env(pairs: &[(&str, &str)]) -> Env {
        let mut map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.insert("AWS_EC2_METADATA_DISABLED".into(), "true".into());
        Env::from_map(map)
    }

    fn block<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn secrets_are_redacted_in_debug_and_display() {
        let c = Credentials::new("AKIDVISIBLE", "SECRET-sk-123", Some("TOKEN-st-456".into()));
        for text in [
            format!("{c:?}"),
            format!("{c}"),
            format!("{c:#?}"),
            format!("{:?}", StaticProvider::new(c.clone())),
        ] {
            assert!(!text.contains("SECRET-sk-123"), "{text}");
            assert!(!text.contains("TOKEN-st-456"), "{text}");
        }
        assert!(format!("{c:?}").contains("AKIDVISIBLE"));
        assert_eq!(c.secret_access_key.expose(), "SECRET-sk-123");
    }

    #[test]
    fn environment_wins_over_profiles() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(
            dir.join("credentials"),
            "[default]\naws_access_key_id = FILEAK\naws_secret_access_key = FILESK\n",
        )
        .unwrap();
        let creds_path = dir.join("credentials").display().to_string();
        let e = env(&[
            ("AWS_ACCESS_KEY_ID", "ENVAK"),
            ("AWS_SECRET_ACCESS_KEY", "ENVSK"),
            ("AWS_SESSION_TOKEN", "ENVTOK"),
            ("AWS_SHARED_CREDENTIALS_FILE", &creds_path),
        ]);
        let c = block(ChainProvider::new(e.clone(), None).credentials()).unwrap();
        assert_eq!(c.access_key_id, "ENVAK");
        assert_eq!(c.session_token.unwrap().expose(), "ENVTOK");
        // An explicit profile skips the environment's keys.
        let c = block(ChainProvider::new(e, Some("default")).credentials()).unwrap();
        assert_eq!(c.access_key_id, "FILEAK");
    }

    #[test]
    fn chain_caches_until_invalidated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        std::fs::write(
            &path,
            "[default]\naws_access_key_id = ONE\naws_secret_access_key = S\n",
        )
        .unwrap();
        let e = env(&[("AWS_SHARED_CREDENTIALS_FILE", path.to_str().unwrap())]);
        let chain = ChainProvider::new(e, None);
        assert_eq!(block(chain.credentials()).unwrap().access_key_id, "ONE");
        std::fs::write(
            &path,
            "[default]\naws_access_key_id = TWO\naws_secret_access_key = S\n",
        )
        .unwrap();
        assert_eq!(block(chain.credentials()).unwrap().access_key_id, "ONE");
        chain.invalidate();
        assert_eq!(block(chain.credentials()).unwrap().access_key_id, "TWO");
    }

    #[test]
    fn half_set_environment_is_an_error() {
        let e = env(&[("AWS_ACCESS_KEY_ID", "ENVAK"), ("HOME", "/nonexistent")]);
        let err = block(ChainProvider::new(e, None).credentials()).unwrap_err();
        assert!(err.to_string().contains("AWS_SECRET_ACCESS_KEY"), "{err}");
    }

    #[test]
    fn nothing_found_says_where_it_looked() {
        let e = env(&[("HOME", "/nonexistent-home")]);
        let err = block(ChainProvider::new(e, None).credentials()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("AWS_ACCESS_KEY_ID"), "{msg}");
        assert!(msg.contains("/nonexistent-home/.aws/credentials"), "{msg}");
        assert!(msg.contains("profile default"), "{msg}");
    }
}
