//! `ferry acl get` and `ferry acl set`: an object's access control list, read and written
//! with GetObjectAcl and PutObjectAcl.

use ferry_s3::{
    AccessControlPolicy, AclSpec, GetObjectAclRequest, Grantee, ObjectClient as _,
    PutObjectAclRequest,
};

use crate::args::{AclCmd, AclObject, AclSetArgs, Global};
use crate::client::{parse_object_url, plain_manager};
use crate::exit::{CliError, bad_input, engine_error};
use crate::options::grantees;
use crate::output::outln;
use crate::output::shown;

pub(crate) async fn run(global: &Global, cmd: AclCmd) -> Result<(), CliError> {
    match cmd {
        AclCmd::Get {
            target,
            object,
            json,
        } => get(global, &target, &object, json).await,
        AclCmd::Set(args) => set(global, *args).await,
    }
}

/// `s3://bucket/key` of an ACL command.
fn object_url(target: &str) -> Result<(String, String), CliError> {
    let url = parse_object_url(target, "acl")?;
    Ok((url.bucket, url.key))
}

async fn get(global: &Global, target: &str, o: &AclObject, json: bool) -> Result<(), CliError> {
    let (bucket, key) = object_url(target)?;
    let req = GetObjectAclRequest {
        bucket,
        key,
        version_id: o.version_id.clone(),
        request: o.bucket.request(&None)?,
    };
    let what = format!("reading the ACL of {target}");
    let policy = plain_manager(global)
        .await?
        .request(&what, |c| c.get_object_acl(&req))
        .await
        .map_err(|e| engine_error(&e, false, None))?;
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&policy.to_json()).expect("JSON")
        );
        return Ok(());
    }
    let owner = match &policy.owner_display_name {
        Some(name) => format!("owner: {} ({name})", policy.owner_id),
        None => format!("owner: {}", policy.owner_id),
    };
    outln!("{}", shown(&owner, false));
    let rows: Vec<(String, &str)> = policy
        .grants
        .iter()
        .map(|g| {
            let who = match &g.grantee {
                Grantee::Id(v) => format!("id={v}"),
                Grantee::Uri(v) => format!("uri={v}"),
                Grantee::Email(v) => format!("emailAddress={v}"),
            };
            (shown(&who, false).into_owned(), g.permission.as_str())
        })
        .collect();
    let width = rows
        .iter()
        .map(|(w, _)| w.chars().count())
        .max()
        .unwrap_or(0)
        .max(7);
    outln!("{:width$}  PERMISSION", "GRANTEE");
    for (who, p) in rows {
        outln!("{who:width$}  {p}");
    }
    Ok(())
}

/// The one way of setting the ACL the flags give; two or none is refused before anything is
/// sent (PutObjectAcl takes a canned ACL, grant headers or a body, never two of them).
fn acl_spec(a: &AclSetArgs) -> Result<AclSpec, CliError> {
    let mut grant_flags = a.grants.given().to_vec();
    grant_flags.push(("--grant-write", a.grant_write.is_some()));
    let granted: Vec<&str> = grant_flags
        .iter()
        .filter(|(_, given)| *given)
        .map(|(f, _)| *f)
        .collect();
    let mut ways = Vec::new();
    if a.acl.is_some() {
        ways.push("--acl".to_string());
    }
    if !granted.is_empty() {
        ways.push(granted.join(", "));
    }
    if a.policy.is_some() {
        ways.push("--policy".to_string());
    }
    if ways.len() > 1 {
        return Err(bad_input(format!(
            "give one way of setting the ACL, not {}: a canned ACL (--acl), grants \
             (--grant-*) or a policy document (--policy)",
            ways.join(" and ")
        )));
    }
    if let Some(canned) = &a.acl {
        return Ok(AclSpec::Canned(canned.clone()));
    }
    if let Some(path) = &a.policy {
        let text = std::fs::read_to_string(path).map_err(|e| {
            bad_input(format!(
                "cannot read the policy file {}: {e}",
                path.display()
            ))
        })?;
        let policy = AccessControlPolicy::parse(&text)
            .map_err(|e| bad_input(format!("{}: {e}", path.display())))?;
        return Ok(AclSpec::Policy(policy));
    }
    if granted.is_empty() {
        return Err(bad_input(
            "say what to set: --acl CANNED, --grant-* GRANTEES or --policy FILE",
        ));
    }
    Ok(AclSpec::Grants(a.grants.grants(grantees(&a.grant_write)?)?))
}

async fn set(global: &Global, a: AclSetArgs) -> Result<(), CliError> {
    let (bucket, key) = object_url(&a.target)?;
    let acl = acl_spec(&a)?;
    let req = PutObjectAclRequest {
        bucket,
        key,
        version_id: a.object.version_id.clone(),
        acl,
        request: a.object.bucket.request(&None)?,
    };
    // An unknown canned ACL is refused before sending, as bad input (exit 2).
    let what = format!("setting the ACL of {}", a.target);
    plain_manager(global)
        .await?
        .request(&what, |c| c.put_object_acl(&req))
        .await
        .map_err(|e| engine_error(&e, false, None))?;
    if !a.quiet {
        outln!("acl set: {}", a.target);
    }
    Ok(())
}
