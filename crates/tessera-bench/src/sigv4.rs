//! AWS Signature Version 4 (header form), written against the published
//! examples: the AWS SigV4 test suite and the S3 API reference's
//! "Signature Calculations for the Authorization Header" examples.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The payload hash S3 accepts in place of a body digest.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Who signs, and for which scope.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
    pub service: String,
}

/// One request as SigV4 sees it.
pub struct SignRequest<'a> {
    pub method: &'a str,
    /// The path exactly as sent on the wire (already URI-encoded, S3-style:
    /// each segment encoded once, `/` kept).
    pub encoded_path: &'a str,
    /// The canonical query string (see [`canonical_query`]).
    pub canonical_query: &'a str,
    /// Every header to sign, `host` and `x-amz-date` included. Names in any
    /// case; values are trimmed and inner runs of spaces folded.
    pub headers: &'a [(&'a str, &'a str)],
    /// Hex SHA-256 of the body, or [`UNSIGNED_PAYLOAD`].
    pub payload_hash: &'a str,
    /// `YYYYMMDDTHHMMSSZ`; the scope date is its first 8 characters.
    pub amz_date: &'a str,
}

/// What signing produced (the intermediate steps are kept for tests).
#[cfg_attr(not(test), allow(dead_code))]
pub struct Signed {
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signature: String,
    pub authorization: String,
}

/// URI-encodes as SigV4 wants: unreserved characters (`A-Za-z0-9-_.~`) stay,
/// everything else becomes `%XX` (upper-case hex); `/` stays when `keep_slash`.
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for &b in s.as_bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/');
        if keep {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[(b >> 4) as usize]));
            out.push(char::from(b"0123456789ABCDEF"[(b & 15) as usize]));
        }
    }
    out
}

/// Encodes every key and value and sorts by encoded key, then value, joining
/// with `&`. A parameter without a value becomes `key=`. The same string is
/// sent on the wire, so the server sees exactly what was signed.
pub fn canonical_query(params: &[(&str, &str)]) -> String {
    let mut enc: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    enc.sort();
    let mut out = String::new();
    for (i, (k, v)) in enc.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request").
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

fn fold_spaces(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Signs one request.
pub fn sign(creds: &Credentials, req: &SignRequest<'_>) -> Signed {
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), fold_spaces(v)))
        .collect();
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    // Repeated names are joined with commas, in the order given.
    let mut merged: Vec<(String, String)> = Vec::with_capacity(headers.len());
    for (n, v) in headers {
        match merged.last_mut() {
            Some((last, acc)) if *last == n => {
                acc.push(',');
                acc.push_str(&v);
            }
            _ => merged.push((n, v)),
        }
    }
    let mut canonical_headers = String::new();
    for (n, v) in &merged {
        canonical_headers.push_str(n);
        canonical_headers.push(':');
        canonical_headers.push_str(v);
        canonical_headers.push('\n');
    }
    let signed_headers = merged
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");

    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        req.encoded_path,
        req.canonical_query,
        canonical_headers,
        signed_headers,
        req.payload_hash
    );
    let date = &req.amz_date[..8];
    let scope = format!("{date}/{}/{}/aws4_request", creds.region, creds.service);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{}\n{}",
        req.amz_date,
        scope,
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let key = signing_key(&creds.secret_key, date, &creds.region, &creds.service);
    let signature = hex::encode(hmac(&key, string_to_sign.as_bytes()));
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope},SignedHeaders={signed_headers},Signature={signature}",
        creds.access_key
    );
    Signed {
        canonical_request,
        string_to_sign,
        signature,
        authorization,
    }
}

/// `YYYYMMDDTHHMMSSZ` for seconds since the Unix epoch (UTC).
pub fn amz_date_from_unix(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// The current time as an `x-amz-date` value.
pub fn amz_date_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    amz_date_from_unix(secs)
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn s3_example() -> Credentials {
        Credentials {
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            region: "us-east-1".into(),
            service: "s3".into(),
        }
    }

    fn suite_example() -> Credentials {
        Credentials {
            access_key: "AKIDEXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            region: "us-east-1".into(),
            service: "service".into(),
        }
    }

    const S3_DATE: &str = "20130524T000000Z";
    const S3_HOST: &str = "examplebucket.s3.amazonaws.com";

    #[test]
    fn signing_key_matches_the_iam_documentation_example() {
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn s3_get_object_example() {
        let signed = sign(
            &s3_example(),
            &SignRequest {
                method: "GET",
                encoded_path: "/test.txt",
                canonical_query: "",
                headers: &[
                    ("Host", S3_HOST),
                    ("Range", "bytes=0-9"),
                    ("x-amz-content-sha256", EMPTY_SHA256),
                    ("x-amz-date", S3_DATE),
                ],
                payload_hash: EMPTY_SHA256,
                amz_date: S3_DATE,
            },
        );
        assert_eq!(
            signed.canonical_request,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n\
             x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
             x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            signed.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
             7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
        );
        assert_eq!(
            signed.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,\
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn s3_put_object_example() {
        let body_hash = hex::encode(Sha256::digest(b"Welcome to Amazon S3."));
        assert_eq!(
            body_hash,
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
        );
        let path = format!("/{}", uri_encode("test$file.text", true));
        assert_eq!(path, "/test%24file.text");
        let signed = sign(
            &s3_example(),
            &SignRequest {
                method: "PUT",
                encoded_path: &path,
                canonical_query: "",
                headers: &[
                    ("Host", S3_HOST),
                    ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
                    ("x-amz-date", S3_DATE),
                    ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                    ("x-amz-content-sha256", &body_hash),
                ],
                payload_hash: &body_hash,
                amz_date: S3_DATE,
            },
        );
        assert_eq!(
            signed.signature,
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        );
        assert!(signed.authorization.contains(
            "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"
        ));
    }

    fn s3_get_with_query(query: &[(&str, &str)]) -> Signed {
        let q = canonical_query(query);
        sign(
            &s3_example(),
            &SignRequest {
                method: "GET",
                encoded_path: "/",
                canonical_query: &q,
                headers: &[
                    ("host", S3_HOST),
                    ("x-amz-content-sha256", EMPTY_SHA256),
                    ("x-amz-date", S3_DATE),
                ],
                payload_hash: EMPTY_SHA256,
                amz_date: S3_DATE,
            },
        )
    }

    #[test]
    fn s3_get_bucket_lifecycle_example() {
        let signed = s3_get_with_query(&[("lifecycle", "")]);
        assert!(signed.canonical_request.starts_with("GET\n/\nlifecycle=\n"));
        assert_eq!(
            signed.signature,
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
        );
    }

    #[test]
    fn s3_list_objects_example_sorts_the_query() {
        let signed = s3_get_with_query(&[("prefix", "J"), ("max-keys", "2")]);
        assert!(signed
            .canonical_request
            .starts_with("GET\n/\nmax-keys=2&prefix=J\n"));
        assert_eq!(
            signed.signature,
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        );
    }

    fn suite(method: &str) -> Signed {
        sign(
            &suite_example(),
            &SignRequest {
                method,
                encoded_path: "/",
                canonical_query: "",
                headers: &[
                    ("Host", "example.amazonaws.com"),
                    ("X-Amz-Date", "20150830T123600Z"),
                ],
                payload_hash: EMPTY_SHA256,
                amz_date: "20150830T123600Z",
            },
        )
    }

    #[test]
    fn test_suite_get_vanilla() {
        let signed = suite("GET");
        assert_eq!(
            signed.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request,\
             SignedHeaders=host;x-amz-date,\
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn test_suite_post_vanilla() {
        assert_eq!(
            suite("POST").signature,
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        );
    }

    #[test]
    fn unsigned_payload_is_signed_literally() {
        let signed = sign(
            &s3_example(),
            &SignRequest {
                method: "PUT",
                encoded_path: "/b/k",
                canonical_query: &canonical_query(&[("partNumber", "1"), ("uploadId", "a+b/c=")]),
                headers: &[
                    ("host", "127.0.0.1:9000"),
                    ("x-amz-content-sha256", UNSIGNED_PAYLOAD),
                    ("x-amz-date", S3_DATE),
                ],
                payload_hash: UNSIGNED_PAYLOAD,
                amz_date: S3_DATE,
            },
        );
        assert!(signed
            .canonical_request
            .starts_with("PUT\n/b/k\npartNumber=1&uploadId=a%2Bb%2Fc%3D\nhost:127.0.0.1:9000\n"));
        assert!(signed.canonical_request.ends_with("\nUNSIGNED-PAYLOAD"));
    }

    /// The exact request shape the bench sends (path-style, UNSIGNED-PAYLOAD,
    /// a key and an upload id that need encoding), cross-checked against
    /// botocore's S3SigV4Auth with payload signing disabled.
    #[test]
    fn upload_part_matches_botocore() {
        let creds = Credentials {
            access_key: "AKIDTESSERA".into(),
            secret_key: "secret/with+chars".into(),
            region: "eu-west-1".into(),
            service: "s3".into(),
        };
        let date = amz_date_from_unix(1_709_251_198);
        assert_eq!(date, "20240229T235958Z");
        let path = format!(
            "/{}/{}",
            uri_encode("bench-bucket", false),
            uri_encode("tessera-bench/a b+c", true)
        );
        let signed = sign(
            &creds,
            &SignRequest {
                method: "PUT",
                encoded_path: &path,
                canonical_query: &canonical_query(&[("uploadId", "a+b/c="), ("partNumber", "7")]),
                headers: &[
                    ("host", "127.0.0.1:9000"),
                    ("x-amz-content-sha256", UNSIGNED_PAYLOAD),
                    ("x-amz-date", &date),
                ],
                payload_hash: UNSIGNED_PAYLOAD,
                amz_date: &date,
            },
        );
        assert_eq!(
            signed.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDTESSERA/20240229/eu-west-1/s3/aws4_request,\
             SignedHeaders=host;x-amz-content-sha256;x-amz-date,\
             Signature=b9680456b0de3d8d12660518fddd81eed05d844fbea818758794cbfe04d1b1d6"
        );
    }

    #[test]
    fn uri_encoding() {
        assert_eq!(uri_encode("a b/c+d~_.-", true), "a%20b/c%2Bd~_.-");
        assert_eq!(uri_encode("a b/c", false), "a%20b%2Fc");
        assert_eq!(uri_encode("é", false), "%C3%A9");
    }

    #[test]
    fn amz_dates() {
        assert_eq!(amz_date_from_unix(0), "19700101T000000Z");
        assert_eq!(amz_date_from_unix(1_369_353_600), "20130524T000000Z");
        assert_eq!(amz_date_from_unix(1_440_938_160), "20150830T123600Z");
        assert_eq!(amz_date_from_unix(951_782_400), "20000229T000000Z");
        assert_eq!(amz_date_from_unix(4_102_444_799), "20991231T235959Z");
        assert_eq!(amz_date_now().len(), 16);
    }
}
