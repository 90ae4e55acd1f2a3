//! What a sync replaces or deletes, kept first (rclone's `--backup-dir`): each destination
//! object copied on the server to a backup prefix, at its path below the destination (with a
//! suffix, rclone's `--suffix`, when one is given), before it is replaced or deleted; each
//! destination file moved into a backup folder. A path whose backup fails is neither replaced
//! nor deleted: it fails, named.

use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ferry_s3::{ObjectClient, ObjectOptions, RequestOptions};
use futures_util::StreamExt as _;
use tokio::sync::mpsc;

use super::super::remove::{FilesTo, move_file};
use super::super::sides::{Direction, Sides, url};
use super::super::{Found, Item, keys};
use crate::context::Context;
use crate::copy::{Copy, ObjectSource};
use crate::error::{Error, ErrorKind};
use crate::outcome::ObjectFailure;

/// Backups made at once.
const BACKUPS: usize = 16;

/// Where a sync keeps what it replaces or deletes
/// ([`SyncSettings::backup`](super::SyncSettings::backup)), each at its path below the
/// destination; one already there at that path is replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backup {
    /// A prefix on the destination's server, for a sync up or from prefix to prefix: each
    /// object is copied there on the server (its metadata, tags and SSE-C key kept), then
    /// replaced or deleted. It may be in another bucket; it may not overlap the destination.
    Prefix {
        /// Bucket.
        bucket: String,
        /// Prefix (a folder: `/` is added when missing).
        prefix: String,
    },
    /// A folder on the destination's filesystem, for a sync down: each file is moved there
    /// (renamed), then the new one takes its place. It may not overlap the destination.
    Folder(PathBuf),
}

/// What a backup's name gets after its path (rclone's `--suffix`), so that backups of one
/// path made by several syncs (a date each) stand side by side rather than replace each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suffix {
    /// The text added, such as `.2026-12-07` (no `/`).
    pub suffix: String,
    /// Put it before the name's extension (`a-2026-12-07.txt`) rather than after
    /// (`a.txt-2026-12-07`), as rclone's `--suffix-keep-extension`.
    pub keep_extension: bool,
}

impl Suffix {
    /// A suffix of `suffix`, refused when empty or holding `/`.
    pub fn new(suffix: &str, keep_extension: bool) -> Result<Self, Error> {
        if suffix.is_empty() || suffix.contains('/') || suffix.contains('\0') {
            return Err(Error::invalid(format!(
                "{suffix:?} cannot end a backup's name: give text with no /, such as .bak"
            )));
        }
        Ok(Self {
            suffix: suffix.to_string(),
            keep_extension,
        })
    }

    /// `rel` (a path below the destination, `/` between folders) named with the suffix: after
    /// it, or before the extension of its last name (a name whose only dot leads it has none).
    pub(crate) fn name(&self, rel: &str) -> String {
        let (folder, name) = rel.rsplit_once('/').map_or(("", rel), |(f, n)| (f, n));
        let dot = name.rfind('.').filter(|&at| at > 0 && self.keep_extension);
        let named = match dot {
            Some(at) => format!("{}{}{}", &name[..at], self.suffix, &name[at..]),
            None => format!("{name}{}", self.suffix),
        };
        match folder {
            "" => named,
            f => format!("{f}/{named}"),
        }
    }
}

/// Where a sync down's deletions move their files: into `dir`, at their paths below `root`,
/// named with `suffix` when given.
#[derive(Debug, Clone)]
pub(crate) struct Folder {
    dir: PathBuf,
    root: PathBuf,
    suffix: Option<Suffix>,
}

impl Folder {
    /// Where the file at `path` (below the root) goes.
    pub(crate) fn target(&self, path: &Path) -> PathBuf {
        let rel = path.strip_prefix(&self.root).unwrap_or(path);
        self.dir
            .join(named(self.suffix.as_ref(), &rel.to_string_lossy()))
    }
}

/// `rel` as its backup is named: with `suffix`, if any.
fn named(suffix: Option<&Suffix>, rel: &str) -> String {
    suffix.map_or_else(|| rel.to_string(), |s| s.name(rel))
}

impl Backup {
    /// Whether it suits a sync whose sides are `sides` into folder `root` (down): a folder
    /// down, a prefix otherwise, neither inside the destination nor holding it.
    pub(super) fn check(&self, sides: &Sides, root: Option<&Path>) -> Result<(), Error> {
        let refuse = |why: String| Err(Error::invalid(why));
        match (self, sides.direction, root) {
            (Backup::Folder(dir), Direction::Down, Some(root)) => {
                let (dir, root) = (absolute(dir)?, absolute(root)?);
                if dir.starts_with(&root) || root.starts_with(&dir) {
                    return refuse(format!(
                        "the backup folder {} overlaps the destination {}: keep it beside it",
                        dir.display(),
                        root.display()
                    ));
                }
                same_filesystem(&dir, &root)
            }
            (Backup::Prefix { bucket, prefix }, Direction::Up | Direction::Copy, _) => {
                let prefix = keys::as_folder(prefix);
                let dest = &sides.dest_prefix;
                if *bucket == sides.dest_bucket
                    && (prefix.starts_with(dest.as_str()) || dest.starts_with(prefix.as_str()))
                {
                    return refuse(format!(
                        "the backup prefix {} overlaps the destination {}: keep it beside it",
                        url(bucket, &prefix),
                        url(&sides.dest_bucket, dest)
                    ));
                }
                Ok(())
            }
            (Backup::Folder(_), ..) => refuse(
                "a backup folder is for a sync down; up or across, back up to a prefix".into(),
            ),
            (Backup::Prefix { .. }, ..) => refuse(
                "a backup prefix is for a sync up or across; down, back up to a folder".into(),
            ),
        }
    }
}

/// `path` made absolute, without following links (it may not exist yet).
fn absolute(path: &Path) -> Result<PathBuf, Error> {
    std::path::absolute(path).map_err(|e| Error::local(format!("reading {}", path.display()), e))
}

/// A move from `root` into `dir` is a rename: both on one filesystem (the nearest folder of
/// each that exists).
fn same_filesystem(dir: &Path, root: &Path) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt as _;
    let device = |p: &Path| {
        p.ancestors()
            .find_map(|a| std::fs::metadata(a).ok())
            .map(|m| m.dev())
    };
    if device(dir) != device(root) {
        return Err(Error::invalid(format!(
            "the backup folder {} is on another filesystem than the destination {}: a backup \
             moves each file, so keep it on the same one",
            dir.display(),
            root.display()
        )));
    }
    Ok(())
}

/// The backups of one sync: where they go, the two sides, what every request to the
/// destination carries, and how many were made.
pub(super) struct Backing {
    to: Backup,
    suffix: Option<Suffix>,
    sides: Sides,
    request: RequestOptions,
    root: Option<PathBuf>,
    made: AtomicU64,
}

impl Backing {
    pub(super) fn new(
        (to, suffix): (Backup, Option<Suffix>),
        sides: Sides,
        request: RequestOptions,
        root: Option<PathBuf>,
    ) -> Arc<Self> {
        Arc::new(Self {
            to,
            suffix,
            sides,
            request,
            root,
            made: AtomicU64::new(0),
        })
    }

    /// Backups made.
    pub(super) fn made(&self) -> u64 {
        self.made.load(Ordering::Relaxed)
    }

    /// Where a sync down's deletions move their files.
    pub(super) fn moving_files(&self) -> Option<FilesTo> {
        match (&self.to, &self.root) {
            (Backup::Folder(dir), Some(root)) => {
                let folder = Folder {
                    dir: dir.clone(),
                    root: root.clone(),
                    suffix: self.suffix.clone(),
                };
                Some(Arc::new(move |path: &Path| folder.target(path)))
            }
            _ => None,
        }
    }

    /// Backs up what the destination holds at item `i`'s path (`source`: `i` is the
    /// source's, about to replace it; else the destination's own, about to be deleted).
    async fn back_up<C: ObjectClient>(
        &self,
        ctx: &Context<C>,
        i: &Item,
        source: bool,
    ) -> Result<(), Error> {
        let rel = named(self.suffix.as_ref(), self.sides.rel(i, source));
        match &self.to {
            Backup::Folder(dir) => {
                let (from, to) = (i.path.clone(), dir.join(rel));
                moved(from, to).await?;
            }
            Backup::Prefix { bucket, prefix } => {
                let key = match source {
                    true => self.sides.dest_key(i),
                    false => i.key.clone(),
                };
                let from = ObjectSource {
                    sse_customer_key: self.request.sse_customer_key.clone(),
                    ..ObjectSource::new(&self.sides.dest_bucket, &key)
                };
                let copy = Copy {
                    from,
                    bucket: bucket.clone(),
                    key: format!("{}{rel}", keys::as_folder(prefix)),
                    options: ObjectOptions {
                        request: self.request.clone(),
                        ..Default::default()
                    },
                    settings: Default::default(),
                };
                let to = url(&copy.bucket, &copy.key);
                crate::copy::run(ctx.child(), copy).await.map_err(|e| {
                    let message = format!(
                        "backing up {} to {to}: {e}",
                        url(&self.sides.dest_bucket, &key)
                    );
                    e.with_message(message)
                })?;
            }
        }
        self.made.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Moves the file at `from` to `to`, making `to`'s folders.
async fn moved(from: PathBuf, to: PathBuf) -> Result<(), Error> {
    tokio::task::spawn_blocking(move || move_file(&from, &to))
        .await
        .map_err(|e| Error::new(ErrorKind::Local, format!("the backup task failed: {e}")))?
}

/// The merge's transfers, each one that replaces what the destination holds passed on once
/// that is backed up (several at once); one whose backup fails fails, named, and replaces
/// nothing.
pub(super) fn before_transfers<C: ObjectClient>(
    ctx: &Context<C>,
    backing: Arc<Backing>,
    found: mpsc::Receiver<Found>,
) -> mpsc::Receiver<Found> {
    let ctx = ctx.clone();
    super::staged(found, BACKUPS, move |f| {
        let (ctx, backing) = (ctx.clone(), backing.clone());
        async move {
            match f {
                Found::Item(i) if i.in_destination => match backing.back_up(&ctx, &i, true).await {
                    Ok(()) => Some(Found::Item(i)),
                    // Interrupted: the transfers are too.
                    Err(e) if e.kind() == ErrorKind::Cancelled => None,
                    Err(e) => Some(Found::Bad(backing.sides.failure(&i, e))),
                },
                other => Some(other),
            }
        }
    })
}

/// Copies each object a sync is about to delete to the backup prefix (several at once):
/// those backed up, to delete, and a failure for each that was not (and is kept; one
/// interrupted is neither).
pub(super) async fn before_deletions<C: ObjectClient>(
    ctx: &Context<C>,
    backing: &Backing,
    deletions: Vec<Item>,
) -> (Vec<Item>, Vec<ObjectFailure>) {
    let copies = futures_util::stream::iter(deletions)
        .map(|i| async move {
            let r = backing.back_up(ctx, &i, false).await;
            (i, r)
        })
        .buffer_unordered(BACKUPS);
    let (mut kept, mut failed) = (Vec::new(), Vec::new());
    let mut copies = pin!(copies);
    while let Some((i, r)) = copies.next().await {
        match r {
            Ok(()) => kept.push(i),
            // Interrupted: neither deleted nor failed (the deletions say it).
            Err(e) if e.kind() == ErrorKind::Cancelled => {}
            Err(error) => failed.push(ObjectFailure {
                path: url(&backing.sides.dest_bucket, &i.key).into(),
                key: i.key,
                error,
            }),
        }
    }
    (kept, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suffix_goes_after_the_name_or_before_its_extension() {
        let after = Suffix::new(".1", false).unwrap();
        let before = Suffix::new("-2026-12-07", true).unwrap();
        assert_eq!(after.name("a/b.txt"), "a/b.txt.1");
        assert_eq!(before.name("a/b.txt"), "a/b-2026-12-07.txt");
        assert_eq!(before.name("a.d/b"), "a.d/b-2026-12-07");
        assert_eq!(before.name(".bashrc"), ".bashrc-2026-12-07");
        assert_eq!(before.name("x.tar.gz"), "x.tar-2026-12-07.gz");
        for bad in ["", "a/b"] {
            assert!(Suffix::new(bad, false).is_err(), "{bad:?}");
        }
        let to = Folder {
            dir: "/old".into(),
            root: "/data".into(),
            suffix: Some(after),
        };
        assert_eq!(to.target(Path::new("/data/x/y")), Path::new("/old/x/y.1"));
    }

    #[test]
    fn a_backup_suits_its_direction_and_lies_beside_the_destination() {
        let up = Sides::folder(Direction::Up, "b", "data/".into());
        let prefix = |bucket: &str, prefix: &str| Backup::Prefix {
            bucket: bucket.into(),
            prefix: prefix.into(),
        };
        assert!(prefix("b", "old").check(&up, None).is_ok());
        assert!(prefix("other", "data/old").check(&up, None).is_ok());
        for inside in [
            prefix("b", "data/old"),
            prefix("b", ""),
            prefix("b", "data"),
        ] {
            let e = inside.check(&up, None).unwrap_err();
            assert!(e.to_string().contains("overlaps the destination"), "{e}");
        }
        let folder = Backup::Folder("/tmp/old".into());
        assert!(folder.check(&up, None).is_err(), "a folder, up");
        let down = Sides::folder(Direction::Down, "b", "data/".into());
        let root = Path::new("/tmp/data");
        assert!(folder.check(&down, Some(root)).is_ok());
        assert!(prefix("b", "old").check(&down, Some(root)).is_err());
        let e = Backup::Folder("/tmp/data/old".into())
            .check(&down, Some(root))
            .unwrap_err();
        assert!(e.to_string().contains("overlaps"), "{e}");
        assert!(
            Backup::Folder("/tmp".into())
                .check(&down, Some(root))
                .is_err()
        );
    }
}
