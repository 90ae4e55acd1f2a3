//! The in-memory store's listings: pages of ListObjectsV2 as S3 gives them (a continuation
//! token, `start-after`, a delimiter's common prefixes), and, when a test asks, as a server
//! that ignores `start-after` or refuses it does.

use std::sync::atomic::Ordering;

use ferry_s3::{ListObjectsOutput, ListObjectsRequest, ObjectInfo, Result};

use super::{MemoryClient, service};

impl MemoryClient {
    /// From now on, lists as a server that does not know ListObjectsV2's `start-after` does:
    /// from the start of the prefix.
    pub fn ignore_start_after(&self) {
        self.ignores_start_after.store(true, Ordering::SeqCst);
    }

    /// From now on, refuses a listing that gives `start-after` (400 InvalidArgument), as a
    /// server that takes it for a bad argument might.
    pub fn refuse_start_after(&self) {
        self.refuses_start_after.store(true, Ordering::SeqCst);
    }

    /// One page of ListObjectsV2 of what the bucket holds (`op` names it in errors).
    pub(super) fn listing(
        &self,
        op: &'static str,
        req: &ListObjectsRequest,
    ) -> Result<ListObjectsOutput> {
        if req.start_after.is_some() && self.refuses_start_after.load(Ordering::SeqCst) {
            return Err(service(op, 400, "InvalidArgument"));
        }
        let st = self.state.lock().unwrap();
        let b = st
            .buckets
            .get(&req.bucket)
            .ok_or_else(|| service(op, 404, "NoSuchBucket"))?;
        let prefix = req.prefix.clone().unwrap_or_default();
        let max = req.max_keys.unwrap_or(1000).min(1000) as usize;
        let delimiter = req.delimiter.as_deref().filter(|d| !d.is_empty());
        // The token is opaque to clients: `k` and the last key listed, or `p` and the last
        // common prefix (the next page passes over every key it stands for).
        let token = req.continuation_token.as_deref().unwrap_or_default();
        let (mut after_key, mut after_prefix) = match token.split_at_checked(1) {
            Some(("k", key)) => (key.to_string(), None),
            Some(("p", p)) => (p.to_string(), Some(p.to_string())),
            // No token: from the start, or after `start_after` (any string).
            _ if self.ignores_start_after.load(Ordering::SeqCst) => (String::new(), None),
            _ => (req.start_after.clone().unwrap_or_default(), None),
        };
        let mut objects = Vec::new();
        let mut common_prefixes: Vec<String> = Vec::new();
        let mut more = false;
        for (k, s) in b.range(prefix.clone()..) {
            if !k.starts_with(&prefix) {
                break;
            }
            let passed = !after_key.is_empty() && k.as_str() <= after_key.as_str();
            if passed
                || after_prefix
                    .as_ref()
                    .is_some_and(|p| k.starts_with(p.as_str()))
            {
                continue;
            }
            if objects.len() + common_prefixes.len() == max {
                more = true;
                break;
            }
            match delimiter.and_then(|d| Some((d, k[prefix.len()..].find(d)?))) {
                Some((d, i)) => {
                    let p = k[..prefix.len() + i + d.len()].to_string();
                    after_prefix = Some(p.clone());
                    common_prefixes.push(p);
                }
                None => {
                    after_prefix = None;
                    objects.push(ObjectInfo {
                        key: k.clone(),
                        size: s.data.len() as u64,
                        etag: Some(s.etag.clone()),
                        last_modified: Some("2026-01-01T00:00:00.000Z".into()),
                        storage_class: Some(s.storage_class.clone().unwrap_or("STANDARD".into())),
                    });
                }
            }
            after_key.clone_from(k);
        }
        let next = match &after_prefix {
            Some(p) => format!("p{p}"),
            None => format!("k{after_key}"),
        };
        Ok(ListObjectsOutput {
            next_continuation_token: more.then_some(next),
            objects,
            common_prefixes,
        })
    }
}
