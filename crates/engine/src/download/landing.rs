//! Where a downloaded file is written before it takes its name, and how it takes it.
//!
//! - A [`Partial`] (`LOCAL.ferry-partial` and its journal) for a download of many ranges: a
//!   killed one resumes from what is on disk.
//! - A [`Scratch`] file for a download of one range: an unnamed file in the target's folder
//!   (`O_TMPFILE`), which a crash leaves nowhere; nothing to resume (the one range is fetched
//!   again), so no journal. A tree of small objects creates one file per object, not three.
//!
//! Either way the verified file then takes its name as [`place`](super::place) says; an
//! unnamed file whose target does not exist yet is linked straight to the target's name
//! instead.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::partial::{Partial, RangeLine};
use super::place::{Placement, appeared, flush_folder, folder_of, ready, rename_into};
use crate::error::Error;

/// An unnamed file in the target's folder, for a download of one range (see the module's
/// doc); a named 0600 file where the filesystem has no unnamed ones.
#[derive(Debug)]
pub(crate) struct Scratch {
    pub(crate) file: Arc<File>,
    /// Its name, when it has one from the start (no `O_TMPFILE` here).
    named: Option<PathBuf>,
}

impl Scratch {
    /// A file for a download to `target` of `size` bytes, its space reserved (none for 0).
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
                    .map_err(|e| {
                        Error::local(
                            format!(
                                "cannot write {}: creating its temporary file {}",
                                target.display(),
                                name.display()
                            ),
                            e.into(),
                        )
                    })?;
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
                return Err(Error::no_space(target, size));
            }
            // Filesystems without fallocate: a sparse file does.
            file.set_len(size).map_err(|e| {
                Error::local(format!("cannot size a file for {}", target.display()), e)
            })?;
        }
        Ok(Self {
            file: Arc::new(file),
            named,
        })
    }

    /// Readies the verified file (time, mode, flushed) and names it, as
    /// [`place`](super::place::place) does. An unnamed file whose target does not exist yet
    /// (a new file of a tree) is linked straight to the target's name: no temporary name, no
    /// rename.
    pub(crate) fn finish(self, to: &Placement<'_>) -> Result<(), Error> {
        match ready(&self.file, self.named.as_deref().unwrap_or(to.target), to) {
            Ok(existing) => self.name(to, existing),
            Err(e) => {
                self.discard();
                Err(e)
            }
        }
    }

    /// Names the file, readied and flushed, as the target (`existing`: whether the target
    /// existed when it was readied).
    pub(crate) fn name(self, to: &Placement<'_>, existing: bool) -> Result<(), Error> {
        let target = to.target;
        if let Some(n) = &self.named {
            let placed = rename_into(n, to);
            if placed.is_err() {
                let _ = std::fs::remove_file(n);
            }
            placed?;
            flush_folder(to);
            return Ok(());
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
        if !existing {
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
                    return Err(Error::local(what, e.into()));
                }
            }
        }
        // A name for the unnamed file, beside the target, then the rename.
        let name = temp_name(target);
        link(&name)
            .map_err(|e| Error::local(format!("cannot name {}", name.display()), e.into()))?;
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
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let tail = format!(
        ".ferry-{}-{}",
        PID.get_or_init(std::process::id),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    // Room for the longest tail a process can give (a pid and a count of 20 digits each).
    super::partial::beside(target, ".", ".ferry--".len() + 40, &tail)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::download::partial::{download_state, journal_path, partial_path};

    /// Every name a download gives its own files beside its target is known as the
    /// download's, so a tree neither sends nor deletes them; names like them are not.
    #[test]
    fn a_downloads_own_files_are_known_by_name() {
        let target = Path::new("/d/report.pdf");
        for own in [
            temp_name(target),
            partial_path(target),
            journal_path(target),
        ] {
            let name = own.file_name().unwrap();
            assert!(download_state(name).is_some(), "{own:?}");
        }
        for theirs in [
            "report.pdf",
            "report.ferry-partial.txt",
            ".report.ferry-12-x",
            "report.ferry-12-3",
            ".report.ferry--3",
        ] {
            let name = std::ffi::OsStr::new(theirs);
            assert!(download_state(name).is_none(), "{theirs}");
        }
    }
}
