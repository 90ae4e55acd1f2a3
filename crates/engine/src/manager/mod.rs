//! The manager: one per process (or per client a process uses). It owns the client, the retry
//! quota and the three budgets every transfer shares (requests in flight, bytes in memory,
//! bytes per second), and the counters of everything in flight. Every transfer is submitted
//! to it and returns a [`Handle`]. The caller's own requests through it (listings, removals,
//! one object's description) are in `requests`.

mod config;
mod requests;

use config::check_bandwidth;
#[cfg(test)]
use config::requests_within;
pub use config::{ManagerConfig, OpenFiles};

use std::sync::Arc;

use ferry_s3::{Directive, ObjectClient, SseCustomerKey};
use tokio_util::sync::CancellationToken;

use crate::budget::{Allowance, Bandwidth, Memory, Requests, Turns};
use crate::context::{Context, Shared};
use crate::copy::{Copy, ObjectSource};
use crate::download::{Download, Target};
use crate::error::{Error, Mismatch};
use crate::handle::{Events, Handle, ONE_OBJECT_EVENTS, TREE_EVENTS};
use crate::job::{UploadSettings, journal_error};
use crate::journal::{Journal, SourceKind};
use crate::outcome::{DownloadOutcome, TreeOutcome, UploadOutcome};
use crate::progress::{Event, Progress};
use crate::retry::RetryQuota;
use crate::shard::{FinishOutcome, PlanUpload, PlanWork, ShardPlan, WorkOutcome};
use crate::tree::copy::TreeCopy;
use crate::tree::sync::{SyncCopy, SyncDown, SyncOutcome, SyncUp};
use crate::tree::{TreeDownload, TreeUpload};
use crate::upload::{Source, Upload};

/// What an interrupted upload or copy needs again to resume: its secrets, which no journal
/// holds.
#[derive(Debug, Clone, Default)]
pub struct ResumeKeys {
    /// The destination's SSE-C key, if the upload began with one.
    pub sse_customer_key: Option<SseCustomerKey>,
    /// A copy's source SSE-C key, if the source has one.
    pub source_sse_customer_key: Option<SseCustomerKey>,
}

/// Runs transfers through one client under shared budgets (see the module's doc). Cheap to
/// clone; clones share everything.
pub struct Manager<C> {
    pub(crate) shared: Arc<Shared<C>>,
    pub(crate) cancel: CancellationToken,
}

impl<C> Clone for Manager<C> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            cancel: self.cancel.clone(),
        }
    }
}

impl<C> std::fmt::Debug for Manager<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("endpoint", &self.shared.endpoint)
            .finish_non_exhaustive()
    }
}

impl<C: ObjectClient> Manager<C> {
    /// A manager of transfers through `client`.
    pub fn new(client: Arc<C>, config: ManagerConfig) -> Result<Self, Error> {
        config.check()?;
        let endpoint = client.endpoint();
        let read_timeout = client.read_timeout();
        Ok(Self {
            shared: Arc::new(Shared {
                client,
                endpoint,
                retry: config.retry,
                quota: Arc::new(RetryQuota::default()),
                jitter: config.jitter,
                requests: Requests::new(config.max_requests),
                turns: Turns::new(2 * config.max_requests as usize),
                memory: Memory::new(config.memory_limit),
                // Always there, so that a limit can be set later (see `set_bandwidth`).
                bandwidth: Some(Arc::new(Bandwidth::new(config.bandwidth, read_timeout))),
                allowance: Arc::new(Allowance::new(config.transfer_allowance)),
                parts_per_object: config.parts_per_object,
                journal: config.journal,
                progress: Arc::new(Progress::default()),
                together: Arc::default(),
            }),
            cancel: CancellationToken::new(),
        })
    }

    /// Sets the bandwidth limit of every transfer of this manager and its siblings from now
    /// on (at least 1 KiB per second, both directions together), or lifts it (`None`): a
    /// schedule (ferry's `--bwlimit "08:00,2MiB 19:00,off"`), or a backup tool's own throttle
    /// while its user works. Bytes sent or fetched after the change pass at the new rate (a
    /// body being sent takes it at its next chunk); parts started under another limit keep the
    /// chunk size and the number at once it gave them.
    pub fn set_bandwidth(&self, bytes_per_second: Option<u64>) -> Result<(), Error> {
        check_bandwidth(bytes_per_second)?;
        if let Some(bw) = &self.shared.bandwidth {
            bw.set(bytes_per_second);
        }
        Ok(())
    }

    /// Sets how many bytes the transfers of this manager and its siblings may still move, or
    /// lifts the allowance (`None`), as rclone's `--cutoff-mode cautious`: an object of a tree
    /// takes its size from what is left before it starts, and the first that does not fit
    /// is not started. The tree then starts nothing more and ends interrupted, as a drained
    /// one does, its objects in flight finished, and reports
    /// [`Event::OverAllowance`](crate::Event::OverAllowance) for that object. One object
    /// moved alone (an upload, a download, a copy) takes what it still has to move once it
    /// knows it (its size; resumed, less what the server or its partial file holds), before
    /// its first byte moves, and when that does not fit, fails with
    /// [`ErrorKind::OverAllowance`](crate::ErrorKind::OverAllowance), nothing created and
    /// what it would resume kept as it was. A stream of unknown length is held to it only
    /// when it fits one request.
    pub fn set_transfer_allowance(&self, bytes: Option<u64>) {
        self.shared.allowance.set(bytes);
    }

    /// What is left of the transfer allowance, if there is one.
    pub fn transfer_allowance(&self) -> Option<u64> {
        self.shared.allowance.left()
    }

    /// The bandwidth limit now, in bytes per second, if there is one.
    pub fn bandwidth(&self) -> Option<u64> {
        self.shared.bandwidth.as_ref().and_then(|bw| bw.limit())
    }

    /// A manager of transfers through another client (another server, other credentials)
    /// that shares this one's budgets, counters and cancel; its retry quota is its own, as
    /// the client is.
    pub fn sibling<D: ObjectClient>(&self, client: Arc<D>) -> Manager<D> {
        let s = &self.shared;
        Manager {
            shared: Arc::new(Shared {
                endpoint: client.endpoint(),
                client,
                retry: s.retry,
                quota: Arc::new(RetryQuota::default()),
                jitter: s.jitter.clone(),
                requests: s.requests.clone(),
                turns: s.turns.clone(),
                memory: s.memory.clone(),
                bandwidth: s.bandwidth.clone(),
                allowance: s.allowance.clone(),
                parts_per_object: s.parts_per_object,
                journal: s.journal.clone(),
                progress: s.progress.clone(),
                together: s.together.clone(),
            }),
            cancel: self.cancel.clone(),
        }
    }

    /// The client.
    pub fn client(&self) -> &Arc<C> {
        &self.shared.client
    }

    /// The retry quota this manager's transfers share.
    pub fn quota(&self) -> Arc<RetryQuota> {
        self.shared.quota.clone()
    }

    /// Counters of every transfer in flight and done, together.
    pub fn progress(&self) -> Arc<Progress> {
        self.shared.progress.clone()
    }

    /// Cancels every transfer of this manager (and its siblings).
    pub fn cancel_all(&self) {
        self.cancel.cancel();
    }

    /// A context for one transfer or request: its own counters, counting into the
    /// manager's, and a cancel token that [`cancel_all`](Self::cancel_all) cancels; no
    /// events yet.
    fn context(&self) -> Context<C> {
        Context {
            shared: self.shared.clone(),
            events: None,
            progress: Arc::new(Progress::child_of(&self.shared.progress)),
            cancel: self.cancel.child_token(),
            drain: CancellationToken::new(),
            folders: None,
            slots: None,
            allowance: Some(self.shared.allowance.clone()),
        }
    }

    /// Starts `run` as a transfer of `kind`; `done` makes its last event of its outcome.
    fn spawn<T, F>(
        &self,
        kind: Kind,
        run: impl FnOnce(Context<C>) -> F + Send + 'static,
        done: fn(&T) -> Option<Event>,
    ) -> Handle<T>
    where
        T: Send + 'static,
        F: std::future::Future<Output = Result<T, Error>> + Send + 'static,
    {
        let events = Events::new(match kind {
            Kind::Tree => TREE_EVENTS,
            Kind::Object | Kind::Fed => ONE_OBJECT_EVENTS,
        });
        let mut ctx = self.context();
        let (progress, stops) = (
            ctx.progress.clone(),
            (ctx.cancel.clone(), ctx.drain.clone()),
        );
        let sender = events.clone();
        let turns = matches!(kind, Kind::Object).then(|| self.shared.turns.clone());
        let transfer = async move {
            let _turn = match turns {
                // Drained before its turn came: it never starts.
                Some(turns) => tokio::select! {
                    biased;
                    () = ctx.cancel.cancelled() => return Err(Error::cancelled("transfer")),
                    () = ctx.drain.cancelled() => return Err(Error::cancelled("transfer")),
                    turn = turns.take() => Some(turn),
                },
                None => None,
            };
            ctx.events = Some(sender.reporter());
            // A tree counts its own objects; a transfer of one object is one.
            let object = (!matches!(kind, Kind::Tree)).then(|| ctx.progress.clone());
            if let Some(p) = &object {
                p.object_started();
            }
            // Boxed: the task holds only a pointer until the transfer's turn comes.
            let result = Box::pin(run(ctx)).await;
            if let Some(p) = object {
                p.object_ended();
            }
            result
        };
        Handle::spawn(events, progress, stops, transfer, done)
    }

    /// As [`spawn`](Self::spawn), for a transfer that also reads from `source`'s server: with
    /// `source`'s client and budgets, under the transfer's cancellation.
    fn spawn_from<D: ObjectClient, T, F>(
        &self,
        kind: Kind,
        source: &Manager<D>,
        run: impl FnOnce(Context<C>, Context<D>) -> F + Send + 'static,
        done: fn(&T) -> Option<Event>,
    ) -> Handle<T>
    where
        T: Send + 'static,
        F: std::future::Future<Output = Result<T, Error>> + Send + 'static,
    {
        let source = source.clone();
        self.spawn(
            kind,
            move |ctx| {
                let read = Self::reader(&source, &ctx);
                run(ctx, read)
            },
            done,
        )
    }

    /// Starts an upload. Must be called within a tokio runtime.
    pub fn upload(&self, upload: Upload) -> Handle<UploadOutcome> {
        let kind = match upload.source {
            Source::Reader { .. } => Kind::Fed,
            _ => Kind::Object,
        };
        self.spawn(kind, |ctx| crate::upload::run(ctx, upload), finished)
    }

    /// Starts a download. Must be called within a tokio runtime.
    pub fn download(&self, download: Download) -> Handle<DownloadOutcome> {
        let kind = match download.target {
            Target::Writer(_) => Kind::Fed,
            _ => Kind::Object,
        };
        self.spawn(
            kind,
            |ctx| crate::download::run(ctx, download),
            |o| Some(Event::Downloaded(Box::new(o.clone()))),
        )
    }

    /// Starts a copy on the server (no bytes through ferry). Must be called within a tokio
    /// runtime.
    pub fn copy(&self, copy: Copy) -> Handle<UploadOutcome> {
        self.spawn(Kind::Object, |ctx| crate::copy::run(ctx, copy), finished)
    }

    /// Starts a copy from an object that `source` reads (another server, other credentials)
    /// to this manager's server, through ferry: the source is downloaded in ranges into the
    /// parts of an upload, in bounded memory. With a journal store, and a source whose
    /// full-object checksum has the upload's algorithm, it is journaled and the same copy
    /// again resumes it (see `crosscopy`); otherwise a failure aborts it. Must be called within
    /// a tokio runtime.
    pub fn copy_from<D: ObjectClient>(
        &self,
        source: &Manager<D>,
        copy: Copy,
    ) -> Handle<UploadOutcome> {
        self.spawn_from(
            Kind::Object,
            source,
            |ctx, read| crate::crosscopy::run(ctx, read, copy),
            finished,
        )
    }

    /// A context in which a transfer of this manager reads from `source`'s server: its
    /// budgets, under `ctx`'s cancellation, but for the bandwidth limit. A copy's bytes
    /// count against that once, as its upload sends them: paced on both sides, a copy under
    /// a 16 MiB/s limit ran at 8.
    fn reader<D: ObjectClient>(source: &Manager<D>, ctx: &Context<C>) -> Context<D> {
        let mut read = source.quiet_context(&ctx.cancel);
        read.shared = Arc::new(Shared {
            bandwidth: None,
            ..(*source.shared).clone()
        });
        read
    }

    /// A context through this manager's client and budgets that reports nothing (no events,
    /// counters of its own), cancelled with `cancel`: for requests that are not a transfer of
    /// their own (a listing, an abort) or that another transfer makes (a copy's reads).
    pub(crate) fn quiet_context(&self, cancel: &CancellationToken) -> Context<C> {
        Context {
            shared: self.shared.clone(),
            events: None,
            progress: Arc::new(Progress::default()),
            cancel: cancel.child_token(),
            drain: CancellationToken::new(),
            folders: None,
            slots: None,
            allowance: None,
        }
    }

    /// Starts copying a prefix to a prefix on this manager's server (server-side copies).
    /// Must be called within a tokio runtime.
    pub fn copy_tree(&self, tree: TreeCopy) -> Handle<TreeOutcome> {
        self.spawn(
            Kind::Tree,
            |ctx| crate::tree::copy::copy::<C, C>(ctx, None, tree),
            |_| None,
        )
    }

    /// Starts copying a prefix that `source` reads (another server, other credentials) to a
    /// prefix on this manager's server, each object's bytes through ferry (as
    /// [`copy_from`](Self::copy_from) copies one). Must be called within a tokio runtime.
    pub fn copy_tree_from<D: ObjectClient>(
        &self,
        source: &Manager<D>,
        tree: TreeCopy,
    ) -> Handle<TreeOutcome> {
        self.spawn_from(
            Kind::Tree,
            source,
            |ctx, read| crate::tree::copy::copy(ctx, Some(read), tree),
            |_| None,
        )
    }

    /// Starts syncing a prefix to a prefix on this manager's server: only what differs is
    /// copied. Must be called within a tokio runtime.
    pub fn sync_copy(&self, sync: SyncCopy) -> Handle<SyncOutcome> {
        self.spawn(
            Kind::Tree,
            |ctx| crate::tree::sync::copy::<C, C>(ctx, None, sync),
            |_| None,
        )
    }

    /// Starts syncing a prefix that `source` reads (another server, other credentials) to a
    /// prefix on this manager's server: only what differs is streamed through ferry. Must be
    /// called within a tokio runtime.
    pub fn sync_copy_from<D: ObjectClient>(
        &self,
        source: &Manager<D>,
        sync: SyncCopy,
    ) -> Handle<SyncOutcome> {
        self.spawn_from(
            Kind::Tree,
            source,
            |ctx, read| crate::tree::sync::copy(ctx, Some(read), sync),
            |_| None,
        )
    }

    /// Plans an upload of one file by several workers: creates the multipart upload and
    /// writes the plan beside the object (see [`ShardPlan`]). Must be called within a tokio
    /// runtime.
    pub fn plan_upload(&self, plan: PlanUpload) -> Handle<ShardPlan> {
        self.spawn(
            Kind::Object,
            |ctx| crate::shard::create(ctx, plan),
            |_| None,
        )
    }

    /// Runs one worker of a plan: sends its parts the server does not already hold. Must be
    /// called within a tokio runtime.
    pub fn work(&self, work: PlanWork) -> Handle<WorkOutcome> {
        self.spawn(Kind::Object, |ctx| crate::shard::work(ctx, work), |_| None)
    }

    /// Finishes the plan at `bucket`/`key`: checks every part, completes the upload with the
    /// combined CRC64NVME, verifies it, deletes the plan. Every request carries `request`'s
    /// bucket terms (expected owner, requester pays). Must be called within a tokio runtime.
    pub fn finish(
        &self,
        bucket: &str,
        key: &str,
        request: &ferry_s3::RequestOptions,
    ) -> Handle<FinishOutcome> {
        let (bucket, key, request) = (bucket.to_string(), key.to_string(), request.clone());
        self.spawn(
            Kind::Object,
            move |ctx| async move { crate::shard::finish(ctx, &bucket, &key, &request).await },
            |o: &FinishOutcome| Some(Event::Finished(Box::new(o.upload.clone()))),
        )
    }

    /// Starts uploading a folder. Must be called within a tokio runtime.
    pub fn upload_tree(&self, tree: TreeUpload) -> Handle<TreeOutcome> {
        self.spawn(Kind::Tree, |ctx| crate::tree::upload(ctx, tree), |_| None)
    }

    /// Starts syncing a folder to a prefix: only what differs moves. Must be called within a
    /// tokio runtime.
    pub fn sync_up(&self, sync: SyncUp) -> Handle<SyncOutcome> {
        self.spawn(Kind::Tree, |ctx| crate::tree::sync::up(ctx, sync), |_| None)
    }

    /// Starts syncing a prefix to a folder: only what differs moves. Must be called within a
    /// tokio runtime.
    pub fn sync_down(&self, sync: SyncDown) -> Handle<SyncOutcome> {
        self.spawn(
            Kind::Tree,
            |ctx| crate::tree::sync::down(ctx, sync),
            |_| None,
        )
    }

    /// Starts downloading a prefix. Must be called within a tokio runtime.
    pub fn download_tree(&self, tree: TreeDownload) -> Handle<TreeOutcome> {
        self.spawn(Kind::Tree, |ctx| crate::tree::download(ctx, tree), |_| None)
    }

    /// Resumes the upload or copy a journal describes: the journal names the source (a file,
    /// or an object on this server) and the destination; `keys` gives the secrets again. The
    /// upload goes on with the journal's part size and checksum, and its object gets the
    /// settings and lock the upload was created with; a move's source is deleted once it is
    /// done, as the move would have. A copy from another server
    /// resumes with [`Manager::resume_from`]. Needs [`ManagerConfig::journal`]. Must be called
    /// within a tokio runtime.
    pub fn resume(
        &self,
        journal_id: &str,
        keys: ResumeKeys,
    ) -> Result<Handle<UploadOutcome>, Error> {
        let (journal, settings) = self.resumable(journal_id)?;
        Ok(match journal.source.kind {
            // Its source's server and credentials are the caller's, not the journal's.
            SourceKind::Remote => {
                return Err(Error::invalid(format!(
                    "journal {journal_id} is a copy from another server ({}): resume it with \
                     Manager::resume_from, given a manager of that server",
                    journal.source.path.display()
                )));
            }
            SourceKind::File => {
                // Refused as a changed file is, the upload and its journal kept: the file may
                // come back (a disk mounted again), or the caller starts over or gives it up.
                if let Err(e) = std::fs::metadata(&journal.source.path) {
                    return Err(Error::mismatch(
                        Mismatch::Source("presence".into()),
                        format!("{} cannot be opened: {e}", journal.source.path.display()),
                    )
                    .kept_for_resume(journal_id));
                }
                let options = resumed_options(&journal, keys.sse_customer_key);
                self.upload(Upload {
                    source: Source::File(journal.source.path),
                    bucket: journal.destination.bucket,
                    key: journal.destination.key,
                    options,
                    settings,
                })
            }
            SourceKind::Object => {
                let url = journal.source.path.to_string_lossy().to_string();
                let (from_bucket, from_key) = url
                    .strip_prefix("s3://")
                    .and_then(|r| r.split_once('/'))
                    .ok_or_else(|| {
                        Error::invalid(format!(
                            "journal {journal_id} names a source {url} that is not s3://bucket/key"
                        ))
                    })?;
                self.copy(resumed_copy(
                    journal,
                    (from_bucket, from_key),
                    keys,
                    settings,
                ))
            }
        })
    }

    /// Resumes a copy from another server that a journal describes, reading through `source`
    /// (a manager of that server, as [`Manager::copy_from`] was given): the journal names the
    /// object there (its URL under `source`'s endpoint) and the destination; `keys` gives the
    /// secrets again. Needs [`ManagerConfig::journal`]. Must be called within a tokio runtime.
    pub fn resume_from<D: ObjectClient>(
        &self,
        source: &Manager<D>,
        journal_id: &str,
        keys: ResumeKeys,
    ) -> Result<Handle<UploadOutcome>, Error> {
        let (journal, settings) = self.resumable(journal_id)?;
        let url = journal.source.path.to_string_lossy().to_string();
        if journal.source.kind != SourceKind::Remote {
            return Err(Error::invalid(format!(
                "journal {journal_id} is not a copy from another server ({url}): resume it with \
                 Manager::resume"
            )));
        }
        let endpoint = source.shared.endpoint.trim_end_matches('/');
        let (from_bucket, from_key) = url
            .strip_prefix(endpoint)
            .and_then(|r| r.strip_prefix('/'))
            .and_then(|r| r.split_once('/'))
            .ok_or_else(|| {
                Error::invalid(format!(
                    "journal {journal_id} copies {url}, which is not on {endpoint}: resume it \
                     with a manager of the server it names"
                ))
            })?;
        let copy = resumed_copy(journal, (from_bucket, from_key), keys, settings);
        Ok(self.copy_from(source, copy))
    }

    /// The journal `journal_id` of this manager's server, and the settings that go on with
    /// the upload it began (its part size and checksum).
    fn resumable(&self, journal_id: &str) -> Result<(Journal, UploadSettings), Error> {
        let store = self.shared.journal.as_ref().ok_or_else(|| {
            Error::invalid("resuming needs a journal store (ManagerConfig::journal)")
        })?;
        let journal = store
            .peek(journal_id)
            .map_err(journal_error)?
            .ok_or_else(|| Error::invalid(format!("no journal {journal_id}")))?;
        if journal.destination.endpoint != self.shared.endpoint {
            return Err(Error::invalid(format!(
                "journal {journal_id} is for {}, not {}",
                journal.destination.endpoint, self.shared.endpoint
            )));
        }
        let mut settings = UploadSettings::default();
        if let Some(u) = &journal.upload {
            settings.plan.part_size = Some(u.part_size);
            settings.checksum = crate::multipart::mode_from_record(u)?;
            settings.remove_source = u.remove_source;
        }
        Ok((journal, settings))
    }
}

/// What the requests of an upload `journal` began carry again: the SSE-C key (given again:
/// journals hold no secret), and the expected owner and payer's agreement it recorded. What
/// the object carries was given to the Create and stays with the upload: its settings, as the
/// journal recorded them, are asked again (its lock, when none is asked, is the upload's).
fn resumed_options(
    journal: &Journal,
    sse_customer_key: Option<ferry_s3::SseCustomerKey>,
) -> ferry_s3::ObjectOptions {
    let mut options = ferry_s3::ObjectOptions::default();
    options.request.sse_customer_key = sse_customer_key;
    if let Some(u) = &journal.upload {
        options.request.expected_bucket_owner = u.expected_bucket_owner.clone();
        options.request.request_payer = u.request_payer;
        if let Some(object) = &u.object {
            options = object.onto(options);
        }
    }
    options
}

/// The copy of `from_bucket`/`from_key` that goes on with the upload `journal` began.
fn resumed_copy(
    journal: Journal,
    (from_bucket, from_key): (&str, &str),
    keys: ResumeKeys,
    settings: UploadSettings,
) -> Copy {
    let options = resumed_options(&journal, keys.sse_customer_key);
    // The settings the journal recorded (the source's, or the caller's) are the copy's own:
    // the source's are not read again.
    let recorded = journal.upload.as_ref().is_some_and(|u| u.object.is_some());
    let directive = if recorded {
        Directive::Replace
    } else {
        Directive::Copy
    };
    Copy {
        from: ObjectSource {
            bucket: from_bucket.into(),
            key: from_key.into(),
            version_id: journal.source.version_id,
            as_of: None,
            sse_customer_key: keys.source_sse_customer_key,
            metadata_directive: directive,
            tagging_directive: directive,
            if_match: None,
        },
        bucket: journal.destination.bucket,
        key: journal.destination.key,
        options,
        settings,
    }
}

/// What a transfer is: how many events it buffers, and whether it waits for its turn.
#[derive(Clone, Copy)]
enum Kind {
    /// One object, from and to what ferry reads and writes itself: waits for its turn
    /// among the manager's running transfers (see [`Turns`]), and builds its state only then.
    /// A named pipe given as a file path takes its turn as a file does.
    Object,
    /// One object fed or drained by its caller (a stream source, a writer target): starts at
    /// once, as its caller may be waiting for another transfer before it feeds this one.
    Fed,
    /// A tree, which bounds its own objects: starts at once.
    Tree,
}

fn finished(o: &UploadOutcome) -> Option<Event> {
    Some(Event::Finished(Box::new(o.clone())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_fit_the_open_file_limit_they_are_lowered_to() {
        for limit in [0, 10, 67, 256, 1024, 20_000] {
            let requests = requests_within(limit);
            assert!(requests >= 1);
            let config = ManagerConfig {
                max_requests: requests,
                ..Default::default()
            };
            if limit >= 67 {
                assert!(
                    config.open_files() <= limit,
                    "{requests} requests in {limit}"
                );
                let one_more = ManagerConfig {
                    max_requests: requests + 1,
                    ..Default::default()
                };
                assert!(
                    one_more.open_files() > limit,
                    "{limit}: {requests} is not the most"
                );
            }
        }
        // macOS's default soft limit leaves 64 requests in flight, not the default 128.
        assert_eq!(requests_within(256), 64);
    }

    #[test]
    fn a_limit_high_enough_is_left_alone() {
        // Within this process's limit (any test runner's allows 67 open files): nothing is
        // lowered, nothing is raised.
        let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
        let mut config = ManagerConfig {
            max_requests: 1,
            parts_per_object: 1,
            ..Default::default()
        };
        let fit = config.fit_open_files();
        assert_eq!(fit.lowered_from, None);
        assert_eq!((config.max_requests, config.parts_per_object), (1, 1));
        assert_eq!(Some(fit.limit), soft.or(Some(u64::MAX)));
    }
}
