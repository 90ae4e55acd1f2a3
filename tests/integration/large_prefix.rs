//! A few paths into or out of a prefix of many objects, on SeaweedFS, every request seen by
//! the proxy and what was written read back by boto3. `ferry sync --no-traverse`: the
//! destination prefix (of 300 objects besides) is never listed; each file is looked up alone
//! (a HeadObject), and only what is missing or differs is sent, up, down and between
//! prefixes; with --delete or --track-renames it is refused. `--files-from` out of a prefix:
//! each named key is asked for alone, not the prefix listed, up to 1,000 of them (past 32, once
//! a first page has settled those it spans). A sync up or between prefixes that deletes
//! nothing lists past a destination folder of 1,500 objects the source lacks. `rm -r` and
//! `ls -r` with a list of paths list from one name to the next.

use std::time::{Duration, SystemTime};

use ferry_s3::ObjectClient as _;

use crate::sync::{gets, sync, sync_seen, tree, writes};
use crate::{
    boto3_keys, boto3_object, data, expect_exit, seaweed_bucket, sha256_hex, stdout, stored, text,
};

/// Whether the proxy saw a listing of the objects under `prefix`.
fn listed(proxy: &ferry_testkit::HoldProxy, prefix: &str) -> bool {
    let asked = [prefix.to_string(), prefix.replace('/', "%2F")].map(|p| format!("prefix={p}"));
    proxy
        .log()
        .iter()
        .any(|l| l.contains("list-type") && asked.iter().any(|a| l.contains(a.as_str())))
}

/// The HeadObjects the proxy saw, once it is asserted that `prefix` was not listed.
fn heads_alone(proxy: &ferry_testkit::HoldProxy, prefix: &str) -> usize {
    assert!(
        !listed(proxy, prefix),
        "{prefix} was listed: {:?}",
        proxy.log()
    );
    proxy.log().iter().filter(|l| l.starts_with("HEAD")).count()
}

#[test]
fn a_sync_that_does_not_list_looks_up_each_path_and_sends_only_what_differs() {
    let (server, client, bucket) = seaweed_bucket("sync-no-traverse");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    tree(&src, &[("same.txt", 1_000), ("d/changed.bin", 70_000)]);
    let (s, p) = (src.to_str().unwrap(), format!("s3://{bucket}/p/"));
    let o = sync(server, home.path(), &[s, &p]);
    assert!(o.status.success(), "{}", text(&o));
    // The prefix holds far more than the folder: 300 objects, and one the folder lacks.
    stored(&client, &bucket, &["p/only-there.txt"], ("p/o", 300));
    // Changed at its size (and dated later than its object), and a new file.
    let changed = data(70_000, 41);
    std::fs::write(src.join("d/changed.bin"), &changed).unwrap();
    let later = SystemTime::now() + Duration::from_secs(60);
    crate::mtime::set_mtime(&src.join("d/changed.bin"), later);
    let fresh = data(5_000, 42);
    std::fs::write(src.join("new.txt"), &fresh).unwrap();
    let before = boto3_keys(server, &bucket);
    assert_eq!(before.len(), 303);

    let (o, proxy) = sync_seen(server, home.path(), &[s, &p, "--no-traverse", "-v"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = stdout(&o);
    assert!(out.contains("2 uploaded"), "{}", text(&o));
    assert!(out.contains("1 unchanged"), "{}", text(&o));
    assert!(
        out.contains(&format!("skip: {s}/same.txt = {p}same.txt")),
        "{out}"
    );
    // One each, and a second for the changed file, whose object is older than it (its
    // stored mtime is asked for).
    assert_eq!(heads_alone(&proxy, "p/"), 4, "{:?}", proxy.log());
    let mut put: Vec<_> = writes(&proxy);
    put.sort();
    assert_eq!(put.len(), 2, "{put:?}");
    assert!(put[0].contains("/p/d/changed.bin"), "{put:?}");
    assert!(put[1].contains("/p/new.txt"), "{put:?}");
    for (key, body) in [("p/d/changed.bin", &changed), ("p/new.txt", &fresh)] {
        assert_eq!(
            boto3_object(server, &bucket, key)["sha256"],
            sha256_hex(body)
        );
    }
    let mut after = before.clone();
    after.push("p/new.txt".into());
    after.sort();
    assert_eq!(
        boto3_keys(server, &bucket),
        after,
        "what only the prefix held stays"
    );

    // Again: nothing to send, and still no listing.
    let (o, proxy) = sync_seen(server, home.path(), &[s, &p, "--no-traverse"]);
    assert!(stdout(&o).contains("0 uploaded"), "{}", text(&o));
    assert!(stdout(&o).contains("3 unchanged"), "{}", text(&o));
    assert!(writes(&proxy).is_empty() && !listed(&proxy, "p/"));

    // Deleting, and tracking renames, need what only the destination holds.
    for flag in ["--delete", "--track-renames"] {
        let o = sync(server, home.path(), &[s, &p, "--no-traverse", flag]);
        expect_exit(&o, 2, "--no-traverse does not list it");
    }

    // Between prefixes: an object of the copy changed by another client is copied again.
    let q = format!("s3://{bucket}/q/");
    let o = sync(server, home.path(), &[&p, &q, "--no-traverse"]);
    assert!(stdout(&o).contains("304 copied"), "{}", text(&o));
    let other = crate::put(&bucket, "q/new.txt", data(5_000, 43));
    crate::rt().block_on(client.put_object(other)).unwrap();
    let (o, proxy) = sync_seen(
        server,
        home.path(),
        &[&p, &q, "--no-traverse", "--checksum"],
    );
    assert!(stdout(&o).contains("1 copied"), "{}", text(&o));
    assert!(stdout(&o).contains("303 unchanged"), "{}", text(&o));
    assert!(!listed(&proxy, "q/"), "the destination was listed");
    assert_eq!(
        boto3_object(server, &bucket, "q/new.txt")["sha256"],
        sha256_hex(&fresh)
    );

    // Down, into a folder with one file changed since and one missing: those two come.
    let down = home.path().join("down");
    let o = sync(server, home.path(), &[&p, down.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    std::fs::write(down.join("same.txt"), b"edited here").unwrap();
    std::fs::remove_file(down.join("new.txt")).unwrap();
    let (o, proxy) = sync_seen(
        server,
        home.path(),
        &[&p, down.to_str().unwrap(), "--no-traverse"],
    );
    assert!(stdout(&o).contains("2 downloaded"), "{}", text(&o));
    assert!(stdout(&o).contains("302 unchanged"), "{}", text(&o));
    assert_eq!(gets(&proxy).len(), 2, "{:?}", gets(&proxy));
    assert_eq!(std::fs::read(down.join("new.txt")).unwrap(), fresh);
    assert_eq!(
        std::fs::read(down.join("same.txt")).unwrap(),
        data(1_000, 0)
    );
}

#[test]
fn a_short_list_of_paths_out_of_a_prefix_asks_for_each_rather_than_list_it() {
    let (server, client, bucket) = seaweed_bucket("files-from-asked");
    stored(&client, &bucket, &["p/a.txt", "p/d/b.txt"], ("p/o", 300));
    let home = tempfile::tempdir().unwrap();
    let list = home.path().join("list.txt");
    std::fs::write(&list, "a.txt\nd/b.txt\nmissing.txt\n").unwrap();
    let (p, l) = (format!("s3://{bucket}/p/"), list.to_str().unwrap());
    let down = home.path().join("down");
    let args = ["cp", "-r", &p, down.to_str().unwrap(), "--files-from", l];
    let (o, proxy) = crate::ferry_seen(server, home.path(), &args);
    expect_exit(
        &o,
        1,
        "\"missing.txt\" is named in the list of paths to take",
    );
    assert_eq!(heads_alone(&proxy, "p/"), 3, "{:?}", proxy.log());
    assert_eq!(std::fs::read(down.join("a.txt")).unwrap(), b"p/a.txt");
    assert_eq!(std::fs::read(down.join("d/b.txt")).unwrap(), b"p/d/b.txt");
    assert_eq!(std::fs::read_dir(&down).unwrap().count(), 2);

    // Between prefixes, in a sync: the same, and the destination listed as usual.
    std::fs::write(&list, "a.txt\nd/b.txt\n").unwrap();
    let q = format!("s3://{bucket}/q/");
    let (o, proxy) = crate::ferry_seen(server, home.path(), &["sync", &p, &q, "--files-from", l]);
    assert!(stdout(&o).contains("2 copied"), "{}", text(&o));
    assert!(
        !listed(&proxy, "p/") && listed(&proxy, "q/"),
        "{:?}",
        proxy.log()
    );
    assert_eq!(
        boto3_keys(server, &bucket)
            .iter()
            .filter(|k| k.starts_with("q/"))
            .count(),
        2
    );

    // More paths than a round of HeadObjects: a page is listed first, which here holds the
    // whole prefix and settles every name, there or not.
    let forty: String = (0..38).map(|i| format!("o{:04}\n", i * 7)).collect();
    std::fs::write(&list, forty + "gone1\ngone2\n").unwrap();
    let down = home.path().join("forty");
    let args = ["cp", "-r", &p, down.to_str().unwrap(), "--files-from", l];
    let (o, proxy) = crate::ferry_seen(server, home.path(), &args);
    expect_exit(&o, 1, "\"gone2\" is named in the list of paths to take");
    assert_eq!(listings(&proxy).len(), 1, "{:?}", proxy.log());
    assert!(!proxy.log().iter().any(|l| l.starts_with("HEAD")));
    assert_eq!(std::fs::read_dir(&down).unwrap().count(), 38);
    assert_eq!(std::fs::read(down.join("o0259")).unwrap(), b"");

    // A list of more than 1,000 paths: the prefix is listed, once.
    let many: String = (0..1_001).map(|i| format!("o{i:04}\n")).collect();
    std::fs::write(&list, many).unwrap();
    let (o, proxy) = crate::ferry_seen(server, home.path(), &["sync", &p, &q, "--files-from", l]);
    assert!(stdout(&o).contains("300 copied"), "{}", text(&o));
    assert!(listed(&proxy, "p/"), "the prefix was not listed");
}

/// The last word of each line of `out`: the keys `ls` shows.
fn last_words(out: &str) -> Vec<String> {
    let last = |l: &str| l.rsplit(' ').next().unwrap_or_default().to_string();
    out.lines().map(last).collect()
}

/// The ListObjectsV2 requests the proxy saw.
fn listings(proxy: &ferry_testkit::HoldProxy) -> Vec<String> {
    let log = proxy.log().into_iter();
    log.filter(|l| l.contains("list-type")).collect()
}

/// A sync up that deletes nothing lists past a folder only the destination holds: the page
/// that ends inside it is followed by one that starts after it, which still finds what comes
/// next (a file the same on both sides, not sent again). With --delete it lists everything,
/// and the folder goes. Between prefixes, the same.
#[test]
fn a_sync_up_lists_past_a_folder_only_the_destination_holds() {
    let (server, client, bucket) = seaweed_bucket("sync-pass-over");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    // old0.txt comes after every key below old/ (`0` after `/`).
    tree(
        &src,
        &[("a.txt", 1_000), ("new/x", 2_000), ("old0.txt", 3_000)],
    );
    let (s, p) = (src.to_str().unwrap(), format!("s3://{bucket}/p/"));
    let o = sync(server, home.path(), &[s, &p]);
    assert!(o.status.success(), "{}", text(&o));
    stored(&client, &bucket, &[], ("p/old/o", 1_500));
    let fresh = data(4_000, 7);
    std::fs::write(src.join("new/y"), &fresh).unwrap();

    let (o, proxy) = sync_seen(server, home.path(), &[s, &p, "-v"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(stdout(&o).contains("1 uploaded"), "{}", text(&o));
    assert!(stdout(&o).contains("3 unchanged"), "{}", text(&o));
    assert!(stdout(&o).contains(&format!("skip: {s}/old0.txt = {p}old0.txt")));
    let listed = listings(&proxy);
    assert_eq!(listed.len(), 2, "{listed:?}");
    // The first page ends inside old/: the second starts after it, not where the first ended.
    let jump = format!("start-after=p%2Fold%2F{}", "%F4%8F%BF%BF");
    assert!(
        listed[1].contains(&jump) && !listed[1].contains("continuation-token"),
        "{listed:?}"
    );
    let put = writes(&proxy);
    assert!(put.len() == 1 && put[0].contains("/p/new/y"), "{put:?}");
    assert_eq!(
        boto3_object(server, &bucket, "p/new/y")["sha256"],
        sha256_hex(&fresh)
    );

    // Deleting needs what only the destination holds: all of it is listed, and old/ goes.
    let (o, proxy) = sync_seen(server, home.path(), &[s, &p, "--delete"]);
    assert!(stdout(&o).contains("1500 deleted"), "{}", text(&o));
    let listed = listings(&proxy);
    assert!(
        listed.iter().all(|l| !l.contains("start-after")),
        "{listed:?}"
    );
    let keys = ["p/a.txt", "p/new/x", "p/new/y", "p/old0.txt"];
    assert_eq!(boto3_keys(server, &bucket), keys);

    // Between prefixes: the source is asked about old/ (a listing of one key), and the
    // destination's goes on after it, where it finds what was copied the first time.
    stored(&client, &bucket, &[], ("q/old/o", 1_500));
    let q = format!("s3://{bucket}/q/");
    let o = sync(server, home.path(), &[&p, &q]);
    assert!(stdout(&o).contains("4 copied"), "{}", text(&o));
    let (o, proxy) = sync_seen(server, home.path(), &[&p, &q]);
    assert!(stdout(&o).contains("4 unchanged"), "{}", text(&o));
    assert!(writes(&proxy).is_empty(), "{:?}", writes(&proxy));
    let listed = listings(&proxy);
    let asked = |l: &&String| l.contains("prefix=p%2Fold%2F") && l.contains("max-keys=1");
    assert_eq!(listed.iter().filter(asked).count(), 1, "{listed:?}");
    let jump = format!("start-after=q%2Fold%2F{}", "%F4%8F%BF%BF");
    assert!(listed.iter().any(|l| l.contains(&jump)), "{listed:?}");
    let held = boto3_keys(server, &bucket);
    assert_eq!(held.iter().filter(|k| k.starts_with("q/")).count(), 1_504);
}

/// `rm -r` and `ls -r` with a list of paths list the prefix from one name to the next (as a
/// list longer than is asked for alone is listed by `cp -r` and `sync`): three names out of
/// 2,500 objects take three pages, each starting just before its name.
#[test]
fn a_list_of_paths_is_listed_from_one_name_to_the_next() {
    let (server, client, bucket) = seaweed_bucket("files-from-guided");
    stored(&client, &bucket, &[], ("p/o", 2_500));
    let home = tempfile::tempdir().unwrap();
    let list = home.path().join("list.txt");
    std::fs::write(&list, "o0010\no1200\no2499\no9999\n").unwrap();
    let p = format!("s3://{bucket}/p/");
    // ls -r the same way: the three that are there, in three listings; below a prefix that
    // is no folder (the names still below p/), the one it holds, in one.
    let l = list.to_str().unwrap();
    let (o, proxy) = crate::ferry_seen(server, home.path(), &["ls", "-r", &p, "--files-from", l]);
    assert!(o.status.success(), "{}", text(&o));
    let shown = last_words(&stdout(&o));
    assert_eq!(shown, ["p/o0010", "p/o1200", "p/o2499"], "{}", text(&o));
    let listed = listings(&proxy);
    assert!(
        listed.len() == 3 && listed[1].contains("start-after=p%2Fo120"),
        "{listed:?}"
    );
    let o12 = format!("s3://{bucket}/p/o12");
    let (o, proxy) = crate::ferry_seen(server, home.path(), &["ls", "-r", &o12, "--files-from", l]);
    let shown = last_words(&stdout(&o));
    assert_eq!(shown, ["p/o1200"], "{}", text(&o));
    assert_eq!(listings(&proxy).len(), 1, "{:?}", listings(&proxy));
    let args = ["rm", "-r", &p, "--files-from", list.to_str().unwrap()];
    let (o, proxy) = crate::ferry_seen(server, home.path(), &args);
    assert!(o.status.success(), "{}", text(&o));
    let listed = listings(&proxy);
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(listed[0].contains("start-after=p%2Fo001"), "{listed:?}");
    assert!(listed[1].contains("start-after=p%2Fo120"), "{listed:?}");
    assert!(listed[2].contains("start-after=p%2Fo249"), "{listed:?}");
    let left = boto3_keys(server, &bucket);
    assert_eq!(left.len(), 2_497);
    for gone in ["p/o0010", "p/o1200", "p/o2499"] {
        assert!(!left.iter().any(|k| k == gone), "{gone} is still there");
    }
}
