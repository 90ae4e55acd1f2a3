//! ferry-s3: the S3 protocol for ferry, and nothing else. SigV4 signing, credentials, endpoints
//! and addressing, one typed request and response per operation, XML bodies, errors with a
//! retry classification, and the [`ObjectClient`] trait the transfer engine is generic over,
//! with its HTTP implementation [`S3Client`].
//!
//! It knows nothing of part scheduling, retries or journals: those belong to ferry-engine.
#![deny(missing_docs)]

mod acl;
mod checksums;
pub mod chunked;
mod client;
mod config;
mod credentials;
mod denied;
mod encryption;
mod endpoint;
mod error;
mod grants;
mod instance;
mod listing;
mod object_lock;
mod ops;
mod options;
mod profile;
mod restore;
pub mod signing;
mod tls;
mod xml;

pub use acl::AclError;
pub use client::{
    ObjectClient, Presigned, S3Client, list_all_objects, list_all_parts, list_all_uploads,
};
pub use config::{ClientConfig, ConfigError, DEFAULT_REGION, GIVEN, Origins, Overrides};
pub use credentials::{
    ChainProvider, ChainSettings, CredentialProvider, Credentials, CredentialsError,
    CredentialsFuture, EnvProvider, ProfileProvider, Secret, SharedCredentialProvider,
    StaticProvider,
};
pub use denied::{Denial, Stated, s3_arn};
pub use endpoint::{
    AddressError, AddressingStyle, AwsVariant, Endpoint, Target, is_dns_compatible,
    validate_bucket, validate_key,
};
pub use error::{ClientError, ClientErrorKind, Result, S3Error, ServiceError};
pub use ops::*;
pub use options::{
    CANNED_ACLS, ChecksumAlgorithm, ChecksumType, ChecksumValue, ContentHeaders, Grantee, Grants,
    ObjectLockMode, ObjectOptions, OptionsError, RequestOptions, STORAGE_CLASSES,
    ServerSideEncryption, SseCustomerKey, is_kms, storage_class_named,
};
pub use profile::{Env, ProfileSet};
pub use restore::{
    ARCHIVED_CLASSES, RestoreObjectRequest, RestoreState, RestoreTier, Restored, is_archived_class,
};
