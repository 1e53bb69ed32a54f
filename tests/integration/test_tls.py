"""HTTPS: boto3 at default settings over TLS (aws-chunked bodies with trailing checksums),
raw trailer errors, presigned URLs and HTTP/2."""

import socket
import ssl

import httpx
import pytest
import requests

from s3util import MiB, checksum_b64, etag_of, expect_error, key_path, random_bytes, status_of


def _capture_put_headers(client):
    sent = {}

    def capture(request, **_):
        sent.clear()
        sent.update({k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()})

    client.meta.events.register("before-send.s3.PutObject", capture)
    return sent


@pytest.mark.parametrize("size", [0, 1, 1 * MiB + 7, 9 * MiB], ids=["0B", "1B", "1MiB+7", "9MiB"])
def test_put_get_default_settings_uses_streaming_trailer(tls_server, tls_bucket, size):
    s3 = tls_server.client()
    sent = _capture_put_headers(s3)
    data = random_bytes(size)
    put = s3.put_object(Bucket=tls_bucket, Key="obj", Body=data)
    assert status_of(put) == 200
    # What boto3 sends over HTTPS by default:
    assert sent.get("x-amz-content-sha256") == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert sent.get("x-amz-trailer") == "x-amz-checksum-crc32"
    assert "aws-chunked" in sent.get("content-encoding", "")
    assert put["ETag"] == etag_of(data)
    assert put.get("ChecksumCRC32") == checksum_b64("CRC32", data)

    head = s3.head_object(Bucket=tls_bucket, Key="obj", ChecksumMode="ENABLED")
    assert head["ContentLength"] == size
    assert head.get("ChecksumCRC32") == checksum_b64("CRC32", data)
    assert "aws-chunked" not in (head.get("ContentEncoding") or "")
    got = s3.get_object(Bucket=tls_bucket, Key="obj", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got.get("ChecksumCRC32") == checksum_b64("CRC32", data)


@pytest.mark.parametrize("algorithm", ["CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_trailer_checksum_algorithms(s3_tls, tls_bucket, algorithm):
    data = random_bytes(200_000)
    put = s3_tls.put_object(Bucket=tls_bucket, Key="alg", Body=data, ChecksumAlgorithm=algorithm)
    assert put.get(f"Checksum{algorithm}") == checksum_b64(algorithm, data)
    head = s3_tls.head_object(Bucket=tls_bucket, Key="alg", ChecksumMode="ENABLED")
    assert head.get(f"Checksum{algorithm}") == checksum_b64(algorithm, data)


def test_put_with_content_encoding_over_tls(s3_tls, tls_bucket):
    # boto3 then sends Content-Encoding: gzip,aws-chunked; S3 stores only gzip.
    s3_tls.put_object(Bucket=tls_bucket, Key="gz", Body=b"not really gzip", ContentEncoding="gzip")
    head = s3_tls.head_object(Bucket=tls_bucket, Key="gz")
    assert head["ContentEncoding"] == "gzip"
    assert head["ContentLength"] == len(b"not really gzip")


def test_wrong_trailer_checksum_over_tls(raw_tls, s3_tls, tls_bucket):
    data = random_bytes(100_000)
    resp = raw_tls.unsigned_trailer_put(key_path(tls_bucket, "bad"), data, algorithm="CRC32", value="AAAAAA==")
    assert resp.status == 400, resp
    assert resp.error_code == "BadDigest"
    expect_error(s3_tls.head_object, Bucket=tls_bucket, Key="bad", code=None, status=404)


def test_list_copy_delete_over_tls(s3_tls, tls_bucket):
    for k in ("t/1", "t/2", "u"):
        s3_tls.put_object(Bucket=tls_bucket, Key=k, Body=k.encode())
    resp = s3_tls.list_objects_v2(Bucket=tls_bucket, Delimiter="/")
    assert [o["Key"] for o in resp["Contents"]] == ["u"]
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["t/"]
    s3_tls.copy_object(Bucket=tls_bucket, Key="u2", CopySource={"Bucket": tls_bucket, "Key": "u"})
    assert s3_tls.get_object(Bucket=tls_bucket, Key="u2")["Body"].read() == b"u"
    resp = s3_tls.delete_objects(Bucket=tls_bucket, Delete={"Objects": [{"Key": "t/1"}, {"Key": "t/2"}]})
    assert sorted(d["Key"] for d in resp["Deleted"]) == ["t/1", "t/2"]


def test_presigned_over_tls(tls_server, s3_tls, tls_bucket):
    s3_tls.put_object(Bucket=tls_bucket, Key="p", Body=b"tls presigned")
    signer = tls_server.client(signature_version="s3v4")
    url = signer.generate_presigned_url("get_object", Params={"Bucket": tls_bucket, "Key": "p"}, ExpiresIn=300)
    assert url.startswith("https://127.0.0.1:")
    r = requests.get(url, verify=tls_server.ca_bundle, timeout=30)
    assert r.status_code == 200
    assert r.content == b"tls presigned"


def test_certificate_is_verified_against_test_ca(tls_server):
    # Sanity check of the fixture: without the CA bundle the handshake fails.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(tls_server.endpoint + "/", timeout=10)


def test_plain_http_on_tls_port_does_not_break_server(tls_server, s3_tls):
    sock = socket.create_connection(("127.0.0.1", tls_server.port), timeout=5)
    try:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        try:
            sock.recv(1024)
        except (socket.timeout, ConnectionResetError):
            pass
    finally:
        sock.close()
    assert status_of(s3_tls.list_buckets()) == 200


def test_http2(tls_server, s3_tls, tls_bucket):
    s3_tls.put_object(Bucket=tls_bucket, Key="h2", Body=b"over http/2")
    signer = tls_server.client(signature_version="s3v4")
    get_url = signer.generate_presigned_url("get_object", Params={"Bucket": tls_bucket, "Key": "h2"}, ExpiresIn=300)
    put_url = signer.generate_presigned_url("put_object", Params={"Bucket": tls_bucket, "Key": "h2-put"}, ExpiresIn=300)
    ctx = ssl.create_default_context(cafile=tls_server.ca_bundle)
    with httpx.Client(http2=True, verify=ctx, timeout=30) as client:
        r = client.get(get_url)
        assert r.http_version == "HTTP/2"
        assert r.status_code == 200
        assert r.content == b"over http/2"
        data = random_bytes(100_000)
        r = client.put(put_url, content=data)
        assert r.http_version == "HTTP/2"
        assert r.status_code == 200, r.text
    assert s3_tls.get_object(Bucket=tls_bucket, Key="h2-put")["Body"].read() == data
