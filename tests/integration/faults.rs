//! Fault classes through the fault proxy, between the real `ferry` binary and SeaweedFS: each
//! fault fires once, the transfer retries and finishes, and the test checks what a user would:
//! the object (or file) identical, read back independently; the request retried under the
//! same part number with the same bytes and within the attempt bound (from the proxy's log);
//! no multipart upload left; peak memory bounded.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ferry_testkit::{Action, HoldProxy, Rule, TestServer};

use crate::{
    boto3_keys, boto3_object, boto3_uploads, data, expect_exit, ferry, seaweed_bucket, sha256_hex,
    text,
};

const MIB: usize = 1024 * 1024;

/// Peak RSS allowed to a faulted transfer here (parts of 5 MiB, a few in flight): retries
/// must not pile up buffers.
const RSS_BOUND_KIB: u64 = 96 * 1024;

/// Runs ferry through `proxy` with a 2 s read timeout (so a stall costs seconds, not a
/// minute) and `--json` events; checks that its peak memory stayed under [`RSS_BOUND_KIB`].
fn through(
    server: &TestServer,
    proxy: &HoldProxy,
    home: &Path,
    args: &[&str],
) -> std::process::Output {
    through_with_stdin(server, proxy, home, args, std::process::Stdio::null())
}

/// [`through`], with `stdin` for a source of `-`.
fn through_with_stdin(
    server: &TestServer,
    proxy: &HoldProxy,
    home: &Path,
    args: &[&str],
    stdin: std::process::Stdio,
) -> std::process::Output {
    let (o, peak) = ferry_testkit::output_with_peak_rss(
        Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(["--read-timeout", "2"])
            .args(args)
            .args(["--json"])
            .env_clear()
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("HOME", home)
            .envs(server.env())
            .env("AWS_ENDPOINT_URL", &proxy.endpoint)
            .stdin(stdin),
    )
    .unwrap();
    assert!(
        peak < RSS_BOUND_KIB,
        "peak RSS {peak} KiB over {RSS_BOUND_KIB} KiB: {args:?}"
    );
    o
}

fn once(method: &'static str, query: &'static str, nth: u32, action: Action) -> Rule {
    Rule {
        method,
        query: if query.is_empty() {
            vec![]
        } else {
            vec![query]
        },
        nth,
        action,
    }
}

/// Log lines of requests matching `method` and `query`.
fn requests(proxy: &HoldProxy, method: &str, query: &str) -> Vec<String> {
    proxy
        .log()
        .into_iter()
        .filter(|l| l.starts_with(&format!("{method} ")) && l.contains(query))
        .collect()
}

/// Copies `src` (a file or an s3:// URL) to `key` in 5 MiB parts with `action` on the first
/// try of part 2; checks that part 2 was sent twice and that boto3 reads `body` back.
/// Returns the run's output and how long it took.
fn part_2_faulted(
    server: &TestServer,
    bucket: &str,
    home: &Path,
    (name, action): (&str, Action),
    src: &str,
    key: &str,
    body: &[u8],
) -> (std::process::Output, Duration) {
    let proxy = HoldProxy::start(
        &server.endpoint,
        vec![once("PUT", "partNumber=2", 1, action)],
    )
    .unwrap();
    let start = Instant::now();
    let dst = format!("s3://{bucket}/{key}");
    let o = through(
        server,
        &proxy,
        home,
        &["cp", src, &dst, "--part-size", "5MiB", "--concurrency", "2"],
    );
    let took = start.elapsed();
    assert!(o.status.success(), "{name}: {}", text(&o));
    let tries = requests(&proxy, "PUT", "partNumber=2&");
    assert_eq!(tries.len(), 2, "{name}: part 2 sent twice: {tries:?}");
    assert_eq!(
        proxy.parts_resent_differently(),
        Vec::<String>::new(),
        "{name}: a part number was reused for other bytes"
    );
    assert_eq!(
        boto3_object(server, bucket, key)["sha256"],
        sha256_hex(body),
        "{name}"
    );
    (o, took)
}

/// The fault classes of a request carrying a body (UploadPart, UploadPartCopy) or not.
fn request_faults() -> Vec<(&'static str, Action)> {
    vec![
        (
            "500 InternalError",
            Action::Respond(500, "InternalError", None),
        ),
        ("503 SlowDown", Action::Respond(503, "SlowDown", None)),
        (
            "503 SlowDown with Retry-After",
            Action::Respond(503, "SlowDown", Some(1)),
        ),
        (
            "400 RequestTimeout",
            Action::Respond(400, "RequestTimeout", None),
        ),
        (
            "400 ExpiredToken",
            Action::Respond(400, "ExpiredToken", None),
        ),
        (
            "200 with an Error body",
            Action::Respond(200, "InternalError", None),
        ),
        (
            "stall past the read timeout",
            Action::Stall(Duration::from_secs(4)),
        ),
        ("response lost", Action::LoseResponse),
    ]
}

#[test]
fn uploads_survive_every_fault_class() {
    let (server, _client, bucket) = seaweed_bucket("fault-up");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("f.bin");
    let body = data(4 * 5 * MIB + 99, 90);
    std::fs::write(&file, &body).unwrap();
    let mut faults = request_faults();
    faults.push((
        "reset after 1 MiB of the body",
        Action::ResetAfter(MIB as u64),
    ));
    for (name, action) in faults {
        let key = format!("up-{}", name.replace(' ', "-"));
        let src = file.to_str().unwrap();
        let (o, took) = part_2_faulted(
            server,
            &bucket,
            home.path(),
            (name, action),
            src,
            &key,
            &body,
        );
        let events = String::from_utf8_lossy(&o.stdout);
        assert!(
            events.contains("\"event\":\"retry\""),
            "{name}: no retry event"
        );
        if name.starts_with("503") {
            assert!(
                events.contains("\"event\":\"concurrency\""),
                "{name}: concurrency did not drop"
            );
        }
        eprintln!(
            "upload, {name}: 2 attempts of part 2, {:.2} s",
            took.as_secs_f64()
        );
    }
    assert!(boto3_uploads(server, &bucket).is_empty());
}

#[test]
fn complete_survives_an_error_body_and_a_lost_reply() {
    let (server, _client, bucket) = seaweed_bucket("fault-complete");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("f.bin");
    let body = data(11 * MIB, 91);
    std::fs::write(&file, &body).unwrap();
    for (name, action) in [
        (
            "200 with an Error body",
            Action::Respond(200, "InternalError", None),
        ),
        (
            "reply lost after the server completed",
            Action::LoseResponse,
        ),
    ] {
        let key = format!("c-{}", name.replace(' ', "-"));
        let proxy =
            HoldProxy::start(&server.endpoint, vec![once("POST", "uploadId=", 1, action)]).unwrap();
        let o = through(
            server,
            &proxy,
            home.path(),
            &[
                "cp",
                file.to_str().unwrap(),
                &format!("s3://{bucket}/{key}"),
                "--part-size",
                "5MiB",
            ],
        );
        assert!(o.status.success(), "{name}: {}", text(&o));
        assert_eq!(
            requests(&proxy, "POST", "uploadId=").len(),
            2,
            "{name}: {:?}",
            proxy.log()
        );
        assert_eq!(
            boto3_object(server, &bucket, &key)["sha256"],
            sha256_hex(&body),
            "{name}"
        );
    }
    assert!(boto3_uploads(server, &bucket).is_empty());
}

/// CreateMultipartUpload is not idempotent: when its reply is lost the retry makes a second
/// upload, and the first, which no one knows, is found and aborted, even when the server makes
/// it late.
#[test]
fn a_lost_create_reply_is_retried_and_the_orphan_aborted() {
    let (server, _client, bucket) = seaweed_bucket("fault-create");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("f.bin");
    let body = data(21 * MIB, 95);
    std::fs::write(&file, &body).unwrap();
    let f = file.to_str().unwrap();
    for (name, src, action) in [
        ("file, reply lost", f, Action::LoseResponse),
        (
            "file, reply later than the read timeout",
            f,
            Action::DelayResponse(Duration::from_secs(3)),
        ),
        ("stream, reply lost", "-", Action::LoseResponse),
        // Found by the soak: the request itself reaches the server after the retry's sweep,
        // after the upload's own parts and Complete: the last sweep waits for it.
        (
            "file, request later than the read timeout",
            f,
            Action::Stall(Duration::from_secs(3)),
        ),
    ] {
        let key = format!("k-{}", name.replace([' ', ','], "-"));
        let proxy =
            HoldProxy::start(&server.endpoint, vec![once("POST", "uploads", 1, action)]).unwrap();
        let dst = format!("s3://{bucket}/{key}");
        let o = through_with_stdin(
            server,
            &proxy,
            home.path(),
            &["cp", src, &dst, "--part-size", "5MiB"],
            std::fs::File::open(&file).unwrap().into(),
        );
        assert!(o.status.success(), "{name}: {}", text(&o));
        assert_eq!(requests(&proxy, "POST", "?uploads").len(), 2, "{name}");
        assert_eq!(
            requests(&proxy, "DELETE", "uploadId=").len(),
            1,
            "{name}: the orphan aborted: {:?}",
            proxy.log()
        );
        assert_eq!(
            boto3_object(server, &bucket, &key)["sha256"],
            sha256_hex(&body),
            "{name}"
        );
        assert!(boto3_uploads(server, &bucket).is_empty(), "{name}");
    }
}

/// The concurrency limits a run's `--json` events reported, in order.
fn concurrency_events(o: &std::process::Output) -> Vec<u64> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "concurrency")
        .filter_map(|v| v["limit"].as_u64())
        .collect()
}

/// A burst of SlowDown: concurrency halves with each, then climbs back to the maximum as
/// requests succeed, for uploads and for downloads.
#[test]
fn a_slowdown_burst_lowers_concurrency_and_it_climbs_back() {
    let (server, _client, bucket) = seaweed_bucket("fault-burst");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("f.bin");
    let body = data(16 * 5 * MIB, 96);
    std::fs::write(&file, &body).unwrap();
    let slow = Action::Respond(503, "SlowDown", None);
    let burst = |method: &'static str, query: &'static str| {
        (2..=4)
            .map(|n| once(method, query, n, slow))
            .collect::<Vec<_>>()
    };
    let proxy = HoldProxy::start(&server.endpoint, burst("PUT", "partNumber=")).unwrap();
    let url = format!("s3://{bucket}/burst");
    let o = through(
        server,
        &proxy,
        home.path(),
        &[
            "cp",
            file.to_str().unwrap(),
            &url,
            "--part-size",
            "5MiB",
            "--concurrency",
            "4",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let up = concurrency_events(&o);
    assert_eq!(
        boto3_object(server, &bucket, "burst")["sha256"],
        sha256_hex(&body)
    );
    let proxy = HoldProxy::start(&server.endpoint, burst("GET", "")).unwrap();
    let out = home.path().join("out.bin");
    let o = through(
        server,
        &proxy,
        home.path(),
        &[
            "cp",
            &url,
            out.to_str().unwrap(),
            "--part-size",
            "5MiB",
            "--concurrency",
            "4",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(std::fs::read(&out).unwrap() == body);
    let down = concurrency_events(&o);
    for (what, limits) in [("upload", up), ("download", down)] {
        eprintln!("{what}: concurrency {limits:?}");
        let low = limits.iter().rposition(|&l| l == 1);
        assert!(
            low.is_some(),
            "{what}: three SlowDowns bring it to 1: {limits:?}"
        );
        assert_eq!(
            limits.last(),
            Some(&4),
            "{what}: back to 4 by the end: {limits:?}"
        );
        let climb = &limits[low.unwrap()..];
        assert!(
            climb.windows(2).all(|w| w[1] == w[0] + 1),
            "{what}: up one at a time: {limits:?}"
        );
    }
}

#[test]
fn downloads_survive_every_fault_class() {
    let (server, _client, bucket) = seaweed_bucket("fault-down");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("f.bin");
    let body = data(3 * 4 * MIB + 5, 92);
    std::fs::write(&file, &body).unwrap();
    let o = ferry(
        server,
        home.path(),
        &["cp", file.to_str().unwrap(), &format!("s3://{bucket}/obj")],
    );
    assert!(o.status.success(), "{}", text(&o));
    let mut faults = request_faults();
    faults.retain(|(n, _)| !n.starts_with("200"));
    faults.push(("body cut short", Action::CutResponse(1000)));
    faults.push(("a byte flipped", Action::FlipResponseByte));
    for (name, action) in faults {
        // The second ranged GET (HeadObject is a HEAD).
        let proxy = HoldProxy::start(&server.endpoint, vec![once("GET", "", 2, action)]).unwrap();
        let out = home.path().join(format!("out-{}", name.replace(' ', "-")));
        let start = Instant::now();
        let o = through(
            server,
            &proxy,
            home.path(),
            &[
                "cp",
                &format!("s3://{bucket}/obj"),
                out.to_str().unwrap(),
                "--part-size",
                "4MiB",
                "--concurrency",
                "1",
            ],
        );
        assert!(o.status.success(), "{name}: {}", text(&o));
        assert!(std::fs::read(&out).unwrap() == body, "{name}: bytes differ");
        let gets = requests(&proxy, "GET", "");
        // Four ranges, one fetched again; a flipped byte is found by the object's check and
        // the ranges fetched again until it checks out.
        if name == "a byte flipped" {
            assert!(
                String::from_utf8_lossy(&o.stdout).contains("\"event\":\"refetched\""),
                "{name}"
            );
        } else {
            assert_eq!(gets.len(), 5, "{name}: {gets:?}");
        }
        eprintln!(
            "download, {name}: {} GETs for 4 ranges, {:.2} s",
            gets.len(),
            start.elapsed().as_secs_f64()
        );
    }
}

/// A second fault while ranges are fetched again after a failed check (found by the soak):
/// a byte flipped in range 2 on its first fetch and in range 3 on its second. The ranges that
/// came back different are fetched again until the object checks out; a range that comes
/// back damaged the same way every time is the object's own bytes, a clear error.
#[test]
fn a_fault_during_the_refetch_is_fetched_again_and_a_bad_object_is_an_error() {
    let (server, _client, bucket) = seaweed_bucket("fault-refetch");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("f.bin");
    let body = data(4 * 4 * MIB - 3, 93);
    std::fs::write(&file, &body).unwrap();
    // A full-object CRC64NVME (range CRCs combine) and a multipart ETag (read back in order).
    for (key, checksum) in [("crc", "crc64nvme"), ("etag", "none")] {
        let o = ferry(
            server,
            home.path(),
            &[
                "cp",
                file.to_str().unwrap(),
                &format!("s3://{bucket}/{key}"),
                "--checksum",
                checksum,
            ],
        );
        assert!(o.status.success(), "{}", text(&o));
        // Downloads with a byte flipped in the GETs numbered `flips`.
        let get = |flips: [u32; 2], out: &Path| {
            let rules = flips
                .map(|n| once("GET", "", n, Action::FlipResponseByte))
                .to_vec();
            let proxy = HoldProxy::start(&server.endpoint, rules).unwrap();
            let o = through(
                server,
                &proxy,
                home.path(),
                &[
                    "cp",
                    &format!("s3://{bucket}/{key}"),
                    out.to_str().unwrap(),
                    "--part-size",
                    "4MiB",
                    "--concurrency",
                    "1",
                ],
            );
            (o, requests(&proxy, "GET", ""))
        };
        // One range at a time: GETs 1-4 are the first pass, 5-8 every range again.
        let out = home.path().join(format!("{key}.out"));
        let (o, gets) = get([2, 7], &out);
        assert!(o.status.success(), "{key}: {}", text(&o));
        assert!(std::fs::read(&out).unwrap() == body, "{key}: bytes differ");
        // Ranges 2 and 3 came back different, so both are fetched a third time.
        assert_eq!(gets.len(), 10, "{key}: {gets:?}");
        let refetched = String::from_utf8_lossy(&o.stdout)
            .matches("\"event\":\"refetched\"")
            .count();
        assert_eq!(
            refetched, 3,
            "{key}: range 2 once, range 3 twice (damaged, then right)"
        );

        // Range 2 damaged alike on both fetches: to ferry that is the object's own bytes.
        let out = home.path().join(format!("{key}.bad"));
        let (o, gets) = get([2, 6], &out);
        expect_exit(&o, 1, "each came back the same");
        assert!(!out.exists(), "{key}: nothing written");
        assert_eq!(gets.len(), 8, "{key}: {gets:?}");
    }
}

#[test]
fn copies_survive_every_fault_class() {
    let (server, _client, bucket) = seaweed_bucket("fault-copy");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("f.bin");
    let body = data(3 * 5 * MIB + 1, 93);
    std::fs::write(&file, &body).unwrap();
    let src = format!("s3://{bucket}/src");
    let o = ferry(server, home.path(), &["cp", file.to_str().unwrap(), &src]);
    assert!(o.status.success(), "{}", text(&o));
    for (name, action) in request_faults() {
        let key = format!("copy-{}", name.replace(' ', "-"));
        let (_, took) = part_2_faulted(
            server,
            &bucket,
            home.path(),
            (name, action),
            &src,
            &key,
            &body,
        );
        eprintln!(
            "copy, {name}: 2 attempts of part 2, {:.2} s",
            took.as_secs_f64()
        );
    }
    assert!(boto3_uploads(server, &bucket).is_empty());
}

/// Runs ferry against `endpoint` with a 1 s read timeout; returns its output and run time.
fn against(endpoint: &str, home: &Path, args: &[&str]) -> (std::process::Output, Duration) {
    let start = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["--endpoint-url", endpoint, "--read-timeout", "1"])
        .args(args)
        .env_clear()
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOME", home)
        .env("AWS_ACCESS_KEY_ID", "testkey")
        .env("AWS_SECRET_ACCESS_KEY", "testsecret")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    (o, start.elapsed())
}

/// A server that answers garbage: a clear error naming the operation, exit 1, no panic, and
/// an end within the retry bounds.
#[test]
fn a_server_answering_garbage_is_a_clear_error_not_a_panic_or_a_hang() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("f.bin");
    std::fs::write(&file, data(12 * MIB, 94)).unwrap();
    let f = file.to_str().unwrap();
    let out = home.path().join("out.bin");
    let o_s = out.to_str().unwrap();
    let response = |status: &str, headers: &str, body: &str| {
        format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
            body.len()
        )
    };
    let cases: Vec<(&str, String, Vec<&str>, &str)> = vec![
        (
            "not XML",
            response("200 OK", "", "this is not XML at all"),
            vec!["cp", f, "s3://bkt/k", "--part-size", "5MiB"],
            "CreateMultipartUpload",
        ),
        (
            "truncated XML",
            response(
                "200 OK",
                "Content-Type: application/xml\r\n",
                "<?xml version=\"1.0\"?><InitiateMultipartUploadResult><Bucket>bkt</Buck",
            ),
            vec!["cp", f, "s3://bkt/k", "--part-size", "5MiB"],
            "CreateMultipartUpload",
        ),
        (
            "an unexpected status",
            response("418 I'm a teapot", "", ""),
            vec!["cp", "s3://bkt/k", o_s],
            "418",
        ),
        (
            "a body shorter than its length",
            // Every answer says 1,000 bytes and sends 10: HEAD is fine, each GET is cut.
            "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nETag: \"e\"\r\nConnection: close\r\n\r\n0123456789"
                .to_string(),
            vec!["cp", "s3://bkt/k", o_s],
            "cut short",
        ),
    ];
    for (name, canned, args, needle) in cases {
        let server = ferry_testkit::RecordingServer::start(canned);
        let (o, took) = against(&server.endpoint, home.path(), &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", text(&o));
        assert!(err.contains(needle), "{name}: expected {needle:?}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(took < Duration::from_secs(60), "{name}: took {took:?}");
        assert!(!out.exists(), "{name}: a file was written");
        eprintln!("garbage, {name}: exit 1 after {:.2} s", took.as_secs_f64());
    }
    // A slow-loris body: a byte every 100 ms is never a second of silence, so the read timeout
    // alone would wait for ever; the least pace (1 KiB per read-timeout window) cuts it.
    let body = "x".repeat(4000);
    let server = ferry_testkit::RecordingServer::start_trickling(
        response("200 OK", "ETag: \"e\"\r\n", &body),
        Duration::from_millis(100),
    );
    let (o, took) = against(&server.endpoint, home.path(), &["cp", "s3://bkt/k", o_s]);
    expect_exit(&o, 1, "slower than 1024 bytes");
    assert!(took < Duration::from_secs(60), "slow loris: took {took:?}");
    assert!(!out.exists(), "slow loris: a file was written");
    eprintln!(
        "garbage, a slow-loris body: exit 1 after {:.2} s",
        took.as_secs_f64()
    );
    drop(server);
    // A server that accepts and never answers: read timeouts, bounded retries, exit 1.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = done.clone();
    let holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        silent.set_nonblocking(true).unwrap();
        let until = Instant::now() + Duration::from_secs(90);
        while Instant::now() < until && !stop.load(std::sync::atomic::Ordering::Relaxed) {
            match silent.accept() {
                Ok((s, _)) => held.push(s),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
            if held.len() > 50 {
                break;
            }
        }
    });
    let (o, took) = against(&endpoint, home.path(), &["cp", "s3://bkt/k", o_s]);
    assert_eq!(o.status.code(), Some(1), "silent: {}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("HeadObject"), "silent: {err}");
    assert!(took < Duration::from_secs(60), "silent: took {took:?}");
    eprintln!(
        "garbage, a server that never answers: exit 1 after {:.2} s",
        took.as_secs_f64()
    );
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    holder.join().unwrap();
}

/// Attempts per request come from `--max-attempts`, else `AWS_MAX_ATTEMPTS`, else the
/// profile's `max_attempts`, as the AWS CLI reads them: a PUT that fails with a 500 that many
/// times fails the copy (nothing stored), and one fewer is retried through.
#[test]
fn attempts_per_request_come_from_the_flag_the_variable_or_the_profile() {
    let (server, _client, bucket) = seaweed_bucket("fault-attempts");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("f.bin");
    let body = data(4096, 17);
    std::fs::write(&file, &body).unwrap();
    let config = home.path().join("config");
    std::fs::write(&config, "[default]\nmax_attempts = 4\n").unwrap();
    let proxy = HoldProxy::start(&server.endpoint, vec![]).unwrap();
    let run = |args: &[&str], vars: &[(&str, &str)]| {
        Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(args)
            .env_clear()
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("HOME", home.path())
            .envs(server.env())
            .env("AWS_ENDPOINT_URL", &proxy.endpoint)
            .env("AWS_CONFIG_FILE", &config)
            .envs(vars.iter().copied())
            .output()
            .unwrap()
    };
    // The first `faults` PUTs of `key` answer 500; returns the run and the PUTs sent.
    let put = |key: &str, faults: u32, args: &[&str], vars: &[(&str, &str)]| {
        proxy.reset(
            (1..=faults)
                .map(|n| once("PUT", "", n, Action::Respond(500, "InternalError", None)))
                .collect(),
        );
        let dst = format!("s3://{bucket}/{key}");
        let o = run(
            &[&["cp", file.to_str().unwrap(), &dst][..], args].concat(),
            vars,
        );
        (o, requests(&proxy, "PUT", key).len())
    };

    // The profile's 4: three faults are retried through.
    let (o, sent) = put("profile", 3, &[], &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(sent, 4);
    assert_eq!(
        boto3_object(server, &bucket, "profile")["sha256"],
        sha256_hex(&body)
    );
    // AWS_MAX_ATTEMPTS beats the profile: 2 attempts, both failed.
    let (o, sent) = put("variable", 3, &[], &[("AWS_MAX_ATTEMPTS", "2")]);
    expect_exit(
        &o,
        1,
        "PutObject failed after 2 attempts: InternalError (HTTP 500)",
    );
    assert_eq!(sent, 2);
    // The flag beats both: one attempt, no retry.
    let (o, sent) = put(
        "flag",
        1,
        &["--max-attempts", "1"],
        &[("AWS_MAX_ATTEMPTS", "9")],
    );
    expect_exit(&o, 1, "PutObject failed: InternalError (HTTP 500)");
    assert_eq!(sent, 1);
    assert_eq!(boto3_keys(server, &bucket), vec!["profile".to_string()]);

    // `ferry config` says what is in force and where it came from.
    let o = run(&["config"], &[]);
    let shown = String::from_utf8_lossy(&o.stdout).into_owned();
    let row = shown.lines().find(|l| l.starts_with("attempts")).unwrap();
    assert!(
        row.contains(" 4 ") && row.contains("profile default in"),
        "{shown}"
    );
    // A value that is no count is bad input, named by where it came from.
    let o = run(&["config"], &[("AWS_MAX_ATTEMPTS", "0")]);
    expect_exit(&o, 2, "AWS_MAX_ATTEMPTS");
    let (o, sent) = put("none", 0, &["--max-attempts", "many"], &[]);
    expect_exit(&o, 2, "--max-attempts");
    assert_eq!(sent, 0);
}
