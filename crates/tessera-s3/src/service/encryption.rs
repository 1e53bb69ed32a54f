//! Bucket default encryption: Put/Get/DeleteBucketEncryption. Authorization already ran (the
//! bucket comes from the access check); these read and write the setting.
//!
//! Not applied to writes yet: PutObject / CreateMultipartUpload must consult it
//! (`tessera_core::sse::WriteEncryption::decide`) before this ships, or a bucket would report
//! default encryption while storing plaintext.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};
use tessera_core::error::EncryptionError;
use tessera_core::sse::BucketEncryption;
use tessera_core::{Error, Tessera};

use crate::auth::bucket;
use crate::errors::to_s3;

/// PutBucketEncryption: one rule, SSEAlgorithm AES256 (aws:kms is not implemented).
pub async fn put_bucket_encryption(
    app: &Tessera,
    req: S3Request<PutBucketEncryptionInput>,
) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
    let b = bucket(&req.extensions)?;
    let rules = req
        .input
        .server_side_encryption_configuration
        .rules
        .iter()
        .map(|rule| {
            let default = rule.apply_server_side_encryption_by_default.as_ref().ok_or(
                Error::Encryption(EncryptionError::MalformedConfiguration(
                    "The XML you provided was not well-formed or did not validate against our published schema: a Rule needs ApplyServerSideEncryptionByDefault".into(),
                )),
            )?;
            Ok((
                default.sse_algorithm.as_str(),
                default.kms_master_key_id.as_deref(),
                rule.bucket_key_enabled,
            ))
        })
        .collect::<Result<Vec<_>, Error>>()
        .map_err(to_s3)?;
    let config = BucketEncryption::from_rules(&rules).map_err(to_s3)?;
    app.put_bucket_encryption(&b.name, config)
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(PutBucketEncryptionOutput {}))
}

/// GetBucketEncryption: 404 ServerSideEncryptionConfigurationNotFoundError when none is set.
pub async fn get_bucket_encryption(
    app: &Tessera,
    req: S3Request<GetBucketEncryptionInput>,
) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
    let b = bucket(&req.extensions)?;
    let config = app.bucket_encryption(&b).map_err(to_s3)?;
    Ok(S3Response::new(GetBucketEncryptionOutput {
        server_side_encryption_configuration: Some(ServerSideEncryptionConfiguration {
            rules: vec![ServerSideEncryptionRule {
                apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                    sse_algorithm: ServerSideEncryption::from(config.algorithm.as_str().to_owned()),
                    kms_master_key_id: None,
                }),
                // S3 reports it, false when never set.
                bucket_key_enabled: Some(config.bucket_key_enabled),
            }],
        }),
    }))
}

/// DeleteBucketEncryption: idempotent.
pub async fn delete_bucket_encryption(
    app: &Tessera,
    req: S3Request<DeleteBucketEncryptionInput>,
) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
    let b = bucket(&req.extensions)?;
    app.delete_bucket_encryption(&b.name).await.map_err(to_s3)?;
    Ok(S3Response::new(DeleteBucketEncryptionOutput {}))
}
