//! Bucket tagging: PutBucketTagging, GetBucketTagging, DeleteBucketTagging. Authorization
//! already ran (the bucket comes from the access check).

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};
use tessera_core::tagging::{TagSet as Tags, TagTarget};
use tessera_core::{Error, Tessera};

use crate::auth::bucket;
use crate::errors::to_s3;

/// The tags of a `TagSet` element as (key, value); a tag without a key is malformed.
pub(crate) fn tags_in(set: &[Tag]) -> S3Result<Vec<(String, String)>> {
    set.iter()
        .map(|t| {
            let key = t.key.clone().ok_or_else(|| to_s3(Error::MalformedXml))?;
            Ok((key, t.value.clone().unwrap_or_default()))
        })
        .collect()
}

/// A `TagSet` element of (key, value) pairs.
pub(crate) fn tags_out(tags: &[(String, String)]) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag {
            key: Some(k.clone()),
            value: Some(v.clone()),
        })
        .collect()
}

/// PutBucketTagging: replaces the bucket's tag set.
pub async fn put_bucket_tagging(
    app: &Tessera,
    req: S3Request<PutBucketTaggingInput>,
) -> S3Result<S3Response<PutBucketTaggingOutput>> {
    let b = bucket(&req.extensions)?;
    let tags = Tags::new(tags_in(&req.input.tagging.tag_set)?, TagTarget::Bucket).map_err(to_s3)?;
    app.put_bucket_tagging(&b.name, tags).await.map_err(to_s3)?;
    Ok(S3Response::new(PutBucketTaggingOutput {}))
}

/// GetBucketTagging: NoSuchTagSet when the bucket has none.
pub async fn get_bucket_tagging(
    app: &Tessera,
    req: S3Request<GetBucketTaggingInput>,
) -> S3Result<S3Response<GetBucketTaggingOutput>> {
    let b = bucket(&req.extensions)?;
    let tags = app.bucket_tagging(&b).map_err(to_s3)?;
    Ok(S3Response::new(GetBucketTaggingOutput {
        tag_set: tags_out(tags.tags()),
    }))
}

/// DeleteBucketTagging.
pub async fn delete_bucket_tagging(
    app: &Tessera,
    req: S3Request<DeleteBucketTaggingInput>,
) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
    let b = bucket(&req.extensions)?;
    app.delete_bucket_tagging(&b.name).await.map_err(to_s3)?;
    Ok(S3Response::new(DeleteBucketTaggingOutput {}))
}
