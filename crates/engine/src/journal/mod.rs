//! The upload journal: the durable record that lets an interrupted upload (or server-side
//! copy) resume where it stopped, even after `kill -9` or a reboot.
//!
//! One journal per (destination, source), 0600, held with an exclusive lock while a ferry
//! process drives it. Its records, each durable before it counts:
//!
//! 1. `intent`: the destination and the source's identity, with the kind of source (a file,
//!    or an object a copy reads), written before CreateMultipartUpload (which is not
//!    idempotent), so an upload created by a request whose reply was lost can still be found
//!    and aborted;
//! 2. `upload`: the upload id, the plan, the checksum settings, the SSE-C key's MD5 (never the
//!    key), the object lock and the object's settings (content headers, metadata, tags,
//!    storage class, encryption, ACL) it was created with;
//! 3. one `part` record per part the server acknowledged.
//!
//! The records and the store traits live here; [`FileJournalStore`] (`file`) keeps them as
//! JSON lines in a state folder. Embedders can keep journals elsewhere through
//! [`JournalStore`].

mod file;
pub(crate) mod os_path;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

pub use file::FileJournalStore;

/// The schema version written in every journal line.
pub const JOURNAL_VERSION: u32 = 1;

/// What an upload reads from, as its journal records it: resume takes the path that fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A local file (`path` is its canonical path).
    #[default]
    File,
    /// An object on the same server, copied there (`path` is its `s3://bucket/key` URL).
    Object,
    /// An object on another server (or read with other credentials), its bytes fetched by
    /// ferry part by part (`path` is its URL on that server: `ENDPOINT/bucket/key`). Only the
    /// same copy, given the source's server again, resumes it.
    Remote,
}

/// What identifies a source: if any of this changed, the journal's parts may not be the
/// source's bytes any more. For a file its path, size, times and inode; for an object a copy
/// reads, its URL, size, ETag and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceIdentity {
    /// A file, or an object.
    #[serde(default)]
    pub kind: SourceKind,
    /// Canonical path.
    #[serde(with = "os_path")]
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
    /// For an S3 object a copy reads: the version copied, if one was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// For a range of a file: its first byte and length (`size` is then the range's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<[u64; 2]>,
    /// For an object on another server: that server's endpoint (`path` is then
    /// `ENDPOINT/bucket/key`), so a resume can reach it again. Journals written before
    /// 2026-12 lack it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

impl SourceIdentity {
    /// The identity of a file now.
    pub fn of(path: &Path) -> std::io::Result<Self> {
        let canonical = std::fs::canonicalize(path)?;
        Self::at(canonical)
    }

    /// The identity of the file at the same (canonical) path now, whole: what a later look
    /// compares with this one, without resolving the path again.
    pub fn again(&self) -> std::io::Result<Self> {
        Self::at(self.path.clone())
    }

    /// The identity of the file at `canonical`.
    fn at(canonical: PathBuf) -> std::io::Result<Self> {
        let m = std::fs::metadata(&canonical)?;
        Ok(Self {
            kind: SourceKind::File,
            path: canonical,
            size: m.len(),
            // i64 nanoseconds reach the year 2262.
            mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(),
            ctime_ns: m.ctime() * 1_000_000_000 + m.ctime_nsec(),
            inode: m.ino(),
            device: m.dev(),
            etag: None,
            version_id: None,
            range: None,
            endpoint: None,
        })
    }

    /// The same file, as the source of the `len` bytes at `offset`.
    pub fn with_range(self, offset: u64, len: u64) -> Self {
        Self {
            size: len,
            range: Some([offset, len]),
            ..self
        }
    }

    /// The identity of an S3 object a copy reads: its URL, size, ETag and version.
    pub fn object(url: &str, size: u64, etag: &str, version_id: Option<&str>) -> Self {
        Self {
            kind: SourceKind::Object,
            path: url.into(),
            size,
            mtime_ns: 0,
            ctime_ns: 0,
            inode: 0,
            device: 0,
            etag: Some(etag.to_string()),
            version_id: version_id.map(str::to_string),
            range: None,
            endpoint: None,
        }
    }

    /// The identity of an object on the server at `endpoint` that a copy fetches through
    /// ferry: its URL there, size, ETag and version.
    pub fn remote(
        endpoint: &str,
        (bucket, key): (&str, &str),
        size: u64,
        etag: &str,
        version_id: Option<&str>,
    ) -> Self {
        let endpoint = endpoint.trim_end_matches('/');
        let url = format!("{endpoint}/{bucket}/{key}");
        Self {
            kind: SourceKind::Remote,
            endpoint: Some(endpoint.into()),
            ..Self::object(&url, size, etag, version_id)
        }
    }

    /// For an object on another server: that server's endpoint, as recorded, or (in a
    /// journal that does not record it) the scheme and host of the object's URL.
    pub fn server(&self) -> Option<String> {
        if self.kind != SourceKind::Remote {
            return None;
        }
        if let Some(e) = &self.endpoint {
            return Some(e.clone());
        }
        let url = self.path.to_string_lossy();
        let (scheme, rest) = url.split_once("://")?;
        let host = rest.split('/').next()?;
        Some(format!("{scheme}://{host}"))
    }

    /// What differs from `other`, in words, or `None`.
    pub fn difference(&self, other: &SourceIdentity) -> Option<String> {
        let fields = [
            ("path", self.path != other.path),
            ("size", self.size != other.size),
            ("modification time", self.mtime_ns != other.mtime_ns),
            ("change time", self.ctime_ns != other.ctime_ns),
            (
                "inode",
                (self.inode, self.device) != (other.inode, other.device),
            ),
            ("ETag", self.etag != other.etag),
            ("version", self.version_id != other.version_id),
            ("range", self.range != other.range),
        ];
        let d: Vec<&str> = fields.iter().filter(|f| f.1).map(|f| f.0).collect();
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
pub(crate) fn timestamp(ns: i64) -> String {
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
    /// The account every request to the bucket expected to own it, to expect again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_bucket_owner: Option<String>,
    /// Whether its requests agreed to pay (a requester-pays bucket): a resume agrees again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub request_payer: bool,
    /// A move: its source is deleted once the object is written (see
    /// [`UploadSettings::remove_source`](crate::UploadSettings::remove_source)); a resume
    /// deletes it too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remove_source: bool,
    /// The object lock the upload was created with, which its object gets when it completes:
    /// a resume checks the object against it, and refuses a run that asks for another.
    /// `None` in a journal written before ferry recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_lock: Option<LockRecord>,
    /// What the upload was created with that describes its object (content headers,
    /// metadata, tags, storage class, encryption, ACL), which its object gets when it
    /// completes: a resume finishes with it, and refuses a run that asks for other settings.
    /// `None` in a journal written before ferry recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectRecord>,
}

/// The settings of an upload's CreateMultipartUpload that describe its object, as given
/// (never a secret: an SSE-C key is [`UploadRecord::sse_c_key_md5`]'s, and is not here).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ObjectRecord {
    /// Content-Type and the other standard headers.
    #[serde(skip_serializing_if = "is_default")]
    pub content: ferry_s3::ContentHeaders,
    /// User metadata.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// The storage class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    /// Tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tagging: Vec<(String, String)>,
    /// SSE-S3 or SSE-KMS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sse: Option<ferry_s3::ServerSideEncryption>,
    /// A canned ACL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acl: Option<String>,
    /// Explicit grants.
    #[serde(skip_serializing_if = "is_default")]
    pub grants: ferry_s3::Grants,
    /// Where a website bucket redirects requests for the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website_redirect: Option<String>,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

impl ObjectRecord {
    /// What `options` give the object.
    pub(crate) fn of(options: &ferry_s3::ObjectOptions) -> Self {
        ObjectRecord {
            content: options.content.clone(),
            metadata: options.metadata.clone(),
            storage_class: options.storage_class.clone(),
            tagging: options.tagging.clone(),
            sse: options.sse.clone(),
            acl: options.acl.clone(),
            grants: options.grants.clone(),
            website_redirect: options.website_redirect.clone(),
        }
    }

    /// `options` with these settings in place of theirs.
    pub(crate) fn onto(&self, options: ferry_s3::ObjectOptions) -> ferry_s3::ObjectOptions {
        let ObjectRecord {
            content,
            metadata,
            storage_class,
            tagging,
            sse,
            acl,
            grants,
            website_redirect,
        } = self.clone();
        ferry_s3::ObjectOptions {
            content,
            metadata,
            storage_class,
            tagging,
            sse,
            acl,
            grants,
            website_redirect,
            ..options
        }
    }
}

/// The object lock of an upload's CreateMultipartUpload (none asked: every field `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRecord {
    /// The retention's mode: `GOVERNANCE` or `COMPLIANCE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Its end, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain_until: Option<String>,
    /// The legal hold: on or off, if one was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_hold: Option<bool>,
}

impl LockRecord {
    /// The lock `options` ask for.
    pub(crate) fn of(options: &ferry_s3::ObjectOptions) -> Self {
        LockRecord {
            mode: options.object_lock_mode.map(|m| m.as_str().to_string()),
            retain_until: options.object_lock_retain_until.clone(),
            legal_hold: options.object_lock_legal_hold,
        }
    }
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

/// One record of a journal, as a store writes it.
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
        upload: Box<UploadRecord>,
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
#[non_exhaustive]
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
    /// The folder the journals are files in, if they are: a tree walking a folder that holds
    /// it (a home folder) passes it over rather than send journals that change as it runs.
    fn folder(&self) -> Option<&Path> {
        None
    }
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

    #[test]
    fn a_change_is_described_for_a_person() {
        let was = SourceIdentity {
            kind: SourceKind::File,
            version_id: None,
            range: None,
            endpoint: None,
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

    #[test]
    fn a_remote_source_names_its_server() {
        let now = SourceIdentity::remote("http://h:9000/s3/", ("b", "k/x"), 1, "\"e\"", None);
        assert_eq!(now.path, PathBuf::from("http://h:9000/s3/b/k/x"));
        assert_eq!(now.server().as_deref(), Some("http://h:9000/s3"));
        let older = SourceIdentity {
            endpoint: None,
            ..now.clone()
        };
        assert_eq!(older.server().as_deref(), Some("http://h:9000"));
        let object = SourceIdentity::object("s3://b/k", 1, "\"e\"", None);
        assert_eq!(object.server(), None);
    }

    /// A journal written before the owner and the payer were recorded reads as neither; one
    /// with neither writes no more than it did.
    #[test]
    fn an_upload_line_without_owner_or_payer_reads_and_writes_as_before() {
        let old = r#"{"type":"upload","v":1,"upload_id":"U","part_size":5242880,"parts":3,"checksum":"CRC64NVME","checksum_type":"FULL_OBJECT","sse_c_key_md5":null}"#;
        let Line::Upload { upload, .. } = serde_json::from_str(old).unwrap() else {
            panic!("not an upload line");
        };
        assert_eq!(upload.expected_bucket_owner, None);
        assert!(!upload.request_payer);
        let line = Line::Upload { v: 1, upload };
        assert_eq!(serde_json::to_string(&line).unwrap(), old);
        let Line::Upload { upload, .. } = line else {
            unreachable!()
        };
        let line = Line::Upload {
            v: 1,
            upload: Box::new(UploadRecord {
                expected_bucket_owner: Some("111122223333".into()),
                request_payer: true,
                ..*upload
            }),
        };
        let written = serde_json::to_string(&line).unwrap();
        assert!(
            written.ends_with(r#""expected_bucket_owner":"111122223333","request_payer":true}"#),
            "{written}"
        );
    }

    /// An upload's object settings are written only where set, and read back whole; a line
    /// written before they were recorded reads as none.
    #[test]
    fn object_settings_are_written_where_set_and_read_back() {
        let mut options = ferry_s3::ObjectOptions::default();
        options.content.content_type = Some("text/plain".into());
        options.metadata.insert("origin".into(), "a".into());
        options.sse = Some(ferry_s3::ServerSideEncryption::Kms {
            key_id: Some("k".into()),
            context: None,
            bucket_key: Some(true),
            dual_layer: false,
        });
        options.grants.read = vec![ferry_s3::Grantee::Id("owner".into())];
        let record = ObjectRecord::of(&options);
        let written = serde_json::to_string(&record).unwrap();
        assert_eq!(
            written,
            r#"{"content":{"content_type":"text/plain"},"metadata":{"origin":"a"},"sse":{"Kms":{"key_id":"k","context":null,"bucket_key":true}},"grants":{"read":[{"Id":"owner"}]}}"#
        );
        assert_eq!(
            serde_json::from_str::<ObjectRecord>(&written).unwrap(),
            record
        );
        assert_eq!(
            serde_json::to_string(&ObjectRecord::default()).unwrap(),
            "{}"
        );
        let old = r#"{"upload_id":"U","part_size":5242880,"parts":3,"checksum":"none","checksum_type":null,"sse_c_key_md5":null}"#;
        let upload: UploadRecord = serde_json::from_str(old).unwrap();
        assert_eq!(upload.object, None);
    }

    #[test]
    fn identity_changes_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("src.bin");
        std::fs::write(&p, b"data").unwrap();
        let a = SourceIdentity::of(&p).unwrap();
        let mut b = a.clone();
        assert_eq!(a.difference(&b), None);
        b.size += 1;
        b.mtime_ns += 1;
        assert_eq!(a.difference(&b).as_deref(), Some("size, modification time"));
    }
}
