//! One transfer across many workers, on SeaweedFS through the binary, each worker a process
//! with its index variable set, every worker's requests seen by a fault proxy of its own, the
//! result read back by boto3: a planned upload by four workers and its finish; a worker
//! killed with -9 and run again with an empty state folder; a tree of 400 files sharded four
//! ways; a server-side copy of one object split across workers; and a finish that refuses
//! missing parts, and a part whose ETag and checksum are not those its worker computed from
//! the source; a planned upload that a bulk `uploads abort` leaves and an abort by id gives
//! up; the headers a plan gives its object, and the flags it refuses; a worker reading the
//! planned file by another path, and refused another file.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ferry_testkit::{HoldProxy, TestServer};

use crate::{boto3_object, boto3_uploads, data, ferry, seaweed_bucket, sha256_hex, text, uploaded};

const MIB: usize = 1024 * 1024;

/// `ferry ARGS` as worker `index` of a Kubernetes Indexed Job would run it, with `home` as
/// its own (empty) state.
fn worker(server: &TestServer, home: &Path, index: u32, args: &[&str]) -> Command {
    let mut c = crate::ferry_command(server.env(), home);
    c.env("JOB_COMPLETION_INDEX", index.to_string()).args(args);
    c
}

/// Plans `file` to `bucket`/`key` for `n` workers in parts of `part_size`; the plan's
/// location.
fn plan(
    server: &TestServer,
    home: &Path,
    file: &Path,
    bucket: &str,
    key: &str,
    n: u32,
    part_size: &str,
) -> String {
    let o = ferry(
        server,
        home,
        &[
            "plan",
            file.to_str().unwrap(),
            &format!("s3://{bucket}/{key}"),
            "--shards",
            &n.to_string(),
            "--part-size",
            part_size,
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let at = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert_eq!(at, format!("s3://{bucket}/{key}.ferry-plan"));
    at
}

/// Runs worker `index` of the plan at `at` (reading `src`, a file or an `s3://` URL) to its end,
/// through a proxy of its own; its output and the UploadPart requests it sent.
fn run_worker(
    server: &TestServer,
    src: impl AsRef<Path>,
    dst: &str,
    at: &str,
    index: u32,
) -> (Output, Vec<String>) {
    let proxy = HoldProxy::start(&server.endpoint, vec![]).unwrap();
    let home = tempfile::tempdir().unwrap();
    let o = worker(
        &proxy.server(server),
        home.path(),
        index,
        &[
            "cp",
            src.as_ref().to_str().unwrap(),
            dst,
            "--plan",
            at,
            "--shard",
            "4",
        ],
    )
    .output()
    .unwrap();
    let parts = proxy
        .log()
        .into_iter()
        .filter(|l| l.starts_with("PUT") && l.contains("partNumber="))
        .collect();
    (o, parts)
}

/// The part numbers in UploadPart request lines.
fn numbers(lines: &[String]) -> Vec<u32> {
    let mut v: Vec<u32> = lines
        .iter()
        .filter_map(|l| l.split("partNumber=").nth(1))
        .map(|r| {
            r.split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    v.sort();
    v
}

/// The object's stored CRC64NVME, as boto3 reads it.
fn stored_crc64(server: &TestServer, bucket: &str, key: &str) -> String {
    ferry_testkit::boto3(
        server,
        "h = s3.head_object(Bucket=sys.argv[1], Key=sys.argv[2], ChecksumMode='ENABLED')\nprint(json.dumps(h.get('ChecksumCRC64NVME')))",
        &[bucket, key],
    )
    .unwrap()
    .as_str()
    .unwrap_or_default()
    .to_string()
}

/// Runs `ferry finish PLAN` and checks the object as a user would: exit 0, boto3 reads the
/// same bytes, its stored CRC64NVME is a one-pass CRC64NVME of them, and no upload is left.
/// The finish's output.
fn finished_whole(
    server: &TestServer,
    home: &Path,
    at: &str,
    bucket: &str,
    key: &str,
    body: &[u8],
) -> Output {
    let o = ferry(server, home, &["finish", at]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let got = boto3_object(server, bucket, key);
    assert_eq!(got["sha256"], sha256_hex(body));
    let mut h = ferry_engine::Hasher::new(ferry_s3::ChecksumAlgorithm::Crc64Nvme);
    h.update(body);
    assert_eq!(
        stored_crc64(server, bucket, key),
        h.finish(body.len() as u64).base64()
    );
    assert!(boto3_uploads(server, bucket).is_empty());
    o
}

#[test]
fn four_workers_upload_one_planned_object_and_finish_combines_its_checksum() {
    four_workers(96 * MIB + 7, "5MiB", 20);
}

#[test]
#[ignore = "heavy tier: a 1 GiB object by four workers"]
fn four_workers_upload_a_gib_and_finish_combines_its_checksum() {
    four_workers(1024 * MIB + 7, "16MiB", 65);
}

/// Plans a file of `size` bytes in parts of `part_size` (`parts` in all), uploads it with
/// four workers at once, finishes, and checks the object with boto3.
fn four_workers(size: usize, part_size: &str, parts: u32) {
    let (server, _client, bucket) = seaweed_bucket("shard-up");
    let home = tempfile::tempdir().unwrap();
    let body = data(size, 91);
    let file = home.path().join("big.bin");
    std::fs::write(&file, &body).unwrap();
    let at = plan(server, home.path(), &file, &bucket, "big.bin", 4, part_size);
    let dst = format!("s3://{bucket}/big.bin");
    // Four workers at once, each sending its own run of parts and only those.
    let runs: Vec<(Output, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let (file, dst, at) = (&file, &dst, &at);
                s.spawn(move || run_worker(server, file, dst, at, i))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all = Vec::new();
    for (i, (o, parts)) in runs.iter().enumerate() {
        assert_eq!(o.status.code(), Some(0), "worker {i}: {}", text(o));
        let n = numbers(parts);
        assert!(!n.is_empty(), "worker {i} sent nothing");
        assert_eq!(
            n,
            (n[0]..=n[n.len() - 1]).collect::<Vec<_>>(),
            "worker {i}: a run of parts"
        );
        all.extend(n);
    }
    all.sort();
    assert_eq!(
        all,
        (1..=parts).collect::<Vec<u32>>(),
        "every part sent once"
    );
    finished_whole(server, home.path(), &at, &bucket, "big.bin", &body);
    assert_eq!(
        crate::boto3_keys(server, &bucket),
        vec!["big.bin".to_string()],
        "the plan and records are gone"
    );
}

#[test]
fn a_plan_sets_what_the_object_carries_and_refuses_what_its_workers_cannot_send() {
    let (server, _client, bucket) = seaweed_bucket("shard-headers");
    let home = tempfile::tempdir().unwrap();
    let (file, body) = crate::written(home.path(), "table.csv", 21 * MIB, 95);
    let (f, dst) = (file.to_str().unwrap(), format!("s3://{bucket}/table.csv"));
    let plan_of = |src: &str, extra: &[&str]| {
        let args = ["plan", src, &dst, "--shards", "4", "--part-size", "5MiB"];
        ferry(server, home.path(), &[&args[..], extra].concat())
    };
    // Every worker's part would need an SSE-C key, which a plan cannot hold; a copy keeps
    // its source's headers. Both refused before anything is created.
    let key = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
    let o = plan_of(f, &["--sse-c-key", key]);
    crate::expect_exit(&o, 2, "a plan holds no secrets");
    let source = format!("s3://{bucket}/elsewhere.csv");
    let o = plan_of(&source, &["--content-type", "text/plain"]);
    crate::expect_exit(&o, 2, "a planned copy keeps its source's");
    assert!(boto3_uploads(server, &bucket).is_empty());
    assert!(crate::boto3_keys(server, &bucket).is_empty());

    // The headers asked for (the type guessed from the name) are the object's once four
    // workers sent their parts and the finish completed it.
    let o = plan_of(f, &["--metadata", "team=ml"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let at = String::from_utf8_lossy(&o.stdout).trim().to_string();
    for i in 0..4 {
        let (o, _) = run_worker(server, &file, &dst, &at, i);
        assert_eq!(o.status.code(), Some(0), "worker {i}: {}", text(&o));
    }
    finished_whole(server, home.path(), &at, &bucket, "table.csv", &body);
    let got = boto3_object(server, &bucket, "table.csv");
    assert_eq!(got["content_type"], "text/csv", "{got}");
    assert_eq!(got["metadata"], serde_json::json!({"team": "ml"}), "{got}");
}

/// Waits (bounded) until the upload of the plan holds a part in `range`.
fn wait_for_part(
    server: &TestServer,
    bucket: &str,
    key: &str,
    range: std::ops::RangeInclusive<u32>,
) {
    let started = Instant::now();
    loop {
        let v = ferry_testkit::boto3(
            server,
            "u = s3.list_multipart_uploads(Bucket=sys.argv[1]).get('Uploads', [])\nps = [p['PartNumber'] for x in u for p in s3.list_parts(Bucket=sys.argv[1], Key=sys.argv[2], UploadId=x['UploadId']).get('Parts', [])]\nprint(json.dumps(ps))",
            &[bucket, key],
        )
        .unwrap();
        let parts: Vec<u32> = serde_json::from_value(v).unwrap();
        if parts.iter().any(|p| range.contains(p)) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no part of {range:?} arrived"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_worker_killed_mid_way_runs_again_with_no_state_and_the_object_is_whole() {
    let (server, _client, bucket) = seaweed_bucket("shard-kill");
    let home = tempfile::tempdir().unwrap();
    let body = data(96 * MIB + 7, 92);
    let file = home.path().join("big.bin");
    std::fs::write(&file, &body).unwrap();
    let at = plan(server, home.path(), &file, &bucket, "big.bin", 4, "5MiB");
    let dst = format!("s3://{bucket}/big.bin");
    // Worker 1 (parts 6-10), slowed to a part a second, is killed once a part of its landed.
    let state = tempfile::tempdir().unwrap();
    let mut slow: Child = worker(
        server,
        state.path(),
        1,
        &[
            "cp",
            file.to_str().unwrap(),
            &dst,
            "--plan",
            &at,
            "--shard",
            "4",
            "--bwlimit",
            "5MiB",
            "--concurrency",
            "1",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    wait_for_part(server, &bucket, "big.bin", 6..=10);
    slow.kill().unwrap();
    let _ = slow.wait();
    for i in [0, 2, 3] {
        let (o, _) = run_worker(server, &file, &dst, &at, i);
        assert_eq!(o.status.code(), Some(0), "worker {i}: {}", text(&o));
    }
    // Replaced on a fresh host: an empty state folder; what landed is not sent again.
    let (o, parts) = run_worker(server, &file, &dst, &at, 1);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sent = numbers(&parts);
    assert!(
        sent.len() < 5 && sent.iter().all(|n| (6..=10).contains(n)),
        "{sent:?}"
    );
    finished_whole(server, home.path(), &at, &bucket, "big.bin", &body);
}

#[test]
fn finish_refuses_missing_parts_and_a_part_that_is_not_its_workers_naming_them() {
    let (server, _client, bucket) = seaweed_bucket("shard-refuse");
    let home = tempfile::tempdir().unwrap();
    let (file, body) = crate::written(home.path(), "f.bin", 40 * MIB, 93);
    let at = plan(server, home.path(), &file, &bucket, "f.bin", 4, "5MiB");
    let dst = format!("s3://{bucket}/f.bin");
    // A worker told another object is refused, and not told to run again as it is.
    let other = format!("s3://{bucket}/other");
    let (o, _) = run_worker(server, &file, &other, &at, 0);
    crate::expect_exit(&o, 2, &format!("writes {dst}, not {other}"));
    assert!(!text(&o).contains("run the same command"), "{}", text(&o));
    for i in 0..3 {
        let (o, _) = run_worker(server, &file, &dst, &at, i);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    // The object's URL given for its plan's: the refusal names the plan's.
    let o = ferry(server, home.path(), &["finish", &dst]);
    crate::expect_exit(
        &o,
        2,
        &format!("; the plan of {dst}, if it has one, is {at}"),
    );
    let o = ferry(server, home.path(), &["finish", &at]);
    crate::expect_exit(
        &o,
        2,
        "2 of 8 parts are missing or of the wrong size: 7-8 (worker 3)",
    );
    let (o, _) = run_worker(server, &file, &dst, &at, 3);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Part 3 (worker 1's) on the server no longer holds what worker 1 read from the source:
    // its record says other bytes (an ETag and CRC64NVME of other data).
    ferry_testkit::boto3(
        server,
        "k = sys.argv[2] + '.shard-1'\nr = json.loads(s3.get_object(Bucket=sys.argv[1], Key=k)['Body'].read())\nfor p in r['parts']:\n    if p['number'] == 3:\n        p['etag'] = '\"' + '0' * 32 + '\"'\n        p['crc64nvme'] = 'AAAAAAAAAAA='\ns3.put_object(Bucket=sys.argv[1], Key=k, Body=json.dumps(r).encode())\nprint('{}')",
        &[&bucket, "f.bin.ferry-plan"],
    )
    .unwrap();
    let o = ferry(server, home.path(), &["finish", &at]);
    crate::expect_exit(&o, 2, "part 3 on the server is not the one its worker sent");
    assert!(text(&o).contains("worker 1"), "{}", text(&o));
    assert_eq!(
        boto3_uploads(server, &bucket).len(),
        1,
        "a refused finish keeps the upload"
    );
    // Worker 1 again: its parts are on the server with the checksums it computes, so it
    // sends nothing and records them afresh; then the finish goes through.
    let (o, parts) = run_worker(server, &file, &dst, &at, 1);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(parts.is_empty(), "{parts:?}");
    finished_whole(server, home.path(), &at, &bucket, "f.bin", &body);
}

#[test]
fn a_tree_of_400_files_sharded_four_ways_sends_each_once() {
    let (server, _client, bucket) = seaweed_bucket("shard-tree");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    let names: Vec<String> = (0..400)
        .map(|i| format!("d{}/f{i:03}.txt", i % 7))
        .collect();
    for (i, n) in names.iter().enumerate() {
        let p = src.join(n);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data(100 + i, i as u64)).unwrap();
    }
    // The split a script in another language makes: zlib's CRC-32 of the path, modulo 4.
    let want: Vec<u32> = serde_json::from_value(
        ferry_testkit::boto3(
            server,
            "import zlib\nprint(json.dumps([zlib.crc32(n.encode()) % 4 for n in sys.argv[1:]]))",
            &names.iter().map(String::as_str).collect::<Vec<_>>(),
        )
        .unwrap(),
    )
    .unwrap();
    let dst = format!("s3://{bucket}/t");
    let mut sent = Vec::new();
    for i in 0..4u32 {
        let proxy = HoldProxy::start(&server.endpoint, vec![]).unwrap();
        let o = worker(
            &proxy.server(server),
            home.path(),
            i,
            &["cp", "-r", src.to_str().unwrap(), &dst, "--shard", "4"],
        )
        .output()
        .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let mine: Vec<String> = proxy
            .log()
            .into_iter()
            .filter(|l| l.starts_with("PUT"))
            .map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap()
                    .split(&format!("/{bucket}/t/"))
                    .nth(1)
                    .unwrap()
                    .to_string()
            })
            .collect();
        let mut expected: Vec<String> = names
            .iter()
            .zip(&want)
            .filter(|(_, s)| **s == i)
            .map(|(n, _)| n.clone())
            .collect();
        expected.sort();
        let mut got = mine.clone();
        got.sort();
        assert_eq!(got, expected, "shard {i}");
        sent.extend(mine);
    }
    sent.sort();
    let mut all = names.clone();
    all.sort();
    assert_eq!(sent, all, "together the shards send every file, each once");
    assert_eq!(crate::boto3_keys(server, &bucket).len(), 400);
    // A shard run again as a sync moves nothing.
    let o = worker(
        server,
        home.path(),
        2,
        &["sync", src.to_str().unwrap(), &dst, "--shard", "4"],
    )
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let said = String::from_utf8_lossy(&o.stdout);
    let twos = want.iter().filter(|s| **s == 2).count();
    assert!(
        said.contains(&format!("sync: 0 uploaded (0 bytes), {twos} unchanged")),
        "{said}"
    );
}

#[test]
fn a_server_side_copy_of_one_object_splits_across_workers() {
    let (server, _client, bucket) = seaweed_bucket("shard-copy");
    let home = tempfile::tempdir().unwrap();
    let body = data(50 * MIB + 3, 94);
    let src = format!("s3://{bucket}/src.bin");
    uploaded(
        server,
        home.path(),
        &body,
        &src,
        &["--metadata", "team=backup"],
    );
    let o = ferry(
        server,
        home.path(),
        &[
            "plan",
            &src,
            &format!("s3://{bucket}/copy.bin"),
            "--shards",
            "4",
            "--part-size",
            "5MiB",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let at = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let dst = format!("s3://{bucket}/copy.bin");
    let mut all = Vec::new();
    for i in 0..4 {
        let (o, parts) = run_worker(server, &src, &dst, &at, i);
        assert_eq!(o.status.code(), Some(0), "worker {i}: {}", text(&o));
        all.extend(numbers(&parts));
    }
    all.sort();
    assert_eq!(
        all,
        (1..=11).collect::<Vec<u32>>(),
        "every part copied once"
    );
    // Run again, a worker finds its parts there and copies nothing.
    let (o, parts) = run_worker(server, &src, &dst, &at, 2);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(parts.is_empty(), "{parts:?}");
    let o = finished_whole(server, home.path(), &at, &bucket, "copy.bin", &body);
    assert!(
        crate::stdout(&o).contains("CRC64NVME FULL_OBJECT verified"),
        "{}",
        text(&o)
    );
    let got = boto3_object(server, &bucket, "copy.bin");
    assert_eq!(
        got["metadata"]["team"], "backup",
        "the source's metadata is carried"
    );
}

/// A planned upload's workers run on other hosts, out of sight of any journal here: a bulk
/// abort leaves it (before, `abort --all` aborted it, and the workers still to run and the
/// finish failed with NoSuchUpload, the plan left behind); named by its id, it is given up
/// with its plan and its workers' records.
#[test]
fn a_bulk_abort_leaves_a_planned_upload_and_naming_it_gives_up_the_plan() {
    let (server, bucket, home, file, _) = crate::to_send("shard-abort", 20 * MIB, 94);
    let at = plan(server, home.path(), &file, &bucket, "f.bin", 4, "5MiB");
    let dst = format!("s3://{bucket}/f.bin");
    let (o, _) = run_worker(server, &file, &dst, &at, 0);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let id = boto3_uploads(server, &bucket).remove(0);
    let o = ferry(
        server,
        home.path(),
        &["uploads", "ls", &format!("s3://{bucket}"), "--json"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let listed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(listed["plan"], at.as_str(), "{listed}");
    for how in [&["--all"][..], &["--older-than", "0s"]] {
        let target = format!("s3://{bucket}");
        let args = [&["uploads", "abort", &target][..], how].concat();
        let o = ferry(server, home.path(), &args);
        crate::expect_exit(&o, 1, &format!("belongs to the plan {at}"));
        assert!(
            text(&o).contains(&format!("--upload-id {id}")),
            "{}",
            text(&o)
        );
        assert_eq!(
            boto3_uploads(server, &bucket),
            std::slice::from_ref(&id),
            "{how:?}"
        );
    }
    let o = ferry(
        server,
        home.path(),
        &["uploads", "abort", &dst, "--upload-id", &id],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("removed its plan {at}")),
        "{}",
        text(&o)
    );
    assert!(boto3_uploads(server, &bucket).is_empty());
    assert!(
        crate::boto3_keys(server, &bucket).is_empty(),
        "{:?}",
        crate::boto3_keys(server, &bucket)
    );
    let (o, _) = run_worker(server, &file, &dst, &at, 1);
    crate::expect_exit(&o, 2, &format!("no plan at {at}"));
}

/// A worker may reach the planned file by another path (shared storage mounted elsewhere),
/// but not another file: one of another time is refused, named beside the planned one, and
/// sends nothing.
#[test]
fn a_worker_reads_the_planned_file_by_any_path_and_refuses_another_file() {
    let (server, bucket, home, file, body) = crate::to_send("shard-paths", 20 * MIB + 3, 93);
    let at = plan(server, home.path(), &file, &bucket, "big.bin", 4, "5MiB");
    let dst = format!("s3://{bucket}/big.bin");
    let mount = home.path().join("mnt");
    std::fs::create_dir(&mount).unwrap();
    let elsewhere = mount.join("f.bin");
    std::fs::hard_link(&file, &elsewhere).unwrap();
    let (o, parts) = run_worker(server, &elsewhere, &dst, &at, 0);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!parts.is_empty(), "worker 0 sent its parts");

    let copy = home.path().join("copy.bin");
    std::fs::write(&copy, &body).unwrap();
    let times = std::fs::FileTimes::new()
        .set_modified(std::time::SystemTime::now() + Duration::from_secs(60));
    std::fs::File::options()
        .write(true)
        .open(&copy)
        .unwrap()
        .set_times(times)
        .unwrap();
    let (o, parts) = run_worker(server, &copy, &dst, &at, 1);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    for want in [
        format!("{} is not the file planned in {at}", copy.display()),
        format!("{} was {} bytes", file.display(), body.len()),
        "plan again".to_string(),
    ] {
        assert!(err.contains(&want), "{want:?} in {err}");
    }
    assert!(parts.is_empty(), "{parts:?}");

    for i in 1..4 {
        let (o, _) = run_worker(server, &file, &dst, &at, i);
        assert_eq!(o.status.code(), Some(0), "worker {i}: {}", text(&o));
    }
    finished_whole(server, home.path(), &at, &bucket, "big.bin", &body);
}
