//! An s3s service over a stub backend, to run requests through s3s's own parsing, signature
//! checks and aws-chunked decoding exactly as Tessera's server does, without storage.

use std::cell::RefCell;
use std::sync::OnceLock;

use futures::StreamExt;
use s3s::dto::{PutObjectInput, PutObjectOutput};
use s3s::service::S3Service;
use s3s::{S3Request, S3Response, S3Result};

use crate::sign::{ACCESS_KEY, SECRET_KEY};

/// What the stub's PutObject saw, for the harness to check.
#[derive(Debug, Clone)]
pub struct PutSeen {
    /// Decoded body bytes, or the error that cut the body short.
    pub body: Result<Vec<u8>, String>,
    /// The trailing checksum as Tessera reads it (`None`: no trailer announced).
    pub trailer: Option<Result<Option<String>, String>>,
    pub decoded_length: Option<u64>,
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    static SEEN: RefCell<Option<PutSeen>> = const { RefCell::new(None) };
}

struct Stub;

#[async_trait::async_trait]
impl s3s::S3 for Stub {
    /// Reads the body and the trailer as Tessera's PutObject does (service.rs `checks`).
    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        use tessera_s3::fuzzing::{decoded_length, trailer_algorithm, trailer_reader};
        let algorithm = trailer_algorithm(&req.headers)?;
        let mut seen = PutSeen {
            body: Ok(Vec::new()),
            trailer: None,
            decoded_length: decoded_length(&req.headers),
        };
        let mut body = Vec::new();
        let mut error = None;
        if let Some(mut blob) = req.input.body {
            while let Some(chunk) = blob.next().await {
                match chunk {
                    Ok(b) => body.extend_from_slice(&b),
                    Err(e) => {
                        error = Some(e.to_string());
                        break;
                    }
                }
            }
        }
        seen.body = match error {
            Some(e) => Err(e),
            None => Ok(body),
        };
        if seen.body.is_ok() {
            if let Some(read) = trailer_reader(req.trailing_headers, algorithm) {
                seen.trailer = Some(
                    read()
                        .map(|v| v.map(|v| v.to_base64()))
                        .map_err(|e| e.to_string()),
                );
            }
        }
        SEEN.with(|s| *s.borrow_mut() = Some(seen));
        Ok(S3Response::new(PutObjectOutput::default()))
    }
}

fn service() -> &'static S3Service {
    static SERVICE: OnceLock<S3Service> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let mut b = s3s::service::S3ServiceBuilder::new(Stub);
        b.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        b.build()
    })
}

/// The response of s3s to `req`: status, body text, and what PutObject saw if it ran.
pub struct Outcome {
    pub status: http::StatusCode,
    pub body: String,
    pub put: Option<PutSeen>,
}

impl Outcome {
    /// The S3 error code of an error response.
    pub fn code(&self) -> Option<&str> {
        let start = self.body.find("<Code>")? + "<Code>".len();
        let end = self.body[start..].find("</Code>")? + start;
        Some(&self.body[start..end])
    }
}

/// Runs one request through s3s.
pub fn call(req: http::Request<s3s::Body>) -> Outcome {
    SEEN.with(|s| s.borrow_mut().take());
    RUNTIME.with(|rt| {
        rt.block_on(async {
            let resp = service().call(req).await;
            let put = SEEN.with(|s| s.borrow_mut().take());
            match resp {
                Ok(mut resp) => {
                    let status = resp.status();
                    let body = match resp.body_mut().store_all_limited(1 << 20).await {
                        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                        Err(_) => String::new(),
                    };
                    Outcome { status, body, put }
                }
                Err(_) => Outcome {
                    status: http::StatusCode::INTERNAL_SERVER_ERROR,
                    body: String::new(),
                    put,
                },
            }
        })
    })
}

/// A body delivered in the pieces given (as a network would split it).
pub fn body_in_pieces(pieces: Vec<bytes::Bytes>) -> s3s::Body {
    let total = pieces.iter().map(bytes::Bytes::len).sum();
    let stream: s3s::stream::DynByteStream = Box::pin(Pieces {
        pieces: pieces.into(),
        remaining: total,
    });
    s3s::Body::from(stream)
}

struct Pieces {
    pieces: std::collections::VecDeque<bytes::Bytes>,
    remaining: usize,
}

impl futures::Stream for Pieces {
    type Item = Result<bytes::Bytes, s3s::StdError>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let next = self.pieces.pop_front();
        if let Some(b) = &next {
            self.remaining -= b.len();
        }
        std::task::Poll::Ready(next.map(Ok))
    }
}

impl s3s::stream::ByteStream for Pieces {
    fn remaining_length(&self) -> s3s::stream::RemainingLength {
        s3s::stream::RemainingLength::new_exact(self.remaining)
    }
}
