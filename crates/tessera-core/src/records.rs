//! The records the metadata store keeps: buckets, objects and their segments, uploads and parts.

use std::collections::BTreeMap;

use crate::checksum::{ChecksumAlgorithm, ChecksumType, ChecksumValue};
use crate::error::{Error, Result};
use crate::etag::etag_list_matches;
pub use crate::ids::{new_sequencer, now_millis, sequencer_at, BlobId, Millis, NULL_VERSION};
pub use crate::lock::{Retention, RetentionChange, RetentionMode};

/// A bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketRecord {
    pub name: String,
    pub created: Millis,
    pub region: String,
    /// Id of the account that owns the bucket.
    pub owner: String,
    /// The bucket's configuration documents by name ([`BucketSetting`]), as stored.
    pub settings: BTreeMap<String, String>,
}

impl BucketRecord {
    /// A setting's stored document, if set.
    pub fn setting(&self, setting: BucketSetting) -> Option<&str> {
        self.settings.get(setting.as_str()).map(String::as_str)
    }
}

/// A configuration document kept with a bucket (its sub-resources: `?policy`, `?acl`, ...).
/// Stored by name, so that a later kind needs no schema step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BucketSetting {
    /// The bucket policy (JSON as given).
    Policy,
    /// The bucket ACL ([`crate::acl::Acl`] stored form).
    Acl,
    /// PublicAccessBlock (stored form of [`crate::access::PublicAccessBlock`]).
    PublicAccessBlock,
    /// Object ownership (`BucketOwnerEnforced`, `BucketOwnerPreferred` or `ObjectWriter`).
    Ownership,
    /// Present when the policy was put with `x-amz-confirm-remove-self-bucket-access`.
    PolicySelfLockout,
    /// Set (never cleared) once an account other than the owner may own an object in the
    /// bucket: only then does authorization read the object's owner.
    ForeignObjects,
    /// Versioning state: `Enabled` or `Suspended` (absent: never enabled).
    Versioning,
    /// The lifecycle configuration (stored form of the lifecycle module).
    Lifecycle,
    /// The bucket's tag set (stored form of the tagging module).
    Tagging,
    /// Default server-side encryption (stored form of the encryption module).
    Encryption,
    /// Object lock configuration (present only on buckets with object lock enabled; stored
    /// form of [`crate::lock::ObjectLockConfig`]).
    ObjectLock,
    /// The CORS configuration (stored form of [`crate::cors::CorsConfiguration`]).
    Cors,
}

impl BucketSetting {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            BucketSetting::Policy => "policy",
            BucketSetting::Acl => "acl",
            BucketSetting::PublicAccessBlock => "public-access-block",
            BucketSetting::Ownership => "ownership",
            BucketSetting::ForeignObjects => "foreign-objects",
            BucketSetting::PolicySelfLockout => "policy-self-lockout",
            BucketSetting::Versioning => "versioning",
            BucketSetting::Lifecycle => "lifecycle",
            BucketSetting::Tagging => "tagging",
            BucketSetting::Encryption => "encryption",
            BucketSetting::ObjectLock => "object-lock",
            BucketSetting::Cors => "cors",
        }
    }
}

/// Standard content headers stored with an object and returned on GET/HEAD.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContentHeaders {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    /// The `Expires` header as the client sent it (HTTP date).
    pub expires: Option<String>,
}

/// The whole-object checksum as S3 reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectChecksum {
    pub algorithm: ChecksumAlgorithm,
    pub checksum_type: ChecksumType,
    /// Base64 of the checksum; for COMPOSITE multipart objects it ends in `-N`.
    pub value: String,
}

/// What an object keeps beyond its content headers (set at write, reported on read).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectAttrs {
    /// `x-amz-storage-class` as written; `None`: STANDARD.
    pub storage_class: Option<String>,
    /// `x-amz-website-redirect-location`.
    pub website_redirect: Option<String>,
    /// The object's tags, in the order given.
    pub tags: Vec<(String, String)>,
    /// Object Lock retention of this version, if any.
    pub retention: Option<Retention>,
    /// Object Lock legal hold: `None` never set, else ON (`true`) or OFF.
    pub legal_hold: Option<bool>,
    /// Server-side encryption at rest: [`crate::sse::EncryptionInfo::encode`]'s form; `None`:
    /// stored in the clear. Sizes and ETags stay the plaintext's; blobs hold ciphertext.
    pub encryption: Option<String>,
}

/// Metadata of one version of a key: an object, or a delete marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRecord {
    pub bucket: String,
    pub key: String,
    /// Unique per stored object; segments hang off it. Random, 32 hex chars.
    pub object_id: String,
    pub size: u64,
    /// ETag without quotes: hex MD5, or `hex-N` for multipart objects.
    pub etag: String,
    pub last_modified: Millis,
    pub headers: ContentHeaders,
    /// `x-amz-meta-*` metadata, names lower-cased without the prefix.
    pub user_metadata: BTreeMap<String, String>,
    pub checksum: Option<ObjectChecksum>,
    /// `Some(N)` for objects made by CompleteMultipartUpload.
    pub parts_count: Option<u32>,
    /// Id of the account that owns the object (the writer's, or the bucket owner's).
    pub owner: String,
    /// The object ACL ([`crate::acl::Acl`] stored form); `None`: the owner alone, full control.
    pub acl: Option<String>,
    /// [`NULL_VERSION`] or the version's id (its sequencer).
    pub version_id: String,
    /// Orders the versions of the key, newest first in ascending bytes ([`new_sequencer`]).
    pub sequencer: String,
    /// A delete marker: no bytes and no segments; the key reads as absent while it is current.
    pub delete_marker: bool,
    pub attrs: ObjectAttrs,
}

impl ObjectRecord {
    /// Whether this is the `null` version.
    pub fn is_null_version(&self) -> bool {
        self.version_id == NULL_VERSION
    }
}

/// A change to one version's mutable sub-resources (guarded by its object id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectUpdate {
    /// The ACL (stored form); `None`: the owner alone.
    Acl(Option<String>),
    /// The tag set (empty: no tags).
    Tags(Vec<(String, String)>),
    /// The retention, applied only if [`ObjectAttrs::change_retention`] allows it (checked by
    /// the store in the same transaction).
    Retention(RetentionChange),
    /// The legal hold (ON: `true`).
    LegalHold(bool),
}

/// One entry of a versions listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedVersion {
    pub object: ObjectRecord,
    /// Whether it is the key's current version.
    pub is_latest: bool,
}

/// Where a versions listing starts: with `sequencer` `None`, keys strictly greater than `key`;
/// with `Some(s)`, the versions of `key` older than `s`, then every greater key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionCursor {
    pub key: ListAfter,
    pub sequencer: Option<String>,
}

/// One contiguous piece of an object's bytes: a whole blob placed at `offset` in the object.
/// A single-PUT object has one segment with `part_number` 1; a multipart object one per part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub part_number: u32,
    /// Offset of this segment's first byte in the object.
    pub offset: u64,
    pub size: u64,
    pub blob: BlobId,
    /// Hex MD5 of the segment's bytes (the part ETag, unquoted).
    pub etag: String,
    /// Checksums of the segment's bytes (the part checksums).
    pub checksums: Vec<ChecksumValue>,
}

/// An in-progress multipart upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadRecord {
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub initiated: Millis,
    pub headers: ContentHeaders,
    pub user_metadata: BTreeMap<String, String>,
    /// Algorithm named at Create (`x-amz-checksum-algorithm`), if any.
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// Type named or implied at Create, if any algorithm was named.
    pub checksum_type: Option<ChecksumType>,
    /// ARN of who created the upload: `arn:aws:iam::<account>:root` or a user's ARN.
    pub initiator: String,
    /// Id of the account that will own the object.
    pub owner: String,
    /// The ACL the object gets at Complete (stored form), from Create's ACL headers.
    pub acl: Option<String>,
    /// Taken at Create: the object's place among the key's versions in a versioned bucket.
    pub sequencer: String,
    /// Storage class, redirect and tags the object gets at Complete.
    pub attrs: ObjectAttrs,
}

/// One uploaded part of a multipart upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartRecord {
    pub part_number: u32,
    pub size: u64,
    /// Hex MD5 of the part (unquoted).
    pub etag: String,
    pub last_modified: Millis,
    pub blob: BlobId,
    /// Checksums computed over the part (always CRC64NVME, plus any the client sent).
    pub checksums: Vec<ChecksumValue>,
}

/// Preconditions on a write, checked atomically with the write itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteCondition {
    /// `If-None-Match: *`: fail if the key exists.
    pub if_none_match_any: bool,
    /// `If-Match: etag` (unquoted): fail unless the key exists with this ETag (`*`: exists at all).
    pub if_match: Option<String>,
    /// Removal only: `x-amz-bypass-governance-retention` from a caller allowed to bypass. The
    /// store refuses to remove a locked version ([`ObjectAttrs::removal_blocked`], always
    /// checked) with [`Error::ObjectLocked`].
    pub bypass_governance: bool,
}

impl WriteCondition {
    /// Checks the condition against the current object's ETag (`None`: no object), as S3 does:
    /// `If-None-Match: *` on an existing key -> `PreconditionFailed`; `If-Match` on a missing key
    /// -> `NoSuchKey`; `If-Match` naming another ETag -> `PreconditionFailed`.
    /// Backends call this inside the transaction that performs the write.
    pub fn check(&self, current_etag: Option<&str>) -> Result<()> {
        if self.if_none_match_any && current_etag.is_some() {
            return Err(Error::PreconditionFailed);
        }
        if let Some(expected) = &self.if_match {
            match current_etag {
                None => return Err(Error::NoSuchKey),
                Some(etag) if etag_list_matches(expected, etag) => {}
                Some(_) => return Err(Error::PreconditionFailed),
            }
        }
        Ok(())
    }
}

/// Where a listing starts: keys strictly greater than these bytes.
/// To skip every key under a prefix `p`, pass `p` followed by the byte 0xFF (never found in UTF-8).
pub type ListAfter = Option<Vec<u8>>;

/// The result of a successful CompleteMultipartUpload, kept so a retried Complete gets the same answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompletedUpload {
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub etag: String,
    pub checksum: Option<ObjectChecksum>,
    pub completed: Millis,
    /// The version the Complete created (`null` outside versioning).
    pub version_id: String,
}

/// Everything the metadata store needs to complete an upload atomically.
#[derive(Clone, Debug)]
pub struct CompleteRequest {
    pub upload_id: String,
    /// The new object. Its bucket/key must be the upload's.
    pub object: ObjectRecord,
    /// The chosen parts, in order, with offsets. The store checks that each part still exists
    /// with exactly this blob (a part re-uploaded meanwhile makes the Complete fail with
    /// [`crate::Error::Conflict`]); parts not named are dropped and their blobs freed.
    pub segments: Vec<Segment>,
    pub condition: WriteCondition,
}

/// The stored form of a bucket setting made of rules (lifecycle, CORS): versioned JSON
/// `{"v": 1, "rules": [...]}`, so that a later layout can still read this one.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredRules<T> {
    v: u32,
    rules: Vec<T>,
}

/// Version of [`StoredRules`] written today.
const STORED_RULES_VERSION: u32 = 1;

/// `rules` in their stored form ([`StoredRules`]).
pub(crate) fn rules_to_stored<T: serde::Serialize + Clone>(rules: &[T]) -> String {
    serde_json::to_string(&StoredRules {
        v: STORED_RULES_VERSION,
        rules: rules.to_vec(),
    })
    .unwrap_or_default()
}

/// Reads [`rules_to_stored`]'s form back; `what` names the setting in errors.
pub(crate) fn rules_from_stored<T: serde::de::DeserializeOwned>(
    s: &str,
    what: &str,
) -> crate::error::Result<Vec<T>> {
    let stored: StoredRules<T> = serde_json::from_str(s)
        .map_err(|e| crate::error::Error::backend(format!("stored {what}: {e}")))?;
    if stored.v != STORED_RULES_VERSION {
        return Err(crate::error::Error::backend(format!(
            "stored {what}: unknown version {}",
            stored.v
        )));
    }
    Ok(stored.rules)
}

/// The bucket's rules of `setting`, if set and readable (a stored form that does not read is
/// logged and ignored).
pub(crate) fn bucket_rules<T: serde::de::DeserializeOwned>(
    bucket: &BucketRecord,
    setting: BucketSetting,
    what: &str,
) -> Option<Vec<T>> {
    let text = bucket.setting(setting)?;
    match rules_from_stored(text, what) {
        Ok(rules) => Some(rules),
        Err(e) => {
            tracing::warn!(bucket = %bucket.name, error = %e, "{what} does not read; ignored");
            None
        }
    }
}
