//! The real clients: a small hyper server on 127.0.0.1:0 serves `handle` over the in-memory
//! backend, and `tests/clients.py` drives it with boto3 (`iam`, `sts`) and the aws cli.
//!
//! The server does what Tessera's will, minus the signature check: it routes with `service_of`,
//! reads the body with `read_body` under a timeout, and turns the credential's access key into a
//! `Caller` (unknown or inactive key: InvalidClientTokenId). The Python side comes from the
//! repository's `.venv` (`scripts/setup-test-env.sh`, which `scripts/test` runs first); without it the test fails.

mod common;

use std::convert::Infallible;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{MemBackend, ROOT_KEY, ROOT_SECRET};
use http_body_util::Full;
use hyper::body::Incoming;
use tessera_iam::{
    auth_error, body_too_large, credential_scope, handle, read_body, service_of, AuthFailure,
    BodyError, MAX_BODY_BYTES,
};

fn plain(status: u16, text: &str) -> http::Response<Full<Bytes>> {
    let mut resp = http::Response::new(Full::new(Bytes::from(text.to_owned())));
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap();
    resp
}

async fn route(req: http::Request<Incoming>, backend: &MemBackend) -> http::Response<Full<Bytes>> {
    let Some(service) = service_of(&req) else {
        return plain(400, "not an IAM or STS request");
    };
    let Some(scope) = credential_scope(&req) else {
        return plain(400, "no credential scope");
    };
    let (parts, body) = req.into_parts();
    let body = match tokio::time::timeout(Duration::from_secs(10), read_body(body, MAX_BODY_BYTES))
        .await
    {
        Ok(Ok(body)) => body,
        Ok(Err(BodyError::TooLarge { .. })) => return body_too_large(service).map(Full::new),
        Ok(Err(BodyError::Read(e))) => return plain(400, &e.to_string()),
        Err(_) => return plain(400, "body timeout"),
    };
    // Tessera verifies the signature here; the test server trusts the access key it names.
    let Some(caller) = backend.caller_for_key(&scope.access_key_id, &scope.service, &scope.region)
    else {
        return auth_error(
            service,
            AuthFailure::InvalidClientTokenId,
            "The security token included in the request is invalid.",
        )
        .map(Full::new);
    };
    handle(http::Request::from_parts(parts, body), &caller, backend)
        .await
        .map(Full::new)
}

/// Starts the server on its own runtime thread; returns its address.
fn start_server() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let backend = Arc::new(MemBackend::new());
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let backend = backend.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let backend = backend.clone();
                        async move { Ok::<_, Infallible>(route(req, &backend).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    addr
}

#[test]
fn boto3_and_aws_cli_drive_every_operation() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/bin/python");
    // Never skipped: scripts/test makes the venv before the Rust tests run.
    assert!(
        python.exists(),
        "{} is absent; run scripts/setup-test-env.sh to create the venv with boto3 and awscli",
        python.display()
    );
    let addr = start_server();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(format!("http://{addr}"))
        .arg(ROOT_KEY)
        .arg(ROOT_SECRET)
        // The root credentials for the aws cli; no profile or config of the machine leaks in.
        .env("AWS_ACCESS_KEY_ID", ROOT_KEY)
        .env("AWS_SECRET_ACCESS_KEY", ROOT_SECRET)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "clients.py failed ({})\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("all client checks passed"), "{stdout}");
}
