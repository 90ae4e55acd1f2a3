//! One place credentials may come from: the trait every source of the chain implements, what
//! a load finds, and where a profile's credentials come from, in words.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use super::{Credentials, CredentialsError};
use crate::profile::ProfileSet;

/// What one source found: credentials (their `source` naming it), or where it looked and why
/// it has none (for the "looked in" list).
pub(crate) enum Loaded {
    Found(Credentials),
    Absent(String),
}

pub(crate) type LoadFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Loaded, CredentialsError>> + Send + 'a>>;

/// One place credentials may come from. A source that is configured but fails (a profile
/// whose role cannot be assumed, a token file that cannot be read) is an error, not a reason
/// to try the next: the AWS CLI does the same.
pub(crate) trait Source: Send + Sync + fmt::Debug {
    fn load(&self) -> LoadFuture<'_>;
}

/// How a console session from `aws login` (a profile's `login_session`) is named in messages.
pub(crate) const LOGIN_SESSION: &str = "aws login session";

/// Where a profile's credentials come from, in words (`ferry config`, messages): its role
/// and what assumes it, its SSO account and role, its `aws login` session, its process, or its
/// static keys. Never a
/// secret, nor the process's command line (it may hold one).
pub(crate) fn describe_profile(files: &ProfileSet, profile: &str) -> Option<String> {
    let mut seen = Vec::new();
    describe_inner(files, profile, &mut seen)
}

fn describe_inner(files: &ProfileSet, profile: &str, seen: &mut Vec<String>) -> Option<String> {
    if seen.iter().any(|p| p == profile) {
        return Some(format!("profile {profile} (a source_profile cycle)"));
    }
    seen.push(profile.to_string());
    let get = |k: &str| files.get(profile, k);
    if let Some(role) = get("role_arn") {
        let by = if let Some(src) = get("source_profile") {
            match describe_inner(files, &src, seen) {
                Some(d) if src != profile => format!("source profile {src}: {d}"),
                _ => format!("the static keys of profile {src}"),
            }
        } else if let Some(cs) = get("credential_source") {
            format!("credential source {cs}")
        } else if get("web_identity_token_file").is_some() {
            "a web identity token file".to_string()
        } else {
            "nothing (no source_profile, credential_source or web_identity_token_file)".into()
        };
        return Some(format!("assume-role {role} via profile {profile}, {by}"));
    }
    if get("sso_session").is_some() || get("sso_start_url").is_some() {
        let what = get("sso_session")
            .map(|s| format!("sso-session {s}"))
            .unwrap_or_else(|| "SSO".into());
        return Some(format!(
            "{what} via profile {profile}, account {} role {}",
            get("sso_account_id").unwrap_or_default(),
            get("sso_role_name").unwrap_or_default()
        ));
    }
    if let Some(session) = get("login_session") {
        return Some(format!("{LOGIN_SESSION} {session} via profile {profile}"));
    }
    if get("credential_process").is_some() {
        return Some(format!("credential_process of profile {profile}"));
    }
    if get("aws_access_key_id").is_some() {
        return Some(format!("static keys of profile {profile}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_described_without_secrets() {
        let config = "[profile dev]\nrole_arn = arn:aws:iam::1:role/dev\nsource_profile = admin\n\
                      [profile admin]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = Admin\n\
                      [profile proc]\ncredential_process = /bin/get --token SECRET\n\
                      [profile console]\nlogin_session = arn:aws:iam::1:user/Admin\n\
                      [profile loop]\nrole_arn = r\nsource_profile = loop2\n\
                      [profile loop2]\nrole_arn = r2\nsource_profile = loop\n";
        let creds = "[plain]\naws_access_key_id = AK\naws_secret_access_key = SK\n";
        let files = ProfileSet::from_text(creds, config).unwrap();
        assert_eq!(
            describe_profile(&files, "dev").unwrap(),
            "assume-role arn:aws:iam::1:role/dev via profile dev, source profile admin: \
             sso-session corp via profile admin, account 1 role Admin"
        );
        assert_eq!(
            describe_profile(&files, "console").unwrap(),
            "aws login session arn:aws:iam::1:user/Admin via profile console"
        );
        let p = describe_profile(&files, "proc").unwrap();
        assert!(!p.contains("SECRET"), "{p}");
        assert_eq!(
            describe_profile(&files, "plain").unwrap(),
            "static keys of profile plain"
        );
        assert!(describe_profile(&files, "loop").unwrap().contains("cycle"));
        assert_eq!(describe_profile(&files, "none"), None);
    }
}
