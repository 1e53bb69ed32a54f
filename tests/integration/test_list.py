"""ListObjectsV2 and ListObjects (V1): prefixes, delimiters, paging, encoding, key rules."""

from urllib.parse import unquote_plus

import pytest

from s3util import empty_and_delete_bucket, etag_of, expect_error, put_many, status_of, unique_bucket_name

BIG_COUNT = 2500


@pytest.fixture(scope="module")
def big_bucket(server):
    """A bucket with 2,500 small objects k/00000 .. k/02499 (made once per module)."""
    client = server.client(max_pool_connections=16)
    name = unique_bucket_name("big")
    client.create_bucket(Bucket=name)
    keys = [f"k/{i:05d}" for i in range(BIG_COUNT)]
    put_many(client, name, keys, body_for=lambda k: b"x", workers=16)
    yield name, keys
    empty_and_delete_bucket(client, name)


def _v1(s3, **kw):
    return s3.list_objects(**kw)


def _v2(s3, **kw):
    return s3.list_objects_v2(**kw)


def _keys(resp):
    return [o["Key"] for o in resp.get("Contents", [])]


def _prefixes(resp):
    return [p["Prefix"] for p in resp.get("CommonPrefixes", [])]


# --------------------------------------------------------------------------------------
# Prefix and delimiter
# --------------------------------------------------------------------------------------

TREE = ["a/1", "a/2", "a/b/3", "b/1", "c", "d/e/f", "dz"]


@pytest.fixture
def tree(s3, bucket):
    for k in TREE:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    return bucket


@pytest.mark.parametrize("api", [_v1, _v2], ids=["v1", "v2"])
def test_list_all(s3, tree, api):
    resp = api(s3, Bucket=tree)
    assert status_of(resp) == 200
    assert _keys(resp) == sorted(TREE)
    assert resp["IsTruncated"] is False
    assert "CommonPrefixes" not in resp
    for o in resp["Contents"]:
        assert o["Size"] == len(o["Key"])
        assert o["ETag"] == etag_of(o["Key"].encode())
        assert o["LastModified"] is not None
        assert o["StorageClass"] == "STANDARD"


@pytest.mark.parametrize("api", [_v1, _v2], ids=["v1", "v2"])
def test_list_delimiter(s3, tree, api):
    resp = api(s3, Bucket=tree, Delimiter="/")
    assert _keys(resp) == ["c", "dz"]
    assert _prefixes(resp) == ["a/", "b/", "d/"]
    assert resp["Delimiter"] == "/"


@pytest.mark.parametrize("api", [_v1, _v2], ids=["v1", "v2"])
def test_list_prefix_and_delimiter(s3, tree, api):
    resp = api(s3, Bucket=tree, Prefix="a/", Delimiter="/")
    assert _keys(resp) == ["a/1", "a/2"]
    assert _prefixes(resp) == ["a/b/"]
    assert resp["Prefix"] == "a/"

    resp = api(s3, Bucket=tree, Prefix="d")
    assert _keys(resp) == ["d/e/f", "dz"]
    resp = api(s3, Bucket=tree, Prefix="d", Delimiter="/")
    assert _keys(resp) == ["dz"]
    assert _prefixes(resp) == ["d/"]
    resp = api(s3, Bucket=tree, Prefix="nothing-here")
    assert _keys(resp) == [] and _prefixes(resp) == []


@pytest.mark.parametrize("api", [_v1, _v2], ids=["v1", "v2"])
def test_list_multi_character_delimiter(s3, bucket, api):
    for k in ["x--1", "x--2--y", "x-3", "z"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")
    resp = api(s3, Bucket=bucket, Delimiter="--")
    assert _keys(resp) == ["x-3", "z"]
    assert _prefixes(resp) == ["x--"]
    resp = api(s3, Bucket=bucket, Delimiter="--", Prefix="x--")
    assert _keys(resp) == ["x--1"]
    assert _prefixes(resp) == ["x--2--"]


def test_list_v2_key_count_includes_common_prefixes(s3, tree):
    resp = s3.list_objects_v2(Bucket=tree, Delimiter="/")
    assert resp["KeyCount"] == 2 + 3
    resp = s3.list_objects_v2(Bucket=tree)
    assert resp["KeyCount"] == len(TREE)


def test_list_empty_bucket(s3, bucket):
    resp = s3.list_objects_v2(Bucket=bucket)
    assert status_of(resp) == 200
    assert resp["KeyCount"] == 0
    assert "Contents" not in resp
    assert resp["IsTruncated"] is False
    resp = s3.list_objects(Bucket=bucket)
    assert "Contents" not in resp
    assert resp["IsTruncated"] is False


# --------------------------------------------------------------------------------------
# MaxKeys and paging
# --------------------------------------------------------------------------------------


def test_list_v2_max_keys_zero(s3, tree):
    resp = s3.list_objects_v2(Bucket=tree, MaxKeys=0)
    assert status_of(resp) == 200
    assert resp["KeyCount"] == 0
    assert "Contents" not in resp
    assert resp["MaxKeys"] == 0


def test_list_v2_max_keys_one_paging(s3, tree):
    got, token = [], None
    for _ in range(len(TREE) + 2):
        kw = {"Bucket": tree, "MaxKeys": 1}
        if token:
            kw["ContinuationToken"] = token
        resp = s3.list_objects_v2(**kw)
        assert resp["KeyCount"] == len(_keys(resp)) <= 1
        got += _keys(resp)
        if not resp["IsTruncated"]:
            assert "NextContinuationToken" not in resp
            break
        token = resp["NextContinuationToken"]
        assert token
    assert got == sorted(TREE)


def test_list_v2_start_after(s3, tree):
    resp = s3.list_objects_v2(Bucket=tree, StartAfter="b/1")
    assert _keys(resp) == ["c", "d/e/f", "dz"]
    assert resp["StartAfter"] == "b/1"
    # StartAfter need not be an existing key.
    assert _keys(s3.list_objects_v2(Bucket=tree, StartAfter="a/a")) == ["a/b/3", "b/1", "c", "d/e/f", "dz"]
    assert _keys(s3.list_objects_v2(Bucket=tree, StartAfter="zzz")) == []


def test_list_v1_marker(s3, tree):
    resp = s3.list_objects(Bucket=tree, Marker="b/1")
    assert _keys(resp) == ["c", "d/e/f", "dz"]
    assert resp["Marker"] == "b/1"


def test_list_v1_paging_with_delimiter_next_marker(s3, bucket):
    # Mirrors the S3 conformance cases (ceph s3-tests test_bucket_list_delimiter_prefix).
    for k in ["asdf", "boo/bar", "boo/baz/xyzzy", "cquux/thud", "cquux/bla"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")

    r1 = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=1)
    assert (_keys(r1), _prefixes(r1), r1["IsTruncated"], r1.get("NextMarker")) == (["asdf"], [], True, "asdf")
    r2 = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=1, Marker=r1["NextMarker"])
    assert (_keys(r2), _prefixes(r2), r2["IsTruncated"], r2.get("NextMarker")) == ([], ["boo/"], True, "boo/")
    r3 = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=1, Marker=r2["NextMarker"])
    assert (_keys(r3), _prefixes(r3), r3["IsTruncated"]) == ([], ["cquux/"], False)
    assert r3.get("NextMarker") is None

    r1 = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=2)
    assert (_keys(r1), _prefixes(r1), r1["IsTruncated"], r1.get("NextMarker")) == (["asdf"], ["boo/"], True, "boo/")
    r2 = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=2, Marker=r1["NextMarker"])
    assert (_keys(r2), _prefixes(r2), r2["IsTruncated"]) == ([], ["cquux/"], False)


def test_list_v2_paging_with_delimiter(s3, bucket):
    for k in ["asdf", "boo/bar", "boo/baz/xyzzy", "cquux/thud", "cquux/bla"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")
    r1 = s3.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=1)
    assert (_keys(r1), _prefixes(r1), r1["IsTruncated"], r1["KeyCount"]) == (["asdf"], [], True, 1)
    r2 = s3.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=1, ContinuationToken=r1["NextContinuationToken"])
    assert (_keys(r2), _prefixes(r2), r2["IsTruncated"], r2["KeyCount"]) == ([], ["boo/"], True, 1)
    r3 = s3.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=1, ContinuationToken=r2["NextContinuationToken"])
    assert (_keys(r3), _prefixes(r3), r3["IsTruncated"]) == ([], ["cquux/"], False)


def test_list_v2_big_bucket_pages(s3, big_bucket):
    name, keys = big_bucket
    pages, token = [], None
    for _ in range(10):
        kw = {"Bucket": name}
        if token:
            kw["ContinuationToken"] = token
        resp = s3.list_objects_v2(**kw)  # default MaxKeys is 1000
        pages.append(_keys(resp))
        assert resp["KeyCount"] == len(pages[-1])
        if not resp["IsTruncated"]:
            break
        token = resp["NextContinuationToken"]
    assert [len(p) for p in pages] == [1000, 1000, 500]
    assert [k for p in pages for k in p] == keys


def test_list_v2_max_keys_capped_at_1000(s3, big_bucket):
    name, _ = big_bucket
    resp = s3.list_objects_v2(Bucket=name, MaxKeys=5000)
    assert len(_keys(resp)) == 1000
    assert resp["IsTruncated"] is True


def test_list_v2_paginator_page_size(s3, big_bucket):
    name, keys = big_bucket
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=name, PaginationConfig={"PageSize": 700}))
    assert [len(_keys(p)) for p in pages] == [700, 700, 700, 400]
    assert [k for p in pages for k in _keys(p)] == keys


def test_list_v1_big_bucket_marker_paging(s3, big_bucket):
    name, keys = big_bucket
    got, marker = [], None
    sizes = []
    for _ in range(10):
        kw = {"Bucket": name, "MaxKeys": 1000}
        if marker:
            kw["Marker"] = marker
        resp = s3.list_objects(**kw)
        page = _keys(resp)
        sizes.append(len(page))
        got += page
        if not resp["IsTruncated"]:
            break
        # Without a delimiter, the next marker is the last key returned.
        marker = resp.get("NextMarker") or page[-1]
    assert sizes == [1000, 1000, 500]
    assert got == keys


def test_list_v2_big_bucket_start_after_and_prefix(s3, big_bucket):
    name, keys = big_bucket
    resp = s3.list_objects_v2(Bucket=name, StartAfter="k/02489")
    assert _keys(resp) == keys[2490:]
    resp = s3.list_objects_v2(Bucket=name, Prefix="k/0123")
    assert _keys(resp) == [f"k/0123{i}" for i in range(10)]


# --------------------------------------------------------------------------------------
# Owner, encoding, special keys, key length
# --------------------------------------------------------------------------------------


def test_list_v2_fetch_owner(s3, tree):
    with_owner = s3.list_objects_v2(Bucket=tree, FetchOwner=True)
    assert all(o.get("Owner", {}).get("ID") for o in with_owner["Contents"])
    without = s3.list_objects_v2(Bucket=tree)
    assert all("Owner" not in o for o in without["Contents"])


def test_list_v1_includes_owner(s3, tree):
    resp = s3.list_objects(Bucket=tree)
    assert all(o.get("Owner", {}).get("ID") for o in resp["Contents"])


SPECIAL_KEYS = [
    "sp ace",
    "plus+sign",
    "pct%41done",
    "double//slash",
    "unicodé-日本語-ключ",
    "xml&<>\"'chars",
    "tab\there",
    "trailing/",
    "~tilde!*()$,;=@:",
]


def test_special_keys_roundtrip_and_list(s3, bucket):
    for k in SPECIAL_KEYS:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    for k in SPECIAL_KEYS:
        assert s3.get_object(Bucket=bucket, Key=k)["Body"].read() == k.encode()
        assert s3.head_object(Bucket=bucket, Key=k)["ContentLength"] == len(k.encode())
    # boto3 asks for encoding-type=url by itself and decodes the answer.
    expected = sorted(SPECIAL_KEYS, key=lambda k: k.encode())
    assert _keys(s3.list_objects_v2(Bucket=bucket)) == expected
    assert _keys(s3.list_objects(Bucket=bucket)) == expected


def test_list_without_encoding_type_returns_raw_keys(raw, s3, bucket):
    # Without encoding-type the keys are plain XML text (XML-escaped).
    keys = ["sp ace", "xml&<>\"'chars", "unicodé-日本語", "plus+sign"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")
    resp = raw("GET", f"/{bucket}", query={"list-type": "2"})
    assert resp.status == 200, resp
    root = resp.xml()
    assert sorted(c.findtext("Key") for c in root.findall("Contents")) == sorted(keys)


def test_list_encoding_type_url(s3, bucket):
    keys = ["dir one/sp ace", "plus+sign", "pct%41", "unicodé-日本語"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")
    for api in (s3.list_objects_v2, s3.list_objects):
        # Explicit EncodingType: botocore leaves the keys as the server encoded them.
        resp = api(Bucket=bucket, EncodingType="url", Delimiter="/")
        assert resp["EncodingType"] == "url"
        got = _keys(resp)
        assert sorted(unquote_plus(k) for k in got) == sorted(["plus+sign", "pct%41", "unicodé-日本語"])
        for k in got:
            assert k.isascii() and " " not in k and "+sign" not in k, f"not URL-encoded: {k!r}"
        assert [unquote_plus(p) for p in _prefixes(resp)] == ["dir one/"]
        assert _prefixes(resp)[0] != "dir one/"


def test_key_length_limit(s3, bucket):
    ok = "k" * 1024
    s3.put_object(Bucket=bucket, Key=ok, Body=b"max")
    assert s3.get_object(Bucket=bucket, Key=ok)["Body"].read() == b"max"
    assert _keys(s3.list_objects_v2(Bucket=bucket)) == [ok]

    expect_error(s3.put_object, Bucket=bucket, Key="k" * 1025, Body=b"x", code="KeyTooLongError", status=400)
    # The limit is in UTF-8 bytes: 513 two-byte characters are 1026 bytes.
    expect_error(s3.put_object, Bucket=bucket, Key="é" * 513, Body=b"x", code="KeyTooLongError", status=400)
    s3.put_object(Bucket=bucket, Key="é" * 512, Body=b"x")
    assert _keys(s3.list_objects_v2(Bucket=bucket)) == sorted([ok, "é" * 512], key=str.encode)


def test_empty_delimiter_is_not_echoed(s3, bucket):
    s3.put_object(Bucket=bucket, Key="a/b", Body=b"x")
    for call in (s3.list_objects, s3.list_objects_v2):
        resp = call(Bucket=bucket, Delimiter="")
        assert "Delimiter" not in resp
        assert [o["Key"] for o in resp["Contents"]] == ["a/b"]


def test_v1_prefix_comes_back_as_sent(s3, bucket):
    # boto3 asks for encoding-type=url; in ListObjects V1 the Prefix element is not encoded.
    s3.put_object(Bucket=bucket, Key="\nkey", Body=b"x")
    resp = s3.list_objects(Bucket=bucket, Prefix="\n")
    assert resp["Prefix"] == "\n"
    assert [o["Key"] for o in resp["Contents"]] == ["\nkey"]


def test_list_object_versions_of_an_unversioned_bucket(s3, bucket):
    # Without versioning each object is its only version, "null", and the latest.
    for k in ("a/1", "a/2", "b", "c d+e"):
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    resp = s3.list_object_versions(Bucket=bucket)
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in resp["Versions"]] == [
        ("a/1", "null", True), ("a/2", "null", True), ("b", "null", True), ("c d+e", "null", True)]
    assert resp["Versions"][0]["ETag"] == etag_of(b"a/1")
    assert "DeleteMarkers" not in resp
    page = s3.list_object_versions(Bucket=bucket, Delimiter="/", MaxKeys=2)
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["a/"]
    assert [v["Key"] for v in page["Versions"]] == ["b"]
    assert page["IsTruncated"] is True
    rest = s3.list_object_versions(Bucket=bucket, Delimiter="/", KeyMarker=page["NextKeyMarker"],
                                   VersionIdMarker=page["NextVersionIdMarker"])
    assert [v["Key"] for v in rest["Versions"]] == ["c d+e"]
    assert rest["IsTruncated"] is False
