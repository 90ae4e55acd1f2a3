//! The transfer core's decisions, against the in-memory S3 (fast, no server): what the budgets
//! let run at once, what a resume sends again, what a throttled server makes the manager do,
//! how a bandwidth limit paces, which failure stops a tree, what a download to memory may
//! hold, what a journal that cannot be written leaves, which entries a tree of some sends. The
//! real-server tests are the evidence that transfers work; these pin down the scheduling.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_engine::{
    Copy, Destination, Download, ErrorKind, Event, FileJournalStore, Journal, JournalError,
    JournalHandle, JournalStore, Manager, ManagerConfig, ObjectSource, PartRecord, PlanConfig,
    Source, SourceIdentity, Target, TreeUpload, Upload, UploadRecord, UploadSettings,
};
use ferry_testkit::{FailingClient, Fault, MemoryClient};

const MIB: usize = 1024 * 1024;

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 9) as u8)
        .collect()
}

/// A file of `len` bytes in a new folder: the folder (kept while it lives), the path, the bytes.
fn file(len: usize, seed: u8) -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    let body = data(len, seed);
    std::fs::write(&path, &body).unwrap();
    (dir, path, body)
}

fn parts_of_5mib() -> UploadSettings {
    UploadSettings {
        plan: PlanConfig {
            part_size: Some(5 * MIB as u64),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn memory_s3(delay_ms: u64) -> MemoryClient {
    let s3 = MemoryClient::new(Duration::from_millis(delay_ms));
    s3.bucket("b");
    s3
}

fn manager<C: ferry_s3::ObjectClient>(client: Arc<C>, config: ManagerConfig) -> Manager<C> {
    Manager::new(client, config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_never_pass_the_budget() {
    let s3 = memory_s3(20);
    let (_dir, path, body) = file(40 * MIB, 1);
    let m = manager(
        Arc::new(s3.clone()),
        ManagerConfig {
            max_requests: 3,
            ..Default::default()
        },
    );
    let upload = Upload::new(Source::File(path), "b", "k").settings(parts_of_5mib());
    let o = m.upload(upload).wait().await.unwrap();
    assert_eq!(o.parts, 8);
    assert_eq!(s3.object("b", "k").unwrap(), body);
    assert_eq!(s3.most_in_flight(), 3, "the budget, and all of it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_memory_budget_bounds_the_parts_in_flight() {
    let s3 = memory_s3(20);
    let (_dir, path, _) = file(40 * MIB, 2);
    // A file part holds four 1 MiB chunks: 8 MiB of budget, two parts at a time.
    let m = manager(
        Arc::new(s3.clone()),
        ManagerConfig {
            max_requests: 16,
            parts_per_object: 16,
            memory_limit: 8 * MIB as u64,
            ..Default::default()
        },
    );
    let upload = Upload::new(Source::File(path), "b", "k").settings(parts_of_5mib());
    m.upload(upload).wait().await.unwrap();
    assert_eq!(s3.most_in_flight(), 2);
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_past_twice_the_requests_wait_for_their_turn_unstarted_and_uncounted() {
    let s3 = memory_s3(200);
    let m = manager(
        Arc::new(s3.clone()),
        ManagerConfig {
            max_requests: 2,
            ..Default::default()
        },
    );
    let upload = |i: u8| Upload::new(Source::Bytes(data(4096, i).into()), "b", format!("k{i}"));
    let handles: Vec<_> = (0..10).map(|i| m.upload(upload(i))).collect();
    // Watched before its turn: it sees every event from its start.
    let mut last = handles[9].subscribe();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Four have their turn and have announced their size; the other six have not started.
    let p = m.progress().snapshot();
    assert_eq!((p.total, p.objects, p.objects_done), (4 * 4096, 4, 0));
    assert_eq!(s3.calls("PutObject"), 2, "two requests in flight");
    let mut handles = handles.into_iter();
    let first = handles.next().unwrap().wait().await.unwrap();
    assert_eq!(first.key, "k0");
    // Watched only once it has ended: still every event from its start.
    let second = handles.next().unwrap();
    while m.progress().snapshot().parts_done < 8 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut late = second.subscribe();
    let mut seen = Vec::new();
    while let Ok(e) = late.recv().await {
        seen.push(e);
    }
    assert!(
        matches!(seen.first(), Some(Event::Planned { .. })),
        "{seen:?}"
    );
    match seen.last() {
        Some(Event::Finished(o)) => assert_eq!(o.key, "k1"),
        e => panic!("expected the end last, got {e:?}"),
    }
    second.wait().await.unwrap();
    for h in handles {
        h.wait().await.unwrap();
    }
    assert!(matches!(last.recv().await.unwrap(), Event::Planned { .. }));
    assert_eq!(s3.object("b", "k9").unwrap(), data(4096, 9));
    let p = m.progress().snapshot();
    assert_eq!((p.total, p.objects, p.objects_done), (10 * 4096, 10, 10));
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
async fn a_request_refused_for_how_it_was_signed_is_tried_again_once_at_once_and_free() {
    // The client signs anew once refused for the clock or the region (ferry-s3's S3Client
    // learns the server's time or the bucket's region from the refusal), so one attempt more
    // can pass. The backoff would be seconds: none is waited, and no quota is spent.
    let config = || ManagerConfig {
        retry: ferry_engine::RetryPolicy {
            base: Duration::from_secs(10),
            ..Default::default()
        },
        ..Default::default()
    };
    let upload = || Upload::new(Source::Bytes(data(4096, 7).into()), "b", "k");
    for (refusal, code) in [
        (
            ferry_testkit::clock_skew as fn() -> ferry_s3::S3Error,
            "RequestTimeTooSkewed",
        ),
        (ferry_testkit::wrong_region, "AuthorizationHeaderMalformed"),
    ] {
        let s3 = memory_s3(0);
        let failing = Arc::new(FailingClient::new(
            s3.clone(),
            vec![Fault::new("PutObject", 1, refusal)],
        ));
        let m = manager(failing, config());
        let start = Instant::now();
        m.upload(upload()).wait().await.unwrap();
        let took = start.elapsed();
        assert!(took < Duration::from_secs(2), "{code}: {took:?}");
        assert_eq!(s3.object("b", "k").unwrap(), data(4096, 7));
        assert_eq!(m.quota().available(), ferry_engine::QUOTA_TOKENS, "{code}");
        // Refused again: signing anew did not help, and nothing more is tried.
        let failing = Arc::new(FailingClient::new(
            memory_s3(0),
            vec![Fault::new("PutObject", 100, refusal)],
        ));
        let err = manager(failing.clone(), config())
            .upload(upload())
            .wait()
            .await
            .unwrap_err();
        assert!(err.to_string().contains(code), "{err}");
        let tries = failing.injected.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(tries, 2, "{code}");
    }
}

/// A manager's settings for a resume test: one part at a time, journals in `dir`, two quick
/// attempts a request.
fn resumable(dir: &std::path::Path) -> ManagerConfig {
    ManagerConfig {
        max_requests: 1,
        parts_per_object: 1,
        journal: Some(Arc::new(FileJournalStore::new(dir.join("state")))),
        retry: ferry_engine::RetryPolicy {
            max_attempts: 2,
            base: Duration::from_millis(1),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// A file of 30 MiB (six parts of 5 MiB) uploaded to `s3` until part `fails` fails for good
/// (retries run out on a transient fault, before the server): parts before it are stored and
/// journaled, the upload kept. The folder, the file's bytes, and the journal id to resume.
async fn kept_at_part(
    s3: &MemoryClient,
    fails: u32,
    seed: u8,
) -> (tempfile::TempDir, Vec<u8>, String) {
    let (dir, path, body) = file(30 * MIB, seed);
    let failing = Arc::new(FailingClient::new(
        s3.clone(),
        vec![Fault::new("UploadPart", 100, ferry_testkit::internal_error).on_part(fails)],
    ));
    let upload = Upload::new(Source::File(path), "b", "k").settings(parts_of_5mib());
    let err = manager(failing, resumable(dir.path()))
        .upload(upload)
        .wait()
        .await
        .unwrap_err();
    let id = err.resume_id().expect("kept").to_string();
    assert_eq!(s3.uploads(), 1);
    assert_eq!(
        s3.calls("UploadPart"),
        fails - 1,
        "the parts before {fails} stored"
    );
    (dir, body, id)
}

/// Resumes journal `id` (in `dir`) on `s3` to the end.
async fn resumed(
    s3: &MemoryClient,
    dir: &std::path::Path,
    id: &str,
) -> ferry_engine::UploadOutcome {
    let m = manager(Arc::new(s3.clone()), resumable(dir));
    m.resume(id, Default::default())
        .unwrap()
        .wait()
        .await
        .unwrap()
}

/// Journals whose intent cannot be written, as on a full disk; the rest as the files'.
#[derive(Debug)]
struct FullDisk(FileJournalStore);

/// A journal of [`FullDisk`].
#[derive(Debug)]
struct FullJournal(Box<dyn JournalHandle>);

impl JournalStore for FullDisk {
    fn id_for(&self, destination: &Destination, source: &std::path::Path) -> String {
        self.0.id_for(destination, source)
    }
    fn open(&self, id: &str) -> Result<Box<dyn JournalHandle>, JournalError> {
        Ok(Box::new(FullJournal(self.0.open(id)?)))
    }
    fn list(&self) -> Result<Vec<String>, JournalError> {
        self.0.list()
    }
    fn peek(&self, id: &str) -> Result<Option<Journal>, JournalError> {
        self.0.peek(id)
    }
}

impl JournalHandle for FullJournal {
    fn id(&self) -> &str {
        self.0.id()
    }
    fn replay(&mut self) -> Result<Option<Journal>, JournalError> {
        self.0.replay()
    }
    fn write_intent(&mut self, _: &Destination, _: &SourceIdentity) -> Result<u64, JournalError> {
        Err(JournalError::Io {
            path: self.0.id().into(),
            source: std::io::ErrorKind::StorageFull.into(),
        })
    }
    fn write_upload(&mut self, upload: &UploadRecord) -> Result<(), JournalError> {
        self.0.write_upload(upload)
    }
    fn write_part(&mut self, part: &PartRecord) -> Result<(), JournalError> {
        self.0.write_part(part)
    }
    fn remove(self: Box<Self>) -> Result<(), JournalError> {
        self.0.remove()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_that_cannot_be_written_leaves_no_journal_and_creates_no_upload() {
    let s3 = memory_s3(0);
    let (dir, path, _) = file(30 * MIB, 5);
    let state = dir.path().join("state");
    let config = ManagerConfig {
        journal: Some(Arc::new(FullDisk(FileJournalStore::new(&state)))),
        ..resumable(dir.path())
    };
    let upload = Upload::new(Source::File(path), "b", "k").settings(parts_of_5mib());
    let err = manager(Arc::new(s3.clone()), config)
        .upload(upload)
        .wait()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Local, "{err}");
    assert!(err.to_string().contains("free some space"), "{err}");
    assert!(err.resume_id().is_none(), "{err}");
    let left: Vec<_> = std::fs::read_dir(&state).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(s3.calls("CreateMultipartUpload"), 0);
    assert_eq!(s3.uploads(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_sends_only_what_the_server_lacks() {
    let s3 = memory_s3(0);
    let (dir, body, id) = kept_at_part(&s3, 4, 3).await;
    // The server lost part 2 meanwhile: the resume sends it, and parts 4 to 6.
    s3.lose_part(2);
    let o = resumed(&s3, dir.path(), &id).await;
    assert_eq!(o.parts, 6);
    assert_eq!(s3.calls("UploadPart"), 3 + 4, "parts 2, 4, 5 and 6");
    assert_eq!(s3.calls("ListParts"), 1);
    assert_eq!(s3.object("b", "k").unwrap(), body);
    assert_eq!(s3.uploads(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_keeps_a_part_the_server_holds_that_the_journal_missed_when_its_bytes_match() {
    use ferry_s3::{Body, ListMultipartUploadsRequest, ObjectClient, UploadPartRequest};
    let s3 = memory_s3(0);
    let (dir, body, id) = kept_at_part(&s3, 3, 5).await;
    // The server holds parts the journal never heard of, as when a run ends between a part's
    // answer and its record: part 3 with the file's bytes, part 4 with other bytes.
    let listing = ListMultipartUploadsRequest {
        bucket: "b".into(),
        ..Default::default()
    };
    let upload_id = s3.list_multipart_uploads(&listing).await.unwrap().uploads[0]
        .upload_id
        .clone();
    for (n, bytes) in [
        (3, body[10 * MIB..15 * MIB].to_vec()),
        (4, data(5 * MIB, 9)),
    ] {
        let part = UploadPartRequest {
            bucket: "b".into(),
            key: "k".into(),
            upload_id: upload_id.clone(),
            part_number: n,
            body: Body::Bytes(bytes.into()),
            content_md5: None,
            checksum: None,
            request: Default::default(),
        };
        s3.upload_part(part).await.unwrap();
    }
    let o = resumed(&s3, dir.path(), &id).await;
    assert_eq!(o.parts, 6);
    assert_eq!(
        s3.calls("UploadPart"),
        4 + 3,
        "parts 4 (not the file's), 5 and 6"
    );
    assert_eq!(s3.object("b", "k").unwrap(), body);
    assert_eq!(s3.uploads(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_copy_resumes_as_a_copy() {
    let s3 = memory_s3(0);
    s3.insert("b", "src", data(22 * MIB, 4));
    let dir = tempfile::tempdir().unwrap();
    let failing = Arc::new(FailingClient::new(
        s3.clone(),
        vec![Fault::new("UploadPartCopy", 100, ferry_testkit::internal_error).on_part(3)],
    ));
    let config = || ManagerConfig {
        max_requests: 1,
        parts_per_object: 1,
        journal: Some(Arc::new(FileJournalStore::new(dir.path()))),
        retry: ferry_engine::RetryPolicy {
            max_attempts: 1,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut copy = Copy::new(ObjectSource::new("b", "src"), "b", "dst");
    copy.settings = parts_of_5mib();
    let err = manager(failing, config())
        .copy(copy)
        .wait()
        .await
        .unwrap_err();
    let id = err.resume_id().expect("kept").to_string();
    assert_eq!(s3.calls("UploadPartCopy"), 2, "parts 1 and 2 copied");
    let m = manager(Arc::new(s3.clone()), config());
    m.resume(&id, Default::default())
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(s3.calls("UploadPartCopy"), 2 + 3, "parts 3 to 5");
    assert_eq!(s3.calls("UploadPart"), 0, "nothing read as a file");
    assert_eq!(s3.object("b", "dst"), s3.object("b", "src"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_down_halves_the_requests_in_flight() {
    let s3 = memory_s3(5);
    let (_dir, path, _) = file(40 * MIB, 5);
    let failing = Arc::new(FailingClient::new(
        s3.clone(),
        vec![Fault::new("UploadPart", 2, ferry_testkit::slow_down).on_part(2)],
    ));
    let m = manager(
        failing,
        ManagerConfig {
            max_requests: 8,
            retry: ferry_engine::RetryPolicy {
                throttle_base: Duration::from_millis(1),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    let handle = m.upload(Upload::new(Source::File(path), "b", "k").settings(parts_of_5mib()));
    let mut events = handle.subscribe();
    handle.wait().await.unwrap();
    let mut limits = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let Event::Concurrency { limit } = e {
            limits.push(limit);
        }
    }
    // Halved on each SlowDown (successes in between may raise it a little).
    assert_eq!(limits[0], 4, "{limits:?}");
    let mut before = 8;
    let mut halvings = 0;
    for &l in &limits {
        if l < before {
            assert_eq!(l, before / 2, "{limits:?}");
            halvings += 1;
        }
        before = l;
    }
    assert_eq!(halvings, 2, "{limits:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bandwidth_limit_paces_uploads_and_downloads_together() {
    let s3 = memory_s3(0);
    let m = manager(
        Arc::new(s3.clone()),
        ManagerConfig {
            bandwidth: Some(4 * MIB as u64),
            ..Default::default()
        },
    );
    let body = bytes::Bytes::from(data(2 * MIB, 6));
    let start = Instant::now();
    // 2 MiB up and the same 2 MiB down at once: 4 MiB at 4 MiB/s.
    m.upload(Upload::new(Source::Bytes(body.clone()), "b", "first"))
        .wait()
        .await
        .unwrap();
    let up = m.upload(Upload::new(Source::Bytes(body.clone()), "b", "second"));
    let down = m.download(Download::new("b", "first", Target::Memory));
    let (up, down) = tokio::join!(up.wait(), down.wait());
    up.unwrap();
    assert_eq!(down.unwrap().data.unwrap(), body);
    let took = start.elapsed();
    // 6 MiB in all at 4 MiB/s: about 1.5 s, less the allowance.
    assert!(
        took >= Duration::from_millis(1200) && took < Duration::from_secs(4),
        "{took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_to_memory_is_held_to_the_memory_budget() {
    let s3 = memory_s3(0);
    s3.insert("b", "small", data(4 * MIB, 7));
    s3.insert("b", "big", data(9 * MIB, 8));
    let m = manager(
        Arc::new(s3.clone()),
        ManagerConfig {
            memory_limit: 8 * MIB as u64,
            ..Default::default()
        },
    );
    let got = m.download(Download::new("b", "small", Target::Memory));
    assert_eq!(got.wait().await.unwrap().data.unwrap(), data(4 * MIB, 7));
    let refused = m.download(Download::new("b", "big", Target::Memory));
    let e = refused.wait().await.unwrap_err();
    assert_eq!(e.kind(), ferry_engine::ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("s3://b/big is 9437184 bytes"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_to_a_folder_is_refused_before_any_byte_and_missing_folders_are_made() {
    let s3 = memory_s3(0);
    s3.insert("b", "k", data(6 * MIB, 9));
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let into_folder = m.download(Download::new("b", "k", Target::File(dir.path().into())));
    let e = into_folder.wait().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("is a folder"), "{e}");
    assert_eq!(s3.calls("GetObject") + s3.calls("HeadObject"), 0);
    let beside: Vec<_> = std::fs::read_dir(dir.path().parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name().to_string_lossy().starts_with(&format!(
                "{}.ferry",
                dir.path().file_name().unwrap().to_string_lossy()
            ))
        })
        .collect();
    assert!(beside.is_empty(), "nothing is left beside the folder");
    let deep = dir.path().join("new/deeper/k");
    let into_new = m.download(Download::new("b", "k", Target::File(deep.clone())));
    into_new.wait().await.unwrap();
    assert_eq!(std::fs::read(&deep).unwrap(), data(6 * MIB, 9));
    std::fs::write(dir.path().join("file"), b"x").unwrap();
    let under_a_file = Target::File(dir.path().join("file/k"));
    let e = m
        .download(Download::new("b", "k", under_a_file))
        .wait()
        .await
        .unwrap_err();
    assert!(
        e.to_string().ends_with("file is a file, not a folder"),
        "{e}"
    );
}

/// A stream whose bytes run out into an error (`fail`, once `sent` has taken two parts, so the
/// failure always lands midway) or a writer that stays silent.
struct Stalling {
    bytes: std::io::Cursor<Vec<u8>>,
    fail: bool,
    sent: MemoryClient,
}

impl tokio::io::AsyncRead for Stalling {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::io::Read as _;
        let want = buf.remaining().min(64 * 1024);
        let mut chunk = vec![0; want];
        let n = self.bytes.read(&mut chunk).unwrap();
        if n > 0 {
            buf.put_slice(&chunk[..n]);
            return std::task::Poll::Ready(Ok(()));
        }
        if self.fail && self.sent.calls("UploadPart") >= 2 {
            return std::task::Poll::Ready(Err(std::io::Error::other("the producer died")));
        }
        if self.fail {
            // Asked again soon: the parts are on their way.
            cx.waker().wake_by_ref();
        }
        std::task::Poll::Pending
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_fails_or_goes_silent_midway_leaves_no_upload() {
    let s3 = memory_s3(0);
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    let stream = |fail| Source::Reader {
        reader: Box::new(Stalling {
            bytes: std::io::Cursor::new(data(30 * MIB, 3)),
            fail,
            sent: s3.clone(),
        }),
        size: None,
    };
    // A read error after two parts went up: the upload is aborted, not left behind.
    let e = m
        .upload(Upload::new(stream(true), "b", "failed").settings(parts_of_5mib()))
        .wait()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("the producer died"), "{e}");
    assert!(s3.calls("UploadPart") >= 2);
    assert_eq!(s3.uploads(), 0, "a failed stream left its upload");
    assert!(s3.object("b", "failed").is_none());

    // A writer that goes silent: a cancel ends the upload at once and aborts it.
    let h = m.upload(Upload::new(stream(false), "b", "silent").settings(parts_of_5mib()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.cancel();
    let e = tokio::time::timeout(Duration::from_secs(5), h.wait())
        .await
        .expect("the cancel waited for the stream")
        .unwrap_err();
    assert_eq!(e.kind(), ferry_engine::ErrorKind::Cancelled, "{e}");
    assert_eq!(s3.uploads(), 0, "a cancelled stream left its upload");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_pipe_is_read_and_written_as_a_stream() {
    use std::os::unix::fs::FileTypeExt as _;
    let s3 = memory_s3(0);
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let body = data(18 * MIB, 5);
    let writer = {
        let (fifo, body) = (fifo.clone(), body.clone());
        std::thread::spawn(move || std::fs::write(fifo, body).unwrap())
    };
    let up = m.upload(Upload::new(Source::File(fifo.clone()), "b", "k"));
    let o = up.wait().await.unwrap();
    writer.join().unwrap();
    assert_eq!(o.size, body.len() as u64);
    assert_eq!(s3.object("b", "k").unwrap(), body);

    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let down = m.download(Download::new("b", "k", Target::File(fifo.clone())));
    let o = down.wait().await.unwrap();
    assert_eq!(reader.join().unwrap(), body);
    assert_eq!(o.path.as_deref(), Some(fifo.as_path()));
    let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(kind.is_fifo(), "the pipe was replaced by {kind:?}");
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

/// A source that cannot be read is refused with the operating system's error as its source,
/// so a program can tell a missing file from a denied one; nothing is sent.
#[tokio::test]
async fn an_unreadable_source_carries_its_io_error() {
    let s3 = memory_s3(0);
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("gone");
    let io_kind = |e: &ferry_engine::Error| {
        std::error::Error::source(e)
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .map(std::io::Error::kind)
    };
    let e = m
        .upload(Upload::new(Source::File(gone.clone()), "b", "k"))
        .wait()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert_eq!(io_kind(&e), Some(std::io::ErrorKind::NotFound), "{e}");
    let e = m
        .upload_tree(TreeUpload::new(&gone, "b", "t/"))
        .wait()
        .await
        .unwrap_err();
    assert_eq!(io_kind(&e), Some(std::io::ErrorKind::NotFound), "{e}");
    assert_eq!(s3.calls("PutObject") + s3.calls("CreateMultipartUpload"), 0);
}

/// On one server, a prefix copied into one that holds it, or into itself without REPLACE,
/// is refused before a request is sent (its copies would be listed and copied again); onto
/// itself with REPLACE, each object is rewritten once, in place.
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
}
