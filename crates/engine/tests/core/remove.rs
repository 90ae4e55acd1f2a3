//! Listings and removals: a listing's pages with a delimiter, each retried; a prefix removed a
//! thousand keys a request, only what the filters take, and a dry run that removes nothing;
//! one object removed, missing, or named where a prefix was meant; every version of a prefix
//! or of one key; objects named by a stream; a sync's deletions in the
//! same batches, one refused as a whole failing each of its keys; a cancel that waits for the
//! batch in flight.

use futures_util::TryStreamExt as _;

use super::*;
use ferry_engine::{Filters, Remove};
use ferry_s3::{ListObjectsRequest, ObjectIdentifier};

/// The keys bucket `b` of `s3` holds, sorted.
async fn keys(s3: &MemoryClient) -> Vec<String> {
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    let pages: Vec<_> = m
        .list(ListObjectsRequest {
            bucket: "b".into(),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    pages
        .into_iter()
        .flat_map(|p| p.objects)
        .map(|o| o.key)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_by_delimiter_names_each_folder_once_across_pages_and_retries_a_page() {
    let s3 = memory_s3(0);
    for k in ["a", "d/1", "d/2", "d/e/3", "e", "f/1", "g"] {
        s3.insert("b", k, vec![1]);
    }
    // The first page fails once: the manager asks for it again.
    let failing = Arc::new(FailingClient::new(
        s3.clone(),
        vec![Fault::new(
            "ListObjectsV2",
            1,
            ferry_testkit::internal_error,
        )],
    ));
    let m = manager(failing.clone(), ManagerConfig::default());
    for max_keys in [1, 2, 1000] {
        let pages: Vec<_> = m
            .list(ListObjectsRequest {
                bucket: "b".into(),
                delimiter: Some("/".into()),
                max_keys: Some(max_keys),
                ..Default::default()
            })
            .try_collect()
            .await
            .unwrap();
        let objects: Vec<_> = pages
            .iter()
            .flat_map(|p| &p.objects)
            .map(|o| &o.key)
            .collect();
        let folders: Vec<_> = pages.iter().flat_map(|p| &p.common_prefixes).collect();
        assert_eq!(objects, ["a", "e", "g"], "{max_keys}");
        assert_eq!(folders, ["d/", "f/"], "{max_keys}");
        assert_eq!(
            pages.len(),
            5_usize.div_ceil(max_keys as usize),
            "{max_keys}"
        );
    }
    let d: Vec<_> = m
        .list(ListObjectsRequest {
            bucket: "b".into(),
            prefix: Some("d/".into()),
            delimiter: Some("/".into()),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(d[0].common_prefixes, ["d/e/"]);
    assert_eq!(d[0].objects.len(), 2);
    assert!(failing.injected.load(std::sync::atomic::Ordering::Relaxed) >= 1);
    // A missing bucket is an error that names the listing.
    let err = m
        .list(ListObjectsRequest {
            bucket: "nope".into(),
            ..Default::default()
        })
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("listing s3://nope/"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_is_removed_a_thousand_keys_a_request_and_only_what_the_filters_take() {
    let s3 = memory_s3(0);
    for i in 0..2_100 {
        s3.insert("b", &format!("p/{i:04}"), vec![0; 3]);
    }
    for k in ["p/keep/1", "p", "pq", "q/x"] {
        s3.insert("b", k, vec![1]);
    }
    let mut filters = Filters::default();
    filters.push(false, "keep/*").unwrap();
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    let remove = |dry_run| Remove {
        filters: filters.clone(),
        dry_run,
        ..Remove::prefix("b", "p")
    };
    let dry = m.remove(remove(true));
    let mut events = dry.subscribe();
    let o = dry.wait().await.unwrap();
    assert_eq!((o.removed, o.bytes, o.dry_run), (2_100, 6_300, true));
    assert_eq!(s3.calls("DeleteObjects"), 0);
    assert_eq!(keys(&s3).await.len(), 2_104);
    // A batch an event: a watcher that comes at the end still has them all.
    let mut reported = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let Event::Removed { objects, dry_run } = e {
            assert!(dry_run);
            reported.extend(objects.iter().map(|r| (r.what.clone(), r.size)));
        }
    }
    assert_eq!(reported.len(), 2_100);
    assert_eq!(reported.last(), Some(&("s3://b/p/2099".to_string(), 3)));

    let o = m.remove(remove(false)).wait().await.unwrap();
    assert!(o.is_complete(), "{:?}", o.failed);
    assert_eq!((o.removed, o.bytes), (2_100, 6_300));
    assert_eq!(s3.calls("DeleteObjects"), 3);
    assert_eq!(keys(&s3).await, ["p", "p/keep/1", "pq", "q/x"]);
    // Nothing left under the prefix: an error that says so, rather than nothing done.
    let err = m
        .remove(Remove::prefix("b", "gone/"))
        .wait()
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("no objects under s3://b/gone/"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_object_is_removed_and_a_missing_one_or_a_prefix_is_an_error_that_says_so() {
    let s3 = memory_s3(0);
    for k in ["k", "dir/a"] {
        s3.insert("b", k, vec![7; 5]);
    }
    // The deletion fails once, and is sent again.
    let failing = Arc::new(FailingClient::new(
        s3.clone(),
        vec![Fault::new("DeleteObject", 1, ferry_testkit::internal_error)],
    ));
    let m = manager(failing, ManagerConfig::default());
    let o = m.remove(Remove::object("b", "k")).wait().await.unwrap();
    assert_eq!((o.removed, o.bytes), (1, 5));
    assert_eq!(keys(&s3).await, ["dir/a"]);

    let err = m.remove(Remove::object("b", "k")).wait().await.unwrap_err();
    assert!(
        err.to_string().contains("s3://b/k: no such object"),
        "{err}"
    );
    let err = m
        .remove(Remove::object("b", "dir"))
        .wait()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("is a prefix"), "{err}");
    assert_eq!(keys(&s3).await, ["dir/a"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_version_under_a_prefix_or_of_one_key_goes_by_its_id_across_pages() {
    let s3 = memory_s3(0);
    for i in 0..1_500 {
        s3.insert("b", &format!("p/{i:04}"), vec![0; 2]);
    }
    for k in ["k", "k2", "p/keep/1"] {
        s3.insert("b", k, vec![1]);
    }
    // The first listing of versions fails once, and is asked for again.
    let failing = Arc::new(FailingClient::new(
        s3.clone(),
        vec![Fault::new(
            "ListObjectVersions",
            1,
            ferry_testkit::internal_error,
        )],
    ));
    // The second page starts after the first page's last version: it must still be there
    // when that page is served (a server may lose its place after a marker deleted). Its first
    // try fails, and while the retry waits out its back-off the deleter is free to run.
    let weak = Arc::downgrade(&failing);
    failing.before(
        "ListObjectVersions",
        3,
        Box::new(move || {
            let f = weak.upgrade().unwrap();
            f.add_fault(Fault::new(
                "ListObjectVersions",
                1,
                ferry_testkit::internal_error,
            ));
        }),
    );
    let marker_there = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (seen, store) = (marker_there.clone(), s3.clone());
    failing.before(
        "ListObjectVersions",
        4,
        Box::new(move || {
            let there = store.object("b", "p/0999").is_some();
            seen.store(there, std::sync::atomic::Ordering::SeqCst);
        }),
    );
    let m = manager(failing, ManagerConfig::default());
    let mut filters = Filters::default();
    filters.push(false, "keep/*").unwrap();
    let run = m.remove(Remove {
        all_versions: true,
        filters,
        ..Remove::prefix("b", "p")
    });
    let mut events = run.subscribe();
    let o = run.wait().await.unwrap();
    assert!(o.is_complete(), "{:?}", o.failed);
    assert_eq!((o.removed, o.bytes), (1_500, 3_000));
    // Two pages reached the store (the tries that failed never did).
    assert_eq!(s3.calls("ListObjectVersions"), 2);
    assert!(marker_there.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(s3.calls("DeleteObjects"), 2);
    let mut versions = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let Event::Removed { objects, .. } = e {
            versions.extend(objects.iter().map(|r| r.version_id.clone()));
        }
    }
    assert_eq!(versions.len(), 1_500);
    assert!(versions.iter().all(|v| v.as_deref() == Some("null")));
    assert_eq!(keys(&s3).await, ["k", "k2", "p/keep/1"]);
    // One key: its versions alone, not those of the key it is a prefix of.
    let one = Remove {
        all_versions: true,
        ..Remove::object("b", "k")
    };
    let o = m.remove(one.clone()).wait().await.unwrap();
    assert_eq!(o.removed, 1);
    assert_eq!(keys(&s3).await, ["k2", "p/keep/1"]);
    let err = m.remove(one.clone()).wait().await.unwrap_err();
    assert!(
        err.to_string().contains("s3://b/k: no version of it"),
        "{err}"
    );
    // One version and all of them cannot both be asked for.
    let err = m
        .remove(Remove {
            version_id: Some("v".into()),
            ..one
        })
        .wait()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert_eq!(keys(&s3).await, ["k2", "p/keep/1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_objects_go_as_the_stream_gives_them_a_thousand_a_request() {
    let s3 = memory_s3(0);
    for i in 0..2_500 {
        s3.insert("b", &format!("chunks/{i:05}"), vec![0; 4]);
    }
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    // Every other chunk, and one that is not there (deleted without a word, as S3 does).
    let names = (0..2_500)
        .step_by(2)
        .map(|i| format!("chunks/{i:05}"))
        .chain(["chunks/none".to_string()])
        .map(|key| ObjectIdentifier {
            key,
            version_id: None,
        });
    let run = m.remove_objects(Remove::named("b"), futures_util::stream::iter(names));
    let mut events = run.subscribe();
    let o = run.wait().await.unwrap();
    assert!(o.is_complete(), "{:?}", o.failed);
    assert_eq!(o.removed, 1_251);
    assert_eq!(s3.calls("DeleteObjects"), 2);
    let mut reported = 0;
    while let Ok(e) = events.try_recv() {
        if let Event::Removed { objects, .. } = e {
            reported += objects.len();
        }
    }
    assert_eq!(reported, 1_251);
    let left = keys(&s3).await;
    assert_eq!(left.len(), 1_250);
    assert!(left.iter().all(|k| k[7..].parse::<u32>().unwrap() % 2 == 1));
    // A stream that ends at once deletes nothing, and says so.
    let o = m
        .remove_objects(Remove::named("b"), futures_util::stream::empty())
        .wait()
        .await
        .unwrap();
    assert_eq!(o.removed, 0);
    assert_eq!(s3.calls("DeleteObjects"), 2);
    // A dry run reports what it would delete and deletes nothing.
    let odd = (1..4).map(|i| ObjectIdentifier {
        key: format!("chunks/{i:05}"),
        version_id: None,
    });
    let dry = Remove {
        dry_run: true,
        ..Remove::named("b")
    };
    let o = m
        .remove_objects(dry, futures_util::stream::iter(odd))
        .wait()
        .await
        .unwrap();
    assert!(o.dry_run && o.removed == 3);
    assert_eq!(keys(&s3).await.len(), 1_250);
    assert_eq!(s3.calls("DeleteObjects"), 2);
    // What the names say (keys, versions) is not also said by the removal.
    for remove in [
        Remove::object("b", "chunks/00001"),
        Remove::prefix("b", ""),
        Remove {
            all_versions: true,
            ..Remove::named("b")
        },
    ] {
        let e = m
            .remove_objects(remove, futures_util::stream::empty())
            .wait()
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    }
    assert_eq!(keys(&s3).await.len(), 1_250);
}

/// A stream that gives names slowly has them deleted as they come (a request with what came
/// within a second), not when it ends: a program that decides as it goes, or a list typed or
/// piped slowly, loses nothing it named if stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_a_slow_stream_gives_are_deleted_within_a_second_not_at_its_end() {
    let s3 = memory_s3(0);
    for k in ["a", "b", "c", "d"] {
        s3.insert("b", k, vec![1]);
    }
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    let (give, names) = tokio::sync::mpsc::channel::<ObjectIdentifier>(8);
    let stream = futures_util::stream::unfold(names, |mut names| async move {
        names.recv().await.map(|n| (n, names))
    });
    let run = m.remove_objects(Remove::named("b"), stream);
    let mut events = run.subscribe();
    let name = |key: &str| ObjectIdentifier {
        key: key.into(),
        version_id: None,
    };
    for k in ["a", "b"] {
        give.send(name(k)).await.unwrap();
    }
    // The stream stays open: the two go once the first has waited its second.
    let began = std::time::Instant::now();
    let reported = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            if let Ok(Event::Removed { objects, .. }) = events.recv().await {
                return objects.iter().map(|o| o.key.clone()).collect::<Vec<_>>();
            }
        }
    })
    .await
    .expect("names given were not deleted while the stream stayed open");
    assert_eq!(reported, ["a", "b"]);
    assert!(began.elapsed() >= std::time::Duration::from_millis(900));
    assert_eq!(keys(&s3).await, ["c", "d"]);
    give.send(name("c")).await.unwrap();
    drop(give);
    let o = run.wait().await.unwrap();
    assert_eq!((o.removed, o.interrupted), (3, false));
    assert_eq!(s3.calls("DeleteObjects"), 2);
    assert_eq!(keys(&s3).await, ["d"]);
}

/// A sync's deletions run as a removal's do: 2,000 objects the folder does not hold go in
/// two DeleteObjects requests, each reported in one event. A request refused as a whole fails
/// each of its keys (the outcome names them) while the other goes on; a dry run deletes
/// nothing and reports them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_syncs_deletions_go_in_batches_and_one_refused_fails_each_of_its_keys() {
    let s3 = memory_s3(0);
    for i in 0..2_000 {
        s3.insert("b", &format!("t/old/{i:04}"), vec![1, 2]);
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keep"), b"k").unwrap();
    let sync = |dry_run| ferry_engine::SyncUp {
        tree: TreeUpload::new(dir.path(), "b", "t"),
        sync: ferry_engine::SyncSettings {
            delete: true,
            dry_run,
            ..Default::default()
        },
    };
    // What the events say went: (objects, of them in a dry run).
    let removed = |events: &mut tokio::sync::broadcast::Receiver<Event>| {
        let (mut all, mut dry) = (0, 0);
        while let Ok(e) = events.try_recv() {
            if let Event::Removed { objects, dry_run } = e {
                all += objects.len();
                dry += if dry_run { objects.len() } else { 0 };
            }
        }
        (all, dry)
    };
    let one_refused = Arc::new(FailingClient::new(
        s3.clone(),
        vec![Fault::new("DeleteObjects", 1, ferry_testkit::access_denied)],
    ));
    let m = manager(one_refused, ManagerConfig::default());

    let h = m.sync_up(sync(true));
    let mut events = h.subscribe();
    let o = h.wait().await.unwrap();
    assert_eq!((o.deleted, o.dry_run), (2_000, true));
    assert_eq!(removed(&mut events), (2_000, 2_000));
    assert_eq!(s3.calls("DeleteObjects"), 0);

    let h = m.sync_up(sync(false));
    let mut events = h.subscribe();
    let o = h.wait().await.unwrap();
    assert!(!o.is_complete() && !o.interrupted);
    assert_eq!((o.deleted, o.delete_failed.len()), (1_000, 1_000));
    assert!(
        o.delete_failed
            .iter()
            .all(|f| f.error.kind() == ErrorKind::Denied && f.key.starts_with("t/old/")),
        "{}",
        o.delete_failed[0].error
    );
    assert_eq!(removed(&mut events), (1_000, 0));
    assert_eq!(keys(&s3).await.len(), 1_001);

    // Again, nothing refused: the rest go.
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    let o = m.sync_up(sync(false)).wait().await.unwrap();
    assert!(o.is_complete());
    assert_eq!(o.deleted, 1_000);
    assert_eq!(keys(&s3).await, ["t/keep"]);
}

/// A cancel stops the listing and sends no more batches, but a DeleteObjects already sent is
/// waited for: what it deleted is reported, so the counts match what the bucket lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_removal_reports_the_batch_it_had_sent() {
    let s3 = memory_s3(300);
    for i in 0..3_000 {
        s3.insert("b", &format!("p/{i:04}"), vec![1]);
    }
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    let h = m.remove(Remove::prefix("b", "p"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while s3.calls("DeleteObjects") == 0 {
        assert!(Instant::now() < deadline, "no DeleteObjects was sent");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    h.cancel();
    let o = h.wait().await.unwrap();
    assert!(o.interrupted);
    assert_eq!(o.removed, 1_000);
    assert_eq!(s3.calls("DeleteObjects"), 1);
    assert_eq!(keys(&s3).await.len(), 2_000);
}

/// A list of paths guides the listing: each page is followed by one from just before the next
/// name past it, and none after the last; a name with no object is passed, not removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_of_paths_is_listed_from_one_name_to_the_next() {
    let s3 = memory_s3(0);
    for i in 0..20_000 {
        s3.insert("b", &format!("p/o{i:05}"), vec![0; 2]);
    }
    let names = ["o00010", "o00011", "o12500", "o12501x", "o17777"].map(String::from);
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    let remove = Remove {
        filters: Filters::default().only_paths(names),
        ..Remove::prefix("b", "p")
    };
    let o = m.remove(remove).wait().await.unwrap();
    assert!(o.is_complete(), "{:?}", o.failed);
    assert_eq!((o.removed, o.bytes), (4, 8));
    // The first page, one from just before o12500 (which settles o12501x too), one from just
    // before o17777: 3 of 20.
    assert_eq!(s3.calls("ListObjectsV2"), 3);
    let left = keys(&s3).await;
    assert_eq!(left.len(), 19_996);
    assert!(!left.iter().any(|k| k == "p/o12500" || k == "p/o17777"));
    assert!(left.iter().any(|k| k == "p/o12501"));

    // A server that does not know StartAfter: seen by the page that starts over, and the
    // listing goes on by its token (all 20 pages, and the one thrown away).
    s3.ignore_start_after();
    let before = s3.calls("ListObjectsV2");
    let remove = Remove {
        filters: Filters::default().only_paths(["o00020", "o15000"].map(String::from)),
        ..Remove::prefix("b", "p")
    };
    let done = tokio::time::timeout(Duration::from_secs(30), m.remove(remove).wait());
    let o = done.await.expect("the listing ends").unwrap();
    assert_eq!(o.removed, 2);
    assert_eq!(s3.calls("ListObjectsV2") - before, 21);
    assert_eq!(keys(&s3).await.len(), 19_994);

    // One that refuses it (a 400): the same, from the refused request on.
    s3.refuse_start_after();
    let before = s3.calls("ListObjectsV2");
    let remove = Remove {
        filters: Filters::default().only_paths(["o00030", "o16000"].map(String::from)),
        ..Remove::prefix("b", "p")
    };
    let o = m.remove(remove).wait().await.unwrap();
    assert!(o.is_complete(), "{:?}", o.failed);
    assert_eq!(o.removed, 2);
    assert_eq!(s3.calls("ListObjectsV2") - before, 1 + 20);
}
