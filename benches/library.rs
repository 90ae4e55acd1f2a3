//! The library as a backup tool uses it, against a real SeaweedFS on 127.0.0.1: many small
//! objects downloaded to files through one `Manager`, started one by one (a restore of chosen
//! chunks) and as one tree download (a restore of a prefix), alternating, so the two can be
//! compared in one run. Prints the median wall time, objects per second and CPU of this
//! process (the server's is not counted) of each way. First, what many transfers submitted at
//! once hold: 20,000 uploads of 4 KiB (one shared buffer) started together, then waited for
//! in order, with the peak resident memory they added.
//!
//! ```sh
//! scripts/testbed-setup            # installs SeaweedFS once
//! AWS_EC2_METADATA_DISABLED=true cargo bench --bench library
//! # FERRY_BENCH_OBJECTS (default 2000), FERRY_BENCH_SIZE (bytes, default 65536),
//! # FERRY_BENCH_ROUNDS (default 5), FERRY_BENCH_AT_ONCE (default 20000);
//! # FERRY_TEST_SEAWEEDFS=URL uses a running server.
//! ```

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use ferry_engine::{Download, Manager, ManagerConfig, Source, Target, TreeDownload, Upload};
use ferry_s3::{CreateBucketRequest, ObjectClient as _, S3Client};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds this process has used (user and system), from `/proc/self/stat`.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').expect("stat") + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// This process's resident memory now and at its peak since the last [`reset_peak`], in MiB.
fn resident_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib = |field: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .expect("a memory field")
    };
    (kib("VmRSS:") / 1024.0, kib("VmHWM:") / 1024.0)
}

/// Starts the peak of [`resident_mib`] again from now.
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("/proc/self/clear_refs");
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; a filter naming another bench skips this one.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"library".contains(&a))
    {
        return;
    }
    let objects = setting("FERRY_BENCH_OBJECTS", 2000);
    let size = setting("FERRY_BENCH_SIZE", 64 * 1024);
    let rounds = setting("FERRY_BENCH_ROUNDS", 5);
    let server = ferry_testkit::seaweedfs();
    let client = Arc::new(ferry_testkit::s3_client(server).expect("client"));
    let bucket = ferry_testkit::unique_bucket("bench-library");
    client
        .create_bucket(&CreateBucketRequest {
            bucket: bucket.clone(),
            ..Default::default()
        })
        .await
        .expect("bucket");
    let manager: Manager<S3Client> =
        Manager::new(client, ManagerConfig::default()).expect("manager");
    let body = Bytes::from(
        (0..size)
            .map(|i| (i * 7 + i / 251) as u8)
            .collect::<Vec<u8>>(),
    );
    let at_once = setting("FERRY_BENCH_AT_ONCE", 20_000);
    let chunk = Bytes::from(vec![7u8; 4096]);
    reset_peak();
    let (before, _) = resident_mib();
    let t = Instant::now();
    let handles: Vec<_> = (0..at_once)
        .map(|i| {
            let upload = Upload::new(Source::Bytes(chunk.clone()), &bucket, format!("m/{i:06}"));
            manager.upload(upload)
        })
        .collect();
    let (submitted, _) = resident_mib();
    for h in handles {
        h.wait().await.expect("upload");
    }
    let wall = t.elapsed().as_secs_f64();
    let (_, peak) = resident_mib();
    println!(
        "{at_once} x 4 KiB up, submitted at once: {wall:.3} s, {:.0} objects/s; resident memory \
         {:.0} MiB more once submitted, {:.0} MiB more at the peak",
        at_once as f64 / wall,
        submitted - before,
        peak - before
    );
    let keys: Vec<String> = (0..objects).map(|i| format!("c/{i:05}")).collect();
    let uploads: Vec<_> = keys
        .iter()
        .map(|k| manager.upload(Upload::new(Source::Bytes(body.clone()), &bucket, k)))
        .collect();
    for u in uploads {
        u.wait().await.expect("upload");
    }
    let work = tempfile::tempdir().expect("temp dir");
    let mut runs: [(&str, Vec<f64>, Vec<f64>); 2] = [
        ("one by one", Vec::new(), Vec::new()),
        ("tree", Vec::new(), Vec::new()),
    ];
    for round in 0..rounds {
        for (way, (name, walls, cpus)) in runs.iter_mut().enumerate() {
            let dir = work.path().join(format!("{round}-{way}"));
            std::fs::create_dir(&dir).expect("folder");
            let (t, c) = (Instant::now(), cpu_seconds());
            if way == 0 {
                let handles: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        let file = dir.join(k.trim_start_matches("c/"));
                        manager.download(Download::new(&bucket, k, Target::File(file)))
                    })
                    .collect();
                for h in handles {
                    h.wait().await.expect("download");
                }
            } else {
                let tree = manager.download_tree(TreeDownload::new(&bucket, "c/", &dir));
                let outcome = tree.wait().await.expect("tree");
                assert_eq!(outcome.done as usize, objects, "{name}");
            }
            walls.push(t.elapsed().as_secs_f64());
            cpus.push(cpu_seconds() - c);
            let last = dir.join(format!("{:05}", objects - 1));
            assert_eq!(std::fs::read(&last).expect("downloaded"), body, "{name}");
            std::fs::remove_dir_all(&dir).expect("clean up");
        }
    }
    println!("{objects} x {size} bytes down, medians of {rounds} rounds:");
    for (name, walls, cpus) in runs {
        let wall = median(walls);
        println!(
            "  {name:<10}  {wall:.3} s  {:>6.0} objects/s  {:.2} CPU-s",
            objects as f64 / wall,
            median(cpus)
        );
    }
}
