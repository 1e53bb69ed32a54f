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
        Error::NotModified => C::NotModified,
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
        Error::IncompleteBody => C::IncompleteBody,
        Error::Conflict => C::SlowDown,
        Error::Body(source) => return body_error(source),
        Error::Io(_) | Error::Backend(_) | Error::Internal(_) => {
            tracing::error!(error = %msg, "internal error");
            C::InternalError
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

/// A body that failed to arrive: keep an S3 error raised while decoding it (bad chunk
/// signature, ...), otherwise IncompleteBody.
fn body_error(source: Box<dyn std::error::Error + Send + Sync>) -> S3Error {
    match source.downcast::<S3Error>() {
        Ok(e) => *e,
        Err(other) => {
            let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(other.as_ref());
            while let Some(e) = cur {
                if let Some(s3) = e.downcast_ref::<S3Error>() {
                    let mut copy = S3Error::new(s3.code().clone());
                    if let Some(m) = s3.message() {
                        copy.set_message(m.to_string());
                    }
                    return copy;
                }
                cur = e.source();
            }
            S3Error::with_message(S3ErrorCode::IncompleteBody, format!("The request body could not be read: {other}"))
        }
    }
}
