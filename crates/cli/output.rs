//! What the user sees while a transfer runs: an indicatif bar on a terminal, a plain line every
//! few seconds otherwise, or one versioned JSON event per line with `--json`; for a tree, a
//! line per object as it ends. It follows the transfer until it ends or `stop` stops it (an
//! interrupt, a limit).

use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_engine::{Event, Handle, Progress};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::{broadcast, oneshot};

use crate::report::Found;
use crate::report::{downloaded, event_json, json_line, uploaded};
use crate::stop::{Limit, interrupt, wound_down};

/// How often a non-terminal progress line is printed.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// How many of a tree's failures its last message names again (each was reported as it
/// failed).
const LISTED_FAILURES: usize = 20;

/// The first few of the `count` failures `names` gives, for a last message, and a line
/// saying how many more (with `more_said` after it) when there are.
pub(crate) fn first_failures(
    names: impl Iterator<Item = String>,
    count: usize,
    more_said: &str,
) -> Vec<String> {
    let mut listed: Vec<String> = names.take(LISTED_FAILURES).collect();
    if count > LISTED_FAILURES {
        listed.push(format!("and {} more{more_said}", count - LISTED_FAILURES));
    }
    listed
}

/// A run's summary on stdout: `fields` as a `summary` event under `--json`, else `line`
/// unless `quiet`.
pub(crate) fn summarize(
    json: bool,
    quiet: bool,
    fields: serde_json::Value,
    line: impl FnOnce() -> String,
) {
    if json {
        emit_event(&json_line("summary", fields), false);
    } else if !quiet {
        outln!("{}", line());
    }
}

/// `text` as it may reach a terminal: names come from the server and the disk, and a key
/// holding an escape sequence must not move the cursor or retitle the window. Control
/// characters are shown escaped (`\u{1b}`, `\t`), new lines too unless `lines` (a message of
/// several lines, whose line breaks are ferry's own).
pub(crate) fn shown(text: &str, lines: bool) -> std::borrow::Cow<'_, str> {
    let escaped = |c: char| c.is_control() && !(lines && c == '\n');
    if !text.chars().any(escaped) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if escaped(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.into()
}

pub(crate) use crate::report::{errln, outln};

/// Writes a failure or a warning on stderr, around `bar`, with its names [`shown`].
fn to_stderr(line: &str, bar: Option<&ProgressBar>) {
    let line = shown(line, false);
    match bar {
        Some(bar) => bar.suspend(|| errln!("{line}")),
        None => errln!("{line}"),
    }
}

/// Whether a `failed` event has been written.
static FAILURE_SENT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes one JSON event line, on stderr when `to_stderr` (the data goes to stdout), else on
/// stdout.
pub(crate) fn emit_event(v: &serde_json::Value, to_stderr: bool) {
    if v["event"] == "failed" {
        FAILURE_SENT.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let line = format!("{v}\n");
    if to_stderr {
        let _ = std::io::stderr().write_all(line.as_bytes());
    } else {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    }
}

/// Whether a `failed` event has been written (the transfer's own, at its end).
pub(crate) fn failure_sent() -> bool {
    FAILURE_SENT.load(std::sync::atomic::Ordering::Relaxed)
}

/// Seconds since `start`, for rates.
pub(crate) fn secs(start: Instant) -> f64 {
    start.elapsed().as_secs_f64().max(1e-3)
}

/// The bar on the terminal now, if any: log lines are written around it (see [`LogLine`]).
static SHOWN: std::sync::Mutex<Option<ProgressBar>> = std::sync::Mutex::new(None);

/// Stderr for log lines: with a bar shown, each line is written while the bar is cleared, so
/// it lands on a line of its own rather than after the bar's text.
pub(crate) struct LogLine;

impl std::io::Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // The log formats each event whole and writes it at once. (tracing-subscriber escapes
        // the control characters of the values it formats; its colours are its own.)
        let shown = SHOWN.lock().map(|b| b.clone()).unwrap_or_default();
        match shown {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Makes `bar` the one log lines are written around, or none.
fn log_around(bar: Option<&ProgressBar>) {
    if let Ok(mut shown) = SHOWN.lock() {
        *shown = bar.cloned();
    }
}

/// A progress bar on stderr, ticking on its own. Until the size is known (a transfer not yet
/// started, a stream of unknown length) it shows a spinner and the bytes so far; then
/// [`sized`] turns it into a bar as wide as the terminal leaves room for.
fn bar() -> ProgressBar {
    let bar = ProgressBar::no_length();
    bar.set_style(
        ProgressStyle::with_template("{spinner:.cyan} {bytes} {bytes_per_sec} {msg}")
            .expect("valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Turns `bar` into a bar of `total` bytes (the first time a size is known).
fn sized(bar: &ProgressBar, total: u64) {
    if bar.length().is_none() {
        bar.set_style(
            ProgressStyle::with_template(
                "{wide_bar:.cyan/blue} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
    }
    bar.set_length(total);
}

/// The output choices of one command.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    pub(crate) json: bool,
    pub(crate) quiet: bool,
    pub(crate) no_progress: bool,
    /// Data goes to stdout (a download to `-`): JSON and reports go to stderr.
    data_on_stdout: bool,
    /// Skips are shown too (`-v`): a sync's unchanged paths, a tree's objects left as they
    /// were.
    verbose: bool,
    /// `--no-clobber` was given: what a tree left as it was, it left as it exists.
    pub(crate) no_clobber: bool,
    /// A sync's: its deletions are JSON `sync` events, as its other decisions.
    sync: bool,
    /// A move's: a dry run says `move` for each object.
    moving: bool,
    /// A check's: each path of its sync's dry run is the same, differs, is missing or is only
    /// in the destination.
    check: bool,
    /// The limits the transfer stops at, gently (`--max-duration`, `--max-transfer`).
    limits: crate::stop::Watch,
}

/// What a display shows the events of.
#[derive(Debug, Clone)]
enum Shown {
    /// One transfer: its events as JSON; its parts on the bar.
    One,
    /// A tree in `bucket`: a line per object (or its JSON); objects on the bar.
    Tree { bucket: String },
}

impl Output {
    /// Output as `flags` ask (`verbose`: `-v` was given), with data on stdout or not.
    pub(crate) fn new(
        flags: &crate::args::OutputFlags,
        data_on_stdout: bool,
        verbose: bool,
    ) -> Self {
        Self {
            json: flags.json,
            quiet: flags.quiet,
            no_progress: flags.no_progress,
            data_on_stdout,
            verbose,
            sync: false,
            moving: false,
            no_clobber: false,
            check: false,
            limits: crate::stop::Watch::default(),
        }
    }

    /// The same, stopping the transfer once a limit is reached: `limits.duration` from now,
    /// or `limits.transfer` bytes moved.
    pub(crate) fn within(self, limits: crate::stop::Limits) -> Self {
        Self {
            limits: crate::stop::Watch::from_now(limits),
            ..self
        }
    }

    /// The same, for a sync: its deletions are JSON `sync` events, as its other decisions.
    pub(crate) fn for_sync(self) -> Self {
        Self { sync: true, ..self }
    }

    /// The same, for a check: a sync's dry run, each path said as the check found it.
    pub(crate) fn for_check(self) -> Self {
        Self {
            check: true,
            sync: true,
            ..self
        }
    }

    /// The same, for a move (`moving`): a dry run says `move` for each object.
    pub(crate) fn for_move(self, moving: bool) -> Self {
        Self { moving, ..self }
    }

    /// The same, for a copy with `--no-clobber` or not.
    pub(crate) fn for_no_clobber(self, no_clobber: bool) -> Self {
        Self { no_clobber, ..self }
    }

    /// Writes one JSON event line.
    pub(crate) fn emit_json(&self, v: &serde_json::Value) {
        emit_event(v, self.data_on_stdout);
    }

    /// Prints a report line (not with `--json` or `--quiet`): on stdout, or stderr when the
    /// data goes to stdout.
    pub(crate) fn say(&self, line: &str) {
        if self.json || self.quiet {
            return;
        }
        let line = shown(line, false);
        if self.data_on_stdout {
            errln!("{line}");
        } else {
            outln!("{line}");
        }
    }

    /// Whether progress shows as a bar: on a terminal, unless JSON, --quiet or --no-progress.
    fn wants_bar(&self) -> bool {
        !self.json && !self.quiet && !self.no_progress && std::io::stderr().is_terminal()
    }

    /// Shows one event of a tree in `bucket`: a line per object that ended.
    fn object(&self, bucket: &str, e: &Event, bar: Option<&ProgressBar>) {
        let line = match e {
            Event::ObjectUploaded { path, outcome } => {
                let src = path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                uploaded("upload", &src, outcome)
            }
            Event::ObjectDownloaded(o) => downloaded(o),
            Event::ObjectCopied { from, outcome } => uploaded("copy", from, outcome),
            Event::Synced {
                action,
                from,
                to,
                dry_run,
                in_destination,
                ..
            } => {
                use ferry_engine::SyncAction;
                if matches!(action, SyncAction::Skip | SyncAction::Keep) && !self.verbose {
                    return;
                }
                let to = to.as_deref().unwrap_or_default();
                let found = Found::of(*action, *in_destination);
                let what = match action {
                    _ if self.check => {
                        return self.show(bar, &found.line(from, to));
                    }
                    SyncAction::Skip => format!("skip: {from} = {to}"),
                    SyncAction::Keep => format!("keep: {to} (not replaced by {from})"),
                    _ if self.moving => format!("move: {from} to {to}"),
                    other => format!("{}: {from} to {to}", other.as_str()),
                };
                if *dry_run {
                    format!("(dry run) {what}")
                } else {
                    what
                }
            }
            Event::Removed { objects, dry_run } => {
                let dry = if *dry_run { "(dry run) " } else { "" };
                for r in objects.iter() {
                    let line = match &r.version_id {
                        _ if self.check => Found::Extra.line(&r.what, ""),
                        Some(v) => format!("{dry}delete: {} (version {v})", r.what),
                        None => format!("{dry}delete: {}", r.what),
                    };
                    self.show(bar, &line);
                }
                return;
            }
            Event::Locked {
                object,
                version_id,
                dry_run,
            } => {
                let dry = if *dry_run { "(dry run) " } else { "" };
                match version_id {
                    Some(v) => format!("{dry}lock: {object} (version {v})"),
                    None => format!("{dry}lock: {object}"),
                }
            }
            Event::Restore {
                object,
                version_id,
                storage_class,
                restoring,
                dry_run,
            } => crate::report::restore_line(
                object,
                version_id.as_deref(),
                storage_class,
                *restoring,
                *dry_run,
            ),
            Event::Existed { why, .. } if self.verbose => match self.no_clobber {
                true => format!("skip: {why} (--no-clobber)"),
                false => format!("skip: {why}"),
            },
            Event::ObjectFailed {
                path, key, error, ..
            } => {
                let line = format!(
                    "ferry: failed: s3://{bucket}/{key} ({}): {error}",
                    path.display()
                );
                return to_stderr(&line, bar);
            }
            Event::PassedOver { what, why } if !self.quiet => {
                return to_stderr(&format!("ferry: warning: skipping {what}: {why}"), bar);
            }
            _ => return,
        };
        self.show(bar, &line);
    }

    /// Shows one event of what `shown` says is being followed, above the progress `bar`.
    fn shown(&self, shown: &Shown, e: &Event, bar: Option<&ProgressBar>) {
        if let Event::OverAllowance {
            path, size, left, ..
        } = e
        {
            // `--cutoff-mode cautious`: the tree stops short of the limit, as if it had
            // reached it.
            let max = self.limits.max_transfer().unwrap_or_default();
            crate::stop::stopped_by_now(Limit::Allowance(max));
            if !self.quiet {
                let line = format!(
                    "ferry: stopping: {} ({size} bytes) would pass the --max-transfer of {}, \
                     with {left} bytes left; nothing more starts",
                    path.display(),
                    indicatif::BinaryBytes(max)
                );
                to_stderr(&line, bar);
            }
        }
        match shown {
            Shown::Tree { .. } if self.json && self.check => self.check_json(e),
            Shown::Tree { .. } if self.json => {
                if matches!(
                    e,
                    Event::ObjectUploaded { .. }
                        | Event::ObjectDownloaded(_)
                        | Event::ObjectCopied { .. }
                        | Event::ObjectFailed { .. }
                        | Event::Existed { .. }
                        | Event::PassedOver { .. }
                        | Event::OverAllowance { .. }
                        | Event::Synced { .. }
                ) {
                    self.emit_json(&event_json(e));
                }
                // One line an object, as for every other tree; a sync's deletion as its
                // other decisions.
                if let Event::Removed { objects, dry_run } = e {
                    for r in objects.iter() {
                        let (kind, line) = if self.sync {
                            let line = serde_json::json!({
                                "action": "delete", "key": r.key, "from": r.what,
                                "to": null, "size": r.size, "dry_run": dry_run,
                            });
                            ("sync", line)
                        } else {
                            let mut line = serde_json::json!({
                                "object": r.what, "size": r.size, "dry_run": dry_run,
                            });
                            if let Some(v) = &r.version_id {
                                line["version_id"] = v.as_str().into();
                            }
                            ("delete", line)
                        };
                        self.emit_json(&crate::report::json_line(kind, line));
                    }
                }
                if let Event::Locked {
                    object,
                    version_id,
                    dry_run,
                } = e
                {
                    let line = serde_json::json!({
                        "object": object, "version_id": version_id, "dry_run": dry_run,
                    });
                    self.emit_json(&crate::report::json_line("lock", line));
                }
                if let Event::Restore {
                    object,
                    version_id,
                    storage_class,
                    restoring,
                    dry_run,
                } = e
                {
                    let line = serde_json::json!({
                        "object": object, "version_id": version_id,
                        "storage_class": storage_class, "restore": restoring.as_str(),
                        "dry_run": dry_run,
                    });
                    self.emit_json(&crate::report::json_line("restore", line));
                }
            }
            Shown::Tree { bucket } => self.object(bucket, e, bar),
            Shown::One if self.json => self.emit_json(&event_json(e)),
            Shown::One => {}
        }
    }

    /// A check's JSON: a `check` event for each path, saying what the check found it to be;
    /// failures as any tree's.
    fn check_json(&self, e: &Event) {
        let line = |found: Found, key: &str, from: &str, to: Option<&str>, size: u64| {
            self.emit_json(&found.json(key, from, to, size));
        };
        match e {
            Event::Synced {
                action,
                key,
                from,
                to,
                size,
                in_destination,
                ..
            } => line(
                Found::of(*action, *in_destination),
                key,
                from,
                to.as_deref(),
                *size,
            ),
            Event::Removed { objects, .. } => {
                for r in objects.iter() {
                    line(Found::Extra, &r.key, &r.what, None, r.size);
                }
            }
            Event::ObjectFailed { .. } | Event::PassedOver { .. } => {
                self.emit_json(&event_json(e));
            }
            _ => {}
        }
    }

    /// Says `line`, above the progress `bar` if there is one.
    fn show(&self, bar: Option<&ProgressBar>, line: &str) {
        match bar {
            Some(bar) => bar.suspend(|| self.say(line)),
            None => self.say(line),
        }
    }

    /// Starts showing `events` and `progress`.
    fn watch(
        self,
        shown: Shown,
        mut events: broadcast::Receiver<Event>,
        progress: Arc<Progress>,
    ) -> Display {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let start = Instant::now();
            let bar = self.wants_bar().then(bar);
            log_around(bar.as_ref());
            let plain = !self.json && !self.quiet && !self.no_progress && bar.is_none();
            let every = if self.json {
                Duration::from_secs(1)
            } else if plain {
                PLAIN_PROGRESS_EVERY
            } else {
                Duration::from_millis(200)
            };
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            let mut open = true;
            let mut lost = 0u64;
            // Bytes an earlier run had moved, as last seen: a jump in them restarts the bar's
            // rate, which would otherwise count them as moved now.
            let mut reused = 0u64;
            // A check moves nothing: the paths it compared, and their bytes, are its progress.
            let mut checked = (0u64, 0u64);
            loop {
                tokio::select! {
                    e = events.recv(), if open => match e {
                        Ok(e) => {
                            if self.check {
                                checked = crate::report::compared(checked, &e);
                            }
                            self.shown(&shown, &e, bar.as_ref());
                        }
                        Err(broadcast::error::RecvError::Lagged(n)) => lost += n,
                        Err(broadcast::error::RecvError::Closed) => open = false,
                    },
                    _ = tick.tick() => {
                        let s = progress.snapshot();
                        let counted = match &shown {
                            Shown::One => format!(
                                "parts {}/{}",
                                s.parts_done,
                                if s.parts_total == 0 { "?".to_string() } else { s.parts_total.to_string() },
                            ),
                            // Until every object found has started, the totals still grow.
                            Shown::Tree { .. } if s.finding > 0 => {
                                format!("objects {}/{}+", s.objects_done, s.objects)
                            }
                            Shown::Tree { .. } if self.check => format!("paths {}", checked.0),
                            Shown::Tree { .. } => format!("objects {}/{}", s.objects_done, s.objects),
                        };
                        if let Some(bar) = &bar {
                            if s.total > 0 && s.finding == 0 {
                                sized(bar, s.total.max(s.bytes));
                            }
                            // A check reading objects back (--download) counts their bytes
                            // as they come, so a large one does not stand still.
                            let done = if self.check { checked.1.max(s.bytes) } else { s.bytes };
                            bar.set_position(done);
                            if s.reused != reused {
                                reused = s.reused;
                                bar.reset_eta();
                            }
                            bar.set_message(format!(
                                "{counted}{}",
                                if s.retries > 0 { format!(" retries {}", s.retries) } else { String::new() }
                            ));
                        } else if self.json {
                            self.emit_json(&json_line("progress", serde_json::json!({
                                "bytes": s.bytes, "total": s.total, "parts_done": s.parts_done,
                                "parts_total": s.parts_total, "retries": s.retries, "reused": s.reused,
                                "objects": s.objects, "objects_done": s.objects_done,
                                "finding": s.finding > 0,
                            })));
                        } else if plain {
                            // A stream of unknown length has no total yet; a tree finding
                            // objects, a growing one.
                            let more = if s.finding > 0 { "+" } else { "" };
                            let of = if s.total > 0 { format!(" of {}{more}", s.total) } else { String::new() };
                            errln!(
                                "ferry: {}{of} bytes, {:.1} MiB/s, {counted}, retries {}",
                                s.bytes,
                                s.bytes.saturating_sub(s.reused) as f64 / (1u64 << 20) as f64 / secs(start),
                                s.retries
                            );
                        }
                    }
                    _ = &mut stopped => break,
                }
            }
            // Drain what is left, so the last events are shown.
            while let Ok(e) = events.try_recv() {
                self.shown(&shown, &e, bar.as_ref());
            }
            if lost > 0 && (self.json || matches!(shown, Shown::Tree { .. })) {
                errln!("ferry: {lost} events were not shown (the display fell behind)");
            }
            if let Some(bar) = bar {
                log_around(None);
                let s = progress.snapshot();
                bar.set_position(s.bytes);
                bar.finish_and_clear();
            }
        });
        Display {
            stop: Some(stop),
            task,
        }
    }

    /// Runs a transfer to its end while showing it; Ctrl-C, SIGTERM or SIGHUP cancel it, as
    /// does the end of its `--max-duration`. Returns its result and whether it was
    /// interrupted.
    pub(crate) async fn run<T>(self, handle: Handle<T>) -> (Result<T, ferry_engine::Error>, bool) {
        self.follow(Shown::One, handle).await
    }

    /// Runs a tree transfer in `bucket` to its end, a line per object as it ends.
    pub(crate) async fn run_tree<T>(
        self,
        bucket: &str,
        handle: Handle<T>,
    ) -> (Result<T, ferry_engine::Error>, bool) {
        let shown = Shown::Tree {
            bucket: bucket.to_string(),
        };
        self.follow(shown, handle).await
    }

    async fn follow<T>(
        self,
        shown: Shown,
        handle: Handle<T>,
    ) -> (Result<T, ferry_engine::Error>, bool) {
        // Every line: a slow reader of the output slows the transfer, loses nothing.
        let display = self.watch(shown, handle.subscribe_lossless(), handle.progress());
        let canceller = handle.canceller();
        let reached = self.limits.reached(handle.progress());
        let wait = handle.wait();
        tokio::pin!(wait);
        let mut interrupted = false;
        let result = tokio::select! {
            r = &mut wait => Some(r),
            limit = reached => {
                // A limit drains: nothing new starts, and what is in flight finishes, so
                // nothing sent is thrown away. An interrupt meanwhile stops that too.
                crate::stop::stopped_by_now(limit);
                interrupted = true;
                if self.limits.hard() {
                    tracing::warn!("stopping: {limit}; what is in flight stops now");
                    let result = wound_down(&canceller, wait.as_mut()).await;
                    return (Self::ended(display, result).await, interrupted);
                }
                canceller.drain();
                tracing::warn!(
                    "stopping: {limit}; nothing more starts (interrupt to stop what is in flight now)"
                );
                tokio::select! {
                    r = &mut wait => Some(r),
                    _ = interrupt() => wound_down(&canceller, wait.as_mut()).await,
                }
            }
            _ = interrupt() => {
                interrupted = true;
                wound_down(&canceller, wait.as_mut()).await
            }
        };
        (Self::ended(display, result).await, interrupted)
    }

    /// Ends the display once the transfer ended with `result` (`None`: interrupted again
    /// while it wound down, which quits now).
    async fn ended<R>(display: Display, result: Option<R>) -> R {
        display.stop().await;
        let Some(result) = result else {
            // What a kill -9 would leave: journals and partial files resume; only an
            // upload being aborted may stay.
            to_stderr(
                "ferry: interrupted again: quitting without waiting for the transfer to wind \
                 down; an upload it was aborting may be left (`ferry uploads ls s3://BUCKET` \
                 shows it, `ferry uploads abort` removes it)",
                None,
            );
            std::process::exit(i32::from(crate::codes::INTERRUPTED));
        };
        result
    }
}

/// A running display; [`Display::stop`] ends it.
struct Display {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Display {
    /// Ends the display after printing what is pending.
    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.task).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_reach_the_terminal_escaped() {
        assert_eq!(shown("plain ünï", false), "plain ünï");
        assert_eq!(shown("a\u{1b}[2Jb\tc", false), "a\\u{1b}[2Jb\\tc");
        assert_eq!(shown("two\nlines\u{7}", false), "two\\nlines\\u{7}");
        assert_eq!(shown("two\nlines\u{7}", true), "two\nlines\\u{7}");
        assert_eq!(shown("c1\u{9b}31m", true), "c1\\u{9b}31m");
    }
}
