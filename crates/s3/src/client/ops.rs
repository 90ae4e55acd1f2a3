//! [`ObjectClient`] for [`S3Client`]: each operation as one request and its typed answer.

use bytes::Bytes;
use http::Method;

use crate::error::{ClientErrorKind, Result, S3Error};
use crate::ops::*;
use crate::options::{CANNED_ACLS, ChecksumType};
use crate::xml;

use super::ObjectClient;
use super::prepared::*;
use super::response::*;
use super::transport::*;

pub(super) fn get_request<'a>(
    op: &'static str,
    method: Method,
    req: &'a GetObjectRequest,
) -> Prepared<'a> {
    let mut p = Prepared::new(op, method, &req.bucket, Some(&req.key));
    if let Some(n) = req.part_number {
        p = p.query("partNumber", n.to_string());
    }
    p = p.query_opt("versionId", req.version_id.as_ref());
    if let Some(r) = req.range {
        p = p.header("range", format!("bytes={}-{}", r.first, r.last));
    }
    p = p.header_opt("if-match", req.if_match.clone());
    if req.checksum_mode {
        p = p.header("x-amz-checksum-mode", "ENABLED");
    }
    p.request(&req.request)
}

impl ObjectClient for S3Client {
    fn endpoint(&self) -> String {
        self.config().endpoint.url()
    }

    fn refresh_credentials(&self) {
        self.inner.config.credentials.invalidate();
    }

    fn read_timeout(&self) -> std::time::Duration {
        self.inner.config.read_timeout
    }

    async fn create_multipart_upload(
        &self,
        req: &CreateMultipartUploadRequest,
    ) -> Result<CreateMultipartUploadOutput> {
        const OP: &str = "CreateMultipartUpload";
        req.options
            .validate()
            .map_err(|e| S3Error::client(OP, ClientErrorKind::InvalidRequest, e.to_string()))?;
        let mut p =
            Prepared::new(OP, Method::POST, &req.bucket, Some(&req.key)).query("uploads", "");
        req.options.push_headers(&mut p.headers);
        if let Some(a) = req.options.checksum_algorithm {
            p = p.header("x-amz-checksum-algorithm", a.as_str());
        }
        if let Some(t) = req.options.checksum_type {
            p = p.header("x-amz-checksum-type", t.as_str());
        }
        let r: xml::InitiateMultipartUploadResult = self.send_xml(p).await?.0;
        if r.upload_id.is_empty() {
            return Err(invalid(OP, "the answer has an empty UploadId"));
        }
        Ok(CreateMultipartUploadOutput {
            upload_id: r.upload_id,
        })
    }

    async fn upload_part(&self, req: UploadPartRequest) -> Result<UploadPartOutput> {
        const OP: &str = "UploadPart";
        check_part_number(OP, req.part_number)?;
        let mut p = Prepared::new(OP, Method::PUT, &req.bucket, Some(&req.key))
            .query("partNumber", req.part_number.to_string())
            .query("uploadId", req.upload_id.clone())
            .header_opt("content-md5", req.content_md5.clone())
            .checksum(req.checksum.as_ref())
            .request(&req.request);
        p.body = req.body;
        let resp = self.send(p).await?;
        let (h, etag) = self.etag_of(OP, resp).await?;
        Ok(UploadPartOutput {
            etag,
            checksum: checksum_from_headers(&h).value,
        })
    }

    async fn complete_multipart_upload(
        &self,
        req: &CompleteMultipartUploadRequest,
    ) -> Result<CompleteMultipartUploadOutput> {
        const OP: &str = "CompleteMultipartUpload";
        let mut parts = req.parts.clone();
        parts.sort_by_key(|p| p.part_number);
        let doc = xml::CompleteMultipartUploadXml {
            xmlns: xml::S3_XMLNS,
            parts: parts
                .into_iter()
                .map(|p| xml::CompletedPartXml {
                    part_number: p.part_number,
                    etag: p.etag,
                    checksums: xml::XmlChecksums::from_value(p.checksum.as_ref()),
                })
                .collect(),
        };
        // The SSE-C key too: S3 asks for it when the upload has a checksum.
        let mut p = Prepared::new(OP, Method::POST, &req.bucket, Some(&req.key))
            .query("uploadId", req.upload_id.clone())
            .request(&req.request)
            .header("content-type", "application/xml")
            .checksum(req.checksum.as_ref())
            .header_opt("x-amz-checksum-type", req.checksum_type.map(|t| t.as_str()))
            .header_opt(
                "x-amz-mp-object-size",
                req.object_size.map(|s| s.to_string()),
            );
        if req.if_none_match {
            p = p.header("if-none-match", "*");
        }
        p.body = Body::Bytes(Bytes::from(xml::to_xml(&doc)));
        // `body` turns an `<Error>` inside the 200 into that error.
        let (r, h): (xml::CompleteMultipartUploadResult, _) = self.send_xml(p).await?;
        let etag = r
            .etag
            .clone()
            .filter(|e| !e.is_empty())
            .or_else(|| header(&h, "etag"))
            .ok_or_else(|| invalid(OP, "the answer has no ETag"))?;
        let from_headers = checksum_from_headers(&h);
        Ok(CompleteMultipartUploadOutput {
            etag,
            version_id: header(&h, "x-amz-version-id"),
            checksum: r.checksums().first().or(from_headers.value),
            checksum_type: r
                .checksum_type
                .as_deref()
                .and_then(|t| t.parse::<ChecksumType>().ok())
                .or(from_headers.checksum_type),
            location: r.location,
        })
    }

    async fn abort_multipart_upload(&self, req: &AbortMultipartUploadRequest) -> Result<()> {
        const OP: &str = "AbortMultipartUpload";
        let p = Prepared::new(OP, Method::DELETE, &req.bucket, Some(&req.key))
            .query("uploadId", req.upload_id.clone())
            .owner(&req.request);
        self.send(p).await?;
        Ok(())
    }

    async fn list_parts(&self, req: &ListPartsRequest) -> Result<ListPartsOutput> {
        const OP: &str = "ListParts";
        let mut p = Prepared::new(OP, Method::GET, &req.bucket, Some(&req.key))
            .query("uploadId", req.upload_id.clone())
            .request(&req.request);
        if let Some(m) = req.part_number_marker {
            p = p.query("part-number-marker", m.to_string());
        }
        if let Some(m) = req.max_parts {
            p = p.query("max-parts", m.to_string());
        }
        let r: xml::ListPartsResult = self.send_xml(p).await?.0;
        let mut parts = Vec::with_capacity(r.parts.len());
        for x in &r.parts {
            let part_number = x
                .part_number
                .trim()
                .parse()
                .map_err(|_| invalid(OP, format!("bad PartNumber {:?}", x.part_number)))?;
            parts.push(PartInfo {
                part_number,
                etag: x.etag.clone().unwrap_or_default(),
                size: x
                    .size
                    .as_deref()
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(0),
                last_modified: x.last_modified.clone(),
                checksum: x.checksums().first(),
            });
        }
        let next = if lenient_bool(&r.is_truncated) {
            let m = r
                .next_part_number_marker
                .as_deref()
                .and_then(|m| m.trim().parse().ok())
                .or_else(|| parts.iter().map(|p| p.part_number).max())
                .ok_or_else(|| invalid(OP, "truncated listing without a next marker"))?;
            Some(m)
        } else {
            None
        };
        Ok(ListPartsOutput {
            parts,
            next_part_number_marker: next,
            checksum_algorithm: r.checksum_algorithm,
            checksum_type: r.checksum_type,
        })
    }

    async fn list_multipart_uploads(
        &self,
        req: &ListMultipartUploadsRequest,
    ) -> Result<ListMultipartUploadsOutput> {
        const OP: &str = "ListMultipartUploads";
        let p = Prepared::new(OP, Method::GET, &req.bucket, None)
            .query("uploads", "")
            .query("encoding-type", "url")
            .query_opt("prefix", req.prefix.as_ref())
            .query_opt("key-marker", req.key_marker.as_ref())
            .query_opt("upload-id-marker", req.upload_id_marker.as_ref())
            .query_opt("max-uploads", req.max_uploads)
            .owner(&req.request);
        let r: xml::ListMultipartUploadsResult = self.send_xml(p).await?.0;
        let decode = |s: &str| listed_key(&r.encoding_type, s.to_string());
        let uploads = r
            .uploads
            .iter()
            .map(|u| UploadInfo {
                key: decode(&u.key),
                upload_id: u.upload_id.clone(),
                initiated: u.initiated.clone(),
                storage_class: u.storage_class.clone(),
            })
            .collect::<Vec<_>>();
        let is_truncated = lenient_bool(&r.is_truncated);
        let nonempty = |v: Option<String>| v.filter(|v| !v.is_empty());
        let next_key_marker = nonempty(r.next_key_marker.as_deref().map(decode));
        let next_upload_id_marker = nonempty(r.next_upload_id_marker);
        if is_truncated && next_key_marker.is_none() && next_upload_id_marker.is_none() {
            return Err(invalid(OP, "truncated listing without next markers"));
        }
        Ok(ListMultipartUploadsOutput {
            uploads,
            is_truncated,
            next_key_marker,
            next_upload_id_marker,
        })
    }

    async fn list_objects(&self, req: &ListObjectsRequest) -> Result<ListObjectsOutput> {
        const OP: &str = "ListObjectsV2";
        let p = Prepared::new(OP, Method::GET, &req.bucket, None)
            .query("list-type", "2")
            .query("encoding-type", "url")
            .query_opt("prefix", req.prefix.as_ref())
            .query_opt("delimiter", req.delimiter.as_ref())
            .query_opt("continuation-token", req.continuation_token.as_ref())
            .query_opt("start-after", req.start_after.as_ref())
            .query_opt("max-keys", req.max_keys)
            .owner(&req.request);
        let r: xml::ListBucketResult = self.send_xml(p).await?.0;
        let objects = r
            .contents
            .into_iter()
            .map(|c| listed_object(OP, &r.encoding_type, c))
            .collect::<Result<Vec<_>>>()?;
        let common_prefixes = r
            .common_prefixes
            .into_iter()
            .map(|p| listed_key(&r.encoding_type, p.prefix))
            .collect();
        let next = r.next_continuation_token.filter(|t| !t.is_empty());
        let next_continuation_token = if lenient_bool(&r.is_truncated) {
            Some(next.ok_or_else(|| invalid(OP, "truncated listing without a continuation token"))?)
        } else {
            None
        };
        Ok(ListObjectsOutput {
            objects,
            common_prefixes,
            next_continuation_token,
        })
    }

    async fn list_object_versions(
        &self,
        req: &ListObjectVersionsRequest,
    ) -> Result<ListObjectVersionsOutput> {
        self.send_list_object_versions(req).await
    }

    async fn put_object(&self, req: PutObjectRequest) -> Result<PutObjectOutput> {
        const OP: &str = "PutObject";
        req.options
            .validate()
            .map_err(|e| S3Error::client(OP, ClientErrorKind::InvalidRequest, e.to_string()))?;
        let mut p = Prepared::new(OP, Method::PUT, &req.bucket, Some(&req.key))
            .header_opt("content-md5", req.content_md5.clone())
            .checksum(req.checksum.as_ref());
        if let Some(c) = &req.checksum {
            p = p.header("x-amz-sdk-checksum-algorithm", c.algorithm.as_str());
        }
        if req.if_none_match {
            p = p.header("if-none-match", "*");
        }
        req.options.push_headers(&mut p.headers);
        p.body = req.body;
        let resp = self.send(p).await?;
        let (h, etag) = self.etag_of(OP, resp).await?;
        Ok(PutObjectOutput {
            etag,
            version_id: header(&h, "x-amz-version-id"),
            checksum: checksum_from_headers(&h).value,
        })
    }

    async fn get_object(&self, req: &GetObjectRequest) -> Result<GetObjectOutput> {
        const OP: &str = "GetObject";
        let resp = self.send(get_request(OP, Method::GET, req)).await?;
        let meta = object_meta(OP, resp.headers())?;
        if req.range.is_some()
            && meta.content_range.is_none()
            && meta.content_length <= MAX_ERROR_BODY as u64
        {
            // A range answered 200 without a Content-Range and a small body: a server (or
            // something on the way) in trouble can put an `<Error>` there; it is that error,
            // retryable as its code says (`body` returns it). Any other body is returned as it
            // came.
            let body = self.body(OP, resp).await?;
            let body: ByteStream = Box::pin(futures_util::stream::iter([Ok(body)]));
            return Ok(GetObjectOutput { meta, body });
        }
        let body = checked_body(resp, meta.content_length, self.inner.config.read_timeout);
        Ok(GetObjectOutput { meta, body })
    }

    async fn head_object(&self, req: &GetObjectRequest) -> Result<ObjectMeta> {
        const OP: &str = "HeadObject";
        let resp = self.send(get_request(OP, Method::HEAD, req)).await?;
        object_meta(OP, resp.headers())
    }

    async fn create_bucket(&self, req: &CreateBucketRequest) -> Result<()> {
        const OP: &str = "CreateBucket";
        let mut p = Prepared::new(OP, Method::PUT, &req.bucket, None);
        if req.object_lock {
            p = p.header("x-amz-bucket-object-lock-enabled", "true");
        }
        let region = &self.inner.config.region;
        if region != "us-east-1" {
            let doc = xml::CreateBucketConfiguration {
                xmlns: xml::S3_XMLNS,
                location_constraint: region.clone(),
            };
            p.body = Body::Bytes(Bytes::from(xml::to_xml(&doc)));
        }
        self.send(p).await?;
        Ok(())
    }

    async fn delete_object(&self, req: &DeleteObjectRequest) -> Result<()> {
        const OP: &str = "DeleteObject";
        let mut p =
            Prepared::new(OP, Method::DELETE, &req.bucket, Some(&req.key)).owner(&req.request);
        p = p.query_opt("versionId", req.version_id.as_ref());
        p = p.header_opt("if-match", req.if_match.clone());
        if req.bypass_governance_retention {
            p = p.header("x-amz-bypass-governance-retention", "true");
        }
        self.send(p).await?;
        Ok(())
    }

    async fn delete_objects(&self, req: &DeleteObjectsRequest) -> Result<DeleteObjectsOutput> {
        const OP: &str = "DeleteObjects";
        if req.objects.is_empty() || req.objects.len() > DeleteObjectsRequest::MAX_KEYS {
            return Err(S3Error::client(
                OP,
                ClientErrorKind::InvalidRequest,
                format!(
                    "DeleteObjects takes 1 to {} keys, not {}",
                    DeleteObjectsRequest::MAX_KEYS,
                    req.objects.len()
                ),
            ));
        }
        let doc = xml::DeleteXml {
            xmlns: xml::S3_XMLNS,
            objects: req
                .objects
                .iter()
                .map(|o| xml::DeleteObjectXml {
                    key: o.key.clone(),
                    version_id: o.version_id.clone(),
                })
                .collect(),
            // Only the failures come back.
            quiet: true,
        };
        let mut p = Prepared::new(OP, Method::POST, &req.bucket, None)
            .query("delete", "")
            .owner(&req.request)
            .xml_body(xml::to_xml(&doc));
        if req.bypass_governance_retention {
            p = p.header("x-amz-bypass-governance-retention", "true");
        }
        let r: xml::DeleteResultXml = self.send_xml(p).await?.0;
        let failed: Vec<DeleteFailure> = r
            .errors
            .into_iter()
            .map(|e| {
                let version_id = e.version_id.filter(|v| !v.is_empty());
                // Each key is refused on its own, with no request of its own to name the
                // permission it needed (see `Denial` for whole requests).
                let needed = (e.code == "AccessDenied").then(|| {
                    let action = match version_id {
                        Some(_) => "s3:DeleteObjectVersion",
                        None => "s3:DeleteObject",
                    };
                    let arn = crate::s3_arn(&self.inner.config.region, &req.bucket, Some(&e.key));
                    match req.bypass_governance_retention {
                        true => format!("{action} and s3:BypassGovernanceRetention on {arn}"),
                        false => format!("{action} on {arn}"),
                    }
                });
                DeleteFailure {
                    key: e.key,
                    version_id,
                    code: e.code,
                    message: e.message,
                    needed,
                }
            })
            .collect();
        // Quiet: the keys not refused were deleted.
        let deleted = req
            .objects
            .iter()
            .filter(|o| !failed.iter().any(|f| f.key == o.key))
            .map(|o| o.key.clone())
            .chain(r.deleted.into_iter().map(|d| d.key))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        Ok(DeleteObjectsOutput { deleted, failed })
    }

    async fn upload_part_copy(&self, req: &UploadPartCopyRequest) -> Result<UploadPartCopyOutput> {
        const OP: &str = "UploadPartCopy";
        check_part_number(OP, req.part_number)?;
        check_source(OP, &req.source)?;
        let p = Prepared::new(OP, Method::PUT, &req.bucket, Some(&req.key))
            .query("partNumber", req.part_number.to_string())
            .query("uploadId", req.upload_id.clone())
            .copy_source(
                &req.source,
                &req.conditions,
                req.source_sse_customer_key.as_ref(),
            )
            .header_opt(
                "x-amz-copy-source-range",
                req.source_range
                    .map(|r| format!("bytes={}-{}", r.first, r.last)),
            )
            .request(&req.request);
        let r: xml::CopyResult = self.send_xml(p).await?.0;
        Ok(UploadPartCopyOutput {
            etag: r
                .etag
                .clone()
                .filter(|e| !e.is_empty())
                .ok_or_else(|| invalid(OP, "the answer has no ETag"))?,
            checksum: r.checksums().first(),
        })
    }

    async fn copy_object(&self, req: &CopyObjectRequest) -> Result<CopyObjectOutput> {
        const OP: &str = "CopyObject";
        check_source(OP, &req.source)?;
        req.options
            .validate()
            .map_err(|e| S3Error::client(OP, ClientErrorKind::InvalidRequest, e.to_string()))?;
        let mut p = Prepared::new(OP, Method::PUT, &req.bucket, Some(&req.key))
            .copy_source(
                &req.source,
                &req.conditions,
                req.source_sse_customer_key.as_ref(),
            )
            .header_opt(
                "x-amz-metadata-directive",
                req.metadata_directive.map(|d| d.as_str()),
            )
            .header_opt(
                "x-amz-tagging-directive",
                req.tagging_directive.map(|d| d.as_str()),
            );
        req.options.push_headers(&mut p.headers);
        if let Some(a) = req.options.checksum_algorithm {
            p = p.header("x-amz-checksum-algorithm", a.as_str());
        }
        let (r, h): (xml::CopyResult, _) = self.send_xml(p).await?;
        Ok(CopyObjectOutput {
            etag: r
                .etag
                .clone()
                .filter(|e| !e.is_empty())
                .ok_or_else(|| invalid(OP, "the answer has no ETag"))?,
            version_id: header(&h, "x-amz-version-id"),
            checksum: r.checksums().first(),
        })
    }

    async fn get_object_attributes(
        &self,
        req: &GetObjectAttributesRequest,
    ) -> Result<GetObjectAttributesOutput> {
        const OP: &str = "GetObjectAttributes";
        let a = req.attributes;
        let names: Vec<&str> = [
            (a.etag, "ETag"),
            (a.checksum, "Checksum"),
            (a.object_parts, "ObjectParts"),
            (a.storage_class, "StorageClass"),
            (a.object_size, "ObjectSize"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        if names.is_empty() {
            return Err(S3Error::client(
                OP,
                ClientErrorKind::InvalidRequest,
                "ask for at least one attribute",
            ));
        }
        let mut p = Prepared::new(OP, Method::GET, &req.bucket, Some(&req.key))
            .query("attributes", "")
            .header("x-amz-object-attributes", names.join(","))
            .header_opt("x-amz-max-parts", req.max_parts.map(|m| m.to_string()))
            .header_opt(
                "x-amz-part-number-marker",
                req.part_number_marker.map(|m| m.to_string()),
            )
            .request(&req.request);
        p = p.query_opt("versionId", req.version_id.as_ref());
        let (r, h): (xml::GetObjectAttributesResult, _) = self.send_xml(p).await?;
        let object_parts = match &r.object_parts {
            Some(op) => {
                let mut parts = Vec::with_capacity(op.parts.len());
                for x in &op.parts {
                    parts.push(PartInfo {
                        part_number: x.part_number.trim().parse().map_err(|_| {
                            invalid(OP, format!("bad PartNumber {:?}", x.part_number))
                        })?,
                        etag: x.etag.clone().unwrap_or_default(),
                        size: num(&x.size).unwrap_or(0),
                        last_modified: None,
                        checksum: x.checksums().first(),
                    });
                }
                let next = if lenient_bool(&op.is_truncated) {
                    Some(
                        num(&op.next_part_number_marker)
                            .or_else(|| parts.iter().map(|p| p.part_number).max())
                            .ok_or_else(|| invalid(OP, "truncated parts without a marker"))?,
                    )
                } else {
                    None
                };
                Some(ObjectParts {
                    total_parts_count: num(&op.total_parts_count),
                    parts,
                    next_part_number_marker: next,
                })
            }
            None => None,
        };
        let checksum = r
            .checksum
            .as_ref()
            .map(|c| ObjectChecksum {
                value: c.checksums().first(),
                checksum_type: c
                    .checksum_type
                    .as_deref()
                    .and_then(|t| t.parse::<ChecksumType>().ok()),
            })
            .unwrap_or_default();
        Ok(GetObjectAttributesOutput {
            etag: r.etag.clone(),
            checksum,
            object_parts,
            storage_class: r.storage_class.clone(),
            object_size: num(&r.object_size),
            version_id: header(&h, "x-amz-version-id"),
        })
    }

    async fn put_object_acl(&self, req: &PutObjectAclRequest) -> Result<()> {
        const OP: &str = "PutObjectAcl";
        let bad = |m: String| S3Error::client(OP, ClientErrorKind::InvalidRequest, m);
        let mut p = Prepared::new(OP, Method::PUT, &req.bucket, Some(&req.key))
            .query("acl", "")
            .query_opt("versionId", req.version_id.as_ref())
            .owner(&req.request);
        match &req.acl {
            AclSpec::Canned(acl) => {
                if !CANNED_ACLS.contains(&acl.as_str()) {
                    return Err(bad(format!(
                        "unknown canned ACL {acl:?}: use one of {}",
                        CANNED_ACLS.join(", ")
                    )));
                }
                p = p.header("x-amz-acl", acl.clone());
            }
            AclSpec::Grants(g) => {
                if g.is_empty() {
                    return Err(bad("no grants given".into()));
                }
                g.push_headers(&mut p.headers);
            }
            AclSpec::Policy(policy) => {
                p = p.xml_body(xml::to_xml(&policy.to_xml()));
            }
        }
        self.send(p).await?;
        Ok(())
    }

    async fn get_object_acl(&self, req: &GetObjectAclRequest) -> Result<AccessControlPolicy> {
        const OP: &str = "GetObjectAcl";
        let p = Prepared::new(OP, Method::GET, &req.bucket, Some(&req.key))
            .query("acl", "")
            .query_opt("versionId", req.version_id.as_ref())
            .owner(&req.request);
        let resp = self.send(p).await?;
        let body = self.body(OP, resp).await?;
        AccessControlPolicy::from_xml(&body).map_err(|e| invalid(OP, e.to_string()))
    }

    async fn put_object_retention(&self, req: &PutObjectRetentionRequest) -> Result<()> {
        self.send_put_object_retention(req).await
    }

    async fn put_object_legal_hold(&self, req: &PutObjectLegalHoldRequest) -> Result<()> {
        self.send_put_object_legal_hold(req).await
    }

    async fn restore_object(
        &self,
        req: &crate::restore::RestoreObjectRequest,
    ) -> Result<crate::restore::Restored> {
        self.send_restore_object(req).await
    }

    async fn put_object_tagging(&self, req: &PutObjectTaggingRequest) -> Result<()> {
        const OP: &str = "PutObjectTagging";
        let doc = xml::TaggingXml {
            xmlns: xml::S3_XMLNS,
            tag_set: xml::TagSetXml {
                tags: req
                    .tags
                    .iter()
                    .map(|(k, v)| xml::TagXml {
                        key: k.clone(),
                        value: v.clone(),
                    })
                    .collect(),
            },
        };
        let mut p = Prepared::new(OP, Method::PUT, &req.bucket, Some(&req.key))
            .query("tagging", "")
            .owner(&req.request)
            .xml_body(xml::to_xml(&doc));
        p = p.query_opt("versionId", req.version_id.as_ref());
        self.send(p).await?;
        Ok(())
    }

    async fn get_object_tagging(
        &self,
        req: &GetObjectTaggingRequest,
    ) -> Result<Vec<(String, String)>> {
        const OP: &str = "GetObjectTagging";
        let p = Prepared::new(OP, Method::GET, &req.bucket, Some(&req.key))
            .query("tagging", "")
            .query_opt("versionId", req.version_id.as_ref())
            .owner(&req.request);
        let x: xml::TaggingXml = self.send_xml(p).await?.0;
        Ok(x.tag_set
            .tags
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect())
    }
}

/// Refuses a part number S3 would refuse (1 to 10,000), before anything is sent.
fn check_part_number(op: &'static str, n: u32) -> Result<()> {
    if !(1..=10_000).contains(&n) {
        return Err(S3Error::client(
            op,
            ClientErrorKind::InvalidRequest,
            format!("part number {n} is outside 1 to 10,000"),
        ));
    }
    Ok(())
}

pub(super) fn check_source(op: &'static str, source: &CopySource) -> Result<()> {
    crate::endpoint::validate_bucket(&source.bucket)
        .map_err(|e| S3Error::client(op, ClientErrorKind::InvalidRequest, e.to_string()))?;
    if source.key.is_empty() {
        return Err(S3Error::client(
            op,
            ClientErrorKind::InvalidRequest,
            "the copy source has an empty key",
        ));
    }
    Ok(())
}

impl S3Client {
    /// Deletes the bucket `bucket`, which must be empty (else `BucketNotEmpty`, 409). Needs
    /// `s3:DeleteBucket`.
    pub async fn delete_bucket(&self, bucket: &str) -> Result<()> {
        self.send(Prepared::new("DeleteBucket", Method::DELETE, bucket, None))
            .await?;
        Ok(())
    }

    /// The buckets the credentials' account owns (ListBuckets, every page), in name order.
    /// Needs `s3:ListAllMyBuckets`.
    pub async fn list_buckets(&self) -> Result<Vec<BucketInfo>> {
        const OP: &str = "ListBuckets";
        let mut buckets = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let p =
                Prepared::service(OP, Method::GET).query_opt("continuation-token", token.as_ref());
            let r: xml::ListAllMyBucketsResult = self.send_xml(p).await?.0;
            buckets.extend(r.buckets.bucket.into_iter().map(|b| BucketInfo {
                name: b.name,
                creation_date: b.creation_date,
            }));
            match r.continuation_token.filter(|t| !t.is_empty()) {
                Some(next) if token.as_ref() != Some(&next) => token = Some(next),
                Some(_) => {
                    return Err(invalid(
                        OP,
                        "the server's continuation token does not advance",
                    ));
                }
                None => return Ok(buckets),
            }
        }
    }
}
