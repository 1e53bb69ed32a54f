//! The condition keys a request brings to policy evaluation, per "Actions, resources, and
//! condition keys for Amazon S3", "Amazon S3 Signature Version 4 Authentication Specific Policy
//! Keys" and "AWS global condition context keys". Only keys the request has are returned.
//!
//! Decisions: a listing's `s3:prefix` / `s3:delimiter` / `s3:max-keys` are present exactly when
//! the query has the parameter (`prefix=` gives `""`; no `prefix` gives no key, so a condition on
//! it fails unless `...IfExists` or `Null`), as AWS (SDKs send `prefix=` to match `""`). Header
//! keys take the header's first value (what s3s parses), whole; the grant headers are not split.

use http::HeaderMap;
use tessera_core::Millis;

use crate::{FormUpload, PreVerified};

/// Condition keys and their values, e.g. `("s3:prefix", ["home/"])`.
pub(crate) type ConditionKeys = Vec<(String, Vec<String>)>;

/// Headers whose value is the value of the key of the same name under `s3:`.
const HEADER_KEYS: &[(&str, &str)] = &[
    ("x-amz-acl", "s3:x-amz-acl"),
    ("x-amz-grant-read", "s3:x-amz-grant-read"),
    ("x-amz-grant-write", "s3:x-amz-grant-write"),
    ("x-amz-grant-read-acp", "s3:x-amz-grant-read-acp"),
    ("x-amz-grant-write-acp", "s3:x-amz-grant-write-acp"),
    ("x-amz-grant-full-control", "s3:x-amz-grant-full-control"),
    (
        "x-amz-server-side-encryption",
        "s3:x-amz-server-side-encryption",
    ),
    (
        "x-amz-server-side-encryption-aws-kms-key-id",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
    ),
    (
        "x-amz-server-side-encryption-customer-algorithm",
        "s3:x-amz-server-side-encryption-customer-algorithm",
    ),
    ("x-amz-content-sha256", "s3:x-amz-content-sha256"),
    ("x-amz-metadata-directive", "s3:x-amz-metadata-directive"),
    ("x-amz-storage-class", "s3:x-amz-storage-class"),
    (
        "x-amz-website-redirect-location",
        "s3:x-amz-website-redirect-location",
    ),
    ("x-amz-object-lock-mode", "s3:object-lock-mode"),
    (
        "x-amz-object-lock-retain-until-date",
        "s3:object-lock-retain-until-date",
    ),
    ("x-amz-object-lock-legal-hold", "s3:object-lock-legal-hold"),
    ("referer", "aws:Referer"),
    ("user-agent", "aws:UserAgent"),
];

/// The condition keys of one request: operation `op` (s3s's name), its headers and raw query,
/// and the signature Tessera verified and removed, if it did. `now` dates `s3:signatureAge`.
pub(crate) fn condition_keys(
    op: &str,
    headers: &HeaderMap,
    query: Option<&str>,
    pre_verified: Option<&PreVerified>,
    now: Millis,
) -> ConditionKeys {
    let mut keys = ConditionKeys::new();
    for (header, key) in HEADER_KEYS {
        if let Some(v) = header_str(headers, header) {
            keys.push(((*key).to_owned(), vec![v.to_owned()]));
        }
    }
    if let Some(v) = header_str(headers, "x-amz-copy-source") {
        // As the AWS examples write it: `bucket/key`, decoded as the copy itself reads it.
        let v = percent_encoding::percent_decode_str(v.trim_start_matches('/'))
            .decode_utf8_lossy()
            .into_owned();
        keys.push(("s3:x-amz-copy-source".to_owned(), vec![v]));
    }
    if let Some(tagging) = header_str(headers, "x-amz-tagging") {
        push_request_tags(&mut keys, tagging);
    }
    if let Some(q) = query {
        if matches!(op, "ListObjects" | "ListObjectsV2" | "ListObjectVersions") {
            for (param, key) in [
                ("prefix", "s3:prefix"),
                ("delimiter", "s3:delimiter"),
                ("max-keys", "s3:max-keys"),
            ] {
                if let Some(v) = query_value(q, param) {
                    keys.push((key.to_owned(), vec![v]));
                }
            }
        }
        if let Some(v) = query_value(q, "versionId") {
            keys.push(("s3:VersionId".to_owned(), vec![v]));
        }
    }
    push_signature_keys(&mut keys, op, headers, query, pre_verified, now);
    keys
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The first value of `name` in a query string, decoded as s3s does (form encoding).
fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (form_decode(k) == name).then(|| form_decode(v))
    })
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, then percent-decoding.
fn form_decode(s: &str) -> String {
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// `s3:RequestObjectTag/<key>` for each tag of an `x-amz-tagging` header (`k=v&k2=v2`), and
/// `s3:RequestObjectTagKeys` with all the keys.
fn push_request_tags(keys: &mut ConditionKeys, tagging: &str) {
    let mut tag_keys = Vec::new();
    for pair in tagging.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (form_decode(k), form_decode(v));
        keys.push((format!("s3:RequestObjectTag/{k}"), vec![v]));
        tag_keys.push(k);
    }
    keys.push(("s3:RequestObjectTagKeys".to_owned(), tag_keys));
}

/// `s3:authType`, `s3:signatureversion` and `s3:signatureAge` (milliseconds since the signing
/// time; always 0 for Signature Version 2, as AWS).
fn push_signature_keys(
    keys: &mut ConditionKeys,
    op: &str,
    headers: &HeaderMap,
    query: Option<&str>,
    pre_verified: Option<&PreVerified>,
    now: Millis,
) {
    let query_has = |name: &str| query.is_some_and(|q| query_value(q, name).is_some());
    let (auth_type, version, date) = if let Some(p) = pre_verified {
        let auth_type = if p.presigned {
            "REST-QUERY-STRING"
        } else {
            "REST-HEADER"
        };
        (auth_type, Some("AWS4-HMAC-SHA256"), p.amz_date.clone())
    } else if let Some(auth) = header_str(headers, "authorization") {
        let version = if auth.starts_with("AWS4-HMAC-SHA256") {
            Some("AWS4-HMAC-SHA256")
        } else if auth.starts_with("AWS ") {
            Some("AWS")
        } else {
            None
        };
        let date = header_str(headers, "x-amz-date").map(str::to_owned);
        ("REST-HEADER", version, date)
    } else if query_has("X-Amz-Signature") {
        let date = query.and_then(|q| query_value(q, "X-Amz-Date"));
        ("REST-QUERY-STRING", Some("AWS4-HMAC-SHA256"), date)
    } else if query_has("Signature") {
        ("REST-QUERY-STRING", Some("AWS"), None)
    } else if op == "PostObject" {
        // A form's signature comes in its fields: see `form_condition_keys`.
        ("POST", None, None)
    } else {
        return;
    };
    keys.push(("s3:authType".to_owned(), vec![auth_type.to_owned()]));
    if let Some(version) = version {
        push_version_keys(keys, version, date.as_deref(), now);
    }
}

/// The condition keys of a browser form upload turned into a PutObject (its `headers` are
/// the form's fields): `s3:authType` `POST`, and the form's signature version and age.
pub(crate) fn form_condition_keys(
    headers: &HeaderMap,
    form: &FormUpload,
    now: Millis,
) -> ConditionKeys {
    let mut keys = condition_keys("PostObject", headers, None, None, now);
    if let Some(version) = form.signature_version {
        push_version_keys(&mut keys, version, form.amz_date.as_deref(), now);
    }
    keys
}

/// `s3:signatureversion` and `s3:signatureAge` of a signature of `version` made at `date`.
fn push_version_keys(keys: &mut ConditionKeys, version: &str, date: Option<&str>, now: Millis) {
    keys.push(("s3:signatureversion".to_owned(), vec![version.to_owned()]));
    let age = match version {
        "AWS" => Some(0),
        _ => date
            .and_then(crate::sigv4::parse_amz_date)
            .map(|signed| now.saturating_sub(signed.saturating_mul(1000)).max(0)),
    };
    if let Some(age) = age {
        keys.push(("s3:signatureAge".to_owned(), vec![age.to_string()]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn get<'a>(keys: &'a ConditionKeys, name: &str) -> Option<&'a [String]> {
        keys.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
    }

    fn one(keys: &ConditionKeys, name: &str) -> Option<String> {
        let v = get(keys, name)?;
        assert_eq!(v.len(), 1, "{name}: {v:?}");
        Some(v[0].clone())
    }

    const NOW: Millis = 1_764_547_200_000; // 2025-12-01T00:00:00Z

    #[test]
    fn no_keys_for_a_bare_request() {
        assert!(condition_keys("GetObject", &HeaderMap::new(), None, None, NOW).is_empty());
    }

    #[test]
    fn global_header_keys() {
        let h = headers(&[
            ("user-agent", "Boto3/1.35 md/x"),
            ("referer", "https://example.com/"),
        ]);
        let keys = condition_keys("GetObject", &h, None, None, NOW);
        assert_eq!(
            one(&keys, "aws:UserAgent").as_deref(),
            Some("Boto3/1.35 md/x")
        );
        assert_eq!(
            one(&keys, "aws:Referer").as_deref(),
            Some("https://example.com/")
        );
    }

    #[test]
    fn listing_parameters() {
        let q = "list-type=2&prefix=home%2Fal+ice%2F&delimiter=%2F&max-keys=10";
        let keys = condition_keys("ListObjectsV2", &HeaderMap::new(), Some(q), None, NOW);
        assert_eq!(one(&keys, "s3:prefix").as_deref(), Some("home/al ice/"));
        assert_eq!(one(&keys, "s3:delimiter").as_deref(), Some("/"));
        assert_eq!(one(&keys, "s3:max-keys").as_deref(), Some("10"));

        for op in ["ListObjects", "ListObjectVersions"] {
            let keys = condition_keys(op, &HeaderMap::new(), Some("prefix=a"), None, NOW);
            assert_eq!(one(&keys, "s3:prefix").as_deref(), Some("a"), "{op}");
        }
    }

    #[test]
    fn empty_prefix_is_present_and_absent_prefix_is_not() {
        let keys = condition_keys("ListObjects", &HeaderMap::new(), Some("prefix="), None, NOW);
        assert_eq!(one(&keys, "s3:prefix").as_deref(), Some(""));
        let keys = condition_keys("ListObjects", &HeaderMap::new(), Some("prefix"), None, NOW);
        assert_eq!(one(&keys, "s3:prefix").as_deref(), Some(""));
        let keys = condition_keys(
            "ListObjectsV2",
            &HeaderMap::new(),
            Some("list-type=2"),
            None,
            NOW,
        );
        assert_eq!(get(&keys, "s3:prefix"), None);
        assert_eq!(get(&keys, "s3:max-keys"), None);
    }

    #[test]
    fn listing_keys_only_for_listings() {
        let keys = condition_keys("GetObject", &HeaderMap::new(), Some("prefix=a"), None, NOW);
        assert_eq!(get(&keys, "s3:prefix"), None);
        let keys = condition_keys(
            "ListMultipartUploads",
            &HeaderMap::new(),
            Some("prefix=a"),
            None,
            NOW,
        );
        assert_eq!(get(&keys, "s3:prefix"), None);
    }

    #[test]
    fn version_id() {
        let keys = condition_keys(
            "GetObject",
            &HeaderMap::new(),
            Some("versionId=v%2B1"),
            None,
            NOW,
        );
        assert_eq!(one(&keys, "s3:VersionId").as_deref(), Some("v+1"));
    }

    #[test]
    fn header_keys() {
        let h = headers(&[
            ("x-amz-acl", "public-read"),
            ("x-amz-grant-read", "id=\"abc\", uri=\"http://x\""),
            ("x-amz-grant-write", "id=w"),
            ("x-amz-grant-read-acp", "id=ra"),
            ("x-amz-grant-write-acp", "id=wa"),
            ("x-amz-grant-full-control", "id=fc"),
            ("x-amz-server-side-encryption", "aws:kms"),
            (
                "x-amz-server-side-encryption-aws-kms-key-id",
                "arn:aws:kms:k",
            ),
            ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ("x-amz-metadata-directive", "REPLACE"),
            ("x-amz-storage-class", "STANDARD_IA"),
            ("x-amz-website-redirect-location", "/other"),
            ("x-amz-object-lock-mode", "GOVERNANCE"),
            (
                "x-amz-object-lock-retain-until-date",
                "2030-01-01T00:00:00Z",
            ),
            ("x-amz-object-lock-legal-hold", "ON"),
        ]);
        let keys = condition_keys("PutObject", &h, None, None, NOW);
        let expect = [
            ("s3:x-amz-acl", "public-read"),
            ("s3:x-amz-grant-read", "id=\"abc\", uri=\"http://x\""),
            ("s3:x-amz-grant-write", "id=w"),
            ("s3:x-amz-grant-read-acp", "id=ra"),
            ("s3:x-amz-grant-write-acp", "id=wa"),
            ("s3:x-amz-grant-full-control", "id=fc"),
            ("s3:x-amz-server-side-encryption", "aws:kms"),
            (
                "s3:x-amz-server-side-encryption-aws-kms-key-id",
                "arn:aws:kms:k",
            ),
            (
                "s3:x-amz-server-side-encryption-customer-algorithm",
                "AES256",
            ),
            ("s3:x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ("s3:x-amz-metadata-directive", "REPLACE"),
            ("s3:x-amz-storage-class", "STANDARD_IA"),
            ("s3:x-amz-website-redirect-location", "/other"),
            ("s3:object-lock-mode", "GOVERNANCE"),
            ("s3:object-lock-retain-until-date", "2030-01-01T00:00:00Z"),
            ("s3:object-lock-legal-hold", "ON"),
        ];
        for (k, v) in expect {
            assert_eq!(one(&keys, k).as_deref(), Some(v), "{k}");
        }
        assert_eq!(keys.len(), expect.len());
    }

    #[test]
    fn repeated_header_takes_the_first_value() {
        let h = headers(&[("x-amz-acl", "private"), ("x-amz-acl", "public-read")]);
        let keys = condition_keys("PutObject", &h, None, None, NOW);
        assert_eq!(one(&keys, "s3:x-amz-acl").as_deref(), Some("private"));
    }

    #[test]
    fn copy_source() {
        for v in ["/src/dir/a%20b.txt", "src/dir/a%20b.txt"] {
            let keys = condition_keys(
                "CopyObject",
                &headers(&[("x-amz-copy-source", v)]),
                None,
                None,
                NOW,
            );
            assert_eq!(
                one(&keys, "s3:x-amz-copy-source").as_deref(),
                Some("src/dir/a b.txt")
            );
        }
    }

    #[test]
    fn request_tags() {
        let h = headers(&[("x-amz-tagging", "Project=Blue&Cost%20Center=a%2Bb&empty=")]);
        let keys = condition_keys("PutObject", &h, None, None, NOW);
        assert_eq!(
            one(&keys, "s3:RequestObjectTag/Project").as_deref(),
            Some("Blue")
        );
        assert_eq!(
            one(&keys, "s3:RequestObjectTag/Cost Center").as_deref(),
            Some("a+b")
        );
        assert_eq!(one(&keys, "s3:RequestObjectTag/empty").as_deref(), Some(""));
        assert_eq!(
            get(&keys, "s3:RequestObjectTagKeys"),
            Some(
                &[
                    "Project".to_owned(),
                    "Cost Center".to_owned(),
                    "empty".to_owned()
                ][..]
            )
        );
    }

    #[test]
    fn sigv4_header_auth() {
        let h = headers(&[
            ("authorization", "AWS4-HMAC-SHA256 Credential=AK/20251201/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00"),
            ("x-amz-date", "20251130T235950Z"),
        ]);
        let keys = condition_keys("GetObject", &h, None, None, NOW);
        assert_eq!(one(&keys, "s3:authType").as_deref(), Some("REST-HEADER"));
        assert_eq!(
            one(&keys, "s3:signatureversion").as_deref(),
            Some("AWS4-HMAC-SHA256")
        );
        assert_eq!(one(&keys, "s3:signatureAge").as_deref(), Some("10000"));
    }

    #[test]
    fn sigv4_presigned() {
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20251130T235900Z&X-Amz-Signature=00";
        let keys = condition_keys("GetObject", &HeaderMap::new(), Some(q), None, NOW);
        assert_eq!(
            one(&keys, "s3:authType").as_deref(),
            Some("REST-QUERY-STRING")
        );
        assert_eq!(
            one(&keys, "s3:signatureversion").as_deref(),
            Some("AWS4-HMAC-SHA256")
        );
        assert_eq!(one(&keys, "s3:signatureAge").as_deref(), Some("60000"));
    }

    #[test]
    fn sigv2_header_and_query() {
        let h = headers(&[("authorization", "AWS AK:c2ln")]);
        let keys = condition_keys("GetObject", &h, None, None, NOW);
        assert_eq!(one(&keys, "s3:authType").as_deref(), Some("REST-HEADER"));
        assert_eq!(one(&keys, "s3:signatureversion").as_deref(), Some("AWS"));
        assert_eq!(one(&keys, "s3:signatureAge").as_deref(), Some("0"));

        let q = "AWSAccessKeyId=AK&Expires=1&Signature=c2ln";
        let keys = condition_keys("GetObject", &HeaderMap::new(), Some(q), None, NOW);
        assert_eq!(
            one(&keys, "s3:authType").as_deref(),
            Some("REST-QUERY-STRING")
        );
        assert_eq!(one(&keys, "s3:signatureversion").as_deref(), Some("AWS"));
    }

    #[test]
    fn post_object_and_unsigned() {
        let keys = condition_keys("PostObject", &HeaderMap::new(), None, None, NOW);
        assert_eq!(one(&keys, "s3:authType").as_deref(), Some("POST"));
        assert_eq!(get(&keys, "s3:signatureversion"), None);
        let keys = condition_keys(
            "GetObject",
            &HeaderMap::new(),
            Some("versionId=1"),
            None,
            NOW,
        );
        assert_eq!(get(&keys, "s3:authType"), None);
    }

    #[test]
    fn form_upload_keys() {
        let form = FormUpload {
            access_key: Some("AK".into()),
            signature_version: Some("AWS4-HMAC-SHA256"),
            amz_date: Some("20251130T235959Z".into()),
        };
        let now = 1_764_547_200_000; // 2025-12-01T00:00:00Z
        let keys = form_condition_keys(&headers(&[("x-amz-acl", "public-read")]), &form, now);
        assert_eq!(one(&keys, "s3:authType").as_deref(), Some("POST"));
        assert_eq!(
            one(&keys, "s3:signatureversion").as_deref(),
            Some("AWS4-HMAC-SHA256")
        );
        assert_eq!(one(&keys, "s3:signatureAge").as_deref(), Some("1000"));
        assert_eq!(one(&keys, "s3:x-amz-acl").as_deref(), Some("public-read"));
        let anonymous = FormUpload {
            access_key: None,
            signature_version: None,
            amz_date: None,
        };
        let keys = form_condition_keys(&HeaderMap::new(), &anonymous, now);
        assert_eq!(one(&keys, "s3:authType").as_deref(), Some("POST"));
        assert_eq!(get(&keys, "s3:signatureversion"), None);
    }

    #[test]
    fn signature_removed_by_the_precheck() {
        let pre = PreVerified {
            access_key: "AK".into(),
            presigned: true,
            amz_date: Some("20251130T235959Z".into()),
        };
        let keys = condition_keys("GetObject", &HeaderMap::new(), None, Some(&pre), NOW);
        assert_eq!(
            one(&keys, "s3:authType").as_deref(),
            Some("REST-QUERY-STRING")
        );
        assert_eq!(
            one(&keys, "s3:signatureversion").as_deref(),
            Some("AWS4-HMAC-SHA256")
        );
        assert_eq!(one(&keys, "s3:signatureAge").as_deref(), Some("1000"));
    }

    #[test]
    fn future_or_bad_dates_give_no_negative_age() {
        let h = headers(&[
            ("authorization", "AWS4-HMAC-SHA256 Credential=x"),
            ("x-amz-date", "20251201T000100Z"),
        ]);
        let keys = condition_keys("GetObject", &h, None, None, NOW);
        assert_eq!(one(&keys, "s3:signatureAge").as_deref(), Some("0"));
        let h = headers(&[
            ("authorization", "AWS4-HMAC-SHA256 Credential=x"),
            ("x-amz-date", "yesterday"),
        ]);
        let keys = condition_keys("GetObject", &h, None, None, NOW);
        assert_eq!(get(&keys, "s3:signatureAge"), None);
    }
}
