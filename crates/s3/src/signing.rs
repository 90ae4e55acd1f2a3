//! AWS Signature Version 4: canonical request, string to sign, key derivation, and the two ways
//! of attaching a signature (the `Authorization` header, or a presigned query string).
//!
//! Pure functions over a [`SignableRequest`]; nothing here does I/O or knows about S3 operations.
//! S3's rules differ from generic SigV4 in one place: S3 never normalizes the path (`a/../b` is a
//! key, not a walk up a tree), so [`SigningParams::normalize_path`] is `false` for every S3
//! request.

use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// The payload hash of a body that is not signed (S3 accepts it on every operation).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// The payload hash of an aws-chunked body with a checksum trailer and no chunk signatures.
pub const STREAMING_UNSIGNED_PAYLOAD_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
/// The payload hash of an aws-chunked body whose chunks are signed.
pub const STREAMING_SIGNED_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
/// The payload hash of an aws-chunked body whose chunks and checksum trailer are signed.
pub const STREAMING_SIGNED_PAYLOAD_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
/// Hex SHA-256 of the empty string: the payload hash of a request without a body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Characters SigV4 leaves unencoded: `A-Z a-z 0-9 - . _ ~`. Everything else is `%XX`.
pub(crate) const SIGV4_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// URI-encodes one path segment or query component the way SigV4 and S3 expect.
pub fn uri_encode(s: &str) -> String {
    utf8_percent_encode(s, SIGV4_ENCODE).to_string()
}

/// URI-encodes a path segment by segment, keeping `/`.
pub fn uri_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.extend(utf8_percent_encode(segment, SIGV4_ENCODE));
    }
    out
}

/// Hex SHA-256 of a payload, for `x-amz-content-sha256`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A request as the signer sees it.
#[derive(Debug, Clone, Copy)]
pub struct SignableRequest<'a> {
    /// HTTP method, upper case.
    pub method: &'a str,
    /// The path, *not* percent-encoded: the signer encodes each segment once (S3 never wants
    /// double encoding).
    pub path: &'a str,
    /// Query parameters, decoded. Order does not matter.
    pub query: &'a [(String, String)],
    /// Headers to sign, as they will be sent (names in any case, `host` included).
    pub headers: &'a [(String, String)],
    /// Hex SHA-256 of the body, or [`UNSIGNED_PAYLOAD`], or a `STREAMING-…` value.
    pub payload_hash: &'a str,
}

/// Who signs, where, and when.
#[derive(Clone, Copy)]
pub struct SigningParams<'a> {
    /// Access key id.
    pub access_key_id: &'a str,
    /// Secret access key.
    pub secret_access_key: &'a str,
    /// Session token of temporary credentials.
    pub session_token: Option<&'a str>,
    /// Region, e.g. `us-east-1`.
    pub region: &'a str,
    /// Service name: `s3` for every request ferry sends.
    pub service: &'a str,
    /// The signing time.
    pub time: OffsetDateTime,
    /// Remove `.`/`..` segments and repeated slashes before signing. Generic SigV4 does;
    /// S3 never does, so S3 requests always pass `false`.
    pub normalize_path: bool,
}

impl std::fmt::Debug for SigningParams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningParams")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.map(|_| "** redacted **"),
            )
            .field("region", &self.region)
            .field("service", &self.service)
            .field("time", &self.time)
            .field("normalize_path", &self.normalize_path)
            .finish()
    }
}

/// Headers that header signing adds to a request (`x-amz-date`, maybe
/// `x-amz-security-token`, then `authorization`), and the intermediate strings for tests.
#[derive(Debug, Clone)]
pub struct HeaderSignature {
    /// Headers to add to the request, in this order.
    pub headers: Vec<(&'static str, String)>,
    /// The hex signature.
    pub signature: String,
    /// The canonical request that was signed.
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
}

/// Query parameters that presigning adds (the `X-Amz-*` set, `X-Amz-Signature` last).
#[derive(Debug, Clone)]
pub struct QuerySignature {
    /// Parameters to append to the query, decoded, in this order.
    pub params: Vec<(String, String)>,
    /// The hex signature.
    pub signature: String,
    /// The canonical request that was signed.
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
}

/// `YYYYMMDDTHHMMSSZ`.
pub fn amz_date(t: OffsetDateTime) -> String {
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn short_date(t: OffsetDateTime) -> String {
    format!("{:04}{:02}{:02}", t.year(), u8::from(t.month()), t.day())
}

/// Signs a request for the `Authorization` header. The session token, when present, is signed
/// as `x-amz-security-token`. The caller adds `x-amz-content-sha256` to `req.headers` itself
/// when it wants it signed (every S3 request does).
pub fn sign_headers(req: &SignableRequest<'_>, params: &SigningParams<'_>) -> HeaderSignature {
    sign_headers_with(req, params, true)
}

/// Like [`sign_headers`]; with `sign_token` false, the session token is left out of the
/// signed headers (some services require it added after signing; the official test suite's
/// `omit_session_token` cases).
pub fn sign_headers_with(
    req: &SignableRequest<'_>,
    params: &SigningParams<'_>,
    sign_token: bool,
) -> HeaderSignature {
    let date = amz_date(params.time);
    let mut headers: Vec<(String, String)> = req.headers.to_vec();
    headers.push(("x-amz-date".into(), date.clone()));
    if let (Some(token), true) = (params.session_token, sign_token) {
        headers.push(("x-amz-security-token".into(), token.to_string()));
    }
    let (canonical_headers, signed_headers) = canonical_headers(&headers);
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        canonical_uri(req.path, params.normalize_path),
        canonical_query(req.query),
        canonical_headers,
        signed_headers,
        req.payload_hash
    );
    let scope = scope(params);
    let string_to_sign = string_to_sign(&date, &scope, &canonical_request);
    let signature = signature(params, &string_to_sign);

    let mut out = vec![("x-amz-date", date)];
    if let Some(token) = params.session_token {
        out.push(("x-amz-security-token", token.to_string()));
    }
    out.push((
        "authorization",
        format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            params.access_key_id
        ),
    ));
    HeaderSignature {
        headers: out,
        signature,
        canonical_request,
        string_to_sign,
    }
}

/// Presigns a request: the signature goes in the query string, valid for `expires_in_secs`
/// (S3 allows 1 to 604,800). `req.headers` are the headers the user of the URL must send
/// (at least `host`). S3 presigned requests use [`UNSIGNED_PAYLOAD`] as the payload hash.
pub fn sign_query(
    req: &SignableRequest<'_>,
    params: &SigningParams<'_>,
    expires_in_secs: u64,
) -> QuerySignature {
    sign_query_with(req, params, expires_in_secs, true)
}

/// Like [`sign_query`]; with `sign_token` false, the session token is left out of the signed
/// query (the official test suite's `omit_session_token` cases).
pub fn sign_query_with(
    req: &SignableRequest<'_>,
    params: &SigningParams<'_>,
    expires_in_secs: u64,
    sign_token: bool,
) -> QuerySignature {
    let date = amz_date(params.time);
    let scope = scope(params);
    let (canonical_headers, signed_headers) = canonical_headers(req.headers);
    let mut added = vec![
        ("X-Amz-Algorithm".to_string(), ALGORITHM.to_string()),
        (
            "X-Amz-Credential".to_string(),
            format!("{}/{scope}", params.access_key_id),
        ),
        ("X-Amz-Date".to_string(), date.clone()),
        ("X-Amz-Expires".to_string(), expires_in_secs.to_string()),
        ("X-Amz-SignedHeaders".to_string(), signed_headers.clone()),
    ];
    if let (Some(token), true) = (params.session_token, sign_token) {
        added.push(("X-Amz-Security-Token".to_string(), token.to_string()));
    }
    let mut query: Vec<(String, String)> = req.query.to_vec();
    query.extend(added.iter().cloned());
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        canonical_uri(req.path, params.normalize_path),
        canonical_query(&query),
        canonical_headers,
        signed_headers,
        req.payload_hash
    );
    let string_to_sign = string_to_sign(&date, &scope, &canonical_request);
    let signature = signature(params, &string_to_sign);
    added.push(("X-Amz-Signature".to_string(), signature.clone()));
    QuerySignature {
        params: added,
        signature,
        canonical_request,
        string_to_sign,
    }
}

fn scope(params: &SigningParams<'_>) -> String {
    format!(
        "{}/{}/{}/aws4_request",
        short_date(params.time),
        params.region,
        params.service
    )
}

fn string_to_sign(date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The derived signing key for a date, region and service.
fn signing_key(params: &SigningParams<'_>) -> [u8; 32] {
    let secret = format!("AWS4{}", params.secret_access_key);
    let k_date = hmac(secret.as_bytes(), short_date(params.time).as_bytes());
    let k_region = hmac(&k_date, params.region.as_bytes());
    let k_service = hmac(&k_region, params.service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

fn signature(params: &SigningParams<'_>, string_to_sign: &str) -> String {
    hex::encode(hmac(&signing_key(params), string_to_sign.as_bytes()))
}

/// Signs the chunks of a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]` body: each chunk's
/// signature chains from the previous one, starting at the request's own signature (the seed).
pub struct ChunkSigner {
    key: [u8; 32],
    date: String,
    scope: String,
    previous: String,
}

impl std::fmt::Debug for ChunkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkSigner")
            .field("scope", &self.scope)
            .field("previous", &self.previous)
            .finish_non_exhaustive()
    }
}

impl ChunkSigner {
    /// A signer continuing from the request signed with `params`, whose signature is `seed`.
    pub fn new(params: &SigningParams<'_>, seed: &str) -> Self {
        Self {
            key: signing_key(params),
            date: amz_date(params.time),
            scope: scope(params),
            previous: seed.to_string(),
        }
    }

    fn sign(&mut self, kind: &str, hashed: &str, data_hash: &str) -> String {
        let sts = format!(
            "AWS4-HMAC-SHA256-{kind}\n{}\n{}\n{}\n{hashed}{data_hash}",
            self.date, self.scope, self.previous
        );
        self.previous = hex::encode(hmac(&self.key, sts.as_bytes()));
        self.previous.clone()
    }

    /// The signature of the next chunk (an empty one ends the data).
    pub fn sign_chunk(&mut self, data: &[u8]) -> String {
        let hash = sha256_hex(data);
        self.sign("PAYLOAD", &format!("{EMPTY_SHA256}\n"), &hash)
    }

    /// The signature of the trailer, given its lines each ending in `\n`.
    pub fn sign_trailer(&mut self, trailer: &str) -> String {
        let hash = sha256_hex(trailer.as_bytes());
        self.sign("TRAILER", "", &hash)
    }
}

/// The canonical URI: optionally normalized, then encoded once per segment.
pub fn canonical_uri(path: &str, normalize: bool) -> String {
    let path = if path.is_empty() { "/" } else { path };
    if normalize {
        uri_encode_path(&normalize_path(path))
    } else {
        uri_encode_path(path)
    }
}

/// RFC 3986 dot-segment removal plus collapsing of empty segments, keeping a trailing slash.
fn normalize_path(path: &str) -> String {
    let mut stack: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                stack.pop();
            }
            s => stack.push(s),
        }
    }
    let mut out = String::from("/");
    out.push_str(&stack.join("/"));
    let trailing = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    if trailing && !stack.is_empty() {
        out.push('/');
    }
    out
}

/// The canonical query string: pairs encoded, sorted by key then value, joined by `&`.
pub fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (uri_encode(k), uri_encode(v)))
        .collect();
    pairs.sort();
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Canonical headers (lower-case names, sorted, values trimmed with inner whitespace runs
/// collapsed, repeated names joined by `,`) and the signed-headers list.
fn canonical_headers(headers: &[(String, String)]) -> (String, String) {
    let mut merged: Vec<(String, String)> = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        match merged.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => {
                v.push(',');
                v.push_str(&value);
            }
            None => merged.push((name, value)),
        }
    }
    merged.sort_by(|a, b| a.0.cmp(&b.0));
    let mut canonical = String::new();
    for (name, value) in &merged {
        canonical.push_str(name);
        canonical.push(':');
        canonical.push_str(value);
        canonical.push('\n');
    }
    let signed = merged
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    (canonical, signed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const AK: &str = "AKIAIOSFODNN7EXAMPLE";
    const SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn s3_params() -> SigningParams<'static> {
        SigningParams {
            access_key_id: AK,
            secret_access_key: SK,
            session_token: None,
            region: "us-east-1",
            service: "s3",
            time: datetime!(2013-05-24 00:00:00 UTC),
            normalize_path: false,
        }
    }

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    // AWS's documented S3 examples ("Signature Calculations for the Authorization Header:
    // Transferring Payload in a Single Chunk" and "Authenticating Requests: Using Query
    // Parameters"), at their fixed date.
    #[test]
    fn s3_example_get_object_with_range() {
        let headers = h(&[
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("Range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_SHA256),
        ]);
        let req = SignableRequest {
            method: "GET",
            path: "/test.txt",
            query: &[],
            headers: &headers,
            payload_hash: EMPTY_SHA256,
        };
        let sig = sign_headers(&req, &s3_params());
        assert_eq!(
            sig.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
             7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
        );
        assert_eq!(
            sig.signature,
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn s3_example_put_object_with_payload() {
        let payload_hash = sha256_hex(b"Welcome to Amazon S3.");
        assert_eq!(
            payload_hash,
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
        );
        let headers = h(&[
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("x-amz-content-sha256", &payload_hash),
        ]);
        let req = SignableRequest {
            method: "PUT",
            path: "/test$file.text",
            query: &[],
            headers: &headers,
            payload_hash: &payload_hash,
        };
        let sig = sign_headers(&req, &s3_params());
        assert!(
            sig.canonical_request
                .starts_with("PUT\n/test%24file.text\n\n")
        );
        assert_eq!(
            sig.signature,
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        );
    }

    #[test]
    fn s3_example_get_bucket_lifecycle_and_list() {
        let headers = h(&[
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("x-amz-content-sha256", EMPTY_SHA256),
        ]);
        let lifecycle = [("lifecycle".to_string(), String::new())];
        let req = SignableRequest {
            method: "GET",
            path: "/",
            query: &lifecycle,
            headers: &headers,
            payload_hash: EMPTY_SHA256,
        };
        assert_eq!(
            sign_headers(&req, &s3_params()).signature,
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
        );
        let list = [
            ("max-keys".to_string(), "2".to_string()),
            ("prefix".to_string(), "J".to_string()),
        ];
        let req = SignableRequest {
            query: &list,
            ..req
        };
        assert_eq!(
            sign_headers(&req, &s3_params()).signature,
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        );
    }

    #[test]
    fn s3_example_presigned_get() {
        let headers = h(&[("Host", "examplebucket.s3.amazonaws.com")]);
        let req = SignableRequest {
            method: "GET",
            path: "/test.txt",
            query: &[],
            headers: &headers,
            payload_hash: UNSIGNED_PAYLOAD,
        };
        let sig = sign_query(&req, &s3_params(), 86400);
        assert_eq!(
            sig.signature,
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
        assert_eq!(sig.params.last().unwrap().0, "X-Amz-Signature");
    }

    /// AWS's documented example "Transferring Payload in Multiple Chunks": 66,560 bytes of
    /// 'a' in a 64 KiB chunk, a 1 KiB chunk and the empty one.
    #[test]
    fn s3_example_chunk_signatures() {
        let mut signer = ChunkSigner::new(
            &s3_params(),
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
        );
        assert_eq!(
            signer.sign_chunk(&[b'a'; 65536]),
            "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
        );
        assert_eq!(
            signer.sign_chunk(&[b'a'; 1024]),
            "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
        );
        assert_eq!(
            signer.sign_chunk(b""),
            "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
        );
    }

    #[test]
    fn s3_paths_are_never_normalized_or_double_encoded() {
        assert_eq!(canonical_uri("/b/a/../c", false), "/b/a/../c");
        assert_eq!(canonical_uri("/b/a//c/./", false), "/b/a//c/./");
        assert_eq!(canonical_uri("/b/a%2F b", false), "/b/a%252F%20b");
        assert_eq!(canonical_uri("/b/a/../c", true), "/b/c");
    }

    #[test]
    fn debug_redacts_secrets() {
        let mut p = s3_params();
        p.session_token = Some("TOKEN-SECRET-VALUE");
        let s = format!("{p:?}");
        assert!(!s.contains(SK));
        assert!(!s.contains("TOKEN-SECRET-VALUE"));
        assert!(s.contains(AK));
    }
}
