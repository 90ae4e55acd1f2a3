//! A prefix's objects asked for by name: where a short list names what to take
//! ([`Filters::only_paths`](super::Filters::only_paths), rclone's `--files-from`), each named
//! key is asked for alone (a HeadObject, several at once) rather than the prefix listed, as
//! rclone does. Ten files out of a prefix of millions then cost ten requests, not thousands
//! of pages. A list longer than one round of HeadObjects first lists one page, which settles
//! the names it spans: a prefix of a page or less costs that one request, whatever the list
//! names.

use std::path::PathBuf;

use ferry_s3::{GetObjectRequest, ListObjectsRequest, ObjectClient, ObjectInfo};
use futures_util::StreamExt as _;
use tokio::sync::mpsc;

use super::Found;
use super::keys::{Folders, path_for};
use super::list::{Pages, Skips, place};
use crate::context::Context;
use crate::error::ErrorKind;
use crate::outcome::ObjectFailure;

/// The most paths a list may name for them to be asked for alone. Asked 32 at a time, 1,000
/// take about as many round trips as the listing of a prefix of 32,000 objects: beyond that,
/// listing is the safer bet.
pub(crate) const ASKED_ALONE: usize = 1_000;

/// HeadObjects at once.
const AT_ONCE: usize = 32;

/// The objects `paths` (in byte order) names below `req`'s prefix (each path's key the prefix
/// and the path), each asked for alone with what `req` carries (the SSE-C key included), in
/// the list's order, into a channel of `capacity`: with `root`, each with the file it goes to
/// below it (as [`list`](super::list::list) places them). More than [`AT_ONCE`] paths: one
/// page of the listing first, from just before the first name, and only the paths past it
/// asked for alone. A path with no
/// object is not yielded: the tree fails it as not found. One the server will not say about
/// fails, named.
pub(crate) fn asked<C: ObjectClient>(
    ctx: &Context<C>,
    req: ListObjectsRequest,
    root: Option<PathBuf>,
    paths: Vec<String>,
    capacity: usize,
) -> mpsc::Receiver<Found> {
    let ctx = ctx.clone();
    super::fed(capacity, |tx| async move {
        let prefix = req.prefix.clone().unwrap_or_default();
        let bucket = req.bucket.clone();
        let head = |path: String| {
            let head = GetObjectRequest {
                bucket: bucket.clone(),
                key: format!("{prefix}{path}"),
                request: req.request.clone(),
                ..Default::default()
            };
            let ctx = ctx.clone();
            async move {
                let meta = ctx.request(None, |c| c.head_object(&head)).await;
                (head.key, meta)
            }
        };
        let mut folders = Folders::default();
        let mut paths = paths;
        if paths.len() > AT_ONCE {
            // A page costs a round of HeadObjects, and may answer for all of them: the page
            // from just before the first name.
            let skips = Skips::named(Some(paths.clone()));
            let page = match Pages::new(ctx.clone(), req.clone(), skips).next().await {
                Some(Ok(page)) => page,
                Some(Err(e)) => {
                    let _ = tx.send(Found::Fatal(e)).await;
                    return;
                }
                None => return,
            };
            let last = match page.next_continuation_token {
                None => None,
                Some(_) => Some(page.objects.last().map_or("", |o| &o.key[prefix.len()..])),
            };
            let spanned = paths.partition_point(|p| last.is_none_or(|l| p.as_str() <= l));
            let rest = paths.split_off(spanned);
            let mut objects = page.objects.iter().peekable();
            for path in std::mem::replace(&mut paths, rest) {
                let key = format!("{prefix}{path}");
                while objects.next_if(|o| o.key < key).is_some() {}
                let Some(o) = objects.next_if(|o| o.key == key) else {
                    continue;
                };
                let placed = place(
                    root.as_deref(),
                    &prefix,
                    &mut folders,
                    &bucket,
                    o.clone(),
                    None,
                );
                if let Some(found) = placed
                    && tx.send(found).await.is_err()
                {
                    return;
                }
            }
        }
        let mut answers = std::pin::pin!(
            futures_util::stream::iter(paths)
                .map(head)
                .buffered(AT_ONCE)
        );
        while let Some((key, meta)) = answers.next().await {
            let found = match meta {
                Ok(meta) => {
                    let o = ObjectInfo {
                        key,
                        size: meta.content_length,
                        etag: Some(meta.etag),
                        last_modified: meta.last_modified.as_deref().and_then(rfc3339),
                        storage_class: meta.storage_class,
                    };
                    let placed = place(root.as_deref(), &prefix, &mut folders, &bucket, o, None);
                    match placed {
                        Some(found) => found,
                        None => continue,
                    }
                }
                Err(f) => {
                    let url = format!("s3://{bucket}/{key}");
                    let e = f.into_error(format!("looking at {url}"), "transfer");
                    match e.s3().and_then(|e| e.status()) {
                        Some(404) => continue,
                        // Nothing more is asked, as a listing stops.
                        _ if e.kind() == ErrorKind::Cancelled => {
                            let _ = tx.send(Found::Fatal(e)).await;
                            return;
                        }
                        _ => Found::Bad(ObjectFailure {
                            path: root
                                .as_deref()
                                .and_then(|r| path_for(r, &prefix, &key).ok().flatten())
                                .unwrap_or_default(),
                            key,
                            error: e,
                        }),
                    }
                }
            };
            if tx.send(found).await.is_err() {
                return;
            }
        }
    })
}

/// An HTTP date (a HeadObject's `Last-Modified`) as RFC 3339, as a listing gives it.
fn rfc3339(http: &str) -> Option<String> {
    let t = httpdate::parse_http_date(http).ok()?;
    let t = time::OffsetDateTime::from(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .ok()
}
