//! Archived objects restored (RestoreObject): one object, or every archived object under a
//! prefix, listed page by page while those listed are restored, each through the one pool. A
//! restore takes hours; this starts it (or keeps a restored copy longer) and says which.

use ferry_s3::{
    GetObjectRequest, ObjectClient, RequestOptions, RestoreObjectRequest, RestoreTier, Restored,
    is_archived_class,
};

use super::each::{each, under_prefix};
use super::filter::Filters;
use super::sides::url;
use crate::context::Context;
use crate::error::{Error, ErrorKind, Failure};
use crate::outcome::{ObjectFailure, Restoring};
use crate::progress::Event;

/// Objects to restore: one object (a version of it, or the current one), or with
/// `recursive` the current version of every archived object under a prefix.
#[derive(Debug, Clone)]
pub struct Restore {
    /// Bucket.
    pub bucket: String,
    /// The object's key; with `recursive`, the prefix (a `/` is added when it has none;
    /// empty: the whole bucket).
    pub key: String,
    /// Every archived object under the prefix `key` names: those the listing shows in an
    /// archived storage class (GLACIER, DEEP_ARCHIVE), and those in INTELLIGENT_TIERING that
    /// HeadObject shows in an archive tier.
    pub recursive: bool,
    /// One object: this version of it (by default, the current one).
    pub version_id: Option<String>,
    /// Days the restored copy stays readable (1 or more), from the restore's end; for an
    /// object restored already, from now. Not sent for Intelligent-Tiering, which moves
    /// the object back to its frequent tier instead.
    pub days: u32,
    /// How fast (and at what price); S3's default, Standard, when `None`.
    pub tier: Option<RestoreTier>,
    /// Which objects under the prefix are restored, by their key below it (every archived
    /// one by default).
    pub filters: Filters,
    /// Only report what would be restored (in [`Event::Restore`], with `dry_run`).
    pub dry_run: bool,
    /// Expected bucket owner, requester pays: sent with every request.
    pub request: RequestOptions,
}

impl Restore {
    /// The object `bucket`/`key`, restored for `days`.
    pub fn object(bucket: impl Into<String>, key: impl Into<String>, days: u32) -> Self {
        Self {
            bucket: bucket.into(),
            key: key.into(),
            recursive: false,
            version_id: None,
            days,
            tier: None,
            filters: Filters::default(),
            dry_run: false,
            request: RequestOptions::default(),
        }
    }

    /// Every archived object under `bucket`/`prefix`, restored for `days`.
    pub fn prefix(bucket: impl Into<String>, prefix: impl Into<String>, days: u32) -> Self {
        Self {
            recursive: true,
            ..Self::object(bucket, prefix, days)
        }
    }
}

/// What a restore did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct RestoreOutcome {
    /// Restores begun (or, in a dry run, that would be).
    pub started: u64,
    /// Restored copies kept longer.
    pub extended: u64,
    /// Objects whose restore was under way already.
    pub in_progress: u64,
    /// Objects not archived: readable as they are.
    pub readable: u64,
    /// Objects whose restore failed, each with why.
    pub failed: Vec<ObjectFailure>,
    /// The run was cancelled before every object listed was done.
    pub interrupted: bool,
    /// Nothing was restored: what would be was reported.
    pub dry_run: bool,
}

impl RestoreOutcome {
    /// Every object found was restored, is being restored, or needs none.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty() && !self.interrupted
    }

    fn count(&mut self, r: Restoring) {
        match r {
            Restoring::Started => self.started += 1,
            Restoring::Extended => self.extended += 1,
            Restoring::InProgress => self.in_progress += 1,
            Restoring::Readable => self.readable += 1,
        }
    }
}

/// Objects restored at once under a prefix (each one request, two for Intelligent-Tiering),
/// within the manager's requests in flight.
const RESTORES_AT_ONCE: u32 = 16;

/// Runs `restore`.
pub(crate) async fn run<C: ObjectClient>(
    ctx: Context<C>,
    restore: Restore,
) -> Result<RestoreOutcome, Error> {
    check(&restore)?;
    restore.filters.walks_none("a restore")?;
    let mut outcome = RestoreOutcome {
        dry_run: restore.dry_run,
        ..Default::default()
    };
    if !restore.recursive {
        let version = restore.version_id.as_deref();
        let done = restore_one(&ctx, &restore, &restore.key, version, None).await?;
        outcome.count(done);
        return Ok(outcome);
    }
    let r = &restore;
    let found = under_prefix(&ctx, &r.bucket, &r.key, &r.request, &r.filters);
    let restore = std::sync::Arc::new(restore);
    let one = |item: super::Item| {
        let (ctx, restore) = (ctx.clone(), restore.clone());
        async move {
            let listed = Some(item.storage_class.as_deref().unwrap_or("STANDARD"));
            restore_one(&ctx, &restore, &item.key, None, listed).await
        }
    };
    let counted = &mut outcome;
    let ended = each(&ctx, found, RESTORES_AT_ONCE, "restore", one, |r| {
        counted.count(r)
    })
    .await?;
    outcome.failed = ended.failed;
    outcome.interrupted = ended.interrupted;
    Ok(outcome)
}

/// Refuses a restore that cannot be.
fn check(restore: &Restore) -> Result<(), Error> {
    if restore.days == 0 {
        return Err(Error::invalid(
            "a restored copy stays readable one day or more: give the days",
        ));
    }
    if restore.recursive && restore.version_id.is_some() {
        return Err(Error::invalid(
            "a version is of one object: restore the current version of every object under a \
             prefix, or name one object",
        ));
    }
    if !restore.recursive && (restore.key.is_empty() || restore.key.ends_with('/')) {
        return Err(Error::invalid(format!(
            "s3://{}/{} names no object: give its key, or restore every object under a prefix",
            restore.bucket, restore.key
        )));
    }
    Ok(())
}

/// Restores `key` (`version`, else the current one) as `restore` asks, and reports it. With
/// the storage class a listing gave (`listed`), an archived one is restored at once and
/// one that is neither archived nor INTELLIGENT_TIERING is readable; otherwise HeadObject
/// says whether it is archived, restored or being restored.
async fn restore_one<C: ObjectClient>(
    ctx: &Context<C>,
    restore: &Restore,
    key: &str,
    version: Option<&str>,
    listed: Option<&str>,
) -> Result<Restoring, Error> {
    let url = url(&restore.bucket, key);
    // Reports what it found the object to be, and did.
    let said = |class: &str, done: Restoring| {
        ctx.emit(Event::Restore {
            object: url.clone(),
            version_id: version.map(str::to_string),
            storage_class: class.to_string(),
            restoring: done,
            dry_run: restore.dry_run,
        });
        Ok(done)
    };
    // The class listed settles all but INTELLIGENT_TIERING, whose tier HeadObject tells; what
    // is sent one RestoreObject, which keeps a `restored` copy longer or starts a restore.
    let (class, restored) = match listed {
        Some(class) if is_archived_class(class) => (class.to_string(), false),
        Some(class) if class != "INTELLIGENT_TIERING" => return said(class, Restoring::Readable),
        _ => {
            let head = GetObjectRequest {
                bucket: restore.bucket.clone(),
                key: key.to_string(),
                version_id: version.map(str::to_string),
                request: restore.request.bucket_terms(),
                ..Default::default()
            };
            let meta = ctx.described(&head, "restore").await?;
            let class = meta.storage_class.clone().unwrap_or("STANDARD".into());
            match (&meta.restore, meta.is_archived()) {
                (Some(r), _) if r.ongoing => return said(&class, Restoring::InProgress),
                (Some(_), _) => (class, true),
                (None, false) => return said(&class, Restoring::Readable),
                (None, true) => (class, false),
            }
        }
    };
    if restore.dry_run {
        let would = match restored {
            true => Restoring::Extended,
            false => Restoring::Started,
        };
        return said(&class, would);
    }
    let req = RestoreObjectRequest {
        bucket: restore.bucket.clone(),
        key: key.to_string(),
        version_id: version.map(str::to_string),
        // Intelligent-Tiering takes no days: the object moves back to its frequent tier.
        days: (class != "INTELLIGENT_TIERING").then_some(restore.days),
        tier: restore.tier,
        request: restore.request.bucket_terms(),
    };
    let done = match ctx.request(None, |c| c.restore_object(&req)).await {
        Ok(Restored::Started) => Restoring::Started,
        Ok(Restored::Extended) => Restoring::Extended,
        Err(Failure::S3(e)) if e.code() == Some("RestoreAlreadyInProgress") => {
            Restoring::InProgress
        }
        // S3's answer for an object it keeps readable (a stale listing's class).
        Err(Failure::S3(e)) if e.code() == Some("InvalidObjectState") => Restoring::Readable,
        // S3's 503 when it has no Expedited capacity: retried, and still none.
        Err(Failure::S3(e)) if e.code() == Some("GlacierExpeditedRetrievalNotAvailable") => {
            let why = format!(
                "restoring {url}: {e}: the Expedited tier has no capacity now; the Standard tier \
                 always takes a restore (hours)"
            );
            return Err(Error::new(ErrorKind::Service, why).with_source(e));
        }
        Err(f) => return Err(f.into_error(format!("restoring {url}"), "restore")),
    };
    said(&class, done)
}
