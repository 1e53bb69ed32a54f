//! The lifecycle worker: every [`crate::Options::lifecycle_interval`] one node (the holder of
//! the store's `lifecycle` lease) scans the buckets that have a lifecycle configuration, in
//! bounded batches, and applies what is due: AbortIncompleteMultipartUpload and Expiration
//! (Days / Date) of current objects. It only rescans, so a pass cut short (a crash, a stop, a
//! lost lease) is simply redone by the next one; each abort or delete stands alone and is
//! idempotent. It goes through the same paths as AbortMultipartUpload and DeleteObject, so
//! freed blobs are deleted as for those.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::lifecycle::LifecycleConfiguration;
use crate::records::{now_millis, ListAfter, Millis, WriteCondition};
use crate::tagging::TagSet;
use crate::tessera::{stopped, Tessera};

/// Name of the lease that elects the node doing lifecycle passes.
const LEASE_NAME: &str = "lifecycle";
/// Buckets read per listing.
const BUCKET_BATCH: usize = 100;
/// Uploads or objects read per listing.
const BATCH: usize = 1000;
/// Added to twice the interval to make the lease: the holder renews it well before it ends.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// What one lifecycle pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LifecycleReport {
    /// Buckets with a lifecycle configuration scanned.
    pub buckets: usize,
    /// Multipart uploads aborted.
    pub uploads_aborted: usize,
    /// Current objects deleted by Expiration.
    pub objects_expired: usize,
}

impl Tessera {
    /// Runs a lifecycle pass now and every [`crate::Options::lifecycle_interval`] until `stop`.
    pub(crate) async fn lifecycle_loop(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let holder = hex::encode(rand::random::<[u8; 16]>());
        // A zero interval would make `interval` panic: a pass a second at most.
        let period = self.options.lifecycle_interval.max(Duration::from_secs(1));
        let mut every = tokio::time::interval(period);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stopped(&mut stop) => break,
                _ = every.tick() => {}
            }
            // A pass cut short by a stop is harmless: the next start rescans.
            let result = tokio::select! {
                () = stopped(&mut stop) => break,
                r = self.lifecycle_pass(&holder) => r,
            };
            match result {
                Ok(Some(r)) if r.buckets > 0 => tracing::info!(
                    buckets = r.buckets,
                    uploads_aborted = r.uploads_aborted,
                    objects_expired = r.objects_expired,
                    "lifecycle pass done"
                ),
                Ok(Some(_)) => {}
                Ok(None) => tracing::debug!("another node holds the lifecycle lease"),
                Err(e) => tracing::warn!(error = %e, "lifecycle pass failed; the next one retries"),
            }
        }
    }

    /// Takes or renews the lifecycle lease for `holder`: `false` if another node holds it.
    async fn lifecycle_lease(&self, holder: &str) -> Result<bool> {
        let span = self.options.lifecycle_interval.saturating_mul(2) + LEASE_MARGIN;
        let now = now_millis();
        let until = now.saturating_add(i64::try_from(span.as_millis()).unwrap_or(i64::MAX));
        self.meta.try_lease(LEASE_NAME, holder, now, until).await
    }

    /// One lifecycle pass as `holder` (any id unique to this node): `None` if another node
    /// holds the lease. A bucket that fails is logged and skipped; the next pass retries it.
    pub async fn lifecycle_pass(&self, holder: &str) -> Result<Option<LifecycleReport>> {
        if !self.lifecycle_lease(holder).await? {
            return Ok(None);
        }
        let mut report = LifecycleReport::default();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .meta
                .list_buckets(after.as_deref(), BUCKET_BATCH)
                .await?;
            let full = page.len() >= BUCKET_BATCH;
            after = page.last().map(|b| b.name.clone());
            for bucket in page {
                let Some(config) = LifecycleConfiguration::of(&bucket) else {
                    continue;
                };
                // Renewed per bucket so a long pass keeps it; a lost lease ends the pass.
                if !self.lifecycle_lease(holder).await? {
                    return Ok(Some(report));
                }
                report.buckets += 1;
                let now = now_millis();
                if config.aborts_uploads() {
                    match self.abort_due_uploads(&bucket.name, &config, now).await {
                        Ok(n) => report.uploads_aborted += n,
                        Err(e) => {
                            tracing::warn!(bucket = %bucket.name, error = %e, "lifecycle: aborting uploads failed");
                        }
                    }
                }
                if config.expires_objects() {
                    match self.expire_due_objects(&bucket.name, &config, now).await {
                        Ok(n) => report.objects_expired += n,
                        Err(e) => {
                            tracing::warn!(bucket = %bucket.name, error = %e, "lifecycle: expiring objects failed");
                        }
                    }
                }
                // Versioning: NoncurrentVersionExpiration (NoncurrentDays counted from when a
                // version became noncurrent, keeping NewerNoncurrentVersions) and Expiration's
                // ExpiredObjectDeleteMarker (a delete marker that is the key's only version)
                // plug in here, as a third scan over the bucket's versions.
            }
            if !full {
                return Ok(Some(report));
            }
        }
    }

    /// Aborts the bucket's uploads whose abort date is at or before `now`; returns how many.
    async fn abort_due_uploads(
        &self,
        bucket: &str,
        config: &LifecycleConfiguration,
        now: Millis,
    ) -> Result<usize> {
        let day = self.options.lifecycle_day;
        let mut aborted = 0;
        let (mut after_key, mut after_id): (ListAfter, Option<String>) = (None, None);
        loop {
            let page = self
                .meta
                .list_uploads(bucket, "", after_key.clone(), after_id.as_deref(), BATCH)
                .await?;
            let full = page.len() >= BATCH;
            if let Some(last) = page.last() {
                after_key = Some(last.key.as_bytes().to_vec());
                after_id = Some(last.upload_id.clone());
            }
            for u in page {
                let due = config
                    .abort_date(&u.key, u.initiated, day)
                    .is_some_and(|(t, _)| t <= now);
                if !due {
                    continue;
                }
                match self.abort_upload(bucket, &u.key, &u.upload_id).await {
                    Ok(()) => aborted += 1,
                    // Completed or aborted meanwhile.
                    Err(Error::NoSuchUpload) => {}
                    Err(e) => return Err(e),
                }
            }
            if !full {
                return Ok(aborted);
            }
            // Requests share the store: let them in between batches.
            tokio::task::yield_now().await;
        }
    }

    /// Deletes the bucket's current objects whose expiration is at or before `now`, each only
    /// if it is still the object seen (same object id, then If-Match on its ETag: an object
    /// replaced meanwhile stays); returns how many.
    async fn expire_due_objects(
        &self,
        bucket: &str,
        config: &LifecycleConfiguration,
        now: Millis,
    ) -> Result<usize> {
        let day = self.options.lifecycle_day;
        // Objects have no tags yet: rules with tag predicates match none.
        let no_tags = TagSet::default();
        let mut expired = 0;
        let mut after: ListAfter = None;
        loop {
            let page = self
                .meta
                .list_objects(bucket, "", after.clone(), BATCH)
                .await?;
            let full = page.len() >= BATCH;
            if let Some(last) = page.last() {
                after = Some(last.key.as_bytes().to_vec());
            }
            for o in page {
                let due = config
                    .expiration(&o.key, o.size, &no_tags, o.last_modified, day)
                    .is_some_and(|(t, _)| t <= now);
                if !due {
                    continue;
                }
                // A replacement with the same bytes has the same ETag: skip it if the key now
                // holds another object. The If-Match then covers the rest of the window.
                let current = self.meta.get_object(bucket, &o.key).await?;
                if current.is_none_or(|c| c.object_id != o.object_id) {
                    continue;
                }
                let condition = WriteCondition {
                    if_match: Some(o.etag.clone()),
                    ..WriteCondition::default()
                };
                // Versioning: in a versioned bucket this must add a delete marker instead.
                match self.delete_object(bucket, &o.key, condition).await {
                    Ok(true) => expired += 1,
                    Ok(false) | Err(Error::PreconditionFailed | Error::NoSuchKey) => {}
                    Err(e) => return Err(e),
                }
            }
            if !full {
                return Ok(expired);
            }
            tokio::task::yield_now().await;
        }
    }
}
