"""Conditional requests: GET/HEAD preconditions (RFC 7232 as S3 applies them), conditional
PUT (If-None-Match: *, If-Match) including a race, and conditional DELETE.

Dates are derived from the object's Last-Modified (never in the future): an HTTP date equal
to Last-Modified means "not modified since", one an hour earlier means "modified since".
"""

import datetime
import threading

import pytest
from botocore.exceptions import ClientError

from s3util import etag_of, expect_error, status_of

HOUR = datetime.timedelta(hours=1)
DATA = b"conditional body"


@pytest.fixture
def obj(s3, bucket):
    s3.put_object(Bucket=bucket, Key="c", Body=DATA)
    head = s3.head_object(Bucket=bucket, Key="c")
    return {"Bucket": bucket, "Key": "c", "etag": head["ETag"], "lm": head["LastModified"]}


def _kw(obj):
    return {"Bucket": obj["Bucket"], "Key": obj["Key"]}


# --------------------------------------------------------------------------------------
# GET / HEAD
# --------------------------------------------------------------------------------------


def test_get_if_match(s3, obj):
    resp = s3.get_object(**_kw(obj), IfMatch=obj["etag"])
    assert status_of(resp) == 200
    assert resp["Body"].read() == DATA
    expect_error(s3.get_object, **_kw(obj), IfMatch='"00000000000000000000000000000000"',
                 code="PreconditionFailed", status=412)
    expect_error(s3.head_object, **_kw(obj), IfMatch='"00000000000000000000000000000000"',
                 code=None, status=412)


def test_get_if_none_match(s3, obj):
    err = expect_error(s3.get_object, **_kw(obj), IfNoneMatch=obj["etag"], code=None, status=304)
    assert err.response["ResponseMetadata"]["HTTPHeaders"].get("etag") == obj["etag"]
    expect_error(s3.head_object, **_kw(obj), IfNoneMatch=obj["etag"], code=None, status=304)
    resp = s3.get_object(**_kw(obj), IfNoneMatch='"00000000000000000000000000000000"')
    assert status_of(resp) == 200
    assert resp["Body"].read() == DATA


def test_get_if_modified_since(s3, obj):
    expect_error(s3.get_object, **_kw(obj), IfModifiedSince=obj["lm"], code=None, status=304)
    expect_error(s3.head_object, **_kw(obj), IfModifiedSince=obj["lm"], code=None, status=304)
    resp = s3.get_object(**_kw(obj), IfModifiedSince=obj["lm"] - HOUR)
    assert status_of(resp) == 200
    assert resp["Body"].read() == DATA


def test_get_if_unmodified_since(s3, obj):
    expect_error(s3.get_object, **_kw(obj), IfUnmodifiedSince=obj["lm"] - HOUR,
                 code="PreconditionFailed", status=412)
    expect_error(s3.head_object, **_kw(obj), IfUnmodifiedSince=obj["lm"] - HOUR, code=None, status=412)
    resp = s3.get_object(**_kw(obj), IfUnmodifiedSince=obj["lm"])
    assert status_of(resp) == 200


def test_if_match_true_overrides_if_unmodified_since_false(s3, obj):
    # S3: If-Match true and If-Unmodified-Since false -> 200 OK.
    resp = s3.get_object(**_kw(obj), IfMatch=obj["etag"], IfUnmodifiedSince=obj["lm"] - HOUR)
    assert status_of(resp) == 200
    assert resp["Body"].read() == DATA


def test_if_none_match_false_with_if_modified_since_true_is_304(s3, obj):
    # S3: If-None-Match false and If-Modified-Since true -> 304 Not Modified.
    expect_error(s3.get_object, **_kw(obj), IfNoneMatch=obj["etag"], IfModifiedSince=obj["lm"] - HOUR,
                 code=None, status=304)


def test_if_match_false_wins_over_if_modified_since_true(s3, obj):
    expect_error(s3.get_object, **_kw(obj), IfMatch='"ffffffffffffffffffffffffffffffff"',
                 IfModifiedSince=obj["lm"] - HOUR, code="PreconditionFailed", status=412)


def test_get_conditional_with_range(s3, obj):
    resp = s3.get_object(**_kw(obj), IfMatch=obj["etag"], Range="bytes=0-3")
    assert status_of(resp) == 206
    assert resp["Body"].read() == DATA[:4]


# --------------------------------------------------------------------------------------
# Conditional PUT
# --------------------------------------------------------------------------------------


def test_put_if_none_match_star(s3, bucket):
    resp = s3.put_object(Bucket=bucket, Key="once", Body=b"first", IfNoneMatch="*")
    assert status_of(resp) == 200
    expect_error(s3.put_object, Bucket=bucket, Key="once", Body=b"second", IfNoneMatch="*",
                 code="PreconditionFailed", status=412)
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == b"first"
    # After a delete the key is free again.
    s3.delete_object(Bucket=bucket, Key="once")
    assert status_of(s3.put_object(Bucket=bucket, Key="once", Body=b"third", IfNoneMatch="*")) == 200


def test_put_if_match(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"v1")["ETag"]
    resp = s3.put_object(Bucket=bucket, Key="k", Body=b"v2", IfMatch=etag)
    assert status_of(resp) == 200
    assert resp["ETag"] == etag_of(b"v2")
    # The old ETag no longer matches.
    expect_error(s3.put_object, Bucket=bucket, Key="k", Body=b"v3", IfMatch=etag,
                 code="PreconditionFailed", status=412)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v2"


def test_put_if_match_on_missing_key(s3, bucket):
    # AWS: If-Match on a key that does not exist -> 404 NoSuchKey.
    expect_error(s3.put_object, Bucket=bucket, Key="absent", Body=b"x", IfMatch=etag_of(b"x"),
                 code="NoSuchKey", status=404)
    expect_error(s3.head_object, Bucket=bucket, Key="absent", code=None, status=404)


def test_put_if_none_match_race(server, bucket):
    writers = 8
    clients = [server.client() for _ in range(writers)]
    barrier = threading.Barrier(writers)
    results = [None] * writers

    def attempt(i):
        barrier.wait()
        try:
            r = clients[i].put_object(Bucket=bucket, Key="race", Body=f"writer-{i}".encode(), IfNoneMatch="*")
            results[i] = ("ok", status_of(r), None)
        except ClientError as e:
            results[i] = ("err", status_of(e), e.response["Error"]["Code"])

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    winners = [i for i, r in enumerate(results) if r and r[0] == "ok"]
    assert len(winners) == 1, results
    assert results[winners[0]][1] == 200
    for i, r in enumerate(results):
        if i in winners:
            continue
        assert r is not None, f"writer {i} never finished"
        assert (r[1], r[2]) in ((412, "PreconditionFailed"), (409, "ConditionalRequestConflict")), results
    body = clients[0].get_object(Bucket=bucket, Key="race")["Body"].read()
    assert body == f"writer-{winners[0]}".encode()


# --------------------------------------------------------------------------------------
# Conditional DELETE
# --------------------------------------------------------------------------------------


def test_delete_if_match(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="d", Body=b"delete me")["ETag"]
    expect_error(s3.delete_object, Bucket=bucket, Key="d", IfMatch='"0123456789abcdef0123456789abcdef"',
                 code="PreconditionFailed", status=412)
    assert s3.get_object(Bucket=bucket, Key="d")["Body"].read() == b"delete me"
    resp = s3.delete_object(Bucket=bucket, Key="d", IfMatch=etag)
    assert status_of(resp) == 204
    expect_error(s3.head_object, Bucket=bucket, Key="d", code=None, status=404)
