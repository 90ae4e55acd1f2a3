//! A source file that changes while it uploads is never stored: rewritten in place, appended
//! to, or shrunk at an exact point of the upload (a gate in the fault proxy stops ferry there
//! while the test changes the file), through the real binary on SeaweedFS. ferry exits 1
//! naming the file and the change; the key keeps what it held before (or stays empty), no
//! multipart upload and no journal are left. An unchanged file sends exactly the requests it
//! always did.

use std::io::{Seek as _, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ferry_testkit::{Action, HoldProxy, Rule, TestServer};

use crate::{boto3_object, boto3_uploads, data, seaweed_bucket, sha256_hex, text};

const MIB: usize = 1024 * 1024;
const PARTS_OF_5: [&str; 2] = ["--part-size", "5MiB"];

/// `ferry cp FILE DST` through `endpoint`, one part at a time, with `extra`.
pub(crate) fn start(
    server: &TestServer,
    home: &Path,
    endpoint: &str,
    src: &Path,
    dst: &str,
    extra: &[&str],
) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(["cp", src.to_str().unwrap(), dst])
        .args(["--concurrency", "1", "--no-progress"])
        .args(extra)
        .env_clear()
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOME", home)
        .envs(server.env())
        .env("AWS_ENDPOINT_URL", endpoint)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

pub(crate) fn gate(method: &'static str, query: Vec<&'static str>, action: Action) -> Rule {
    Rule {
        method,
        query,
        nth: 1,
        action,
    }
}

/// Overwrites `len` bytes at `offset` in place (same size, as `dd conv=notrunc` does).
fn rewrite_in_place(path: &Path, offset: u64, len: usize) {
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(std::io::SeekFrom::Start(offset)).unwrap();
    f.write_all(&data(len, 999)).unwrap();
    f.sync_all().unwrap();
}

pub(crate) fn append(path: &Path, len: usize) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(&data(len, 998)).unwrap();
}

/// What boto3 says is at the key: `None` when nothing is.
fn stored(server: &TestServer, bucket: &str, key: &str) -> Option<String> {
    let v = ferry_testkit::boto3(
        server,
        r#"
import hashlib
try:
    data = s3.get_object(Bucket=sys.argv[1], Key=sys.argv[2])['Body'].read()
    print(json.dumps(hashlib.sha256(data).hexdigest()))
except s3.exceptions.NoSuchKey:
    print(json.dumps(None))
"#,
        &[bucket, key],
    )
    .unwrap();
    v.as_str().map(str::to_string)
}

fn journals(home: &Path) -> usize {
    std::fs::read_dir(home.join(".local/state/ferry"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// What a changed-file failure must look like: exit 1, the file and the change named, what
/// to do, nothing left behind.
fn assert_refused(o: &std::process::Output, file: &Path, change: &str, home: &Path) {
    assert_eq!(o.status.code(), Some(1), "{}", text(o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "{} changed while it was being uploaded",
            file.display()
        )),
        "{}",
        text(o)
    );
    assert!(err.contains(change), "expected {change:?}: {}", text(o));
    assert!(
        err.contains("Copy or snapshot the file first"),
        "{}",
        text(o)
    );
    assert!(
        !err.contains("ferry resume"),
        "offers to resume: {}",
        text(o)
    );
    assert_eq!(journals(home), 0, "a journal was left: {}", text(o));
}

#[test]
fn a_file_rewritten_in_place_during_its_upload_is_not_stored() {
    let (server, client, bucket) = seaweed_bucket("chg-inplace");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("f.bin");
    // An older object at the key: it must stay as it was.
    let old = data(3 * MIB, 1);
    crate::rt()
        .block_on(ferry_s3::ObjectClient::put_object(
            &client,
            crate::put(&bucket, "f.bin", old.clone()),
        ))
        .unwrap();
    std::fs::write(&file, data(30 * MIB, 2)).unwrap();
    // Parts 1-5 go up; the sixth and last waits at the gate while the first part's bytes
    // are rewritten (same size): what was read is a mix of two versions of the file.
    let proxy = HoldProxy::start(
        &server.endpoint,
        vec![gate("PUT", vec!["partNumber=6"], Action::Gate)],
    )
    .unwrap();
    let dst = format!("s3://{bucket}/f.bin");
    let child = start(
        server,
        home.path(),
        &proxy.endpoint,
        &file,
        &dst,
        &PARTS_OF_5,
    );
    assert!(
        proxy.wait_gated(Duration::from_secs(60)),
        "{:?}",
        proxy.log()
    );
    rewrite_in_place(&file, 0, MIB);
    proxy.open_gate();
    let o = child.wait_with_output().unwrap();
    assert_refused(&o, &file, "modified at", home.path());
    assert_eq!(stored(server, &bucket, "f.bin"), Some(sha256_hex(&old)));
    assert!(
        boto3_uploads(server, &bucket).is_empty(),
        "an upload was left"
    );
    // Nothing was completed: no Complete request reached the server.
    assert!(
        !proxy
            .log()
            .iter()
            .any(|l| l.starts_with("POST") && l.contains("uploadId=")),
        "{:?}",
        proxy.log()
    );
}

#[test]
fn a_file_appended_to_during_its_upload_is_not_stored() {
    let (server, _client, bucket) = seaweed_bucket("chg-append");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("grows.log");
    std::fs::write(&file, data(12 * MIB + 17, 3)).unwrap();
    let proxy = HoldProxy::start(
        &server.endpoint,
        vec![gate("PUT", vec!["partNumber=3"], Action::Gate)],
    )
    .unwrap();
    let dst = format!("s3://{bucket}/grows.log");
    // Read with O_DIRECT (where the temporary folder is a disk filesystem): the same check.
    let child = start(
        server,
        home.path(),
        &proxy.endpoint,
        &file,
        &dst,
        &["--part-size", "5MiB", "--direct-io", "always"],
    );
    assert!(
        proxy.wait_gated(Duration::from_secs(60)),
        "{:?}",
        proxy.log()
    );
    append(&file, 4096);
    proxy.open_gate();
    let o = child.wait_with_output().unwrap();
    let size = 12 * MIB + 17;
    assert_refused(
        &o,
        &file,
        &format!("size {size} -> {} bytes", size + 4096),
        home.path(),
    );
    assert_eq!(stored(server, &bucket, "grows.log"), None);
    assert!(
        boto3_uploads(server, &bucket).is_empty(),
        "an upload was left"
    );
}

#[test]
fn a_file_changed_during_a_single_request_upload_is_not_stored() {
    let (server, _client, bucket) = seaweed_bucket("chg-single");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("small.bin");
    // Under the multipart threshold: one PutObject, its body streamed from the file. The
    // proxy takes the head and stops reading, so ferry is partway through the body when the
    // file is rewritten.
    std::fs::write(&file, data(15 * MIB, 4)).unwrap();
    let proxy = HoldProxy::start(
        &server.endpoint,
        vec![gate("PUT", vec!["small.bin"], Action::GateHead)],
    )
    .unwrap();
    let dst = format!("s3://{bucket}/small.bin");
    let child = start(server, home.path(), &proxy.endpoint, &file, &dst, &[]);
    assert!(
        proxy.wait_gated(Duration::from_secs(60)),
        "{:?}",
        proxy.log()
    );
    rewrite_in_place(&file, 0, 4096);
    proxy.open_gate();
    let o = child.wait_with_output().unwrap();
    assert_refused(&o, &file, "modified at", home.path());
    assert_eq!(stored(server, &bucket, "small.bin"), None);
    // One attempt: a changed file is not sent again.
    let puts = proxy.log().iter().filter(|l| l.starts_with("PUT")).count();
    assert_eq!(puts, 1, "{:?}", proxy.log());
}

#[test]
fn a_resumed_upload_whose_file_changes_is_not_completed() {
    let (server, _client, bucket) = seaweed_bucket("chg-resume");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("r.bin");
    std::fs::write(&file, data(25 * MIB, 5)).unwrap();
    let dst = format!("s3://{bucket}/r.bin");
    // The first run is killed while part 3 is held: parts 1 and 2 are journaled.
    let proxy = HoldProxy::start(
        &server.endpoint,
        vec![gate("PUT", vec!["partNumber=3"], Action::Hold)],
    )
    .unwrap();
    let mut first = start(
        server,
        home.path(),
        &proxy.endpoint,
        &file,
        &dst,
        &PARTS_OF_5,
    );
    assert!(proxy.wait_triggered(Duration::from_secs(60)));
    first.kill().unwrap();
    let _ = first.wait();
    assert_eq!(journals(home.path()), 1);
    // The resumed run finds the file as the journal knew it, then the file is cut short
    // while its last part waits at the gate.
    proxy.reset(vec![gate("PUT", vec!["partNumber=5"], Action::Gate)]);
    let second = start(
        server,
        home.path(),
        &proxy.endpoint,
        &file,
        &dst,
        &PARTS_OF_5,
    );
    assert!(
        proxy.wait_gated(Duration::from_secs(60)),
        "{:?}",
        proxy.log()
    );
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(10 * MIB as u64)
        .unwrap();
    proxy.open_gate();
    let o = second.wait_with_output().unwrap();
    // It did resume: parts 1 and 2 were not sent again.
    assert!(
        !proxy.log().iter().any(|l| l.contains("partNumber=1&")),
        "{:?}",
        proxy.log()
    );
    assert_refused(
        &o,
        &file,
        &format!("size {} -> {} bytes", 25 * MIB, 10 * MIB),
        home.path(),
    );
    assert_eq!(stored(server, &bucket, "r.bin"), None);
    assert!(
        boto3_uploads(server, &bucket).is_empty(),
        "an upload was left"
    );
}

#[test]
fn a_tree_upload_fails_only_the_file_that_changed() {
    let (server, _client, bucket) = seaweed_bucket("chg-tree");
    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("tree");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    let a = data(MIB, 6);
    let c = data(7 * MIB, 7);
    std::fs::write(root.join("a.bin"), &a).unwrap();
    std::fs::write(root.join("big.bin"), data(20 * MIB, 8)).unwrap();
    std::fs::write(root.join("sub/c.bin"), &c).unwrap();
    let proxy = HoldProxy::start(
        &server.endpoint,
        vec![gate("PUT", vec!["big.bin", "partNumber=4"], Action::Gate)],
    )
    .unwrap();
    let child = start(
        server,
        home.path(),
        &proxy.endpoint,
        &root,
        &format!("s3://{bucket}/t"),
        &["--part-size", "5MiB", "--recursive"],
    );
    assert!(
        proxy.wait_gated(Duration::from_secs(60)),
        "{:?}",
        proxy.log()
    );
    rewrite_in_place(&root.join("big.bin"), 6 * MIB as u64, 100);
    proxy.open_gate();
    let o = child.wait_with_output().unwrap();
    let big = root.join("big.bin");
    assert_refused(&o, &big, "modified at", home.path());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("1 object failed"), "{}", text(&o));
    assert!(err.contains("2 of 3 objects done"), "{}", text(&o));
    assert_eq!(stored(server, &bucket, "t/big.bin"), None);
    assert_eq!(
        boto3_object(server, &bucket, "t/a.bin")["sha256"],
        sha256_hex(&a)
    );
    assert_eq!(
        boto3_object(server, &bucket, "t/sub/c.bin")["sha256"],
        sha256_hex(&c)
    );
    assert!(
        boto3_uploads(server, &bucket).is_empty(),
        "an upload was left"
    );
}

#[test]
fn an_unchanged_file_sends_no_extra_request() {
    let (server, _client, bucket) = seaweed_bucket("chg-none");
    let home = tempfile::tempdir().unwrap();
    let proxy = HoldProxy::start(&server.endpoint, vec![]).unwrap();
    for (name, size, expected) in [
        // Create, three parts, Complete, the HeadObject check.
        (
            "multi.bin",
            12 * MIB,
            vec!["POST", "PUT", "PUT", "PUT", "POST", "HEAD"],
        ),
        // PutObject alone: its answer carries the checksum the server computed, ferry's.
        ("single.bin", MIB, vec!["PUT"]),
    ] {
        proxy.reset(vec![]);
        let file = home.path().join(name);
        let body = data(size, 9);
        std::fs::write(&file, &body).unwrap();
        let dst = format!("s3://{bucket}/{name}");
        let o = start(
            server,
            home.path(),
            &proxy.endpoint,
            &file,
            &dst,
            &PARTS_OF_5,
        )
        .wait_with_output()
        .unwrap();
        assert!(o.status.success(), "{name}: {}", text(&o));
        let methods: Vec<String> = proxy
            .log()
            .iter()
            .map(|l| l.split_whitespace().next().unwrap_or_default().to_string())
            .collect();
        assert_eq!(methods, expected, "{name}: {:?}", proxy.log());
        assert_eq!(stored(server, &bucket, name), Some(sha256_hex(&body)));
    }
}

#[test]
fn the_library_reports_a_changed_source_as_its_own_kind() {
    use std::sync::Arc;

    use ferry_engine::{ErrorKind, PlanConfig, Source, Upload, UploadSettings};
    use ferry_testkit::FailingClient;

    let (server, client, bucket) = seaweed_bucket("chg-lib");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lib.bin");
    std::fs::write(&file, data(11 * MIB, 10)).unwrap();
    let failing = Arc::new(FailingClient::new(client, vec![]));
    // Between parts: just before the third and last UploadPart is sent.
    let grows = file.clone();
    failing.before("UploadPart", 3, Box::new(move || append(&grows, 10)));
    let settings = UploadSettings {
        plan: PlanConfig {
            part_size: Some(5 * MIB as u64),
            ..Default::default()
        },
        ..Default::default()
    };
    let manager = ferry_engine::Manager::new(
        failing,
        ferry_engine::ManagerConfig {
            max_requests: 1,
            parts_per_object: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let err = crate::rt()
        .block_on(async {
            let upload = Upload::new(Source::File(file.clone()), &bucket, "lib.bin");
            manager.upload(upload.settings(settings)).wait().await
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SourceChanged, "{err}");
    assert!(
        err.to_string().contains("size 11534336 -> 11534346 bytes"),
        "{err}"
    );
    assert_eq!(stored(server, &bucket, "lib.bin"), None);
    assert!(
        boto3_uploads(server, &bucket).is_empty(),
        "an upload was left"
    );
}
