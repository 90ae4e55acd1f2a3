//! Archived objects (S3 Glacier Flexible Retrieval, Deep Archive, Intelligent-Tiering's
//! archive tiers): the RestoreObject request that makes a temporary copy readable, and the
//! restore state HeadObject reports in `x-amz-restore`.

use crate::options::RequestOptions;

/// Storage classes whose objects cannot be read until restored (GetObject answers
/// InvalidObjectState): they take a number of days.
pub const ARCHIVED_CLASSES: [&str; 2] = ["GLACIER", "DEEP_ARCHIVE"];

/// Whether objects of `storage_class` must be restored before they are read.
pub fn is_archived_class(storage_class: &str) -> bool {
    ARCHIVED_CLASSES.contains(&storage_class)
}

/// How fast (and at what price) S3 restores an archived object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestoreTier {
    /// Hours (3-5 from Glacier Flexible Retrieval, 12 from Deep Archive): S3's default.
    #[default]
    Standard,
    /// The cheapest: 5-12 hours, 48 from Deep Archive.
    Bulk,
    /// Minutes, from Glacier Flexible Retrieval only, when capacity allows.
    Expedited,
}

impl RestoreTier {
    /// As the request's `<Tier>` names it.
    pub fn as_str(self) -> &'static str {
        match self {
            RestoreTier::Standard => "Standard",
            RestoreTier::Bulk => "Bulk",
            RestoreTier::Expedited => "Expedited",
        }
    }

    /// From its name, in any case (`bulk`, `Bulk`).
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Standard, Self::Bulk, Self::Expedited]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

/// Restores a temporary copy of an archived object: RestoreObject.
#[derive(Debug, Clone, Default)]
pub struct RestoreObjectRequest {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// A specific version (else the current one).
    pub version_id: Option<String>,
    /// Days the copy stays readable: required for the Glacier classes, and not sent for an
    /// Intelligent-Tiering object (which moves back to its frequent tier instead).
    pub days: Option<u32>,
    /// How fast; S3's default (Standard) when absent.
    pub tier: Option<RestoreTier>,
    /// Expected bucket owner, requester pays.
    pub request: RequestOptions,
}

/// What RestoreObject did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restored {
    /// A restore began (202 Accepted): the copy is readable once it completes.
    Started,
    /// The object was restored already (200 OK): its copy now stays the days asked, from now.
    Extended,
}

/// The restore state `x-amz-restore` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreState {
    /// A restore is under way: the object is not readable yet.
    pub ongoing: bool,
    /// When the restored copy goes (an HTTP date, as sent), once restored.
    pub expiry: Option<String>,
}

impl RestoreState {
    /// Reads `x-amz-restore` (`ongoing-request="false", expiry-date="Fri, 21 Dec 2012
    /// 00:00:00 GMT"`); `None` when it says neither state.
    pub fn parse(header: &str) -> Option<Self> {
        let field = |name: &str| {
            let at = header.find(&format!("{name}=\""))? + name.len() + 2;
            let rest = &header[at..];
            Some(rest[..rest.find('"')?].to_string())
        };
        let ongoing = match field("ongoing-request")?.as_str() {
            "true" => true,
            "false" => false,
            _ => return None,
        };
        Some(Self {
            ongoing,
            expiry: field("expiry-date"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::ObjectMeta;

    #[test]
    fn the_restore_header_reads_both_states() {
        assert_eq!(
            RestoreState::parse(r#"ongoing-request="true""#),
            Some(RestoreState {
                ongoing: true,
                expiry: None
            })
        );
        assert_eq!(
            RestoreState::parse(
                r#"ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT""#
            ),
            Some(RestoreState {
                ongoing: false,
                expiry: Some("Fri, 21 Dec 2012 00:00:00 GMT".into())
            })
        );
        assert_eq!(RestoreState::parse("something else"), None);
        assert_eq!(RestoreState::parse(r#"ongoing-request="maybe""#), None);
    }

    #[test]
    fn tiers_read_in_any_case_and_archived_classes_are_named() {
        assert_eq!(RestoreTier::parse("bulk"), Some(RestoreTier::Bulk));
        assert_eq!(
            RestoreTier::parse("EXPEDITED"),
            Some(RestoreTier::Expedited)
        );
        assert_eq!(RestoreTier::parse("fast"), None);
        assert!(is_archived_class("DEEP_ARCHIVE"));
        assert!(!is_archived_class("GLACIER_IR"));
    }

    #[test]
    fn an_archived_object_is_readable_once_restored() {
        let mut m = ObjectMeta {
            storage_class: Some("GLACIER".into()),
            ..Default::default()
        };
        assert!(m.is_archived());
        m.restore = RestoreState::parse(r#"ongoing-request="true""#);
        assert!(m.is_archived());
        m.restore = RestoreState::parse(r#"ongoing-request="false", expiry-date="x""#);
        assert!(!m.is_archived());
        let tiered = ObjectMeta {
            storage_class: Some("INTELLIGENT_TIERING".into()),
            archive_status: Some("ARCHIVE_ACCESS".into()),
            ..Default::default()
        };
        assert!(tiered.is_archived());
        assert!(!ObjectMeta::default().is_archived());
    }
}
