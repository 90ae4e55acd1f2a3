//! A sync up's reference prefix, an earlier snapshot's: before a file is sent, the object at
//! its path below that prefix (in the destination's bucket, or another of its server's) is
//! looked at (a HeadObject). Where the sync's comparison finds it the same as the file, the
//! file is not sent: with rclone's `--copy-dest`, that object is copied on the server to the
//! destination instead (yesterday's full snapshot makes today's: only what changed is sent);
//! with `--compare-dest`, nothing is written (a differential snapshot holds only what
//! changed since the full one).

use std::sync::{Arc, Mutex};

use ferry_s3::{GetObjectRequest, ListObjectsRequest, ObjectClient, RequestOptions};
use tokio::sync::mpsc;

use super::Compare;
use super::judge::{PROBES, Probe, at_once};
use crate::context::Context;
use crate::error::Error;
use crate::outcome::SyncAction;
use crate::progress::Event;
use crate::tree::sides::{Direction, Sides, url};
use crate::tree::{Found, Item, keys};

/// What a file found the same below the reference prefix comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Use {
    /// Copied from there on the server ([`SyncSettings::copy_dest`](super::SyncSettings)).
    Copy,
    /// Not sent at all ([`SyncSettings::compare_dest`](super::SyncSettings)).
    Compare,
}

impl Use {
    /// What the prefix is for, in words.
    pub(super) fn what(self) -> &'static str {
        match self {
            Use::Copy => "to copy from",
            Use::Compare => "to compare with",
        }
    }
}

/// Where a file the destination lacks is looked for first, how it is compared, and what one
/// found the same comes to.
pub(super) struct Reference {
    /// The bucket, on the destination's server.
    bucket: String,
    /// The prefix, as a folder.
    prefix: String,
    sides: Sides,
    request: RequestOptions,
    compare: Compare,
    probe: Probe,
    pub(super) used: Use,
    /// Files found the same there.
    pub(super) found: Mutex<Matched>,
}

/// Files found the same below the reference prefix.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Matched {
    pub(super) files: u64,
    pub(super) bytes: u64,
}

impl Reference {
    /// Looks below `prefix` of `bucket` (else of the destination's bucket, `sides`), with what
    /// every request to the destination carries (`request`), for files `compare` and `probe`
    /// find the same, to be `used`; refused where it overlaps the destination (its objects
    /// would be listed as the destination's).
    pub(super) fn new(
        (bucket, prefix): (Option<&str>, &str),
        sides: &Sides,
        request: &RequestOptions,
        (compare, probe): (Compare, Probe),
        used: Use,
    ) -> Result<Self, Error> {
        let prefix = keys::as_folder(prefix);
        let bucket = bucket.unwrap_or(&sides.dest_bucket).to_string();
        let dest = &sides.dest_prefix;
        let overlaps = prefix.starts_with(dest.as_str()) || dest.starts_with(prefix.as_str());
        if bucket == sides.dest_bucket && overlaps {
            let what = used.what();
            return Err(Error::invalid(format!(
                "the prefix {what}, {}, overlaps the destination {}: give one beside it \
                 (an earlier snapshot's)",
                url(&sides.dest_bucket, &prefix),
                url(&sides.dest_bucket, dest)
            )));
        }
        Ok(Self {
            bucket,
            prefix,
            sides: sides.clone(),
            request: request.clone(),
            compare,
            probe,
            used,
            found: Mutex::default(),
        })
    }

    /// In another bucket than the destination's: that the bucket is there (one listing of a
    /// key), so that a mistyped name fails the sync rather than have every file sent; a
    /// prefix that holds nothing is warned of. A refusal to list is left to each file's
    /// HeadObject.
    pub(super) async fn check<C: ObjectClient>(&self, ctx: &Context<C>) -> Result<(), Error> {
        if self.bucket == self.sides.dest_bucket {
            return Ok(());
        }
        let req = ListObjectsRequest {
            bucket: self.bucket.clone(),
            prefix: Some(self.prefix.clone()),
            max_keys: Some(1),
            request: self.request.bucket_terms(),
            ..Default::default()
        };
        let at = url(&self.bucket, &self.prefix);
        match ctx.request(None, |c| c.list_objects(&req)).await {
            Ok(page) if page.objects.is_empty() => {
                tracing::warn!("{at} holds nothing: every file is sent");
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(f) => {
                let e = f.into_error(format!("looking below {at}"), "sync");
                match e.s3().and_then(|e| e.status()) {
                    Some(404) => Err(Error::invalid(format!(
                        "the prefix {}: {e}",
                        self.used.what()
                    ))),
                    _ => Ok(()),
                }
            }
        }
    }

    /// `file` as the transfers get it: marked to be copied from the object at its path below
    /// the prefix when that is the same ([`Use::Copy`]), or none, reported as the same, when
    /// that is the same and the destination lacks the file ([`Use::Compare`]); else as it was
    /// (the object missing, archived, unreadable, or other).
    async fn looked_up<C: ObjectClient>(
        &self,
        ctx: &Context<C>,
        file: Item,
        dry_run: bool,
    ) -> Option<Item> {
        // A file the destination holds otherwise is sent whatever the prefix to compare with
        // holds: left out, the destination's stale object would stand over that one when
        // the two are restored one over the other.
        if file.held_by.is_some() || (self.used == Use::Compare && file.in_destination) {
            return Some(file);
        }
        let (mut file, object) = self.same(ctx, file).await;
        let Some(object) = object else {
            return Some(file);
        };
        {
            let mut m = self.found.lock().expect("reference lock");
            m.files += 1;
            m.bytes += file.size;
        }
        match self.used {
            Use::Copy => {
                file.held_by = Some(Box::new(object));
                Some(file)
            }
            Use::Compare => {
                let (key, from, _) = self.sides.names(&file);
                ctx.caught_up().await;
                ctx.emit(Event::Synced {
                    action: SyncAction::Skip,
                    key,
                    from,
                    to: Some(url(&self.bucket, &object.key)),
                    size: file.size,
                    in_destination: file.in_destination,
                    dry_run,
                });
                None
            }
        }
    }

    /// `file`, and the object at its path below the prefix if that is the same.
    async fn same<C: ObjectClient>(
        &self,
        ctx: &Context<C>,
        mut file: Item,
    ) -> (Item, Option<Item>) {
        let key = format!("{}{}", self.prefix, self.sides.rel(&file, true));
        let head = GetObjectRequest {
            bucket: self.bucket.clone(),
            key: key.clone(),
            checksum_mode: true,
            request: self.request.clone(),
            ..Default::default()
        };
        let Ok(meta) = ctx.request(None, |c| c.head_object(&head)).await else {
            return (file, None);
        };
        if meta.is_archived() {
            return (file, None);
        }
        let other = (self.bucket != self.sides.dest_bucket).then(|| self.bucket.clone());
        let object = Item {
            bucket: other,
            ..Item::headed(Default::default(), key, &meta)
        };
        let same = match at_once(Direction::Up, self.compare, &file, &object) {
            Some(same) => same,
            None => {
                let (back, same) = (self.probe)(file, object.clone()).await;
                file = back;
                matches!(same, Ok(true))
            }
        };
        (file, same.then_some(object))
    }
}

/// The merge's transfers, each file looked for below the reference prefix first (several at
/// once).
pub(super) fn before_transfers<C: ObjectClient>(
    ctx: &Context<C>,
    from: Arc<Reference>,
    found: mpsc::Receiver<Found>,
    dry_run: bool,
) -> mpsc::Receiver<Found> {
    let ctx = ctx.clone();
    super::staged(found, PROBES, move |f| {
        let (ctx, from) = (ctx.clone(), from.clone());
        async move {
            match f {
                Found::Item(i) => from.looked_up(&ctx, i, dry_run).await.map(Found::Item),
                other => Some(other),
            }
        }
    })
}
