//! Object operations: put, get, head, delete (one or many), copy, attributes.

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};
use tessera_core::conditions::ReadConditions;
use tessera_core::multipart::{asked_part_checksums, validate_part_number};
use tessera_core::objects::{
    check_delete_batch, storage_class, ByteRange, CopyObjectRequest, GetObjectRequest, ObjectRead,
    PutObjectRequest, RangeRequest,
};
use tessera_core::sse::{CustomerKey, KeyUse};
use tessera_core::{ObjectAttrs, ObjectRecord, Tessera, WriteCondition};

use super::access::{acl_request, write_access};
use super::common::{checks, copy_source, i32_of, i64_of, read_conditions, write_condition};
use super::encryption::{
    copy_source_customer_key, request_customer_key, set_sse, sse_request, write_sse_headers, SseOut,
};
use super::lock::{bypass_governance, lock_in, lock_out};
use super::tagging::{tagging_count, tagging_header};
use crate::auth::{caller, requester};
use crate::convert::{self, checksum_fields, set_checksums, ChecksumOut};
use crate::errors::to_s3;

fn range_request(r: Option<Range>) -> Option<RangeRequest> {
    r.map(|r| match r {
        Range::Int { first, last } => RangeRequest::FromTo { first, last },
        Range::Suffix { length } => RangeRequest::Suffix(length),
    })
}

/// An `If-Match` / `If-None-Match` request header as a condition (`*` or a list of ETags).
fn header_condition(
    headers: &http::HeaderMap,
    name: http::header::HeaderName,
) -> S3Result<Option<ETagCondition>> {
    let Some(value) = headers.get(&name) else {
        return Ok(None);
    };
    ETagCondition::parse_http_header(value.as_bytes())
        .map(Some)
        .map_err(|_| {
            S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                format!("Invalid {name} header value"),
            )
        })
}

fn checksum_enabled(mode: &Option<ChecksumMode>) -> bool {
    mode.as_ref()
        .is_some_and(|m| m.as_str().eq_ignore_ascii_case("ENABLED"))
}

fn content_range(r: &ByteRange, size: u64) -> String {
    format!("bytes {}-{}/{}", r.start, r.end, size)
}

/// The stored attributes of a write's `x-amz-storage-class` (InvalidStorageClass for a class
/// S3 does not know), `x-amz-website-redirect-location` and `x-amz-tagging`.
pub(crate) fn attrs_in(
    class: Option<&str>,
    website_redirect: Option<String>,
    tagging: Option<&str>,
) -> S3Result<ObjectAttrs> {
    Ok(ObjectAttrs {
        storage_class: storage_class(class).map_err(to_s3)?,
        website_redirect,
        tags: tagging_header(tagging)?,
        ..ObjectAttrs::default()
    })
}

/// The version id a response reports: a real version's, or `null` when the request named it.
fn version_out(object: &ObjectRecord, asked: bool) -> Option<String> {
    (asked || !object.is_null_version()).then(|| object.version_id.clone())
}

/// The storage class a response reports (none for STANDARD, as S3).
pub(crate) fn storage_class_out(object_attrs: &ObjectAttrs) -> Option<StorageClass> {
    object_attrs.storage_class.clone().map(StorageClass::from)
}

/// The domain request of a GetObject / HeadObject.
fn object_request(
    bucket: String,
    key: String,
    version_id: Option<String>,
    range: Option<Range>,
    part_number: Option<i32>,
    conditions: ReadConditions,
) -> S3Result<GetObjectRequest> {
    Ok(GetObjectRequest {
        version_id,
        bucket,
        key,
        range: range_request(range),
        part_number: part_number
            .map(|n| validate_part_number(i64::from(n)))
            .transpose()
            .map_err(to_s3)?,
        conditions,
        customer_key: None,
    })
}

/// The headers describing an object (or the range / part of it served): HeadObject's output,
/// which GetObject's repeats. Checksums only when asked for.
fn head_output(
    read: &ObjectRead,
    part_number: Option<u32>,
    mode: &Option<ChecksumMode>,
    asked_version: bool,
    customer_key: Option<&CustomerKey>,
) -> HeadObjectOutput {
    let (o, range) = (&read.object, read.range);
    let length = range.map_or(o.size, |r| r.end - r.start + 1);
    let checksum = checksum_enabled(mode)
        .then(|| read.reported_checksum(part_number))
        .flatten();
    let mut out = HeadObjectOutput {
        accept_ranges: Some("bytes".into()),
        cache_control: o.headers.cache_control.clone(),
        checksum_type: checksum
            .as_ref()
            .map(|c| convert::checksum_type_out(c.checksum_type)),
        content_disposition: o.headers.content_disposition.clone(),
        content_encoding: o.headers.content_encoding.clone(),
        content_language: o.headers.content_language.clone(),
        content_length: Some(i64_of(length)),
        content_range: range.map(|r| content_range(&r, o.size)),
        content_type: o.headers.content_type.clone(),
        e_tag: Some(convert::etag(&o.etag)),
        expires: o
            .headers
            .expires
            .as_deref()
            .and_then(convert::parse_http_date),
        last_modified: Some(convert::ts(o.last_modified)),
        metadata: convert::metadata_out(&o.user_metadata),
        parts_count: part_number.and(o.parts_count).map(i32_of),
        storage_class: storage_class_out(&o.attrs),
        website_redirect_location: o.attrs.website_redirect.clone(),
        version_id: version_out(o, asked_version),
        ..Default::default()
    };
    set_checksums!(out, ChecksumOut::object(checksum.as_ref()));
    set_sse!(out, SseOut::of(&o.attrs, customer_key));
    out
}

/// PutObject.
pub async fn put_object(
    app: &Tessera,
    req: S3Request<PutObjectInput>,
) -> S3Result<S3Response<PutObjectOutput>> {
    let S3Request {
        input,
        headers,
        trailing_headers,
        extensions: req_extensions,
        ..
    } = req;
    let checks = checks(
        &headers,
        trailing_headers,
        input.content_md5,
        checksum_fields!(input),
        input.checksum_algorithm.as_ref(),
    )?;
    let access = write_access(app, &req_extensions, &acl_request!(input, None)).await?;
    let mut attrs = attrs_in(
        input.storage_class.as_ref().map(StorageClass::as_str),
        input.website_redirect_location,
        input.tagging.as_deref(),
    )?;
    lock_in(
        app,
        &req_extensions,
        &input.key,
        input.object_lock_mode,
        input.object_lock_retain_until_date,
        input.object_lock_legal_hold_status,
        &mut attrs,
    )
    .await?;
    let bucket_record = requester(&req_extensions)?.bucket.clone();
    let encryption = sse_request(&req_extensions, write_sse_headers!(input))?;
    let customer = encryption.customer.clone();
    let request = PutObjectRequest {
        bucket: input.bucket,
        key: input.key,
        headers: convert::headers_in(
            input.content_type,
            input.content_encoding,
            input.content_disposition,
            input.content_language,
            input.cache_control,
            input.expires,
        ),
        user_metadata: convert::metadata_in(input.metadata),
        checks,
        condition: write_condition(input.if_match, input.if_none_match)?,
        owner: access.owner,
        acl: access.acl,
        attrs,
        // write_access found the bucket in the access check's read.
        bucket_record,
        encryption,
    };
    let object = app
        .put_object(request, convert::body(input.body))
        .await
        .map_err(to_s3)?;
    let mut out = PutObjectOutput {
        expiration: super::lifecycle::expiration_header(
            app,
            &req_extensions,
            &object.key,
            object.size,
            object.last_modified,
        ),
        e_tag: Some(convert::etag(&object.etag)),
        checksum_type: convert::object_checksum_type(&object),
        version_id: version_out(&object, false),
        ..Default::default()
    };
    set_checksums!(out, ChecksumOut::object(object.checksum.as_ref()));
    set_sse!(out, SseOut::of(&object.attrs, customer.as_ref()));
    Ok(S3Response::new(out))
}

/// GetObject.
pub async fn get_object(
    app: &Tessera,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let i = req.input;
    let asked_version = i.version_id.is_some();
    let customer = request_customer_key!(&req.extensions, i)?;
    let mut request = object_request(
        i.bucket,
        i.key,
        i.version_id,
        i.range,
        i.part_number,
        read_conditions(
            i.if_match,
            i.if_none_match,
            i.if_modified_since,
            i.if_unmodified_since,
        ),
    )?;
    request.customer_key = customer;
    let mut read = app.get_object(&request, true).await.map_err(to_s3)?;
    let h = head_output(
        &read,
        request.part_number,
        &i.checksum_mode,
        asked_version,
        request.customer_key.as_ref(),
    );
    let o = &read.object;
    let expiration =
        super::lifecycle::expiration_header(app, &req.extensions, &o.key, o.size, o.last_modified);
    let lock = lock_out(app, &req.extensions, &read.object).await?;
    let body = read
        .body
        .take()
        .map(|b| StreamingBlob::wrap(sync_wrapper::SyncStream::new(b)));
    Ok(S3Response::new(GetObjectOutput {
        body,
        accept_ranges: h.accept_ranges,
        cache_control: h.cache_control,
        checksum_crc32: h.checksum_crc32,
        checksum_crc32c: h.checksum_crc32c,
        checksum_crc64nvme: h.checksum_crc64nvme,
        checksum_sha1: h.checksum_sha1,
        checksum_sha256: h.checksum_sha256,
        checksum_type: h.checksum_type,
        content_disposition: h.content_disposition,
        content_encoding: h.content_encoding,
        content_language: h.content_language,
        content_length: h.content_length,
        content_range: h.content_range,
        content_type: h.content_type,
        e_tag: h.e_tag,
        expires: h.expires,
        last_modified: h.last_modified,
        metadata: h.metadata,
        parts_count: h.parts_count,
        storage_class: h.storage_class,
        website_redirect_location: h.website_redirect_location,
        version_id: h.version_id,
        tag_count: tagging_count(&o.attrs.tags),
        server_side_encryption: h.server_side_encryption,
        ssekms_key_id: h.ssekms_key_id,
        bucket_key_enabled: h.bucket_key_enabled,
        sse_customer_algorithm: h.sse_customer_algorithm,
        sse_customer_key_md5: h.sse_customer_key_md5,
        expiration,
        object_lock_mode: lock.mode,
        object_lock_retain_until_date: lock.retain_until,
        object_lock_legal_hold_status: lock.legal_hold,
        ..Default::default()
    }))
}

/// HeadObject.
pub async fn head_object(
    app: &Tessera,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let i = req.input;
    let asked_version = i.version_id.is_some();
    let customer = request_customer_key!(&req.extensions, i)?;
    let mut request = object_request(
        i.bucket,
        i.key,
        i.version_id,
        i.range,
        i.part_number,
        read_conditions(
            i.if_match,
            i.if_none_match,
            i.if_modified_since,
            i.if_unmodified_since,
        ),
    )?;
    request.customer_key = customer;
    let read = app.get_object(&request, false).await.map_err(to_s3)?;
    // s3s does not turn HEAD into 206 by itself; the HTTP layer does, from Content-Range.
    let mut out = head_output(
        &read,
        request.part_number,
        &i.checksum_mode,
        asked_version,
        request.customer_key.as_ref(),
    );
    let o = &read.object;
    out.expiration =
        super::lifecycle::expiration_header(app, &req.extensions, &o.key, o.size, o.last_modified);
    let lock = lock_out(app, &req.extensions, &read.object).await?;
    out.object_lock_mode = lock.mode;
    out.object_lock_retain_until_date = lock.retain_until;
    out.object_lock_legal_hold_status = lock.legal_hold;
    let mut resp = S3Response::new(out);
    // s3s's HeadObject output has no field for it; S3 sends it on HEAD as on GET.
    if let Some(n) = tagging_count(&read.object.attrs.tags) {
        resp.headers
            .insert("x-amz-tagging-count", http::HeaderValue::from(n));
    }
    Ok(resp)
}

/// DeleteObject.
pub async fn delete_object(
    app: &Tessera,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let account = caller(&req.extensions)?.map(|p| p.account.id.clone());
    let input = req.input;
    let bypass = bypass_governance(
        app,
        &req.extensions,
        &input.bucket,
        &input.key,
        input.version_id.as_deref(),
        input.bypass_governance_retention,
    )
    .await?;
    let condition = WriteCondition {
        if_match: convert::condition(input.if_match),
        bypass_governance: bypass,
        ..WriteCondition::default()
    };
    let outcome = app
        .delete_object(
            &input.bucket,
            &input.key,
            input.version_id.as_deref(),
            condition,
            account.as_deref(),
        )
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(DeleteObjectOutput {
        delete_marker: outcome.delete_marker.then_some(true),
        version_id: outcome.version_id,
        ..Default::default()
    }))
}

/// DeleteObjects.
pub async fn delete_objects(
    app: &Tessera,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let requester = requester(&req.extensions)?.clone();
    let account = requester.principal.as_ref().map(|p| p.account.id.clone());
    let input = req.input;
    check_delete_batch(input.delete.objects.len()).map_err(to_s3)?;
    app.bucket(&input.bucket).await.map_err(to_s3)?;
    let quiet = input.delete.quiet.unwrap_or(false);
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for id in input.delete.objects {
        let bypass = bypass_governance(
            app,
            &req.extensions,
            &input.bucket,
            &id.key,
            id.version_id.as_deref(),
            input.bypass_governance_retention,
        )
        .await;
        let condition = WriteCondition {
            if_match: id.e_tag.as_ref().map(|e| e.value().to_string()),
            bypass_governance: matches!(bypass, Ok(true)),
            ..WriteCondition::default()
        };
        let action = match id.version_id {
            Some(_) => "s3:DeleteObjectVersion",
            None => "s3:DeleteObject",
        };
        let version = id.version_id.as_deref();
        let allowed = requester
            .authorize_key(app, action, &input.bucket, &id.key, version)
            .await
            .map_err(to_s3);
        let result = match allowed {
            Err(e) => Err(e),
            Ok(()) => app
                .delete_object(
                    &input.bucket,
                    &id.key,
                    version,
                    condition,
                    account.as_deref(),
                )
                .await
                .map_err(to_s3),
        };
        match result {
            Ok(outcome) => {
                if !quiet {
                    // A marker added reports its own id; a version removed, the one named.
                    let (version_id, marker_version_id) =
                        match (&id.version_id, outcome.delete_marker) {
                            (Some(v), marker) => (Some(v.clone()), marker.then(|| v.clone())),
                            (None, true) => (None, outcome.version_id.clone()),
                            (None, false) => (None, None),
                        };
                    deleted.push(DeletedObject {
                        key: Some(id.key),
                        delete_marker: outcome.delete_marker.then_some(true),
                        delete_marker_version_id: marker_version_id,
                        version_id,
                    });
                }
            }
            Err(e) => errors.push(Error {
                code: Some(e.code().as_str().to_string()),
                key: Some(id.key),
                message: e.message().map(str::to_string),
                version_id: id.version_id,
            }),
        }
    }
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: Some(deleted),
        errors: (!errors.is_empty()).then_some(errors),
        request_charged: None,
    }))
}

/// Whether a CopyObject directive (`x-amz-metadata-directive`, `x-amz-tagging-directive`)
/// says REPLACE; COPY is the default; anything else is InvalidArgument.
fn replaces(directive: Option<&str>, what: &str) -> S3Result<bool> {
    match directive.map(str::to_ascii_uppercase).as_deref() {
        None | Some("COPY") => Ok(false),
        Some("REPLACE") => Ok(true),
        Some(_) => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            format!("Unknown {what} directive."),
        )),
    }
}

/// CopyObject.
pub async fn copy_object(
    app: &Tessera,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    let input = req.input;
    let (source_bucket, source_key, source_version_id) = copy_source(&input.copy_source)?;
    let replace = replaces(
        input.metadata_directive.as_ref().map(|d| d.as_str()),
        "metadata",
    )?;
    let replace_metadata = replace.then(|| {
        (
            convert::headers_in(
                input.content_type,
                input.content_encoding,
                input.content_disposition,
                input.content_language,
                input.cache_control,
                input.expires,
            ),
            convert::metadata_in(input.metadata),
        )
    });
    let access = write_access(app, &req.extensions, &acl_request!(input, None)).await?;
    // REPLACE takes the request's tags; COPY (the default) the source's.
    let copy_tags = !replaces(
        input.tagging_directive.as_ref().map(|d| d.as_str()),
        "tagging",
    )?;
    let mut attrs = attrs_in(
        input.storage_class.as_ref().map(StorageClass::as_str),
        input.website_redirect_location,
        input.tagging.as_deref().filter(|_| !copy_tags),
    )?;
    // The copy gets its own lock (the headers' or the bucket's default), never the source's.
    lock_in(
        app,
        &req.extensions,
        &input.key,
        input.object_lock_mode,
        input.object_lock_retain_until_date,
        input.object_lock_legal_hold_status,
        &mut attrs,
    )
    .await?;
    // s3s 0.14.1 has no CopyObject fields for these: read the headers.
    let condition = write_condition(
        header_condition(&req.headers, http::header::IF_MATCH)?,
        header_condition(&req.headers, http::header::IF_NONE_MATCH)?,
    )?;
    let encryption = sse_request(&req.extensions, write_sse_headers!(input))?;
    let customer = encryption.customer.clone();
    let source_customer_key = copy_source_customer_key!(&req.extensions, input)?;
    let request = CopyObjectRequest {
        source_bucket,
        source_key,
        source_version_id: source_version_id.clone(),
        source_conditions: read_conditions(
            input.copy_source_if_match,
            input.copy_source_if_none_match,
            input.copy_source_if_modified_since,
            input.copy_source_if_unmodified_since,
        ),
        bucket: input.bucket,
        key: input.key,
        replace_metadata,
        condition,
        owner: access.owner,
        acl: access.acl,
        attrs,
        copy_tags,
        source_customer_key,
        encryption,
    };
    let object = app.copy_object(request).await.map_err(to_s3)?;
    let mut result = CopyObjectResult {
        checksum_type: convert::object_checksum_type(&object),
        e_tag: Some(convert::etag(&object.etag)),
        last_modified: Some(convert::ts(object.last_modified)),
        ..Default::default()
    };
    set_checksums!(result, ChecksumOut::object(object.checksum.as_ref()));
    let mut out = CopyObjectOutput {
        copy_object_result: Some(result),
        copy_source_version_id: source_version_id,
        version_id: version_out(&object, false),
        expiration: super::lifecycle::expiration_header(
            app,
            &req.extensions,
            &object.key,
            object.size,
            object.last_modified,
        ),
        ..Default::default()
    };
    set_sse!(out, SseOut::of(&object.attrs, customer.as_ref()));
    Ok(S3Response::new(out))
}

/// GetObjectAttributes.
pub async fn get_object_attributes(
    app: &Tessera,
    req: S3Request<GetObjectAttributesInput>,
) -> S3Result<S3Response<GetObjectAttributesOutput>> {
    let input = req.input;
    // The header is a comma-separated list; s3s may hand it over as one element.
    let wants = |name: &str| {
        input
            .object_attributes
            .iter()
            .flat_map(|a| a.as_str().split(','))
            .any(|a| a.trim().eq_ignore_ascii_case(name))
    };
    let marker = u32::try_from(input.part_number_marker.unwrap_or(0).max(0)).unwrap_or(0);
    let max = convert::page_size(input.max_parts, "max-parts")?;
    let (object, parts, truncated) = app
        .object_attributes(
            &input.bucket,
            &input.key,
            input.version_id.as_deref(),
            marker,
            max,
        )
        .await
        .map_err(to_s3)?;
    // An SSE-C object's attributes need its key, as its bytes do.
    let customer = request_customer_key!(&req.extensions, input)?;
    app.open_encryption(&object.attrs, customer.as_ref(), KeyUse::Read)
        .map_err(to_s3)?;
    let checksum = object
        .checksum
        .as_ref()
        .filter(|_| wants("Checksum"))
        .map(|c| {
            let mut out = Checksum {
                checksum_type: Some(convert::checksum_type_out(c.checksum_type)),
                ..Default::default()
            };
            set_checksums!(out, ChecksumOut::object(Some(c)));
            out
        });
    let algorithm = object.checksum.as_ref().map(|c| c.algorithm);
    let object_parts = (wants("ObjectParts") && object.parts_count.is_some()).then(|| {
        let list = parts
            .iter()
            .map(|p| {
                let mut out = ObjectPart {
                    part_number: Some(i32_of(p.part_number)),
                    size: Some(i64_of(p.size)),
                    ..Default::default()
                };
                let reported = asked_part_checksums(&p.checksums, algorithm);
                set_checksums!(out, ChecksumOut::values(&reported));
                out
            })
            .collect();
        GetObjectAttributesParts {
            is_truncated: Some(truncated),
            max_parts: Some(convert::page_size_out(max)),
            next_part_number_marker: parts.last().map(|p| i32_of(p.part_number)),
            part_number_marker: Some(i32::try_from(marker).unwrap_or(0)),
            parts: Some(list),
            total_parts_count: object.parts_count.map(i32_of),
        }
    });
    Ok(S3Response::new(GetObjectAttributesOutput {
        checksum,
        e_tag: wants("ETag").then(|| convert::etag(&object.etag)),
        last_modified: Some(convert::ts(object.last_modified)),
        object_parts,
        object_size: wants("ObjectSize").then(|| i64_of(object.size)),
        storage_class: wants("StorageClass").then(|| {
            storage_class_out(&object.attrs)
                .unwrap_or_else(|| StorageClass::from_static(StorageClass::STANDARD))
        }),
        version_id: version_out(&object, input.version_id.is_some()),
        ..Default::default()
    }))
}
