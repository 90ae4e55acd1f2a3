//! Uploads through the engine and the `ferry` binary on SeaweedFS, read back with boto3: the
//! sizes around every boundary, streams, every checksum algorithm and type, retries through a
//! failure-injecting client, SSE-C, options, and the bad input that must exit 2.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use ferry_engine::{
    ChecksumMode, ErrorKind, Event, PlanConfig, Source, Upload, UploadSettings, Verification,
};
use ferry_s3::{ChecksumAlgorithm, ChecksumType, ObjectClient};
use ferry_testkit::{FailingClient, Fault, TestServer};

use crate::{
    boto3_keys, boto3_uploads, data, expect_exit, ferry, ferry_command, rt, seaweed_bucket,
    sha256_hex, text,
};

const MIB: usize = 1024 * 1024;

/// boto3's view: size, sha256, and the checksum it reads with ChecksumMode.
fn boto3_checked(server: &TestServer, bucket: &str, key: &str) -> serde_json::Value {
    ferry_testkit::boto3(
        server,
        r#"
import hashlib
b, k = sys.argv[1], sys.argv[2]
data = s3.get_object(Bucket=b, Key=k)['Body'].read()
h = s3.head_object(Bucket=b, Key=k, ChecksumMode='ENABLED')
sums = {a: h.get('Checksum' + a) for a in ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] if h.get('Checksum' + a)}
print(json.dumps({'size': len(data), 'sha256': hashlib.sha256(data).hexdigest(), 'checksums': sums,
                  'type': h.get('ChecksumType'), 'content_type': h.get('ContentType'),
                  'metadata': h.get('Metadata', {}), 'cache_control': h.get('CacheControl')}))
"#,
        &[bucket, key],
    )
    .unwrap()
}

#[test]
fn sizes_around_every_boundary_upload_identical() {
    let (server, _client, bucket) = seaweed_bucket("up-sizes");
    let dir = tempfile::tempdir().unwrap();
    let threshold = ferry_engine::DEFAULT_MULTIPART_THRESHOLD as usize;
    let sizes = [
        0,
        1,
        5 * MIB - 1,
        5 * MIB,
        5 * MIB + 1,
        threshold - 1,
        threshold,
        threshold + 1,
        40 * MIB + 3,
    ];
    for (i, size) in sizes.iter().enumerate() {
        let body = data(*size, 100 + i as u64);
        let path = dir.path().join(format!("f{i}.bin"));
        std::fs::write(&path, &body).unwrap();
        let key = format!("sizes/{size}.bin");
        let o = ferry(
            server,
            dir.path(),
            &[
                "cp",
                path.to_str().unwrap(),
                &format!("s3://{bucket}/{key}"),
                "--part-size",
                "5MiB",
                // Read with O_DIRECT (where /tmp is a disk filesystem): whole blocks, the
                // last one read past the end of the file.
                "--direct-io",
                "always",
            ],
        );
        assert!(o.status.success(), "{size}: {}", text(&o));
        let seen = boto3_checked(server, &bucket, &key);
        assert_eq!(seen["size"], *size, "{size}");
        assert_eq!(seen["sha256"], sha256_hex(&body), "{size}");
        // The server's CRC64NVME equals the one computed here, in one pass.
        let local = base64_crc64(&body);
        assert_eq!(seen["checksums"]["CRC64NVME"], local, "{size}: {seen}");
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains(&format!("verified: {local}")), "{out}");
    }
    assert!(boto3_uploads(server, &bucket).is_empty());
}

fn base64_crc64(b: &[u8]) -> String {
    use base64::Engine as _;
    let v = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, b);
    base64::engine::general_purpose::STANDARD.encode(v.to_be_bytes())
}

/// With no HOME (as under some service managers) and no --state-dir, an upload runs without a
/// journal, saying it cannot resume; it was refused (exit 2, "no folder for journals").
#[test]
fn an_upload_with_no_home_runs_without_a_journal() {
    let (server, bucket, home, file, body) = crate::to_send("up-no-home", 20 * MIB, 71);
    let o = crate::ferry_command(server.env(), home.path())
        .env_remove("HOME")
        .args([
            "cp",
            file.to_str().unwrap(),
            &format!("s3://{bucket}/f.bin"),
        ])
        .args(["--part-size", "5MiB", "--no-progress"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("cannot resume"), "{}", text(&o));
    assert_eq!(
        crate::boto3_object(server, &bucket, "f.bin")["sha256"],
        sha256_hex(&body)
    );
    assert!(boto3_uploads(server, &bucket).is_empty());
}

/// A home where journals cannot be kept (read-only, as in some containers) is as no home: the
/// upload runs without a journal, saying so. A folder given for them that cannot be written
/// is bad input (exit 2), refused before anything is sent.
#[test]
fn an_upload_whose_journals_cannot_be_kept() {
    let (server, bucket, home, file, body) = crate::to_send("up-ro-home", 20 * MIB, 72);
    let up = |key: &str, vars: &[(&str, &str)], extra: &[&str]| {
        crate::ferry_command(server.env(), home.path())
            .envs(vars.iter().copied())
            .args([
                "cp",
                file.to_str().unwrap(),
                &format!("s3://{bucket}/{key}"),
            ])
            .args(["--part-size", "5MiB", "--no-progress"])
            .args(extra)
            .output()
            .unwrap()
    };
    // /proc takes no folder, not even root's.
    let o = up("f.bin", &[("HOME", "/proc")], &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(
            "cannot keep journals in /proc/.local/state/ferry (No such file or directory (os error 2)): this transfer cannot resume"
        ),
        "{}",
        text(&o)
    );
    assert_eq!(
        crate::boto3_object(server, &bucket, "f.bin")["sha256"],
        sha256_hex(&body)
    );
    for (vars, extra) in [
        (&[("FERRY_STATE_DIR", "/proc/journals")][..], &[][..]),
        (&[][..], &["--state-dir", "/proc/journals"][..]),
    ] {
        let o = up("g.bin", vars, extra);
        crate::expect_exit(&o, 2, "cannot keep journals in /proc/journals: ");
        crate::expect_exit(&o, 2, "give a folder ferry can write");
    }
    let stored = crate::tree::boto3_tree(server, &bucket, "");
    assert_eq!(stored.keys().collect::<Vec<_>>(), ["f.bin"]);
    assert!(boto3_uploads(server, &bucket).is_empty());
}

#[test]
fn a_256_mib_file_uploads_identical() {
    let (server, _client, bucket) = seaweed_bucket("up-256");
    let dir = tempfile::tempdir().unwrap();
    let (path, body) = crate::written(dir.path(), "big.bin", 256 * MIB, 7);
    let o = ferry(
        server,
        dir.path(),
        &[
            "cp",
            path.to_str().unwrap(),
            &format!("s3://{bucket}/big.bin"),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let seen = boto3_checked(server, &bucket, "big.bin");
    assert_eq!(seen["sha256"], sha256_hex(&body));
    assert_eq!(seen["checksums"]["CRC64NVME"], base64_crc64(&body));
    assert_eq!(seen["type"], "FULL_OBJECT");
    assert!(boto3_uploads(server, &bucket).is_empty());
}

/// A stream from stdin, of unknown and of known length, and in parts larger than the memory
/// budget: identical, and within memory (peak RSS printed). Parts over the budget are held in
/// temporary files; they were once read whole into memory, and twice over for the first part
/// (a 256 MiB part under a 32 MiB limit peaked at 540 MiB).
#[test]
fn a_stream_of_unknown_length_uploads_identical() {
    let (server, _client, bucket) = seaweed_bucket("up-stream");
    let dir = tempfile::tempdir().unwrap();
    let body = data(100 * MIB + 12345, 8);
    let file = dir.path().join("stdin.bin");
    std::fs::write(&file, &body).unwrap();
    for (key, extra, most_kib) in [
        ("plain", vec![], None),
        ("sized", vec!["--expected-size", "104869945"], None),
        ("large-parts", vec!["--part-size", "96MiB"], Some(96 * 1024)),
    ] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ferry"));
        command
            .args(["cp", "-", &format!("s3://{bucket}/{key}")])
            .args(["--memory-limit", "32MiB"])
            .args(&extra)
            .env_clear()
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("HOME", dir.path())
            .envs(server.env())
            .stdin(std::fs::File::open(&file).unwrap());
        let (o, peak) = ferry_testkit::output_with_peak_rss(&mut command).unwrap();
        assert!(o.status.success(), "{key}: {}", text(&o));
        eprintln!("{key}: peak RSS {} MiB", peak / 1024);
        if let Some(most) = most_kib {
            assert!(peak < most, "{key}: peak RSS {peak} KiB, over {most} KiB");
        }
        let seen = boto3_checked(server, &bucket, key);
        assert_eq!(seen["sha256"], sha256_hex(&body), "{key}");
        assert_eq!(seen["checksums"]["CRC64NVME"], base64_crc64(&body), "{key}");
    }
    assert!(boto3_uploads(server, &bucket).is_empty());
}

/// A stream that is not the size `--expected-size` said fails and leaves nothing: shorter,
/// once it ends; longer, at the first byte past that size, so a stream with no end
/// (`/dev/zero`) is read no further (a longer stream was once sent whole before it was
/// refused; one said to fit one request, under 16 MiB, was stored whole with no error).
#[test]
fn a_stream_of_another_size_than_said_is_refused_and_leaves_nothing() {
    let (server, _client, bucket) = seaweed_bucket("up-said");
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short.bin");
    std::fs::write(&short, data(20 * MIB, 3)).unwrap();
    let small = dir.path().join("small.bin");
    std::fs::write(&small, data(5000, 4)).unwrap();
    let cases = [
        (
            short.as_path(),
            "30MiB",
            "had 20971520 bytes, not the 31457280",
        ),
        (small.as_path(), "4000", "had more than the 4000 bytes"),
        (small.as_path(), "0", "had more than the 0 bytes"),
        (
            Path::new("/dev/zero"),
            "20MiB",
            "had more than the 20971520 bytes",
        ),
    ];
    for (i, (source, said, needle)) in cases.into_iter().enumerate() {
        let mut command = ferry_command(server.env(), dir.path());
        command
            .args([
                "cp",
                "-",
                &format!("s3://{bucket}/k{i}"),
                "--expected-size",
                said,
            ])
            .stdin(std::fs::File::open(source).unwrap());
        let o = command.output().unwrap();
        expect_exit(&o, 1, needle);
    }
    assert!(boto3_keys(server, &bucket).is_empty());
    assert!(boto3_uploads(server, &bucket).is_empty());
}

#[test]
fn every_algorithm_and_type_seaweedfs_accepts() {
    let (server, client, bucket) = seaweed_bucket("up-algs");
    let body = data(11 * MIB + 77, 9);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.bin");
    std::fs::write(&path, &body).unwrap();
    let client = Arc::new(client);
    let cases = [
        (ChecksumAlgorithm::Crc32, ChecksumType::FullObject),
        (ChecksumAlgorithm::Crc32, ChecksumType::Composite),
        (ChecksumAlgorithm::Crc32c, ChecksumType::FullObject),
        (ChecksumAlgorithm::Crc32c, ChecksumType::Composite),
        (ChecksumAlgorithm::Crc64Nvme, ChecksumType::FullObject),
        (ChecksumAlgorithm::Sha1, ChecksumType::Composite),
        (ChecksumAlgorithm::Sha256, ChecksumType::Composite),
    ];
    for (a, t) in cases {
        let config = UploadSettings {
            plan: PlanConfig {
                part_size: Some(5 * MIB as u64),
                ..Default::default()
            },
            checksum: ChecksumMode::Additional(a, t),
            ..Default::default()
        };
        let key = format!("{a}-{t}");
        let outcome = rt()
            .block_on(async {
                crate::manager(client.clone())
                    .upload(Upload::new(Source::File(path.clone()), &bucket, &key).settings(config))
                    .wait()
                    .await
            })
            .unwrap_or_else(|e| panic!("{a} {t}: {e}"));
        assert_eq!(outcome.parts, 3);
        assert!(
            matches!(outcome.verification, Verification::Checksum(_)),
            "{a} {t}: {:?}",
            outcome.verification
        );
        let seen = boto3_checked(server, &bucket, &key);
        assert_eq!(seen["sha256"], sha256_hex(&body), "{a} {t}");
        assert_eq!(
            seen["checksums"][a.as_str()],
            outcome.checksum.unwrap().value,
            "{a} {t}"
        );
        assert_eq!(seen["type"], t.as_str(), "{a} {t}");
    }
    // Content-MD5 only, and none.
    for mode in [ChecksumMode::ContentMd5, ChecksumMode::None] {
        let config = UploadSettings {
            checksum: mode,
            ..Default::default()
        };
        let outcome = rt()
            .block_on(async {
                crate::manager(client.clone())
                    .upload(
                        Upload::new(Source::File(path.clone()), &bucket, "plain").settings(config),
                    )
                    .wait()
                    .await
            })
            .unwrap();
        assert_eq!(outcome.checksum, None);
        assert_eq!(
            boto3_checked(server, &bucket, "plain")["sha256"],
            sha256_hex(&body)
        );
    }
}

/// moto keeps a composite checksum without its `-N` (the part count) and a multipart
/// object's full-object CRC wrong: the first is the same checksum and verifies; the second is
/// refused, saying the object stays and why a store may answer so.
#[test]
fn a_store_that_drops_the_part_count_verifies_and_a_wrong_full_object_crc_is_explained() {
    let (server, bucket) = crate::moto_bucket("moto-sums");
    let home = tempfile::tempdir().unwrap();
    let body = data(12 * MIB + 5, 41);
    let path = home.path().join("f.bin");
    std::fs::write(&path, &body).unwrap();
    let file = path.to_str().unwrap();
    let read_back = |key: &str| {
        ferry_testkit::boto3(
            server,
            r#"
import hashlib
h = s3.head_object(Bucket=sys.argv[1], Key=sys.argv[2], ChecksumMode='ENABLED')
data = s3.get_object(Bucket=sys.argv[1], Key=sys.argv[2])['Body'].read()
print(json.dumps({'sha256': hashlib.sha256(data).hexdigest(), 'crc32': h.get('ChecksumCRC32')}))
"#,
            &[&bucket, key],
        )
        .unwrap()
    };
    let composite = format!("s3://{bucket}/composite");
    let o = ferry(
        server,
        home.path(),
        &[
            "cp",
            file,
            &composite,
            "--part-size",
            "5MiB",
            "--checksum",
            "crc32",
            "--checksum-type",
            "composite",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let seen = read_back("composite");
    assert_eq!(seen["sha256"], sha256_hex(&body));
    let stored = seen["crc32"].as_str().unwrap();
    assert!(
        !stored.contains('-'),
        "moto now keeps the part count: {stored}"
    );
    assert!(
        text(&o).contains(&format!("CRC32 COMPOSITE verified: {stored}-3")),
        "{}",
        text(&o)
    );
    let full = format!("s3://{bucket}/full");
    let o = ferry(
        server,
        home.path(),
        &["cp", file, &full, "--part-size", "5MiB"],
    );
    expect_exit(
        &o,
        1,
        "the object stays as the server stored it. Its 3 parts were each checked",
    );
    assert_eq!(read_back("full")["sha256"], sha256_hex(&body));
}

/// `--sign-payload`: every chunk and the trailer signed. SeaweedFS checks chunk signatures,
/// s3s-fs checks them too.
#[test]
fn signed_payloads_are_accepted_by_servers_that_check_them() {
    let (server, client, bucket) = seaweed_bucket("up-signed");
    let fs = ferry_testkit::S3sFs::start().unwrap();
    let fs_client = ferry_testkit::s3_client(&fs.server).unwrap();
    let body = data(12 * MIB + 999, 14);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.bin");
    std::fs::write(&path, &body).unwrap();
    rt().block_on(fs_client.create_bucket(&ferry_s3::CreateBucketRequest {
        bucket: "signed".into(),
        ..Default::default()
    }))
    .unwrap();
    let clients = [
        (Arc::new(client), bucket.as_str()),
        (Arc::new(fs_client), "signed"),
    ];
    for (client, bucket) in clients {
        for (mode, part_size) in [
            (ChecksumMode::default(), 5 * MIB as u64),
            (ChecksumMode::None, 5 * MIB as u64),
            (ChecksumMode::default(), 64 * MIB as u64),
        ] {
            let config = UploadSettings {
                plan: PlanConfig {
                    part_size: Some(part_size),
                    ..Default::default()
                },
                checksum: mode,
                sign_payload: true,
                ..Default::default()
            };
            let key = format!("k-{part_size}-{}", mode == ChecksumMode::None);
            let outcome = rt()
                .block_on(async {
                    crate::manager(client.clone())
                        .upload(
                            Upload::new(Source::File(path.clone()), bucket, &key).settings(config),
                        )
                        .wait()
                        .await
                })
                .unwrap_or_else(|e| panic!("{bucket} {mode:?} {part_size}: {e}"));
            assert_eq!(outcome.size, body.len() as u64);
            let got = rt().block_on(async {
                let out = client.get_object(&crate::get(bucket, &key)).await.unwrap();
                crate::read_all(out).await
            });
            assert_eq!(sha256_hex(&got), sha256_hex(&body), "{bucket} {key}");
        }
    }
    assert_eq!(
        boto3_checked(server, &bucket, "k-5242880-false")["sha256"],
        sha256_hex(&body)
    );
}

#[test]
fn retries_keep_the_part_number_and_finish_identical() {
    let (server, client, bucket) = seaweed_bucket("up-retry");
    let body = data(23 * MIB, 10);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.bin");
    std::fs::write(&path, &body).unwrap();
    let failing = Arc::new(FailingClient::new(
        client,
        vec![
            Fault::new("UploadPart", 2, ferry_testkit::internal_error).on_part(2),
            Fault::new("UploadPart", 1, ferry_testkit::reset).on_part(4),
            Fault::new("UploadPart", 1, ferry_testkit::slow_down).on_part(3),
            Fault::new("UploadPart", 1, ferry_testkit::expired_token).on_part(5),
            Fault::new("CompleteMultipartUpload", 1, ferry_testkit::internal_error),
        ],
    ));
    let settings = UploadSettings {
        plan: PlanConfig {
            part_size: Some(5 * MIB as u64),
            ..Default::default()
        },
        ..Default::default()
    };
    let manager = ferry_engine::Manager::new(
        failing.clone(),
        ferry_engine::ManagerConfig {
            retry: ferry_engine::RetryPolicy {
                throttle_base: std::time::Duration::from_millis(50),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .unwrap();
    let quota = manager.quota();
    let (outcome, events) = rt().block_on(async {
        let handle = manager
            .upload(Upload::new(Source::File(path.clone()), &bucket, "k").settings(settings));
        let mut rx = handle.subscribe();
        let outcome = handle.wait().await.unwrap();
        let mut events = Vec::new();
        while let Ok(e) = rx.try_recv() {
            events.push(e);
        }
        (outcome, events)
    });
    assert_eq!(outcome.parts, 5);
    let calls = failing.part_calls.lock().unwrap().clone();
    assert_eq!(&calls[1..=5], &[1, 3, 2, 2, 2], "attempts per part number");
    assert_eq!(
        failing.refreshes.load(std::sync::atomic::Ordering::Relaxed),
        1,
        "ExpiredToken refreshes credentials before its retry"
    );
    let retries: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Retry { part, .. } => Some(*part),
            _ => None,
        })
        .collect();
    assert_eq!(retries.len(), 6, "{events:?}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Concurrency { limit } if *limit < 128)),
        "SlowDown lowers the requests in flight"
    );
    assert_eq!(
        quota.available(),
        ferry_engine::QUOTA_TOKENS,
        "successes refill the quota"
    );
    assert_eq!(
        boto3_checked(server, &bucket, "k")["sha256"],
        sha256_hex(&body)
    );
    assert!(boto3_uploads(server, &bucket).is_empty());
}

#[test]
fn a_permanent_error_aborts_the_upload() {
    let (server, client, bucket) = seaweed_bucket("up-abort");
    let body = data(12 * MIB, 11);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.bin");
    std::fs::write(&path, &body).unwrap();
    let failing = Arc::new(FailingClient::new(
        client,
        vec![Fault::new("UploadPart", 1, ferry_testkit::access_denied).on_part(2)],
    ));
    let config = UploadSettings {
        plan: PlanConfig {
            part_size: Some(5 * MIB as u64),
            ..Default::default()
        },
        ..Default::default()
    };
    let err = rt()
        .block_on(async {
            crate::manager(failing.clone())
                .upload(Upload::new(Source::File(path), &bucket, "k").settings(config))
                .wait()
                .await
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Denied);
    assert!(err.to_string().contains("part 2"), "{err}");
    assert_eq!(
        failing.part_calls.lock().unwrap()[2],
        1,
        "AccessDenied is not retried"
    );
    assert!(failing.aborts.load(std::sync::atomic::Ordering::Relaxed) >= 1);
    assert!(
        boto3_uploads(server, &bucket).is_empty(),
        "no upload left behind"
    );
}

/// DSSE-KMS (`--sse aws:kms:dsse`) is asked for by PutObject and by CreateMultipartUpload as
/// S3 names it, with its key; `--sse` takes its names in any case. moto keeps the header
/// (SeaweedFS has no KMS); boto3 reads each object's encryption, part count and bytes.
#[test]
fn dsse_kms_and_sse_names_in_any_case_reach_the_object_on_moto() {
    let (server, bucket) = crate::moto_bucket("dsse");
    let home = tempfile::tempdir().unwrap();
    let kms = ["--sse-kms-key-id", "ferry-test-key"];
    let cases: [(&str, usize, &[&str], &str, &str); 3] = [
        (
            "one",
            100 * 1024,
            &["--sse", "aws:kms:dsse"],
            "aws:kms:dsse",
            "",
        ),
        (
            "parts",
            12 * MIB,
            &["--sse", "AWS:KMS:DSSE"],
            "aws:kms:dsse",
            "-3",
        ),
        ("s3", 1000, &["--sse", "aes256"], "AES256", ""),
    ];
    for (key, size, sse, want, parts) in cases {
        let (file, body) = crate::written(home.path(), key, size, 5);
        let url = format!("s3://{bucket}/{key}");
        // moto answers a multipart object's full-object CRC64NVME wrongly: a composite SHA-256.
        let mut args = vec!["cp", file.to_str().unwrap(), &url, "--part-size", "5MiB"];
        args.extend(["--checksum", "sha256"]);
        args.extend_from_slice(sse);
        if want != "AES256" {
            args.extend_from_slice(&kms);
        }
        let o = ferry(server, home.path(), &args);
        assert!(o.status.success(), "{key}: {}", text(&o));
        let got = crate::boto3_object(server, &bucket, key);
        assert_eq!(got["sse"], want, "{key}: {got}");
        assert_eq!(got["sha256"], sha256_hex(&body), "{key}");
        let etag = got["etag"].as_str().unwrap().trim_matches('"');
        assert_eq!(etag.contains('-'), !parts.is_empty(), "{key}: {etag}");
        assert!(etag.ends_with(parts), "{key}: {etag}");
    }
}

#[test]
fn sse_c_and_options_reach_the_object() {
    let (server, _client, bucket) = seaweed_bucket("up-opts");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let body = data(18 * MIB, 12);
    std::fs::write(&path, &body).unwrap();
    let key_file = dir.path().join("key.bin");
    std::fs::write(&key_file, [9u8; 32]).unwrap();
    let o = ferry(
        server,
        dir.path(),
        &[
            "cp",
            path.to_str().unwrap(),
            &format!("s3://{bucket}/secret.json"),
            "--sse-c-key",
            &format!("@{}", key_file.display()),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let seen = ferry_testkit::boto3(
        server,
        r#"
import hashlib
b, k = sys.argv[1], sys.argv[2]
key = bytes([9]) * 32
try:
    s3.get_object(Bucket=b, Key=k)
    print(json.dumps('readable without the key'))
except botocore.exceptions.ClientError:
    data = s3.get_object(Bucket=b, Key=k, SSECustomerAlgorithm='AES256', SSECustomerKey=key)['Body'].read()
    print(json.dumps(hashlib.sha256(data).hexdigest()))
"#,
        &[&bucket, "secret.json"],
    )
    .unwrap();
    assert_eq!(seen, sha256_hex(&body));

    let o = ferry(
        server,
        dir.path(),
        &[
            "cp",
            path.to_str().unwrap(),
            &format!("s3://{bucket}/dir/"),
            "--metadata",
            "owner=ferry",
            "--metadata",
            "Stage=test",
            "--cache-control",
            "max-age=300",
            "--tagging",
            "project=ferry&team=storage&path=a%2Fb%3Dc%26d&plus=x+y",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let last = String::from_utf8_lossy(&o.stdout)
        .lines()
        .rfind(|l| l.contains("\"finished\""))
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .expect("a finished event");
    assert_eq!(last["v"], 1);
    assert_eq!(last["key"], "dir/report.json");
    assert_eq!(last["verified"], "checksum");
    let seen = boto3_checked(server, &bucket, "dir/report.json");
    assert_eq!(seen["content_type"], "application/json");
    assert_eq!(seen["metadata"]["owner"], "ferry");
    assert_eq!(seen["metadata"]["stage"], "test");
    assert_eq!(seen["cache_control"], "max-age=300");
    let tags = crate::boto3_tags(server, &bucket, "dir/report.json");
    assert_eq!(
        serde_json::json!(tags),
        serde_json::json!([
            ["path", "a/b=c&d"],
            ["plus", "x+y"],
            ["project", "ferry"],
            ["team", "storage"]
        ])
    );
}

#[test]
fn the_null_sink_checks_checksums_and_serves_what_it_was_sent() {
    let sink = ferry_testkit::NullSinkServer::start().unwrap();
    let client = Arc::new(ferry_testkit::s3_client(&sink.server).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.bin");
    let body = data(21 * MIB + 5, 13);
    std::fs::write(&path, &body).unwrap();
    rt().block_on(async {
        // A wrong checksum is refused, as a real server does.
        let e = client
            .put_object(ferry_s3::PutObjectRequest {
                bucket: "sink".into(),
                key: "bad".into(),
                body: body[..1000].to_vec().into(),
                checksum: Some(ferry_s3::ChecksumValue {
                    algorithm: ChecksumAlgorithm::Crc32,
                    value: "AAAAAA==".into(),
                }),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("BadDigest"), "{e}");
        for (a, t) in [
            (ChecksumAlgorithm::Crc64Nvme, ChecksumType::FullObject),
            (ChecksumAlgorithm::Sha256, ChecksumType::Composite),
        ] {
            let config = UploadSettings {
                plan: PlanConfig {
                    part_size: Some(5 * MIB as u64),
                    ..Default::default()
                },
                checksum: ChecksumMode::Additional(a, t),
                ..Default::default()
            };
            let outcome = crate::manager(client.clone())
                .upload(Upload::new(Source::File(path.clone()), "sink", "k").settings(config))
                .wait()
                .await
                .unwrap();
            assert!(
                matches!(outcome.verification, Verification::Checksum(_)),
                "{a}: {outcome:?}"
            );
            assert_eq!(outcome.size, body.len() as u64);
        }
    });
}

/// A Content-Type is guessed from each file's name unless `--no-guess-mime-type` says not to:
/// then none is sent and the store keeps its default, for a tree and a single file alike. A
/// download, which sends no headers, refuses the flag. On moto, which stores S3's default
/// (SeaweedFS guesses a type from the key's extension itself).
#[test]
fn no_guess_mime_type_sends_no_content_type() {
    let (server, bucket) = crate::moto_bucket("up-mime");
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("site");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("page.html"), b"<p>hi</p>").unwrap();
    std::fs::write(tree.join("data.json"), b"{}").unwrap();
    let tree_arg = tree.to_str().unwrap();
    let up = |dst: &str, extra: &[&str]| {
        let mut args = vec!["cp", "-r", tree_arg, dst];
        args.extend(extra);
        let o = ferry(server, dir.path(), &args);
        assert!(o.status.success(), "{}", text(&o));
    };
    let content_type = |key: &str| -> String {
        let got = crate::boto3_object(server, &bucket, key);
        got["content_type"].as_str().unwrap_or_default().to_string()
    };
    up(&format!("s3://{bucket}/guessed/"), &[]);
    assert_eq!(content_type("guessed/page.html"), "text/html");
    assert_eq!(content_type("guessed/data.json"), "application/json");

    up(&format!("s3://{bucket}/plain/"), &["--no-guess-mime-type"]);
    for key in ["plain/page.html", "plain/data.json"] {
        assert_eq!(content_type(key), "binary/octet-stream", "{key}");
    }
    let page = tree.join("page.html");
    let o = ferry(
        server,
        dir.path(),
        &[
            "cp",
            page.to_str().unwrap(),
            &format!("s3://{bucket}/one.html"),
            "--no-guess-mime-type",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(content_type("one.html"), "binary/octet-stream");

    let o = ferry(
        server,
        dir.path(),
        &[
            "cp",
            &format!("s3://{bucket}/one.html"),
            dir.path().join("back.html").to_str().unwrap(),
            "--no-guess-mime-type",
        ],
    );
    expect_exit(&o, 2, "--no-guess-mime-type");
    assert!(!dir.path().join("back.html").exists());
}
