"""Bucket and object tagging: Put/Get/DeleteBucketTagging and Put/Get/DeleteObjectTagging
(with versionId) round trips and S3's validation errors, `x-amz-tagging` on PutObject,
CreateMultipartUpload and CopyObject (with the tagging directive), `x-amz-tagging-count`, and
the s3:ExistingObjectTag / s3:RequestObjectTag condition keys."""

from __future__ import annotations

import json

import pytest

from s3util import expect_error
from test_accounts import new_account, new_user


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


def tag_pairs(resp):
    return [(t["Key"], t["Value"]) for t in resp["TagSet"]]


def test_object_tagging_round_trip(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="k")
    pairs = [("b", "2"), ("a", "1 + 1"), ("Zürich", "")]
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tags(*pairs))
    assert tag_pairs(s3.get_object_tagging(Bucket=bucket, Key="k")) == pairs
    assert s3.get_object(Bucket=bucket, Key="k")["TagCount"] == 3
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "3"
    s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    expect_error(s3.put_object_tagging, Bucket=bucket, Key="missing", Tagging=tags(("a", "b")),
                 code="NoSuchKey", status=404)
    # Objects take at most 10 tags (BadRequest), with the bucket rules otherwise.
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tags(*[(f"k{i}", "v") for i in range(10)]))
    expect_error(s3.put_object_tagging, Bucket=bucket, Key="k",
                 Tagging=tags(*[(f"k{i}", "v") for i in range(11)]), code="BadRequest", status=400)
    expect_error(s3.put_object_tagging, Bucket=bucket, Key="k", Tagging=tags(("a", "1"), ("a", "2")),
                 code="InvalidTag", status=400)
    assert len(s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"]) == 10


def test_tagging_header_on_writes(s3, bucket):
    s3.put_object(Bucket=bucket, Key="put", Body=b"x", Tagging="a=1&b%20c=d%2Fe&empty=")
    assert tag_pairs(s3.get_object_tagging(Bucket=bucket, Key="put")) == [
        ("a", "1"), ("b c", "d/e"), ("empty", "")]
    expect_error(s3.put_object, Bucket=bucket, Key="bad", Body=b"x", Tagging="a=1&a=2",
                 code="InvalidArgument", status=400)
    expect_error(s3.put_object, Bucket=bucket, Key="bad", Body=b"x",
                 Tagging="&".join(f"k{i}=v" for i in range(11)), code="BadRequest", status=400)
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="stage=upload")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=1, Body=b"p")["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert tag_pairs(s3.get_object_tagging(Bucket=bucket, Key="mp")) == [("stage", "upload")]
    # CopyObject: the source's tags by default (COPY), the request's with REPLACE.
    s3.copy_object(Bucket=bucket, Key="copied", CopySource={"Bucket": bucket, "Key": "mp"})
    assert tag_pairs(s3.get_object_tagging(Bucket=bucket, Key="copied")) == [("stage", "upload")]
    s3.copy_object(Bucket=bucket, Key="replaced", CopySource={"Bucket": bucket, "Key": "mp"},
                   TaggingDirective="REPLACE", Tagging="new=1")
    assert tag_pairs(s3.get_object_tagging(Bucket=bucket, Key="replaced")) == [("new", "1")]
    s3.copy_object(Bucket=bucket, Key="cleared", CopySource={"Bucket": bucket, "Key": "mp"},
                   TaggingDirective="REPLACE")
    assert s3.get_object_tagging(Bucket=bucket, Key="cleared")["TagSet"] == []


def test_object_tagging_by_version(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"1", Tagging="v=1")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"2")["VersionId"]
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["VersionId"] == v2
    assert tag_pairs(s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=v1)) == [("v", "1")]
    done = s3.put_object_tagging(Bucket=bucket, Key="k", VersionId=v1, Tagging=tags(("old", "yes")))
    assert done["VersionId"] == v1
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    assert tag_pairs(s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=v1)) == [("old", "yes")]
    assert s3.delete_object_tagging(Bucket=bucket, Key="k", VersionId=v1)["VersionId"] == v1
    assert s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=v1)["TagSet"] == []


def test_existing_and_request_object_tag_conditions(server, bucket_factory):
    """A user may read only objects tagged public=yes, and write only with that tag."""
    acct, owner = new_account(server, "tags")
    name = bucket_factory(owner)
    owner.put_object(Bucket=name, Key="open", Body=b"o", Tagging="public=yes")
    owner.put_object(Bucket=name, Key="closed", Body=b"c", Tagging="public=no")
    owner.put_object(Bucket=name, Key="untagged", Body=b"u")
    _, _, user = new_user(server, acct, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*",
         "Condition": {"StringEquals": {"s3:ExistingObjectTag/public": "yes"}}},
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{name}/*",
         "Condition": {"StringEquals": {"s3:RequestObjectTag/public": "yes"}}}]})
    assert user.get_object(Bucket=name, Key="open")["Body"].read() == b"o"
    for key in ["closed", "untagged"]:
        expect_error(user.get_object, Bucket=name, Key=key, code="AccessDenied", status=403)
    user.put_object(Bucket=name, Key="new", Body=b"n", Tagging="public=yes")
    expect_error(user.put_object, Bucket=name, Key="new2", Body=b"n", Tagging="public=no",
                 code="AccessDenied", status=403)
    # Retagging changes the decision at once.
    owner.put_object_tagging(Bucket=name, Key="closed", Tagging=tags(("public", "yes")))
    assert user.get_object(Bucket=name, Key="closed")["Body"].read() == b"c"


def test_tagging_with_the_aws_cli(aws, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    aws("s3api", "put-object-tagging", "--bucket", bucket, "--key", "k",
        "--tagging", "TagSet=[{Key=team,Value=blue}]")
    got = json.loads(aws("s3api", "get-object-tagging", "--bucket", bucket, "--key", "k").stdout)
    assert got["TagSet"] == [{"Key": "team", "Value": "blue"}]
    aws("s3api", "put-bucket-tagging", "--bucket", bucket, "--tagging", "TagSet=[{Key=env,Value=test}]")
    got = json.loads(aws("s3api", "get-bucket-tagging", "--bucket", bucket).stdout)
    assert got["TagSet"] == [{"Key": "env", "Value": "test"}]
    aws("s3api", "delete-object-tagging", "--bucket", bucket, "--key", "k")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
