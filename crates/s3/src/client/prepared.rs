//! One S3 request before signing: its operation, method, address, query, headers and body.

use bytes::Bytes;
use http::Method;

use crate::ops::*;
use crate::options::{ChecksumValue, RequestOptions};

/// One request before signing.
pub(super) struct Prepared<'a> {
    pub(super) operation: &'static str,
    pub(super) method: Method,
    pub(super) bucket: Option<&'a str>,
    pub(super) key: Option<&'a str>,
    pub(super) query: Vec<(String, String)>,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Body,
}

impl<'a> Prepared<'a> {
    pub(super) fn new(
        operation: &'static str,
        method: Method,
        bucket: &'a str,
        key: Option<&'a str>,
    ) -> Self {
        Self {
            operation,
            method,
            bucket: Some(bucket),
            key,
            query: Vec::new(),
            headers: Vec::new(),
            body: Body::Bytes(Bytes::new()),
        }
    }

    /// A request to the service, of no bucket (ListBuckets).
    pub(super) fn service(operation: &'static str, method: Method) -> Self {
        Self {
            bucket: None,
            ..Self::new(operation, method, "", None)
        }
    }

    /// A copy to send again, when the body is in memory (a stream is read once).
    pub(super) fn try_clone(&self) -> Option<Self> {
        let Body::Bytes(body) = &self.body else {
            return None;
        };
        Some(Self {
            operation: self.operation,
            method: self.method.clone(),
            bucket: self.bucket,
            key: self.key,
            query: self.query.clone(),
            headers: self.headers.clone(),
            body: Body::Bytes(body.clone()),
        })
    }

    pub(super) fn query(mut self, k: &str, v: impl Into<String>) -> Self {
        self.query.push((k.to_string(), v.into()));
        self
    }

    /// A query parameter when there is a value.
    pub(super) fn query_opt(self, k: &str, v: Option<impl ToString>) -> Self {
        match v {
            Some(v) => self.query(k, v.to_string()),
            None => self,
        }
    }

    pub(super) fn header(mut self, k: &str, v: impl Into<String>) -> Self {
        self.headers.push((k.to_string(), v.into()));
        self
    }

    pub(super) fn header_opt(self, k: &str, v: Option<impl Into<String>>) -> Self {
        match v {
            Some(v) => self.header(k, v),
            None => self,
        }
    }

    /// SSE-C, expected owner and requester-pays headers (requests that touch object data).
    pub(super) fn request(mut self, r: &RequestOptions) -> Self {
        r.push_headers(&mut self.headers);
        self
    }

    /// Expected owner and requester-pays headers (requests that do not touch object data).
    pub(super) fn owner(mut self, r: &RequestOptions) -> Self {
        r.push_owner_headers(&mut self.headers);
        self
    }

    /// `x-amz-copy-source` and the conditions and SSE-C key of the source.
    pub(super) fn copy_source(
        mut self,
        source: &CopySource,
        conditions: &CopyConditions,
        key: Option<&crate::options::SseCustomerKey>,
    ) -> Self {
        let mut v = format!(
            "/{}/{}",
            source.bucket,
            crate::signing::uri_encode_path(&source.key)
        );
        if let Some(id) = &source.version_id {
            v.push_str("?versionId=");
            v.push_str(&crate::signing::uri_encode(id));
        }
        self = self
            .header("x-amz-copy-source", v)
            .header_opt("x-amz-copy-source-if-match", conditions.if_match.clone())
            .header_opt(
                "x-amz-copy-source-if-none-match",
                conditions.if_none_match.clone(),
            )
            .header_opt(
                "x-amz-copy-source-if-modified-since",
                conditions.if_modified_since.clone(),
            )
            .header_opt(
                "x-amz-copy-source-if-unmodified-since",
                conditions.if_unmodified_since.clone(),
            );
        if let Some(k) = key {
            self.headers.extend(k.headers(true));
        }
        self
    }

    /// An XML body with its Content-MD5 (S3 requires one on ACL and tagging bodies).
    pub(super) fn xml_body(mut self, xml: String) -> Self {
        use base64::Engine as _;
        use md5::Digest as _;
        let md5 =
            base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(xml.as_bytes()));
        self = self
            .header("content-type", "application/xml")
            .header("content-md5", md5);
        self.body = Body::Bytes(Bytes::from(xml));
        self
    }

    pub(super) fn checksum(self, c: Option<&ChecksumValue>) -> Self {
        match c {
            Some(c) => self.header(c.algorithm.header(), c.value.clone()),
            None => self,
        }
    }
}
