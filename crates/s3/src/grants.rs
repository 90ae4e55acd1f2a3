//! Who may do what with a new object: the canned ACLs S3 knows and explicit grants, as
//! PutObject, CreateMultipartUpload, CopyObject and PutObjectAcl send them.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::OptionsError;

/// Canned ACLs S3 knows. Source: Amazon S3 User Guide, "Canned ACL".
pub const CANNED_ACLS: &[&str] = &[
    "private",
    "public-read",
    "public-read-write",
    "aws-exec-read",
    "authenticated-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "log-delivery-write",
];

/// Who a grant is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Grantee {
    /// A canonical user id (`id=`).
    Id(String),
    /// A predefined group URI (`uri=`), e.g. `http://acs.amazonaws.com/groups/global/AllUsers`.
    Uri(String),
    /// An email address (`emailAddress=`; a few regions only).
    Email(String),
}

impl Grantee {
    fn header_form(&self) -> String {
        match self {
            Grantee::Id(v) => format!("id=\"{v}\""),
            Grantee::Uri(v) => format!("uri=\"{v}\""),
            Grantee::Email(v) => format!("emailAddress=\"{v}\""),
        }
    }
}

impl FromStr for Grantee {
    type Err = OptionsError;
    /// Parses `id=…`, `uri=…` or `emailAddress=…` (quotes optional).
    fn from_str(s: &str) -> Result<Self, OptionsError> {
        let (kind, value) = s.trim().split_once('=').ok_or_else(|| {
            OptionsError(format!(
                "grantee {s:?} must be id=ID, uri=URI or emailAddress=ADDRESS"
            ))
        })?;
        let value = value.trim().trim_matches('"').to_string();
        if value.is_empty() || value.contains('"') {
            return Err(OptionsError(format!(
                "grantee {s:?} has an empty or quoted value"
            )));
        }
        match kind.trim() {
            "id" => Ok(Grantee::Id(value)),
            "uri" => Ok(Grantee::Uri(value)),
            "emailAddress" => Ok(Grantee::Email(value)),
            other => Err(OptionsError(format!(
                "grantee type {other:?} is not id, uri or emailAddress"
            ))),
        }
    }
}

/// Explicit grants, one list per permission header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Grants {
    /// `x-amz-grant-read`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub read: Vec<Grantee>,
    /// `x-amz-grant-read-acp`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub read_acp: Vec<Grantee>,
    /// `x-amz-grant-write-acp`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub write_acp: Vec<Grantee>,
    /// `x-amz-grant-full-control`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub full_control: Vec<Grantee>,
    /// `x-amz-grant-write`: PutObjectAcl only (no upload takes it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub write: Vec<Grantee>,
}

impl Grants {
    /// Whether no grant is given.
    pub fn is_empty(&self) -> bool {
        self.read.is_empty()
            && self.read_acp.is_empty()
            && self.write_acp.is_empty()
            && self.full_control.is_empty()
            && self.write.is_empty()
    }

    pub(crate) fn push_headers(&self, headers: &mut Vec<(String, String)>) {
        for (name, list) in [
            ("x-amz-grant-read", &self.read),
            ("x-amz-grant-read-acp", &self.read_acp),
            ("x-amz-grant-write-acp", &self.write_acp),
            ("x-amz-grant-full-control", &self.full_control),
            ("x-amz-grant-write", &self.write),
        ] {
            if !list.is_empty() {
                let v = list
                    .iter()
                    .map(Grantee::header_form)
                    .collect::<Vec<_>>()
                    .join(", ");
                headers.push((name.into(), v));
            }
        }
    }
}
