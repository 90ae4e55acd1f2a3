//! `ferry-testbed [--null-sink | --wan MS] -- COMMAND [ARGS…]`: starts one SeaweedFS on free
//! loopback ports (or, with `--null-sink`, the in-process null sink), runs the command with
//! `FERRY_TEST_SEAWEEDFS` (or `FERRY_TEST_NULL_SINK`) and AWS variables for other tools pointing
//! at it, then stops the server and exits with the command's status. With `--wan MS`, the
//! command reaches SeaweedFS through a proxy that delays each direction by MS milliseconds (a
//! round trip of twice that). With `--requests FILE`, the command reaches SeaweedFS through a
//! proxy that writes each request's method and target to FILE, a line each (the sync
//! benchmark counts requests so). When the command fails, the server's log is copied to the
//! temp folder (its data folder goes with the server) and the copy named. The test, demo and
//! benchmark scripts use it.
//!
//! `ferry-testbed --write-pattern FILE SIZE` writes the bytes the null sink serves for any
//! object of SIZE bytes: uploaded to the sink, such a file downloads back checking out.
//!
//! `ferry-testbed --loopback-floor SIZE` sends SIZE bytes over one loopback TCP connection in
//! 1 MiB writes and prints the rate: the floor every benchmark figure is read against.

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--write-pattern") {
        return write_pattern(&args[1..]);
    }
    if args.first().is_some_and(|a| a == "--loopback-floor") {
        return loopback_floor(&args[1..]);
    }
    let cmd: Vec<&String> = match args.iter().position(|a| a == "--") {
        Some(i) => args[i + 1..].iter().collect(),
        None => args.iter().collect(),
    };
    let null_sink = args.first().is_some_and(|a| a == "--null-sink");
    let wan = match args.first().map(String::as_str) {
        Some("--wan") => match args.get(1).and_then(|m| m.parse::<u64>().ok()) {
            Some(ms) => Some(std::time::Duration::from_millis(ms)),
            None => {
                eprintln!("usage: ferry-testbed --wan MS -- COMMAND [ARGS...]");
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    let requests = match args.first().map(String::as_str) {
        Some("--requests") => match args.get(1) {
            Some(f) => Some(f.clone()),
            None => {
                eprintln!("usage: ferry-testbed --requests FILE -- COMMAND [ARGS...]");
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    let Some((program, rest)) = cmd.split_first() else {
        eprintln!("usage: ferry-testbed [--null-sink] -- COMMAND [ARGS...]");
        return ExitCode::from(2);
    };
    if null_sink {
        let sink = match ferry_testkit::NullSinkServer::start() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("ferry-testbed: cannot start the null sink: {e:#}");
                return ExitCode::from(1);
            }
        };
        eprintln!("ferry-testbed: null sink ready at {}", sink.server.endpoint);
        let status = Command::new(program)
            .args(rest)
            .env("FERRY_TEST_NULL_SINK", &sink.server.endpoint)
            .envs(sink.server.env())
            .status();
        drop(sink);
        return match status {
            Ok(s) => ExitCode::from(s.code().map_or(1, |c| c as u8)),
            Err(e) => {
                eprintln!("ferry-testbed: cannot run {program}: {e}");
                ExitCode::from(1)
            }
        };
    }
    let weed = match ferry_testkit::Seaweed::start() {
        Ok(w) => w,
        Err(e) => {
            eprintln!("ferry-testbed: cannot start SeaweedFS: {e:#}");
            return ExitCode::from(1);
        }
    };
    eprintln!(
        "ferry-testbed: SeaweedFS ready at {} (log {})",
        weed.server.endpoint,
        weed.log().display()
    );
    let proxy = match wan.map(|d| ferry_testkit::DelayProxy::start(&weed.server.endpoint, d)) {
        Some(Ok(p)) => {
            eprintln!(
                "ferry-testbed: {} delays each direction by {:?}",
                p.endpoint,
                wan.unwrap_or_default()
            );
            Some(p)
        }
        Some(Err(e)) => {
            eprintln!("ferry-testbed: cannot start the delay proxy: {e}");
            weed.stop();
            return ExitCode::from(1);
        }
        None => None,
    };
    let counting = match requests.map(|f| {
        let file = std::fs::File::create(&f)?;
        let p = ferry_testkit::HoldProxy::start(&weed.server.endpoint, Vec::new())?;
        p.log_to(file);
        Ok::<_, std::io::Error>(p)
    }) {
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            eprintln!("ferry-testbed: cannot start the counting proxy: {e}");
            weed.stop();
            return ExitCode::from(1);
        }
        None => None,
    };
    let reach = match (&proxy, &counting) {
        (Some(p), _) => ferry_testkit::TestServer {
            endpoint: p.endpoint.clone(),
            ..weed.server.clone()
        },
        (None, Some(p)) => ferry_testkit::TestServer {
            endpoint: p.endpoint.clone(),
            ..weed.server.clone()
        },
        (None, None) => weed.server.clone(),
    };
    let status = Command::new(program)
        .args(rest)
        .env(ferry_testkit::SEAWEEDFS_ENV, &reach.endpoint)
        .envs(reach.env())
        .status();
    drop(proxy);
    drop(counting);
    if !status.as_ref().is_ok_and(|s| s.success()) {
        keep_log(weed.log());
    }
    weed.stop();
    eprintln!("ferry-testbed: SeaweedFS stopped");
    match status {
        Ok(s) => ExitCode::from(s.code().map_or(1, |c| c as u8)),
        Err(e) => {
            eprintln!("ferry-testbed: cannot run {program}: {e}");
            ExitCode::from(1)
        }
    }
}

/// The command failed: SeaweedFS's log is copied out of its data folder (which goes with the
/// server), so that a failure the server had a hand in (its own 500s, a disk near full) can be
/// read after the run.
fn keep_log(log: &std::path::Path) {
    let kept = std::env::temp_dir().join(format!(
        "ferry-seaweedfs-{}-{}.log",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    ));
    match std::fs::copy(log, &kept) {
        Ok(_) => eprintln!(
            "ferry-testbed: the command failed; SeaweedFS's log is kept in {}",
            kept.display()
        ),
        Err(e) => eprintln!("ferry-testbed: could not keep SeaweedFS's log: {e}"),
    }
}

fn write_pattern(args: &[String]) -> ExitCode {
    let (Some(path), Some(size)) = (
        args.first(),
        args.get(1).and_then(|s| s.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: ferry-testbed --write-pattern FILE SIZE");
        return ExitCode::from(2);
    };
    let write = || -> std::io::Result<()> {
        use std::io::Write as _;
        let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
        let step = 1 << 20;
        let mut at = 0;
        while at < size {
            let end = (at + step).min(size);
            f.write_all(&ferry_testkit::null_sink::null_sink_bytes(at, end))?;
            at = end;
        }
        f.flush()
    };
    match write() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferry-testbed: cannot write {path}: {e}");
            ExitCode::from(1)
        }
    }
}

fn loopback_floor(args: &[String]) -> ExitCode {
    use std::io::{Read as _, Write as _};
    let Some(size) = args.first().and_then(|s| s.parse::<u64>().ok()) else {
        eprintln!("usage: ferry-testbed --loopback-floor SIZE");
        return ExitCode::from(2);
    };
    let run = || -> std::io::Result<f64> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let reader = std::thread::spawn(move || -> std::io::Result<u64> {
            let (mut s, _) = listener.accept()?;
            let mut buf = vec![0u8; 1 << 20];
            let mut got = 0u64;
            loop {
                match s.read(&mut buf)? {
                    0 => return Ok(got),
                    n => got += n as u64,
                }
            }
        });
        let start = std::time::Instant::now();
        let mut s = std::net::TcpStream::connect(addr)?;
        let buf = vec![0x5au8; 1 << 20];
        let mut sent = 0u64;
        while sent < size {
            let n = (size - sent).min(buf.len() as u64) as usize;
            s.write_all(&buf[..n])?;
            sent += n as u64;
        }
        drop(s);
        let got = reader.join().expect("reader thread")?;
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(got, size);
        Ok(size as f64 / (1 << 20) as f64 / secs)
    };
    match run() {
        Ok(rate) => {
            println!("{rate:.0} MiB/s");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ferry-testbed: loopback floor failed: {e}");
            ExitCode::from(1)
        }
    }
}
