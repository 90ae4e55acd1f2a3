//! Prefix to prefix: every object under a source prefix to the same key below a destination
//! prefix, as one transfer of many objects. On one server each object is a server-side copy
//! (CopyObject, or UploadPartCopy parts: no byte passes through ferry, resumable as any copy);
//! between servers (a source [`Context`] of its own), each is streamed through ferry: ranges
//! downloaded and checked, parts uploaded and checksummed.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ferry_s3::{Directive, ListObjectsRequest, ObjectClient, ObjectOptions, RequestOptions};
use tokio::sync::{Semaphore, mpsc};

const MIB: u64 = 1024 * 1024;

use super::filter::{Filters, Named, selected_all};
use super::sides::{Direction, Sides, report_only};
use super::{Ended, Found, Item, keys, run};
use crate::context::Context;
use crate::copy::{Copy, ObjectSource};
use crate::error::Error;
use crate::job::UploadSettings;
use crate::outcome::{TreeOutcome, UploadOutcome};
use crate::progress::Event;
use crate::shard::Shard;

/// A prefix to a prefix: every object under `from_bucket`/`from_prefix` to `bucket`/`prefix`
/// and its key below the source prefix.
#[derive(Debug, Clone)]
pub struct TreeCopy {
    /// Source bucket.
    pub from_bucket: String,
    /// Source prefix (a `/` is added when it has none; empty: the whole bucket).
    pub from_prefix: String,
    /// Sent with every request to the source: its SSE-C key, expected bucket owner,
    /// requester pays.
    pub from_request: RequestOptions,
    /// `Copy` (default): each object keeps its source's content headers, metadata and tags;
    /// `Replace`: it takes those of `options`.
    pub metadata_directive: Directive,
    /// `Replace`: each object takes `options`' tags, and its source's are not read (see
    /// [`ObjectSource::tagging_directive`]). By default, `Copy`.
    pub tagging_directive: Directive,
    /// Destination bucket.
    pub bucket: String,
    /// Destination prefix (a `/` is added when it has none; empty: the bucket's top).
    pub prefix: String,
    /// What each new object carries.
    pub options: ObjectOptions,
    /// How each object is copied.
    pub settings: UploadSettings,
    /// Which objects take part, by their key below `from_prefix` (every one by default).
    pub filters: Filters,
    /// Only the objects of this shard (see [`Shard::owns`]).
    pub shard: Option<Shard>,
    /// Only report what would be copied (see [`Event::Synced`]), copy nothing.
    pub dry_run: bool,
    /// Each source object as it was at this time (see [`super::TreeDownload::as_of`]): the
    /// version then current is copied. By default (`None`), each as it is now.
    pub as_of: Option<std::time::SystemTime>,
    /// Pass over each archived source object no restored copy of which is readable, rather
    /// than fail it (see [`TreeDownload::skip_archived`](crate::TreeDownload::skip_archived)).
    pub skip_archived: bool,
}

impl TreeCopy {
    /// Every object under `from_bucket`/`from_prefix` to `bucket`/`prefix`, with default
    /// options and settings.
    pub fn new(
        from_bucket: impl Into<String>,
        from_prefix: &str,
        bucket: impl Into<String>,
        prefix: &str,
    ) -> Self {
        Self {
            from_bucket: from_bucket.into(),
            from_prefix: from_prefix.to_string(),
            from_request: RequestOptions::default(),
            metadata_directive: Directive::Copy,
            tagging_directive: Directive::Copy,
            bucket: bucket.into(),
            prefix: prefix.to_string(),
            options: ObjectOptions::default(),
            settings: UploadSettings::default(),
            filters: Filters::default(),
            shard: None,
            dry_run: false,
            as_of: None,
            skip_archived: false,
        }
    }

    /// The listing of the source prefix.
    pub(crate) fn source_listing(&self) -> ListObjectsRequest {
        super::folder_listing(&self.from_bucket, &self.from_prefix, &self.from_request)
    }

    /// The listing of the destination prefix.
    pub(crate) fn destination_listing(&self) -> ListObjectsRequest {
        super::folder_listing(&self.bucket, &self.prefix, &self.options.request)
    }

    /// Its sides: the source prefix's keys to the same keys below the destination prefix.
    pub(crate) fn sides(&self) -> Sides {
        Sides {
            direction: Direction::Copy,
            source_bucket: self.from_bucket.clone(),
            source_prefix: keys::as_folder(&self.from_prefix),
            dest_bucket: self.bucket.clone(),
            dest_prefix: keys::as_folder(&self.prefix),
        }
    }

    /// On one server, refuses two prefixes of one bucket where one holds the other: what is
    /// copied would be listed and copied again. One prefix onto itself is let through when
    /// `in_place` and the copy changes what S3 lets a copy onto itself change ([`rewrites`]):
    /// each object is copied onto itself (the listing goes by key, so none is listed twice);
    /// and when `restore` (a sync) and `as_of` is given: what differs from its version then is
    /// copied over from it.
    ///
    /// [`rewrites`]: Self::rewrites
    pub(crate) fn check_overlap(&self, in_place: bool, restore: bool) -> Result<(), Error> {
        let (a, b) = (
            keys::as_folder(&self.from_prefix),
            keys::as_folder(&self.prefix),
        );
        if self.from_bucket != self.bucket || !(a.starts_with(&b) || b.starts_with(&a)) {
            return Ok(());
        }
        if a == b && ((in_place && self.rewrites()) || (restore && self.as_of.is_some())) {
            return Ok(());
        }
        let hint = match (a == b, in_place, self.as_of.is_some()) {
            (true, _, true) => {
                "; to make a prefix what it was, in place, sync it onto itself as of that time \
                 (with deletions, what was not there then goes)"
            }
            (true, true, false) => {
                "; to rewrite each object in place, copy with the REPLACE metadata directive \
                 and new metadata, another storage class or other encryption"
            }
            _ => "",
        };
        Err(Error::invalid(format!(
            "the source prefix {a:?} and the destination prefix {b:?} overlap in s3://{}: \
             copies would be listed and copied again; choose prefixes that do not contain each \
             other{hint}",
            self.bucket
        )))
    }

    /// Whether a copy of an object onto itself changes something S3 lets it change: its
    /// metadata replaced, its storage class (a restored archive kept for good, or an object
    /// sent to a colder class), or its encryption.
    fn rewrites(&self) -> bool {
        self.metadata_directive == Directive::Replace
            || self.options.storage_class.is_some()
            || self.options.sse.is_some()
    }

    /// When the copy is of a prefix onto itself and changes only the storage class: that
    /// class. An object listed in it already is left as it is ([`left_in_class`]).
    fn class_in_place(&self) -> Option<&str> {
        let in_place = self.from_bucket == self.bucket
            && keys::as_folder(&self.from_prefix) == keys::as_folder(&self.prefix);
        let only_class = self.metadata_directive == Directive::Copy
            && self.options.sse.is_none()
            && self.as_of.is_none();
        (in_place && only_class)
            .then_some(self.options.storage_class.as_deref())
            .flatten()
    }

    /// The destination key of source key `key`.
    pub(crate) fn key_for(&self, key: &str) -> String {
        let from = keys::as_folder(&self.from_prefix);
        let rel = key.strip_prefix(from.as_str()).unwrap_or(key);
        format!("{}{rel}", keys::as_folder(&self.prefix))
    }
}

/// One copied object, and the object it was copied from.
pub(crate) struct Copied {
    from: String,
    outcome: UploadOutcome,
}

impl Ended for Copied {
    fn event(&self, _item: &Item) -> Event {
        Event::ObjectCopied {
            from: self.from.clone(),
            outcome: Box::new(self.outcome.clone()),
        }
    }
    fn reused(&self) -> u64 {
        self.outcome.reused
    }
    fn size(&self) -> u64 {
        self.outcome.size
    }
}

/// Copies a prefix in `ctx`, reading through `source` when it is another server.
pub(crate) async fn copy<C: ObjectClient, D: ObjectClient>(
    ctx: Context<C>,
    source: Option<Context<D>>,
    tree: TreeCopy,
) -> Result<TreeOutcome, Error> {
    crate::job::check(&tree.settings, &tree.options)?;
    crate::moving::not_as_of(tree.settings.remove_source, tree.as_of)?;
    if source.is_none() {
        // A move cannot rewrite objects in place: each would be deleted once copied.
        tree.check_overlap(!tree.settings.remove_source, false)?;
    }
    tree.filters.walks_none("a copy between prefixes")?;
    let (listing, at) = (tree.source_listing(), (tree.as_of, &tree.filters));
    let found = match &source {
        Some(s) => super::source_list(s, listing, None, at, false),
        None => super::source_list(&ctx, listing, None, at, false),
    };
    let filters = tree.filters.for_run(tree.shard);
    let (from, to) = (
        keys::as_folder(&tree.from_prefix),
        keys::as_folder(&tree.prefix),
    );
    let (bucket, from_prefix) = (tree.from_bucket.clone(), from.clone());
    let named: Named = Box::new(move |rel| {
        let source = format!("s3://{bucket}/{from_prefix}{rel}");
        (source.into(), format!("{to}{rel}"))
    });
    let found = selected_all(found, filters, from, named);
    // In place to a storage class: those in it already are left, said so in a dry run too.
    let class = source.is_none().then(|| tree.class_in_place()).flatten();
    let (found, left) = match class {
        Some(class) => left_in_class(&ctx, found, &tree.from_bucket, class),
        None => (found, Arc::default()),
    };
    let mut outcome = match tree.dry_run {
        true => report_only(&ctx, found, &tree.sides()).await?,
        false => copy_found(ctx, source, tree, found).await?,
    };
    outcome.existed += left.load(Ordering::Relaxed);
    Ok(outcome)
}

/// Passes on what `found` yields but for the objects listed in the storage `class` already,
/// each reported as left as it is ([`Event::Existed`]) and counted in the number returned
/// (once `found` has ended). Copied onto itself, such an object would change in nothing but
/// its date (and, in a versioned bucket, gain a version), for a request and its bytes copied;
/// so the same copy run again does only what is left.
fn left_in_class<C: ObjectClient>(
    ctx: &Context<C>,
    mut found: mpsc::Receiver<Found>,
    bucket: &str,
    class: &str,
) -> (mpsc::Receiver<Found>, Arc<AtomicU64>) {
    let left = Arc::new(AtomicU64::new(0));
    let (ctx, bucket, class, counted) = (
        ctx.clone(),
        bucket.to_string(),
        class.to_string(),
        left.clone(),
    );
    let rx = super::fed(super::READ_AHEAD, |tx| async move {
        while let Some(f) = found.recv().await {
            let f = match f {
                Found::Item(i) if i.storage_class.as_deref() == Some(class.as_str()) => {
                    ctx.caught_up().await;
                    counted.fetch_add(1, Ordering::Relaxed);
                    let url = format!("s3://{bucket}/{}", i.key);
                    ctx.emit(Event::Existed {
                        why: format!("{url} is in the storage class {class} already"),
                        path: PathBuf::from(url),
                        key: i.key,
                    });
                    continue;
                }
                f => f,
            };
            if tx.send(f).await.is_err() {
                return;
            }
        }
    });
    (rx, left)
}

/// Copies what `found` (items of the source prefix) yields, as `tree` says.
pub(crate) async fn copy_found<C: ObjectClient, D: ObjectClient>(
    ctx: Context<C>,
    source: Option<Context<D>>,
    tree: TreeCopy,
    found: mpsc::Receiver<Found>,
) -> Result<TreeOutcome, Error> {
    let weight = super::parts_weight(tree.settings.plan);
    // Between servers, each object holds up to its first part in memory from start to end
    // (a stream upload's first block); objects start only while half the memory budget
    // covers theirs, so the other half keeps their downloads moving.
    let total = ctx.shared.memory.total();
    let held_mib = (total / 2 / MIB).max(1);
    let first_blocks = Arc::new(Semaphore::new(held_mib as usize));
    let threshold = tree.settings.plan.multipart_threshold.max(1);
    let archived = tree.skip_archived.then(|| tree.from_bucket.clone());
    // A failed copy is named by its source's URL (as `path`) and the key it was to have.
    let naming = tree.clone();
    let name = move |item: &Item| {
        let url = format!("s3://{}/{}", naming.from_bucket, item.key);
        (PathBuf::from(url), naming.key_for(&item.key))
    };
    let start = move |ctx: Context<C>, item: Item| {
        let first_block = source.as_ref().map(|_| {
            let mib = item.size.saturating_add(1).min(threshold).div_ceil(MIB);
            (first_blocks.clone(), mib.clamp(1, held_mib) as u32)
        });
        let from = ObjectSource {
            bucket: tree.from_bucket.clone(),
            key: item.key.clone(),
            version_id: item.version_id.clone(),
            as_of: None,
            sse_customer_key: tree.from_request.sse_customer_key.clone(),
            metadata_directive: tree.metadata_directive,
            tagging_directive: tree.tagging_directive,
            if_match: None,
        };
        let url = from.url();
        let copy = Copy {
            from,
            bucket: tree.bucket.clone(),
            key: tree.key_for(&item.key),
            options: tree.options.clone(),
            settings: tree.settings.clone(),
        };
        // Between servers, the source is read under this object's cancellation.
        let read = source.as_ref().map(|s| Context {
            cancel: ctx.cancel.child_token(),
            ..s.child()
        });
        async move {
            let _held = match first_block {
                Some((blocks, mib)) => Some(
                    blocks
                        .acquire_many_owned(mib)
                        .await
                        .expect("the semaphore is never closed"),
                ),
                None => None,
            };
            let outcome = match read {
                Some(read) => crate::crosscopy::run(ctx, read, copy).await,
                None => crate::copy::run(ctx, copy).await,
            };
            outcome.map(|outcome| Copied { from: url, outcome })
        }
    };
    run(ctx, found, weight, start, &name, archived.as_deref()).await
}
