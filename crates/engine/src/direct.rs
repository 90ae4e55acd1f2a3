//! Files read and written with `O_DIRECT` when they are too big for the page cache, through
//! it otherwise: an upload's source, a download's partial file.
//!
//! Through the page cache, a write is a copy into memory that the kernel writes back later,
//! and a read fills memory with the file first. That is quickest while the file fits under
//! the kernel's background writeback threshold; beyond it, writeback competes with the
//! transfer, past the dirty limit the kernel makes the writer wait, and every page read or
//! written must be reclaimed again, pushing other files out of the cache. On a 2-core machine
//! with 24 GiB, an 8 GiB download through the page cache took 27 s and 30 CPU-s, the same
//! written direct 8 s and 8 CPU-s (a 1 GiB one was 15 % quicker through the cache at the
//! same CPU); reading an 8 GiB file through the cache cost 6-21 CPU-s, direct 1.1-1.6.

use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use tracing::info;

/// When a file is read (an upload's source) or written (a download) with `O_DIRECT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DirectIo {
    /// When the file is bigger than the kernel's background writeback threshold (the
    /// `vm.dirty_background_*` share of the available memory) and is on a local disk
    /// filesystem (ext4, XFS, btrfs, F2FS).
    #[default]
    Auto,
    /// Whenever the filesystem is a local disk one.
    Always,
    /// Never: always through the page cache.
    Never,
}

/// Offsets, lengths and addresses of direct reads and writes are multiples of this: the
/// largest logical block size of common disks, so no filesystem needs to be asked.
pub(crate) const ALIGN: usize = 4096;

/// Magic numbers (`statfs`) of the local disk filesystems used direct: ext2/3/4, XFS,
/// btrfs, F2FS. On network and FUSE filesystems each direct request is a round trip, and
/// tmpfs has no disk to go to.
const DIRECT_FILESYSTEMS: [u64; 4] = [0xEF53, 0x5846_5342, 0x9123_683E, 0xF2F5_2010];

/// `file` (at `path`, `size` bytes) opened again with `O_DIRECT` and `access` (`WRONLY` or
/// `RDONLY`), when `mode` asks for it and the filesystem is a local disk one.
fn open_direct(
    path: &Path,
    file: &File,
    size: u64,
    mode: DirectIo,
    access: rustix::fs::OFlags,
) -> Option<Direct> {
    let wanted = match mode {
        DirectIo::Never => false,
        DirectIo::Always => true,
        DirectIo::Auto => page_cache_budget().is_none_or(|b| size > b),
    };
    if !wanted {
        return None;
    }
    let st = rustix::fs::fstatfs(file).ok()?;
    if !DIRECT_FILESYSTEMS.contains(&(st.f_type as u64)) {
        return None;
    }
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open(
        path,
        access | OFlags::DIRECT | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    info!("{} goes direct (O_DIRECT)", path.display());
    Some(Direct {
        file: File::from(fd),
        refused: AtomicBool::new(false),
    })
}

/// The partial file a download writes, and the same file opened with `O_DIRECT` when the
/// download writes direct.
#[derive(Clone)]
pub(crate) struct Out {
    pub(crate) file: Arc<File>,
    direct: Option<Arc<Direct>>,
}

/// A descriptor opened with `O_DIRECT`, used until the filesystem refuses a request
/// through it (`EINVAL`).
struct Direct {
    file: File,
    refused: AtomicBool,
}

impl Direct {
    fn usable(&self) -> bool {
        !self.refused.load(Ordering::Relaxed)
    }

    fn refuse(&self) {
        if !self.refused.swap(true, Ordering::Relaxed) {
            info!("the filesystem refused a direct request; going through the page cache");
        }
    }
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
        let direct = open_direct(path, &file, size, mode, rustix::fs::OFlags::WRONLY);
        Out {
            file,
            direct: direct.map(Arc::new),
        }
    }

    /// Whether writes go direct (until the filesystem refuses one).
    pub(crate) fn is_direct(&self) -> bool {
        self.direct.as_ref().is_some_and(|d| d.usable())
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
                        d.refuse();
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

/// An upload's source file opened again with `O_DIRECT`, and the aligned buffers its reads
/// fill.
pub(crate) struct DirectSource {
    direct: Direct,
    pool: Arc<BlockPool>,
}

impl std::fmt::Debug for DirectSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DirectSource")
    }
}

impl DirectSource {
    /// `file` (at `path`, `size` bytes) for direct reads of at most `chunk` bytes, when
    /// `mode` and the filesystem allow them.
    pub(crate) fn open(
        path: &Path,
        file: &File,
        size: u64,
        mode: DirectIo,
        chunk: usize,
    ) -> Option<Self> {
        let direct = open_direct(path, file, size, mode, rustix::fs::OFlags::RDONLY)?;
        Some(DirectSource {
            direct,
            pool: Arc::new(BlockPool {
                size: chunk,
                free: std::sync::Mutex::new(Vec::new()),
            }),
        })
    }

    /// Reads exactly `n` bytes at `offset` straight from the disk into a pooled aligned
    /// buffer. `None` when this read cannot go direct (`offset` off a block boundary, `n`
    /// over the chunk size, or the filesystem refused): read it through the page cache.
    pub(crate) fn read_at(&self, offset: u64, n: usize) -> Option<std::io::Result<Bytes>> {
        if !self.direct.usable() || !offset.is_multiple_of(ALIGN as u64) || n > self.pool.size {
            return None;
        }
        // Whole blocks: past the end of the file a direct read just returns less.
        let want = n.next_multiple_of(ALIGN);
        let mut block = self.pool.take();
        let mut got = 0;
        while got < n {
            let buf = &mut block.bytes_mut()[got..want];
            match rustix::io::pread(&self.direct.file, buf, offset + got as u64) {
                Ok(0) => {
                    return Some(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("the file ended {got} bytes into a {n}-byte read"),
                    )));
                }
                Ok(k) if (got + k) < n && !(got + k).is_multiple_of(ALIGN) => {
                    // A short read off a block boundary: the caller reads it all again.
                    return None;
                }
                Ok(k) => got += k,
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::INVAL) => {
                    self.direct.refuse();
                    return None;
                }
                Err(e) => return Some(Err(e.into())),
            }
        }
        block.len = n;
        Some(Ok(Bytes::from_owner(block)))
    }
}

/// Aligned buffers for direct reads, kept for the next read once their bytes are sent: a
/// fresh buffer costs a page fault per 4 KiB when the disk first fills it, a reused one
/// nothing. Holds no more than were in use at once.
struct BlockPool {
    size: usize,
    free: std::sync::Mutex<Vec<Vec<u8>>>,
}

impl BlockPool {
    fn take(self: &Arc<Self>) -> Block {
        let buf = self
            .free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            // Zeroed once (safe code cannot read into memory that was never written).
            .unwrap_or_else(|| vec![0u8; self.size + ALIGN]);
        let pad = buf.as_ptr().align_offset(ALIGN);
        Block {
            buf,
            pad,
            len: 0,
            pool: self.clone(),
        }
    }
}

/// A pooled buffer: `len` bytes from an [`ALIGN`] boundary; back to the pool when dropped.
struct Block {
    buf: Vec<u8>,
    pad: usize,
    len: usize,
    pool: Arc<BlockPool>,
}

impl Block {
    /// The whole aligned capacity.
    fn bytes_mut(&mut self) -> &mut [u8] {
        let size = self.pool.size;
        &mut self.buf[self.pad..self.pad + size]
    }
}

impl AsRef<[u8]> for Block {
    fn as_ref(&self) -> &[u8] {
        &self.buf[self.pad..self.pad + self.len]
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        self.pool
            .free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(buf);
    }
}

/// Bytes a transfer may leave to the page cache: the kernel's background writeback threshold,
/// `vm.dirty_background_bytes`, or `vm.dirty_background_ratio` percent of the available
/// memory. `None` when `/proc` does not say. Read once per process (a tree asks per file).
fn page_cache_budget() -> Option<u64> {
    static BUDGET: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *BUDGET.get_or_init(read_page_cache_budget)
}

fn read_page_cache_budget() -> Option<u64> {
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
pub(crate) fn write_all_vectored_at(
    file: &File,
    data: &[Bytes],
    mut offset: u64,
) -> std::io::Result<()> {
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
    fn direct_reads_return_exact_bytes_and_reuse_their_buffers() {
        let (_dir, path, file) = on_disk();
        let body = pattern(3 * ALIGN + 100, 5);
        file.write_all_at(&body, 0).unwrap();
        let Some(src) = DirectSource::open(&path, &file, 1, DirectIo::Always, 2 * ALIGN) else {
            return; // No direct I/O on this filesystem.
        };
        // Whole blocks, then the last block read past the end of the file.
        let a = src.read_at(0, 2 * ALIGN).unwrap().unwrap();
        assert_eq!(&a[..], &body[..2 * ALIGN]);
        let b = src.read_at(2 * ALIGN as u64, ALIGN + 100).unwrap().unwrap();
        assert_eq!(&b[..], &body[2 * ALIGN..]);
        let pooled = || src.pool.free.lock().unwrap().len();
        assert_eq!(pooled(), 0, "both buffers in use");
        drop((a, b));
        assert_eq!(pooled(), 2, "both back in the pool");
        let again = src.read_at(ALIGN as u64, 10).unwrap().unwrap();
        assert_eq!(&again[..], &body[ALIGN..ALIGN + 10]);
        assert_eq!(pooled(), 1, "a pooled buffer reused");
        // Off a block boundary, or over the chunk size: the caller reads through the cache.
        assert!(src.read_at(1, 10).is_none());
        assert!(src.read_at(0, 2 * ALIGN + 1).is_none());
        // Past the end: an error, not short bytes.
        let e = src.read_at(4 * ALIGN as u64, 10).unwrap().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
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
