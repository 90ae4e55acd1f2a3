//! Renames, for a sync up that tracks them: the files the destination lacks, held back until
//! both sides are read, are matched with the objects only the destination holds, by size and
//! then by content; a file matched is copied from its object on the server rather than sent.

use std::collections::{HashMap, HashSet};

use futures_util::StreamExt as _;
use tokio::sync::mpsc;

use super::judge::{Merged, PROBES, Probe, send};
use crate::tree::{Found, Item};

/// Sends the held files on to the transfers, each matched first (with `same`, when renames
/// are tracked) against the objects of the same size only the destination holds, several
/// files at a time; a file that holds an object's bytes is marked to be copied from it.
pub(super) async fn release(same: Option<&Probe>, merged: &mut Merged, tx: &mpsc::Sender<Found>) {
    let held = std::mem::take(&mut merged.held);
    let sizes: HashSet<u64> = held.iter().map(|i| i.size).collect();
    let mut by_size: HashMap<u64, Vec<Item>> = HashMap::new();
    if same.is_some() {
        for d in merged.deletions.iter().filter(|d| sizes.contains(&d.size)) {
            by_size.entry(d.size).or_default().push(d.clone());
        }
    }
    let matched = futures_util::stream::iter(held)
        .map(|file| {
            let candidates = by_size.get(&file.size).cloned().unwrap_or_default();
            let same = same.cloned();
            async move { matched(file, candidates, same).await }
        })
        .buffer_unordered(PROBES);
    let mut matched = std::pin::pin!(matched);
    while let Some(file) = matched.next().await {
        merged.renamed += u64::from(file.renamed_from.is_some());
        if !send(file, tx, merged).await {
            return;
        }
    }
}

/// `file`, marked with the first of `candidates` whose bytes it holds, if any.
async fn matched(mut file: Item, candidates: Vec<Item>, same: Option<Probe>) -> Item {
    let Some(same) = same else {
        return file;
    };
    for object in candidates {
        let (f, holds) = same(file, object.clone()).await;
        file = f;
        if matches!(holds, Ok(true)) {
            file.renamed_from = Some(Box::new(object));
            break;
        }
    }
    file
}
