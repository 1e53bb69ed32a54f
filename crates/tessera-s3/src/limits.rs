//! The request body idle timeout: a body that sends no byte for a while fails the request with
//! S3's `400 RequestTimeout`, and the writer of its blob is dropped (no partial object is left).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use s3s::{S3Error, S3ErrorCode};
use tokio::time::{Instant, Sleep};

/// S3's message for a client that stopped sending.
pub const REQUEST_TIMEOUT_MESSAGE: &str = "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.";

/// The S3 error of a body that stopped arriving.
pub fn request_timeout_error() -> S3Error {
    let mut e = S3Error::with_message(S3ErrorCode::RequestTimeout, REQUEST_TIMEOUT_MESSAGE);
    e.set_status_code(http::StatusCode::BAD_REQUEST);
    e
}

/// Why a [`TimedBody`] failed.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// No byte arrived for the idle timeout while the body was being read.
    #[error("RequestTimeout: no request body byte received for {0:?}")]
    Timeout(Duration),
    /// The connection failed while the body was being read.
    #[error("{0}")]
    Read(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Tells, after the request, whether its body timed out.
#[derive(Clone, Debug, Default)]
pub struct TimeoutFlag(Arc<AtomicBool>);

impl TimeoutFlag {
    /// Whether the body timed out.
    pub fn fired(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn fire(&self) {
        self.0.store(true, Ordering::Release);
    }
}

/// A request body that fails with [`BodyError::Timeout`] once it has been waited for, without
/// a byte arriving, for `timeout`. Only time spent waiting for the client counts: a handler
/// that is slow to read (e.g. behind a busy disk) never makes the body time out.
pub struct TimedBody<B> {
    inner: B,
    timeout: Duration,
    /// The deadline, allocated at the first wait and reset at each later one.
    sleep: Option<Pin<Box<Sleep>>>,
    /// Whether the reader is waiting (the last poll found no data): the deadline runs.
    waiting: bool,
    flag: TimeoutFlag,
    failed: bool,
}

impl<B> TimedBody<B> {
    /// Wraps `inner`; the returned flag reports whether it timed out.
    pub fn new(inner: B, timeout: Duration) -> (Self, TimeoutFlag) {
        let flag = TimeoutFlag::default();
        let body = Self {
            inner,
            timeout,
            sleep: None,
            waiting: false,
            flag: flag.clone(),
            failed: false,
        };
        (body, flag)
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        if this.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.waiting = false;
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.failed = true;
                Poll::Ready(Some(Err(BodyError::Read(e.into()))))
            }
            Poll::Ready(None) => {
                this.sleep = None;
                Poll::Ready(None)
            }
            Poll::Pending => {
                let timeout = this.timeout;
                let sleep = match &mut this.sleep {
                    Some(sleep) => {
                        if !this.waiting {
                            sleep.as_mut().reset(Instant::now() + timeout);
                        }
                        sleep
                    }
                    None => this.sleep.insert(Box::pin(tokio::time::sleep(timeout))),
                };
                this.waiting = true;
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.sleep = None;
                this.failed = true;
                this.flag.fire();
                tracing::debug!(
                    timeout_secs = timeout.as_secs_f64(),
                    "request body timed out"
                );
                Poll::Ready(Some(Err(BodyError::Timeout(timeout))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        if self.failed {
            SizeHint::with_exact(0)
        } else {
            self.inner.size_hint()
        }
    }
}

/// Wraps a request's body in a [`TimedBody`] with `timeout`, as an `s3s` body.
pub fn time_body<B>(
    req: http::Request<B>,
    timeout: Duration,
) -> (http::Request<s3s::Body>, TimeoutFlag)
where
    B: Body<Data = Bytes> + Unpin + Send + Sync + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = req.into_parts();
    let (body, flag) = TimedBody::new(body, timeout);
    (
        http::Request::from_parts(parts, s3s::Body::http_body(body)),
        flag,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    type FrameResult = Result<Frame<Bytes>, std::io::Error>;
    type Feed = futures::channel::mpsc::UnboundedSender<FrameResult>;
    type ChannelBody =
        http_body_util::StreamBody<futures::channel::mpsc::UnboundedReceiver<FrameResult>>;

    /// A body fed through a channel: the test decides when bytes arrive.
    fn channel_body() -> (Feed, ChannelBody) {
        let (tx, rx) = futures::channel::mpsc::unbounded();
        (tx, http_body_util::StreamBody::new(rx))
    }

    #[tokio::test]
    async fn body_that_keeps_sending_does_not_time_out() {
        let (tx, body) = channel_body();
        let (mut body, flag) = TimedBody::new(body, Duration::from_millis(200));
        let feeder = tokio::spawn(async move {
            for _ in 0..6 {
                tokio::time::sleep(Duration::from_millis(80)).await;
                tx.unbounded_send(Ok(Frame::data(Bytes::from_static(b"abc"))))
                    .unwrap();
            }
        });
        let mut got = Vec::new();
        while let Some(frame) = body.frame().await {
            got.extend_from_slice(&frame.unwrap().into_data().unwrap());
        }
        feeder.await.unwrap();
        assert_eq!(got.len(), 18);
        assert!(!flag.fired());
    }

    #[tokio::test]
    async fn silent_body_times_out_once() {
        let (tx, body) = channel_body();
        let (mut body, flag) = TimedBody::new(body, Duration::from_millis(100));
        tx.unbounded_send(Ok(Frame::data(Bytes::from_static(b"x"))))
            .unwrap();
        assert!(body.frame().await.unwrap().is_ok());
        let started = std::time::Instant::now();
        let err = body.frame().await.unwrap().unwrap_err();
        assert!(matches!(err, BodyError::Timeout(_)), "{err}");
        assert!(started.elapsed() >= Duration::from_millis(90));
        assert!(flag.fired());
        assert!(body.frame().await.is_none());
        assert!(body.is_end_stream());
        drop(tx);
    }

    #[tokio::test]
    async fn slow_reader_is_not_the_client_fault() {
        // The reader pauses longer than the timeout between polls, the data is there: no error.
        let (tx, body) = channel_body();
        let (mut body, flag) = TimedBody::new(body, Duration::from_millis(50));
        for _ in 0..3 {
            tx.unbounded_send(Ok(Frame::data(Bytes::from_static(b"x"))))
                .unwrap();
        }
        drop(tx);
        let mut n = 0;
        while let Some(frame) = body.frame().await {
            frame.unwrap();
            n += 1;
            tokio::time::sleep(Duration::from_millis(120)).await;
        }
        assert_eq!(n, 3);
        assert!(!flag.fired());
    }

    #[tokio::test]
    async fn as_s3s_body_the_error_reaches_the_reader() {
        let (_tx, body) = channel_body();
        let req = http::Request::new(body);
        let (req, flag) = time_body(req, Duration::from_millis(50));
        let mut body = req.into_body();
        let err = body.frame().await.unwrap().unwrap_err();
        assert!(err.to_string().contains("RequestTimeout"), "{err}");
        assert!(flag.fired());
        let e = request_timeout_error();
        assert_eq!(e.code().as_str(), "RequestTimeout");
        assert_eq!(e.status_code(), Some(http::StatusCode::BAD_REQUEST));
    }
}
