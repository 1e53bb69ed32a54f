//! Conversions between s3s DTOs and domain values.

use bytes::Bytes;
use futures::StreamExt;
use s3s::dto::{self, ETag, ETagCondition, Timestamp};
use s3s::{S3Error, S3ErrorCode, S3Result};
use std::collections::BTreeMap;
use tessera_core::checksum::{ChecksumAlgorithm, ChecksumType, ChecksumValue};
use tessera_core::error::RequestError;
use tessera_core::payload::{BodyStream, TrailerReader};
use tessera_core::{ContentHeaders, Error, ObjectChecksum};

use crate::errors::to_s3;

pub use crate::dates::{http_date, millis, parse_http_date, ts};

/// A quoted strong ETag for responses.
pub fn etag(value: &str) -> ETag {
    ETag::Strong(value.to_string())
}

/// An ETag condition header as the comparable string (`*` or the value).
pub fn condition(c: Option<ETagCondition>) -> Option<String> {
    c.map(|c| match c {
        ETagCondition::Any => "*".to_string(),
        ETagCondition::ETag(e) => e.value().to_string(),
    })
}

/// User metadata from the request.
pub fn metadata_in(m: Option<dto::Metadata>) -> BTreeMap<String, String> {
    m.map(|m| {
        m.into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect()
    })
    .unwrap_or_default()
}

/// User metadata for a response (`None` when empty).
pub fn metadata_out(m: &BTreeMap<String, String>) -> Option<dto::Metadata> {
    (!m.is_empty()).then(|| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// Content headers from the request.
pub fn headers_in(
    content_type: Option<String>,
    content_encoding: Option<String>,
    content_disposition: Option<String>,
    content_language: Option<String>,
    cache_control: Option<String>,
    expires: Option<Timestamp>,
) -> ContentHeaders {
    // aws-chunked is a transfer detail of the request, never part of the stored encoding.
    let content_encoding = content_encoding.and_then(|enc| {
        if !enc.to_ascii_lowercase().contains("aws-chunked") {
            return Some(enc);
        }
        let kept: Vec<&str> = enc
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked"))
            .collect();
        (!kept.is_empty()).then(|| kept.join(","))
    });
    ContentHeaders {
        content_type,
        content_encoding,
        content_disposition,
        content_language,
        cache_control,
        expires: expires.as_ref().and_then(http_date),
    }
}

/// The domain algorithm for an s3s one.
pub fn algorithm(a: &dto::ChecksumAlgorithm) -> S3Result<ChecksumAlgorithm> {
    ChecksumAlgorithm::parse(a.as_str()).map_err(to_s3)
}

/// The s3s algorithm for a domain one.
pub fn algorithm_out(a: ChecksumAlgorithm) -> dto::ChecksumAlgorithm {
    dto::ChecksumAlgorithm::from(a.as_str().to_string())
}

/// The domain checksum type for an s3s one.
pub fn checksum_type(t: &dto::ChecksumType) -> S3Result<ChecksumType> {
    ChecksumType::parse(t.as_str()).map_err(to_s3)
}

/// The s3s checksum type for a domain one.
pub fn checksum_type_out(t: ChecksumType) -> dto::ChecksumType {
    dto::ChecksumType::from(t.as_str().to_string())
}

/// The checksum type an object's write answers with (none without an object checksum).
pub fn object_checksum_type(object: &tessera_core::ObjectRecord) -> Option<dto::ChecksumType> {
    object
        .checksum
        .as_ref()
        .map(|c| checksum_type_out(c.checksum_type))
}

/// The five `x-amz-checksum-*` values of a request; at most one may be present.
pub struct ChecksumFields {
    pub crc32: Option<String>,
    pub crc32c: Option<String>,
    pub crc64nvme: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
}

impl ChecksumFields {
    /// The algorithm and raw value sent, if any.
    pub fn raw(self) -> S3Result<Option<(ChecksumAlgorithm, String)>> {
        let all = [
            (ChecksumAlgorithm::Crc32, self.crc32),
            (ChecksumAlgorithm::Crc32c, self.crc32c),
            (ChecksumAlgorithm::Crc64Nvme, self.crc64nvme),
            (ChecksumAlgorithm::Sha1, self.sha1),
            (ChecksumAlgorithm::Sha256, self.sha256),
        ];
        let mut sent = all.into_iter().filter_map(|(a, v)| v.map(|v| (a, v)));
        let first = sent.next();
        if sent.next().is_some() {
            return Err(S3Error::with_message(S3ErrorCode::InvalidRequest, "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."));
        }
        Ok(first)
    }

    /// The decoded checksum value sent, if any.
    pub fn value(self) -> S3Result<Option<ChecksumValue>> {
        match self.raw()? {
            Some((a, v)) => Ok(Some(ChecksumValue::from_base64(a, &v).map_err(to_s3)?)),
            None => Ok(None),
        }
    }
}

impl ChecksumFields {
    /// Every algorithm and raw value sent (CompleteMultipartUpload's parts may name several).
    pub fn all(self) -> Vec<(ChecksumAlgorithm, String)> {
        [
            (ChecksumAlgorithm::Crc32, self.crc32),
            (ChecksumAlgorithm::Crc32c, self.crc32c),
            (ChecksumAlgorithm::Crc64Nvme, self.crc64nvme),
            (ChecksumAlgorithm::Sha1, self.sha1),
            (ChecksumAlgorithm::Sha256, self.sha256),
        ]
        .into_iter()
        .filter_map(|(a, v)| v.map(|v| (a, v)))
        .collect()
    }
}

/// The [`ChecksumFields`] of any s3s input (or part) with the five `checksum_*` fields.
macro_rules! checksum_fields {
    ($input:expr) => {
        $crate::convert::ChecksumFields {
            crc32: $input.checksum_crc32,
            crc32c: $input.checksum_crc32c,
            crc64nvme: $input.checksum_crc64nvme,
            sha1: $input.checksum_sha1,
            sha256: $input.checksum_sha256,
        }
    };
}
pub(crate) use checksum_fields;

/// Sets the five `checksum_*` fields of any s3s output from a [`ChecksumOut`].
macro_rules! set_checksums {
    ($output:expr, $values:expr) => {{
        let c: $crate::convert::ChecksumOut = $values;
        $output.checksum_crc32 = c.crc32;
        $output.checksum_crc32c = c.crc32c;
        $output.checksum_crc64nvme = c.crc64nvme;
        $output.checksum_sha1 = c.sha1;
        $output.checksum_sha256 = c.sha256;
    }};
}
pub(crate) use set_checksums;

/// A page size parameter (`max-keys`, `max-parts`, `max-uploads`): 1000 by default and at most.
pub fn page_size(n: Option<i32>, name: &str) -> S3Result<usize> {
    match n {
        None => Ok(1000),
        Some(n) if n < 0 => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            format!("{name} cannot be negative"),
        )),
        Some(n) => Ok(usize::try_from(n).unwrap_or(1000).min(1000)),
    }
}

/// A page size as the response echoes it.
pub fn page_size_out(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(1000)
}

/// Sets the checksum fields of an output from a list of values.
#[derive(Default)]
pub struct ChecksumOut {
    pub crc32: Option<String>,
    pub crc32c: Option<String>,
    pub crc64nvme: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
}

impl ChecksumOut {
    /// One value in its field.
    pub fn set(&mut self, algorithm: ChecksumAlgorithm, value: String) {
        let slot = match algorithm {
            ChecksumAlgorithm::Crc32 => &mut self.crc32,
            ChecksumAlgorithm::Crc32c => &mut self.crc32c,
            ChecksumAlgorithm::Crc64Nvme => &mut self.crc64nvme,
            ChecksumAlgorithm::Sha1 => &mut self.sha1,
            ChecksumAlgorithm::Sha256 => &mut self.sha256,
        };
        *slot = Some(value);
    }

    /// The object checksum.
    pub fn object(c: Option<&ObjectChecksum>) -> Self {
        let mut out = Self::default();
        if let Some(c) = c {
            out.set(c.algorithm, c.value.clone());
        }
        out
    }

    /// Every value of a list (core decides which a response reports).
    pub fn values(values: &[ChecksumValue]) -> Self {
        let mut out = Self::default();
        for v in values {
            out.set(v.algorithm, v.to_base64());
        }
        out
    }
}

/// The request body as a domain stream.
pub fn body(blob: Option<s3s::dto::StreamingBlob>) -> BodyStream {
    match blob {
        Some(b) => Box::pin(b.map(|r: Result<Bytes, s3s::StdError>| r.map_err(Error::Body))),
        None => Box::pin(futures::stream::empty()),
    }
}

/// The algorithm announced in `x-amz-trailer`, if it is a checksum.
pub fn trailer_algorithm(headers: &http::HeaderMap) -> S3Result<Option<ChecksumAlgorithm>> {
    let Some(v) = headers.get("x-amz-trailer") else {
        return Ok(None);
    };
    let name = v.to_str().unwrap_or_default().trim().to_ascii_lowercase();
    match name.strip_prefix("x-amz-checksum-") {
        Some(alg) => Ok(Some(ChecksumAlgorithm::parse(alg).map_err(to_s3)?)),
        None => Ok(None),
    }
}

/// Reads the trailing checksum once the body is consumed.
pub fn trailer_reader(
    trailers: Option<s3s::TrailingHeaders>,
    algorithm: Option<ChecksumAlgorithm>,
) -> Option<TrailerReader> {
    let (trailers, algorithm) = (trailers?, algorithm?);
    Some(Box::new(move || {
        let name = format!("x-amz-checksum-{}", algorithm.as_str().to_ascii_lowercase());
        let value = trailers
            .read(|h| {
                h.get(name.as_str())
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            })
            .flatten();
        match value {
            Some(v) => ChecksumValue::from_base64(algorithm, &v).map(Some),
            None => Err(Error::InvalidRequest(RequestError::TrailerMissing {
                algorithm,
            })),
        }
    }))
}

/// The decoded body length the client announced.
pub fn decoded_length(headers: &http::HeaderMap) -> Option<u64> {
    let get = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    if let Some(n) = get("x-amz-decoded-content-length") {
        return Some(n);
    }
    let streaming = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("STREAMING-"));
    let chunked_encoding = headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("aws-chunked"));
    if streaming || chunked_encoding {
        None
    } else {
        get("content-length")
    }
}

/// URL-encodes a key or prefix for `encoding-type=url` (S3 keeps `/` as is).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
