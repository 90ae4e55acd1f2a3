//! A manager's budgets and settings ([`ManagerConfig`]): checked, and fitted to the
//! process's limit on open files.

use std::sync::Arc;

use crate::error::Error;
use crate::journal::JournalStore;
use crate::retry::{Jitter, RandomJitter, RetryPolicy};

const MIB: u64 = 1024 * 1024;

/// The budgets and settings a manager's transfers share. Build with `Default` and set what
/// differs.
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    /// Requests in flight, every transfer together (each part, range, listing page and the
    /// requests around them takes one while it runs). Small objects go this many at a time;
    /// it is lowered while the server throttles. By default, 128. Twice this many transfers
    /// of one object run at once; the others wait for their turn in the order they were
    /// submitted, holding little (a program may submit 100,000 at once), except those a
    /// caller feeds or drains (a stream source, a writer target), which start at once.
    pub max_requests: u32,
    /// Parts (or ranges) of one object in flight at most. By default, 8.
    pub parts_per_object: u32,
    /// Memory for part and range buffers, every transfer together: a part or range takes
    /// what it holds before it starts. By default, 64 MiB.
    pub memory_limit: u64,
    /// Bytes per second, uploads and downloads together, shared fairly; a copy between
    /// servers counts its bytes once, as it sends them. By default, none.
    pub bandwidth: Option<u64>,
    /// Bytes the transfers may move, if bounded (see
    /// [`Manager::set_transfer_allowance`](crate::Manager::set_transfer_allowance)).
    pub transfer_allowance: Option<u64>,
    /// Retries of every request. To honour the attempts the AWS settings configure
    /// (`AWS_MAX_ATTEMPTS`, a profile's `max_attempts`), set `retry.max_attempts` from
    /// `ferry_s3::ClientConfig::max_attempts` when it is `Some`, as the CLI does.
    pub retry: RetryPolicy,
    /// Where uploads and copies keep their journals, so an interrupted one resumes. By
    /// default, none: nothing is journaled.
    pub journal: Option<Arc<dyn JournalStore>>,
    /// The randomness of retry backoff (tests make it deterministic). By default, random.
    pub jitter: Arc<dyn Jitter>,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        Self {
            max_requests: 128,
            parts_per_object: 8,
            memory_limit: 64 * MIB,
            bandwidth: None,
            transfer_allowance: None,
            retry: RetryPolicy::default(),
            journal: None,
            jitter: Arc::new(RandomJitter),
        }
    }
}

impl ManagerConfig {
    /// Checks the settings.
    pub fn check(&self) -> Result<(), Error> {
        if self.max_requests == 0 || self.parts_per_object == 0 {
            return Err(Error::invalid(
                "requests in flight and parts per object must be at least 1",
            ));
        }
        if self.memory_limit < 8 * MIB {
            return Err(Error::invalid("the memory limit must be at least 8 MiB"));
        }
        check_bandwidth(self.bandwidth)
    }

    /// Open files (connections and files together) these transfers may hold at once: a
    /// request in flight holds its connection and, for a file, the file it reads or writes,
    /// and small files wait open for their group's flush. Measured: `cp -r` of 2,000 small
    /// files peaked at 139, 271 and 395 open at 64, 128 and 256 requests; this allows 3 a
    /// request and 64 more.
    pub fn open_files(&self) -> u64 {
        3 * u64::from(self.max_requests) + 64
    }

    /// Makes room for [`open_files`](Self::open_files) under the process's limit on open
    /// files: raises its soft limit toward its hard limit (Linux often starts programs at
    /// 1,024, macOS at 256; Go programs, s5cmd among them, raise theirs so at start), and
    /// where even the hard limit is too low, lowers `max_requests` (and `parts_per_object`)
    /// to fit, rather than let transfers fail with "Too many open files". The limit is the
    /// process's: a program calls this once, at its start, before it opens many files.
    pub fn fit_open_files(&mut self) -> OpenFiles {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let was = getrlimit(Resource::Nofile);
        let (soft, hard) = (
            was.current.unwrap_or(u64::MAX),
            was.maximum.unwrap_or(u64::MAX),
        );
        let want = self.open_files();
        let limit = if soft < want {
            let raised = want.min(hard);
            let new = Rlimit {
                current: Some(raised),
                maximum: was.maximum,
            };
            match setrlimit(Resource::Nofile, new) {
                Ok(()) => raised,
                Err(_) => soft,
            }
        } else {
            soft
        };
        let asked = self.max_requests;
        self.max_requests = requests_within(limit).min(asked);
        self.parts_per_object = self.parts_per_object.min(self.max_requests);
        OpenFiles {
            limit,
            lowered_from: (self.max_requests < asked).then_some(asked),
        }
    }
}

/// The most requests in flight whose [`ManagerConfig::open_files`] fit `limit` open files
/// (at least 1).
pub(super) fn requests_within(limit: u64) -> u32 {
    u32::try_from(limit.saturating_sub(64) / 3)
        .unwrap_or(u32::MAX)
        .max(1)
}

/// What [`ManagerConfig::fit_open_files`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    /// The process's soft limit on open files, once raised as far as allowed.
    pub limit: u64,
    /// The requests in flight asked for, when the limit stayed too low for them and
    /// `max_requests` was lowered to fit.
    pub lowered_from: Option<u32>,
}

/// A bandwidth limit is at least 1 KiB per second.
pub(super) fn check_bandwidth(bytes_per_second: Option<u64>) -> Result<(), Error> {
    if bytes_per_second.is_some_and(|b| b < 1024) {
        return Err(Error::invalid(
            "the bandwidth limit must be at least 1 KiB per second",
        ));
    }
    Ok(())
}
