//! A prefix listed one page at a time into a stream of tree items ([`list`], [`list_versions`]),
//! in the byte order of keys, and what each listed object is to a tree ([`place`]). No more
//! than one page of keys is held, whatever the count of objects.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_s3::{
    ListObjectVersionsRequest, ListObjectsOutput, ListObjectsRequest, ObjectClient, ObjectInfo,
};
use futures_util::future::{self, BoxFuture, Either};
use tokio::sync::mpsc;

use super::keys::{Folders, path_for};
use super::{Found, Item, PassedOver};
use crate::context::Context;
use crate::error::{Error, ErrorKind, Failure};
use crate::outcome::ObjectFailure;

impl Item {
    /// An object as a listing gave it (of `version_id`, when a listing of versions did),
    /// keys only: no file.
    fn listed(o: ObjectInfo, version_id: Option<String>) -> Self {
        Self {
            path: PathBuf::new(),
            mtime: o
                .last_modified
                .as_deref()
                .and_then(crate::mtime::listed_time),
            key: o.key,
            size: o.size,
            etag: o.etag,
            version_id,
            storage_class: o.storage_class,
            in_destination: false,
            held_by: None,
            bucket: None,
        }
    }

    /// An object as its HeadObject (`meta`) describes it, at `key`, written to or read from
    /// `path` (empty for none).
    pub(crate) fn headed(path: PathBuf, key: String, meta: &ferry_s3::ObjectMeta) -> Self {
        Self {
            path,
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
            bucket: None,
        }
    }
}

/// Says of a folder below a listed prefix (its path below the prefix, `/` after it) whether
/// nothing in it can matter to whoever reads the listing, so the listing may pass over it: an
/// answer that may take a request (of the other side of a sync).
pub(crate) type Unwanted = Arc<dyn Fn(String) -> BoxFuture<'static, bool> + Send + Sync>;

/// What a listing may pass over, its reader caring nothing for it.
#[derive(Clone, Default)]
pub(crate) struct Skips {
    /// Folders nothing in which matters.
    pub(crate) unwanted: Option<Unwanted>,
    /// The only keys that matter, below the prefix, in byte order (a list of paths'): a page
    /// is followed by the next of them not yet passed, and none after the last.
    pub(crate) named: Option<Arc<[String]>>,
}

impl Skips {
    /// A listing's skips when a list names the only paths that matter (`named`).
    pub(crate) fn named(named: Option<Vec<String>>) -> Self {
        Self {
            named: named.map(Arc::from),
            ..Self::default()
        }
    }
}

/// Lists `prefix` (empty or ending in `/`) of `bucket` page by page into a channel, each object
/// with the file it goes to below `root` (with no `root`, keys only). A page that meets a transient
/// error is asked for again; one that fails for good ends the channel with [`Found::Fatal`]. An
/// empty listing is [`Found::Fatal`] too unless `empty_ok` (a sync's destination): nothing to
/// download is a mistake in the prefix.
///
/// With `named` keys, the listing starts just before the first of them (the key less its last
/// character), a page is followed by a listing from just before the first of them past it
/// (which settles that one at least) rather than by the rest of the prefix, and the last page
/// is the one past the last of them: a few paths out of a prefix of millions cost a request
/// or so each, and never more than the listing of it all.
///
/// With `unwanted`, a page that ends inside a folder it names (the outermost one) is followed
/// by the first key after that folder, not by the rest of it: a sync's destination listing
/// passes over what only it holds, where nothing will be deleted. A folder of a million
/// objects then costs one page, not a thousand. Each folder is asked about once, when a page
/// first ends inside it, while the page after is fetched (and dropped, should the answer be
/// to pass over the folder); an answer that comes at once sends no such request. (Objects the
/// pages do give, in such folders or not, are all yielded.) With both, `named` decides.
///
/// A server that does not know `start-after` lists from the start again: that page is seen by
/// its first key and dropped, and the listing goes on by the token it had, passing over
/// nothing more. One that refuses it (a 400) is answered the same way.
pub(crate) fn list<C: ObjectClient>(
    ctx: &Context<C>,
    req: ListObjectsRequest,
    (root, skips): (Option<PathBuf>, Skips),
    capacity: usize,
    empty_ok: bool,
) -> mpsc::Receiver<Found> {
    let ctx = ctx.clone();
    super::fed(capacity, |tx| async move {
        let (prefix, bucket) = (req.prefix.clone().unwrap_or_default(), req.bucket.clone());
        let mut pages = Pages::new(ctx, req, skips);
        let mut folders = Folders::default();
        let mut any = false;
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                Err(e) => {
                    let _ = tx.send(Found::Fatal(e)).await;
                    return;
                }
            };
            for o in page.objects {
                let Some(found) = place(root.as_deref(), &prefix, &mut folders, &bucket, o, None)
                else {
                    continue;
                };
                any |= !matches!(found, Found::PassedOver(_));
                if tx.send(found).await.is_err() {
                    return;
                }
            }
        }
        if !any && !empty_ok {
            let e = Error::invalid(format!(
                "no objects under s3://{bucket}/{prefix}; check the bucket and prefix"
            ));
            let _ = tx.send(Found::Fatal(e)).await;
        }
    })
}

/// The pages of a prefix's listing, passing over what [`Skips`] says (see [`list`]): each
/// page as the server gave it, holding what is passed over too when it comes in a page.
pub(crate) struct Pages<C: ObjectClient> {
    ctx: Context<C>,
    req: ListObjectsRequest,
    /// The folder the prefix is in: what the paths of the skips are below.
    folder: String,
    skips: Skips,
    /// A page fetched while the folders the last one ended in were asked about.
    ahead: Option<Result<ListObjectsOutput, Failure>>,
    /// Of those folders, the ones found wanted: not asked about again.
    wanted: Vec<String>,
    /// Where the listing last went on by StartAfter (past a folder, or to a name), and the
    /// token it had then: a page that does not start past that comes from a server that does
    /// not know StartAfter (or a 400, from one that refuses it), and the listing goes on by
    /// the token, passing over nothing more.
    jumped: Option<(String, Option<String>)>,
    /// What ends the listing after the page before (`Ok(false)`: nothing more; an error: the
    /// server's token did not advance).
    end: Option<Result<bool, Error>>,
}

impl<C: ObjectClient> Pages<C> {
    /// The listing `req` asks for, through `ctx`, passing over what `skips` says.
    /// The paths of `skips` are below the folder `req`'s prefix is in (the prefix itself, for
    /// a tree's).
    pub(crate) fn new(ctx: Context<C>, mut req: ListObjectsRequest, skips: Skips) -> Self {
        let prefix = req.prefix.as_deref().unwrap_or_default();
        let folder = prefix[..prefix.rfind('/').map_or(0, |i| i + 1)].to_string();
        let mut jumped = None;
        // The first page too starts just before the first name.
        if let Some(first) = skips.named.as_ref().and_then(|n| n.first())
            && !stem(first).is_empty()
        {
            let after = format!("{folder}{}", stem(first));
            req.start_after = Some(after.clone());
            jumped = Some((after, None));
        }
        Self {
            ctx,
            req,
            folder,
            skips,
            ahead: None,
            wanted: Vec::new(),
            jumped,
            end: None,
        }
    }

    /// The next page; `None` after the last, or after an error.
    pub(crate) async fn next(&mut self) -> Option<Result<ListObjectsOutput, Error>> {
        let prefix = self.req.prefix.as_deref().unwrap_or_default();
        let what = format!("listing s3://{}/{prefix}", self.req.bucket);
        match self.end.take() {
            Some(Ok(true)) | None => {}
            Some(Ok(false)) => {
                self.end = Some(Ok(false));
                return None;
            }
            Some(Err(e)) => {
                self.end = Some(Ok(false));
                return Some(Err(e));
            }
        }
        loop {
            let page = match self.ahead.take() {
                Some(page) => page,
                None => self.ctx.request(None, |c| c.list_objects(&self.req)).await,
            };
            let page = match page {
                Ok(p) => p,
                Err(f) => {
                    let e = f.into_error(&what, "listing");
                    // A server that takes `start-after` for a bad argument: as one that does
                    // not know it.
                    if e.s3().and_then(|e| e.status()) == Some(400) && self.fell_back() {
                        continue;
                    }
                    self.end = Some(Ok(false));
                    return Some(Err(e));
                }
            };
            let restarted = self
                .jumped
                .as_ref()
                .is_some_and(|(after, _)| page.objects.first().is_some_and(|o| o.key <= *after));
            if restarted && self.fell_back() {
                continue;
            }
            self.jumped = None;
            // Asked before the page's objects move on; a token that does not advance ends
            // the listing after them.
            let more = self.req.advance(&page);
            let more = match (&more, page.objects.last()) {
                (Ok(true), Some(last)) => {
                    let last = last.key[self.folder.len()..].to_string();
                    self.onward(&last).await
                }
                _ => more.map_err(|e| Error::from_s3(&what, e)),
            };
            self.end = Some(more);
            return Some(Ok(page));
        }
    }

    /// After a page that ends at `last` (below the folder), with more to come: whether there
    /// is anything more to list, the request moved on past what the skips pass over.
    async fn onward(&mut self, last: &str) -> Result<bool, Error> {
        if let Some(named) = &self.skips.named {
            let Some(next) = named.get(named.partition_point(|n| n.as_str() <= last)) else {
                // Past the last name: nothing more matters.
                return Ok(false);
            };
            if stem(next) > last {
                let after = format!("{}{}", self.folder, stem(next));
                self.jump(after);
            }
            return Ok(true);
        }
        let Some(unwanted) = &self.skips.unwanted else {
            return Ok(true);
        };
        self.wanted.retain(|w| last.starts_with(w.as_str()));
        let asked: Vec<String> = last
            .match_indices('/')
            .map(|(i, _)| last[..=i].to_string())
            .filter(|dir| !self.wanted.contains(dir))
            .collect();
        let next = {
            let (ctx, req) = (self.ctx.clone(), self.req.clone());
            async move { ctx.request(None, |c| c.list_objects(&req)).await }
        };
        let (passed, next) = outermost(asked, unwanted, next, &mut self.wanted).await;
        self.ahead = next;
        if let Some(dir) = passed {
            // `char::MAX` is the greatest character: of the keys below `dir`, only those that
            // go on with it (none in practice; listed, should any be) sort after.
            self.jump(format!("{}{dir}{}", self.folder, char::MAX));
        }
        Ok(true)
    }

    /// Goes on after `after` rather than by the token.
    fn jump(&mut self, after: String) {
        self.req.start_after = Some(after.clone());
        self.jumped = Some((after, self.req.continuation_token.take()));
    }

    /// After a jump the server did not take: goes on by the token it had, passing over
    /// nothing more (`false` when there was no jump).
    fn fell_back(&mut self) -> bool {
        let Some((_, token)) = self.jumped.take() else {
            return false;
        };
        self.skips = Skips::default();
        (self.req.start_after, self.req.continuation_token) = (None, token);
        true
    }
}

/// `name` less its last character: what a listing that is to find `name` may start after.
fn stem(name: &str) -> &str {
    &name[..name.len() - name.chars().last().map_or(0, char::len_utf8)]
}

/// The outermost of the folders `asked` (outermost first) that `unwanted` names, each asked
/// at once while `next` (the page after) is fetched: with none, that page, and the folders
/// added to those `wanted`. Not fetched when every answer comes first and names one.
async fn outermost<F: Future>(
    asked: Vec<String>,
    unwanted: &Unwanted,
    next: F,
    wanted: &mut Vec<String>,
) -> (Option<String>, Option<F::Output>) {
    if asked.is_empty() {
        return (None, Some(next.await));
    }
    let answers = futures_util::future::join_all(asked.iter().map(|dir| unwanted(dir.clone())));
    let next = std::pin::pin!(next);
    let (answers, next) = match future::select(answers, next).await {
        Either::Left((answers, next)) => (answers, Either::Left(next)),
        Either::Right((page, answers)) => (answers.await, Either::Right(page)),
    };
    if let Some(i) = answers.iter().position(|passed| *passed) {
        return (asked.into_iter().nth(i), None);
    }
    wanted.extend(asked);
    let next = match next {
        Either::Left(fetching) => fetching.await,
        Either::Right(page) => page,
    };
    (None, Some(next))
}

/// What a listed object (of `version_id`, when a listing of versions chose it) of `bucket`
/// under `prefix` is to a tree: with `root`, an object to write to its file below it, unless
/// its key cannot be one (a failure, or passed over); with no `root`, an object as it is (a
/// copy's). `None` for a folder marker, as consoles make them: nothing to write.
pub(super) fn place(
    root: Option<&Path>,
    prefix: &str,
    folders: &mut Folders,
    bucket: &str,
    o: ObjectInfo,
    version_id: Option<String>,
) -> Option<Found> {
    let Some(root) = root else {
        return Some(Found::Item(Item::listed(o, version_id)));
    };
    Some(match path_for(root, prefix, &o.key) {
        Ok(Some(path)) => match folders.check(&o.key) {
            None => Found::Item(Item {
                path,
                ..Item::listed(o, version_id)
            }),
            Some(parent) => Found::Bad(ObjectFailure {
                error: Error::invalid(format!(
                    "s3://{bucket}/{parent} and s3://{bucket}/{} cannot both be written: {parent:?} would be a file and a folder; copy one of them alone",
                    o.key,
                )),
                key: o.key,
                path,
            }),
        },
        Ok(None) if o.size == 0 => return None,
        Ok(None) => Found::PassedOver(PassedOver {
            what: format!("s3://{bucket}/{}", o.key),
            why: format!("a key ending in / cannot be a file ({} bytes)", o.size),
            key: o.key,
        }),
        Err(why) => Found::Bad(ObjectFailure {
            path: root.to_path_buf(),
            key: o.key,
            error: Error::invalid(why),
        }),
    })
}

/// Lists every version and delete marker under `req.prefix` page by page into a channel,
/// keys only, each as an [`Item`] of its version; with `only`, those of that one key. Each
/// page is asked for before the versions of the page before it are handed on. As
/// [`list`], a transient error asks again, and a listing that finds nothing ends with
/// [`Found::Fatal`] (a service error for one key, as a missing object; bad input for a
/// prefix).
pub(crate) fn list_versions<C: ObjectClient>(
    ctx: &Context<C>,
    mut req: ListObjectVersionsRequest,
    only: Option<String>,
    capacity: usize,
) -> mpsc::Receiver<Found> {
    let ctx = ctx.clone();
    super::fed(capacity, |tx| async move {
        let url = format!(
            "s3://{}/{}",
            req.bucket,
            req.prefix.as_deref().unwrap_or("")
        );
        let what = format!("listing the versions under {url}");
        let fetch = |req: ListObjectVersionsRequest| {
            let (ctx, what) = (ctx.clone(), what.clone());
            async move {
                ctx.request(None, |c| c.list_object_versions(&req))
                    .await
                    .map_err(|f| f.into_error(&what, "removal"))
            }
        };
        let mut any = false;
        let mut page = fetch(req.clone()).await;
        loop {
            let current = match page {
                Ok(p) => p,
                Err(e) => {
                    let _ = tx.send(Found::Fatal(e)).await;
                    return;
                }
            };
            // Keys come in order: past the one key asked for, there is nothing more of it.
            let past = only.as_ref().is_some_and(|k| {
                current
                    .versions
                    .last()
                    .is_some_and(|v| v.object.key.as_str() > k.as_str())
            });
            // The next page is asked for before this one's versions are handed on to be
            // deleted: the marker it starts after is this page's last version, still there (a
            // server may lose its place after a marker that is gone).
            let next = match req.advance(&current) {
                Ok(true) if !past => Some(fetch(req.clone()).await),
                Ok(_) => None,
                Err(e) => Some(Err(Error::from_s3(&what, e))),
            };
            for v in current.versions {
                if only.as_ref().is_some_and(|k| v.object.key != *k) {
                    continue;
                }
                any = true;
                let item = Item::listed(v.object, Some(v.version_id));
                if tx.send(Found::Item(item)).await.is_err() {
                    return;
                }
            }
            match next {
                Some(p) => page = p,
                None => break,
            }
        }
        // As for objects: no such key is a missing object, an empty prefix a mistake in it.
        let nothing = match only {
            Some(_) => Error::new(
                ErrorKind::Service,
                format!("{url}: no version of it, nor a delete marker; nothing was deleted"),
            ),
            None => Error::invalid(format!(
                "no versions under {url}; check the bucket and prefix"
            )),
        };
        if !any {
            let _ = tx.send(Found::Fatal(nothing)).await;
        }
    })
}
