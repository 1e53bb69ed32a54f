#!/usr/bin/env python3
"""The backend of the presigned multipart example: serves the page and, as JSON, starts
uploads, presigns UploadPart and ListParts URLs, completes and aborts uploads. The browser
sends the parts straight to the S3 endpoint (Tessera); this process never sees their bytes.

Python's standard library plus boto3. Credentials come from the usual AWS variables
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY); they never reach the browser.

    python3 backend.py --endpoint http://127.0.0.1:9000 --bucket uploads --port 8080

It prints `backend listening on http://HOST:PORT` once it serves. A real backend would also
decide who may upload what (here anyone who reaches it may upload any key under the prefix).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = Path(__file__).resolve().parent
STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/index.html": ("index.html", "text/html; charset=utf-8"),
          "/app.js": ("app.js", "text/javascript; charset=utf-8")}
# Largest JSON request: a Complete naming 10,000 parts fits in well under this.
MAX_BODY = 2 << 20
# How long a presigned URL stays valid, in seconds.
URL_EXPIRES = 3600


def safe_key(prefix: str, name: str) -> str:
    """The object key for an uploaded file name: the prefix and the name's last path part,
    with characters other than letters, digits, `.`, `-` and `_` replaced."""
    base = re.sub(r"[^A-Za-z0-9._-]", "_", name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]) or "file"
    return f"{prefix}{base}"


class Api:
    def __init__(self, s3, bucket: str, prefix: str):
        self.s3, self.bucket, self.prefix = s3, bucket, prefix

    def _key(self, body: dict) -> str:
        key = str(body.get("key", ""))
        if not key.startswith(self.prefix):
            raise ValueError("key outside the upload prefix")
        return key

    def create(self, body: dict) -> dict:
        key = safe_key(self.prefix, str(body.get("name", "")))
        args = {"Bucket": self.bucket, "Key": key}
        if body.get("type"):
            args["ContentType"] = str(body["type"])
        upload = self.s3.create_multipart_upload(**args)
        return {"uploadId": upload["UploadId"], "key": key}

    def sign_part(self, body: dict) -> dict:
        number = int(body["partNumber"])
        if not 1 <= number <= 10000:
            raise ValueError("part number not between 1 and 10000")
        url = self.s3.generate_presigned_url(
            "upload_part", ExpiresIn=URL_EXPIRES,
            Params={"Bucket": self.bucket, "Key": self._key(body),
                    "UploadId": str(body["uploadId"]), "PartNumber": number})
        return {"url": url}

    def sign_list(self, body: dict) -> dict:
        params = {"Bucket": self.bucket, "Key": self._key(body), "UploadId": str(body["uploadId"])}
        if body.get("partNumberMarker"):
            params["PartNumberMarker"] = str(int(body["partNumberMarker"]))
        return {"url": self.s3.generate_presigned_url("list_parts", Params=params,
                                                      ExpiresIn=URL_EXPIRES)}

    def complete(self, body: dict) -> dict:
        parts = [{"PartNumber": int(p["PartNumber"]), "ETag": str(p["ETag"])}
                 for p in body.get("parts", [])]
        done = self.s3.complete_multipart_upload(
            Bucket=self.bucket, Key=self._key(body), UploadId=str(body["uploadId"]),
            MultipartUpload={"Parts": parts})
        return {"key": done["Key"], "etag": done["ETag"]}

    def abort(self, body: dict) -> dict:
        self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self._key(body),
                                       UploadId=str(body["uploadId"]))
        return {}


def handler_for(api: Api):
    routes = {"/api/create": api.create, "/api/sign-part": api.sign_part,
              "/api/sign-list": api.sign_list, "/api/complete": api.complete,
              "/api/abort": api.abort}

    class Handler(BaseHTTPRequestHandler):
        server_version = "presigned-multipart-example"
        # Slow clients cannot hold a thread forever.
        timeout = 60

        def log_message(self, fmt, *args):  # one line per request on stderr
            sys.stderr.write("backend: " + (fmt % args) + "\n")

        def send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def json(self, status: int, value: dict) -> None:
            self.send(status, json.dumps(value).encode(), "application/json")

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path not in STATIC:
                return self.json(404, {"error": "NotFound", "message": path})
            name, ctype = STATIC[path]
            self.send(200, (HERE / name).read_bytes(), ctype)

        def do_POST(self):
            route = routes.get(self.path)
            if route is None:
                return self.json(404, {"error": "NotFound", "message": self.path})
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_BODY:
                return self.json(413, {"error": "TooLarge", "message": "request too large"})
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("the request is not a JSON object")
                return self.json(200, route(body))
            except ClientError as e:  # the S3 endpoint's error, passed on for the page to show
                err = e.response.get("Error", {})
                status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 502)
                return self.json(status, {"error": err.get("Code", "Error"),
                                          "message": err.get("Message", str(e))})
            except (KeyError, TypeError, ValueError) as e:
                return self.json(400, {"error": "BadRequest", "message": str(e)})

    return Handler


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint", required=True, help="the S3 endpoint the browser uploads to")
    p.add_argument("--bucket", required=True)
    p.add_argument("--prefix", default="uploads/", help="key prefix of uploaded files")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080, help="0: any free port")
    args = p.parse_args()
    s3 = boto3.client("s3", endpoint_url=args.endpoint, region_name=args.region,
                      config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    server = ThreadingHTTPServer((args.host, args.port), handler_for(Api(s3, args.bucket, args.prefix)))
    server.daemon_threads = True
    host, port = server.server_address[:2]
    print(f"backend listening on http://{host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
