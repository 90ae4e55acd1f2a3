//! Fetching one range: a GET pinned to the object's ETag, its body checked for length, hashed
//! (CRC64NVME to re-check on resume, the check's CRC, or the whole check when the range is the
//! whole object) and written at its offset in ~1 MiB writes on a blocking thread (or kept in
//! memory, for a writer or a small file), retried under the same range. A local write failure
//! is that, not a network error, and is never retried.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::{Bytes, BytesMut};
use ferry_s3::{
    ByteRange, ChecksumAlgorithm, ClientErrorKind, GetObjectRequest, ObjectClient, S3Error,
};
use futures_util::StreamExt as _;

use super::check::{Ordered, RangeDigests, needs_pass};
use super::{Job, Object};
use crate::budget::MemoryPermit;
use crate::checksum::{HASH_HERE, Hasher};
use crate::direct::{ALIGN, Aligned, Out};
use crate::error::{Error, Failure};
use crate::progress::Event;
use crate::schedule::{Pool, Sink};

/// Whether a ranged GET's answer (`meta`) holds the `len` bytes at `first` asked for (`whole`:
/// they are the whole object, which a server may answer without a Content-Range).
pub(crate) fn answered_range(
    meta: &ferry_s3::ObjectMeta,
    first: u64,
    len: u64,
    whole: bool,
) -> Result<(), Failure> {
    let last = first + len - 1;
    match meta.content_range {
        Some(cr) if cr.range.first == first && cr.range.last == last => Ok(()),
        None if whole && meta.content_length == len => Ok(()),
        other => Err(Failure::S3(S3Error::client(
            "GetObject",
            ClientErrorKind::InvalidResponse,
            format!(
                "asked for bytes {first}-{last}, got {}",
                match other {
                    Some(cr) => format!("bytes {}-{}", cr.range.first, cr.range.last),
                    None => format!("{} bytes without a Content-Range", meta.content_length),
                }
            ),
        ))),
    }
}

/// Bytes a range gathers before writing them; a range holds at most two of these.
pub(super) const WRITE_CHUNK: usize = 1 << 20;

/// A fetched range.
pub(super) struct Fetched {
    pub(super) i: usize,
    pub(super) digests: RangeDigests,
    /// The bytes, for a writer target, with the memory they hold.
    pub(super) data: Option<(Vec<Bytes>, MemoryPermit)>,
}

impl<C: ObjectClient> Job<C> {
    /// Fetches range `i` (`first`, `len`), writing it into `out` at its offset or keeping it
    /// (holding `memory` until it is written), with its digests. Retries under the same
    /// range; a retry starts over.
    pub(super) async fn fetch(
        self: Arc<Self>,
        i: usize,
        [first, len]: [u64; 2],
        object: Arc<Object>,
        out: Option<Out>,
        memory: MemoryPermit,
    ) -> Result<Fetched, Error> {
        let progress = &self.ctx.progress;
        progress.part_started();
        let range = i as u32;
        let started = Event::RangeStarted { range, first, len };
        self.ctx.emit_kept(started).await;
        let result = self
            .ctx
            .retrying(Some(range + 1), |_| {
                let (object, out) = (object.clone(), out.clone());
                let job = self.clone();
                async move { job.attempt(first, len, &object, out).await }
            })
            .await;
        progress.part_ended(result.is_ok());
        let (digests, data) = match result {
            Ok(r) => r,
            Err(Failure::Local(io)) => {
                return Err(Error::local(
                    format!("writing the download of {}", self.name()),
                    io,
                ));
            }
            Err(f) => {
                return Err(self.failed(
                    &format!("range {} (bytes {first}-{}) of", i + 1, first + len - 1),
                    f,
                    Some(&object.etag),
                ));
            }
        };
        let finished = Event::RangeFinished { range, first, len };
        self.ctx.emit_kept(finished).await;
        Ok(Fetched {
            i,
            digests,
            data: data.map(|d| (d, memory)),
        })
    }

    /// One GET of a range.
    async fn attempt(
        &self,
        first: u64,
        len: u64,
        object: &Object,
        dest: Option<Out>,
    ) -> Result<(RangeDigests, Option<Vec<Bytes>>), Failure> {
        const OP: &str = "GetObject";
        let last = first + len - 1;
        let req = GetObjectRequest {
            range: Some(ByteRange { first, last }),
            if_match: Some(object.etag.to_string()),
            ..self.get()
        };
        let whole = first == 0 && len == object.size;
        let opened = whole
            .then(|| self.opened.lock().expect("opened lock").take())
            .flatten();
        let out = match opened {
            Some(out) => out,
            None => self.ctx.client().get_object(&req).await?,
        };
        answered_range(&out.meta, first, len, whole)?;
        let mut batch = match &dest {
            Some(_) => Batch::Chunks {
                chunks: Vec::new(),
                len: 0,
            },
            // The first buffer the size of a small range, not of a write chunk.
            None => Batch::Copy(BytesMut::with_capacity(len.min(WRITE_CHUNK as u64) as usize)),
        };
        let direct = dest
            .as_ref()
            .is_some_and(|o| o.is_direct() && first.is_multiple_of(ALIGN as u64));
        let mut state = Some(WriteState {
            out: dest,
            offset: first,
            crc64: Hasher::new(ChecksumAlgorithm::Crc64Nvme),
            digest: object
                .check
                .range_algorithm()
                .filter(|a| *a != ChecksumAlgorithm::Crc64Nvme)
                .map(Hasher::new),
            kept: Vec::new(),
            aligned: direct.then(|| Aligned::new(WRITE_CHUNK)),
            // (A writer's check of many ranges follows the bytes itself.)
            ordered: (whole && needs_pass(&object.check))
                .then(|| Ordered::new(&object.check, object.parts.as_deref())),
        });
        let mut pending: Option<tokio::task::JoinHandle<std::io::Result<WriteState>>> = None;
        let mut received = 0u64;
        let mut body = out.body;
        let bandwidth = self.ctx.bandwidth().cloned();
        let progress = &self.ctx.progress;
        let result = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk?;
                if let Some(bw) = &bandwidth {
                    bw.take(chunk.len() as u64).await;
                }
                received += chunk.len() as u64;
                progress.add_bytes(chunk.len() as u64);
                if received > len {
                    return Err(Failure::S3(S3Error::client(
                        OP,
                        ClientErrorKind::InvalidResponse,
                        format!("more than the {len} bytes asked for"),
                    )));
                }
                let mut rest = chunk;
                while !rest.is_empty() {
                    rest = batch.take(rest);
                    if batch.is_full() {
                        let s = match pending.take() {
                            Some(p) => joined(p).await?,
                            None => state.take().expect("state"),
                        };
                        pending = Some(write_chunk(s, batch.parts()));
                    }
                }
            }
            if received != len {
                return Err(Failure::S3(S3Error::client(
                    OP,
                    ClientErrorKind::BodyCutShort,
                    format!("the body ended after {received} of {len} bytes"),
                )));
            }
            let s = match pending.take() {
                Some(p) => joined(p).await?,
                None => state.take().expect("state"),
            };
            if batch.is_empty() {
                return Ok(s);
            }
            // Bytes kept in memory, few enough: hashed here (see [`HASH_HERE`]).
            if s.out.is_none() && batch.len() as u64 <= HASH_HERE {
                return take_chunk(s, batch.parts()).map_err(Failure::Local);
            }
            joined(write_chunk(s, batch.parts())).await
        }
        .await;
        self.fetched.fetch_add(received, Ordering::Relaxed);
        match result {
            Ok(s) => {
                let crc64 = s.crc64.finish(len);
                let digest = match object.check.range_algorithm() {
                    Some(ChecksumAlgorithm::Crc64Nvme) => Some(crc64.clone()),
                    Some(_) => s.digest.map(|h| h.finish(len)),
                    None => None,
                };
                let kept = s.out.is_none().then_some(s.kept);
                let whole = s.ordered.and_then(Ordered::finish);
                Ok((
                    RangeDigests {
                        crc64,
                        digest,
                        whole,
                    },
                    kept,
                ))
            }
            Err(e) => {
                // A failed attempt takes its bytes back out of the progress.
                progress.sub_bytes(received);
                if let Some(p) = pending {
                    let _ = p.await;
                }
                Err(e)
            }
        }
    }
}

/// A range being written: where, and its running digests.
struct WriteState {
    out: Option<Out>,
    offset: u64,
    crc64: Hasher,
    digest: Option<Hasher>,
    /// The bytes, when there is no file.
    kept: Vec<Bytes>,
    /// The range's buffer for direct writes, when it is written direct.
    aligned: Option<Aligned>,
    /// The check, fed in order, when the range is the whole object and the check needs it.
    ordered: Option<Ordered>,
}

/// Received bytes gathered for one write, up to [`WRITE_CHUNK`].
enum Batch {
    /// To a file: the network's own chunks (no copy here; one `pwritev`, or copied into the
    /// range's aligned buffer for a direct write, beside the CRC that reads them anyway).
    Chunks { chunks: Vec<Bytes>, len: usize },
    /// To a writer: one buffer, its own allocation, so what a writer target holds is exactly
    /// the range, never the slack of a network buffer.
    Copy(BytesMut),
}

impl Batch {
    /// Most chunks one write takes (`IOV_MAX` is 1024).
    const MAX_CHUNKS: usize = 256;

    fn len(&self) -> usize {
        match self {
            Batch::Chunks { len, .. } => *len,
            Batch::Copy(b) => b.len(),
        }
    }

    /// Takes what fits of `chunk`; returns the rest.
    fn take(&mut self, mut chunk: Bytes) -> Bytes {
        let n = chunk.len().min(WRITE_CHUNK - self.len());
        let rest = chunk.split_off(n);
        match self {
            Batch::Chunks { chunks, len } => {
                *len += n;
                chunks.push(chunk);
            }
            Batch::Copy(b) => {
                if b.capacity() == 0 {
                    *b = BytesMut::with_capacity(WRITE_CHUNK);
                }
                b.extend_from_slice(&chunk);
            }
        }
        rest
    }

    fn is_full(&self) -> bool {
        self.len() == WRITE_CHUNK
            || matches!(self, Batch::Chunks { chunks, .. } if chunks.len() == Self::MAX_CHUNKS)
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The gathered bytes, leaving the batch empty.
    fn parts(&mut self) -> Vec<Bytes> {
        match self {
            Batch::Chunks { chunks, len } => {
                *len = 0;
                std::mem::take(chunks)
            }
            // The whole buffer goes: the next chunk starts a new allocation.
            Batch::Copy(b) => vec![std::mem::take(b).freeze()],
        }
    }
}

/// Hashes `data` and writes it at its offset, on a blocking thread.
fn write_chunk(
    s: WriteState,
    data: Vec<Bytes>,
) -> tokio::task::JoinHandle<std::io::Result<WriteState>> {
    tokio::task::spawn_blocking(move || take_chunk(s, data))
}

/// Hashes `data` and writes it at its offset (or keeps it, when there is no file).
fn take_chunk(mut s: WriteState, data: Vec<Bytes>) -> std::io::Result<WriteState> {
    let len: usize = data.iter().map(Bytes::len).sum();
    for d in &data {
        s.crc64.update(d);
        if let Some(h) = &mut s.digest {
            h.update(d);
        }
        if let Some(o) = &mut s.ordered {
            o.update(d);
        }
        // Copied while the CRC's read of it is still in the cache.
        if let Some(a) = &mut s.aligned {
            a.extend(d);
        }
    }
    match (&s.out, &mut s.aligned) {
        (Some(out), Some(a)) => {
            out.write_at(a.bytes(), s.offset)?;
            a.clear();
        }
        (Some(out), None) => out.write_chunks_at(&data, s.offset)?,
        (None, _) => s.kept.extend(data),
    }
    s.offset += len as u64;
    Ok(s)
}

/// The state after a write: a failed write is a local failure (a full disk does not empty
/// itself: not retried).
async fn joined(
    p: tokio::task::JoinHandle<std::io::Result<WriteState>>,
) -> Result<WriteState, Failure> {
    p.await
        .unwrap_or_else(|e| Err(std::io::Error::other(format!("the write task failed: {e}"))))
        .map_err(Failure::Local)
}

/// Memory a range of `len` bytes holds while it is fetched to a file: two write chunks at
/// most (or the range, when shorter), three when it is written direct (the aligned buffer
/// its writes go through), and the connection's own buffer.
pub(super) fn range_memory(direct: bool, len: u64) -> u64 {
    let chunks = if direct { 3 } else { 2 };
    chunks * len.min(WRITE_CHUNK as u64) + 64 * 1024
}

/// Fetches ranges `todo` through the pool, into the file `out` (or kept in memory, without
/// one); the first failure stops new ranges and is returned.
pub(super) async fn fetch_all<C: ObjectClient>(
    job: &Arc<Job<C>>,
    object: &Arc<Object>,
    ranges: &Arc<Vec<[u64; 2]>>,
    todo: Vec<usize>,
    out: Option<&Out>,
    sink: &mut impl Sink<Fetched>,
) -> Result<(), Error> {
    let shared = &job.ctx.shared;
    let mut pool = Pool::new(
        shared.parts_per_object,
        &shared.memory,
        job.ctx.stops(),
        "download",
    );
    for i in todo {
        let memory = match job.whole_memory(i) {
            Some(held) => held,
            None => match pool
                .room(
                    range_memory(out.is_some_and(Out::is_direct), ranges[i][1]),
                    sink,
                )
                .await
            {
                Some(m) => m,
                None => break,
            },
        };
        pool.spawn(
            job.clone()
                .fetch(i, ranges[i], object.clone(), out.cloned(), memory),
        );
    }
    pool.finish(sink).await
}
