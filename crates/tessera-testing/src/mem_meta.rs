//! [`MemMetaStore`]: a complete [`MetaStore`] held in memory.
//!
//! For tests (the domain's own tests, the S3 adapter's tests) and for a no-disk mode; not a
//! production store: nothing survives the process. It has exactly the semantics of the trait
//! docs and of the SQLite store, and passes the whole conformance suite
//! (`tests/mem_meta.rs`). Every method takes one lock over the whole state and does all its
//! checks before its first change, so each call is atomic and a failed call changes nothing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use tessera_core::accounts::{
    policy_size, AccessKey, Account, KeyOwner, KeyStatus, KeyUse, User, UserPolicy,
    MAX_KEYS_PER_USER, MAX_USER_POLICY_CHARS,
};
use tessera_core::{
    now_millis, BlobId, BucketRecord, BucketSetting, CompleteRequest, CompletedUpload, Error,
    ListAfter, ListedVersion, MetaStore, Millis, ObjectRecord, ObjectUpdate, PartRecord, Result,
    Segment, UploadRecord, VersionCursor, WriteCondition, NULL_VERSION,
};

/// An in-memory [`MetaStore`]. Clones share the same state, so a clone is the same store
/// "opened again".
#[derive(Clone, Default)]
pub struct MemMetaStore {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    buckets: BTreeMap<String, BucketRecord>,
    /// Versions per bucket, by key bytes (the order S3 lists in), then by sequencer (newest
    /// first: the first is the key's current version).
    objects: HashMap<String, BTreeMap<Vec<u8>, BTreeMap<String, ObjectRecord>>>,
    /// Segments per object id, by part number.
    segments: HashMap<String, BTreeMap<u32, Segment>>,
    uploads: HashMap<String, UploadRecord>,
    /// Parts per upload id, by part number.
    parts: HashMap<String, BTreeMap<u32, PartRecord>>,
    completed: HashMap<String, CompletedUpload>,
    auth_epoch: u64,
    /// In creation order.
    accounts: Vec<Account>,
    /// By (account id, lowercased name).
    users: BTreeMap<(String, String), User>,
    /// By key id, with a creation sequence for listing oldest first.
    keys: BTreeMap<String, (u64, AccessKey)>,
    key_seq: u64,
    /// By (account id, lowercased user name, policy name).
    policies: BTreeMap<(String, String, String), UserPolicy>,
    /// Named leases: (holder, until).
    leases: HashMap<String, (String, Millis)>,
}

impl MemMetaStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>> {
        // A panic while the lock was held may have left a half-made change: refuse to go on.
        self.state
            .lock()
            .map_err(|_| Error::Internal("in-memory metadata store lock poisoned".into()))
    }
}

impl State {
    fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.id == id)
    }

    fn user_keys(&self, account_id: &str, name: &str) -> usize {
        self.keys
            .values()
            .filter(|(_, k)| {
                k.owner.account_id() == account_id
                    && k.owner
                        .user_name()
                        .is_some_and(|u| u.eq_ignore_ascii_case(name))
            })
            .count()
    }

    fn user_policies(&self, account_id: &str, name: &str) -> Vec<UserPolicy> {
        let lower = name.to_ascii_lowercase();
        self.policies
            .iter()
            .filter(|((a, u, _), _)| a == account_id && *u == lower)
            .map(|(_, p)| p.clone())
            .collect()
    }

    fn insert_key(&mut self, key: AccessKey) {
        self.key_seq += 1;
        self.keys
            .insert(key.access_key_id.clone(), (self.key_seq, key));
    }
    /// The versions of bucket/key, newest first.
    fn versions(&self, bucket: &str, key: &str) -> Option<&BTreeMap<String, ObjectRecord>> {
        self.objects.get(bucket)?.get(key.as_bytes())
    }

    /// The current version of bucket/key.
    fn current(&self, bucket: &str, key: &str) -> Option<&ObjectRecord> {
        self.versions(bucket, key)?.values().next()
    }

    /// The ETag a write condition sees: none when the current version is a delete marker.
    fn current_etag(&self, bucket: &str, key: &str) -> Option<&str> {
        self.current(bucket, key)
            .filter(|o| !o.delete_marker)
            .map(|o| o.etag.as_str())
    }

    fn find_version(&self, bucket: &str, key: &str, version_id: &str) -> Option<&ObjectRecord> {
        self.versions(bucket, key)?
            .values()
            .find(|o| o.version_id == version_id)
    }

    /// Removes the version `version_id` of bucket/key and its segments; returns it and the
    /// segments' blobs in part-number order.
    fn remove_version(
        &mut self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Option<(ObjectRecord, Vec<BlobId>)> {
        let sequencer = self
            .find_version(bucket, key, version_id)?
            .sequencer
            .clone();
        let keys = self.objects.get_mut(bucket)?;
        let versions = keys.get_mut(key.as_bytes())?;
        let removed = versions.remove(&sequencer)?;
        if versions.is_empty() {
            keys.remove(key.as_bytes());
        }
        let segments = self.segments.remove(&removed.object_id).unwrap_or_default();
        Some((removed, segments.into_values().map(|s| s.blob).collect()))
    }

    /// Refuses the removal of a version under Object Lock (a missing version is removable).
    fn check_removable(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        bypass: bool,
    ) -> Result<()> {
        match self.find_version(bucket, key, version_id) {
            Some(o) if o.attrs.removal_blocked(now_millis(), bypass) => Err(Error::ObjectLocked),
            _ => Ok(()),
        }
    }

    /// Refuses a write that would replace a locked `null` version.
    fn check_replaceable(&self, object: &ObjectRecord) -> Result<()> {
        if object.version_id == NULL_VERSION {
            self.check_removable(&object.bucket, &object.key, NULL_VERSION, false)?;
        }
        Ok(())
    }

    /// Stores `object` as a version of its key (replacing the `null` version if it is one);
    /// returns the replaced version's blobs minus any the new segments reuse.
    fn place_version(&mut self, object: ObjectRecord, segments: Vec<Segment>) -> Vec<BlobId> {
        let mut freed = Vec::new();
        if object.version_id == NULL_VERSION {
            if let Some((_, blobs)) = self.remove_version(&object.bucket, &object.key, NULL_VERSION)
            {
                freed = blobs;
            }
        }
        let kept: HashSet<&BlobId> = segments.iter().map(|s| &s.blob).collect();
        freed.retain(|b| !kept.contains(b));
        self.segments.insert(
            object.object_id.clone(),
            segments.into_iter().map(|s| (s.part_number, s)).collect(),
        );
        self.objects
            .entry(object.bucket.clone())
            .or_default()
            .entry(object.key.as_bytes().to_vec())
            .or_default()
            .insert(object.sequencer.clone(), object);
        freed
    }

    /// Removes the upload and its parts; returns the parts' blobs in part-number order.
    fn remove_upload(&mut self, upload_id: &str) -> Option<Vec<BlobId>> {
        self.uploads.remove(upload_id)?;
        let parts = self.parts.remove(upload_id).unwrap_or_default();
        Some(parts.into_values().map(|p| p.blob).collect())
    }
}

/// Whether `segment` intersects `[from, to)`; an empty segment counts as the point at its
/// offset (so an empty object's segment is found by `[0, 1)`).
fn intersects(segment: &Segment, from: u64, to: u64) -> bool {
    segment.offset < to
        && (segment.offset.saturating_add(segment.size) > from
            || (segment.size == 0 && segment.offset >= from))
}

/// Where `list_uploads` resumes within the marker key.
enum ResumeAfter {
    /// After every upload of the key.
    Key,
    /// After the marker upload, by `(initiated, upload_id)`.
    Upload(Millis, String),
    /// The marker upload is gone: S3's documented rule, upload ids greater than the marker.
    UploadId(String),
}

#[async_trait]
impl MetaStore for MemMetaStore {
    async fn create_bucket(&self, bucket: BucketRecord) -> Result<()> {
        let mut state = self.lock()?;
        if state.buckets.contains_key(&bucket.name) {
            return Err(Error::BucketAlreadyOwnedByYou);
        }
        state.buckets.insert(bucket.name.clone(), bucket);
        Ok(())
    }

    async fn get_bucket(&self, name: &str) -> Result<Option<BucketRecord>> {
        Ok(self.lock()?.buckets.get(name).cloned())
    }

    async fn epoch_and_bucket(&self, bucket: Option<&str>) -> Result<(u64, Option<BucketRecord>)> {
        let state = self.lock()?;
        Ok((
            state.auth_epoch,
            bucket.and_then(|b| state.buckets.get(b).cloned()),
        ))
    }

    async fn list_buckets(&self, after: Option<&str>, limit: usize) -> Result<Vec<BucketRecord>> {
        let state = self.lock()?;
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(state
            .buckets
            .range::<str, _>((lower, Bound::Unbounded))
            .take(limit)
            .map(|(_, b)| b.clone())
            .collect())
    }

    async fn put_bucket_setting(
        &self,
        bucket: &str,
        setting: BucketSetting,
        value: Option<String>,
    ) -> Result<()> {
        let mut state = self.lock()?;
        let b = state.buckets.get_mut(bucket).ok_or(Error::NoSuchBucket)?;
        match value {
            Some(v) => b.settings.insert(setting.as_str().to_owned(), v),
            None => b.settings.remove(setting.as_str()),
        };
        Ok(())
    }

    async fn delete_bucket(&self, name: &str) -> Result<Vec<BlobId>> {
        let mut state = self.lock()?;
        if !state.buckets.contains_key(name) {
            return Err(Error::NoSuchBucket);
        }
        if state.objects.get(name).is_some_and(|o| !o.is_empty()) {
            return Err(Error::BucketNotEmpty);
        }
        let mut uploads: Vec<(Vec<u8>, Millis, String)> = state
            .uploads
            .values()
            .filter(|u| u.bucket == name)
            .map(|u| (u.key.as_bytes().to_vec(), u.initiated, u.upload_id.clone()))
            .collect();
        uploads.sort();
        let mut freed = Vec::new();
        for (_, _, upload_id) in uploads {
            freed.extend(state.remove_upload(&upload_id).unwrap_or_default());
        }
        state.completed.retain(|_, c| c.bucket != name);
        state.objects.remove(name);
        state.buckets.remove(name);
        Ok(freed)
    }

    async fn put_object(
        &self,
        object: ObjectRecord,
        segments: Vec<Segment>,
        condition: WriteCondition,
    ) -> Result<Vec<BlobId>> {
        let mut state = self.lock()?;
        if !state.buckets.contains_key(&object.bucket) {
            return Err(Error::NoSuchBucket);
        }
        condition.check(state.current_etag(&object.bucket, &object.key))?;
        state.check_replaceable(&object)?;
        Ok(state.place_version(object, segments))
    }

    async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>> {
        Ok(self.lock()?.current(bucket, key).cloned())
    }

    async fn get_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<Option<ObjectRecord>> {
        Ok(self.lock()?.find_version(bucket, key, version_id).cloned())
    }

    async fn update_object(
        &self,
        bucket: &str,
        key: &str,
        object_id: &str,
        update: ObjectUpdate,
    ) -> Result<()> {
        let mut state = self.lock()?;
        let version = state
            .objects
            .get_mut(bucket)
            .and_then(|keys| keys.get_mut(key.as_bytes()))
            .and_then(|versions| versions.values_mut().find(|o| o.object_id == object_id))
            .ok_or(Error::NoSuchKey)?;
        match update {
            ObjectUpdate::Acl(acl) => version.acl = acl,
            ObjectUpdate::Tags(tags) => version.attrs.tags = tags,
            ObjectUpdate::Retention(change) => {
                version.attrs.change_retention(&change, now_millis())?
            }
            ObjectUpdate::LegalHold(on) => version.attrs.legal_hold = Some(on),
        }
        Ok(())
    }

    async fn get_segments(&self, object_id: &str, from: u64, to: u64) -> Result<Vec<Segment>> {
        if from >= to {
            return Ok(Vec::new());
        }
        let state = self.lock()?;
        let mut out: Vec<Segment> = state
            .segments
            .get(object_id)
            .into_iter()
            .flat_map(BTreeMap::values)
            .filter(|s| intersects(s, from, to))
            .cloned()
            .collect();
        out.sort_by_key(|s| (s.offset, s.part_number));
        Ok(out)
    }

    async fn get_segment(&self, object_id: &str, part_number: u32) -> Result<Option<Segment>> {
        let state = self.lock()?;
        Ok(state
            .segments
            .get(object_id)
            .and_then(|segments| segments.get(&part_number))
            .cloned())
    }

    async fn list_segments(
        &self,
        object_id: &str,
        after: u32,
        limit: usize,
    ) -> Result<Vec<Segment>> {
        let state = self.lock()?;
        Ok(state
            .segments
            .get(object_id)
            .into_iter()
            .flat_map(|segments| segments.range((Bound::Excluded(after), Bound::Unbounded)))
            .take(limit)
            .map(|(_, s)| s.clone())
            .collect())
    }

    async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        condition: WriteCondition,
    ) -> Result<Option<(ObjectRecord, Vec<BlobId>)>> {
        let mut state = self.lock()?;
        // `If-None-Match` means nothing to a delete.
        let condition = WriteCondition {
            if_none_match_any: false,
            ..condition
        };
        let etag = state
            .find_version(bucket, key, version_id)
            .filter(|o| !o.delete_marker)
            .map(|o| o.etag.as_str());
        condition.check(etag)?;
        state.check_removable(bucket, key, version_id, condition.bypass_governance)?;
        Ok(state.remove_version(bucket, key, version_id))
    }

    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        after: ListAfter,
        limit: usize,
    ) -> Result<Vec<ObjectRecord>> {
        let state = self.lock()?;
        if !state.buckets.contains_key(bucket) {
            return Err(Error::NoSuchBucket);
        }
        let Some(objects) = state.objects.get(bucket) else {
            return Ok(Vec::new());
        };
        let prefix = prefix.as_bytes();
        // Keys under the prefix sort together from the prefix on; start at the later bound.
        let lower = match after {
            Some(after) if after.as_slice() >= prefix => Bound::Excluded(after),
            _ => Bound::Included(prefix.to_vec()),
        };
        Ok(objects
            .range((lower, Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix))
            .filter_map(|(_, versions)| versions.values().next().filter(|o| !o.delete_marker))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        after: VersionCursor,
        limit: usize,
    ) -> Result<Vec<ListedVersion>> {
        let state = self.lock()?;
        if !state.buckets.contains_key(bucket) {
            return Err(Error::NoSuchBucket);
        }
        let Some(objects) = state.objects.get(bucket) else {
            return Ok(Vec::new());
        };
        let prefix = prefix.as_bytes();
        let (lower, within) = match after.key {
            Some(k) if k.as_slice() >= prefix => match after.sequencer {
                Some(seq) => (Bound::Included(k), Some(seq)),
                None => (Bound::Excluded(k), None),
            },
            _ => (Bound::Included(prefix.to_vec()), None),
        };
        let mut out = Vec::new();
        for (i, (key, versions)) in objects
            .range((lower, Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix))
            .enumerate()
        {
            let _ = key;
            for (j, (seq, o)) in versions.iter().enumerate() {
                // Within the cursor's own key: only versions older than its sequencer.
                if i == 0 && within.as_ref().is_some_and(|w| seq <= w) {
                    continue;
                }
                if out.len() == limit {
                    return Ok(out);
                }
                out.push(ListedVersion {
                    object: o.clone(),
                    is_latest: j == 0,
                });
            }
        }
        Ok(out)
    }

    async fn create_upload(&self, upload: UploadRecord) -> Result<()> {
        let mut state = self.lock()?;
        if !state.buckets.contains_key(&upload.bucket) {
            return Err(Error::NoSuchBucket);
        }
        if state.uploads.contains_key(&upload.upload_id) {
            return Err(Error::Internal(format!(
                "upload id {} is already in use",
                upload.upload_id
            )));
        }
        state.uploads.insert(upload.upload_id.clone(), upload);
        Ok(())
    }

    async fn get_upload(&self, upload_id: &str) -> Result<Option<UploadRecord>> {
        Ok(self.lock()?.uploads.get(upload_id).cloned())
    }

    async fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        after_key: ListAfter,
        after_upload_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<UploadRecord>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let state = self.lock()?;
        let prefix = prefix.as_bytes();
        // An empty upload id marker is taken as none: after every upload of `after_key`.
        let after_upload_id = after_upload_id.filter(|u| !u.is_empty());
        // A marker key below the prefix skips nothing under it.
        let marker = after_key.filter(|k| k.as_slice() >= prefix).map(|key| {
            let resume = match after_upload_id {
                None => ResumeAfter::Key,
                Some(id) => match state.uploads.get(id) {
                    Some(u) if u.bucket == bucket && u.key.as_bytes() == key.as_slice() => {
                        ResumeAfter::Upload(u.initiated, id.to_owned())
                    }
                    _ => ResumeAfter::UploadId(id.to_owned()),
                },
            };
            (key, resume)
        });
        let mut out: Vec<&UploadRecord> = state
            .uploads
            .values()
            .filter(|u| u.bucket == bucket && u.key.as_bytes().starts_with(prefix))
            .filter(|u| match &marker {
                None => true,
                Some((key, resume)) => {
                    let k = u.key.as_bytes();
                    k > key.as_slice()
                        || (k == key.as_slice()
                            && match resume {
                                ResumeAfter::Key => false,
                                ResumeAfter::Upload(initiated, id) => {
                                    (u.initiated, u.upload_id.as_str()) > (*initiated, id.as_str())
                                }
                                ResumeAfter::UploadId(id) => u.upload_id.as_str() > id.as_str(),
                            })
                }
            })
            .collect();
        out.sort_by(|a, b| {
            (a.key.as_bytes(), a.initiated, &a.upload_id).cmp(&(
                b.key.as_bytes(),
                b.initiated,
                &b.upload_id,
            ))
        });
        Ok(out.into_iter().take(limit).cloned().collect())
    }

    async fn put_part(&self, upload_id: &str, part: PartRecord) -> Result<Option<BlobId>> {
        let mut state = self.lock()?;
        if !state.uploads.contains_key(upload_id) {
            return Err(Error::NoSuchUpload);
        }
        let blob = part.blob.clone();
        let old = state
            .parts
            .entry(upload_id.to_owned())
            .or_default()
            .insert(part.part_number, part);
        // The same blob stored again stays referenced: not freed.
        Ok(old.map(|p| p.blob).filter(|b| *b != blob))
    }

    async fn list_parts(
        &self,
        upload_id: &str,
        after: u32,
        limit: usize,
    ) -> Result<Vec<PartRecord>> {
        let state = self.lock()?;
        Ok(state
            .parts
            .get(upload_id)
            .into_iter()
            .flat_map(|parts| parts.range((Bound::Excluded(after), Bound::Unbounded)))
            .take(limit)
            .map(|(_, p)| p.clone())
            .collect())
    }

    async fn complete_upload(&self, request: CompleteRequest) -> Result<Vec<BlobId>> {
        let CompleteRequest {
            upload_id,
            object,
            segments,
            condition,
        } = request;
        let mut state = self.lock()?;
        let Some(upload) = state.uploads.get(&upload_id) else {
            return Err(Error::NoSuchUpload);
        };
        if upload.bucket != object.bucket || upload.key != object.key {
            return Err(Error::Internal(format!(
                "complete of upload {upload_id} names another bucket/key than the upload's"
            )));
        }
        condition.check(state.current_etag(&object.bucket, &object.key))?;
        state.check_replaceable(&object)?;
        let parts = state.parts.get(&upload_id);
        for s in &segments {
            let current = parts.and_then(|p| p.get(&s.part_number)).map(|p| &p.blob);
            if current != Some(&s.blob) {
                return Err(Error::Conflict);
            }
        }
        // Every check passed: from here on nothing fails.
        let record = CompletedUpload {
            upload_id: upload_id.clone(),
            bucket: object.bucket.clone(),
            key: object.key.clone(),
            etag: object.etag.clone(),
            checksum: object.checksum.clone(),
            completed: now_millis(),
            version_id: object.version_id.clone(),
        };
        let used: HashSet<BlobId> = segments.iter().map(|s| s.blob.clone()).collect();
        let mut freed = state.place_version(object, segments);
        let parts = state.remove_upload(&upload_id).unwrap_or_default();
        freed.extend(parts.into_iter().filter(|b| !used.contains(b)));
        state.completed.insert(upload_id, record);
        Ok(freed)
    }

    async fn get_completed_upload(&self, upload_id: &str) -> Result<Option<CompletedUpload>> {
        Ok(self.lock()?.completed.get(upload_id).cloned())
    }

    async fn prune_completed_uploads(&self, before: Millis) -> Result<u64> {
        let mut state = self.lock()?;
        let was = state.completed.len();
        state.completed.retain(|_, c| c.completed >= before);
        Ok(u64::try_from(was - state.completed.len()).unwrap_or(u64::MAX))
    }

    async fn abort_upload(&self, upload_id: &str) -> Result<Vec<BlobId>> {
        self.lock()?
            .remove_upload(upload_id)
            .ok_or(Error::NoSuchUpload)
    }

    async fn referenced_blobs(&self, candidates: &[BlobId]) -> Result<Vec<BlobId>> {
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let state = self.lock()?;
        let referenced: HashSet<&BlobId> = state
            .segments
            .values()
            .flat_map(|s| s.values().map(|s| &s.blob))
            .chain(
                state
                    .parts
                    .values()
                    .flat_map(|p| p.values().map(|p| &p.blob)),
            )
            .collect();
        let mut seen = HashSet::new();
        Ok(candidates
            .iter()
            .filter(|b| seen.insert(*b) && referenced.contains(b))
            .cloned()
            .collect())
    }

    async fn auth_epoch(&self) -> Result<u64> {
        Ok(self.lock()?.auth_epoch)
    }

    async fn create_account(&self, account: Account, root_key: Option<AccessKey>) -> Result<()> {
        let mut state = self.lock()?;
        if state
            .accounts
            .iter()
            .any(|a| a.id == account.id || a.name == account.name)
        {
            return Err(Error::EntityAlreadyExists(format!(
                "an account named {} or with id {} exists",
                account.name, account.id
            )));
        }
        if let Some(k) = &root_key {
            if state.keys.contains_key(&k.access_key_id) {
                return Err(Error::EntityAlreadyExists(format!(
                    "access key {} exists",
                    k.access_key_id
                )));
            }
        }
        state.accounts.push(account);
        if let Some(k) = root_key {
            state.insert_key(k);
        }
        state.auth_epoch += 1;
        Ok(())
    }

    async fn list_accounts(&self) -> Result<Vec<Account>> {
        Ok(self.lock()?.accounts.clone())
    }

    async fn delete_account(&self, account_id: &str) -> Result<()> {
        let mut state = self.lock()?;
        if state.account(account_id).is_none() {
            return Err(Error::NoSuchEntity(format!("no account {account_id}")));
        }
        if state.buckets.values().any(|b| b.owner == account_id) {
            return Err(Error::DeleteConflict(format!(
                "account {account_id} still owns buckets"
            )));
        }
        state.accounts.retain(|a| a.id != account_id);
        state.users.retain(|(a, _), _| a != account_id);
        state
            .keys
            .retain(|_, (_, k)| k.owner.account_id() != account_id);
        state.policies.retain(|(a, _, _), _| a != account_id);
        state.auth_epoch += 1;
        Ok(())
    }

    async fn set_root_key(&self, key: AccessKey) -> Result<()> {
        let mut state = self.lock()?;
        let account_id = key.owner.account_id().to_owned();
        if state.account(&account_id).is_none() || key.owner.user_name().is_some() {
            return Err(Error::NoSuchEntity(format!("no account {account_id}")));
        }
        if let Some((_, other)) = state.keys.get(&key.access_key_id) {
            if other.owner != key.owner {
                return Err(Error::EntityAlreadyExists(format!(
                    "access key {} belongs to another user",
                    key.access_key_id
                )));
            }
        }
        let owner = key.owner.clone();
        state.keys.retain(|_, (_, k)| k.owner != owner);
        state.insert_key(key);
        state.auth_epoch += 1;
        Ok(())
    }

    async fn create_user(&self, user: User) -> Result<()> {
        let mut state = self.lock()?;
        if state.account(&user.account_id).is_none() {
            return Err(Error::NoSuchEntity(format!(
                "no account {}",
                user.account_id
            )));
        }
        let id = (user.account_id.clone(), user.name.to_ascii_lowercase());
        if state.users.contains_key(&id) {
            return Err(Error::EntityAlreadyExists(format!(
                "User with name {} already exists.",
                user.name
            )));
        }
        state.users.insert(id, user);
        state.auth_epoch += 1;
        Ok(())
    }

    async fn get_user(&self, account_id: &str, name: &str) -> Result<Option<User>> {
        let id = (account_id.to_owned(), name.to_ascii_lowercase());
        Ok(self.lock()?.users.get(&id).cloned())
    }

    async fn list_users(&self, account_id: &str) -> Result<Vec<User>> {
        let mut users: Vec<User> = self
            .lock()?
            .users
            .values()
            .filter(|u| u.account_id == account_id)
            .cloned()
            .collect();
        users.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(users)
    }

    async fn update_user(&self, account_id: &str, name: &str, updated: User) -> Result<()> {
        let mut state = self.lock()?;
        let old_id = (account_id.to_owned(), name.to_ascii_lowercase());
        let Some(old) = state.users.get(&old_id).cloned() else {
            return Err(Error::NoSuchEntity(format!(
                "The user with name {name} cannot be found."
            )));
        };
        let new_id = (account_id.to_owned(), updated.name.to_ascii_lowercase());
        if new_id != old_id && state.users.contains_key(&new_id) {
            return Err(Error::EntityAlreadyExists(format!(
                "User with name {} already exists.",
                updated.name
            )));
        }
        state.users.remove(&old_id);
        for (_, key) in state.keys.values_mut() {
            if key.owner.account_id() == account_id
                && key
                    .owner
                    .user_name()
                    .is_some_and(|u| u.eq_ignore_ascii_case(&old.name))
            {
                key.owner = KeyOwner::User {
                    account_id: account_id.to_owned(),
                    user_name: updated.name.clone(),
                };
            }
        }
        let moved: Vec<(String, String, String)> = state
            .policies
            .keys()
            .filter(|(a, u, _)| a == account_id && *u == old_id.1)
            .cloned()
            .collect();
        for k in moved {
            if let Some(p) = state.policies.remove(&k) {
                state.policies.insert((k.0, new_id.1.clone(), k.2), p);
            }
        }
        state.users.insert(new_id, updated);
        state.auth_epoch += 1;
        Ok(())
    }

    async fn delete_user(&self, account_id: &str, name: &str) -> Result<()> {
        let mut state = self.lock()?;
        let id = (account_id.to_owned(), name.to_ascii_lowercase());
        if !state.users.contains_key(&id) {
            return Err(Error::NoSuchEntity(format!(
                "The user with name {name} cannot be found."
            )));
        }
        if state.user_keys(account_id, name) > 0
            || !state.user_policies(account_id, name).is_empty()
        {
            return Err(Error::DeleteConflict(
                "Cannot delete entity, must delete access keys and policies first.".into(),
            ));
        }
        state.users.remove(&id);
        state.auth_epoch += 1;
        Ok(())
    }

    async fn create_access_key(&self, key: AccessKey) -> Result<()> {
        let mut state = self.lock()?;
        match &key.owner {
            KeyOwner::Root { account_id } => {
                if state.account(account_id).is_none() {
                    return Err(Error::NoSuchEntity(format!("no account {account_id}")));
                }
            }
            KeyOwner::User {
                account_id,
                user_name,
            } => {
                let id = (account_id.clone(), user_name.to_ascii_lowercase());
                if !state.users.contains_key(&id) {
                    return Err(Error::NoSuchEntity(format!(
                        "The user with name {user_name} cannot be found."
                    )));
                }
                if state.user_keys(account_id, user_name) >= MAX_KEYS_PER_USER {
                    return Err(Error::LimitExceeded(format!(
                        "Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}"
                    )));
                }
            }
        }
        if state.keys.contains_key(&key.access_key_id) {
            return Err(Error::EntityAlreadyExists(format!(
                "access key {} exists",
                key.access_key_id
            )));
        }
        state.insert_key(key);
        state.auth_epoch += 1;
        Ok(())
    }

    async fn get_access_key(&self, access_key_id: &str) -> Result<Option<AccessKey>> {
        Ok(self.lock()?.keys.get(access_key_id).map(|(_, k)| k.clone()))
    }

    async fn list_access_keys(&self, owner: &KeyOwner) -> Result<Vec<AccessKey>> {
        let state = self.lock()?;
        let mut keys: Vec<&(u64, AccessKey)> = state
            .keys
            .values()
            .filter(|(_, k)| {
                k.owner.account_id() == owner.account_id()
                    && match (k.owner.user_name(), owner.user_name()) {
                        (None, None) => true,
                        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                        _ => false,
                    }
            })
            .collect();
        keys.sort_by_key(|(seq, _)| *seq);
        Ok(keys.into_iter().map(|(_, k)| k.clone()).collect())
    }

    async fn set_access_key_status(&self, access_key_id: &str, status: KeyStatus) -> Result<()> {
        let mut state = self.lock()?;
        let Some((_, key)) = state.keys.get_mut(access_key_id) else {
            return Err(Error::NoSuchEntity(format!(
                "The Access Key with id {access_key_id} cannot be found."
            )));
        };
        key.status = status;
        state.auth_epoch += 1;
        Ok(())
    }

    async fn delete_access_key(&self, access_key_id: &str) -> Result<()> {
        let mut state = self.lock()?;
        if state.keys.remove(access_key_id).is_none() {
            return Err(Error::NoSuchEntity(format!(
                "The Access Key with id {access_key_id} cannot be found."
            )));
        }
        state.auth_epoch += 1;
        Ok(())
    }

    async fn record_key_use(&self, access_key_id: &str, used: KeyUse) -> Result<()> {
        if let Some((_, key)) = self.lock()?.keys.get_mut(access_key_id) {
            key.last_used = Some(used);
        }
        Ok(())
    }

    async fn put_user_policy(
        &self,
        account_id: &str,
        user_name: &str,
        policy: UserPolicy,
    ) -> Result<()> {
        let mut state = self.lock()?;
        let lower = user_name.to_ascii_lowercase();
        if !state
            .users
            .contains_key(&(account_id.to_owned(), lower.clone()))
        {
            return Err(Error::NoSuchEntity(format!(
                "The user with name {user_name} cannot be found."
            )));
        }
        let others: usize = state
            .user_policies(account_id, user_name)
            .iter()
            .filter(|p| p.name != policy.name)
            .map(|p| policy_size(&p.document))
            .sum();
        if others + policy_size(&policy.document) > MAX_USER_POLICY_CHARS {
            return Err(Error::LimitExceeded(format!(
                "Maximum policy size of {MAX_USER_POLICY_CHARS} bytes exceeded for user {user_name}"
            )));
        }
        state
            .policies
            .insert((account_id.to_owned(), lower, policy.name.clone()), policy);
        state.auth_epoch += 1;
        Ok(())
    }

    async fn list_user_policies(
        &self,
        account_id: &str,
        user_name: &str,
    ) -> Result<Vec<UserPolicy>> {
        let state = self.lock()?;
        let id = (account_id.to_owned(), user_name.to_ascii_lowercase());
        if !state.users.contains_key(&id) {
            return Err(Error::NoSuchEntity(format!(
                "The user with name {user_name} cannot be found."
            )));
        }
        Ok(state.user_policies(account_id, user_name))
    }

    async fn delete_user_policy(
        &self,
        account_id: &str,
        user_name: &str,
        name: &str,
    ) -> Result<()> {
        let mut state = self.lock()?;
        let lower = user_name.to_ascii_lowercase();
        if !state
            .users
            .contains_key(&(account_id.to_owned(), lower.clone()))
        {
            return Err(Error::NoSuchEntity(format!(
                "The user with name {user_name} cannot be found."
            )));
        }
        if state
            .policies
            .remove(&(account_id.to_owned(), lower, name.to_owned()))
            .is_none()
        {
            return Err(Error::NoSuchEntity(format!(
                "The user policy with name {name} cannot be found."
            )));
        }
        state.auth_epoch += 1;
        Ok(())
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: Millis,
        until: Millis,
    ) -> Result<bool> {
        let mut state = self.lock()?;
        let free = match state.leases.get(name) {
            None => true,
            Some((h, u)) => h == holder || *u <= now,
        };
        if free {
            state
                .leases
                .insert(name.to_owned(), (holder.to_owned(), until));
        }
        Ok(free)
    }
}
