"""Multipart uploads through the aws CLI (v1): `aws s3 cp` of a 64 MiB file (8 MiB parts by
default) over HTTP and HTTPS, and the `aws s3api` create-multipart-upload / upload-part /
list-parts / complete-multipart-upload flow (upload ids passed as `--upload-id=ID`; the
`--upload-id ID` form is covered by test_multipart.py::test_upload_ids_usable_as_cli_arguments)."""

from __future__ import annotations

import hashlib
import json

import pytest

from s3util import MiB, etag_of, expect_error, random_bytes
from test_multipart_lib import multipart_etag


@pytest.fixture(params=["http", "https"])
def cli(request):
    """(aws runner, boto3 client, bucket) over HTTP or HTTPS."""
    if request.param == "http":
        return (request.getfixturevalue("aws"), request.getfixturevalue("s3"),
                request.getfixturevalue("bucket"))
    return (request.getfixturevalue("aws_tls"), request.getfixturevalue("s3_tls"),
            request.getfixturevalue("tls_bucket"))


def test_cp_64mib_multipart(cli, tmp_path):
    aws, s3, bucket = cli
    data = random_bytes(64 * MiB)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    out = aws("s3", "cp", src, f"s3://{bucket}/big/file.bin").stdout
    assert "upload:" in out

    head = s3.head_object(Bucket=bucket, Key="big/file.bin")
    assert head["ContentLength"] == len(data)
    chunks = [data[i:i + 8 * MiB] for i in range(0, len(data), 8 * MiB)]
    assert head["ETag"].endswith('-8"'), head["ETag"]
    assert head["ETag"] == multipart_etag(chunks)

    dst = tmp_path / "big.down"
    out = aws("s3", "cp", f"s3://{bucket}/big/file.bin", dst).stdout
    assert "download:" in out
    got = dst.read_bytes()
    assert len(got) == len(data)
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    # No upload is left behind.
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_s3api_multipart_flow(aws, s3, bucket, tmp_path):
    key = "multipart/01"
    created = json.loads(aws("s3api", "create-multipart-upload", "--bucket", bucket, "--key", key).stdout)
    upload_id = created["UploadId"]
    assert created["Bucket"] == bucket and created["Key"] == key

    part_data = [random_bytes(5 * MiB), random_bytes(123_456)]
    etags = []
    for n, data in enumerate(part_data, start=1):
        body = tmp_path / f"part{n:02d}"
        body.write_bytes(data)
        out = json.loads(aws("s3api", "upload-part", "--bucket", bucket, "--key", key, "--part-number", n,
                             "--body", body, f"--upload-id={upload_id}").stdout)
        assert out["ETag"] == etag_of(data)
        etags.append(out["ETag"])

    listed = json.loads(aws("s3api", "list-parts", "--bucket", bucket, "--key", key,
                            f"--upload-id={upload_id}").stdout)
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed["Parts"]] == [
        (n, etags[n - 1], len(d)) for n, d in enumerate(part_data, start=1)]

    uploads = json.loads(aws("s3api", "list-multipart-uploads", "--bucket", bucket).stdout)
    assert [u["UploadId"] for u in uploads["Uploads"]] == [upload_id]

    parts_file = tmp_path / "parts.json"
    parts_file.write_text(json.dumps({"Parts": [{"ETag": e, "PartNumber": n}
                                                for n, e in enumerate(etags, start=1)]}))
    done = json.loads(aws("s3api", "complete-multipart-upload", "--multipart-upload", f"file://{parts_file}",
                          "--bucket", bucket, "--key", key, f"--upload-id={upload_id}").stdout)
    assert done["ETag"] == multipart_etag(part_data)
    assert done["Key"] == key

    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == b"".join(part_data)
    assert got["ETag"] == multipart_etag(part_data)
    expect_error(s3.list_parts, Bucket=bucket, Key=key, UploadId=upload_id, code="NoSuchUpload", status=404)


def test_s3api_abort_multipart_upload(aws, s3, bucket):
    created = json.loads(aws("s3api", "create-multipart-upload", "--bucket", bucket, "--key", "gone").stdout)
    upload_id = created["UploadId"]
    aws("s3api", "abort-multipart-upload", "--bucket", bucket, "--key", "gone", f"--upload-id={upload_id}")
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    again = aws("s3api", "abort-multipart-upload", "--bucket", bucket, "--key", "gone", f"--upload-id={upload_id}",
                check=False)
    assert again.returncode != 0
    assert "NoSuchUpload" in again.stderr, again.stderr
