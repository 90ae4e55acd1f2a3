//! End-to-end tests against real S3-compatible servers on 127.0.0.1 (one test binary, as
//! ripgrep does, to keep link time down). The SeaweedFS comes from the test command
//! (`FERRY_TEST_SEAWEEDFS`) or is started by the first test that needs it.

mod cli;
mod heavy;
mod ops;
mod protocol;
mod upload;

use std::sync::OnceLock;

use ferry_s3::{CreateBucketRequest, ObjectClient, S3Client};
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
    }))
    .unwrap();
    (server, client, bucket)
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
    'metadata': h.get('Metadata', {}),
    'etag': h.get('ETag'),
}))
"#,
        &[bucket, key],
    )
    .unwrap()
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
