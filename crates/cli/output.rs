//! What the user sees while a transfer runs: an indicatif bar on a terminal, a plain line every
//! few seconds otherwise, or one versioned JSON event per line with `--json`.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_engine::{Event, Progress};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::{broadcast, oneshot};

use crate::upload::{PLAIN_PROGRESS_EVERY, event_json, secs, stderr_is_terminal};

/// The JSON schema version of `--json` events.
pub(crate) const JSON_VERSION: u32 = 1;

/// A JSON event line: `{"v":1,"event":NAME,…fields}`.
pub(crate) fn json_line(event: &str, fields: serde_json::Value) -> serde_json::Value {
    let mut obj = serde_json::Map::new();
    obj.insert("v".into(), JSON_VERSION.into());
    obj.insert("event".into(), event.into());
    if let serde_json::Value::Object(f) = fields {
        obj.extend(f);
    }
    serde_json::Value::Object(obj)
}

/// A progress bar of `total` bytes on stderr, ticking on its own.
pub(crate) fn bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30.cyan/blue} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// The output choices of one command.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    pub(crate) json: bool,
    pub(crate) quiet: bool,
    no_progress: bool,
    /// Data goes to stdout (a download to `-`): JSON goes to stderr.
    data_on_stdout: bool,
}

/// A running display; [`Display::stop`] ends it.
pub(crate) struct Display {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Output {
    pub(crate) fn new(json: bool, quiet: bool, no_progress: bool, data_on_stdout: bool) -> Self {
        Self {
            json,
            quiet,
            no_progress,
            data_on_stdout,
        }
    }

    /// Writes one JSON event line.
    pub(crate) fn emit_json(&self, v: &serde_json::Value) {
        let line = format!("{v}\n");
        if self.data_on_stdout {
            let _ = std::io::stderr().write_all(line.as_bytes());
        } else {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(line.as_bytes());
            let _ = out.flush();
        }
    }

    /// Whether progress shows as a bar: on a terminal, unless JSON, --quiet or --no-progress.
    pub(crate) fn wants_bar(&self) -> bool {
        !self.json && !self.quiet && !self.no_progress && stderr_is_terminal()
    }

    /// Starts showing `events` and `progress`.
    pub(crate) fn watch(
        self,
        mut events: broadcast::Receiver<Event>,
        progress: Arc<Progress>,
    ) -> Display {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let start = Instant::now();
            let bar = self.wants_bar().then(|| bar(0));
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
            loop {
                tokio::select! {
                    e = events.recv(), if open => match e {
                        Ok(e) => {
                            if self.json {
                                self.emit_json(&event_json(&e));
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => open = false,
                    },
                    _ = tick.tick() => {
                        let s = progress.snapshot();
                        if let Some(bar) = &bar {
                            bar.set_length(s.total.max(s.bytes));
                            bar.set_position(s.bytes);
                            bar.set_message(format!(
                                "parts {}/{}{}",
                                s.parts_done,
                                if s.parts_total == 0 { "?".to_string() } else { s.parts_total.to_string() },
                                if s.retries > 0 { format!(" retries {}", s.retries) } else { String::new() }
                            ));
                        } else if self.json {
                            self.emit_json(&json_line("progress", serde_json::json!({
                                "bytes": s.bytes, "total": s.total, "parts_done": s.parts_done,
                                "parts_total": s.parts_total, "retries": s.retries,
                            })));
                        } else if plain {
                            eprintln!(
                                "ferry: {} of {} bytes, {:.1} MiB/s, parts {}/{}, retries {}",
                                s.bytes,
                                s.total,
                                s.bytes as f64 / (1u64 << 20) as f64 / secs(start),
                                s.parts_done,
                                s.parts_total,
                                s.retries
                            );
                        }
                    }
                    _ = &mut stopped => break,
                }
            }
            // Drain what is left, so the last events are printed.
            while let Ok(e) = events.try_recv() {
                if self.json {
                    self.emit_json(&event_json(&e));
                }
            }
            if let Some(bar) = bar {
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
}

impl Output {
    /// Runs a transfer to its end while showing it; Ctrl-C or SIGTERM cancels it. Returns its
    /// result and whether it was interrupted.
    pub(crate) async fn run<T>(
        self,
        handle: ferry_engine::Handle<T>,
    ) -> (Result<T, ferry_engine::Error>, bool) {
        let display = self.watch(handle.subscribe(), handle.progress());
        let canceller = handle.canceller();
        let wait = handle.wait();
        tokio::pin!(wait);
        let mut interrupted = false;
        let result = tokio::select! {
            r = &mut wait => r,
            _ = interrupt() => {
                interrupted = true;
                canceller.cancel();
                wait.await
            }
        };
        display.stop().await;
        (result, interrupted)
    }
}

impl Display {
    /// Ends the display after printing what is pending.
    pub(crate) async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Ctrl-C or SIGTERM.
pub(crate) async fn interrupt() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}
