//! How an object is encrypted at rest: with keys S3 manages (SSE-S3, SSE-KMS) or with the
//! caller's own (SSE-C), whose key is never shown, logged or stored.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::OptionsError;

/// Server-side encryption with keys S3 manages (SSE-C, with the caller's key, is
/// [`SseCustomerKey`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServerSideEncryption {
    /// SSE-S3 (`AES256`).
    S3,
    /// SSE-KMS (`aws:kms`), or with `dual_layer` DSSE-KMS (`aws:kms:dsse`).
    Kms {
        /// KMS key id or ARN; the account's default key when absent.
        key_id: Option<String>,
        /// Encryption context as JSON (sent base64-encoded).
        context: Option<String>,
        /// Use an S3 Bucket Key (not with `dual_layer`: S3 refuses one there).
        bucket_key: Option<bool>,
        /// Two layers of encryption under the key (DSSE-KMS, `aws:kms:dsse`), where
        /// compliance asks for them. Journals written before it lack it: one layer.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        dual_layer: bool,
    },
}

impl ServerSideEncryption {
    /// As `x-amz-server-side-encryption` names it: `AES256`, `aws:kms` or `aws:kms:dsse`.
    pub fn header_value(&self) -> &'static str {
        match self {
            ServerSideEncryption::S3 => "AES256",
            ServerSideEncryption::Kms {
                dual_layer: false, ..
            } => "aws:kms",
            ServerSideEncryption::Kms {
                dual_layer: true, ..
            } => "aws:kms:dsse",
        }
    }
}

/// Whether `x-amz-server-side-encryption` names encryption under a KMS key (`aws:kms`,
/// `aws:kms:dsse`), whose objects' ETags are not the MD5 of their bytes.
pub fn is_kms(header_value: &str) -> bool {
    header_value == "aws:kms" || header_value == "aws:kms:dsse"
}

/// A customer-provided encryption key (SSE-C): 32 bytes, AES256. The key is never shown by
/// `Debug`, never logged and never stored; only its MD5 may be kept (to check that a resumed
/// transfer uses the same key).
#[derive(Clone, PartialEq, Eq)]
pub struct SseCustomerKey {
    key_b64: String,
    key_md5_b64: String,
}

impl SseCustomerKey {
    /// A key from its 32 raw bytes.
    pub fn new(key: &[u8]) -> Result<Self, OptionsError> {
        use base64::Engine as _;
        use md5::Digest as _;
        if key.len() != 32 {
            return Err(OptionsError(format!(
                "an SSE-C key is 32 bytes (AES-256); this one is {} bytes",
                key.len()
            )));
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        Ok(Self {
            key_b64: b64.encode(key),
            key_md5_b64: b64.encode(md5::Md5::digest(key)),
        })
    }

    /// A key from its base64 form (as `--sse-c-key` and the AWS CLI take it).
    pub fn from_base64(text: &str) -> Result<Self, OptionsError> {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| OptionsError("the SSE-C key is not valid base64".into()))?;
        Self::new(&raw)
    }

    /// Base64 MD5 of the key: safe to store and show.
    pub fn key_md5(&self) -> &str {
        &self.key_md5_b64
    }

    /// The three headers, for the object itself or (`copy_source`) for a copy's source.
    pub(crate) fn headers(&self, copy_source: bool) -> [(String, String); 3] {
        let p = if copy_source {
            "x-amz-copy-source-server-side-encryption-customer"
        } else {
            "x-amz-server-side-encryption-customer"
        };
        [
            (format!("{p}-algorithm"), "AES256".into()),
            (format!("{p}-key"), self.key_b64.clone()),
            (format!("{p}-key-MD5"), self.key_md5_b64.clone()),
        ]
    }
}

impl fmt::Debug for SseCustomerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseCustomerKey")
            .field("key", &"** redacted **")
            .field("key_md5", &self.key_md5_b64)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{ObjectOptions, RequestOptions};

    #[test]
    fn sse_c_key_is_checked_and_never_shown() {
        assert!(SseCustomerKey::new(&[7u8; 31]).is_err());
        assert!(SseCustomerKey::from_base64("not base64!").is_err());
        let key = SseCustomerKey::new(&[7u8; 32]).unwrap();
        let shown = format!("{key:?}");
        assert!(!shown.contains(&key.key_b64), "{shown}");
        assert!(shown.contains(key.key_md5()));
        let h = key.headers(true);
        assert_eq!(
            h[0].0,
            "x-amz-copy-source-server-side-encryption-customer-algorithm"
        );
        assert_eq!(h[2].1, key.key_md5());
        let with_sse = ObjectOptions {
            sse: Some(ServerSideEncryption::S3),
            request: RequestOptions {
                sse_customer_key: Some(key),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(with_sse.validate().is_err());
    }
}
