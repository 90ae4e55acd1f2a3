//! TLS trust, an endpoint that is no S3 service, and presigned URLs, through the `ferry`
//! binary.

use super::*;
use crate::curl;

/// An endpoint that answers as a web server does, not as S3 (a mistyped port, a console's
/// address): the error says so and shows the page by its title, not its markup.
#[test]
fn an_endpoint_that_is_no_s3_service_is_named_as_such() {
    use std::io::{BufRead as _, BufReader, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let page = "<!DOCTYPE html>\n<html><head><title>Not Found</title></head>\n\
                <body><h1>Nothing here</h1></body></html>\n";
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = answered.clone();
    listener.set_nonblocking(true).unwrap();
    let server = std::thread::spawn(move || {
        let started = std::time::Instant::now();
        while started.elapsed() < std::time::Duration::from_secs(60) {
            let Ok((stream, _)) = listener.accept() else {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
                continue;
            };
            stream.set_nonblocking(false).unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 404 Not Found\r\ncontent-type: text/html\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let vars = vec![
        ("AWS_ENDPOINT_URL".to_string(), endpoint),
        ("AWS_ACCESS_KEY_ID".to_string(), "AKIDEXAMPLE".to_string()),
        ("AWS_SECRET_ACCESS_KEY".to_string(), "secret".to_string()),
    ];
    let out = dir.path().join("out");
    let o = ferry_command(vars, dir.path())
        .args(["cp", "-r", "s3://bucket/p/", out.to_str().unwrap()])
        .output()
        .unwrap();
    answered.store(true, std::sync::atomic::Ordering::Relaxed);
    server.join().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("an HTML page titled \"Not Found\""), "{err}");
    assert!(
        err.contains("check that the endpoint URL is an S3 service's"),
        "{err}"
    );
    assert!(!err.contains("<html>"), "{err}");
    assert!(!out.exists(), "nothing was written");
}

#[test]
fn tls_trust_comes_from_the_ca_bundle() {
    let (cert, key) = ferry_testkit::self_signed_cert().unwrap();
    let weed = ferry_testkit::Seaweed::start_with(Some((&cert, &key))).unwrap();
    let https = weed.https_endpoint().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &cert).unwrap();
    let file = dir.path().join("f.bin");
    let body = data(200_000, 26);
    std::fs::write(&file, &body).unwrap();
    let mut env = weed.server.env();
    env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL".into(), https.clone()));
    let run = |extra: &[&str], vars: &[(&str, &str)]| {
        let mut c = ferry_command(env.clone(), dir.path());
        c.args(extra).envs(vars.iter().copied());
        c.output().unwrap()
    };
    let ca_s = ca.to_str().unwrap();
    let f = file.to_str().unwrap();

    // Without the certificate: refused, exit 1, the TLS problem named.
    let o = run(&["cp", f, "s3://tls-bucket/k"], &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("TLS handshake failed"), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert!(err.contains("to trust a private CA"), "{err}");
    assert!(
        err.contains("AWS_CA_BUNDLE") && err.contains("--ca-bundle"),
        "{err}"
    );

    // https:// to a server of plain HTTP: said so, not taken for a CA problem.
    let plain = weed.server.endpoint.replace("http://", "https://");
    let o = run(
        &["--endpoint-url", &plain, "cp", f, "s3://tls-bucket/k"],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("did not answer in TLS"), "{err}");
    assert!(!err.contains("private CA"), "{err}");

    // --ca-bundle FILE and AWS_CA_BUNDLE trust it.
    let o = run(&["--ca-bundle", ca_s, "mb", "s3://tls-bucket"], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&["--ca-bundle", ca_s, "cp", f, "s3://tls-bucket/a"], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&["cp", f, "s3://tls-bucket/b"], &[("AWS_CA_BUNDLE", ca_s)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let back = dir.path().join("back.bin");
    let o = run(
        &["cp", "s3://tls-bucket/b", back.to_str().unwrap()],
        &[("AWS_CA_BUNDLE", ca_s)],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&back).unwrap(), body);

    // --no-verify-ssl works and warns loudly.
    let o = run(&["--no-verify-ssl", "cp", f, "s3://tls-bucket/c"], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("WARNING") && err.contains("NOT verified"),
        "{err}"
    );

    // An independent client (over plain HTTP) sees the objects.
    for k in ["a", "b", "c"] {
        assert_eq!(
            boto3_object(&weed.server, "tls-bucket", k)["sha256"],
            sha256_hex(&body)
        );
    }
    weed.stop();
}

#[test]
fn presigned_urls_work_with_curl_and_expire() {
    let (server, client, bucket) = seaweed_bucket("proto-presign");
    let dir = tempfile::tempdir().unwrap();
    let body = data(50_000, 27);
    rt().block_on(client.put_object(put(&bucket, "dir/shared file.bin", body.clone())))
        .unwrap();
    let presign = |args: &[&str]| {
        let o = ferry_command(server.env(), dir.path())
            .arg("presign")
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap().trim().to_string()
    };
    let target = format!("s3://{bucket}/dir/shared file.bin");
    let url = presign(&[&target]);
    assert!(url.contains("X-Amz-Signature="), "{url}");
    assert!(!url.contains(&server.secret_key), "{url}");
    let (code, got) = curl(&[&url]);
    assert_eq!(code, "200");
    assert_eq!(got, body);

    // PUT through a presigned URL, read back independently.
    let upload = dir.path().join("up.bin");
    let new_body = data(30_000, 28);
    std::fs::write(&upload, &new_body).unwrap();
    let put_url = presign(&[
        &format!("s3://{bucket}/uploaded"),
        "--method",
        "PUT",
        "--expires-in",
        "600",
    ]);
    let (code, _) = curl(&["-T", upload.to_str().unwrap(), &put_url]);
    assert_eq!(code, "200");
    assert_eq!(
        boto3_object(server, &bucket, "uploaded")["sha256"],
        sha256_hex(&new_body)
    );

    // A tampered URL and an expired URL are refused by the server.
    let (code, _) = curl(&[&url.replace("shared%20file", "other%20file")]);
    assert_eq!(code, "403");
    let short = presign(&[&target, "--expires-in", "1"]);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let (code, _) = curl(&[&short]);
    assert_eq!(code, "403");

    // Out-of-range expiry is bad input; so is a bucket with no key.
    let o = ferry_command(server.env(), dir.path())
        .args(["presign", &target, "--expires-in", "604801"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = ferry_command(server.env(), dir.path())
        .args(["presign", &format!("s3://{bucket}")])
        .output()
        .unwrap();
    crate::expect_exit(&o, 2, "names no object: presign takes s3://bucket/key");
}
