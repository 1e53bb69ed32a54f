"""Bucket operations: CreateBucket, HeadBucket, ListBuckets, DeleteBucket, GetBucketLocation."""

import uuid

import pytest

from s3util import expect_error, headers_of, status_of, unique_bucket_name


def test_create_head_delete_bucket(s3):
    name = unique_bucket_name()
    resp = s3.create_bucket(Bucket=name)
    assert status_of(resp) == 200
    # us-east-1 answers with the path-style location of the new bucket.
    assert resp["Location"] == f"/{name}"

    head = s3.head_bucket(Bucket=name)
    assert status_of(head) == 200
    assert headers_of(head).get("x-amz-bucket-region") == "us-east-1"

    resp = s3.delete_bucket(Bucket=name)
    assert status_of(resp) == 204

    expect_error(s3.head_bucket, Bucket=name, code=None, status=404)
    expect_error(s3.delete_bucket, Bucket=name, code="NoSuchBucket", status=404)


def test_head_missing_bucket_is_404(s3):
    expect_error(s3.head_bucket, Bucket=unique_bucket_name(), code=None, status=404)


@pytest.mark.parametrize(
    "name",
    [
        "UpperCaseBucket",
        "ab",
        "a" * 64,
        "192.168.1.1",
        "-starts-with-dash",
        "ends-with-dash-",
        "two..dots",
        "has_underscore",
    ],
    ids=["uppercase", "too-short", "too-long", "ip-address", "leading-dash", "trailing-dash",
         "double-dot", "underscore"],
)
def test_create_bucket_invalid_name(s3, name):
    expect_error(s3.create_bucket, Bucket=name, code="InvalidBucketName", status=400)


@pytest.mark.parametrize("name_len", [3, 63])
def test_create_bucket_name_length_limits_ok(s3, name_len):
    name = ("b" + uuid.uuid4().hex + "x" * 63)[:name_len]
    try:
        assert status_of(s3.create_bucket(Bucket=name)) == 200
        assert status_of(s3.head_bucket(Bucket=name)) == 200
    finally:
        s3.delete_bucket(Bucket=name)


def test_create_duplicate_bucket(s3, bucket, make_server):
    # us-east-1 answers 200 to its owner, for legacy compatibility, and resets the ACL.
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert status_of(s3.create_bucket(Bucket=bucket)) == 200
    assert len(s3.get_bucket_acl(Bucket=bucket)["Grants"]) == 1
    s3.put_object(Bucket=bucket, Key="kept", Body=b"x")
    assert status_of(s3.create_bucket(Bucket=bucket)) == 200
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"x"
    # Any other region: 409 BucketAlreadyOwnedByYou.
    other = make_server("--region", "eu-west-1")
    client = other.client(region_name="eu-west-1")
    cfg = {"LocationConstraint": "eu-west-1"}
    client.create_bucket(Bucket="dup-eu", CreateBucketConfiguration=cfg)
    expect_error(client.create_bucket, Bucket="dup-eu", CreateBucketConfiguration=cfg,
                 code="BucketAlreadyOwnedByYou", status=409)


def test_list_buckets_includes_new_bucket(s3, bucket):
    resp = s3.list_buckets()
    assert status_of(resp) == 200
    names = [b["Name"] for b in resp["Buckets"]]
    assert bucket in names
    entry = next(b for b in resp["Buckets"] if b["Name"] == bucket)
    assert entry["CreationDate"] is not None
    assert resp["Owner"]["ID"]


def test_list_buckets_paging_with_max_buckets(s3, bucket_factory):
    prefix = unique_bucket_name("lb")[:12]
    ours = sorted(bucket_factory(name=f"{prefix}-{i}") for i in range(3))

    seen = []
    token = None
    for _ in range(1000):
        kwargs = {"MaxBuckets": 1}
        if token:
            kwargs["ContinuationToken"] = token
        resp = s3.list_buckets(**kwargs)
        assert status_of(resp) == 200
        assert len(resp["Buckets"]) <= 1
        seen.extend(b["Name"] for b in resp["Buckets"])
        token = resp.get("ContinuationToken")
        if not token:
            break
    assert set(ours) <= set(seen)
    assert len(seen) == len(set(seen)), "a bucket was listed twice while paging"

    resp = s3.list_buckets(Prefix=prefix)
    assert sorted(b["Name"] for b in resp["Buckets"]) == ours
    assert resp.get("Prefix") == prefix


def test_delete_non_empty_bucket(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    expect_error(s3.delete_bucket, Bucket=bucket, code="BucketNotEmpty", status=409)
    assert status_of(s3.head_bucket(Bucket=bucket)) == 200
    s3.delete_object(Bucket=bucket, Key="k")
    assert status_of(s3.delete_bucket(Bucket=bucket)) == 204


def test_delete_missing_bucket(s3):
    expect_error(s3.delete_bucket, Bucket=unique_bucket_name(), code="NoSuchBucket", status=404)


def test_get_bucket_location_us_east_1(s3, bucket):
    resp = s3.get_bucket_location(Bucket=bucket)
    assert status_of(resp) == 200
    # AWS answers an empty <LocationConstraint/> for us-east-1, which boto3 parses as None.
    assert resp.get("LocationConstraint") in (None, "")


def test_get_bucket_location_missing_bucket(s3):
    expect_error(s3.get_bucket_location, Bucket=unique_bucket_name(), code="NoSuchBucket", status=404)


def test_object_operations_on_missing_bucket(s3):
    missing = unique_bucket_name()
    expect_error(s3.put_object, Bucket=missing, Key="k", Body=b"x", code="NoSuchBucket", status=404)
    expect_error(s3.get_object, Bucket=missing, Key="k", code="NoSuchBucket", status=404)
    expect_error(s3.list_objects_v2, Bucket=missing, code="NoSuchBucket", status=404)
    expect_error(s3.list_objects, Bucket=missing, code="NoSuchBucket", status=404)


def test_list_buckets_prefix_with_max_buckets(s3, bucket_factory):
    # Buckets that do not match the prefix must not use up MaxBuckets.
    ours = sorted(bucket_factory() for _ in range(3))
    seen, token = [], None
    while True:
        kwargs = {"Prefix": ours[0], "MaxBuckets": 1}
        if token:
            kwargs["ContinuationToken"] = token
        resp = s3.list_buckets(**kwargs)
        seen.extend(b["Name"] for b in resp["Buckets"])
        token = resp.get("ContinuationToken")
        if not token:
            break
    assert seen == [ours[0]]
