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

/// PutObjectTagging: replaces the tag set of the current version or of `versionId`.
pub async fn put_object_tagging(
    app: &Tessera,
    req: S3Request<PutObjectTaggingInput>,
) -> S3Result<S3Response<PutObjectTaggingOutput>> {
    let i = req.input;
    let tags = Tags::new(tags_in(&i.tagging.tag_set)?, TagTarget::Object).map_err(to_s3)?;
    let version = app
        .put_object_tagging(&i.bucket, &i.key, i.version_id.as_deref(), tags)
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(PutObjectTaggingOutput {
        version_id: Some(version),
    }))
}

/// GetObjectTagging: the version's tags (an empty set when it has none, as S3).
pub async fn get_object_tagging(
    app: &Tessera,
    req: S3Request<GetObjectTaggingInput>,
) -> S3Result<S3Response<GetObjectTaggingOutput>> {
    let i = req.input;
    let (version, tags) = app
        .object_tagging(&i.bucket, &i.key, i.version_id.as_deref())
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(GetObjectTaggingOutput {
        tag_set: tags_out(tags.tags()),
        version_id: Some(version),
    }))
}

/// DeleteObjectTagging: removes the version's tags.
pub async fn delete_object_tagging(
    app: &Tessera,
    req: S3Request<DeleteObjectTaggingInput>,
) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
    let i = req.input;
    let version = app
        .put_object_tagging(&i.bucket, &i.key, i.version_id.as_deref(), Tags::default())
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(DeleteObjectTaggingOutput {
        version_id: Some(version),
    }))
}

/// The tags of a write's `x-amz-tagging` header (object rules: at most 10).
pub(crate) fn tagging_header(header: Option<&str>) -> S3Result<Vec<(String, String)>> {
    match header {
        None => Ok(Vec::new()),
        Some(h) => Ok(Tags::parse_header(h).map_err(to_s3)?.tags().to_vec()),
    }
}

/// `x-amz-tagging-count` for a GET / HEAD of a version with tags.
pub(crate) fn tagging_count(tags: &[(String, String)]) -> Option<i32> {
    (!tags.is_empty()).then(|| i32::try_from(tags.len()).unwrap_or(i32::MAX))
}
