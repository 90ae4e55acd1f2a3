//! How a verified download takes its name: given its time and ordinary permissions, flushed,
//! and renamed over the target atomically ([`place`]); its folder then flushed, at once, or
//! once at the end of a tree ([`Folders`]).

use std::fs::File;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use crate::durable::{Folders, sync_folder};
use crate::error::{Error, ErrorKind};

/// The folder a target is in.
pub(super) fn folder_of(target: &Path) -> &Path {
    match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Creates `folder` and the folders above it that are missing, for files to be downloaded
/// into. Where a file stands in the way (an object `a` beside an object `a/b`), the error
/// names it.
pub(super) fn create_folders(folder: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(folder).map_err(|e| {
        let in_the_way = folder
            .ancestors()
            .find(|a| std::fs::metadata(a).is_ok_and(|m| !m.is_dir()));
        match in_the_way {
            Some(file) => Error::new(
                ErrorKind::Local,
                format!(
                    "cannot create the folder {}: {} is a file, not a folder",
                    folder.display(),
                    file.display()
                ),
            )
            .with_source(e),
            None => Error::local(format!("cannot create the folder {}", folder.display()), e),
        }
    })
}

/// Where a verified download goes, and how.
pub(crate) struct Placement<'a> {
    /// The file it becomes.
    pub(crate) target: &'a Path,
    /// Refuse to replace an existing file.
    pub(crate) no_clobber: bool,
    /// Flush the folder with others later (a tree's at its end, a group's before its
    /// downloads are told), not now.
    pub(crate) folders: Option<&'a Folders>,
    /// The modification time the file takes.
    pub(crate) mtime: Option<std::time::SystemTime>,
    /// The permission bits a new file takes (within the umask), when its object stored them.
    pub(crate) mode: Option<u32>,
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
/// permissions ([`prepare`]), then flushes it to disk (time and mode included). Returns
/// whether the target exists now.
pub(super) fn ready(file: &File, what: &Path, to: &Placement<'_>) -> Result<bool, Error> {
    let existing = prepare(file, what, to)?;
    file.sync_all()
        .map_err(|e| Error::local(format!("cannot flush {}", what.display()), e))?;
    Ok(existing)
}

/// Gives the verified `file` (called `what` in messages) its modification time and
/// permissions: those of the file it replaces; else those its object stored, within the
/// umask (as rsync gives a new file without `-p`); else 0644. Returns whether the target
/// exists.
pub(super) fn prepare(file: &File, what: &Path, to: &Placement<'_>) -> Result<bool, Error> {
    if let Some(t) = to.mtime {
        file.set_modified(t)
            .map_err(|e| Error::local(format!("cannot set the time of {}", what.display()), e))?;
    }
    let existing = std::fs::metadata(to.target).ok();
    let mode = match (&existing, to.mode) {
        (Some(m), _) => m.permissions().mode() & 0o7777,
        (None, Some(stored)) => stored & !crate::mtime::umask(),
        (None, None) => 0o644,
    };
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::local(format!("cannot set the mode of {}", what.display()), e))?;
    Ok(existing.is_some())
}

pub(super) fn appeared(target: &Path) -> Error {
    Error::new(
        ErrorKind::Exists,
        format!(
            "{} appeared while downloading and replacing it was not allowed",
            target.display(),
        ),
    )
}

/// Renames `temp` over the target, atomically; with `no_clobber`, only if there is none.
pub(super) fn rename_into(temp: &Path, to: &Placement<'_>) -> Result<(), Error> {
    let target = to.target;
    let cannot =
        |e: std::io::Error| Error::local(format!("cannot rename into {}", target.display()), e);
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
pub(super) fn flush_folder(to: &Placement<'_>) {
    match to.folders {
        Some(f) => f.add(folder_of(to.target)),
        None => sync_folder(folder_of(to.target)),
    }
}

/// Moves the file `from`, which holds the object's bytes, to `to.target` (which must not
/// exist: a rename that replaces nothing), creating the folders it goes in; gives it
/// `to.mtime` and keeps its mode; then makes both names durable. False, with nothing done,
/// when the two are on different filesystems (the object is then fetched instead).
pub(crate) fn move_into(from: &Path, to: &Placement<'_>) -> Result<bool, Error> {
    use std::os::unix::fs::MetadataExt as _;
    create_folders(folder_of(to.target))?;
    let device = |p: &Path| std::fs::metadata(p).map(|m| m.dev()).ok();
    if device(from).is_none() || device(from) != device(folder_of(to.target)) {
        return Ok(false);
    }
    rename_into(from, to)?;
    if let Some(t) = to.mtime {
        let file = File::open(to.target).map_err(|e| Error::unreadable("open", to.target, e))?;
        file.set_modified(t).map_err(|e| {
            Error::local(format!("cannot set the time of {}", to.target.display()), e)
        })?;
    }
    flush_folder(to);
    match to.folders {
        Some(f) => f.add(folder_of(from)),
        None => sync_folder(folder_of(from)),
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_in_the_way_of_a_folder_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"x").unwrap();
        create_folders(&dir.path().join("b/c")).unwrap();
        assert!(dir.path().join("b/c").is_dir());
        let e = create_folders(&dir.path().join("a/b/c")).unwrap_err();
        let said = e.to_string();
        let file = dir.path().join("a");
        assert!(
            said.ends_with(&format!("{} is a file, not a folder", file.display())),
            "{said}"
        );
        assert_eq!(e.kind(), ErrorKind::Local);
    }
}
