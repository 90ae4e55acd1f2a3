//! A sync up's copy-from prefix (rclone's `--copy-dest`): before a file is sent, the object at
//! its path below that prefix, in the destination's bucket, is looked at (a HeadObject); where
//! the sync's comparison finds it the same as the file, it is copied on the server to the
//! destination instead. Yesterday's snapshot makes today's: only what changed is sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ferry_s3::{GetObjectRequest, ObjectClient, RequestOptions};
use tokio::sync::mpsc;

use super::Compare;
use super::judge::{PROBES, Probe, at_once};
use crate::context::Context;
use crate::error::Error;
use crate::tree::sides::{Direction, Sides, url};
use crate::tree::{Found, Item, keys};

/// Where files the destination lacks may be copied from, and how they are compared.
pub(super) struct CopyDest {
    /// The prefix, in the destination's bucket, as a folder.
    prefix: String,
    sides: Sides,
    request: RequestOptions,
    compare: Compare,
    probe: Probe,
    /// Files found there, to be copied.
    pub(super) found: AtomicU64,
}

impl CopyDest {
    /// Copies from `prefix` of the destination's bucket (`sides`), with what every request to
    /// it carries (`request`), for files `compare` and `probe` find the same; refused where it
    /// overlaps the destination (its objects would be listed as the destination's).
    pub(super) fn new(
        prefix: &str,
        sides: &Sides,
        request: &RequestOptions,
        (compare, probe): (Compare, Probe),
    ) -> Result<Self, Error> {
        let prefix = keys::as_folder(prefix);
        let dest = &sides.dest_prefix;
        if prefix.starts_with(dest.as_str()) || dest.starts_with(prefix.as_str()) {
            return Err(Error::invalid(format!(
                "the prefix to copy from, {}, overlaps the destination {}: give one beside it \
                 (an earlier snapshot's)",
                url(&sides.dest_bucket, &prefix),
                url(&sides.dest_bucket, dest)
            )));
        }
        Ok(Self {
            prefix,
            sides: sides.clone(),
            request: request.clone(),
            compare,
            probe,
            found: AtomicU64::new(0),
        })
    }

    /// `file`, marked to be copied from the object at its path below the prefix when that is
    /// the same; else as it was (the object missing, archived, unreadable, or other).
    async fn held<C: ObjectClient>(&self, ctx: &Context<C>, mut file: Item) -> Item {
        if file.held_by.is_some() {
            return file;
        }
        let key = format!("{}{}", self.prefix, self.sides.rel(&file, true));
        let head = GetObjectRequest {
            bucket: self.sides.dest_bucket.clone(),
            key: key.clone(),
            checksum_mode: true,
            request: self.request.clone(),
            ..Default::default()
        };
        let Ok(meta) = ctx.request(None, |c| c.head_object(&head)).await else {
            return file;
        };
        if meta.is_archived() {
            return file;
        }
        let object = Item {
            path: Default::default(),
            key,
            size: meta.content_length,
            etag: Some(meta.etag.clone()),
            mtime: meta
                .last_modified
                .as_deref()
                .and_then(|t| httpdate::parse_http_date(t).ok()),
            version_id: None,
            storage_class: None,
            in_destination: false,
            held_by: None,
        };
        let same = match at_once(Direction::Up, self.compare, &file, &object) {
            Some(same) => same,
            None => {
                let (back, same) = (self.probe)(file, object.clone()).await;
                file = back;
                matches!(same, Ok(true))
            }
        };
        if same {
            self.found.fetch_add(1, Ordering::Relaxed);
            file.held_by = Some(Box::new(object));
        }
        file
    }
}

/// The merge's transfers, each file looked for below the prefix to copy from first (several
/// at once).
pub(super) fn before_transfers<C: ObjectClient>(
    ctx: &Context<C>,
    from: Arc<CopyDest>,
    found: mpsc::Receiver<Found>,
) -> mpsc::Receiver<Found> {
    let ctx = ctx.clone();
    super::staged(found, PROBES, move |f| {
        let (ctx, from) = (ctx.clone(), from.clone());
        async move {
            Some(match f {
                Found::Item(i) => Found::Item(from.held(&ctx, i).await),
                other => other,
            })
        }
    })
}
