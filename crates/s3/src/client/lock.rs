//! Object lock on an object already written, for [`S3Client`]: PutObjectRetention (set or
//! extend a version's retention) and PutObjectLegalHold (set or lift its hold), which
//! [`ObjectClient`](super::ObjectClient) sends.

use http::Method;
use serde::Serialize;

use crate::error::Result;
use crate::ops::{PutObjectLegalHoldRequest, PutObjectRetentionRequest};
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

impl S3Client {
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
}
