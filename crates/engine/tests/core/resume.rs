//! What a resume decides: what it sends again, what it keeps, what a journal that cannot be
//! written leaves, and a kept copy resumed as a copy.

use super::*;

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

/// A drain stops an upload gently: once part 2 is under way nothing new starts, the part in
/// flight is stored and journaled, and the upload ends `Cancelled`, kept; its resume sends
/// only the rest, so across both runs each part went once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_upload_keeps_what_was_in_flight_and_its_resume_sends_the_rest() {
    let s3 = memory_s3(20);
    let (dir, path, body) = file(30 * MIB, 9);
    let upload = Upload::new(Source::File(path), "b", "k").settings(parts_of_5mib());
    let handle = manager(Arc::new(s3.clone()), resumable(dir.path())).upload(upload);
    let mut events = handle.subscribe();
    let canceller = handle.canceller();
    let watch = tokio::spawn(async move {
        while let Ok(e) = events.recv().await {
            if matches!(e, ferry_engine::Event::PartStarted { part: 2, .. }) {
                canceller.drain();
                return;
            }
        }
    });
    let err = handle.wait().await.unwrap_err();
    watch.await.unwrap();
    assert_eq!(err.kind(), ferry_engine::ErrorKind::Cancelled, "{err}");
    let id = err.resume_id().expect("kept").to_string();
    let sent = s3.calls("UploadPart");
    assert!((2..6).contains(&sent), "part 2 finished, not all: {sent}");
    assert!(s3.object("b", "k").is_none());
    let o = resumed(&s3, dir.path(), &id).await;
    assert_eq!(o.parts, 6);
    assert_eq!(
        s3.calls("UploadPart"),
        6,
        "each part sent once across both runs"
    );
    assert_eq!(s3.object("b", "k").unwrap(), body);
    assert_eq!(s3.uploads(), 0);
}
