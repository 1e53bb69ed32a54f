//! Multipart uploads: create, upload part (or copy), complete, abort, list parts and uploads.

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};
use tessera_core::checksum::ChecksumValue;
use tessera_core::error::InvalidPartReason;
use tessera_core::multipart::{
    asked_part_checksums, copied_part_checksums, listed_part_checksums, parse_copy_source_range,
    validate_part_number, CompletePart, CompleteUploadRequest, CopySource as DomainCopySource,
    CreateUploadRequest,
};
use tessera_core::Tessera;

use super::access::{acl_request, write_access};
use super::common::{
    checks, common_prefixes, copy_source, delimiter_out, encode, encoding_url, i32_of, i64_of,
    marker_out, read_conditions, write_condition, Owners,
};
use super::encryption::{
    copy_source_customer_key, request_customer_key, set_sse, sse_request, write_sse_headers, SseOut,
};
use super::objects::attrs_in;
use crate::auth::caller;
use crate::convert::{self, checksum_fields, set_checksums, ChecksumOut};
use crate::errors::to_s3;

/// CreateMultipartUpload.
pub async fn create_multipart_upload(
    app: &Tessera,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let initiator = caller(&req.extensions)?.map_or_else(|| "anonymous".to_owned(), |p| p.arn());
    let input = req.input;
    let access = write_access(app, &req.extensions, &acl_request!(input, None)).await?;
    let mut attrs = attrs_in(
        input.storage_class.as_ref().map(StorageClass::as_str),
        input.website_redirect_location,
        input.tagging.as_deref(),
    )?;
    // Kept on the upload: the object gets this lock at Complete.
    super::lock::lock_in(
        app,
        &req.extensions,
        &input.key,
        input.object_lock_mode,
        input.object_lock_retain_until_date,
        input.object_lock_legal_hold_status,
        &mut attrs,
    )
    .await?;
    let encryption = sse_request(&req.extensions, write_sse_headers!(input))?;
    let customer = encryption.customer.clone();
    let request = CreateUploadRequest {
        bucket: input.bucket.clone(),
        key: input.key.clone(),
        headers: convert::headers_in(
            input.content_type,
            input.content_encoding,
            input.content_disposition,
            input.content_language,
            input.cache_control,
            input.expires,
        ),
        user_metadata: convert::metadata_in(input.metadata),
        initiator,
        owner: access.owner,
        acl: access.acl,
        attrs,
        encryption,
        checksum_algorithm: input
            .checksum_algorithm
            .as_ref()
            .map(convert::algorithm)
            .transpose()?,
        checksum_type: input
            .checksum_type
            .as_ref()
            .map(convert::checksum_type)
            .transpose()?,
    };
    let upload = app.create_upload(request).await.map_err(to_s3)?;
    let (abort_date, abort_rule_id) =
        super::lifecycle::abort_fields(app, &req.extensions, &upload.key, upload.initiated);
    let mut out = CreateMultipartUploadOutput {
        abort_date,
        abort_rule_id,
        bucket: Some(upload.bucket),
        key: Some(upload.key),
        upload_id: Some(upload.upload_id),
        checksum_algorithm: upload.checksum_algorithm.map(convert::algorithm_out),
        checksum_type: upload.checksum_type.map(convert::checksum_type_out),
        ..Default::default()
    };
    set_sse!(out, SseOut::of(&upload.attrs, customer.as_ref()));
    Ok(S3Response::new(out))
}

/// The storage class listings report: the one asked for, or STANDARD.
fn class_or_standard(attrs: &tessera_core::ObjectAttrs) -> StorageClass {
    super::objects::storage_class_out(attrs)
        .unwrap_or_else(|| StorageClass::from_static(StorageClass::STANDARD))
}

/// UploadPart.
pub async fn upload_part(
    app: &Tessera,
    req: S3Request<UploadPartInput>,
) -> S3Result<S3Response<UploadPartOutput>> {
    let S3Request {
        input,
        headers,
        trailing_headers,
        extensions,
        ..
    } = req;
    let part_number = validate_part_number(i64::from(input.part_number)).map_err(to_s3)?;
    let customer = request_customer_key!(&extensions, input)?;
    let checks = checks(
        &headers,
        trailing_headers,
        input.content_md5,
        checksum_fields!(input),
        input.checksum_algorithm.as_ref(),
    )?;
    let (part, asked, encryption) = app
        .upload_part_with_key(
            &input.bucket,
            &input.key,
            &input.upload_id,
            part_number,
            convert::body(input.body),
            checks,
            customer.as_ref(),
        )
        .await
        .map_err(to_s3)?;
    let mut out = UploadPartOutput {
        e_tag: Some(convert::etag(&part.etag)),
        ..Default::default()
    };
    set_sse!(out, SseOut::from_kind(encryption, customer.as_ref()));
    let reported = asked_part_checksums(&part.checksums, asked);
    set_checksums!(out, ChecksumOut::values(&reported));
    Ok(S3Response::new(out))
}

/// UploadPartCopy.
pub async fn upload_part_copy(
    app: &Tessera,
    req: S3Request<UploadPartCopyInput>,
) -> S3Result<S3Response<UploadPartCopyOutput>> {
    let input = req.input;
    let part_number = validate_part_number(i64::from(input.part_number)).map_err(to_s3)?;
    let (bucket, key, version_id) = copy_source(&input.copy_source)?;
    let customer = request_customer_key!(&req.extensions, input)?;
    let source_key = copy_source_customer_key!(&req.extensions, input)?;
    let range = input
        .copy_source_range
        .as_deref()
        .map(parse_copy_source_range)
        .transpose()
        .map_err(to_s3)?;
    let source = DomainCopySource {
        bucket,
        key,
        version_id: version_id.clone(),
        range,
        conditions: read_conditions(
            input.copy_source_if_match,
            input.copy_source_if_none_match,
            input.copy_source_if_modified_since,
            input.copy_source_if_unmodified_since,
        ),
        customer_key: source_key,
    };
    let (part, _) = app
        .upload_part_copy_with_key(
            &input.bucket,
            &input.key,
            &input.upload_id,
            part_number,
            source,
            customer.as_ref(),
        )
        .await
        .map_err(to_s3)?;
    let upload = app
        .upload(&input.bucket, &input.key, &input.upload_id)
        .await
        .ok();
    let sse = upload
        .as_ref()
        .map(|u| SseOut::of(&u.attrs, customer.as_ref()))
        .unwrap_or_default();
    let reported =
        copied_part_checksums(&part.checksums, upload.and_then(|u| u.checksum_algorithm));
    let mut result = CopyPartResult {
        e_tag: Some(convert::etag(&part.etag)),
        last_modified: Some(convert::ts(part.last_modified)),
        ..Default::default()
    };
    set_checksums!(result, ChecksumOut::values(&reported));
    let mut out = UploadPartCopyOutput {
        copy_part_result: Some(result),
        copy_source_version_id: version_id,
        ..Default::default()
    };
    set_sse!(out, sse);
    Ok(S3Response::new(out))
}

/// The parts a CompleteMultipartUpload names, with the checksums sent for each.
fn complete_parts(named: Vec<CompletedPart>) -> S3Result<Vec<CompletePart>> {
    let mut parts = Vec::with_capacity(named.len());
    for p in named {
        let n = p.part_number.ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::MalformedXML,
                "Each Part must have a PartNumber",
            )
        })?;
        let part_number = validate_part_number(i64::from(n)).map_err(to_s3)?;
        let etag = p.e_tag.as_ref().map(|e| e.value().to_string());
        let mut checksums = Vec::new();
        for (alg, v) in checksum_fields!(p).all() {
            checksums.push(ChecksumValue::from_base64(alg, &v).map_err(|_| {
                to_s3(tessera_core::Error::InvalidPart {
                    part_number,
                    reason: InvalidPartReason::InvalidChecksum,
                })
            })?);
        }
        parts.push(CompletePart {
            part_number,
            etag,
            checksums,
        });
    }
    Ok(parts)
}

/// CompleteMultipartUpload.
pub async fn complete_multipart_upload(
    app: &Tessera,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let input = req.input;
    // Optional on Complete (S3 needs them only for checksummed SSE-C uploads): checked against
    // the upload's key when sent, and echoed back.
    let customer = request_customer_key!(&req.extensions, input)?;
    let named = input
        .multipart_upload
        .and_then(|m| m.parts)
        .unwrap_or_default();
    let parts = complete_parts(named)?;
    let object_checksum = checksum_fields!(input).raw()?;
    let request = CompleteUploadRequest {
        bucket: input.bucket.clone(),
        key: input.key.clone(),
        upload_id: input.upload_id,
        parts,
        object_checksum,
        checksum_type: input
            .checksum_type
            .as_ref()
            .map(convert::checksum_type)
            .transpose()?,
        object_size: input.mpu_object_size.map(|n| u64::try_from(n).unwrap_or(0)),
        condition: write_condition(input.if_match, input.if_none_match)?,
        customer_key: customer.clone(),
    };
    let object = app.complete_upload(request).await.map_err(to_s3)?;
    let mut out = CompleteMultipartUploadOutput {
        bucket: Some(input.bucket.clone()),
        key: Some(input.key.clone()),
        e_tag: Some(convert::etag(&object.etag)),
        location: Some(format!(
            "/{}/{}",
            input.bucket,
            convert::url_encode(&input.key)
        )),
        checksum_type: convert::object_checksum_type(&object),
        version_id: (!object.is_null_version()).then(|| object.version_id.clone()),
        expiration: super::lifecycle::expiration_header(
            app,
            &req.extensions,
            &object.key,
            object.size,
            object.last_modified,
        ),
        ..Default::default()
    };
    set_checksums!(out, ChecksumOut::object(object.checksum.as_ref()));
    let sse = SseOut::of(&object.attrs, customer.as_ref());
    out.server_side_encryption = sse.algorithm;
    out.ssekms_key_id = sse.kms_key_id;
    out.bucket_key_enabled = sse.bucket_key;
    let mut resp = S3Response::new(out);
    // The SSE-C echo, as on every other SSE-C answer (s3s's output has no fields for it).
    for (name, value) in [
        (
            "x-amz-server-side-encryption-customer-algorithm",
            sse.customer_algorithm,
        ),
        (
            "x-amz-server-side-encryption-customer-key-md5",
            sse.customer_key_md5,
        ),
    ] {
        if let Some(v) = value.and_then(|v| http::HeaderValue::from_str(&v).ok()) {
            resp.headers.insert(name, v);
        }
    }
    Ok(resp)
}

/// AbortMultipartUpload.
pub async fn abort_multipart_upload(
    app: &Tessera,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let input = req.input;
    app.abort_upload(&input.bucket, &input.key, &input.upload_id)
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(AbortMultipartUploadOutput::default()))
}

/// ListParts.
pub async fn list_parts(
    app: &Tessera,
    req: S3Request<ListPartsInput>,
) -> S3Result<S3Response<ListPartsOutput>> {
    let owners = Owners::load(app).await?;
    let input = req.input;
    let marker = u32::try_from(input.part_number_marker.unwrap_or(0).max(0)).unwrap_or(0);
    let max = convert::page_size(input.max_parts, "max-parts")?;
    let page = app
        .list_parts(&input.bucket, &input.key, &input.upload_id, marker, max)
        .await
        .map_err(to_s3)?;
    let upload_algorithm = page.upload.checksum_algorithm;
    let (abort_date, abort_rule_id) = super::lifecycle::abort_fields(
        app,
        &req.extensions,
        &page.upload.key,
        page.upload.initiated,
    );
    let parts = page
        .parts
        .iter()
        .map(|p| {
            let mut out = Part {
                e_tag: Some(convert::etag(&p.etag)),
                last_modified: Some(convert::ts(p.last_modified)),
                part_number: Some(i32_of(p.part_number)),
                size: Some(i64_of(p.size)),
                ..Default::default()
            };
            let reported = listed_part_checksums(&p.checksums, upload_algorithm);
            set_checksums!(out, ChecksumOut::values(&reported));
            out
        })
        .collect();
    Ok(S3Response::new(ListPartsOutput {
        abort_date,
        abort_rule_id,
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(input.upload_id),
        checksum_algorithm: page.upload.checksum_algorithm.map(convert::algorithm_out),
        checksum_type: page.upload.checksum_type.map(convert::checksum_type_out),
        initiator: Some(owners.initiator(&page.upload.initiator)),
        owner: Some(owners.owner(&page.upload.owner)),
        storage_class: Some(class_or_standard(&page.upload.attrs)),
        is_truncated: Some(page.is_truncated),
        max_parts: Some(convert::page_size_out(max)),
        part_number_marker: input.part_number_marker,
        next_part_number_marker: page.next_marker.map(i32_of),
        parts: Some(parts),
        ..Default::default()
    }))
}

/// ListMultipartUploads.
pub async fn list_multipart_uploads(
    app: &Tessera,
    req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    let owners = Owners::load(app).await?;
    let input = req.input;
    let url = encoding_url(&input.encoding_type)?;
    let max = convert::page_size(input.max_uploads, "max-uploads")?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let page = app
        .list_uploads(
            &input.bucket,
            &prefix,
            input.delimiter.as_deref(),
            input.key_marker.as_deref(),
            input.upload_id_marker.as_deref(),
            max,
        )
        .await
        .map_err(to_s3)?;
    let uploads = page
        .uploads
        .iter()
        .map(|u| MultipartUpload {
            checksum_algorithm: u.checksum_algorithm.map(convert::algorithm_out),
            checksum_type: u.checksum_type.map(convert::checksum_type_out),
            initiated: Some(convert::ts(u.initiated)),
            initiator: Some(owners.initiator(&u.initiator)),
            key: Some(encode(&u.key, url)),
            owner: Some(owners.owner(&u.owner)),
            storage_class: Some(class_or_standard(&u.attrs)),
            upload_id: Some(u.upload_id.clone()),
        })
        .collect();
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(input.bucket),
        common_prefixes: Some(common_prefixes(&page.common_prefixes, url)),
        delimiter: delimiter_out(input.delimiter, url),
        encoding_type: input.encoding_type,
        is_truncated: Some(page.is_truncated),
        key_marker: Some(marker_out(input.key_marker.as_deref(), url)),
        max_uploads: Some(convert::page_size_out(max)),
        next_key_marker: page.next_key_marker.map(|k| encode(&k, url)),
        next_upload_id_marker: page.next_upload_id_marker,
        prefix: Some(encode(&prefix, url)),
        upload_id_marker: Some(input.upload_id_marker.unwrap_or_default()),
        uploads: Some(uploads),
        request_charged: None,
    }))
}
