//! `ferry sync --track-renames` on SeaweedFS, read back by boto3. Up, a file renamed or moved
//! since the last sync is copied on the server from the object that holds its bytes, not sent
//! again, and a file of the same size as an object gone from the folder, but other bytes, is
//! sent. Down, the file that holds a renamed object's bytes is moved to its new path, not
//! fetched again; two objects with those bytes take it once. And `sync --copy-dest`: a day's
//! snapshot made on the server from the day before's, for what has not changed; and `sync
//! --compare-dest`: a differential snapshot that holds only what changed since a full one.

use crate::sync::{sync, sync_seen, tree};
use crate::{boto3_keys, boto3_object, boto3_uploads, data, expect_exit, sha256_hex, stdout, text};

const MIB: usize = 1 << 20;

/// A bucket on SeaweedFS named from `name`, a home, and its folder `src` holding `files`.
fn started(
    name: &str,
    files: &[(&str, usize)],
) -> (
    &'static ferry_testkit::TestServer,
    String,
    tempfile::TempDir,
    std::path::PathBuf,
) {
    let (server, _client, bucket) = crate::seaweed_bucket(name);
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    tree(&src, files);
    (server, bucket, home, src)
}

#[test]
fn a_renamed_file_is_copied_on_the_server_and_a_lookalike_is_sent() {
    // big.bin goes up in two parts (a multipart object, checked by its CRC64NVME).
    let (server, bucket, home, src) = started(
        "sync-renames",
        &[
            ("a/big.bin", 20 * MIB),
            ("a/small.bin", 300_000),
            ("b/tiny.txt", 1_000),
            ("d/decoy.bin", 70_000),
            ("keep.txt", 10),
        ],
    );
    let s = src.to_str().unwrap();
    let p = format!("s3://{bucket}/p/");
    let o = sync(server, home.path(), &[s, &p]);
    assert!(o.status.success(), "{}", text(&o));

    // A folder renamed, a file renamed, and one gone whose size a new file has.
    std::fs::rename(src.join("a"), src.join("c")).unwrap();
    std::fs::rename(src.join("b/tiny.txt"), src.join("b/tiny2.txt")).unwrap();
    std::fs::remove_dir_all(src.join("d")).unwrap();
    let fresh = data(70_000, 99);
    std::fs::create_dir_all(src.join("e")).unwrap();
    std::fs::write(src.join("e/fresh.bin"), &fresh).unwrap();
    let before = boto3_keys(server, &bucket);

    let args = [s, p.as_str(), "--track-renames", "--delete"];
    let dry = [&args[..], &["--dry-run"]].concat();
    let o = sync(server, home.path(), &dry);
    assert!(o.status.success(), "{}", text(&o));
    let out = stdout(&o);
    for (from, to) in [
        ("a/big.bin", "c/big.bin"),
        ("a/small.bin", "c/small.bin"),
        ("b/tiny.txt", "b/tiny2.txt"),
    ] {
        let line = format!("(dry run) copy: {p}{from} to {p}{to}");
        assert!(out.contains(&line), "{line}\n{}", text(&o));
    }
    assert!(out.contains("e/fresh.bin to "), "{}", text(&o));
    assert_eq!(
        boto3_keys(server, &bucket),
        before,
        "a dry run did something"
    );

    // Only the new file's bytes were sent (and request bodies of a few hundred bytes).
    let said = ["3 renamed: copied on the server", "4 deleted"];
    sync_moving(server, home.path(), &args, &said, (70_000..200_000, true));
    let keys = [
        "b/tiny2.txt",
        "c/big.bin",
        "c/small.bin",
        "e/fresh.bin",
        "keep.txt",
    ];
    let want: Vec<String> = keys.iter().map(|k| format!("p/{k}")).collect();
    assert_eq!(boto3_keys(server, &bucket), want);
    for k in keys {
        let local = std::fs::read(src.join(k)).unwrap();
        let o = boto3_object(server, &bucket, &format!("p/{k}"));
        assert_eq!(o["sha256"], sha256_hex(&local), "{k}");
        // The copy carries the file's time, so the next sync finds it the same.
        assert!(o["metadata"]["mtime"].is_string(), "{k}: {o}");
    }
    assert!(
        boto3_uploads(server, &bucket).is_empty(),
        "an upload was left"
    );

    // Nothing more to do, renames tracked or not.
    for extra in [&["--track-renames"][..], &[]] {
        let o = sync(server, home.path(), &[&[s, p.as_str()][..], extra].concat());
        assert!(
            stdout(&o).contains("0 uploaded (0 bytes), 5 unchanged"),
            "{}",
            text(&o)
        );
    }
}

#[test]
fn a_renamed_object_is_moved_into_place_down_and_fetched_once_for_two() {
    use std::os::unix::fs::MetadataExt as _;
    let (server, bucket, home, src) = started(
        "sync-renames-down",
        &[
            ("a/big.bin", 20 * MIB),
            ("a/small.bin", 300_000),
            ("keep.txt", 10),
        ],
    );
    let (s, down) = (src.to_str().unwrap(), home.path().join("down"));
    let d = down.to_str().unwrap();
    let p = format!("s3://{bucket}/p/");
    for args in [[s, p.as_str()], [p.as_str(), d]] {
        let o = sync(server, home.path(), &args);
        assert!(o.status.success(), "{}", text(&o));
    }
    let inode = std::fs::metadata(down.join("a/big.bin")).unwrap().ino();

    // Renamed on the server (by a sync up that tracks them), and small.bin twice over.
    std::fs::rename(src.join("a"), src.join("c")).unwrap();
    std::fs::copy(src.join("c/small.bin"), src.join("twin.bin")).unwrap();
    let o = sync(server, home.path(), &[s, &p, "--track-renames", "--delete"]);
    assert!(o.status.success(), "{}", text(&o));

    let args = [p.as_str(), d, "--track-renames"];
    expect_exit(&sync(server, home.path(), &args), 2, "--delete");
    let args = [&args[..], &["--delete"]].concat();
    let o = sync(server, home.path(), &[&args[..], &["--dry-run"]].concat());
    let line = format!("(dry run) move: {d}/a/big.bin to {d}/c/big.bin");
    assert!(stdout(&o).contains(&line), "{line}\n{}", text(&o));
    assert!(down.join("a/big.bin").exists(), "a dry run moved a file");

    // Only one small.bin came over the network: the other is the file moved.
    let said = ["3 downloaded", "2 renamed: moved"];
    sync_moving(server, home.path(), &args, &said, (300_000..400_000, false));
    assert_eq!(
        std::fs::metadata(down.join("c/big.bin")).unwrap().ino(),
        inode,
        "big.bin was not moved"
    );
    // Deletions down take files, never folders.
    assert!(!down.join("a/big.bin").exists() && !down.join("a/small.bin").exists());
    for k in ["c/big.bin", "c/small.bin", "twin.bin", "keep.txt"] {
        let o = boto3_object(server, &bucket, &format!("p/{k}"));
        let local = std::fs::read(down.join(k)).unwrap();
        assert_eq!(o["sha256"], sha256_hex(&local), "{k}");
    }
    // The files have the times a download gives them: nothing more to do.
    let o = sync(server, home.path(), &[p.as_str(), d]);
    assert!(
        stdout(&o).contains("0 downloaded (0 bytes), 4 unchanged"),
        "{}",
        text(&o)
    );
    // Between prefixes the bytes come from the source whatever their names.
    let q = format!("s3://{bucket}/q/");
    expect_exit(
        &sync(server, home.path(), &[&p, &q, "--track-renames"]),
        2,
        "for a sync up or down",
    );
}

/// `ferry sync ARGS` through a proxy: it succeeds, says each of `said`, and the bodies it
/// sent (`up`) or fetched come to a count of bytes `within`.
fn sync_moving(
    server: &ferry_testkit::TestServer,
    home: &std::path::Path,
    args: &[&str],
    said: &[&str],
    (within, up): (std::ops::Range<u64>, bool),
) {
    let (o, proxy) = sync_seen(server, home, args);
    assert!(o.status.success(), "{}", text(&o));
    for s in said {
        assert!(stdout(&o).contains(s), "{s}\n{}", text(&o));
    }
    let moved = match up {
        true => proxy.forwarded_bytes(),
        false => proxy.returned_bytes(),
    };
    assert!(within.contains(&moved), "{moved} bytes: {:?}", proxy.log());
}

/// A folder of three files synced to s3://bucket/`snapshot` (on SeaweedFS, the bucket named
/// from `name`), then one file changed in place at the same size (and later than the
/// snapshot), and one new: `same.txt` and `new.txt` (6,000 bytes) differ from the snapshot,
/// `big.bin` and `a/b.bin` do not.
fn changed_since_snapshot(
    name: &str,
    snapshot: &str,
) -> (
    &'static ferry_testkit::TestServer,
    String,
    tempfile::TempDir,
    std::path::PathBuf,
) {
    use std::time::{Duration, SystemTime};
    let files = [
        ("big.bin", 20 * MIB),
        ("a/b.bin", 300_000),
        ("same.txt", 1_000),
    ];
    let (server, bucket, home, src) = started(name, &files);
    let to = format!("s3://{bucket}/{snapshot}");
    let o = sync(server, home.path(), &[src.to_str().unwrap(), &to]);
    assert!(o.status.success(), "{}", text(&o));
    std::fs::write(src.join("same.txt"), data(1_000, 77)).unwrap();
    crate::mtime::set_mtime(
        &src.join("same.txt"),
        SystemTime::now() + Duration::from_secs(60),
    );
    std::fs::write(src.join("new.txt"), data(5_000, 78)).unwrap();
    (server, bucket, home, src)
}

/// `sync --copy-dest`: a day's snapshot made from the day before's, on the server, for every
/// file that has not changed since (compared as the sync compares: size and time); only the
/// rest is sent. A file changed in place, of the same size, is sent.
#[test]
fn a_snapshot_copies_from_the_one_before_what_has_not_changed() {
    let (server, bucket, home, src) = changed_since_snapshot("sync-copy-dest", "day1");
    let s = src.to_str().unwrap();
    let (day1, day2) = (format!("s3://{bucket}/day1"), format!("s3://{bucket}/day2"));
    let args = [s, day2.as_str(), "--copy-dest", day1.as_str()];
    let o = sync(server, home.path(), &[&args[..], &["--dry-run"]].concat());
    let line = format!("(dry run) copy: {day1}/big.bin to {day2}/big.bin");
    assert!(stdout(&o).contains(&line), "{line}\n{}", text(&o));
    // Only same.txt and new.txt are sent.
    let said = ["4 uploaded", "2 copied on the server from --copy-dest"];
    sync_moving(server, home.path(), &args, &said, (6_000..100_000, true));
    let keys = ["a/b.bin", "big.bin", "new.txt", "same.txt"];
    for k in keys {
        let o = boto3_object(server, &bucket, &format!("day2/{k}"));
        assert_eq!(
            o["sha256"],
            sha256_hex(&std::fs::read(src.join(k)).unwrap()),
            "{k}"
        );
    }
    let all = boto3_keys(server, &bucket);
    assert_eq!(all.iter().filter(|k| k.starts_with("day1/")).count(), 3);
    // The copies carry the files' times: the next sync of the day finds nothing to do.
    let o = sync(server, home.path(), &args);
    assert!(
        stdout(&o).contains("0 uploaded (0 bytes), 4 unchanged"),
        "{}",
        text(&o)
    );
    // A snapshot kept in a bucket of its own, on the same server: copied from there.
    let (_, _, other) = crate::seaweed_bucket("sync-copy-dest-b");
    let snap = format!("s3://{other}/snap");
    assert!(sync(server, home.path(), &[s, &snap]).status.success());
    let day3 = format!("s3://{bucket}/day3");
    let args3 = [s, day3.as_str(), "--copy-dest", snap.as_str()];
    let from = format!("(its bytes copied on the server from {snap}/big.bin) to {day3}/big.bin");
    let said = ["4 copied on the server from --copy-dest", from.as_str()];
    sync_moving(server, home.path(), &args3, &said, (0..20_000, true));
    for k in keys {
        let o = boto3_object(server, &bucket, &format!("day3/{k}"));
        let local = std::fs::read(src.join(k)).unwrap();
        assert_eq!(o["sha256"], sha256_hex(&local), "{k}");
    }
    for (from, said) in [
        (format!("{day2}/old"), "overlaps the destination"),
        (
            "s3://elsewhere-missing/day1".to_string(),
            "the prefix to copy from: looking below s3://elsewhere-missing/day1/: \
             ListObjectsV2 failed: NoSuchBucket",
        ),
    ] {
        let o = sync(server, home.path(), &[s, &day2, "--copy-dest", &from]);
        expect_exit(&o, 2, said);
    }
    let down = home.path().join("down");
    let o = sync(
        server,
        home.path(),
        &[&day2, down.to_str().unwrap(), "--copy-dest", &day1],
    );
    expect_exit(&o, 2, "for a sync up");
}

/// `sync --compare-dest`: a differential snapshot beside a full one holds only what changed
/// since (compared as the sync compares: size and time); a file the full one holds the same is
/// neither sent nor copied, and a file changed in place at the same size is sent.
#[test]
fn a_differential_snapshot_holds_only_what_changed_since_the_full_one() {
    let (server, bucket, home, src) = changed_since_snapshot("sync-compare-dest", "full");
    let s = src.to_str().unwrap();
    let (full, diff) = (format!("s3://{bucket}/full"), format!("s3://{bucket}/diff"));
    let args = [s, diff.as_str(), "--compare-dest", full.as_str()];
    let o = sync(
        server,
        home.path(),
        &[&args[..], &["--dry-run", "-v"]].concat(),
    );
    let said = [
        format!("skip: {}/big.bin = {full}/big.bin", src.display()),
        format!(
            "(dry run) upload: {}/new.txt to {diff}/new.txt",
            src.display()
        ),
        "2 uploaded (6000 bytes), 0 unchanged, 2 the same below --compare-dest".into(),
    ];
    for line in said {
        assert!(stdout(&o).contains(&line), "{line}\n{}", text(&o));
    }
    // Only same.txt and new.txt are sent, and nothing is copied.
    let said = ["2 uploaded (6000 bytes)", "2 the same below --compare-dest"];
    sync_moving(server, home.path(), &args, &said, (6_000..100_000, true));
    let all = boto3_keys(server, &bucket);
    let diffs: Vec<_> = all.iter().filter(|k| k.starts_with("diff/")).collect();
    assert_eq!(diffs, ["diff/new.txt", "diff/same.txt"]);
    for k in ["new.txt", "same.txt"] {
        let o = boto3_object(server, &bucket, &format!("diff/{k}"));
        let local = std::fs::read(src.join(k)).unwrap();
        assert_eq!(o["sha256"], sha256_hex(&local), "{k}");
    }
    // The next sync finds the differential snapshot whole.
    let o = sync(server, home.path(), &args);
    let line = "0 uploaded (0 bytes), 2 unchanged, 2 the same below --compare-dest";
    assert!(stdout(&o).contains(line), "{}", text(&o));
    // An object the differential snapshot holds otherwise is replaced, though the full one
    // holds the file the same: restored over the full one, it would stand for the file.
    let stale = format!("{diff}/a/b.bin");
    let o = crate::ferry(
        server,
        home.path(),
        &["cp", src.join("new.txt").to_str().unwrap(), &stale],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = sync(server, home.path(), &args);
    let line = "1 uploaded (300000 bytes), 2 unchanged, 1 the same below --compare-dest";
    assert!(stdout(&o).contains(line), "{}", text(&o));
    let stored = boto3_object(server, &bucket, "diff/a/b.bin");
    let local = std::fs::read(src.join("a/b.bin")).unwrap();
    assert_eq!(stored["sha256"], sha256_hex(&local));

    // The full snapshot in a bucket of its own: every file found the same there (the one
    // dated in the future by the time it stores), nothing written.
    let (_, _, other) = crate::seaweed_bucket("sync-compare-dest-b");
    let full_b = format!("s3://{other}/full");
    assert!(sync(server, home.path(), &[s, &full_b]).status.success());
    let diff_b = format!("s3://{bucket}/diff-b");
    let o = sync(
        server,
        home.path(),
        &[s, &diff_b, "--compare-dest", &full_b],
    );
    let line = "0 uploaded (0 bytes), 0 unchanged, 4 the same below --compare-dest";
    assert!(stdout(&o).contains(line), "{}", text(&o));
    let all = boto3_keys(server, &bucket);
    assert!(!all.iter().any(|k| k.starts_with("diff-b/")), "{all:?}");

    let both = [&args[..], &["--copy-dest", full.as_str()]].concat();
    expect_exit(&sync(server, home.path(), &both), 2, "--copy-dest");
    let over = [s, diff.as_str(), "--compare-dest", &format!("{diff}/old")];
    expect_exit(
        &sync(server, home.path(), &over),
        2,
        "overlaps the destination",
    );
    let down = home.path().join("down");
    let args = [
        diff.as_str(),
        down.to_str().unwrap(),
        "--compare-dest",
        &full,
    ];
    expect_exit(&sync(server, home.path(), &args), 2, "for a sync up");
}
