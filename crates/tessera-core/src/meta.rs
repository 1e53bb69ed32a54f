//! The `MetaStore` port: durable, transactional metadata for buckets, objects, uploads and parts.
//!
//! Each method is one atomic transaction. A method returns only once its effect is durable.
//! Methods that drop references to blobs return the ids of blobs no longer referenced by
//! anything, so that the caller can delete them from the [`crate::BlobStore`].
//! Keys compare as raw UTF-8 bytes, which is the order S3 lists them in.

use async_trait::async_trait;

use crate::accounts::{AccessKey, Account, KeyOwner, KeyStatus, KeyUse, User, UserPolicy};
use crate::error::Result;
use crate::records::{
    BlobId, BucketRecord, BucketSetting, CompleteRequest, CompletedUpload, ListAfter,
    ListedVersion, Millis, ObjectRecord, ObjectUpdate, PartRecord, Segment, UploadRecord,
    VersionCursor, WriteCondition,
};

/// Durable metadata storage. Implemented by `tessera-meta` (SQLite, later PostgreSQL);
/// every implementation must pass `tessera_testing::meta_conformance`
/// (`tessera_testing::meta_store_conformance!`); `tessera_testing::MemMetaStore` is the in-memory one.
#[async_trait]
pub trait MetaStore: Send + Sync + 'static {
    /// Creates a bucket. Exists already -> `BucketAlreadyOwnedByYou`.
    async fn create_bucket(&self, bucket: BucketRecord) -> Result<()>;

    /// The bucket, if it exists.
    async fn get_bucket(&self, name: &str) -> Result<Option<BucketRecord>>;

    /// Buckets ordered by name, names strictly greater than `after`, at most `limit`.
    async fn list_buckets(&self, after: Option<&str>, limit: usize) -> Result<Vec<BucketRecord>>;

    /// Sets (`Some`) or removes (`None`) one configuration document of a bucket, leaving the
    /// others as they are. `NoSuchBucket` if the bucket is missing.
    async fn put_bucket_setting(
        &self,
        bucket: &str,
        setting: BucketSetting,
        value: Option<String>,
    ) -> Result<()>;

    /// Deletes an empty bucket: `NoSuchBucket` if missing, `BucketNotEmpty` if it holds any
    /// version or delete marker.
    /// In-progress multipart uploads in it are aborted with it; the blobs of their parts are returned.
    async fn delete_bucket(&self, name: &str) -> Result<Vec<BlobId>>;

    /// Stores `object` (an object with `segments`, or a delete marker with none) as a version of
    /// its key. A version with the same version id (the `null` version) is replaced. Of a key's
    /// versions the one with the smallest sequencer is current: a newer one takes the place of
    /// the current version, an older one is kept as non-current (a versioned upload started
    /// before the current version was written).
    /// `NoSuchBucket` if the bucket is missing; `PreconditionFailed` if `condition` does not hold
    /// against the current version (a delete marker counts as no object), checked inside the
    /// same transaction. Returns the blobs of the replaced version.
    async fn put_object(
        &self,
        object: ObjectRecord,
        segments: Vec<Segment>,
        condition: WriteCondition,
    ) -> Result<Vec<BlobId>>;

    /// The current version at bucket/key (possibly a delete marker), if any.
    async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>>;

    /// The version `version_id` of bucket/key (possibly a delete marker), if any.
    async fn get_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<Option<ObjectRecord>>;

    /// Changes a sub-resource (ACL, tags) of the version of bucket/key whose object id is
    /// `object_id` (`NoSuchKey` if that version is gone, so a change never lands on a version
    /// its caller did not see).
    async fn update_object(
        &self,
        bucket: &str,
        key: &str,
        object_id: &str,
        update: ObjectUpdate,
    ) -> Result<()>;

    /// Segments of the object `object_id`, ordered by offset, whose byte range intersects
    /// `[from, to)`. Unknown object id (replaced or deleted meanwhile) -> an empty list.
    async fn get_segments(&self, object_id: &str, from: u64, to: u64) -> Result<Vec<Segment>>;

    /// The segment with this part number, if any.
    async fn get_segment(&self, object_id: &str, part_number: u32) -> Result<Option<Segment>>;

    /// Segments with part number strictly greater than `after`, at most `limit`, ordered.
    async fn list_segments(
        &self,
        object_id: &str,
        after: u32,
        limit: usize,
    ) -> Result<Vec<Segment>>;

    /// Removes the version `version_id` of bucket/key (an object or a delete marker); if it was
    /// current, the next newest version becomes current. `condition.if_match` is checked
    /// atomically against the removed version (`PreconditionFailed`). Returns `None` if no such
    /// version exists, else the removed version and its freed blobs.
    async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        condition: WriteCondition,
    ) -> Result<Option<(ObjectRecord, Vec<BlobId>)>>;

    /// Current versions that are not delete markers in `bucket` whose key starts with `prefix`
    /// and is greater than `after`, in key byte order, at most `limit`. `NoSuchBucket` if the
    /// bucket is missing.
    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        after: ListAfter,
        limit: usize,
    ) -> Result<Vec<ObjectRecord>>;

    /// Every version and delete marker in `bucket` whose key starts with `prefix`, after
    /// `after`, ordered by key bytes then newest first (sequencer), at most `limit`.
    /// `NoSuchBucket` if the bucket is missing.
    async fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        after: VersionCursor,
        limit: usize,
    ) -> Result<Vec<ListedVersion>>;

    /// Records a new multipart upload. `NoSuchBucket` if the bucket is missing.
    async fn create_upload(&self, upload: UploadRecord) -> Result<()>;

    /// The in-progress upload, if it exists.
    async fn get_upload(&self, upload_id: &str) -> Result<Option<UploadRecord>>;

    /// In-progress uploads of `bucket` whose key starts with `prefix`, ordered by key bytes then
    /// initiation time then upload id, at most `limit`. With `after_upload_id` None: keys strictly
    /// greater than `after_key`. With `Some(id)`: the uploads of key `after_key` that sort after
    /// upload `id` (by initiation time, then id), then every greater key.
    async fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        after_key: ListAfter,
        after_upload_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<UploadRecord>>;

    /// Stores a part, replacing any part with the same number. `NoSuchUpload` if the upload is
    /// gone (aborted or completed): the caller then deletes the part's blob.
    /// Returns the blob of the replaced part, if any.
    async fn put_part(&self, upload_id: &str, part: PartRecord) -> Result<Option<BlobId>>;

    /// Parts with number strictly greater than `after`, ascending, at most `limit`.
    async fn list_parts(
        &self,
        upload_id: &str,
        after: u32,
        limit: usize,
    ) -> Result<Vec<PartRecord>>;

    /// Completes an upload atomically: checks the condition and that every segment's part still
    /// holds the same blob (`Conflict` otherwise), stores the object and its segments as a
    /// version placed as [`MetaStore::put_object`] places it, removes the
    /// upload and all its parts, and records a [`CompletedUpload`].
    /// `NoSuchUpload` if the upload is gone. Returns freed blobs (unused parts, replaced object).
    async fn complete_upload(&self, request: CompleteRequest) -> Result<Vec<BlobId>>;

    /// A completed upload, if this upload id was completed (kept for retries).
    async fn get_completed_upload(&self, upload_id: &str) -> Result<Option<CompletedUpload>>;

    /// Forgets completed-upload records made before `before` (a Complete retried after that
    /// gets NoSuchUpload, as on S3 once an upload is long gone). Returns how many were removed.
    async fn prune_completed_uploads(&self, before: Millis) -> Result<u64>;

    /// Removes the upload and its parts. `NoSuchUpload` if it is gone. Returns the parts' blobs.
    async fn abort_upload(&self, upload_id: &str) -> Result<Vec<BlobId>>;

    /// Of `candidates`, those referenced by an object segment or an upload part.
    async fn referenced_blobs(&self, candidates: &[BlobId]) -> Result<Vec<BlobId>>;

    /// A counter bumped by every change to accounts, users, keys and user policies (not by
    /// key-use records), seen by every process sharing the store: a cache of identities is
    /// valid while it does not change.
    async fn auth_epoch(&self) -> Result<u64>;

    /// The auth epoch and, if `bucket` is given, that bucket, read together: the one read a
    /// request's authorization needs (a stale epoch would let a revoked key through).
    async fn epoch_and_bucket(&self, bucket: Option<&str>) -> Result<(u64, Option<BucketRecord>)>;

    /// Creates an account, with its first root key if given. `EntityAlreadyExists` if the id,
    /// the name or the key id is taken.
    async fn create_account(&self, account: Account, root_key: Option<AccessKey>) -> Result<()>;

    /// Every account, first created first (the first is the server's root account).
    async fn list_accounts(&self) -> Result<Vec<Account>>;

    /// Deletes an account with its users, keys and policies. `NoSuchEntity` if missing,
    /// `DeleteConflict` while it owns a bucket.
    async fn delete_account(&self, account_id: &str) -> Result<()>;

    /// Makes `key` the only root key of its account (the configured root key changed).
    /// `NoSuchEntity` if the account is missing, `EntityAlreadyExists` if another owner has
    /// that key id.
    async fn set_root_key(&self, key: AccessKey) -> Result<()>;

    /// Creates a user. `NoSuchEntity` if its account is missing, `EntityAlreadyExists` if the
    /// account has a user of that name (compared ignoring ASCII case).
    async fn create_user(&self, user: User) -> Result<()>;

    /// The account's user of that name (ignoring ASCII case), if any.
    async fn get_user(&self, account_id: &str, name: &str) -> Result<Option<User>>;

    /// The account's users, by name.
    async fn list_users(&self, account_id: &str) -> Result<Vec<User>>;

    /// Renames and/or moves a user: its name, path and ARN change; its keys and policies
    /// follow it. `NoSuchEntity` if missing, `EntityAlreadyExists` if another user of the
    /// account has the new name.
    async fn update_user(&self, account_id: &str, name: &str, updated: User) -> Result<()>;

    /// Deletes a user. `NoSuchEntity` if missing; `DeleteConflict` while it has access keys or
    /// inline policies.
    async fn delete_user(&self, account_id: &str, name: &str) -> Result<()>;

    /// Stores a new access key. `NoSuchEntity` if its owner is missing, `LimitExceeded` if a
    /// user would have more than [`crate::accounts::MAX_KEYS_PER_USER`], `EntityAlreadyExists`
    /// if the key id is taken.
    async fn create_access_key(&self, key: AccessKey) -> Result<()>;

    /// The key with this id, if any (the hot path of authentication).
    async fn get_access_key(&self, access_key_id: &str) -> Result<Option<AccessKey>>;

    /// The keys of `owner`, oldest first.
    async fn list_access_keys(&self, owner: &KeyOwner) -> Result<Vec<AccessKey>>;

    /// Sets a key's status. `NoSuchEntity` if missing.
    async fn set_access_key_status(&self, access_key_id: &str, status: KeyStatus) -> Result<()>;

    /// Deletes a key. `NoSuchEntity` if missing.
    async fn delete_access_key(&self, access_key_id: &str) -> Result<()>;

    /// Records that a key signed a request (no epoch change). A missing key is ignored.
    async fn record_key_use(&self, access_key_id: &str, used: KeyUse) -> Result<()>;

    /// Adds or replaces an inline policy of a user. `NoSuchEntity` if the user is missing,
    /// `LimitExceeded` if the user's policies would exceed
    /// [`crate::accounts::MAX_USER_POLICY_CHARS`] ([`crate::accounts::policy_size`]).
    async fn put_user_policy(
        &self,
        account_id: &str,
        user_name: &str,
        policy: UserPolicy,
    ) -> Result<()>;

    /// A user's inline policies, by name. `NoSuchEntity` if the user is missing.
    async fn list_user_policies(
        &self,
        account_id: &str,
        user_name: &str,
    ) -> Result<Vec<UserPolicy>>;

    /// Deletes an inline policy. `NoSuchEntity` if the user or the policy is missing.
    async fn delete_user_policy(&self, account_id: &str, user_name: &str, name: &str)
        -> Result<()>;

    /// Takes or renews the named lease for `holder` until `until`, if it is free, expired
    /// (its `until` is at or before `now`) or already `holder`'s: `true` then, else `false`
    /// and nothing changes. Nodes sharing the store use it so that one of them does a job.
    async fn try_lease(&self, name: &str, holder: &str, now: Millis, until: Millis)
        -> Result<bool>;
}
