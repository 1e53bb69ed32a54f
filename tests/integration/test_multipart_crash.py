"""Multipart crash safety, each test on a server of its own (minimum part size 5 bytes):

(a) SIGKILL during many concurrent UploadParts: every acknowledged part survives intact;
(b) SIGKILL during the Complete of a 2,000-part upload: all or nothing, never half;
(c) after a restart, blob files nothing references are swept (in the background: these servers
    run with --sweep-grace 0, so the start-up sweep takes everything older than the restart).
"""

from __future__ import annotations

import threading
import time

from botocore.exceptions import ClientError

import s3util
from conftest import UNSIGNED_PAYLOAD
from s3util import MiB, etag_of, expect_error, random_bytes
from test_multipart_lib import (
    SMALL_MIN_PART,
    blob_store_contents,
    blob_files,
    get_bytes,
    list_all_parts,
    multipart_etag,
    part_list,
    pattern_bytes,
    upload_parts,
    wait_until,
)

BUCKET = "mpcrash"


def _small_server(make_server):
    srv = make_server("--min-part-size", str(SMALL_MIN_PART), "--sweep-grace", "0")
    srv.client().create_bucket(Bucket=BUCKET)
    return srv


def _client(srv):
    # Short timeouts: requests in flight at the kill must fail fast.
    return srv.client(max_pool_connections=16, connect_timeout=5, read_timeout=20)


def _delete_everything(s3):
    for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=BUCKET):
        for u in page.get("Uploads", []):
            s3.abort_multipart_upload(Bucket=BUCKET, Key=u["Key"], UploadId=u["UploadId"])
    for key in s3util.list_all_keys(s3, BUCKET):
        s3.delete_object(Bucket=BUCKET, Key=key)


# --------------------------------------------------------------------------------------
# (a) SIGKILL during part uploads
# --------------------------------------------------------------------------------------

PART_SIZE = 128 * 1024
N_PARTS = 240


def test_sigkill_during_part_uploads_keeps_acknowledged_parts(make_server):
    srv = _small_server(make_server)
    s3 = _client(srv)
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="k")["UploadId"]
    data = {n: pattern_bytes(PART_SIZE, n) for n in range(1, N_PARTS + 1)}
    acked: dict[int, str] = {}
    lock = threading.Lock()
    enough = threading.Event()

    def worker(numbers):
        for n in numbers:
            try:
                r = s3.upload_part(Bucket=BUCKET, Key="k", UploadId=upload_id, PartNumber=n, Body=data[n])
            except Exception:
                return  # the server is gone
            with lock:
                acked[n] = r["ETag"]
                if len(acked) >= N_PARTS // 3:
                    enough.set()

    threads = [threading.Thread(target=worker, args=(list(range(i + 1, N_PARTS + 1, 16)),)) for i in range(16)]
    for t in threads:
        t.start()
    assert enough.wait(60), f"only {len(acked)} parts acknowledged in 60 s"
    srv.kill()
    for t in threads:
        t.join(60)
    assert len(acked) < N_PARTS, "every part finished before the kill: nothing was in flight"

    srv.restart()
    s3 = _client(srv)
    listed = {p["PartNumber"]: p for p in list_all_parts(s3, BUCKET, "k", upload_id)}
    lost = sorted(set(acked) - set(listed))
    assert not lost, f"{len(lost)} acknowledged parts lost by the crash: {lost[:10]}"
    for n, etag in acked.items():
        assert listed[n]["ETag"] == etag == etag_of(data[n]), f"part {n}"
        assert listed[n]["Size"] == PART_SIZE, f"part {n}"
    for n, p in listed.items():  # parts in flight at the kill: present whole or absent
        assert p["ETag"] == etag_of(data[n]) and p["Size"] == PART_SIZE, f"torn part {n}: {p}"

    print(f"acknowledged before the kill: {len(acked)}, listed after restart: {len(listed)} of {N_PARTS}")
    numbers = sorted(listed)
    done = s3.complete_multipart_upload(Bucket=BUCKET, Key="k", UploadId=upload_id,
                                        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": listed[n]["ETag"]}
                                                                   for n in numbers]})
    expected = [data[n] for n in numbers]
    assert done["ETag"] == multipart_etag(expected)
    assert get_bytes(s3, BUCKET, "k") == b"".join(expected)
    # Whatever the kill left half-done (blobs written, records not) is swept after a restart.
    _delete_everything(s3)
    srv.restart()
    assert wait_until(lambda: blob_store_contents(srv) == []), blob_store_contents(srv)[:10]


# --------------------------------------------------------------------------------------
# (b) SIGKILL during Complete
# --------------------------------------------------------------------------------------

MANY = 2000


def _many_part_data(n: int) -> bytes:
    return f"part {n:05d} of a 2000-part upload\n".encode()


def test_sigkill_during_complete_is_all_or_nothing(make_server):
    srv = _small_server(make_server)
    s3 = _client(srv)
    key = "many"
    data = {n: _many_part_data(n) for n in range(1, MANY + 1)}
    expected_bytes = b"".join(data[n] for n in range(1, MANY + 1))
    expected_etag = multipart_etag([data[n] for n in range(1, MANY + 1)])
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    etags = upload_parts(s3, BUCKET, key, upload_id, data, workers=16)
    parts = part_list(etags)

    outcomes = []
    completed = False
    # The server needs ~0.5 s for this Complete (debug build): kill before, during and after.
    for delay in (0.05, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.2):
        result = {}

        def complete():
            try:
                result["ok"] = s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id,
                                                            MultipartUpload={"Parts": parts})
            except Exception as e:  # noqa: BLE001 - connection errors after the kill
                result["err"] = e

        t = threading.Thread(target=complete)
        t.start()
        time.sleep(delay)
        srv.kill()
        t.join(60)
        srv.restart()
        s3 = _client(srv)

        try:
            head = s3.head_object(Bucket=BUCKET, Key=key)
        except ClientError as e:
            assert s3util.status_of(e) == 404, e.response
            head = None
        if head is not None:
            # Completed: the whole object, and no upload left.
            assert head["ETag"] == expected_etag
            assert head["ContentLength"] == len(expected_bytes)
            assert get_bytes(s3, BUCKET, key) == expected_bytes, f"delay {delay}: object is corrupt"
            expect_error(s3.list_parts, Bucket=BUCKET, Key=key, UploadId=upload_id,
                         code="NoSuchUpload", status=404)
            assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
            outcomes.append((delay, "completed"))
            completed = True
            break
        # Not completed: the upload is whole, with every part.
        assert "ok" not in result, f"delay {delay}: Complete answered 200 but the object is gone after restart"
        listed = list_all_parts(s3, BUCKET, key, upload_id)
        assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed] == [
            (n, etags[n], len(data[n])) for n in range(1, MANY + 1)], f"delay {delay}: upload damaged"
        outcomes.append((delay, "not completed"))

    print("kill during Complete:", outcomes)
    if not completed:
        done = s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id,
                                            MultipartUpload={"Parts": parts})
        assert done["ETag"] == expected_etag
        assert get_bytes(s3, BUCKET, key) == expected_bytes
    # And nothing leaked by the interrupted Completes.
    _delete_everything(s3)
    srv.restart()
    assert wait_until(lambda: blob_store_contents(srv) == []), (outcomes, blob_store_contents(srv)[:5])


# --------------------------------------------------------------------------------------
# (c) sweep after a restart
# --------------------------------------------------------------------------------------


def _half_sent_part(srv, upload_id: str, number: int) -> object:
    """Opens an UploadPart announcing 4 MiB and sends only 2 MiB; returns the socket."""
    raw = srv.raw()
    path = s3util.key_path(BUCKET, "pending")
    query = {"partNumber": str(number), "uploadId": upload_id}
    headers = raw.sign_v4("PUT", path, query, {"Content-Length": str(4 * MiB)}, payload_hash=UNSIGNED_PAYLOAD)
    sock = raw.socket(timeout=10)
    head = [f"PUT {raw.target(path, query)} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers.items()]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + random_bytes(2 * MiB))
    return sock


def test_restart_sweeps_unreferenced_blobs(make_server):
    srv = _small_server(make_server)
    s3 = _client(srv)
    singles = {f"single-{i}": random_bytes(1000 + i) for i in range(4)}
    for k, v in singles.items():
        s3.put_object(Bucket=BUCKET, Key=k, Body=v)
    # A completed multipart object whose Complete left part 2 out.
    mp_parts = {1: random_bytes(3000), 2: random_bytes(3000), 3: random_bytes(100)}
    up = s3.create_multipart_upload(Bucket=BUCKET, Key="mp")["UploadId"]
    etags = upload_parts(s3, BUCKET, "mp", up, mp_parts)
    s3.complete_multipart_upload(Bucket=BUCKET, Key="mp", UploadId=up,
                                 MultipartUpload={"Parts": part_list(etags, [1, 3])})
    # An upload in progress: part 2 replaced once, and parts being sent at the kill.
    pending = s3.create_multipart_upload(Bucket=BUCKET, Key="pending")["UploadId"]
    p_parts = {n: random_bytes(2000 + n) for n in range(1, 5)}
    upload_parts(s3, BUCKET, "pending", pending, {**p_parts, 2: random_bytes(999)})
    p_etags = upload_parts(s3, BUCKET, "pending", pending, {2: p_parts[2]})
    socks = [_half_sent_part(srv, pending, n) for n in (7, 8)]
    time.sleep(0.3)
    srv.kill()
    for s in socks:
        s.close()

    srv.restart()
    s3 = _client(srv)
    assert wait_until(lambda: blob_store_contents(srv) == blob_files(srv)), \
        "half-written files must be swept after a restart"
    # Live data is intact.
    for k, v in singles.items():
        assert get_bytes(s3, BUCKET, k) == v
    assert get_bytes(s3, BUCKET, "mp") == mp_parts[1] + mp_parts[3]
    listed = list_all_parts(s3, BUCKET, "pending", pending)
    assert [(p["PartNumber"], p["ETag"]) for p in listed] == [(n, etag_of(p_parts[n])) for n in range(1, 5)]
    assert p_etags[2] == etag_of(p_parts[2])
    # At most one blob per single object, per part of a completed object, per listed part:
    # the replaced part, the left-out part and the half-sent parts are gone.
    bound = len(singles) + 2 + len(listed)
    assert wait_until(lambda: len(blob_files(srv)) <= bound), \
        f"{len(blob_files(srv))} blob files, at most {bound} referenced"

    _delete_everything(s3)
    srv.restart()
    assert wait_until(lambda: blob_store_contents(srv) == []), blob_store_contents(srv)[:10]
    s3 = _client(srv)
    assert s3util.list_all_keys(s3, BUCKET) == []
