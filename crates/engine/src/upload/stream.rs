//! A stream of known or unknown length (stdin, a pipe, any `AsyncRead`): read once, in order,
//! so each part is kept until the server acknowledges it, in memory while the memory budget
//! grants it, else in an unlinked 0600 temporary file. A stream that ends below the multipart
//! threshold is one PutObject. Without a known size the parts grow as the stream goes, so no
//! stream meets a low ceiling; a stream cannot resume, so a failure aborts it.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use ferry_s3::ObjectClient;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::body::{CHUNK_SIZE, PartData};
use super::send::{put_single, send_part};
use super::spill::Spill;
use crate::error::Error;
use crate::job::Job;
use crate::multipart::{create, finish};
use crate::outcome::UploadOutcome;
use crate::plan::{Plan, STREAM_FIRST_PART, plan, stream_part_size};
use crate::schedule::Pool;

/// A boxed stream.
pub(crate) type Reader = Box<dyn AsyncRead + Send + Unpin>;

/// The stream as it is read: each read gives way to a cancel (a read of stdin or of a pipe
/// waits as long as its writer is silent, and tokio cannot stop its read of stdin).
struct Incoming {
    reader: Reader,
    cancel: tokio_util::sync::CancellationToken,
    noun: &'static str,
}

impl Incoming {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        tokio::select! {
            read = self.reader.read(buf) => read.map_err(read_error),
            () = self.cancel.cancelled() => Err(Error::cancelled(self.noun)),
        }
    }
}

/// Uploads a stream of `size` bytes (or of unknown length).
pub(crate) async fn run_stream<C: ObjectClient>(
    job: Arc<Job<C>>,
    reader: Reader,
    size: Option<u64>,
) -> Result<UploadOutcome, Error> {
    let mut reader = Incoming {
        reader,
        cancel: job.ctx.cancel.clone(),
        noun: job.noun,
    };
    let known = size
        .map(|s| plan(s, &job.settings.plan))
        .transpose()
        .map_err(|e| Error::invalid(e.to_string()))?;
    // An explicit part size is kept for every part (uniform parts, as some stores need);
    // otherwise parts grow as the stream goes.
    let explicit = job.settings.plan.part_size;
    let part_size_of = move |n: u32| match (known, explicit) {
        (Some(Plan::Multipart { part_size, .. }), _) => part_size,
        (_, Some(ps)) => ps,
        _ => stream_part_size(STREAM_FIRST_PART, n),
    };
    let threshold = job.settings.plan.multipart_threshold.max(1);
    let memory = job.ctx.shared.memory.clone();
    let wrong_size = |had: u64, said: u64| {
        Error::new(
            crate::error::ErrorKind::Local,
            format!("the stream had {had} bytes, not the {said} it was said to have"),
        )
    };
    // Found by reading one byte past the size said, so a stream that goes on (to no end, it
    // may be) is neither read nor sent further.
    let too_long = |said: u64| {
        Error::new(
            crate::error::ErrorKind::Local,
            format!("the stream had more than the {said} bytes it was said to have"),
        )
    };
    // Read up to the threshold first (a stream of known size below it: its size and one
    // byte more, to see it end): a stream that ends below it is one PutObject. Its memory is
    // held until the parts cut from it are sent.
    let first = known.map_or(threshold, |p| p.size().saturating_add(1).min(threshold));
    // What is held while the stream is read is at most half the budget, so the other half is
    // there for whatever feeds the stream (a copy's download shares the budget): holding it
    // all while waiting for bytes that need memory to arrive, a copy under 8 or 16 MiB never
    // ended. (Under a budget below twice the first read, that read is counted as half.)
    let mut first_held = Some(Arc::new(memory.take(first.min(memory.total() / 2)).await));
    let mut pending = read_memory(&mut reader, Bytes::new(), first).await?;
    if (pending.len() as u64) < first {
        let size = pending.len() as u64;
        if let Some(p) = known
            && p.size() != size
        {
            return Err(wrong_size(size, p.size()));
        }
        job.planned_single(size);
        job.allowed(size)?;
        return put_single(&job, PartData::Memory(pending)).await;
    }
    // A size said that is one request: `first` is that size and one byte more.
    if let Some(Plan::Single { size }) = known {
        return Err(too_long(size));
    }
    let (total, parts) = match known {
        Some(Plan::Multipart { size, parts, .. }) => (Some(size), Some(parts)),
        _ => (None, None),
    };
    job.planned(total, part_size_of(1), parts);
    // A stream of unknown length in parts is not held to the allowance: its bytes are not
    // known before they are sent.
    job.allowed(total.unwrap_or(0))?;
    let upload_id = create(&job).await?;

    let mut pool = Pool::new(
        job.ctx.parts_at_once(part_size_of(1)),
        &memory,
        job.ctx.stops(),
        job.noun,
    );
    let mut done = Vec::new();
    let mut n = 1u32;
    let mut sent = 0u64;
    loop {
        if n > crate::limits::MAX_PARTS {
            pool.fail(Error::new(
                crate::error::ErrorKind::Local,
                "the stream needs more than 10,000 parts",
            ));
            break;
        }
        if pool.room(0, &mut done).await.is_none() {
            // Drained: a stream cannot resume, so what it sent is aborted; its parts in
            // flight are cut off too rather than waited for.
            if job.ctx.drain.is_cancelled() {
                job.ctx.cancel.cancel();
            }
            break;
        }
        // A part does not reach past the size said: the plan's last part is shorter.
        let want = match total {
            Some(t) => part_size_of(n).min(t - sent),
            None => part_size_of(n),
        };
        if want == 0 {
            // Every byte said has been read: the stream must end here.
            match read_memory(&mut reader, std::mem::take(&mut pending), 1).await {
                Ok(more) if more.is_empty() => {}
                Ok(_) => pool.fail(too_long(sent)),
                Err(e) => pool.fail(e),
            }
            break;
        }
        // A part cut from the first bytes read (`pending`) holds their memory; else one in
        // memory while the budget grants it (a part larger than half of it never is),
        // else spilled to a temporary file, holding the memory its body's chunks take as it
        // is read back. What is left of `pending` starts it.
        let (data, held) = if pending.len() as u64 >= want {
            let data = PartData::Memory(pending.split_to(want as usize));
            (data, first_held.clone())
        } else {
            let in_memory = (want <= memory.total() / 2)
                .then(|| memory.try_take(want))
                .flatten();
            let start = std::mem::take(&mut pending);
            // (Given back before waiting for memory, which it may be all of.)
            first_held = None;
            let read = match in_memory {
                Some(held) => read_memory(&mut reader, start, want)
                    .await
                    .map(|data| (PartData::Memory(data), held)),
                None => {
                    let held = memory.take(super::file_part_memory(want)).await;
                    read_spilled(&mut reader, start, want)
                        .await
                        .map(|data| (data, held))
                }
            };
            match read {
                Ok((data, held)) => (data, Some(Arc::new(held))),
                // The upload exists: the pool's failure aborts it.
                Err(e) => {
                    pool.fail(e);
                    break;
                }
            }
        };
        if pending.is_empty() {
            first_held = None;
        }
        let len = data.len();
        if len == 0 {
            break;
        }
        sent += len;
        let send = send_part(job.clone(), upload_id.clone(), n, data);
        pool.spawn(async move {
            let _held = held;
            send.await
        });
        n += 1;
        if len < want {
            break;
        }
    }
    let result = match pool.finish(&mut done).await {
        Ok(()) => match total {
            Some(t) if t != sent => Err(wrong_size(sent, t)),
            _ => Ok(done),
        },
        Err(e) => Err(e),
    };
    finish(&job, upload_id, result, sent).await
}

fn read_error(e: std::io::Error) -> Error {
    Error::local("reading the stream", e)
}

/// `start`, then what follows it in the stream, up to `len` bytes in all, in memory; fewer
/// means the stream ended.
async fn read_memory(reader: &mut Incoming, start: Bytes, len: u64) -> Result<Bytes, Error> {
    let mut buf = BytesMut::with_capacity(len as usize);
    buf.extend_from_slice(&start);
    drop(start);
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
    Ok(buf.freeze())
}

/// `start`, then what follows it in the stream, up to `len` bytes in all, in an unlinked
/// temporary file (0600); fewer means the stream ended.
async fn read_spilled(reader: &mut Incoming, start: Bytes, len: u64) -> Result<PartData, Error> {
    let spill_error = |e| super::spill::spill_error("holding a part of the stream", e);
    let mut spill = Spill::new().map_err(spill_error)?;
    spill.write(&start).map_err(spill_error)?;
    drop(start);
    let mut buf = vec![0u8; CHUNK_SIZE];
    while spill.len() < len {
        let want = (len - spill.len()).min(CHUNK_SIZE as u64) as usize;
        let n = reader.read(&mut buf[..want]).await?;
        if n == 0 {
            break;
        }
        spill.write(&buf[..n]).map_err(spill_error)?;
    }
    Ok(spill.into_data())
}
