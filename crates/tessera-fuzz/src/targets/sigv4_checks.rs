//! The checks Tessera runs before s3s sees a request (crates/tessera-s3/src/lib.rs `precheck`
//! and crates/tessera-s3/src/sigv4.rs): one auth mechanism, SignedHeaders covering every
//! `x-amz-*` header, `X-Amz-Expires` bounds, the `x-amz-content-sha256` form, virtual-host
//! bucket names; then the same request through s3s (SigV4 Authorization / presigned query /
//! x-amz-date parsing and canonicalisation).
//!
//! Input: line 1 the method, line 2 `path?query`, line 3 a `--domain`, then header lines.

use tessera_s3::fuzzing::{
    check_presigned_expires, query_param, valid_content_sha256, virtual_host_bucket,
};
use tessera_s3::sigv4::{self, AuthKind, SigV4CheckError};

use crate::input::{header_lines, Input};
use crate::service::call;

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let method = input.line_str();
    let target = input.line_str();
    let domain = input.line_str();
    let headers = header_lines(&mut input);
    let query = target.split_once('?').map(|(_, q)| q);

    let kind = sigv4::check_request(query, &headers);
    assert_eq!(kind, sigv4::check_request(query, &headers));
    if headers.get_all(http::header::AUTHORIZATION).iter().count() > 1 {
        assert_eq!(kind, Err(SigV4CheckError::MoreThanOneAuth));
    }
    match &kind {
        Ok(AuthKind::V4Header(signed) | AuthKind::V4Presigned(signed)) => {
            assert!(!signed.is_empty());
            for name in headers.keys() {
                if name.as_str().starts_with("x-amz-") {
                    assert!(
                        signed.iter().any(|s| s == name.as_str()),
                        "{name} not signed"
                    );
                }
            }
        }
        Err(SigV4CheckError::UnsignedHeaders(names)) => {
            assert!(!names.is_empty());
            assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
        }
        _ => {}
    }
    for v in headers.get_all(http::header::AUTHORIZATION) {
        if let Ok(v) = v.to_str() {
            if let Some(names) = sigv4::authorization_signed_headers(v) {
                assert!(names
                    .iter()
                    .all(|n| !n.is_empty() && *n == n.to_ascii_lowercase()));
            }
        }
    }

    if let Some(q) = query {
        if let Some(expires) = query_param(q, "X-Amz-Expires") {
            let ok = check_presigned_expires(expires);
            if ok {
                let n: i64 = expires.parse().expect("accepted Expires is a number");
                assert!((1..=604_800).contains(&n), "{expires}");
            }
            assert!(q.split('&').any(|p| p == format!("X-Amz-Expires={expires}")
                || (expires.is_empty() && p == "X-Amz-Expires")));
        }
    }
    for v in headers.get_all("x-amz-content-sha256") {
        let b = v.as_bytes();
        let ok = valid_content_sha256(b);
        if ok && !b.starts_with(b"STREAMING-") && b != b"UNSIGNED-PAYLOAD" {
            assert!(b.len() == 64 && b.iter().all(u8::is_ascii_hexdigit));
        }
    }
    for host in headers.get_all(http::header::HOST) {
        if let Ok(host) = host.to_str() {
            if let Some(Some(bucket)) = virtual_host_bucket(&domain, host) {
                assert!(!bucket.is_empty());
                assert!(host
                    .to_ascii_lowercase()
                    .contains(&bucket.to_ascii_lowercase()));
            }
        }
    }

    // s3s's own parsing of the same request (what runs after the prechecks pass).
    if kind.is_err() {
        return;
    }
    let (Ok(method), Ok(uri)) = (
        http::Method::from_bytes(method.as_bytes()),
        target.parse::<http::Uri>(),
    ) else {
        return;
    };
    let mut req = http::Request::builder()
        .method(method)
        .uri(uri)
        .body(s3s::Body::empty())
        .expect("request");
    *req.headers_mut() = headers;
    let _ = call(req);
}
