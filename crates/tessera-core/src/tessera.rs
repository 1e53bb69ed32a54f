//! The domain facade: every S3 operation as a call on [`Tessera`].

use std::sync::Arc;
use std::time::Duration;

use crate::blob::{BlobInfo, BlobStore, TempInfo};
use crate::error::{Error, Result};
use crate::leases::Leases;
use crate::meta::MetaStore;
use crate::names::validate_bucket_name;
use crate::records::{now_millis, BlobId, BucketRecord, BucketSetting, Millis};

/// Domain settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// Minimum size of every multipart part but the last (S3: 5 MiB).
    pub min_part_size: u64,
    /// Region new buckets are created in.
    pub region: String,
    /// The sweep removes unreferenced blobs and temporary leftovers only once they are older
    /// than this: a younger one may be another node's write between its blob and metadata
    /// commits. Zero is for tests and single nodes: the first sweep then takes everything
    /// older than [`Tessera::start_background`], later ones may take writes in flight.
    pub sweep_grace: Duration,
    /// Time between two background sweeps (the first runs at start).
    pub sweep_interval: Duration,
    /// The length of a lifecycle "day" (S3: 86400 s). Shorter days are for tests: due times
    /// then round up to a multiple of the day since the epoch instead of midnight UTC.
    pub lifecycle_day: Duration,
    /// Time between two passes of the lifecycle worker (the first runs at start).
    pub lifecycle_interval: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            min_part_size: 5 * 1024 * 1024,
            region: "us-east-1".into(),
            sweep_grace: DEFAULT_SWEEP_GRACE,
            sweep_interval: Duration::from_secs(3600),
            lifecycle_day: crate::lifecycle::STANDARD_DAY,
            lifecycle_interval: DEFAULT_LIFECYCLE_INTERVAL,
        }
    }
}

/// Default of [`Options::sweep_grace`]: far longer than any write between its blob commit
/// and its metadata commit.
pub const DEFAULT_SWEEP_GRACE: Duration = Duration::from_secs(3600);

/// Default of [`Options::lifecycle_interval`]: hourly, ample for rules counted in days.
pub const DEFAULT_LIFECYCLE_INTERVAL: Duration = Duration::from_secs(3600);

/// Buckets, objects and multipart uploads over a [`MetaStore`] and a [`BlobStore`].
/// Cloning is cheap (shared stores); clones are what detached write steps run on.
#[derive(Clone)]
pub struct Tessera {
    pub(crate) meta: Arc<dyn MetaStore>,
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) options: Options,
    /// Blobs being read, kept from deletion until their readers finish.
    pub(crate) leases: Leases,
    /// Resolved access keys and accounts, valid while the store's auth epoch holds.
    pub(crate) identities: Arc<crate::identities::IdentityCache>,
    /// Bucket policies parsed once per text.
    pub(crate) policies: Arc<crate::access::PolicyCache>,
    /// The SSE-S3 master key (see [`Tessera::with_master_key`]).
    pub(crate) master_key: Arc<crate::sse::MasterKey>,
    /// Names of the local KMS keys new SSE-KMS objects may use (see [`Tessera::with_kms_keys`]).
    pub(crate) kms_keys: Arc<std::collections::BTreeSet<String>>,
}

/// How long a completed upload is remembered, so that a retried Complete gets the same answer.
pub const COMPLETED_RETENTION_MS: i64 = 24 * 3600 * 1000;

/// How often completed-upload records are pruned.
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);

/// How many blob ids the sweep lists and checks per metadata query.
const SWEEP_BATCH: usize = 1000;

/// What a sweep removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Committed blobs no metadata referenced.
    pub blobs: usize,
    /// Temporary leftovers of writes that never committed.
    pub temporary: usize,
}

/// Blobs and temporary leftovers older than a cutoff that a sweep would remove.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unreferenced {
    pub blobs: Vec<BlobInfo>,
    pub temporary: Vec<TempInfo>,
    /// Committed blobs listed in all (referenced or not, any age).
    pub listed: usize,
}

/// The background work of one node: the sweep and the pruning of completed uploads.
/// [`Background::shutdown`] stops and joins it; dropping it stops the tasks without waiting.
pub struct Background {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: tokio::task::JoinSet<()>,
}

impl Background {
    /// Signals every task to stop and waits until they have all ended.
    pub async fn shutdown(mut self) {
        // The receivers may already be gone (a task ended): nothing to signal then.
        let _ = self.stop.send(true);
        while let Some(joined) = self.tasks.join_next().await {
            if let Err(e) = joined {
                tracing::warn!(error = %e, "a background task failed");
            }
        }
    }

    /// How many tasks are still running.
    pub fn running(&self) -> usize {
        self.tasks.len()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        // Without a shutdown the tasks are aborted rather than left running unowned.
        self.tasks.abort_all();
    }
}

/// Waits until `stop` says so (or its sender is gone).
pub(crate) async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    // An error means the sender is gone: stop too.
    let _ = stop.wait_for(|s| *s).await;
}

impl Tessera {
    /// Opens the domain over its stores. Nothing runs in the background until
    /// [`Tessera::start_background`].
    pub async fn open(
        meta: Arc<dyn MetaStore>,
        blobs: Arc<dyn BlobStore>,
        options: Options,
    ) -> Result<Self> {
        let leases = Leases::new(blobs.clone());
        Ok(Self {
            meta,
            blobs,
            options,
            leases,
            identities: Arc::default(),
            policies: Arc::default(),
            // A server passes its key file's key; without one (tests, tools) SSE-S3 objects
            // are readable only by this instance.
            master_key: Arc::new(crate::sse::MasterKey::generate()),
            kms_keys: Arc::default(),
        })
    }

    /// The domain with `key` as its SSE-S3 master key, which wraps every SSE-S3 object's
    /// data key: nodes sharing a store must use the same one.
    pub fn with_master_key(mut self, key: crate::sse::MasterKey) -> Self {
        self.master_key = Arc::new(key);
        self
    }

    /// The domain offering the local KMS keys `names` to new SSE-KMS objects (besides
    /// [`crate::sse::DEFAULT_KMS_KEY`]). Every key derives from the master key: objects
    /// written under a name stay readable if the name is later dropped from the list.
    pub fn with_kms_keys(mut self, names: impl IntoIterator<Item = String>) -> Self {
        self.kms_keys = Arc::new(names.into_iter().collect());
        self
    }

    /// Starts this node's background work: a sweep at once and every
    /// [`Options::sweep_interval`], the lifecycle worker every [`Options::lifecycle_interval`]
    /// (one node of those sharing the store at a time), and the hourly pruning of completed uploads older than
    /// [`COMPLETED_RETENTION_MS`] (kept for retried Completes, they would grow without bound).
    /// Call it inside a Tokio runtime, once per node; stop it with [`Background::shutdown`].
    pub fn start_background(&self) -> Background {
        let (stop, rx) = tokio::sync::watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();

        let this = self.clone();
        let mut stop_sweep = rx.clone();
        // The first sweep's cutoff is taken now, before this node accepts a request, so that
        // none of its writes can look old even with no grace at all.
        let mut first_cutoff = Some(Self::sweep_cutoff(self.options.sweep_grace));
        tasks.spawn(async move {
            // A zero interval would make `interval` panic: a sweep a second at most.
            let period = this.options.sweep_interval.max(Duration::from_secs(1));
            let mut every = tokio::time::interval(period);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stopped(&mut stop_sweep) => break,
                    _ = every.tick() => {}
                }
                // A sweep cut short by a stop is harmless: each deletion stands alone.
                tokio::select! {
                    () = stopped(&mut stop_sweep) => break,
                    r = this.sweep_before(first_cutoff.take().unwrap_or_else(|| {
                        Self::sweep_cutoff(this.options.sweep_grace)
                    })) => if let Err(e) = r {
                        tracing::warn!(error = %e, "blob sweep failed; the next one retries");
                    },
                }
            }
        });

        tasks.spawn(self.clone().lifecycle_loop(rx.clone()));

        let meta = self.meta.clone();
        let mut stop_prune = rx;
        tasks.spawn(async move {
            let mut every = tokio::time::interval(PRUNE_INTERVAL);
            loop {
                tokio::select! {
                    () = stopped(&mut stop_prune) => break,
                    _ = every.tick() => {}
                }
                let pruned = tokio::select! {
                    () = stopped(&mut stop_prune) => break,
                    r = meta.prune_completed_uploads(now_millis() - COMPLETED_RETENTION_MS) => r,
                };
                match pruned {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "forgot old completed uploads"),
                    Err(e) => tracing::warn!(error = %e, "could not prune completed uploads"),
                }
            }
        });
        Background { stop, tasks }
    }

    /// The settings in force.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The latest modification time a blob or leftover may have to be swept now.
    fn sweep_cutoff(grace: Duration) -> Millis {
        now_millis().saturating_sub(i64::try_from(grace.as_millis()).unwrap_or(i64::MAX))
    }

    /// Removes committed blobs that no metadata references and temporary leftovers, both only
    /// if last modified more than [`Options::sweep_grace`] before the sweep started (younger
    /// ones may be writes in progress, here or on another node). Pages through the listing.
    pub async fn sweep(&self) -> Result<SweepReport> {
        self.sweep_before(Self::sweep_cutoff(self.options.sweep_grace))
            .await
    }

    /// [`Tessera::sweep`] of what was last modified before `cutoff`.
    async fn sweep_before(&self, cutoff: Millis) -> Result<SweepReport> {
        let mut report = SweepReport::default();
        let mut after: Option<BlobId> = None;
        loop {
            let (unreferenced, next, _) = self.unreferenced_page(after.as_ref(), cutoff).await?;
            for info in unreferenced {
                // Read on this node since it was listed: its lease will free it if need be.
                if self.leases.is_leased(&info.id) {
                    continue;
                }
                self.blobs.delete(&info.id).await?;
                report.blobs += 1;
            }
            match next {
                Some(id) => after = Some(id),
                None => break,
            }
        }
        let mut after: Option<String> = None;
        loop {
            let (old, next) = self.temporary_page(after.as_deref(), cutoff).await?;
            for t in old {
                self.blobs.delete_temporary(&t.name).await?;
                report.temporary += 1;
            }
            match next {
                Some(name) => after = Some(name),
                None => break,
            }
        }
        if report != SweepReport::default() {
            tracing::info!(
                blobs = report.blobs,
                temporary = report.temporary,
                "swept unreferenced blobs and temporary leftovers"
            );
        }
        Ok(report)
    }

    /// What a sweep with `grace` would remove, without removing anything (a consistency
    /// check: run with no write in flight, grace zero lists every leak).
    pub async fn unreferenced(&self, grace: Duration) -> Result<Unreferenced> {
        let cutoff = Self::sweep_cutoff(grace);
        let mut out = Unreferenced::default();
        let mut after: Option<BlobId> = None;
        loop {
            let (mut page, next, listed) = self.unreferenced_page(after.as_ref(), cutoff).await?;
            out.blobs.append(&mut page);
            out.listed += listed;
            match next {
                Some(id) => after = Some(id),
                None => break,
            }
        }
        let mut after: Option<String> = None;
        loop {
            let (mut old, next) = self.temporary_page(after.as_deref(), cutoff).await?;
            out.temporary.append(&mut old);
            match next {
                Some(name) => after = Some(name),
                None => break,
            }
        }
        Ok(out)
    }

    /// Every committed blob, paged through the listing (a consistency check's view).
    pub async fn all_blobs(&self) -> Result<Vec<BlobInfo>> {
        let mut out: Vec<BlobInfo> = Vec::new();
        loop {
            let page = self
                .blobs
                .list(out.last().map(|b| &b.id), SWEEP_BATCH)
                .await?;
            let full = page.len() >= SWEEP_BATCH;
            out.extend(page);
            if !full {
                return Ok(out);
            }
        }
    }

    /// One page of committed blobs after `after`: those modified before `cutoff` that no
    /// metadata references, the cursor of the next page (`None` at the end), and how many
    /// were listed. Blobs are listed before metadata is read: a blob referenced before the
    /// listing is seen referenced.
    async fn unreferenced_page(
        &self,
        after: Option<&BlobId>,
        cutoff: Millis,
    ) -> Result<(Vec<BlobInfo>, Option<BlobId>, usize)> {
        let page = self.blobs.list(after, SWEEP_BATCH).await?;
        let listed = page.len();
        let next = (listed >= SWEEP_BATCH)
            .then(|| page.last().map(|b| b.id.clone()))
            .flatten();
        let old: Vec<BlobInfo> = page.into_iter().filter(|b| b.modified < cutoff).collect();
        if old.is_empty() {
            return Ok((old, next, listed));
        }
        let ids: Vec<BlobId> = old.iter().map(|b| b.id.clone()).collect();
        let referenced: std::collections::HashSet<BlobId> = self
            .meta
            .referenced_blobs(&ids)
            .await?
            .into_iter()
            .collect();
        let unreferenced = old
            .into_iter()
            .filter(|b| !referenced.contains(&b.id))
            .collect();
        Ok((unreferenced, next, listed))
    }

    /// One page of temporary leftovers after `after`: those modified before `cutoff`, and
    /// the cursor of the next page (`None` at the end).
    async fn temporary_page(
        &self,
        after: Option<&str>,
        cutoff: Millis,
    ) -> Result<(Vec<TempInfo>, Option<String>)> {
        let page = self.blobs.list_temporary(after, SWEEP_BATCH).await?;
        let next = (page.len() >= SWEEP_BATCH)
            .then(|| page.last().map(|t| t.name.clone()))
            .flatten();
        let old = page.into_iter().filter(|t| t.modified < cutoff).collect();
        Ok((old, next))
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

    /// CreateBucket, owned by account `owner`: `BucketAlreadyOwnedByYou` if it has the name
    /// already (in `us-east-1`: success, see [`Tessera::create_bucket_with`]),
    /// `BucketAlreadyExists` if another account has.
    pub async fn create_bucket(&self, name: &str, owner: &str) -> Result<BucketRecord> {
        self.create_bucket_with(name, owner, Vec::new()).await
    }

    /// CreateBucket with its first settings (an ACL, an ownership setting) made with it.
    /// Re-creating a bucket its owner already has is `BucketAlreadyOwnedByYou`, except in
    /// `us-east-1`, where S3 answers 200 for legacy compatibility and resets the bucket's ACL
    /// to the one the request asks for.
    pub async fn create_bucket_with(
        &self,
        name: &str,
        owner: &str,
        settings: Vec<(BucketSetting, String)>,
    ) -> Result<BucketRecord> {
        validate_bucket_name(name)?;
        let record = BucketRecord {
            name: name.to_string(),
            created: now_millis(),
            region: self.options.region.clone(),
            owner: owner.to_string(),
            settings: settings
                .into_iter()
                .map(|(k, v)| (k.as_str().to_owned(), v))
                .collect(),
        };
        match self.meta.create_bucket(record.clone()).await {
            Err(Error::BucketAlreadyOwnedByYou) => match self.meta.get_bucket(name).await? {
                Some(b) if b.owner != owner => Err(Error::BucketAlreadyExists),
                Some(b) if self.options.region == "us-east-1" => {
                    let acl = record.settings.get(BucketSetting::Acl.as_str()).cloned();
                    self.meta
                        .put_bucket_setting(name, BucketSetting::Acl, acl)
                        .await?;
                    Ok(b)
                }
                _ => Err(Error::BucketAlreadyOwnedByYou),
            },
            other => other.map(|()| record),
        }
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

    /// ListBuckets with a name prefix: at most `limit` buckets of account `owner` named after
    /// `after` and starting with `prefix`; `true` when more follow.
    pub async fn list_buckets_page(
        &self,
        owner: &str,
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
            buckets.extend(
                page.into_iter()
                    .filter(|b| b.owner == owner && b.name.starts_with(prefix)),
            );
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
