"""Accounts, IAM users and bucket ownership, end to end: accounts and users made with
`tessera admin` on the data dir of a running server, then used with boto3.

- each account sees only its own buckets; bucket names stay global (BucketAlreadyExists);
- another account's bucket is 403 AccessDenied for every operation without a policy or ACL
  granting it (test_access.py has those);
- an IAM user may do only what its inline policies allow;
- a key deactivated or deleted with the CLI is refused from the next request on;
- Owner / Initiator fields name the real account and user; x-amz-expected-bucket-owner.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest
from botocore.exceptions import ClientError

import s3util
from conftest import Server, make_client

READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": "*",
    }],
}


@pytest.fixture(scope="module")
def srv(tessera_bin, tmp_path_factory):
    s = Server(tessera_bin, tmp_path_factory.mktemp("accounts"), name="accounts")
    yield s
    s.close()


def admin(server: Server, *args: str) -> dict:
    """Runs `tessera admin` on the server's data dir; its JSON answer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    out = subprocess.run([server.binary, "admin", "--data-dir", str(server.data_dir), *args],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"admin {args}: {out.stderr}"
    return json.loads(out.stdout)


def new_account(server: Server, prefix: str = "acct") -> tuple[dict, object]:
    """A new account (explicit keys, as tests and migrations use them) and a client for it."""
    suffix = uuid.uuid4().hex[:12]
    ak = f"AKIA{suffix.upper()}0000"
    sk = f"secret/{suffix}/0123456789abcdef"
    acct = admin(server, "account", "create", f"{prefix}-{suffix}", "--access-key", ak,
                 "--secret-key", sk)
    assert acct["access_key_id"] == ak and acct["secret_access_key"] == sk
    return acct, make_client(server.endpoint, ak, sk)


def new_user(server: Server, acct: dict, policy: dict | None = None) -> tuple[str, dict, object]:
    name = f"user-{uuid.uuid4().hex[:8]}"
    admin(server, "user", "create", "--account", acct["name"], name)
    key = admin(server, "user", "key", "create", "--account", acct["name"], "--user", name)
    if policy is not None:
        admin(server, "user", "policy", "put", "--account", acct["name"], "--user", name, "p",
              json.dumps(policy))
    return name, key, make_client(server.endpoint, key["access_key_id"], key["secret_access_key"])


def error_of(excinfo) -> tuple[str, int]:
    resp = excinfo.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def test_each_account_sees_only_its_buckets(srv):
    a, s3a = new_account(srv)
    b, s3b = new_account(srv)
    ba, bb = s3util.unique_bucket_name(), s3util.unique_bucket_name()
    s3a.create_bucket(Bucket=ba)
    s3b.create_bucket(Bucket=bb)
    la, lb = s3a.list_buckets(), s3b.list_buckets()
    assert [x["Name"] for x in la["Buckets"]] == [ba]
    assert [x["Name"] for x in lb["Buckets"]] == [bb]
    assert la["Owner"] == {"ID": a["canonical_user_id"], "DisplayName": a["name"]}
    assert lb["Owner"] == {"ID": b["canonical_user_id"], "DisplayName": b["name"]}
    # The server's root key is the root account's: it does not see them either.
    root = srv.client()
    names = [x["Name"] for x in root.list_buckets()["Buckets"]]
    assert ba not in names and bb not in names
    s3a.delete_bucket(Bucket=ba)
    s3b.delete_bucket(Bucket=bb)


def test_bucket_names_are_global(srv):
    _, s3a = new_account(srv)
    _, s3b = new_account(srv)
    name = s3util.unique_bucket_name()
    s3a.create_bucket(Bucket=name)
    with pytest.raises(ClientError) as e:
        s3b.create_bucket(Bucket=name)
    assert error_of(e) == ("BucketAlreadyExists", 409)
    # Its owner re-creating it in us-east-1: 200, as S3 (legacy compatibility).
    s3a.create_bucket(Bucket=name)
    s3a.delete_bucket(Bucket=name)


def test_cross_account_access_is_denied(srv):
    a, s3a = new_account(srv)
    _, s3b = new_account(srv)
    name = s3util.unique_bucket_name()
    s3a.create_bucket(Bucket=name)
    s3a.put_object(Bucket=name, Key="k", Body=b"secret")
    upload = s3a.create_multipart_upload(Bucket=name, Key="m")["UploadId"]
    mine = s3util.unique_bucket_name()
    s3b.create_bucket(Bucket=mine)
    attempts = [
        lambda: s3b.get_object(Bucket=name, Key="k"),
        lambda: s3b.put_object(Bucket=name, Key="k2", Body=b"x"),
        lambda: s3b.delete_object(Bucket=name, Key="k"),
        lambda: s3b.list_objects_v2(Bucket=name),
        lambda: s3b.list_multipart_uploads(Bucket=name),
        lambda: s3b.list_parts(Bucket=name, Key="m", UploadId=upload),
        lambda: s3b.abort_multipart_upload(Bucket=name, Key="m", UploadId=upload),
        lambda: s3b.delete_bucket(Bucket=name),
        lambda: s3b.get_bucket_location(Bucket=name),
        # Copying out of another account's bucket into one's own.
        lambda: s3b.copy_object(Bucket=mine, Key="stolen", CopySource={"Bucket": name, "Key": "k"}),
    ]
    for attempt in attempts:
        with pytest.raises(ClientError) as e:
            attempt()
        assert error_of(e) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        s3b.head_bucket(Bucket=name)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # DeleteObjects is decided per key: 200 with an AccessDenied per key, as S3 answers.
    out = s3b.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "k"}]})
    assert [(e["Key"], e["Code"]) for e in out["Errors"]] == [("k", "AccessDenied")]
    # Nothing changed.
    assert s3a.get_object(Bucket=name, Key="k")["Body"].read() == b"secret"
    assert [u["UploadId"] for u in s3a.list_multipart_uploads(Bucket=name)["Uploads"]] == [upload]
    s3a.abort_multipart_upload(Bucket=name, Key="m", UploadId=upload)
    s3a.delete_object(Bucket=name, Key="k")
    s3a.delete_bucket(Bucket=name)
    s3b.delete_bucket(Bucket=mine)
    assert a["account_id"]


def test_iam_user_with_read_only_policy(srv):
    a, s3a = new_account(srv)
    name = s3util.unique_bucket_name()
    s3a.create_bucket(Bucket=name)
    s3a.put_object(Bucket=name, Key="k", Body=b"data")
    _, _, reader = new_user(srv, a, READ_ONLY)
    assert reader.get_object(Bucket=name, Key="k")["Body"].read() == b"data"
    assert [o["Key"] for o in reader.list_objects_v2(Bucket=name)["Contents"]] == ["k"]
    for attempt in [
        lambda: reader.put_object(Bucket=name, Key="k", Body=b"overwrite"),
        lambda: reader.delete_object(Bucket=name, Key="k"),
        lambda: reader.create_multipart_upload(Bucket=name, Key="m"),
        lambda: reader.list_buckets(),
        lambda: reader.create_bucket(Bucket=s3util.unique_bucket_name()),
    ]:
        with pytest.raises(ClientError) as e:
            attempt()
        assert error_of(e) == ("AccessDenied", 403)
    # A user without any policy may do nothing.
    _, _, nobody = new_user(srv, a)
    with pytest.raises(ClientError) as e:
        nobody.get_object(Bucket=name, Key="k")
    assert error_of(e) == ("AccessDenied", 403)
    # A user acts for its own account only: another account's bucket stays out of reach.
    b, s3b = new_account(srv)
    other = s3util.unique_bucket_name()
    s3b.create_bucket(Bucket=other)
    with pytest.raises(ClientError) as e:
        reader.list_objects_v2(Bucket=other)
    assert error_of(e) == ("AccessDenied", 403)
    s3b.delete_bucket(Bucket=other)
    s3a.delete_object(Bucket=name, Key="k")
    s3a.delete_bucket(Bucket=name)
    assert b["account_id"] != a["account_id"]


def test_policy_change_and_deactivated_key_apply_at_once(srv):
    a, s3a = new_account(srv)
    name = s3util.unique_bucket_name()
    s3a.create_bucket(Bucket=name)
    s3a.put_object(Bucket=name, Key="k", Body=b"data")
    user, key, client = new_user(srv, a)
    with pytest.raises(ClientError) as e:
        client.get_object(Bucket=name, Key="k")
    assert error_of(e) == ("AccessDenied", 403)
    admin(srv, "user", "policy", "put", "--account", a["name"], "--user", user, "ro",
          json.dumps(READ_ONLY))
    assert client.get_object(Bucket=name, Key="k")["Body"].read() == b"data"

    kid = key["access_key_id"]
    admin(srv, "user", "key", "deactivate", "--account", a["name"], "--user", user, kid)
    with pytest.raises(ClientError) as e:
        client.get_object(Bucket=name, Key="k")
    assert error_of(e) == ("InvalidAccessKeyId", 403)
    admin(srv, "user", "key", "activate", "--account", a["name"], "--user", user, kid)
    assert client.get_object(Bucket=name, Key="k")["Body"].read() == b"data"
    admin(srv, "user", "key", "delete", "--account", a["name"], "--user", user, kid)
    with pytest.raises(ClientError) as e:
        client.get_object(Bucket=name, Key="k")
    assert error_of(e) == ("InvalidAccessKeyId", 403)
    s3a.delete_object(Bucket=name, Key="k")
    s3a.delete_bucket(Bucket=name)


def test_owner_and_initiator_fields(srv):
    a, s3a = new_account(srv)
    name = s3util.unique_bucket_name()
    s3a.create_bucket(Bucket=name)
    s3a.put_object(Bucket=name, Key="k", Body=b"data")
    owner = {"ID": a["canonical_user_id"], "DisplayName": a["name"]}
    listed = s3a.list_objects_v2(Bucket=name, FetchOwner=True)["Contents"]
    assert listed[0]["Owner"] == owner
    assert s3a.list_objects(Bucket=name)["Contents"][0]["Owner"] == owner

    writer_policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": ["s3:PutObject", "s3:ListBucketMultipartUploads", "s3:ListMultipartUploadParts",
                   "s3:AbortMultipartUpload"],
        "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
    }]}
    user, _, writer = new_user(srv, a, writer_policy)
    by_user = writer.create_multipart_upload(Bucket=name, Key="u")["UploadId"]
    by_root = s3a.create_multipart_upload(Bucket=name, Key="r")["UploadId"]
    uploads = {u["Key"]: u for u in writer.list_multipart_uploads(Bucket=name)["Uploads"]}
    user_arn = f"arn:aws:iam::{a['account_id']}:user/{user}"
    assert uploads["u"]["Initiator"] == {"ID": user_arn, "DisplayName": user}
    assert uploads["u"]["Owner"] == owner
    assert uploads["r"]["Initiator"] == owner
    parts = s3a.list_parts(Bucket=name, Key="u", UploadId=by_user)
    assert parts["Initiator"] == {"ID": user_arn, "DisplayName": user}
    assert parts["Owner"] == owner
    writer.abort_multipart_upload(Bucket=name, Key="u", UploadId=by_user)
    s3a.abort_multipart_upload(Bucket=name, Key="r", UploadId=by_root)
    s3a.delete_object(Bucket=name, Key="k")
    s3a.delete_bucket(Bucket=name)


def test_expected_bucket_owner(srv):
    a, s3a = new_account(srv)
    b, _ = new_account(srv)
    name = s3util.unique_bucket_name()
    s3a.create_bucket(Bucket=name)
    s3a.put_object(Bucket=name, Key="k", Body=b"x", ExpectedBucketOwner=a["account_id"])
    s3a.head_object(Bucket=name, Key="k", ExpectedBucketOwner=a["account_id"])
    with pytest.raises(ClientError) as e:
        s3a.get_object(Bucket=name, Key="k", ExpectedBucketOwner=b["account_id"])
    assert error_of(e) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        s3a.list_objects_v2(Bucket=name, ExpectedBucketOwner=b["account_id"])
    assert error_of(e) == ("AccessDenied", 403)
    s3a.delete_object(Bucket=name, Key="k")
    s3a.delete_bucket(Bucket=name)


def test_account_with_buckets_cannot_be_deleted(srv):
    a, s3a = new_account(srv)
    name = s3util.unique_bucket_name()
    s3a.create_bucket(Bucket=name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    out = subprocess.run([srv.binary, "admin", "--data-dir", str(srv.data_dir), "account",
                          "delete", a["name"]], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "owns buckets" in out.stderr, out.stderr
    s3a.delete_bucket(Bucket=name)
    admin(srv, "account", "delete", a["name"])
    # Its key is refused from the next request on.
    with pytest.raises(ClientError) as e:
        s3a.list_buckets()
    assert error_of(e) == ("InvalidAccessKeyId", 403)
