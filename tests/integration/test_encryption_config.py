"""Bucket default encryption (Put/Get/DeleteBucketEncryption) with boto3: SSE-S3 (AES256) is
kept and reported with BucketKeyEnabled, KMS is refused as not implemented, a bucket without
a configuration answers 404 ServerSideEncryptionConfigurationNotFoundError, and only the
bucket's account may read or change it.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

import s3util
from conftest import Server
from test_accounts import error_of, new_account


@pytest.fixture(scope="module")
def srv(tessera_bin, tmp_path_factory):
    s = Server(tessera_bin, tmp_path_factory.mktemp("encryption-config"), name="encryption-config")
    yield s
    s.close()


@pytest.fixture
def owned(srv):
    """A fresh bucket of the root account and its client; emptied and deleted after."""
    s3 = srv.client()
    name = s3util.unique_bucket_name()
    s3.create_bucket(Bucket=name)
    yield s3, name
    s3util.empty_and_delete_bucket(s3, name)


def config(algorithm: str = "AES256", bucket_key: bool | None = None, kms_key: str | None = None) -> dict:
    default = {"SSEAlgorithm": algorithm}
    if kms_key is not None:
        default["KMSMasterKeyID"] = kms_key
    rule = {"ApplyServerSideEncryptionByDefault": default}
    if bucket_key is not None:
        rule["BucketKeyEnabled"] = bucket_key
    return {"Rules": [rule]}


def rules_of(s3, bucket: str) -> list:
    return s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]


def test_no_configuration_is_404(owned):
    s3, bucket = owned
    with pytest.raises(ClientError) as e:
        s3.get_bucket_encryption(Bucket=bucket)
    assert error_of(e) == ("ServerSideEncryptionConfigurationNotFoundError", 404)


def test_put_get_delete(owned):
    s3, bucket = owned
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=config())
    rules = rules_of(s3, bucket)
    assert rules == [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                      "BucketKeyEnabled": False}]

    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=config(bucket_key=True))
    assert rules_of(s3, bucket)[0]["BucketKeyEnabled"] is True

    s3.delete_bucket_encryption(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_encryption(Bucket=bucket)
    assert error_of(e) == ("ServerSideEncryptionConfigurationNotFoundError", 404)
    # Deleting what is not there succeeds, as on S3.
    s3.delete_bucket_encryption(Bucket=bucket)


def test_kms_defaults_round_trip(owned):
    s3, bucket = owned
    for algorithm, key in (("aws:kms", None), ("aws:kms", "arn:aws:kms:us-east-1:1:key/x"),
                           ("aws:kms:dsse", "x")):
        s3.put_bucket_encryption(Bucket=bucket,
                                 ServerSideEncryptionConfiguration=config(algorithm, True, key))
        rule = rules_of(s3, bucket)[0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == algorithm
        assert rule["ApplyServerSideEncryptionByDefault"].get("KMSMasterKeyID") == key
        assert rule["BucketKeyEnabled"] is True


def test_invalid_configurations(owned):
    s3, bucket = owned
    with pytest.raises(ClientError) as e:
        s3.put_bucket_encryption(Bucket=bucket,
                                 ServerSideEncryptionConfiguration=config(kms_key="arn:aws:kms:us-east-1:1:key/x"))
    assert error_of(e) == ("InvalidArgument", 400)
    two = {"Rules": config()["Rules"] * 2}
    with pytest.raises(ClientError) as e:
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=two)
    assert error_of(e) == ("MalformedXML", 400)
    with pytest.raises(ClientError) as e:
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=config("AES128"))
    assert error_of(e) == ("MalformedXML", 400)
    # Nothing was stored by the refused requests.
    with pytest.raises(ClientError) as e:
        s3.get_bucket_encryption(Bucket=bucket)
    assert error_of(e)[1] == 404


def test_missing_bucket(srv):
    s3 = srv.client()
    with pytest.raises(ClientError) as e:
        s3.get_bucket_encryption(Bucket=s3util.unique_bucket_name())
    assert error_of(e) == ("NoSuchBucket", 404)


def test_other_accounts_are_denied(srv, owned):
    s3, bucket = owned
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=config())
    _, other = new_account(srv)
    for call in (
        lambda: other.get_bucket_encryption(Bucket=bucket),
        lambda: other.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=config()),
        lambda: other.delete_bucket_encryption(Bucket=bucket),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e) == ("AccessDenied", 403)
    assert rules_of(s3, bucket)[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
