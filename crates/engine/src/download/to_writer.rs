//! A download to a writer (stdout, a pipe, memory): ranges fetched in parallel, written in
//! order. A range that arrives before its turn waits in memory, holding the memory it was
//! granted until it is written; a window keeps ranges from starting too far ahead. What a
//! writer received cannot be taken back: a failed check is an error saying to discard it.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use ferry_s3::ObjectClient;
use tokio::io::{AsyncWrite, AsyncWriteExt as _};

use super::check::RangeDigests;
use super::check::{Ordered, combined_value, needs_pass};
use super::fetch::Fetched;
use super::{Job, Object};
use crate::budget::MemoryPermit;
use crate::error::{Error, ErrorKind};
use crate::outcome::DownloadOutcome;
use crate::schedule::{Pool, Sink};

/// Where fetched ranges go for a writer: held until their turn, then written in order and
/// fed to the check.
struct WriterSink<'a> {
    writer: &'a mut (dyn AsyncWrite + Send + Unpin),
    held: BTreeMap<usize, (Vec<Bytes>, MemoryPermit)>,
    next: usize,
    ordered: Option<Ordered>,
    digests: Vec<Option<RangeDigests>>,
}

impl Sink<Fetched> for WriterSink<'_> {
    async fn accept(&mut self, f: Fetched) -> Result<(), Error> {
        let data = f.data.unwrap_or_else(|| (Vec::new(), MemoryPermit::none()));
        self.held.insert(f.i, data);
        self.digests[f.i] = Some(f.digests);
        while let Some((data, _memory)) = self.held.remove(&self.next) {
            for b in data {
                if let Some(o) = &mut self.ordered {
                    o.update(&b);
                }
                self.writer.write_all(&b).await.map_err(|e| {
                    Error::new(ErrorKind::Local, format!("writing the output: {e}")).with_source(e)
                })?;
            }
            self.next += 1;
        }
        Ok(())
    }
}

pub(super) async fn to_writer<C: ObjectClient>(
    job: Arc<Job<C>>,
    object: Arc<Object>,
    ranges: Vec<[u64; 2]>,
    range_size: u64,
    writer: &mut (dyn AsyncWrite + Send + Unpin),
) -> Result<DownloadOutcome, Error> {
    job.planned(&object, ranges.len(), range_size);
    let shared = &job.ctx.shared;
    // The window keeps waiting ranges within the budget, one range's worth left for the
    // connections' and the writer's own buffers.
    let window = ((shared.memory.total() / range_size.max(1)) as usize)
        .saturating_sub(1)
        .max(1);
    let mut sink = WriterSink {
        writer,
        held: BTreeMap::new(),
        next: 0,
        // (One range that is the whole object brings the check with it.)
        ordered: (needs_pass(&object.check) && ranges.len() != 1)
            .then(|| Ordered::new(&object.check, object.parts.as_deref())),
        digests: vec![None; ranges.len()],
    };
    let mut pool = Pool::new(
        shared.parts_per_object,
        &shared.memory,
        job.ctx.stops(),
        "download",
    );
    for (i, &range) in ranges.iter().enumerate() {
        while i >= sink.next + window && pool.settle_one(&mut sink).await {}
        let memory = match job.whole_memory(i) {
            Some(held) => held,
            None => match pool.room(range[1], &mut sink).await {
                Some(m) => m,
                None => break,
            },
        };
        pool.spawn(job.clone().fetch(i, range, object.clone(), None, memory));
    }
    pool.finish(&mut sink).await?;
    let ordered = match sink.ordered.take() {
        Some(o) => o.finish(),
        None => sink.digests.first().and_then(|d| d.as_ref()?.whole.clone()),
    };
    sink.writer.flush().await.map_err(|e| {
        Error::new(ErrorKind::Local, format!("writing the output: {e}")).with_source(e)
    })?;
    if let Some(expected) = object.check.expected() {
        let value = ordered.or_else(|| combined_value(&object, &ranges, &sink.digests));
        if value.as_deref() != Some(expected) {
            return Err(Error::new(
                ErrorKind::Verification,
                format!(
                    "{}: the bytes read do not match the object's {} (got {})",
                    job.name(),
                    object.check,
                    value.unwrap_or_default()
                ),
            ));
        }
    }
    Ok(job.outcome(&object, None, ranges.len(), 0, 0))
}
