"""Load with faults: 200 concurrent clients for TESSERA_LOAD_SECONDS (default 60) doing a mix of
PUT (small and medium; some with Content-MD5 or x-amz-checksum-crc32), GET (whole and ranged,
content verified), multipart uploads (small parts: the server runs with --min-part-size 5),
DeleteObject, DeleteObjects and CopyObject, while about CUT_FRACTION of the requests are cut at
a random point (inside the head, inside the body, right after the body, or inside the answer;
with a FIN or, SO_LINGER 0, an RST; or a half-close after a prefix of the request, whose answer
is read).

Each client owns its keys and knows what each holds: the body of the last acknowledged write, or
nothing after a delete. A key touched by a cut write or delete is "retired": it may end up
with the old or the new state (the server may finish the cut request even later), the test
checks only that at the end, and the client continues on a fresh key name.

Asserts: no 5xx answer; every GET (during the run and at the end) returns exactly the bytes last
acknowledged for its key; every other answer is the expected one; zero unreferenced blobs and no
temporary file after settling (without restart, see leakcheck.py); and a flat server RSS (see
RSS_* below).

The client side is light on purpose (2 cores shared with the server): raw HTTP/1.1 over
http.client keep-alive connections, a small hand-written SigV4 signer, bodies regenerated from
seeds instead of kept in memory.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import http.client
import os
import random
import socket
import struct
import threading
import time
import zlib
from urllib.parse import quote

import pytest

import leakcheck
from conftest import REGION

DURATION = float(os.environ.get("TESSERA_LOAD_SECONDS", "60"))
CLIENTS = int(os.environ.get("TESSERA_LOAD_CLIENTS", "200"))
SEED = int(os.environ.get("TESSERA_LOAD_SEED", "4242"))
CUT_FRACTION = 0.10
SLOTS = 4  # keys per client (overwrites and deletes hit the same keys again)
BUCKETS = 4
MAX_OPS_PER_CLIENT = 100_000  # every loop is bounded in count as well as in time
SETTLE = 10.0

# RSS: sampled every second from /proc/<pid>/status. Warm-up is the first 10 s (a third of a
# shortened run): connections, buffers, SQLite page cache and mimalloc's retained pages reach
# their working size there. After it, the peak must stay within 1.5 x the warm-up peak + 50 MiB.
# The slack covers what legitimately still grows under a steady load (the SQLite cache as the
# tables grow, mimalloc segments kept after a burst of medium bodies, the page cache of
# the WAL does not count in RSS); a leak per request or per cut connection (a lost future
# holding its body buffers, a lease never released) grows with the request count, i.e. by
# tens of MiB over tens of thousands of requests, and crosses the bound.
RSS_WARMUP = min(10.0, DURATION / 3)
RSS_FACTOR = 1.5
RSS_SLACK = 50 * 1024 * 1024

KiB = 1024
UNSIGNED = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


# --------------------------------------------------------------------------------------
# SigV4, small and fast
# --------------------------------------------------------------------------------------


class Signer:
    def __init__(self, access_key: str, secret_key: str, host: str):
        self.access_key, self.secret_key, self.host = access_key, secret_key, host
        self._keys: dict[str, bytes] = {}

    def _key(self, day: str) -> bytes:
        k = self._keys.get(day)
        if k is None:
            k = ("AWS4" + self.secret_key).encode()
            for part in (day, REGION, "s3", "aws4_request"):
                k = hmac.new(k, part.encode(), hashlib.sha256).digest()
            self._keys[day] = k
        return k

    def sign(self, method: str, path: str, query: list, headers: dict, payload_hash: str) -> dict:
        now = datetime.datetime.now(datetime.timezone.utc)
        amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        day = amz_date[:8]
        hdrs = {"host": self.host, "x-amz-date": amz_date, "x-amz-content-sha256": payload_hash}
        hdrs.update({k.lower(): str(v) for k, v in headers.items()})
        cq = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                      for k, v in sorted((k, "" if v is None else str(v)) for k, v in query))
        names = sorted(hdrs)
        ch = "".join(f"{n}:{' '.join(hdrs[n].split())}\n" for n in names)
        signed = ";".join(names)
        creq = "\n".join([method, path, cq, ch, signed, payload_hash])
        scope = f"{day}/{REGION}/s3/aws4_request"
        sts = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(creq.encode()).hexdigest()}"
        sig = hmac.new(self._key(day), sts.encode(), hashlib.sha256).hexdigest()
        hdrs["authorization"] = (f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, "
                                 f"SignedHeaders={signed}, Signature={sig}")
        return hdrs


def target_of(path: str, query: list) -> str:
    if not query:
        return path
    return path + "?" + "&".join(k if v is None else f"{k}={quote(str(v), safe='-_.~')}"
                                 for k, v in query)


# --------------------------------------------------------------------------------------
# Bodies: regenerated from (seed, size) pieces
# --------------------------------------------------------------------------------------


def piece(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def content(spec) -> bytes | None:
    """spec: None (absent) or a tuple of (seed, size) pieces (several for multipart)."""
    if spec is None:
        return None
    return b"".join(piece(s, n) for s, n in spec)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ops: dict[str, int] = {}
        self.cuts: dict[str, int] = {}
        self.five: list[str] = []
        self.errors: list[str] = []
        self.requests = 0
        self.slowest = (0.0, "")

    def timed(self, seconds: float, what: str):
        if seconds > self.slowest[0]:
            with self.lock:
                if seconds > self.slowest[0]:
                    self.slowest = (seconds, what)

    def op(self, name: str):
        with self.lock:
            self.ops[name] = self.ops.get(name, 0) + 1

    def cut(self, name: str):
        with self.lock:
            self.cuts[name] = self.cuts.get(name, 0) + 1

    def error(self, msg: str):
        with self.lock:
            if len(self.errors) < 200:
                self.errors.append(msg)

    def five_xx(self, msg: str):
        with self.lock:
            if len(self.five) < 200:
                self.five.append(msg)


class Cut(Exception):
    """The request was cut on purpose: its effect is unknown."""


class Client:
    def __init__(self, cid: int, server, deadline: float, stats: Stats):
        self.cid, self.server, self.deadline, self.stats = cid, server, deadline, stats
        self.rng = random.Random(SEED * 1000 + cid)
        self.bucket = f"load{cid % BUCKETS}"
        self.signer = Signer(server.access_key, server.secret_key, f"127.0.0.1:{server.port}")
        self.conn: http.client.HTTPConnection | None = None
        self.gen = [0] * SLOTS
        self.state: list = [None] * SLOTS  # spec or None (absent), certain
        self.retired: list[tuple[str, list]] = []  # (key, allowed specs incl. None)
        self.seq = 0

    # -- naming ---------------------------------------------------------------------------

    def key(self, slot: int) -> str:
        return f"c{self.cid:03d}/s{slot}/g{self.gen[slot]}"

    def path(self, key: str) -> str:
        return f"/{self.bucket}/{key}"

    def new_seed(self) -> int:
        self.seq += 1
        return (SEED << 40) ^ (self.cid << 24) ^ self.seq

    def retire(self, slot: int, *possible):
        allowed = [self.state[slot], *possible]
        self.retired.append((self.key(slot), allowed))
        self.gen[slot] += 1
        self.state[slot] = None  # the fresh key does not exist

    # -- requests -------------------------------------------------------------------------

    def request(self, method, key_or_path, query=(), headers=None, body=b"", what="",
                may_cut=True, unsigned=True, is_path=False):
        """(status, headers, body) of a normal request; raises Cut when this one was cut."""
        path = key_or_path if is_path else self.path(key_or_path)
        query = list(query)
        hdrs = dict(headers or {})
        payload = UNSIGNED if unsigned and body else hashlib.sha256(body).hexdigest()
        if body or method in ("PUT", "POST"):
            hdrs["content-length"] = str(len(body))
        signed = self.signer.sign(method, path, query, hdrs, payload)
        target = target_of(path, query)
        with self.stats.lock:
            self.stats.requests += 1
        t0 = time.monotonic()
        if may_cut and self.rng.random() < CUT_FRACTION:
            self.cut_request(method, target, signed, body, what)
            self.stats.timed(time.monotonic() - t0, f"{what} {target} (cut)")
            raise Cut()
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
            fresh = self.conn.sock is None
            try:
                self.conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                for k, v in signed.items():
                    self.conn.putheader(k, v)
                self.conn.endheaders(body if body else None)
                resp = self.conn.getresponse()
                data = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                self.conn.close()
                self.conn = None
                if fresh or attempt == 1:
                    raise AssertionError(f"{what}: connection failed on a fresh connection: {e!r}")
                # An idle keep-alive connection the server closed: the request never got there
                # (RemoteDisconnected / reset before any answer byte). Retry once, fresh.
                continue
            self.stats.timed(time.monotonic() - t0, f"{what} {target}")
            if resp.will_close:
                self.conn.close()
                self.conn = None
            if resp.status >= 500:
                self.stats.five_xx(f"{what} {method} {target}: {resp.status} {data[:300]!r}")
            return resp.status, resp.headers, data
        raise AssertionError("unreachable")

    def cut_request(self, method, target, signed, body, what):
        head = (f"{method} {target} HTTP/1.1\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in signed.items()) + "\r\n").encode()
        wire = head + body
        rng = self.rng
        where = rng.choice(["head", "body", "after_body", "after_body", "response", "half_close"])
        if where == "body" and not body:
            where = "after_body"
        rst = rng.random() < 0.5
        self.stats.cut(f"{where}{'-rst' if rst else ''}")
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=30)
        try:
            if where == "head":
                sock.sendall(wire[:rng.randrange(1, len(head))])
            elif where == "body":
                sock.sendall(wire[:len(head) + rng.randrange(0, len(body))])
            elif where == "after_body":
                sock.sendall(wire)
                if rng.random() < 0.5:
                    time.sleep(rng.uniform(0, 0.03))
            elif where == "half_close":  # a prefix (or all), shutdown(SHUT_WR), read the answer
                sock.sendall(wire[:len(head) + rng.randrange(0, len(body) + 1)])
                sock.shutdown(socket.SHUT_WR)
                sock.settimeout(10)
                got = sock.recv(64)
                if got.startswith(b"HTTP/1.1 5"):
                    self.stats.five_xx(f"{what} (half-closed) {method} {target}: {got[:40]!r}")
            else:  # inside the answer: read the status line and a few bytes, then go
                sock.sendall(wire)
                sock.settimeout(30)
                got = b""
                want = rng.randrange(1, 400)
                while len(got) < want:
                    chunk = sock.recv(want - len(got))
                    if not chunk:
                        break
                    got += chunk
                if got.startswith(b"HTTP/1.1 5"):
                    self.stats.five_xx(f"{what} (cut in answer) {method} {target}: {got[:100]!r}")
        except (BrokenPipeError, ConnectionResetError, socket.timeout, TimeoutError):
            pass
        finally:
            if rst:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()

    def expect(self, got, statuses, what):
        status, _, data = got
        if status not in statuses and status < 500:
            self.stats.error(f"c{self.cid} {what}: {status} (expected {statuses}) {data[:300]!r}")
        return status in statuses

    # -- operations -----------------------------------------------------------------------

    def op_put(self, medium: bool):
        slot = self.rng.randrange(SLOTS)
        key = self.key(slot)
        size = self.rng.randrange(64 * KiB, 512 * KiB) if medium else self.rng.randrange(0, 16 * KiB)
        spec = ((self.new_seed(), size),)
        data = content(spec)
        headers = {}
        r = self.rng.random()
        if r < 0.25:
            headers["content-md5"] = base64.b64encode(hashlib.md5(data).digest()).decode()
        elif r < 0.5:
            headers["x-amz-checksum-crc32"] = base64.b64encode(
                (zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big")).decode()
        try:
            got = self.request("PUT", key, (), headers, data, "PUT", unsigned=self.rng.random() < 0.7)
        except Cut:
            self.retire(slot, spec)
            return
        if self.expect(got, (200,), f"PUT {key}"):
            etag = got[1].get("ETag", "").strip('"')
            if etag != hashlib.md5(data).hexdigest():
                self.stats.error(f"PUT {key}: ETag {etag} is not the MD5 of the body")
            self.state[slot] = spec
        else:
            self.retire(slot, spec)

    def op_get(self, ranged: bool):
        slot = self.rng.randrange(SLOTS)
        key = self.key(slot)
        want = content(self.state[slot])
        headers = {}
        lo = hi = None
        if ranged and want:
            lo = self.rng.randrange(0, len(want))
            hi = self.rng.randrange(lo, len(want))
            headers["range"] = f"bytes={lo}-{hi}"
        try:
            got = self.request("GET", key, (), headers, b"", "GET")
        except Cut:
            return  # reads change nothing
        status, _, data = got
        if want is None:
            self.expect(got, (404,), f"GET {key} (deleted/absent)")
        elif lo is not None:
            if self.expect(got, (206,), f"GET {key} {headers['range']}") and data != want[lo:hi + 1]:
                self.stats.error(f"GET {key} {headers['range']}: wrong bytes ({len(data)} bytes)")
        elif self.expect(got, (200,), f"GET {key}") and data != want:
            self.stats.error(f"GET {key}: wrong bytes ({len(data)} bytes, expected {len(want)})")

    def op_delete(self):
        slot = self.rng.randrange(SLOTS)
        key = self.key(slot)
        try:
            got = self.request("DELETE", key, (), {}, b"", "DELETE")
        except Cut:
            self.retire(slot, None)
            return
        if self.expect(got, (204,), f"DELETE {key}"):
            self.state[slot] = None
        else:
            self.retire(slot, None)

    def op_delete_objects(self):
        slots = self.rng.sample(range(SLOTS), self.rng.randint(1, SLOTS))
        inner = "".join(f"<Object><Key>{self.key(s)}</Key></Object>" for s in slots)
        body = f"<Delete><Quiet>true</Quiet>{inner}</Delete>".encode()
        headers = {"content-md5": base64.b64encode(hashlib.md5(body).digest()).decode()}
        try:
            got = self.request("POST", f"/{self.bucket}", [("delete", None)], headers, body,
                               "DeleteObjects", unsigned=False, is_path=True)
        except Cut:
            for s in slots:
                self.retire(s, None)
            return
        if self.expect(got, (200,), "DeleteObjects") and b"<Error>" not in got[2]:
            for s in slots:
                self.state[s] = None
        else:
            if got[0] == 200:
                self.stats.error(f"DeleteObjects: errors in the answer {got[2][:300]!r}")
            for s in slots:
                self.retire(s, None)

    def op_copy(self):
        sources = [s for s in range(SLOTS) if self.state[s] is not None]
        if not sources:
            return self.op_put(False)
        src = self.rng.choice(sources)
        dst = self.rng.choice([s for s in range(SLOTS) if s != src])
        spec = self.state[src]
        try:
            got = self.request("PUT", self.key(dst), (),
                               {"x-amz-copy-source": f"/{self.bucket}/{self.key(src)}"}, b"", "CopyObject")
        except Cut:
            self.retire(dst, spec)
            return
        if self.expect(got, (200,), f"CopyObject {self.key(src)} -> {self.key(dst)}") and b"<Error>" not in got[2]:
            self.state[dst] = spec
        else:
            self.retire(dst, spec)

    def op_multipart(self):
        slot = self.rng.randrange(SLOTS)
        key = self.key(slot)
        count = self.rng.randint(2, 4)
        spec = tuple((self.new_seed(), self.rng.randrange(8 * KiB, 64 * KiB)) for _ in range(count))
        try:
            got = self.request("POST", key, [("uploads", None)], {}, b"", "CreateMultipartUpload")
        except Cut:
            return  # at most an empty upload nobody knows: no blob
        if not self.expect(got, (200,), f"CreateMultipartUpload {key}"):
            return
        body = got[2]
        upload_id = body.split(b"<UploadId>", 1)[1].split(b"</UploadId>", 1)[0].decode()
        etags = []
        try:
            for n, (seed, size) in enumerate(spec, 1):
                data = piece(seed, size)
                got = self.request("PUT", key, [("partNumber", n), ("uploadId", upload_id)], {}, data,
                                   "UploadPart")
                if not self.expect(got, (200,), f"UploadPart {key} #{n}"):
                    return
                etags.append(got[1].get("ETag"))
            if self.rng.random() < 0.1:  # abandon some: Abort (its parts must be freed)
                got = self.request("DELETE", key, [("uploadId", upload_id)], {}, b"", "Abort")
                self.expect(got, (204,), f"AbortMultipartUpload {key}")
                return
            xml = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>"
                          for n, e in enumerate(etags, 1))
            cbody = f"<CompleteMultipartUpload>{xml}</CompleteMultipartUpload>".encode()
        except Cut:
            # A cut part or abort: leave the upload (its parts stay referenced) or abort it.
            if self.rng.random() < 0.5:
                try:
                    got = self.request("DELETE", key, [("uploadId", upload_id)], {}, b"", "Abort",
                                       may_cut=False)
                    self.expect(got, (204, 404), f"AbortMultipartUpload {key} after a cut")
                except Cut:
                    pass
            return
        try:
            got = self.request("POST", key, [("uploadId", upload_id)], {}, cbody, "Complete",
                               unsigned=False)
        except Cut:
            self.retire(slot, spec)
            return
        if self.expect(got, (200,), f"Complete {key}") and b"<Error>" not in got[2]:
            self.state[slot] = spec
        else:
            if got[0] == 200:
                self.stats.five_xx(f"Complete {key}: error in a 200 answer {got[2][:300]!r}")
            self.retire(slot, spec)

    OPS = [("put_small", 25), ("put_medium", 6), ("get", 25), ("get_range", 10), ("multipart", 6),
           ("delete", 8), ("delete_objects", 4), ("copy", 6)]

    def run(self):
        names = [n for n, _ in self.OPS]
        weights = [w for _, w in self.OPS]
        try:
            for _ in range(MAX_OPS_PER_CLIENT):
                if time.monotonic() >= self.deadline:
                    break
                name = self.rng.choices(names, weights)[0]
                self.stats.op(name)
                if name == "put_small":
                    self.op_put(False)
                elif name == "put_medium":
                    self.op_put(True)
                elif name == "get":
                    self.op_get(False)
                elif name == "get_range":
                    self.op_get(True)
                elif name == "multipart":
                    self.op_multipart()
                elif name == "delete":
                    self.op_delete()
                elif name == "delete_objects":
                    self.op_delete_objects()
                elif name == "copy":
                    self.op_copy()
        except Exception as e:  # a client that dies is a test failure, with its reason
            self.stats.error(f"client {self.cid} stopped: {e!r}")
        finally:
            if self.conn is not None:
                self.conn.close()
                self.conn = None

    def final_check(self):
        """After the run: every key holds its last acknowledged state; retired ones one of theirs."""
        try:
            for slot in range(SLOTS):
                self._check_key(self.key(slot), [self.state[slot]])
            for key, allowed in self.retired:
                self._check_key(key, allowed)
        except Exception as e:
            self.stats.error(f"final check of client {self.cid}: {e!r}")
        finally:
            if self.conn is not None:
                self.conn.close()
                self.conn = None

    def _check_key(self, key, allowed):
        status, _, data = self.request("GET", key, (), {}, b"", "final GET", may_cut=False)
        if status == 404:
            if None not in allowed:
                self.stats.error(f"final: {key} missing, expected {len(content(allowed[0]))} bytes")
            return
        if status != 200:
            self.stats.error(f"final GET {key}: {status} {data[:200]!r}")
            return
        if not any(spec is not None and content(spec) == data for spec in allowed):
            self.stats.error(f"final: {key} holds {len(data)} bytes matching none of "
                             f"{[None if s is None else sum(n for _, n in s) for s in allowed]}")


def rss_and_threads(pid: int) -> tuple[int, int]:
    rss = threads = anon = None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
            elif line.startswith("RssAnon:"):
                anon = int(line.split()[1]) // 1024
    if rss is None:
        raise AssertionError("no VmRSS")
    return rss, f"{threads}t/{anon}MiB-anon"


@pytest.mark.timeout(DURATION + 240)
def test_load_with_cut_connections(make_server):
    server = make_server("--min-part-size", "5")
    threading.stack_size(512 * KiB)
    stats = Stats()
    setup = Client(-1, server, 0, stats)
    for b in range(BUCKETS):
        got = setup.request("PUT", f"/load{b}", (), {}, b"", "CreateBucket", may_cut=False, is_path=True)
        assert got[0] == 200, got

    started = time.monotonic()
    deadline = started + DURATION
    clients = [Client(i, server, deadline, stats) for i in range(CLIENTS)]
    samples: list[tuple[float, int]] = []
    thread_counts: list[int] = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            try:
                rss, nthreads = rss_and_threads(server.pid)
                samples.append((time.monotonic() - started, rss))
                thread_counts.append(nthreads)
            except (OSError, AssertionError):
                return
            stop.wait(1.0)

    sampler = threading.Thread(target=sample, name="rss", daemon=True)
    sampler.start()
    threads = [threading.Thread(target=c.run, name=f"load-{c.cid}", daemon=True) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(1.0, deadline + 120 - time.monotonic()))
    hung = [t.name for t in threads if t.is_alive()]
    stop.set()
    sampler.join(5)
    ran_for = time.monotonic() - started
    assert not hung, f"{len(hung)} client(s) still running 120 s after the deadline: {hung[:10]}"
    assert server.running(), f"the server died:\n{server.log_tail(40)}"

    # Every key, checked by its own client (in parallel, nothing cut).
    checkers = [threading.Thread(target=c.final_check, daemon=True) for c in clients]
    for t in checkers:
        t.start()
    for t in checkers:
        t.join(120)

    report = leakcheck.leak_report(server, settle=SETTLE)

    warm = [rss for t, rss in samples if t <= RSS_WARMUP]
    later = [rss for t, rss in samples if t > RSS_WARMUP]
    mib = 1024 * 1024
    summary = (f"{CLIENTS} clients, {ran_for:.0f}s, {stats.requests} requests, ops {stats.ops}, "
               f"cuts {sum(stats.cuts.values())} {stats.cuts}; slowest request {stats.slowest[0]:.1f}s "
               f"({stats.slowest[1]}); blobs {report['blobs']} "
               f"(referenced {report['referenced']}); RSS warm-up max "
               f"{max(warm, default=0) / mib:.0f} MiB, later max {max(later, default=0) / mib:.0f} MiB, "
               f"last {samples[-1][1] / mib if samples else 0:.0f} MiB")
    print(summary)
    log5 = [line for line in server.log_text().splitlines() if " status=5" in line]

    series = [(round(t), rss // mib) for t, rss in samples]
    print("RSS (s, MiB):", series)
    print("server threads / anonymous RSS:", thread_counts)
    failures = []
    if stats.five:
        failures.append(f"{len(stats.five)} 5xx answer(s):\n" + "\n".join(stats.five[:20]))
    if stats.errors:
        failures.append(f"{len(stats.errors)} wrong answer(s):\n" + "\n".join(stats.errors[:30]))
    if report["dangling"]:
        failures.append(f"metadata references missing blobs: {report['dangling'][:10]}")
    if report["unreferenced"]:
        failures.append(
            f"{len(report['unreferenced'])} unreferenced blob(s) after {SETTLE:.0f}s without "
            f"restart: {report['unreferenced'][:10]}")
    if report["temporary"]:
        failures.append(f"temporary files left: {report['temporary'][:10]}")
    if not warm or not later:
        failures.append(f"too few RSS samples: {series}")
    else:
        bound = RSS_FACTOR * max(warm) + RSS_SLACK
        if max(later) > bound:
            failures.append(f"RSS grew past {bound / mib:.0f} MiB ({RSS_FACTOR} x the warm-up peak "
                            f"+ {RSS_SLACK // mib} MiB): {series}\nserver threads: {thread_counts}")
    if log5:
        print(f"server log: {len(log5)} status=5xx line(s), e.g. {log5[:3]}")
    assert not failures, summary + "\n" + "\n\n".join(failures)
