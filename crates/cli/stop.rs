//! How a run stops before its end: an interrupt (Ctrl-C, SIGTERM, SIGHUP) cancels it, a
//! second one quits; a limit (`--max-duration`, `--max-transfer`) drains it, and its exit
//! code says which.

use std::sync::Arc;
use std::time::Duration;

use ferry_engine::Progress;

/// A limit that stopped a run before its end, as an interrupt does, but gently: what was in
/// flight finished.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Limit {
    /// `--max-duration` had passed.
    Duration(Duration),
    /// `--max-transfer` bytes had moved.
    Transfer(u64),
    /// The next object would have taken the run past `--max-transfer` (`--cutoff-mode
    /// cautious`).
    Allowance(u64),
}

impl Limit {
    /// The exit code: rclone's for each.
    pub(crate) fn code(self) -> u8 {
        match self {
            Limit::Duration(_) => crate::codes::TIME_UP,
            Limit::Transfer(_) | Limit::Allowance(_) => crate::codes::TRANSFER_UP,
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limit::Duration(d) => write!(
                f,
                "the --max-duration of {} has passed",
                humantime::format_duration(*d)
            ),
            Limit::Transfer(n) => write!(
                f,
                "the --max-transfer of {} has moved",
                indicatif::BinaryBytes(*n)
            ),
            Limit::Allowance(n) => write!(
                f,
                "the next object would pass the --max-transfer of {}",
                indicatif::BinaryBytes(*n)
            ),
        }
    }
}

/// What stops a run before its end, gently: `--max-duration`, `--max-transfer`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Limits {
    /// How long it may go on.
    pub(crate) duration: Option<Duration>,
    /// How many bytes it may move (those an earlier run moved not counted).
    pub(crate) transfer: Option<u64>,
    /// How it stops at them.
    pub(crate) cutoff: Cutoff,
}

/// How a run stops at its limits (`--cutoff-mode`, rclone's flag).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Cutoff {
    /// Nothing more starts; what is in flight finishes.
    #[default]
    Soft,
    /// What is in flight stops too.
    Hard,
    /// No object starts that would take the run past `--max-transfer`.
    Cautious,
}

/// `--max-transfer` under `--cutoff-mode cautious`: the manager's transfer allowance, which
/// an object that does not fit stops the run at.
static ALLOWANCE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

/// Notes the allowance the manager was given.
pub(crate) fn allowance_given(bytes: u64) {
    let _ = ALLOWANCE.set(bytes);
}

/// An object moved alone did not fit in what was left of the allowance: the run stopped at
/// it (a tree's objects report so as they meet it, see [`crate::output`]).
pub(crate) fn over_allowance() {
    if let Some(&max) = ALLOWANCE.get() {
        stopped_by_now(Limit::Allowance(max));
    }
}

/// The limit that stopped the run, once one has.
static STOPPED_BY: std::sync::OnceLock<Limit> = std::sync::OnceLock::new();

/// The limit that stopped the run, if one did: its interruption exits with the limit's code,
/// said so.
pub(crate) fn stopped_by() -> Option<Limit> {
    STOPPED_BY.get().copied()
}

/// Notes that `limit` stopped the run (the first one that did).
pub(crate) fn stopped_by_now(limit: Limit) {
    let _ = STOPPED_BY.set(limit);
}

/// The limits a run stops at: when (with the `--max-duration` that set it), and how many
/// bytes it may move.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Watch {
    deadline: Option<(tokio::time::Instant, Duration)>,
    max_transfer: Option<u64>,
    /// `--cutoff-mode hard`: a limit cancels what is in flight rather than let it finish.
    hard: bool,
}

impl Watch {
    /// The limits the flags set, the duration counted from now.
    pub(crate) fn from_now(limits: Limits) -> Self {
        Self {
            deadline: limits
                .duration
                .map(|d| (tokio::time::Instant::now() + d, d)),
            max_transfer: limits.transfer,
            hard: limits.cutoff == Cutoff::Hard,
        }
    }

    /// The `--max-transfer`, if any.
    pub(crate) fn max_transfer(&self) -> Option<u64> {
        self.max_transfer
    }

    /// Whether a limit stops what is in flight too (`--cutoff-mode hard`).
    pub(crate) fn hard(&self) -> bool {
        self.hard
    }

    /// Waits until a limit is reached: the deadline, or the bytes `progress` counts as moved
    /// in this run (looked at ten times a second); forever with neither.
    pub(crate) async fn reached(self, progress: Arc<Progress>) -> Limit {
        let time_up = async move {
            match self.deadline {
                Some((at, span)) => {
                    tokio::time::sleep_until(at).await;
                    Limit::Duration(span)
                }
                None => std::future::pending().await,
            }
        };
        let moved = async move {
            let Some(max) = self.max_transfer else {
                return std::future::pending().await;
            };
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                let s = progress.snapshot();
                if s.bytes.saturating_sub(s.reused) >= max {
                    return Limit::Transfer(max);
                }
            }
        };
        tokio::select! {
            l = time_up => l,
            l = moved => l,
        }
    }
}

/// How long winding down after an interrupt goes on before ferry says that a second one
/// quits now.
const WIND_DOWN_PATIENCE: Duration = Duration::from_secs(2);

/// Cancels the transfer and waits for it to wind down. That can wait on the server (a
/// stream's upload aborted, retried within the read timeout): a second interrupt does not
/// wait (`None`), as said once the wait is long enough to wonder about.
pub(crate) async fn wound_down<R>(
    canceller: &ferry_engine::Canceller,
    wait: std::pin::Pin<&mut impl std::future::Future<Output = R>>,
) -> Option<R> {
    canceller.cancel();
    let patience = async {
        tokio::time::sleep(WIND_DOWN_PATIENCE).await;
        tracing::warn!(
            "stopping: waiting for the transfer to wind down; interrupt again to quit now"
        );
        std::future::pending::<std::convert::Infallible>().await
    };
    tokio::select! {
        r = wait => Some(r),
        _ = interrupt() => None,
        never = patience => match never {},
    }
}

/// Ctrl-C, SIGTERM, or SIGHUP (the terminal closed, the ssh session gone): each stops the
/// transfer as an interrupt, keeping what can resume and aborting what cannot, where the
/// default action of SIGHUP would leave a stream's multipart upload behind. A SIGHUP that
/// was ignored when ferry started (`nohup ferry …`) stays ignored.
pub(crate) async fn interrupt() {
    use tokio::signal::unix::{SignalKind, signal};
    static HANGUP_IGNORED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    // Read before ferry's own handler replaces the disposition it was started with.
    let hangup_ignored = *HANGUP_IGNORED.get_or_init(hangup_ignored);
    // A handler is installed only where wanted: installing one undoes an ignored SIGHUP.
    let on = |kind: SignalKind, wanted: bool| async move {
        match wanted.then(|| signal(kind)) {
            Some(Ok(mut s)) => {
                s.recv().await;
            }
            _ => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = on(SignalKind::terminate(), true) => {}
        () = on(SignalKind::hangup(), !hangup_ignored) => {}
    }
}

/// Whether SIGHUP is ignored (as `nohup` leaves it for the program it starts): bit 0 of the
/// `SigIgn` mask in `/proc/self/status`. Without `/proc`, not.
fn hangup_ignored() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("SigIgn:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .is_some_and(|mask| mask & 1 != 0)
    })
}
