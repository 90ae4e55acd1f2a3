//! A tree download of many small objects stopped in the middle, by kill -9 and by Ctrl-C:
//! every file it left is whole and has its object's bytes (a file is named only after it is
//! written, checked and flushed with its group), nothing else is left in the folder (no
//! temporary or partial file), and the same command then finishes the tree. A stop mostly
//! lands while objects are being fetched: the few milliseconds between a file's write and its
//! name are covered by `durable`'s own tests (a cancelled file is removed, not named). What a
//! stopped transfer leaves in a folder (a download's partial file, an upload's journal) is
//! ferry's own: a later sync of that folder neither sends nor deletes it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferry_testkit::TestServer;

use crate::tree::{boto3_tree, local_tree};
use crate::{copied_tree, data, expect_exit, ferry_command, seaweed_bucket, text};

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
    copied_tree(server, home.path(), src.to_str().unwrap(), &dst);
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

/// A sync down stopped in the middle of a large object leaves its partial file and journal
/// beside the target. They are the download's own: the same sync run again with `--delete`
/// resumes it and deletes neither (it once listed them as the folder's, deleted them under
/// the finished download, and exited 1), and a sync of the folder up sends neither, naming
/// them as passed over.
#[test]
fn a_sync_down_stopped_midway_keeps_its_partial_file_to_itself() {
    let (server, _client, bucket) = seaweed_bucket("tree-partial");
    let home = tempfile::tempdir().unwrap();
    let big = data(24 << 20, 4400);
    let src = home.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("big"), &big).unwrap();
    std::fs::write(src.join("small"), b"small").unwrap();
    let prefix = format!("s3://{bucket}/p/");
    copied_tree(server, home.path(), src.to_str().unwrap(), &prefix);
    let out = home.path().join("out");
    let sync_down = |extra: &[&str]| {
        let mut c = ferry_command(server.env(), home.path());
        c.args(["sync", &prefix, out.to_str().unwrap(), "--no-progress"])
            .args(["--part-size", "4MiB", "--concurrency", "1"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    };
    // At 4 MiB/s, one 4 MiB range at a time: stopped once a range is journaled.
    let child = sync_down(&["--bwlimit", "4MiB"]).spawn().unwrap();
    let journal = out.join("big.ferry-partial.journal");
    let began = Instant::now();
    while std::fs::read_to_string(&journal).map_or(0, |j| j.lines().count()) < 2 {
        assert!(began.elapsed() < Duration::from_secs(60), "no range landed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let o = child.wait_with_output().unwrap();
    expect_exit(&o, 130, "interrupted");
    assert!(out.join("big.ferry-partial").exists(), "{}", text(&o));

    // Up: neither the partial file nor its journal is sent.
    let up = format!("s3://{bucket}/up/");
    let o = ferry_command(server.env(), home.path())
        .args(["sync", out.to_str().unwrap(), &up, "--no-progress"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    for name in ["big.ferry-partial", "big.ferry-partial.journal"] {
        let said = format!("skipping {}: ", out.join(name).display());
        assert!(err.contains(&said), "{said}: {}", text(&o));
    }
    let sent: Vec<String> = boto3_tree(server, &bucket, "up/").into_keys().collect();
    assert!(
        sent.iter().all(|k| !k.contains(".ferry-")),
        "{sent:?}: {}",
        text(&o)
    );

    // Down again, with --delete: resumed, nothing deleted, only the objects' files left.
    let o = sync_down(&["--delete"]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.contains("resumed"), "{said}");
    assert!(said.contains(" 0 deleted, 0 failed"), "{said}");
    let want: BTreeMap<String, String> = [
        ("big".to_string(), crate::sha256_hex(&big)),
        ("small".to_string(), crate::sha256_hex(b"small")),
    ]
    .into();
    assert_eq!(local_tree(&out), want);
}

/// A sync of a home folder passes over the folder ferry keeps its journals in (they change as
/// it runs, and one sent up would be another run's state): up, it is named and not sent;
/// down with `--delete`, its journals are neither listed nor deleted.
#[test]
fn a_sync_of_a_home_leaves_ferrys_journals_alone() {
    let (server, _client, bucket) = seaweed_bucket("tree-home");
    let home = tempfile::tempdir().unwrap();
    let docs = home.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("notes"), b"notes").unwrap();
    // An interrupted upload's journal, as ferry leaves it.
    let state = home.path().join(".local/state/ferry");
    std::fs::create_dir_all(&state).unwrap();
    let journal = state.join("up-0123456789abcdef0123.journal");
    std::fs::write(&journal, b"{\"type\":\"intent\"}\n").unwrap();
    let home_arg = home.path().to_str().unwrap();
    let prefix = format!("s3://{bucket}/home/");
    let sync = |args: &[&str]| {
        ferry_command(server.env(), home.path())
            .arg("sync")
            .args(args)
            .arg("--no-progress")
            .output()
            .unwrap()
    };
    let o = sync(&[home_arg, &prefix]);
    assert!(o.status.success(), "{}", text(&o));
    let said = format!(
        "skipping {}: ferry's own journals, which change as it runs",
        state.display()
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&said),
        "{}",
        text(&o)
    );
    let sent: Vec<String> = boto3_tree(server, &bucket, "home/").into_keys().collect();
    assert_eq!(sent, ["home/docs/notes"], "{}", text(&o));

    let o = sync(&[&prefix, home_arg, "--delete"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("1 unchanged, 0 deleted"),
        "{}",
        text(&o)
    );
    assert!(journal.exists(), "{}", text(&o));
}
