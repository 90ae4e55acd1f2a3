//! `ferry cp --recursive`: a folder up to a prefix and back, checked by boto3 object by
//! object; listings that take several pages, and a page that meets a server error asked for
//! again; `--no-clobber` per object both ways; a slow reader of the output that loses no
//! line; Ctrl-C in the middle of a tree, and the same command finishing it. What cannot go (and what the rest does then) is in `tree_failures`,
//! filters and dry runs in `tree_filters`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use ferry_s3::{ListObjectsRequest, ObjectClient as _, list_all_objects};
use ferry_testkit::{Action, HoldProxy, Rule, TestServer};

use crate::{
    boto3_keys, boto3_uploads, data, expect_exit, ferry, put, rt, seaweed_bucket, sha256_hex, text,
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

/// `ferry cp *.iso s3://bucket/prefix`: several files of one folder (a shell's glob) go up
/// together, each as the prefix and its name, and nothing else of the folder; with -r, a
/// folder among them goes whole. Sources in two folders, a folder without -r, and several
/// sources to a local destination are refused before anything is sent.
#[test]
fn several_files_of_one_folder_go_up_together_under_the_prefix() {
    let (server, _client, bucket) = seaweed_bucket("tree-glob");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    make_tree(
        &src,
        &[
            ("a.iso", 1000),
            ("b.iso", 6 * MIB + 5),
            ("c.txt", 10),
            ("sub/s.iso", 5),
            ("other/o.txt", 7),
        ],
    );
    let here = local_tree(&src);
    let path = |rel: &str| src.join(rel).to_str().unwrap().to_string();
    let cp = |args: &[&str]| {
        let o = ferry(server, home.path(), &[&["cp"][..], args].concat());
        (o.status.success(), o)
    };
    let (ok, o) = cp(&[
        &path("a.iso"),
        &path("b.iso"),
        &format!("s3://{bucket}/isos"),
    ]);
    assert!(ok, "{}", text(&o));
    let mut want = BTreeMap::new();
    for name in ["a.iso", "b.iso"] {
        want.insert(format!("isos/{name}"), here[name].clone());
    }
    assert_eq!(boto3_tree(server, &bucket, "isos/"), want);
    let mix = format!("s3://{bucket}/mix/");
    let (ok, o) = cp(&["-r", &path("c.txt"), &path("sub"), &mix]);
    assert!(ok, "{}", text(&o));
    let mut want = BTreeMap::new();
    for name in ["c.txt", "sub/s.iso"] {
        want.insert(format!("mix/{name}"), here[name].clone());
    }
    assert_eq!(boto3_tree(server, &bucket, "mix/"), want);
    for (args, says) in [
        (vec![path("a.iso"), path("sub"), mix.clone()], "give -r"),
        (
            vec![
                path("a.iso"),
                path("b.iso"),
                mix.clone(),
                "--plan".into(),
                format!("{mix}p.ferry-plan"),
                "--shard".into(),
                "0/2".into(),
            ],
            "--plan is for one object",
        ),
        (
            vec![path("a.iso"), path("sub/s.iso"), mix.clone()],
            "different folders",
        ),
        (
            vec![
                format!("{mix}c.txt"),
                format!("{mix}sub/s.iso"),
                path("down"),
            ],
            "several sources are files of one folder",
        ),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (_, o) = cp(&args);
        expect_exit(&o, 2, says);
    }
    assert_eq!(boto3_tree(server, &bucket, "mix/").len(), 2);
    assert!(!src.join("down").exists());
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

/// A script that reads `cp -r --json` slowly (here: not at all for 3 s, while 2,000 objects go
/// up) gets every object's event: the tree waits for the output rather than dropping lines (it
/// dropped about a fifth of them).
#[test]
fn a_slow_reader_of_the_output_gets_every_object() {
    let (server, _client, bucket) = seaweed_bucket("slow-reader");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    for i in 0..2_000 {
        let p = src.join(format!("d{}/f{i:04}", i / 500));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }
    let dst = format!("s3://{bucket}/t");
    let mut c = crate::ferry_command(server.env(), home.path());
    c.args(["cp", "-r", "--json", src.to_str().unwrap(), &dst])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let objects = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.contains(r#""event":"object""#))
        .count();
    assert_eq!(objects, 2_000, "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("not shown"));
    assert_eq!(boto3_keys(server, &bucket).len(), 2_000);
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

/// `ferry ARGS` run by a shell that first sets its limit on open files (`ulimit LIMIT`).
fn ferry_under_ulimit(
    server: &TestServer,
    home: &Path,
    limit: &str,
    args: &[&str],
) -> std::process::Output {
    crate::command_at(Path::new("/bin/sh"), server.env(), home)
        .arg("-c")
        .arg(format!("ulimit {limit} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .output()
        .expect("running ferry under ulimit")
}

#[test]
fn a_tree_goes_both_ways_under_a_low_open_file_limit() {
    let (server, _, bucket) = seaweed_bucket("nofile");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    let names: Vec<String> = (0..600).map(|i| format!("f{i:03}")).collect();
    let files: Vec<(&str, usize)> = names.iter().map(|n| (n.as_str(), 1024)).collect();
    make_tree(&src, &files);
    let want = local_tree(&src);
    let prefix = format!("s3://{bucket}/up/");

    // macOS starts programs at a soft limit of 256, under 128 requests in flight's needs:
    // ferry raises it toward the hard limit, and every object goes.
    let o = ferry_under_ulimit(
        server,
        home.path(),
        "-S -n 256",
        &["cp", "-r", "-q", src.to_str().unwrap(), &prefix],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("warning"), "{}", text(&o));
    let up: BTreeMap<String, String> = want
        .iter()
        .map(|(k, v)| (format!("up/{k}"), v.clone()))
        .collect();
    assert_eq!(boto3_tree(server, &bucket, "up/"), up);

    // Both limits at 200: ferry cannot raise it, so it runs fewer requests at a time and
    // says why.
    let down = home.path().join("down");
    let o = ferry_under_ulimit(
        server,
        home.path(),
        "-n 200",
        &["cp", "-r", "-q", &prefix, down.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("may open 200 files at most (ulimit -n)") && err.contains("45 at a time"),
        "{err}"
    );
    assert_eq!(local_tree(&down), want);
}
