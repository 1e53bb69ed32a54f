"""S3 Object Lock: buckets created with lock (versioning enabled with it), the bucket's lock
configuration and default retention, per-version retention and legal hold, lock headers on
PutObject / CreateMultipartUpload / CopyObject, GET/HEAD reporting them, and the removal of a
locked version refused (GOVERNANCE bypassed only with the header and the permission)."""

from __future__ import annotations

import datetime
import json
import time

import pytest

import s3util
from test_accounts import admin, new_account, new_user
from test_versioning import fails

# Long enough for a test's checks, short enough for teardown to wait it out.
COMPLIANCE_SECONDS = 5


def _in(seconds: float) -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)


def _release(client, name: str) -> None:
    """Removes every version of a lock bucket: legal holds off, GOVERNANCE bypassed,
    COMPLIANCE waited out; then the bucket."""
    deadline = time.time() + COMPLIANCE_SECONDS + 5
    while True:
        left = []
        try:
            resp = client.list_object_versions(Bucket=name)
        except Exception:
            return
        for v in resp.get("Versions", []) + resp.get("DeleteMarkers", []):
            try:
                client.put_object_legal_hold(Bucket=name, Key=v["Key"], VersionId=v["VersionId"],
                                             LegalHold={"Status": "OFF"})
            except Exception:
                pass
            try:
                client.delete_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"],
                                     BypassGovernanceRetention=True)
            except Exception:
                left.append(v)
        if not left or time.time() > deadline:
            break
        time.sleep(0.5)
    s3util.empty_and_delete_bucket(client, name)


@pytest.fixture
def lock_bucket_factory(server):
    """make(client=None) -> a new bucket created with Object Lock, released after the test."""
    made = []

    def make(client=None) -> str:
        client = client or server.client()
        name = s3util.unique_bucket_name()
        client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
        made.append((client, name))
        return name

    yield make
    for client, name in made:
        _release(client, name)


@pytest.fixture
def lock_bucket(s3, lock_bucket_factory):
    return lock_bucket_factory(s3)


def test_bucket_created_with_lock(s3, lock_bucket):
    assert s3.get_bucket_versioning(Bucket=lock_bucket)["Status"] == "Enabled"
    config = s3.get_object_lock_configuration(Bucket=lock_bucket)["ObjectLockConfiguration"]
    assert config == {"ObjectLockEnabled": "Enabled"}
    fails(lambda: s3.put_bucket_versioning(Bucket=lock_bucket,
                                           VersioningConfiguration={"Status": "Suspended"}),
          "InvalidBucketState", 409)


def test_configuration_round_trip_and_errors(s3, lock_bucket, bucket):
    rule = {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}
    s3.put_object_lock_configuration(Bucket=lock_bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": rule})
    got = s3.get_object_lock_configuration(Bucket=lock_bucket)["ObjectLockConfiguration"]
    assert got == {"ObjectLockEnabled": "Enabled", "Rule": rule}
    rule = {"DefaultRetention": {"Mode": "COMPLIANCE", "Years": 2}}
    s3.put_object_lock_configuration(Bucket=lock_bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": rule})
    got = s3.get_object_lock_configuration(Bucket=lock_bucket)["ObjectLockConfiguration"]
    assert got["Rule"] == rule
    put = lambda retention: s3.put_object_lock_configuration(  # noqa: E731
        Bucket=lock_bucket,
        ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": retention}})
    fails(lambda: put({"Mode": "GOVERNANCE", "Days": 1, "Years": 1}), "MalformedXML", 400)
    fails(lambda: put({"Mode": "GOVERNANCE"}), "MalformedXML", 400)
    fails(lambda: put({"Mode": "SOMETIMES", "Days": 1}), "MalformedXML", 400)
    fails(lambda: put({"Mode": "GOVERNANCE", "Days": 0}), "InvalidArgument", 400)
    fails(lambda: put({"Mode": "GOVERNANCE", "Years": -1}), "InvalidArgument", 400)
    # Removing the rule keeps the lock enabled.
    s3.put_object_lock_configuration(Bucket=lock_bucket,
                                     ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    got = s3.get_object_lock_configuration(Bucket=lock_bucket)["ObjectLockConfiguration"]
    assert got == {"ObjectLockEnabled": "Enabled"}

    # A bucket without lock: none to read; enabling it needs versioning enabled first.
    fails(lambda: s3.get_object_lock_configuration(Bucket=bucket),
          "ObjectLockConfigurationNotFoundError", 404)
    enable = lambda: s3.put_object_lock_configuration(  # noqa: E731
        Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    fails(enable, "InvalidBucketState", 409)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    enable()
    got = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert got == {"ObjectLockEnabled": "Enabled"}


def test_default_retention_applied_to_new_versions(s3, lock_bucket):
    s3.put_object_lock_configuration(Bucket=lock_bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    before = _in(86400 - 60)
    v = s3.put_object(Bucket=lock_bucket, Key="k", Body=b"x")["VersionId"]
    head = s3.head_object(Bucket=lock_bucket, Key="k")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert before < head["ObjectLockRetainUntilDate"] < _in(86400 + 60)
    assert "ObjectLockLegalHoldStatus" not in head
    got = s3.get_object(Bucket=lock_bucket, Key="k", VersionId=v)
    assert got["ObjectLockMode"] == "GOVERNANCE"
    retention = s3.get_object_retention(Bucket=lock_bucket, Key="k", VersionId=v)["Retention"]
    assert retention["Mode"] == "GOVERNANCE"
    # Headers on the write win over the default.
    until = _in(3600).replace(microsecond=0)
    s3.put_object(Bucket=lock_bucket, Key="named", Body=b"x", ObjectLockMode="COMPLIANCE",
                  ObjectLockRetainUntilDate=_in(COMPLIANCE_SECONDS), ObjectLockLegalHoldStatus="ON")
    head = s3.head_object(Bucket=lock_bucket, Key="named")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] < until
    assert head["ObjectLockLegalHoldStatus"] == "ON"


def test_retention_and_legal_hold_round_trip(s3, lock_bucket):
    v1 = s3.put_object(Bucket=lock_bucket, Key="k", Body=b"1")["VersionId"]
    v2 = s3.put_object(Bucket=lock_bucket, Key="k", Body=b"2")["VersionId"]
    fails(lambda: s3.get_object_retention(Bucket=lock_bucket, Key="k"),
          "NoSuchObjectLockConfiguration", 404)
    fails(lambda: s3.get_object_legal_hold(Bucket=lock_bucket, Key="k"),
          "NoSuchObjectLockConfiguration", 404)
    assert "ObjectLockMode" not in s3.head_object(Bucket=lock_bucket, Key="k")
    until = _in(3600).replace(microsecond=0)
    s3.put_object_retention(Bucket=lock_bucket, Key="k", VersionId=v1,
                            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until})
    got = s3.get_object_retention(Bucket=lock_bucket, Key="k", VersionId=v1)["Retention"]
    assert got == {"Mode": "GOVERNANCE", "RetainUntilDate": until}
    fails(lambda: s3.get_object_retention(Bucket=lock_bucket, Key="k", VersionId=v2),
          "NoSuchObjectLockConfiguration", 404)
    s3.put_object_legal_hold(Bucket=lock_bucket, Key="k", LegalHold={"Status": "ON"})
    assert s3.get_object_legal_hold(Bucket=lock_bucket, Key="k", VersionId=v2)["LegalHold"] == {"Status": "ON"}
    assert s3.head_object(Bucket=lock_bucket, Key="k")["ObjectLockLegalHoldStatus"] == "ON"
    s3.put_object_legal_hold(Bucket=lock_bucket, Key="k", VersionId=v2, LegalHold={"Status": "OFF"})
    assert s3.get_object_legal_hold(Bucket=lock_bucket, Key="k")["LegalHold"] == {"Status": "OFF"}
    head = s3.head_object(Bucket=lock_bucket, Key="k", VersionId=v1)
    assert head["ObjectLockMode"] == "GOVERNANCE" and head["ObjectLockRetainUntilDate"] == until
    # Lengthening GOVERNANCE needs no bypass; a date in the past is refused.
    s3.put_object_retention(Bucket=lock_bucket, Key="k", VersionId=v1,
                            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until + datetime.timedelta(hours=1)})
    fails(lambda: s3.put_object_retention(Bucket=lock_bucket, Key="k", VersionId=v2,
                                          Retention={"Mode": "GOVERNANCE", "RetainUntilDate": _in(-60)}),
          "InvalidArgument", 400)
    fails(lambda: s3.get_object_retention(Bucket=lock_bucket, Key="k", VersionId="0" * 35),
          "NoSuchVersion", 404)


def test_lock_requests_on_a_bucket_without_lock(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    retention = {"Mode": "GOVERNANCE", "RetainUntilDate": _in(3600)}
    fails(lambda: s3.put_object_retention(Bucket=bucket, Key="k", Retention=retention),
          "InvalidRequest", 400)
    fails(lambda: s3.get_object_retention(Bucket=bucket, Key="k"), "InvalidRequest", 400)
    fails(lambda: s3.put_object_legal_hold(Bucket=bucket, Key="k", LegalHold={"Status": "ON"}),
          "InvalidRequest", 400)
    fails(lambda: s3.get_object_legal_hold(Bucket=bucket, Key="k"), "InvalidRequest", 400)
    fails(lambda: s3.put_object(Bucket=bucket, Key="l", Body=b"x", ObjectLockMode="GOVERNANCE",
                                ObjectLockRetainUntilDate=_in(3600)), "InvalidRequest", 400)
    fails(lambda: s3.put_object(Bucket=bucket, Key="l", Body=b"x", ObjectLockLegalHoldStatus="ON"),
          "InvalidRequest", 400)
    fails(lambda: s3.create_multipart_upload(Bucket=bucket, Key="l", ObjectLockLegalHoldStatus="ON"),
          "InvalidRequest", 400)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="l")


def test_lock_headers_checked(s3, lock_bucket):
    fails(lambda: s3.put_object(Bucket=lock_bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE"),
          "InvalidRequest", 400)
    fails(lambda: s3.put_object(Bucket=lock_bucket, Key="k", Body=b"x",
                                ObjectLockRetainUntilDate=_in(3600)), "InvalidRequest", 400)
    fails(lambda: s3.put_object(Bucket=lock_bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                                ObjectLockRetainUntilDate=_in(-60)), "InvalidArgument", 400)
    fails(lambda: s3.put_object(Bucket=lock_bucket, Key="k", Body=b"x", ObjectLockMode="FOREVER",
                                ObjectLockRetainUntilDate=_in(60)), "InvalidArgument", 400)
    fails(lambda: s3.put_object(Bucket=lock_bucket, Key="k", Body=b"x", ObjectLockLegalHoldStatus="MAYBE"),
          "InvalidArgument", 400)
    assert "Versions" not in s3.list_object_versions(Bucket=lock_bucket)


def test_delete_of_a_locked_version_refused(s3, lock_bucket):
    v = s3.put_object(Bucket=lock_bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                      ObjectLockRetainUntilDate=_in(3600))["VersionId"]
    fails(lambda: s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=v), "AccessDenied", 403)
    resp = s3.delete_objects(Bucket=lock_bucket, Delete={"Objects": [{"Key": "k", "VersionId": v}]})
    assert [(e["Key"], e["Code"]) for e in resp["Errors"]] == [("k", "AccessDenied")]
    # Without a version id a delete marker is added: allowed, the version stays.
    marker = s3.delete_object(Bucket=lock_bucket, Key="k")
    assert marker["DeleteMarker"] is True
    assert s3.head_object(Bucket=lock_bucket, Key="k", VersionId=v)["ContentLength"] == 1
    s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=marker["VersionId"])
    # The owner bypasses GOVERNANCE with the header.
    resp = s3.delete_objects(Bucket=lock_bucket, BypassGovernanceRetention=True,
                             Delete={"Objects": [{"Key": "k", "VersionId": v}]})
    assert "Errors" not in resp and [d["VersionId"] for d in resp["Deleted"]] == [v]

    # A legal hold is not bypassed; once OFF the version goes.
    h = s3.put_object(Bucket=lock_bucket, Key="held", Body=b"x", ObjectLockLegalHoldStatus="ON")["VersionId"]
    fails(lambda: s3.delete_object(Bucket=lock_bucket, Key="held", VersionId=h, BypassGovernanceRetention=True),
          "AccessDenied", 403)
    s3.put_object_legal_hold(Bucket=lock_bucket, Key="held", VersionId=h, LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket=lock_bucket, Key="held", VersionId=h)
    # An ended retention protects nothing.
    e = s3.put_object(Bucket=lock_bucket, Key="ends", Body=b"x", ObjectLockMode="COMPLIANCE",
                      ObjectLockRetainUntilDate=_in(1.5))["VersionId"]
    fails(lambda: s3.delete_object(Bucket=lock_bucket, Key="ends", VersionId=e), "AccessDenied", 403)
    time.sleep(2)
    s3.delete_object(Bucket=lock_bucket, Key="ends", VersionId=e)
    assert "Versions" not in s3.list_object_versions(Bucket=lock_bucket)


def test_compliance_not_shortened_nor_removed(s3, lock_bucket):
    until = _in(COMPLIANCE_SECONDS)
    v = s3.put_object(Bucket=lock_bucket, Key="k", Body=b"x", ObjectLockMode="COMPLIANCE",
                      ObjectLockRetainUntilDate=until)["VersionId"]
    put = lambda retention: s3.put_object_retention(  # noqa: E731
        Bucket=lock_bucket, Key="k", VersionId=v, Retention=retention, BypassGovernanceRetention=True)
    fails(lambda: put({"Mode": "COMPLIANCE", "RetainUntilDate": until - datetime.timedelta(seconds=1)}),
          "AccessDenied", 403)
    fails(lambda: put({"Mode": "GOVERNANCE", "RetainUntilDate": until + datetime.timedelta(seconds=1)}),
          "AccessDenied", 403)
    fails(lambda: put({}), "AccessDenied", 403)
    fails(lambda: s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=v, BypassGovernanceRetention=True),
          "AccessDenied", 403)
    longer = (until + datetime.timedelta(seconds=1)).replace(microsecond=0) + datetime.timedelta(seconds=1)
    put({"Mode": "COMPLIANCE", "RetainUntilDate": longer})
    got = s3.get_object_retention(Bucket=lock_bucket, Key="k", VersionId=v)["Retention"]
    assert got == {"Mode": "COMPLIANCE", "RetainUntilDate": longer}


def test_governance_shortened_or_removed_only_with_bypass(s3, lock_bucket):
    until = _in(3600).replace(microsecond=0)
    v = s3.put_object(Bucket=lock_bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                      ObjectLockRetainUntilDate=until)["VersionId"]
    shorter = {"Mode": "GOVERNANCE", "RetainUntilDate": until - datetime.timedelta(minutes=1)}
    fails(lambda: s3.put_object_retention(Bucket=lock_bucket, Key="k", VersionId=v, Retention=shorter),
          "AccessDenied", 403)
    s3.put_object_retention(Bucket=lock_bucket, Key="k", VersionId=v, Retention=shorter,
                            BypassGovernanceRetention=True)
    got = s3.get_object_retention(Bucket=lock_bucket, Key="k", VersionId=v)["Retention"]
    assert got["RetainUntilDate"] == shorter["RetainUntilDate"]
    s3.put_object_retention(Bucket=lock_bucket, Key="k", VersionId=v, Retention={},
                            BypassGovernanceRetention=True)
    fails(lambda: s3.get_object_retention(Bucket=lock_bucket, Key="k", VersionId=v),
          "NoSuchObjectLockConfiguration", 404)
    s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=v)


def test_governance_bypass_needs_the_permission(server, lock_bucket_factory):
    acct, owner = new_account(server, "lock")
    name = lock_bucket_factory(owner)
    allowed = ["s3:PutObject", "s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject",
               "s3:DeleteObjectVersion", "s3:PutObjectRetention"]
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": allowed, "Resource": f"arn:aws:s3:::{name}/*"}]}
    user_name, _, user = new_user(server, acct, policy)
    v = user.put_object(Bucket=name, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                        ObjectLockRetainUntilDate=_in(3600))["VersionId"]
    # Without s3:GetObjectRetention the lock does not show on reads.
    assert "ObjectLockMode" not in user.head_object(Bucket=name, Key="k")
    assert owner.head_object(Bucket=name, Key="k")["ObjectLockMode"] == "GOVERNANCE"
    # A legal hold header needs s3:PutObjectLegalHold.
    fails(lambda: user.put_object(Bucket=name, Key="h", Body=b"x", ObjectLockLegalHoldStatus="ON"),
          "AccessDenied", 403)
    fails(lambda: user.delete_object(Bucket=name, Key="k", VersionId=v, BypassGovernanceRetention=True),
          "AccessDenied", 403)
    resp = user.delete_objects(Bucket=name, BypassGovernanceRetention=True,
                               Delete={"Objects": [{"Key": "k", "VersionId": v}]})
    assert [e["Code"] for e in resp["Errors"]] == ["AccessDenied"]
    fails(lambda: user.put_object_retention(Bucket=name, Key="k", VersionId=v, Retention={},
                                            BypassGovernanceRetention=True), "AccessDenied", 403)
    policy["Statement"][0]["Action"] = allowed + ["s3:BypassGovernanceRetention"]
    admin(server, "user", "policy", "put", "--account", acct["name"], "--user", user_name, "p",
          json.dumps(policy))
    # The permission alone does not bypass: the header is needed too.
    fails(lambda: user.delete_object(Bucket=name, Key="k", VersionId=v), "AccessDenied", 403)
    user.delete_object(Bucket=name, Key="k", VersionId=v, BypassGovernanceRetention=True)
    assert "Versions" not in owner.list_object_versions(Bucket=name)


def test_multipart_upload_with_lock_headers(s3, lock_bucket):
    until = _in(3600).replace(microsecond=0)
    up = s3.create_multipart_upload(Bucket=lock_bucket, Key="mp", ObjectLockMode="GOVERNANCE",
                                    ObjectLockRetainUntilDate=until,
                                    ObjectLockLegalHoldStatus="ON")["UploadId"]
    etag = s3.upload_part(Bucket=lock_bucket, Key="mp", UploadId=up, PartNumber=1, Body=b"part")["ETag"]
    v = s3.complete_multipart_upload(Bucket=lock_bucket, Key="mp", UploadId=up,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})["VersionId"]
    head = s3.head_object(Bucket=lock_bucket, Key="mp", VersionId=v)
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert head["ObjectLockRetainUntilDate"] == until
    assert head["ObjectLockLegalHoldStatus"] == "ON"
    fails(lambda: s3.delete_object(Bucket=lock_bucket, Key="mp", VersionId=v, BypassGovernanceRetention=True),
          "AccessDenied", 403)
    fails(lambda: s3.create_multipart_upload(Bucket=lock_bucket, Key="bad", ObjectLockMode="GOVERNANCE"),
          "InvalidRequest", 400)


def test_copy_gets_its_own_lock(s3, lock_bucket):
    src = s3.put_object(Bucket=lock_bucket, Key="src", Body=b"x", ObjectLockLegalHoldStatus="ON",
                        ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=_in(3600))["VersionId"]
    s3.copy_object(Bucket=lock_bucket, Key="plain", CopySource={"Bucket": lock_bucket, "Key": "src"})
    head = s3.head_object(Bucket=lock_bucket, Key="plain")
    assert "ObjectLockMode" not in head and "ObjectLockLegalHoldStatus" not in head
    until = _in(600).replace(microsecond=0)
    s3.copy_object(Bucket=lock_bucket, Key="locked", CopySource={"Bucket": lock_bucket, "Key": "src", "VersionId": src},
                   ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until,
                   ObjectLockLegalHoldStatus="ON")
    head = s3.head_object(Bucket=lock_bucket, Key="locked")
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"], head["ObjectLockLegalHoldStatus"]) == \
        ("GOVERNANCE", until, "ON")
