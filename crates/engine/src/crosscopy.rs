//! A copy between two servers (or two sets of credentials), through ferry: the source is
//! downloaded in ranges into a bounded pipe that the destination's upload reads as a stream of
//! known size. The download checks the source's bytes with what the source offers, the upload
//! checksums every part for the destination, and the upload completes only after the download
//! checked out. It cannot resume: a failure aborts it.

use ferry_s3::ObjectClient;

use crate::context::Context;
use crate::copy::Copy;
use crate::download::{Download, DownloadSettings, Target};
use crate::error::Error;
use crate::outcome::UploadOutcome;
use crate::pipe::pipe;
use crate::upload::{Source, Upload};

/// Copies `copy.from`, read through `source`, to `copy`'s destination through `ctx`.
pub(crate) async fn run<C: ObjectClient, D: ObjectClient>(
    ctx: Context<C>,
    source: Context<D>,
    mut copy: Copy,
) -> Result<UploadOutcome, Error> {
    crate::job::check(&copy.settings, &copy.options)?;
    let from = &copy.from;
    let (head, meta) = from.head(&source, &Default::default()).await?;
    from.carry(&source, &head, &meta, &mut copy.options).await?;
    let (writer, reader, end) = pipe(8);
    let part_size = copy.settings.plan.part_size.unwrap_or(16 << 20);
    let mut download = Download::new(&from.bucket, &from.key, Target::Writer(Box::new(writer)));
    download.version_id = from.version_id.clone();
    download.request = head.request.clone();
    download.settings = DownloadSettings {
        range_size: part_size.clamp(1 << 20, 64 << 20),
        resume: false,
        ..Default::default()
    };
    let fed = tokio::spawn(async move {
        let r = crate::download::run(source, download).await;
        match &r {
            Ok(_) => end.finish(),
            Err(e) => end.fail(format!("reading the source: {e}")).await,
        }
        r
    });
    let stream = Source::Reader {
        reader: Box::new(reader),
        size: Some(meta.content_length),
    };
    let upload = Upload::new(stream, copy.bucket, copy.key)
        .options(copy.options)
        .settings(copy.settings);
    let result = crate::upload::run_as(ctx, upload, "copy").await;
    let read = fed.await;
    // The download's own error says more than the upload's "the stream failed".
    match (result, read) {
        (Err(_), Ok(Err(e))) => Err(e),
        (r, _) => r,
    }
}
