"""Browser form uploads (PostObject): `multipart/form-data` POSTs to a bucket URL, with
boto3's `generate_presigned_post` (SigV4 policies), hand-made SigV2 forms as ceph/s3-tests
sends them, and anonymous forms; the POST policy's conditions, expiry, content-length-range
(enforced while the file streams: nothing is stored out of range), the success answers
(204 / 200 / 201 with PostResponse / 303 redirect), authorization as the signer, and the
server's memory staying flat while a large file streams through.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import re
import socket
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests
from botocore.exceptions import ClientError

import leakcheck
import s3util
from conftest import Server, make_client
from test_accounts import admin, new_account, new_user

REGION = "us-east-1"


@pytest.fixture(scope="module")
def srv(tessera_bin, tmp_path_factory):
    s = Server(tessera_bin, tmp_path_factory.mktemp("post"), name="post")
    yield s
    s.close()


@pytest.fixture(scope="module")
def s3c(srv):
    # SigV4 presigned posts (boto3 signs them with SigV2 unless the client says s3v4).
    return srv.client(signature_version="s3v4")


def v4_client(srv: Server, key: dict):
    return make_client(srv.endpoint, key["access_key_id"], key["secret_access_key"],
                       signature_version="s3v4")


@pytest.fixture
def bkt(s3c):
    name = s3util.unique_bucket_name("post")
    s3c.create_bucket(Bucket=name)
    yield name
    s3util.empty_and_delete_bucket(s3c, name)


def url_of(srv: Server, bucket: str) -> str:
    return f"{srv.endpoint}/{bucket}"


def post(srv: Server, bucket: str, fields: dict, file=b"hello", filename="hello.txt",
         after: dict | None = None, **kw) -> requests.Response:
    """POSTs `fields` (in order), then the file part, then `after` (fields S3 ignores)."""
    parts = [(k, (None, v)) for k, v in fields.items()]
    parts.append(("file", (filename, file)))
    parts += [(k, (None, v)) for k, v in (after or {}).items()]
    kw.setdefault("allow_redirects", False)
    return requests.post(url_of(srv, bucket), files=parts, timeout=120, **kw)


def error_of(r: requests.Response) -> tuple[str | None, str | None]:
    root = ET.fromstring(r.content)
    return root.findtext("Code"), root.findtext("Message")


def presigned(s3c, bucket: str, key: str, fields=None, conditions=None, expires=600) -> dict:
    return s3c.generate_presigned_post(bucket, key, Fields=fields, Conditions=conditions,
                                       ExpiresIn=expires)


def v2_form(srv: Server, policy_doc: dict, fields: dict, access_key=None, secret_key=None) -> dict:
    """A SigV2-signed form (AWSAccessKeyId, policy, signature), as ceph/s3-tests builds it."""
    policy = base64.b64encode(json.dumps(policy_doc).encode()).decode()
    secret = secret_key or srv.secret_key
    signature = base64.b64encode(hmac.new(secret.encode(), policy.encode(), hashlib.sha1).digest()).decode()
    return {**fields, "AWSAccessKeyId": access_key or srv.access_key, "policy": policy,
            "signature": signature}


def expiration(seconds: int = 600) -> str:
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def v4_form(srv: Server, policy_doc: dict, fields: dict, secret_key=None, region=REGION) -> dict:
    """A SigV4-signed form built by hand (policy conditions as given, no automatic ones)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    day, amz_date = now.strftime("%Y%m%d"), now.strftime("%Y%m%dT%H%M%SZ")
    credential = f"{srv.access_key}/{day}/{region}/s3/aws4_request"
    policy = base64.b64encode(json.dumps(policy_doc).encode()).decode()

    def h(key, msg):
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    key = h(h(h(h(("AWS4" + (secret_key or srv.secret_key)).encode(), day), region), "s3"),
            "aws4_request")
    signature = hmac.new(key, policy.encode(), hashlib.sha256).hexdigest()
    return {**fields, "x-amz-algorithm": "AWS4-HMAC-SHA256", "x-amz-credential": credential,
            "x-amz-date": amz_date, "policy": policy, "x-amz-signature": signature}


def v4_policy(bucket: str, *conditions, expires: str | None = None) -> dict:
    """A policy that also names the SigV4 fields the form will carry (as boto3 does)."""
    return {"expiration": expires or expiration(),
            "conditions": [{"bucket": bucket}, ["starts-with", "$x-amz-algorithm", ""],
                           ["starts-with", "$x-amz-credential", ""],
                           ["starts-with", "$x-amz-date", ""], *conditions]}


def missing(s3c, bucket: str, key: str) -> bool:
    try:
        s3c.head_object(Bucket=bucket, Key=key)
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    return False


# ---------------------------------------------------------------------------------------
# Success
# ---------------------------------------------------------------------------------------


def test_presigned_post_stores_the_file_with_its_fields(srv, s3c, bkt):
    p = presigned(s3c, bkt, "up/${filename}",
                  fields={"Content-Type": "text/plain", "x-amz-meta-color": "blue",
                          "Cache-Control": "max-age=60", "Content-Disposition": "inline"},
                  conditions=[{"Content-Type": "text/plain"}, {"x-amz-meta-color": "blue"},
                              ["starts-with", "$Cache-Control", "max-age"],
                              {"Content-Disposition": "inline"},
                              ["content-length-range", 1, 1000]])
    assert p["url"] == url_of(srv, bkt)
    r = post(srv, bkt, p["fields"], file=b"hello world", filename="greeting.txt")
    assert r.status_code == 204, r.text
    assert r.content == b""
    etag = f'"{s3util.md5_hex(b"hello world")}"'
    assert r.headers["ETag"] == etag
    assert r.headers["Location"] == f"{srv.endpoint}/{bkt}/up/greeting.txt"
    assert r.headers.get("x-amz-request-id")
    got = s3c.get_object(Bucket=bkt, Key="up/greeting.txt")
    assert got["Body"].read() == b"hello world"
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"color": "blue"}
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == "inline"
    assert got["ETag"] == etag


def test_success_action_status_and_redirect(srv, s3c, bkt):
    def form(key, extra_fields, extra_conditions):
        return presigned(s3c, bkt, key, fields=extra_fields, conditions=extra_conditions)["fields"]

    r = post(srv, bkt, form("k201", {"success_action_status": "201"},
                            [{"success_action_status": "201"}]))
    assert r.status_code == 201, r.text
    assert r.headers["Content-Type"] == "application/xml"
    doc = ET.fromstring(r.content)
    assert doc.tag == "PostResponse"
    etag = f'"{s3util.md5_hex(b"hello")}"'
    assert doc.findtext("Location") == f"{srv.endpoint}/{bkt}/k201"
    assert doc.findtext("Bucket") == bkt
    assert doc.findtext("Key") == "k201"
    assert doc.findtext("ETag") == etag
    assert r.headers["ETag"] == etag

    r = post(srv, bkt, form("k200", {"success_action_status": "200"},
                            [{"success_action_status": "200"}]))
    assert (r.status_code, r.content) == (200, b"")
    # Any other value answers 204, as S3.
    r = post(srv, bkt, form("k404", {"success_action_status": "404"},
                            [{"success_action_status": "404"}]))
    assert (r.status_code, r.content) == (204, b"")

    target = "http://app.example/done?from=post"
    r = post(srv, bkt, form("dir/k 303", {"success_action_redirect": target},
                            [{"success_action_redirect": target}]))
    assert r.status_code == 303, r.text
    assert r.headers["Location"] == (f"{target}&bucket={bkt}&key=dir%2Fk%20303"
                                     f"&etag=%22{s3util.md5_hex(b'hello')}%22")
    assert r.headers["ETag"] == etag
    # The older `redirect` field works too; a redirect that is no URL falls back to the status.
    r = post(srv, bkt, form("kr", {"redirect": "http://app.example/r"},
                            [{"redirect": "http://app.example/r"}]))
    assert r.status_code == 303
    assert r.headers["Location"].startswith("http://app.example/r?bucket=")
    r = post(srv, bkt, form("kbad", {"success_action_redirect": "not a url"},
                            [{"success_action_redirect": "not a url"}]))
    assert r.status_code == 204
    for key in ["k201", "k200", "k404", "dir/k 303", "kr", "kbad"]:
        assert s3c.get_object(Bucket=bkt, Key=key)["Body"].read() == b"hello"


def test_filename_substitution_and_fields_after_the_file(srv, s3c, bkt):
    p = presigned(s3c, bkt, "user/${filename}")
    # The browser's path before the name is dropped; fields after the file are ignored.
    r = post(srv, bkt, p["fields"], file=b"data", filename="C:\\Users\\me\\photo.jpg",
             after={"x-amz-meta-late": "1", "key": "other"})
    assert r.status_code == 204, r.text
    got = s3c.get_object(Bucket=bkt, Key="user/photo.jpg")
    assert got["Body"].read() == b"data"
    assert got["Metadata"] == {}
    assert missing(s3c, bkt, "other")


def test_tagging_acl_checksum_and_encryption_fields(srv, s3c, bkt):
    tagging = ("<Tagging><TagSet><Tag><Key>team</Key><Value>web ui</Value></Tag>"
               "<Tag><Key>n</Key><Value>1</Value></Tag></TagSet></Tagging>")
    data = b"tagged and checked"
    sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
    fields = {"acl": "public-read", "tagging": tagging, "x-amz-checksum-sha256": sha,
              "x-amz-server-side-encryption": "AES256", "x-amz-storage-class": "STANDARD_IA"}
    conditions = [{k: v} for k, v in fields.items()]
    p = presigned(s3c, bkt, "t", fields=fields, conditions=conditions)
    r = post(srv, bkt, p["fields"], file=data)
    assert r.status_code == 204, r.text
    assert r.headers["x-amz-server-side-encryption"] == "AES256"
    assert r.headers["x-amz-checksum-sha256"] == sha
    tags = s3c.get_object_tagging(Bucket=bkt, Key="t")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("n", "1"), ("team", "web ui")]
    head = s3c.head_object(Bucket=bkt, Key="t", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == sha
    assert head["ServerSideEncryption"] == "AES256"
    assert head["StorageClass"] == "STANDARD_IA"
    # public-read: anyone may GET it.
    assert requests.get(f"{url_of(srv, bkt)}/t", timeout=30).content == data
    # A checksum that does not match stores nothing.
    bad = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    fields = {"x-amz-checksum-sha256": bad}
    p = presigned(s3c, bkt, "t2", fields=fields, conditions=[fields])
    r = post(srv, bkt, p["fields"], file=data)
    assert r.status_code == 400
    assert error_of(r)[0] == "BadDigest"
    assert missing(s3c, bkt, "t2")


# ---------------------------------------------------------------------------------------
# The policy
# ---------------------------------------------------------------------------------------


def test_every_condition_kind_passes_and_fails(srv, s3c, bkt):
    conditions = [
        ["eq", "$x-amz-meta-a", "exact"],
        ["starts-with", "$x-amz-meta-b", "pre"],
        ["starts-with", "$x-amz-meta-any", ""],
        {"x-amz-meta-c": "obj"},
        ["starts-with", "$Content-Type", "image/"],
    ]
    good = {"x-amz-meta-a": "exact", "x-amz-meta-b": "prefix", "x-amz-meta-any": "whatever",
            "x-amz-meta-c": "obj", "Content-Type": "image/png"}
    p = presigned(s3c, bkt, "c", fields=good, conditions=conditions)
    r = post(srv, bkt, p["fields"])
    assert r.status_code == 204, r.text
    for name, value, failed in [
        ("x-amz-meta-a", "exactly", '["eq", "$x-amz-meta-a", "exact"]'),
        ("x-amz-meta-b", "post", '["starts-with", "$x-amz-meta-b", "pre"]'),
        ("x-amz-meta-c", "OBJ", '["eq", "$x-amz-meta-c", "obj"]'),
        # A Content-Type list passes only if each entry does.
        ("Content-Type", "image/png, text/html", '["starts-with", "$Content-Type", "image/"]'),
    ]:
        fields = dict(p["fields"], **{name: value})
        r = post(srv, bkt, fields)
        assert r.status_code == 403, (name, r.text)
        code, message = error_of(r)
        assert code == "AccessDenied"
        assert message == f"Invalid according to Policy: Policy Condition failed: {failed}"
    # The key condition sees the key after ${filename} is replaced.
    p = presigned(s3c, bkt, "uploads/${filename}")
    assert p["fields"]["key"] == "uploads/${filename}"
    assert post(srv, bkt, p["fields"], filename="x.bin").status_code == 204
    fields = dict(p["fields"], key="${filename}")
    r = post(srv, bkt, fields, filename="x.bin")
    assert r.status_code == 403 and "Policy Condition failed" in error_of(r)[1]
    # The bucket condition is the URL's bucket.
    other = s3util.unique_bucket_name("post")
    s3c.create_bucket(Bucket=other)
    try:
        p = presigned(s3c, bkt, "k")
        r = post(srv, other, p["fields"])
        assert r.status_code == 403
        assert error_of(r)[1].endswith(f'["eq", "$bucket", "{bkt}"]')
        assert missing(s3c, other, "k")
    finally:
        s3util.empty_and_delete_bucket(s3c, other)


def test_field_names_are_case_insensitive(srv, s3c, bkt):
    doc = {"expiration": expiration(), "conditions": [
        {"bUcKeT": bkt}, ["StArTs-WiTh", "$KeY", "foo"], {"AcL": "private"},
        ["StArTs-WiTh", "$CoNtEnT-TyPe", "text/plain"], ["content-length-range", 0, 1024]]}
    form = v2_form(srv, doc, {"kEy": "foo.txt", "aCl": "private", "Content-Type": "text/plain"})
    form["pOLICy"] = form.pop("policy")
    r = post(srv, bkt, form)
    assert r.status_code == 204, r.text
    assert s3c.get_object(Bucket=bkt, Key="foo.txt")["ContentType"] == "text/plain"


def test_extra_fields_are_refused(srv, s3c, bkt):
    p = presigned(s3c, bkt, "e")
    fields = dict(p["fields"], **{"X-Amz-Meta-Extra": "1", "x-ignore-note": "fine"})
    r = post(srv, bkt, fields)
    assert r.status_code == 403
    # S3 names the field in lower case.
    assert error_of(r) == ("AccessDenied", "Invalid according to Policy: Extra input fields: x-amz-meta-extra")
    # A `bucket` field needs its condition too (boto3 writes one).
    doc = v4_policy(bkt, ["starts-with", "$key", ""])
    doc["conditions"].pop(0)
    r = post(srv, bkt, v4_form(srv, doc, {"key": "e", "bucket": bkt}))
    assert error_of(r)[1] == "Invalid according to Policy: Extra input fields: bucket"
    assert missing(s3c, bkt, "e")
    # x-ignore-* fields need no condition.
    fields = dict(p["fields"], **{"x-ignore-note": "fine"})
    assert post(srv, bkt, fields).status_code == 204


def test_expired_policy(srv, s3c, bkt):
    doc = v4_policy(bkt, ["starts-with", "$key", ""], expires=expiration(-60))
    r = post(srv, bkt, v4_form(srv, doc, {"key": "late"}))
    assert r.status_code == 403
    assert error_of(r) == ("AccessDenied", "Invalid according to Policy: Policy expired.")
    assert missing(s3c, bkt, "late")


def test_bad_signatures_and_keys(srv, s3c, bkt):
    p = presigned(s3c, bkt, "s")
    sig = p["fields"]["x-amz-signature"]
    fields = dict(p["fields"], **{"x-amz-signature": ("0" if sig[0] != "0" else "1") + sig[1:]})
    r = post(srv, bkt, fields)
    assert r.status_code == 403 and error_of(r)[0] == "SignatureDoesNotMatch"
    # The policy is what is signed: another policy under the same signature fails.
    doc = v4_policy(bkt, ["starts-with", "$key", ""])
    form = v4_form(srv, doc, {"key": "s"})
    form["policy"] = base64.b64encode(json.dumps(dict(doc, expiration=expiration(9999))).encode()).decode()
    assert error_of(post(srv, bkt, form))[0] == "SignatureDoesNotMatch"
    form = v4_form(srv, doc, {"key": "s"}, secret_key="wrong")
    assert error_of(post(srv, bkt, form))[0] == "SignatureDoesNotMatch"
    form = v4_form(srv, doc, {"key": "s"})
    form["x-amz-credential"] = form["x-amz-credential"].replace(srv.access_key, "AKIANOSUCHKEY0000000")
    r = post(srv, bkt, form)
    assert r.status_code == 403 and error_of(r)[0] == "InvalidAccessKeyId"
    form = v4_form(srv, doc, {"key": "s"}, region="eu-west-1")
    r = post(srv, bkt, form)
    assert r.status_code == 400 and "region 'eu-west-1' is wrong" in error_of(r)[1]
    # SigV2 with a wrong signature.
    form = v2_form(srv, {"expiration": expiration(), "conditions": [["starts-with", "$key", ""]]},
                   {"key": "s"}, secret_key="wrong")
    r = post(srv, bkt, form)
    assert r.status_code == 403 and error_of(r)[0] == "SignatureDoesNotMatch"
    assert missing(s3c, bkt, "s")


def test_boto3_sigv2_presigned_post(srv, s3c, bkt):
    p = presigned(srv.client(), bkt, "v2/${filename}", fields={"acl": "private"},
                  conditions=[{"acl": "private"}])
    assert "AWSAccessKeyId" in p["fields"] and "signature" in p["fields"]
    r = post(srv, bkt, p["fields"], file=b"two", filename="b.txt")
    assert r.status_code == 204, r.text
    assert s3c.get_object(Bucket=bkt, Key="v2/b.txt")["Body"].read() == b"two"


def test_sigv2_form_as_ceph_s3_tests_sends_it(srv, s3c, bkt):
    doc = {"expiration": expiration(), "conditions": [
        {"bucket": bkt}, ["starts-with", "$key", "foo"], {"acl": "private"},
        ["starts-with", "$Content-Type", "text/plain"], ["content-length-range", 0, 1024]]}
    form = v2_form(srv, doc, {"key": "foo.txt", "acl": "private", "Content-Type": "text/plain"})
    r = post(srv, bkt, form, file=b"bar")
    assert r.status_code == 204, r.text
    assert s3c.get_object(Bucket=bkt, Key="foo.txt")["Body"].read() == b"bar"


@pytest.mark.parametrize("case, status, code", [
    ("bad base64", 400, "InvalidPolicyDocument"),
    ("bad json", 400, "InvalidPolicyDocument"),
    ("no expiration", 400, "InvalidPolicyDocument"),
    ("bad expiration", 400, "InvalidPolicyDocument"),
    ("no conditions", 400, "InvalidPolicyDocument"),
    ("empty condition", 400, "InvalidPolicyDocument"),
    ("one-argument range", 400, "InvalidPolicyDocument"),
    ("negative range", 400, "InvalidPolicyDocument"),
    ("no key", 400, "InvalidArgument"),
    ("no signature", 400, "InvalidArgument"),
    ("signature without policy", 400, "InvalidArgument"),
])
def test_malformed_policies_and_forms(srv, s3c, bkt, case, status, code):
    base = [["starts-with", "$key", ""]]
    docs = {
        "no expiration": {"conditions": base},
        "bad expiration": {"expiration": "2030-01-01 00:00:00", "conditions": base},
        "no conditions": {"expiration": expiration()},
        "empty condition": {"expiration": expiration(), "conditions": [{}]},
        "one-argument range": {"expiration": expiration(), "conditions": base + [["content-length-range", 0]]},
        "negative range": {"expiration": expiration(), "conditions": base + [["content-length-range", -1, 0]]},
    }
    doc = docs.get(case, {"expiration": expiration(), "conditions": base})
    form = v2_form(srv, doc, {"key": "m"})
    if case == "bad base64":
        form = v2_form(srv, doc, {"key": "m"})
        form["policy"] = "!!not base64!!"
        form["signature"] = base64.b64encode(hmac.new(srv.secret_key.encode(), form["policy"].encode(),
                                                      hashlib.sha1).digest()).decode()
    elif case == "bad json":
        form["policy"] = base64.b64encode(b"{not json").decode()
        form["signature"] = base64.b64encode(hmac.new(srv.secret_key.encode(), form["policy"].encode(),
                                                      hashlib.sha1).digest()).decode()
    elif case == "no key":
        del form["key"]
    elif case == "no signature":
        del form["signature"]
    elif case == "signature without policy":
        del form["policy"]
    r = post(srv, bkt, form)
    assert (r.status_code, error_of(r)[0]) == (status, code), r.text
    assert missing(s3c, bkt, "m")


def test_malformed_bodies(srv, bkt):
    url = url_of(srv, bkt)
    # No file part.
    r = requests.post(url, files=[("key", (None, "k"))], timeout=30)
    assert (r.status_code, error_of(r)[0]) == (400, "IncorrectNumberOfFilesInPostRequest")
    # Not multipart at all, or without a boundary.
    r = requests.post(url, data=b"garbage", timeout=30,
                      headers={"Content-Type": "multipart/form-data; boundary=xyz"})
    assert (r.status_code, error_of(r)[0]) == (400, "MalformedPOSTRequest")
    r = requests.post(url, data=b"garbage", timeout=30, headers={"Content-Type": "multipart/form-data"})
    assert (r.status_code, error_of(r)[0]) == (400, "MalformedPOSTRequest")
    # Fields before the file are bounded (S3: about 20 KB).
    r = requests.post(url, files=[("key", (None, "k")), ("x-ignore-pad", (None, "p" * 30_000)),
                                  ("file", ("f", b"x"))], timeout=30)
    assert (r.status_code, error_of(r)[0]) == (400, "MaxPostPreDataLengthExceededError")
    # A form to an object URL is not an upload.
    r = requests.post(f"{url}/some/key", files=[("key", (None, "k")), ("file", ("f", b"x"))], timeout=30)
    assert (r.status_code, error_of(r)[0]) == (405, "MethodNotAllowed")


# ---------------------------------------------------------------------------------------
# content-length-range, streaming, cut uploads
# ---------------------------------------------------------------------------------------


def test_content_length_range_enforced_while_streaming(srv, s3c, bkt):
    p = presigned(s3c, bkt, "r", conditions=[["content-length-range", 10, 100_000]])
    r = post(srv, bkt, p["fields"], file=b"x" * 100_001)
    assert r.status_code == 400
    assert error_of(r)[0] == "EntityTooLarge"
    r = post(srv, bkt, p["fields"], file=b"x" * (3 * 1024 * 1024))
    assert (r.status_code, error_of(r)[0]) == (400, "EntityTooLarge")
    r = post(srv, bkt, p["fields"], file=b"x" * 9)
    assert (r.status_code, error_of(r)[0]) == (400, "EntityTooSmall")
    assert missing(s3c, bkt, "r")
    for size in (10, 100_000):
        assert post(srv, bkt, p["fields"], file=b"y" * size).status_code == 204
        assert s3c.head_object(Bucket=bkt, Key="r")["ContentLength"] == size
    report = leakcheck.leak_report(srv)
    assert report["unreferenced"] == [] and report["temporary"] == [], report


def test_client_vanishing_mid_upload_leaves_nothing(srv, s3c, bkt):
    p = presigned(s3c, bkt, "cut")
    boundary = uuid.uuid4().hex
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in p["fields"].items())
    head += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'.encode()
    announced = len(head) + 10 * 1024 * 1024
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    sock.sendall((f"POST /{bkt} HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
                  f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                  f"Content-Length: {announced}\r\n\r\n").encode() + head + b"z" * (2 * 1024 * 1024))
    time.sleep(0.5)
    sock.close()
    time.sleep(0.5)
    assert missing(s3c, bkt, "cut")
    report = leakcheck.leak_report(srv)
    assert report["unreferenced"] == [] and report["temporary"] == [], report


@pytest.mark.parametrize("stall_in", ["fields", "file"])
def test_stalled_form_times_out(make_server, stall_in):
    server = make_server("--body-timeout", "2")
    s3c = server.client(signature_version="s3v4")
    bucket = s3util.unique_bucket_name("post")
    s3c.create_bucket(Bucket=bucket)
    p = presigned(s3c, bucket, "slow")
    boundary = uuid.uuid4().hex
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in p["fields"].items())
    body += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'.encode()
    body += b"x" * 1000
    sent = body[:len(body) // 3] if stall_in == "fields" else body
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall((f"POST /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                  f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                  f"Content-Length: {len(body) + 100_000}\r\n\r\n").encode() + sent)
    started = time.monotonic()
    answer = b""
    while b"</Error>" not in answer:
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    waited = time.monotonic() - started
    sock.close()
    assert answer.startswith(b"HTTP/1.1 400"), answer
    assert b"<Code>RequestTimeout</Code>" in answer, answer
    assert 1.5 <= waited <= 8, waited
    assert missing(s3c, bucket, "slow")
    report = leakcheck.leak_report(server)
    assert report["unreferenced"] == [] and report["temporary"] == [], report
    s3util.empty_and_delete_bucket(s3c, bucket)


def vm_hwm_kib(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmHWM:\s+(\d+) kB", text, re.M).group(1))


def test_large_upload_streams_without_buffering(make_server):
    server = make_server()
    s3c = server.client()
    bucket = s3util.unique_bucket_name("post")
    s3c.create_bucket(Bucket=bucket)
    # Warm up (allocator arenas, caches) before the baseline.
    p = presigned(s3c, bucket, "big")
    assert post(server, bucket, p["fields"], file=b"w" * (1024 * 1024)).status_code == 204
    before = vm_hwm_kib(server.pid)
    size = 50 * 1024 * 1024
    data = s3util.random_bytes(size)
    r = post(server, bucket, p["fields"], file=data)
    assert r.status_code == 204, r.text
    grown_mib = (vm_hwm_kib(server.pid) - before) / 1024
    assert grown_mib < 16, f"peak RSS grew {grown_mib:.1f} MiB for a 50 MiB upload"
    got = s3c.get_object(Bucket=bucket, Key="big")
    assert got["ContentLength"] == size
    assert got["ETag"] == f'"{s3util.md5_hex(data)}"'
    s3util.empty_and_delete_bucket(s3c, bucket)


# ---------------------------------------------------------------------------------------
# Authorization
# ---------------------------------------------------------------------------------------


def test_anonymous_form_needs_a_public_bucket(srv, s3c, bkt):
    fields = {"key": "anon.txt", "Content-Type": "text/plain"}
    r = post(srv, bkt, fields)
    assert r.status_code == 403 and error_of(r)[0] == "AccessDenied"
    assert missing(s3c, bkt, "anon.txt")
    s3c.put_bucket_policy(Bucket=bkt, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject",
                       "Resource": f"arn:aws:s3:::{bkt}/*"}]}))
    r = post(srv, bkt, dict(fields, success_action_status="201"))
    assert r.status_code == 201, r.text
    assert s3c.get_object(Bucket=bkt, Key="anon.txt")["Body"].read() == b"hello"
    # The bucket policy can tell a form upload apart: s3:authType is POST.
    s3c.put_bucket_policy(Bucket=bkt, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject",
                       "Resource": f"arn:aws:s3:::{bkt}/*",
                       "Condition": {"StringEquals": {"s3:authType": "REST-HEADER"}}}]}))
    assert post(srv, bkt, fields).status_code == 403
    s3c.delete_bucket_policy(Bucket=bkt)


def test_public_read_write_bucket_acl_allows_anonymous_forms(srv, s3c):
    name = s3util.unique_bucket_name("post")
    s3c.create_bucket(Bucket=name, ACL="public-read-write")
    try:
        r = post(srv, name, {"key": "foo.txt", "acl": "public-read", "Content-Type": "text/plain"},
                 file=b"bar")
        assert r.status_code == 204, r.text
        assert s3c.get_object(Bucket=name, Key="foo.txt")["Body"].read() == b"bar"
    finally:
        s3util.empty_and_delete_bucket(s3c, name)


def test_the_signer_must_be_allowed_to_put(srv):
    acct, owner = new_account(srv, "post")
    name = s3util.unique_bucket_name("post")
    owner.create_bucket(Bucket=name)
    try:
        _, key, _ = new_user(srv, acct, policy={
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
        p = presigned(v4_client(srv, key), name, "by-reader")
        r = post(srv, name, p["fields"])
        assert r.status_code == 403 and error_of(r)[0] == "AccessDenied", r.text
        assert missing(owner, name, "by-reader")
        _, key, _ = new_user(srv, acct, policy={
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:PutObject",
                           "Resource": f"arn:aws:s3:::{name}/in/*"}]})
        writer = v4_client(srv, key)
        p = presigned(writer, name, "in/ok")
        assert post(srv, name, p["fields"]).status_code == 204
        p = presigned(writer, name, "out/no")
        assert post(srv, name, p["fields"]).status_code == 403
        assert owner.get_object(Bucket=name, Key="in/ok")["Body"].read() == b"hello"
        # Another account's root may not write to the bucket either.
        stranger, _ = new_account(srv, "post")
        p = presigned(v4_client(srv, stranger), name, "in/x")
        assert post(srv, name, p["fields"]).status_code == 403
    finally:
        s3util.empty_and_delete_bucket(owner, name)


def test_sigv2_forms_refused_when_sigv2_is_off(make_server):
    server = make_server("--no-sigv2")
    s3c = server.client(signature_version="s3v4")
    bucket = s3util.unique_bucket_name("post")
    s3c.create_bucket(Bucket=bucket)
    form = v2_form(server, {"expiration": expiration(), "conditions": [["starts-with", "$key", ""]]},
                   {"key": "k"})
    r = post(server, bucket, form)
    assert r.status_code == 403 and error_of(r)[0] == "AccessDenied"
    # SigV4 forms still work.
    assert post(server, bucket, presigned(s3c, bucket, "k")["fields"]).status_code == 204
    s3util.empty_and_delete_bucket(s3c, bucket)


def test_virtual_host_style(make_server):
    server = make_server("--domain", "s3.test")
    s3c = server.client(signature_version="s3v4")
    bucket = s3util.unique_bucket_name("post")
    s3c.create_bucket(Bucket=bucket)
    p = presigned(s3c, bucket, "vh/${filename}")
    parts = [(k, (None, v)) for k, v in p["fields"].items()] + [("file", ("a.txt", b"vhost"))]
    r = requests.post(f"{server.endpoint}/", files=parts, timeout=30, allow_redirects=False,
                      headers={"Host": f"{bucket}.s3.test:{server.port}"})
    assert r.status_code == 204, r.text
    assert r.headers["Location"] == f"http://{bucket}.s3.test:{server.port}/vh/a.txt"
    assert s3c.get_object(Bucket=bucket, Key="vh/a.txt")["Body"].read() == b"vhost"
    s3util.empty_and_delete_bucket(s3c, bucket)
