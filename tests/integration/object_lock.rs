//! Object lock: a bucket made with it (`mb --object-lock`), objects written under a retention
//! or a legal hold (one PutObject, a multipart upload, a multipart copy) as boto3 reads them
//! back, what ferry refuses before sending, a copy the server stored without the lock asked
//! for, a retention and a legal hold changed afterwards (`ferry lock`, of one object and of a
//! prefix), a locked version deleted only by bypassing its GOVERNANCE retention and lifting its
//! hold; a bucket's default retention (`ferry lock --default`); and an interrupted upload
//! resumed only with the lock it began with.

use crate::{
    boto3_keys, boto3_object, boto3_uploads, expect_exit, ferry, seaweed_bucket, sha256_hex, text,
    written,
};

const MIB: usize = 1024 * 1024;

/// What boto3 reads of an object's lock: whether its bucket has object lock, its retention's
/// mode, end and seconds left, its legal hold, and its version.
fn lock_of(server: &ferry_testkit::TestServer, bucket: &str, key: &str) -> serde_json::Value {
    ferry_testkit::boto3(
        server,
        r#"
import datetime
h = s3.head_object(Bucket=sys.argv[1], Key=sys.argv[2])
until = h.get('ObjectLockRetainUntilDate')
print(json.dumps({
    'enabled': s3.get_object_lock_configuration(Bucket=sys.argv[1])['ObjectLockConfiguration']['ObjectLockEnabled'],
    'mode': h.get('ObjectLockMode'),
    'until': until.strftime('%Y-%m-%dT%H:%M:%SZ') if until else None,
    'seconds_left': (until - datetime.datetime.now(datetime.timezone.utc)).total_seconds() if until else None,
    'hold': h.get('ObjectLockLegalHoldStatus'),
    'version': h.get('VersionId'),
}))
"#,
        &[bucket, key],
    )
    .unwrap()
}

/// SeaweedFS, a home for ferry's runs, a bucket without object lock (`plain`) and one made
/// with `ferry mb --object-lock` (`bucket`), both named from `prefix`.
fn lock_buckets(
    prefix: &str,
) -> (
    &'static ferry_testkit::TestServer,
    tempfile::TempDir,
    String,
    String,
) {
    let (server, _client, plain) = seaweed_bucket(prefix);
    let home = tempfile::tempdir().unwrap();
    let bucket = format!("{plain}-l");
    let o = ferry(
        server,
        home.path(),
        &["mb", "--object-lock", &format!("s3://{bucket}")],
    );
    assert!(o.status.success(), "{}", text(&o));
    (server, home, plain, bucket)
}

#[test]
fn objects_are_written_under_object_lock_and_a_locked_version_goes_only_bypassing_governance() {
    let (server, home, plain, bucket) = lock_buckets("lock");
    let url = |k: &str| format!("s3://{bucket}/{k}");
    let run = |args: &[&str]| ferry(server, home.path(), args);
    let lock = |key: &str| lock_of(server, &bucket, key);
    let (small, small_body) = written(home.path(), "small.bin", 100_000, 1);
    let (big, big_body) = written(home.path(), "big.bin", 12 * MIB, 2);
    let (small, big) = (small.to_str().unwrap(), big.to_str().unwrap());

    // One PutObject, retained for a day from now.
    let o = run(&[
        "cp",
        small,
        &url("small"),
        "--object-lock-mode",
        "governance",
        "--object-lock-retain-until-date",
        "1d",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let seen = lock("small");
    assert_eq!(seen["enabled"], "Enabled");
    assert_eq!(seen["mode"], "GOVERNANCE");
    let left = seen["seconds_left"].as_f64().unwrap();
    assert!((86_300.0..=86_401.0).contains(&left), "{seen}");
    assert_eq!(
        boto3_object(server, &bucket, "small")["sha256"],
        sha256_hex(&small_body)
    );

    // A multipart upload, until a day (from midnight UTC), under a legal hold too.
    let o = run(&[
        "cp",
        big,
        &url("big"),
        "--part-size",
        "5MiB",
        "--object-lock-mode",
        "COMPLIANCE",
        "--object-lock-retain-until-date",
        "2099-01-01",
        "--object-lock-legal-hold-status",
        "ON",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let seen = lock("big");
    assert_eq!(
        (&seen["mode"], &seen["until"], &seen["hold"]),
        (
            &"COMPLIANCE".into(),
            &"2099-01-01T00:00:00Z".into(),
            &"ON".into()
        )
    );
    assert_eq!(
        boto3_object(server, &bucket, "big")["sha256"],
        sha256_hex(&big_body)
    );

    // A multipart copy takes the lock asked for, not its source's.
    let o = run(&[
        "cp",
        &url("big"),
        &url("copy"),
        "--part-size",
        "5MiB",
        "--object-lock-mode",
        "GOVERNANCE",
        "--object-lock-retain-until-date",
        "2h",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let seen = lock("copy");
    assert_eq!(seen["mode"], "GOVERNANCE");
    assert_ne!(
        seen["hold"], "ON",
        "the source's legal hold is not the copy's"
    );
    let left = seen["seconds_left"].as_f64().unwrap();
    assert!((7_100.0..=7_201.0).contains(&left), "{seen}");
    assert_eq!(
        boto3_object(server, &bucket, "copy")["sha256"],
        sha256_hex(&big_body)
    );

    // SeaweedFS keeps no lock sent with a CopyObject (its copy keeps the source's): the check
    // after the copy says so rather than report a lock that is not there.
    let o = run(&[
        "cp",
        &url("small"),
        &url("small-copy"),
        "--object-lock-mode",
        "GOVERNANCE",
        "--object-lock-retain-until-date",
        "2h",
    ]);
    expect_exit(&o, 1, "was stored without the object lock asked for");

    // Refused before anything is sent.
    let retained = [
        "--object-lock-mode",
        "GOVERNANCE",
        "--object-lock-retain-until-date",
        "1d",
    ];
    let before = boto3_keys(server, &bucket);
    for (flags, needle) in [
        (
            vec!["--object-lock-mode", "GOVERNANCE"],
            "needs --object-lock-retain-until-date",
        ),
        (
            vec!["--object-lock-retain-until-date", "1d"],
            "needs --object-lock-mode",
        ),
        (
            vec![
                "--object-lock-mode",
                "GOVERNANCE",
                "--object-lock-retain-until-date",
                "2020-01-01",
            ],
            "has passed",
        ),
        (
            vec![
                "--object-lock-mode",
                "GOVERNANCE",
                "--object-lock-retain-until-date",
                "soon",
            ],
            "a span from now",
        ),
        (
            vec![
                "--object-lock-mode",
                "GOVERNANCE",
                "--object-lock-retain-until-date",
                "1d",
                "--checksum",
                "none",
            ],
            "needs a checksum",
        ),
        (
            vec!["--object-lock-legal-hold-status", "yes"],
            "use ON or OFF",
        ),
    ] {
        let o = run(&[&["cp", small, &url("refused")], &flags[..]].concat());
        expect_exit(&o, 2, needle);
    }
    assert_eq!(boto3_keys(server, &bucket), before);
    // A bucket made without object lock refuses one; the error says why. A tree stops at the
    // first refusal, which every other object would meet, rather than failing each in turn.
    let unlockable = format!("s3://{plain}/refused");
    let o = run(&[&["cp", small, &unlockable], &retained[..]].concat());
    expect_exit(&o, 1, "a bucket without object lock refuses");
    let tree = home.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    for i in 0..40 {
        written(&tree, &format!("f{i:02}"), 10, i);
    }
    let tree = tree.to_str().unwrap();
    let o = run(&[&["cp", "-r", tree, &unlockable], &retained[..]].concat());
    expect_exit(&o, 1, "which every other object would meet too");
    assert!(boto3_keys(server, &plain).is_empty());
    // So does `ferry lock -r` of objects written without a lock: one error, not one each.
    let o = run(&["cp", "-r", "-q", tree, &format!("s3://{plain}/tree")]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&[
        "lock",
        "-r",
        &format!("s3://{plain}/tree"),
        "--legal-hold",
        "ON",
    ]);
    expect_exit(&o, 1, "a bucket without object lock refuses");
    let said = String::from_utf8_lossy(&o.stderr);
    assert_eq!(said.matches("refuses a retention").count(), 1, "{said}");

    // A retention set after the write: lengthened by anyone allowed, shortened only by
    // bypassing GOVERNANCE.
    let left = |key: &str| lock(key)["seconds_left"].as_f64().unwrap();
    let copy = url("copy");
    let retain = |until| run(&["lock", &copy, "--mode", "GOVERNANCE", "--until", until]);
    let o = retain("1d");
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("GOVERNANCE until "));
    assert!((86_300.0..=86_401.0).contains(&left("copy")));
    let o = retain("1h");
    expect_exit(&o, 1, "ends sooner");
    assert!(left("copy") > 86_000.0);
    let shorter = [
        "--mode",
        "GOVERNANCE",
        "--until",
        "1h",
        "--bypass-governance-retention",
    ];
    let o = run(&[&["lock", &url("copy")], &shorter[..]].concat());
    assert!(o.status.success(), "{}", text(&o));
    assert!((3_500.0..=3_601.0).contains(&left("copy")));

    // Every object under a prefix, filtered: listed and locked as they come, a line each.
    for k in ["tree/a", "tree/b/c", "tree/skip.log"] {
        let o = run(&["cp", small, &url(k)]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let tree = url("tree");
    let whole = [
        "lock",
        "-r",
        &tree,
        "--legal-hold",
        "ON",
        "--exclude",
        "*.log",
    ];
    let o = run(&[&whole[..], &["--dry-run"]].concat());
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("lock (dry run): 2 locked, 0 failed"));
    assert_ne!(lock("tree/a")["hold"], "ON");
    let o = run(&whole);
    assert!(o.status.success(), "{}", text(&o));
    let said = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        said.contains(&format!("lock: {}\n", url("tree/b/c"))),
        "{said}"
    );
    assert!(said.contains("lock: 2 locked, 0 failed"), "{said}");
    let held = ["tree/a", "tree/b/c", "tree/skip.log"].map(|k| lock(k)["hold"] == "ON");
    assert_eq!(held, [true, true, false]);
    let o = run(&["lock", "-r", &tree, "--legal-hold", "OFF"]);
    assert!(o.status.success(), "{}", text(&o));

    // A version under a GOVERNANCE retention is refused, saying why, until the deletion
    // bypasses it, and while a legal hold lasts, even then; a COMPLIANCE one is refused all
    // the same.
    let version = lock("small")["version"].as_str().unwrap().to_string();
    let o = run(&["rm", "--version-id", &version, &url("small")]);
    expect_exit(&o, 1, "under object lock");
    let o = run(&["lock", &url("small"), "--legal-hold", "ON"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(lock("small")["hold"], "ON");
    let small_url = url("small");
    let bypassing = [
        "rm",
        "--version-id",
        &version,
        "--bypass-governance-retention",
        &small_url,
    ];
    let o = run(&bypassing);
    expect_exit(&o, 1, "under object lock");
    let o = run(&["lock", &url("small"), "--legal-hold", "OFF"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&bypassing);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!boto3_keys(server, &bucket).contains(&"small".to_string()));
    let o = run(&[
        "rm",
        "--all-versions",
        "--bypass-governance-retention",
        &url("big"),
    ]);
    expect_exit(&o, 1, "1 deletions failed");
    assert_eq!(
        boto3_object(server, &bucket, "big")["sha256"],
        sha256_hex(&big_body)
    );
    let o = run(&["rm", "--bypass-governance-retention", &url("big")]);
    expect_exit(&o, 2, "give --version-id or --all-versions");
}

/// A bucket's default retention (`ferry lock --default`): shown, set, applied by the server to
/// a version written later without a retention of its own (as boto3 reads it), taken away;
/// refused before anything is sent when it is not a period of days or years, and by a bucket
/// without versioning, saying why.
#[test]
fn a_buckets_default_retention_is_set_shown_applied_and_taken_away() {
    let (server, home, plain, bucket) = lock_buckets("deflock");
    let target = format!("s3://{bucket}");
    let run = |args: &[&str]| ferry(server, home.path(), args);
    let stdout = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).to_string();
    let config = || {
        ferry_testkit::boto3(
            server,
            "c = s3.get_object_lock_configuration(Bucket=sys.argv[1])['ObjectLockConfiguration']\n\
             print(json.dumps(c.get('Rule', {}).get('DefaultRetention')))",
            &[&bucket],
        )
        .unwrap()
    };

    let o = run(&["lock", "--default", &format!("s3://{plain}")]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(stdout(&o).contains("no object lock"), "{}", text(&o));
    let o = run(&["lock", "--default", &target]);
    assert!(stdout(&o).contains("object lock on, no default retention"));

    let o = run(&[
        "lock",
        "--default",
        &target,
        "--mode",
        "governance",
        "--until",
        "2w",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(stdout(&o).contains("default retention GOVERNANCE for 14 days"));
    assert_eq!(
        config(),
        serde_json::json!({"Mode": "GOVERNANCE", "Days": 14})
    );
    // A version written after, with no lock asked, gets the default from the server.
    let (file, _) = written(home.path(), "after.bin", 1000, 1);
    let o = run(&["cp", file.to_str().unwrap(), &format!("{target}/after")]);
    assert!(o.status.success(), "{}", text(&o));
    let held = lock_of(server, &bucket, "after");
    assert_eq!(held["mode"], "GOVERNANCE");
    let days = held["seconds_left"].as_f64().unwrap() / 86_400.0;
    assert!((13.99..=14.01).contains(&days), "{days} days left");

    let o = run(&[
        "lock",
        "--default",
        &target,
        "--json",
        "--mode",
        "COMPLIANCE",
        "--until",
        "1y",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let line: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(line["event"], "bucket_lock");
    assert_eq!(line["bucket"], bucket.as_str());
    assert_eq!(
        (&line["default_mode"], &line["default_years"]),
        (&"COMPLIANCE".into(), &1.into())
    );
    assert_eq!(
        config(),
        serde_json::json!({"Mode": "COMPLIANCE", "Years": 1})
    );
    let o = run(&["lock", "--default", &target, "--mode", "none"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(stdout(&o).contains("no default retention"));
    assert_eq!(config(), serde_json::Value::Null);

    for (args, needle) in [
        (
            vec!["--mode", "GOVERNANCE", "--until", "12h"],
            "not hours or a date",
        ),
        (
            vec!["--mode", "GOVERNANCE", "--until", "2030-01-01"],
            "not hours or a date",
        ),
        (vec!["--mode", "GOVERNANCE"], "--mode needs --until"),
        (vec!["--mode", "none", "--until", "3d"], "takes no --until"),
        (vec!["-r"], "cannot be used with"),
    ] {
        let o = run(&[&["lock", "--default", &target], &args[..]].concat());
        expect_exit(&o, 2, needle);
    }
    let o = run(&[
        "lock",
        "--default",
        &format!("{target}/after"),
        "--mode",
        "none",
    ]);
    expect_exit(&o, 2, "a default retention is a bucket's");
    assert_eq!(config(), serde_json::Value::Null);
    let o = run(&[
        "lock",
        "--default",
        &format!("s3://{plain}"),
        "--mode",
        "GOVERNANCE",
        "--until",
        "1d",
    ]);
    expect_exit(&o, 1, "object lock needs a versioned bucket");
}

/// An interrupted upload under object lock keeps the lock it was created with: run again
/// asking another (a later end, a legal hold), it is refused before anything changes;
/// `ferry resume` finishes it with its own lock, checked; and the same command again, whose
/// span from now ends a little later each time, resumes it.
#[test]
fn a_resumed_upload_keeps_the_lock_it_began_with_and_refuses_another() {
    use crate::resume::{interrupt_after, start_upload};
    let (server, home, _plain, bucket) = lock_buckets("lockresume");
    let run = |args: &[&str]| ferry(server, home.path(), args);
    let (file, body) = written(home.path(), "big.bin", 24 * MIB + 5, 7);
    let lock = |until: &'static str| {
        [
            "--object-lock-mode",
            "GOVERNANCE",
            "--object-lock-retain-until-date",
            until,
        ]
    };
    let held = |key: &str| lock_of(server, &bucket, key);

    let dst = format!("s3://{bucket}/a");
    let (code, stderr) = interrupt_after(
        start_upload(server, home.path(), &file, &dst, &lock("1d")),
        2,
    );
    assert_eq!(code, Some(130), "{stderr}");
    let f = file.to_str().unwrap();
    let o = run(&[&["cp", f, &dst], &lock("2d")[..]].concat());
    expect_exit(&o, 2, "retained until");
    expect_exit(&o, 2, "drop the --object-lock-* flags");
    // Not the same command again, which would be refused again.
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(!said.contains("to resume it, run"), "{said}");
    let hold = ["--object-lock-legal-hold-status", "ON"];
    let o = run(&[&["cp", f, &dst], &hold[..]].concat());
    expect_exit(&o, 2, "legal hold ON, where it began with OFF");
    crate::resume::kept_then_resumed(server, home.path(), &bucket);
    let a = held("a");
    assert_eq!(a["mode"], "GOVERNANCE");
    let hours = a["seconds_left"].as_f64().unwrap() / 3600.0;
    assert!((23.9..=24.0).contains(&hours), "{a}");
    assert_eq!(
        boto3_object(server, &bucket, "a")["sha256"],
        sha256_hex(&body)
    );

    let dst = format!("s3://{bucket}/b");
    let (code, stderr) = interrupt_after(
        start_upload(server, home.path(), &file, &dst, &lock("1d")),
        2,
    );
    assert_eq!(code, Some(130), "{stderr}");
    std::thread::sleep(std::time::Duration::from_secs(2));
    let o = run(&[&["cp", f, &dst], &lock("1d")[..]].concat());
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("resumed with"),
        "{}",
        text(&o)
    );
    assert_eq!(held("b")["mode"], "GOVERNANCE");
    assert_eq!(
        boto3_object(server, &bucket, "b")["sha256"],
        sha256_hex(&body)
    );
    assert!(boto3_uploads(server, &bucket).is_empty());
}
