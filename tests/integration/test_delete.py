"""DeleteObject and DeleteObjects (multi-object delete)."""

from s3util import expect_error, list_all_keys, put_many, status_of


def test_delete_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    resp = s3.delete_object(Bucket=bucket, Key="k")
    assert status_of(resp) == 204
    expect_error(s3.get_object, Bucket=bucket, Key="k", code="NoSuchKey", status=404)
    assert list_all_keys(s3, bucket) == []


def test_delete_missing_key_is_idempotent(s3, bucket):
    assert status_of(s3.delete_object(Bucket=bucket, Key="never-existed")) == 204
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert status_of(s3.delete_object(Bucket=bucket, Key="k")) == 204
    assert status_of(s3.delete_object(Bucket=bucket, Key="k")) == 204


def test_delete_objects_reports_deleted_keys(server, bucket):
    client = server.client(max_pool_connections=16)
    existing = [f"multi/{i:03d}" for i in range(50)]
    put_many(client, bucket, existing, body_for=lambda k: k.encode())
    # 1000 keys: the 50 that exist and 950 that never did (reported as deleted too).
    keys = existing + [f"ghost/{i:03d}" for i in range(950)]
    resp = client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
    assert status_of(resp) == 200
    assert not resp.get("Errors"), resp.get("Errors")
    assert sorted(d["Key"] for d in resp["Deleted"]) == sorted(keys)
    assert list_all_keys(client, bucket) == []


def test_delete_objects_quiet(s3, bucket):
    for k in ("q1", "q2", "q3"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    resp = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "q1"}, {"Key": "q2"}], "Quiet": True}
    )
    assert status_of(resp) == 200
    assert "Deleted" not in resp
    assert "Errors" not in resp
    assert list_all_keys(s3, bucket) == ["q3"]


def test_delete_objects_special_keys(s3, bucket):
    keys = ["with space", "plus+sign", "amp&lt<gt>", "unicodé/日本語", "pct%20"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    resp = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
    assert sorted(d["Key"] for d in resp["Deleted"]) == sorted(keys)
    assert list_all_keys(s3, bucket) == []


def test_delete_objects_more_than_1000_keys(s3, bucket):
    s3.put_object(Bucket=bucket, Key="survivor", Body=b"x")
    objects = [{"Key": "survivor"}] + [{"Key": f"k{i}"} for i in range(1000)]
    expect_error(s3.delete_objects, Bucket=bucket, Delete={"Objects": objects},
                 code="MalformedXML", status=400)
    assert list_all_keys(s3, bucket) == ["survivor"]


def test_delete_objects_missing_bucket(s3):
    expect_error(s3.delete_objects, Bucket="tt-no-such-bucket-for-delete",
                 Delete={"Objects": [{"Key": "a"}]}, code="NoSuchBucket", status=404)
