//! `ferry sync` on SeaweedFS, through the binary, every request seen by the fault proxy and
//! every result read back by boto3: a second sync moves nothing; one changed file moves
//! alone; times come back down; --delete with --dry-run and --max-delete, never after a
//! failed listing, and from an empty source only under a limit, thousands in batches each
//! shown; filters; an interrupted sync moves only what was left.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime};

use ferry_testkit::{Action, HoldProxy, Rule, TestServer};

use crate::{boto3_keys, data, ferry, seaweed_bucket, stored, text};

/// A folder of files: `name -> size`.
pub(crate) fn tree(root: &Path, files: &[(&str, usize)]) {
    for (i, (name, size)) in files.iter().enumerate() {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data(*size, i as u64)).unwrap();
    }
}

pub(crate) fn sync(server: &TestServer, home: &Path, args: &[&str]) -> Output {
    let mut all = vec!["sync"];
    all.extend(args);
    ferry(server, home, &all)
}

/// `ferry sync ARGS` through a fresh fault proxy, which keeps what it saw.
pub(crate) fn sync_seen(server: &TestServer, home: &Path, args: &[&str]) -> (Output, HoldProxy) {
    crate::ferry_seen(server, home, &[&["sync"], args].concat())
}

/// Requests the proxy saw that move object bytes or change the bucket (not listings, not
/// HEADs).
pub(crate) fn writes(proxy: &HoldProxy) -> Vec<String> {
    proxy
        .log()
        .into_iter()
        .filter(|l| l.starts_with("PUT") || l.starts_with("POST") || l.starts_with("DELETE"))
        .collect()
}

/// GETs of object bodies (not listings, not attributes).
pub(crate) fn gets(proxy: &HoldProxy) -> Vec<String> {
    proxy
        .log()
        .into_iter()
        .filter(|l| l.starts_with("GET") && !l.contains("list-type") && !l.contains("?attributes"))
        .collect()
}

pub(crate) const FILES: [(&str, usize); 5] = [
    ("a.txt", 100),
    ("b/c.bin", 70_000),
    ("b/d e.txt", 5),
    ("b-c.txt", 9),
    ("z/big.bin", 6 << 20),
];

#[test]
fn a_second_sync_moves_nothing_and_a_changed_file_moves_alone() {
    let (server, _client, bucket) = seaweed_bucket("sync-up");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    tree(&src, &FILES);
    let dst = format!("s3://{bucket}/mirror");
    let o = sync(server, home.path(), &[src.to_str().unwrap(), &dst]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("sync: 5 uploaded"),
        "{}",
        text(&o)
    );
    let mut want: Vec<String> = FILES.iter().map(|(n, _)| format!("mirror/{n}")).collect();
    want.sort();
    assert_eq!(boto3_keys(server, &bucket), want);

    // Again, through the proxy: listing only.
    let (o, proxy) = sync_seen(server, home.path(), &[src.to_str().unwrap(), &dst, "-v"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(writes(&proxy).is_empty(), "{:?}", proxy.log());
    assert!(
        !proxy.log().iter().any(|l| l.starts_with("HEAD")),
        "{:?}",
        proxy.log()
    );
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        said.contains("sync: 0 uploaded (0 bytes), 5 unchanged"),
        "{said}"
    );
    assert!(said.contains("skip: "), "-v shows skips: {said}");

    // One file changes (same size, a later time): it alone moves.
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(src.join("b/d e.txt"), b"EDITS").unwrap();
    let (o, proxy) = sync_seen(server, home.path(), &[src.to_str().unwrap(), &dst]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let w = writes(&proxy);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("/mirror/b/d%20e.txt"), "{w:?}");
    let got = ferry_testkit::boto3(
        server,
        "print(json.dumps(s3.get_object(Bucket=sys.argv[1], Key='mirror/b/d e.txt')['Body'].read().decode()))",
        &[&bucket],
    )
    .unwrap();
    assert_eq!(got, "EDITS");
}

/// Folders whose names are not UTF-8 sync up and down (their files' keys are UTF-8); an
/// s3:// side that is not UTF-8 is refused. (clap refused such an argument whole.)
#[test]
fn folders_whose_names_are_not_utf8_sync_both_ways() {
    use std::os::unix::ffi::OsStrExt as _;
    let (server, _client, bucket) = seaweed_bucket("sync-latin1");
    let home = tempfile::tempdir().unwrap();
    let up = home
        .path()
        .join(std::ffi::OsStr::from_bytes(b"fotos-\xe9t\xe9"));
    tree(&up, &[("a.jpg", 3000), ("sub/b.jpg", 10)]);
    let down = home
        .path()
        .join(std::ffi::OsStr::from_bytes(b"copie-\xe9t\xe9"));
    let url = format!("s3://{bucket}/p");
    for (from, to) in [
        (up.as_os_str(), url.as_ref()),
        (url.as_ref(), down.as_os_str()),
    ] {
        let o = crate::ferry_command(server.env(), home.path())
            .arg("sync")
            .arg(from)
            .arg(to)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
    }
    assert_eq!(boto3_keys(server, &bucket), ["p/a.jpg", "p/sub/b.jpg"]);
    for name in ["a.jpg", "sub/b.jpg"] {
        assert_eq!(
            std::fs::read(down.join(name)).unwrap(),
            std::fs::read(up.join(name)).unwrap()
        );
    }
    let o = crate::ferry_command(server.env(), home.path())
        .arg("sync")
        .arg(&up)
        .arg(std::ffi::OsStr::from_bytes(b"s3://b/\xff"))
        .output()
        .unwrap();
    crate::expect_exit(
        &o,
        2,
        "is not UTF-8 (shown with U+FFFD where it is not), and a key must be",
    );
}

#[test]
fn a_file_dated_in_the_future_is_sent_once() {
    let (server, _client, bucket) = seaweed_bucket("sync-future");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    tree(&src, &FILES[..2]);
    let later = SystemTime::now() + Duration::from_secs(365 * 24 * 3600);
    let future = src.join(FILES[0].0);
    std::fs::File::options()
        .write(true)
        .open(&future)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let dst = format!("s3://{bucket}/f");
    let s = src.to_str().unwrap();
    assert_eq!(sync(server, home.path(), &[s, &dst]).status.code(), Some(0));
    // Its object is older than the file, but stores the file's time: nothing is sent again,
    // after one HeadObject for that pair alone.
    let (o, proxy) = sync_seen(server, home.path(), &[s, &dst]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(writes(&proxy).is_empty(), "{:?}", proxy.log());
    let heads: Vec<String> = proxy
        .log()
        .into_iter()
        .filter(|l| l.starts_with("HEAD"))
        .collect();
    assert_eq!(heads.len(), 1, "{heads:?}");
    // Changed, same size, the same future time given again: a different time is stored, so
    // it goes.
    std::fs::write(&future, data(FILES[0].1, 99)).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&future)
        .unwrap()
        .set_modified(later + Duration::from_secs(60))
        .unwrap();
    let (o, proxy) = sync_seen(server, home.path(), &[s, &dst]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(writes(&proxy).len(), 1, "{:?}", proxy.log());
    let got = crate::boto3_object(server, &bucket, &format!("f/{}", FILES[0].0));
    assert_eq!(got["sha256"], crate::sha256_hex(&data(FILES[0].1, 99)));
}

#[test]
fn a_prefix_syncs_down_with_its_times_and_a_second_sync_fetches_nothing() {
    let (server, _client, bucket) = seaweed_bucket("sync-down");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    tree(&src, &FILES);
    let t = SystemTime::UNIX_EPOCH + Duration::new(1_600_000_000, 123_456_789);
    std::fs::File::options()
        .write(true)
        .open(src.join("a.txt"))
        .unwrap()
        .set_modified(t)
        .unwrap();
    let prefix = format!("s3://{bucket}/p");
    let o = sync(server, home.path(), &[src.to_str().unwrap(), &prefix]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = home.path().join("out");
    let o = sync(server, home.path(), &[&prefix, out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for (name, _) in FILES {
        assert_eq!(
            std::fs::read(out.join(name)).unwrap(),
            std::fs::read(src.join(name)).unwrap(),
            "{name}"
        );
    }
    assert_eq!(
        std::fs::metadata(out.join("a.txt"))
            .unwrap()
            .modified()
            .unwrap(),
        t
    );
    // Again, with --delete: no object body is fetched, nothing is deleted. (SeaweedFS lists
    // p/b/c.bin before p/b-c.txt, the walk after: the merge waits for both orders.)
    let (o, proxy) = sync_seen(
        server,
        home.path(),
        &[&prefix, out.to_str().unwrap(), "--delete"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(gets(&proxy).is_empty(), "{:?}", proxy.log());
    assert!(out.join("b-c.txt").is_file());
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("0 downloaded (0 bytes), 5 unchanged"),
        "{}",
        text(&o)
    );
}

/// The first three of [`FILES`] synced up to `s3://BUCKET/d`: the server, the bucket, the
/// home folder (kept while it lives), the files' folder and the destination.
fn three_files_synced(
    name: &str,
) -> (
    &'static TestServer,
    String,
    tempfile::TempDir,
    PathBuf,
    String,
) {
    let (server, _client, bucket) = seaweed_bucket(name);
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    tree(&src, &FILES[..3]);
    let dst = format!("s3://{bucket}/d");
    let o = sync(server, home.path(), &[src.to_str().unwrap(), &dst]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    (server, bucket, home, src, dst)
}

#[test]
fn delete_waits_for_dry_run_max_delete_and_a_whole_listing() {
    let (server, bucket, home, src, dst) = three_files_synced("sync-del");
    let s = src.to_str().unwrap();
    ferry_testkit::boto3(
        server,
        "for k in ['d/old1', 'd/old2', 'other/keep']: s3.put_object(Bucket=sys.argv[1], Key=k, Body=b'x')\nprint('{}')",
        &[&bucket],
    )
    .unwrap();
    let before = boto3_keys(server, &bucket);
    // A dry run says what it would do and does nothing.
    let o = sync(server, home.path(), &[s, &dst, "--delete", "--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        said.contains(&format!("(dry run) delete: s3://{bucket}/d/old1")),
        "{said}"
    );
    assert!(said.contains("2 deleted"), "{said}");
    assert_eq!(boto3_keys(server, &bucket), before);
    // More than --max-delete: exit 1, nothing deleted.
    let o = sync(
        server,
        home.path(),
        &[s, &dst, "--delete", "--max-delete", "1"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("nothing was deleted"),
        "{}",
        text(&o)
    );
    assert_eq!(boto3_keys(server, &bucket), before);
    // A listing that fails: no deletion.
    let proxy = HoldProxy::start(
        &server.endpoint,
        vec![Rule {
            method: "GET",
            query: vec!["list-type=2"],
            nth: 1,
            action: Action::Respond(403, "AccessDenied", None),
        }],
    )
    .unwrap();
    let o = sync(&proxy.server(server), home.path(), &[s, &dst, "--delete"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("s3:ListBucket"),
        "{}",
        text(&o)
    );
    assert!(
        !proxy.log().iter().any(|l| l.contains("delete")),
        "{:?}",
        proxy.log()
    );
    assert_eq!(boto3_keys(server, &bucket), before);
    // Then for real: one DeleteObjects; what is outside the prefix stays.
    let (o, proxy) = sync_seen(server, home.path(), &[s, &dst, "--delete"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let w = writes(&proxy);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with("POST") && w[0].contains("delete"), "{w:?}");
    assert!(
        !boto3_keys(server, &bucket)
            .iter()
            .any(|k| k.contains("old"))
    );
    assert!(boto3_keys(server, &bucket).contains(&"other/keep".to_string()));

    // Down: a file the prefix does not hold goes; a folder stays.
    let out = home.path().join("out");
    assert_eq!(
        sync(server, home.path(), &[&dst, out.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    std::fs::write(out.join("stray.txt"), b"s").unwrap();
    std::fs::create_dir_all(out.join("empty-folder")).unwrap();
    let o = sync(
        server,
        home.path(),
        &[&dst, out.to_str().unwrap(), "--delete"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!out.join("stray.txt").exists());
    assert!(out.join("empty-folder").is_dir());
    assert!(out.join("a.txt").is_file());
}

/// Thousands of deletions go a thousand a DeleteObjects request, and each is shown: up, 2,500
/// objects in three requests, a line each (when each was an event of its own, a display
/// that fell behind lost most of them); down, 2,500 files, a JSON event each.
#[test]
fn thousands_of_deletions_go_in_batches_and_each_is_shown() {
    let (server, client, bucket) = seaweed_bucket("sync-dels");
    let home = tempfile::tempdir().unwrap();
    stored(&client, &bucket, &["p/keep"], ("p/old/", 2_500));
    let src = home.path().join("src");
    tree(&src, &[("keep", 7)]);
    let dst = format!("s3://{bucket}/p");
    let (o, proxy) = sync_seen(
        server,
        home.path(),
        &[src.to_str().unwrap(), &dst, "--delete"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let shown = |n: u32| format!("delete: s3://{bucket}/p/old/{n:04}\n");
    assert_eq!(out.matches("delete: ").count(), 2_500, "{}", text(&o));
    assert!(
        out.contains(&shown(0)) && out.contains(&shown(2_499)),
        "{out}"
    );
    assert!(out.contains(", 2500 deleted, 0 failed"), "{out}");
    let deletes: Vec<_> = writes(&proxy)
        .into_iter()
        .filter(|w| w.starts_with("POST") && w.contains("delete"))
        .collect();
    assert_eq!(deletes.len(), 3, "{deletes:?}");
    assert_eq!(boto3_keys(server, &bucket), ["p/keep"]);

    // Down: the folder's 2,500 files the prefix does not hold go; the one it holds comes.
    let out = home.path().join("out");
    let files: Vec<_> = (0..2_500).map(|i| format!("stray/{i:04}")).collect();
    tree(
        &out,
        &files.iter().map(|f| (f.as_str(), 1)).collect::<Vec<_>>(),
    );
    let o = sync(
        server,
        home.path(),
        &[&dst, out.to_str().unwrap(), "--delete", "--json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let deleted: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "sync" && e["action"] == "delete")
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(deleted.len(), 2_500);
    assert!(deleted.contains(&"p/stray/1234"), "{:?}", &deleted[..3]);
    assert_eq!(events.last().unwrap()["deleted"], 2_500);
    assert!(!out.join("stray/0000").exists() && out.join("stray").is_dir());
    assert_eq!(
        std::fs::read(out.join("keep")).unwrap(),
        std::fs::read(src.join("keep")).unwrap()
    );
}

#[test]
fn an_empty_source_deletes_nothing_unless_the_limit_allows_it() {
    let (server, bucket, home, src, dst) = three_files_synced("sync-empty");
    let s = src.to_str().unwrap();
    let before = boto3_keys(server, &bucket);
    assert_eq!(before.len(), 3);
    let refused = |o: &Output| {
        assert_eq!(o.status.code(), Some(1), "{}", text(o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("nothing was deleted: the source holds nothing")
                && err.contains("--max-delete 3"),
            "{}",
            text(o)
        );
    };
    // Down from a mistyped prefix: every file stays as it was.
    let typo = format!("s3://{bucket}/dd/");
    let o = sync(server, home.path(), &[&typo, s, "--delete"]);
    refused(&o);
    for (i, (name, size)) in FILES[..3].iter().enumerate() {
        assert_eq!(
            std::fs::read(src.join(name)).unwrap(),
            data(*size, i as u64)
        );
    }
    // Up from an empty folder (a disk not mounted): every object stays.
    let empty = home.path().join("mnt");
    std::fs::create_dir(&empty).unwrap();
    let e = empty.to_str().unwrap();
    let o = sync(server, home.path(), &[e, &dst, "--delete"]);
    refused(&o);
    assert_eq!(boto3_keys(server, &bucket), before);
    // A limit that covers them says it is meant.
    let o = sync(
        server,
        home.path(),
        &[e, &dst, "--delete", "--max-delete", "3"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(boto3_keys(server, &bucket).is_empty());
}

#[test]
fn filters_pick_paths_and_excluded_ones_are_never_deleted() {
    let (server, _client, bucket) = seaweed_bucket("sync-filter");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    tree(
        &src,
        &[
            ("a.txt", 3),
            ("x.log", 3),
            ("keep/y.log", 3),
            ("deep/z.log", 3),
        ],
    );
    ferry_testkit::boto3(
        server,
        "s3.put_object(Bucket=sys.argv[1], Key='f/old.log', Body=b'x'); print('{}')",
        &[&bucket],
    )
    .unwrap();
    let dst = format!("s3://{bucket}/f");
    let o = sync(
        server,
        home.path(),
        &[
            src.to_str().unwrap(),
            &dst,
            "--exclude",
            "*.log",
            "--include",
            "keep/*",
            "--delete",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        boto3_keys(server, &bucket),
        vec!["f/a.txt", "f/keep/y.log", "f/old.log"],
        "excluded: x.log, deep/z.log; f/old.log is excluded too, so not deleted"
    );
    // A bad glob is bad input.
    let o = sync(
        server,
        home.path(),
        &[src.to_str().unwrap(), &dst, "--exclude", "a["],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn an_interrupted_sync_run_again_moves_only_what_was_left() {
    let (server, _client, bucket) = seaweed_bucket("sync-int");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    let files: Vec<(String, usize)> = (0..12).map(|i| (format!("f{i:02}.bin"), 1 << 20)).collect();
    let refs: Vec<(&str, usize)> = files.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    tree(&src, &refs);
    let dst = format!("s3://{bucket}/i");
    // 1 MiB/s, one object at a time: Ctrl-C after the third object ends.
    let mut child = crate::ferry_command(server.env(), home.path())
        .args([
            "sync",
            src.to_str().unwrap(),
            &dst,
            "--json",
            "--bwlimit",
            "2MiB",
            "--concurrency",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut ended = 0;
    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
        if line.unwrap().contains("\"event\":\"object\"") {
            ended += 1;
            if ended == 3 {
                let _ = Command::new("kill")
                    .args(["-INT", &child.id().to_string()])
                    .status();
                break;
            }
        }
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    let done = boto3_keys(server, &bucket).len();
    assert!((3..12).contains(&done), "{done} done");
    let (o, proxy) = sync_seen(server, home.path(), &[src.to_str().unwrap(), &dst]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let puts = writes(&proxy)
        .iter()
        .filter(|l| l.starts_with("PUT"))
        .count();
    assert_eq!(puts, 12 - done, "{:?}", proxy.log());
    assert_eq!(boto3_keys(server, &bucket).len(), 12);
}

/// `sync` takes what `cp` takes for the objects it writes and reads: a storage class,
/// metadata, an SSE-C key and a part size up; the key and a range size down (it once took
/// none of them); and refuses what a download cannot apply.
#[test]
fn sync_writes_objects_as_the_object_flags_ask_and_reads_them_back() {
    let (server, _client, bucket) = seaweed_bucket("sync-options");
    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("src");
    tree(&root, &[("big.bin", 20 << 20), ("a.txt", 100)]);
    let key = home.path().join("key");
    std::fs::write(&key, [9u8; 32]).unwrap();
    let key_flag = format!("@{}", key.display());
    let dst = format!("s3://{bucket}/p/");
    let args = [
        root.to_str().unwrap(),
        &dst,
        "--storage-class",
        "STANDARD_IA",
        "--metadata",
        "team=a",
        "--sse-c-key",
        &key_flag,
        "--part-size",
        "8MiB",
        "--no-progress",
    ];
    let o = sync(server, home.path(), &args);
    assert!(o.status.success(), "{}", text(&o));
    let heads = ferry_testkit::boto3(
        server,
        r#"
import hashlib
out = {}
for n in ('big.bin', 'a.txt'):
    h = s3.head_object(Bucket=sys.argv[1], Key='p/' + n, PartNumber=1,
                       SSECustomerAlgorithm='AES256', SSECustomerKey=bytes([9]) * 32)
    d = s3.get_object(Bucket=sys.argv[1], Key='p/' + n,
                      SSECustomerAlgorithm='AES256', SSECustomerKey=bytes([9]) * 32)['Body'].read()
    out[n] = [h.get('StorageClass'), h.get('SSECustomerAlgorithm'), h.get('PartsCount'),
              h['Metadata'].get('team'), hashlib.sha256(d).hexdigest()]
print(json.dumps(out))
"#,
        &[&bucket],
    )
    .unwrap();
    for (name, parts, seed) in [("big.bin", 3, 0), ("a.txt", 1, 1)] {
        let size = if parts == 3 { 20 << 20 } else { 100 };
        assert_eq!(
            heads[name],
            serde_json::json!([
                "STANDARD_IA",
                "AES256",
                parts,
                "a",
                crate::sha256_hex(&data(size, seed))
            ]),
            "{name}"
        );
    }
    // Again: nothing differs (the comparison reads the encrypted objects with the key).
    let o = sync(server, home.path(), &args);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("0 uploaded"), "{}", text(&o));
    // Down, with the key, in 1 MiB ranges.
    let down = home.path().join("down");
    let o = sync(
        server,
        home.path(),
        &[
            &dst,
            down.to_str().unwrap(),
            "--sse-c-key",
            &key_flag,
            "--part-size",
            "1MiB",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    for name in ["big.bin", "a.txt"] {
        assert_eq!(
            std::fs::read(down.join(name)).unwrap(),
            std::fs::read(root.join(name)).unwrap(),
            "{name}"
        );
    }
    let o = sync(
        server,
        home.path(),
        &[&dst, down.to_str().unwrap(), "--storage-class", "GLACIER"],
    );
    crate::expect_exit(&o, 2, "--storage-class is for uploads and copies");
}
