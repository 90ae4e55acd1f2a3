//! `ferry lock s3://bucket --default`: a bucket's default retention, set or taken away
//! (PutObjectLockConfiguration) and then read back (GetObjectLockConfiguration), or only read.

use ferry_s3::{BucketLock, DefaultRetention, RetentionPeriod};

use super::flags::default_period;
use crate::args::{Global, LockArgs};
use crate::client::{parse_s3_url, plain_manager};
use crate::exit::{CliError, bad_input, engine_error};
use crate::output::outln;
use crate::report::json_line;

/// Sets (or takes away) the default retention `a` asks for, then shows the bucket's lock as
/// the server holds it; without --mode and --until, only shows it. A bucket that holds
/// another default than the one set fails (exit 1).
pub(crate) async fn run(global: &Global, a: LockArgs) -> Result<(), CliError> {
    let url = parse_s3_url(&a.target)?;
    if !url.key.is_empty() {
        return Err(bad_input(format!(
            "{} names a key: a default retention is a bucket's; give s3://{}",
            a.target, url.bucket
        )));
    }
    if let Some(flag) = a.filters.given() {
        return Err(bad_input(format!(
            "{flag} picks objects: a default retention is the bucket's"
        )));
    }
    let asked = match asked(a.mode.as_deref(), a.until.as_deref())? {
        Asked::Show => None,
        Asked::Set(default) => Some(default),
    };
    let manager = plain_manager(global).await?;
    let terms = a.bucket.request(&None)?;
    let bucket = url.bucket;
    let target = format!("s3://{bucket}");
    if let Some(default) = asked {
        let what = format!("setting the default retention of {target}");
        manager
            .request(&what, |c| {
                c.put_object_lock_configuration(&bucket, default, &terms)
            })
            .await
            .map_err(|e| {
                let unversioned =
                    e.s3().and_then(ferry_s3::S3Error::code) == Some("InvalidBucketState");
                engine_error(&e, false, None).noted(unversioned.then(|| {
                    format!(
                        "object lock needs a versioned bucket: make one with `ferry mb \
                         --object-lock`, or turn versioning on first with `ferry versioning \
                         {target} enable` (S3 then allows object lock on a bucket that exists)"
                    )
                }))
            })?;
    }
    let what = format!("reading the object lock of {target}");
    let read = manager
        .request(&what, |c| c.get_object_lock_configuration(&bucket, &terms))
        .await;
    let held = match (read, asked) {
        (Ok(held), _) => held,
        // Set, but not to be read back by these credentials: what was set.
        (Err(e), Some(default)) => {
            tracing::warn!("the default retention was set; reading it back failed: {e}");
            BucketLock {
                enabled: true,
                default_retention: default,
            }
        }
        (Err(e), None) => return Err(engine_error(&e, false, None)),
    };
    let said = in_words(&held);
    if a.out.json {
        let mut line = serde_json::json!({ "bucket": bucket });
        for (k, v) in lock_fields(&held) {
            line[k] = v;
        }
        outln!("{}", json_line("bucket_lock", line));
    } else if !a.out.quiet {
        outln!("lock: {target}: {said}");
    }
    match asked {
        Some(default) if held.default_retention != default => {
            Err(CliError::Failed(anyhow::anyhow!(
                "{target} holds another default retention than the one set: {said}, not {}",
                in_words(&BucketLock {
                    enabled: true,
                    default_retention: default,
                })
            )))
        }
        _ => Ok(()),
    }
}

/// What `--mode` and `--until` ask of a bucket's default retention.
#[derive(Debug)]
enum Asked {
    /// Neither flag: show it.
    Show,
    /// Set it (`None`, with `--mode none`: take it away).
    Set(Option<DefaultRetention>),
}

/// What `--mode` and `--until` ask: both set a default retention, `--mode none` takes it
/// away, neither shows it.
fn asked(mode: Option<&str>, until: Option<&str>) -> Result<Asked, CliError> {
    match (mode, until) {
        (None, None) => Ok(Asked::Show),
        (Some(m), None) if m.eq_ignore_ascii_case("none") => Ok(Asked::Set(None)),
        (Some(m), Some(_)) if m.eq_ignore_ascii_case("none") => Err(bad_input(
            "--mode none takes the default retention away: it takes no --until",
        )),
        (Some(m), Some(w)) => {
            let mode = m.parse().map_err(|_| {
                bad_input(format!("--mode {m:?}: use GOVERNANCE, COMPLIANCE or none"))
            })?;
            Ok(Asked::Set(Some(DefaultRetention {
                mode,
                period: default_period(w)?,
            })))
        }
        (Some(_), None) => Err(bad_input(
            "--mode needs --until (how long each new version is kept: 30d, 4w, 7y)",
        )),
        (None, Some(_)) => Err(bad_input("--until needs --mode (GOVERNANCE or COMPLIANCE)")),
    }
}

/// A bucket's lock as JSON fields: `object_lock` (on or not), `default_mode`, `default_days`,
/// `default_years` (null where it has none).
pub(crate) fn lock_fields(lock: &BucketLock) -> [(&'static str, serde_json::Value); 4] {
    let (mode, days, years) = match lock.default_retention {
        Some(d) => match d.period {
            RetentionPeriod::Days(n) => (Some(d.mode.as_str()), Some(n), None),
            RetentionPeriod::Years(n) => (Some(d.mode.as_str()), None, Some(n)),
        },
        None => (None, None, None),
    };
    [
        ("object_lock", lock.enabled.into()),
        ("default_mode", mode.into()),
        ("default_days", days.into()),
        ("default_years", years.into()),
    ]
}

/// A bucket's lock in words: `default retention GOVERNANCE for 30 days`.
pub(crate) fn in_words(lock: &BucketLock) -> String {
    let plural = |n: u32, unit: &str| match n {
        1 => format!("1 {unit}"),
        n => format!("{n} {unit}s"),
    };
    match (lock.enabled, lock.default_retention) {
        (false, _) => "no object lock".into(),
        (true, None) => "object lock on, no default retention".into(),
        (true, Some(d)) => {
            let period = match d.period {
                RetentionPeriod::Days(n) => plural(n, "day"),
                RetentionPeriod::Years(n) => plural(n, "year"),
            };
            format!("default retention {} for {period}", d.mode.as_str())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_and_until_set_a_default_none_takes_it_away_and_neither_shows_it() {
        let governance = ferry_s3::ObjectLockMode::Governance;
        assert!(matches!(asked(None, None), Ok(Asked::Show)));
        assert!(matches!(asked(Some("NONE"), None), Ok(Asked::Set(None))));
        assert!(matches!(
            asked(Some("governance"), Some("4w")),
            Ok(Asked::Set(Some(DefaultRetention { mode, period: RetentionPeriod::Days(28) })))
                if mode == governance
        ));
        for (mode, until, needle) in [
            (Some("none"), Some("3d"), "takes no --until"),
            (Some("GOVERNANCE"), None, "--mode needs --until"),
            (None, Some("3d"), "--until needs --mode"),
            (
                Some("strict"),
                Some("3d"),
                "use GOVERNANCE, COMPLIANCE or none",
            ),
            (Some("GOVERNANCE"), Some("12h"), "not hours or a date"),
        ] {
            let e = asked(mode, until).unwrap_err();
            assert!(
                matches!(&e, CliError::BadInput(_)) && e.to_string().contains(needle),
                "{mode:?} {until:?}: {e}"
            );
        }
        let seven = BucketLock {
            enabled: true,
            default_retention: Some(DefaultRetention {
                mode: ferry_s3::ObjectLockMode::Compliance,
                period: RetentionPeriod::Years(7),
            }),
        };
        assert_eq!(in_words(&seven), "default retention COMPLIANCE for 7 years");
        assert_eq!(in_words(&BucketLock::default()), "no object lock");
    }
}
