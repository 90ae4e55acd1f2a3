//! Trees: how many small objects run at once, what a tree's totals say while it finds
//! objects, a watcher that loses none of its events (a tree's objects, one object's ranges),
//! which failure stops it, what a dry run and a tree of some entries send, and which
//! prefixes a copy of one refuses.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_objects_of_a_tree_run_many_at_a_time() {
    let s3 = memory_s3(20);
    let dir = tempfile::tempdir().unwrap();
    for i in 0..40 {
        let sub = dir.path().join(format!("d{}", i % 4));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("f{i}")), data(1024, i as u8)).unwrap();
    }
    let m = manager(
        Arc::new(s3.clone()),
        ManagerConfig {
            max_requests: 16,
            ..Default::default()
        },
    );
    let o = m
        .upload_tree(TreeUpload::new(dir.path(), "b", "t"))
        .wait()
        .await
        .unwrap();
    assert_eq!((o.objects, o.done), (40, 40), "{:?}", o.failed);
    assert_eq!(s3.object("b", "t/d3/f7").unwrap(), data(1024, 7));
    // Each object is one request at a time (its PutObject, then its check): objects side by
    // side fill the whole budget, twice the width of one object's parts.
    assert_eq!(s3.most_in_flight(), 16);
    let p = m.progress().snapshot();
    assert_eq!((p.objects, p.objects_done), (40, 40));
    assert_eq!(
        p.bytes,
        40 * 1024,
        "the manager counts every object's bytes"
    );
}

/// Reads `rx` to its end: how many events `counted` picks, and how many were lost (`Lagged`).
async fn read_all(
    mut rx: tokio::sync::broadcast::Receiver<Event>,
    counted: fn(&Event) -> bool,
) -> (u64, u64) {
    let (mut picked, mut lost) = (0, 0);
    loop {
        match rx.recv().await {
            Ok(e) => picked += u64::from(counted(&e)),
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => lost += n,
            Err(_) => return (picked, lost),
        }
    }
}

/// A watcher that asks for every event and reads none for a while holds the tree back
/// instead of losing the oldest: 2,000 objects' ends all come, none `Lagged`, where a plain
/// watcher that reads late has lost most of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lossless_watcher_holds_a_tree_back_and_misses_no_object() {
    let s3 = memory_s3(0);
    let dir = tempfile::tempdir().unwrap();
    for i in 0..2_000 {
        std::fs::write(dir.path().join(format!("f{i:04}")), [i as u8]).unwrap();
    }
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    let read = |rx| read_all(rx, |e| matches!(e, Event::ObjectUploaded { .. }));

    let tree = m.upload_tree(TreeUpload::new(dir.path(), "b", "lossless"));
    let rx = tree.subscribe_lossless();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Held back: no more ends reported than half its buffer of 1,024.
    let held = tree.progress().snapshot().objects_done;
    assert!(held < 1_000, "{held} objects ended unread");
    let reading = tokio::spawn(read(rx));
    let o = tree.wait().await.unwrap();
    assert_eq!(o.done, 2_000);
    assert_eq!(reading.await.unwrap(), (2_000, 0));

    let tree = m.upload_tree(TreeUpload::new(dir.path(), "b", "lossy"));
    let rx = tree.subscribe();
    let o = tree.wait().await.unwrap();
    assert_eq!(o.done, 2_000);
    let (objects, lost) = read(rx).await;
    assert!(objects < 2_000 && lost > 0, "{objects} read, {lost} lost");
}

/// A tree's totals grow while it finds objects: the snapshot says so until every object found
/// has started, and from then its totals are the tree's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tree_says_it_is_finding_objects_until_its_totals_are_whole() {
    let s3 = memory_s3(20);
    let dir = tempfile::tempdir().unwrap();
    for i in 0..60 {
        std::fs::write(dir.path().join(format!("f{i}")), data(1024, i as u8)).unwrap();
    }
    let m = manager(
        Arc::new(s3.clone()),
        ManagerConfig {
            max_requests: 4,
            ..Default::default()
        },
    );
    let tree = m.upload_tree(TreeUpload::new(dir.path(), "b", "t"));
    let progress = tree.progress();
    let watch = tokio::spawn(async move {
        let mut seen = Vec::new();
        loop {
            let p = progress.snapshot();
            seen.push((p.finding, p.objects, p.total));
            if p.objects_done == 60 {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    tree.wait().await.unwrap();
    let seen = watch.await.unwrap();
    assert!(
        seen.iter()
            .any(|&(finding, objects, _)| finding == 1 && objects < 60),
        "finding while objects remained: {seen:?}"
    );
    // (Before the tree starts, nothing is counted.)
    for &(finding, objects, total) in &seen {
        if finding == 0 && objects > 0 {
            assert_eq!((objects, total), (60, 60 * 1024), "{seen:?}");
        }
    }
    assert_eq!(
        m.progress().snapshot().finding,
        0,
        "the manager's count went down too"
    );
}

/// A tree of 40 small files whose every PutObject fails with `error`.
async fn tree_failing_with(error: fn() -> ferry_s3::S3Error) -> ferry_engine::TreeOutcome {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..40 {
        std::fs::write(dir.path().join(format!("f{i:02}")), data(1024, i as u8)).unwrap();
    }
    let failing = FailingClient::new(memory_s3(20), vec![Fault::new("PutObject", 1000, error)]);
    let config = ManagerConfig {
        max_requests: 4,
        ..Default::default()
    };
    manager(Arc::new(failing), config)
        .upload_tree(TreeUpload::new(dir.path(), "b", "t"))
        .wait()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_every_object_would_meet_stops_a_tree_and_one_of_its_own_does_not() {
    use ferry_s3::ServiceError;
    // A policy may deny some keys only: every object is tried.
    let o = tree_failing_with(ferry_testkit::access_denied).await;
    assert_eq!((o.objects, o.failed.len(), o.stopped), (40, 40, false));
    // No bucket: the first failure stops the run, listed once; those under way are cancelled.
    let o =
        tree_failing_with(|| ServiceError::new("PutObject", 404, "NoSuchBucket", "").into()).await;
    assert!(o.stopped);
    assert_eq!(o.failed.len(), 1, "{:?}", o.failed);
    assert!(o.objects <= 8, "nothing started after it: {}", o.objects);
    assert!(!o.interrupted && !o.is_complete());
    // A wrong secret key: stopped once two objects met it, none having gone through.
    let o = tree_failing_with(|| {
        ServiceError::new("PutObject", 403, "SignatureDoesNotMatch", "").into()
    })
    .await;
    assert!(o.stopped);
    assert_eq!(o.failed.len(), 2, "{:?}", o.failed);
    assert!(o.objects <= 8, "nothing started after it: {}", o.objects);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trees_dry_run_reports_each_object_and_sends_nothing() {
    let s3 = memory_s3(0);
    let dir = tempfile::tempdir().unwrap();
    for i in 0..12u8 {
        std::fs::write(dir.path().join(format!("f{i:02}")), data(100, i)).unwrap();
    }
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    let tree = TreeUpload {
        dry_run: true,
        ..TreeUpload::new(dir.path(), "b", "t")
    };
    let h = m.upload_tree(tree);
    // Watched only after it has (all but surely) ended, as a busy CLI may: every event is kept.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut events = h.subscribe();
    let o = h.wait().await.unwrap();
    assert_eq!((o.objects, o.done, o.bytes), (12, 0, 1200));
    assert!(o.is_complete());
    let mut reported = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let Event::Synced { key, dry_run, .. } = e {
            assert!(dry_run);
            reported.push(key);
        }
    }
    assert_eq!(reported.len(), 12);
    assert!(reported.contains(&"t/f07".to_string()), "{reported:?}");
    assert_eq!(s3.calls("PutObject") + s3.calls("CreateMultipartUpload"), 0);
    assert!(s3.object("b", "t/f07").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tree_of_some_entries_sends_those_alone_and_a_sync_refuses_it() {
    let s3 = memory_s3(0);
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.iso", "b.iso", "c.txt", "sub/d.iso"] {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data(100, name.len() as u8)).unwrap();
    }
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    let names = |n: &[&str]| Some(n.iter().map(Into::into).collect());
    let tree = TreeUpload {
        only: names(&["a.iso", "sub"]),
        ..TreeUpload::new(dir.path(), "b", "t")
    };
    let o = m.upload_tree(tree.clone()).wait().await.unwrap();
    assert_eq!((o.objects, o.done), (2, 2));
    assert!(s3.object("b", "t/a.iso").is_some() && s3.object("b", "t/sub/d.iso").is_some());
    assert!(s3.object("b", "t/b.iso").is_none() && s3.object("b", "t/c.txt").is_none());
    // A name that is not there is refused before anything is sent.
    let missing = TreeUpload {
        only: names(&["a.iso", "gone.iso"]),
        ..tree.clone()
    };
    let e = m.upload_tree(missing).wait().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("gone.iso"), "{e}");
    // A sync of some entries would delete what the prefix holds beyond them.
    let sync = ferry_engine::SyncUp {
        tree,
        sync: Default::default(),
    };
    let e = m.sync_up(sync).wait().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert_eq!(s3.calls("PutObject"), 2);
}

/// On one server, a prefix copied into one that holds it, or into itself changing nothing,
/// is refused before a request is sent (its copies would be listed and copied again); onto
/// itself with REPLACE, each object is rewritten once, in place; to another storage class,
/// each object not in it already.
#[tokio::test]
async fn overlapping_prefixes_are_refused_and_one_onto_itself_rewrites_with_replace() {
    let s3 = memory_s3(0);
    for k in ["p/a", "p/b/c"] {
        s3.insert("b", k, data(1000, 7));
    }
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    let sent = |s3: &MemoryClient| s3.calls("ListObjectsV2") + s3.calls("CopyObject");
    for (to, directive) in [
        ("p/b", ferry_s3::Directive::Replace),
        ("", ferry_s3::Directive::Copy),
        ("p", ferry_s3::Directive::Copy),
    ] {
        let tree = ferry_engine::TreeCopy {
            metadata_directive: directive,
            ..ferry_engine::TreeCopy::new("b", "p", "b", to)
        };
        let e = m.copy_tree(tree).wait().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains("copied again"), "{e}");
    }
    assert_eq!(sent(&s3), 0);
    let tree = ferry_engine::TreeCopy {
        metadata_directive: ferry_s3::Directive::Replace,
        ..ferry_engine::TreeCopy::new("b", "p/", "b", "p")
    };
    let o = m.copy_tree(tree).wait().await.unwrap();
    assert_eq!((o.objects, o.done), (2, 2));
    assert_eq!(s3.calls("CopyObject"), 2);
    assert_eq!(s3.object("b", "p/b/c").unwrap(), data(1000, 7));
    // Onto itself to another storage class: an object listed in it already is left as it
    // is, with no request.
    s3.set_storage_class("b", "p/a", "STANDARD_IA");
    let mut tree = ferry_engine::TreeCopy::new("b", "p/", "b", "p");
    tree.options.storage_class = Some("STANDARD".into());
    let o = m.copy_tree(tree).wait().await.unwrap();
    assert_eq!((o.objects, o.done, o.existed), (1, 1, 1), "{:?}", o.failed);
    assert_eq!(s3.calls("CopyObject"), 3);
    assert_eq!(s3.object("b", "p/a").unwrap(), data(1000, 7));
}

/// A tree read as of a time cannot be moved (its objects are versions, and a move deletes the
/// current one): refused before a request, a download and a copy alike.
#[tokio::test]
async fn a_move_as_of_a_time_is_refused_before_a_request() {
    let s3 = memory_s3(0);
    s3.insert("b", "p/a", data(1000, 7));
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    let at = Some(std::time::SystemTime::now());
    let dir = tempfile::tempdir().unwrap();
    let mut down = ferry_engine::TreeDownload::new("b", "p", dir.path());
    (down.as_of, down.settings.remove_source) = (at, true);
    let mut copy = ferry_engine::TreeCopy::new("b", "p", "b", "q");
    (copy.as_of, copy.settings.remove_source) = (at, true);
    for e in [
        m.download_tree(down).wait().await.unwrap_err(),
        m.copy_tree(copy).wait().await.unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains("not as it was at a time"), "{e}");
    }
    assert_eq!(
        s3.calls("ListObjectVersions") + s3.calls("ListObjectsV2"),
        0
    );
    assert!(s3.object("b", "p/a").is_some());
}

/// One object's events wait for a lossless watcher too: a download of 320 ranges of 64 KiB
/// (640 range events, five times the buffer of one object) read late comes whole, where a
/// plain watcher has lost some.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lossless_watcher_gets_every_range_of_one_object() {
    let s3 = memory_s3(0);
    s3.insert("b", "k", data(20 * MIB, 3));
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    let download = || {
        let mut d = Download::new("b", "k", Target::Memory);
        d.settings.range_size = 64 * 1024;
        m.download(d)
    };
    let read = |rx| read_all(rx, |e| matches!(e, Event::RangeFinished { .. }));
    let h = download();
    let rx = h.subscribe_lossless();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reading = tokio::spawn(read(rx));
    let o = h.wait().await.unwrap();
    // The ranges asked for: not raised to 1 MiB, as every object's were while the cap of
    // 10,000 ranges rounded each size up.
    assert_eq!((o.ranges, o.data.unwrap()), (320, data(20 * MIB, 3).into()));
    assert_eq!(reading.await.unwrap(), (320, 0));

    let h = download();
    let rx = h.subscribe();
    h.wait().await.unwrap();
    let (ranges, lost) = read(rx).await;
    assert!(ranges < 320 && lost > 0, "{ranges} read, {lost} lost");
}

/// A sync up that tracks renames copies a moved file from the object that holds its bytes
/// and deletes the old one; a new file of the same size as an object gone, but other bytes,
/// is sent; without the setting, the moved file is sent again.
#[tokio::test]
async fn a_sync_tracking_renames_copies_a_moved_file_and_sends_a_lookalike() {
    let s3 = memory_s3(0);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("a")).unwrap();
    std::fs::write(dir.path().join("a/f.bin"), data(9000, 1)).unwrap();
    std::fs::write(dir.path().join("gone.bin"), data(5000, 2)).unwrap();
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    let sync = |track_renames| ferry_engine::SyncUp {
        tree: TreeUpload::new(dir.path(), "b", "t"),
        sync: ferry_engine::SyncSettings {
            track_renames,
            ..by_size(true)
        },
    };
    m.sync_up(sync(true)).wait().await.unwrap();
    assert_eq!(s3.calls("PutObject"), 2);
    std::fs::rename(dir.path().join("a"), dir.path().join("z")).unwrap();
    std::fs::remove_file(dir.path().join("gone.bin")).unwrap();
    std::fs::write(dir.path().join("new.bin"), data(5000, 3)).unwrap();
    let o = m.sync_up(sync(true)).wait().await.unwrap();
    assert!(o.is_complete(), "{:?}", o.transfers.failed);
    assert_eq!((o.differing, o.renamed, o.deleted), (2, 1, 2));
    assert_eq!((s3.calls("PutObject"), s3.calls("CopyObject")), (3, 1));
    assert_eq!(s3.object("b", "t/z/f.bin").unwrap(), data(9000, 1));
    assert_eq!(s3.object("b", "t/new.bin").unwrap(), data(5000, 3));
    assert!(s3.object("b", "t/a/f.bin").is_none() && s3.object("b", "t/gone.bin").is_none());
    // Moved back, untracked: sent again.
    std::fs::rename(dir.path().join("z"), dir.path().join("a")).unwrap();
    let o = m.sync_up(sync(false)).wait().await.unwrap();
    assert_eq!((o.differing, o.renamed, o.deleted), (1, 0, 1));
    assert_eq!((s3.calls("PutObject"), s3.calls("CopyObject")), (4, 1));
}

/// A sync that does not list its destination asks it for each source object alone (and
/// refuses to delete, which needs what only the destination holds); a short list of paths out
/// of a prefix asks for each named key rather than list the prefix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_not_listed_and_a_short_list_of_paths_are_asked_key_by_key() {
    let s3 = memory_s3(0);
    for i in 0..50 {
        s3.insert("b", &format!("q/o{i:02}"), data(10, i));
    }
    s3.insert("b", "p/a", data(100, 1));
    s3.insert("b", "p/b", data(200, 2));
    s3.insert("b", "q/a", data(100, 1));
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    let sync = |delete| ferry_engine::SyncCopy {
        tree: ferry_engine::TreeCopy::new("b", "p", "b", "q"),
        sync: ferry_engine::SyncSettings {
            no_traverse: true,
            ..by_size(delete)
        },
    };
    let e = m.sync_copy(sync(true)).wait().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert_eq!(s3.calls("ListObjectsV2"), 0, "refused before a request");
    let o = m.sync_copy(sync(false)).wait().await.unwrap();
    assert!(o.is_complete(), "{:?}", o.transfers.failed);
    assert_eq!((o.skipped, o.differing, o.missing), (1, 1, 1));
    assert_eq!(s3.calls("ListObjectsV2"), 1, "the source's listing alone");
    assert_eq!(s3.object("b", "q/b").unwrap(), data(200, 2));

    let mut tree = ferry_engine::TreeCopy::new("b", "q", "b", "r");
    tree.filters = ferry_engine::Filters::default().only_paths(["o07".into(), "o42".into()]);
    let o = m.copy_tree(tree).wait().await.unwrap();
    assert_eq!((o.objects, o.done), (2, 2), "{:?}", o.failed);
    assert_eq!(s3.calls("ListObjectsV2"), 1, "no listing of q/");
    assert_eq!(s3.object("b", "r/o42").unwrap(), data(10, 42));
}

/// A sync up that deletes nothing lists past a destination folder its folder lacks: a page
/// that ends inside one is followed by the first key after it. What lies after that folder is
/// still listed and compared; with deletions asked for, every key is listed and the folder goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_up_lists_past_a_destination_folder_its_source_lacks() {
    let s3 = memory_s3(0);
    for i in 0..5_000 {
        s3.insert("b", &format!("t/old/{i:04}"), vec![1]);
    }
    s3.insert("b", "t/a.txt", data(100, 1));
    s3.insert("b", "t/new/y", data(10, 3));
    // After old/ in byte order: the jump must land before it.
    s3.insert("b", "t/old0.txt", data(30, 4));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), data(100, 1)).unwrap();
    std::fs::create_dir(dir.path().join("new")).unwrap();
    std::fs::write(dir.path().join("new/x"), data(20, 2)).unwrap();
    std::fs::write(dir.path().join("old0.txt"), data(30, 4)).unwrap();
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    let sync = |delete| ferry_engine::SyncUp {
        tree: TreeUpload::new(dir.path(), "b", "t"),
        sync: by_size(delete),
    };
    let o = m.sync_up(sync(false)).wait().await.unwrap();
    assert!(o.is_complete(), "{:?}", o.transfers.failed);
    assert_eq!((o.skipped, o.differing, o.missing), (2, 1, 1));
    // A page of 1,000 (a.txt, new/y and 998 of old/), then one from old0.txt: 2 of 6.
    assert_eq!(s3.calls("ListObjectsV2"), 2, "old/ passed over");
    assert_eq!(s3.calls("PutObject"), 1);
    assert_eq!(s3.object("b", "t/new/x").unwrap(), data(20, 2));

    // A server that does not know StartAfter lists from the start again: seen by the page's
    // first key, and the listing goes on by its token, passing over nothing more.
    s3.ignore_start_after();
    let again = tokio::time::timeout(Duration::from_secs(30), m.sync_up(sync(false)).wait());
    let o = again.await.expect("the listing ends").unwrap();
    assert_eq!((o.skipped, o.differing), (3, 0));
    assert_eq!(s3.calls("ListObjectsV2"), 2 + 2 + 5);

    let o = m.sync_up(sync(true)).wait().await.unwrap();
    assert!(o.is_complete(), "{:?}", o.deletions_held);
    assert_eq!((o.skipped, o.differing, o.deleted), (3, 0, 5_001));
    assert_eq!(s3.calls("ListObjectsV2"), 9 + 6, "all of it, to delete");
    assert_eq!(s3.object("b", "t/old/0000"), None);
    assert_eq!(s3.object("b", "t/old0.txt").unwrap(), data(30, 4));
}

/// A list of paths longer than one round of HeadObjects lists one page first: the names it
/// spans are settled by it (present or not), and only those past it are asked for alone; a
/// prefix of one page costs that page alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_longer_list_of_paths_is_settled_by_the_first_page_as_far_as_it_goes() {
    let s3 = memory_s3(0);
    for i in 0..1_500 {
        s3.insert("b", &format!("q/o{i:04}"), data(10, (i % 251) as u8));
    }
    for i in 0..100 {
        s3.insert("b", &format!("s/o{i:04}"), data(10, i));
    }
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    // 35 names the first page spans, one of them missing; 6 past it, one missing.
    let mut names: Vec<String> = (0..34).map(|i| format!("o{:04}", i * 20)).collect();
    names.push("o0001x".into());
    names.extend(["o1100", "o1200", "o1300", "o1400", "o1499", "o9999"].map(String::from));
    let dir = tempfile::tempdir().unwrap();
    let mut tree = ferry_engine::TreeDownload::new("b", "q", dir.path().join("r"));
    tree.filters = ferry_engine::Filters::default().only_paths(names.clone());
    let o = m.download_tree(tree).wait().await.unwrap();
    assert_eq!(
        (o.objects, o.done, o.failed.len()),
        (41, 39, 2),
        "{:?}",
        o.failed
    );
    let missing = o.failed.iter().map(|f| f.key.as_str()).collect::<Vec<_>>();
    assert_eq!(missing, ["q/o0001x", "q/o9999"]);
    assert!(o.failed[0].error.to_string().contains("but is not there"));
    assert_eq!(s3.calls("ListObjectsV2"), 1);
    assert_eq!(
        s3.calls("HeadObject"),
        6,
        "only the names past the first page"
    );
    let read = |name: &str| std::fs::read(dir.path().join("r").join(name)).unwrap();
    assert_eq!(read("o0660"), data(10, (660 % 251) as u8));
    assert_eq!(read("o1499"), data(10, (1_499 % 251) as u8));

    let mut tree = ferry_engine::TreeDownload::new("b", "s", dir.path().join("t"));
    tree.filters = ferry_engine::Filters::default().only_paths(names);
    let o = m.download_tree(tree).wait().await.unwrap();
    assert_eq!(
        (o.done, o.failed.len()),
        (5, 36),
        "o0000 to o0080 are there"
    );
    assert_eq!(s3.calls("ListObjectsV2"), 2);
    assert_eq!(
        s3.calls("HeadObject"),
        6,
        "none: the page held the whole prefix"
    );

    // The page starts just before the first name: 40 names from o1100 on are all in it.
    let late: Vec<String> = (1_100..1_140).map(|i| format!("o{i:04}")).collect();
    let mut tree = ferry_engine::TreeDownload::new("b", "q", dir.path().join("u"));
    tree.filters = ferry_engine::Filters::default().only_paths(late);
    let o = m.download_tree(tree).wait().await.unwrap();
    assert_eq!((o.done, o.failed.len()), (40, 0), "{:?}", o.failed);
    assert_eq!(s3.calls("ListObjectsV2"), 3);
    assert_eq!(
        s3.calls("HeadObject"),
        6,
        "none: the page from o110 spans them"
    );
}

/// Between prefixes, the source is asked whether it holds a folder the destination's page
/// ends inside (a listing of one key): it lacks old/, and the destination's listing goes on
/// after it. As of a time, or with deletions, every key is listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_between_prefixes_lists_past_a_folder_the_source_lacks() {
    let s3 = memory_s3(0);
    for i in 0..5_000 {
        s3.insert("b", &format!("t/old/{i:04}"), vec![1]);
    }
    for (key, body) in [
        ("a.txt", data(100, 1)),
        ("new/x", data(20, 2)),
        ("old0.txt", data(30, 4)),
    ] {
        s3.insert("b", &format!("s/{key}"), body.clone());
        if key != "new/x" {
            s3.insert("b", &format!("t/{key}"), body);
        }
    }
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    let sync = |delete| ferry_engine::SyncCopy {
        tree: ferry_engine::TreeCopy::new("b", "s", "b", "t"),
        sync: by_size(delete),
    };
    let o = m.sync_copy(sync(false)).wait().await.unwrap();
    assert!(o.is_complete(), "{:?}", o.transfers.failed);
    assert_eq!((o.skipped, o.differing, o.missing), (2, 1, 1));
    // The source's page, the destination's two, and the source asked about old/ (the page
    // after the first, fetched meanwhile, may be asked for too): not the 1 + 6 of all.
    let listings = s3.calls("ListObjectsV2");
    assert!((4..=5).contains(&listings), "{listings}");
    assert_eq!(s3.object("b", "t/new/x").unwrap(), data(20, 2));

    // Once the source holds old/, the pages that end inside it are followed as they come:
    // its one key there is compared; old/ is asked about once.
    s3.insert("b", "s/old/4000", vec![1]);
    let o = m.sync_copy(sync(false)).wait().await.unwrap();
    assert_eq!((o.skipped, o.differing), (4, 0));
    assert_eq!(s3.calls("ListObjectsV2") - listings, 1 + 6 + 1);

    let listings = s3.calls("ListObjectsV2");
    let o = m.sync_copy(sync(true)).wait().await.unwrap();
    assert_eq!((o.skipped, o.deleted), (4, 4_999));
    let all = s3.calls("ListObjectsV2") - listings;
    assert_eq!(all, 1 + 6, "all of it, to delete");
}

/// A sync's settings that compare by size (the in-memory store's listing has no times to
/// compare), deleting what only the destination holds or not.
fn by_size(delete: bool) -> ferry_engine::SyncSettings {
    ferry_engine::SyncSettings {
        compare: ferry_engine::Compare::SizeOnly,
        delete,
        ..Default::default()
    }
}

/// A list of more paths than are asked for alone is listed from one name to the next, and no
/// further than the last: out of a prefix of 20,000, 1,200 names among 1,500 keys from the
/// 15,001st take two pages. A sync's destination, narrowed to the list, is listed the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_list_of_paths_lists_no_further_than_its_last_name() {
    let s3 = memory_s3(0);
    for i in 0..20_000 {
        s3.insert("b", &format!("q/o{i:05}"), vec![1]);
    }
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..1_200)
        .map(|i| format!("o{:05}", 15_000 + i * 5 / 4))
        .collect();
    let mut tree = ferry_engine::TreeDownload::new("b", "q", dir.path().join("r"));
    tree.filters = ferry_engine::Filters::default().only_paths(names);
    let o = m.download_tree(tree).wait().await.unwrap();
    assert_eq!((o.objects, o.done), (1_200, 1_200), "{:?}", o.failed);
    assert_eq!(s3.calls("ListObjectsV2"), 2);
    assert_eq!(std::fs::read(dir.path().join("r/o16498")).unwrap(), [1]);

    // Up, into the prefix, with a list of one path: one page of the destination.
    std::fs::write(dir.path().join("a.txt"), b"a").unwrap();
    let mut tree = TreeUpload::new(dir.path(), "b", "q");
    tree.filters = ferry_engine::Filters::default().only_paths(["a.txt".to_string()]);
    let sync = ferry_engine::SyncUp {
        tree,
        sync: by_size(true),
    };
    let o = m.sync_up(sync).wait().await.unwrap();
    assert!(o.is_complete(), "{:?}", o.deletions_held);
    assert_eq!((o.missing, o.deleted), (1, 0));
    assert_eq!(s3.calls("ListObjectsV2"), 2 + 1);
    assert_eq!(s3.object("b", "q/a.txt").unwrap(), b"a".as_slice());
}
