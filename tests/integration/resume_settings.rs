//! An interrupted upload keeps the settings its object was created with (content headers,
//! metadata, tags, storage class): a run asking for others is refused with the upload kept,
//! and `ferry resume` or the same command finishes it with them.

use crate::resume::{interrupt_after, start_upload};
use crate::{
    boto3_keys, boto3_object, boto3_tags, boto3_uploads, expect_exit, ferry, seaweed_bucket,
    sha256_hex, text, written,
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
    let began = [
        "--content-type",
        "text/x-first",
        "--metadata",
        "origin=first",
        "--tagging",
        "team=a",
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
    assert_eq!(
        boto3_uploads(server, &bucket).len(),
        1,
        "the upload is kept"
    );
    assert!(boto3_keys(server, &bucket).is_empty());
    // `ferry resume` gives none: the journal's are the object's.
    let o = run(&["resume"]);
    assert!(o.status.success(), "{}", text(&o));
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
