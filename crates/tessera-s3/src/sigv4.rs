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

// ---------------------------------------------------------------------------------------------
// Verifying a SigV4 GET / HEAD here (used only where s3s cannot be handed the request as sent)
// ---------------------------------------------------------------------------------------------

/// Why [`verify_bodyless`] refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// The signature does not match, or the request is not a well-formed SigV4 request.
    SignatureDoesNotMatch,
    /// The access key is unknown.
    UnknownAccessKey,
    /// A presigned URL past its expiry.
    Expired,
    /// A header-signed request whose time is too far from now.
    TimeSkewed,
}

/// The parts of a request a SigV4 signature covers.
pub struct SignedParts<'a> {
    pub method: &'a str,
    /// The path as sent on the wire (percent-encoded).
    pub raw_path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a http::HeaderMap,
    /// `host` when the request has no Host header (HTTP/2's `:authority`).
    pub authority: Option<&'a str>,
}

/// The access key a SigV4 request (header or presigned) names in its credential scope, so
/// that its secret can be looked up before [`verify_bodyless`].
pub fn access_key_of(parts: &SignedParts<'_>) -> Option<String> {
    let from_query = parts
        .query
        .map(Query::parse)
        .and_then(|q| q.get_unique("X-Amz-Credential").map(str::to_owned));
    let credential = match from_query {
        Some(c) => c,
        None => {
            let auth = header(parts.headers, "authorization")?;
            let rest = auth.strip_prefix("AWS4-HMAC-SHA256")?;
            rest.split(',')
                .find_map(|c| c.trim().strip_prefix("Credential="))?
                .to_owned()
        }
    };
    credential.split('/').next().map(str::to_owned)
}

/// Largest clock difference accepted for header-signed requests, as S3.
const MAX_SKEW_SECS: i64 = 15 * 60;

/// Verifies the SigV4 signature (header or presigned) of a request without a body, in
/// constant time; `secret_for` maps the access key to its secret. Returns the access key.
pub fn verify_bodyless(
    parts: &SignedParts<'_>,
    secret_for: impl Fn(&str) -> Option<String>,
    now_unix: i64,
) -> Result<String, VerifyError> {
    verify_impl(parts, secret_for, now_unix, None)
}

/// Verifies the SigV4 signature of a request whose whole body is `body`, as IAM and STS
/// clients sign it: the payload hash is the body's SHA-256 (they send no
/// `x-amz-content-sha256`). Constant time; returns the access key.
pub fn verify_with_body(
    parts: &SignedParts<'_>,
    body: &[u8],
    secret_for: impl Fn(&str) -> Option<String>,
    now_unix: i64,
) -> Result<String, VerifyError> {
    verify_impl(
        parts,
        secret_for,
        now_unix,
        Some(hex::encode(sha2_256(body))),
    )
}

fn verify_impl(
    parts: &SignedParts<'_>,
    secret_for: impl Fn(&str) -> Option<String>,
    now_unix: i64,
    body_hash: Option<String>,
) -> Result<String, VerifyError> {
    use VerifyError::SignatureDoesNotMatch as Bad;
    let query = parts.query.map(Query::parse);
    let presigned = query.as_ref().is_some_and(|q| q.has("X-Amz-Signature"));
    let (credential, signed, signature, amz_date, payload) = if presigned {
        let q = query.as_ref().ok_or(Bad)?;
        let get = |name| q.get_unique(name).ok_or(Bad);
        if get("X-Amz-Algorithm")? != "AWS4-HMAC-SHA256" {
            return Err(Bad);
        }
        let expires: i64 = get("X-Amz-Expires")?.parse().map_err(|_| Bad)?;
        let date = get("X-Amz-Date")?.to_owned();
        if parse_amz_date(&date).ok_or(Bad)? + expires < now_unix {
            return Err(VerifyError::Expired);
        }
        let payload = q
            .get_unique("X-Amz-Content-Sha256")
            .unwrap_or("UNSIGNED-PAYLOAD")
            .to_owned();
        (
            get("X-Amz-Credential")?.to_owned(),
            get("X-Amz-SignedHeaders")?.to_owned(),
            get("X-Amz-Signature")?.to_owned(),
            date,
            payload,
        )
    } else {
        let auth = header(parts.headers, "authorization").ok_or(Bad)?;
        let rest = auth.strip_prefix("AWS4-HMAC-SHA256").ok_or(Bad)?;
        let mut credential = None;
        let mut signed = None;
        let mut signature = None;
        for component in rest.split(',') {
            let component = component.trim();
            if let Some(v) = component.strip_prefix("Credential=") {
                credential = Some(v.to_owned());
            } else if let Some(v) = component.strip_prefix("SignedHeaders=") {
                signed = Some(v.to_owned());
            } else if let Some(v) = component.strip_prefix("Signature=") {
                signature = Some(v.to_owned());
            }
        }
        let date = header(parts.headers, "x-amz-date").ok_or(Bad)?.to_owned();
        if (parse_amz_date(&date).ok_or(Bad)? - now_unix).abs() > MAX_SKEW_SECS {
            return Err(VerifyError::TimeSkewed);
        }
        let payload = match &body_hash {
            Some(h) => h.clone(),
            None => header(parts.headers, "x-amz-content-sha256")
                .ok_or(Bad)?
                .to_owned(),
        };
        (
            credential.ok_or(Bad)?,
            signed.ok_or(Bad)?,
            signature.ok_or(Bad)?,
            date,
            payload,
        )
    };
    let mut scope = credential.splitn(5, '/');
    let (Some(access_key), Some(day), Some(region), Some(service), Some("aws4_request")) = (
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
    ) else {
        return Err(Bad);
    };
    if !amz_date.starts_with(day) || day.len() != 8 {
        return Err(Bad);
    }
    let secret = secret_for(access_key).ok_or(VerifyError::UnknownAccessKey)?;
    let names = split_signed_headers(&signed).ok_or(Bad)?;
    let canonical_query = canonical_query(parts.query.unwrap_or_default(), presigned);
    let canonical_headers = canonical_headers(parts, &names).ok_or(Bad)?;
    let key = signing_key(&secret, day, region, service).ok_or(Bad)?;
    let scope = format!("{day}/{region}/{service}/aws4_request");
    // Clients sign the path as they sent it; a few sign it decoded and encoded once more.
    let paths = [
        parts.raw_path.to_owned(),
        uri_encode(&percent_decode(parts.raw_path), true),
    ];
    for path in paths {
        let canonical = format!(
            "{}\n{path}\n{canonical_query}\n{canonical_headers}\n{signed}\n{payload}",
            parts.method,
            signed = names.join(";"),
        );
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex::encode(sha2_256(canonical.as_bytes()))
        );
        let expected = hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()).ok_or(Bad)?);
        if subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), signature.as_bytes()).into() {
            return Ok(access_key.to_owned());
        }
    }
    Err(Bad)
}

fn header<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    values
        .next()
        .is_none()
        .then(|| first.to_str().ok())
        .flatten()
}

/// `name:value` lines of the signed headers: values trimmed, inner spaces folded, repeated
/// headers joined with commas; `None` if a signed header is absent.
fn canonical_headers(parts: &SignedParts<'_>, names: &[String]) -> Option<String> {
    let mut out = String::new();
    for name in names {
        let mut values: Vec<String> = parts
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| v.to_str().map(fold_spaces))
            .collect::<Result<_, _>>()
            .ok()?;
        if values.is_empty() && name == "host" {
            values.push(parts.authority?.to_owned());
        }
        if values.is_empty() {
            return None;
        }
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    Some(out)
}

fn fold_spaces(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The canonical query string: every parameter decoded and encoded again, sorted; a presigned
/// URL's own signature left out.
fn canonical_query(raw: &str, presigned: bool) -> String {
    let mut pairs: Vec<(String, String)> = raw
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k), false),
                uri_encode(&percent_decode(v), false),
            )
        })
        .filter(|(k, _)| !(presigned && k == "X-Amz-Signature"))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// SigV4 URI encoding: unreserved characters kept, everything else `%XX`; `/` kept on request.
fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// `YYYYMMDDTHHMMSSZ` as Unix seconds.
pub(crate) fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    let month = time::Month::try_from(u8::try_from(mo).ok()?).ok()?;
    let date = time::Date::from_calendar_date(i32::try_from(y).ok()?, month, u8::try_from(d).ok()?)
        .ok()?;
    let t = time::Time::from_hms(
        u8::try_from(h).ok()?,
        u8::try_from(mi).ok()?,
        u8::try_from(se).ok()?,
    )
    .ok()?;
    Some(
        time::PrimitiveDateTime::new(date, t)
            .assume_utc()
            .unix_timestamp(),
    )
}

/// Whether `signature` (hex) is the SigV4 signature of a POST form's base64 `policy`: the
/// HMAC-SHA256 of the policy under the signing key of `day`/`region`/`service`, compared in
/// constant time (S3 "Calculating a signature" for browser-based uploads).
pub(crate) fn post_policy_signature_matches(
    secret: &str,
    day: &str,
    region: &str,
    service: &str,
    policy: &str,
    signature: &str,
) -> bool {
    let Some(key) = signing_key(secret, day, region, service) else {
        return false;
    };
    let Some(expected) = hmac_sha256(&key, policy.as_bytes()) else {
        return false;
    };
    let presented = signature.to_ascii_lowercase();
    subtle::ConstantTimeEq::ct_eq(hex::encode(expected).as_bytes(), presented.as_bytes()).into()
}

fn sha2_256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).into()
}

/// HMAC-SHA256; `None` never happens in practice (HMAC takes keys of any length).
fn hmac_sha256(key: &[u8], data: &[u8]) -> Option<[u8; 32]> {
    use hmac::{KeyInit, Mac as _};
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).ok()?;
    mac.update(data);
    Some(mac.finalize().into_bytes().into())
}

/// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, day), region), service), "aws4_request").
fn signing_key(secret: &str, day: &str, region: &str, service: &str) -> Option<[u8; 32]> {
    let k = hmac_sha256(format!("AWS4{secret}").as_bytes(), day.as_bytes())?;
    let k = hmac_sha256(&k, region.as_bytes())?;
    let k = hmac_sha256(&k, service.as_bytes())?;
    hmac_sha256(&k, b"aws4_request")
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

    /// The S3 API reference's "GET Object" example (Signature Calculations for the
    /// Authorization Header: Transferring Payload in a Single Chunk).
    fn aws_get_example() -> http::HeaderMap {
        headers(&[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("range", "bytes=0-9"),
            ("x-amz-content-sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("x-amz-date", "20130524T000000Z"),
            ("authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
        ])
    }

    const EXAMPLE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    /// 2013-05-24T00:00:00Z
    const EXAMPLE_NOW: i64 = 1_369_353_600;

    fn secret(ak: &str) -> Option<String> {
        (ak == "AKIAIOSFODNN7EXAMPLE").then(|| EXAMPLE_SECRET.to_owned())
    }

    #[test]
    fn verifies_the_aws_documented_get_example() {
        let h = aws_get_example();
        let parts = SignedParts {
            method: "GET",
            raw_path: "/test.txt",
            query: None,
            headers: &h,
            authority: None,
        };
        assert_eq!(
            verify_bodyless(&parts, secret, EXAMPLE_NOW).as_deref(),
            Ok("AKIAIOSFODNN7EXAMPLE")
        );
        // Anything changed breaks it.
        let parts = SignedParts {
            method: "GET",
            raw_path: "/test.txt2",
            query: None,
            headers: &h,
            authority: None,
        };
        assert_eq!(
            verify_bodyless(&parts, secret, EXAMPLE_NOW),
            Err(VerifyError::SignatureDoesNotMatch)
        );
        let mut h2 = h.clone();
        h2.insert("range", http::HeaderValue::from_static("bytes=0-10"));
        let parts = SignedParts {
            method: "GET",
            raw_path: "/test.txt",
            query: None,
            headers: &h2,
            authority: None,
        };
        assert_eq!(
            verify_bodyless(&parts, secret, EXAMPLE_NOW),
            Err(VerifyError::SignatureDoesNotMatch)
        );
        let parts = SignedParts {
            method: "GET",
            raw_path: "/test.txt",
            query: None,
            headers: &h,
            authority: None,
        };
        assert_eq!(
            verify_bodyless(&parts, |_| Some("wrong".into()), EXAMPLE_NOW),
            Err(VerifyError::SignatureDoesNotMatch)
        );
        assert_eq!(
            verify_bodyless(&parts, |_| None, EXAMPLE_NOW),
            Err(VerifyError::UnknownAccessKey)
        );
        assert_eq!(
            verify_bodyless(&parts, secret, EXAMPLE_NOW + 3600),
            Err(VerifyError::TimeSkewed)
        );
    }

    /// A policy signed by an independent implementation (Python's hmac).
    const POST_POLICY: &str = "eyJleHBpcmF0aW9uIjoiMjAxNS0xMi0zMFQxMjowMDowMC4wMDBaIiwiY29uZGl0aW9ucyI6W3siYnVja2V0Ijoic2lndjRleGFtcGxlYnVja2V0In1dfQ==";

    #[test]
    fn post_policy_signatures() {
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let sig = "d7c5af4545b158e68eefbcaa6dc0c66be7ebf1d610d744d25acf9b93cac269bb";
        let check = |s: &str, day: &str, region: &str, policy: &str, sig: &str| {
            post_policy_signature_matches(s, day, region, "s3", policy, sig)
        };
        assert!(check(secret, "20151229", "us-east-1", POST_POLICY, sig));
        assert!(check(
            secret,
            "20151229",
            "us-east-1",
            POST_POLICY,
            &sig.to_uppercase()
        ));
        assert!(!check(secret, "20151230", "us-east-1", POST_POLICY, sig));
        assert!(!check(secret, "20151229", "eu-west-1", POST_POLICY, sig));
        assert!(!check("other", "20151229", "us-east-1", POST_POLICY, sig));
        assert!(!check(
            secret,
            "20151229",
            "us-east-1",
            &POST_POLICY[1..],
            sig
        ));
        assert!(!check(
            secret,
            "20151229",
            "us-east-1",
            POST_POLICY,
            &sig[1..]
        ));
    }

    #[test]
    fn verifies_the_aws_documented_presigned_example() {
        // The S3 API reference's presigned URL example (query string authentication).
        let h = headers(&[("host", "examplebucket.s3.amazonaws.com")]);
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
        let parts = SignedParts {
            method: "GET",
            raw_path: "/test.txt",
            query: Some(q),
            headers: &h,
            authority: None,
        };
        assert!(verify_bodyless(&parts, secret, EXAMPLE_NOW + 60).is_ok());
        assert_eq!(
            verify_bodyless(&parts, secret, EXAMPLE_NOW + 86_401),
            Err(VerifyError::Expired)
        );
        let tampered = q.replace("X-Amz-Expires=86400", "X-Amz-Expires=86401");
        let parts = SignedParts {
            method: "GET",
            raw_path: "/test.txt",
            query: Some(&tampered),
            headers: &h,
            authority: None,
        };
        assert_eq!(
            verify_bodyless(&parts, secret, EXAMPLE_NOW + 60),
            Err(VerifyError::SignatureDoesNotMatch)
        );
    }
}
