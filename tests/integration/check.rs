//! `ferry check`: whether a destination holds what a source does, by content, up, down and
//! across: a line for each path that differs, is missing or is only in the destination, the
//! exit code a script relies on, and nothing moved or deleted.

use std::collections::BTreeMap;

use crate::tree::{boto3_tree, local_tree, make_tree};
use crate::{data, expect_exit, ferry, seaweed_bucket, stdout, text};

#[test]
fn check_names_what_differs_is_missing_or_extra_and_moves_nothing() {
    let (server, _client, bucket) = seaweed_bucket("check");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    make_tree(
        &src,
        &[("a.txt", 1000), ("sub/b.txt", 2000), ("c.txt", 3000)],
    );
    let (s, p) = (src.to_str().unwrap(), format!("s3://{bucket}/p/"));
    let run = |args: &[&str]| ferry(server, home.path(), &[&["check"], args].concat());
    let o = ferry(server, home.path(), &["cp", "-r", s, &p, "--no-progress"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&[s, &p]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        stdout(&o).contains("check: 3 same, 0 differ, 0 missing, 0 only in"),
        "{}",
        text(&o)
    );

    // The same size with other bytes (only a comparison of contents sees it), a file the
    // prefix lacks, an object the folder lacks.
    std::fs::write(src.join("a.txt"), data(1000, 77)).unwrap();
    std::fs::write(src.join("new.txt"), b"new").unwrap();
    let extra = format!("{p}extra.txt");
    let o = ferry(
        server,
        home.path(),
        &["cp", &src.join("new.txt").to_string_lossy(), &extra],
    );
    assert!(o.status.success(), "{}", text(&o));
    let before = boto3_tree(server, &bucket, "p/");
    let o = run(&[s, &p]);
    expect_exit(
        &o,
        1,
        "the destination does not match: 1 differ; 1 missing; 1 only in",
    );
    let out = stdout(&o);
    for line in [
        format!("differs: {s}/a.txt <> {p}a.txt"),
        format!("missing: {s}/new.txt not in {p}new.txt"),
        format!("extra: {extra}"),
    ] {
        assert!(out.contains(&line), "{line} not in {out}");
    }
    assert!(
        !out.contains("c.txt"),
        "the same paths are said with -v only: {out}"
    );
    // Nothing moved, nothing deleted.
    assert_eq!(boto3_tree(server, &bucket, "p/"), before);

    // Sizes only: the changed file passes; one way: the extra object is not asked about.
    let o = run(&[s, &p, "--size-only"]);
    expect_exit(&o, 1, "1 missing; 1 only in the destination");
    assert!(!stdout(&o).contains("differs:"), "{}", text(&o));
    let o = run(&[s, &p, "--one-way"]);
    expect_exit(&o, 1, "1 differ; 1 missing");
    assert!(!stdout(&o).contains("extra:"), "{}", text(&o));

    // JSON: a `check` event for every path, the same ones too.
    let o = run(&[s, &p, "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let states: BTreeMap<String, String> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"] == "check")
        .map(|v| {
            (
                v["key"].as_str().unwrap().into(),
                v["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = [
        ("a.txt", "differs"),
        ("c.txt", "same"),
        ("extra.txt", "extra"),
        ("new.txt", "missing"),
        ("sub/b.txt", "same"),
    ];
    let want: BTreeMap<String, String> = want
        .iter()
        .map(|(k, v)| (format!("p/{k}"), v.to_string()))
        .collect();
    assert_eq!(states, want);

    // Down: a folder downloaded matches its prefix; a file changed in place (same size) does
    // not, and stays as it is.
    let back = home.path().join("back");
    let b = back.to_str().unwrap();
    let o = ferry(server, home.path(), &["cp", "-r", &p, b, "--no-progress"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&[&p, b]);
    assert!(o.status.success(), "{}", text(&o));
    std::fs::write(back.join("c.txt"), data(3000, 78)).unwrap();
    let changed = local_tree(&back);
    let o = run(&[&p, b]);
    expect_exit(&o, 1, "1 differ");
    assert!(
        stdout(&o).contains(&format!("differs: {p}c.txt <> {b}/c.txt")),
        "{}",
        text(&o)
    );
    // Read back, every object downloaded: the same verdicts.
    let o = run(&[&p, b, "--download", "-v"]);
    expect_exit(&o, 1, "1 differ");
    for line in [
        format!("differs: {p}c.txt <> {b}/c.txt"),
        format!("same: {p}sub/b.txt = {b}/sub/b.txt"),
    ] {
        assert!(stdout(&o).contains(&line), "{line}: {}", text(&o));
    }
    assert_eq!(local_tree(&back), changed);

    // Across: a copied prefix matches; an object rewritten (same size) there does not.
    let q = format!("s3://{bucket}/q/");
    let o = ferry(server, home.path(), &["cp", "-r", &p, &q, "--no-progress"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(run(&[&p, &q]).status.success());
    assert!(run(&[&p, &q, "--download"]).status.success());
    let c = back.join("c.txt");
    let o = ferry(
        server,
        home.path(),
        &["cp", c.to_str().unwrap(), &format!("{q}c.txt")],
    );
    assert!(o.status.success(), "{}", text(&o));
    expect_exit(&run(&[&p, &q]), 1, "1 differ");
    expect_exit(&run(&[&p, &q, "--download"]), 1, "1 differ");

    // Two folders: bad input.
    expect_exit(&run(&[s, b]), 2, "one side of a check is s3://");
}

#[test]
fn one_file_and_one_object_are_checked_by_content_either_way() {
    let (server, _client, bucket) = seaweed_bucket("check-one");
    let home = tempfile::tempdir().unwrap();
    let (file, body) = crate::written(home.path(), "big.iso", 12 << 20, 5);
    let f = file.to_str().unwrap();
    let url = format!("s3://{bucket}/iso/big.iso");
    let run = |args: &[&str]| ferry(server, home.path(), &[&["check"], args].concat());
    // In three parts, so that its checksum is one of parts the check must follow.
    crate::uploaded(server, home.path(), &body, &url, &["--part-size", "5MiB"]);
    for args in [[f, &url], [&url, f], [f, &format!("s3://{bucket}/iso/")]] {
        let o = run(&args);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
        assert!(
            stdout(&o).contains("check: 1 same, 0 differ"),
            "{}",
            text(&o)
        );
    }

    // One byte changed in the middle, the size the same: the content differs, the sizes
    // do not; boto3 agrees the bytes are no longer the file's.
    let mut changed = body.clone();
    changed[6 << 20] ^= 1;
    std::fs::write(&file, &changed).unwrap();
    let stored = crate::boto3_object(server, &bucket, "iso/big.iso");
    assert_ne!(stored["sha256"], crate::sha256_hex(&changed));
    let o = run(&[f, &url]);
    expect_exit(&o, 1, "the destination does not match: 1 differ");
    assert!(
        stdout(&o).contains(&format!("differs: {f} <> {url}")),
        "{}",
        text(&o)
    );
    assert!(run(&[f, &url, "--size-only"]).status.success());
    // Read back whole, either way: it differs still; the bytes it was made of match.
    expect_exit(&run(&[f, &url, "--download"]), 1, "1 differ");
    expect_exit(&run(&[&url, f, "--download"]), 1, "1 differ");
    let was = home.path().join("was.iso");
    std::fs::write(&was, &body).unwrap();
    let o = run(&[was.to_str().unwrap(), &url, "--download"]);
    assert!(o.status.success(), "{}", text(&o));
    expect_exit(
        &run(&[f, &url, "--download", "--size-only"]),
        2,
        "--size-only",
    );

    // The object missing: up, it is missing; down, the source is, which is an error.
    let gone = format!("s3://{bucket}/iso/gone.iso");
    let o = run(&[f, &gone]);
    expect_exit(&o, 1, "1 missing");
    assert!(
        stdout(&o).contains(&format!("missing: {f} not in {gone}")),
        "{}",
        text(&o)
    );
    expect_exit(&run(&[&gone, f]), 1, "does not exist");
    // A tree's filters have nothing to choose among.
    expect_exit(
        &run(&[f, &url, "--max-age", "1d"]),
        2,
        "--max-age chooses among",
    );

    // Two objects: a copy is the same (also named by its folder); another object of the
    // same size differs; one not there is missing.
    let copy = format!("s3://{bucket}/copy/big.iso");
    let o = ferry(server, home.path(), &["cp", &url, &copy]);
    assert!(o.status.success(), "{}", text(&o));
    let folder = format!("s3://{bucket}/copy/");
    for args in [[url.as_str(), &copy], [&url, &folder]] {
        let o = run(&args);
        assert!(
            stdout(&o).contains("check: 1 same, 0 differ"),
            "{}",
            text(&o)
        );
    }
    assert!(run(&[&url, &copy, "--download"]).status.success());
    crate::uploaded(server, home.path(), &changed, &copy, &[]);
    expect_exit(&run(&[&url, &copy]), 1, "1 differ");
    expect_exit(&run(&[&url, &copy, "--download"]), 1, "1 differ");
    expect_exit(
        &run(&[&url, &format!("s3://{bucket}/none/big.iso")]),
        1,
        "1 missing",
    );

    // An object into a folder: the file of its name there.
    let dir = home.path().join("dl");
    std::fs::create_dir(&dir).unwrap();
    let o = run(&[&url, dir.to_str().unwrap()]);
    expect_exit(&o, 1, "1 missing");
    std::fs::write(dir.join("big.iso"), &body).unwrap();
    assert!(run(&[&url, dir.to_str().unwrap()]).status.success());

    // Nothing on either side is no match: a mistyped prefix, most likely.
    let empty = home.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = run(&[&format!("s3://{bucket}/nothing/"), empty.to_str().unwrap()]);
    expect_exit(&o, 1, "nothing was compared");
}

/// An object under a KMS key with no additional checksum (an older tool's upload) offers
/// nothing to compare a file with: a check fails it, named, rather than calling it different;
/// read back (`--download`) it is compared; a sync with --checksum sends it again, as before.
#[test]
fn an_object_that_offers_no_checksum_cannot_be_checked_but_read_back_on_moto() {
    let (server, bucket) = crate::moto_bucket("check-kms");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    // Over 1 MiB, so that the listed ETag is not tried as the file's MD5.
    let (file, _) = crate::written(&src, "old.bin", 3 << 20, 8);
    let put = "from botocore.config import Config\n\
        c = boto3.client('s3', endpoint_url=s3.meta.endpoint_url, region_name=s3.meta.region_name,\n\
            aws_access_key_id=s3._request_signer._credentials.access_key,\n\
            aws_secret_access_key=s3._request_signer._credentials.secret_key,\n\
            config=Config(s3={'addressing_style': 'path'}, request_checksum_calculation='when_required'))\n\
        c.put_object(Bucket=sys.argv[1], Key='p/old.bin', Body=open(sys.argv[2], 'rb').read(),\n\
            ServerSideEncryption='aws:kms', SSEKMSKeyId='ferry-test-key')\n\
        h = c.head_object(Bucket=sys.argv[1], Key='p/old.bin', ChecksumMode='ENABLED')\n\
        print(json.dumps({'sums': [k for k in h if k.startswith('Checksum')]}))";
    let got = ferry_testkit::boto3(server, put, &[&bucket, file.to_str().unwrap()]).unwrap();
    assert_eq!(
        got["sums"],
        serde_json::json!([]),
        "the object has no checksum"
    );
    let (s, p) = (src.to_str().unwrap(), format!("s3://{bucket}/p/"));
    let o = ferry(server, home.path(), &["check", s, &p]);
    expect_exit(&o, 1, "1 could not be compared");
    assert!(
        text(&o).contains("offers no checksum to compare with"),
        "{}",
        text(&o)
    );
    assert!(!stdout(&o).contains("differs:"), "{}", text(&o));
    assert!(stdout(&o).contains("0 differ, 0 missing, 0 only in the destination, 1 failed"));
    // Alone, the same.
    let o = ferry(
        server,
        home.path(),
        &["check", file.to_str().unwrap(), &format!("{p}old.bin")],
    );
    expect_exit(&o, 1, "offers no checksum");
    // Read back, it can be compared: the same, then (one byte changed) not.
    let alone = [file.to_str().unwrap(), &format!("{p}old.bin")];
    for args in [[s, p.as_str()], alone] {
        let o = ferry(
            server,
            home.path(),
            &[&["check", "--download"], &args[..]].concat(),
        );
        assert!(o.status.success(), "{args:?}: {}", text(&o));
        assert!(stdout(&o).contains("check: 1 same"), "{}", text(&o));
    }
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[2 << 20] ^= 1;
    std::fs::write(&file, &bytes).unwrap();
    for args in [[s, p.as_str()], alone] {
        let o = ferry(
            server,
            home.path(),
            &[&["check", "--download"], &args[..]].concat(),
        );
        expect_exit(&o, 1, "1 differ");
    }
    // A sync by checksums sends it again, as it always has; then it can be checked.
    let o = ferry(server, home.path(), &["sync", s, &p, "--checksum"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(stdout(&o).contains("1 uploaded"), "{}", text(&o));
    assert!(
        ferry(server, home.path(), &["check", s, &p])
            .status
            .success()
    );
}
