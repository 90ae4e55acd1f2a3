//! `ferry ls`, `ferry rm`, `ferry rb` and `ferry stat` against SeaweedFS, checked with boto3:
//! a listing's levels and pages, deletions of one object or of a prefix's worth, filtered, dry
//! or made, removing a bucket, and what the server holds of one object.

use super::*;

/// Runs the boto3 `script` with `b` the name of `bucket`: the JSON it prints.
fn on_bucket(server: &TestServer, bucket: &str, script: &str) -> serde_json::Value {
    let full = format!("b = sys.argv[1]\n{script}");
    ferry_testkit::boto3(server, &full, &[bucket]).unwrap()
}

/// A bucket on SeaweedFS named from `prefix`, with versioning enabled (by boto3).
fn versioned_bucket(prefix: &str) -> (&'static TestServer, S3Client, String) {
    let (server, client, bucket) = seaweed_bucket(prefix);
    on_bucket(
        server,
        &bucket,
        r#"s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
print("{}")"#,
    );
    (server, client, bucket)
}

#[test]
fn ls_shows_one_level_with_its_folders_or_every_key_as_boto3_lists_them() {
    let (server, client, bucket) = seaweed_bucket("ls");
    let home = tempfile::tempdir().unwrap();
    let keys = [
        "a.txt",
        "logs/1.log",
        "logs/2.log",
        "logs/sub/3.log",
        "logs.txt",
        "we ird/k&1",
    ];
    // More than a page of 1,000: the listing goes on to the next.
    stored(&client, &bucket, &keys, ("many/", 1_005));
    let ls = |args: &[&str]| {
        let o = ferry(server, home.path(), &[&["ls"][..], args].concat());
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        stdout(&o)
    };
    // One level: the folders as PRE lines, then each object's time, size and name.
    let root = ls(&[&format!("s3://{bucket}")]);
    let lines: Vec<Vec<&str>> = root
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let folders: Vec<&str> = lines
        .iter()
        .filter(|w| w[0] == "PRE")
        .map(|w| w[1])
        .collect();
    assert_eq!(folders, ["logs/", "many/", "we"], "{root}");
    assert!(root.contains("PRE we ird/"), "{root}");
    let files: Vec<(&str, &str)> = lines
        .iter()
        .filter(|w| w[0] != "PRE")
        .map(|w| (w[2], w[3]))
        .collect();
    assert_eq!(files, [("5", "a.txt"), ("8", "logs.txt")], "{root}");
    // A prefix without its slash: what starts with it, the folder too.
    let logs = ls(&[&format!("s3://{bucket}/logs")]);
    assert!(
        logs.contains("PRE logs/") && logs.contains(" 8 logs.txt"),
        "{logs}"
    );
    // Inside the folder: names below it.
    let inside = ls(&[&format!("s3://{bucket}/logs/")]);
    assert!(
        inside.contains("PRE sub/") && inside.contains(" 10 1.log"),
        "{inside}"
    );
    assert!(!inside.contains("logs/1.log"), "{inside}");
    // Every key, as JSON: what boto3 lists, page after page.
    let all = ls(&["-r", "--json", &format!("s3://{bucket}")]);
    let listed: Vec<(String, u64)> = all
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["key"].as_str().unwrap().to_string(),
                v["size"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed.len(), 1_011);
    // (In the server's order: SeaweedFS lists a folder's keys before a name that sorts
    // between them, logs/1.log before logs.txt.)
    let mut keys: Vec<String> = listed.iter().map(|(k, _)| k.clone()).collect();
    keys.sort();
    assert!(
        keys == boto3_keys(server, &bucket),
        "ferry and boto3 list different keys"
    );
    assert!(listed.contains(&("we ird/k&1".to_string(), 10)), "{all}");
    let summed = ls(&["-r", "--summarize", &format!("s3://{bucket}/logs/")]);
    assert!(
        summed.ends_with("\nTotal Objects: 3\n   Total Size: 34 Bytes\n"),
        "{summed}"
    );
    // Alone: the buckets, each with the time it was made.
    let buckets = ls(&[]);
    assert!(
        buckets
            .lines()
            .any(|l| l.ends_with(&format!(" {bucket}")) && l.len() == 20 + bucket.len()),
        "{buckets}"
    );
    let buckets = ls(&["--json"]);
    assert!(
        buckets.contains(&format!("\"bucket\":\"{bucket}\"")),
        "{buckets}"
    );
    // A prefix that holds nothing is an error (a mistyped name), as for the aws cli.
    let o = ferry(
        server,
        home.path(),
        &["ls", &format!("s3://{bucket}/nothing")],
    );
    expect_exit(&o, 1, "nothing under");
    let o = ferry(server, home.path(), &["ls", "s3://no-such-bucket-ferry/"]);
    expect_exit(&o, 1, "NoSuchBucket");
}

/// `ferry du`: the count and bytes of what a prefix holds, past a page of 1,000, as boto3
/// sums them; filtered, by storage class, as JSON; nothing under it is an error.
#[test]
fn du_counts_a_prefix_as_boto3_sums_it() {
    let (server, client, bucket) = seaweed_bucket("du");
    let home = tempfile::tempdir().unwrap();
    let keys = ["p/a.txt", "p/logs/1.log", "p/logs/2.log", "q.txt"];
    stored(&client, &bucket, &keys, ("p/many/", 1_005));
    // What boto3 lists under p/: its count and bytes.
    let summed = on_bucket(
        server,
        &bucket,
        "p = s3.get_paginator('list_objects_v2')\n\
         o = [x for page in p.paginate(Bucket=b, Prefix='p/') for x in page.get('Contents', [])]\n\
         print(json.dumps([len(o), sum(x['Size'] for x in o)]))",
    );
    let (n, bytes) = (summed[0].as_u64().unwrap(), summed[1].as_u64().unwrap());
    assert_eq!((n, bytes), (1_008, 7 + 12 + 12));
    let du = |args: &[&str]| {
        let o = ferry(server, home.path(), &[&["du"][..], args].concat());
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        stdout(&o)
    };
    let p = format!("s3://{bucket}/p/");
    assert_eq!(du(&[&p]), format!("{bytes} bytes in {n} objects: {p}\n"));
    assert_eq!(
        du(&[&p, "--exclude", "many/*"]),
        format!("{bytes} bytes in 3 objects: {p}\n")
    );
    assert!(du(&["-H", &p]).starts_with("31 B in 1008 objects"));
    // A line for each class, then the totals; the classes add up to them.
    let json = du(&[&p, "-s", "--json"]);
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (classes, total) = lines.split_at(lines.len() - 1);
    assert!(!classes.is_empty(), "{json}");
    let sum = |f: &str| classes.iter().map(|c| c[f].as_u64().unwrap()).sum::<u64>();
    assert_eq!((sum("objects"), sum("bytes")), (n, bytes), "{json}");
    assert_eq!(
        (total[0]["objects"].as_u64(), total[0]["bytes"].as_u64()),
        (Some(n), Some(bytes))
    );
    let o = ferry(
        server,
        home.path(),
        &["du", &format!("s3://{bucket}/nothing")],
    );
    expect_exit(&o, 1, "nothing under");
}

#[test]
fn rm_deletes_one_object_or_a_prefix_filtered_and_a_dry_run_nothing() {
    let (server, client, bucket) = seaweed_bucket("rm");
    let home = tempfile::tempdir().unwrap();
    // 1,100 objects under p/: two DeleteObjects requests.
    stored(&client, &bucket, &["p", "p/keep/x", "q"], ("p/", 1_100));
    let url = |k: &str| format!("s3://{bucket}/{k}");
    let o = ferry(server, home.path(), &["rm", &url("p/keep")]);
    expect_exit(&o, 2, "is a prefix, not an object");
    let o = ferry(server, home.path(), &["rm", &url("missing")]);
    expect_exit(&o, 1, "no such object; nothing was deleted");
    let o = ferry(server, home.path(), &["rm", &format!("s3://{bucket}")]);
    expect_exit(&o, 2, "names no object");
    assert_eq!(boto3_keys(server, &bucket).len(), 1_103);

    let dry = ["rm", "-r", "--dry-run", &url("p"), "--exclude", "keep/*"];
    let o = ferry(server, home.path(), &dry);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = stdout(&o);
    assert_eq!(out.matches("(dry run) delete: ").count(), 1_100, "{out}");
    assert!(out.contains("rm (dry run): 1100 deleted"), "{out}");
    assert_eq!(boto3_keys(server, &bucket).len(), 1_103);

    let o = ferry(
        server,
        home.path(),
        &["rm", "-r", &url("p"), "--exclude", "keep/*", "--json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let events: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let deleted: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "delete" && e["dry_run"] == false)
        .map(|e| e["object"].as_str().unwrap())
        .collect();
    assert_eq!(deleted.len(), 1_100);
    assert!(deleted.contains(&url("p/0999").as_str()));
    let summary = events.last().unwrap();
    assert_eq!(
        (&summary["event"], &summary["deleted"], &summary["failed"]),
        (&"summary".into(), &1_100.into(), &0.into())
    );
    assert_eq!(boto3_keys(server, &bucket), ["p", "p/keep/x", "q"]);

    let o = ferry(server, home.path(), &["rm", &url("q")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        stdout(&o).contains(&format!("delete: {}", url("q"))),
        "{}",
        text(&o)
    );
    assert_eq!(boto3_keys(server, &bucket), ["p", "p/keep/x"]);
}

#[test]
fn rm_deletes_the_keys_named_or_the_urls_stdin_gives_and_stops_at_a_bad_line() {
    let (server, client, bucket) = seaweed_bucket("rmnamed");
    let home = tempfile::tempdir().unwrap();
    // 1,203 objects: the 1,200 read from stdin take two DeleteObjects requests.
    stored(&client, &bucket, &["a", "b", "c", "dir/d"], ("n/", 1_203));
    let url = |k: &str| format!("s3://{bucket}/{k}");

    // Refused before anything is deleted: another bucket, a prefix, flags for one object.
    for (args, needle) in [
        (
            vec!["rm", &url("a"), "s3://elsewhere/b"],
            "objects of one bucket at a time",
        ),
        (vec!["rm", &url("a"), &url("dir/")], "names no object"),
        (vec!["rm", "-r", &url("a"), &url("b")], "under one prefix"),
        (
            vec!["rm", "--version-id", "x", &url("a"), &url("b")],
            "takes one object",
        ),
        (vec!["rm", "-", &url("a")], "from stdin alone"),
    ] {
        let o = ferry(server, home.path(), &args);
        expect_exit(&o, 2, needle);
    }
    assert_eq!(boto3_keys(server, &bucket).len(), 1_207);

    // Several named: each deleted; one not there is no error (S3 deletes it silently).
    let o = ferry(
        server,
        home.path(),
        &["rm", &url("a"), &url("dir/d"), &url("gone")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = stdout(&o);
    for k in ["a", "dir/d", "gone"] {
        assert!(out.contains(&format!("delete: {}\n", url(k))), "{out}");
    }
    assert!(out.contains("rm: 3 deleted, 0 failed"), "{out}");

    // From stdin, blank lines and stray blanks passed over, until a line of another bucket:
    // what came before it is deleted, nothing after.
    let mut lines: String = (0..1_200)
        .map(|i| format!("{}\n", url(&format!("n/{i:04}"))))
        .collect();
    lines.push_str("\n   \r\n");
    lines.push_str(&format!("  {}  \r\n", url("b")));
    lines.push_str("s3://elsewhere/x\n");
    lines.push_str(&format!("{}\n", url("c")));
    // The run may stop reading at the bad line: a write after that is refused, not lost.
    let mut rm = crate::ferry_command(server.env(), home.path());
    let o = crate::piped(rm.args(["rm", "-"]), lines.as_bytes());
    expect_exit(&o, 1, "line 1204: s3://elsewhere/x is not in");
    assert!(
        text(&o).contains("before it were deleted, none after"),
        "{}",
        text(&o)
    );
    assert_eq!(
        stdout(&o).matches("delete: ").count(),
        1_201,
        "{}",
        text(&o)
    );
    let mut left = vec!["c".to_string()];
    left.extend((1_200..1_203).map(|i| format!("n/{i:04}")));
    assert_eq!(boto3_keys(server, &bucket), left);
}

/// The buckets boto3 lists.
fn boto3_buckets(server: &ferry_testkit::TestServer) -> Vec<String> {
    let v = ferry_testkit::boto3(
        server,
        "print(json.dumps([b['Name'] for b in s3.list_buckets()['Buckets']]))",
        &[],
    )
    .unwrap();
    serde_json::from_value(v).unwrap()
}

#[test]
fn rb_refuses_a_bucket_that_holds_objects_unless_forced_and_removes_an_empty_one() {
    let (server, client, bucket) = seaweed_bucket("rb");
    let home = tempfile::tempdir().unwrap();
    stored(&client, &bucket, &["a", "dir/b"], ("many/", 1_005));
    let url = format!("s3://{bucket}");
    // SeaweedFS would delete it, objects and all: ferry looks first.
    let o = ferry(server, home.path(), &["rb", &url]);
    expect_exit(&o, 1, "is not empty");
    assert!(text(&o).contains("--force"), "{}", text(&o));
    assert_eq!(boto3_keys(server, &bucket).len(), 1_007);

    let o = ferry(server, home.path(), &["rb", "--force", &url]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let said = stdout(&o);
    assert_eq!(said.matches("delete: ").count(), 1_007, "{said}");
    assert!(said.ends_with(&format!("remove_bucket: {url}\n")), "{said}");
    assert!(!boto3_buckets(server).contains(&bucket));

    let (_, _, empty) = seaweed_bucket("rb-empty");
    let o = ferry(server, home.path(), &["rb", &format!("s3://{empty}")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!boto3_buckets(server).contains(&empty));
    let o = ferry(server, home.path(), &["rb", &format!("s3://{empty}/key")]);
    expect_exit(&o, 2, "names a key");
}

#[test]
fn rb_force_empties_a_versioned_bucket_of_its_versions_and_markers_on_moto() {
    // moto refuses to delete a bucket that holds anything, versions included, as S3 does.
    let (server, bucket) = moto_bucket("rbver");
    let home = tempfile::tempdir().unwrap();
    ferry_testkit::boto3(
        server,
        r#"b = sys.argv[1]
s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
for body in [b"one", b"two", b"three"]:
    s3.put_object(Bucket=b, Key="k", Body=body)
s3.put_object(Bucket=b, Key="d/gone", Body=b"x")
s3.delete_object(Bucket=b, Key="d/gone")
print("{}")"#,
        &[&bucket],
    )
    .unwrap();
    let url = format!("s3://{bucket}");
    let o = ferry(server, home.path(), &["rb", "--force", &url]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let said = stdout(&o);
    // The current object first (a delete marker appears), then the bucket is refused as not
    // empty, and every version and marker goes, each by its id: 3 + 1 of k, 1 + 1 of d/gone.
    assert_eq!(said.matches("delete: ").count(), 1 + 6, "{said}");
    assert_eq!(said.matches(" (version ").count(), 6, "{said}");
    assert!(said.ends_with(&format!("remove_bucket: {url}\n")), "{said}");
    assert!(!boto3_buckets(server).contains(&bucket));
}

#[test]
fn stat_shows_an_object_as_boto3_heads_it_and_says_what_is_missing() {
    let (server, _client, bucket) = seaweed_bucket("stat");
    let home = tempfile::tempdir().unwrap();
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    // Written by boto3, not ferry: headers, metadata, tags and a CRC32; and one under SSE-C.
    let heads = ferry_testkit::boto3(
        server,
        r#"
import base64
b, key = sys.argv[1], base64.b64decode(sys.argv[2])
s3.put_object(Bucket=b, Key="docs/r.txt", Body=b"x" * 5000, ContentType="text/csv",
              CacheControl="max-age=60", Metadata={"owner": "me", "team": "x"},
              Tagging="a=1&b=2", ChecksumAlgorithm="CRC32")
s3.put_object(Bucket=b, Key="docs/s.bin", Body=b"secret", SSECustomerAlgorithm="AES256",
              SSECustomerKey=key)
h = s3.head_object(Bucket=b, Key="docs/r.txt", ChecksumMode="ENABLED")
s = s3.head_object(Bucket=b, Key="docs/s.bin", SSECustomerAlgorithm="AES256",
                   SSECustomerKey=key)
print(json.dumps({
    "size": h["ContentLength"], "etag": h["ETag"], "crc32": h.get("ChecksumCRC32"),
    "modified": h["LastModified"].strftime("%Y-%m-%dT%H:%M:%SZ"),
    "metadata": h["Metadata"], "tags": h.get("TagCount"),
    # (SeaweedFS sends the header twice; boto3 joins the two.)
    "sse_md5": s["SSECustomerKeyMD5"].split(",")[0],
}))
"#,
        &[&bucket, &key],
    )
    .unwrap();
    let url = |k: &str| format!("s3://{bucket}/{k}");
    let o = ferry(server, home.path(), &["stat", &url("docs/r.txt"), "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j["size"], heads["size"], "{j}");
    assert_eq!(j["etag"], heads["etag"], "{j}");
    assert_eq!(j["last_modified"], heads["modified"], "{j}");
    assert_eq!(j["metadata"], heads["metadata"], "{j}");
    assert_eq!(j["tag_count"], heads["tags"], "{j}");
    assert_eq!(j["checksum"]["algorithm"], "CRC32", "{j}");
    assert_eq!(j["checksum"]["value"], heads["crc32"], "{j}");
    assert_eq!(j["content_type"], "text/csv", "{j}");
    assert_eq!(j["cache_control"], "max-age=60", "{j}");
    assert_eq!(j["sse_customer_key_md5"], serde_json::Value::Null, "{j}");
    // The same as lines.
    let o = ferry(server, home.path(), &["stat", &url("docs/r.txt")]);
    let out = stdout(&o);
    let etag = heads["etag"].as_str().unwrap();
    for line in [
        format!("{}\n", url("docs/r.txt")),
        "  Size: ".to_string(),
        "5000 (4.88 KiB)\n  Last modified:  ".to_string(),
        format!("  ETag:           {etag}\n"),
        "  Content-Type:   text/csv\n".to_string(),
        "  Metadata:       owner=me\n                  team=x\n".to_string(),
    ] {
        assert!(out.contains(&line), "{line:?} in\n{out}");
    }
    // SSE-C: refused without its key, saying so; with it, the key's MD5 as boto3 reads it.
    let o = ferry(server, home.path(), &["stat", &url("docs/s.bin")]);
    expect_exit(&o, 1, "customer-provided key (SSE-C)");
    let o = ferry(
        server,
        home.path(),
        &["stat", &url("docs/s.bin"), "--sse-c-key", &key, "--json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j["sse_customer_key_md5"], heads["sse_md5"], "{j}");
    let md5 = base64::engine::general_purpose::STANDARD
        .encode(<md5::Md5 as md5::Digest>::digest([7u8; 32]));
    assert_eq!(j["sse_customer_key_md5"], md5.as_str(), "{j}");
    assert_eq!(j["size"], 6, "{j}");
    // What is not an object.
    let o = ferry(server, home.path(), &["stat", &url("docs/none")]);
    expect_exit(&o, 1, "does not exist");
    let o = ferry(server, home.path(), &["stat", &url("docs")]);
    expect_exit(
        &o,
        1,
        &format!("objects lie under {}: a prefix", url("docs/")),
    );
    // A bucket alone is the bucket's settings (see `versioning`).
    let o = ferry(server, home.path(), &["stat", &format!("s3://{bucket}")]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(stdout(&o).contains("\n  Versioning:   "), "{}", text(&o));
    let o = ferry(server, home.path(), &["stat", "s3://no-such-bucket-here/k"]);
    expect_exit(&o, 1, "NoSuchBucket");
}

#[test]
fn ls_all_versions_lists_every_version_and_delete_marker_as_boto3_does() {
    let (server, client, bucket) = versioned_bucket("lsver");
    let home = tempfile::tempdir().unwrap();
    let versioned = |script: &str| on_bucket(server, &bucket, script);
    // More than a page of 1,000 versions; a key written three times; one deleted.
    stored(&client, &bucket, &["a.txt", "gone.txt"], ("many/", 1_003));
    let all = versioned(
        r#"s3.put_object(Bucket=b, Key="a.txt", Body=b"second")
s3.put_object(Bucket=b, Key="a.txt", Body=b"third!!")
s3.delete_object(Bucket=b, Key="gone.txt")
seen = []
for page in s3.get_paginator("list_object_versions").paginate(Bucket=b):
    for v in page.get("Versions", []):
        seen.append([v["Key"], v["VersionId"], v["IsLatest"], False, v["Size"]])
    for d in page.get("DeleteMarkers", []):
        seen.append([d["Key"], d["VersionId"], d["IsLatest"], True, 0])
print(json.dumps(sorted(seen)))"#,
    );
    let o = ferry(
        server,
        home.path(),
        &[
            "ls",
            "-r",
            "--all-versions",
            "--json",
            &format!("s3://{bucket}"),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mut listed: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            serde_json::json!([
                v["key"],
                v["version_id"],
                v["latest"],
                v["delete_marker"],
                v["size"]
            ])
        })
        .collect();
    listed.sort_by_key(|v| v.to_string());
    let mut expected = all.as_array().unwrap().clone();
    expected.sort_by_key(|v| v.to_string());
    assert_eq!(listed.len(), 1_003 + 4 + 1, "{}", text(&o));
    assert_eq!(listed, expected);
    // As lines: a key's versions newest first, the current one marked; a delete marker says
    // so; the summary counts both.
    let o = ferry(
        server,
        home.path(),
        &[
            "ls",
            "-r",
            "--all-versions",
            "--summarize",
            &format!("s3://{bucket}"),
        ],
    );
    let out = stdout(&o);
    let a: Vec<&str> = out.lines().filter(|l| l.contains(" a.txt  ")).collect();
    assert_eq!(a.len(), 3, "{out}");
    assert!(
        a[0].ends_with(" (latest)") && a[0].contains("         7 a.txt"),
        "{out}"
    );
    assert!(
        a[1].contains("         6 a.txt") && !a[1].ends_with(" (latest)"),
        "{out}"
    );
    let gone: Vec<&str> = out.lines().filter(|l| l.contains(" gone.txt  ")).collect();
    assert!(
        gone[0].contains("DELETED gone.txt") && gone[0].ends_with(" (latest)"),
        "{out}"
    );
    assert!(
        out.ends_with("Total Versions: 1007\nDelete Markers: 1\n    Total Size: 26 Bytes\n"),
        "{out}"
    );
    // Without --all-versions, what reads as there.
    let o = ferry(server, home.path(), &["ls", &format!("s3://{bucket}")]);
    let out = stdout(&o);
    assert!(
        out.contains(" a.txt\n") && !out.contains("gone.txt"),
        "{out}"
    );
}

#[test]
fn rm_all_versions_deletes_every_version_and_marker_for_good_as_boto3_sees() {
    let (server, client, bucket) = versioned_bucket("rmver");
    let home = tempfile::tempdir().unwrap();
    let boto = |script: &str| on_bucket(server, &bucket, script);
    // What boto3 lists of the bucket's versions: [key, version id] each, sorted.
    let versions = || {
        boto(
            r#"seen = []
for page in s3.get_paginator("list_object_versions").paginate(Bucket=b):
    for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
        seen.append([v["Key"], v["VersionId"]])
print(json.dumps(sorted(seen)))"#,
        )
    };
    let keys_of = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e[0].as_str().unwrap().to_string())
            .collect();
        k.dedup();
        k
    };
    // More than a page of versions under logs/; a.txt three times; a.txt2 beside it (the
    // key a.txt is a prefix of, never touched by removing a.txt); one key deleted.
    stored(
        &client,
        &bucket,
        &["a.txt", "a.txt2", "gone.txt", "keep/x"],
        ("logs/", 1_003),
    );
    boto(
        r#"s3.put_object(Bucket=b, Key="a.txt", Body=b"second")
s3.put_object(Bucket=b, Key="a.txt", Body=b"third!!")
s3.put_object(Bucket=b, Key="logs/skip.keep", Body=b"x")
s3.delete_object(Bucket=b, Key="gone.txt")
print("{}")"#,
    );
    let before = versions();
    assert_eq!(before.as_array().unwrap().len(), 4 + 2 + 1 + 1 + 1_003);
    // One key: its three versions go, a line each with its version id; a.txt2 stays.
    let o = ferry(
        server,
        home.path(),
        &["rm", "--all-versions", &format!("s3://{bucket}/a.txt")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = stdout(&o);
    let ids: Vec<&str> = before
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v[0] == "a.txt")
        .map(|v| v[1].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    for id in &ids {
        assert!(
            out.contains(&format!("delete: s3://{bucket}/a.txt (version {id})\n")),
            "{out}"
        );
    }
    assert!(out.contains("rm: 3 deleted (18 bytes), 0 failed"), "{out}");
    let after = versions();
    let mut expected: Vec<String> = ["a.txt2", "gone.txt", "keep/x", "logs/skip.keep"]
        .into_iter()
        .map(String::from)
        .chain((0..1_003).map(|i| format!("logs/{i:04}")))
        .collect();
    expected.sort();
    assert_eq!(keys_of(&after), expected);
    // A prefix, filtered, more than a page of versions: every listed version goes, the one
    // excluded stays.
    let o = ferry(
        server,
        home.path(),
        &[
            "rm",
            "-r",
            "--all-versions",
            "--exclude",
            "*.keep",
            "--json",
            &format!("s3://{bucket}/logs"),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let deleted: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"] == "delete")
        .collect();
    assert_eq!(deleted.len(), 1_003, "{}", text(&o));
    assert!(deleted.iter().all(|d| d["version_id"].is_string()));
    let after = versions();
    assert_eq!(
        keys_of(&after),
        ["a.txt2", "gone.txt", "keep/x", "logs/skip.keep"]
    );
    // The deleted key's delete marker and its version go too: nothing is left of it.
    let o = ferry(
        server,
        home.path(),
        &["rm", "--all-versions", &format!("s3://{bucket}/gone.txt")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stdout(&o).contains("rm: 2 deleted"), "{}", text(&o));
    assert_eq!(keys_of(&versions()), ["a.txt2", "keep/x", "logs/skip.keep"]);
    // A key with no version: exit 1, nothing deleted; with --version-id: refused, exit 2.
    let o = ferry(
        server,
        home.path(),
        &["rm", "--all-versions", &format!("s3://{bucket}/gone.txt")],
    );
    expect_exit(&o, 1, "no version of it, nor a delete marker");
    let o = ferry(
        server,
        home.path(),
        &[
            "rm",
            "--all-versions",
            "--version-id",
            "x",
            &format!("s3://{bucket}/a.txt2"),
        ],
    );
    expect_exit(&o, 2, "--version-id");
    assert_eq!(keys_of(&versions()), ["a.txt2", "keep/x", "logs/skip.keep"]);
}

#[test]
fn the_library_removes_the_objects_and_versions_a_stream_names_as_boto3_sees() {
    let (server, client, bucket) = versioned_bucket("rmnamed");
    let boto = |script: &str| on_bucket(server, &bucket, script);
    stored(&client, &bucket, &["k"], ("chunks/", 1_200));
    // Two more versions of k: the stream names the oldest two by id.
    let ids = boto(
        r#"for body in [b"two", b"three"]:
    s3.put_object(Bucket=b, Key="k", Body=body)
vs = s3.list_object_versions(Bucket=b, Prefix="k")["Versions"]
print(json.dumps([v["VersionId"] for v in vs if not v["IsLatest"]]))"#,
    );
    let old: Vec<String> = serde_json::from_value(ids).unwrap();
    assert_eq!(old.len(), 2);
    // Every other chunk (more than a request's thousand in all), and the two old versions.
    let named = (0..1_200)
        .step_by(2)
        .map(|i| (format!("chunks/{i:04}"), None))
        .chain(old.iter().map(|v| ("k".to_string(), Some(v.clone()))))
        .map(|(key, version_id)| ferry_s3::ObjectIdentifier { key, version_id })
        .collect::<Vec<_>>();
    let o = rt()
        .block_on(async {
            crate::manager(std::sync::Arc::new(client.clone()))
                .remove_objects(
                    ferry_engine::Remove::named(&bucket),
                    futures_util::stream::iter(named),
                )
                .wait()
                .await
        })
        .unwrap();
    assert!(o.is_complete(), "{:?}", o.failed);
    assert_eq!(o.removed, 600 + 2);
    let left = boto(
        r#"vs, ms = [], []
for page in s3.get_paginator("list_object_versions").paginate(Bucket=b):
    vs += [[v["Key"], v["IsLatest"]] for v in page.get("Versions", [])]
    ms += [d["Key"] for d in page.get("DeleteMarkers", [])]
print(json.dumps({"versions": vs, "markers": ms}))"#,
    );
    // A chunk named without a version is behind a delete marker now (its version kept, as a
    // versioned bucket keeps it); k keeps its current version alone.
    let markers = left["markers"].as_array().unwrap();
    assert_eq!(markers.len(), 600);
    assert!(markers.iter().all(|k| {
        let k = k.as_str().unwrap();
        k.starts_with("chunks/") && k[7..].parse::<u32>().unwrap() % 2 == 0
    }));
    let k: Vec<&serde_json::Value> = left["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v[0] == "k")
        .collect();
    assert_eq!(k, [&serde_json::json!(["k", true])]);
    assert_eq!(
        boto(r#"print(json.dumps(s3.get_object(Bucket=b, Key="k")["Body"].read().decode()))"#),
        "three"
    );
}
