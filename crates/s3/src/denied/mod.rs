//! What an AccessDenied means: the IAM permission the refused request needed, worked out from
//! its operation and what it asked for (an ACL, tags, SSE-KMS, a version, a copy source), and
//! AWS's own words (`stated`, which reads them) when its message names the action and the reason.
//!
//! The actions come from S3's multipart permissions table (Initiate, Upload Part, Upload Part
//! (Copy), Complete: `s3:PutObject`; Stop: `s3:AbortMultipartUpload`; List Parts:
//! `s3:ListMultipartUploadParts`; List Multipart Uploads: `s3:ListBucketMultipartUploads`) and
//! AWS's documentation of each operation.

use std::fmt;

mod stated;

pub use stated::Stated;

/// What a refused deletion of a version may mean besides a missing permission.
pub(crate) const LOCKED_VERSION: &str = "or the version is under object lock (a retention \
    not yet ended, or a legal hold), which refuses its deletion whatever the permissions: a \
    GOVERNANCE retention gives way to a deletion that bypasses it, for those allowed \
    s3:BypassGovernanceRetention";

/// The permission a refused request needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The actions the request needs on [`resource`](Self::resource), e.g. `s3:PutObject`.
    pub actions: Vec<String>,
    /// The ARN they apply to: the object, or the bucket for bucket-level operations.
    pub resource: String,
    /// A copy's source: its ARN and the actions it needs there.
    pub source: Option<(String, Vec<String>)>,
    /// SSE-KMS: the key (or `None` for the bucket's default key) on which the request also
    /// needs `kms:GenerateDataKey` and `kms:Decrypt`.
    pub kms: Option<Option<String>>,
    /// What the service's message said, when it named the action.
    pub stated: Option<Stated>,
    /// Another cause worth naming (a HEAD's 403 can mean a missing key).
    pub note: Option<String>,
    /// A likelier cause than the permission, named before it unless the service named the
    /// action: a read's 403 when the request carried an SSE-C key (most often the wrong key),
    /// or any 403 of a request that expected the bucket's owner (another may own it).
    pub lead: Option<String>,
}

/// The request a denial is about, as the client sent it.
pub(crate) struct Refused<'a> {
    pub(crate) operation: &'static str,
    pub(crate) bucket: Option<&'a str>,
    pub(crate) key: Option<&'a str>,
    pub(crate) query: &'a [(String, String)],
    pub(crate) headers: &'a [(String, String)],
    pub(crate) region: &'a str,
}

impl Refused<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn versioned(&self) -> bool {
        self.query.iter().any(|(k, _)| k == "versionId")
    }
}

/// The ARN partition of a region: `aws-cn` in China, `aws-us-gov` in GovCloud, else `aws`.
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The ARN of a bucket, or of an object in it.
pub fn s3_arn(region: &str, bucket: &str, key: Option<&str>) -> String {
    match key {
        Some(k) => format!("arn:{}:s3:::{bucket}/{k}", partition(region)),
        None => format!("arn:{}:s3:::{bucket}", partition(region)),
    }
}

/// Whether an answer is a denial of permission (not a signature, clock or token problem):
/// `AccessDenied`, or a HEAD's bare 403.
pub(crate) fn is_denial(status: u16, code: &str) -> bool {
    code == "AccessDenied" || (status == 403 && code == "Forbidden")
}

impl Denial {
    /// What `r` needed, when its operation is one ferry knows; `message` is the service's.
    pub(crate) fn of(r: &Refused<'_>, message: &str) -> Option<Self> {
        if r.operation == "ListBuckets" {
            // Of no bucket: the action is granted on every resource.
            return Some(Self {
                actions: vec!["s3:ListAllMyBuckets".into()],
                resource: "*".into(),
                source: None,
                kms: None,
                stated: Stated::parse(message),
                note: None,
                lead: None,
            });
        }
        let bucket = r.bucket?;
        let object = s3_arn(r.region, bucket, r.key);
        let bucket_arn = s3_arn(r.region, bucket, None);
        let v = r.versioned();
        // An action's version form: s3:GetObject → s3:GetObjectVersion, s3:PutObjectAcl →
        // s3:PutObjectVersionAcl, and so on.
        let pick = |plain: &str| {
            if v {
                plain.replacen("Object", "ObjectVersion", 1)
            } else {
                plain.to_string()
            }
        };
        let mut note = None;
        let mut lead = None;
        let mut source = None;
        let (actions, resource) = match r.operation {
            "CreateMultipartUpload"
            | "UploadPart"
            | "CompleteMultipartUpload"
            | "PutObject"
            | "UploadPartCopy"
            | "CopyObject" => {
                let mut a = vec!["s3:PutObject".to_string()];
                if r.header("x-amz-acl").is_some()
                    || r.headers.iter().any(|(k, _)| k.starts_with("x-amz-grant-"))
                {
                    a.push("s3:PutObjectAcl".into());
                }
                if r.header("x-amz-tagging").is_some() {
                    a.push("s3:PutObjectTagging".into());
                }
                // Source: the PutObject API reference, on each object lock header.
                if r.header("x-amz-object-lock-mode").is_some()
                    || r.header("x-amz-object-lock-retain-until-date").is_some()
                {
                    a.push("s3:PutObjectRetention".into());
                }
                if r.header("x-amz-object-lock-legal-hold").is_some() {
                    a.push("s3:PutObjectLegalHold".into());
                }
                if let Some(src) = r.header("x-amz-copy-source") {
                    source = Some(copy_source(r.region, src));
                }
                (a, object)
            }
            "AbortMultipartUpload" => (vec!["s3:AbortMultipartUpload".into()], object),
            "ListParts" => (vec!["s3:ListMultipartUploadParts".into()], object),
            "ListMultipartUploads" => (vec!["s3:ListBucketMultipartUploads".into()], bucket_arn),
            "ListObjectsV2" => (vec!["s3:ListBucket".into()], bucket_arn),
            "ListObjectVersions" => (vec!["s3:ListBucketVersions".into()], bucket_arn),
            // Each of these needs the action of its own name, in its version form for a
            // request that names a version.
            "PutObjectAcl" | "GetObjectAcl" | "PutObjectTagging" | "GetObjectTagging" => {
                (vec![pick(&format!("s3:{}", r.operation))], object)
            }
            // Named alike, but with no version form.
            "PutObjectRetention" | "PutObjectLegalHold" | "RestoreObject" => {
                (vec![format!("s3:{}", r.operation)], object)
            }
            // A deletion on the condition of an ETag (a move's) reads the object too.
            "DeleteObject" if r.header("if-match").is_some() => {
                (vec![pick("s3:DeleteObject"), pick("s3:GetObject")], object)
            }
            "DeleteObject" => (vec![pick("s3:DeleteObject")], object),
            "DeleteObjects" => (vec!["s3:DeleteObject".into()], format!("{bucket_arn}/*")),
            "GetObject" | "HeadObject" => {
                // An SSE-C object read with another key than its own is refused so too, with
                // a plain "Access Denied": with a key given, that is the likelier cause.
                if r.header("x-amz-server-side-encryption-customer-key-md5")
                    .is_some()
                {
                    lead = Some(
                        "the SSE-C key given is most likely not the one the object was written \
                         with"
                            .to_string(),
                    );
                }
                // S3 hides whether a key exists from a caller who may not list the bucket.
                let head = match r.operation {
                    "HeadObject" => "a HEAD answer has no body to say why: ",
                    _ => "",
                };
                note = Some(format!(
                    "{head}a 403 also means the object does not exist and the caller lacks \
                     s3:ListBucket on {bucket_arn}"
                ));
                (vec![pick("s3:GetObject")], object)
            }
            "GetObjectAttributes" => (
                vec![pick("s3:GetObject"), pick("s3:GetObjectAttributes")],
                object,
            ),
            // Source: the CreateBucket API reference, on object lock.
            "CreateBucket" if r.header("x-amz-bucket-object-lock-enabled").is_some() => (
                vec![
                    "s3:CreateBucket".into(),
                    "s3:PutBucketObjectLockConfiguration".into(),
                    "s3:PutBucketVersioning".into(),
                ],
                bucket_arn,
            ),
            "CreateBucket" => (vec!["s3:CreateBucket".into()], bucket_arn),
            // The bucket's object lock: actions named for the bucket, not the operation.
            "PutObjectLockConfiguration" => (
                vec!["s3:PutBucketObjectLockConfiguration".into()],
                bucket_arn,
            ),
            "GetObjectLockConfiguration" => (
                vec!["s3:GetBucketObjectLockConfiguration".into()],
                bucket_arn,
            ),
            "DeleteBucket" => (vec!["s3:DeleteBucket".into()], bucket_arn),
            "GetBucketVersioning" => (vec!["s3:GetBucketVersioning".into()], bucket_arn),
            "PutBucketVersioning" => (vec!["s3:PutBucketVersioning".into()], bucket_arn),
            _ => return None,
        };
        let mut actions = actions;
        if r.header("x-amz-bypass-governance-retention").is_some() {
            actions.push("s3:BypassGovernanceRetention".into());
        }
        // A version under object lock is refused whatever the permissions.
        if r.operation == "DeleteObject" && v {
            note = Some(LOCKED_VERSION.to_string());
        }
        if r.operation == "PutObjectRetention" {
            note = Some(
                "or the retention asked for ends sooner than the one the object has, or changes \
                 its mode: a GOVERNANCE retention allows it only to a request that bypasses it \
                 (s3:BypassGovernanceRetention), a COMPLIANCE one never"
                    .to_string(),
            );
        }
        // A bucket another account owns than the one a request expects is refused with a
        // plain "Access Denied" too.
        if let Some(owner) = r.header("x-amz-expected-bucket-owner") {
            let other = format!(
                "the bucket may not be owned by account {owner}, the owner the request expects"
            );
            lead = Some(match lead {
                Some(key) => format!("{key}, or {other}"),
                None => other,
            });
        }
        let kms = match r.header("x-amz-server-side-encryption") {
            Some(alg) if alg.starts_with("aws:kms") => Some(
                r.header("x-amz-server-side-encryption-aws-kms-key-id")
                    .map(str::to_string),
            ),
            _ => None,
        };
        Some(Self {
            actions,
            resource,
            source,
            kms,
            stated: Stated::parse(message),
            note,
            lead,
        })
    }

    /// Adds SSE-KMS's actions on `key` (`None`: the bucket's default key): for a request
    /// that carries no SSE header of its own (UploadPart and Complete of an SSE-KMS upload).
    pub fn with_kms(mut self, key: Option<String>) -> Self {
        if self.kms.is_none() && self.actions.iter().any(|a| a == "s3:PutObject") {
            self.kms = Some(key);
        }
        self
    }

    /// Every action named, the source's and KMS's included.
    pub fn all_actions(&self) -> Vec<String> {
        let mut all = self.actions.clone();
        if let Some((_, a)) = &self.source {
            all.extend(a.iter().cloned());
        }
        if self.kms.is_some() {
            all.extend(["kms:GenerateDataKey".to_string(), "kms:Decrypt".into()]);
        }
        all
    }
}

/// `x-amz-copy-source` (`/bucket/key[?versionId=…]`, URL-encoded) as the source's ARN and
/// the actions a copy needs there.
fn copy_source(region: &str, header: &str) -> (String, Vec<String>) {
    let (path, version) = match header.split_once("?versionId=") {
        Some((p, _)) => (p, true),
        None => (header, false),
    };
    let path =
        percent_encoding::percent_decode_str(path.trim_start_matches('/')).decode_utf8_lossy();
    let (bucket, key) = path.split_once('/').unwrap_or((&path, ""));
    let action = if version {
        "s3:GetObjectVersion"
    } else {
        "s3:GetObject"
    };
    (s3_arn(region, bucket, Some(key)), vec![action.to_string()])
}

fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some(lead), None) = (&self.lead, &self.stated) {
            write!(f, "{lead}; else ")?;
        }
        match &self.stated {
            Some(s) => {
                let on = s.resource.as_deref().unwrap_or(&self.resource);
                write!(f, "the permission missing is {} on {on}", s.action)?;
                match (&s.reason, s.who_decides()) {
                    (Some(r), Some(who)) => write!(f, " ({r}; {who})")?,
                    (Some(r), None) => write!(f, " ({r})")?,
                    _ => {}
                }
                let others: Vec<String> = self
                    .all_actions()
                    .into_iter()
                    .filter(|a| a != &s.action)
                    .collect();
                if !others.is_empty() {
                    write!(f, "; this request also needs {}", and_list(&others))?;
                }
            }
            None => {
                write!(
                    f,
                    "this request needs {} on {}",
                    and_list(&self.actions),
                    self.resource
                )?;
                if let Some((arn, a)) = &self.source {
                    write!(
                        f,
                        ", and {} on the source {arn} (plus kms:Decrypt if the source is \
                         encrypted with SSE-KMS)",
                        and_list(a)
                    )?;
                }
                if let Some(key) = &self.kms {
                    match key {
                        Some(k) => write!(f, ", and kms:GenerateDataKey and kms:Decrypt on {k}")?,
                        None => write!(
                            f,
                            ", and kms:GenerateDataKey and kms:Decrypt on the bucket's KMS key"
                        )?,
                    }
                }
                f.write_str(": grant it to the user or role, or check the bucket policy")?;
            }
        }
        if let Some(n) = &self.note {
            write!(f, "; {n}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused<'a>(
        op: &'static str,
        key: Option<&'a str>,
        query: &'a [(String, String)],
        headers: &'a [(String, String)],
    ) -> Refused<'a> {
        Refused {
            operation: op,
            bucket: Some("b"),
            key,
            query,
            headers,
            region: "us-east-1",
        }
    }

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn needs(
        op: &'static str,
        key: Option<&str>,
        q: &[(&str, &str)],
        hd: &[(&str, &str)],
    ) -> Denial {
        let (q, hd) = (h(q), h(hd));
        Denial::of(&refused(op, key, &q, &hd), "Access Denied").expect("known operation")
    }

    /// Every row of S3's multipart permissions table, and every other operation ferry sends.
    #[test]
    fn each_operation_names_its_action() {
        let k = Some("dir/k");
        const OBJ: &str = "arn:aws:s3:::b/dir/k";
        for (op, action, resource) in [
            ("CreateMultipartUpload", "s3:PutObject", OBJ),
            ("UploadPart", "s3:PutObject", OBJ),
            ("UploadPartCopy", "s3:PutObject", OBJ),
            ("CompleteMultipartUpload", "s3:PutObject", OBJ),
            ("PutObject", "s3:PutObject", OBJ),
            ("CopyObject", "s3:PutObject", OBJ),
            ("AbortMultipartUpload", "s3:AbortMultipartUpload", OBJ),
            ("ListParts", "s3:ListMultipartUploadParts", OBJ),
            ("GetObject", "s3:GetObject", OBJ),
            ("HeadObject", "s3:GetObject", OBJ),
            ("PutObjectAcl", "s3:PutObjectAcl", OBJ),
            ("GetObjectAcl", "s3:GetObjectAcl", OBJ),
            ("PutObjectTagging", "s3:PutObjectTagging", OBJ),
            ("PutObjectRetention", "s3:PutObjectRetention", OBJ),
            ("PutObjectLegalHold", "s3:PutObjectLegalHold", OBJ),
            ("RestoreObject", "s3:RestoreObject", OBJ),
            ("GetObjectTagging", "s3:GetObjectTagging", OBJ),
            ("DeleteObject", "s3:DeleteObject", OBJ),
        ] {
            let d = needs(op, k, &[], &[]);
            assert_eq!(d.actions, vec![action.to_string()], "{op}");
            assert_eq!(d.resource, resource, "{op}");
            let text = d.to_string();
            assert!(
                text.contains(action) && text.contains(resource),
                "{op}: {text}"
            );
        }
        for (op, action) in [
            ("ListMultipartUploads", "s3:ListBucketMultipartUploads"),
            ("ListObjectsV2", "s3:ListBucket"),
            ("ListObjectVersions", "s3:ListBucketVersions"),
            ("CreateBucket", "s3:CreateBucket"),
            ("DeleteBucket", "s3:DeleteBucket"),
            (
                "PutObjectLockConfiguration",
                "s3:PutBucketObjectLockConfiguration",
            ),
            (
                "GetObjectLockConfiguration",
                "s3:GetBucketObjectLockConfiguration",
            ),
            ("GetBucketVersioning", "s3:GetBucketVersioning"),
            ("PutBucketVersioning", "s3:PutBucketVersioning"),
        ] {
            let d = needs(op, None, &[], &[]);
            assert_eq!(d.actions, vec![action.to_string()], "{op}");
            assert_eq!(d.resource, "arn:aws:s3:::b", "{op}");
        }
        let attrs = needs("GetObjectAttributes", k, &[], &[]);
        assert_eq!(attrs.actions, ["s3:GetObject", "s3:GetObjectAttributes"]);
        let q = h(&[]);
        assert!(Denial::of(&refused("SelectObjectContent", k, &q, &q), "").is_none());
    }

    #[test]
    fn what_the_request_asked_for_adds_actions() {
        let k = Some("k");
        let d = needs(
            "CreateMultipartUpload",
            k,
            &[],
            &[("x-amz-acl", "public-read")],
        );
        assert_eq!(d.actions, ["s3:PutObject", "s3:PutObjectAcl"]);
        let d = needs("PutObject", k, &[], &[("x-amz-grant-read", "id=\"x\"")]);
        assert_eq!(d.actions, ["s3:PutObject", "s3:PutObjectAcl"]);
        let d = needs("PutObject", k, &[], &[("x-amz-tagging", "a=b")]);
        assert_eq!(d.actions, ["s3:PutObject", "s3:PutObjectTagging"]);
        let lock = [
            ("x-amz-object-lock-mode", "GOVERNANCE"),
            (
                "x-amz-object-lock-retain-until-date",
                "2030-01-01T00:00:00Z",
            ),
            ("x-amz-object-lock-legal-hold", "ON"),
        ];
        let d = needs("CreateMultipartUpload", k, &[], &lock);
        let want = [
            "s3:PutObject",
            "s3:PutObjectRetention",
            "s3:PutObjectLegalHold",
        ];
        assert_eq!(d.actions, want);
        let d = needs("PutObject", k, &[], &lock[2..]);
        assert_eq!(d.actions, ["s3:PutObject", "s3:PutObjectLegalHold"]);
        let d = needs(
            "CreateBucket",
            None,
            &[],
            &[("x-amz-bucket-object-lock-enabled", "true")],
        );
        let want = [
            "s3:CreateBucket",
            "s3:PutBucketObjectLockConfiguration",
            "s3:PutBucketVersioning",
        ];
        assert_eq!(d.actions, want);
        let versioned = [("versionId", "v")];
        let bypass = [("x-amz-bypass-governance-retention", "true")];
        let d = needs("DeleteObject", k, &versioned, &bypass);
        assert_eq!(
            d.actions,
            ["s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"]
        );
        assert!(d.note.unwrap().contains("object lock"));
        let d = needs("PutObjectRetention", k, &[], &bypass);
        let want = ["s3:PutObjectRetention", "s3:BypassGovernanceRetention"];
        assert_eq!(d.actions, want);
        assert!(d.note.unwrap().contains("ends sooner"));
        let d = needs("DeleteObject", k, &[], &[("if-match", "\"e\"")]);
        assert_eq!(d.actions, ["s3:DeleteObject", "s3:GetObject"]);
        let d = needs(
            "CreateMultipartUpload",
            k,
            &[],
            &[
                ("x-amz-server-side-encryption", "aws:kms"),
                (
                    "x-amz-server-side-encryption-aws-kms-key-id",
                    "alias/backup",
                ),
            ],
        );
        let t = d.to_string();
        assert!(
            t.contains("kms:GenerateDataKey and kms:Decrypt on alias/backup"),
            "{t}"
        );
        // UploadPart carries no SSE header: the engine adds the key it began with.
        let t = needs("UploadPart", k, &[], &[]).with_kms(None).to_string();
        assert!(
            t.contains("kms:GenerateDataKey and kms:Decrypt on the bucket's KMS key"),
            "{t}"
        );
        // Not on a step that reads no data.
        let t = needs("ListParts", k, &[], &[]).with_kms(None).to_string();
        assert!(!t.contains("kms:"), "{t}");
        // A version id picks the …Version actions.
        for (op, action) in [
            ("GetObject", "s3:GetObjectVersion"),
            ("HeadObject", "s3:GetObjectVersion"),
            ("PutObjectAcl", "s3:PutObjectVersionAcl"),
            ("GetObjectAcl", "s3:GetObjectVersionAcl"),
            ("DeleteObject", "s3:DeleteObjectVersion"),
            ("GetObjectTagging", "s3:GetObjectVersionTagging"),
        ] {
            let d = needs(op, k, &[("versionId", "v1")], &[]);
            assert_eq!(d.actions[0], action, "{op}");
        }
        let d = needs("GetObjectAttributes", k, &[("versionId", "v1")], &[]);
        assert_eq!(
            d.actions,
            ["s3:GetObjectVersion", "s3:GetObjectVersionAttributes"]
        );
    }

    #[test]
    fn a_copy_names_both_sides() {
        let d = needs(
            "UploadPartCopy",
            Some("dst"),
            &[],
            &[("x-amz-copy-source", "/src-bucket/a%20b.bin")],
        );
        let t = d.to_string();
        assert!(t.contains("s3:PutObject on arn:aws:s3:::b/dst"), "{t}");
        assert!(
            t.contains("s3:GetObject on the source arn:aws:s3:::src-bucket/a b.bin"),
            "{t}"
        );
        assert!(t.contains("kms:Decrypt if the source"), "{t}");
        let d = needs(
            "CopyObject",
            Some("dst"),
            &[],
            &[("x-amz-copy-source", "/s/k?versionId=3")],
        );
        assert_eq!(d.source.unwrap().1, ["s3:GetObjectVersion"]);
    }

    #[test]
    fn a_head_says_it_may_be_a_missing_object_or_with_an_sse_c_key_the_wrong_key() {
        let t = needs("HeadObject", Some("k"), &[], &[]).to_string();
        assert!(t.contains("s3:ListBucket on arn:aws:s3:::b"), "{t}");
        assert!(!t.contains("SSE-C"), "{t}");
        let md5 = [("X-Amz-Server-Side-Encryption-Customer-Key-MD5", "bWQ1")];
        let t = needs("HeadObject", Some("k"), &[], &md5).to_string();
        assert!(
            t.starts_with("the SSE-C key given is most likely not the one the object"),
            "{t}"
        );
        assert!(t.contains("; else this request needs s3:GetObject"), "{t}");
        assert!(t.contains("s3:ListBucket on arn:aws:s3:::b"), "{t}");
        let t = needs("GetObject", Some("k"), &[], &md5).to_string();
        assert!(
            t.starts_with("the SSE-C key given is most likely not"),
            "{t}"
        );
        assert!(!t.contains("HEAD"), "{t}");
        assert!(t.contains("s3:ListBucket on arn:aws:s3:::b"), "{t}");
        // A request that expects the bucket's owner may meet another.
        let owner = [("x-amz-expected-bucket-owner", "111122223333")];
        let t = needs("PutObject", Some("k"), &[], &owner).to_string();
        assert!(
            t.starts_with(
                "the bucket may not be owned by account 111122223333, the owner the request \
                 expects; else this request needs s3:PutObject"
            ),
            "{t}"
        );
        // When the service names the action, the key is not to blame.
        let (q, hd) = (h(&[]), h(&md5));
        let stated = "User: arn:aws:iam::1:user/u is not authorized to perform: s3:GetObject on \
                      resource: \"arn:aws:s3:::b/k\" because no identity-based policy allows \
                      the s3:GetObject action";
        let d = Denial::of(&refused("GetObject", Some("k"), &q, &hd), stated).unwrap();
        let t = d.to_string();
        assert!(
            t.starts_with("the permission missing is s3:GetObject"),
            "{t}"
        );
    }

    #[test]
    fn partitions() {
        assert_eq!(s3_arn("cn-north-1", "b", Some("k")), "arn:aws-cn:s3:::b/k");
        assert_eq!(s3_arn("us-gov-west-1", "b", None), "arn:aws-us-gov:s3:::b");
        assert_eq!(s3_arn("eu-west-1", "b", None), "arn:aws:s3:::b");
    }

    /// AWS's messages since 2024, one per kind of policy that refused: the permission and
    /// the reason it names, and who decides, are in what a denial says.
    #[test]
    fn aws_wording_is_echoed() {
        for (message, action, reason, who) in stated::tests::AWS_CASES {
            let (q, hd) = (h(&[]), h(&[]));
            let d = Denial::of(&refused("PutObject", Some("k"), &q, &hd), message).unwrap();
            let t = d.to_string();
            assert!(
                t.contains(&format!("the permission missing is {action}")),
                "{t}"
            );
            assert!(t.contains(reason) && t.contains(who), "{t}");
        }
        // A bare "Access Denied" names nothing: the mapping does.
        let d = needs("ListParts", Some("k"), &[], &[]);
        assert!(d.stated.is_none());
        assert_eq!(
            d.to_string(),
            "this request needs s3:ListMultipartUploadParts on arn:aws:s3:::b/k: grant it to \
             the user or role, or check the bucket policy"
        );
    }

    #[test]
    fn only_denials_count() {
        assert!(is_denial(403, "AccessDenied"));
        assert!(is_denial(403, "Forbidden"));
        for code in [
            "SignatureDoesNotMatch",
            "InvalidAccessKeyId",
            "ExpiredToken",
        ] {
            assert!(!is_denial(403, code));
        }
    }
}
