"""The IAM and STS Query APIs at the S3 endpoint, driven by boto3's `iam` and `sts` clients
unmodified: users, keys and inline policies made through IAM take effect on S3 at once.
"""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import s3util
from conftest import REGION, make_client


def client(server, service: str, access_key: str, secret_key: str):
    return boto3.session.Session().client(
        service, endpoint_url=server.endpoint, region_name=REGION,
        aws_access_key_id=access_key, aws_secret_access_key=secret_key,
        config=Config(retries={"max_attempts": 1}))


def code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_caller_identity_of_root_and_user(server):
    sts = client(server, "sts", server.access_key, server.secret_key)
    me = sts.get_caller_identity()
    account = me["Account"]
    assert len(account) == 12 and account.isdigit()
    assert me["Arn"] == f"arn:aws:iam::{account}:root"
    assert me["UserId"] == account

    iam = client(server, "iam", server.access_key, server.secret_key)
    name = f"sts-{uuid.uuid4().hex[:8]}"
    user = iam.create_user(UserName=name, Path="/team/")["User"]
    assert user["Arn"] == f"arn:aws:iam::{account}:user/team/{name}"
    key = iam.create_access_key(UserName=name)["AccessKey"]
    who = client(server, "sts", key["AccessKeyId"], key["SecretAccessKey"]).get_caller_identity()
    assert who["Arn"] == user["Arn"]
    assert who["UserId"] == user["UserId"]
    assert who["Account"] == account
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName=name)


def test_user_key_and_policy_through_iam(server):
    s3 = server.client()
    bucket = s3util.unique_bucket_name()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    iam = client(server, "iam", server.access_key, server.secret_key)
    name = f"ro-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    assert key["Status"] == "Active" and len(key["SecretAccessKey"]) == 40
    user_s3 = make_client(server.endpoint, key["AccessKeyId"], key["SecretAccessKey"])

    # No policy: nothing is allowed.
    with pytest.raises(ClientError) as e:
        user_s3.get_object(Bucket=bucket, Key="k")
    assert code(e) == "AccessDenied"

    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}
    iam.put_user_policy(UserName=name, PolicyName="ro", PolicyDocument=json.dumps(policy))
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == ["ro"]
    got = iam.get_user_policy(UserName=name, PolicyName="ro")["PolicyDocument"]
    assert got == policy  # boto3 decodes the document
    assert user_s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"
    assert [o["Key"] for o in user_s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]
    with pytest.raises(ClientError) as e:
        user_s3.put_object(Bucket=bucket, Key="k", Body=b"no")
    assert code(e) == "AccessDenied"

    # The user's own IAM rights are its policies too: none for IAM here.
    user_iam = client(server, "iam", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as e:
        user_iam.create_user(UserName=f"x-{uuid.uuid4().hex[:6]}")
    assert code(e) == "AccessDenied"

    # A malformed policy is refused with the reason; quotas and conflicts as IAM.
    with pytest.raises(ClientError) as e:
        iam.put_user_policy(UserName=name, PolicyName="bad", PolicyDocument='{"Statement": 1}')
    assert code(e) == "MalformedPolicyDocument"
    second = iam.create_access_key(UserName=name)["AccessKey"]
    with pytest.raises(ClientError) as e:
        iam.create_access_key(UserName=name)
    assert code(e) == "LimitExceeded"
    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName=name)
    assert code(e) == "DeleteConflict"

    # Deactivated: refused at once; last use recorded.
    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as e:
        user_s3.get_object(Bucket=bucket, Key="k")
    assert code(e) == "InvalidAccessKeyId"
    statuses = {k["AccessKeyId"]: k["Status"]
                for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]}
    assert statuses == {key["AccessKeyId"]: "Inactive", second["AccessKeyId"]: "Active"}
    used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
    assert used["ServiceName"] == "iam"

    for k in (key, second):
        iam.delete_access_key(UserName=name, AccessKeyId=k["AccessKeyId"])
    iam.delete_user_policy(UserName=name, PolicyName="ro")
    iam.delete_user(UserName=name)
    with pytest.raises(ClientError) as e:
        iam.get_user(UserName=name)
    assert code(e) == "NoSuchEntity"
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)


def test_bad_signature_and_unknown_key(server):
    bad = client(server, "sts", server.access_key, "not-the-secret-key-at-all-0123456789")
    with pytest.raises(ClientError) as e:
        bad.get_caller_identity()
    assert code(e) == "SignatureDoesNotMatch"
    unknown = client(server, "iam", "AKIAUNKNOWNKEY000000", "whatever-secret-0123456789")
    with pytest.raises(ClientError) as e:
        unknown.list_users()
    assert code(e) == "InvalidClientTokenId"


def test_update_user_renames_and_moves(server):
    iam = client(server, "iam", server.access_key, server.secret_key)
    name = f"old-{uuid.uuid4().hex[:8]}"
    new = f"new-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    iam.update_user(UserName=name, NewUserName=new, NewPath="/moved/")
    with pytest.raises(ClientError) as e:
        iam.get_user(UserName=name)
    assert code(e) == "NoSuchEntity"
    user = iam.get_user(UserName=new)["User"]
    assert user["Path"] == "/moved/" and user["Arn"].endswith(f":user/moved/{new}")
    # Its key followed it.
    who = client(server, "sts", key["AccessKeyId"], key["SecretAccessKey"]).get_caller_identity()
    assert who["Arn"] == user["Arn"]
    listed = [u["UserName"] for u in iam.list_users(PathPrefix="/moved/")["Users"]]
    assert new in listed and name not in listed
    iam.delete_access_key(UserName=new, AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName=new)


def test_aws_cli_sts_and_iam(aws):
    me = json.loads(aws("sts", "get-caller-identity", "--output", "json").stdout)
    assert me["Arn"] == f"arn:aws:iam::{me['Account']}:root"
    name = f"cli-{uuid.uuid4().hex[:8]}"
    made = json.loads(aws("iam", "create-user", "--user-name", name, "--output", "json").stdout)
    assert made["User"]["Arn"] == f"arn:aws:iam::{me['Account']}:user/{name}"
    listed = json.loads(aws("iam", "list-users", "--output", "json").stdout)
    assert name in [u["UserName"] for u in listed["Users"]]
    aws("iam", "delete-user", "--user-name", name)


def test_listings_of_groups_roles_and_providers(server):
    """What ceph/s3-tests' IAM teardown lists: nothing exists but users, and every answer says so."""
    iam = client(server, "iam", server.access_key, server.secret_key)
    groups = iam.list_groups(PathPrefix="/s3-tests/")
    assert groups["Groups"] == [] and groups["IsTruncated"] is False
    roles = iam.list_roles(PathPrefix="/", MaxItems=10)
    assert roles["Roles"] == [] and roles["IsTruncated"] is False
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []

    name = f"lst-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name, Path="/s3-tests/")
    attached = iam.list_attached_user_policies(UserName=name)
    assert attached["AttachedPolicies"] == [] and attached["IsTruncated"] is False
    in_groups = iam.list_groups_for_user(UserName=name)
    assert in_groups["Groups"] == [] and in_groups["IsTruncated"] is False
    for op, key, kwargs in [
        ("list_groups", "Groups", {"PathPrefix": "/s3-tests/"}),
        ("list_roles", "Roles", {}),
        ("list_attached_user_policies", "AttachedPolicies", {"UserName": name}),
        ("list_groups_for_user", "Groups", {"UserName": name}),
    ]:
        pages = list(iam.get_paginator(op).paginate(PaginationConfig={"PageSize": 1}, **kwargs))
        assert len(pages) == 1 and pages[0][key] == [], (op, pages)

    # The per-user listings need the user; parameters are validated as IAM does.
    with pytest.raises(ClientError) as e:
        iam.list_attached_user_policies(UserName=f"{name}-missing")
    assert code(e) == "NoSuchEntity"
    with pytest.raises(ClientError) as e:
        iam.list_groups_for_user(UserName=f"{name}-missing")
    assert code(e) == "NoSuchEntity"
    with pytest.raises(ClientError) as e:
        iam.list_groups(PathPrefix="no-slash")
    assert code(e) == "ValidationError"
    # Creating groups or roles is still not offered.
    with pytest.raises(ClientError) as e:
        iam.create_group(GroupName=f"g-{uuid.uuid4().hex[:6]}")
    assert code(e) == "InvalidAction"

    # Each listing is authorized like the others: iam:ListGroups etc. through the user's policies.
    key = iam.create_access_key(UserName=name)["AccessKey"]
    user_iam = client(server, "iam", key["AccessKeyId"], key["SecretAccessKey"])
    for call, kwargs in [
        (user_iam.list_groups, {}),
        (user_iam.list_roles, {}),
        (user_iam.list_open_id_connect_providers, {}),
        (user_iam.list_attached_user_policies, {"UserName": name}),
        (user_iam.list_groups_for_user, {"UserName": name}),
    ]:
        with pytest.raises(ClientError) as e:
            call(**kwargs)
        assert code(e) == "AccessDenied", call
    allow = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["iam:ListGroups", "iam:ListGroupsForUser"], "Resource": "*"}]}
    iam.put_user_policy(UserName=name, PolicyName="lg", PolicyDocument=json.dumps(allow))
    assert user_iam.list_groups()["Groups"] == []
    assert user_iam.list_groups_for_user(UserName=name)["Groups"] == []
    with pytest.raises(ClientError) as e:
        user_iam.list_roles()
    assert code(e) == "AccessDenied"

    iam.delete_user_policy(UserName=name, PolicyName="lg")
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName=name)


def test_users_list_in_name_order_ignoring_case(server):
    """IAM sorts ListUsers by name regardless of case, paginated or not."""
    iam = client(server, "iam", server.access_key, server.secret_key)
    path = f"/case-{uuid.uuid4().hex[:8]}/"
    names = ["aa", "Ab", "ac", "Ad"]
    for n in reversed(names):
        iam.create_user(UserName=f"{n}-{path[6:-1]}", Path=path)
    want = [f"{n}-{path[6:-1]}" for n in names]
    assert [u["UserName"] for u in iam.list_users(PathPrefix=path)["Users"]] == want
    paged = iam.get_paginator("list_users").paginate(PathPrefix=path,
                                                      PaginationConfig={"PageSize": 1})
    assert [u["UserName"] for p in paged for u in p["Users"]] == want
    for n in want:
        iam.delete_user(UserName=n)


def test_access_keys_paginate_whatever_their_ids(server):
    """Two keys of a user, one per page: both listed (the marker follows the listing order,
    whichever key id sorts first). Repeated, as key ids are random."""
    iam = client(server, "iam", server.access_key, server.secret_key)
    for _ in range(4):
        name = f"pager-{uuid.uuid4().hex[:8]}"
        iam.create_user(UserName=name)
        ids = sorted(iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
                     for _ in range(2))
        paged = iam.get_paginator("list_access_keys").paginate(
            UserName=name, PaginationConfig={"PageSize": 1})
        assert sorted(k["AccessKeyId"] for p in paged for k in p["AccessKeyMetadata"]) == ids
        for key_id in ids:
            iam.delete_access_key(UserName=name, AccessKeyId=key_id)
        iam.delete_user(UserName=name)
