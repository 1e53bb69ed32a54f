//! Tessera's own body scanners: the aws-chunked framing follower (`chunked.rs`) and the XML
//! document checks (`xmlbody.rs`: nesting depth, DTDs, Content-MD5 / checksum headers).
//!
//! Input: byte 0 picks the frame sizes the body is cut into; the rest is the body.

use tessera_s3::fuzzing::{body_kind, check_document, check_shape, Framing, MAX_DEPTH};

pub fn run(data: &[u8]) {
    let Some((&cut, body)) = data.split_first() else {
        return;
    };

    // The framing state does not depend on how the body is cut into frames.
    let mut whole = Framing::default();
    whole.feed(body);
    let frame = usize::from(cut % 64) + 1;
    let mut pieces = Framing::default();
    for piece in body.chunks(frame) {
        pieces.feed(piece);
    }
    assert_eq!(whole, pieces, "framing state depends on frame size {frame}");

    // A well-formed aws-chunked encoding of the body always completes, and not before its end.
    let mut encoded = Vec::new();
    for chunk in body.chunks(frame * 7) {
        encoded.extend_from_slice(format!("{:x};chunk-signature=0\r\n", chunk.len()).as_bytes());
        encoded.extend_from_slice(chunk);
        encoded.extend_from_slice(b"\r\n");
    }
    let mut cut_short = Framing::default();
    cut_short.feed(&encoded);
    assert!(
        !cut_short.complete(),
        "a body without its final chunk counted as complete"
    );
    encoded.extend_from_slice(b"0;chunk-signature=0\r\n\r\n");
    let mut full = Framing::default();
    for piece in encoded.chunks(frame) {
        full.feed(piece);
    }
    assert!(full.complete(), "a well-formed body did not complete");

    // XML shape: never panics; wrapping an accepted document deeper than MAX_DEPTH is refused.
    if check_shape(body) {
        let deep = [
            b"<a>".repeat(MAX_DEPTH + 1),
            b"<b/>".to_vec(),
            b"</a>".repeat(MAX_DEPTH + 1),
        ]
        .concat();
        assert!(!check_shape(&deep));
    }
    let headers = http::HeaderMap::new();
    for (method, query) in [
        (http::Method::POST, Some("delete")),
        (http::Method::POST, Some("uploadId=x")),
        (http::Method::PUT, None),
    ] {
        let _ = check_document(body_kind(&method, false, query), &headers, body);
    }
}
