"""Multipart upload: Create / UploadPart / Complete / Abort / ListParts / ListMultipartUploads,
GetObject / HeadObject with partNumber, GetObjectAttributes, UploadPartCopy, conditional
Complete, DeleteBucket with uploads in progress, Content-MD5 and concurrency.

Most tests use `small_server` (minimum part size 5 bytes) so that parts can be tiny; the
5 MiB rule itself is tested on the default `server`. Tests that count blob files run on a
server of their own (make_server)."""

from __future__ import annotations

import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote_plus

import pytest
from botocore.exceptions import ClientError

import s3util
from conftest import UNSIGNED_PAYLOAD
from s3util import MiB, etag_of, expect_error, md5_b64, random_bytes, status_of
from test_multipart_lib import (  # noqa: F401  (fixtures)
    SMALL_MIN_PART,
    blob_files,
    get_bytes,
    list_all_parts,
    multipart_etag,
    multipart_put,
    part_list,
    pattern_bytes,
    s3_small,
    small_bucket,
    small_server,
    unquote_etag,
    upload_parts,
    wait_blob_count,
)

FAKE_UPLOAD_ID = "VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA"


def _complete(s3, bucket, key, upload_id, parts, **kw):
    return s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                        MultipartUpload={"Parts": parts}, **kw)


# --------------------------------------------------------------------------------------
# Round trip
# --------------------------------------------------------------------------------------


def test_roundtrip_non_consecutive_parts_metadata_and_etag(s3_small, small_bucket):
    s3, bucket, key = s3_small, small_bucket, "dir/round trip.bin"
    created = s3.create_multipart_upload(
        Bucket=bucket, Key=key, Metadata={"color": "blue", "Mixed-Case": "Value 1"},
        ContentType="text/x-tessera", ContentDisposition='attachment; filename="rt.bin"',
        CacheControl="max-age=60", ContentLanguage="fr", ContentEncoding="x-custom",
    )
    assert status_of(created) == 200
    assert created["Bucket"] == bucket and created["Key"] == key
    upload_id = created["UploadId"]
    # Uploaded out of order, numbers not consecutive.
    parts = {14: random_bytes(123), 1: random_bytes(6000), 5: random_bytes(7001)}
    etags = {}
    for n, data in parts.items():
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=data)
        assert status_of(r) == 200
        assert r["ETag"] == etag_of(data), f"part {n}: ETag must be the quoted MD5 of the part"
        etags[n] = r["ETag"]

    done = _complete(s3, bucket, key, upload_id, part_list(etags))
    assert status_of(done) == 200
    ordered = [parts[n] for n in sorted(parts)]
    expected_etag = multipart_etag(ordered)
    assert done["ETag"] == expected_etag
    assert done["Bucket"] == bucket and done["Key"] == key

    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == b"".join(ordered)
    assert got["ETag"] == expected_etag
    assert got["ContentLength"] == sum(map(len, ordered))
    assert got["Metadata"] == {"color": "blue", "mixed-case": "Value 1"}
    assert got["ContentType"] == "text/x-tessera"
    assert got["ContentDisposition"] == 'attachment; filename="rt.bin"'
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentLanguage"] == "fr"
    assert got["ContentEncoding"] == "x-custom"
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ETag"] == expected_etag
    assert head["ContentLength"] == sum(map(len, ordered))
    assert head["ContentType"] == "text/x-tessera"
    # The upload is gone once completed.
    expect_error(s3.list_parts, Bucket=bucket, Key=key, UploadId=upload_id, code="NoSuchUpload", status=404)
    expect_error(s3.upload_part, Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=2, Body=b"late",
                 code="NoSuchUpload", status=404)
    listed = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert upload_id not in [u["UploadId"] for u in listed]


def test_parts_not_named_in_complete_are_discarded(make_server):
    srv = make_server("--min-part-size", str(SMALL_MIN_PART))
    s3 = srv.client()
    s3.create_bucket(Bucket="discard")
    upload_id = s3.create_multipart_upload(Bucket="discard", Key="k")["UploadId"]
    parts = {1: random_bytes(1000), 2: random_bytes(2000), 3: random_bytes(3000)}
    etags = upload_parts(s3, "discard", "k", upload_id, parts)
    assert wait_blob_count(srv, 3) == 3

    done = _complete(s3, "discard", "k", upload_id, part_list(etags, [1, 3]))
    assert done["ETag"] == multipart_etag([parts[1], parts[3]])
    assert get_bytes(s3, "discard", "k") == parts[1] + parts[3]
    expect_error(s3.list_parts, Bucket="discard", Key="k", UploadId=upload_id, code="NoSuchUpload", status=404)
    # Part 2's storage is freed (parts 1 and 3 may stay as the object's own storage).
    n = wait_blob_count(srv, 2)
    assert n <= 2, f"{n} blob files after completing with 2 of 3 parts: {blob_files(srv)}"
    s3.delete_object(Bucket="discard", Key="k")
    assert wait_blob_count(srv, 0) == 0, blob_files(srv)


# --------------------------------------------------------------------------------------
# Upload ids
# --------------------------------------------------------------------------------------


def test_upload_ids_are_distinct_and_long(s3_small, small_bucket):
    ids = [s3_small.create_multipart_upload(Bucket=small_bucket, Key="same")["UploadId"] for _ in range(20)]
    assert len(set(ids)) == len(ids)
    for upload_id in ids:
        assert len(upload_id) >= 20, f"upload id {upload_id!r} is too short to be unguessable"
    listed = s3_small.list_multipart_uploads(Bucket=small_bucket)["Uploads"]
    assert sorted(u["UploadId"] for u in listed) == sorted(ids)


def test_upload_ids_usable_as_cli_arguments(s3_small, small_bucket):
    """The aws CLI reads `--upload-id -abc...` as a missing value ("argument --upload-id:
    expected one argument"), so the documented `aws s3api upload-part ... --upload-id "ID"`
    form fails for an id that starts with '-'. AWS upload ids never do."""
    bad = []
    for _ in range(300):
        upload_id = s3_small.create_multipart_upload(Bucket=small_bucket, Key="cli")["UploadId"]
        if upload_id.startswith("-"):
            bad.append(upload_id)
    assert not bad, f"{len(bad)} of 300 upload ids start with '-': {bad[:3]}"


def test_unknown_upload_id_is_no_such_upload(s3_small, small_bucket):
    s3, bucket = s3_small, small_bucket
    kw = {"Bucket": bucket, "Key": "k", "UploadId": FAKE_UPLOAD_ID}
    expect_error(s3.upload_part, **kw, PartNumber=1, Body=b"data", code="NoSuchUpload", status=404)
    expect_error(s3.list_parts, **kw, code="NoSuchUpload", status=404)
    expect_error(s3.complete_multipart_upload, **kw,
                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag_of(b"data")}]},
                 code="NoSuchUpload", status=404)
    expect_error(s3.abort_multipart_upload, **kw, code="NoSuchUpload", status=404)


def test_upload_id_of_another_key_is_no_such_upload(s3_small, small_bucket):
    s3, bucket = s3_small, small_bucket
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="owner")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="owner", UploadId=upload_id, PartNumber=1, Body=b"first")["ETag"]
    kw = {"Bucket": bucket, "Key": "intruder", "UploadId": upload_id}
    expect_error(s3.upload_part, **kw, PartNumber=2, Body=b"other", code="NoSuchUpload", status=404)
    expect_error(s3.list_parts, **kw, code="NoSuchUpload", status=404)
    expect_error(s3.complete_multipart_upload, **kw,
                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}, code="NoSuchUpload", status=404)
    expect_error(s3.abort_multipart_upload, **kw, code="NoSuchUpload", status=404)
    expect_error(s3.head_object, Bucket=bucket, Key="intruder", code=None, status=404)
    # The real upload is untouched.
    parts = s3.list_parts(Bucket=bucket, Key="owner", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["ETag"]) for p in parts] == [(1, etag)]
    _complete(s3, bucket, "owner", upload_id, [{"PartNumber": 1, "ETag": etag}])
    assert get_bytes(s3, bucket, "owner") == b"first"


# --------------------------------------------------------------------------------------
# Part numbers and sizes
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", [0, 10001])
def test_part_number_out_of_range(s3_small, small_bucket, number):
    upload_id = s3_small.create_multipart_upload(Bucket=small_bucket, Key="k")["UploadId"]
    expect_error(s3_small.upload_part, Bucket=small_bucket, Key="k", UploadId=upload_id,
                 PartNumber=number, Body=b"x" * 10, code="InvalidArgument", status=400)
    assert s3_small.list_parts(Bucket=small_bucket, Key="k", UploadId=upload_id).get("Parts", []) == []


def test_part_number_10000_is_valid(s3_small, small_bucket):
    s3, bucket = s3_small, small_bucket
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    data = random_bytes(100)
    etag = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=10000, Body=data)["ETag"]
    assert etag == etag_of(data)
    parts = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id)["Parts"]
    assert [p["PartNumber"] for p in parts] == [10000]
    done = _complete(s3, bucket, "k", upload_id, [{"PartNumber": 10000, "ETag": etag}])
    assert done["ETag"] == multipart_etag([data])
    assert get_bytes(s3, bucket, "k") == data


def test_entity_too_small_default_5mib(s3, bucket):
    """Default server: every part but the last must be >= 5 MiB, checked at Complete."""
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    small_first = random_bytes(5 * MiB - 1)
    last = random_bytes(10)
    etags = upload_parts(s3, bucket, "big", upload_id, {1: small_first, 2: last})
    expect_error(s3.complete_multipart_upload, Bucket=bucket, Key="big", UploadId=upload_id,
                 MultipartUpload={"Parts": part_list(etags)}, code="EntityTooSmall", status=400)
    expect_error(s3.head_object, Bucket=bucket, Key="big", code=None, status=404)
    # The upload survives the failed Complete; with a 5 MiB first part it completes, the
    # last part being allowed to be small.
    first = random_bytes(5 * MiB)
    etags[1] = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload_id, PartNumber=1, Body=first)["ETag"]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=upload_id,
                                        MultipartUpload={"Parts": part_list(etags)})
    assert done["ETag"] == multipart_etag([first, last])
    assert get_bytes(s3, bucket, "big") == first + last


def test_single_small_part_is_fine_on_default_server(s3, bucket):
    done = multipart_put(s3, bucket, "tiny", [b"only part"])
    assert done["ETag"] == multipart_etag([b"only part"])
    assert get_bytes(s3, bucket, "tiny") == b"only part"


def test_min_part_size_follows_setting(s3_small, small_bucket):
    s3, bucket = s3_small, small_bucket
    below = b"x" * (SMALL_MIN_PART - 1)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    etags = upload_parts(s3, bucket, "k", upload_id, {1: below, 2: b"y"})
    expect_error(s3.complete_multipart_upload, Bucket=bucket, Key="k", UploadId=upload_id,
                 MultipartUpload={"Parts": part_list(etags)}, code="EntityTooSmall", status=400)
    exact = b"z" * SMALL_MIN_PART
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    etags = upload_parts(s3, bucket, "k", upload_id, {1: exact, 2: exact, 3: b"y"})
    done = _complete(s3, bucket, "k", upload_id, part_list(etags))
    assert done["ETag"] == multipart_etag([exact, exact, b"y"])
    assert get_bytes(s3, bucket, "k") == exact * 2 + b"y"


def test_reupload_replaces_part_and_frees_old_blob(make_server):
    srv = make_server("--min-part-size", str(SMALL_MIN_PART))
    s3 = srv.client()
    s3.create_bucket(Bucket="replace")
    upload_id = s3.create_multipart_upload(Bucket="replace", Key="k")["UploadId"]
    old, second, new = random_bytes(4000), random_bytes(500), random_bytes(2500)
    upload_parts(s3, "replace", "k", upload_id, {1: old, 2: second})
    assert wait_blob_count(srv, 2) == 2
    r = s3.upload_part(Bucket="replace", Key="k", UploadId=upload_id, PartNumber=1, Body=new)
    assert r["ETag"] == etag_of(new)
    parts = s3.list_parts(Bucket="replace", Key="k", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [
        (1, etag_of(new), len(new)), (2, etag_of(second), len(second))]
    assert wait_blob_count(srv, 2) == 2, f"the replaced part's blob must be freed: {blob_files(srv)}"
    # The old ETag is no longer a valid part.
    expect_error(s3.complete_multipart_upload, Bucket="replace", Key="k", UploadId=upload_id,
                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag_of(old)},
                                            {"PartNumber": 2, "ETag": etag_of(second)}]},
                 code="InvalidPart", status=400)
    done = _complete(s3, "replace", "k", upload_id, [{"PartNumber": 1, "ETag": etag_of(new)},
                                                      {"PartNumber": 2, "ETag": etag_of(second)}])
    assert done["ETag"] == multipart_etag([new, second])
    assert get_bytes(s3, "replace", "k") == new + second


# --------------------------------------------------------------------------------------
# CompleteMultipartUpload validation
# --------------------------------------------------------------------------------------


@pytest.fixture
def three_parts(s3_small, small_bucket):
    """An upload with parts 1..3 uploaded: (bucket, key, upload_id, {n: bytes}, {n: etag})."""
    upload_id = s3_small.create_multipart_upload(Bucket=small_bucket, Key="k3")["UploadId"]
    parts = {1: random_bytes(100), 2: random_bytes(200), 3: random_bytes(50)}
    etags = upload_parts(s3_small, small_bucket, "k3", upload_id, parts)
    return small_bucket, "k3", upload_id, parts, etags


def _still_completes(s3, bucket, key, upload_id, parts, etags):
    done = _complete(s3, bucket, key, upload_id, part_list(etags))
    assert done["ETag"] == multipart_etag([parts[n] for n in sorted(parts)])
    assert get_bytes(s3, bucket, key) == b"".join(parts[n] for n in sorted(parts))


def test_complete_parts_out_of_order(s3_small, three_parts):
    bucket, key, upload_id, parts, etags = three_parts
    expect_error(s3_small.complete_multipart_upload, Bucket=bucket, Key=key, UploadId=upload_id,
                 MultipartUpload={"Parts": part_list(etags, [2, 1, 3])}, code="InvalidPartOrder", status=400)
    expect_error(s3_small.head_object, Bucket=bucket, Key=key, code=None, status=404)
    _still_completes(s3_small, bucket, key, upload_id, parts, etags)


def test_complete_duplicate_part_numbers(s3_small, three_parts):
    bucket, key, upload_id, parts, etags = three_parts
    expect_error(s3_small.complete_multipart_upload, Bucket=bucket, Key=key, UploadId=upload_id,
                 MultipartUpload={"Parts": part_list(etags, [1, 2, 2, 3])}, code="InvalidPartOrder", status=400)
    _still_completes(s3_small, bucket, key, upload_id, parts, etags)


def test_complete_wrong_etag(s3_small, three_parts):
    bucket, key, upload_id, parts, etags = three_parts
    bad = part_list(etags)
    bad[1]["ETag"] = etag_of(b"something else")
    expect_error(s3_small.complete_multipart_upload, Bucket=bucket, Key=key, UploadId=upload_id,
                 MultipartUpload={"Parts": bad}, code="InvalidPart", status=400)
    _still_completes(s3_small, bucket, key, upload_id, parts, etags)


def test_complete_missing_part(s3_small, three_parts):
    bucket, key, upload_id, parts, etags = three_parts
    with_missing = part_list(etags) + [{"PartNumber": 4, "ETag": etag_of(b"never uploaded")}]
    expect_error(s3_small.complete_multipart_upload, Bucket=bucket, Key=key, UploadId=upload_id,
                 MultipartUpload={"Parts": with_missing}, code="InvalidPart", status=400)
    _still_completes(s3_small, bucket, key, upload_id, parts, etags)


def test_complete_etag_with_or_without_quotes(s3_small, small_bucket):
    s3, bucket = s3_small, small_bucket
    parts = {1: b"a" * 10, 2: b"b" * 10, 3: b"c"}
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="q")["UploadId"]
    etags = upload_parts(s3, bucket, "q", upload_id, parts)
    mixed = [{"PartNumber": 1, "ETag": unquote_etag(etags[1])},
             {"PartNumber": 2, "ETag": etags[2]},
             {"PartNumber": 3, "ETag": unquote_etag(etags[3])}]
    done = _complete(s3, bucket, "q", upload_id, mixed)
    assert done["ETag"] == multipart_etag([parts[1], parts[2], parts[3]])
    assert get_bytes(s3, bucket, "q") == parts[1] + parts[2] + parts[3]


def test_complete_empty_part_list_is_malformed_xml(s3_small, three_parts, small_server):
    bucket, key, upload_id, parts, etags = three_parts
    raw = small_server.raw()
    body = b'<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></CompleteMultipartUpload>'
    resp = raw("POST", s3util.key_path(bucket, key), query={"uploadId": upload_id}, body=body,
               headers={"Content-Type": "application/xml"})
    assert resp.status == 400, resp
    assert resp.error_code == "MalformedXML", resp
    _still_completes(s3_small, bucket, key, upload_id, parts, etags)


def test_complete_mp_object_size(s3_small, small_bucket):
    s3, bucket = s3_small, small_bucket
    parts = {1: random_bytes(300), 2: random_bytes(77)}
    total = 377
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="sized")["UploadId"]
    etags = upload_parts(s3, bucket, "sized", upload_id, parts)
    err = expect_error(s3.complete_multipart_upload, Bucket=bucket, Key="sized", UploadId=upload_id,
                       MultipartUpload={"Parts": part_list(etags)}, MpuObjectSize=total + 1,
                       code=None, status=400)
    assert err.response["Error"]["Code"] in ("InvalidRequest", "InvalidArgument", "BadDigest"), err.response
    expect_error(s3.head_object, Bucket=bucket, Key="sized", code=None, status=404)
    done = _complete(s3, bucket, "sized", upload_id, part_list(etags), MpuObjectSize=total)
    assert status_of(done) == 200
    assert s3.head_object(Bucket=bucket, Key="sized")["ContentLength"] == total


def test_complete_retry_after_success_returns_same_etag(s3_small, three_parts):
    bucket, key, upload_id, parts, etags = three_parts
    first = _complete(s3_small, bucket, key, upload_id, part_list(etags))
    again = _complete(s3_small, bucket, key, upload_id, part_list(etags))
    assert status_of(again) == 200
    assert again["ETag"] == first["ETag"] == multipart_etag([parts[1], parts[2], parts[3]])
    assert get_bytes(s3_small, bucket, key) == parts[1] + parts[2] + parts[3]


# --------------------------------------------------------------------------------------
# Abort
# --------------------------------------------------------------------------------------


def test_abort_removes_upload_and_frees_blobs(make_server):
    srv = make_server("--min-part-size", str(SMALL_MIN_PART))
    s3 = srv.client()
    s3.create_bucket(Bucket="abort")
    s3.put_object(Bucket="abort", Key="keep", Body=b"unrelated object")
    upload_id = s3.create_multipart_upload(Bucket="abort", Key="k")["UploadId"]
    upload_parts(s3, "abort", "k", upload_id, {1: random_bytes(1000), 2: random_bytes(1000), 3: b"end"})
    assert wait_blob_count(srv, 4) == 4
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="abort")["Uploads"]] == [upload_id]

    r = s3.abort_multipart_upload(Bucket="abort", Key="k", UploadId=upload_id)
    assert status_of(r) == 204
    assert s3.list_multipart_uploads(Bucket="abort").get("Uploads", []) == []
    expect_error(s3.list_parts, Bucket="abort", Key="k", UploadId=upload_id, code="NoSuchUpload", status=404)
    expect_error(s3.upload_part, Bucket="abort", Key="k", UploadId=upload_id, PartNumber=4, Body=b"late",
                 code="NoSuchUpload", status=404)
    expect_error(s3.abort_multipart_upload, Bucket="abort", Key="k", UploadId=upload_id,
                 code="NoSuchUpload", status=404)
    assert wait_blob_count(srv, 1) == 1, f"part blobs not freed by abort: {blob_files(srv)}"
    expect_error(s3.head_object, Bucket="abort", Key="k", code=None, status=404)
    assert get_bytes(s3, "abort", "keep") == b"unrelated object"


def test_part_upload_racing_abort_leaves_nothing(make_server):
    """A part whose body is still arriving when the upload is aborted: it may succeed or fail
    (NoSuchUpload), but its storage does not outlive the upload."""
    srv = make_server("--min-part-size", str(SMALL_MIN_PART))
    s3 = srv.client()
    s3.create_bucket(Bucket="abort")
    upload_id = s3.create_multipart_upload(Bucket="abort", Key="k")["UploadId"]
    s3.upload_part(Bucket="abort", Key="k", UploadId=upload_id, PartNumber=1, Body=random_bytes(1000))
    raw = srv.raw()
    path = s3util.key_path("abort", "k")
    query = {"partNumber": "2", "uploadId": upload_id}
    body = random_bytes(2 * MiB)
    headers = raw.sign_v4("PUT", path, query, {"Content-Length": str(len(body))}, payload_hash=UNSIGNED_PAYLOAD)
    sock = raw.socket(timeout=30)
    try:
        head = [f"PUT {raw.target(path, query)} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers.items()]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body[:MiB])
        time.sleep(0.2)
        assert status_of(s3.abort_multipart_upload(Bucket="abort", Key="k", UploadId=upload_id)) == 204
        try:
            sock.sendall(body[MiB:])
        except OSError:
            pass
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    finally:
        sock.close()
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.split()[1:2] in ([b"200"], [b"404"]), answer[:300]
    expect_error(s3.list_parts, Bucket="abort", Key="k", UploadId=upload_id, code="NoSuchUpload", status=404)
    assert wait_blob_count(srv, 0) == 0, f"part blobs outlived the aborted upload: {blob_files(srv)}"


# --------------------------------------------------------------------------------------
# ListParts
# --------------------------------------------------------------------------------------


def test_list_parts_pagination_1500_parts(s3_small, small_bucket):
    s3, bucket, key = s3_small, small_bucket, "many"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = {n: f"part-{n:05d}".encode() for n in range(1, 1501)}
    started = time.time()
    etags = upload_parts(s3, bucket, key, upload_id, parts, workers=16)
    assert all(etags[n] == etag_of(parts[n]) for n in parts)

    # Default page: 1000 parts.
    page = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)
    assert page["IsTruncated"] is True
    assert page["MaxParts"] == 1000
    assert len(page["Parts"]) == 1000
    assert [p["PartNumber"] for p in page["Parts"]] == list(range(1, 1001))
    assert page["NextPartNumberMarker"] == 1000
    assert page["StorageClass"] == "STANDARD"
    assert page["Initiator"].get("ID") and page["Owner"].get("ID")
    assert page["Bucket"] == bucket and page["Key"] == key and page["UploadId"] == upload_id
    for p in page["Parts"][:5] + page["Parts"][-5:]:
        n = p["PartNumber"]
        assert p["ETag"] == etag_of(parts[n])
        assert p["Size"] == len(parts[n])
        assert p["LastModified"].timestamp() >= started - 120
    rest = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, PartNumberMarker=1000)
    assert rest["IsTruncated"] is False
    assert [p["PartNumber"] for p in rest["Parts"]] == list(range(1001, 1501))

    # MaxParts / PartNumberMarker paging.
    seen, marker, pages = [], 0, 0
    while True:
        page = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, MaxParts=400, PartNumberMarker=marker)
        pages += 1
        assert page["MaxParts"] == 400
        assert len(page["Parts"]) <= 400
        seen.extend(p["PartNumber"] for p in page["Parts"])
        if not page["IsTruncated"]:
            break
        assert page["NextPartNumberMarker"] == page["Parts"][-1]["PartNumber"]
        marker = page["NextPartNumberMarker"]
        assert pages < 10
    assert pages == 4
    assert seen == list(range(1, 1501))
    # MaxParts above 1000 is capped at 1000.
    page = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, MaxParts=5000)
    assert len(page["Parts"]) == 1000 and page["IsTruncated"] is True
    # A marker between parts starts right after it.
    page = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, MaxParts=3, PartNumberMarker=1234)
    assert [p["PartNumber"] for p in page["Parts"]] == [1235, 1236, 1237]
    assert page["PartNumberMarker"] == 1234

    done = _complete(s3, bucket, key, upload_id, part_list(etags))
    ordered = [parts[n] for n in range(1, 1501)]
    assert done["ETag"] == multipart_etag(ordered)
    assert get_bytes(s3, bucket, key) == b"".join(ordered)


# --------------------------------------------------------------------------------------
# ListMultipartUploads
# --------------------------------------------------------------------------------------


def test_list_multipart_uploads_order_paging_prefix_delimiter(s3_small, small_bucket):
    s3, bucket = s3_small, small_bucket
    keys = ["b", "a/1", "z", "a/1", "c/d/e", "a/2", "a/1"]
    created = []  # (key, upload_id) in creation order
    for key in keys:
        created.append((key, s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]))
        time.sleep(0.01)
    # Ordered by key, then by initiation time for the same key.
    expected = sorted(created, key=lambda kv: (kv[0], created.index(kv)))

    full = s3.list_multipart_uploads(Bucket=bucket)
    assert full["IsTruncated"] is False
    assert full["MaxUploads"] == 1000
    assert [(u["Key"], u["UploadId"]) for u in full["Uploads"]] == expected
    for u in full["Uploads"]:
        assert u["StorageClass"] == "STANDARD"
        assert u["Initiator"].get("ID") and u["Owner"].get("ID")
        assert u["Initiated"] is not None
    initiated = [u["Initiated"] for u in full["Uploads"] if u["Key"] == "a/1"]
    assert initiated == sorted(initiated)

    # MaxUploads paging with KeyMarker + UploadIdMarker.
    got, kw, pages = [], {}, 0
    while True:
        page = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=2, **kw)
        pages += 1
        assert len(page.get("Uploads", [])) <= 2
        got.extend((u["Key"], u["UploadId"]) for u in page.get("Uploads", []))
        if not page["IsTruncated"]:
            break
        last = page["Uploads"][-1]
        assert page["NextKeyMarker"] == last["Key"]
        assert page["NextUploadIdMarker"] == last["UploadId"]
        kw = {"KeyMarker": page["NextKeyMarker"], "UploadIdMarker": page["NextUploadIdMarker"]}
        assert pages < 10
    assert got == expected
    assert pages == 4

    # KeyMarker alone: keys strictly after it.
    page = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="a/1")
    assert [(u["Key"], u["UploadId"]) for u in page["Uploads"]] == [kv for kv in expected if kv[0] > "a/1"]
    # KeyMarker + UploadIdMarker inside one key: the uploads of that key after the marker.
    a1 = [kv for kv in expected if kv[0] == "a/1"]
    page = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="a/1", UploadIdMarker=a1[0][1])
    assert [(u["Key"], u["UploadId"]) for u in page["Uploads"]] == expected[1:]

    # Prefix.
    page = s3.list_multipart_uploads(Bucket=bucket, Prefix="a/")
    assert [(u["Key"], u["UploadId"]) for u in page["Uploads"]] == [kv for kv in expected if kv[0].startswith("a/")]
    assert page["Prefix"] == "a/"

    # Delimiter.
    page = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [u["Key"] for u in page.get("Uploads", [])] == ["b", "z"]
    assert [p["Prefix"] for p in page.get("CommonPrefixes", [])] == ["a/", "c/"]
    assert page["Delimiter"] == "/"
    page = s3.list_multipart_uploads(Bucket=bucket, Prefix="c/", Delimiter="/")
    assert page.get("Uploads", []) == []
    assert [p["Prefix"] for p in page.get("CommonPrefixes", [])] == ["c/d/"]


def test_list_multipart_uploads_encoding_type_url(s3_small, small_bucket):
    s3, bucket = s3_small, small_bucket
    key = "dir with space/ünïcode+plus&amp.txt"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    page = s3.list_multipart_uploads(Bucket=bucket, EncodingType="url")
    assert page.get("EncodingType") == "url"
    [entry] = page["Uploads"]
    assert entry["UploadId"] == upload_id
    encoded = entry["Key"]
    assert encoded != key and encoded.isascii() and " " not in encoded, encoded
    assert unquote_plus(encoded) == key
    # Without EncodingType the key comes back as is.
    assert s3.list_multipart_uploads(Bucket=bucket)["Uploads"][0]["Key"] == key


# --------------------------------------------------------------------------------------
# GetObject / HeadObject with partNumber
# --------------------------------------------------------------------------------------


def test_get_and_head_by_part_number(s3_small, small_bucket):
    s3, bucket = s3_small, small_bucket
    parts = [random_bytes(1000), random_bytes(2000), random_bytes(333)]
    etag = multipart_put(s3, bucket, "mp", parts)["ETag"]
    total = sum(map(len, parts))
    offset = 0
    for n, data in enumerate(parts, start=1):
        got = s3.get_object(Bucket=bucket, Key="mp", PartNumber=n)
        assert status_of(got) == 206
        assert got["Body"].read() == data
        assert got["ContentLength"] == len(data)
        assert got["ContentRange"] == f"bytes {offset}-{offset + len(data) - 1}/{total}"
        assert got["PartsCount"] == 3
        assert got["ETag"] == etag
        head = s3.head_object(Bucket=bucket, Key="mp", PartNumber=n)
        assert status_of(head) == 206
        assert head["ContentLength"] == len(data)
        assert head["PartsCount"] == 3
        assert head["ETag"] == etag
        assert s3util.headers_of(head).get("x-amz-mp-parts-count") == "3"
        offset += len(data)
    # partNumber and Range together: 400 InvalidRequest.
    expect_error(s3.get_object, Bucket=bucket, Key="mp", PartNumber=1, Range="bytes=0-9",
                 code="InvalidRequest", status=400)
    expect_error(s3.get_object, Bucket=bucket, Key="mp", PartNumber=4, code="InvalidPartNumber", status=416)
    expect_error(s3.head_object, Bucket=bucket, Key="mp", PartNumber=4, code=None, status=416)


def test_part_number_on_single_put_object(s3_small, small_bucket):
    s3, bucket = s3_small, small_bucket
    data = random_bytes(1234)
    s3.put_object(Bucket=bucket, Key="single", Body=data)
    got = s3.get_object(Bucket=bucket, Key="single", PartNumber=1)
    assert status_of(got) in (200, 206)
    assert got["Body"].read() == data
    assert got["ContentLength"] == len(data)
    assert got["ETag"] == etag_of(data)
    head = s3.head_object(Bucket=bucket, Key="single", PartNumber=1)
    assert head["ContentLength"] == len(data)
    # AWS: 416 InvalidPartNumber ("The requested partnumber is not satisfiable").
    expect_error(s3.get_object, Bucket=bucket, Key="single", PartNumber=2, code="InvalidPartNumber", status=416)
    expect_error(s3.head_object, Bucket=bucket, Key="single", PartNumber=2, code=None, status=416)


# --------------------------------------------------------------------------------------
# GetObjectAttributes
# --------------------------------------------------------------------------------------

ALL_ATTRIBUTES = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]


@pytest.fixture
def sha256_object(s3_small, small_bucket):
    """A 5-part multipart object uploaded with SHA256 (COMPOSITE) part checksums:
    (bucket, key, parts, quoted ETag)."""
    from test_multipart_lib import checksum

    s3, bucket = s3_small, small_bucket
    parts = [random_bytes(100 + 10 * i) for i in range(5)]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="attrs", ChecksumAlgorithm="SHA256",
                                           ChecksumType="COMPOSITE")["UploadId"]
    done_parts = []
    for n, data in enumerate(parts, start=1):
        r = s3.upload_part(Bucket=bucket, Key="attrs", UploadId=upload_id, PartNumber=n, Body=data,
                           ChecksumSHA256=checksum("SHA256", data))
        done_parts.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumSHA256": r["ChecksumSHA256"]})
    etag = _complete(s3, bucket, "attrs", upload_id, done_parts)["ETag"]
    return bucket, "attrs", parts, etag


def test_get_object_attributes_multipart(s3_small, sha256_object):
    """All five attributes in one request (boto3 sends them comma-separated in one
    x-amz-object-attributes header)."""
    from test_multipart_lib import composite_checksum

    bucket, key, parts, etag = sha256_object
    attrs = s3_small.get_object_attributes(Bucket=bucket, Key=key, ObjectAttributes=ALL_ATTRIBUTES)
    missing = [a for a in ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize") if a not in attrs]
    assert not missing, f"attributes missing from the answer: {missing}"
    assert attrs["ETag"] == unquote_etag(etag), "GetObjectAttributes returns the ETag unquoted"
    assert attrs["ObjectSize"] == sum(map(len, parts))
    assert attrs["StorageClass"] == "STANDARD"
    expected = composite_checksum("SHA256", parts)
    got = attrs["Checksum"]["ChecksumSHA256"]
    assert got in (expected, expected.rsplit("-", 1)[0]), (got, expected)
    assert attrs["Checksum"].get("ChecksumType", "COMPOSITE") == "COMPOSITE"
    assert attrs["ObjectParts"]["TotalPartsCount"] == 5


def test_get_object_attributes_etag_alone_is_unquoted(s3_small, sha256_object):
    bucket, key, _, etag = sha256_object
    attrs = s3_small.get_object_attributes(Bucket=bucket, Key=key, ObjectAttributes=["ETag"])
    assert attrs["ETag"] == unquote_etag(etag), "GetObjectAttributes returns the ETag unquoted"


def test_get_object_attributes_parts_paging(s3_small, sha256_object):
    from test_multipart_lib import checksum

    bucket, key, parts, _ = sha256_object
    seen, marker, pages = [], 0, 0
    while True:
        page = s3_small.get_object_attributes(Bucket=bucket, Key=key, ObjectAttributes=["ObjectParts"],
                                              MaxParts=2, PartNumberMarker=marker)["ObjectParts"]
        pages += 1
        assert page["TotalPartsCount"] == 5
        assert page["MaxParts"] == 2
        assert len(page["Parts"]) <= 2
        for p in page["Parts"]:
            data = parts[p["PartNumber"] - 1]
            assert p["Size"] == len(data)
            assert p["ChecksumSHA256"] == checksum("SHA256", data)
            seen.append(p["PartNumber"])
        if not page["IsTruncated"]:
            break
        assert page["NextPartNumberMarker"] == page["Parts"][-1]["PartNumber"]
        marker = page["NextPartNumberMarker"]
        assert pages < 10
    assert seen == [1, 2, 3, 4, 5]
    assert pages == 3


def test_get_object_attributes_plain_multipart_and_single(s3_small, small_bucket):
    """One attribute per request (independent of the comma-separated list handling)."""
    s3, bucket = s3_small, small_bucket
    multipart_put(s3, bucket, "mp", [b"p" * 64, b"q" * 64, b"r"])
    attrs = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=["ObjectParts"])
    assert attrs["ObjectParts"]["TotalPartsCount"] == 3
    assert s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=["ObjectSize"])["ObjectSize"] == 129
    assert s3.get_object_attributes(Bucket=bucket, Key="mp",
                                    ObjectAttributes=["StorageClass"])["StorageClass"] == "STANDARD"
    s3.put_object(Bucket=bucket, Key="single", Body=b"single body")
    attrs = s3.get_object_attributes(Bucket=bucket, Key="single", ObjectAttributes=["ObjectParts"])
    assert "ObjectParts" not in attrs, "a single-PUT object has no parts"
    attrs = s3.get_object_attributes(Bucket=bucket, Key="single", ObjectAttributes=["ObjectSize"])
    assert attrs["ObjectSize"] == len(b"single body")


# --------------------------------------------------------------------------------------
# UploadPartCopy
# --------------------------------------------------------------------------------------

ODD_KEY = "src dir/ünïcode key+plus (1).bin"


@pytest.fixture
def copy_source(s3_small, small_bucket):
    data = random_bytes(3000)
    etag = s3_small.put_object(Bucket=small_bucket, Key=ODD_KEY, Body=data)["ETag"]
    return small_bucket, data, etag


def test_upload_part_copy_whole_and_range(s3_small, copy_source):
    s3 = s3_small
    bucket, data, _ = copy_source
    src = {"Bucket": bucket, "Key": ODD_KEY}
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dest key+ü")["UploadId"]
    r1 = s3.upload_part_copy(Bucket=bucket, Key="dest key+ü", UploadId=upload_id, PartNumber=1, CopySource=src)
    assert status_of(r1) == 200
    assert r1["CopyPartResult"]["ETag"] == etag_of(data)
    assert r1["CopyPartResult"]["LastModified"] is not None
    r2 = s3.upload_part_copy(Bucket=bucket, Key="dest key+ü", UploadId=upload_id, PartNumber=2, CopySource=src,
                             CopySourceRange="bytes=100-199")
    assert r2["CopyPartResult"]["ETag"] == etag_of(data[100:200])
    r3 = s3.upload_part_copy(Bucket=bucket, Key="dest key+ü", UploadId=upload_id, PartNumber=3, CopySource=src,
                             CopySourceRange="bytes=2999-2999")
    assert r3["CopyPartResult"]["ETag"] == etag_of(data[2999:])
    parts = s3.list_parts(Bucket=bucket, Key="dest key+ü", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, 3000), (2, 100), (3, 1)]
    done = _complete(s3, bucket, "dest key+ü", upload_id, [
        {"PartNumber": 1, "ETag": r1["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": r2["CopyPartResult"]["ETag"]},
        {"PartNumber": 3, "ETag": r3["CopyPartResult"]["ETag"]},
    ])
    assert done["ETag"] == multipart_etag([data, data[100:200], data[2999:]])
    assert get_bytes(s3, bucket, "dest key+ü") == data + data[100:200] + data[2999:]


def test_upload_part_copy_range_out_of_bounds(s3_small, copy_source):
    """AWS: 400 InvalidArgument ("Range specified is not valid for source object of size");
    s3-tests accept 400 or 416 with InvalidRange. Either is accepted here."""
    bucket, data, _ = copy_source
    upload_id = s3_small.create_multipart_upload(Bucket=bucket, Key="dest")["UploadId"]
    for rng in ("bytes=0-3000", "bytes=3000-3005", "bytes=100-99999"):
        with pytest.raises(ClientError) as exc:
            s3_small.upload_part_copy(Bucket=bucket, Key="dest", UploadId=upload_id, PartNumber=1,
                                      CopySource={"Bucket": bucket, "Key": ODD_KEY}, CopySourceRange=rng)
        err = exc.value
        assert (status_of(err), err.response["Error"]["Code"]) in (
            (400, "InvalidArgument"), (400, "InvalidRange"), (416, "InvalidRange")), (rng, err.response)
    assert s3_small.list_parts(Bucket=bucket, Key="dest", UploadId=upload_id).get("Parts", []) == []


@pytest.mark.parametrize("rng", ["0-2", "bytes=0", "bytes=hello-world", "bytes=0-bar", "bytes=hello-",
                                 "bytes=0-2,3-5", "bytes=5-1"])
def test_upload_part_copy_malformed_range(s3_small, copy_source, rng):
    bucket, _, _ = copy_source
    upload_id = s3_small.create_multipart_upload(Bucket=bucket, Key="dest")["UploadId"]
    expect_error(s3_small.upload_part_copy, Bucket=bucket, Key="dest", UploadId=upload_id, PartNumber=1,
                 CopySource={"Bucket": bucket, "Key": ODD_KEY}, CopySourceRange=rng,
                 code="InvalidArgument", status=400)


def test_upload_part_copy_preconditions(s3_small, copy_source):
    s3 = s3_small
    bucket, data, etag = copy_source
    src = {"Bucket": bucket, "Key": ODD_KEY}
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dest")["UploadId"]
    kw = {"Bucket": bucket, "Key": "dest", "UploadId": upload_id, "PartNumber": 1, "CopySource": src}
    expect_error(s3.upload_part_copy, **kw, CopySourceIfMatch=etag_of(b"other"),
                 code="PreconditionFailed", status=412)
    expect_error(s3.upload_part_copy, **kw, CopySourceIfNoneMatch=etag, code="PreconditionFailed", status=412)
    assert s3.list_parts(Bucket=bucket, Key="dest", UploadId=upload_id).get("Parts", []) == []
    r = s3.upload_part_copy(**kw, CopySourceIfMatch=etag)
    assert r["CopyPartResult"]["ETag"] == etag_of(data)
    r = s3.upload_part_copy(**kw, CopySourceIfNoneMatch=etag_of(b"other"))
    assert r["CopyPartResult"]["ETag"] == etag_of(data)


def test_upload_part_copy_from_multipart_source(s3_small, small_bucket):
    s3, bucket = s3_small, small_bucket
    src_parts = [random_bytes(1000), random_bytes(1000), random_bytes(500)]
    multipart_put(s3, bucket, "mp-src", src_parts)
    whole = b"".join(src_parts)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp-dst")["UploadId"]
    src = {"Bucket": bucket, "Key": "mp-src"}
    r1 = s3.upload_part_copy(Bucket=bucket, Key="mp-dst", UploadId=upload_id, PartNumber=1, CopySource=src)
    assert r1["CopyPartResult"]["ETag"] == etag_of(whole)
    # A range that spans the source's part boundary.
    r2 = s3.upload_part_copy(Bucket=bucket, Key="mp-dst", UploadId=upload_id, PartNumber=2, CopySource=src,
                             CopySourceRange="bytes=900-2099")
    assert r2["CopyPartResult"]["ETag"] == etag_of(whole[900:2100])
    _complete(s3, bucket, "mp-dst", upload_id, [{"PartNumber": 1, "ETag": r1["CopyPartResult"]["ETag"]},
                                                 {"PartNumber": 2, "ETag": r2["CopyPartResult"]["ETag"]}])
    assert get_bytes(s3, bucket, "mp-dst") == whole + whole[900:2100]


# --------------------------------------------------------------------------------------
# Conditional Complete
# --------------------------------------------------------------------------------------


def _ready_upload(s3, bucket, key, data):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=data)["ETag"]
    return upload_id, [{"PartNumber": 1, "ETag": etag}]


def test_complete_if_none_match_star(s3_small, small_bucket):
    s3, bucket = s3_small, small_bucket
    upload_id, parts = _ready_upload(s3, bucket, "new", b"first version")
    done = _complete(s3, bucket, "new", upload_id, parts, IfNoneMatch="*")
    assert status_of(done) == 200
    upload_id, parts = _ready_upload(s3, bucket, "new", b"second version")
    expect_error(s3.complete_multipart_upload, Bucket=bucket, Key="new", UploadId=upload_id,
                 MultipartUpload={"Parts": parts}, IfNoneMatch="*", code="PreconditionFailed", status=412)
    assert get_bytes(s3, bucket, "new") == b"first version"


def test_complete_if_match(s3_small, small_bucket):
    s3, bucket = s3_small, small_bucket
    old_etag = s3.put_object(Bucket=bucket, Key="k", Body=b"v1")["ETag"]
    upload_id, parts = _ready_upload(s3, bucket, "k", b"v2 from multipart")
    expect_error(s3.complete_multipart_upload, Bucket=bucket, Key="k", UploadId=upload_id,
                 MultipartUpload={"Parts": parts}, IfMatch=etag_of(b"not it"),
                 code="PreconditionFailed", status=412)
    assert get_bytes(s3, bucket, "k") == b"v1"
    upload_id, parts = _ready_upload(s3, bucket, "k", b"v2 from multipart")
    done = _complete(s3, bucket, "k", upload_id, parts, IfMatch=old_etag)
    assert status_of(done) == 200
    assert get_bytes(s3, bucket, "k") == b"v2 from multipart"
    # If-Match on a key that does not exist: 404 NoSuchKey (as for PutObject).
    upload_id, parts = _ready_upload(s3, bucket, "absent", b"x")
    expect_error(s3.complete_multipart_upload, Bucket=bucket, Key="absent", UploadId=upload_id,
                 MultipartUpload={"Parts": parts}, IfMatch=etag_of(b"x"), code="NoSuchKey", status=404)


def test_complete_if_none_match_race(small_server, small_bucket, s3_small):
    bucket = small_bucket
    for round_ in range(5):
        key = f"race-{round_}"
        clients = [small_server.client() for _ in range(2)]
        ready = [_ready_upload(s3_small, bucket, key, f"writer {i}".encode()) for i in range(2)]
        barrier = threading.Barrier(2)
        results = [None, None]

        def attempt(i):
            upload_id, parts = ready[i]
            barrier.wait()
            try:
                r = clients[i].complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                                         MultipartUpload={"Parts": parts}, IfNoneMatch="*")
                results[i] = ("ok", status_of(r), None)
            except ClientError as e:
                results[i] = ("err", status_of(e), e.response["Error"]["Code"])

        threads = [threading.Thread(target=attempt, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        winners = [i for i, r in enumerate(results) if r and r[0] == "ok"]
        assert len(winners) == 1, results
        loser = results[1 - winners[0]]
        assert (loser[1], loser[2]) in ((412, "PreconditionFailed"), (409, "ConditionalRequestConflict")), results
        assert get_bytes(s3_small, bucket, key) == f"writer {winners[0]}".encode()


# --------------------------------------------------------------------------------------
# DeleteBucket with uploads in progress
# --------------------------------------------------------------------------------------


def test_delete_bucket_with_upload_in_progress(s3):
    """AWS (general purpose buckets): DeleteBucket needs no objects; an in-progress multipart
    upload does not block it (DeleteBucket answers 204) and the upload goes with the bucket."""
    name = s3util.unique_bucket_name("mpdel")
    s3.create_bucket(Bucket=name)
    try:
        upload_id = s3.create_multipart_upload(Bucket=name, Key="pending")["UploadId"]
        s3.upload_part(Bucket=name, Key="pending", UploadId=upload_id, PartNumber=1, Body=b"orphan?")
        r = s3.delete_bucket(Bucket=name)
        assert status_of(r) == 204
        expect_error(s3.list_multipart_uploads, Bucket=name, code="NoSuchBucket", status=404)
        expect_error(s3.upload_part, Bucket=name, Key="pending", UploadId=upload_id, PartNumber=2, Body=b"x",
                     code="NoSuchBucket", status=404)
        # A new bucket of the same name does not inherit the upload.
        s3.create_bucket(Bucket=name)
        assert s3.list_multipart_uploads(Bucket=name).get("Uploads", []) == []
        expect_error(s3.list_parts, Bucket=name, Key="pending", UploadId=upload_id, code="NoSuchUpload", status=404)
    finally:
        s3util.empty_and_delete_bucket(s3, name)


def test_delete_bucket_with_object_and_upload_is_not_empty(s3):
    name = s3util.unique_bucket_name("mpdel")
    s3.create_bucket(Bucket=name)
    try:
        s3.put_object(Bucket=name, Key="obj", Body=b"x")
        upload_id = s3.create_multipart_upload(Bucket=name, Key="pending")["UploadId"]
        expect_error(s3.delete_bucket, Bucket=name, code="BucketNotEmpty", status=409)
        assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=name)["Uploads"]] == [upload_id]
    finally:
        s3util.empty_and_delete_bucket(s3, name)


# --------------------------------------------------------------------------------------
# Content-MD5 on UploadPart
# --------------------------------------------------------------------------------------


def test_upload_part_content_md5(s3_small, small_bucket):
    s3, bucket = s3_small, small_bucket
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="md5")["UploadId"]
    data = random_bytes(5000)
    kw = {"Bucket": bucket, "Key": "md5", "UploadId": upload_id, "Body": data}
    r = s3.upload_part(**kw, PartNumber=1, ContentMD5=md5_b64(data))
    assert r["ETag"] == etag_of(data)
    expect_error(s3.upload_part, **kw, PartNumber=2, ContentMD5=md5_b64(b"other data"),
                 code="BadDigest", status=400)
    expect_error(s3.upload_part, **kw, PartNumber=3, ContentMD5="not-a-valid-md5!!",
                 code="InvalidDigest", status=400)
    parts = s3.list_parts(Bucket=bucket, Key="md5", UploadId=upload_id)["Parts"]
    assert [p["PartNumber"] for p in parts] == [1], "a rejected part must not be stored"


# --------------------------------------------------------------------------------------
# Concurrency
# --------------------------------------------------------------------------------------


def test_16_concurrent_part_uploads(small_server, small_bucket):
    s3 = small_server.client(max_pool_connections=16)
    bucket = small_bucket
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="parallel")["UploadId"]
    parts = {n: random_bytes(MiB + n) for n in range(1, 17)}
    barrier = threading.Barrier(16)

    def put(n):
        barrier.wait()
        return n, s3.upload_part(Bucket=bucket, Key="parallel", UploadId=upload_id, PartNumber=n,
                                 Body=parts[n])["ETag"]

    with ThreadPoolExecutor(16) as pool:
        etags = dict(pool.map(put, parts))
    assert etags == {n: etag_of(parts[n]) for n in parts}
    done = _complete(s3, bucket, "parallel", upload_id, part_list(etags))
    ordered = [parts[n] for n in range(1, 17)]
    assert done["ETag"] == multipart_etag(ordered)
    got = get_bytes(s3, bucket, "parallel")
    assert len(got) == sum(map(len, ordered))
    assert hashlib.md5(got).digest() == hashlib.md5(b"".join(ordered)).digest()


def test_part_upload_racing_complete(make_server):
    """UploadPart (new part / replacement of a named part) racing Complete: the object is
    always exactly the concatenation of the parts the Complete named, with the ETags it named;
    nothing leaks."""
    srv = make_server("--min-part-size", str(SMALL_MIN_PART))
    s3a, s3b = srv.client(), srv.client()
    s3a.create_bucket(Bucket="race")
    for round_ in range(8):
        key = f"k{round_}"
        parts = {n: pattern_bytes(64 * 1024, round_ * 10 + n) for n in (1, 2, 3)}
        upload_id = s3a.create_multipart_upload(Bucket="race", Key=key)["UploadId"]
        etags = upload_parts(s3a, "race", key, upload_id, parts)
        replacement = pattern_bytes(80 * 1024, 1000 + round_)
        # Even rounds race a part the Complete does not name; odd rounds replace part 2.
        racing_number = 4 if round_ % 2 == 0 else 2
        barrier = threading.Barrier(2)
        outcome = {}

        def racer():
            barrier.wait()
            try:
                r = s3b.upload_part(Bucket="race", Key=key, UploadId=upload_id, PartNumber=racing_number,
                                    Body=replacement)
                outcome["part"] = ("ok", r["ETag"])
            except ClientError as e:
                outcome["part"] = ("err", e.response["Error"]["Code"])

        t = threading.Thread(target=racer)
        t.start()
        barrier.wait()
        try:
            done = _complete(s3a, "race", key, upload_id, part_list(etags))
            outcome["complete"] = ("ok", done["ETag"])
        except ClientError as e:
            outcome["complete"] = ("err", e.response["Error"]["Code"], status_of(e))
        t.join(60)

        if outcome["part"][0] == "err":
            assert outcome["part"][1] == "NoSuchUpload", outcome
        if outcome["complete"][0] == "ok":
            expected = [parts[1], parts[2], parts[3]]
            assert outcome["complete"][1] == multipart_etag(expected), outcome
            assert get_bytes(s3a, "race", key) == b"".join(expected), f"round {round_}: corrupt object"
            expect_error(s3a.list_parts, Bucket="race", Key=key, UploadId=upload_id,
                         code="NoSuchUpload", status=404)
        else:
            # Only possible when the replacement of part 2 won: the named ETag is stale.
            assert racing_number == 2 and outcome["part"][0] == "ok", outcome
            assert outcome["complete"][1:] == ("InvalidPart", 400), outcome
            expect_error(s3a.head_object, Bucket="race", Key=key, code=None, status=404)
            listed = {p["PartNumber"]: p["ETag"] for p in list_all_parts(s3a, "race", key, upload_id)}
            assert listed == {1: etags[1], 2: etag_of(replacement), 3: etags[3]}
            s3a.abort_multipart_upload(Bucket="race", Key=key, UploadId=upload_id)
    # Nothing leaks: with every object deleted, no blob file remains.
    for page in s3a.get_paginator("list_objects_v2").paginate(Bucket="race"):
        for o in page.get("Contents", []):
            s3a.delete_object(Bucket="race", Key=o["Key"])
    assert s3a.list_multipart_uploads(Bucket="race").get("Uploads", []) == []
    assert wait_blob_count(srv, 0) == 0, blob_files(srv)
