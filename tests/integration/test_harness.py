"""Self-checks of the suite's own signing code against the examples published in the AWS
SigV4 documentation (no server needed). If these fail, the auth tests cannot be trusted."""

import datetime
import types

from conftest import STREAMING_SIGNED, RawClient

AWS_EXAMPLE_ACCESS = "AKIAIOSFODNN7EXAMPLE"
AWS_EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_EXAMPLE_DATE = datetime.datetime(2013, 5, 24, 0, 0, 0)


def _client():
    fake = types.SimpleNamespace(endpoint="http://127.0.0.1:1", port=1, tls=False, ca_bundle=None,
                                 access_key=AWS_EXAMPLE_ACCESS, secret_key=AWS_EXAMPLE_SECRET)
    return RawClient(fake)


def test_sigv4_header_signature_matches_aws_example():
    # "Example: GET Object" of the S3 SigV4 header-auth documentation.
    headers = _client().sign_v4(
        "GET", "/test.txt",
        headers={"Host": "examplebucket.s3.amazonaws.com", "Range": "bytes=0-9"},
        date=AWS_EXAMPLE_DATE,
    )
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def test_streaming_signatures_match_aws_example():
    # "Example: PUT Object" of the S3 SigV4 streaming (aws-chunked) documentation.
    headers = _client().sign_v4(
        "PUT", "/examplebucket/chunkObject.txt",
        headers={
            "Host": "s3.amazonaws.com",
            "x-amz-storage-class": "REDUCED_REDUNDANCY",
            "Content-Encoding": "aws-chunked",
            "x-amz-decoded-content-length": "66560",
            "Content-Length": "66824",
        },
        payload_hash=STREAMING_SIGNED,
        date=AWS_EXAMPLE_DATE,
    )
    seed = headers["Authorization"].rsplit("Signature=", 1)[1]
    assert seed == "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    sigs = RawClient.chunk_signatures(AWS_EXAMPLE_SECRET, "20130524T000000Z", seed,
                                      [b"a" * 65536, b"a" * 1024, b""])
    assert sigs == [
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ]


def test_unsigned_trailer_body_format():
    body = RawClient.unsigned_trailer_body(b"hello world", "x-amz-checksum-crc32", "DUoRhQ==", chunk_size=5)
    assert body == (b"5\r\nhello\r\n5\r\n worl\r\n1\r\nd\r\n0\r\n"
                    b"x-amz-checksum-crc32:DUoRhQ==\r\n\r\n")
