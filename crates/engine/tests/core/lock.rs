//! Object lock in the engine: locking objects already written (`Manager::lock`), what is
//! refused before any request, a prefix's objects each sent their lock, one refused failing
//! alone; and a locked PutObject read back where a plain one is not.

use super::*;
use ferry_engine::{Lock, Retention};

/// A lock that asks for nothing, or for what cannot be, is refused before any request; the
/// objects a prefix holds are each sent their lock, and one refused fails alone.
#[tokio::test]
async fn a_lock_is_checked_before_it_is_sent_and_a_refused_object_fails_alone() {
    let s3 = memory_s3(0);
    for k in ["p/a", "p/b"] {
        s3.insert("b", k, vec![1]);
    }
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    let retention = || {
        Some(Retention {
            mode: ferry_s3::ObjectLockMode::Governance,
            until: "2030-01-01T00:00:00Z".into(),
        })
    };
    for lock in [
        Lock::object("b", "p/a"),
        Lock {
            bypass_governance_retention: true,
            legal_hold: Some(true),
            ..Lock::object("b", "p/a")
        },
        Lock {
            version_id: Some("v".into()),
            legal_hold: Some(true),
            ..Lock::prefix("b", "p")
        },
        Lock {
            retention: Some(Retention {
                mode: ferry_s3::ObjectLockMode::Governance,
                until: "next year".into(),
            }),
            ..Lock::object("b", "p/a")
        },
    ] {
        let e = m.lock(lock).wait().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    }
    assert_eq!(
        s3.calls("PutObjectRetention") + s3.calls("PutObjectLegalHold"),
        0
    );
    // The memory store keeps no locks: each object's request is refused (501), and each
    // fails on its own; the run goes on to the end.
    let lock = Lock {
        retention: retention(),
        ..Lock::prefix("b", "p")
    };
    let o = m.lock(lock).wait().await.unwrap();
    assert_eq!((o.locked, o.failed.len()), (0, 2));
    assert_eq!(s3.calls("PutObjectRetention"), 2);
    let dry = Lock {
        retention: retention(),
        dry_run: true,
        ..Lock::prefix("b", "p")
    };
    let o = m.lock(dry).wait().await.unwrap();
    assert_eq!((o.locked, o.dry_run), (2, true));
    assert_eq!(s3.calls("PutObjectRetention"), 2);
}

/// A PutObject whose answer carries ferry's checksum is checked without another request; one
/// that asked for an object lock is read back all the same, since only HeadObject shows the
/// lock the server applied.
#[tokio::test]
async fn a_locked_put_is_read_back_where_a_plain_one_is_not() {
    let s3 = memory_s3(0);
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    let put = |key: &str| Upload::new(Source::Bytes(data(4096, 3).into()), "b", key);
    m.upload(put("plain")).wait().await.unwrap();
    assert_eq!(s3.calls("HeadObject"), 0);
    let locked = ferry_s3::ObjectOptions {
        object_lock_legal_hold: Some(true),
        ..Default::default()
    };
    m.upload(put("held").options(locked)).wait().await.unwrap();
    assert_eq!(s3.calls("PutObject"), 2);
    assert_eq!(s3.calls("HeadObject"), 1);
}
