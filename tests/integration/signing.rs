//! What a server refuses for how a request was signed, and ferry corrects: a local clock far
//! off the server's (S3 refuses a request signed more than 15 minutes from its own time), and
//! a bucket in another region than the one configured. ferry then signs with the time in the
//! refusal's `Date` header, as s5cmd and the AWS SDKs do, or for the region it names, as the
//! aws cli does. The clock: the binary runs under libfaketime, SeaweedFS (which enforces the
//! 15 minutes) on the real clock. The region: SeaweedFS behind the fault proxy, which refuses
//! as S3 does a request signed for another region. boto3 checks what landed.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use ferry_testkit::{HoldProxy, TestServer};

use crate::tree::{boto3_tree, local_tree, make_tree};
use crate::{
    boto3_object, boto3_uploads, data, ferry, ferry_command, seaweed_bucket, sha256_hex, text,
};

/// Runs ferry with its clock moved by `shift` (libfaketime's form: `+30m`, `-2h`, `+1d`).
fn ferry_at(server: &TestServer, home: &Path, shift: &str, args: &[&str]) -> Output {
    ferry_command(server.env(), home)
        .env("LD_PRELOAD", ferry_testkit::faketime_library().unwrap())
        .env("FAKETIME", shift)
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .args(args)
        .output()
        .unwrap()
}

/// Asserts a run worked and said which way its clock was off.
fn corrected(o: &Output, way: &str) {
    assert_eq!(o.status.code(), Some(0), "{}", text(o));
    let said = format!("{way} the server's; signing requests with the server's time");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&said),
        "{}",
        text(o)
    );
}

#[test]
fn a_clock_hours_off_is_corrected_by_the_servers_time() {
    let (server, _client, bucket) = seaweed_bucket("clock");
    let home = tempfile::tempdir().unwrap();
    let big = home.path().join("big.bin");
    let body = data(12 << 20, 41);
    std::fs::write(&big, &body).unwrap();

    // Half an hour ahead, a multipart upload: Create is refused, then signed again.
    let url = format!("s3://{bucket}/big.bin");
    let o = ferry_at(
        server,
        home.path(),
        "+30m",
        &["cp", big.to_str().unwrap(), &url, "--part-size", "5MiB"],
    );
    corrected(&o, "30 min ahead of");
    assert_eq!(
        boto3_object(server, &bucket, "big.bin")["sha256"],
        sha256_hex(&body)
    );
    assert!(boto3_uploads(server, &bucket).is_empty());

    // Two hours behind, a folder of small files: a hundred PutObjects in flight are refused
    // together, their bodies streams that cannot be sent again as they are; each is retried.
    let src = home.path().join("src");
    let files: Vec<(String, usize)> = (0..150).map(|i| (format!("f{i:03}"), 100 + i)).collect();
    let files: Vec<(&str, usize)> = files.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    make_tree(&src, &files);
    let o = ferry_at(
        server,
        home.path(),
        "-2h",
        &[
            "cp",
            "-r",
            src.to_str().unwrap(),
            &format!("s3://{bucket}/tree/"),
        ],
    );
    corrected(&o, "behind");
    let up: BTreeMap<_, _> = boto3_tree(server, &bucket, "tree/")
        .into_iter()
        .map(|(k, v)| (k["tree/".len()..].to_string(), v))
        .collect();
    assert_eq!(up, local_tree(&src));

    // A day ahead, downloads: a refused HEAD has no body to name the reason, only its 403 and
    // its Date; a sync's listing and GETs.
    let back = home.path().join("back.bin");
    let o = ferry_at(
        server,
        home.path(),
        "+1d",
        &["cp", &url, back.to_str().unwrap()],
    );
    corrected(&o, "24 h 0 min ahead of");
    assert_eq!(std::fs::read(&back).unwrap(), body);
    let down = home.path().join("down");
    let o = ferry_at(
        server,
        home.path(),
        "+1d",
        &[
            "sync",
            &format!("s3://{bucket}/tree/"),
            down.to_str().unwrap(),
        ],
    );
    corrected(&o, "ahead of");
    assert_eq!(local_tree(&down), local_tree(&src));
}

#[test]
fn a_bucket_in_another_region_is_signed_for_its_own() {
    let (server, _client, bucket) = seaweed_bucket("region");
    let proxy = HoldProxy::start(&server.endpoint, vec![]).unwrap();
    proxy.set_bucket_region(Some("eu-west-1"));
    let behind = proxy.server(server);
    let home = tempfile::tempdir().unwrap();
    let big = home.path().join("big.bin");
    let body = data(12 << 20, 43);
    std::fs::write(&big, &body).unwrap();
    let refusals = || {
        proxy
            .log()
            .iter()
            .filter(|l| l.ends_with("signed for another region"))
            .count()
    };
    let moved = |o: &Output| {
        assert_eq!(o.status.code(), Some(0), "{}", text(o));
        let said = format!("s3://{bucket} is in eu-west-1, not us-east-1");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(&said),
            "{}",
            text(o)
        );
    };

    // The configured region is us-east-1 (the test server's). A multipart upload: Create is
    // refused once, and every later request goes out signed for eu-west-1.
    let url = format!("s3://{bucket}/big.bin");
    let o = ferry(
        &behind,
        home.path(),
        &["cp", big.to_str().unwrap(), &url, "--part-size", "5MiB"],
    );
    moved(&o);
    assert_eq!(refusals(), 1, "{:?}", proxy.log());
    assert_eq!(
        boto3_object(server, &bucket, "big.bin")["sha256"],
        sha256_hex(&body)
    );
    assert!(boto3_uploads(server, &bucket).is_empty());

    // A folder of small files: the PutObjects in flight are refused together, their bodies
    // streams that cannot be sent again as they are; each is retried.
    let src = home.path().join("src");
    let files: Vec<(String, usize)> = (0..60).map(|i| (format!("f{i:02}"), 100 + i)).collect();
    let files: Vec<(&str, usize)> = files.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    make_tree(&src, &files);
    let o = ferry(
        &behind,
        home.path(),
        &[
            "cp",
            "-r",
            src.to_str().unwrap(),
            &format!("s3://{bucket}/tree/"),
        ],
    );
    moved(&o);
    let up: BTreeMap<_, _> = boto3_tree(server, &bucket, "tree/")
        .into_iter()
        .map(|(k, v)| (k["tree/".len()..].to_string(), v))
        .collect();
    assert_eq!(up, local_tree(&src));

    // Downloads: a HEAD's refusal is a bare 301 naming the region in a header.
    let back = home.path().join("back.bin");
    let o = ferry(&behind, home.path(), &["cp", &url, back.to_str().unwrap()]);
    moved(&o);
    assert_eq!(std::fs::read(&back).unwrap(), body);
    let down = home.path().join("down");
    let o = ferry(
        &behind,
        home.path(),
        &[
            "sync",
            &format!("s3://{bucket}/tree/"),
            down.to_str().unwrap(),
        ],
    );
    moved(&o);
    assert_eq!(local_tree(&down), local_tree(&src));

    // Given the right region, nothing is refused.
    proxy.reset(vec![]);
    let o = ferry(
        &behind,
        home.path(),
        &["--region", "eu-west-1", "cp", &url, back.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(refusals(), 0, "{:?}", proxy.log());
}
