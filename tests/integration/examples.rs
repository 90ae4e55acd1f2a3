//! The library's examples, run as their users would against SeaweedFS: `examples/backup.rs`
//! uploads a folder and 1,000 chunks under one manager, is interrupted with Ctrl-C in the
//! middle of its large file, and on its next run resumes that file; boto3 reads every object
//! back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use ferry_testkit::{Action, HoldProxy, Rule, TestServer};

use crate::{boto3_uploads, data, seaweed_bucket, sha256_hex, text};

const MIB: usize = 1024 * 1024;

/// An example's binary (cargo builds the examples with the tests).
fn example(name: &str) -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    let debug = deps.parent().unwrap().parent().unwrap();
    let path = debug.join("examples").join(name);
    assert!(
        path.exists(),
        "{} was not built (`cargo test` builds the examples; scripts/test does)",
        path.display()
    );
    path
}

/// Chunk `i` as the example makes it (the same rule, written again here).
fn chunk(i: u64) -> Vec<u8> {
    let len = 4096 + (i * 7919) % (60 * 1024);
    let mut x = (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len as usize + 8);
    while (out.len() as u64) < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len as usize);
    out
}

/// Every object under `prefix` and the SHA-256 of its bytes, as boto3 reads them.
fn boto3_hashes(server: &TestServer, bucket: &str, prefix: &str) -> BTreeMap<String, String> {
    let v = ferry_testkit::boto3(
        server,
        r#"
import hashlib
b, p = sys.argv[1], sys.argv[2]
out = {}
for page in s3.get_paginator('list_objects_v2').paginate(Bucket=b, Prefix=p):
    for o in page.get('Contents', []):
        out[o['Key']] = hashlib.sha256(s3.get_object(Bucket=b, Key=o['Key'])['Body'].read()).hexdigest()
print(json.dumps(out))
"#,
        &[bucket, prefix],
    )
    .unwrap();
    serde_json::from_value(v).unwrap()
}

fn backup(server: &TestServer, home: &Path, endpoint: &str, folder: &Path, dst: &str) -> Command {
    let mut c = Command::new(example("backup"));
    c.args([folder.to_str().unwrap(), dst])
        .env_clear()
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOME", home)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(server.env())
        .env("AWS_ENDPOINT_URL", endpoint)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

#[test]
fn the_backup_example_is_interrupted_and_resumes_its_large_file() {
    let (server, _client, bucket) = seaweed_bucket("ex-backup");
    let home = tempfile::tempdir().unwrap();
    let folder = home.path().join("data");
    std::fs::create_dir_all(folder.join("docs")).unwrap();
    let big = data(80 * MIB, 200);
    std::fs::write(folder.join("big.img"), &big).unwrap();
    let small = [
        ("docs/a.txt", data(1000, 201)),
        ("notes", data(70_000, 202)),
    ];
    for (name, body) in &small {
        std::fs::write(folder.join(name), body).unwrap();
    }
    let dst = format!("s3://{bucket}/b");
    // The large file's last part waits at the gate before its body (which never reaches the
    // server: were it whole, the next run would find it there and keep it); the rest goes
    // on. Once its first four parts are journaled, Ctrl-C.
    let proxy = HoldProxy::start(
        &server.endpoint,
        vec![Rule {
            method: "PUT",
            query: vec!["big.img", "partNumber=5"],
            nth: 1,
            action: Action::GateHead,
        }],
    )
    .unwrap();
    let child = backup(server, home.path(), &proxy.endpoint, &folder, &dst)
        .spawn()
        .unwrap();
    assert!(
        proxy.wait_gated(Duration::from_secs(120)),
        "part 5 never came"
    );
    let journals = home.path().join(".local/state/ferry");
    let parts_journaled = || {
        std::fs::read_dir(&journals)
            .map(|d| {
                d.map(|e| {
                    let text = std::fs::read_to_string(e.unwrap().path()).unwrap_or_default();
                    text.matches(r#""type":"part""#).count()
                })
                .max()
                .unwrap_or(0)
            })
            .unwrap_or(0)
    };
    let start = std::time::Instant::now();
    while parts_journaled() < 4 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "parts 1-4 never landed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("progress: "), "{}", text(&o));
    assert!(out.contains("1 kept to resume"), "{}", text(&o));
    assert_eq!(
        boto3_uploads(server, &bucket).len(),
        1,
        "the large file's upload is kept"
    );

    // The next run resumes it: only its last part is sent.
    proxy.open_gate();
    proxy.reset(vec![]);
    let o = backup(server, home.path(), &proxy.endpoint, &folder, &dst)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    // The manager's counters cover the chunks and the files together: 1,000 and 3. The
    // folder is checked against the prefix after.
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("checked: 3 files the same"), "{}", text(&o));
    let last = out.lines().rfind(|l| l.starts_with("progress: "));
    assert!(
        last.is_some_and(|l| l.ends_with(", 1003 of 1003 objects")),
        "{}",
        text(&o)
    );
    let big_parts: Vec<String> = proxy
        .log()
        .into_iter()
        .filter(|l| l.starts_with("PUT") && l.contains("big.img") && l.contains("partNumber="))
        .collect();
    assert_eq!(big_parts.len(), 1, "{big_parts:?}");
    assert!(big_parts[0].contains("partNumber=5&"), "{big_parts:?}");

    let mut want = BTreeMap::new();
    want.insert("b/files/big.img".to_string(), sha256_hex(&big));
    for (name, body) in &small {
        want.insert(format!("b/files/{name}"), sha256_hex(body));
    }
    for i in 0..1000 {
        want.insert(format!("b/chunks/{i:04}"), sha256_hex(&chunk(i)));
    }
    assert_eq!(boto3_hashes(server, &bucket, "b/"), want);
    assert!(boto3_uploads(server, &bucket).is_empty());
}
