"""The presigned multipart example page (examples/presigned-multipart) in headless Chromium:
served by its backend on another origin than the S3 endpoint, it uploads a large file in
parallel parts straight to Tessera, survives a reload by resuming from ListParts, and
completes. Every request from the page to Tessera is cross-origin, so CORS is exercised for
real: preflights for the PUTs, the ETag read from each part's response, a ListParts GET."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "presigned-multipart"
PART = 8 << 20
# Several hundred MiB, within the time bound on a debug build.
FILE_SIZE = 300 << 20
PARTS = -(-FILE_SIZE // PART)


def write_random_file(path: Path, size: int) -> str:
    """Writes `size` random bytes to `path` a MiB at a time; returns their MD5."""
    md5 = hashlib.md5()
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(1 << 20, left))
            f.write(chunk)
            md5.update(chunk)
            left -= len(chunk)
    return md5.hexdigest()


class Backend:
    """examples/presigned-multipart/backend.py on a free loopback port."""

    def __init__(self, server, bucket: str, log: Path):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID=server.access_key, AWS_SECRET_ACCESS_KEY=server.secret_key,
                   AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
                   AWS_EC2_METADATA_DISABLED="true")
        self.log = open(log, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(EXAMPLE / "backend.py"), "--endpoint", server.endpoint,
             "--bucket", bucket, "--host", "127.0.0.1", "--port", "0"],
            env=env, stdout=subprocess.PIPE, stderr=self.log)
        line: list[bytes] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(30)
        text = line[0].decode().strip() if line else ""
        if not text.startswith("backend listening on "):
            self.close()
            raise RuntimeError(f"backend did not start: {text!r} (log: {log})")
        self.url = text.removeprefix("backend listening on ")
        self.origin = self.url

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


@pytest.fixture
def backend_for(server, tmp_path):
    started: list[Backend] = []

    def start(bucket: str) -> Backend:
        b = Backend(server, bucket, tmp_path / f"backend{len(started)}.log")
        started.append(b)
        return b

    yield start
    for b in started:
        b.close()


def part_number(url: str) -> int | None:
    values = parse_qs(urlparse(url).query).get("partNumber")
    return int(values[0]) if values else None


def wait_state(page, states: tuple[str, ...], timeout_s: float) -> str:
    page.wait_for_function(
        "states => states.includes(document.getElementById('status').dataset.state)",
        arg=list(states), timeout=timeout_s * 1000)
    return page.get_attribute("#status", "data-state")


@pytest.mark.timeout(300)
def test_upload_resumes_after_reload_and_completes(chromium, artifacts, server, s3, bucket,
                                                   backend_for, tmp_path):
    started = time.monotonic()
    path = tmp_path / "large-video.bin"
    md5 = write_random_file(path, FILE_SIZE)
    backend = backend_for(bucket)
    # The rule a web app needs: its origin, PUT (parts) and GET (ListParts), ETag exposed.
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [{
        "AllowedOrigins": [backend.origin], "AllowedMethods": ["GET", "PUT"],
        "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600}]})
    assert not backend.origin.endswith(f":{server.port}")

    context = chromium.new_context(viewport={"width": 1000, "height": 720})
    page = context.new_page()
    phase = ["before"]
    sent: list[tuple[str, int]] = []
    finished: list[tuple[str, int]] = []

    def on_request(req):
        n = part_number(req.url)
        if req.method == "PUT" and n is not None:
            sent.append((phase[0], n))

    def on_finished(req):
        n = part_number(req.url)
        resp = req.response()
        if req.method == "PUT" and n is not None and resp is not None and resp.status == 200:
            finished.append((phase[0], n))

    page.on("request", on_request)
    page.on("requestfinished", on_finished)
    try:
        page.goto(backend.url)
        page.set_input_files("#file", str(path))
        page.click("#start")
        # Mid-way: a few rounds of parallel parts are stored.
        page.wait_for_function(
            "() => Number(document.getElementById('progress').dataset.partsDone || 0) >= 10",
            timeout=150_000)
        page.screenshot(path=str(artifacts / "1-uploading.png"))
        stored_before = {n for ph, n in finished if ph == "before"}
        phase[0] = "after"
        page.reload()
        # The page remembers the interrupted upload and says how to resume it.
        page.wait_for_selector("#resume:not([hidden])")
        assert "large-video.bin" in page.text_content("#resume")
        page.screenshot(path=str(artifacts / "2-reloaded.png"))

        page.set_input_files("#file", str(path))
        page.click("#start")
        state = wait_state(page, ("done", "error"), timeout_s=240 - (time.monotonic() - started))
        page.screenshot(path=str(artifacts / "3-done.png"))
        status = page.text_content("#status")
        assert state == "done", status
        progress = page.text_content("#progress-text")
        assert f"{PARTS} of {PARTS} parts" in progress, progress
        assert page.evaluate("() => Object.keys(localStorage).length") == 0
    finally:
        context.close()

    # Resumed: no part stored before the reload was sent again, and only the rest was.
    resent = {n for ph, n in sent if ph == "after"}
    assert len(stored_before) >= 10
    assert not resent & stored_before, sorted(resent & stored_before)
    assert len(resent) <= PARTS - len(stored_before)
    assert "found already uploaded" in progress
    # The PUTs were cross-origin: the browser asked first (Chromium does not report its
    # preflights to the page, the server's log has them).
    assert re.search(rf'preflight .*path="/{bucket}/uploads/large-video.bin" status=200',
                     server.log_text())

    head = s3.head_object(Bucket=bucket, Key="uploads/large-video.bin")
    assert head["ContentLength"] == FILE_SIZE
    assert head["ETag"].endswith(f'-{PARTS}"')
    got = hashlib.md5()
    body = s3.get_object(Bucket=bucket, Key="uploads/large-video.bin")["Body"]
    for chunk in iter(lambda: body.read(1 << 20), b""):
        got.update(chunk)
    assert got.hexdigest() == md5
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    (artifacts / "timing.txt").write_text(
        f"{FILE_SIZE >> 20} MiB in {PARTS} parts, {len(stored_before)} before the reload: "
        f"{time.monotonic() - started:.1f} s\n")


@pytest.mark.timeout(120)
def test_upload_without_cors_rule_fails_visibly(chromium, artifacts, s3, bucket, backend_for, tmp_path):
    path = tmp_path / "small.bin"
    write_random_file(path, 10 << 20)
    backend = backend_for(bucket)
    context = chromium.new_context(viewport={"width": 1000, "height": 720})
    page = context.new_page()
    try:
        page.goto(backend.url)
        page.set_input_files("#file", str(path))
        page.click("#start")
        state = wait_state(page, ("done", "error"), timeout_s=60)
        page.screenshot(path=str(artifacts / "cors-refused.png"))
        status = page.text_content("#status")
        assert state == "error", status
        assert "CORS" in status and ("Part 1" in status or "Part 2" in status), status
    finally:
        context.close()
    # Nothing reached the bucket: the upload was created (by the backend) but has no part.
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert len(uploads) == 1
    parts = s3.list_parts(Bucket=bucket, Key=uploads[0]["Key"], UploadId=uploads[0]["UploadId"])
    assert parts.get("Parts", []) == []
