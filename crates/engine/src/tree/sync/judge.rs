//! Judging pairs: what the two listings settle at once (sizes, times), and, for the pairs
//! they cannot, a probe that asks the server (a stored `mtime`, a checksum), several pairs at
//! a time beside the merge.

use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ferry_s3::{
    ChecksumType, ChecksumValue, GetObjectRequest, ObjectClient, ObjectMeta, RequestOptions,
};
use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;
use tokio::sync::mpsc;

use super::{Compare, SyncSettings, TreeCopy};
use crate::context::Context;
use crate::download::{self, LISTED_ETAG_MAX, Listed, file_gives_etag};
use crate::error::{Error, ErrorKind};
use crate::outcome::SyncAction;
use crate::tree::sides::{Direction, Sides};
use crate::tree::{Found, Item, TreeDownload, TreeUpload};

/// Asks whether source item `a` and destination item `b` are the same; gives `a` back. An
/// error is the server's refusal to say (see [`undecided`]): the pair fails, named.
pub(super) type Probe =
    Arc<dyn Fn(Item, Item) -> BoxFuture<'static, (Item, Result<bool, Error>)> + Send + Sync>;

/// Pairs probed at once.
pub(super) const PROBES: usize = 16;

/// Whole seconds since the epoch.
fn secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

/// Whether the destination's `b` stays as it is, whatever source `a` holds: the settings
/// leave every path it holds alone, or those it holds newer than the source.
pub(super) fn left_alone(settings: &SyncSettings, a: &Item, b: &Item) -> bool {
    let newer = matches!((a.mtime, b.mtime), (Some(s), Some(d)) if secs(d) > secs(s));
    settings.ignore_existing || (settings.update && newer)
}

/// Whether source `a` and destination `b` are the same, when the listings say enough;
/// `None` when the server must be asked.
pub(super) fn at_once(direction: Direction, compare: Compare, a: &Item, b: &Item) -> Option<bool> {
    if a.size != b.size {
        return Some(false);
    }
    match (compare, direction) {
        (Compare::SizeOnly, _) => Some(true),
        (Compare::Checksum | Compare::Verify | Compare::Download, _) => None,
        // The destination object (b) was written no earlier than its source (a) last changed.
        (Compare::SizeAndTime, Direction::Copy) => Some(match (a.mtime, b.mtime) {
            (Some(source), Some(dest)) => secs(dest) >= secs(source),
            _ => false,
        }),
        // The same up; else, written before the file's (a) time, the object (b) may still
        // store that time: a file dated in the future (a camera's wrong clock, a client's
        // clock ahead of the server's) is otherwise sent again by every sync.
        (Compare::SizeAndTime, Direction::Up) => match (a.mtime, b.mtime) {
            (Some(file), Some(dest)) if secs(dest) >= secs(file) => Some(true),
            (Some(_), Some(_)) => None,
            _ => Some(false),
        },
        // The file (b) has the object's (a) Last-Modified; else its stored mtime, maybe.
        (Compare::SizeAndTime, Direction::Down) => match (b.mtime, a.mtime) {
            (Some(file), Some(listed)) if secs(file) == secs(listed) => Some(true),
            (Some(_), Some(_)) => None,
            _ => Some(false),
        },
    }
}

/// The probes at work: pairs sent to `pairs` are judged, several at a time; those that
/// differ go on to the transfers. `done` ends, once `pairs` is dropped, with the skips and
/// the transfers it decided.
pub(super) struct Judging {
    pub(super) pairs: mpsc::Sender<(Item, Item)>,
    pub(super) done: tokio::task::JoinHandle<Merged>,
}

/// Starts the probes, sending what differs to `tx`.
pub(super) fn start<C: ObjectClient>(
    ctx: &Context<C>,
    sides: &Sides,
    settings: &SyncSettings,
    probe: Probe,
    tx: mpsc::Sender<Found>,
) -> Judging {
    let (pairs, mut rx) = mpsc::channel::<(Item, Item)>(PROBES);
    let (ctx, sides, dry_run) = (ctx.clone(), sides.clone(), settings.dry_run);
    let immutable = settings.immutable;
    let task = tokio::spawn(async move {
        let mut judged = pin!(
            futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
                .map(|(a, b)| probe(a, b))
                .buffer_unordered(PROBES)
        );
        let mut merged = Merged::default();
        while let Some((a, same)) = judged.next().await {
            let how = (immutable, dry_run);
            if !probed(&ctx, &sides, how, (a, same), &tx, &mut merged).await {
                break;
            }
        }
        merged
    });
    Judging { pairs, done: task }
}

/// Acts on what was found of source item `a` and the destination's at its path (`same`):
/// reports it the same, sends it on as differing (or fails it, `immutable`), or fails it,
/// named, when that could not be said; false when the transfers have stopped.
pub(super) async fn probed<C: ObjectClient>(
    ctx: &Context<C>,
    sides: &Sides,
    (immutable, dry_run): (bool, bool),
    (a, same): (Item, Result<bool, Error>),
    tx: &mpsc::Sender<Found>,
    merged: &mut Merged,
) -> bool {
    match same {
        Ok(true) => {
            merged.skipped += 1;
            sides.report(ctx, SyncAction::Skip, &a, dry_run).await;
            true
        }
        Ok(false) => differs(a, sides, immutable, tx, merged).await,
        Err(error) => tx.send(Found::Bad(sides.failure(&a, error))).await.is_ok(),
    }
}

/// A probe for a pair [`at_once`] always settles.
fn never() -> Probe {
    Arc::new(|a, _| Box::pin(async move { (a, Ok(false)) }))
}

/// What a probe that could not ask the server decides. The pair differs, and the transfer
/// decides, when the object is gone (deleted since it was listed), when the credentials may
/// not read it (write-only backup keys: sending again is all they can do, as a sync that
/// never asks), or when the local file cannot be read (the transfer meets that again, and
/// says so). Any other refusal fails the pair: taken as a difference, it would have the
/// object replaced, unasked, at every sync (an SSE-C object read without its key: by an
/// unencrypted copy).
fn undecided(e: Error) -> Result<bool, Error> {
    let status = e.s3().and_then(|e| e.status());
    if matches!(status, Some(404 | 403)) || e.kind() == ErrorKind::Local {
        return Ok(false);
    }
    Err(e)
}

/// HeadObject with the object's checksum, of the version a listing of versions chose (see
/// [`Item::version_id`]), else the current one.
async fn head<C: ObjectClient>(
    ctx: &Context<C>,
    bucket: &str,
    object: &Item,
    request: &RequestOptions,
) -> Result<ObjectMeta, Error> {
    let key = &object.key;
    let req = GetObjectRequest {
        checksum_mode: true,
        ..object_request(bucket, object, request)
    };
    ctx.request(None, |c| c.head_object(&req))
        .await
        .map_err(|e| e.into_error(format!("comparing with s3://{bucket}/{key}"), "sync"))
}

/// A file and the object it pairs with, as a probe's check takes them.
struct FileAndObject<C> {
    ctx: Context<C>,
    bucket: String,
    object: Item,
    request: RequestOptions,
    file: Item,
}

/// A probe that asks `check` whether a pair's file and object (by key) are the same; `up`:
/// the source is the file.
fn pair_probe<C, F, Fut>(
    ctx: &Context<C>,
    bucket: &str,
    request: &RequestOptions,
    up: bool,
    check: F,
) -> Probe
where
    C: ObjectClient,
    F: Fn(FileAndObject<C>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<bool, Error>> + Send + 'static,
{
    let (ctx, bucket, request) = (ctx.clone(), bucket.to_string(), request.clone());
    Arc::new(move |a: Item, b: Item| {
        let (file, object) = if up { (a.clone(), b) } else { (b, a.clone()) };
        let same = check(FileAndObject {
            ctx: ctx.clone(),
            bucket: bucket.clone(),
            object,
            request: request.clone(),
            file,
        });
        Box::pin(async move { (a, same.await) })
    })
}

/// The probe of a sync up.
pub(super) fn up<C: ObjectClient>(ctx: &Context<C>, tree: &TreeUpload, compare: Compare) -> Probe {
    file_and_object(ctx, &tree.bucket, &tree.options.request, compare, true)
}

/// The probe that finds a rename: whether a file holds the bytes of an object, the one
/// only the destination holds (`up`: the file is the source), by the object's own checksum
/// (or the ETag listed, when it is the file's MD5). Whatever cannot be said is no match.
pub(super) fn renamed<C: ObjectClient>(
    ctx: &Context<C>,
    bucket: &str,
    request: &RequestOptions,
    up: bool,
) -> Probe {
    let same = |p| async move { Ok(matches!(compared(p).await, Ok(Some(true)))) };
    pair_probe(ctx, bucket, request, up, same)
}

/// The probe of a sync down.
pub(super) fn down<C: ObjectClient>(
    ctx: &Context<C>,
    tree: &TreeDownload,
    compare: Compare,
) -> Probe {
    file_and_object(ctx, &tree.bucket, &tree.request, compare, false)
}

/// The probe of a file and an object of `bucket`: whether the file holds the object's bytes,
/// by the object's own check ([`Compare::Checksum`]), or the object stores the file's time as
/// its `mtime` (a HeadObject); `up`: the source is the file.
pub(super) fn file_and_object<C: ObjectClient>(
    ctx: &Context<C>,
    bucket: &str,
    request: &RequestOptions,
    compare: Compare,
    up: bool,
) -> Probe {
    match compare {
        Compare::SizeOnly => never(),
        Compare::Checksum => pair_probe(ctx, bucket, request, up, same_checksum),
        Compare::Verify => pair_probe(ctx, bucket, request, up, verified),
        Compare::Download => pair_probe(ctx, bucket, request, up, read_both),
        Compare::SizeAndTime => pair_probe(ctx, bucket, request, up, same_mtime),
    }
}

/// Whether the file holds the bytes the object holds, by the checksum the object stores
/// (see [`compared`]); one that cannot be compared counts as a difference.
async fn same_checksum<C: ObjectClient>(p: FileAndObject<C>) -> Result<bool, Error> {
    compared(p)
        .await
        .map(|same| same == Some(true))
        .or_else(undecided)
}

/// As [`same_checksum`], but a pair that cannot be compared fails, saying why
/// ([`Compare::Verify`]); an object gone since it was listed still differs.
async fn verified<C: ObjectClient>(p: FileAndObject<C>) -> Result<bool, Error> {
    let url = format!("s3://{}/{}", p.bucket, p.object.key);
    match compared(p).await {
        Ok(Some(same)) => Ok(same),
        Ok(None) => Err(Error::new(
            ErrorKind::Verification,
            format!(
                "{url} offers no checksum to compare with (no additional checksum, and its ETag \
                 is no MD5: under a KMS or customer key): whether it holds the file's bytes \
                 cannot be said"
            ),
        )),
        Err(e) if e.s3().and_then(|e| e.status()) == Some(404) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether the file holds the bytes the object holds, both read whole
/// ([`Compare::Download`]); an object gone since it was listed differs, and any other
/// failure to read it fails the pair.
async fn read_both<C: ObjectClient>(p: FileAndObject<C>) -> Result<bool, Error> {
    let req = object_request(&p.bucket, &p.object, &p.request);
    match download::file_holds(&p.ctx, &req, listed(&p.object), &p.file.path).await {
        Err(e) if e.s3().and_then(|e| e.status()) == Some(404) => Ok(false),
        held => held,
    }
}

/// The request that reads `object` of `bucket`: the version a listing of versions chose
/// (see [`Item::version_id`]), else the current one.
fn object_request(bucket: &str, object: &Item, request: &RequestOptions) -> GetObjectRequest {
    GetObjectRequest {
        bucket: bucket.to_string(),
        key: object.key.clone(),
        version_id: object.version_id.clone(),
        request: request.clone(),
        ..Default::default()
    }
}

/// What the listing said of `object`, which saves a small one's download its HeadObject.
fn listed(object: &Item) -> Option<Listed> {
    let etag = object.etag.clone()?;
    Some(Listed {
        size: object.size,
        etag,
    })
}

/// Whether the file holds the bytes the object holds, by the checksum the object stores (a
/// HeadObject); for a small file, first by the ETag listed, when that is the file's MD5 (no
/// request then). `None` when the object offers no check to compare with.
async fn compared<C: ObjectClient>(p: FileAndObject<C>) -> Result<Option<bool>, Error> {
    let listed = p
        .object
        .etag
        .as_deref()
        .filter(|_| p.file.size <= LISTED_ETAG_MAX);
    if let Some(etag) = listed
        && file_gives_etag(&p.file.path, etag).await?
    {
        return Ok(Some(true));
    }
    let (key, version) = (&p.object.key, p.object.version_id.as_deref());
    crate::download::file_matches(&p.ctx, &p.bucket, key, version, &p.request, &p.file.path).await
}

/// Whether the object stores the file's modification time.
async fn same_mtime<C: ObjectClient>(p: FileAndObject<C>) -> Result<bool, Error> {
    let Some(time) = p.file.mtime else {
        return Ok(false);
    };
    match head(&p.ctx, &p.bucket, &p.object, &p.request).await {
        Ok(meta) => Ok(stored_mtime_is(&meta, time)),
        Err(e) => undecided(e),
    }
}

/// Whether the `mtime` stored in `meta` is the file's time `file` (to the second when the
/// stored time has no fraction).
fn stored_mtime_is(meta: &ObjectMeta, file: SystemTime) -> bool {
    meta.metadata
        .get(crate::mtime::MTIME_KEY)
        .and_then(|v| crate::mtime::parse_mtime(v))
        .is_some_and(|stored| {
            stored == file
                || (stored
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.subsec_nanos() == 0)
                    .unwrap_or(false)
                    && secs(stored) == secs(file))
        })
}

/// The probe of a sync from prefix to prefix: both objects' checksums (or ETags) agree.
pub(super) fn copy<C: ObjectClient, D: ObjectClient>(
    ctx: &Context<C>,
    source: Option<&Context<D>>,
    tree: &TreeCopy,
    compare: Compare,
) -> Probe {
    if compare == Compare::Download {
        return copy_read(ctx, source, tree);
    }
    if !matches!(compare, Compare::Checksum | Compare::Verify) {
        return never();
    }
    let (ctx, source) = (ctx.clone(), source.cloned());
    let (from_bucket, from_request) = (tree.from_bucket.clone(), tree.from_request.clone());
    let (bucket, request) = (tree.bucket.clone(), tree.options.request.clone());
    Arc::new(move |a: Item, b: Item| {
        let (ctx, source) = (ctx.clone(), source.clone());
        let (from_bucket, from_request) = (from_bucket.clone(), from_request.clone());
        let (bucket, request) = (bucket.clone(), request.clone());
        Box::pin(async move {
            // The same ETag listed on both sides (and the same size: the merge compared
            // them) is the same bytes, as `compare_content` would find from their HeadObjects
            // (an MD5 of the bytes or of the same parts; a copy keeps its source's).
            if same_etag(a.etag.as_deref(), b.etag.as_deref()) {
                return (a, Ok(true));
            }
            let read = match &source {
                Some(s) => head(s, &from_bucket, &a, &from_request).await,
                None => head(&ctx, &from_bucket, &a, &from_request).await,
            };
            let same = match (read, head(&ctx, &bucket, &b, &request).await) {
                (Ok(x), Ok(y)) => match (compare_content(&x, &y), compare) {
                    (Some(same), _) => Ok(same),
                    (None, Compare::Verify) => Err(Error::new(
                        ErrorKind::Verification,
                        format!(
                            "s3://{from_bucket}/{} and s3://{bucket}/{} offer nothing to compare \
                             by (no checksums of one kind, and ETags that are not both MD5s): \
                             whether they hold the same bytes cannot be said",
                            a.key, b.key
                        ),
                    )),
                    (None, _) => Ok(false),
                },
                (Err(e), _) | (_, Err(e)) if compare == Compare::Verify => Err(e),
                (Err(e), _) | (_, Err(e)) => undecided(e),
            };
            (a, same)
        })
    })
}

/// The probe of a sync from prefix to prefix by [`Compare::Download`]: both objects read
/// whole, at once, and their bytes compared; a failure to read either fails the pair.
fn copy_read<C: ObjectClient, D: ObjectClient>(
    ctx: &Context<C>,
    source: Option<&Context<D>>,
    tree: &TreeCopy,
) -> Probe {
    let (ctx, source) = (ctx.clone(), source.cloned());
    let (from_bucket, from_request) = (tree.from_bucket.clone(), tree.from_request.clone());
    let (bucket, request) = (tree.bucket.clone(), tree.options.request.clone());
    Arc::new(move |a: Item, b: Item| {
        let (ctx, source) = (ctx.clone(), source.clone());
        let from = object_request(&from_bucket, &a, &from_request);
        let to = object_request(&bucket, &b, &request);
        Box::pin(async move {
            let read = async {
                match &source {
                    Some(s) => download::read_back(s, &from, listed(&a)).await,
                    None => download::read_back(&ctx, &from, listed(&a)).await,
                }
            };
            let (x, y) = tokio::join!(read, download::read_back(&ctx, &to, listed(&b)));
            let same = match (x, y) {
                (Ok(x), Ok(y)) => Ok(x == y),
                (Err(e), _) | (_, Err(e)) => Err(e),
            };
            (a, same)
        })
    })
}

/// Whether two listed ETags are one, quotes and case aside.
fn same_etag(a: Option<&str>, b: Option<&str>) -> bool {
    let bare = |e: &str| e.trim_matches('"').to_ascii_lowercase();
    matches!((a, b), (Some(a), Some(b)) if !bare(a).is_empty() && bare(a) == bare(b))
}

/// Whether two objects hold the same bytes by what they say of them (their HeadObject, with
/// checksums asked for): see [`compare_content`]; what cannot be said is not the same.
pub fn same_content(x: &ObjectMeta, y: &ObjectMeta) -> bool {
    compare_content(x, y) == Some(true)
}

/// Whether two objects hold the same bytes by what they say of them (their HeadObject, with
/// checksums asked for), or `None` when that cannot be said. Other sizes differ. Checksums of
/// one algorithm over the whole object (full-object CRCs, a SHA of a single PUT) settle it
/// either way; composite ones (of parts, `-N`) only when equal, since other part sizes give
/// others for the same bytes. Else the same ETag is the same bytes (an MD5 of them, or of
/// the same parts), and two plain MD5 ETags that differ are other bytes.
pub fn compare_content(x: &ObjectMeta, y: &ObjectMeta) -> Option<bool> {
    if x.content_length != y.content_length {
        return Some(false);
    }
    let composite = |m: &ObjectMeta, v: &ChecksumValue| {
        m.checksum.checksum_type == Some(ChecksumType::Composite) || v.value.contains('-')
    };
    if let (Some(p), Some(q)) = (&x.checksum.value, &y.checksum.value)
        && p.algorithm == q.algorithm
    {
        if p.value == q.value {
            return Some(true);
        }
        if !composite(x, p) && !composite(y, q) {
            return Some(false);
        }
    }
    let bare = |m: &ObjectMeta| m.etag.trim_matches('"').to_ascii_lowercase();
    let (e, f) = (bare(x), bare(y));
    if !e.is_empty() && e == f {
        return Some(true);
    }
    let md5 = |e: &str| e.len() == 32 && e.bytes().all(|b| b.is_ascii_hexdigit());
    (md5(&e) && md5(&f)).then_some(false)
}

/// What the merge and the probes decided, beyond the transfers they sent on.
#[derive(Default)]
pub(super) struct Merged {
    pub(super) skipped: u64,
    /// Paths left as the destination holds them, not compared (see [`left_alone`]).
    pub(super) kept: u64,
    /// Transfers decided: their count and bytes.
    pub(super) planned: (u64, u64),
    /// Of those, paths the destination does not hold at all.
    pub(super) missing: u64,
    /// Of those, files to be copied from an object that holds their bytes.
    pub(super) renamed: u64,
    /// Files the destination lacks, held back to be matched with what only it holds.
    pub(super) held: Vec<Item>,
    /// The sizes of what only the destination holds (when renames are tracked).
    pub(super) sizes_gone: std::collections::HashSet<u64>,
    /// The held files that can have no match went on, once the destination was read whole.
    pub(super) released: bool,
    pub(super) deletions: Vec<Item>,
    pub(super) listing_failed: bool,
    /// Source entries out of the filters' bounds on size or time: neither sent nor compared,
    /// and what the destination holds at their paths is not deleted.
    pub(super) out_of_bounds: u64,
}

/// A source item found to differ from the destination's: sent to the transfers, or, when
/// the destination is `immutable`, failed, named, and not replaced; false when the
/// transfers have stopped.
pub(super) async fn differs(
    i: Item,
    sides: &Sides,
    immutable: bool,
    tx: &mpsc::Sender<Found>,
    merged: &mut Merged,
) -> bool {
    if !immutable {
        return send(i, tx, merged).await;
    }
    let (_, from, to) = sides.names(&i);
    let why = format!("{to} holds other bytes than {from}, and is kept as it is (immutable)");
    let failed = sides.failure(&i, Error::new(ErrorKind::Exists, why));
    tx.send(Found::Bad(failed)).await.is_ok()
}

/// Sends a source item to the transfers (in a dry run, to the report of them); false when
/// the transfers have stopped.
pub(super) async fn send(i: Item, tx: &mpsc::Sender<Found>, merged: &mut Merged) -> bool {
    merged.planned.0 += 1;
    merged.planned.1 += i.size;
    merged.missing += u64::from(!i.in_destination);
    tx.send(Found::Item(i)).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_s3::{ChecksumAlgorithm, ChecksumValue};

    fn item(size: u64, secs: u64) -> Item {
        Item {
            mtime: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs)),
            ..Item::named("k", size)
        }
    }

    #[test]
    fn the_settings_leave_alone_what_the_destination_holds_or_holds_newer() {
        let s = |ignore_existing, update| SyncSettings {
            ignore_existing,
            update,
            ..Default::default()
        };
        let (old, new) = (item(1, 100), item(2, 200));
        assert!(left_alone(&s(true, false), &new, &old), "whatever it holds");
        assert!(
            !left_alone(&s(false, true), &new, &old),
            "the source is newer"
        );
        assert!(
            left_alone(&s(false, true), &old, &new),
            "the destination is"
        );
        let same_second = item(3, 100);
        assert!(!left_alone(&s(false, true), &old, &same_second));
        assert!(!left_alone(&s(false, false), &old, &new));
    }

    #[test]
    fn listings_settle_sizes_and_times_and_leave_checksums_to_the_server() {
        let (old, new) = (item(5, 100), item(5, 200));
        let up = Direction::Up;
        assert_eq!(at_once(up, Compare::SizeAndTime, &old, &new), Some(true));
        // An object older than its file: its stored mtime decides.
        assert_eq!(at_once(up, Compare::SizeAndTime, &new, &old), None);
        assert_eq!(
            at_once(up, Compare::SizeAndTime, &item(4, 200), &old),
            Some(false)
        );
        assert_eq!(at_once(up, Compare::SizeOnly, &new, &old), Some(true));
        assert_eq!(at_once(up, Compare::Checksum, &old, &new), None);
        assert_eq!(
            at_once(up, Compare::Checksum, &item(4, 1), &new),
            Some(false)
        );
        let down = Direction::Down;
        assert_eq!(at_once(down, Compare::SizeAndTime, &old, &old), Some(true));
        assert_eq!(at_once(down, Compare::SizeAndTime, &old, &new), None);
        assert_eq!(
            at_once(Direction::Copy, Compare::SizeAndTime, &new, &old),
            Some(false)
        );
    }

    #[test]
    fn objects_agree_by_checksum_before_etag() {
        let meta = |v: &str, etag: &str| ObjectMeta {
            content_length: 3,
            etag: etag.into(),
            checksum: ferry_s3::ObjectChecksum {
                value: (!v.is_empty()).then(|| ChecksumValue {
                    algorithm: ChecksumAlgorithm::Crc64Nvme,
                    value: v.into(),
                }),
                checksum_type: None,
            },
            ..Default::default()
        };
        assert!(same_content(
            &meta("AAA=", "\"e1\""),
            &meta("AAA=", "\"e2\"")
        ));
        assert!(!same_content(
            &meta("AAA=", "\"e1\""),
            &meta("BBB=", "\"e1\"")
        ));
        assert!(same_content(&meta("", "\"e1\""), &meta("AAA=", "\"e1\"")));
        assert!(!same_content(&meta("", "\"e1\""), &meta("", "\"e2\"")));
        // What can be said, and what cannot.
        let md5 = |c: char| format!("\"{}\"", c.to_string().repeat(32));
        assert_eq!(
            compare_content(&meta("", "\"e1\""), &meta("", "\"e2\"")),
            None
        );
        assert_eq!(
            compare_content(&meta("", &md5('a')), &meta("", &md5('b'))),
            Some(false)
        );
        assert_eq!(
            compare_content(&meta("", &md5('a')), &meta("", &md5('A'))),
            Some(true)
        );
        // Composite values of other parts say nothing when they differ.
        let parts = |v: &str, e: &str| ObjectMeta {
            checksum: ferry_s3::ObjectChecksum {
                checksum_type: Some(ChecksumType::Composite),
                ..meta(v, e).checksum
            },
            ..meta(v, e)
        };
        assert_eq!(
            compare_content(&parts("AAA=-2", "\"x-2\""), &parts("BBB=-3", "\"y-3\"")),
            None
        );
        assert_eq!(
            compare_content(&parts("AAA=-2", "\"x-2\""), &parts("AAA=-2", "\"z-2\"")),
            Some(true)
        );
    }
}
