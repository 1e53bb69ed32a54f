//! ETag parsing and comparison (If-Match / If-None-Match lists) and bucket / key name rules.
//!
//! Input: line 1 a bucket name, line 2 an ETag, line 3 an ETag list (If-Match), rest a key.

use tessera_core::etag::{etag_list_matches, etag_matches, multipart_etag, parse_etag};
use tessera_core::names::{validate_bucket_name, validate_key, MAX_KEY_LEN};

use crate::input::Input;

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let bucket = input.line_str();
    let etag = input.line_str();
    let list = input.line_str();
    let key = String::from_utf8_lossy(input.rest()).into_owned();

    if validate_bucket_name(&bucket).is_ok() {
        let b = bucket.as_bytes();
        assert!((3..=63).contains(&b.len()), "{bucket:?}");
        assert!(
            b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-'),
            "{bucket:?}"
        );
        assert!(!bucket.contains(".."), "{bucket:?}");
    }
    if validate_key(&key).is_ok() {
        assert!(!key.is_empty() && key.len() <= MAX_KEY_LEN);
    }

    if let Some(md5) = parse_etag(&etag) {
        let hex = hex::encode(md5);
        assert!(etag_matches(&etag, &hex), "{etag:?} vs {hex}");
        assert_eq!(parse_etag(&format!("\"{hex}\"")), Some(md5));
        assert_eq!(
            parse_etag(&format!("W/\"{}\"", hex.to_uppercase())),
            Some(md5)
        );
        let mp = multipart_etag(&[md5, md5]);
        assert!(mp.ends_with("-2") && parse_etag(&mp).is_none(), "{mp}");
    }
    assert!(
        etag_matches(&etag, &etag),
        "etag_matches not reflexive: {etag:?}"
    );
    assert_eq!(
        etag_matches(&etag, &list),
        etag_matches(&list, &etag),
        "etag_matches not symmetric: {etag:?} {list:?}"
    );
    let _ = etag_list_matches(&list, &etag);
    // A stored ETag (hex, `-N`) is found in a list naming it quoted, in any hex case.
    if !etag.is_empty() && etag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        let quoted = format!("\"{}\"", etag.to_ascii_uppercase());
        assert!(
            etag_list_matches(&format!("x, {quoted}"), &etag),
            "{etag:?} not found in a list naming it"
        );
    }
}
