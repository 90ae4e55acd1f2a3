//! A wide-area network on loopback, for benchmarks: a TCP proxy that holds every chunk it
//! passes for a set delay in each direction (so a round trip costs twice that), and holds a
//! new connection's first bytes for one round trip (its handshake). Throughput is not limited:
//! chunks are delivered in order, each at its own time, however many are on the way. This
//! kernel has no netem; for latency-bound work (small objects, request after request) a
//! user-space delay is faithful enough.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::background::Background;

/// The proxy, on its own thread. Stops when dropped.
pub struct DelayProxy {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    _task: Background,
}

impl DelayProxy {
    /// A proxy to `upstream` (`http://host:port`) that delays each direction by `delay`.
    pub fn start(upstream: &str, delay: Duration) -> std::io::Result<Self> {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let task = Background::spawn("delay-proxy", move || async move {
            let listener = TcpListener::from_std(listener).expect("the proxy's listener");
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let _ = relay(client, &upstream, delay).await;
                });
            }
        })
        .map_err(std::io::Error::other)?;
        Ok(Self {
            endpoint,
            _task: task,
        })
    }
}

/// One connection: the handshake's round trip, then both directions, each chunk delayed.
async fn relay(client: TcpStream, upstream: &str, delay: Duration) -> std::io::Result<()> {
    client.set_nodelay(true)?;
    let server = TcpStream::connect(upstream).await?;
    server.set_nodelay(true)?;
    let handshake = Instant::now() + 2 * delay;
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let up = pump(cr, sw, delay, handshake);
    let down = pump(sr, cw, delay, handshake);
    let _ = tokio::join!(up, down);
    Ok(())
}

/// Copies `from` to `to`, each chunk written `delay` after it was read (and none before
/// `not_before`).
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
    not_before: Instant,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let due = (Instant::now() + delay).max(not_before);
                    if tx.send((due, buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}
