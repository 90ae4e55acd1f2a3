//! Reading an object back: its bytes downloaded (in ranges, in memory, each checked against
//! the object's own check as it comes when it has one) and hashed, to be compared with a
//! file's or another object's bytes, trusting no checksum the server stores. A restore test:
//! what a check by [`Compare::Download`](crate::Compare::Download) makes of each pair.

use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};

use ferry_s3::{ChecksumAlgorithm, GetObjectRequest, ObjectClient};
use tokio::io::AsyncWrite;

use super::same::read_whole;
use super::{Download, Listed, Target};
use crate::checksum::Hasher;
use crate::context::Context;
use crate::error::{Error, ErrorKind};

/// What reading bytes back found: how many, and their CRC64NVME.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadBack {
    /// Bytes read.
    pub size: u64,
    /// Their CRC64NVME, in base64 (as S3 gives one).
    pub crc64nvme: String,
}

/// The bytes of the object `req` names (its version and request terms too), downloaded and
/// hashed; `listed`, what a listing said of it, saves a small one its HeadObject. Nothing is
/// written to disk, and the download reports no event of its own. An object whose bytes do
/// not match its own checksum fails, as any download of it does.
pub(crate) async fn read_back<C: ObjectClient>(
    ctx: &Context<C>,
    req: &GetObjectRequest,
    listed: Option<Listed>,
) -> Result<ReadBack, Error> {
    let hashed = Arc::new(Mutex::new(Some(Hasher::new(ChecksumAlgorithm::Crc64Nvme))));
    let download = Download {
        version_id: req.version_id.clone(),
        request: req.request.clone(),
        listed,
        ..Download::new(
            &req.bucket,
            &req.key,
            Target::Writer(Box::new(Hashing(hashed.clone()))),
        )
    };
    let mut quiet = ctx.clone();
    quiet.events = None;
    let outcome = super::run(quiet, download).await?;
    let hasher = hashed.lock().unwrap_or_else(|e| e.into_inner()).take();
    let hasher =
        hasher.ok_or_else(|| Error::new(ErrorKind::Local, "the read-back hash is gone"))?;
    Ok(ReadBack {
        size: outcome.size,
        crc64nvme: hasher.finish(outcome.size).base64(),
    })
}

/// The bytes of the file at `path`, read and hashed (on a blocking thread).
pub(crate) async fn read_file(path: &Path) -> Result<ReadBack, Error> {
    let h = Hasher::new(ChecksumAlgorithm::Crc64Nvme);
    let (size, h) = read_whole(path, "reading a file to compare it", h, Hasher::update).await?;
    Ok(ReadBack {
        size,
        crc64nvme: h.finish(size).base64(),
    })
}

/// Whether the file at `path` holds the bytes of the object `req` names, both read whole at
/// once: the object downloaded ([`read_back`]), the file from disk.
pub(crate) async fn file_holds<C: ObjectClient>(
    ctx: &Context<C>,
    req: &GetObjectRequest,
    listed: Option<Listed>,
    path: &Path,
) -> Result<bool, Error> {
    let (object, file) = tokio::join!(read_back(ctx, req, listed), read_file(path));
    Ok(object? == file?)
}

/// A writer that hashes what it is given, and keeps nothing else.
struct Hashing(Arc<Mutex<Option<Hasher>>>);

impl AsyncWrite for Hashing {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let mut hasher = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = hasher.as_mut() {
            h.update(buf);
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
