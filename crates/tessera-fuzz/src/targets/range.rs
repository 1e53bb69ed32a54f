//! `Range` (parsed by s3s, resolved by Tessera) and `x-amz-copy-source-range` (Tessera).
//!
//! Input: line 1 the Range header, line 2 the copy-source-range header, line 3 the object size
//! (decimal, or the line's bytes little-endian).

use s3s::dto::Range;
use tessera_core::multipart::parse_copy_source_range;
use tessera_core::objects::{ByteRange, RangeRequest};

use crate::input::Input;

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let range = input.line_str();
    let copy_range = input.line_str();
    let size = input.number_line();

    if let Ok(r) = Range::parse(&range) {
        // parse(format(x)) == x
        let again = Range::parse(&r.to_header_string()).expect("formatted range parses");
        assert_eq!(again, r, "Range round trip of {range:?}");
        check_resolve(r, size);
        check_resolve(r, size % 4096);
    }

    if let Ok((first, last)) = parse_copy_source_range(&copy_range) {
        assert!(first <= last, "{copy_range:?} -> {first}-{last}");
        let again = parse_copy_source_range(&format!("bytes={first}-{last}"));
        assert_eq!(
            again.ok(),
            Some((first, last)),
            "copy-source-range round trip"
        );
    }
}

/// Tessera's resolution (as the GET handler does it) lies inside the object and agrees with
/// s3s's own RFC 9110 check.
fn check_resolve(r: Range, size: u64) {
    // As crates/tessera-s3/src/service.rs `range_request`.
    let request = match r {
        Range::Int { first, last } => RangeRequest::FromTo { first, last },
        Range::Suffix { length } => RangeRequest::Suffix(length),
    };
    let ours = request.resolve(size).ok();
    if let Some(ByteRange { start, end }) = ours {
        assert!(
            start <= end && end < size,
            "{r:?} on {size} -> {start}..={end}"
        );
    }
    let theirs = r.check(size).ok().filter(|x| !x.is_empty());
    assert_eq!(
        ours.map(|b| (b.start, b.end + 1)),
        theirs.map(|x| (x.start, x.end)),
        "{r:?} on {size}: Tessera and RFC 9110 (s3s) disagree"
    );
}
