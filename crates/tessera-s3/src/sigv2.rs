//! AWS Signature Version 2 ("HmacV1"), verified by Tessera *before* s3s sees the request.
//!
//! s3s 0.14.1 verifies SigV2 itself but compares signatures with `!=`, which is not constant
//! time. Tessera therefore verifies SigV2 first, with a constant-time comparison, and answers
//! every failure itself, so that s3s's comparison only ever runs on a signature that already
//! matched.
//!
//! For that to hold, the string to sign built here is the one s3s builds
//! (`s3s::sig_v2::create_string_to_sign` and `SignatureContext::v2_check`): the same choice
//! between query and header authentication (a `Signature` query parameter wins), the same
//! sub-resource list (s3s's, which is botocore's `HmacV1Auth.QSAOfInterest`), the same
//! decoding of the query string (`application/x-www-form-urlencoded`, `+` is a space), the same
//! treatment of repeated headers and parameters and of non-UTF-8 header values. A request
//! accepted here is therefore accepted by s3s's own SigV2 check as well.
//!
//! String to sign (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/RESTAuthentication.html>):
//!
//! ```text
//! HTTP-Verb \n Content-MD5 \n Content-Type \n Date \n CanonicalizedAmzHeaders CanonicalizedResource
//! ```
//!
//! Everything here is pure: no I/O, no s3s types, the clock is a parameter.

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use subtle::ConstantTimeEq;

/// Largest clock difference accepted for header-signed requests.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// Latest `Expires` s3s can represent (9999-12-31T23:59:59Z); later values are rejected by s3s.
const MAX_EXPIRES_SECS: i64 = 253_402_300_799;

const MISSING_DATE: &str = "AWS authentication requires a valid Date or x-amz-date header";
const MISSING_QUERY_PARAMS: &str =
    "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters";

/// Sub-resources that are part of the CanonicalizedResource, in the order they are signed.
///
/// This is exactly s3s 0.14.1's `INCLUDED_QUERY`, which is also botocore's
/// `HmacV1Auth.QSAOfInterest`. It must stay identical to s3s's list: a parameter signed here
/// but not by s3s (or the reverse) makes s3s reject the request after we accepted it.
const SUB_RESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "defaultObjectAcl",
    "delete",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// How a SigV2 request carries its signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigV2Kind {
    /// `Authorization: AWS <access key>:<signature>`.
    Header,
    /// `?AWSAccessKeyId=…&Expires=…&Signature=…`.
    PresignedQuery,
}

/// The parts of an HTTP request that SigV2 signs.
#[derive(Debug, Clone, Copy)]
pub struct SigV2Request<'a> {
    /// HTTP method as sent (`GET`, `PUT`, …).
    pub method: &'a str,
    /// Raw path, still percent-encoded, as on the wire (`http::Uri::path()`, which s3s signs).
    pub path: &'a str,
    /// Raw query string without the `?` (`http::Uri::query()`).
    pub query: Option<&'a str>,
    /// Request headers.
    pub headers: &'a http::HeaderMap,
    /// Bucket taken from the Host header (virtual-hosted style), if any.
    pub bucket_from_host: Option<&'a str>,
}

/// Why a SigV2 request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigV2Error {
    /// The signature does not match (403 SignatureDoesNotMatch).
    SignatureDoesNotMatch,
    /// 403 AccessDenied with this message: an expired presigned URL ("Request has expired"), or a
    /// header-signed request without a usable Date / x-amz-date.
    AccessDenied(&'static str),
    /// Missing or invalid authentication parameters (400 InvalidArgument /
    /// AuthorizationQueryParametersError).
    Malformed(String),
    /// Date / x-amz-date further than [`MAX_CLOCK_SKEW`] from the server clock (403).
    RequestTimeTooSkewed,
}

impl fmt::Display for SigV2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SignatureDoesNotMatch => f.write_str(
                "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
            ),
            Self::AccessDenied(msg) => f.write_str(msg),
            Self::Malformed(msg) => f.write_str(msg),
            Self::RequestTimeTooSkewed => {
                f.write_str("The difference between the request time and the current time is too large.")
            }
        }
    }
}

impl std::error::Error for SigV2Error {}

/// Result of [`verify_allowing_bucket_slash`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigV2Verified {
    pub kind: SigV2Kind,
    /// The signature covers `path + "/"`, not `path` (see [`verify_allowing_bucket_slash`]):
    /// the caller must append `/` to the request URI's path before s3s sees the request.
    pub append_slash_to_path: bool,
}

/// Detects whether a request is SigV2 and returns its kind and access key.
///
/// Precedence is s3s's: a `Signature` query parameter makes the request a presigned-URL
/// request even if an `Authorization: AWS …` header is present (this matters: otherwise a
/// header signed with one key could smuggle a presigned signature for another key into s3s's
/// non-constant-time comparison). A presigned request is reported as soon as `Signature` and
/// a single `AWSAccessKeyId` are present; a missing or invalid `Expires` is reported by
/// [`verify`]. Returns `None` for anonymous and SigV4 requests, and for requests that have a
/// `Signature` parameter but no single `AWSAccessKeyId` (s3s rejects those as malformed before
/// comparing any signature).
pub fn detect(req: &SigV2Request<'_>) -> Option<(SigV2Kind, String)> {
    let query = req.query.map(Query::parse);
    if let Some(query) = query.as_ref().filter(|q| q.has("Signature")) {
        return query
            .get_unique("AWSAccessKeyId")
            .map(|access_key| (SigV2Kind::PresignedQuery, access_key.to_owned()));
    }
    let headers = Headers::new(req.headers);
    let (access_key, _) = parse_authorization(headers.get_unique("authorization")?)?;
    Some((SigV2Kind::Header, access_key.to_owned()))
}

/// Verifies a SigV2 request with `secret_key` (the secret of the access key [`detect`] returned).
///
/// The computed and the presented signatures (base64 strings, 28 bytes) are compared in
/// constant time. Header auth: Date / x-amz-date must be within [`MAX_CLOCK_SKEW`] of `now`.
/// Presigned: `Expires` (epoch seconds) must not be before `now`.
pub fn verify(
    req: &SigV2Request<'_>,
    secret_key: &str,
    now: SystemTime,
) -> Result<SigV2Kind, SigV2Error> {
    verify_impl(req, secret_key, now, false).map(|v| v.kind)
}

/// Like [`verify`], but also accepts path-style bucket requests signed the botocore way.
///
/// botocore / AWS CLI v1 (`HmacV1Auth`) send a path-style bucket request as `/bucket` but sign
/// `/bucket/`. s3s signs the raw path and rejects them. When this function accepts a request
/// only thanks to the trailing slash it returns `append_slash_to_path: true`; the caller must
/// then rewrite the URI path to `path + "/"` before handing the request to s3s, which routes
/// `/bucket/` exactly like `/bucket` and whose own SigV2 check then matches.
pub fn verify_allowing_bucket_slash(
    req: &SigV2Request<'_>,
    secret_key: &str,
    now: SystemTime,
) -> Result<SigV2Verified, SigV2Error> {
    verify_impl(req, secret_key, now, true)
}

fn verify_impl(
    req: &SigV2Request<'_>,
    secret_key: &str,
    now: SystemTime,
    bucket_slash: bool,
) -> Result<SigV2Verified, SigV2Error> {
    let query = req.query.map(Query::parse);
    let headers = Headers::new(req.headers);

    let (kind, date_line, presented): (SigV2Kind, &str, Cow<'_, str>) =
        match query.as_ref().filter(|q| q.has("Signature")) {
            Some(q) => {
                let (Some(_), Some(expires), Some(signature)) = (
                    q.get_unique("AWSAccessKeyId"),
                    q.get_unique("Expires"),
                    q.get_unique("Signature"),
                ) else {
                    return Err(SigV2Error::Malformed(MISSING_QUERY_PARAMS.to_owned()));
                };
                let expires_at = parse_expires(expires).ok_or_else(|| {
                    SigV2Error::Malformed(format!(
                        "Invalid date (should be seconds since epoch): {expires}"
                    ))
                })?;
                // s3s percent-decodes the (already form-decoded) value a second time.
                let signature = percent_encoding::percent_decode_str(signature)
                    .decode_utf8()
                    .map_err(|_| SigV2Error::Malformed("invalid Signature parameter".to_owned()))?;
                if now > expires_at {
                    return Err(SigV2Error::AccessDenied("Request has expired"));
                }
                (SigV2Kind::PresignedQuery, expires, signature)
            }
            None => {
                let Some((_, signature)) = headers
                    .get_unique("authorization")
                    .and_then(parse_authorization)
                else {
                    return Err(SigV2Error::Malformed(
                        "missing AWS Signature Version 2 credentials".to_owned(),
                    ));
                };
                // x-amz-date, when present, is the request time (and the Date line is empty).
                let has_amz_date = req.headers.contains_key("x-amz-date");
                let request_time = if has_amz_date {
                    headers.get_unique("x-amz-date")
                } else {
                    headers.get_unique("date")
                };
                let request_time = request_time
                    .and_then(parse_date)
                    .ok_or(SigV2Error::AccessDenied(MISSING_DATE))?;
                let skew = match now.duration_since(request_time) {
                    Ok(d) => d,
                    Err(e) => e.duration(),
                };
                if skew > MAX_CLOCK_SKEW {
                    return Err(SigV2Error::RequestTimeTooSkewed);
                }
                // Exactly s3s's Date line.
                let date_line = if headers.get_unique("x-amz-date").is_some() {
                    ""
                } else {
                    headers.get_unique("date").unwrap_or_default()
                };
                (SigV2Kind::Header, date_line, Cow::Borrowed(signature))
            }
        };

    let matches = |path: &str| -> bool {
        let sts = string_to_sign(
            req.method,
            date_line,
            path,
            query.as_ref(),
            &headers,
            req.bucket_from_host,
        );
        match sign(secret_key, &sts) {
            Some(expected) => expected.as_bytes().ct_eq(presented.as_bytes()).into(),
            None => false,
        }
    };

    if matches(req.path) {
        return Ok(SigV2Verified {
            kind,
            append_slash_to_path: false,
        });
    }
    if bucket_slash && is_path_style_bucket(req) && matches(&format!("{}/", req.path)) {
        return Ok(SigV2Verified {
            kind,
            append_slash_to_path: true,
        });
    }
    Err(SigV2Error::SignatureDoesNotMatch)
}

/// `/bucket` (path style, no key, no trailing slash).
fn is_path_style_bucket(req: &SigV2Request<'_>) -> bool {
    req.bucket_from_host.is_none()
        && req
            .path
            .strip_prefix('/')
            .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
}

/// `AWS <access key>:<signature>` (s3s's `AuthorizationV2::parse`).
fn parse_authorization(value: &str) -> Option<(&str, &str)> {
    value.strip_prefix("AWS ")?.split_once(':')
}

/// Epoch seconds, as s3s accepts them (`i64`, not negative, representable).
fn parse_expires(s: &str) -> Option<SystemTime> {
    let secs = s
        .parse::<i64>()
        .ok()
        .filter(|x| (0..=MAX_EXPIRES_SECS).contains(x))?;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// Whether `signature` is the SigV2 signature of a POST form's base64 `policy` (the base64
/// HMAC-SHA1 of the policy), compared in constant time.
pub(crate) fn post_policy_signature_matches(
    secret_key: &str,
    policy: &str,
    signature: &str,
) -> bool {
    match sign(secret_key, policy) {
        Some(expected) => expected
            .as_bytes()
            .ct_eq(signature.trim().as_bytes())
            .into(),
        None => false,
    }
}

fn sign(secret_key: &str, string_to_sign: &str) -> Option<String> {
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(secret_key.as_bytes()).ok()?;
    mac.update(string_to_sign.as_bytes());
    Some(base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

fn string_to_sign(
    method: &str,
    date_line: &str,
    path: &str,
    query: Option<&Query>,
    headers: &Headers<'_>,
    bucket_from_host: Option<&str>,
) -> String {
    let mut s = String::with_capacity(256);
    s.push_str(method);
    s.push('\n');
    s.push_str(headers.get_unique("content-md5").unwrap_or_default());
    s.push('\n');
    s.push_str(headers.get_unique("content-type").unwrap_or_default());
    s.push('\n');
    s.push_str(date_line);
    s.push('\n');

    // CanonicalizedAmzHeaders: names are lower case (http::HeaderName) and sorted.
    let mut last = "";
    for &(name, _) in &headers.entries {
        if !name.starts_with("x-amz-") || name == last {
            continue;
        }
        last = name;
        s.push_str(name);
        s.push(':');
        for (i, value) in headers.get_all(name).enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(value.trim());
        }
        s.push('\n');
    }

    // CanonicalizedResource.
    if let Some(bucket) = bucket_from_host {
        s.push('/');
        s.push_str(bucket);
    }
    s.push_str(path);
    if let Some(query) = query {
        let mut sep = '?';
        for &name in SUB_RESOURCES {
            if let Some(value) = query.get_unique(name) {
                s.push(sep);
                sep = '&';
                s.push_str(name);
                if !value.is_empty() {
                    s.push('=');
                    s.push_str(value);
                }
            }
        }
    }
    s
}

/// Headers with UTF-8 values, sorted by name (stable), like s3s's `OrderedHeaders`.
struct Headers<'a> {
    entries: Vec<(&'a str, &'a str)>,
}

impl<'a> Headers<'a> {
    fn new(map: &'a http::HeaderMap) -> Self {
        let mut entries: Vec<(&'a str, &'a str)> = map
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str(), std::str::from_utf8(value.as_bytes()).ok()?))
            })
            .collect();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        Self { entries }
    }

    fn get_all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a str> + 's {
        let lo = self.entries.partition_point(|e| e.0 < name);
        let hi = self.entries.partition_point(|e| e.0 <= name);
        self.entries[lo..hi].iter().map(|e| e.1)
    }

    /// The value if the header occurs exactly once.
    fn get_unique(&self, name: &str) -> Option<&'a str> {
        let mut values = self.get_all(name);
        let first = values.next()?;
        values.next().is_none().then_some(first)
    }
}

/// Form-decoded query parameters sorted by name (stable), like s3s's `OrderedQs`.
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub(crate) fn parse(raw: &str) -> Self {
        let mut pairs: Vec<(String, String)> = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (form_decode(k), form_decode(v))
            })
            .collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        Self { pairs }
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.pairs
            .binary_search_by(|p| p.0.as_str().cmp(name))
            .is_ok()
    }

    /// The value if the parameter occurs exactly once.
    pub(crate) fn get_unique(&self, name: &str) -> Option<&str> {
        let lo = self.pairs.partition_point(|p| p.0.as_str() < name);
        let hi = self.pairs.partition_point(|p| p.0.as_str() <= name);
        match &self.pairs[lo..hi] {
            [(_, v)] => Some(v.as_str()),
            _ => None,
        }
    }
}

/// `application/x-www-form-urlencoded` decoding (`+` is a space, lossy UTF-8), as
/// `form_urlencoded::parse` (used by s3s through `serde_urlencoded`) does it.
fn form_decode(s: &str) -> String {
    let bytes: Vec<u8> = s
        .bytes()
        .map(|b| if b == b'+' { b' ' } else { b })
        .collect();
    let decoded: Vec<u8> = percent_encoding::percent_decode(&bytes).collect();
    String::from_utf8_lossy(&decoded).into_owned()
}

/// Parses a Date / x-amz-date value: HTTP dates (IMF-fixdate, RFC 850, asctime), RFC 2822
/// dates with a `GMT`/`UT`/`UTC`/`Z` or numeric zone (`Tue, 27 Mar 2007 19:36:42 +0000`, as in
/// the AWS examples), and ISO 8601 basic (`20070327T193642Z`).
fn parse_date(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    if let Ok(t) = httpdate::parse_http_date(s) {
        return Some(t);
    }
    parse_rfc2822(s).or_else(|| parse_iso8601_basic(s))
}

fn parse_rfc2822(s: &str) -> Option<SystemTime> {
    let rest = match s.split_once(',') {
        Some((weekday, rest)) => {
            let weekday = weekday.trim();
            if weekday.len() != 3 || !weekday.bytes().all(|b| b.is_ascii_alphabetic()) {
                return None;
            }
            rest
        }
        None => s,
    };
    let mut parts = rest.split_ascii_whitespace();
    let day = digits(parts.next()?, 1, 2)?;
    let month = month_number(parts.next()?)?;
    let year = digits(parts.next()?, 4, 4)?;
    let mut hms = parts.next()?.split(':');
    let hour = digits(hms.next()?, 2, 2)?;
    let minute = digits(hms.next()?, 2, 2)?;
    let second = digits(hms.next()?, 2, 2)?;
    if hms.next().is_some() {
        return None;
    }
    let offset = zone_offset(parts.next()?)?;
    if parts.next().is_some() {
        return None;
    }
    to_system_time(year, month, day, hour, minute, second, offset)
}

fn parse_iso8601_basic(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let field = |from: usize, to: usize| {
        s.get(from..to)
            .and_then(|x| digits(x, to - from, to - from))
    };
    to_system_time(
        field(0, 4)?,
        field(4, 6)?,
        field(6, 8)?,
        field(9, 11)?,
        field(11, 13)?,
        field(13, 15)?,
        0,
    )
}

/// An unsigned decimal of `min..=max` ASCII digits.
fn digits(s: &str, min: usize, max: usize) -> Option<u32> {
    if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn month_number(s: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let i = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(s))?;
    u32::try_from(i + 1).ok()
}

/// Seconds east of UTC.
fn zone_offset(s: &str) -> Option<i64> {
    if ["GMT", "UT", "UTC", "Z"]
        .iter()
        .any(|z| z.eq_ignore_ascii_case(s))
    {
        return Some(0);
    }
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hhmm = s.get(1..)?;
    if hhmm.len() != 4 {
        return None;
    }
    let hours = digits(hhmm.get(..2)?, 2, 2)?;
    let minutes = digits(hhmm.get(2..)?, 2, 2)?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * i64::from(hours * 3600 + minutes * 60))
}

fn to_system_time(
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    offset: i64,
) -> Option<SystemTime> {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1970..=9999).contains(&year)
        || day == 0
        || day > month_days
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = days_from_civil(i64::from(year), i64::from(month), i64::from(day));
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const AK: &str = "AKIAIOSFODNN7EXAMPLE";
    const SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for &(k, v) in pairs {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    fn at(date: &str) -> SystemTime {
        parse_date(date).unwrap()
    }

    fn epoch(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn request<'a>(
        method: &'a str,
        path: &'a str,
        query: Option<&'a str>,
        headers: &'a http::HeaderMap,
        vhost: Option<&'a str>,
    ) -> SigV2Request<'a> {
        SigV2Request {
            method,
            path,
            query,
            headers,
            bucket_from_host: vhost,
        }
    }

    fn sts_of(req: &SigV2Request<'_>, date_line: &str) -> String {
        let query = req.query.map(Query::parse);
        string_to_sign(
            req.method,
            date_line,
            req.path,
            query.as_ref(),
            &Headers::new(req.headers),
            req.bucket_from_host,
        )
    }

    /// Header-auth request with `Authorization: AWS AK:<sig>` appended to `pairs`.
    fn signed(pairs: &[(&str, &str)], sig: &str) -> http::HeaderMap {
        let mut map = headers(pairs);
        map.append(
            "authorization",
            http::HeaderValue::from_str(&format!("AWS {AK}:{sig}")).unwrap(),
        );
        map
    }

    // ---- AWS documentation examples (RESTAuthentication.html) ----

    /// (method, path, query, headers, virtual-host bucket, signature)
    type DocCase<'a> = (
        &'a str,
        &'a str,
        Option<&'a str>,
        &'a [(&'a str, &'a str)],
        Option<&'a str>,
        &'a str,
    );

    #[test]
    fn sigv2_aws_doc_object_get() {
        let date = "Tue, 27 Mar 2007 19:36:42 +0000";
        let h = signed(&[("date", date)], "qgk2+6Sv9/oM7G3qLEjTH1a1l1g=");
        let req = request(
            "GET",
            "/photos/puppy.jpg",
            None,
            &h,
            Some("awsexamplebucket1"),
        );
        assert_eq!(
            sts_of(&req, date),
            "GET\n\n\n".to_owned() + date + "\n/awsexamplebucket1/photos/puppy.jpg"
        );
        assert_eq!(detect(&req), Some((SigV2Kind::Header, AK.to_owned())));
        assert_eq!(verify(&req, SK, at(date)), Ok(SigV2Kind::Header));
        // Wrong secret.
        assert_eq!(
            verify(&req, "x", at(date)),
            Err(SigV2Error::SignatureDoesNotMatch)
        );
    }

    #[test]
    fn sigv2_aws_doc_examples() {
        let cases: &[DocCase<'_>] = &[
            // Object PUT
            (
                "PUT",
                "/photos/puppy.jpg",
                None,
                &[
                    ("content-type", "image/jpeg"),
                    ("date", "Tue, 27 Mar 2007 21:15:45 +0000"),
                ],
                Some("awsexamplebucket1"),
                "iqRzw+ileNPu1fhspnRs8nOjjIA=",
            ),
            // List
            (
                "GET",
                "/",
                Some("prefix=photos&max-keys=50&marker=puppy"),
                &[("date", "Tue, 27 Mar 2007 19:42:41 +0000")],
                Some("awsexamplebucket1"),
                "m0WP8eCtspQl5Ahe6L1SozdX9YA=",
            ),
            // Fetch ACL
            (
                "GET",
                "/",
                Some("acl"),
                &[("date", "Tue, 27 Mar 2007 19:44:46 +0000")],
                Some("awsexamplebucket1"),
                "82ZHiFIjc+WbcwFKGUVEQspPn+0=",
            ),
            // Delete, path style, x-amz-date (the doc's printed signature used another secret)
            (
                "DELETE",
                "/awsexamplebucket1/photos/puppy.jpg",
                None,
                &[
                    ("date", "Tue, 27 Mar 2007 21:20:27 +0000"),
                    ("x-amz-date", "Tue, 27 Mar 2007 21:20:26 +0000"),
                ],
                None,
                "Ri1hpB1zpS9pGqR7y8kuNFCl4sE=",
            ),
            // Upload with amz headers (the doc's printed signature used another secret)
            (
                "PUT",
                "/db-backup.dat.gz",
                None,
                &[
                    ("date", "Tue, 27 Mar 2007 21:06:08 +0000"),
                    ("x-amz-acl", "public-read"),
                    ("content-type", "application/x-download"),
                    ("content-md5", "4gJE4saaMU4BqNR0kLY+lw=="),
                    ("x-amz-meta-reviewedby", "joe@example.com"),
                    ("x-amz-meta-reviewedby", "jane@example.com"),
                    ("x-amz-meta-filechecksum", "0x02661779"),
                    ("x-amz-meta-checksumalgorithm", "crc32"),
                    ("content-disposition", "attachment; filename=database.dat"),
                    ("content-encoding", "gzip"),
                    ("content-length", "5913339"),
                ],
                Some("static.example.com"),
                "jtBQa0Aq+DkULFI8qrpwIjGEx0E=",
            ),
            // List all my buckets
            (
                "GET",
                "/",
                None,
                &[("date", "Wed, 28 Mar 2007 01:29:59 +0000")],
                None,
                "qGdzdERIC03wnaRNKh6OqZehG9s=",
            ),
            // Unicode keys: the encoded path is signed as sent
            (
                "GET",
                "/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re",
                None,
                &[("date", "Wed, 28 Mar 2007 01:49:49 +0000")],
                None,
                "DNEZGsoieTZ92F3bUfSPQcbGmlM=",
            ),
        ];
        for &(method, path, query, pairs, vhost, sig) in cases {
            let h = signed(pairs, sig);
            let req = request(method, path, query, &h, vhost);
            let date = pairs.iter().find(|p| p.0 == "date").unwrap().1;
            assert_eq!(
                verify(&req, SK, at(date)),
                Ok(SigV2Kind::Header),
                "{method} {path}"
            );
            // A one-character change of the signature fails.
            let mut bad = sig.to_owned();
            bad.replace_range(0..1, if sig.starts_with('A') { "B" } else { "A" });
            let h = signed(pairs, &bad);
            let req = request(method, path, query, &h, vhost);
            assert_eq!(
                verify(&req, SK, at(date)),
                Err(SigV2Error::SignatureDoesNotMatch)
            );
        }
    }

    #[test]
    fn sigv2_aws_doc_upload_string_to_sign() {
        let h = headers(&[
            ("date", "Tue, 27 Mar 2007 21:06:08 +0000"),
            ("x-amz-acl", " public-read "),
            ("content-type", "application/x-download"),
            ("content-md5", "4gJE4saaMU4BqNR0kLY+lw=="),
            ("X-Amz-Meta-ReviewedBy", "joe@example.com"),
            ("x-amz-meta-reviewedby", "\tjane@example.com"),
            ("x-amz-meta-filechecksum", "0x02661779"),
            ("x-amz-meta-checksumalgorithm", "crc32"),
            ("content-length", "5913339"),
            ("x-amzfake", "not signed"),
        ]);
        let req = request(
            "PUT",
            "/db-backup.dat.gz",
            None,
            &h,
            Some("static.example.com"),
        );
        assert_eq!(
            sts_of(&req, "Tue, 27 Mar 2007 21:06:08 +0000"),
            concat!(
                "PUT\n",
                "4gJE4saaMU4BqNR0kLY+lw==\n",
                "application/x-download\n",
                "Tue, 27 Mar 2007 21:06:08 +0000\n",
                "x-amz-acl:public-read\n",
                "x-amz-meta-checksumalgorithm:crc32\n",
                "x-amz-meta-filechecksum:0x02661779\n",
                "x-amz-meta-reviewedby:joe@example.com,jane@example.com\n",
                "/static.example.com/db-backup.dat.gz",
            )
        );
    }

    #[test]
    fn sigv2_aws_doc_presigned() {
        let h = headers(&[("host", "awsexamplebucket1.s3.amazonaws.com")]);
        let query = "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=1No4mq5ETf02z8aet9voy6gui6E%3D&Expires=1175139620";
        let req = request(
            "GET",
            "/photos/puppy.jpg",
            Some(query),
            &h,
            Some("awsexamplebucket1"),
        );
        assert_eq!(
            detect(&req),
            Some((SigV2Kind::PresignedQuery, AK.to_owned()))
        );
        assert_eq!(
            sts_of(&req, "1175139620"),
            "GET\n\n\n1175139620\n/awsexamplebucket1/photos/puppy.jpg"
        );
        assert_eq!(
            verify(&req, SK, epoch(1_175_139_000)),
            Ok(SigV2Kind::PresignedQuery)
        );
        // At the expiry second it is still valid, one second later it is not (as in s3s).
        assert_eq!(
            verify(&req, SK, epoch(1_175_139_620)),
            Ok(SigV2Kind::PresignedQuery)
        );
        assert_eq!(
            verify(&req, SK, epoch(1_175_139_621)),
            Err(SigV2Error::AccessDenied("Request has expired"))
        );
        // Tampered signature / tampered Expires.
        let q = "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=1No4mq5ETf02z8aet9voy6gui6F%3D&Expires=1175139620";
        let req = request(
            "GET",
            "/photos/puppy.jpg",
            Some(q),
            &h,
            Some("awsexamplebucket1"),
        );
        assert_eq!(
            verify(&req, SK, epoch(1_175_139_000)),
            Err(SigV2Error::SignatureDoesNotMatch)
        );
        let q = "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=1No4mq5ETf02z8aet9voy6gui6E%3D&Expires=1175139621";
        let req = request(
            "GET",
            "/photos/puppy.jpg",
            Some(q),
            &h,
            Some("awsexamplebucket1"),
        );
        assert_eq!(
            verify(&req, SK, epoch(1_175_139_000)),
            Err(SigV2Error::SignatureDoesNotMatch)
        );
        // Different object.
        let req = request(
            "GET",
            "/photos/kitten.jpg",
            Some(query),
            &h,
            Some("awsexamplebucket1"),
        );
        assert_eq!(
            verify(&req, SK, epoch(1_175_139_000)),
            Err(SigV2Error::SignatureDoesNotMatch)
        );
    }

    #[test]
    fn sigv2_presigned_malformed() {
        let h = headers(&[]);
        let now = epoch(1_000);
        for q in [
            "AWSAccessKeyId=AK&Signature=x",
            "AWSAccessKeyId=AK&Signature=x&Expires=soon",
            "AWSAccessKeyId=AK&Signature=x&Expires=-1",
            "AWSAccessKeyId=AK&Signature=x&Expires=99999999999999",
            "AWSAccessKeyId=AK&Signature=x&Expires=2000&Expires=2000",
            "AWSAccessKeyId=AK&AWSAccessKeyId=AK&Signature=x&Expires=2000",
            "AWSAccessKeyId=AK&Signature=x&Signature=y&Expires=2000",
        ] {
            let req = request("GET", "/b/k", Some(q), &h, None);
            assert!(
                matches!(verify(&req, SK, now), Err(SigV2Error::Malformed(_))),
                "{q}"
            );
        }
    }

    // ---- canonicalization ----

    #[test]
    fn sigv2_sub_resource_ordering() {
        let h = headers(&[]);
        let q = "versionId=3&uploadId=x%2By&partNumber=2&foo=bar&acl&response-content-type=text%2Fplain\
                 &response-content-disposition=attachment%3B+filename%3D%22a%22&tagging=&list-type=2&delete=";
        let req = request("GET", "/b/k", Some(q), &h, None);
        assert_eq!(
            sts_of(&req, ""),
            "GET\n\n\n\n/b/k?acl&delete&partNumber=2&response-content-disposition=attachment; filename=\"a\"\
             &response-content-type=text/plain&tagging&uploadId=x+y&versionId=3"
        );
        // No sub-resource: no '?'. Repeated sub-resources are left out (as s3s does).
        let req = request("GET", "/b/", Some("prefix=a&uploads&uploads"), &h, None);
        assert_eq!(sts_of(&req, ""), "GET\n\n\n\n/b/");
    }

    #[test]
    fn sigv2_amz_headers_and_standard_headers() {
        let h = headers(&[
            ("x-amz-meta-b", "  two  "),
            ("X-AMZ-META-A", "1"),
            ("x-amz-meta-a", "2"),
            ("x-amz-meta-c", ""),
            ("content-type", "a"),
            ("content-type", "b"),
            ("content-md5", "md5"),
            ("x-other", "o"),
        ]);
        let req = request("POST", "/b/k", Some("uploads"), &h, None);
        // A repeated Content-Type is left empty (s3s's get_unique).
        assert_eq!(
            sts_of(&req, "D"),
            "POST\nmd5\n\nD\nx-amz-meta-a:1,2\nx-amz-meta-b:two\nx-amz-meta-c:\n/b/k?uploads"
        );
    }

    #[test]
    fn sigv2_x_amz_date_precedence() {
        let amz_date = "Thu, 14 Mar 2024 12:00:00 GMT";
        let stale_date = "Thu, 14 Mar 2024 10:00:00 GMT";
        let sts = format!("GET\n\n\n\nx-amz-date:{amz_date}\n/b/k");
        let sig = sign(SK, &sts).unwrap();
        let h = signed(&[("date", stale_date), ("x-amz-date", amz_date)], &sig);
        let req = request("GET", "/b/k", None, &h, None);
        assert_eq!(sts_of(&req, ""), sts);
        // Skew is measured against x-amz-date, not Date.
        assert_eq!(verify(&req, SK, at(amz_date)), Ok(SigV2Kind::Header));
        assert_eq!(
            verify(&req, SK, at(stale_date)),
            Err(SigV2Error::RequestTimeTooSkewed)
        );
        // Signing the Date line instead is wrong.
        let sig = sign(
            SK,
            &format!("GET\n\n\n{stale_date}\nx-amz-date:{amz_date}\n/b/k"),
        )
        .unwrap();
        let h = signed(&[("date", stale_date), ("x-amz-date", amz_date)], &sig);
        let req = request("GET", "/b/k", None, &h, None);
        assert_eq!(
            verify(&req, SK, at(amz_date)),
            Err(SigV2Error::SignatureDoesNotMatch)
        );
    }

    #[test]
    fn sigv2_clock_skew_and_missing_date() {
        let date = "Thu, 14 Mar 2024 12:00:00 GMT";
        let sig = sign(SK, &format!("GET\n\n\n{date}\n/b/k")).unwrap();
        let h = signed(&[("date", date)], &sig);
        let req = request("GET", "/b/k", None, &h, None);
        let t = at(date);
        assert_eq!(verify(&req, SK, t + MAX_CLOCK_SKEW), Ok(SigV2Kind::Header));
        assert_eq!(verify(&req, SK, t - MAX_CLOCK_SKEW), Ok(SigV2Kind::Header));
        let past = t + MAX_CLOCK_SKEW + Duration::from_secs(1);
        assert_eq!(
            verify(&req, SK, past),
            Err(SigV2Error::RequestTimeTooSkewed)
        );
        let early = t - MAX_CLOCK_SKEW - Duration::from_secs(1);
        assert_eq!(
            verify(&req, SK, early),
            Err(SigV2Error::RequestTimeTooSkewed)
        );

        for pairs in [
            &[][..],
            &[("date", "yesterday")][..],
            &[("date", date), ("date", date)][..],
        ] {
            let h = signed(pairs, &sig);
            let req = request("GET", "/b/k", None, &h, None);
            assert_eq!(
                verify(&req, SK, t),
                Err(SigV2Error::AccessDenied(MISSING_DATE))
            );
        }
    }

    #[test]
    fn sigv2_date_formats() {
        let t = epoch(1_175_023_002); // 2007-03-27T19:16:42Z
        for s in [
            "Tue, 27 Mar 2007 19:16:42 GMT",
            "Tue, 27 Mar 2007 19:16:42 +0000",
            "Tue, 27 Mar 2007 21:16:42 +0200",
            "Tue, 27 Mar 2007 14:16:42 -0500",
            "27 Mar 2007 19:16:42 UTC",
            "Wed, 27 Mar 2007 19:16:42 GMT", // wrong weekday is tolerated
            "Tuesday, 27-Mar-07 19:16:42 GMT",
            "Tue Mar 27 19:16:42 2007",
            "20070327T191642Z",
        ] {
            assert_eq!(parse_date(s), Some(t), "{s}");
        }
        for s in [
            "",
            "Tue, 30 Feb 2007 19:16:42 GMT",
            "Tue, 27 Mar 2007 25:16:42 GMT",
            "2007-03-27T19:16:42Z",
            "1175023002",
        ] {
            assert_eq!(parse_date(s), None, "{s}");
        }
    }

    #[test]
    fn sigv2_post_policy_signature() {
        // Signed by an independent implementation (Python's hmac).
        let policy = "eyJleHBpcmF0aW9uIjoiMjAxNS0xMi0zMFQxMjowMDowMC4wMDBaIiwiY29uZGl0aW9ucyI6W3siYnVja2V0Ijoic2lndjRleGFtcGxlYnVja2V0In1dfQ==";
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        assert!(post_policy_signature_matches(
            secret,
            policy,
            "5T7L59RuZAsCeTe3MV89P3tGXkI="
        ));
        assert!(!post_policy_signature_matches(
            secret,
            policy,
            "5T7L59RuZAsCeTe3MV89P3tGXkJ="
        ));
        assert!(!post_policy_signature_matches(
            "x",
            policy,
            "5T7L59RuZAsCeTe3MV89P3tGXkI="
        ));
        assert!(!post_policy_signature_matches(secret, policy, ""));
    }

    #[test]
    fn sigv2_detect() {
        let now = "Thu, 14 Mar 2024 12:00:00 GMT";
        // Anonymous.
        let h = headers(&[("date", now)]);
        assert_eq!(detect(&request("GET", "/b/k", Some("acl"), &h, None)), None);
        assert_eq!(detect(&request("GET", "/b/k", None, &h, None)), None);
        // SigV4 header.
        let h = headers(&[(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20240314/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc",
        )]);
        assert_eq!(detect(&request("GET", "/b/k", None, &h, None)), None);
        // SigV4 presigned.
        let h = headers(&[]);
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20240314%2Fus-east-1%2Fs3%2Faws4_request\
                 &X-Amz-Date=20240314T120000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=abc";
        assert_eq!(detect(&request("GET", "/b/k", Some(q), &h, None)), None);
        // SigV2 header.
        let h = headers(&[("authorization", "AWS AKID:c2ln")]);
        assert_eq!(
            detect(&request("GET", "/b/k", None, &h, None)),
            Some((SigV2Kind::Header, "AKID".to_owned()))
        );
        // Repeated Authorization: not SigV2 for s3s either.
        let h = headers(&[
            ("authorization", "AWS AKID:c2ln"),
            ("authorization", "AWS AKID:c2ln"),
        ]);
        assert_eq!(detect(&request("GET", "/b/k", None, &h, None)), None);
        // SigV2 presigned, with encoded parameter names.
        let h = headers(&[]);
        let q = "AWSAccessKeyId=AKID&Sig%6Eature=abc&Expires=1";
        assert_eq!(
            detect(&request("GET", "/b/k", Some(q), &h, None)),
            Some((SigV2Kind::PresignedQuery, "AKID".to_owned()))
        );
        // Presigned without Expires is still SigV2 (verify says Malformed).
        let q = "AWSAccessKeyId=AKID&Signature=abc";
        assert_eq!(
            detect(&request("GET", "/b/k", Some(q), &h, None)),
            Some((SigV2Kind::PresignedQuery, "AKID".to_owned()))
        );
        // Signature without access key: s3s rejects it before comparing anything.
        assert_eq!(
            detect(&request("GET", "/b/k", Some("Signature=abc"), &h, None)),
            None
        );
    }

    /// A header signed with key A must not let a presigned signature of key B through: the
    /// query signature takes precedence, exactly as in s3s.
    #[test]
    fn sigv2_presigned_takes_precedence_over_header() {
        let date = "Thu, 14 Mar 2024 12:00:00 GMT";
        let sig = sign("attacker-secret", &format!("GET\n\n\n{date}\n/b/k")).unwrap();
        let auth = format!("AWS ATTACKER:{sig}");
        let h = headers(&[("date", date), ("authorization", auth.as_str())]);
        let q = "AWSAccessKeyId=VICTIM&Expires=4102444800&Signature=guess";
        let req = request("GET", "/b/k", Some(q), &h, None);
        assert_eq!(
            detect(&req),
            Some((SigV2Kind::PresignedQuery, "VICTIM".to_owned()))
        );
        assert_eq!(
            verify(&req, "victim-secret", at(date)),
            Err(SigV2Error::SignatureDoesNotMatch)
        );
        assert_eq!(
            verify(&req, "attacker-secret", at(date)),
            Err(SigV2Error::SignatureDoesNotMatch)
        );
    }

    #[test]
    fn sigv2_presigned_signature_decoding() {
        // A path whose signature contains a '+' (the interesting character).
        let (path, sig) = (0..100)
            .map(|i| format!("/b/k{i}"))
            .map(|p| {
                let sig = sign(SK, &format!("GET\n\n\n4102444800\n{p}")).unwrap();
                (p, sig)
            })
            .find(|(_, sig)| sig.contains('+'))
            .unwrap();
        let encoded: String =
            percent_encoding::utf8_percent_encode(&sig, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let h = headers(&[]);
        let q = format!("AWSAccessKeyId={AK}&Expires=4102444800&Signature={encoded}");
        let req = request("GET", &path, Some(&q), &h, None);
        assert_eq!(verify(&req, SK, epoch(0)), Ok(SigV2Kind::PresignedQuery));
        // A raw '+' is a space in a query string (s3s reads it the same way).
        let q = format!("AWSAccessKeyId={AK}&Expires=4102444800&Signature={sig}");
        let req = request("GET", &path, Some(&q), &h, None);
        assert_eq!(
            verify(&req, SK, epoch(0)),
            Err(SigV2Error::SignatureDoesNotMatch)
        );
    }

    // ---- vectors produced by botocore 1.43 (HmacV1Auth / HmacV1QueryAuth, signature_version='s3') ----

    const BOTO_DATE: &str = "Sun, 22 Nov 2026 04:32:45 GMT";
    const BOTO_UA: &str =
        "Botocore/1.43.11 ua/2.1 os/linux#6.18.44-fc-v445 md/arch#x86_64 lang/python#3.11.7 \
                           md/pyimpl#CPython m/b,e,N,D,Z cfg/retry-mode#legacy";
    const BOTO_KEY_PATH: &str = "/a%20b/%C3%BC%2B~%21%24%26%27%28%29%2A%2C%3B%3D%3A%40%25.txt";

    fn boto_get_headers() -> http::HeaderMap {
        headers(&[
            ("host", "bucket.s3.example.com"),
            ("x-amz-checksum-mode", "ENABLED"),
            ("user-agent", BOTO_UA),
            ("date", BOTO_DATE),
            (
                "authorization",
                "AWS AKIAIOSFODNN7EXAMPLE:8nbLyo0pzyPn/vNEb2o03X03GoQ=",
            ),
            (
                "amz-sdk-invocation-id",
                "3eecc061-2f66-4e7a-a621-ec2ce73706e8",
            ),
            ("amz-sdk-request", "attempt=1"),
        ])
    }

    fn boto_put_headers() -> http::HeaderMap {
        headers(&[
            ("host", "s3.example.com"),
            ("content-type", "application/x-download"),
            ("content-md5", "XUFAKrxLKna5cZ2REBfFkg=="),
            ("x-amz-acl", "public-read"),
            ("x-amz-meta-reviewedby", "joe@example.com"),
            ("x-amz-meta-checksum", "0x02661779"),
            ("user-agent", BOTO_UA),
            ("expect", "100-continue"),
            ("x-amz-checksum-crc32", "NhCmhg=="),
            ("x-amz-sdk-checksum-algorithm", "CRC32"),
            ("date", BOTO_DATE),
            (
                "authorization",
                "AWS AKIAIOSFODNN7EXAMPLE:ipm1/3LxoYnOpNEGbsemDl4Iqt0=",
            ),
            ("content-length", "5"),
        ])
    }

    fn boto_list_headers() -> http::HeaderMap {
        headers(&[
            ("host", "s3.example.com"),
            ("user-agent", BOTO_UA),
            ("date", BOTO_DATE),
            (
                "authorization",
                "AWS AKIAIOSFODNN7EXAMPLE:Cej2sa3AFu3LGJgjUB5l2l1AEio=",
            ),
        ])
    }

    const BOTO_PRESIGNED_PATH: &str = "/bucket/photos/a%20b/%C3%BC%2B.jpg";
    const BOTO_PRESIGNED_QUERY: &str = "response-content-disposition=attachment%3B%20filename%3D%22x%20y.jpg%22\
        &AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=2k5kNPNGDySJa6uIUXH9fMNhwbU%3D&Expires=4102444800";
    const BOTO_PRESIGNED_VHOST_QUERY: &str =
        "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=1ACNm1dlCE0h%2B52BgkLQDSoR7Yw%3D&Expires=4102444800";

    #[test]
    fn sigv2_botocore_header_vectors() {
        let now = at(BOTO_DATE);
        // Virtual host, special characters in the key, sub-resources, an x-amz header.
        let h = boto_get_headers();
        let q = "versionId=v1&response-content-type=text%2Fplain";
        let req = request("GET", BOTO_KEY_PATH, Some(q), &h, Some("bucket"));
        assert_eq!(detect(&req), Some((SigV2Kind::Header, AK.to_owned())));
        assert_eq!(verify(&req, SK, now), Ok(SigV2Kind::Header));
        // Same request, path style.
        let mut h = boto_get_headers();
        h.insert("host", http::HeaderValue::from_static("s3.example.com"));
        let path = format!("/bucket{BOTO_KEY_PATH}");
        let req = request("GET", &path, Some(q), &h, None);
        assert_eq!(verify(&req, SK, now), Ok(SigV2Kind::Header));
        // Decoded path does not verify: the encoded path is what is signed.
        let req = request("GET", "/bucket/a b/ü+~!$&'()*,;=:@%.txt", Some(q), &h, None);
        assert_eq!(
            verify(&req, SK, now),
            Err(SigV2Error::SignatureDoesNotMatch)
        );

        // PUT with Content-MD5, Content-Type and several x-amz headers.
        let h = boto_put_headers();
        let req = request("PUT", "/bucket/dir/file.bin", None, &h, None);
        assert_eq!(verify(&req, SK, now), Ok(SigV2Kind::Header));
    }

    #[test]
    fn sigv2_botocore_path_style_bucket_slash() {
        let now = at(BOTO_DATE);
        let h = boto_list_headers();
        let req = request("GET", "/bucket", Some("encoding-type=url"), &h, None);
        // botocore signed "/bucket/" but sent "/bucket": strict verify (= s3s) refuses it ...
        assert_eq!(
            verify(&req, SK, now),
            Err(SigV2Error::SignatureDoesNotMatch)
        );
        // ... the compatible one accepts it and asks for the path to be rewritten.
        assert_eq!(
            verify_allowing_bucket_slash(&req, SK, now),
            Ok(SigV2Verified {
                kind: SigV2Kind::Header,
                append_slash_to_path: true
            })
        );
        let req = request("GET", "/bucket/", Some("encoding-type=url"), &h, None);
        assert_eq!(
            verify_allowing_bucket_slash(&req, SK, now),
            Ok(SigV2Verified {
                kind: SigV2Kind::Header,
                append_slash_to_path: false
            })
        );
        // Only for a bare path-style bucket.
        let req = request("GET", "/bucket", Some("encoding-type=url"), &h, Some("x"));
        assert_eq!(
            verify_allowing_bucket_slash(&req, SK, now),
            Err(SigV2Error::SignatureDoesNotMatch)
        );
    }

    #[test]
    fn sigv2_botocore_presigned_vectors() {
        let h = headers(&[("host", "s3.example.com")]);
        let req = request(
            "GET",
            BOTO_PRESIGNED_PATH,
            Some(BOTO_PRESIGNED_QUERY),
            &h,
            None,
        );
        assert_eq!(
            detect(&req),
            Some((SigV2Kind::PresignedQuery, AK.to_owned()))
        );
        assert_eq!(
            verify(&req, SK, at(BOTO_DATE)),
            Ok(SigV2Kind::PresignedQuery)
        );
        assert_eq!(
            verify(&req, SK, epoch(4_102_444_801)),
            Err(SigV2Error::AccessDenied("Request has expired"))
        );

        let h = headers(&[("host", "bucket.s3.example.com")]);
        let req = request(
            "GET",
            "/photos/puppy.jpg",
            Some(BOTO_PRESIGNED_VHOST_QUERY),
            &h,
            Some("bucket"),
        );
        assert_eq!(
            verify(&req, SK, at(BOTO_DATE)),
            Ok(SigV2Kind::PresignedQuery)
        );
        // The same URL without the virtual-host bucket is a different resource.
        let req = request(
            "GET",
            "/photos/puppy.jpg",
            Some(BOTO_PRESIGNED_VHOST_QUERY),
            &h,
            None,
        );
        assert_eq!(
            verify(&req, SK, at(BOTO_DATE)),
            Err(SigV2Error::SignatureDoesNotMatch)
        );
    }

    // ---- agreement with s3s's own SigV2 check ----

    struct NotImplemented;
    #[async_trait::async_trait]
    impl s3s::S3 for NotImplemented {}

    /// Runs the request through an s3s service with SimpleAuth. s3s answers 403 when its SigV2
    /// check fails and 501 (NotImplemented) when it passes.
    async fn s3s_status(method: &str, uri: &str, h: &http::HeaderMap, domain: Option<&str>) -> u16 {
        let mut builder = s3s::service::S3ServiceBuilder::new(NotImplemented);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(AK, SK));
        if let Some(domain) = domain {
            builder.set_host(s3s::host::SingleDomain::new(domain).unwrap());
        }
        let service = builder.build();
        let mut req = http::Request::builder()
            .method(method)
            .uri(uri)
            .body(s3s::Body::empty())
            .unwrap();
        *req.headers_mut() = h.clone();
        service.call(req).await.unwrap().status().as_u16()
    }

    #[tokio::test]
    async fn sigv2_s3s_agrees() {
        let domain = Some("s3.example.com");
        let get = boto_get_headers();
        let uri = format!("{BOTO_KEY_PATH}?versionId=v1&response-content-type=text%2Fplain");
        assert_eq!(s3s_status("GET", &uri, &get, domain).await, 501);

        let put = boto_put_headers();
        assert_eq!(
            s3s_status("PUT", "/bucket/dir/file.bin", &put, domain).await,
            501
        );

        let uri = format!("{BOTO_PRESIGNED_PATH}?{BOTO_PRESIGNED_QUERY}");
        assert_eq!(
            s3s_status("GET", &uri, &headers(&[("host", "s3.example.com")]), domain).await,
            501
        );
        let uri = format!("/photos/puppy.jpg?{BOTO_PRESIGNED_VHOST_QUERY}");
        let vhost = headers(&[("host", "bucket.s3.example.com")]);
        assert_eq!(s3s_status("GET", &uri, &vhost, domain).await, 501);

        // The botocore path-style bucket request: s3s refuses it as sent, accepts it rewritten.
        let list = boto_list_headers();
        assert_eq!(
            s3s_status("GET", "/bucket?encoding-type=url", &list, domain).await,
            403
        );
        assert_eq!(
            s3s_status("GET", "/bucket/?encoding-type=url", &list, domain).await,
            501
        );

        // Sub-resources, repeated and trimmed amz headers, empty Content-Type, x-amz-date.
        let date = httpdate::fmt_http_date(SystemTime::now());
        let pairs = [
            ("host", "s3.example.com"),
            ("date", "Thu, 01 Jan 1970 00:00:00 GMT"),
            ("x-amz-date", date.as_str()),
            ("x-amz-meta-b", " 2 "),
            ("x-amz-meta-a", "1"),
            ("x-amz-meta-a", "0"),
            ("content-md5", "XUFAKrxLKna5cZ2REBfFkg=="),
        ];
        let path = "/bucket/some%20key";
        let query =
            "versionId=v+1&uploadId=u%2F1&x=y&response-expires=1&response-content-type=a%2Fb";
        let h = headers(&pairs);
        let req = request("GET", path, Some(query), &h, None);
        let sig = sign(SK, &sts_of(&req, "")).unwrap();
        let h = signed(&pairs, &sig);
        let req = request("GET", path, Some(query), &h, None);
        assert_eq!(verify(&req, SK, SystemTime::now()), Ok(SigV2Kind::Header));
        assert_eq!(
            s3s_status("GET", &format!("{path}?{query}"), &h, domain).await,
            501
        );
        // Tampered: both refuse.
        let h = signed(&pairs, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        let req = request("GET", path, Some(query), &h, None);
        assert_eq!(
            verify(&req, SK, SystemTime::now()),
            Err(SigV2Error::SignatureDoesNotMatch)
        );
        assert_eq!(
            s3s_status("GET", &format!("{path}?{query}"), &h, domain).await,
            403
        );
    }
}
