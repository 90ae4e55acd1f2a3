//! A bucket's own settings: `ferry versioning` (GetBucketVersioning, PutBucketVersioning) and
//! `ferry stat s3://bucket` (its versioning and its object lock).

use ferry_s3::{BucketVersioning, RequestOptions, Versioning};

use crate::args::{Global, StatArgs, VersioningArgs};
use crate::client::{parse_s3_url, plain_manager};
use crate::exit::{CliError, bad_input, engine_error};
use crate::output::outln;
use crate::report::json_line;

/// Turns `a.target`'s versioning on or suspends it, as asked, then shows it as the server
/// holds it; without a state, only shows it. A bucket left in another state than the one
/// asked fails (exit 1).
pub(crate) async fn versioning(global: &Global, a: VersioningArgs) -> Result<(), CliError> {
    let url = parse_s3_url(&a.target)?;
    if !url.key.is_empty() {
        return Err(bad_input(format!(
            "{} names a key: versioning is a bucket's; give s3://{}",
            a.target, url.bucket
        )));
    }
    let asked = a.state.as_deref().map(|s| s == "enable");
    let manager = plain_manager(global).await?;
    let terms = a.bucket.request(&None)?;
    let (bucket, target) = (url.bucket.as_str(), format!("s3://{}", url.bucket));
    if let Some(on) = asked {
        let doing = if on { "turning on" } else { "suspending" };
        let what = format!("{doing} the versioning of {target}");
        manager
            .request(&what, |c| c.put_bucket_versioning(bucket, on, &terms))
            .await
            .map_err(|e| {
                let locked =
                    !on && e.s3().and_then(ferry_s3::S3Error::code) == Some("InvalidBucketState");
                engine_error(&e, false, None).noted(
                    locked.then(|| {
                        "a bucket under object lock keeps versioning on for good".to_string()
                    }),
                )
            })?;
    }
    let what = format!("reading the versioning of {target}");
    let held = manager
        .request(&what, |c| c.get_bucket_versioning(bucket, &terms))
        .await
        .map_err(|e| engine_error(&e, false, None))?;
    if a.json {
        let line = serde_json::json!({
            "bucket": bucket,
            "versioning": held.status.as_str(),
            "mfa_delete": held.mfa_delete,
        });
        outln!("{}", json_line("bucket_versioning", line));
    } else if !a.quiet {
        outln!("versioning: {target}: {}", in_words(&held));
    }
    let wanted = match asked {
        Some(true) => Versioning::Enabled,
        Some(false) => Versioning::Suspended,
        None => return Ok(()),
    };
    if held.status != wanted {
        return Err(CliError::Failed(anyhow::anyhow!(
            "{target} holds versioning {}, not {} as set",
            held.status.as_str(),
            wanted.as_str()
        )));
    }
    Ok(())
}

/// `ferry stat s3://bucket`: its versioning and its object lock, as lines or one JSON object.
pub(crate) async fn stat(global: &Global, bucket: &str, a: &StatArgs) -> Result<(), CliError> {
    if a.version_id.is_some() || a.as_of.is_some() || a.sse_c_key.is_some() {
        return Err(bad_input(format!(
            "--version-id, --as-of and --sse-c-key name an object's: give s3://{bucket}/key"
        )));
    }
    let manager = plain_manager(global).await?;
    let terms: RequestOptions = a.bucket.request(&None)?;
    let target = format!("s3://{bucket}");
    let versioning = manager
        .request(&format!("reading the versioning of {target}"), |c| {
            c.get_bucket_versioning(bucket, &terms)
        })
        .await
        .map_err(|e| engine_error(&e, false, None))?;
    let lock = manager
        .request(&format!("reading the object lock of {target}"), |c| {
            c.get_object_lock_configuration(bucket, &terms)
        })
        .await
        .map_err(|e| engine_error(&e, false, None))?;
    if a.json {
        let mut v = serde_json::json!({
            "bucket": bucket,
            "versioning": versioning.status.as_str(),
            "mfa_delete": versioning.mfa_delete,
        });
        for (k, field) in crate::lock::lock_fields(&lock) {
            v[k] = field;
        }
        outln!("{v}");
    } else {
        outln!(
            "{target}\n  Versioning:   {}\n  Object lock:  {}",
            in_words(&versioning),
            crate::lock::in_words(&lock)
        );
    }
    Ok(())
}

/// A bucket's versioning in words: `Enabled`, `Suspended (versions kept stay)`, with MFA
/// delete when it is on.
fn in_words(v: &BucketVersioning) -> String {
    let state = match v.status {
        Versioning::Unversioned => "off (never turned on)",
        Versioning::Enabled => "Enabled",
        Versioning::Suspended => "Suspended (the versions kept stay)",
    };
    match v.mfa_delete {
        true => format!("{state}, MFA delete on"),
        false => state.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_state_reads_in_words() {
        let v = |status, mfa_delete| in_words(&BucketVersioning { status, mfa_delete });
        assert_eq!(v(Versioning::Unversioned, false), "off (never turned on)");
        assert_eq!(v(Versioning::Enabled, true), "Enabled, MFA delete on");
        assert_eq!(
            v(Versioning::Suspended, false),
            "Suspended (the versions kept stay)"
        );
    }
}
