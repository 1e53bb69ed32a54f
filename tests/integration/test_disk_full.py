"""A full disk: writes fail fast with a 5xx that carries no internal text, and deletes and
aborts still work, so that users can free space (the data dir sits on a small tmpfs)."""

import os
import subprocess

import pytest

from conftest import Server
from s3util import random_bytes

MiB = 1 << 20


@pytest.fixture
def small_disk_server(tessera_bin, tmp_path):
    workdir = tmp_path / "w"
    data = workdir / "data"
    data.mkdir(parents=True)
    if os.geteuid() != 0:
        pytest.fail("mounting a small tmpfs needs root (CI and the dev machines run as root)")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", str(data)], check=True)
    srv = None
    try:
        srv = Server(tessera_bin, workdir, extra_args=["--min-part-size", str(MiB)])
        yield srv
    finally:
        if srv is not None:
            srv.close()
        subprocess.run(["umount", "-l", str(data)], check=False)


def _fill(s3, bucket, size=4 * MiB, limit=200):
    """PUTs until the server refuses; returns the keys stored and the refusal."""
    stored = []
    body = random_bytes(size)
    for i in range(limit):
        try:
            s3.put_object(Bucket=bucket, Key=f"fill{i}", Body=body)
            stored.append(f"fill{i}")
        except s3.exceptions.ClientError as e:
            return stored, e
    pytest.fail(f"the disk never filled after {limit} PUTs of {size} bytes")


def test_full_disk_refuses_writes_and_still_deletes(small_disk_server):
    srv = small_disk_server
    s3 = srv.client(retries={"max_attempts": 1, "mode": "standard"})
    s3.create_bucket(Bucket="full")
    upload = s3.create_multipart_upload(Bucket="full", Key="mp")["UploadId"]
    s3.upload_part(Bucket="full", Key="mp", UploadId=upload, PartNumber=1, Body=random_bytes(MiB))
    stored, refusal = _fill(s3, "full")
    assert len(stored) >= 5, "the disk filled far too early"
    assert refusal.response["ResponseMetadata"]["HTTPStatusCode"] == 507, refusal.response
    assert refusal.response["Error"]["Code"] == "InsufficientStorage", refusal.response
    message = refusal.response["Error"].get("Message", "")
    for leak in ("os error", "No space left", str(srv.data_dir), "sqlite", "SQLITE"):
        assert leak not in message, message
    # Deleting must work even now, and free the space.
    for key in stored:
        s3.delete_object(Bucket="full", Key=key)
    s3.abort_multipart_upload(Bucket="full", Key="mp", UploadId=upload)
    assert "Contents" not in s3.list_objects_v2(Bucket="full")
    # Once space is free again, writes work again.
    s3.put_object(Bucket="full", Key="after", Body=b"x" * 1000)
    assert s3.get_object(Bucket="full", Key="after")["Body"].read() == b"x" * 1000


def test_full_disk_delete_objects_and_bucket(small_disk_server):
    srv = small_disk_server
    s3 = srv.client(retries={"max_attempts": 1, "mode": "standard"})
    s3.create_bucket(Bucket="full2")
    stored, _ = _fill(s3, "full2", size=2 * MiB)
    out = s3.delete_objects(Bucket="full2", Delete={"Objects": [{"Key": k} for k in stored[:500]]})
    assert len(out.get("Deleted", [])) == len(stored), out.get("Errors")
    s3.delete_bucket(Bucket="full2")


def _fill_with_file(path):
    """Another process fills what is left of the disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (MiB, 4096, 512):
            block = b"\0" * size
            while True:
                try:
                    os.write(fd, block)
                except OSError:
                    break
    finally:
        os.close(fd)


def test_disk_filled_by_someone_else_still_deletes(small_disk_server):
    srv = small_disk_server
    s3 = srv.client(retries={"max_attempts": 1, "mode": "standard"})
    s3.create_bucket(Bucket="other")
    keys = [f"k{i}" for i in range(300)]
    for k in keys:
        s3.put_object(Bucket="other", Key=k, Body=random_bytes(20_000))
    assert (srv.data_dir / "meta.reserve").stat().st_size == 32 << 20
    # A restart checkpoints and removes SQLite's WAL: the deletes below must grow it anew.
    srv.restart()
    s3 = srv.client(retries={"max_attempts": 1, "mode": "standard"})
    filler = srv.data_dir / "filler"
    _fill_with_file(filler)
    try:
        with pytest.raises(s3.exceptions.ClientError) as e:
            s3.put_object(Bucket="other", Key="more", Body=random_bytes(200_000))
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 507, e.value.response
        assert e.value.response["Error"]["Code"] == "InsufficientStorage"
        for k in keys:
            s3.delete_object(Bucket="other", Key=k)
        assert "Contents" not in s3.list_objects_v2(Bucket="other")
        assert "released the metadata space reserve" in srv.log_text()
    finally:
        filler.unlink()
