//! The S3 protocol adapter: the only crate that knows `s3s`. It turns S3 requests into
//! [`tessera_core::Tessera`] calls and domain errors into S3 error codes.

use std::sync::Arc;

use futures::future::BoxFuture;
use tessera_core::Tessera;

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
}

/// Response type of [`HttpService`].
pub type HttpResponse = http::Response<s3s::Body>;

/// Builds the S3 HTTP service over a [`Tessera`] instance.
pub fn build_service(app: Arc<Tessera>, config: EndpointConfig) -> HttpService {
    let _ = (app, config);
    let builder = s3s::service::S3ServiceBuilder::new(Unimplemented);
    HttpService { inner: builder.build() }
}

struct Unimplemented;
#[async_trait::async_trait]
impl s3s::S3 for Unimplemented {}

impl hyper::service::Service<http::Request<hyper::body::Incoming>> for HttpService {
    type Response = HttpResponse;
    type Error = s3s::HttpError;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn call(&self, req: http::Request<hyper::body::Incoming>) -> Self::Future {
        hyper::service::Service::call(&self.inner, req)
    }
}
