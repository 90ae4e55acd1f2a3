//! Where a file download's bytes land: the partial file, written through the page cache, or
//! with `O_DIRECT` when the download is too big for the page cache to absorb.
//!
//! Through the page cache a write is a copy into memory, and the kernel writes it back later.
//! That is quickest while the file fits under the kernel's background writeback threshold;
//! beyond it, writeback competes with the download and, past the dirty limit, the kernel
//! makes the writer wait and reclaims pages as it goes. On a 2-core machine with 24 GiB, an
//! 8 GiB download through the page cache took 27 s and 30 CPU-s, the same written direct
//! 8 s and 8 CPU-s; a 1 GiB one was 15 % quicker through the cache at the same CPU.

use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use tracing::info;

/// When a file download is written with `O_DIRECT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DirectIo {
    /// When the object is bigger than the kernel's background writeback threshold (the
    /// `vm.dirty_background_*` share of the available memory) and the file is on a local disk
    /// filesystem (ext4, XFS, btrfs, F2FS).
    #[default]
    Auto,
    /// Whenever the filesystem is a local disk one.
    Always,
    /// Never: always through the page cache.
    Never,
}

/// Offsets, lengths and addresses of direct writes are multiples of this: the largest
/// logical block size of common disks, so no filesystem needs to be asked.
pub(crate) const ALIGN: usize = 4096;

/// Magic numbers (`statfs`) of the local disk filesystems written direct: ext2/3/4, XFS,
/// btrfs, F2FS. On network and FUSE filesystems each direct write is a round trip, and
/// tmpfs has no disk to write to.
const DIRECT_FILESYSTEMS: [u64; 4] = [0xEF53, 0x5846_5342, 0x9123_683E, 0xF2F5_2010];

/// The partial file a download writes, and the same file opened with `O_DIRECT` when the
/// download writes direct.
#[derive(Clone)]
pub(crate) struct Out {
    pub(crate) file: Arc<File>,
    direct: Option<Arc<Direct>>,
}

/// A descriptor opened with `O_DIRECT`, until the filesystem refuses a write through it.
struct Direct {
    file: File,
    refused: AtomicBool,
}

impl Out {
    /// Writes through the page cache only.
    #[cfg(test)]
    pub(crate) fn buffered(file: Arc<File>) -> Self {
        Out { file, direct: None }
    }

    /// The partial file at `path` for a download of `size` bytes, with a direct descriptor
    /// when `mode` and the filesystem allow one.
    pub(crate) fn open(path: &Path, file: Arc<File>, size: u64, mode: DirectIo) -> Self {
        let wanted = match mode {
            DirectIo::Never => false,
            DirectIo::Always => true,
            DirectIo::Auto => page_cache_budget().is_none_or(|b| size > b),
        };
        let direct = wanted
            .then(|| rustix::fs::fstatfs(&*file).ok())
            .flatten()
            .filter(|st| DIRECT_FILESYSTEMS.contains(&(st.f_type as u64)))
            .and_then(|_| {
                use rustix::fs::{Mode, OFlags};
                let flags = OFlags::WRONLY | OFlags::DIRECT | OFlags::CLOEXEC;
                rustix::fs::open(path, flags, Mode::empty()).ok()
            })
            .map(|fd| {
                Arc::new(Direct {
                    file: File::from(fd),
                    refused: AtomicBool::new(false),
                })
            });
        if direct.is_some() {
            info!("writing {} with O_DIRECT", path.display());
        }
        Out { file, direct }
    }

    /// Whether writes go direct (until the filesystem refuses one).
    pub(crate) fn is_direct(&self) -> bool {
        self.direct
            .as_ref()
            .is_some_and(|d| !d.refused.load(Ordering::Relaxed))
    }

    /// Writes `data` at `offset`: its whole blocks direct when this writes direct and
    /// `offset` is aligned, the rest (a range's last block, or all of it) through the page
    /// cache. A direct write the filesystem refuses (`EINVAL`) turns direct writes off.
    pub(crate) fn write_at(&self, data: &[u8], offset: u64) -> std::io::Result<()> {
        let mut done = 0;
        if let Some(d) = self.direct.as_ref().filter(|_| self.is_direct())
            && offset.is_multiple_of(ALIGN as u64)
        {
            let whole = data.len() / ALIGN * ALIGN;
            while done < whole {
                match rustix::io::pwrite(&d.file, &data[done..whole], offset + done as u64) {
                    Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        done += n;
                        if !n.is_multiple_of(ALIGN) {
                            // A short write off a block boundary: the rest goes buffered.
                            break;
                        }
                    }
                    Err(rustix::io::Errno::INTR) => {}
                    Err(rustix::io::Errno::INVAL) => {
                        if !d.refused.swap(true, Ordering::Relaxed) {
                            info!(
                                "the filesystem refused a direct write; writing through the page cache"
                            );
                        }
                        break;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        if done < data.len() {
            let _one_at_a_time = write_lock(&self.file)
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            self.file
                .write_all_at(&data[done..], offset + done as u64)?;
        }
        Ok(())
    }

    /// Writes the network's chunks at `offset` through the page cache.
    pub(crate) fn write_chunks_at(&self, data: &[Bytes], offset: u64) -> std::io::Result<()> {
        let _one_at_a_time = write_lock(&self.file)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        write_all_vectored_at(&self.file, data, offset)
    }
}

/// Bytes a download may leave to the page cache: the kernel's background writeback threshold,
/// `vm.dirty_background_bytes`, or `vm.dirty_background_ratio` percent of the available
/// memory. `None` when `/proc` does not say.
fn page_cache_budget() -> Option<u64> {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    let bytes: u64 = read("/proc/sys/vm/dirty_background_bytes")?
        .trim()
        .parse()
        .ok()?;
    if bytes > 0 {
        return Some(bytes);
    }
    let ratio: u64 = read("/proc/sys/vm/dirty_background_ratio")?
        .trim()
        .parse()
        .ok()?;
    let available_kib: u64 = read("/proc/meminfo")?
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(available_kib * 1024 / 100 * ratio)
}

/// A buffer of `capacity` bytes starting at an [`ALIGN`] boundary, as direct writes need.
/// The padding before the bytes is part of the vector: no unsafe code, and nothing is
/// cleared before it is filled.
pub(crate) struct Aligned {
    buf: Vec<u8>,
    pad: usize,
}

impl Aligned {
    pub(crate) fn new(capacity: usize) -> Self {
        let mut buf: Vec<u8> = Vec::with_capacity(capacity + ALIGN);
        let pad = buf.as_ptr().align_offset(ALIGN);
        buf.resize(pad, 0);
        Aligned { buf, pad }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[self.pad..]
    }

    /// Appends `b`. Within the capacity asked for, the buffer never moves (a move would
    /// lose the alignment, which `bytes` would then not have).
    pub(crate) fn extend(&mut self, b: &[u8]) {
        debug_assert!(self.buf.len() + b.len() <= self.buf.capacity());
        self.buf.extend_from_slice(b);
    }

    pub(crate) fn clear(&mut self) {
        self.buf.truncate(self.pad);
    }
}

/// The lock that writes to `file` take in turn. Buffered writes to one file are serialised by
/// the kernel anyway (ext4 takes the inode's lock for each), and threads waiting there spin:
/// with eight ranges writing at once, profiles showed a fifth of the CPU in `rwsem_spin_on_owner`.
/// Waiting here sleeps instead. Striped by the file's address: other files rarely share one.
fn write_lock(file: &Arc<File>) -> &'static std::sync::Mutex<()> {
    static STRIPES: [std::sync::Mutex<()>; 16] = [const { std::sync::Mutex::new(()) }; 16];
    &STRIPES[(Arc::as_ptr(file) as usize >> 6) % STRIPES.len()]
}

/// Writes every byte of `data` at `offset`, in as few `pwritev` calls as the kernel allows.
fn write_all_vectored_at(file: &File, data: &[Bytes], mut offset: u64) -> std::io::Result<()> {
    let mut bufs: Vec<std::io::IoSlice<'_>> =
        data.iter().map(|b| std::io::IoSlice::new(b)).collect();
    let mut slices = &mut bufs[..];
    while !slices.is_empty() {
        match rustix::io::pwritev(file, slices, offset) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                offset += n as u64;
                std::io::IoSlice::advance_slices(&mut slices, n);
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_disk() -> (tempfile::TempDir, std::path::PathBuf, Arc<File>) {
        // Where /tmp is a tmpfs, the direct cases below check only that nothing goes direct.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        file.set_len(3 * ALIGN as u64 + 100).unwrap();
        (dir, path, Arc::new(file))
    }

    fn pattern(n: usize, seed: u8) -> Vec<u8> {
        (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
    }

    #[test]
    fn whole_blocks_go_direct_and_the_tail_through_the_cache() {
        let (_dir, path, file) = on_disk();
        let out = Out::open(&path, file.clone(), 1, DirectIo::Always);
        let fs = rustix::fs::fstatfs(&*file).unwrap().f_type as u64;
        assert_eq!(
            out.is_direct(),
            DIRECT_FILESYSTEMS.contains(&fs),
            "direct on a disk filesystem only (f_type {fs:#x})"
        );
        let body = pattern(3 * ALIGN + 100, 7);
        let mut a = Aligned::new(body.len());
        a.extend(&body);
        assert_eq!(a.bytes().as_ptr() as usize % ALIGN, 0);
        out.write_at(a.bytes(), 0).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), body);
        assert!(
            !out.direct
                .as_ref()
                .is_some_and(|d| d.refused.load(Ordering::Relaxed)),
            "an aligned write is not refused"
        );
    }

    #[test]
    fn a_refused_direct_write_lands_through_the_cache_and_turns_direct_off() {
        let (_dir, path, file) = on_disk();
        let out = Out::open(&path, file, 1, DirectIo::Always);
        if !out.is_direct() {
            return; // No direct I/O on this filesystem: nothing to refuse.
        }
        // Bytes at an address off the block boundary: the kernel refuses them (EINVAL).
        let body = pattern(2 * ALIGN + 1, 9);
        let mut a = Aligned::new(body.len() + 1);
        a.extend(&[0]);
        a.extend(&body);
        out.write_at(&a.bytes()[1..], ALIGN as u64).unwrap();
        assert!(!out.is_direct(), "direct writes are off after a refusal");
        let on_disk = std::fs::read(&path).unwrap();
        assert_eq!(&on_disk[ALIGN..3 * ALIGN + 1], &body[..]);
        // Later writes go through the cache.
        out.write_at(&pattern(ALIGN, 3), 0).unwrap();
        assert_eq!(
            &std::fs::read(&path).unwrap()[..ALIGN],
            &pattern(ALIGN, 3)[..]
        );
    }

    #[test]
    fn never_and_a_small_auto_download_write_through_the_cache() {
        let (_dir, path, file) = on_disk();
        assert!(!Out::open(&path, file.clone(), u64::MAX, DirectIo::Never).is_direct());
        assert!(!Out::open(&path, file.clone(), 1, DirectIo::Auto).is_direct());
        let buffered = Out::buffered(file);
        buffered
            .write_chunks_at(&[Bytes::from_static(b"ab"), Bytes::from_static(b"cd")], 5)
            .unwrap();
        assert_eq!(&std::fs::read(&path).unwrap()[5..9], b"abcd");
    }
}
