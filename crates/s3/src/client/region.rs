//! Each bucket's region, when it is not the client's: learned from an answer that refused a
//! request signed for another region, as the aws cli and mountpoint-s3 follow it.
//!
//! A request signed for the wrong region is refused: S3 answers a HEAD with a bare 301, and
//! other requests with 400 `AuthorizationHeaderMalformed` or 301 `PermanentRedirect`, each
//! with the bucket's region in an `x-amz-bucket-region` header (and the 400 in its body's
//! `Region`). The client then signs that bucket's requests for its region, and sends them to
//! that region's endpoint when its own is AWS's for its region, and sends the refused request
//! again once. Without it, with no region configured (the instance's, else `us-east-1`),
//! every bucket in another region failed.

use std::collections::HashMap;
use std::sync::Mutex;

use tracing::warn;

use crate::config::ClientConfig;
use crate::endpoint::Endpoint;

/// The buckets whose region is not the client's (shared by a client's clones).
#[derive(Debug, Default)]
pub(super) struct Regions {
    buckets: Mutex<HashMap<String, String>>,
}

impl Regions {
    /// The region to sign `bucket`'s requests for.
    pub(super) fn of(&self, config: &ClientConfig, bucket: Option<&str>) -> String {
        bucket
            .and_then(|b| self.buckets.lock().expect("regions lock").get(b).cloned())
            .unwrap_or_else(|| config.region.clone())
    }

    /// Where `region`'s requests go: AWS's endpoint for that region, of the same kind (plain,
    /// FIPS, dual-stack), when the client's endpoint is AWS's for its own, else the client's
    /// endpoint (a custom endpoint serves every region it has).
    pub(super) fn endpoint<'c>(
        config: &'c ClientConfig,
        region: &str,
    ) -> std::borrow::Cow<'c, Endpoint> {
        match config.endpoint.for_region(&config.region, region) {
            Some(theirs) if region != config.region => std::borrow::Cow::Owned(theirs),
            _ => std::borrow::Cow::Borrowed(&config.endpoint),
        }
    }

    /// Signs `bucket`'s requests for `region` from now on. Returns whether that changed.
    pub(super) fn learn(&self, config: &ClientConfig, bucket: &str, region: &str) -> bool {
        let valid = !region.is_empty()
            && region.len() <= 64
            && region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !valid || self.of(config, Some(bucket)) == region {
            return false;
        }
        self.buckets
            .lock()
            .expect("regions lock")
            .insert(bucket.to_string(), region.to_string());
        warn!(
            "s3://{bucket} is in {region}, not {}: signing its requests for {region}",
            config.region
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;
    use crate::profile::Env;

    fn config(vars: &[(&str, &str)]) -> ClientConfig {
        let map = [("AWS_ACCESS_KEY_ID", "a"), ("AWS_SECRET_ACCESS_KEY", "b")]
            .iter()
            .chain(vars)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ClientConfig::resolve(&Env::from_map(map), Overrides::default()).unwrap()
    }

    #[test]
    fn a_bucket_elsewhere_is_signed_and_sent_for_its_region() {
        let c = config(&[("AWS_REGION", "us-east-1")]);
        let r = Regions::default();
        assert_eq!(r.of(&c, Some("b")), "us-east-1");
        assert!(r.learn(&c, "b", "eu-west-1"));
        assert!(!r.learn(&c, "b", "eu-west-1"), "told once");
        assert_eq!(r.of(&c, Some("b")), "eu-west-1");
        assert_eq!(r.of(&c, Some("other")), "us-east-1");
        assert_eq!(r.of(&c, None), "us-east-1");
        assert_eq!(
            Regions::endpoint(&c, "eu-west-1").url(),
            "https://s3.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            Regions::endpoint(&c, "us-east-1").url(),
            "https://s3.us-east-1.amazonaws.com"
        );
        // Nothing that is not a region's name is taken.
        assert!(!r.learn(&c, "b", "eu west/1"));
        assert!(!r.learn(&c, "b", ""));
    }

    #[test]
    fn a_bucket_elsewhere_is_sent_to_the_same_kind_of_endpoint() {
        let fips = config(&[
            ("AWS_REGION", "us-gov-west-1"),
            ("AWS_USE_FIPS_ENDPOINT", "true"),
        ]);
        assert_eq!(
            Regions::endpoint(&fips, "us-gov-east-1").url(),
            "https://s3-fips.us-gov-east-1.amazonaws.com"
        );
        // AWS's own endpoint given as a URL is followed as the resolved one is.
        let given = config(&[
            ("AWS_REGION", "eu-west-1"),
            (
                "AWS_ENDPOINT_URL",
                "https://s3.dualstack.eu-west-1.amazonaws.com",
            ),
        ]);
        assert_eq!(
            Regions::endpoint(&given, "us-east-2").url(),
            "https://s3.dualstack.us-east-2.amazonaws.com"
        );
    }

    #[test]
    fn a_custom_endpoint_serves_every_region() {
        let c = config(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")]);
        assert_eq!(
            Regions::endpoint(&c, "eu-west-1").url(),
            "http://127.0.0.1:9000"
        );
    }
}
