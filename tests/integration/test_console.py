"""The web console's API through the real binary (`tessera serve --console-listen`): login,
create a bucket, list it, an upload read back with boto3, IAM through the console, a
state-changing request without the CSRF token refused (nothing created), logout, TLS."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET

import pytest
import requests

from conftest import ROOT_ACCESS_KEY, ROOT_SECRET_KEY
import s3util

CONSOLE_RE = re.compile(r"tessera console on (https?://127\.0\.0\.1:\d+)")
S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def console_url(srv, timeout: float = 10.0) -> str:
    """The console URL the server printed (after its listening line)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = CONSOLE_RE.search(srv.log_text())
        if m:
            return m.group(1)
        time.sleep(0.05)
    raise AssertionError(f"no console line in the log:\n{srv.log_tail(20)}")


def login(url: str, key: str, secret: str, verify=True) -> tuple[requests.Session, requests.Response]:
    s = requests.Session()
    # No CA bundle or proxy from the environment: they would override `verify` and loopback.
    s.trust_env = False
    s.verify = verify
    r = s.post(f"{url}/api/login", json={"accessKeyId": key, "secretAccessKey": secret}, timeout=30)
    if r.status_code == 200:
        s.headers["X-CSRF-Token"] = r.json()["csrfToken"]
    return s, r


def bucket_names(xml_text: str) -> list[str]:
    root = ET.fromstring(xml_text)
    return [e.text for e in root.iter(f"{S3_NS}Name")]


@pytest.fixture
def console(make_server):
    srv = make_server("--console-listen", "127.0.0.1:0")
    return srv, console_url(srv)


def test_console_login_bucket_list_and_csrf(console):
    srv, url = console
    page = requests.get(f"{url}/", timeout=10)
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert requests.get(f"{url}/api/s3/", timeout=10).json()["code"] == "NotLoggedIn"

    _, bad = login(url, ROOT_ACCESS_KEY, "not-the-secret")
    assert bad.status_code == 401
    assert bad.json()["code"] == "SignatureDoesNotMatch"

    s, r = login(url, ROOT_ACCESS_KEY, ROOT_SECRET_KEY)
    assert r.status_code == 200, r.text
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("tessera_session=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    assert r.json()["accessKeyId"] == ROOT_ACCESS_KEY

    name = s3util.unique_bucket_name()
    s3 = srv.client()
    # Without the CSRF token: refused, and no bucket.
    token = s.headers.pop("X-CSRF-Token")
    r = s.put(f"{url}/api/s3/{name}", timeout=30)
    assert r.status_code == 403 and r.json()["code"] == "InvalidCsrfToken"
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s.headers["X-CSRF-Token"] = token
    # From another origin: refused too.
    r = s.put(f"{url}/api/s3/{name}", headers={"Origin": "http://evil.example"}, timeout=30)
    assert r.status_code == 403 and r.json()["code"] == "InvalidOrigin"

    r = s.put(f"{url}/api/s3/{name}", timeout=30)
    assert r.status_code == 200, r.text
    r = s.get(f"{url}/api/s3/", timeout=30)
    assert r.status_code == 200
    assert name in bucket_names(r.text)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]

    # An object through the console, read with boto3; and back through the console.
    data = bytes(range(256)) * 4096
    r = s.put(f"{url}/api/s3/{name}/dir/a%20b.bin", data=data,
              headers={"Content-Type": "application/octet-stream", "x-amz-meta-origin": "console"},
              timeout=60)
    assert r.status_code == 200, r.text
    got = s3.get_object(Bucket=name, Key="dir/a b.bin")
    assert got["Body"].read() == data
    assert got["Metadata"] == {"origin": "console"}
    r = s.get(f"{url}/api/s3/{name}/dir/a%20b.bin", params={"response-content-disposition": "attachment"},
              timeout=60)
    assert r.status_code == 200 and r.content == data
    assert r.headers["Content-Disposition"] == "attachment"
    assert r.headers["ETag"] == got["ETag"]

    # IAM as the session's key.
    r = s.post(f"{url}/api/iam", data={"Action": "ListUsers", "Version": "2010-05-08"}, timeout=30)
    assert r.status_code == 200 and "<ListUsersResponse" in r.text, r.text

    s3.delete_object(Bucket=name, Key="dir/a b.bin")
    r = s.delete(f"{url}/api/s3/{name}", timeout=30)
    assert r.status_code == 204, r.text

    r = s.post(f"{url}/api/logout", timeout=10)
    assert r.status_code == 204
    r = s.get(f"{url}/api/session", timeout=10)
    assert r.status_code == 401 and r.json()["code"] == "NotLoggedIn"


def test_console_under_tls_has_secure_cookies(make_server):
    srv = make_server("--console-listen", "127.0.0.1:0", tls=True)
    url = console_url(srv)
    assert url.startswith("https://")
    s, r = login(url, ROOT_ACCESS_KEY, ROOT_SECRET_KEY, verify=srv.ca_bundle)
    assert r.status_code == 200, r.text
    assert "Secure" in r.headers["Set-Cookie"]
    assert s.get(f"{url}/api/s3/", timeout=30).status_code == 200

    # Over HTTP/2 (no Host header: the origin check reads :authority), as a browser sends it.
    import httpx

    with httpx.Client(http2=True, verify=srv.ca_bundle, trust_env=False, timeout=30) as h2:
        r = h2.post(f"{url}/api/login", json={"accessKeyId": ROOT_ACCESS_KEY, "secretAccessKey": ROOT_SECRET_KEY},
                    headers={"Origin": url})
        assert r.status_code == 200, r.text
        assert r.http_version == "HTTP/2"
        name = s3util.unique_bucket_name()
        headers = {"Origin": url, "X-CSRF-Token": r.json()["csrfToken"]}
        r = h2.put(f"{url}/api/s3/{name}", headers=headers)
        assert r.status_code == 200, r.text
        r = h2.put(f"{url}/api/s3/{name}x", headers={**headers, "Origin": "https://evil.example"})
        assert r.status_code == 403 and r.json()["code"] == "InvalidOrigin"
        r = h2.delete(f"{url}/api/s3/{name}", headers=headers)
        assert r.status_code == 204, r.text


def test_console_can_be_switched_off(make_server):
    srv = make_server("--console-listen", "off")
    time.sleep(0.3)
    assert CONSOLE_RE.search(srv.log_text()) is None
    assert srv.client().list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200
