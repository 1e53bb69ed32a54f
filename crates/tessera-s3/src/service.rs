//! `s3s::S3` over [`Tessera`]: each S3 operation decoded, run as a domain call, encoded.

use std::sync::Arc;

use base64::Engine as _;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};
use tessera_core::conditions::ReadConditions;
use tessera_core::multipart::{
    parse_copy_source_range, validate_part_number, CompletePart, CompleteUploadRequest,
    CopySource as DomainCopySource, CreateUploadRequest,
};
use tessera_core::objects::{
    CopyObjectRequest, GetObjectRequest, ListRequest, PutObjectRequest, RangeRequest,
};
use tessera_core::payload::PayloadChecks;
use tessera_core::{ObjectRecord, Tessera, WriteCondition};

use crate::convert::{self, ChecksumFields, ChecksumOut};
use crate::errors::to_s3;

/// The owner reported for every bucket and object (the root user).
const OWNER_ID: &str = "tessera-root";

fn owner() -> Owner {
    Owner {
        display_name: Some("tessera".into()),
        id: Some(OWNER_ID.into()),
    }
}

/// Tessera as an `s3s::S3` implementation.
pub struct TesseraS3 {
    pub(crate) app: Arc<Tessera>,
    pub(crate) region: String,
}

fn checks(
    headers: &http::HeaderMap,
    trailers: Option<s3s::TrailingHeaders>,
    content_md5: Option<String>,
    sent: ChecksumFields,
    algorithm: Option<&s3s::dto::ChecksumAlgorithm>,
) -> S3Result<PayloadChecks> {
    let trailer_alg = convert::trailer_algorithm(headers)?;
    let named = algorithm.map(convert::algorithm).transpose()?;
    Ok(PayloadChecks {
        content_md5,
        checksum: sent.value()?,
        algorithm: trailer_alg.or(named),
        trailer: convert::trailer_reader(trailers, trailer_alg),
        length: convert::decoded_length(headers),
    })
}

fn write_condition(
    if_match: Option<ETagCondition>,
    if_none_match: Option<ETagCondition>,
) -> S3Result<WriteCondition> {
    let if_none_match_any = match if_none_match {
        None => false,
        Some(ETagCondition::Any) => true,
        Some(ETagCondition::ETag(_)) => {
            return Err(S3Error::with_message(
                S3ErrorCode::NotImplemented,
                "If-None-Match on writes supports only '*'",
            ))
        }
    };
    Ok(WriteCondition {
        if_none_match_any,
        if_match: convert::condition(if_match),
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

fn range_request(r: Option<Range>) -> Option<RangeRequest> {
    r.map(|r| match r {
        Range::Int { first, last } => RangeRequest::FromTo { first, last },
        Range::Suffix { length } => RangeRequest::Suffix(length),
    })
}

fn read_conditions(
    if_match: Option<ETagCondition>,
    if_none_match: Option<ETagCondition>,
    if_modified_since: Option<Timestamp>,
    if_unmodified_since: Option<Timestamp>,
) -> ReadConditions {
    ReadConditions {
        if_match: convert::condition(if_match),
        if_none_match: convert::condition(if_none_match),
        if_modified_since: if_modified_since.as_ref().map(convert::millis),
        if_unmodified_since: if_unmodified_since.as_ref().map(convert::millis),
    }
}

fn copy_source(src: &CopySource) -> S3Result<(String, String)> {
    match src {
        CopySource::Bucket {
            bucket,
            key,
            version_id,
        } => {
            if version_id.as_deref().is_some_and(|v| v != "null") {
                return Err(S3Error::with_message(
                    S3ErrorCode::NoSuchVersion,
                    "The specified version does not exist.",
                ));
            }
            Ok((bucket.to_string(), key.to_string()))
        }
        _ => Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "Access point copy sources are not supported",
        )),
    }
}

/// Continuation tokens are opaque to clients: base64 of the key to resume after.
fn encode_token(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key)
}

fn decode_token(token: &str) -> S3Result<String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "The continuation token provided is incorrect",
            )
        })
}

fn max_keys(n: Option<i32>) -> S3Result<usize> {
    match n {
        None => Ok(1000),
        Some(n) if n < 0 => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "max-keys cannot be negative",
        )),
        Some(n) => Ok(usize::try_from(n).unwrap_or(1000).min(1000)),
    }
}

fn encoding_url(e: &Option<EncodingType>) -> S3Result<bool> {
    match e {
        None => Ok(false),
        Some(e) if e.as_str().eq_ignore_ascii_case("url") => Ok(true),
        Some(_) => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Invalid Encoding Method specified in Request",
        )),
    }
}

fn encode(s: &str, url: bool) -> String {
    if url {
        convert::url_encode(s)
    } else {
        s.to_string()
    }
}

/// The domain request of the three key listings (V1, V2, versions).
fn list_request(
    bucket: &str,
    prefix: &Option<String>,
    delimiter: &Option<String>,
    after: Option<String>,
    max_keys: usize,
) -> ListRequest {
    ListRequest {
        bucket: bucket.to_string(),
        prefix: prefix.clone().unwrap_or_default(),
        delimiter: delimiter.clone(),
        after,
        max_keys,
    }
}

/// CommonPrefixes elements, URL-encoded when asked.
fn common_prefixes(prefixes: &[String], url: bool) -> Vec<CommonPrefix> {
    prefixes
        .iter()
        .map(|p| CommonPrefix {
            prefix: Some(encode(p, url)),
        })
        .collect()
}

fn list_entry(o: &ObjectRecord, url: bool, with_owner: bool) -> Object {
    Object {
        checksum_algorithm: o
            .checksum
            .as_ref()
            .map(|c| vec![convert::algorithm_out(c.algorithm)]),
        checksum_type: o
            .checksum
            .as_ref()
            .map(|c| convert::checksum_type_out(c.checksum_type)),
        e_tag: Some(convert::etag(&o.etag)),
        key: Some(encode(&o.key, url)),
        last_modified: Some(convert::ts(o.last_modified)),
        owner: with_owner.then(owner),
        restore_status: None,
        size: Some(i64::try_from(o.size).unwrap_or(i64::MAX)),
        storage_class: Some(ObjectStorageClass::from_static(
            ObjectStorageClass::STANDARD,
        )),
    }
}

fn checksum_enabled(mode: &Option<ChecksumMode>) -> bool {
    mode.as_ref()
        .is_some_and(|m| m.as_str().eq_ignore_ascii_case("ENABLED"))
}

fn content_range(r: &tessera_core::objects::ByteRange, size: u64) -> String {
    format!("bytes {}-{}/{}", r.start, r.end, size)
}

fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
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
    if version_id.as_deref().is_some_and(|v| v != "null") {
        return Err(S3Error::with_message(
            S3ErrorCode::NoSuchVersion,
            "The specified version does not exist.",
        ));
    }
    Ok(GetObjectRequest {
        bucket,
        key,
        range: range_request(range),
        part_number: part_number
            .map(|n| validate_part_number(i64::from(n)))
            .transpose()
            .map_err(to_s3)?,
        conditions,
    })
}

/// The headers describing an object (or the range / part of it served): HeadObject's output,
/// which GetObject's repeats. Checksums only when asked for: the object's for the whole object,
/// the part's (with the object's checksum type) for a part of a multipart object.
fn head_output(
    read: &tessera_core::objects::ObjectRead,
    part_number: Option<u32>,
    mode: &Option<ChecksumMode>,
) -> HeadObjectOutput {
    let (o, range) = (&read.object, read.range);
    let length = range.map_or(o.size, |r| r.end - r.start + 1);
    let whole = range.is_none() || part_number.is_some() && o.parts_count.is_none();
    // A part of a multipart object reports that part's checksum, with the object's type.
    let part_checksum = read
        .part
        .as_ref()
        .zip(o.checksum.as_ref())
        .and_then(|(p, c)| {
            let v = p.checksums.iter().find(|v| v.algorithm == c.algorithm)?;
            Some((v.algorithm, v.to_base64(), c.checksum_type))
        });
    let enabled = checksum_enabled(mode) && (whole || part_checksum.is_some());
    let mut c = ChecksumOut::default();
    let mut checksum_type = None;
    if enabled {
        match (&part_checksum, &o.checksum) {
            (Some((alg, value, kind)), _) => {
                c.set(*alg, value.clone());
                checksum_type = Some(*kind);
            }
            (None, Some(obj)) => {
                c = ChecksumOut::object(Some(obj));
                checksum_type = Some(obj.checksum_type);
            }
            (None, None) => {}
        }
    }
    HeadObjectOutput {
        accept_ranges: Some("bytes".into()),
        cache_control: o.headers.cache_control.clone(),
        checksum_crc32: c.crc32,
        checksum_crc32c: c.crc32c,
        checksum_crc64nvme: c.crc64nvme,
        checksum_sha1: c.sha1,
        checksum_sha256: c.sha256,
        checksum_type: checksum_type.map(convert::checksum_type_out),
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
        parts_count: part_number
            .and(o.parts_count)
            .map(|n| i32::try_from(n).unwrap_or(i32::MAX)),
        ..Default::default()
    }
}

#[async_trait::async_trait]
impl s3s::S3 for TesseraS3 {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let name = req.input.bucket;
        if let Some(loc) = req
            .input
            .create_bucket_configuration
            .as_ref()
            .and_then(|c| c.location_constraint.as_ref())
        {
            if loc.as_str() != self.region
                && !(self.region == "us-east-1" && loc.as_str().is_empty())
            {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidLocationConstraint,
                    "The specified location-constraint is not valid",
                ));
            }
        }
        self.app.create_bucket(&name).await.map_err(to_s3)?;
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(format!("/{name}")),
        }))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        let b = self.app.bucket(&req.input.bucket).await.map_err(to_s3)?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(b.region),
            ..Default::default()
        }))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let b = self.app.bucket(&req.input.bucket).await.map_err(to_s3)?;
        let location_constraint =
            (b.region != "us-east-1").then(|| BucketLocationConstraint::from(b.region));
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint,
        }))
    }

    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
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
        let mut after = req
            .input
            .continuation_token
            .as_deref()
            .map(decode_token)
            .transpose()?;
        let prefix = req.input.prefix.clone().unwrap_or_default();
        let mut buckets = Vec::new();
        // Bucket names are few; page through them until `limit + 1` match the prefix.
        loop {
            let page = self
                .app
                .list_buckets(after.as_deref(), 1000)
                .await
                .map_err(to_s3)?;
            let Some(last) = page.last() else { break };
            after = Some(last.name.clone());
            let full = page.len() == 1000;
            buckets.extend(page.into_iter().filter(|b| b.name.starts_with(&prefix)));
            if buckets.len() > limit || !full {
                break;
            }
        }
        let truncated = buckets.len() > limit;
        buckets.truncate(limit);
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
            owner: Some(owner()),
            prefix: req.input.prefix,
        }))
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.app
            .delete_bucket(&req.input.bucket)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(DeleteBucketOutput {}))
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let S3Request {
            input,
            headers,
            trailing_headers,
            ..
        } = req;
        let sent = ChecksumFields {
            crc32: input.checksum_crc32,
            crc32c: input.checksum_crc32c,
            crc64nvme: input.checksum_crc64nvme,
            sha1: input.checksum_sha1,
            sha256: input.checksum_sha256,
        };
        let checks = checks(
            &headers,
            trailing_headers,
            input.content_md5,
            sent,
            input.checksum_algorithm.as_ref(),
        )?;
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
        };
        let object = self
            .app
            .put_object(request, convert::body(input.body))
            .await
            .map_err(to_s3)?;
        let c = ChecksumOut::object(object.checksum.as_ref());
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(convert::etag(&object.etag)),
            checksum_crc32: c.crc32,
            checksum_crc32c: c.crc32c,
            checksum_crc64nvme: c.crc64nvme,
            checksum_sha1: c.sha1,
            checksum_sha256: c.sha256,
            checksum_type: object
                .checksum
                .as_ref()
                .map(|c| convert::checksum_type_out(c.checksum_type)),
            ..Default::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let i = req.input;
        let request = object_request(
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
        let mut read = self.app.get_object(&request, true).await.map_err(to_s3)?;
        let h = head_output(&read, request.part_number, &i.checksum_mode);
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
            ..Default::default()
        }))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let i = req.input;
        let request = object_request(
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
        let read = self.app.get_object(&request, false).await.map_err(to_s3)?;
        // s3s does not turn HEAD into 206 by itself; the HTTP layer does, from Content-Range.
        Ok(S3Response::new(head_output(
            &read,
            request.part_number,
            &i.checksum_mode,
        )))
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let input = req.input;
        if input.version_id.as_deref().is_some_and(|v| v != "null") {
            return Err(S3Error::with_message(
                S3ErrorCode::NoSuchVersion,
                "The specified version does not exist.",
            ));
        }
        let condition = WriteCondition {
            if_none_match_any: false,
            if_match: convert::condition(input.if_match),
        };
        self.app
            .delete_object(&input.bucket, &input.key, condition)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let input = req.input;
        if input.delete.objects.len() > 1000 || input.delete.objects.is_empty() {
            return Err(S3Error::with_message(
                S3ErrorCode::MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema",
            ));
        }
        self.app.bucket(&input.bucket).await.map_err(to_s3)?;
        let quiet = input.delete.quiet.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for id in input.delete.objects {
            let condition = WriteCondition {
                if_none_match_any: false,
                if_match: id.e_tag.as_ref().map(|e| e.value().to_string()),
            };
            let result = if id.version_id.as_deref().is_some_and(|v| v != "null") {
                Err(S3Error::with_message(
                    S3ErrorCode::NoSuchVersion,
                    "The specified version does not exist.",
                ))
            } else {
                self.app
                    .delete_object(&input.bucket, &id.key, condition)
                    .await
                    .map_err(to_s3)
            };
            match result {
                Ok(_) => {
                    if !quiet {
                        deleted.push(DeletedObject {
                            key: Some(id.key),
                            ..Default::default()
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

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let input = req.input;
        let (source_bucket, source_key) = copy_source(&input.copy_source)?;
        let replace = match input
            .metadata_directive
            .as_ref()
            .map(|d| d.as_str().to_ascii_uppercase())
        {
            None => false,
            Some(d) if d == "COPY" => false,
            Some(d) if d == "REPLACE" => true,
            Some(_) => {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    "Unknown metadata directive.",
                ));
            }
        };
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
        // s3s 0.14.1 has no CopyObject fields for these: read the headers.
        let condition = write_condition(
            header_condition(&req.headers, http::header::IF_MATCH)?,
            header_condition(&req.headers, http::header::IF_NONE_MATCH)?,
        )?;
        let request = CopyObjectRequest {
            source_bucket,
            source_key,
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
        };
        let object = self.app.copy_object(request).await.map_err(to_s3)?;
        let c = ChecksumOut::object(object.checksum.as_ref());
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                checksum_crc32: c.crc32,
                checksum_crc32c: c.crc32c,
                checksum_crc64nvme: c.crc64nvme,
                checksum_sha1: c.sha1,
                checksum_sha256: c.sha256,
                checksum_type: object
                    .checksum
                    .as_ref()
                    .map(|c| convert::checksum_type_out(c.checksum_type)),
                e_tag: Some(convert::etag(&object.etag)),
                last_modified: Some(convert::ts(object.last_modified)),
            }),
            ..Default::default()
        }))
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let input = req.input;
        let url = encoding_url(&input.encoding_type)?;
        let max = max_keys(input.max_keys)?;
        let request = list_request(
            &input.bucket,
            &input.prefix,
            &input.delimiter,
            input.marker.clone().filter(|m| !m.is_empty()),
            max,
        );
        let page = self.app.list_objects(&request).await.map_err(to_s3)?;
        let next_marker = (page.is_truncated && input.delimiter.is_some())
            .then(|| page.next_marker.as_deref().map(|m| encode(m, url)))
            .flatten();
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket),
            // ListObjects V1 URL-encodes keys, prefixes of CommonPrefixes, Delimiter and the
            // markers, but not the Prefix element (clients decode only those).
            prefix: Some(request.prefix.clone()),
            marker: Some(
                input
                    .marker
                    .as_deref()
                    .map(|m| encode(m, url))
                    .unwrap_or_default(),
            ),
            max_keys: Some(i32::try_from(max).unwrap_or(1000)),
            is_truncated: Some(page.is_truncated),
            contents: Some(
                page.objects
                    .iter()
                    .map(|o| list_entry(o, url, true))
                    .collect(),
            ),
            common_prefixes: Some(common_prefixes(&page.common_prefixes, url)),
            delimiter: input
                .delimiter
                .filter(|d| !d.is_empty())
                .map(|d| encode(&d, url)),
            next_marker,
            encoding_type: input.encoding_type,
            request_charged: None,
        }))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        let url = encoding_url(&input.encoding_type)?;
        let max = max_keys(input.max_keys)?;
        let after = match input.continuation_token.as_deref() {
            Some(t) => Some(decode_token(t)?),
            None => input.start_after.clone().filter(|s| !s.is_empty()),
        };
        let request = list_request(&input.bucket, &input.prefix, &input.delimiter, after, max);
        let page = self.app.list_objects(&request).await.map_err(to_s3)?;
        let with_owner = input.fetch_owner.unwrap_or(false);
        let key_count = page.objects.len() + page.common_prefixes.len();
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(encode(&request.prefix, url)),
            max_keys: Some(i32::try_from(max).unwrap_or(1000)),
            key_count: Some(i32::try_from(key_count).unwrap_or(i32::MAX)),
            continuation_token: input.continuation_token,
            is_truncated: Some(page.is_truncated),
            next_continuation_token: page
                .is_truncated
                .then(|| page.next_marker.as_deref().map(encode_token))
                .flatten(),
            contents: Some(
                page.objects
                    .iter()
                    .map(|o| list_entry(o, url, with_owner))
                    .collect(),
            ),
            common_prefixes: Some(common_prefixes(&page.common_prefixes, url)),
            delimiter: input
                .delimiter
                .filter(|d| !d.is_empty())
                .map(|d| encode(&d, url)),
            encoding_type: input.encoding_type,
            start_after: input.start_after.map(|s| encode(&s, url)),
            request_charged: None,
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = req.input;
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
        let upload = self.app.create_upload(request).await.map_err(to_s3)?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(upload.bucket),
            key: Some(upload.key),
            upload_id: Some(upload.upload_id),
            checksum_algorithm: upload.checksum_algorithm.map(convert::algorithm_out),
            checksum_type: upload.checksum_type.map(convert::checksum_type_out),
            ..Default::default()
        }))
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let S3Request {
            input,
            headers,
            trailing_headers,
            ..
        } = req;
        let part_number = validate_part_number(i64::from(input.part_number)).map_err(to_s3)?;
        let sent = ChecksumFields {
            crc32: input.checksum_crc32,
            crc32c: input.checksum_crc32c,
            crc64nvme: input.checksum_crc64nvme,
            sha1: input.checksum_sha1,
            sha256: input.checksum_sha256,
        };
        let checks = checks(
            &headers,
            trailing_headers,
            input.content_md5,
            sent,
            input.checksum_algorithm.as_ref(),
        )?;
        let (part, asked) = self
            .app
            .upload_part(
                &input.bucket,
                &input.key,
                &input.upload_id,
                part_number,
                convert::body(input.body),
                checks,
            )
            .await
            .map_err(to_s3)?;
        // Only the checksum the client asked for (directly or through the upload) is reported.
        let c = match asked {
            Some(a) => ChecksumOut::values(&part.checksums, Some(a)),
            None => ChecksumOut::default(),
        };
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(convert::etag(&part.etag)),
            checksum_crc32: c.crc32,
            checksum_crc32c: c.crc32c,
            checksum_crc64nvme: c.crc64nvme,
            checksum_sha1: c.sha1,
            checksum_sha256: c.sha256,
            ..Default::default()
        }))
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let input = req.input;
        let part_number = validate_part_number(i64::from(input.part_number)).map_err(to_s3)?;
        let (bucket, key) = copy_source(&input.copy_source)?;
        let range = input
            .copy_source_range
            .as_deref()
            .map(parse_copy_source_range)
            .transpose()
            .map_err(to_s3)?;
        let source = DomainCopySource {
            bucket,
            key,
            range,
            conditions: read_conditions(
                input.copy_source_if_match,
                input.copy_source_if_none_match,
                input.copy_source_if_modified_since,
                input.copy_source_if_unmodified_since,
            ),
        };
        let (part, _) = self
            .app
            .upload_part_copy(
                &input.bucket,
                &input.key,
                &input.upload_id,
                part_number,
                source,
            )
            .await
            .map_err(to_s3)?;
        let upload = self
            .app
            .upload(&input.bucket, &input.key, &input.upload_id)
            .await
            .ok();
        let c = ChecksumOut::values(&part.checksums, upload.and_then(|u| u.checksum_algorithm));
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                checksum_crc32: c.crc32,
                checksum_crc32c: c.crc32c,
                checksum_crc64nvme: c.crc64nvme,
                checksum_sha1: c.sha1,
                checksum_sha256: c.sha256,
                e_tag: Some(convert::etag(&part.etag)),
                last_modified: Some(convert::ts(part.last_modified)),
            }),
            ..Default::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = req.input;
        let named = input
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default();
        let mut parts = Vec::with_capacity(named.len());
        for p in named {
            let n = p.part_number.ok_or_else(|| {
                S3Error::with_message(
                    S3ErrorCode::MalformedXML,
                    "Each Part must have a PartNumber",
                )
            })?;
            let part_number = validate_part_number(i64::from(n)).map_err(to_s3)?;
            let sent = [
                (
                    tessera_core::checksum::ChecksumAlgorithm::Crc32,
                    p.checksum_crc32,
                ),
                (
                    tessera_core::checksum::ChecksumAlgorithm::Crc32c,
                    p.checksum_crc32c,
                ),
                (
                    tessera_core::checksum::ChecksumAlgorithm::Crc64Nvme,
                    p.checksum_crc64nvme,
                ),
                (
                    tessera_core::checksum::ChecksumAlgorithm::Sha1,
                    p.checksum_sha1,
                ),
                (
                    tessera_core::checksum::ChecksumAlgorithm::Sha256,
                    p.checksum_sha256,
                ),
            ];
            let mut checksums = Vec::new();
            for (alg, v) in sent {
                if let Some(v) = v {
                    checksums.push(
                        tessera_core::checksum::ChecksumValue::from_base64(alg, &v).map_err(
                            |_| {
                                to_s3(tessera_core::Error::InvalidPart(format!(
                                    "Invalid checksum for part {part_number}"
                                )))
                            },
                        )?,
                    );
                }
            }
            parts.push(CompletePart {
                part_number,
                etag: p.e_tag.map(|e| e.value().to_string()),
                checksums,
            });
        }
        let object_checksum = ChecksumFields {
            crc32: input.checksum_crc32,
            crc32c: input.checksum_crc32c,
            crc64nvme: input.checksum_crc64nvme,
            sha1: input.checksum_sha1,
            sha256: input.checksum_sha256,
        }
        .raw()?;
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
        };
        let object = self.app.complete_upload(request).await.map_err(to_s3)?;
        let c = ChecksumOut::object(object.checksum.as_ref());
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(input.bucket.clone()),
            key: Some(input.key.clone()),
            e_tag: Some(convert::etag(&object.etag)),
            location: Some(format!(
                "/{}/{}",
                input.bucket,
                convert::url_encode(&input.key)
            )),
            checksum_crc32: c.crc32,
            checksum_crc32c: c.crc32c,
            checksum_crc64nvme: c.crc64nvme,
            checksum_sha1: c.sha1,
            checksum_sha256: c.sha256,
            checksum_type: object
                .checksum
                .as_ref()
                .map(|c| convert::checksum_type_out(c.checksum_type)),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let input = req.input;
        self.app
            .abort_upload(&input.bucket, &input.key, &input.upload_id)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let input = req.input;
        let marker = u32::try_from(input.part_number_marker.unwrap_or(0).max(0)).unwrap_or(0);
        let max = match input.max_parts {
            Some(n) if n < 0 => {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    "max-parts cannot be negative",
                ))
            }
            Some(n) => usize::try_from(n).unwrap_or(1000).min(1000),
            None => 1000,
        };
        let page = self
            .app
            .list_parts(&input.bucket, &input.key, &input.upload_id, marker, max)
            .await
            .map_err(to_s3)?;
        let only = page.upload.checksum_algorithm;
        let parts =
            page.parts
                .iter()
                .map(|p| {
                    let c =
                        ChecksumOut::values(
                            &p.checksums,
                            only.or(p.checksums.iter().map(|c| c.algorithm).find(|a| {
                                *a != tessera_core::checksum::ChecksumAlgorithm::Crc64Nvme
                            })),
                        );
                    Part {
                        checksum_crc32: c.crc32,
                        checksum_crc32c: c.crc32c,
                        checksum_crc64nvme: c.crc64nvme,
                        checksum_sha1: c.sha1,
                        checksum_sha256: c.sha256,
                        e_tag: Some(convert::etag(&p.etag)),
                        last_modified: Some(convert::ts(p.last_modified)),
                        part_number: Some(i32::try_from(p.part_number).unwrap_or(i32::MAX)),
                        size: Some(i64_of(p.size)),
                    }
                })
                .collect();
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            checksum_algorithm: page.upload.checksum_algorithm.map(convert::algorithm_out),
            checksum_type: page.upload.checksum_type.map(convert::checksum_type_out),
            initiator: Some(Initiator {
                display_name: Some("tessera".into()),
                id: Some(OWNER_ID.into()),
            }),
            owner: Some(owner()),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            is_truncated: Some(page.is_truncated),
            max_parts: Some(i32::try_from(max).unwrap_or(1000)),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: page
                .next_marker
                .map(|n| i32::try_from(n).unwrap_or(i32::MAX)),
            parts: Some(parts),
            ..Default::default()
        }))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let input = req.input;
        let url = encoding_url(&input.encoding_type)?;
        let max = match input.max_uploads {
            Some(n) if n < 0 => {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    "max-uploads cannot be negative",
                ))
            }
            Some(n) => usize::try_from(n).unwrap_or(1000).min(1000),
            None => 1000,
        };
        let prefix = input.prefix.clone().unwrap_or_default();
        let page = self
            .app
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
                initiator: Some(Initiator {
                    display_name: Some("tessera".into()),
                    id: Some(OWNER_ID.into()),
                }),
                key: Some(encode(&u.key, url)),
                owner: Some(owner()),
                storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                upload_id: Some(u.upload_id.clone()),
            })
            .collect();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            common_prefixes: Some(common_prefixes(&page.common_prefixes, url)),
            delimiter: input
                .delimiter
                .filter(|d| !d.is_empty())
                .map(|d| encode(&d, url)),
            encoding_type: input.encoding_type,
            is_truncated: Some(page.is_truncated),
            key_marker: Some(
                input
                    .key_marker
                    .as_deref()
                    .map(|k| encode(k, url))
                    .unwrap_or_default(),
            ),
            max_uploads: Some(i32::try_from(max).unwrap_or(1000)),
            next_key_marker: page.next_key_marker.map(|k| encode(&k, url)),
            next_upload_id_marker: page.next_upload_id_marker,
            prefix: Some(encode(&prefix, url)),
            upload_id_marker: Some(input.upload_id_marker.unwrap_or_default()),
            uploads: Some(uploads),
            request_charged: None,
        }))
    }

    async fn get_object_attributes(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> S3Result<S3Response<GetObjectAttributesOutput>> {
        let input = req.input;
        if input.version_id.as_deref().is_some_and(|v| v != "null") {
            return Err(S3Error::with_message(
                S3ErrorCode::NoSuchVersion,
                "The specified version does not exist.",
            ));
        }
        // The header is a comma-separated list; s3s may hand it over as one element.
        let wants = |name: &str| {
            input
                .object_attributes
                .iter()
                .flat_map(|a| a.as_str().split(','))
                .any(|a| a.trim().eq_ignore_ascii_case(name))
        };
        let marker = u32::try_from(input.part_number_marker.unwrap_or(0).max(0)).unwrap_or(0);
        let max = match input.max_parts {
            Some(n) if n < 0 => {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    "max-parts cannot be negative",
                ))
            }
            Some(n) => usize::try_from(n).unwrap_or(1000).min(1000),
            None => 1000,
        };
        let (object, parts, truncated) = self
            .app
            .object_attributes(&input.bucket, &input.key, marker, max)
            .await
            .map_err(to_s3)?;
        let checksum = object
            .checksum
            .as_ref()
            .filter(|_| wants("Checksum"))
            .map(|c| {
                let out = ChecksumOut::object(Some(c));
                Checksum {
                    checksum_crc32: out.crc32,
                    checksum_crc32c: out.crc32c,
                    checksum_crc64nvme: out.crc64nvme,
                    checksum_sha1: out.sha1,
                    checksum_sha256: out.sha256,
                    checksum_type: Some(convert::checksum_type_out(c.checksum_type)),
                }
            });
        let algorithm = object.checksum.as_ref().map(|c| c.algorithm);
        let object_parts = (wants("ObjectParts") && object.parts_count.is_some()).then(|| {
            let list = parts
                .iter()
                .map(|p| {
                    let c = match algorithm {
                        Some(a) => ChecksumOut::values(&p.checksums, Some(a)),
                        None => ChecksumOut::default(),
                    };
                    ObjectPart {
                        checksum_crc32: c.crc32,
                        checksum_crc32c: c.crc32c,
                        checksum_crc64nvme: c.crc64nvme,
                        checksum_sha1: c.sha1,
                        checksum_sha256: c.sha256,
                        part_number: Some(i32::try_from(p.part_number).unwrap_or(i32::MAX)),
                        size: Some(i64_of(p.size)),
                    }
                })
                .collect();
            GetObjectAttributesParts {
                is_truncated: Some(truncated),
                max_parts: Some(i32::try_from(max).unwrap_or(1000)),
                next_part_number_marker: parts
                    .last()
                    .map(|p| i32::try_from(p.part_number).unwrap_or(i32::MAX)),
                part_number_marker: Some(i32::try_from(marker).unwrap_or(0)),
                parts: Some(list),
                total_parts_count: object
                    .parts_count
                    .map(|n| i32::try_from(n).unwrap_or(i32::MAX)),
            }
        });
        Ok(S3Response::new(GetObjectAttributesOutput {
            checksum,
            e_tag: wants("ETag").then(|| convert::etag(&object.etag)),
            last_modified: Some(convert::ts(object.last_modified)),
            object_parts,
            object_size: wants("ObjectSize").then(|| i64_of(object.size)),
            storage_class: wants("StorageClass")
                .then(|| StorageClass::from_static(StorageClass::STANDARD)),
            ..Default::default()
        }))
    }

    /// Buckets are not versioned yet: every object is its only ("null") version, so version
    /// listings are key listings (clients such as s3-tests' cleanup and rclone call this).
    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let input = req.input;
        let url = encoding_url(&input.encoding_type)?;
        let max = max_keys(input.max_keys)?;
        let request = list_request(
            &input.bucket,
            &input.prefix,
            &input.delimiter,
            input.key_marker.clone().filter(|m| !m.is_empty()),
            max,
        );
        let page = self.app.list_objects(&request).await.map_err(to_s3)?;
        let versions = page
            .objects
            .iter()
            .map(|o| ObjectVersion {
                checksum_algorithm: o
                    .checksum
                    .as_ref()
                    .map(|c| vec![convert::algorithm_out(c.algorithm)]),
                checksum_type: o
                    .checksum
                    .as_ref()
                    .map(|c| convert::checksum_type_out(c.checksum_type)),
                e_tag: Some(convert::etag(&o.etag)),
                is_latest: Some(true),
                key: Some(encode(&o.key, url)),
                last_modified: Some(convert::ts(o.last_modified)),
                owner: Some(owner()),
                restore_status: None,
                size: Some(i64_of(o.size)),
                storage_class: Some(ObjectVersionStorageClass::from_static(
                    ObjectVersionStorageClass::STANDARD,
                )),
                version_id: Some("null".into()),
            })
            .collect();
        let next_key_marker = page
            .is_truncated
            .then(|| page.next_marker.as_deref().map(|m| encode(m, url)))
            .flatten();
        Ok(S3Response::new(ListObjectVersionsOutput {
            common_prefixes: Some(common_prefixes(&page.common_prefixes, url)),
            delete_markers: None,
            delimiter: input
                .delimiter
                .filter(|d| !d.is_empty())
                .map(|d| encode(&d, url)),
            encoding_type: input.encoding_type,
            is_truncated: Some(page.is_truncated),
            key_marker: Some(
                input
                    .key_marker
                    .as_deref()
                    .map(|k| encode(k, url))
                    .unwrap_or_default(),
            ),
            max_keys: Some(i32::try_from(max).unwrap_or(1000)),
            name: Some(input.bucket),
            next_version_id_marker: next_key_marker.as_ref().map(|_| "null".to_string()),
            next_key_marker,
            prefix: Some(encode(&request.prefix, url)),
            request_charged: None,
            version_id_marker: Some(input.version_id_marker.unwrap_or_default()),
            versions: Some(versions),
        }))
    }
}
