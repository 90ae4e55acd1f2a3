//! `ferry lock`: an object's object lock set after it was written, its retention
//! (PutObjectRetention) and its legal hold (PutObjectLegalHold), then read back with
//! HeadObject and shown as the server holds it.

use ferry_s3::{
    GetObjectRequest, ObjectClient as _, PutObjectLegalHoldRequest, PutObjectRetentionRequest,
};

use crate::args::{Global, LockArgs};
use crate::client::{parse_object_url, plain_manager};
use crate::exit::{CliError, bad_input, engine_error};
use crate::options::{Lock, LockFlags, object_lock};
use crate::output::{outln, shown};

pub(crate) async fn run(global: &Global, a: LockArgs) -> Result<(), CliError> {
    let url = parse_object_url(&a.target, "lock")?;
    let Lock { retention, hold } = object_lock(LockFlags {
        mode: a.mode.as_deref(),
        until: a.until.as_deref(),
        hold: a.legal_hold.as_deref(),
        names: ["--mode", "--until", "--legal-hold"],
    })?;
    if retention.is_none() && hold.is_none() {
        return Err(bad_input(
            "give a retention (--mode and --until), a legal hold (--legal-hold ON|OFF), or both",
        ));
    }
    if a.bypass_governance_retention && retention.is_none() {
        return Err(bad_input(
            "--bypass-governance-retention goes with the retention it shortens or changes: \
             give --mode and --until",
        ));
    }
    let request = a.bucket.request(&None)?;
    let manager = plain_manager(global).await?;
    let target = shown(&a.target, false);
    if let Some((mode, retain_until)) = retention {
        let req = PutObjectRetentionRequest {
            bucket: url.bucket.clone(),
            key: url.key.clone(),
            version_id: a.version_id.clone(),
            mode,
            retain_until,
            bypass_governance_retention: a.bypass_governance_retention,
            request: request.clone(),
        };
        let what = format!("setting the retention of {target}");
        manager
            .request(&what, |c| c.put_object_retention(&req))
            .await
            .map_err(|e| engine_error(&e, false, None))?;
    }
    if let Some(on) = hold {
        let req = PutObjectLegalHoldRequest {
            bucket: url.bucket.clone(),
            key: url.key.clone(),
            version_id: a.version_id.clone(),
            on,
            request: request.clone(),
        };
        let what = format!("setting the legal hold of {target}");
        manager
            .request(&what, |c| c.put_object_legal_hold(&req))
            .await
            .map_err(|e| engine_error(&e, false, None))?;
    }
    // As the server holds it now: HeadObject shows a lock to those allowed to read it
    // (s3:GetObjectRetention, s3:GetObjectLegalHold); others are told what was set.
    let head = GetObjectRequest {
        bucket: url.bucket,
        key: url.key,
        version_id: a.version_id,
        request,
        ..Default::default()
    };
    let meta = manager
        .stat(head)
        .await
        .map_err(|e| engine_error(&e, false, None))?;
    let mut said = Vec::new();
    if let Some(mode) = &meta.object_lock_mode {
        let until = meta.object_lock_retain_until.as_deref().unwrap_or("?");
        said.push(format!("{mode} until {until}"));
    }
    if let Some(h) = &meta.object_lock_legal_hold {
        said.push(format!("legal hold {h}"));
    }
    let version = meta
        .version_id
        .map(|v| format!(" (version {v})"))
        .unwrap_or_default();
    match said.is_empty() {
        true => outln!(
            "lock: {target}{version}: set; HeadObject shows no lock to these credentials \
             (it needs s3:GetObjectRetention and s3:GetObjectLegalHold)"
        ),
        false => outln!("lock: {target}{version}: {}", said.join(", ")),
    }
    Ok(())
}
