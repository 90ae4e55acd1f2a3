//! Where a downloaded file is written before it takes its name, and how it takes it.
//!
//! - A [`Partial`] (`LOCAL.ferry-partial` and its journal) for a download of many ranges: a
//!   killed one resumes from what is on disk.
//! - A [`Scratch`] file for a download of one range: an unnamed file in the target's folder
//!   (`O_TMPFILE`), which a crash leaves nowhere; nothing to resume (the one range is fetched
//!   again), so no journal. A tree of small objects creates one file per object, not three.
//!
//! Either way the verified file is flushed, given ordinary permissions, and renamed over the
//! target atomically ([`place`]); the folder is then flushed, at once, or once at the end of
//! a tree ([`Folders`](crate::durable::Folders)).

use std::fs::File;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::partial::{Partial, RangeLine};
use crate::durable::{Folders, sync_folder};
use crate::error::{Error, ErrorKind};

fn local(what: String, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Local, format!("{what}: {e}")).with_source(e)
}

/// The folder a target is in.
fn folder_of(target: &Path) -> &Path {
    match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Where a verified download goes, and how.
pub(crate) struct Placement<'a> {
    /// The file it becomes.
    pub(crate) target: &'a Path,
    /// Refuse to replace an existing file.
    pub(crate) no_clobber: bool,
    /// Flush the folder once at the end (a tree's), not now.
    pub(crate) folders: Option<&'a Folders>,
    /// The modification time the file takes.
    pub(crate) mtime: Option<std::time::SystemTime>,
}

/// Makes the verified `file` (named `temp`) the file `to.target`: given its modification
/// time, flushed to disk, given ordinary permissions (those of the file it replaces, else 0644), renamed into place
/// atomically (refusing to replace an existing file with `no_clobber`), its folder flushed
/// now or added to `folders`.
pub(crate) fn place(file: &File, temp: &Path, to: &Placement<'_>) -> Result<(), Error> {
    let (target, no_clobber, folders) = (to.target, to.no_clobber, to.folders);
    if let Some(t) = to.mtime {
        file.set_modified(t)
            .map_err(|e| local(format!("cannot set the time of {}", temp.display()), e))?;
    }
    file.sync_all()
        .map_err(|e| local(format!("cannot flush {}", temp.display()), e))?;
    let mode = std::fs::metadata(target)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o644);
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| local(format!("cannot set the mode of {}", temp.display()), e))?;
    let cannot = |e: std::io::Error| local(format!("cannot rename into {}", target.display()), e);
    if no_clobber {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        match renameat_with(CWD, temp, CWD, target, RenameFlags::NOREPLACE) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::EXIST => {
                return Err(Error::new(
                    ErrorKind::Exists,
                    format!(
                        "{} appeared while downloading and replacing it was not allowed",
                        target.display(),
                    ),
                ));
            }
            Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {
                if target.exists() {
                    return Err(Error::new(
                        ErrorKind::Exists,
                        format!(
                            "{} exists and replacing it was not allowed",
                            target.display()
                        ),
                    ));
                }
                std::fs::rename(temp, target).map_err(cannot)?;
            }
            Err(e) => return Err(cannot(e.into())),
        }
    } else {
        std::fs::rename(temp, target).map_err(cannot)?;
    }
    match folders {
        Some(f) => f.add(folder_of(target)),
        None => sync_folder(folder_of(target)),
    }
    Ok(())
}

/// An unnamed file in the target's folder, for a download of one range (see the module's
/// doc); a named 0600 file where the filesystem has no unnamed ones.
#[derive(Debug)]
pub(crate) struct Scratch {
    pub(crate) file: Arc<File>,
    /// Its name, when it has one from the start (no `O_TMPFILE` here).
    named: Option<PathBuf>,
}

impl Scratch {
    /// A file for a download to `target` of `size` bytes, its space reserved.
    pub(crate) fn create(target: &Path, size: u64) -> Result<Self, Error> {
        use rustix::fs::{Mode, OFlags};
        let dir = folder_of(target);
        let mode = Mode::RUSR | Mode::WUSR;
        let (file, named) =
            match rustix::fs::open(dir, OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC, mode) {
                Ok(fd) => (File::from(fd), None),
                Err(_) => {
                    let name = temp_name(target);
                    let fd = rustix::fs::open(
                        &name,
                        OFlags::CREATE | OFlags::EXCL | OFlags::RDWR | OFlags::CLOEXEC,
                        mode,
                    )
                    .map_err(|e| local(format!("cannot create {}", name.display()), e.into()))?;
                    (File::from(fd), Some(name))
                }
            };
        if size > 0
            && let Err(e) =
                rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, size)
        {
            if e == rustix::io::Errno::NOSPC {
                if let Some(n) = &named {
                    let _ = std::fs::remove_file(n);
                }
                return Err(Error::new(
                    ErrorKind::Local,
                    format!(
                        "not enough disk space for {} ({size} bytes): free some space and run again",
                        target.display()
                    ),
                ));
            }
            // Filesystems without fallocate: a sparse file does.
            file.set_len(size)
                .map_err(|e| local(format!("cannot size a file for {}", target.display()), e))?;
        }
        Ok(Self {
            file: Arc::new(file),
            named,
        })
    }

    /// Names the verified file and places it (see [`place`]).
    pub(crate) fn finish(self, to: &Placement<'_>) -> Result<(), Error> {
        let target = to.target;
        let temp = match &self.named {
            Some(n) => n.clone(),
            None => {
                // A name for the unnamed file, beside the target, then the rename.
                let name = temp_name(target);
                let fd = format!(
                    "/proc/self/fd/{}",
                    std::os::fd::AsRawFd::as_raw_fd(&*self.file)
                );
                rustix::fs::linkat(
                    rustix::fs::CWD,
                    fd.as_str(),
                    rustix::fs::CWD,
                    &name,
                    rustix::fs::AtFlags::SYMLINK_FOLLOW,
                )
                .map_err(|e| local(format!("cannot name {}", name.display()), e.into()))?;
                name
            }
        };
        let placed = place(&self.file, &temp, to);
        if placed.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        placed
    }

    /// Removes what is of no use.
    pub(crate) fn discard(self) {
        if let Some(n) = &self.named {
            let _ = std::fs::remove_file(n);
        }
    }
}

/// A name of this process's own beside `target`: `.NAME.ferry-PID-N`.
fn temp_name(target: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut name = std::ffi::OsString::from(".");
    name.push(target.file_name().unwrap_or_default());
    name.push(format!(
        ".ferry-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    target.with_file_name(name)
}

/// Where a file download is written before it takes its name.
pub(crate) enum Landing {
    /// A partial file and its journal: resumable.
    Partial(Partial),
    /// One range in an unnamed file: nothing to resume.
    Scratch(Scratch),
}

impl Landing {
    /// Records a range as written (a scratch file keeps no journal).
    pub(crate) fn record(&mut self, line: &RangeLine) -> Result<(), Error> {
        match self {
            Landing::Partial(p) => p.record(line),
            Landing::Scratch(_) => Ok(()),
        }
    }

    /// Places the verified file.
    pub(crate) fn finish(self, to: &Placement<'_>) -> Result<(), Error> {
        match self {
            Landing::Partial(p) => p.finish(to),
            Landing::Scratch(s) => s.finish(to),
        }
    }

    /// What is kept to resume, if anything can be.
    pub(crate) fn kept(&self) -> Option<String> {
        match self {
            Landing::Partial(p) => Some(p.path.display().to_string()),
            Landing::Scratch(_) => None,
        }
    }

    /// Removes what is of no use.
    pub(crate) fn discard(self) {
        match self {
            Landing::Partial(p) => p.discard(),
            Landing::Scratch(s) => s.discard(),
        }
    }
}
