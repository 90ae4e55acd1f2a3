//! Prefix to prefix, through the binary: `ferry sync` and `ferry cp -r` between two prefixes
//! of SeaweedFS (server-side copies, every request seen by the fault proxy, every object read
//! back by boto3), and from SeaweedFS to s3s-fs (streamed through ferry, the bytes read from
//! s3s-fs's disk).

use crate::sync::FILES;
use crate::sync::{sync, sync_seen, tree, writes};
use crate::{boto3_keys, boto3_object, data, ferry, seaweed_bucket, stdout, text};

#[test]
fn a_prefix_syncs_to_a_prefix_on_the_server_moving_only_what_changed() {
    let (server, _client, bucket) = seaweed_bucket("sync-pp");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    tree(&src, &FILES);
    let (from, to) = (format!("s3://{bucket}/from"), format!("s3://{bucket}/to"));
    let o = sync(server, home.path(), &[src.to_str().unwrap(), &from]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let (o, proxy) = sync_seen(server, home.path(), &[&from, &to]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stdout(&o).contains("sync: 5 copied"), "{}", text(&o));
    // Server-side copies: no object body passes through ferry.
    assert!(
        !proxy
            .log()
            .iter()
            .any(|l| l.starts_with("GET") && !l.contains("list-type")),
        "{:?}",
        proxy.log()
    );
    for (name, _) in FILES {
        let (a, b) = (
            boto3_object(server, &bucket, &format!("from/{name}")),
            boto3_object(server, &bucket, &format!("to/{name}")),
        );
        assert_eq!(a["sha256"], b["sha256"], "{name}");
        assert_eq!(
            a["metadata"], b["metadata"],
            "{name}: the stored mtime goes along"
        );
    }

    // Again: listings only, by times and by checksums.
    let (o, proxy) = sync_seen(server, home.path(), &[&from, &to, "-v"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(writes(&proxy).is_empty(), "{:?}", proxy.log());
    assert!(
        !proxy.log().iter().any(|l| l.starts_with("HEAD")),
        "{:?}",
        proxy.log()
    );
    assert!(
        stdout(&o).contains("0 copied (0 bytes), 5 unchanged"),
        "{}",
        text(&o)
    );
    let (o, proxy) = sync_seen(server, home.path(), &[&from, &to, "--checksum"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(writes(&proxy).is_empty(), "{:?}", proxy.log());
    // The copies kept their sources' ETags, which the listings give: no HeadObject either.
    let heads = proxy.log().into_iter().filter(|l| l.starts_with("HEAD"));
    assert_eq!(heads.count(), 0, "{:?}", proxy.log());

    // One source object rewritten (same size), one removed: the first alone is copied, the
    // second deleted from the destination by one DeleteObjects.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    ferry_testkit::boto3(
        server,
        "s3.put_object(Bucket=sys.argv[1], Key='from/b/d e.txt', Body=b'EDITS'); s3.delete_object(Bucket=sys.argv[1], Key='from/a.txt'); print('{}')",
        &[&bucket],
    )
    .unwrap();
    let (o, proxy) = sync_seen(server, home.path(), &[&from, &to, "--delete"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let w = writes(&proxy);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w.iter()
            .any(|l| l.starts_with("PUT") && l.contains("/to/b/d%20e.txt")),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|l| l.starts_with("POST") && l.contains("delete")),
        "{w:?}"
    );
    let got = boto3_object(server, &bucket, "to/b/d e.txt");
    assert_eq!(got["size"], 5);
    let mut want: Vec<String> = FILES
        .iter()
        .filter(|(n, _)| *n != "a.txt")
        .map(|(n, _)| format!("to/{n}"))
        .collect();
    want.sort();
    let mut under_to: Vec<String> = boto3_keys(server, &bucket)
        .into_iter()
        .filter(|k| k.starts_with("to/"))
        .collect();
    under_to.sort();
    assert_eq!(under_to, want);

    // cp -r copies every object again, to a third prefix.
    let o = ferry(
        server,
        home.path(),
        &["cp", "-r", &from, &format!("s3://{bucket}/again")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stdout(&o).contains("copy: 4 objects"), "{}", text(&o));
    let big = boto3_object(server, &bucket, "again/z/big.bin");
    assert_eq!(big["sha256"], crate::sha256_hex(&data(6 << 20, 4)));
    // Overlapping prefixes are refused before anything is sent.
    let o = ferry(
        server,
        home.path(),
        &["sync", &from, &format!("{from}/inner")],
    );
    crate::expect_exit(&o, 2, "overlap");
}

#[test]
fn a_prefix_syncs_to_another_server_streamed_and_then_is_a_no_op() {
    let (server, _client, bucket) = seaweed_bucket("sync-xs");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    // Objects of more than a part each, together more than the memory budget (32 MiB).
    let files = [
        FILES.as_slice(),
        &[("y/1.bin", 20 << 20), ("y/2.bin", 20 << 20)],
    ]
    .concat();
    tree(&src, &files);
    let from = format!("s3://{bucket}/from");
    let o = sync(server, home.path(), &[src.to_str().unwrap(), &from]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let fs = ferry_testkit::S3sFs::start().unwrap();
    std::fs::create_dir(fs.root.path().join("dest")).unwrap();
    let creds = crate::profile_for(server, home.path(), "seaweed");
    let run = |extra: &[&str]| {
        crate::ferry_command(fs.server.env(), home.path())
            .args(["sync", &from, "s3://dest/mirror"])
            .args(["--source-endpoint-url", &server.endpoint])
            .args(["--source-profile", "seaweed", "--no-progress"])
            .args(extra)
            .env("AWS_SHARED_CREDENTIALS_FILE", &creds)
            .output()
            .unwrap()
    };
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stdout(&o).contains("sync: 7 copied"), "{}", text(&o));
    for (i, (name, size)) in files.iter().enumerate() {
        let stored = std::fs::read(fs.root.path().join("dest/mirror").join(name)).unwrap();
        assert!(stored == data(*size, i as u64), "{name} differs on s3s-fs");
    }
    for extra in [&[][..], &["--checksum"][..]] {
        let o = run(extra);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(
            stdout(&o).contains("0 copied (0 bytes), 7 unchanged"),
            "{extra:?}: {}",
            text(&o)
        );
    }
}
