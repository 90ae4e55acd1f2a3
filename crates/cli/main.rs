//! The `ferry` command line: parses arguments, runs the command, maps the outcome to an exit
//! code. Raw flags (`args`) become one checked request (`request`, `options`), which the
//! engine runs (`run`); `output` and `report` show it; everything else lives in the libraries.

mod acl;
mod args;
mod bucket;
mod bwlimit;
mod check;
mod client;
mod codes;
mod commands;
mod exit;
mod lock;
mod objects;
mod options;
mod output;
mod report;
mod request;
mod restore;
mod run;
mod scale;
mod size;
mod stat;
mod stop;
mod sync;
mod uploads;
mod when;

use std::process::ExitCode;

/// Threads for file work (opening, writing, syncing and renaming files run off the async
/// workers). Tokio's default of 512 lets a tree of small objects, 128 in flight, start over
/// 200 threads that only wait on the same disk; their stacks and allocator arenas grew the peak
/// memory of `cp -r` with 20,000 objects by a third. 64 still keeps every file of the objects
/// in flight moving.
const BLOCKING_THREADS: usize = 64;

/// How long ending waits for file work still on a blocking thread once the command is done.
const SHUTDOWN_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// Tunes glibc's malloc for a process whose memory is mostly buffers of megabytes (parts,
/// ranges), freed on one thread after another filled them. By default glibc keeps up to eight
/// arenas a core, and raises its mmap threshold to the size of each large block freed, after
/// which such blocks come from arenas that keep them: a copy between servers under the 32 MiB
/// budget peaked at 105-129 MiB, a stream from stdin under 256 MiB at 220-253 MiB. Blocks of
/// 4 MiB or more are mapped and given back when freed, and two arenas serve every thread:
/// 61-63 and 147 MiB, at the same speed and CPU (the note of 2026-12-03 has the runs).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)] // The one call into C the binary makes; see the SAFETY note.
fn tune_allocator() {
    // SAFETY: mallopt only sets malloc's parameters, and is called first in `main`, before any
    // other thread exists or allocates.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

fn main() -> ExitCode {
    tune_allocator();
    let matches = <args::Cli as clap::CommandFactory>::command().get_matches();
    let mut cli = <args::Cli as clap::FromArgMatches>::from_arg_matches(&matches)
        .unwrap_or_else(|e| e.exit());
    match &mut cli.command {
        args::Cmd::Sync(s) => s.filters.ordered = args::ordered_filters(&matches),
        args::Cmd::Check(c) => c.filters.ordered = args::ordered_filters(&matches),
        args::Cmd::Rm(r) => r.filters.ordered = args::ordered_filters(&matches),
        args::Cmd::Ls(l) => l.list.filters.ordered = args::ordered_filters(&matches),
        args::Cmd::Du(d) => d.list.filters.ordered = args::ordered_filters(&matches),
        args::Cmd::Lock(l) => l.filters.ordered = args::ordered_filters(&matches),
        args::Cmd::Restore(r) => r.filters.ordered = args::ordered_filters(&matches),
        args::Cmd::Cp(c) | args::Cmd::Mv(c) => {
            c.filters.ordered = args::ordered_filters(&matches);
            c.split_paths();
        }
        _ => {}
    }
    let json_events = request::json_events(&cli.command);
    exit::init_tracing(cli.global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ferry: cannot start the async runtime: {e}");
            return ExitCode::from(codes::FAILED);
        }
    };
    let code = match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(json_events),
    };
    // Every transfer has ended; what may still run is a read that cannot be cancelled (stdin
    // or a pipe whose writer is silent, a named pipe waiting for one). Dropping the runtime
    // would wait for it, holding an interrupted ferry until the writer stops.
    runtime.shutdown_timeout(SHUTDOWN_WAIT);
    code
}
