//! Paths that are not regular files, against SeaweedFS: a named pipe is read or written once,
//! in order, and never replaced by a file; a file of the kernel's (`/proc`, `/sys`) is read to
//! its end, whatever size it says; a link is followed and kept; `/dev/stdout` is
//! stdout; an interrupt ends ferry at once even while a pipe's other end is silent; a report
//! whose reader goes away does not stop the transfer.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{boto3_object, data, ferry, ferry_command, seaweed_bucket, sha256_hex, text};

fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(made.success(), "mkfifo {}", path.display());
}

fn is_fifo(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt as _;
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

#[test]
fn named_pipes_are_streamed_both_ways_and_never_replaced() {
    let (server, _client, bucket) = seaweed_bucket("pipes");
    let dir = tempfile::tempdir().unwrap();
    // Above the multipart threshold: the stream goes up in parts.
    let body = data(21 * 1024 * 1024 + 5, 41);
    let url = format!("s3://{bucket}/from-a-pipe.bin");

    // Up: a writer opens the pipe when ferry does, writes and closes. The code before opened
    // the path twice (a check, then the upload), so the second open waited for a writer
    // that had gone: ferry hung.
    let fifo = dir.path().join("in.fifo");
    mkfifo(&fifo);
    let writer = {
        let (fifo, body) = (fifo.clone(), body.clone());
        std::thread::spawn(move || std::fs::write(fifo, body).unwrap())
    };
    let o = ferry(server, dir.path(), &["cp", fifo.to_str().unwrap(), &url]);
    writer.join().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let seen = boto3_object(server, &bucket, "from-a-pipe.bin");
    assert_eq!(seen["sha256"], sha256_hex(&body));
    assert_eq!(seen["size"], body.len());
    assert!(is_fifo(&fifo));

    // A pipe has no name to give the key.
    let o = ferry(
        server,
        dir.path(),
        &["cp", fifo.to_str().unwrap(), &format!("s3://{bucket}/")],
    );
    crate::expect_exit(&o, 2, "give the destination key");

    // Down: the bytes go into the pipe, in order; the code before renamed a verified file
    // over it, replacing the pipe (and, for root, `/dev/null` itself).
    let out = dir.path().join("out.fifo");
    mkfifo(&out);
    let reader = {
        let out = out.clone();
        std::thread::spawn(move || std::fs::read(out).unwrap())
    };
    let o = ferry(
        server,
        dir.path(),
        &["cp", &url, out.to_str().unwrap(), "--part-size", "4MiB"],
    );
    let got = reader.join().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(sha256_hex(&got), sha256_hex(&body));
    assert!(is_fifo(&out), "the pipe was replaced");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(&format!("to {}", out.display())),
        "{}",
        text(&o)
    );
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(
        !names.iter().any(|n| n.contains("ferry-partial")),
        "{names:?}"
    );

    // A link is followed: the file it names takes the bytes, the link stays a link.
    let real = dir.path().join("real.bin");
    std::fs::write(&real, b"old").unwrap();
    let link = dir.path().join("link.bin");
    std::os::unix::fs::symlink("real.bin", &link).unwrap();
    let o = ferry(server, dir.path(), &["cp", &url, link.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(
        sha256_hex(&std::fs::read(&real).unwrap()),
        sha256_hex(&body)
    );

    // `/dev/stdout` is stdout: the data alone there, the report on stderr.
    let o = ferry(server, dir.path(), &["cp", &url, "/dev/stdout"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(sha256_hex(&o.stdout), sha256_hex(&body));
    assert!(String::from_utf8_lossy(&o.stderr).contains("to stdout"));
}

/// Sends SIGTERM to `child` and returns how long it took to exit, and its code.
/// `/proc/version` says it holds 0 bytes, `/sys/kernel/mm/transparent_hugepage/enabled` 4096:
/// each goes up as what a read gives (it went up empty, and the second failed as a file that
/// ended early), alone and in a tree, whose summary counts the bytes sent.
#[test]
fn files_of_the_kernel_go_up_as_they_read_not_as_their_size_says() {
    let (server, _client, bucket) = seaweed_bucket("procfs");
    let home = tempfile::tempdir().unwrap();
    let mut files = vec!["/proc/version", "/proc/sys/kernel/ostype"];
    let sysfs = "/sys/kernel/mm/transparent_hugepage/enabled";
    if Path::new(sysfs).exists() {
        files.push(sysfs);
    }
    for (i, path) in files.iter().enumerate() {
        let body = std::fs::read(path).unwrap();
        assert!(!body.is_empty(), "{path} reads empty here");
        let key = format!("one/{i}");
        let o = ferry(
            server,
            home.path(),
            &["cp", path, &format!("s3://{bucket}/{key}")],
        );
        assert!(o.status.success(), "{path}: {}", text(&o));
        let seen = boto3_object(server, &bucket, &key);
        assert_eq!(seen["sha256"], sha256_hex(&body), "{path}");
    }
    // A tree: two files of /proc/sys/kernel, by the filters (the others change as they read).
    let o = ferry(
        server,
        home.path(),
        &[
            "cp",
            "-r",
            "/proc/sys/kernel",
            &format!("s3://{bucket}/tree"),
            "--exclude",
            "*",
            "--include",
            "ostype",
            "--include",
            "osrelease",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let mut total = 0;
    for name in ["ostype", "osrelease"] {
        let body = std::fs::read(format!("/proc/sys/kernel/{name}")).unwrap();
        total += body.len();
        let seen = boto3_object(server, &bucket, &format!("tree/{name}"));
        assert_eq!(seen["sha256"], sha256_hex(&body), "{name}");
    }
    let summary = format!("upload: 2 objects, {total} bytes");
    assert!(crate::stdout(&o).contains(&summary), "{}", text(&o));
}

fn terminate(child: &mut std::process::Child) -> (Duration, Option<i32>) {
    signal(child, "-TERM")
}

/// Sends `signal` (`-TERM`, `-HUP`) to `child` and returns how long it took to exit, and its
/// code.
fn signal(child: &mut std::process::Child, signal: &str) -> (Duration, Option<i32>) {
    let _ = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status();
    let sent = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (sent.elapsed(), status.code());
        }
        if sent.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            child.wait().unwrap();
            return (sent.elapsed(), None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits (up to 20 s) until the bucket holds a multipart upload in progress.
fn wait_for_an_upload(server: &ferry_testkit::TestServer, bucket: &str) {
    let began = Instant::now();
    while crate::boto3_uploads(server, bucket).is_empty() {
        assert!(began.elapsed() < Duration::from_secs(20), "no upload began");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts `command` (a `ferry cp - s3://…`) and writes 40 MiB of `data(_, seed)` to its stdin,
/// left open, until the server holds the stream's multipart upload: the ferry, its stdin and
/// the bytes written.
fn streaming(
    command: &mut Command,
    server: &ferry_testkit::TestServer,
    bucket: &str,
    seed: u64,
) -> (std::process::Child, std::process::ChildStdin, Vec<u8>) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let body = data(40 * 1024 * 1024, seed);
    stdin.write_all(&body).unwrap();
    wait_for_an_upload(server, bucket);
    (child, stdin, body)
}

/// Sends `sig` to a ferry reading `stdin` (its writer still there): how long it took to
/// exit, its code and what it said on stderr.
fn stopped(
    child: &mut std::process::Child,
    stdin: std::process::ChildStdin,
    sig: &str,
) -> (Duration, Option<i32>, String) {
    let (took, code) = signal(child, sig);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    drop(stdin);
    (took, code, err)
}

/// Sends `sig` to a ferry reading `stdin` (its writer still there) and asserts that it stops
/// within 5 s as interrupted (exit 130), leaving no upload in the bucket.
fn stops_and_leaves_no_upload(
    child: &mut std::process::Child,
    stdin: std::process::ChildStdin,
    sig: &str,
    server: &ferry_testkit::TestServer,
    bucket: &str,
) {
    let (took, code, err) = stopped(child, stdin, sig);
    assert_eq!(code, Some(130), "{sig}: {err}");
    assert!(
        took < Duration::from_secs(5),
        "{sig}: took {took:?} to stop: {err}"
    );
    assert!(err.contains("interrupted"), "{sig}: {err}");
    assert!(
        crate::boto3_uploads(server, bucket).is_empty(),
        "{sig}: {err}"
    );
}

#[test]
fn an_interrupt_ends_ferry_while_a_pipe_is_silent() {
    let (server, _client, bucket) = seaweed_bucket("pipes-quiet");
    let dir = tempfile::tempdir().unwrap();
    let spawn = |args: &[&str], stdin: Stdio| {
        ferry_command(server.env(), dir.path())
            .args(args)
            .stdin(stdin)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };

    // stdin that has sent part of a stream and then says nothing, its writer still there:
    // tokio's read of stdin cannot be cancelled, and the runtime waited for it, so an
    // interrupted ferry stayed until the writer went.
    let mut child = spawn(
        &["cp", "-", &format!("s3://{bucket}/quiet.bin")],
        Stdio::piped(),
    );
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&data(64 * 1024, 3)).unwrap();
    std::thread::sleep(Duration::from_millis(700));
    stops_and_leaves_no_upload(&mut child, stdin, "-TERM", server, &bucket);

    // A hang-up (the terminal closed, the ssh session gone) is an interrupt too: a stream
    // whose multipart upload began, and which cannot resume, aborts it rather than leave it.
    let dst = format!("s3://{bucket}/hung-up.bin");
    let mut command = ferry_command(server.env(), dir.path());
    command.args(["cp", "-", &dst]);
    let (mut child, stdin, _) = streaming(&mut command, server, &bucket, 4);
    stops_and_leaves_no_upload(&mut child, stdin, "-HUP", server, &bucket);
    // Under `nohup`, which ignores SIGHUP for the program it starts, a hang-up changes
    // nothing: the stream goes up whole.
    let dst = format!("s3://{bucket}/nohup.bin");
    let mut command = crate::command_at(Path::new("nohup"), server.env(), dir.path());
    command
        .arg(env!("CARGO_BIN_EXE_ferry"))
        .args(["cp", "-", &dst, "--no-progress"]);
    let (child, stdin, body) = streaming(&mut command, server, &bucket, 5);
    let _ = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status();
    std::thread::sleep(Duration::from_millis(300));
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let seen = boto3_object(server, &bucket, "nohup.bin");
    assert_eq!(seen["sha256"], sha256_hex(&body));

    // A named pipe no writer has opened: ferry waits for one, as `cat` does, until told to
    // stop; then it stops.
    let fifo = dir.path().join("nobody.fifo");
    mkfifo(&fifo);
    let mut child = spawn(
        &[
            "cp",
            fifo.to_str().unwrap(),
            &format!("s3://{bucket}/never.bin"),
        ],
        Stdio::null(),
    );
    std::thread::sleep(Duration::from_millis(700));
    let (took, _) = terminate(&mut child);
    assert!(took < Duration::from_secs(5), "took {took:?} to stop");
    assert!(crate::boto3_uploads(server, &bucket).is_empty());
}

#[test]
fn a_second_interrupt_quits_without_waiting_for_the_wind_down() {
    use ferry_testkit::{Action, HoldProxy, Rule};
    let (server, _client, bucket) = seaweed_bucket("pipes-twice");
    let dir = tempfile::tempdir().unwrap();
    // A server that never answers the abort: winding down waits for it (a read timeout of
    // 60 s, then again).
    let hold = Rule {
        method: "DELETE",
        query: vec!["uploadId"],
        nth: 1,
        action: Action::Hold,
    };
    let proxy = HoldProxy::start(&server.endpoint, vec![hold]).unwrap();
    let dst = format!("s3://{bucket}/twice.bin");
    let mut command = ferry_command(proxy.server(server).env(), dir.path());
    command.args(["cp", "-", &dst]);
    let (mut child, stdin, _) = streaming(&mut command, server, &bucket, 6);
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    assert!(
        proxy.wait_triggered(Duration::from_secs(10)),
        "no abort was sent"
    );
    // Past 2 s of waiting, ferry says how to stop now.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(child.try_wait().unwrap().is_none(), "ferry did not wait");
    let (took, code, err) = stopped(&mut child, stdin, "-INT");
    assert_eq!(code, Some(130), "{err}");
    assert!(took < Duration::from_secs(5), "took {took:?}: {err}");
    assert!(err.contains("interrupt again to quit now"), "{err}");
    assert!(
        err.contains("ferry: interrupted again: quitting without waiting"),
        "{err}"
    );
    // The upload whose abort was held is what stays, as the message says; it goes as told.
    assert_eq!(crate::boto3_uploads(server, &bucket).len(), 1, "{err}");
    let all = format!("s3://{bucket}");
    let o = ferry(server, dir.path(), &["uploads", "abort", &all, "--all"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(crate::boto3_uploads(server, &bucket).is_empty());
}

#[test]
fn a_report_whose_reader_goes_away_loses_lines_not_objects() {
    let (server, _client, bucket) = seaweed_bucket("pipes-report");
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let files: Vec<(String, usize)> = (0..120).map(|i| (format!("f{i:03}"), 10 + i)).collect();
    let files: Vec<(&str, usize)> = files.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    crate::tree::make_tree(&src, &files);
    let tree = format!("s3://{bucket}/tree/");
    crate::copied_tree(server, dir.path(), src.to_str().unwrap(), &tree);
    // `ferry cp -r … | head -1`: the reader takes a line and goes. println! panicked on the
    // next (exit 101, the tree half done).
    let out = dir.path().join("out");
    let mut child = ferry_command(server.env(), dir.path())
        .args(["cp", "-r", &tree, out.to_str().unwrap(), "--no-progress"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(crate::tree::local_tree(&out), crate::tree::local_tree(&src));
    // A download to stdout reports on stderr; a stderr closed early loses the report, and
    // the data still comes whole.
    let mut child = ferry_command(server.env(), dir.path())
        .args(["cp", &format!("{tree}f119"), "-", "--no-progress"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(o.stdout, std::fs::read(src.join("f119")).unwrap());
}
