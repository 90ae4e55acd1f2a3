//! ferry-testkit: real local S3 servers for ferry's tests, and the helpers that check objects
//! independently of ferry.
//!
//! SeaweedFS (`weed mini`, installed by `scripts/testbed-setup` into the project's cache) runs
//! once per test run: the test command starts it and shares it through `FERRY_TEST_SEAWEEDFS`;
//! a test binary run without that variable starts its own on free loopback ports. Either way the
//! server dies with whoever started it, and a server that cannot start fails the run loudly.
//! Beside them, [`MemoryClient`] is an in-memory S3 for fast unit tests of the engine's
//! decisions, and [`FailingClient`] wraps any client with injected faults.

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

mod background;
pub mod creds;
mod failing;
mod in_process;
mod memory;
mod moto;
pub mod null_sink;
mod proxy;
mod wan;

pub use in_process::{NullSinkServer, RecordingServer, S3sFs, self_signed_cert};
pub use memory::MemoryClient;
pub use moto::{MotoIam, moto, moto_iam};
pub use wan::DelayProxy;

pub use proxy::{Action, Chaos, HoldProxy, Rule};

pub use failing::{
    CallHook, FailingClient, Fault, access_denied, clock_skew, expired_token, internal_error,
    reset, slow_down, wrong_region,
};

use anyhow::{Context, Result, bail};

/// Access key of the SeaweedFS test identity.
pub const ACCESS_KEY: &str = "testkey";
/// Secret key of the SeaweedFS test identity.
pub const SECRET_KEY: &str = "testsecret";
/// Region the tests sign for.
pub const REGION: &str = "us-east-1";

/// The variable through which the test command shares its SeaweedFS endpoint.
pub const SEAWEEDFS_ENV: &str = "FERRY_TEST_SEAWEEDFS";

/// A running S3-compatible server on loopback.
#[derive(Debug, Clone)]
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// Access key.
    pub access_key: String,
    /// Secret key.
    pub secret_key: String,
    /// Region.
    pub region: String,
}

impl TestServer {
    /// Environment variables that point an AWS tool (ferry, the aws cli, boto3) at this server,
    /// with no profile files from the machine.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID".into(), self.access_key.clone()),
            ("AWS_SECRET_ACCESS_KEY".into(), self.secret_key.clone()),
            ("AWS_DEFAULT_REGION".into(), self.region.clone()),
            ("AWS_REGION".into(), self.region.clone()),
            ("AWS_ENDPOINT_URL".into(), self.endpoint.clone()),
            ("AWS_CONFIG_FILE".into(), "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE".into(), "/dev/null".into()),
        ]
    }
}

/// The shared SeaweedFS of this test run, started on first use if the test command did not.
/// Panics with a clear message if it cannot start: a missing server is a failure, not a skip.
pub fn seaweedfs() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        if let Ok(endpoint) = std::env::var(SEAWEEDFS_ENV) {
            return TestServer {
                endpoint,
                access_key: ACCESS_KEY.into(),
                secret_key: SECRET_KEY.into(),
                region: REGION.into(),
            };
        }
        let weed = Seaweed::start().unwrap_or_else(|e| {
            panic!("cannot start SeaweedFS for the tests: {e:#}\n(run ./scripts/test, which installs it)")
        });
        let server = weed.server.clone();
        // Kept for the life of the process: when it exits, the pipe closes and the watcher
        // stops the server.
        static KEEP: Mutex<Vec<Seaweed>> = Mutex::new(Vec::new());
        KEEP.lock().unwrap().push(weed);
        server
    })
}

/// A SeaweedFS process under a watcher that stops it when [`Seaweed`] is dropped or this
/// process dies (the watcher waits for its stdin to close, then kills the server and deletes
/// its data).
#[derive(Debug)]
pub struct Seaweed {
    /// How to reach it.
    pub server: TestServer,
    watcher: Child,
    pipe: Option<ChildStdin>,
    log: PathBuf,
    https_endpoint: Option<String>,
}

impl Seaweed {
    /// Installs (if needed) and starts SeaweedFS on free loopback ports, and waits until it
    /// answers S3 requests.
    pub fn start() -> Result<Self> {
        Self::start_with(None)
    }

    /// Like [`start`](Self::start), also serving HTTPS with the given PEM certificate and key;
    /// the HTTPS endpoint (`https://localhost:PORT`) is [`Seaweed::https_endpoint`].
    pub fn start_with(tls: Option<(&str, &str)>) -> Result<Self> {
        // Free ports are picked, released, then bound by SeaweedFS: another process may take
        // one in between. Then SeaweedFS exits ("address already in use"); it starts again
        // on other ports.
        let mut tries = 0;
        loop {
            tries += 1;
            match Self::try_start(tls) {
                Err(e) if tries < 3 && format!("{e:#}").contains("address already in use") => {
                    eprintln!("ferry-testkit: a SeaweedFS port was taken; starting it again")
                }
                other => return other,
            }
        }
    }

    /// One start of [`start_with`](Self::start_with), on ports free a moment before.
    fn try_start(tls: Option<(&str, &str)>) -> Result<Self> {
        let weed = weed_binary()?;
        let dir = tempfile::Builder::new()
            .prefix("ferry-seaweedfs-")
            .tempdir()
            .context("creating the server's data folder")?
            .keep();
        let config = dir.join("s3.json");
        std::fs::write(
            &config,
            format!(
                r#"{{"identities":[{{"name":"tester","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
            ),
        )?;
        let ports = free_ports(6)?;
        let [master, volume, filer, s3, admin, https] =
            [ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]];
        let log = dir.join("weed.log");
        let mut args = vec![
            "mini".to_string(),
            format!("-dir={}", dir.join("data").display()),
            "-ip=127.0.0.1".into(),
            "-ip.bind=127.0.0.1".into(),
            format!("-master.port={master}"),
            format!("-master.port.grpc={}", master + 10000),
            format!("-volume.port={volume}"),
            format!("-volume.port.grpc={}", volume + 10000),
            format!("-filer.port={filer}"),
            format!("-filer.port.grpc={}", filer + 10000),
            format!("-s3.port={s3}"),
            format!("-s3.port.grpc={}", s3 + 10000),
            format!("-admin.port={admin}"),
            format!("-admin.port.grpc={}", admin + 10000),
            // Tests talk to 127.0.0.1 only: no anonymous statistics to the internet.
            "-master.telemetry=false".into(),
            // Every bucket grows its own volumes (7 at a time, 128 MiB each); left to itself
            // the volume count is capped by free disk / 128 MiB, which a test run with a few
            // dozen buckets and some GiB exhausts ("no free volumes left": HTTP 500). The
            // count is only a cap: volumes take the disk space of what they hold.
            "-volume.max=10000".into(),
            "-webdav=false".into(),
            "-admin.ui=false".into(),
            "-s3.port.iceberg=0".into(),
            "-s3.port.lance=0".into(),
            format!("-s3.config={}", config.display()),
        ];
        let mut https_endpoint = None;
        if let Some((cert, key)) = tls {
            let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
            std::fs::write(&cert_path, cert)?;
            std::fs::write(&key_path, key)?;
            args.push(format!("-s3.port.https={https}"));
            args.push(format!("-s3.cert.file={}", cert_path.display()));
            args.push(format!("-s3.key.file={}", key_path.display()));
            https_endpoint = Some(format!("https://localhost:{https}"));
        }
        let mut watcher = spawn_watched(&weed, &args, &dir, &log)?;
        let pipe = watcher.stdin.take();
        let mut me = Self {
            server: TestServer {
                endpoint: format!("http://127.0.0.1:{s3}"),
                access_key: ACCESS_KEY.into(),
                secret_key: SECRET_KEY.into(),
                region: REGION.into(),
            },
            watcher,
            pipe,
            log,
            https_endpoint,
        };
        me.wait_ready(Duration::from_secs(60))?;
        if tls.is_some() {
            let start = Instant::now();
            while std::net::TcpStream::connect(("127.0.0.1", https)).is_err() {
                if start.elapsed() > Duration::from_secs(30) {
                    bail!(
                        "SeaweedFS's HTTPS port did not open; its log:\n{}",
                        tail(&me.log)
                    );
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Ok(me)
    }

    /// The HTTPS endpoint, when started with a certificate.
    pub fn https_endpoint(&self) -> Option<&str> {
        self.https_endpoint.as_deref()
    }

    /// The server's log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<()> {
        let start = Instant::now();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let client = s3_client(&self.server)?;
        let mut last = String::new();
        while start.elapsed() < limit {
            if let Some(status) = self.watcher.try_wait()? {
                bail!(
                    "SeaweedFS exited ({status}) before it was ready; its log:\n{}",
                    tail(&self.log)
                );
            }
            // Ready means a real S3 request round-trips (the S3 port opens before the filer
            // behind it is up).
            let probe = ferry_s3::CreateBucketRequest {
                bucket: "ferry-ready-probe".into(),
                ..Default::default()
            };
            match rt.block_on(ferry_s3::ObjectClient::create_bucket(&client, &probe)) {
                Ok(()) => return Ok(()),
                Err(e) if e.code() == Some("BucketAlreadyExists") => return Ok(()),
                Err(e) if e.code() == Some("BucketAlreadyOwnedByYou") => return Ok(()),
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!(
            "SeaweedFS did not answer S3 requests within {limit:?} (last error: {last}); its log:\n{}",
            tail(&self.log)
        )
    }

    /// Stops the server and waits for it to be gone.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        if let Some(mut pipe) = self.pipe.take() {
            let _ = pipe.flush();
            drop(pipe);
            let _ = self.watcher.wait();
        }
    }
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

/// Runs `program args` under `sh`, which kills it (SIGINT, then SIGKILL) and removes `dir` once
/// its stdin reaches end of file, that is, once the process holding the other end is gone. The
/// watcher (and its `cat`) ignore SIGINT, SIGTERM and SIGHUP, so that a signal to the whole
/// process group (Ctrl-C, `kill -- -PGID`) still ends in this clean-up rather than leaving the
/// server's data folder (GiBs after a heavy run) behind.
fn spawn_watched(program: &Path, args: &[String], dir: &Path, log: &Path) -> Result<Child> {
    const WATCHER: &str = r#"
prog="$1"; dir="$2"; log="$3"; shift 3
"$prog" "$@" </dev/null >"$log" 2>&1 &
pid=$!
trap '' INT TERM HUP
cat >/dev/null
kill -INT "$pid" 2>/dev/null
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
rm -rf "$dir"
"#;
    Command::new("sh")
        .arg("-c")
        .arg(WATCHER)
        .arg("ferry-watch")
        .arg(program)
        .arg(dir)
        .arg(log)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting the server watcher (sh)")
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// The project's root folder (where `scripts/` is).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/testkit is two levels below the root")
        .to_path_buf()
}

/// The venv's `bin` folder with `weed`, `python` (boto3) and `aws`, installing it if needed.
pub fn tools_bin() -> Result<PathBuf> {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    if let Some(b) = BIN.get() {
        return Ok(b.clone());
    }
    let script = project_root().join("scripts/testbed-setup");
    let out = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!("{} failed ({})", script.display(), out.status);
    }
    let bin = PathBuf::from(String::from_utf8(out.stdout)?.trim());
    Ok(BIN.get_or_init(|| bin).clone())
}

/// libfaketime, as the venv's `libfaketime` wheel ships it built: a program started with it in
/// `LD_PRELOAD` and `FAKETIME=+30m` sees a clock 30 minutes ahead (set
/// `FAKETIME_DONT_FAKE_MONOTONIC=1` too, so that its timers run as they should).
pub fn faketime_library() -> Result<PathBuf> {
    let venv = tools_bin()?
        .parent()
        .context("the venv's bin folder has a parent")?
        .to_path_buf();
    for python in std::fs::read_dir(venv.join("lib"))? {
        let lib = python?
            .path()
            .join("site-packages/libfaketime/vendor/libfaketime/src/libfaketime.so.1");
        if lib.exists() {
            return Ok(lib);
        }
    }
    bail!("no libfaketime.so.1 under {}/lib", venv.display())
}

fn weed_binary() -> Result<PathBuf> {
    if let Ok(w) = std::env::var("FERRY_WEED") {
        return Ok(PathBuf::from(w));
    }
    let weed = tools_bin()?.join("weed");
    if !weed.exists() {
        bail!("{} is missing after set-up", weed.display());
    }
    Ok(weed)
}

/// Picks `n` distinct free loopback ports whose port + 10000 (SeaweedFS's gRPC convention) is
/// free too, both below the kernel's ephemeral range (32768 on, by default), which outgoing
/// connections take their local ports from: a port picked there could be taken by any
/// connection between the pick and the server's bind.
fn free_ports(n: usize) -> Result<Vec<u16>> {
    let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768);
    // Ports from 10000 up; at least a few thousand to spread concurrent runs.
    let span = ephemeral.saturating_sub(20000).max(5000);
    let mut held = Vec::new();
    let mut ports = Vec::new();
    let seed = std::process::id() as u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos() as u64;
    let mut x = seed | 1;
    for _ in 0..10_000 {
        if ports.len() == n {
            break;
        }
        // xorshift: good enough to spread port choices between concurrent runs.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let port = (10000 + x % span as u64) as u16;
        if ports.contains(&port) || ports.contains(&(port + 10000)) {
            continue;
        }
        let (Ok(a), Ok(b)) = (
            TcpListener::bind(("127.0.0.1", port)),
            TcpListener::bind(("127.0.0.1", port + 10000)),
        ) else {
            continue;
        };
        held.push(a);
        held.push(b);
        ports.push(port);
    }
    if ports.len() < n {
        bail!("could not find {n} free loopback ports");
    }
    Ok(ports)
}

/// A ferry-s3 client for a test server (path-style, its credentials, no profile files).
pub fn s3_client(server: &TestServer) -> Result<ferry_s3::S3Client> {
    let env = ferry_s3::Env::from_map(Default::default());
    let config = ferry_s3::ClientConfig::resolve(
        &env,
        ferry_s3::Overrides {
            region: Some(server.region.clone()),
            endpoint_url: Some(server.endpoint.clone()),
            credentials: Some(ferry_s3::Credentials::new(
                server.access_key.clone(),
                server.secret_key.clone(),
                None,
            )),
            ..Default::default()
        },
    )?;
    Ok(ferry_s3::S3Client::new(config)?)
}

/// A bucket name unique to this test and run: `prefix-<pid>-<counter>-<nanos>`.
pub fn unique_bucket(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
    .to_ascii_lowercase()
}

/// Runs a Python snippet with boto3 (from the project's venv) against `server`, the
/// independent client that checks what ferry did. `args` reach the script as `sys.argv[1:]`;
/// it prints JSON on stdout, which is returned parsed.
pub fn boto3(server: &TestServer, script: &str, args: &[&str]) -> Result<serde_json::Value> {
    let python = tools_bin()?.join("python");
    let prelude = format!(
        "import boto3, botocore, json, sys\n\
         from botocore.config import Config\n\
         s3 = boto3.client('s3', endpoint_url={:?}, aws_access_key_id={:?}, aws_secret_access_key={:?}, region_name={:?}, config=Config(s3={{'addressing_style': 'path'}}, retries={{'max_attempts': 1}}))\n",
        server.endpoint, server.access_key, server.secret_key, server.region
    );
    let out = Command::new(python)
        .arg("-c")
        .arg(format!("{prelude}{script}"))
        .args(args)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .context("running python with boto3")?;
    if !out.status.success() {
        bail!(
            "boto3 script failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8(out.stdout)?;
    serde_json::from_str(text.trim()).with_context(|| format!("boto3 printed non-JSON: {text}"))
}

/// Runs `cmd` to its end, as [`Command::output`] does, and samples its peak resident memory
/// (`VmHWM` in `/proc/PID/status`) every 10 ms: returns the output and that peak in KiB (the
/// last 10 ms before exit can be missed). A peak over 64 MiB is described on stderr (which
/// the test harness shows when the test fails): what was mapped, by which program, with how
/// many threads, at the sample where it rose. Samples taken before the command's program
/// runs (between the spawn and the exec) do not count.
pub fn output_with_peak_rss(cmd: &mut Command) -> std::io::Result<(std::process::Output, u64)> {
    use std::io::Read;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let err = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let status_path = format!("/proc/{}/status", child.id());
    let exe_path = format!("/proc/{}/exe", child.id());
    let mut peak = 0u64;
    let mut at_peak = String::new();
    let started = std::time::Instant::now();
    let mut sampled = Duration::ZERO;
    // Until its exec has switched its memory, the child is still this program: spawned as
    // vfork does, sharing this process's memory (a test binary running many tests: hundreds
    // of MiB), and the spawn returns a moment before that switch (CI once read 594 MiB there,
    // one thread, at 0.000 s). Those samples are not the command's. Its program is read
    // before its status, and an exec is not undone.
    let this = std::env::current_exe().ok();
    let status = loop {
        let exe = std::fs::read_link(&exe_path).ok();
        if exe.is_some()
            && exe != this
            && let Ok(s) = std::fs::read_to_string(&status_path)
            && let Some(kib) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            && kib > peak
        {
            // When it rose: between the sample before (at `sampled`, with `peak`) and now.
            let now = started.elapsed();
            let before = format!("{peak} KiB at {:.3} s", sampled.as_secs_f64());
            peak = kib;
            let exe = exe.unwrap_or_default();
            let keep = [
                "VmPeak", "VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem", "Threads",
            ];
            let fields = s
                .lines()
                .filter(|l| keep.iter().any(|k| l.starts_with(k)))
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join(", ");
            at_peak = format!(
                "{} at {:.3} s (the sample before: {before}): {fields}",
                exe.display(),
                now.as_secs_f64()
            );
        }
        sampled = started.elapsed();
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if peak > 64 * 1024 {
        eprintln!("peak RSS {peak} KiB; at the sample where it rose: {at_peak}");
    }
    let output = std::process::Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    };
    Ok((output, peak))
}
