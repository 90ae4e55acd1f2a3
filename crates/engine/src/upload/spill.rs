//! Parts spilled to disk: an unlinked 0600 temporary file holds a part's bytes while they are
//! sent, for a part the memory budget cannot hold (a stream's, a copy's from another server).
//! Each attempt at the part reads the file again.

use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::sync::Arc;

use super::body::PartData;

/// A part's bytes, written in order into a temporary file.
pub(crate) struct Spill {
    file: File,
    len: u64,
}

impl Spill {
    /// An empty one.
    pub(crate) fn new() -> std::io::Result<Self> {
        Ok(Self {
            file: spill_file()?,
            len: 0,
        })
    }

    /// Appends `bytes`.
    pub(crate) fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.file.write_all_at(bytes, self.len)?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Bytes written.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The bytes written, as a part's data.
    pub(crate) fn into_data(self) -> PartData {
        PartData::File {
            file: Arc::new(self.file),
            direct: None,
            offset: 0,
            len: self.len,
        }
    }
}

/// A local error while `what`, in a spilled part's temporary file: names the folder it is in
/// and, when that folder is full, what to do.
pub(crate) fn spill_error(what: &str, e: std::io::Error) -> crate::error::Error {
    let dir = std::env::temp_dir();
    let hint = if e.kind() == std::io::ErrorKind::StorageFull {
        "; free some space there (TMPDIR names another folder), or give the transfer more \
         memory (a part that fits in it is held there)"
    } else {
        ""
    };
    let message = format!("{what} in a temporary file in {}: {e}{hint}", dir.display());
    crate::error::Error::new(crate::error::ErrorKind::Local, message).with_source(e)
}

/// A temporary file for a spilled part: without a name (nothing is left behind, whatever
/// happens to the process) and 0600 (`tempfile::tempfile` leaves O_TMPFILE files at 0666 less
/// the umask, readable by everyone through `/proc` while the process runs).
fn spill_file() -> std::io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    let dir = std::env::temp_dir();
    let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
    match rustix::fs::open(&dir, flags, Mode::RUSR | Mode::WUSR) {
        Ok(fd) => Ok(File::from(fd)),
        // A filesystem without O_TMPFILE: a named 0600 file, unlinked at once.
        Err(_) => {
            use std::os::unix::fs::PermissionsExt as _;
            let named = tempfile::Builder::new()
                .prefix(".ferry-spill")
                .permissions(std::fs::Permissions::from_mode(0o600))
                .tempfile_in(&dir)?;
            let (file, path) = named.into_parts();
            drop(path);
            Ok(file)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_temporary_folder_is_named_with_what_to_do() {
        let dir = std::env::temp_dir().display().to_string();
        let full = spill_error("holding part 2", std::io::ErrorKind::StorageFull.into());
        let full = full.to_string();
        assert!(full.starts_with(&format!("holding part 2 in a temporary file in {dir}: ")));
        assert!(full.contains("free some space there"), "{full}");
        let other = spill_error(
            "holding part 2",
            std::io::ErrorKind::PermissionDenied.into(),
        );
        assert!(!other.to_string().contains("free some space"), "{other}");
    }
}
