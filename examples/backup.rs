//! A program shaped like a backup tool: one manager (64 MiB of part buffers for everything),
//! a folder's files uploaded as a tree, and 1,000 chunks the program made in memory (4 to
//! 64 KiB each), each one PutObject, all side by side; aggregate progress once a second and
//! at the end; then the folder checked against what the prefix holds, by content.
//! Ctrl-C stops everything cleanly, and the next run resumes the large file it was in the
//! middle of (file uploads are journaled).
//!
//! ```sh
//! cargo run --example backup -- FOLDER s3://bucket/prefix
//! ```
//! Files go to `prefix/files/PATH`, chunks to `prefix/chunks/NNNN`. Settings come from the
//! usual places (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, profiles, ...); journals live in
//! `$FERRY_STATE_DIR` (else `~/.local/state/ferry`).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferry_engine::{
    ErrorKind, FileJournalStore, Manager, ManagerConfig, Snapshot, Source, SyncSettings, SyncUp,
    TreeUpload, Upload,
};
use ferry_s3::{ClientConfig, Env, Overrides, S3Client};

/// Chunk `i`'s bytes: 4 KiB to 64 KiB of pseudo-random data, the same on every run.
fn chunk(i: u64) -> Vec<u8> {
    let len = 4096 + (i * 7919) % (60 * 1024);
    let mut x = (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len as usize + 8);
    while (out.len() as u64) < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len as usize);
    out
}

const CHUNKS: u64 = 1000;

#[tokio::main]
async fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [folder, dest] = args.as_slice() else {
        return Err("usage: backup FOLDER s3://bucket/prefix".into());
    };
    let (bucket, prefix) = dest
        .strip_prefix("s3://")
        .map(|d| d.split_once('/').unwrap_or((d, "")))
        .ok_or("the destination is s3://bucket/prefix")?;
    let prefix = prefix.trim_end_matches('/');
    // Ctrl-C is ours from the start: it stops the transfers, not the process.
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let state = FileJournalStore::default_dir().ok_or("set HOME or FERRY_STATE_DIR")?;
    let (config, _) =
        ClientConfig::resolve_with_instance(&Env::process(), Overrides::default()).await?;
    let mut budgets = ManagerConfig {
        memory_limit: 64 << 20,
        journal: Some(Arc::new(FileJournalStore::new(state))),
        ..Default::default()
    };
    // Each request in flight holds a connection, and a file's transfer its file: some systems
    // start a program with too few open files for 128 of them. Raise the limit (or run fewer).
    let open = budgets.fit_open_files();
    if let Some(asked) = open.lowered_from {
        eprintln!(
            "backup: {} open files at most: {} requests at a time, not {asked}",
            open.limit, budgets.max_requests
        );
    }
    let manager = Manager::new(Arc::new(S3Client::new(config)?), budgets)?;

    // Everything at once: the tree, and every chunk. The manager's budgets decide what runs.
    let tree = manager.upload_tree(TreeUpload::new(folder, bucket, &format!("{prefix}/files")));
    let chunks: Vec<_> = (0..CHUNKS)
        .map(|i| {
            let key = format!("{prefix}/chunks/{i:04}");
            manager.upload(Upload::new(
                Source::Bytes(Bytes::from(chunk(i))),
                bucket,
                key,
            ))
        })
        .collect();

    let progress = manager.progress();
    let ticker = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        loop {
            every.tick().await;
            show(progress.snapshot());
        }
    });
    let stopper = {
        let manager = manager.clone();
        tokio::spawn(async move {
            if interrupt.recv().await.is_some() {
                println!("stopping: interrupted");
                manager.cancel_all();
            }
        })
    };

    let mut failed = 0;
    let mut interrupted = false;
    for handle in chunks {
        match handle.wait().await {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Cancelled => interrupted = true,
            Err(e) => {
                eprintln!("chunk failed: {e}");
                failed += 1;
            }
        }
    }
    let files = tree.wait().await?;
    ticker.abort();
    stopper.abort();
    show(manager.progress().snapshot());
    for f in &files.failed {
        eprintln!("file failed: {}: {}", f.path.display(), f.error);
    }
    if files.passed_over > 0 {
        // Each one is named by an `Event::PassedOver` on the tree's handle.
        eprintln!(
            "{} entries passed over: links to nothing, or not regular files",
            files.passed_over
        );
    }
    if files.interrupted || interrupted {
        println!(
            "interrupted: {} of {} files done, {} kept to resume; run again to finish",
            files.done, files.objects, files.kept
        );
        return Ok(ExitCode::from(130));
    }
    if failed > 0 || !files.failed.is_empty() {
        return Ok(ExitCode::from(1));
    }
    println!(
        "done: {} files ({} bytes) and {CHUNKS} chunks",
        files.done, files.bytes
    );

    // The folder against what the prefix holds now, by content: nothing moves.
    let check = SyncUp {
        tree: TreeUpload::new(folder, bucket, &format!("{prefix}/files")),
        sync: SyncSettings::check(),
    };
    let checked = manager.sync_up(check).wait().await?;
    if !checked.matches() {
        println!(
            "check: {} differ, {} missing, {} only in s3://{bucket}/{prefix}/files, {} not compared",
            checked.differing - checked.missing,
            checked.missing,
            checked.deleted,
            checked.transfers.failed.len()
        );
        return Ok(ExitCode::from(1));
    }
    println!("checked: {} files the same", checked.skipped);
    Ok(ExitCode::SUCCESS)
}

/// One line of the manager's counters: every chunk and file together.
fn show(s: Snapshot) {
    println!(
        "progress: {} of {} bytes, {} of {} objects",
        s.bytes, s.total, s.objects_done, s.objects
    );
}
