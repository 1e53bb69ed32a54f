//! S3 checksum algorithms and types, and the values stored per part and per object.

use crate::error::{Error, RequestError, Result};

pub use crate::kinds::{ChecksumAlgorithm, ChecksumType};

impl ChecksumAlgorithm {
    /// Parses S3's name, case-insensitively.
    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                Error::InvalidRequest(RequestError::UnsupportedChecksumAlgorithm {
                    name: s.to_string(),
                })
            })
    }
}

impl ChecksumType {
    /// Parses S3's name, case-insensitively.
    pub fn parse(s: &str) -> Result<Self> {
        if s.eq_ignore_ascii_case("COMPOSITE") {
            Ok(Self::Composite)
        } else if s.eq_ignore_ascii_case("FULL_OBJECT") {
            Ok(Self::FullObject)
        } else {
            Err(Error::InvalidRequest(RequestError::InvalidChecksumType {
                value: s.to_string(),
            }))
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
    Error::InvalidRequest(RequestError::InvalidChecksumValue { algorithm })
}

// ---------------------------------------------------------------------------------------------
// Computing checksums.
// ---------------------------------------------------------------------------------------------

use md5::Digest as _;

/// Bytes fed to every hasher in turn, so the slice stays in cache while each one reads it.
const HASH_STRIDE: usize = 64 * 1024;

fn crc_algorithm(algorithm: ChecksumAlgorithm) -> Option<crc_fast::CrcAlgorithm> {
    match algorithm {
        ChecksumAlgorithm::Crc32 => Some(crc_fast::CrcAlgorithm::Crc32IsoHdlc),
        ChecksumAlgorithm::Crc32c => Some(crc_fast::CrcAlgorithm::Crc32Iscsi),
        ChecksumAlgorithm::Crc64Nvme => Some(crc_fast::CrcAlgorithm::Crc64Nvme),
        ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256 => None,
    }
}

/// A finished CRC as S3 encodes it: big-endian, 4 or 8 bytes.
fn crc_bytes(algorithm: ChecksumAlgorithm, crc: u64) -> Vec<u8> {
    if algorithm == ChecksumAlgorithm::Crc64Nvme {
        crc.to_be_bytes().to_vec()
    } else {
        // CRC32 variants: the value fits in the low 32 bits.
        (crc as u32).to_be_bytes().to_vec()
    }
}

/// Reads a big-endian CRC digest back into a number; wrong length -> `None`.
fn crc_from_bytes(algorithm: ChecksumAlgorithm, digest: &[u8]) -> Option<u64> {
    if algorithm == ChecksumAlgorithm::Crc64Nvme {
        Some(u64::from_be_bytes(digest.try_into().ok()?))
    } else {
        Some(u64::from(u32::from_be_bytes(digest.try_into().ok()?)))
    }
}

/// One incremental hasher for one algorithm.
#[derive(Clone)]
enum Hasher {
    Crc(ChecksumAlgorithm, crc_fast::Digest),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl Hasher {
    fn new(algorithm: ChecksumAlgorithm) -> Self {
        match crc_algorithm(algorithm) {
            Some(crc) => Self::Crc(algorithm, crc_fast::Digest::new(crc)),
            None if algorithm == ChecksumAlgorithm::Sha1 => Self::Sha1(sha1::Sha1::new()),
            None => Self::Sha256(sha2::Sha256::new()),
        }
    }

    #[inline]
    fn update(&mut self, data: &[u8]) {
        match self {
            Self::Crc(_, d) => d.update(data),
            Self::Sha1(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
        }
    }

    fn finish(self) -> ChecksumValue {
        match self {
            Self::Crc(algorithm, d) => ChecksumValue {
                algorithm,
                digest: crc_bytes(algorithm, d.finalize()),
            },
            Self::Sha1(h) => ChecksumValue {
                algorithm: ChecksumAlgorithm::Sha1,
                digest: h.finalize().to_vec(),
            },
            Self::Sha256(h) => ChecksumValue {
                algorithm: ChecksumAlgorithm::Sha256,
                digest: h.finalize().to_vec(),
            },
        }
    }
}

/// What [`PayloadHasher`] found: the MD5 (the ETag of a single PUT or a part), the size, and
/// the S3 checksums.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayloadDigest {
    pub md5: [u8; 16],
    pub size: u64,
    /// CRC64NVME plus the extra algorithms asked for, one each, in [`ChecksumAlgorithm`] order.
    pub checksums: Vec<ChecksumValue>,
}

impl PayloadDigest {
    /// The checksum computed with `algorithm`, if it was.
    pub fn checksum(&self, algorithm: ChecksumAlgorithm) -> Option<&ChecksumValue> {
        self.checksums.iter().find(|c| c.algorithm == algorithm)
    }

    /// The ETag, unquoted: lowercase hex of the MD5.
    pub fn etag(&self) -> String {
        hex::encode(self.md5)
    }
}

/// Computes, in one pass over a payload, its MD5, its CRC64NVME and any extra checksums.
#[derive(Clone)]
pub struct PayloadHasher {
    md5: md5::Md5,
    /// CRC64NVME first, then the extras (sorted, deduplicated).
    hashers: Vec<Hasher>,
    size: u64,
}

impl PayloadHasher {
    /// A hasher for MD5, CRC64NVME and the `extra` algorithms (duplicates ignored).
    pub fn new(extra: &[ChecksumAlgorithm]) -> Self {
        let mut algorithms: Vec<ChecksumAlgorithm> = extra.to_vec();
        algorithms.push(ChecksumAlgorithm::Crc64Nvme);
        algorithms.sort_unstable();
        algorithms.dedup();
        Self {
            md5: md5::Md5::new(),
            hashers: algorithms.into_iter().map(Hasher::new).collect(),
            size: 0,
        }
    }

    /// Feeds the next bytes of the payload.
    pub fn update(&mut self, data: &[u8]) {
        self.size += data.len() as u64;
        // Hash large inputs stride by stride so each stride is still in cache for every hasher.
        for stride in data.chunks(HASH_STRIDE) {
            self.md5.update(stride);
            for h in &mut self.hashers {
                h.update(stride);
            }
        }
    }

    /// Bytes fed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The digests of everything fed.
    pub fn finish(self) -> PayloadDigest {
        PayloadDigest {
            md5: self.md5.finalize().into(),
            size: self.size,
            checksums: self.hashers.into_iter().map(Hasher::finish).collect(),
        }
    }
}

/// The `algorithm` checksum of `data`, in one call.
pub fn compute_checksum(algorithm: ChecksumAlgorithm, data: &[u8]) -> ChecksumValue {
    let mut h = Hasher::new(algorithm);
    h.update(data);
    h.finish()
}

/// The COMPOSITE checksum of a multipart object: the `algorithm` checksum of the concatenated
/// raw part digests (each already computed with `algorithm`). Format it with [`composite_string`].
pub fn composite_checksum(algorithm: ChecksumAlgorithm, part_digests: &[&[u8]]) -> ChecksumValue {
    let mut h = Hasher::new(algorithm);
    for d in part_digests {
        h.update(d);
    }
    h.finish()
}

/// S3's text for a COMPOSITE checksum over `parts` parts: `"<base64>-<parts>"`.
pub fn composite_string(value: &ChecksumValue, parts: usize) -> String {
    format!("{}-{}", value.to_base64(), parts)
}

/// The FULL_OBJECT checksum of a multipart object, combined from the parts' CRCs and lengths
/// (in part order) without rereading the data. SHA algorithms cannot be combined -> InvalidRequest;
/// a part digest of the wrong length -> Internal.
pub fn combine_full_object(
    algorithm: ChecksumAlgorithm,
    parts: &[(&[u8], u64)],
) -> Result<ChecksumValue> {
    let Some(crc) = crc_algorithm(algorithm) else {
        return Err(Error::InvalidRequest(
            RequestError::ChecksumTypeUnsupported {
                checksum_type: ChecksumType::FullObject,
                algorithm,
            },
        ));
    };
    let mut combiner = CrcCombiner::new(algorithm);
    let mut combined = 0u64;
    let mut first = true;
    for (i, (digest, len)) in parts.iter().enumerate() {
        let part = crc_from_bytes(algorithm, digest).ok_or_else(|| {
            Error::Internal(format!(
                "part {} has a {}-byte {} digest, expected {}",
                i + 1,
                digest.len(),
                algorithm.as_str(),
                algorithm.digest_len()
            ))
        })?;
        if *len > 0 {
            combined = if first {
                part
            } else {
                combiner.combine(combined, part, *len)
            };
            first = false;
        }
    }
    if first {
        combined = crc_fast::checksum(crc, &[]);
    }
    Ok(ChecksumValue {
        algorithm,
        digest: crc_bytes(algorithm, combined),
    })
}

/// Combines CRCs of consecutive byte runs without the bytes: `crc(A ++ B)` from `crc(A)`,
/// `crc(B)` and `len(B)`, as zlib's `crc32_combine` does, for the reflected CRCs S3 uses (all
/// with init = xorout = all ones). Multiplying by x^(8·len) mod P costs O(log len) polynomial
/// products; the operator is cached per length, so parts of one size cost one product each.
struct CrcCombiner {
    poly: u64,
    width: u32,
    /// x^(2^k) mod P for k = 0..width.
    x2n: Vec<u64>,
    by_len: std::collections::HashMap<u64, u64>,
}

impl CrcCombiner {
    fn new(algorithm: ChecksumAlgorithm) -> Self {
        let (poly, width) = match algorithm {
            ChecksumAlgorithm::Crc32 => (0xEDB8_8320, 32),
            ChecksumAlgorithm::Crc32c => (0x82F6_3B78, 32),
            _ => (0x9A6C_9329_AC4B_C9B5, 64),
        };
        let mut this = Self {
            poly,
            width,
            x2n: Vec::with_capacity(width as usize),
            by_len: Default::default(),
        };
        let mut p = 1u64 << (width - 2); // x^1
        for _ in 0..width {
            this.x2n.push(p);
            p = this.multmodp(p, p);
        }
        this
    }

    /// a·b mod P, bit-reflected representation (x^0 is the top bit).
    fn multmodp(&self, a: u64, mut b: u64) -> u64 {
        let mut m = 1u64 << (self.width - 1);
        let mut p = 0u64;
        while m != 0 {
            if a & m != 0 {
                p ^= b;
                if a & (m - 1) == 0 {
                    break;
                }
            }
            m >>= 1;
            b = if b & 1 != 0 {
                (b >> 1) ^ self.poly
            } else {
                b >> 1
            };
        }
        p
    }

    /// x^(8·len) mod P.
    fn shift_operator(&mut self, len: u64) -> u64 {
        if let Some(op) = self.by_len.get(&len) {
            return *op;
        }
        let mut p = 1u64 << (self.width - 1); // x^0
        let mut n = len;
        let mut k = 3usize; // 8 = 2^3
        while n != 0 {
            if n & 1 != 0 {
                p = self.multmodp(self.x2n[k % self.x2n.len()], p);
            }
            n >>= 1;
            k += 1;
        }
        self.by_len.insert(len, p);
        p
    }

    fn combine(&mut self, crc1: u64, crc2: u64, len2: u64) -> u64 {
        let op = self.shift_operator(len2);
        self.multmodp(op, crc1) ^ crc2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: &[u8] = b"hello world";

    fn b64(algorithm: ChecksumAlgorithm, data: &[u8]) -> String {
        compute_checksum(algorithm, data).to_base64()
    }

    #[test]
    fn known_vectors() {
        assert_eq!(b64(ChecksumAlgorithm::Crc32, HELLO), "DUoRhQ==");
        assert_eq!(b64(ChecksumAlgorithm::Crc32c, HELLO), "yZRlqg==");
        assert_eq!(b64(ChecksumAlgorithm::Crc64Nvme, HELLO), "jSnVw/bqjr4=");
        assert_eq!(
            b64(ChecksumAlgorithm::Sha1, HELLO),
            "Kq5sNclPz7QV2+lfQIuc6R7oRu0="
        );
        assert_eq!(
            b64(ChecksumAlgorithm::Sha256, HELLO),
            "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="
        );
        assert_eq!(
            compute_checksum(ChecksumAlgorithm::Crc32, HELLO).digest,
            0x0d4a1185u32.to_be_bytes()
        );
        assert_eq!(
            compute_checksum(ChecksumAlgorithm::Crc32c, HELLO).digest,
            0xc99465aau32.to_be_bytes()
        );
    }

    #[test]
    fn hasher_is_send() {
        fn send<T: Send + Sync + 'static>() {}
        send::<PayloadHasher>();
        send::<PayloadDigest>();
    }

    #[test]
    fn empty_payload() {
        let d = PayloadHasher::new(&[]).finish();
        assert_eq!(d.etag(), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(d.size, 0);
        assert_eq!(d.checksums.len(), 1);
        assert_eq!(d.checksums[0].digest, vec![0u8; 8]);
    }

    #[test]
    fn payload_hasher_one_pass() {
        let mut h = PayloadHasher::new(&[
            ChecksumAlgorithm::Sha256,
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc64Nvme,
            ChecksumAlgorithm::Crc32,
        ]);
        h.update(b"hello");
        h.update(b"");
        h.update(b" world");
        assert_eq!(h.size(), 11);
        let d = h.finish();
        assert_eq!(d.etag(), "5eb63bbbe01eeed093cb22bb8f5acdc3");
        assert_eq!(d.size, 11);
        let algs: Vec<_> = d.checksums.iter().map(|c| c.algorithm).collect();
        assert_eq!(
            algs,
            [
                ChecksumAlgorithm::Crc32,
                ChecksumAlgorithm::Crc64Nvme,
                ChecksumAlgorithm::Sha256
            ]
        );
        assert_eq!(
            d.checksum(ChecksumAlgorithm::Crc32)
                .map(|c| c.to_base64())
                .as_deref(),
            Some("DUoRhQ==")
        );
        assert_eq!(
            d.checksum(ChecksumAlgorithm::Crc64Nvme)
                .map(|c| c.to_base64())
                .as_deref(),
            Some("jSnVw/bqjr4=")
        );
        assert!(d.checksum(ChecksumAlgorithm::Sha1).is_none());
    }

    #[test]
    fn payload_hasher_large_input_matches_oneshot() {
        let data: Vec<u8> = (0..1_000_003u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut h = PayloadHasher::new(&ChecksumAlgorithm::ALL);
        for piece in data.chunks(77_777) {
            h.update(piece);
        }
        let d = h.finish();
        assert_eq!(d.size, data.len() as u64);
        let md5: [u8; 16] = md5::Md5::digest(&data).into();
        assert_eq!(d.md5, md5);
        for c in &d.checksums {
            assert_eq!(
                *c,
                compute_checksum(c.algorithm, &data),
                "{}",
                c.algorithm.as_str()
            );
        }
        assert_eq!(d.checksums.len(), 5);
    }

    #[test]
    fn composite_vectors() {
        let p1 = compute_checksum(ChecksumAlgorithm::Crc32, b"hello ");
        let p2 = compute_checksum(ChecksumAlgorithm::Crc32, b"world");
        let c = composite_checksum(ChecksumAlgorithm::Crc32, &[&p1.digest, &p2.digest]);
        assert_eq!(composite_string(&c, 2), "1Fu2mQ==-2");

        let p1 = compute_checksum(ChecksumAlgorithm::Sha256, b"hello ");
        let p2 = compute_checksum(ChecksumAlgorithm::Sha256, b"world");
        let c = composite_checksum(ChecksumAlgorithm::Sha256, &[&p1.digest, &p2.digest]);
        assert_eq!(
            composite_string(&c, 2),
            "Zhie15keHg/OBlOZxcoF/BXCgYZaeimRvdZnwUZqkaQ=-2"
        );
    }

    #[test]
    fn full_object_combine_matches_whole() {
        let data: Vec<u8> = (0..300_001u32).map(|_| rand::random::<u8>()).collect();
        let (a, rest) = data.split_at(123_457);
        let (b, c) = rest.split_at(7);
        for algorithm in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
        ] {
            let parts: Vec<(ChecksumValue, u64)> = [a, b, &[][..], c]
                .iter()
                .map(|p| (compute_checksum(algorithm, p), p.len() as u64))
                .collect();
            let refs: Vec<(&[u8], u64)> = parts
                .iter()
                .map(|(v, l)| (v.digest.as_slice(), *l))
                .collect();
            let combined = combine_full_object(algorithm, &refs).ok();
            assert_eq!(
                combined,
                Some(compute_checksum(algorithm, &data)),
                "{}",
                algorithm.as_str()
            );
        }
    }

    #[test]
    fn full_object_combine_edge_cases() {
        let empty = combine_full_object(ChecksumAlgorithm::Crc32, &[]).ok();
        assert_eq!(empty, Some(compute_checksum(ChecksumAlgorithm::Crc32, b"")));
        let one = compute_checksum(ChecksumAlgorithm::Crc64Nvme, HELLO);
        let c = combine_full_object(ChecksumAlgorithm::Crc64Nvme, &[(&one.digest, 11)]).ok();
        assert_eq!(c, Some(one));
        let sha = compute_checksum(ChecksumAlgorithm::Sha256, HELLO);
        assert!(matches!(
            combine_full_object(ChecksumAlgorithm::Sha256, &[(&sha.digest, 11)]),
            Err(Error::InvalidRequest(_))
        ));
        assert!(matches!(
            combine_full_object(ChecksumAlgorithm::Crc32, &[(&[1, 2, 3], 3)]),
            Err(Error::Internal(_))
        ));
    }
}

#[cfg(test)]
mod combine_many {
    use super::*;

    /// Many equal parts plus an odd last one, for every CRC: the combined value equals the CRC of
    /// the whole buffer (exercises the per-length operator cache).
    #[test]
    fn many_parts_equal_whole() {
        let data: Vec<u8> = (0..300_001u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for alg in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
        ] {
            let digests: Vec<(Vec<u8>, u64)> = data
                .chunks(1000)
                .map(|c| (compute_checksum(alg, c).digest, c.len() as u64))
                .collect();
            let parts: Vec<(&[u8], u64)> =
                digests.iter().map(|(d, l)| (d.as_slice(), *l)).collect();
            let combined = combine_full_object(alg, &parts).unwrap();
            assert_eq!(combined, compute_checksum(alg, &data), "{alg:?}");
        }
    }
}
