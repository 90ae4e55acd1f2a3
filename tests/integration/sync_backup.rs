//! `ferry sync --backup-dir` on SeaweedFS, read back by boto3: what a sync replaces or
//! deletes is kept first, at its path below the destination: up and across, copied to a
//! prefix on the server; down, moved into a folder. A backup that cannot be made leaves its
//! path as it was; a location that does not suit the sync exits 2 with nothing done.

use std::time::{Duration, SystemTime};

use crate::mtime::set_mtime;
use crate::sync::{sync, tree};
use crate::{boto3_keys, data, expect_exit, seaweed_bucket, sha256_hex, stdout, text};

#[test]
fn what_a_sync_replaces_or_deletes_is_backed_up_first() {
    let (server, _client, bucket) = seaweed_bucket("sync-backup");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    tree(
        &src,
        &[("a.txt", 100), ("d/big.bin", 6 << 20), ("gone.txt", 7)],
    );
    let s = src.to_str().unwrap();
    let m = format!("s3://{bucket}/m/");
    let o = sync(server, home.path(), &[s, &m]);
    assert!(o.status.success(), "{}", text(&o));
    let sha = |key: &str| crate::boto3_object(server, &bucket, key)["sha256"].clone();
    let was: Vec<_> = ["m/a.txt", "m/d/big.bin", "m/gone.txt"]
        .iter()
        .map(|k| sha(k))
        .collect();

    // Up: one file of another size, one of the same size written later, one deleted.
    std::fs::write(src.join("a.txt"), data(120, 5)).unwrap();
    std::fs::write(src.join("d/big.bin"), data(6 << 20, 6)).unwrap();
    set_mtime(
        &src.join("d/big.bin"),
        SystemTime::now() + Duration::from_secs(60),
    );
    std::fs::remove_file(src.join("gone.txt")).unwrap();
    let old = format!("s3://{bucket}/old/");
    for (to, why) in [
        (format!("{m}old"), "overlaps the destination"),
        (
            home.path().join("old").display().to_string(),
            "back up to a prefix",
        ),
    ] {
        let o = sync(
            server,
            home.path(),
            &[s, &m, "--delete", "--backup-dir", &to],
        );
        expect_exit(&o, 2, why);
    }
    assert_eq!(sha("m/a.txt"), was[0], "nothing was done");
    let o = sync(
        server,
        home.path(),
        &[s, &m, "--delete", "--backup-dir", &old],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        stdout(&o).contains(&format!(
            "2 uploaded (6291576 bytes), 0 unchanged, 1 deleted, 3 backed up to {old}, 0 failed"
        )),
        "{}",
        text(&o)
    );
    let keys = boto3_keys(server, &bucket);
    assert_eq!(
        keys,
        [
            "m/a.txt",
            "m/d/big.bin",
            "old/a.txt",
            "old/d/big.bin",
            "old/gone.txt"
        ]
    );
    assert_eq!(
        [sha("old/a.txt"), sha("old/d/big.bin"), sha("old/gone.txt")].to_vec(),
        was
    );
    assert_eq!(sha("m/a.txt"), sha256_hex(&data(120, 5)));

    // Across: the object a copy replaces is kept in a prefix of another bucket.
    let n = format!("s3://{bucket}/n/");
    let o = sync(server, home.path(), &[&m, &n]);
    assert!(o.status.success(), "{}", text(&o));
    let o = crate::ferry(
        server,
        home.path(),
        &[
            "cp",
            src.join("d/big.bin").to_str().unwrap(),
            &format!("{n}a.txt"),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let (_, _, other) = seaweed_bucket("sync-backup-2");
    let kept = format!("s3://{other}/n-old");
    let o = sync(
        server,
        home.path(),
        &[&m, &n, "--checksum", "--backup-dir", &kept],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(stdout(&o).contains("1 copied"), "{}", text(&o));
    assert_eq!(boto3_keys(server, &other), ["n-old/a.txt"]);
    assert_eq!(
        crate::boto3_object(server, &other, "n-old/a.txt")["sha256"],
        sha256_hex(&data(6 << 20, 6))
    );

    // Down: a file edited here (another size) and one only here are moved into the folder.
    let back = home.path().join("back");
    let b = back.to_str().unwrap();
    let o = sync(server, home.path(), &[&m, b]);
    assert!(o.status.success(), "{}", text(&o));
    std::fs::write(back.join("a.txt"), b"edited here").unwrap();
    std::fs::write(back.join("extra.txt"), b"only here").unwrap();
    expect_exit(
        &sync(server, home.path(), &[&m, b, "--backup-dir", &old]),
        2,
        "back up to a folder",
    );
    expect_exit(
        &sync(
            server,
            home.path(),
            &[&m, b, "--backup-dir", &format!("{b}/old")],
        ),
        2,
        "overlaps the destination",
    );
    // A backup that cannot be made (a folder stands where the file would go): the file is
    // not replaced, and nothing is deleted.
    let blocked = home.path().join("blocked");
    std::fs::create_dir_all(blocked.join("a.txt/x")).unwrap();
    let o = sync(
        server,
        home.path(),
        &[&m, b, "--delete", "--backup-dir", blocked.to_str().unwrap()],
    );
    expect_exit(&o, 1, "backing up");
    assert_eq!(std::fs::read(back.join("a.txt")).unwrap(), b"edited here");
    assert!(back.join("extra.txt").exists());
    let kept = home.path().join("kept");
    let o = sync(
        server,
        home.path(),
        &[&m, b, "--delete", "--backup-dir", kept.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        stdout(&o).contains("1 downloaded (120 bytes), 1 unchanged, 1 deleted, 2 backed up"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read(kept.join("a.txt")).unwrap(), b"edited here");
    assert_eq!(std::fs::read(kept.join("extra.txt")).unwrap(), b"only here");
    assert_eq!(std::fs::read(back.join("a.txt")).unwrap(), data(120, 5));
    assert!(!back.join("extra.txt").exists());
}

/// `--suffix` (and `--suffix-keep-extension`): each backup's name gets it, so the backups of
/// one path from two syncs stand side by side; up (replaced and deleted objects) and down
/// (replaced and deleted files). Without --backup-dir, or with a `/` in it, exit 2.
#[test]
fn a_suffix_keeps_each_syncs_backups_side_by_side() {
    let (server, _client, bucket) = seaweed_bucket("sync-suffix");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    tree(&src, &[("a.txt", 100), ("d/b.bin", 200), ("gone", 7)]);
    let s = src.to_str().unwrap();
    let (m, old) = (format!("s3://{bucket}/m/"), format!("s3://{bucket}/old/"));
    let ok = |args: &[&str]| {
        let o = sync(server, home.path(), args);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
    };
    ok(&[s, &m]);
    let sha = |key: &str| crate::boto3_object(server, &bucket, key)["sha256"].clone();
    let first = sha("m/a.txt");

    // Two syncs, each replacing a.txt: two backups of it, one a day.
    std::fs::write(src.join("a.txt"), data(101, 1)).unwrap();
    std::fs::remove_file(src.join("gone")).unwrap();
    ok(&[s, &m, "--delete", "--backup-dir", &old, "--suffix", ".day1"]);
    let second = sha("m/a.txt");
    std::fs::write(src.join("a.txt"), data(102, 2)).unwrap();
    std::fs::write(src.join("d/b.bin"), data(201, 3)).unwrap();
    let keep_ext = ["--suffix", "-day2", "--suffix-keep-extension"];
    ok(&[&[s, &m, "--backup-dir", &old][..], &keep_ext].concat());
    let keys = boto3_keys(server, &bucket);
    let backups: Vec<&str> = keys.iter().filter_map(|k| k.strip_prefix("old/")).collect();
    assert_eq!(
        backups,
        ["a-day2.txt", "a.txt.day1", "d/b-day2.bin", "gone.day1"]
    );
    assert_eq!(sha("old/a.txt.day1"), first);
    assert_eq!(sha("old/a-day2.txt"), second);

    // Down: the file replaced and the file deleted, each moved with the suffix.
    let dl = home.path().join("dl");
    let d = dl.to_str().unwrap();
    ok(&[&m, d]);
    std::fs::write(dl.join("a.txt"), b"edited here").unwrap();
    std::fs::write(dl.join("extra"), b"only here").unwrap();
    let kept = home.path().join("kept");
    let k = kept.to_str().unwrap();
    ok(&[&m, d, "--delete", "--backup-dir", k, "--suffix", ".bak"]);
    assert_eq!(
        std::fs::read(kept.join("a.txt.bak")).unwrap(),
        b"edited here"
    );
    assert_eq!(std::fs::read(kept.join("extra.bak")).unwrap(), b"only here");
    assert_eq!(std::fs::read(dl.join("a.txt")).unwrap(), data(102, 2));

    expect_exit(
        &sync(server, home.path(), &[s, &m, "--suffix", ".x"]),
        2,
        "--backup-dir",
    );
    let slash = [s, &m, "--backup-dir", &old, "--suffix", "a/b"];
    expect_exit(&sync(server, home.path(), &slash), 2, "--suffix");
}
