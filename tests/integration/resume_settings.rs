//! An interrupted upload keeps the settings its object was created with (content headers,
//! metadata, tags, storage class): a run asking for others is refused with the upload kept,
//! and `ferry resume` or the same command finishes it with them.

use crate::resume::{interrupt_after, kept_then_resumed, start_upload};
use crate::{
    boto3_object, boto3_tags, boto3_uploads, expect_exit, ferry, seaweed_bucket, sha256_hex, text,
    written,
};

const MIB: usize = 1024 * 1024;

/// Before, a run with other settings resumed the upload and completed its object with the
/// old ones, saying nothing.
#[test]
fn a_resumed_upload_keeps_its_objects_settings_and_refuses_others() {
    let (server, _client, bucket) = seaweed_bucket("resumesettings");
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| ferry(server, home.path(), args);
    let (file, body) = written(home.path(), "big.bin", 24 * MIB + 5, 11);
    let f = file.to_str().unwrap();
    // An expiry given as a span from now names a later date on each run: the same span
    // asked again is the same expiry.
    let began = [
        "--content-type",
        "text/x-first",
        "--metadata",
        "origin=first",
        "--tagging",
        "team=a",
        "--expires",
        "30d",
    ];

    let dst = format!("s3://{bucket}/a");
    let (code, stderr) = interrupt_after(start_upload(server, home.path(), &file, &dst, &began), 2);
    assert_eq!(code, Some(130), "{stderr}");
    // Another content type, another metadata value, a storage class it did not begin with:
    // each refused and named, the upload kept, no object.
    for (other, named) in [
        (
            ["--content-type", "text/x-second"],
            r#"content-type "text/x-second", where it began with "text/x-first""#,
        ),
        (
            ["--metadata", "origin=second"],
            r#"x-amz-meta-origin "second", where it began with "first""#,
        ),
        (
            ["--storage-class", "STANDARD_IA"],
            r#"x-amz-storage-class "STANDARD_IA", where it began with none"#,
        ),
        (
            ["--expires", "2030-01-01"],
            r#"expires "Tue, 01 Jan 2030 00:00:00 GMT", where it began with "#,
        ),
    ] {
        let mut asked = began.to_vec();
        match asked.iter().position(|a| *a == other[0]) {
            Some(i) => asked[i + 1] = other[1],
            None => asked.extend(other),
        }
        let o = run(&[&["cp", f, &dst], &asked[..]].concat());
        expect_exit(&o, 2, named);
        expect_exit(
            &o,
            2,
            "with the settings it began with, or run again with --restart",
        );
        let said = String::from_utf8_lossy(&o.stderr);
        assert!(!said.contains("to resume it, run"), "{said}");
    }
    // `ferry resume` gives none: the journal's are the object's.
    kept_then_resumed(server, home.path(), &bucket);
    let a = boto3_object(server, &bucket, "a");
    assert_eq!(a["sha256"], sha256_hex(&body));
    assert_eq!(a["content_type"], "text/x-first");
    assert_eq!(a["metadata"]["origin"], "first");
    assert_eq!(
        boto3_tags(server, &bucket, "a"),
        [("team".to_string(), "a".to_string())]
    );

    // The same command again resumes.
    let dst = format!("s3://{bucket}/b");
    let (code, stderr) = interrupt_after(start_upload(server, home.path(), &file, &dst, &began), 2);
    assert_eq!(code, Some(130), "{stderr}");
    // In another second, so that `30d` names another date than it began with.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let o = run(&[&["cp", f, &dst], &began[..]].concat());
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("resumed with"),
        "{}",
        text(&o)
    );
    let b = boto3_object(server, &bucket, "b");
    assert_eq!(b["sha256"], sha256_hex(&body));
    assert_eq!(b["content_type"], "text/x-first");
    for o in [&a, &b] {
        let at = httpdate::parse_http_date(o["expires"].as_str().unwrap()).unwrap();
        let ahead = at.duration_since(std::time::SystemTime::now()).unwrap();
        let days = ahead.as_secs_f64() / 86_400.0;
        assert!((29.99..=30.0).contains(&days), "{o}: {days} days ahead");
    }
    assert!(boto3_uploads(server, &bucket).is_empty());

    // --restart begins again with the settings asked now.
    let dst = format!("s3://{bucket}/c");
    let (code, stderr) = interrupt_after(start_upload(server, home.path(), &file, &dst, &began), 2);
    assert_eq!(code, Some(130), "{stderr}");
    let o = run(&[
        "cp",
        f,
        &dst,
        "--content-type",
        "text/x-second",
        "--restart",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let c = boto3_object(server, &bucket, "c");
    assert_eq!(c["sha256"], sha256_hex(&body));
    assert_eq!(c["content_type"], "text/x-second");
    assert!(boto3_uploads(server, &bucket).is_empty());
}

/// In a tree, a file whose kept upload began otherwise fails alone, its line naming the way on
/// (`ferry resume ID`, or --restart), and the summary does not say to run the same command
/// again, which would be refused again; `sync` with the settings it began with resumes it.
#[test]
fn a_tree_names_the_way_on_for_a_file_begun_otherwise() {
    let (server, _client, bucket) = seaweed_bucket("resumesettree");
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("d");
    std::fs::create_dir(&dir).unwrap();
    let (_, body) = written(&dir, "big.bin", 24 * MIB + 5, 12);
    written(&dir, "small.txt", 10, 13);
    let dst = format!("s3://{bucket}/p");
    // A tree's --json says no part events: stopped once its journal records a part, early in
    // its 5 s at 5 MiB/s.
    let child = start_upload(
        server,
        home.path(),
        &dir,
        &dst,
        &["-r", "--bwlimit", "5MiB"],
    );
    let journals = home.path().join(".local/state/ferry");
    let recorded = || {
        std::fs::read_dir(&journals).into_iter().flatten().any(|e| {
            std::fs::read_to_string(e.unwrap().path()).is_ok_and(|t| t.contains(r#""type":"part""#))
        })
    };
    let waited = std::time::Instant::now();
    while !recorded() {
        assert!(waited.elapsed().as_secs() < 30, "no part recorded");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    let (code, stderr) = (out.status.code(), String::from_utf8_lossy(&out.stderr));
    assert_eq!(code, Some(130), "{stderr}");
    let d = dir.to_str().unwrap();
    let o = ferry(
        server,
        home.path(),
        &["cp", "-r", d, &dst, "--storage-class", "STANDARD_IA"],
    );
    expect_exit(
        &o,
        1,
        r#"x-amz-storage-class "STANDARD_IA", where it began with none"#,
    );
    expect_exit(&o, 1, "`ferry resume up-");
    expect_exit(&o, 1, "1 kept that this command cannot resume");
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(!said.contains("run the same command again"), "{said}");
    assert_eq!(
        boto3_uploads(server, &bucket).len(),
        1,
        "the upload is kept"
    );
    let o = ferry(server, home.path(), &["sync", d, &dst]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        boto3_object(server, &bucket, "p/big.bin")["sha256"],
        sha256_hex(&body)
    );
    assert!(boto3_uploads(server, &bucket).is_empty());
}
