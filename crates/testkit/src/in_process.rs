//! Servers that run inside the test process, each on its own thread and runtime: s3s-fs (the
//! one local server that checks payload hashes), the null sink, and a recording server that
//! answers one canned response; and the self-signed certificate the TLS tests trust.

use std::net::TcpListener;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Result;

use crate::background::Background;
use crate::{ACCESS_KEY, REGION, SECRET_KEY, TestServer, creds, null_sink};

/// s3s-fs (the `s3s` crate's file-system S3 server) running in this process on a free loopback
/// port, with its own root folder: the one local server that checks `x-amz-content-sha256`
/// (it answers a mismatch with 500). Stopped when dropped.
pub struct S3sFs {
    /// How to reach it.
    pub server: TestServer,
    /// Its storage folder.
    pub root: tempfile::TempDir,
    _task: Background,
}

impl std::fmt::Debug for S3sFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3sFs")
            .field("server", &self.server)
            .finish()
    }
}

impl S3sFs {
    /// Starts a server with the test identity.
    pub fn start() -> Result<Self> {
        Self::start_with(
            s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY),
            (ACCESS_KEY, SECRET_KEY),
        )
    }

    /// Starts a server that accepts only the keys `ring` holds (its `server` names
    /// `keys`, e.g. for boto3).
    pub fn start_with_keys(ring: creds::KeyRing, keys: (&str, &str)) -> Result<Self> {
        Self::start_with(ring, keys)
    }

    fn start_with(auth: impl s3s::auth::S3Auth, keys: (&str, &str)) -> Result<Self> {
        let root = tempfile::Builder::new().prefix("ferry-s3s-fs-").tempdir()?;
        let fs = s3s_fs::FileSystem::new(root.path()).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let (server, _task) = serve_in_process(fs, auth, keys)?;
        Ok(Self {
            server,
            root,
            _task,
        })
    }
}

/// Serves an `s3s` implementation on a free loopback port, on its own thread and runtime,
/// with the test identity, until the returned task is dropped.
fn serve_in_process(
    s3: impl s3s::S3,
    auth: impl s3s::auth::S3Auth,
    keys: (&str, &str),
) -> Result<(TestServer, Background)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let service = {
        let mut b = s3s::service::S3ServiceBuilder::new(s3);
        b.set_auth(auth);
        b.build()
    };
    let task = Background::spawn("s3s-server", move || async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
        let http =
            hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            let _ = socket.set_nodelay(true);
            let conn = http
                .serve_connection(hyper_util::rt::TokioIo::new(socket), service.clone())
                .into_owned();
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
    })?;
    let server = TestServer {
        endpoint: format!("http://{addr}"),
        access_key: keys.0.into(),
        secret_key: keys.1.into(),
        region: REGION.into(),
    };
    Ok((server, task))
}

/// The null sink ([`null_sink`]) served in this process. Stopped when dropped.
pub struct NullSinkServer {
    /// How to reach it.
    pub server: TestServer,
    _task: Background,
}

impl NullSinkServer {
    /// Starts a null sink with the test identity.
    pub fn start() -> Result<Self> {
        let auth = s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY);
        let (server, _task) = serve_in_process(
            null_sink::NullSink::default(),
            auth,
            (ACCESS_KEY, SECRET_KEY),
        )?;
        Ok(Self { server, _task })
    }
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, as PEM (certificate, key).
pub fn self_signed_cert() -> Result<(String, String)> {
    let c = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])?;
    Ok((c.cert.pem(), c.signing_key.serialize_pem()))
}

/// A loopback HTTP server that answers every request with one canned response and records
/// each request's head (request line and headers). For client-side tests of request shape and
/// reply parsing, never as evidence that a transfer works. Stops when dropped.
pub struct RecordingServer {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    heads: std::sync::Arc<Mutex<Vec<String>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RecordingServer {
    /// Starts serving `response` (a whole HTTP/1.1 response, headers and body).
    pub fn start(response: String) -> Self {
        Self::serve(response, None)
    }

    /// Like [`RecordingServer::start`], but the body of each answer to a GET is sent one byte
    /// every `pause` (a slow-loris server: never silent long enough for a read timeout).
    pub fn start_trickling(response: String, pause: Duration) -> Self {
        Self::serve(response, Some(pause))
    }

    fn serve(response: String, trickle: Option<Duration>) -> Self {
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let heads = std::sync::Arc::new(Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (h, st) = (heads.clone(), stop.clone());
        let response = std::sync::Arc::new(response);
        let thread = std::thread::spawn(move || {
            let mut workers = Vec::new();
            while !st.load(Ordering::Relaxed) {
                let Ok((s, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let (h, st, response) = (h.clone(), st.clone(), response.clone());
                workers.push(std::thread::spawn(move || {
                    answer(s, &h, &response, trickle, &st);
                }));
            }
            for w in workers {
                let _ = w.join();
            }
        });
        Self {
            endpoint,
            heads,
            stop,
            thread: Some(thread),
        }
    }

    /// The request heads received so far.
    pub fn requests(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }

    /// A test server description pointing at it (any credentials).
    pub fn server(&self) -> TestServer {
        TestServer {
            endpoint: self.endpoint.clone(),
            access_key: "recording".into(),
            secret_key: "recording-secret".into(),
            region: REGION.into(),
        }
    }
}

/// Reads one request from `s`, records its head, and answers `response` (a GET's body a byte
/// at a time with `trickle`).
fn answer(
    mut s: std::net::TcpStream,
    heads: &Mutex<Vec<String>>,
    response: &str,
    trickle: Option<Duration>,
    stop: &std::sync::atomic::AtomicBool,
) {
    use std::io::{Read, Write};
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let head_end = loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break Some(i + 4);
        }
    };
    let Some(head_end) = head_end else { return };
    let head = String::from_utf8_lossy(&got[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while got.len() < head_end + length {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let get = head.starts_with("GET ");
    heads.lock().unwrap().push(head);
    match trickle {
        Some(pause) if get => {
            let split = response.find("\r\n\r\n").map_or(0, |i| i + 4);
            let (top, body) = response.as_bytes().split_at(split);
            if s.write_all(top).is_err() {
                return;
            }
            for b in body {
                if stop.load(std::sync::atomic::Ordering::Relaxed) || s.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(pause);
            }
        }
        _ => {
            let _ = s.write_all(response.as_bytes());
        }
    }
}

impl Drop for RecordingServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
