//! `ferry-testbed [--null-sink] -- COMMAND [ARGS…]`: starts one SeaweedFS on free loopback
//! ports (or, with `--null-sink`, the in-process null sink), runs the command with
//! `FERRY_TEST_SEAWEEDFS` (or `FERRY_TEST_NULL_SINK`) and AWS variables for other tools pointing
//! at it, then stops the server and exits with the command's status. The test, demo and
//! benchmark scripts use it.
//!
//! `ferry-testbed --write-pattern FILE SIZE` writes the bytes the null sink serves for any
//! object of SIZE bytes: uploaded to the sink, such a file downloads back checking out.

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--write-pattern") {
        return write_pattern(&args[1..]);
    }
    let cmd: Vec<&String> = match args.iter().position(|a| a == "--") {
        Some(i) => args[i + 1..].iter().collect(),
        None => args.iter().collect(),
    };
    let null_sink = args.first().is_some_and(|a| a == "--null-sink");
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
    let status = Command::new(program)
        .args(rest)
        .env(ferry_testkit::SEAWEEDFS_ENV, &weed.server.endpoint)
        .envs(weed.server.env())
        .status();
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
