//! What of a browser's request reaches the S3 endpoint: the path and query in canonical form
//! (without any signature parameter), and only headers that cannot change who signs.

use http::HeaderMap;

use crate::sign::aws_encode;

/// Headers forwarded as they are (besides `x-amz-*`, see [`AMZ_DROPPED`]).
const FORWARDED: &[&str] = &[
    "content-type",
    "content-length",
    "content-md5",
    "content-disposition",
    "content-encoding",
    "content-language",
    "cache-control",
    "expires",
    "range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
];

/// `x-amz-*` headers never forwarded: the console signs, dates and frames the request itself.
const AMZ_DROPPED: &[&str] = &[
    "x-amz-security-token",
    "x-amz-content-sha256",
    "x-amz-date",
    "x-amz-decoded-content-length",
    "x-amz-trailer",
];

/// Query parameters of presigned URLs (SigV4 and SigV2): never forwarded, so that no
/// credential other than the session's reaches the endpoint.
const AUTH_PARAMS: &[&str] = &[
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-expires",
    "x-amz-signedheaders",
    "x-amz-signature",
    "x-amz-security-token",
    "x-amz-content-sha256",
    "awsaccesskeyid",
    "signature",
    "expires",
];

/// The headers of a browser request that the forwarded S3 request keeps.
pub(crate) fn forwarded_headers(from: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in from {
        let n = name.as_str();
        let keep = FORWARDED.contains(&n) || (n.starts_with("x-amz-") && !AMZ_DROPPED.contains(&n));
        if keep {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// The S3 path of `raw`, the percent-encoded rest of the console path after `/api/s3`: decoded
/// and encoded again as SigV4 does, so that the endpoint reads the same bucket and key.
pub(crate) fn s3_path(raw: &str) -> String {
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(raw).collect();
    let path = aws_encode(&decoded, true);
    if path.starts_with('/') {
        path
    } else {
        format!("/{path}")
    }
}

/// The S3 query of `raw` (form-encoded as browsers send it): parameters decoded and encoded
/// again as SigV4 does, sorted, without signature parameters; a bare name (`?uploads`) stays
/// bare.
pub(crate) fn s3_query(raw: Option<&str>) -> String {
    let Some(raw) = raw else {
        return String::new();
    };
    let mut pairs: Vec<(String, Option<String>)> = raw
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = match p.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (p, None),
            };
            let decode = |s: &str| -> String {
                form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            let name = decode(k);
            if AUTH_PARAMS.contains(&name.to_ascii_lowercase().as_str()) {
                return None;
            }
            let name = aws_encode(name.as_bytes(), false);
            let value = v.map(|v| aws_encode(decode(v).as_bytes(), false));
            Some((name, value))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_headers_that_cannot_change_the_signer() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("authorization", "AWS4-HMAC-SHA256 Credential=X"),
            ("cookie", "tessera_session=abc"),
            ("host", "evil.example"),
            ("x-amz-security-token", "t"),
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
            ("x-amz-date", "20200101T000000Z"),
            ("x-csrf-token", "tok"),
            ("origin", "http://x"),
            ("content-type", "text/plain"),
            ("content-length", "5"),
            ("range", "bytes=0-1"),
            ("if-none-match", "\"e\""),
            ("x-amz-meta-colour", "blue"),
            ("x-amz-checksum-crc32", "AAAAAA=="),
            ("content-disposition", "attachment"),
        ] {
            h.append(
                http::HeaderName::from_static(k),
                http::HeaderValue::from_static(v),
            );
        }
        let out = forwarded_headers(&h);
        let mut names: Vec<&str> = out.keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "content-disposition",
                "content-length",
                "content-type",
                "if-none-match",
                "range",
                "x-amz-checksum-crc32",
                "x-amz-meta-colour",
            ]
        );
    }

    #[test]
    fn paths_keep_their_bucket_and_key() {
        assert_eq!(s3_path(""), "/");
        assert_eq!(s3_path("/"), "/");
        assert_eq!(s3_path("/b"), "/b");
        assert_eq!(s3_path("/b/a%20b/c%2Bd+e"), "/b/a%20b/c%2Bd%2Be");
        assert_eq!(s3_path("/b/caf%C3%A9!"), "/b/caf%C3%A9%21");
        assert_eq!(s3_path("/b/dir/"), "/b/dir/");
    }

    #[test]
    fn queries_are_canonical_and_lose_signature_parameters() {
        assert_eq!(s3_query(None), "");
        assert_eq!(s3_query(Some("uploads")), "uploads");
        assert_eq!(
            s3_query(Some("uploadId=a%2Bb&partNumber=1")),
            "partNumber=1&uploadId=a%2Bb"
        );
        assert_eq!(
            s3_query(Some("list-type=2&prefix=a+b%2F&delimiter=%2F")),
            "delimiter=%2F&list-type=2&prefix=a%20b%2F"
        );
        assert_eq!(
            s3_query(Some(
                "X-Amz-Credential=AK%2F1&X-Amz-Signature=00&versions&AWSAccessKeyId=A&Signature=s&Expires=1"
            )),
            "versions"
        );
        assert_eq!(
            s3_query(Some(
                "response-content-disposition=attachment%3B%20filename%3D%22a.txt%22"
            )),
            "response-content-disposition=attachment%3B%20filename%3D%22a.txt%22"
        );
    }
}
