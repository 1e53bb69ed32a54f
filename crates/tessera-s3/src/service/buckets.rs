//! Bucket operations: create, head, location, list, delete.

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};
use tessera_core::Tessera;

use super::access::acl_request;
use super::common::{decode_token, encode_token, owner};
use crate::auth::principal;
use crate::convert;
use crate::errors::to_s3;

/// CreateBucket.
pub async fn create_bucket(
    app: &Tessera,
    req: S3Request<CreateBucketInput>,
) -> S3Result<S3Response<CreateBucketOutput>> {
    let caller = principal(&req.extensions)?;
    let name = req.input.bucket.clone();
    if let Some(loc) = req
        .input
        .create_bucket_configuration
        .as_ref()
        .and_then(|c| c.location_constraint.as_ref())
    {
        app.check_location_constraint(loc.as_str()).map_err(to_s3)?;
    }
    let i = &req.input;
    let acl = acl_request!(i, i.grant_write.as_deref());
    let ownership = i.object_ownership.as_ref().map(ObjectOwnership::as_str);
    let settings = app
        .new_bucket_settings(
            &name,
            &caller.account,
            &acl,
            ownership,
            i.object_lock_enabled_for_bucket == Some(true),
        )
        .await
        .map_err(to_s3)?;
    app.create_bucket_with(&name, &caller.account.id, settings)
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(CreateBucketOutput {
        location: Some(format!("/{name}")),
    }))
}

/// HeadBucket.
pub async fn head_bucket(
    app: &Tessera,
    req: S3Request<HeadBucketInput>,
) -> S3Result<S3Response<HeadBucketOutput>> {
    let b = app.bucket(&req.input.bucket).await.map_err(to_s3)?;
    Ok(S3Response::new(HeadBucketOutput {
        bucket_region: Some(b.region),
        ..Default::default()
    }))
}

/// GetBucketLocation.
pub async fn get_bucket_location(
    app: &Tessera,
    req: S3Request<GetBucketLocationInput>,
) -> S3Result<S3Response<GetBucketLocationOutput>> {
    let b = app.bucket(&req.input.bucket).await.map_err(to_s3)?;
    // us-east-1 is the absent constraint on the wire.
    let location_constraint =
        (b.region != "us-east-1").then(|| BucketLocationConstraint::from(b.region));
    Ok(S3Response::new(GetBucketLocationOutput {
        location_constraint,
    }))
}

/// ListBuckets.
pub async fn list_buckets(
    app: &Tessera,
    req: S3Request<ListBucketsInput>,
) -> S3Result<S3Response<ListBucketsOutput>> {
    let caller = principal(&req.extensions)?;
    let limit = match req.input.max_buckets {
        Some(n) if !(1..=10_000).contains(&n) => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "max-buckets must be between 1 and 10000",
            ))
        }
        Some(n) => usize::try_from(n).unwrap_or(10_000),
        None => 10_000,
    };
    let after = req
        .input
        .continuation_token
        .as_deref()
        .map(decode_token)
        .transpose()?;
    let prefix = req.input.prefix.clone().unwrap_or_default();
    let (buckets, truncated) = app
        .list_buckets_page(&caller.account.id, &prefix, after, limit)
        .await
        .map_err(to_s3)?;
    let token = truncated
        .then(|| buckets.last().map(|b| encode_token(&b.name)))
        .flatten();
    let list = buckets
        .into_iter()
        .map(|b| Bucket {
            bucket_region: Some(b.region),
            creation_date: Some(convert::ts(b.created)),
            name: Some(b.name),
        })
        .collect();
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(list),
        continuation_token: token,
        owner: Some(owner(&caller.account)),
        prefix: req.input.prefix,
    }))
}

/// DeleteBucket.
pub async fn delete_bucket(
    app: &Tessera,
    req: S3Request<DeleteBucketInput>,
) -> S3Result<S3Response<DeleteBucketOutput>> {
    app.delete_bucket(&req.input.bucket).await.map_err(to_s3)?;
    Ok(S3Response::new(DeleteBucketOutput {}))
}
