//! What AWS's own message says of a denial, when it names the action refused: who asked,
//! the action, the resource, why, and which kind of policy decides.

/// AWS's own account of a denial: "User: ARN is not authorized to perform: ACTION on resource:
/// "ARN" because no identity-based policy allows the ACTION action", and its variants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stated {
    /// Who asked (`arn:aws:iam::…:user/…`, an assumed role), when said.
    pub principal: Option<String>,
    /// The action refused.
    pub action: String,
    /// The resource, when said.
    pub resource: Option<String>,
    /// Why, as AWS put it: "no identity-based policy allows the s3:PutObject action", "with an
    /// explicit deny in a service control policy", …
    pub reason: Option<String>,
}

impl Stated {
    /// Reads AWS's message; `None` when it does not name an action.
    pub fn parse(message: &str) -> Option<Self> {
        const PERFORM: &str = "not authorized to perform: ";
        let at = message.find(PERFORM)?;
        let principal = message[..at]
            .trim()
            .strip_prefix("User:")
            .map(|p| p.trim().trim_end_matches(" is").trim().to_string())
            .filter(|p| !p.is_empty());
        let rest = &message[at + PERFORM.len()..];
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '"')
            .unwrap_or(rest.len());
        let action = rest[..end].trim_end_matches(['.', ',']).to_string();
        if !action.contains(':') {
            return None;
        }
        let rest = &rest[end..];
        let (resource, rest) = match rest.find("on resource: ") {
            Some(i) => {
                let r = rest[i + "on resource: ".len()..].trim_start();
                let (res, after) = match r.strip_prefix('"') {
                    Some(q) => q.split_once('"').unwrap_or((q, "")),
                    None => r.split_once(char::is_whitespace).unwrap_or((r, "")),
                };
                (Some(res.trim_end_matches('.').to_string()), after)
            }
            None => (None, rest),
        };
        let reason = ["because ", "with an explicit deny"]
            .iter()
            .find_map(|m| {
                rest.find(m).map(|i| {
                    let r = &rest[i..];
                    r.strip_prefix("because ").unwrap_or(r)
                })
            })
            .map(|r| r.trim().trim_end_matches('.').to_string())
            .filter(|r| !r.is_empty());
        Some(Self {
            principal,
            action,
            resource,
            reason,
        })
    }

    /// Who decides, from the reason: where the user should look.
    pub fn who_decides(&self) -> Option<&'static str> {
        let r = self.reason.as_deref()?;
        WHO_DECIDES
            .iter()
            .find(|(policy, _)| r.contains(policy))
            .map(|(_, who)| *who)
    }
}

/// The policy AWS names in a denial's reason, and where the user should look: the first that
/// the reason contains.
const WHO_DECIDES: [(&str, &str); 7] = [
    (
        "service control policy",
        "an AWS Organizations service control policy decides this: ask its administrator",
    ),
    (
        "resource control policy",
        "an AWS Organizations resource control policy decides this: ask its administrator",
    ),
    (
        "resource-based policy",
        "the bucket policy (or the KMS key policy) decides this",
    ),
    (
        "permissions boundary",
        "the permissions boundary of the user or role decides this",
    ),
    (
        "session policy",
        "the session policy passed when the role was assumed decides this",
    ),
    (
        "VPC endpoint policy",
        "the VPC endpoint's policy decides this",
    ),
    (
        "identity-based policy",
        "the IAM policy of the user or role decides this",
    ),
];

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// AWS's messages since 2024, one per kind of policy that refused: each with the action,
    /// the reason and who decides, as a denial must read them.
    pub(in crate::denied) const AWS_CASES: [(&str, &str, &str, &str); 6] = [
        (
            "User: arn:aws:iam::123456789012:user/backup is not authorized to perform: s3:PutObject on resource: \"arn:aws:s3:::b/k\" because no identity-based policy allows the s3:PutObject action",
            "s3:PutObject",
            "no identity-based policy allows the s3:PutObject action",
            "IAM policy of the user or role",
        ),
        (
            "User: arn:aws:sts::123456789012:assumed-role/Backup/i-0abc is not authorized to perform: s3:ListMultipartUploadParts on resource: \"arn:aws:s3:::b/k\" with an explicit deny in a service control policy",
            "s3:ListMultipartUploadParts",
            "with an explicit deny in a service control policy",
            "service control policy decides",
        ),
        (
            "User: arn:aws:iam::123456789012:user/backup is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::b/k\" with an explicit deny in a resource-based policy",
            "s3:GetObject",
            "with an explicit deny in a resource-based policy",
            "bucket policy",
        ),
        (
            "User: arn:aws:iam::123456789012:user/backup is not authorized to perform: s3:AbortMultipartUpload on resource: \"arn:aws:s3:::b/k\" with an explicit deny in an identity-based policy",
            "s3:AbortMultipartUpload",
            "with an explicit deny in an identity-based policy",
            "IAM policy",
        ),
        (
            "User: arn:aws:iam::123456789012:user/backup is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::b/k\" because no resource-based policy allows the s3:GetObject action",
            "s3:GetObject",
            "no resource-based policy allows the s3:GetObject action",
            "bucket policy",
        ),
        (
            "User: arn:aws:iam::123456789012:user/backup is not authorized to perform: kms:GenerateDataKey on resource: arn:aws:kms:us-east-1:123456789012:key/1234abcd because no identity-based policy allows the kms:GenerateDataKey action",
            "kms:GenerateDataKey",
            "no identity-based policy allows the kms:GenerateDataKey action",
            "IAM policy",
        ),
    ];

    #[test]
    fn aws_wording_is_read() {
        for (message, action, reason, _) in AWS_CASES {
            let s = Stated::parse(message).expect(message);
            assert_eq!(s.action, action);
            assert_eq!(s.reason.as_deref(), Some(reason));
            assert!(s.who_decides().is_some(), "{message}");
        }
        let s = Stated::parse(AWS_CASES[0].0).unwrap();
        assert_eq!(
            s.principal.as_deref(),
            Some("arn:aws:iam::123456789012:user/backup")
        );
        assert_eq!(s.resource.as_deref(), Some("arn:aws:s3:::b/k"));
        let kms = Stated::parse(AWS_CASES[5].0).unwrap();
        assert_eq!(
            kms.resource.as_deref(),
            Some("arn:aws:kms:us-east-1:123456789012:key/1234abcd")
        );
        assert!(Stated::parse("Access Denied").is_none());
    }
}
