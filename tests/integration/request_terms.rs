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

/// Asserts a run worked and warned `said`.
fn corrected(o: &Output, said: &str) {
    assert_eq!(o.status.code(), Some(0), "{}", text(o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(said),
        "{}",
        text(o)
    );
}

/// The steps each correction must carry, run by `run(step, args)` (which asserts the run was
/// corrected), each checked against `server` by boto3 or against the source: a multipart
/// upload (Create is refused, then sent again); a tree of small files, whose PutObjects in
/// flight are refused together, their bodies streams that cannot be sent again as they are
/// (each is retried); a download, whose HEAD's refusal has no body to name the reason; a sync
/// down (a listing and GETs). Returns the object's URL and a file to download it to.
fn each_step(
    server: &TestServer,
    bucket: &str,
    home: &Path,
    run: impl Fn(usize, &[&str]),
) -> (String, String) {
    let big = home.join("big.bin");
    let body = data(12 << 20, 41);
    std::fs::write(&big, &body).unwrap();
    let url = format!("s3://{bucket}/big.bin");
    run(
        0,
        &["cp", big.to_str().unwrap(), &url, "--part-size", "5MiB"],
    );
    assert_eq!(
        boto3_object(server, bucket, "big.bin")["sha256"],
        sha256_hex(&body)
    );
    assert!(boto3_uploads(server, bucket).is_empty());

    let src = home.join("src");
    let files: Vec<(String, usize)> = (0..150).map(|i| (format!("f{i:03}"), 100 + i)).collect();
    let files: Vec<(&str, usize)> = files.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    make_tree(&src, &files);
    let tree = format!("s3://{bucket}/tree/");
    run(1, &["cp", "-r", src.to_str().unwrap(), &tree]);
    let up: BTreeMap<_, _> = boto3_tree(server, bucket, "tree/")
        .into_iter()
        .map(|(k, v)| (k["tree/".len()..].to_string(), v))
        .collect();
    assert_eq!(up, local_tree(&src));

    let back = home.join("back.bin");
    let back = back.to_str().unwrap();
    run(2, &["cp", &url, back]);
    assert_eq!(std::fs::read(back).unwrap(), body);
    let down = home.join("down");
    run(3, &["sync", &tree, down.to_str().unwrap()]);
    assert_eq!(local_tree(&down), local_tree(&src));
    (url, back.to_string())
}

#[test]
fn a_clock_hours_off_is_corrected_by_the_servers_time() {
    let (server, _client, bucket) = seaweed_bucket("clock");
    let home = tempfile::tempdir().unwrap();
    // Half an hour ahead, two hours behind, a day ahead (twice).
    let shifts = [
        ("+30m", "30 min ahead of"),
        ("-2h", "2 h 0 min behind"),
        ("+1d", "24 h 0 min ahead of"),
        ("+1d", "24 h 0 min ahead of"),
    ];
    each_step(server, &bucket, home.path(), |step, args| {
        let (shift, way) = shifts[step];
        let o = ferry_at(server, home.path(), shift, args);
        corrected(
            &o,
            &format!("{way} the server's; signing requests with the server's time"),
        );
    });
}

#[test]
fn a_bucket_in_another_region_is_signed_for_its_own() {
    let (server, _client, bucket) = seaweed_bucket("region");
    let proxy = HoldProxy::start(&server.endpoint, vec![]).unwrap();
    proxy.set_bucket_region(Some("eu-west-1"));
    let behind = proxy.server(server);
    let home = tempfile::tempdir().unwrap();
    let refusals = || {
        proxy
            .log()
            .iter()
            .filter(|l| l.ends_with("signed for another region"))
            .count()
    };
    // The configured region is us-east-1 (the test server's): each run is refused, learns
    // the bucket's region, and signs for it. The multipart upload is refused once only.
    let said = format!("s3://{bucket} is in eu-west-1, not us-east-1");
    let (url, back) = each_step(server, &bucket, home.path(), |step, args| {
        corrected(&ferry(&behind, home.path(), args), &said);
        if step == 0 {
            assert_eq!(refusals(), 1, "{:?}", proxy.log());
        }
    });

    // Given the right region, nothing is refused.
    proxy.reset(vec![]);
    let o = ferry(
        &behind,
        home.path(),
        &["--region", "eu-west-1", "cp", &url, &back],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(refusals(), 0, "{:?}", proxy.log());
}
