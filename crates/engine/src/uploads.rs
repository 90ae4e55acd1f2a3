//! The multipart uploads in progress on a server: which of them a journal here resumes or a
//! plan of workers shares, and aborting the ones nobody will finish, their journals (or plan)
//! with them, never one a running transfer is sending.

use ferry_s3::{
    AbortMultipartUploadRequest, ListMultipartUploadsRequest, ListPartsRequest, ObjectClient,
    RequestOptions, list_all_parts, list_all_uploads,
};
use futures_util::StreamExt as _;

use crate::error::Error;
use crate::job::journal_error;
use crate::journal::{Journal, JournalHandle, JournalStore};
use crate::manager::Manager;

/// How many uploads' parts are listed at once.
const PARTS_LISTED_AT_ONCE: usize = 16;

/// A multipart upload in progress on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadInProgress {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// The upload id.
    pub upload_id: String,
    /// When it was created, as the server says (RFC 3339).
    pub initiated: Option<String>,
    /// Parts the server holds, and their bytes: `None` when listing them failed (a role
    /// without `s3:ListMultipartUploadParts`).
    pub held: Option<(u32, u64)>,
    /// The journal that resumes it here ([`Manager::resume`] takes it), if the manager's
    /// journal store has one.
    pub journal: Option<String>,
    /// The plan of workers that shares it out (`s3://…`, see [`Manager::plan_upload`]), when one
    /// lies beside the object (`KEY.ferry-plan`, where a plan goes unless told otherwise)
    /// and names this upload. A plan written elsewhere is not found.
    pub plan: Option<String>,
    /// The bucket's terms it was listed with (expected owner, requester pays), which
    /// [`Manager::abort`] sends again.
    pub request: RequestOptions,
}

/// What aborting an upload removed beside it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Aborted {
    /// The journal that would have resumed it here.
    pub journal: Option<String>,
    /// The plan of workers it belonged to (`s3://…`), removed with its workers' records.
    pub plan: Option<String>,
}

impl UploadInProgress {
    /// Seconds since it was created, by this machine's clock (`None` when the server gave no
    /// time it could read).
    pub fn age_secs(&self) -> Option<u64> {
        let t = time::OffsetDateTime::parse(
            self.initiated.as_deref()?,
            &time::format_description::well_known::Rfc3339,
        )
        .ok()?;
        let now = time::OffsetDateTime::now_utc();
        u64::try_from((now - t).whole_seconds()).ok()
    }
}

impl<C: ObjectClient> Manager<C> {
    /// The multipart uploads in progress in `bucket` (under `prefix`), each with the parts
    /// the server holds, and the journal that resumes it here or the plan that shares it
    /// between workers. Every request carries `request`'s bucket terms (expected owner,
    /// requester pays; an SSE-C key is not sent).
    pub async fn uploads(
        &self,
        bucket: &str,
        prefix: Option<&str>,
        request: &RequestOptions,
    ) -> Result<Vec<UploadInProgress>, Error> {
        let ctx = self.quiet_context(&self.cancel);
        let request = &request.bucket_terms();
        let req = ListMultipartUploadsRequest {
            bucket: bucket.to_string(),
            prefix: prefix.filter(|p| !p.is_empty()).map(str::to_string),
            request: request.clone(),
            ..Default::default()
        };
        let listed = ctx
            .request(None, |c| list_all_uploads(c, &req))
            .await
            .map_err(|f| {
                f.into_error(format!("listing the uploads in s3://{bucket}"), "listing")
            })?;
        let journals = self.journals_in(bucket);
        let (ctx, journals) = (&ctx, &journals);
        // Each upload's parts are a listing of their own: several at once, in order.
        let uploads = futures_util::stream::iter(listed)
            .map(|u| async move {
                let req = ListPartsRequest {
                    bucket: bucket.to_string(),
                    key: u.key.clone(),
                    upload_id: u.upload_id.clone(),
                    request: request.clone(),
                    ..Default::default()
                };
                let journal = journals
                    .iter()
                    .find(|(upload_id, _)| *upload_id == u.upload_id)
                    .map(|(_, id)| id.clone());
                let held = async {
                    let mut parts = ctx.request(None, |c| list_all_parts(c, &req)).await.ok()?;
                    parts.sort_by_key(|p| p.part_number);
                    parts.dedup_by_key(|p| p.part_number);
                    Some((parts.len() as u32, parts.iter().map(|p| p.size).sum()))
                };
                // (A journaled upload is this host's own, not a plan's.)
                let plan = async {
                    match journal {
                        Some(_) => None,
                        None => {
                            crate::shard::beside(ctx, bucket, &u.key, &u.upload_id, request).await
                        }
                    }
                };
                let (held, plan) = futures_util::join!(held, plan);
                UploadInProgress {
                    bucket: bucket.to_string(),
                    key: u.key,
                    upload_id: u.upload_id,
                    initiated: u.initiated,
                    held,
                    journal,
                    plan: plan.map(|p| p.url()),
                    request: request.clone(),
                }
            })
            .buffered(PARTS_LISTED_AT_ONCE)
            .collect()
            .await;
        Ok(uploads)
    }

    /// Aborts the multipart upload `upload_id` of `bucket`/`key` and removes the journal that
    /// would resume it. An upload a running transfer is sending (its journal locked by this
    /// or another process) is refused, and left as it is. An upload a plan shares between
    /// workers (the plan beside the object names it) is given up: the plan and its workers'
    /// records are removed with it, and workers still running fail. The abort carries
    /// `request`'s bucket terms, as [`uploads`](Self::uploads) says.
    pub async fn abort_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        request: &RequestOptions,
    ) -> Result<Aborted, Error> {
        let journal = self
            .journals_in(bucket)
            .into_iter()
            .find(|(u, _)| u == upload_id)
            .map(|(_, id)| id);
        let ctx = self.quiet_context(&self.cancel);
        let terms = request.bucket_terms();
        let plan = match journal {
            Some(_) => None,
            None => crate::shard::beside(&ctx, bucket, key, upload_id, &terms).await,
        };
        let journal = self
            .abort_with(bucket, key, upload_id, journal.as_deref(), &terms)
            .await?;
        if let Some(plan) = &plan {
            crate::shard::remove_plan(&ctx, plan, &terms).await;
        }
        let plan = plan.map(|p| p.url());
        Ok(Aborted { journal, plan })
    }

    /// As [`abort_upload`](Self::abort_upload), for an upload [`uploads`](Self::uploads)
    /// listed: its journal is the one the listing found, so aborting many reads the journal
    /// store once, not once each. An upload a plan shares between workers is refused (its
    /// workers may be sending parts on other hosts): [`abort_upload`](Self::abort_upload)
    /// gives it up.
    pub async fn abort(&self, upload: &UploadInProgress) -> Result<Aborted, Error> {
        if let Some(plan) = &upload.plan {
            return Err(Error::invalid(format!(
                "the upload belongs to the plan {plan}, whose workers may still be sending parts"
            )));
        }
        let journal = self
            .abort_with(
                &upload.bucket,
                &upload.key,
                &upload.upload_id,
                upload.journal.as_deref(),
                &upload.request.bucket_terms(),
            )
            .await?;
        Ok(Aborted {
            journal,
            plan: None,
        })
    }

    /// Aborts `upload_id` in the bucket's `terms` (no SSE-C key), holding and then removing
    /// the journal `journal` (if any).
    async fn abort_with(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        journal: Option<&str>,
        terms: &RequestOptions,
    ) -> Result<Option<String>, Error> {
        // Held, so no transfer starts on it while it is aborted.
        let journal: Option<Box<dyn JournalHandle>> = match (self.shared.journal.as_ref(), journal)
        {
            (Some(store), Some(id)) => Some(store.open(id).map_err(journal_error)?),
            _ => None,
        };
        let ctx = self.quiet_context(&self.cancel);
        let req = AbortMultipartUploadRequest {
            bucket: bucket.to_string(),
            key: key.to_string(),
            upload_id: upload_id.to_string(),
            request: terms.clone(),
        };
        ctx.request(None, |c| c.abort_multipart_upload(&req))
            .await
            .map_err(|f| {
                f.into_error(
                    format!("aborting the upload of s3://{bucket}/{key}"),
                    "abort",
                )
            })?;
        match journal {
            Some(j) => {
                let id = j.id().to_string();
                j.remove().map_err(journal_error)?;
                Ok(Some(id))
            }
            None => Ok(None),
        }
    }

    /// The uploads this manager's journal store holds journals of in `bucket` on this
    /// endpoint: (upload id, journal id).
    fn journals_in(&self, bucket: &str) -> Vec<(String, String)> {
        let Some(store) = self.shared.journal.as_deref() else {
            return Vec::new();
        };
        store_uploads(store)
            .filter(|(j, _)| {
                j.destination.endpoint == self.shared.endpoint && j.destination.bucket == bucket
            })
            .filter_map(|(j, id)| Some((j.upload?.upload_id, id)))
            .collect()
    }
}

/// Every journal in `store` that reads, with its id.
fn store_uploads(store: &dyn JournalStore) -> impl Iterator<Item = (Journal, String)> {
    store
        .list()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|id| Some((store.peek(&id).ok()??, id)))
}
