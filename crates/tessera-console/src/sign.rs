//! AWS Signature Version 4 (Authorization header) for the requests the console forwards: it
//! signs each one as the session's access key, so that the S3 and IAM endpoints authenticate
//! and authorize it exactly as a request from an SDK.

use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

/// What SigV4 leaves unencoded: letters, digits and `-._~`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The payload hash of a request whose body is not hashed (S3 accepts it over any transport).
pub(crate) const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Hex SHA-256 of `data`.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length: this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Percent-encodes `bytes` as SigV4 does (uppercase hex), leaving `/` alone if `keep_slash`.
pub(crate) fn aws_encode(bytes: &[u8], keep_slash: bool) -> String {
    if keep_slash {
        bytes
            .split(|b| *b == b'/')
            .map(|seg| percent_encoding::percent_encode(seg, UNRESERVED).to_string())
            .collect::<Vec<_>>()
            .join("/")
    } else {
        percent_encoding::percent_encode(bytes, UNRESERVED).to_string()
    }
}

/// The key and secret a request is signed with.
pub(crate) struct Credentials<'a> {
    pub(crate) access_key: &'a str,
    pub(crate) secret: &'a str,
}

/// Where and when a request is signed.
pub(crate) struct Scope<'a> {
    pub(crate) region: &'a str,
    /// `s3`, `iam` or `sts`.
    pub(crate) service: &'a str,
    /// The signing time.
    pub(crate) now: time::OffsetDateTime,
}

/// `YYYYMMDD'T'HHMMSS'Z'` of `t` (UTC).
fn amz_date(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The canonical query string of `query` (as sent, form-encoded): each name and value decoded
/// then SigV4-encoded, sorted by name then value.
pub(crate) fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| {
            (
                aws_encode(k.as_bytes(), false),
                aws_encode(v.as_bytes(), false),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// A header value as SigV4 canonicalizes it: trimmed, inner runs of whitespace as one space.
fn canonical_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Why a request cannot be signed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum SignError {
    /// A header value is not visible ASCII (SigV4 canonicalizes text).
    #[error("the value of header {0} is not ASCII text")]
    NonAsciiHeader(String),
}

/// Signs `parts` (whose Host header is set) for a payload whose hash is `payload_hash`: sets
/// `x-amz-date`, `x-amz-content-sha256` and `Authorization`, signing every header present.
/// The path must already be in canonical (SigV4-encoded) form.
pub(crate) fn sign(
    parts: &mut http::request::Parts,
    creds: &Credentials<'_>,
    scope: &Scope<'_>,
    payload_hash: &str,
) -> Result<(), SignError> {
    let date_time = amz_date(scope.now);
    let date = &date_time[..8];
    let headers = &mut parts.headers;
    headers.remove(http::header::AUTHORIZATION);
    headers.insert(
        "x-amz-date",
        http::HeaderValue::from_str(&date_time)
            .map_err(|_| SignError::NonAsciiHeader("x-amz-date".into()))?,
    );
    headers.insert(
        "x-amz-content-sha256",
        http::HeaderValue::from_str(payload_hash)
            .map_err(|_| SignError::NonAsciiHeader("x-amz-content-sha256".into()))?,
    );
    let mut names: Vec<&str> = headers.keys().map(http::HeaderName::as_str).collect();
    names.sort_unstable();
    names.dedup();
    let mut canonical_headers = String::new();
    for name in &names {
        let mut values = Vec::new();
        for v in headers.get_all(*name) {
            let text = v
                .to_str()
                .map_err(|_| SignError::NonAsciiHeader((*name).to_owned()))?;
            values.push(canonical_value(text));
        }
        canonical_headers.push_str(name);
        canonical_headers.push(':');
        canonical_headers.push_str(&values.join(","));
        canonical_headers.push('\n');
    }
    let signed_headers = names.join(";");
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        parts.method.as_str(),
        parts.uri.path(),
        canonical_query(parts.uri.query().unwrap_or("")),
        canonical_headers,
        signed_headers,
        payload_hash
    );
    let credential_scope = format!("{date}/{}/{}/aws4_request", scope.region, scope.service);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{date_time}\n{credential_scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let mut key = zeroize::Zeroizing::new(format!("AWS4{}", creds.secret).into_bytes());
    for part in [date, scope.region, scope.service, "aws4_request"] {
        key = zeroize::Zeroizing::new(hmac(&key, part.as_bytes()));
    }
    let signature = hex::encode(hmac(&key, string_to_sign.as_bytes()));
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}",
        creds.access_key
    );
    headers.insert(
        http::header::AUTHORIZATION,
        http::HeaderValue::from_str(&authorization)
            .map_err(|_| SignError::NonAsciiHeader("authorization".into()))?,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's documented example: "GET Object" of the S3 SigV4 header-signing examples.
    #[test]
    fn signs_the_aws_get_object_example() {
        let req = http::Request::builder()
            .method("GET")
            .uri("/test.txt")
            .header("host", "examplebucket.s3.amazonaws.com")
            .header("range", "bytes=0-9")
            .body(())
            .unwrap();
        let (mut parts, ()) = req.into_parts();
        let now = time::Date::from_calendar_date(2013, time::Month::May, 24)
            .unwrap()
            .midnight()
            .assume_utc();
        sign(
            &mut parts,
            &Credentials {
                access_key: "AKIAIOSFODNN7EXAMPLE",
                secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            },
            &Scope {
                region: "us-east-1",
                service: "s3",
                now,
            },
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        )
        .unwrap();
        assert_eq!(
            parts.headers["authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn encodes_paths_and_queries_as_sigv4() {
        assert_eq!(aws_encode(b"a b/c+d~e", true), "a%20b/c%2Bd~e");
        assert_eq!(aws_encode(b"a/b", false), "a%2Fb");
        assert_eq!(aws_encode("é".as_bytes(), true), "%C3%A9");
        assert_eq!(canonical_query("uploads"), "uploads=");
        assert_eq!(canonical_query("b=2&a=x+y&a=1"), "a=1&a=x%20y&b=2");
        assert_eq!(canonical_query("prefix=a%2Fb%2B"), "prefix=a%2Fb%2B");
        assert_eq!(canonical_query(""), "");
    }

    #[test]
    fn canonical_values_collapse_whitespace() {
        assert_eq!(canonical_value("  a   b\tc  "), "a b c");
        assert_eq!(canonical_value(""), "");
    }
}
