//! A fault proxy for deterministic tests: between ferry and a server, a rule matching the nth
//! request of a method and query can hold it (so a test kills ferry at an exact point),
//! forward it and drop its response, or inject a fault: reset the connection after N
//! request-body bytes, stall, answer an S3 error without forwarding (500 InternalError, 503
//! SlowDown with or without Retry-After, 400 RequestTimeout, 400 ExpiredToken, or a 200 whose
//! body is an `<Error>`), cut a response body short, or flip one of its bytes. It counts the
//! request-body bytes it forwarded and the response-body bytes it returned, and logs what it
//! did.
//!
//! With a bucket region set, it refuses as S3 does a request signed for another region: a
//! HEAD with a bare 301, another with 400 `AuthorizationHeaderMalformed`, each naming the
//! region in `x-amz-bucket-region` (and the 400 in its body). Made requester-pays, it refuses
//! with 403 AccessDenied a request that does not agree to pay; given a bucket owner, one that
//! expects another. With ACLs off, it refuses a request carrying an ACL or a grant (but the
//! canned `bucket-owner-full-control`) with 400 `AccessControlListNotSupported`, as S3 refuses
//! it in a bucket whose Object Ownership is "bucket owner enforced".
//!
//! Once a Hold or DropResponse rule has fired, every later request is held too: the client is
//! frozen at that point until the test kills it, so kill points are exact whatever the
//! client's retries would do. Fault rules fire once each and let everything else through.
//!
//! One request per connection (`Connection: close` both ways), HTTP/1.1 with `Content-Length`
//! bodies: what ferry sends. Not a general proxy; not evidence that a transfer works.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What to do with a matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Do not forward it; keep the connection open until the proxy stops.
    Hold,
    /// Forward it, then close the client's connection without the response.
    DropResponse,
    /// Read the head and this many body bytes, then reset the connection (nothing forwarded).
    ResetAfter(u64),
    /// Wait this long, then forward it.
    Stall(Duration),
    /// Read it whole, then wait until the test opens the gate ([`HoldProxy::open_gate`]), then
    /// forward it: the test acts at an exact point (after the client sent the request, before
    /// the server saw it) and lets the client go on.
    Gate,
    /// Read only its head, then wait at the gate as [`Action::Gate`] does; the body is read
    /// after: the client is stopped partway through sending it.
    GateHead,
    /// Forward it, then wait this long before returning the response.
    DelayResponse(Duration),
    /// Answer this S3 error without forwarding: status, code, and `Retry-After` seconds.
    Respond(u16, &'static str, Option<u32>),
    /// Forward it, then return the head and only this many bytes of the body, and close.
    CutResponse(u64),
    /// Forward it, then return the response with one byte of the body flipped.
    FlipResponseByte,
    /// Forward it, then close the connection without the response (and without freezing the
    /// client: its retry goes through).
    LoseResponse,
}

/// A rule: the `nth` request (1-based) whose method is `method` and whose target contains
/// every one of `query` gets `action`.
#[derive(Debug, Clone)]
pub struct Rule {
    /// HTTP method.
    pub method: &'static str,
    /// Substrings the request target must contain (e.g. `uploads`, `partNumber=3`).
    pub query: Vec<&'static str>,
    /// Which matching request (1 = the first).
    pub nth: u32,
    /// What to do.
    pub action: Action,
}

/// Faults at random: each request that no rule matched gets one of `actions` with probability
/// `percent` in 100, decided by a hash of the seed, the request (method and target, bucket and
/// upload ids left out) and how many times that request was seen, so a rerun with the same seed
/// faults the same requests whatever order they come in. Actions that do not fit a request are
/// skipped: body faults (cut, flipped) only on ranged GETs, a reset only on a request with a longer
/// body, to a HEAD only 5xx answers (S3 sends no error code there); Hold, DropResponse and the
/// gates never (they freeze the client).
#[derive(Debug, Clone)]
pub struct Chaos {
    /// The seed.
    pub seed: u64,
    /// Chance of a fault, in percent.
    pub percent: u32,
    /// The faults to choose from.
    pub actions: Vec<Action>,
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<(Rule, u32)>,
    chaos: Option<Chaos>,
    /// How many times each request (upload ids left out) was seen.
    seen: std::collections::HashMap<String, u64>,
    /// Hashes of the bodies sent for each (upload id, part number).
    parts: std::collections::HashMap<(String, String), std::collections::HashSet<u64>>,
    log: Vec<String>,
    /// Also written here, a line per request (benchmarks count requests so).
    log_file: Option<std::fs::File>,
    /// The region every bucket behind the proxy is in.
    region: Option<String>,
    /// Every bucket behind the proxy is requester-pays, and another account's.
    requester_pays: bool,
    /// The account that owns every bucket behind the proxy.
    owner: Option<String>,
    /// Every bucket behind the proxy has ACLs off ("bucket owner enforced").
    acls_off: bool,
}

impl State {
    /// How S3 would refuse this request, as the buckets behind the proxy are set (`free`: no
    /// rule or chaos took it): what to log, and the answer.
    fn refusal(
        &self,
        method: &str,
        target: &str,
        head: &str,
        free: bool,
    ) -> Option<(&'static str, Vec<u8>)> {
        if !free {
            return None;
        }
        if let Some(region) = &self.region
            && signed_region(head, target).is_some_and(|s| s != *region)
        {
            let answer = wrong_region_response(method, region);
            return Some(("signed for another region", answer));
        }
        let header = |name: &str| {
            head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
            })
        };
        let denied = || {
            if method == "HEAD" {
                b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
            } else {
                error_response(403, "AccessDenied", None)
            }
        };
        if self.requester_pays && header("x-amz-request-payer") != Some("requester") {
            return Some(("requester pays, not agreed", denied()));
        }
        if let (Some(owner), Some(expected)) = (&self.owner, header("x-amz-expected-bucket-owner"))
            && owner != expected
        {
            return Some(("another owner expected", denied()));
        }
        let acl = |l: &str| {
            let (k, v) = l.split_once(':')?;
            let k = k.trim().to_ascii_lowercase();
            let granted = k.starts_with("x-amz-grant-")
                || (k == "x-amz-acl" && v.trim() != "bucket-owner-full-control");
            granted.then_some(())
        };
        if self.acls_off && head.lines().any(|l| acl(l).is_some()) {
            let answer = error_response(400, "AccessControlListNotSupported", None);
            return Some(("an ACL, with ACLs off", answer));
        }
        None
    }

    /// The chaos action for this request, if any.
    fn chaos(&mut self, method: &str, target: &str, head: &str) -> Option<Action> {
        // Upload ids and the bucket (tests make a new one each run) left out, so a seed
        // replays the same faults run after run.
        let no_bucket = target
            .trim_start_matches('/')
            .split_once('/')
            .map_or("", |(_, rest)| rest);
        let key = format!("{method} /{}", without_upload_id(no_bucket));
        let n = self.seen.entry(key.clone()).or_insert(0);
        *n += 1;
        let chaos = self.chaos.as_ref()?;
        let mut h = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&(chaos.seed, &key, *n), &mut h);
        let roll = std::hash::Hasher::finish(&h);
        if (roll % 10_000) >= u64::from(chaos.percent) * 100 || chaos.actions.is_empty() {
            return None;
        }
        let action = chaos.actions[((roll / 10_000) % chaos.actions.len() as u64) as usize];
        let ranged_get = method == "GET"
            && head
                .lines()
                .any(|l| l.to_ascii_lowercase().starts_with("range:"));
        let fits = match action {
            Action::Hold | Action::DropResponse | Action::Gate | Action::GateHead => false,
            Action::CutResponse(_) | Action::FlipResponseByte => ranged_get,
            Action::ResetAfter(n) => content_length(head) as u64 > n,
            // An answer to a HEAD has no body, so no error code: only a status S3 would send.
            Action::Respond(status, _, _) if method == "HEAD" => status >= 500,
            _ => true,
        };
        fits.then_some(action)
    }
}

/// The target with the value of `uploadId` left out (it differs from run to run).
fn without_upload_id(target: &str) -> String {
    match target.find("uploadId=") {
        Some(i) => {
            let rest = &target[i + "uploadId=".len()..];
            let end = rest.find('&').unwrap_or(rest.len());
            format!("{}uploadId={}", &target[..i], &rest[end..])
        }
        None => target.to_string(),
    }
}

/// The value of query parameter `name` in `target`.
fn query_value<'t>(target: &'t str, name: &str) -> Option<&'t str> {
    let q = target.split_once('?')?.1;
    q.split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

/// The proxy. Stops when dropped.
#[derive(Debug)]
pub struct HoldProxy {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    state: Arc<Mutex<State>>,
    forwarded: Arc<AtomicU64>,
    returned: Arc<AtomicU64>,
    triggered: Arc<AtomicBool>,
    gate: Arc<GateState>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Where a [`Action::Gate`] stands.
#[derive(Debug, Default)]
struct GateState {
    /// A request waits at the gate.
    reached: AtomicBool,
    /// The test let it through.
    open: AtomicBool,
}

impl HoldProxy {
    /// Starts a proxy to `upstream` (`http://host:port`) with `rules`.
    pub fn start(upstream: &str, rules: Vec<Rule>) -> std::io::Result<Self> {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(Mutex::new(State {
            rules: rules.into_iter().map(|r| (r, 0)).collect(),
            ..State::default()
        }));
        let forwarded = Arc::new(AtomicU64::new(0));
        let returned = Arc::new(AtomicU64::new(0));
        let triggered = Arc::new(AtomicBool::new(false));
        let gate = Arc::new(GateState::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (st, fw, rt, tr, gt, sp) = (
            state.clone(),
            forwarded.clone(),
            returned.clone(),
            triggered.clone(),
            gate.clone(),
            stop.clone(),
        );
        let thread = std::thread::spawn(move || {
            let mut workers = Vec::new();
            while !sp.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let counters = Counters {
                            forwarded: fw.clone(),
                            returned: rt.clone(),
                            triggered: tr.clone(),
                            gate: gt.clone(),
                            stop: sp.clone(),
                        };
                        let (st, up) = (st.clone(), upstream.clone());
                        // Threads that ended are joined as others start: a joinable thread
                        // keeps its stack until then, and a benchmark's 20,000 requests would
                        // hold 20,000 of them.
                        let (ended, running): (Vec<_>, Vec<_>) = std::mem::take(&mut workers)
                            .into_iter()
                            .partition(|w: &std::thread::JoinHandle<()>| w.is_finished());
                        for w in ended {
                            let _ = w.join();
                        }
                        workers = running;
                        workers.push(std::thread::spawn(move || {
                            let _ = serve(client, &up, &st, &counters);
                        }));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            for w in workers {
                let _ = w.join();
            }
        });
        Ok(Self {
            endpoint,
            state,
            forwarded,
            returned,
            triggered,
            gate,
            stop,
            thread: Some(thread),
        })
    }

    /// Waits until a request reaches a [`Action::Gate`], up to `limit`.
    pub fn wait_gated(&self, limit: Duration) -> bool {
        let start = std::time::Instant::now();
        while start.elapsed() < limit {
            if self.gate.reached.load(Ordering::Relaxed) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    /// Lets the request waiting at the gate (and any later one) through.
    pub fn open_gate(&self) {
        self.gate.open.store(true, Ordering::Relaxed);
    }

    /// Turns on faults at random (see [`Chaos`]), or off with `None`.
    pub fn set_chaos(&self, chaos: Option<Chaos>) {
        self.state.lock().unwrap().chaos = chaos;
    }

    /// Parts sent more than once with different bodies: `uploadId partNumber` of each (none
    /// when every retry resent the same bytes).
    pub fn parts_resent_differently(&self) -> Vec<String> {
        let st = self.state.lock().unwrap();
        let mut out: Vec<String> = st
            .parts
            .iter()
            .filter(|(_, bodies)| bodies.len() > 1)
            .map(|((u, n), _)| format!("{u} {n}"))
            .collect();
        out.sort();
        out
    }

    /// How many requests got a fault (held, dropped, reset, stalled, answered, cut, flipped,
    /// lost) so far.
    pub fn faults(&self) -> usize {
        self.log()
            .iter()
            .filter(|l| !l.ends_with(" forwarded"))
            .count()
    }

    /// Puts every bucket behind the proxy in `region`: a request signed for another is
    /// refused as S3 refuses it (see the module's docs). `None` lets every region through.
    pub fn set_bucket_region(&self, region: Option<&str>) {
        self.state.lock().unwrap().region = region.map(str::to_string);
    }

    /// Makes every bucket behind the proxy requester-pays and another account's: a request
    /// without `x-amz-request-payer: requester` is refused 403 AccessDenied, as S3 refuses it.
    pub fn set_requester_pays(&self, on: bool) {
        self.state.lock().unwrap().requester_pays = on;
    }

    /// Makes `account` the owner of every bucket behind the proxy: a request expecting
    /// another (`x-amz-expected-bucket-owner`) is refused 403 AccessDenied, as S3 refuses it.
    pub fn set_bucket_owner(&self, account: Option<&str>) {
        self.state.lock().unwrap().owner = account.map(str::to_string);
    }

    /// Turns ACLs off in every bucket behind the proxy (Object Ownership "bucket owner
    /// enforced"): a write carrying an ACL or a grant, but the canned
    /// `bucket-owner-full-control`, is refused as S3 refuses it.
    pub fn set_acls_off(&self, on: bool) {
        self.state.lock().unwrap().acls_off = on;
    }

    /// Starts over with new rules: counters, log and the frozen state are cleared (requests
    /// held so far stay held: their client is gone).
    pub fn reset(&self, rules: Vec<Rule>) {
        let mut st = self.state.lock().unwrap();
        st.rules = rules.into_iter().map(|r| (r, 0)).collect();
        st.log.clear();
        st.seen.clear();
        st.parts.clear();
        self.forwarded.store(0, Ordering::Relaxed);
        self.returned.store(0, Ordering::Relaxed);
        self.triggered.store(false, Ordering::Relaxed);
    }

    /// Response-body bytes returned to the client so far (what a download fetched).
    pub fn returned_bytes(&self) -> u64 {
        self.returned.load(Ordering::Relaxed)
    }

    /// Request-body bytes forwarded so far.
    pub fn forwarded_bytes(&self) -> u64 {
        self.forwarded.load(Ordering::Relaxed)
    }

    /// Whether a rule has fired (a request is held, or a response was dropped).
    pub fn triggered(&self) -> bool {
        self.triggered.load(Ordering::Relaxed)
    }

    /// Waits until a rule fires, up to `limit`.
    pub fn wait_triggered(&self, limit: Duration) -> bool {
        let start = std::time::Instant::now();
        while start.elapsed() < limit {
            if self.triggered() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    /// Also writes each request's method and target to `file`, a line each, as it comes.
    pub fn log_to(&self, file: std::fs::File) {
        self.state.lock().unwrap().log_file = Some(file);
    }

    /// What the proxy did, one line per request: method, target (with `#bytes=A-B` when a range
    /// was asked for), and the action.
    pub fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }

    /// A test server description pointing at the proxy (same credentials as `upstream`).
    pub fn server(&self, upstream: &crate::TestServer) -> crate::TestServer {
        crate::TestServer {
            endpoint: self.endpoint.clone(),
            ..upstream.clone()
        }
    }
}

impl Drop for HoldProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The head, and whatever body bytes came with it.
fn read_head(s: &mut TcpStream, stop: &AtomicBool) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut chunk) {
            Ok(0) => return Ok(None),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                if stop.load(Ordering::Relaxed) {
                    return Ok(None);
                }
            }
            Err(e) => return Err(e),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    Ok(Some((head, buf[head_end..].to_vec())))
}

fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0)
}

/// An S3 error answer.
fn error_response(status: u16, code: &str, retry_after: Option<u32>) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>injected by the fault proxy</Message><RequestId>fault-proxy</RequestId></Error>"
    );
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(s) = retry_after {
        head.push_str(&format!("Retry-After: {s}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// The region a request was signed for: the credential scope's third field, from the
/// `Authorization` header or a presigned URL's `X-Amz-Credential`.
fn signed_region(head: &str, target: &str) -> Option<String> {
    let credential = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case("authorization").then_some(v)
        })
        .and_then(|auth| auth.split("Credential=").nth(1))
        .map(|c| c.split(',').next().unwrap_or_default().to_string())
        .or_else(|| query_value(target, "X-Amz-Credential").map(|c| c.replace("%2F", "/")))?;
    credential.split('/').nth(2).map(str::to_string)
}

/// S3's refusal of a request signed for another region than its bucket's `region`.
fn wrong_region_response(method: &str, region: &str) -> Vec<u8> {
    if method == "HEAD" {
        return format!(
            "HTTP/1.1 301 Moved Permanently\r\nx-amz-bucket-region: {region}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .into_bytes();
    }
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is malformed; the region is wrong; expecting '{region}'</Message><Region>{region}</Region><RequestId>fault-proxy</RequestId></Error>"
    );
    let mut out = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/xml\r\nx-amz-bucket-region: {region}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// The head with `Connection: close` instead of any connection header.
fn closing(head: &str) -> String {
    let mut out = String::new();
    for line in head.split("\r\n").filter(|l| !l.is_empty()) {
        // The proxy answers `Expect: 100-continue` itself (it reads the body before it
        // forwards anything).
        if line.split_once(':').is_some_and(|(k, _)| {
            k.trim().eq_ignore_ascii_case("connection") || k.trim().eq_ignore_ascii_case("expect")
        }) {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out
}

/// Says a request reached the gate, and waits until the test opens it (or the proxy stops).
fn wait_at_gate(gate: &GateState, stop: &AtomicBool) {
    gate.reached.store(true, Ordering::Relaxed);
    while !gate.open.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// What a connection's thread reports into.
struct Counters {
    forwarded: Arc<AtomicU64>,
    returned: Arc<AtomicU64>,
    triggered: Arc<AtomicBool>,
    gate: Arc<GateState>,
    stop: Arc<AtomicBool>,
}

fn serve(
    mut client: TcpStream,
    upstream: &str,
    state: &Mutex<State>,
    counters: &Counters,
) -> std::io::Result<()> {
    let (forwarded, triggered, stop) =
        (&*counters.forwarded, &*counters.triggered, &*counters.stop);
    client.set_nonblocking(false)?;
    client.set_read_timeout(Some(Duration::from_millis(100)))?;
    let Some((head, first)) = read_head(&mut client, stop)? else {
        return Ok(());
    };
    let request_line = head.lines().next().unwrap_or_default().to_string();
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    // What the log and the chaos see: the target, and the byte range asked for, if any.
    let request = match head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case("range").then(|| v.trim())
    }) {
        Some(range) => format!("{target}#{range}"),
        None => target.clone(),
    };
    let refusal;
    let action = {
        let mut st = state.lock().unwrap();
        let mut action = triggered.load(Ordering::Relaxed).then_some(Action::Hold);
        for (rule, seen) in st.rules.iter_mut() {
            if rule.method == method && rule.query.iter().all(|q| target.contains(q)) {
                *seen += 1;
                if *seen == rule.nth {
                    action = Some(rule.action);
                }
            }
        }
        let chaos = st.chaos(&method, &request, &head);
        action = action.or(chaos);
        refusal = st.refusal(&method, &target, &head, action.is_none());
        if let Some(f) = st.log_file.as_mut() {
            let _ = std::io::Write::write_all(f, format!("{method} {request}\n").as_bytes());
        }
        st.log.push(format!(
            "{method} {request} {}",
            match action {
                _ if refusal.is_some() => format!("refused: {}", refusal.as_ref().unwrap().0),
                Some(Action::Hold) => "held".to_string(),
                Some(Action::DropResponse) => "forwarded, response dropped".into(),
                Some(Action::ResetAfter(n)) => format!("reset after {n} body bytes"),
                Some(Action::Stall(d)) => format!("stalled {} ms, forwarded", d.as_millis()),
                Some(Action::Gate) => "held at the gate, forwarded".into(),
                Some(Action::GateHead) => "held at the gate before its body, forwarded".into(),
                Some(Action::DelayResponse(d)) =>
                    format!("forwarded, response delayed {} ms", d.as_millis()),
                Some(Action::Respond(status, code, ra)) => format!(
                    "answered {status} {code}{}",
                    ra.map(|s| format!(" Retry-After {s}")).unwrap_or_default()
                ),
                Some(Action::CutResponse(n)) =>
                    format!("forwarded, response cut after {n} body bytes"),
                Some(Action::FlipResponseByte) => "forwarded, a response byte flipped".into(),
                Some(Action::LoseResponse) => "forwarded, response lost".into(),
                None => "forwarded".into(),
            }
        ));
        action
    };
    if action == Some(Action::GateHead) {
        wait_at_gate(&counters.gate, stop);
    }
    if let Some(Action::ResetAfter(n)) = action {
        // Take n body bytes, then close with the rest unread: the kernel resets the
        // connection.
        let length = content_length(&head) as u64;
        let mut got = first.len() as u64;
        let mut chunk = [0u8; 64 * 1024];
        while got < n.min(length) {
            let room = ((n.min(length) - got) as usize).min(chunk.len());
            match client.read(&mut chunk[..room]) {
                Ok(0) => break,
                Ok(k) => got += k as u64,
                Err(_) => break,
            }
        }
        return Ok(());
    }
    // A client that waits for `100 Continue` before its body (the aws cli) gets it now: the
    // body is read whole before anything is forwarded.
    if !matches!(action, Some(Action::Respond(..)))
        && refusal.is_none()
        && head.lines().any(|l| {
            l.split_once(':').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("expect")
                    && v.trim().eq_ignore_ascii_case("100-continue")
            })
        })
    {
        client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let Some((head, body)) = ({
        let length = content_length(&head);
        let mut body = first;
        let mut ok = true;
        let mut chunk = [0u8; 64 * 1024];
        while ok && body.len() < length {
            match client.read(&mut chunk) {
                Ok(0) => ok = false,
                Ok(n) => body.extend_from_slice(&chunk[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    if stop.load(Ordering::Relaxed) {
                        ok = false;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        ok.then_some((head, body))
    }) else {
        return Ok(());
    };
    if let Some((_, answer)) = refusal {
        client.write_all(&answer)?;
        return Ok(());
    }
    match action {
        Some(Action::Respond(status, code, ra)) => {
            client.write_all(&error_response(status, code, ra))?;
            return Ok(());
        }
        Some(Action::Stall(d)) => {
            let until = std::time::Instant::now() + d;
            while std::time::Instant::now() < until && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Some(Action::Gate) => wait_at_gate(&counters.gate, stop),
        _ => {}
    }
    if action == Some(Action::Hold) {
        triggered.store(true, Ordering::Relaxed);
        // Keep the connection open, the request unanswered, until the test ends.
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
        }
        return Ok(());
    }
    if method == "PUT"
        && let (Some(upload), Some(part)) = (
            query_value(&target, "uploadId"),
            query_value(&target, "partNumber"),
        )
    {
        let mut h = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&body, &mut h);
        state
            .lock()
            .unwrap()
            .parts
            .entry((upload.to_string(), part.to_string()))
            .or_default()
            .insert(std::hash::Hasher::finish(&h));
    }
    let mut up = TcpStream::connect(upstream)?;
    up.write_all(closing(&head).as_bytes())?;
    up.write_all(&body)?;
    forwarded.fetch_add(body.len() as u64, Ordering::Relaxed);
    let mut response = Vec::new();
    up.read_to_end(&mut response)?;
    if action == Some(Action::DropResponse) {
        triggered.store(true, Ordering::Relaxed);
        // Hold the connection without answering, as a reply lost in the network.
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
        }
        return Ok(());
    }
    if action == Some(Action::LoseResponse) {
        return Ok(());
    }
    if let Some(Action::DelayResponse(d)) = action {
        let until = std::time::Instant::now() + d;
        while std::time::Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let head_end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(response.len(), |i| i + 4);
    let head = String::from_utf8_lossy(&response[..head_end]).to_string();
    let mut body = response[head_end..].to_vec();
    match action {
        Some(Action::CutResponse(n)) => body.truncate(n as usize),
        Some(Action::FlipResponseByte) if !body.is_empty() => {
            let i = body.len() / 2;
            body[i] ^= 0x01;
        }
        _ => {}
    }
    client.write_all(closing(&head).as_bytes())?;
    client.write_all(&body)?;
    counters
        .returned
        .fetch_add(body.len() as u64, Ordering::Relaxed);
    Ok(())
}
