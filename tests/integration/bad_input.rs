//! Bad input, one table through the CLI: every case exits 2 with a message naming the problem
//! (and what to do), and nothing is created on the server; the uploads two interrupted runs
//! left for resume stay as they were.

use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;

use crate::resume::{interrupt_after, start_upload};
use crate::{boto3_uploads, data, seaweed_bucket, text};

const MIB: usize = 1024 * 1024;

#[test]
fn bad_input_exits_2_names_the_problem_and_creates_nothing() {
    use base64::Engine as _;
    let (server, _client, bucket) = seaweed_bucket("bad-input");
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    let file = dir.join("f.bin");
    std::fs::write(&file, b"small").unwrap();
    let f = file.to_str().unwrap();
    let d = dir.to_str().unwrap();
    let dst = format!("s3://{bucket}/k");
    let bucket_only = format!("s3://{bucket}/");
    let dotdot = format!("s3://{bucket}/a/../k");
    let dot = format!("s3://{bucket}/a/./k");
    let prefix = format!("s3://{bucket}/from/");
    let missing = dir.join("missing");
    // A file named as a folder (`FILE/`): its metadata is ENOTDIR, not "absent".
    let file_slash = format!("{f}/");
    // A sparse 60 GiB file: 5 MiB parts would need 12,288.
    let sparse = dir.join("sparse.bin");
    std::fs::File::create(&sparse)
        .unwrap()
        .set_len(60 << 30)
        .unwrap();
    // Two uploads interrupted part-way (Ctrl-C), journaled for resume: one whose file then
    // changes, one begun with an SSE-C key.
    let changed = dir.join("changed.bin");
    std::fs::write(&changed, data(30 * MIB, 61)).unwrap();
    let changed_dst = format!("s3://{bucket}/changed");
    let (code, err) = interrupt_after(start_upload(server, dir, &changed, &changed_dst, &[]), 2);
    assert_eq!(code, Some(130), "{err}");
    std::fs::write(&changed, data(30 * MIB + 1, 62)).unwrap();
    let sealed = dir.join("sealed.bin");
    std::fs::write(&sealed, data(30 * MIB, 63)).unwrap();
    let sealed_dst = format!("s3://{bucket}/sealed");
    let b64 = |b: u8| base64::engine::general_purpose::STANDARD.encode([b; 32]);
    let (key_a, key_b) = (b64(1), b64(2));
    let child = start_upload(server, dir, &sealed, &sealed_dst, &["--sse-c-key", &key_a]);
    let (code, err) = interrupt_after(child, 2);
    assert_eq!(code, Some(130), "{err}");
    let uploads_before = {
        let mut u = boto3_uploads(server, &bucket);
        u.sort();
        u
    };
    assert_eq!(uploads_before.len(), 2);

    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        (
            "mixed ACL and grants",
            vec!["cp", f, &dst, "--acl", "private", "--grant-read", "id=abc"],
            "cannot be combined",
        ),
        (
            "part size under 5 MiB",
            vec!["cp", f, &dst, "--part-size", "4MiB"],
            "outside S3's limits",
        ),
        (
            "part size over 5 GiB",
            vec!["cp", f, &dst, "--part-size", "6GiB"],
            "outside S3's limits",
        ),
        (
            "too many parts",
            vec!["cp", sparse.to_str().unwrap(), &dst, "--part-size", "5MiB"],
            "the smallest part size that works is 7340032 bytes (7 MiB)",
        ),
        (
            "object too large",
            vec!["cp", "-", &dst, "--expected-size", "49TiB"],
            "over the largest object allowed (53687091200000 bytes)",
        ),
        (
            "a tree written over a file named as a folder",
            vec!["cp", "-r", &prefix, &file_slash],
            "is a file; a tree is written into a folder",
        ),
        (
            "a sync written over a file named as a folder",
            vec!["sync", &prefix, &file_slash],
            "is a file; a tree is written into a folder",
        ),
        (
            "an expected size read two ways",
            vec!["cp", "-", &dst, "--expected-size", "30MB"],
            "is not an exact size",
        ),
        (
            "source missing",
            vec!["cp", missing.to_str().unwrap(), &dst],
            "cannot read source",
        ),
        ("source a directory", vec!["cp", d, &dst], "is a folder"),
        (
            "sync source missing",
            vec!["sync", missing.to_str().unwrap(), &prefix],
            "cannot read source",
        ),
        (
            "destination empty",
            vec!["cp", &dst, ""],
            "the destination is empty",
        ),
        (
            "sync source empty",
            vec!["sync", "", &dst],
            "the source is empty",
        ),
        (
            "source changed since the journal",
            vec![
                "cp",
                changed.to_str().unwrap(),
                &changed_dst,
                "--part-size",
                "5MiB",
            ],
            "changed since its upload began",
        ),
        (
            "destination malformed",
            vec!["cp", f, "bucket/key"],
            "one side must be s3://",
        ),
        (
            "destination without a bucket",
            vec!["cp", f, "s3:///k"],
            "has no bucket",
        ),
        (
            "destination without a key, from a stream",
            vec!["cp", "-", &bucket_only],
            "give the destination key",
        ),
        (
            "invalid bucket name",
            vec!["cp", f, "s3://x/k"],
            "invalid bucket name",
        ),
        (
            "SSE-C key of the wrong length",
            vec!["cp", f, &dst, "--sse-c-key", "c2hvcnQ="],
            "32 bytes",
        ),
        (
            "SSE-C key other than the upload's",
            vec![
                "cp",
                sealed.to_str().unwrap(),
                &sealed_dst,
                "--sse-c-key",
                &key_b,
            ],
            "not the one the upload began with",
        ),
        (
            "malformed endpoint",
            vec!["--endpoint-url", "localhost:9000", "cp", f, &dst],
            "invalid endpoint URL",
        ),
        (
            "unknown checksum algorithm",
            vec!["cp", f, &dst, "--checksum", "md4"],
            "unknown checksum algorithm",
        ),
        (
            "CRC64NVME as COMPOSITE",
            vec![
                "cp",
                f,
                &dst,
                "--checksum",
                "crc64nvme",
                "--checksum-type",
                "composite",
            ],
            "cannot be used with type COMPOSITE",
        ),
        (
            "SHA256 as FULL_OBJECT",
            vec![
                "cp",
                f,
                &dst,
                "--checksum",
                "sha256",
                "--checksum-type",
                "full-object",
            ],
            "cannot be used with type FULL_OBJECT",
        ),
        ("a key with '..'", vec!["cp", f, &dotdot], "'..'"),
        ("a key with '.'", vec!["cp", f, &dot], "'.'"),
        (
            "memory limit under a part",
            vec!["cp", f, &dst, "--memory-limit", "1MiB"],
            "--memory-limit",
        ),
        (
            "unknown addressing style",
            vec!["--addressing-style", "sideways", "cp", f, &dst],
            "addressing style",
        ),
        (
            "an unknown --direct-io",
            vec!["cp", &dst, f, "--direct-io", "sometimes"],
            "--direct-io \"sometimes\": use auto, always or never",
        ),
        (
            "--direct-io for a stream",
            vec!["cp", "-", &dst, "--direct-io", "always"],
            "--direct-io is for files",
        ),
        (
            "--direct-io to stdout",
            vec!["cp", &dst, "-", "--direct-io", "always"],
            "--direct-io is for files",
        ),
        (
            "--recursive from stdin",
            vec!["cp", "-r", "-", &dst],
            "--recursive copies a folder",
        ),
        (
            "--recursive with a file",
            vec!["cp", "-r", f, &dst],
            "is not a folder; without --recursive",
        ),
        (
            "--recursive between overlapping prefixes of one bucket",
            vec!["cp", "-r", &bucket_only, &dst],
            "copies would be listed and copied again",
        ),
        (
            "--recursive with --version-id",
            vec!["cp", "-r", &bucket_only, d, "--version-id", "v1"],
            "--version-id is for one object",
        ),
        (
            "--recursive into a file",
            vec!["cp", "-r", &bucket_only, f],
            "is a file; a tree is written into a folder",
        ),
        (
            "--recursive to stdout",
            vec!["cp", "-r", &bucket_only, "-"],
            "stdout takes one object",
        ),
        (
            "--sign-payload on a copy the server makes",
            vec!["cp", &dst, &changed_dst, "--sign-payload"],
            "--sign-payload is for bodies ferry sends",
        ),
        (
            "--sign-payload on a tree the server copies",
            vec!["cp", "-r", &prefix, &changed_dst, "--sign-payload"],
            "--sign-payload is for bodies ferry sends",
        ),
        (
            "--verify on an upload",
            vec!["cp", f, &dst, "--verify", "require"],
            "--verify is for reading an object",
        ),
        (
            "--verify on a copy",
            vec!["cp", &dst, &changed_dst, "--verify", "require"],
            "--verify is not for copies",
        ),
        (
            "resume with no id, among several",
            vec!["resume"],
            "2 interrupted uploads and copies in",
        ),
        (
            "--source-profile on a sync up",
            vec!["sync", d, &prefix, "--source-profile", "other"],
            "--source-profile is for a sync between two S3 locations",
        ),
        (
            "--exclude without --recursive",
            vec!["cp", f, &dst, "--exclude", "*.log"],
            "give -r to copy a folder or a prefix",
        ),
        // Mistyped locations, once downloaded to (or read from) a local folder `s3:`.
        (
            "a destination s3:/ (one slash)",
            vec!["cp", &dst, "s3:/bucket/copy"],
            "an S3 location begins s3:// (in lower case)",
        ),
        (
            "a destination S3://",
            vec!["cp", "-r", &prefix, "S3://bucket/copy/"],
            "for a local path of that name, write ./S3://bucket/copy/",
        ),
        (
            "a source S3://",
            vec!["cp", "S3://bucket/key", f],
            "an S3 location begins s3://",
        ),
        (
            "a sync to s3:/",
            vec!["sync", &prefix, "s3:/bucket/copy"],
            "an S3 location begins s3://",
        ),
    ];
    for (name, args, needle) in cases {
        let mut c = crate::ferry_command(server.env(), dir);
        c.args(&args)
            .current_dir(dir)
            .stdin(std::fs::File::open(&file).unwrap());
        let o = c.output().unwrap();
        check(name, &o, needle);
    }
    assert!(!dir.join("s3:").exists() && !dir.join("S3:").exists());

    // With --json, the refusal is an event too: the only line on stdout, or on stderr when the
    // data would have gone to stdout (which then stays empty).
    for (args, on_stderr, needle) in [
        (
            vec!["cp", f, &dst, "--part-size", "1", "--json"],
            false,
            "outside S3's limits",
        ),
        (
            vec!["cp", &dst, "-", "--part-size", "1", "--json"],
            true,
            "a download's ranges must be 64KiB to 5GiB",
        ),
    ] {
        let o = crate::ferry_command(server.env(), dir)
            .args(&args)
            .output()
            .unwrap();
        check("--json", &o, needle);
        let (events, other) = if on_stderr {
            (&o.stderr, &o.stdout)
        } else {
            (&o.stdout, &o.stderr)
        };
        let events = String::from_utf8_lossy(events);
        let event: serde_json::Value = serde_json::from_str(events.lines().next().unwrap())
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {events}"));
        assert_eq!(event["event"], "failed", "{events}");
        assert!(
            event["error"].as_str().unwrap().contains(needle),
            "{events}"
        );
        if on_stderr {
            assert!(
                other.is_empty(),
                "stdout: {}",
                String::from_utf8_lossy(other)
            );
        } else {
            assert_eq!(events.lines().count(), 1, "{events}");
            assert!(!String::from_utf8_lossy(other).contains("\"event\""));
        }
    }

    // No credentials anywhere: exit 2, saying where ferry looked.
    let o = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["cp", f, &dst])
        .env_clear()
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOME", dir)
        .env("AWS_ENDPOINT_URL", &server.endpoint)
        .output()
        .unwrap();
    check("no credentials", &o, "no credentials found");
    assert!(String::from_utf8_lossy(&o.stderr).contains(".aws/credentials"));

    // An unreadable source: mode 000, read by a user who is not its owner (as root, ferry
    // runs as nobody; root reads anything).
    let locked = tempfile::tempdir().unwrap();
    std::fs::set_permissions(locked.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let unreadable = locked.path().join("locked.bin");
    std::fs::write(&unreadable, b"secret").unwrap();
    std::fs::set_permissions(&unreadable, std::fs::Permissions::from_mode(0o000)).unwrap();
    let mut c = crate::ferry_command(server.env(), locked.path());
    c.args(["cp", unreadable.to_str().unwrap(), &dst]);
    let uid = Command::new("id").arg("-u").output().unwrap().stdout;
    if String::from_utf8_lossy(&uid).trim() == "0" {
        use std::os::unix::process::CommandExt as _;
        c.uid(65534).gid(65534);
    }
    check(
        "source unreadable",
        &c.output().unwrap(),
        "Permission denied",
    );

    // Nothing was created, and the two interrupted uploads are as they were.
    let listed = ferry_testkit::boto3(
        server,
        "r = s3.list_objects_v2(Bucket=sys.argv[1])\nprint(json.dumps(r.get('KeyCount', 0)))",
        &[&bucket],
    )
    .unwrap();
    assert_eq!(listed, 0, "objects were created");
    let mut uploads_after = boto3_uploads(server, &bucket);
    uploads_after.sort();
    assert_eq!(uploads_after, uploads_before, "uploads changed");
}

/// Exit 2, the needle on stderr, no panic.
fn check(name: &str, o: &std::process::Output, needle: &str) {
    assert_eq!(o.status.code(), Some(2), "{name}: {}", text(o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(needle), "{name}: expected {needle:?}: {err}");
    assert!(!err.contains("panicked"), "{name}: {err}");
    eprintln!("{name}: {}", err.trim());
}
