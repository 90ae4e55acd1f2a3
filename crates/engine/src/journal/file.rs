//! [`FileJournalStore`]: journals as files of JSON lines in a state folder, each line appended
//! and synced before it counts. A torn last line (a crash mid-append) is ignored on replay and
//! cut; any other damage is an error, never a silent restart.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::{
    Destination, JOURNAL_VERSION, Journal, JournalError, JournalHandle, JournalStore, Line,
    PartRecord, SourceIdentity, UploadRecord, unix_now,
};
use crate::checksum::hex_lower;

/// Journals as files in a folder: `$FERRY_STATE_DIR`, else `$XDG_STATE_HOME/ferry`, else
/// `~/.local/state/ferry`.
#[derive(Debug, Clone)]
pub struct FileJournalStore {
    dir: PathBuf,
}

impl FileJournalStore {
    /// A store in `dir` (created 0700 when first written).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The default folder, from the environment.
    pub fn default_dir() -> Option<PathBuf> {
        if let Some(d) = std::env::var_os("FERRY_STATE_DIR").filter(|d| !d.is_empty()) {
            return Some(PathBuf::from(d));
        }
        if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
            return Some(PathBuf::from(d).join("ferry"));
        }
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".local/state/ferry"))
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.journal"))
    }

    /// The journals a transfer is driving now: a process holds their lock. Read from the
    /// kernel's list (`/proc/locks`, once) rather than by trying each lock, which, however
    /// briefly held, could refuse a ferry starting that moment. Empty when the list cannot
    /// be read.
    pub fn in_use(&self) -> std::collections::HashSet<String> {
        use std::os::unix::fs::MetadataExt as _;
        let Ok(locks) = std::fs::read_to_string("/proc/locks") else {
            return Default::default();
        };
        // Each lock's file as the list names it: device major:minor in hex, then the inode.
        let held: std::collections::HashSet<&str> = locks
            .lines()
            .filter(|line| line.split_whitespace().any(|f| f == "FLOCK"))
            .flat_map(|line| {
                line.split_whitespace()
                    .filter(|f| f.matches(':').count() == 2)
            })
            .collect();
        let ids = <Self as JournalStore>::list(self).unwrap_or_default();
        ids.into_iter()
            .filter(|id| {
                std::fs::metadata(self.path(id)).is_ok_and(|meta| {
                    let dev = meta.dev();
                    let file = format!(
                        "{:02x}:{:02x}:{}",
                        rustix::fs::major(dev),
                        rustix::fs::minor(dev),
                        meta.ino()
                    );
                    held.contains(file.as_str())
                })
            })
            .collect()
    }

    fn io(&self, path: &Path, source: std::io::Error) -> JournalError {
        JournalError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl JournalStore for FileJournalStore {
    fn id_for(&self, destination: &Destination, source: &Path) -> String {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        for part in [
            destination.endpoint.as_bytes(),
            destination.bucket.as_bytes(),
            destination.key.as_bytes(),
            source.as_os_str().as_encoded_bytes(),
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        format!("up-{}", &hex_lower(&h.finalize())[..20])
    }

    fn open(&self, id: &str) -> Result<Box<dyn JournalHandle>, JournalError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| self.io(&self.dir, e))?;
        let path = self.path(id);
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| self.io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(JournalError::Locked { id: id.into() });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(self.io(&path, e)),
        }
        Ok(Box::new(FileJournal {
            id: id.to_string(),
            path,
            file,
        }))
    }

    fn list(&self) -> Result<Vec<String>, JournalError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io(&self.dir, e)),
        };
        let mut ids = Vec::new();
        for e in entries {
            let e = e.map_err(|e| self.io(&self.dir, e))?;
            if let Some(id) = e
                .file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".journal"))
            {
                ids.push(id.to_string());
            }
        }
        ids.sort();
        Ok(ids)
    }

    fn peek(&self, id: &str) -> Result<Option<Journal>, JournalError> {
        // An id is a file name in the folder, never a path out of it (nor one too long to be
        // a name): anything else is no journal of this store.
        if id.is_empty() || id.len() > 200 || id.contains('/') || id.starts_with('.') {
            return Ok(None);
        }
        let path = self.path(id);
        match File::open(&path) {
            Ok(f) => replay(id, &path, f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io(&path, e)),
        }
    }

    fn folder(&self) -> Option<&Path> {
        Some(&self.dir)
    }
}

/// A journal file, locked.
#[derive(Debug)]
struct FileJournal {
    id: String,
    path: PathBuf,
    file: File,
}

impl FileJournal {
    fn append(&mut self, line: &Line) -> Result<(), JournalError> {
        let mut text = serde_json::to_string(line).expect("journal lines serialize");
        text.push('\n');
        let io = |e| JournalError::Io {
            path: self.path.clone(),
            source: e,
        };
        self.file.write_all(text.as_bytes()).map_err(io)?;
        // Durable before it counts: a part is done only once its line survives a crash.
        self.file.sync_data().map_err(|e| JournalError::Io {
            path: self.path.clone(),
            source: e,
        })
    }
}

impl JournalHandle for FileJournal {
    fn id(&self) -> &str {
        &self.id
    }

    fn replay(&mut self) -> Result<Option<Journal>, JournalError> {
        let f = File::open(&self.path).map_err(|e| JournalError::Io {
            path: self.path.clone(),
            source: e,
        })?;
        let journal = replay(&self.id, &self.path, f)?;
        if journal.as_ref().is_some_and(|j| j.torn_tail) {
            // Cut the torn line off, so appends start on a line of their own.
            let len = valid_length(&self.path).map_err(|e| JournalError::Io {
                path: self.path.clone(),
                source: e,
            })?;
            self.file.set_len(len).map_err(|e| JournalError::Io {
                path: self.path.clone(),
                source: e,
            })?;
        }
        Ok(journal)
    }

    fn write_intent(
        &mut self,
        destination: &Destination,
        source: &SourceIdentity,
    ) -> Result<u64, JournalError> {
        self.file.set_len(0).map_err(|e| JournalError::Io {
            path: self.path.clone(),
            source: e,
        })?;
        let started = unix_now();
        self.append(&Line::Intent {
            v: JOURNAL_VERSION,
            destination: destination.clone(),
            source: source.clone(),
            started,
        })?;
        Ok(started)
    }

    fn write_upload(&mut self, upload: &UploadRecord) -> Result<(), JournalError> {
        self.append(&Line::Upload {
            v: JOURNAL_VERSION,
            upload: Box::new(upload.clone()),
        })
    }

    fn write_part(&mut self, part: &PartRecord) -> Result<(), JournalError> {
        self.append(&Line::Part {
            v: JOURNAL_VERSION,
            part: part.clone(),
        })
    }

    fn remove(self: Box<Self>) -> Result<(), JournalError> {
        std::fs::remove_file(&self.path).map_err(|e| JournalError::Io {
            path: self.path.clone(),
            source: e,
        })
    }
}

/// The length of the file up to the end of its last complete line.
fn valid_length(path: &Path) -> std::io::Result<u64> {
    let data = std::fs::read(path)?;
    Ok(data
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i as u64 + 1))
}

fn replay(id: &str, path: &Path, file: File) -> Result<Option<Journal>, JournalError> {
    let damaged = |line: usize, reason: String| JournalError::Damaged {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut raw = Vec::new();
    let mut reader = BufReader::new(file);
    loop {
        let mut buf = Vec::new();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| JournalError::Io {
                path: path.to_path_buf(),
                source: e,
            })?;
        if n == 0 {
            break;
        }
        raw.push(buf);
    }
    if raw.is_empty() {
        return Ok(None);
    }
    let mut journal: Option<Journal> = None;
    let mut torn_tail = false;
    let last = raw.len() - 1;
    for (i, bytes) in raw.iter().enumerate() {
        let complete = bytes.ends_with(b"\n");
        let parsed = std::str::from_utf8(bytes)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<Line>(t.trim_end()).map_err(|e| e.to_string()));
        let line = match parsed {
            Ok(l) if complete || i < last => l,
            // The last line, cut short by a crash mid-append: ignore it.
            Ok(_) | Err(_) if i == last && !complete => {
                torn_tail = true;
                break;
            }
            Err(e) if i == last => {
                // A complete but unparsable last line is damage too: a crash cannot write a
                // newline after a partial record.
                return Err(damaged(i + 1, e));
            }
            Err(e) => return Err(damaged(i + 1, e)),
            Ok(l) => l,
        };
        match (line, &mut journal) {
            (
                Line::Intent {
                    v,
                    destination,
                    source,
                    started,
                },
                None,
            ) => {
                if v > JOURNAL_VERSION {
                    return Err(damaged(
                        i + 1,
                        format!(
                            "schema version {v} is newer than this ferry's ({JOURNAL_VERSION}); use a newer ferry"
                        ),
                    ));
                }
                journal = Some(Journal {
                    id: id.to_string(),
                    destination,
                    source,
                    started,
                    upload: None,
                    parts: Vec::new(),
                    torn_tail: false,
                });
            }
            (Line::Upload { upload, .. }, Some(j)) if j.upload.is_none() => {
                j.upload = Some(*upload)
            }
            (Line::Part { part, .. }, Some(j)) if j.upload.is_some() => j.parts.push(part),
            (other, _) => {
                return Err(damaged(
                    i + 1,
                    format!("a {} record out of order", line_kind(&other)),
                ));
            }
        }
    }
    match journal {
        Some(mut j) => {
            j.torn_tail = torn_tail;
            Ok(Some(j))
        }
        // Only a torn intent: the upload was never created.
        None if torn_tail => Ok(None),
        None => Err(damaged(1, "no intent record".into())),
    }
}

fn line_kind(l: &Line) -> &'static str {
    match l {
        Line::Intent { .. } => "intent",
        Line::Upload { .. } => "upload",
        Line::Part { .. } => "part",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn dest() -> Destination {
        Destination {
            endpoint: "http://127.0.0.1:9000".into(),
            bucket: "b".into(),
            key: "k".into(),
        }
    }

    fn source(dir: &Path) -> SourceIdentity {
        let p = dir.join("src.bin");
        std::fs::write(&p, b"data").unwrap();
        SourceIdentity::of(&p).unwrap()
    }

    fn upload() -> UploadRecord {
        UploadRecord {
            upload_id: "UP-1".into(),
            part_size: 5 << 20,
            parts: 3,
            checksum: "CRC64NVME".into(),
            checksum_type: Some("FULL_OBJECT".into()),
            sse_c_key_md5: None,
            expected_bucket_owner: None,
            request_payer: false,
            remove_source: false,
            object_lock: None,
            object: None,
        }
    }

    fn part(n: u32) -> PartRecord {
        PartRecord {
            part: n,
            size: 5 << 20,
            etag: format!("\"etag{n}\""),
            crc64nvme: "AAAAAAAAAAA=".into(),
            checksum: Some("AAAAAAAAAAA=".into()),
        }
    }

    /// A journal in `dir` with its intent, its upload and part 1 written.
    fn started(dir: &Path) -> (FileJournalStore, String, Box<dyn JournalHandle>) {
        let store = FileJournalStore::new(dir);
        let src = source(dir);
        let id = store.id_for(&dest(), &src.path);
        let mut j = store.open(&id).unwrap();
        j.write_intent(&dest(), &src).unwrap();
        j.write_upload(&upload()).unwrap();
        j.write_part(&part(1)).unwrap();
        (store, id, j)
    }

    #[test]
    fn records_replay_and_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileJournalStore::new(dir.path().join("state"));
        let src = source(dir.path());
        let id = store.id_for(&dest(), &src.path);
        assert_eq!(id, store.id_for(&dest(), &src.path), "ids are stable");
        let mut j = store.open(&id).unwrap();
        assert_eq!(j.replay().unwrap(), None);
        j.write_intent(&dest(), &src).unwrap();
        j.write_upload(&upload()).unwrap();
        j.write_part(&part(2)).unwrap();
        j.write_part(&part(1)).unwrap();
        let mode = std::fs::metadata(store.path(&id))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let dmode = std::fs::metadata(store.dir()).unwrap().permissions().mode();
        assert_eq!(dmode & 0o777, 0o700);
        // A second handle is refused while the first holds the lock, which the kernel's list
        // shows.
        assert!(matches!(store.open(&id), Err(JournalError::Locked { .. })));
        assert!(store.in_use().contains(&id));
        drop(j);
        assert!(store.in_use().is_empty());
        let mut j = store.open(&id).unwrap();
        let replayed = j.replay().unwrap().unwrap();
        assert_eq!(replayed.upload, Some(upload()));
        assert_eq!(replayed.parts, vec![part(2), part(1)]);
        assert_eq!(replayed.source, src);
        assert!(!replayed.torn_tail);
        assert_eq!(store.list().unwrap(), vec![id.clone()]);
        // An id that is not a name in the folder is none of its journals.
        let outside = FileJournalStore::new(dir.path().join("state/sub"));
        assert_eq!(outside.peek(&format!("../{id}")).unwrap(), None);
        assert_eq!(store.peek(&"x".repeat(300)).unwrap(), None);
        j.remove().unwrap();
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_cut() {
        let dir = tempfile::tempdir().unwrap();
        let (store, id, j) = started(dir.path());
        drop(j);
        // A crash in the middle of appending part 2.
        let mut f = OpenOptions::new()
            .append(true)
            .open(store.path(&id))
            .unwrap();
        f.write_all(br#"{"type":"part","v":1,"part":2,"si"#)
            .unwrap();
        drop(f);
        let mut j = store.open(&id).unwrap();
        let r = j.replay().unwrap().unwrap();
        assert!(r.torn_tail);
        assert_eq!(r.parts, vec![part(1)]);
        j.write_part(&part(2)).unwrap();
        drop(j);
        let r = store.peek(&id).unwrap().unwrap();
        assert_eq!(r.parts, vec![part(1), part(2)]);
        assert!(!r.torn_tail);
    }

    #[test]
    fn other_damage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (store, id, mut j) = started(dir.path());
        j.write_part(&part(2)).unwrap();
        drop(j);
        let path = store.path(&id);
        let text = std::fs::read_to_string(&path).unwrap();
        let broken = text.replacen("\"part\":1", "\"part\":\"one\"", 1);
        std::fs::write(&path, broken).unwrap();
        let err = store.open(&id).unwrap().replay().unwrap_err();
        assert!(
            matches!(err, JournalError::Damaged { line: 3, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("damaged at line 3"), "{err}");
        // Out of order: a part before the upload record.
        std::fs::write(
            &path,
            text.lines().next().unwrap().to_string() + "\n" + text.lines().nth(2).unwrap() + "\n",
        )
        .unwrap();
        let err = store.open(&id).unwrap().replay().unwrap_err();
        assert!(err.to_string().contains("out of order"), "{err}");
    }
}
