"""Helpers shared by the multipart test files (test_multipart*.py); no tests of its own.

- checksums computed in Python: CRC32 (zlib), CRC32C and CRC64/NVME (table-driven, pure
  Python), SHA-1/SHA-256 (hashlib); the COMPOSITE ("checksum of checksums") and FULL_OBJECT
  forms S3 gives multipart objects;
- the multipart ETag: hex(md5(concat of the binary part MD5s)) + "-N";
- `small_server`: a module-scoped server started with `--min-part-size 5` (5 bytes), so that
  many-part uploads need only tiny parts;
- blob-file counting: files `xx/<32 hex>` under `<data_dir>/blobs/`.
"""

from __future__ import annotations

import base64
import hashlib
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest

import leakcheck
import s3util
from conftest import Server

SMALL_MIN_PART = 5  # bytes: the --min-part-size of small_server

# --------------------------------------------------------------------------------------
# CRCs
# --------------------------------------------------------------------------------------


def _reflected_table(poly: int, width: int) -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C_TABLE = _reflected_table(0x82F63B78, 32)
_CRC64NVME_TABLE = _reflected_table(0x9A6C9329AC4BC9B5, 64)
_M32 = 0xFFFFFFFF
_M64 = 0xFFFFFFFFFFFFFFFF


def crc32(data: bytes) -> int:
    return zlib.crc32(data) & _M32


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), reflected, init/xorout 0xFFFFFFFF."""
    crc, table = _M32, _CRC32C_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ _M32


def crc64nvme(data: bytes) -> int:
    """CRC-64/NVME: poly 0xad93d23594c93659 (reflected 0x9a6c9329ac4bc9b5), reflected
    in/out, init and xorout all ones."""
    crc, table = _M64, _CRC64NVME_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ _M64


def raw_digest(algorithm: str, data: bytes) -> bytes:
    """The binary checksum S3 base64-encodes in x-amz-checksum-* (CRCs big-endian)."""
    algorithm = algorithm.upper()
    if algorithm == "CRC32":
        return crc32(data).to_bytes(4, "big")
    if algorithm == "CRC32C":
        return crc32c(data).to_bytes(4, "big")
    if algorithm == "CRC64NVME":
        return crc64nvme(data).to_bytes(8, "big")
    if algorithm == "SHA1":
        return hashlib.sha1(data).digest()
    if algorithm == "SHA256":
        return hashlib.sha256(data).digest()
    raise ValueError(algorithm)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def checksum(algorithm: str, data: bytes) -> str:
    return b64(raw_digest(algorithm, data))


def composite_checksum(algorithm: str, parts: list[bytes]) -> str:
    """COMPOSITE object checksum: base64(alg(concat of the raw part digests)) + "-N"."""
    joined = b"".join(raw_digest(algorithm, p) for p in parts)
    return f"{b64(raw_digest(algorithm, joined))}-{len(parts)}"


def checksum_param(algorithm: str) -> str:
    """boto3 parameter / response field name: ChecksumCRC32, ChecksumCRC64NVME, ..."""
    return "Checksum" + algorithm.upper()


# --------------------------------------------------------------------------------------
# ETags
# --------------------------------------------------------------------------------------


def multipart_etag(parts: list[bytes]) -> str:
    """Quoted ETag of a multipart object made of these parts, in order."""
    joined = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(joined).hexdigest()}-{len(parts)}"'


def unquote_etag(etag: str) -> str:
    return etag.strip('"')


# --------------------------------------------------------------------------------------
# Upload helpers
# --------------------------------------------------------------------------------------


def upload_parts(client, bucket: str, key: str, upload_id: str, parts: dict[int, bytes],
                 workers: int = 1, **kwargs) -> dict[int, str]:
    """UploadPart every {number: bytes}; returns {number: ETag}. kwargs go to upload_part
    (a callable value is called with the part's bytes)."""

    def one(item):
        n, data = item
        extra = {k: (v(data) if callable(v) else v) for k, v in kwargs.items()}
        r = client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n,
                               Body=data, **extra)
        return n, r["ETag"]

    if workers <= 1:
        return dict(one(item) for item in parts.items())
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(pool.map(one, parts.items()))


def part_list(etags: dict[int, str], numbers=None) -> list[dict]:
    numbers = sorted(etags) if numbers is None else numbers
    return [{"PartNumber": n, "ETag": etags[n]} for n in numbers]


def multipart_put(client, bucket: str, key: str, parts: list[bytes], **create_kwargs) -> dict:
    """Create + UploadPart(1..N) + Complete; returns the Complete response."""
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key, **create_kwargs)["UploadId"]
    etags = upload_parts(client, bucket, key, upload_id, dict(enumerate(parts, start=1)))
    return client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                            MultipartUpload={"Parts": part_list(etags)})


def list_all_parts(client, bucket: str, key: str, upload_id: str) -> list[dict]:
    parts, marker = [], 0
    while True:
        r = client.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker)
        parts.extend(r.get("Parts", []))
        if not r["IsTruncated"]:
            return parts
        marker = r["NextPartNumberMarker"]


def get_bytes(client, bucket: str, key: str, **kwargs) -> bytes:
    return client.get_object(Bucket=bucket, Key=key, **kwargs)["Body"].read()


def pattern_bytes(n: int, seed: int) -> bytes:
    """Deterministic, part-distinguishing bytes (cheap to regenerate after a restart)."""
    block = hashlib.sha256(f"seed-{seed}".encode()).digest()
    return (block * (n // len(block) + 1))[:n]


# --------------------------------------------------------------------------------------
# Blob files
# --------------------------------------------------------------------------------------

def blob_files(server) -> list[str]:
    """Ids of the committed blobs, as the server's blob store lists them (`tessera blobs list`:
    the supported check, whatever the backend's layout)."""
    return sorted(leakcheck.blob_ids_on_disk(server))


def blob_store_contents(server) -> list[str]:
    """Everything the blob store holds: committed blob ids, then temporary leftovers of writes."""
    return blob_files(server) + leakcheck.temporary_files(server)


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def wait_blob_count(server, expected: int, timeout: float = 10.0) -> int:
    wait_until(lambda: len(blob_files(server)) == expected, timeout)
    return len(blob_files(server))


# --------------------------------------------------------------------------------------
# Fixtures (import them into a test module to use them)
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_server(tessera_bin, tmp_path_factory):
    """A server whose minimum part size is 5 bytes (shared by the tests of one module)."""
    srv = Server(tessera_bin, tmp_path_factory.mktemp("small-min-part"),
                 extra_args=("--min-part-size", str(SMALL_MIN_PART)), name="small_server")
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def s3_small(small_server):
    return small_server.client(max_pool_connections=32)


@pytest.fixture
def small_bucket(s3_small):
    name = s3util.unique_bucket_name("mp")
    s3_small.create_bucket(Bucket=name)
    yield name
    s3util.empty_and_delete_bucket(s3_small, name)
