"""Authentication: SigV4 (headers, presigned, payload hashes, aws-chunked), SigV2, anonymous."""

import datetime
import hashlib
import time
from urllib.parse import parse_qs, urlsplit, urlunsplit, urlencode

import pytest
import requests
from botocore import UNSIGNED
from botocore.exceptions import ClientError

from conftest import STREAMING_SIGNED, UNSIGNED_PAYLOAD, RawResponse
from s3util import (
    checksum_b64,
    etag_of,
    expect_error,
    key_path,
    md5_b64,
    random_bytes,
    status_of,
)

ONE_WEEK = 604800


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _xml_error(resp) -> str:
    """The <Code> of an S3 XML error body from a `requests` response or RawResponse."""
    body = resp.content if hasattr(resp, "content") else resp.body
    return RawResponse(0, "", {}, body).error_code


def _verify(server):
    return server.ca_bundle if server.tls else True


# --------------------------------------------------------------------------------------
# Credentials
# --------------------------------------------------------------------------------------


def test_wrong_secret_key(server, bucket):
    client = server.client(aws_secret_access_key="wrong/secret/key/0123456789abcdefghijklm")
    expect_error(client.list_buckets, code="SignatureDoesNotMatch", status=403)
    expect_error(client.put_object, Bucket=bucket, Key="k", Body=b"x", code="SignatureDoesNotMatch", status=403)
    expect_error(client.get_object, Bucket=bucket, Key="k", code="SignatureDoesNotMatch", status=403)


def test_unknown_access_key(server, bucket):
    client = server.client(aws_access_key_id="AKIANOTAREALKEY00000")
    expect_error(client.list_buckets, code="InvalidAccessKeyId", status=403)
    expect_error(client.list_objects_v2, Bucket=bucket, code="InvalidAccessKeyId", status=403)


def test_anonymous_requests_are_denied(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"secret")
    anon = server.client(signature_version=UNSIGNED)
    expect_error(anon.list_buckets, code="AccessDenied", status=403)
    expect_error(anon.list_objects_v2, Bucket=bucket, code="AccessDenied", status=403)
    expect_error(anon.get_object, Bucket=bucket, Key="k", code="AccessDenied", status=403)
    expect_error(anon.put_object, Bucket=bucket, Key="k2", Body=b"x", code="AccessDenied", status=403)
    expect_error(anon.delete_object, Bucket=bucket, Key="k", code="AccessDenied", status=403)
    expect_error(anon.head_object, Bucket=bucket, Key="k", code=None, status=403)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"secret"
    expect_error(s3.head_object, Bucket=bucket, Key="k2", code=None, status=404)


@pytest.mark.parametrize("minutes", [20, -20])
def test_clock_skew_too_large(raw, bucket, minutes):
    resp = raw("GET", f"/{bucket}", query={"list-type": "2"},
               date=_utcnow() + datetime.timedelta(minutes=minutes))
    assert resp.status == 403, resp
    assert resp.error_code == "RequestTimeTooSkewed"


def test_clock_skew_within_limit(raw, bucket):
    resp = raw("GET", f"/{bucket}", query={"list-type": "2"}, date=_utcnow() - datetime.timedelta(minutes=5))
    assert resp.status == 200, resp


def test_tampered_signed_header_is_rejected(raw, bucket):
    headers = raw.sign_v4("GET", f"/{bucket}", {"list-type": "2"}, {"x-amz-meta-signed": "yes"})
    headers["x-amz-meta-signed"] = "changed"
    resp = raw.send("GET", f"/{bucket}?list-type=2", headers)
    assert resp.status == 403, resp
    assert resp.error_code == "SignatureDoesNotMatch"


# --------------------------------------------------------------------------------------
# Presigned URLs
# --------------------------------------------------------------------------------------


def test_presigned_v4_get(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="pre sign/d", Body=b"presigned body")
    signer = server.client(signature_version="s3v4")
    url = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre sign/d"}, ExpiresIn=300)
    assert "X-Amz-Signature=" in url
    r = requests.get(url, verify=_verify(server), timeout=30)
    assert r.status_code == 200, r.text
    assert r.content == b"presigned body"
    assert r.headers["ETag"] == etag_of(b"presigned body")


def test_presigned_v4_get_with_response_override(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    signer = server.client(signature_version="s3v4")
    url = signer.generate_presigned_url(
        "get_object",
        Params={"Bucket": bucket, "Key": "k", "ResponseContentDisposition": 'attachment; filename="a b.txt"'},
        ExpiresIn=300,
    )
    r = requests.get(url, verify=_verify(server), timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Disposition"] == 'attachment; filename="a b.txt"'


def test_presigned_v4_put(server, s3, bucket):
    signer = server.client(signature_version="s3v4")
    url = signer.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "up"}, ExpiresIn=300)
    data = random_bytes(50_000)
    r = requests.put(url, data=data, verify=_verify(server), timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == etag_of(data)
    assert s3.get_object(Bucket=bucket, Key="up")["Body"].read() == data


def test_presigned_v4_expires_beyond_one_week(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    signer = server.client(signature_version="s3v4")
    ok = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=ONE_WEEK)
    assert requests.get(ok, verify=_verify(server), timeout=30).status_code == 200
    url = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=ONE_WEEK + 1)
    r = requests.get(url, verify=_verify(server), timeout=30)
    assert r.status_code == 400, r.text
    assert _xml_error(r) == "AuthorizationQueryParametersError"


def test_presigned_urls_expire(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    v4 = server.client(signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=1)
    v2 = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=1)
    assert "Signature=" in v2 and "AWSAccessKeyId=" in v2
    time.sleep(2.5)
    for url in (v4, v2):
        r = requests.get(url, verify=_verify(server), timeout=30)
        assert r.status_code == 403, (url, r.text)
        assert _xml_error(r) == "AccessDenied"


def test_presigned_v4_tampered(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_object(Bucket=bucket, Key="other", Body=b"y")
    signer = server.client(signature_version="s3v4")
    url = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=300)
    parts = urlsplit(url)
    # Same signature, different key.
    r = requests.get(urlunsplit(parts._replace(path=parts.path[:-1] + "other")), verify=_verify(server), timeout=30)
    assert r.status_code == 403 and _xml_error(r) == "SignatureDoesNotMatch", r.text
    # Corrupted signature.
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    sig = q["X-Amz-Signature"]
    q["X-Amz-Signature"] = ("0" if sig[0] != "0" else "1") + sig[1:]
    r = requests.get(urlunsplit(parts._replace(query=urlencode(q))), verify=_verify(server), timeout=30)
    assert r.status_code == 403 and _xml_error(r) == "SignatureDoesNotMatch", r.text


# --------------------------------------------------------------------------------------
# Payload hashes
# --------------------------------------------------------------------------------------


def test_signed_payload(raw, s3, bucket):
    data = random_bytes(10_000)
    resp = raw("PUT", key_path(bucket, "signed"), body=data)
    assert resp.status == 200, resp
    assert resp.header("ETag") == etag_of(data)
    assert s3.get_object(Bucket=bucket, Key="signed")["Body"].read() == data


def test_content_sha256_mismatch(raw, s3, bucket):
    resp = raw("PUT", key_path(bucket, "mismatch"), body=b"the real body",
               payload_hash=hashlib.sha256(b"some other body").hexdigest())
    assert resp.status == 400, resp
    assert resp.error_code == "XAmzContentSHA256Mismatch"
    expect_error(s3.head_object, Bucket=bucket, Key="mismatch", code=None, status=404)


def test_content_sha256_invalid_value(raw, s3, bucket):
    resp = raw("PUT", key_path(bucket, "bad-hash"), body=b"body", payload_hash="not-a-sha256")
    assert resp.status == 400, resp
    assert resp.error_code == "InvalidArgument"
    expect_error(s3.head_object, Bucket=bucket, Key="bad-hash", code=None, status=404)


def test_unsigned_payload(raw, s3, bucket):
    data = random_bytes(70_000)
    resp = raw("PUT", key_path(bucket, "unsigned"), body=data, payload_hash=UNSIGNED_PAYLOAD)
    assert resp.status == 200, resp
    assert resp.header("ETag") == etag_of(data)
    assert s3.get_object(Bucket=bucket, Key="unsigned")["Body"].read() == data


# --------------------------------------------------------------------------------------
# aws-chunked
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1000, 200_000], ids=["empty", "one-chunk", "four-chunks"])
def test_aws_chunked_signed_payload(raw, s3, bucket, size):
    data = random_bytes(size)
    resp = raw.signed_chunked_put(key_path(bucket, "chunked"), data, chunk_size=64 * 1024)
    assert resp.status == 200, resp
    assert resp.header("ETag") == etag_of(data)
    head = s3.head_object(Bucket=bucket, Key="chunked")
    assert head["ContentLength"] == size
    assert "aws-chunked" not in (head.get("ContentEncoding") or "")
    assert s3.get_object(Bucket=bucket, Key="chunked")["Body"].read() == data


def test_aws_chunked_bad_chunk_signature(raw, s3, bucket):
    data = random_bytes(200_000)
    resp = raw.signed_chunked_put(key_path(bucket, "tampered"), data, tamper_chunk=1)
    assert resp.status == 403, resp
    assert resp.error_code == "SignatureDoesNotMatch"
    expect_error(s3.head_object, Bucket=bucket, Key="tampered", code=None, status=404)


def test_aws_chunked_signed_seed_must_match(raw, s3, bucket):
    # The seed signature covers the headers like any SigV4 request.
    headers = raw.sign_v4("PUT", key_path(bucket, "seed"), None,
                          {"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": "0",
                           "Content-Length": "86"},
                          payload_hash=STREAMING_SIGNED, secret_key="wrong-secret")
    body = b"0;chunk-signature=" + b"0" * 64 + b"\r\n\r\n"
    assert len(body) == 86
    resp = raw.send("PUT", key_path(bucket, "seed"), headers, body)
    assert resp.status == 403, resp
    assert resp.error_code == "SignatureDoesNotMatch"


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA256"])
def test_unsigned_payload_trailer(raw, s3, bucket, algorithm):
    data = random_bytes(150_000)
    resp = raw.unsigned_trailer_put(key_path(bucket, "trailer"), data, algorithm=algorithm)
    assert resp.status == 200, resp
    assert resp.header("ETag") == etag_of(data)
    head = s3.head_object(Bucket=bucket, Key="trailer", ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(data)
    assert head.get(f"Checksum{algorithm}") == checksum_b64(algorithm, data)
    assert s3.get_object(Bucket=bucket, Key="trailer")["Body"].read() == data


def test_unsigned_payload_trailer_wrong_checksum(raw, s3, bucket):
    data = random_bytes(150_000)
    resp = raw.unsigned_trailer_put(key_path(bucket, "bad-trailer"), data, algorithm="CRC32", value="AAAAAA==")
    assert resp.status == 400, resp
    assert resp.error_code == "BadDigest"
    expect_error(s3.head_object, Bucket=bucket, Key="bad-trailer", code=None, status=404)


# --------------------------------------------------------------------------------------
# SigV2
# --------------------------------------------------------------------------------------


def test_sigv2_header_auth_with_boto3(server, bucket):
    v2 = server.client(signature_version="s3")
    assert status_of(v2.put_object(Bucket=bucket, Key="v2 key", Body=b"sigv2", ContentType="text/plain",
                                   Metadata={"m": "1"})) == 200
    got = v2.get_object(Bucket=bucket, Key="v2 key")
    assert got["Body"].read() == b"sigv2"
    assert got["Metadata"] == {"m": "1"}
    assert [o["Key"] for o in v2.list_objects_v2(Bucket=bucket)["Contents"]] == ["v2 key"]
    assert status_of(v2.delete_object(Bucket=bucket, Key="v2 key")) == 204


def test_sigv2_raw_header_auth(raw, s3, bucket):
    data = b"raw sigv2 body"
    resp = raw("PUT", key_path(bucket, "raw v2"), body=data, sign="v2",
               headers={"Content-Type": "text/plain", "Content-MD5": md5_b64(data), "x-amz-meta-a": "b"})
    assert resp.status == 200, resp
    resp = raw("GET", key_path(bucket, "raw v2"), sign="v2")
    assert resp.status == 200, resp
    assert resp.body == data
    assert resp.header("x-amz-meta-a") == "b"
    resp = raw("GET", f"/{bucket}", query={"prefix": "raw"}, sign="v2")
    assert resp.status == 200, resp
    assert [c.findtext("Key") for c in resp.xml().findall("Contents")] == ["raw v2"]


def test_sigv2_bad_signature(raw, server, bucket):
    resp = raw("GET", f"/{bucket}", sign="v2", secret_key="wrong-secret")
    assert resp.status == 403, resp
    assert resp.error_code == "SignatureDoesNotMatch"
    bad = server.client(signature_version="s3", aws_secret_access_key="wrong-secret")
    expect_error(bad.list_objects, Bucket=bucket, code="SignatureDoesNotMatch", status=403)


def test_sigv2_presigned_by_boto3(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="p2", Body=b"v2 presigned")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p2"}, ExpiresIn=300)
    assert "AWSAccessKeyId=" in url and "Signature=" in url
    r = requests.get(url, verify=_verify(server), timeout=30)
    assert r.status_code == 200, r.text
    assert r.content == b"v2 presigned"


def test_sigv2_presigned_by_aws_cli(aws, server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="cli presign", Body=b"presigned by the cli")
    url = aws("s3", "presign", f"s3://{bucket}/cli presign", "--expires-in", "300").stdout.strip()
    assert "AWSAccessKeyId=" in url and "Signature=" in url, url
    r = requests.get(url, verify=_verify(server), timeout=30)
    assert r.status_code == 200, r.text
    assert r.content == b"presigned by the cli"


def test_no_sigv2_flag_refuses_sigv2(make_server):
    srv = make_server("--no-sigv2")
    v4 = srv.client()
    name = "no-sigv2-bucket"
    v4.create_bucket(Bucket=name)
    v4.put_object(Bucket=name, Key="k", Body=b"x")

    resp = srv.raw()("GET", key_path(name, "k"), sign="v2")
    assert not 200 <= resp.status < 300, resp
    assert resp.status in (400, 403), resp
    assert resp.error_code, f"expected an S3 XML error body: {resp}"

    url = v4.generate_presigned_url("get_object", Params={"Bucket": name, "Key": "k"}, ExpiresIn=300)
    assert "AWSAccessKeyId=" in url
    r = requests.get(url, timeout=30)
    assert r.status_code in (400, 403), r.text
    assert _xml_error(r)

    v2 = srv.client(signature_version="s3")
    with pytest.raises(ClientError) as excinfo:
        v2.get_object(Bucket=name, Key="k")
    assert status_of(excinfo.value) in (400, 403), excinfo.value.response

    # SigV4 keeps working.
    assert v4.get_object(Bucket=name, Key="k")["Body"].read() == b"x"


@pytest.mark.parametrize("expires,status,code", [
    ("0", 403, "AccessDenied"),
    ("-7", 400, "AuthorizationQueryParametersError"),
])
def test_presigned_v4_expires_zero_or_negative(server, s3, bucket, expires, status, code):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    url = server.client(signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=60)
    # Re-signing is not needed: the expiry bound is checked before the signature.
    url = url.replace("X-Amz-Expires=60", f"X-Amz-Expires={expires}")
    r = requests.get(url, verify=_verify(server), timeout=30)
    assert r.status_code == status, r.text
    assert _xml_error(r) == code
