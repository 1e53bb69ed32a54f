"""Object versioning with real clients: PutBucketVersioning, versions and delete markers,
reads, copies and deletes by version id, ListObjectVersions, the multipart user guide's
initiation-order rule (its 10:00 / 11:00 example), suspended buckets, the version actions of
authorization; and the object attributes kept with each version (storage class, redirect).
"""

from __future__ import annotations

import json
import re

import pytest
from botocore.exceptions import ClientError

from test_accounts import error_of, new_account, new_user

MIB = 1024 * 1024


def fails(call, code: str, status: int):
    with pytest.raises(ClientError) as e:
        call()
    assert error_of(e) == (code, status), e.value.response
    return e.value.response


def versioned(s3, bucket, status="Enabled"):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})


def body(s3, bucket, key, **kw) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key, **kw)["Body"].read()


def listing(s3, bucket, **kw):
    """[(key, version id, is latest, "v" | "m")] of one ListObjectVersions call, in S3's order
    (versions and markers merged by key, newest first)."""
    resp = s3.list_object_versions(Bucket=bucket, **kw)
    rows = [(v["Key"], v["VersionId"], v["IsLatest"], "v", v["LastModified"]) for v in resp.get("Versions", [])]
    rows += [(m["Key"], m["VersionId"], m["IsLatest"], "m", m["LastModified"]) for m in resp.get("DeleteMarkers", [])]
    # Within a key, newest first: version ids sort newest first by design.
    rows.sort(key=lambda r: (r[0].encode(), r[1] if r[1] != "null" else ""))
    return [r[:4] for r in rows], resp


def test_bucket_versioning_states(s3, bucket):
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    versioned(s3, bucket)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    versioned(s3, bucket, "Suspended")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    fails(lambda: versioned(s3, bucket, "Disabled"), "MalformedXML", 400)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    fails(lambda: s3.get_bucket_versioning(Bucket=bucket + "-missing"), "NoSuchBucket", 404)


def test_versions_reads_and_listing(s3, bucket):
    versioned(s3, bucket)
    ids = [s3.put_object(Bucket=bucket, Key="k", Body=f"v{i}".encode())["VersionId"] for i in range(3)]
    assert len(set(ids)) == 3 and all(re.fullmatch(r"[0-9a-f]{35}", v) for v in ids)
    assert ids == sorted(ids, reverse=True) or ids == sorted(ids)[::-1]
    assert body(s3, bucket, "k") == b"v2"
    for i, v in enumerate(ids):
        assert body(s3, bucket, "k", VersionId=v) == f"v{i}".encode()
        head = s3.head_object(Bucket=bucket, Key="k", VersionId=v)
        assert head["VersionId"] == v and head["ContentLength"] == 2
    assert s3.get_object(Bucket=bucket, Key="k")["VersionId"] == ids[2]
    rows, _ = listing(s3, bucket)
    assert rows == [("k", ids[2], True, "v"), ("k", ids[1], False, "v"), ("k", ids[0], False, "v")]
    # A malformed version id is 400; a well-formed unknown one 404.
    fails(lambda: s3.get_object(Bucket=bucket, Key="k", VersionId="nope"), "InvalidArgument", 400)
    fails(lambda: s3.get_object(Bucket=bucket, Key="k", VersionId="0" * 35), "NoSuchVersion", 404)
    fails(lambda: s3.get_object(Bucket=bucket, Key="k", VersionId="null"), "NoSuchVersion", 404)
    # Only the current version shows in key listings.
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("k", 2)]


def test_delete_markers(s3, bucket):
    versioned(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]
    assert marker != v1
    resp = fails(lambda: s3.get_object(Bucket=bucket, Key="k"), "NoSuchKey", 404)
    headers = resp["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-delete-marker"] == "true" and headers["x-amz-version-id"] == marker
    fails(lambda: s3.head_object(Bucket=bucket, Key="k"), "404", 404)
    # A marker named by version id: 405.
    resp = fails(lambda: s3.get_object(Bucket=bucket, Key="k", VersionId=marker), "MethodNotAllowed", 405)
    assert resp["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    assert body(s3, bucket, "k", VersionId=v1) == b"one"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    rows, _ = listing(s3, bucket)
    assert rows == [("k", marker, True, "m"), ("k", v1, False, "v")]
    # Deleting the marker brings the object back.
    removed = s3.delete_object(Bucket=bucket, Key="k", VersionId=marker)
    assert removed["DeleteMarker"] is True and removed["VersionId"] == marker
    assert body(s3, bucket, "k") == b"one"
    # A write conditioned on absence succeeds over a marker only.
    s3.delete_object(Bucket=bucket, Key="k")
    s3.put_object(Bucket=bucket, Key="k", Body=b"two", IfNoneMatch="*")
    fails(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"3", IfNoneMatch="*"), "PreconditionFailed", 412)


def test_delete_version_promotes_the_previous(s3, bucket):
    versioned(s3, bucket)
    v = [s3.put_object(Bucket=bucket, Key="k", Body=f"v{i}".encode())["VersionId"] for i in range(3)]
    removed = s3.delete_object(Bucket=bucket, Key="k", VersionId=v[2])
    assert removed["VersionId"] == v[2] and "DeleteMarker" not in removed
    assert body(s3, bucket, "k") == b"v1"
    s3.delete_object(Bucket=bucket, Key="k", VersionId=v[0])
    assert body(s3, bucket, "k") == b"v1"
    rows, _ = listing(s3, bucket)
    assert rows == [("k", v[1], True, "v")]
    # Deleting a version that is gone is not an error.
    s3.delete_object(Bucket=bucket, Key="k", VersionId=v[0])
    fails(lambda: s3.delete_object(Bucket=bucket, Key="k", VersionId="bad"), "InvalidArgument", 400)
    # The bucket is not empty while any version remains.
    s3.delete_object(Bucket=bucket, Key="k")
    fails(lambda: s3.delete_bucket(Bucket=bucket), "BucketNotEmpty", 409)


def test_suspended_bucket_replaces_the_null_version(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"before")
    versioned(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"versioned")["VersionId"]
    # The object written before versioning is the null version.
    assert body(s3, bucket, "k", VersionId="null") == b"before"
    versioned(s3, bucket, "Suspended")
    assert "VersionId" not in s3.put_object(Bucket=bucket, Key="k", Body=b"null-1")
    s3.put_object(Bucket=bucket, Key="k", Body=b"null-2")
    rows, _ = listing(s3, bucket)
    assert rows == [("k", "null", True, "v"), ("k", v1, False, "v")]
    assert body(s3, bucket, "k") == b"null-2"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["VersionId"] == "null"
    # DeleteObject adds the null delete marker in place of the null version.
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert deleted["DeleteMarker"] is True and deleted["VersionId"] == "null"
    rows, _ = listing(s3, bucket)
    assert rows == [("k", "null", True, "m"), ("k", v1, False, "v")]


def _multipart(s3, bucket, key, upload_id, fill: bytes):
    etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1,
                          Body=fill * (5 * MIB))["ETag"]
    last = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=2, Body=fill)["ETag"]
    return s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}, {"PartNumber": 2, "ETag": last}]})


def test_initiation_order_rule_of_the_user_guide(s3, bucket):
    """The user guide: an upload started at 10:00 and one started at 11:00 for the same key;
    the 11:00 one is current even though the 10:00 one completes after it. A PUT made between
    the two Creates takes its place between them."""
    versioned(s3, bucket)
    ten = s3.create_multipart_upload(Bucket=bucket, Key="report")["UploadId"]
    half_past = s3.put_object(Bucket=bucket, Key="report", Body=b"put at 10:30")["VersionId"]
    eleven = s3.create_multipart_upload(Bucket=bucket, Key="report")["UploadId"]
    done_eleven = _multipart(s3, bucket, "report", eleven, b"B")
    done_ten = _multipart(s3, bucket, "report", ten, b"A")
    assert done_ten["VersionId"] != done_eleven["VersionId"]
    got = s3.get_object(Bucket=bucket, Key="report")
    assert got["VersionId"] == done_eleven["VersionId"]
    assert got["ContentLength"] == 5 * MIB + 1 and got["Body"].read(1) == b"B"
    rows, _ = listing(s3, bucket)
    assert rows == [
        ("report", done_eleven["VersionId"], True, "v"),
        ("report", half_past, False, "v"),
        ("report", done_ten["VersionId"], False, "v"),
    ]
    assert body(s3, bucket, "report", VersionId=done_ten["VersionId"])[:1] == b"A"


def test_without_versioning_the_last_complete_wins(s3, bucket):
    """For buckets without versioning the guide says another request may take precedence:
    Tessera keeps the object whose Complete came last."""
    ten = s3.create_multipart_upload(Bucket=bucket, Key="report")["UploadId"]
    eleven = s3.create_multipart_upload(Bucket=bucket, Key="report")["UploadId"]
    _multipart(s3, bucket, "report", eleven, b"B")
    done = _multipart(s3, bucket, "report", ten, b"A")
    assert "VersionId" not in done
    assert body(s3, bucket, "report")[:1] == b"A"
    rows, _ = listing(s3, bucket)
    assert rows == [("report", "null", True, "v")]


def test_copies_name_a_source_version(s3, bucket):
    versioned(s3, bucket)
    old = s3.put_object(Bucket=bucket, Key="src", Body=b"old" * 2 * MIB)["VersionId"]
    s3.put_object(Bucket=bucket, Key="src", Body=b"new")
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src", "VersionId": old})
    assert copied["CopySourceVersionId"] == old and copied["VersionId"]
    assert body(s3, bucket, "dst") == b"old" * 2 * MIB
    # Restoring an old version onto its own key is allowed (it names a version).
    s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src", "VersionId": old})
    assert body(s3, bucket, "src")[:3] == b"old"
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    part = s3.upload_part_copy(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1,
                               CopySource={"Bucket": bucket, "Key": "src", "VersionId": old},
                               CopySourceRange="bytes=0-2")
    assert part["CopySourceVersionId"] == old
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]})
    assert body(s3, bucket, "mp") == b"old"
    marker = s3.delete_object(Bucket=bucket, Key="src")["VersionId"]
    fails(lambda: s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "src"}),
          "NoSuchKey", 404)
    fails(lambda: s3.copy_object(Bucket=bucket, Key="x",
                                 CopySource={"Bucket": bucket, "Key": "src", "VersionId": marker}),
          "MethodNotAllowed", 405)


def test_delete_objects_with_version_ids(s3, bucket):
    versioned(s3, bucket)
    a = [s3.put_object(Bucket=bucket, Key="a", Body=b"x")["VersionId"] for _ in range(2)]
    s3.put_object(Bucket=bucket, Key="b", Body=b"y")
    resp = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "a", "VersionId": a[0]}, {"Key": "b"}, {"Key": "c", "VersionId": "bad"}]})
    deleted = {d["Key"]: d for d in resp["Deleted"]}
    assert deleted["a"]["VersionId"] == a[0] and "DeleteMarker" not in deleted["a"]
    assert deleted["b"]["DeleteMarker"] is True and deleted["b"]["DeleteMarkerVersionId"]
    assert [(e["Key"], e["Code"]) for e in resp["Errors"]] == [("c", "InvalidArgument")]
    rows, _ = listing(s3, bucket)
    assert [(k, latest, kind) for k, _, latest, kind in rows] == [
        ("a", True, "v"), ("b", True, "m"), ("b", False, "v")]
    # Removing the marker by id reports it as a marker.
    marker = deleted["b"]["DeleteMarkerVersionId"]
    again = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "b", "VersionId": marker}]})
    assert again["Deleted"][0]["DeleteMarker"] is True
    assert again["Deleted"][0]["DeleteMarkerVersionId"] == marker


def test_list_object_versions_paging(s3, bucket):
    versioned(s3, bucket)
    expected = []
    for key in ["a", "dir/x", "dir/y", "z z"]:
        ids = [s3.put_object(Bucket=bucket, Key=key, Body=b".")["VersionId"] for _ in range(2)]
        if key == "dir/y":
            ids.append(s3.delete_object(Bucket=bucket, Key=key)["VersionId"])
        expected += [(key, v) for v in reversed(ids)]
    got, kw = [], {}
    while True:
        resp = s3.list_object_versions(Bucket=bucket, MaxKeys=2, **kw)
        page = [(v["Key"], v["VersionId"]) for v in resp.get("Versions", []) + resp.get("DeleteMarkers", [])]
        assert len(page) <= 2
        got += sorted(page, key=lambda r: (r[0], r[1]))
        if not resp["IsTruncated"]:
            break
        kw = {"KeyMarker": resp["NextKeyMarker"], "VersionIdMarker": resp["NextVersionIdMarker"]}
    assert sorted(got) == sorted(expected) and len(got) == len(expected)
    # The paginator walks the same.
    paged = [(v["Key"], v["VersionId"]) for p in s3.get_paginator("list_object_versions").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 3}) for v in p.get("Versions", []) + p.get("DeleteMarkers", [])]
    assert sorted(paged) == sorted(expected)
    # Delimiter and prefix; a key marker alone skips all of that key's versions.
    resp = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["dir/"]
    assert {v["Key"] for v in resp["Versions"]} == {"a", "z z"}
    resp = s3.list_object_versions(Bucket=bucket, Prefix="dir/", KeyMarker="dir/x")
    assert {v["Key"] for v in resp["Versions"]} == {"dir/y"}
    assert len(resp["DeleteMarkers"]) == 1
    resp = s3.list_object_versions(Bucket=bucket, EncodingType="url", Prefix="z")
    assert resp["Versions"][0]["Key"] == "z%20z"  # asked for by the caller: left encoded
    fails(lambda: s3.list_object_versions(Bucket=bucket, VersionIdMarker=expected[0][1]),
          "InvalidArgument", 400)


def test_version_actions_are_authorized(server, bucket_factory):
    """A user allowed s3:GetObject but not s3:GetObjectVersion reads the current version only;
    deleting a version needs s3:DeleteObjectVersion."""
    acct, owner = new_account(server, "ver")
    name = bucket_factory(owner)
    versioned(owner, name)
    v1 = owner.put_object(Bucket=name, Key="k", Body=b"1")["VersionId"]
    owner.put_object(Bucket=name, Key="k", Body=b"2")
    user_name, _, user = new_user(server, acct, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:DeleteObject"], "Resource": f"arn:aws:s3:::{name}/*"}]})
    assert body(user, name, "k") == b"2"
    fails(lambda: user.get_object(Bucket=name, Key="k", VersionId=v1), "AccessDenied", 403)
    fails(lambda: user.head_object(Bucket=name, Key="k", VersionId=v1), "403", 403)
    fails(lambda: user.delete_object(Bucket=name, Key="k", VersionId=v1), "AccessDenied", 403)
    resp = user.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "k", "VersionId": v1}]})
    assert [e["Code"] for e in resp["Errors"]] == ["AccessDenied"]
    fails(lambda: user.copy_object(Bucket=name, Key="copy", CopySource={"Bucket": name, "Key": "k", "VersionId": v1}),
          "AccessDenied", 403)
    # Deleting without a version id adds a marker: s3:DeleteObject suffices.
    assert user.delete_object(Bucket=name, Key="k")["DeleteMarker"] is True
    user_arn = f"arn:aws:iam::{acct['account_id']}:user/{user_name}"
    owner.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": user_arn},
         "Action": ["s3:GetObjectVersion"], "Resource": f"arn:aws:s3:::{name}/*"}]}))
    assert body(user, name, "k", VersionId=v1) == b"1"


def test_storage_class_and_redirect_are_kept(s3, bucket):
    s3.put_object(Bucket=bucket, Key="ia", Body=b"x", StorageClass="STANDARD_IA",
                  WebsiteRedirectLocation="/elsewhere.html")
    head = s3.head_object(Bucket=bucket, Key="ia")
    assert head["StorageClass"] == "STANDARD_IA"
    assert head["WebsiteRedirectLocation"] == "/elsewhere.html"
    assert s3.get_object(Bucket=bucket, Key="ia")["StorageClass"] == "STANDARD_IA"
    s3.put_object(Bucket=bucket, Key="std", Body=b"x", StorageClass="STANDARD")
    assert "StorageClass" not in s3.head_object(Bucket=bucket, Key="std")
    classes = {o["Key"]: o["StorageClass"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert classes == {"ia": "STANDARD_IA", "std": "STANDARD"}
    classes = {o["Key"]: o["StorageClass"] for o in s3.list_objects(Bucket=bucket)["Contents"]}
    assert classes == {"ia": "STANDARD_IA", "std": "STANDARD"}
    versions = {v["Key"]: v["StorageClass"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]}
    assert versions == {"ia": "STANDARD_IA", "std": "STANDARD"}
    fails(lambda: s3.put_object(Bucket=bucket, Key="bad", Body=b"x", StorageClass="PLATINUM"),
          "InvalidStorageClass", 400)
    fails(lambda: s3.create_multipart_upload(Bucket=bucket, Key="bad", StorageClass="PLATINUM"),
          "InvalidStorageClass", 400)
    # Multipart: the class shows on the upload, its parts and the object.
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", StorageClass="GLACIER_IR",
                                    WebsiteRedirectLocation="https://example.com/")["UploadId"]
    listed = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["StorageClass"]) for u in listed] == [("mp", "GLACIER_IR")]
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=1, Body=b"p")["ETag"]
    assert s3.list_parts(Bucket=bucket, Key="mp", UploadId=up)["StorageClass"] == "GLACIER_IR"
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    head = s3.head_object(Bucket=bucket, Key="mp")
    assert head["StorageClass"] == "GLACIER_IR" and head["WebsiteRedirectLocation"] == "https://example.com/"
    attrs = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=["StorageClass"])
    assert attrs["StorageClass"] == "GLACIER_IR"
    # A copy onto itself that changes only the storage class is allowed.
    s3.copy_object(Bucket=bucket, Key="ia", CopySource={"Bucket": bucket, "Key": "ia"}, StorageClass="ONEZONE_IA")
    assert s3.head_object(Bucket=bucket, Key="ia")["StorageClass"] == "ONEZONE_IA"


def test_versioning_with_the_aws_cli(aws, s3, bucket):
    aws("s3api", "put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", "Status=Enabled")
    status = json.loads(aws("s3api", "get-bucket-versioning", "--bucket", bucket).stdout)
    assert status["Status"] == "Enabled"
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    s3.put_object(Bucket=bucket, Key="k", Body=b"2")
    listed = json.loads(aws("s3api", "list-object-versions", "--bucket", bucket).stdout)
    assert [v["IsLatest"] for v in listed["Versions"]] == [True, False]


def test_versions_and_markers_interleaved_in_the_xml(s3, bucket, raw):
    """S3 writes Version and DeleteMarker elements as one list, by key then newest first."""
    versioned(s3, bucket)
    s3.put_object(Bucket=bucket, Key="a", Body=b"1")
    s3.delete_object(Bucket=bucket, Key="a")
    s3.put_object(Bucket=bucket, Key="a", Body=b"2")
    s3.put_object(Bucket=bucket, Key="b", Body=b"3")
    s3.delete_object(Bucket=bucket, Key="b")
    r = raw.request("GET", f"/{bucket}", query={"versions": ""})
    assert r.status == 200, r.body
    entries = [(e.tag, e.find("Key").text, e.find("IsLatest").text)
               for e in r.xml() if e.tag in ("Version", "DeleteMarker")]
    assert entries == [("Version", "a", "true"), ("DeleteMarker", "a", "false"),
                       ("Version", "a", "false"), ("DeleteMarker", "b", "true"),
                       ("Version", "b", "false")]
    assert r.header("x-tessera-version-order") is None
    # Clients read the same lists as before.
    resp = s3.list_object_versions(Bucket=bucket)
    assert len(resp["Versions"]) == 3 and len(resp["DeleteMarkers"]) == 2
