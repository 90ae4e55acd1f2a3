//! Object lock in the engine: locking objects already written (`Manager::lock`), what is
//! refused before any request, a prefix's objects each sent their lock, one refused failing
//! alone, a server without object lock stopping the run; and a locked PutObject read back
//! where a plain one is not.

use super::*;
use ferry_engine::{Lock, Retention};

/// A lock that asks for nothing, or for what cannot be, is refused before any request; the
/// objects a prefix holds are each sent their lock, one refused fails alone, and a server
/// that refuses object lock itself stops the run at once.
#[tokio::test]
async fn a_lock_is_checked_before_it_is_sent_a_refused_object_fails_alone_and_a_lockless_server_stops_the_run()
 {
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
    // Each object under the prefix is sent its lock, which HeadObject then shows.
    let lock = Lock {
        retention: retention(),
        legal_hold: Some(true),
        ..Lock::prefix("b", "p")
    };
    let dry = Lock {
        dry_run: true,
        ..lock.clone()
    };
    let o = m.lock(dry).wait().await.unwrap();
    assert_eq!((o.locked, o.dry_run), (2, true));
    assert_eq!(s3.calls("PutObjectRetention"), 0);
    let o = m.lock(lock.clone()).wait().await.unwrap();
    assert_eq!((o.locked, o.failed.len()), (2, 0));
    for k in ["p/a", "p/b"] {
        let req = ferry_s3::GetObjectRequest {
            bucket: "b".into(),
            key: k.into(),
            ..Default::default()
        };
        let meta = ferry_s3::ObjectClient::head_object(&s3, &req)
            .await
            .unwrap();
        assert_eq!(meta.object_lock_mode.as_deref(), Some("GOVERNANCE"), "{k}");
        assert_eq!(
            meta.object_lock_retain_until.as_deref(),
            Some("2030-01-01T00:00:00Z")
        );
        assert_eq!(meta.object_lock_legal_hold.as_deref(), Some("ON"));
    }
    // One object refused (a policy may cover only some keys) fails alone; the other is
    // locked.
    let denied = Arc::new(FailingClient::new(
        s3.clone(),
        vec![Fault::new(
            "PutObjectRetention",
            1,
            ferry_testkit::access_denied,
        )],
    ));
    let o = manager(denied, ManagerConfig::default())
        .lock(lock.clone())
        .wait()
        .await
        .unwrap();
    assert_eq!((o.locked, o.failed.len()), (1, 1));
    assert_eq!(o.failed[0].error.kind(), ErrorKind::Denied);
    // A server without object lock refuses every object alike: the run stops at the first
    // answer, rather than sending each of 100 objects its lock in turn.
    for i in 0..98 {
        s3.insert("b", &format!("p/more/{i:03}"), vec![1]);
    }
    let unlocking = Arc::new(FailingClient::new(
        s3.clone(),
        vec![Fault::new("PutObjectRetention", u32::MAX, || {
            ferry_s3::ServiceError::new("PutObjectRetention", 501, "NotImplemented", "no lock")
                .into()
        })],
    ));
    let e = manager(unlocking.clone(), ManagerConfig::default())
        .lock(lock)
        .wait()
        .await
        .unwrap_err();
    assert!(e.concerns_every_object(), "{e}");
    assert!(
        e.to_string().contains("does not implement object lock"),
        "{e}"
    );
    let sent = unlocking
        .injected
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!((1..=16).contains(&sent), "{sent} of 100 objects sent");
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
