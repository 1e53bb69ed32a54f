"""SSE-KMS with local named keys (`--kms-key NAME`): PUT / GET / HEAD, multipart, copies, the
bucket default, key ids as name, alias or ARN, `aws/s3` when none is named, the errors, and the
bytes on disk; keys derive from the master key, so objects stay readable after a restart
without the option."""

import os

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import s3util
from conftest import REGION

MIN_PART = 64 * 1024


def error_of(e: pytest.ExceptionInfo) -> tuple[str, int]:
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def kms_srv(make_server):
    return make_server("--min-part-size", str(MIN_PART), "--kms-key", "testkey-1", "--kms-key", "testkey-2")


@pytest.fixture
def env(kms_srv):
    s3 = kms_srv.client()
    sts = boto3.session.Session().client(
        "sts", endpoint_url=kms_srv.endpoint, region_name=REGION,
        aws_access_key_id=kms_srv.access_key, aws_secret_access_key=kms_srv.secret_key,
        config=Config(retries={"max_attempts": 1}))
    account = sts.get_caller_identity()["Account"]
    bucket = s3util.unique_bucket_name()
    s3.create_bucket(Bucket=bucket)
    return s3, bucket, account


def arn(account: str, name: str) -> str:
    return f"arn:aws:kms:{REGION}:{account}:key/{name}"


def test_put_get_head_with_a_named_key(env):
    s3, bucket, account = env
    body = os.urandom(300_000)
    put = s3.put_object(Bucket=bucket, Key="k", Body=body, ServerSideEncryption="aws:kms",
                        SSEKMSKeyId="testkey-1")
    assert put["ServerSideEncryption"] == "aws:kms"
    assert put["SSEKMSKeyId"] == arn(account, "testkey-1")
    for read in (s3.get_object(Bucket=bucket, Key="k"), s3.head_object(Bucket=bucket, Key="k")):
        assert read["ServerSideEncryption"] == "aws:kms"
        assert read["SSEKMSKeyId"] == arn(account, "testkey-1")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == body
    ranged = s3.get_object(Bucket=bucket, Key="k", Range="bytes=100000-200009")["Body"].read()
    assert ranged == body[100_000:200_010]


def test_key_id_forms_default_key_and_bucket_key(env):
    s3, bucket, account = env
    for i, key_id in enumerate(["alias/testkey-2", arn(account, "testkey-2"),
                                f"arn:aws:kms:{REGION}:{account}:alias/testkey-2"]):
        r = s3.put_object(Bucket=bucket, Key=f"f{i}", Body=b"x", ServerSideEncryption="aws:kms",
                          SSEKMSKeyId=key_id)
        assert r["SSEKMSKeyId"] == arn(account, "testkey-2"), key_id
    # No key id: the account's aws/s3 key, as AWS's managed key.
    r = s3.put_object(Bucket=bucket, Key="default", Body=b"x", ServerSideEncryption="aws:kms",
                      BucketKeyEnabled=True)
    assert r["SSEKMSKeyId"] == f"arn:aws:kms:{REGION}:{account}:alias/aws/s3"
    assert r["BucketKeyEnabled"] is True
    head = s3.head_object(Bucket=bucket, Key="default")
    assert head["BucketKeyEnabled"] is True
    r = s3.put_object(Bucket=bucket, Key="dsse", Body=b"x", ServerSideEncryption="aws:kms:dsse",
                      SSEKMSKeyId="testkey-1")
    assert r["ServerSideEncryption"] == "aws:kms:dsse"
    assert s3.get_object(Bucket=bucket, Key="dsse")["Body"].read() == b"x"


def test_errors(env):
    s3, bucket, account = env
    for key_id in ("testkey-3", f"arn:aws:kms:{REGION}:999999999999:key/testkey-1",
                   f"arn:aws:kms:eu-west-1:{account}:key/testkey-1"):
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms",
                          SSEKMSKeyId=key_id)
        assert error_of(e) == ("KMS.NotFoundException", 400), key_id
    # A key id needs `x-amz-server-side-encryption: aws:kms` (ceph/s3-tests sse_kms_not_declared).
    for extra in ({}, {"ServerSideEncryption": "AES256"}):
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=bucket, Key="k", Body=b"x", SSEKMSKeyId="testkey-1", **extra)
        assert error_of(e) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as e:
        s3.create_multipart_upload(Bucket=bucket, Key="k", ServerSideEncryption="aws:kms",
                                   SSEKMSKeyId="nope")
    assert error_of(e) == ("KMS.NotFoundException", 400)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    # SSE-C headers on a read of an SSE-KMS object are refused, as for SSE-S3.
    s3.put_object(Bucket=bucket, Key="kms", Body=b"x", ServerSideEncryption="aws:kms")
    raw_key = b"0123456789abcdef0123456789abcdef"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="kms", SSECustomerAlgorithm="AES256", SSECustomerKey=raw_key)
    assert error_of(e)[1] == 400


def test_multipart_and_part_copy(env):
    s3, bucket, account = env
    parts_data = [os.urandom(MIN_PART + 100), os.urandom(MIN_PART), os.urandom(1000)]
    s3.put_object(Bucket=bucket, Key="src", Body=parts_data[1], ServerSideEncryption="aws:kms",
                  SSEKMSKeyId="testkey-2")
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ServerSideEncryption="aws:kms",
                                    SSEKMSKeyId="testkey-1")
    assert up["SSEKMSKeyId"] == arn(account, "testkey-1")
    uid = up["UploadId"]
    p1 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=parts_data[0])
    assert p1["ServerSideEncryption"] == "aws:kms"
    assert p1["SSEKMSKeyId"] == arn(account, "testkey-1")
    p2 = s3.upload_part_copy(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=2,
                             CopySource={"Bucket": bucket, "Key": "src"})
    p3 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=3, Body=parts_data[2])
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": p1["ETag"]},
        {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]},
        {"PartNumber": 3, "ETag": p3["ETag"]}]})
    assert done["ServerSideEncryption"] == "aws:kms"
    assert done["SSEKMSKeyId"] == arn(account, "testkey-1")
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"".join(parts_data)


def test_copies_and_the_bucket_default(env):
    s3, bucket, account = env
    s3.put_object(Bucket=bucket, Key="plain", Body=b"plain")
    r = s3.copy_object(Bucket=bucket, Key="to-kms", CopySource={"Bucket": bucket, "Key": "plain"},
                       ServerSideEncryption="aws:kms", SSEKMSKeyId="testkey-1")
    assert r["SSEKMSKeyId"] == arn(account, "testkey-1")
    r = s3.copy_object(Bucket=bucket, Key="back", CopySource={"Bucket": bucket, "Key": "to-kms"})
    assert "SSEKMSKeyId" not in r
    assert s3.get_object(Bucket=bucket, Key="back")["Body"].read() == b"plain"
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "testkey-2"},
        "BucketKeyEnabled": True}]})
    r = s3.put_object(Bucket=bucket, Key="defaulted", Body=b"d")
    assert (r["ServerSideEncryption"], r["SSEKMSKeyId"]) == ("aws:kms", arn(account, "testkey-2"))
    assert r["BucketKeyEnabled"] is True
    # The request's own choice wins over the default.
    r = s3.put_object(Bucket=bucket, Key="own", Body=b"o", ServerSideEncryption="AES256")
    assert r["ServerSideEncryption"] == "AES256" and "SSEKMSKeyId" not in r


def test_bytes_on_disk_and_a_restart_without_the_option(kms_srv, env):
    s3, bucket, account = env
    body = os.urandom(200_000)
    s3.put_object(Bucket=bucket, Key="k", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId="testkey-1")
    for path in kms_srv.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for at in (0, 100_000, 199_936):
                assert body[at:at + 64] not in data, path
    # Keys derive from the master key: dropping the name stops new writes, not reads.
    kms_srv.extra_args = ["--min-part-size", str(MIN_PART)]
    kms_srv.restart()
    s3 = kms_srv.client()
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == body
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k2", Body=b"x", ServerSideEncryption="aws:kms",
                      SSEKMSKeyId="testkey-1")
    assert error_of(e) == ("KMS.NotFoundException", 400)
