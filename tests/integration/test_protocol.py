"""HTTP-level behaviour: Expect: 100-continue, and bad input that must never crash the server
(each test checks that the server still answers afterwards)."""

import http.client
import io
import socket
import time

import pytest

from conftest import STREAMING_UNSIGNED_TRAILER
from s3util import etag_of, expect_error, key_path, md5_b64, random_bytes, status_of


def assert_alive(client):
    assert status_of(client.list_buckets()) == 200


def _read_head(sock, limit=65536) -> bytes:
    """Reads one response head (up to the blank line) byte by byte-ish."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(1)
        if not chunk:
            break
        buf += chunk
        if len(buf) > limit:
            break
    return buf


class _Replay(io.RawIOBase):
    """A socket reader that first replays bytes already consumed."""

    def __init__(self, prefix: bytes, sock):
        self._prefix, self._sock = prefix, sock

    def readable(self):
        return True

    def readinto(self, b):
        if self._prefix:
            n = min(len(b), len(self._prefix))
            b[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        return self._sock.recv_into(b)


class _ReplaySocket:
    def __init__(self, prefix: bytes, sock):
        self._file = io.BufferedReader(_Replay(prefix, sock))

    def makefile(self, *args, **kwargs):
        return self._file


def _finish_response(sock, head: bytes):
    """(status, body) of a response whose head was already read from sock."""
    resp = http.client.HTTPResponse(_ReplaySocket(head, sock), method="PUT")
    resp.begin()
    return resp.status, resp.read()


def _request_head(method, target, headers) -> bytes:
    lines = [f"{method} {target} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# --------------------------------------------------------------------------------------
# Expect: 100-continue
# --------------------------------------------------------------------------------------


def test_expect_100_continue(raw, s3, bucket):
    body = random_bytes(256 * 1024)
    path = key_path(bucket, "expect")
    headers = raw.sign_v4("PUT", path, None, {"Content-Length": str(len(body))}, body)
    headers["Expect"] = "100-continue"
    sock = raw.socket(timeout=30)
    try:
        sock.sendall(_request_head("PUT", path, headers))
        interim = _read_head(sock)
        assert interim.startswith(b"HTTP/1.1 100"), interim
        sock.sendall(body)
        resp = http.client.HTTPResponse(sock, method="PUT")
        resp.begin()
        data = resp.read()
        assert resp.status == 200, data
        assert resp.getheader("ETag") == etag_of(body)
    finally:
        sock.close()
    assert s3.get_object(Bucket=bucket, Key="expect")["Body"].read() == body


def test_expect_100_continue_rejected_request(raw, s3, bucket):
    """A request that fails authentication gets its final 403 (the server may answer before
    or after sending 100 Continue; either way the client ends with the error)."""
    body = random_bytes(64 * 1024)
    path = key_path(bucket, "expect-denied")
    headers = raw.sign_v4("PUT", path, None, {"Content-Length": str(len(body))}, body, secret_key="wrong")
    headers["Expect"] = "100-continue"
    sock = raw.socket(timeout=30)
    try:
        sock.sendall(_request_head("PUT", path, headers))
        first = _read_head(sock)
        if first.startswith(b"HTTP/1.1 100"):
            sock.sendall(body)
            resp = http.client.HTTPResponse(sock, method="PUT")
            resp.begin()
            status, data = resp.status, resp.read()
        else:
            status, data = _finish_response(sock, first)
        assert status == 403, data
        assert b"<Code>SignatureDoesNotMatch</Code>" in data, data
    finally:
        sock.close()
    expect_error(s3.head_object, Bucket=bucket, Key="expect-denied", code=None, status=404)
    assert_alive(s3)


# --------------------------------------------------------------------------------------
# Malformed XML
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"<Delete><Object><Key>a</Key></Object",
        b"this is not xml at all",
        b"<Delete><Object><Key>a</Key></Object></Delete><Trailing/>",
        b"<NotDelete><Object><Key>a</Key></Object></NotDelete>",
        b"",
    ],
    ids=["truncated", "not-xml", "two-roots", "wrong-root", "empty"],
)
def test_delete_objects_malformed_xml(raw, s3, bucket, body):
    s3.put_object(Bucket=bucket, Key="a", Body=b"keep me")
    resp = raw("POST", f"/{bucket}", query={"delete": None}, body=body,
               headers={"Content-MD5": md5_b64(body), "Content-Type": "application/xml"})
    assert resp.status == 400, resp
    # An empty body is answered MissingRequestBodyError by S3's request parser; both are 400.
    expected = ("MalformedXML", "MissingRequestBodyError") if body == b"" else ("MalformedXML",)
    assert resp.error_code in expected
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"keep me"
    assert_alive(s3)


# --------------------------------------------------------------------------------------
# Oversized and malformed requests
# --------------------------------------------------------------------------------------


def test_huge_header_is_rejected(raw, s3, bucket):
    resp = raw("GET", f"/{bucket}", query={"list-type": "2"}, headers={"X-Huge": "a" * (64 * 1024)})
    assert resp.status in (400, 431), resp
    assert_alive(s3)


def test_many_headers(raw, s3, bucket):
    headers = {f"X-Filler-{i}": "v" for i in range(300)}
    resp = raw("GET", f"/{bucket}", query={"list-type": "2"}, headers=headers)
    assert resp.status in (200, 400, 431), resp
    assert_alive(s3)


def test_invalid_percent_encoding_in_path(raw, s3, bucket):
    resp = raw.send("GET", f"/{bucket}/bad%zzkey", raw.sign_v4("GET", f"/{bucket}/bad%zzkey"))
    assert 400 <= resp.status < 500, resp
    assert_alive(s3)


def test_garbage_bytes_on_the_socket(raw, s3):
    sock = raw.socket(timeout=10)
    try:
        sock.sendall(b"\x00\x01\x02 this is not HTTP \xff\xfe\r\n\r\n")
        try:
            reply = sock.recv(4096)
        except (socket.timeout, ConnectionResetError):
            reply = b""
        if reply:  # answering is optional; if it answers, it is a 4xx
            assert reply.startswith(b"HTTP/1.") and reply[9:10] == b"4", reply[:200]
    finally:
        sock.close()
    assert_alive(s3)


def test_client_disconnects_mid_body(raw, s3, bucket):
    path = key_path(bucket, "half")
    headers = raw.sign_v4("PUT", path, None, {"Content-Length": str(1024 * 1024)},
                          payload_hash="UNSIGNED-PAYLOAD")
    sock = raw.socket(timeout=10)
    sock.sendall(_request_head("PUT", path, headers) + b"x" * 1000)
    sock.close()
    time.sleep(0.5)
    expect_error(s3.head_object, Bucket=bucket, Key="half", code=None, status=404)
    assert_alive(s3)


def test_body_shorter_than_decoded_length(raw, s3, bucket):
    # aws-chunked body whose chunks add up to less than x-amz-decoded-content-length.
    data = b"0123456789"
    body = raw.unsigned_trailer_body(data, "x-amz-checksum-crc32", "AAAAAA==")
    headers = raw.sign_v4("PUT", key_path(bucket, "short"), None, {
        "Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": "20",
        "X-Amz-Trailer": "x-amz-checksum-crc32", "Content-Length": str(len(body)),
    }, payload_hash=STREAMING_UNSIGNED_TRAILER)
    resp = raw.send("PUT", key_path(bucket, "short"), headers, body)
    assert 400 <= resp.status < 500, resp
    expect_error(s3.head_object, Bucket=bucket, Key="short", code=None, status=404)
    assert_alive(s3)


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\nabc\r\n0\r\n\r\n",                        # chunk size not hex
        b"100\r\n0123456789\r\n0\r\n\r\n",                 # chunk longer than what follows
        b"a\r\n0123456789XX0\r\n\r\n",                     # missing CRLF after chunk data
        b"a\r\n0123456789\r\n",                            # no final chunk
        b"a;chunk-signature=nothex\r\n0123456789\r\n0\r\n\r\n",  # signature on unsigned stream
    ],
    ids=["bad-size", "short-chunk", "missing-crlf", "no-final-chunk", "stray-signature"],
)
def test_bad_aws_chunked_framing(raw, s3, bucket, body):
    path = key_path(bucket, "framing")
    headers = raw.sign_v4("PUT", path, None, {
        "Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": "10",
        "Content-Length": str(len(body)),
    }, payload_hash=STREAMING_UNSIGNED_TRAILER)
    resp = raw.send("PUT", path, headers, body, timeout=30)
    assert 400 <= resp.status < 500, resp
    expect_error(s3.head_object, Bucket=bucket, Key="framing", code=None, status=404)
    assert_alive(s3)


def test_bad_signed_chunk_framing(raw, s3, bucket):
    path = key_path(bucket, "signed-framing")
    body = b"zz;chunk-signature=" + b"0" * 64 + b"\r\nabc\r\n0;chunk-signature=" + b"0" * 64 + b"\r\n\r\n"
    headers = raw.sign_v4("PUT", path, None, {
        "Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": "3",
        "Content-Length": str(len(body)),
    }, payload_hash="STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    resp = raw.send("PUT", path, headers, body, timeout=30)
    assert 400 <= resp.status < 500, resp
    expect_error(s3.head_object, Bucket=bucket, Key="signed-framing", code=None, status=404)
    assert_alive(s3)


def test_keep_alive_connection_reuse(raw, bucket):
    """Several requests on one connection, including an error in the middle."""
    conn = raw.connection()
    try:
        for key, expected in (("ka1", 200), ("missing", 404), ("ka2", 200)):
            path = key_path(bucket, key)
            if expected == 200:
                headers = raw.sign_v4("PUT", path, None, None, b"data")
                conn.request("PUT", path, body=b"data", headers=headers)
            else:
                headers = raw.sign_v4("GET", path)
                conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            resp.read()
            assert resp.status == expected
    finally:
        conn.close()


@pytest.mark.parametrize(
    "case",
    ["invalid-digest", "bad-digest", "bad-signature", "no-such-bucket", "sha256-mismatch"],
)
def test_connection_reusable_after_early_error(raw, bucket, case):
    """An error answered before the body was read must leave the connection usable, or
    announce `Connection: close` (RFC 9112 9.6); clients (urllib3/botocore) reuse
    keep-alive connections."""
    body = b"b" * 200_000
    path = key_path(bucket, "early")
    kw = {}
    headers = {}
    expected = 400
    if case == "invalid-digest":
        headers["Content-MD5"] = "not-base64!!"
    elif case == "bad-digest":
        headers["Content-MD5"] = md5_b64(b"something else")
    elif case == "bad-signature":
        kw["secret_key"] = "wrong-secret"
        expected = 403
    elif case == "no-such-bucket":
        path = key_path("no-such-bucket-early-error", "k")
        expected = 404
    else:
        kw["payload_hash"] = "0" * 64
    conn = raw.connection()
    try:
        signed = raw.sign_v4("PUT", path, None, headers, body, **kw)
        conn.putrequest("PUT", path, skip_host=True, skip_accept_encoding=True)
        for k, v in signed.items():
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(body)))
        try:
            conn.endheaders(body)
        except (BrokenPipeError, ConnectionResetError) as e:
            sent_error = e  # the server stopped reading; its answer must still be readable
        else:
            sent_error = None
        try:
            resp = conn.getresponse()
            resp.read()
        except (ConnectionError, http.client.HTTPException) as e:
            raise AssertionError(f"no response readable (send error: {sent_error!r}): {e!r}")
        assert resp.status == expected
        closing = (resp.getheader("Connection") or "").lower() == "close"
        time.sleep(0.05)
        # http.client reconnects by itself after `Connection: close`; otherwise the same
        # socket is reused and must still work.
        try:
            conn.request("GET", f"/{bucket}", headers=raw.sign_v4("GET", f"/{bucket}"))
            second = conn.getresponse()
            second.read()
        except (ConnectionError, http.client.HTTPException) as e:
            raise AssertionError(
                f"the server closed the connection after its {resp.status} answer without sending "
                f"`Connection: close`: the next request on it failed with {e!r}")
        assert second.status == 200, (closing, second.status)
    finally:
        conn.close()



def test_post_form_upload_is_taken_before_s3s(raw, s3, bucket):
    # Form uploads are served by Tessera's own PostObject (tests: test_post_object.py): an
    # anonymous form to a private bucket is refused by the access check, nothing is stored;
    # a form to an object URL is no upload (s3s never sees a form).
    body = (b"--XYZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n"
            b"--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\ndata\r\n--XYZ--\r\n")
    resp = raw("POST", f"/{bucket}", body=body, sign=None,
               headers={"Content-Type": "multipart/form-data; boundary=XYZ"})
    assert resp.status == 403, resp
    assert resp.error_code == "AccessDenied"
    expect_error(s3.head_object, Bucket=bucket, Key="k", code=None, status=404)
    resp = raw("POST", f"/{bucket}/k", body=body, sign=None,
               headers={"Content-Type": "multipart/form-data; boundary=XYZ"})
    assert resp.status == 405, resp
    assert resp.error_code == "MethodNotAllowed"
    assert_alive(s3)
