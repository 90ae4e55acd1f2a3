//! ListObjectVersions for [`S3Client`]: every version and delete marker under a prefix, a
//! page at a time; [`ObjectClient::list_object_versions`](super::ObjectClient) sends it.

use http::Method;

use crate::error::Result;
use crate::ops::{ListObjectVersionsOutput, ListObjectVersionsRequest, ObjectVersion};
use crate::xml::{self, VersionsEntry};

use super::S3Client;
use super::prepared::Prepared;
use super::response::{lenient_bool, listed_key, listed_object};

impl S3Client {
    /// One page of the versions and delete markers under `req.prefix`, in the server's order.
    pub(super) async fn send_list_object_versions(
        &self,
        req: &ListObjectVersionsRequest,
    ) -> Result<ListObjectVersionsOutput> {
        const OP: &str = "ListObjectVersions";
        let p = Prepared::new(OP, Method::GET, &req.bucket, None)
            .query("versions", "")
            .query("encoding-type", "url")
            .query_opt("prefix", req.prefix.as_ref())
            .query_opt("delimiter", req.delimiter.as_ref())
            .query_opt("key-marker", req.key_marker.as_ref())
            .query_opt("version-id-marker", req.version_id_marker.as_ref())
            .query_opt("max-keys", req.max_keys)
            .owner(&req.request);
        let r: xml::ListVersionsResult = self.send_xml(p).await?.0;
        // The encoding may come after the keys it describes.
        let encoding = r.entries.iter().find_map(|e| match e {
            VersionsEntry::EncodingType(t) => Some(t.clone()),
            _ => None,
        });
        let mut out = ListObjectVersionsOutput::default();
        let nonempty = |v: String| (!v.trim().is_empty()).then_some(v);
        for e in r.entries {
            let (v, delete_marker) = match e {
                VersionsEntry::Version(v) => (v, false),
                VersionsEntry::DeleteMarker(v) => (v, true),
                VersionsEntry::CommonPrefixes(p) => {
                    out.common_prefixes.push(listed_key(&encoding, p.prefix));
                    continue;
                }
                VersionsEntry::IsTruncated(t) => {
                    out.is_truncated = lenient_bool(&Some(t));
                    continue;
                }
                VersionsEntry::NextKeyMarker(k) => {
                    out.next_key_marker = nonempty(k).map(|k| listed_key(&encoding, k));
                    continue;
                }
                VersionsEntry::NextVersionIdMarker(m) => {
                    out.next_version_id_marker = nonempty(m);
                    continue;
                }
                VersionsEntry::EncodingType(_) | VersionsEntry::Other => continue,
            };
            out.versions.push(ObjectVersion {
                object: listed_object(OP, &encoding, v.contents())?,
                version_id: v.version_id.unwrap_or_else(|| "null".into()),
                is_latest: lenient_bool(&v.is_latest),
                delete_marker,
            });
        }
        Ok(out)
    }
}
