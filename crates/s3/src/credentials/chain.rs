//! The chain of credential sources in the AWS CLI's order, and the cache in front of it that
//! refreshes expiring credentials in the background, so a transfer that runs for hours never
//! waits for new ones nor signs with expired ones.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::source::{LoadFuture, Loaded, Source};
use super::{CredentialProvider, Credentials, CredentialsError, CredentialsFuture, EnvProvider};
use crate::profile::Env;

/// Settings the chain's own requests use (STS, SSO, the container endpoint, IMDS).
#[derive(Debug, Clone, Default)]
pub struct ChainSettings {
    /// The region STS and SSO are asked in (the profile's `sso_region` wins for SSO).
    pub region: Option<String>,
    /// Root certificates (PEM) to trust instead of the system's.
    pub ca_bundle_pem: Option<Vec<u8>>,
    /// `false` turns certificate verification off, as for S3 (`--no-verify-ssl`).
    pub no_verify_tls: bool,
}

/// Tries each source in order, the first with credentials wins: the environment's keys, then
/// (with the `aws-config` feature) a web identity token with a role, the profile (static
/// keys, assume-role chains, SSO, `credential_process`), the container endpoint, IMDSv2.
/// What it finds is cached until it nears its expiry: a few minutes before (half the
/// lifetime for short-lived credentials) the same source is asked again in the background,
/// while requests go on with the current ones; [`invalidate`](CredentialProvider::invalidate)
/// (after `ExpiredToken`) drops them. With nothing found, the error lists every place looked.
pub struct ChainProvider {
    inner: Arc<Inner>,
}

impl fmt::Debug for ChainProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainProvider")
            .field("sources", &self.inner.sources.len())
            .finish()
    }
}

struct Inner {
    sources: Vec<Box<dyn Source>>,
    current: Mutex<Option<Entry>>,
    /// One walk of the chain at a time.
    loading: tokio::sync::Mutex<()>,
    refreshing: AtomicBool,
    /// After a failed background refresh, none before this.
    quiet_until: Mutex<Option<SystemTime>>,
}

#[derive(Clone)]
struct Entry {
    credentials: Credentials,
    loaded: SystemTime,
    /// The index of the source they came from.
    from: usize,
}

#[derive(PartialEq, Eq, Debug)]
enum Freshness {
    Fresh,
    /// Still good, but time to fetch the next ones.
    RefreshAhead,
    /// Too close to the expiry to sign with.
    Expiring,
}

/// How long before the expiry new credentials are fetched, at most (AWS SDKs use 5 minutes).
const REFRESH_AHEAD: Duration = Duration::from_secs(300);
/// Credentials this close to their expiry are not used: a request signed now may reach the
/// server later.
const EXPIRING: Duration = Duration::from_secs(10);
/// Time between background refreshes that failed.
const RETRY_QUIET: Duration = Duration::from_secs(10);

impl Entry {
    fn freshness(&self, now: SystemTime) -> Freshness {
        let Some(expiry) = self.credentials.expires_at else {
            return Freshness::Fresh;
        };
        let left = expiry.duration_since(now).unwrap_or_default();
        let lifetime = expiry.duration_since(self.loaded).unwrap_or_default();
        if left <= EXPIRING.min(lifetime / 6) {
            Freshness::Expiring
        } else if left <= REFRESH_AHEAD.min(lifetime / 2) {
            Freshness::RefreshAhead
        } else {
            Freshness::Fresh
        }
    }
}

impl ChainProvider {
    /// The default chain for `env`, with an explicit `profile` (as `--profile`: the
    /// environment's keys are then not consulted, as the AWS CLI does) or the one `AWS_PROFILE`
    /// names, else `default`.
    pub fn new(env: Env, profile: Option<&str>) -> Self {
        Self::with_settings(env, profile, ChainSettings::default())
    }

    /// The default chain, its own requests made with `settings`.
    pub fn with_settings(env: Env, profile: Option<&str>, settings: ChainSettings) -> Self {
        let explicit = profile.is_some();
        let name = profile
            .map(str::to_string)
            .or_else(|| env.var("AWS_PROFILE"))
            .unwrap_or_else(|| "default".into());
        let mut sources: Vec<Box<dyn Source>> = Vec::new();
        if !explicit {
            sources.push(Box::new(EnvProvider::new(env.clone())));
        }
        #[cfg(feature = "aws-config")]
        sources.extend(super::aws::sources(&env, &name, &settings));
        #[cfg(not(feature = "aws-config"))]
        {
            let _ = settings;
            sources.push(Box::new(super::ProfileProvider::new(env, name)));
        }
        Self {
            inner: Arc::new(Inner {
                sources,
                current: Mutex::new(None),
                loading: tokio::sync::Mutex::new(()),
                refreshing: AtomicBool::new(false),
                quiet_until: Mutex::new(None),
            }),
        }
    }
}

impl Inner {
    fn entry(&self) -> Option<Entry> {
        self.current.lock().expect("credentials lock").clone()
    }

    /// Keeps `e` as the current credentials and, when they expire, sets a timer to refresh
    /// them ahead of it in the background: a transfer whose requests are few and long (a
    /// slow link, a bandwidth limit) gets its new credentials before it needs them.
    fn store(self: &Arc<Self>, e: Entry) {
        let when = e.credentials.expires_at.map(|expiry| {
            let lifetime = expiry.duration_since(e.loaded).unwrap_or_default();
            expiry - REFRESH_AHEAD.min(lifetime / 2)
        });
        let (loaded, from) = (e.loaded, e.from);
        *self.current.lock().expect("credentials lock") = Some(e);
        let (Some(when), Ok(runtime)) = (when, tokio::runtime::Handle::try_current()) else {
            return;
        };
        let wait = when.duration_since(SystemTime::now()).unwrap_or_default();
        let weak = Arc::downgrade(self);
        runtime.spawn(async move {
            tokio::time::sleep(wait).await;
            // Not if the provider is gone, or these credentials were replaced meanwhile.
            if let Some(inner) = weak.upgrade()
                && inner.entry().is_some_and(|c| c.loaded == loaded)
            {
                inner.refresh_in_background(from);
            }
        });
    }

    async fn get(self: &Arc<Self>) -> Result<Credentials, CredentialsError> {
        if let Some(e) = self.entry() {
            match e.freshness(SystemTime::now()) {
                Freshness::Fresh => return Ok(e.credentials),
                Freshness::RefreshAhead => {
                    self.refresh_in_background(e.from);
                    return Ok(e.credentials);
                }
                Freshness::Expiring => {}
            }
        }
        let _one = self.loading.lock().await;
        if let Some(e) = self.entry()
            && e.freshness(SystemTime::now()) != Freshness::Expiring
        {
            return Ok(e.credentials);
        }
        let e = self.walk().await?;
        self.store(e.clone());
        Ok(e.credentials)
    }

    /// Asks each source in order.
    async fn walk(&self) -> Result<Entry, CredentialsError> {
        let mut looked = Vec::new();
        for (i, source) in self.sources.iter().enumerate() {
            match source.load().await? {
                Loaded::Found(c) => {
                    tracing::debug!("credentials: {c}");
                    return Ok(Entry {
                        credentials: c,
                        loaded: SystemTime::now(),
                        from: i,
                    });
                }
                Loaded::Absent(why) => looked.push(why),
            }
        }
        Err(CredentialsError::NotFound {
            looked: looked.join("; "),
        })
    }

    /// Asks the source the current credentials came from for the next ones, without making
    /// anyone wait; once at a time, and not again for a while after a failure.
    fn refresh_in_background(self: &Arc<Self>, from: usize) {
        let now = SystemTime::now();
        if self
            .quiet_until
            .lock()
            .expect("credentials lock")
            .is_some_and(|t| now < t)
        {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let inner = self.clone();
        runtime.spawn(async move {
            match inner.sources[from].load().await {
                Ok(Loaded::Found(c)) => {
                    tracing::debug!("credentials refreshed: {c}");
                    inner.store(Entry {
                        credentials: c,
                        loaded: SystemTime::now(),
                        from,
                    });
                }
                Ok(Loaded::Absent(why)) => {
                    tracing::info!("refreshing credentials: {why}");
                    *inner.quiet_until.lock().expect("credentials lock") =
                        Some(SystemTime::now() + RETRY_QUIET);
                }
                Err(e) => {
                    tracing::info!("refreshing credentials: {e}");
                    *inner.quiet_until.lock().expect("credentials lock") =
                        Some(SystemTime::now() + RETRY_QUIET);
                }
            }
            inner.refreshing.store(false, Ordering::Release);
        });
    }
}

impl CredentialProvider for ChainProvider {
    fn credentials(&self) -> CredentialsFuture<'_> {
        Box::pin(self.inner.get())
    }

    fn invalidate(&self) {
        *self.inner.current.lock().expect("credentials lock") = None;
    }
}

impl Source for EnvProvider {
    fn load(&self) -> LoadFuture<'_> {
        Box::pin(async move {
            Ok(match EnvProvider::load(self)? {
                Some(c) => Loaded::Found(c),
                None => Loaded::Absent(
                    "environment (AWS_ACCESS_KEY_ID): AWS_ACCESS_KEY_ID is not set".into(),
                ),
            })
        })
    }
}

#[cfg(not(feature = "aws-config"))]
impl Source for super::ProfileProvider {
    fn load(&self) -> LoadFuture<'_> {
        Box::pin(async move {
            Ok(match super::ProfileProvider::load(self)? {
                Some(c) => Loaded::Found(c),
                None => Loaded::Absent(self.describe()),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(lifetime_s: u64, left_s: u64) -> (Entry, SystemTime) {
        let loaded = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let expiry = loaded + Duration::from_secs(lifetime_s);
        let now = expiry - Duration::from_secs(left_s);
        let mut c = Credentials::new("A", "S", None);
        c.expires_at = Some(expiry);
        (
            Entry {
                credentials: c,
                loaded,
                from: 0,
            },
            now,
        )
    }

    /// Vends credentials that expire `lifetime` after each load, counting its loads.
    #[derive(Debug)]
    struct Expiring {
        lifetime: Duration,
        loads: Arc<std::sync::atomic::AtomicU32>,
    }

    impl Source for Expiring {
        fn load(&self) -> LoadFuture<'_> {
            Box::pin(async move {
                let n = self.loads.fetch_add(1, Ordering::SeqCst) + 1;
                let mut c = Credentials::new(format!("AK{n}"), "S", None);
                c.expires_at = Some(SystemTime::now() + self.lifetime);
                Ok(Loaded::Found(c))
            })
        }
    }

    /// No request asks for credentials while they age (a long, slow part): the timer set when
    /// they were stored fetches the next ones at half their life, without a caller waiting.
    #[tokio::test]
    async fn credentials_are_refreshed_ahead_of_their_expiry_with_no_request_asking() {
        let loads = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let chain = ChainProvider {
            inner: Arc::new(Inner {
                sources: vec![Box::new(Expiring {
                    lifetime: Duration::from_millis(1200),
                    loads: loads.clone(),
                })],
                current: Mutex::new(None),
                loading: tokio::sync::Mutex::new(()),
                refreshing: AtomicBool::new(false),
                quiet_until: Mutex::new(None),
            }),
        };
        let first = chain.credentials().await.unwrap();
        assert_eq!(first.access_key_id, "AK1");
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert_eq!(loads.load(Ordering::SeqCst), 2, "refreshed at half-life");
        // The next request gets them at once: fresh, no load.
        assert_eq!(chain.credentials().await.unwrap().access_key_id, "AK2");
        assert_eq!(loads.load(Ordering::SeqCst), 2);
        drop(chain);
    }

    #[test]
    fn refresh_starts_ahead_of_the_expiry_and_blocks_only_at_its_edge() {
        // One-hour credentials: refreshed from 5 minutes before, unusable in the last 10 s.
        for (left, want) in [
            (3600, Freshness::Fresh),
            (301, Freshness::Fresh),
            (300, Freshness::RefreshAhead),
            (11, Freshness::RefreshAhead),
            (10, Freshness::Expiring),
        ] {
            let (e, now) = entry(3600, left);
            assert_eq!(e.freshness(now), want, "{left} s left of 3600");
        }
        // One-minute credentials: from half their life, unusable in the last 10 s.
        for (left, want) in [
            (31, Freshness::Fresh),
            (30, Freshness::RefreshAhead),
            (10, Freshness::Expiring),
        ] {
            let (e, now) = entry(60, left);
            assert_eq!(e.freshness(now), want, "{left} s left of 60");
        }
    }
}
