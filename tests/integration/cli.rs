//! The `ferry` binary against SeaweedFS: a file up and back, checked by boto3; bad input exits
//! 2 with a message that names the problem.

use std::process::Command;

use crate::{boto3_object, data, expect_exit, ferry, seaweed_bucket, sha256_hex, text};

#[test]
fn cp_file_up_and_down() {
    let (server, _client, bucket) = seaweed_bucket("cli-cp");
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("source.bin");
    let body = data(3 * 1024 * 1024 + 17, 11);
    std::fs::write(&src, &body).unwrap();
    let dst = format!("s3://{bucket}/folder/source copy.bin");

    let o = ferry(server, dir.path(), &["cp", src.to_str().unwrap(), &dst]);
    assert!(o.status.success(), "{}", text(&o));
    let seen = boto3_object(server, &bucket, "folder/source copy.bin");
    assert_eq!(seen["sha256"], sha256_hex(&body));
    assert_eq!(seen["size"], body.len());

    let back = dir.path().join("back.bin");
    let o = ferry(server, dir.path(), &["cp", &dst, back.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read(&back).unwrap(), body);
    assert!(!dir.path().join("back.bin.ferry-partial").exists());

    let o = ferry(server, dir.path(), &["cp", &dst, "-"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(sha256_hex(&o.stdout), sha256_hex(&body));

    // --no-clobber keeps an existing local file as it is.
    std::fs::write(&back, b"keep me").unwrap();
    let o = ferry(
        server,
        dir.path(),
        &["cp", "--no-clobber", &dst, back.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(std::fs::read(&back).unwrap(), b"keep me");
}

#[test]
fn failed_download_leaves_no_file() {
    let (server, _client, bucket) = seaweed_bucket("cli-missing");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.bin");
    let o = ferry(
        server,
        dir.path(),
        &[
            "cp",
            &format!("s3://{bucket}/no-such-key"),
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no-such-key does not exist"),
        "{}",
        text(&o)
    );
    assert!(!out.exists());
    assert!(!dir.path().join("out.bin.ferry-partial").exists());
    assert!(!dir.path().join("out.bin.ferry-partial.journal").exists());
}

#[test]
fn mb_makes_a_bucket_and_errors_name_the_bucket_or_object() {
    let server = ferry_testkit::seaweedfs();
    let dir = tempfile::tempdir().unwrap();
    let bucket = ferry_testkit::unique_bucket("cli-mb");
    let o = ferry(server, dir.path(), &["mb", &format!("s3://{bucket}")]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!("make_bucket: s3://{bucket}\n")
    );
    // -q, as cp takes it: nothing on success.
    let quiet = format!("{bucket}-q");
    let o = ferry(server, dir.path(), &["mb", "-q", &format!("s3://{quiet}")]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(o.stdout.is_empty(), "{}", text(&o));
    for b in [&bucket, &quiet] {
        let v = ferry_testkit::boto3(
            server,
            "s3.head_bucket(Bucket=sys.argv[1])\nprint('true')",
            &[b],
        )
        .unwrap();
        assert_eq!(v, true, "{b}");
    }
    // Made again: the server's refusal, said of the bucket it concerns.
    let o = ferry(server, dir.path(), &["mb", &format!("s3://{bucket}")]);
    expect_exit(
        &o,
        1,
        &format!("making the bucket s3://{bucket}: CreateBucket failed"),
    );
    // An ACL of an object that is not there: named with the object.
    let missing = format!("s3://{bucket}/missing");
    let o = ferry(server, dir.path(), &["acl", "get", &missing]);
    expect_exit(
        &o,
        1,
        &format!("reading the ACL of {missing}: GetObjectAcl failed"),
    );
}

#[test]
fn proxies_are_used_for_remote_endpoints_never_for_loopback() {
    let (server, _client, bucket) = seaweed_bucket("cli-proxy");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.txt");
    std::fs::write(&file, b"through no proxy").unwrap();

    // A proxy that records the request line it gets and answers 404.
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let seen = std::thread::spawn(move || {
        use std::io::{BufRead, BufReader, Write};
        let (mut s, _) = proxy.accept().unwrap();
        let mut line = String::new();
        BufReader::new(s.try_clone().unwrap())
            .read_line(&mut line)
            .unwrap();
        let _ = s
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        line
    });

    // Loopback endpoint with HTTP_PROXY set: the proxy is bypassed and the upload works.
    let o = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args([
            "cp",
            file.to_str().unwrap(),
            &format!("s3://{bucket}/f.txt"),
        ])
        .env_clear()
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOME", dir.path())
        .envs(server.env())
        .env("HTTP_PROXY", &proxy_url)
        .env("http_proxy", &proxy_url)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(boto3_object(server, &bucket, "f.txt")["size"], 16);

    // A remote endpoint goes through the proxy (no DNS lookup of the name by ferry).
    let o = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args([
            "--endpoint-url",
            "http://s3.ferry-test.invalid",
            "cp",
            "s3://bkt/k",
            "-",
        ])
        .env_clear()
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOME", dir.path())
        .env("AWS_ACCESS_KEY_ID", "k")
        .env("AWS_SECRET_ACCESS_KEY", "s")
        .env("HTTP_PROXY", &proxy_url)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let line = seen.join().unwrap();
    assert!(
        line.starts_with("HEAD http://s3.ferry-test.invalid/bkt/k HTTP/1.1"),
        "{line:?}"
    );
}
