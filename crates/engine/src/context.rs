//! What every transfer works with: the [`Shared`] part a manager builds once (the client, the
//! retry policy and quota, the budgets, the journal store, the counters of everything in
//! flight), and each transfer's own [`Context`] around it (its events, its counters, its
//! cancel token). The one retry loop lives here: every request of every transfer goes
//! through [`Context::retrying`], which also takes the request slot it runs in.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_s3::{
    ByteRange, GetObjectRequest, ListObjectsRequest, ObjectClient, ObjectMeta, S3Error,
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::budget::{Allowance, Bandwidth, Memory, Requests, Slots, Turns};
use crate::durable::{Folders, Together};
use crate::error::{Error, Failure};
use crate::handle::Reporter;
use crate::journal::JournalStore;
use crate::progress::{Event, Progress};
use crate::retry::{Jitter, RetryPolicy, RetryQuota};

/// What every transfer of one manager shares.
pub(crate) struct Shared<C> {
    pub(crate) client: Arc<C>,
    /// The server's identity in journals (its endpoint URL).
    pub(crate) endpoint: String,
    pub(crate) retry: RetryPolicy,
    pub(crate) quota: Arc<RetryQuota>,
    pub(crate) jitter: Arc<dyn Jitter>,
    pub(crate) requests: Arc<Requests>,
    /// Transfers of one object running at once.
    pub(crate) turns: Turns,
    pub(crate) memory: Memory,
    pub(crate) bandwidth: Option<Arc<Bandwidth>>,
    /// Bytes the transfers may still move.
    pub(crate) allowance: Arc<Allowance>,
    /// Parts (or ranges) of one object in flight at most.
    pub(crate) parts_per_object: u32,
    /// Where uploads and copies keep their journals; none: they are not journaled.
    pub(crate) journal: Option<Arc<dyn JournalStore>>,
    /// Counters of everything in flight.
    pub(crate) progress: Arc<Progress>,
    /// Small downloaded files, flushed in groups.
    pub(crate) together: Arc<Together>,
}

/// One transfer's view: the shared part, its events (none for an object of a tree, which the
/// tree reports), its counters (counting into its parent's) and its cancel token.
pub(crate) struct Context<C> {
    pub(crate) shared: Arc<Shared<C>>,
    pub(crate) events: Option<Reporter>,
    pub(crate) progress: Arc<Progress>,
    pub(crate) cancel: CancellationToken,
    /// Once it fires, no new part, range or object starts; what is in flight finishes and
    /// the transfer then ends as cancelled ([`Handle::drain`](crate::Handle::drain)).
    pub(crate) drain: CancellationToken,
    /// A tree's download: the folders of its files, flushed once each at its end rather
    /// than after each file.
    pub(crate) folders: Option<Arc<Folders>>,
    /// An object of a tree: the tree's slots it holds, given back by
    /// [`requests_over`](Self::requests_over).
    pub(crate) slots: Option<Arc<Slots>>,
    /// A transfer submitted alone: the allowance it takes its bytes from once it knows them
    /// ([`allowed`](Self::allowed)). None for an object of a tree, which took its size before
    /// it started, and for the reads of a copy, whose writes take it.
    pub(crate) allowance: Option<Arc<Allowance>>,
}

/// Why the HeadObject of the object a transfer reads failed.
pub(crate) struct HeadFailure {
    pub(crate) failure: Failure,
    /// The object is missing, but keys lie under `KEY/`: a prefix, to copy as a tree.
    pub(crate) prefix: bool,
}

impl HeadFailure {
    /// The error `into` makes of the failure, saying that KEY (`url`) is a prefix when it is
    /// one.
    pub(crate) fn into_error(self, url: &str, into: impl FnOnce(Failure) -> Error) -> Error {
        let e = into(self.failure);
        if !self.prefix {
            return e;
        }
        let message = format!(
            "{e}; objects lie under {}/: a prefix, to copy recursively",
            url.trim_end_matches('/')
        );
        e.with_message(message)
    }
}

impl<C> Clone for Shared<C> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            endpoint: self.endpoint.clone(),
            retry: self.retry,
            quota: self.quota.clone(),
            jitter: self.jitter.clone(),
            requests: self.requests.clone(),
            turns: self.turns.clone(),
            memory: self.memory.clone(),
            bandwidth: self.bandwidth.clone(),
            allowance: self.allowance.clone(),
            parts_per_object: self.parts_per_object,
            journal: self.journal.clone(),
            progress: self.progress.clone(),
            together: self.together.clone(),
        }
    }
}

impl<C> Clone for Context<C> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            events: self.events.clone(),
            progress: self.progress.clone(),
            cancel: self.cancel.clone(),
            drain: self.drain.clone(),
            folders: self.folders.clone(),
            slots: self.slots.clone(),
            allowance: self.allowance.clone(),
        }
    }
}

impl<C: ObjectClient> Context<C> {
    pub(crate) fn client(&self) -> &C {
        &self.shared.client
    }

    pub(crate) fn emit(&self, e: Event) {
        if let Some(r) = &self.events {
            r.send(e);
        }
    }

    /// Sends `e` once a watcher that asked for every event has room for it (see
    /// [`caught_up`](Self::caught_up)): a part's or range's events, which a slow reader of a
    /// transfer's events would otherwise lose. Between the wait and the send nothing yields,
    /// so at most one event a worker thread goes past half the buffer.
    pub(crate) async fn emit_kept(&self, e: Event) {
        self.caught_up().await;
        self.emit(e);
    }

    /// Waits until a watcher that asked for every event has room for more (see
    /// [`Handle::subscribe_lossless`](crate::Handle::subscribe_lossless)), or the cancel: a
    /// tree calls it before it reports more of its objects.
    pub(crate) async fn caught_up(&self) {
        if let Some(r) = &self.events {
            tokio::select! {
                () = r.caught_up() => {}
                () = self.cancel.cancelled() => {}
            }
        }
    }

    /// The tokens a pool of this transfer's work obeys: its cancel and its drain.
    pub(crate) fn stops(&self) -> (&CancellationToken, &CancellationToken) {
        (&self.cancel, &self.drain)
    }

    /// A context for one object of a tree (or the download side of a copy): its own counters,
    /// counting into this one's, a cancel token that this one's cancels, no events of its own.
    pub(crate) fn child(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            events: None,
            progress: Arc::new(Progress::child_of(&self.progress)),
            cancel: self.cancel.child_token(),
            drain: self.drain.child_token(),
            folders: self.folders.clone(),
            slots: None,
            allowance: None,
        }
    }

    /// Takes `bytes` (what the transfer `what` still has to move) from the allowance of a
    /// transfer submitted alone, before its first byte moves; fails with
    /// [`ErrorKind::OverAllowance`](crate::ErrorKind) when they do not fit.
    pub(crate) fn allowed(&self, bytes: u64, what: &str) -> Result<(), Error> {
        let Some(allowance) = &self.allowance else {
            return Ok(());
        };
        if allowance.take(bytes) {
            return Ok(());
        }
        let left = allowance.left().unwrap_or_default();
        Err(Error::new(
            crate::error::ErrorKind::OverAllowance,
            format!(
                "{what}: its {bytes} bytes to move are more than the {left} left of the \
                 transfer allowance; not started"
            ),
        ))
    }

    /// This transfer's reads are over: its bytes are fetched and checked, and what is left is
    /// local (its file's flush and rename). An object of a tree gives back its slots, so the
    /// next objects' requests go out while it waits for the disk. (A move's deletion still
    /// to come takes a request slot as every request does.)
    pub(crate) fn requests_over(&self) {
        if let Some(s) = &self.slots {
            s.give_back();
        }
    }

    /// The bandwidth limit, if there is one now.
    pub(crate) fn bandwidth(&self) -> Option<&Arc<Bandwidth>> {
        self.shared
            .bandwidth
            .as_ref()
            .filter(|bw| bw.limit().is_some())
    }

    /// How many parts of `part_size` bytes an upload sends at once: the configured width, or
    /// fewer under a bandwidth limit, so that each part, sharing the limit with the others,
    /// is sent well within the client's read timeout (see [`Bandwidth::bodies_at_once`]). A
    /// part whose body takes longer fails for the server's silence: 8 parts of 8 MiB at
    /// 1 MiB/s took 64 s each. (The send window does the same across objects; this keeps
    /// one object from holding memory for parts that could only wait.)
    pub(crate) fn parts_at_once(&self, part_size: u64) -> u32 {
        let width = self.shared.parts_per_object.max(1);
        match self.bandwidth() {
            Some(bw) => bw.bodies_at_once(part_size, width),
            None => width,
        }
    }

    /// One S3 request, retried (see [`retrying`](Self::retrying)): `send` makes each attempt
    /// through the client.
    pub(crate) async fn request<'a, T, Fut>(
        &'a self,
        part: Option<u32>,
        send: impl Fn(&'a C) -> Fut,
    ) -> Result<T, Failure>
    where
        Fut: std::future::Future<Output = ferry_s3::Result<T>> + 'a,
    {
        self.retrying(part, |_| {
            let attempt = send(self.client());
            async { attempt.await.map_err(Failure::S3) }
        })
        .await
    }

    /// What HeadObject says of one object (`transfer` names the work, for a cancel), as an
    /// error the caller can show: a missing object says so (and, when objects lie under
    /// `KEY/`, that KEY is a prefix); a missing bucket is NoSuchBucket.
    pub(crate) async fn described(
        &self,
        req: &GetObjectRequest,
        transfer: &str,
    ) -> Result<ObjectMeta, Error> {
        let url = format!("s3://{}/{}", req.bucket, req.key);
        self.head_object(req).await.map_err(|h| {
            h.into_error(&url, |f| match f {
                Failure::S3(e) if e.status() == Some(404) && e.code() != Some("NoSuchBucket") => {
                    Error::missing(&url, req.version_id.as_deref(), e)
                }
                f => f.into_error(format!("reading {url}"), transfer),
            })
        })
    }

    /// HeadObject, retried, for the object a transfer reads. A HEAD's answer has no body to
    /// say why it failed. For a 404, one listing of a key under `KEY/` asks what is missing:
    /// its `NoSuchBucket` is the failure when the bucket is what is missing; a key found says
    /// KEY is a prefix (a listing refused or failing otherwise leaves the 404 as it was). For
    /// a 400 or a 403, see [`why_refused`](Self::why_refused).
    pub(crate) async fn head_object(
        &self,
        req: &GetObjectRequest,
    ) -> Result<ObjectMeta, HeadFailure> {
        let e = match self.request(None, |c| c.head_object(req)).await {
            Err(Failure::S3(e)) if e.status() == Some(404) => e,
            Err(Failure::S3(e)) => {
                return Err(HeadFailure {
                    failure: Failure::S3(self.why_refused(req, e).await),
                    prefix: false,
                });
            }
            Err(failure) => {
                return Err(HeadFailure {
                    failure,
                    prefix: false,
                });
            }
            Ok(meta) => return Ok(meta),
        };
        let probe = ListObjectsRequest {
            bucket: req.bucket.clone(),
            prefix: Some(format!("{}/", req.key.trim_end_matches('/'))),
            max_keys: Some(1),
            request: req.request.clone(),
            ..Default::default()
        };
        let (failure, prefix) = match self.client().list_objects(&probe).await {
            Err(gone) if gone.code() == Some("NoSuchBucket") => (Failure::S3(gone), false),
            Ok(page) => (Failure::S3(e), !page.objects.is_empty()),
            Err(_) => (Failure::S3(e), false),
        };
        Err(HeadFailure { failure, prefix })
    }

    /// What a HEAD of `req` refused with a bare 400 or 403 meant: a wrong secret key, a
    /// missing or wrong SSE-C key, a missing permission and a missing object all look alike
    /// there. A one-byte GET of the same object, which the same permission governs, is refused
    /// with a body that names the cause (and, on AWS, the permission): that error, when it is
    /// refused with the same status. Any other outcome leaves the HEAD's error. (Only where
    /// the refusal is the transfer's error: a write-only role's read-back is refused every
    /// time, and needs no second request to say so.)
    async fn why_refused(&self, req: &GetObjectRequest, head: S3Error) -> S3Error {
        let status = match head.service() {
            Some(e) if e.unnamed && matches!(e.status, 400 | 403) => e.status,
            _ => return head,
        };
        let get = GetObjectRequest {
            range: Some(ByteRange { first: 0, last: 0 }),
            part_number: None,
            if_match: None,
            checksum_mode: false,
            ..req.clone()
        };
        match self.client().get_object(&get).await {
            Err(e)
                if e.service()
                    .is_some_and(|g| g.status == status && !g.unnamed) =>
            {
                e
            }
            _ => head,
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the policy, the quota or a cancel
    /// says stop. Each attempt runs in a request slot; only an S3 error that is retryable (or
    /// an expired token, after refreshing the credentials) is tried again, and once a request
    /// refused as signed at the wrong time or for the wrong region (the client then signs
    /// with the server's time, or the bucket's region; the retry is at once, and costs no
    /// quota: such a refusal meets every request in flight together). `part` names the part or range in events.
    pub(crate) async fn retrying<T, F, Fut>(
        &self,
        part: Option<u32>,
        mut attempt: F,
    ) -> Result<T, Failure>
    where
        F: FnMut(u32) -> Fut,
        Fut: std::future::Future<Output = Result<T, Failure>>,
    {
        let policy = &self.shared.retry;
        let start = Instant::now();
        let mut taken = 0u32;
        let mut n = 1u32;
        let mut resigned = false;
        loop {
            let result = tokio::select! {
                r = async {
                    let _slot = self.shared.requests.acquire().await;
                    attempt(n).await
                } => r,
                () = self.cancel.cancelled() => return Err(Failure::Cancelled),
            };
            let err = match result {
                Ok(v) => {
                    self.shared.quota.release(taken);
                    if let Some(limit) = self.shared.requests.on_success() {
                        self.emit(Event::Concurrency { limit });
                    }
                    return Ok(v);
                }
                Err(Failure::S3(e)) => e,
                Err(other) => return Err(other),
            };
            if err.is_throttling() {
                let limit = self.shared.requests.on_throttle();
                self.emit(Event::Concurrency { limit });
            }
            let expired = err.is_expired_credentials();
            if expired {
                self.shared.client.refresh_credentials();
            }
            let resign = (err.is_clock_skew() || err.is_wrong_region()) && !resigned;
            resigned |= resign;
            if !(err.is_retryable() || expired || resign)
                || n >= policy.max_attempts
                || start.elapsed() >= policy.max_total
            {
                return Err(Failure::S3(err.after_attempts(n)));
            }
            if !resign {
                let Some(cost) = self.shared.quota.acquire(&err) else {
                    warn!("retry quota exhausted; not retrying: {err}");
                    return Err(Failure::S3(err.after_attempts(n)));
                };
                taken += cost;
            }
            let delay = if expired || resign {
                Duration::ZERO
            } else {
                policy.delay(&err, n, self.shared.jitter.as_ref())
            };
            let delay = delay.min(policy.max_total.saturating_sub(start.elapsed()));
            self.progress.retried();
            self.emit_kept(Event::Retry {
                part,
                attempt: n,
                delay,
                reason: err.to_string(),
            })
            .await;
            debug!(?part, attempt = n, ?delay, "retrying: {err}");
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.cancel.cancelled() => return Err(Failure::Cancelled),
            }
            n += 1;
        }
    }
}
