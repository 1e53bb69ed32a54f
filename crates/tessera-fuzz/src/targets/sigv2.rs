//! SigV2 (Tessera's own verification, run before s3s): detection, the string to sign
//! (headers, sub-resources, query decoding), dates, presigned parameters; and, as a
//! differential, that a request Tessera accepts is accepted by s3s's own SigV2 check (the
//! property the module's constant-time design relies on).
//!
//! Input: line 1 the method, line 2 `path?query`, then `name: value` header lines. The text
//! `SIGN` in the `Signature` query parameter or in an `Authorization: AWS key:SIGN` header is
//! replaced by the right signature (computed as s3s computes it), so that accepted requests
//! are reached. The clock is 2026-01-01T00:00:00Z.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use tessera_s3::sigv2::{self, SigV2Kind, SigV2Request, SigV2Verified};

use crate::input::{header_lines, Input};
use crate::service::call;
use crate::sign::{v2_signature, ACCESS_KEY, SECRET_KEY};

/// 2026-01-01T00:00:00Z.
pub const NOW: u64 = 1_767_225_600;

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let method = input.line_str();
    let target = input.line_str();
    let mut headers = header_lines(&mut input);
    let now = UNIX_EPOCH + Duration::from_secs(NOW);
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target.as_str(), None),
    };

    // Any strings at all: no panic, deterministic, the three entry points agree.
    check(&method, path, query, &headers, now);

    // With the right signature in place of SIGN.
    let is_placeholder = |v: &http::HeaderValue| v.as_bytes().ends_with(b":SIGN");
    let header_sign = headers.get_all("authorization").iter().any(is_placeholder);
    let query_sign = query.is_some_and(|q| q.contains("Signature=SIGN"));
    if !header_sign && !query_sign {
        return;
    }
    let presigned = query.is_some_and(|q| form_pairs(q).iter().any(|(k, _)| k == "Signature"));
    let signature = v2_signature(&string_to_sign(presigned, &method, path, query, &headers));
    let target = if query_sign {
        let encoded = utf8_percent_encode(&signature, NON_ALPHANUMERIC).to_string();
        target.replace("Signature=SIGN", &format!("Signature={encoded}"))
    } else {
        target.clone()
    };
    if header_sign {
        let values: Vec<http::HeaderValue> = headers
            .get_all("authorization")
            .iter()
            .map(|v| {
                if is_placeholder(v) {
                    let s = String::from_utf8_lossy(v.as_bytes())
                        .replace(":SIGN", &format!(":{signature}"));
                    http::HeaderValue::from_str(&s).unwrap_or_else(|_| v.clone())
                } else {
                    v.clone()
                }
            })
            .collect();
        headers.remove("authorization");
        for v in values {
            headers.append("authorization", v);
        }
    }
    let (Ok(method), Ok(uri)) = (
        http::Method::from_bytes(method.as_bytes()),
        target.parse::<http::Uri>(),
    ) else {
        return;
    };
    // What Tessera's server does (crates/tessera-s3/src/lib.rs `precheck`).
    let req = SigV2Request {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query(),
        headers: &headers,
        bucket_from_host: None,
    };
    check(method.as_str(), uri.path(), uri.query(), &headers, now);
    let Some((_, access_key)) = sigv2::detect(&req) else {
        return;
    };
    if access_key != ACCESS_KEY {
        return;
    }
    let Ok(verified) = sigv2::verify_allowing_bucket_slash(&req, SECRET_KEY, now) else {
        return;
    };
    let uri = if verified.append_slash_to_path {
        let pq = match uri.query() {
            Some(q) => format!("{}/?{q}", uri.path()),
            None => format!("{}/", uri.path()),
        };
        match pq.parse::<http::Uri>() {
            Ok(u) => u,
            Err(_) => return,
        }
    } else {
        uri
    };
    let mut http_req = http::Request::builder()
        .method(method)
        .uri(uri)
        .body(s3s::Body::empty())
        .expect("request");
    *http_req.headers_mut() = headers;
    let out = call(http_req);
    assert_ne!(
        out.code(),
        Some("SignatureDoesNotMatch"),
        "Tessera accepted a SigV2 signature s3s refuses: {}",
        out.body
    );
}

fn check(
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &http::HeaderMap,
    now: SystemTime,
) {
    let req = SigV2Request {
        method,
        path,
        query,
        headers,
        bucket_from_host: None,
    };
    let detected = sigv2::detect(&req);
    assert_eq!(detected, sigv2::detect(&req));
    let plain = sigv2::verify(&req, SECRET_KEY, now);
    assert_eq!(
        plain,
        sigv2::verify(&req, SECRET_KEY, now),
        "verify is not deterministic"
    );
    let slash = sigv2::verify_allowing_bucket_slash(&req, SECRET_KEY, now);
    match (&plain, &slash) {
        (Ok(kind), _) => assert_eq!(
            slash,
            Ok(SigV2Verified {
                kind: *kind,
                append_slash_to_path: false
            })
        ),
        (Err(_), Ok(v)) => assert!(v.append_slash_to_path),
        (Err(a), Err(b)) => assert_eq!(a, b),
    }
    if let Ok(v) = &slash {
        let kind = detected.as_ref().map(|d| d.0);
        assert_eq!(kind, Some(v.kind), "verified but not detected");
    }
    // An accepted request stays accepted by the other vhost view only by chance; a bucket from
    // the Host header must not make anything panic.
    let vhost = SigV2Request {
        bucket_from_host: Some("bucket"),
        ..req
    };
    let _ = sigv2::verify(&vhost, SECRET_KEY, now);
    let _ = SigV2Kind::Header;
}

/// `application/x-www-form-urlencoded` pairs, as s3s's `OrderedQs` reads them.
fn form_pairs(q: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let bytes: Vec<u8> = s
            .bytes()
            .map(|b| if b == b'+' { b' ' } else { b })
            .collect();
        String::from_utf8_lossy(&percent_encoding::percent_decode(&bytes).collect::<Vec<u8>>())
            .into_owned()
    };
    let mut pairs: Vec<(String, String)> = q
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
}

/// s3s 0.14.1's `sig_v2::create_string_to_sign` (written again here: it is private in s3s).
fn string_to_sign(
    presigned: bool,
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &http::HeaderMap,
) -> String {
    const INCLUDED_QUERY: &[&str] = &[
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
    let mut hs: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), std::str::from_utf8(v.as_bytes()).ok()?)))
        .collect();
    hs.sort_by(|a, b| a.0.cmp(b.0));
    let all = |name: &str| {
        hs.iter()
            .filter(|h| h.0 == name)
            .map(|h| h.1)
            .collect::<Vec<_>>()
    };
    let unique = |name: &str| match all(name)[..] {
        [v] => Some(v),
        _ => None,
    };
    let qs = query.map(form_pairs);
    let q_unique = |name: &str| {
        let qs = qs.as_ref()?;
        let mut it = qs.iter().filter(|p| p.0 == name);
        let first = it.next()?;
        it.next().is_none().then(|| first.1.clone())
    };
    let mut s = format!(
        "{method}\n{}\n{}\n",
        unique("content-md5").unwrap_or_default(),
        unique("content-type").unwrap_or_default()
    );
    if presigned {
        s.push_str(&q_unique("Expires").unwrap_or_default());
    } else if unique("x-amz-date").is_none() {
        s.push_str(unique("date").unwrap_or_default());
    }
    s.push('\n');
    let mut last = "";
    for &(name, _) in &hs {
        if !name.starts_with("x-amz-") || name == last {
            continue;
        }
        last = name;
        let values: Vec<&str> = all(name).iter().map(|v| v.trim()).collect();
        s.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    s.push_str(path);
    let mut sep = '?';
    for q in INCLUDED_QUERY {
        if let Some(v) = q_unique(q) {
            s.push(sep);
            sep = '&';
            s.push_str(q);
            if !v.is_empty() {
                s.push('=');
                s.push_str(&v);
            }
        }
    }
    s
}
