//! Where a downloaded file is written before it takes its name, and how it takes it.
//!
//! - A [`Partial`] (`LOCAL.ferry-partial` and its journal) for a download of many ranges: a
//!   killed one resumes from what is on disk.
//! - A [`Scratch`] file for a download of one range: an unnamed file in the target's folder
//!   (`O_TMPFILE`), which a crash leaves nowhere; nothing to resume (the one range is fetched
//!   again), so no journal. A tree of small objects creates one file per object, not three.
//!
//! Either way the verified file is given its time and ordinary permissions, flushed, and
//! renamed over the target atomically ([`place`]); an unnamed file whose target does not
//! exist yet is linked straight to the target's name instead. The folder is then flushed, at
//! once, or once at the end of a tree ([`Folders`](crate::durable::Folders)).

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

/// Makes the verified `file` (named `temp`) the file `to.target`: readied ([`ready`]),
/// renamed into place atomically (refusing to replace an existing file with `no_clobber`),
/// its folder flushed now or added to `folders`.
pub(crate) fn place(file: &File, temp: &Path, to: &Placement<'_>) -> Result<(), Error> {
    ready(file, temp, to)?;
    rename_into(temp, to)?;
    flush_folder(to);
    Ok(())
}

/// Gives the verified `file` (called `what` in messages) its modification time and ordinary
/// permissions (those of the file it replaces, else 0644), then flushes it to disk (time and
/// mode included). Returns whether the target exists now.
fn ready(file: &File, what: &Path, to: &Placement<'_>) -> Result<bool, Error> {
    if let Some(t) = to.mtime {
        file.set_modified(t)
            .map_err(|e| local(format!("cannot set the time of {}", what.display()), e))?;
    }
    let existing = std::fs::metadata(to.target).ok();
    let mode = existing
        .as_ref()
        .map_or(0o644, |m| m.permissions().mode() & 0o7777);
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| local(format!("cannot set the mode of {}", what.display()), e))?;
    file.sync_all()
        .map_err(|e| local(format!("cannot flush {}", what.display()), e))?;
    Ok(existing.is_some())
}

fn appeared(target: &Path) -> Error {
    Error::new(
        ErrorKind::Exists,
        format!(
            "{} appeared while downloading and replacing it was not allowed",
            target.display(),
        ),
    )
}

/// Renames `temp` over the target, atomically; with `no_clobber`, only if there is none.
fn rename_into(temp: &Path, to: &Placement<'_>) -> Result<(), Error> {
    let target = to.target;
    let cannot = |e: std::io::Error| local(format!("cannot rename into {}", target.display()), e);
    if !to.no_clobber {
        return std::fs::rename(temp, target).map_err(cannot);
    }
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    match renameat_with(CWD, temp, CWD, target, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::EXIST => Err(appeared(target)),
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
            std::fs::rename(temp, target).map_err(cannot)
        }
        Err(e) => Err(cannot(e.into())),
    }
}

/// Makes the target's name durable: its folder flushed now, or once at the end of a tree.
fn flush_folder(to: &Placement<'_>) {
    match to.folders {
        Some(f) => f.add(folder_of(to.target)),
        None => sync_folder(folder_of(to.target)),
    }
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

    /// Names the verified file and places it (see [`place`]). An unnamed file whose target
    /// does not exist yet (a new file of a tree) is linked straight to the target's name: no
    /// temporary name, no rename.
    pub(crate) fn finish(self, to: &Placement<'_>) -> Result<(), Error> {
        let target = to.target;
        if let Some(n) = &self.named {
            let placed = place(&self.file, n, to);
            if placed.is_err() {
                let _ = std::fs::remove_file(n);
            }
            return placed;
        }
        let link = |name: &Path| {
            let fd = format!(
                "/proc/self/fd/{}",
                std::os::fd::AsRawFd::as_raw_fd(&*self.file)
            );
            rustix::fs::linkat(
                rustix::fs::CWD,
                fd.as_str(),
                rustix::fs::CWD,
                name,
                rustix::fs::AtFlags::SYMLINK_FOLLOW,
            )
        };
        if !ready(&self.file, target, to)? {
            match link(target) {
                Ok(()) => {
                    flush_folder(to);
                    return Ok(());
                }
                // Someone made the file meanwhile: replace it by a rename, as below.
                Err(e) if e == rustix::io::Errno::EXIST && !to.no_clobber => {}
                Err(e) if e == rustix::io::Errno::EXIST => return Err(appeared(target)),
                Err(e) => {
                    let what = format!("cannot name {}", target.display());
                    return Err(local(what, e.into()));
                }
            }
        }
        // A name for the unnamed file, beside the target, then the rename.
        let name = temp_name(target);
        link(&name).map_err(|e| local(format!("cannot name {}", name.display()), e.into()))?;
        let placed = rename_into(&name, to);
        if placed.is_err() {
            let _ = std::fs::remove_file(&name);
        }
        placed?;
        flush_folder(to);
        Ok(())
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
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    name.push(format!(
        ".ferry-{}-{}",
        PID.get_or_init(std::process::id),
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
