//! The aws-chunked body decoder (s3s's, behind its SigV4 check) and Tessera's reading of the
//! decoded body and of the trailing checksum, through a real s3s service and a PutObject.
//!
//! Input: byte 0 the mode, byte 1 the `x-amz-trailer` choice, byte 2 how the network splits
//! the body, byte 3 the `x-amz-decoded-content-length` choice, then:
//! - modes 0-2 (raw): the rest is the body as sent, decoded with
//!   STREAMING-UNSIGNED-PAYLOAD-TRAILER (0), STREAMING-AWS4-HMAC-SHA256-PAYLOAD (1) or
//!   STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER (2);
//! - mode 3 (encoded; bit 2 of byte 0: signed): the rest is a list of chunks (a length byte, then that many bytes) that
//!   the harness encodes correctly, with valid chunk and trailer signatures and the right
//!   trailing checksum: the request must then succeed, and PutObject must see exactly the
//!   chunks' bytes and the checksum.

use bytes::Bytes;
use tessera_core::checksum::{compute_checksum, ChecksumAlgorithm};

use crate::input::Input;
use crate::service::{body_in_pieces, call};
use crate::sign::{v4_now, V4};

const UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
const SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
const SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";

const TRAILERS: [Option<&str>; 7] = [
    None,
    Some("x-amz-checksum-crc32"),
    Some("x-amz-checksum-crc32c"),
    Some("x-amz-checksum-crc64nvme"),
    Some("x-amz-checksum-sha1"),
    Some("x-amz-checksum-sha256"),
    Some("x-amz-checksum-bogus"),
];

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte();
    let trailer_choice = input.byte();
    let split = input.byte();
    let length_choice = input.byte();
    let v4 = v4_now();

    if mode % 4 != 3 {
        let content_sha256 = [UNSIGNED_TRAILER, SIGNED, SIGNED_TRAILER][usize::from(mode % 4)];
        let trailer = TRAILERS[usize::from(trailer_choice) % TRAILERS.len()];
        let body = input.rest();
        let decoded_length = match length_choice {
            0 => body.len() as u64,
            n => u64::from(n) * 7,
        };
        let (req, _) = request(&v4, content_sha256, trailer, decoded_length, body, split);
        let out = call(req);
        if let Some(put) = out.put {
            if let Ok(decoded) = &put.body {
                assert!(decoded.len() <= body.len(), "decoded more than was sent");
            }
        }
        return;
    }

    // Encoded: the harness writes a valid aws-chunked body.
    let signed = mode & 4 != 0;
    // The *-TRAILER modes require an x-amz-trailer; the signed mode without one is
    // STREAMING-AWS4-HMAC-SHA256-PAYLOAD.
    let algorithm = match (trailer_choice % 6, signed) {
        (0, true) => return run_signed_without_trailer(&v4, &mut input, split),
        (0, false) => ChecksumAlgorithm::Crc32,
        (n, _) => ChecksumAlgorithm::ALL[usize::from(n - 1)],
    };
    let algorithm = Some(algorithm);
    let content_sha256 = if signed {
        SIGNED_TRAILER
    } else {
        UNSIGNED_TRAILER
    };
    let trailer_name =
        algorithm.map(|a| format!("x-amz-checksum-{}", a.as_str().to_ascii_lowercase()));
    let chunks = chunk_list(&mut input);
    let data: Vec<u8> = chunks.concat();
    let checksum = algorithm.map(|a| compute_checksum(a, &data).to_base64());
    let (req, seed) = request(
        &v4,
        content_sha256,
        trailer_name.as_deref(),
        data.len() as u64,
        b"",
        split,
    );
    let mut body = Vec::new();
    let mut prev = seed;
    for chunk in chunks.iter().chain(std::iter::once(&&[][..])) {
        if signed {
            prev = v4.chunk(&prev, chunk);
            body.extend_from_slice(
                format!("{:x};chunk-signature={prev}\r\n", chunk.len()).as_bytes(),
            );
        } else {
            body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        }
        if !chunk.is_empty() {
            body.extend_from_slice(chunk);
            body.extend_from_slice(b"\r\n");
        }
    }
    if let (Some(name), Some(value)) = (&trailer_name, &checksum) {
        let line = format!("{name}:{value}");
        body.extend_from_slice(line.as_bytes());
        body.extend_from_slice(b"\r\n");
        if signed {
            let sig = v4.trailer(&prev, format!("{line}\n").as_bytes());
            body.extend_from_slice(format!("x-amz-trailer-signature:{sig}\r\n").as_bytes());
        }
    }
    body.extend_from_slice(b"\r\n");
    let req = with_body(req, &body, split);
    let out = call(req);
    assert!(
        out.status.is_success(),
        "valid aws-chunked body refused: {} {}",
        out.status,
        out.body
    );
    let put = out.put.expect("PutObject ran");
    assert_eq!(
        put.body.as_deref().ok(),
        Some(&data[..]),
        "decoded body differs"
    );
    assert_eq!(put.decoded_length, Some(data.len() as u64));
    assert_eq!(
        put.trailer,
        checksum.map(|c| Ok(Some(c))),
        "trailing checksum"
    );
}

/// STREAMING-AWS4-HMAC-SHA256-PAYLOAD, no trailer, valid signatures.
fn run_signed_without_trailer(v4: &V4, input: &mut Input<'_>, split: u8) {
    let chunks = chunk_list(input);
    let data: Vec<u8> = chunks.concat();
    let (req, seed) = request(v4, SIGNED, None, data.len() as u64, b"", split);
    let mut body = Vec::new();
    let mut prev = seed;
    for chunk in chunks.iter().chain(std::iter::once(&&[][..])) {
        prev = v4.chunk(&prev, chunk);
        body.extend_from_slice(format!("{:x};chunk-signature={prev}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(chunk);
        body.extend_from_slice(b"\r\n");
    }
    let out = call(with_body(req, &body, split));
    assert!(out.status.is_success(), "{} {}", out.status, out.body);
    let put = out.put.expect("PutObject ran");
    assert_eq!(
        put.body.as_deref().ok(),
        Some(&data[..]),
        "decoded body differs"
    );
}

/// Chunks: a length byte then that many bytes, up to 16 chunks; empty chunks are skipped (an
/// empty chunk ends the body).
fn chunk_list<'a>(input: &mut Input<'a>) -> Vec<&'a [u8]> {
    let mut chunks = Vec::new();
    while !input.is_empty() && chunks.len() < 16 {
        let n = usize::from(input.byte());
        let chunk = input.bytes(n);
        if !chunk.is_empty() {
            chunks.push(chunk);
        }
    }
    chunks
}

/// A signed `PUT /bucket/key` with `body`; also returns the seed signature.
fn request(
    v4: &V4,
    content_sha256: &str,
    trailer: Option<&str>,
    decoded_length: u64,
    body: &[u8],
    split: u8,
) -> (http::Request<s3s::Body>, String) {
    let mut canonical_headers = format!(
        "host:localhost\nx-amz-content-sha256:{content_sha256}\nx-amz-date:{}\nx-amz-decoded-content-length:{decoded_length}\n",
        v4.amz_date
    );
    let mut signed =
        String::from("host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length");
    if let Some(t) = trailer {
        canonical_headers.push_str(&format!("x-amz-trailer:{t}\n"));
        signed.push_str(";x-amz-trailer");
    }
    let canonical = format!("PUT\n/bucket/key\n\n{canonical_headers}\n{signed}\n{content_sha256}");
    let seed = v4.request(&canonical);
    let mut b = http::Request::builder()
        .method("PUT")
        .uri("/bucket/key")
        .header("host", "localhost")
        .header("x-amz-content-sha256", content_sha256)
        .header("x-amz-date", &v4.amz_date)
        .header("x-amz-decoded-content-length", decoded_length.to_string())
        .header("content-encoding", "aws-chunked")
        .header("authorization", v4.authorization(&signed, &seed));
    if let Some(t) = trailer {
        b = b.header("x-amz-trailer", t);
    }
    let req = b.body(s3s::Body::empty()).expect("request");
    (with_body(req, body, split), seed)
}

/// Sets the body, delivered in pieces of 1 + `split` bytes (`split` 0: one piece).
fn with_body(
    mut req: http::Request<s3s::Body>,
    body: &[u8],
    split: u8,
) -> http::Request<s3s::Body> {
    let size = if split == 0 {
        body.len().max(1)
    } else {
        usize::from(split)
    };
    let pieces: Vec<Bytes> = body.chunks(size).map(Bytes::copy_from_slice).collect();
    req.headers_mut().insert(
        http::header::CONTENT_LENGTH,
        http::HeaderValue::from(body.len()),
    );
    *req.body_mut() = body_in_pieces(pieces);
    req
}
