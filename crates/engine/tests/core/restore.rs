//! Restores in the engine (`Manager::restore`): what is refused before any request, and the
//! requests a prefix's objects cost by what their listing says (archived ones are tested on
//! moto, which keeps storage classes).

use super::*;
use ferry_engine::{Restore, Restoring};

/// A restore of no days, or of a version under a prefix, is refused before any request; a
/// prefix whose listing shows no archived object costs no request an object; one object
/// named alone is looked at (HeadObject) and found readable.
#[tokio::test]
async fn a_restore_is_checked_first_and_objects_listed_readable_cost_no_request() {
    let s3 = memory_s3(0);
    for k in ["p/a", "p/b", "p/c"] {
        s3.insert("b", k, vec![1]);
    }
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    for restore in [
        Restore::object("b", "p/a", 0),
        Restore {
            version_id: Some("v".into()),
            ..Restore::prefix("b", "p", 1)
        },
        Restore::object("b", "p/", 1),
    ] {
        let e = m.restore(restore).wait().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    }
    assert_eq!(s3.calls("HeadObject") + s3.calls("RestoreObject"), 0);
    let handle = m.restore(Restore::prefix("b", "p", 1));
    let mut events = handle.subscribe();
    let o = handle.wait().await.unwrap();
    assert_eq!((o.readable, o.started, o.failed.len()), (3, 0, 0));
    assert_eq!(s3.calls("HeadObject") + s3.calls("RestoreObject"), 0);
    let mut said = 0;
    while let Ok(e) = events.try_recv() {
        if let Event::Restore {
            restoring,
            storage_class,
            ..
        } = e
        {
            assert_eq!(
                (restoring, storage_class.as_str()),
                (Restoring::Readable, "STANDARD")
            );
            said += 1;
        }
    }
    assert_eq!(said, 3);
    let o = m
        .restore(Restore::object("b", "p/a", 1))
        .wait()
        .await
        .unwrap();
    assert_eq!(o.readable, 1);
    assert_eq!((s3.calls("HeadObject"), s3.calls("RestoreObject")), (1, 0));
}

/// Archived objects on the mock: a download of one fails before any GET (its HeadObject
/// shows it archived), a tree's fail alone; a prefix's restore sends one RestoreObject to
/// each archived object and none to the others; a restore under way is said so, and an
/// Expedited tier without capacity names the Standard one; once restored, each downloads.
#[tokio::test]
async fn archived_objects_fail_to_read_until_restored_and_a_prefix_restores_only_them() {
    let s3 = memory_s3(0);
    for k in ["p/a", "p/b", "p/c"] {
        s3.insert("b", k, data(1000, 7));
    }
    s3.set_storage_class("b", "p/a", "GLACIER");
    s3.set_storage_class("b", "p/b", "DEEP_ARCHIVE");
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a");
    let e = m
        .download(Download::new("b", "p/a", Target::File(file.clone())))
        .wait()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Archived, "{e}");
    assert_eq!(s3.calls("GetObject"), 0);
    assert!(!file.exists());
    let tree = || ferry_engine::TreeDownload::new("b", "p", dir.path().join("t"));
    let o = m.download_tree(tree()).wait().await.unwrap();
    assert_eq!((o.done, o.failed.len()), (1, 2), "{:?}", o.failed);
    assert!(
        o.failed
            .iter()
            .all(|f| f.error.kind() == ErrorKind::Archived)
    );
    // Passed over, as asked: neither done nor failed.
    let skipping = ferry_engine::TreeDownload {
        skip_archived: true,
        ..ferry_engine::TreeDownload::new("b", "p", dir.path().join("s"))
    };
    let o = m.download_tree(skipping).wait().await.unwrap();
    assert_eq!((o.done, o.passed_over, o.failed.len()), (1, 2, 0));
    assert!(o.is_complete());

    // A restore under way (409) for one, no Expedited capacity (503, past every retry) for
    // the other: each said so, neither restored.
    let busy = || {
        ferry_s3::ServiceError::new("RestoreObject", 409, "RestoreAlreadyInProgress", "busy").into()
    };
    let full = || {
        ferry_s3::ServiceError::new(
            "RestoreObject",
            503,
            "GlacierExpeditedRetrievalNotAvailable",
            "try again later",
        )
        .into()
    };
    let quick = ManagerConfig {
        retry: ferry_engine::RetryPolicy {
            base: Duration::from_millis(1),
            throttle_base: Duration::from_millis(1),
            ..Default::default()
        },
        ..Default::default()
    };
    let failing = Arc::new(FailingClient::new(
        s3.clone(),
        vec![Fault::new("RestoreObject", 1, busy)],
    ));
    let o = manager(failing, quick.clone())
        .restore(Restore::object("b", "p/a", 1))
        .wait()
        .await
        .unwrap();
    assert_eq!(o.in_progress, 1);
    let failing = Arc::new(FailingClient::new(
        s3.clone(),
        vec![Fault::new("RestoreObject", u32::MAX, full)],
    ));
    let e = manager(failing, quick)
        .restore(Restore {
            tier: Some(ferry_s3::RestoreTier::Expedited),
            ..Restore::object("b", "p/b", 1)
        })
        .wait()
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("the Standard tier always takes a restore"),
        "{e}"
    );

    // The prefix: one RestoreObject each for the two archived, none for the other.
    let (heads, restores) = (s3.calls("HeadObject"), s3.calls("RestoreObject"));
    let o = m
        .restore(Restore::prefix("b", "p", 3))
        .wait()
        .await
        .unwrap();
    assert_eq!((o.started, o.readable, o.failed.len()), (2, 1, 0));
    assert_eq!(s3.calls("RestoreObject") - restores, 2);
    assert_eq!(s3.calls("HeadObject"), heads);
    // Again: both kept longer.
    let o = m
        .restore(Restore::prefix("b", "p", 3))
        .wait()
        .await
        .unwrap();
    assert_eq!((o.extended, o.readable), (2, 1));
    // A dry run of one says so, and sends nothing.
    let restores = s3.calls("RestoreObject");
    let dry = Restore {
        dry_run: true,
        ..Restore::object("b", "p/a", 3)
    };
    let o = m.restore(dry).wait().await.unwrap();
    assert_eq!((o.extended, o.dry_run), (1, true));
    assert_eq!(s3.calls("RestoreObject"), restores);
    // Readable now, each byte as stored.
    let o = m.download_tree(tree()).wait().await.unwrap();
    assert_eq!((o.done, o.failed.len()), (3, 0), "{:?}", o.failed);
    assert_eq!(
        std::fs::read(dir.path().join("t/a")).unwrap(),
        data(1000, 7)
    );
}
