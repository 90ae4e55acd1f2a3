//! An object's access control list: its types (the policy, its grants, how PutObjectAcl sets
//! it, the two requests), and the policy in its two written forms: S3's XML
//! (`<AccessControlPolicy>`, what GetObjectAcl answers and PutObjectAcl takes) and the aws cli's
//! JSON (`{"Owner": …, "Grants": [{"Grantee": {"Type": …}, "Permission": …}]}`), so that what
//! `ferry acl get --json` prints can be edited and given back to `ferry acl set --policy`.

use serde_json::{Value, json};

use crate::grants::{Grantee, Grants};
use crate::options::RequestOptions;
use crate::xml;

/// A grant's permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// `FULL_CONTROL`.
    FullControl,
    /// `WRITE`.
    Write,
    /// `WRITE_ACP`.
    WriteAcp,
    /// `READ`.
    Read,
    /// `READ_ACP`.
    ReadAcp,
}

impl Permission {
    /// The name S3 uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::FullControl => "FULL_CONTROL",
            Permission::Write => "WRITE",
            Permission::WriteAcp => "WRITE_ACP",
            Permission::Read => "READ",
            Permission::ReadAcp => "READ_ACP",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "FULL_CONTROL" => Permission::FullControl,
            "WRITE" => Permission::Write,
            "WRITE_ACP" => Permission::WriteAcp,
            "READ" => Permission::Read,
            "READ_ACP" => Permission::ReadAcp,
            _ => return None,
        })
    }
}

/// One grant of an access control list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Who.
    pub grantee: Grantee,
    /// What.
    pub permission: Permission,
}

/// An object's access control policy: its owner and grants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessControlPolicy {
    /// The owner's canonical id.
    pub owner_id: String,
    /// The owner's display name, if any.
    pub owner_display_name: Option<String>,
    /// The grants.
    pub grants: Vec<Grant>,
}

/// How PutObjectAcl sets the ACL: exactly one of the three S3 allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclSpec {
    /// A canned ACL (`x-amz-acl`).
    Canned(String),
    /// Grant headers.
    Grants(Grants),
    /// An `AccessControlPolicy` XML body.
    Policy(AccessControlPolicy),
}

/// Sets an object's ACL.
#[derive(Debug, Clone)]
pub struct PutObjectAclRequest {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// A specific version.
    pub version_id: Option<String>,
    /// The new ACL.
    pub acl: AclSpec,
    /// Expected bucket owner, requester pays.
    pub request: RequestOptions,
}

/// Reads an object's ACL.
#[derive(Debug, Clone, Default)]
pub struct GetObjectAclRequest {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// A specific version.
    pub version_id: Option<String>,
    /// Expected bucket owner, requester pays.
    pub request: RequestOptions,
}

/// An access control policy that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AclError(String);

impl AccessControlPolicy {
    /// S3's XML form, as PutObjectAcl takes it.
    pub(crate) fn to_xml(&self) -> xml::AccessControlPolicyXml {
        xml::AccessControlPolicyXml {
            xmlns: xml::S3_XMLNS,
            owner: xml::OwnerXml {
                id: self.owner_id.clone(),
                display_name: self.owner_display_name.clone(),
            },
            list: xml::AclListXml {
                grants: self
                    .grants
                    .iter()
                    .map(|g| {
                        let mut grantee = xml::GranteeXml {
                            xmlns_xsi: xml::XSI_NS,
                            ..Default::default()
                        };
                        match &g.grantee {
                            Grantee::Id(v) => {
                                grantee.xsi_type = "CanonicalUser".into();
                                grantee.id = Some(v.clone());
                            }
                            Grantee::Uri(v) => {
                                grantee.xsi_type = "Group".into();
                                grantee.uri = Some(v.clone());
                            }
                            Grantee::Email(v) => {
                                grantee.xsi_type = "AmazonCustomerByEmail".into();
                                grantee.email = Some(v.clone());
                            }
                        }
                        xml::GrantXml {
                            grantee,
                            permission: g.permission.as_str().into(),
                        }
                    })
                    .collect(),
            },
        }
    }

    /// Reads S3's XML form.
    pub fn from_xml(body: &[u8]) -> Result<Self, AclError> {
        let x: xml::AccessControlPolicyXml =
            xml::parse(body).map_err(|e| AclError(format!("not an AccessControlPolicy: {e}")))?;
        let mut grants = Vec::with_capacity(x.list.grants.len());
        for g in x.list.grants {
            let grantee = match (g.grantee.id, g.grantee.uri, g.grantee.email) {
                (Some(id), _, _) => Grantee::Id(id),
                (None, Some(uri), _) => Grantee::Uri(uri),
                (None, None, Some(e)) => Grantee::Email(e),
                _ => {
                    return Err(AclError(
                        "a grant without a grantee (ID, URI or EmailAddress)".into(),
                    ));
                }
            };
            grants.push(Grant {
                grantee,
                permission: permission(&g.permission)?,
            });
        }
        Ok(Self {
            owner_id: x.owner.id,
            owner_display_name: x.owner.display_name,
            grants,
        })
    }

    /// Reads the aws cli's JSON form (`aws s3api get-object-acl` prints it,
    /// `put-object-acl --access-control-policy` takes it).
    pub fn from_json(text: &str) -> Result<Self, AclError> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| AclError(format!("not JSON: {e}")))?;
        let str_at = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let owner = v
            .get("Owner")
            .ok_or_else(|| AclError("no \"Owner\" (with its \"ID\"): S3 requires it".into()))?;
        let owner_id =
            str_at(owner, "ID").ok_or_else(|| AclError("\"Owner\" has no \"ID\"".into()))?;
        let mut grants = Vec::new();
        for (i, g) in v
            .get("Grants")
            .and_then(Value::as_array)
            .ok_or_else(|| AclError("no \"Grants\" list".into()))?
            .iter()
            .enumerate()
        {
            let n = i + 1;
            let who = g
                .get("Grantee")
                .ok_or_else(|| AclError(format!("grant {n} has no \"Grantee\"")))?;
            let grantee = match str_at(who, "Type").as_deref() {
                Some("CanonicalUser") => str_at(who, "ID").map(Grantee::Id),
                Some("Group") => str_at(who, "URI").map(Grantee::Uri),
                Some("AmazonCustomerByEmail") => str_at(who, "EmailAddress").map(Grantee::Email),
                other => {
                    return Err(AclError(format!(
                        "grant {n}: grantee type {other:?} is not CanonicalUser, Group or \
                         AmazonCustomerByEmail"
                    )));
                }
            }
            .ok_or_else(|| {
                AclError(format!(
                    "grant {n}: the grantee lacks the ID, URI or EmailAddress its type needs"
                ))
            })?;
            let p = str_at(g, "Permission")
                .ok_or_else(|| AclError(format!("grant {n} has no \"Permission\"")))?;
            grants.push(Grant {
                grantee,
                permission: permission(&p)?,
            });
        }
        Ok(Self {
            owner_id,
            owner_display_name: str_at(owner, "DisplayName"),
            grants,
        })
    }

    /// Reads either form: XML when it starts with `<`, else JSON.
    pub fn parse(text: &str) -> Result<Self, AclError> {
        if text.trim_start().starts_with('<') {
            Self::from_xml(text.as_bytes())
        } else {
            Self::from_json(text)
        }
    }

    /// The aws cli's JSON form.
    pub fn to_json(&self) -> Value {
        let mut owner = json!({ "ID": self.owner_id });
        if let Some(n) = &self.owner_display_name {
            owner["DisplayName"] = json!(n);
        }
        let grants: Vec<Value> = self
            .grants
            .iter()
            .map(|g| {
                let grantee = match &g.grantee {
                    Grantee::Id(v) => json!({"Type": "CanonicalUser", "ID": v}),
                    Grantee::Uri(v) => json!({"Type": "Group", "URI": v}),
                    Grantee::Email(v) => {
                        json!({"Type": "AmazonCustomerByEmail", "EmailAddress": v})
                    }
                };
                json!({"Grantee": grantee, "Permission": g.permission.as_str()})
            })
            .collect();
        json!({ "Owner": owner, "Grants": grants })
    }
}

fn permission(p: &str) -> Result<Permission, AclError> {
    Permission::parse(p).ok_or_else(|| {
        AclError(format!(
            "unknown permission {p:?}: use FULL_CONTROL, WRITE, WRITE_ACP, READ or READ_ACP"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_xml_read_the_same_policy() {
        let json = r#"{"Owner": {"DisplayName": "me", "ID": "abc"},
            "Grants": [
              {"Grantee": {"Type": "CanonicalUser", "ID": "abc"}, "Permission": "FULL_CONTROL"},
              {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}, "Permission": "READ"},
              {"Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": "a@example.com"}, "Permission": "READ_ACP"}
            ]}"#;
        let p = AccessControlPolicy::parse(json).unwrap();
        assert_eq!(p.owner_id, "abc");
        assert_eq!(p.grants.len(), 3);
        assert_eq!(p.grants[2].grantee, Grantee::Email("a@example.com".into()));
        let xml = xml::to_xml(&p.to_xml());
        let back = AccessControlPolicy::parse(&xml).unwrap();
        assert_eq!(back, p);
        assert_eq!(
            AccessControlPolicy::from_json(&p.to_json().to_string()).unwrap(),
            p
        );
    }

    #[test]
    fn bad_policies_say_what_is_wrong() {
        for (text, says) in [
            (r#"{"Grants": []}"#, "Owner"),
            (r#"{"Owner": {"ID": "o"}}"#, "Grants"),
            (
                r#"{"Owner": {"ID": "o"}, "Grants": [{"Grantee": {"Type": "Group"}, "Permission": "READ"}]}"#,
                "grant 1",
            ),
            (
                r#"{"Owner": {"ID": "o"}, "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": "x"}, "Permission": "ALL"}]}"#,
                "unknown permission",
            ),
            ("not json", "not JSON"),
        ] {
            let e = AccessControlPolicy::parse(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
