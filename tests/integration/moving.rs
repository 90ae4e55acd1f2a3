//! `ferry mv` and the library's `remove_source`: each source deleted once its destination
//! holds it, verified, on SeaweedFS, checked with boto3; a source that changed after it was
//! read is kept.

use std::sync::Arc;

use ferry_engine::{Download, DownloadSettings, ErrorKind, Source, Target, Upload, UploadSettings};
use ferry_s3::ObjectClient as _;
use ferry_testkit::FailingClient;

use crate::changing::append;
use crate::resume::{interrupt_after, start_sending};
use crate::secrets::files_under;
use crate::{
    boto3_keys, boto3_object, boto3_uploads, data, expect_exit, ferry, put, rt, seaweed_bucket,
    sha256_hex, stdout, text,
};

const MIB: usize = 1024 * 1024;

#[test]
fn mv_moves_a_file_up_an_object_across_and_between_servers_and_down() {
    let (server, _client, bucket) = seaweed_bucket("mv-one");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("big.bin");
    // Three parts of 5 MiB: a multipart upload, journaled, then the file deleted.
    let body = data(12 * MIB, 31);
    std::fs::write(&file, &body).unwrap();
    let up = format!("s3://{bucket}/up.bin");
    let o = ferry(
        server,
        home.path(),
        &["mv", file.to_str().unwrap(), &up, "--part-size", "5MiB"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("move: "),
        "{}",
        text(&o)
    );
    assert!(!file.exists(), "the file was not deleted");
    holds(server, &bucket, "up.bin", &body);

    // To another key on the server: the source goes.
    let moved = format!("s3://{bucket}/moved.bin");
    let o = ferry(server, home.path(), &["mv", &up, &moved]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(boto3_keys(server, &bucket), ["moved.bin"]);
    assert_eq!(
        boto3_object(server, &bucket, "moved.bin")["sha256"],
        sha256_hex(&body)
    );

    // Between servers, through ferry (the same server named as another): the source goes
    // through the source's client.
    let streamed = format!("s3://{bucket}/streamed.bin");
    let endpoint = ["--source-endpoint-url", server.endpoint.as_str()];
    let o = ferry(
        server,
        home.path(),
        &[&["mv", &moved, &streamed], &endpoint[..]].concat(),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(boto3_keys(server, &bucket), ["streamed.bin"]);
    holds(server, &bucket, "streamed.bin", &body);

    // Down: the file holds the bytes, the object is gone.
    let back = home.path().join("back.bin");
    let o = ferry(
        server,
        home.path(),
        &["mv", &streamed, back.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read(&back).unwrap(), body);
    assert!(boto3_keys(server, &bucket).is_empty());
}

#[test]
fn an_interrupted_move_resumes_by_the_same_command_or_ferry_resume_and_then_deletes_the_file() {
    let (server, _client, bucket) = seaweed_bucket("mv-resume");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("big.bin");
    // Five parts of 5 MiB, one at a time.
    let body = data(24 * MIB + 5, 51);
    std::fs::write(&file, &body).unwrap();
    let dst = format!("s3://{bucket}/big.bin");
    let child = start_sending(server, home.path(), "mv", (&file, &dst), &[]);
    let (code, stderr) = interrupt_after(child, 2);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(file.exists(), "an interrupted move deleted its file");
    // The journals this machine can resume say which are moves.
    let o = ferry(server, home.path(), &["uploads", "ls"]);
    assert!(stdout(&o).contains(" (move)"), "{}", text(&o));
    // The same command resumes the move (and is interrupted again, a part later).
    let child = start_sending(server, home.path(), "mv", (&file, &dst), &[]);
    let (code, stderr) = interrupt_after(child, 1);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(file.exists(), "an interrupted move deleted its file");
    // `ferry resume ID` finishes it as a move: the journal says so.
    let id = stderr
        .split("or: ferry resume ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no journal id in: {stderr}"));
    let o = ferry(server, home.path(), &["resume", id]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(stdout(&o).starts_with("move: "), "{}", text(&o));
    assert!(!file.exists(), "the resumed move kept its file");
    holds(server, &bucket, "big.bin", &body);
}

#[test]
fn mv_r_moves_a_folder_up_a_prefix_across_and_back_down() {
    let (server, _client, bucket) = seaweed_bucket("mv-tree");
    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("photos");
    let mut names = Vec::new();
    for i in 0..24 {
        let name = format!("{}/p{i:02}.jpg", ["a", "b/c", "d"][i % 3]);
        let path = root.join(&name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, data(1000 + i * 37, i as u64)).unwrap();
        names.push(name);
    }
    names.sort();
    let keys =
        |prefix: &str| -> Vec<String> { names.iter().map(|n| format!("{prefix}{n}")).collect() };

    let up = [
        "mv",
        "-r",
        root.to_str().unwrap(),
        &format!("s3://{bucket}/up/"),
    ];
    // A dry run names each move and moves nothing.
    let o = ferry(server, home.path(), &[&up[..], &["--dry-run"]].concat());
    assert!(o.status.success(), "{}", text(&o));
    let said = String::from_utf8_lossy(&o.stdout);
    assert_eq!(said.matches("(dry run) move: ").count(), 25, "{said}");
    assert_eq!(files_under(&root).len(), 24);
    assert!(boto3_keys(server, &bucket).is_empty());

    let o = ferry(server, home.path(), &up);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("move: 24 objects"), "{}", text(&o));
    let left: Vec<_> = files_under(&root);
    assert!(left.is_empty(), "files left: {left:?}");
    assert_eq!(boto3_keys(server, &bucket), keys("up/"));

    let o = ferry(
        server,
        home.path(),
        &[
            "mv",
            "-r",
            &format!("s3://{bucket}/up/"),
            &format!("s3://{bucket}/across/"),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(boto3_keys(server, &bucket), keys("across/"));

    let down = home.path().join("down");
    let o = ferry(
        server,
        home.path(),
        &[
            "mv",
            "-r",
            "--json",
            &format!("s3://{bucket}/across/"),
            down.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let moved = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.contains(r#""moved":true"#))
        .count();
    assert_eq!(moved, 24, "{}", text(&o));
    assert!(boto3_keys(server, &bucket).is_empty());
    for (i, name) in names.iter().enumerate() {
        let n: usize = name[name.len() - 6..name.len() - 4].parse().unwrap();
        assert_eq!(
            std::fs::read(down.join(name)).unwrap(),
            data(1000 + n * 37, n as u64),
            "{i}"
        );
    }
}

#[test]
fn mv_refuses_what_it_cannot_delete_and_keeps_a_source_it_did_not_send() {
    let (server, client, bucket) = seaweed_bucket("mv-refused");
    let home = tempfile::tempdir().unwrap();
    rt().block_on(client.put_object(put(&bucket, "k", b"object".to_vec())))
        .unwrap();
    let url = format!("s3://{bucket}/k");
    let file = home.path().join("f.txt");
    std::fs::write(&file, b"file").unwrap();
    let f = file.to_str().unwrap();
    for (args, needle) in [
        (vec!["mv", "-", url.as_str()], "stdin cannot be deleted"),
        (vec!["mv", url.as_str(), "-"], "not stdout"),
        (vec!["mv", url.as_str(), url.as_str()], "same object"),
        (
            vec!["mv", "--version-id", "v1", url.as_str(), f],
            "current version",
        ),
        (
            vec![
                "mv",
                "-r",
                "--metadata-directive",
                "REPLACE",
                &format!("s3://{bucket}/"),
                &format!("s3://{bucket}/"),
            ],
            "overlap",
        ),
        // The object exists: nothing is sent, so the file stays.
        (vec!["mv", "--no-clobber", f, url.as_str()], "--no-clobber"),
    ] {
        let o = ferry(server, home.path(), &args);
        expect_exit(&o, 2, needle);
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"file");
    assert_eq!(boto3_keys(server, &bucket), ["k"]);
    assert_eq!(
        boto3_object(server, &bucket, "k")["sha256"],
        sha256_hex(b"object")
    );
}

#[test]
fn a_move_keeps_a_source_that_changed_after_it_was_read() {
    let (server, client, bucket) = seaweed_bucket("mv-changed");
    let dir = tempfile::tempdir().unwrap();
    let failing = Arc::new(FailingClient::new(client.clone(), vec![]));
    let manager = crate::manager(failing.clone());

    // Down: the object is replaced after the file holds it, before DeleteObject, which
    // carries the ETag read: SeaweedFS answers 412, and both stay.
    let old = data(3 * MIB, 41);
    rt().block_on(client.put_object(put(&bucket, "obj", old.clone())))
        .unwrap();
    let (writer, key) = (client.clone(), bucket.clone());
    failing.before(
        "DeleteObject",
        1,
        Box::new(move || {
            let new = put(&key, "obj", b"new bytes".to_vec());
            std::thread::spawn(move || rt().block_on(writer.put_object(new)).unwrap())
                .join()
                .unwrap();
        }),
    );
    let file = dir.path().join("obj.bin");
    let download =
        Download::new(&bucket, "obj", Target::File(file.clone())).settings(DownloadSettings {
            remove_source: true,
            ..Default::default()
        });
    let err = rt()
        .block_on(async { manager.download(download).wait().await })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SourceKept, "{err}");
    assert!(err.to_string().contains("changed since"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), old);
    assert_eq!(
        boto3_object(server, &bucket, "obj")["sha256"],
        sha256_hex(b"new bytes")
    );

    // Up: the file grows after its parts are sent, as the upload completes: the object holds
    // what was read, and the file stays.
    let src = dir.path().join("up.bin");
    let body = data(11 * MIB, 42);
    std::fs::write(&src, &body).unwrap();
    let grows = src.clone();
    failing.before(
        "CompleteMultipartUpload",
        1,
        Box::new(move || append(&grows, 10)),
    );
    let upload =
        Upload::new(Source::File(src.clone()), &bucket, "up.bin").settings(UploadSettings {
            remove_source: true,
            plan: ferry_engine::PlanConfig {
                part_size: Some(5 * MIB as u64),
                ..Default::default()
            },
            ..Default::default()
        });
    let err = rt()
        .block_on(async { manager.upload(upload).wait().await })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SourceKept, "{err}");
    assert!(err.to_string().contains("size"), "{err}");
    assert_eq!(std::fs::metadata(&src).unwrap().len(), 11 * MIB as u64 + 10);
    holds(server, &bucket, "up.bin", &body);
}

/// Asserts that boto3 reads `body` at `key`, and that no multipart upload is left.
fn holds(server: &ferry_testkit::TestServer, bucket: &str, key: &str, body: &[u8]) {
    assert_eq!(
        boto3_object(server, bucket, key)["sha256"],
        sha256_hex(body)
    );
    assert!(
        boto3_uploads(server, bucket).is_empty(),
        "an upload was left"
    );
}
