//! `ferry cp --recursive`: a folder up to a prefix and back, checked by boto3 object by
//! object; listings that take several pages; keys that cannot be files refused before
//! anything is written; one object failing while the others land, and a failure every
//! object would meet stopping the tree; Ctrl-C in the middle of a tree, and the same command
//! finishing it. Filters and dry runs are in `tree_filters`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use ferry_s3::{ListObjectsRequest, ObjectClient as _, list_all_objects};
use ferry_testkit::{Action, HoldProxy, Rule, TestServer};

use crate::{
    boto3_uploads, copied_tree, data, expect_exit, ferry, put, rt, seaweed_bucket, sha256_hex, text,
};

const MIB: usize = 1024 * 1024;

/// Every object under `prefix`, as boto3 reads it: key to sha256 of its bytes.
pub(crate) fn boto3_tree(
    server: &TestServer,
    bucket: &str,
    prefix: &str,
) -> BTreeMap<String, String> {
    let v = ferry_testkit::boto3(
        server,
        r#"
import hashlib
b, p = sys.argv[1], sys.argv[2]
out = {}
for page in s3.get_paginator('list_objects_v2').paginate(Bucket=b, Prefix=p):
    for o in page.get('Contents', []):
        data = s3.get_object(Bucket=b, Key=o['Key'])['Body'].read()
        out[o['Key']] = hashlib.sha256(data).hexdigest()
print(json.dumps(out))
"#,
        &[bucket, prefix],
    )
    .unwrap();
    serde_json::from_value(v).unwrap()
}

/// Every file under `root`: its path below `root` (with `/`) to the sha256 of its bytes.
pub(crate) fn local_tree(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_string();
                out.insert(rel, sha256_hex(&std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Writes `files` (path below `root`, size) with distinct contents.
pub(crate) fn make_tree(root: &Path, files: &[(&str, usize)]) {
    for (i, (rel, size)) in files.iter().enumerate() {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data(*size, 900 + i as u64)).unwrap();
    }
}

#[test]
fn a_folder_goes_up_and_comes_back_identical_object_by_object() {
    let (server, client, bucket) = seaweed_bucket("tree");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    let mut files = vec![
        ("empty", 0),
        ("one", 1),
        ("a/five", 5 * MIB),
        ("a/five-and-one", 5 * MIB + 1),
        // Multipart at 5 MiB parts: takes several of the request slots.
        ("a/b/c/seventeen", 17 * MIB + 3),
        ("names/with space + plus %25 é.txt", 1000),
    ];
    let small: Vec<String> = (0..30).map(|i| format!("many/{i:02}")).collect();
    files.extend(small.iter().map(|n| (n.as_str(), 4096 + 7)));
    make_tree(&src, &files);
    // A link to a file is followed: its bytes go up under the link's name.
    std::os::unix::fs::symlink(src.join("one"), src.join("link-to-one")).unwrap();
    let mut want = local_tree(&src);
    want.insert("link-to-one".into(), want["one"].clone());

    let o = ferry(
        server,
        home.path(),
        &[
            "cp",
            "-r",
            src.to_str().unwrap(),
            &format!("s3://{bucket}/pre"),
            "--part-size",
            "5MiB",
            "--concurrency",
            "4",
            "--no-progress",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.matches("upload: ").count(), want.len() + 1, "{out}");
    assert!(
        out.contains(&format!("upload: {} objects", want.len())),
        "{out}"
    );
    let up: BTreeMap<String, String> = want
        .iter()
        .map(|(k, v)| (format!("pre/{k}"), v.clone()))
        .collect();
    assert_eq!(boto3_tree(server, &bucket, "pre/"), up);
    assert!(boto3_uploads(server, &bucket).is_empty());

    // Objects another tool wrote come down too; a folder marker is no file.
    rt().block_on(async {
        client
            .put_object(put(&bucket, "pre/other/x.bin", data(3 * MIB, 5)))
            .await
            .unwrap();
        client
            .put_object(put(&bucket, "pre/marker/", Vec::new()))
            .await
            .unwrap();
        // Beside the prefix, not under it: left alone.
        client
            .put_object(put(&bucket, "prefix-sibling", vec![1]))
            .await
            .unwrap();
    });
    want.insert("other/x.bin".into(), sha256_hex(&data(3 * MIB, 5)));
    let back = home.path().join("back");
    let proxy = HoldProxy::start(&server.endpoint, vec![]).unwrap();
    let o = ferry(
        &proxy.server(server),
        home.path(),
        &[
            "cp",
            "--recursive",
            &format!("s3://{bucket}/pre/"),
            back.to_str().unwrap(),
            "--part-size",
            "4MiB",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(local_tree(&back), want);
    // An object the listing shows fits one range (4 MiB) comes down in one GET, which brings
    // its checksum; only the three bigger ones (two of them multipart) need a HeadObject.
    let log = proxy.log();
    let heads: Vec<&String> = log.iter().filter(|l| l.starts_with("HEAD ")).collect();
    assert_eq!(heads.len(), 3, "{heads:?}");
    for big in ["a/five ", "a/five-and-one ", "a/b/c/seventeen "] {
        assert!(heads.iter().any(|l| l.contains(big)), "{big}: {heads:?}");
    }
    for small in ["many/07 ", "other/x.bin ", "one "] {
        let gets = log
            .iter()
            .filter(|l| l.starts_with("GET ") && l.contains(&format!("/pre/{small}")))
            .count();
        assert_eq!(gets, 1, "{small}: {log:?}");
    }
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = lines.last().unwrap();
    assert_eq!(summary["event"], "summary", "{lines:?}");
    assert_eq!(summary["done"], want.len());
    assert_eq!(summary["failed"], 0);
    assert_eq!(
        lines.iter().filter(|l| l["event"] == "object").count(),
        want.len()
    );
    // Nothing but the files: no partial files or journals left beside them.
    assert_eq!(
        local_tree(&back)
            .keys()
            .filter(|k| k.contains(".ferry"))
            .count(),
        0
    );
}

#[test]
fn listings_follow_continuation_tokens_and_retry_only_the_page_that_failed() {
    let (server, client, bucket) = seaweed_bucket("tree-pages");
    let keys: Vec<String> = (0..7).map(|i| format!("p/k{i}")).collect();
    rt().block_on(async {
        for k in &keys {
            client
                .put_object(put(&bucket, k, vec![7; 3]))
                .await
                .unwrap();
        }
        client.put_object(put(&bucket, "q", vec![1])).await.unwrap();
    });
    // Four pages of two; the second page's first request answers 500.
    let proxy = HoldProxy::start(
        &server.endpoint,
        vec![Rule {
            method: "GET",
            query: vec!["list-type=2"],
            nth: 2,
            action: Action::Respond(500, "InternalError", None),
        }],
    )
    .unwrap();
    let through = ferry_testkit::s3_client(&proxy.server(server)).unwrap();
    let mut retries = Vec::new();
    let listed = rt()
        .block_on(list_all_objects(
            &through,
            &ListObjectsRequest {
                bucket: bucket.clone(),
                prefix: Some("p/".into()),
                max_keys: Some(2),
                ..Default::default()
            },
            |e, n| {
                retries.push((e.code().map(str::to_string), n));
                (n < 3).then_some(Duration::from_millis(10))
            },
        ))
        .unwrap();
    let got: Vec<&str> = listed.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(got, keys.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(listed.iter().all(|o| o.size == 3 && o.etag.is_some()));
    assert_eq!(retries, [(Some("InternalError".to_string()), 1)]);
    let requests = proxy
        .log()
        .iter()
        .filter(|l| l.contains("list-type=2"))
        .count();
    assert_eq!(requests, 5, "four pages and one retry: {:?}", proxy.log());
}

/// A tree is listed as it is transferred, so a key that cannot be a file is found only when
/// its turn comes: it fails alone (exit 1, named), nothing is written outside the folder,
/// and the others land.
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

/// A file whose name cannot be a key (not UTF-8) fails alone; the others go up.
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
    let there = boto3_tree(server, &bucket, "k/");
    assert_eq!(there.keys().collect::<Vec<_>>(), ["k/a-good-one"]);
}

/// A file the walk may not read (its folder can be listed but not entered by this user) fails
/// as an object, named, with exit 1: an upload sends the others, and `sync --delete` deletes
/// nothing, so the object stored under its key stays (a dry run says the same). A link to
/// nothing is passed over.
#[test]
fn a_file_that_cannot_be_read_fails_and_sync_deletes_nothing() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    use std::os::unix::process::CommandExt as _;
    let (server, _client, bucket) = seaweed_bucket("tree-unreadable");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    make_tree(&src, &[("ok.txt", 100), ("locked/a.txt", 200)]);
    let url = format!("s3://{bucket}/p/");
    copied_tree(server, home.path(), src.to_str().unwrap(), &url);
    let stored = boto3_tree(server, &bucket, "p/");
    assert_eq!(stored.len(), 2);
    std::os::unix::fs::symlink("nowhere", src.join("gone")).unwrap();
    // Another user may enter the folders (and write journals in HOME), but only list
    // `locked`: its names can be read, not what they are.
    let mode = |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m));
    mode(home.path(), 0o777).unwrap();
    mode(&src, 0o755).unwrap();
    mode(&src.join("locked"), 0o644).unwrap();
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
    ]);
    expect_exit(&o, 1, "locked/a.txt");
    expect_exit(&o, 1, "1 of 2 objects done");
    let there = boto3_tree(server, &bucket, "q/");
    assert_eq!(there.keys().collect::<Vec<_>>(), ["q/ok.txt"]);
    mode(&src.join("locked"), 0o755).unwrap();
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
    let up = |server: &TestServer, bucket: &str| {
        let dst = format!("s3://{bucket}/t/");
        let args = [
            "cp",
            "-r",
            src.to_str().unwrap(),
            &dst,
            "--concurrency",
            "4",
        ];
        ferry(server, home.path(), &args)
    };
    // Stopped at `code`, reported `failures` times, and nothing started after it.
    let expect_stopped = |o: &std::process::Output, code: &str, failures: usize| {
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
    };

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
    // The right secret: everything goes.
    let o = up(server, &bucket);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(boto3_tree(server, &bucket, "t/").len(), 300);
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

#[test]
fn no_clobber_is_per_object_both_ways() {
    let (server, _client, bucket) = seaweed_bucket("tree-no-clobber");
    let home = tempfile::tempdir().unwrap();
    let (old, src) = (home.path().join("old"), home.path().join("src"));
    // Already there: a small object (a PutObject), a multipart one (its Complete), and one
    // over 1 MiB that goes as one PutObject.
    make_tree(
        &old,
        &[("a.bin", 1000), ("b.bin", 6 * MIB + 5), ("d.bin", 2 * MIB)],
    );
    std::fs::rename(old.join("b.bin"), old.join("c.bin")).unwrap();
    std::fs::rename(old.join("a.bin"), old.join("b.bin")).unwrap();
    make_tree(
        &src,
        &[
            ("a.bin", 2000),
            ("b.bin", 7 * MIB),
            ("c.bin", 6 * MIB + 9),
            ("d.bin", 3 * MIB),
        ],
    );
    // Through a proxy that logs each request.
    let proxy = HoldProxy::start(&server.endpoint, vec![]).unwrap();
    let up = |from: &Path, extra: &[&str]| {
        let mut args = vec!["cp", "-r", from.to_str().unwrap(), "--part-size", "5MiB"];
        let dst = format!("s3://{bucket}/t/");
        args.push(&dst);
        args.extend_from_slice(extra);
        ferry(&proxy.server(server), home.path(), &args)
    };
    let o = up(&old, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let before = boto3_tree(server, &bucket, "t/");
    proxy.reset(vec![]);
    // Left as they were, as asked: not failures (exit 0), counted, and named with -v.
    let o = up(&src, &["--no-clobber", "-v"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = crate::stdout(&o);
    assert!(
        out.contains(
            "upload: 1 object, 2000 bytes, 3 left as they were (they exist: --no-clobber)"
        ),
        "{out}"
    );
    for key in ["b.bin", "c.bin", "d.bin"] {
        let said = format!("skip: s3://{bucket}/t/{key} exists and replacing it was not allowed");
        assert!(out.contains(&said), "{out}");
    }
    // The multipart one and the one over 1 MiB were looked at first: no upload created, no
    // byte sent.
    let log = proxy.log();
    for key in ["c.bin", "d.bin"] {
        assert!(
            !log.iter()
                .any(|l| l.contains(&format!("/t/{key}?"))
                    || l.starts_with("PUT") && l.contains(key)),
            "{log:?}"
        );
        let head = format!("HEAD /{bucket}/t/{key}");
        assert!(log.iter().any(|l| l.starts_with(&head)), "{log:?}");
    }
    let after = boto3_tree(server, &bucket, "t/");
    assert_eq!(
        after["t/b.bin"], before["t/b.bin"],
        "the small object was kept"
    );
    assert_eq!(
        after["t/c.bin"], before["t/c.bin"],
        "the multipart object was kept"
    );
    assert_eq!(
        after["t/d.bin"], before["t/d.bin"],
        "the 2 MiB one was kept"
    );
    assert_eq!(
        after["t/a.bin"],
        local_tree(&src)["a.bin"],
        "the new one went up"
    );
    assert!(
        boto3_uploads(server, &bucket).is_empty(),
        "no upload left behind"
    );
    // Down: the file that exists stays as it is, the others land.
    let back = home.path().join("back");
    std::fs::create_dir_all(&back).unwrap();
    std::fs::write(back.join("b.bin"), b"mine").unwrap();
    let url = format!("s3://{bucket}/t/");
    let args = [
        "cp",
        "-r",
        &url,
        back.to_str().unwrap(),
        "--no-clobber",
        "--json",
    ];
    let o = ferry(server, home.path(), &args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let lines: Vec<serde_json::Value> = crate::stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let existed: Vec<_> = lines.iter().filter(|l| l["event"] == "existed").collect();
    assert_eq!(existed.len(), 1, "{lines:?}");
    assert_eq!(existed[0]["file"], back.join("b.bin").to_str().unwrap());
    let summary = lines.last().unwrap();
    assert_eq!(
        (&summary["done"], &summary["existed"], &summary["failed"]),
        (&3.into(), &1.into(), &0.into()),
        "{summary}"
    );
    assert_eq!(std::fs::read(back.join("b.bin")).unwrap(), b"mine");
    let got = local_tree(&back);
    assert_eq!(got["a.bin"], after["t/a.bin"]);
    assert_eq!(got["c.bin"], after["t/c.bin"]);
}

fn tree_upload(server: &TestServer, home: &Path, endpoint: &str, src: &Path, dst: &str) -> Command {
    let mut c = crate::ferry_command(server.env(), home);
    c.args(["cp", "-r", src.to_str().unwrap(), dst])
        .args(["--part-size", "5MiB", "--concurrency", "2", "--no-progress"])
        .env("AWS_ENDPOINT_URL", endpoint)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

#[test]
fn ctrl_c_in_a_tree_keeps_the_upload_in_flight_and_the_same_command_finishes() {
    let (server, _client, bucket) = seaweed_bucket("tree-ctrl-c");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    // Three parts each; with two slots, one file at a time.
    make_tree(
        &src,
        &[
            ("1.bin", 12 * MIB),
            ("2.bin", 12 * MIB),
            ("3.bin", 12 * MIB),
        ],
    );
    let want = local_tree(&src);
    // The fourth part sent is in the second file: held there.
    let proxy = HoldProxy::start(
        &server.endpoint,
        vec![Rule {
            method: "PUT",
            query: vec!["partNumber="],
            nth: 4,
            action: Action::Hold,
        }],
    )
    .unwrap();
    let dst = format!("s3://{bucket}/t");
    let child = tree_upload(server, home.path(), &proxy.endpoint, &src, &dst)
        .spawn()
        .unwrap();
    assert!(
        proxy.wait_triggered(Duration::from_secs(60)),
        "part 4 never came: {:?}",
        proxy.log()
    );
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let o = child.wait_with_output().unwrap();
    expect_exit(&o, 130, "1 kept: run the same command again");
    let there = boto3_tree(server, &bucket, "t/");
    assert_eq!(
        there.keys().collect::<Vec<_>>(),
        ["t/1.bin"],
        "{}",
        text(&o)
    );
    assert_eq!(
        boto3_uploads(server, &bucket).len(),
        1,
        "the second is kept"
    );

    proxy.reset(vec![]);
    let o = tree_upload(server, home.path(), &proxy.endpoint, &src, &dst)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let up: BTreeMap<String, String> = want
        .iter()
        .map(|(k, v)| (format!("t/{k}"), v.clone()))
        .collect();
    assert_eq!(boto3_tree(server, &bucket, "t/"), up);
    assert!(boto3_uploads(server, &bucket).is_empty());
    let journals: Vec<PathBuf> = std::fs::read_dir(home.path().join(".local/state/ferry"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    assert!(journals.is_empty(), "journals left: {journals:?}");
}

#[test]
fn a_listing_that_meets_a_server_error_is_asked_for_again() {
    let (server, client, bucket) = seaweed_bucket("tree-list-retry");
    let home = tempfile::tempdir().unwrap();
    rt().block_on(async {
        for k in ["p/a", "p/b/c"] {
            client
                .put_object(put(&bucket, k, data(100, 3)))
                .await
                .unwrap();
        }
    });
    let proxy = HoldProxy::start(
        &server.endpoint,
        vec![Rule {
            method: "GET",
            query: vec!["list-type=2"],
            nth: 1,
            action: Action::Respond(503, "SlowDown", None),
        }],
    )
    .unwrap();
    let back = home.path().join("back");
    let o = crate::ferry_command(server.env(), home.path())
        .args([
            "cp",
            "-r",
            &format!("s3://{bucket}/p"),
            back.to_str().unwrap(),
        ])
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let listings = proxy
        .log()
        .iter()
        .filter(|l| l.contains("list-type=2"))
        .count();
    assert_eq!(listings, 2, "{:?}", proxy.log());
    assert_eq!(std::fs::read(back.join("a")).unwrap(), data(100, 3));
    assert_eq!(std::fs::read(back.join("b/c")).unwrap(), data(100, 3));
}
