//! Small request bodies (XML documents: CreateBucket, CompleteMultipartUpload, DeleteObjects,
//! bucket and object sub-resources) are read whole before s3s parses them, so that they are
//! bounded in size, refused when nested absurdly deep, and checked against Content-MD5 and
//! `x-amz-checksum-*` (s3s checks neither on such bodies).

use base64::Engine as _;
use bytes::Bytes;
use md5::{Digest as _, Md5};
use s3s::{S3Error, S3ErrorCode};
use tessera_core::checksum::{compute_checksum, ChecksumAlgorithm, ChecksumValue};

/// Largest CompleteMultipartUpload or DeleteObjects body: 10,000 parts (or 1,000 keys of
/// 1,024 bytes, escaped) with every optional element fit in well under this.
pub const MAX_LIST_BODY: u64 = 8 << 20;
/// Largest body of any other request that carries a document (configurations, tagging, ACLs).
pub const MAX_DOCUMENT_BODY: u64 = 1 << 20;
/// Deepest element nesting accepted; S3's documents nest at most a handful of levels.
pub const MAX_DEPTH: usize = 32;

/// Object sub-resources whose PUT body is a document rather than object data.
const OBJECT_DOCUMENT_SUBRESOURCES: &[&str] = &["tagging", "acl", "retention", "legal-hold"];

/// What a request's body is, as far as reading it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// Object bytes (PutObject, UploadPart) or no body: streamed, never buffered here.
    Data,
    /// A document of at most this many bytes.
    Document {
        limit: u64,
        /// Whether `x-amz-checksum-*` headers describe this body (not so for Complete, where
        /// they are the new object's checksum).
        checksum_headers_cover_body: bool,
        /// DeleteObjects: S3 requires Content-MD5 or a checksum.
        integrity_required: bool,
    },
}

/// Classifies a request by method, whether its path names an object key, and its query.
pub fn body_kind(method: &http::Method, has_key: bool, query: Option<&str>) -> BodyKind {
    let has = |name: &str| {
        query.is_some_and(|q| {
            q.split('&')
                .any(|p| p.split_once('=').map_or(p, |(k, _)| k) == name)
        })
    };
    let document = |limit| BodyKind::Document {
        limit,
        checksum_headers_cover_body: true,
        integrity_required: false,
    };
    if *method == http::Method::POST {
        if has("uploadId") {
            return BodyKind::Document {
                limit: MAX_LIST_BODY,
                checksum_headers_cover_body: false,
                integrity_required: false,
            };
        }
        if has("delete") {
            return BodyKind::Document {
                limit: MAX_LIST_BODY,
                checksum_headers_cover_body: true,
                integrity_required: true,
            };
        }
        return document(MAX_DOCUMENT_BODY);
    }
    if *method == http::Method::PUT && !has_key && has("cors") {
        // S3 limits the CORS document to 64 KB.
        return document(tessera_core::cors::MAX_DOCUMENT_BYTES);
    }
    if *method == http::Method::PUT
        && (!has_key || OBJECT_DOCUMENT_SUBRESOURCES.iter().any(|s| has(s)))
    {
        return document(MAX_DOCUMENT_BODY);
    }
    BodyKind::Data
}

/// Checks a document body before s3s parses it: announced size, Content-MD5 and checksum
/// headers, nesting depth, no DTD.
pub fn check_document(
    kind: BodyKind,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<(), S3Error> {
    let BodyKind::Document {
        checksum_headers_cover_body,
        integrity_required,
        ..
    } = kind
    else {
        return Ok(());
    };
    let md5 = header_str(headers, "content-md5");
    let checksum = if checksum_headers_cover_body {
        sent_checksum(headers)?
    } else {
        None
    };
    if integrity_required
        && md5.is_none()
        && checksum.is_none()
        && !headers.contains_key("x-amz-sdk-checksum-algorithm")
    {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "Missing required header for this request: Content-MD5",
        ));
    }
    if let Some(b64) = md5 {
        let sent = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .ok()
            .filter(|d| d.len() == 16)
            .ok_or_else(|| {
                S3Error::with_message(
                    S3ErrorCode::InvalidDigest,
                    "The Content-MD5 you specified was invalid.",
                )
            })?;
        if sent.as_slice() != Md5::digest(body).as_slice() {
            return Err(S3Error::with_message(
                S3ErrorCode::BadDigest,
                "The Content-MD5 you specified did not match what we received.",
            ));
        }
    }
    if let Some(sent) = checksum {
        if compute_checksum(sent.algorithm, body).digest != sent.digest {
            return Err(S3Error::with_message(
                S3ErrorCode::BadDigest,
                format!(
                    "The {} you specified did not match the calculated checksum.",
                    sent.algorithm.as_str()
                ),
            ));
        }
    }
    shape(body).map_err(|()| {
        S3Error::with_message(
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema",
        )
    })
}

fn header_str<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The one `x-amz-checksum-*` header sent, decoded.
fn sent_checksum(headers: &http::HeaderMap) -> Result<Option<ChecksumValue>, S3Error> {
    let mut found = None;
    for alg in [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ] {
        let name = format!("x-amz-checksum-{}", alg.as_str().to_ascii_lowercase());
        let Some(value) = header_str(headers, &name) else {
            continue;
        };
        if found.is_some() {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
            ));
        }
        found = Some(ChecksumValue::from_base64(alg, value).map_err(crate::errors::to_s3)?);
    }
    Ok(found)
}

/// Nesting depth at most [`MAX_DEPTH`], and no `<!DOCTYPE` / `<!ENTITY` (S3 documents have
/// none; refusing them keeps entity tricks away from the parser).
fn shape(body: &[u8]) -> Result<(), ()> {
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(off) = body[i..].iter().position(|&b| b == b'<') {
        let start = i + off;
        let rest = &body[start + 1..];
        // Skip comments, CDATA and processing instructions whole: they may contain '<' / '>'.
        let (skip_to, opens) = if let Some(r) = rest.strip_prefix(b"!--") {
            (find(r, b"-->").ok_or(())? + 3 + 3, false)
        } else if let Some(r) = rest.strip_prefix(b"![CDATA[") {
            (find(r, b"]]>").ok_or(())? + 8 + 3, false)
        } else if rest.starts_with(b"!") {
            return Err(());
        } else if let Some(r) = rest.strip_prefix(b"?") {
            (find(r, b"?>").ok_or(())? + 1 + 2, false)
        } else {
            let end = tag_end(rest).ok_or(())?;
            if rest.first() == Some(&b'/') {
                depth = depth.checked_sub(1).ok_or(())?;
                (end + 1, false)
            } else {
                let self_closing = end > 0 && rest[end - 1] == b'/';
                (end + 1, !self_closing)
            }
        };
        if opens {
            depth += 1;
            if depth > MAX_DEPTH {
                return Err(());
            }
        }
        i = start + 1 + skip_to;
        if i > body.len() {
            return Err(());
        }
    }
    Ok(())
}

/// Whether `body` passes [`MAX_DEPTH`] and carries no DTD (see `shape`).
pub fn check_shape(body: &[u8]) -> bool {
    shape(body).is_ok()
}

/// Index of the `>` closing a tag, skipping quoted attribute values.
fn tag_end(tag: &[u8]) -> Option<usize> {
    let mut quote = None;
    for (i, &b) in tag.iter().enumerate() {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), _) if b == q => quote = None,
            (None, b'>') => return Some(i),
            _ => {}
        }
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The error for a document body longer than its kind allows.
pub fn too_large() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::MaxMessageLengthExceeded,
        "Your request was too big.",
    )
}

/// Reads a document body whole; its length is at most `limit` (checked against
/// Content-Length before reading, and while reading).
pub async fn read_document(body: &mut s3s::Body, limit: u64) -> Result<Bytes, S3Error> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    body.store_all_limited(limit).await.map_err(|e| {
        if over_limit(e.as_ref()) {
            too_large()
        } else {
            S3Error::with_message(
                S3ErrorCode::IncompleteBody,
                "You did not provide the number of bytes specified by the Content-Length HTTP header.",
            )
        }
    })
}

/// Whether reading a body failed on its length limit. A streamed body fails with
/// `http_body_util::LengthLimitError`; a body s3s already holds fails with s3s's
/// `BodySizeLimitExceeded`, whose module is private in s3s 0.14.1: that one is recognised by
/// its `Display` text.
fn over_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<http_body_util::LengthLimitError>()
        .is_some()
        || e.to_string().contains("exceeds limit")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn length_limits_recognised() {
        let mut held = s3s::Body::from("hello".to_string());
        let e = held.store_all_limited(2).await.expect_err("over the limit");
        assert!(over_limit(e.as_ref()));
        let mut streamed =
            s3s::Body::http_body(http_body_util::Full::new(Bytes::from_static(b"hello")));
        let e = streamed
            .store_all_limited(2)
            .await
            .expect_err("over the limit");
        assert!(e
            .downcast_ref::<http_body_util::LengthLimitError>()
            .is_some());
        assert!(over_limit(e.as_ref()));
        let other: Box<dyn std::error::Error + Send + Sync> = "connection reset".into();
        assert!(!over_limit(other.as_ref()));
    }

    #[test]
    fn classifies_bodies() {
        let post = http::Method::POST;
        let put = http::Method::PUT;
        assert!(matches!(
            body_kind(&post, true, Some("uploadId=abc")),
            BodyKind::Document {
                limit: MAX_LIST_BODY,
                checksum_headers_cover_body: false,
                ..
            }
        ));
        assert!(matches!(
            body_kind(&post, false, Some("delete")),
            BodyKind::Document {
                integrity_required: true,
                ..
            }
        ));
        assert!(matches!(
            body_kind(&put, false, None),
            BodyKind::Document { .. }
        ));
        assert!(matches!(
            body_kind(&put, true, Some("tagging")),
            BodyKind::Document { .. }
        ));
        assert_eq!(body_kind(&put, true, None), BodyKind::Data);
        assert_eq!(
            body_kind(&put, true, Some("partNumber=1&uploadId=x")),
            BodyKind::Data
        );
        assert_eq!(body_kind(&http::Method::GET, false, None), BodyKind::Data);
        assert!(matches!(
            body_kind(&put, false, Some("cors")),
            BodyKind::Document { limit: 65536, .. }
        ));
    }

    #[test]
    fn shape_accepts_s3_documents() {
        let doc = br#"<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <!-- a comment with <angle> brackets -->
  <Part><PartNumber>1</PartNumber><ETag>"a&gt;b"</ETag></Part>
  <Part><PartNumber>2</PartNumber><ETag><![CDATA[<x>]]></ETag><Empty/></Part>
</CompleteMultipartUpload>"#;
        assert!(check_shape(doc));
        assert!(check_shape(b""));
        assert!(check_shape(br#"<a b="x>y"><c/></a>"#));
    }

    #[test]
    fn shape_refuses_deep_nesting_dtds_and_broken_tags() {
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(!check_shape(deep.as_bytes()));
        let ok = "<a>".repeat(MAX_DEPTH) + &"</a>".repeat(MAX_DEPTH);
        assert!(check_shape(ok.as_bytes()));
        assert!(!check_shape(b"<!DOCTYPE x [<!ENTITY a \"b\">]><x/>"));
        assert!(!check_shape(b"<a"));
        assert!(!check_shape(b"</a>"));
        assert!(!check_shape(b"<!-- never closed"));
    }

    fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, http::HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn delete_objects_needs_an_integrity_header() {
        let kind = body_kind(&http::Method::POST, false, Some("delete"));
        let body = b"<Delete><Object><Key>k</Key></Object></Delete>";
        let e = check_document(kind, &http::HeaderMap::new(), body).unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::InvalidRequest);
        let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(body));
        assert!(check_document(kind, &headers(&[("content-md5", &md5)]), body).is_ok());
        let crc = compute_checksum(ChecksumAlgorithm::Crc32, body).to_base64();
        assert!(check_document(kind, &headers(&[("x-amz-checksum-crc32", &crc)]), body).is_ok());
    }

    #[test]
    fn wrong_digests_are_bad_digest() {
        let kind = body_kind(&http::Method::POST, true, Some("uploadId=x"));
        let body = b"<CompleteMultipartUpload/>";
        let wrong = base64::engine::general_purpose::STANDARD.encode([0u8; 16]);
        let e = check_document(kind, &headers(&[("content-md5", &wrong)]), body).unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::BadDigest);
        let e = check_document(kind, &headers(&[("content-md5", "nope")]), body).unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::InvalidDigest);
        // On Complete the checksum headers are the object's, not the body's.
        let crc = compute_checksum(ChecksumAlgorithm::Crc32, b"other").to_base64();
        assert!(check_document(kind, &headers(&[("x-amz-checksum-crc32", &crc)]), body).is_ok());
        let del = body_kind(&http::Method::POST, false, Some("delete"));
        let e = check_document(del, &headers(&[("x-amz-checksum-crc32", &crc)]), body).unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::BadDigest);
    }
}
