"""CopyObject: metadata directives, copy onto itself, copy-source preconditions, key encoding."""

import datetime

import pytest

from s3util import etag_of, expect_error, headers_of, status_of, unique_bucket_name

HOUR = datetime.timedelta(hours=1)


@pytest.fixture
def src(s3, bucket):
    data = b"source object body"
    s3.put_object(
        Bucket=bucket, Key="src", Body=data,
        Metadata={"origin": "source", "n": "1"},
        ContentType="text/x-source",
        ContentDisposition="inline",
        CacheControl="max-age=60",
    )
    head = s3.head_object(Bucket=bucket, Key="src")
    return {"bucket": bucket, "key": "src", "data": data, "etag": head["ETag"], "lm": head["LastModified"]}


def _source(src):
    return {"Bucket": src["bucket"], "Key": src["key"]}


def test_copy_keeps_metadata_by_default(s3, src):
    resp = s3.copy_object(Bucket=src["bucket"], Key="dst", CopySource=_source(src))
    assert status_of(resp) == 200
    assert resp["CopyObjectResult"]["ETag"] == etag_of(src["data"])
    assert resp["CopyObjectResult"]["LastModified"] is not None

    got = s3.get_object(Bucket=src["bucket"], Key="dst")
    assert got["Body"].read() == src["data"]
    assert got["ETag"] == etag_of(src["data"])
    assert got["Metadata"] == {"origin": "source", "n": "1"}
    assert got["ContentType"] == "text/x-source"
    assert got["ContentDisposition"] == "inline"
    assert got["CacheControl"] == "max-age=60"


def test_copy_with_explicit_copy_directive(s3, src):
    s3.copy_object(Bucket=src["bucket"], Key="dst", CopySource=_source(src), MetadataDirective="COPY")
    assert s3.head_object(Bucket=src["bucket"], Key="dst")["Metadata"] == {"origin": "source", "n": "1"}


def test_copy_replace_metadata(s3, src):
    s3.copy_object(
        Bucket=src["bucket"], Key="dst", CopySource=_source(src),
        MetadataDirective="REPLACE", Metadata={"fresh": "yes"}, ContentType="text/plain",
    )
    dst = s3.head_object(Bucket=src["bucket"], Key="dst")
    assert dst["Metadata"] == {"fresh": "yes"}
    assert dst["ContentType"] == "text/plain"
    assert dst["ETag"] == etag_of(src["data"])
    # The source is untouched.
    source = s3.head_object(Bucket=src["bucket"], Key="src")
    assert source["Metadata"] == {"origin": "source", "n": "1"}
    assert source["ContentType"] == "text/x-source"


def test_copy_onto_itself_without_replace_is_invalid(s3, src):
    expect_error(s3.copy_object, Bucket=src["bucket"], Key=src["key"], CopySource=_source(src),
                 code="InvalidRequest", status=400)
    expect_error(s3.copy_object, Bucket=src["bucket"], Key=src["key"], CopySource=_source(src),
                 MetadataDirective="COPY", code="InvalidRequest", status=400)


def test_copy_onto_itself_with_replace(s3, src):
    resp = s3.copy_object(Bucket=src["bucket"], Key=src["key"], CopySource=_source(src),
                          MetadataDirective="REPLACE", Metadata={"updated": "true"})
    assert status_of(resp) == 200
    got = s3.get_object(Bucket=src["bucket"], Key=src["key"])
    assert got["Metadata"] == {"updated": "true"}
    assert got["Body"].read() == src["data"]
    assert got["ETag"] == etag_of(src["data"])


def test_copy_across_buckets(s3, src, bucket_factory):
    other = bucket_factory(s3)
    s3.copy_object(Bucket=other, Key="copied", CopySource=_source(src))
    assert s3.get_object(Bucket=other, Key="copied")["Body"].read() == src["data"]


def test_copy_source_if_match(s3, src):
    ok = s3.copy_object(Bucket=src["bucket"], Key="d1", CopySource=_source(src), CopySourceIfMatch=src["etag"])
    assert status_of(ok) == 200
    expect_error(s3.copy_object, Bucket=src["bucket"], Key="d2", CopySource=_source(src),
                 CopySourceIfMatch='"00000000000000000000000000000000"',
                 code="PreconditionFailed", status=412)
    expect_error(s3.head_object, Bucket=src["bucket"], Key="d2", code=None, status=404)


def test_copy_source_if_none_match(s3, src):
    expect_error(s3.copy_object, Bucket=src["bucket"], Key="d", CopySource=_source(src),
                 CopySourceIfNoneMatch=src["etag"], code="PreconditionFailed", status=412)
    ok = s3.copy_object(Bucket=src["bucket"], Key="d", CopySource=_source(src),
                        CopySourceIfNoneMatch='"00000000000000000000000000000000"')
    assert status_of(ok) == 200


def test_copy_source_if_modified_since(s3, src):
    expect_error(s3.copy_object, Bucket=src["bucket"], Key="d", CopySource=_source(src),
                 CopySourceIfModifiedSince=src["lm"], code="PreconditionFailed", status=412)
    ok = s3.copy_object(Bucket=src["bucket"], Key="d", CopySource=_source(src),
                        CopySourceIfModifiedSince=src["lm"] - HOUR)
    assert status_of(ok) == 200


def test_copy_source_if_unmodified_since(s3, src):
    expect_error(s3.copy_object, Bucket=src["bucket"], Key="d", CopySource=_source(src),
                 CopySourceIfUnmodifiedSince=src["lm"] - HOUR, code="PreconditionFailed", status=412)
    ok = s3.copy_object(Bucket=src["bucket"], Key="d", CopySource=_source(src),
                        CopySourceIfUnmodifiedSince=src["lm"])
    assert status_of(ok) == 200


@pytest.mark.parametrize(
    "key",
    ["with space", "plus+sign", "percent%25and%", "unicodé/ключ/日本", "a//double//slash", "q?mark&amp=1"],
)
def test_copy_special_source_keys(s3, bucket, key):
    data = f"body of {key}".encode()
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    s3.copy_object(Bucket=bucket, Key="dest", CopySource={"Bucket": bucket, "Key": key})
    assert s3.get_object(Bucket=bucket, Key="dest")["Body"].read() == data
    # And as a destination key.
    s3.copy_object(Bucket=bucket, Key=key + "-copy", CopySource={"Bucket": bucket, "Key": key})
    assert s3.get_object(Bucket=bucket, Key=key + "-copy")["Body"].read() == data


def test_copy_source_as_string(s3, src):
    # "bucket/key" form of x-amz-copy-source (boto3 passes a string through as-is).
    s3.copy_object(Bucket=src["bucket"], Key="d", CopySource=f"{src['bucket']}/{src['key']}")
    assert s3.get_object(Bucket=src["bucket"], Key="d")["Body"].read() == src["data"]


def test_copy_missing_source_key(s3, bucket):
    expect_error(s3.copy_object, Bucket=bucket, Key="d", CopySource={"Bucket": bucket, "Key": "nope"},
                 code="NoSuchKey", status=404)


def test_copy_missing_source_bucket(s3, bucket):
    expect_error(s3.copy_object, Bucket=bucket, Key="d",
                 CopySource={"Bucket": unique_bucket_name(), "Key": "k"},
                 code="NoSuchBucket", status=404)


def test_copy_has_no_version_headers_when_unversioned(s3, src):
    resp = s3.copy_object(Bucket=src["bucket"], Key="d", CopySource=_source(src))
    assert "x-amz-version-id" not in headers_of(resp)
    assert "x-amz-copy-source-version-id" not in headers_of(resp)
