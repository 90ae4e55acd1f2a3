//! The upload journal: the durable record that lets an interrupted upload resume where it
//! stopped, even after `kill -9` or a reboot.
//!
//! One journal per (destination, source file), in a state folder, 0600, held with an exclusive
//! lock while a ferry process drives it. It is a file of JSON lines, each appended and synced
//! before it counts:
//!
//! 1. `intent`: written before CreateMultipartUpload (which is not idempotent), so an upload
//!    created by a request whose reply was lost can still be found and aborted;
//! 2. `upload`: the upload id, the plan, the checksum settings, the SSE-C key's MD5 (never the
//!    key);
//! 3. one `part` line per part the server acknowledged.
//!
//! A torn last line (a crash mid-append) is ignored on replay; any other damage is an error,
//! never a silent restart. Embedders can keep journals elsewhere through [`JournalStore`].

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The schema version written in every journal line.
pub const JOURNAL_VERSION: u32 = 1;

/// What identifies a source file: if any of this changed, the journal's parts may not be the
/// file's bytes any more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceIdentity {
    /// Canonical path.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Status change time, nanoseconds since the epoch.
    pub ctime_ns: i64,
    /// Inode number.
    pub inode: u64,
    /// Device number.
    pub device: u64,
    /// For an S3 object a copy reads (`path` is then its `s3://` URL): its ETag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

impl SourceIdentity {
    /// The identity of a file now.
    pub fn of(path: &Path) -> std::io::Result<Self> {
        let canonical = std::fs::canonicalize(path)?;
        let m = std::fs::metadata(&canonical)?;
        Ok(Self {
            path: canonical,
            size: m.len(),
            // i64 nanoseconds reach the year 2262.
            mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(),
            ctime_ns: m.ctime() * 1_000_000_000 + m.ctime_nsec(),
            inode: m.ino(),
            device: m.dev(),
            etag: None,
        })
    }

    /// What differs from `other`, in words, or `None`.
    pub fn difference(&self, other: &SourceIdentity) -> Option<String> {
        let mut d = Vec::new();
        if self.path != other.path {
            d.push("path");
        }
        if self.size != other.size {
            d.push("size");
        }
        if self.mtime_ns != other.mtime_ns {
            d.push("modification time");
        }
        if self.ctime_ns != other.ctime_ns {
            d.push("change time");
        }
        if self.inode != other.inode || self.device != other.device {
            d.push("inode");
        }
        if self.etag != other.etag {
            d.push("ETag");
        }
        (!d.is_empty()).then(|| d.join(", "))
    }

    /// How the file changed from `self` to `now`, for a person: `size 10 -> 12 bytes,
    /// modified at 2026-12-02T03:50:01.123456789Z`, or `None` when nothing did.
    pub fn change(&self, now: &SourceIdentity) -> Option<String> {
        self.difference(now)?;
        let mut d = Vec::new();
        if self.inode != now.inode || self.device != now.device || self.path != now.path {
            d.push("replaced by another file".to_string());
        }
        if self.size != now.size {
            d.push(format!("size {} -> {} bytes", self.size, now.size));
        }
        if self.mtime_ns != now.mtime_ns {
            d.push(format!("modified at {}", timestamp(now.mtime_ns)));
        } else if self.ctime_ns != now.ctime_ns {
            // Written with its modification time put back, or its mode or owner changed.
            d.push(format!("status changed at {}", timestamp(now.ctime_ns)));
        }
        if self.etag != now.etag {
            d.push(format!(
                "ETag {} -> {}",
                self.etag.as_deref().unwrap_or("none"),
                now.etag.as_deref().unwrap_or("none")
            ));
        }
        Some(d.join(", "))
    }
}

/// Nanoseconds since the epoch as an RFC 3339 time (UTC).
fn timestamp(ns: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{ns} ns after the epoch"))
}

/// Where an upload goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    /// The endpoint URL.
    pub endpoint: String,
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
}

/// The upload's settings, as needed to finish it (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    /// The upload id.
    pub upload_id: String,
    /// Part size.
    pub part_size: u64,
    /// Number of parts.
    pub parts: u32,
    /// The additional checksum algorithm (`CRC64NVME`, …), `md5` or `none`.
    pub checksum: String,
    /// Its type, for additional checksums.
    pub checksum_type: Option<String>,
    /// Base64 MD5 of the SSE-C key, to check a resume uses the same key.
    pub sse_c_key_md5: Option<String>,
}

/// A part the server acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    /// Part number.
    pub part: u32,
    /// Size.
    pub size: u64,
    /// ETag, quotes included.
    pub etag: String,
    /// Base64 CRC64NVME of the part as it was read: re-computed from the file on resume, so
    /// a file rewritten with the same size and times is caught.
    pub crc64nvme: String,
    /// Base64 of the part's additional checksum, for Complete (none with `md5` or `none`).
    pub checksum: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Line {
    Intent {
        v: u32,
        destination: Destination,
        source: SourceIdentity,
        /// Seconds since the epoch when the intent was written.
        started: u64,
    },
    Upload {
        v: u32,
        #[serde(flatten)]
        upload: UploadRecord,
    },
    Part {
        v: u32,
        #[serde(flatten)]
        part: PartRecord,
    },
}

/// A journal, as replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journal {
    /// Its id (the file name without extension).
    pub id: String,
    /// Where the upload goes.
    pub destination: Destination,
    /// The source, as it was when the upload began.
    pub source: SourceIdentity,
    /// When the intent was written (seconds since the epoch).
    pub started: u64,
    /// The upload, once created.
    pub upload: Option<UploadRecord>,
    /// Parts acknowledged, in the order recorded (a part number may repeat: the last wins).
    pub parts: Vec<PartRecord>,
    /// Whether a torn last line was ignored.
    pub torn_tail: bool,
}

/// Why a journal cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Another process holds it.
    #[error(
        "another ferry process is driving this upload (journal {id} is locked); wait for it, or stop it first"
    )]
    Locked {
        /// The journal id.
        id: String,
    },
    /// The journal is damaged beyond a torn last line.
    #[error("journal {path} is damaged at line {line}: {reason}; nothing was resumed")]
    Damaged {
        /// Its file.
        path: PathBuf,
        /// The line (1-based).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// An I/O error.
    #[error("journal {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// A place to keep journals: the file store by default; embedders can keep them in their
/// own database.
pub trait JournalStore: Send + Sync + std::fmt::Debug {
    /// The id of the journal for this destination and source file.
    fn id_for(&self, destination: &Destination, source: &Path) -> String;
    /// Opens (or creates, empty) the journal `id` and locks it for this process.
    fn open(&self, id: &str) -> Result<Box<dyn JournalHandle>, JournalError>;
    /// Every journal id in the store.
    fn list(&self) -> Result<Vec<String>, JournalError>;
    /// Reads a journal without locking it (for listings).
    fn peek(&self, id: &str) -> Result<Option<Journal>, JournalError>;
}

/// A locked journal: replay it, append to it, remove it. The lock is released when dropped.
pub trait JournalHandle: Send + std::fmt::Debug {
    /// Its id.
    fn id(&self) -> &str;
    /// The records so far, or `None` for a new, empty journal.
    fn replay(&mut self) -> Result<Option<Journal>, JournalError>;
    /// Starts anew with an intent (durable when this returns).
    fn write_intent(
        &mut self,
        destination: &Destination,
        source: &SourceIdentity,
    ) -> Result<u64, JournalError>;
    /// Records the created upload (durable when this returns).
    fn write_upload(&mut self, upload: &UploadRecord) -> Result<(), JournalError>;
    /// Records an acknowledged part (durable when this returns).
    fn write_part(&mut self, part: &PartRecord) -> Result<(), JournalError>;
    /// Deletes the journal (the upload finished or was aborted).
    fn remove(self: Box<Self>) -> Result<(), JournalError>;
}

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
        let path = self.path(id);
        match File::open(&path) {
            Ok(f) => replay(id, &path, f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io(&path, e)),
        }
    }
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
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
            upload: upload.clone(),
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
            (Line::Upload { upload, .. }, Some(j)) if j.upload.is_none() => j.upload = Some(upload),
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

/// Seconds since the epoch, by this machine's clock.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
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

    #[test]
    fn a_change_is_described_for_a_person() {
        let was = SourceIdentity {
            path: "/data/f".into(),
            size: 10,
            mtime_ns: 1_764_646_201_123_456_789,
            ctime_ns: 1_764_646_201_123_456_789,
            inode: 7,
            device: 1,
            etag: None,
        };
        assert_eq!(was.change(&was.clone()), None);
        let grown = SourceIdentity {
            size: 12,
            mtime_ns: was.mtime_ns + 1_000_000_000,
            ctime_ns: was.ctime_ns + 1_000_000_000,
            ..was.clone()
        };
        assert_eq!(
            was.change(&grown).unwrap(),
            "size 10 -> 12 bytes, modified at 2025-12-02T03:30:02.123456789Z"
        );
        // Written with its modification time put back: the change time still moves.
        let touched = SourceIdentity {
            ctime_ns: was.ctime_ns + 5,
            ..was.clone()
        };
        assert_eq!(
            was.change(&touched).unwrap(),
            "status changed at 2025-12-02T03:30:01.123456794Z"
        );
        let replaced = SourceIdentity {
            inode: 8,
            ..was.clone()
        };
        assert_eq!(was.change(&replaced).unwrap(), "replaced by another file");
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
        // A second handle is refused while the first holds the lock.
        assert!(matches!(store.open(&id), Err(JournalError::Locked { .. })));
        drop(j);
        let mut j = store.open(&id).unwrap();
        let replayed = j.replay().unwrap().unwrap();
        assert_eq!(replayed.upload, Some(upload()));
        assert_eq!(replayed.parts, vec![part(2), part(1)]);
        assert_eq!(replayed.source, src);
        assert!(!replayed.torn_tail);
        assert_eq!(store.list().unwrap(), vec![id.clone()]);
        j.remove().unwrap();
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_cut() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileJournalStore::new(dir.path());
        let src = source(dir.path());
        let id = store.id_for(&dest(), &src.path);
        let mut j = store.open(&id).unwrap();
        j.write_intent(&dest(), &src).unwrap();
        j.write_upload(&upload()).unwrap();
        j.write_part(&part(1)).unwrap();
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
        let store = FileJournalStore::new(dir.path());
        let src = source(dir.path());
        let id = store.id_for(&dest(), &src.path);
        let mut j = store.open(&id).unwrap();
        j.write_intent(&dest(), &src).unwrap();
        j.write_upload(&upload()).unwrap();
        j.write_part(&part(1)).unwrap();
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

    #[test]
    fn identity_changes_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let a = source(dir.path());
        let mut b = a.clone();
        assert_eq!(a.difference(&b), None);
        b.size += 1;
        b.mtime_ns += 1;
        assert_eq!(a.difference(&b).as_deref(), Some("size, modification time"));
    }
}
