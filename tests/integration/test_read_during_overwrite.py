"""A GET that has started keeps streaming the object it started with, even if the key is
overwritten or deleted meanwhile: freed blobs wait for their readers before they are deleted."""

import time

import pytest

from s3util import MiB, random_bytes
from test_multipart_lib import blob_files, s3_small, small_bucket, small_server, wait_blob_count  # noqa: F401

PART = 8 * MiB
PARTS = 4


def _multipart_object(s3, bucket, key, parts):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    done = []
    for n, data in enumerate(parts, start=1):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=data)
        done.append({"PartNumber": n, "ETag": r["ETag"]})
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done})


@pytest.mark.parametrize("change", ["overwrite", "delete"])
def test_get_survives_overwrite_and_delete(small_server, s3_small, small_bucket, change):
    s3, bucket = s3_small, small_bucket
    old = [random_bytes(PART) for _ in range(PARTS)]
    _multipart_object(s3, bucket, "k", old)
    before = len(blob_files(small_server))

    body = s3.get_object(Bucket=bucket, Key="k")["Body"]
    head = body.read(MiB)
    if change == "overwrite":
        s3.put_object(Bucket=bucket, Key="k", Body=b"new")
    else:
        s3.delete_object(Bucket=bucket, Key="k")
    time.sleep(1.0)  # the freed blobs would be deleted by now if nothing held them
    rest = body.read()
    assert head + rest == b"".join(old)

    # Once the reader is done the old blobs go.
    body.close()
    expected = before - PARTS + (1 if change == "overwrite" else 0)
    assert wait_blob_count(small_server, expected) == expected
