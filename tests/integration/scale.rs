//! Memory does not grow with the count of files or objects: a tree is walked and listed as
//! it is transferred, so `cp -r` of ten times the files (one KiB each) to and from the null
//! sink peaks within 10 MiB of the smaller run. 2,000 against 20,000 in the default tier;
//! 20,000 against 200,000 in the heavy tier.

use std::path::Path;
use std::process::Output;

use ferry_testkit::{NullSinkServer, null_sink::null_sink_bytes};

use crate::{ferry_command, text};

const KIB: usize = 1024;

/// Peak resident memory (KiB) of `ferry cp -r` of `n` one-KiB files up to the null sink, and
/// back down.
fn peaks(n: usize) -> (u64, u64) {
    let sink = NullSinkServer::start().unwrap();
    let server = &sink.server;
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    // Folders of 1,000 files, as trees are: a walk holds one folder's names at a time.
    // The bytes are what the sink serves back, so the downloads check out.
    let body = null_sink_bytes(0, KIB as u64);
    for i in 0..n {
        let dir = src.join(format!("d{:03}", i / 1000));
        if i % 1000 == 0 {
            std::fs::create_dir_all(&dir).unwrap();
        }
        std::fs::write(dir.join(format!("f{i:06}")), &body).unwrap();
    }
    let run = |args: &[&str]| -> (Output, u64) {
        let mut c = ferry_command(server.env(), home.path());
        c.args(args);
        ferry_testkit::output_with_peak_rss(&mut c).unwrap()
    };
    let (o, _) = run(&["mb", "s3://scale", "--quiet"]);
    assert!(o.status.success(), "{}", text(&o));
    let (o, up) = run(&["cp", "-r", src.to_str().unwrap(), "s3://scale/t", "--quiet"]);
    assert!(o.status.success(), "{n} up: {}", text(&o));
    let back = home.path().join("back");
    let (o, down) = run(&[
        "cp",
        "-r",
        "s3://scale/t",
        back.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{n} down: {}", text(&o));
    assert_eq!(count_files(&back), n, "{n}: every object came down");
    let last = back.join(format!("d{:03}/f{:06}", (n - 1) / 1000, n - 1));
    assert_eq!(std::fs::read(&last).unwrap(), body);
    eprintln!(
        "{n} files: peak {:.1} MiB up, {:.1} MiB down",
        up as f64 / 1024.0,
        down as f64 / 1024.0
    );
    (up, down)
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                count_files(&e.path())
            } else {
                1
            }
        })
        .sum()
}

fn within_10_mib(small: usize, large: usize) {
    let (up_small, down_small) = peaks(small);
    let (up_large, down_large) = peaks(large);
    for (what, a, b) in [("up", up_small, up_large), ("down", down_small, down_large)] {
        assert!(
            b <= a + 10 * 1024,
            "{what}: {small} files peaked at {a} KiB, {large} at {b} KiB"
        );
    }
}

#[test]
fn memory_does_not_grow_with_the_count_of_files() {
    within_10_mib(2_000, 20_000);
}

#[test]
#[ignore = "heavy tier: 200,000 files"]
fn memory_does_not_grow_with_200_000_files() {
    within_10_mib(20_000, 200_000);
}
