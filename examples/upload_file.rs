//! Uploads a file with ferry-engine and prints progress events.
//!
//! ```sh
//! # against the local SeaweedFS that scripts/test or ferry-testbed starts:
//! cargo run --example upload_file -- FILE s3://bucket/key
//! ```
//! Settings come from the usual places (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, profiles, ...).

use std::sync::Arc;

use ferry_engine::{Event, Manager, ManagerConfig, Source, Upload};
use ferry_s3::{ClientConfig, Env, Overrides, S3Client};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, dest] = args.as_slice() else {
        return Err("usage: upload_file FILE s3://bucket/key".into());
    };
    let (bucket, key) = dest
        .strip_prefix("s3://")
        .and_then(|d| d.split_once('/'))
        .ok_or("the destination is s3://bucket/key")?;
    let (config, _) =
        ClientConfig::resolve_with_instance(&Env::process(), Overrides::default()).await?;
    let client = Arc::new(S3Client::new(config)?);
    let manager = Manager::new(client, ManagerConfig::default())?;
    let handle = manager.upload(Upload::new(Source::File(file.into()), bucket, key));
    let mut events = handle.subscribe();
    let printer = tokio::spawn(async move {
        while let Ok(e) = events.recv().await {
            match e {
                Event::Planned { size, parts, .. } => {
                    println!("plan: {size:?} bytes in {parts:?} parts")
                }
                Event::PartFinished { part, size, .. } => {
                    println!("part {part} done ({size} bytes)")
                }
                Event::Retry { part, reason, .. } => println!("retrying part {part:?}: {reason}"),
                _ => {}
            }
        }
    });
    let outcome = handle.wait().await?;
    printer.abort();
    println!(
        "uploaded {} bytes to s3://{}/{}: ETag {}, {:?}",
        outcome.size, outcome.bucket, outcome.key, outcome.etag, outcome.verification
    );
    Ok(())
}
