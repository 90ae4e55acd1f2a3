//! What `ferry sync` counts as the same, on SeaweedFS through the binary, every request seen
//! by the fault proxy: `--checksum` catches a change that keeps the size and the mtime (up
//! and down) and moves nothing else; trees synced by the aws cli and by s5cmd are a no-op for
//! ferry by times and by checksums (MD5 and multipart ETags included), except a folder s5cmd
//! downloaded, whose files lack the objects' times: by checksums only.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::mtime::set_mtime;
use crate::sync::{gets, sync, sync_seen, tree, writes};
use crate::{data, expect_exit, seaweed_bucket, stdout, text, tool};

const FILES: [(&str, usize); 4] = [
    ("a.txt", 100),
    ("b/c.bin", 70_000),
    ("b/d e.txt", 5),
    ("z/big.bin", 20 << 20),
];

/// Rewrites `path` with other bytes of the same size, and gives it back its mtime.
fn tamper(path: &Path) {
    let before = std::fs::metadata(path).unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(path, &bytes).unwrap();
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(before.modified().unwrap()).unwrap();
    let after = std::fs::metadata(path).unwrap();
    assert_eq!(after.len(), before.len());
    assert_eq!(after.modified().unwrap(), before.modified().unwrap());
}

#[test]
fn checksum_catches_a_change_that_keeps_size_and_mtime_both_ways() {
    let (server, _client, bucket) = seaweed_bucket("sync-sum");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    tree(&src, &FILES);
    let s = src.to_str().unwrap();
    let dst = format!("s3://{bucket}/m");
    let o = sync(server, home.path(), &[s, &dst]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Up: the change is invisible to size and time, and seen by --checksum.
    tamper(&src.join("b/c.bin"));
    let (o, proxy) = sync_seen(server, home.path(), &[s, &dst]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(writes(&proxy).is_empty(), "{:?}", proxy.log());
    let (o, proxy) = sync_seen(server, home.path(), &[s, &dst, "--checksum"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let w = writes(&proxy);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("/m/b/c.bin"), "{w:?}");
    assert!(
        stdout(&o).contains("1 uploaded (70000 bytes), 3 unchanged"),
        "{}",
        text(&o)
    );
    // No object read; a HEAD only for the changed file and the one over 1 MiB: the others'
    // listed ETags are their MD5s.
    let heads: Vec<String> = proxy
        .log()
        .into_iter()
        .filter(|l| l.starts_with("HEAD"))
        .collect();
    assert_eq!(heads.len(), 2, "{heads:?}");
    assert!(
        heads[0].contains("/m/b/c.bin") || heads[1].contains("/m/b/c.bin"),
        "{heads:?}"
    );
    assert!(gets(&proxy).is_empty(), "{:?}", proxy.log());
    let (o, proxy) = sync_seen(server, home.path(), &[s, &dst, "--checksum"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(writes(&proxy).is_empty(), "{:?}", proxy.log());

    // Down: a folder synced, then a file tampered with; --checksum fetches it alone.
    let down = home.path().join("down");
    let d = down.to_str().unwrap();
    let o = sync(server, home.path(), &[&dst, d]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    tamper(&down.join("z/big.bin"));
    let (o, proxy) = sync_seen(server, home.path(), &[&dst, d]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(gets(&proxy).is_empty(), "{:?}", proxy.log());
    let (o, proxy) = sync_seen(server, home.path(), &[&dst, d, "--checksum"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let g = gets(&proxy);
    assert!(
        !g.is_empty() && g.iter().all(|l| l.contains("/m/z/big.bin")),
        "{g:?}"
    );
    assert!(stdout(&o).contains("1 downloaded"), "{}", text(&o));
    assert!(std::fs::read(down.join("z/big.bin")).unwrap() == data(20 << 20, 3));
}

/// Syncs `src` up with `program` to `prefix`, down again into `back`, then checks that
/// ferry finds nothing to do either way, by times and by checksums.
fn other_tool_then_ferry(program: &str, up: &[&str], down: &[&str], down_is_noop: bool) {
    let (server, _client, bucket) = seaweed_bucket(&format!("sync-{program}"));
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    tree(&src, &FILES);
    // Files older than the objects, as a nightly sync finds them.
    for (name, _) in FILES {
        let f = std::fs::File::options()
            .write(true)
            .open(src.join(name))
            .unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(3600))
            .unwrap();
    }
    let s = format!("{}/", src.display());
    let prefix = format!("s3://{bucket}/{program}/");
    let back = home.path().join("back");
    let b = format!("{}/", back.display());
    let fill = |args: &[&str]| -> Vec<String> {
        args.iter()
            .map(|a| {
                a.replace("SRC", &s)
                    .replace("DST", &prefix)
                    .replace("BACK", &b)
            })
            .collect()
    };
    let up: Vec<String> = fill(up);
    tool(
        server,
        program,
        &up.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let down: Vec<String> = fill(down);
    tool(
        server,
        program,
        &down.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    for name in FILES.map(|(n, _)| n) {
        assert!(std::fs::read(back.join(name)).unwrap() == std::fs::read(src.join(name)).unwrap());
    }
    for extra in [&[][..], &["--checksum"][..]] {
        let mut args = vec![s.as_str(), prefix.as_str()];
        args.extend(extra);
        let (o, proxy) = sync_seen(server, home.path(), &args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(
            writes(&proxy).is_empty(),
            "{program} up {extra:?}: {:?}",
            proxy.log()
        );
        assert!(
            stdout(&o).contains("0 uploaded (0 bytes), 4 unchanged"),
            "{}",
            text(&o)
        );
        let mut args = vec![prefix.as_str(), b.as_str()];
        args.extend(extra);
        let (o, proxy) = sync_seen(server, home.path(), &args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        if down_is_noop || !extra.is_empty() {
            assert!(
                gets(&proxy).is_empty(),
                "{program} down {extra:?}: {:?}",
                proxy.log()
            );
            assert!(
                stdout(&o).contains("0 downloaded (0 bytes), 4 unchanged"),
                "{}",
                text(&o)
            );
        }
    }
}

#[test]
fn a_tree_synced_by_the_aws_cli_is_a_no_op_for_ferry() {
    // The aws cli writes 8 MiB parts (a multipart MD5 ETag for z/big.bin) and gives the
    // files it downloads the objects' Last-Modified.
    other_tool_then_ferry(
        "aws",
        &["s3", "sync", "SRC", "DST"],
        &["s3", "sync", "DST", "BACK"],
        true,
    );
}

#[test]
fn a_tree_synced_by_s5cmd_is_a_no_op_for_ferry() {
    // s5cmd gives the files it downloads no time of the object's (they keep the time they
    // were written), so a folder it filled matches by size and checksum, not by time: ferry
    // fetches those files once by default, and --checksum finds nothing to do.
    other_tool_then_ferry(
        "s5cmd",
        &["sync", "SRC", "DST"],
        &["sync", "DST*", "BACK"],
        false,
    );
}

/// A pair the server will not describe (an SSE-C object, synced without its key) fails,
/// named, with the hint: it is not taken as a difference, which replaced the encrypted
/// object with an unencrypted copy of the same file at every sync; deletions are held.
#[test]
fn a_pair_the_server_will_not_describe_fails_and_its_object_stays() {
    let (server, _client, bucket) = seaweed_bucket("sync-sealed");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    tree(&src, &FILES[..2]);
    let s = src.to_str().unwrap();
    let dst = format!("s3://{bucket}/m");
    let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [9u8; 32]);
    let o = sync(server, home.path(), &[s, &dst, "--sse-c-key", &key]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    crate::uploaded(server, home.path(), b"old", &format!("{dst}/gone.txt"), &[]);

    // By checksums (a HEAD of each same-size pair, unless the listed ETag is the small
    // file's MD5: S3 lists none for an SSE-C object, SeaweedFS lists one, so a.txt changes
    // too), and, for a file dated after its object was written, by the mtime the object
    // stores (a HEAD too).
    let sent: Vec<Vec<u8>> = FILES[..2]
        .iter()
        .map(|(name, _)| std::fs::read(src.join(name)).unwrap())
        .collect();
    tamper(&src.join("a.txt"));
    let later = SystemTime::now() + Duration::from_secs(3600);
    let file = std::fs::File::options()
        .write(true)
        .open(src.join("a.txt"))
        .unwrap();
    file.set_modified(later).unwrap();
    for compare in [&["--checksum"][..], &[]] {
        let mut args = vec![s, &dst, "--delete"];
        args.extend(compare);
        let (o, proxy) = sync_seen(server, home.path(), &args);
        assert_eq!(o.status.code(), Some(1), "{compare:?}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("customer-provided key (SSE-C)"), "{err}");
        assert!(err.contains(&format!("{dst}/a.txt")), "{err}");
        assert!(err.contains("nothing was deleted"), "{err}");
        assert!(writes(&proxy).is_empty(), "{compare:?}: {:?}", proxy.log());
    }
    for ((name, size), sent) in FILES[..2].iter().zip(&sent) {
        assert_eq!(
            crate::sealed(server, &bucket, &format!("m/{name}"), &key),
            crate::sha256_hex(sent),
            "{name} ({size} bytes)"
        );
    }
    // With the key, the same sync settles it: the dated file's object stores its time now.
    let o = sync(
        server,
        home.path(),
        &[s, &dst, "--sse-c-key", &key, "--delete"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stdout(&o).contains("1 uploaded"), "{}", text(&o));
    assert!(stdout(&o).contains("1 deleted"), "{}", text(&o));
}

#[test]
fn ignore_existing_update_and_immutable_leave_what_the_destination_holds() {
    let (server, _client, bucket) = seaweed_bucket("sync-keep");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    tree(&src, &[("a.txt", 100), ("b.txt", 200)]);
    let s = src.to_str().unwrap();
    let dst = format!("s3://{bucket}/m");
    let o = sync(server, home.path(), &[s, &dst]);
    assert!(o.status.success(), "{}", text(&o));
    let stored = |key: &str| crate::boto3_object(server, &bucket, key)["sha256"].clone();
    let a_was = stored("m/a.txt");

    // Up, --ignore-existing: a changed file (another size, a later time) stays as the
    // prefix holds it; only the new file goes.
    std::fs::write(src.join("a.txt"), data(150, 9)).unwrap();
    set_mtime(
        &src.join("a.txt"),
        SystemTime::now() + Duration::from_secs(60),
    );
    std::fs::write(src.join("c.txt"), b"new").unwrap();
    let (o, proxy) = sync_seen(server, home.path(), &[s, &dst, "--ignore-existing", "-v"]);
    assert!(o.status.success(), "{}", text(&o));
    let w = writes(&proxy);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("/m/c.txt"), "{w:?}");
    let out = stdout(&o);
    assert!(
        out.contains(
            "sync: 1 uploaded (3 bytes), 0 unchanged, 2 kept as the destination holds them"
        ),
        "{out}"
    );
    assert!(
        out.contains(&format!("keep: {dst}/a.txt (not replaced by {s}/a.txt)")),
        "{out}"
    );
    assert_eq!(stored("m/a.txt"), a_was);
    // --immutable: the changed file fails, named, and stays as the prefix holds it.
    std::fs::write(src.join("d.txt"), b"newer still").unwrap();
    let (o, proxy) = sync_seen(server, home.path(), &[s, &dst, "--immutable"]);
    expect_exit(&o, 1, "holds other bytes than");
    let w = writes(&proxy);
    assert_eq!(w.len(), 1, "only the new file: {w:?}");
    assert!(w[0].contains("/m/d.txt"), "{w:?}");
    assert!(text(&o).contains(&format!("{dst}/a.txt holds other bytes than {s}/a.txt")));
    assert_eq!(stored("m/a.txt"), a_was);
    // Without either, the change goes.
    let o = sync(server, home.path(), &[s, &dst]);
    assert!(
        stdout(&o).contains("sync: 1 uploaded (150 bytes), 3 unchanged"),
        "{}",
        text(&o)
    );
    assert_ne!(stored("m/a.txt"), a_was);

    // Up, -u: a file dated before its object was written (another size) is kept; without
    // -u it would go.
    std::fs::write(src.join("b.txt"), data(250, 3)).unwrap();
    set_mtime(
        &src.join("b.txt"),
        SystemTime::now() - Duration::from_secs(3600),
    );
    let b_was = stored("m/b.txt");
    let (o, proxy) = sync_seen(server, home.path(), &[s, &dst, "-u", "-v"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(writes(&proxy).is_empty(), "{:?}", proxy.log());
    // b.txt is kept. (c.txt and d.txt, unchanged, are kept too where their objects were
    // written in a later second than the files: -u does not compare what it keeps. a.txt's
    // time is ahead of its object's, so it is compared, and the same.)
    let out = stdout(&o);
    assert!(
        out.contains(&format!("keep: {dst}/b.txt (not replaced by {s}/b.txt)")),
        "{out}"
    );
    assert!(!out.contains(&format!("keep: {dst}/a.txt")), "{out}");
    assert_eq!(stored("m/b.txt"), b_was);

    // Down, -u: a file edited since it came down survives; an object written since its file
    // came down replaces it.
    let back = home.path().join("back");
    let b = back.to_str().unwrap();
    let o = sync(server, home.path(), &[&dst, b]);
    assert!(o.status.success(), "{}", text(&o));
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(back.join("a.txt"), b"edited here").unwrap();
    set_mtime(
        &back.join("c.txt"),
        SystemTime::now() - Duration::from_secs(3600),
    );
    let c = src.join("c.txt");
    std::fs::write(&c, b"newer object").unwrap();
    let o = crate::ferry(
        server,
        home.path(),
        &["cp", c.to_str().unwrap(), &format!("{dst}/c.txt")],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = sync(server, home.path(), &[&dst, b, "--update"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        stdout(&o).contains("sync: 1 downloaded (12 bytes), 2 unchanged, 1 kept"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read(back.join("a.txt")).unwrap(), b"edited here");
    assert_eq!(std::fs::read(back.join("c.txt")).unwrap(), b"newer object");
}
