//! What a bucket asks of every request, and ferry gives: a time near the server's (S3 refuses a
//! request signed more than 15 minutes from its own time), the bucket's own region, and, for a
//! requester-pays bucket, the agreement to pay. For the first two ferry corrects itself from the
//! refusal: it signs with the time in its `Date` header, as s5cmd and the AWS SDKs do, or for the
//! region it names, as the aws cli does; the third it sends when asked (`--request-payer`), a
//! planned upload's workers and finish included. The clock: the binary runs under libfaketime,
//! SeaweedFS (which enforces the 15 minutes) on the real clock. The region and the payer: SeaweedFS
//! behind the fault proxy, which refuses as S3 does. boto3 checks what landed.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use ferry_testkit::{HoldProxy, TestServer};

use crate::resume::{interrupt_after, start_upload};
use crate::tree::{boto3_tree, local_tree, make_tree};
use crate::{
    boto3_object, boto3_uploads, data, expect_exit, ferry, ferry_command, seaweed_bucket,
    sha256_hex, text,
};

/// Runs ferry with its clock moved by `shift` (libfaketime's form: `+30m`, `-2h`, `+1d`).
fn ferry_at(server: &TestServer, home: &Path, shift: &str, args: &[&str]) -> Output {
    ferry_command(server.env(), home)
        .env("LD_PRELOAD", ferry_testkit::faketime_library().unwrap())
        .env("FAKETIME", shift)
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .args(args)
        .output()
        .unwrap()
}

/// Asserts a run worked and warned `said`.
fn corrected(o: &Output, said: &str) {
    assert_eq!(o.status.code(), Some(0), "{}", text(o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(said),
        "{}",
        text(o)
    );
}

/// The steps each correction must carry, run by `run(step, args)` (which asserts the run was
/// corrected), each checked against `server` by boto3 or against the source: a multipart
/// upload (Create is refused, then sent again); a tree of small files, whose PutObjects in
/// flight are refused together, their bodies streams that cannot be sent again as they are
/// (each is retried); a download, whose HEAD's refusal has no body to name the reason; a sync
/// down (a listing and GETs). Returns the object's URL and a file to download it to.
fn each_step(
    server: &TestServer,
    bucket: &str,
    home: &Path,
    run: impl Fn(usize, &[&str]),
) -> (String, String) {
    let (big, body) = big_file(home, 41);
    let url = format!("s3://{bucket}/big.bin");
    run(
        0,
        &["cp", big.to_str().unwrap(), &url, "--part-size", "5MiB"],
    );
    landed(server, bucket, "big.bin", &body);

    let src = home.join("src");
    let files: Vec<(String, usize)> = (0..150).map(|i| (format!("f{i:03}"), 100 + i)).collect();
    let files: Vec<(&str, usize)> = files.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    make_tree(&src, &files);
    let tree = format!("s3://{bucket}/tree/");
    run(1, &["cp", "-r", src.to_str().unwrap(), &tree]);
    let up = tree_below(server, bucket, "tree/");
    assert_eq!(up, local_tree(&src));

    let back = home.join("back.bin");
    let back = back.to_str().unwrap();
    run(2, &["cp", &url, back]);
    assert_eq!(std::fs::read(back).unwrap(), body);
    let down = home.join("down");
    run(3, &["sync", &tree, down.to_str().unwrap()]);
    assert_eq!(local_tree(&down), local_tree(&src));
    (url, back.to_string())
}

#[test]
fn a_clock_hours_off_is_corrected_by_the_servers_time() {
    let (server, _client, bucket) = seaweed_bucket("clock");
    let home = tempfile::tempdir().unwrap();
    // Half an hour ahead, two hours behind, a day ahead (twice).
    let shifts = [
        ("+30m", "30 min ahead of"),
        ("-2h", "2 h 0 min behind"),
        ("+1d", "24 h 0 min ahead of"),
        ("+1d", "24 h 0 min ahead of"),
    ];
    each_step(server, &bucket, home.path(), |step, args| {
        let (shift, way) = shifts[step];
        let o = ferry_at(server, home.path(), shift, args);
        corrected(
            &o,
            &format!("{way} the server's; signing requests with the server's time"),
        );
    });
}

#[test]
fn a_bucket_in_another_region_is_signed_for_its_own() {
    let (server, _client, bucket) = seaweed_bucket("region");
    let (proxy, behind) = refusing(server, |p| p.set_bucket_region(Some("eu-west-1")));
    let home = tempfile::tempdir().unwrap();
    let refusals = || {
        proxy
            .log()
            .iter()
            .filter(|l| l.ends_with("signed for another region"))
            .count()
    };
    // The configured region is us-east-1 (the test server's): each run is refused, learns
    // the bucket's region, and signs for it. The multipart upload is refused once only.
    let said = format!("s3://{bucket} is in eu-west-1, not us-east-1");
    let (url, back) = each_step(server, &bucket, home.path(), |step, args| {
        corrected(&ferry(&behind, home.path(), args), &said);
        if step == 0 {
            assert_eq!(refusals(), 1, "{:?}", proxy.log());
        }
    });

    // Given the right region, nothing is refused.
    proxy.reset(vec![]);
    let o = ferry(
        &behind,
        home.path(),
        &["--region", "eu-west-1", "cp", &url, &back],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(refusals(), 0, "{:?}", proxy.log());
}

#[test]
fn a_presigned_url_is_signed_for_the_buckets_region_when_none_is_configured() {
    use ferry_s3::ObjectClient as _;
    let (server, client, bucket) = seaweed_bucket("presign-region");
    let body = data(40_000, 43);
    crate::rt()
        .block_on(client.put_object(crate::put(&bucket, "shared.bin", body.clone())))
        .unwrap();
    let (_proxy, behind) = refusing(server, |p| p.set_bucket_region(Some("eu-west-1")));
    let home = tempfile::tempdir().unwrap();
    let presign = |region: Option<&str>, args: &[&str]| {
        let vars = behind.env().into_iter();
        let vars = vars.filter(|(k, _)| !k.ends_with("_REGION")).collect();
        let mut c = ferry_command(vars, home.path());
        c.args(region.map(|r| ["--region", r]).iter().flatten());
        let o = c.arg("presign").args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        String::from_utf8(o.stdout).unwrap().trim().to_string()
    };
    // No region anywhere: ferry asks the bucket, which is elsewhere, and signs for its region.
    let target = format!("s3://{bucket}/shared.bin");
    let url = presign(None, &[&target]);
    assert!(url.contains("%2Feu-west-1%2Fs3%2F"), "{url}");
    assert_eq!(crate::curl(&[&url]), ("200".to_string(), body));
    // A key not there yet: its PUT URL too.
    let new = data(30_000, 44);
    let file = home.path().join("new.bin");
    std::fs::write(&file, &new).unwrap();
    let put_url = presign(
        None,
        &[&format!("s3://{bucket}/new.bin"), "--method", "PUT"],
    );
    let (code, _) = crate::curl(&["-T", file.to_str().unwrap(), &put_url]);
    assert_eq!(code, "200");
    assert_eq!(
        boto3_object(server, &bucket, "new.bin")["sha256"],
        sha256_hex(&new)
    );

    // A configured region is taken as it is, and asks nothing: a URL for the wrong one is
    // refused by the bucket.
    let url = presign(Some("us-east-1"), &[&target]);
    assert!(url.contains("%2Fus-east-1%2Fs3%2F"), "{url}");
    assert_eq!(crate::curl(&[&url]).0, "400");
}

#[test]
fn a_requester_pays_bucket_takes_every_request_that_agrees_to_pay() {
    let (server, client, bucket) = seaweed_bucket("payer");
    let (proxy, behind) = refusing(server, |p| p.set_requester_pays(true));
    let home = tempfile::tempdir().unwrap();
    let (big, body) = big_file(home.path(), 47);
    let url = format!("s3://{bucket}/big.bin");
    let refused = || unpaid(&proxy);

    // Not agreeing: refused as S3 refuses it.
    let o = ferry(&behind, home.path(), &["cp", big.to_str().unwrap(), &url]);
    expect_exit(&o, 1, "AccessDenied");
    proxy.reset(vec![]);

    // Agreeing, every request of each command carries it (any other would be refused).
    let payer = |args: &[&str]| {
        let mut all = args.to_vec();
        all.push("--request-payer");
        let o = ferry(&behind, home.path(), &all);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
        assert_eq!(refused(), Vec::<String>::new(), "{args:?}");
    };
    payer(&["cp", big.to_str().unwrap(), &url, "--part-size", "5MiB"]);
    landed(server, &bucket, "big.bin", &body);
    // A sync up that deletes (DeleteObjects), a tree down, a download, a copy on the server.
    let src = home.path().join("src");
    make_tree(&src, &[("a.txt", 100), ("d/b.bin", 70_000)]);
    let stray = crate::put(&bucket, "tree/stray", b"x".to_vec());
    crate::rt()
        .block_on(ferry_s3::ObjectClient::put_object(&client, stray))
        .unwrap();
    let tree = format!("s3://{bucket}/tree/");
    payer(&["sync", src.to_str().unwrap(), &tree, "--delete"]);
    let up = tree_below(server, &bucket, "tree/");
    assert_eq!(up, local_tree(&src));
    let down = home.path().join("down");
    payer(&["cp", "-r", &tree, down.to_str().unwrap()]);
    assert_eq!(local_tree(&down), local_tree(&src));
    let back = home.path().join("back.bin");
    payer(&["cp", &url, back.to_str().unwrap()]);
    assert_eq!(std::fs::read(&back).unwrap(), body);
    payer(&["cp", &url, &format!("s3://{bucket}/copy.bin")]);
    landed(server, &bucket, "copy.bin", &body);
    // A copy through ferry from another server (the same one, the source reached behind the
    // proxy): the source's requests agree to pay too.
    let crossed = format!("s3://{bucket}/crossed.bin");
    let from_behind = ["--source-endpoint-url", &behind.endpoint, "--request-payer"];
    let o = ferry(
        server,
        home.path(),
        &[&["cp", &url, &crossed][..], &from_behind].concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(refused(), Vec::<String>::new());
    landed(server, &bucket, "crossed.bin", &body);

    // An upload interrupted after its first part: `ferry resume`, as ferry's own message
    // says, agrees to pay again (the journal recorded it), with no flag.
    let resumed = format!("s3://{bucket}/resumed.bin");
    let child = start_upload(&behind, home.path(), &big, &resumed, &["--request-payer"]);
    let (code, stderr) = interrupt_after(child, 1);
    assert_eq!(code, Some(130), "{stderr}");
    // Listed only by agreeing to pay, with the journal that resumes it.
    let bucket_url = format!("s3://{bucket}");
    let ls = ["uploads", "ls", &bucket_url, "--json"];
    expect_exit(&ferry(&behind, home.path(), &ls), 1, "AccessDenied");
    proxy.reset(vec![]);
    let o = ferry(
        &behind,
        home.path(),
        &[&ls[..], &["--request-payer"]].concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let listed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(listed["key"], "resumed.bin", "{listed}");
    assert!(listed["journal"].is_string(), "{listed}");
    let o = ferry(&behind, home.path(), &["resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(refused(), Vec::<String>::new());
    landed(server, &bucket, "resumed.bin", &body);

    // One interrupted and given up: aborted by agreeing to pay, its journal with it.
    let dropped = format!("s3://{bucket}/dropped.bin");
    let child = start_upload(&behind, home.path(), &big, &dropped, &["--request-payer"]);
    let (code, stderr) = interrupt_after(child, 1);
    assert_eq!(code, Some(130), "{stderr}");
    let abort = ["uploads", "abort", &bucket_url, "--all", "--request-payer"];
    let o = ferry(&behind, home.path(), &abort);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("aborted: "),
        "{}",
        text(&o)
    );
    assert_eq!(refused(), Vec::<String>::new());
    assert!(boto3_uploads(server, &bucket).is_empty());
    expect_exit(
        &ferry(&behind, home.path(), &["resume"]),
        2,
        "no interrupted upload or copy",
    );
}

#[test]
fn a_plan_in_a_requester_pays_bucket_agrees_to_pay_at_every_step() {
    let (server, _client, bucket) = seaweed_bucket("payer-plan");
    let (proxy, behind) = refusing(server, |p| p.set_requester_pays(true));
    let home = tempfile::tempdir().unwrap();
    let (big, body) = big_file(home.path(), 59);
    let (file, url) = (big.to_str().unwrap(), format!("s3://{bucket}/big.bin"));
    let plan = ["plan", file, &url, "--shards", "2", "--part-size", "5MiB"];

    // Not agreeing: refused, nothing created.
    expect_exit(&ferry(&behind, home.path(), &plan), 1, "AccessDenied");
    assert!(boto3_uploads(server, &bucket).is_empty());
    proxy.reset(vec![]);

    // Agreeing: the plan, each worker, the listing that finds the plan beside its upload,
    // and the finish; every request carries it (any other would be refused).
    let payer = |args: &[&str]| {
        let o = ferry(&behind, home.path(), &[args, &["--request-payer"]].concat());
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let at = payer(&plan);
    for i in 0..2 {
        payer(&[
            "cp",
            file,
            &url,
            "--plan",
            &at,
            "--shard",
            &format!("{i}/2"),
        ]);
    }
    let listed = payer(&["uploads", "ls", &format!("s3://{bucket}"), "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed["plan"], at.as_str(), "{listed}");
    payer(&["finish", &at]);
    assert_eq!(unpaid(&proxy), Vec::<String>::new());
    landed(server, &bucket, "big.bin", &body);
    let left: Vec<String> = tree_below(server, &bucket, "").into_keys().collect();
    assert_eq!(left, ["big.bin"], "the plan and its records are gone");
}

#[test]
fn an_upload_expecting_another_owner_is_refused_before_it_writes() {
    let (server, _client, bucket) = seaweed_bucket("owner");
    let (proxy, behind) = refusing(server, |p| p.set_bucket_owner(Some("111122223333")));
    let home = tempfile::tempdir().unwrap();
    let (big, body) = big_file(home.path(), 53);
    let (file, url) = (big.to_str().unwrap(), format!("s3://{bucket}/big.bin"));
    let owner = |account| ["--expected-bucket-owner", account, "--part-size", "5MiB"];

    // A mistyped account: the first request is refused, nothing is left.
    let mut args = vec!["cp", file, &url];
    args.extend(owner("999999999999"));
    let o = ferry(&behind, home.path(), &args);
    expect_exit(&o, 1, "AccessDenied");
    expect_exit(&o, 1, "the bucket may not be owned by account 999999999999");
    assert!(boto3_uploads(server, &bucket).is_empty());
    let listed = ferry_testkit::boto3(
        server,
        "print(json.dumps(s3.list_objects_v2(Bucket=sys.argv[1]).get('KeyCount', 0)))",
        &[&bucket],
    )
    .unwrap();
    assert_eq!(listed, 0);
    proxy.reset(vec![]);
    // The owner's account: every request carries it and is taken; down as well.
    let mut args = vec!["cp", file, &url];
    args.extend(owner("111122223333"));
    let o = ferry(&behind, home.path(), &args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let back = home.path().join("back.bin");
    let o = ferry(
        &behind,
        home.path(),
        &[
            "cp",
            &url,
            back.to_str().unwrap(),
            "--expected-bucket-owner",
            "111122223333",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(std::fs::read(&back).unwrap(), body);
    let refused: Vec<_> = proxy
        .log()
        .into_iter()
        .filter(|l| l.contains("refused"))
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
}

/// SeaweedFS behind the fault proxy, set by `terms` to refuse as S3 does what does not meet
/// a bucket's terms; `ferry` goes through the second.
fn refusing(server: &TestServer, terms: impl FnOnce(&HoldProxy)) -> (HoldProxy, TestServer) {
    let proxy = HoldProxy::start(&server.endpoint, vec![]).unwrap();
    terms(&proxy);
    let behind = proxy.server(server);
    (proxy, behind)
}

/// A 12 MiB file of pattern `seed` in `home` (three parts of 5 MiB), and its bytes.
fn big_file(home: &Path, seed: u64) -> (std::path::PathBuf, Vec<u8>) {
    crate::written(home, "big.bin", 12 << 20, seed)
}

/// The requests the proxy refused for not agreeing to pay.
fn unpaid(proxy: &HoldProxy) -> Vec<String> {
    proxy
        .log()
        .into_iter()
        .filter(|l| l.ends_with("requester pays, not agreed"))
        .collect()
}

/// Asserts that `key` holds `body`, as boto3 reads it straight from the server, and that no
/// multipart upload is left in `bucket`.
fn landed(server: &TestServer, bucket: &str, key: &str, body: &[u8]) {
    assert_eq!(
        boto3_object(server, bucket, key)["sha256"],
        sha256_hex(body),
        "{key}"
    );
    assert!(
        boto3_uploads(server, bucket).is_empty(),
        "an upload was left"
    );
}

/// The objects under `prefix`, as boto3 reads them, keyed by their path below it (as
/// [`local_tree`] keys a folder's files).
fn tree_below(server: &TestServer, bucket: &str, prefix: &str) -> BTreeMap<String, String> {
    boto3_tree(server, bucket, prefix)
        .into_iter()
        .map(|(k, v)| (k[prefix.len()..].to_string(), v))
        .collect()
}
