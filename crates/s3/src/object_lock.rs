//! Object lock's requests and states: a version's retention and legal hold set after it was
//! written (PutObjectRetention, PutObjectLegalHold), and a bucket's default retention
//! (GetObjectLockConfiguration, PutObjectLockConfiguration).

use crate::options::{ObjectLockMode, RequestOptions};

/// Sets (or extends) an object version's retention under object lock: PutObjectRetention.
/// A retention may be lengthened by anyone allowed `s3:PutObjectRetention`; shortened, or
/// its mode changed, only under GOVERNANCE with `bypass_governance_retention`.
#[derive(Debug, Clone)]
pub struct PutObjectRetentionRequest {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// A specific version (else the current one).
    pub version_id: Option<String>,
    /// The retention's mode.
    pub mode: ObjectLockMode,
    /// Until when, RFC 3339 (e.g. `2030-01-01T00:00:00Z`).
    pub retain_until: String,
    /// Shorten or lift a GOVERNANCE retention (needs `s3:BypassGovernanceRetention`).
    pub bypass_governance_retention: bool,
    /// Expected bucket owner, requester pays.
    pub request: RequestOptions,
}

/// Sets or lifts an object version's legal hold: PutObjectLegalHold.
#[derive(Debug, Clone, Default)]
pub struct PutObjectLegalHoldRequest {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// A specific version (else the current one).
    pub version_id: Option<String>,
    /// `ON` when true, `OFF` when false.
    pub on: bool,
    /// Expected bucket owner, requester pays.
    pub request: RequestOptions,
}

/// A bucket's object lock, as GetObjectLockConfiguration reads it: whether its versions may be
/// locked, and the retention each new version gets when its request sets none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BucketLock {
    /// Object lock is on (a bucket without it answers `ObjectLockConfigurationNotFoundError`).
    pub enabled: bool,
    /// The default retention, if the bucket has one.
    pub default_retention: Option<DefaultRetention>,
}

/// A bucket's default retention: its mode, for a period from each version's creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultRetention {
    /// GOVERNANCE or COMPLIANCE.
    pub mode: ObjectLockMode,
    /// How long.
    pub period: RetentionPeriod,
}

/// A default retention's period: S3 takes whole days or whole years, one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionPeriod {
    /// Days, 1 or more.
    Days(u32),
    /// Years, 1 or more.
    Years(u32),
}
