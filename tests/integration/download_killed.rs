//! Downloads stopped by SIGKILL or Ctrl-C at exact points (a proxy holds the nth GET) and
//! resumed: only what the journal lacks is fetched again, and an object overwritten between
//! the kill and the resume is detected.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use ferry_engine::partial_path;
use ferry_testkit::{Action, HoldProxy, Rule, TestServer};

use crate::{data, ferry, seaweed_bucket, stdout, text};

const MIB: usize = 1024 * 1024;

/// Runs `ferry cp s3://… FILE` one range at a time through `endpoint`, written with O_DIRECT
/// (resume then reads back what went straight to the disk).
fn download_command(
    server: &TestServer,
    home: &Path,
    endpoint: &str,
    src: &str,
    out: &Path,
) -> Command {
    let mut c = parallel_download_command(server, home, endpoint, src, out, 1);
    c.args(["--direct-io", "always"]);
    c
}

/// The same with `concurrency` ranges at a time.
fn parallel_download_command(
    server: &TestServer,
    home: &Path,
    endpoint: &str,
    src: &str,
    out: &Path,
    concurrency: u32,
) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ferry"));
    c.env("AWS_EC2_METADATA_DISABLED", "true");
    c.args(["cp", src, out.to_str().unwrap()])
        .args(["--part-size", "4MiB", "--no-progress"])
        .args(["--concurrency", &concurrency.to_string()])
        .env_clear()
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOME", home)
        .envs(server.env())
        .env("AWS_ENDPOINT_URL", endpoint)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Uploads `body` as `obj` with ferry (a full-object CRC64NVME) and starts a proxy to the
/// server that holds GET number `nth` (1-based) and everything after it. Returns the object's
/// URL, the file to download it to, and the proxy.
fn object_and_proxy(
    server: &TestServer,
    bucket: &str,
    home: &Path,
    body: &[u8],
    nth: u32,
) -> (String, std::path::PathBuf, HoldProxy) {
    named_object_and_proxy(server, bucket, home, body, nth, "obj")
}

/// [`object_and_proxy`] for the key `key`, downloaded to `KEY.out`.
fn named_object_and_proxy(
    server: &TestServer,
    bucket: &str,
    home: &Path,
    body: &[u8],
    nth: u32,
    key: &str,
) -> (String, std::path::PathBuf, HoldProxy) {
    let src = home.join("src.bin");
    std::fs::write(&src, body).unwrap();
    let url = format!("s3://{bucket}/{key}");
    let o = ferry(server, home, &["cp", src.to_str().unwrap(), &url]);
    assert!(o.status.success(), "{}", text(&o));
    let proxy = HoldProxy::start(
        &server.endpoint,
        vec![Rule {
            method: "GET",
            query: vec![],
            nth,
            action: Action::Hold,
        }],
    )
    .unwrap();
    (url, home.join(format!("{key}.out")), proxy)
}

/// Holds GET number `nth` (1-based; one range at a time), SIGKILLs ferry there, runs the same
/// command again: identical, nothing left beside the file, and exactly the ranges from the
/// held one on fetched again.
fn kill_download_at(nth: u32) {
    kill_named_download_at(nth, "obj");
}

/// [`kill_download_at`] for the key `key`.
fn kill_named_download_at(nth: u32, key: &str) {
    let (server, _client, bucket) = seaweed_bucket(&format!("dl-kill{nth}"));
    let home = tempfile::tempdir().unwrap();
    // 6 ranges of 4 MiB and one of 1 MiB.
    let body = data(25 * MIB, 65);
    let (url, out, proxy) = named_object_and_proxy(server, &bucket, home.path(), &body, nth, key);
    let mut child = download_command(server, home.path(), &proxy.endpoint, &url, &out)
        .spawn()
        .unwrap();
    assert!(
        proxy.wait_triggered(Duration::from_secs(60)),
        "GET {nth} never came: {:?}",
        proxy.log()
    );
    child.kill().unwrap();
    let _ = child.wait_with_output();
    assert!(!out.exists(), "nothing at the destination until verified");
    assert!(partial_path(&out).exists(), "the partial file is kept");
    assert!(partial_path(&out).file_name().unwrap().len() <= 255);

    proxy.reset(vec![]);
    let o = download_command(server, home.path(), &proxy.endpoint, &url, &out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(std::fs::read(&out).unwrap() == body, "bytes differ");
    let on_disk = (nth as usize - 1) * 4 * MIB;
    assert_eq!(
        proxy.returned_bytes() as usize,
        body.len() - on_disk,
        "only the ranges not on disk are fetched again: {:?}",
        proxy.log()
    );
    if nth > 1 {
        assert!(
            stdout(&o).contains(&format!("resumed with {on_disk} bytes on disk")),
            "{}",
            text(&o)
        );
    }
    let left: Vec<_> = std::fs::read_dir(home.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("ferry-partial"))
        .collect();
    assert!(left.is_empty(), "left beside the file: {left:?}");
}

#[test]
fn kill_during_the_first_range_then_resume() {
    kill_download_at(1);
}

#[test]
fn kill_mid_download_then_resume() {
    kill_download_at(4);
}

#[test]
fn kill_during_the_last_range_then_resume() {
    kill_download_at(7);
}

#[test]
fn an_object_overwritten_between_kill_and_resume_is_detected() {
    let (server, _client, bucket) = seaweed_bucket("dl-overwritten");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src.bin");
    let (url, out, proxy) = object_and_proxy(server, &bucket, home.path(), &data(20 * MIB, 66), 3);
    let mut child = download_command(server, home.path(), &proxy.endpoint, &url, &out)
        .spawn()
        .unwrap();
    assert!(proxy.wait_triggered(Duration::from_secs(60)));
    child.kill().unwrap();
    let _ = child.wait_with_output();
    // Same size, other bytes.
    let new = data(20 * MIB, 67);
    std::fs::write(&src, &new).unwrap();
    let o = ferry(server, home.path(), &["cp", src.to_str().unwrap(), &url]);
    assert!(o.status.success(), "{}", text(&o));
    proxy.reset(vec![]);
    let o = download_command(server, home.path(), &proxy.endpoint, &url, &out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("changed since the partial download"),
        "{}",
        text(&o)
    );
    assert!(
        std::fs::read(&out).unwrap() == new,
        "the new version, whole"
    );
}

#[test]
fn kill_with_ranges_in_flight_fetches_again_only_what_the_journal_lacks() {
    let (server, _client, bucket) = seaweed_bucket("dl-kill-par");
    let home = tempfile::tempdir().unwrap();
    let body = data(40 * MIB + 5, 70);
    let (url, out, proxy) = object_and_proxy(server, &bucket, home.path(), &body, 6);
    let run =
        |endpoint: &str| parallel_download_command(server, home.path(), endpoint, &url, &out, 4);
    let mut child = run(&proxy.endpoint).spawn().unwrap();
    assert!(proxy.wait_triggered(Duration::from_secs(60)));
    // Let the ranges already forwarded land, then kill.
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap();
    let _ = child.wait_with_output();
    let journal =
        std::fs::read_to_string(home.path().join("obj.out.ferry-partial.journal")).unwrap();
    let header: serde_json::Value = serde_json::from_str(journal.lines().next().unwrap()).unwrap();
    let recorded: std::collections::BTreeSet<u64> = journal
        .lines()
        .skip(1)
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["i"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let on_disk: u64 = recorded
        .iter()
        .map(|&i| header["ranges"][i as usize][1].as_u64().unwrap())
        .sum();
    assert!(
        !recorded.is_empty(),
        "some ranges were written before the kill"
    );
    proxy.reset(vec![]);
    let o = run(&proxy.endpoint).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(std::fs::read(&out).unwrap() == body, "bytes differ");
    assert_eq!(
        proxy.returned_bytes(),
        body.len() as u64 - on_disk,
        "exactly the ranges the journal lacked are fetched again"
    );
}

#[test]
fn ctrl_c_keeps_the_partial_file_and_the_same_command_resumes() {
    let (server, _client, bucket) = seaweed_bucket("dl-ctrl-c");
    let home = tempfile::tempdir().unwrap();
    let body = data(24 * MIB, 71);
    // No rule fires: the proxy only counts.
    let (url, out, proxy) = object_and_proxy(server, &bucket, home.path(), &body, u32::MAX);
    let mut child = download_command(server, home.path(), &proxy.endpoint, &url, &out);
    let mut child = child.arg("--json").spawn().unwrap();
    let events = child.stdout.take().unwrap();
    for line in std::io::BufRead::lines(std::io::BufReader::new(events)) {
        if line.unwrap().contains("\"range_finished\"") {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            break;
        }
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("ferry: error: interrupted\nthe partial download is kept"),
        "{err}"
    );
    assert!(partial_path(&out).exists() && !out.exists());
    proxy.reset(vec![]);
    let o = download_command(server, home.path(), &proxy.endpoint, &url, &out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(stdout(&o).contains("resumed with"), "{}", text(&o));
    assert!(proxy.returned_bytes() < body.len() as u64);
    assert!(std::fs::read(&out).unwrap() == body);
}

/// A file name of 250 bytes is valid, but too long to take `.ferry-partial.journal`: the
/// partial file and its journal take a shortened name (its start and a hash of it), and a
/// download killed there resumes from them. Before, it failed at once: "File name too long".
#[test]
fn a_download_to_a_name_too_long_for_its_partial_suffix_resumes() {
    // The file: KEY.out, 250 bytes.
    kill_named_download_at(3, &"n".repeat(246));
}
