"""Cancellation safety of the write paths: a client that goes away at any point leaves no blob
behind that nothing references.

Rule under test: each write path (PutObject, UploadPart, UploadPartCopy, CopyObject,
CompleteMultipartUpload) either finishes or undoes its blob work when the client goes away at any
await point. For each path the test sends many hand-made requests over raw sockets and drops the
connection at a random point: inside the headers, inside the body, right after the body, or after
a random delay of 0..MAX_DELAY ms while the server works (closing with a FIN or, with
SO_LINGER 0, with an RST), or after a prefix of the request and a half-close (shutdown of the
sending side, then the answer is read); a few requests run to completion as a control. Then, WITHOUT
restarting the server (the start-up sweep would hide a leak), it asserts:

- zero unreferenced blobs: every committed blob is referenced by the metadata and no temporary
  leftover remains, as `tessera blobs unreferenced --grace 0` reports them (see leakcheck.py);
- every object that exists is readable and holds one of the bodies written to its key (the new
  one, or the old one when the write was cut), and every acknowledged write is visible;
- an upload in progress holds only parts sent to it (whole), and completing it gives the
  concatenation of those parts;
- no 5xx on any request whose answer the client read.

The random choices come from a seeded generator (TESSERA_CANCEL_SEED; TESSERA_CANCEL_TRIES tries
per path, default 40), so a failure names a reproducible schedule; the timing itself is not
reproducible (it depends on the machine).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import random
import re
import socket
import struct
import time
import xml.etree.ElementTree as ET

import pytest

import leakcheck
from conftest import (STREAMING_SIGNED, STREAMING_UNSIGNED_TRAILER,
                      UNSIGNED_PAYLOAD, RawClient)
from s3util import checksum_b64, key_path, md5_b64, md5_hex

SEED = int(os.environ.get("TESSERA_CANCEL_SEED", "20261201"))
TRIES = int(os.environ.get("TESSERA_CANCEL_TRIES", "40"))
MAX_DELAY_MS = 40  # upper bound of the random wait before the cut (a debug-build write is 2..30 ms)
SETTLE = 5.0  # seconds to wait for in-flight work (async deletes, leases) before judging

BUCKET = "cancel"
KiB = 1024

# How a request is cut, with weights: mostly at the points where the blob is being committed.
CUTS = [
    ("headers", 1),      # inside the request head
    ("body", 2),         # inside the body (for bodies; else inside the head)
    ("after_body", 4),   # the whole request, then close at once (the known orphan case)
    ("delay", 5),        # the whole request, wait 0..MAX_DELAY ms (reading any answer), close
    ("half_close", 1),   # a prefix of the request (or all of it), shutdown(SHUT_WR), read the answer
    ("complete", 1),     # control: read the whole answer
]


# --------------------------------------------------------------------------------------
# Raw requests that can be cut anywhere
# --------------------------------------------------------------------------------------


def wire_request(raw: RawClient, method: str, path: str, query=None, headers=None,
                 data: bytes = b"", body_mode: str = "sha256") -> tuple[bytes, bytes]:
    """(head, body) bytes of a SigV4-signed HTTP/1.1 request. body_mode (for bodies):
    sha256 (signed payload hash), unsigned (UNSIGNED-PAYLOAD + Content-MD5), chunked
    (aws-chunked with chunk signatures) or trailer (aws-chunked, unsigned, trailing CRC32)."""
    hdrs = dict(headers or {})
    if body_mode == "sha256" or not data and body_mode not in ("chunked", "trailer"):
        signed = raw.sign_v4(method, path, query, hdrs, body=data)
        body = data
    elif body_mode == "unsigned":
        hdrs["Content-MD5"] = md5_b64(data)
        signed = raw.sign_v4(method, path, query, hdrs, payload_hash=UNSIGNED_PAYLOAD)
        body = data
    elif body_mode == "chunked":
        size = 16 * KiB
        chunks = [data[i:i + size] for i in range(0, len(data), size)] + [b""]
        encoded = sum(len(f"{len(c):x};chunk-signature=") + 64 + 2 + len(c) + 2 for c in chunks)
        hdrs.update({"Content-Encoding": "aws-chunked",
                     "X-Amz-Decoded-Content-Length": str(len(data)),
                     "Content-Length": str(encoded)})
        signed = raw.sign_v4(method, path, query, hdrs, payload_hash=STREAMING_SIGNED)
        seed = signed["Authorization"].rsplit("Signature=", 1)[1]
        sigs = RawClient.chunk_signatures(raw.secret_key, signed["X-Amz-Date"], seed, chunks)
        body = b"".join(f"{len(c):x};chunk-signature={s}\r\n".encode() + c + b"\r\n"
                        for c, s in zip(chunks, sigs))
        assert len(body) == encoded
    elif body_mode == "trailer":
        name = "x-amz-checksum-crc32"
        body = RawClient.unsigned_trailer_body(data, name, checksum_b64("CRC32", data), 16 * KiB)
        hdrs.update({"Content-Encoding": "aws-chunked",
                     "X-Amz-Decoded-Content-Length": str(len(data)),
                     "X-Amz-Trailer": name,
                     "X-Amz-Sdk-Checksum-Algorithm": "CRC32",
                     "Content-Length": str(len(body))})
        signed = raw.sign_v4(method, path, query, hdrs, payload_hash=STREAMING_UNSIGNED_TRAILER)
    else:
        raise ValueError(body_mode)
    if not any(k.lower() == "content-length" for k in signed):
        signed["Content-Length"] = str(len(body))
    lines = [f"{method} {raw.target(path, query)} HTTP/1.1"]
    lines += [f"{k}: {v}" for k, v in signed.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), body


def read_response(sock: socket.socket, method: str, timeout: float):
    """(status, body) of the answer on sock, or None if none started within timeout."""
    sock.settimeout(timeout)
    resp = http.client.HTTPResponse(sock, method=method)
    try:
        resp.begin()
    except (TimeoutError, socket.timeout, ConnectionError, http.client.RemoteDisconnected,
            http.client.BadStatusLine):
        return None
    sock.settimeout(30)
    try:
        body = resp.read()
    except (TimeoutError, socket.timeout, ConnectionError, http.client.IncompleteRead):
        body = None
    return resp.status, body


def close(sock: socket.socket, rst: bool) -> None:
    if rst:  # SO_LINGER {on, 0}: close() sends an RST instead of a FIN
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class Outcome:
    def __init__(self, cut: str, rst: bool, detail: str, status=None, body=None):
        self.cut, self.rst, self.detail, self.status, self.body = cut, rst, detail, status, body

    @property
    def acknowledged(self) -> bool:
        return self.status == 200

    def __repr__(self):
        return f"<{self.cut}{' rst' if self.rst else ''} {self.detail} -> {self.status}>"


def fire(server, head: bytes, body: bytes, method: str, rng: random.Random, cut: str | None = None) -> Outcome:
    """Sends head+body and cuts the connection as `cut` says (random when None)."""
    if cut is None:
        cut = rng.choices([c for c, _ in CUTS], weights=[w for _, w in CUTS])[0]
    rst = rng.random() < 0.5
    wire = head + body
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    status = resp_body = None
    try:
        if cut == "headers":
            n = rng.randrange(1, len(head))
            sock.sendall(wire[:n])
            detail = f"head {n}/{len(head)}"
        elif cut == "body":
            n = len(head) + rng.randrange(0, len(body)) if body else rng.randrange(1, len(head))
            sock.sendall(wire[:n])
            time.sleep(rng.uniform(0, 0.005))  # let part of it be read
            detail = f"{n}/{len(wire)} bytes"
        elif cut == "after_body":
            sock.sendall(wire)
            detail = "all sent"
        elif cut == "delay":
            delay = MAX_DELAY_MS * rng.random() ** 3 / 1000  # dense at a few ms, up to the max
            sock.sendall(wire)
            got = read_response(sock, method, delay) if delay > 0 else None
            if got is not None:
                status, resp_body = got
            detail = f"{delay * 1000:.1f} ms"
        elif cut == "half_close":
            n = len(head) + rng.randrange(0, len(body) + 1) if body else len(wire)
            sock.sendall(wire[:n])
            sock.shutdown(socket.SHUT_WR)
            got = read_response(sock, method, 10)
            if got is not None:
                status, resp_body = got
            detail = f"{n}/{len(wire)} bytes, then SHUT_WR"
        elif cut == "complete":
            sock.sendall(wire)
            got = read_response(sock, method, 60)
            assert got is not None, "no answer to a complete request within 60 s"
            status, resp_body = got
            detail = "answer read"
        else:
            raise ValueError(cut)
    except (BrokenPipeError, ConnectionResetError) as e:
        detail = f"send failed: {e!r}"  # the server may answer early and close
    finally:
        close(sock, rst)
    return Outcome(cut, rst, detail, status, resp_body)


# --------------------------------------------------------------------------------------
# Whole requests (set-up and checks)
# --------------------------------------------------------------------------------------


def ok(resp, what: str):
    assert resp.status == 200, f"{what}: {resp.status} {resp.body[:500]!r}"
    return resp


def xml_find(body: bytes, name: str) -> str:
    root = ET.fromstring(body)
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.split("}")[-1] == name:
            return el.text
    raise AssertionError(f"no <{name}> in {body[:300]!r}")


def create_upload(raw: RawClient, key: str) -> str:
    r = ok(raw("POST", key_path(BUCKET, key), {"uploads": None}), f"CreateMultipartUpload {key}")
    return xml_find(r.body, "UploadId")


def put(raw: RawClient, key: str, data: bytes):
    ok(raw("PUT", key_path(BUCKET, key), body=data), f"PUT {key}")


def upload_part(raw: RawClient, key: str, upload_id: str, n: int, data: bytes) -> str:
    r = ok(raw("PUT", key_path(BUCKET, key), {"partNumber": n, "uploadId": upload_id}, body=data),
           f"UploadPart {key} #{n}")
    return r.header("ETag")


def complete_xml(parts: list[tuple[int, str]]) -> bytes:
    inner = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>" for n, etag in parts)
    return f"<CompleteMultipartUpload>{inner}</CompleteMultipartUpload>".encode()


def get_object(raw: RawClient, key: str):
    r = raw("GET", key_path(BUCKET, key))
    assert r.status in (200, 404), f"GET {key}: {r.status} {r.body[:300]!r}"
    return r.body if r.status == 200 else None


def list_keys(raw: RawClient) -> list[str]:
    keys, token = [], None
    while True:
        q = {"list-type": "2"}
        if token:
            q["continuation-token"] = token
        r = ok(raw("GET", f"/{BUCKET}", q), "ListObjectsV2")
        root = ET.fromstring(r.body)
        names = {el.tag.split("}")[-1]: el for el in root}
        keys += [el.text for el in root.iter() if isinstance(el.tag, str) and el.tag.split("}")[-1] == "Key"]
        if names.get("IsTruncated") is None or names["IsTruncated"].text != "true":
            return keys
        token = names["NextContinuationToken"].text


def list_parts(raw: RawClient, key: str, upload_id: str) -> dict[int, str]:
    r = raw("GET", key_path(BUCKET, key), {"uploadId": upload_id, "max-parts": "1000"})
    if r.status == 404:
        return None
    ok(r, f"ListParts {key}")
    out = {}
    for part in r.xml().iter("Part"):
        out[int(part.findtext("PartNumber"))] = part.findtext("ETag").strip('"')
    return out


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


class Expectations:
    """What each key may hold: the digests of the bodies that may be there (after an
    acknowledged write: exactly that body; after a cut one: that body or what was there
    before), and whether the key may be absent."""

    def __init__(self):
        self.allowed: dict[str, set[str]] = {}
        self.may_be_absent: dict[str, bool] = {}

    def existing(self, key: str, data: bytes):
        self.allowed[key] = {digest(data)}
        self.may_be_absent[key] = False

    def attempted(self, key: str, data: bytes, outcome: Outcome):
        if outcome.acknowledged:
            self.existing(key, data)
        else:
            self.allowed.setdefault(key, set()).add(digest(data))
            self.may_be_absent.setdefault(key, True)

    def check(self, raw: RawClient) -> list[str]:
        problems = []
        present = set(list_keys(raw))
        for key in sorted(present | set(self.allowed)):
            body = get_object(raw, key) if key in present else None
            if key not in self.allowed:
                problems.append(f"{key}: exists but was never written")
            elif body is None:
                if not self.may_be_absent[key]:
                    problems.append(f"{key}: missing although a write was acknowledged")
            elif digest(body) not in self.allowed[key]:
                problems.append(f"{key}: holds {len(body)} bytes matching none of the allowed "
                                f"bodies (an acknowledged write lost, or a torn write)")
        return problems


# --------------------------------------------------------------------------------------
# The paths
# --------------------------------------------------------------------------------------


def body_bytes(rng: random.Random) -> bytes:
    """1 KiB .. 768 KiB, skewed to the small end."""
    n = int(KiB * 768 ** rng.random())
    return rng.randbytes(n)


BODY_MODES = ["sha256", "unsigned", "chunked", "trailer"]


def run_put_object(server, raw, rng, tries, exp, outcomes, notes):
    for i in range(tries):
        key = f"put/{i:03d}"
        if rng.random() < 0.5:  # overwrite: the replaced object's blobs are freed by the commit
            old = body_bytes(rng)
            put(raw, key, old)
            exp.existing(key, old)
        data = body_bytes(rng)
        mode = rng.choice(BODY_MODES)
        head, body = wire_request(raw, "PUT", key_path(BUCKET, key), None, None, data, mode)
        o = fire(server, head, body, "PUT", rng)
        o.detail = f"PUT {key} {mode} {len(data)}B: {o.detail}"
        outcomes.append(o)
        exp.attempted(key, data, o)


def sources(raw, rng) -> dict[str, bytes]:
    """Copy sources: small, large, and a 3-part multipart object (3 blobs to copy)."""
    out = {"src/small": rng.randbytes(4 * KiB), "src/large": rng.randbytes(768 * KiB)}
    for k, v in out.items():
        put(raw, k, v)
    parts = [rng.randbytes(256 * KiB) for _ in range(3)]
    uid = create_upload(raw, "src/multi")
    etags = [upload_part(raw, "src/multi", uid, n, p) for n, p in enumerate(parts, 1)]
    ok(raw("POST", key_path(BUCKET, "src/multi"), {"uploadId": uid},
           body=complete_xml(list(enumerate(etags, 1)))), "Complete src/multi")
    out["src/multi"] = b"".join(parts)
    return out


def run_copy_object(server, raw, rng, tries, exp, outcomes, notes):
    srcs = sources(raw, rng)
    for k, v in srcs.items():
        exp.existing(k, v)
    for i in range(tries):
        key = f"copy/{i:03d}"
        if rng.random() < 0.5:
            old = body_bytes(rng)
            put(raw, key, old)
            exp.existing(key, old)
        src = rng.choice(sorted(srcs))
        head, body = wire_request(raw, "PUT", key_path(BUCKET, key), None,
                                  {"x-amz-copy-source": f"/{BUCKET}/{src}"})
        o = fire(server, head, body, "PUT", rng)
        o.detail = f"CopyObject {src} -> {key}: {o.detail}"
        outcomes.append(o)
        exp.attempted(key, srcs[src], o)


class UploadState:
    """A shared upload: the bodies each part number may hold."""

    def __init__(self, key: str, upload_id: str):
        self.key, self.upload_id = key, upload_id
        self.allowed: dict[int, dict[str, bytes]] = {}  # n -> {md5: data}
        self.required: dict[int, set[str]] = {}  # n -> md5s one of which must be there

    def existing(self, n: int, data: bytes):
        self.allowed.setdefault(n, {})[md5_hex(data)] = data
        self.required[n] = {md5_hex(data)}

    def attempted(self, n: int, data: bytes, outcome: Outcome):
        self.allowed.setdefault(n, {})[md5_hex(data)] = data
        if outcome.acknowledged:
            self.required[n] = {md5_hex(data)}
        elif n in self.required:
            self.required[n].add(md5_hex(data))

    def check_and_complete(self, raw: RawClient, exp: Expectations) -> list[str]:
        problems = []
        parts = list_parts(raw, self.key, self.upload_id)
        if parts is None:
            return [f"upload {self.key} vanished"]
        for n, etag in sorted(parts.items()):
            if etag not in self.allowed.get(n, {}):
                problems.append(f"{self.key} part {n}: ETag {etag} matches no body sent")
        for n, md5s in self.required.items():
            if parts.get(n) not in md5s:
                problems.append(f"{self.key} part {n}: acknowledged body missing (has {parts.get(n)})")
        if problems or not parts:
            return problems
        numbers = sorted(parts)
        r = raw("POST", key_path(BUCKET, self.key), {"uploadId": self.upload_id},
                body=complete_xml([(n, f'"{parts[n]}"') for n in numbers]))
        if r.status != 200:
            return [f"Complete {self.key}: {r.status} {r.body[:300]!r}"]
        data = b"".join(self.allowed[n][parts[n]] for n in numbers)
        exp.existing(self.key, data)
        return []


def run_upload_part(server, raw, rng, tries, exp, outcomes, notes):
    up = UploadState("mpu/parts", create_upload(raw, "mpu/parts"))
    notes["uploads"] = [up]
    for i in range(tries):
        n = i + 1
        if rng.random() < 0.5:  # replacing a part frees the replaced part's blob
            old = body_bytes(rng)
            upload_part(raw, up.key, up.upload_id, n, old)
            up.existing(n, old)
        data = body_bytes(rng)
        mode = rng.choice(BODY_MODES)
        head, body = wire_request(raw, "PUT", key_path(BUCKET, up.key),
                                  {"partNumber": n, "uploadId": up.upload_id}, None, data, mode)
        o = fire(server, head, body, "PUT", rng)
        o.detail = f"UploadPart #{n} {mode} {len(data)}B: {o.detail}"
        outcomes.append(o)
        up.attempted(n, data, o)


def run_upload_part_copy(server, raw, rng, tries, exp, outcomes, notes):
    srcs = sources(raw, rng)
    for k, v in srcs.items():
        exp.existing(k, v)
    up = UploadState("mpu/copies", create_upload(raw, "mpu/copies"))
    notes["uploads"] = [up]
    for i in range(tries):
        n = i + 1
        if rng.random() < 0.5:
            old = body_bytes(rng)
            upload_part(raw, up.key, up.upload_id, n, old)
            up.existing(n, old)
        src = rng.choice(sorted(srcs))
        whole = srcs[src]
        headers = {"x-amz-copy-source": f"/{BUCKET}/{src}"}
        data = whole
        if rng.random() < 0.5:
            first = rng.randrange(0, len(whole) - 8)
            last = rng.randrange(first + 7, len(whole))
            headers["x-amz-copy-source-range"] = f"bytes={first}-{last}"
            data = whole[first:last + 1]
        head, body = wire_request(raw, "PUT", key_path(BUCKET, up.key),
                                  {"partNumber": n, "uploadId": up.upload_id}, headers)
        o = fire(server, head, body, "PUT", rng)
        o.detail = f"UploadPartCopy {src} {headers.get('x-amz-copy-source-range', '')} -> #{n}: {o.detail}"
        outcomes.append(o)
        up.attempted(n, data, o)


def run_complete(server, raw, rng, tries, exp, outcomes, notes):
    pending = []
    for i in range(tries):
        key = f"done/{i:03d}"
        if rng.random() < 0.5:  # completing over an object frees the old object's blobs
            old = body_bytes(rng)
            put(raw, key, old)
            exp.existing(key, old)
        uid = create_upload(raw, key)
        count = rng.randint(1, 3)
        parts = [rng.randbytes(rng.randrange(8 * KiB, 200 * KiB)) for _ in range(count)]
        etags = [upload_part(raw, key, uid, n, p) for n, p in enumerate(parts, 1)]
        if rng.random() < 0.7:  # a part left out of the list: freed by the Complete
            upload_part(raw, key, uid, count + 1, rng.randbytes(16 * KiB))
        head, body = wire_request(raw, "POST", key_path(BUCKET, key), {"uploadId": uid}, None,
                                  complete_xml(list(enumerate(etags, 1))))
        o = fire(server, head, body, "POST", rng)
        # A Complete answers 200 and then may still carry an <Error> in the body: not acked then.
        if o.status == 200 and o.body is not None and b"<Error>" in o.body:
            o.status = 500
        o.detail = f"Complete {key} ({count} parts): {o.detail}"
        outcomes.append(o)
        exp.attempted(key, b"".join(parts), o)
        pending.append((key, uid, digest(b"".join(parts))))
    notes["completes"] = pending


def check_completes(raw, pending) -> list[str]:
    """Atomicity: either the object holds the upload's bytes and the upload is gone, or the
    upload is still in progress."""
    problems = []
    for key, uid, want in pending:
        parts = list_parts(raw, key, uid)
        body = get_object(raw, key)
        done = body is not None and digest(body) == want
        if done and parts is not None:
            problems.append(f"{key}: completed but upload {uid} still listed")
        if not done and parts is None:
            problems.append(f"{key}: upload {uid} gone but the object does not hold its bytes")
    return problems


PATHS = {
    "PutObject": run_put_object,
    "UploadPart": run_upload_part,
    "UploadPartCopy": run_upload_part_copy,
    "CopyObject": run_copy_object,
    "CompleteMultipartUpload": run_complete,
}


@pytest.fixture
def cancel_server(make_server):
    srv = make_server("--min-part-size", "5")
    ok(RawClient(srv)("PUT", f"/{BUCKET}"), "CreateBucket")
    return srv


def log_5xx(server) -> list[str]:
    return [line for line in server.log_text().splitlines() if re.search(r"\bstatus=5\d\d\b", line)]


@pytest.mark.parametrize("path", list(PATHS))
def test_cut_connections_leave_no_unreferenced_blob(cancel_server, path):
    server = cancel_server
    raw = RawClient(server)
    rng = random.Random(f"{SEED}-{path}")
    exp, outcomes, notes = Expectations(), [], {}
    started = time.monotonic()
    PATHS[path](server, raw, rng, TRIES, exp, outcomes, notes)
    sent_for = time.monotonic() - started

    # Judge the blob store first: nothing may be unreferenced once in-flight work settled.
    report = leakcheck.leak_report(server, settle=SETTLE)

    # Then the content (completing the shared uploads adds objects; checked again after).
    problems = check_completes(raw, notes.get("completes", []))
    for up in notes.get("uploads", []):
        problems += up.check_and_complete(raw, exp)
    problems += exp.check(raw)
    after = leakcheck.leak_report(server, settle=SETTLE)

    by_cut = {}
    for o in outcomes:
        by_cut[o.cut] = by_cut.get(o.cut, 0) + 1
    five = [o for o in outcomes if o.status is not None and o.status >= 500]
    refused = [o for o in outcomes if o.cut == "complete" and o.status != 200]
    summary = (f"{path}: {len(outcomes)} cut requests in {sent_for:.1f}s {by_cut}; "
               f"{report['blobs']} blobs, {report['referenced']} referenced; seed {SEED}")

    failures = []
    if five:
        failures.append(f"{len(five)} 5xx answer(s): {five}\nserver log 5xx: {log_5xx(server)[-5:]}")
    if refused:
        failures.append(f"control requests not answered 200: {refused}")
    if report["dangling"]:
        failures.append(f"metadata references missing blobs: {report['dangling']}")
    if report["unreferenced"]:
        failures.append(
            f"{len(report['unreferenced'])} unreferenced blob(s) after {SETTLE:.0f}s without "
            f"restart: {report['unreferenced'][:10]}\n"
            f"cut after the whole request: {[o for o in outcomes if o.cut in ('after_body', 'delay')][:20]}")
    if report["temporary"]:
        failures.append(f"temporary files left: {report['temporary'][:10]}")
    if problems:
        failures.append("content problems:\n" + "\n".join(problems[:30]))
    if after["unreferenced"] or after["temporary"] or after["dangling"]:
        failures.append(f"after the content checks: {after}")
    assert not failures, summary + "\n" + "\n\n".join(failures)


def test_leak_check_sees_a_planted_blob(cancel_server):
    """The leak check itself: a blob file nothing references is reported, referenced blobs and
    in-progress parts are not."""
    server = cancel_server
    raw = RawClient(server)
    put(raw, "plain", b"referenced by an object")
    uid = create_upload(raw, "mpu")
    upload_part(raw, "mpu", uid, 1, b"referenced by a part")
    assert leakcheck.unreferenced_blobs(server, settle=2) == []
    assert len(leakcheck.referenced_blobs(server)) == 2
    planted = server.data_dir / "blobs" / "blobs" / "ab" / ("ab" + "0" * 30)
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_bytes(b"orphan")
    try:
        assert leakcheck.unreferenced_blobs(server, settle=0.3) == [planted.name]
        # With the default grace period (an hour) a fresh blob is too young to be swept: it may
        # be a write between its blob and metadata commits.
        assert leakcheck._blobs_command(server, "unreferenced")["unreferenced"] == []
    finally:
        planted.unlink()
    tmp = server.data_dir / "blobs" / "tmp" / "stray.tmp"
    tmp.write_bytes(b"x")
    try:
        assert leakcheck.temporary_files(server) == [tmp.name]
    finally:
        tmp.unlink()
    # An overwrite frees the old blob (asynchronously): settled, nothing is left over.
    put(raw, "plain", b"new body")
    assert leakcheck.unreferenced_blobs(server, settle=5) == []
