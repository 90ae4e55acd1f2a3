//! The caller's own requests through a [`Manager`]: removals (an object, a prefix, every
//! version, the objects a stream names), object locks set afterwards, listings as streams of pages, one object's
//! description, and any request of the client's, each in a slot of the requests in flight and
//! retried as a transfer's requests are.

use ferry_s3::{
    GetObjectRequest, ListObjectVersionsOutput, ListObjectVersionsRequest, ListObjectsOutput,
    ListObjectsRequest, ObjectClient, ObjectIdentifier, ObjectMeta,
};
use futures_util::future::BoxFuture;

use super::{Kind, Manager};
use crate::as_of::{Chooser, PageAsOf};
use crate::error::Error;
use crate::handle::Handle;
use crate::tree::filter::Filters;
use crate::tree::list::{Pages, Skips};
use crate::tree::lock::{Lock, LockOutcome};
use crate::tree::remove::{Remove, RemoveOutcome};
use crate::tree::restore::{Restore, RestoreOutcome};

impl<C: ObjectClient> Manager<C> {
    /// Starts deleting an object, or every object under a prefix (listed page by page,
    /// deleted a thousand a request), reported in [`Event::Removed`](crate::Event::Removed). Must be called within a
    /// tokio runtime.
    pub fn remove(&self, remove: Remove) -> Handle<RemoveOutcome> {
        self.spawn(
            Kind::Tree,
            |ctx| crate::tree::remove::run(ctx, remove),
            |_| None,
        )
    }

    /// Starts setting an object lock on objects already written: one object, or the current
    /// version of every object under a prefix (listed page by page while those listed are
    /// locked, several at once), each reported in [`Event::Locked`](crate::Event::Locked).
    /// Must be called within a tokio runtime.
    pub fn lock(&self, lock: Lock) -> Handle<LockOutcome> {
        self.spawn(
            Kind::Tree,
            |ctx| crate::tree::lock::run(ctx, lock),
            |_| None,
        )
    }

    /// Starts restoring archived objects (RestoreObject): one object, or every archived
    /// object under a prefix (listed page by page while those listed are restored, several
    /// at once), each reported in [`Event::Restore`](crate::Event::Restore): begun, kept
    /// longer, under way already, or readable as it is. A restore takes hours; read the
    /// object once [`stat`](Self::stat) shows its `restore` done. Needs `s3:RestoreObject`.
    /// Must be called within a tokio runtime.
    pub fn restore(&self, restore: Restore) -> Handle<RestoreOutcome> {
        self.spawn(
            Kind::Tree,
            |ctx| crate::tree::restore::run(ctx, restore),
            |_| None,
        )
    }

    /// Starts deleting the objects `objects` names in `remove`'s bucket (each a key, with a
    /// version to delete for good or none; `remove` from [`Remove::named`], for what every
    /// request carries, a dry run, and bypassing GOVERNANCE retentions), taken from the stream
    /// as they are deleted, a thousand a DeleteObjects request and several requests at once:
    /// what a backup tool prunes, however many. A stream slower than that has each name
    /// deleted within a second of its coming (a request takes what came meanwhile), not at
    /// its end. As S3 does, a key that is not there is deleted without a word; sizes are not
    /// known (0). Reported in [`Event::Removed`](crate::Event::Removed). Must be called
    /// within a tokio runtime.
    pub fn remove_objects(
        &self,
        remove: Remove,
        objects: impl futures_util::Stream<Item = ObjectIdentifier> + Send + 'static,
    ) -> Handle<RemoveOutcome> {
        self.spawn(
            Kind::Tree,
            |ctx| crate::tree::remove::named(ctx, remove, objects),
            |_| None,
        )
    }

    /// The pages of a listing (ListObjectsV2, with a delimiter one level of it), each asked
    /// for as [`request`](Self::request) sends a request, the next only when the stream is
    /// polled again: memory holds one page, however many objects there are.
    pub fn list(
        &self,
        req: ListObjectsRequest,
    ) -> impl futures_util::Stream<Item = Result<ListObjectsOutput, Error>> + Send + 'static
    where
        C: 'static,
    {
        let what = |r: &ListObjectsRequest| {
            let prefix = r.prefix.as_deref().unwrap_or_default();
            format!("listing s3://{}/{prefix}", r.bucket)
        };
        self.pages(
            req,
            what,
            |c, r| Box::pin(c.list_objects(r)),
            |r, p| r.advance(p),
        )
    }

    /// The pages of a listing (ListObjectsV2, no delimiter) that `filters` narrow: with a list
    /// of paths ([`Filters::only_paths`], below the folder `req`'s prefix is in), it starts
    /// just before the first name, goes on from just before the next name past each page
    /// (`start-after`), and ends past the last, as the trees' listings do: a few paths out of a
    /// prefix of millions cost a request or so each, never more than [`list`](Self::list).
    /// A page may still hold keys the filters leave out: weigh each ([`Filters::takes`]).
    /// Memory holds one page.
    pub fn list_filtered(
        &self,
        req: ListObjectsRequest,
        filters: &Filters,
    ) -> impl futures_util::Stream<Item = Result<ListObjectsOutput, Error>> + Send + 'static
    where
        C: 'static,
    {
        let skips = Skips::named(filters.named());
        let pages = Pages::new(self.context(), req, skips);
        futures_util::stream::unfold(pages, |mut pages| async move {
            let page = pages.next().await?;
            Some((page, pages))
        })
    }

    /// The pages of a listing of versions (ListObjectVersions: every version and delete
    /// marker under the prefix, each key's newest first; with a delimiter one level of
    /// them), as [`list`](Self::list) gives a listing's. Needs `s3:ListBucketVersions`.
    pub fn list_versions(
        &self,
        req: ListObjectVersionsRequest,
    ) -> impl futures_util::Stream<Item = Result<ListObjectVersionsOutput, Error>> + Send + 'static
    where
        C: 'static,
    {
        let what = |r: &ListObjectVersionsRequest| {
            let prefix = r.prefix.as_deref().unwrap_or_default();
            format!("listing the versions under s3://{}/{prefix}", r.bucket)
        };
        self.pages(
            req,
            what,
            |c, r| Box::pin(c.list_object_versions(r)),
            |r, p| r.advance(p),
        )
    }

    /// The pages of a listing of the prefix as it was at `at`, from a listing of versions
    /// (as [`list_versions`](Self::list_versions) gives it, every key: `req`'s delimiter is
    /// not used): each key's version current then (see [`PageAsOf`]), memory holding one
    /// page and two versions of a key. Needs `s3:ListBucketVersions`.
    pub fn list_as_of(
        &self,
        req: ListObjectVersionsRequest,
        at: std::time::SystemTime,
    ) -> impl futures_util::Stream<Item = Result<PageAsOf, Error>> + Send + 'static
    where
        C: 'static,
    {
        use futures_util::StreamExt as _;
        let pages = Box::pin(self.list_versions(ListObjectVersionsRequest {
            delimiter: None,
            ..req
        }));
        let state = (pages, Some(Chooser::new(at)));
        futures_util::stream::try_unfold(state, |(mut pages, chooser)| async move {
            let Some(mut chooser) = chooser else {
                return Ok(None);
            };
            let mut out = PageAsOf::default();
            let Some(page) = pages.next().await else {
                // The last key is complete once the listing ends.
                if let Some((_, then)) = chooser.finish() {
                    out.take(then);
                }
                return Ok(Some((out, (pages, None))));
            };
            for v in page?.versions {
                if let Some((_, then)) = chooser.push(v) {
                    out.take(then);
                }
            }
            Ok(Some((out, (pages, Some(chooser)))))
        })
    }

    /// The id of the version of `bucket`/`key` current at `at`: the newest version or delete
    /// marker written no later than `at`, from a listing of the key's versions (as
    /// [`list_as_of`](Self::list_as_of) chooses). An error says why there is none: no such
    /// key, deleted then or written only later, or replaced after `at` by a write with no
    /// version id (versioning off or suspended), so what it held then was not kept. Pass the
    /// id to [`stat`](Self::stat), or to a download or copy's `version_id`. Needs
    /// `s3:ListBucketVersions`.
    pub async fn version_at(
        &self,
        bucket: &str,
        key: &str,
        request: &ferry_s3::RequestOptions,
        at: std::time::SystemTime,
    ) -> Result<String, Error> {
        crate::as_of::version_at(&self.context(), bucket, key, request, at, "request").await
    }

    /// Pages of a listing: `send` asks for the page `req` names (as
    /// [`request`](Self::request) sends it), `advance` moves `req` on to the next, `what`
    /// names the listing for its errors.
    fn pages<R: Send + Sync + 'static, P: Send + 'static>(
        &self,
        req: R,
        what: fn(&R) -> String,
        send: for<'a> fn(&'a C, &'a R) -> BoxFuture<'a, ferry_s3::Result<P>>,
        advance: fn(&mut R, &P) -> ferry_s3::Result<bool>,
    ) -> impl futures_util::Stream<Item = Result<P, Error>> + Send + 'static
    where
        C: 'static,
    {
        let manager = self.clone();
        futures_util::stream::try_unfold(Some(req), move |req| {
            let manager = manager.clone();
            async move {
                let Some(mut req) = req else {
                    return Ok(None);
                };
                let what = what(&req);
                let page = manager.request(&what, |c| send(c, &req)).await?;
                let more = advance(&mut req, &page).map_err(|e| Error::from_s3(&what, e))?;
                Ok(Some((page, more.then_some(req))))
            }
        })
    }

    /// Sends one request of the caller's (a listing, a deletion, anything the client does)
    /// as the manager sends its own: in a slot of the requests in flight, retried by the
    /// retry policy within the quota (a transient error, throttling, an expired token), and
    /// stopped by [`cancel_all`](Self::cancel_all). `send` makes each attempt; `what` says
    /// what it does, for the error (e.g. `listing s3://bucket/prefix`).
    pub async fn request<'a, T, Fut>(
        &'a self,
        what: &str,
        send: impl Fn(&'a C) -> Fut,
    ) -> Result<T, Error>
    where
        Fut: std::future::Future<Output = ferry_s3::Result<T>> + 'a,
    {
        let ctx = self.context();
        let client = self.shared.client.as_ref();
        ctx.retrying(None, |_| {
            let attempt = send(client);
            async { attempt.await.map_err(crate::error::Failure::S3) }
        })
        .await
        .map_err(|f| f.into_error(what, "request"))
    }

    /// What the server says of one object (HeadObject), as a transfer reads it: in a slot of
    /// the requests in flight, retried, with its stored checksum asked for. A missing object
    /// is an error that says so (and, when objects lie under `KEY/`, that KEY is a prefix);
    /// a missing bucket is NoSuchBucket; a bare 400 or 403 is explained by a one-byte GET of
    /// the object (a wrong or missing SSE-C key, or the permission the credentials lack).
    pub async fn stat(&self, req: GetObjectRequest) -> Result<ObjectMeta, Error> {
        let req = GetObjectRequest {
            checksum_mode: true,
            range: None,
            part_number: None,
            ..req
        };
        self.context().described(&req, "stat").await
    }

    /// Whether the file at `path` holds the bytes of the object `req` names (its version and
    /// request terms too), by the object's own checksum (full-object or composite, of the
    /// parts the server reports) or MD5 ETag, the file read once: `Some(false)` at once when
    /// the sizes differ, `None` when the object offers no check to compare with (an SSE-C
    /// object without an additional checksum). A missing object is an error that says so.
    pub async fn file_matches(
        &self,
        req: GetObjectRequest,
        path: &std::path::Path,
    ) -> Result<Option<bool>, Error> {
        let version = req.version_id.as_deref();
        let (ctx, bucket, key) = (self.context(), &req.bucket, &req.key);
        crate::download::file_matches(&ctx, bucket, key, version, &req.request, path).await
    }

    /// The bytes of the object `req` names (its version and request terms too), read back:
    /// downloaded in ranges into memory (each checked against the object's own checksum as
    /// it comes, when it has one), hashed and let go; nothing is written to disk. Comparing
    /// two `ReadBack`s compares two objects' bytes, on one server or two, whatever their
    /// stored checksums say ([`Compare::Download`](crate::Compare::Download)).
    pub async fn read_back(&self, req: GetObjectRequest) -> Result<crate::ReadBack, Error> {
        crate::download::read_back(&self.context(), &req, None).await
    }

    /// Whether the file at `path` holds the bytes of the object `req` names, both read whole
    /// at once ([`read_back`](Self::read_back)): what [`file_matches`](Self::file_matches)
    /// cannot say (an object with no checksum and no MD5 ETag) this can, at the cost of
    /// downloading it: `false` at once when the sizes differ (a HeadObject), else both read.
    /// A missing object is an error that says so.
    pub async fn file_holds(
        &self,
        req: GetObjectRequest,
        path: &std::path::Path,
    ) -> Result<bool, Error> {
        let meta = self.stat(req.clone()).await?;
        let size = std::fs::metadata(path).map_err(|e| Error::local("reading a file's size", e))?;
        if size.len() != meta.content_length {
            return Ok(false);
        }
        // Pinned to the ETag just read: a small object comes down in one GET.
        let listed = crate::Listed {
            size: meta.content_length,
            etag: meta.etag,
        };
        crate::download::file_holds(&self.context(), &req, Some(listed), path).await
    }
}
