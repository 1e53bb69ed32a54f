"""The aws CLI (v1) against the server, over HTTP and HTTPS."""

import json

import pytest

from s3util import etag_of, expect_error, list_all_keys, random_bytes, unique_bucket_name


@pytest.fixture(params=["http", "https"])
def cli(request):
    """(aws runner, boto3 client, bucket) over HTTP or HTTPS."""
    if request.param == "http":
        return (request.getfixturevalue("aws"), request.getfixturevalue("s3"),
                request.getfixturevalue("bucket"))
    return (request.getfixturevalue("aws_tls"), request.getfixturevalue("s3_tls"),
            request.getfixturevalue("tls_bucket"))


def test_mb_ls_rb(cli):
    aws, s3, _ = cli
    name = unique_bucket_name("cli")
    out = aws("s3", "mb", f"s3://{name}").stdout
    assert f"make_bucket: {name}" in out
    try:
        assert s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
        listing = aws("s3", "ls").stdout
        assert any(line.split()[-1] == name for line in listing.splitlines() if line.strip()), listing
    finally:
        out = aws("s3", "rb", f"s3://{name}").stdout
    assert f"remove_bucket: {name}" in out
    expect_error(s3.head_bucket, Bucket=name, code=None, status=404)


def test_cp_up_and_down(cli, tmp_path):
    aws, s3, bucket = cli
    data = random_bytes(300_000)
    src = tmp_path / "upload.bin"
    src.write_bytes(data)
    out = aws("s3", "cp", src, f"s3://{bucket}/dir/file.bin").stdout
    assert "upload:" in out
    got = s3.get_object(Bucket=bucket, Key="dir/file.bin")
    assert got["Body"].read() == data
    assert got["ETag"] == etag_of(data)

    dst = tmp_path / "download.bin"
    out = aws("s3", "cp", f"s3://{bucket}/dir/file.bin", dst).stdout
    assert "download:" in out
    assert dst.read_bytes() == data


def test_cp_stdin_and_stdout(cli):
    aws, s3, bucket = cli
    aws("s3", "cp", "-", f"s3://{bucket}/from-stdin.txt", input="streamed through stdin\n")
    assert s3.get_object(Bucket=bucket, Key="from-stdin.txt")["Body"].read() == b"streamed through stdin\n"
    out = aws("s3", "cp", f"s3://{bucket}/from-stdin.txt", "-").stdout
    assert out == "streamed through stdin\n"


def test_ls_and_rm(cli):
    aws, s3, bucket = cli
    s3.put_object(Bucket=bucket, Key="top.txt", Body=b"12345")
    s3.put_object(Bucket=bucket, Key="dir/inner.txt", Body=b"x" * 42)
    out = aws("s3", "ls", f"s3://{bucket}/").stdout
    lines = [line.split() for line in out.splitlines() if line.strip()]
    assert ["PRE", "dir/"] in lines, out
    top = next(line for line in lines if line[-1] == "top.txt")
    assert top[-2] == "5", out

    out = aws("s3", "ls", f"s3://{bucket}/", "--recursive").stdout
    assert sorted(line.split()[-1] for line in out.splitlines() if line.strip()) == ["dir/inner.txt", "top.txt"]

    out = aws("s3", "rm", f"s3://{bucket}/top.txt").stdout
    assert f"delete: s3://{bucket}/top.txt" in out
    expect_error(s3.head_object, Bucket=bucket, Key="top.txt", code=None, status=404)
    aws("s3", "rm", f"s3://{bucket}/", "--recursive")
    assert list_all_keys(s3, bucket) == []


def test_sync_up_and_down(cli, tmp_path):
    aws, s3, bucket = cli
    src = tmp_path / "src"
    files = {"a.txt": b"alpha", "sub/b.bin": random_bytes(20_000), "sub/deeper/c with space.txt": b"gamma"}
    for rel, content in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(content)

    out = aws("s3", "sync", src, f"s3://{bucket}/backup").stdout
    assert out.count("upload:") == 3, out
    assert sorted(list_all_keys(s3, bucket)) == sorted(f"backup/{k}" for k in files)

    # Nothing changed: a second sync uploads nothing.
    out = aws("s3", "sync", src, f"s3://{bucket}/backup").stdout
    assert "upload:" not in out, out

    dst = tmp_path / "dst"
    out = aws("s3", "sync", f"s3://{bucket}/backup", dst).stdout
    assert out.count("download:") == 3, out
    for rel, content in files.items():
        assert (dst / rel).read_bytes() == content


def test_s3api_put_get_head(cli, tmp_path):
    aws, s3, bucket = cli
    data = random_bytes(10_000)
    body = tmp_path / "body.bin"
    body.write_bytes(data)
    put = json.loads(aws("s3api", "put-object", "--bucket", bucket, "--key", "api/obj",
                         "--body", body, "--content-type", "application/x-test",
                         "--metadata", "owner=cli,purpose=test").stdout)
    assert put["ETag"] == etag_of(data)

    head = json.loads(aws("s3api", "head-object", "--bucket", bucket, "--key", "api/obj").stdout)
    assert head["ContentLength"] == len(data)
    assert head["ETag"] == etag_of(data)
    assert head["ContentType"] == "application/x-test"
    assert head["Metadata"] == {"owner": "cli", "purpose": "test"}

    out_file = tmp_path / "out.bin"
    got = json.loads(aws("s3api", "get-object", "--bucket", bucket, "--key", "api/obj", out_file).stdout)
    assert got["ContentLength"] == len(data)
    assert out_file.read_bytes() == data

    missing = aws("s3api", "head-object", "--bucket", bucket, "--key", "api/missing", check=False)
    assert missing.returncode != 0
    assert "404" in missing.stderr, missing.stderr


def test_s3api_list_objects_v2(cli):
    aws, s3, bucket = cli
    for k in ("l/1", "l/2", "m"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"")
    out = json.loads(aws("s3api", "list-objects-v2", "--bucket", bucket, "--delimiter", "/").stdout)
    assert [o["Key"] for o in out["Contents"]] == ["m"]
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["l/"]
