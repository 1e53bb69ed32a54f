//! The HTTP pipeline around s3s: prechecks, document bodies, the response fix-ups, the
//! request log.

use std::time::Instant;

use futures::future::BoxFuture;
use s3s::S3Error;

use crate::{chunked, cors, limits, responses, xmlbody, ClientAddr, HttpResponse, HttpService};

pub(crate) fn request_id() -> String {
    hex::encode_upper(rand::random::<[u8; 8]>())
}

impl hyper::service::Service<http::Request<hyper::body::Incoming>> for HttpService {
    type Response = HttpResponse;
    type Error = s3s::HttpError;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn call(&self, req: http::Request<hyper::body::Incoming>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.handle(req.map(s3s::Body::from)).await })
    }
}

impl HttpService {
    /// Serves one request whose body is already an [`s3s::Body`]: what hyper's connections call,
    /// and the entry of front doors in the same process (the console signs and forwards here).
    pub fn handle(
        &self,
        mut req: http::Request<s3s::Body>,
    ) -> BoxFuture<'static, Result<HttpResponse, s3s::HttpError>> {
        let started = Instant::now();
        if let Some(peer) = self.client {
            // Before s3s: its access check sees the request's extensions.
            req.extensions_mut().insert(ClientAddr(peer));
        }
        if cors::is_preflight(&req) {
            // Answered from the bucket's CORS rules; preflights carry no credentials.
            return self.serve_preflight(req, started);
        }
        if let Some(service) = tessera_iam::service_of(&req) {
            // IAM and STS share the endpoint: a POST to `/` signed for service iam or sts.
            let this = self.clone();
            return Box::pin(async move {
                let resp = this.serve_iam(req, service).await;
                tracing::info!(
                    service = ?service,
                    status = resp.status().as_u16(),
                    latency_ms = started.elapsed().as_secs_f64() * 1000.0,
                    "iam request"
                );
                Ok(resp)
            });
        }
        if let Some(target) = self.form_upload_target(&req) {
            // Browser form uploads (PostObject): read and checked here, then written as a PutObject.
            return self.serve_post_object(req, target);
        }
        let id = request_id();
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let bytes_in = req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let is_attributes = method == http::Method::GET
            && req.uri().query().is_some_and(|q| {
                q.split('&')
                    .any(|p| p == "attributes" || p.starts_with("attributes="))
            });
        let has_body = bytes_in > 0 || req.headers().contains_key(http::header::TRANSFER_ENCODING);
        let cors_probe = self.cors_probe(&req);
        let this = self.clone();
        Box::pin(async move {
            let mut req = req;
            // Async: the secret of a key Tessera verifies itself comes from the store.
            let precheck = this.precheck(&mut req).await;
            let body_kind = xmlbody::body_kind(&method, this.names_object(&req), req.uri().query());
            let (req, body_timed_out) = limits::time_body(req, this.config.body_timeout);
            let req = check_chunked_framing(req);
            let inner = this.inner.clone();
            let ready = match precheck {
                Ok(()) => read_document_body(req, body_kind, bytes_in).await,
                Err(e) => Err(e),
            };
            let mut resp = match ready {
                Ok(req) => inner.call(req).await?,
                Err(e) => match e.to_http_response() {
                    Ok(r) => r,
                    Err(e) => return Err(s3s::HttpError::new(Box::new(e))),
                },
            };
            if body_timed_out.fired() {
                // Whatever error the operation made of its failed body, S3 answers this.
                resp = limits::request_timeout_error()
                    .to_http_response()
                    .map_err(|e| s3s::HttpError::new(Box::new(e)))?;
            }
            if let Ok(v) = http::HeaderValue::from_str(&id) {
                resp.headers_mut().insert("x-amz-request-id", v);
            }
            if method == http::Method::HEAD {
                responses::head_partial_content(&mut resp);
            }
            if is_attributes && resp.status() == http::StatusCode::OK {
                responses::unquote_attributes_etag(&mut resp);
            }
            responses::interleave_versions(&mut resp);
            if resp.status().is_client_error() || resp.status().is_server_error() {
                responses::complete_error_body(&mut resp, &id);
                if has_body {
                    // The body may be left unread: the connection cannot be reused, so say so
                    // instead of letting the client write its next request into a closed socket.
                    resp.headers_mut().insert(
                        http::header::CONNECTION,
                        http::HeaderValue::from_static("close"),
                    );
                }
            }
            responses::empty_not_modified(&mut resp);
            if let Some(probe) = cors_probe {
                probe.apply(&this.app, &mut resp).await;
            }
            let bytes_out = resp
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            let (bucket, key) = split_path(&path);
            tracing::info!(
                request_id = %id,
                method = %method,
                bucket,
                key,
                status = resp.status().as_u16(),
                bytes_in,
                bytes_out,
                latency_ms = started.elapsed().as_secs_f64() * 1000.0,
                "request"
            );
            Ok(resp)
        })
    }
}

/// Follows the framing of an aws-chunked body, so that one cut before its final chunk fails.
fn check_chunked_framing(req: http::Request<s3s::Body>) -> http::Request<s3s::Body> {
    let aws_chunked = req
        .headers()
        .get("x-amz-content-sha256")
        .is_some_and(|v| v.as_bytes().starts_with(b"STREAMING-"));
    if !aws_chunked {
        return req;
    }
    req.map(|body| s3s::Body::http_body(chunked::FramingCheck::new(body)))
}

/// Reads a document body (XML) whole and checks it before s3s parses it; object data is
/// left streaming. `content_length` is the announced length (0 if none).
async fn read_document_body(
    req: http::Request<s3s::Body>,
    kind: xmlbody::BodyKind,
    content_length: u64,
) -> Result<http::Request<s3s::Body>, S3Error> {
    let xmlbody::BodyKind::Document { limit, .. } = kind else {
        return Ok(req);
    };
    if content_length > limit {
        return Err(xmlbody::too_large());
    }
    let streaming = req
        .headers()
        .get("x-amz-content-sha256")
        .is_some_and(|v| v.as_bytes().starts_with(b"STREAMING-"));
    let (parts, mut body) = req.into_parts();
    let bytes = xmlbody::read_document(&mut body, limit).await?;
    if !streaming {
        // An aws-chunked body is still framed here; s3s decodes and verifies it.
        xmlbody::check_document(kind, &parts.headers, &bytes)?;
    }
    Ok(http::Request::from_parts(parts, s3s::Body::from(bytes)))
}

/// Bucket and key of a path-style request path, for logs.
fn split_path(path: &str) -> (&str, &str) {
    let p = path.trim_start_matches('/');
    p.split_once('/').unwrap_or((p, ""))
}
