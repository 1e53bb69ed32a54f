"""SigV4: every x-amz-* header must be signed, in every payload mode and in presigned URLs.

Regression tests for the hole where a presigned PUT URL plus an unsigned
`x-amz-copy-source` header copied any object the signer could read into the URL's key.
"""

import pytest
import requests

from conftest import UNSIGNED_PAYLOAD, RawResponse
from s3util import key_path, random_bytes

NOT_SIGNED = "There were headers present in the request which were not signed"


def _code(body: bytes) -> str | None:
    return RawResponse(0, "", {}, body).error_code


def _message(body: bytes) -> str:
    el = RawResponse(0, "", {}, body).xml().find("Message")
    return "" if el is None else (el.text or "")


def _assert_refused(status: int, body: bytes):
    assert status == 403, body
    assert _code(body) == "AccessDenied", body
    assert _message(body) == NOT_SIGNED, body


def _verify(server):
    return server.ca_bundle if server.tls else True


@pytest.fixture
def secret_object(s3, bucket):
    """An object elsewhere that an attacker would like to read through an upload URL."""
    s3.create_bucket(Bucket=bucket + "-secret")
    s3.put_object(Bucket=bucket + "-secret", Key="secret", Body=b"top secret bytes")
    yield f"/{bucket}-secret/secret"
    s3.delete_object(Bucket=bucket + "-secret", Key="secret")
    s3.delete_bucket(Bucket=bucket + "-secret")


def _absent(s3, bucket, key):
    return "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix=key)


@pytest.mark.parametrize("mode", ["sha256", "unsigned"])
def test_header_auth_unsigned_meta_is_refused(raw, s3, bucket, mode):
    body = b"payload"
    payload_hash = UNSIGNED_PAYLOAD if mode == "unsigned" else None
    path = key_path(bucket, "k")
    hdrs = raw.sign_v4("PUT", path, body=body, payload_hash=payload_hash)
    hdrs["x-amz-meta-injected"] = "1"
    r = raw.send("PUT", path, hdrs, body)
    _assert_refused(r.status, r.body)
    assert _absent(s3, bucket, "k")


@pytest.mark.parametrize("mode", ["sha256", "unsigned"])
def test_header_auth_unsigned_copy_source_is_refused(raw, s3, bucket, secret_object, mode):
    payload_hash = UNSIGNED_PAYLOAD if mode == "unsigned" else None
    path = key_path(bucket, "stolen")
    hdrs = raw.sign_v4("PUT", path, payload_hash=payload_hash)
    hdrs["x-amz-copy-source"] = secret_object
    r = raw.send("PUT", path, hdrs, b"")
    _assert_refused(r.status, r.body)
    assert _absent(s3, bucket, "stolen")


def test_signed_meta_is_accepted(raw, s3, bucket):
    path = key_path(bucket, "k")
    r = raw.request("PUT", path, headers={"x-amz-meta-color": "blue"}, body=b"x")
    assert r.status == 200, r.body
    assert s3.head_object(Bucket=bucket, Key="k")["Metadata"] == {"color": "blue"}


def test_aws_chunked_signed_unsigned_header_is_refused(raw, s3, bucket, secret_object):
    path = key_path(bucket, "chunked")
    r = raw.signed_chunked_put(path, random_bytes(100_000),
                               unsigned_headers={"x-amz-copy-source": secret_object})
    _assert_refused(r.status, r.body)
    r = raw.signed_chunked_put(path, random_bytes(1000), unsigned_headers={"x-amz-meta-a": "1"})
    _assert_refused(r.status, r.body)
    assert _absent(s3, bucket, "chunked")
    ok = raw.signed_chunked_put(path, b"fine", headers={"x-amz-meta-a": "1"})
    assert ok.status == 200, ok.body


def test_unsigned_trailer_unsigned_header_is_refused(raw, s3, bucket):
    path = key_path(bucket, "trailer")
    r = raw.unsigned_trailer_put(path, random_bytes(10_000),
                                 unsigned_headers={"x-amz-meta-a": "1"})
    _assert_refused(r.status, r.body)
    # The checksum algorithm header itself must be signed as well.
    r = raw.unsigned_trailer_put(path, random_bytes(10_000),
                                 unsigned_headers={"x-amz-storage-class": "STANDARD"})
    _assert_refused(r.status, r.body)
    assert _absent(s3, bucket, "trailer")


def test_presigned_put_with_unsigned_copy_source_is_refused(server, s3, bucket, secret_object):
    signer = server.client(signature_version="s3v4")
    url = signer.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "via-url"},
                                        ExpiresIn=300)
    r = requests.put(url, data=b"", headers={"x-amz-copy-source": secret_object},
                     verify=_verify(server), timeout=30)
    _assert_refused(r.status_code, r.content)
    assert _absent(s3, bucket, "via-url")
    r = requests.put(url, data=b"x", headers={"x-amz-meta-injected": "1"},
                     verify=_verify(server), timeout=30)
    _assert_refused(r.status_code, r.content)
    assert _absent(s3, bucket, "via-url")
    # The same URL without the extra header still works.
    r = requests.put(url, data=b"mine", verify=_verify(server), timeout=30)
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket=bucket, Key="via-url")["Body"].read() == b"mine"


def test_presigned_upload_part_cannot_become_upload_part_copy(server, s3, bucket, secret_object):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    signer = server.client(signature_version="s3v4")
    url = signer.generate_presigned_url(
        "upload_part",
        Params={"Bucket": bucket, "Key": "mp", "UploadId": upload, "PartNumber": 1},
        ExpiresIn=300)
    r = requests.put(url, data=b"", headers={"x-amz-copy-source": secret_object},
                     verify=_verify(server), timeout=30)
    _assert_refused(r.status_code, r.content)
    assert s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload).get("Parts", []) == []
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload)


def test_presigned_url_with_signed_amz_header_works(server, s3, bucket):
    signer = server.client(signature_version="s3v4")
    url = signer.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "m", "Metadata": {"a": "1"}}, ExpiresIn=300)
    # botocore signs the metadata header into the URL; the client must then send it.
    r = requests.put(url, data=b"x", headers={"x-amz-meta-a": "1"}, verify=_verify(server), timeout=30)
    assert r.status_code == 200, r.text
    assert s3.head_object(Bucket=bucket, Key="m")["Metadata"] == {"a": "1"}


def test_presigned_url_with_authorization_header_is_refused(server, raw, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    signer = server.client(signature_version="s3v4")
    url = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=300)
    auth = raw.sign_v4("GET", key_path(bucket, "k"))["Authorization"]
    r = requests.get(url, headers={"Authorization": auth}, verify=_verify(server), timeout=30)
    assert r.status_code == 400, r.text
    assert _code(r.content) == "InvalidArgument"
    assert "Only one auth mechanism allowed" in _message(r.content)


def test_sigv2_signs_amz_headers_by_construction(raw, s3, bucket):
    path = key_path(bucket, "v2")
    r = raw.request("PUT", path, headers={"x-amz-meta-a": "1", "Content-Type": "text/plain"},
                    body=b"", sign="v2")
    assert r.status == 200, r.body
    hdrs = raw.sign_v2("PUT", path, headers={"Content-Type": "text/plain"})
    hdrs["x-amz-meta-b"] = "added after signing"
    r = raw.send("PUT", path, hdrs, b"")
    assert r.status == 403, r.body
    assert _code(r.body) == "SignatureDoesNotMatch"

