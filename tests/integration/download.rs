//! Downloads on SeaweedFS: objects written by the aws cli (composite CRC32), s5cmd (MD5 only)
//! and ferry (full-object CRC64NVME) come back identical, each naming its check, to a file and
//! to stdout; a byte flipped in flight is caught and fetched again; an object replaced
//! mid-download is a clear error; SSE-C, versions, `--verify require` and `--no-clobber`;
//! part boundaries inferred; an object a listing shows fits one range comes down in one GET,
//! without HeadObject. Downloads killed and resumed are in `download_killed`.

use std::sync::Arc;

use ferry_engine::{
    Check, Download, DownloadOutcome, DownloadSettings, ErrorKind, Event, Handle, Manager,
    ManagerConfig, Span, Target, partial_path,
};
use ferry_testkit::{FailingClient, HoldProxy, TestServer};

use crate::{
    data, expect_exit, ferry, rt, seaweed_bucket, sha256_hex, stdout, text, tool, uploaded,
};

const MIB: usize = 1024 * 1024;

#[test]
fn objects_from_three_tools_download_identical_each_naming_its_check() {
    let (server, _client, bucket) = seaweed_bucket("dl-tools");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src.bin");
    // 30 MiB and a bit: the aws cli writes 8 MiB parts, s5cmd -p 5 5 MiB parts.
    let body = data(30 * MIB + 1234, 61);
    std::fs::write(&src, &body).unwrap();
    let src_s = src.to_str().unwrap();
    let url = |k: &str| format!("s3://{bucket}/{k}");
    tool(server, "aws", &["s3", "cp", src_s, &url("awscli")]);
    tool(
        server,
        "s5cmd",
        &["cp", "-p", "5", src_s, &url("s5cmd-multipart")],
    );
    tool(server, "s5cmd", &["cp", src_s, &url("s5cmd-single")]);
    let o = ferry(
        server,
        home.path(),
        &["cp", src_s, &url("ferry"), "--no-progress"],
    );
    assert!(o.status.success(), "{}", text(&o));
    for (key, check) in [
        ("awscli", "verified: composite CRC32"),
        ("s5cmd-multipart", "verified: multipart ETag"),
        ("s5cmd-single", "verified: MD5 ETag"),
        ("ferry", "verified: full-object CRC64NVME"),
    ] {
        // 3 MiB ranges: parts are cut into several ranges, and their checks combined.
        let out = home.path().join(format!("{key}.out"));
        let o = ferry(
            server,
            home.path(),
            &[
                "cp",
                &url(key),
                out.to_str().unwrap(),
                "--part-size",
                "3MiB",
                // Written with O_DIRECT (where the check reads the file back, through the
                // page cache), the last partial block through the page cache.
                "--direct-io",
                "always",
            ],
        );
        assert!(o.status.success(), "{key}: {}", text(&o));
        assert!(stdout(&o).contains(check), "{key}: {}", text(&o));
        assert!(std::fs::read(&out).unwrap() == body, "{key}: bytes differ");
        assert!(!partial_path(&out).exists(), "{key}: partial file left");
        // The same to stdout, still parallel, in order.
        let o = ferry(
            server,
            home.path(),
            &["cp", &url(key), "-", "--part-size", "3MiB", "--json"],
        );
        assert!(o.status.success(), "{key} to stdout: {}", text(&o));
        assert_eq!(sha256_hex(&o.stdout), sha256_hex(&body), "{key} to stdout");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.lines().any(|l| l.contains("\"event\":\"downloaded\"")),
            "{key}: JSON events go to stderr: {err}"
        );
    }
}

#[test]
fn empty_and_one_byte_objects_download_checked() {
    let (server, _client, bucket) = seaweed_bucket("dl-tiny");
    let home = tempfile::tempdir().unwrap();
    for (name, body) in [("empty", Vec::new()), ("one", vec![7u8])] {
        let src = home.path().join(name);
        std::fs::write(&src, &body).unwrap();
        let url = format!("s3://{bucket}/{name}");
        let o = ferry(server, home.path(), &["cp", src.to_str().unwrap(), &url]);
        assert!(o.status.success(), "{}", text(&o));
        let out = home.path().join(format!("{name}.out"));
        let o = ferry(server, home.path(), &["cp", &url, out.to_str().unwrap()]);
        assert!(o.status.success(), "{name}: {}", text(&o));
        assert!(
            stdout(&o).contains("verified: full-object CRC64NVME"),
            "{}",
            text(&o)
        );
        assert_eq!(std::fs::read(&out).unwrap(), body, "{name}");
        let o = ferry(server, home.path(), &["cp", &url, "-"]);
        assert!(o.status.success(), "{name}: {}", text(&o));
        assert_eq!(o.stdout, body, "{name} to stdout");
    }
}

/// A download to stdout whose reader stops reading (`| head -c 100`) ends silently with 141,
/// as a command that SIGPIPE ends; it said "error: writing the output: Broken pipe", exit 1.
#[test]
fn a_reader_that_stops_reading_stdout_ends_the_download_quietly() {
    use std::io::Read as _;
    let (server, bucket, home, file, _) = crate::to_send("dl-head", 20 * MIB, 67);
    let url = format!("s3://{bucket}/f.bin");
    let o = ferry(server, home.path(), &["cp", file.to_str().unwrap(), &url]);
    assert!(o.status.success(), "{}", text(&o));
    let mut child = crate::ferry_command(server.env(), home.path())
        .args(["cp", &url, "-"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut head).unwrap();
    // The pipe's read end is closed here, as `head` closes it.
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(141), "{}", text(&o));
    assert!(o.stderr.is_empty(), "{}", text(&o));
}

/// Downloads through a manager of `client`, `parts` ranges of an object at a time (8 with
/// `None`), each with `settings`.
struct Downloader<C> {
    manager: Manager<C>,
    settings: DownloadSettings,
}

impl<C: ferry_s3::ObjectClient> Downloader<C> {
    fn new(client: Arc<C>, parts: Option<u32>, settings: DownloadSettings) -> Self {
        let mut config = ManagerConfig::default();
        if let Some(p) = parts {
            (config.max_requests, config.parts_per_object) = (p, p);
        }
        Self {
            manager: Manager::new(client, config).unwrap(),
            settings,
        }
    }

    /// Starts downloading `request` (bucket, key, listing) to `target`.
    fn download(&self, request: Download, target: Target) -> Handle<DownloadOutcome> {
        self.manager.download(Download {
            target,
            settings: self.settings.clone(),
            ..request
        })
    }
}

/// A downloader over a failure-injecting client on SeaweedFS.
fn failing_downloader(
    server: &TestServer,
    parts: Option<u32>,
    settings: DownloadSettings,
) -> (
    Arc<FailingClient<ferry_s3::S3Client>>,
    Downloader<FailingClient<ferry_s3::S3Client>>,
) {
    let client = Arc::new(FailingClient::new(
        ferry_testkit::s3_client(server).unwrap(),
        vec![],
    ));
    let d = Downloader::new(client.clone(), parts, settings);
    (client, d)
}

/// The object `bucket`/`key` (its target set by [`Downloader::download`]).
fn request(bucket: &str, key: &str) -> Download {
    Download::new(bucket, key, Target::Memory)
}

#[test]
fn a_byte_flipped_in_flight_is_caught_and_fetched_again() {
    let (server, _client, bucket) = seaweed_bucket("dl-flip");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src.bin");
    let body = data(20 * MIB + 77, 62);
    std::fs::write(&src, &body).unwrap();
    // One object with a full-object CRC64NVME (ranges combine), one with only a multipart
    // ETag (the check reads the file back in order).
    for (key, extra) in [("crc", None), ("etag", Some("none"))] {
        let mut args = vec![
            "cp".to_string(),
            src.to_str().unwrap().into(),
            format!("s3://{bucket}/{key}"),
            "--part-size".into(),
            "5MiB".into(),
        ];
        if let Some(c) = extra {
            args.extend(["--checksum".into(), c.into()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = ferry(server, home.path(), &args);
        assert!(o.status.success(), "{}", text(&o));

        let settings = DownloadSettings {
            range_size: 4 * MIB as u64,
            ..Default::default()
        };
        let (client, downloader) = failing_downloader(server, Some(2), settings);
        client.flip_byte_of_get(3);
        let out = home.path().join(format!("{key}.out"));
        let outcome = rt().block_on(async {
            let h = downloader.download(request(&bucket, key), Target::File(out.clone()));
            let mut events = h.subscribe();
            let o = h.wait().await.unwrap();
            let mut refetched = Vec::new();
            while let Ok(e) = events.try_recv() {
                if let Event::Refetched { range, .. } = e {
                    refetched.push(range);
                }
            }
            (o, refetched)
        });
        let (o, refetched) = outcome;
        assert_eq!(
            client.injected.load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        assert_eq!(
            refetched.len(),
            1,
            "{key}: exactly the damaged range replaced"
        );
        assert!(o.refetched >= 1, "{key}: {o:?}");
        match (key, &o.check) {
            ("crc", Check::FullObject(_)) | ("etag", Check::MultipartEtag(_)) => {}
            other => panic!("unexpected check {other:?}"),
        }
        assert!(std::fs::read(&out).unwrap() == body, "{key}: bytes differ");
    }
}

/// A small object comes down in one GET, is checked in memory and becomes a file in one
/// step; a byte flipped in that GET is caught there, and the object is fetched again into
/// the file, as a bigger one's range would be. Checked by CRC64NVME and by MD5 (an ETag
/// only), hashed where it arrived (50 KiB) and on a blocking thread (300 KiB), listed (no
/// HeadObject) or not.
#[test]
fn a_byte_flipped_in_a_small_object_is_caught_and_fetched_again() {
    let (server, client, bucket) = seaweed_bucket("dl-flip-small");
    let home = tempfile::tempdir().unwrap();
    for (n, size) in [(1u64, 50 * 1024), (2, 300 * 1024)] {
        let body = data(size, 70 + n);
        let src = home.path().join(format!("src{n}.bin"));
        std::fs::write(&src, &body).unwrap();
        for (check, extra) in [("crc", None), ("md5", Some("none"))] {
            let key = format!("{check}-{size}");
            let mut args = vec!["cp", src.to_str().unwrap()];
            let url = format!("s3://{bucket}/{key}");
            args.push(&url);
            if let Some(c) = extra {
                args.extend(["--checksum", c]);
            }
            let o = ferry(server, home.path(), &args);
            assert!(o.status.success(), "{}", text(&o));
            let etag = rt()
                .block_on(ferry_s3::ObjectClient::head_object(
                    &client,
                    &crate::get(&bucket, &key),
                ))
                .unwrap()
                .etag;
            for listed in [false, true] {
                let (failing, downloader) =
                    failing_downloader(server, None, DownloadSettings::default());
                failing.flip_byte_of_get(1);
                let out = home.path().join(format!("{key}-{listed}.out"));
                let request = Download {
                    listed: listed.then(|| ferry_engine::Listed {
                        size: size as u64,
                        etag: etag.clone(),
                    }),
                    ..request(&bucket, &key)
                };
                let (o, refetched) = rt().block_on(async {
                    let h = downloader.download(request, Target::File(out.clone()));
                    let mut events = h.subscribe();
                    let o = h.wait().await.unwrap_or_else(|e| panic!("{key}: {e}"));
                    let mut refetched = 0;
                    while let Ok(e) = events.try_recv() {
                        refetched += u32::from(matches!(e, Event::Refetched { .. }));
                    }
                    (o, refetched)
                });
                let case = format!("{key}, listed {listed}");
                assert_eq!(
                    failing.injected.load(std::sync::atomic::Ordering::Relaxed),
                    1
                );
                assert_eq!((refetched, o.refetched), (1, 1), "{case}: {o:?}");
                match (check, &o.check) {
                    ("crc", Check::FullObject(_)) | ("md5", Check::Md5Etag(_)) => {}
                    other => panic!("{case}: unexpected check {other:?}"),
                }
                assert!(std::fs::read(&out).unwrap() == body, "{case}: bytes differ");
                let left: Vec<_> = std::fs::read_dir(home.path())
                    .unwrap()
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|n| n.contains("ferry"))
                    .collect();
                assert!(left.is_empty(), "{case}: left behind {left:?}");
            }
        }
    }
}

#[test]
fn an_object_replaced_mid_download_is_a_clear_error_and_nothing_is_written() {
    let (server, _client, bucket) = seaweed_bucket("dl-replaced");
    let home = tempfile::tempdir().unwrap();
    let dst = format!("s3://{bucket}/obj");
    uploaded(server, home.path(), &data(12 * MIB, 63), &dst, &[]);
    let out = home.path().join("obj.out");
    std::fs::write(&out, b"the user's old file").unwrap();

    let settings = DownloadSettings {
        range_size: 4 * MIB as u64,
        ..Default::default()
    };
    let (client, downloader) = failing_downloader(server, Some(1), settings);
    // Before the second range, another writer replaces the object.
    let replacement = home.path().join("new.bin");
    std::fs::write(&replacement, data(12 * MIB, 64)).unwrap();
    let (srv, home_path, dst2, rep) = (
        server.clone(),
        home.path().to_path_buf(),
        dst.clone(),
        replacement.clone(),
    );
    client.before_get(
        2,
        Box::new(move || {
            let o = ferry(&srv, &home_path, &["cp", rep.to_str().unwrap(), &dst2]);
            assert!(o.status.success(), "{}", text(&o));
        }),
    );
    let err = rt()
        .block_on(async {
            downloader
                .download(request(&bucket, "obj"), Target::File(out.clone()))
                .wait()
                .await
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Changed, "{err}");
    assert!(
        err.to_string().contains("changed during the download"),
        "{err}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"the user's old file");
    assert!(!partial_path(&out).exists(), "no partial file is kept");
}

#[test]
fn a_listed_object_that_fits_one_range_comes_down_in_one_get() {
    let (server, client, bucket) = seaweed_bucket("dl-listed");
    let home = tempfile::tempdir().unwrap();
    let url = format!("s3://{bucket}/obj");
    // Two versions by ferry (each with a full-object CRC64NVME, which SeaweedFS also returns
    // with a whole-object GET); the listing of the first goes stale.
    let mut etags = Vec::new();
    let (old, new) = (data(3 * MIB, 68), data(3 * MIB + 5, 69));
    for body in [&old, &new] {
        let src = home.path().join("src.bin");
        std::fs::write(&src, body).unwrap();
        let o = ferry(server, home.path(), &["cp", src.to_str().unwrap(), &url]);
        assert!(o.status.success(), "{}", text(&o));
        let meta = rt()
            .block_on(ferry_s3::ObjectClient::head_object(
                &client,
                &crate::get(&bucket, "obj"),
            ))
            .unwrap();
        etags.push(meta.etag);
    }
    let proxy = HoldProxy::start(&server.endpoint, vec![]).unwrap();
    let through = Arc::new(ferry_testkit::s3_client(&proxy.server(server)).unwrap());
    let listed = |size: usize, etag: &str| ferry_engine::Listed {
        size: size as u64,
        etag: etag.to_string(),
    };
    for (case, listing, requests) in [
        // One GET brings the ETag, the checksum and the bytes.
        ("as listed", listed(new.len(), &etags[1]), vec!["GET"]),
        // Replaced since the listing: the pinned GET is refused (412), and the download
        // goes on as without a listing, for the object as it is now.
        (
            "stale",
            listed(old.len(), &etags[0]),
            vec!["GET", "HEAD", "GET"],
        ),
        // Of several parts, or bigger than a range: HeadObject first, as without a listing.
        (
            "two parts",
            listed(new.len(), "\"0f1e-2\""),
            vec!["HEAD", "GET"],
        ),
        (
            "bigger than a range",
            listed(40 * MIB, &etags[1]),
            vec!["HEAD", "GET"],
        ),
    ] {
        proxy.reset(vec![]);
        let out = home.path().join(format!("{case}.out"));
        let downloader = Downloader::new(through.clone(), None, DownloadSettings::default());
        let request = Download {
            listed: Some(listing),
            ..request(&bucket, "obj")
        };
        let outcome = rt()
            .block_on(async {
                let target = Target::File(out.clone());
                downloader.download(request, target).wait().await
            })
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert!(std::fs::read(&out).unwrap() == new, "{case}: bytes differ");
        assert!(
            matches!(&outcome.check, Check::FullObject(v) if v.algorithm == ferry_s3::ChecksumAlgorithm::Crc64Nvme),
            "{case}: {}",
            outcome.check
        );
        assert_eq!(outcome.etag, etags[1], "{case}");
        let methods: Vec<String> = proxy
            .log()
            .iter()
            .map(|l| l.split(' ').next().unwrap().to_string())
            .collect();
        assert_eq!(methods, requests, "{case}: {:?}", proxy.log());
    }
}

#[test]
fn sse_c_versions_verify_and_no_clobber() {
    let (server, client, bucket) = seaweed_bucket("dl-options");
    let home = tempfile::tempdir().unwrap();
    let body = data(9 * MIB, 68);
    let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 32]);
    let url = format!("s3://{bucket}/secret");
    // No additional checksum: an SSE-C object's ETag is not an MD5, so nothing can check it.
    let flags = ["--sse-c-key", &key, "--checksum", "none"];
    uploaded(server, home.path(), &body, &url, &flags);
    let out = home.path().join("secret.out");
    let out_s = out.to_str().unwrap();
    let o = ferry(
        server,
        home.path(),
        &[
            "cp",
            &url,
            out_s,
            "--sse-c-key",
            &key,
            "--verify",
            "require",
        ],
    );
    expect_exit(&o, 1, "cannot be verified");
    assert!(!out.exists() && !partial_path(&out).exists());
    let o = ferry(
        server,
        home.path(),
        &[
            "cp",
            &url,
            out_s,
            "--sse-c-key",
            &key,
            "--part-size",
            "2MiB",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        stdout(&o).contains("size verified only: an SSE-C object"),
        "{}",
        text(&o)
    );
    assert!(std::fs::read(&out).unwrap() == body);
    assert!(!stdout(&o).contains(&key) && !String::from_utf8_lossy(&o.stderr).contains(&key));
    // Without the key: the server refuses, and the file already there is untouched. The
    // HEAD's answer has no body to say why; the one-byte GET ferry then sends has one.
    let o = ferry(server, home.path(), &["cp", &url, out_s]);
    expect_exit(&o, 1, "GetObject failed: InvalidArgument (HTTP 400)");
    expect_exit(&o, 1, "customer-provided key (SSE-C): read it with its key");
    assert!(std::fs::read(&out).unwrap() == body);
    // With another key: a plain "Access Denied", the key named as the likely cause.
    let other = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [8u8; 32]);
    let o = ferry(
        server,
        home.path(),
        &["cp", &url, out_s, "--sse-c-key", &other],
    );
    expect_exit(&o, 1, "the SSE-C key given is most likely not the one");
    assert!(std::fs::read(&out).unwrap() == body);
    // With a wrong secret key: the signature, not a permission, is named.
    let mut vars = server.env();
    vars.retain(|(k, _)| k != "AWS_SECRET_ACCESS_KEY");
    vars.push((
        "AWS_SECRET_ACCESS_KEY".into(),
        "wRoNgSeCrEt0123456789".into(),
    ));
    let o = crate::ferry_command(vars, home.path())
        .args(["cp", &url, out_s, "--sse-c-key", &key])
        .output()
        .unwrap();
    expect_exit(&o, 1, "SignatureDoesNotMatch");
    expect_exit(&o, 1, "check the secret access key");
    assert!(std::fs::read(&out).unwrap() == body);
    // --no-clobber refuses to replace it.
    let o = ferry(
        server,
        home.path(),
        &["cp", &url, out_s, "--sse-c-key", &key, "--no-clobber"],
    );
    expect_exit(&o, 2, "--no-clobber");
    // A missing object is a clear error.
    let o = ferry(
        server,
        home.path(),
        &["cp", &format!("s3://{bucket}/nope"), out_s],
    );
    expect_exit(&o, 1, "does not exist");
    // Upload-only flags are refused.
    let o = ferry(
        server,
        home.path(),
        &["cp", &url, out_s, "--acl", "private"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    // Versions: the old one by id.
    let vbucket = format!("{bucket}-v");
    ferry_testkit::boto3(
        server,
        "s3.create_bucket(Bucket=sys.argv[1]); s3.put_bucket_versioning(Bucket=sys.argv[1], VersioningConfiguration={'Status': 'Enabled'}); print('null')",
        &[&vbucket],
    )
    .unwrap();
    let _ = client;
    let v1 = ferry_testkit::boto3(
        server,
        "print(json.dumps(s3.put_object(Bucket=sys.argv[1], Key='k', Body=b'version one')['VersionId']))",
        &[&vbucket],
    )
    .unwrap();
    ferry_testkit::boto3(
        server,
        "s3.put_object(Bucket=sys.argv[1], Key='k', Body=b'version two'); print('null')",
        &[&vbucket],
    )
    .unwrap();
    let o = ferry(
        server,
        home.path(),
        &[
            "cp",
            &format!("s3://{vbucket}/k"),
            "-",
            "--version-id",
            v1.as_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(o.stdout, b"version one");
    let o = ferry(
        server,
        home.path(),
        &["cp", &format!("s3://{vbucket}/k"), "-"],
    );
    assert_eq!(o.stdout, b"version two", "{}", text(&o));
}

/// A deleted object of a versioned bucket: S3 (and moto; SeaweedFS does not) marks the 404 as
/// a delete marker's, which the error names; the version before still reads by its id, and
/// the marker's own id is named as holding no bytes.
#[test]
fn a_deleted_object_is_named_as_its_delete_marker() {
    let server = ferry_testkit::moto();
    let bucket = ferry_testkit::unique_bucket("moto-deleted");
    let home = tempfile::tempdir().unwrap();
    let ids = ferry_testkit::boto3(
        server,
        r#"
b = sys.argv[1]
s3.create_bucket(Bucket=b)
s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={'Status': 'Enabled'})
old = s3.put_object(Bucket=b, Key='k', Body=b'before')['VersionId']
marker = s3.delete_object(Bucket=b, Key='k')['VersionId']
print(json.dumps([old, marker]))
"#,
        &[&bucket],
    )
    .unwrap();
    let (old, marker) = (ids[0].as_str().unwrap(), ids[1].as_str().unwrap());
    let url = format!("s3://{bucket}/k");
    let o = ferry(server, home.path(), &["cp", &url, "-"]);
    expect_exit(
        &o,
        1,
        "its latest version is a delete marker: the object was deleted",
    );
    let o = ferry(server, home.path(), &["cp", &url, "-", "--version-id", old]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(o.stdout, b"before");
    let o = ferry(
        server,
        home.path(),
        &["cp", &url, "-", "--version-id", marker],
    );
    expect_exit(
        &o,
        1,
        "that version is a delete marker, which holds no bytes",
    );
}

/// A multipart object with no additional checksum, its parts written by boto3 with the sizes
/// given (in MiB), checksums off.
fn boto3_multipart(
    server: &TestServer,
    bucket: &str,
    key: &str,
    sizes: &[usize],
    seed: u64,
) -> Vec<u8> {
    let body = data(sizes.iter().sum::<usize>() * MIB, seed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("body");
    std::fs::write(&path, &body).unwrap();
    let sizes: Vec<String> = sizes.iter().map(|s| (s * MIB).to_string()).collect();
    ferry_testkit::boto3(
        server,
        r#"
c = boto3.client('s3', endpoint_url=s3.meta.endpoint_url, aws_access_key_id=s3._request_signer._credentials.access_key,
    aws_secret_access_key=s3._request_signer._credentials.secret_key, region_name=s3.meta.region_name,
    config=Config(s3={'addressing_style': 'path'}, request_checksum_calculation='when_required'))
b, k, path = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(path, 'rb').read()
u = c.create_multipart_upload(Bucket=b, Key=k)['UploadId']
parts, off = [], 0
for i, n in enumerate(int(x) for x in sys.argv[4:]):
    r = c.upload_part(Bucket=b, Key=k, UploadId=u, PartNumber=i + 1, Body=data[off:off + n])
    parts.append({'PartNumber': i + 1, 'ETag': r['ETag']})
    off += n
c.complete_multipart_upload(Bucket=b, Key=k, UploadId=u, MultipartUpload={'Parts': parts})
print(json.dumps(c.head_object(Bucket=b, Key=k)['ETag']))
"#,
        &[&[bucket, key, path.to_str().unwrap()][..], &sizes.iter().map(String::as_str).collect::<Vec<_>>()].concat(),
    )
    .unwrap();
    body
}

#[test]
fn part_boundaries_without_a_part_list_are_inferred_then_listed_one_by_one() {
    let (server, _client, bucket) = seaweed_bucket("dl-layout");
    let home = tempfile::tempdir().unwrap();
    // Uniform parts (as every common tool writes them), and parts whose first and last fit
    // the uniform guess while the middle ones do not.
    for (key, sizes, heads) in [
        ("uniform", &[5, 5, 5, 2][..], 3),
        ("uneven", &[6, 7, 5, 2][..], 7),
    ] {
        let body = boto3_multipart(server, &bucket, key, sizes, 69);
        let (client, downloader) = failing_downloader(
            server,
            None,
            DownloadSettings {
                range_size: 3 * MIB as u64,
                ..Default::default()
            },
        );
        // As on AWS for an object without an additional checksum: no part list.
        client.add_fault(ferry_testkit::Fault::new(
            "GetObjectAttributes",
            1,
            ferry_testkit::access_denied,
        ));
        let out = home.path().join(key);
        let o = rt()
            .block_on(async {
                downloader
                    .download(request(&bucket, key), Target::File(out.clone()))
                    .wait()
                    .await
            })
            .unwrap();
        assert!(
            matches!(o.check, Check::MultipartEtag(_)),
            "{key}: {:?}",
            o.check
        );
        assert_eq!(o.refetched, 0, "{key}: the bytes were right all along");
        assert!(std::fs::read(&out).unwrap() == body, "{key}: bytes differ");
        // HEAD, part 1, part N; and for uneven parts each part once more.
        assert_eq!(
            client.heads.load(std::sync::atomic::Ordering::Relaxed),
            heads,
            "{key}"
        );
    }
}

/// A range of an object (a backup tool reading one blob out of a pack), through the library
/// in parallel ranges and through `ferry cp … - --range`: exactly those bytes, checked by
/// size; the whole object as a range keeps its checksum; a file target, an exact range past
/// the end and `--verify require` are refused. Open spans read as HTTP's ranges do: to the
/// end (a last byte past it stops there), and the last N bytes.
#[test]
fn a_range_of_an_object_is_exactly_its_bytes() {
    let (server, _client, bucket) = seaweed_bucket("dl-range");
    let home = tempfile::tempdir().unwrap();
    let body = data(20 * MIB + 77, 66);
    let url = format!("s3://{bucket}/pack");
    uploaded(server, home.path(), &body, &url, &[]);
    let settings = DownloadSettings {
        range_size: MIB as u64,
        ..Default::default()
    };
    let downloader = Downloader::new(
        Arc::new(ferry_testkit::s3_client(server).unwrap()),
        None,
        settings,
    );
    let get = |first: u64, last: u64, verify: ferry_engine::VerifyMode| {
        let request = Download {
            settings: DownloadSettings {
                verify,
                ..downloader.settings.clone()
            },
            ..request(&bucket, "pack").range(first, last)
        };
        rt().block_on(async { downloader.manager.download(request).wait().await })
    };
    let auto = ferry_engine::VerifyMode::Auto;
    let (first, last) = (5 * MIB as u64 + 3, 17 * MIB as u64 + 10);
    let o = get(first, last, auto).unwrap();
    assert_eq!(o.size, last - first + 1);
    assert_eq!(o.ranges, 13, "{o:?}");
    assert!(matches!(o.check, Check::SizeOnly(_)), "{:?}", o.check);
    assert!(o.data.unwrap()[..] == body[first as usize..=last as usize]);
    let o = get(0, body.len() as u64 - 1, auto).unwrap();
    assert!(matches!(o.check, Check::FullObject(_)), "{:?}", o.check);
    assert!(o.data.unwrap()[..] == body[..]);
    let past = get(0, body.len() as u64, auto).unwrap_err();
    assert_eq!(past.kind(), ErrorKind::InvalidInput, "{past}");
    assert!(past.to_string().contains("are not within"), "{past}");
    let required = get(0, 9, ferry_engine::VerifyMode::Require).unwrap_err();
    assert_eq!(required.kind(), ErrorKind::Verification, "{required}");
    let to_file = rt()
        .block_on(async {
            let ranged = request(&bucket, "pack").range(0, 9);
            let target = Target::File(home.path().join("f"));
            downloader.download(ranged, target).wait().await
        })
        .unwrap_err();
    assert_eq!(to_file.kind(), ErrorKind::InvalidInput, "{to_file}");
    // Open spans, as HTTP's: to the end, and the last N bytes.
    let n = body.len();
    let span = |span: Span| {
        let request = request(&bucket, "pack").span(span);
        rt().block_on(async { downloader.download(request, Target::Memory).wait().await })
    };
    let o = span(Span::From {
        first: n as u64 - 300,
        last: Some(n as u64 * 2),
    });
    assert!(o.unwrap().data.unwrap()[..] == body[n - 300..]);
    let o = span(Span::Last(7 * MIB as u64 + 5)).unwrap();
    assert_eq!(o.ranges, 8, "{o:?}");
    assert!(o.data.unwrap()[..] == body[n - 7 * MIB - 5..]);
    let past = span(Span::From {
        first: n as u64,
        last: None,
    });
    assert!(past.unwrap_err().to_string().contains("past the end"));
    // The CLI, to stdout: FIRST-LAST (a LAST past the end reads to it), FIRST-, -N.
    let len = n.to_string();
    for (range, want) in [
        ("100-199", &body[100..200]),
        (&format!("{}-{}", n - 10, n + 1000), &body[n - 10..]),
        (&format!("{}-", n - 1), &body[n - 1..]),
        ("-1000", &body[n - 1000..]),
        (&format!("-{len}"), &body[..]),
    ] {
        let o = ferry(server, home.path(), &["cp", &url, "-", "--range", range]);
        assert!(o.status.success(), "{range}: {}", text(&o));
        assert!(o.stdout[..] == want[..], "{range}");
    }
    for (args, says) in [
        (
            vec!["--range", "9-1"],
            "the last byte (1) comes before the first (9)",
        ),
        (vec!["--range", "-0"], "asks for no bytes"),
        (vec!["--range", "1-2-3"], "give FIRST-LAST"),
        (
            vec!["--range", "0-9", "--verify", "require"],
            "cannot be verified",
        ),
        (vec!["--range", &format!("{len}-")], "past the end"),
    ] {
        let o = ferry(
            server,
            home.path(),
            &[&["cp", &url, "-"][..], &args].concat(),
        );
        let code = if says == "cannot be verified" { 1 } else { 2 };
        expect_exit(&o, code, says);
    }
    let file = home.path().join("part.bin");
    let o = ferry(
        server,
        home.path(),
        &["cp", &url, file.to_str().unwrap(), "--range", "0-9"],
    );
    expect_exit(&o, 2, "--range reads part of one object to stdout");
    assert!(!file.exists());
}
