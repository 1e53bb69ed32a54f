"""Bucket tagging: Put/Get/DeleteBucketTagging round trip and S3's validation errors."""

from __future__ import annotations

import pytest

from s3util import expect_error


def tags(*pairs):
    return {"TagSet": [{"Key": k, "Value": v} for k, v in pairs]}


def test_round_trip_keeps_order(s3, bucket):
    pairs = [("Project", "Blue"), ("cost center", "a+b-c=d.e_f:g/h@i"), ("empty", ""),
             ("Zürich", "東京")]
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tags(*pairs))
    got = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    assert [(t["Key"], t["Value"]) for t in got] == pairs
    # A new Put replaces the whole set.
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tags(("only", "1")))
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "only", "Value": "1"}]


def test_delete_and_missing_tag_set(s3, bucket):
    expect_error(s3.get_bucket_tagging, Bucket=bucket, code="NoSuchTagSet", status=404)
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tags(("k", "v")))
    s3.delete_bucket_tagging(Bucket=bucket)
    expect_error(s3.get_bucket_tagging, Bucket=bucket, code="NoSuchTagSet", status=404)
    s3.delete_bucket_tagging(Bucket=bucket)  # idempotent


def test_fifty_tags_allowed(s3, bucket):
    pairs = [(f"k{i}", f"v{i}") for i in range(50)]
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tags(*pairs))
    assert len(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == 50


INVALID = {
    "duplicate-keys": [("a", "1"), ("a", "2")],
    "aws-prefix": [("aws:createdBy", "me")],
    "key-too-long": [("k" * 129, "v")],
    "value-too-long": [("k", "v" * 257)],
    "bad-key-character": [("k*", "v")],
    "bad-value-character": [("k", "v#")],
    "too-many": [(f"k{i}", "v") for i in range(51)],
}


@pytest.mark.parametrize("pairs", list(INVALID.values()), ids=list(INVALID))
def test_invalid_tag_sets(s3, bucket, pairs):
    expect_error(s3.put_bucket_tagging, Bucket=bucket, Tagging=tags(*pairs),
                 code="InvalidTag", status=400)
    expect_error(s3.get_bucket_tagging, Bucket=bucket, code="NoSuchTagSet", status=404)


def test_limits_are_inclusive(s3, bucket):
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tags(("k" * 128, "v" * 256)))


def test_missing_bucket(s3):
    expect_error(s3.put_bucket_tagging, Bucket="no-such-bucket-tags", Tagging=tags(("k", "v")),
                 code="NoSuchBucket", status=404)
    expect_error(s3.get_bucket_tagging, Bucket="no-such-bucket-tags",
                 code="NoSuchBucket", status=404)
