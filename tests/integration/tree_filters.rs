//! Choosing a tree's paths: `--exclude`, `--include` (and their `-from` files) and `--shard`
//! up, down and across (and the way to them from a wildcard, which ferry takes literally),
//! sizes and times (`--min-size`, `--max-size`, `--max-age`, `--min-age`), `--dry-run`
//! listing what a tree would move while moving nothing, and links not followed.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, SystemTime};

use ferry_testkit::TestServer;

use crate::tree::{boto3_tree, local_tree, make_tree};
use crate::{copied_tree, expect_exit, ferry, seaweed_bucket, text};

/// Of the tree `all` (path to SHA-256), the paths `keep`, each under `prefix`.
fn under(all: &BTreeMap<String, String>, prefix: &str, keep: &[&str]) -> BTreeMap<String, String> {
    let keep = keep
        .iter()
        .map(|k| (format!("{prefix}{k}"), all[*k].clone()));
    keep.collect()
}

#[test]
fn sizes_and_times_choose_a_trees_entries_up_down_in_a_sync_and_for_rm() {
    let (server, _client, bucket) = seaweed_bucket("tree-bounds");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    let names = ["small.txt", "big.bin", "old/small.txt", "old/big.bin"];
    make_tree(
        &src,
        &names.map(|n| (n, if n.ends_with(".bin") { 20_000 } else { 100 })),
    );
    let ten_days_ago = SystemTime::now() - Duration::from_secs(10 * 86_400);
    for old in ["old/small.txt", "old/big.bin"] {
        let f = std::fs::File::options().write(true).open(src.join(old));
        f.unwrap().set_modified(ten_days_ago).unwrap();
    }
    let all = local_tree(&src);
    let under = |prefix: &str, keep: &[&str]| under(&all, prefix, keep);
    let run = |args: &[&str]| {
        let o = ferry(server, home.path(), &[args, &["--no-progress"]].concat());
        assert!(o.status.success(), "{}", text(&o));
        o
    };
    let s = src.to_str().unwrap();

    // Up: by size (both ends included), by the file's mtime, and both at once.
    run(&[
        "cp",
        "-r",
        s,
        &format!("s3://{bucket}/big/"),
        "--min-size",
        "20000",
    ]);
    let want = under("big/", &["big.bin", "old/big.bin"]);
    assert_eq!(boto3_tree(server, &bucket, "big/"), want);
    let recent_small = format!("s3://{bucket}/recent-small/");
    run(&[
        "cp",
        "-r",
        s,
        &recent_small,
        "--max-age",
        "2d",
        "--max-size",
        "1KiB",
    ]);
    let want = under("recent-small/", &["small.txt"]);
    assert_eq!(boto3_tree(server, &bucket, "recent-small/"), want);
    run(&[
        "cp",
        "-r",
        s,
        &format!("s3://{bucket}/old/"),
        "--min-age",
        "2d",
    ]);
    let want = under("old/", &["old/big.bin", "old/small.txt"]);
    assert_eq!(boto3_tree(server, &bucket, "old/"), want);

    // A listing, filtered as a tree is: by the key below the prefix's folder and the bounds.
    let listed = |args: &[&str]| -> Vec<String> {
        let o = ferry(server, home.path(), &[&["ls", "-r"], args].concat());
        assert!(o.status.success(), "{}", text(&o));
        let key = |l: &str| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["key"].as_str().unwrap().to_string()
        };
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(key)
            .collect()
    };
    let bucket_url = format!("s3://{bucket}/");
    let big = listed(&[
        &bucket_url,
        "--min-size",
        "20000",
        "--exclude",
        "*/old/*",
        "--json",
    ]);
    assert_eq!(big, ["big/big.bin"]);
    let old_small = listed(&[
        &format!("s3://{bucket}/old/"),
        "--max-size",
        "100",
        "--json",
    ]);
    assert_eq!(old_small, ["old/old/small.txt"]);
    let o = ferry(server, home.path(), &["ls", &bucket_url, "--min-size", "1"]);
    expect_exit(
        &o,
        2,
        "--min-size picks among the objects under a prefix: add -r",
    );

    // Down and for rm, by the objects' Last-Modified (whole seconds): `then` falls between
    // two uploads.
    let t = format!("s3://{bucket}/t/");
    run(&[
        "cp",
        &src.join("small.txt").to_string_lossy(),
        &format!("{t}first"),
    ]);
    std::thread::sleep(Duration::from_millis(1500));
    let now = time::OffsetDateTime::now_utc();
    let then = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    run(&[
        "cp",
        &src.join("big.bin").to_string_lossy(),
        &format!("{t}second"),
    ]);
    let down = home.path().join("down");
    run(&["cp", "-r", &t, down.to_str().unwrap(), "--max-age", &then]);
    assert_eq!(
        local_tree(&down).into_keys().collect::<Vec<_>>(),
        ["second"]
    );
    run(&["rm", "-r", &t, "--min-age", &then]);
    let left: Vec<String> = boto3_tree(server, &bucket, "t/").into_keys().collect();
    assert_eq!(left, ["t/second"]);

    // A sync compares and deletes only in the bounds. The old file's stale object stays
    // (its file is out of bounds, so its path is not the destination's alone); an object
    // whose file is gone is deleted; the recent files go up.
    let synced = format!("s3://{bucket}/synced/");
    run(&[
        "cp",
        &src.join("big.bin").to_string_lossy(),
        &format!("{synced}old/small.txt"),
    ]);
    run(&[
        "cp",
        &src.join("small.txt").to_string_lossy(),
        &format!("{synced}gone.txt"),
    ]);
    let stale = all["big.bin"].clone();
    run(&["sync", s, &synced, "--max-age", "2d", "--delete"]);
    let mut want = under("synced/", &["big.bin", "small.txt"]);
    want.insert("synced/old/small.txt".into(), stale.clone());
    assert_eq!(boto3_tree(server, &bucket, "synced/"), want);
    // Down, a file out of bounds is not deleted either: only the recent one that the
    // prefix no longer holds.
    let back = home.path().join("back");
    run(&["cp", "-r", &synced, back.to_str().unwrap()]);
    std::fs::write(back.join("extra.txt"), b"recent, the prefix's no longer").unwrap();
    std::fs::write(back.join("kept.txt"), b"old, out of bounds").unwrap();
    let f = std::fs::File::options()
        .write(true)
        .open(back.join("kept.txt"));
    f.unwrap().set_modified(ten_days_ago).unwrap();
    run(&[
        "sync",
        &synced,
        back.to_str().unwrap(),
        "--max-age",
        "2d",
        "--delete",
    ]);
    assert!(!back.join("extra.txt").exists() && back.join("kept.txt").exists());
    let kept: Vec<String> = local_tree(&back).into_keys().collect();
    assert_eq!(kept, ["big.bin", "kept.txt", "old/small.txt", "small.txt"]);

    // Bounds that nothing is within, a time to come, a bound where there is no tree to
    // choose in: bad input (exit 2), nothing sent or deleted.
    let d = format!("s3://{bucket}/d/");
    for (args, says) in [
        (
            &["cp", "-r", s, &d, "--min-size", "2M", "--max-size", "1M"][..],
            "nothing could",
        ),
        (
            &["cp", "-r", s, &d, "--max-age", "1d", "--min-age", "2d"],
            "no time is both",
        ),
        (
            &["cp", "-r", s, &d, "--max-age", "2999-01-01"],
            "still to come",
        ),
        (&["cp", "-r", s, &d, "--min-size", "lots"], "is not a size"),
        (
            &[
                "cp",
                &src.join("big.bin").to_string_lossy(),
                &d,
                "--min-size",
                "1",
            ],
            "give -r",
        ),
        (
            &["rm", &format!("{synced}big.bin"), "--min-age", "1d"],
            "add -r",
        ),
    ] {
        expect_exit(&ferry(server, home.path(), args), 2, says);
    }
    assert!(boto3_tree(server, &bucket, "d/").is_empty());
    assert!(boto3_tree(server, &bucket, "synced/").contains_key("synced/big.bin"));
}

#[test]
fn a_list_of_paths_chooses_a_trees_entries_and_a_copy_fails_those_not_there() {
    let (server, _client, bucket) = seaweed_bucket("tree-listed");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    let names = [
        "a.txt",
        "deep/b.txt",
        "deep/er/c.txt",
        "other/d.txt",
        "skip.log",
    ];
    make_tree(&src, &names.map(|n| (n, 100)));
    let all = local_tree(&src);
    let under = |prefix: &str, keep: &[&str]| under(&all, prefix, keep);
    let list = |name: &str, text: &str| {
        let p = home.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let s = src.to_str().unwrap();

    // Up: comments, blank lines, a leading / or ./ are passed over; a path the globs leave
    // out is not sent, and not missing; a path that is not there fails, naming it, once the
    // others are sent.
    let named = list(
        "up.txt",
        "# what changed\n\n./a.txt\n/deep/er/c.txt\n  skip.log  \nmissing.txt\n",
    );
    let l = format!("s3://{bucket}/l/");
    let args = [
        "cp",
        "-r",
        s,
        &l,
        "--files-from",
        &named,
        "--exclude",
        "*.log",
    ];
    let o = ferry(server, home.path(), &args);
    expect_exit(&o, 1, "1 object failed");
    assert!(
        text(&o).contains("\"missing.txt\" is named in the list"),
        "{}",
        text(&o)
    );
    let want = under("l/", &["a.txt", "deep/er/c.txt"]);
    assert_eq!(boto3_tree(server, &bucket, "l/"), want);

    // Down, the list from stdin: only the keys it names.
    let all_url = format!("s3://{bucket}/all/");
    copied_tree(server, home.path(), s, &all_url);
    let down = home.path().join("down");
    let mut cmd = crate::ferry_command(server.env(), home.path());
    let args = [
        "cp",
        "-r",
        &all_url,
        down.to_str().unwrap(),
        "--files-from",
        "-",
    ];
    let o = crate::piped(cmd.args(args), b"deep/b.txt\nother/d.txt\n");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(local_tree(&down), under("", &["deep/b.txt", "other/d.txt"]));

    // A sync deletes only among the paths named: a file gone from the folder, its object
    // goes; an object whose path the list does not name stays.
    std::fs::remove_file(src.join("other/d.txt")).unwrap();
    let named = list("sync.txt", "a.txt\nother/d.txt\n");
    let args = ["sync", s, &all_url, "--files-from", &named, "--delete"];
    let o = ferry(server, home.path(), &args);
    assert!(o.status.success(), "{}", text(&o));
    let want = under(
        "all/",
        &["a.txt", "deep/b.txt", "deep/er/c.txt", "skip.log"],
    );
    assert_eq!(boto3_tree(server, &bucket, "all/"), want);

    // A list that names nothing, or cannot be read: bad input.
    let empty = list("empty.txt", "# nothing\n\n");
    for bad in [empty.as_str(), "/nonexistent/list.txt"] {
        let args = ["cp", "-r", s, &l, "--files-from", bad];
        expect_exit(&ferry(server, home.path(), &args), 2, "--files-from");
    }
}

#[test]
fn exclude_and_include_choose_a_trees_paths_up_down_and_across() {
    let (server, _client, bucket) = seaweed_bucket("tree-filters");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    let names = ["a/b.txt", "deep/z.log", "keep.txt", "keep/y.log", "x.log"];
    make_tree(&src, &names.map(|n| (n, 100)));
    let all = local_tree(&src);
    let under = |prefix: &str, keep: &[&str]| under(&all, prefix, keep);
    // `ferry cp -r FROM TO FLAGS…`, which must succeed.
    let cp_r = |from: &str, to: &str, flags: &[&str]| {
        let args = [&["cp", "-r", from, to, "--no-progress"], flags].concat();
        let o = ferry(server, home.path(), &args);
        assert!(o.status.success(), "{}", text(&o));
    };
    let (src_arg, all_url) = (src.to_str().unwrap(), format!("s3://{bucket}/all/"));

    // Up: the last glob that matches decides, and `*` crosses folders.
    let picked = format!("s3://{bucket}/picked/");
    cp_r(
        src_arg,
        &picked,
        &["--exclude", "*.log", "--include", "keep/*"],
    );
    let want = under("picked/", &["a/b.txt", "keep.txt", "keep/y.log"]);
    assert_eq!(boto3_tree(server, &bucket, "picked/"), want);
    // The same globs from files, each where its flag stands: comments and blank lines
    // passed over, a leading / the folder's own. The other order excludes what was included.
    let (excludes, includes) = (home.path().join("excludes"), home.path().join("includes"));
    std::fs::write(&excludes, "# build output\n\n  *.log\n; more\n").unwrap();
    std::fs::write(&includes, "/keep/*\n").unwrap();
    let (e, i) = (excludes.to_str().unwrap(), includes.to_str().unwrap());
    let from_files = format!("s3://{bucket}/from-files/");
    cp_r(
        src_arg,
        &from_files,
        &["--exclude-from", e, "--include-from", i],
    );
    let want = under("from-files/", &["a/b.txt", "keep.txt", "keep/y.log"]);
    assert_eq!(boto3_tree(server, &bucket, "from-files/"), want);
    let reordered = format!("s3://{bucket}/reordered/");
    cp_r(
        src_arg,
        &reordered,
        &["--include-from", i, "--exclude-from", e],
    );
    let want = under("reordered/", &["a/b.txt", "keep.txt"]);
    assert_eq!(boto3_tree(server, &bucket, "reordered/"), want);
    let missing = home.path().join("no-such-list");
    let args = ["cp", "-r", src_arg, &from_files, "--exclude-from"];
    let o = ferry(
        server,
        home.path(),
        &[&args[..], &[missing.to_str().unwrap()]].concat(),
    );
    expect_exit(&o, 2, "--exclude-from");

    // Down, filtered by the key below the prefix.
    cp_r(src_arg, &all_url, &[]);
    let down = home.path().join("down");
    cp_r(&all_url, down.to_str().unwrap(), &["--exclude", "*/*"]);
    assert_eq!(local_tree(&down), under("", &["keep.txt", "x.log"]));

    // Down in two shards: each takes its own objects, together all of them, each once.
    let mut seen = BTreeMap::new();
    for i in 0..2 {
        let d = home.path().join(format!("shard{i}"));
        cp_r(
            &all_url,
            d.to_str().unwrap(),
            &["--shard", &format!("{i}/2")],
        );
        let got = local_tree(&d);
        assert!(got.len() < all.len(), "shard {i} took everything: {got:?}");
        for (k, v) in got {
            assert!(seen.insert(k, v).is_none(), "a file came down twice");
        }
    }
    assert_eq!(seen, all);

    // Across, on the server, filtered by the key below the source prefix.
    let logs = format!("s3://{bucket}/logs/");
    cp_r(&all_url, &logs, &["--exclude", "*", "--include", "*.log"]);
    let want = under("logs/", &["deep/z.log", "keep/y.log", "x.log"]);
    assert_eq!(boto3_tree(server, &bucket, "logs/"), want);

    // A wildcard, as s5cmd takes one, names no object here; the note says how to pick by
    // pattern, and its command, run as printed, brings down what the pattern meant.
    let wild = format!("s3://{bucket}/all/*.log");
    let wanted = home.path().join("wanted");
    let o = ferry(
        server,
        home.path(),
        &["cp", &wild, wanted.to_str().unwrap()],
    );
    expect_exit(&o, 1, "does not exist");
    let o = run_noted(server, home.path(), &o, "and filter");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        local_tree(&wanted),
        under("", &["deep/z.log", "keep/y.log", "x.log"])
    );

    // The same for a listing, whose prefix needs no `*` to take what starts with it.
    let o = ferry(server, home.path(), &["ls", &format!("{all_url}ke*")]);
    expect_exit(&o, 1, "nothing under");
    let o = run_noted(server, home.path(), &o, "starts with");
    assert!(o.status.success(), "{}", text(&o));
    let listed = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        listed.contains("PRE keep/") && listed.contains(" keep.txt"),
        "{listed}"
    );

    // And a deletion: of keys named, where deleting one not there succeeds in S3, a
    // wildcard that names no object stops the run before anything is deleted.
    let logs_wild = format!("{all_url}*.log");
    let o = ferry(
        server,
        home.path(),
        &["rm", &format!("{all_url}keep.txt"), &logs_wild],
    );
    expect_exit(&o, 1, "no such object; nothing was deleted");
    assert_eq!(boto3_tree(server, &bucket, "all/"), under("all/", &names));
    let o = ferry(server, home.path(), &["rm", &logs_wild]);
    expect_exit(&o, 1, "no such object");
    let o = run_noted(server, home.path(), &o, "and filter");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        boto3_tree(server, &bucket, "all/"),
        under("all/", &["a/b.txt", "keep.txt"])
    );

    // One object has no paths to choose among: bad input, nothing sent.
    let one = src.join("keep.txt");
    let dst = format!("s3://{bucket}/one");
    let o = ferry(
        server,
        home.path(),
        &["cp", one.to_str().unwrap(), &dst, "--exclude", "*.log"],
    );
    expect_exit(&o, 2, "give -r");
    assert!(boto3_tree(server, &bucket, "one").is_empty());
}

#[test]
fn a_dry_run_lists_what_a_tree_would_move_and_moves_nothing() {
    let (server, _client, bucket) = seaweed_bucket("tree-dry");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    make_tree(&src, &[("a/b.txt", 10), ("c.log", 20), ("d/e.log", 30)]);
    let src_arg = src.to_str().unwrap();
    // `ferry cp -r FROM TO --dry-run FLAGS…`: its stdout, which must succeed.
    let dry = |from: &str, to: &str, flags: &[&str]| -> Vec<String> {
        let args = [&["cp", "-r", from, to, "--dry-run", "--no-progress"], flags].concat();
        let o = ferry(server, home.path(), &args);
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    };

    // Up: each file the filters let through, and nothing sent.
    let up = dry(
        src_arg,
        &format!("s3://{bucket}/p"),
        &["--exclude", "*.txt"],
    );
    let line = |f: &str| format!("(dry run) upload: {src_arg}/{f} to s3://{bucket}/p/{f}");
    assert_eq!(
        up,
        [
            line("c.log"),
            line("d/e.log"),
            "(dry run) upload: 2 objects, 50 bytes; nothing was sent".to_string()
        ]
    );
    assert!(boto3_tree(server, &bucket, "").is_empty());

    // Down and across, from what is there: nothing written, no folder made, no key copied.
    copied_tree(server, home.path(), src_arg, &format!("s3://{bucket}/p"));
    let before = boto3_tree(server, &bucket, "");
    let down = home.path().join("down");
    let lines = dry(
        &format!("s3://{bucket}/p/"),
        down.to_str().unwrap(),
        &["--exclude", "d/*"],
    );
    let down_arg = down.to_str().unwrap();
    assert_eq!(
        lines,
        [
            format!("(dry run) download: s3://{bucket}/p/a/b.txt to {down_arg}/a/b.txt"),
            format!("(dry run) download: s3://{bucket}/p/c.log to {down_arg}/c.log"),
            "(dry run) download: 2 objects, 30 bytes; nothing was written".to_string()
        ]
    );
    assert!(!down.exists());
    let lines = dry(
        &format!("s3://{bucket}/p"),
        &format!("s3://{bucket}/q"),
        &["--json", "--shard", "0/1"],
    );
    let events: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let copies: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["event"] == "sync")
        .map(|e| (e["key"].as_str().unwrap(), e["to"].as_str().unwrap()))
        .collect();
    let q = |f: &str| format!("s3://{bucket}/q/{f}");
    assert_eq!(
        copies,
        [
            ("q/a/b.txt", q("a/b.txt").as_str()),
            ("q/c.log", q("c.log").as_str()),
            ("q/d/e.log", q("d/e.log").as_str())
        ]
    );
    let summary = events.last().unwrap();
    assert_eq!(
        (&summary["objects"], &summary["bytes"], &summary["dry_run"]),
        (
            &serde_json::json!(3),
            &serde_json::json!(60),
            &serde_json::json!(true)
        )
    );
    assert_eq!(boto3_tree(server, &bucket, ""), before);

    // One object: the command names it; there is nothing to list.
    let o = ferry(
        server,
        home.path(),
        &["cp", &format!("s3://{bucket}/p/c.log"), "x", "--dry-run"],
    );
    expect_exit(&o, 2, "--dry-run lists what a tree would copy");
    assert!(!home.path().join("x").exists());
}

#[test]
fn links_not_followed_are_passed_over_up_and_in_a_sync() {
    use std::os::unix::fs::symlink;
    let (server, _client, bucket) = seaweed_bucket("tree-links");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    make_tree(&src, &[("a.txt", 100), ("d/f.txt", 200)]);
    // A link to a file, and one to a folder outside the tree: followed by default, a backup
    // of a home would send what they point at.
    let outside = home.path().join("outside");
    make_tree(&outside, &[("big.bin", 5000)]);
    symlink(src.join("a.txt"), src.join("b-link")).unwrap();
    symlink(&outside, src.join("c-out")).unwrap();
    let (src_arg, url) = (src.to_str().unwrap(), format!("s3://{bucket}/t/"));
    let o = ferry(
        server,
        home.path(),
        &["cp", "-r", src_arg, &url, "--no-follow-symlinks"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let keys: Vec<String> = boto3_tree(server, &bucket, "t/").into_keys().collect();
    assert_eq!(keys, ["t/a.txt", "t/d/f.txt"]);
    let said = String::from_utf8_lossy(&o.stderr);
    for link in ["b-link", "c-out"] {
        assert!(
            said.contains(&format!("{link}: a link, not followed")),
            "{said}"
        );
    }

    // Followed (the default), then a sync that does not follow them: their objects go with
    // --delete, as a file's that is gone; the files stay.
    copied_tree(server, home.path(), src_arg, &url);
    assert_eq!(boto3_tree(server, &bucket, "t/").len(), 4);
    let o = ferry(
        server,
        home.path(),
        &["sync", src_arg, &url, "--no-follow-symlinks", "--delete"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let keys: Vec<String> = boto3_tree(server, &bucket, "t/").into_keys().collect();
    assert_eq!(keys, ["t/a.txt", "t/d/f.txt"]);

    // Down there is no link to follow.
    let o = ferry(
        server,
        home.path(),
        &["cp", "-r", &url, "back", "--no-follow-symlinks"],
    );
    expect_exit(&o, 2, "--no-follow-symlinks is for a folder sent up");
}

/// Runs the ferry command a failure's wildcard note gives after `marker`, as printed (its
/// quotes taken off, as a shell would).
fn run_noted(server: &TestServer, home: &Path, o: &Output, marker: &str) -> Output {
    let said = String::from_utf8_lossy(&o.stderr).to_string();
    let (_, after) = said
        .split_once(marker)
        .unwrap_or_else(|| panic!("no note: {said}"));
    let (_, command) = after.split_once(": ferry ").expect("a command");
    let command = command.lines().next().unwrap();
    let command = command.split(" (").next().unwrap().trim();
    let args: Vec<&str> = command.split(' ').map(|a| a.trim_matches('\'')).collect();
    ferry(server, home, &args)
}

/// `--exclude-if-present NAME`: a folder walked that holds NAME is left out whole. Up, its
/// files are not sent; in a sync with --delete, what the prefix holds below it is kept
/// (rclone deletes it: rclone/rclone#4523), both ways; a check leaves it out; a run that
/// walks no folder refuses the flag.
#[test]
fn folders_holding_a_marker_are_left_out_and_a_sync_keeps_what_lies_below_them() {
    let (server, _client, bucket) = seaweed_bucket("tree-marker");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    make_tree(
        &src,
        &[
            ("a.txt", 100),
            ("cache/CACHEDIR.TAG", 43),
            ("cache/big.bin", 20_000),
            ("cache-x/ok.txt", 50),
            ("deep/keep.txt", 30),
            ("deep/sub/.nobackup", 1),
            ("deep/sub/x.bin", 4000),
        ],
    );
    let s = src.to_str().unwrap();
    let marks = [
        "--exclude-if-present",
        ".nobackup",
        "--exclude-if-present",
        "CACHEDIR.TAG",
    ];
    let run = |args: &[&str]| ferry(server, home.path(), &[args, &["--no-progress"]].concat());
    let ok = |args: &[&str]| {
        let o = run(args);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
        o
    };
    let all = local_tree(&src);
    let up = format!("s3://{bucket}/up/");
    ok(&[&["cp", "-r", s, &up][..], &marks].concat());
    let sent = under(&all, "up/", &["a.txt", "cache-x/ok.txt", "deep/keep.txt"]);
    assert_eq!(boto3_tree(server, &bucket, "up/"), sent);

    // A mirror made without the markers; then the folders change under them, a file
    // outside them goes, one comes.
    let m = format!("s3://{bucket}/m/");
    ok(&["sync", s, &m]);
    let mirrored = boto3_tree(server, &bucket, "m/");
    assert_eq!(mirrored.len(), 7);
    std::fs::remove_file(src.join("a.txt")).unwrap();
    std::fs::write(src.join("deep/sub/x.bin"), b"changed").unwrap();
    std::fs::write(src.join("cache/new.bin"), b"new").unwrap();
    std::fs::write(src.join("deep/new.txt"), b"new too").unwrap();
    ok(&[&["sync", s, &m, "--delete"][..], &marks].concat());
    let mut want = mirrored.clone();
    want.remove("m/a.txt");
    want.insert(
        "m/deep/new.txt".into(),
        local_tree(&src)["deep/new.txt"].clone(),
    );
    assert_eq!(boto3_tree(server, &bucket, "m/"), want);
    // A check weighs what is outside the marked folders only.
    ok(&[&["check", s, &m][..], &marks].concat());
    expect_exit(&run(&["check", s, &m]), 1, "differ");

    // Down: a marked folder of the destination keeps its own files, edited or not there.
    let dl = home.path().join("dl");
    ok(&["sync", &m, dl.to_str().unwrap()]);
    std::fs::write(dl.join("cache/big.bin"), b"edited here").unwrap();
    std::fs::write(dl.join("cache/mine.txt"), b"only here").unwrap();
    std::fs::write(dl.join("stray.txt"), b"goes").unwrap();
    let before = local_tree(&dl);
    ok(&[
        &["sync", &m, dl.to_str().unwrap(), "--delete"][..],
        &marks[2..],
    ]
    .concat());
    let mut want = before.clone();
    want.remove("stray.txt");
    assert_eq!(local_tree(&dl), want);

    // What walks no folder refuses it, as does a name that is no file's.
    let refused = [
        vec!["cp", "-r", &m, "dl2"],
        vec!["rm", "-r", &m],
        vec!["ls", "-r", &m],
        vec!["cp", "-r", s, &up, "--exclude-if-present", "a/b"],
    ];
    for args in refused {
        let o = ferry(server, home.path(), &[&args[..], &marks[..2]].concat());
        expect_exit(&o, 2, "");
        let said = String::from_utf8_lossy(&o.stderr);
        assert!(
            said.contains("walk") || said.contains("mark"),
            "{args:?}: {said}"
        );
    }
    assert!(!home.path().join("dl2").exists());
    assert_eq!(boto3_tree(server, &bucket, "m/").len(), 7);
}

/// `sync --delete --delete-excluded`: what the filters leave out goes from the destination
/// too (a glob's, a marked folder's, a bound's), never another shard's; down, a local
/// file a glob leaves out goes and a marked local folder stays; without --delete, exit 2.
#[test]
fn delete_excluded_deletes_what_the_filters_leave_out_but_not_another_shards() {
    let (server, _client, bucket) = seaweed_bucket("tree-delexcl");
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    // Of shards 0, 0, 1, 1, 1 and 0 of two (CRC-32 modulo 2).
    let logs = [
        "a.log",
        "b.log",
        "app.log",
        "web-1.log",
        "x/y.log",
        "db.log",
    ];
    let mut files: Vec<(&str, usize)> = logs.iter().map(|l| (*l, 10)).collect();
    files.extend([
        ("keep.txt", 100),
        ("notes.txt", 100),
        ("old.txt", 100),
        ("cache/CACHEDIR.TAG", 43),
        ("cache/c.bin", 2000),
    ]);
    make_tree(&src, &files);
    let ten_days_ago = SystemTime::now() - Duration::from_secs(10 * 86_400);
    crate::mtime::set_mtime(&src.join("old.txt"), ten_days_ago);
    let (s, m) = (src.to_str().unwrap(), format!("s3://{bucket}/m/"));
    let run = |args: &[&str]| ferry(server, home.path(), &[args, &["--no-progress"]].concat());
    let ok = |args: &[&str]| {
        let o = run(args);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
        o
    };
    ok(&["sync", s, &m]);
    let mirrored = boto3_tree(server, &bucket, "m/");
    assert_eq!(mirrored.len(), files.len());
    let has_log =
        |tree: &BTreeMap<String, String>| tree.keys().filter(|k| k.ends_with(".log")).count();

    // Without it, excluded paths stay.
    ok(&["sync", s, &m, "--delete", "--exclude", "*.log"]);
    assert_eq!(boto3_tree(server, &bucket, "m/"), mirrored);
    // One shard of two deletes its own .log objects only; the other, the rest.
    let wide = ["--delete", "--delete-excluded", "--exclude", "*.log"];
    ok(&[&["sync", s, &m, "--shard", "0/2"][..], &wide].concat());
    let after_one = has_log(&boto3_tree(server, &bucket, "m/"));
    assert_eq!(after_one, 3, "shard 1's three are left");
    ok(&[&["sync", s, &m, "--shard", "1/2"][..], &wide].concat());
    assert_eq!(has_log(&boto3_tree(server, &bucket, "m/")), 0);
    // A marked folder's objects and an out-of-bounds file's object go too; a dry run first
    // says so and deletes nothing.
    let marked = [
        "--exclude",
        "*.log",
        "--exclude-if-present",
        "CACHEDIR.TAG",
        "--max-age",
        "5d",
        "--delete",
        "--delete-excluded",
    ];
    let dry = ok(&[&["sync", s, &m, "--dry-run"][..], &marked].concat());
    let said = String::from_utf8_lossy(&dry.stdout);
    assert!(
        said.contains("cache/c.bin") && said.contains("old.txt"),
        "{said}"
    );
    assert_eq!(
        boto3_tree(server, &bucket, "m/").len(),
        files.len() - logs.len()
    );
    ok(&[&["sync", s, &m][..], &marked].concat());
    let want = under(&mirrored, "", &["m/keep.txt", "m/notes.txt"]);
    assert_eq!(boto3_tree(server, &bucket, "m/"), want);

    // Down: a local file a glob leaves out goes; a marked local folder stays as it is.
    let dl = home.path().join("dl");
    make_tree(
        &dl,
        &[
            ("x.tmp", 5),
            ("keep.txt", 7),
            ("mine/.nobackup", 1),
            ("mine/y.tmp", 3),
        ],
    );
    let d = dl.to_str().unwrap();
    ok(&[
        "sync",
        &m,
        d,
        "--delete",
        "--delete-excluded",
        "--exclude",
        "*.tmp",
        "--exclude-if-present",
        ".nobackup",
    ]);
    let got: Vec<String> = local_tree(&dl).into_keys().collect();
    assert_eq!(
        got,
        ["keep.txt", "mine/.nobackup", "mine/y.tmp", "notes.txt"]
    );
    assert_eq!(local_tree(&dl)["keep.txt"], want["m/keep.txt"]);

    expect_exit(&run(&["sync", s, &m, "--delete-excluded"]), 2, "--delete");
}
