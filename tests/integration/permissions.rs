//! Least privilege, on moto in IAM mode (each user's policy decides each request): an upload
//! with s3:PutObject alone exits 0 and is not read back, and with --no-clobber is refused by
//! its Complete when the key is taken; every refused step names the permission it lacked; a
//! denied resume keeps the upload and offers a restart; an abort denied after a failure names
//! the upload left behind and how to remove it; a sync's deletion refused names
//! s3:DeleteObject and is not reported as made; a bucket's versioning, read or set, names
//! s3:GetBucketVersioning or s3:PutBucketVersioning; a read as of a time names
//! s3:ListBucketVersions or s3:GetObjectVersion. `ferry acl get` and
//! `ferry acl set` round trips, read back by boto3 (moto), and a canned ACL on SeaweedFS.

use std::process::Output;
use std::time::Duration;

use ferry_testkit::{Action, HoldProxy, MotoIam, TestServer, moto_iam};

use crate::changing::{append, gate, start};
use crate::resume::{interrupt_after, start_upload};
use crate::{boto3_uploads, data, ferry, sha256_hex, stdout, text};

const MIB: usize = 1024 * 1024;

/// A bucket on moto-in-IAM-mode, made by the admin.
fn iam_bucket(prefix: &str) -> (&'static MotoIam, String) {
    let iam = moto_iam();
    let bucket = ferry_testkit::unique_bucket(prefix);
    ferry_testkit::boto3(
        &iam.admin,
        "s3.create_bucket(Bucket=sys.argv[1]); print('{}')",
        &[&bucket],
    )
    .unwrap();
    (iam, bucket)
}

/// A user allowed `actions`, named after the test.
fn user(iam: &MotoIam, name: &str, actions: &[&str]) -> TestServer {
    iam.user(&format!("{name}-{}", std::process::id()), actions)
        .unwrap()
}

/// The sha256 of what the admin reads at the key.
fn read_back(iam: &MotoIam, bucket: &str, key: &str) -> String {
    ferry_testkit::boto3(
        &iam.admin,
        r#"
import hashlib
print(json.dumps(hashlib.sha256(s3.get_object(Bucket=sys.argv[1], Key=sys.argv[2])['Body'].read()).hexdigest()))
"#,
        &[bucket, key],
    )
    .unwrap()
    .as_str()
    .unwrap()
    .to_string()
}

fn put_as_admin(iam: &MotoIam, bucket: &str, key: &str) {
    ferry_testkit::boto3(
        &iam.admin,
        "s3.put_object(Bucket=sys.argv[1], Key=sys.argv[2], Body=b'hello'); print('{}')",
        &[bucket, key],
    )
    .unwrap();
}

/// The keys in `bucket`, sorted, as the admin lists them.
fn admin_keys(iam: &MotoIam, bucket: &str) -> Vec<String> {
    let v = ferry_testkit::boto3(
        &iam.admin,
        "print(json.dumps(sorted(o['Key'] for o in s3.list_objects_v2(Bucket=sys.argv[1]).get('Contents', []))))",
        &[bucket],
    )
    .unwrap();
    serde_json::from_value(v).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// The refusal names `action` (and exits 1).
fn names(o: &Output, action: &str) {
    assert_eq!(o.status.code(), Some(1), "{}", text(o));
    assert!(stderr(o).contains(action), "expected {action}: {}", text(o));
}

#[test]
fn an_upload_with_put_object_alone_exits_0_and_says_it_was_not_read_back() {
    let (iam, bucket) = iam_bucket("wo-upload");
    let writer = user(iam, "writer", &["s3:PutObject"]);
    let home = tempfile::tempdir().unwrap();
    let big = home.path().join("big.bin");
    let small = home.path().join("small.txt");
    let big_body = data(20 * MIB + 5, 1);
    std::fs::write(&big, &big_body).unwrap();
    std::fs::write(&small, b"hello\n").unwrap();
    // Multipart (four parts), then a single PutObject.
    let o = ferry(
        &writer,
        home.path(),
        &[
            "cp",
            big.to_str().unwrap(),
            &format!("s3://{bucket}/big.bin"),
            "--part-size",
            "5MiB",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let finished: serde_json::Value = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "finished")
        .unwrap_or_else(|| panic!("no finished event: {}", text(&o)));
    assert_eq!(finished["verified"], "server", "{finished}");
    assert_eq!(finished["parts"], 5, "{finished}");
    let skipped = finished["skipped"].as_str().unwrap();
    assert!(
        skipped.contains("checked by the server on Complete")
            && skipped.contains("HeadObject needs s3:GetObject"),
        "{skipped}"
    );
    // A single PutObject declares its CRC64NVME in a header and the server answers with the
    // checksum it computed: checked without reading anything back.
    // The small file to `key` with `extra` flags: what ferry said of it.
    let up_small = |key: &str, extra: &[&str]| {
        let dst = format!("s3://{bucket}/{key}");
        let mut args = vec!["cp", small.to_str().unwrap(), &dst];
        args.extend_from_slice(extra);
        let o = ferry(&writer, home.path(), &args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let said = up_small("small.txt", &[]);
    assert!(said.contains("CRC64NVME verified"), "{said}");
    // With Content-MD5 only, the size is what is left to check, and that needs HeadObject.
    let said = up_small("small-md5.txt", &["--checksum", "md5"]);
    assert!(
        said.contains("not read back: HeadObject needs s3:GetObject on arn:aws:s3:::"),
        "{said}"
    );
    // Read back with other keys: the bytes are the file's.
    assert_eq!(read_back(iam, &bucket, "big.bin"), sha256_hex(&big_body));
    assert_eq!(read_back(iam, &bucket, "small.txt"), sha256_hex(b"hello\n"));
    assert_eq!(
        read_back(iam, &bucket, "small-md5.txt"),
        sha256_hex(b"hello\n")
    );
    assert!(boto3_uploads(&iam.admin, &bucket).is_empty());
}

/// Write-only backup keys (s3:PutObject and s3:ListBucket) sync a folder up: a file changed
/// at the same size, whose object the keys may not read to compare (its HeadObject is
/// denied), is sent again, by times and by checksums; what the listing says is the same is
/// not (by checksums, a small file whose MD5 is the listed ETag).
#[test]
fn write_only_keys_sync_up_and_send_again_what_they_cannot_compare() {
    let (iam, bucket) = iam_bucket("wo-sync");
    let writer = user(iam, "sync-writer", &["s3:PutObject", "s3:ListBucket"]);
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let (a, b) = (src.join("a.bin"), src.join("b.bin"));
    std::fs::write(&a, data(1000, 1)).unwrap();
    std::fs::write(&b, data(2000, 2)).unwrap();
    let dst = format!("s3://{bucket}/p");
    let sync = |extra: &[&str]| {
        let mut args = vec!["sync", src.to_str().unwrap(), &dst];
        args.extend_from_slice(extra);
        let o = ferry(&writer, home.path(), &args);
        assert_eq!(o.status.code(), Some(0), "{extra:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(sync(&[]).contains("2 uploaded"));
    // By checksums, the unchanged file is the same by its listed ETag, which is its MD5:
    // no HeadObject, which the keys may not ask, is needed for it.
    let sent = "1 uploaded (1000 bytes), 1 unchanged";
    for (n, extra) in [(3, &[][..]), (4, &["--checksum"])] {
        // The same size, a time after its object's.
        std::fs::write(&a, data(1000, n)).unwrap();
        let later = std::time::SystemTime::now() + Duration::from_secs(60 * n);
        let f = std::fs::File::options().write(true).open(&a).unwrap();
        f.set_modified(later).unwrap();
        let said = sync(extra);
        assert!(said.contains(sent), "{said}");
        assert_eq!(
            read_back(iam, &bucket, "p/a.bin"),
            sha256_hex(&data(1000, n))
        );
    }
}

/// Keys that may only write, with `sync --no-traverse` (no listing, no ListBucket): each
/// HeadObject is refused, so each file is sent again, as a sync sends what it cannot compare;
/// unless the sync may replace nothing unseen (--ignore-existing), when each file fails,
/// saying why, and nothing is written.
#[test]
fn write_only_keys_sync_up_without_a_listing_and_keep_what_they_cannot_see() {
    let (iam, bucket) = iam_bucket("wo-no-traverse");
    let writer = user(iam, "no-traverse-writer", &["s3:PutObject"]);
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("a.bin"), data(1000, 5)).unwrap();
    let dst = format!("s3://{bucket}/p");
    let sync = |extra: &[&str]| {
        let mut args = vec!["sync", src.to_str().unwrap(), &dst, "--no-traverse"];
        args.extend_from_slice(extra);
        ferry(&writer, home.path(), &args)
    };
    for _ in 0..2 {
        let o = sync(&[]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(
            stdout(&o).contains("1 uploaded (1000 bytes)"),
            "{}",
            text(&o)
        );
    }
    assert_eq!(
        read_back(iam, &bucket, "p/a.bin"),
        sha256_hex(&data(1000, 5))
    );
    put_as_admin(iam, &bucket, "p/b.bin");
    std::fs::write(src.join("b.bin"), data(2000, 6)).unwrap();
    let o = sync(&["--ignore-existing"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stderr(&o).contains("may replace nothing it has not seen"),
        "{}",
        text(&o)
    );
    let admins = read_back(iam, &bucket, "p/b.bin");
    assert_ne!(
        admins,
        sha256_hex(&data(2000, 6)),
        "the object it could not see was replaced"
    );
}

#[test]
fn no_clobber_without_read_permission_leaves_the_refusal_to_the_complete() {
    let (iam, bucket) = iam_bucket("wo-noclobber");
    let writer = user(
        iam,
        "noclobber",
        &["s3:PutObject", "s3:AbortMultipartUpload"],
    );
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("big.bin");
    std::fs::write(&file, data(12 * MIB, 7)).unwrap();
    put_as_admin(iam, &bucket, "taken.bin");
    let up = |key: &str| {
        let dst = format!("s3://{bucket}/{key}");
        let args = ["cp", file.to_str().unwrap(), &dst, "--part-size", "5MiB"];
        ferry(
            &writer,
            home.path(),
            &[&args[..], &["--no-clobber"]].concat(),
        )
    };
    // HeadObject is denied, so the parts go; the Complete's If-None-Match refuses.
    let o = up("taken.bin");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let said = format!("s3://{bucket}/taken.bin exists and replacing it was not allowed");
    assert!(stderr(&o).contains(&said), "{}", text(&o));
    assert_eq!(read_back(iam, &bucket, "taken.bin"), sha256_hex(b"hello"));
    assert!(boto3_uploads(&iam.admin, &bucket).is_empty());
    // A key that is free is written.
    let o = up("free.bin");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        read_back(iam, &bucket, "free.bin"),
        sha256_hex(&data(12 * MIB, 7))
    );
}

#[test]
fn a_denied_resume_names_list_parts_keeps_the_upload_and_offers_a_restart() {
    let (iam, bucket) = iam_bucket("wo-resume");
    let writer = user(iam, "resumer", &["s3:PutObject"]);
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("f.bin");
    std::fs::write(&file, data(30 * MIB, 2)).unwrap();
    let dst = format!("s3://{bucket}/f.bin");
    let extra = ["--bwlimit", "4MiB"];
    let (code, err) = interrupt_after(start_upload(&writer, home.path(), &file, &dst, &extra), 1);
    assert_eq!(code, Some(130), "{err}");
    let kept = boto3_uploads(&iam.admin, &bucket);
    assert_eq!(kept.len(), 1, "{err}");
    // The same command resumes: ListParts is refused.
    let o = ferry(
        &writer,
        home.path(),
        &["cp", file.to_str().unwrap(), &dst, "--part-size", "5MiB"],
    );
    names(&o, "s3:ListMultipartUploadParts");
    let e = stderr(&o);
    assert!(
        e.contains("resuming needs s3:ListMultipartUploadParts"),
        "{e}"
    );
    assert!(e.contains("--restart"), "{e}");
    assert!(e.contains("on arn:aws:s3:::"), "{e}");
    // Kept for credentials that may list it: the upload, and its journal.
    assert_eq!(boto3_uploads(&iam.admin, &bucket), kept);
    let journals = std::fs::read_dir(home.path().join(".local/state/ferry"))
        .unwrap()
        .count();
    assert!(journals >= 1);
    // With s3:ListMultipartUploadParts, the same command finishes it.
    let lister = user(
        iam,
        "lister",
        &["s3:PutObject", "s3:ListMultipartUploadParts"],
    );
    let o = ferry(
        &lister,
        home.path(),
        &["cp", file.to_str().unwrap(), &dst, "--part-size", "5MiB"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        read_back(iam, &bucket, "f.bin"),
        sha256_hex(&std::fs::read(&file).unwrap())
    );
    assert!(boto3_uploads(&iam.admin, &bucket).is_empty());
}

#[test]
fn an_abort_denied_after_a_failure_names_the_upload_left_behind() {
    let (iam, bucket) = iam_bucket("wo-abort");
    let writer = user(iam, "aborter", &["s3:PutObject"]);
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("grows.log");
    std::fs::write(&file, data(12 * MIB, 3)).unwrap();
    // The file grows while part 3 waits: the upload must be aborted, which is refused.
    let proxy = HoldProxy::start(
        &writer.endpoint,
        vec![gate("PUT", vec!["partNumber=3"], Action::Gate)],
    )
    .unwrap();
    let dst = format!("s3://{bucket}/grows.log");
    let child = start(
        &writer,
        home.path(),
        &proxy.endpoint,
        &file,
        &dst,
        &["--part-size", "5MiB"],
    );
    assert!(
        proxy.wait_gated(Duration::from_secs(60)),
        "{:?}",
        proxy.log()
    );
    append(&file, 4096);
    proxy.open_gate();
    let o = child.wait_with_output().unwrap();
    names(&o, "s3:AbortMultipartUpload");
    let e = stderr(&o);
    let left = boto3_uploads(&iam.admin, &bucket);
    assert_eq!(left.len(), 1, "{e}");
    assert!(
        e.contains(&format!("the multipart upload {} is left behind", left[0])),
        "{e}"
    );
    let cleanup = format!("ferry uploads abort {dst} --upload-id {}", left[0]);
    assert!(e.contains(&cleanup), "{e}");
    // The command it printed removes it, with credentials allowed to.
    let args: Vec<&str> = cleanup.split_whitespace().skip(1).collect();
    let o = ferry(&iam.admin, home.path(), &args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(boto3_uploads(&iam.admin, &bucket).is_empty());
}

/// Each command run by a user whose policy lacks exactly the action it needs: the error
/// names that action.
#[test]
fn each_refused_step_names_the_permission_it_needs() {
    let (iam, bucket) = iam_bucket("perm-each");
    // Versioned, so that a read as of a time reads a version of its own.
    ferry_testkit::boto3(
        &iam.admin,
        "s3.put_bucket_versioning(Bucket=sys.argv[1], VersioningConfiguration={'Status': 'Enabled'}); print('{}')",
        &[&bucket],
    )
    .unwrap();
    put_as_admin(iam, &bucket, "k");
    // An archived object, in a bucket of its own (the whole first bucket is downloaded).
    let (_, archive) = iam_bucket("perm-cold");
    ferry_testkit::boto3(
        &iam.admin,
        "s3.put_object(Bucket=sys.argv[1], Key='cold', Body=b'c', StorageClass='GLACIER'); print('{}')",
        &[&archive],
    )
    .unwrap();
    let upload_id = ferry_testkit::boto3(
        &iam.admin,
        "print(json.dumps(s3.create_multipart_upload(Bucket=sys.argv[1], Key='pending')['UploadId']))",
        &[&bucket],
    )
    .unwrap()
    .as_str()
    .unwrap()
    .to_string();
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("f.txt");
    std::fs::write(&file, b"data").unwrap();
    let f = file.to_str().unwrap();
    let out = home.path().join("out");
    let o_ = out.to_str().unwrap();
    let dir = home.path().join("tree");
    let d_ = dir.to_str().unwrap();
    let obj = format!("s3://{bucket}/k");
    let pending = format!("s3://{bucket}/pending");
    let prefix = format!("s3://{bucket}/");
    let copy_dst = format!("s3://{bucket}/k2");
    let cold = format!("s3://{archive}/cold");
    let all = [
        "s3:PutObject",
        "s3:GetObject",
        "s3:ListBucket",
        "s3:ListBucketMultipartUploads",
        "s3:AbortMultipartUpload",
        "s3:GetObjectAcl",
        "s3:PutObjectAcl",
        "s3:GetBucketVersioning",
        "s3:PutBucketVersioning",
        "s3:ListBucketVersions",
        "s3:GetObjectVersion",
        "s3:RestoreObject",
    ];
    let (then_dir, then_file) = (home.path().join("then"), home.path().join("then.txt"));
    let (t_, tf_) = (then_dir.to_str().unwrap(), then_file.to_str().unwrap());
    let whole = format!("s3://{bucket}");
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("s3:PutObject", vec!["cp", f, &obj]),
        ("s3:GetObject", vec!["cp", &obj, o_]),
        ("s3:ListBucket", vec!["cp", "-r", &prefix, d_]),
        (
            "s3:ListBucketMultipartUploads",
            vec!["uploads", "ls", &prefix],
        ),
        (
            "s3:AbortMultipartUpload",
            vec!["uploads", "abort", &pending, "--upload-id", &upload_id],
        ),
        ("s3:GetObjectAcl", vec!["acl", "get", &obj]),
        (
            "s3:PutObjectAcl",
            vec!["acl", "set", &obj, "--acl", "private"],
        ),
        ("s3:PutObject", vec!["cp", &obj, &copy_dst]),
        ("s3:GetBucketVersioning", vec!["versioning", &whole]),
        (
            "s3:PutBucketVersioning",
            vec!["versioning", &whole, "enable"],
        ),
        (
            "s3:ListBucketVersions",
            vec!["cp", "-r", &prefix, t_, "--as-of", "0m"],
        ),
        (
            "s3:GetObjectVersion",
            vec!["cp", &obj, tf_, "--as-of", "0m"],
        ),
        ("s3:RestoreObject", vec!["restore", &cold]),
    ];
    for (i, (missing, args)) in cases.iter().enumerate() {
        let allowed: Vec<&str> = all.iter().copied().filter(|a| a != missing).collect();
        let u = user(iam, &format!("lacks{i}"), &allowed);
        let o = ferry(&u, home.path(), args);
        names(&o, missing);
        assert!(
            stderr(&o).contains("arn:aws:s3:::"),
            "{args:?}: {}",
            text(&o)
        );
    }
    // And with the action, each works (the upload it aborted is gone).
    let u = user(iam, "all", &all);
    for (_, args) in &cases {
        let o = ferry(&u, home.path(), args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
    }
    assert!(!boto3_uploads(&iam.admin, &bucket).contains(&upload_id));
}

/// Grants as boto3 reads them back: (type, id-or-uri, permission), sorted.
fn grants(server: &TestServer, bucket: &str, key: &str, version: Option<&str>) -> Vec<String> {
    let v = ferry_testkit::boto3(
        server,
        r#"
kw = {'Bucket': sys.argv[1], 'Key': sys.argv[2]}
if len(sys.argv) > 3: kw['VersionId'] = sys.argv[3]
r = s3.get_object_acl(**kw)
out = sorted('%s %s %s' % (g['Grantee']['Type'], g['Grantee'].get('ID') or g['Grantee'].get('URI'), g['Permission']) for g in r['Grants'])
print(json.dumps({'owner': r['Owner']['ID'], 'grants': out}))
"#,
        &[&[bucket, key][..], version.as_slice()].concat(),
    )
    .unwrap();
    let mut g: Vec<String> = serde_json::from_value(v["grants"].clone()).unwrap();
    g.insert(0, format!("owner {}", v["owner"].as_str().unwrap()));
    g
}

#[test]
fn acl_set_and_get_round_trip_on_moto() {
    let server = ferry_testkit::moto();
    let bucket = ferry_testkit::unique_bucket("acl");
    ferry_testkit::boto3(
        server,
        "s3.create_bucket(Bucket=sys.argv[1]); s3.put_bucket_versioning(Bucket=sys.argv[1], VersioningConfiguration={'Status': 'Enabled'}); print('{}')",
        &[&bucket],
    )
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let put = |body: &str| -> String {
        ferry_testkit::boto3(
            server,
            "print(json.dumps(s3.put_object(Bucket=sys.argv[1], Key='k', Body=sys.argv[2].encode())['VersionId']))",
            &[&bucket, body],
        )
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
    };
    let first = put("one");
    put("two");
    let obj = format!("s3://{bucket}/k");
    let owner = grants(server, &bucket, "k", None)[0].clone();
    let owner_id = owner.strip_prefix("owner ").unwrap().to_string();
    let all_users = "http://acs.amazonaws.com/groups/global/AllUsers";
    let auth_users = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

    // A canned ACL.
    let o = ferry(
        server,
        home.path(),
        &["acl", "set", &obj, "--acl", "public-read"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let g = grants(server, &bucket, "k", None);
    assert!(g.contains(&format!("Group {all_users} READ")), "{g:?}");

    // Grant flags, on the first version. moto sets a version's ACL on the latest (it reads
    // no versionId), so the request is checked on the way, and the grants on the latest.
    let proxy = HoldProxy::start(&server.endpoint, vec![]).unwrap();
    let o = ferry(
        &proxy.server(server),
        home.path(),
        &[
            "acl",
            "set",
            &obj,
            "--version-id",
            &first,
            "--grant-read",
            &format!("uri={auth_users}"),
            "--grant-full-control",
            &format!("id={owner_id}"),
            "--grant-write-acp",
            &format!("id={owner_id}"),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        proxy.log().iter().any(|l| l.starts_with("PUT")
            && l.contains("acl")
            && l.contains(&format!("versionId={first}"))),
        "{:?}",
        proxy.log()
    );
    let g = grants(server, &bucket, "k", None);
    assert_eq!(
        g,
        vec![
            owner.clone(),
            format!("CanonicalUser {owner_id} FULL_CONTROL"),
            format!("CanonicalUser {owner_id} WRITE_ACP"),
            format!("Group {auth_users} READ"),
        ]
    );

    // The text form names the owner and each grant.
    let o = ferry(server, home.path(), &["acl", "get", &obj]);
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.contains(&format!("owner: {owner_id}")), "{said}");
    assert!(
        said.contains(&format!("uri={auth_users}")) && said.contains("WRITE_ACP"),
        "{said}"
    );
    // `acl get --json` is in the shape `acl set --policy` takes.
    let o = ferry(server, home.path(), &["acl", "get", &obj, "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let policy: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(policy["Owner"]["ID"], owner_id.as_str());
    assert_eq!(policy["Grants"].as_array().unwrap().len(), 3, "{policy}");
}

/// A policy document (`--policy`, JSON or XML) goes as PutObjectAcl's body. moto 5.2.5 reads
/// only the ACL headers (a body leaves the bucket's ACL on the object), so the body is
/// checked on the null sink: s3s parses it as S3's XML, and boto3 reads back what it parsed.
#[test]
fn acl_set_with_a_policy_document_sends_s3s_xml_body() {
    let sink = ferry_testkit::NullSinkServer::start().unwrap();
    let server = &sink.server;
    let home = tempfile::tempdir().unwrap();
    let obj = "s3://acl-policy/k";
    let owner_id = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a";
    let all_users = "http://acs.amazonaws.com/groups/global/AllUsers";
    let json_file = home.path().join("policy.json");
    std::fs::write(
        &json_file,
        serde_json::json!({
            "Owner": {"ID": owner_id, "DisplayName": "me"},
            "Grants": [
                {"Grantee": {"Type": "CanonicalUser", "ID": owner_id}, "Permission": "FULL_CONTROL"},
                {"Grantee": {"Type": "Group", "URI": all_users}, "Permission": "READ_ACP"},
                {"Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": "a@example.com"}, "Permission": "WRITE"},
            ]
        })
        .to_string(),
    )
    .unwrap();
    let o = ferry(
        server,
        home.path(),
        &["acl", "set", obj, "--policy", json_file.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let read = |server: &TestServer| {
        ferry_testkit::boto3(
            server,
            r#"
r = s3.get_object_acl(Bucket='acl-policy', Key='k')
out = sorted('%s %s %s' % (g['Grantee']['Type'], g['Grantee'].get('ID') or g['Grantee'].get('URI') or g['Grantee'].get('EmailAddress'), g['Permission']) for g in r['Grants'])
print(json.dumps([r['Owner']['ID']] + out))
"#,
            &[],
        )
        .unwrap()
    };
    assert_eq!(
        read(server),
        serde_json::json!([
            owner_id,
            format!("AmazonCustomerByEmail a@example.com WRITE"),
            format!("CanonicalUser {owner_id} FULL_CONTROL"),
            format!("Group {all_users} READ_ACP"),
        ])
    );
    // S3's XML form.
    let xml_file = home.path().join("policy.xml");
    std::fs::write(
        &xml_file,
        format!(
            r#"<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>{owner_id}</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>{all_users}</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>"#
        ),
    )
    .unwrap();
    let o = ferry(
        server,
        home.path(),
        &["acl", "set", obj, "--policy", xml_file.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        read(server),
        serde_json::json!([owner_id, format!("Group {all_users} READ")])
    );
}

#[test]
fn acl_set_refuses_two_ways_at_once_before_sending_anything() {
    // Nothing listens on port 1: a request sent would fail with exit 1, not 2.
    let nowhere = TestServer {
        endpoint: "http://127.0.0.1:1".into(),
        ..ferry_testkit::moto().clone()
    };
    let home = tempfile::tempdir().unwrap();
    let policy = home.path().join("p.json");
    std::fs::write(&policy, r#"{"Owner": {"ID": "o"}, "Grants": []}"#).unwrap();
    let p = policy.to_str().unwrap();
    for args in [
        vec!["--acl", "private", "--grant-read", "id=abc"],
        vec!["--acl", "private", "--policy", p],
        vec!["--grant-full-control", "id=abc", "--policy", p],
    ] {
        let mut all = vec!["acl", "set", "s3://bkt/k"];
        all.extend(&args);
        let o = ferry(&nowhere, home.path(), &all);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(
            stderr(&o).contains("give one way of setting the ACL"),
            "{}",
            text(&o)
        );
    }
    for (args, says) in [
        (vec![], "say what to set"),
        (vec!["--acl", "public"], "unknown canned ACL"),
        (
            vec!["--grant-read", "name=x"],
            "is not id, uri or emailAddress",
        ),
        (
            vec!["--policy", "/nonexistent/p.json"],
            "cannot read the policy file",
        ),
    ] {
        let mut all = vec!["acl", "set", "s3://bkt/k"];
        all.extend(&args);
        let o = ferry(&nowhere, home.path(), &all);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", text(&o));
    }
}

#[test]
fn a_canned_acl_on_seaweedfs() {
    let (server, _client, bucket) = crate::seaweed_bucket("acl-sw");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("f");
    std::fs::write(&file, b"x").unwrap();
    let obj = format!("s3://{bucket}/f");
    let o = ferry(server, home.path(), &["cp", file.to_str().unwrap(), &obj]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = ferry(
        server,
        home.path(),
        &["acl", "set", &obj, "--acl", "public-read"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("acl set: "),
        "{}",
        text(&o)
    );
    // SeaweedFS 4.48 reflects only the owner (testbed.md): ferry prints it.
    let o = ferry(server, home.path(), &["acl", "get", &obj]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("owner: "),
        "{}",
        text(&o)
    );
}

/// A sync's deletion the credentials may not make is a failure that names s3:DeleteObject,
/// and is not reported as made; with the permission, the same sync makes it.
#[test]
fn a_refused_sync_deletion_names_delete_object_and_is_not_reported_as_made() {
    let (iam, bucket) = iam_bucket("sync-delete");
    put_as_admin(iam, &bucket, "p/old");
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("tree");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("one"), b"1").unwrap();
    let (d, dst) = (dir.to_str().unwrap(), format!("s3://{bucket}/p/"));
    let keys = || admin_keys(iam, &bucket);
    let read_write = ["s3:PutObject", "s3:GetObject", "s3:ListBucket"];
    let u = user(iam, "no-delete", &read_write);
    let o = ferry(&u, home.path(), &["sync", "--delete", d, &dst]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    names(&o, "s3:DeleteObject");
    assert!(
        stderr(&o).contains(&format!("arn:aws:s3:::{bucket}/p/old")),
        "{}",
        text(&o)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        !out.contains("delete:") && out.contains("0 deleted"),
        "{}",
        text(&o)
    );
    assert_eq!(keys(), ["p/old", "p/one"]);
    let u = user(
        iam,
        "may-delete",
        &[&read_write[..], &["s3:DeleteObject"]].concat(),
    );
    let o = ferry(&u, home.path(), &["sync", "--delete", d, &dst]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(&format!("delete: s3://{bucket}/p/old")),
        "{}",
        text(&o)
    );
    assert!(out.contains("1 deleted"), "{}", text(&o));
    assert_eq!(keys(), ["p/one"]);
}

/// A multipart copy carries its source's tags, which needs s3:GetObjectTagging: without it,
/// the refusal names it and the way round, `--copy-props metadata-directive`, which copies
/// the content headers and metadata and leaves the tags (as the aws cli's flag).
#[test]
fn a_copy_without_get_object_tagging_names_it_and_copy_props_goes_without_tags() {
    let (iam, bucket) = iam_bucket("copy-tags");
    let home = tempfile::tempdir().unwrap();
    let body = data(12 * MIB, 31);
    let f = home.path().join("f.bin");
    std::fs::write(&f, &body).unwrap();
    let src = format!("s3://{bucket}/src");
    let flags = ["--content-type", "text/x-ferry", "--tagging", "team=a"];
    let o = ferry(
        &iam.admin,
        home.path(),
        &[&["cp", f.to_str().unwrap(), &src][..], &flags].concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let u = user(
        iam,
        "no-tags",
        &["s3:PutObject", "s3:GetObject", "s3:ListBucket"],
    );
    let dst = format!("s3://{bucket}/dst");
    let multipart = ["--part-size", "5MiB"];
    let o = ferry(
        &u,
        home.path(),
        &[&["cp", &src, &dst][..], &multipart].concat(),
    );
    names(&o, "s3:GetObjectTagging");
    assert!(
        stderr(&o).contains("--copy-props metadata-directive"),
        "{}",
        text(&o)
    );
    assert!(boto3_uploads(&iam.admin, &bucket).is_empty());
    let o = ferry(
        &u,
        home.path(),
        &[
            &["cp", &src, &dst, "--copy-props", "metadata-directive"][..],
            &multipart,
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let got = ferry_testkit::boto3(
        &iam.admin,
        r#"
import hashlib
b, k = sys.argv[1], sys.argv[2]
h = s3.head_object(Bucket=b, Key=k)
t = s3.get_object_tagging(Bucket=b, Key=k)['TagSet']
d = s3.get_object(Bucket=b, Key=k)['Body'].read()
print(json.dumps([h['ContentType'], t, hashlib.sha256(d).hexdigest()]))
"#,
        &[&bucket, "dst"],
    )
    .unwrap();
    assert_eq!(got[0], "text/x-ferry", "{got}");
    assert_eq!(got[1], serde_json::json!([]), "{got}");
    assert_eq!(got[2], sha256_hex(&body), "{got}");
}

/// `rm` and `ls` under least privilege: a deletion the credentials may not make names
/// s3:DeleteObject and leaves the objects; s3:DeleteObject alone deletes an object (the
/// HeadObject that looks for it first is refused, and the deletion goes ahead); a listing
/// without s3:ListBucket names it, and one of the buckets s3:ListAllMyBuckets.
#[test]
fn rm_and_ls_name_the_permission_they_lack_and_delete_object_alone_deletes() {
    let (iam, bucket) = iam_bucket("rm-ls");
    for k in ["p/a", "p/b"] {
        put_as_admin(iam, &bucket, k);
    }
    let home = tempfile::tempdir().unwrap();
    let keys = || admin_keys(iam, &bucket);
    let (prefix, a) = (format!("s3://{bucket}/p/"), format!("s3://{bucket}/p/a"));
    let reader = user(iam, "rm-reader", &["s3:ListBucket", "s3:GetObject"]);
    let o = ferry(&reader, home.path(), &["rm", "-r", &prefix]);
    names(&o, "s3:DeleteObject");
    let o = ferry(&reader, home.path(), &["rm", &a]);
    names(&o, "s3:DeleteObject");
    assert_eq!(keys(), ["p/a", "p/b"]);

    let deleter = user(iam, "rm-deleter", &["s3:DeleteObject"]);
    let o = ferry(&deleter, home.path(), &["rm", &a]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stdout(&o).contains(&format!("delete: {a}")), "{}", text(&o));
    assert_eq!(keys(), ["p/b"]);
    let o = ferry(&deleter, home.path(), &["ls", &prefix]);
    names(&o, "s3:ListBucket");
    let o = ferry(&deleter, home.path(), &["ls"]);
    names(&o, "s3:ListAllMyBuckets");
    let o = ferry(&reader, home.path(), &["ls", &prefix]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stdout(&o).contains(" 5 b"), "{}", text(&o));
}

/// A move down whose credentials may read but not delete: the file is written, the object is
/// kept, and the refusal names s3:DeleteObject and s3:GetObject (the deletion carries
/// `If-Match`), exit 1. With s3:DeleteObject, the same move deletes it.
#[test]
fn a_move_refused_its_deletion_names_delete_object_and_keeps_the_object() {
    let (iam, bucket) = iam_bucket("mv-denied");
    put_as_admin(iam, &bucket, "k");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("k.txt");
    let (src, f) = (format!("s3://{bucket}/k"), file.to_str().unwrap());
    let u = user(iam, "mv-no-delete", &["s3:GetObject"]);
    let o = ferry(&u, home.path(), &["mv", &src, f]);
    names(&o, "s3:DeleteObject");
    assert!(stderr(&o).contains("s3:GetObject"), "{}", text(&o));
    assert!(stderr(&o).contains("holds"), "{}", text(&o));
    assert_eq!(std::fs::read(&file).unwrap(), b"hello");
    assert_eq!(admin_keys(iam, &bucket), ["k"]);
    let u = user(iam, "mv-delete", &["s3:GetObject", "s3:DeleteObject"]);
    let o = ferry(&u, home.path(), &["mv", &src, f]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(admin_keys(iam, &bucket).is_empty());
    assert_eq!(std::fs::read(&file).unwrap(), b"hello");
}
