//! S3-to-S3 copies: on SeaweedFS, server-side (UploadPartCopy in 5 MiB parts, CopyObject for a
//! small object), identical when read back by boto3 with the source's content type, metadata
//! and tags (or the replaced ones); killed at exact points and resumed; a source changed
//! mid-copy detected; and between two servers (SeaweedFS and s3s-fs), streamed through ferry,
//! a source read damaged stored nowhere.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use ferry_engine::{Copy, ErrorKind, Manager, ManagerConfig, ObjectSource, TreeCopy};
use ferry_testkit::{Action, FailingClient, Fault, HoldProxy, Rule, TestServer};

use crate::{
    boto3_object, boto3_tags, boto3_uploads, data, expect_exit, ferry, rt, seaweed_bucket,
    sha256_hex, text, uploaded,
};

const MIB: usize = 1024 * 1024;

/// Uploads `body` to `url` with ferry, with a content type, metadata and tags.
fn upload_with_metadata(server: &TestServer, home: &std::path::Path, url: &str, body: &[u8]) {
    let flags = [
        "--content-type",
        "application/x-ferry-test",
        "--metadata",
        "origin=test",
        "--tagging",
        "team=a&tier=gold",
        "--no-progress",
    ];
    uploaded(server, home, body, url, &flags);
}

fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_200_mib_copy_in_5_mib_parts_is_identical_with_metadata_and_tags() {
    let (server, _client, bucket) = seaweed_bucket("copy-big");
    let home = tempfile::tempdir().unwrap();
    let body = data(200 * MIB + 3, 80);
    let src = format!("s3://{bucket}/src");
    upload_with_metadata(server, home.path(), &src, &body);
    let dst = format!("s3://{bucket}/copies/");
    let o = ferry(
        server,
        home.path(),
        &["cp", &src, &dst, "--part-size", "5MiB", "--json"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let finished = out
        .lines()
        .find(|l| l.contains("\"event\":\"finished\""))
        .unwrap_or_else(|| panic!("no finished event: {out}"));
    let finished: serde_json::Value = serde_json::from_str(finished).unwrap();
    assert_eq!(finished["parts"], 41, "{finished}");
    assert_eq!(finished["verified"], "checksum", "{finished}");
    // No byte went through ferry: its upload parts are all UploadPartCopy.
    let parts_sent = out
        .lines()
        .filter(|l| l.contains("\"event\":\"part_finished\""))
        .count();
    assert_eq!(parts_sent, 41);
    let got = boto3_object(server, &bucket, "copies/src");
    assert_eq!(got["sha256"], sha256_hex(&body));
    assert_eq!(got["content_type"], "application/x-ferry-test");
    assert_eq!(got["metadata"]["origin"], "test");
    assert_eq!(
        boto3_tags(server, &bucket, "copies/src"),
        tags(&[("team", "a"), ("tier", "gold")])
    );
    assert!(boto3_uploads(server, &bucket).is_empty());
}

#[test]
fn a_small_copy_is_one_copy_object_and_replace_takes_the_new_metadata() {
    let (server, _client, bucket) = seaweed_bucket("copy-small");
    let home = tempfile::tempdir().unwrap();
    // 12 MiB: under the 16 MiB threshold (one CopyObject), over a 5 MiB part size.
    let body = data(12 * MIB, 81);
    let src = format!("s3://{bucket}/src");
    upload_with_metadata(server, home.path(), &src, &body);
    let o = ferry(
        server,
        home.path(),
        &["cp", &src, &format!("s3://{bucket}/same")],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("1 part"),
        "{}",
        text(&o)
    );
    let got = boto3_object(server, &bucket, "same");
    assert_eq!(got["sha256"], sha256_hex(&body));
    assert_eq!(got["metadata"]["origin"], "test");
    assert_eq!(
        boto3_tags(server, &bucket, "same"),
        tags(&[("team", "a"), ("tier", "gold")])
    );
    // REPLACE, both as CopyObject and as a multipart copy.
    for (key, extra) in [("small-replaced", None), ("multi-replaced", Some("5MiB"))] {
        let mut args = vec![
            "cp".to_string(),
            src.clone(),
            format!("s3://{bucket}/{key}"),
            "--metadata-directive".into(),
            "REPLACE".into(),
            "--metadata".into(),
            "origin=replaced".into(),
            "--tagging".into(),
            "new=1".into(),
            "--content-type".into(),
            "text/plain".into(),
        ];
        if let Some(ps) = extra {
            args.extend(["--part-size".into(), ps.into()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = ferry(server, home.path(), &args);
        assert!(o.status.success(), "{key}: {}", text(&o));
        let got = boto3_object(server, &bucket, key);
        assert_eq!(got["sha256"], sha256_hex(&body), "{key}");
        assert_eq!(got["metadata"]["origin"], "replaced", "{key}");
        assert_eq!(got["content_type"], "text/plain", "{key}");
        assert_eq!(
            boto3_tags(server, &bucket, key),
            tags(&[("new", "1")]),
            "{key}"
        );
    }
    // A multipart copy carries the source's headers over itself. SeaweedFS hands back the
    // `aws-chunked` of the source's upload as its Content-Encoding; that describes the upload,
    // not the object, and the copy must not declare it.
    let o = ferry(
        server,
        home.path(),
        &[
            "cp",
            &src,
            &format!("s3://{bucket}/multi-copied"),
            "--part-size",
            "5MiB",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let got = boto3_object(server, &bucket, "multi-copied");
    assert_eq!(got["sha256"], sha256_hex(&body));
    assert_eq!(got["content_type"], "application/x-ferry-test");
    assert_eq!(got["metadata"]["origin"], "test");
    assert_eq!(got["content_encoding"], serde_json::Value::Null, "{got}");
    // --no-clobber refuses to replace the copy made above.
    let o = ferry(
        server,
        home.path(),
        &["cp", &src, &format!("s3://{bucket}/same"), "--no-clobber"],
    );
    expect_exit(&o, 2, "--no-clobber");
    // Metadata flags without REPLACE are refused, nothing created.
    let o = ferry(
        server,
        home.path(),
        &[
            "cp",
            &src,
            &format!("s3://{bucket}/refused"),
            "--metadata",
            "a=b",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--metadata-directive REPLACE"));
    // A missing source is a clear error.
    let o = ferry(
        server,
        home.path(),
        &[
            "cp",
            &format!("s3://{bucket}/nope"),
            &format!("s3://{bucket}/x"),
        ],
    );
    expect_exit(&o, 1, "does not exist");
}

/// `--copy-props`, as the aws cli takes it: `metadata-directive` keeps the content headers and
/// metadata and leaves the tags; `none` leaves all of them. Both as one CopyObject and as a
/// multipart copy, and in a sync between prefixes, read back by boto3.
#[test]
fn copy_props_leave_the_tags_or_everything() {
    let (server, _client, bucket) = seaweed_bucket("copy-props");
    let home = tempfile::tempdir().unwrap();
    let body = data(12 * MIB, 83);
    let src = format!("s3://{bucket}/src");
    upload_with_metadata(server, home.path(), &src, &body);
    for (props, keeps_metadata) in [("metadata-directive", true), ("none", false)] {
        for part_size in ["16MiB", "5MiB"] {
            let key = format!("{props}-{part_size}");
            let args = [
                "cp",
                &src,
                &format!("s3://{bucket}/{key}"),
                "--copy-props",
                props,
                "--part-size",
                part_size,
            ];
            let o = ferry(server, home.path(), &args);
            assert!(o.status.success(), "{}", text(&o));
            let got = boto3_object(server, &bucket, &key);
            assert_eq!(got["sha256"], sha256_hex(&body), "{key}");
            let kept = got["content_type"] == "application/x-ferry-test"
                && got["metadata"]["origin"] == "test";
            assert_eq!(kept, keeps_metadata, "{key}: {got}");
            assert!(boto3_tags(server, &bucket, &key).is_empty(), "{key}");
        }
    }
    for (args, says) in [
        (
            vec!["--copy-props", "tags"],
            "use default, metadata-directive or none",
        ),
        (
            vec!["--copy-props", "none", "--metadata-directive", "COPY"],
            "give one",
        ),
    ] {
        let dst = format!("s3://{bucket}/refused");
        let o = ferry(
            server,
            home.path(),
            &[&["cp", &src, &dst][..], &args].concat(),
        );
        expect_exit(&o, 2, says);
    }
    // A sync between prefixes takes it too; a sync up or down has no source's tags to leave.
    upload_with_metadata(server, home.path(), &format!("s3://{bucket}/tree/a"), &body);
    let (tree, mirror) = (
        format!("s3://{bucket}/tree"),
        format!("s3://{bucket}/mirror"),
    );
    let o = ferry(
        server,
        home.path(),
        &["sync", &tree, &mirror, "--copy-props", "metadata-directive"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let got = boto3_object(server, &bucket, "mirror/a");
    assert_eq!(got["content_type"], "application/x-ferry-test", "{got}");
    assert!(boto3_tags(server, &bucket, "mirror/a").is_empty());
    let folder = home.path().to_str().unwrap();
    let o = ferry(
        server,
        home.path(),
        &["sync", folder, &mirror, "--copy-props", "none"],
    );
    expect_exit(&o, 2, "--copy-props is for a sync between two S3 locations");
}

/// A prefix copied onto itself with REPLACE rewrites each object's metadata in place (as
/// `aws s3 cp --recursive` does, to fix content types): bytes unchanged, each object once,
/// a multipart one too; without REPLACE, the same prefix is refused before anything is sent.
#[test]
fn a_prefix_copied_onto_itself_with_replace_rewrites_its_metadata_in_place() {
    let (server, _client, bucket) = seaweed_bucket("copy-inplace");
    let home = tempfile::tempdir().unwrap();
    let small = data(100 * 1024, 91);
    let big = data(12 * MIB, 92);
    let prefix = format!("s3://{bucket}/site/");
    upload_with_metadata(server, home.path(), &format!("{prefix}a.html"), &small);
    upload_with_metadata(server, home.path(), &format!("{prefix}sub/b.html"), &big);
    upload_with_metadata(server, home.path(), &format!("{prefix}c.css"), &small);
    let o = ferry(server, home.path(), &["cp", "-r", &prefix, &prefix]);
    expect_exit(&o, 2, "copy with the REPLACE metadata directive");
    let o = ferry(
        server,
        home.path(),
        &["cp", "-r", &prefix, &format!("{prefix}inner/")],
    );
    expect_exit(&o, 2, "copies would be listed and copied again");
    let o = ferry(
        server,
        home.path(),
        &[
            "cp",
            "-r",
            &prefix,
            &prefix,
            "--metadata-directive",
            "REPLACE",
            "--content-type",
            "text/html; charset=utf-8",
            "--metadata",
            "fixed=yes",
            "--exclude",
            "*",
            "--include",
            "*.html",
            "--part-size",
            "5MiB",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("copy: 2 objects"),
        "{}",
        text(&o)
    );
    for (key, body) in [("site/a.html", &small), ("site/sub/b.html", &big)] {
        let got = boto3_object(server, &bucket, key);
        assert_eq!(got["sha256"], sha256_hex(body), "{key}");
        assert_eq!(got["content_type"], "text/html; charset=utf-8", "{key}");
        assert_eq!(got["metadata"]["fixed"], "yes", "{key}");
    }
    let css = boto3_object(server, &bucket, "site/c.css");
    assert_eq!(css["content_type"], "application/x-ferry-test");
    assert_eq!(
        crate::boto3_keys(server, &bucket),
        ["site/a.html", "site/c.css", "site/sub/b.html"]
    );
    assert!(boto3_uploads(server, &bucket).is_empty());
}

#[test]
fn a_source_changed_mid_copy_is_detected_and_nothing_is_left() {
    let (server, _client, bucket) = seaweed_bucket("copy-changed");
    let home = tempfile::tempdir().unwrap();
    let src_url = format!("s3://{bucket}/src");
    upload_with_metadata(server, home.path(), &src_url, &data(30 * MIB, 82));
    let client = Arc::new(FailingClient::new(
        ferry_testkit::s3_client(server).unwrap(),
        vec![],
    ));
    // Before the third part, another writer replaces the source.
    let (srv, home_path, url) = (server.clone(), home.path().to_path_buf(), src_url.clone());
    client.before(
        "UploadPartCopy",
        3,
        Box::new(move || {
            let f = home_path.join("new.bin");
            std::fs::write(&f, data(30 * MIB, 83)).unwrap();
            let o = ferry(&srv, &home_path, &["cp", f.to_str().unwrap(), &url]);
            assert!(o.status.success(), "{}", text(&o));
        }),
    );
    let manager = Manager::new(
        client.clone(),
        ManagerConfig {
            max_requests: 1,
            parts_per_object: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let mut copy = Copy::new(ObjectSource::new(&bucket, "src"), &bucket, "dst");
    copy.settings.plan.part_size = Some(5 * MIB as u64);
    let err = rt()
        .block_on(async { manager.copy(copy).wait().await })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Changed, "{err}");
    assert!(err.to_string().contains("changed during the copy"), "{err}");
    assert!(
        boto3_uploads(server, &bucket).is_empty(),
        "the copy was aborted"
    );
    let exists = ferry_testkit::boto3(
        server,
        r#"
try:
    s3.head_object(Bucket=sys.argv[1], Key='dst'); print('true')
except botocore.exceptions.ClientError:
    print('false')
"#,
        &[&bucket],
    )
    .unwrap();
    assert_eq!(exists, false);
}

/// An object of a prefix copied to another bucket that fails is named by its source's URL and
/// its destination key (it was named by its source key, in the destination's bucket, with
/// no source: `s3://dst/src/a ()`).
#[test]
fn a_failed_copy_in_a_tree_names_its_source_and_its_destination() {
    let (server, _client, bucket) = seaweed_bucket("copy-tree-named");
    let home = tempfile::tempdir().unwrap();
    for name in ["a", "b"] {
        uploaded(
            server,
            home.path(),
            &data(1000, 88),
            &format!("s3://{bucket}/src/{name}"),
            &["--no-progress"],
        );
    }
    fn refused() -> ferry_s3::S3Error {
        ferry_s3::ServiceError::new("CopyObject", 400, "InvalidRequest", "injected").into()
    }
    let client = Arc::new(FailingClient::new(
        ferry_testkit::s3_client(server).unwrap(),
        vec![Fault::new("CopyObject", 1, refused)],
    ));
    let manager = Manager::new(
        client,
        ManagerConfig {
            max_requests: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let other = format!("{bucket}-to");
    let o = ferry(server, home.path(), &["mb", &format!("s3://{other}")]);
    assert!(o.status.success(), "{}", text(&o));
    let outcome = rt()
        .block_on(async {
            manager
                .copy_tree(TreeCopy::new(&bucket, "src/", &other, "dst/"))
                .wait()
                .await
        })
        .unwrap();
    assert_eq!(outcome.done, 1);
    assert_eq!(outcome.failed.len(), 1);
    let f = &outcome.failed[0];
    assert_eq!(
        f.path,
        std::path::PathBuf::from(format!("s3://{bucket}/src/a"))
    );
    assert_eq!(f.key, "dst/a");
    assert!(
        f.error.to_string().contains("InvalidRequest"),
        "{}",
        f.error
    );
}

/// How a killed copy runs: on the server; or between servers (the source read at the
/// server's own endpoint, the destination written through the proxy: two endpoints, so its
/// bytes pass through ferry), in parts of 5 MiB or in parts of 10 MiB, over the 8 MiB memory
/// budget (held on disk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Copying {
    OnServer,
    Across,
    AcrossSpilled,
}

/// How a killed copy is run again: the same command, or `ferry resume ID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Again {
    Same,
    Resume,
}

/// A copy on the server of 13 parts of 5 MiB, one at a time, killed where `rule` fires, then
/// run again: see [`kill_copy_then`].
fn kill_copy_at(name: &str, rule: Rule, recopied: usize) {
    kill_copy_then(name, rule, recopied, Copying::OnServer, Again::Same);
}

/// A copy of 13 parts of 5 MiB (7 of 10 MiB, spilled), one at a time, killed where `rule`
/// fires, then run `again`: identical, no upload left, no journal left, and exactly
/// `recopied` parts copied again.
fn kill_copy_then(name: &str, rule: Rule, recopied: usize, copying: Copying, again: Again) {
    let (server, _client, bucket) = seaweed_bucket(&format!("copy-kill-{name}"));
    let home = tempfile::tempdir().unwrap();
    let body = data(13 * 5 * MIB, 84);
    let src = format!("s3://{bucket}/src");
    upload_with_metadata(server, home.path(), &src, &body);
    let proxy = HoldProxy::start(&server.endpoint, vec![rule]).unwrap();
    let budget = match copying {
        Copying::AcrossSpilled => vec!["--memory-limit", "8MiB"],
        _ => vec![],
    };
    let run = || {
        let mut c = crate::ferry_command(server.env(), home.path());
        c.args(["cp", &src, &format!("s3://{bucket}/dst")])
            .args(["--concurrency", "1", "--no-progress"])
            .args(match copying {
                Copying::AcrossSpilled => ["--part-size", "10MiB"],
                _ => ["--part-size", "5MiB"],
            })
            .args(&budget)
            .args(match copying {
                Copying::Across | Copying::AcrossSpilled => {
                    vec!["--source-endpoint-url", &server.endpoint]
                }
                Copying::OnServer => vec![],
            })
            .env("AWS_ENDPOINT_URL", &proxy.endpoint)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    };
    let mut child = run().spawn().unwrap();
    assert!(
        proxy.wait_triggered(Duration::from_secs(60)),
        "{name}: never reached: {:?}",
        proxy.log()
    );
    child.kill().unwrap();
    let _ = child.wait_with_output();
    proxy.reset(vec![]);
    let journals = home.path().join(".local/state/ferry");
    let o = match again {
        Again::Same => run().output().unwrap(),
        Again::Resume => {
            let ids: Vec<String> = std::fs::read_dir(&journals)
                .unwrap()
                .map(|e| {
                    let name = e.unwrap().file_name().to_string_lossy().to_string();
                    name.trim_end_matches(".journal").to_string()
                })
                .collect();
            assert_eq!(ids.len(), 1, "{name}: {ids:?}");
            // The journal names the endpoint (the proxy's), the source (with its server's
            // endpoint, for a copy between servers) and the destination.
            crate::ferry_command(server.env(), home.path())
                .args(["resume", &ids[0], "--no-progress"])
                .args(&budget)
                .output()
                .unwrap()
        }
    };
    assert!(o.status.success(), "{name}: {}", text(&o));
    // Named as the command named it, whichever way it was run again.
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        said.starts_with(&format!("copy: {src} to s3://{bucket}/dst (")),
        "{name}: {said}"
    );
    let copied = proxy
        .log()
        .iter()
        .filter(|l| l.starts_with("PUT ") && l.contains("partNumber="))
        .count();
    assert_eq!(copied, recopied, "{name}: {:?}", proxy.log());
    let got = boto3_object(server, &bucket, "dst");
    assert_eq!(got["sha256"], sha256_hex(&body), "{name}");
    // The source's settings, whichever way it was run again (`ferry resume` takes them from
    // the journal).
    assert_eq!(got["metadata"]["origin"], "test", "{name}");
    assert_eq!(got["content_type"], "application/x-ferry-test", "{name}");
    assert_eq!(
        boto3_tags(server, &bucket, "dst"),
        tags(&[("team", "a"), ("tier", "gold")]),
        "{name}"
    );
    assert!(
        boto3_uploads(server, &bucket).is_empty(),
        "{name}: upload left"
    );
    assert_eq!(
        std::fs::read_dir(&journals).map(|d| d.count()).unwrap_or(0),
        0,
        "{name}: journal left"
    );
}

fn rule(method: &'static str, query: Vec<&'static str>, action: Action) -> Rule {
    Rule {
        method,
        query,
        nth: 1,
        action,
    }
}

#[test]
fn copy_killed_during_create_resumes() {
    kill_copy_at(
        "create",
        rule("POST", vec!["uploads"], Action::DropResponse),
        13,
    );
}

#[test]
fn copy_killed_mid_copy_resumes() {
    kill_copy_at("mid", rule("PUT", vec!["partNumber=6"], Action::Hold), 8);
}

/// `ferry resume ID` takes a copy's journal to the copy it describes (it once ran it as an
/// upload of a local file named like the source, and failed).
#[test]
fn copy_killed_mid_copy_resumes_with_ferry_resume() {
    kill_copy_then(
        "resume-id",
        rule("PUT", vec!["partNumber=6"], Action::Hold),
        8,
        Copying::OnServer,
        Again::Resume,
    );
}

/// A copy between servers, killed mid-way, resumes with the same command: its parts are
/// fetched from the source and journaled, and only the missing ones are fetched and sent
/// again (it once started over, aborting what it had sent).
#[test]
fn a_copy_between_servers_killed_mid_copy_resumes() {
    kill_copy_then(
        "across",
        rule("PUT", vec!["partNumber=6"], Action::Hold),
        8,
        Copying::Across,
        Again::Same,
    );
}

/// The same with `ferry resume ID`, after `kill -9`: the journal names the source's server
/// (it once said to run the same `ferry cp` again).
#[test]
fn a_copy_between_servers_killed_mid_copy_resumes_with_ferry_resume() {
    kill_copy_then(
        "across-id",
        rule("PUT", vec!["partNumber=6"], Action::Hold),
        8,
        Copying::Across,
        Again::Resume,
    );
}

/// The same with parts larger than the memory budget: each is held in a temporary file while
/// it is sent (such a copy was once streamed, and started over when run again).
#[test]
fn a_copy_between_servers_in_parts_over_the_memory_budget_resumes() {
    kill_copy_then(
        "spilled",
        rule("PUT", vec!["partNumber=4"], Action::Hold),
        4,
        Copying::AcrossSpilled,
        Again::Same,
    );
}

/// A copy between servers whose source was replaced while it was stopped: `ferry resume`
/// refuses it and prints the command that starts over, which works (`--restart` was once
/// refused for copies between servers, "a copy between servers cannot resume").
#[test]
fn a_copy_between_servers_whose_source_changed_starts_over_as_told() {
    let (server, _client, bucket) = seaweed_bucket("copy-across-changed");
    let home = tempfile::tempdir().unwrap();
    let src = format!("s3://{bucket}/src");
    uploaded(
        server,
        home.path(),
        &data(20 * MIB, 86),
        &src,
        &["--no-progress"],
    );
    let proxy = HoldProxy::start(
        &server.endpoint,
        vec![rule("PUT", vec!["partNumber=3"], Action::Hold)],
    )
    .unwrap();
    let mut child = crate::ferry_command(server.env(), home.path())
        .args(["cp", &src, &format!("s3://{bucket}/dst"), "--no-progress"])
        .args(["--part-size", "5MiB", "--concurrency", "1"])
        .args(["--source-endpoint-url", &server.endpoint])
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        proxy.wait_triggered(Duration::from_secs(60)),
        "{:?}",
        proxy.log()
    );
    child.kill().unwrap();
    child.wait().unwrap();
    proxy.reset(vec![]);
    let body = data(20 * MIB, 87);
    uploaded(server, home.path(), &body, &src, &["--no-progress"]);
    let journals = home.path().join(".local/state/ferry");
    let id = std::fs::read_dir(&journals)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .find(|n| n.ends_with(".journal"))
        .unwrap()
        .trim_end_matches(".journal")
        .to_string();
    let o = crate::ferry_command(server.env(), home.path())
        .args(["resume", &id])
        .output()
        .unwrap();
    expect_exit(&o, 2, "changed since its copy began");
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    let told = err
        .lines()
        .find_map(|l| l.split_once(": ferry ").map(|(_, c)| c.to_string()))
        .filter(|c| c.ends_with("--restart"))
        .unwrap_or_else(|| panic!("no command to start over: {err}"));
    let want = format!(
        "cp s3://{bucket}/src s3://{bucket}/dst --source-endpoint-url {} --restart",
        server.endpoint
    );
    assert_eq!(told, want);
    let args: Vec<&str> = told.split(' ').collect();
    let o = crate::ferry_command(server.env(), home.path())
        .args(&args)
        .arg("--no-progress")
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        boto3_object(server, &bucket, "dst")["sha256"],
        sha256_hex(&body)
    );
    assert!(boto3_uploads(server, &bucket).is_empty(), "upload left");
    assert_eq!(
        std::fs::read_dir(&journals).unwrap().count(),
        0,
        "journal left"
    );
}

#[test]
fn copy_killed_with_a_part_reply_lost_resumes() {
    kill_copy_at(
        "lost",
        rule("PUT", vec!["partNumber=4"], Action::DropResponse),
        // The server holds part 4, but no journal line says so: it is copied again.
        10,
    );
}

#[test]
fn copy_killed_during_complete_resumes() {
    kill_copy_at("complete", rule("POST", vec!["uploadId="], Action::Hold), 0);
}

#[test]
fn a_copy_between_two_servers_is_streamed_and_identical() {
    let (server, _client, bucket) = seaweed_bucket("copy-cross");
    let home = tempfile::tempdir().unwrap();
    let body = data(37 * MIB + 11, 85);
    let src = format!("s3://{bucket}/src");
    upload_with_metadata(server, home.path(), &src, &body);
    let fs = ferry_testkit::S3sFs::start().unwrap();
    std::fs::create_dir(fs.root.path().join("dest")).unwrap();
    // The destination is s3s-fs (the environment's settings); the source SeaweedFS, with
    // credentials from a profile of its own.
    let creds = crate::profile_for(server, home.path(), "seaweed");
    // Copies `from` on SeaweedFS to `dest/NAME` on s3s-fs, which must then hold `body`,
    // within two minutes.
    let to_s3s_fs = |from: &str, name: &str, extra: &[&str]| {
        let mut child = crate::ferry_command(fs.server.env(), home.path())
            .args(["cp", from, &format!("s3://dest/{name}")])
            .args(["--source-endpoint-url", &server.endpoint])
            .args(["--source-profile", "seaweed", "--no-progress"])
            .args(extra)
            .env("AWS_SHARED_CREDENTIALS_FILE", &creds)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > Duration::from_secs(120) {
                child.kill().unwrap();
                panic!(
                    "{name}: not done in 120 s: {}",
                    text(&child.wait_with_output().unwrap())
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{name}: {}", text(&o));
        let stored = std::fs::read(fs.root.path().join("dest").join(name)).unwrap();
        assert!(stored == body, "{name}: the bytes on s3s-fs differ");
    };
    let flags = ["--part-size", "8MiB", "--memory-limit", "32MiB"];
    to_s3s_fs(&src, "copied.bin", &flags);
    // And back to SeaweedFS from s3s-fs, read back by boto3.
    let o = crate::ferry_command(server.env(), home.path())
        .args(["cp", "s3://dest/copied.bin", &format!("s3://{bucket}/back")])
        .args(["--source-endpoint-url", &fs.server.endpoint])
        .args(["--no-progress"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let got = boto3_object(server, &bucket, "back");
    assert_eq!(got["sha256"], sha256_hex(&body));
    // A source whose checksum is CRC32, not the copy's CRC64NVME: its parts' checksums
    // cannot be checked against it, so it is streamed, its bytes checked as a download's.
    let crc32 = format!("s3://{bucket}/crc32");
    crate::uploaded(server, home.path(), &body, &crc32, &["--checksum", "crc32"]);
    to_s3s_fs(&crc32, "from-crc32.bin", &[]);
    // The same under the smallest budget: the upload held all of it while it waited for
    // bytes its download needed memory to fetch, and the copy never ended.
    to_s3s_fs(&crc32, "from-crc32-8mib.bin", &["--memory-limit", "8MiB"]);
}

/// A source whose bytes arrive damaged (a byte flipped in a ranged GET, through a proxy in
/// front of the source): a streamed copy finds it by the source's checksum once every byte has
/// gone into the upload, stores nothing and says so; a download to stdout says that what it
/// wrote is not the object.
#[test]
fn a_source_read_damaged_is_stored_nowhere_and_stdout_is_told_to_discard() {
    let (server, _client, bucket) = seaweed_bucket("copy-damaged");
    let home = tempfile::tempdir().unwrap();
    let body = data(20 * MIB + 3, 86);
    let src = format!("s3://{bucket}/crc32");
    // CRC32, not the copy's CRC64NVME: the copy is streamed, checked as a download is.
    uploaded(server, home.path(), &body, &src, &["--checksum", "crc32"]);
    // The `nth` GET gets a byte flipped (a copy's first GET reads the source's tags).
    let flip = |nth| {
        let once = Rule {
            method: "GET",
            query: vec![],
            nth,
            action: Action::FlipResponseByte,
        };
        HoldProxy::start(&server.endpoint, vec![once]).unwrap()
    };
    let proxy = flip(2);
    let dst = format!("s3://{bucket}/copied");
    let o = crate::ferry_command(server.env(), home.path())
        .args(["cp", &src, &dst, "--source-endpoint-url", &proxy.endpoint])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{:?} {}", proxy.log(), text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("the bytes read do not match"), "{err}");
    assert!(
        err.contains(&format!("nothing was stored at {dst}")),
        "{err}"
    );
    assert_eq!(proxy.faults(), 1, "the byte was flipped");
    let keys = crate::boto3_keys(server, &bucket);
    assert_eq!(keys, vec!["crc32".to_string()], "nothing was stored");
    assert!(
        boto3_uploads(server, &bucket).is_empty(),
        "no upload was left"
    );

    let proxy = flip(1);
    let o = crate::ferry_command(server.env(), home.path())
        .args(["cp", &src, "-", "--endpoint-url", &proxy.endpoint])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("what was written to stdout is not the object: discard it"),
        "{err}"
    );
}

/// An SSE-C source is read with `--source-sse-c-key` and its copy stored under `--sse-c-key`;
/// with the source's key alone, the copy stays under it.
#[test]
fn sse_c_source_and_destination_keys_are_each_their_own() {
    let (server, _client, bucket) = seaweed_bucket("copy-sse-c");
    let home = tempfile::tempdir().unwrap();
    let body = data(12 * MIB, 86);
    let b64 = |k: [u8; 32]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, k);
    let (source_key, dest_key) = (b64([1u8; 32]), b64([2u8; 32]));
    let src = format!("s3://{bucket}/secret");
    uploaded(
        server,
        home.path(),
        &body,
        &src,
        &["--sse-c-key", &source_key],
    );
    // Without the source's key the server refuses; with both, the copy is under the new key.
    let dst = format!("s3://{bucket}/secret-copy");
    let o = ferry(
        server,
        home.path(),
        &["cp", &src, &dst, "--sse-c-key", &dest_key],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o = ferry(
        server,
        home.path(),
        &[
            "cp",
            &src,
            &dst,
            "--source-sse-c-key",
            &source_key,
            "--sse-c-key",
            &dest_key,
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        !all.contains(&source_key) && !all.contains(&dest_key),
        "a key was printed"
    );
    let got = ferry_testkit::boto3(
        server,
        r#"
import base64, hashlib
k = base64.b64decode(sys.argv[3])
o = s3.get_object(Bucket=sys.argv[1], Key=sys.argv[2], SSECustomerAlgorithm='AES256', SSECustomerKey=k)
print(json.dumps(hashlib.sha256(o['Body'].read()).hexdigest()))
"#,
        &[&bucket, "secret-copy", &dest_key],
    )
    .unwrap();
    assert_eq!(got, sha256_hex(&body));

    // With the source's key alone, the copy keeps it: S3 (and SeaweedFS) would otherwise
    // store it readable without a key.
    let with_source_key = |key: &str, extra: &[&str]| {
        let dst = format!("s3://{bucket}/{key}");
        let args = [
            &["cp", &src, &dst, "--source-sse-c-key", &source_key][..],
            extra,
        ]
        .concat();
        ferry(server, home.path(), &args)
    };
    let o = with_source_key("kept", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        crate::sealed(server, &bucket, "kept", &source_key),
        sha256_hex(&body)
    );
    // In parts too; SeaweedFS copies no part under a customer key (501, where S3 does), and
    // the error says what copies it whole. Nothing is left behind.
    let o = with_source_key("kept-parts", &["--part-size", "5MiB"]);
    expect_exit(&o, 1, "does not copy parts under a customer key (SSE-C)");
    assert_eq!(boto3_uploads(server, &bucket), Vec::<String>::new());
}

/// moto keeps what SeaweedFS ignores: storage class, canned ACL, SSE-S3 on the copy.
#[test]
fn destination_options_apply_to_copies_on_moto() {
    let (server, bucket) = crate::moto_bucket("moto-copy");
    let home = tempfile::tempdir().unwrap();
    let body = data(12 * MIB, 87);
    let src = format!("s3://{bucket}/src");
    upload_with_metadata(server, home.path(), &src, &body);
    // One CopyObject (12 MiB is under the threshold) and one multipart copy (5 MiB parts).
    for (key, part_size) in [("one", None), ("parts", Some("5MiB"))] {
        let dst = format!("s3://{bucket}/{key}");
        let mut args = vec![
            "cp",
            &src,
            &dst,
            "--storage-class",
            "STANDARD_IA",
            "--acl",
            "public-read",
            "--sse",
            "AES256",
        ];
        if let Some(ps) = part_size {
            args.extend(["--part-size", ps]);
        }
        let o = ferry(server, home.path(), &args);
        assert!(o.status.success(), "{key}: {}", text(&o));
        let got = ferry_testkit::boto3(
            server,
            r#"
import hashlib
b, k = sys.argv[1], sys.argv[2]
h = s3.head_object(Bucket=b, Key=k)
acl = s3.get_object_acl(Bucket=b, Key=k)
print(json.dumps({
    'sha256': hashlib.sha256(s3.get_object(Bucket=b, Key=k)['Body'].read()).hexdigest(),
    'storage_class': h.get('StorageClass'),
    'sse': h.get('ServerSideEncryption'),
    'metadata': h.get('Metadata', {}),
    'public_read': any(g['Grantee'].get('URI', '').endswith('/AllUsers') and g['Permission'] == 'READ' for g in acl['Grants']),
}))
"#,
            &[&bucket, key],
        )
        .unwrap();
        assert_eq!(got["sha256"], sha256_hex(&body), "{key}");
        assert_eq!(got["storage_class"], "STANDARD_IA", "{key}: {got}");
        assert_eq!(got["sse"], "AES256", "{key}: {got}");
        assert_eq!(got["public_read"], true, "{key}: {got}");
        assert_eq!(got["metadata"]["origin"], "test", "{key}: {got}");
    }
}

/// A website redirect reaches the object, one PutObject or in parts, and `ferry stat` shows
/// it. S3 never copies it (moto does in a CopyObject, not in a multipart copy), so a copy that
/// keeps what its source has gives it again, one CopyObject or in parts; `--website-redirect` names another, REPLACE drops it.
/// A download refuses the flag; a location that is neither a key from / nor a URL is refused
/// before anything is sent.
#[test]
fn a_website_redirect_reaches_the_object_and_its_copies_on_moto() {
    let (server, bucket) = crate::moto_bucket("redirect");
    let home = tempfile::tempdir().unwrap();
    let body = data(12 * MIB, 88);
    let redirect_of = |key: &str| boto3_object(server, &bucket, key)["website_redirect"].clone();
    let run = |args: &[&str]| {
        let o = ferry(server, home.path(), args);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
        o
    };
    let url = |key: &str| format!("s3://{bucket}/{key}");
    uploaded(
        server,
        home.path(),
        &body[..1000],
        &url("small"),
        &["--website-redirect", "/new.html"],
    );
    let big = [
        "--website-redirect",
        "https://example.com/",
        "--part-size",
        "5MiB",
        // moto's multipart CRC64NVME is not the object's; SHA-256 parts it checks.
        "--checksum",
        "sha256",
    ];
    uploaded(server, home.path(), &body, &url("big"), &big);
    assert_eq!(redirect_of("small"), "/new.html");
    assert_eq!(redirect_of("big"), "https://example.com/");
    let o = run(&["stat", &url("small"), "--json"]);
    let stat: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(stat["website_redirect"], "/new.html", "{stat}");
    let o = run(&["stat", &url("small")]);
    assert!(
        text(&o).contains("Website redirect:  /new.html"),
        "{}",
        text(&o)
    );

    // Kept: one CopyObject, and a copy in parts.
    run(&["cp", &url("small"), &url("small-copy")]);
    run(&["cp", &url("big"), &url("big-copy"), "--part-size", "5MiB"]);
    assert_eq!(redirect_of("small-copy"), "/new.html");
    let big_copy = boto3_object(server, &bucket, "big-copy");
    assert_eq!(big_copy["website_redirect"], "https://example.com/");
    assert_eq!(big_copy["sha256"], sha256_hex(&body));
    // Another named; dropped with REPLACE.
    let other = ["--website-redirect", "/other.html"];
    run(&[&["cp", &url("small"), &url("renamed")][..], &other].concat());
    assert_eq!(redirect_of("renamed"), "/other.html");
    run(&[
        "cp",
        &url("small"),
        &url("replaced"),
        "--metadata-directive",
        "REPLACE",
    ]);
    assert_eq!(redirect_of("replaced"), serde_json::Value::Null);

    let back = home.path().join("back.bin");
    let o = ferry(
        server,
        home.path(),
        &[&["cp", &url("small"), back.to_str().unwrap()][..], &other].concat(),
    );
    expect_exit(&o, 2, "--website-redirect");
    assert!(!back.exists());
    let src = home.path().join("src.bin");
    let o = ferry(
        server,
        home.path(),
        &[
            "cp",
            src.to_str().unwrap(),
            &url("bad"),
            "--website-redirect",
            "docs/new.html",
        ],
    );
    expect_exit(&o, 2, "website redirect \"docs/new.html\"");
    let keys = crate::boto3_keys(server, &bucket);
    assert!(!keys.contains(&"bad".to_string()), "{keys:?}");
}

/// A copy in the source's own bucket keeps its SSE-KMS key (and DSSE-KMS) when it names no
/// encryption: S3, and moto, would encrypt it as the bucket's default, so an object moved to
/// another storage class in place, renamed, or copied in parts lost its key. `--sse` names
/// another; a copy to another bucket takes that bucket's default, as S3 does.
#[test]
fn a_copy_in_its_own_bucket_keeps_the_sources_kms_key_on_moto() {
    let (server, bucket) = crate::moto_bucket("keep-kms");
    let (_, other) = crate::moto_bucket("keep-kms-other");
    let home = tempfile::tempdir().unwrap();
    let body = data(12 * MIB, 89);
    let kms = ["--sse", "aws:kms", "--sse-kms-key-id", "ferry-test-key"];
    let url = |b: &str, key: &str| format!("s3://{b}/{key}");
    uploaded(server, home.path(), &body, &url(&bucket, "kms"), &kms);
    let dsse = [
        "--sse",
        "aws:kms:dsse",
        "--sse-kms-key-id",
        "ferry-test-key",
    ];
    uploaded(
        server,
        home.path(),
        &body[..1000],
        &url(&bucket, "dsse"),
        &dsse,
    );
    let run = |args: &[&str]| {
        let o = ferry(server, home.path(), args);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
    };
    let seen = |b: &str, key: &str| {
        ferry_testkit::boto3(
            server,
            r#"
import hashlib
b, k = sys.argv[1], sys.argv[2]
h = s3.head_object(Bucket=b, Key=k)
print(json.dumps({
    'sha256': hashlib.sha256(s3.get_object(Bucket=b, Key=k)['Body'].read()).hexdigest(),
    'sse': h.get('ServerSideEncryption'),
    'key': h.get('SSEKMSKeyId'),
    'class': h.get('StorageClass', 'STANDARD'),
}))
"#,
            &[b, key],
        )
        .unwrap()
    };
    // moto names the key of an SSE-KMS object, not of a DSSE-KMS one.
    let source = [seen(&bucket, "kms"), seen(&bucket, "dsse")];
    let key_id = source[0]["key"].as_str().unwrap_or_default();
    assert!(key_id.contains("ferry-test-key"), "{}", source[0]);
    let kept = |b: &str, key: &str, like: &serde_json::Value, size: usize| {
        let got = seen(b, key);
        assert_eq!(
            (&got["sse"], &got["key"]),
            (&like["sse"], &like["key"]),
            "{key}: {got}"
        );
        assert_eq!(got["sha256"], sha256_hex(&body[..size]), "{key}");
        got
    };
    // In place to another class, one CopyObject.
    let (kms_url, dsse_url) = (url(&bucket, "kms"), url(&bucket, "dsse"));
    run(&["cp", &kms_url, &kms_url, "--storage-class", "STANDARD_IA"]);
    let got = kept(&bucket, "kms", &source[0], body.len());
    assert_eq!(got["class"], "STANDARD_IA");
    // Renamed, in parts; DSSE-KMS renamed.
    run(&[
        "cp",
        &kms_url,
        &url(&bucket, "parts"),
        "--part-size",
        "5MiB",
    ]);
    kept(&bucket, "parts", &source[0], body.len());
    run(&["mv", &dsse_url, &url(&bucket, "dsse-moved")]);
    assert_eq!(source[1]["sse"], "aws:kms:dsse");
    kept(&bucket, "dsse-moved", &source[1], 1000);
    // Named otherwise; another bucket.
    run(&["cp", &kms_url, &url(&bucket, "s3"), "--sse", "AES256"]);
    assert_eq!(seen(&bucket, "s3")["sse"], "AES256");
    run(&["cp", &kms_url, &url(&other, "elsewhere")]);
    let got = seen(&other, "elsewhere");
    assert_ne!(got["sse"], "aws:kms", "{got}");
    assert_eq!(got["sha256"], sha256_hex(&body));
}
