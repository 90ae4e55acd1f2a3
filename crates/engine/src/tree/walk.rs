//! A folder as a tree's side: walked one folder at a time ([`Walk`]) into a stream in the
//! byte order of keys, the order in which ListObjectsV2 lists a prefix (`super::list`), so the
//! two sides merge as they come. No more than one folder's entries are held, whatever the
//! count of files.

use std::collections::HashSet;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use tokio::sync::mpsc;

use super::filter::Filters;
use super::keys::key_for;
use super::{Found, Item, PassedOver};
use crate::error::Error;
use crate::outcome::ObjectFailure;

/// Every regular file under a folder (symbolic links followed, unless told not to), in the byte
/// order of their keys. A folder's entries are read and sorted when the walk enters it, a folder
/// sorting as its name and `/` (so `a-b` comes before `a/x`, as the keys do). What is no file to
/// send (a link to nothing, a pipe, a download's own partial files) is passed over.
pub(crate) struct Walk {
    root: PathBuf,
    prefix: String,
    /// Folders these filters rule out whole are not entered.
    filters: Filters,
    /// The folders being walked, innermost last: each the entries left, in reverse order.
    stack: Vec<Folder>,
    /// The folder ferry keeps its journals in, passed over (known by its device and inode
    /// when the walk comes to a folder of its name: it may be made while the walk runs).
    journals: Option<PathBuf>,
    /// Whether a link is taken as what it points at (else it is passed over).
    follow_links: bool,
}

struct Folder {
    /// Its path below the root.
    rel: PathBuf,
    /// Its device and inode (a link back to it is a loop).
    id: (u64, u64),
    left: Vec<Entry>,
}

struct Entry {
    name: OsString,
    /// The name as its keys begin: a folder's with `/` after it.
    order: Vec<u8>,
    /// What it is, links followed; an error if that cannot be read (the entry then fails as
    /// an object, so that a sync does not take it for gone).
    meta: std::io::Result<std::fs::Metadata>,
    /// It is a link to nothing (gone, or a loop of links): passed over, not failed.
    dangling: bool,
    /// It is a symbolic link.
    link: bool,
}

impl Walk {
    /// A walk of `root`, whose files become keys below `prefix` (empty or ending in `/`),
    /// entering no folder `filters` rule out whole (the files it yields are still to be
    /// filtered: see [`super::filter::selected`]), and passing over `journals`, the folder of
    /// ferry's own journals, should it be below `root`.
    pub(crate) fn new(
        root: &Path,
        prefix: &str,
        filters: &Filters,
        journals: Option<&Path>,
    ) -> Result<Self, Error> {
        let meta = std::fs::metadata(root).map_err(|e| Error::unreadable("read", root, e))?;
        if !meta.is_dir() {
            return Err(Error::invalid(format!(
                "source {} is not a folder",
                root.display()
            )));
        }
        let mut walk = Self {
            root: root.to_path_buf(),
            prefix: prefix.to_string(),
            filters: filters.clone(),
            stack: Vec::new(),
            journals: journals.map(Path::to_path_buf),
            follow_links: true,
        };
        let mut left = walk
            .read(Path::new(""))
            .map_err(|e| Error::invalid(format!("cannot read {}: {e}", root.display())))?;
        if walk.marked(Path::new(""), &left) {
            left.clear();
        }
        walk.stack.push(Folder {
            rel: PathBuf::new(),
            id: (meta.dev(), meta.ino()),
            left,
        });
        Ok(walk)
    }

    /// The same walk, passing over every symbolic link below the root rather than following
    /// it (the root itself is what it points at).
    pub(crate) fn following_links(mut self, follow: bool) -> Self {
        self.follow_links = follow;
        self
    }

    /// The same walk, taking of the root's entries only those `names` names (files, or
    /// folders walked whole), as a shell's glob of one folder gives them; each must be there.
    pub(crate) fn only(mut self, names: Option<&[OsString]>) -> Result<Self, Error> {
        let Some(names) = names else {
            return Ok(self);
        };
        // Sets, not lists: a glob of a big folder names tens of thousands of its entries.
        let wanted: HashSet<&OsString> = names.iter().collect();
        let root = self.stack.first_mut().expect("the root is read");
        root.left.retain(|e| wanted.contains(&e.name));
        let found: HashSet<&OsString> = root.left.iter().map(|e| &e.name).collect();
        if let Some(missing) = names.iter().find(|n| !found.contains(n)) {
            return Err(Error::invalid(format!(
                "cannot read source {}: it is not in the folder {}",
                Path::new(missing).display(),
                self.root.display()
            )));
        }
        Ok(self)
    }

    /// Whether the folder `name`, of device and inode `id`, is the journals' folder.
    fn is_journals(&self, name: &std::ffi::OsStr, id: (u64, u64)) -> bool {
        self.journals.as_deref().is_some_and(|j| {
            j.file_name() == Some(name)
                && std::fs::metadata(j).is_ok_and(|m| (m.dev(), m.ino()) == id)
        })
    }

    /// Whether the folder at `rel`, of entries `left`, holds a marker that leaves it out; if
    /// so, it is noted as left out ([`Filters::fence`]) before the walk yields anything after
    /// it, so that a sync's merge, which has seen nothing past it yet, knows it in time.
    fn marked(&self, rel: &Path, left: &[Entry]) -> bool {
        let Some(marker) = left
            .iter()
            .find(|e| self.filters.is_marker(e.name.as_bytes()))
        else {
            return false;
        };
        let dir = match rel.as_os_str().is_empty() {
            true => String::new(),
            false => {
                let key = key_for("", rel).unwrap_or_else(|_| rel.to_string_lossy().into());
                format!("{key}/")
            }
        };
        tracing::info!(
            "{}: left out, with all below it: it holds {}",
            self.root.join(rel).display(),
            Path::new(&marker.name).display()
        );
        self.filters.fence(dir);
        true
    }

    /// The entries of the folder at `rel`, sorted, last first.
    fn read(&self, rel: &Path) -> std::io::Result<Vec<Entry>> {
        let dir = self.root.join(rel);
        let mut entries = Vec::new();
        for e in std::fs::read_dir(&dir)? {
            let e = e?;
            let name = e.file_name();
            // Links followed: what they point at.
            let meta = std::fs::metadata(e.path());
            let link = e.file_type().is_ok_and(|t| t.is_symlink());
            let dangling = meta.as_ref().is_err_and(leads_nowhere) && link;
            let mut order = name.as_bytes().to_vec();
            if meta.as_ref().is_ok_and(|m| m.is_dir()) {
                order.push(b'/');
            }
            entries.push(Entry {
                name,
                order,
                meta,
                dangling,
                link,
            });
        }
        entries.sort_by(|a, b| b.order.cmp(&a.order));
        Ok(entries)
    }
}

impl Iterator for Walk {
    type Item = Found;

    fn next(&mut self) -> Option<Found> {
        loop {
            let folder = self.stack.last_mut()?;
            let Some(entry) = folder.left.pop() else {
                self.stack.pop();
                continue;
            };
            let rel = folder.rel.join(&entry.name);
            let path = self.root.join(&rel);
            let key = || key_for(&self.prefix, &rel).unwrap_or_default();
            if entry.link && !self.follow_links {
                return Some(Found::PassedOver(PassedOver {
                    key: key(),
                    what: path.display().to_string(),
                    why: "a link, not followed".to_string(),
                }));
            }
            let meta = match entry.meta {
                Ok(meta) => meta,
                Err(e) if entry.dangling => {
                    return Some(Found::PassedOver(PassedOver {
                        key: key(),
                        what: path.display().to_string(),
                        why: format!("a link to nothing ({e})"),
                    }));
                }
                // A file there may not be read: the tree fails it, and a sync keeps what the
                // other side holds under its key.
                Err(e) => {
                    return Some(Found::Bad(ObjectFailure {
                        key: key(),
                        error: Error::local(format!("cannot read {}", path.display()), e),
                        path,
                    }));
                }
            };
            if meta.is_dir() {
                let id = (meta.dev(), meta.ino());
                if rel
                    .to_str()
                    .is_some_and(|r| self.filters.skips_folder(&format!("{r}/")))
                {
                    continue;
                }
                if self.is_journals(&entry.name, id) {
                    return Some(Found::PassedOver(PassedOver {
                        key: String::new(),
                        what: path.display().to_string(),
                        why: "ferry's own journals, which change as it runs".to_string(),
                    }));
                }
                if self.stack.iter().any(|f| f.id == id) {
                    // Its key is a folder's: the filters ruled on it above.
                    return Some(Found::PassedOver(PassedOver {
                        key: String::new(),
                        what: path.display().to_string(),
                        why: "a link back to a folder above it".to_string(),
                    }));
                }
                match self.read(&rel) {
                    Ok(left) if self.marked(&rel, &left) => {}
                    Ok(left) => self.stack.push(Folder { rel, id, left }),
                    Err(e) => {
                        return Some(Found::Bad(ObjectFailure {
                            // The folder's own key, ending in `/`: what names it in a
                            // failure, and what tells the filters not to rule on it.
                            key: format!("{}{}/", self.prefix, rel.to_string_lossy()),
                            error: Error::local(format!("cannot read {}", path.display()), e),
                            path,
                        }));
                    }
                }
                continue;
            }
            let why_not = if meta.is_file() {
                crate::download::download_state(&entry.name)
            } else {
                Some("not a regular file")
            };
            if let Some(why) = why_not {
                return Some(Found::PassedOver(PassedOver {
                    key: key(),
                    what: path.display().to_string(),
                    why: why.to_string(),
                }));
            }
            let key = key_for(&self.prefix, &rel).and_then(|k| {
                ferry_s3::validate_key(&k)
                    .map(|()| k)
                    .map_err(|e| e.to_string())
            });
            return Some(match key {
                Ok(key) => Found::Item(Item::file(path, key, &meta)),
                Err(why) => Found::Bad(ObjectFailure {
                    // The key it would have, as near as it can be said (a name that is not
                    // UTF-8 shows U+FFFD where it is not).
                    key: format!("{}{}", self.prefix, rel.to_string_lossy()),
                    error: Error::invalid(why),
                    path,
                }),
            });
        }
    }
}

/// Whether a link's target cannot be read because there is none: gone, or a loop of links.
fn leads_nowhere(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound
        || rustix::io::Errno::from_io_error(e) == Some(rustix::io::Errno::LOOP)
}

/// Whether a walk of `root` with `filters` can yield no file below `dir` (a folder's path below
/// the root, `/` after it): the filters leave it out whole, or no folder is there (nothing, or
/// a file). Said only when certain: a folder that cannot be read, or a path no walk makes
/// (with an empty, `.` or `..` name in it), may hold something.
pub(crate) fn nothing_below(root: &Path, filters: &Filters, dir: &str) -> bool {
    if filters.skips_folder(dir) {
        return true;
    }
    let rel = dir.strip_suffix('/').unwrap_or(dir);
    if rel.split('/').any(|name| matches!(name, "" | "." | "..")) {
        return false;
    }
    match std::fs::metadata(root.join(rel)) {
        Ok(meta) => !meta.is_dir(),
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
        ),
    }
}

/// Walks `root` on a blocking thread into a channel of `capacity` items.
pub(crate) fn walk_into(walk: Walk, capacity: usize) -> mpsc::Receiver<Found> {
    let (tx, rx) = mpsc::channel(capacity);
    tokio::task::spawn_blocking(move || {
        for found in walk {
            if tx.blocking_send(found).is_err() {
                break;
            }
        }
    });
    rx
}

impl Item {
    /// A file at `path`, as its metadata (`meta`) describes it, going to or from `key`.
    pub(crate) fn file(path: PathBuf, key: String, meta: &std::fs::Metadata) -> Self {
        Self {
            path,
            key,
            size: meta.len(),
            etag: None,
            mtime: meta.modified().ok(),
            version_id: None,
            storage_class: None,
            in_destination: false,
            held_by: None,
            bucket: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys a walk of `root` yields with `filters`.
    fn keys(root: &Path, filters: &Filters) -> Vec<String> {
        Walk::new(root, "p/", filters, None)
            .unwrap()
            .map(|f| match f {
                Found::Item(i) => i.key,
                Found::Bad(b) => format!("bad {}", b.path.display()),
                Found::Fatal(e) => format!("fatal {e}"),
                Found::PassedOver(p) => format!("passed over {} ({}): {}", p.what, p.key, p.why),
            })
            .collect()
    }

    /// The journals' folder is passed over, by what it is rather than by the path it was
    /// named by; a folder of the same name elsewhere is walked.
    #[test]
    fn the_journals_folder_is_passed_over() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for rel in [".local/state/ferry/up-1.journal", "a.txt", "b/ferry/c.txt"] {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, rel).unwrap();
        }
        std::os::unix::fs::symlink(root.join(".local/state"), root.join("state-link")).unwrap();
        let named = root.join("state-link/ferry");
        let walk = Walk::new(root, "p/", &Filters::default(), Some(&named));
        let found: Vec<String> = walk
            .unwrap()
            .map(|f| match f {
                Found::Item(i) => i.key,
                Found::PassedOver(p) => format!("passed over {}", p.what),
                _ => "other".into(),
            })
            .collect();
        let journals = root.join(".local/state/ferry");
        assert_eq!(
            found,
            [
                format!("passed over {}", journals.display()),
                "p/a.txt".into(),
                "p/b/ferry/c.txt".into(),
                format!("passed over {}", named.display()),
            ]
        );
    }

    /// What is not a file to send is passed over, named with why, and keyed for the filters:
    /// a link to nothing, a loop of links, a pipe, a link back to a folder above it.
    #[test]
    fn what_is_no_file_is_passed_over_with_why() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("a.txt"), "a").unwrap();
        symlink("nowhere", root.join("b-gone")).unwrap();
        symlink("c-loop", root.join("c-loop")).unwrap();
        rustix::fs::mkfifoat(rustix::fs::CWD, root.join("d-pipe"), 0o600.into()).unwrap();
        std::fs::create_dir(root.join("e")).unwrap();
        symlink("..", root.join("e/up")).unwrap();
        let shown = |s: &str| s.replace(&root.display().to_string(), "R");
        let all: Vec<String> = keys(root, &Filters::default())
            .iter()
            .map(|k| shown(k))
            .collect();
        assert_eq!(all.len(), 5, "{all:#?}");
        assert_eq!(all[0], "p/a.txt");
        assert!(
            all[1].starts_with("passed over R/b-gone (p/b-gone): a link to nothing ("),
            "{}",
            all[1]
        );
        assert!(
            all[2].starts_with("passed over R/c-loop (p/c-loop): a link to nothing ("),
            "{}",
            all[2]
        );
        assert_eq!(
            all[3],
            "passed over R/d-pipe (p/d-pipe): not a regular file"
        );
        assert_eq!(
            all[4],
            "passed over R/e/up (): a link back to a folder above it"
        );
    }

    /// Told not to follow links, the walk passes over each one, to a file or a folder, and
    /// still takes the files; followed (the default), a link is what it points at.
    #[test]
    fn links_not_followed_are_passed_over() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("d")).unwrap();
        std::fs::write(root.join("d/f.txt"), "f").unwrap();
        std::fs::write(root.join("a.txt"), "a").unwrap();
        symlink("a.txt", root.join("b-file")).unwrap();
        symlink("d", root.join("c-folder")).unwrap();
        let walk = |follow: bool| -> Vec<String> {
            Walk::new(root, "p/", &Filters::default(), None)
                .unwrap()
                .following_links(follow)
                .map(|f| match f {
                    Found::Item(i) => i.key,
                    Found::PassedOver(p) => format!("passed over {}: {}", p.key, p.why),
                    _ => "other".into(),
                })
                .collect()
        };
        assert_eq!(
            walk(false),
            [
                "p/a.txt",
                "passed over p/b-file: a link, not followed",
                "passed over p/c-folder: a link, not followed",
                "p/d/f.txt",
            ]
        );
        assert_eq!(
            walk(true),
            ["p/a.txt", "p/b-file", "p/c-folder/f.txt", "p/d/f.txt"]
        );
    }

    #[test]
    fn a_folder_the_filters_rule_out_is_not_entered() {
        let dir = tempfile::tempdir().unwrap();
        for rel in ["a.txt", "skip/b.txt", "skip/deep/c.txt", "skipper/d.txt"] {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, rel).unwrap();
        }
        let all = keys(dir.path(), &Filters::default());
        let want = [
            "p/a.txt",
            "p/skip/b.txt",
            "p/skip/deep/c.txt",
            "p/skipper/d.txt",
        ];
        assert_eq!(all, want);
        let skip = Filters::default().exclude("skip/*").unwrap();
        assert_eq!(keys(dir.path(), &skip), ["p/a.txt", "p/skipper/d.txt"]);
        // An include after the exclude: every file is walked, for the filters to judge.
        let back = skip.include("*.txt").unwrap();
        assert_eq!(keys(dir.path(), &back), want);
    }

    #[test]
    fn a_folder_holding_a_marker_is_left_out_whole_and_noted() {
        let dir = tempfile::tempdir().unwrap();
        let files = [
            "a.txt",
            "cache/CACHEDIR.TAG",
            "cache/x.bin",
            "cache-x/y.txt",
            "deep/keep.txt",
            "deep/sub/.nobackup",
            "deep/sub/z/z.txt",
        ];
        for rel in files {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, rel).unwrap();
        }
        let marked = Filters::default()
            .exclude_if_present(".nobackup")
            .unwrap()
            .exclude_if_present("CACHEDIR.TAG")
            .unwrap()
            .for_run(None);
        let walked = keys(dir.path(), &marked);
        assert_eq!(walked, ["p/a.txt", "p/cache-x/y.txt", "p/deep/keep.txt"]);
        for (rel, fenced) in [
            ("cache/x.bin", true),
            ("cache/later.bin", true),
            ("cache-x/y.txt", false),
            ("cache", false),
            ("deep/sub/z/z.txt", true),
            ("deep/subway.txt", false),
            ("deep/keep.txt", false),
        ] {
            assert_eq!(marked.fenced(rel), fenced, "{rel}");
        }
        // A run of its own starts with nothing fenced; a marker in the root leaves out all.
        assert!(!marked.for_run(None).fenced("cache/x.bin"));
        std::fs::write(dir.path().join(".nobackup"), "").unwrap();
        let all_out = marked.for_run(None);
        assert!(keys(dir.path(), &all_out).is_empty());
        assert!(all_out.fenced("a.txt") && all_out.fenced("deep/keep.txt"));
        // Without markers, nothing is fenced and every file is walked.
        assert_eq!(keys(dir.path(), &Filters::default()).len(), files.len() + 1);
        for bad in ["", ".", "..", "a/b"] {
            assert!(
                Filters::default().exclude_if_present(bad).is_err(),
                "{bad:?}"
            );
        }
    }

    /// A folder holds nothing for a walk only where that is certain: none there, a file
    /// there, or the filters leaving it out; a link to a folder and a name no walk makes may.
    #[test]
    fn nothing_below_a_folder_is_said_only_when_certain() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::create_dir_all(root.join("cache")).unwrap();
        std::fs::write(root.join("f"), b"f").unwrap();
        std::os::unix::fs::symlink(root.join("a"), root.join("link")).unwrap();
        let none = Filters::default();
        let cases = [
            ("a/", false),
            ("a/b/", false),
            ("link/", false),
            ("cache/", false),
            ("a/c/", true),
            ("gone/", true),
            ("f/", true),
            ("f/g/", true),
            ("gone//", false),
            ("gone/../", false),
            ("./", false),
        ];
        for (rel, nothing) in cases {
            assert_eq!(nothing_below(root, &none, rel), nothing, "{rel}");
        }
        let out = Filters::default().exclude("cache/*").unwrap();
        assert!(nothing_below(root, &out, "cache/") && !nothing_below(root, &out, "a/"));
    }
}
