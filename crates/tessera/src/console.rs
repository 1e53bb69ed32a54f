//! The web console's wiring: its [`Upstream`] is the S3 service of the same process, so every
//! console action is authenticated and authorized by the S3 (or IAM) pipeline itself.

use std::net::SocketAddr;

use futures::future::BoxFuture;
use http_body_util::BodyExt as _;
use tessera_console::{Body, Upstream};
use tessera_s3::{HttpBody, HttpService};

/// The S3 service as the console's upstream.
pub struct S3Upstream(pub HttpService);

impl Upstream for S3Upstream {
    fn call(
        &self,
        req: http::Request<Body>,
        peer: SocketAddr,
    ) -> BoxFuture<'static, http::Response<Body>> {
        // `for_client`: the browser's address is the request's aws:SourceIp.
        let fut = self
            .0
            .for_client(peer)
            .handle(req.map(HttpBody::http_body_unsync));
        Box::pin(async move {
            match fut.await {
                Ok(resp) => resp.map(|b| b.boxed_unsync()),
                Err(e) => {
                    tracing::warn!(error = ?e, "console: the S3 service failed a forwarded request");
                    let mut resp = http::Response::new(
                        http_body_util::Empty::new()
                            .map_err(|never| match never {})
                            .boxed_unsync(),
                    );
                    *resp.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                    resp
                }
            }
        })
    }
}
