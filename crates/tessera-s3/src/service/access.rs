//! Access-control operations on buckets and objects: bucket policy and its status,
//! PublicAccessBlock, ownership controls, bucket and object ACLs. Authorization already ran
//! (the bucket comes from the access check); these read and write the settings.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};
use tessera_core::access::{
    acl_error, AclRequest, ObjectOwnership as Ownership, PublicAccessBlock, WriteAccess,
};
use tessera_core::acl::{Acl, Grant};
use tessera_core::{Error, Tessera};

use crate::acl::{from_dto, grant_headers, to_dto};
use crate::auth::{bucket, caller};
use crate::errors::to_s3;

/// The ACL request of an operation's `x-amz-acl` and `x-amz-grant-*` fields.
pub(crate) fn acl_request_of(
    canned: Option<&str>,
    full_control: Option<&str>,
    read: Option<&str>,
    read_acp: Option<&str>,
    write: Option<&str>,
    write_acp: Option<&str>,
) -> AclRequest {
    AclRequest {
        canned: canned.map(str::to_owned),
        grants: grant_headers(full_control, read, read_acp, write, write_acp)
            .into_iter()
            .map(|(p, v)| (p, v.to_owned()))
            .collect(),
    }
}

/// The [`AclRequest`] of any s3s input with `acl` and the `grant_*` fields; object writes have
/// no `grant_write` (pass `None`), bucket ACL requests do.
macro_rules! acl_request {
    ($input:expr, $write:expr) => {
        $crate::service::access::acl_request_of(
            $input.acl.as_ref().map(|a| a.as_str()),
            $input.grant_full_control.as_deref(),
            $input.grant_read.as_deref(),
            $input.grant_read_acp.as_deref(),
            $write,
            $input.grant_write_acp.as_deref(),
        )
    };
}
pub(crate) use acl_request;

/// The owner and ACL of an object the request writes, from its ACL fields.
pub(crate) async fn write_access(
    app: &Tessera,
    ext: &http::Extensions,
    acl: &AclRequest,
) -> S3Result<WriteAccess> {
    let b = bucket(ext)?;
    let caller = caller(ext)?;
    app.write_access(&b, caller.as_deref(), acl)
        .await
        .map_err(to_s3)
}

/// The owner named in a Put*Acl body and its grants.
fn acl_body(body: Option<&AccessControlPolicy>) -> S3Result<Option<(Option<String>, Vec<Grant>)>> {
    body.map(from_dto)
        .transpose()
        .map_err(|e| to_s3(acl_error(e)))
}

/// Owner and grants of an ACL in S3's form, with the accounts' names as display names.
async fn acl_output(app: &Tessera, acl: &Acl) -> S3Result<(Option<Owner>, Option<Grants>)> {
    let accounts = app.accounts().await.map_err(to_s3)?;
    let policy = to_dto(acl, |canonical| {
        accounts
            .iter()
            .find(|a| a.canonical_id == canonical)
            .map(|a| a.name.clone())
    });
    Ok((policy.owner, policy.grants))
}

/// PutBucketPolicy.
pub async fn put_bucket_policy(
    app: &Tessera,
    req: S3Request<PutBucketPolicyInput>,
) -> S3Result<S3Response<PutBucketPolicyOutput>> {
    let b = bucket(&req.extensions)?;
    let confirm = req.input.confirm_remove_self_bucket_access.unwrap_or(false);
    app.put_bucket_policy(&b, &req.input.policy, confirm)
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(PutBucketPolicyOutput {}))
}

/// GetBucketPolicy.
pub async fn get_bucket_policy(
    app: &Tessera,
    req: S3Request<GetBucketPolicyInput>,
) -> S3Result<S3Response<GetBucketPolicyOutput>> {
    let b = bucket(&req.extensions)?;
    let policy = app.bucket_policy(&b).map_err(to_s3)?;
    Ok(S3Response::new(GetBucketPolicyOutput {
        policy: Some(policy),
    }))
}

/// DeleteBucketPolicy.
pub async fn delete_bucket_policy(
    app: &Tessera,
    req: S3Request<DeleteBucketPolicyInput>,
) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
    let b = bucket(&req.extensions)?;
    app.delete_bucket_policy(&b.name).await.map_err(to_s3)?;
    Ok(S3Response::new(DeleteBucketPolicyOutput {}))
}

/// GetBucketPolicyStatus.
pub async fn get_bucket_policy_status(
    app: &Tessera,
    req: S3Request<GetBucketPolicyStatusInput>,
) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
    let b = bucket(&req.extensions)?;
    let public = app.bucket_policy_is_public(&b).map_err(to_s3)?;
    Ok(S3Response::new(GetBucketPolicyStatusOutput {
        policy_status: Some(PolicyStatus {
            is_public: Some(public),
        }),
    }))
}

/// PutPublicAccessBlock (absent flags are false, as S3).
pub async fn put_public_access_block(
    app: &Tessera,
    req: S3Request<PutPublicAccessBlockInput>,
) -> S3Result<S3Response<PutPublicAccessBlockOutput>> {
    let b = bucket(&req.extensions)?;
    let c = &req.input.public_access_block_configuration;
    let pab = PublicAccessBlock {
        block_public_acls: c.block_public_acls.unwrap_or(false),
        ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
        block_public_policy: c.block_public_policy.unwrap_or(false),
        restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
    };
    app.put_public_access_block(&b.name, pab)
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(PutPublicAccessBlockOutput {}))
}

/// GetPublicAccessBlock.
pub async fn get_public_access_block(
    app: &Tessera,
    req: S3Request<GetPublicAccessBlockInput>,
) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
    let b = bucket(&req.extensions)?;
    let pab = app.public_access_block(&b).map_err(to_s3)?;
    Ok(S3Response::new(GetPublicAccessBlockOutput {
        public_access_block_configuration: Some(PublicAccessBlockConfiguration {
            block_public_acls: Some(pab.block_public_acls),
            ignore_public_acls: Some(pab.ignore_public_acls),
            block_public_policy: Some(pab.block_public_policy),
            restrict_public_buckets: Some(pab.restrict_public_buckets),
        }),
    }))
}

/// DeletePublicAccessBlock.
pub async fn delete_public_access_block(
    app: &Tessera,
    req: S3Request<DeletePublicAccessBlockInput>,
) -> S3Result<S3Response<DeletePublicAccessBlockOutput>> {
    let b = bucket(&req.extensions)?;
    app.delete_public_access_block(&b.name)
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(DeletePublicAccessBlockOutput {}))
}

/// PutBucketOwnershipControls: exactly one rule.
pub async fn put_bucket_ownership_controls(
    app: &Tessera,
    req: S3Request<PutBucketOwnershipControlsInput>,
) -> S3Result<S3Response<PutBucketOwnershipControlsOutput>> {
    let b = bucket(&req.extensions)?;
    let rules = &req.input.ownership_controls.rules;
    let [rule] = rules.as_slice() else {
        return Err(to_s3(Error::MalformedXml));
    };
    let ownership = Ownership::parse(rule.object_ownership.as_str()).map_err(to_s3)?;
    app.put_ownership(&b, ownership).await.map_err(to_s3)?;
    Ok(S3Response::new(PutBucketOwnershipControlsOutput {}))
}

/// GetBucketOwnershipControls.
pub async fn get_bucket_ownership_controls(
    app: &Tessera,
    req: S3Request<GetBucketOwnershipControlsInput>,
) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
    let b = bucket(&req.extensions)?;
    let ownership = app.ownership(&b).map_err(to_s3)?;
    Ok(S3Response::new(GetBucketOwnershipControlsOutput {
        ownership_controls: Some(OwnershipControls {
            rules: vec![OwnershipControlsRule {
                object_ownership: ObjectOwnership::from(ownership.as_str().to_owned()),
            }],
        }),
    }))
}

/// DeleteBucketOwnershipControls.
pub async fn delete_bucket_ownership_controls(
    app: &Tessera,
    req: S3Request<DeleteBucketOwnershipControlsInput>,
) -> S3Result<S3Response<DeleteBucketOwnershipControlsOutput>> {
    let b = bucket(&req.extensions)?;
    app.delete_ownership(&b.name).await.map_err(to_s3)?;
    Ok(S3Response::new(DeleteBucketOwnershipControlsOutput {}))
}

/// GetBucketAcl.
pub async fn get_bucket_acl(
    app: &Tessera,
    req: S3Request<GetBucketAclInput>,
) -> S3Result<S3Response<GetBucketAclOutput>> {
    let b = bucket(&req.extensions)?;
    let acl = app.bucket_acl(&b).await.map_err(to_s3)?;
    let (owner, grants) = acl_output(app, &acl).await?;
    Ok(S3Response::new(GetBucketAclOutput { grants, owner }))
}

/// PutBucketAcl: a canned ACL, grant headers, or an AccessControlPolicy body.
pub async fn put_bucket_acl(
    app: &Tessera,
    req: S3Request<PutBucketAclInput>,
) -> S3Result<S3Response<PutBucketAclOutput>> {
    let b = bucket(&req.extensions)?;
    let i = &req.input;
    let headers = acl_request!(i, i.grant_write.as_deref());
    let body = acl_body(i.access_control_policy.as_ref())?;
    app.put_bucket_acl(&b, &headers, body)
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(PutBucketAclOutput {}))
}

/// GetObjectAcl.
pub async fn get_object_acl(
    app: &Tessera,
    req: S3Request<GetObjectAclInput>,
) -> S3Result<S3Response<GetObjectAclOutput>> {
    let i = &req.input;
    let object = app
        .object_version(&i.bucket, &i.key, i.version_id.as_deref())
        .await
        .map_err(to_s3)?;
    let acl = app.object_acl(&object).await.map_err(to_s3)?;
    let (owner, grants) = acl_output(app, &acl).await?;
    Ok(S3Response::new(GetObjectAclOutput {
        grants,
        owner,
        request_charged: None,
    }))
}

/// PutObjectAcl.
pub async fn put_object_acl(
    app: &Tessera,
    req: S3Request<PutObjectAclInput>,
) -> S3Result<S3Response<PutObjectAclOutput>> {
    let b = bucket(&req.extensions)?;
    let i = &req.input;
    let object = app
        .object_version(&i.bucket, &i.key, i.version_id.as_deref())
        .await
        .map_err(to_s3)?;
    let headers = acl_request!(i, i.grant_write.as_deref());
    let body = acl_body(i.access_control_policy.as_ref())?;
    app.put_object_acl(&b, &object, &headers, body)
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(PutObjectAclOutput {
        request_charged: None,
    }))
}
