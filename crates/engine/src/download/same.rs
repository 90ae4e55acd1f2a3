//! Whether a local file holds an object's bytes, judged by the object's own check (its
//! full-object or composite CRC, its SHA, or its MD5 ETag) computed over the file, the way a
//! download checks what it fetched: what `sync --checksum` asks of two sides of equal size.
//! No byte of the object is downloaded.

use std::path::Path;

use ferry_s3::{ObjectClient, RequestOptions};

use super::check::Ordered;
use super::file_check::read_range;
use super::layout::head_each_part;
use super::{Job, ObjectRef, VerifyMode, describe};
use crate::context::Context;
use crate::error::{Error, ErrorKind};
use crate::outcome::Check;

/// Whether the file at `path` holds the bytes of `bucket`/`key` (in `version_id`, if given):
/// `None` when the object offers no check to compare with (an SSE-C object without an
/// additional checksum, a multipart ETag whose part boundaries the server does not give).
pub(crate) async fn file_matches<C: ObjectClient>(
    ctx: &Context<C>,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    request: &RequestOptions,
    path: &Path,
) -> Result<Option<bool>, Error> {
    let object = ObjectRef {
        bucket: bucket.to_string(),
        key: key.to_string(),
        version_id: version_id.map(str::to_string),
        request: request.clone(),
        listed: None,
    };
    let job = Job::new(ctx.clone(), object, Default::default());
    let meta = job.head(None).await?;
    let size = std::fs::metadata(path).map_err(|e| Error::local("reading a file's size", e))?;
    if size.len() != meta.content_length {
        // Not the same bytes, and no need to read them to say so.
        return Ok(Some(false));
    }
    let object = describe(&job, &meta, VerifyMode::Auto).await?;
    let Some(expected) = object.check.expected().map(str::to_string) else {
        return Ok(None);
    };
    if file_value(path, &object.check, object.parts.clone()).await? == Some(expected.clone()) {
        return Ok(Some(true));
    }
    if object.guessed {
        // The part sizes were inferred as uniform: learn them one by one before saying no.
        let n = object.check.parts().unwrap_or(1);
        let sizes = head_each_part(&job, n).await?;
        if Some(&sizes) != object.parts.as_ref() {
            let value = file_value(path, &object.check, Some(sizes)).await?;
            return Ok(Some(value == Some(expected)));
        }
    }
    Ok(Some(false))
}

/// Files no larger than this are first compared with a listed ETag by their MD5
/// ([`file_gives_etag`]): for them a HeadObject costs more than the hashing (about 1.7 ms
/// for 1 MiB here), the more so at S3's tens of milliseconds a request.
pub(crate) const LISTED_ETAG_MAX: u64 = 1 << 20;

/// Whether the file at `path` hashes to `etag` (a listing's), when that is a plain MD5: an
/// object put whole, not under a KMS or customer key, gives its bytes' MD5 as its ETag, so a
/// file that gives it holds those bytes, with no request asked. `false` settles nothing (a
/// listing cannot say how an object was encrypted, and a multipart ETag is no MD5): ask
/// the object ([`file_matches`]).
pub(crate) async fn file_gives_etag(path: &Path, etag: &str) -> Result<bool, Error> {
    let etag = etag.trim_matches('"').to_ascii_lowercase();
    if etag.len() != 32 || !etag.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(false);
    }
    let check = Check::Md5Etag(etag.clone());
    Ok(file_value(path, &check, None).await?.as_deref() == Some(etag.as_str()))
}

/// `check`'s value computed over the file at `path`, in order.
async fn file_value(
    path: &Path,
    check: &Check,
    parts: Option<Vec<u64>>,
) -> Result<Option<String>, Error> {
    let ordered = Ordered::new(check, parts.as_deref());
    let what = "reading a file to compare its checksum";
    let (_, ordered) = read_whole(path, what, ordered, Ordered::update).await?;
    Ok(ordered.finish())
}

/// The whole file at `path` fed in order to `state` by `feed`, on a blocking thread: its
/// size and the state. A failure is a local error saying `what` was being done.
pub(super) async fn read_whole<S: Send + 'static>(
    path: &Path,
    what: &str,
    mut state: S,
    feed: fn(&mut S, &[u8]),
) -> Result<(u64, S), Error> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&path)?;
        let size = file.metadata()?.len();
        read_range(&file, [0, size], |b| feed(&mut state, b))?;
        Ok((size, state))
    })
    .await
    .map_err(|e| {
        Error::new(
            ErrorKind::Local,
            format!("the file-reading task failed: {e}"),
        )
    })?
    .map_err(|e: std::io::Error| Error::local(what, e))
}
