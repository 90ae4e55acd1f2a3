//! The two sides of a tree or a sync (which way data moves, each side's bucket and prefix),
//! how an event names an item of them, and a dry run: what a tree would move, reported.

use ferry_s3::ObjectClient;
use tokio::sync::mpsc;

use super::{Found, Item, Tally};
use crate::context::Context;
use crate::error::Error;
use crate::outcome::{ObjectFailure, SyncAction, TreeOutcome};
use crate::progress::Event;

/// `s3://bucket/key`.
pub(crate) fn url(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}

/// Which side is which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Up,
    Down,
    Copy,
}

/// The two sides of a tree or a sync: the way data moves, the prefix each side's keys start
/// with, and the buckets (empty for a folder's side), which name items in events.
#[derive(Debug, Clone)]
pub(crate) struct Sides {
    pub(crate) direction: Direction,
    pub(crate) source_bucket: String,
    pub(crate) source_prefix: String,
    pub(crate) dest_bucket: String,
    pub(crate) dest_prefix: String,
}

impl Sides {
    /// The sides of a tree between a folder and `prefix` in `bucket`: the folder's paths are
    /// keys below the same prefix.
    pub(crate) fn folder(direction: Direction, bucket: &str, prefix: String) -> Self {
        let (mut source_bucket, mut dest_bucket) = (String::new(), bucket.to_string());
        if direction == Direction::Down {
            std::mem::swap(&mut source_bucket, &mut dest_bucket);
        }
        Sides {
            direction,
            source_bucket,
            source_prefix: prefix.clone(),
            dest_bucket,
            dest_prefix: prefix,
        }
    }

    /// An item's key below its side's prefix: what the two sides match on.
    pub(crate) fn rel<'a>(&self, i: &'a Item, source: bool) -> &'a str {
        let prefix = if source {
            &self.source_prefix
        } else {
            &self.dest_prefix
        };
        i.key.strip_prefix(prefix.as_str()).unwrap_or(&i.key)
    }

    /// The transfer a source item needs.
    pub(crate) fn transfer(&self) -> SyncAction {
        match self.direction {
            Direction::Up => SyncAction::Upload,
            Direction::Down => SyncAction::Download,
            Direction::Copy => SyncAction::Copy,
        }
    }

    /// A source item's destination key.
    pub(crate) fn dest_key(&self, i: &Item) -> String {
        match self.direction {
            Direction::Copy => format!("{}{}", self.dest_prefix, self.rel(i, true)),
            _ => i.key.clone(),
        }
    }

    /// What an event says of source item `i`: its key, its name (a file renamed: the object
    /// it is copied from), and where it goes.
    pub(crate) fn names(&self, i: &Item) -> (String, String, String) {
        let key = self.dest_key(i);
        match self.direction {
            Direction::Up => (
                key.clone(),
                match &i.held_by {
                    Some(o) => url(o.bucket.as_deref().unwrap_or(&self.dest_bucket), &o.key),
                    None => i.path.display().to_string(),
                },
                url(&self.dest_bucket, &key),
            ),
            Direction::Down => (
                i.key.clone(),
                match &i.held_by {
                    Some(file) => file.path.display().to_string(),
                    None => url(&self.source_bucket, &i.key),
                },
                i.path.display().to_string(),
            ),
            Direction::Copy => (
                key.clone(),
                url(&self.source_bucket, &i.key),
                url(&self.dest_bucket, &key),
            ),
        }
    }

    /// Source item `i`'s failure, named as the transfers name theirs: the file or the
    /// source's URL, and the key written or read.
    pub(crate) fn failure(&self, i: &Item, error: Error) -> ObjectFailure {
        let (path, key) = match self.direction {
            Direction::Copy => (url(&self.source_bucket, &i.key).into(), self.dest_key(i)),
            _ => (i.path.clone(), i.key.clone()),
        };
        ObjectFailure { path, key, error }
    }

    /// Reports a decision about source item `i`, once a watcher that asked for every event
    /// has room for it.
    pub(crate) async fn report<C: ObjectClient>(
        &self,
        ctx: &Context<C>,
        action: SyncAction,
        i: &Item,
        dry_run: bool,
    ) {
        let (key, from, to) = self.names(i);
        ctx.caught_up().await;
        ctx.emit(Event::Synced {
            action,
            key,
            from,
            to: Some(to),
            size: i.size,
            in_destination: i.in_destination,
            dry_run,
        });
    }
}

/// A dry run: reports each object `found` yields as the transfer it would be (an
/// [`Event::Synced`] with `dry_run`), counted in `objects` and `bytes`; an entry that cannot
/// be transferred fails as it would. Nothing is transferred.
pub(crate) async fn report_only<C: ObjectClient>(
    ctx: &Context<C>,
    mut found: mpsc::Receiver<Found>,
    sides: &Sides,
) -> Result<TreeOutcome, Error> {
    // Only entries that cannot be transferred fail here, named as found.
    let mut tally = Tally::new(ctx, &super::as_listed, None);
    loop {
        ctx.caught_up().await;
        let next = tokio::select! {
            f = found.recv() => f,
            () = ctx.cancel.cancelled() => {
                tally.outcome.interrupted = true;
                None
            }
        };
        match next {
            None => return Ok(tally.outcome),
            Some(Found::Fatal(e)) => return Err(e),
            Some(Found::Bad(f)) => {
                tally.outcome.objects += 1;
                tally.failed(f, 0);
            }
            Some(Found::PassedOver(p)) => tally.passed_over(p),
            Some(Found::Item(i)) => {
                tally.outcome.objects += 1;
                tally.outcome.bytes += i.size;
                let action = match (&i.held_by, sides.direction) {
                    (Some(_), Direction::Down) => SyncAction::Move,
                    (Some(_), _) => SyncAction::Copy,
                    (None, _) => sides.transfer(),
                };
                sides.report(ctx, action, &i, true).await;
            }
        }
    }
}
