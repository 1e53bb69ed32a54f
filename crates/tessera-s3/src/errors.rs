//! Domain errors to S3 errors: code, HTTP status and message, all decided in [`to_s3`].

use std::borrow::Cow;

use http::StatusCode;
use s3s::{S3Error, S3ErrorCode};
use tessera_core::error::{
    AccessError, ArgumentError, BucketNameRule, Digest, EncryptionError, InvalidPartReason,
    RequestError,
};
use tessera_core::Error;

/// The message of every 500: internal detail is for the operator's log only.
const INTERNAL_MESSAGE: &str = "We encountered an internal error. Please try again.";

/// Code, status and message of an access-control error.
fn access_error(e: AccessError) -> (S3ErrorCode, StatusCode, Cow<'static, str>) {
    use S3ErrorCode as C;
    use StatusCode as S;
    match e {
        AccessError::MalformedPolicy(m) => (C::MalformedPolicy, S::BAD_REQUEST, m.into()),
        AccessError::NoSuchBucketPolicy => (
            C::NoSuchBucketPolicy,
            S::NOT_FOUND,
            "The bucket policy does not exist".into(),
        ),
        AccessError::NoSuchPublicAccessBlockConfiguration => (
            C::Custom("NoSuchPublicAccessBlockConfiguration".into()),
            S::NOT_FOUND,
            "The public access block configuration was not found".into(),
        ),
        AccessError::NoSuchOwnershipControls => (
            C::OwnershipControlsNotFoundError,
            S::NOT_FOUND,
            "The bucket ownership controls were not found".into(),
        ),
        AccessError::AclNotSupported => (
            C::AccessControlListNotSupported,
            S::BAD_REQUEST,
            "The bucket does not allow ACLs".into(),
        ),
        AccessError::InvalidBucketAclWithObjectOwnership => (
            C::InvalidBucketAclWithObjectOwnership,
            S::BAD_REQUEST,
            "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting".into(),
        ),
        AccessError::MalformedAcl(m) => (
            C::MalformedACLError,
            S::BAD_REQUEST,
            format!("The XML you provided was not well-formed or did not validate against our published schema: {m}").into(),
        ),
        AccessError::UnresolvableGrantByEmailAddress(m) => (
            C::UnresolvableGrantByEmailAddress,
            S::BAD_REQUEST,
            format!("The e-mail address you provided does not match any account on record: {m}")
                .into(),
        ),
        AccessError::InvalidAclArgument(m) => (C::InvalidArgument, S::BAD_REQUEST, m.into()),
        AccessError::MalformedSetting(m) => (C::MalformedXML, S::BAD_REQUEST, m.into()),
        AccessError::PublicAccessBlocked(m) => (C::AccessDenied, S::FORBIDDEN, m.into()),
    }
}

/// Code, status and message of a server-side encryption error.
fn encryption_error(e: EncryptionError) -> (S3ErrorCode, StatusCode, Cow<'static, str>) {
    use EncryptionError as E;
    use S3ErrorCode as C;
    use StatusCode as S;
    const SSE_C: &str =
        "Requests specifying Server Side Encryption with Customer provided keys must";
    match e {
        E::InsecureTransport => (
            C::InvalidRequest,
            S::BAD_REQUEST,
            format!("{SSE_C} be made over a secure connection.").into(),
        ),
        E::MissingCustomerAlgorithm | E::InvalidCustomerAlgorithm(_) => (
            C::InvalidArgument,
            S::BAD_REQUEST,
            format!("{SSE_C} provide a valid encryption algorithm.").into(),
        ),
        E::MissingCustomerKey => (
            C::InvalidArgument,
            S::BAD_REQUEST,
            format!("{SSE_C} provide an appropriate secret key.").into(),
        ),
        E::InvalidCustomerKey => (
            C::InvalidArgument,
            S::BAD_REQUEST,
            "The secret key was invalid for the specified algorithm.".into(),
        ),
        E::MissingCustomerKeyMd5 => (
            C::InvalidArgument,
            S::BAD_REQUEST,
            format!("{SSE_C} provide the client calculated MD5 of the secret key.").into(),
        ),
        E::CustomerKeyMd5Mismatch => (
            C::InvalidArgument,
            S::BAD_REQUEST,
            "The calculated MD5 hash of the key did not match the hash that was provided.".into(),
        ),
        E::CustomerKeyRequired => (
            C::InvalidRequest,
            S::BAD_REQUEST,
            "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.".into(),
        ),
        E::WrongCustomerKey => (C::AccessDenied, S::FORBIDDEN, "Access Denied".into()),
        E::NotApplicable => (
            C::InvalidRequest,
            S::BAD_REQUEST,
            "The encryption parameters are not applicable to this object.".into(),
        ),
        E::UploadKeyRequired => (
            C::InvalidRequest,
            S::BAD_REQUEST,
            "The multipart upload initiate requested encryption. Subsequent part requests must include the appropriate encryption parameters.".into(),
        ),
        E::UploadKeyMismatch => (
            C::InvalidRequest,
            S::BAD_REQUEST,
            "The provided encryption parameters did not match the ones used originally.".into(),
        ),
        E::InvalidEncryptionMethod(_) => (
            C::InvalidArgument,
            S::BAD_REQUEST,
            "The encryption method specified is not supported".into(),
        ),
        E::KmsKeyNotFound(id) => (
            C::Custom("KMS.NotFoundException".into()),
            S::BAD_REQUEST,
            format!("Invalid keyId '{id}'").into(),
        ),
        E::KmsKeyIdWithoutKmsHeader => (
            C::InvalidArgument,
            S::BAD_REQUEST,
            "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms".into(),
        ),
        E::CustomerKeyWithServerSideEncryption => (
            C::InvalidArgument,
            S::BAD_REQUEST,
            "Server Side Encryption with Customer provided key is incompatible with the encryption method specified".into(),
        ),
        E::KmsKeyIdWithoutKms => (
            C::InvalidArgument,
            S::BAD_REQUEST,
            "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse".into(),
        ),
        E::MalformedConfiguration(m) => (C::MalformedXML, S::BAD_REQUEST, m.into()),
        E::NoConfiguration => (
            C::ServerSideEncryptionConfigurationNotFoundError,
            S::NOT_FOUND,
            "The server side encryption configuration was not found".into(),
        ),
        e @ (E::MasterKeyMismatch | E::CorruptData | E::InvalidStoredForm(_)) => {
            // The server's own failure (a lost master key, damaged blobs): detail to the log.
            tracing::error!(error = %e, "server-side encryption failure");
            (C::InternalError, S::INTERNAL_SERVER_ERROR, INTERNAL_MESSAGE.into())
        }
    }
}

/// Maps a domain error to the S3 error a client expects.
pub fn to_s3(err: Error) -> S3Error {
    use S3ErrorCode as C;
    use StatusCode as S;
    let (code, status, message): (C, S, Cow<'static, str>) = match err {
        Error::NoSuchBucket => (
            C::NoSuchBucket,
            S::NOT_FOUND,
            "The specified bucket does not exist".into(),
        ),
        Error::InvalidBucketName { name, reason } => (
            C::InvalidBucketName,
            S::BAD_REQUEST,
            format!(
                "The specified bucket is not valid: {name}: {}",
                bucket_name_rule(reason)
            )
            .into(),
        ),
        Error::BucketAlreadyOwnedByYou => (
            C::BucketAlreadyOwnedByYou,
            S::CONFLICT,
            "Your previous request to create the named bucket succeeded and you already own it"
                .into(),
        ),
        Error::BucketAlreadyExists => (
            C::BucketAlreadyExists,
            S::CONFLICT,
            "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again."
                .into(),
        ),
        Error::AccessDenied => (C::AccessDenied, S::FORBIDDEN, "Access Denied".into()),
        Error::ObjectLocked => (
            C::AccessDenied,
            S::FORBIDDEN,
            "Access Denied because object protected by object lock.".into(),
        ),
        Error::ObjectLockConfigurationNotFound => (
            C::ObjectLockConfigurationNotFoundError,
            S::NOT_FOUND,
            "Object Lock configuration does not exist for this bucket".into(),
        ),
        Error::NoSuchObjectLockConfiguration => (
            C::NoSuchObjectLockConfiguration,
            S::NOT_FOUND,
            "The specified object does not have a ObjectLock configuration".into(),
        ),
        Error::InvalidAccessKeyId => (
            C::InvalidAccessKeyId,
            S::FORBIDDEN,
            "The AWS Access Key Id you provided does not exist in our records.".into(),
        ),
        // Identity-management errors come from the admin and IAM paths, never from an S3
        // operation; should one reach here, the message says what was wrong.
        Error::NoSuchEntity(m)
        | Error::EntityAlreadyExists(m)
        | Error::DeleteConflict(m)
        | Error::LimitExceeded(m)
        | Error::MalformedPolicyDocument(m)
        | Error::IdentityValidation(m) => (C::InvalidRequest, S::BAD_REQUEST, m.into()),
        Error::Access(e) => access_error(e),
        Error::InvalidTag(m) => (C::InvalidTag, S::BAD_REQUEST, m.into()),
        Error::BadRequest(m) => (C::Custom("BadRequest".into()), S::BAD_REQUEST, m.into()),
        Error::NoSuchTagSet => (
            C::NoSuchTagSet,
            S::NOT_FOUND,
            "The TagSet does not exist".into(),
        ),
        Error::NoSuchLifecycleConfiguration => (
            C::NoSuchLifecycleConfiguration,
            S::NOT_FOUND,
            "The lifecycle configuration does not exist".into(),
        ),
        Error::NoSuchCorsConfiguration => (
            C::NoSuchCORSConfiguration,
            S::NOT_FOUND,
            "The CORS configuration does not exist".into(),
        ),
        Error::BucketNotEmpty => (
            C::BucketNotEmpty,
            S::CONFLICT,
            "The bucket you tried to delete is not empty".into(),
        ),
        Error::InvalidLocationConstraint => (
            C::InvalidLocationConstraint,
            S::BAD_REQUEST,
            "The specified location-constraint is not valid".into(),
        ),
        Error::NoSuchKey => (
            C::NoSuchKey,
            S::NOT_FOUND,
            "The specified key does not exist".into(),
        ),
        Error::DeleteMarker {
            version_id,
            last_modified,
            by_version,
        } => return delete_marker(&version_id, last_modified, by_version),
        Error::NoSuchVersion => (
            C::NoSuchVersion,
            S::NOT_FOUND,
            "The specified version does not exist.".into(),
        ),
        Error::InvalidBucketState(m) => (C::InvalidBucketState, S::CONFLICT, m.into()),
        Error::InvalidStorageClass => (
            C::InvalidStorageClass,
            S::BAD_REQUEST,
            "The storage class you specified is not valid".into(),
        ),
        Error::NoSuchUpload => (
            C::NoSuchUpload,
            S::NOT_FOUND,
            "The specified multipart upload does not exist".into(),
        ),
        Error::PreconditionFailed => (
            C::PreconditionFailed,
            S::PRECONDITION_FAILED,
            "At least one of the pre-conditions you specified did not hold".into(),
        ),
        Error::NotModified {
            etag,
            last_modified,
        } => return not_modified(&etag, last_modified),
        Error::InvalidPart {
            part_number,
            reason,
        } => (
            C::InvalidPart,
            S::BAD_REQUEST,
            match reason {
                InvalidPartReason::NotFound => format!(
                    "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag. (part {part_number})"
                ),
                InvalidPartReason::InvalidChecksum => {
                    format!("Invalid checksum for part {part_number}")
                }
            }
            .into(),
        ),
        Error::InvalidPartNumber => (
            C::Custom("InvalidPartNumber".into()),
            S::RANGE_NOT_SATISFIABLE,
            "The requested partnumber is not satisfiable".into(),
        ),
        Error::InvalidPartOrder => (
            C::InvalidPartOrder,
            S::BAD_REQUEST,
            "The list of parts was not in ascending order".into(),
        ),
        Error::EntityTooSmall => (
            C::EntityTooSmall,
            S::BAD_REQUEST,
            "Your proposed upload is smaller than the minimum allowed object size".into(),
        ),
        Error::EntityTooLarge => (
            C::EntityTooLarge,
            S::BAD_REQUEST,
            "Your proposed upload exceeds the maximum allowed object size".into(),
        ),
        Error::BadDigest { algorithm } => (
            C::BadDigest,
            S::BAD_REQUEST,
            match algorithm {
                Digest::ContentMd5 => {
                    "The Content-MD5 you specified did not match what we received.".into()
                }
                Digest::Checksum(a) => format!(
                    "The {} you specified did not match the calculated checksum.",
                    a.as_str()
                )
                .into(),
            },
        ),
        Error::InvalidDigest => (
            C::InvalidDigest,
            S::BAD_REQUEST,
            "The Content-MD5 you specified was invalid.".into(),
        ),
        Error::InvalidArgument(e) => (C::InvalidArgument, S::BAD_REQUEST, argument_message(e)),
        Error::InvalidRange => (
            C::InvalidRange,
            S::RANGE_NOT_SATISFIABLE,
            "The requested range is not satisfiable".into(),
        ),
        Error::InvalidRequest(e) => (C::InvalidRequest, S::BAD_REQUEST, request_message(e)),
        Error::MalformedXml => (
            C::MalformedXML,
            S::BAD_REQUEST,
            "The XML you provided was not well-formed or did not validate against our published schema".into(),
        ),
        Error::IncompleteBody => (
            C::IncompleteBody,
            S::BAD_REQUEST,
            "You did not provide the number of bytes specified by the Content-Length HTTP header"
                .into(),
        ),
        Error::Body(source) => return body_error(source),
        Error::MetadataTooLarge => (
            C::MetadataTooLarge,
            S::BAD_REQUEST,
            "Your metadata headers exceed the maximum allowed metadata size".into(),
        ),
        Error::KeyTooLong => (
            C::KeyTooLongError,
            S::BAD_REQUEST,
            "The key is too long".into(),
        ),
        Error::Conflict => (
            C::SlowDown,
            S::SERVICE_UNAVAILABLE,
            "A conflicting operation is in progress; retry".into(),
        ),
        Error::InsufficientStorage => return insufficient_storage(),
        Error::Io(e) if e.kind() == std::io::ErrorKind::StorageFull => {
            return insufficient_storage()
        }
        Error::Backend {
            source,
            transient: true,
        } => {
            // Busy or timed out: the client's retry (with backoff, which SlowDown asks for) may
            // succeed.
            tracing::warn!(error = %source, "transient backend error");
            (
                C::SlowDown,
                S::SERVICE_UNAVAILABLE,
                "Please reduce your request rate.".into(),
            )
        }
        Error::Encryption(e) => encryption_error(e),
        e @ (Error::Io(_)
        | Error::BlobNotFound { .. }
        | Error::Backend {
            transient: false, ..
        }
        | Error::Internal(_)) => {
            // The detail may name files or backend state.
            tracing::error!(error = %error_chain(&e), "internal error");
            (C::InternalError, S::INTERNAL_SERVER_ERROR, INTERNAL_MESSAGE.into())
        }
    };
    let mut e = S3Error::with_message(code, message);
    e.set_status_code(status);
    e
}

/// An error and its causes, for the log.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cur = c.source();
    }
    text
}

fn bucket_name_rule(rule: BucketNameRule) -> &'static str {
    match rule {
        BucketNameRule::Length => "must be between 3 and 63 characters long",
        BucketNameRule::Characters => {
            "only lowercase letters, digits, dots and hyphens are allowed"
        }
        BucketNameRule::Ends => "must begin and end with a letter or digit",
        BucketNameRule::AdjacentPunctuation => {
            "must not contain two adjacent periods or a period next to a hyphen"
        }
        BucketNameRule::IpAddress => "must not be formatted as an IP address",
        BucketNameRule::ReservedPrefix => "uses a reserved prefix",
        BucketNameRule::ReservedSuffix => "uses a reserved suffix",
    }
}

fn argument_message(e: ArgumentError) -> Cow<'static, str> {
    match e {
        ArgumentError::PartNumber => {
            "Part number must be an integer between 1 and 10000, inclusive".into()
        }
        ArgumentError::EmptyKey => "The object key must not be empty".into(),
        ArgumentError::CopySourceRangeSyntax => "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy".into(),
        ArgumentError::CopySourceRangeOutOfBounds { size } => {
            format!("Range specified is not valid for source object of size: {size}").into()
        }
        ArgumentError::OutOfRange { value } => format!("value {value} is out of range").into(),
        ArgumentError::VersionId => "Invalid version id specified".into(),
        ArgumentError::VersionIdMarkerWithoutKeyMarker => {
            "A version-id marker cannot be specified without a key marker.".into()
        }
        ArgumentError::Config(m) => m.into(),
        ArgumentError::RetainUntilInPast => "The retain until date must be in the future!".into(),
        ArgumentError::LockMode => "Unknown wormMode directive.".into(),
        ArgumentError::LegalHoldStatus => "Legal Hold must be either of 'ON' or 'OFF'".into(),
        ArgumentError::RetentionPeriod => {
            "Default retention period must be a positive integer value.".into()
        }
        ArgumentError::RetentionPeriodTooLong => {
            "Default retention period is too large.".into()
        }
    }
}

fn request_message(e: RequestError) -> Cow<'static, str> {
    let lower = |a: tessera_core::checksum::ChecksumAlgorithm| a.as_str().to_ascii_lowercase();
    match e {
        RequestError::UnsupportedChecksumAlgorithm { name } => {
            format!("Checksum algorithm {name} is not supported").into()
        }
        RequestError::InvalidChecksumType { value } => {
            format!("Value for x-amz-checksum-type header is invalid: {value}").into()
        }
        RequestError::InvalidChecksumValue { algorithm } => format!(
            "Value for x-amz-checksum-{} header is invalid.",
            lower(algorithm)
        )
        .into(),
        RequestError::ChecksumTypeWithoutAlgorithm => "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.".into(),
        RequestError::ChecksumTypeUnsupported {
            checksum_type,
            algorithm,
        } => format!(
            "The {} checksum type cannot be used with the {} checksum algorithm.",
            checksum_type.as_str(),
            lower(algorithm)
        )
        .into(),
        RequestError::ChecksumAlgorithmMismatch { expected, actual } => format!(
            "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
            lower(expected),
            lower(actual)
        )
        .into(),
        RequestError::ChecksumTypeMismatch { upload } => format!(
            "The upload was created using the {} checksum mode. The complete request must use the same checksum mode.",
            upload.as_str()
        )
        .into(),
        RequestError::TrailerNotAnnounced { algorithm } => format!(
            "The x-amz-checksum-{} trailer was not announced in x-amz-trailer",
            lower(algorithm)
        )
        .into(),
        RequestError::TrailerMissing { algorithm } => format!(
            "The trailer x-amz-checksum-{} announced in x-amz-trailer is missing",
            lower(algorithm)
        )
        .into(),
        RequestError::RangeWithPartNumber => {
            "Cannot specify both Range header and partNumber query parameter".into()
        }
        RequestError::CannedAclWithGrants => {
            "Specifying both Canned ACLs and Header Grants is not allowed".into()
        }
        RequestError::Config(m) => m.into(),
        RequestError::MissingObjectLockConfiguration => {
            "Bucket is missing Object Lock Configuration".into()
        }
        RequestError::LockHeadersIncomplete => "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied".into(),
        RequestError::CopyOntoItself => "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.".into(),
        RequestError::NonConsecutiveParts => "An upload created with a checksum algorithm must be completed with consecutive part numbers starting at 1.".into(),
        RequestError::MissingPartChecksum {
            algorithm,
            part_number,
        } => format!(
            "The upload was created using a {} checksum. The complete request must include the checksum for each part. It was missing for part {part_number} in the request.",
            lower(algorithm)
        )
        .into(),
        RequestError::ObjectSizeMismatch { expected, computed } => format!(
            "The provided 'x-amz-mp-object-size' header value {expected} does not match what was computed: {computed}"
        )
        .into(),
    }
}

/// A body that failed to arrive: an S3 error raised while decoding it is kept; the payload
/// checks of s3s's decoders are recognised by [`s3s_decoder_error`].
fn body_error(source: Box<dyn std::error::Error + Send + Sync>) -> S3Error {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(source.as_ref());
    while let Some(e) = cur {
        if let Some(s3) = e.downcast_ref::<S3Error>() {
            return S3Error::with_message(
                s3.code().clone(),
                s3.message().unwrap_or_default().to_string(),
            );
        }
        if let Some(mapped) = s3s_decoder_error(e) {
            return mapped;
        }
        cur = e.source();
    }
    tracing::debug!(error = ?source.to_string(), "request body failed");
    S3Error::with_message(
        S3ErrorCode::IncompleteBody,
        "You did not provide the number of bytes specified by the Content-Length HTTP header.",
    )
}

/// The failures of s3s's body decoders. s3s 0.14.1 keeps their types private
/// (`sig_v4::UploadStreamError`, `http::AwsChunkedStreamError`, in private modules), so no
/// downcast is possible: they are recognised by their `Display` text, here only.
fn s3s_decoder_error(e: &(dyn std::error::Error + 'static)) -> Option<S3Error> {
    let text = e.to_string();
    if text.contains("Sha256Mismatch") {
        let mut e = S3Error::with_message(
            S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        );
        e.set_status_code(StatusCode::BAD_REQUEST);
        return Some(e);
    }
    if text.contains("SignatureMismatch") {
        return Some(S3Error::with_message(
            S3ErrorCode::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided.",
        ));
    }
    if text.contains("AwsChunkedStreamError: FormatError") || text.contains("ChunkMetaTooLarge") {
        return Some(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "The aws-chunked body is malformed.",
        ));
    }
    None
}

/// A full disk: 507, which SDKs do not retry (a retry cannot succeed until space is freed).
fn insufficient_storage() -> S3Error {
    let mut e = S3Error::with_message(
        S3ErrorCode::Custom("InsufficientStorage".into()),
        "The server has no storage space left for this request; delete objects or abort uploads to free space.",
    );
    e.set_status_code(StatusCode::INSUFFICIENT_STORAGE);
    e
}

/// A delete marker read: 404 NoSuchKey as the key's current version, 405 MethodNotAllowed
/// when named by version id; both say it is a marker and which.
fn delete_marker(
    version_id: &str,
    last_modified: tessera_core::Millis,
    by_version: bool,
) -> S3Error {
    let mut e = if by_version {
        let mut e = S3Error::with_message(
            S3ErrorCode::MethodNotAllowed,
            "The specified method is not allowed against this resource.",
        );
        e.set_status_code(StatusCode::METHOD_NOT_ALLOWED);
        e
    } else {
        let mut e =
            S3Error::with_message(S3ErrorCode::NoSuchKey, "The specified key does not exist");
        e.set_status_code(StatusCode::NOT_FOUND);
        e
    };
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "x-amz-delete-marker",
        http::HeaderValue::from_static("true"),
    );
    if let Ok(v) = http::HeaderValue::from_str(version_id) {
        headers.insert("x-amz-version-id", v);
    }
    if by_version {
        if let Some(v) = crate::dates::http_date(&crate::dates::ts(last_modified))
            .and_then(|d| http::HeaderValue::from_str(&d).ok())
        {
            headers.insert(http::header::LAST_MODIFIED, v);
        }
    }
    e.set_headers(headers);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_backend_is_slow_down() {
        let e = to_s3(Error::transient("database is locked"));
        assert_eq!(e.code(), &S3ErrorCode::SlowDown);
        assert_eq!(e.status_code(), Some(StatusCode::SERVICE_UNAVAILABLE));
    }

    #[test]
    fn internal_detail_stays_out_of_the_message() {
        let e = to_s3(Error::backend("corrupt metadata: /var/lib/x"));
        assert_eq!(e.code(), &S3ErrorCode::InternalError);
        assert_eq!(e.message(), Some(INTERNAL_MESSAGE));
        assert_eq!(e.status_code(), Some(StatusCode::INTERNAL_SERVER_ERROR));
    }

    #[test]
    fn encryption_errors_are_s3_errors() {
        let e = |x| to_s3(Error::Encryption(x));
        let r = e(EncryptionError::CustomerKeyRequired);
        assert_eq!(r.code(), &S3ErrorCode::InvalidRequest);
        assert_eq!(r.status_code(), Some(StatusCode::BAD_REQUEST));
        let r = e(EncryptionError::WrongCustomerKey);
        assert_eq!(r.code(), &S3ErrorCode::AccessDenied);
        assert_eq!(r.status_code(), Some(StatusCode::FORBIDDEN));
        let r = e(EncryptionError::InvalidCustomerKey);
        assert_eq!(r.code(), &S3ErrorCode::InvalidArgument);
        assert_eq!(
            r.message(),
            Some("The secret key was invalid for the specified algorithm.")
        );
        let r = e(EncryptionError::CustomerKeyMd5Mismatch);
        assert_eq!(
            r.message(),
            Some("The calculated MD5 hash of the key did not match the hash that was provided.")
        );
        let r = e(EncryptionError::InvalidCustomerAlgorithm("x".into()));
        assert_eq!(
            r.message(),
            Some("Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.")
        );
        let r = e(EncryptionError::NoConfiguration);
        assert_eq!(
            r.code().as_str(),
            "ServerSideEncryptionConfigurationNotFoundError"
        );
        assert_eq!(r.status_code(), Some(StatusCode::NOT_FOUND));
        let r = e(EncryptionError::KmsKeyNotFound("k".into()));
        assert_eq!(r.code().as_str(), "KMS.NotFoundException");
        assert_eq!(r.status_code(), Some(StatusCode::BAD_REQUEST));
        let r = e(EncryptionError::CorruptData);
        assert_eq!(r.code(), &S3ErrorCode::InternalError);
        assert_eq!(r.message(), Some(INTERNAL_MESSAGE));
    }

    #[test]
    fn messages_keep_their_wire_text() {
        let e = to_s3(Error::InvalidPartNumber);
        assert_eq!(e.status_code(), Some(StatusCode::RANGE_NOT_SATISFIABLE));
        assert_eq!(e.code().as_str(), "InvalidPartNumber");
        let e = to_s3(Error::InvalidRequest(
            RequestError::ChecksumTypeUnsupported {
                checksum_type: tessera_core::checksum::ChecksumType::Composite,
                algorithm: tessera_core::checksum::ChecksumAlgorithm::Crc64Nvme,
            },
        ));
        assert_eq!(
            e.message(),
            Some(
                "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm."
            )
        );
        let e = to_s3(Error::BadDigest {
            algorithm: Digest::Checksum(tessera_core::checksum::ChecksumAlgorithm::Crc32c),
        });
        assert_eq!(
            e.message(),
            Some("The CRC32C you specified did not match the calculated checksum.")
        );
    }
}
