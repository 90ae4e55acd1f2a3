//! aws-config's HTTP requests (STS, SSO, the container endpoint, IMDS) made with reqwest,
//! configured as ferry's S3 client is: the same TLS (ring; `--ca-bundle`, `AWS_CA_BUNDLE`,
//! the profile's `ca_bundle`; `--no-verify-ssl`) and proxies from the environment, never for
//! a loopback or link-local address (the container endpoint, IMDS). Each provider's timeouts
//! are kept (IMDS connects within 1 s).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

use super::ChainSettings;

/// The reqwest clients, one per kind of request, made when first needed.
#[derive(Clone)]
pub(crate) struct ReqwestHttpClient {
    settings: Arc<ChainSettings>,
    clients: Arc<Mutex<HashMap<Kind, reqwest::Client>>>,
}

impl std::fmt::Debug for ReqwestHttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReqwestHttpClient")
    }
}

/// What a client is built for: TLS or not, a proxy or not, and the provider's timeouts.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Kind {
    https: bool,
    local: bool,
    connect: Option<Duration>,
    read: Option<Duration>,
}

impl ReqwestHttpClient {
    pub(crate) fn new(settings: ChainSettings) -> Self {
        Self {
            settings: Arc::new(settings),
            clients: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn client(&self, kind: Kind) -> Result<reqwest::Client, ConnectorError> {
        if let Some(c) = self.clients.lock().expect("http clients lock").get(&kind) {
            return Ok(c.clone());
        }
        let tls = crate::tls::tls_config(
            kind.https,
            self.settings.ca_bundle_pem.as_deref(),
            !self.settings.no_verify_tls,
        )
        .map_err(|e| ConnectorError::user(Box::new(e)))?;
        let mut b = reqwest::Client::builder()
            .http1_only()
            .tls_backend_preconfigured(tls)
            .connect_timeout(kind.connect.unwrap_or(Duration::from_secs(10)))
            .read_timeout(kind.read.unwrap_or(Duration::from_secs(60)))
            .redirect(reqwest::redirect::Policy::none());
        if kind.local {
            b = b.no_proxy();
        }
        let c = b.build().map_err(|e| ConnectorError::user(Box::new(e)))?;
        self.clients
            .lock()
            .expect("http clients lock")
            .insert(kind, c.clone());
        Ok(c)
    }
}

impl HttpClient for ReqwestHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(Connector {
            client: self.clone(),
            connect: settings.connect_timeout(),
            read: settings.read_timeout(),
        })
    }
}

#[derive(Debug)]
struct Connector {
    client: ReqwestHttpClient,
    connect: Option<Duration>,
    read: Option<Duration>,
}

/// A loopback or link-local host (the container endpoint, IMDS): never through a proxy.
fn is_local(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => a.is_loopback() || a.is_link_local(),
        Ok(IpAddr::V6(a)) => a.is_loopback() || (a.segments()[0] & 0xffc0) == 0xfe80,
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (client, connect, read) = (self.client.clone(), self.connect, self.read);
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::user(Box::new(e)))?;
            let (parts, body) = request.into_parts();
            let body = body.bytes().map(<[u8]>::to_vec).ok_or_else(|| {
                ConnectorError::user("a credentials request with a streaming body".into())
            })?;
            let kind = Kind {
                https: parts.uri.scheme_str() == Some("https"),
                local: parts.uri.host().is_some_and(is_local),
                connect,
                read,
            };
            let http = client.client(kind)?;
            let resp = http
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(connector_error)?;
            let mut out = http::Response::builder().status(resp.status());
            for (k, v) in resp.headers() {
                out = out.header(k, v);
            }
            let bytes = resp.bytes().await.map_err(connector_error)?;
            let out = out
                .body(SdkBody::from(bytes))
                .map_err(|e| ConnectorError::other(Box::new(e), None))?;
            HttpResponse::try_from(out).map_err(|e| ConnectorError::other(Box::new(e), None))
        })
    }
}

fn connector_error(e: reqwest::Error) -> ConnectorError {
    if e.is_timeout() {
        ConnectorError::timeout(Box::new(e))
    } else if e.is_connect() {
        ConnectorError::io(Box::new(e))
    } else {
        ConnectorError::other(Box::new(e), None)
    }
}

#[cfg(test)]
mod tests {
    use super::is_local;

    #[test]
    fn loopback_and_link_local_hosts_skip_proxies() {
        for h in [
            "127.0.0.1",
            "169.254.169.254",
            "169.254.170.2",
            "[::1]",
            "localhost",
        ] {
            assert!(is_local(h), "{h}");
        }
        for h in ["sts.amazonaws.com", "10.0.0.1", "[fd00:ec2::254]"] {
            assert!(!is_local(h), "{h}");
        }
    }
}
