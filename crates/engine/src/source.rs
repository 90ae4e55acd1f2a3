//! Where an upload's bytes come from, and how a part becomes a request body.
//!
//! A file part is read in chunks with positional reads on a blocking thread, checksummed on
//! the way and framed as `aws-chunked` with the checksum in a trailer: memory per part in
//! flight is a few chunks, and a retry simply reads the part again. A stream (stdin) cannot be
//! read twice, so each part is kept until acknowledged: in memory within the budget, else in
//! an unlinked 0600 temporary file.

use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use ferry_s3::chunked::ChunkItem;
use ferry_s3::{Body, ChecksumAlgorithm, ChecksumValue};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{mpsc, oneshot};

use crate::checksum::{ChecksumMode, Digest, Hasher};
use crate::direct::DirectSource;
use crate::progress::Progress;

/// Bytes read and sent per chunk of a part: 1 MiB.
pub const CHUNK_SIZE: usize = 1024 * 1024;

/// A part's bytes, re-readable for a retry.
#[derive(Debug, Clone)]
pub(crate) enum PartData {
    /// A region of a file (the source, or a spill file).
    File {
        file: Arc<File>,
        /// The same file for direct reads, when it is read direct.
        direct: Option<Arc<DirectSource>>,
        offset: u64,
        len: u64,
    },
    /// Bytes in memory.
    Memory(Bytes),
    /// A range of the source object of a server-side copy: no bytes pass through ferry.
    Copy { offset: u64, len: u64 },
}

impl PartData {
    pub(crate) fn len(&self) -> u64 {
        match self {
            PartData::File { len, .. } => *len,
            PartData::Memory(b) => b.len() as u64,
            PartData::Copy { len, .. } => *len,
        }
    }

    /// Chunk `i` of the data (a copy for files, a slice for memory).
    fn chunk(&self, offset: u64, n: usize) -> std::io::Result<Bytes> {
        match self {
            PartData::File {
                file,
                direct,
                offset: base,
                ..
            } => {
                if let Some(read) = direct.as_ref().and_then(|d| d.read_at(base + offset, n)) {
                    return read;
                }
                Ok(Bytes::from(read_at(file, base + offset, n)?))
            }
            PartData::Memory(b) => Ok(b.slice(offset as usize..offset as usize + n)),
            PartData::Copy { .. } => Err(std::io::Error::other(
                "a server-side copy has no local bytes",
            )),
        }
    }
}

/// Reads exactly `n` bytes at `offset` into a new buffer without zero-filling it first
/// (`pread` into the vector's spare capacity; zeroing 1 MiB per chunk was a tenth of an
/// upload's CPU).
fn read_at(file: &std::fs::File, offset: u64, n: usize) -> std::io::Result<Vec<u8>> {
    let mut buf: Vec<u8> = Vec::with_capacity(n);
    while buf.len() < n {
        let at = offset + buf.len() as u64;
        let read = rustix::io::pread(file, rustix::buffer::spare_capacity(&mut buf), at)?;
        if read == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("the file ended {} bytes into a {n}-byte read", buf.len()),
            ));
        }
    }
    // The spare capacity can exceed `n`: bytes past it belong to the next chunk.
    buf.truncate(n);
    Ok(buf)
}

/// The checksums of a part, known once its body has been read.
#[derive(Debug, Clone)]
pub(crate) struct PartDigests {
    /// The additional checksum, if any.
    pub(crate) additional: Option<Digest>,
    /// CRC64NVME of the part, whatever the upload's checksum: what the journal keeps to
    /// re-check the local file on resume.
    pub(crate) recheck: Digest,
}

/// The re-check digest of some data (CRC64NVME), read again from its source.
pub(crate) fn recheck_digest(data: &PartData) -> std::io::Result<Digest> {
    let mut h = Hasher::new(ChecksumAlgorithm::Crc64Nvme);
    let mut off = 0;
    while off < data.len() {
        let n = (data.len() - off).min(CHUNK_SIZE as u64) as usize;
        h.update(&data.chunk(off, n)?);
        off += n as u64;
    }
    Ok(h.finish(data.len()))
}

/// Why the bytes of one attempt at a part could not all be read.
#[derive(Debug)]
pub(crate) enum ReadFailure {
    /// The source could not be read, or its guard found it changed: the fault is local, and
    /// sending the same bytes again cannot help.
    Local(std::io::Error),
    /// The request ended before its body was read whole (the network failed, or it was
    /// cancelled): the request's own error says why.
    Ended,
}

/// A check made after the last bytes of a body are read and before they are sent: if it
/// fails, the body ends in an error instead, so the server never receives the request whole
/// (a file that changed while it was read is never stored by a single request).
pub(crate) type Guard = Arc<dyn Fn() -> std::io::Result<()> + Send + Sync>;

/// A body for one attempt at a part, and where its checksum will arrive.
pub(crate) struct PartBody {
    pub(crate) body: Body,
    pub(crate) digests: oneshot::Receiver<Result<PartDigests, ReadFailure>>,
    /// Bytes of this attempt counted in the progress so far (taken back if it fails).
    pub(crate) counted: Arc<AtomicU64>,
    /// Content-MD5, for that mode (computed before sending).
    pub(crate) content_md5: Option<String>,
}

/// Builds the body of one attempt at a part. Reading and checksumming run on a blocking
/// thread, so checksums use the other core while the network task sends. With `signed`, the
/// client signs each chunk (`--sign-payload`). A `guard` is asked before the last bytes go.
pub(crate) async fn part_body(
    data: PartData,
    mode: ChecksumMode,
    signed: bool,
    progress: Arc<Progress>,
    guard: Option<Guard>,
) -> std::io::Result<PartBody> {
    let len = data.len();
    let counted = Arc::new(AtomicU64::new(0));
    let (tx, rx) = mpsc::channel::<std::io::Result<ChunkItem>>(2);
    let (dtx, drx) = oneshot::channel();
    let (trailer, content_md5) = match mode {
        ChecksumMode::Additional(a, _) => (Some(a), None),
        ChecksumMode::ContentMd5 => {
            let d = data.clone();
            let md5 = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
                let mut h = Hasher::md5();
                let mut off = 0;
                while off < d.len() {
                    let n = (d.len() - off).min(CHUNK_SIZE as u64) as usize;
                    h.update(&d.chunk(off, n)?);
                    off += n as u64;
                }
                Ok(h.finish(d.len()).base64())
            })
            .await
            .map_err(std::io::Error::other)??;
            (None, Some(md5))
        }
        ChecksumMode::None => (None, None),
    };
    let count = counted.clone();
    tokio::task::spawn_blocking(move || {
        let result = read_part(&data, trailer, guard.as_deref(), &tx, &progress, &count);
        let _ = dtx.send(result);
    });
    let items = ReceiverStream(rx);
    let body = if trailer.is_some() || signed {
        Body::AwsChunked {
            decoded_length: len,
            chunk_size: CHUNK_SIZE as u64,
            trailer,
            signed,
            stream: Box::pin(items),
        }
    } else {
        // No trailer and no signatures: the plain bytes.
        let bytes = futures_util::StreamExt::filter_map(items, |item| async move {
            match item {
                Ok(ChunkItem::Data(b)) => Some(Ok(b)),
                Ok(ChunkItem::Trailer(_)) => None,
                Err(e) => Some(Err(e)),
            }
        });
        Body::Stream {
            length: len,
            stream: Box::pin(bytes),
        }
    };
    Ok(PartBody {
        body,
        digests: drx,
        counted,
        content_md5,
    })
}

/// Reads `data` chunk by chunk into `tx`, hashing on the way, then sends the trailer. The
/// `guard`, if any, is asked once everything is read, before the last chunk goes.
fn read_part(
    data: &PartData,
    trailer: Option<ChecksumAlgorithm>,
    guard: Option<&(dyn Fn() -> std::io::Result<()> + Send + Sync)>,
    tx: &mpsc::Sender<std::io::Result<ChunkItem>>,
    progress: &Progress,
    counted: &AtomicU64,
) -> Result<PartDigests, ReadFailure> {
    let len = data.len();
    let mut hasher = trailer.map(Hasher::new);
    let mut recheck = (trailer != Some(ChecksumAlgorithm::Crc64Nvme))
        .then(|| Hasher::new(ChecksumAlgorithm::Crc64Nvme));
    let mut offset = 0u64;
    // A closed channel means the request ended (failed or cancelled): stop reading.
    let send = |item: ChunkItem| tx.blocking_send(Ok(item)).is_ok();
    // A local failure ends the body in an error (the request fails) and is reported as such.
    let fail = |e: std::io::Error| {
        let _ = tx.blocking_send(Err(std::io::Error::new(e.kind(), e.to_string())));
        ReadFailure::Local(e)
    };
    let check = || guard.map_or(Ok(()), |g| g());
    if len == 0 {
        check().map_err(fail)?;
    }
    while offset < len {
        let n = (len - offset).min(CHUNK_SIZE as u64) as usize;
        let chunk = data.chunk(offset, n).map_err(fail)?;
        if let Some(h) = hasher.as_mut() {
            h.update(&chunk);
        }
        if let Some(h) = recheck.as_mut() {
            h.update(&chunk);
        }
        if offset + n as u64 == len {
            check().map_err(fail)?;
        }
        if !send(ChunkItem::Data(chunk)) {
            return Err(ReadFailure::Ended);
        }
        progress.add_bytes(n as u64);
        counted.fetch_add(n as u64, Ordering::Relaxed);
        offset += n as u64;
    }
    let additional = hasher.map(|h| h.finish(len));
    if let Some((d, a)) = additional.as_ref().zip(trailer) {
        send(ChunkItem::Trailer(ChecksumValue {
            algorithm: a,
            value: d.base64(),
        }));
    }
    let recheck = match recheck {
        Some(h) => h.finish(len),
        None => additional
            .clone()
            .expect("CRC64NVME is the additional checksum"),
    };
    Ok(PartDigests {
        additional,
        recheck,
    })
}

/// A stream over an mpsc receiver.
struct ReceiverStream(mpsc::Receiver<std::io::Result<ChunkItem>>);

impl futures_util::Stream for ReceiverStream {
    type Item = std::io::Result<ChunkItem>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// Reads up to `len` bytes of a stream into a part: in memory when `in_memory`, else into an
/// unlinked temporary file (0600). Fewer bytes than `len` means the stream ended.
pub(crate) async fn read_stream_part<R: AsyncRead + Unpin>(
    reader: &mut R,
    len: u64,
    in_memory: bool,
) -> std::io::Result<PartData> {
    if in_memory {
        let mut buf = BytesMut::with_capacity(len as usize);
        while (buf.len() as u64) < len {
            let want = (len - buf.len() as u64).min(CHUNK_SIZE as u64) as usize;
            let before = buf.len();
            buf.resize(before + want, 0);
            let n = reader.read(&mut buf[before..]).await?;
            buf.truncate(before + n);
            if n == 0 {
                break;
            }
        }
        return Ok(PartData::Memory(buf.freeze()));
    }
    let file = spill_file()?;
    let mut written = 0u64;
    let mut buf = vec![0u8; CHUNK_SIZE];
    while written < len {
        let want = (len - written).min(CHUNK_SIZE as u64) as usize;
        let n = reader.read(&mut buf[..want]).await?;
        if n == 0 {
            break;
        }
        file.write_all_at(&buf[..n], written)?;
        written += n as u64;
    }
    Ok(PartData::File {
        file: Arc::new(file),
        direct: None,
        offset: 0,
        len: written,
    })
}

/// A temporary file for a spilled part: without a name (nothing is left behind, whatever
/// happens to the process) and 0600 (`tempfile::tempfile` leaves O_TMPFILE files at 0666 less
/// the umask, readable by everyone through `/proc` while the process runs).
fn spill_file() -> std::io::Result<std::fs::File> {
    use rustix::fs::{Mode, OFlags};
    let dir = std::env::temp_dir();
    let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
    match rustix::fs::open(&dir, flags, Mode::RUSR | Mode::WUSR) {
        Ok(fd) => Ok(std::fs::File::from(fd)),
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
