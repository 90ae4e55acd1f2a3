//! A download in progress on disk: `LOCAL.ferry-partial` (0600, preallocated, written at
//! offsets) and its journal `LOCAL.ferry-partial.journal` (0600, locked while a ferry uses it):
//! a header naming the object and the plan, then one JSON line per range written.
//!
//! The journal is a cache, not a promise: lines are not fsynced, and a resume re-reads every
//! range it names and keeps only those whose CRC64NVME still matches, so a crash or reboot
//! that lost data or lines costs a refetch, never a wrong file. A damaged journal means
//! starting over.

use std::fs::{File, OpenOptions};
use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::place::{Placement, place};
use crate::error::{Error, ErrorKind};

/// The schema version of download journals.
pub(crate) const PARTIAL_VERSION: u32 = 1;

/// The first line: what is being downloaded, and how it is cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Header {
    pub(crate) v: u32,
    pub(crate) endpoint: String,
    pub(crate) bucket: String,
    pub(crate) key: String,
    pub(crate) version_id: Option<String>,
    pub(crate) etag: String,
    pub(crate) size: u64,
    /// The check the download ends with (names the algorithm and the expected value).
    pub(crate) check: String,
    /// The ranges, as `[first, len]`.
    pub(crate) ranges: Vec<[u64; 2]>,
}

/// A range on disk: its CRC64NVME (to re-check on resume) and its digest in the check's
/// algorithm, when the check combines per-range digests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RangeLine {
    pub(crate) i: u32,
    pub(crate) crc64: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) digest: Option<String>,
}

/// What an earlier run left: its header and the ranges it recorded.
pub(crate) type Previous = (Header, Vec<RangeLine>);

/// The partial file and its locked journal.
#[derive(Debug)]
pub(crate) struct Partial {
    pub(crate) path: PathBuf,
    journal_path: PathBuf,
    journal: File,
    file: Option<Arc<File>>,
}

/// What a partial download's file name ends with.
const PARTIAL: &str = ".ferry-partial";
/// What its journal's name ends with.
const JOURNAL: &str = ".ferry-partial.journal";

/// `LOCAL.ferry-partial`, beside LOCAL. A name too long to take the suffix (255 bytes in all)
/// keeps its start and a hash of the whole name: `LOCA~HASH.ferry-partial`.
pub fn partial_path(target: &Path) -> PathBuf {
    beside(target, "", JOURNAL.len(), PARTIAL)
}

/// `LOCAL.ferry-partial.journal` (shortened as [`partial_path`] is).
pub(crate) fn journal_path(target: &Path) -> PathBuf {
    beside(target, "", JOURNAL.len(), JOURNAL)
}

/// The longest file name the filesystems ferry writes to take, in bytes (ext4, XFS, btrfs,
/// tmpfs: 255).
const NAME_MAX: usize = 255;

/// A name of a download's own beside `target`: `before`, the target's name and `after`. A
/// target's name that leaves less than `room` bytes for what is added (a valid name of 250
/// bytes cannot take `.ferry-partial.journal`) is shortened to its start, `~` and a hash of
/// the whole name: the same on every run, so a resume finds what an earlier run left, and
/// another for every other name.
pub(crate) fn beside(target: &Path, before: &str, room: usize, after: &str) -> PathBuf {
    use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
    let name = target.file_name().unwrap_or_default().as_bytes();
    let mut out = before.as_bytes().to_vec();
    let fits = NAME_MAX.saturating_sub(before.len() + room);
    if name.len() <= fits {
        out.extend_from_slice(name);
    } else {
        let hash = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, name);
        let tag = format!("~{hash:016x}");
        let mut keep = fits.saturating_sub(tag.len());
        // Cut between characters, where the name is UTF-8.
        while keep > 0 && std::str::from_utf8(&name[..keep]).is_err() && keep > fits / 2 {
            keep -= 1;
        }
        out.extend_from_slice(&name[..keep]);
        out.extend_from_slice(tag.as_bytes());
    }
    out.extend_from_slice(after.as_bytes());
    target.with_file_name(std::ffi::OsString::from_vec(out))
}

/// What a file named `name` is, when it is one of a download's own beside its target: a
/// partial download or its journal ([`partial_path`]), or an unnamed download's temporary
/// file (`.NAME.ferry-PID-N`, where `O_TMPFILE` is not to be had). A tree does not send these,
/// nor take them for files of its own.
pub(crate) fn download_state(name: &std::ffi::OsStr) -> Option<&'static str> {
    let name = name.to_str()?;
    if name.ends_with(PARTIAL) {
        return Some("a download in progress, or interrupted (run it again to finish it)");
    }
    if name.ends_with(JOURNAL) {
        return Some("the journal of a download in progress, or interrupted");
    }
    let (_, tail) = name.strip_prefix('.')?.rsplit_once(".ferry-")?;
    let (pid, n) = tail.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(pid) && digits(n)).then_some("the temporary file of a download in progress")
}

impl Partial {
    /// Opens (creating) and locks the journal of a download to `target`, and reads what an
    /// earlier run left: its header and ranges, if the journal is whole.
    pub(crate) fn open(target: &Path) -> Result<(Self, Option<Previous>), Error> {
        let journal_path = journal_path(target);
        let journal = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&journal_path)
            .map_err(|e| {
                let what = format!(
                    "cannot write {}: creating its download journal {}",
                    target.display(),
                    journal_path.display()
                );
                Error::local(what, e)
            })?;
        match journal.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "another ferry is downloading to {} (its journal {} is locked)",
                        target.display(),
                        journal_path.display()
                    ),
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::local(
                    format!("cannot lock {}", journal_path.display()),
                    e,
                ));
            }
        }
        let previous = read_journal(&journal);
        Ok((
            Self {
                path: partial_path(target),
                journal_path,
                journal,
                file: None,
            },
            previous,
        ))
    }

    /// Opens the partial file an earlier run wrote, to re-check and continue it.
    pub(crate) fn reopen(&mut self, size: u64) -> Result<Arc<File>, Error> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(|e| Error::local(format!("cannot open {}", self.path.display()), e))?;
        let len = file
            .metadata()
            .map_err(|e| Error::local(format!("cannot read {}", self.path.display()), e))?
            .len();
        if len != size {
            return Err(Error::new(
                ErrorKind::Local,
                format!("{} has {len} bytes, not {size}", self.path.display()),
            ));
        }
        let file = Arc::new(file);
        self.file = Some(file.clone());
        Ok(file)
    }

    /// Starts afresh: an empty journal with `header`, and a partial file of `header.size`
    /// bytes, its space reserved so a full disk fails now rather than halfway.
    pub(crate) fn start(&mut self, header: &Header) -> Result<Arc<File>, Error> {
        let _ = std::fs::remove_file(&self.path);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&self.path)
            .map_err(|e| Error::local(format!("cannot create {}", self.path.display()), e))?;
        if header.size > 0 {
            match rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, header.size)
            {
                Ok(()) => {}
                Err(e) if e == rustix::io::Errno::NOSPC => {
                    let _ = std::fs::remove_file(&self.path);
                    return Err(Error::no_space(&self.path, header.size));
                }
                // Filesystems without fallocate: a sparse file does.
                Err(_) => file
                    .set_len(header.size)
                    .map_err(|e| Error::local(format!("cannot size {}", self.path.display()), e))?,
            }
        }
        self.journal.set_len(0).map_err(|e| {
            Error::local(format!("cannot reset {}", self.journal_path.display()), e)
        })?;
        self.append(&serde_json::to_string(header).expect("header serializes"))?;
        let file = Arc::new(file);
        self.file = Some(file.clone());
        Ok(file)
    }

    fn append(&mut self, line: &str) -> Result<(), Error> {
        let mut text = line.to_string();
        text.push('\n');
        // One write of a whole line, appended (O_APPEND).
        self.journal
            .write_all(text.as_bytes())
            .map_err(|e| Error::local(format!("cannot write {}", self.journal_path.display()), e))
    }

    /// Records a range as written.
    pub(crate) fn record(&mut self, line: &RangeLine) -> Result<(), Error> {
        self.append(&serde_json::to_string(line).expect("range line serializes"))
    }

    /// Makes the verified file its target (see [`place`]); then the journal goes.
    pub(crate) fn finish(self, to: &Placement<'_>) -> Result<(), Error> {
        let file = self.file.as_ref().expect("the partial file is open");
        place(file, &self.path, to).map_err(|e| match e.kind() {
            ErrorKind::Exists => Error::new(
                ErrorKind::Exists,
                format!("{e}; the download is in {}", self.path.display()),
            ),
            _ => e,
        })?;
        let _ = std::fs::remove_file(&self.journal_path);
        Ok(())
    }

    /// Removes the partial file and the journal: what they hold is of no use.
    pub(crate) fn discard(self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_file(&self.journal_path);
    }
}

/// The header and ranges of a whole journal; `None` if empty, damaged or of another version.
fn read_journal(file: &File) -> Option<Previous> {
    let mut lines = BufReader::new(file).lines();
    let header: Header = serde_json::from_str(&lines.next()?.ok()?).ok()?;
    if header.v != PARTIAL_VERSION {
        return None;
    }
    let mut ranges = Vec::new();
    for line in lines {
        // A torn last line (a crash mid-append) ends the list.
        match line
            .ok()
            .and_then(|l| serde_json::from_str::<RangeLine>(&l).ok())
        {
            Some(r) if (r.i as usize) < header.ranges.len() => ranges.push(r),
            _ => break,
        }
    }
    Some((header, ranges))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileExt as _, MetadataExt as _};

    #[test]
    fn names_too_long_for_a_suffix_are_shortened_the_same_way_every_time() {
        let dir = tempfile::tempdir().unwrap();
        let name = |p: &Path| p.file_name().unwrap().to_str().unwrap().to_string();
        let short = dir.path().join("report.pdf");
        assert_eq!(name(&partial_path(&short)), "report.pdf.ferry-partial");
        assert_eq!(
            name(&journal_path(&short)),
            "report.pdf.ferry-partial.journal"
        );
        // A valid name of 250 bytes (é is two), whose partial file and journal could not be.
        let long = format!("{}{}", "é".repeat(100), "x".repeat(50));
        let target = dir.path().join(&long);
        let (partial, journal) = (partial_path(&target), journal_path(&target));
        for p in [&partial, &journal] {
            assert!(name(p).len() <= NAME_MAX, "{}", name(p));
            assert_eq!(p.parent(), Some(dir.path()));
        }
        assert!(
            name(&partial).starts_with(&"é".repeat(50)),
            "{}",
            name(&partial)
        );
        assert_eq!(name(&journal), format!("{}.journal", name(&partial)));
        assert!(download_state(partial.file_name().unwrap()).is_some());
        assert!(download_state(journal.file_name().unwrap()).is_some());
        // The same on every run; another long name sharing its start gets its own.
        assert_eq!(partial_path(&target), partial);
        let other = dir.path().join(format!("{long}y").replacen('x', "", 1));
        assert_ne!(partial_path(&other), partial);
        // Both can be made.
        std::fs::write(&partial, b"p").unwrap();
        std::fs::write(&journal, b"j").unwrap();
        std::fs::write(&target, b"t").unwrap();
        let temp = beside(&target, ".", 48, ".ferry-12-3");
        assert!(name(&temp).len() <= NAME_MAX && name(&temp).starts_with('.'));
        assert!(download_state(temp.file_name().unwrap()).is_some());
    }

    fn header(size: u64) -> Header {
        Header {
            v: PARTIAL_VERSION,
            endpoint: "http://127.0.0.1:1".into(),
            bucket: "b".into(),
            key: "k".into(),
            version_id: None,
            etag: "\"e\"".into(),
            size,
            check: "crc64nvme full-object x".into(),
            ranges: vec![[0, 5], [5, 5]],
        }
    }

    #[test]
    fn files_are_private_locked_and_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.bin");
        let (mut p, prev) = Partial::open(&target).unwrap();
        assert!(prev.is_none());
        let file = p.start(&header(10)).unwrap();
        assert_eq!(file.metadata().unwrap().len(), 10);
        assert_eq!(file.metadata().unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(journal_path(&target)).unwrap().mode() & 0o777,
            0o600
        );
        let line = RangeLine {
            i: 1,
            crc64: "AAAAAAAAAAA=".into(),
            digest: None,
        };
        p.record(&line).unwrap();
        // A second ferry on the same target is refused while the first holds the lock.
        let again = Partial::open(&target).unwrap_err();
        assert!(again.to_string().contains("another ferry"), "{again}");
        drop(p);
        // A torn last line is ignored.
        let mut j = OpenOptions::new()
            .append(true)
            .open(journal_path(&target))
            .unwrap();
        j.write_all(b"{\"i\":0,\"cr").unwrap();
        let (p, prev) = Partial::open(&target).unwrap();
        let (h, ranges) = prev.unwrap();
        assert_eq!(h, header(10));
        assert_eq!(ranges, vec![line]);
        p.discard();
        assert!(!partial_path(&target).exists());
        assert!(!journal_path(&target).exists());
    }

    #[test]
    fn finish_renames_and_no_clobber_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.bin");
        std::fs::write(&target, b"old").unwrap();
        let (mut p, _) = Partial::open(&target).unwrap();
        let file = p.start(&header(3)).unwrap();
        file.write_all_at(b"new", 0).unwrap();
        let to = |no_clobber| Placement {
            target: &target,
            no_clobber,
            folders: None,
            mtime: None,
            mode: None,
        };
        let err = p.finish(&to(true)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Exists, "{err}");
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        let (mut p, _) = Partial::open(&target).unwrap();
        let file = p.start(&header(3)).unwrap();
        file.write_all_at(b"new", 0).unwrap();
        p.finish(&to(false)).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert!(!journal_path(&target).exists());
        assert!(!partial_path(&target).exists());
    }
}
