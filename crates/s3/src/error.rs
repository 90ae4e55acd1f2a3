//! Errors of S3 requests: what the service said ([`ServiceError`]) kept apart from what went
//! wrong in the client ([`ClientError`]), and the retry classification the engine relies on.

use std::fmt;
use std::time::Duration;

use crate::denied::Denial;
use crate::endpoint::AddressError;

/// Why options cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid object option: {0}")]
pub struct OptionsError(pub String);

/// The result of an S3 operation.
pub type Result<T, E = S3Error> = std::result::Result<T, E>;

/// An error answered by the service: an HTTP error status, or a 200 whose body is `<Error>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    /// The operation, e.g. `UploadPart`.
    pub operation: &'static str,
    /// HTTP status (200 for an error in the body of a 200 answer).
    pub status: u16,
    /// S3 error code, e.g. `NoSuchBucket`; derived from the status when the body had none
    /// (HEAD answers carry no body).
    pub code: String,
    /// The service's message.
    pub message: String,
    /// `x-amz-request-id`, or `RequestId` from the body.
    pub request_id: Option<String>,
    /// `Retry-After` or `x-amz-retry-after`, when the service asked for a pause.
    pub retry_after: Option<Duration>,
    /// For an AccessDenied: the permission the request needed.
    pub denial: Option<Box<Denial>>,
    /// For a request refused as signed for another region than its bucket's: the bucket's
    /// region, as the answer gave it (`x-amz-bucket-region`, or `Region` in the body).
    pub region: Option<String>,
    /// `x-amz-delete-marker: true`: the key's latest version (or the version asked for) is a
    /// delete marker.
    pub delete_marker: bool,
    /// The answer named no S3 error: `code` is the status's name, and `message` what its body
    /// held instead, if anything (a HEAD's answer has no body).
    pub unnamed: bool,
    /// How many times the request was sent before this answer was given up on; said when
    /// more than once ([`S3Error::after_attempts`]).
    pub attempts: u32,
}

/// An error and its causes, by their `Display` only, each cause once (a cause whose text the
/// chain already holds is left out). Never `Debug`: the `Debug` of aws-config's errors holds
/// raw responses (a session token, a role's keys).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        source = s.source();
    }
    parts.join(": ")
}

impl ServiceError {
    /// An error the service answered, with no request id, pause or denial (yet).
    pub fn new(
        operation: &'static str,
        status: u16,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ServiceError {
            operation,
            status,
            code: code.into(),
            message: message.into(),
            request_id: None,
            retry_after: None,
            denial: None,
            region: None,
            delete_marker: false,
            unnamed: false,
            attempts: 1,
        }
    }

    /// Whether the service refused for lack of permission (`AccessDenied`, or a HEAD's bare
    /// 403).
    pub fn is_denied(&self) -> bool {
        crate::denied::is_denial(self.status, &self.code)
    }

    fn hint(&self) -> Option<&'static str> {
        if self.delete_marker {
            return Some(if self.status == 404 {
                "its latest version is a delete marker: the object was deleted (an older \
                 version is still read by its version id)"
            } else {
                "that version is a delete marker, which holds no bytes"
            });
        }
        Some(match self.code.as_str() {
            // A HEAD's answer has no body; S3 refuses to describe an SSE-C object so.
            "BadRequest" if self.operation == "HeadObject" && self.message.is_empty() => {
                "a HEAD answer has no body to say why: S3 answers so for an object encrypted \
                 with a customer-provided key (SSE-C) read without its key, and for one not so \
                 encrypted read with a key"
            }
            // A read of an SSE-C object without its key: S3 says "The object was stored using
            // a form of Server Side Encryption…", other servers much the same.
            "InvalidRequest" | "InvalidArgument"
                if self.operation == "GetObject"
                    && self.message.contains("Server Side Encryption") =>
            {
                "the object is encrypted with a customer-provided key (SSE-C): read it with its \
                 key"
            }
            "SignatureDoesNotMatch" => {
                "check the secret access key that goes with this access key id"
            }
            "InvalidAccessKeyId" => "check the access key id, and that the endpoint is right",
            "AccessDenied" => "check the credentials and their permissions on this bucket",
            "NoSuchBucket" => "check the bucket name, or create the bucket first",
            "NoSuchUpload" => {
                "the multipart upload was completed or aborted, or its upload ID is not this key's"
            }
            "RequestTimeTooSkewed" => "the local clock is off; fix it and try again",
            // Source: the S3 user guide, "Troubleshooting" Object Ownership: a bucket whose
            // Object Ownership is "bucket owner enforced" (every bucket made since April 2023,
            // unless set otherwise) refuses a write that carries any other ACL.
            "AccessControlListNotSupported" => {
                "the bucket's Object Ownership is \"bucket owner enforced\": ACLs are off, and a \
                 write may carry no ACL or grant but the canned bucket-owner-full-control; \
                 grant access with a bucket policy instead"
            }
            "InvalidStorageClass" => {
                "S3's storage classes are STANDARD, \
                 REDUCED_REDUNDANCY, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER, \
                 DEEP_ARCHIVE, GLACIER_IR, OUTPOSTS, SNOW, EXPRESS_ONEZONE, FSX_OPENZFS and \
                 FSX_ONTAP, in upper case; an S3-compatible store may take fewer, or others of \
                 its own"
            }
            // S3 names every error it answers with, and every answer carries a request id;
            // only a HEAD's error has no body to name it in. (A 5xx but 501 may be a proxy's
            // passing trouble; a 403 is told as a denial.)
            _ if self.unnamed
                && self.request_id.is_none()
                && !self.operation.starts_with("Head")
                && ((400..500).contains(&self.status) || self.status == 501)
                && self.status != 403 =>
            {
                "the answer was no S3 error (no error code, no request id): check that the \
                 endpoint URL is an S3 service's"
            }
            _ => return None,
        })
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        failed(f, self.operation, self.attempts)?;
        write!(f, "{} (HTTP {})", self.code, self.status)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        match (&self.denial, self.hint(), &self.region) {
            (Some(d), _, _) => write!(f, "; {d}")?,
            (None, _, Some(region)) => write!(f, "; the bucket is in {region}")?,
            (None, Some(hint), None) => write!(f, "; {hint}")?,
            (None, None, None) => {}
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request id {id}]")?;
        }
        Ok(())
    }
}

/// What kind of client-side failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientErrorKind {
    /// No connection could be made (refused, DNS, unreachable).
    Connect,
    /// The connection broke while a request or response was in flight (reset, closed).
    Network,
    /// A connect or read timeout.
    Timeout,
    /// The response body ended before its `Content-Length`.
    BodyCutShort,
    /// The bytes received do not match the checksum they should have (damaged in flight):
    /// retryable.
    Corrupt,
    /// The TLS handshake failed (untrusted certificate and the like): not retryable.
    Tls,
    /// The response could not be understood (bad XML, missing header).
    InvalidResponse,
    /// The request was refused before sending (bad bucket, key, option).
    InvalidRequest,
    /// Credentials could not be had.
    Credentials,
}

/// An error in the client, not said by the service.
#[derive(Debug)]
pub struct ClientError {
    /// The operation.
    pub operation: &'static str,
    /// What kind of failure.
    pub kind: ClientErrorKind,
    /// What happened, in words.
    pub message: String,
    /// The underlying error, if any.
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
    /// How many times the request was sent before this failure was given up on; said when
    /// more than once ([`S3Error::after_attempts`]).
    pub attempts: u32,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        failed(f, self.operation, self.attempts)?;
        write!(f, "{}", self.message)
    }
}

/// `{operation} failed: `, or `{operation} failed after {attempts} attempts: `.
fn failed(f: &mut fmt::Formatter<'_>, operation: &str, attempts: u32) -> fmt::Result {
    match attempts {
        0 | 1 => write!(f, "{operation} failed: "),
        n => write!(f, "{operation} failed after {n} attempts: "),
    }
}

/// An S3 request error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum S3Error {
    /// The service answered with an error.
    #[error("{0}")]
    Service(Box<ServiceError>),
    /// The client failed before, while or after talking to the service.
    #[error("{0}")]
    Client(Box<ClientError>),
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// S3 codes that mean "try again".
const RETRYABLE_CODES: &[&str] = &[
    "SlowDown",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
    "Throttling",
    "ThrottlingException",
    "RequestThrottled",
    "TooManyRequestsException",
];

/// S3 codes about the bucket, the credentials or the clock, never one object.
const SHARED_CODES: &[&str] = &[
    "NoSuchBucket",
    "InvalidBucketName",
    "PermanentRedirect",
    "AuthorizationHeaderMalformed",
    "InvalidAccessKeyId",
    "InvalidToken",
    "ExpiredToken",
    "TokenRefreshRequired",
    "AccountProblem",
    "AllAccessDisabled",
    "RequestTimeTooSkewed",
];

/// HTTP statuses that mean "try again" (AWS SDK standard retry mode). Not 501.
const RETRYABLE_STATUS: &[u16] = &[408, 429, 500, 502, 503, 504];

impl S3Error {
    /// A client error of the given kind.
    pub fn client(
        operation: &'static str,
        kind: ClientErrorKind,
        message: impl Into<String>,
    ) -> Self {
        Self::Client(Box::new(ClientError {
            operation,
            kind,
            message: message.into(),
            source: None,
            attempts: 1,
        }))
    }

    /// Adds the underlying cause to a client error.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        if let Self::Client(c) = &mut self {
            c.source = Some(Box::new(source));
        }
        self
    }

    /// The error of a request sent `attempts` times, each failing, the last so: its message
    /// says so when that is more than once.
    pub fn after_attempts(mut self, attempts: u32) -> Self {
        match &mut self {
            Self::Service(s) => s.attempts = attempts,
            Self::Client(c) => c.attempts = attempts,
        }
        self
    }

    /// The service error, if the service answered.
    pub fn service(&self) -> Option<&ServiceError> {
        match self {
            Self::Service(s) => Some(s),
            Self::Client(_) => None,
        }
    }

    /// The HTTP status the service answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        self.service().map(|s| s.status)
    }

    /// The client error kind, if the client failed.
    pub fn client_kind(&self) -> Option<ClientErrorKind> {
        match self {
            Self::Client(c) => Some(c.kind),
            Self::Service(_) => None,
        }
    }

    /// The S3 error code, if the service answered.
    pub fn code(&self) -> Option<&str> {
        self.service().map(|s| s.code.as_str())
    }

    /// Whether sending the same request again may succeed: 500, 502, 503, 504, 429, 408,
    /// `SlowDown`, `RequestTimeout`, `InternalError`; a connection reset or refused, a timeout,
    /// a body cut short. Never 501 or another 4xx. `ExpiredToken` is not retryable as such:
    /// see [`is_expired_credentials`](Self::is_expired_credentials).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Service(s) => {
                s.status != 501
                    && (RETRYABLE_STATUS.contains(&s.status)
                        || RETRYABLE_CODES.contains(&s.code.as_str()))
            }
            Self::Client(c) => matches!(
                c.kind,
                ClientErrorKind::Connect
                    | ClientErrorKind::Network
                    | ClientErrorKind::Timeout
                    | ClientErrorKind::BodyCutShort
                    | ClientErrorKind::Corrupt
            ),
        }
    }

    /// Whether the server refused the request as signed for another region than its bucket's
    /// and named the bucket's region. [`S3Client`](crate::S3Client) then signs the bucket's
    /// requests for that region, so the same request sent again can succeed.
    pub fn is_wrong_region(&self) -> bool {
        self.service().is_some_and(|s| s.region.is_some())
    }

    /// Whether the server refused the request as signed too far from its own time
    /// (`RequestTimeTooSkewed`). [`S3Client`](crate::S3Client) then signs with the server's
    /// time from that answer on, so the same request sent again can succeed.
    pub fn is_clock_skew(&self) -> bool {
        self.code() == Some("RequestTimeTooSkewed")
    }

    /// Whether the service asked to slow down (throttling), so concurrency should drop.
    pub fn is_throttling(&self) -> bool {
        self.service().is_some_and(|s| {
            s.status == 429
                || matches!(
                    s.code.as_str(),
                    "SlowDown"
                        | "Throttling"
                        | "ThrottlingException"
                        | "RequestThrottled"
                        | "TooManyRequestsException"
                )
        })
    }

    /// Whether the failure concerns the endpoint, the bucket, the credentials or the clock
    /// rather than the object asked for, so that every other request to the bucket would meet
    /// it too: no such bucket or an invalid name, the bucket in another region, an unknown
    /// access key, a token that is invalid or expired (after its refresh), an account
    /// disabled, a clock too far off; no credentials; a server that cannot be reached (after
    /// the retries). Not `SignatureDoesNotMatch` (a server may sign one key's name otherwise)
    /// nor `AccessDenied` (a policy may cover only some keys).
    pub fn concerns_every_request(&self) -> bool {
        match self {
            Self::Service(s) => SHARED_CODES.contains(&s.code.as_str()),
            Self::Client(c) => matches!(
                c.kind,
                ClientErrorKind::Credentials | ClientErrorKind::Connect
            ),
        }
    }

    /// Whether the credentials expired: refresh them, then retry.
    pub fn is_expired_credentials(&self) -> bool {
        self.code()
            .is_some_and(|c| matches!(c, "ExpiredToken" | "TokenRefreshRequired"))
    }

    /// The permission a refused request needed, for an AccessDenied.
    pub fn denial(&self) -> Option<&Denial> {
        self.service().and_then(|s| s.denial.as_deref())
    }

    /// Whether the service refused for lack of permission.
    pub fn is_denied(&self) -> bool {
        self.service().is_some_and(ServiceError::is_denied)
    }

    /// Adds SSE-KMS's actions to a denial of a request that carries no SSE header of its own
    /// (UploadPart, Complete): `key` is the upload's KMS key, `None` for the bucket's default.
    pub fn with_kms(mut self, key: Option<String>) -> Self {
        if let Self::Service(s) = &mut self
            && let Some(d) = s.denial.take()
        {
            s.denial = Some(Box::new(d.with_kms(key)));
        }
        self
    }

    /// How long the service asked to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        self.service().and_then(|s| s.retry_after)
    }
}

impl From<ServiceError> for S3Error {
    fn from(e: ServiceError) -> Self {
        S3Error::Service(Box::new(e))
    }
}

impl From<AddressError> for S3Error {
    fn from(e: AddressError) -> Self {
        S3Error::client("request", ClientErrorKind::InvalidRequest, e.to_string()).with_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(status: u16, code: &str) -> S3Error {
        ServiceError {
            request_id: Some("RID".into()),
            ..ServiceError::new("UploadPart", status, code, "m")
        }
        .into()
    }

    #[test]
    fn a_request_given_up_on_says_how_many_times_it_was_sent() {
        assert_eq!(
            svc(500, "InternalError").after_attempts(6).to_string(),
            "UploadPart failed after 6 attempts: InternalError (HTTP 500): m [request id RID]"
        );
        assert_eq!(
            svc(500, "InternalError").after_attempts(1).to_string(),
            "UploadPart failed: InternalError (HTTP 500): m [request id RID]"
        );
        let cut = S3Error::client("GetObject", ClientErrorKind::Network, "connection reset");
        assert_eq!(
            cut.after_attempts(3).to_string(),
            "GetObject failed after 3 attempts: connection reset"
        );
    }

    #[test]
    fn an_answer_that_is_no_s3_error_points_at_the_endpoint() {
        let bare = |op, status, code| {
            ServiceError {
                unnamed: true,
                ..ServiceError::new(op, status, code, "")
            }
            .to_string()
        };
        let hint = "check that the endpoint URL is an S3 service's";
        assert!(bare("PutObject", 404, "NotFound").contains(hint));
        assert!(bare("ListObjectsV2", 405, "MethodNotAllowed").contains(hint));
        assert!(!bare("HeadObject", 404, "NotFound").contains(hint));
        assert!(!bare("PutObject", 503, "ServiceUnavailable").contains(hint));
        let with_id = ServiceError {
            request_id: Some("RID".into()),
            unnamed: true,
            ..ServiceError::new("PutObject", 404, "NotFound", "")
        };
        assert!(!with_id.to_string().contains(hint), "{with_id}");
        let named = ServiceError::new("PutObject", 404, "NoSuchBucket", "");
        assert!(!named.to_string().contains(hint), "{named}");
    }

    #[test]
    fn a_bucket_without_acls_is_said_to_take_none() {
        let e = svc(400, "AccessControlListNotSupported").to_string();
        assert!(e.contains("ACLs are off"), "{e}");
        assert!(e.contains("bucket-owner-full-control"), "{e}");
    }

    #[test]
    fn a_refused_storage_class_is_answered_with_every_class_s3_takes() {
        let e = svc(400, "InvalidStorageClass").to_string();
        for class in crate::options::STORAGE_CLASSES {
            assert!(e.contains(class), "{class} missing: {e}");
        }
    }

    #[test]
    fn retry_classification() {
        for (status, code) in [
            (500, "InternalError"),
            (502, "BadGateway"),
            (503, "SlowDown"),
            (504, "GatewayTimeout"),
            (429, "TooManyRequests"),
            (408, "RequestTimeout"),
            (400, "RequestTimeout"),
            (200, "InternalError"),
        ] {
            assert!(svc(status, code).is_retryable(), "{status} {code}");
        }
        for (status, code) in [
            (501, "NotImplemented"),
            (403, "AccessDenied"),
            (404, "NoSuchBucket"),
            (400, "InvalidArgument"),
            (400, "EntityTooSmall"),
            (400, "InvalidPart"),
            (400, "ExpiredToken"),
        ] {
            assert!(!svc(status, code).is_retryable(), "{status} {code}");
        }
        assert!(svc(400, "ExpiredToken").is_expired_credentials());
        assert!(svc(503, "SlowDown").is_throttling());
        assert!(!svc(500, "InternalError").is_throttling());
        for kind in [
            ClientErrorKind::Connect,
            ClientErrorKind::Network,
            ClientErrorKind::Timeout,
            ClientErrorKind::BodyCutShort,
        ] {
            assert!(S3Error::client("GetObject", kind, "x").is_retryable());
        }
        for kind in [
            ClientErrorKind::Tls,
            ClientErrorKind::InvalidResponse,
            ClientErrorKind::InvalidRequest,
            ClientErrorKind::Credentials,
        ] {
            assert!(!S3Error::client("GetObject", kind, "x").is_retryable());
        }
    }

    #[test]
    fn what_every_request_would_meet_is_told_from_what_one_object_meets() {
        for (status, code) in [
            (404, "NoSuchBucket"),
            (403, "InvalidAccessKeyId"),
            (400, "ExpiredToken"),
            (301, "PermanentRedirect"),
            (400, "AuthorizationHeaderMalformed"),
            (403, "RequestTimeTooSkewed"),
        ] {
            assert!(svc(status, code).concerns_every_request(), "{code}");
        }
        for (status, code) in [
            (404, "NoSuchKey"),
            (403, "AccessDenied"),
            (403, "SignatureDoesNotMatch"),
            (412, "PreconditionFailed"),
            (500, "InternalError"),
            (404, "NotFound"),
        ] {
            assert!(!svc(status, code).concerns_every_request(), "{code}");
        }
        let client = |kind| S3Error::client("PutObject", kind, "x");
        assert!(client(ClientErrorKind::Connect).concerns_every_request());
        assert!(client(ClientErrorKind::Credentials).concerns_every_request());
        assert!(!client(ClientErrorKind::Timeout).concerns_every_request());
        assert!(!client(ClientErrorKind::BodyCutShort).concerns_every_request());
    }

    #[test]
    fn messages_name_operation_code_and_request_id() {
        let e = svc(403, "SignatureDoesNotMatch").to_string();
        assert!(
            e.starts_with("UploadPart failed: SignatureDoesNotMatch (HTTP 403): m"),
            "{e}"
        );
        assert!(e.contains("secret access key"), "{e}");
        assert!(e.contains("[request id RID]"), "{e}");
    }

    #[test]
    fn a_heads_bare_400_says_it_may_want_an_sse_c_key() {
        let bare = ServiceError::new("HeadObject", 400, "BadRequest", "").to_string();
        assert!(bare.contains("customer-provided key (SSE-C)"), "{bare}");
        // A body's message says why itself; a GET's 400 is not that.
        for e in [
            ServiceError::new("HeadObject", 400, "BadRequest", "bad range"),
            ServiceError::new("GetObject", 400, "BadRequest", ""),
        ] {
            assert!(!e.to_string().contains("SSE-C"), "{e}");
        }
        // The GET ferry sends to learn why says it in the server's words: S3's, SeaweedFS's.
        for (code, message) in [
            (
                "InvalidRequest",
                "The object was stored using a form of Server Side Encryption. The correct \
                 parameters must be provided to retrieve the object.",
            ),
            (
                "InvalidArgument",
                "Requests specifying Server Side Encryption with Customer provided keys must \
                 provide the customer key.",
            ),
        ] {
            let e = ServiceError::new("GetObject", 400, code, message).to_string();
            assert!(e.contains("customer-provided key (SSE-C)"), "{e}");
        }
    }
}
