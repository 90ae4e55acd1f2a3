//! Moves: a transfer whose source is deleted once its destination holds it, verified. A file
//! goes only if it is still as it was read (its size, times and inode); an object only if it
//! is still the version that was read: DeleteObject carries `If-Match` with its ETag, which
//! S3 honours (a server that ignores the header deletes the object regardless). A source that
//! changed, or that could not be deleted, is kept, and the transfer fails saying so: its
//! destination holds what was read.

use std::path::Path;

use ferry_s3::{DeleteObjectRequest, ObjectClient, RequestOptions};

use crate::context::Context;
use crate::error::{Error, ErrorKind, Failure};

/// Refuses a move whose source is not a file or an object (a stream, bytes in memory, a part
/// of a file), or is one version of an object: only the current one is moved.
pub(crate) fn refuse(what: &str) -> Error {
    Error::invalid(format!(
        "a move deletes its source once the destination holds it: {what}"
    ))
}

/// Refuses to move a tree as of a time (`as_of`): a move takes each object as it is now.
pub(crate) fn not_as_of(
    remove_source: bool,
    as_of: Option<std::time::SystemTime>,
) -> Result<(), Error> {
    match (remove_source, as_of) {
        (true, Some(_)) => Err(refuse(
            "it takes each object as it is now, not as it was at a time (copy it as of then, \
             then delete)",
        )),
        _ => Ok(()),
    }
}

/// Refuses to move a version of an object (`version_id`): only the current one moves.
pub(crate) fn current_version(version_id: Option<&str>) -> Result<(), Error> {
    match version_id {
        Some(_) => Err(refuse(
            "only the current version moves (a versioned bucket keeps the others)",
        )),
        None => Ok(()),
    }
}

/// Refuses a sync that would move: a sync keeps its source, and deletes only from its
/// destination.
pub(crate) fn not_in_sync(remove_source: bool) -> Result<(), Error> {
    match remove_source {
        true => Err(Error::invalid(
            "a sync keeps its source (it deletes only from its destination): it cannot move",
        )),
        false => Ok(()),
    }
}

/// Deletes the file `path`, whose bytes `to` now holds, unless `change` says how it changed
/// since it was read.
pub(crate) async fn remove_file(
    path: &Path,
    to: &str,
    change: Option<String>,
) -> Result<(), Error> {
    let file = path.display();
    if let Some(change) = change {
        return Err(Error::new(
            ErrorKind::SourceKept,
            format!(
                "{to} holds {file} as it was read, but the file changed since ({change}), so \
                 it was kept; move it again to send what it holds now"
            ),
        ));
    }
    let owned = path.to_path_buf();
    let removed = tokio::task::spawn_blocking(move || std::fs::remove_file(owned))
        .await
        .map_err(|e| Error::new(ErrorKind::Local, format!("deleting {file}: {e}")))?;
    match removed {
        // Gone already: nothing is left to move.
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::new(
            ErrorKind::Local,
            format!("{to} holds {file}, but the file could not be deleted: {e}"),
        )
        .with_source(e)),
        _ => Ok(()),
    }
}

/// The object a move deletes once its destination holds it: the version that was read.
pub(crate) struct Moved<'a> {
    /// Bucket.
    pub(crate) bucket: &'a str,
    /// Key.
    pub(crate) key: &'a str,
    /// The ETag of the version that was read.
    pub(crate) etag: &'a str,
    /// Expected bucket owner and payer, as the source's requests carried them.
    pub(crate) request: &'a RequestOptions,
}

/// Deletes `moved` through `ctx` (the source's server), whose bytes `to` now holds, if it is
/// still the version that was read.
pub(crate) async fn remove_object<D: ObjectClient>(
    ctx: &Context<D>,
    moved: Moved<'_>,
    to: &str,
) -> Result<(), Error> {
    let url = format!("s3://{}/{}", moved.bucket, moved.key);
    let req = DeleteObjectRequest {
        bucket: moved.bucket.to_string(),
        key: moved.key.to_string(),
        version_id: None,
        if_match: Some(moved.etag.to_string()),
        request: moved.request.bucket_terms(),
        ..Default::default()
    };
    match ctx.request(None, |c| c.delete_object(&req)).await {
        // Gone already (S3 answers 404 to `If-Match` on a key that is not there).
        Err(Failure::S3(e)) if e.status() == Some(404) && e.code() != Some("NoSuchBucket") => {
            Ok(())
        }
        Err(Failure::S3(e)) if e.status() == Some(412) => Err(Error::new(
            ErrorKind::SourceKept,
            format!(
                "{to} holds {url} as it was read (ETag {}), but {url} changed since, so it was \
                 kept; move it again to take what it holds now",
                moved.etag
            ),
        )
        .with_source(e)),
        Err(f) => Err(f.into_error(
            format!("{to} holds {url}, but deleting {url} failed"),
            "move",
        )),
        Ok(()) => Ok(()),
    }
}
