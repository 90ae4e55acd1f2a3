//! Runs AWS's official SigV4 test suite (tests/data/sigv4) through ferry's signer, header and
//! query variants, checking the canonical request, string to sign and signature of each case.

use std::path::{Path, PathBuf};

use ferry_s3::signing::{
    self, SignableRequest, SigningParams, sign_headers, sign_headers_with, sign_query,
    sign_query_with,
};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Deserialize)]
struct Context {
    credentials: Creds,
    expiration_in_seconds: u64,
    normalize: bool,
    region: String,
    service: String,
    sign_body: bool,
    timestamp: String,
    #[serde(default)]
    omit_session_token: bool,
}

#[derive(Deserialize)]
struct Creds {
    access_key_id: String,
    secret_access_key: String,
    token: Option<String>,
}

struct Parsed {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .expect("utf-8")
        .into_owned()
}

fn parse_request(text: &str) -> Parsed {
    let (head, body) = match text.find("\n\n") {
        Some(i) => (&text[..i], text.as_bytes()[i + 2..].to_vec()),
        None => (text.trim_end_matches('\n'), Vec::new()),
    };
    let mut lines = head.lines();
    let first = lines.next().expect("request line");
    let (method, rest) = first.split_once(' ').expect("method");
    let target = rest.strip_suffix(" HTTP/1.1").expect("HTTP/1.1");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with(' ') || line.starts_with('\t') {
            let last = headers.last_mut().expect("continuation after a header");
            last.1.push(' ');
            last.1.push_str(line.trim());
        } else {
            let (name, value) = line.split_once(':').expect("header");
            headers.push((name.to_string(), value.to_string()));
        }
    }
    Parsed {
        method: method.to_string(),
        path: path.to_string(),
        query,
        headers,
        body,
    }
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sigv4");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("suite folder")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn official_suite_all_cases_both_variants() {
    let cases = cases();
    assert_eq!(cases.len(), 38, "the suite has 38 cases");
    let mut normalized = 0;
    for dir in &cases {
        let ctx: Context = serde_json::from_str(&read(dir, "context.json")).unwrap();
        normalized += usize::from(ctx.normalize);
        let req = parse_request(&read(dir, "request.txt"));
        let time = OffsetDateTime::parse(&ctx.timestamp, &Rfc3339).unwrap();
        let params = SigningParams {
            access_key_id: &ctx.credentials.access_key_id,
            secret_access_key: &ctx.credentials.secret_access_key,
            session_token: ctx.credentials.token.as_deref(),
            region: &ctx.region,
            service: &ctx.service,
            time,
            normalize_path: ctx.normalize,
        };
        let payload_hash = signing::sha256_hex(&req.body);
        let name = dir.file_name().unwrap().to_string_lossy();

        // Header variant: a signed body is announced in x-amz-content-sha256.
        let mut headers = req.headers.clone();
        if ctx.sign_body {
            headers.push(("x-amz-content-sha256".into(), payload_hash.clone()));
        }
        let signable = SignableRequest {
            method: &req.method,
            path: &req.path,
            query: &req.query,
            headers: &headers,
            payload_hash: &payload_hash,
        };
        let sig = if ctx.omit_session_token {
            sign_headers_with(&signable, &params, false)
        } else {
            sign_headers(&signable, &params)
        };
        assert_eq!(
            sig.canonical_request,
            read(dir, "header-canonical-request.txt"),
            "{name}: header canonical request"
        );
        assert_eq!(
            sig.string_to_sign,
            read(dir, "header-string-to-sign.txt"),
            "{name}: header string to sign"
        );
        assert_eq!(
            sig.signature,
            read(dir, "header-signature.txt").trim(),
            "{name}: header signature"
        );
        let expected_auth = read(dir, "header-signed-request.txt")
            .lines()
            .find_map(|l| l.strip_prefix("Authorization:").map(str::to_string))
            .unwrap();
        let auth = sig
            .headers
            .iter()
            .find(|(n, _)| *n == "authorization")
            .unwrap();
        assert_eq!(auth.1, expected_auth, "{name}: authorization header");

        // Query variant.
        let signable = SignableRequest {
            headers: &req.headers,
            ..signable
        };
        let sig = if ctx.omit_session_token {
            sign_query_with(&signable, &params, ctx.expiration_in_seconds, false)
        } else {
            sign_query(&signable, &params, ctx.expiration_in_seconds)
        };
        assert_eq!(
            sig.canonical_request,
            read(dir, "query-canonical-request.txt"),
            "{name}: query canonical request"
        );
        assert_eq!(
            sig.string_to_sign,
            read(dir, "query-string-to-sign.txt"),
            "{name}: query string to sign"
        );
        assert_eq!(
            sig.signature,
            read(dir, "query-signature.txt").trim(),
            "{name}: query signature"
        );
    }
    assert_eq!(normalized, 31, "31 cases normalize the path");
}
