//! A prefix as it was at a time, as a tree's source: streamed as [`super::list::list`] streams
//! a prefix, a page of versions at a time, each key as [`crate::as_of`] chooses it.

use std::path::PathBuf;
use std::time::SystemTime;

use ferry_s3::{ListObjectVersionsRequest, ListObjectsRequest, ObjectClient};
use tokio::sync::mpsc;

use super::Found;
use super::keys::{Folders, path_for};
use super::list::place;
use crate::as_of::{AtTime, Chooser, shown};
use crate::context::Context;
use crate::error::{Error, ErrorKind};
use crate::outcome::ObjectFailure;

/// Lists `req.prefix` (empty or ending in `/`) of `req.bucket` as it was at `at`, page by page
/// into a channel, as [`super::list::list`] lists it now: each object the version it had
/// then, with the file it goes to below `root` (with no `root`, keys only). A key whose only
/// version came later with no version id fails ([`Found::Bad`]), saying that what it replaced
/// was not kept. A listing that finds nothing then ends with [`Found::Fatal`], unless `empty_ok`.
pub(crate) fn list_as_of<C: ObjectClient>(
    ctx: &Context<C>,
    req: ListObjectsRequest,
    root: Option<PathBuf>,
    at: SystemTime,
    capacity: usize,
    empty_ok: bool,
) -> mpsc::Receiver<Found> {
    let ctx = ctx.clone();
    super::fed(capacity, |tx| async move {
        let prefix = req.prefix.clone().unwrap_or_default();
        let url = format!("s3://{}/{prefix}", req.bucket);
        let what = format!("listing the versions under {url}");
        let mut req = ListObjectVersionsRequest {
            bucket: req.bucket,
            prefix: req.prefix,
            request: req.request,
            ..Default::default()
        };
        let when = shown(at);
        let mut folders = Folders::default();
        let mut chooser = Chooser::new(at);
        let mut any = false;
        let bucket = req.bucket.clone();
        // What a key had then, as the tree takes it.
        let mut found = |key: String, then: AtTime| -> Option<Found> {
            match then {
                AtTime::Version(v) => {
                    let f = place(
                        root.as_deref(),
                        &prefix,
                        &mut folders,
                        &bucket,
                        v.object,
                        Some(v.version_id),
                    )?;
                    any |= !matches!(f, Found::PassedOver(_));
                    Some(f)
                }
                AtTime::Absent => None,
                // Not known, so not to be taken as absent (a sync would delete it): a failure
                // of its own, which also holds a sync's deletions back.
                AtTime::Unknown(v) => {
                    any = true;
                    Some(Found::Bad(ObjectFailure {
                        error: Error::new(
                            ErrorKind::Service,
                            format!(
                                "s3://{bucket}/{key} was written at {} with no version id \
                             (versioning off or suspended), so what it held at {when} was not \
                             kept",
                                v.object
                                    .last_modified
                                    .as_deref()
                                    .unwrap_or("an unknown time")
                            ),
                        ),
                        path: match &root {
                            Some(root) => match path_for(root, &prefix, &key) {
                                Ok(Some(path)) => path,
                                _ => root.clone(),
                            },
                            None => PathBuf::from(format!("s3://{bucket}/{key}")),
                        },
                        key,
                    }))
                }
            }
        };
        loop {
            let page = match ctx.request(None, |c| c.list_object_versions(&req)).await {
                Ok(p) => p,
                Err(f) => {
                    let _ = tx.send(Found::Fatal(f.into_error(&what, "download"))).await;
                    return;
                }
            };
            let more = req.advance(&page);
            for v in page.versions {
                if let Some(f) = chooser.push(v).and_then(|(k, then)| found(k, then))
                    && tx.send(f).await.is_err()
                {
                    return;
                }
            }
            match more {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    let _ = tx.send(Found::Fatal(Error::from_s3(&what, e))).await;
                    return;
                }
            }
        }
        if let Some(f) = chooser.finish().and_then(|(k, then)| found(k, then))
            && tx.send(f).await.is_err()
        {
            return;
        }
        if !any && !empty_ok {
            let e = Error::invalid(format!(
                "no objects under {url} as of {when}; check the bucket, the prefix and the time"
            ));
            let _ = tx.send(Found::Fatal(e)).await;
        }
    })
}
