//! `--as-of`: a prefix, an object and a copy's source read as they were at a time, from their
//! versions, with boto3 writing the versions and reading back what each should be.

use std::time::{Duration, SystemTime};

use crate::{expect_exit, ferry, seaweed_bucket, text};

/// Writes `keys` with boto3 into `bucket` (its versioning turned on with `versioned`), each
/// holding `KEY first`; their version ids.
fn first_writes(
    server: &ferry_testkit::TestServer,
    bucket: &str,
    versioned: bool,
) -> serde_json::Value {
    ferry_testkit::boto3(
        server,
        r#"
b = sys.argv[1]
if sys.argv[2] == 'yes':
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={'Status': 'Enabled'})
ids = {}
for k in ['p/a', 'p/b', 'p/sub/c']:
    ids[k] = s3.put_object(Bucket=b, Key=k, Body=(k + ' first').encode()).get('VersionId')
print(json.dumps(ids))
"#,
        &[bucket, if versioned { "yes" } else { "no" }],
    )
    .unwrap()
}

/// After the time: `p/a` rewritten, `p/b` deleted, `p/d` written.
fn later_writes(server: &ferry_testkit::TestServer, bucket: &str) {
    ferry_testkit::boto3(
        server,
        r#"
b = sys.argv[1]
s3.put_object(Bucket=b, Key='p/a', Body=b'p/a second')
s3.delete_object(Bucket=b, Key='p/b')
s3.put_object(Bucket=b, Key='p/d', Body=b'p/d later')
print('null')
"#,
        &[bucket],
    )
    .unwrap();
}

/// A whole second at least a second after the first writes and before the later ones (the
/// server keeps whole seconds), as RFC 3339.
fn a_time_between(later: impl FnOnce()) -> String {
    std::thread::sleep(Duration::from_millis(1100));
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let at = time::OffsetDateTime::from_unix_timestamp(now as i64).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    later();
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// What boto3 reads of `key` in `bucket`: its bytes as text.
fn boto3_text(server: &ferry_testkit::TestServer, bucket: &str, key: &str) -> String {
    let v = ferry_testkit::boto3(
        server,
        "print(json.dumps(s3.get_object(Bucket=sys.argv[1], Key=sys.argv[2])['Body'].read().decode()))",
        &[bucket, key],
    )
    .unwrap();
    v.as_str().unwrap().to_string()
}

#[test]
fn a_prefix_an_object_and_a_copy_are_read_as_they_were_at_a_time() {
    let (server, _client, bucket) = seaweed_bucket("as-of");
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| ferry(server, home.path(), args);
    let first = first_writes(server, &bucket, true);
    let at = a_time_between(|| later_writes(server, &bucket));
    let prefix = format!("s3://{bucket}/p/");
    let out = home.path().join("restored");
    let out_s = out.to_str().unwrap();

    // The tree as it was: a and b as first written, the later d left out.
    let o = run(&["cp", "-r", &prefix, out_s, "--as-of", &at, "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    for (rel, body) in [
        ("a", "p/a first"),
        ("b", "p/b first"),
        ("sub/c", "p/sub/c first"),
    ] {
        assert_eq!(std::fs::read_to_string(out.join(rel)).unwrap(), body);
    }
    assert!(!out.join("d").exists(), "p/d was written after the time");
    // Each object's event names the version boto3 wrote first.
    let mut versions = std::collections::BTreeMap::new();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        if e["event"] == "object" {
            versions.insert(
                e["object"].as_str().unwrap().to_string(),
                e["version_id"].clone(),
            );
        }
    }
    assert_eq!(versions.len(), 3, "{versions:?}");
    for k in ["p/a", "p/b", "p/sub/c"] {
        assert_eq!(versions[&format!("s3://{bucket}/{k}")], first[k], "{k}");
    }
    // Listed as it was: each key's version then, `latest` where it still is.
    let o = run(&["ls", "-r", &prefix, "--as-of", &at, "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let listed: Vec<(String, serde_json::Value, bool)> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let key = v["key"].as_str().unwrap().to_string();
            (key, v["version_id"].clone(), v["latest"].as_bool().unwrap())
        })
        .collect();
    let want: Vec<(String, serde_json::Value, bool)> =
        [("p/a", false), ("p/b", false), ("p/sub/c", true)]
            .into_iter()
            .map(|(k, latest)| (k.to_string(), first[k].clone(), latest))
            .collect();
    assert_eq!(listed, want);
    let o = run(&["ls", &prefix, "--as-of", &at]);
    expect_exit(
        &o,
        2,
        "--as-of lists every object under the prefix as it was: give -r",
    );

    // Now, without it: the later writes.
    let now = home.path().join("now");
    let o = run(&["cp", "-r", &prefix, now.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(now.join("a")).unwrap(),
        "p/a second"
    );
    assert!(!now.join("b").exists());

    // One object, to a file and to stdout; one deleted since comes back.
    let file = home.path().join("a.txt");
    let o = run(&[
        "cp",
        &format!("{prefix}a"),
        file.to_str().unwrap(),
        "--as-of",
        &at,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "p/a first");
    // Its line names the version it read, as a download by --version-id does.
    let read_a = format!(
        "s3://{bucket}/p/a (version {}) to",
        first["p/a"].as_str().unwrap()
    );
    assert!(text(&o).contains(&read_a), "{}", text(&o));
    // `stat` shows that version; one not there then fails as the download does.
    let o = run(&["stat", &format!("{prefix}a"), "--as-of", &at, "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let stat: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(stat["version_id"], first["p/a"]);
    assert_eq!(stat["size"], "p/a first".len());
    let o = run(&["stat", &format!("{prefix}d"), "--as-of", &at]);
    expect_exit(&o, 1, &format!("s3://{bucket}/p/d was not there at {at}"));
    let o = run(&["cp", &format!("{prefix}b"), "-", "--as-of", &at]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "p/b first");
    // One not there then: an error that says so, and no file.
    let missing = home.path().join("d.txt");
    let o = run(&[
        "cp",
        &format!("{prefix}d"),
        missing.to_str().unwrap(),
        "--as-of",
        &at,
    ]);
    expect_exit(&o, 1, &format!("s3://{bucket}/p/d was not there at {at}"));
    assert!(!missing.exists());

    // Copies on the server: a tree to another prefix, and one object; boto3 reads them.
    let o = run(&[
        "cp",
        "-r",
        &prefix,
        &format!("s3://{bucket}/back/"),
        "--as-of",
        &at,
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    // Each copy names the version it read.
    let mut read = std::collections::BTreeMap::new();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        if e["event"] == "object" {
            read.insert(
                e["from"].as_str().unwrap().to_string(),
                e["from_version_id"].clone(),
            );
        }
    }
    for k in ["p/a", "p/b", "p/sub/c"] {
        assert_eq!(read[&format!("s3://{bucket}/{k}")], first[k], "{k}");
    }
    for k in ["a", "b", "sub/c"] {
        assert_eq!(
            boto3_text(server, &bucket, &format!("back/{k}")),
            format!("p/{k} first")
        );
    }
    assert_eq!(
        crate::boto3_keys(server, &bucket)
            .into_iter()
            .filter(|k| k.starts_with("back/"))
            .collect::<Vec<_>>(),
        ["back/a", "back/b", "back/sub/c"]
    );
    let o = run(&[
        "cp",
        &format!("{prefix}b"),
        &format!("s3://{bucket}/one/b"),
        "--as-of",
        &at,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(boto3_text(server, &bucket, "one/b"), "p/b first");
    let read_b = format!(
        "s3://{bucket}/p/b (version {}) to",
        first["p/b"].as_str().unwrap()
    );
    assert!(text(&o).contains(&read_b), "{}", text(&o));

    // Between servers (the source named by its own endpoint, so each object passes through
    // ferry): a tree, and one object whose event names the version it read.
    let endpoint = server.endpoint.as_str();
    let o = run(&[
        "cp",
        "-r",
        &prefix,
        &format!("s3://{bucket}/far/"),
        "--as-of",
        &at,
        "--source-endpoint-url",
        endpoint,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    for k in ["a", "b", "sub/c"] {
        assert_eq!(
            boto3_text(server, &bucket, &format!("far/{k}")),
            format!("p/{k} first")
        );
    }
    assert!(!crate::boto3_keys(server, &bucket).contains(&"far/d".to_string()));
    let o = run(&[
        "cp",
        &format!("{prefix}a"),
        &format!("s3://{bucket}/far/one-a"),
        "--as-of",
        &at,
        "--source-endpoint-url",
        endpoint,
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let finished = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["event"] == "finished")
        .expect("a finished event");
    assert_eq!(finished["from_version_id"], first["p/a"]);
    assert_eq!(boto3_text(server, &bucket, "far/one-a"), "p/a first");

    // An object made again what it was, in place: its version then copied onto it (the
    // versions since stay).
    let a = format!("{prefix}a");
    let o = run(&["cp", &a, &a]);
    expect_exit(&o, 2, "a copy onto itself changes something");
    let o = run(&["cp", &a, &a, "--as-of", &at]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(boto3_text(server, &bucket, "p/a"), "p/a first");

    // A time before anything was written: nothing to read, exit 2.
    let empty = home.path().join("empty");
    let o = run(&[
        "cp",
        "-r",
        &prefix,
        empty.to_str().unwrap(),
        "--as-of",
        "2020-01-01",
    ]);
    expect_exit(
        &o,
        2,
        &format!("no objects under {prefix} as of 2020-01-01T00:00:00Z"),
    );
}

/// A sync down or across with `--as-of` makes the destination match the prefix as it was:
/// what differs comes as its version then, and with `--delete` what was not there then goes;
/// run again, it finds nothing to do.
#[test]
fn a_sync_makes_a_folder_and_a_prefix_match_a_time() {
    let (server, _client, bucket) = seaweed_bucket("as-of-sync");
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| ferry(server, home.path(), args);
    first_writes(server, &bucket, true);
    let at = a_time_between(|| later_writes(server, &bucket));
    let prefix = format!("s3://{bucket}/p/");
    let dir = home.path().join("dir");
    let d = dir.to_str().unwrap();
    // The folder as the prefix is now, then as it was.
    let o = run(&["sync", &prefix, d]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(dir.join("a")).unwrap(),
        "p/a second"
    );
    let o = run(&["sync", &prefix, d, "--as-of", &at, "--delete"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        crate::stdout(&o).contains("sync: 2 downloaded (18 bytes), 1 unchanged, 1 deleted"),
        "{}",
        text(&o)
    );
    for (rel, body) in [
        ("a", "p/a first"),
        ("b", "p/b first"),
        ("sub/c", "p/sub/c first"),
    ] {
        assert_eq!(std::fs::read_to_string(dir.join(rel)).unwrap(), body);
    }
    assert!(!dir.join("d").exists());
    for compare in [None, Some("--checksum")] {
        let mut args = vec!["sync", &prefix, d, "--as-of", &at, "--delete"];
        args.extend(compare);
        let o = run(&args);
        assert!(o.status.success(), "{}", text(&o));
        assert!(
            crate::stdout(&o).contains("sync: 0 downloaded (0 bytes), 3 unchanged, 0 deleted"),
            "{compare:?}: {}",
            text(&o)
        );
    }

    // Prefix to prefix on the server: boto3 reads the versions then.
    let q = format!("s3://{bucket}/q/");
    let o = run(&["sync", &prefix, &q, "--as-of", &at]);
    assert!(o.status.success(), "{}", text(&o));
    for k in ["a", "b", "sub/c"] {
        assert_eq!(
            boto3_text(server, &bucket, &format!("q/{k}")),
            format!("p/{k} first")
        );
    }
    let o = run(&["sync", &prefix, &q, "--as-of", &at, "--checksum"]);
    assert!(
        o.status.success() && crate::stdout(&o).contains("sync: 0 copied"),
        "{}",
        text(&o)
    );
    // A destination rewritten since, at the same size, is newer than any version then: it is
    // told apart by its checksum, not its time.
    ferry_testkit::boto3(
        server,
        "s3.put_object(Bucket=sys.argv[1], Key='q/a', Body=b'p/a FIRST')\nprint('null')",
        &[&bucket],
    )
    .unwrap();
    let o = run(&["sync", &prefix, &q, "--as-of", &at]);
    assert!(
        o.status.success() && crate::stdout(&o).contains("sync: 1 copied (9 bytes), 2 unchanged"),
        "{}",
        text(&o)
    );
    assert_eq!(boto3_text(server, &bucket, "q/a"), "p/a first");

    // In place: the prefix made what it was, its later versions kept behind (d's behind a
    // delete marker), so that the restore can itself be undone.
    let o = run(&["cp", "-r", &prefix, &prefix, "--as-of", &at]);
    expect_exit(&o, 2, "sync it onto itself as of that time");
    let o = run(&["sync", &prefix, &prefix, "--as-of", &at, "--delete"]);
    assert!(
        o.status.success()
            && crate::stdout(&o).contains("sync: 2 copied (18 bytes), 1 unchanged, 1 deleted"),
        "{}",
        text(&o)
    );
    for k in ["a", "b", "sub/c"] {
        assert_eq!(
            boto3_text(server, &bucket, &format!("p/{k}")),
            format!("p/{k} first")
        );
    }
    let kept = ferry_testkit::boto3(
        server,
        r#"
r = s3.list_object_versions(Bucket=sys.argv[1], Prefix='p/d')
print(json.dumps([len(r.get('Versions', [])), [m['IsLatest'] for m in r.get('DeleteMarkers', [])]]))
"#,
        &[&bucket],
    )
    .unwrap();
    assert_eq!(kept, serde_json::json!([1, [true]]));
    assert!(
        !crate::boto3_keys(server, &bucket).contains(&"p/d".to_string()),
        "p/d is deleted"
    );
    let o = run(&["sync", &prefix, &prefix, "--as-of", &at, "--delete"]);
    assert!(
        o.status.success()
            && crate::stdout(&o).contains("sync: 0 copied (0 bytes), 3 unchanged, 0 deleted"),
        "{}",
        text(&o)
    );
    // Up, there is no time to read the folder at.
    let o = run(&["sync", d, &q, "--as-of", &at]);
    expect_exit(&o, 2, "--as-of reads objects as they were");
}

/// In a bucket that keeps no versions, an object written since cannot be read as it was: it
/// fails, saying so, and the rest come down; a sync deletes nothing for it.
#[test]
fn as_of_fails_what_an_unversioned_bucket_did_not_keep() {
    let (server, _client, bucket) = seaweed_bucket("as-of-plain");
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| ferry(server, home.path(), args);
    first_writes(server, &bucket, false);
    let at = a_time_between(|| later_writes(server, &bucket));
    let out = home.path().join("restored");
    let o = run(&[
        "cp",
        "-r",
        &format!("s3://{bucket}/p/"),
        out.to_str().unwrap(),
        "--as-of",
        &at,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    for k in ["p/a", "p/d"] {
        assert!(
            err.contains(&format!("s3://{bucket}/{k} was written at 20"))
                && err.contains(&format!("so what it held at {at} was not kept")),
            "{k}: {}",
            text(&o)
        );
    }
    assert_eq!(
        std::fs::read_to_string(out.join("sub/c")).unwrap(),
        "p/sub/c first"
    );
    assert!(!out.join("a").exists() && !out.join("d").exists());
    // A sync with deletions would take the unknown for absent: it deletes nothing.
    std::fs::write(out.join("a"), "kept").unwrap();
    let o = run(&[
        "sync",
        &format!("s3://{bucket}/p/"),
        out.to_str().unwrap(),
        "--as-of",
        &at,
        "--delete",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(out.join("a")).unwrap(), "kept");
    // Listed: the others, and an error naming each.
    let o = run(&["ls", "-r", &format!("s3://{bucket}/p/"), "--as-of", &at]);
    expect_exit(&o, 1, "2 object(s) under");
    assert!(
        crate::stdout(&o).contains("p/sub/c  null (latest)")
            && String::from_utf8_lossy(&o.stderr)
                .contains(&format!("s3://{bucket}/p/d was written at")),
        "{}",
        text(&o)
    );
    // One such object alone: an error.
    let o = run(&[
        "cp",
        &format!("s3://{bucket}/p/a"),
        home.path().join("a").to_str().unwrap(),
        "--as-of",
        &at,
    ]);
    expect_exit(&o, 1, "with no version id (versioning off or suspended)");
}

#[test]
fn as_of_refuses_a_time_to_come_a_time_it_cannot_read_and_what_writes_as_is() {
    let (server, _client, bucket) = seaweed_bucket("as-of-bad");
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| ferry(server, home.path(), args);
    let src = format!("s3://{bucket}/k");
    let file = home.path().join("f");
    std::fs::write(&file, b"x").unwrap();
    let f = file.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["cp", &src, f, "--as-of", "2999-01-01"],
            "--as-of \"2999-01-01\" is 2999-01-01T00:00:00Z, still to come",
        ),
        (
            vec!["cp", &src, f, "--as-of", "last week"],
            "give a time (2026-12-05T10:00:00Z), a day (2026-12-05) or a span back",
        ),
        (
            vec!["cp", f, &src, "--as-of", "1h"],
            "--as-of reads objects as they were",
        ),
        (
            vec![
                "cp",
                "-r",
                home.path().to_str().unwrap(),
                &src,
                "--as-of",
                "1h",
            ],
            "--as-of reads objects as they were",
        ),
        (
            vec!["mv", &src, f, "--as-of", "1h"],
            "ferry mv moves the current version",
        ),
        (
            vec!["cp", &src, f, "--as-of", "1h", "--version-id", "v"],
            "cannot be used with",
        ),
    ] {
        let o = run(&args);
        expect_exit(&o, 2, needle);
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
    assert!(crate::boto3_keys(server, &bucket).is_empty());
}
