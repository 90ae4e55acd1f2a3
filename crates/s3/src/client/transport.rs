//! [`S3Client`] over reqwest: sending a signed request, reading bodies and errors, timeouts
//! while a body streams, presigned URLs, and the TLS configuration.
//!
//! The read timeout is ferry's, not reqwest's: reqwest's starts when a request is sent and
//! runs until the answer's headers, so a request body that takes longer than the timeout to
//! send (a part under a bandwidth limit) always failed, however steadily its bytes went. Here
//! it bounds silence: no body bytes taken and no answer for that long (see [`Activity`]);
//! answers' bodies are read at a least pace (see [`Pace`]).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, Method};
use tracing::debug;

use crate::config::ClientConfig;
use crate::credentials::Credentials;
use crate::denied::{Denial, Refused};
use crate::endpoint::Target;
use crate::error::{ClientErrorKind, Result, S3Error, ServiceError, error_chain};
use crate::ops::*;
use crate::signing::{self, EMPTY_SHA256, SignableRequest, SigningParams, UNSIGNED_PAYLOAD};
use crate::xml;

use super::clock::{Clock, server_offset};
use super::prepared::*;
use super::region::Regions;
use super::response::*;

/// The S3 client over HTTP. Cheap to clone: clones share the connection pool.
#[derive(Clone, Debug)]
pub struct S3Client {
    pub(super) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) http: reqwest::Client,
    pub(super) config: ClientConfig,
    /// The time requests are signed with.
    clock: Clock,
    /// The buckets in another region than the client's.
    regions: Regions,
}

/// The user agent ferry sends.
pub(super) const USER_AGENT: &str = concat!("ferry/", env!("CARGO_PKG_VERSION"));

/// The most of an error body that is read (S3 error documents are small).
pub(super) const MAX_ERROR_BODY: usize = 64 * 1024;

impl S3Client {
    /// Builds a client. Fails only if the TLS set-up does (an unreadable CA bundle).
    pub fn new(config: ClientConfig) -> Result<Self> {
        let tls = crate::tls::tls_config(
            config.endpoint.scheme() != "http",
            config.ca_bundle_pem.as_deref(),
            config.verify_tls,
        )?;
        let mut builder = reqwest::Client::builder()
            .http1_only()
            .tls_backend_preconfigured(tls)
            .connect_timeout(config.connect_timeout)
            .pool_max_idle_per_host(config.pool_size)
            .pool_idle_timeout(Duration::from_secs(50))
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none());
        if config.endpoint.is_loopback() {
            // Proxies from HTTP_PROXY and friends are for the outside world, never loopback.
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(|e| {
            S3Error::client("client", ClientErrorKind::InvalidRequest, e.to_string()).with_source(e)
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config,
                clock: Clock::default(),
                regions: Regions::default(),
            }),
        })
    }

    /// The settings this client was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Where a request goes, the region it is signed for (its bucket's), and the credentials
    /// that sign it.
    async fn target(
        &self,
        op: &'static str,
        bucket: Option<&str>,
        key: Option<&str>,
        query: &[(String, String)],
    ) -> Result<(Target, String, Credentials)> {
        let cfg = &self.inner.config;
        let region = self.inner.regions.of(cfg, bucket);
        let target = Regions::endpoint(cfg, &region)
            .target(cfg.addressing_style, bucket, key, query)
            .map_err(|e| rename(S3Error::from(e), op))?;
        let creds = cfg
            .credentials
            .credentials()
            .await
            .map_err(|e| rename(S3Error::from(e), op))?;
        Ok((target, region, creds))
    }

    /// How a request for `bucket` is signed now: the clock's correction and the region.
    fn signing(&self, bucket: Option<&str>) -> (i64, String) {
        (
            self.inner.clock.offset(),
            self.inner.regions.of(&self.inner.config, bucket),
        )
    }

    /// Sends a request. One refused (301, 400, 403) after being signed with a time or a region
    /// that has been corrected since (by its own refusal or another's) is sent again, once,
    /// when its body is in memory. A streamed body cannot be sent again: its refusal goes to
    /// the caller, whose next attempt is signed anew (see [`S3Error::is_clock_skew`] and
    /// [`S3Error::is_wrong_region`]).
    pub(super) async fn send(&self, p: Prepared<'_>) -> Result<reqwest::Response> {
        let again = p.try_clone();
        let bucket = p.bucket;
        let signed = self.signing(bucket);
        match self.send_once(p).await {
            Err(e)
                if e.service()
                    .is_some_and(|s| matches!(s.status, 301 | 400 | 403))
                    && self.signing(bucket) != signed =>
            {
                match again {
                    Some(p) => self.send_once(p).await,
                    None => Err(e),
                }
            }
            answer => answer,
        }
    }

    async fn send_once(&self, p: Prepared<'_>) -> Result<reqwest::Response> {
        let cfg = &self.inner.config;
        let op = p.operation;
        let head = p.method == Method::HEAD;
        let (target, region, creds) = self.target(op, p.bucket, p.key, &p.query).await?;
        let payload_hash = match &p.body {
            Body::Bytes(b) if b.is_empty() => EMPTY_SHA256.to_string(),
            Body::Bytes(b) => signing::sha256_hex(b),
            Body::Stream { .. } => UNSIGNED_PAYLOAD.to_string(),
            Body::AwsChunked {
                signed: false,
                trailer: Some(_),
                ..
            } => signing::STREAMING_UNSIGNED_PAYLOAD_TRAILER.to_string(),
            Body::AwsChunked {
                signed: false,
                trailer: None,
                ..
            } => {
                return Err(S3Error::client(
                    op,
                    ClientErrorKind::InvalidRequest,
                    "an unsigned aws-chunked body needs a checksum trailer",
                ));
            }
            Body::AwsChunked {
                trailer: Some(_), ..
            } => signing::STREAMING_SIGNED_PAYLOAD_TRAILER.to_string(),
            Body::AwsChunked { .. } => signing::STREAMING_SIGNED_PAYLOAD.to_string(),
        };
        let mut headers = p.headers;
        if let Body::AwsChunked {
            decoded_length,
            trailer,
            ..
        } = &p.body
        {
            headers.push(("content-encoding".into(), "aws-chunked".into()));
            headers.push((
                "x-amz-decoded-content-length".into(),
                decoded_length.to_string(),
            ));
            if let Some(a) = trailer {
                headers.push(("x-amz-trailer".into(), a.header().into()));
            }
        }
        headers.push(("host".into(), target.host_header.clone()));
        headers.push(("x-amz-content-sha256".into(), payload_hash.clone()));
        let signable = SignableRequest {
            method: p.method.as_str(),
            path: &target.path,
            query: &p.query,
            headers: &headers,
            payload_hash: &payload_hash,
        };
        let params = s3_signing(&creds, &region, self.inner.clock.now());
        let sig = signing::sign_headers(&signable, &params);

        let mut map = HeaderMap::with_capacity(headers.len() + 4);
        for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
            insert(&mut map, k, v, op)?;
        }
        for (k, v) in &sig.headers {
            insert(&mut map, k, v, op)?;
        }
        insert(&mut map, "user-agent", USER_AGENT, op)?;
        let activity = Activity::new();
        let (length, body) = match p.body {
            Body::Bytes(b) => (b.len() as u64, reqwest::Body::from(b)),
            Body::Stream { length, stream } => {
                (length, reqwest::Body::wrap_stream(activity.watch(stream)))
            }
            Body::AwsChunked {
                decoded_length,
                chunk_size,
                trailer,
                signed,
                stream,
            } => {
                let signer = signed.then(|| signing::ChunkSigner::new(&params, &sig.signature));
                (
                    crate::chunked::encoded_length(decoded_length, chunk_size, trailer, signed),
                    reqwest::Body::wrap_stream(
                        activity.watch(crate::chunked::frame(stream, trailer, signer)),
                    ),
                )
            }
        };
        insert(&mut map, "content-length", &length.to_string(), op)?;
        debug!(operation = op, method = %p.method, url = %target.url, "sending");
        let sending = self
            .inner
            .http
            .request(p.method, target.url)
            .headers(map)
            .body(body)
            .send();
        let resp = tokio::select! {
            r = sending => r.map_err(|e| transport_error(op, e, false))?,
            () = activity.silent_for(cfg.read_timeout) => {
                return Err(S3Error::client(
                    op,
                    ClientErrorKind::Timeout,
                    format!(
                        "timed out: no answer, and no request body bytes taken, for {:?}",
                        cfg.read_timeout
                    ),
                ));
            }
        };
        let status = resp.status();
        debug!(operation = op, status = status.as_u16(), "answered");
        if status.is_success() {
            return Ok(resp);
        }
        let server = server_offset(
            resp.headers().get(http::header::DATE),
            std::time::SystemTime::now(),
        );
        let mut err = service_error(op, resp, cfg.read_timeout).await;
        if let Some(offset) = server
            && (err.is_clock_skew() || (status == 403 && head && self.inner.clock.is_far(offset)))
        {
            self.inner.clock.learn(offset);
        }
        if let S3Error::Service(s) = &mut err {
            // Only a refusal for the region keeps the bucket's region: S3 names it on other
            // answers too.
            let elsewhere = matches!(s.status, 301 | 400)
                && p.bucket.is_some()
                && s.region.as_ref().is_some_and(|r| *r != region);
            if !elsewhere {
                s.region = None;
            }
            if let (Some(bucket), Some(r)) = (p.bucket, &s.region) {
                self.inner.regions.learn(cfg, bucket, r);
            }
        }
        if let S3Error::Service(s) = &mut err
            && s.is_denied()
        {
            let refused = Refused {
                operation: op,
                bucket: p.bucket,
                key: p.key,
                query: &p.query,
                headers: &headers,
                region: &region,
            };
            s.denial = Denial::of(&refused, &s.message).map(Box::new);
        }
        Err(err)
    }

    /// Reads a whole (small) response body, at the least pace [`Pace`] allows, except for
    /// the answers S3 keeps alive with whitespace while it works (Complete and the copies):
    /// those only have the read timeout.
    ///
    /// A body that is an `<Error>` document is that error, whatever the status said: no S3
    /// answer has that root on success, and S3 (or something on the way) sends one in a 200
    /// when it fails late.
    pub(super) async fn body(&self, op: &'static str, resp: reqwest::Response) -> Result<Bytes> {
        const KEPT_ALIVE: [&str; 3] = ["CompleteMultipartUpload", "CopyObject", "UploadPartCopy"];
        let headers = resp.headers().clone();
        let window = self.inner.config.read_timeout;
        let mut pace = if KEPT_ALIVE.contains(&op) {
            Pace::silence(window)
        } else {
            Pace::new(window)
        };
        let mut stream = resp.bytes_stream();
        let mut body = Vec::new();
        while let Some(chunk) = pace.next(op, &mut stream).await? {
            body.extend_from_slice(&chunk);
        }
        let body = Bytes::from(body);
        match error_in_body(op, &body, &headers) {
            Some(e) => Err(e),
            None => Ok(body),
        }
    }
}

/// When a request last made progress: when it was sent, then each chunk of its body the
/// connection took (hyper asks for the next chunk once it has written the last). A request
/// silent for the read timeout, neither taking body bytes nor answering, has failed; one whose
/// body is still flowing, however slowly, has not.
#[derive(Clone)]
pub(super) struct Activity(Arc<std::sync::Mutex<tokio::time::Instant>>);

impl Activity {
    fn new() -> Self {
        Self(Arc::new(std::sync::Mutex::new(tokio::time::Instant::now())))
    }

    fn last(&self) -> tokio::time::Instant {
        *self.0.lock().expect("activity lock")
    }

    /// `stream`, marking progress at each chunk it hands over.
    fn watch<S: futures_util::Stream>(
        &self,
        stream: S,
    ) -> impl futures_util::Stream<Item = S::Item> + use<S> {
        let me = self.clone();
        stream.inspect(move |_| *me.0.lock().expect("activity lock") = tokio::time::Instant::now())
    }

    /// Ends once nothing has happened for `limit`.
    async fn silent_for(&self, limit: Duration) {
        loop {
            let deadline = self.last() + limit;
            if tokio::time::Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// The least pace of a response body: at least [`Pace::LEAST`] bytes (or the rest of the body)
/// in every read-timeout window. The read timeout alone bounds silence; a server trickling a
/// byte a second (a slow-loris body) would hold a request forever. What curl's
/// `--speed-limit` does, tied to the read timeout: 1 KiB per 60 s by default.
pub(super) struct Pace {
    window: Duration,
    /// Bytes that must arrive in each window.
    least: u64,
    mark: tokio::time::Instant,
    since_mark: u64,
}

impl Pace {
    /// Bytes that must arrive in each window, by default.
    const LEAST: u64 = 1024;

    pub(super) fn new(window: Duration) -> Self {
        Self {
            window,
            least: Self::LEAST,
            mark: tokio::time::Instant::now(),
            since_mark: 0,
        }
    }

    /// Only silence for a whole window fails: for the answers S3 keeps alive with a space
    /// every so often while it works (Complete and the copies).
    fn silence(window: Duration) -> Self {
        Self {
            least: 1,
            ..Self::new(window)
        }
    }

    /// The next chunk of `stream`, or a timeout if the window ends before the least number of
    /// bytes more have come.
    async fn next<S>(&mut self, op: &'static str, stream: &mut S) -> Result<Option<Bytes>>
    where
        S: futures_util::Stream<Item = reqwest::Result<Bytes>> + Unpin,
    {
        match tokio::time::timeout_at(self.mark + self.window, stream.next()).await {
            Err(_) => Err(S3Error::client(
                op,
                ClientErrorKind::Timeout,
                format!(
                    "timed out: the response body came slower than {} bytes in {:?}",
                    self.least, self.window
                ),
            )),
            Ok(Some(Ok(chunk))) => {
                self.since_mark += chunk.len() as u64;
                if self.since_mark >= self.least {
                    self.mark = tokio::time::Instant::now();
                    self.since_mark = 0;
                }
                Ok(Some(chunk))
            }
            Ok(Some(Err(e))) => Err(transport_error(op, e, true)),
            Ok(None) => Ok(None),
        }
    }
}

pub(super) fn rename(e: S3Error, op: &'static str) -> S3Error {
    match e {
        S3Error::Client(mut c) => {
            c.operation = op;
            S3Error::Client(c)
        }
        other => other,
    }
}

pub(super) fn insert(map: &mut HeaderMap, k: &str, v: &str, op: &'static str) -> Result<()> {
    let name = http::HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
        S3Error::client(
            op,
            ClientErrorKind::InvalidRequest,
            format!("bad header name {k:?}"),
        )
    })?;
    let value = http::HeaderValue::from_str(v).map_err(|_| {
        S3Error::client(
            op,
            ClientErrorKind::InvalidRequest,
            format!("the value of header {k} cannot be sent (control or non-ASCII characters)"),
        )
    })?;
    map.append(name, value);
    Ok(())
}

/// How S3 requests are signed at `time` with `creds` for `region`.
fn s3_signing<'a>(
    creds: &'a crate::credentials::Credentials,
    region: &'a str,
    time: time::OffsetDateTime,
) -> SigningParams<'a> {
    SigningParams {
        access_key_id: &creds.access_key_id,
        secret_access_key: creds.secret_access_key.expose(),
        session_token: creds.session_token.as_ref().map(|t| t.expose()),
        region,
        service: "s3",
        time,
        normalize_path: false,
    }
}

/// Maps a reqwest failure to a client error kind. `reading_body`: the failure happened while
/// reading the response body (so it was cut short).
pub(super) fn transport_error(op: &'static str, e: reqwest::Error, reading_body: bool) -> S3Error {
    let chain = error_chain(&e);
    let (kind, message) = if let Some(r) = find_rustls_error(&e) {
        let hint = tls_hint(r).map(|h| format!(" ({h})")).unwrap_or_default();
        (
            ClientErrorKind::Tls,
            format!("TLS handshake failed: {r}{hint}"),
        )
    } else if e.is_timeout() {
        (ClientErrorKind::Timeout, format!("timed out: {chain}"))
    } else if e.is_connect() {
        (ClientErrorKind::Connect, format!("cannot connect: {chain}"))
    } else if reading_body || e.is_body() || e.is_decode() {
        (
            ClientErrorKind::BodyCutShort,
            format!("the response body was cut short: {chain}"),
        )
    } else {
        (
            ClientErrorKind::Network,
            format!("connection failed: {chain}"),
        )
    };
    S3Error::client(op, kind, message).with_source(e)
}

/// What to do about a failed TLS handshake, where its error says: a certificate not trusted
/// wants its CA; an answer that is no TLS at all comes from a server of plain HTTP.
fn tls_hint(e: &rustls::Error) -> Option<&'static str> {
    match e {
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => Some(
            "to trust a private CA, point AWS_CA_BUNDLE or the profile's ca_bundle at its PEM \
             file (ferry's --ca-bundle FILE)",
        ),
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => Some(
            "the server did not answer in TLS: if it serves plain HTTP, its endpoint is http://",
        ),
        _ => None,
    }
}

/// The TLS error somewhere in a chain. `io::Error` hides what it wraps from `source()`, and
/// the TLS stack nests them, so look inside each one.
pub(super) fn find_rustls_error<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    if let Some(r) = e.downcast_ref::<rustls::Error>() {
        return Some(r);
    }
    if let Some(inner) = e
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        let inner: &(dyn std::error::Error + 'static) = inner;
        if let Some(r) = find_rustls_error(inner) {
            return Some(r);
        }
    }
    e.source().and_then(find_rustls_error)
}

/// The error an answer that is not a success carries; its body is read (up to
/// [`MAX_ERROR_BODY`]) at the least pace [`Pace`] allows within `window`, and what came is used.
pub(super) async fn service_error(
    op: &'static str,
    resp: reqwest::Response,
    window: Duration,
) -> S3Error {
    let status = resp.status();
    let headers = resp.headers().clone();
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    let mut pace = Pace::new(window);
    while let Ok(Some(chunk)) = pace.next(op, &mut stream).await {
        body.extend_from_slice(&chunk);
        if body.len() >= MAX_ERROR_BODY {
            break;
        }
    }
    let parsed = (xml::root_element(&body).as_deref() == Some("Error"))
        .then(|| xml::parse::<xml::ErrorXml>(&body).ok())
        .flatten();
    let (code, message, body_request_id, body_region, unnamed) = match parsed {
        Some(e) if !e.code.is_empty() => (e.code, e.message, e.request_id, e.region, false),
        _ => {
            let code = status_code_name(status).to_string();
            (code, foreign_body(&body), None, None, true)
        }
    };
    ServiceError {
        unnamed,
        request_id: header(&headers, "x-amz-request-id").or(body_request_id),
        retry_after: retry_after(&headers),
        region: header(&headers, "x-amz-bucket-region").or(body_region),
        delete_marker: header(&headers, "x-amz-delete-marker").is_some_and(|v| v == "true"),
        ..ServiceError::new(op, status.as_u16(), code, message)
    }
    .into()
}

/// What an error answer's body that is no S3 `<Error>` says, on one line: an HTML page by its
/// title, anything else by its first 200 characters.
fn foreign_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let lower = text.to_ascii_lowercase();
    let title = lower
        .find("<title>")
        .map(|at| at + "<title>".len())
        .and_then(|start| Some(start..start + lower[start..].find("</title>")?))
        .map(|at| text[at].trim().to_string());
    match title {
        Some(title) => format!("an HTML page titled {title:?}"),
        None if lower.trim_start().starts_with("<!doctype html") || lower.contains("<html") => {
            "an HTML page".to_string()
        }
        None => {
            let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
            line.chars().take(200).collect()
        }
    }
}

/// A 200 answer's body that may be an `<Error>` (Complete, and later the copy operations).
pub(super) fn error_in_body(op: &'static str, body: &[u8], headers: &HeaderMap) -> Option<S3Error> {
    if xml::root_element(body).as_deref() != Some("Error") {
        return None;
    }
    let e = xml::parse::<xml::ErrorXml>(body).ok()?;
    Some(
        ServiceError {
            request_id: header(headers, "x-amz-request-id").or(e.request_id),
            retry_after: retry_after(headers),
            ..ServiceError::new(op, 200, e.code, e.message)
        }
        .into(),
    )
}

/// The response body as a stream that fails when it is cut short or runs long: hyper reports
/// most early ends itself; this also catches a clean close before `Content-Length`.
pub(super) fn checked_body(resp: reqwest::Response, expected: u64, window: Duration) -> ByteStream {
    const OP: &str = "GetObject";
    let state = (
        Box::pin(resp.bytes_stream()),
        Pace::new(window),
        0u64,
        false,
    );
    Box::pin(futures_util::stream::unfold(
        state,
        move |(mut inner, mut pace, mut seen, done)| async move {
            if done {
                return None;
            }
            match pace.next(OP, &mut inner).await {
                Ok(Some(chunk)) => {
                    seen += chunk.len() as u64;
                    if seen > expected {
                        let e = invalid(
                            OP,
                            format!("the body is longer than its Content-Length {expected}"),
                        );
                        return Some((Err(e), (inner, pace, seen, true)));
                    }
                    Some((Ok(chunk), (inner, pace, seen, false)))
                }
                Err(e) => Some((Err(e), (inner, pace, seen, true))),
                Ok(None) if seen < expected => {
                    let e = S3Error::client(
                        OP,
                        ClientErrorKind::BodyCutShort,
                        format!("the body ended after {seen} of {expected} bytes"),
                    );
                    Some((Err(e), (inner, pace, seen, true)))
                }
                Ok(None) => None,
            }
        },
    ))
}

impl S3Client {
    /// A presigned URL for `method` (GET or PUT) on an object, valid for `expires_in` (1 s to
    /// 7 days, S3's limits). Anyone holding the URL can use it until then. Signed for the
    /// bucket's region as this client knows it: the configured one, unless a request to the
    /// bucket was refused for another (a HEAD of the object first learns it). Signed with
    /// temporary credentials, the URL stops working when they expire, if that is sooner
    /// (S3 user guide, "Sharing objects with presigned URLs"): [`Presigned`] says until when.
    pub async fn presign(
        &self,
        method: Method,
        bucket: &str,
        key: &str,
        expires_in: Duration,
    ) -> Result<Presigned> {
        const OP: &str = "presign";
        let secs = expires_in.as_secs();
        // Source: Amazon S3 API reference, "Authenticating Requests: Using Query Parameters".
        if !(1..=604_800).contains(&secs) {
            return Err(S3Error::client(
                OP,
                ClientErrorKind::InvalidRequest,
                format!("a presigned URL lasts 1 to 604800 seconds (7 days), not {secs}"),
            ));
        }
        let cfg = &self.inner.config;
        let (target, region, creds) = self.target(OP, Some(bucket), Some(key), &[]).await?;
        let headers = vec![("host".to_string(), target.host_header.clone())];
        let signable = SignableRequest {
            method: method.as_str(),
            path: &target.path,
            query: &[],
            headers: &headers,
            payload_hash: UNSIGNED_PAYLOAD,
        };
        let now = self.inner.clock.now();
        let params = s3_signing(&creds, &region, now);
        let sig = signing::sign_query(&signable, &params, secs);
        let signed = Regions::endpoint(cfg, &region)
            .target(cfg.addressing_style, Some(bucket), Some(key), &sig.params)
            .map_err(|e| rename(S3Error::from(e), OP))?;
        let asked = std::time::SystemTime::from(now) + expires_in;
        let until = creds.expires_at.map_or(asked, |e| e.min(asked));
        Ok(Presigned {
            url: signed.url,
            valid_until: until,
            credentials_expire_first: until < asked,
            expiry_unknown: creds.expires_at.is_none() && creds.session_token.is_some(),
        })
    }
}

/// A presigned URL, and until when it works.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Presigned {
    /// The URL.
    pub url: url::Url,
    /// When it stops working: the expiry asked for, or sooner, when the temporary credentials
    /// that signed it expire.
    pub valid_until: std::time::SystemTime,
    /// Whether the credentials expire before the expiry asked for.
    pub credentials_expire_first: bool,
    /// Whether it was signed with temporary keys (a session token) whose expiry their source
    /// did not give: the URL stops working when they expire, which may come first.
    pub expiry_unknown: bool,
}

impl S3Client {
    /// The headers and ETag of a write's answer. An answer without an ETag may be an
    /// `<Error>` inside a 200 (S3 documents it for Complete and copies; a proxy or a server in
    /// trouble can send it anywhere): that error, retryable or not as its code says.
    pub(super) async fn etag_of(
        &self,
        op: &'static str,
        resp: reqwest::Response,
    ) -> Result<(HeaderMap, String)> {
        let h = resp.headers().clone();
        if let Some(etag) = header(&h, "etag") {
            return Ok((h, etag));
        }
        // `body` returns the error an `<Error>` body holds.
        self.body(op, resp).await?;
        Err(invalid(op, "the answer has no ETag"))
    }

    /// Sends `p` and reads its XML answer (an `<Error>` inside a 200 is that error), with the
    /// answer's headers.
    pub(super) async fn send_xml<T: for<'de> serde::Deserialize<'de>>(
        &self,
        p: Prepared<'_>,
    ) -> Result<(T, HeaderMap)> {
        let op = p.operation;
        let resp = self.send(p).await?;
        let h = resp.headers().clone();
        let body = self.body(op, resp).await?;
        let r = xml::parse(&body).map_err(|e| invalid(op, e))?;
        Ok((r, h))
    }
}

#[cfg(test)]
mod tests {
    use super::foreign_body;

    #[test]
    fn a_foreign_error_body_is_told_on_one_line() {
        let page = b"<!DOCTYPE html>\n<HTML><HEAD><TITLE> 502 Bad Gateway </TITLE></HEAD></HTML>";
        assert_eq!(
            foreign_body(page),
            "an HTML page titled \"502 Bad Gateway\""
        );
        assert_eq!(foreign_body(b"<html><body>x</body></html>"), "an HTML page");
        assert_eq!(foreign_body(b"  no such\n\n   thing \n"), "no such thing");
        assert_eq!(foreign_body(&[b'a'; 300]).len(), 200);
        assert_eq!(foreign_body(b""), "");
    }
}
