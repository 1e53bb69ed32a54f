"""Bucket CORS: Put/Get/DeleteBucketCors with S3's errors, preflight OPTIONS requests
(unauthenticated, answered from the first matching rule) and the CORS headers of actual
requests, errors and presigned URLs included."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import requests
from botocore.exceptions import ClientError

import s3util
from s3util import expect_error

NOT_ALLOWED = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of "
    "Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers "
    "are not whitelisted by the resource's CORS spec."
)
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
CORS_HEADERS = (
    "access-control-allow-origin",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-allow-credentials",
    "access-control-expose-headers",
    "access-control-max-age",
)

WEB_RULE = {
    "ID": "web-app",
    "AllowedOrigins": ["http://app.example.org"],
    "AllowedMethods": ["GET", "PUT", "HEAD"],
    "AllowedHeaders": ["Content-Type", "x-amz-*"],
    "ExposeHeaders": ["ETag", "x-amz-request-id"],
    "MaxAgeSeconds": 3000,
}


def url(server, bucket: str, key: str | None = None) -> str:
    return f"{server.endpoint}{s3util.key_path(bucket, key)}"


def error_of(resp) -> dict:
    root = ET.fromstring(resp.content)
    return {child.tag: child.text for child in root}


def no_cors_headers(resp) -> bool:
    return not any(h in resp.headers for h in CORS_HEADERS)


def preflight(target: str, origin: str | None, method: str | None, headers: str | None = None):
    h = {}
    if origin is not None:
        h["Origin"] = origin
    if method is not None:
        h["Access-Control-Request-Method"] = method
    if headers is not None:
        h["Access-Control-Request-Headers"] = headers
    return requests.options(target, headers=h, timeout=30)


# ------------------------------------------------------------------------------------
# The configuration operations
# ------------------------------------------------------------------------------------


def test_put_get_delete_bucket_cors(s3, bucket):
    expect_error(s3.get_bucket_cors, Bucket=bucket, code="NoSuchCORSConfiguration", status=404)
    minimal = {"AllowedOrigins": ["*.get", "*.put"], "AllowedMethods": ["GET", "PUT"]}
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [WEB_RULE, minimal]})
    rules = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    # Every member set comes back, lists in the order sent; members never set stay absent.
    assert rules == [WEB_RULE, minimal]
    # A Put replaces the whole configuration.
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [minimal]})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == [minimal]
    resp = s3.delete_bucket_cors(Bucket=bucket)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    e = expect_error(s3.get_bucket_cors, Bucket=bucket, code="NoSuchCORSConfiguration", status=404)
    assert e.response["Error"]["Message"] == "The CORS configuration does not exist"
    # Deleting again is fine.
    assert s3.delete_bucket_cors(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_bucket_cors_on_missing_bucket(s3):
    missing = s3util.unique_bucket_name()
    expect_error(s3.get_bucket_cors, Bucket=missing, code="NoSuchBucket", status=404)
    expect_error(s3.put_bucket_cors, Bucket=missing,
                 CORSConfiguration={"CORSRules": [WEB_RULE]}, code="NoSuchBucket", status=404)


def test_put_bucket_cors_errors(s3, bucket):
    def put(rules):
        return s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})

    for method in ("PATCH", "OPTIONS", "get"):
        e = expect_error(put, [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET", method]}],
                         code="InvalidRequest", status=400)
        assert e.response["Error"]["Message"] == (
            f"Found unsupported HTTP method in CORS config. Unsupported method is {method}")
    e = expect_error(put, [{"AllowedOrigins": ["http://*.a.*"], "AllowedMethods": ["GET"]}],
                     code="InvalidRequest", status=400)
    assert e.response["Error"]["Message"] == (
        'AllowedOrigin "http://*.a.*" can not have more than one wildcard.')
    e = expect_error(put, [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"],
                            "AllowedHeaders": ["x-*-*"]}], code="InvalidRequest", status=400)
    assert e.response["Error"]["Message"] == 'AllowedHeader "x-*-*" can not have more than one wildcard.'
    # No rule, more than 100 rules, a rule without an origin or a method: MalformedXML.
    expect_error(put, [], code="MalformedXML", status=400)
    expect_error(put, [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}] * 101,
                 code="MalformedXML", status=400)
    expect_error(put, [{"AllowedOrigins": [], "AllowedMethods": ["GET"]}], code="MalformedXML", status=400)
    expect_error(put, [{"AllowedOrigins": ["*"], "AllowedMethods": []}], code="MalformedXML", status=400)
    expect_error(put, [{"ID": "i" * 256, "AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}],
                 code="InvalidArgument", status=400)
    # The document is limited to 64 KB.
    big = [{"AllowedOrigins": [f"http://{'o' * 700}{i}.example"], "AllowedMethods": ["GET"]}
           for i in range(100)]
    expect_error(put, big, code="MaxMessageLengthExceeded", status=400)
    # 100 rules within the limit are fine; nothing refused was stored.
    put([{"AllowedOrigins": [f"http://o{i}.example"], "AllowedMethods": ["GET"]} for i in range(100)])
    assert len(s3.get_bucket_cors(Bucket=bucket)["CORSRules"]) == 100


def test_bucket_cors_actions(server):
    """Put and Delete need s3:PutBucketCORS, Get s3:GetBucketCORS."""
    from test_accounts import new_account, new_user

    acct, owner = new_account(server, "cors")
    name = s3util.unique_bucket_name()
    owner.create_bucket(Bucket=name)
    arn = f"arn:aws:s3:::{name}"
    _, _, reader = new_user(server, acct, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetBucketCORS", "Resource": arn}]})
    _, _, writer = new_user(server, acct, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:PutBucketCORS", "Resource": arn}]})
    config = {"CORSRules": [WEB_RULE]}
    expect_error(reader.put_bucket_cors, Bucket=name, CORSConfiguration=config,
                 code="AccessDenied", status=403)
    writer.put_bucket_cors(Bucket=name, CORSConfiguration=config)
    expect_error(writer.get_bucket_cors, Bucket=name, code="AccessDenied", status=403)
    assert reader.get_bucket_cors(Bucket=name)["CORSRules"] == [WEB_RULE]
    expect_error(reader.delete_bucket_cors, Bucket=name, code="AccessDenied", status=403)
    writer.delete_bucket_cors(Bucket=name)
    expect_error(reader.get_bucket_cors, Bucket=name, code="NoSuchCORSConfiguration", status=404)
    owner.delete_bucket(Bucket=name)


# ------------------------------------------------------------------------------------
# Preflight
# ------------------------------------------------------------------------------------


def test_preflight_match(server, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [WEB_RULE]})
    r = preflight(url(server, bucket, "dir/file.bin"), "http://app.example.org", "PUT",
                  "Content-Type,X-Amz-Date, x-amz-content-sha256")
    assert r.status_code == 200, r.text
    assert r.content == b""
    h = r.headers
    assert h["Access-Control-Allow-Origin"] == "http://app.example.org"
    assert h["Access-Control-Allow-Credentials"] == "true"
    assert h["Access-Control-Allow-Methods"] == "GET, PUT, HEAD"
    # The requested headers, lower-cased, in the order requested.
    assert h["Access-Control-Allow-Headers"] == "content-type, x-amz-date, x-amz-content-sha256"
    assert h["Access-Control-Expose-Headers"] == "ETag, x-amz-request-id"
    assert h["Access-Control-Max-Age"] == "3000"
    assert h["Vary"] == VARY
    assert h.get("x-amz-request-id")
    # Without requested headers there is no Allow-Headers; the bucket URL works the same.
    r = preflight(url(server, bucket), "http://app.example.org", "GET")
    assert r.status_code == 200
    assert "Access-Control-Allow-Headers" not in r.headers
    # Preflights are unauthenticated: a presigned URL's query is ignored.
    presigned = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "k"})
    r = preflight(presigned, "http://app.example.org", "PUT")
    assert r.status_code == 200, r.text


def test_preflight_refusals(server, s3, bucket):
    obj = url(server, bucket, "k")
    # No Origin: 400, whatever the bucket.
    for target in (obj, url(server, s3util.unique_bucket_name(), "k")):
        r = preflight(target, None, "GET")
        assert r.status_code == 400
        assert error_of(r)["Code"] == "BadRequest"
        assert error_of(r)["Message"] == "Insufficient information. Origin request header needed."
        assert no_cors_headers(r)
    # No configuration: 403 "CORS is not enabled", ResourceType BUCKET even for a key.
    r = preflight(obj, "http://app.example.org", "PUT")
    assert r.status_code == 403
    err = error_of(r)
    assert err["Code"] == "AccessForbidden"
    assert err["Message"] == "CORSResponse: CORS is not enabled for this bucket."
    assert err["Method"] == "PUT"
    assert err["ResourceType"] == "BUCKET"
    assert err["RequestId"]
    assert no_cors_headers(r)
    # A bucket that does not exist.
    r = preflight(url(server, s3util.unique_bucket_name(), "k"), "http://app.example.org", "GET")
    assert r.status_code == 403
    assert error_of(r)["Message"] == "CORSResponse: Bucket not found"

    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [WEB_RULE]})
    # Origin without Access-Control-Request-Method, or with a method S3 does not know.
    r = preflight(obj, "http://app.example.org", None)
    assert r.status_code == 400
    assert error_of(r)["Code"] == "BadRequest"
    r = preflight(obj, "http://app.example.org", "PATCH")
    assert r.status_code == 400
    assert error_of(r)["Message"] == "Invalid Access-Control-Request-Method: PATCH"

    def refused(target, origin, method, headers=None, resource="OBJECT"):
        r = preflight(target, origin, method, headers)
        assert r.status_code == 403, (origin, method, headers, r.text)
        err = error_of(r)
        assert err["Code"] == "AccessForbidden"
        assert err["Message"] == NOT_ALLOWED
        assert err["Method"] == method
        assert err["ResourceType"] == resource
        assert no_cors_headers(r)

    refused(obj, "http://other.example.org", "GET")          # origin
    refused(obj, "https://app.example.org", "GET")           # scheme
    refused(obj, "http://app.example.org:8080", "GET")       # port
    refused(obj, "http://app.example.org/", "GET")           # trailing slash
    refused(obj, "http://app.example.org", "DELETE")         # method
    refused(obj, "http://app.example.org", "PUT", "content-type, authorization")  # one header
    refused(url(server, bucket), "http://app.example.org", "POST", resource="BUCKET")


def test_preflight_wildcards_and_first_rule(server, s3, bucket):
    rules = [
        {"ID": "sub", "AllowedOrigins": ["http://*.example.com"], "AllowedMethods": ["PUT"],
         "AllowedHeaders": ["*"]},
        {"ID": "amz", "AllowedOrigins": ["http://*.example.com"], "AllowedMethods": ["GET", "PUT"],
         "AllowedHeaders": ["x-amz-*"], "MaxAgeSeconds": 10},
        {"ID": "any", "AllowedOrigins": ["*"], "AllowedMethods": ["GET"]},
    ]
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    obj = url(server, bucket, "k")
    # The first rule wins: `sub` allows any header for PUT (no Max-Age, PUT only).
    r = preflight(obj, "http://a.b.example.com", "PUT", "x-custom, content-md5")
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Methods"] == "PUT"
    assert r.headers["Access-Control-Allow-Headers"] == "x-custom, content-md5"
    assert "Access-Control-Max-Age" not in r.headers
    # For GET the second rule: its header wildcard matches without regard to case.
    r = preflight(obj, "http://www.example.com", "GET", "X-AMZ-Date,x-amz-security-token")
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "http://www.example.com"
    assert r.headers["Access-Control-Allow-Methods"] == "GET, PUT"
    assert r.headers["Access-Control-Allow-Headers"] == "x-amz-date, x-amz-security-token"
    assert r.headers["Access-Control-Max-Age"] == "10"
    # No rule allows content-type for GET (`*` has no AllowedHeader: it allows none).
    r = preflight(obj, "http://www.example.com", "GET", "content-type")
    assert r.status_code == 403
    # The `*` rule answers `*`, without credentials.
    r = preflight(obj, "http://elsewhere.test", "GET")
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in r.headers
    assert r.headers["Access-Control-Allow-Methods"] == "GET"
    assert r.headers["Vary"] == VARY
    # The subdomain wildcard needs the dot and the scheme.
    assert preflight(obj, "http://example.com", "PUT").status_code == 403
    assert preflight(obj, "https://a.example.com", "PUT").status_code == 403


def test_preflight_virtual_host(make_server):
    srv = make_server("--domain", "s3.tessera.test")
    s3 = srv.client()
    name = s3util.unique_bucket_name()
    s3.create_bucket(Bucket=name)
    host = f"{name}.s3.tessera.test:{srv.port}"
    h = {"Host": host, "Origin": "http://app.example.org", "Access-Control-Request-Method": "PUT"}
    r = requests.options(f"{srv.endpoint}/some/key", headers=h, timeout=30)
    assert r.status_code == 403
    assert error_of(r)["Message"] == "CORSResponse: CORS is not enabled for this bucket."
    s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [WEB_RULE]})
    r = requests.options(f"{srv.endpoint}/some/key", headers=h, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == "http://app.example.org"
    # And the actual request by host carries the headers.
    s3.put_object(Bucket=name, Key="some/key", Body=b"x")
    s3.put_object_acl(Bucket=name, Key="some/key", ACL="public-read")
    r = requests.get(f"{srv.endpoint}/some/key", headers={"Host": host, "Origin": "http://app.example.org"},
                     timeout=30)
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "http://app.example.org"


# ------------------------------------------------------------------------------------
# Actual requests
# ------------------------------------------------------------------------------------


def test_actual_requests_carry_cors_headers(server, s3, bucket):
    origin = "http://app.example.org"
    s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
    obj = url(server, bucket, "k")
    # Without a configuration: nothing.
    r = requests.get(obj, headers={"Origin": origin}, timeout=30)
    assert r.status_code == 403 and no_cors_headers(r) and "Vary" not in r.headers

    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [WEB_RULE]})

    def cors_of(r):
        assert r.headers["Access-Control-Allow-Origin"] == origin, (r.status_code, r.headers)
        assert r.headers["Access-Control-Allow-Methods"] == "GET, PUT, HEAD"
        assert r.headers["Access-Control-Expose-Headers"] == "ETag, x-amz-request-id"
        assert r.headers["Access-Control-Allow-Credentials"] == "true"
        assert r.headers["Access-Control-Max-Age"] == "3000"
        assert r.headers["Vary"] == VARY
        assert "Access-Control-Allow-Headers" not in r.headers

    # Error responses carry them too: anonymous GET is AccessDenied.
    r = requests.get(obj, headers={"Origin": origin}, timeout=30)
    assert r.status_code == 403
    cors_of(r)
    # A presigned GET and PUT.
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
    r = requests.get(get_url, headers={"Origin": origin}, timeout=30)
    assert r.status_code == 200 and r.content == b"hello"
    cors_of(r)
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "p"})
    r = requests.put(put_url, data=b"from the page", headers={"Origin": origin}, timeout=30)
    assert r.status_code == 200
    cors_of(r)
    assert r.headers["ETag"] == s3util.etag_of(b"from the page")
    # A presigned GET of a missing key: 404 NoSuchKey, with the headers.
    missing = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "nope"})
    r = requests.get(missing, headers={"Origin": origin}, timeout=30)
    assert r.status_code == 404
    cors_of(r)
    # No Origin, another origin, or a method the rule does not allow: no CORS headers.
    r = requests.get(get_url, timeout=30)
    assert r.status_code == 200 and no_cors_headers(r)
    r = requests.get(get_url, headers={"Origin": "http://evil.example"}, timeout=30)
    assert r.status_code == 200 and no_cors_headers(r) and "Vary" not in r.headers
    del_url = s3.generate_presigned_url("delete_object", Params={"Bucket": bucket, "Key": "p"})
    r = requests.delete(del_url, headers={"Origin": origin}, timeout=30)
    assert r.status_code == 204 and no_cors_headers(r)


def test_actual_requests_signed_with_headers(server, s3, bucket, raw):
    """A SigV4 request signed in its headers gets the headers as well (boto3 would not
    send Origin, so the raw client does)."""
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}]})
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    resp = raw("GET", s3util.key_path(bucket, "k"), headers={"Origin": "http://x.test"})
    assert resp.status == 200, resp
    assert resp.header("Access-Control-Allow-Origin") == "*"
    assert resp.header("Access-Control-Allow-Methods") == "GET"
    assert resp.header("Access-Control-Allow-Credentials") is None
    resp = raw("PUT", s3util.key_path(bucket, "k2"), body=b"x", headers={"Origin": "http://x.test"})
    assert resp.status == 200, resp
    assert resp.header("Access-Control-Allow-Origin") is None


# ------------------------------------------------------------------------------------
# ceph/s3-tests' CORS scenarios (test_cors_origin_response, _wildcard, _header_option)
# ------------------------------------------------------------------------------------


def check(func, target, headers, status, allow_origin, allow_methods):
    r = func(target, headers=headers, timeout=30)
    assert r.status_code == status, (func.__name__, headers, r.status_code, r.text)
    assert r.headers.get("access-control-allow-origin") == allow_origin, headers
    assert r.headers.get("access-control-allow-methods") == allow_methods, headers


def test_s3tests_origin_response(server, s3, bucket):
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["*suffix"]},
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["start*end"]},
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["prefix*"]},
        {"AllowedMethods": ["PUT"], "AllowedOrigins": ["*.put"]},
    ]})
    b = url(server, bucket)
    get, put, options = requests.get, requests.put, requests.options
    check(get, b, None, 200, None, None)
    for origin in ("foo.suffix", "startend", "start1end", "start12end", "prefix", "prefix.suffix"):
        check(get, b, {"Origin": origin}, 200, origin, "GET")
    for origin in ("foo.bar", "foo.suffix.get", "0start12end", "bla.prefix"):
        check(get, b, {"Origin": origin}, 200, None, None)
    o = f"{b}/bar"
    check(get, o, {"Origin": "foo.suffix"}, 404, "foo.suffix", "GET")
    # An actual request is matched by its Access-Control-Request-Method when it sends one.
    check(put, o, {"Origin": "foo.suffix", "Access-Control-Request-Method": "GET",
                   "content-length": "0"}, 403, "foo.suffix", "GET")
    for acrm in ("PUT", "DELETE"):
        check(put, o, {"Origin": "foo.suffix", "Access-Control-Request-Method": acrm,
                       "content-length": "0"}, 403, None, None)
    check(put, o, {"Origin": "foo.suffix", "content-length": "0"}, 403, None, None)
    check(put, o, {"Origin": "foo.put", "content-length": "0"}, 403, "foo.put", "PUT")
    check(options, b, None, 400, None, None)
    check(options, b, {"Origin": "foo.suffix"}, 400, None, None)
    check(options, b, {"Origin": "bla"}, 400, None, None)
    check(options, o, {"Origin": "foo.suffix", "Access-Control-Request-Method": "GET",
                       "content-length": "0"}, 200, "foo.suffix", "GET")
    for origin in ("startend", "start1end", "start12end", "prefix", "prefix.suffix"):
        check(options, b, {"Origin": origin, "Access-Control-Request-Method": "GET"}, 200, origin, "GET")
    for origin in ("foo.bar", "foo.suffix.get", "0start12end", "bla.prefix", "foo.put"):
        check(options, b, {"Origin": origin, "Access-Control-Request-Method": "GET"}, 403, None, None)
    check(options, b, {"Origin": "foo.put", "Access-Control-Request-Method": "PUT"}, 200, "foo.put", "PUT")


def test_s3tests_origin_wildcard_and_header_option(server, s3, bucket):
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "ExposeHeaders": ["x-amz-meta-header1"]}]})
    b = url(server, bucket)
    check(requests.get, b, None, 200, None, None)
    check(requests.get, b, {"Origin": "example.origin"}, 200, "*", "GET")
    check(requests.options, f"{b}/bar", {"Origin": "example.origin",
                                         "Access-Control-Request-Headers": "x-amz-meta-header2",
                                         "Access-Control-Request-Method": "GET"}, 403, None, None)
