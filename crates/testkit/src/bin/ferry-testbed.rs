//! `ferry-testbed -- COMMAND [ARGS…]`: starts one SeaweedFS on free loopback ports, runs the
//! command with `FERRY_TEST_SEAWEEDFS` (and AWS variables for other tools) pointing at it, then
//! stops the server and exits with the command's status. The test and demo scripts use it.

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd: Vec<&String> = match args.iter().position(|a| a == "--") {
        Some(i) => args[i + 1..].iter().collect(),
        None => args.iter().collect(),
    };
    let Some((program, rest)) = cmd.split_first() else {
        eprintln!("usage: ferry-testbed -- COMMAND [ARGS...]");
        return ExitCode::from(2);
    };
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
