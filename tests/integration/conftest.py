"""Fixtures of the Tessera S3 integration suite.

The suite starts real `tessera serve` processes on 127.0.0.1 (random ports) and talks to
them with boto3, the aws CLI (v1) and hand-made requests (`raw`).

Public fixtures (other test files rely on these names):
  tessera_bin              session: path of the tessera binary
  server / tls_server      session: shared HTTP / HTTPS servers
  fresh_server             function: a server with its own data dir (crash/restart tests)
  make_server(*args, tls=False)  function: factory of extra servers (stopped at teardown)
  s3 / s3_tls              boto3 clients (default settings) on server / tls_server
  bucket / tls_bucket      a fresh bucket, emptied and deleted after the test
  bucket_factory           function: make_bucket(client=None) -> name, cleaned after the test
  aws / aws_tls            run(*args, check=True, input=None) -> CompletedProcess (aws CLI)
  raw / raw_tls            RawClient: signed hand-made requests (see RawClient)
  chromium / artifacts     headless Chromium (Playwright) and a screenshot directory (browser.py)
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import http.client
import ipaddress
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from unittest import mock
from urllib.parse import quote

import boto3
import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

import s3util
from browser import artifacts, chromium  # noqa: F401 (fixtures)
from s3util import empty_and_delete_bucket

REPO = Path(__file__).resolve().parents[2]

ROOT_ACCESS_KEY = "TESSERATESTACCESSKEY"
ROOT_SECRET_KEY = "tessera/Test+Secret/0123456789abcdefghijk"
REGION = "us-east-1"

LISTEN_RE = re.compile(r"tessera listening on (https?)://127\.0\.0\.1:(\d+)")
START_TIMEOUT = 30.0

_ALL_SERVERS: list["Server"] = []


# --------------------------------------------------------------------------------------
# boto3
# --------------------------------------------------------------------------------------

_boto_session = None
_boto_lock = threading.Lock()


def _session():
    global _boto_session
    with _boto_lock:
        if _boto_session is None:
            _boto_session = boto3.session.Session()
        return _boto_session


def make_client(endpoint: str, access_key: str, secret_key: str, ca_bundle=None, **config_overrides):
    """A boto3 S3 client with default settings except: region us-east-1, path-style
    addressing, and no automatic retries (so that a server error is never hidden by a
    successful retry). Any botocore Config field can be overridden."""
    access_key = config_overrides.pop("aws_access_key_id", access_key)
    secret_key = config_overrides.pop("aws_secret_access_key", secret_key)
    base = Config(
        region_name=REGION,
        s3={"addressing_style": "path"},
        retries={"total_max_attempts": 1},
        connect_timeout=10,
        read_timeout=90,
    )
    config = base.merge(Config(**config_overrides)) if config_overrides else base
    with _boto_lock:
        session = _boto_session or boto3.session.Session()
        return session.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=REGION,
            verify=ca_bundle if ca_bundle else True,
            config=config,
        )


_session()


# --------------------------------------------------------------------------------------
# TLS material
# --------------------------------------------------------------------------------------


class TlsMaterial:
    def __init__(self, cert: Path, key: Path, ca: Path):
        self.cert, self.key, self.ca = cert, key, ca


def generate_tls_material(directory: Path) -> TlsMaterial:
    """A throw-away CA and a server certificate for 127.0.0.1 and localhost (EC P-256)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tessera test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return TlsMaterial(cert_path, key_path, ca_path)


# --------------------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------------------


class Server:
    """A `tessera serve` process on 127.0.0.1 with a random port.

    stdout and stderr are drained by a background thread into `log_path` (appended across
    restarts), so the pipe never blocks.
    """

    def __init__(self, binary, workdir: Path, extra_args=(), tls: TlsMaterial | None = None,
                 name: str = "server", access_key: str = ROOT_ACCESS_KEY,
                 secret_key: str = ROOT_SECRET_KEY, env: dict | None = None):
        self.binary = str(binary)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.workdir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / "server.log"
        self.extra_args = [str(a) for a in extra_args]
        self.tls_material = tls
        self.tls = tls is not None
        self.ca_bundle = str(tls.ca) if tls else None
        self.name = name
        self.access_key = access_key
        self.secret_key = secret_key
        self.extra_env = dict(env or {})
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.endpoint: str | None = None
        self._reader: threading.Thread | None = None
        self._log_lock = threading.Lock()
        _ALL_SERVERS.append(self)
        self.start()

    # -- process control ----------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def command(self) -> list[str]:
        cmd = [self.binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(self.data_dir)]
        if self.tls_material:
            cmd += ["--tls-cert", str(self.tls_material.cert), "--tls-key", str(self.tls_material.key)]
        return cmd + self.extra_args

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError(f"{self.name}: already running (pid {self.proc.pid})")
        # The server refuses unknown TESSERA_* variables, and a developer's own settings
        # (TESSERA_DATA_DIR, ...) must not leak in: pass none of them through.
        env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
        env.update(
            TESSERA_ROOT_ACCESS_KEY=self.access_key,
            TESSERA_ROOT_SECRET_KEY=self.secret_key,
            RUST_BACKTRACE="1",
            NO_COLOR="1",
        )
        env.update(self.extra_env)
        cmd = self.command()
        with self._log_lock, open(self.log_path, "ab") as log:
            log.write(f"=== {time.strftime('%H:%M:%S')} starting: {' '.join(cmd)}\n".encode())
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=env)
        self.proc = proc
        ready = threading.Event()
        found: dict = {}

        def drain():
            with open(self.log_path, "ab", buffering=0) as log:
                for line in iter(proc.stdout.readline, b""):
                    with self._log_lock:
                        log.write(line)
                    if not ready.is_set():
                        m = LISTEN_RE.search(line.decode("utf-8", "replace"))
                        if m:
                            found["scheme"], found["port"] = m.group(1), int(m.group(2))
                            ready.set()
                proc.stdout.close()
            ready.set()  # EOF: wake the waiter (it checks `found`)

        self._reader = threading.Thread(target=drain, name=f"{self.name}-log", daemon=True)
        self._reader.start()

        deadline = time.monotonic() + START_TIMEOUT
        while not ready.wait(0.05):
            if time.monotonic() > deadline:
                break
        if "port" not in found:
            if ready.is_set():  # output closed: the process is exiting
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass
            if proc.poll() is None:
                proc.kill()
                proc.wait()
                why = f"did not print 'tessera listening on http(s)://127.0.0.1:PORT' within {START_TIMEOUT:.0f}s"
            else:
                proc.wait()
                why = f"exited with code {proc.returncode} before listening"
            self._reader.join(5)
            raise RuntimeError(
                f"{self.name}: `{' '.join(cmd)}` {why}.\n--- log tail ({self.log_path}) ---\n{self.log_tail(40)}"
            )
        want_scheme = "https" if self.tls else "http"
        if found["scheme"] != want_scheme:
            self.kill()
            raise RuntimeError(f"{self.name}: announced {found['scheme']}, expected {want_scheme}")
        self.port = found["port"]
        self.endpoint = f"{want_scheme}://127.0.0.1:{self.port}"

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait for exit, return the exit code (negative = killed by that signal)."""
        if self.proc is None:
            raise RuntimeError(f"{self.name}: never started")
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                if self._reader:
                    self._reader.join(5)
                raise AssertionError(f"{self.name}: did not exit within {timeout}s of SIGTERM")
        if self._reader:
            self._reader.join(5)
        return self.proc.returncode

    def kill(self) -> int:
        """SIGKILL (a crash): no chance to clean up."""
        if self.proc is None:
            raise RuntimeError(f"{self.name}: never started")
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        if self._reader:
            self._reader.join(5)
        return self.proc.returncode

    def restart(self) -> None:
        """Stops (SIGTERM) if running, then starts again on the same data dir. The port may
        change: endpoint and port are updated; make new clients afterwards."""
        if self.running():
            self.stop()
        self.start()

    def close(self) -> None:
        """Teardown: stop, falling back to SIGKILL."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.stop(timeout=10)
            except AssertionError:
                pass
        if self.proc is not None and self.proc.poll() is None:
            self.kill()

    # -- clients --------------------------------------------------------------------------

    def client(self, **config_overrides):
        """boto3 S3 client (default settings, path-style, us-east-1, verify=CA when TLS).
        Config fields may be overridden; aws_access_key_id / aws_secret_access_key too."""
        return make_client(self.endpoint, self.access_key, self.secret_key, self.ca_bundle,
                           **config_overrides)

    def raw(self, **kwargs) -> "RawClient":
        return RawClient(self, **kwargs)

    # -- log ------------------------------------------------------------------------------

    def log_text(self) -> str:
        with self._log_lock:
            try:
                return self.log_path.read_bytes().decode("utf-8", "replace")
            except FileNotFoundError:
                return ""

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_tail(self, lines: int = 40, since: int = 0) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                data = f.read()
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])

    def __repr__(self):
        return f"<Server {self.name} {self.endpoint} pid={self.pid}>"


# --------------------------------------------------------------------------------------
# Raw requests
# --------------------------------------------------------------------------------------

STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class RawResponse:
    """status, reason, headers (case-insensitive lookups), body. Unpacks as
    `status, headers, body = resp`."""

    def __init__(self, status: int, reason: str, headers: http.client.HTTPMessage, body: bytes):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    def header(self, name: str, default=None):
        return self.headers.get(name, default)

    def xml(self) -> ET.Element:
        root = ET.fromstring(self.body)
        for el in root.iter():  # drop namespaces for easy lookups
            if isinstance(el.tag, str) and "}" in el.tag:
                el.tag = el.tag.split("}", 1)[1]
        return root

    @property
    def error_code(self) -> str | None:
        try:
            return self.xml().findtext("Code")
        except ET.ParseError:
            return None

    def __repr__(self):
        return f"<RawResponse {self.status} {self.reason} {self.body[:300]!r}>"


class _RawSigV4(botocore.auth.S3SigV4Auth):
    """S3 SigV4 that keeps an x-amz-content-sha256 header set by the caller."""

    def _modify_request_before_signing(self, request):
        preset = request.headers.get("X-Amz-Content-SHA256")
        super()._modify_request_before_signing(request)
        if preset is not None:
            del request.headers["X-Amz-Content-SHA256"]
            request.headers["X-Amz-Content-SHA256"] = preset


def encode_query(query) -> str:
    """dict / list of pairs / str -> query string. A None value gives a bare key (`?delete`)."""
    if query is None:
        return ""
    if isinstance(query, str):
        return query
    items = query.items() if isinstance(query, dict) else query
    parts = []
    for k, v in items:
        k = quote(str(k), safe="-_.~")
        parts.append(k if v is None else f"{k}={quote(str(v), safe='-_.~')}")
    return "&".join(parts)


def _signing_key(secret: str, date: str, region: str = REGION, service: str = "s3") -> bytes:
    def h(key, msg):
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    return h(h(h(h(("AWS4" + secret).encode(), date), region), service), "aws4_request")


class RawClient:
    """Hand-made requests to a Server, signed with botocore's signers.

    raw(method, path, query=None, headers=None, body=b"", sign="v4"|"v2"|None,
        payload_hash=None, date=None, access_key=None, secret_key=None) -> RawResponse

    - path: the already percent-encoded request path, e.g. s3util.key_path(bucket, key).
    - query: dict / list of pairs / preformatted string; value None => bare key (`?delete`).
    - payload_hash: the x-amz-content-sha256 to send and sign (default: sha256 of body);
      e.g. UNSIGNED-PAYLOAD or the hash of other bytes.
    - date: a naive-UTC datetime to sign with (clock-skew tests).
    - Content-Length is added unless the caller set Content-Length or Transfer-Encoding.
    """

    def __init__(self, server: Server, access_key: str | None = None, secret_key: str | None = None):
        self.server = server
        self.access_key = access_key or server.access_key
        self.secret_key = secret_key or server.secret_key

    # -- plumbing -----------------------------------------------------------------------

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.server.tls:
            return None
        return ssl.create_default_context(cafile=self.server.ca_bundle)

    def connection(self, timeout: float = 60.0) -> http.client.HTTPConnection:
        if self.server.tls:
            return http.client.HTTPSConnection("127.0.0.1", self.server.port, timeout=timeout,
                                               context=self.ssl_context())
        return http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=timeout)

    def socket(self, timeout: float = 60.0) -> socket.socket:
        """A connected (TLS-wrapped when needed) socket, for byte-level tests."""
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=timeout)
        ctx = self.ssl_context()
        if ctx is not None:
            sock = ctx.wrap_socket(sock, server_hostname="127.0.0.1")
        return sock

    def target(self, path: str, query=None) -> str:
        q = encode_query(query)
        return f"{path}?{q}" if q else path

    # -- signing ------------------------------------------------------------------------

    def sign_v4(self, method: str, path: str, query=None, headers=None, body: bytes = b"",
                payload_hash: str | None = None, date: datetime.datetime | None = None,
                access_key: str | None = None, secret_key: str | None = None) -> dict:
        """Returns the headers (Host, X-Amz-Date, X-Amz-Content-SHA256, Authorization and the
        caller's) of a SigV4-signed request."""
        hdrs = {"Host": self.host}
        hdrs.update(headers or {})
        if payload_hash is None:
            payload_hash = hashlib.sha256(body if isinstance(body, (bytes, bytearray)) else b"").hexdigest()
        hdrs["X-Amz-Content-SHA256"] = payload_hash
        url = f"{self.server.endpoint}{self.target(path, query)}"
        req = AWSRequest(method=method, url=url, headers=hdrs, data=b"")
        creds = Credentials(access_key or self.access_key, secret_key or self.secret_key)
        signer = _RawSigV4(creds, "s3", REGION)
        if date is not None:
            with mock.patch.object(botocore.auth, "get_current_datetime", return_value=date):
                signer.add_auth(req)
        else:
            signer.add_auth(req)
        return dict(req.headers.items())

    def sign_v2(self, method: str, path: str, query=None, headers=None,
                access_key: str | None = None, secret_key: str | None = None) -> dict:
        """Headers of a SigV2 (`Authorization: AWS key:sig`) request, via botocore's HmacV1Auth."""
        hdrs = {"Host": self.host}
        hdrs.update(headers or {})
        url = f"{self.server.endpoint}{self.target(path, query)}"
        req = AWSRequest(method=method, url=url, headers=hdrs, data=b"")
        creds = Credentials(access_key or self.access_key, secret_key or self.secret_key)
        botocore.auth.HmacV1Auth(creds).add_auth(req)
        return dict(req.headers.items())

    # -- sending ------------------------------------------------------------------------

    def send(self, method: str, target: str, headers: dict, body=b"", timeout: float = 60.0) -> RawResponse:
        """Sends exactly these headers (plus Content-Length when missing) and body."""
        conn = self.connection(timeout)
        try:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            names = {k.lower() for k in headers}
            if "host" not in names:
                conn.putheader("Host", self.host)
            for k, v in headers.items():
                conn.putheader(k, v)
            if body is not None and isinstance(body, (bytes, bytearray)) and \
                    "content-length" not in names and "transfer-encoding" not in names:
                conn.putheader("Content-Length", str(len(body)))
            try:
                conn.endheaders()
                if body:
                    conn.send(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may answer early (e.g. 431) and close; read that answer
            resp = conn.getresponse()
            data = resp.read()
            return RawResponse(resp.status, resp.reason, resp.headers, data)
        finally:
            conn.close()

    def request(self, method: str, path: str, query=None, headers=None, body: bytes = b"",
                sign: str | None = "v4", payload_hash: str | None = None,
                date: datetime.datetime | None = None, access_key: str | None = None,
                secret_key: str | None = None, timeout: float = 60.0) -> RawResponse:
        if sign == "v4":
            hdrs = self.sign_v4(method, path, query, headers, body, payload_hash, date,
                                access_key, secret_key)
        elif sign == "v2":
            hdrs = self.sign_v2(method, path, query, headers, access_key, secret_key)
        elif sign is None:
            hdrs = dict(headers or {})
        else:
            raise ValueError(sign)
        return self.send(method, self.target(path, query), hdrs, body, timeout)

    __call__ = request

    # -- aws-chunked bodies -------------------------------------------------------------

    @staticmethod
    def chunk_signatures(secret_key: str, amz_date: str, seed_signature: str, chunks,
                         region: str = REGION) -> list[str]:
        """Chained chunk signatures of STREAMING-AWS4-HMAC-SHA256-PAYLOAD (the last chunk
        must be the empty one)."""
        scope = f"{amz_date[:8]}/{region}/s3/aws4_request"
        key = _signing_key(secret_key, amz_date[:8], region)
        prev, out = seed_signature, []
        for chunk in chunks:
            sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, EMPTY_SHA256,
                             hashlib.sha256(chunk).hexdigest()])
            prev = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
            out.append(prev)
        return out

    def signed_chunked_put(self, path: str, data: bytes, chunk_size: int = 64 * 1024,
                           headers=None, tamper_chunk: int | None = None,
                           decoded_length: int | None = None,
                           unsigned_headers=None) -> RawResponse:
        """PUT with `x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD` and per-chunk
        signatures (AWS "Signature Calculations for the Authorization Header: Transferring
        Payload in Multiple Chunks"). tamper_chunk=i corrupts the signature of chunk i."""
        chunks = [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)] + [b""]
        sig_len = 64
        encoded_len = sum(len(f"{len(c):x};chunk-signature=") + sig_len + 2 + len(c) + 2 for c in chunks)
        hdrs = {
            "Content-Encoding": "aws-chunked",
            "X-Amz-Decoded-Content-Length": str(len(data) if decoded_length is None else decoded_length),
            "Content-Length": str(encoded_len),
        }
        hdrs.update(headers or {})
        signed = self.sign_v4("PUT", path, None, hdrs, payload_hash=STREAMING_SIGNED)
        seed = signed["Authorization"].rsplit("Signature=", 1)[1]
        sigs = self.chunk_signatures(self.secret_key, signed["X-Amz-Date"], seed, chunks)
        body = bytearray()
        for i, (chunk, sig) in enumerate(zip(chunks, sigs)):
            if tamper_chunk == i:
                sig = ("0" if sig[0] != "0" else "1") + sig[1:]
            body += f"{len(chunk):x};chunk-signature={sig}\r\n".encode() + chunk + b"\r\n"
        assert len(body) == encoded_len
        signed.update(unsigned_headers or {})
        return self.send("PUT", path, signed, bytes(body))

    @staticmethod
    def unsigned_trailer_body(data: bytes, trailer_name: str, trailer_value: str,
                              chunk_size: int = 64 * 1024) -> bytes:
        body = bytearray()
        for i in range(0, len(data), chunk_size):
            c = data[i:i + chunk_size]
            body += f"{len(c):x}\r\n".encode() + c + b"\r\n"
        body += f"0\r\n{trailer_name}:{trailer_value}\r\n\r\n".encode()
        return bytes(body)

    def unsigned_trailer_put(self, path: str, data: bytes, algorithm: str = "CRC32",
                             value: str | None = None, headers=None,
                             chunk_size: int = 64 * 1024, unsigned_headers=None) -> RawResponse:
        """PUT with `x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER`, aws-chunked
        body and a trailing x-amz-checksum-<algorithm> (value: base64; default = correct)."""
        name = f"x-amz-checksum-{algorithm.lower()}"
        if value is None:
            value = s3util.checksum_b64(algorithm, data)
        body = self.unsigned_trailer_body(data, name, value, chunk_size)
        hdrs = {
            "Content-Encoding": "aws-chunked",
            "X-Amz-Decoded-Content-Length": str(len(data)),
            "X-Amz-Trailer": name,
            "X-Amz-Sdk-Checksum-Algorithm": algorithm.upper(),
            "Content-Length": str(len(body)),
        }
        hdrs.update(headers or {})
        signed = self.sign_v4("PUT", path, None, hdrs, payload_hash=STREAMING_UNSIGNED_TRAILER)
        signed.update(unsigned_headers or {})
        return self.send("PUT", path, signed, body)


# --------------------------------------------------------------------------------------
# aws CLI
# --------------------------------------------------------------------------------------


def _aws_bin() -> str:
    candidate = Path(sys.executable).parent / "aws"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("aws")
    if not found:
        pytest.fail("aws CLI not found: run scripts/setup-test-env.sh and use .venv/bin/pytest",
                    pytrace=False)
    return found


def make_aws_runner(server: Server, workdir: Path):
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / f"aws-config-{uuid.uuid4().hex[:8]}"
    lines = ["[default]", f"region = {REGION}", "s3 =", "    addressing_style = path"]
    if server.tls:
        lines.append(f"ca_bundle = {server.ca_bundle}")
    config.write_text("\n".join(lines) + "\n")
    credentials = workdir / "aws-credentials-empty"
    credentials.write_text("")
    aws_bin = _aws_bin()

    def run(*args, check: bool = True, input=None, timeout: float = 120):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID=server.access_key,
            AWS_SECRET_ACCESS_KEY=server.secret_key,
            AWS_DEFAULT_REGION=REGION,
            AWS_CONFIG_FILE=str(config),
            AWS_SHARED_CREDENTIALS_FILE=str(credentials),
            AWS_PAGER="",
            AWS_EC2_METADATA_DISABLED="true",
        )
        cmd = [aws_bin, "--endpoint-url", server.endpoint, *[str(a) for a in args]]
        cp = subprocess.run(cmd, env=env, input=input, capture_output=True, text=True,
                            errors="replace", timeout=timeout)
        if check and cp.returncode != 0:
            raise AssertionError(
                f"aws {' '.join(map(str, args))} exited {cp.returncode}\n"
                f"stdout: {cp.stdout[-2000:]}\nstderr: {cp.stderr[-2000:]}"
            )
        return cp

    run.server = server
    return run


# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tessera_bin() -> Path:
    path = Path(os.environ.get("TESSERA_BIN") or REPO / "target" / "debug" / "tessera")
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(f"tessera binary not found at {path}: build it (`cargo build`, as scripts/test "
                    f"does) or set TESSERA_BIN", pytrace=False)
    return path


@pytest.fixture(scope="session")
def tls_material(tmp_path_factory) -> TlsMaterial:
    return generate_tls_material(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def server(tessera_bin, tmp_path_factory):
    srv = Server(tessera_bin, tmp_path_factory.mktemp("server"), name="server")
    yield srv
    srv.close()


@pytest.fixture(scope="session")
def tls_server(tessera_bin, tmp_path_factory, tls_material):
    srv = Server(tessera_bin, tmp_path_factory.mktemp("tls-server"), tls=tls_material, name="tls_server")
    yield srv
    srv.close()


@pytest.fixture
def make_server(tessera_bin, tmp_path, request):
    """make_server(*extra_args, tls=False, env=None) -> a started Server with its own data dir."""
    started: list[Server] = []

    def factory(*extra_args, tls: bool = False, env: dict | None = None) -> Server:
        material = request.getfixturevalue("tls_material") if tls else None
        srv = Server(tessera_bin, tmp_path / f"server{len(started)}", extra_args=extra_args,
                     tls=material, name=f"{request.node.name}-server{len(started)}", env=env)
        started.append(srv)
        return srv

    yield factory
    for srv in started:
        srv.close()


@pytest.fixture
def fresh_server(make_server) -> Server:
    return make_server()


@pytest.fixture(scope="session")
def s3(server):
    return server.client()


@pytest.fixture(scope="session")
def s3_tls(tls_server):
    return tls_server.client()


@pytest.fixture
def bucket_factory(server):
    """make_bucket(client=None, name=None) -> name of a new bucket; all emptied + deleted after."""
    made: list[tuple] = []

    def make_bucket(client=None, name: str | None = None) -> str:
        client = client or server.client()
        name = name or s3util.unique_bucket_name()
        client.create_bucket(Bucket=name)
        made.append((client, name))
        return name

    yield make_bucket
    for client, name in reversed(made):
        empty_and_delete_bucket(client, name)


@pytest.fixture
def bucket(s3):
    name = s3util.unique_bucket_name()
    s3.create_bucket(Bucket=name)
    yield name
    empty_and_delete_bucket(s3, name)


@pytest.fixture
def tls_bucket(s3_tls):
    name = s3util.unique_bucket_name()
    s3_tls.create_bucket(Bucket=name)
    yield name
    empty_and_delete_bucket(s3_tls, name)


@pytest.fixture
def aws(server, tmp_path):
    return make_aws_runner(server, tmp_path / "aws")


@pytest.fixture
def aws_tls(tls_server, tmp_path):
    return make_aws_runner(tls_server, tmp_path / "aws-tls")


@pytest.fixture
def raw(server) -> RawClient:
    return RawClient(server)


@pytest.fixture
def raw_tls(tls_server) -> RawClient:
    return RawClient(tls_server)


# --------------------------------------------------------------------------------------
# Server log tail in failure reports
# --------------------------------------------------------------------------------------


def pytest_runtest_setup(item):
    item._tessera_log_offsets = {id(s): s.log_size() for s in _ALL_SERVERS}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed or call.when not in ("setup", "call"):
        return
    offsets = getattr(item, "_tessera_log_offsets", {})
    for srv in _ALL_SERVERS:
        since = offsets.get(id(srv), 0)
        if srv.log_size() > since:
            rep.sections.append((f"tessera log: {srv.name} ({srv.log_path})",
                                 srv.log_tail(30, since=since)))


def pytest_sessionfinish(session, exitstatus):
    for srv in _ALL_SERVERS:
        try:
            srv.close()
        except Exception:
            pass
