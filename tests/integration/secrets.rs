//! Secrets and file modes: upload, download, copy and failures run at the most verbose tracing
//! with `--json`; no output, error, journal or partial file holds the secret key, the session
//! token or an SSE-C key. Journals, partial downloads and spill files are created 0600.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use base64::Engine as _;
use ferry_testkit::{Action, HoldProxy, Rule, TestServer};

use crate::{data, seaweed_bucket, text};

const MIB: usize = 1024 * 1024;

/// A session token (moto takes any; SeaweedFS refuses one it did not issue): it must never be
/// shown.
const SESSION_TOKEN: &str = "FwoGZXIvYXdzEXAMPLEsessionTOKENdoNotPrint0123456789abcdef";

/// ferry at `-vv --json` with `extra` in its environment.
fn verbose(server: &TestServer, home: &Path, args: &[&str], extra: &[(&str, &str)]) -> Output {
    crate::ferry_command(server.env(), home)
        .envs(extra.iter().copied())
        .arg("-vv")
        .args(args)
        .arg("--json")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Every file under `dir`, recursively.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn no_secret_appears_in_output_journals_or_errors() {
    let (server, _client, bucket) = seaweed_bucket("secrets");
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    let file = dir.join("f.bin");
    std::fs::write(&file, data(12 * MIB, 71)).unwrap();
    let f = file.to_str().unwrap();
    let raw_a = [0x5au8; 32];
    let raw_b = [0xa5u8; 32];
    let key_a = base64::engine::general_purpose::STANDARD.encode(raw_a);
    let key_b = base64::engine::general_purpose::STANDARD.encode(raw_b);
    let key_file = dir.join("key-a.bin");
    std::fs::write(&key_file, raw_a).unwrap();
    let key_at = format!("@{}", key_file.display());
    let url = format!("s3://{bucket}/sealed");
    let out = dir.join("out.bin");
    let o_s = out.to_str().unwrap();
    let mut runs: Vec<(&str, Output, bool)> = Vec::new();
    let mut run_on = |server: &TestServer,
                      name: &'static str,
                      args: Vec<&str>,
                      extra: &[(&str, &str)],
                      ok: bool| {
        let o = verbose(server, dir, &args, extra);
        assert_eq!(o.status.success(), ok, "{name}: {}", text(&o));
        runs.push((name, o, ok));
    };
    // With a session token, on moto: a multipart upload, a download, a failure.
    let (moto, moto_bucket) = crate::moto_bucket("secrets");
    let token = [("AWS_SESSION_TOKEN", SESSION_TOKEN)];
    let moto_url = format!("s3://{moto_bucket}/t");
    run_on(
        moto,
        "upload with a session token",
        vec![
            "cp",
            f,
            &moto_url,
            "--part-size",
            "5MiB",
            "--checksum",
            "crc32",
        ],
        &token,
        true,
    );
    let moto_out = format!("{o_s}.moto");
    run_on(
        moto,
        "download with a session token",
        vec!["cp", &moto_url, &moto_out],
        &token,
        true,
    );
    run_on(
        moto,
        "a failure with a session token: a missing object",
        vec!["cp", &format!("s3://{moto_bucket}/missing"), &moto_out],
        &token,
        false,
    );
    let mut run = |name: &'static str, args: Vec<&str>, extra: &[(&str, &str)], ok: bool| {
        run_on(server, name, args, extra, ok)
    };
    run(
        "multipart upload with an SSE-C key",
        vec!["cp", f, &url, "--part-size", "5MiB", "--sse-c-key", &key_a],
        &[],
        true,
    );
    run(
        "download with the key from a file",
        vec!["cp", &url, o_s, "--sse-c-key", &key_at],
        &[],
        true,
    );
    run(
        "copy with source and destination keys",
        vec![
            "cp",
            &url,
            &format!("s3://{bucket}/copy"),
            "--source-sse-c-key",
            &key_a,
            "--sse-c-key",
            &key_b,
        ],
        &[],
        true,
    );
    run(
        "a failure: download with the wrong key",
        vec!["cp", &url, &format!("{o_s}.2"), "--sse-c-key", &key_b],
        &[],
        false,
    );
    run(
        "a failure: a wrong secret key",
        vec!["cp", f, &format!("s3://{bucket}/denied")],
        &[("AWS_SECRET_ACCESS_KEY", "wRoNgSeCrEtKeYwRoNgSeCrEtKeY0123")],
        false,
    );
    // A failure that keeps a journal: the server stops answering part 2.
    let proxy = HoldProxy::start(
        &server.endpoint,
        (1..=6)
            .map(|nth| Rule {
                method: "PUT",
                query: vec!["partNumber=2"],
                nth,
                action: Action::Respond(503, "SlowDown", None),
            })
            .collect(),
    )
    .unwrap();
    run(
        "a failure kept for resume",
        vec![
            "--endpoint-url",
            &proxy.endpoint,
            "cp",
            f,
            &format!("s3://{bucket}/kept"),
            "--part-size",
            "5MiB",
            "--sse-c-key",
            &key_a,
        ],
        &[],
        false,
    );
    let journals = files_under(&dir.join(".local/state/ferry"));
    assert!(!journals.is_empty(), "the failed upload kept its journal");

    let secrets: Vec<(&str, String)> = vec![
        ("secret key", server.secret_key.clone()),
        (
            "wrong secret key",
            "wRoNgSeCrEtKeYwRoNgSeCrEtKeY0123".into(),
        ),
        ("session token", SESSION_TOKEN.into()),
        ("SSE-C key A", key_a.clone()),
        ("SSE-C key B", key_b.clone()),
        ("SSE-C key A, hex", hex::encode(raw_a)),
        ("SSE-C key B, hex", hex::encode(raw_b)),
    ];
    let mut scanned = 0usize;
    for (name, o, _) in &runs {
        let all = [o.stdout.as_slice(), o.stderr.as_slice()].concat();
        let shown = String::from_utf8_lossy(&all);
        assert!(
            shown.contains("DEBUG"),
            "{name}: not at the most verbose level"
        );
        for (what, secret) in &secrets {
            assert!(
                !shown.contains(secret.as_str()),
                "{name}: the {what} was shown"
            );
        }
        assert!(!contains_bytes(&all, &raw_a) && !contains_bytes(&all, &raw_b));
        scanned += all.len();
    }
    for path in files_under(dir).into_iter().filter(|p| {
        let n = p.to_string_lossy();
        !n.ends_with(".bin") && !n.contains("out.bin") && !n.contains("key-a")
    }) {
        let bytes = std::fs::read(&path).unwrap();
        let shown = String::from_utf8_lossy(&bytes);
        for (what, secret) in &secrets {
            assert!(
                !shown.contains(secret.as_str()),
                "{}: the {what} is in it",
                path.display()
            );
        }
        assert!(!contains_bytes(&bytes, &raw_a) && !contains_bytes(&bytes, &raw_b));
        scanned += bytes.len();
    }
    eprintln!(
        "scanned {scanned} bytes of output, errors and journals from {} runs: no secret",
        runs.len()
    );
}

fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Mode bits of `path` (following a /proc fd link to a deleted file too).
fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Files that `pid` holds open and that are deleted (spill files), with their modes.
fn deleted_open_files(pid: u32) -> Vec<(String, u32)> {
    let fds = format!("/proc/{pid}/fd");
    std::fs::read_dir(&fds)
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let target = std::fs::read_link(e.path()).ok()?;
            let t = target.to_string_lossy().to_string();
            (t.starts_with('/') && t.ends_with("(deleted)")).then(|| (t, mode(&e.path())))
        })
        .collect()
}

/// Starts ferry through a proxy that holds the first request matching `rule`, waits until it
/// is held (ferry frozen there), runs `inspect` on the process id, then kills ferry.
fn while_held(
    server: &TestServer,
    home: &Path,
    rule: Rule,
    args: &[&str],
    stdin: Option<&Path>,
    inspect: impl FnOnce(u32),
) {
    let proxy = HoldProxy::start(&server.endpoint, vec![rule]).unwrap();
    let mut c: Command = crate::ferry_command(server.env(), home);
    c.env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match stdin {
        Some(f) => c.stdin(std::fs::File::open(f).unwrap()),
        None => c.stdin(Stdio::null()),
    };
    let mut child = c.spawn().unwrap();
    let held = proxy.wait_triggered(Duration::from_secs(60));
    if held {
        // Let the other tasks reach their own held requests.
        std::thread::sleep(Duration::from_millis(300));
        inspect(child.id());
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(held, "the proxy never held {args:?}");
}

#[test]
fn journals_partial_downloads_and_spill_files_are_0600() {
    let (server, _client, bucket) = seaweed_bucket("modes");
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    let file = dir.join("f.bin");
    std::fs::write(&file, data(40 * MIB, 72)).unwrap();
    let f = file.to_str().unwrap();
    let hold = |method: &'static str, query: &'static str, nth: u32| Rule {
        method,
        query: vec![query],
        nth,
        action: Action::Hold,
    };
    // A file upload held at part 3: its journal.
    let url = format!("s3://{bucket}/f");
    let args = ["cp", f, &url, "--part-size", "5MiB", "--concurrency", "1"];
    while_held(
        server,
        dir,
        hold("PUT", "partNumber=3", 1),
        &args,
        None,
        |_| {
            let journals = files_under(&dir.join(".local/state/ferry"));
            assert!(!journals.is_empty(), "no journal");
            for j in journals {
                assert_eq!(mode(&j), 0o600, "{}", j.display());
            }
        },
    );
    // A stream upload under a small budget held at part 4: parts beyond the budget are spilled
    // to unlinked temporary files.
    let args = [
        "cp",
        "-",
        "s3://BUCKET/stream",
        "--part-size",
        "5MiB",
        "--concurrency",
        "4",
        "--memory-limit",
        "8MiB",
    ]
    .map(|a| a.replace("BUCKET", &bucket));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut spills = 0;
    while_held(
        server,
        dir,
        hold("PUT", "partNumber=4", 1),
        &args,
        Some(&file),
        |pid| {
            // Every request after the held one is held too, so the parts read after it stay
            // open; on a loaded machine they may take a while to be read.
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while spills == 0 && std::time::Instant::now() < deadline {
                for (path, m) in deleted_open_files(pid) {
                    assert_eq!(m, 0o600, "{path}");
                    spills += 1;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        },
    );
    assert!(spills > 0, "no part was spilled");
    // A download held at its third range: the partial file and its journal.
    let o = crate::ferry(server, dir, &["cp", f, &url, "--restart"]);
    assert!(o.status.success(), "{}", text(&o));
    let local = dir.join("down.bin");
    let l = local.to_str().unwrap();
    let args = ["cp", &url, l, "--part-size", "5MiB", "--concurrency", "1"];
    while_held(server, dir, hold("GET", "", 3), &args, None, |_| {
        let partial = dir.join("down.bin.ferry-partial");
        let journal = dir.join("down.bin.ferry-partial.journal");
        assert_eq!(mode(&partial), 0o600);
        assert_eq!(mode(&journal), 0o600);
    });
    eprintln!("journal, {spills} spill files, partial and its journal: all 0600");
}
