"""Crash safety and storage hygiene, each on its own server (fresh_server):
SIGKILL keeps committed objects, SIGTERM mid-upload never leaves a partial object, and no
blob file outlives the objects that reference it."""

import http.client
import threading
import time

import pytest
from botocore.exceptions import ClientError

import leakcheck
from conftest import UNSIGNED_PAYLOAD
from s3util import MiB, etag_of, expect_error, key_path, list_all_keys, md5_b64, random_bytes, status_of

BUCKET = "durability"


def blob_files(server) -> list[str]:
    """Everything the blob store holds (committed ids, then temporary leftovers), as
    `tessera blobs` lists it."""
    return sorted(leakcheck.blob_ids_on_disk(server)) + leakcheck.temporary_files(server)


def wait_until(predicate, timeout=10.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def _request_head(method, target, headers) -> bytes:
    lines = [f"{method} {target} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_sigterm_when_idle_exits_zero(fresh_server):
    s3 = fresh_server.client()
    s3.create_bucket(Bucket=BUCKET)
    assert fresh_server.stop() == 0


def test_sigkill_keeps_committed_objects(fresh_server):
    s3 = fresh_server.client()
    s3.create_bucket(Bucket=BUCKET)
    objects = {f"obj-{i:02d}": random_bytes(1000 + i * 7919) for i in range(20)}
    for key, data in objects.items():
        assert s3.put_object(Bucket=BUCKET, Key=key, Body=data)["ETag"] == etag_of(data)

    assert fresh_server.kill() == -9
    fresh_server.restart()

    s3 = fresh_server.client()
    assert list_all_keys(s3, BUCKET) == sorted(objects)
    for key, data in objects.items():
        got = s3.get_object(Bucket=BUCKET, Key=key)
        assert got["ETag"] == etag_of(data), key
        assert got["Body"].read() == data, key


def test_sigkill_after_overwrite_and_delete(fresh_server):
    s3 = fresh_server.client()
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="over", Body=b"old contents")
    s3.put_object(Bucket=BUCKET, Key="over", Body=b"new contents")
    s3.put_object(Bucket=BUCKET, Key="gone", Body=b"deleted soon")
    s3.delete_object(Bucket=BUCKET, Key="gone")

    fresh_server.kill()
    fresh_server.restart()

    s3 = fresh_server.client()
    assert s3.get_object(Bucket=BUCKET, Key="over")["Body"].read() == b"new contents"
    expect_error(s3.head_object, Bucket=BUCKET, Key="gone", code=None, status=404)
    assert list_all_keys(s3, BUCKET) == ["over"]


def test_sigterm_during_upload_never_leaves_partial_object(fresh_server):
    s3 = fresh_server.client()
    s3.create_bucket(Bucket=BUCKET)
    raw = fresh_server.raw()
    size = 16 * MiB
    data = random_bytes(size)
    path = key_path(BUCKET, "inflight")
    headers = raw.sign_v4("PUT", path, None, {"Content-Length": str(size)}, payload_hash=UNSIGNED_PAYLOAD)
    started = threading.Event()
    outcome = {}

    def upload():
        sock = None
        try:
            sock = raw.socket(timeout=30)
            sock.sendall(_request_head("PUT", path, headers) + data[:4 * MiB])
            started.set()
            for off in range(4 * MiB, size, MiB):
                sock.sendall(data[off:off + MiB])
                time.sleep(0.02)
            resp = http.client.HTTPResponse(sock, method="PUT")
            resp.begin()
            resp.read()
            outcome["status"] = resp.status
        except Exception as e:  # the server may drop the connection: that is allowed
            outcome["error"] = repr(e)
        finally:
            started.set()
            if sock is not None:
                sock.close()

    thread = threading.Thread(target=upload, daemon=True)
    thread.start()
    assert started.wait(30)
    time.sleep(0.2)
    rc = fresh_server.stop(timeout=30)
    thread.join(60)
    assert rc == 0, f"exit code {rc} after SIGTERM"

    fresh_server.restart()
    s3 = fresh_server.client()
    try:
        head = s3.head_object(Bucket=BUCKET, Key="inflight")
    except ClientError as e:
        assert status_of(e) == 404
        assert outcome.get("status") != 200, "the upload was acknowledged (200) but is gone after restart"
        present = False
    else:
        present = True
        assert head["ContentLength"] == size
        assert head["ETag"] == etag_of(data)
        assert s3.get_object(Bucket=BUCKET, Key="inflight")["Body"].read() == data
    if present:
        assert list_all_keys(s3, BUCKET) == ["inflight"]
    else:
        assert list_all_keys(s3, BUCKET) == []


def test_no_orphan_blob_files(fresh_server):
    s3 = fresh_server.client()
    s3.create_bucket(Bucket=BUCKET)
    raw = fresh_server.raw()
    for i in range(10):
        s3.put_object(Bucket=BUCKET, Key=f"k{i}", Body=random_bytes(4096 + i))
    for i in range(5):  # overwrite 5
        s3.put_object(Bucket=BUCKET, Key=f"k{i}", Body=random_bytes(2048 + i))
    for i in range(5, 8):  # delete 3
        s3.delete_object(Bucket=BUCKET, Key=f"k{i}")
    s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "k0"}, {"Key": "k1"}]})
    # Failed uploads must not leave anything behind either.
    expect_error(s3.put_object, Bucket=BUCKET, Key="k9", Body=b"replacement", ContentMD5=md5_b64(b"nope"),
                 code="BadDigest", status=400)
    expect_error(s3.put_object, Bucket=BUCKET, Key="new", Body=b"never stored", ChecksumCRC32="AAAAAA==",
                 code="BadDigest", status=400)
    sock = raw.socket(timeout=10)  # and neither does a client that hangs up mid-body
    sock.sendall(_request_head("PUT", key_path(BUCKET, "hangup"), raw.sign_v4(
        "PUT", key_path(BUCKET, "hangup"), None, {"Content-Length": str(MiB)}, payload_hash=UNSIGNED_PAYLOAD))
        + b"z" * 10_000)
    sock.close()

    remaining = list_all_keys(s3, BUCKET)
    assert remaining == ["k2", "k3", "k4", "k8", "k9"]
    ok = wait_until(lambda: len(blob_files(fresh_server)) == len(remaining))
    assert ok, f"{len(blob_files(fresh_server))} blob files for {len(remaining)} objects: {blob_files(fresh_server)}"

    fresh_server.restart()
    assert len(blob_files(fresh_server)) == len(remaining)
    s3 = fresh_server.client()
    assert list_all_keys(s3, BUCKET) == remaining


@pytest.fixture
def sweeping_server(make_server):
    """A server of its own whose sweep has no grace period: its first sweep, in the background
    after start, removes every leftover older than the start."""
    return make_server("--sweep-grace", "0")


def test_sigkill_mid_upload_leaves_no_trace(sweeping_server):
    fresh_server = sweeping_server
    s3 = fresh_server.client()
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="kept", Body=b"committed before the crash")
    raw = fresh_server.raw()
    size = 8 * MiB
    path = key_path(BUCKET, "torn")
    headers = raw.sign_v4("PUT", path, None, {"Content-Length": str(size)}, payload_hash=UNSIGNED_PAYLOAD)
    sock = raw.socket(timeout=10)
    try:
        sock.sendall(_request_head("PUT", path, headers) + random_bytes(3 * MiB))
        time.sleep(0.3)
        fresh_server.kill()
    finally:
        sock.close()

    fresh_server.restart()
    s3 = fresh_server.client()
    expect_error(s3.head_object, Bucket=BUCKET, Key="torn", code=None, status=404)
    assert s3.get_object(Bucket=BUCKET, Key="kept")["Body"].read() == b"committed before the crash"
    # The sweep after the restart removes the half-written temporary file.
    assert wait_until(lambda: len(blob_files(fresh_server)) == 1), blob_files(fresh_server)
