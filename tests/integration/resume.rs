//! Resume: an upload interrupted with Ctrl-C resumes with the same command (or `ferry resume`),
//! sending only what is missing; a changed source is refused; a same-size rewrite is caught by
//! the re-checksum; a torn journal resumes; a second ferry on the same file and key is refused.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::{
    boto3_keys, boto3_object, boto3_uploads, data, expect_exit, ferry, seaweed_bucket, sha256_hex,
    text,
};
use ferry_testkit::TestServer;

const MIB: usize = 1024 * 1024;

/// Starts `ferry cp FILE DST --json` with small parts and one at a time, so it can be stopped
/// part-way.
pub(crate) fn start_upload(
    server: &TestServer,
    home: &Path,
    file: &Path,
    dst: &str,
    extra: &[&str],
) -> Child {
    start_sending(server, home, "cp", (file, dst), extra)
}

/// Starts `ferry VERB FILE DST --json` (`cp` or `mv`) as [`start_upload`] does.
pub(crate) fn start_sending(
    server: &TestServer,
    home: &Path,
    verb: &str,
    (file, dst): (&Path, &str),
    extra: &[&str],
) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args([
            verb,
            file.to_str().unwrap(),
            dst,
            "--json",
            "--part-size",
            "5MiB",
        ])
        .args(["--concurrency", "1"])
        .args(extra)
        .env_clear()
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOME", home)
        .envs(server.env())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `n` finished parts, then sends SIGINT; returns the exit code and stderr.
pub(crate) fn interrupt_after(mut child: Child, n: usize) -> (Option<i32>, String) {
    let stdout = child.stdout.take().unwrap();
    let mut finished = 0;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if line.contains("\"part_finished\"") {
            finished += 1;
            if finished == n {
                let _ = Command::new("kill")
                    .args(["-INT", &child.id().to_string()])
                    .status();
                break;
            }
        }
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// After refused runs: the interrupted upload is still the bucket's one upload and no object
/// stands; then `ferry resume` (no id: the one journal) finishes it.
pub(crate) fn kept_then_resumed(server: &TestServer, home: &Path, bucket: &str) {
    assert_eq!(boto3_uploads(server, bucket).len(), 1, "the upload is kept");
    assert!(boto3_keys(server, bucket).is_empty());
    let o = ferry(server, home, &["resume"]);
    assert!(o.status.success(), "{}", text(&o));
}

fn journals(home: &Path) -> Vec<PathBuf> {
    let dir = home.join(".local/state/ferry");
    match std::fs::read_dir(dir) {
        Ok(d) => d.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

fn json_events(stdout: &[u8], event: &str) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == event)
        .collect()
}

/// Runs the resume command ferry printed (the same command, in a clean environment).
fn printed_command(stderr: &str) -> Vec<String> {
    let line = stderr
        .lines()
        .skip_while(|l| !l.contains("to resume it, run:"))
        .nth(1)
        .unwrap_or_else(|| panic!("no resume command in: {stderr}"));
    // The arguments of our tests need no quoting.
    line.split_whitespace()
        .skip(1)
        .map(str::to_string)
        .collect()
}

#[test]
fn ctrl_c_keeps_the_upload_and_the_same_command_resumes_it() {
    let (server, _client, bucket) = seaweed_bucket("resume-ctrlc");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("big.bin");
    let body = data(64 * MIB + 11, 40);
    std::fs::write(&file, &body).unwrap();
    let dst = format!("s3://{bucket}/big.bin");
    // Read with O_DIRECT, the resume too (it re-reads the finished parts to check them).
    let direct = ["--direct-io", "always"];
    let (code, stderr) =
        interrupt_after(start_upload(server, home.path(), &file, &dst, &direct), 3);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_eq!(
        boto3_uploads(server, &bucket).len(),
        1,
        "the upload is kept"
    );
    assert_eq!(journals(home.path()).len(), 1, "and its journal");
    let args = printed_command(&stderr);
    assert!(args.contains(&dst), "{args:?}");
    assert!(args.windows(2).any(|w| w == direct), "{args:?}");
    let o = crate::ferry_command(server.env(), home.path())
        .args(&args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let resumed = json_events(&o.stdout, "resumed");
    assert_eq!(resumed.len(), 1, "{}", text(&o));
    let done = resumed[0]["parts_done"].as_u64().unwrap();
    assert!(done >= 3, "{resumed:?}");
    let sent = json_events(&o.stdout, "part_finished").len() as u64;
    assert_eq!(done + sent, 13, "only the missing parts are sent");
    // The outcome counts the parts an earlier run sent apart (each of the first 12 is 5 MiB).
    let finished = json_events(&o.stdout, "finished");
    assert_eq!(finished[0]["reused"], done * 5 * MIB as u64, "{finished:?}");
    assert!(!stderr.contains("c2VjcmV0"), "no secret in the output");
    assert_eq!(
        boto3_object(server, &bucket, "big.bin")["sha256"],
        sha256_hex(&body)
    );
    assert!(boto3_uploads(server, &bucket).is_empty());
    assert!(journals(home.path()).is_empty(), "the journal is gone");
}

/// A file whose name is not UTF-8 (Latin-1, as old archives have) goes up by its path to the
/// key given, journaled with its name's bytes, and `ferry resume` finishes it; sent to a
/// prefix, its key would be that name, and it is refused; planned for workers, it goes up
/// too. (clap refused such an argument whole, and the journal's first line panicked.)
#[test]
fn a_file_whose_name_is_not_utf8_goes_up_and_resumes() {
    use std::os::unix::ffi::OsStrExt as _;
    let (server, _client, bucket) = seaweed_bucket("resume-latin1");
    let home = tempfile::tempdir().unwrap();
    let file = home
        .path()
        .join(std::ffi::OsStr::from_bytes(b"caf\xe9.bin"));
    let body = data(24 * MIB + 3, 47);
    std::fs::write(&file, &body).unwrap();
    let dst = format!("s3://{bucket}/cafe.bin");
    let child = crate::ferry_command(server.env(), home.path())
        .arg("cp")
        .arg(&file)
        .arg(&dst)
        .args(["--json", "--part-size", "5MiB", "--concurrency", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (code, stderr) = interrupt_after(child, 2);
    assert_eq!(code, Some(130), "{stderr}");
    assert_eq!(journals(home.path()).len(), 1, "{stderr}");
    let o = ferry(server, home.path(), &["uploads", "ls"]);
    assert!(
        crate::stdout(&o).contains("caf\u{fffd}.bin"),
        "{}",
        text(&o)
    );
    let o = ferry(server, home.path(), &["resume"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        boto3_object(server, &bucket, "cafe.bin")["sha256"],
        sha256_hex(&body)
    );
    assert!(boto3_uploads(server, &bucket).is_empty());
    assert!(journals(home.path()).is_empty(), "the journal is gone");
    let o = crate::ferry_command(server.env(), home.path())
        .arg("cp")
        .arg(&file)
        .arg(format!("s3://{bucket}/p/"))
        .output()
        .unwrap();
    expect_exit(
        &o,
        2,
        "the name is not UTF-8, and a key must be; give the key",
    );
    // Planned for workers: the plan keeps the name's bytes, and a worker reads the file.
    let planned = format!("s3://{bucket}/planned.bin");
    let plan = format!("{planned}.ferry-plan");
    let run = |args: &[&std::ffi::OsStr]| {
        let o = crate::ferry_command(server.env(), home.path())
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
    };
    let os = |s: &'static str| std::ffi::OsStr::new(s);
    run(&[
        os("plan"),
        file.as_os_str(),
        planned.as_ref(),
        os("--shards"),
        os("1"),
    ]);
    run(&[
        os("cp"),
        file.as_os_str(),
        planned.as_ref(),
        os("--plan"),
        plan.as_ref(),
        os("--shard"),
        os("0/1"),
    ]);
    run(&[os("finish"), plan.as_ref()]);
    assert_eq!(
        boto3_object(server, &bucket, "planned.bin")["sha256"],
        sha256_hex(&body)
    );
}

#[test]
fn a_changed_source_is_refused_until_restart() {
    let (server, _client, bucket) = seaweed_bucket("resume-changed");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("f.bin");
    std::fs::write(&file, data(40 * MIB, 41)).unwrap();
    let dst = format!("s3://{bucket}/f.bin");
    let (code, stderr) = interrupt_after(start_upload(server, home.path(), &file, &dst, &[]), 2);
    assert_eq!(code, Some(130), "{stderr}");
    let new_body = data(40 * MIB + 1, 42);
    std::fs::write(&file, &new_body).unwrap();
    let f = file.to_str().unwrap();
    let o = ferry(server, home.path(), &["cp", f, &dst, "--part-size", "5MiB"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("changed since its upload began") && err.contains("--restart"),
        "{err}"
    );
    assert_eq!(
        boto3_uploads(server, &bucket).len(),
        1,
        "nothing was aborted"
    );
    let o = ferry(server, home.path(), &["cp", f, &dst, "--restart"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        boto3_object(server, &bucket, "f.bin")["sha256"],
        sha256_hex(&new_body)
    );
    assert!(
        boto3_uploads(server, &bucket).is_empty(),
        "the old upload was aborted"
    );
    assert!(journals(home.path()).is_empty());
}

/// A file rewritten in place with the same size, on a filesystem whose times do not show it
/// (simulated by writing the new times into the journal): the re-checksum catches the part.
/// `ferry resume` of an upload whose file is gone, then changed: refused with the upload and
/// its journal kept, naming the ways on as commands; the printed abort gives it up.
#[test]
fn ferry_resume_of_a_gone_or_changed_file_names_the_ways_on() {
    let (server, bucket, home, file, _) = crate::to_send("resume-ways", 30 * MIB, 48);
    let dst = format!("s3://{bucket}/f.bin");
    let (code, stderr) = interrupt_after(start_upload(server, home.path(), &file, &dst, &[]), 2);
    assert_eq!(code, Some(130), "{stderr}");
    let away = home.path().join("away.bin");
    std::fs::rename(&file, &away).unwrap();
    let o = ferry(server, home.path(), &["resume"]);
    expect_exit(&o, 2, "cannot be opened");
    expect_exit(&o, 2, "comes back, ferry resume up-");
    assert_eq!(boto3_uploads(server, &bucket).len(), 1, "kept");
    assert_eq!(journals(home.path()).len(), 1, "kept");

    std::fs::rename(&away, &file).unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"more"))
        .unwrap();
    let o = ferry(server, home.path(), &["resume"]);
    expect_exit(&o, 2, "changed since its upload began");
    expect_exit(
        &o,
        2,
        &format!("ferry cp {} {dst} --restart", file.display()),
    );
    assert_eq!(boto3_uploads(server, &bucket).len(), 1, "kept");
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    let abort: Vec<&str> = err
        .lines()
        .find_map(|l| l.strip_prefix("or to give it up: ferry "))
        .unwrap_or_else(|| panic!("no abort command in: {err}"))
        .split(' ')
        .collect();
    let o = ferry(server, home.path(), &abort);
    assert!(o.status.success(), "{}", text(&o));
    assert!(boto3_uploads(server, &bucket).is_empty());
    assert!(journals(home.path()).is_empty(), "its journal went with it");
    let o = ferry(server, home.path(), &["uploads", "ls"]);
    assert!(
        crate::stdout(&o).contains("no interrupted upload or copy in"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_same_size_rewrite_is_caught_by_the_re_checksum() {
    let (server, _client, bucket) = seaweed_bucket("resume-rewrite");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("f.bin");
    let mut body = data(30 * MIB, 43);
    std::fs::write(&file, &body).unwrap();
    let dst = format!("s3://{bucket}/f.bin");
    let (code, stderr) = interrupt_after(start_upload(server, home.path(), &file, &dst, &[]), 2);
    assert_eq!(code, Some(130), "{stderr}");
    // Part 1 changes, the size and the modification time do not (as a tool that keeps times
    // rewrites it; the object's `mtime` metadata stays what the upload began with).
    let modified = std::fs::metadata(&file).unwrap().modified().unwrap();
    body[100] ^= 0xff;
    std::fs::write(&file, &body).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    let journal = journals(home.path()).pop().unwrap();
    let identity = ferry_engine::SourceIdentity::of(&file).unwrap();
    let text_now = std::fs::read_to_string(&journal).unwrap();
    let mut lines: Vec<serde_json::Value> = text_now
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines[0]["source"] = serde_json::to_value(&identity).unwrap();
    let patched: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&journal, patched).unwrap();
    let o = ferry(
        server,
        home.path(),
        &["cp", file.to_str().unwrap(), &dst, "--json"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let sent: Vec<u64> = json_events(&o.stdout, "part_finished")
        .iter()
        .map(|e| e["part"].as_u64().unwrap())
        .collect();
    assert!(sent.contains(&1), "part 1 was sent again: {sent:?}");
    assert_eq!(
        boto3_object(server, &bucket, "f.bin")["sha256"],
        sha256_hex(&body)
    );
    assert!(boto3_uploads(server, &bucket).is_empty());
}

#[test]
fn a_torn_journal_resumes_with_ferry_resume() {
    let (server, _client, bucket) = seaweed_bucket("resume-torn");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("f.bin");
    let body = data(30 * MIB + 5, 44);
    std::fs::write(&file, &body).unwrap();
    let dst = format!("s3://{bucket}/f.bin");
    let (code, stderr) = interrupt_after(start_upload(server, home.path(), &file, &dst, &[]), 2);
    assert_eq!(code, Some(130), "{stderr}");
    // A crash in the middle of appending a line.
    let journal = journals(home.path()).pop().unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .unwrap();
    std::io::Write::write_all(&mut f, br#"{"type":"part","v":1,"part":9,"si"#).unwrap();
    drop(f);
    let o = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(["resume"])
        .env_clear()
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOME", home.path())
        .envs(
            server
                .env()
                .into_iter()
                .filter(|(k, _)| k != "AWS_ENDPOINT_URL"),
        )
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        boto3_object(server, &bucket, "f.bin")["sha256"],
        sha256_hex(&body)
    );
    assert!(boto3_uploads(server, &bucket).is_empty());
    assert!(journals(home.path()).is_empty());
}

/// A journal damaged beyond a torn line (its first line lost) cannot be resumed: the same
/// command says so and how to go on; with --restart it starts over in the journal's place and
/// warns that the upload the journal recorded is left. The same for a one-part file, whose
/// upload would otherwise skip the journal.
#[test]
fn a_damaged_journal_is_refused_and_a_restart_starts_over_in_its_place() {
    let (server, bucket, home, file, body) = crate::to_send("resume-damaged", 30 * MIB + 5, 48);
    let dst = format!("s3://{bucket}/f.bin");
    let (code, stderr) = interrupt_after(start_upload(server, home.path(), &file, &dst, &[]), 2);
    assert_eq!(code, Some(130), "{stderr}");
    let journal = journals(home.path()).pop().unwrap();
    std::fs::write(&journal, b"{\"type\":\"intent\",\"v\"\n").unwrap();
    let again = |extra: &[&str]| {
        let mut args = vec!["cp", file.to_str().unwrap(), &dst];
        args.extend_from_slice(extra);
        ferry(server, home.path(), &args)
    };
    let o = again(&[]);
    expect_exit(&o, 2, "is damaged at line 1");
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("run the command again with --restart to start over in its place"),
        "{}",
        text(&o)
    );
    let o = again(&["--restart"]);
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("the multipart upload it recorded, if any, was not aborted"),
        "{err}"
    );
    assert_eq!(
        boto3_object(server, &bucket, "f.bin")["sha256"],
        sha256_hex(&body)
    );
    assert!(
        journals(home.path()).is_empty(),
        "the new journal went at the end"
    );
    assert_eq!(
        boto3_uploads(server, &bucket).len(),
        1,
        "the old upload, as warned"
    );

    // A file now of one part, whose upload looks for a journal only to resume one: the
    // damaged one (at the same path and key) is refused and restarted over just the same.
    let (code, stderr) = interrupt_after(start_upload(server, home.path(), &file, &dst, &[]), 1);
    assert_eq!(code, Some(130), "{stderr}");
    let journal = journals(home.path()).pop().unwrap();
    std::fs::write(&journal, b"not json\n").unwrap();
    std::fs::write(&file, &body[..1000]).unwrap();
    expect_exit(&again(&[]), 2, "is damaged at line 1");
    let o = again(&["--restart"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        boto3_object(server, &bucket, "f.bin")["sha256"],
        sha256_hex(&body[..1000])
    );
    assert!(journals(home.path()).is_empty());
}

#[test]
fn a_second_ferry_on_the_same_file_and_key_is_refused() {
    let (server, _client, bucket) = seaweed_bucket("resume-twice");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("f.bin");
    let body = data(50 * MIB, 45);
    std::fs::write(&file, &body).unwrap();
    let dst = format!("s3://{bucket}/f.bin");
    // The first ferry is frozen at its second part (so it surely still holds the journal).
    let proxy = ferry_testkit::HoldProxy::start(
        &server.endpoint,
        vec![ferry_testkit::Rule {
            method: "PUT",
            query: vec!["partNumber=2"],
            nth: 1,
            action: ferry_testkit::Action::Hold,
        }],
    )
    .unwrap();
    let through_proxy = proxy.server(server);
    let mut first = start_upload(&through_proxy, home.path(), &file, &dst, &[]);
    assert!(proxy.wait_triggered(std::time::Duration::from_secs(60)));
    let o = ferry(
        &through_proxy,
        home.path(),
        &["cp", file.to_str().unwrap(), &dst],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("another ferry process"),
        "{}",
        text(&o)
    );
    first.kill().unwrap();
    let _ = first.wait();
    // Once the first is gone, the same command resumes.
    proxy.reset(vec![]);
    let o = ferry(
        &through_proxy,
        home.path(),
        &["cp", file.to_str().unwrap(), &dst],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        boto3_object(server, &bucket, "f.bin")["sha256"],
        sha256_hex(&body)
    );
    assert!(boto3_uploads(server, &bucket).is_empty());
}

#[test]
fn uploads_ls_marks_resumable_uploads_and_abort_removes_them() {
    let (server, _client, bucket) = seaweed_bucket("resume-uploads");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("f.bin");
    std::fs::write(&file, data(30 * MIB, 46)).unwrap();
    let dst = format!("s3://{bucket}/dir/f.bin");
    let (code, stderr) = interrupt_after(start_upload(server, home.path(), &file, &dst, &[]), 2);
    assert_eq!(code, Some(130), "{stderr}");
    // One more upload nobody journals.
    let stray = ferry_testkit::boto3(
        server,
        "print(json.dumps(s3.create_multipart_upload(Bucket=sys.argv[1], Key='dir/stray')['UploadId']))",
        &[&bucket],
    )
    .unwrap();
    let o = ferry(
        server,
        home.path(),
        &["uploads", "ls", &format!("s3://{bucket}/dir/"), "--json"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let listed = json_events(&o.stdout, "upload");
    assert_eq!(listed.len(), 2, "{}", text(&o));
    let ours = listed.iter().find(|u| u["key"] == "dir/f.bin").unwrap();
    assert!(
        ours["journal"].as_str().unwrap().starts_with("up-"),
        "{ours}"
    );
    assert!(ours["parts"].as_u64().unwrap() >= 2, "{ours}");
    let theirs = listed.iter().find(|u| u["key"] == "dir/stray").unwrap();
    assert!(theirs["journal"].is_null());
    let id = ours["upload_id"].as_str().unwrap().to_string();
    // With no target, the journals alone: what this machine can resume, asking no server.
    let o = ferry(server, home.path(), &["uploads", "ls", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let local = json_events(&o.stdout, "journal");
    assert_eq!(local.len(), 1, "{}", text(&o));
    assert_eq!(local[0]["id"], ours["journal"]);
    assert_eq!(local[0]["upload_id"].as_str(), Some(id.as_str()));
    assert_eq!(local[0]["key"], "dir/f.bin");
    assert!(local[0]["parts"].as_u64().unwrap() >= 2, "{}", local[0]);
    assert_eq!(local[0]["running"], false, "{}", local[0]);
    let o = ferry(server, home.path(), &["uploads", "ls"]);
    let out = crate::stdout(&o);
    for want in [
        ours["journal"].as_str().unwrap(),
        &dst,
        file.to_str().unwrap(),
        "stopped",
        "ferry resume JOURNAL",
    ] {
        assert!(out.contains(want), "{want:?} in {out}");
    }

    let o = ferry(
        server,
        home.path(),
        &[
            "uploads",
            "abort",
            &format!("s3://{bucket}/dir/"),
            "--older-than",
            "7d",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(&format!(
            "nothing to abort: no uploads under s3://{bucket}/dir/ older than 7d"
        )),
        "{}",
        text(&o)
    );
    assert_eq!(
        boto3_uploads(server, &bucket).len(),
        2,
        "nothing is a week old"
    );
    // The journal's id given as the upload ID: the server has no such upload, and the error
    // says which id abort takes.
    let journal_id = ours["journal"].as_str().unwrap();
    let o = ferry(
        server,
        home.path(),
        &["uploads", "abort", &dst, "--upload-id", journal_id],
    );
    expect_exit(&o, 1, "NoSuchUpload");
    for want in [
        "looks like one of ferry's journal ids",
        &format!("`ferry uploads ls {dst}` lists the uploads in progress"),
    ] {
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(want),
            "{want}: {}",
            text(&o)
        );
    }
    assert_eq!(boto3_uploads(server, &bucket).len(), 2);
    assert_eq!(journals(home.path()).len(), 1);
    let o = ferry(
        server,
        home.path(),
        &["uploads", "abort", &dst, "--upload-id", &id, "--dry-run"],
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("would abort"),
        "{}",
        text(&o)
    );
    assert_eq!(boto3_uploads(server, &bucket).len(), 2);
    let o = ferry(
        server,
        home.path(),
        &["uploads", "abort", &dst, "--upload-id", &id],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        boto3_uploads(server, &bucket),
        vec![stray.as_str().unwrap().to_string()]
    );
    assert!(journals(home.path()).is_empty(), "its journal went with it");
    let o = ferry(server, home.path(), &["uploads", "ls"]);
    assert!(
        crate::stdout(&o).contains("no interrupted upload or copy in"),
        "{}",
        text(&o)
    );
    let o = ferry(
        server,
        home.path(),
        &["uploads", "abort", &format!("s3://{bucket}"), "--all"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(boto3_uploads(server, &bucket).is_empty());
    let o = ferry(
        server,
        home.path(),
        &["uploads", "ls", &format!("s3://{bucket}")],
    );
    let said = format!("no multipart uploads in progress under s3://{bucket}");
    assert!(crate::stdout(&o).contains(&said), "{}", text(&o));
}

/// `uploads abort` leaves alone an upload a running ferry is sending (its journal is locked):
/// aborting it would fail that transfer at its next part. Once that ferry stops, it goes.
#[test]
fn abort_leaves_the_upload_a_running_transfer_is_sending() {
    let (server, bucket, home, file, _) = crate::to_send("resume-abort-busy", 30 * MIB, 47);
    let dst = format!("s3://{bucket}/f.bin");
    let mut child = start_upload(server, home.path(), &file, &dst, &["--bwlimit", "2MiB"]);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(
        lines.any(|l| l.unwrap().contains("\"part_finished\"")),
        "a part was sent"
    );
    let all = ["uploads", "abort", &format!("s3://{bucket}"), "--all"];
    let o = ferry(server, home.path(), &all);
    expect_exit(&o, 1, "is locked");
    let ids = boto3_uploads(server, &bucket);
    assert_eq!(ids.len(), 1, "the upload is still there");
    let one = ["uploads", "abort", &dst, "--upload-id", &ids[0]];
    let o = ferry(server, home.path(), &one);
    expect_exit(&o, 2, "is locked");
    assert_eq!(boto3_uploads(server, &bucket), ids);
    assert_eq!(journals(home.path()).len(), 1);
    // The journals' listing marks it running (its lock is held), reading without the lock.
    let o = ferry(server, home.path(), &["uploads", "ls", "--json"]);
    let local = json_events(&o.stdout, "journal");
    assert_eq!(local.len(), 1, "{}", text(&o));
    assert_eq!(local[0]["running"], true, "{}", local[0]);

    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let o = ferry(server, home.path(), &all);
    assert!(o.status.success(), "{}", text(&o));
    assert!(boto3_uploads(server, &bucket).is_empty());
    assert!(journals(home.path()).is_empty(), "its journal went with it");
    let o = ferry(server, home.path(), &["uploads", "ls"]);
    assert!(
        crate::stdout(&o).contains("no interrupted upload or copy in"),
        "{}",
        text(&o)
    );
}

/// A manager of `client` that journals in `store_dir`, two parts at a time, retrying fast.
fn journaled<C: ferry_s3::ObjectClient>(
    client: std::sync::Arc<C>,
    store_dir: &Path,
) -> ferry_engine::Manager<C> {
    ferry_engine::Manager::new(
        client,
        ferry_engine::ManagerConfig {
            max_requests: 2,
            parts_per_object: 2,
            retry: ferry_engine::RetryPolicy {
                max_attempts: 3,
                base: std::time::Duration::from_millis(1),
                ..Default::default()
            },
            journal: Some(std::sync::Arc::new(ferry_engine::FileJournalStore::new(
                store_dir,
            ))),
            ..Default::default()
        },
    )
    .unwrap()
}

/// Parts of 5 MiB, and what to do with a failed upload.
fn settings(on_failure: ferry_engine::FailurePolicy) -> ferry_engine::UploadSettings {
    ferry_engine::UploadSettings {
        plan: ferry_engine::PlanConfig {
            part_size: Some(5 * MIB as u64),
            ..Default::default()
        },
        on_failure,
        ..Default::default()
    }
}

/// The one failure rule, through the library: a transient fault that outlasts the retries
/// keeps the upload and its journal (and `Manager::resume` finishes it); a permanent error
/// aborts both; `--on-failure` overrides.
#[test]
fn the_failure_rule_keeps_what_can_resume_and_aborts_the_rest() {
    use ferry_engine::{ErrorKind, FailurePolicy, Source, Upload};
    use ferry_testkit::{FailingClient, Fault};
    use std::sync::Arc;
    let (server, client, bucket) = seaweed_bucket("resume-policy");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("f.bin");
    let body = data(20 * MIB, 47);
    std::fs::write(&file, &body).unwrap();
    let state = home.path().join("state");
    let fault = |error, times| Fault::new("UploadPart", times, error).on_part(3);
    let rt = crate::rt();
    let run = |faults: Vec<Fault>, policy, key: &str| {
        let failing = Arc::new(FailingClient::new(client.clone(), faults));
        let up = journaled(failing, &state);
        let upload =
            Upload::new(Source::File(file.clone()), &bucket, key).settings(settings(policy));
        rt.block_on(async { up.upload(upload).wait().await })
    };
    let journals =
        || ferry_engine::JournalStore::list(&ferry_engine::FileJournalStore::new(&state)).unwrap();

    // Transient, retries exhausted: kept.
    let err = run(
        vec![fault(ferry_testkit::internal_error, 100)],
        FailurePolicy::Auto,
        "a",
    )
    .unwrap_err();
    let id = err.resume_id().expect("kept for resume").to_string();
    assert_eq!(boto3_uploads(server, &bucket).len(), 1);
    assert_eq!(journals(), vec![id.clone()]);
    // ... and the library resumes it by journal id.
    let up = journaled(Arc::new(client.clone()), &state);
    let outcome = rt
        .block_on(async { up.resume(&id, Default::default()).unwrap().wait().await })
        .unwrap();
    assert_eq!(outcome.key, "a");
    assert_eq!(
        boto3_object(server, &bucket, "a")["sha256"],
        sha256_hex(&body)
    );
    assert!(journals().is_empty());

    // Permanent: aborted, journal removed.
    let err = run(
        vec![fault(ferry_testkit::access_denied, 1)],
        FailurePolicy::Auto,
        "b",
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Denied);
    assert!(err.resume_id().is_none());
    assert!(boto3_uploads(server, &bucket).is_empty());
    assert!(journals().is_empty());

    // Overrides: keep a permanent failure, abort a transient one.
    let err = run(
        vec![fault(ferry_testkit::access_denied, 1)],
        FailurePolicy::Keep,
        "c",
    )
    .unwrap_err();
    assert!(err.resume_id().is_some());
    assert_eq!(boto3_uploads(server, &bucket).len(), 1);
    let o = ferry(
        server,
        home.path(),
        &[
            "uploads",
            "abort",
            &format!("s3://{bucket}"),
            "--all",
            "--state-dir",
            state.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(journals().is_empty(), "uploads abort removed its journal");
    let err = run(
        vec![fault(ferry_testkit::internal_error, 100)],
        FailurePolicy::Abort,
        "d",
    )
    .unwrap_err();
    assert!(err.resume_id().is_none());
    assert!(boto3_uploads(server, &bucket).is_empty());
    assert!(journals().is_empty());
}

#[test]
fn the_printed_command_never_shows_an_sse_c_key() {
    use base64::Engine as _;
    let (server, _client, bucket) = seaweed_bucket("resume-ssec");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("f.bin");
    let body = data(64 * MIB, 48);
    std::fs::write(&file, &body).unwrap();
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let dst = format!("s3://{bucket}/f.bin");
    let child = start_upload(server, home.path(), &file, &dst, &["--sse-c-key", &key]);
    let (code, stderr) = interrupt_after(child, 2);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(!stderr.contains(&key), "the key was printed: {stderr}");
    for journal in journals(home.path()) {
        let text = std::fs::read_to_string(&journal).unwrap();
        assert!(!text.contains(&key), "the key is in the journal");
        assert!(text.contains("sse_c_key_md5"), "{text}");
    }
    let mut args = printed_command(&stderr);
    let at = args
        .iter()
        .position(|a| a == "@FILE")
        .expect("the key shows as @FILE");
    // The user puts the key in a file and runs the command.
    let key_file = home.path().join("key.bin");
    std::fs::write(&key_file, [7u8; 32]).unwrap();
    args[at] = format!("@{}", key_file.display());
    let o = crate::ferry_command(server.env(), home.path())
        .args(&args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(json_events(&o.stdout, "resumed").len(), 1);
    assert!(journals(home.path()).is_empty(), "the journal is gone");
    let seen = ferry_testkit::boto3(
        server,
        "import hashlib\nd = s3.get_object(Bucket=sys.argv[1], Key='f.bin', SSECustomerAlgorithm='AES256', SSECustomerKey=bytes([7]) * 32)['Body'].read()\nprint(json.dumps(hashlib.sha256(d).hexdigest()))",
        &[&bucket],
    )
    .unwrap();
    assert_eq!(seen, sha256_hex(&body));
}

/// The parts of every upload in `bucket`, as boto3 lists them.
fn parts_kept(server: &TestServer, bucket: &str) -> u64 {
    let v = ferry_testkit::boto3(
        server,
        "b = sys.argv[1]\nprint(sum(len(s3.list_parts(Bucket=b, Key=u['Key'], UploadId=u['UploadId']).get('Parts', [])) for u in s3.list_multipart_uploads(Bucket=b).get('Uploads', [])))",
        &[bucket],
    )
    .unwrap();
    v.as_u64().unwrap()
}

/// Eight parts of 5 MiB, two in flight at 8 MiB/s: each pair takes 1.25 s.
const SLOW: [&str; 6] = [
    "--bwlimit",
    "8MiB",
    "--part-size",
    "5MiB",
    "--concurrency",
    "2",
];

/// `home/big.bin`, 40 MiB of `seed`'s bytes, and those bytes.
fn big_file(home: &Path, seed: u64) -> (PathBuf, Vec<u8>) {
    let file = home.join("big.bin");
    let body = data(40 * MIB, seed);
    std::fs::write(&file, &body).unwrap();
    (file, body)
}

/// A bucket on SeaweedFS named from `name`, a home, and its `big.bin` of `seed`'s bytes
/// ([`big_file`]).
fn slow_start(
    name: &str,
    seed: u64,
) -> (
    &'static TestServer,
    String,
    tempfile::TempDir,
    PathBuf,
    Vec<u8>,
) {
    let (server, _client, bucket) = seaweed_bucket(name);
    let home = tempfile::tempdir().unwrap();
    let (file, body) = big_file(home.path(), seed);
    (server, bucket, home, file, body)
}

/// `ferry ARGS`, paced as [`SLOW`] says, under `limit`.
fn slow(server: &TestServer, home: &Path, args: &[&str], limit: &[&str]) -> Output {
    ferry(server, home, &[args, &SLOW[..], limit].concat())
}

/// The upload `o` ran resumed with `reused` bytes already on the server, and finished:
/// `big.bin` holds `body`, and no upload is left.
fn resumed_whole(server: &TestServer, bucket: &str, o: &Output, reused: u64, body: &[u8]) {
    assert_eq!(o.status.code(), Some(0), "{}", text(o));
    let said = format!("resumed with {reused} bytes");
    assert!(crate::stdout(o).contains(&said), "{}", text(o));
    assert_eq!(
        boto3_object(server, bucket, "big.bin")["sha256"],
        sha256_hex(body)
    );
    assert!(boto3_uploads(server, bucket).is_empty());
}

/// `--max-duration` and `--max-transfer`: once the limit is reached nothing new starts, the
/// parts in flight finish (kept, not thrown away), ferry says so and exits 10 or 8; the same
/// command again goes on from there (the object identical, no upload left; a download's
/// partial file finished). A sync stopped so deletes nothing; again, it finishes and deletes.
#[test]
fn a_limit_stops_gently_and_the_same_command_goes_on() {
    let (server, bucket, home, file, body) = slow_start("resume-window", 41);
    let dst = format!("s3://{bucket}/big.bin");
    let f = file.to_str().unwrap();
    let run = |args: &[&str], limit: &[&str]| slow(server, home.path(), args, limit);
    let o = run(&["cp", f, &dst], &["--max-duration", "1s"]);
    expect_exit(&o, 10, "stopped: the --max-duration of 1s has passed");
    expect_exit(&o, 10, "ferry resume up-");
    // The two parts in flight at the deadline finished, and are kept (two more, had the
    // first pair been quicker).
    let first = parts_kept(server, &bucket);
    assert!(first == 2 || first == 4, "{first} parts kept");
    let o = run(&["cp", f, &dst], &["--max-transfer", "6MiB"]);
    expect_exit(&o, 8, "stopped: the --max-transfer of 6.00 MiB has moved");
    // Those an earlier run sent do not count: the pair in flight at 6 MiB finished.
    assert_eq!(parts_kept(server, &bucket), first + 2);
    let o = ferry(server, home.path(), &["cp", f, &dst, "--part-size", "5MiB"]);
    resumed_whole(server, &bucket, &o, (first + 2) * (5 << 20), &body);

    // A download stopped so keeps its partial file, and the same command finishes it.
    let back = home.path().join("back.bin");
    let b = back.to_str().unwrap();
    let o = run(&["cp", &dst, b], &["--max-duration", "1s"]);
    expect_exit(&o, 10, "stopped: the --max-duration of 1s has passed");
    assert!(!back.exists());
    assert!(home.path().join("back.bin.ferry-partial").exists());
    // Without --part-size: its ranges (of 16 MiB) are not the partial file's (of 5 MiB),
    // which go on as they were.
    let o = ferry(server, home.path(), &["cp", &dst, b]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("resumed"),
        "{}",
        text(&o)
    );
    assert!(std::fs::read(&back).unwrap() == body);

    // A sync stopped by it leaves the deletions for the run that finishes.
    let src = home.path().join("src");
    crate::sync::tree(
        &src,
        &[("a.bin", 6 << 20), ("b.bin", 6 << 20), ("c.bin", 6 << 20)],
    );
    let m = format!("s3://{bucket}/m/");
    let stray = home.path().join("stray.txt");
    std::fs::write(&stray, b"not in the folder").unwrap();
    let o = ferry(
        server,
        home.path(),
        &["cp", stray.to_str().unwrap(), &format!("{m}stray.txt")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s = src.to_str().unwrap();
    let o = ferry(
        server,
        home.path(),
        &[
            "sync",
            s,
            &m,
            "--delete",
            "--bwlimit",
            "8MiB",
            "--concurrency",
            "1",
            "--max-duration",
            "1s",
        ],
    );
    expect_exit(&o, 10, "run the same command again");
    let keys = boto3_keys(server, &bucket);
    assert!(keys.contains(&"m/stray.txt".to_string()), "{keys:?}");
    assert!(keys.len() < 5, "not every file was sent: {keys:?}");
    let o = ferry(server, home.path(), &["sync", s, &m, "--delete"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let keys = boto3_keys(server, &bucket);
    assert_eq!(keys, ["big.bin", "m/a.bin", "m/b.bin", "m/c.bin"]);
    assert!(boto3_uploads(server, &bucket).is_empty());

    // A stream from stdin cannot resume: stopped so, it is aborted at once, its parts in
    // flight (about 56 MiB at 8 MiB/s, were they waited for) cut off.
    let stream = data(64 << 20, 43);
    let started = std::time::Instant::now();
    let o = crate::piped(
        crate::ferry_command(server.env(), home.path()).args([
            "cp",
            "-",
            &format!("s3://{bucket}/stream.bin"),
            "--bwlimit",
            "8MiB",
            "--max-duration",
            "1s",
        ]),
        &stream,
    );
    expect_exit(&o, 10, "a stream cannot resume");
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
    assert!(boto3_uploads(server, &bucket).is_empty());

    for bad in [["--max-duration", "0s"], ["--max-transfer", "0"]] {
        let o = ferry(server, home.path(), &[&["cp", f, &dst][..], &bad].concat());
        expect_exit(&o, 2, bad[0]);
    }
}

/// `--cutoff-mode`: cautious, a folder's files start only while their sizes fit in what is
/// left of `--max-transfer`, so the run moves no more than it (and the same command goes on);
/// hard, the parts in flight stop too, kept for resume.
#[test]
fn a_cautious_cutoff_stays_under_the_limit_and_a_hard_one_stops_at_once() {
    let (server, _client, bucket) = seaweed_bucket("resume-cutoff");
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("dir");
    std::fs::create_dir(&dir).unwrap();
    for i in 0..6 {
        std::fs::write(dir.join(format!("f{i}.bin")), data(3 * MIB, 50 + i)).unwrap();
    }
    let (d, p) = (dir.to_str().unwrap(), format!("s3://{bucket}/p"));
    let cautious = ["--max-transfer", "10MiB", "--cutoff-mode", "cautious"];
    let o = ferry(
        server,
        home.path(),
        &[&["sync", d, &p][..], &cautious].concat(),
    );
    expect_exit(&o, 8, "would pass the --max-transfer of 10.00 MiB");
    expect_exit(
        &o,
        8,
        "stopped: the next object would pass the --max-transfer",
    );
    // Three files of 3 MiB fit in 10 MiB; a fourth would not.
    assert_eq!(boto3_keys(server, &bucket).len(), 3);
    let o = ferry(
        server,
        home.path(),
        &[&["sync", d, &p][..], &cautious].concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let keys = boto3_keys(server, &bucket);
    assert_eq!(keys.len(), 6);
    for k in keys {
        let name = k.strip_prefix("p/").unwrap();
        let local = std::fs::read(dir.join(name)).unwrap();
        assert_eq!(
            boto3_object(server, &bucket, &k)["sha256"],
            sha256_hex(&local)
        );
    }
    let o = ferry(
        server,
        home.path(),
        &["sync", d, &p, "--cutoff-mode", "cautious"],
    );
    expect_exit(&o, 2, "give that too");

    // Hard: at 6 MiB the parts in flight (of 5 MiB, two at 8 MiB/s) stop; the upload is kept.
    let (file, body) = big_file(home.path(), 59);
    let dst = format!("s3://{bucket}/big.bin");
    let f = file.to_str().unwrap();
    let hard = ["--max-transfer", "6MiB", "--cutoff-mode", "hard"];
    let o = ferry(
        server,
        home.path(),
        &[&["cp", f, &dst][..], &SLOW, &hard].concat(),
    );
    expect_exit(&o, 8, "stopped: the --max-transfer of 6.00 MiB has moved");
    // The first pair of parts was cut off 6 of its 10 MiB in (where soft lets it finish):
    // the upload is kept, with no part.
    assert_eq!(parts_kept(server, &bucket), 0);
    assert_eq!(boto3_uploads(server, &bucket).len(), 1);
    let o = ferry(server, home.path(), &["cp", f, &dst, "--part-size", "5MiB"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        boto3_object(server, &bucket, "big.bin")["sha256"],
        sha256_hex(&body)
    );
    assert!(boto3_uploads(server, &bucket).is_empty());
}

/// `--cutoff-mode cautious` with one object alone: an upload, a copy or a download whose
/// bytes do not fit in `--max-transfer` is not started (exit 8, nothing made: no object, no
/// upload, no partial file); resumed, it counts only what it has left to move, and one that
/// still does not fit keeps what it would resume as it was.
#[test]
fn a_cautious_cutoff_starts_no_single_object_that_would_pass_it() {
    let (server, bucket, home, file, body) = slow_start("resume-cautious-one", 61);
    let dst = format!("s3://{bucket}/big.bin");
    let f = file.to_str().unwrap();
    let run = |args: &[&str], limit: &[&str]| slow(server, home.path(), args, limit);
    let cautious = |max| ["--max-transfer", max, "--cutoff-mode", "cautious"];
    let stopped = "stopped: the next object would pass the --max-transfer of 30.00 MiB";

    // 40 MiB do not fit in 30: nothing starts.
    let o = run(&["cp", f, &dst], &cautious("30MiB"));
    expect_exit(&o, 8, stopped);
    expect_exit(
        &o,
        8,
        "more than the 31457280 left of the transfer allowance; not started",
    );
    assert!(boto3_keys(server, &bucket).is_empty());
    assert!(boto3_uploads(server, &bucket).is_empty());
    // Stopped softly at 6 MiB: the pair of parts in flight finished, 30 MiB are left, which
    // fit in 30 MiB but not in 20.
    let o = run(&["cp", f, &dst], &["--max-transfer", "6MiB"]);
    expect_exit(&o, 8, "has moved");
    assert_eq!(parts_kept(server, &bucket), 2);
    let o = run(&["cp", f, &dst], &cautious("20MiB"));
    // Run as it is, the same command is refused again: the way on says what to change.
    let larger = "to resume it, run the command again with a larger --max-transfer (or none)";
    expect_exit(&o, 8, "the upload is kept (journal up-");
    expect_exit(&o, 8, larger);
    assert_eq!(parts_kept(server, &bucket), 2);
    let o = run(&["cp", f, &dst], &cautious("30MiB"));
    resumed_whole(server, &bucket, &o, 10 << 20, &body);

    // A copy on the server, the same.
    let copy = format!("s3://{bucket}/copy.bin");
    let o = run(&["cp", &dst, &copy], &cautious("30MiB"));
    expect_exit(&o, 8, stopped);
    assert_eq!(boto3_keys(server, &bucket), ["big.bin"]);
    assert!(boto3_uploads(server, &bucket).is_empty());

    // A download makes no partial file; resumed, it counts what is left to fetch.
    let back = home.path().join("back.bin");
    let partial = home.path().join("back.bin.ferry-partial");
    let b = back.to_str().unwrap();
    let o = run(&["cp", &dst, b], &cautious("30MiB"));
    expect_exit(&o, 8, stopped);
    assert!(!back.exists() && !partial.exists());
    let o = run(&["cp", &dst, b], &["--max-transfer", "6MiB"]);
    expect_exit(&o, 8, "has moved");
    let kept = std::fs::read(&partial).unwrap();
    let o = run(&["cp", &dst, b], &cautious("20MiB"));
    expect_exit(
        &o,
        8,
        "stopped: the next object would pass the --max-transfer of 20.00 MiB",
    );
    expect_exit(&o, 8, larger);
    assert!(!back.exists() && std::fs::read(&partial).unwrap() == kept);
    let o = run(&["cp", &dst, b], &cautious("30MiB"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(crate::stdout(&o).contains("resumed"), "{}", text(&o));
    assert!(std::fs::read(&back).unwrap() == body);
}
