//! File times survive the trip: an uploaded file's object carries its mtime (`mtime`
//! metadata, to the nanosecond, in the form rclone writes), and a download gives the file
//! that time, else the object's Last-Modified. On SeaweedFS, through the binary, read by boto3.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{copied_tree, data, ferry, seaweed_bucket, text};

/// Sets `path`'s mtime.
pub(crate) fn set_mtime(path: &std::path::Path, t: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

fn mtime(path: &std::path::Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

/// The object's `mtime` metadata and Last-Modified (seconds), as boto3 reads them.
fn stored(server: &ferry_testkit::TestServer, bucket: &str, key: &str) -> (Option<String>, u64) {
    let v = ferry_testkit::boto3(
        server,
        "h = s3.head_object(Bucket=sys.argv[1], Key=sys.argv[2]); print(json.dumps([h['Metadata'].get('mtime'), int(h['LastModified'].timestamp())]))",
        &[bucket, key],
    )
    .unwrap();
    (v[0].as_str().map(str::to_string), v[1].as_u64().unwrap())
}

#[test]
fn cp_keeps_file_times_both_ways_and_in_trees() {
    let (server, _client, bucket) = seaweed_bucket("mtime-cp");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    let t1 = UNIX_EPOCH + Duration::new(1_577_934_245, 123_456_789);
    let t2 = UNIX_EPOCH + Duration::new(1_600_000_000, 7);
    let small = src.join("small.txt");
    let big = src.join("sub/big.bin");
    std::fs::write(&small, b"small").unwrap();
    std::fs::write(&big, data(12 << 20, 5)).unwrap();
    set_mtime(&small, t1);
    set_mtime(&big, t2);

    // One file, multipart.
    let o = ferry(
        server,
        home.path(),
        &[
            "cp",
            big.to_str().unwrap(),
            &format!("s3://{bucket}/one/big.bin"),
            "--part-size",
            "5MiB",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        stored(server, &bucket, "one/big.bin").0.as_deref(),
        Some("1600000000.000000007")
    );
    let back = home.path().join("big.back");
    let o = ferry(
        server,
        home.path(),
        &[
            "cp",
            &format!("s3://{bucket}/one/big.bin"),
            back.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(mtime(&back), t2);

    // A tree, both ways.
    let tree = format!("s3://{bucket}/tree");
    copied_tree(server, home.path(), src.to_str().unwrap(), &tree);
    assert_eq!(
        stored(server, &bucket, "tree/small.txt").0.as_deref(),
        Some("1577934245.123456789")
    );
    let dst = home.path().join("dst");
    copied_tree(server, home.path(), &tree, dst.to_str().unwrap());
    assert_eq!(mtime(&dst.join("small.txt")), t1);
    assert_eq!(mtime(&dst.join("sub/big.bin")), t2);
}

#[test]
fn a_download_takes_rclones_mtime_else_last_modified() {
    let (server, _client, bucket) = seaweed_bucket("mtime-other");
    let home = tempfile::tempdir().unwrap();
    // What rclone 1.75 stores (measured: `rclone copyto` of a file touched to
    // 2020-01-02 03:04:05.123456789 UTC), and an object with no mtime (aws cli, s5cmd).
    ferry_testkit::boto3(
        server,
        "s3.put_object(Bucket=sys.argv[1], Key='rclone.txt', Body=b'r', Metadata={'mtime': '1577934245.123456789'}); s3.put_object(Bucket=sys.argv[1], Key='plain.txt', Body=b'p'); print('{}')",
        &[&bucket],
    )
    .unwrap();
    let r = home.path().join("rclone.txt");
    let p = home.path().join("plain.txt");
    for (key, path) in [("rclone.txt", &r), ("plain.txt", &p)] {
        let o = ferry(
            server,
            home.path(),
            &[
                "cp",
                &format!("s3://{bucket}/{key}"),
                path.to_str().unwrap(),
            ],
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    assert_eq!(
        mtime(&r),
        UNIX_EPOCH + Duration::new(1_577_934_245, 123_456_789)
    );
    let (_, last_modified) = stored(server, &bucket, "plain.txt");
    assert_eq!(mtime(&p), UNIX_EPOCH + Duration::from_secs(last_modified));
}

/// The mode bits of a file, and this process's umask (which ferry, run from here, inherits).
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find_map(|l| l.strip_prefix("Umask:"));
    u32::from_str_radix(line.unwrap().trim(), 8).unwrap()
}

/// A file's mode goes up as `mode` metadata in rclone's octal form (a multipart upload's
/// too), and comes down on a new file within the umask (s3fs's decimal form too); a file a
/// download replaces keeps its own; an object with no mode (or a folder's) gives 0644.
#[test]
fn modes_go_up_and_come_down_on_new_files_within_the_umask() {
    use std::os::unix::fs::PermissionsExt as _;
    let (server, _client, bucket) = seaweed_bucket("mtime-mode");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    let modes = [("run.sh", 0o755), ("secret", 0o600), ("plain.txt", 0o644)];
    std::fs::create_dir_all(&src).unwrap();
    for (name, m) in modes {
        let p = src.join(name);
        std::fs::write(&p, name).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m)).unwrap();
    }
    let big = home.path().join("big.bin");
    std::fs::write(&big, data(11 << 20, 3)).unwrap();
    std::fs::set_permissions(&big, std::fs::Permissions::from_mode(0o750)).unwrap();
    let run = |args: &[&str]| {
        let o = ferry(server, home.path(), args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    };
    copied_tree(
        server,
        home.path(),
        src.to_str().unwrap(),
        &format!("s3://{bucket}/t"),
    );
    let big_url = format!("s3://{bucket}/big.bin");
    run(&["cp", big.to_str().unwrap(), &big_url, "--part-size", "5MiB"]);
    let stored_modes = ferry_testkit::boto3(
        server,
        "print(json.dumps([s3.head_object(Bucket=sys.argv[1], Key=k)['Metadata'].get('mode') for k in ['t/run.sh', 't/secret', 't/plain.txt', 'big.bin']]))",
        &[&bucket],
    )
    .unwrap();
    assert_eq!(
        stored_modes,
        serde_json::json!(["100755", "100600", "100644", "100750"])
    );
    ferry_testkit::boto3(
        server,
        "s3.put_object(Bucket=sys.argv[1], Key='t/s3fs.sh', Body=b's', Metadata={'mode': '33261'}); s3.put_object(Bucket=sys.argv[1], Key='t/dir.txt', Body=b'd', Metadata={'mode': '16877'}); print('{}')",
        &[&bucket],
    )
    .unwrap();

    let dst = home.path().join("dst");
    copied_tree(
        server,
        home.path(),
        &format!("s3://{bucket}/t"),
        dst.to_str().unwrap(),
    );
    let within = |m: u32| m & !umask();
    for (name, m) in modes
        .into_iter()
        .chain([("s3fs.sh", 0o755), ("dir.txt", 0o644)])
    {
        let want = if name == "dir.txt" { m } else { within(m) };
        assert_eq!(
            mode(&dst.join(name)),
            want,
            "{name}: {:o}",
            mode(&dst.join(name))
        );
    }
    let big_back = home.path().join("big.back");
    run(&["cp", &big_url, big_back.to_str().unwrap()]);
    assert_eq!(mode(&big_back), within(0o750));
    // A file replaced keeps the mode it has.
    let replaced = dst.join("run.sh");
    std::fs::set_permissions(&replaced, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(&replaced, b"edited").unwrap();
    let url = format!("s3://{bucket}/t/run.sh");
    run(&["cp", &url, replaced.to_str().unwrap()]);
    assert_eq!(std::fs::read(&replaced).unwrap(), b"run.sh");
    assert_eq!(mode(&replaced), 0o700);
}
