//! Connection bookkeeping: caps on open connections (global and per client address), and the
//! per-connection activity the timeouts of [`crate::server`] are decided from.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// The key connections are counted under: an IPv4 address, or the /64 prefix of an IPv6 one (a
/// single IPv6 host usually owns a whole /64).
fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut seg = v6.segments();
                seg[4..].fill(0);
                IpAddr::V6(seg.into())
            }
        },
    }
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The client address already has its cap of connections.
    PerIp,
    /// The server has its cap of connections.
    Global,
}

/// Open connections, counted globally and per client address.
#[derive(Debug)]
pub struct ConnTable {
    max_total: usize,
    max_per_ip: usize,
    counts: Mutex<Counts>,
    /// Woken when the last connection closes.
    empty: Notify,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

impl ConnTable {
    pub fn new(max_total: usize, max_per_ip: usize) -> Arc<Self> {
        Arc::new(Self {
            max_total: max_total.max(1),
            max_per_ip: max_per_ip.max(1),
            counts: Mutex::new(Counts::default()),
            empty: Notify::new(),
        })
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        // The counts stay consistent even if a holder panicked: each update is one statement.
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes a slot for a connection from `ip`, released when the slot is dropped.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnSlot, Refused> {
        let key = ip_key(ip);
        let mut counts = self.counts();
        let from_ip = counts.per_ip.get(&key).copied().unwrap_or(0);
        if from_ip >= self.max_per_ip {
            return Err(Refused::PerIp);
        }
        if counts.total >= self.max_total {
            return Err(Refused::Global);
        }
        counts.total += 1;
        counts.per_ip.insert(key, from_ip + 1);
        Ok(ConnSlot {
            table: Arc::clone(self),
            key,
        })
    }

    /// Open connections.
    pub fn total(&self) -> usize {
        self.counts().total
    }

    /// Resolves once no connection is open.
    pub async fn wait_empty(&self) {
        loop {
            let notified = self.empty.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.total() == 0 {
                return;
            }
            notified.await;
        }
    }

    fn release(&self, key: IpAddr) {
        let mut counts = self.counts();
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_ip.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                counts.per_ip.remove(&key);
            }
        }
        if counts.total == 0 {
            drop(counts);
            self.empty.notify_waiters();
        }
    }
}

/// A connection's place in the [`ConnTable`].
#[derive(Debug)]
pub struct ConnSlot {
    table: Arc<ConnTable>,
    key: IpAddr,
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.table.release(self.key);
    }
}

/// "Not set" in the millisecond clocks of [`Activity`].
const UNSET: u64 = u64::MAX;

/// What a connection is doing, updated by its IO ([`TrackedIo`]) and its requests
/// ([`RequestGuard`]), read by its watchdog. Times are milliseconds since `opened`.
#[derive(Debug)]
pub struct Activity {
    opened: Instant,
    /// Requests whose response is not finished.
    in_flight: AtomicUsize,
    /// When the connection last became idle (no request in flight).
    idle_since: AtomicU64,
    /// When the first byte arrived after it became idle (the start of the next request).
    first_read: AtomicU64,
    /// Since when a write has been waiting for the client to read.
    write_blocked: AtomicU64,
}

/// The state the watchdog acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// A request is in flight.
    Busy,
    /// No request in flight and no byte received since `since`.
    Idle { since: Duration },
    /// No request in flight, a new one started arriving at `since`.
    ReadingHead { since: Duration },
}

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            first_read: AtomicU64::new(UNSET),
            write_blocked: AtomicU64::new(UNSET),
        })
    }

    /// Time since the connection opened.
    pub fn elapsed(&self) -> Duration {
        self.opened.elapsed()
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(UNSET - 1)
    }

    /// Starts the idle period afresh (e.g. after the TLS handshake, whose bytes are no request).
    pub fn reset_idle(&self) {
        self.first_read.store(UNSET, Ordering::Relaxed);
        self.idle_since.store(self.now_ms(), Ordering::Relaxed);
    }

    /// A request was handed to the service: the connection is busy until the guard drops.
    pub fn begin_request(self: &Arc<Self>) -> RequestGuard {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        RequestGuard {
            activity: Some(Arc::clone(self)),
        }
    }

    fn end_request(&self) {
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.reset_idle();
        }
    }

    fn on_read(&self) {
        if self.in_flight.load(Ordering::Relaxed) == 0
            && self.first_read.load(Ordering::Relaxed) == UNSET
        {
            self.first_read.store(self.now_ms(), Ordering::Relaxed);
        }
    }

    fn on_write_blocked(&self) {
        if self.write_blocked.load(Ordering::Relaxed) == UNSET {
            self.write_blocked.store(self.now_ms(), Ordering::Relaxed);
        }
    }

    fn on_write(&self) {
        if self.write_blocked.load(Ordering::Relaxed) != UNSET {
            self.write_blocked.store(UNSET, Ordering::Relaxed);
        }
        // The tail of a response still being written after its body ended: not idle yet.
        if self.in_flight.load(Ordering::Relaxed) == 0 {
            self.idle_since.store(self.now_ms(), Ordering::Relaxed);
        }
    }

    /// Whether requests are in flight, or else since when the connection is idle or reading the
    /// next request's head (times since the connection opened).
    pub fn state(&self) -> State {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return State::Busy;
        }
        match self.first_read.load(Ordering::Relaxed) {
            UNSET => State::Idle {
                since: Duration::from_millis(self.idle_since.load(Ordering::Relaxed)),
            },
            t => State::ReadingHead {
                since: Duration::from_millis(t),
            },
        }
    }

    /// Since when a write has been waiting for the client to read (time since the connection
    /// opened), if one is.
    pub fn write_blocked_since(&self) -> Option<Duration> {
        match self.write_blocked.load(Ordering::Relaxed) {
            UNSET => None,
            t => Some(Duration::from_millis(t)),
        }
    }
}

/// Marks a request in flight on its connection until dropped.
#[derive(Debug)]
pub struct RequestGuard {
    activity: Option<Arc<Activity>>,
}

impl RequestGuard {
    fn finish(&mut self) {
        if let Some(a) = self.activity.take() {
            a.end_request();
        }
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A response body that keeps its request in flight until it is sent (or dropped).
pub struct GuardedBody<B> {
    inner: B,
    guard: RequestGuard,
}

impl<B> GuardedBody<B> {
    pub fn new(inner: B, guard: RequestGuard) -> Self {
        Self { inner, guard }
    }
}

impl<B> Body for GuardedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            this.guard.finish();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A socket that reports its reads and stalled writes to the connection's [`Activity`].
#[derive(Debug)]
pub struct TrackedIo<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> TrackedIo<T> {
    pub fn new(inner: T, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TrackedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            if buf.filled().len() > before {
                self.activity.on_read();
            }
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> TrackedIo<T> {
    fn track(&self, polled: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        match &polled {
            Poll::Pending => self.activity.on_write_blocked(),
            Poll::Ready(Ok(n)) if *n > 0 => self.activity.on_write(),
            Poll::Ready(_) => {}
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TrackedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.track(polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.track(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A hyper service that marks each request in flight on its connection until its response
/// body is sent.
#[derive(Clone)]
pub struct TrackedService<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> TrackedService<S> {
    pub fn new(inner: S, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, ReqBody, ResBody> hyper::service::Service<http::Request<ReqBody>> for TrackedService<S>
where
    S: hyper::service::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = http::Response<GuardedBody<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn call(&self, req: http::Request<ReqBody>) -> Self::Future {
        let guard = self.activity.begin_request();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let resp = fut.await?;
            Ok(resp.map(|body| GuardedBody::new(body, guard)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn caps_global_and_per_address() {
        let table = ConnTable::new(3, 2);
        let a: IpAddr = Ipv4Addr::new(10, 0, 0, 1).into();
        let b: IpAddr = Ipv4Addr::new(10, 0, 0, 2).into();
        let c: IpAddr = Ipv4Addr::new(10, 0, 0, 3).into();
        let a1 = table.admit(a).unwrap();
        let _a2 = table.admit(a).unwrap();
        assert_eq!(table.admit(a).unwrap_err(), Refused::PerIp);
        let _b1 = table.admit(b).unwrap();
        assert_eq!(table.total(), 3);
        assert_eq!(table.admit(c).unwrap_err(), Refused::Global);
        drop(a1);
        assert_eq!(table.total(), 2);
        let _c1 = table.admit(c).unwrap();
        assert_eq!(table.admit(a).unwrap_err(), Refused::Global);
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_v4_as_v4() {
        let table = ConnTable::new(100, 1);
        let one: IpAddr = "2001:db8:1:2::1".parse::<Ipv6Addr>().unwrap().into();
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse::<Ipv6Addr>().unwrap().into();
        let other_64: IpAddr = "2001:db8:1:3::1".parse::<Ipv6Addr>().unwrap().into();
        let _s = table.admit(one).unwrap();
        assert_eq!(table.admit(same_64).unwrap_err(), Refused::PerIp);
        let _t = table.admit(other_64).unwrap();
        let v4: IpAddr = Ipv4Addr::new(192, 0, 2, 1).into();
        let mapped: IpAddr = Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped().into();
        let _u = table.admit(v4).unwrap();
        assert_eq!(table.admit(mapped).unwrap_err(), Refused::PerIp);
    }

    #[tokio::test]
    async fn wait_empty_resolves_when_the_last_slot_drops() {
        let table = ConnTable::new(10, 10);
        table.wait_empty().await;
        let slot = table.admit(Ipv4Addr::LOCALHOST.into()).unwrap();
        let waiter = {
            let table = Arc::clone(&table);
            tokio::spawn(async move { table.wait_empty().await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        drop(slot);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
    }

    #[test]
    fn activity_states() {
        let a = Activity::new();
        assert!(matches!(a.state(), State::Idle { .. }));
        a.on_read();
        assert!(matches!(a.state(), State::ReadingHead { .. }));
        let g1 = a.begin_request();
        let g2 = a.begin_request();
        assert_eq!(a.state(), State::Busy);
        a.on_read(); // body bytes: not the start of a new request
        drop(g1);
        assert_eq!(a.state(), State::Busy);
        drop(g2);
        assert!(matches!(a.state(), State::Idle { .. }));
        a.on_write_blocked();
        let since = a.write_blocked_since().unwrap();
        a.on_write_blocked();
        assert_eq!(a.write_blocked_since(), Some(since));
        a.on_write();
        assert_eq!(a.write_blocked_since(), None);
    }

    #[tokio::test]
    async fn guarded_body_ends_the_request_when_sent() {
        use http_body_util::BodyExt;
        let a = Activity::new();
        let body = GuardedBody::new(
            http_body_util::Full::new(Bytes::from_static(b"hello")),
            a.begin_request(),
        );
        assert_eq!(a.state(), State::Busy);
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"hello");
        assert!(matches!(a.state(), State::Idle { .. }));
    }

    #[tokio::test]
    async fn tracked_io_reports_reads_and_stalled_writes() {
        let a = Activity::new();
        let (client, server) = tokio::io::duplex(64);
        let mut server = TrackedIo::new(server, Arc::clone(&a));
        let mut client = client;
        client.write_all(b"GET").await.unwrap();
        let mut buf = [0u8; 3];
        server.read_exact(&mut buf).await.unwrap();
        assert!(matches!(a.state(), State::ReadingHead { .. }));
        // The client does not read: once the pipe is full, the write waits.
        let blocked =
            tokio::time::timeout(Duration::from_millis(100), server.write_all(&[0u8; 1024])).await;
        assert!(blocked.is_err());
        assert!(a.write_blocked_since().is_some());
        let mut sink = vec![0u8; 64];
        let n = client.read(&mut sink).await.unwrap();
        assert!(n > 0);
        server.write_all(b"x").await.unwrap();
        assert_eq!(a.write_blocked_since(), None);
    }
}
