//! What a sync's listing of its destination may pass over. Without deletions or renames
//! tracked, what the destination alone holds matters to nothing, so a folder the source
//! lacks need not be listed (see [`list`](super::super::list::list)): rclone's sync, which
//! lists a folder at a time, never enters one. Up, the folder is looked for on disk; between
//! prefixes, the source is asked for a key below it.

use std::path::PathBuf;
use std::sync::Arc;

use ferry_s3::{ListObjectsRequest, ObjectClient};
use futures_util::FutureExt as _;

use super::SyncSettings;
use crate::context::Context;
use crate::tree::filter::Filters;
use crate::tree::list::Unwanted;
use crate::tree::walk::nothing_below;

/// Whether what the destination alone holds matters to the sync `settings` describe.
fn passes(settings: &SyncSettings) -> bool {
    !settings.delete && !settings.track_renames
}

/// Up: the folders a walk of `root` with `filters` yields no file below.
pub(super) fn up(settings: &SyncSettings, root: PathBuf, filters: &Filters) -> Option<Unwanted> {
    let filters = filters.clone();
    let unwanted = move |dir: String| std::future::ready(nothing_below(&root, &filters, &dir));
    passes(settings).then(|| Arc::new(move |dir| unwanted(dir).boxed()) as Unwanted)
}

/// Between prefixes: the folders `filters` leave out, or below which `source` (the listing of
/// the source prefix, read through `ctx`) holds no object, asked with a listing of one key.
/// Said only when certain: a request that fails says the folder may hold something. Not as
/// the source was at a time (`as_of`), which what it holds now does not tell.
pub(super) fn across<D: ObjectClient>(
    settings: &SyncSettings,
    as_of: Option<std::time::SystemTime>,
    ctx: &Context<D>,
    source: ListObjectsRequest,
    filters: &Filters,
) -> Option<Unwanted> {
    if !passes(settings) || as_of.is_some() {
        return None;
    }
    let (ctx, filters) = (ctx.clone(), filters.clone());
    let unwanted = move |dir: String| {
        let skipped = filters.skips_folder(&dir);
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
    Some(Arc::new(unwanted))
}
