"""Access control with real clients: bucket policies (same account, cross account, explicit
deny, anonymous), PublicAccessBlock, ACLs (canned, grants, bodies, per-object owner),
ownership controls, and the multipart permission rules of the user guide.

Accounts and users are made with `tessera admin` on a running server's data dir.
"""

from __future__ import annotations

import json
import uuid

import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError

import s3util
from conftest import Server, make_client
from test_accounts import admin, error_of, new_account, new_user

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


@pytest.fixture(scope="module")
def srv(tessera_bin, tmp_path_factory):
    s = Server(tessera_bin, tmp_path_factory.mktemp("access"), name="access")
    yield s
    s.close()


def anonymous(server: Server):
    return make_client(server.endpoint, "unused", "unused", signature_version=UNSIGNED)


def policy(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def root_arn(acct: dict) -> str:
    return f"arn:aws:iam::{acct['account_id']}:root"


def denied(call) -> None:
    with pytest.raises(ClientError) as e:
        call()
    assert error_of(e) == ("AccessDenied", 403)


def fails(call, code: str, status: int) -> None:
    with pytest.raises(ClientError) as e:
        call()
    assert error_of(e) == (code, status)


@pytest.fixture()
def owner(srv):
    """(account, client, bucket) of a fresh account with one bucket holding `k`."""
    acct, s3 = new_account(srv, "owner")
    name = s3util.unique_bucket_name()
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"hello")
    return acct, s3, name


# ---------------------------------------------------------------------------------------
# Bucket policy documents
# ---------------------------------------------------------------------------------------

def test_bucket_policy_crud_and_status(srv, owner):
    _, s3, name = owner
    fails(lambda: s3.get_bucket_policy(Bucket=name), "NoSuchBucketPolicy", 404)
    private = policy({"Effect": "Allow", "Principal": {"AWS": root_arn(owner[0])},
                      "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*"})
    s3.put_bucket_policy(Bucket=name, Policy=private)
    assert json.loads(s3.get_bucket_policy(Bucket=name)["Policy"]) == json.loads(private)
    assert s3.get_bucket_policy_status(Bucket=name)["PolicyStatus"]["IsPublic"] is False
    public = policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                     "Resource": f"arn:aws:s3:::{name}/*"})
    s3.put_bucket_policy(Bucket=name, Policy=public)
    assert s3.get_bucket_policy_status(Bucket=name)["PolicyStatus"]["IsPublic"] is True
    s3.delete_bucket_policy(Bucket=name)
    fails(lambda: s3.get_bucket_policy(Bucket=name), "NoSuchBucketPolicy", 404)
    s3.delete_bucket_policy(Bucket=name)  # deleting none is no error


@pytest.mark.parametrize("doc, reason", [
    ("{not json", None),
    (policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::some-other-bucket/*"}), None),
    (policy({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
             "Action": "s3:GetObject", "Resource": "arn:aws:s3:::BUCKET/*"}),
     "Invalid principal in policy"),
    (policy({"Effect": "Allow", "Principal": "*", "Action": "s3:NoSuchAction",
             "Resource": "arn:aws:s3:::BUCKET/*"}), None),
    (json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::BUCKET/" + "x" * 21000}]}), None),
], ids=["not-json", "other-bucket", "unknown-principal", "unknown-action", "too-large"])
def test_bad_policies_are_refused_at_put(srv, owner, doc, reason):
    _, s3, name = owner
    with pytest.raises(ClientError) as e:
        s3.put_bucket_policy(Bucket=name, Policy=doc.replace("BUCKET", name))
    assert error_of(e) == ("MalformedPolicy", 400)
    if reason:
        assert reason in e.value.response["Error"]["Message"]
    fails(lambda: s3.get_bucket_policy(Bucket=name), "NoSuchBucketPolicy", 404)


# ---------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------

def test_cross_account_grant_by_bucket_policy(srv, owner):
    acct, s3, name = owner
    alt, s3alt = new_account(srv, "alt")
    denied(lambda: s3alt.get_object(Bucket=name, Key="k"))
    s3.put_bucket_policy(Bucket=name, Policy=policy(
        {"Effect": "Allow", "Principal": {"AWS": alt["account_id"]},
         "Action": ["s3:GetObject", "s3:ListBucket"],
         "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]}))
    assert s3alt.get_object(Bucket=name, Key="k")["Body"].read() == b"hello"
    assert [o["Key"] for o in s3alt.list_objects_v2(Bucket=name)["Contents"]] == ["k"]
    denied(lambda: s3alt.put_object(Bucket=name, Key="k", Body=b"overwritten"))
    # An IAM user of the other account also needs its own account's allow.
    _, _, user_plain = new_user(srv, alt)
    denied(lambda: user_plain.get_object(Bucket=name, Key="k"))
    _, _, user_allowed = new_user(srv, alt, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    assert user_allowed.get_object(Bucket=name, Key="k")["Body"].read() == b"hello"
    # A third account gets nothing.
    _, s3third = new_account(srv, "third")
    denied(lambda: s3third.get_object(Bucket=name, Key="k"))
    s3.delete_bucket_policy(Bucket=name)
    denied(lambda: s3alt.get_object(Bucket=name, Key="k"))


def test_same_account_user_by_bucket_policy_and_explicit_deny(srv, owner):
    acct, s3, name = owner
    user, _, s3user = new_user(srv, acct)
    denied(lambda: s3user.get_object(Bucket=name, Key="k"))
    user_arn = f"arn:aws:iam::{acct['account_id']}:user/{user}"
    s3.put_bucket_policy(Bucket=name, Policy=policy(
        {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{name}/*"}))
    assert s3user.get_object(Bucket=name, Key="k")["Body"].read() == b"hello"
    # Explicit deny beats the allow, for the user and for a user policy allowing everything.
    s3.put_bucket_policy(Bucket=name, Policy=policy(
        {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{name}/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{name}/secret/*"}))
    s3.put_object(Bucket=name, Key="secret/x", Body=b"s")
    denied(lambda: s3user.get_object(Bucket=name, Key="secret/x"))
    # The Deny reaches the account root too, except for managing the policy itself.
    denied(lambda: s3.get_object(Bucket=name, Key="secret/x"))
    s3.get_bucket_policy(Bucket=name)
    s3.delete_bucket_policy(Bucket=name)
    assert s3.get_object(Bucket=name, Key="secret/x")["Body"].read() == b"s"


def test_anonymous_access(srv, owner):
    _, s3, name = owner
    anon = anonymous(srv)
    denied(lambda: anon.get_object(Bucket=name, Key="k"))
    denied(lambda: anon.list_objects_v2(Bucket=name))
    denied(lambda: anon.list_buckets())
    # A missing bucket answers NoSuchBucket, as S3 does.
    fails(lambda: anon.get_object(Bucket=s3util.unique_bucket_name(), Key="k"), "NoSuchBucket", 404)
    s3.put_bucket_policy(Bucket=name, Policy=policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{name}/*"}))
    assert anon.get_object(Bucket=name, Key="k")["Body"].read() == b"hello"
    denied(lambda: anon.list_objects_v2(Bucket=name))
    denied(lambda: anon.put_object(Bucket=name, Key="new", Body=b"x"))
    s3.delete_bucket_policy(Bucket=name)
    denied(lambda: anon.get_object(Bucket=name, Key="k"))
    # Through a public-read object ACL.
    s3.put_object(Bucket=name, Key="pub", Body=b"public", ACL="public-read")
    assert anon.get_object(Bucket=name, Key="pub")["Body"].read() == b"public"
    denied(lambda: anon.get_object(Bucket=name, Key="k"))
    # Through a public-read bucket ACL: listing, not reading private objects.
    denied(lambda: anon.get_object(Bucket=name, Key="missing"))
    s3.put_bucket_acl(Bucket=name, ACL="public-read")
    assert {o["Key"] for o in anon.list_objects_v2(Bucket=name)["Contents"]} == {"k", "pub"}
    denied(lambda: anon.get_object(Bucket=name, Key="k"))
    # Who may list the bucket learns that a key is missing (404); others get 403.
    fails(lambda: anon.get_object(Bucket=name, Key="missing"), "NoSuchKey", 404)


def test_missing_key_with_prefix_scoped_list_permission(srv, owner):
    """A caller allowed to list only `public/` learns 404 for missing keys under it."""
    _, s3, name = owner
    _, s3alt = new_account(srv, "lister")
    s3.put_bucket_policy(Bucket=name, Policy=policy(
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:ListBucket",
         "Resource": f"arn:aws:s3:::{name}",
         "Condition": {"StringLike": {"s3:prefix": "public/*"}}}))
    with pytest.raises(ClientError) as e:
        s3alt.head_object(Bucket=name, Key="public/object")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as e:
        s3alt.head_object(Bucket=name, Key="private/object")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


# ---------------------------------------------------------------------------------------
# PublicAccessBlock
# ---------------------------------------------------------------------------------------

def test_public_access_block(srv, owner):
    _, s3, name = owner
    anon = anonymous(srv)
    fails(lambda: s3.get_public_access_block(Bucket=name),
          "NoSuchPublicAccessBlockConfiguration", 404)
    s3.put_object(Bucket=name, Key="pub", Body=b"public", ACL="public-read")
    public = policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                     "Resource": f"arn:aws:s3:::{name}/*"})
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True,
        "BlockPublicPolicy": True, "RestrictPublicBuckets": False})
    conf = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
    assert conf == {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True, "RestrictPublicBuckets": False}
    denied(lambda: s3.put_object(Bucket=name, Key="p2", Body=b"x", ACL="public-read"))
    denied(lambda: s3.put_bucket_acl(Bucket=name, ACL="public-read"))
    denied(lambda: s3.put_bucket_policy(Bucket=name, Policy=public))
    # IgnorePublicAcls: the existing public-read grant counts for nothing.
    denied(lambda: anon.get_object(Bucket=name, Key="pub"))
    # RestrictPublicBuckets: a public policy set before grants nothing outside the account.
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "RestrictPublicBuckets": False})
    s3.put_bucket_policy(Bucket=name, Policy=public)
    assert anon.get_object(Bucket=name, Key="k")["Body"].read() == b"hello"
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "RestrictPublicBuckets": True})
    denied(lambda: anon.get_object(Bucket=name, Key="k"))
    s3.delete_public_access_block(Bucket=name)
    assert anon.get_object(Bucket=name, Key="k")["Body"].read() == b"hello"
    fails(lambda: s3.get_public_access_block(Bucket=name),
          "NoSuchPublicAccessBlockConfiguration", 404)


# ---------------------------------------------------------------------------------------
# ACLs
# ---------------------------------------------------------------------------------------

def test_default_and_canned_acls(srv, owner):
    acct, s3, name = owner
    got = s3.get_bucket_acl(Bucket=name)
    me = {"ID": acct["canonical_user_id"], "DisplayName": acct["name"], "Type": "CanonicalUser"}
    assert got["Owner"] == {"ID": acct["canonical_user_id"], "DisplayName": acct["name"]}
    assert got["Grants"] == [{"Grantee": me, "Permission": "FULL_CONTROL"}]
    s3.put_bucket_acl(Bucket=name, ACL="public-read-write")
    grants = s3.get_bucket_acl(Bucket=name)["Grants"]
    assert grants == [
        {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"},
        {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "WRITE"},
        {"Grantee": me, "Permission": "FULL_CONTROL"},
    ]
    s3.put_bucket_acl(Bucket=name, ACL="private")
    assert len(s3.get_bucket_acl(Bucket=name)["Grants"]) == 1
    obj = s3.get_object_acl(Bucket=name, Key="k")
    assert obj["Grants"] == [{"Grantee": me, "Permission": "FULL_CONTROL"}]
    fails(lambda: s3.put_bucket_acl(Bucket=name, ACL="no-such-acl"), "InvalidArgument", 400)
    fails(lambda: s3.get_object_acl(Bucket=name, Key="missing"), "NoSuchKey", 404)


def test_grants_to_another_account(srv, owner):
    acct, s3, name = owner
    alt, s3alt = new_account(srv, "alt")
    denied(lambda: s3alt.list_objects_v2(Bucket=name))
    s3.put_bucket_acl(Bucket=name, GrantRead=f'id="{alt["canonical_user_id"]}"',
                      GrantFullControl=f'id="{acct["canonical_user_id"]}"')
    assert [o["Key"] for o in s3alt.list_objects_v2(Bucket=name)["Contents"]] == ["k"]
    denied(lambda: s3alt.get_object(Bucket=name, Key="k"))
    denied(lambda: s3alt.put_object(Bucket=name, Key="x", Body=b"x"))
    # An object ACL by body: READ for the other account.
    s3.put_object_acl(Bucket=name, Key="k", AccessControlPolicy={
        "Owner": {"ID": acct["canonical_user_id"]},
        "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": acct["canonical_user_id"]},
             "Permission": "FULL_CONTROL"},
            {"Grantee": {"Type": "CanonicalUser", "ID": alt["canonical_user_id"]},
             "Permission": "READ"},
        ]})
    assert s3alt.get_object(Bucket=name, Key="k")["Body"].read() == b"hello"
    denied(lambda: s3alt.get_object_acl(Bucket=name, Key="k"))
    # Unknown grantees are refused.
    fails(lambda: s3.put_bucket_acl(Bucket=name, GrantRead='id="' + "0" * 64 + '"'),
          "InvalidArgument", 400)
    fails(lambda: s3.put_bucket_acl(Bucket=name, GrantRead='emailAddress="nobody@example.com"'),
          "UnresolvableGrantByEmailAddress", 400)


def test_grant_by_email(srv, owner):
    _, s3, name = owner
    email = f"alt-{uuid.uuid4().hex[:8]}@example.com"
    suffix = uuid.uuid4().hex[:12]
    ak, sk = f"AKIA{suffix.upper()}0000", f"secret/{suffix}/0123456789abcdef"
    alt = admin(srv, "account", "create", f"mail-{suffix}", "--email", email,
                "--access-key", ak, "--secret-key", sk)
    s3alt = make_client(srv.endpoint, ak, sk)
    s3.put_bucket_acl(Bucket=name, GrantRead=f'emailAddress="{email}"')
    grants = s3.get_bucket_acl(Bucket=name)["Grants"]
    assert grants[0]["Grantee"]["ID"] == alt["canonical_user_id"]
    assert [o["Key"] for o in s3alt.list_objects_v2(Bucket=name)["Contents"]] == ["k"]


def test_object_written_by_another_account_is_its_own(srv, owner):
    acct, s3, name = owner
    alt, s3alt = new_account(srv, "writer")
    s3.put_bucket_acl(Bucket=name, GrantWrite=f'id="{alt["canonical_user_id"]}"',
                      GrantFullControl=f'id="{acct["canonical_user_id"]}"')
    s3alt.put_object(Bucket=name, Key="theirs", Body=b"alt data")
    listed = s3.list_objects_v2(Bucket=name, FetchOwner=True)["Contents"]
    owners = {o["Key"]: o["Owner"]["ID"] for o in listed}
    assert owners == {"k": acct["canonical_user_id"], "theirs": alt["canonical_user_id"]}
    # The writer owns it: it can read it and its ACL (its implicit full control).
    assert s3alt.get_object(Bucket=name, Key="theirs")["Body"].read() == b"alt data"
    assert s3alt.get_object_acl(Bucket=name, Key="theirs")["Owner"]["ID"] == alt["canonical_user_id"]
    # bucket-owner-full-control gives the bucket owner a grant on the writer's object.
    s3alt.put_object(Bucket=name, Key="shared", Body=b"x", ACL="bucket-owner-full-control")
    grantees = [g["Grantee"]["ID"] for g in s3.get_object_acl(Bucket=name, Key="shared")["Grants"]]
    assert grantees == [alt["canonical_user_id"], acct["canonical_user_id"]]
    assert s3.get_object(Bucket=name, Key="shared")["Body"].read() == b"x"
    # Without such a grant the bucket owner may not read another account's object (S3 under
    # ObjectWriter), though it may delete it.
    denied(lambda: s3.get_object(Bucket=name, Key="theirs"))
    denied(lambda: s3.get_object_acl(Bucket=name, Key="theirs"))
    s3.delete_object(Bucket=name, Key="theirs")


def test_ownership_controls(srv, owner):
    acct, s3, name = owner
    fails(lambda: s3.get_bucket_ownership_controls(Bucket=name),
          "OwnershipControlsNotFoundError", 404)
    s3.put_bucket_acl(Bucket=name, ACL="public-read")
    enforced = {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    fails(lambda: s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=enforced),
          "InvalidBucketAclWithObjectOwnership", 400)
    s3.put_bucket_acl(Bucket=name, ACL="private")
    s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=enforced)
    assert s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"] == enforced
    fails(lambda: s3.put_object(Bucket=name, Key="x", Body=b"x", ACL="public-read"),
          "AccessControlListNotSupported", 400)
    fails(lambda: s3.put_bucket_acl(Bucket=name, ACL="public-read"),
          "AccessControlListNotSupported", 400)
    # Every Put*Acl fails, and every object ACL but the bucket owner's full control.
    fails(lambda: s3.put_bucket_acl(Bucket=name, ACL="private"),
          "AccessControlListNotSupported", 400)
    fails(lambda: s3.put_object_acl(Bucket=name, Key="k", ACL="private"),
          "AccessControlListNotSupported", 400)
    fails(lambda: s3.put_object(Bucket=name, Key="x", Body=b"x", ACL="private"),
          "AccessControlListNotSupported", 400)
    fails(lambda: s3.create_multipart_upload(Bucket=name, Key="x", ACL="public-read"),
          "AccessControlListNotSupported", 400)
    # Reading ACLs still works.
    assert len(s3.get_bucket_acl(Bucket=name)["Grants"]) == 1
    s3.put_object(Bucket=name, Key="x", Body=b"x", ACL="bucket-owner-full-control")
    s3.put_object(Bucket=name, Key="y", Body=b"y")
    s3.delete_bucket_ownership_controls(Bucket=name)
    fails(lambda: s3.get_bucket_ownership_controls(Bucket=name),
          "OwnershipControlsNotFoundError", 404)
    # At creation, with a header.
    other = s3util.unique_bucket_name()
    fails(lambda: s3.create_bucket(Bucket=other, ObjectOwnership="BucketOwnerEnforced",
                                   ACL="public-read"),
          "InvalidBucketAclWithObjectOwnership", 400)
    s3.create_bucket(Bucket=other, ObjectOwnership="BucketOwnerEnforced")
    assert s3.get_bucket_ownership_controls(Bucket=other)["OwnershipControls"] == enforced
    fails(lambda: s3.put_object(Bucket=other, Key="x", Body=b"x", ACL="public-read"),
          "AccessControlListNotSupported", 400)
    s3.delete_bucket(Bucket=other)


def test_canned_acl_at_bucket_creation(srv):
    acct, s3 = new_account(srv, "creator")
    name = s3util.unique_bucket_name()
    s3.create_bucket(Bucket=name, ACL="public-read")
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    anon = anonymous(srv)
    assert [o["Key"] for o in anon.list_objects_v2(Bucket=name)["Contents"]] == ["k"]
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)


# ---------------------------------------------------------------------------------------
# The multipart permission table (user guide, "Multipart upload API and permissions")
# ---------------------------------------------------------------------------------------

def test_multipart_permissions_of_iam_users(srv, owner):
    acct, s3, name = owner
    arn = f"arn:aws:s3:::{name}"
    put_only = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"{arn}/*"}]}
    _, _, writer = new_user(srv, acct, put_only)
    # s3:PutObject covers Create, UploadPart and Complete.
    up = writer.create_multipart_upload(Bucket=name, Key="mp")["UploadId"]
    etag = writer.upload_part(Bucket=name, Key="mp", UploadId=up, PartNumber=1,
                              Body=b"part")["ETag"]
    # ListParts needs s3:ListMultipartUploadParts and Abort s3:AbortMultipartUpload, except
    # for the upload's initiator; ListMultipartUploads needs s3:ListBucketMultipartUploads.
    _, _, other = new_user(srv, acct, put_only)
    denied(lambda: other.list_parts(Bucket=name, Key="mp", UploadId=up))
    denied(lambda: other.abort_multipart_upload(Bucket=name, Key="mp", UploadId=up))
    assert [p["PartNumber"] for p in writer.list_parts(Bucket=name, Key="mp",
                                                       UploadId=up)["Parts"]] == [1]
    denied(lambda: writer.list_multipart_uploads(Bucket=name))
    # The initiator's rights are to its own upload, under its own key only.
    denied(lambda: writer.list_parts(Bucket=name, Key="other-key", UploadId=up))
    writer.complete_multipart_upload(Bucket=name, Key="mp", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": etag}]})
    # UploadPartCopy also needs s3:GetObject on the source.
    up2 = writer.create_multipart_upload(Bucket=name, Key="mp2")["UploadId"]
    denied(lambda: writer.upload_part_copy(Bucket=name, Key="mp2", UploadId=up2, PartNumber=1,
                                           CopySource={"Bucket": name, "Key": "k"}))
    # The initiator may abort its own upload without s3:AbortMultipartUpload.
    up3 = writer.create_multipart_upload(Bucket=name, Key="mp3")["UploadId"]
    writer.abort_multipart_upload(Bucket=name, Key="mp3", UploadId=up3)
    _, _, lister = new_user(srv, acct, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:ListMultipartUploadParts",
                                       "s3:AbortMultipartUpload"], "Resource": f"{arn}/*"},
        {"Effect": "Allow", "Action": "s3:ListBucketMultipartUploads", "Resource": arn}]})
    listed = lister.list_multipart_uploads(Bucket=name)["Uploads"]
    assert [u["UploadId"] for u in listed] == [up2]
    parts = lister.list_parts(Bucket=name, Key="mp2", UploadId=up2)
    assert parts["Initiator"]["ID"].endswith(":user/" + parts["Initiator"]["DisplayName"])
    assert parts["Owner"]["ID"] == acct["canonical_user_id"]
    lister.abort_multipart_upload(Bucket=name, Key="mp2", UploadId=up2)


def test_multipart_across_accounts(srv, owner):
    """An upload initiated by another account through a bucket policy: the initiator (by
    default) and the bucket owner may list its parts and abort it, a third account may not;
    an explicit Deny takes the initiator's default away."""
    acct, s3, name = owner
    alt, s3alt = new_account(srv, "initiator")
    _, s3third = new_account(srv, "third")
    # Only s3:PutObject: listing parts and aborting are the initiator's by default.
    s3.put_bucket_policy(Bucket=name, Policy=policy(
        {"Effect": "Allow", "Principal": {"AWS": alt["account_id"]},
         "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{name}/*"}))
    up = s3alt.create_multipart_upload(Bucket=name, Key="x")["UploadId"]
    parts = s3alt.list_parts(Bucket=name, Key="x", UploadId=up)
    assert parts["Initiator"] == {"ID": alt["canonical_user_id"], "DisplayName": alt["name"]}
    assert parts["Owner"]["ID"] == alt["canonical_user_id"]
    denied(lambda: s3third.abort_multipart_upload(Bucket=name, Key="x", UploadId=up))
    s3alt.abort_multipart_upload(Bucket=name, Key="x", UploadId=up)
    up = s3alt.create_multipart_upload(Bucket=name, Key="y")["UploadId"]
    uploads = s3.list_multipart_uploads(Bucket=name)["Uploads"]
    assert [u["Initiator"]["ID"] for u in uploads] == [alt["canonical_user_id"]]
    s3.abort_multipart_upload(Bucket=name, Key="y", UploadId=up)
    # The bucket owner can take the default away with an explicit Deny.
    s3.put_bucket_policy(Bucket=name, Policy=policy(
        {"Effect": "Allow", "Principal": {"AWS": alt["account_id"]},
         "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{name}/*"},
        {"Effect": "Deny", "Principal": {"AWS": alt["account_id"]},
         "Action": "s3:AbortMultipartUpload", "Resource": f"arn:aws:s3:::{name}/*"}))
    up = s3alt.create_multipart_upload(Bucket=name, Key="z")["UploadId"]
    denied(lambda: s3alt.abort_multipart_upload(Bucket=name, Key="z", UploadId=up))
    s3.abort_multipart_upload(Bucket=name, Key="z", UploadId=up)


def test_delete_objects_is_decided_per_key(srv, owner):
    acct, s3, name = owner
    s3.put_object(Bucket=name, Key="tmp/a", Body=b"a")
    s3.put_object(Bucket=name, Key="keep/b", Body=b"b")
    _, _, user = new_user(srv, acct, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:DeleteObject",
         "Resource": f"arn:aws:s3:::{name}/tmp/*"}]})
    out = user.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "tmp/a"},
                                                               {"Key": "keep/b"}]})
    assert [d["Key"] for d in out.get("Deleted", [])] == ["tmp/a"]
    assert [(e["Key"], e["Code"]) for e in out["Errors"]] == [("keep/b", "AccessDenied")]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"]}
    assert keys == {"k", "keep/b"}
    # Anonymous: every key refused, nothing deleted.
    out = anonymous(srv).delete_objects(Bucket=name, Delete={"Objects": [{"Key": "k"}]})
    assert [(e["Key"], e["Code"]) for e in out["Errors"]] == [("k", "AccessDenied")]
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"hello"


def test_secure_transport_condition(srv, make_server):
    """aws:SecureTransport is true exactly on a TLS listener."""
    tls = make_server(tls=True)
    only_tls = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*",
         "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}
    for server, allowed in ((tls, True), (srv, False)):
        acct, _ = new_account(server, "transport")
        s3 = make_client(server.endpoint, acct["access_key_id"], acct["secret_access_key"],
                         server.ca_bundle)
        name = s3util.unique_bucket_name()
        s3.create_bucket(Bucket=name)
        _, key, _ = new_user(server, acct, only_tls)
        user = make_client(server.endpoint, key["access_key_id"], key["secret_access_key"],
                           server.ca_bundle)
        if allowed:
            user.put_object(Bucket=name, Key="k", Body=b"x")
        else:
            denied(lambda: user.put_object(Bucket=name, Key="k", Body=b"x"))


def test_public_read_with_the_aws_cli(server, aws, tmp_path):
    """The README's how-to, with the aws cli: a bucket policy for anonymous reads, then a
    public-read object ACL, each read back with a plain unsigned HTTP GET."""
    import urllib.error
    import urllib.request

    name = s3util.unique_bucket_name()
    aws("s3", "mb", f"s3://{name}")
    page = tmp_path / "index.html"
    page.write_bytes(b"<h1>hello</h1>")
    aws("s3", "cp", str(page), f"s3://{name}/index.html")
    aws("s3", "cp", str(page), f"s3://{name}/open.html", "--acl", "public-read")

    def anonymous_get(key: str) -> int:
        try:
            with urllib.request.urlopen(f"{server.endpoint}/{name}/{key}", timeout=30) as r:
                assert r.read() == b"<h1>hello</h1>"
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    assert anonymous_get("index.html") == 403
    assert anonymous_get("open.html") == 200
    doc = policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                  "Resource": f"arn:aws:s3:::{name}/*"})
    aws("s3api", "put-bucket-policy", "--bucket", name, "--policy", doc)
    status = json.loads(aws("s3api", "get-bucket-policy-status", "--bucket", name).stdout)
    assert status["PolicyStatus"]["IsPublic"] is True
    assert anonymous_get("index.html") == 200
    aws("s3api", "delete-bucket-policy", "--bucket", name)
    assert anonymous_get("index.html") == 403
    acl = json.loads(aws("s3api", "get-object-acl", "--bucket", name, "--key", "open.html").stdout)
    assert {"Type": "Group", "URI": ALL_USERS} in [g["Grantee"] for g in acl["Grants"]]
    aws("s3", "rb", f"s3://{name}", "--force")


def test_owner_root_manages_its_policy_unless_it_confirms_the_lockout(srv, owner):
    _, s3, name = owner
    deny_all = policy({"Effect": "Deny", "Principal": "*",
                       "Action": ["s3:GetBucketPolicy", "s3:PutBucketPolicy",
                                  "s3:DeleteBucketPolicy"],
                       "Resource": f"arn:aws:s3:::{name}"})
    s3.put_bucket_policy(Bucket=name, Policy=deny_all)
    # The owner's root keeps managing the policy against its Deny (S3's rule) ...
    s3.get_bucket_policy(Bucket=name)
    s3.put_bucket_policy(Bucket=name, Policy=deny_all, ConfirmRemoveSelfBucketAccess=True)
    # ... unless it confirmed removing its own access.
    denied(lambda: s3.get_bucket_policy(Bucket=name))
    denied(lambda: s3.delete_bucket_policy(Bucket=name))
