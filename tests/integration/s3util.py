"""Helpers shared by the integration tests (importable as `s3util` from any test file)."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
import zlib
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError

MiB = 1024 * 1024


def unique_bucket_name(prefix: str = "tt") -> str:
    """A fresh valid bucket name (lowercase, <= 63 chars)."""
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


def unique_key(prefix: str = "obj") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def etag_of(data: bytes) -> str:
    """The ETag S3 gives a single-PUT, unencrypted object: the quoted hex MD5."""
    return f'"{md5_hex(data)}"'


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def checksum_b64(algorithm: str, data: bytes) -> str:
    """Base64 of the big-endian checksum, as in x-amz-checksum-* headers."""
    algorithm = algorithm.upper()
    if algorithm == "CRC32":
        raw = (zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big")
    elif algorithm == "CRC32C":
        from awscrt import checksums

        raw = checksums.crc32c(data).to_bytes(4, "big")
    elif algorithm == "CRC64NVME":
        from awscrt import checksums

        raw = checksums.crc64nvme(data).to_bytes(8, "big")
    elif algorithm == "SHA1":
        raw = hashlib.sha1(data).digest()
    elif algorithm == "SHA256":
        raw = hashlib.sha256(data).digest()
    else:
        raise ValueError(algorithm)
    return base64.b64encode(raw).decode()


def key_path(bucket: str, key: str | None = None) -> str:
    """Path-style request path, percent-encoded the way botocore encodes keys."""
    if key is None:
        return f"/{bucket}"
    return f"/{bucket}/{quote(key, safe='/~')}"


def status_of(resp_or_err) -> int:
    if isinstance(resp_or_err, ClientError):
        resp_or_err = resp_or_err.response
    return resp_or_err["ResponseMetadata"]["HTTPStatusCode"]


def headers_of(resp_or_err) -> dict:
    if isinstance(resp_or_err, ClientError):
        resp_or_err = resp_or_err.response
    return resp_or_err["ResponseMetadata"]["HTTPHeaders"]


def expect_error(fn, *args, code, status: int, **kwargs) -> ClientError:
    """Calls fn and asserts it fails with the given S3 error code(s) and HTTP status.

    `code` may be a string, a tuple of acceptable strings, or None (status only: e.g. for
    HEAD, whose error responses have no body, botocore reports the status as the code).
    """
    with pytest.raises(ClientError) as excinfo:
        fn(*args, **kwargs)
    err = excinfo.value
    got_status = status_of(err)
    got_code = err.response.get("Error", {}).get("Code")
    assert got_status == status, f"expected HTTP {status} {code}, got {got_status} {got_code}: {err.response.get('Error')}"
    if code is not None:
        codes = code if isinstance(code, tuple) else (code,)
        assert got_code in codes, f"expected error code {codes}, got {got_code} (HTTP {got_status}): {err.response.get('Error')}"
    return err


def put_many(client, bucket: str, keys, body_for=lambda k: b"", workers: int = 16) -> None:
    """Creates many objects in parallel (client must allow >= `workers` pooled connections)."""

    def put(k):
        client.put_object(Bucket=bucket, Key=k, Body=body_for(k))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for fut in [pool.submit(put, k) for k in keys]:
            fut.result()


def list_all_keys(client, bucket: str, prefix: str = "") -> list[str]:
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return keys


def random_bytes(n: int) -> bytes:
    return os.urandom(n)


def empty_and_delete_bucket(client, name: str) -> None:
    """Best effort: abort uploads, delete every object (and version), delete the bucket."""
    try:
        for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=name):
            for u in page.get("Uploads", []):
                try:
                    client.abort_multipart_upload(Bucket=name, Key=u["Key"], UploadId=u["UploadId"])
                except Exception:
                    pass
    except Exception:
        pass
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            objs = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if objs:
                client.delete_objects(Bucket=name, Delete={"Objects": objs, "Quiet": True})
    except Exception:
        pass
    try:
        for page in client.get_paginator("list_object_versions").paginate(Bucket=name):
            objs = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                    for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
                    if v.get("VersionId")]
            if objs:
                client.delete_objects(Bucket=name, Delete={"Objects": objs, "Quiet": True})
    except Exception:
        pass
    try:
        client.delete_bucket(Bucket=name)
    except Exception:
        pass
