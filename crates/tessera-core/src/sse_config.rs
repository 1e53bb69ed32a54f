//! Bucket default encryption: Put/Get/DeleteBucketEncryption over the bucket's
//! [`BucketSetting::Encryption`] (stored form of [`BucketEncryption`]).

use crate::error::{EncryptionError, Error, Result};
use crate::records::{BucketRecord, BucketSetting};
use crate::sse::BucketEncryption;
use crate::tessera::Tessera;

impl Tessera {
    /// PutBucketEncryption: replaces the bucket's default encryption.
    pub async fn put_bucket_encryption(
        &self,
        bucket: &str,
        config: BucketEncryption,
    ) -> Result<()> {
        self.meta
            .put_bucket_setting(bucket, BucketSetting::Encryption, Some(config.encode()))
            .await
    }

    /// GetBucketEncryption: the bucket's default, or [`EncryptionError::NoConfiguration`].
    pub fn bucket_encryption(&self, bucket: &BucketRecord) -> Result<BucketEncryption> {
        default_encryption(bucket)?.ok_or(Error::Encryption(EncryptionError::NoConfiguration))
    }

    /// DeleteBucketEncryption: new objects are stored as sent again.
    pub async fn delete_bucket_encryption(&self, bucket: &str) -> Result<()> {
        self.meta
            .put_bucket_setting(bucket, BucketSetting::Encryption, None)
            .await
    }
}

/// The bucket's default encryption, if any: what a write without encryption headers gets
/// (see [`crate::sse::WriteEncryption::decide`]).
pub fn default_encryption(bucket: &BucketRecord) -> Result<Option<BucketEncryption>> {
    bucket
        .setting(BucketSetting::Encryption)
        .map(BucketEncryption::decode)
        .transpose()
}
