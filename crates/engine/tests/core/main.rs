//! The transfer core's decisions, against the in-memory S3 (fast, no server): what the budgets
//! let run at once, what a resume sends again, what a throttled server makes the manager do,
//! how a bandwidth limit paces, which failure stops a tree, what a download to memory may
//! hold, what a journal that cannot be written leaves, which entries a tree of some sends. The
//! real-server tests are the evidence that transfers work; these pin down the scheduling.
//!
//! Here: the budgets, the retry loop, downloads, streams and sources; `resume` and `tree` hold
//! their own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_engine::{
    Copy, Destination, Download, ErrorKind, Event, FileJournalStore, Journal, JournalError,
    JournalHandle, JournalStore, Manager, ManagerConfig, ObjectSource, PartRecord, PlanConfig,
    Source, SourceIdentity, Target, TreeUpload, Upload, UploadRecord, UploadSettings,
};
use ferry_testkit::{FailingClient, Fault, MemoryClient};

const MIB: usize = 1024 * 1024;

mod lock;
mod remove;
mod restore;
mod resume;
mod tree;

pub(crate) fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 9) as u8)
        .collect()
}

/// A file of `len` bytes in a new folder: the folder (kept while it lives), the path, the bytes.
pub(crate) fn file(len: usize, seed: u8) -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    let body = data(len, seed);
    std::fs::write(&path, &body).unwrap();
    (dir, path, body)
}

pub(crate) fn parts_of_5mib() -> UploadSettings {
    UploadSettings {
        plan: PlanConfig {
            part_size: Some(5 * MIB as u64),
            ..Default::default()
        },
        ..Default::default()
    }
}

pub(crate) fn memory_s3(delay_ms: u64) -> MemoryClient {
    let s3 = MemoryClient::new(Duration::from_millis(delay_ms));
    s3.bucket("b");
    s3
}

pub(crate) fn manager<C: ferry_s3::ObjectClient>(
    client: Arc<C>,
    config: ManagerConfig,
) -> Manager<C> {
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

/// A limit set while a transfer runs paces it from then on, and one lifted lets it go: a
/// manager made without a limit can be given one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bandwidth_limit_set_or_lifted_midway_takes_hold_at_once() {
    let s3 = memory_s3(0);
    let m = manager(Arc::new(s3.clone()), ManagerConfig::default());
    assert_eq!(m.bandwidth(), None);
    assert!(m.set_bandwidth(Some(1000)).is_err(), "under 1 KiB/s");
    m.set_bandwidth(Some(512 << 10)).unwrap();
    assert_eq!(m.bandwidth(), Some(512 << 10));
    // 8 MiB at 512 KiB/s would take 16 s; lifted after half a second, it ends at once.
    let body = bytes::Bytes::from(data(8 * MIB, 7));
    let start = Instant::now();
    let up = m.upload(Upload::new(Source::Bytes(body.clone()), "b", "k"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = m.progress().snapshot().bytes;
    assert!(sent <= 2 * MIB as u64, "{sent} bytes in 0.5 s at 512 KiB/s");
    m.set_bandwidth(None).unwrap();
    up.wait().await.unwrap();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(s3.object("b", "k").unwrap(), body);
    assert_eq!(m.bandwidth(), None);
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
async fn one_object_moved_alone_takes_its_bytes_from_the_transfer_allowance_before_it_starts() {
    let s3 = memory_s3(0);
    let (_dir, path, body) = file(12 * MIB, 3);
    let m = manager(
        Arc::new(s3.clone()),
        ManagerConfig {
            transfer_allowance: Some(20 * MIB as u64),
            ..Default::default()
        },
    );
    let upload =
        |key: &str| Upload::new(Source::File(path.clone()), "b", key).settings(parts_of_5mib());
    m.upload(upload("first")).wait().await.unwrap();
    assert_eq!(m.transfer_allowance(), Some(8 * MIB as u64));
    // 12 MiB more do not fit in the 8 left: neither an upload nor a download starts.
    let e = m.upload(upload("second")).wait().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OverAllowance, "{e}");
    assert!(s3.object("b", "second").is_none() && s3.uploads() == 0);
    let down = m.download(Download::new("b", "first", Target::Memory));
    let e = down.wait().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OverAllowance, "{e}");
    // What fits goes, and takes its share; lifted, everything fits.
    let small = Upload::new(Source::Bytes(data(MIB, 4).into()), "b", "small");
    m.upload(small).wait().await.unwrap();
    assert_eq!(m.transfer_allowance(), Some(7 * MIB as u64));
    m.set_transfer_allowance(None);
    let down = m.download(Download::new("b", "first", Target::Memory));
    assert_eq!(down.wait().await.unwrap().data.unwrap(), body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_read_back_is_compared_by_its_bytes_and_nothing_is_written() {
    let s3 = memory_s3(0);
    let bytes = data(13 * MIB, 3);
    s3.insert("b", "k", bytes.clone());
    let m = manager(
        Arc::new(s3.clone()),
        ManagerConfig {
            memory_limit: 8 * MIB as u64,
            ..Default::default()
        },
    );
    let req = |key: &str| ferry_s3::GetObjectRequest {
        bucket: "b".into(),
        key: key.into(),
        ..Default::default()
    };
    // Bigger than the memory budget: read in ranges, each let go once hashed.
    let read = m.read_back(req("k")).await.unwrap();
    assert_eq!(read.size, bytes.len() as u64);
    let mut h = ferry_engine::Hasher::new(ferry_s3::ChecksumAlgorithm::Crc64Nvme);
    h.update(&bytes);
    assert_eq!(read.crc64nvme, h.finish(bytes.len() as u64).base64());
    assert!(s3.calls("GetObject") > 1, "in ranges");

    let (dir, path, _) = file(13 * MIB, 3);
    assert!(m.file_holds(req("k"), &path).await.unwrap());
    let mut other = bytes.clone();
    other[9 * MIB] ^= 1;
    std::fs::write(&path, &other).unwrap();
    assert!(!m.file_holds(req("k"), &path).await.unwrap());
    // Another size is another object, said without a byte fetched.
    std::fs::write(&path, &bytes[1..]).unwrap();
    let gets = s3.calls("GetObject");
    assert!(!m.file_holds(req("k"), &path).await.unwrap());
    assert_eq!(s3.calls("GetObject"), gets);
    let entries = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(entries, 1, "nothing but the file is in its folder");
    let e = m.file_holds(req("none"), &path).await.unwrap_err();
    assert_eq!(e.s3().and_then(|e| e.status()), Some(404), "{e}");
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
