//! The S3 protocol adapter: the only crate that knows `s3s`. It turns S3 requests into
//! [`tessera_core::Tessera`] calls and domain errors into S3 error codes.

// A panic on a request path takes down the request's task: return an error instead (tests may panic).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod acl;
mod auth;
mod chunked;
mod conditions;
mod convert;
mod cors;
mod dates;
mod errors;
mod form;
mod host;
mod iam;
pub mod limits;
mod pipeline;
mod post_object;
mod precheck;
mod responses;
mod service;
pub mod sigv2;
pub mod sigv4;
mod unsupported;
mod xmlbody;

use std::net::SocketAddr;
use std::sync::Arc;

use tessera_core::Tessera;

use host::VirtualHostStyle;

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
    /// A request body that sends no byte for this long fails with 400 RequestTimeout.
    pub body_timeout: std::time::Duration,
    /// The listener serves TLS: requests have aws:SecureTransport true.
    pub tls: bool,
    /// Accept SSE-C keys over plain HTTP, which S3 refuses (the key is in a header): for test
    /// rigs only (ceph/s3-tests drives SSE-C over HTTP).
    pub allow_sse_c_over_http: bool,
}

/// The HTTP service to hand to hyper: one clone per connection.
#[derive(Clone)]
pub struct HttpService {
    inner: s3s::service::S3Service,
    /// The domain, for Tessera's own signature checks (their secrets come from its store).
    app: Arc<Tessera>,
    config: Arc<EndpointConfig>,
    /// The peer of the connection this clone serves, if the server said ([`HttpService::for_client`]).
    client: Option<SocketAddr>,
}

impl HttpService {
    /// A clone for one connection from `peer`: its requests carry [`ClientAddr`] (aws:SourceIp).
    pub fn for_client(&self, peer: SocketAddr) -> HttpService {
        HttpService {
            client: Some(peer),
            ..self.clone()
        }
    }
}

/// The TCP peer of the connection a request came on, as a request extension. Only the server
/// sets it, from the accepted socket: no header (X-Forwarded-For) can change it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

/// Body of [`HttpService`]'s requests and responses (front doors in the same process build
/// theirs with `HttpBody::http_body_unsync`).
pub type HttpBody = s3s::Body;

/// Response type of [`HttpService`].
pub type HttpResponse = http::Response<HttpBody>;

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
    /// The key that signed it: the access check resolves the caller from it.
    access_key: String,
    /// Signed in a presigned URL's query rather than the Authorization header (s3:authType).
    presigned: bool,
    /// The removed signature's `X-Amz-Date` (s3:signatureAge).
    amz_date: Option<String>,
}

/// Marks the PutObject a browser form upload (PostObject) is turned into (`post_object`): the
/// form's policy and signature were checked there. The access check decides it as the signer
/// (anonymous without one) with the condition keys of a POST (`s3:authType` `POST`).
#[derive(Clone, Debug)]
struct FormUpload {
    /// The key that signed the policy; `None` for an anonymous form.
    access_key: Option<String>,
    /// `AWS4-HMAC-SHA256` or `AWS` (s3:signatureversion), when signed.
    signature_version: Option<&'static str>,
    /// The form's `x-amz-date` (s3:signatureAge).
    amz_date: Option<String>,
}

/// Builds the S3 HTTP service over a [`Tessera`] instance.
pub fn build_service(app: Arc<Tessera>, config: EndpointConfig) -> Result<HttpService, BuildError> {
    let s3 = service::TesseraS3 { app: app.clone() };
    let mut builder = s3s::service::S3ServiceBuilder::new(s3);
    builder.set_auth(auth::StoreAuth { app: app.clone() });
    builder.set_access(auth::Authorizer {
        app: app.clone(),
        region: config.region.clone(),
        tls: config.tls,
        allow_sse_c_over_http: config.allow_sse_c_over_http,
    });
    if let Some(domain) = &config.domain {
        builder.set_host(VirtualHostStyle::new(domain)?);
    }
    Ok(HttpService {
        inner: builder.build(),
        app,
        config: Arc::new(config),
        client: None,
    })
}

/// Entry points for the fuzz targets (`crates/tessera-fuzz`, `fuzz/`): private helpers that parse
/// untrusted input, re-exported as is. Not an API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::chunked::Framing;
    pub use crate::convert::{decoded_length, trailer_algorithm, trailer_reader, ChecksumFields};
    pub use crate::xmlbody::{body_kind, check_document, check_shape, BodyKind, MAX_DEPTH};

    /// [`crate::precheck::check_presigned_expires`]: whether the `X-Amz-Expires` value is accepted.
    pub fn check_presigned_expires(expires: &str) -> bool {
        crate::precheck::check_presigned_expires(expires).is_ok()
    }

    pub fn valid_content_sha256(v: &[u8]) -> bool {
        crate::precheck::valid_content_sha256(v)
    }

    pub fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
        crate::precheck::query_param(query, name)
    }

    /// A form as [`read_form`] reads it: the fields before the file (name, value), the file's
    /// name and its bytes.
    pub type ReadForm = (Vec<(String, String)>, String, Vec<u8>);

    /// A whole form body read as PostObject reads it, fed in pieces of `chunk` bytes; `Err`
    /// with the refusal's message.
    pub fn read_form(body: &[u8], boundary: &str, chunk: usize) -> Result<ReadForm, String> {
        use futures::StreamExt as _;
        let pieces: Vec<bytes::Bytes> = body
            .chunks(chunk.max(1))
            .map(bytes::Bytes::copy_from_slice)
            .collect();
        let stream = futures::stream::iter(
            pieces
                .into_iter()
                .map(|c| Ok::<_, std::io::Error>(hyper::body::Frame::data(c))),
        );
        let body = s3s::Body::http_body(http_body_util::StreamBody::new(stream));
        futures::executor::block_on(async move {
            let mut reader = crate::form::FormReader::new(body, boundary);
            let (fields, file) = reader.read_fields().await.map_err(|e| e.to_string())?;
            let mut content = reader.into_file_stream();
            let mut bytes = Vec::new();
            while let Some(piece) = content.next().await {
                bytes.extend_from_slice(&piece.map_err(|e| e.to_string())?);
            }
            let fields = fields.into_iter().map(|f| (f.name, f.value)).collect();
            Ok((fields, file.filename, bytes))
        })
    }

    /// The bucket virtual-host style addressing reads from `host` under `domain`; `None` if
    /// `domain` is refused at start-up or `host` is.
    pub fn virtual_host_bucket(domain: &str, host: &str) -> Option<Option<String>> {
        use s3s::host::S3Host as _;
        let vh = crate::host::VirtualHostStyle::new(domain).ok()?;
        let parsed = vh.parse_host_header(host).ok()?;
        Some(parsed.bucket().map(str::to_owned))
    }
}
