"""aws-chunked bodies must end with their zero-length chunk: a body cut before it is
IncompleteBody and stores nothing (s3s alone accepts it)."""

from conftest import STREAMING_SIGNED, STREAMING_UNSIGNED_TRAILER
from s3util import checksum_b64, key_path, random_bytes


def _signed_body(raw, path, data, chunk_size, with_final):
    chunks = [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)] + [b""]
    hdrs = {"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": str(len(data))}
    sig_len = 64
    sent = chunks if with_final else chunks[:-1]
    encoded_len = sum(len(f"{len(c):x};chunk-signature=") + sig_len + 4 + len(c) for c in sent)
    hdrs["Content-Length"] = str(encoded_len)
    signed = raw.sign_v4("PUT", path, None, hdrs, payload_hash=STREAMING_SIGNED)
    seed = signed["Authorization"].rsplit("Signature=", 1)[1]
    sigs = raw.chunk_signatures(raw.secret_key, signed["X-Amz-Date"], seed, chunks)
    body = b"".join(f"{len(c):x};chunk-signature={s}\r\n".encode() + c + b"\r\n"
                    for c, s in zip(sent, sigs))
    assert len(body) == encoded_len
    return signed, body


def test_signed_chunked_without_final_chunk_is_incomplete(raw, s3, bucket):
    path = key_path(bucket, "cut")
    data = random_bytes(150_000)
    headers, body = _signed_body(raw, path, data, 65536, with_final=False)
    r = raw.send("PUT", path, headers, body)
    assert r.status == 400, r.body
    assert r.error_code == "IncompleteBody", r.body
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="cut")
    headers, body = _signed_body(raw, path, data, 65536, with_final=True)
    r = raw.send("PUT", path, headers, body)
    assert r.status == 200, r.body
    assert s3.get_object(Bucket=bucket, Key="cut")["Body"].read() == data


def test_unsigned_trailer_without_final_chunk_is_incomplete(raw, s3, bucket):
    path = key_path(bucket, "cut2")
    data = random_bytes(10_000)
    body = f"{len(data):x}\r\n".encode() + data + b"\r\n"
    hdrs = {
        "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": str(len(data)),
        "X-Amz-Trailer": "x-amz-checksum-crc32",
        "X-Amz-Sdk-Checksum-Algorithm": "CRC32",
        "Content-Length": str(len(body)),
    }
    signed = raw.sign_v4("PUT", path, None, hdrs, payload_hash=STREAMING_UNSIGNED_TRAILER)
    r = raw.send("PUT", path, signed, body)
    assert r.status == 400, r.body
    assert r.error_code == "IncompleteBody", r.body
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="cut2")
    ok = raw.unsigned_trailer_put(path, data, value=checksum_b64("CRC32", data))
    assert ok.status == 200, ok.body
