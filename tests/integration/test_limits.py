"""Connection limits and slow clients: idle keep-alive and header timeouts, the request body
timeout (400 RequestTimeout, no blob left), connection caps under a flood of idle connections,
the open-file limit raised at start, and memory held by slow uploads.

Everything runs on 127.0.0.0/8: floods come from 127.0.0.2 / 127.0.0.3 (bound source
addresses) while the well-behaved boto3 client connects from 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import socket
import stat
import time
from pathlib import Path

import pytest

import s3util
from conftest import UNSIGNED_PAYLOAD, Server
import leakcheck
from test_multipart_lib import blob_store_contents, blob_files, wait_until

FLOOD_ADDR = "127.0.0.2"
OTHER_FLOOD_ADDR = "127.0.0.3"


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def connect(server: Server, source: str | None = None, timeout: float = 5.0) -> socket.socket:
    src = (source, 0) if source else None
    return socket.create_connection(("127.0.0.1", server.port), timeout=timeout, source_address=src)


def read_response(sock: socket.socket, timeout: float = 10.0):
    """Reads one HTTP/1.1 response (Content-Length bodies): (status, headers, body)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a full response head: {data!r}")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:length]


def seconds_until_closed(sock: socket.socket, timeout: float) -> float | None:
    """Waits for the peer to close (EOF or reset); returns the wait, or None if still open."""
    start = time.monotonic()
    deadline = start + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except socket.timeout:
            return None
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - start
        if not data:
            return time.monotonic() - start


def is_closed(sock: socket.socket) -> bool:
    """Whether the peer has closed `sock` (without waiting)."""
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True


def list_request(server: Server) -> bytes:
    """An anonymous GET / (answered 403; the connection stays open)."""
    return f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode()


def flood(server: Server, source: str, count: int, budget: float = 15.0) -> list[socket.socket]:
    """Opens up to `count` idle connections from `source` (bounded in time)."""
    socks = []
    deadline = time.monotonic() + budget
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        try:
            socks.append(connect(server, source, timeout=3.0))
        except OSError:
            pass  # refused or timed out: shedding may reset a connect in progress
    return socks


def close_all(socks) -> None:
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def signed_put_head(server: Server, bucket: str, key: str, length: int) -> bytes:
    """The head of a SigV4 PUT with an unsigned payload of `length` bytes."""
    path = s3util.key_path(bucket, key)
    headers = server.raw().sign_v4("PUT", path, headers={"Content-Length": str(length)},
                                   payload_hash=UNSIGNED_PAYLOAD)
    lines = [f"PUT {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def vm_rss_kib(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", text, re.M).group(1))


def open_files_limit(pid: int) -> tuple[int, int]:
    text = Path(f"/proc/{pid}/limits").read_text()
    m = re.search(r"^Max open files\s+(\d+)\s+(\d+)", text, re.M)
    return int(m.group(1)), int(m.group(2))


# --------------------------------------------------------------------------------------
# timeouts
# --------------------------------------------------------------------------------------


def test_idle_connection_closed_after_idle_timeout(make_server):
    srv = make_server("--idle-timeout", "2")
    # A connection that never sends anything.
    silent = connect(srv)
    # A keep-alive connection after one request.
    used = connect(srv)
    used.sendall(list_request(srv))
    status, headers, _ = read_response(used)
    assert status == 403 and headers.get("connection", "").lower() != "close"
    waited_silent = seconds_until_closed(silent, 10)
    waited_used = seconds_until_closed(used, 10)
    assert waited_silent is not None and 1.0 <= waited_silent <= 4.5, waited_silent
    assert waited_used is not None and waited_used <= 4.5, waited_used
    close_all([silent, used])


def test_active_keep_alive_connection_is_not_cut(make_server):
    srv = make_server("--idle-timeout", "2")
    sock = connect(srv)
    start = time.monotonic()
    # Requests every second for 5 s (2.5 idle timeouts) on one connection: all answered.
    for _ in range(5):
        sock.sendall(list_request(srv))
        status, _, _ = read_response(sock)
        assert status == 403
        time.sleep(1.0)
    assert time.monotonic() - start >= 5
    sock.sendall(list_request(srv))
    assert read_response(sock)[0] == 403
    sock.close()


def test_header_read_timeout(make_server):
    srv = make_server("--header-read-timeout", "2", "--idle-timeout", "30")
    sock = connect(srv)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    start = time.monotonic()
    closed_after = None
    # Trickle a header byte every 0.3 s: bytes keep coming, the head is never complete.
    while time.monotonic() - start < 10:
        try:
            sock.sendall(b"x")
        except (BrokenPipeError, ConnectionResetError):
            closed_after = time.monotonic() - start
            break
        waited = seconds_until_closed(sock, 0.3)
        if waited is not None:
            closed_after = time.monotonic() - start
            break
    assert closed_after is not None, "a trickled request head was not cut"
    # Well before the 30 s idle timeout.
    assert 1.5 <= closed_after <= 5.0, closed_after
    sock.close()
    # A complete request on a fresh connection is still served.
    assert srv.client().list_buckets()["Buckets"] == []


def test_slow_body_fails_with_request_timeout_and_leaves_no_blob(make_server):
    srv = make_server("--body-timeout", "2")
    s3 = srv.client()
    bucket = s3util.unique_bucket_name()
    s3.create_bucket(Bucket=bucket)
    sock = connect(srv)
    sock.sendall(signed_put_head(srv, bucket, "slow", 1000) + b"0123456789")
    start = time.monotonic()
    status, headers, body = read_response(sock, timeout=15)
    waited = time.monotonic() - start
    assert status == 400, body
    assert b"<Code>RequestTimeout</Code>" in body, body
    assert b"not read from or written to within the timeout period" in body
    assert headers.get("connection", "").lower() == "close"
    assert 1.5 <= waited <= 6, waited
    assert seconds_until_closed(sock, 5) is not None
    sock.close()
    # No object, no committed blob, no temporary file.
    s3util.expect_error(s3.head_object, Bucket=bucket, Key="slow", code="404", status=404)
    assert blob_files(srv) == []
    assert wait_until(lambda: blob_store_contents(srv) == [], timeout=5), blob_store_contents(srv)


def test_trickling_body_within_the_timeout_succeeds(make_server):
    srv = make_server("--body-timeout", "2")
    s3 = srv.client()
    bucket = s3util.unique_bucket_name()
    s3.create_bucket(Bucket=bucket)
    sock = connect(srv)
    data = b"abcdefgh"
    sock.sendall(signed_put_head(srv, bucket, "trickle", len(data)))
    # One byte every 0.7 s: 5.6 s in all, more than twice the timeout, never idle for 2 s.
    for b in data:
        time.sleep(0.7)
        sock.sendall(bytes([b]))
    status, _, body = read_response(sock, timeout=10)
    assert status == 200, body
    sock.close()
    assert s3.get_object(Bucket=bucket, Key="trickle")["Body"].read() == data


# --------------------------------------------------------------------------------------
# connection caps
# --------------------------------------------------------------------------------------


def test_flood_of_idle_connections_from_one_address_does_not_starve_others(make_server):
    # Default caps (sized from the open-file limit); one address gets at most 1000.
    srv = make_server()
    socks = flood(srv, FLOOD_ADDR, 2500)
    try:
        assert len(socks) >= 1500, f"only {len(socks)} flood connections could be made"
        s3 = srv.client()
        bucket = s3util.unique_bucket_name()
        start = time.monotonic()
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="k", Body=b"served")
        assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"served"
        assert time.monotonic() - start < 10
        # The excess was shed: closed by the server at once, not left waiting.
        assert wait_until(lambda: sum(not is_closed(s) for s in socks) <= 1000, timeout=5)
        still_open = sum(not is_closed(s) for s in socks)
        assert 900 <= still_open <= 1000, still_open
        s3.delete_object(Bucket=bucket, Key="k")
        s3.delete_bucket(Bucket=bucket)
    finally:
        close_all(socks)
    assert "connection limits" in srv.log_text()


def test_global_cap_closes_idle_connections_to_make_room(make_server):
    srv = make_server("--max-connections", "40", "--max-connections-per-ip", "30")
    first = flood(srv, FLOOD_ADDR, 60)
    try:
        # The per-address cap: 30 kept, the rest closed on accept.
        assert wait_until(lambda: sum(not is_closed(s) for s in first) == 30, timeout=5)
        time.sleep(1.5)  # the first 30 are now idle for over a second
        second = flood(srv, OTHER_FLOOD_ADDR, 30)
        first += second
        # At the global cap, the long-idle connections are closed to make room...
        assert wait_until(lambda: all(is_closed(s) for s in first[:30]), timeout=5)
        # ... so a new, well-behaved client is served.
        s3 = srv.client()
        assert wait_until(lambda: _lists(s3), timeout=10)
    finally:
        close_all(first)


def _lists(s3) -> bool:
    try:
        s3.list_buckets()
        return True
    except Exception:  # noqa: BLE001 - a shed connection is retried by the wait loop
        return False


def test_server_started_with_soft_fd_limit_1024_raises_it(tessera_bin, tmp_path):
    soft, hard = open_files_limit(os.getpid())
    assert hard > 1024, f"the test needs a hard open-file limit above 1024 (have {hard})"
    wrapper = tmp_path / "tessera-lowfd"
    wrapper.write_text(f'#!/bin/sh\nulimit -S -n 1024 || exit 99\nexec "{tessera_bin}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    srv = Server(wrapper, tmp_path / "lowfd", name="lowfd")
    socks = []
    try:
        now_soft, now_hard = open_files_limit(srv.pid)
        assert now_hard == hard and now_soft == hard, (now_soft, now_hard)
        assert "raised the open-file limit" in srv.log_text()
        assert re.search(r"from=1024 to=%d" % hard, srv.log_text()), srv.log_tail(20)
        # More idle connections than the old soft limit: all fit, and others are served.
        socks = flood(srv, FLOOD_ADDR, 1100)
        assert len(socks) >= 1000
        s3 = srv.client()
        bucket = s3util.unique_bucket_name()
        s3.create_bucket(Bucket=bucket)
        s3.delete_bucket(Bucket=bucket)
    finally:
        close_all(socks)
        srv.close()


# --------------------------------------------------------------------------------------
# memory
# --------------------------------------------------------------------------------------


def test_slow_uploads_hold_little_memory(make_server):
    srv = make_server()
    s3 = srv.client()
    bucket = s3util.unique_bucket_name()
    s3.create_bucket(Bucket=bucket)
    # Warm up: a few uploads of every path first, so allocator pools exist already.
    for i in range(5):
        s3.put_object(Bucket=bucket, Key=f"warm{i}", Body=os.urandom(200_000))
    time.sleep(0.5)
    before = vm_rss_kib(srv.pid)
    n = 400
    socks = []
    try:
        for i in range(n):
            sock = connect(srv)
            # 10 MiB announced, 100 bytes sent: the upload is started and then stalls.
            sock.sendall(signed_put_head(srv, bucket, f"slow{i}", 10 << 20) + b"x" * 100)
            socks.append(sock)
        # Every upload has reached the blob store (one temporary file each).
        assert wait_until(lambda: len(leakcheck.temporary_files(srv)) >= n, timeout=15), \
            len(leakcheck.temporary_files(srv))
        time.sleep(0.5)
        after = vm_rss_kib(srv.pid)
        grown = after - before
        print(f"RSS {before} -> {after} KiB")
        # Each stalled upload may hold a small read buffer and a first coalescing buffer, not
        # a 1 MiB batch (that would be 400 MiB here).
        assert grown < n * 160, f"RSS grew by {grown} KiB for {n} stalled uploads ({before} -> {after} KiB)"
    finally:
        close_all(socks)
    # Abandoned uploads leave nothing behind.
    assert wait_until(lambda: leakcheck.temporary_files(srv) == [], timeout=10), \
        len(leakcheck.temporary_files(srv))
