//! A bucket's own settings through ferry, with boto3 as the reference: `ferry versioning`
//! shows, turns on and suspends versioning; `ferry mb --versioning` makes a versioned bucket;
//! `ferry stat s3://bucket` shows versioning and object lock.

use crate::{expect_exit, ferry, seaweed_bucket, text, written};

/// The bucket's versioning status as boto3 reads it (`None`: never turned on).
fn versioning_of(server: &ferry_testkit::TestServer, bucket: &str) -> serde_json::Value {
    ferry_testkit::boto3(
        server,
        "print(json.dumps(s3.get_bucket_versioning(Bucket=sys.argv[1]).get('Status')))",
        &[bucket],
    )
    .unwrap()
}

#[test]
fn versioning_is_shown_turned_on_and_suspended_and_a_bucket_is_made_with_it() {
    let (server, _client, bucket) = seaweed_bucket("versioning");
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| ferry(server, home.path(), args);
    let target = format!("s3://{bucket}");
    let said = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).to_string();

    let o = run(&["versioning", &target]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        said(&o),
        format!("versioning: {target}: off (never turned on)\n")
    );
    assert_eq!(versioning_of(server, &bucket), serde_json::Value::Null);

    // On: a second write keeps the first as a version, which boto3 lists.
    let o = run(&["versioning", &target, "enable"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(said(&o), format!("versioning: {target}: Enabled\n"));
    assert_eq!(versioning_of(server, &bucket), "Enabled");
    let (file, _) = written(home.path(), "f.bin", 1000, 1);
    let key = format!("{target}/k");
    for _ in 0..2 {
        let o = run(&["cp", file.to_str().unwrap(), &key]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let versions = ferry_testkit::boto3(
        server,
        "print(json.dumps(len(s3.list_object_versions(Bucket=sys.argv[1])['Versions'])))",
        &[&bucket],
    )
    .unwrap();
    assert_eq!(versions, 2);

    let o = run(&["versioning", &target, "suspend", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let event: serde_json::Value = serde_json::from_str(said(&o).trim()).unwrap();
    assert_eq!(event["event"], "bucket_versioning");
    assert_eq!(event["bucket"], bucket.as_str());
    assert_eq!(event["versioning"], "Suspended");
    assert_eq!(event["mfa_delete"], false);
    assert_eq!(versioning_of(server, &bucket), "Suspended");
    let o = run(&["stat", &target, "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let stat: serde_json::Value = serde_json::from_str(said(&o).trim()).unwrap();
    assert_eq!(stat["versioning"], "Suspended");
    assert_eq!(stat["object_lock"], false);

    // Made with versioning, and with object lock (whose default retention boto3 sets).
    let made = format!("{bucket}-v");
    let o = run(&["mb", "--versioning", &format!("s3://{made}")]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(versioning_of(server, &made), "Enabled");
    let locked = format!("{bucket}-l");
    let o = run(&[
        "mb",
        "--object-lock",
        "--versioning",
        &format!("s3://{locked}"),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    ferry_testkit::boto3(
        server,
        r#"
s3.put_object_lock_configuration(Bucket=sys.argv[1], ObjectLockConfiguration={
    'ObjectLockEnabled': 'Enabled',
    'Rule': {'DefaultRetention': {'Mode': 'GOVERNANCE', 'Days': 3}}})
print('null')
"#,
        &[&locked],
    )
    .unwrap();
    let o = run(&["stat", &format!("s3://{locked}")]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        said(&o),
        format!(
            "s3://{locked}\n  Versioning:   Enabled\n  Object lock:  default retention \
             GOVERNANCE for 3 days\n"
        )
    );
    // Object lock keeps versioning on for good.
    let o = run(&["versioning", &format!("s3://{locked}"), "suspend"]);
    expect_exit(
        &o,
        1,
        "a bucket under object lock keeps versioning on for good",
    );
    assert_eq!(versioning_of(server, &locked), "Enabled");

    // A key, an object's flags on a bucket, or another state: exit 2, nothing sent.
    let o = run(&["versioning", &key, "enable"]);
    expect_exit(&o, 2, "versioning is a bucket's");
    for flag in [["--version-id", "v1"], ["--as-of", "1d"]] {
        let o = run(&["stat", &target, flag[0], flag[1]]);
        expect_exit(
            &o,
            2,
            "--version-id, --as-of and --sse-c-key name an object's",
        );
    }
    let o = run(&["versioning", &target, "on"]);
    expect_exit(&o, 2, "possible values: enable, suspend");
    assert_eq!(versioning_of(server, &bucket), "Suspended");
}
