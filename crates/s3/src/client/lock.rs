//! Object lock for [`S3Client`]: on an object already written, PutObjectRetention (set or
//! extend a version's retention) and PutObjectLegalHold (set or lift its hold), which
//! [`ObjectClient`](super::ObjectClient) sends; on a bucket, GetObjectLockConfiguration and
//! PutObjectLockConfiguration (its default retention).

use http::Method;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ops::{
    BucketLock, DefaultRetention, PutObjectLegalHoldRequest, PutObjectRetentionRequest,
    RetentionPeriod,
};
use crate::options::RequestOptions;
use crate::xml;

use super::S3Client;
use super::prepared::Prepared;

/// `<Retention>`: the body of PutObjectRetention.
#[derive(Serialize)]
#[serde(rename = "Retention", rename_all = "PascalCase")]
struct RetentionXml<'a> {
    #[serde(rename = "@xmlns")]
    xmlns: &'static str,
    mode: &'static str,
    retain_until_date: &'a str,
}

/// `<LegalHold>`: the body of PutObjectLegalHold.
#[derive(Serialize)]
#[serde(rename = "LegalHold", rename_all = "PascalCase")]
struct LegalHoldXml {
    #[serde(rename = "@xmlns")]
    xmlns: &'static str,
    status: &'static str,
}

/// `<ObjectLockConfiguration>`: the body of PutObjectLockConfiguration, and the answer of
/// GetObjectLockConfiguration.
#[derive(Serialize, Deserialize, Default)]
#[serde(rename = "ObjectLockConfiguration", rename_all = "PascalCase")]
struct LockConfigurationXml {
    #[serde(rename = "@xmlns", default, skip_deserializing)]
    xmlns: &'static str,
    #[serde(default)]
    object_lock_enabled: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rule: Option<RuleXml>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RuleXml {
    default_retention: DefaultRetentionXml,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DefaultRetentionXml {
    mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    years: Option<u32>,
}

impl LockConfigurationXml {
    /// Object lock on, with `default` as its default retention, or none.
    fn of(default: Option<DefaultRetention>) -> Self {
        let rule = default.map(|d| {
            let (days, years) = match d.period {
                RetentionPeriod::Days(n) => (Some(n), None),
                RetentionPeriod::Years(n) => (None, Some(n)),
            };
            RuleXml {
                default_retention: DefaultRetentionXml {
                    mode: d.mode.as_str().into(),
                    days,
                    years,
                },
            }
        });
        LockConfigurationXml {
            xmlns: xml::S3_XMLNS,
            object_lock_enabled: Some("Enabled".into()),
            rule,
        }
    }

    /// The bucket's lock as the answer says it; a default retention that is not one mode
    /// and one period is an error naming what was read.
    fn read(self) -> std::result::Result<BucketLock, String> {
        let default_retention = match self.rule {
            None => None,
            Some(RuleXml {
                default_retention: d,
            }) => {
                let mode = d.mode.parse().map_err(|e| format!("{e}"))?;
                let period = match (d.days, d.years) {
                    (Some(n), None) => RetentionPeriod::Days(n),
                    (None, Some(n)) => RetentionPeriod::Years(n),
                    (days, years) => {
                        return Err(format!(
                            "a default retention of {days:?} days and {years:?} years"
                        ));
                    }
                };
                Some(DefaultRetention { mode, period })
            }
        };
        Ok(BucketLock {
            enabled: self.object_lock_enabled.as_deref() == Some("Enabled"),
            default_retention,
        })
    }
}

impl S3Client {
    /// GetObjectLockConfiguration: whether `bucket` has object lock, and its default
    /// retention. A bucket without object lock is `enabled: false`, not an error (S3 answers
    /// it `ObjectLockConfigurationNotFoundError`). Needs `s3:GetBucketObjectLockConfiguration`.
    pub async fn get_object_lock_configuration(
        &self,
        bucket: &str,
        terms: &RequestOptions,
    ) -> Result<BucketLock> {
        const OP: &str = "GetObjectLockConfiguration";
        let p = Prepared::new(OP, Method::GET, bucket, None)
            .query("object-lock", "")
            .owner(terms);
        match self.send_xml::<LockConfigurationXml>(p).await {
            Ok((x, _)) => x
                .read()
                .map_err(|e| super::response::invalid(OP, format!("the answer holds {e}"))),
            Err(e) if e.code() == Some("ObjectLockConfigurationNotFoundError") => {
                Ok(BucketLock::default())
            }
            Err(e) => Err(e),
        }
    }

    /// PutObjectLockConfiguration: sets `bucket`'s default retention, or with `None` takes it
    /// away; versions written before keep theirs. It turns object lock on, which S3 allows on
    /// a versioned bucket made without it (an unversioned one answers `InvalidBucketState`).
    /// Needs `s3:PutBucketObjectLockConfiguration`.
    pub async fn put_object_lock_configuration(
        &self,
        bucket: &str,
        default: Option<DefaultRetention>,
        terms: &RequestOptions,
    ) -> Result<()> {
        const OP: &str = "PutObjectLockConfiguration";
        let p = Prepared::new(OP, Method::PUT, bucket, None)
            .query("object-lock", "")
            .owner(terms)
            .xml_body(xml::to_xml(&LockConfigurationXml::of(default)));
        self.send(p).await?;
        Ok(())
    }

    /// PutObjectRetention, its body carrying its Content-MD5 (S3 requires one).
    pub(super) async fn send_put_object_retention(
        &self,
        req: &PutObjectRetentionRequest,
    ) -> Result<()> {
        const OP: &str = "PutObjectRetention";
        let doc = RetentionXml {
            xmlns: xml::S3_XMLNS,
            mode: req.mode.as_str(),
            retain_until_date: &req.retain_until,
        };
        let mut p = Prepared::new(OP, Method::PUT, &req.bucket, Some(&req.key))
            .query("retention", "")
            .query_opt("versionId", req.version_id.as_ref())
            .owner(&req.request)
            .xml_body(xml::to_xml(&doc));
        if req.bypass_governance_retention {
            p = p.header("x-amz-bypass-governance-retention", "true");
        }
        self.send(p).await?;
        Ok(())
    }

    /// PutObjectLegalHold, its body carrying its Content-MD5 (S3 requires one).
    pub(super) async fn send_put_object_legal_hold(
        &self,
        req: &PutObjectLegalHoldRequest,
    ) -> Result<()> {
        const OP: &str = "PutObjectLegalHold";
        let doc = LegalHoldXml {
            xmlns: xml::S3_XMLNS,
            status: if req.on { "ON" } else { "OFF" },
        };
        let p = Prepared::new(OP, Method::PUT, &req.bucket, Some(&req.key))
            .query("legal-hold", "")
            .query_opt("versionId", req.version_id.as_ref())
            .owner(&req.request)
            .xml_body(xml::to_xml(&doc));
        self.send(p).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bodies_are_as_s3_documents_them() {
        let r = RetentionXml {
            xmlns: xml::S3_XMLNS,
            mode: "GOVERNANCE",
            retain_until_date: "2030-01-01T00:00:00Z",
        };
        assert!(xml::to_xml(&r).ends_with(
            "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>GOVERNANCE</Mode>\
             <RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>"
        ));
        let h = LegalHoldXml {
            xmlns: xml::S3_XMLNS,
            status: "OFF",
        };
        assert!(xml::to_xml(&h).ends_with(
            "<LegalHold xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>OFF</Status>\
             </LegalHold>"
        ));
    }

    #[test]
    fn a_buckets_lock_goes_and_comes_back_as_s3_documents_it() {
        let thirty = DefaultRetention {
            mode: crate::ObjectLockMode::Compliance,
            period: RetentionPeriod::Days(30),
        };
        assert!(
            xml::to_xml(&LockConfigurationXml::of(Some(thirty))).ends_with(
                "<ObjectLockConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                 <ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention>\
                 <Mode>COMPLIANCE</Mode><Days>30</Days></DefaultRetention></Rule>\
                 </ObjectLockConfiguration>"
            )
        );
        assert!(
            xml::to_xml(&LockConfigurationXml::of(None)).ends_with(
                "<ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>"
            )
        );
        let read = |body: &str| {
            xml::parse::<LockConfigurationXml>(body.as_bytes())
                .unwrap()
                .read()
        };
        assert_eq!(
            read(
                "<ObjectLockConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                 <ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention>\
                 <Mode>GOVERNANCE</Mode><Years>7</Years></DefaultRetention></Rule>\
                 </ObjectLockConfiguration>"
            ),
            Ok(BucketLock {
                enabled: true,
                default_retention: Some(DefaultRetention {
                    mode: crate::ObjectLockMode::Governance,
                    period: RetentionPeriod::Years(7),
                }),
            })
        );
        assert_eq!(
            read(
                "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>\
                 </ObjectLockConfiguration>"
            ),
            Ok(BucketLock {
                enabled: true,
                default_retention: None,
            })
        );
        let both = read(
            "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule>\
             <DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years>\
             </DefaultRetention></Rule></ObjectLockConfiguration>",
        );
        assert!(both.is_err(), "{both:?}");
    }
}
