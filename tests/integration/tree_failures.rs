//! `ferry cp --recursive` when some of a tree cannot go: keys that cannot be files and file
//! names that cannot be keys fail alone, and nothing escapes the folder; a file that cannot
//! be read fails (and a sync deletes nothing for it); what is no file is passed over, named
//! and counted; one object failing leaves the others landed (exit 1); a missing bucket or a
//! wrong secret stops the tree at once; a prefix given as an object is said to be one.

use std::path::Path;
use std::process::Command;

use ferry_s3::ObjectClient as _;
use ferry_testkit::TestServer;

use crate::tree::{boto3_tree, local_tree, make_tree};
use crate::{copied_tree, data, expect_exit, ferry, put, rt, seaweed_bucket, text};

#[test]
fn keys_that_cannot_be_files_fail_alone_and_nothing_escapes_the_folder() {
    // moto keeps keys exactly as given, `..` segments included (SeaweedFS, a file system,
    // cannot hold them).
    let server = ferry_testkit::moto();
    let client = ferry_testkit::s3_client(server).unwrap();
    let bucket = ferry_testkit::unique_bucket("tree-evil");
    let home = tempfile::tempdir().unwrap();
    rt().block_on(async {
        client
            .create_bucket(&ferry_s3::CreateBucketRequest {
                bucket: bucket.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        client
            .put_object(put(&bucket, "p/ok", vec![1]))
            .await
            .unwrap();
    });
    // ferry's own client refuses to send such a key; boto3 sends it as it is.
    let listed = ferry_testkit::boto3(
        server,
        "s3.put_object(Bucket=sys.argv[1], Key='p/../../escape', Body=b'x')\n\
         print(json.dumps([o['Key'] for o in s3.list_objects_v2(Bucket=sys.argv[1])['Contents']]))",
        &[&bucket],
    )
    .unwrap();
    assert!(
        listed.to_string().contains("p/../../escape"),
        "moto kept the key: {listed}"
    );
    let back = home.path().join("back");
    let src = format!("s3://{bucket}/p");
    let download = || {
        ferry(
            server,
            home.path(),
            &["cp", "-r", &src, back.to_str().unwrap()],
        )
    };
    let o = download();
    expect_exit(&o, 1, "cannot be a file name");
    expect_exit(&o, 1, "1 of 2 objects done");
    assert_eq!(std::fs::read(back.join("ok")).unwrap(), vec![1]);
    assert!(!home.path().join("escape").exists(), "nothing escaped");
    assert!(!back.join("escape").exists());

    // A key that is also another key's folder: the first listed is written, the second fails.
    ferry_testkit::boto3(
        server,
        "s3.delete_object(Bucket=sys.argv[1], Key='p/../../escape')\nprint('{}')",
        &[&bucket],
    )
    .unwrap();
    rt().block_on(async {
        client
            .put_object(put(&bucket, "p/a", vec![3]))
            .await
            .unwrap();
        client
            .put_object(put(&bucket, "p/a/b", vec![4]))
            .await
            .unwrap();
    });
    std::fs::remove_dir_all(&back).unwrap();
    let o = download();
    expect_exit(&o, 1, "would be a file and a folder");
    expect_exit(&o, 1, &format!("s3://{bucket}/p/a/b"));
    assert_eq!(std::fs::read(back.join("a")).unwrap(), vec![3]);
    assert_eq!(std::fs::read(back.join("ok")).unwrap(), vec![1]);
}

/// A file whose name cannot be a key (not UTF-8) fails alone, named with the key it would
/// have; the others go up. With `--json` its event is a line like any other (the report
/// panicked on such a path, and the lines after it were lost).
#[test]
fn a_file_name_that_cannot_be_a_key_fails_alone() {
    let (server, _client, bucket) = seaweed_bucket("tree-latin1");
    let home = tempfile::tempdir().unwrap();
    let latin1 = home.path().join("latin1");
    std::fs::create_dir_all(&latin1).unwrap();
    std::fs::write(latin1.join("a-good-one"), b"x").unwrap();
    std::fs::write(
        latin1.join(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b"caf\xe9")),
        b"y",
    )
    .unwrap();
    let o = ferry(
        server,
        home.path(),
        &[
            "cp",
            "-r",
            latin1.to_str().unwrap(),
            &format!("s3://{bucket}/k"),
        ],
    );
    expect_exit(&o, 1, "the name is not UTF-8");
    expect_exit(&o, 1, "1 of 2 objects done");
    expect_exit(&o, 1, &format!("s3://{bucket}/k/caf\u{fffd} ("));
    let there = boto3_tree(server, &bucket, "k/");
    assert_eq!(there.keys().collect::<Vec<_>>(), ["k/a-good-one"]);
    let o = ferry(
        server,
        home.path(),
        &[
            "cp",
            "-r",
            "--json",
            latin1.to_str().unwrap(),
            &format!("s3://{bucket}/j"),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(!text(&o).contains("panicked"), "{}", text(&o));
    let events: Vec<serde_json::Value> = crate::stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let failed: Vec<_> = events
        .iter()
        .filter(|e| e["event"] == "object" && e["ok"] == false)
        .collect();
    assert_eq!(failed.len(), 1, "{events:?}");
    assert!(
        failed[0]["file"]
            .as_str()
            .unwrap()
            .ends_with("latin1/caf\u{fffd}"),
        "{events:?}"
    );
    assert_eq!(failed[0]["key"], "j/caf\u{fffd}");
    let summary = events.iter().find(|e| e["event"] == "summary").unwrap();
    assert_eq!(
        (&summary["done"], &summary["failed"]),
        (&1.into(), &1.into())
    );
}

/// A file the walk may not read (its folder can be listed but not entered by this user) fails
/// as an object, named, with exit 1: an upload sends the others, and `sync --delete` deletes
/// nothing, so the object stored under its key stays (a dry run says the same). A folder that
/// cannot be listed fails so too, named by its key (it was named by the bucket's URL), and no
/// filter leaves it out. A link to nothing is passed over.
#[test]
fn a_file_that_cannot_be_read_fails_and_sync_deletes_nothing() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    use std::os::unix::process::CommandExt as _;
    let (server, _client, bucket) = seaweed_bucket("tree-unreadable");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    make_tree(
        &src,
        &[("ok.txt", 100), ("locked/a.txt", 200), ("shut/b.txt", 300)],
    );
    let url = format!("s3://{bucket}/p/");
    copied_tree(server, home.path(), src.to_str().unwrap(), &url);
    let stored = boto3_tree(server, &bucket, "p/");
    assert_eq!(stored.len(), 3);
    std::os::unix::fs::symlink("nowhere", src.join("gone")).unwrap();
    // Another user may enter the folders (and write journals in HOME), but only list
    // `locked`: its names can be read, not what they are.
    let mode = |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m));
    mode(home.path(), 0o777).unwrap();
    mode(&src, 0o755).unwrap();
    mode(&src.join("locked"), 0o644).unwrap();
    mode(&src.join("shut"), 0o000).unwrap();
    // Root reads everything: run as nobody then, from a copy of the binary that nobody
    // may run wherever the build is.
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    let program = home.path().join("ferry");
    std::fs::copy(env!("CARGO_BIN_EXE_ferry"), &program).unwrap();
    mode(&program, 0o755).unwrap();
    let as_user = |args: &[&str]| {
        let mut c = crate::command_at(&program, server.env(), home.path());
        if root {
            c.uid(65534).gid(65534);
        }
        c.args(args).output().expect("running ferry")
    };
    // A dry run says so too, before anything is done.
    let o = as_user(&["sync", "--delete", "--dry-run", src.to_str().unwrap(), &url]);
    expect_exit(&o, 1, "locked/a.txt");
    expect_exit(&o, 1, "nothing was deleted");
    let o = as_user(&["sync", "--delete", src.to_str().unwrap(), &url]);
    expect_exit(&o, 1, "locked/a.txt");
    expect_exit(&o, 1, "nothing was deleted");
    assert_eq!(boto3_tree(server, &bucket, "p/"), stored, "{}", text(&o));
    let o = as_user(&[
        "cp",
        "-r",
        src.to_str().unwrap(),
        &format!("s3://{bucket}/q/"),
        "--exclude",
        "*",
        "--include",
        "*.txt",
    ]);
    expect_exit(&o, 1, "locked/a.txt");
    let shut = format!(
        "s3://{bucket}/q/shut/ ({}/shut): cannot read",
        src.display()
    );
    expect_exit(&o, 1, &shut);
    expect_exit(&o, 1, "1 of 3 objects done");
    let there = boto3_tree(server, &bucket, "q/");
    assert_eq!(there.keys().collect::<Vec<_>>(), ["q/ok.txt"]);
    mode(&src.join("locked"), 0o755).unwrap();
    mode(&src.join("shut"), 0o755).unwrap();
}

/// What is no file to send or write (a link to nothing, a pipe, a key ending in / that holds
/// bytes) is passed over, named with why, and counted in the summary, both ways; the tree
/// exits 0. One the filters leave out is not named. A key's control characters are shown
/// escaped.
#[test]
fn what_is_no_file_is_passed_over_named_and_counted() {
    let (server, _client, bucket) = seaweed_bucket("tree-passed-over");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    make_tree(&src, &[("ok.txt", 100)]);
    std::os::unix::fs::symlink("nowhere", src.join("gone")).unwrap();
    std::os::unix::fs::symlink("nowhere", src.join("left-out")).unwrap();
    let made = Command::new("mkfifo")
        .arg(src.join("pipe"))
        .status()
        .unwrap();
    assert!(made.success());
    let src_arg = src.to_str().unwrap();
    let url = format!("s3://{bucket}/p/");
    let up = ["cp", "-r", src_arg, &url, "--exclude", "left-*"];
    let o = ferry(server, home.path(), &up);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let gone = format!("ferry: warning: skipping {src_arg}/gone: a link to nothing (");
    let pipe = format!("ferry: warning: skipping {src_arg}/pipe: not a regular file");
    assert!(err.contains(&gone) && err.contains(&pipe), "{}", text(&o));
    assert!(!err.contains("left-out"), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("upload: 1 object, 100 bytes, 2 passed over in"),
        "{}",
        text(&o)
    );
    let stored = boto3_tree(server, &bucket, "p/");
    assert_eq!(stored.keys().collect::<Vec<_>>(), ["p/ok.txt"]);

    // The same through --json: an event each, and the count in the summary.
    let o = ferry(server, home.path(), &[&up[..], &["--json"]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut passed: Vec<String> = lines
        .iter()
        .filter(|l| l["event"] == "passed_over")
        .map(|l| l["what"].as_str().unwrap().to_string())
        .collect();
    passed.sort();
    assert_eq!(
        passed,
        [format!("{src_arg}/gone"), format!("{src_arg}/pipe")]
    );
    let summary = lines.iter().find(|l| l["event"] == "summary").unwrap();
    assert_eq!(summary["passed_over"], 2, "{summary}");

    // Down: a key ending in / that holds bytes cannot be a file; a sync says so too. (moto
    // keeps such an object; SeaweedFS makes it an empty folder.)
    let moto = ferry_testkit::moto();
    let bucket = ferry_testkit::unique_bucket("tree-passed-over");
    let client = ferry_testkit::s3_client(moto).unwrap();
    rt().block_on(async {
        let made = ferry_s3::CreateBucketRequest {
            bucket: bucket.clone(),
            ..Default::default()
        };
        client.create_bucket(&made).await.unwrap();
        let keys = [
            ("p/ok.txt", vec![7; 100]),
            ("p/dir/", vec![1, 2, 3]),
            ("p/esc\u{1b}[2Jx", vec![9]),
        ];
        for (key, body) in keys {
            client.put_object(put(&bucket, key, body)).await.unwrap();
        }
    });
    let back = home.path().join("back");
    let url = format!("s3://{bucket}/p/");
    let o = ferry(moto, home.path(), &["sync", &url, back.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let marker = format!(
        "ferry: warning: skipping s3://{bucket}/p/dir/: a key ending in / cannot be a file (3 bytes)"
    );
    assert!(err.contains(&marker), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("0 failed, 1 passed over in"), "{}", text(&o));
    // A name's control characters reach the terminal escaped; the file keeps its name.
    assert!(out.contains("/p/esc\\u{1b}[2Jx to "), "{}", text(&o));
    assert!(!text(&o).contains('\u{1b}'), "{}", text(&o));
    assert_eq!(
        local_tree(&back).keys().collect::<Vec<_>>(),
        ["esc\u{1b}[2Jx", "ok.txt"]
    );
}

#[test]
fn one_object_failing_leaves_the_others_landed_and_exits_1() {
    let (server, _client, bucket) = seaweed_bucket("tree-fail");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    make_tree(
        &src,
        &[("a.bin", 1000), ("blocked/x.bin", 2000), ("c.bin", 3000)],
    );
    let url = format!("s3://{bucket}/t/");
    copied_tree(server, home.path(), src.to_str().unwrap(), &url);
    // Where the folder `blocked` must go, a file stands.
    let back = home.path().join("back");
    std::fs::create_dir_all(&back).unwrap();
    std::fs::write(back.join("blocked"), b"mine").unwrap();
    let o = ferry(
        server,
        home.path(),
        &["cp", "-r", &url, back.to_str().unwrap()],
    );
    expect_exit(&o, 1, "1 object failed");
    expect_exit(&o, 1, &format!("s3://{bucket}/t/blocked/x.bin"));
    expect_exit(&o, 1, "2 of 3 objects done");
    assert_eq!(std::fs::read(back.join("blocked")).unwrap(), b"mine");
    assert_eq!(std::fs::read(back.join("a.bin")).unwrap(), data(1000, 900));
    assert_eq!(std::fs::read(back.join("c.bin")).unwrap(), data(3000, 902));
}

/// A failure every object would meet stops a tree at once and is reported once, nothing
/// stored: a missing bucket (on moto: SeaweedFS makes the bucket a PUT names), and a wrong
/// secret key (SeaweedFS's `SignatureDoesNotMatch`, which stops the run once two objects met
/// it and none succeeded). A single download from a missing bucket says the bucket is
/// missing, where a HEAD's bare 404 cannot.
#[test]
fn a_missing_bucket_or_a_wrong_secret_stops_a_tree_at_once() {
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    let names: Vec<String> = (0..300).map(|i| format!("d{}/f{i:03}", i % 3)).collect();
    let files: Vec<(&str, usize)> = names.iter().map(|n| (n.as_str(), 100)).collect();
    make_tree(&src, &files);
    let up_with = |server: &TestServer, bucket: &str, extra: &[&str]| {
        up_by_four(
            server,
            home.path(),
            &src,
            &format!("s3://{bucket}/t/"),
            extra,
        )
    };
    let up = |server: &TestServer, bucket: &str| up_with(server, bucket, &[]);

    let moto = ferry_testkit::moto();
    let missing = ferry_testkit::unique_bucket("tree-gone");
    expect_stopped(&up(moto, &missing), "NoSuchBucket", 1);
    let o = ferry(
        moto,
        home.path(),
        &["cp", &format!("s3://{missing}/k"), "k.bin"],
    );
    expect_exit(&o, 1, "NoSuchBucket");
    expect_exit(&o, 1, "check the bucket name, or create the bucket first");
    assert!(!home.path().join("k.bin").exists());

    let (server, _client, bucket) = seaweed_bucket("tree-wrong-secret");
    let mut wrong = server.clone();
    wrong.secret_key = "not-the-secret".into();
    expect_stopped(&up(&wrong, &bucket), "SignatureDoesNotMatch", 2);
    assert!(boto3_tree(server, &bucket, "t/").is_empty());
    // A storage class the server does not take: every object asks for it alike.
    let o = up_with(server, &bucket, &["--storage-class", "COLDEST"]);
    expect_stopped(&o, "InvalidStorageClass", 1);
    expect_exit(
        &o,
        1,
        "S3's storage classes are STANDARD, REDUCED_REDUNDANCY",
    );
    assert!(boto3_tree(server, &bucket, "t/").is_empty());
    // The right secret: everything goes.
    let o = up(server, &bucket);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(boto3_tree(server, &bucket, "t/").len(), 300);
}

/// `cp -r src dst --concurrency 4` and `extra`: four objects at a time, so that a run stopped
/// at a failure has started few.
fn up_by_four(
    server: &TestServer,
    home: &Path,
    src: &Path,
    dst: &str,
    extra: &[&str],
) -> std::process::Output {
    let args = ["cp", "-r", src.to_str().unwrap(), dst, "--concurrency", "4"];
    ferry(server, home, &[&args[..], extra].concat())
}

/// Asserts that a tree run with `--concurrency 4` stopped at `code`, reported it `failures`
/// times, and started nothing after it.
fn expect_stopped(o: &std::process::Output, code: &str, failures: usize) {
    expect_exit(o, 1, code);
    expect_exit(
        o,
        1,
        "stopped at the failure above, which every other object would meet too",
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.matches("ferry: failed:").count(), failures, "{err}");
    let started: u64 = err
        .split(" of the ")
        .nth(1)
        .and_then(|r| r.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("a summary: {err}"));
    assert!(started < 20, "nothing started after the failure: {err}");
}

/// A bucket with ACLs off (Object Ownership "bucket owner enforced", as S3 makes every bucket
/// since April 2023; the fault proxy refuses as S3 does, SeaweedFS has no such setting): a
/// tree asking for an ACL stops at the first refusal, which says why; the canned
/// bucket-owner-full-control, which such a bucket takes, goes through.
#[test]
fn an_acl_in_a_bucket_with_acls_off_stops_a_tree_at_once() {
    let (server, _client, bucket) = seaweed_bucket("acls-off");
    let proxy = ferry_testkit::HoldProxy::start(&server.endpoint, vec![]).unwrap();
    proxy.set_acls_off(true);
    let behind = proxy.server(server);
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    let names: Vec<String> = (0..100).map(|i| format!("f{i:03}")).collect();
    let files: Vec<(&str, usize)> = names.iter().map(|n| (n.as_str(), 100)).collect();
    make_tree(&src, &files);
    let dst = format!("s3://{bucket}/t/");
    let up = |acl: &str| up_by_four(&behind, home.path(), &src, &dst, &["--acl", acl]);
    let o = up("public-read");
    expect_stopped(&o, "AccessControlListNotSupported", 1);
    expect_exit(&o, 1, "ACLs are off");
    assert!(boto3_tree(server, &bucket, "t/").is_empty());
    let o = up("bucket-owner-full-control");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(boto3_tree(server, &bucket, "t/").len(), 100);
}

/// One of S3's storage classes given in lower case is sent as S3 spells it (S3 refuses any
/// other spelling), for a file and a tree alike; boto3 reads the class back.
#[test]
fn a_storage_class_in_lower_case_is_sent_as_s3_spells_it() {
    let (server, _client, bucket) = seaweed_bucket("class-case");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    make_tree(&src, &[("a", 100), ("d/b", 200)]);
    let dst = format!("s3://{bucket}/t/");
    let o = ferry(
        server,
        home.path(),
        &[
            "cp",
            "-r",
            src.to_str().unwrap(),
            &dst,
            "--storage-class",
            "standard_ia",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let file = src.join("a");
    let one = format!("s3://{bucket}/one");
    let o = ferry(
        server,
        home.path(),
        &[
            "cp",
            file.to_str().unwrap(),
            &one,
            "--storage-class",
            "Onezone_IA",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let classes = ferry_testkit::boto3(
        server,
        "print(json.dumps({k: s3.head_object(Bucket=sys.argv[1], Key=k).get('StorageClass') for k in sys.argv[2:]}))",
        &[&bucket, "t/a", "t/d/b", "one"],
    )
    .unwrap();
    assert_eq!(
        classes,
        serde_json::json!({"t/a": "STANDARD_IA", "t/d/b": "STANDARD_IA", "one": "ONEZONE_IA"})
    );
}

/// A prefix given where an object is wanted (no trailing `/`, no `--recursive`) is named a
/// prefix, for a download and a copy alike; a key that is simply missing is not.
#[test]
fn a_prefix_given_as_an_object_is_said_to_be_one() {
    let (server, client, bucket) = seaweed_bucket("tree-prefix");
    rt().block_on(client.put_object(put(&bucket, "a/b/c.bin", vec![7; 10])))
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let prefix = format!("s3://{bucket}/a/b");
    let said = format!("objects lie under {prefix}/: a prefix, to copy recursively");
    let o = ferry(server, home.path(), &["cp", &prefix, "x.bin"]);
    expect_exit(&o, 1, &said);
    let o = ferry(
        server,
        home.path(),
        &["cp", &prefix, &format!("s3://{bucket}/y")],
    );
    expect_exit(&o, 1, &said);
    let missing = format!("s3://{bucket}/a/nothing");
    let o = ferry(server, home.path(), &["cp", &missing, "x.bin"]);
    expect_exit(&o, 1, &format!("{missing} does not exist"));
    assert!(!text(&o).contains("a prefix"), "{}", text(&o));
    assert!(!home.path().join("x.bin").exists());
}
