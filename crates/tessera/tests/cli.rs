//! Runs the built `tessera` binary: settings validation, credentials, serving and shutdown.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tessera");
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A `tessera` command with no inherited `TESSERA_*` variables, run inside `dir`.
fn tessera(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("TESSERA_") {
            cmd.env_remove(key);
        }
    }
    cmd.env_remove("RUST_LOG")
        .current_dir(dir)
        .stdin(Stdio::null());
    cmd
}

/// Runs a start that must be refused: exit code 2 and a one-line message mentioning `needle`.
fn assert_refused(output: Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains(needle),
        "expected {needle:?} in stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    assert_eq!(
        stderr.trim().lines().count(),
        1,
        "expected one line, got: {stderr}"
    );
    assert!(
        output.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&output.stdout)
    );
}

struct Server {
    child: Child,
    addr: String,
    /// Stdout lines printed before the listening line.
    preamble: Vec<String>,
    stderr: PathBuf,
}

impl Server {
    /// Starts `cmd` with `--listen 127.0.0.1:0` and waits for the listening line.
    fn start(mut cmd: Command, log_dir: &Path) -> Server {
        let stderr = log_dir.join(format!("stderr-{}.log", rand_suffix()));
        cmd.arg("--listen").arg("127.0.0.1:0");
        cmd.stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap());
        let child = cmd.spawn().unwrap();
        let mut server = Server {
            child,
            addr: String::new(),
            preamble: Vec::new(),
            stderr,
        };
        let stdout = server.child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("tessera listening on ") {
                        server.addr = url.split_once("://").expect("a URL").1.to_owned();
                        return server;
                    }
                    server.preamble.push(line);
                }
                Err(_) => {
                    let log = std::fs::read_to_string(&server.stderr).unwrap_or_default();
                    panic!(
                        "server did not announce itself; stdout so far: {:?}; stderr: {log}",
                        server.preamble
                    );
                }
            }
        }
    }

    fn sigterm(&self) {
        #[allow(unsafe_code)] // SIGTERM to the server under test: std has no signal API
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(rc, 0);
    }

    /// Waits for the process to exit; returns its exit code and how long it took.
    fn wait(&mut self, timeout: Duration) -> (Option<i32>, Duration) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code(), start.elapsed());
            }
            if start.elapsed() > timeout {
                let _ = self.child.kill();
                let log = std::fs::read_to_string(&self.stderr).unwrap_or_default();
                panic!("server did not exit within {timeout:?}; stderr: {log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(mut self) {
        self.sigterm();
        let (code, _) = self.wait(Duration::from_secs(30));
        let log = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        assert_eq!(code, Some(0), "stderr: {log}");
    }
}

impl Drop for Server {
    /// A failed test must not leave its server running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Sends one HTTP/1.1 request on `stream` and returns the status line of the response.
fn http_status_line(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(2).any(|w| w == b"\r\n") {
        let n = stream.read(&mut chunk).unwrap();
        assert!(
            n > 0,
            "connection closed without a response: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf);
    text.lines().next().unwrap_or_default().to_owned()
}

#[test]
fn unknown_toml_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tessera.toml");
    std::fs::write(
        &file,
        "region = \"us-east-1\"\nlisten_addr = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    let out = tessera(dir.path())
        .args(["serve", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_refused(out, "listen_addr");
}

#[test]
fn unknown_env_var_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = tessera(dir.path())
        .arg("serve")
        .env("TESSERA_FOO", "1")
        .output()
        .unwrap();
    assert_refused(out, "TESSERA_FOO");
}

#[test]
fn bad_listen_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = tessera(dir.path())
        .args(["serve", "--listen", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not-an-address"));

    let out = tessera(dir.path())
        .arg("serve")
        .env("TESSERA_LISTEN", "127.0.0.1")
        .output()
        .unwrap();
    assert_refused(out, "TESSERA_LISTEN");
}

#[test]
fn invalid_values_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, "not a certificate").unwrap();
    let out = tessera(dir.path())
        .arg("serve")
        .arg("--tls-cert")
        .arg(&cert)
        .output()
        .unwrap();
    assert_refused(out, "--tls-key");

    let missing = dir.path().join("missing.pem");
    let out = tessera(dir.path())
        .arg("serve")
        .arg("--tls-cert")
        .arg(&missing)
        .arg("--tls-key")
        .arg(&missing)
        .output()
        .unwrap();
    assert_refused(out, "missing.pem");

    let out = tessera(dir.path())
        .args(["serve", "--min-part-size", "0"])
        .output()
        .unwrap();
    assert_refused(out, "min part size");

    let out = tessera(dir.path())
        .arg("serve")
        .env("TESSERA_ROOT_ACCESS_KEY", "AK")
        .output()
        .unwrap();
    assert_refused(out, "TESSERA_ROOT_SECRET_KEY");

    let key = dir.path().join("key.pem");
    std::fs::write(&key, "not a key").unwrap();
    let out = tessera(dir.path())
        .arg("serve")
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .output()
        .unwrap();
    assert_refused(out, "cert.pem");

    let missing_config = dir.path().join("nope.toml");
    let out = tessera(dir.path())
        .arg("serve")
        .env("TESSERA_CONFIG", &missing_config)
        .output()
        .unwrap();
    assert_refused(out, "nope.toml");
    assert!(
        !dir.path().join("tessera-data").exists(),
        "a refused start must not create the data dir"
    );
}

#[test]
fn credentials_are_generated_once_and_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cmd = tessera(dir.path());
    cmd.arg("serve").arg("--data-dir").arg(&data);
    let server = Server::start(cmd, dir.path());
    let banner = server.preamble.join("\n");
    let creds_path = data.join("credentials.toml");
    let mode = std::fs::metadata(&creds_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let stored = std::fs::read_to_string(&creds_path).unwrap();
    let access_key = stored
        .lines()
        .find_map(|l| l.strip_prefix("access_key = \""))
        .and_then(|l| l.strip_suffix('"'))
        .unwrap()
        .to_owned();
    assert_eq!(access_key.len(), 20);
    assert!(access_key.starts_with("TK"));
    assert!(
        banner.contains(&format!("AWS_ACCESS_KEY_ID={access_key} ")),
        "{banner}"
    );
    assert!(
        banner.contains(&format!("--endpoint-url http://{}", server.addr)),
        "{banner}"
    );
    server.stop();

    let mut cmd = tessera(dir.path());
    cmd.arg("serve").arg("--data-dir").arg(&data);
    let server = Server::start(cmd, dir.path());
    assert!(
        server.preamble.is_empty(),
        "second start printed: {:?}",
        server.preamble
    );
    assert_eq!(std::fs::read_to_string(&creds_path).unwrap(), stored);
    server.stop();
}

#[test]
fn env_credentials_win() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cmd = tessera(dir.path());
    cmd.arg("serve")
        .env("TESSERA_DATA_DIR", &data)
        .env("TESSERA_ROOT_ACCESS_KEY", "ENVACCESSKEY")
        .env("TESSERA_ROOT_SECRET_KEY", "envsecretkey");
    let server = Server::start(cmd, dir.path());
    assert!(server.preamble.is_empty(), "printed: {:?}", server.preamble);
    assert!(
        data.is_dir(),
        "data dir from TESSERA_DATA_DIR was not created"
    );
    assert!(!data.join("credentials.toml").exists());
    server.stop();
}

#[test]
fn serves_http_on_the_printed_port_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = tessera(dir.path());
    cmd.arg("serve").env("TESSERA_LOG", "debug");
    let mut server = Server::start(cmd, dir.path());
    assert!(
        dir.path().join("tessera-data").is_dir(),
        "default data dir not created"
    );
    let port: u16 = server.addr.rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(port, 0);

    let mut conn = TcpStream::connect(&server.addr).unwrap();
    let status = http_status_line(&mut conn);
    assert!(status.starts_with("HTTP/1.1 "), "status line: {status:?}");

    // An idle keep-alive connection must not hold up the shutdown.
    server.sigterm();
    let (code, took) = server.wait(Duration::from_secs(20));
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(10), "shutdown took {took:?}");
}

#[test]
fn shutdown_wait_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = tessera(dir.path());
    cmd.args(["serve", "--shutdown-timeout", "1"]);
    let mut server = Server::start(cmd, dir.path());
    // A request whose headers never finish keeps its connection busy.
    let mut conn = TcpStream::connect(&server.addr).unwrap();
    conn.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    server.sigterm();
    let (code, took) = server.wait(Duration::from_secs(20));
    assert_eq!(code, Some(0));
    assert!(
        took >= Duration::from_millis(800),
        "did not wait for the busy connection: {took:?}"
    );
    assert!(took < Duration::from_secs(8), "shutdown took {took:?}");
    drop(conn);
}

#[test]
fn settings_from_toml_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("from-file");
    let file = dir.path().join("tessera.toml");
    std::fs::write(
        &file,
        format!(
            "data_dir = {:?}\nregion = \"eu-west-1\"\nno_sigv2 = true\nmin_part_size = \"5MiB\"\nshutdown_timeout = 5\n",
            data.to_str().unwrap()
        ),
    )
    .unwrap();
    let mut cmd = tessera(dir.path());
    cmd.arg("serve").env("TESSERA_CONFIG", &file);
    let server = Server::start(cmd, dir.path());
    assert!(
        data.join("credentials.toml").exists(),
        "data_dir from the file was not used"
    );
    server.stop();
}

#[test]
fn serves_https_with_alpn_and_survives_failed_handshakes() {
    let dir = tempfile::tempdir().unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.key_pair.serialize_pem()).unwrap();

    let mut cmd = tessera(dir.path());
    cmd.arg("serve")
        .env("TESSERA_TLS_CERT", &cert)
        .env("TESSERA_TLS_KEY", &key);
    let server = Server::start(cmd, dir.path());

    // A plaintext client fails the handshake; the server keeps going.
    let mut plain = TcpStream::connect(&server.addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut sink = Vec::new();
    let _ = plain.read_to_end(&mut sink);

    let mut roots = rustls::RootCertStore::empty();
    roots.add(generated.cert.der().clone()).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let client_config = |alpn: &[&[u8]]| {
        let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        std::sync::Arc::new(config)
    };
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();

    // HTTP/1.1 over TLS.
    let mut tls =
        rustls::ClientConnection::new(client_config(&[b"http/1.1"]), name.clone()).unwrap();
    let mut tcp = TcpStream::connect(&server.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut stream = rustls::Stream::new(&mut tls, &mut tcp);
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 512];
    let n = stream.read(&mut buf).unwrap();
    let response = String::from_utf8_lossy(&buf[..n]);
    assert!(response.starts_with("HTTP/1.1 "), "response: {response:?}");

    // h2 is offered through ALPN.
    let mut tls =
        rustls::ClientConnection::new(client_config(&[b"h2", b"http/1.1"]), name).unwrap();
    let mut tcp = TcpStream::connect(&server.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    while tls.is_handshaking() {
        tls.complete_io(&mut tcp).unwrap();
    }
    assert_eq!(tls.alpn_protocol(), Some(&b"h2"[..]));
    drop(tcp);

    server.stop();
}
