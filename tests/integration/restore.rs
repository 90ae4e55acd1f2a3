//! Archived objects on moto (which keeps storage classes and answers GetObject of a GLACIER
//! or DEEP_ARCHIVE object with InvalidObjectState until it is restored, as S3 does; its
//! restores end at once): reading one fails before anything is written, naming the way on;
//! `ferry restore` starts the restore (one object, or every archived one under a prefix),
//! boto3 reads the restore back, and the object then downloads.

use crate::{expect_exit, ferry, moto_bucket, stdout, text};

/// boto3's HeadObject `Restore` of `key`, or null.
fn restore_of(server: &ferry_testkit::TestServer, bucket: &str, key: &str) -> serde_json::Value {
    ferry_testkit::boto3(
        server,
        "print(json.dumps(s3.head_object(Bucket=sys.argv[1], Key=sys.argv[2]).get('Restore')))",
        &[bucket, key],
    )
    .unwrap()
}

#[test]
fn archived_objects_are_named_unreadable_then_restored_and_read() {
    let (server, bucket) = moto_bucket("restore");
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| ferry(server, home.path(), args);
    ferry_testkit::boto3(
        server,
        r#"
b = sys.argv[1]
for k, c in [('p/cold', 'GLACIER'), ('p/deep', 'DEEP_ARCHIVE'), ('p/warm', 'STANDARD'), ('q/cold', 'GLACIER')]:
    s3.put_object(Bucket=b, Key=k, Body=(k + ' bytes').encode(), StorageClass=c)
print('{}')
"#,
        &[&bucket],
    )
    .unwrap();
    let prefix = format!("s3://{bucket}/p/");
    let cold = format!("{prefix}cold");
    // The listing names each object's class.
    let o = run(&["ls", "-r", &prefix, "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let classes: Vec<(String, String)> = stdout(&o)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let class = v["storage_class"].as_str().unwrap_or("none").to_string();
            (v["key"].as_str().unwrap().to_string(), class)
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("p/cold", "GLACIER"),
        ("p/deep", "DEEP_ARCHIVE"),
        ("p/warm", "STANDARD"),
    ]
    .map(|(k, c)| (k.to_string(), c.to_string()))
    .to_vec();
    assert_eq!(classes, want);
    // And a column of `ls -s`, before the size.
    let o = run(&["ls", "-r", "-s", &prefix]);
    assert!(o.status.success(), "{}", text(&o));
    let columns: Vec<(String, String)> = stdout(&o)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[4].to_string(), f[2].to_string())
        })
        .collect();
    assert_eq!(columns, want, "{}", stdout(&o));

    // Not readable: an error that says why and the way on; no file.
    let file = home.path().join("cold");
    let o = run(&["cp", &cold, file.to_str().unwrap()]);
    expect_exit(
        &o,
        1,
        "the object is archived and no restored copy is readable",
    );
    assert!(
        text(&o).contains("`ferry restore` starts the restore"),
        "{}",
        text(&o)
    );
    assert!(!file.exists());
    let o = run(&["stat", &cold]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        stdout(&o).contains("Archive:        archived: not readable until restored"),
        "{}",
        text(&o)
    );
    // In a tree, each archived object fails alone; the others come down.
    let before = home.path().join("before");
    let o = run(&["cp", "-r", &prefix, before.to_str().unwrap()]);
    expect_exit(&o, 1, "2 objects failed");
    assert!(
        text(&o).contains("2 archived and not restored: `ferry restore -r` on the source"),
        "{}",
        text(&o)
    );
    // A sync down says so too, and comes down to what it could.
    let synced = home.path().join("synced");
    let o = run(&["sync", &prefix, synced.to_str().unwrap()]);
    expect_exit(&o, 1, "2 archived and not restored");
    assert!(synced.join("warm").exists() && !synced.join("cold").exists());
    assert_eq!(
        std::fs::read_to_string(before.join("warm")).unwrap(),
        "p/warm bytes"
    );
    assert!(!before.join("cold").exists() && !before.join("deep").exists());
    // Passed over, as asked: the others come down and the run succeeds, each named.
    for cmd in ["cp", "sync"] {
        let skipped = home.path().join(format!("skipped-{cmd}"));
        let mut args = vec![
            cmd,
            prefix.as_str(),
            skipped.to_str().unwrap(),
            "--skip-archived",
        ];
        if cmd == "cp" {
            args.insert(1, "-r");
        }
        let o = run(&args);
        assert!(o.status.success(), "{}", text(&o));
        assert!(
            text(&o).contains(&format!("skipping {cold}: archived")),
            "{}",
            text(&o)
        );
        assert!(skipped.join("warm").exists() && !skipped.join("deep").exists());
    }
    let o = run(&["cp", &cold, file.to_str().unwrap(), "--skip-archived"]);
    expect_exit(
        &o,
        2,
        "--skip-archived passes over archived objects of a prefix",
    );
    // A copy on the server neither: refused before anything is written.
    let o = run(&["cp", &cold, &format!("s3://{bucket}/copied")]);
    expect_exit(&o, 1, "the object is archived");
    assert!(!crate::boto3_keys(server, &bucket).contains(&"copied".to_string()));

    // A dry run of the prefix: what it would do, nothing done.
    let o = run(&["restore", "-r", &prefix, "--dry-run"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        stdout(&o).contains("restore (dry run): 2 to start, 0 kept longer, 0 under way already, 1 readable as they are, 0 failed"),
        "{}",
        text(&o)
    );
    assert_eq!(
        restore_of(server, &bucket, "p/cold"),
        serde_json::Value::Null
    );

    // One object, for two days at the Bulk tier.
    let o = run(&["restore", &cold, "--days", "2", "--tier", "bulk"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        stdout(&o).contains(&format!("restore: {cold}: GLACIER: restore started")),
        "{}",
        text(&o)
    );
    let restored = restore_of(server, &bucket, "p/cold");
    assert!(
        restored
            .as_str()
            .unwrap()
            .contains(r#"ongoing-request="false""#),
        "{restored}"
    );
    let o = run(&["stat", &cold, "--json"]);
    let stat: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(stat["archived"], false);
    assert_eq!(stat["restore"]["ongoing"], false);

    // The prefix: the restored one kept longer, the deep one started, the warm one readable;
    // q/ not touched.
    let o = run(&["restore", "-r", &prefix, "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let mut said = std::collections::BTreeMap::new();
    for line in stdout(&o).lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        if e["event"] == "restore" {
            said.insert(
                e["object"].as_str().unwrap().to_string(),
                e["restore"].clone(),
            );
        }
    }
    let want: std::collections::BTreeMap<String, serde_json::Value> = [
        ("cold", "extended"),
        ("deep", "started"),
        ("warm", "readable"),
    ]
    .into_iter()
    .map(|(k, r)| (format!("{prefix}{k}"), r.into()))
    .collect();
    assert_eq!(said, want);
    assert!(restore_of(server, &bucket, "p/deep").is_string());
    assert_eq!(
        restore_of(server, &bucket, "q/cold"),
        serde_json::Value::Null
    );

    // Readable now: the prefix comes down whole, bytes as written.
    let dir = home.path().join("dir");
    let o = run(&["cp", "-r", &prefix, dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    for k in ["cold", "deep", "warm"] {
        assert_eq!(
            std::fs::read_to_string(dir.join(k)).unwrap(),
            format!("p/{k} bytes")
        );
    }

    // Kept for good: copied onto itself in the STANDARD class, readable with no restore.
    let o = run(&["cp", &cold, &cold, "--storage-class", "STANDARD"]);
    assert!(o.status.success(), "{}", text(&o));
    let head = ferry_testkit::boto3(
        server,
        "h = s3.head_object(Bucket=sys.argv[1], Key=sys.argv[2]); print(json.dumps([h.get('StorageClass', 'STANDARD'), h.get('Restore')]))",
        &[&bucket, "p/cold"],
    )
    .unwrap();
    assert_eq!(head, serde_json::json!(["STANDARD", null]));

    // The prefix likewise, in place: the restored deep one copied; those in STANDARD already
    // left as they are, with no request (moto would copy them again).
    // Without a change, the prefix onto itself is refused.
    let o = run(&["cp", "-r", &prefix, &prefix]);
    expect_exit(&o, 2, "another storage class");
    let to_standard = |more: &[&str]| {
        let mut args = vec!["cp", "-r", &prefix, &prefix, "--storage-class", "STANDARD"];
        args.extend(more);
        run(&args)
    };
    // A dry run says the same: the deep one to copy, two left.
    let o = to_standard(&["--dry-run", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let events: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let would: Vec<&str> = events
        .iter()
        .filter(|e| e["action"] == "copy")
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(would, ["p/deep"], "{}", stdout(&o));
    let summary = events.last().unwrap();
    assert_eq!(
        (
            &summary["objects"],
            &summary["existed"],
            &summary["dry_run"]
        ),
        (&1.into(), &2.into(), &true.into()),
        "{summary}"
    );
    let o = to_standard(&["--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let summary: serde_json::Value =
        serde_json::from_str(stdout(&o).lines().last().unwrap()).unwrap();
    assert_eq!(
        (&summary["done"], &summary["existed"], &summary["failed"]),
        (&1.into(), &2.into(), &0.into()),
        "{summary}"
    );
    let heads = ferry_testkit::boto3(
        server,
        r#"
b = sys.argv[1]
out = {}
for k in ['p/cold', 'p/deep', 'p/warm']:
    h = s3.head_object(Bucket=b, Key=k)
    out[k] = [h.get('StorageClass', 'STANDARD'), s3.get_object(Bucket=b, Key=k)['Body'].read().decode()]
print(json.dumps(out))
"#,
        &[&bucket],
    )
    .unwrap();
    for k in ["p/cold", "p/deep", "p/warm"] {
        assert_eq!(
            heads[k],
            serde_json::json!(["STANDARD", format!("{k} bytes")]),
            "{heads}"
        );
    }
    let o = to_standard(&[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("3 left as they were (in that storage class already)"),
        "{}",
        text(&o)
    );

    // Bad input: exit 2, nothing sent.
    for (args, said) in [
        (vec!["restore", prefix.as_str()], "names no object"),
        (
            vec!["restore", cold.as_str(), "--tier", "fast"],
            "give Standard, Bulk or Expedited",
        ),
        (
            vec!["restore", cold.as_str(), "--days", "0"],
            "one day or more",
        ),
        (vec!["restore", cold.as_str(), "--exclude", "x"], "add -r"),
    ] {
        let o = run(&args);
        expect_exit(&o, 2, said);
    }
    // A missing object: exit 1, named.
    let o = run(&["restore", &format!("{prefix}nope")]);
    expect_exit(&o, 1, "does not exist");
}
