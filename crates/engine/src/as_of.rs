//! What a key held at a time, from a listing of its versions: each key's newest version
//! written no later than then, a key deleted then (its newest such entry a delete marker) or
//! written only after absent, one whose state then was not kept (replaced with no version id)
//! not known. Chosen key by key as the listing comes, holding two versions of a key at most.

use std::time::SystemTime;

use ferry_s3::{ListObjectVersionsRequest, ObjectClient, ObjectVersion};

use crate::context::Context;
use crate::error::{Error, ErrorKind};
use crate::mtime::listed_time;

/// What a key's versions give at a time, once they have all been seen.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AtTime {
    /// This version was current then.
    Version(ObjectVersion),
    /// The key was deleted then (a delete marker was current), or was only written later in
    /// a versioned bucket: it was not there.
    Absent,
    /// Its only version was written later with no version id (`null`: versioning off or
    /// suspended then), so that whatever it replaced was not kept: it is not known what the
    /// key held then.
    Unknown(ObjectVersion),
}

/// One page of a listing of a prefix as it was at a time (see
/// [`Manager::list_as_of`](crate::Manager::list_as_of)): each key completed on the page, as
/// it was then. A key whose versions run on to the next page comes with that page.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PageAsOf {
    /// The version current then of each key there then, in key order (a key deleted then, or
    /// written only later, is not here).
    pub versions: Vec<ObjectVersion>,
    /// The keys whose only version came later with no version id (versioning off or
    /// suspended): what each held then was not kept. Their later version is given.
    pub unknown: Vec<ObjectVersion>,
}

impl PageAsOf {
    /// Takes what a key had then.
    pub(crate) fn take(&mut self, then: AtTime) {
        match then {
            AtTime::Version(v) => self.versions.push(v),
            AtTime::Unknown(v) => self.unknown.push(v),
            AtTime::Absent => {}
        }
    }
}

/// Chooses, key by key, the version each key had at a time, from versions in a listing's
/// order (by key; each key's newest first, though the times decide: at equal times, the one
/// listed first).
#[derive(Debug)]
pub(crate) struct Chooser {
    at: SystemTime,
    /// The key whose versions are being read, with the best one so far (a version or delete
    /// marker written no later than `at`) and its time, and the oldest one written later
    /// (what replaced the key's state then) and its time.
    key: Option<String>,
    best: Option<(SystemTime, ObjectVersion)>,
    later: Option<(Option<SystemTime>, ObjectVersion)>,
}

impl Chooser {
    /// A chooser of what was current at `at`.
    pub(crate) fn new(at: SystemTime) -> Self {
        Self {
            at,
            key: None,
            best: None,
            later: None,
        }
    }

    /// Takes the next version listed; when it begins another key, what the key before it
    /// had at the time.
    pub(crate) fn push(&mut self, v: ObjectVersion) -> Option<(String, AtTime)> {
        let ended = match &self.key {
            Some(k) if *k == v.object.key => None,
            _ => self.finish(),
        };
        self.key.get_or_insert_with(|| v.object.key.clone());
        // A version with no time cannot be placed before or after: it is taken for later.
        match v.object.last_modified.as_deref().and_then(listed_time) {
            Some(t) if t <= self.at => {
                if self.best.as_ref().is_none_or(|(b, _)| t > *b) {
                    self.best = Some((t, v));
                }
            }
            t => {
                // At equal times, the one listed after is the older.
                let older = match (&self.later, t) {
                    (None, _) => true,
                    (Some((Some(kept), _)), Some(t)) => t <= *kept,
                    (Some((None, _)), Some(_)) => true,
                    (Some(_), None) => false,
                };
                if older {
                    self.later = Some((t, v));
                }
            }
        }
        ended
    }

    /// What the last key had at the time, once the listing has ended.
    pub(crate) fn finish(&mut self) -> Option<(String, AtTime)> {
        let key = self.key.take()?;
        // With nothing then, the oldest later entry says whether the key was absent (its
        // first version, or a delete marker, kept beside what it replaced) or not known (one
        // with no version id, which replaced what the key held then: versioning was off or
        // suspended).
        let at = match (self.best.take(), self.later.take()) {
            (Some((_, v)), _) if v.delete_marker => AtTime::Absent,
            (Some((_, v)), _) => AtTime::Version(v),
            (None, Some((_, v))) if v.version_id == "null" => AtTime::Unknown(v),
            (None, _) => AtTime::Absent,
        };
        Some((key, at))
    }
}

/// The time `at` as RFC 3339 (UTC, whole seconds), as a listing says it.
pub(crate) fn shown(at: SystemTime) -> String {
    let t = time::OffsetDateTime::from(at);
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The version of `bucket`/`key` current at `at` (see [`list_as_of`]), from a listing of
/// its versions; an error names why there is none: no such key, deleted then or written only
/// later, or its only version written later with no version id. `transfer` names what a
/// cancel stops.
pub(crate) async fn version_at<C: ObjectClient>(
    ctx: &Context<C>,
    bucket: &str,
    key: &str,
    request: &ferry_s3::RequestOptions,
    at: SystemTime,
    transfer: &str,
) -> Result<String, Error> {
    let url = format!("s3://{bucket}/{key}");
    let what = format!("listing the versions of {url}");
    let mut req = ListObjectVersionsRequest {
        bucket: bucket.to_string(),
        prefix: Some(key.to_string()),
        request: request.clone(),
        ..Default::default()
    };
    let mut chooser = Chooser::new(at);
    'pages: loop {
        let page = ctx
            .request(None, |c| c.list_object_versions(&req))
            .await
            .map_err(|f| f.into_error(&what, transfer))?;
        let more = req.advance(&page).map_err(|e| Error::from_s3(&what, e))?;
        // Keys come in order: the key's versions end where a greater key begins.
        for v in page.versions {
            if v.object.key.as_str() > key {
                break 'pages;
            }
            if v.object.key == key {
                chooser.push(v);
            }
        }
        if !more {
            break;
        }
    }
    let when = shown(at);
    let why = match chooser.finish().map(|(_, then)| then) {
        Some(AtTime::Version(v)) => return Ok(v.version_id),
        None => format!("{url} does not exist: no version of it, nor a delete marker"),
        Some(AtTime::Absent) => {
            format!("{url} was not there at {when}: it was deleted then, or written only later")
        }
        Some(AtTime::Unknown(v)) => format!(
            "{url} was written at {} with no version id (versioning off or suspended), so what \
             it held at {when} was not kept",
            v.object
                .last_modified
                .as_deref()
                .unwrap_or("an unknown time")
        ),
    };
    Err(Error::new(ErrorKind::Service, why))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_s3::ObjectInfo;

    fn v(key: &str, id: &str, at: &str, marker: bool) -> ObjectVersion {
        ObjectVersion {
            object: ObjectInfo {
                key: key.into(),
                size: 1,
                etag: (!marker).then(|| format!("\"{id}\"")),
                last_modified: Some(format!("2026-12-05T{at}Z")),
                storage_class: None,
            },
            version_id: id.into(),
            is_latest: false,
            delete_marker: marker,
        }
    }

    /// Each key's choice at 10:00: the newest version then, whatever the listing's order
    /// within the key; deleted then, or written only later, left out; a later `null` version
    /// unknown.
    #[test]
    fn each_key_has_the_version_current_at_the_time() {
        let at = SystemTime::from(time::macros::datetime!(2026-12-05 10:00 UTC));
        let listed = [
            v("a", "a3", "11:00:00", false),
            v("a", "a2", "10:00:00", false),
            v("a", "a1", "09:00:00", false),
            // Listed oldest first: the time decides.
            v("b", "b1", "08:00:00", false),
            v("b", "b2", "09:30:00", false),
            // Deleted before the time, written again after it.
            v("c", "c3", "10:30:00", false),
            v("c", "c2", "09:45:00", true),
            v("c", "c1", "09:00:00", false),
            // Written only after.
            v("d", "d1", "10:00:01", false),
            // Written after with no version id.
            v("e", "null", "12:00:00", false),
            // A delete marker before the time, its key never written again.
            v("f", "f2", "09:59:00", true),
            v("f", "f1", "09:00:00", false),
            // Written after with no version id, then with versioning on: the older one, with
            // none, replaced what it held then.
            v("g", "g2", "11:00:00", false),
            v("g", "null", "10:30:00", false),
            // The other way round: first written with versioning on, after the time.
            v("h", "null", "11:00:00", false),
            v("h", "h1", "10:30:00", false),
        ];
        let mut chooser = Chooser::new(at);
        let mut chosen = Vec::new();
        for version in listed {
            chosen.extend(chooser.push(version));
        }
        chosen.extend(chooser.finish());
        let said: Vec<(String, String)> = chosen
            .into_iter()
            .map(|(k, then)| {
                let then = match then {
                    AtTime::Version(v) => v.version_id,
                    AtTime::Absent => "absent".into(),
                    AtTime::Unknown(v) => format!("unknown {}", v.version_id),
                };
                (k, then)
            })
            .collect();
        let want = [
            ("a", "a2"),
            ("b", "b2"),
            ("c", "absent"),
            ("d", "absent"),
            ("e", "unknown null"),
            ("f", "absent"),
            ("g", "unknown null"),
            ("h", "absent"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(said, want);
        assert_eq!(chooser.finish(), None);
    }

    #[test]
    fn a_time_is_shown_in_whole_seconds() {
        let at = SystemTime::from(time::macros::datetime!(2026-12-05 10:00:00.75 UTC));
        assert_eq!(shown(at), "2026-12-05T10:00:00Z");
    }
}
