//! Downloads an object with ferry-engine into a file, verified, and prints what it checked.
//! Run it again after killing it: it resumes from the partial file.
//!
//! ```sh
//! # against the local SeaweedFS that scripts/test or ferry-testbed starts:
//! cargo run --example download -- s3://bucket/key FILE
//! ```
//! Settings come from the usual places (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, profiles, ...).

use std::sync::Arc;

use ferry_engine::{Download, Event, Manager, ManagerConfig, Target};
use ferry_s3::{ClientConfig, Env, Overrides, S3Client};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [src, file] = args.as_slice() else {
        return Err("usage: download s3://bucket/key FILE".into());
    };
    let (bucket, key) = src
        .strip_prefix("s3://")
        .and_then(|d| d.split_once('/'))
        .ok_or("the source is s3://bucket/key")?;
    let (config, _) =
        ClientConfig::resolve_with_instance(&Env::process(), Overrides::default()).await?;
    let client = Arc::new(S3Client::new(config)?);
    let manager = Manager::new(client, ManagerConfig::default())?;
    let handle = manager.download(Download::new(bucket, key, Target::File(file.into())));
    let mut events = handle.subscribe();
    let printer = tokio::spawn(async move {
        while let Ok(e) = events.recv().await {
            match e {
                Event::DownloadPlanned {
                    size,
                    ranges,
                    check,
                    ..
                } => {
                    println!("plan: {size} bytes in {ranges} ranges, checked by {check}")
                }
                Event::DownloadResumed { bytes_done, .. } => {
                    println!("resuming with {bytes_done} bytes on disk")
                }
                Event::Retry { part, reason, .. } => println!("retrying range {part:?}: {reason}"),
                _ => {}
            }
        }
    });
    let outcome = handle.wait().await?;
    printer.abort();
    println!(
        "downloaded {} bytes to {file}: {}",
        outcome.size, outcome.check
    );
    Ok(())
}
