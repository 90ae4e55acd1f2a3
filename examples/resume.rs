//! Interrupts an upload after a few parts, then resumes it from its journal: only the parts
//! the server does not hold are sent again.
//!
//! ```sh
//! cargo run --example resume -- FILE s3://bucket/key   # a file of 30 MiB or more
//! ```

use std::sync::Arc;

use ferry_engine::{
    Event, FileJournalStore, Manager, ManagerConfig, PlanConfig, Source, Upload, UploadSettings,
};
use ferry_s3::{ClientConfig, Env, Overrides, S3Client};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, dest] = args.as_slice() else {
        return Err("usage: resume FILE s3://bucket/key".into());
    };
    let (bucket, key) = dest
        .strip_prefix("s3://")
        .and_then(|d| d.split_once('/'))
        .ok_or("the destination is s3://bucket/key")?;
    let (config, _) =
        ClientConfig::resolve_with_instance(&Env::process(), Overrides::default()).await?;
    let client = Arc::new(S3Client::new(config)?);
    let state = tempfile::tempdir()?;
    let manager = Manager::new(
        client,
        ManagerConfig {
            max_requests: 1,
            parts_per_object: 1,
            journal: Some(Arc::new(FileJournalStore::new(state.path()))),
            ..Default::default()
        },
    )?;
    let settings = UploadSettings {
        plan: PlanConfig {
            part_size: Some(5 << 20),
            ..Default::default()
        },
        ..Default::default()
    };

    // Start, and cancel after three parts: the upload and its journal are kept.
    let upload = Upload::new(Source::File(file.into()), bucket, key).settings(settings);
    let handle = manager.upload(upload);
    let mut events = handle.subscribe();
    let canceller = handle.canceller();
    tokio::spawn(async move {
        let mut done = 0;
        while let Ok(e) = events.recv().await {
            if let Event::PartFinished { part, .. } = e {
                println!("part {part} stored");
                done += 1;
                if done == 3 {
                    println!("interrupting");
                    canceller.cancel();
                }
            }
        }
    });
    let err = handle.wait().await.expect_err("the upload was interrupted");
    let id = err
        .resume_id()
        .ok_or("the upload was not kept")?
        .to_string();
    println!("kept as journal {id}: {err}");

    // Resume: the journal names the file and the destination.
    let handle = manager.resume(&id, Default::default())?;
    let mut events = handle.subscribe();
    tokio::spawn(async move {
        while let Ok(e) = events.recv().await {
            match e {
                Event::Resumed {
                    parts_done,
                    parts_to_send,
                    ..
                } => {
                    println!("resuming: {parts_done} parts on the server, {parts_to_send} to send")
                }
                Event::PartFinished { part, .. } => println!("part {part} stored"),
                _ => {}
            }
        }
    });
    let outcome = handle.wait().await?;
    println!(
        "done: {} bytes in {} parts, {:?}",
        outcome.size, outcome.parts, outcome.verification
    );
    Ok(())
}
