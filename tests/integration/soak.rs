//! The soak: many transfers of random sizes and kinds (file upload, stream upload, download,
//! server-side copy) through the fault proxy with a few percent of random faults, each checked
//! as a user would: boto3 reads the object back (or the downloaded file is compared), no part
//! resent with other bytes, attempts within the retry bound, memory bounded, no multipart
//! upload left after any transfer; at the end no journal is left. Short in the default tier,
//! long in the heavy one. A transfer the server failed on its own (no fault injected in its
//! round: SeaweedFS answers a rare UploadPartCopy with its own 500s) and that ferry kept is
//! resumed as ferry's message says, and checked the same way.
//!
//! The faults are seeded (`FERRY_SOAK_SEED`, printed by each run): the same seed faults the
//! same requests again.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ferry_testkit::{Action, Chaos, HoldProxy, TestServer};

use crate::{boto3_object, boto3_uploads, data, seaweed_bucket, sha256_hex, text};

const MIB: u64 = 1024 * 1024;

/// Attempts per request at most (the retry policy's default).
const MAX_ATTEMPTS: usize = 6;

/// Passes a download makes fetching ranges again after a failed check (the engine's bound).
const REFETCH_PASSES: usize = 4;

/// The faults the soak draws from.
fn faults() -> Vec<Action> {
    vec![
        Action::Respond(500, "InternalError", None),
        Action::Respond(503, "SlowDown", None),
        Action::Respond(503, "SlowDown", Some(1)),
        Action::Respond(400, "RequestTimeout", None),
        Action::Respond(400, "ExpiredToken", None),
        Action::Respond(200, "InternalError", None),
        Action::Stall(Duration::from_secs(3)),
        Action::LoseResponse,
        Action::ResetAfter(64 * 1024),
        Action::CutResponse(1000),
        Action::FlipResponseByte,
    ]
}

/// A small seeded generator (xorshift64*), so a seed replays the same transfers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Upload,
    Stream,
    Download,
    Copy,
}

/// Runs `rounds` random transfers of up to `max_size` bytes with `percent` % faults; checks
/// each and returns how many faults were injected.
fn soak(prefix: &str, rounds: u32, max_size: u64, percent: u32, default_seed: u64) {
    let seed = std::env::var("FERRY_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_seed);
    eprintln!("soak {prefix}: seed {seed} (FERRY_SOAK_SEED={seed} replays it)");
    let (server, _client, bucket) = seaweed_bucket(prefix);
    let home = tempfile::tempdir().unwrap();
    let proxy = HoldProxy::start(&server.endpoint, vec![]).unwrap();
    let mut rng = Rng(seed | 1);
    // Objects uploaded so far (key, sha256, bytes when small enough to keep).
    let mut objects: Vec<(String, String, Vec<u8>)> = Vec::new();
    let (mut faults, start) = (0, Instant::now());
    for round in 0..rounds {
        // Each kind in turn; downloads and copies take an object uploaded before.
        let kind = [Kind::Upload, Kind::Stream, Kind::Download, Kind::Copy][round as usize % 4];
        let size = match rng.below(10) {
            0 => [0, 1, 5 * MIB, 5 * MIB + 1][rng.below(4) as usize],
            _ => rng.below(max_size + 1),
        };
        let part_size = format!("{}MiB", 5 + rng.below(4));
        let concurrency = (1 + rng.below(4)).to_string();
        proxy.reset(vec![]);
        proxy.set_chaos(Some(Chaos {
            seed: seed ^ u64::from(round),
            percent,
            actions: self::faults(),
        }));
        let what = format!("round {round} (seed {seed}): {kind:?}");
        let key = format!("o{round}");
        let url = format!("s3://{bucket}/{key}");
        let common = ["--part-size", &part_size, "--concurrency", &concurrency];
        let took = Instant::now();
        let at = (server, &proxy, home.path());
        let (peak, size) = match kind {
            Kind::Upload | Kind::Stream => {
                let body = data(size as usize, seed ^ u64::from(round));
                let file = home.path().join(&key);
                std::fs::write(&file, &body).unwrap();
                let (o, peak) = if kind == Kind::Upload {
                    run(
                        server,
                        &proxy,
                        home.path(),
                        &["cp", file.to_str().unwrap(), &url],
                        &common,
                        None,
                    )
                } else {
                    run(
                        server,
                        &proxy,
                        home.path(),
                        &["cp", "-", &url],
                        &common,
                        Some(&file),
                    )
                };
                let o = if kind == Kind::Upload {
                    let args = ["cp", file.to_str().unwrap(), &url];
                    resumed_if_the_server_failed(at, o, (&args, &common), &what)
                } else {
                    o
                };
                std::fs::remove_file(&file).unwrap();
                assert!(o.status.success(), "{what}: {}", text(&o));
                let got = boto3_object(server, &bucket, &key);
                assert_eq!(got["sha256"], sha256_hex(&body), "{what}: object differs");
                objects.push((key.clone(), sha256_hex(&body), body));
                (peak, size)
            }
            Kind::Download => {
                let (src, sum, body) = &objects[rng.below(objects.len() as u64) as usize];
                let out = home.path().join(format!("{key}.down"));
                let from = format!("s3://{bucket}/{src}");
                let args = ["cp", &from, out.to_str().unwrap()];
                let (o, peak) = run(server, &proxy, home.path(), &args, &common, None);
                let o = resumed_if_the_server_failed(at, o, (&args, &common), &what);
                assert!(
                    o.status.success(),
                    "{what}: {}\n{:#?}",
                    text(&o),
                    proxy.log()
                );
                let got = std::fs::read(&out).unwrap();
                assert_eq!(
                    &sha256_hex(&got),
                    sum,
                    "{what}: file differs\n{}\n{:#?}",
                    text(&o),
                    proxy.log()
                );
                assert_eq!(got.len(), body.len(), "{what}");
                std::fs::remove_file(&out).unwrap();
                (peak, got.len() as u64)
            }
            Kind::Copy => {
                let (src, sum, body) = objects[rng.below(objects.len() as u64) as usize].clone();
                let from = format!("s3://{bucket}/{src}");
                let args = ["cp", &from, &url];
                let (o, peak) = run(server, &proxy, home.path(), &args, &common, None);
                let o = resumed_if_the_server_failed(at, o, (&args, &common), &what);
                assert!(o.status.success(), "{what}: {}", text(&o));
                let got = boto3_object(server, &bucket, &key);
                assert_eq!(got["sha256"], sum, "{what}: copy differs");
                let size = body.len() as u64;
                objects.push((key.clone(), sum, body));
                (peak, size)
            }
        };
        let injected = proxy.faults();
        if std::env::var_os("FERRY_SOAK_LOG").is_some() {
            eprintln!("{:#?}", proxy.log());
        }
        faults += injected;
        check_attempts(&proxy, &what);
        assert_eq!(
            proxy.parts_resent_differently(),
            Vec::<String>::new(),
            "{what}: a part number was reused for other bytes"
        );
        // Parts of 5-8 MiB, up to 4 at once, and the checksum pipeline: well under 128 MiB.
        assert!(peak < 128 * 1024, "{what}: peak RSS {peak} KiB");
        let left = boto3_uploads(server, &bucket);
        assert!(
            left.is_empty(),
            "{what}: uploads left {left:?}\n{:#?}",
            proxy.log()
        );
        eprintln!(
            "{what}, {size} bytes, parts {part_size} x{concurrency}: {injected} faults, {:.2} s, peak RSS {} MiB",
            took.elapsed().as_secs_f64(),
            peak / 1024
        );
    }
    let journals = home.path().join(".local/state/ferry");
    let left: Vec<_> = std::fs::read_dir(&journals)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "journals left: {left:?}");
    eprintln!(
        "soak {prefix}: {rounds} transfers, {faults} faults injected, all identical, {:.1} s",
        start.elapsed().as_secs_f64()
    );
    assert!(
        faults > 0,
        "the soak injected no fault: raise its rounds or percent"
    );
}

/// A transfer that failed with no fault injected (the server's own errors outlasted the
/// retries) and that ferry kept for resume: resumed the way ferry's message says (`ferry
/// resume ID` for an upload or a copy, the same command again for a download), faults off,
/// and that outcome returned. Any other outcome is returned as it is.
fn resumed_if_the_server_failed(
    (server, proxy, home): (&TestServer, &HoldProxy, &Path),
    o: std::process::Output,
    (args, common): (&[&str], &[&str]),
    what: &str,
) -> std::process::Output {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    if o.status.success() || proxy.faults() > 0 {
        return o;
    }
    let (args, common) = if let Some((_, id)) = err.split_once("or: ferry resume ") {
        let id = id.split_whitespace().next().unwrap_or_default();
        (vec!["resume", id], &[][..])
    } else if err.contains("run the same command again to resume it") {
        (args.to_vec(), common)
    } else {
        return o;
    };
    eprintln!("{what}: the server failed it on its own; resuming ({args:?})\n{err}");
    // The first run checked as any other; the resume's requests counted afresh.
    check_attempts(proxy, what);
    assert_eq!(
        proxy.parts_resent_differently(),
        Vec::<String>::new(),
        "{what}"
    );
    proxy.reset(vec![]);
    proxy.set_chaos(None);
    run(server, proxy, home, &args, common, None).0
}

/// Runs ferry through `proxy` (2 s read timeout), stdin from `stdin` if given; returns its
/// output and peak RSS in KiB.
fn run(
    server: &TestServer,
    proxy: &HoldProxy,
    home: &Path,
    args: &[&str],
    common: &[&str],
    stdin: Option<&Path>,
) -> (std::process::Output, u64) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ferry"));
    c.args(["--read-timeout", "2"])
        .args(args)
        .args(common)
        .env_clear()
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOME", home)
        .envs(server.env())
        .env("AWS_ENDPOINT_URL", &proxy.endpoint);
    match stdin {
        Some(f) => c.stdin(std::fs::File::open(f).unwrap()),
        None => c.stdin(std::process::Stdio::null()),
    };
    ferry_testkit::output_with_peak_rss(&mut c).unwrap()
}

/// No request was made more often than the retry bound allows (a ranged GET may be made again
/// by each pass that fetches ranges again after a failed check).
fn check_attempts(proxy: &HoldProxy, what: &str) {
    let mut counts = std::collections::HashMap::<String, usize>::new();
    for line in proxy.log() {
        let request: String = line
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        *counts.entry(request).or_default() += 1;
    }
    for (request, n) in counts {
        let bound = if request.starts_with("GET ") {
            (1 + REFETCH_PASSES) * MAX_ATTEMPTS
        } else {
            MAX_ATTEMPTS
        };
        assert!(n <= bound, "{what}: {request} made {n} times");
    }
}

#[test]
fn a_short_soak_of_random_transfers_through_random_faults() {
    soak("soak", 24, 40 * MIB, 8, 20261121);
}

#[test]
#[ignore = "heavy tier: scripts/test --heavy"]
fn heavy_a_long_soak_of_random_transfers_through_random_faults() {
    soak("soak-heavy", 100, 200 * MIB, 4, 7);
}
