"""Server-side encryption at rest: SSE-S3 (`x-amz-server-side-encryption: AES256`, or the bucket
default), SSE-C (customer keys, over TLS), on PUT, GET (ranges), HEAD, multipart uploads, part
copies and CopyObject; the bytes on disk are never the plaintext."""

import base64
import hashlib
import os
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import s3util

KEY = b"0123456789abcdef0123456789abcdef"
OTHER = b"fedcba9876543210fedcba9876543210"
SSE_C = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": KEY}
WRONG = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": OTHER}
COPY_SSE_C = {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": KEY}
KEY_MD5 = base64.b64encode(hashlib.md5(KEY).digest()).decode()
MIN_PART = 64 * 1024


def error_of(e: pytest.ExceptionInfo) -> tuple[str, int]:
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def data(n: int) -> bytes:
    return os.urandom(n)


def md5_hex(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def on_disk(data_dir: Path, needle: bytes) -> bool:
    """Whether any file under the data dir holds `needle`."""
    for path in Path(data_dir).rglob("*"):
        if path.is_file():
            try:
                if needle in path.read_bytes():
                    return True
            except OSError:
                continue
    return False


@pytest.fixture
def tls_srv(make_server):
    """A TLS server with small parts, for SSE-C multipart uploads."""
    return make_server("--min-part-size", str(MIN_PART), tls=True)


@pytest.fixture
def c3(tls_srv):
    return tls_srv.client()


@pytest.fixture
def cbucket(c3):
    name = s3util.unique_bucket_name()
    c3.create_bucket(Bucket=name)
    return name


# -- SSE-S3 ------------------------------------------------------------------------------------


def test_sse_s3_put_get_head_range(s3, bucket):
    body = data(200_000)
    put = s3.put_object(Bucket=bucket, Key="k", Body=body, ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    assert put["ETag"] == f'"{md5_hex(body)}"'  # S3: SSE-S3 single-PUT ETag is the MD5
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["ServerSideEncryption"] == "AES256"
    assert got["Body"].read() == body
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentLength"] == len(body)
    for first, last in [(0, 0), (70_000, 140_000), (65_535, 65_536), (199_000, 199_999)]:
        r = s3.get_object(Bucket=bucket, Key="k", Range=f"bytes={first}-{last}")
        assert r["Body"].read() == body[first:last + 1]
        assert r["ContentRange"] == f"bytes {first}-{last}/{len(body)}"
    r = s3.get_object(Bucket=bucket, Key="k", Range="bytes=-10")
    assert r["Body"].read() == body[-10:]
    # An empty object.
    s3.put_object(Bucket=bucket, Key="empty", Body=b"", ServerSideEncryption="AES256")
    assert s3.get_object(Bucket=bucket, Key="empty")["Body"].read() == b""


def test_sse_s3_multipart(make_server):
    srv = make_server("--min-part-size", str(MIN_PART))
    s3 = srv.client()
    bucket = s3util.unique_bucket_name()
    s3.create_bucket(Bucket=bucket)
    mp = s3.create_multipart_upload(Bucket=bucket, Key="mp", ServerSideEncryption="AES256")
    assert mp["ServerSideEncryption"] == "AES256"
    parts, chunks = [], [data(MIN_PART + 1000), data(5000)]
    for n, chunk in enumerate(chunks, 1):
        r = s3.upload_part(Bucket=bucket, Key="mp", UploadId=mp["UploadId"], PartNumber=n, Body=chunk)
        assert r["ServerSideEncryption"] == "AES256"
        assert r["ETag"] == f'"{md5_hex(chunk)}"'
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=mp["UploadId"],
                                        MultipartUpload={"Parts": parts})
    assert done["ServerSideEncryption"] == "AES256"
    assert done["ETag"].strip('"').endswith("-2")
    whole = b"".join(chunks)
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["ServerSideEncryption"] == "AES256"
    assert got["Body"].read() == whole
    # A range across the part boundary, and a part by number.
    a, b = MIN_PART + 500, MIN_PART + 2000
    assert s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={a}-{b}")["Body"].read() == whole[a:b + 1]
    assert s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)["Body"].read() == chunks[1]


def test_bucket_default_applied(s3, bucket):
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    body = data(1000)
    put = s3.put_object(Bucket=bucket, Key="k", Body=body)
    assert put["ServerSideEncryption"] == "AES256"
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == body
    mp = s3.create_multipart_upload(Bucket=bucket, Key="mp")
    assert mp["ServerSideEncryption"] == "AES256"
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=mp["UploadId"])
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k"})
    assert s3.head_object(Bucket=bucket, Key="copy")["ServerSideEncryption"] == "AES256"
    # Without a default, a plain PUT stays plain.
    s3.delete_bucket_encryption(Bucket=bucket)
    put = s3.put_object(Bucket=bucket, Key="plain", Body=body)
    assert "ServerSideEncryption" not in put
    assert "ServerSideEncryption" not in s3.head_object(Bucket=bucket, Key="plain")


def test_bytes_on_disk_are_not_the_plaintext(make_server):
    srv = make_server("--min-part-size", str(MIN_PART), "--allow-sse-c-over-http")
    s3 = srv.client()
    bucket = s3util.unique_bucket_name()
    s3.create_bucket(Bucket=bucket)
    plain, managed, customer = data(100_000), data(100_000), data(100_000)
    s3.put_object(Bucket=bucket, Key="plain", Body=plain)
    s3.put_object(Bucket=bucket, Key="s3", Body=managed, ServerSideEncryption="AES256")
    s3.put_object(Bucket=bucket, Key="c", Body=customer, **SSE_C)
    # The scan finds a plain object's bytes, so it would find the others' too.
    assert on_disk(srv.data_dir, plain[50_000:50_064])
    for body in (managed, customer):
        for at in (0, 50_000, 99_936):
            assert not on_disk(srv.data_dir, body[at:at + 64])
    assert s3.get_object(Bucket=bucket, Key="s3")["Body"].read() == managed
    assert s3.get_object(Bucket=bucket, Key="c", **SSE_C)["Body"].read() == customer
    # The key survives a restart (the master key file).
    srv.restart()
    s3 = srv.client()
    assert s3.get_object(Bucket=bucket, Key="s3")["Body"].read() == managed


# -- SSE-C -------------------------------------------------------------------------------------


def test_sse_c_put_get_head(c3, cbucket):
    body = data(150_000)
    put = c3.put_object(Bucket=cbucket, Key="k", Body=body, **SSE_C)
    assert put["SSECustomerAlgorithm"] == "AES256"
    assert put["SSECustomerKeyMD5"] == KEY_MD5
    assert "ServerSideEncryption" not in put
    # Not an MD5 of the plaintext (S3: SSE-C ETags are not), but stable.
    assert put["ETag"] != f'"{md5_hex(body)}"'
    got = c3.get_object(Bucket=cbucket, Key="k", **SSE_C)
    assert got["Body"].read() == body
    assert got["SSECustomerAlgorithm"] == "AES256"
    assert got["SSECustomerKeyMD5"] == KEY_MD5
    assert got["ETag"] == put["ETag"]
    head = c3.head_object(Bucket=cbucket, Key="k", **SSE_C)
    assert head["ContentLength"] == len(body)
    assert head["SSECustomerKeyMD5"] == KEY_MD5
    # Missing key: 400; wrong key: 403, on GET and HEAD alike.
    with pytest.raises(ClientError) as e:
        c3.get_object(Bucket=cbucket, Key="k")
    assert error_of(e) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as e:
        c3.head_object(Bucket=cbucket, Key="k")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as e:
        c3.get_object(Bucket=cbucket, Key="k", **WRONG)
    assert error_of(e) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        c3.head_object(Bucket=cbucket, Key="k", **WRONG)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # A key for a plain object: 400.
    c3.put_object(Bucket=cbucket, Key="plain", Body=b"plain")
    with pytest.raises(ClientError) as e:
        c3.get_object(Bucket=cbucket, Key="plain", **SSE_C)
    assert error_of(e) == ("InvalidRequest", 400)
    # SSE-C and SSE-S3 together: 400.
    with pytest.raises(ClientError) as e:
        c3.put_object(Bucket=cbucket, Key="both", Body=b"x", ServerSideEncryption="AES256", **SSE_C)
    assert error_of(e) == ("InvalidArgument", 400)


def test_sse_c_ranged_get(c3, cbucket):
    body = data(300_000)
    c3.put_object(Bucket=cbucket, Key="k", Body=body, **SSE_C)
    for first, last in [(0, 9), (65_530, 65_545), (100_000, 250_000), (299_990, 299_999)]:
        r = c3.get_object(Bucket=cbucket, Key="k", Range=f"bytes={first}-{last}", **SSE_C)
        assert r["Body"].read() == body[first:last + 1]
    r = c3.get_object(Bucket=cbucket, Key="k", PartNumber=1, **SSE_C)
    assert r["Body"].read() == body


def test_sse_c_over_http_refused_without_the_flag(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", **SSE_C)
    code, status = error_of(e)
    assert (code, status) == ("InvalidRequest", 400)
    assert "secure connection" in e.value.response["Error"]["Message"]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="k")


def test_sse_c_over_http_with_the_flag(make_server):
    srv = make_server("--allow-sse-c-over-http")
    s3 = srv.client()
    bucket = s3util.unique_bucket_name()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"secret", **SSE_C)
    assert s3.get_object(Bucket=bucket, Key="k", **SSE_C)["Body"].read() == b"secret"


def test_sse_c_multipart_end_to_end(c3, cbucket):
    src = data(MIN_PART + 3000)
    c3.put_object(Bucket=cbucket, Key="src", Body=src, **SSE_C)
    mp = c3.create_multipart_upload(Bucket=cbucket, Key="mp", **SSE_C)
    assert mp["SSECustomerAlgorithm"] == "AES256"
    assert mp["SSECustomerKeyMD5"] == KEY_MD5
    uid = mp["UploadId"]
    part1 = data(MIN_PART + 10)
    # Without the key, or with another: refused.
    with pytest.raises(ClientError) as e:
        c3.upload_part(Bucket=cbucket, Key="mp", UploadId=uid, PartNumber=1, Body=part1)
    assert error_of(e) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as e:
        c3.upload_part(Bucket=cbucket, Key="mp", UploadId=uid, PartNumber=1, Body=part1, **WRONG)
    assert error_of(e)[1] in (400, 403)
    r1 = c3.upload_part(Bucket=cbucket, Key="mp", UploadId=uid, PartNumber=1, Body=part1, **SSE_C)
    assert r1["SSECustomerKeyMD5"] == KEY_MD5
    # Not the plaintext's MD5; the same for the part sent again (a retry keeps its ETag).
    assert r1["ETag"].strip('"') != md5_hex(part1)
    again = c3.upload_part(Bucket=cbucket, Key="mp", UploadId=uid, PartNumber=1, Body=part1, **SSE_C)
    assert again["ETag"] == r1["ETag"]
    # UploadPartCopy from an SSE-C source: its key, and the upload's.
    with pytest.raises(ClientError) as e:
        c3.upload_part_copy(Bucket=cbucket, Key="mp", UploadId=uid, PartNumber=2,
                            CopySource={"Bucket": cbucket, "Key": "src"}, **SSE_C)
    assert error_of(e) == ("InvalidRequest", 400)
    r2 = c3.upload_part_copy(Bucket=cbucket, Key="mp", UploadId=uid, PartNumber=2,
                             CopySource={"Bucket": cbucket, "Key": "src"},
                             CopySourceRange="bytes=10-60009", **SSE_C, **COPY_SSE_C)
    parts = [{"PartNumber": 1, "ETag": r1["ETag"]},
             {"PartNumber": 2, "ETag": r2["CopyPartResult"]["ETag"]}]
    # The Complete needs the upload's key (AWS: for uploads with a checksum, i.e. all of them).
    with pytest.raises(ClientError) as e:
        c3.complete_multipart_upload(Bucket=cbucket, Key="mp", UploadId=uid,
                                     MultipartUpload={"Parts": parts}, **WRONG)
    assert error_of(e)[1] in (400, 403)
    with pytest.raises(ClientError) as e:
        c3.complete_multipart_upload(Bucket=cbucket, Key="mp", UploadId=uid,
                                     MultipartUpload={"Parts": parts})
    assert error_of(e) == ("InvalidRequest", 400)
    done = c3.complete_multipart_upload(Bucket=cbucket, Key="mp", UploadId=uid,
                                        MultipartUpload={"Parts": parts}, **SSE_C)
    assert done["ETag"].strip('"').endswith("-2")
    echoed = done["ResponseMetadata"]["HTTPHeaders"]
    assert echoed["x-amz-server-side-encryption-customer-algorithm"] == "AES256"
    assert echoed["x-amz-server-side-encryption-customer-key-md5"] == KEY_MD5
    whole = part1 + src[10:60010]
    got = c3.get_object(Bucket=cbucket, Key="mp", **SSE_C)
    assert got["Body"].read() == whole
    assert got["SSECustomerKeyMD5"] == KEY_MD5
    a, b = MIN_PART, MIN_PART + 100
    assert c3.get_object(Bucket=cbucket, Key="mp", Range=f"bytes={a}-{b}", **SSE_C)["Body"].read() == whole[a:b + 1]
    assert c3.get_object(Bucket=cbucket, Key="mp", PartNumber=2, **SSE_C)["Body"].read() == src[10:60010]
    with pytest.raises(ClientError) as e:
        c3.get_object(Bucket=cbucket, Key="mp")
    assert error_of(e) == ("InvalidRequest", 400)


def test_aws_cli_multipart_upload_with_sse_c(aws_tls, tls_server, tmp_path):
    """aws s3 cp --sse-c of a file above the multipart threshold: the CLI sends the key with
    every part and with the Complete, and reads the object back with it."""
    s3 = tls_server.client()
    bucket = s3util.unique_bucket_name()
    s3.create_bucket(Bucket=bucket)
    src = tmp_path / "big.bin"
    body = data(12 * 1024 * 1024)
    src.write_bytes(body)
    key_file = tmp_path / "key.bin"
    key_file.write_bytes(KEY)
    sse = ["--sse-c", "AES256", "--sse-c-key", f"fileb://{key_file}"]
    try:
        aws_tls("s3", "cp", str(src), f"s3://{bucket}/big.bin", *sse)
        head = s3.head_object(Bucket=bucket, Key="big.bin", **SSE_C)
        assert head["ETag"].strip('"').endswith("-2")
        out = tmp_path / "back.bin"
        aws_tls("s3", "cp", f"s3://{bucket}/big.bin", str(out), *sse)
        assert out.read_bytes() == body
    finally:
        s3util.empty_and_delete_bucket(s3, bucket)


def test_copy_between_sse_c_sse_s3_and_plain(c3, cbucket):
    body = data(130_000)
    c3.put_object(Bucket=cbucket, Key="c", Body=body, **SSE_C)
    src = {"Bucket": cbucket, "Key": "c"}
    # Without the source key: refused.
    with pytest.raises(ClientError) as e:
        c3.copy_object(Bucket=cbucket, Key="x", CopySource=src)
    assert error_of(e) == ("InvalidRequest", 400)
    # SSE-C -> SSE-S3: the plaintext's MD5 as ETag again.
    r = c3.copy_object(Bucket=cbucket, Key="s3", CopySource=src, ServerSideEncryption="AES256", **COPY_SSE_C)
    assert r["ServerSideEncryption"] == "AES256"
    assert r["CopyObjectResult"]["ETag"] == f'"{md5_hex(body)}"'
    assert c3.get_object(Bucket=cbucket, Key="s3")["Body"].read() == body
    # SSE-C -> plain.
    c3.copy_object(Bucket=cbucket, Key="plain", CopySource=src, **COPY_SSE_C)
    assert "ServerSideEncryption" not in c3.head_object(Bucket=cbucket, Key="plain")
    assert c3.get_object(Bucket=cbucket, Key="plain")["Body"].read() == body
    # SSE-S3 -> SSE-C under another key.
    other = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": OTHER}
    r = c3.copy_object(Bucket=cbucket, Key="c2", CopySource={"Bucket": cbucket, "Key": "s3"}, **other)
    assert r["SSECustomerAlgorithm"] == "AES256"
    assert c3.get_object(Bucket=cbucket, Key="c2", **other)["Body"].read() == body
    with pytest.raises(ClientError) as e:
        c3.get_object(Bucket=cbucket, Key="c2", **SSE_C)
    assert error_of(e) == ("AccessDenied", 403)
    # plain -> SSE-C, and SSE-C onto itself with a new key (a change S3 allows).
    c3.copy_object(Bucket=cbucket, Key="c3", CopySource={"Bucket": cbucket, "Key": "plain"}, **SSE_C)
    assert c3.get_object(Bucket=cbucket, Key="c3", **SSE_C)["Body"].read() == body
    c3.copy_object(Bucket=cbucket, Key="c", CopySource=src, **COPY_SSE_C, **other)
    assert c3.get_object(Bucket=cbucket, Key="c", **other)["Body"].read() == body


def test_sse_c_object_attributes_need_the_key(c3, cbucket):
    c3.put_object(Bucket=cbucket, Key="k", Body=b"secret", **SSE_C)
    with pytest.raises(ClientError) as e:
        c3.get_object_attributes(Bucket=cbucket, Key="k", ObjectAttributes=["ObjectSize"])
    assert error_of(e) == ("InvalidRequest", 400)
    # botocore does not encode the key for this operation: send the headers' form.
    sse_c = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": base64.b64encode(KEY).decode(),
             "SSECustomerKeyMD5": KEY_MD5}
    r = c3.get_object_attributes(Bucket=cbucket, Key="k", ObjectAttributes=["ObjectSize"], **sse_c)
    assert r["ObjectSize"] == 6


def test_sse_header_on_a_read_is_refused(raw, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="AES256")
    r = raw.request("GET", s3util.key_path(bucket, "k"), headers={"x-amz-server-side-encryption": "AES256"})
    assert r.status == 400, r.body
    assert r.error_code == "InvalidArgument"
