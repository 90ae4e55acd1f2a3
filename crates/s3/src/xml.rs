//! Request and response bodies of the S3 XML protocol, with quick-xml + serde.
//!
//! Numbers and booleans that some S3-compatible servers send as empty elements are read as
//! text and parsed leniently by the operations that use them.

use quick_xml::events::Event;
use serde::{Deserialize, Serialize};

use crate::options::{ChecksumAlgorithm, ChecksumValue};

pub(crate) const S3_XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// The five checksum elements S3 puts beside parts and objects.
#[derive(Debug, Default, Serialize, Clone)]
pub(crate) struct XmlChecksums {
    #[serde(rename = "ChecksumCRC32", skip_serializing_if = "Option::is_none")]
    pub(crate) crc32: Option<String>,
    #[serde(rename = "ChecksumCRC32C", skip_serializing_if = "Option::is_none")]
    pub(crate) crc32c: Option<String>,
    #[serde(rename = "ChecksumCRC64NVME", skip_serializing_if = "Option::is_none")]
    pub(crate) crc64nvme: Option<String>,
    #[serde(rename = "ChecksumSHA1", skip_serializing_if = "Option::is_none")]
    pub(crate) sha1: Option<String>,
    #[serde(rename = "ChecksumSHA256", skip_serializing_if = "Option::is_none")]
    pub(crate) sha256: Option<String>,
}

impl XmlChecksums {
    pub(crate) fn first(&self) -> Option<ChecksumValue> {
        [
            (ChecksumAlgorithm::Crc32, &self.crc32),
            (ChecksumAlgorithm::Crc32c, &self.crc32c),
            (ChecksumAlgorithm::Crc64Nvme, &self.crc64nvme),
            (ChecksumAlgorithm::Sha1, &self.sha1),
            (ChecksumAlgorithm::Sha256, &self.sha256),
        ]
        .into_iter()
        .find_map(|(algorithm, v)| {
            v.as_ref().filter(|v| !v.is_empty()).map(|v| ChecksumValue {
                algorithm,
                value: v.clone(),
            })
        })
    }

    pub(crate) fn from_value(v: Option<&ChecksumValue>) -> Self {
        let mut x = Self::default();
        if let Some(v) = v {
            let slot = match v.algorithm {
                ChecksumAlgorithm::Crc32 => &mut x.crc32,
                ChecksumAlgorithm::Crc32c => &mut x.crc32c,
                ChecksumAlgorithm::Crc64Nvme => &mut x.crc64nvme,
                ChecksumAlgorithm::Sha1 => &mut x.sha1,
                ChecksumAlgorithm::Sha256 => &mut x.sha256,
            };
            *slot = Some(v.value.clone());
        }
        x
    }
}

/// Defines a response struct with the five checksum elements after its own fields, and a
/// `checksums()` accessor: the same five appear in many S3 answers. Its elements are named
/// as its fields in PascalCase (`part_number` is `PartNumber`), as every struct here.
macro_rules! with_checksums {
    ($(#[$meta:meta])* struct $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Default, Deserialize)]
        #[serde(rename_all = "PascalCase")]
        pub(crate) struct $name {
            $($(#[$fmeta])* pub(crate) $field: $ty,)*
            #[serde(rename = "ChecksumCRC32")]
            pub(crate) crc32: Option<String>,
            #[serde(rename = "ChecksumCRC32C")]
            pub(crate) crc32c: Option<String>,
            #[serde(rename = "ChecksumCRC64NVME")]
            pub(crate) crc64nvme: Option<String>,
            #[serde(rename = "ChecksumSHA1")]
            pub(crate) sha1: Option<String>,
            #[serde(rename = "ChecksumSHA256")]
            pub(crate) sha256: Option<String>,
        }

        impl $name {
            pub(crate) fn checksums(&self) -> XmlChecksums {
                XmlChecksums {
                    crc32: self.crc32.clone(),
                    crc32c: self.crc32c.clone(),
                    crc64nvme: self.crc64nvme.clone(),
                    sha1: self.sha1.clone(),
                    sha256: self.sha256.clone(),
                }
            }
        }
    };
}

// Every element below is named as its field in PascalCase unless a rename says otherwise
// (`ETag`, `ID`, a list's singular element). A missing `Option` is `None`; a missing list or
// string is empty where the field says `default`, else the document is refused.

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ErrorXml {
    #[serde(default)]
    pub(crate) code: String,
    #[serde(default)]
    pub(crate) message: String,
    pub(crate) request_id: Option<String>,
    /// The bucket's region, in an `AuthorizationHeaderMalformed` for the wrong one.
    pub(crate) region: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct InitiateMultipartUploadResult {
    pub(crate) upload_id: String,
}

#[derive(Debug, Serialize)]
#[serde(rename = "CompleteMultipartUpload")]
pub(crate) struct CompleteMultipartUploadXml {
    #[serde(rename = "@xmlns")]
    pub(crate) xmlns: &'static str,
    #[serde(rename = "Part")]
    pub(crate) parts: Vec<CompletedPartXml>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CompletedPartXml {
    pub(crate) part_number: u32,
    #[serde(rename = "ETag")]
    pub(crate) etag: String,
    #[serde(flatten)]
    pub(crate) checksums: XmlChecksums,
}

with_checksums! {
    struct CompleteMultipartUploadResult {
        location: Option<String>,
        #[serde(rename = "ETag")]
        etag: Option<String>,
        checksum_type: Option<String>,
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListPartsResult {
    pub(crate) is_truncated: Option<String>,
    pub(crate) next_part_number_marker: Option<String>,
    pub(crate) checksum_algorithm: Option<String>,
    pub(crate) checksum_type: Option<String>,
    #[serde(rename = "Part", default)]
    pub(crate) parts: Vec<PartXml>,
}

with_checksums! {
    struct PartXml {
        part_number: String,
        #[serde(rename = "ETag")]
        etag: Option<String>,
        size: Option<String>,
        last_modified: Option<String>,
    }
}

with_checksums! {
    /// CopyObjectResult and CopyPartResult have the same shape.
    struct CopyResult {
        #[serde(rename = "ETag")]
        etag: Option<String>,
    }
}

with_checksums! {
    struct AttributesChecksum {
        checksum_type: Option<String>,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AttributesParts {
    /// `TotalPartsCount` in the API, `PartsCount` on the wire.
    #[serde(rename = "PartsCount", alias = "TotalPartsCount")]
    pub(crate) total_parts_count: Option<String>,
    pub(crate) next_part_number_marker: Option<String>,
    pub(crate) is_truncated: Option<String>,
    #[serde(rename = "Part", default)]
    pub(crate) parts: Vec<PartXml>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetObjectAttributesResult {
    #[serde(rename = "ETag")]
    pub(crate) etag: Option<String>,
    pub(crate) checksum: Option<AttributesChecksum>,
    pub(crate) object_parts: Option<AttributesParts>,
    pub(crate) storage_class: Option<String>,
    pub(crate) object_size: Option<String>,
}

pub(crate) const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct OwnerXml {
    #[serde(rename = "ID", default)]
    pub(crate) id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) display_name: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub(crate) struct GranteeXml {
    #[serde(rename = "@xmlns:xsi", default, skip_deserializing)]
    pub(crate) xmlns_xsi: &'static str,
    #[serde(rename = "@xsi:type", alias = "@type", default)]
    pub(crate) xsi_type: String,
    #[serde(rename = "ID", skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<String>,
    #[serde(rename = "URI", skip_serializing_if = "Option::is_none")]
    pub(crate) uri: Option<String>,
    #[serde(rename = "EmailAddress", skip_serializing_if = "Option::is_none")]
    pub(crate) email: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GrantXml {
    pub(crate) grantee: GranteeXml,
    pub(crate) permission: String,
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub(crate) struct AclListXml {
    #[serde(rename = "Grant", default)]
    pub(crate) grants: Vec<GrantXml>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename = "AccessControlPolicy")]
pub(crate) struct AccessControlPolicyXml {
    #[serde(rename = "@xmlns", default, skip_deserializing)]
    pub(crate) xmlns: &'static str,
    #[serde(rename = "Owner", default)]
    pub(crate) owner: OwnerXml,
    #[serde(rename = "AccessControlList", default)]
    pub(crate) list: AclListXml,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagXml {
    pub(crate) key: String,
    #[serde(default)]
    pub(crate) value: String,
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub(crate) struct TagSetXml {
    #[serde(rename = "Tag", default)]
    pub(crate) tags: Vec<TagXml>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename = "Tagging")]
pub(crate) struct TaggingXml {
    #[serde(rename = "@xmlns", default, skip_deserializing)]
    pub(crate) xmlns: &'static str,
    #[serde(rename = "TagSet", default)]
    pub(crate) tag_set: TagSetXml,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListMultipartUploadsResult {
    pub(crate) is_truncated: Option<String>,
    pub(crate) next_key_marker: Option<String>,
    pub(crate) next_upload_id_marker: Option<String>,
    pub(crate) encoding_type: Option<String>,
    #[serde(rename = "Upload", default)]
    pub(crate) uploads: Vec<UploadXml>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UploadXml {
    pub(crate) key: String,
    pub(crate) upload_id: String,
    pub(crate) initiated: Option<String>,
    pub(crate) storage_class: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListBucketResult {
    pub(crate) is_truncated: Option<String>,
    pub(crate) next_continuation_token: Option<String>,
    pub(crate) encoding_type: Option<String>,
    #[serde(default)]
    pub(crate) contents: Vec<ContentsXml>,
    #[serde(default)]
    pub(crate) common_prefixes: Vec<CommonPrefixXml>,
}

/// `ListVersionsResult`: its children in document order (versions and delete markers
/// interleave, each key's newest first), what ferry does not read as `Other`.
#[derive(Debug, Deserialize)]
pub(crate) struct ListVersionsResult {
    #[serde(rename = "$value", default)]
    pub(crate) entries: Vec<VersionsEntry>,
}

#[derive(Debug, Deserialize)]
pub(crate) enum VersionsEntry {
    Version(VersionXml),
    DeleteMarker(VersionXml),
    CommonPrefixes(CommonPrefixXml),
    IsTruncated(String),
    NextKeyMarker(String),
    NextVersionIdMarker(String),
    EncodingType(String),
    #[serde(other)]
    Other,
}

/// A `Version` or a `DeleteMarker`: a [`ContentsXml`]'s elements and which version it is.
/// (Not a flattened `ContentsXml`: serde's flatten cannot read quick-xml's nested `Owner`.)
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct VersionXml {
    pub(crate) key: String,
    pub(crate) version_id: Option<String>,
    pub(crate) is_latest: Option<String>,
    pub(crate) size: Option<String>,
    #[serde(rename = "ETag")]
    pub(crate) etag: Option<String>,
    pub(crate) last_modified: Option<String>,
    pub(crate) storage_class: Option<String>,
}

impl VersionXml {
    /// The object's elements of this version.
    pub(crate) fn contents(&self) -> ContentsXml {
        ContentsXml {
            key: self.key.clone(),
            size: self.size.clone(),
            etag: self.etag.clone(),
            last_modified: self.last_modified.clone(),
            storage_class: self.storage_class.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListAllMyBucketsResult {
    #[serde(default)]
    pub(crate) buckets: BucketsXml,
    pub(crate) continuation_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BucketsXml {
    #[serde(default)]
    pub(crate) bucket: Vec<BucketXml>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BucketXml {
    pub(crate) name: String,
    pub(crate) creation_date: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CommonPrefixXml {
    pub(crate) prefix: String,
}

/// A `Contents` of a listing: an object's key, size, ETag, time and storage class.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContentsXml {
    pub(crate) key: String,
    pub(crate) size: Option<String>,
    #[serde(rename = "ETag")]
    pub(crate) etag: Option<String>,
    pub(crate) last_modified: Option<String>,
    pub(crate) storage_class: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename = "CreateBucketConfiguration")]
pub(crate) struct CreateBucketConfiguration {
    #[serde(rename = "@xmlns")]
    pub(crate) xmlns: &'static str,
    #[serde(rename = "LocationConstraint")]
    pub(crate) location_constraint: String,
}

/// DeleteObjects' request body.
#[derive(Debug, Serialize)]
#[serde(rename = "Delete")]
pub(crate) struct DeleteXml {
    #[serde(rename = "@xmlns")]
    pub(crate) xmlns: &'static str,
    #[serde(rename = "Object")]
    pub(crate) objects: Vec<DeleteObjectXml>,
    #[serde(rename = "Quiet")]
    pub(crate) quiet: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeleteObjectXml {
    pub(crate) key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) version_id: Option<String>,
}

/// DeleteObjects' answer.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct DeleteResultXml {
    #[serde(rename = "Deleted", default)]
    pub(crate) deleted: Vec<DeletedXml>,
    #[serde(rename = "Error", default)]
    pub(crate) errors: Vec<DeleteErrorXml>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct DeletedXml {
    pub(crate) key: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct DeleteErrorXml {
    pub(crate) key: String,
    pub(crate) version_id: Option<String>,
    pub(crate) code: String,
    pub(crate) message: String,
}

/// The name of the document's root element, skipping the declaration and whitespace (S3
/// streams whitespace before a late `<Error>` in a 200 answer).
pub(crate) fn root_element(body: &[u8]) -> Option<String> {
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                return Some(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
            }
            Ok(Event::Eof) | Err(_) => return None,
            Ok(_) => buf.clear(),
        }
    }
}

/// Parses a document into `T`, naming what was expected when it fails.
pub(crate) fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("response is not UTF-8: {e}"))?;
    quick_xml::de::from_str(text).map_err(|e| {
        let shown: String = text.chars().take(200).collect();
        format!("cannot parse the XML response ({e}): {shown:?}")
    })
}

/// Serializes a request body with its XML declaration.
pub(crate) fn to_xml<T: Serialize>(value: &T) -> String {
    let body = quick_xml::se::to_string(value).expect("request bodies always serialize");
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_versions_listing_keeps_its_order_and_passes_over_what_it_does_not_read() {
        let body = br#"<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix><KeyMarker/><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>
            <Version><Key>a%20b</Key><VersionId>3</VersionId><IsLatest>true</IsLatest><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>&quot;x&quot;</ETag><Size>5</Size><Owner><ID>o</ID></Owner><StorageClass>STANDARD</StorageClass></Version>
            <DeleteMarker><Key>a%20b</Key><VersionId>2</VersionId><IsLatest>false</IsLatest></DeleteMarker>
            <Version><Key>a%20b</Key><VersionId>1</VersionId><IsLatest>false</IsLatest><Size>7</Size></Version>
            <CommonPrefixes><Prefix>d%2F</Prefix></CommonPrefixes>
            <NextKeyMarker>a%20b</NextKeyMarker><NextVersionIdMarker>1</NextVersionIdMarker><EncodingType>url</EncodingType></ListVersionsResult>"#;
        let r: ListVersionsResult = parse(body).unwrap();
        let seen: Vec<String> = r
            .entries
            .iter()
            .filter_map(|e| match e {
                VersionsEntry::Version(v) => Some(format!("v{}", v.version_id.as_deref()?)),
                VersionsEntry::DeleteMarker(v) => Some(format!("d{}", v.version_id.as_deref()?)),
                VersionsEntry::CommonPrefixes(p) => Some(p.prefix.clone()),
                VersionsEntry::IsTruncated(t) => Some(t.clone()),
                VersionsEntry::NextKeyMarker(k) => Some(k.clone()),
                VersionsEntry::NextVersionIdMarker(m) => Some(m.clone()),
                VersionsEntry::EncodingType(t) => Some(t.clone()),
                VersionsEntry::Other => None,
            })
            .collect();
        assert_eq!(
            seen,
            ["true", "v3", "d2", "v1", "d%2F", "a%20b", "1", "url"],
            "{r:?}"
        );
    }

    #[test]
    fn delete_objects_bodies() {
        let doc = DeleteXml {
            xmlns: S3_XMLNS,
            objects: vec![DeleteObjectXml {
                key: "a & <b>.txt".into(),
                version_id: Some("v1".into()),
            }],
            quiet: true,
        };
        let text = to_xml(&doc);
        assert!(
            text.contains("<Object><Key>a &amp; &lt;b&gt;.txt</Key><VersionId>v1</VersionId></Object><Quiet>true</Quiet>"),
            "{text}"
        );
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Deleted><Key>ok.txt</Key></Deleted><Error><Key>locked.txt</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>"#;
        let r: DeleteResultXml = parse(body).unwrap();
        assert_eq!(r.deleted[0].key, "ok.txt");
        assert_eq!(r.errors[0].key, "locked.txt");
        assert_eq!(r.errors[0].code, "AccessDenied");
    }

    #[test]
    fn late_error_in_a_200_body_is_found() {
        let body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n   \n  <Error><Code>InternalError</Code><Message>We encountered an internal error.</Message><RequestId>R1</RequestId></Error>";
        assert_eq!(root_element(body).as_deref(), Some("Error"));
        let e: ErrorXml = parse(body).unwrap();
        assert_eq!(e.code, "InternalError");
        assert_eq!(e.request_id.as_deref(), Some("R1"));
        let ok = b"<CompleteMultipartUploadResult xmlns=\"x\"><ETag>\"e-2\"</ETag></CompleteMultipartUploadResult>";
        assert_eq!(
            root_element(ok).as_deref(),
            Some("CompleteMultipartUploadResult")
        );
        assert_eq!(root_element(b"not xml"), None);
    }

    #[test]
    fn complete_body_lists_parts_with_checksums() {
        let x = CompleteMultipartUploadXml {
            xmlns: S3_XMLNS,
            parts: vec![
                CompletedPartXml {
                    part_number: 1,
                    etag: "\"a\"".into(),
                    checksums: XmlChecksums::from_value(Some(&ChecksumValue {
                        algorithm: ChecksumAlgorithm::Crc32,
                        value: "AAAAAA==".into(),
                    })),
                },
                CompletedPartXml {
                    part_number: 2,
                    etag: "\"b\"".into(),
                    checksums: XmlChecksums::default(),
                },
            ],
        };
        let s = to_xml(&x);
        assert!(s.contains("<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Part><PartNumber>1</PartNumber><ETag>\"a\"</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part><Part><PartNumber>2</PartNumber><ETag>\"b\"</ETag></Part></CompleteMultipartUpload>"), "{s}");
    }

    #[test]
    fn object_attributes_with_part_checksums() {
        // The shape of AWS's documented GetObjectAttributes answer.
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<GetObjectAttributesOutput><ETag>abc-2</ETag><Checksum><ChecksumCRC32C>wQ==-2</ChecksumCRC32C><ChecksumType>COMPOSITE</ChecksumType></Checksum>
<ObjectParts><TotalPartsCount>2</TotalPartsCount><PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>1</NextPartNumberMarker><MaxParts>1</MaxParts><IsTruncated>true</IsTruncated>
<Part><PartNumber>1</PartNumber><Size>5242880</Size><ChecksumCRC32C>AAAAAQ==</ChecksumCRC32C></Part></ObjectParts>
<StorageClass>STANDARD</StorageClass><ObjectSize>6000000</ObjectSize></GetObjectAttributesOutput>"#;
        let r: GetObjectAttributesResult = parse(body).unwrap();
        let parts = r.object_parts.unwrap();
        assert_eq!(parts.total_parts_count.as_deref(), Some("2"));
        assert_eq!(
            parts.parts[0].checksums().first(),
            Some(ChecksumValue {
                algorithm: ChecksumAlgorithm::Crc32c,
                value: "AAAAAQ==".into()
            })
        );
        assert_eq!(
            r.checksum.unwrap().checksum_type.as_deref(),
            Some("COMPOSITE")
        );
        // SeaweedFS writes PartsCount.
        let r: GetObjectAttributesResult =
            parse(b"<R><ObjectParts><PartsCount>3</PartsCount></ObjectParts></R>").unwrap();
        assert_eq!(
            r.object_parts.unwrap().total_parts_count.as_deref(),
            Some("3")
        );
    }

    #[test]
    fn acl_policy_round_trips() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>owner1</ID><DisplayName>me</DisplayName></Owner><AccessControlList>
<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>owner1</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant>
<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant>
</AccessControlList></AccessControlPolicy>"#;
        let p: AccessControlPolicyXml = parse(body).unwrap();
        assert_eq!(p.owner.id, "owner1");
        assert_eq!(p.list.grants.len(), 2);
        assert_eq!(p.list.grants[1].grantee.xsi_type, "Group");
        assert_eq!(
            p.list.grants[1].grantee.uri.as_deref(),
            Some("http://acs.amazonaws.com/groups/global/AllUsers")
        );
        let out = AccessControlPolicyXml {
            xmlns: S3_XMLNS,
            owner: OwnerXml {
                id: "o".into(),
                display_name: None,
            },
            list: AclListXml {
                grants: vec![GrantXml {
                    grantee: GranteeXml {
                        xmlns_xsi: XSI_NS,
                        xsi_type: "CanonicalUser".into(),
                        id: Some("o".into()),
                        ..Default::default()
                    },
                    permission: "READ".into(),
                }],
            },
        };
        let text = to_xml(&out);
        assert!(text.contains(r#"<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>o</ID></Grantee><Permission>READ</Permission>"#), "{text}");
        let back: AccessControlPolicyXml = parse(text.as_bytes()).unwrap();
        assert_eq!(back.list.grants[0].grantee.id.as_deref(), Some("o"));
    }

    #[test]
    fn list_objects_parses_pages_and_url_encoding() {
        let body = br#"<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p%2F</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>
            <Contents><Key>p%2Fa+b</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>&quot;x&quot;</ETag><Size>5</Size><StorageClass>STANDARD</StorageClass></Contents>
            <Contents><Key>p%2Fc</Key><Size>0</Size></Contents>
            <CommonPrefixes><Prefix>p%2Fd%2F</Prefix></CommonPrefixes><CommonPrefixes><Prefix>p%2Fe%2F</Prefix></CommonPrefixes>
            <NextContinuationToken>t1</NextContinuationToken></ListBucketResult>"#;
        let r: ListBucketResult = parse(body).unwrap();
        assert_eq!(r.contents.len(), 2);
        let prefixes: Vec<_> = r
            .common_prefixes
            .iter()
            .map(|p| p.prefix.as_str())
            .collect();
        assert_eq!(prefixes, ["p%2Fd%2F", "p%2Fe%2F"]);
        assert_eq!(r.contents[0].key, "p%2Fa+b");
        assert_eq!(r.contents[0].etag.as_deref(), Some("\"x\""));
        assert_eq!(r.contents[1].size.as_deref(), Some("0"));
        assert_eq!(r.next_continuation_token.as_deref(), Some("t1"));
        assert_eq!(r.encoding_type.as_deref(), Some("url"));
        let empty: ListBucketResult =
            parse(b"<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>")
                .unwrap();
        assert!(empty.contents.is_empty());
    }

    #[test]
    fn list_buckets_parses_names_dates_and_a_token() {
        let body = br#"<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>o</ID></Owner><Buckets>
            <Bucket><Name>a</Name><CreationDate>2026-01-01T00:00:00.000Z</CreationDate></Bucket>
            <Bucket><Name>b</Name></Bucket></Buckets><ContinuationToken>t</ContinuationToken></ListAllMyBucketsResult>"#;
        let r: ListAllMyBucketsResult = parse(body).unwrap();
        let names: Vec<_> = r.buckets.bucket.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(
            r.buckets.bucket[0].creation_date.as_deref(),
            Some("2026-01-01T00:00:00.000Z")
        );
        assert_eq!(r.continuation_token.as_deref(), Some("t"));
        let none: ListAllMyBucketsResult =
            parse(b"<ListAllMyBucketsResult><Buckets/></ListAllMyBucketsResult>").unwrap();
        assert!(none.buckets.bucket.is_empty());
    }

    #[test]
    fn list_parts_parses_empty_markers() {
        let body = br#"<ListPartsResult><Bucket>b</Bucket><IsTruncated>false</IsTruncated><NextPartNumberMarker></NextPartNumberMarker>
            <Part><PartNumber>1</PartNumber><ETag>"x"</ETag><Size>5242880</Size><LastModified>2026-01-01T00:00:00.000Z</LastModified></Part>
            <Part><PartNumber>2</PartNumber><ETag>"y"</ETag><Size>1</Size><ChecksumCRC32C>abc=</ChecksumCRC32C></Part></ListPartsResult>"#;
        let r: ListPartsResult = parse(body).unwrap();
        assert_eq!(r.parts.len(), 2);
        assert_eq!(
            r.parts[1].checksums().first().unwrap().algorithm,
            ChecksumAlgorithm::Crc32c
        );
        assert_eq!(r.next_part_number_marker.as_deref(), Some(""));
        assert!(parse::<ListPartsResult>(b"<ListPartsResult><Part>").is_err());
    }
}
