"""The web console in headless Chromium (Playwright): log in, buckets, a multipart upload seen
in progress with its parts, browse, download and compare bytes, object details, delete; the
phone-width layout; login errors and the end of a session; IAM users and keys; the policy
editor. Each test starts its own server with the console on a free loopback port and keeps
screenshots of its steps in `artifacts` (target/test-artifacts/<test>/).

The page runs under the console's CSP (`default-src 'self'`, nothing inline): a violation is a
console error, and every test fails on any console error or uncaught exception of the page.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import time
import uuid
from pathlib import Path

import pytest
import requests

import s3util

pytestmark = pytest.mark.timeout(180)

MIB = 1024 * 1024
# Playwright's own waits (ms): well inside the test's bound.
WAIT_MS = 30_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Console:
    """A server with its console, and the browser pages opened on it."""

    def __init__(self, server, url: str, chromium, artifacts: Path):
        self.server, self.url, self.chromium, self.artifacts = server, url, chromium, artifacts
        self.contexts = []
        self.problems: list[str] = []
        self.shots = 0

    def page(self, width: int = 1366, height: int = 900):
        context = self.chromium.new_context(viewport={"width": width, "height": height},
                                            accept_downloads=True)
        context.set_default_timeout(WAIT_MS)
        self.contexts.append(context)
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and self._console_error(m))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        return page

    def _console_error(self, msg):
        text = msg.text
        # The browser logs the failed requests the page makes on purpose (a wrong secret, an
        # object that is gone, a session that ended): those are tested through the page.
        if re.search(r"Failed to load resource: the server responded with a status of (4\d\d)", text):
            return
        self.problems.append(f"console error: {text}")

    def shot(self, page, name: str, full_page: bool = True) -> Path:
        self.shots += 1
        path = self.artifacts / f"{self.shots:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    def login(self, page, access_key=None, secret_key=None):
        page.goto(self.url + "/")
        page.get_by_label("Access key ID").fill(access_key or self.server.access_key)
        page.get_by_label("Secret access key").fill(secret_key or self.server.secret_key)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Buckets", level=1).wait_for()

    def close(self):
        for c in self.contexts:
            c.close()


@pytest.fixture
def console(make_server, chromium, artifacts):
    port = free_port()
    srv = make_server("--console-listen", f"127.0.0.1:{port}")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while True:
        try:
            if requests.get(url + "/", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"the console did not answer on {url}\n{srv.log_tail(30)}")
        time.sleep(0.1)
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    c = Console(srv, url, chromium, artifacts)
    yield c
    c.close()
    assert not c.problems, "\n".join(c.problems)


def fact(scope, term: str):
    """The value (<dd>) of the term `term` in the fact lists under `scope`."""
    return scope.locator(".facts > div", has=scope.page.locator("dt", has_text=re.compile(f"^{re.escape(term)}$"))).locator("dd")


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MIB), b""):
            h.update(chunk)
    return h.hexdigest()


def test_console_multipart_upload_seen_in_progress_then_browse_download_details_delete(console, tmp_path):
    from playwright.sync_api import expect

    s3 = console.server.client()
    page = console.page()
    bucket = s3util.unique_bucket_name("ui")

    # Log in with the root key.
    page.goto(console.url + "/")
    expect(page.get_by_role("heading", name="Sign in to Tessera")).to_be_visible()
    page.get_by_label("Access key ID").fill(console.server.access_key)
    page.get_by_label("Secret access key").fill(console.server.secret_key)
    console.shot(page, "login")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Buckets", level=1)).to_be_visible()
    expect(page.locator("#who-name")).to_contain_text("root")

    # Create a bucket: listed with its versioning and lifecycle state.
    page.get_by_label("Bucket name").fill(bucket)
    page.get_by_role("button", name="Create bucket").click()
    row = page.locator("table.data tr", has=page.get_by_role("link", name=bucket, exact=True))
    expect(row).to_be_visible()
    expect(row.locator("td[data-label=Versioning]")).to_contain_text("Off")
    expect(row.locator("td[data-label=Lifecycle]")).to_have_text("none")
    s3.head_bucket(Bucket=bucket)
    console.shot(page, "bucket-created")

    # Into the bucket; a folder; into the folder.
    row.get_by_role("link", name=bucket, exact=True).click()
    expect(page.get_by_role("heading", name=bucket, level=1)).to_be_visible()
    page.get_by_label("New folder").fill("docs")
    page.get_by_role("button", name="Create folder").click()
    page.get_by_role("link", name="docs/").click()
    expect(page.get_by_role("navigation", name="Breadcrumb").get_by_text("docs")).to_be_visible()
    expect(page.get_by_text("This folder is empty.")).to_be_visible()

    # A 41 MiB file: six parts (5 x 8 MiB + 1 MiB). The last part's request is held until the
    # uploads view has shown the upload in progress with its first five parts.
    src = tmp_path / "big.bin"
    data = s3util.random_bytes(41 * MIB)
    src.write_bytes(data)
    del data
    held = []
    part_re = re.compile(r"/api/s3/[^?]+\?(?=.*partNumber=6(&|$)).*uploadId=")
    page.route(part_re, lambda route: held.append(route))
    page.get_by_label("Files to upload").set_input_files(str(src))
    page.get_by_role("button", name="Upload", exact=True).click()
    transfer = page.locator(".transfer", has_text="docs/big.bin")
    expect(transfer.locator(".transfer-status")).to_contain_text("part 5/6", timeout=90_000)
    assert len(held) == 1, "the sixth part was not held"
    console.shot(page, "upload-in-progress")

    # The uploads view: the upload, its initiator and age, and its five parts with ETags and
    # CRC32 checksums.
    page.get_by_role("link", name="Uploads in progress").click()
    upload = page.locator("article.upload", has_text="docs/big.bin")
    expect(upload).to_be_visible()
    expect(page.get_by_text("1 upload in progress.")).to_be_visible()
    expect(upload).to_contain_text("5 parts, 40.0 MiB")
    parts = upload.locator("tbody tr")
    expect(parts).to_have_count(5)
    in_progress = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [u["Key"] for u in in_progress] == ["docs/big.bin"]
    upload_id = in_progress[0]["UploadId"]
    expect(upload.locator(".upload-id")).to_have_text(upload_id)
    listed = s3.list_parts(Bucket=bucket, Key="docs/big.bin", UploadId=upload_id)["Parts"]
    for i, p in enumerate(listed):
        cells = parts.nth(i)
        expect(cells.locator("td[data-label=Part]")).to_have_text(str(p["PartNumber"]))
        expect(cells.locator("td[data-label=Size]")).to_have_text("8.00 MiB")
        expect(cells.locator("td[data-label=ETag]")).to_have_text(p["ETag"].strip('"'))
        expect(cells.locator("td[data-label=Checksum]")).to_have_text(f"CRC32 {p['ChecksumCRC32']}")
    expect(upload.locator("dd", has_text="CRC32")).to_be_visible()
    initiator = in_progress[0]["Initiator"]
    expect(fact(upload, "Initiator")).to_have_text(initiator.get("DisplayName") or initiator["ID"])
    expect(fact(upload, "Age")).to_have_text(re.compile(r"^\d+ (s|min)$"))
    console.shot(page, "uploads-in-progress")

    # Let the last part go: the upload completes and leaves the uploads view.
    held[0].continue_()
    page.unroute(part_re)
    expect(transfer.locator(".transfer-status")).to_contain_text("Uploaded", timeout=60_000)
    page.get_by_role("button", name="Refresh").click()
    expect(page.get_by_text("No multipart uploads in progress.")).to_be_visible()
    console.shot(page, "upload-complete")

    # Browse from the top into the folder: the object is there.
    page.get_by_role("link", name="Objects").click()
    page.get_by_role("link", name="docs/").click()
    obj_row = page.locator("table.data tr", has=page.get_by_role("link", name="big.bin", exact=True))
    expect(obj_row.locator("td[data-label=Size]")).to_have_text("41.0 MiB")
    console.shot(page, "folder-with-object")

    # Download and compare bytes.
    with page.expect_download() as dl:
        page.get_by_role("link", name="Download docs/big.bin").click()
    download = dl.value
    assert download.suggested_filename == "big.bin"
    got = tmp_path / "downloaded.bin"
    download.save_as(str(got))
    assert got.stat().st_size == src.stat().st_size
    assert sha256_file(got) == sha256_file(src)

    # Details: metadata, composite CRC32 checksum, six parts.
    obj_row.get_by_role("link", name="big.bin", exact=True).click()
    expect(page.get_by_role("heading", name="big.bin", level=1)).to_be_visible()
    meta = page.get_by_role("region", name="Metadata")
    expect(meta).to_contain_text("application/octet-stream")
    expect(meta).to_contain_text("42991616 bytes")
    head = s3.head_object(Bucket=bucket, Key="docs/big.bin", ChecksumMode="ENABLED")
    expect(meta).to_contain_text(head["ETag"].strip('"'))
    sums = page.get_by_role("region", name="Checksums and parts")
    expect(sums).to_contain_text("COMPOSITE")
    expect(sums).to_contain_text(head["ChecksumCRC32"])
    expect(sums.locator("tbody tr")).to_have_count(6)
    expect(sums.locator("tbody tr").nth(5).locator("td[data-label=Size]")).to_have_text("1.00 MiB")
    expect(page.get_by_role("region", name="Versions").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_role("region", name="Tags")).to_contain_text("No tags.")
    console.shot(page, "object-details")

    # Delete from the details page (confirmed in the dialog): back in the folder, gone.
    page.get_by_role("button", name="Delete", exact=True).click()
    dialog = page.locator("dialog#confirm")
    expect(dialog).to_be_visible()
    console.shot(page, "confirm-delete", full_page=False)
    dialog.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("This folder is empty.")).to_be_visible()
    assert s3util.list_all_keys(s3, bucket) == ["docs/"]
    console.shot(page, "deleted")


def test_console_phone_width_pages_and_cancelled_upload(console, tmp_path):
    from playwright.sync_api import expect

    s3 = console.server.client()
    bucket = s3util.unique_bucket_name("phone")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for key in ("photos/2024/beach.jpg", "photos/2024/mountain.jpg", "reports/q1.pdf",
                "a-rather-long-object-name-to-see-how-it-wraps-on-a-small-screen.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=s3util.random_bytes(3000 + len(key)),
                      ContentType="application/octet-stream", Metadata={"owner": "console-test"},
                      ChecksumAlgorithm="SHA256")
    s3.put_object_tagging(Bucket=bucket, Key="reports/q1.pdf",
                          Tagging={"TagSet": [{"Key": "team", "Value": "finance"}]})

    page = console.page(390, 844)
    console.login(page)

    def no_sideways_scroll():
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width} px wide at a 390-px viewport"

    expect(page.get_by_role("link", name=bucket, exact=True)).to_be_visible()
    no_sideways_scroll()
    console.shot(page, "phone-buckets")

    page.get_by_role("link", name=bucket, exact=True).click()
    expect(page.get_by_role("link", name="photos/")).to_be_visible()
    no_sideways_scroll()
    console.shot(page, "phone-bucket")

    page.get_by_role("link", name="reports/").click()
    page.get_by_role("link", name="q1.pdf", exact=True).click()
    expect(page.get_by_role("region", name="Metadata")).to_contain_text("console-test")
    expect(page.get_by_role("region", name="Checksums and parts")).to_contain_text("SHA256")
    expect(page.get_by_role("region", name="Tags")).to_contain_text("finance")
    expect(page.get_by_role("region", name="Versions").locator("tbody tr")).to_have_count(1)
    no_sideways_scroll()
    console.shot(page, "phone-object")

    # An upload cancelled while its second part is held: the multipart upload is aborted.
    page.get_by_role("link", name="reports").click()
    src = tmp_path / "cancel-me.bin"
    src.write_bytes(s3util.random_bytes(9 * MIB))
    held = []
    part_re = re.compile(r"/api/s3/[^?]+\?(?=.*partNumber=2(&|$)).*uploadId=")
    page.route(part_re, lambda route: held.append(route))
    page.get_by_label("Files to upload").set_input_files(str(src))
    page.get_by_role("button", name="Upload", exact=True).click()
    transfer = page.locator(".transfer", has_text="reports/cancel-me.bin")
    expect(transfer.locator(".transfer-status")).to_contain_text("part 1/2")
    assert [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])] == ["reports/cancel-me.bin"]
    console.shot(page, "phone-upload-in-progress", full_page=False)
    page.get_by_role("button", name="Cancel upload of reports/cancel-me.bin").click()
    expect(transfer.locator(".transfer-status")).to_contain_text("Cancelled")
    page.unroute(part_re)
    for route in held:
        try:
            route.abort()
        except Exception:  # the page already gave up on that request
            pass
    deadline = time.monotonic() + 10
    while s3.list_multipart_uploads(Bucket=bucket).get("Uploads") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
    console.shot(page, "phone-upload-cancelled", full_page=False)


def test_console_wrong_secret_shows_code_and_ended_session_returns_to_login(console):
    from playwright.sync_api import expect

    page = console.page()
    page.goto(console.url + "/")
    page.get_by_label("Access key ID").fill(console.server.access_key)
    page.get_by_label("Secret access key").fill("not-the-secret")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    expect(alert).to_have_text(re.compile(r"^SignatureDoesNotMatch: \S"))
    console.shot(page, "wrong-secret")

    page.get_by_label("Access key ID").fill("AKIANOSUCHKEY0000000")
    page.get_by_label("Secret access key").fill("whatever")
    page.get_by_role("button", name="Sign in").click()
    expect(alert).to_have_text(re.compile(r"^InvalidAccessKeyId: \S"))
    console.shot(page, "unknown-key")

    # Signed in, then the session goes (as at idle expiry): the next action brings the login
    # form back, saying so.
    console.login(page)
    page.get_by_role("link", name="Users and keys").click()
    expect(page.get_by_role("heading", name="Users and access keys")).to_be_visible()
    expect(page.locator("#main [aria-busy='true']")).to_have_count(0)
    page.context.clear_cookies()
    page.get_by_role("link", name="Buckets", exact=True).click()
    expect(page.get_by_role("heading", name="Sign in to Tessera")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Your session has ended")
    console.shot(page, "session-ended")

    # Sign-out: the cookie no longer works.
    console.login(page)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Sign in to Tessera")).to_be_visible()


def test_console_iam_user_and_access_key(console):
    from playwright.sync_api import expect

    page = console.page()
    console.login(page)
    page.get_by_role("link", name="Users and keys").click()
    expect(page.get_by_role("heading", name="Users and access keys")).to_be_visible()
    name = f"web-{uuid.uuid4().hex[:6]}"
    page.get_by_label("User name").fill(name)
    page.get_by_role("button", name="Create user").click()
    card = page.locator("article.user", has=page.get_by_role("heading", name=name))
    expect(card).to_contain_text("No access keys.")

    # A new key: its secret shown once; it signs the user in.
    card.get_by_role("button", name=f"Create access key for {name}").click()
    secret_box = page.locator(".card.secret")
    expect(secret_box).to_contain_text(f"New access key of {name}")
    key_id = secret_box.locator(".new-key-id").inner_text()
    secret = secret_box.locator(".new-secret").inner_text()
    assert key_id.startswith("AKIA") and len(secret) == 40
    expect(card.get_by_text(key_id)).to_be_visible()
    expect(card.locator("td[data-label=Status]")).to_have_text("Active")
    console.shot(page, "iam-new-key")

    other = console.page()
    other.goto(console.url + "/")
    other.get_by_label("Access key ID").fill(key_id)
    other.get_by_label("Secret access key").fill(secret)
    other.get_by_role("button", name="Sign in").click()
    expect(other.locator("#who-name")).to_contain_text(name)
    console.shot(other, "iam-user-signed-in")

    # Deactivated, the key no longer signs in; deleted, then the user.
    page.get_by_role("button", name="I have saved the secret").click()
    expect(secret_box).to_have_count(0)
    card.get_by_role("button", name=f"Deactivate key {key_id}").click()
    expect(card.locator("td[data-label=Status]")).to_have_text("Inactive")
    console.shot(page, "iam-key-inactive")
    fresh = console.page()
    fresh.goto(console.url + "/")
    fresh.get_by_label("Access key ID").fill(key_id)
    fresh.get_by_label("Secret access key").fill(secret)
    fresh.get_by_role("button", name="Sign in").click()
    expect(fresh.get_by_role("alert")).to_have_text(re.compile(r"^InvalidAccessKeyId: \S"))

    # Deleting a user that still has a key: IAM's DeleteConflict, as IAM says it.
    card.get_by_role("button", name=f"Delete user {name}").click()
    page.locator("dialog#confirm").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("alert")).to_have_text(re.compile(r"^DeleteConflict: \S"))
    card.get_by_role("button", name=f"Delete key {key_id}").click()
    page.locator("dialog#confirm").get_by_role("button", name="Delete").click()
    expect(card).to_contain_text("No access keys.")
    card.get_by_role("button", name=f"Delete user {name}").click()
    page.locator("dialog#confirm").get_by_role("button", name="Delete").click()
    expect(page.locator("article.user", has=page.get_by_role("heading", name=name))).to_have_count(0)
    console.shot(page, "iam-user-deleted")


def test_console_bucket_versioning_policy_and_errors(console):
    from playwright.sync_api import expect

    s3 = console.server.client()
    bucket = s3util.unique_bucket_name("pol")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="keep.txt", Body=b"x")
    page = console.page()
    console.login(page)
    row = page.locator("table.data tr", has=page.get_by_role("link", name=bucket, exact=True))

    # Versioning on, then suspended.
    row.get_by_role("button", name=f"Enable versioning of {bucket}").click()
    expect(row.locator("td[data-label=Versioning]")).to_contain_text("Enabled")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    row.get_by_role("button", name=f"Suspend versioning of {bucket}").click()
    expect(row.locator("td[data-label=Versioning]")).to_contain_text("Suspended")

    # A bucket name S3 refuses, and a bucket that is not empty: S3's code and message.
    page.get_by_label("Bucket name").fill("Not_A_Bucket")
    page.get_by_role("button", name="Create bucket").click()
    expect(page.get_by_role("alert")).to_have_text(re.compile(r"^InvalidBucketName: \S"))
    row.get_by_role("button", name=f"Delete bucket {bucket}").click()
    page.locator("dialog#confirm").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("alert")).to_have_text(re.compile(r"^BucketNotEmpty: \S"))
    console.shot(page, "bucket-errors")

    # The policy editor: JSON checked in the page, the policy checked by the server.
    row.get_by_role("link", name="Policy").click()
    editor = page.get_by_label("Policy document (JSON)")
    expect(page.get_by_text("This bucket has no policy.")).to_be_visible()
    editor.fill('{"Version": "2012-10-17", "Statement": [}')
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_text(re.compile(r"Invalid JSON at line 1"))).to_be_visible()
    expect(editor).to_have_attribute("aria-invalid", "true")
    console.shot(page, "policy-bad-json")
    editor.fill(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:NoSuchAction",
         "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_role("alert")).to_have_text(re.compile(r"^MalformedPolicy: \S"))
    console.shot(page, "policy-malformed")
    good = {"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyDelete", "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
         "Resource": f"arn:aws:s3:::{bucket}/*"}]}
    editor.fill(json.dumps(good))
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_text("Policy saved.")).to_be_visible()
    expect(page.get_by_text("This bucket has a policy.")).to_be_visible()
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"][0]["Sid"] == "DenyDelete"
    console.shot(page, "policy-saved")
    page.get_by_role("button", name="Delete policy").click()
    page.locator("dialog#confirm").get_by_role("button", name="Delete").click()
    expect(page.get_by_text("This bucket has no policy.")).to_be_visible()

    page.get_by_role("link", name="Buckets", exact=True).click()
    expect(row.locator("td[data-label=Versioning]")).to_contain_text("Suspended")
    console.shot(page, "buckets-laptop", full_page=False)
