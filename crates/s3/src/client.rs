//! The [`ObjectClient`] trait (the seam the engine is generic over) and [`S3Client`], its
//! implementation over reqwest: HTTP/1.1 only, rustls with ring, one connection pool, connect
//! and idle-read timeouts, proxies from the environment except for loopback endpoints.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, Method, StatusCode};
use tracing::debug;

use crate::config::ClientConfig;
use crate::error::{ClientErrorKind, Result, S3Error, ServiceError};
use crate::ops::*;
use crate::options::{
    CANNED_ACLS, ChecksumAlgorithm, ChecksumType, ChecksumValue, Grantee, RequestOptions,
};
use crate::signing::{self, EMPTY_SHA256, SignableRequest, SigningParams, UNSIGNED_PAYLOAD};
use crate::xml;

/// The S3 operations ferry needs, one method each. The engine is generic over this trait, so
/// it runs against [`S3Client`], a mock, or a failure-injecting wrapper.
pub trait ObjectClient: Send + Sync + 'static {
    /// CreateMultipartUpload.
    fn create_multipart_upload(
        &self,
        req: &CreateMultipartUploadRequest,
    ) -> impl Future<Output = Result<CreateMultipartUploadOutput>> + Send;
    /// UploadPart. Takes the request by value: its body is consumed.
    fn upload_part(
        &self,
        req: UploadPartRequest,
    ) -> impl Future<Output = Result<UploadPartOutput>> + Send;
    /// CompleteMultipartUpload. A 200 whose body is `<Error>` is an error.
    fn complete_multipart_upload(
        &self,
        req: &CompleteMultipartUploadRequest,
    ) -> impl Future<Output = Result<CompleteMultipartUploadOutput>> + Send;
    /// AbortMultipartUpload.
    fn abort_multipart_upload(
        &self,
        req: &AbortMultipartUploadRequest,
    ) -> impl Future<Output = Result<()>> + Send;
    /// ListParts, one page.
    fn list_parts(
        &self,
        req: &ListPartsRequest,
    ) -> impl Future<Output = Result<ListPartsOutput>> + Send;
    /// ListMultipartUploads, one page.
    fn list_multipart_uploads(
        &self,
        req: &ListMultipartUploadsRequest,
    ) -> impl Future<Output = Result<ListMultipartUploadsOutput>> + Send;
    /// ListObjectsV2, one page.
    fn list_objects(
        &self,
        req: &ListObjectsRequest,
    ) -> impl Future<Output = Result<ListObjectsOutput>> + Send;
    /// PutObject. Takes the request by value: its body is consumed.
    fn put_object(
        &self,
        req: PutObjectRequest,
    ) -> impl Future<Output = Result<PutObjectOutput>> + Send;
    /// GetObject: the headers now, the body as a stream.
    fn get_object(
        &self,
        req: &GetObjectRequest,
    ) -> impl Future<Output = Result<GetObjectOutput>> + Send;
    /// HeadObject.
    fn head_object(
        &self,
        req: &GetObjectRequest,
    ) -> impl Future<Output = Result<ObjectMeta>> + Send;
    /// CreateBucket.
    fn create_bucket(&self, req: &CreateBucketRequest) -> impl Future<Output = Result<()>> + Send;
    /// DeleteObject.
    fn delete_object(&self, req: &DeleteObjectRequest) -> impl Future<Output = Result<()>> + Send;
    /// UploadPartCopy. A 200 whose body is `<Error>` is an error.
    fn upload_part_copy(
        &self,
        req: &UploadPartCopyRequest,
    ) -> impl Future<Output = Result<UploadPartCopyOutput>> + Send;
    /// CopyObject. A 200 whose body is `<Error>` is an error.
    fn copy_object(
        &self,
        req: &CopyObjectRequest,
    ) -> impl Future<Output = Result<CopyObjectOutput>> + Send;
    /// GetObjectAttributes, with one page of parts.
    fn get_object_attributes(
        &self,
        req: &GetObjectAttributesRequest,
    ) -> impl Future<Output = Result<GetObjectAttributesOutput>> + Send;
    /// PutObjectAcl.
    fn put_object_acl(&self, req: &PutObjectAclRequest) -> impl Future<Output = Result<()>> + Send;
    /// GetObjectAcl.
    fn get_object_acl(
        &self,
        req: &GetObjectAclRequest,
    ) -> impl Future<Output = Result<AccessControlPolicy>> + Send;
    /// PutObjectTagging (replaces all tags).
    fn put_object_tagging(
        &self,
        req: &PutObjectTaggingRequest,
    ) -> impl Future<Output = Result<()>> + Send;
    /// GetObjectTagging.
    fn get_object_tagging(
        &self,
        req: &GetObjectTaggingRequest,
    ) -> impl Future<Output = Result<Vec<(String, String)>>> + Send;
    /// Forget cached credentials, so the next request fetches fresh ones (after
    /// `ExpiredToken`). By default, does nothing.
    fn refresh_credentials(&self) {}

    /// The server this client talks to, as journals record it (so an interrupted transfer is
    /// only ever resumed against the same server). By default, empty.
    fn endpoint(&self) -> String {
        String::new()
    }
}

/// Every part of an upload, following `NextPartNumberMarker` page by page from `req`'s
/// marker.
pub async fn list_all_parts<C: ObjectClient>(
    client: &C,
    req: &ListPartsRequest,
) -> Result<Vec<PartInfo>> {
    let mut parts = Vec::new();
    let mut marker: Option<u32> = req.part_number_marker;
    loop {
        let page = client
            .list_parts(&ListPartsRequest {
                part_number_marker: marker,
                ..req.clone()
            })
            .await?;
        parts.extend(page.parts);
        match page.next_part_number_marker {
            Some(next) if marker.is_none_or(|m| next > m) => marker = Some(next),
            Some(next) => {
                return Err(S3Error::client(
                    "ListParts",
                    ClientErrorKind::InvalidResponse,
                    format!("the server's next part marker {next} does not advance; stopping"),
                ));
            }
            None => return Ok(parts),
        }
    }
}

/// Every object under a prefix, page by page, following `NextContinuationToken`. A page that
/// fails is asked for again on its own (the pages before it kept) for as long as `retry`,
/// given the error and the retry's number (1-based), returns how long to wait first; expired
/// credentials are refreshed before such a retry.
pub async fn list_all_objects<C: ObjectClient>(
    client: &C,
    req: &ListObjectsRequest,
    mut retry: impl FnMut(&S3Error, u32) -> Option<Duration>,
) -> Result<Vec<ObjectInfo>> {
    let mut objects = Vec::new();
    let mut req = req.clone();
    let mut retries = 0;
    loop {
        let page = match client.list_objects(&req).await {
            Ok(page) => page,
            Err(e) => {
                retries += 1;
                let Some(wait) = retry(&e, retries) else {
                    return Err(e);
                };
                if e.is_expired_credentials() {
                    client.refresh_credentials();
                }
                tokio::time::sleep(wait).await;
                continue;
            }
        };
        retries = 0;
        objects.extend(page.objects);
        match page.next_continuation_token {
            Some(next) if req.continuation_token.as_ref() != Some(&next) => {
                req.continuation_token = Some(next);
            }
            Some(_) => {
                return Err(S3Error::client(
                    "ListObjectsV2",
                    ClientErrorKind::InvalidResponse,
                    "the server's continuation token does not advance; stopping",
                ));
            }
            None => return Ok(objects),
        }
    }
}

/// Every in-progress upload in a bucket (under a prefix), page by page. Sends back exactly
/// the markers the server gave: S3 gives both `NextKeyMarker` and `NextUploadIdMarker`;
/// SeaweedFS orders uploads by id and gives only `NextUploadIdMarker`, and inventing a key
/// marker for it would skip uploads. An upload listed twice is kept once.
pub async fn list_all_uploads<C: ObjectClient>(
    client: &C,
    req: &ListMultipartUploadsRequest,
) -> Result<Vec<UploadInfo>> {
    let mut uploads: Vec<UploadInfo> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut markers = (req.key_marker.clone(), req.upload_id_marker.clone());
    loop {
        let page = client
            .list_multipart_uploads(&ListMultipartUploadsRequest {
                key_marker: markers.0.clone(),
                upload_id_marker: markers.1.clone(),
                ..req.clone()
            })
            .await?;
        for u in page.uploads {
            if seen.insert((u.key.clone(), u.upload_id.clone())) {
                uploads.push(u);
            }
        }
        if !page.is_truncated {
            return Ok(uploads);
        }
        let next = (page.next_key_marker, page.next_upload_id_marker);
        if next == markers {
            return Err(S3Error::client(
                "ListMultipartUploads",
                ClientErrorKind::InvalidResponse,
                "the server's next markers do not advance; stopping",
            ));
        }
        markers = next;
    }
}

/// The S3 client over HTTP. Cheap to clone: clones share the connection pool.
#[derive(Clone, Debug)]
pub struct S3Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    config: ClientConfig,
}

/// One request before signing.
struct Prepared<'a> {
    operation: &'static str,
    method: Method,
    bucket: Option<&'a str>,
    key: Option<&'a str>,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Body,
}

impl<'a> Prepared<'a> {
    fn new(operation: &'static str, method: Method, bucket: &'a str, key: Option<&'a str>) -> Self {
        Self {
            operation,
            method,
            bucket: Some(bucket),
            key,
            query: Vec::new(),
            headers: Vec::new(),
            body: Body::Bytes(Bytes::new()),
        }
    }

    fn query(mut self, k: &str, v: impl Into<String>) -> Self {
        self.query.push((k.to_string(), v.into()));
        self
    }

    fn header(mut self, k: &str, v: impl Into<String>) -> Self {
        self.headers.push((k.to_string(), v.into()));
        self
    }

    fn header_opt(self, k: &str, v: Option<impl Into<String>>) -> Self {
        match v {
            Some(v) => self.header(k, v),
            None => self,
        }
    }

    /// SSE-C, expected owner and requester-pays headers (requests that touch object data).
    fn request(mut self, r: &RequestOptions) -> Self {
        r.push_headers(&mut self.headers);
        self
    }

    /// Expected owner and requester-pays headers (requests that do not touch object data).
    fn owner(mut self, r: &RequestOptions) -> Self {
        r.push_owner_headers(&mut self.headers);
        self
    }

    /// `x-amz-copy-source` and the conditions and SSE-C key of the source.
    fn copy_source(
        mut self,
        source: &CopySource,
        conditions: &CopyConditions,
        key: Option<&crate::options::SseCustomerKey>,
    ) -> Self {
        let mut v = format!(
            "/{}/{}",
            source.bucket,
            crate::signing::uri_encode_path(&source.key)
        );
        if let Some(id) = &source.version_id {
            v.push_str("?versionId=");
            v.push_str(&crate::signing::uri_encode(id));
        }
        self = self
            .header("x-amz-copy-source", v)
            .header_opt("x-amz-copy-source-if-match", conditions.if_match.clone())
            .header_opt(
                "x-amz-copy-source-if-none-match",
                conditions.if_none_match.clone(),
            )
            .header_opt(
                "x-amz-copy-source-if-modified-since",
                conditions.if_modified_since.clone(),
            )
            .header_opt(
                "x-amz-copy-source-if-unmodified-since",
                conditions.if_unmodified_since.clone(),
            );
        if let Some(k) = key {
            self.headers.extend(k.headers(true));
        }
        self
    }

    /// An XML body with its Content-MD5 (S3 requires one on ACL and tagging bodies).
    fn xml_body(mut self, xml: String) -> Self {
        use base64::Engine as _;
        use md5::Digest as _;
        let md5 =
            base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(xml.as_bytes()));
        self = self
            .header("content-type", "application/xml")
            .header("content-md5", md5);
        self.body = Body::Bytes(Bytes::from(xml));
        self
    }

    fn checksum(self, c: Option<&ChecksumValue>) -> Self {
        match c {
            Some(c) => self.header(c.algorithm.header(), c.value.clone()),
            None => self,
        }
    }
}

/// The user agent ferry sends.
const USER_AGENT: &str = concat!("ferry/", env!("CARGO_PKG_VERSION"));

/// The most of an error body that is read (S3 error documents are small).
const MAX_ERROR_BODY: usize = 64 * 1024;

impl S3Client {
    /// Builds a client. Fails only if the TLS set-up does (an unreadable CA bundle).
    pub fn new(config: ClientConfig) -> Result<Self> {
        let tls = tls_config(&config)?;
        let mut builder = reqwest::Client::builder()
            .http1_only()
            .tls_backend_preconfigured(tls)
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
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
            inner: Arc::new(Inner { http, config }),
        })
    }

    /// The settings this client was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    async fn send(&self, p: Prepared<'_>) -> Result<reqwest::Response> {
        let cfg = &self.inner.config;
        let op = p.operation;
        let target = cfg
            .endpoint
            .target(cfg.addressing_style, p.bucket, p.key, &p.query)
            .map_err(|e| rename(S3Error::from(e), op))?;
        let creds = cfg
            .credentials
            .credentials()
            .await
            .map_err(|e| rename(S3Error::from(e), op))?;
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
        let params = SigningParams {
            access_key_id: &creds.access_key_id,
            secret_access_key: creds.secret_access_key.expose(),
            session_token: creds.session_token.as_ref().map(|t| t.expose()),
            region: &cfg.region,
            service: "s3",
            time: time::OffsetDateTime::now_utc(),
            normalize_path: false,
        };
        let sig = signing::sign_headers(&signable, &params);

        let mut map = HeaderMap::with_capacity(headers.len() + 4);
        for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
            insert(&mut map, k, v, op)?;
        }
        for (k, v) in &sig.headers {
            insert(&mut map, k, v, op)?;
        }
        insert(&mut map, "user-agent", USER_AGENT, op)?;
        let (length, body) = match p.body {
            Body::Bytes(b) => (b.len() as u64, reqwest::Body::from(b)),
            Body::Stream { length, stream } => (length, reqwest::Body::wrap_stream(stream)),
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
                    reqwest::Body::wrap_stream(crate::chunked::frame(stream, trailer, signer)),
                )
            }
        };
        insert(&mut map, "content-length", &length.to_string(), op)?;
        debug!(operation = op, method = %p.method, url = %target.url, "sending");
        let resp = self
            .inner
            .http
            .request(p.method, target.url)
            .headers(map)
            .body(body)
            .send()
            .await
            .map_err(|e| transport_error(op, e, false))?;
        let status = resp.status();
        debug!(operation = op, status = status.as_u16(), "answered");
        if status.is_success() {
            return Ok(resp);
        }
        Err(service_error(op, resp).await)
    }

    /// Reads a whole (small) response body, at the least pace [`Pace`] allows, except for
    /// the answers S3 keeps alive with whitespace while it works (Complete and the copies):
    /// those only have the read timeout.
    ///
    /// A body that is an `<Error>` document is that error, whatever the status said: no S3
    /// answer has that root on success, and S3 (or something on the way) sends one in a 200
    /// when it fails late.
    async fn body(&self, op: &'static str, resp: reqwest::Response) -> Result<Bytes> {
        const KEPT_ALIVE: [&str; 3] = ["CompleteMultipartUpload", "CopyObject", "UploadPartCopy"];
        let headers = resp.headers().clone();
        let body = if KEPT_ALIVE.contains(&op) {
            resp.bytes()
                .await
                .map_err(|e| transport_error(op, e, true))?
        } else {
            let mut pace = Pace::new(self.inner.config.read_timeout);
            let mut stream = resp.bytes_stream();
            let mut body = Vec::new();
            while let Some(chunk) = pace.next(op, &mut stream).await? {
                body.extend_from_slice(&chunk);
            }
            Bytes::from(body)
        };
        match error_in_body(op, &body, &headers) {
            Some(e) => Err(e),
            None => Ok(body),
        }
    }
}

/// The least pace of a response body: at least [`Pace::LEAST`] bytes (or the rest of the body)
/// in every read-timeout window. The read timeout alone bounds silence; a server trickling a
/// byte a second (a slow-loris body) would hold a request forever. What curl's
/// `--speed-limit` does, tied to the read timeout: 1 KiB per 60 s by default.
struct Pace {
    window: Duration,
    mark: tokio::time::Instant,
    since_mark: u64,
}

impl Pace {
    /// Bytes that must arrive in each window.
    const LEAST: u64 = 1024;

    fn new(window: Duration) -> Self {
        Self {
            window,
            mark: tokio::time::Instant::now(),
            since_mark: 0,
        }
    }

    /// The next chunk of `stream`, or a timeout if the window ends before [`Pace::LEAST`]
    /// more bytes have come.
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
                    Self::LEAST,
                    self.window
                ),
            )),
            Ok(Some(Ok(chunk))) => {
                self.since_mark += chunk.len() as u64;
                if self.since_mark >= Self::LEAST {
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

fn rename(e: S3Error, op: &'static str) -> S3Error {
    match e {
        S3Error::Client(mut c) => {
            c.operation = op;
            S3Error::Client(c)
        }
        other => other,
    }
}

fn insert(map: &mut HeaderMap, k: &str, v: &str, op: &'static str) -> Result<()> {
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

/// Maps a reqwest failure to a client error kind. `reading_body`: the failure happened while
/// reading the response body (so it was cut short).
fn transport_error(op: &'static str, e: reqwest::Error, reading_body: bool) -> S3Error {
    let tls = find_rustls_error(&e).map(|r| r.to_string());
    let chain = error_chain(&e);
    let (kind, message) = if let Some(t) = tls {
        (
            ClientErrorKind::Tls,
            format!(
                "TLS handshake failed: {t} (to trust a private CA, give --ca-bundle FILE or set AWS_CA_BUNDLE)"
            ),
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

/// The TLS error somewhere in a chain. `io::Error` hides what it wraps from `source()`, and
/// the TLS stack nests them, so look inside each one.
fn find_rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
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

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        src = s.source();
    }
    parts.join(": ")
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The object's `Content-Encoding`, without `aws-chunked`: that token says how an upload's
/// body was framed, not what the object is. S3 never stores it, but some servers (SeaweedFS
/// 4.48; Ceph RGW before its fix) hand it back, and a copy must not carry it on.
fn object_encoding(h: &HeaderMap) -> Option<String> {
    let kept: Vec<&str> = h
        .get_all("content-encoding")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!kept.is_empty()).then(|| kept.join(","))
}

fn retry_after(h: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = header(h, "x-amz-retry-after").and_then(|v| v.trim().parse::<u64>().ok()) {
        return Some(Duration::from_millis(ms));
    }
    header(h, "retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

fn status_code_name(status: StatusCode) -> &'static str {
    match status.as_u16() {
        301 => "PermanentRedirect",
        304 => "NotModified",
        400 => "BadRequest",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        412 => "PreconditionFailed",
        416 => "InvalidRange",
        429 => "TooManyRequests",
        500 => "InternalError",
        501 => "NotImplemented",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => "UnknownError",
    }
}

async fn service_error(op: &'static str, resp: reqwest::Response) -> S3Error {
    let status = resp.status();
    let headers = resp.headers().clone();
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        body.extend_from_slice(&chunk);
        if body.len() >= MAX_ERROR_BODY {
            break;
        }
    }
    let parsed = (xml::root_element(&body).as_deref() == Some("Error"))
        .then(|| xml::parse::<xml::ErrorXml>(&body).ok())
        .flatten();
    let (code, message, body_request_id) = match parsed {
        Some(e) if !e.code.is_empty() => (e.code, e.message, e.request_id),
        _ => {
            let shown: String = String::from_utf8_lossy(&body).chars().take(200).collect();
            (
                status_code_name(status).to_string(),
                shown.trim().to_string(),
                None,
            )
        }
    };
    S3Error::Service(Box::new(ServiceError {
        operation: op,
        status: status.as_u16(),
        code,
        message,
        request_id: header(&headers, "x-amz-request-id").or(body_request_id),
        retry_after: retry_after(&headers),
    }))
}

/// A 200 answer's body that may be an `<Error>` (Complete, and later the copy operations).
fn error_in_body(op: &'static str, body: &[u8], headers: &HeaderMap) -> Option<S3Error> {
    if xml::root_element(body).as_deref() != Some("Error") {
        return None;
    }
    let e = xml::parse::<xml::ErrorXml>(body).ok()?;
    Some(S3Error::Service(Box::new(ServiceError {
        operation: op,
        status: 200,
        code: e.code,
        message: e.message,
        request_id: header(headers, "x-amz-request-id").or(e.request_id),
        retry_after: retry_after(headers),
    })))
}

fn invalid(op: &'static str, msg: impl Into<String>) -> S3Error {
    S3Error::client(op, ClientErrorKind::InvalidResponse, msg)
}

fn checksum_from_headers(h: &HeaderMap) -> ObjectChecksum {
    let value = ChecksumAlgorithm::ALL.into_iter().find_map(|a| {
        header(h, a.header()).map(|value| ChecksumValue {
            algorithm: a,
            value,
        })
    });
    let checksum_type = header(h, "x-amz-checksum-type").and_then(|t| t.parse().ok());
    ObjectChecksum {
        value,
        checksum_type,
    }
}

fn parse_content_range(v: &str) -> Option<ContentRange> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    Some(ContentRange {
        range: ByteRange {
            first: first.trim().parse().ok()?,
            last: last.trim().parse().ok()?,
        },
        total: total.trim().parse().ok()?,
    })
}

fn object_meta(op: &'static str, h: &HeaderMap) -> Result<ObjectMeta> {
    let content_length = header(h, "content-length")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| invalid(op, "the answer has no Content-Length"))?;
    let metadata = h
        .iter()
        .filter_map(|(k, v)| {
            let name = k.as_str().strip_prefix("x-amz-meta-")?;
            Some((name.to_string(), v.to_str().ok()?.to_string()))
        })
        .collect();
    Ok(ObjectMeta {
        content_length,
        etag: header(h, "etag").unwrap_or_default(),
        last_modified: header(h, "last-modified"),
        version_id: header(h, "x-amz-version-id"),
        content_type: header(h, "content-type"),
        content_encoding: object_encoding(h),
        content_disposition: header(h, "content-disposition"),
        content_language: header(h, "content-language"),
        cache_control: header(h, "cache-control"),
        expires: header(h, "expires"),
        metadata,
        storage_class: header(h, "x-amz-storage-class"),
        server_side_encryption: header(h, "x-amz-server-side-encryption"),
        sse_kms_key_id: header(h, "x-amz-server-side-encryption-aws-kms-key-id"),
        sse_bucket_key_enabled: header(h, "x-amz-server-side-encryption-bucket-key-enabled")
            .map(|v| v.eq_ignore_ascii_case("true")),
        sse_customer_key_md5: header(h, "x-amz-server-side-encryption-customer-key-md5"),
        object_lock_mode: header(h, "x-amz-object-lock-mode"),
        object_lock_retain_until: header(h, "x-amz-object-lock-retain-until-date"),
        object_lock_legal_hold: header(h, "x-amz-object-lock-legal-hold"),
        parts_count: header(h, "x-amz-mp-parts-count").and_then(|v| v.parse().ok()),
        tag_count: header(h, "x-amz-tagging-count").and_then(|v| v.parse().ok()),
        content_range: header(h, "content-range").and_then(|v| parse_content_range(&v)),
        checksum: checksum_from_headers(h),
    })
}

/// The response body as a stream that fails when it is cut short or runs long: hyper reports
/// most early ends itself; this also catches a clean close before `Content-Length`.
fn checked_body(resp: reqwest::Response, expected: u64, window: Duration) -> ByteStream {
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

fn get_request<'a>(op: &'static str, method: Method, req: &'a GetObjectRequest) -> Prepared<'a> {
    let mut p = Prepared::new(op, method, &req.bucket, Some(&req.key));
    if let Some(n) = req.part_number {
        p = p.query("partNumber", n.to_string());
    }
    if let Some(v) = &req.version_id {
        p = p.query("versionId", v.clone());
    }
    if let Some(r) = req.range {
        p = p.header("range", format!("bytes={}-{}", r.first, r.last));
    }
    p = p.header_opt("if-match", req.if_match.clone());
    if req.checksum_mode {
        p = p.header("x-amz-checksum-mode", "ENABLED");
    }
    p.request(&req.request)
}

/// A number from an element that may be missing, empty or padded.
fn num<T: std::str::FromStr>(v: &Option<String>) -> Option<T> {
    v.as_deref().and_then(|v| v.trim().parse().ok())
}

/// A key from a listing sent with `encoding-type=url` (form encoding: `+` is a space).
fn url_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn lenient_bool(v: &Option<String>) -> bool {
    v.as_deref()
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

impl ObjectClient for S3Client {
    fn endpoint(&self) -> String {
        self.config().endpoint.url()
    }

    fn refresh_credentials(&self) {
        self.inner.config.credentials.invalidate();
    }

    async fn create_multipart_upload(
        &self,
        req: &CreateMultipartUploadRequest,
    ) -> Result<CreateMultipartUploadOutput> {
        const OP: &str = "CreateMultipartUpload";
        req.options
            .validate()
            .map_err(|e| S3Error::client(OP, ClientErrorKind::InvalidRequest, e.to_string()))?;
        let mut p =
            Prepared::new(OP, Method::POST, &req.bucket, Some(&req.key)).query("uploads", "");
        req.options.push_headers(&mut p.headers);
        if let Some(a) = req.options.checksum_algorithm {
            p = p.header("x-amz-checksum-algorithm", a.as_str());
        }
        if let Some(t) = req.options.checksum_type {
            p = p.header("x-amz-checksum-type", t.as_str());
        }
        let resp = self.send(p).await?;
        let body = self.body(OP, resp).await?;
        let r: xml::InitiateMultipartUploadResult =
            xml::parse(&body).map_err(|e| invalid(OP, e))?;
        if r.upload_id.is_empty() {
            return Err(invalid(OP, "the answer has an empty UploadId"));
        }
        Ok(CreateMultipartUploadOutput {
            upload_id: r.upload_id,
        })
    }

    async fn upload_part(&self, req: UploadPartRequest) -> Result<UploadPartOutput> {
        const OP: &str = "UploadPart";
        if !(1..=10_000).contains(&req.part_number) {
            return Err(S3Error::client(
                OP,
                ClientErrorKind::InvalidRequest,
                format!("part number {} is outside 1 to 10,000", req.part_number),
            ));
        }
        let mut p = Prepared::new(OP, Method::PUT, &req.bucket, Some(&req.key))
            .query("partNumber", req.part_number.to_string())
            .query("uploadId", req.upload_id.clone())
            .header_opt("content-md5", req.content_md5.clone())
            .checksum(req.checksum.as_ref())
            .request(&req.request);
        p.body = req.body;
        let resp = self.send(p).await?;
        let (h, etag) = self.etag_of(OP, resp).await?;
        Ok(UploadPartOutput {
            etag,
            checksum: checksum_from_headers(&h).value,
        })
    }

    async fn complete_multipart_upload(
        &self,
        req: &CompleteMultipartUploadRequest,
    ) -> Result<CompleteMultipartUploadOutput> {
        const OP: &str = "CompleteMultipartUpload";
        let mut parts = req.parts.clone();
        parts.sort_by_key(|p| p.part_number);
        let doc = xml::CompleteMultipartUploadXml {
            xmlns: xml::S3_XMLNS,
            parts: parts
                .into_iter()
                .map(|p| xml::CompletedPartXml {
                    part_number: p.part_number,
                    etag: p.etag,
                    checksums: xml::XmlChecksums::from_value(p.checksum.as_ref()),
                })
                .collect(),
        };
        let mut p = Prepared::new(OP, Method::POST, &req.bucket, Some(&req.key))
            .query("uploadId", req.upload_id.clone())
            .header("content-type", "application/xml")
            .checksum(req.checksum.as_ref())
            .header_opt("x-amz-checksum-type", req.checksum_type.map(|t| t.as_str()))
            .header_opt(
                "x-amz-mp-object-size",
                req.object_size.map(|s| s.to_string()),
            );
        if req.if_none_match {
            p = p.header("if-none-match", "*");
        }
        p.body = Body::Bytes(Bytes::from(xml::to_xml(&doc)));
        let resp = self.send(p).await?;
        let h = resp.headers().clone();
        // `body` turns an `<Error>` inside the 200 into that error.
        let body = self.body(OP, resp).await?;
        let r: xml::CompleteMultipartUploadResult =
            xml::parse(&body).map_err(|e| invalid(OP, e))?;
        let etag = r
            .etag
            .clone()
            .filter(|e| !e.is_empty())
            .or_else(|| header(&h, "etag"))
            .ok_or_else(|| invalid(OP, "the answer has no ETag"))?;
        let from_headers = checksum_from_headers(&h);
        Ok(CompleteMultipartUploadOutput {
            etag,
            version_id: header(&h, "x-amz-version-id"),
            checksum: r.checksums().first().or(from_headers.value),
            checksum_type: r
                .checksum_type
                .as_deref()
                .and_then(|t| t.parse::<ChecksumType>().ok())
                .or(from_headers.checksum_type),
            location: r.location,
        })
    }

    async fn abort_multipart_upload(&self, req: &AbortMultipartUploadRequest) -> Result<()> {
        const OP: &str = "AbortMultipartUpload";
        let p = Prepared::new(OP, Method::DELETE, &req.bucket, Some(&req.key))
            .query("uploadId", req.upload_id.clone())
            .owner(&req.request);
        self.send(p).await?;
        Ok(())
    }

    async fn list_parts(&self, req: &ListPartsRequest) -> Result<ListPartsOutput> {
        const OP: &str = "ListParts";
        let mut p = Prepared::new(OP, Method::GET, &req.bucket, Some(&req.key))
            .query("uploadId", req.upload_id.clone())
            .request(&req.request);
        if let Some(m) = req.part_number_marker {
            p = p.query("part-number-marker", m.to_string());
        }
        if let Some(m) = req.max_parts {
            p = p.query("max-parts", m.to_string());
        }
        let resp = self.send(p).await?;
        let body = self.body(OP, resp).await?;
        let r: xml::ListPartsResult = xml::parse(&body).map_err(|e| invalid(OP, e))?;
        let mut parts = Vec::with_capacity(r.parts.len());
        for x in &r.parts {
            let part_number = x
                .part_number
                .trim()
                .parse()
                .map_err(|_| invalid(OP, format!("bad PartNumber {:?}", x.part_number)))?;
            parts.push(PartInfo {
                part_number,
                etag: x.etag.clone().unwrap_or_default(),
                size: x
                    .size
                    .as_deref()
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(0),
                last_modified: x.last_modified.clone(),
                checksum: x.checksums().first(),
            });
        }
        let next = if lenient_bool(&r.is_truncated) {
            let m = r
                .next_part_number_marker
                .as_deref()
                .and_then(|m| m.trim().parse().ok())
                .or_else(|| parts.iter().map(|p| p.part_number).max())
                .ok_or_else(|| invalid(OP, "truncated listing without a next marker"))?;
            Some(m)
        } else {
            None
        };
        Ok(ListPartsOutput {
            parts,
            next_part_number_marker: next,
            checksum_algorithm: r.checksum_algorithm,
            checksum_type: r.checksum_type,
        })
    }

    async fn list_multipart_uploads(
        &self,
        req: &ListMultipartUploadsRequest,
    ) -> Result<ListMultipartUploadsOutput> {
        const OP: &str = "ListMultipartUploads";
        let mut p = Prepared::new(OP, Method::GET, &req.bucket, None)
            .query("uploads", "")
            .query("encoding-type", "url")
            .owner(&req.request);
        if let Some(v) = &req.prefix {
            p = p.query("prefix", v.clone());
        }
        if let Some(v) = &req.key_marker {
            p = p.query("key-marker", v.clone());
        }
        if let Some(v) = &req.upload_id_marker {
            p = p.query("upload-id-marker", v.clone());
        }
        if let Some(v) = req.max_uploads {
            p = p.query("max-uploads", v.to_string());
        }
        let resp = self.send(p).await?;
        let body = self.body(OP, resp).await?;
        let r: xml::ListMultipartUploadsResult = xml::parse(&body).map_err(|e| invalid(OP, e))?;
        // Keys may hold characters XML 1.0 cannot carry; ask for URL-encoding, decode if given.
        let url_encoded = r.encoding_type.as_deref() == Some("url");
        let decode = |s: &str| -> String {
            if url_encoded {
                url_decode(s)
            } else {
                s.to_string()
            }
        };
        let uploads = r
            .uploads
            .iter()
            .map(|u| UploadInfo {
                key: decode(&u.key),
                upload_id: u.upload_id.clone(),
                initiated: u.initiated.clone(),
                storage_class: u.storage_class.clone(),
            })
            .collect::<Vec<_>>();
        let is_truncated = lenient_bool(&r.is_truncated);
        let nonempty = |v: Option<String>| v.filter(|v| !v.is_empty());
        let next_key_marker = nonempty(r.next_key_marker.as_deref().map(decode));
        let next_upload_id_marker = nonempty(r.next_upload_id_marker);
        if is_truncated && next_key_marker.is_none() && next_upload_id_marker.is_none() {
            return Err(invalid(OP, "truncated listing without next markers"));
        }
        Ok(ListMultipartUploadsOutput {
            uploads,
            is_truncated,
            next_key_marker,
            next_upload_id_marker,
        })
    }

    async fn list_objects(&self, req: &ListObjectsRequest) -> Result<ListObjectsOutput> {
        const OP: &str = "ListObjectsV2";
        let mut p = Prepared::new(OP, Method::GET, &req.bucket, None)
            .query("list-type", "2")
            .query("encoding-type", "url")
            .owner(&req.request);
        if let Some(v) = &req.prefix {
            p = p.query("prefix", v.clone());
        }
        if let Some(v) = &req.continuation_token {
            p = p.query("continuation-token", v.clone());
        }
        if let Some(v) = req.max_keys {
            p = p.query("max-keys", v.to_string());
        }
        let resp = self.send(p).await?;
        let body = self.body(OP, resp).await?;
        let r: xml::ListBucketResult = xml::parse(&body).map_err(|e| invalid(OP, e))?;
        // Keys may hold characters XML 1.0 cannot carry; ask for URL-encoding, decode if given.
        let url_encoded = r.encoding_type.as_deref() == Some("url");
        let mut objects = Vec::with_capacity(r.contents.len());
        for c in r.contents {
            let key = if url_encoded {
                url_decode(&c.key)
            } else {
                c.key
            };
            let size = match c.size.as_deref().map(str::trim) {
                None | Some("") => 0,
                Some(v) => v
                    .parse()
                    .map_err(|_| invalid(OP, format!("object {key:?} has size {v:?}")))?,
            };
            objects.push(ObjectInfo {
                key,
                size,
                etag: c.etag,
                last_modified: c.last_modified,
            });
        }
        let next = r.next_continuation_token.filter(|t| !t.is_empty());
        let next_continuation_token = if lenient_bool(&r.is_truncated) {
            Some(next.ok_or_else(|| invalid(OP, "truncated listing without a continuation token"))?)
        } else {
            None
        };
        Ok(ListObjectsOutput {
            objects,
            next_continuation_token,
        })
    }

    async fn put_object(&self, req: PutObjectRequest) -> Result<PutObjectOutput> {
        const OP: &str = "PutObject";
        req.options
            .validate()
            .map_err(|e| S3Error::client(OP, ClientErrorKind::InvalidRequest, e.to_string()))?;
        let mut p = Prepared::new(OP, Method::PUT, &req.bucket, Some(&req.key))
            .header_opt("content-md5", req.content_md5.clone())
            .checksum(req.checksum.as_ref());
        if let Some(c) = &req.checksum {
            p = p.header("x-amz-sdk-checksum-algorithm", c.algorithm.as_str());
        }
        if req.if_none_match {
            p = p.header("if-none-match", "*");
        }
        req.options.push_headers(&mut p.headers);
        p.body = req.body;
        let resp = self.send(p).await?;
        let (h, etag) = self.etag_of(OP, resp).await?;
        Ok(PutObjectOutput {
            etag,
            version_id: header(&h, "x-amz-version-id"),
            checksum: checksum_from_headers(&h).value,
        })
    }

    async fn get_object(&self, req: &GetObjectRequest) -> Result<GetObjectOutput> {
        const OP: &str = "GetObject";
        let resp = self.send(get_request(OP, Method::GET, req)).await?;
        let meta = object_meta(OP, resp.headers())?;
        if req.range.is_some()
            && meta.content_range.is_none()
            && meta.content_length <= MAX_ERROR_BODY as u64
        {
            // A range answered 200 without a Content-Range and a small body: a server (or
            // something on the way) in trouble can put an `<Error>` there; it is that error,
            // retryable as its code says (`body` returns it). Any other body is returned as it
            // came.
            let body = self.body(OP, resp).await?;
            let body: ByteStream = Box::pin(futures_util::stream::iter([Ok(body)]));
            return Ok(GetObjectOutput { meta, body });
        }
        let body = checked_body(resp, meta.content_length, self.inner.config.read_timeout);
        Ok(GetObjectOutput { meta, body })
    }

    async fn head_object(&self, req: &GetObjectRequest) -> Result<ObjectMeta> {
        const OP: &str = "HeadObject";
        let resp = self.send(get_request(OP, Method::HEAD, req)).await?;
        object_meta(OP, resp.headers())
    }

    async fn create_bucket(&self, req: &CreateBucketRequest) -> Result<()> {
        const OP: &str = "CreateBucket";
        let mut p = Prepared::new(OP, Method::PUT, &req.bucket, None);
        let region = &self.inner.config.region;
        if region != "us-east-1" {
            let doc = xml::CreateBucketConfiguration {
                xmlns: xml::S3_XMLNS,
                location_constraint: region.clone(),
            };
            p.body = Body::Bytes(Bytes::from(xml::to_xml(&doc)));
        }
        self.send(p).await?;
        Ok(())
    }

    async fn delete_object(&self, req: &DeleteObjectRequest) -> Result<()> {
        const OP: &str = "DeleteObject";
        let mut p =
            Prepared::new(OP, Method::DELETE, &req.bucket, Some(&req.key)).owner(&req.request);
        if let Some(v) = &req.version_id {
            p = p.query("versionId", v.clone());
        }
        self.send(p).await?;
        Ok(())
    }

    async fn upload_part_copy(&self, req: &UploadPartCopyRequest) -> Result<UploadPartCopyOutput> {
        const OP: &str = "UploadPartCopy";
        if !(1..=10_000).contains(&req.part_number) {
            return Err(S3Error::client(
                OP,
                ClientErrorKind::InvalidRequest,
                format!("part number {} is outside 1 to 10,000", req.part_number),
            ));
        }
        check_source(OP, &req.source)?;
        let p = Prepared::new(OP, Method::PUT, &req.bucket, Some(&req.key))
            .query("partNumber", req.part_number.to_string())
            .query("uploadId", req.upload_id.clone())
            .copy_source(
                &req.source,
                &req.conditions,
                req.source_sse_customer_key.as_ref(),
            )
            .header_opt(
                "x-amz-copy-source-range",
                req.source_range
                    .map(|r| format!("bytes={}-{}", r.first, r.last)),
            )
            .request(&req.request);
        let r = self.copy_result(OP, p).await?.0;
        Ok(UploadPartCopyOutput {
            etag: r
                .etag
                .clone()
                .filter(|e| !e.is_empty())
                .ok_or_else(|| invalid(OP, "the answer has no ETag"))?,
            checksum: r.checksums().first(),
        })
    }

    async fn copy_object(&self, req: &CopyObjectRequest) -> Result<CopyObjectOutput> {
        const OP: &str = "CopyObject";
        check_source(OP, &req.source)?;
        req.options
            .validate()
            .map_err(|e| S3Error::client(OP, ClientErrorKind::InvalidRequest, e.to_string()))?;
        let mut p = Prepared::new(OP, Method::PUT, &req.bucket, Some(&req.key))
            .copy_source(
                &req.source,
                &req.conditions,
                req.source_sse_customer_key.as_ref(),
            )
            .header_opt(
                "x-amz-metadata-directive",
                req.metadata_directive.map(|d| d.as_str()),
            )
            .header_opt(
                "x-amz-tagging-directive",
                req.tagging_directive.map(|d| d.as_str()),
            );
        req.options.push_headers(&mut p.headers);
        if let Some(a) = req.options.checksum_algorithm {
            p = p.header("x-amz-checksum-algorithm", a.as_str());
        }
        let (r, h) = self.copy_result(OP, p).await?;
        Ok(CopyObjectOutput {
            etag: r
                .etag
                .clone()
                .filter(|e| !e.is_empty())
                .ok_or_else(|| invalid(OP, "the answer has no ETag"))?,
            version_id: header(&h, "x-amz-version-id"),
            checksum: r.checksums().first(),
        })
    }

    async fn get_object_attributes(
        &self,
        req: &GetObjectAttributesRequest,
    ) -> Result<GetObjectAttributesOutput> {
        const OP: &str = "GetObjectAttributes";
        let a = req.attributes;
        let names: Vec<&str> = [
            (a.etag, "ETag"),
            (a.checksum, "Checksum"),
            (a.object_parts, "ObjectParts"),
            (a.storage_class, "StorageClass"),
            (a.object_size, "ObjectSize"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        if names.is_empty() {
            return Err(S3Error::client(
                OP,
                ClientErrorKind::InvalidRequest,
                "ask for at least one attribute",
            ));
        }
        let mut p = Prepared::new(OP, Method::GET, &req.bucket, Some(&req.key))
            .query("attributes", "")
            .header("x-amz-object-attributes", names.join(","))
            .header_opt("x-amz-max-parts", req.max_parts.map(|m| m.to_string()))
            .header_opt(
                "x-amz-part-number-marker",
                req.part_number_marker.map(|m| m.to_string()),
            )
            .request(&req.request);
        if let Some(v) = &req.version_id {
            p = p.query("versionId", v.clone());
        }
        let resp = self.send(p).await?;
        let h = resp.headers().clone();
        let body = self.body(OP, resp).await?;
        let r: xml::GetObjectAttributesResult = xml::parse(&body).map_err(|e| invalid(OP, e))?;
        let object_parts = match &r.object_parts {
            Some(op) => {
                let mut parts = Vec::with_capacity(op.parts.len());
                for x in &op.parts {
                    parts.push(PartInfo {
                        part_number: x.part_number.trim().parse().map_err(|_| {
                            invalid(OP, format!("bad PartNumber {:?}", x.part_number))
                        })?,
                        etag: x.etag.clone().unwrap_or_default(),
                        size: num(&x.size).unwrap_or(0),
                        last_modified: None,
                        checksum: x.checksums().first(),
                    });
                }
                let next = if lenient_bool(&op.is_truncated) {
                    Some(
                        num(&op.next_part_number_marker)
                            .or_else(|| parts.iter().map(|p| p.part_number).max())
                            .ok_or_else(|| invalid(OP, "truncated parts without a marker"))?,
                    )
                } else {
                    None
                };
                Some(ObjectParts {
                    total_parts_count: num(&op.total_parts_count),
                    parts,
                    next_part_number_marker: next,
                })
            }
            None => None,
        };
        let checksum = r
            .checksum
            .as_ref()
            .map(|c| ObjectChecksum {
                value: c.checksums().first(),
                checksum_type: c
                    .checksum_type
                    .as_deref()
                    .and_then(|t| t.parse::<ChecksumType>().ok()),
            })
            .unwrap_or_default();
        Ok(GetObjectAttributesOutput {
            etag: r.etag.clone(),
            checksum,
            object_parts,
            storage_class: r.storage_class.clone(),
            object_size: num(&r.object_size),
            version_id: header(&h, "x-amz-version-id"),
        })
    }

    async fn put_object_acl(&self, req: &PutObjectAclRequest) -> Result<()> {
        const OP: &str = "PutObjectAcl";
        let bad = |m: String| S3Error::client(OP, ClientErrorKind::InvalidRequest, m);
        let mut p = Prepared::new(OP, Method::PUT, &req.bucket, Some(&req.key))
            .query("acl", "")
            .owner(&req.request);
        if let Some(v) = &req.version_id {
            p = p.query("versionId", v.clone());
        }
        match &req.acl {
            AclSpec::Canned(acl) => {
                if !CANNED_ACLS.contains(&acl.as_str()) {
                    return Err(bad(format!(
                        "unknown canned ACL {acl:?}: use one of {}",
                        CANNED_ACLS.join(", ")
                    )));
                }
                p = p.header("x-amz-acl", acl.clone());
            }
            AclSpec::Grants(g) => {
                if g.is_empty() {
                    return Err(bad("no grants given".into()));
                }
                g.push_headers(&mut p.headers);
            }
            AclSpec::Policy(policy) => {
                p = p.xml_body(xml::to_xml(&acl_to_xml(policy)));
            }
        }
        self.send(p).await?;
        Ok(())
    }

    async fn get_object_acl(&self, req: &GetObjectAclRequest) -> Result<AccessControlPolicy> {
        const OP: &str = "GetObjectAcl";
        let mut p = Prepared::new(OP, Method::GET, &req.bucket, Some(&req.key))
            .query("acl", "")
            .owner(&req.request);
        if let Some(v) = &req.version_id {
            p = p.query("versionId", v.clone());
        }
        let resp = self.send(p).await?;
        let body = self.body(OP, resp).await?;
        let x: xml::AccessControlPolicyXml = xml::parse(&body).map_err(|e| invalid(OP, e))?;
        let mut grants = Vec::with_capacity(x.list.grants.len());
        for g in x.list.grants {
            let grantee = match (g.grantee.id, g.grantee.uri, g.grantee.email) {
                (Some(id), _, _) => Grantee::Id(id),
                (None, Some(uri), _) => Grantee::Uri(uri),
                (None, None, Some(e)) => Grantee::Email(e),
                _ => return Err(invalid(OP, "a grant without a grantee")),
            };
            let permission = Permission::parse(&g.permission)
                .ok_or_else(|| invalid(OP, format!("unknown permission {:?}", g.permission)))?;
            grants.push(Grant {
                grantee,
                permission,
            });
        }
        Ok(AccessControlPolicy {
            owner_id: x.owner.id,
            owner_display_name: x.owner.display_name,
            grants,
        })
    }

    async fn put_object_tagging(&self, req: &PutObjectTaggingRequest) -> Result<()> {
        const OP: &str = "PutObjectTagging";
        let doc = xml::TaggingXml {
            xmlns: xml::S3_XMLNS,
            tag_set: xml::TagSetXml {
                tags: req
                    .tags
                    .iter()
                    .map(|(k, v)| xml::TagXml {
                        key: k.clone(),
                        value: v.clone(),
                    })
                    .collect(),
            },
        };
        let mut p = Prepared::new(OP, Method::PUT, &req.bucket, Some(&req.key))
            .query("tagging", "")
            .owner(&req.request)
            .xml_body(xml::to_xml(&doc));
        if let Some(v) = &req.version_id {
            p = p.query("versionId", v.clone());
        }
        self.send(p).await?;
        Ok(())
    }

    async fn get_object_tagging(
        &self,
        req: &GetObjectTaggingRequest,
    ) -> Result<Vec<(String, String)>> {
        const OP: &str = "GetObjectTagging";
        let mut p = Prepared::new(OP, Method::GET, &req.bucket, Some(&req.key))
            .query("tagging", "")
            .owner(&req.request);
        if let Some(v) = &req.version_id {
            p = p.query("versionId", v.clone());
        }
        let resp = self.send(p).await?;
        let body = self.body(OP, resp).await?;
        let x: xml::TaggingXml = xml::parse(&body).map_err(|e| invalid(OP, e))?;
        Ok(x.tag_set
            .tags
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect())
    }
}

fn check_source(op: &'static str, source: &CopySource) -> Result<()> {
    crate::endpoint::validate_bucket(&source.bucket)
        .map_err(|e| S3Error::client(op, ClientErrorKind::InvalidRequest, e.to_string()))?;
    if source.key.is_empty() {
        return Err(S3Error::client(
            op,
            ClientErrorKind::InvalidRequest,
            "the copy source has an empty key",
        ));
    }
    Ok(())
}

fn acl_to_xml(policy: &AccessControlPolicy) -> xml::AccessControlPolicyXml {
    xml::AccessControlPolicyXml {
        xmlns: xml::S3_XMLNS,
        owner: xml::OwnerXml {
            id: policy.owner_id.clone(),
            display_name: policy.owner_display_name.clone(),
        },
        list: xml::AclListXml {
            grants: policy
                .grants
                .iter()
                .map(|g| {
                    let mut grantee = xml::GranteeXml {
                        xmlns_xsi: xml::XSI_NS,
                        ..Default::default()
                    };
                    match &g.grantee {
                        Grantee::Id(v) => {
                            grantee.xsi_type = "CanonicalUser".into();
                            grantee.id = Some(v.clone());
                        }
                        Grantee::Uri(v) => {
                            grantee.xsi_type = "Group".into();
                            grantee.uri = Some(v.clone());
                        }
                        Grantee::Email(v) => {
                            grantee.xsi_type = "AmazonCustomerByEmail".into();
                            grantee.email = Some(v.clone());
                        }
                    }
                    xml::GrantXml {
                        grantee,
                        permission: g.permission.as_str().into(),
                    }
                })
                .collect(),
        },
    }
}

impl S3Client {
    /// The headers and ETag of a write's answer. An answer without an ETag may be an
    /// `<Error>` inside a 200 (S3 documents it for Complete and copies; a proxy or a server in
    /// trouble can send it anywhere): that error, retryable or not as its code says.
    async fn etag_of(
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

    /// Sends a copy request and reads its result, which may be an error inside a 200.
    async fn copy_result(
        &self,
        op: &'static str,
        p: Prepared<'_>,
    ) -> Result<(xml::CopyResult, HeaderMap)> {
        let resp = self.send(p).await?;
        let h = resp.headers().clone();
        let body = self.body(op, resp).await?;
        let r: xml::CopyResult = xml::parse(&body).map_err(|e| invalid(op, e))?;
        Ok((r, h))
    }

    /// A presigned URL for `method` (GET or PUT) on an object, valid for `expires_in` (1 s to
    /// 7 days, S3's limits). Anyone holding the URL can use it until then.
    pub async fn presign(
        &self,
        method: Method,
        bucket: &str,
        key: &str,
        expires_in: Duration,
    ) -> Result<url::Url> {
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
        let target = cfg
            .endpoint
            .target(cfg.addressing_style, Some(bucket), Some(key), &[])
            .map_err(|e| rename(S3Error::from(e), OP))?;
        let creds = cfg
            .credentials
            .credentials()
            .await
            .map_err(|e| rename(S3Error::from(e), OP))?;
        let headers = vec![("host".to_string(), target.host_header.clone())];
        let signable = SignableRequest {
            method: method.as_str(),
            path: &target.path,
            query: &[],
            headers: &headers,
            payload_hash: UNSIGNED_PAYLOAD,
        };
        let params = SigningParams {
            access_key_id: &creds.access_key_id,
            secret_access_key: creds.secret_access_key.expose(),
            session_token: creds.session_token.as_ref().map(|t| t.expose()),
            region: &cfg.region,
            service: "s3",
            time: time::OffsetDateTime::now_utc(),
            normalize_path: false,
        };
        let sig = signing::sign_query(&signable, &params, secs);
        let signed = cfg
            .endpoint
            .target(cfg.addressing_style, Some(bucket), Some(key), &sig.params)
            .map_err(|e| rename(S3Error::from(e), OP))?;
        Ok(signed.url)
    }
}

/// Builds the rustls configuration: ring as the crypto provider (no C toolchain needed), the
/// system's roots or the configured CA bundle instead, HTTP/1.1 only in ALPN; or, with
/// verification off, a verifier that accepts any certificate (signatures still checked).
fn tls_config(config: &ClientConfig) -> Result<rustls::ClientConfig> {
    let tls_err = |m: String| S3Error::client("client", ClientErrorKind::Tls, m);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(e.to_string()))?;
    let mut tls = if config.endpoint.scheme() == "http" {
        // No request of this client is ever https (the endpoint's scheme is kept for every
        // address, redirects are not followed): loading and parsing the system's roots or a
        // CA bundle (AWS_CA_BUNDLE) would only cost each process its start-up time.
        builder
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth()
    } else if config.verify_tls {
        let mut roots = rustls::RootCertStore::empty();
        match &config.ca_bundle_pem {
            Some(pem) => {
                for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(pem) {
                    let cert: rustls::pki_types::CertificateDer<'static> =
                        cert.map_err(|e| tls_err(format!("cannot read the CA bundle: {e}")))?;
                    roots
                        .add(cert)
                        .map_err(|e| tls_err(format!("cannot use a CA bundle certificate: {e}")))?;
                }
                if roots.is_empty() {
                    return Err(tls_err("the CA bundle holds no PEM certificate".into()));
                }
            }
            None => {
                for cert in rustls_native_certs::load_native_certs().certs {
                    // A broken system certificate is skipped, as browsers do.
                    let _ = roots.add(cert);
                }
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth()
    };
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tls)
}

/// `--no-verify-ssl`: accepts any certificate, still checking the handshake signatures.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_parses() {
        assert_eq!(
            parse_content_range("bytes 0-9/100"),
            Some(ContentRange {
                range: ByteRange { first: 0, last: 9 },
                total: 100
            })
        );
        assert_eq!(parse_content_range("bytes */100"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
    }

    #[test]
    fn aws_chunked_is_no_object_encoding() {
        let enc = |values: &[&str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append("content-encoding", v.parse().unwrap());
            }
            object_encoding(&h)
        };
        assert_eq!(enc(&[]), None);
        assert_eq!(enc(&["aws-chunked"]), None);
        assert_eq!(enc(&["gzip"]).as_deref(), Some("gzip"));
        assert_eq!(enc(&["aws-chunked,gzip"]).as_deref(), Some("gzip"));
        assert_eq!(enc(&["gzip", "AWS-Chunked"]).as_deref(), Some("gzip"));
        assert_eq!(enc(&["gzip, br"]).as_deref(), Some("gzip,br"));
    }

    #[test]
    fn retry_after_headers() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert("x-amz-retry-after", "1500".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(1500)));
    }
}
