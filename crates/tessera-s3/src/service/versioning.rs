//! Bucket versioning: PutBucketVersioning / GetBucketVersioning. Authorization already ran
//! (the bucket comes from the access check).

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};
use tessera_core::versions::Versioning;
use tessera_core::Tessera;

use crate::auth::bucket;
use crate::errors::to_s3;

/// PutBucketVersioning.
pub async fn put_bucket_versioning(
    app: &Tessera,
    req: S3Request<PutBucketVersioningInput>,
) -> S3Result<S3Response<PutBucketVersioningOutput>> {
    let b = bucket(&req.extensions)?;
    let config = &req.input.versioning_configuration;
    app.put_bucket_versioning(
        &b,
        config.status.as_ref().map(BucketVersioningStatus::as_str),
        config.mfa_delete.as_ref().map(MFADelete::as_str),
    )
    .await
    .map_err(to_s3)?;
    Ok(S3Response::new(PutBucketVersioningOutput {}))
}

/// GetBucketVersioning: no Status element for a bucket never versioned, as S3.
pub async fn get_bucket_versioning(
    _app: &Tessera,
    req: S3Request<GetBucketVersioningInput>,
) -> S3Result<S3Response<GetBucketVersioningOutput>> {
    let b = bucket(&req.extensions)?;
    Ok(S3Response::new(GetBucketVersioningOutput {
        mfa_delete: None,
        status: Versioning::of(&b)
            .status()
            .map(BucketVersioningStatus::from_static),
    }))
}
