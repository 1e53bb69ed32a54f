//! The lifecycle worker: every [`crate::Options::lifecycle_interval`] one node (the holder of
//! the store's `lifecycle` lease) scans the buckets that have a lifecycle configuration, in
//! bounded batches, and applies what is due: AbortIncompleteMultipartUpload, Expiration
//! (Days / Date) of current objects (a delete marker in a versioned bucket), and over the
//! bucket's versions NoncurrentVersionExpiration and ExpiredObjectDeleteMarker. It only rescans, so a pass cut short (a crash, a stop, a
//! lost lease) is simply redone by the next one; each abort or delete stands alone and is
//! idempotent. It goes through the same paths as AbortMultipartUpload and DeleteObject, so
//! freed blobs are deleted as for those.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::lifecycle::LifecycleConfiguration;
use crate::records::{
    now_millis, BucketRecord, ListAfter, Millis, ObjectRecord, VersionCursor, WriteCondition,
};
use crate::tagging::{TagSet, TagTarget};
use crate::tessera::{stopped, Tessera};
use crate::versions::Versioning;

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
    /// Current objects deleted by Expiration (or given a delete marker, when versioned).
    pub objects_expired: usize,
    /// Noncurrent versions and expired delete markers removed.
    pub versions_removed: usize,
}

/// The tags of a stored version, as rules match them.
fn tags_of(o: &ObjectRecord) -> TagSet {
    TagSet::new(o.attrs.tags.clone(), TagTarget::Object).unwrap_or_default()
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
                    versions_removed = r.versions_removed,
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
                    match self.expire_due_objects(&bucket, &config, now).await {
                        Ok(n) => report.objects_expired += n,
                        Err(e) => {
                            tracing::warn!(bucket = %bucket.name, error = %e, "lifecycle: expiring objects failed");
                        }
                    }
                }
                if config.expires_versions() {
                    match self.expire_due_versions(&bucket.name, &config, now).await {
                        Ok(n) => report.versions_removed += n,
                        Err(e) => {
                            tracing::warn!(bucket = %bucket.name, error = %e, "lifecycle: expiring versions failed");
                        }
                    }
                }
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
        record: &BucketRecord,
        config: &LifecycleConfiguration,
        now: Millis,
    ) -> Result<usize> {
        let day = self.options.lifecycle_day;
        let bucket = record.name.as_str();
        let versioning = Versioning::of(record);
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
                    .expiration(&o.key, o.size, &tags_of(&o), o.last_modified, day)
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
                // Unversioned: exactly the version seen goes; versioned: a delete marker, owned
                // by the bucket owner, as S3's lifecycle does.
                let removed = match versioning {
                    Versioning::Unversioned => {
                        self.remove_version(bucket, &o.key, &o.version_id, condition)
                            .await
                    }
                    _ => self
                        .delete_object(bucket, &o.key, None, condition, None)
                        .await
                        .map(|_| true),
                };
                match removed {
                    Ok(true) => expired += 1,
                    // Replaced meanwhile, or under object lock (never removed by a rule).
                    Ok(false)
                    | Err(Error::PreconditionFailed | Error::NoSuchKey | Error::ObjectLocked) => {}
                    Err(e) => return Err(e),
                }
            }
            if !full {
                return Ok(expired);
            }
            tokio::task::yield_now().await;
        }
    }

    /// Removes one version (guarded by `condition`) and frees its blobs: whether it was
    /// removed (a version under object lock stays, as S3's lifecycle leaves it).
    async fn remove_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        condition: WriteCondition,
    ) -> Result<bool> {
        match self
            .meta
            .delete_object(bucket, key, version_id, condition)
            .await
        {
            Ok(Some((_, freed))) => {
                self.free_blobs(freed);
                Ok(true)
            }
            Ok(None) | Err(Error::ObjectLocked) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Removes the bucket's noncurrent versions whose NoncurrentVersionExpiration is due, and
    /// delete markers that are their key's only version when ExpiredObjectDeleteMarker or an
    /// Expiration Days they have outlived says so; returns how many. Versions are read newest first per key, so each one's successor
    /// (whose write made it noncurrent) is the entry before it.
    async fn expire_due_versions(
        &self,
        bucket: &str,
        config: &LifecycleConfiguration,
        now: Millis,
    ) -> Result<usize> {
        let day = self.options.lifecycle_day;
        let mut removed = 0;
        let mut cursor = VersionCursor::default();
        // The key being walked, its newer version's write time, its newer noncurrent count.
        let mut walk: Option<(String, Millis, usize)> = None;
        loop {
            let page = self
                .meta
                .list_versions(bucket, "", cursor.clone(), BATCH)
                .await?;
            let full = page.len() >= BATCH;
            if let Some(last) = page.last() {
                cursor = VersionCursor {
                    key: Some(last.object.key.as_bytes().to_vec()),
                    sequencer: Some(last.object.sequencer.clone()),
                };
            }
            for v in page {
                let o = &v.object;
                if v.is_latest {
                    walk = Some((o.key.clone(), o.last_modified, 0));
                    if o.delete_marker
                        && config.removes_expired_delete_marker(&o.key, o.last_modified, now, day)
                        && self.only_version(bucket, o).await?
                        && self
                            .remove_version(
                                bucket,
                                &o.key,
                                &o.version_id,
                                WriteCondition::default(),
                            )
                            .await?
                    {
                        removed += 1;
                    }
                    continue;
                }
                let Some((key, successor_written, newer)) = walk.as_mut() else {
                    continue;
                };
                if *key != o.key {
                    // A key whose current version was not seen (removed meanwhile): skip it.
                    continue;
                }
                let since = *successor_written;
                let newer_noncurrent = *newer;
                *successor_written = o.last_modified;
                *newer += 1;
                let due = config
                    .noncurrent_expiration(
                        &o.key,
                        o.size,
                        &tags_of(o),
                        since,
                        newer_noncurrent,
                        day,
                    )
                    .is_some_and(|(t, _)| t <= now);
                if due
                    && self
                        .remove_version(bucket, &o.key, &o.version_id, WriteCondition::default())
                        .await?
                {
                    removed += 1;
                }
            }
            if !full {
                return Ok(removed);
            }
            tokio::task::yield_now().await;
        }
    }

    /// Whether `marker` is the only version left of its key.
    async fn only_version(&self, bucket: &str, marker: &ObjectRecord) -> Result<bool> {
        let after = VersionCursor {
            key: Some(marker.key.as_bytes().to_vec()),
            sequencer: Some(marker.sequencer.clone()),
        };
        let next = self
            .meta
            .list_versions(bucket, &marker.key, after, 1)
            .await?;
        Ok(next.first().is_none_or(|n| n.object.key != marker.key))
    }
}
