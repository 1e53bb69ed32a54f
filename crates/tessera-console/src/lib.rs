//! The web console: an adapter beside the S3 one. It serves the browser assets embedded in the
//! binary, logs users in with an access key and its secret, and forwards every action to the
//! S3 (and IAM/STS) endpoint of the same process through an [`Upstream`], signed with SigV4 as
//! the session's key: the endpoint authenticates and authorizes each forwarded request as it
//! would an SDK's, so the console can do nothing the key could not, and a key deleted or made
//! inactive stops working at its next request.
//!
//! # HTTP API (JSON bodies; errors are `{"code": "...", "message": "..."}`)
//! - `GET /`, `GET /index.html`: the page; `GET /assets/<name>`: an embedded asset.
//! - `POST /api/login` `{"accessKeyId", "secretAccessKey"}` → `{"accessKeyId", "accountId",
//!   "arn", "userName" (null for the account root), "csrfToken"}` and the session cookie
//!   `tessera_session` (HttpOnly, SameSite=Strict, Secure under TLS, no expiry date).
//! - `GET /api/session` → the same JSON, or 401 `NotLoggedIn`.
//! - `POST /api/logout` → 204; the session ends and the cookie is cleared.
//! - `ANY /api/s3/{path}?{query}` → the S3 request `{method} /{path}?{query}` (path style),
//!   bodies streamed both ways, the S3 answer (status, headers, XML or object) as it is.
//! - `POST /api/iam`, `POST /api/sts` with a form-encoded Query API body → the IAM / STS answer.
//!
//! Every `/api/*` route but login needs the session cookie (else 401 `NotLoggedIn`). Requests
//! other than GET and HEAD must carry `X-CSRF-Token` with the session's token (else 403
//! `InvalidCsrfToken`), and an `Origin` header, if any, naming the console itself (else 403
//! `InvalidOrigin`). Sessions live in this process's memory: they are per node.

// A panic on a request path takes down the request's task: return an error instead (tests may panic).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod assets;
mod forward;
mod limiter;
mod session;
mod sign;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Empty, Full};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use session::{Identity, Session, Sessions};

/// Error type of [`Body`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of requests and responses between the console, the browser and the [`Upstream`].
pub type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// The S3 endpoint the console forwards to, in the same process.
pub trait Upstream: Send + Sync + 'static {
    /// Serves one request (signed by the console, path style) from the browser at `peer`.
    fn call(&self, req: Request<Body>, peer: SocketAddr) -> BoxFuture<'static, Response<Body>>;
}

/// Default idle time after which a session ends.
pub const DEFAULT_SESSION_IDLE: Duration = Duration::from_secs(30 * 60);
/// Default age at which a session ends, used or not.
pub const DEFAULT_SESSION_MAX_AGE: Duration = Duration::from_secs(12 * 3600);
/// Default bound on live sessions (a login beyond ends the oldest).
pub const DEFAULT_MAX_SESSIONS: usize = 10_000;
/// Default bound on login attempts per client address and minute.
pub const DEFAULT_LOGINS_PER_MINUTE: u32 = 10;

/// Name of the session cookie.
const COOKIE: &str = "tessera_session";
/// Largest login body.
const MAX_LOGIN_BODY: usize = 4 * 1024;
/// Largest IAM / STS body (the endpoint's own bound).
const MAX_IAM_BODY: usize = 128 * 1024;
/// Largest upstream answer the console reads itself (GetCallerIdentity at login).
const MAX_LOGIN_ANSWER: usize = 64 * 1024;

/// The page's policy: its own scripts and styles only, nothing inline, no framing.
const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";
/// The API's policy: an object opened from the API renders sandboxed (no script, an opaque
/// origin), so that stored HTML cannot act in the console's origin.
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'; sandbox";

/// Settings of the console.
#[derive(Clone, Debug)]
pub struct ConsoleConfig {
    /// The region requests are signed for (the S3 endpoint's).
    pub region: String,
    /// The Host of forwarded requests: the S3 listener's address (never a virtual-host name,
    /// so requests stay path style).
    pub upstream_host: String,
    /// The console is served over TLS: cookies are `Secure`, origins `https`.
    pub tls: bool,
    /// A session unused for this long ends.
    pub session_idle: Duration,
    /// A session ends this long after login.
    pub session_max_age: Duration,
    /// Live sessions at most.
    pub max_sessions: usize,
    /// Login attempts per client address and minute.
    pub logins_per_minute: u32,
    /// A request body (login, IAM) that sends nothing for this long fails.
    pub body_timeout: Duration,
}

impl ConsoleConfig {
    /// The default settings for an endpoint in `region` listening at `upstream_host`.
    pub fn new(region: impl Into<String>, upstream_host: impl Into<String>, tls: bool) -> Self {
        Self {
            region: region.into(),
            upstream_host: upstream_host.into(),
            tls,
            session_idle: DEFAULT_SESSION_IDLE,
            session_max_age: DEFAULT_SESSION_MAX_AGE,
            max_sessions: DEFAULT_MAX_SESSIONS,
            logins_per_minute: DEFAULT_LOGINS_PER_MINUTE,
            body_timeout: Duration::from_secs(30),
        }
    }
}

struct Inner {
    config: ConsoleConfig,
    upstream: Arc<dyn Upstream>,
    sessions: Sessions,
    logins: limiter::LoginLimiter,
}

/// The console's HTTP service (cheap to clone).
#[derive(Clone)]
pub struct Console {
    inner: Arc<Inner>,
}

/// The console's service for one connection, as hyper calls it.
#[derive(Clone)]
pub struct ConsoleService {
    console: Console,
    peer: SocketAddr,
}

impl hyper::service::Service<Request<hyper::body::Incoming>> for ConsoleService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn call(&self, req: Request<hyper::body::Incoming>) -> Self::Future {
        let fut = self.console.handle(req, self.peer);
        Box::pin(async move { Ok(fut.await) })
    }
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// Which security headers a response gets.
#[derive(Clone, Copy)]
enum Kind {
    Page,
    Api,
}

fn secure(mut resp: Response<Body>, kind: Kind) -> Response<Body> {
    let h = resp.headers_mut();
    let csp = match kind {
        Kind::Page => PAGE_CSP,
        Kind::Api => API_CSP,
    };
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// A JSON answer (never cached: it may carry the CSRF token).
fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut resp = Response::new(full(value.to_string()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    secure(resp, Kind::Api)
}

/// A JSON error `{"code", "message"}`.
fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json(
        status,
        &serde_json::json!({ "code": code, "message": message }),
    )
}

fn not_logged_in() -> Response<Body> {
    error(
        StatusCode::UNAUTHORIZED,
        "NotLoggedIn",
        "Log in to use the console.",
    )
}

/// The `Set-Cookie` value of a new session, or of its removal (`None`).
fn cookie(id: Option<&str>, tls: bool) -> HeaderValue {
    let secure = if tls { "; Secure" } else { "" };
    let v = match id {
        Some(id) => format!("{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/{secure}"),
        None => format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The session cookie values a request carries (a browser may send more than one).
fn session_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| {
            let (name, value) = c.trim().split_once('=')?;
            (name == COOKIE && !value.is_empty()).then(|| value.to_owned())
        })
        .collect()
}

fn session_json(s: &Session) -> serde_json::Value {
    serde_json::json!({
        "accessKeyId": s.identity.access_key_id,
        "accountId": s.identity.account_id,
        "arn": s.identity.arn,
        "userName": s.identity.user_name,
        "csrfToken": s.csrf_token,
    })
}

/// The text of the first `<tag>` element of an XML document, unescaped.
fn xml_text(doc: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = doc.find(&open)? + open.len();
    let end = start + doc[start..].find(&close)?;
    Some(
        doc[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// Whether an access key id can be put in a SigV4 credential as it is.
fn plausible_key_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b',' | b'"' | b'\\'))
}

/// Reads a whole body of at most `limit` bytes; a body that sends nothing for `timeout` fails.
async fn read_body(
    mut body: Body,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, Response<Body>> {
    let mut buf = bytes::BytesMut::new();
    loop {
        let frame = match tokio::time::timeout(timeout, body.frame()).await {
            Ok(Some(Ok(frame))) => frame,
            Ok(None) => return Ok(buf.freeze()),
            Ok(Some(Err(_))) | Err(_) => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "RequestTimeout",
                    "The request body could not be read in time.",
                ))
            }
        };
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "EntityTooLarge",
                    &format!("The request body exceeds {limit} bytes."),
                ));
            }
            buf.extend_from_slice(&data);
        }
    }
}

/// What the console does with a request, by path and method.
enum Route {
    Asset(&'static assets::Asset),
    Login,
    Session,
    Logout,
    S3,
    Iam(&'static str),
    ApiNotFound,
    NotFound,
    MethodNotAllowed,
}

fn route(method: &Method, path: &str) -> Route {
    let read = *method == Method::GET || *method == Method::HEAD;
    let post = *method == Method::POST;
    let only = |ok: bool, r: Route| if ok { r } else { Route::MethodNotAllowed };
    match path {
        "/" | "/index.html" => match assets::find("index.html") {
            Some(a) => only(read, Route::Asset(a)),
            None => Route::NotFound,
        },
        "/api/login" => only(post, Route::Login),
        "/api/session" => only(read, Route::Session),
        "/api/logout" => only(post, Route::Logout),
        "/api/iam" => only(post, Route::Iam("iam")),
        "/api/sts" => only(post, Route::Iam("sts")),
        "/api/s3" => Route::S3,
        p if p.starts_with("/api/s3/") => Route::S3,
        p if p == "/api" || p.starts_with("/api/") => Route::ApiNotFound,
        p => match p.strip_prefix("/assets/").and_then(assets::find) {
            Some(a) => only(read, Route::Asset(a)),
            None => Route::NotFound,
        },
    }
}

impl Console {
    /// The console over `upstream`.
    pub fn new(config: ConsoleConfig, upstream: Arc<dyn Upstream>) -> Self {
        let sessions = Sessions::new(session::Limits {
            idle: config.session_idle,
            max_age: config.session_max_age,
            max_sessions: config.max_sessions,
        });
        let logins = limiter::LoginLimiter::new(config.logins_per_minute, Duration::from_secs(60));
        Self {
            inner: Arc::new(Inner {
                config,
                upstream,
                sessions,
                logins,
            }),
        }
    }

    /// The service for one connection from `peer` (the address login limits and the
    /// forwarded requests' aws:SourceIp use).
    pub fn for_client(&self, peer: SocketAddr) -> ConsoleService {
        ConsoleService {
            console: self.clone(),
            peer,
        }
    }

    /// Serves one request from `peer`.
    pub fn handle<B>(&self, req: Request<B>, peer: SocketAddr) -> BoxFuture<'static, Response<Body>>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let req = req.map(|b| b.map_err(|e| -> BoxError { e.into() }).boxed_unsync());
        let this = self.clone();
        Box::pin(async move { this.serve(req, peer).await })
    }

    async fn serve(&self, req: Request<Body>, peer: SocketAddr) -> Response<Body> {
        let method = req.method().clone();
        match route(&method, req.uri().path()) {
            Route::Asset(a) => asset(a, method == Method::HEAD),
            Route::NotFound => {
                let mut resp = Response::new(full("Not Found\n"));
                *resp.status_mut() = StatusCode::NOT_FOUND;
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                secure(resp, Kind::Api)
            }
            Route::ApiNotFound => error(
                StatusCode::NOT_FOUND,
                "NoSuchRoute",
                "The console API has no such route.",
            ),
            Route::MethodNotAllowed => error(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "The method is not allowed on this route.",
            ),
            Route::Login => self.login(req, peer).await,
            route => {
                let Some((id, session)) = self.session_of(req.headers()) else {
                    let mut resp = not_logged_in();
                    if !session_cookies(req.headers()).is_empty() {
                        // A stale cookie: have the browser forget it.
                        resp.headers_mut()
                            .insert(header::SET_COOKIE, cookie(None, self.inner.config.tls));
                    }
                    return resp;
                };
                if method != Method::GET && method != Method::HEAD {
                    if let Err(resp) = self.check_origin(&req) {
                        return resp;
                    }
                    if !csrf_ok(req.headers(), &session) {
                        tracing::info!(%peer, access_key = %session.identity.access_key_id, "console: request refused, CSRF token missing or wrong");
                        return error(
                            StatusCode::FORBIDDEN,
                            "InvalidCsrfToken",
                            "The X-CSRF-Token header is missing or does not match the session.",
                        );
                    }
                }
                match route {
                    Route::Session => json(StatusCode::OK, &session_json(&session)),
                    Route::Logout => {
                        self.inner.sessions.remove(&id);
                        tracing::info!(%peer, access_key = %session.identity.access_key_id, "console: logout");
                        let mut resp = Response::new(empty());
                        *resp.status_mut() = StatusCode::NO_CONTENT;
                        resp.headers_mut()
                            .insert(header::SET_COOKIE, cookie(None, self.inner.config.tls));
                        resp.headers_mut()
                            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                        secure(resp, Kind::Api)
                    }
                    Route::S3 => self.forward_s3(req, &session, peer).await,
                    Route::Iam(service) => self.forward_iam(req, &session, peer, service).await,
                    _ => error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "InternalError",
                        "Unrouted request.",
                    ),
                }
            }
        }
    }

    /// The live session of the request's cookie, with the cookie value.
    fn session_of(&self, headers: &HeaderMap) -> Option<(String, Arc<Session>)> {
        session_cookies(headers)
            .into_iter()
            .find_map(|id| self.inner.sessions.get(&id).map(|s| (id, s)))
    }

    /// Refuses a request whose `Origin` is not the console's own (scheme, host and port).
    #[allow(clippy::result_large_err)]
    fn check_origin<B>(&self, req: &Request<B>) -> Result<(), Response<Body>> {
        if same_origin(req, self.inner.config.tls) {
            Ok(())
        } else {
            tracing::info!(origin = ?req.headers().get(header::ORIGIN), "console: request refused, foreign Origin");
            Err(error(
                StatusCode::FORBIDDEN,
                "InvalidOrigin",
                "The request comes from another origin than the console.",
            ))
        }
    }

    async fn login(&self, req: Request<Body>, peer: SocketAddr) -> Response<Body> {
        if let Err(resp) = self.check_origin(&req) {
            return resp;
        }
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
            });
        if !is_json {
            // A cross-site form cannot send JSON without a preflight the console never answers.
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "InvalidRequest",
                "Send the login as application/json.",
            );
        }
        if !self.inner.logins.attempt(peer.ip()) {
            tracing::warn!(%peer, "console: login refused, too many attempts from this address");
            return error(
                StatusCode::TOO_MANY_REQUESTS,
                "SlowDown",
                "Too many login attempts; try again in a minute.",
            );
        }
        let previous = session_cookies(req.headers());
        let (_, body) = req.into_parts();
        let body = match read_body(body, MAX_LOGIN_BODY, self.inner.config.body_timeout).await {
            Ok(b) => Zeroizing::new(b.to_vec()),
            Err(resp) => return resp,
        };
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Login {
            access_key_id: String,
            secret_access_key: String,
        }
        let Ok(login) = serde_json::from_slice::<Login>(&body) else {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidArgument",
                "Expected {\"accessKeyId\": \"...\", \"secretAccessKey\": \"...\"}.",
            );
        };
        // Wiped when dropped, whatever the outcome.
        let secret = Zeroizing::new(login.secret_access_key);
        if !plausible_key_id(&login.access_key_id) || secret.is_empty() {
            return error(
                StatusCode::UNAUTHORIZED,
                "InvalidAccessKeyId",
                "The access key ID you provided does not exist in our records.",
            );
        }
        match self
            .caller_identity(&login.access_key_id, &secret, peer)
            .await
        {
            Ok(identity) => {
                for old in previous {
                    self.inner.sessions.remove(&old);
                }
                tracing::info!(%peer, access_key = %identity.access_key_id, arn = %identity.arn, "console: login");
                let (id, session) = self.inner.sessions.create(identity, secret);
                let mut resp = json(StatusCode::OK, &session_json(&session));
                resp.headers_mut()
                    .insert(header::SET_COOKIE, cookie(Some(&id), self.inner.config.tls));
                resp
            }
            Err(resp) => {
                tracing::info!(%peer, access_key = %login.access_key_id, status = resp.status().as_u16(), "console: login refused");
                resp
            }
        }
    }

    /// Asks STS who `access_key` is, signing with `secret`: the endpoint checks the signature
    /// (in constant time) and that the key is active.
    async fn caller_identity(
        &self,
        access_key: &str,
        secret: &str,
        peer: SocketAddr,
    ) -> Result<Identity, Response<Body>> {
        let body = Bytes::from_static(b"Action=GetCallerIdentity&Version=2011-06-15");
        let req = self
            .signed_query_request("sts", access_key, secret, body)
            .map_err(|e| {
                error(
                    StatusCode::UNAUTHORIZED,
                    "InvalidAccessKeyId",
                    &e.to_string(),
                )
            })?;
        let resp = tokio::time::timeout(
            self.inner.config.body_timeout,
            self.inner.upstream.call(req, peer),
        )
        .await
        .map_err(|_| unavailable())?;
        let status = resp.status();
        let text = read_body(
            resp.into_body(),
            MAX_LOGIN_ANSWER,
            self.inner.config.body_timeout,
        )
        .await
        .map_err(|_| unavailable())?;
        let text = String::from_utf8_lossy(&text);
        if status == StatusCode::OK {
            let arn = xml_text(&text, "Arn").unwrap_or_default();
            let account_id = xml_text(&text, "Account").unwrap_or_default();
            let user_name = arn
                .split_once(":user/")
                .and_then(|(_, path)| path.rsplit('/').next())
                .map(str::to_owned);
            return Ok(Identity {
                access_key_id: access_key.to_owned(),
                account_id,
                arn,
                user_name,
            });
        }
        if status.is_server_error() {
            return Err(unavailable());
        }
        let code = xml_text(&text, "Code").unwrap_or_default();
        Err(match code.as_str() {
            "InvalidClientTokenId" => error(
                StatusCode::UNAUTHORIZED,
                "InvalidAccessKeyId",
                "The access key ID does not exist or is not active.",
            ),
            "SignatureDoesNotMatch" => error(
                StatusCode::UNAUTHORIZED,
                "SignatureDoesNotMatch",
                "The secret access key does not match the access key ID.",
            ),
            _ => error(
                StatusCode::UNAUTHORIZED,
                "AccessDenied",
                &xml_text(&text, "Message").unwrap_or_else(|| "Access denied.".into()),
            ),
        })
    }

    /// A signed IAM / STS Query API request (`POST /`, form body) to the upstream.
    fn signed_query_request(
        &self,
        service: &str,
        access_key: &str,
        secret: &str,
        body: Bytes,
    ) -> Result<Request<Body>, sign::SignError> {
        let mut req = Request::new(());
        *req.method_mut() = Method::POST;
        *req.uri_mut() = http::Uri::from_static("/");
        let h = req.headers_mut();
        if let Ok(host) = HeaderValue::from_str(&self.inner.config.upstream_host) {
            h.insert(header::HOST, host);
        }
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        let (mut parts, ()) = req.into_parts();
        sign::sign(
            &mut parts,
            &sign::Credentials { access_key, secret },
            &sign::Scope {
                region: &self.inner.config.region,
                service,
                now: time::OffsetDateTime::now_utc(),
            },
            &sign::sha256_hex(&body),
        )?;
        Ok(Request::from_parts(parts, full(body)))
    }

    /// `ANY /api/s3/...`: the S3 request, signed as the session's key, its answer as it is.
    async fn forward_s3(
        &self,
        req: Request<Body>,
        session: &Session,
        peer: SocketAddr,
    ) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let raw = parts.uri.path().strip_prefix("/api/s3").unwrap_or("");
        let path = forward::s3_path(raw);
        let query = forward::s3_query(parts.uri.query());
        let target = if query.is_empty() {
            path
        } else {
            format!("{path}?{query}")
        };
        let Ok(uri) = target.parse::<http::Uri>() else {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidURI",
                "Couldn't parse the specified URI.",
            );
        };
        let mut out = Request::new(());
        *out.method_mut() = parts.method.clone();
        *out.uri_mut() = uri;
        *out.headers_mut() = forward::forwarded_headers(&parts.headers);
        if let Ok(host) = HeaderValue::from_str(&self.inner.config.upstream_host) {
            out.headers_mut().insert(header::HOST, host);
        }
        let (mut out_parts, ()) = out.into_parts();
        let signed = sign::sign(
            &mut out_parts,
            &sign::Credentials {
                access_key: &session.identity.access_key_id,
                secret: &session.secret,
            },
            &sign::Scope {
                region: &self.inner.config.region,
                service: "s3",
                now: time::OffsetDateTime::now_utc(),
            },
            sign::UNSIGNED_PAYLOAD,
        );
        if let Err(e) = signed {
            return error(StatusCode::BAD_REQUEST, "InvalidArgument", &e.to_string());
        }
        let method = out_parts.method.clone();
        let resp = self
            .inner
            .upstream
            .call(Request::from_parts(out_parts, body), peer)
            .await;
        tracing::debug!(%peer, access_key = %session.identity.access_key_id, %method, path = raw, status = resp.status().as_u16(), "console: s3 request");
        pass_through(resp)
    }

    /// `POST /api/iam` and `/api/sts`: the form body, signed for `service` as the session's key.
    async fn forward_iam(
        &self,
        req: Request<Body>,
        session: &Session,
        peer: SocketAddr,
        service: &str,
    ) -> Response<Body> {
        let body = match read_body(
            req.into_body(),
            MAX_IAM_BODY,
            self.inner.config.body_timeout,
        )
        .await
        {
            Ok(b) => b,
            Err(resp) => return resp,
        };
        let signed = self.signed_query_request(
            service,
            &session.identity.access_key_id,
            &session.secret,
            body,
        );
        let out = match signed {
            Ok(r) => r,
            Err(e) => return error(StatusCode::BAD_REQUEST, "InvalidArgument", &e.to_string()),
        };
        let resp = self.inner.upstream.call(out, peer).await;
        tracing::debug!(%peer, access_key = %session.identity.access_key_id, service, status = resp.status().as_u16(), "console: iam request");
        pass_through(resp)
    }
}

fn unavailable() -> Response<Body> {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
        "The endpoint could not check the key; try again.",
    )
}

/// Whether the request has no `Origin` or names the console itself: its scheme, and the host
/// and port the request was sent to (`Host`, or HTTP/2's `:authority`).
fn same_origin<B>(req: &Request<B>, tls: bool) -> bool {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return true;
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(http::uri::Authority::as_str));
    let scheme = if tls { "https" } else { "http" };
    match (origin.to_str(), host) {
        (Ok(origin), Some(host)) => origin.eq_ignore_ascii_case(&format!("{scheme}://{host}")),
        _ => false,
    }
}

/// Whether the request's `X-CSRF-Token` is the session's (compared in constant time).
fn csrf_ok(headers: &HeaderMap, session: &Session) -> bool {
    headers
        .get("x-csrf-token")
        .is_some_and(|v| bool::from(v.as_bytes().ct_eq(session.csrf_token.as_bytes())))
}

/// An upstream answer for the browser: as it is, minus what only the hop between the console
/// and the endpoint means, plus the API's security headers.
fn pass_through(resp: Response<Body>) -> Response<Body> {
    let mut resp = resp;
    let h = resp.headers_mut();
    for name in [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        header::TRAILER,
        header::TE,
        header::SET_COOKIE,
        header::HeaderName::from_static("keep-alive"),
        header::HeaderName::from_static("proxy-connection"),
    ] {
        h.remove(name);
    }
    secure(resp, Kind::Api)
}

fn asset(a: &'static assets::Asset, head: bool) -> Response<Body> {
    let body = if head {
        empty()
    } else {
        full(Bytes::from_static(a.bytes))
    };
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(a.bytes.len()));
    // The page is never cached (it names the scripts); assets are revalidated.
    let cache = if a.name == "index.html" {
        "no-store"
    } else {
        "no-cache"
    };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    secure(resp, Kind::Page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert!(matches!(route(&Method::GET, "/"), Route::Asset(_)));
        assert!(matches!(
            route(&Method::GET, "/index.html"),
            Route::Asset(_)
        ));
        assert!(matches!(
            route(&Method::GET, "/assets/app.js"),
            Route::Asset(_)
        ));
        assert!(matches!(
            route(&Method::HEAD, "/assets/app.css"),
            Route::Asset(_)
        ));
        assert!(matches!(route(&Method::POST, "/"), Route::MethodNotAllowed));
        assert!(matches!(
            route(&Method::GET, "/assets/nope.js"),
            Route::NotFound
        ));
        assert!(matches!(
            route(&Method::GET, "/assets/../Cargo.toml"),
            Route::NotFound
        ));
        assert!(matches!(route(&Method::GET, "/elsewhere"), Route::NotFound));
        assert!(matches!(route(&Method::POST, "/api/login"), Route::Login));
        assert!(matches!(
            route(&Method::GET, "/api/login"),
            Route::MethodNotAllowed
        ));
        assert!(matches!(
            route(&Method::GET, "/api/session"),
            Route::Session
        ));
        assert!(matches!(route(&Method::POST, "/api/logout"), Route::Logout));
        assert!(matches!(route(&Method::GET, "/api/s3"), Route::S3));
        assert!(matches!(route(&Method::DELETE, "/api/s3/b/k"), Route::S3));
        assert!(matches!(
            route(&Method::GET, "/api/s3x"),
            Route::ApiNotFound
        ));
        assert!(matches!(
            route(&Method::POST, "/api/iam"),
            Route::Iam("iam")
        ));
        assert!(matches!(
            route(&Method::POST, "/api/sts"),
            Route::Iam("sts")
        ));
        assert!(matches!(
            route(&Method::GET, "/api/other"),
            Route::ApiNotFound
        ));
    }

    #[test]
    fn cookies() {
        let set = cookie(Some("abc"), false);
        assert_eq!(
            set,
            "tessera_session=abc; HttpOnly; SameSite=Strict; Path=/"
        );
        let set = cookie(Some("abc"), true);
        assert!(set.to_str().unwrap().ends_with("; Secure"));
        let clear = cookie(None, false);
        assert!(clear.to_str().unwrap().contains("Max-Age=0"));
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; tessera_session=x1; b=2"),
        );
        h.append(
            header::COOKIE,
            HeaderValue::from_static("tessera_session=x2"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("tessera_session="));
        assert_eq!(session_cookies(&h), ["x1", "x2"]);
    }

    #[test]
    fn origins() {
        let req = |origin: Option<&str>, host: Option<&str>, uri: &str| {
            let mut b = Request::builder().method("POST").uri(uri);
            if let Some(o) = origin {
                b = b.header(header::ORIGIN, o);
            }
            if let Some(h) = host {
                b = b.header(header::HOST, h);
            }
            b.body(()).unwrap()
        };
        assert!(same_origin(
            &req(None, Some("c:9001"), "/api/logout"),
            false
        ));
        assert!(same_origin(
            &req(Some("http://c:9001"), Some("c:9001"), "/"),
            false
        ));
        assert!(same_origin(
            &req(Some("http://C:9001"), Some("c:9001"), "/"),
            false
        ));
        assert!(!same_origin(
            &req(Some("https://c:9001"), Some("c:9001"), "/"),
            false
        ));
        assert!(same_origin(
            &req(Some("https://c:9001"), Some("c:9001"), "/"),
            true
        ));
        assert!(!same_origin(
            &req(Some("http://c:9002"), Some("c:9001"), "/"),
            false
        ));
        assert!(!same_origin(&req(Some("null"), Some("c:9001"), "/"), false));
        assert!(!same_origin(&req(Some("http://c:9001"), None, "/"), false));
        // HTTP/2 has no Host header: the request's authority.
        assert!(same_origin(
            &req(Some("https://c:9001"), None, "https://c:9001/api/logout"),
            true
        ));
        assert!(!same_origin(
            &req(Some("https://d:9001"), None, "https://c:9001/api/logout"),
            true
        ));
    }

    #[test]
    fn reads_xml_leaves() {
        let doc = "<R><Arn>arn:aws:iam::1:user/a&amp;b</Arn><Account>1</Account></R>";
        assert_eq!(
            xml_text(doc, "Arn").as_deref(),
            Some("arn:aws:iam::1:user/a&b")
        );
        assert_eq!(xml_text(doc, "Account").as_deref(), Some("1"));
        assert_eq!(xml_text(doc, "UserId"), None);
    }

    #[test]
    fn key_ids_that_fit_a_credential() {
        assert!(plausible_key_id("AKIAIOSFODNN7EXAMPLE"));
        assert!(!plausible_key_id(""));
        assert!(!plausible_key_id("a/b"));
        assert!(!plausible_key_id("a b"));
        assert!(!plausible_key_id(&"A".repeat(129)));
    }
}
