//! A task on its own thread and runtime, stopped and joined when dropped: what every server
//! and proxy the testkit runs in the test process stands on.

use std::time::Duration;

use anyhow::Result;

/// A task on its own thread and runtime (a server, a proxy): stopped and joined when dropped.
pub(crate) struct Background {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Runs the future `make` builds (inside the runtime, so it may register sockets) until it
    /// ends or this is dropped.
    pub(crate) fn spawn<F>(name: &str, make: impl FnOnce() -> F + Send + 'static) -> Result<Self>
    where
        F: std::future::Future<Output = ()>,
    {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a runtime for a background task");
                rt.block_on(async move {
                    tokio::select! {
                        () = make() => {}
                        _ = stopped => {}
                    }
                });
                rt.shutdown_timeout(Duration::from_secs(2));
            })?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
