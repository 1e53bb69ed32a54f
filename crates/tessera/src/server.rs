//! The accept loop: HTTP/1.1 and HTTP/2 over TCP, optionally TLS, with graceful shutdown and
//! bounds on connections (caps, idle / header / stalled-write timeouts, see [`Limits`]).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tessera_s3::HttpService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::config::{config_err, ConfigError};
use crate::conn::{Activity, ConnSlot, ConnTable, Refused, State, TrackedIo, TrackedService};

/// How long a client may take to complete the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP/2: concurrent requests per connection (as nginx and AWS load balancers: 128).
const H2_MAX_CONCURRENT_STREAMS: u32 = 128;
/// HTTP/2: ping a connection that has been quiet this long while a request is in flight...
const H2_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(20);
/// ... and close it if the ping is not answered within this.
const H2_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// A connection asked to close (idle, or headers too slow) that has not closed after this is
/// dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// At the global cap, connections idle for at least this long are closed to make room.
const PRESSURE_MIN_IDLE: Duration = Duration::from_secs(1);
/// At most one such round of closing per this period.
const PRESSURE_PERIOD: Duration = Duration::from_secs(1);
/// Shed connections are logged at most once per this period (with a count).
const SHED_LOG_PERIOD: Duration = Duration::from_secs(10);

/// Bounds on connections.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// No request in flight and no byte received for this long: the connection is closed.
    pub idle_timeout: Duration,
    /// From the first byte of a request, its headers must be complete within this.
    pub header_read_timeout: Duration,
    /// A response the client does not read for this long closes the connection (request
    /// bodies have the same bound, in the S3 service).
    pub write_timeout: Duration,
    /// Open connections at most.
    pub max_connections: usize,
    /// Open connections from one client address (IPv4, or IPv6 /64) at most.
    pub max_connections_per_ip: usize,
}

impl Limits {
    /// How often a connection's watchdog looks at it, at most (it also wakes at each deadline).
    fn poll_interval(&self) -> Duration {
        let shortest = self
            .idle_timeout
            .min(self.header_read_timeout)
            .min(self.write_timeout);
        (shortest / 2).max(Duration::from_millis(50))
    }
}

/// The file descriptor limit (RLIMIT_NOFILE) before and after [`raise_fd_limit`].
#[derive(Debug, Clone, Copy)]
pub struct FdLimit {
    pub before: u64,
    pub now: u64,
    pub hard: Option<u64>,
}

/// Raises the soft RLIMIT_NOFILE to the hard limit: each connection takes a descriptor, and
/// the common soft default of 1024 would cap the server far below what it can serve.
pub fn raise_fd_limit() -> io::Result<FdLimit> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let current = getrlimit(Resource::Nofile);
    // No soft limit (RLIM_INFINITY) is treated as "plenty".
    let before = current.current.unwrap_or(u64::MAX);
    let hard = current.maximum;
    let target = hard.unwrap_or(u64::MAX);
    if target <= before {
        return Ok(FdLimit {
            before,
            now: before,
            hard,
        });
    }
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: hard,
            maximum: hard,
        },
    )?;
    let now = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    Ok(FdLimit { before, now, hard })
}

/// The current soft RLIMIT_NOFILE (`u64::MAX` when unlimited).
pub fn fd_soft_limit() -> u64 {
    rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX)
}

/// Loads the certificate chain and private key (PEM) into a TLS acceptor offering
/// ALPN `h2` and `http/1.1`.
pub fn load_tls(cert: &Path, key: &Path) -> Result<TlsAcceptor, ConfigError> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| config_err!("cannot read TLS certificate {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(config_err!(
            "TLS certificate {} contains no certificate",
            cert.display()
        ));
    }
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| config_err!("cannot read TLS private key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config_err!("TLS setup failed: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| {
            config_err!(
                "invalid TLS certificate/key pair ({}, {}): {e}",
                cert.display(),
                key.display()
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The HTTP/1 and HTTP/2 settings.
fn http_builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The connection watchdog enforces the idle and header timeouts; hyper's own header timer
    // (which starts when hyper begins waiting for a request) is only a backstop at their sum.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout + limits.header_read_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(H2_MAX_CONCURRENT_STREAMS)
        .keep_alive_interval(H2_KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(H2_KEEP_ALIVE_TIMEOUT);
    builder
}

/// Errors of services and bodies, as hyper takes them.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the accept loop serves: makes the HTTP service of each connection, for its peer.
pub trait MakeService: Send + Sync + 'static {
    /// The response body.
    type Body: http_body::Body<Data = Bytes, Error: Into<BoxError>> + Send + Unpin + 'static;
    /// The service of one connection.
    type Service: hyper::service::Service<
            http::Request<Incoming>,
            Response = http::Response<Self::Body>,
            Error: Into<BoxError>,
            Future: Send + 'static,
        > + Send
        + 'static;
    /// The service for a connection from `peer`.
    fn for_client(&self, peer: SocketAddr) -> Self::Service;
}

impl MakeService for HttpService {
    type Body = tessera_s3::HttpBody;
    type Service = HttpService;

    fn for_client(&self, peer: SocketAddr) -> HttpService {
        HttpService::for_client(self, peer)
    }
}

impl MakeService for tessera_console::Console {
    type Body = tessera_console::Body;
    type Service = tessera_console::ConsoleService;

    fn for_client(&self, peer: SocketAddr) -> tessera_console::ConsoleService {
        tessera_console::Console::for_client(self, peer)
    }
}

/// What every connection task shares.
struct Shared<M> {
    builder: auto::Builder<TokioExecutor>,
    service: M,
    tls: Option<TlsAcceptor>,
    limits: Limits,
}

/// Signals from the accept loop to the connections.
#[derive(Clone)]
struct ConnSignals {
    /// `true` once the server shuts down.
    stop: watch::Receiver<bool>,
    /// Bumped when the global cap is reached: idle connections close to make room.
    pressure: watch::Receiver<()>,
}

/// Counts shed connections and logs them at most once per [`SHED_LOG_PERIOD`].
struct ShedLog {
    per_ip: u64,
    global: u64,
    since: Instant,
}

impl ShedLog {
    fn new() -> Self {
        Self {
            per_ip: 0,
            global: 0,
            since: Instant::now(),
        }
    }

    fn record(&mut self, why: Refused, peer: SocketAddr, limits: &Limits) {
        match why {
            Refused::PerIp => self.per_ip += 1,
            Refused::Global => self.global += 1,
        }
        tracing::debug!(%peer, reason = ?why, "connection refused: too many connections");
        if self.since.elapsed() >= SHED_LOG_PERIOD {
            tracing::warn!(
                over_per_ip_cap = self.per_ip,
                over_global_cap = self.global,
                max_connections = limits.max_connections,
                max_connections_per_ip = limits.max_connections_per_ip,
                last_peer = %peer,
                "connections refused (closed on accept) in the last {}s",
                self.since.elapsed().as_secs()
            );
            self.per_ip = 0;
            self.global = 0;
            self.since = Instant::now();
        }
    }
}

/// Serves `service` on `listener` until `shutdown` resolves, then stops accepting and waits
/// at most `shutdown_timeout` for open connections to finish their requests (a second
/// `shutdown` signal, from `force`, cuts the wait short).
///
/// A connection over the per-address or the global cap is accepted and closed at once, so that
/// it never waits in the listen backlog in front of well-behaved clients; at the global cap,
/// connections idle for a second or more are also asked to close to make room.
pub async fn serve<M: MakeService>(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    service: M,
    shutdown: impl Future<Output = ()>,
    force: impl Future<Output = ()>,
    shutdown_timeout: Duration,
    limits: Limits,
) {
    let shared = Arc::new(Shared {
        builder: http_builder(&limits),
        service,
        tls,
        limits,
    });
    let table = ConnTable::new(limits.max_connections, limits.max_connections_per_ip);
    let (stop_tx, stop) = watch::channel(false);
    let (pressure_tx, pressure) = watch::channel(());
    let signals = ConnSignals { stop, pressure };
    let mut last_pressure: Option<Instant> = None;
    let mut shed = ShedLog::new();
    tokio::pin!(shutdown);

    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
        };
        let slot = match table.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(why) => {
                // Shed: closing now frees the descriptor and tells the client at once.
                drop(stream);
                shed.record(why, peer, &limits);
                if why == Refused::Global
                    && last_pressure.is_none_or(|t| t.elapsed() >= PRESSURE_PERIOD)
                {
                    last_pressure = Some(Instant::now());
                    pressure_tx.send_replace(());
                }
                continue;
            }
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
        }
        tokio::spawn(connection(
            stream,
            peer,
            slot,
            Arc::clone(&shared),
            signals.clone(),
        ));
    }

    drop(listener);
    let open = table.total();
    tracing::info!(
        open_connections = open,
        timeout_secs = shutdown_timeout.as_secs(),
        "shutting down: no longer accepting connections"
    );
    stop_tx.send_replace(true);
    tokio::select! {
        () = table.wait_empty() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(shutdown_timeout) => {
            tracing::warn!("shutdown timeout reached; closing remaining connections");
        }
        () = force => tracing::warn!("second signal received; closing remaining connections"),
    }
}

/// One connection, from accept to close; its slot in the table is held until the end.
async fn connection<M: MakeService>(
    stream: TcpStream,
    peer: SocketAddr,
    slot: ConnSlot,
    shared: Arc<Shared<M>>,
    signals: ConnSignals,
) {
    let _slot = slot;
    let activity = Activity::new();
    let io = TrackedIo::new(stream, Arc::clone(&activity));
    let result = match &shared.tls {
        None => drive(io, peer, &shared, &activity, signals).await,
        Some(acceptor) => {
            let stream =
                match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(io)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
            // The handshake's bytes are not the start of a request.
            activity.reset_idle();
            drive(stream, peer, &shared, &activity, signals).await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// What the watchdog does with a connection now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Nothing to do; look again after this long (or on an event).
    Wait(Duration),
    /// Ask the connection to close (no request in flight).
    Close(&'static str),
    /// Drop the connection: the client stopped reading.
    Abort(&'static str),
}

/// The watchdog's decision, from the connection's state at `now` (times since it opened).
fn verdict(
    state: State,
    write_blocked: Option<Duration>,
    now: Duration,
    limits: &Limits,
) -> Verdict {
    let mut wait = limits.poll_interval();
    if let Some(since) = write_blocked {
        let deadline = since + limits.write_timeout;
        if now >= deadline {
            return Verdict::Abort("the client did not read the response within the timeout");
        }
        wait = wait.min(deadline - now);
    }
    let (deadline, reason) = match state {
        State::Busy => return Verdict::Wait(wait),
        State::Idle { since } => (
            since + limits.idle_timeout,
            "idle keep-alive connection timed out",
        ),
        State::ReadingHead { since } => (
            since + limits.header_read_timeout,
            "request headers not received within the timeout",
        ),
    };
    if now >= deadline {
        Verdict::Close(reason)
    } else {
        Verdict::Wait(wait.min(deadline - now))
    }
}

/// Serves HTTP on `io` until the connection ends, closing it when it is idle, too slow to send
/// its headers, or not reading its response (see [`verdict`]), or when the server stops.
async fn drive<I, M: MakeService>(
    io: I,
    peer: SocketAddr,
    shared: &Shared<M>,
    activity: &Arc<Activity>,
    signals: ConnSignals,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let ConnSignals {
        mut stop,
        mut pressure,
    } = signals;
    let service = TrackedService::new(shared.service.for_client(peer), Arc::clone(activity));
    let conn = shared.builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut stop_open = true;
    let mut pressure_open = true;
    // When the connection was asked to close because of a timeout.
    let mut closing: Option<Duration> = None;
    if *stop.borrow_and_update() {
        conn.as_mut().graceful_shutdown();
        stop_open = false;
    }
    loop {
        let now = activity.elapsed();
        let wait = match verdict(
            activity.state(),
            activity.write_blocked_since(),
            now,
            &shared.limits,
        ) {
            Verdict::Wait(wait) => wait,
            Verdict::Abort(reason) => {
                tracing::info!(%peer, reason, "connection closed");
                return Ok(());
            }
            Verdict::Close(reason) => match closing {
                None => {
                    tracing::debug!(%peer, reason, "closing connection");
                    conn.as_mut().graceful_shutdown();
                    closing = Some(now);
                    Duration::ZERO
                }
                Some(at) if now >= at + CLOSE_GRACE => {
                    tracing::debug!(%peer, "connection did not close in time; dropping it");
                    return Ok(());
                }
                Some(at) => at + CLOSE_GRACE - now,
            },
        };
        tokio::select! {
            biased;
            result = conn.as_mut() => return result,
            changed = stop.changed(), if stop_open => {
                stop_open = false;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
            changed = pressure.changed(), if pressure_open => match changed {
                Err(_) => pressure_open = false,
                Ok(()) => {
                    let idle = match activity.state() {
                        State::Idle { since } => activity.elapsed().saturating_sub(since),
                        State::Busy | State::ReadingHead { .. } => Duration::ZERO,
                    };
                    if idle >= PRESSURE_MIN_IDLE && closing.is_none() {
                        tracing::debug!(%peer, "closing idle connection: connection cap reached");
                        conn.as_mut().graceful_shutdown();
                        closing = Some(activity.elapsed());
                    }
                }
            },
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Accept errors: per-connection ones are skipped; resource exhaustion (e.g. too many open
/// files) is logged and retried after a pause instead of spinning.
async fn accept_error(e: io::Error) {
    match e.kind() {
        io::ErrorKind::ConnectionAborted
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::Interrupted => {
            tracing::debug!(error = %e, "accept failed");
        }
        _ => {
            tracing::error!(error = %e, "accept failed; retrying shortly");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The URL clients use for `addr`: an unspecified address (0.0.0.0 / ::) is shown as loopback.
pub fn client_url(addr: SocketAddr, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("{scheme}://{addr}")
}

/// The URL of the listening socket itself.
pub fn listen_url(addr: SocketAddr, tls: bool) -> String {
    format!("{}://{addr}", if tls { "https" } else { "http" })
}

/// SIGTERM and SIGINT, counted: the first starts the graceful shutdown, the second cuts its
/// wait short.
pub struct Signals {
    count: watch::Receiver<u32>,
}

impl Signals {
    /// Installs the handlers (do this before announcing the server, so that an early signal is
    /// not fatal).
    pub fn install() -> io::Result<Self> {
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let (tx, count) = watch::channel(0u32);
        tokio::spawn(async move {
            loop {
                let name = tokio::select! {
                    Some(()) = term.recv() => "SIGTERM",
                    Some(()) = int.recv() => "SIGINT",
                    else => return,
                };
                tracing::info!(signal = name, "signal received");
                tx.send_modify(|n| *n += 1);
            }
        });
        Ok(Self { count })
    }

    /// Resolves once `n` signals have arrived.
    pub fn nth(&self, n: u32) -> impl Future<Output = ()> + use<> {
        let mut count = self.count.clone();
        async move {
            if count.wait_for(|c| *c >= n).await.is_err() {
                // The handler task is gone (runtime shutting down): never resolve from here.
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            idle_timeout: Duration::from_secs(20),
            header_read_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(30),
            max_connections: 10,
            max_connections_per_ip: 5,
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn idle_connection_closes_after_the_idle_timeout() {
        let l = limits();
        let idle = State::Idle { since: secs(100) };
        assert_eq!(
            verdict(idle, None, secs(110), &l),
            Verdict::Wait(secs(2) + Duration::from_millis(500))
        );
        assert_eq!(verdict(idle, None, secs(119), &l), Verdict::Wait(secs(1)));
        assert!(matches!(
            verdict(idle, None, secs(120), &l),
            Verdict::Close(_)
        ));
    }

    #[test]
    fn headers_get_the_header_timeout_from_their_first_byte() {
        let l = limits();
        let head = State::ReadingHead { since: secs(119) };
        assert_eq!(
            verdict(head, None, secs(120), &l),
            Verdict::Wait(secs(2) + Duration::from_millis(500))
        );
        assert_eq!(verdict(head, None, secs(123), &l), Verdict::Wait(secs(1)));
        assert!(matches!(
            verdict(head, None, secs(124), &l),
            Verdict::Close(_)
        ));
    }

    #[test]
    fn a_request_in_flight_is_never_idle_but_must_be_read() {
        let l = limits();
        assert_eq!(
            verdict(State::Busy, None, secs(10_000), &l),
            Verdict::Wait(l.poll_interval())
        );
        assert_eq!(
            verdict(State::Busy, Some(secs(10)), secs(39), &l),
            Verdict::Wait(secs(1))
        );
        assert!(matches!(
            verdict(State::Busy, Some(secs(10)), secs(40), &l),
            Verdict::Abort(_)
        ));
        // A stalled write also ends an idle connection (the tail of a response).
        let idle = State::Idle { since: secs(39) };
        assert!(matches!(
            verdict(idle, Some(secs(10)), secs(40), &l),
            Verdict::Abort(_)
        ));
    }

    #[test]
    fn poll_interval_follows_the_shortest_timeout() {
        let mut l = limits();
        assert_eq!(l.poll_interval(), Duration::from_millis(2500));
        l.header_read_timeout = Duration::from_millis(10);
        assert_eq!(l.poll_interval(), Duration::from_millis(50));
    }
}
