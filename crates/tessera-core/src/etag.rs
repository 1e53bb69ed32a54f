//! ETags: the multipart ETag rule, parsing and comparing ETags as clients send them.

use md5::{Digest as _, Md5};

/// The ETag of a multipart object, unquoted: hex MD5 of the concatenated binary part MD5s,
/// followed by `-N` (N = number of parts).
pub fn multipart_etag(part_md5s: &[[u8; 16]]) -> String {
    let mut h = Md5::new();
    for md5 in part_md5s {
        h.update(md5);
    }
    format!("{}-{}", hex::encode(h.finalize()), part_md5s.len())
}

/// Strips surrounding whitespace, a weak `W/` prefix and surrounding double quotes.
fn normalize(s: &str) -> &str {
    let s = s.trim();
    let s = s.strip_prefix("W/").unwrap_or(s);
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

/// Parses a plain MD5 ETag (32 hex chars, quoted or not) into its bytes; anything else
/// (including multipart `hex-N` ETags) -> `None`.
pub fn parse_etag(s: &str) -> Option<[u8; 16]> {
    let s = normalize(s);
    let mut out = [0u8; 16];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// Whether two ETags name the same thing, ignoring quotes, a weak `W/` prefix and hex case.
/// Every ETag comparison (conditions, Complete's part ETags, retried Completes) goes through
/// this one rule.
pub fn etag_matches(a: &str, b: &str) -> bool {
    normalize(a).eq_ignore_ascii_case(normalize(b))
}

/// Whether an `If-Match`/`If-None-Match` value (a comma-separated list of ETags, or `*`)
/// names `etag`.
pub fn etag_list_matches(list: &str, etag: &str) -> bool {
    list.split(',')
        .any(|candidate| normalize(candidate) == "*" || etag_matches(candidate, etag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_known_vector() {
        let p1 = Md5::digest(b"aaaaa").into();
        let p2 = Md5::digest(b"bbb").into();
        assert_eq!(hex::encode(p1), "594f803b380a41396ed63dca39503542");
        assert_eq!(
            multipart_etag(&[p1, p2]),
            "72d27afac8e2fbd3662861b9d607a02c-2"
        );
        // One part: MD5 of the MD5, not the MD5 itself.
        assert!(multipart_etag(&[p1]).ends_with("-1"));
        assert_ne!(multipart_etag(&[p1]), format!("{}-1", hex::encode(p1)));
    }

    #[test]
    fn parse() {
        let want: [u8; 16] = Md5::digest(b"hello world").into();
        assert_eq!(parse_etag("5eb63bbbe01eeed093cb22bb8f5acdc3"), Some(want));
        assert_eq!(
            parse_etag("\"5eb63bbbe01eeed093cb22bb8f5acdc3\""),
            Some(want)
        );
        assert_eq!(
            parse_etag(" W/\"5EB63BBBE01EEED093CB22BB8F5ACDC3\" "),
            Some(want)
        );
        assert_eq!(parse_etag("5eb63bbbe01eeed093cb22bb8f5acdc"), None);
        assert_eq!(parse_etag("72d27afac8e2fbd3662861b9d607a02c-2"), None);
        assert_eq!(parse_etag("\"5eb63bbbe01eeed093cb22bb8f5acdc3"), None);
        assert_eq!(parse_etag(""), None);
    }

    #[test]
    fn etag_lists() {
        assert!(etag_list_matches("ABC", "abc"));
        assert!(etag_list_matches("abc", "abc"));
        assert!(etag_list_matches("\"abc\"", "abc"));
        assert!(etag_list_matches("abc", "\"abc\""));
        assert!(etag_list_matches("*", "abc"));
        assert!(etag_list_matches("\"x\", \"abc\"", "abc"));
        assert!(etag_list_matches("W/\"abc\"", "abc"));
        assert!(!etag_list_matches("abd", "abc"));
        assert!(!etag_list_matches("", "abc"));
    }

    #[test]
    fn matches() {
        assert!(etag_matches("abc-2", "\"abc-2\""));
        assert!(etag_matches("W/\"abc\"", "abc"));
        assert!(etag_matches("\"ABC\"", "abc"));
        assert!(!etag_matches("abc", "abd"));
        assert!(!etag_matches("\"abc\"", "\"abc-1\""));
    }
}
