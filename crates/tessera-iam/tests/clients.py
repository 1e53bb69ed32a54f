"""Real clients against tessera-iam's test server (started by tests/clients.rs).

Usage: clients.py ENDPOINT ROOT_ACCESS_KEY ROOT_SECRET_KEY

boto3's `iam` and `sts` clients and the aws cli sign as usual (the server parses the credential
scope but does not verify signatures); each call proves that the request is understood and that
botocore parses the answer (results, paging, policy documents, modeled errors and statuses).
Exits non-zero on the first failed check.
"""

import datetime
import json
import os
import subprocess
import sys

import boto3
import botocore.config
import botocore.exceptions

ENDPOINT, ROOT_AK, ROOT_SK = sys.argv[1:4]
REGION = "us-east-1"
ACCOUNT = "123456789012"
CONFIG = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})


def client(service, ak=ROOT_AK, sk=ROOT_SK):
    return boto3.session.Session(
        aws_access_key_id=ak, aws_secret_access_key=sk, region_name=REGION
    ).client(service, endpoint_url=ENDPOINT, config=CONFIG)


def expect_error(fn, code, status, **kwargs):
    try:
        fn(**kwargs)
    except botocore.exceptions.ClientError as e:
        got = (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
        assert got == (code, status), f"{fn.__name__}: expected {(code, status)}, got {got}: {e.response}"
        assert e.response["Error"]["Message"], e.response
        assert e.response["ResponseMetadata"]["RequestId"], e.response
        return e
    raise AssertionError(f"{fn.__name__}({kwargs}) succeeded, expected {code}")


def step(name):
    print(f"ok: {name}", flush=True)


def boto3_checks():
    iam = client("iam")
    sts = client("sts")

    me = sts.get_caller_identity()
    assert me["Account"] == ACCOUNT and me["Arn"] == f"arn:aws:iam::{ACCOUNT}:root", me
    assert me["UserId"] == ACCOUNT and me["ResponseMetadata"]["RequestId"], me
    step("boto3 sts.get_caller_identity as root")

    root = iam.get_user()["User"]
    assert root["Arn"] == f"arn:aws:iam::{ACCOUNT}:root" and "UserName" not in root, root
    assert isinstance(root["CreateDate"], datetime.datetime), root
    step("boto3 iam.get_user as root")

    u = iam.create_user(UserName="alice", Path="/ops/")["User"]
    assert u["UserName"] == "alice" and u["Path"] == "/ops/", u
    assert u["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/ops/alice", u
    assert u["UserId"].startswith("AIDA") and isinstance(u["CreateDate"], datetime.datetime), u
    step("boto3 create_user")

    e = expect_error(iam.create_user, "EntityAlreadyExists", 409, UserName="alice")
    assert isinstance(e, iam.exceptions.EntityAlreadyExistsException), type(e)
    expect_error(iam.create_user, "ValidationError", 400, UserName="bad name")
    step("boto3 create_user errors (EntityAlreadyExists, ValidationError)")

    assert iam.get_user(UserName="alice")["User"]["UserId"] == u["UserId"]
    for name in ["bob", "carol", "dave"]:
        iam.create_user(UserName=name)
    page = iam.list_users(MaxItems=2)
    assert page["IsTruncated"] is True and page["Marker"] and len(page["Users"]) == 2, page
    rest = iam.list_users(Marker=page["Marker"])
    assert rest["IsTruncated"] is False and "Marker" not in rest, rest
    names = [x["UserName"] for x in page["Users"] + rest["Users"]]
    assert names == ["alice", "bob", "carol", "dave"], names
    paged = [
        x["UserName"]
        for p in iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 1})
        for x in p["Users"]
    ]
    assert paged == names, paged
    ops = iam.list_users(PathPrefix="/ops/")["Users"]
    assert [x["UserName"] for x in ops] == ["alice"], ops
    step("boto3 get_user, list_users (MaxItems/Marker, paginator, PathPrefix)")

    iam.update_user(UserName="alice", NewUserName="alice2", NewPath="/dev/")
    u = iam.get_user(UserName="alice2")["User"]
    assert u["Path"] == "/dev/" and u["Arn"].endswith(":user/dev/alice2"), u
    e = expect_error(iam.get_user, "NoSuchEntity", 404, UserName="alice")
    assert isinstance(e, iam.exceptions.NoSuchEntityException), type(e)
    step("boto3 update_user, NoSuchEntity")

    k1 = iam.create_access_key(UserName="alice2")["AccessKey"]
    assert k1["UserName"] == "alice2" and k1["Status"] == "Active" and k1["SecretAccessKey"], k1
    assert isinstance(k1["CreateDate"], datetime.datetime), k1
    k2 = iam.create_access_key(UserName="alice2")["AccessKey"]
    e = expect_error(iam.create_access_key, "LimitExceeded", 409, UserName="alice2")
    assert isinstance(e, iam.exceptions.LimitExceededException), type(e)
    keys = iam.list_access_keys(UserName="alice2")
    assert sorted(k["AccessKeyId"] for k in keys["AccessKeyMetadata"]) == sorted(
        [k1["AccessKeyId"], k2["AccessKeyId"]]
    ), keys
    assert all("SecretAccessKey" not in k for k in keys["AccessKeyMetadata"]), keys
    assert keys["IsTruncated"] is False, keys
    step("boto3 create_access_key (two, then LimitExceeded), list_access_keys")

    never = iam.get_access_key_last_used(AccessKeyId=k2["AccessKeyId"])
    assert never["UserName"] == "alice2", never
    assert never["AccessKeyLastUsed"] == {"ServiceName": "N/A", "Region": "N/A"}, never

    as_alice = client("sts", k1["AccessKeyId"], k1["SecretAccessKey"])
    who = as_alice.get_caller_identity()
    assert who["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/dev/alice2" and who["UserId"] == u["UserId"], who
    alice_iam = client("iam", k1["AccessKeyId"], k1["SecretAccessKey"])
    assert alice_iam.get_user()["User"]["UserName"] == "alice2"
    expect_error(alice_iam.create_user, "AccessDenied", 403, UserName="mallory")
    used = iam.get_access_key_last_used(AccessKeyId=k1["AccessKeyId"])["AccessKeyLastUsed"]
    assert used["ServiceName"] == "iam" and used["Region"] == REGION, used
    assert isinstance(used["LastUsedDate"], datetime.datetime), used
    step("boto3 as an IAM user: sts identity, get_user (self), AccessDenied, get_access_key_last_used")

    # Groups, roles, managed policies and OIDC providers: none exist, the listings say so.
    groups = iam.list_groups(PathPrefix="/s3-tests/")
    assert groups["Groups"] == [] and groups["IsTruncated"] is False, groups
    roles = iam.list_roles(MaxItems=10)
    assert roles["Roles"] == [] and roles["IsTruncated"] is False, roles
    oidc = iam.list_open_id_connect_providers()
    assert oidc["OpenIDConnectProviderList"] == [], oidc
    attached = iam.list_attached_user_policies(UserName="alice2")
    assert attached["AttachedPolicies"] == [] and attached["IsTruncated"] is False, attached
    mine = iam.list_groups_for_user(UserName="alice2")
    assert mine["Groups"] == [] and mine["IsTruncated"] is False, mine
    for op, key, kwargs in [
        ("list_groups", "Groups", {"PathPrefix": "/"}),
        ("list_roles", "Roles", {}),
        ("list_attached_user_policies", "AttachedPolicies", {"UserName": "alice2"}),
        ("list_groups_for_user", "Groups", {"UserName": "alice2"}),
    ]:
        pages = list(iam.get_paginator(op).paginate(PaginationConfig={"PageSize": 1}, **kwargs))
        assert len(pages) == 1 and pages[0][key] == [], (op, pages)
    e = expect_error(iam.list_attached_user_policies, "NoSuchEntity", 404, UserName="nobody")
    assert isinstance(e, iam.exceptions.NoSuchEntityException), type(e)
    expect_error(iam.list_groups_for_user, "NoSuchEntity", 404, UserName="nobody")
    expect_error(iam.list_roles, "ValidationError", 400, PathPrefix="roles")
    expect_error(alice_iam.list_groups, "AccessDenied", 403)
    expect_error(alice_iam.list_roles, "AccessDenied", 403)
    expect_error(alice_iam.list_open_id_connect_providers, "AccessDenied", 403)
    expect_error(alice_iam.list_attached_user_policies, "AccessDenied", 403, UserName="alice2")
    expect_error(alice_iam.list_groups_for_user, "AccessDenied", 403, UserName="alice2")
    step("boto3 list_groups, list_roles, list_open_id_connect_providers, list_attached_user_policies, "
         "list_groups_for_user (empty, paginators, NoSuchEntity, AccessDenied)")

    iam.update_access_key(UserName="alice2", AccessKeyId=k1["AccessKeyId"], Status="Inactive")
    statuses = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName="alice2")["AccessKeyMetadata"]}
    assert statuses[k1["AccessKeyId"]] == "Inactive", statuses
    expect_error(as_alice.get_caller_identity, "InvalidClientTokenId", 403)
    step("boto3 update_access_key Inactive: the key is refused")

    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::bucket/*"},
            {"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        ],
    }
    iam.put_user_policy(UserName="alice2", PolicyName="read", PolicyDocument=json.dumps(policy))
    got = iam.get_user_policy(UserName="alice2", PolicyName="read")
    assert got["UserName"] == "alice2" and got["PolicyName"] == "read", got
    assert got["PolicyDocument"] == policy, got  # botocore URL-decodes and parses it
    iam.put_user_policy(UserName="alice2", PolicyName="write", PolicyDocument="{}")
    first = iam.list_user_policies(UserName="alice2", MaxItems=1)
    assert first["PolicyNames"] == ["read"] and first["IsTruncated"] is True, first
    second = iam.list_user_policies(UserName="alice2", Marker=first["Marker"])
    assert second["PolicyNames"] == ["write"] and second["IsTruncated"] is False, second
    e = expect_error(
        iam.put_user_policy, "MalformedPolicyDocument", 400,
        UserName="alice2", PolicyName="bad", PolicyDocument="this is not json",
    )
    assert isinstance(e, iam.exceptions.MalformedPolicyDocumentException), type(e)
    step("boto3 put/get/list user policies, MalformedPolicyDocument")

    # Over MAX_BODY_BYTES (128 KiB): refused with 413 before any parsing, in IAM's XML.
    huge = json.dumps({"Version": "2012-10-17", "Pad": "x" * 140_000})
    expect_error(iam.put_user_policy, "RequestEntityTooLarge", 413, UserName="alice2", PolicyName="huge", PolicyDocument=huge)
    step("boto3 oversized request: 413 RequestEntityTooLarge")

    e = expect_error(iam.delete_user, "DeleteConflict", 409, UserName="alice2")
    assert isinstance(e, iam.exceptions.DeleteConflictException), type(e)
    for k in (k1, k2):
        iam.delete_access_key(UserName="alice2", AccessKeyId=k["AccessKeyId"])
    expect_error(iam.delete_access_key, "NoSuchEntity", 404, UserName="alice2", AccessKeyId=k1["AccessKeyId"])
    expect_error(iam.delete_user, "DeleteConflict", 409, UserName="alice2")
    for name in ("read", "write"):
        iam.delete_user_policy(UserName="alice2", PolicyName=name)
    expect_error(iam.get_user_policy, "NoSuchEntity", 404, UserName="alice2", PolicyName="read")
    iam.delete_user(UserName="alice2")
    expect_error(iam.get_user, "NoSuchEntity", 404, UserName="alice2")
    step("boto3 delete_user: DeleteConflict while keys, then policies, remain; then deleted")

    # An action this server does not offer is a modeled-less error botocore still parses.
    expect_error(iam.create_role, "InvalidAction", 400, RoleName="r", AssumeRolePolicyDocument="{}")
    step("boto3 unsupported action: InvalidAction")


def aws(*args, ok=True):
    cli = os.path.join(os.path.dirname(sys.executable), "aws")
    proc = subprocess.run(
        [sys.executable, cli, *args, "--endpoint-url", ENDPOINT, "--output", "json"],
        capture_output=True, text=True, timeout=60,
    )
    if ok:
        assert proc.returncode == 0, f"aws {' '.join(args)}: {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        return json.loads(proc.stdout) if proc.stdout.strip() else None
    assert proc.returncode != 0, f"aws {' '.join(args)} succeeded: {proc.stdout}"
    return proc.stderr


def cli_checks():
    user = aws("iam", "create-user", "--user-name", "cli-user", "--path", "/cli/")["User"]
    assert user["UserName"] == "cli-user" and user["Path"] == "/cli/", user
    listed = [u["UserName"] for u in aws("iam", "list-users")["Users"]]
    assert "cli-user" in listed, listed
    assert aws("iam", "get-user", "--user-name", "cli-user")["User"]["Arn"].endswith(":user/cli/cli-user")
    step("aws iam create-user, list-users, get-user")

    key = aws("iam", "create-access-key", "--user-name", "cli-user")["AccessKey"]
    assert key["SecretAccessKey"] and key["Status"] == "Active", key
    keys = aws("iam", "list-access-keys", "--user-name", "cli-user")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [key["AccessKeyId"]], keys
    aws("iam", "update-access-key", "--user-name", "cli-user", "--access-key-id", key["AccessKeyId"], "--status", "Inactive")
    last = aws("iam", "get-access-key-last-used", "--access-key-id", key["AccessKeyId"])
    assert last["UserName"] == "cli-user", last
    step("aws iam create-access-key, list-access-keys, update-access-key, get-access-key-last-used")

    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}]}
    aws("iam", "put-user-policy", "--user-name", "cli-user", "--policy-name", "list", "--policy-document", json.dumps(doc))
    got = aws("iam", "get-user-policy", "--user-name", "cli-user", "--policy-name", "list")
    assert got["PolicyDocument"] == doc, got
    assert aws("iam", "list-user-policies", "--user-name", "cli-user")["PolicyNames"] == ["list"]
    step("aws iam put-user-policy, get-user-policy, list-user-policies")

    err = aws("iam", "delete-user", "--user-name", "cli-user", ok=False)
    assert "DeleteConflict" in err, err
    step("aws iam delete-user refused with DeleteConflict")

    aws("iam", "delete-user-policy", "--user-name", "cli-user", "--policy-name", "list")
    aws("iam", "delete-access-key", "--user-name", "cli-user", "--access-key-id", key["AccessKeyId"])
    aws("iam", "update-user", "--user-name", "cli-user", "--new-user-name", "cli-user2")
    aws("iam", "delete-user", "--user-name", "cli-user2")
    err = aws("iam", "get-user", "--user-name", "cli-user2", ok=False)
    assert "NoSuchEntity" in err, err
    step("aws iam delete-user-policy, delete-access-key, update-user, delete-user")

    me = aws("sts", "get-caller-identity")
    assert me == {"UserId": ACCOUNT, "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:root"}, me
    step("aws sts get-caller-identity")

    assert aws("iam", "list-groups")["Groups"] == []
    assert aws("iam", "list-roles", "--path-prefix", "/")["Roles"] == []
    assert aws("iam", "list-open-id-connect-providers")["OpenIDConnectProviderList"] == []
    step("aws iam list-groups, list-roles, list-open-id-connect-providers")


if __name__ == "__main__":
    boto3_checks()
    cli_checks()
    print("all client checks passed")
