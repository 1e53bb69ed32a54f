//! Domain errors. The protocol adapter maps each variant to an S3 error code and HTTP status.

use thiserror::Error;

/// Everything that can go wrong in a domain operation.
#[derive(Debug, Error)]
pub enum Error {
    #[error("The specified bucket does not exist")]
    NoSuchBucket,
    #[error("The specified bucket is not valid: {0}")]
    InvalidBucketName(String),
    #[error("The specified location-constraint is not valid")]
    InvalidLocationConstraint,
    #[error("Your previous request to create the named bucket succeeded and you already own it")]
    BucketAlreadyOwnedByYou,
    #[error("The bucket you tried to delete is not empty")]
    BucketNotEmpty,
    #[error("The specified key does not exist")]
    NoSuchKey,
    #[error("The specified multipart upload does not exist")]
    NoSuchUpload,
    #[error("At least one of the pre-conditions you specified did not hold")]
    PreconditionFailed,
    /// 304: the object's ETag and Last-Modified go into the response headers.
    #[error("Not modified")]
    NotModified {
        etag: String,
        last_modified: crate::ids::Millis,
    },
    #[error("{0}")]
    InvalidPart(String),
    #[error("The requested partnumber is not satisfiable")]
    InvalidPartNumber,
    #[error("The list of parts was not in ascending order")]
    InvalidPartOrder,
    #[error("Your proposed upload is smaller than the minimum allowed object size")]
    EntityTooSmall,
    #[error("Your proposed upload exceeds the maximum allowed object size")]
    EntityTooLarge,
    #[error("{0}")]
    BadDigest(String),
    #[error("{0}")]
    InvalidDigest(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("The requested range is not satisfiable")]
    InvalidRange,
    #[error("{0}")]
    InvalidRequest(String),
    #[error(
        "The XML you provided was not well-formed or did not validate against our published schema"
    )]
    MalformedXml,
    #[error("You did not provide the number of bytes specified by the Content-Length HTTP header")]
    IncompleteBody,
    #[error("The request body could not be read: {0}")]
    Body(Box<dyn std::error::Error + Send + Sync>),
    #[error("Your metadata headers exceed the maximum allowed metadata size")]
    MetadataTooLarge,
    #[error("The key is too long")]
    KeyTooLong,
    #[error("A conflicting operation is in progress; retry")]
    Conflict,
    /// The storage has no room left for this write (a full disk).
    #[error("no space left on the server's storage")]
    InsufficientStorage,
    /// A blob is missing from the BlobStore (deleted meanwhile, or never committed).
    #[error("blob {id} not found")]
    BlobNotFound { id: crate::ids::BlobId },
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("metadata backend error: {0}")]
    Backend(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result alias for domain operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
