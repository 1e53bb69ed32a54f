//! The S3 protocol adapter: the only crate that knows `s3s`. It turns S3 requests into
//! [`tessera_core::Tessera`] calls and domain errors into S3 error codes.

mod convert;
mod errors;
mod service;
pub mod sigv2;

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
    let s3 = service::TesseraS3 { app, region: config.region.clone() };
    let mut builder = s3s::service::S3ServiceBuilder::new(s3);
    builder.set_auth(RootAuth {
        access_key: config.access_key.clone(),
        secret_key: SecretKey::from(config.secret_key.clone()),
    });
    if let Some(domain) = &config.domain {
        let host = s3s::host::SingleDomain::new(domain).map_err(|e| BuildError::Domain(format!("{domain}: {e}")))?;
        builder.set_host(host);
    }
    Ok(HttpService { inner: builder.build(), config: Arc::new(config) })
}

/// Longest validity of a presigned URL, as S3: 7 days.
const MAX_PRESIGNED_EXPIRES: u64 = 604_800;

impl HttpService {
    /// Checks s3s leaves to us, run before s3s sees the request: presigned URL expiry bounds and
    /// SigV2 (verified here in constant time; refused when switched off).
    fn precheck(&self, req: &http::Request<hyper::body::Incoming>) -> Result<(), S3Error> {
        let query = req.uri().query();
        if let Some(q) = query {
            if let Some(expires) = query_param(q, "X-Amz-Expires") {
                let ok = expires.parse::<u64>().is_ok_and(|n| (1..=MAX_PRESIGNED_EXPIRES).contains(&n));
                if !ok {
                    return Err(S3Error::with_message(
                        S3ErrorCode::AuthorizationQueryParametersError,
                        "X-Amz-Expires must be less than a week (in seconds) that is 604800",
                    ));
                }
            }
        }
        let v2 = sigv2::SigV2Request {
            method: req.method().as_str(),
            path: req.uri().path(),
            query,
            headers: req.headers(),
            bucket_from_host: None,
        };
        let Some((_, access_key)) = sigv2::detect(&v2) else { return Ok(()) };
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
        match sigv2::verify(&v2, &self.config.secret_key, std::time::SystemTime::now()) {
            Ok(_) => Ok(()),
            Err(e) => Err(sigv2_error(e)),
        }
    }
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
        let precheck = self.precheck(&req);
        let inner = self.inner.clone();
        Box::pin(async move {
            let mut resp = match precheck {
                Ok(()) => hyper::service::Service::call(&inner, req).await?,
                Err(e) => match e.to_http_response() {
                    Ok(r) => http::Response::from(r),
                    Err(e) => return Err(s3s::HttpError::new(Box::new(e))),
                },
            };
            if let Ok(v) = http::HeaderValue::from_str(&id) {
                resp.headers_mut().insert("x-amz-request-id", v);
            }
            if resp.status() == http::StatusCode::NOT_MODIFIED {
                *resp.body_mut() = s3s::Body::empty();
                resp.headers_mut().remove(http::header::CONTENT_LENGTH);
                resp.headers_mut().remove(http::header::CONTENT_TYPE);
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

/// Bucket and key of a path-style request path, for logs.
fn split_path(path: &str) -> (&str, &str) {
    let p = path.trim_start_matches('/');
    p.split_once('/').unwrap_or((p, ""))
}
