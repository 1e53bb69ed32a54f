//! CORS on the wire: the preflight `OPTIONS` answer, made before s3s (preflights carry no
//! credentials), and the CORS headers of actual requests, added to their responses (errors
//! included). The rules and their matching are [`tessera_core::cors`]; the bucket's
//! configuration is read only for requests that carry an `Origin`.

use std::time::Instant;

use futures::future::BoxFuture;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use tessera_core::cors::{requested_headers, CorsConfiguration, CorsMatch, METHODS};
use tessera_core::{Error, Tessera};

use crate::pipeline::request_id;
use crate::{HttpResponse, HttpService};

/// What S3 varies a CORS answer on (on preflights and actual requests alike).
const VARY: &str = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method";

const NOT_ALLOWED: &str = "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.";

/// Where a request is addressed: its bucket (path or virtual-host style) and whether it
/// names a key.
struct Target {
    bucket: Option<String>,
    has_key: bool,
}

impl HttpService {
    /// Serves a preflight `OPTIONS` whole: [`HttpService::preflight`], the request id, the log.
    pub(crate) fn serve_preflight(
        &self,
        req: http::Request<s3s::Body>,
        started: Instant,
    ) -> BoxFuture<'static, Result<HttpResponse, s3s::HttpError>> {
        let this = self.clone();
        Box::pin(async move {
            let id = request_id();
            let mut resp = this.preflight(&req, &id).await;
            if let Ok(v) = HeaderValue::from_str(&id) {
                resp.headers_mut().insert("x-amz-request-id", v);
            }
            tracing::info!(
                request_id = %id,
                method = "OPTIONS",
                path = req.uri().path(),
                status = resp.status().as_u16(),
                latency_ms = started.elapsed().as_secs_f64() * 1000.0,
                "preflight"
            );
            Ok(resp)
        })
    }

    fn target<B>(&self, req: &http::Request<B>) -> Target {
        let path = req.uri().path().trim_start_matches('/');
        let host_bucket = self.host_bucket(req);
        match host_bucket {
            Some(bucket) => Target {
                bucket: Some(bucket),
                has_key: !path.is_empty(),
            },
            None => {
                let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
                Target {
                    bucket: (!bucket.is_empty()).then(|| bucket.to_owned()),
                    has_key: !key.is_empty(),
                }
            }
        }
    }

    /// Answers a preflight `OPTIONS` from the bucket's rules, as S3 does: 400 without an
    /// `Origin` (or without a valid `Access-Control-Request-Method` on a bucket with rules),
    /// 403 when the bucket does not exist, has no rules, or none matches, else 200 with the
    /// `Access-Control-*` headers of the first matching rule.
    pub(crate) async fn preflight<B>(
        &self,
        req: &http::Request<B>,
        request_id: &str,
    ) -> HttpResponse {
        let headers = req.headers();
        let Some(origin) = header(headers, "origin") else {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Insufficient information. Origin request header needed.",
                None,
                request_id,
            );
        };
        let method = header(headers, "access-control-request-method");
        let shown_method = method.unwrap_or("OPTIONS");
        let forbidden = |message: &str, resource: &str| {
            error(
                StatusCode::FORBIDDEN,
                "AccessForbidden",
                message,
                Some((shown_method, resource)),
                request_id,
            )
        };
        let target = self.target(req);
        let Some(name) = target.bucket else {
            return forbidden("CORSResponse: Bucket not found", "BUCKET");
        };
        let bucket = match self.app.bucket(&name).await {
            Ok(b) => b,
            Err(Error::NoSuchBucket) => {
                return forbidden("CORSResponse: Bucket not found", "BUCKET")
            }
            Err(e) => return internal(e, request_id),
        };
        let Some(config) = CorsConfiguration::of(&bucket) else {
            return forbidden(
                "CORSResponse: CORS is not enabled for this bucket.",
                "BUCKET",
            );
        };
        let Some(method) = method.filter(|m| METHODS.contains(m)) else {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!(
                    "Invalid Access-Control-Request-Method: {}",
                    method.unwrap_or("null")
                ),
                None,
                request_id,
            );
        };
        let requested = header(headers, "access-control-request-headers")
            .map(requested_headers)
            .unwrap_or_default();
        let resource = if target.has_key { "OBJECT" } else { "BUCKET" };
        let Some(found) = config.preflight(origin, method, &requested) else {
            return forbidden(NOT_ALLOWED, resource);
        };
        let mut resp = http::Response::new(s3s::Body::empty());
        let out = resp.headers_mut();
        allow_headers(out, origin, found);
        if !requested.is_empty() {
            set(out, "access-control-allow-headers", &requested.join(", "));
        }
        set(out, http::header::CONTENT_LENGTH.as_str(), "0");
        resp
    }

    /// What the response step needs of a request that carries an `Origin` and names a bucket:
    /// `None` for every other request (no store read for them).
    pub(crate) fn cors_probe<B>(&self, req: &http::Request<B>) -> Option<CorsProbe> {
        let headers = req.headers();
        let origin = headers.get("origin")?.clone();
        let bucket = self.target(req).bucket?;
        // S3 matches an actual request by its Access-Control-Request-Method when it has one.
        let method = match header(headers, "access-control-request-method") {
            Some(m) => m.to_owned(),
            None => req.method().as_str().to_owned(),
        };
        Some(CorsProbe {
            origin,
            method,
            bucket,
        })
    }
}

/// A request with an `Origin` header, kept for its response ([`CorsProbe::apply`]).
pub(crate) struct CorsProbe {
    origin: HeaderValue,
    method: String,
    bucket: String,
}

impl CorsProbe {
    /// Adds the CORS headers of the bucket's first rule matching the request's origin and
    /// method, whatever the response's status; nothing when no rule matches, the bucket has
    /// no rules, or it cannot be read.
    pub(crate) async fn apply(self, app: &Tessera, resp: &mut HttpResponse) {
        let Ok(origin) = self.origin.to_str() else {
            return;
        };
        let bucket = match app.bucket(&self.bucket).await {
            Ok(b) => b,
            Err(Error::NoSuchBucket) => return,
            Err(e) => {
                tracing::warn!(bucket = %self.bucket, error = %e, "cannot read the bucket's CORS rules");
                return;
            }
        };
        let Some(config) = CorsConfiguration::of(&bucket) else {
            return;
        };
        if let Some(found) = config.actual(origin, &self.method) {
            allow_headers(resp.headers_mut(), origin, found);
        }
    }
}

/// The headers a matching rule gives both a preflight and an actual request.
fn allow_headers(out: &mut HeaderMap, origin: &str, found: CorsMatch<'_>) {
    let rule = found.rule;
    if found.any_origin {
        set(out, "access-control-allow-origin", "*");
    } else {
        set(out, "access-control-allow-origin", origin);
        set(out, "access-control-allow-credentials", "true");
    }
    set(
        out,
        "access-control-allow-methods",
        &rule.allowed_methods.join(", "),
    );
    if !rule.expose_headers.is_empty() {
        set(
            out,
            "access-control-expose-headers",
            &rule.expose_headers.join(", "),
        );
    }
    if let Some(age) = rule.max_age_seconds {
        set(out, "access-control-max-age", &age.to_string());
    }
    set(out, "vary", VARY);
}

/// Sets a header; a value that cannot be one (a control character in a stored rule) is
/// left out rather than failing the response.
fn set(out: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        out.insert(name, v);
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether a request is a preflight (answered by [`HttpService::preflight`], never by s3s).
pub(crate) fn is_preflight<B>(req: &http::Request<B>) -> bool {
    req.method() == Method::OPTIONS
}

/// An S3 error document; `detail` adds S3's `Method` and `ResourceType` elements of a
/// refused preflight.
fn error(
    status: StatusCode,
    code: &str,
    message: &str,
    detail: Option<(&str, &str)>,
    request_id: &str,
) -> HttpResponse {
    let mut body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message>",
        escape(message)
    );
    if let Some((method, resource)) = detail {
        body.push_str(&format!(
            "<Method>{}</Method><ResourceType>{resource}</ResourceType>",
            escape(method)
        ));
    }
    body.push_str(&format!("<RequestId>{request_id}</RequestId></Error>"));
    let len = body.len();
    let mut resp = http::Response::new(s3s::Body::from(body));
    *resp.status_mut() = status;
    let out = resp.headers_mut();
    set(out, http::header::CONTENT_TYPE.as_str(), "application/xml");
    set(out, http::header::CONTENT_LENGTH.as_str(), &len.to_string());
    resp
}

fn internal(e: Error, request_id: &str) -> HttpResponse {
    tracing::error!(error = %e, "preflight: cannot read the bucket");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        "We encountered an internal error. Please try again.",
        None,
        request_id,
    )
}

/// Escapes text for an XML element.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::cors::CorsRule;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
    }

    #[test]
    fn error_document_has_s3_elements_in_order() {
        let resp = error(
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            NOT_ALLOWED,
            Some(("P<T", "OBJECT")),
            "RID",
        );
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        let body = resp.body().bytes().unwrap();
        let text = std::str::from_utf8(&body).unwrap();
        let code = text.find("<Code>AccessForbidden</Code>").unwrap();
        let message = text.find("<Message>CORSResponse: This CORS").unwrap();
        let method = text.find("<Method>P&lt;T</Method>").unwrap();
        let resource = text.find("<ResourceType>OBJECT</ResourceType>").unwrap();
        let id = text.find("<RequestId>RID</RequestId>").unwrap();
        assert!(code < message && message < method && method < resource && resource < id);
        assert_eq!(
            resp.headers()["content-length"].to_str().unwrap(),
            body.len().to_string()
        );
    }

    #[test]
    fn allow_headers_echo_the_origin_with_credentials_or_say_any() {
        let rule = CorsRule {
            allowed_origins: vec!["http://*.example.com".into(), "*".into()],
            allowed_methods: vec!["GET".into(), "PUT".into()],
            expose_headers: vec!["ETag".into(), "x-amz-request-id".into()],
            max_age_seconds: Some(600),
            ..CorsRule::default()
        };
        let mut out = HeaderMap::new();
        allow_headers(
            &mut out,
            "http://a.example.com",
            CorsMatch {
                rule: &rule,
                any_origin: false,
            },
        );
        assert_eq!(out["access-control-allow-origin"], "http://a.example.com");
        assert_eq!(out["access-control-allow-credentials"], "true");
        assert_eq!(out["access-control-allow-methods"], "GET, PUT");
        assert_eq!(
            out["access-control-expose-headers"],
            "ETag, x-amz-request-id"
        );
        assert_eq!(out["access-control-max-age"], "600");
        assert_eq!(out["vary"], VARY);

        let mut out = HeaderMap::new();
        let plain = CorsRule {
            allowed_origins: vec!["*".into()],
            allowed_methods: vec!["GET".into()],
            ..CorsRule::default()
        };
        allow_headers(
            &mut out,
            "http://x",
            CorsMatch {
                rule: &plain,
                any_origin: true,
            },
        );
        assert_eq!(out["access-control-allow-origin"], "*");
        assert!(out.get("access-control-allow-credentials").is_none());
        assert!(out.get("access-control-expose-headers").is_none());
        assert!(out.get("access-control-max-age").is_none());
    }
}
