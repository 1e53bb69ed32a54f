//! The console API over a loopback port, forwarding to the real S3 service (in-memory stores)
//! in the same process: sessions, CSRF and Origin checks, and that each action is the session
//! key's own (one account cannot see another's buckets, a deactivated key stops at once).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use tessera_console::{Body, Console, ConsoleConfig, Upstream};
use tessera_core::{MetaStore, Options, Tessera};
use tessera_s3::{EndpointConfig, HttpBody, HttpService};
use tessera_testing::{MemBlobStore, MemMetaStore};

const ROOT_KEY: &str = "ROOTKEY0000000000001";
const ROOT_SECRET: &str = "root/Secret+0123456789";

/// The S3 service as the console's upstream, as the binary wires it.
struct S3(HttpService);

impl Upstream for S3 {
    fn call(&self, req: Request<Body>, peer: SocketAddr) -> BoxFuture<'static, Response<Body>> {
        let fut = self
            .0
            .for_client(peer)
            .handle(req.map(HttpBody::http_body_unsync));
        Box::pin(async move { fut.await.unwrap().map(|b| b.boxed_unsync()) })
    }
}

struct World {
    app: Arc<Tessera>,
    console: SocketAddr,
    alt_key: (String, String),
}

async fn world_with(tune: impl FnOnce(&mut ConsoleConfig)) -> World {
    let t = Tessera::open(
        Arc::new(MemMetaStore::new()) as Arc<dyn MetaStore>,
        Arc::new(MemBlobStore::new()),
        Options::default(),
    )
    .await
    .unwrap();
    t.ensure_root_account(ROOT_KEY, ROOT_SECRET).await.unwrap();
    let (_, alt) = t.create_account("alt", None, None).await.unwrap();
    let app = Arc::new(t);
    let service = tessera_s3::build_service(
        app.clone(),
        EndpointConfig {
            region: "us-east-1".into(),
            domain: None,
            allow_sigv2: true,
            body_timeout: Duration::from_secs(30),
            tls: false,
            allow_sse_c_over_http: false,
        },
    )
    .unwrap();
    let mut config = ConsoleConfig::new("us-east-1", "127.0.0.1:9000", false);
    tune(&mut config);
    let console = Console::new(config, Arc::new(S3(service)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, peer) = listener.accept().await.unwrap();
            let service = console.for_client(peer);
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    World {
        app,
        console: addr,
        alt_key: (alt.access_key_id, alt.secret),
    }
}

async fn world() -> World {
    world_with(|_| {}).await
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_owned()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }
}

/// One request on a new connection.
async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Answer {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = sender
        .send_request(req.body(Full::new(body.into())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body,
    }
}

/// A logged-in browser: its cookie and CSRF token.
struct Browser {
    addr: SocketAddr,
    cookie: String,
    csrf: String,
}

impl Browser {
    async fn login(addr: SocketAddr, key: &str, secret: &str) -> Browser {
        let a = login(addr, key, secret).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
        let set = a.header("set-cookie");
        let cookie = set.split(';').next().unwrap().to_owned();
        Browser {
            addr,
            cookie,
            csrf: a.json()["csrfToken"].as_str().unwrap().to_owned(),
        }
    }

    /// A request with the cookie and, but for GET and HEAD, the CSRF token.
    async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Answer {
        let mut all = vec![("cookie", self.cookie.as_str())];
        if method != "GET" && method != "HEAD" {
            all.push(("x-csrf-token", self.csrf.as_str()));
        }
        all.extend_from_slice(headers);
        send(self.addr, method, path, &all, body).await
    }

    async fn get(&self, path: &str) -> Answer {
        self.call("GET", path, &[], Bytes::new()).await
    }

    async fn iam(&self, form: &str) -> Answer {
        self.call(
            "POST",
            "/api/iam",
            &[("content-type", "application/x-www-form-urlencoded")],
            form.to_owned(),
        )
        .await
    }
}

async fn login(addr: SocketAddr, key: &str, secret: &str) -> Answer {
    let body = serde_json::json!({ "accessKeyId": key, "secretAccessKey": secret }).to_string();
    send(
        addr,
        "POST",
        "/api/login",
        &[("content-type", "application/json")],
        body,
    )
    .await
}

fn bucket_names(list_xml: &str) -> Vec<String> {
    list_xml
        .split("<Name>")
        .skip(1)
        .map(|s| s.split("</Name>").next().unwrap().to_owned())
        .collect()
}

fn xml_leaf(doc: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = doc
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in {doc}"))
        + open.len();
    let end = start + doc[start..].find(&format!("</{tag}>")).unwrap();
    doc[start..end].to_owned()
}

#[tokio::test]
async fn assets_are_served_with_a_strict_policy() {
    let w = world().await;
    for path in ["/", "/index.html"] {
        let a = send(w.console, "GET", path, &[], Bytes::new()).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.header("content-type"), "text/html; charset=utf-8");
        assert!(a.text().contains("Tessera console"));
        let csp = a.header("content-security-policy");
        assert!(csp.contains("default-src 'self'"), "{csp}");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(a.header("cache-control"), "no-store");
        assert_eq!(a.header("x-content-type-options"), "nosniff");
        assert_eq!(a.header("x-frame-options"), "DENY");
        assert_eq!(a.header("referrer-policy"), "no-referrer");
    }
    let js = send(w.console, "GET", "/assets/app.js", &[], Bytes::new()).await;
    assert_eq!(js.status, StatusCode::OK);
    assert_eq!(js.header("content-type"), "text/javascript; charset=utf-8");
    assert!(js
        .header("content-security-policy")
        .contains("default-src 'self'"));
    let css = send(w.console, "GET", "/assets/app.css", &[], Bytes::new()).await;
    assert_eq!(css.header("content-type"), "text/css; charset=utf-8");
    let head = send(w.console, "HEAD", "/", &[], Bytes::new()).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    for missing in [
        "/assets/nope.js",
        "/assets/",
        "/assets/%2e%2e/Cargo.toml",
        "/somewhere",
    ] {
        let a = send(w.console, "GET", missing, &[], Bytes::new()).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{missing}");
        assert_eq!(a.header("x-content-type-options"), "nosniff");
    }
    let post = send(w.console, "POST", "/", &[], Bytes::new()).await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn the_api_needs_a_session() {
    let w = world().await;
    for (method, path) in [
        ("GET", "/api/s3/"),
        ("GET", "/api/session"),
        ("PUT", "/api/s3/newbucket"),
        ("POST", "/api/iam"),
        ("POST", "/api/sts"),
        ("POST", "/api/logout"),
    ] {
        let a = send(w.console, method, path, &[], Bytes::new()).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(a.code(), "NotLoggedIn");
        assert_eq!(a.header("content-type"), "application/json");
        assert!(a.header("set-cookie").is_empty());
    }
    // A cookie of no session: refused, and the browser is told to drop it.
    let a = send(
        w.console,
        "GET",
        "/api/s3/",
        &[("cookie", "tessera_session=forged")],
        Bytes::new(),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.header("set-cookie").contains("Max-Age=0"));
    assert!(w.app.bucket("newbucket").await.is_err());
    let a = send(w.console, "GET", "/api/nothing", &[], Bytes::new()).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.code(), "NoSuchRoute");
}

#[tokio::test]
async fn login_refuses_a_wrong_secret_or_an_unknown_key() {
    let w = world().await;
    let a = login(w.console, ROOT_KEY, "not-the-secret").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.code(), "SignatureDoesNotMatch");
    assert!(a.header("set-cookie").is_empty());
    let a = login(w.console, "NOSUCHKEY00000000000", "whatever").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.code(), "InvalidAccessKeyId");
    let a = login(w.console, "bad/key", "whatever").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.code(), "InvalidAccessKeyId");
    // Not JSON (what a cross-site form would send), or not the expected shape.
    let form = format!("accessKeyId={ROOT_KEY}&secretAccessKey={ROOT_SECRET}");
    let a = send(
        w.console,
        "POST",
        "/api/login",
        &[("content-type", "application/x-www-form-urlencoded")],
        form,
    )
    .await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let a = send(
        w.console,
        "POST",
        "/api/login",
        &[("content-type", "application/json")],
        "{\"accessKeyId\": 1}",
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let big = format!("{{\"accessKeyId\":\"{}\"}}", "A".repeat(5000));
    let a = send(
        w.console,
        "POST",
        "/api/login",
        &[("content-type", "application/json")],
        big,
    )
    .await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    // From another site's page.
    let body =
        serde_json::json!({ "accessKeyId": ROOT_KEY, "secretAccessKey": ROOT_SECRET }).to_string();
    let a = send(
        w.console,
        "POST",
        "/api/login",
        &[
            ("content-type", "application/json"),
            ("origin", "http://evil.example"),
        ],
        body,
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.code(), "InvalidOrigin");
}

#[tokio::test]
async fn login_sets_a_strict_http_only_browser_session_cookie() {
    let w = world().await;
    let a = login(w.console, ROOT_KEY, ROOT_SECRET).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let set = a.header("set-cookie").to_owned();
    let attrs: Vec<&str> = set.split(';').map(str::trim).collect();
    let (name, id) = attrs[0].split_once('=').unwrap();
    assert_eq!(name, "tessera_session");
    assert_eq!(id.len(), 43, "256 random bits, base64url");
    for want in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attrs.contains(&want), "{set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP: {set}");
    assert!(
        !set.contains("Max-Age") && !set.contains("Expires"),
        "{set}"
    );
    assert_eq!(a.header("cache-control"), "no-store");
    let j = a.json();
    assert_eq!(j["accessKeyId"], ROOT_KEY);
    assert!(j["arn"].as_str().unwrap().ends_with(":root"));
    assert_eq!(j["accountId"].as_str().unwrap().len(), 12);
    assert!(j["userName"].is_null());
    assert_eq!(j["csrfToken"].as_str().unwrap().len(), 43);
    let s = send(
        w.console,
        "GET",
        "/api/session",
        &[("cookie", attrs[0])],
        Bytes::new(),
    )
    .await;
    assert_eq!(s.status, StatusCode::OK);
    assert_eq!(s.json(), j);

    // Under TLS the cookie is Secure.
    let tls = world_with(|c| c.tls = true).await;
    let a = login(tls.console, ROOT_KEY, ROOT_SECRET).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert!(a
        .header("set-cookie")
        .split(';')
        .any(|p| p.trim() == "Secure"));
}

#[tokio::test]
async fn without_the_csrf_token_or_from_another_origin_nothing_changes() {
    let w = world().await;
    let b = Browser::login(w.console, ROOT_KEY, ROOT_SECRET).await;
    let cookie = [("cookie", b.cookie.as_str())];
    let a = send(
        w.console,
        "PUT",
        "/api/s3/csrf-bucket",
        &cookie,
        Bytes::new(),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.code(), "InvalidCsrfToken");
    let wrong = [("cookie", b.cookie.as_str()), ("x-csrf-token", "AAAA")];
    let a = send(
        w.console,
        "PUT",
        "/api/s3/csrf-bucket",
        &wrong,
        Bytes::new(),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.code(), "InvalidCsrfToken");
    let a = b
        .call(
            "PUT",
            "/api/s3/csrf-bucket",
            &[("origin", "http://evil.example")],
            Bytes::new(),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.code(), "InvalidOrigin");
    let a = b
        .call(
            "POST",
            "/api/iam",
            &[("origin", "null")],
            "Action=CreateUser&UserName=x&Version=2010-05-08",
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(
        w.app.bucket("csrf-bucket").await.is_err(),
        "no bucket was created"
    );
    assert!(w
        .app
        .list_users(&b_account(&w).await)
        .await
        .unwrap()
        .is_empty());
    // With the token, from the console's own origin: done.
    let own = format!("http://{}", w.console);
    let a = b
        .call(
            "PUT",
            "/api/s3/csrf-bucket",
            &[("origin", own.as_str())],
            Bytes::new(),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert!(w.app.bucket("csrf-bucket").await.is_ok());
    // GET needs no token.
    let a = b.get("/api/s3/").await;
    assert_eq!(bucket_names(&a.text()), ["csrf-bucket"]);
}

async fn b_account(w: &World) -> String {
    w.app
        .authenticate(ROOT_KEY)
        .await
        .unwrap()
        .principal
        .account
        .id
        .clone()
}

#[tokio::test]
async fn each_account_sees_only_its_own_buckets() {
    let w = world().await;
    let root = Browser::login(w.console, ROOT_KEY, ROOT_SECRET).await;
    let alt = Browser::login(w.console, &w.alt_key.0, &w.alt_key.1).await;
    assert_eq!(
        root.call("PUT", "/api/s3/root-bucket", &[], Bytes::new())
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        alt.call("PUT", "/api/s3/alt-bucket", &[], Bytes::new())
            .await
            .status,
        StatusCode::OK
    );
    let a = root.get("/api/s3/").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(bucket_names(&a.text()), ["root-bucket"]);
    let a = alt.get("/api/s3/").await;
    assert_eq!(bucket_names(&a.text()), ["alt-bucket"]);
    // The other account's bucket is refused as S3 refuses it.
    let a = alt.get("/api/s3/root-bucket?list-type=2").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(
        a.text().contains("<Code>AccessDenied</Code>"),
        "{}",
        a.text()
    );
    let a = alt
        .call("DELETE", "/api/s3/root-bucket", &[], Bytes::new())
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(w.app.bucket("root-bucket").await.is_ok());
    // STS says who each session is.
    let a = alt
        .call(
            "POST",
            "/api/sts",
            &[],
            "Action=GetCallerIdentity&Version=2011-06-15",
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert!(xml_leaf(&a.text(), "Arn").ends_with(":root"));
    assert_ne!(xml_leaf(&a.text(), "Account"), b_account(&w).await);
}

#[tokio::test]
async fn multipart_upload_through_the_console_and_read_back() {
    let w = world().await;
    let b = Browser::login(w.console, ROOT_KEY, ROOT_SECRET).await;
    assert_eq!(
        b.call("PUT", "/api/s3/mpu", &[], Bytes::new()).await.status,
        StatusCode::OK
    );
    let key = "/api/s3/mpu/dir/big%20file+1.bin";
    let a = b
        .call(
            "POST",
            &format!("{key}?uploads"),
            &[("content-type", "application/octet-stream")],
            Bytes::new(),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let upload_id = xml_leaf(&a.text(), "UploadId");
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let part1: Vec<u8> = (0..8 * 1024 * 1024 + 17)
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    let part2: Vec<u8> = b"the last part".to_vec();
    let mut etags = Vec::new();
    for (n, data) in [(1, &part1), (2, &part2)] {
        let len = data.len().to_string();
        let a = b
            .call(
                "PUT",
                &format!("{key}?partNumber={n}&uploadId={}", enc(&upload_id)),
                &[("content-length", len.as_str())],
                data.clone(),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
        etags.push(a.header("etag").to_owned());
    }
    // The upload in progress, with its parts.
    let a = b.get("/api/s3/mpu?uploads").await;
    assert!(a.text().contains(&upload_id), "{}", a.text());
    let a = b.get(&format!("{key}?uploadId={}", enc(&upload_id))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.text().matches("<Part>").count(), 2, "{}", a.text());
    assert!(a.text().contains(&format!("<Size>{}</Size>", part1.len())));
    let complete = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{}</ETag></Part>\
         <Part><PartNumber>2</PartNumber><ETag>{}</ETag></Part></CompleteMultipartUpload>",
        etags[0], etags[1]
    );
    let a = b
        .call(
            "POST",
            &format!("{key}?uploadId={}", enc(&upload_id)),
            &[("content-type", "application/xml")],
            complete,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert!(
        a.text().contains("CompleteMultipartUploadResult"),
        "{}",
        a.text()
    );
    let mut whole = part1.clone();
    whole.extend_from_slice(&part2);
    let a = b
        .get(&format!("{key}?response-content-disposition=attachment"))
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.header("content-length"), whole.len().to_string());
    assert_eq!(a.header("content-disposition"), "attachment");
    assert!(a.header("etag").ends_with("-2\""), "{}", a.header("etag"));
    assert_eq!(Sha256::digest(&a.body), Sha256::digest(&whole));
    assert_eq!(
        a.header("content-security-policy"),
        "default-src 'none'; frame-ancestors 'none'; sandbox"
    );
    // A range, and the listing names the key as stored.
    let a = b
        .call("GET", key, &[("range", "bytes=10-19")], Bytes::new())
        .await;
    assert_eq!(a.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(&a.body[..], &whole[10..20]);
    assert_eq!(
        a.header("content-range"),
        format!("bytes 10-19/{}", whole.len())
    );
    let a = b.get("/api/s3/mpu?list-type=2&prefix=dir%2F").await;
    assert_eq!(xml_leaf(&a.text(), "Key"), "dir/big file+1.bin");
}

#[tokio::test]
async fn a_deactivated_key_is_refused_at_its_next_request() {
    let w = world().await;
    let root = Browser::login(w.console, ROOT_KEY, ROOT_SECRET).await;
    // Root makes a user with a key and full S3 rights, through the console's IAM.
    let a = root
        .iam("Action=CreateUser&UserName=alice&Version=2010-05-08")
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let a = root
        .iam("Action=CreateAccessKey&UserName=alice&Version=2010-05-08")
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let (key, secret) = (
        xml_leaf(&a.text(), "AccessKeyId"),
        xml_leaf(&a.text(), "SecretAccessKey"),
    );
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    let form = format!(
        "Action=PutUserPolicy&UserName=alice&PolicyName=all&PolicyDocument={}&Version=2010-05-08",
        percent_encoding::utf8_percent_encode(policy, percent_encoding::NON_ALPHANUMERIC)
    );
    assert_eq!(root.iam(&form).await.status, StatusCode::OK);

    let alice = Browser::login(w.console, &key, &secret).await;
    let me = alice.get("/api/session").await.json();
    assert_eq!(me["userName"], "alice");
    assert!(me["arn"].as_str().unwrap().ends_with(":user/alice"));
    assert_eq!(
        alice
            .call("PUT", "/api/s3/alices", &[], Bytes::new())
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(alice.get("/api/s3/").await.status, StatusCode::OK);
    // IAM acts as alice too: she has no IAM rights.
    let a = alice.iam("Action=ListUsers&Version=2010-05-08").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text());
    assert!(a.text().contains("AccessDenied"));

    let form = format!("Action=UpdateAccessKey&UserName=alice&AccessKeyId={key}&Status=Inactive&Version=2010-05-08");
    assert_eq!(root.iam(&form).await.status, StatusCode::OK);
    let a = alice.get("/api/s3/").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text());
    assert!(
        a.text().contains("<Code>InvalidAccessKeyId</Code>"),
        "{}",
        a.text()
    );
    let a = alice
        .call("DELETE", "/api/s3/alices", &[], Bytes::new())
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(w.app.bucket("alices").await.is_ok());
    let a = alice.iam("Action=GetUser&Version=2010-05-08").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text());
    // Nor can the key log in again; once deleted, neither.
    let a = login(w.console, &key, &secret).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.code(), "InvalidAccessKeyId");
    let form =
        format!("Action=DeleteAccessKey&UserName=alice&AccessKeyId={key}&Version=2010-05-08");
    assert_eq!(root.iam(&form).await.status, StatusCode::OK);
    assert_eq!(alice.get("/api/s3/").await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn idle_sessions_expire() {
    let w = world_with(|c| c.session_idle = Duration::from_millis(600)).await;
    let b = Browser::login(w.console, ROOT_KEY, ROOT_SECRET).await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            b.get("/api/s3/").await.status,
            StatusCode::OK,
            "use keeps it alive"
        );
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let a = b.get("/api/s3/").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.code(), "NotLoggedIn");
}

#[tokio::test]
async fn logout_ends_the_session() {
    let w = world().await;
    let b = Browser::login(w.console, ROOT_KEY, ROOT_SECRET).await;
    let other = Browser::login(w.console, ROOT_KEY, ROOT_SECRET).await;
    // Without the token, logout is refused like any other change.
    let a = send(
        w.console,
        "POST",
        "/api/logout",
        &[("cookie", b.cookie.as_str())],
        Bytes::new(),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = b.call("POST", "/api/logout", &[], Bytes::new()).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let cleared = a.header("set-cookie");
    assert!(
        cleared.starts_with("tessera_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    assert_eq!(b.get("/api/session").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(b.get("/api/s3/").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        other.get("/api/session").await.status,
        StatusCode::OK,
        "other sessions live on"
    );
}

#[tokio::test]
async fn login_attempts_are_limited_per_address() {
    let w = world_with(|c| c.logins_per_minute = 3).await;
    for _ in 0..3 {
        assert_eq!(
            login(w.console, ROOT_KEY, "guess").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let a = login(w.console, ROOT_KEY, ROOT_SECRET).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.code(), "SlowDown");
    assert!(a.header("set-cookie").is_empty());
}

#[tokio::test]
async fn browser_credentials_never_reach_the_endpoint() {
    let w = world().await;
    let alt = Browser::login(w.console, &w.alt_key.0, &w.alt_key.1).await;
    let root = Browser::login(w.console, ROOT_KEY, ROOT_SECRET).await;
    assert_eq!(
        root.call("PUT", "/api/s3/roots", &[], Bytes::new())
            .await
            .status,
        StatusCode::OK
    );
    // An Authorization header, a security token or presigned parameters sent by the page do
    // not make alt's session act as anyone else.
    let a = alt
        .call(
            "GET",
            "/api/s3/?X-Amz-Credential=ROOTKEY0000000000001%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=00",
            &[
                ("authorization", "AWS4-HMAC-SHA256 Credential=ROOTKEY0000000000001/20250101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00"),
                ("x-amz-security-token", "token"),
                ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
            ],
            Bytes::new(),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert!(bucket_names(&a.text()).is_empty(), "{}", a.text());
}
