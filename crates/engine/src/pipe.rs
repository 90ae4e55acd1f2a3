//! A bounded pipe from a download to an upload (a copy between two servers): the download
//! writes into it, the upload reads a stream from it. Its end is explicit: the reader sees the
//! end of the stream only once [`PipeEnd::finish`] says the download checked out, and an error
//! after [`PipeEnd::fail`], so an upload never completes with bytes a failed check rejected.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;
use tokio_util::sync::PollSender;

type Item = io::Result<Bytes>;

/// A pipe holding at most `chunks` writes in flight (each the size of one write).
pub fn pipe(chunks: usize) -> (PipeWriter, PipeReader, PipeEnd) {
    let (tx, rx) = mpsc::channel::<Item>(chunks.max(1));
    (
        PipeWriter(PollSender::new(tx.clone())),
        PipeReader {
            rx,
            current: Bytes::new(),
            done: false,
        },
        PipeEnd(tx),
    )
}

/// The writing side. Dropping it does not end the stream: [`PipeEnd`] does.
#[derive(Debug)]
pub struct PipeWriter(PollSender<Item>);

/// The reading side: an `AsyncRead`.
#[derive(Debug)]
pub struct PipeReader {
    rx: mpsc::Receiver<Item>,
    current: Bytes,
    done: bool,
}

/// Ends the stream, well or badly.
#[derive(Debug)]
pub struct PipeEnd(mpsc::Sender<Item>);

impl PipeEnd {
    /// The writer's bytes are all good: the reader sees the end once it has read them.
    pub fn finish(self) {}

    /// The writer failed: the reader gets an error instead of the end.
    pub async fn fail(self, why: String) {
        let _ = self.0.send(Err(io::Error::other(why))).await;
    }
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the reading side stopped")
}

impl AsyncWrite for PipeWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.0.poll_reserve(cx)).map_err(|_| closed())?;
        self.0
            .send_item(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| closed())?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for PipeReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if !self.current.is_empty() {
                let n = self.current.len().min(buf.remaining());
                let chunk = self.current.split_to(n);
                buf.put_slice(&chunk);
                return Poll::Ready(Ok(()));
            }
            if self.done {
                return Poll::Ready(Ok(()));
            }
            match ready!(self.rx.poll_recv(cx)) {
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => {
                    self.done = true;
                    return Poll::Ready(Err(e));
                }
                None => self.done = true,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[tokio::test]
    async fn the_end_comes_from_the_end_not_the_writer() {
        let (mut w, mut r, end) = pipe(2);
        let writer = tokio::spawn(async move {
            w.write_all(b"hello ").await.unwrap();
            w.write_all(b"world").await.unwrap();
            drop(w);
            end.finish();
        });
        let mut out = Vec::new();
        r.read_to_end(&mut out).await.unwrap();
        writer.await.unwrap();
        assert_eq!(out, b"hello world");

        let (mut w, mut r, end) = pipe(2);
        let writer = tokio::spawn(async move {
            w.write_all(b"bad bytes").await.unwrap();
            drop(w);
            end.fail("the check failed".into()).await;
        });
        let mut out = Vec::new();
        let err = r.read_to_end(&mut out).await.unwrap_err();
        writer.await.unwrap();
        assert!(err.to_string().contains("the check failed"));
    }
}
