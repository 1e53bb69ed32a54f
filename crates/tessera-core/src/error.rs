//! Domain errors: what went wrong, with the data a protocol adapter needs to report it. The
//! adapter owns the wire form (codes, statuses, messages); none of it lives here.

use thiserror::Error;

use crate::ids::{BlobId, Millis};
use crate::kinds::{ChecksumAlgorithm, ChecksumType};

/// A boxed error kept as the cause of a backend failure.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Everything that can go wrong in a domain operation.
#[derive(Debug, Error)]
pub enum Error {
    #[error("bucket not found")]
    NoSuchBucket,
    #[error("invalid bucket name {name:?}: {reason}")]
    InvalidBucketName {
        name: String,
        reason: BucketNameRule,
    },
    #[error("bucket already exists")]
    BucketAlreadyOwnedByYou,
    #[error("bucket not empty")]
    BucketNotEmpty,
    #[error("the bucket's location constraint is not this server's region")]
    InvalidLocationConstraint,
    #[error("key not found")]
    NoSuchKey,
    /// The version read is a delete marker: the key's current one (404 NoSuchKey) or the one
    /// named by version id (`by_version`: 405 MethodNotAllowed), reported with its id.
    #[error("the version is a delete marker")]
    DeleteMarker {
        version_id: String,
        last_modified: Millis,
        by_version: bool,
    },
    #[error("version not found")]
    NoSuchVersion,
    /// The bucket's state forbids the operation (suspending versioning under object lock).
    #[error("{0}")]
    InvalidBucketState(String),
    #[error("invalid storage class")]
    InvalidStorageClass,
    #[error("multipart upload not found")]
    NoSuchUpload,
    #[error("precondition failed")]
    PreconditionFailed,
    /// 304: the object's ETag and Last-Modified go into the response headers.
    #[error("not modified")]
    NotModified { etag: String, last_modified: Millis },
    #[error("invalid part {part_number}: {reason}")]
    InvalidPart {
        part_number: u32,
        reason: InvalidPartReason,
    },
    #[error("the object has no such part")]
    InvalidPartNumber,
    #[error("parts not in ascending order")]
    InvalidPartOrder,
    #[error("a part other than the last is too small")]
    EntityTooSmall,
    #[error("the object is too large")]
    EntityTooLarge,
    /// The body does not match the digest the client sent with it.
    #[error("the body does not match its {algorithm}")]
    BadDigest { algorithm: Digest },
    /// The Content-MD5 the client sent is not a base64 MD5.
    #[error("Content-MD5 is not a base64 MD5")]
    InvalidDigest,
    #[error("invalid argument: {0}")]
    InvalidArgument(ArgumentError),
    #[error("range not satisfiable")]
    InvalidRange,
    #[error("invalid request: {0}")]
    InvalidRequest(RequestError),
    #[error("malformed XML")]
    MalformedXml,
    #[error("the body is shorter than announced")]
    IncompleteBody,
    #[error("the request body could not be read: {0}")]
    Body(BoxError),
    #[error("user metadata too large")]
    MetadataTooLarge,
    #[error("key too long")]
    KeyTooLong,
    #[error("a conflicting operation is in progress; retry")]
    Conflict,
    /// The storage has no room left for this write (a full disk).
    #[error("no space left on the server's storage")]
    InsufficientStorage,
    /// A blob is missing from the BlobStore (deleted meanwhile, or never committed).
    #[error("blob {id} not found")]
    BlobNotFound { id: BlobId },
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A storage backend failed. `transient`: the same request may succeed later (a busy
    /// database, a pool timeout), so clients should retry.
    #[error("storage backend error: {source}")]
    Backend {
        #[source]
        source: BoxError,
        transient: bool,
    },
    /// The caller may not perform this operation on this resource.
    #[error("access denied")]
    AccessDenied,
    /// The version is protected by Object Lock (retention or legal hold): it cannot be removed,
    /// nor its retention shortened or removed.
    #[error("the object version is protected by object lock")]
    ObjectLocked,
    /// The bucket has no Object Lock configuration (GetObjectLockConfiguration).
    #[error("the bucket has no object lock configuration")]
    ObjectLockConfigurationNotFound,
    /// The version has no retention, or no legal hold (GetObjectRetention / GetObjectLegalHold).
    #[error("the object version has no object lock configuration")]
    NoSuchObjectLockConfiguration,
    /// The access key is unknown, deleted or inactive.
    #[error("the access key id does not exist")]
    InvalidAccessKeyId,
    /// The bucket name is taken by another account.
    #[error("the bucket name is taken by another account")]
    BucketAlreadyExists,
    /// An account, user, key or policy does not exist (IAM's NoSuchEntity); the message names it.
    #[error("{0}")]
    NoSuchEntity(String),
    /// An account, user, key or policy of that name exists (IAM's EntityAlreadyExists).
    #[error("{0}")]
    EntityAlreadyExists(String),
    /// The entity still has dependents: a user's keys or policies, an account's buckets.
    #[error("{0}")]
    DeleteConflict(String),
    /// A quota is reached: a third key of a user, the aggregate size of its inline policies.
    #[error("{0}")]
    LimitExceeded(String),
    /// An identity policy document is refused, with the reason.
    #[error("{0}")]
    MalformedPolicyDocument(String),
    /// A name, path or key of an identity operation is not valid (IAM's ValidationError).
    #[error("{0}")]
    IdentityValidation(String),
    /// A bucket policy, ACL, PublicAccessBlock or ownership request is refused, or the
    /// setting asked for is not there.
    #[error("{0}")]
    Access(AccessError),
    /// A tag set or tag is not acceptable (S3's InvalidTag); the message says why.
    #[error("{0}")]
    InvalidTag(String),
    /// A request S3 refuses with its generic `BadRequest` code (too many object tags).
    #[error("{0}")]
    BadRequest(String),
    /// GetBucketTagging on a bucket without tags.
    #[error("the bucket has no tag set")]
    NoSuchTagSet,
    /// GetBucketLifecycleConfiguration on a bucket without one.
    #[error("the bucket has no lifecycle configuration")]
    NoSuchLifecycleConfiguration,
    /// GetBucketCors on a bucket without a CORS configuration.
    #[error("the bucket has no CORS configuration")]
    NoSuchCorsConfiguration,
    /// Server-side encryption refused the request, or encrypted data failed to open.
    #[error("{0}")]
    Encryption(EncryptionError),
    /// A broken invariant or a failed task: a bug, never the client's doing.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A backend failure that retrying will not fix.
    pub fn backend(source: impl Into<BoxError>) -> Self {
        Self::Backend {
            source: source.into(),
            transient: false,
        }
    }

    /// A backend failure that may go away (busy, locked, timed out).
    pub fn transient(source: impl Into<BoxError>) -> Self {
        Self::Backend {
            source: source.into(),
            transient: true,
        }
    }
}

/// The naming rule a bucket name breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum BucketNameRule {
    #[error("must be between 3 and 63 characters long")]
    Length,
    #[error("only lowercase letters, digits, dots and hyphens are allowed")]
    Characters,
    #[error("must begin and end with a letter or digit")]
    Ends,
    #[error("must not contain two adjacent periods or a period next to a hyphen")]
    AdjacentPunctuation,
    #[error("must not be formatted as an IP address")]
    IpAddress,
    #[error("uses a reserved prefix")]
    ReservedPrefix,
    #[error("uses a reserved suffix")]
    ReservedSuffix,
}

/// Why a part named by CompleteMultipartUpload is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum InvalidPartReason {
    /// Not uploaded, or its ETag or a checksum named does not match the stored part.
    #[error("not found, or its ETag or checksum does not match")]
    NotFound,
    /// A checksum named for it is not a valid value of its algorithm.
    #[error("its checksum is not valid")]
    InvalidChecksum,
}

/// A digest a body is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum Digest {
    #[error("Content-MD5")]
    ContentMd5,
    #[error("{0} checksum")]
    Checksum(ChecksumAlgorithm),
}

/// An argument out of its domain.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ArgumentError {
    #[error("part number not between 1 and 10000")]
    PartNumber,
    #[error("empty object key")]
    EmptyKey,
    #[error("malformed copy source range")]
    CopySourceRangeSyntax,
    #[error("copy source range outside an object of {size} bytes")]
    CopySourceRangeOutOfBounds { size: u64 },
    #[error("value {value} is out of range")]
    OutOfRange { value: u64 },
    #[error("invalid version id")]
    VersionId,
    #[error("version-id marker without key marker")]
    VersionIdMarkerWithoutKeyMarker,
    /// A configuration value S3 refuses with InvalidArgument; the message as S3 words it.
    #[error("{0}")]
    Config(String),
    #[error("the retain until date is not in the future")]
    RetainUntilInPast,
    #[error("unknown object lock mode")]
    LockMode,
    #[error("legal hold status is neither ON nor OFF")]
    LegalHoldStatus,
    #[error("default retention period is not a positive integer")]
    RetentionPeriod,
    #[error("default retention period is too long")]
    RetentionPeriodTooLong,
}

/// A request that is well-formed but not acceptable as a whole.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum RequestError {
    #[error("checksum algorithm {name:?} is not supported")]
    UnsupportedChecksumAlgorithm { name: String },
    #[error("checksum type {value:?} is not valid")]
    InvalidChecksumType { value: String },
    #[error("the {algorithm} checksum value is not valid")]
    InvalidChecksumValue { algorithm: ChecksumAlgorithm },
    #[error("a checksum type needs a checksum algorithm")]
    ChecksumTypeWithoutAlgorithm,
    #[error("checksum type {checksum_type} cannot be used with {algorithm}")]
    ChecksumTypeUnsupported {
        checksum_type: ChecksumType,
        algorithm: ChecksumAlgorithm,
    },
    #[error("the upload expects {expected} checksums, not {actual}")]
    ChecksumAlgorithmMismatch {
        expected: ChecksumAlgorithm,
        actual: ChecksumAlgorithm,
    },
    #[error("the upload's checksum type is {upload}")]
    ChecksumTypeMismatch { upload: ChecksumType },
    #[error("the {algorithm} trailer was not announced")]
    TrailerNotAnnounced { algorithm: ChecksumAlgorithm },
    #[error("the announced {algorithm} trailer is missing")]
    TrailerMissing { algorithm: ChecksumAlgorithm },
    #[error("a range and a part number together")]
    RangeWithPartNumber,
    #[error("copying an object onto itself without changing it")]
    CopyOntoItself,
    #[error("the parts of a checksummed upload must be numbered 1, 2, 3, ...")]
    NonConsecutiveParts,
    #[error("part {part_number} lacks its {algorithm} checksum")]
    MissingPartChecksum {
        algorithm: ChecksumAlgorithm,
        part_number: u32,
    },
    #[error("announced object size {expected}, computed {computed}")]
    ObjectSizeMismatch { expected: u64, computed: u64 },
    #[error("a canned ACL and grants together")]
    CannedAclWithGrants,
    /// A configuration S3 refuses with InvalidRequest; the message as S3 words it.
    #[error("{0}")]
    Config(String),
    #[error("the bucket has no object lock configuration")]
    MissingObjectLockConfiguration,
    #[error("object lock mode and retain until date must be given together")]
    LockHeadersIncomplete,
}

/// What is wrong with an access-control request (bucket policy, ACL, PublicAccessBlock,
/// object ownership).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum AccessError {
    /// The bucket policy does not parse or names what does not exist; the reason as S3 words it.
    #[error("{0}")]
    MalformedPolicy(String),
    #[error("the bucket has no policy")]
    NoSuchBucketPolicy,
    #[error("the bucket has no public access block configuration")]
    NoSuchPublicAccessBlockConfiguration,
    #[error("the bucket has no ownership controls")]
    NoSuchOwnershipControls,
    /// ACLs are disabled (BucketOwnerEnforced) and the request sets one other than the
    /// bucket owner's full control.
    #[error("the bucket does not allow ACLs")]
    AclNotSupported,
    /// BucketOwnerEnforced asked for while the bucket ACL grants to others.
    #[error("the bucket ACL grants access to others, which BucketOwnerEnforced does not allow")]
    InvalidBucketAclWithObjectOwnership,
    /// An ACL body or grant header that does not parse.
    #[error("{0}")]
    MalformedAcl(String),
    /// A grant names an email address no account has.
    #[error("no account has the email address {0}")]
    UnresolvableGrantByEmailAddress(String),
    /// An ACL value out of its domain: an unknown canned ACL, a canonical id nobody has.
    #[error("{0}")]
    InvalidAclArgument(String),
    /// A malformed ownership or PublicAccessBlock document.
    #[error("{0}")]
    MalformedSetting(String),
    /// PublicAccessBlock refuses the public ACL or policy (403 AccessDenied on S3).
    #[error("{0}")]
    PublicAccessBlocked(&'static str),
}

/// What is wrong with a server-side encryption request, key or stored record.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum EncryptionError {
    /// SSE-C headers on a request that did not come over TLS.
    #[error("customer-provided keys need a secure connection")]
    InsecureTransport,
    /// SSE-C key headers without `x-amz-server-side-encryption-customer-algorithm`.
    #[error("customer key without an algorithm")]
    MissingCustomerAlgorithm,
    /// A customer algorithm other than AES256.
    #[error("customer key algorithm {0:?} is not AES256")]
    InvalidCustomerAlgorithm(String),
    #[error("customer algorithm without a key")]
    MissingCustomerKey,
    /// The key is not base64 of exactly 32 bytes.
    #[error("the customer key is not 256 bits of base64")]
    InvalidCustomerKey,
    #[error("customer key without its MD5")]
    MissingCustomerKeyMd5,
    /// The key's MD5 does not match the one sent (or that one is not base64).
    #[error("the customer key does not match its MD5")]
    CustomerKeyMd5Mismatch,
    /// An SSE-C object read without its key.
    #[error("the object is encrypted with a customer key and none was given")]
    CustomerKeyRequired,
    /// An SSE-C object read with another key.
    #[error("the customer key does not match the object's")]
    WrongCustomerKey,
    /// SSE-C headers on a request for an object not encrypted with a customer key.
    #[error("encryption parameters given for an object not encrypted with a customer key")]
    NotApplicable,
    /// A part of an SSE-C upload sent without the key.
    #[error("the upload is encrypted with a customer key and the part has none")]
    UploadKeyRequired,
    /// A part sent with other encryption parameters than the upload's.
    #[error("the part's encryption parameters are not the upload's")]
    UploadKeyMismatch,
    /// `x-amz-server-side-encryption` (or a default's SSEAlgorithm) names no known method.
    #[error("encryption method {0:?} is not supported")]
    InvalidEncryptionMethod(String),
    /// A KMS key id that names no local KMS key (or another region's or account's).
    #[error("KMS key {0:?} not found")]
    KmsKeyNotFound(String),
    /// `x-amz-server-side-encryption-aws-kms-key-id` without `x-amz-server-side-encryption:
    /// aws:kms`.
    #[error("a KMS key id without aws:kms")]
    KmsKeyIdWithoutKmsHeader,
    /// SSE-C and `x-amz-server-side-encryption` on one request.
    #[error("a customer key together with another encryption method")]
    CustomerKeyWithServerSideEncryption,
    /// A KMSMasterKeyID in a default rule whose algorithm is not KMS.
    #[error("KMSMasterKeyID without aws:kms")]
    KmsKeyIdWithoutKms,
    /// A bucket encryption document that is not one rule of a known shape.
    #[error("{0}")]
    MalformedConfiguration(String),
    /// GetBucketEncryption on a bucket without default encryption.
    #[error("the bucket has no default encryption")]
    NoConfiguration,
    /// A data key wrapped under another master key than this server's.
    #[error("the data key was wrapped by another master key")]
    MasterKeyMismatch,
    /// Encrypted bytes or a wrapped key failed authentication: corrupt or tampered with.
    #[error("encrypted data failed authentication")]
    CorruptData,
    /// An encryption record's stored form does not parse.
    #[error("invalid stored encryption record: {0}")]
    InvalidStoredForm(String),
}

/// Result alias for domain operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
