//! Naming rules for buckets and keys.

use crate::error::{ArgumentError, BucketNameRule, Error, Result};

/// Longest key S3 accepts, in UTF-8 bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// Checks S3's general-purpose bucket naming rules.
pub fn validate_bucket_name(name: &str) -> Result<()> {
    let bad = |reason: BucketNameRule| {
        Err(Error::InvalidBucketName {
            name: name.to_string(),
            reason,
        })
    };
    if !(3..=63).contains(&name.len()) {
        return bad(BucketNameRule::Length);
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return bad(BucketNameRule::Characters);
    }
    let first = name.as_bytes()[0];
    let last = name.as_bytes()[name.len() - 1];
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return bad(BucketNameRule::Ends);
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return bad(BucketNameRule::AdjacentPunctuation);
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return bad(BucketNameRule::IpAddress);
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return bad(BucketNameRule::ReservedPrefix);
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            return bad(BucketNameRule::ReservedSuffix);
        }
    }
    Ok(())
}

/// Checks an object key: non-empty, at most 1024 bytes.
pub fn validate_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::InvalidArgument(ArgumentError::EmptyKey));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(Error::KeyTooLong);
    }
    Ok(())
}

/// Largest total size of user metadata (names and values of `x-amz-meta-*`), as S3: 2 KB.
pub const MAX_USER_METADATA: usize = 2048;

/// Content type S3 stores when a client sends none.
pub const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

/// Applies S3's rules to what is stored with a new object: at most 2 KB of user metadata
/// (`MetadataTooLarge`), and `binary/octet-stream` when no content type was sent.
pub fn normalize_metadata(
    headers: &mut crate::records::ContentHeaders,
    user_metadata: &std::collections::BTreeMap<String, String>,
) -> Result<()> {
    let size: usize = user_metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_USER_METADATA {
        return Err(Error::MetadataTooLarge);
    }
    if headers.content_type.as_deref().is_none_or(str::is_empty) {
        headers.content_type = Some(DEFAULT_CONTENT_TYPE.to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for ok in ["abc", "my-bucket.1", "a1b", &"a".repeat(63)] {
            assert!(validate_bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "ABC",
            "a_b",
            "-ab",
            "ab-",
            "a..b",
            "192.168.1.1",
            "xn--abc",
            &"a".repeat(64),
            "a.-b",
        ] {
            assert!(
                matches!(
                    validate_bucket_name(bad),
                    Err(Error::InvalidBucketName { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn metadata() {
        let mut h = crate::records::ContentHeaders::default();
        let mut m = std::collections::BTreeMap::new();
        m.insert("a".to_string(), "v".repeat(2047));
        assert!(normalize_metadata(&mut h, &m).is_ok());
        assert_eq!(h.content_type.as_deref(), Some(DEFAULT_CONTENT_TYPE));
        m.insert("b".to_string(), String::new());
        assert!(matches!(
            normalize_metadata(&mut h, &m),
            Err(Error::MetadataTooLarge)
        ));
    }

    #[test]
    fn keys() {
        assert!(validate_key(&"k".repeat(1024)).is_ok());
        assert!(matches!(
            validate_key(&"k".repeat(1025)),
            Err(Error::KeyTooLong)
        ));
        assert!(validate_key("").is_err());
    }
}
