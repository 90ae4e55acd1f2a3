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
