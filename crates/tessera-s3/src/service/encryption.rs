//! Bucket default encryption: Put/Get/DeleteBucketEncryption. Authorization already ran (the
//! bucket comes from the access check); these read and write the setting. Writes without
//! encryption headers get the default (`tessera_core::sse_io`).
//!
//! Also the request side of SSE on object operations: the SSE-C headers, a write's
//! `x-amz-server-side-encryption`, and the encryption response headers.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};
use tessera_core::error::EncryptionError;
use tessera_core::records::ObjectAttrs;
use tessera_core::sse::{BucketEncryption, CustomerKey, SseAlgorithm, AES256};
use tessera_core::sse_io::{encryption_of, SseKindOut, SseRequest};
use tessera_core::{Error, Tessera};

use crate::auth::{bucket, requester};
use crate::errors::to_s3;

/// PutBucketEncryption: one rule, SSEAlgorithm AES256, aws:kms (with a KMSMasterKeyID or the
/// default key) or aws:kms:dsse.
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
                    kms_master_key_id: config.kms_key_id.clone(),
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

/// The SSE-C key of a request (or of its copy source) from its three headers; `None` when
/// none is sent. Refused over plain HTTP unless the server allows it (test rigs).
pub(crate) fn customer_key(
    ext: &http::Extensions,
    algorithm: Option<&str>,
    key: Option<&str>,
    key_md5: Option<&str>,
) -> S3Result<Option<CustomerKey>> {
    if algorithm.is_none() && key.is_none() && key_md5.is_none() {
        return Ok(None);
    }
    let allowed = requester(ext)?.sse_c_allowed;
    CustomerKey::parse(algorithm, key, key_md5, allowed).map_err(to_s3)
}

/// The SSE-C key of an s3s input from its three `sse_customer_*` fields.
macro_rules! request_customer_key {
    ($ext:expr, $input:expr) => {
        $crate::service::encryption::customer_key(
            $ext,
            $input.sse_customer_algorithm.as_deref(),
            $input.sse_customer_key.as_deref(),
            $input.sse_customer_key_md5.as_deref(),
        )
    };
}
pub(crate) use request_customer_key;

/// The copy source's SSE-C key of an s3s input from its `copy_source_sse_customer_*` fields.
macro_rules! copy_source_customer_key {
    ($ext:expr, $input:expr) => {
        $crate::service::encryption::customer_key(
            $ext,
            $input.copy_source_sse_customer_algorithm.as_deref(),
            $input.copy_source_sse_customer_key.as_deref(),
            $input.copy_source_sse_customer_key_md5.as_deref(),
        )
    };
}
pub(crate) use copy_source_customer_key;

/// The encryption headers of a write (PutObject, CopyObject, CreateMultipartUpload):
/// `x-amz-server-side-encryption`, the KMS key id and bucket-key flag, the SSE-C headers.
pub(crate) struct WriteSseHeaders<'a> {
    pub(crate) requested: Option<&'a ServerSideEncryption>,
    pub(crate) kms_key_id: Option<&'a str>,
    pub(crate) bucket_key: Option<bool>,
    pub(crate) customer_algorithm: Option<&'a str>,
    pub(crate) customer_key: Option<&'a str>,
    pub(crate) customer_key_md5: Option<&'a str>,
}

/// [`WriteSseHeaders`] of an s3s write input (the three share the field names).
macro_rules! write_sse_headers {
    ($input:expr) => {
        $crate::service::encryption::WriteSseHeaders {
            requested: $input.server_side_encryption.as_ref(),
            kms_key_id: $input.ssekms_key_id.as_deref(),
            bucket_key: $input.bucket_key_enabled,
            customer_algorithm: $input.sse_customer_algorithm.as_deref(),
            customer_key: $input.sse_customer_key.as_deref(),
            customer_key_md5: $input.sse_customer_key_md5.as_deref(),
        }
    };
}
pub(crate) use write_sse_headers;

/// What a write asks for, from its encryption headers.
pub(crate) fn sse_request(ext: &http::Extensions, h: WriteSseHeaders<'_>) -> S3Result<SseRequest> {
    let requested = h
        .requested
        .map(|s| SseAlgorithm::parse(s.as_str()))
        .transpose()
        .map_err(to_s3)?;
    Ok(SseRequest {
        requested,
        kms_key_id: h.kms_key_id.map(str::to_owned),
        bucket_key: h.bucket_key,
        customer: customer_key(
            ext,
            h.customer_algorithm,
            h.customer_key,
            h.customer_key_md5,
        )?,
    })
}

/// The encryption response headers of an object or upload: `x-amz-server-side-encryption:
/// AES256` for SSE-S3, `aws:kms` with the key's ARN (and the bucket-key flag) for SSE-KMS, the
/// customer algorithm and the key's MD5 (when the request sent the key) for SSE-C, nothing for
/// a plain object.
#[derive(Default)]
pub(crate) struct SseOut {
    pub(crate) algorithm: Option<ServerSideEncryption>,
    pub(crate) kms_key_id: Option<String>,
    pub(crate) bucket_key: Option<bool>,
    pub(crate) customer_algorithm: Option<String>,
    pub(crate) customer_key_md5: Option<String>,
}

impl SseOut {
    pub(crate) fn of(attrs: &ObjectAttrs, key: Option<&CustomerKey>) -> Self {
        Self::from_kind(encryption_of(attrs), key)
    }

    pub(crate) fn from_kind(kind: Option<SseKindOut>, key: Option<&CustomerKey>) -> Self {
        match kind {
            None => Self::default(),
            Some(SseKindOut::Managed) => Self {
                algorithm: Some(ServerSideEncryption::from_static(
                    ServerSideEncryption::AES256,
                )),
                ..Self::default()
            },
            Some(SseKindOut::Customer) => Self {
                customer_algorithm: Some(AES256.to_owned()),
                customer_key_md5: key.map(|k| k.key_md5().to_owned()),
                ..Self::default()
            },
            Some(SseKindOut::Kms {
                arn,
                dsse,
                bucket_key,
            }) => Self {
                algorithm: Some(ServerSideEncryption::from_static(if dsse {
                    ServerSideEncryption::AWS_KMS_DSSE
                } else {
                    ServerSideEncryption::AWS_KMS
                })),
                kms_key_id: Some(arn),
                bucket_key: bucket_key.then_some(true),
                ..Self::default()
            },
        }
    }
}

/// Sets the encryption fields of an s3s output from an [`SseOut`].
macro_rules! set_sse {
    ($out:expr, $sse:expr) => {{
        let sse: $crate::service::encryption::SseOut = $sse;
        $out.server_side_encryption = sse.algorithm;
        $out.ssekms_key_id = sse.kms_key_id;
        $out.bucket_key_enabled = sse.bucket_key;
        $out.sse_customer_algorithm = sse.customer_algorithm;
        $out.sse_customer_key_md5 = sse.customer_key_md5;
    }};
}
pub(crate) use set_sse;
