//! Domain errors to S3 errors: code, HTTP status, message.

use s3s::{S3Error, S3ErrorCode};
use tessera_core::Error;

/// Maps a domain error to the S3 error a client expects.
pub fn to_s3(err: Error) -> S3Error {
    use S3ErrorCode as C;
    let msg = err.to_string();
    let code = match err {
        Error::NoSuchBucket => C::NoSuchBucket,
        Error::InvalidBucketName(_) => C::InvalidBucketName,
        Error::BucketAlreadyOwnedByYou => C::BucketAlreadyOwnedByYou,
        Error::BucketNotEmpty => C::BucketNotEmpty,
        Error::NoSuchKey => C::NoSuchKey,
        Error::NoSuchUpload => C::NoSuchUpload,
        Error::PreconditionFailed => C::PreconditionFailed,
        Error::NotModified {
            etag,
            last_modified,
        } => return not_modified(&etag, last_modified),
        Error::InvalidPart(_) => C::InvalidPart,
        Error::InvalidPartNumber => C::Custom("InvalidPartNumber".into()),
        Error::InvalidPartOrder => C::InvalidPartOrder,
        Error::EntityTooSmall => C::EntityTooSmall,
        Error::EntityTooLarge => C::EntityTooLarge,
        Error::BadDigest(_) => C::BadDigest,
        Error::InvalidDigest(_) => C::InvalidDigest,
        Error::InvalidArgument(_) => C::InvalidArgument,
        Error::InvalidRange => C::InvalidRange,
        Error::InvalidRequest(_) => C::InvalidRequest,
        Error::MalformedXml => C::MalformedXML,
        Error::KeyTooLong => C::KeyTooLongError,
        Error::MetadataTooLarge => C::MetadataTooLarge,
        Error::IncompleteBody => C::IncompleteBody,
        Error::InvalidLocationConstraint => C::InvalidLocationConstraint,
        Error::Conflict => C::SlowDown,
        Error::Body(source) => return body_error(source),
        Error::InsufficientStorage => return insufficient_storage(),
        Error::Io(e) if e.kind() == std::io::ErrorKind::StorageFull => {
            return insufficient_storage()
        }
        Error::Io(_) | Error::BlobNotFound { .. } | Error::Backend(_) | Error::Internal(_) => {
            // The detail is for the operator's log only: it may name files or backend state.
            tracing::error!(error = ?msg, "internal error");
            return S3Error::with_message(
                C::InternalError,
                "We encountered an internal error. Please try again.",
            );
        }
    };
    let mut e = S3Error::with_message(code, msg);
    if matches!(e.code(), C::SlowDown) {
        e.set_status_code(http::StatusCode::SERVICE_UNAVAILABLE);
    }
    if e.code().as_str() == "InvalidPartNumber" {
        e.set_status_code(http::StatusCode::RANGE_NOT_SATISFIABLE);
    }
    e
}

/// A body that failed to arrive: an S3 error raised while decoding it is kept; the payload
/// checks of s3s's decoders (whose error types are private) are recognised by their names.
fn body_error(source: Box<dyn std::error::Error + Send + Sync>) -> S3Error {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(source.as_ref());
    while let Some(e) = cur {
        if let Some(s3) = e.downcast_ref::<S3Error>() {
            return S3Error::with_message(
                s3.code().clone(),
                s3.message().unwrap_or_default().to_string(),
            );
        }
        let text = e.to_string();
        if text.contains("Sha256Mismatch") {
            let mut e = S3Error::with_message(
                S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            );
            e.set_status_code(http::StatusCode::BAD_REQUEST);
            return e;
        }
        if text.contains("SignatureMismatch") {
            return S3Error::with_message(
                S3ErrorCode::SignatureDoesNotMatch,
                "The request signature we calculated does not match the signature you provided.",
            );
        }
        if text.contains("AwsChunkedStreamError: FormatError") || text.contains("ChunkMetaTooLarge")
        {
            return S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                "The aws-chunked body is malformed.",
            );
        }
        cur = e.source();
    }
    tracing::debug!(error = ?source.to_string(), "request body failed");
    S3Error::with_message(
        S3ErrorCode::IncompleteBody,
        "You did not provide the number of bytes specified by the Content-Length HTTP header.",
    )
}

/// A full disk: 507, which SDKs do not retry (a retry cannot succeed until space is freed).
fn insufficient_storage() -> S3Error {
    let mut e = S3Error::with_message(
        S3ErrorCode::Custom("InsufficientStorage".into()),
        "The server has no storage space left for this request; delete objects or abort uploads to free space.",
    );
    e.set_status_code(http::StatusCode::INSUFFICIENT_STORAGE);
    e
}

/// A 304 carries the validators of the object it refers to.
fn not_modified(etag: &str, last_modified: tessera_core::Millis) -> S3Error {
    let mut e = S3Error::new(S3ErrorCode::NotModified);
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(&format!("\"{etag}\"")) {
        headers.insert(http::header::ETAG, v);
    }
    if let Some(v) = crate::dates::http_date(&crate::dates::ts(last_modified))
        .and_then(|d| http::HeaderValue::from_str(&d).ok())
    {
        headers.insert(http::header::LAST_MODIFIED, v);
    }
    e.set_headers(headers);
    e
}
