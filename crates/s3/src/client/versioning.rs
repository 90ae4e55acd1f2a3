//! A bucket's versioning for [`S3Client`]: GetBucketVersioning reads its state,
//! PutBucketVersioning turns it on or suspends it.

use http::Method;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ops::{BucketVersioning, Versioning};
use crate::options::RequestOptions;
use crate::xml;

use super::S3Client;
use super::prepared::Prepared;

/// `<VersioningConfiguration>`: the answer of GetBucketVersioning, and the body of
/// PutBucketVersioning.
#[derive(Serialize, Deserialize, Default)]
#[serde(rename = "VersioningConfiguration", rename_all = "PascalCase")]
struct VersioningXml {
    #[serde(rename = "@xmlns", default, skip_deserializing)]
    xmlns: &'static str,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(default, skip_serializing)]
    mfa_delete: Option<String>,
}

impl VersioningXml {
    /// The state the answer says; one S3 does not name is an error naming it.
    fn read(self) -> std::result::Result<BucketVersioning, String> {
        let status = match self.status.as_deref() {
            None | Some("") => Versioning::Unversioned,
            Some("Enabled") => Versioning::Enabled,
            Some("Suspended") => Versioning::Suspended,
            Some(other) => return Err(format!("a versioning status {other:?}")),
        };
        Ok(BucketVersioning {
            status,
            mfa_delete: self.mfa_delete.as_deref() == Some("Enabled"),
        })
    }
}

impl S3Client {
    /// GetBucketVersioning: whether `bucket` keeps the versions its writes and deletions
    /// replace. Needs `s3:GetBucketVersioning`.
    pub async fn get_bucket_versioning(
        &self,
        bucket: &str,
        terms: &RequestOptions,
    ) -> Result<BucketVersioning> {
        const OP: &str = "GetBucketVersioning";
        let p = Prepared::new(OP, Method::GET, bucket, None)
            .query("versioning", "")
            .owner(terms);
        let (x, _) = self.send_xml::<VersioningXml>(p).await?;
        x.read()
            .map_err(|e| super::response::invalid(OP, format!("the answer holds {e}")))
    }

    /// PutBucketVersioning: turns versioning on (`enabled`) or suspends it. A bucket under
    /// object lock cannot suspend it (S3 answers `InvalidBucketState`). Needs
    /// `s3:PutBucketVersioning`.
    pub async fn put_bucket_versioning(
        &self,
        bucket: &str,
        enabled: bool,
        terms: &RequestOptions,
    ) -> Result<()> {
        const OP: &str = "PutBucketVersioning";
        let state = if enabled {
            Versioning::Enabled
        } else {
            Versioning::Suspended
        };
        let doc = VersioningXml {
            xmlns: xml::S3_XMLNS,
            status: Some(state.as_str().into()),
            mfa_delete: None,
        };
        let p = Prepared::new(OP, Method::PUT, bucket, None)
            .query("versioning", "")
            .owner(terms)
            .xml_body(xml::to_xml(&doc));
        self.send(p).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_states_s3_answers_are_read_and_the_body_says_one() {
        let read = |body: &str| {
            quick_xml::de::from_str::<VersioningXml>(body)
                .unwrap()
                .read()
        };
        let ns = "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"";
        assert_eq!(
            read(&format!("<VersioningConfiguration {ns}/>")).unwrap(),
            BucketVersioning::default()
        );
        assert_eq!(
            read(&format!(
                "<VersioningConfiguration {ns}><Status>Enabled</Status>\
                 <MfaDelete>Enabled</MfaDelete></VersioningConfiguration>"
            ))
            .unwrap(),
            BucketVersioning {
                status: Versioning::Enabled,
                mfa_delete: true
            }
        );
        let suspended =
            read("<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>")
                .unwrap();
        assert_eq!(suspended.status, Versioning::Suspended);
        assert!(!suspended.mfa_delete);
        let odd = read("<VersioningConfiguration><Status>On</Status></VersioningConfiguration>");
        assert_eq!(odd.unwrap_err(), "a versioning status \"On\"");
        let body = xml::to_xml(&VersioningXml {
            xmlns: xml::S3_XMLNS,
            status: Some("Suspended".into()),
            mfa_delete: None,
        });
        assert!(
            body.contains("<Status>Suspended</Status></VersioningConfiguration>"),
            "{body}"
        );
        assert!(!body.contains("MfaDelete"), "{body}");
    }
}
