"""Request logging: one line per request carrying the method, the path and the status."""

import re
import time

from s3util import expect_error, unique_key


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _lines_with(server, marker):
    """Log lines mentioning marker, with terminal colour codes removed."""
    return [ANSI.sub("", line) for line in server.log_text().splitlines() if marker in line]


def test_one_log_line_per_request(server, s3, bucket):
    put_key = unique_key("logput")
    missing_key = unique_key("logmissing")
    s3.put_object(Bucket=bucket, Key=put_key, Body=b"logged")
    s3.get_object(Bucket=bucket, Key=put_key)["Body"].read()
    expect_error(s3.get_object, Bucket=bucket, Key=missing_key, code="NoSuchKey", status=404)
    s3.delete_object(Bucket=bucket, Key=put_key)

    expected = [(put_key, "PUT", "200"), (put_key, "GET", "200"), (missing_key, "GET", "404"),
                (put_key, "DELETE", "204")]

    def matches(marker, method, status):
        return [line for line in _lines_with(server, marker)
                if re.search(rf"\b{method}\b", line) and re.search(rf"\b{status}\b", line)]

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not all(matches(*e) for e in expected):
        time.sleep(0.1)
    for marker, method, status in expected:
        found = matches(marker, method, status)
        assert len(found) == 1, (
            f"expected exactly one log line with {method}, {status} and {marker}; got {found}\n"
            f"all lines with the key: {_lines_with(server, marker)}"
        )
    # GET of put_key logged once (200), not confused with the PUT or DELETE lines.
    gets = [line for line in _lines_with(server, put_key) if re.search(r"\bGET\b", line)]
    assert len(gets) == 1, gets


def test_malformed_bodies_are_not_logged(server, raw, bucket):
    marker = unique_key("INJECTED")
    body = (f"<CreateBucketConfiguration><LocationConstraint>x\n2026-01-01T00:00:00Z ERROR {marker}"
            f"</Location></CreateBucketConfiguration>").encode()
    r = raw.request("PUT", f"/{bucket}-inj", body=body)
    assert r.status == 400 and r.error_code == "MalformedXML", r.body
    time.sleep(0.3)
    assert _lines_with(server, marker) == [], "a client's body must not reach the log"
