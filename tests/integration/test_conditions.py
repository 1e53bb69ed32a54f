"""Condition keys of real requests in IAM users' inline policies: aws:SourceIp (the TCP
peer), s3:prefix with a policy variable, s3:x-amz-acl, s3:max-keys, aws:UserAgent.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import s3util
from conftest import REGION, make_client


def iam_client(server):
    return boto3.session.Session().client(
        "iam", endpoint_url=server.endpoint, region_name=REGION,
        aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key,
        config=Config(retries={"max_attempts": 1}))


def code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


@pytest.fixture
def cond_bucket(server):
    s3 = server.client()
    name = s3util.unique_bucket_name()
    s3.create_bucket(Bucket=name)
    yield name
    s3util.empty_and_delete_bucket(s3, name)


@pytest.fixture
def make_user(server):
    """make_user(statements, **client_config) -> (user name, boto3 S3 client of the user)."""
    iam = iam_client(server)
    made = []

    def make(statements, **client_config):
        name = f"cond-{uuid.uuid4().hex[:8]}"
        iam.create_user(UserName=name)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        made.append((name, key["AccessKeyId"]))
        policy = {"Version": "2012-10-17", "Statement": statements}
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
        client = make_client(server.endpoint, key["AccessKeyId"], key["SecretAccessKey"],
                             **client_config)
        return name, client

    yield make
    for name, key_id in made:
        iam.delete_user_policy(UserName=name, PolicyName="p")
        iam.delete_access_key(UserName=name, AccessKeyId=key_id)
        iam.delete_user(UserName=name)


def arns(bucket):
    return [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]


def test_source_ip(server, cond_bucket, make_user):
    server.client().put_object(Bucket=cond_bucket, Key="k", Body=b"x")
    _, inside = make_user([{
        "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": arns(cond_bucket),
        "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}])
    assert inside.get_object(Bucket=cond_bucket, Key="k")["Body"].read() == b"x"
    inside.list_objects_v2(Bucket=cond_bucket)

    _, outside = make_user([{
        "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": arns(cond_bucket),
        "Condition": {"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}])
    with pytest.raises(ClientError) as e:
        outside.get_object(Bucket=cond_bucket, Key="k")
    assert code(e) == "AccessDenied"

    # An explicit Deny on the loopback address wins over the Allow.
    _, denied = make_user([
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
         "Resource": arns(cond_bucket)},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": arns(cond_bucket),
         "Condition": {"IpAddress": {"aws:SourceIp": ["127.0.0.1/32", "::1/128"]}}}])
    denied.list_objects_v2(Bucket=cond_bucket)
    with pytest.raises(ClientError) as e:
        denied.get_object(Bucket=cond_bucket, Key="k")
    assert code(e) == "AccessDenied"


def test_source_ip_ignores_x_forwarded_for(server, cond_bucket, make_user):
    _, client = make_user([{
        "Effect": "Allow", "Action": "s3:ListBucket", "Resource": arns(cond_bucket),
        "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}])

    def forwarded(request, **_):
        request.headers["X-Forwarded-For"] = "203.0.113.7"

    client.meta.events.register("before-sign.s3.ListObjectsV2", forwarded)
    with pytest.raises(ClientError) as e:
        client.list_objects_v2(Bucket=cond_bucket)
    assert code(e) == "AccessDenied"


def test_prefix_with_username(server, cond_bucket, make_user):
    s3 = server.client()
    statements = [{
        "Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{cond_bucket}",
        "Condition": {"StringLike": {"s3:prefix": "home/${aws:username}/*"}}}]
    name, client = make_user(statements)
    s3.put_object(Bucket=cond_bucket, Key=f"home/{name}/a", Body=b"a")
    s3.put_object(Bucket=cond_bucket, Key="home/other/b", Body=b"b")

    got = client.list_objects_v2(Bucket=cond_bucket, Prefix=f"home/{name}/")
    assert [o["Key"] for o in got["Contents"]] == [f"home/{name}/a"]
    client.list_objects(Bucket=cond_bucket, Prefix=f"home/{name}/")
    for prefix in ["home/other/", "home/", f"home/{name}"]:
        with pytest.raises(ClientError) as e:
            client.list_objects_v2(Bucket=cond_bucket, Prefix=prefix)
        assert code(e) == "AccessDenied", prefix
    # No prefix at all: the key is absent and StringLike does not match.
    with pytest.raises(ClientError) as e:
        client.list_objects_v2(Bucket=cond_bucket)
    assert code(e) == "AccessDenied"


def test_acl_header_denied(server, cond_bucket, make_user):
    _, client = make_user([
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{cond_bucket}/*"},
        {"Effect": "Deny", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{cond_bucket}/*",
         "Condition": {"StringEquals": {"s3:x-amz-acl": "public-read"}}}])
    client.put_object(Bucket=cond_bucket, Key="plain", Body=b"x")
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket=cond_bucket, Key="public", Body=b"x", ACL="public-read")
    assert code(e) == "AccessDenied"
    # Another canned ACL passes authorization (the operation may still refuse ACLs itself).
    try:
        client.put_object(Bucket=cond_bucket, Key="private", Body=b"x", ACL="private")
    except ClientError as err:
        assert err.response["Error"]["Code"] != "AccessDenied"


def test_max_keys(server, cond_bucket, make_user):
    _, client = make_user([{
        "Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{cond_bucket}",
        "Condition": {"NumericLessThanEquals": {"s3:max-keys": "10"}}}])
    client.list_objects_v2(Bucket=cond_bucket, MaxKeys=10)
    client.list_objects_v2(Bucket=cond_bucket, MaxKeys=3)
    client.list_objects(Bucket=cond_bucket, MaxKeys=1)
    with pytest.raises(ClientError) as e:
        client.list_objects_v2(Bucket=cond_bucket, MaxKeys=11)
    assert code(e) == "AccessDenied"
    # Without max-keys the key is absent: the condition fails.
    with pytest.raises(ClientError) as e:
        client.list_objects_v2(Bucket=cond_bucket)
    assert code(e) == "AccessDenied"


def test_user_agent(server, cond_bucket, make_user):
    statements = [{
        "Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{cond_bucket}",
        "Condition": {"StringLike": {"aws:UserAgent": "*tessera-cond-test/1*"}}}]
    _, plain = make_user(statements)
    with pytest.raises(ClientError) as e:
        plain.list_objects_v2(Bucket=cond_bucket)
    assert code(e) == "AccessDenied"
    _, tagged = make_user(statements, user_agent_extra="tessera-cond-test/1.0")
    tagged.list_objects_v2(Bucket=cond_bucket)


def test_auth_type_and_signature_version(server, cond_bucket, make_user):
    server.client().put_object(Bucket=cond_bucket, Key="k", Body=b"x")
    _, client = make_user([{
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{cond_bucket}/*",
        "Condition": {"StringEquals": {"s3:authType": "REST-HEADER",
                                       "s3:signatureversion": "AWS4-HMAC-SHA256"}}}])
    assert client.get_object(Bucket=cond_bucket, Key="k")["Body"].read() == b"x"
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": cond_bucket, "Key": "k"}, ExpiresIn=60)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url, timeout=10)
    assert e.value.code == 403
