//! SigV4 rules s3s does not enforce, checked before s3s verifies the signature: every
//! `x-amz-*` header must be covered by the signature, and a request carries one auth mechanism.
//!
//! Without the first rule a presigned PUT URL plus an unsigned `x-amz-copy-source` header would
//! copy any object the signer can read; S3 refuses such requests with 403 AccessDenied.

use std::fmt;

use crate::sigv2::Query;

/// Why a request fails the checks of this module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigV4CheckError {
    /// `x-amz-*` headers present but not in SignedHeaders (names, lower-case, sorted).
    UnsignedHeaders(Vec<String>),
    /// An Authorization header together with a presigned query, or two Authorization headers.
    MoreThanOneAuth,
    /// A SigV4 Authorization header whose SignedHeaders cannot be read.
    MalformedAuthorization,
    /// A SigV4 presigned query without (exactly one) `X-Amz-SignedHeaders`.
    MalformedQuery,
}

impl fmt::Display for SigV4CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsignedHeaders(_) => {
                f.write_str("There were headers present in the request which were not signed")
            }
            Self::MoreThanOneAuth => f.write_str(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
            ),
            Self::MalformedAuthorization => {
                f.write_str("The authorization header is malformed; SignedHeaders is missing or invalid")
            }
            Self::MalformedQuery => f.write_str(
                "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
            ),
        }
    }
}

impl std::error::Error for SigV4CheckError {}

/// How a request authenticates, as far as these checks need to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthKind {
    /// No signature at all.
    Anonymous,
    /// SigV2 (header or query): its string-to-sign covers every `x-amz-*` header by construction.
    SigV2,
    /// SigV4 in the Authorization header, with its SignedHeaders.
    V4Header(Vec<String>),
    /// SigV4 presigned URL, with its `X-Amz-SignedHeaders`.
    V4Presigned(Vec<String>),
}

/// Reads the SignedHeaders list of a SigV4 `Authorization` header value; `None` if the value is
/// not a well-formed `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
pub fn authorization_signed_headers(value: &str) -> Option<Vec<String>> {
    let (algorithm, rest) = value
        .trim_start()
        .split_once(|c: char| c.is_ascii_whitespace())?;
    if !algorithm.starts_with("AWS4-") {
        return None;
    }
    let mut signed = None;
    let mut credential = false;
    let mut signature = false;
    for component in rest.split(',') {
        let component = component.trim();
        if let Some(list) = component.strip_prefix("SignedHeaders=") {
            if signed.is_some() {
                return None;
            }
            signed = Some(split_signed_headers(list)?);
        } else if component.starts_with("Credential=") {
            credential = true;
        } else if component.starts_with("Signature=") {
            signature = true;
        }
    }
    signed.filter(|_| credential && signature)
}

/// Splits `a;b;c` into lower-case names; `None` if empty or a name is empty.
fn split_signed_headers(list: &str) -> Option<Vec<String>> {
    let names: Vec<String> = list.split(';').map(str::to_ascii_lowercase).collect();
    if names
        .iter()
        .any(|n| n.is_empty() || n.contains(char::is_whitespace))
    {
        return None;
    }
    Some(names)
}

/// Works out which auth mechanism a request uses, refusing requests that carry more than one.
pub fn auth_kind(
    query: Option<&str>,
    headers: &http::HeaderMap,
) -> Result<AuthKind, SigV4CheckError> {
    let mut authorizations = headers.get_all(http::header::AUTHORIZATION).iter();
    let authorization = authorizations.next();
    if authorizations.next().is_some() {
        return Err(SigV4CheckError::MoreThanOneAuth);
    }
    let query = query.map(Query::parse);
    let presigned_v4 = query.as_ref().is_some_and(|q| q.has("X-Amz-Signature"));
    let presigned_v2 = query.as_ref().is_some_and(|q| q.has("Signature"));
    if (presigned_v4 || presigned_v2) && authorization.is_some() || (presigned_v4 && presigned_v2) {
        return Err(SigV4CheckError::MoreThanOneAuth);
    }
    if presigned_v4 {
        let list = query
            .as_ref()
            .and_then(|q| q.get_unique("X-Amz-SignedHeaders"))
            .ok_or(SigV4CheckError::MalformedQuery)?;
        return split_signed_headers(list)
            .map(AuthKind::V4Presigned)
            .ok_or(SigV4CheckError::MalformedQuery);
    }
    if presigned_v2 {
        return Ok(AuthKind::SigV2);
    }
    let Some(value) = authorization else {
        return Ok(AuthKind::Anonymous);
    };
    let value = value
        .to_str()
        .map_err(|_| SigV4CheckError::MalformedAuthorization)?;
    if value.trim_start().starts_with("AWS4-") {
        return authorization_signed_headers(value)
            .map(AuthKind::V4Header)
            .ok_or(SigV4CheckError::MalformedAuthorization);
    }
    // "AWS <key>:<sig>" is SigV2; anything else s3s refuses on its own.
    Ok(AuthKind::SigV2)
}

/// The `x-amz-*` headers of `headers` missing from `signed` (lower-case, sorted, deduplicated).
pub fn unsigned_amz_headers(headers: &http::HeaderMap, signed: &[String]) -> Vec<String> {
    let mut missing: Vec<String> = headers
        .keys()
        .map(http::HeaderName::as_str)
        .filter(|name| name.starts_with("x-amz-") && !signed.iter().any(|s| s == name))
        .map(str::to_owned)
        .collect();
    missing.sort();
    missing.dedup();
    missing
}

/// The checks of this module for one request: one auth mechanism, and under SigV4 every
/// `x-amz-*` header signed.
pub fn check_request(
    query: Option<&str>,
    headers: &http::HeaderMap,
) -> Result<AuthKind, SigV4CheckError> {
    let kind = auth_kind(query, headers)?;
    if let AuthKind::V4Header(signed) | AuthKind::V4Presigned(signed) = &kind {
        let missing = unsigned_amz_headers(headers, signed);
        if !missing.is_empty() {
            return Err(SigV4CheckError::UnsignedHeaders(missing));
        }
    }
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AK/20261201/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=abcd";

    fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn parses_signed_headers_with_and_without_spaces() {
        let want = vec!["host", "x-amz-content-sha256", "x-amz-date"];
        assert_eq!(authorization_signed_headers(AUTH).unwrap(), want);
        let tight = AUTH.replace(", ", ",");
        assert_eq!(authorization_signed_headers(&tight).unwrap(), want);
    }

    #[test]
    fn malformed_authorization_is_refused_not_skipped() {
        for bad in [
            "AWS4-HMAC-SHA256 Credential=AK/x, Signature=abcd",
            "AWS4-HMAC-SHA256 Credential=AK/x, SignedHeaders=, Signature=abcd",
            "AWS4-HMAC-SHA256 Credential=AK/x, SignedHeaders=host;;x, Signature=abcd",
            "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=abcd",
            "AWS4-HMAC-SHA256",
        ] {
            let h = headers(&[("authorization", bad)]);
            assert_eq!(
                check_request(None, &h),
                Err(SigV4CheckError::MalformedAuthorization),
                "{bad}"
            );
        }
    }

    #[test]
    fn unsigned_amz_header_is_refused() {
        let h = headers(&[
            ("authorization", AUTH),
            ("x-amz-date", "20261201T000000Z"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ("x-amz-copy-source", "/other/secret"),
            ("x-amz-meta-a", "1"),
        ]);
        assert_eq!(
            check_request(None, &h),
            Err(SigV4CheckError::UnsignedHeaders(vec![
                "x-amz-copy-source".into(),
                "x-amz-meta-a".into()
            ]))
        );
    }

    #[test]
    fn signed_amz_headers_and_other_headers_pass() {
        let h = headers(&[
            ("authorization", AUTH),
            ("x-amz-date", "20261201T000000Z"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ("x-amzn-trace-id", "Root=1"),
            ("user-agent", "test"),
            ("amz-sdk-invocation-id", "x"),
        ]);
        assert!(matches!(check_request(None, &h), Ok(AuthKind::V4Header(_))));
    }

    #[test]
    fn presigned_checks_its_query_list() {
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-SignedHeaders=host%3Bx-amz-meta-a&X-Amz-Signature=ab";
        let ok = headers(&[("x-amz-meta-a", "1")]);
        assert!(matches!(
            check_request(Some(q), &ok),
            Ok(AuthKind::V4Presigned(_))
        ));
        let bad = headers(&[("x-amz-meta-a", "1"), ("x-amz-copy-source", "/b/k")]);
        assert_eq!(
            check_request(Some(q), &bad),
            Err(SigV4CheckError::UnsignedHeaders(vec![
                "x-amz-copy-source".into()
            ]))
        );
        let missing = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=ab";
        assert_eq!(
            check_request(Some(missing), &ok),
            Err(SigV4CheckError::MalformedQuery)
        );
    }

    #[test]
    fn one_auth_mechanism_only() {
        let q = "X-Amz-SignedHeaders=host&X-Amz-Signature=ab";
        let h = headers(&[("authorization", AUTH)]);
        assert_eq!(
            check_request(Some(q), &h),
            Err(SigV4CheckError::MoreThanOneAuth)
        );
        let v2 = "AWSAccessKeyId=AK&Signature=x&Expires=1";
        assert_eq!(
            check_request(Some(v2), &h),
            Err(SigV4CheckError::MoreThanOneAuth)
        );
        let two = headers(&[("authorization", AUTH), ("authorization", AUTH)]);
        assert_eq!(
            check_request(None, &two),
            Err(SigV4CheckError::MoreThanOneAuth)
        );
    }

    #[test]
    fn sigv2_and_anonymous_are_left_alone() {
        let h = headers(&[("authorization", "AWS AK:sig"), ("x-amz-meta-a", "1")]);
        assert_eq!(check_request(None, &h), Ok(AuthKind::SigV2));
        let anon = headers(&[("x-amz-meta-a", "1")]);
        assert_eq!(check_request(None, &anon), Ok(AuthKind::Anonymous));
    }
}
