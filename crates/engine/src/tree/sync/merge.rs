//! The merge of a sync's two sides: each side is taken in its listing order, matched on the
//! key below its prefix; what only the source holds, or holds differently, goes on to the
//! transfers; what both hold alike is skipped (and what the settings leave alone, kept); what
//! only the destination holds may be deleted.
//! The filters' bounds on size and time are weighed here, not on the sides: a source entry
//! out of bounds takes no part, yet keeps its path on the destination from looking deleted; a
//! destination entry out of bounds is compared with its source all the same (a file sent a
//! week ago is no older than its source for `--max-age 1d`), and only deleted in bounds.
//! What lies in a folder a walk left out for a marker is neither sent nor deleted.

use std::collections::BTreeMap;

use ferry_s3::ObjectClient;
use tokio::sync::mpsc;

use super::Probes;
use super::judge::{self, Merged, send};
use super::{RENAMES_HELD, SyncSettings};
use crate::context::Context;
use crate::error::Error;
use crate::outcome::SyncAction;
use crate::tree::sides::{Direction, Sides};
use crate::tree::{Filters, Found, Item};

/// The next item of a side, or its end; a bad entry goes on to the transfers (it fails
/// there, named), a failed listing ends the merge.
enum Next {
    Item(Item),
    End,
    Failed(Error),
}

/// The next of the source's items (`source`) or the destination's. An entry the source's
/// walk passes over goes on to be reported; one of the destination's (a download's own
/// partial file, a link to nothing) is neither reported nor deleted.
async fn next(rx: &mut mpsc::Receiver<Found>, tx: &mpsc::Sender<Found>, source: bool) -> Next {
    loop {
        match rx.recv().await {
            None => return Next::End,
            Some(Found::Item(i)) => return Next::Item(i),
            Some(Found::PassedOver(_)) if !source => {}
            // The transfers report them.
            Some(f @ (Found::Bad(_) | Found::PassedOver(_))) => {
                let _ = tx.send(f).await;
            }
            Some(Found::Fatal(e)) => return Next::Failed(e),
        }
    }
}

/// Keys in the order of their path components (`b/x` before `b-c`): SeaweedFS lists a
/// prefix so, where S3 sorts whole keys by their bytes (`b-c` before `b/x`).
fn component_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.split('/').cmp(b.split('/'))
}

/// Whether no later item of a side whose next key is `head` can be `key`, whichever of the
/// two orders the side is sorted in.
fn passed(key: &str, head: Option<&str>) -> bool {
    head.is_none_or(|h| key.as_bytes() < h.as_bytes() && component_order(key, h).is_lt())
}

/// Merges the two sides: what only the source holds, or holds differently, goes to `tx`
/// (pairs the listings cannot settle by way of the judge, which asks the server); what both
/// hold alike is skipped; what only the destination holds may be deleted.
///
/// Each side is taken in its order, the lesser head first; an item waits until the same
/// key comes from the other side (then the two are compared) or that side has passed it in
/// both orders a listing may use (then it is on one side only). Items wait only where the
/// orders disagree (names beside a folder of the same stem), so memory stays bounded.
pub(super) async fn merge<C: ObjectClient>(
    ctx: &Context<C>,
    sides: &Sides,
    (settings, filters): (&SyncSettings, &Filters),
    probes: Probes,
    mut source: mpsc::Receiver<Found>,
    mut dest: mpsc::Receiver<Found>,
    tx: mpsc::Sender<Found>,
) -> Merged {
    let mut merged = Merged::default();
    let judging = judge::start(ctx, sides, settings, probes.pairs.clone(), tx.clone());
    // With no listing of the destination, every source item comes here alone: it is looked
    // up there first.
    let looking = probes.lookup.clone().map(|lookup| {
        let how = (lookup, probes.pairs.clone());
        super::lookup::start(ctx, sides, settings, how, tx.clone())
    });
    let mut waiting_s: BTreeMap<String, Item> = BTreeMap::new();
    let mut waiting_d: BTreeMap<String, Item> = BTreeMap::new();
    let mut s = next(&mut source, &tx, true).await;
    let mut d = next(&mut dest, &tx, false).await;
    'merge: loop {
        let (from_source, item) = match (s, d) {
            (Next::Failed(e), _) | (_, Next::Failed(e)) => {
                merged.listing_failed = true;
                let _ = tx.send(Found::Fatal(e)).await;
                break 'merge;
            }
            (Next::End, Next::End) => {
                s = Next::End;
                d = Next::End;
                (true, None)
            }
            (Next::Item(a), Next::End) => {
                d = Next::End;
                s = next(&mut source, &tx, true).await;
                (true, Some(a))
            }
            (Next::End, Next::Item(b)) => {
                s = Next::End;
                d = next(&mut dest, &tx, false).await;
                (false, Some(b))
            }
            (Next::Item(a), Next::Item(b)) => {
                if sides.rel(&a, true).as_bytes() <= sides.rel(&b, false).as_bytes() {
                    d = Next::Item(b);
                    s = next(&mut source, &tx, true).await;
                    (true, Some(a))
                } else {
                    s = Next::Item(a);
                    d = next(&mut dest, &tx, false).await;
                    (false, Some(b))
                }
            }
        };
        if let Some(item) = item {
            let rel = sides.rel(&item, from_source).to_string();
            let (mine, theirs) = if from_source {
                (&mut waiting_s, &mut waiting_d)
            } else {
                (&mut waiting_d, &mut waiting_s)
            };
            match theirs.remove(&rel) {
                Some(other) => {
                    let (mut a, b) = if from_source {
                        (item, other)
                    } else {
                        (other, item)
                    };
                    a.in_destination = true;
                    // Out of bounds: no part, and its path is not deleted (unless what the
                    // filters leave out is).
                    if !filters.admits(a.size, a.mtime) {
                        merged.out_of_bounds += 1;
                        if settings.delete && settings.delete_excluded {
                            merged.deletions.push(b);
                        }
                    } else if judge::left_alone(settings, &a, &b) {
                        merged.kept += 1;
                        sides
                            .report(ctx, SyncAction::Keep, &a, settings.dry_run)
                            .await;
                    } else {
                        match judge::at_once(sides.direction, settings.compare, &a, &b) {
                            Some(true) => {
                                merged.skipped += 1;
                                sides
                                    .report(ctx, SyncAction::Skip, &a, settings.dry_run)
                                    .await;
                            }
                            Some(false) => {
                                let immutable = settings.immutable;
                                if !judge::differs(a, sides, immutable, &tx, &mut merged).await {
                                    break 'merge;
                                }
                            }
                            None => {
                                if judging.pairs.send((a, b)).await.is_err() {
                                    break 'merge;
                                }
                            }
                        }
                    }
                }
                None => {
                    mine.insert(rel, item);
                }
            }
        }
        // What the other side has passed is on one side only.
        let head = |n: &Next, source: bool| match n {
            Next::Item(i) => Some(sides.rel(i, source).to_string()),
            _ => None,
        };
        let (head_s, head_d) = (head(&s, true), head(&d, false));
        // Once the destination is read whole, a file the destination lacks is held to be
        // matched only where what it holds has the file's size; those held before go on now.
        let dest_read = matches!(d, Next::End);
        let renames = probes.renames.is_some();
        let candidate = |i: &Item, merged: &Merged| {
            !dest_read
                || merged.sizes_gone.contains(&i.size)
                || waiting_d.values().any(|w| w.size == i.size)
        };
        if renames && dest_read && !merged.released {
            merged.released = true;
            for i in std::mem::take(&mut merged.held) {
                if candidate(&i, &merged) {
                    merged.held.push(i);
                } else if !send(i, &tx, &mut merged).await {
                    break 'merge;
                }
            }
        }
        // In a folder a walk left out for a marker: neither sent nor deleted. The walking
        // side noted it before it yielded what comes after (and the other side's item is
        // only taken for one side's once that side has gone past it).
        for k in gone(&waiting_s, head_d.as_deref()) {
            let i = waiting_s.remove(&k).expect("waiting");
            if filters.fenced(&k) {
                continue;
            }
            if !filters.admits(i.size, i.mtime) {
                merged.out_of_bounds += 1;
                continue;
            }
            // Matched with what only the destination holds once both sides are read.
            let room = merged.held.len() < RENAMES_HELD;
            if renames && i.size > 0 && room && candidate(&i, &merged) {
                merged.held.push(i);
                continue;
            }
            let sent = match &looking {
                Some(looking) => looking.items.send(i).await.is_ok(),
                None => send(i, &tx, &mut merged).await,
            };
            if !sent {
                break 'merge;
            }
        }
        for k in gone(&waiting_d, head_s.as_deref()) {
            let i = waiting_d.remove(&k).expect("waiting");
            let excluded = !filters.admits(i.size, i.mtime) || filters.fenced(&k);
            // Deleted when asked; a file renamed may be copied from it first.
            let wanted = settings.delete || probes.renames.is_some();
            if wanted && (settings.delete_excluded || !excluded) {
                if renames {
                    merged.sizes_gone.insert(i.size);
                }
                merged.deletions.push(i);
            }
        }
        if matches!((&s, &d), (Next::End, Next::End))
            && waiting_s.is_empty()
            && waiting_d.is_empty()
        {
            break;
        }
    }
    drop(judging.pairs);
    let looked = match looking {
        Some(l) => {
            drop(l.items);
            l.done.await.unwrap_or_default()
        }
        None => Merged::default(),
    };
    for judged in [judging.done.await.unwrap_or_default(), looked] {
        merged.skipped += judged.skipped;
        merged.kept += judged.kept;
        merged.planned.0 += judged.planned.0;
        merged.planned.1 += judged.planned.1;
        merged.missing += judged.missing;
    }
    if !merged.listing_failed {
        let moves = sides.direction == Direction::Down;
        super::renames::release(probes.renames.as_ref(), moves, &mut merged, &tx).await;
    }
    merged
}

/// The waiting keys the other side, whose next key is `head`, has passed.
fn gone(waiting: &BTreeMap<String, Item>, head: Option<&str>) -> Vec<String> {
    waiting
        .keys()
        .take_while(|k| head.is_none_or(|h| k.as_bytes() < h.as_bytes()))
        .filter(|k| passed(k, head))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    /// What the merge sends on next, if it does within a second.
    async fn next(
        rx: &mut mpsc::Receiver<Found>,
    ) -> Result<Option<Found>, tokio::time::error::Elapsed> {
        tokio::time::timeout(Duration::from_secs(1), rx.recv()).await
    }

    /// Tracking renames, a file the destination lacks is held until the destination is read
    /// whole, then only where what only the destination holds has its size: into an empty
    /// prefix (a first sync), files go on as they are walked.
    #[tokio::test]
    async fn a_file_no_object_can_match_is_not_held_once_the_destination_is_read() {
        let s3 = ferry_testkit::MemoryClient::new(Duration::ZERO);
        let m = crate::Manager::new(Arc::new(s3), Default::default()).unwrap();
        let ctx = m.quiet_context(&Default::default());
        let never: super::super::judge::Probe =
            Arc::new(|a, _| Box::pin(async move { (a, Ok(false)) }));
        let probes = Probes {
            pairs: never.clone(),
            renames: Some(never),
            reference: None,
            lookup: None,
        };
        let settings = SyncSettings {
            track_renames: true,
            delete: true,
            ..Default::default()
        };
        let (src_tx, source) = mpsc::channel(4);
        let (dst_tx, dest) = mpsc::channel(4);
        let (tx, mut rx) = mpsc::channel(4);
        let merging = tokio::spawn(async move {
            let sides = Sides::folder(Direction::Up, "b", "p/".into());
            let how = (&settings, &Filters::default());
            merge(&ctx, &sides, how, probes, source, dest, tx).await
        });
        dst_tx
            .send(Found::Item(Item::named("p/0gone", 7)))
            .await
            .unwrap();
        drop(dst_tx);
        for (key, size) in [("p/a", 5), ("p/b", 7), ("p/c", 6), ("p/d", 8)] {
            src_tx
                .send(Found::Item(Item::named(key, size)))
                .await
                .unwrap();
        }
        // a and c go on while the source is still being walked (d, its last so far, waits to
        // be passed); b, of 0gone's size, is held.
        let mut early = Vec::new();
        for _ in 0..2 {
            match next(&mut rx).await {
                Ok(Some(Found::Item(i))) => early.push(i.key),
                _ => panic!("a file no object can match was held"),
            }
        }
        early.sort();
        assert_eq!(early, ["p/a", "p/c"]);
        assert!(next(&mut rx).await.is_err(), "b was not held");
        drop(src_tx);
        let mut late = Vec::new();
        while let Ok(Some(Found::Item(i))) = next(&mut rx).await {
            late.push(i.key);
        }
        late.sort();
        assert_eq!(late, ["p/b", "p/d"], "once the source was read");
        let merged = merging.await.unwrap();
        assert_eq!((merged.planned.0, merged.deletions.len()), (4, 1));
    }

    #[test]
    fn a_key_is_passed_only_when_both_orders_agree() {
        // S3's byte order puts b-c before b/x; SeaweedFS's component order, after.
        assert!("b-c" < "b/x");
        assert!(component_order("b/x", "b-c").is_lt());
        assert!(
            !passed("b-c", Some("b/x")),
            "a component-ordered side may still list b-c"
        );
        assert!(
            !passed("b/x", Some("b-c")),
            "a byte-ordered side may still list b/x"
        );
        assert!(passed("a.txt", Some("b/x")));
        assert!(passed("b/x", Some("c")));
        assert!(passed("anything", None));
    }
}
