//! Where a request goes: the endpoint (AWS by region, or a custom URL), path-style or
//! virtual-hosted addressing, bucket and key checks, and the byte-exact request URL.
//!
//! Keys are sent byte-exact or not at all: the `url` crate under reqwest removes `.` and `..`
//! path segments (even percent-encoded), so a key such as `a/../b` would silently address the
//! object `b`. Such keys are refused here with [`AddressError::KeyRewritten`] before anything
//! is sent, and every URL built is checked against the path that was signed.

use std::net::IpAddr;

use url::Url;

use crate::signing::{uri_encode, uri_encode_path};

/// How the bucket appears in the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddressingStyle {
    /// Virtual-hosted for AWS endpoints and DNS-safe buckets; path-style for custom endpoints,
    /// IP and localhost endpoints, and buckets that are not DNS-safe.
    #[default]
    Auto,
    /// `https://endpoint/bucket/key`.
    Path,
    /// `https://bucket.endpoint/key`.
    Virtual,
}

impl AddressingStyle {
    /// Its name, as a profile or `--addressing-style` spells it.
    pub fn name(self) -> &'static str {
        match self {
            AddressingStyle::Auto => "auto",
            AddressingStyle::Path => "path",
            AddressingStyle::Virtual => "virtual",
        }
    }
}

impl std::str::FromStr for AddressingStyle {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "path" => Ok(Self::Path),
            "virtual" => Ok(Self::Virtual),
            other => Err(format!(
                "unknown addressing style {other:?}: use auto, path or virtual"
            )),
        }
    }
}

/// Why a bucket, key or endpoint cannot be addressed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// The endpoint URL is not usable.
    #[error(
        "invalid endpoint URL {url:?}: {reason} (expected e.g. http://127.0.0.1:9000 or https://s3.example.com)"
    )]
    InvalidEndpoint {
        /// The URL as given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The bucket name breaks S3's naming rules.
    #[error("invalid bucket name {bucket:?}: {reason}")]
    InvalidBucket {
        /// The name as given.
        bucket: String,
        /// What is wrong.
        reason: String,
    },
    /// The key is empty or too long.
    #[error("invalid object key {}: {reason}", abbreviated(key))]
    InvalidKey {
        /// The key as given.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The key has a `.` or `..` segment that the HTTP stack would rewrite.
    #[error(
        "object key {key:?} has a '.' or '..' path segment; the HTTP layer would rewrite it and address a different object, so ferry refuses it (rename the key without such segments)"
    )]
    KeyRewritten {
        /// The key as given.
        key: String,
    },
}

/// A key as an error quotes it: whole when short, else its first 60 characters (a key over
/// S3's limit would fill the screen; the reason says how long it is).
fn abbreviated(key: &str) -> String {
    if key.chars().count() <= 80 {
        return format!("{key:?}");
    }
    let head: String = key.chars().take(60).collect();
    format!("{head:?}…")
}

/// An S3 endpoint: scheme, host, port, and an optional base path (for servers behind a
/// reverse proxy at a sub-path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    scheme: String,
    host: String,
    port: Option<u16>,
    base_path: String,
    aws: bool,
}

/// Which of AWS's S3 endpoints of a region: the plain one, FIPS 140 validated, dual-stack
/// (IPv6 and IPv4), or both, as `use_fips_endpoint` and `use_dualstack_endpoint` choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AwsVariant {
    /// FIPS: `s3-fips.REGION.amazonaws.com` (none in the China regions).
    pub fips: bool,
    /// Dual-stack: `s3.dualstack.REGION.amazonaws.com`.
    pub dualstack: bool,
}

impl Endpoint {
    /// AWS's regional endpoint, e.g. `https://s3.eu-west-1.amazonaws.com`.
    pub fn aws(region: &str) -> Self {
        Self::aws_variant(region, AwsVariant::default())
    }

    /// AWS's regional endpoint of `variant`, e.g. `https://s3-fips.us-gov-west-1.amazonaws.com`
    /// or `https://s3.dualstack.eu-west-1.amazonaws.com`.
    pub fn aws_variant(region: &str, variant: AwsVariant) -> Self {
        let suffix = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        let service = if variant.fips { "s3-fips" } else { "s3" };
        let stack = if variant.dualstack { ".dualstack" } else { "" };
        Self {
            scheme: "https".into(),
            host: format!("{service}{stack}.{region}.{suffix}"),
            port: None,
            base_path: String::new(),
            aws: true,
        }
    }

    /// When this is AWS's endpoint for region `from` (plain, FIPS or dual-stack, resolved or
    /// given as a URL), the same kind of endpoint for `region`; `None` for any other (a
    /// custom endpoint serves every region it has).
    pub fn for_region(&self, from: &str, region: &str) -> Option<Self> {
        [false, true]
            .into_iter()
            .flat_map(|fips| [false, true].map(|dualstack| AwsVariant { fips, dualstack }))
            .find(|v| *self == Self::aws_variant(from, *v))
            .map(|v| Self::aws_variant(region, v))
    }

    /// A custom endpoint URL (`--endpoint-url`): `http` or `https`, a host, an optional port
    /// and base path; no query, fragment or credentials.
    pub fn custom(raw: &str) -> Result<Self, AddressError> {
        let bad = |reason: &str| AddressError::InvalidEndpoint {
            url: raw.to_string(),
            reason: reason.to_string(),
        };
        let url = Url::parse(raw).map_err(|e| bad(&e.to_string()))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(bad("the scheme must be http or https"));
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
            None => return Err(bad("it has no host")),
        };
        if host.is_empty() {
            return Err(bad("it has no host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("it must not have a query or fragment"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("credentials do not belong in the URL"));
        }
        let aws = host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn");
        Ok(Self {
            scheme: url.scheme().to_string(),
            host,
            port: url.port(),
            base_path: url.path().trim_end_matches('/').to_string(),
            aws,
        })
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// Whether the host is `localhost` or a loopback address (no proxy is used for it).
    pub fn is_loopback(&self) -> bool {
        let h = self.host.trim_start_matches('[').trim_end_matches(']');
        h == "localhost"
            || h.ends_with(".localhost")
            || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    fn is_ip_or_localhost(&self) -> bool {
        let h = self.host.trim_start_matches('[').trim_end_matches(']');
        h == "localhost" || h.ends_with(".localhost") || h.parse::<IpAddr>().is_ok()
    }

    fn authority(&self, host: &str) -> String {
        match self.port {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        }
    }

    /// The endpoint as a URL string, for messages.
    pub fn url(&self) -> String {
        format!(
            "{}://{}{}",
            self.scheme,
            self.authority(&self.host),
            self.base_path
        )
    }

    /// Resolves where a request for `bucket`/`key` goes. `query` pairs are decoded.
    pub fn target(
        &self,
        style: AddressingStyle,
        bucket: Option<&str>,
        key: Option<&str>,
        query: &[(String, String)],
    ) -> Result<Target, AddressError> {
        if let Some(b) = bucket {
            validate_bucket(b)?;
        }
        if let Some(k) = key {
            validate_key(k)?;
        }
        let virtual_hosted = match (bucket, style) {
            (None, _) | (_, AddressingStyle::Path) => false,
            (Some(_), AddressingStyle::Virtual) => true,
            (Some(b), AddressingStyle::Auto) => {
                self.aws
                    && !self.is_ip_or_localhost()
                    && is_dns_compatible(b)
                    && !(self.scheme == "https" && b.contains('.'))
            }
        };
        let (host, mut path) = match (bucket, virtual_hosted) {
            (Some(b), true) => (format!("{b}.{}", self.host), self.base_path.clone()),
            (Some(b), false) => (self.host.clone(), format!("{}/{b}", self.base_path)),
            (None, _) => (self.host.clone(), self.base_path.clone()),
        };
        path.push('/');
        if let Some(k) = key {
            path.push_str(k);
        }
        let encoded_path = uri_encode_path(&path);
        let host_header = self.authority(&host);
        let mut query_string = String::new();
        for (i, (k, v)) in query.iter().enumerate() {
            if i > 0 {
                query_string.push('&');
            }
            query_string.push_str(&uri_encode(k));
            if !v.is_empty() {
                query_string.push('=');
                query_string.push_str(&uri_encode(v));
            }
        }
        let mut url_text = format!("{}://{host_header}{encoded_path}", self.scheme);
        if !query_string.is_empty() {
            url_text.push('?');
            url_text.push_str(&query_string);
        }
        let url = Url::parse(&url_text).map_err(|e| AddressError::InvalidBucket {
            bucket: bucket.unwrap_or_default().to_string(),
            reason: format!("cannot form a URL: {e}"),
        })?;
        // The guarantee this module gives: what is sent is what was signed.
        if url.path() != encoded_path {
            return Err(AddressError::KeyRewritten {
                key: key.unwrap_or_default().to_string(),
            });
        }
        Ok(Target {
            url,
            host_header,
            path,
        })
    }
}

/// A resolved request target.
#[derive(Debug, Clone)]
pub struct Target {
    /// The full URL, percent-encoded exactly as signed.
    pub url: Url,
    /// The `Host` header value (`host[:port]`).
    pub host_header: String,
    /// The decoded path, as the signer takes it.
    pub path: String,
}

/// Checks a bucket name against S3's rules loosely enough for S3-compatible stores: 3 to 255
/// characters of letters, digits, `.`, `-` and `_`.
pub fn validate_bucket(bucket: &str) -> Result<(), AddressError> {
    let bad = |reason: &str| AddressError::InvalidBucket {
        bucket: bucket.to_string(),
        reason: reason.to_string(),
    };
    if bucket.len() < 3 || bucket.len() > 255 {
        return Err(bad("a bucket name has 3 to 63 characters"));
    }
    if let Some(c) = bucket
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
    {
        return Err(bad(&format!(
            "{c:?} is not allowed (use lower-case letters, digits, '.' and '-')"
        )));
    }
    Ok(())
}

/// Whether a bucket name can be a DNS label prefix (virtual-hosted addressing).
pub fn is_dns_compatible(bucket: &str) -> bool {
    (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && bucket.as_bytes()[0].is_ascii_alphanumeric()
        && bucket.as_bytes()[bucket.len() - 1].is_ascii_alphanumeric()
        && !bucket.contains("..")
        && bucket.parse::<std::net::Ipv4Addr>().is_err()
}

/// Checks an object key: 1 to 1,024 bytes, and no `.` or `..` segment (see the module docs).
pub fn validate_key(key: &str) -> Result<(), AddressError> {
    if key.is_empty() {
        return Err(AddressError::InvalidKey {
            key: key.into(),
            reason: "the key is empty".into(),
        });
    }
    if key.len() > 1024 {
        return Err(AddressError::InvalidKey {
            key: key.into(),
            reason: format!("{} bytes is over S3's limit of 1024", key.len()),
        });
    }
    if key.split('/').any(|s| s == "." || s == "..") {
        return Err(AddressError::KeyRewritten { key: key.into() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> Endpoint {
        Endpoint::custom("http://127.0.0.1:8333").unwrap()
    }

    #[test]
    fn a_key_too_long_is_quoted_in_short() {
        let said = validate_key(&"k".repeat(1100)).unwrap_err().to_string();
        let head = "k".repeat(60);
        assert_eq!(
            said,
            format!("invalid object key \"{head}\"…: 1100 bytes is over S3's limit of 1024")
        );
        let short = validate_key("").unwrap_err().to_string();
        assert!(short.starts_with("invalid object key \"\": "), "{short}");
    }

    #[test]
    fn aws_endpoints_are_virtual_hosted_when_safe() {
        let e = Endpoint::aws("eu-west-1");
        let t = e
            .target(
                AddressingStyle::Auto,
                Some("my-bucket"),
                Some("a/b.txt"),
                &[],
            )
            .unwrap();
        assert_eq!(
            t.url.as_str(),
            "https://my-bucket.s3.eu-west-1.amazonaws.com/a/b.txt"
        );
        assert_eq!(t.host_header, "my-bucket.s3.eu-west-1.amazonaws.com");
        assert_eq!(t.path, "/a/b.txt");
        // Dots break the TLS wildcard certificate: path-style.
        let t = e
            .target(AddressingStyle::Auto, Some("my.bucket"), Some("k"), &[])
            .unwrap();
        assert_eq!(
            t.url.as_str(),
            "https://s3.eu-west-1.amazonaws.com/my.bucket/k"
        );
        // Not DNS-safe: path-style.
        let t = e
            .target(AddressingStyle::Auto, Some("My_Bucket"), Some("k"), &[])
            .unwrap();
        assert_eq!(t.path, "/My_Bucket/k");
        assert_eq!(
            Endpoint::aws("cn-north-1").url(),
            "https://s3.cn-north-1.amazonaws.com.cn"
        );
    }

    #[test]
    fn ip_and_localhost_endpoints_are_path_style() {
        let t = local()
            .target(AddressingStyle::Auto, Some("bkt"), Some("k"), &[])
            .unwrap();
        assert_eq!(t.url.as_str(), "http://127.0.0.1:8333/bkt/k");
        assert_eq!(t.host_header, "127.0.0.1:8333");
        let t = Endpoint::custom("http://localhost:9000/")
            .unwrap()
            .target(AddressingStyle::Virtual, Some("bkt"), Some("k"), &[])
            .unwrap();
        assert_eq!(t.url.as_str(), "http://bkt.localhost:9000/k");
    }

    #[test]
    fn awkward_keys_are_encoded_once_and_exactly() {
        let key = "dir/my file+plus%pct?q#frag~tilde*star(paren)/ünï/=&;:@,$!'";
        let query = [("uploadId".to_string(), "a/b+c=".to_string())];
        let t = local()
            .target(AddressingStyle::Auto, Some("bkt"), Some(key), &query)
            .unwrap();
        assert_eq!(
            t.url.as_str(),
            "http://127.0.0.1:8333/bkt/dir/my%20file%2Bplus%25pct%3Fq%23frag~tilde%2Astar%28paren%29/\
             %C3%BCn%C3%AF/%3D%26%3B%3A%40%2C%24%21%27?uploadId=a%2Fb%2Bc%3D"
        );
        assert_eq!(t.path, format!("/bkt/{key}"));
        // Empty segments and dots inside names are kept as they are.
        let t = local()
            .target(
                AddressingStyle::Auto,
                Some("bkt"),
                Some("a//b/.c/..d/.../"),
                &[],
            )
            .unwrap();
        assert_eq!(t.url.path(), "/bkt/a//b/.c/..d/.../");
    }

    #[test]
    fn keys_the_url_layer_would_rewrite_are_refused() {
        // What reqwest's URL parser does to such paths: the reason for the refusal.
        let u = Url::parse("http://h/bkt/a/../b").unwrap();
        assert_eq!(u.path(), "/bkt/b");
        let u = Url::parse("http://h/bkt/a/%2e%2E/b").unwrap();
        assert_eq!(u.path(), "/bkt/b");
        for key in ["a/../b", "..", ".", "a/./b", "a/..", "./a", "../x"] {
            let err = local()
                .target(AddressingStyle::Auto, Some("bkt"), Some(key), &[])
                .unwrap_err();
            assert_eq!(err, AddressError::KeyRewritten { key: key.into() });
            assert!(err.to_string().contains("refuses"));
        }
    }

    #[test]
    fn bad_names_and_endpoints() {
        assert!(validate_bucket("ab").is_err());
        assert!(validate_bucket("a/b-c").is_err());
        assert!(validate_bucket("good-bucket.1").is_ok());
        assert!(validate_key("").is_err());
        assert!(validate_key(&"k".repeat(1025)).is_err());
        for bad in [
            "ftp://x",
            "127.0.0.1:9000",
            "http://",
            "http://h/?a=b",
            "http://u:p@h",
        ] {
            assert!(Endpoint::custom(bad).is_err(), "{bad}");
        }
        let e = Endpoint::custom("https://s3.example.com/base/").unwrap();
        let t = e
            .target(AddressingStyle::Auto, Some("bkt"), Some("k"), &[])
            .unwrap();
        assert_eq!(t.url.as_str(), "https://s3.example.com/base/bkt/k");
        assert!(local().is_loopback());
        assert!(Endpoint::custom("http://[::1]:9000").unwrap().is_loopback());
        assert!(!e.is_loopback());
    }
}
