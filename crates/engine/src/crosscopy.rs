//! A copy between two servers (or two sets of credentials), through ferry: the source is
//! downloaded in ranges into a bounded pipe that the destination's upload reads as a stream of
//! known size. The download checks the source's bytes with what the source offers, the upload
//! checksums every part for the destination, and the upload completes only after the download
//! checked out. It cannot resume: a failure aborts it.

use ferry_s3::{Directive, ObjectClient};

use crate::context::Context;
use crate::copy::{Copy, copy_metadata, tags_of};
use crate::download::{Download, DownloadSettings, Target};
use crate::error::Error;
use crate::outcome::UploadOutcome;
use crate::pipe::pipe;
use crate::upload::{Source, Upload};

/// Copies `copy.from`, read through `source`, to `copy`'s destination through `ctx`.
pub(crate) async fn run<C: ObjectClient, D: ObjectClient>(
    ctx: Context<C>,
    source: Context<D>,
    copy: Copy,
) -> Result<UploadOutcome, Error> {
    crate::job::check(&copy.settings, &copy.options)?;
    let Copy {
        from,
        bucket,
        key,
        mut options,
        settings,
    } = copy;
    let (head, meta) = from.head(&source, &Default::default()).await?;
    if from.metadata_directive == Directive::Copy {
        copy_metadata(&meta, &mut options);
        options.tagging = tags_of(&source, &head).await.map_err(|f| {
            f.into_error(
                format!("reading the tags of s3://{}/{}", from.bucket, from.key),
                "copy",
            )
        })?;
    }
    let (writer, reader, end) = pipe(8);
    let download = Download {
        bucket: from.bucket.clone(),
        key: from.key.clone(),
        version_id: from.version_id.clone(),
        request: head.request.clone(),
        listed: None,
        target: Target::Writer(Box::new(writer)),
        settings: DownloadSettings {
            range_size: settings
                .plan
                .part_size
                .unwrap_or(16 << 20)
                .clamp(1 << 20, 64 << 20),
            resume: false,
            ..Default::default()
        },
    };
    let fed = tokio::spawn(async move {
        let r = crate::download::run(source, download).await;
        match &r {
            Ok(_) => end.finish(),
            Err(e) => end.fail(format!("reading the source: {e}")).await,
        }
        r
    });
    let upload = Upload {
        source: Source::Reader {
            reader: Box::new(reader),
            size: Some(meta.content_length),
        },
        bucket,
        key,
        options,
        settings,
    };
    let result = crate::upload::run(ctx, upload).await;
    let read = fed.await;
    // The download's own error says more than the upload's "the stream failed".
    match (result, read) {
        (Err(_), Ok(Err(e))) => Err(e),
        (r, _) => r,
    }
}
