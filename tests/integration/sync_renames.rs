//! `ferry sync --track-renames` on SeaweedFS, read back by boto3: a file renamed or moved
//! since the last sync is copied on the server from the object that holds its bytes, not
//! sent again; a file of the same size as an object gone from the folder, but other bytes,
//! is sent.

use crate::sync::{sync, sync_seen, tree};
use crate::{boto3_keys, boto3_object, boto3_uploads, data, expect_exit, sha256_hex, stdout, text};

const MIB: usize = 1 << 20;

#[test]
fn a_renamed_file_is_copied_on_the_server_and_a_lookalike_is_sent() {
    let (server, _client, bucket) = crate::seaweed_bucket("sync-renames");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    // big.bin goes up in two parts (a multipart object, checked by its CRC64NVME).
    tree(
        &src,
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

    let (o, proxy) = sync_seen(server, home.path(), &args);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        stdout(&o).contains("3 renamed: copied on the server") && stdout(&o).contains("4 deleted"),
        "{}",
        text(&o)
    );
    // Only the new file's bytes were sent (and request bodies of a few hundred bytes).
    let sent = proxy.forwarded_bytes();
    assert!(
        (70_000..200_000).contains(&sent),
        "{sent} bytes sent: {:?}",
        proxy.log()
    );
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

    // Only a folder's renames are tracked: nothing is read from the server whichever way.
    let down = home.path().join("down");
    let o = sync(
        server,
        home.path(),
        &[&p, down.to_str().unwrap(), "--track-renames"],
    );
    expect_exit(&o, 2, "for a sync up");
    assert!(!down.exists());
}
