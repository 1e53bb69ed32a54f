"""Multipart checksums: COMPOSITE (checksum of part checksums, "-N") and FULL_OBJECT (CRC of
the whole object), part checksums on UploadPart / ListParts / Complete, invalid
algorithm/type combinations, BadDigest, the CRC64NVME default of uploads created without an
algorithm, and a boto3-default (aws-chunked, trailing CRC32) upload over HTTPS.

Expected values are computed here: CRC32 with zlib, CRC32C and CRC64/NVME with the pure-Python
implementations of test_multipart_lib, SHA-1/SHA-256 with hashlib."""

from __future__ import annotations

import os

import pytest

from s3util import MiB, etag_of, expect_error, random_bytes, status_of
from test_multipart_lib import (  # noqa: F401  (fixtures)
    checksum,
    checksum_param,
    composite_checksum,
    crc32c,
    crc64nvme,
    get_bytes,
    multipart_etag,
    part_list,
    s3_small,
    small_bucket,
    small_server,
)

PARTS = [os.urandom(3000), os.urandom(2000), os.urandom(700)]


def test_checksum_implementations_match_reference_vectors():
    assert crc64nvme(b"123456789") == 0xAE8B14860A799888
    assert crc32c(b"123456789") == 0xE3069283
    assert checksum("CRC32", b"123456789") == "y/Q5Jg=="  # 0xcbf43926
    assert crc64nvme(b"") == 0 and crc32c(b"") == 0


def _upload_with_checksums(s3, bucket, key, upload_id, algorithm, parts=PARTS):
    """UploadPart with an explicit x-amz-checksum-<alg>; returns the Complete part list."""
    field = checksum_param(algorithm)
    out = []
    for n, data in enumerate(parts, start=1):
        value = checksum(algorithm, data)
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=data,
                           **{field: value})
        assert r["ETag"] == etag_of(data)
        assert r.get(field) == value, f"UploadPart must echo {field}: {r}"
        out.append({"PartNumber": n, "ETag": r["ETag"], field: value})
    return out


# --------------------------------------------------------------------------------------
# COMPOSITE
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA1", "SHA256"])
def test_composite_checksum(s3_small, small_bucket, algorithm):
    s3, bucket, key = s3_small, small_bucket, f"composite-{algorithm}"
    field = checksum_param(algorithm)
    created = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm=algorithm,
                                         ChecksumType="COMPOSITE")
    assert created.get("ChecksumAlgorithm") == algorithm
    assert created.get("ChecksumType") == "COMPOSITE"
    upload_id = created["UploadId"]
    parts = _upload_with_checksums(s3, bucket, key, upload_id, algorithm)

    listed = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)
    assert listed.get("ChecksumAlgorithm") == algorithm
    assert listed.get("ChecksumType") == "COMPOSITE"
    assert [(p["PartNumber"], p.get(field)) for p in listed["Parts"]] == [
        (p["PartNumber"], p[field]) for p in parts]

    expected = composite_checksum(algorithm, PARTS)
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                        MultipartUpload={"Parts": parts})
    assert done.get(field) == expected
    assert done.get("ChecksumType") == "COMPOSITE"
    assert done["ETag"] == multipart_etag(PARTS)

    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head.get(field) == expected
    assert head.get("ChecksumType") == "COMPOSITE"
    got = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert got["Body"].read() == b"".join(PARTS)
    assert got.get(field) == expected


def test_composite_checksum_in_get_object_attributes(s3_small, small_bucket):
    s3, bucket = s3_small, small_bucket
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="ga", ChecksumAlgorithm="CRC32C",
                                           ChecksumType="COMPOSITE")["UploadId"]
    parts = _upload_with_checksums(s3, bucket, "ga", upload_id, "CRC32C")
    s3.complete_multipart_upload(Bucket=bucket, Key="ga", UploadId=upload_id, MultipartUpload={"Parts": parts})
    attrs = s3.get_object_attributes(Bucket=bucket, Key="ga", ObjectAttributes=["Checksum"])
    expected = composite_checksum("CRC32C", PARTS)
    # AWS documents the part count suffix for HeadObject; accept it with or without here.
    assert attrs["Checksum"]["ChecksumCRC32C"] in (expected, expected.rsplit("-", 1)[0]), attrs
    assert attrs["Checksum"].get("ChecksumType") == "COMPOSITE"


def test_composite_complete_without_part_checksums_fails(s3_small, small_bucket):
    s3, bucket = s3_small, small_bucket
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="SHA256",
                                           ChecksumType="COMPOSITE")["UploadId"]
    parts = _upload_with_checksums(s3, bucket, "k", upload_id, "SHA256")
    bare = [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in parts]
    # AWS: 400 InvalidRequest ("The upload was created using a sha256 checksum. The complete
    # request must include the checksum for each part.").
    err = expect_error(s3.complete_multipart_upload, Bucket=bucket, Key="k", UploadId=upload_id,
                       MultipartUpload={"Parts": bare}, code=None, status=400)
    assert err.response["Error"]["Code"] in ("InvalidRequest", "InvalidPart"), err.response
    expect_error(s3.head_object, Bucket=bucket, Key="k", code=None, status=404)
    done = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": parts})
    assert done["ChecksumSHA256"] == composite_checksum("SHA256", PARTS)


# --------------------------------------------------------------------------------------
# FULL_OBJECT
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("send_object_checksum", [True, False], ids=["with-object-checksum", "server-computed"])
@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME"])
def test_full_object_checksum(s3_small, small_bucket, algorithm, send_object_checksum):
    s3, bucket, key = s3_small, small_bucket, f"full-{algorithm}"
    field = checksum_param(algorithm)
    created = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm=algorithm,
                                         ChecksumType="FULL_OBJECT")
    assert created.get("ChecksumAlgorithm") == algorithm
    assert created.get("ChecksumType") == "FULL_OBJECT"
    upload_id = created["UploadId"]
    parts = _upload_with_checksums(s3, bucket, key, upload_id, algorithm)
    listed = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)
    assert listed.get("ChecksumAlgorithm") == algorithm
    assert listed.get("ChecksumType") == "FULL_OBJECT"

    whole = b"".join(PARTS)
    expected = checksum(algorithm, whole)
    extra = {field: expected, "ChecksumType": "FULL_OBJECT"} if send_object_checksum else {}
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                        MultipartUpload={"Parts": parts}, **extra)
    assert done.get(field) == expected, "FULL_OBJECT: the CRC of the whole object, no -N suffix"
    assert done.get("ChecksumType") == "FULL_OBJECT"
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head.get(field) == expected
    assert head.get("ChecksumType") == "FULL_OBJECT"
    # botocore validates a full-object CRC on download.
    got = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert got["Body"].read() == whole


@pytest.mark.parametrize("algorithm,checksum_type", [("SHA1", "FULL_OBJECT"), ("SHA256", "FULL_OBJECT"),
                                                      ("CRC64NVME", "COMPOSITE")])
def test_invalid_algorithm_and_type_at_create(s3_small, small_bucket, algorithm, checksum_type):
    err = expect_error(s3_small.create_multipart_upload, Bucket=small_bucket, Key="k",
                       ChecksumAlgorithm=algorithm, ChecksumType=checksum_type, code=None, status=400)
    assert err.response["Error"]["Code"] in ("InvalidRequest", "InvalidArgument"), err.response
    assert s3_small.list_multipart_uploads(Bucket=small_bucket).get("Uploads", []) == []


def test_complete_with_wrong_full_object_checksum_is_bad_digest(s3_small, small_bucket):
    s3, bucket = s3_small, small_bucket
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="CRC32",
                                           ChecksumType="FULL_OBJECT")["UploadId"]
    parts = _upload_with_checksums(s3, bucket, "k", upload_id, "CRC32")
    expect_error(s3.complete_multipart_upload, Bucket=bucket, Key="k", UploadId=upload_id,
                 MultipartUpload={"Parts": parts}, ChecksumCRC32=checksum("CRC32", b"not the object"),
                 ChecksumType="FULL_OBJECT", code="BadDigest", status=400)
    expect_error(s3.head_object, Bucket=bucket, Key="k", code=None, status=404)
    done = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": parts},
                                        ChecksumCRC32=checksum("CRC32", b"".join(PARTS)), ChecksumType="FULL_OBJECT")
    assert done["ChecksumCRC32"] == checksum("CRC32", b"".join(PARTS))


# --------------------------------------------------------------------------------------
# Part checksums
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm,checksum_type", [("CRC32", "COMPOSITE"), ("CRC32C", "COMPOSITE"),
                                                      ("SHA1", "COMPOSITE"), ("SHA256", "COMPOSITE"),
                                                      ("CRC64NVME", "FULL_OBJECT")])
def test_wrong_part_checksum_is_bad_digest(s3_small, small_bucket, algorithm, checksum_type):
    s3, bucket = s3_small, small_bucket
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm=algorithm,
                                           ChecksumType=checksum_type)["UploadId"]
    expect_error(s3.upload_part, Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"part data",
                 **{checksum_param(algorithm): checksum(algorithm, b"other data")}, code="BadDigest", status=400)
    assert s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id).get("Parts", []) == []


def test_complete_with_wrong_part_checksum_fails(s3_small, small_bucket):
    s3, bucket = s3_small, small_bucket
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="SHA256",
                                           ChecksumType="COMPOSITE")["UploadId"]
    parts = _upload_with_checksums(s3, bucket, "k", upload_id, "SHA256")
    bad = [dict(p) for p in parts]
    bad[1]["ChecksumSHA256"] = checksum("SHA256", b"not part 2")
    err = expect_error(s3.complete_multipart_upload, Bucket=bucket, Key="k", UploadId=upload_id,
                       MultipartUpload={"Parts": bad}, code=None, status=400)
    assert err.response["Error"]["Code"] in ("InvalidPart", "BadDigest"), err.response
    expect_error(s3.head_object, Bucket=bucket, Key="k", code=None, status=404)


def test_part_checksum_of_another_algorithm_is_rejected(s3_small, small_bucket):
    """AWS: a part checksum must use the upload's algorithm (400 InvalidRequest, "Checksum
    Type mismatch occurred, expected checksum Type: sha256, actual checksum Type: crc32")."""
    s3, bucket = s3_small, small_bucket
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="SHA256",
                                           ChecksumType="COMPOSITE")["UploadId"]
    expect_error(s3.upload_part, Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"part data",
                 ChecksumCRC32=checksum("CRC32", b"part data"), code="InvalidRequest", status=400)
    assert s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id).get("Parts", []) == []


def test_upload_without_algorithm_gets_crc64nvme_full_object(small_server, small_bucket):
    """No algorithm at Create and no part checksums: S3 computes a CRC64NVME FULL_OBJECT
    checksum of the whole object."""
    s3 = small_server.client(request_checksum_calculation="when_required")
    bucket = small_bucket
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="plain")["UploadId"]
    etags = {}
    for n, data in enumerate(PARTS, start=1):
        etags[n] = s3.upload_part(Bucket=bucket, Key="plain", UploadId=upload_id, PartNumber=n, Body=data)["ETag"]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="plain", UploadId=upload_id,
                                        MultipartUpload={"Parts": part_list(etags)})
    expected = checksum("CRC64NVME", b"".join(PARTS))
    assert done.get("ChecksumCRC64NVME") == expected
    head = s3.head_object(Bucket=bucket, Key="plain", ChecksumMode="ENABLED")
    assert head.get("ChecksumCRC64NVME") == expected
    assert head.get("ChecksumType") == "FULL_OBJECT"


def test_default_boto3_part_crc32_on_upload_without_algorithm(s3_small, small_bucket):
    """boto3 (when_supported) sends x-amz-checksum-crc32 with every UploadPart even when the
    upload was created without an algorithm; repeating those values in Complete succeeds."""
    s3, bucket = s3_small, small_bucket
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    parts = []
    for n, data in enumerate(PARTS, start=1):
        r = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=n, Body=data)
        assert r.get("ChecksumCRC32") == checksum("CRC32", data)
        parts.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
    listed = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id)["Parts"]
    assert [p.get("ChecksumCRC32") for p in listed] == [p["ChecksumCRC32"] for p in parts]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": parts})
    assert status_of(done) == 200
    assert done["ETag"] == multipart_etag(PARTS)
    assert get_bytes(s3, bucket, "k") == b"".join(PARTS)


# --------------------------------------------------------------------------------------
# HTTPS with boto3 defaults (aws-chunked body, trailing CRC32)
# --------------------------------------------------------------------------------------


def test_tls_upload_with_trailing_checksums(tls_server, tls_bucket):
    s3 = tls_server.client()
    sent = []

    def capture(request, **_):
        sent.append({k.lower(): (v.decode() if isinstance(v, bytes) else v)
                     for k, v in request.headers.items()})

    s3.meta.events.register("before-send.s3.UploadPart", capture)
    bucket, key = tls_bucket, "tls-multipart"
    data = [random_bytes(5 * MiB), random_bytes(5 * MiB), random_bytes(MiB + 17)]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = []
    for n, part in enumerate(data, start=1):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=part)
        assert r["ETag"] == etag_of(part)
        assert r.get("ChecksumCRC32") == checksum("CRC32", part)
        parts.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
    # The uploads really used the aws-chunked encoding with a trailing checksum.
    assert sent and all("aws-chunked" in h.get("content-encoding", "") for h in sent), sent
    assert all(h.get("x-amz-trailer") == "x-amz-checksum-crc32" for h in sent), sent
    listed = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["Size"], p.get("ChecksumCRC32")) for p in listed] == [
        (n, len(part), checksum("CRC32", part)) for n, part in enumerate(data, start=1)]
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
    assert done["ETag"] == multipart_etag(data)
    assert get_bytes(s3, bucket, key) == b"".join(data)


# --------------------------------------------------------------------------------------
# Consecutive part numbers with checksums
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("checksum_type", ["COMPOSITE", "FULL_OBJECT"])
def test_checksum_upload_needs_consecutive_part_numbers(s3_small, small_bucket, checksum_type):
    # The user guide: with checksums, part numbers must be consecutive; AWS answers others with
    # a 500. Tessera answers a clear 400 and leaves the upload intact.
    s3, bucket = s3_small, small_bucket
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="gap", ChecksumAlgorithm="CRC32",
                                           ChecksumType=checksum_type)["UploadId"]
    field = checksum_param("CRC32")
    parts = []
    for n, data in ((1, PARTS[0]), (3, PARTS[1])):
        r = s3.upload_part(Bucket=bucket, Key="gap", UploadId=upload_id, PartNumber=n, Body=data,
                           **{field: checksum("CRC32", data)})
        parts.append({"PartNumber": n, "ETag": r["ETag"], field: r[field]})
    err = expect_error(s3.complete_multipart_upload, Bucket=bucket, Key="gap", UploadId=upload_id,
                       MultipartUpload={"Parts": parts}, code="InvalidRequest", status=400)
    assert "consecutive" in err.response["Error"]["Message"]
    assert len(s3.list_parts(Bucket=bucket, Key="gap", UploadId=upload_id)["Parts"]) == 2
    # Completing with the consecutive prefix works.
    done = s3.complete_multipart_upload(Bucket=bucket, Key="gap", UploadId=upload_id,
                                        MultipartUpload={"Parts": parts[:1]})
    assert done["ETag"].endswith('-1"')


@pytest.mark.parametrize("algorithm,checksum_type", [("SHA256", "COMPOSITE"), ("CRC32", "FULL_OBJECT")])
def test_get_part_number_returns_the_part_checksum(s3_small, small_bucket, algorithm, checksum_type):
    s3, bucket = s3_small, small_bucket
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="pc", ChecksumAlgorithm=algorithm,
                                           ChecksumType=checksum_type)["UploadId"]
    parts = _upload_with_checksums(s3, bucket, "pc", upload_id, algorithm)
    s3.complete_multipart_upload(Bucket=bucket, Key="pc", UploadId=upload_id, MultipartUpload={"Parts": parts})
    field = checksum_param(algorithm)
    for n, data in enumerate(PARTS, start=1):
        for call in (s3.get_object, s3.head_object):
            resp = call(Bucket=bucket, Key="pc", PartNumber=n, ChecksumMode="ENABLED")
            assert resp[field] == checksum(algorithm, data), (call, n)
            assert resp["ChecksumType"] == checksum_type
            assert resp["PartsCount"] == len(PARTS)
