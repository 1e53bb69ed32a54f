"""PutObject / GetObject / HeadObject: bodies, ETags, Content-MD5, checksums, metadata,
ranges, response overrides, error responses."""

import base64
import datetime
import hashlib
import io

import pytest

from s3util import (
    MiB,
    checksum_b64,
    etag_of,
    expect_error,
    headers_of,
    key_path,
    md5_b64,
    random_bytes,
    status_of,
    unique_bucket_name,
)

# --------------------------------------------------------------------------------------
# Bodies and ETags
# --------------------------------------------------------------------------------------


def test_put_get_roundtrip(s3, bucket):
    data = random_bytes(100_000)
    put = s3.put_object(Bucket=bucket, Key="obj", Body=data)
    assert status_of(put) == 200
    assert put["ETag"] == etag_of(data)

    get = s3.get_object(Bucket=bucket, Key="obj")
    assert status_of(get) == 200
    assert get["Body"].read() == data
    assert get["ETag"] == etag_of(data)
    assert get["ContentLength"] == len(data)
    assert get["LastModified"] is not None
    assert get["AcceptRanges"] == "bytes"

    head = s3.head_object(Bucket=bucket, Key="obj")
    assert status_of(head) == 200
    assert head["ContentLength"] == len(data)
    assert head["ETag"] == etag_of(data)


def test_put_overwrites(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"first")
    s3.put_object(Bucket=bucket, Key="k", Body=b"second version")
    get = s3.get_object(Bucket=bucket, Key="k")
    assert get["Body"].read() == b"second version"
    assert get["ETag"] == etag_of(b"second version")


def test_zero_byte_object(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    assert put["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    get = s3.get_object(Bucket=bucket, Key="empty")
    assert get["ContentLength"] == 0
    assert get["Body"].read() == b""
    head = s3.head_object(Bucket=bucket, Key="empty")
    assert head["ContentLength"] == 0
    assert head["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'


def test_large_object_20mib(s3, bucket):
    data = random_bytes(20 * MiB)
    put = s3.put_object(Bucket=bucket, Key="big", Body=data)
    assert put["ETag"] == etag_of(data)
    get = s3.get_object(Bucket=bucket, Key="big")
    assert get["ContentLength"] == len(data)
    body = get["Body"].read()
    assert len(body) == len(data)
    assert hashlib.md5(body).hexdigest() == hashlib.md5(data).hexdigest()


def test_put_from_file_object_sends_expect_continue(s3, bucket):
    # A file-like Body makes botocore send `Expect: 100-continue`.
    data = random_bytes(3 * MiB)
    sent = {}

    def capture(request, **_):
        sent.update({k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()})

    s3.meta.events.register("before-send.s3.PutObject", capture)
    try:
        put = s3.put_object(Bucket=bucket, Key="from-file", Body=io.BytesIO(data))
    finally:
        s3.meta.events.unregister("before-send.s3.PutObject", capture)
    assert sent.get("expect") == "100-continue"
    assert put["ETag"] == etag_of(data)
    assert s3.get_object(Bucket=bucket, Key="from-file")["Body"].read() == data


def test_default_content_type(s3, bucket):
    # boto3 sends no Content-Type for a bytes body; S3 then stores binary/octet-stream.
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert s3.head_object(Bucket=bucket, Key="k")["ContentType"] == "binary/octet-stream"


# --------------------------------------------------------------------------------------
# Content-MD5
# --------------------------------------------------------------------------------------


def test_content_md5_correct(s3, bucket):
    data = b"hello md5"
    put = s3.put_object(Bucket=bucket, Key="k", Body=data, ContentMD5=md5_b64(data))
    assert status_of(put) == 200
    assert put["ETag"] == etag_of(data)


def test_content_md5_wrong_is_bad_digest(s3, bucket):
    expect_error(s3.put_object, Bucket=bucket, Key="k", Body=b"hello", ContentMD5=md5_b64(b"other"),
                 code="BadDigest", status=400)
    expect_error(s3.head_object, Bucket=bucket, Key="k", code=None, status=404)


@pytest.mark.parametrize("value", ["not-base64!!", base64.b64encode(b"short").decode()],
                         ids=["not-base64", "wrong-length"])
def test_content_md5_malformed_is_invalid_digest(s3, bucket, value):
    expect_error(s3.put_object, Bucket=bucket, Key="k", Body=b"hello", ContentMD5=value,
                 code="InvalidDigest", status=400)
    expect_error(s3.head_object, Bucket=bucket, Key="k", code=None, status=404)


# --------------------------------------------------------------------------------------
# Flexible checksums
# --------------------------------------------------------------------------------------

ALGORITHMS = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_checksum_algorithm_roundtrip(s3, bucket, algorithm):
    data = random_bytes(300_000)
    expected = checksum_b64(algorithm, data)
    field = f"Checksum{algorithm}"

    put = s3.put_object(Bucket=bucket, Key="k", Body=data, ChecksumAlgorithm=algorithm)
    assert status_of(put) == 200
    assert put.get(field) == expected

    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head.get(field) == expected

    get = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert get.get(field) == expected
    assert get["Body"].read() == data  # botocore also validates the body against it


def test_default_put_stores_crc32(s3, bucket):
    # boto3 sends x-amz-checksum-crc32 by default (request_checksum_calculation=when_supported).
    data = b"default checksum"
    s3.put_object(Bucket=bucket, Key="k", Body=data)
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head.get("ChecksumCRC32") == checksum_b64("CRC32", data)


def test_explicit_checksum_value_correct(s3, bucket):
    data = b"explicit sha256"
    put = s3.put_object(Bucket=bucket, Key="k", Body=data, ChecksumSHA256=checksum_b64("SHA256", data))
    assert put["ChecksumSHA256"] == checksum_b64("SHA256", data)


@pytest.mark.parametrize(
    "field,value",
    [("ChecksumCRC32", "AAAAAA=="), ("ChecksumSHA256", base64.b64encode(b"\0" * 32).decode())],
    ids=["crc32", "sha256"],
)
def test_wrong_checksum_is_bad_digest_and_stores_nothing(s3, bucket, field, value):
    expect_error(s3.put_object, Bucket=bucket, Key="new", Body=b"some data", **{field: value},
                 code="BadDigest", status=400)
    expect_error(s3.head_object, Bucket=bucket, Key="new", code=None, status=404)

    s3.put_object(Bucket=bucket, Key="old", Body=b"original")
    expect_error(s3.put_object, Bucket=bucket, Key="old", Body=b"replacement", **{field: value},
                 code="BadDigest", status=400)
    get = s3.get_object(Bucket=bucket, Key="old")
    assert get["Body"].read() == b"original"
    assert get["ETag"] == etag_of(b"original")


# --------------------------------------------------------------------------------------
# Metadata and headers
# --------------------------------------------------------------------------------------


def test_metadata_and_standard_headers_roundtrip(s3, bucket):
    expires = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    s3.put_object(
        Bucket=bucket, Key="k", Body=b"payload",
        Metadata={"color": "blue", "multi-word-name": "Some Value 42"},
        ContentType="text/plain; charset=utf-8",
        ContentEncoding="gzip",
        ContentDisposition='attachment; filename="report.txt"',
        ContentLanguage="de-CH",
        CacheControl="max-age=3600, public",
        Expires=expires,
    )
    for resp in (s3.head_object(Bucket=bucket, Key="k"), s3.get_object(Bucket=bucket, Key="k")):
        assert resp["Metadata"] == {"color": "blue", "multi-word-name": "Some Value 42"}
        assert resp["ContentType"] == "text/plain; charset=utf-8"
        assert resp["ContentEncoding"] == "gzip"
        assert resp["ContentDisposition"] == 'attachment; filename="report.txt"'
        assert resp["ContentLanguage"] == "de-CH"
        assert resp["CacheControl"] == "max-age=3600, public"
        assert headers_of(resp)["expires"] == "Wed, 02 Jan 2030 03:04:05 GMT"
        assert headers_of(resp)["x-amz-meta-color"] == "blue"


def test_metadata_too_large(s3, bucket):
    # User-defined metadata is limited to 2 KB.
    expect_error(s3.put_object, Bucket=bucket, Key="k", Body=b"x", Metadata={"big": "v" * 3000},
                 code="MetadataTooLarge", status=400)


def test_unversioned_bucket_has_no_version_id_header(s3, bucket):
    responses = [
        s3.put_object(Bucket=bucket, Key="k", Body=b"data"),
        s3.get_object(Bucket=bucket, Key="k"),
        s3.head_object(Bucket=bucket, Key="k"),
        s3.copy_object(Bucket=bucket, Key="k2", CopySource={"Bucket": bucket, "Key": "k"}),
        s3.delete_object(Bucket=bucket, Key="k"),
    ]
    for resp in responses:
        assert "x-amz-version-id" not in headers_of(resp), headers_of(resp)
        assert "VersionId" not in resp


def test_responses_carry_request_id(s3, bucket):
    resp = s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    assert headers_of(resp).get("x-amz-request-id")


# --------------------------------------------------------------------------------------
# Error responses
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    ["NoSuchKey", "NoSuchBucket", "InvalidBucketName", "SignatureDoesNotMatch", "BadDigest"],
)
def test_error_response_format(raw, bucket, case):
    if case == "NoSuchKey":
        resp, status = raw("GET", key_path(bucket, "missing-key")), 404
    elif case == "NoSuchBucket":
        resp, status = raw("GET", key_path(unique_bucket_name(), "k")), 404
    elif case == "InvalidBucketName":
        resp, status = raw("PUT", "/Invalid_Bucket_Name"), 400
    elif case == "SignatureDoesNotMatch":
        resp, status = raw("GET", key_path(bucket, "k"), secret_key="wrong-secret"), 403
    else:
        resp, status = raw("PUT", key_path(bucket, "k"), body=b"abc",
                           headers={"Content-MD5": md5_b64(b"xyz")}), 400
    assert resp.status == status, resp
    request_id = resp.header("x-amz-request-id")
    assert request_id
    assert "xml" in (resp.header("Content-Type") or "")
    root = resp.xml()
    assert root.tag == "Error"
    assert root.findtext("Code") == case
    assert root.find("Message") is not None
    if root.find("RequestId") is not None:
        assert root.findtext("RequestId") == request_id


def test_head_error_has_request_id_and_no_body(raw, bucket):
    resp = raw("HEAD", key_path(bucket, "missing"))
    assert resp.status == 404
    assert resp.header("x-amz-request-id")
    assert resp.body == b""


# --------------------------------------------------------------------------------------
# GetObject / HeadObject: ranges and overrides
# --------------------------------------------------------------------------------------

RANGE_DATA = bytes(range(256)) * 4  # 1024 bytes


@pytest.fixture
def range_obj(s3, bucket):
    s3.put_object(Bucket=bucket, Key="r", Body=RANGE_DATA)
    return bucket


@pytest.mark.parametrize(
    "spec,start,end",
    [("bytes=0-9", 0, 9), ("bytes=100-199", 100, 199), ("bytes=1000-", 1000, 1023),
     ("bytes=-24", 1000, 1023), ("bytes=1020-5000", 1020, 1023), ("bytes=0-0", 0, 0),
     ("bytes=-5000", 0, 1023)],
)
def test_get_range(s3, range_obj, spec, start, end):
    resp = s3.get_object(Bucket=range_obj, Key="r", Range=spec)
    assert status_of(resp) == 206
    assert resp["ContentRange"] == f"bytes {start}-{end}/{len(RANGE_DATA)}"
    assert resp["ContentLength"] == end - start + 1
    assert resp["Body"].read() == RANGE_DATA[start:end + 1]
    assert resp["ETag"] == etag_of(RANGE_DATA)


def test_head_range(s3, range_obj):
    resp = s3.head_object(Bucket=range_obj, Key="r", Range="bytes=10-19")
    assert status_of(resp) == 206
    assert resp["ContentLength"] == 10
    assert resp["ContentRange"] == f"bytes 10-19/{len(RANGE_DATA)}"


@pytest.mark.parametrize("spec", ["bytes=1024-2000", "bytes=5000-"])
def test_get_range_not_satisfiable(s3, range_obj, spec):
    expect_error(s3.get_object, Bucket=range_obj, Key="r", Range=spec, code="InvalidRange", status=416)


@pytest.mark.parametrize("spec", ["bytes=abc", "lines=0-5", "nonsense", "bytes=5-2", "bytes=0-1,3-4"])
def test_get_invalid_range_syntax_is_ignored(s3, range_obj, spec):
    # S3 ignores a Range header it cannot parse and returns the whole object (the header is
    # signed: Tessera verifies the signature itself before dropping it).
    resp = s3.get_object(Bucket=range_obj, Key="r", Range=spec)
    assert status_of(resp) == 200
    assert resp["Body"].read() == RANGE_DATA
    head = s3.head_object(Bucket=range_obj, Key="r", Range=spec)
    assert status_of(head) == 200
    assert head["ContentLength"] == len(RANGE_DATA)


def test_get_invalid_range_presigned_and_part_number(server, range_obj):
    import requests
    signer = server.client(signature_version="s3v4")
    url = signer.generate_presigned_url("get_object", Params={"Bucket": range_obj, "Key": "r"}, ExpiresIn=300)
    verify = server.ca_bundle if server.tls else True
    r = requests.get(url, headers={"Range": "bytes=9-3"}, verify=verify, timeout=30)
    assert r.status_code == 200, r.text
    assert r.content == RANGE_DATA
    # The presigned signature is still checked: a tampered one is refused.
    bad = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    r = requests.get(bad[:-1], headers={"Range": "bytes=9-3"}, verify=verify, timeout=30)
    assert r.status_code == 403, r.text


def test_get_invalid_range_with_bad_signature_is_refused(raw, range_obj):
    from s3util import key_path
    hdrs = raw.sign_v4("GET", key_path(range_obj, "r"), headers={"Range": "bytes=5-2"})
    hdrs["Authorization"] = hdrs["Authorization"][:-4] + "0000"
    r = raw.send("GET", key_path(range_obj, "r"), hdrs)
    assert r.status == 403, r.body
    assert r.error_code == "SignatureDoesNotMatch"
    hdrs = raw.sign_v4("GET", key_path(range_obj, "r"), headers={"Range": "bytes=5-2"},
                       secret_key="not-the-secret")
    r = raw.send("GET", key_path(range_obj, "r"), hdrs)
    assert r.status == 403, r.body


def test_get_response_header_overrides(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"override me", ContentType="application/octet-stream")
    resp = s3.get_object(
        Bucket=bucket, Key="k",
        ResponseContentType="text/x-custom",
        ResponseContentDisposition='attachment; filename="x.bin"',
        ResponseCacheControl="no-cache",
        ResponseContentLanguage="fr",
        ResponseContentEncoding="identity",
        ResponseExpires=datetime.datetime(2031, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc),
    )
    assert status_of(resp) == 200
    assert resp["ContentType"] == "text/x-custom"
    assert resp["ContentDisposition"] == 'attachment; filename="x.bin"'
    assert resp["CacheControl"] == "no-cache"
    assert resp["ContentLanguage"] == "fr"
    assert resp["ContentEncoding"] == "identity"
    assert headers_of(resp)["expires"] == "Tue, 06 May 2031 07:08:09 GMT"
    assert resp["Body"].read() == b"override me"
    # The stored object is unchanged.
    assert s3.head_object(Bucket=bucket, Key="k")["ContentType"] == "application/octet-stream"


def test_get_missing_key(s3, bucket):
    err = expect_error(s3.get_object, Bucket=bucket, Key="nope", code="NoSuchKey", status=404)
    assert headers_of(err).get("x-amz-request-id")


def test_head_missing_key(s3, bucket):
    expect_error(s3.head_object, Bucket=bucket, Key="nope", code=None, status=404)


def test_content_encoding_kept_verbatim(s3, bucket):
    s3.put_object(Bucket=bucket, Key="enc", Body=b"x", ContentEncoding="deflate, gzip")
    assert s3.head_object(Bucket=bucket, Key="enc")["ContentEncoding"] == "deflate, gzip"
