//! The domain facade: every S3 operation as a call on [`Tessera`].

use std::sync::Arc;

use crate::blob::BlobStore;
use crate::error::{Error, Result};
use crate::leases::Leases;
use crate::meta::MetaStore;
use crate::names::validate_bucket_name;
use crate::records::{now_millis, BlobId, BucketRecord};

/// Domain settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// Minimum size of every multipart part but the last (S3: 5 MiB).
    pub min_part_size: u64,
    /// Region new buckets are created in.
    pub region: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            min_part_size: 5 * 1024 * 1024,
            region: "us-east-1".into(),
        }
    }
}

/// Buckets, objects and multipart uploads over a [`MetaStore`] and a [`BlobStore`].
/// Cloning is cheap (shared stores); clones are what detached write steps run on.
#[derive(Clone)]
pub struct Tessera {
    pub(crate) meta: Arc<dyn MetaStore>,
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) options: Options,
    /// Blobs being read, kept from deletion until their readers finish.
    pub(crate) leases: Leases,
}

/// How long a completed upload is remembered, so that a retried Complete gets the same answer.
pub const COMPLETED_RETENTION_MS: i64 = 24 * 3600 * 1000;

/// How many blob ids the start-up sweep checks per metadata query.
const SWEEP_BATCH: usize = 1000;

impl Tessera {
    /// Opens the domain over its stores and sweeps blobs that nothing references
    /// (left behind by a crash between writing a blob and committing its metadata).
    pub async fn open(
        meta: Arc<dyn MetaStore>,
        blobs: Arc<dyn BlobStore>,
        options: Options,
    ) -> Result<Self> {
        let leases = Leases::new(blobs.clone());
        let this = Self {
            meta,
            blobs,
            options,
            leases,
        };
        this.sweep().await?;
        this.spawn_completed_pruning();
        Ok(this)
    }

    /// Forgets completed uploads older than [`COMPLETED_RETENTION_MS`], now and every hour,
    /// so the records kept for retried Completes do not grow without bound.
    fn spawn_completed_pruning(&self) {
        let meta = self.meta.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                every.tick().await;
                match meta
                    .prune_completed_uploads(now_millis() - COMPLETED_RETENTION_MS)
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "forgot old completed uploads"),
                    Err(e) => tracing::warn!(error = %e, "could not prune completed uploads"),
                }
            }
        });
    }

    /// The settings in force.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Removes temporary files and committed blobs that no metadata references.
    /// Only safe while no request is in flight (at start-up).
    pub async fn sweep(&self) -> Result<usize> {
        self.blobs.clean_temporary().await?;
        let all = self.blobs.list().await?;
        let mut removed = 0;
        for batch in all.chunks(SWEEP_BATCH) {
            let referenced: std::collections::HashSet<BlobId> = self
                .meta
                .referenced_blobs(batch)
                .await?
                .into_iter()
                .collect();
            for id in batch.iter().filter(|id| !referenced.contains(*id)) {
                self.blobs.delete(id).await?;
                removed += 1;
            }
        }
        if removed > 0 {
            tracing::info!(removed, "swept blobs that no metadata references");
        }
        Ok(removed)
    }

    /// Runs `step` to completion on its own task, even if the caller is dropped meanwhile (a
    /// client that goes away): every step that commits a blob, writes metadata that frees
    /// blobs, or both, runs here, so that a cancelled request never leaves a blob that nothing
    /// references nor a freed blob undeleted.
    pub(crate) async fn run_detached<T, F, Fut>(&self, step: F) -> Result<T>
    where
        F: FnOnce(Tessera) -> Fut,
        Fut: std::future::Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        tokio::spawn(step(self.clone()))
            .await
            .map_err(|e| Error::Internal(format!("write task failed: {e}")))?
    }

    /// Deletes blobs that metadata no longer references, in the background.
    pub(crate) fn free_blobs(&self, ids: Vec<BlobId>) {
        self.leases.free(ids);
    }

    /// `NoSuchBucket` unless the bucket exists.
    pub(crate) async fn require_bucket(&self, name: &str) -> Result<BucketRecord> {
        self.meta.get_bucket(name).await?.ok_or(Error::NoSuchBucket)
    }

    /// CreateBucket.
    pub async fn create_bucket(&self, name: &str) -> Result<BucketRecord> {
        validate_bucket_name(name)?;
        let record = BucketRecord {
            name: name.to_string(),
            created: now_millis(),
            region: self.options.region.clone(),
        };
        self.meta.create_bucket(record.clone()).await?;
        Ok(record)
    }

    /// CreateBucket's `LocationConstraint`: the server's region; for `us-east-1` the empty
    /// constraint too (S3's name for that region).
    pub fn check_location_constraint(&self, location: &str) -> Result<()> {
        if location_constraint_allowed(&self.options.region, location) {
            Ok(())
        } else {
            Err(Error::InvalidLocationConstraint)
        }
    }

    /// HeadBucket / GetBucketLocation.
    pub async fn bucket(&self, name: &str) -> Result<BucketRecord> {
        self.require_bucket(name).await
    }

    /// ListBuckets: names after `after`, at most `limit`.
    pub async fn list_buckets(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<BucketRecord>> {
        self.meta.list_buckets(after, limit).await
    }

    /// ListBuckets with a name prefix: at most `limit` buckets named after `after` and starting
    /// with `prefix`; `true` when more follow.
    pub async fn list_buckets_page(
        &self,
        prefix: &str,
        mut after: Option<String>,
        limit: usize,
    ) -> Result<(Vec<BucketRecord>, bool)> {
        const BATCH: usize = 1000;
        let mut buckets = Vec::new();
        // Bucket names are few; page through them until `limit + 1` match the prefix.
        loop {
            let page = self.meta.list_buckets(after.as_deref(), BATCH).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.name.clone());
            let full = page.len() == BATCH;
            buckets.extend(page.into_iter().filter(|b| b.name.starts_with(prefix)));
            if buckets.len() > limit || !full {
                break;
            }
        }
        let truncated = buckets.len() > limit;
        buckets.truncate(limit);
        Ok((buckets, truncated))
    }

    /// DeleteBucket: only when it holds no object; in-progress uploads go with it.
    pub async fn delete_bucket(&self, name: &str) -> Result<()> {
        let name = name.to_string();
        self.run_detached(move |this| async move {
            let freed = this.meta.delete_bucket(&name).await?;
            this.free_blobs(freed);
            Ok(())
        })
        .await
    }
}

/// Whether a bucket may be created with `location` as its `LocationConstraint` on a server in
/// `region`: only its own region, and for `us-east-1` the empty constraint too.
pub fn location_constraint_allowed(region: &str, location: &str) -> bool {
    location == region || (region == "us-east-1" && location.is_empty())
}

#[cfg(test)]
mod tests {
    use super::location_constraint_allowed;

    #[test]
    fn location_constraints() {
        assert!(location_constraint_allowed("eu-west-1", "eu-west-1"));
        assert!(!location_constraint_allowed("eu-west-1", ""));
        assert!(!location_constraint_allowed("eu-west-1", "us-east-1"));
        assert!(location_constraint_allowed("us-east-1", ""));
        assert!(location_constraint_allowed("us-east-1", "us-east-1"));
    }
}
