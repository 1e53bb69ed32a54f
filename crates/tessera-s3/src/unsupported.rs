//! Request headers that promise protection Tessera does not provide (an SSE-KMS encryption
//! context). S3 would honour them; silently ignoring them would let a client believe its data
//! is protected as asked when it is not, so such requests are refused with 501 NotImplemented.
//! SSE-S3, SSE-KMS with local keys, SSE-C, S3 Bucket Keys (a cost saving in S3, reported back)
//! and Object Lock are implemented.

use s3s::{S3Error, S3ErrorCode};

/// Headers refused whatever their value, with the feature each one asks for.
const REFUSED: &[(&str, &str)] = &[(
    "x-amz-server-side-encryption-context",
    "An SSE-KMS encryption context",
)];

/// Refuses a request that asks for a protection feature Tessera does not implement.
pub fn refuse_unimplemented_protection(headers: &http::HeaderMap) -> Result<(), S3Error> {
    for (name, feature) in REFUSED {
        if headers.contains_key(*name) {
            return Err(not_implemented(feature, name));
        }
    }
    Ok(())
}

fn not_implemented(feature: &str, header: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::NotImplemented,
        format!("{feature} is not implemented by this server (header {header})"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: &'static str, value: &'static str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(name, http::HeaderValue::from_static(value));
        h
    }

    #[test]
    fn every_protection_header_is_refused() {
        for (name, _) in REFUSED {
            let e = refuse_unimplemented_protection(&with(name, "x")).unwrap_err();
            assert_eq!(*e.code(), S3ErrorCode::NotImplemented, "{name}");
        }
    }

    #[test]
    fn implemented_protection_passes() {
        for (name, value) in [
            ("x-amz-bucket-object-lock-enabled", "true"),
            ("x-amz-object-lock-mode", "GOVERNANCE"),
            ("x-amz-object-lock-retain-until-date", "x"),
            ("x-amz-object-lock-legal-hold", "ON"),
            ("x-amz-server-side-encryption", "AES256"),
            ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
            ("x-amz-server-side-encryption-aws-kms-key-id", "k"),
            ("x-amz-server-side-encryption-bucket-key-enabled", "true"),
            ("x-amz-meta-x", "1"),
        ] {
            assert!(
                refuse_unimplemented_protection(&with(name, value)).is_ok(),
                "{name}"
            );
        }
        assert!(refuse_unimplemented_protection(&http::HeaderMap::new()).is_ok());
    }
}
