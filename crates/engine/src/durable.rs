//! Making names durable: the folders of a tree's files, flushed once each at the end rather
//! than after every file.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The folders of a tree's files, flushed once each at the end rather than after every file
/// (a file is durable before its rename either way; a crash before the end can lose the
/// names of files reported done, which the next run downloads again, never leave a wrong
/// file).
#[derive(Debug, Default)]
pub(crate) struct Folders(Mutex<BTreeSet<PathBuf>>);

impl Folders {
    pub(crate) fn add(&self, dir: &Path) {
        self.0
            .lock()
            .expect("folders lock")
            .insert(dir.to_path_buf());
    }

    /// Flushes every folder added (names renamed into them become durable).
    pub(crate) fn sync(&self) {
        let dirs = std::mem::take(&mut *self.0.lock().expect("folders lock"));
        for d in dirs {
            sync_folder(&d);
        }
    }
}

/// Flushes a folder (the names in it become durable).
pub(crate) fn sync_folder(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}
