//! Renames, for a sync that tracks them: what the destination lacks, held back until both
//! sides are read, is matched with what only the destination holds, by size and then by
//! content. Up, a file matched is copied on the server from the object that holds its bytes
//! ([`copied`]); down, the file that holds an object's bytes is moved to the object's path
//! ([`moved`]), each such file once, and is then no deletion.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use ferry_s3::{Directive, GetObjectRequest, ObjectClient};
use futures_util::StreamExt as _;
use tokio::sync::mpsc;

use super::judge::{Merged, PROBES, Probe, send};
use crate::context::Context;
use crate::download::{Download, Placement, Target, move_into};
use crate::error::{Error, ErrorKind};
use crate::outcome::{Check, DownloadOutcome, UploadOutcome};
use crate::tree::{Found, Item};
use crate::upload::Upload;

/// Sends the held items on to the transfers, each matched first (with `same`, when renames
/// are tracked) against what only the destination holds of the same size, several at a
/// time; an item whose bytes one holds is marked to be made from it. With `moves` (down:
/// files are moved, not copied), each of those serves one item, and is no longer deleted.
pub(super) async fn release(
    same: Option<&Probe>,
    moves: bool,
    merged: &mut Merged,
    tx: &mpsc::Sender<Found>,
) {
    let held = std::mem::take(&mut merged.held);
    let sizes: HashSet<u64> = held.iter().map(|i| i.size).collect();
    let mut by_size: HashMap<u64, Vec<Item>> = HashMap::new();
    if same.is_some() {
        for d in merged.deletions.iter().filter(|d| sizes.contains(&d.size)) {
            by_size.entry(d.size).or_default().push(d.clone());
        }
    }
    let matched = futures_util::stream::iter(held)
        .map(|item| {
            let candidates = by_size.get(&item.size).cloned().unwrap_or_default();
            matched(item, candidates, same.cloned())
        })
        .buffer_unordered(PROBES);
    let mut matched = std::pin::pin!(matched);
    let mut taken = HashSet::new();
    while let Some(mut item) = matched.next().await {
        if moves
            && let Some(from) = &item.held_by
            && !taken.insert(from.key.clone())
        {
            // Moved to another path already: this one is fetched.
            item.held_by = None;
        }
        merged.renamed += u64::from(item.held_by.is_some());
        if !send(item, tx, merged).await {
            break;
        }
    }
    if moves {
        merged.deletions.retain(|d| !taken.contains(&d.key));
    }
}

/// `item`, marked with the first of `candidates` that holds its bytes, if any.
async fn matched(mut item: Item, candidates: Vec<Item>, same: Option<Probe>) -> Item {
    let Some(same) = same else {
        return item;
    };
    for other in candidates {
        let (i, holds) = same(item, other.clone()).await;
        item = i;
        if matches!(holds, Ok(true)) {
            item.held_by = Some(Box::new(other));
            break;
        }
    }
    item
}

/// Up: the file at `path`, whose bytes `object` of the same bucket holds: `object` copied on
/// the server to the file's key, with what `upload` would give the file's object (content
/// type, metadata, the file's time and mode, tags, storage class, encryption, ACL), pinned to
/// the ETag it was compared by. A copy that fails (the object changed or went since, the
/// credentials may not read it) is no loss: the file is sent after all.
pub(crate) async fn copied<C: ObjectClient>(
    ctx: Context<C>,
    upload: Upload,
    path: PathBuf,
    object: Item,
) -> Result<UploadOutcome, Error> {
    let meta = std::fs::metadata(&path).map_err(|e| Error::unreadable("read", &path, e))?;
    if meta.len() != object.size {
        // Changed since it was compared: its bytes are sent.
        return crate::upload::run(ctx, upload).await;
    }
    let mut options = upload.options.clone();
    crate::mtime::stamp(&mut options, &meta);
    let from_bucket = object
        .bucket
        .clone()
        .unwrap_or_else(|| upload.bucket.clone());
    let copy = crate::Copy {
        from: crate::ObjectSource {
            bucket: from_bucket.clone(),
            key: object.key.clone(),
            sse_customer_key: options.request.sse_customer_key.clone(),
            metadata_directive: Directive::Replace,
            tagging_directive: Directive::Replace,
            if_match: object.etag.clone(),
            ..Default::default()
        },
        bucket: upload.bucket.clone(),
        key: upload.key.clone(),
        options,
        settings: upload.settings.clone(),
    };
    match crate::copy::run(ctx.clone(), copy).await {
        Ok(o) => {
            return Ok(UploadOutcome {
                copied_from: Some(object.key),
                copied_from_bucket: object.bucket,
                ..o
            });
        }
        Err(e) if e.kind() == ErrorKind::Cancelled => return Err(e),
        Err(e) => tracing::warn!(
            "{} is sent: copying s3://{from_bucket}/{} failed ({e})",
            path.display(),
            object.key
        ),
    }
    crate::upload::run(ctx, upload).await
}

/// Down: `file`, at a path the prefix no longer holds, holds the bytes of the object
/// `download` reads: moved to the object's path (never over a file) and given the time a
/// download gives it, if the object is still as it was compared (its ETag as listed) and the
/// file as walked (its size and time). Else, or across filesystems, the object is fetched.
pub(crate) async fn moved<C: ObjectClient>(
    ctx: Context<C>,
    download: Download,
    file: Item,
) -> Result<DownloadOutcome, Error> {
    let Target::File(target) = &download.target else {
        return crate::download::run(ctx, download).await;
    };
    let head = GetObjectRequest {
        bucket: download.bucket.clone(),
        key: download.key.clone(),
        version_id: download.version_id.clone(),
        request: download.request.clone(),
        ..Default::default()
    };
    let meta = ctx.request(None, |c| c.head_object(&head)).await.ok();
    let bare = |e: &str| e.trim_matches('"').to_string();
    let listed = download.listed.as_ref().map(|l| bare(&l.etag));
    let walked = std::fs::metadata(&file.path)
        .ok()
        .map(|m| (m.len(), m.modified().ok()));
    let placed = match meta {
        Some(meta)
            if listed.is_some_and(|e| e == bare(&meta.etag))
                && walked == Some((file.size, file.mtime)) =>
        {
            let to = Placement {
                target,
                no_clobber: true,
                folders: ctx.folders.as_deref(),
                mtime: crate::mtime::of_object(&meta),
                mode: None,
            };
            move_into(&file.path, &to)?.then_some(meta)
        }
        _ => None,
    };
    let Some(meta) = placed else {
        return crate::download::run(ctx, download).await;
    };
    Ok(DownloadOutcome {
        bucket: download.bucket,
        key: download.key,
        path: Some(target.clone()),
        data: None,
        size: meta.content_length,
        etag: meta.etag,
        version_id: meta.version_id,
        ranges: 0,
        fetched: 0,
        reused: 0,
        refetched: 0,
        check: Check::Moved,
        source_removed: false,
        pinned: download.version_id.is_some(),
        moved_from: Some(file.path),
    })
}
