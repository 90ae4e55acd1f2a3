//! Object lock set on objects already written (PutObjectRetention, PutObjectLegalHold): one
//! object, or every object under a prefix, listed page by page while the objects already
//! listed are locked, each in its own requests through the one worker pool. What a backup
//! tool does to keep the chunks a new snapshot still uses.

use ferry_s3::{
    ObjectClient, ObjectLockMode, PutObjectLegalHoldRequest, PutObjectRetentionRequest,
    RequestOptions,
};

use super::each::{each, under_prefix};
use super::filter::Filters;
use super::sides::url;
use crate::context::Context;
use crate::error::{Error, Failure};
use crate::outcome::ObjectFailure;
use crate::progress::Event;

/// Objects to lock: one object (a version of it, or the current one), or with `recursive`
/// the current version of every object under a prefix.
#[derive(Debug, Clone)]
pub struct Lock {
    /// Bucket.
    pub bucket: String,
    /// The object's key; with `recursive`, the prefix (a `/` is added when it has none;
    /// empty: the whole bucket).
    pub key: String,
    /// Every object under the prefix `key` names.
    pub recursive: bool,
    /// One object: this version of it (by default, the current one).
    pub version_id: Option<String>,
    /// The retention to set: a new one, or a longer one (a shorter one, or another mode,
    /// takes GOVERNANCE and `bypass_governance_retention`). Needs `s3:PutObjectRetention`.
    pub retention: Option<Retention>,
    /// The legal hold to set (on) or lift (off). Needs `s3:PutObjectLegalHold`.
    pub legal_hold: Option<bool>,
    /// Shorten or change a GOVERNANCE retention (needs `s3:BypassGovernanceRetention`).
    pub bypass_governance_retention: bool,
    /// Which objects under the prefix are locked, by their key below it (every one by
    /// default).
    pub filters: Filters,
    /// Only report what would be locked (in [`Event::Locked`], with `dry_run`).
    pub dry_run: bool,
    /// Expected bucket owner, requester pays: sent with every request.
    pub request: RequestOptions,
}

/// An object lock retention: its mode, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// GOVERNANCE or COMPLIANCE.
    pub mode: ObjectLockMode,
    /// Until when, RFC 3339 (e.g. `2030-01-01T00:00:00Z`).
    pub until: String,
}

impl Lock {
    /// The object `bucket`/`key`, its retention and legal hold left as they are until set.
    pub fn object(bucket: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            key: key.into(),
            recursive: false,
            version_id: None,
            retention: None,
            legal_hold: None,
            bypass_governance_retention: false,
            filters: Filters::default(),
            dry_run: false,
            request: RequestOptions::default(),
        }
    }

    /// Every object under `bucket`/`prefix`.
    pub fn prefix(bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self {
            recursive: true,
            ..Self::object(bucket, prefix)
        }
    }
}

/// What a lock did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct LockOutcome {
    /// Objects locked (or, in a dry run, that would be).
    pub locked: u64,
    /// Objects the server refused to lock, each with why.
    pub failed: Vec<ObjectFailure>,
    /// The run was cancelled before every object listed was locked.
    pub interrupted: bool,
    /// Nothing was locked: what would be was reported.
    pub dry_run: bool,
}

impl LockOutcome {
    /// Every object found was locked.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty() && !self.interrupted
    }
}

/// Objects locked at once under a prefix (each one or two requests, within the manager's
/// requests in flight).
const LOCKS_AT_ONCE: u32 = 16;

/// Runs `lock`.
pub(crate) async fn run<C: ObjectClient>(
    ctx: Context<C>,
    lock: Lock,
) -> Result<LockOutcome, Error> {
    check(&lock)?;
    lock.filters.walks_none("a lock")?;
    let mut outcome = LockOutcome {
        dry_run: lock.dry_run,
        ..Default::default()
    };
    if !lock.recursive {
        if lock.key.is_empty() || lock.key.ends_with('/') {
            return Err(Error::invalid(format!(
                "s3://{}/{} names no object: give its key, or lock every object under a prefix",
                lock.bucket, lock.key
            )));
        }
        lock_one(&ctx, &lock, &lock.key, lock.version_id.as_deref()).await?;
        outcome.locked = 1;
        return Ok(outcome);
    }
    let found = under_prefix(&ctx, &lock.bucket, &lock.key, &lock.request, &lock.filters);
    let lock = std::sync::Arc::new(lock);
    // A bucket without object lock fails every object so: it ends the run.
    let one = |item: super::Item| {
        let (ctx, lock) = (ctx.clone(), lock.clone());
        async move { lock_one(&ctx, &lock, &item.key, None).await }
    };
    let mut locked = 0;
    let ended = each(&ctx, found, LOCKS_AT_ONCE, "lock", one, |()| locked += 1).await?;
    outcome.locked = locked;
    outcome.failed = ended.failed;
    outcome.interrupted = ended.interrupted;
    Ok(outcome)
}

/// Refuses a lock that asks for nothing, or for what cannot be.
fn check(lock: &Lock) -> Result<(), Error> {
    if lock.retention.is_none() && lock.legal_hold.is_none() {
        return Err(Error::invalid(
            "a lock sets a retention, a legal hold, or both: neither was given",
        ));
    }
    if lock.bypass_governance_retention && lock.retention.is_none() {
        return Err(Error::invalid(
            "bypassing a GOVERNANCE retention goes with the retention that shortens or changes it",
        ));
    }
    if lock.recursive && lock.version_id.is_some() {
        return Err(Error::invalid(
            "a version is of one object: lock the current version of every object under a \
             prefix, or name one object",
        ));
    }
    if let Some(r) = &lock.retention {
        use time::format_description::well_known::Rfc3339;
        time::OffsetDateTime::parse(&r.until, &Rfc3339).map_err(|_| {
            Error::invalid(format!(
                "the retention's end {:?} is not RFC 3339 (e.g. 2030-01-01T00:00:00Z)",
                r.until
            ))
        })?;
    }
    Ok(())
}

/// Sets the retention, then the legal hold, `lock` asks for on `key` (`version`, else the
/// current one), and reports it; in a dry run, only reports it.
async fn lock_one<C: ObjectClient>(
    ctx: &Context<C>,
    lock: &Lock,
    key: &str,
    version: Option<&str>,
) -> Result<(), Error> {
    let url = url(&lock.bucket, key);
    if !lock.dry_run {
        let version_id = version.map(str::to_string);
        let terms = lock.request.bucket_terms();
        let refused = |what: &str| {
            let context = format!("setting the {what} of {url}");
            move |f: Failure| f.into_error(context, "lock").refusing_locks()
        };
        if let Some(r) = &lock.retention {
            let req = PutObjectRetentionRequest {
                bucket: lock.bucket.clone(),
                key: key.to_string(),
                version_id: version_id.clone(),
                mode: r.mode,
                retain_until: r.until.clone(),
                bypass_governance_retention: lock.bypass_governance_retention,
                request: terms.clone(),
            };
            ctx.request(None, |c| c.put_object_retention(&req))
                .await
                .map_err(refused("retention"))?;
        }
        if let Some(on) = lock.legal_hold {
            let req = PutObjectLegalHoldRequest {
                bucket: lock.bucket.clone(),
                key: key.to_string(),
                version_id,
                on,
                request: terms,
            };
            ctx.request(None, |c| c.put_object_legal_hold(&req))
                .await
                .map_err(refused("legal hold"))?;
        }
    }
    ctx.emit(Event::Locked {
        object: url,
        version_id: version.map(str::to_string),
        dry_run: lock.dry_run,
    });
    Ok(())
}
