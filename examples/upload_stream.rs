//! Uploads a stream of unknown length (here, stdin) with ferry-engine: parts are kept until
//! acknowledged, in memory within the budget and spilled to a temporary file beyond it.
//!
//! ```sh
//! tar c some/folder | cargo run --example upload_stream -- s3://bucket/folder.tar
//! ```

use std::sync::Arc;

use ferry_engine::{Manager, ManagerConfig, Source, Upload};
use ferry_s3::{ClientConfig, Env, Overrides, S3Client};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dest = std::env::args()
        .nth(1)
        .ok_or("usage: upload_stream s3://bucket/key")?;
    let (bucket, key) = dest
        .strip_prefix("s3://")
        .and_then(|d| d.split_once('/'))
        .ok_or("the destination is s3://bucket/key")?;
    let (config, _) =
        ClientConfig::resolve_with_instance(&Env::process(), Overrides::default()).await?;
    let client = Arc::new(S3Client::new(config)?);
    let manager = Manager::new(
        client,
        ManagerConfig {
            memory_limit: 64 << 20,
            ..Default::default()
        },
    )?;
    let stdin = Source::Reader {
        reader: Box::new(tokio::io::stdin()),
        size: None,
    };
    let handle = manager.upload(Upload::new(stdin, bucket, key));
    let progress = handle.progress();
    let ticker = tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            let s = progress.snapshot();
            eprintln!("{} bytes sent, {} parts done", s.bytes, s.parts_done);
        }
    });
    let outcome = handle.wait().await?;
    ticker.abort();
    println!(
        "uploaded {} bytes in {} parts: {:?}",
        outcome.size, outcome.parts, outcome.checksum
    );
    Ok(())
}
