//! RestoreObject for [`S3Client`]: a temporary copy of an archived object made readable.

use http::Method;
use serde::Serialize;

use crate::error::Result;
use crate::restore::{RestoreObjectRequest, Restored};
use crate::xml;

use super::S3Client;
use super::prepared::Prepared;

/// `<RestoreRequest>`: the body of RestoreObject.
#[derive(Serialize)]
#[serde(rename = "RestoreRequest", rename_all = "PascalCase")]
struct RestoreXml {
    #[serde(rename = "@xmlns")]
    xmlns: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    glacier_job_parameters: Option<JobXml>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct JobXml {
    tier: &'static str,
}

impl S3Client {
    /// RestoreObject, its body carrying its Content-MD5: 202 began a restore, 200 extended
    /// one done.
    pub(super) async fn send_restore_object(&self, req: &RestoreObjectRequest) -> Result<Restored> {
        const OP: &str = "RestoreObject";
        let doc = body(req);
        let p = Prepared::new(OP, Method::POST, &req.bucket, Some(&req.key))
            .query("restore", "")
            .query_opt("versionId", req.version_id.as_ref())
            .owner(&req.request)
            .xml_body(xml::to_xml(&doc));
        let resp = self.send(p).await?;
        Ok(match resp.status().as_u16() {
            202 => Restored::Started,
            _ => Restored::Extended,
        })
    }
}

fn body(req: &RestoreObjectRequest) -> RestoreXml {
    RestoreXml {
        xmlns: xml::S3_XMLNS,
        days: req.days,
        glacier_job_parameters: req.tier.map(|t| JobXml { tier: t.as_str() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::restore::RestoreTier;

    #[test]
    fn the_body_is_as_s3_documents_it() {
        let req = RestoreObjectRequest {
            days: Some(7),
            tier: Some(RestoreTier::Bulk),
            ..Default::default()
        };
        let xml = |r: &RestoreObjectRequest| quick_xml::se::to_string(&body(r)).unwrap();
        assert_eq!(
            xml(&req),
            format!(
                "<RestoreRequest xmlns=\"{}\"><Days>7</Days><GlacierJobParameters><Tier>Bulk\
                 </Tier></GlacierJobParameters></RestoreRequest>",
                xml::S3_XMLNS
            )
        );
        let bare = RestoreObjectRequest::default();
        assert_eq!(
            xml(&bare),
            format!("<RestoreRequest xmlns=\"{}\"/>", xml::S3_XMLNS)
        );
    }
}
