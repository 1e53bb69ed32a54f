//! S3 checksum algorithms and types, and the values stored per part and per object.

use crate::error::{Error, Result};

/// The five checksum algorithms S3 supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgorithm {
    /// All algorithms, in a fixed order.
    pub const ALL: [ChecksumAlgorithm; 5] = [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ];

    /// S3's name: `CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`, `SHA256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    /// Parses S3's name, case-insensitively.
    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| Error::InvalidRequest(format!("Checksum algorithm {s} is not supported")))
    }

    /// Length of the raw digest in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Crc32 | Self::Crc32c => 4,
            Self::Crc64Nvme => 8,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }

    /// CRCs can be combined into a FULL_OBJECT checksum; SHAs cannot.
    pub fn is_crc(self) -> bool {
        matches!(self, Self::Crc32 | Self::Crc32c | Self::Crc64Nvme)
    }
}

/// How a multipart object's checksum is formed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChecksumType {
    /// Checksum of the concatenated part checksums, reported with `-N`.
    Composite,
    /// Checksum of the whole object's bytes (CRC algorithms only).
    FullObject,
}

impl ChecksumType {
    /// S3's name: `COMPOSITE` or `FULL_OBJECT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Composite => "COMPOSITE",
            Self::FullObject => "FULL_OBJECT",
        }
    }

    /// Parses S3's name, case-insensitively.
    pub fn parse(s: &str) -> Result<Self> {
        if s.eq_ignore_ascii_case("COMPOSITE") {
            Ok(Self::Composite)
        } else if s.eq_ignore_ascii_case("FULL_OBJECT") {
            Ok(Self::FullObject)
        } else {
            Err(Error::InvalidRequest(format!("Value for x-amz-checksum-type header is invalid: {s}")))
        }
    }
}

/// A raw checksum digest of some bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChecksumValue {
    pub algorithm: ChecksumAlgorithm,
    /// The raw digest (big-endian for CRCs, as S3 encodes them), `digest_len()` bytes.
    pub digest: Vec<u8>,
}

impl ChecksumValue {
    /// Base64 of the digest, as S3 puts it in headers and XML.
    pub fn to_base64(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&self.digest)
    }

    /// Decodes a base64 value sent by a client; wrong encoding or length -> InvalidRequest.
    pub fn from_base64(algorithm: ChecksumAlgorithm, b64: &str) -> Result<Self> {
        use base64::Engine as _;
        let digest = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| invalid_value(algorithm))?;
        if digest.len() != algorithm.digest_len() {
            return Err(invalid_value(algorithm));
        }
        Ok(Self { algorithm, digest })
    }
}

fn invalid_value(algorithm: ChecksumAlgorithm) -> Error {
    Error::InvalidRequest(format!(
        "Value for x-amz-checksum-{} header is invalid.",
        algorithm.as_str().to_ascii_lowercase()
    ))
}
