//! Checksum headers and values: algorithm / type names, base64 values, the single
//! `x-amz-checksum-*` rule, `x-amz-trailer`, and the COMPOSITE / FULL_OBJECT combination.
//!
//! Input: line 1 an algorithm name, line 2 a checksum type name, line 3 a checksum value
//! (base64), line 4 an `x-amz-trailer` value, line 5 a byte of flags (which checksum fields are
//! sent; bits 5-7: the algorithm the parts are checked with), then part data: each byte `n`
//! of a length line (up to 16) cuts the rest into parts.

use tessera_core::checksum::{
    combine_full_object, composite_checksum, composite_string, compute_checksum, ChecksumAlgorithm,
    ChecksumType, ChecksumValue,
};
use tessera_s3::fuzzing::{trailer_algorithm, ChecksumFields};

use crate::input::Input;

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let name = input.line_str();
    let kind = input.line_str();
    let value = input.line_str();
    let trailer = input.line();
    let flags = input.byte();
    let cuts = input.line();
    let body = input.rest();

    if let Ok(a) = ChecksumAlgorithm::parse(&name) {
        assert!(a.as_str().eq_ignore_ascii_case(&name));
        assert_eq!(ChecksumAlgorithm::parse(a.as_str()).ok(), Some(a));
    }
    if let Ok(t) = ChecksumType::parse(&kind) {
        assert_eq!(ChecksumType::parse(t.as_str()).ok(), Some(t));
    }

    for a in ChecksumAlgorithm::ALL {
        if let Ok(v) = ChecksumValue::from_base64(a, &value) {
            assert_eq!(v.digest.len(), a.digest_len());
            // decode(encode(x)) == x
            let again = ChecksumValue::from_base64(a, &v.to_base64()).expect("re-decodes");
            assert_eq!(again, v);
            assert!(composite_string(&v, 3).ends_with("-3"));
        }
    }

    // At most one x-amz-checksum-* header, and its value must decode.
    let field = |bit: u8| (flags & bit != 0).then(|| value.clone());
    let fields = ChecksumFields {
        crc32: field(1),
        crc32c: field(2),
        crc64nvme: field(4),
        sha1: field(8),
        sha256: field(16),
    };
    let sent = (flags & 31).count_ones();
    match fields.raw() {
        Ok(Some(_)) => assert_eq!(sent, 1),
        Ok(None) => assert_eq!(sent, 0),
        Err(_) => assert!(sent > 1),
    }

    if let Ok(v) = http::HeaderValue::from_bytes(trailer) {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-amz-trailer", v);
        let _ = trailer_algorithm(&headers);
    }

    // Parts: FULL_OBJECT combination equals the checksum of the whole; COMPOSITE is the
    // checksum of the part digests.
    let mut parts: Vec<&[u8]> = Vec::new();
    let mut rest = body;
    for &c in cuts.iter().take(16) {
        let (head, tail) = rest.split_at(usize::from(c).min(rest.len()));
        parts.push(head);
        rest = tail;
    }
    parts.push(rest);
    {
        let a = ChecksumAlgorithm::ALL[usize::from(flags >> 5) % 5];
        let digests: Vec<ChecksumValue> = parts.iter().map(|p| compute_checksum(a, p)).collect();
        let with_len: Vec<(&[u8], u64)> = digests
            .iter()
            .zip(&parts)
            .map(|(d, p)| (d.digest.as_slice(), p.len() as u64))
            .collect();
        match combine_full_object(a, &with_len) {
            Ok(v) => {
                assert!(a.is_crc());
                assert_eq!(
                    v,
                    compute_checksum(a, body),
                    "{a:?} FULL_OBJECT of {} parts",
                    parts.len()
                );
            }
            Err(_) => assert!(!a.is_crc()),
        }
        let raw: Vec<&[u8]> = digests.iter().map(|d| d.digest.as_slice()).collect();
        let composite = composite_checksum(a, &raw);
        assert_eq!(composite, compute_checksum(a, &raw.concat()));
    }
    // A part digest of the wrong length is an error, never a panic.
    if let Ok(a) = ChecksumAlgorithm::parse(&name) {
        let _ = combine_full_object(a, &[(value.as_bytes(), body.len() as u64)]);
    }
}
