//! A tree download of many small objects stopped in the middle, by kill -9 and by Ctrl-C:
//! every file it left is whole and has its object's bytes (a file is named only after it is
//! written, checked and flushed with its group), nothing else is left in the folder (no
//! temporary or partial file), and the same command then finishes the tree. A stop mostly
//! lands while objects are being fetched: the few milliseconds between a file's write and its
//! name are covered by `durable`'s own tests (a cancelled file is removed, not named).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferry_testkit::TestServer;

use crate::tree::{boto3_tree, local_tree};
use crate::{data, expect_exit, ferry_command, seaweed_bucket, text};

const OBJECTS: usize = 200;

fn tree_download(server: &TestServer, home: &Path, src: &str, out: &Path) -> Command {
    let mut c = ferry_command(server.env(), home);
    c.args(["cp", "-r", src, out.to_str().unwrap(), "--no-progress"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Starts the download slowed down, stops it with `signal` once some files have landed, and
/// checks what it left against `want` (key below the prefix to sha256).
fn stop_midway(
    server: &TestServer,
    home: &Path,
    src: &str,
    out: &Path,
    signal: &str,
    want: &BTreeMap<String, String>,
) -> std::process::Output {
    let mut slow = tree_download(server, home, src, out);
    // About 6 MiB at 1 MiB/s: several seconds in which to stop it.
    slow.args(["--bwlimit", "1MiB"]);
    let child = slow.spawn().unwrap();
    let began = Instant::now();
    while local_count(out) < 20 {
        assert!(began.elapsed() < Duration::from_secs(60), "no files landed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status();
    let o = child.wait_with_output().unwrap();
    let left = local_tree(out);
    assert!(
        left.len() < want.len(),
        "the tree finished before it was stopped: {}",
        text(&o)
    );
    for (name, sha) in &left {
        assert_eq!(
            want.get(name),
            Some(sha),
            "{name} was left with other bytes, or is not an object's file"
        );
    }
    o
}

fn local_count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

#[test]
fn a_tree_download_stopped_midway_leaves_only_whole_files_and_the_same_command_finishes() {
    let (server, _client, bucket) = seaweed_bucket("tree-stopped");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    for i in 0..OBJECTS {
        let size = 4096 + (i * 7919) % (56 * 1024);
        std::fs::write(src.join(format!("f{i:03}")), data(size, 4000 + i as u64)).unwrap();
    }
    let dst = format!("s3://{bucket}/small");
    let o = ferry_command(server.env(), home.path())
        .args(["cp", "-r", src.to_str().unwrap(), &dst, "--no-progress"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    // What the objects hold, as boto3 reads them, by name below the prefix.
    let want: BTreeMap<String, String> = boto3_tree(server, &bucket, "small/")
        .into_iter()
        .map(|(k, v)| (k["small/".len()..].to_string(), v))
        .collect();
    assert_eq!(want, local_tree(&src));

    for (signal, code) in [("-KILL", None), ("-INT", Some(130))] {
        let out = home.path().join(format!("out{signal}"));
        std::fs::create_dir_all(&out).unwrap();
        let o = stop_midway(server, home.path(), &dst, &out, signal, &want);
        if let Some(code) = code {
            expect_exit(&o, code, "");
        }
        let o = tree_download(server, home.path(), &dst, &out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(
            local_tree(&out),
            want,
            "after {signal} and the same command"
        );
    }
}
