//! What a sync's listing of its destination may pass over (see
//! [`list`](super::super::list::list)). Without deletions or renames tracked, what the
//! destination alone holds matters to nothing, so a folder the source lacks need not be
//! listed: rclone's sync, which lists a folder at a time, never enters one. Up, the folder is
//! looked for on disk; between prefixes, the source is asked for a key below it. With a list
//! of paths, what it does not name is passed over too (unless what the filters leave out is
//! deleted as well).

use std::path::PathBuf;
use std::sync::Arc;

use ferry_s3::{ListObjectsRequest, ObjectClient};
use futures_util::FutureExt as _;

use super::SyncSettings;
use crate::context::Context;
use crate::tree::filter::Filters;
use crate::tree::list::{Skips, Unwanted};
use crate::tree::walk::nothing_below;

/// Whether what the destination alone holds matters to the sync `settings` describe.
fn passes(settings: &SyncSettings) -> bool {
    !settings.delete && !settings.track_renames
}

/// `unwanted` folders, and what `filters` (which narrow both sides) leave to the paths a list
/// names, if one does.
fn skips(settings: &SyncSettings, filters: &Filters, unwanted: Option<Unwanted>) -> Skips {
    let named = filters.for_destination(settings.delete_excluded).named();
    Skips {
        unwanted,
        named: named.map(Arc::from),
    }
}

/// Up: the folders a walk of `root` with `filters` yields no file below, and what only a list
/// of paths names.
pub(super) fn up(settings: &SyncSettings, root: PathBuf, filters: &Filters) -> Skips {
    let walked = filters.clone();
    let unwanted = move |dir: String| std::future::ready(nothing_below(&root, &walked, &dir));
    let unwanted = passes(settings).then(|| Arc::new(move |dir| unwanted(dir).boxed()) as Unwanted);
    skips(settings, filters, unwanted)
}

/// Between prefixes: the folders `filters` leave out, or below which `source` (the listing of
/// the source prefix, read through `ctx`) holds no object, asked with a listing of one key,
/// and what only a list of paths names. Said only when certain: a request that fails says
/// the folder may hold something. No folder as the source was at a time (`as_of`), which
/// what it holds now does not tell.
pub(super) fn across<D: ObjectClient>(
    settings: &SyncSettings,
    as_of: Option<std::time::SystemTime>,
    ctx: &Context<D>,
    source: ListObjectsRequest,
    filters: &Filters,
) -> Skips {
    if !passes(settings) || as_of.is_some() {
        return skips(settings, filters, None);
    }
    let (ctx, asked) = (ctx.clone(), filters.clone());
    let unwanted = move |dir: String| {
        let skipped = asked.skips_folder(&dir);
        let prefix = format!("{}{dir}", source.prefix.as_deref().unwrap_or_default());
        let probe = ListObjectsRequest {
            prefix: Some(prefix),
            max_keys: Some(1),
            continuation_token: None,
            start_after: None,
            ..source.clone()
        };
        let ctx = ctx.clone();
        async move {
            if skipped {
                return true;
            }
            match ctx.request(None, |c| c.list_objects(&probe)).await {
                Ok(page) => page.objects.is_empty() && page.next_continuation_token.is_none(),
                Err(_) => false,
            }
        }
        .boxed()
    };
    skips(settings, filters, Some(Arc::new(unwanted)))
}
