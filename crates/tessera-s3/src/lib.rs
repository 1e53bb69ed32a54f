//! The S3 protocol adapter: the only crate that knows `s3s`. It turns S3 requests into
//! [`tessera_core::Tessera`] calls and domain errors into S3 error codes.

mod chunked;
mod convert;
mod dates;
mod errors;
pub mod limits;
mod responses;
mod service;
pub mod sigv2;
pub mod sigv4;
mod unsupported;
mod xmlbody;

use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Error, S3ErrorCode, S3Result};
use tessera_core::Tessera;

pub use errors::to_s3;

/// Settings of the S3 endpoint.
#[derive(Clone, Debug)]
pub struct EndpointConfig {
    /// Region reported by GetBucketLocation and expected in signatures.
    pub region: String,
    /// Base domain for virtual-host style addressing (`bucket.<domain>`); path style always works.
    pub domain: Option<String>,
    /// Accept AWS Signature Version 2 (header and presigned query).
    pub allow_sigv2: bool,
    /// Root credentials.
    pub access_key: String,
    pub secret_key: String,
    /// A request body that sends no byte for this long fails with 400 RequestTimeout.
    pub body_timeout: std::time::Duration,
}

/// The HTTP service to hand to hyper: one clone per connection.
#[derive(Clone)]
pub struct HttpService {
    inner: s3s::service::S3Service,
    config: Arc<EndpointConfig>,
}

/// Response type of [`HttpService`].
pub type HttpResponse = http::Response<s3s::Body>;

/// Error building the service.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("invalid domain for virtual-host style addressing: {0}")]
    Domain(String),
}

/// Marks a request whose SigV4 signature Tessera verified itself before handing it to s3s
/// without it (see `drop_unparseable_range`). Only the server sets request extensions.
#[derive(Clone, Debug)]
struct PreVerified {
    #[allow(dead_code)] // the identity, for authorization once there are several users
    access_key: String,
}

/// The access check after s3s's authentication: a signed request, or one verified here.
struct SignedOnly;

#[async_trait::async_trait]
impl s3s::access::S3Access for SignedOnly {
    async fn check(&self, cx: &mut s3s::access::S3AccessContext<'_>) -> S3Result<()> {
        if cx.credentials().is_some() || cx.extensions_mut().get::<PreVerified>().is_some() {
            Ok(())
        } else {
            Err(S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "Signature is required",
            ))
        }
    }
}

/// Removes a request's SigV4 signature: the Authorization header, or a presigned URL's
/// `X-Amz-*` authentication parameters.
fn strip_sigv4(req: &mut http::Request<hyper::body::Incoming>) {
    req.headers_mut().remove(http::header::AUTHORIZATION);
    let Some(query) = req.uri().query() else {
        return;
    };
    const AUTH_PARAMS: [&str; 8] = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
        "X-Amz-Content-Sha256",
    ];
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !AUTH_PARAMS.contains(&p.split_once('=').map_or(*p, |(k, _)| k)))
        .collect();
    let path_and_query = if kept.is_empty() {
        req.uri().path().to_owned()
    } else {
        format!("{}?{}", req.uri().path(), kept.join("&"))
    };
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = path_and_query.parse().ok();
    if let Ok(uri) = http::Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
}

fn verify_error(e: sigv4::VerifyError) -> S3Error {
    match e {
        sigv4::VerifyError::SignatureDoesNotMatch => S3Error::with_message(
            S3ErrorCode::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        ),
        sigv4::VerifyError::UnknownAccessKey => S3Error::with_message(
            S3ErrorCode::InvalidAccessKeyId,
            "The AWS Access Key Id you provided does not exist in our records.",
        ),
        sigv4::VerifyError::Expired => {
            S3Error::with_message(S3ErrorCode::AccessDenied, "Request has expired")
        }
        sigv4::VerifyError::TimeSkewed => S3Error::with_message(
            S3ErrorCode::RequestTimeTooSkewed,
            "The difference between the request time and the current time is too large.",
        ),
    }
}

/// Root credentials checked by s3s's SigV4 verification.
struct RootAuth {
    access_key: String,
    secret_key: SecretKey,
}

#[async_trait::async_trait]
impl S3Auth for RootAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        if access_key == self.access_key {
            Ok(self.secret_key.clone())
        } else {
            Err(S3Error::with_message(
                S3ErrorCode::InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records.",
            ))
        }
    }
}

/// Builds the S3 HTTP service over a [`Tessera`] instance.
pub fn build_service(app: Arc<Tessera>, config: EndpointConfig) -> Result<HttpService, BuildError> {
    let s3 = service::TesseraS3 { app };
    let mut builder = s3s::service::S3ServiceBuilder::new(s3);
    builder.set_auth(RootAuth {
        access_key: config.access_key.clone(),
        secret_key: SecretKey::from(config.secret_key.clone()),
    });
    builder.set_access(SignedOnly);
    if let Some(domain) = &config.domain {
        builder.set_host(VirtualHostStyle::new(domain)?);
    }
    Ok(HttpService {
        inner: builder.build(),
        config: Arc::new(config),
    })
}

/// Largest request header section accepted (S3 documents 8 KB; some headroom for clients).
const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Virtual-host style addressing under one base domain: `bucket.<domain>[:port]` names the
/// bucket; any other host (the domain itself, `localhost`, an IP) is path style.
struct VirtualHostStyle {
    /// `.<domain>`, lower-case.
    suffix: String,
}

impl VirtualHostStyle {
    fn new(domain: &str) -> Result<Self, BuildError> {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        let valid = !domain.is_empty()
            && domain.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !valid {
            return Err(BuildError::Domain(domain));
        }
        Ok(Self {
            suffix: format!(".{domain}"),
        })
    }
}

impl s3s::host::S3Host for VirtualHostStyle {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<s3s::host::VirtualHost<'a>> {
        let name = match host.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host,
        };
        let lower = name.to_ascii_lowercase();
        let vh = s3s::host::VirtualHost::new(name);
        match lower.strip_suffix(self.suffix.as_str()) {
            Some(bucket) if !bucket.is_empty() => Ok(vh.with_bucket(bucket.to_string())),
            _ => Ok(vh),
        }
    }
}

/// Longest validity of a presigned URL, as S3: 7 days.
const MAX_PRESIGNED_EXPIRES: u64 = 604_800;

impl HttpService {
    /// Whether the request's path names an object key (not just a bucket, nor the root).
    fn names_object<B>(&self, req: &http::Request<B>) -> bool {
        let path = req.uri().path().trim_start_matches('/');
        let virtual_host = self.config.domain.as_deref().is_some_and(|domain| {
            let host = req
                .headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .or_else(|| req.uri().host())
                .unwrap_or_default();
            VirtualHostStyle::new(domain)
                .ok()
                .and_then(|vh| {
                    use s3s::host::S3Host as _;
                    vh.parse_host_header(host)
                        .ok()
                        .map(|v| v.bucket().is_some())
                })
                .unwrap_or(false)
        });
        if virtual_host {
            !path.is_empty()
        } else {
            path.split_once('/').is_some_and(|(_, key)| !key.is_empty())
        }
    }

    /// S3 ignores a Range header it cannot parse (`bytes=5-2`, `lines=0-5`) and serves the whole
    /// object; s3s refuses it. Under SigV2 or without a signature the header is simply dropped
    /// (SigV2 does not sign it). A SigV4 signature covers it, so the request is verified here,
    /// then handed to s3s without the header and without its signature, marked [`PreVerified`].
    fn drop_unparseable_range(
        &self,
        req: &mut http::Request<hyper::body::Incoming>,
        auth: &sigv4::AuthKind,
    ) -> Result<(), S3Error> {
        let Some(range) = req.headers().get(http::header::RANGE) else {
            return Ok(());
        };
        if s3s::dto::Range::parse(range.to_str().unwrap_or_default()).is_ok() {
            return Ok(());
        }
        let bodyless = matches!(*req.method(), http::Method::GET | http::Method::HEAD);
        match auth {
            sigv4::AuthKind::Anonymous | sigv4::AuthKind::SigV2 => {}
            sigv4::AuthKind::V4Header(_) | sigv4::AuthKind::V4Presigned(_) if !bodyless => {
                // Ignored by every operation but GET and HEAD: leave the signed header alone.
                return Ok(());
            }
            sigv4::AuthKind::V4Header(_) | sigv4::AuthKind::V4Presigned(_) => {
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                let parts = sigv4::SignedParts {
                    method: req.method().as_str(),
                    raw_path: req.uri().path(),
                    query: req.uri().query(),
                    headers: req.headers(),
                    authority: req.uri().authority().map(http::uri::Authority::as_str),
                };
                let secret_for = |ak: &str| {
                    (ak == self.config.access_key).then(|| self.config.secret_key.clone())
                };
                let access_key =
                    sigv4::verify_bodyless(&parts, secret_for, now).map_err(verify_error)?;
                strip_sigv4(req);
                req.extensions_mut().insert(PreVerified { access_key });
            }
        }
        req.headers_mut().remove(http::header::RANGE);
        Ok(())
    }

    /// Checks s3s leaves to us, run before s3s sees the request: presigned URL expiry bounds,
    /// the form of `x-amz-content-sha256`, Range headers S3 would ignore, and SigV2 (verified
    /// here in constant time; refused when switched off).
    fn precheck(&self, req: &mut http::Request<hyper::body::Incoming>) -> Result<(), S3Error> {
        // Browser form uploads (PostObject) are not implemented, and s3s would compare their
        // SigV2 signature in non-constant time: refuse them before s3s looks at the form.
        let is_form = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("multipart/form-data")
            });
        if req.method() == http::Method::POST && is_form {
            return Err(S3Error::with_message(
                S3ErrorCode::NotImplemented,
                "Browser-based uploads with POST forms are not implemented",
            ));
        }
        let header_bytes: usize = req
            .headers()
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 4)
            .sum();
        if header_bytes > MAX_HEADER_BYTES {
            let mut e = S3Error::with_message(
                S3ErrorCode::Custom("RequestHeaderSectionTooLarge".into()),
                "Your request header section exceeds the maximum allowed size.",
            );
            e.set_status_code(http::StatusCode::BAD_REQUEST);
            return Err(e);
        }
        if let Some(q) = req.uri().query() {
            if let Some(expires) = query_param(q, "X-Amz-Expires") {
                check_presigned_expires(expires)?;
            }
        }
        if let Some(v) = req.headers().get("x-amz-content-sha256") {
            if !valid_content_sha256(v.as_bytes()) {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.",
                ));
            }
        }
        let auth = sigv4::check_request(req.uri().query(), req.headers()).map_err(sigv4_error)?;
        self.drop_unparseable_range(req, &auth)?;
        unsupported::refuse_unimplemented_protection(req.headers())?;
        let verified = {
            let v2 = sigv2::SigV2Request {
                method: req.method().as_str(),
                path: req.uri().path(),
                query: req.uri().query(),
                headers: req.headers(),
                bucket_from_host: None,
            };
            let Some((_, access_key)) = sigv2::detect(&v2) else {
                return Ok(());
            };
            if !self.config.allow_sigv2 {
                return Err(S3Error::with_message(
                    S3ErrorCode::AccessDenied,
                    "AWS Signature Version 2 is disabled on this server; use Signature Version 4",
                ));
            }
            if access_key != self.config.access_key {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidAccessKeyId,
                    "The AWS Access Key Id you provided does not exist in our records.",
                ));
            }
            sigv2::verify_allowing_bucket_slash(
                &v2,
                &self.config.secret_key,
                std::time::SystemTime::now(),
            )
            .map_err(sigv2_error)?
        };
        if verified.append_slash_to_path {
            // Clients sign path-style bucket requests as `/bucket/` but send `/bucket`.
            let mut parts = req.uri().clone().into_parts();
            let path_and_query = match req.uri().query() {
                Some(q) => format!("{}/?{q}", req.uri().path()),
                None => format!("{}/", req.uri().path()),
            };
            parts.path_and_query = path_and_query.parse().ok();
            if let Ok(uri) = http::Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
        Ok(())
    }
}

/// The bounds S3 puts on `X-Amz-Expires`: a whole number of seconds, at most a week; a URL that
/// lives 0 seconds has already expired.
fn check_presigned_expires(expires: &str) -> Result<(), S3Error> {
    let query_error =
        |m: &'static str| S3Error::with_message(S3ErrorCode::AuthorizationQueryParametersError, m);
    match expires.parse::<i64>() {
        Err(_) => Err(query_error("X-Amz-Expires should be a number")),
        Ok(n) if n < 0 => Err(query_error("X-Amz-Expires must be non-negative")),
        Ok(0) => Err(S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "Request has expired",
        )),
        Ok(n) if n.unsigned_abs() > MAX_PRESIGNED_EXPIRES => Err(query_error(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        )),
        Ok(_) => Ok(()),
    }
}

/// Whether an `x-amz-content-sha256` value is one S3 accepts.
fn valid_content_sha256(v: &[u8]) -> bool {
    const MODES: [&[u8]; 6] = [
        b"UNSIGNED-PAYLOAD",
        b"STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        b"STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        b"STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        b"STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
        b"STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
    ];
    MODES.contains(&v) || (v.len() == 64 && v.iter().all(u8::is_ascii_hexdigit))
}

fn sigv2_error(e: sigv2::SigV2Error) -> S3Error {
    match e {
        sigv2::SigV2Error::SignatureDoesNotMatch => S3Error::with_message(
            S3ErrorCode::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided.",
        ),
        sigv2::SigV2Error::AccessDenied(m) => S3Error::with_message(S3ErrorCode::AccessDenied, m),
        sigv2::SigV2Error::Malformed(m) => S3Error::with_message(S3ErrorCode::InvalidArgument, m),
        sigv2::SigV2Error::RequestTimeTooSkewed => S3Error::with_message(
            S3ErrorCode::RequestTimeTooSkewed,
            "The difference between the request time and the current time is too large.",
        ),
    }
}

fn sigv4_error(e: sigv4::SigV4CheckError) -> S3Error {
    let code = match &e {
        sigv4::SigV4CheckError::UnsignedHeaders(names) => {
            tracing::debug!(headers = ?names, "refused: x-amz-* headers not signed");
            S3ErrorCode::AccessDenied
        }
        sigv4::SigV4CheckError::MoreThanOneAuth => S3ErrorCode::InvalidArgument,
        sigv4::SigV4CheckError::MalformedAuthorization => S3ErrorCode::AuthorizationHeaderMalformed,
        sigv4::SigV4CheckError::MalformedQuery => S3ErrorCode::AuthorizationQueryParametersError,
    };
    S3Error::with_message(code, e.to_string())
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

fn request_id() -> String {
    hex::encode_upper(rand::random::<[u8; 8]>())
}

impl hyper::service::Service<http::Request<hyper::body::Incoming>> for HttpService {
    type Response = HttpResponse;
    type Error = s3s::HttpError;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn call(&self, req: http::Request<hyper::body::Incoming>) -> Self::Future {
        let started = Instant::now();
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
        let mut req = req;
        let precheck = self.precheck(&mut req);
        let body_kind = xmlbody::body_kind(&method, self.names_object(&req), req.uri().query());
        let (req, body_timed_out) = limits::time_body(req, self.config.body_timeout);
        let req = check_chunked_framing(req);
        let inner = self.inner.clone();
        Box::pin(async move {
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

/// Entry points for the fuzz targets (`crates/tessera-fuzz`, `fuzz/`): private helpers that parse
/// untrusted input, re-exported as is. Not an API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::chunked::Framing;
    pub use crate::convert::{decoded_length, trailer_algorithm, trailer_reader, ChecksumFields};
    pub use crate::xmlbody::{body_kind, check_document, check_shape, BodyKind, MAX_DEPTH};

    /// [`crate::check_presigned_expires`]: whether the `X-Amz-Expires` value is accepted.
    pub fn check_presigned_expires(expires: &str) -> bool {
        crate::check_presigned_expires(expires).is_ok()
    }

    pub fn valid_content_sha256(v: &[u8]) -> bool {
        crate::valid_content_sha256(v)
    }

    pub fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
        crate::query_param(query, name)
    }

    /// The bucket virtual-host style addressing reads from `host` under `domain`; `None` if
    /// `domain` is refused at start-up or `host` is.
    pub fn virtual_host_bucket(domain: &str, host: &str) -> Option<Option<String>> {
        use s3s::host::S3Host as _;
        let vh = crate::VirtualHostStyle::new(domain).ok()?;
        let parsed = vh.parse_host_header(host).ok()?;
        Some(parsed.bucket().map(str::to_owned))
    }
}
