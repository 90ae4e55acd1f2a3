//! How a part's bytes become a request body.
//!
//! A file part is read in chunks with positional reads on a blocking thread, checksummed on
//! the way and framed as `aws-chunked` with the checksum in a trailer: memory per part in
//! flight is a few chunks, and a retry simply reads the part again. Bytes in memory (a stream's
//! part, a caller's buffer) are sliced the same way. A bandwidth limit paces the chunks, and
//! under a low one they are smaller (about a second's worth each), so that no chunk waits
//! longer than the server's patience.
//!
//! A body of one chunk or less (a small file, a part's short tail) is read whole first and
//! goes as plain bytes with its checksum in a header: nothing to frame, and less work for the
//! server, which need not decode `aws-chunked` (SeaweedFS spent about a tenth more CPU on a
//! small PutObject with a trailer).

use std::fs::File;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use ferry_s3::chunked::ChunkItem;
use ferry_s3::{Body, ChecksumAlgorithm, ChecksumValue, PartInfo};
use tokio::sync::{mpsc, oneshot};

use crate::budget::Bandwidth;
use crate::checksum::{ChecksumMode, Digest, HASH_HERE, Hasher};
use crate::direct::DirectSource;
use crate::journal::PartRecord;
use crate::progress::Progress;

/// Bytes read and sent per chunk of a part: 1 MiB.
pub const CHUNK_SIZE: usize = 1024 * 1024;

/// Chunks of one part in memory at once while it is sent: the one being read, two waiting in
/// the channel, one in the connection's write.
pub(crate) const CHUNKS_IN_FLIGHT: u64 = 4;

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
}

impl PartData {
    pub(crate) fn len(&self) -> u64 {
        match self {
            PartData::File { len, .. } => *len,
            PartData::Memory(b) => b.len() as u64,
        }
    }

    /// Bytes `offset..offset + n` of the data (read for files, a slice for memory).
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

/// The hashers that make a part's [`PartDigests`]: its additional checksum, if any, and
/// CRC64NVME (once, when that is the additional one).
struct PartHashers {
    additional: Option<Hasher>,
    recheck: Option<Hasher>,
}

impl PartHashers {
    fn new(additional: Option<ChecksumAlgorithm>) -> Self {
        Self {
            additional: additional.map(Hasher::new),
            recheck: (additional != Some(ChecksumAlgorithm::Crc64Nvme))
                .then(|| Hasher::new(ChecksumAlgorithm::Crc64Nvme)),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        for h in [&mut self.additional, &mut self.recheck]
            .into_iter()
            .flatten()
        {
            h.update(bytes);
        }
    }

    fn finish(self, len: u64) -> PartDigests {
        let additional = self.additional.map(|h| h.finish(len));
        let recheck = match self.recheck {
            Some(h) => h.finish(len),
            None => additional
                .clone()
                .expect("CRC64NVME is the additional checksum"),
        };
        PartDigests {
            additional,
            recheck,
        }
    }
}

/// The re-check digest of some data (CRC64NVME), read again from its source.
pub(crate) fn recheck_digest(data: &PartData) -> std::io::Result<Digest> {
    digest_of(data, Hasher::new(ChecksumAlgorithm::Crc64Nvme))
}

/// The journal's record of `listed`, a part the server holds, if it holds `data`: their
/// checksum in `mode`'s algorithm is the one the server reports for it, or, when it reports
/// none, their MD5 is its ETag (as S3's is for a part not encrypted with KMS or SSE-C).
pub(crate) fn held_by(
    data: &PartData,
    mode: ChecksumMode,
    listed: &PartInfo,
) -> std::io::Result<Option<PartRecord>> {
    let len = data.len();
    if listed.size != len {
        return Ok(None);
    }
    // The server's checksum decides when it lists one in the upload's algorithm (S3 does, for
    // an upload with a checksum); only else is the MD5 worth computing.
    let theirs = listed
        .checksum
        .as_ref()
        .filter(|c| Some(c.algorithm) == mode.algorithm());
    let mut hashers = PartHashers::new(mode.algorithm());
    let mut md5 = theirs.is_none().then(Hasher::md5);
    each_chunk(data, |chunk| {
        hashers.update(chunk);
        if let Some(h) = &mut md5 {
            h.update(chunk);
        }
    })?;
    let digests = hashers.finish(len);
    let checksum = mode.value_of(digests.additional.as_ref());
    let same = match (theirs, md5) {
        (Some(theirs), _) => checksum.as_ref() == Some(theirs),
        (None, Some(md5)) => {
            let etag = listed.etag.trim_matches('"');
            etag.eq_ignore_ascii_case(&crate::checksum::hex_lower(&md5.finish(len).raw))
        }
        (None, None) => false,
    };
    Ok(same.then(|| PartRecord {
        part: listed.part_number,
        size: len,
        etag: listed.etag.clone(),
        crc64nvme: digests.recheck.base64(),
        checksum: checksum.map(|c| c.value),
    }))
}

/// The digest of some data with `h`, read again from its source.
fn digest_of(data: &PartData, mut h: Hasher) -> std::io::Result<Digest> {
    each_chunk(data, |chunk| h.update(chunk))?;
    Ok(h.finish(data.len()))
}

/// Reads `data` again from its source, a chunk at a time, into `f`.
fn each_chunk(data: &PartData, mut f: impl FnMut(&[u8])) -> std::io::Result<()> {
    let mut off = 0;
    while off < data.len() {
        let n = (data.len() - off).min(CHUNK_SIZE as u64) as usize;
        f(&data.chunk(off, n)?);
        off += n as u64;
    }
    Ok(())
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
    /// The checksums its request declares in headers.
    pub(crate) declared: Declared,
}

/// Checksums known before a body is sent, for its request's headers.
#[derive(Debug)]
pub(crate) struct Declared {
    /// `Content-MD5`, in that mode.
    pub(crate) content_md5: Option<String>,
    /// The additional checksum, for a body read whole before it is sent (a larger one
    /// carries it in its trailer).
    pub(crate) checksum: Option<ChecksumValue>,
}

/// How to make a body.
#[derive(Clone)]
pub(crate) struct BodyOptions {
    /// The checksum sent with it.
    pub(crate) mode: ChecksumMode,
    /// Sign each chunk with SigV4 (else unsigned, with the checksum in a trailer).
    pub(crate) signed: bool,
    /// Asked before the last bytes go.
    pub(crate) guard: Option<Guard>,
    /// Paces the chunks.
    pub(crate) bandwidth: Option<Arc<Bandwidth>>,
}

/// Builds the body of one attempt at a part. Reading and checksumming run on a blocking
/// thread, so checksums use the other core while the network task sends.
pub(crate) async fn part_body(
    data: PartData,
    how: &BodyOptions,
    progress: Arc<Progress>,
) -> std::io::Result<PartBody> {
    let (mode, signed) = (how.mode, how.signed);
    let (guard, bandwidth) = (how.guard.clone(), how.bandwidth.clone());
    let len = data.len();
    let chunk_size = chunk_size(bandwidth.as_deref());
    if !signed && len <= chunk_size as u64 {
        return whole_body(data, how, progress).await;
    }
    let counted = Arc::new(AtomicU64::new(0));
    let (tx, rx) = mpsc::channel::<std::io::Result<ChunkItem>>(2);
    let (dtx, drx) = oneshot::channel();
    let (trailer, content_md5) = match mode {
        ChecksumMode::Additional(a, _) => (Some(a), None),
        ChecksumMode::ContentMd5 => {
            let d = data.clone();
            let md5 = tokio::task::spawn_blocking(move || {
                digest_of(&d, Hasher::md5()).map(|m| m.base64())
            })
            .await
            .map_err(std::io::Error::other)??;
            (None, Some(md5))
        }
        ChecksumMode::None => (None, None),
    };
    let count = counted.clone();
    tokio::task::spawn_blocking(move || {
        let result = read_part(
            &data,
            trailer,
            guard.as_deref(),
            bandwidth.as_deref(),
            &tx,
            &progress,
            &count,
        );
        let _ = dtx.send(result);
    });
    let items = ReceiverStream(rx);
    let body = if trailer.is_some() || signed {
        Body::AwsChunked {
            decoded_length: len,
            chunk_size: chunk_size as u64,
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
        declared: Declared {
            content_md5,
            checksum: None,
        },
    })
}

/// The body of a part of one chunk or less: read and checksummed whole (the guard asked, the
/// bandwidth waited for), then sent as plain bytes with its checksums declared in headers.
async fn whole_body(
    data: PartData,
    how: &BodyOptions,
    progress: Arc<Progress>,
) -> std::io::Result<PartBody> {
    let (mode, guard) = (how.mode, how.guard.clone());
    let len = data.len();
    // A small body is read and hashed here (see [`HASH_HERE`]); a larger one, even in
    // memory, on a blocking thread, where hashing 1 MiB (MD5 takes 2 ms) holds up nothing.
    let inline = len <= HASH_HERE;
    let (bytes, digests, content_md5) = if inline {
        read_whole(&data, mode, guard.as_deref())?
    } else {
        tokio::task::spawn_blocking(move || read_whole(&data, mode, guard.as_deref()))
            .await
            .map_err(std::io::Error::other)??
    };
    if let Some(bw) = &how.bandwidth {
        tokio::time::sleep(bw.reserve(len)).await;
    }
    let checksum = mode.value_of(digests.additional.as_ref());
    progress.add_bytes(len);
    let (dtx, drx) = oneshot::channel();
    let _ = dtx.send(Ok(digests));
    Ok(PartBody {
        body: Body::Stream {
            length: len,
            stream: Box::pin(futures_util::stream::once(async move { Ok(bytes) })),
        },
        digests: drx,
        counted: Arc::new(AtomicU64::new(len)),
        declared: Declared {
            content_md5,
            checksum,
        },
    })
}

/// Reads `data` whole and computes its digests (and its Content-MD5, in that mode), then
/// asks the `guard`.
fn read_whole(
    data: &PartData,
    mode: ChecksumMode,
    guard: Option<&(dyn Fn() -> std::io::Result<()> + Send + Sync)>,
) -> std::io::Result<(Bytes, PartDigests, Option<String>)> {
    let len = data.len();
    let bytes = data.chunk(0, len as usize)?;
    let mut hashers = PartHashers::new(mode.algorithm());
    hashers.update(&bytes);
    let content_md5 = (mode == ChecksumMode::ContentMd5).then(|| {
        let mut md5 = Hasher::md5();
        md5.update(&bytes);
        md5.finish(len).base64()
    });
    if let Some(g) = guard {
        g()?;
    }
    Ok((bytes, hashers.finish(len), content_md5))
}

/// The size of a body's chunks: [`CHUNK_SIZE`], or less under a low bandwidth limit (see
/// [`Bandwidth::chunk_size`]).
fn chunk_size(bandwidth: Option<&Bandwidth>) -> usize {
    bandwidth.map_or(CHUNK_SIZE, |bw| bw.chunk_size(CHUNK_SIZE))
}

/// Reads `data` chunk by chunk ([`chunk_size`]) into `tx`, hashing on the way, then sends the
/// trailer. The `guard`, if any, is asked once everything is read, before the last chunk
/// goes; the `bandwidth`, if any, paces the chunks.
fn read_part(
    data: &PartData,
    trailer: Option<ChecksumAlgorithm>,
    guard: Option<&(dyn Fn() -> std::io::Result<()> + Send + Sync)>,
    bandwidth: Option<&Bandwidth>,
    tx: &mpsc::Sender<std::io::Result<ChunkItem>>,
    progress: &Progress,
    counted: &AtomicU64,
) -> Result<PartDigests, ReadFailure> {
    let len = data.len();
    let mut hashers = PartHashers::new(trailer);
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
    let chunk_size = chunk_size(bandwidth) as u64;
    while offset < len {
        let n = (len - offset).min(chunk_size) as usize;
        let chunk = data.chunk(offset, n).map_err(fail)?;
        hashers.update(&chunk);
        if offset + n as u64 == len {
            check().map_err(fail)?;
        }
        if let Some(bw) = bandwidth {
            // A blocking thread: the wait holds back this part's body, nothing else.
            std::thread::sleep(bw.reserve(n as u64));
        }
        if !send(ChunkItem::Data(chunk)) {
            return Err(ReadFailure::Ended);
        }
        progress.add_bytes(n as u64);
        counted.fetch_add(n as u64, Ordering::Relaxed);
        offset += n as u64;
    }
    let digests = hashers.finish(len);
    if let Some((d, a)) = digests.additional.as_ref().zip(trailer) {
        send(ChunkItem::Trailer(ChecksumValue {
            algorithm: a,
            value: d.base64(),
        }));
    }
    Ok(digests)
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

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_s3::ChecksumType;
    use futures_util::StreamExt as _;

    fn options(mode: ChecksumMode, guard: Option<Guard>) -> BodyOptions {
        BodyOptions {
            mode,
            signed: false,
            guard,
            bandwidth: None,
        }
    }

    fn file_of(bytes: &[u8]) -> PartData {
        let mut f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut f, bytes).unwrap();
        PartData::File {
            file: Arc::new(f),
            direct: None,
            offset: 0,
            len: bytes.len() as u64,
        }
    }

    fn crc64(bytes: &[u8]) -> String {
        let mut h = Hasher::new(ChecksumAlgorithm::Crc64Nvme);
        h.update(bytes);
        h.finish(bytes.len() as u64).base64()
    }

    #[test]
    fn a_listed_part_is_kept_only_when_its_checksum_or_md5_is_the_bytes() {
        let bytes = vec![7u8; 3 * CHUNK_SIZE + 5];
        let data = file_of(&bytes);
        let mode = ChecksumMode::Additional(ChecksumAlgorithm::Crc64Nvme, ChecksumType::FullObject);
        let md5 = {
            let mut h = Hasher::md5();
            h.update(&bytes);
            crate::checksum::hex_lower(&h.finish(bytes.len() as u64).raw)
        };
        let crc = ChecksumValue {
            algorithm: ChecksumAlgorithm::Crc64Nvme,
            value: crc64(&bytes),
        };
        let listed = |etag: &str, checksum: Option<ChecksumValue>| PartInfo {
            part_number: 3,
            etag: etag.to_string(),
            size: bytes.len() as u64,
            last_modified: None,
            checksum,
        };
        let kept = |l: PartInfo| held_by(&data, mode, &l).unwrap();
        // The server's checksum of the part, whatever its ETag (SSE-KMS: not an MD5).
        let rec = kept(listed("\"kms-etag\"", Some(crc.clone()))).expect("kept");
        assert_eq!(rec.part, 3);
        assert_eq!(rec.etag, "\"kms-etag\"");
        assert_eq!(rec.crc64nvme, crc.value);
        assert_eq!(rec.checksum.as_deref(), Some(crc.value.as_str()));
        // No checksum listed: the MD5 ETag, quoted or not, in either case.
        assert!(kept(listed(&format!("\"{md5}\""), None)).is_some());
        assert!(kept(listed(&md5.to_uppercase(), None)).is_some());
        // Another part's bytes: neither matches. A listed checksum that differs is not
        // overruled by a matching ETag.
        let other = ChecksumValue {
            value: crc64(b"other"),
            ..crc.clone()
        };
        assert!(kept(listed("\"0123\"", None)).is_none());
        assert!(kept(listed(&md5, Some(other))).is_none());
        // Another size.
        let short = PartInfo {
            size: 10,
            ..listed(&md5, None)
        };
        assert!(kept(short).is_none());
    }

    #[tokio::test]
    async fn a_small_body_goes_plain_with_its_checksum_in_a_header() {
        let bytes: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        let mode = ChecksumMode::Additional(ChecksumAlgorithm::Crc64Nvme, ChecksumType::FullObject);
        let body = part_body(file_of(&bytes), &options(mode, None), Arc::default())
            .await
            .unwrap();
        let declared = body.declared.checksum.clone().expect("a declared checksum");
        assert_eq!(declared.algorithm, ChecksumAlgorithm::Crc64Nvme);
        assert_eq!(declared.value, crc64(&bytes));
        assert_eq!(body.counted.load(Ordering::Relaxed), bytes.len() as u64);
        let Body::Stream { length, mut stream } = body.body else {
            panic!("a small body is sent plain, not aws-chunked");
        };
        assert_eq!(length, bytes.len() as u64);
        let mut sent = Vec::new();
        while let Some(b) = stream.next().await {
            sent.extend_from_slice(&b.unwrap());
        }
        assert_eq!(sent, bytes);
        let digests = body.digests.await.unwrap().unwrap();
        assert_eq!(digests.recheck.base64(), crc64(&bytes));

        // Content-MD5 mode declares the MD5 and no additional checksum.
        let body = part_body(
            file_of(&bytes),
            &options(ChecksumMode::ContentMd5, None),
            Arc::default(),
        )
        .await
        .unwrap();
        let mut md5 = Hasher::md5();
        md5.update(&bytes);
        assert_eq!(
            body.declared.content_md5,
            Some(md5.finish(bytes.len() as u64).base64())
        );
        assert!(body.declared.checksum.is_none());
    }

    #[tokio::test]
    async fn a_body_over_one_chunk_carries_its_checksum_in_a_trailer() {
        let bytes = vec![7u8; CHUNK_SIZE + 1];
        let body = part_body(
            PartData::Memory(Bytes::from(bytes)),
            &options(ChecksumMode::default(), None),
            Arc::default(),
        )
        .await
        .unwrap();
        assert!(body.declared.checksum.is_none());
        assert!(matches!(
            body.body,
            Body::AwsChunked {
                trailer: Some(ChecksumAlgorithm::Crc64Nvme),
                ..
            }
        ));
    }

    #[tokio::test]
    async fn a_small_body_whose_guard_fails_is_not_sent() {
        let guard: Guard = Arc::new(|| Err(std::io::Error::other("the file changed")));
        let got = part_body(
            file_of(b"small"),
            &options(ChecksumMode::default(), Some(guard)),
            Arc::default(),
        )
        .await;
        let e = got.err().expect("no body for a source whose guard fails");
        assert_eq!(e.to_string(), "the file changed");
    }
}
