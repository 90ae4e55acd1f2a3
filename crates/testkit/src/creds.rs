//! Stubs of the services that vend AWS credentials, on 127.0.0.1, small and honest about the
//! protocol: IMDSv2 (a session token by PUT first; the role and its credentials only with
//! it), the container endpoint (checks the `Authorization` token), STS
//! (AssumeRoleWithWebIdentity checks the web identity token and the role; AssumeRole checks
//! that the request is signed with the source keys), the SSO portal (GetRoleCredentials
//! checks the bearer token, account and role), and AWS Sign-In's token endpoint, which
//! refreshes an `aws login` session (CreateOAuth2Token checks the client, the refresh token
//! and that a DPoP proof comes with them). Each vends its own key pair; a server that
//! accepts only that pair ([`KeyRing`]) proves where ferry got its keys.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};

use crate::background::Background;

/// A key pair and session token a stub vends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vended {
    /// Access key id.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: String,
    /// Session token.
    pub token: String,
}

impl Vended {
    /// A distinct pair for `name` (e.g. `IMDS`).
    pub fn named(name: &str) -> Self {
        Self {
            access_key: format!("AKIA{name}STUB"),
            secret_key: format!("{name}-secret-key-0123456789"),
            token: format!("{name}-session-token"),
        }
    }
}

/// What the stubs expect and vend.
#[derive(Debug, Clone)]
pub struct StubConfig {
    /// IMDS: the role name listed (`None`: the instance has no role, 404).
    pub imds_role: Option<String>,
    /// IMDS credentials.
    pub imds: Vended,
    /// IMDS: the instance's region (`None`: 404).
    pub imds_region: Option<String>,
    /// The token the container endpoint expects in `Authorization`.
    pub container_token: String,
    /// Container credentials.
    pub container: Vended,
    /// The role STS lets be assumed.
    pub role_arn: String,
    /// The web identity token STS accepts.
    pub web_identity_token: String,
    /// AssumeRoleWithWebIdentity's credentials.
    pub web_identity: Vended,
    /// The access key AssumeRole must be signed with.
    pub assume_role_source_key: String,
    /// AssumeRole's credentials.
    pub assume_role: Vended,
    /// The SSO bearer token, account and role the portal accepts.
    pub sso_token: String,
    /// SSO account id.
    pub sso_account: String,
    /// SSO role name.
    pub sso_role: String,
    /// SSO credentials.
    pub sso: Vended,
    /// The refresh token Sign-In accepts for an `aws login` session.
    pub login_refresh_token: String,
    /// The refresh token it gives in exchange.
    pub login_next_refresh_token: String,
    /// An `aws login` session's credentials.
    pub login: Vended,
    /// How long vended credentials last.
    pub lifetime: Duration,
}

impl Default for StubConfig {
    fn default() -> Self {
        Self {
            imds_role: Some("ferry-instance-role".into()),
            imds: Vended::named("IMDS"),
            imds_region: Some("eu-west-3".into()),
            container_token: "container-auth-token".into(),
            container: Vended::named("CONTAINER"),
            role_arn: "arn:aws:iam::123456789012:role/ferry-test".into(),
            web_identity_token: "web-identity-jwt".into(),
            web_identity: Vended::named("WEBID"),
            assume_role_source_key: "AKIASOURCESTUB".into(),
            assume_role: Vended::named("ASSUMED"),
            sso_token: "sso-access-token".into(),
            sso_account: "123456789012".into(),
            sso_role: "FerryRole".into(),
            sso: Vended::named("SSO"),
            login_refresh_token: "login-refresh-token".into(),
            login_next_refresh_token: "login-refresh-token-2".into(),
            login: Vended::named("LOGIN"),
            lifetime: Duration::from_secs(3600),
        }
    }
}

/// The stubs, on one loopback port, stopped when dropped.
pub struct CredentialStubs {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    calls: Arc<Mutex<Vec<String>>>,
    _task: Background,
}

const IMDS_TOKEN: &str = "imds-session-token";

impl CredentialStubs {
    /// Starts the stubs.
    pub fn start(config: StubConfig) -> Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let calls = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new((config, calls.clone()));
        let task = Background::spawn("credential-stubs", move || async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, std::convert::Infallible>(answer(&state, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                        .await;
                });
            }
        })?;
        Ok(Self {
            endpoint,
            calls,
            _task: task,
        })
    }

    /// The requests answered so far, one line each (`IMDS credentials`, `STS AssumeRole`, …,
    /// or `refused: …`).
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

type State = (StubConfig, Arc<Mutex<Vec<String>>>);

fn reply(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(body)))
        .expect("a response")
}

fn iso8601(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .replace_nanosecond(0)
        .expect("zero nanoseconds")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("an RFC 3339 time")
}

fn sts_credentials(v: &Vended, expiry: &str) -> String {
    format!(
        "<Credentials><AccessKeyId>{}</AccessKeyId><SecretAccessKey>{}</SecretAccessKey>\
         <SessionToken>{}</SessionToken><Expiration>{expiry}</Expiration></Credentials>",
        v.access_key, v.secret_key, v.token
    )
}

fn sts_error(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    reply(
        status,
        format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>\
             <Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
             <RequestId>stub</RequestId></ErrorResponse>"
        ),
    )
}

async fn answer(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (config, calls) = state;
    let log = |what: String| calls.lock().unwrap().push(what);
    let expiry_time = SystemTime::now() + config.lifetime;
    let expiry = iso8601(expiry_time);
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let path = parts.uri.path();
    let query: HashMap<String, String> = parts.uri.query().map(url_form).unwrap_or_default();
    const CREDS: &str = "/latest/meta-data/iam/security-credentials/";
    match (parts.method.as_str(), path) {
        ("PUT", "/latest/api/token") => {
            if header("x-aws-ec2-metadata-token-ttl-seconds").is_empty() {
                log("refused: IMDS token without a TTL".into());
                return reply(StatusCode::BAD_REQUEST, String::new());
            }
            log("IMDS token".into());
            let mut r = reply(StatusCode::OK, IMDS_TOKEN.into());
            r.headers_mut().insert(
                "x-aws-ec2-metadata-token-ttl-seconds",
                http::HeaderValue::from_static("21600"),
            );
            r
        }
        ("GET", p)
            if p.starts_with("/latest/meta-data/")
                && header("x-aws-ec2-metadata-token") != IMDS_TOKEN =>
        {
            log("refused: IMDS without its session token".into());
            reply(StatusCode::UNAUTHORIZED, String::new())
        }
        ("GET", p) if p.starts_with(CREDS) => {
            let Some(role) = &config.imds_role else {
                log("refused: IMDS has no role".into());
                return reply(StatusCode::NOT_FOUND, String::new());
            };
            let asked = &p[CREDS.len()..];
            if asked.is_empty() {
                log("IMDS role".into());
                return reply(StatusCode::OK, role.clone());
            }
            if asked != role {
                log(format!("refused: IMDS role {asked}"));
                return reply(StatusCode::NOT_FOUND, String::new());
            }
            log("IMDS credentials".into());
            let v = &config.imds;
            reply(
                StatusCode::OK,
                serde_json::json!({
                    "Code": "Success", "LastUpdated": iso8601(SystemTime::now()),
                    "Type": "AWS-HMAC", "AccessKeyId": v.access_key,
                    "SecretAccessKey": v.secret_key, "Token": v.token, "Expiration": expiry,
                })
                .to_string(),
            )
        }
        ("GET", "/latest/meta-data/placement/region") => {
            let Some(region) = &config.imds_region else {
                log("refused: IMDS has no region".into());
                return reply(StatusCode::NOT_FOUND, String::new());
            };
            log("IMDS region".into());
            reply(StatusCode::OK, region.clone())
        }
        ("GET", "/container/credentials") => {
            if header("authorization") != config.container_token {
                log("refused: container endpoint without its token".into());
                return reply(
                    StatusCode::UNAUTHORIZED,
                    r#"{"code":"AccessDenied","message":"bad authorization token"}"#.into(),
                );
            }
            log("container credentials".into());
            let v = &config.container;
            reply(
                StatusCode::OK,
                serde_json::json!({
                    "AccessKeyId": v.access_key, "SecretAccessKey": v.secret_key,
                    "Token": v.token, "Expiration": expiry, "RoleArn": config.role_arn,
                })
                .to_string(),
            )
        }
        ("GET", "/federation/credentials") => {
            let ok = header("x-amz-sso_bearer_token") == config.sso_token
                && query.get("account_id") == Some(&config.sso_account)
                && query.get("role_name") == Some(&config.sso_role);
            if !ok {
                log("refused: SSO GetRoleCredentials".into());
                return reply(
                    StatusCode::UNAUTHORIZED,
                    r#"{"message":"Session token not found or invalid"}"#.into(),
                );
            }
            log("SSO GetRoleCredentials".into());
            let v = &config.sso;
            let ms = expiry_time.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
            reply(
                StatusCode::OK,
                serde_json::json!({"roleCredentials": {
                    "accessKeyId": v.access_key, "secretAccessKey": v.secret_key,
                    "sessionToken": v.token, "expiration": ms,
                }})
                .to_string(),
            )
        }
        ("POST", "/v1/token") => login_token(config, &header("dpop"), &body, log),
        ("POST", "/") => {
            let form = url_form(&String::from_utf8_lossy(&body));
            let action = form.get("Action").cloned().unwrap_or_default();
            let role_ok = form.get("RoleArn") == Some(&config.role_arn);
            match action.as_str() {
                action @ ("AssumeRoleWithWebIdentity" | "AssumeRole") => {
                    // The caller's proof: the web identity token, or a signature by the
                    // source keys.
                    let (proven, refusal, vended) = if action == "AssumeRole" {
                        let signed_by = format!("Credential={}/", config.assume_role_source_key);
                        let refusal = (
                            "not signed by the source keys",
                            StatusCode::FORBIDDEN,
                            "InvalidClientTokenId",
                            "The security token included in the request is invalid",
                        );
                        (
                            header("authorization").contains(&signed_by),
                            refusal,
                            &config.assume_role,
                        )
                    } else {
                        let token =
                            form.get("WebIdentityToken") == Some(&config.web_identity_token);
                        let refusal = (
                            "token",
                            StatusCode::BAD_REQUEST,
                            "InvalidIdentityToken",
                            "The web identity token is not valid",
                        );
                        (token, refusal, &config.web_identity)
                    };
                    if !proven {
                        let (why, status, code, message) = refusal;
                        log(format!("refused: STS {action} {why}"));
                        return sts_error(status, code, message);
                    }
                    if !role_ok {
                        log(format!("refused: STS {action} role"));
                        let message = format!("Not authorized to perform sts:{action}");
                        return sts_error(StatusCode::FORBIDDEN, "AccessDenied", &message);
                    }
                    // A session as long as asked (DurationSeconds, 900 to 43200 s), as STS gives.
                    let expiry = match form.get("DurationSeconds").map(|d| d.parse::<u64>()) {
                        Some(Ok(d)) if (900..=43_200).contains(&d) => {
                            log(format!("STS {action} DurationSeconds={d}"));
                            iso8601(SystemTime::now() + Duration::from_secs(d))
                        }
                        Some(_) => {
                            log(format!("refused: STS {action} DurationSeconds"));
                            return sts_error(
                                StatusCode::BAD_REQUEST,
                                "ValidationError",
                                "DurationSeconds must be 900 to 43200",
                            );
                        }
                        None => expiry.clone(),
                    };
                    log(format!("STS {action}"));
                    reply(
                        StatusCode::OK,
                        format!(
                            "<{action}Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
                             <{action}Result>{}<AssumedRoleUser>\
                             <Arn>arn:aws:sts::123456789012:assumed-role/ferry-test/s</Arn>\
                             <AssumedRoleId>AROASTUB:s</AssumedRoleId></AssumedRoleUser>\
                             </{action}Result><ResponseMetadata><RequestId>stub</RequestId>\
                             </ResponseMetadata></{action}Response>",
                            sts_credentials(vended, &expiry)
                        ),
                    )
                }
                other => {
                    log(format!("refused: STS {other}"));
                    sts_error(StatusCode::BAD_REQUEST, "InvalidAction", "unknown action")
                }
            }
        }
        (m, p) => {
            // Paths a client may try first and fall back from (IMDS's extended credentials).
            log(format!("not found: {m} {p}"));
            reply(StatusCode::NOT_FOUND, String::new())
        }
    }
}

/// Sign-In's CreateOAuth2Token, refreshing an `aws login` session: the client id `aws login`
/// uses, the refresh token, and a DPoP proof (a JWT of type `dpop+jwt`) in `dpop`.
fn login_token(
    config: &StubConfig,
    dpop: &str,
    body: &[u8],
    log: impl Fn(String),
) -> Response<Full<Bytes>> {
    let asked: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let proof_type = dpop
        .split('.')
        .next()
        .and_then(|h| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h)
                .ok()
        })
        .and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok())
        .and_then(|h| h["typ"].as_str().map(str::to_string));
    let ok = asked["grantType"] == "refresh_token"
        && asked["clientId"] == "arn:aws:signin:::devtools/same-device"
        && asked["refreshToken"] == config.login_refresh_token.as_str()
        && dpop.split('.').count() == 3
        && proof_type.as_deref() == Some("dpop+jwt");
    if !ok {
        log("refused: Sign-In CreateOAuth2Token".into());
        let mut r = reply(
            StatusCode::UNAUTHORIZED,
            r#"{"error":"TOKEN_EXPIRED","message":"The refresh token has expired"}"#.into(),
        );
        r.headers_mut().insert(
            "x-amzn-errortype",
            http::HeaderValue::from_static("AccessDeniedException"),
        );
        return r;
    }
    log("Sign-In CreateOAuth2Token".into());
    let v = &config.login;
    reply(
        StatusCode::OK,
        serde_json::json!({
            "accessToken": {"accessKeyId": v.access_key, "secretAccessKey": v.secret_key,
                            "sessionToken": v.token},
            "tokenType": "aws_sigv4", "expiresIn": config.lifetime.as_secs(),
            "refreshToken": config.login_next_refresh_token,
        })
        .to_string(),
    )
}

/// A form-encoded body or query.
fn url_form(s: &str) -> HashMap<String, String> {
    s.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let dec = |x: &str| {
                percent_encoding::percent_decode_str(&x.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// An access key, its secret, and when it stops working.
type Key = (String, String, Option<SystemTime>);

/// The keys an S3 server accepts, each until its expiry: requests signed with an unknown key
/// are refused (InvalidAccessKeyId), with an expired one ExpiredToken. Keys can also be read
/// from a file a `credential_process` script appends to (`AK SK EXPIRY_UNIX_SECONDS` a line).
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: Arc<Mutex<Vec<Key>>>,
    file: Option<std::path::PathBuf>,
    expired: Arc<Mutex<u32>>,
}

impl KeyRing {
    /// A ring with one key pair that never expires.
    pub fn with(access_key: &str, secret_key: &str) -> Self {
        let ring = Self::default();
        ring.add(access_key, secret_key, None);
        ring
    }

    /// Also the keys listed in `file`.
    pub fn reading(mut self, file: impl Into<std::path::PathBuf>) -> Self {
        self.file = Some(file.into());
        self
    }

    /// Accepts a key pair until `expiry`.
    pub fn add(&self, access_key: &str, secret_key: &str, expiry: Option<SystemTime>) {
        self.keys
            .lock()
            .unwrap()
            .push((access_key.into(), secret_key.into(), expiry));
    }

    /// Requests refused because their key had expired.
    pub fn expired_refusals(&self) -> u32 {
        *self.expired.lock().unwrap()
    }

    fn lookup(&self, access_key: &str) -> Option<(String, Option<SystemTime>)> {
        let mut keys = self.keys.lock().unwrap().clone();
        if let Some(f) = &self.file
            && let Ok(text) = std::fs::read_to_string(f)
        {
            for line in text.lines() {
                let w: Vec<&str> = line.split_whitespace().collect();
                if let [ak, sk, exp] = w[..] {
                    let exp = exp
                        .parse()
                        .ok()
                        .map(|s| UNIX_EPOCH + Duration::from_secs(s));
                    keys.push((ak.into(), sk.into(), exp));
                }
            }
        }
        keys.into_iter()
            .rev()
            .find(|(ak, _, _)| ak == access_key)
            .map(|(_, sk, exp)| (sk, exp))
    }
}

#[async_trait::async_trait]
impl s3s::auth::S3Auth for KeyRing {
    async fn get_secret_key(&self, access_key: &str) -> s3s::S3Result<s3s::auth::SecretKey> {
        match self.lookup(access_key) {
            None => Err(s3s::s3_error!(InvalidAccessKeyId)),
            Some((_, Some(exp))) if exp <= SystemTime::now() => {
                *self.expired.lock().unwrap() += 1;
                Err(s3s::s3_error!(
                    ExpiredToken,
                    "The provided token has expired."
                ))
            }
            Some((sk, _)) => Ok(s3s::auth::SecretKey::from(sk)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_iso8601() {
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            iso8601(UNIX_EPOCH + Duration::from_secs(1_796_169_600)),
            "2026-12-02T00:00:00Z"
        );
    }
}
