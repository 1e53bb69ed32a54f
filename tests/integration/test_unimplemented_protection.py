"""Headers that promise protection Tessera does not provide (an SSE-KMS encryption context) are
refused with 501 NotImplemented on every operation that accepts them, never silently ignored;
CopyObject honours If-None-Match / If-Match atomically. SSE-S3 and SSE-C (test_sse.py; over
plain HTTP refused with 400, as S3), SSE-KMS with local keys (test_sse_kms.py) and Object Lock
(test_object_lock.py) are implemented."""

import base64
import hashlib

import pytest

from conftest import RawResponse
from s3util import key_path

KEY = b"0123456789abcdef0123456789abcdef"
SSE_C = {
    "x-amz-server-side-encryption-customer-algorithm": "AES256",
    "x-amz-server-side-encryption-customer-key": base64.b64encode(KEY).decode(),
    "x-amz-server-side-encryption-customer-key-md5": base64.b64encode(hashlib.md5(KEY).digest()).decode(),
}
COPY_SSE_C = {k.replace("x-amz-", "x-amz-copy-source-"): v for k, v in SSE_C.items()}
CONTEXT = base64.b64encode(b'{"app":"x"}').decode()
PROTECTION = {
    "sse-kms-context": {"x-amz-server-side-encryption": "aws:kms",
                        "x-amz-server-side-encryption-context": CONTEXT},
    "sse-kms-dsse-context": {"x-amz-server-side-encryption": "aws:kms:dsse",
                             "x-amz-server-side-encryption-context": CONTEXT},
}


def _assert_501(r: RawResponse):
    assert r.status == 501, r.body
    assert r.error_code == "NotImplemented", r.body


def _absent(s3, bucket, key):
    return "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix=key)


@pytest.mark.parametrize("feature", sorted(PROTECTION))
def test_put_object_refused(raw, s3, bucket, feature):
    r = raw.request("PUT", key_path(bucket, "k"), headers=PROTECTION[feature], body=b"secret")
    _assert_501(r)
    assert _absent(s3, bucket, "k")


@pytest.mark.parametrize("feature", sorted(PROTECTION))
def test_create_multipart_upload_refused(raw, s3, bucket, feature):
    r = raw.request("POST", key_path(bucket, "mp"), query={"uploads": None}, headers=PROTECTION[feature])
    _assert_501(r)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


@pytest.mark.parametrize("feature", sorted(PROTECTION))
def test_copy_object_refused(raw, s3, bucket, feature):
    s3.put_object(Bucket=bucket, Key="src", Body=b"plain")
    hdrs = {"x-amz-copy-source": f"/{bucket}/src", **PROTECTION[feature]}
    _assert_501(raw.request("PUT", key_path(bucket, "dst"), headers=hdrs))
    assert _absent(s3, bucket, "dst")


def test_sse_c_over_plain_http_is_a_400_not_a_501(raw, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"plain")
    r = raw.request("GET", key_path(bucket, "k"), headers=SSE_C)
    assert r.status == 400, r.body
    assert r.error_code == "InvalidRequest"


def test_boto3_sse_kms_context_refused(s3, bucket):
    from botocore.exceptions import ClientError
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms",
                      SSEKMSEncryptionContext=CONTEXT)
    assert e.value.response["Error"]["Code"] == "NotImplemented"
    assert _absent(s3, bucket, "k")


# -- CopyObject conditional writes ------------------------------------------------------------

def _copy(raw, bucket, src, dst, **cond):
    hdrs = {"x-amz-copy-source": f"/{bucket}/{src}"}
    hdrs.update({k.replace("_", "-"): v for k, v in cond.items()})
    return raw.request("PUT", key_path(bucket, dst), headers=hdrs)


def test_copy_if_none_match_star(raw, s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"new")
    r = _copy(raw, bucket, "src", "dst", If_None_Match="*")
    assert r.status == 200, r.body
    s3.put_object(Bucket=bucket, Key="dst", Body=b"existing")
    r = _copy(raw, bucket, "src", "dst", If_None_Match="*")
    assert r.status == 412, r.body
    assert r.error_code == "PreconditionFailed"
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"existing"


def test_copy_if_match(raw, s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"new")
    etag = s3.put_object(Bucket=bucket, Key="dst", Body=b"old")["ETag"]
    r = _copy(raw, bucket, "src", "dst", If_Match='"0123456789abcdef0123456789abcdef"')
    assert r.status == 412, r.body
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"old"
    r = _copy(raw, bucket, "src", "dst", If_Match=etag)
    assert r.status == 200, r.body
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"new"
    r = _copy(raw, bucket, "src", "missing", If_Match=etag)
    assert r.status == 404, r.body
    assert r.error_code == "NoSuchKey"
    assert _absent(s3, bucket, "missing")


def test_racing_copies_if_none_match_exactly_one_wins(raw, s3, bucket):
    from concurrent.futures import ThreadPoolExecutor
    for i in range(8):
        s3.put_object(Bucket=bucket, Key=f"src{i}", Body=f"body{i}".encode())
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: _copy(raw, bucket, f"src{i}", "dst", If_None_Match="*"), range(8)))
    statuses = sorted(r.status for r in results)
    assert statuses.count(200) == 1, statuses
    assert statuses.count(412) == 7, statuses
    winner = [i for i, r in enumerate(results) if r.status == 200][0]
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == f"body{winner}".encode()
