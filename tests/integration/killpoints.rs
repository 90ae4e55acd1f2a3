//! SIGKILL at exact points of an upload (a hold-and-drop proxy freezes ferry there), then the
//! same command again: the object is identical, no upload is left, the journal is gone, and
//! only the parts in flight at the kill are sent again (counted by the proxy).

use std::process::{Command, Stdio};
use std::time::Duration;

use ferry_testkit::{Action, HoldProxy, Rule};

use crate::{boto3_object, boto3_uploads, data, seaweed_bucket, sha256_hex, text};

const MIB: u64 = 1024 * 1024;
const PART: u64 = 5 * MIB;
const PARTS: u64 = 6;

fn kill_at(name: &str, rule: Rule, resent_parts: u64) {
    let (server, _client, bucket) = seaweed_bucket(&format!("kill-{name}"));
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("f.bin");
    let body = data((PARTS * PART) as usize, 50);
    std::fs::write(&file, &body).unwrap();
    let dst = format!("s3://{bucket}/f.bin");
    let run = |endpoint: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ferry"));
        c.args(["cp", file.to_str().unwrap(), &dst, "--part-size", "5MiB"])
            .args(["--concurrency", "1", "--no-progress"])
            .env_clear()
            .env("HOME", home.path())
            .envs(server.env())
            .env("AWS_ENDPOINT_URL", endpoint)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    };

    let proxy = HoldProxy::start(&server.endpoint, vec![rule]).unwrap();
    let mut child = run(&proxy.endpoint).spawn().unwrap();
    assert!(
        proxy.wait_triggered(Duration::from_secs(60)),
        "{name}: the kill point was never reached: {:?}",
        proxy.log()
    );
    child.kill().unwrap();
    let _ = child.wait_with_output();

    // The same command, through the same endpoint, now passing everything and counting.
    let counter = &proxy;
    counter.reset(vec![]);
    let o = run(&counter.endpoint).output().unwrap();
    assert!(o.status.success(), "{name}: {}", text(&o));
    let sent = counter.forwarded_bytes();
    // Each part carries its framing and trailer (a few hundred bytes); Complete a small XML.
    let slack = 64 * 1024;
    assert!(
        sent >= resent_parts * PART && sent <= resent_parts * PART + slack,
        "{name}: {sent} bytes sent again, expected {resent_parts} parts: {:?}",
        counter.log()
    );
    assert_eq!(
        boto3_object(server, &bucket, "f.bin")["sha256"],
        sha256_hex(&body),
        "{name}"
    );
    assert!(
        boto3_uploads(server, &bucket).is_empty(),
        "{name}: an upload was left"
    );
    let journals = home.path().join(".local/state/ferry");
    assert_eq!(
        std::fs::read_dir(&journals).map(|d| d.count()).unwrap_or(0),
        0,
        "{name}: the journal is left"
    );
}

fn rule(method: &'static str, query: &'static str, action: Action) -> Rule {
    Rule {
        method,
        query: vec![query],
        nth: 1,
        action,
    }
}

#[test]
fn kill_during_create_before_the_server_answered() {
    kill_at("create-held", rule("POST", "uploads", Action::Hold), PARTS);
}

#[test]
fn kill_during_create_after_the_server_answered() {
    // The server created an upload whose id ferry never learned: the intent lets the next
    // run find and abort it.
    kill_at(
        "create-lost",
        rule("POST", "uploads", Action::DropResponse),
        PARTS,
    );
}

#[test]
fn kill_after_the_first_part() {
    kill_at(
        "after-first",
        rule("PUT", "partNumber=2", Action::Hold),
        PARTS - 1,
    );
}

#[test]
fn kill_mid_upload() {
    kill_at("mid", rule("PUT", "partNumber=4", Action::Hold), PARTS - 3);
}

#[test]
fn kill_during_a_part_whose_reply_was_lost() {
    // Part 3 reached the server but ferry never heard: it is sent again (its journal line was
    // never written), under the same number.
    kill_at(
        "part-lost",
        rule("PUT", "partNumber=3", Action::DropResponse),
        PARTS - 2,
    );
}

#[test]
fn kill_after_the_last_part_before_complete_answered() {
    kill_at("complete-held", rule("POST", "uploadId=", Action::Hold), 0);
}

#[test]
fn kill_during_complete_after_the_server_finished() {
    // The object exists; the next run finds the upload gone, checks the object against the
    // journal, and calls it done.
    kill_at(
        "complete-lost",
        rule("POST", "uploadId=", Action::DropResponse),
        0,
    );
}
