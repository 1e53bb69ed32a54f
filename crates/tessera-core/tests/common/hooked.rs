//! A MetaStore that delegates to a real one and runs test hooks around some calls, to make
//! races happen at a chosen point (a part replaced during Complete, a copy source replaced
//! while it is being copied).

use std::sync::Arc;

use async_trait::async_trait;

use tessera_core::accounts::{AccessKey, Account, KeyOwner, KeyStatus, KeyUse, User, UserPolicy};
use tessera_core::{
    BlobId, BucketRecord, BucketSetting, CompleteRequest, CompletedUpload, ListAfter,
    ListedVersion, MetaStore, Millis, ObjectRecord, ObjectUpdate, PartRecord, Result, Segment,
    UploadRecord, VersionCursor, WriteCondition,
};

/// What a test does around the delegated calls. Every hook defaults to nothing.
#[async_trait]
pub trait Hooks: Send + Sync + 'static {
    /// Runs before `complete_upload` is delegated.
    async fn before_complete_upload(&self, _inner: &dyn MetaStore, _request: &CompleteRequest) {}
    /// Runs after `list_segments` was delegated, before its answer is returned.
    async fn after_list_segments(
        &self,
        _inner: &dyn MetaStore,
        _object_id: &str,
        _segments: &[Segment],
    ) {
    }
}

/// Delegates every call to `inner`, with `hooks` around some of them.
pub struct HookedMeta<H> {
    pub inner: Arc<dyn MetaStore>,
    pub hooks: H,
}

#[async_trait]
impl<H: Hooks> MetaStore for HookedMeta<H> {
    async fn create_bucket(&self, bucket: BucketRecord) -> Result<()> {
        self.inner.create_bucket(bucket).await
    }
    async fn get_bucket(&self, name: &str) -> Result<Option<BucketRecord>> {
        self.inner.get_bucket(name).await
    }
    async fn epoch_and_bucket(&self, bucket: Option<&str>) -> Result<(u64, Option<BucketRecord>)> {
        self.inner.epoch_and_bucket(bucket).await
    }
    async fn list_buckets(&self, after: Option<&str>, limit: usize) -> Result<Vec<BucketRecord>> {
        self.inner.list_buckets(after, limit).await
    }
    async fn put_bucket_setting(
        &self,
        bucket: &str,
        setting: BucketSetting,
        value: Option<String>,
    ) -> Result<()> {
        self.inner.put_bucket_setting(bucket, setting, value).await
    }
    async fn delete_bucket(&self, name: &str) -> Result<Vec<BlobId>> {
        self.inner.delete_bucket(name).await
    }
    async fn put_object(
        &self,
        object: ObjectRecord,
        segments: Vec<Segment>,
        condition: WriteCondition,
    ) -> Result<Vec<BlobId>> {
        self.inner.put_object(object, segments, condition).await
    }
    async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>> {
        self.inner.get_object(bucket, key).await
    }
    async fn get_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<Option<ObjectRecord>> {
        self.inner.get_object_version(bucket, key, version_id).await
    }
    async fn update_object(
        &self,
        bucket: &str,
        key: &str,
        object_id: &str,
        update: ObjectUpdate,
    ) -> Result<()> {
        self.inner
            .update_object(bucket, key, object_id, update)
            .await
    }
    async fn get_segments(&self, object_id: &str, from: u64, to: u64) -> Result<Vec<Segment>> {
        self.inner.get_segments(object_id, from, to).await
    }
    async fn get_segment(&self, object_id: &str, part_number: u32) -> Result<Option<Segment>> {
        self.inner.get_segment(object_id, part_number).await
    }
    async fn list_segments(
        &self,
        object_id: &str,
        after: u32,
        limit: usize,
    ) -> Result<Vec<Segment>> {
        let segments = self.inner.list_segments(object_id, after, limit).await?;
        self.hooks
            .after_list_segments(self.inner.as_ref(), object_id, &segments)
            .await;
        Ok(segments)
    }
    async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        condition: WriteCondition,
    ) -> Result<Option<(ObjectRecord, Vec<BlobId>)>> {
        self.inner
            .delete_object(bucket, key, version_id, condition)
            .await
    }
    async fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        after: VersionCursor,
        limit: usize,
    ) -> Result<Vec<ListedVersion>> {
        self.inner.list_versions(bucket, prefix, after, limit).await
    }
    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        after: ListAfter,
        limit: usize,
    ) -> Result<Vec<ObjectRecord>> {
        self.inner.list_objects(bucket, prefix, after, limit).await
    }
    async fn create_upload(&self, upload: UploadRecord) -> Result<()> {
        self.inner.create_upload(upload).await
    }
    async fn get_upload(&self, upload_id: &str) -> Result<Option<UploadRecord>> {
        self.inner.get_upload(upload_id).await
    }
    async fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        after_key: ListAfter,
        after_upload_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<UploadRecord>> {
        self.inner
            .list_uploads(bucket, prefix, after_key, after_upload_id, limit)
            .await
    }
    async fn put_part(&self, upload_id: &str, part: PartRecord) -> Result<Option<BlobId>> {
        self.inner.put_part(upload_id, part).await
    }
    async fn list_parts(
        &self,
        upload_id: &str,
        after: u32,
        limit: usize,
    ) -> Result<Vec<PartRecord>> {
        self.inner.list_parts(upload_id, after, limit).await
    }
    async fn complete_upload(&self, request: CompleteRequest) -> Result<Vec<BlobId>> {
        self.hooks
            .before_complete_upload(self.inner.as_ref(), &request)
            .await;
        self.inner.complete_upload(request).await
    }
    async fn get_completed_upload(&self, upload_id: &str) -> Result<Option<CompletedUpload>> {
        self.inner.get_completed_upload(upload_id).await
    }
    async fn prune_completed_uploads(&self, before: Millis) -> Result<u64> {
        self.inner.prune_completed_uploads(before).await
    }
    async fn abort_upload(&self, upload_id: &str) -> Result<Vec<BlobId>> {
        self.inner.abort_upload(upload_id).await
    }
    async fn referenced_blobs(&self, candidates: &[BlobId]) -> Result<Vec<BlobId>> {
        self.inner.referenced_blobs(candidates).await
    }
    async fn auth_epoch(&self) -> Result<u64> {
        self.inner.auth_epoch().await
    }
    async fn create_account(&self, account: Account, root_key: Option<AccessKey>) -> Result<()> {
        self.inner.create_account(account, root_key).await
    }
    async fn list_accounts(&self) -> Result<Vec<Account>> {
        self.inner.list_accounts().await
    }
    async fn delete_account(&self, account_id: &str) -> Result<()> {
        self.inner.delete_account(account_id).await
    }
    async fn set_root_key(&self, key: AccessKey) -> Result<()> {
        self.inner.set_root_key(key).await
    }
    async fn create_user(&self, user: User) -> Result<()> {
        self.inner.create_user(user).await
    }
    async fn get_user(&self, account_id: &str, name: &str) -> Result<Option<User>> {
        self.inner.get_user(account_id, name).await
    }
    async fn list_users(&self, account_id: &str) -> Result<Vec<User>> {
        self.inner.list_users(account_id).await
    }
    async fn update_user(&self, account_id: &str, name: &str, updated: User) -> Result<()> {
        self.inner.update_user(account_id, name, updated).await
    }
    async fn delete_user(&self, account_id: &str, name: &str) -> Result<()> {
        self.inner.delete_user(account_id, name).await
    }
    async fn create_access_key(&self, key: AccessKey) -> Result<()> {
        self.inner.create_access_key(key).await
    }
    async fn get_access_key(&self, access_key_id: &str) -> Result<Option<AccessKey>> {
        self.inner.get_access_key(access_key_id).await
    }
    async fn list_access_keys(&self, owner: &KeyOwner) -> Result<Vec<AccessKey>> {
        self.inner.list_access_keys(owner).await
    }
    async fn set_access_key_status(&self, access_key_id: &str, status: KeyStatus) -> Result<()> {
        self.inner
            .set_access_key_status(access_key_id, status)
            .await
    }
    async fn delete_access_key(&self, access_key_id: &str) -> Result<()> {
        self.inner.delete_access_key(access_key_id).await
    }
    async fn record_key_use(&self, access_key_id: &str, used: KeyUse) -> Result<()> {
        self.inner.record_key_use(access_key_id, used).await
    }
    async fn put_user_policy(
        &self,
        account_id: &str,
        user_name: &str,
        policy: UserPolicy,
    ) -> Result<()> {
        self.inner
            .put_user_policy(account_id, user_name, policy)
            .await
    }
    async fn list_user_policies(
        &self,
        account_id: &str,
        user_name: &str,
    ) -> Result<Vec<UserPolicy>> {
        self.inner.list_user_policies(account_id, user_name).await
    }
    async fn delete_user_policy(
        &self,
        account_id: &str,
        user_name: &str,
        name: &str,
    ) -> Result<()> {
        self.inner
            .delete_user_policy(account_id, user_name, name)
            .await
    }
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: tessera_core::Millis,
        until: tessera_core::Millis,
    ) -> Result<bool> {
        self.inner.try_lease(name, holder, now, until).await
    }
}
