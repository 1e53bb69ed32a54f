"""Document (XML) request bodies: bounded in size, bounded in nesting, checked against
Content-MD5 / x-amz-checksum-*, and DeleteObjects requires one of them (as S3)."""

import base64
import hashlib
import socket

import pytest

from s3util import key_path, md5_b64

DELETE_BODY = b"<Delete><Object><Key>a</Key></Object></Delete>"


def _send_announced(raw, method, path, query, length, first_bytes):
    """Announces a Content-Length of `length` but sends only `first_bytes`: a server that
    reads before deciding would hang; one that checks the announced size answers at once."""
    headers = raw.sign_v4(method, path, query, {"Content-Length": str(length)},
                          payload_hash="UNSIGNED-PAYLOAD")
    target = raw.target(path, query)
    sock = raw.socket(timeout=10)
    try:
        lines = [f"{method} {target} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers.items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + first_bytes)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return int(data.split(b" ", 2)[1]), data
    finally:
        sock.close()


def test_huge_complete_body_is_400(raw, s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    status, data = _send_announced(raw, "POST", key_path(bucket, "k"), {"uploadId": upload},
                                   40_000_000, b"<CompleteMultipartUpload>")
    assert status == 400, data
    assert b"MaxMessageLengthExceeded" in data
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload)


def test_huge_create_bucket_body_is_400(raw, s3, bucket):
    status, data = _send_announced(raw, "PUT", f"/{bucket}-big", None, 25_000_000,
                                   b"<CreateBucketConfiguration>")
    assert status == 400, data
    assert b"MaxMessageLengthExceeded" in data
    assert f"{bucket}-big" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_over_limit_body_sent_whole_is_400(raw, bucket):
    body = b"<CreateBucketConfiguration>" + b" " * (2 << 20) + b"</CreateBucketConfiguration>"
    r = raw.request("PUT", f"/{bucket}-big2", body=body)
    assert r.status == 400, r.body
    assert r.error_code == "MaxMessageLengthExceeded"


def test_deeply_nested_create_bucket_body_is_malformed(raw, s3, bucket):
    depth = 50_000
    body = b"<CreateBucketConfiguration>" + b"<a>" * depth + b"</a>" * depth + b"</CreateBucketConfiguration>"
    r = raw.request("PUT", f"/{bucket}-deep", body=body)
    assert r.status == 400, r.body
    assert r.error_code == "MalformedXML"
    assert f"{bucket}-deep" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_doctype_is_malformed(raw, s3, bucket):
    body = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "y">]>'
            b"<Delete><Object><Key>&x;</Key></Object></Delete>")
    r = raw.request("POST", f"/{bucket}", query={"delete": None}, body=body,
                    headers={"Content-MD5": md5_b64(body)})
    assert r.status == 400, r.body
    assert r.error_code == "MalformedXML"


def test_delete_objects_requires_md5_or_checksum(raw, s3, bucket):
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    r = raw.request("POST", f"/{bucket}", query={"delete": None}, body=DELETE_BODY)
    assert r.status == 400, r.body
    assert r.error_code == "InvalidRequest"
    assert s3.head_object(Bucket=bucket, Key="a")["ContentLength"] == 1
    ok = raw.request("POST", f"/{bucket}", query={"delete": None}, body=DELETE_BODY,
                     headers={"Content-MD5": md5_b64(DELETE_BODY)})
    assert ok.status == 200, ok.body
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_delete_objects_with_wrong_md5_is_bad_digest(raw, s3, bucket):
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    r = raw.request("POST", f"/{bucket}", query={"delete": None}, body=DELETE_BODY,
                    headers={"Content-MD5": md5_b64(b"other")})
    assert r.status == 400, r.body
    assert r.error_code == "BadDigest"
    assert s3.head_object(Bucket=bucket, Key="a")["ContentLength"] == 1


def test_delete_objects_with_checksum_header(raw, s3, bucket):
    import zlib
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    bad = base64.b64encode((zlib.crc32(b"other")).to_bytes(4, "big")).decode()
    r = raw.request("POST", f"/{bucket}", query={"delete": None}, body=DELETE_BODY,
                    headers={"x-amz-checksum-crc32": bad})
    assert r.status == 400 and r.error_code == "BadDigest", r.body
    good = base64.b64encode((zlib.crc32(DELETE_BODY)).to_bytes(4, "big")).decode()
    r = raw.request("POST", f"/{bucket}", query={"delete": None}, body=DELETE_BODY,
                    headers={"x-amz-checksum-crc32": good})
    assert r.status == 200, r.body


def test_boto3_delete_objects_still_works(s3, bucket):
    for k in "abc":
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in "abc"]})
    assert sorted(d["Key"] for d in out["Deleted"]) == ["a", "b", "c"]


def test_complete_with_wrong_content_md5_is_bad_digest(raw, s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=1, Body=b"p")["ETag"]
    body = (f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag>"
            f"</Part></CompleteMultipartUpload>").encode()
    r = raw.request("POST", key_path(bucket, "k"), query={"uploadId": upload}, body=body,
                    headers={"Content-MD5": md5_b64(b"not the body")})
    assert r.status == 400 and r.error_code == "BadDigest", r.body
    r = raw.request("POST", key_path(bucket, "k"), query={"uploadId": upload}, body=body,
                    headers={"Content-MD5": md5_b64(body)})
    assert r.status == 200, r.body
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"p"
