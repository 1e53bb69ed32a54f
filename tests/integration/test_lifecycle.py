"""Bucket lifecycle: Put/Get/DeleteBucketLifecycleConfiguration with S3's validation errors,
the headers that report a rule's effect (x-amz-abort-date / x-amz-abort-rule-id on
CreateMultipartUpload and ListParts, x-amz-expiration on PUT/GET/HEAD), and the worker on a
server with a 2-second lifecycle day actually aborting and expiring what is due.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import re
import time

import pytest

from s3util import expect_error

UTC = datetime.timezone.utc
DAY = 86400


def put(s3, bucket, *rules):
    return s3.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": list(rules)}
    )


def rules_of(s3, bucket):
    return s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]


def midnight(days_from_now: int) -> datetime.datetime:
    d = datetime.datetime.now(UTC).date() + datetime.timedelta(days=days_from_now)
    return datetime.datetime(d.year, d.month, d.day, tzinfo=UTC)


# ---------------------------------------------------------------------------------------
# Put / Get / Delete
# ---------------------------------------------------------------------------------------


def test_round_trip_with_every_filter_form(s3, bucket):
    date = midnight(400)
    rules = [
        {"ID": "prefix", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
         "Expiration": {"Days": 30}},
        {"ID": "tag", "Status": "Disabled", "Filter": {"Tag": {"Key": "k", "Value": "v"}},
         "Expiration": {"Date": date}},
        {"ID": "and", "Status": "Enabled",
         "Filter": {"And": {"Prefix": "a/", "Tags": [{"Key": "k1", "Value": "v1"},
                                                     {"Key": "k2", "Value": ""}],
                            "ObjectSizeGreaterThan": 10, "ObjectSizeLessThan": 1000}},
         "Expiration": {"Days": 7}},
        {"ID": "size", "Status": "Enabled", "Filter": {"ObjectSizeGreaterThan": 1024},
         "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}],
         "NoncurrentVersionExpiration": {"NoncurrentDays": 5, "NewerNoncurrentVersions": 2},
         "NoncurrentVersionTransitions": [{"NoncurrentDays": 3, "StorageClass": "STANDARD_IA"}]},
        {"ID": "legacy", "Status": "Enabled", "Prefix": "tmp/",
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}},
        {"ID": "marker", "Status": "Enabled", "Filter": {"Prefix": ""},
         "Expiration": {"ExpiredObjectDeleteMarker": True}},
    ]
    put(s3, bucket, *rules)
    got = {r["ID"]: r for r in rules_of(s3, bucket)}
    assert list(got) == [r["ID"] for r in rules]
    assert got["prefix"]["Filter"] == {"Prefix": "logs/"}
    assert got["prefix"]["Expiration"] == {"Days": 30}
    assert got["tag"]["Status"] == "Disabled"
    assert got["tag"]["Filter"] == {"Tag": {"Key": "k", "Value": "v"}}
    assert got["tag"]["Expiration"]["Date"] == date
    assert got["and"]["Filter"]["And"] == rules[2]["Filter"]["And"]
    assert got["size"]["Filter"] == {"ObjectSizeGreaterThan": 1024}
    assert got["size"]["Transitions"] == [{"Days": 30, "StorageClass": "GLACIER"}]
    assert got["size"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 5, "NewerNoncurrentVersions": 2}
    assert got["size"]["NoncurrentVersionTransitions"] == [{"NoncurrentDays": 3, "StorageClass": "STANDARD_IA"}]
    assert got["legacy"]["Prefix"] == "tmp/"
    assert "Filter" not in got["legacy"]
    assert got["legacy"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 2}
    assert got["marker"]["Expiration"] == {"ExpiredObjectDeleteMarker": True}

    # A new Put replaces the whole configuration.
    put(s3, bucket, {"ID": "only", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}})
    assert [r["ID"] for r in rules_of(s3, bucket)] == ["only"]


def test_missing_id_is_generated(s3, bucket):
    put(s3, bucket, {"Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}},
        {"Status": "Enabled", "Filter": {"Prefix": "x"}, "Expiration": {"Days": 2}})
    ids = [r["ID"] for r in rules_of(s3, bucket)]
    assert len(ids) == 2 and ids[0] != ids[1]
    assert all(len(i) == 48 for i in ids)


def test_delete_and_missing_configuration(s3, bucket):
    expect_error(s3.get_bucket_lifecycle_configuration, Bucket=bucket,
                 code="NoSuchLifecycleConfiguration", status=404)
    put(s3, bucket, {"ID": "r", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}})
    s3.delete_bucket_lifecycle(Bucket=bucket)
    expect_error(s3.get_bucket_lifecycle_configuration, Bucket=bucket,
                 code="NoSuchLifecycleConfiguration", status=404)
    s3.delete_bucket_lifecycle(Bucket=bucket)  # idempotent


def test_missing_bucket(s3):
    expect_error(put, s3, "no-such-bucket-lc",
                 {"ID": "r", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}},
                 code="NoSuchBucket", status=404)
    expect_error(s3.get_bucket_lifecycle_configuration, Bucket="no-such-bucket-lc",
                 code="NoSuchBucket", status=404)


def _rule(**fields):
    rule = {"ID": "r", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}}
    rule.update(fields)
    return {k: v for k, v in rule.items() if v is not None}


INVALID = [
    ("days-zero", [_rule(Expiration={"Days": 0})], "InvalidArgument"),
    ("days-negative", [_rule(Expiration={"Days": -3})], "InvalidArgument"),
    ("date-not-midnight",
     [_rule(Expiration={"Date": datetime.datetime(2031, 1, 1, 10, 30, tzinfo=UTC)})],
     "InvalidArgument"),
    ("filter-and-prefix", [_rule(Prefix="x")], "MalformedXML"),
    ("neither-filter-nor-prefix", [_rule(Filter=None)], "MalformedXML"),
    ("filter-two-predicates",
     [_rule(Filter={"Prefix": "a", "Tag": {"Key": "k", "Value": "v"}})], "MalformedXML"),
    ("no-action", [_rule(Expiration=None)], "InvalidRequest"),
    ("days-and-date",
     [_rule(Expiration={"Days": 1, "Date": datetime.datetime(2031, 1, 1, tzinfo=UTC)})],
     "MalformedXML"),
    ("marker-with-days",
     [_rule(Expiration={"Days": 1, "ExpiredObjectDeleteMarker": True})], "MalformedXML"),
    ("empty-expiration", [_rule(Expiration={})], "MalformedXML"),
    ("abort-with-tag",
     [_rule(Filter={"Tag": {"Key": "k", "Value": "v"}}, Expiration=None,
            AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1})], "InvalidRequest"),
    ("abort-with-and-tags",
     [_rule(Filter={"And": {"Prefix": "p", "Tags": [{"Key": "k", "Value": "v"}]}},
            AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1})], "InvalidRequest"),
    ("abort-days-zero",
     [_rule(AbortIncompleteMultipartUpload={"DaysAfterInitiation": 0})], "InvalidArgument"),
    ("duplicate-ids", [_rule(), _rule(Filter={"Prefix": "other"})], "InvalidArgument"),
    ("id-too-long", [_rule(ID="x" * 256)], "InvalidArgument"),
    ("bad-status", [_rule(Status="On")], "MalformedXML"),
    ("noncurrent-days-zero",
     [_rule(NoncurrentVersionExpiration={"NoncurrentDays": 0})], "InvalidArgument"),
    ("tag-aws-prefix", [_rule(Filter={"Tag": {"Key": "aws:k", "Value": "v"}})], "InvalidTag"),
]


@pytest.mark.parametrize("rules,code", [(r, c) for _, r, c in INVALID],
                         ids=[name for name, _, _ in INVALID])
def test_invalid_configurations(s3, bucket, rules, code):
    expect_error(put, s3, bucket, *rules, code=code, status=400)
    # Nothing was stored.
    expect_error(s3.get_bucket_lifecycle_configuration, Bucket=bucket,
                 code="NoSuchLifecycleConfiguration", status=404)


def test_id_of_255_characters_is_accepted(s3, bucket):
    put(s3, bucket, _rule(ID="i" * 255))
    assert rules_of(s3, bucket)[0]["ID"] == "i" * 255


def test_operations_need_their_iam_actions(s3, bucket):
    """Delete uses s3:PutLifecycleConfiguration and DeleteBucketTagging s3:PutBucketTagging,
    as on AWS: a bucket policy denying those actions refuses every operation of the pair."""
    put(s3, bucket, _rule())
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    policy = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny", "Principal": "*",
            "Action": ["s3:PutLifecycleConfiguration", "s3:GetLifecycleConfiguration",
                       "s3:PutBucketTagging", "s3:GetBucketTagging"],
            "Resource": f"arn:aws:s3:::{bucket}",
        }],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    try:
        denied = dict(code="AccessDenied", status=403)
        expect_error(put, s3, bucket, _rule(), **denied)
        expect_error(s3.get_bucket_lifecycle_configuration, Bucket=bucket, **denied)
        expect_error(s3.delete_bucket_lifecycle, Bucket=bucket, **denied)
        expect_error(s3.put_bucket_tagging, Bucket=bucket,
                     Tagging={"TagSet": [{"Key": "k", "Value": "2"}]}, **denied)
        expect_error(s3.get_bucket_tagging, Bucket=bucket, **denied)
        expect_error(s3.delete_bucket_tagging, Bucket=bucket, **denied)
    finally:
        s3.delete_bucket_policy(Bucket=bucket)
    assert rules_of(s3, bucket)[0]["ID"] == "r"


# ---------------------------------------------------------------------------------------
# Headers
# ---------------------------------------------------------------------------------------


def _next_midnight_after(t: float, days: int) -> float:
    due = t + days * DAY
    return -(-due // DAY) * DAY


def test_abort_date_on_create_and_list_parts(s3, bucket):
    put(s3, bucket,
        {"ID": "slow", "Status": "Enabled", "Filter": {}, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}},
        {"ID": "fast-tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}},
        {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": "tmp/"},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}})
    before = time.time()
    created = s3.create_multipart_upload(Bucket=bucket, Key="tmp/big")
    after = time.time()
    assert created["AbortRuleId"] == "fast-tmp"
    abort = created["AbortDate"].timestamp()
    assert abort % DAY == 0, created["AbortDate"]
    assert _next_midnight_after(before, 2) <= abort <= _next_midnight_after(after, 2)

    parts = s3.list_parts(Bucket=bucket, Key="tmp/big", UploadId=created["UploadId"])
    assert parts["AbortRuleId"] == "fast-tmp"
    assert parts["AbortDate"] == created["AbortDate"]

    other = s3.create_multipart_upload(Bucket=bucket, Key="data/big")
    assert other["AbortRuleId"] == "slow"
    assert other["AbortDate"].timestamp() - abort in (5 * DAY, 6 * DAY)
    for key, u in (("tmp/big", created), ("data/big", other)):
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=u["UploadId"])


def test_no_abort_date_without_a_matching_rule(s3, bucket):
    u = s3.create_multipart_upload(Bucket=bucket, Key="k")
    assert "AbortDate" not in u and "AbortRuleId" not in u
    put(s3, bucket, {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
                     "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}})
    parts = s3.list_parts(Bucket=bucket, Key="k", UploadId=u["UploadId"])
    assert "AbortDate" not in parts and "AbortRuleId" not in parts
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=u["UploadId"])


EXPIRATION_RE = re.compile(r'^expiry-date="([^"]+)", rule-id="([^"]+)"$')


def _expiration(value: str):
    m = EXPIRATION_RE.match(value)
    assert m, value
    return email.utils.parsedate_to_datetime(m.group(1)), m.group(2)


def test_expiration_header_on_put_get_head_copy_complete(s3, bucket):
    date = midnight(30)
    put(s3, bucket,
        {"ID": "logs-rule", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 3}},
        {"ID": "dated", "Status": "Enabled", "Filter": {"Prefix": "dated/"}, "Expiration": {"Date": date}},
        {"ID": "big-only", "Status": "Enabled", "Filter": {"ObjectSizeGreaterThan": 100},
         "Expiration": {"Days": 1}})
    before = time.time()
    resp = s3.put_object(Bucket=bucket, Key="logs/a", Body=b"x")
    when, rule = _expiration(resp["Expiration"])
    assert rule == "logs-rule"
    assert when.timestamp() % DAY == 0
    assert _next_midnight_after(before - 1, 3) <= when.timestamp() <= _next_midnight_after(time.time(), 3)
    assert _expiration(s3.head_object(Bucket=bucket, Key="logs/a")["Expiration"]) == (when, rule)
    assert _expiration(s3.get_object(Bucket=bucket, Key="logs/a")["Expiration"]) == (when, rule)

    resp = s3.put_object(Bucket=bucket, Key="dated/a", Body=b"x")
    assert _expiration(resp["Expiration"]) == (date, "dated")

    # The earliest applicable rule is named.
    resp = s3.put_object(Bucket=bucket, Key="logs/big", Body=b"x" * 200)
    assert _expiration(resp["Expiration"])[1] == "big-only"

    resp = s3.put_object(Bucket=bucket, Key="other", Body=b"x")
    assert "Expiration" not in resp
    assert "Expiration" not in s3.head_object(Bucket=bucket, Key="other")

    # CopyObject and CompleteMultipartUpload say it too, for the object they made.
    resp = s3.copy_object(Bucket=bucket, Key="dated/copy", CopySource={"Bucket": bucket, "Key": "other"})
    assert _expiration(resp["Expiration"]) == (date, "dated")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="dated/mpu")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="dated/mpu", UploadId=upload, PartNumber=1, Body=b"p")["ETag"]
    resp = s3.complete_multipart_upload(Bucket=bucket, Key="dated/mpu", UploadId=upload,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert _expiration(resp["Expiration"]) == (date, "dated")
    resp = s3.copy_object(Bucket=bucket, Key="other2", CopySource={"Bucket": bucket, "Key": "dated/a"})
    assert "Expiration" not in resp


# ---------------------------------------------------------------------------------------
# The worker
# ---------------------------------------------------------------------------------------


def _wait_for(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def test_worker_aborts_and_expires(make_server):
    srv = make_server("--lifecycle-day", "2", "--lifecycle-interval", "1")
    s3 = srv.client()
    bucket = "lifecycle-worker"
    s3.create_bucket(Bucket=bucket)
    put(s3, bucket,
        {"ID": "abort-stale", "Status": "Enabled", "Filter": {"Prefix": "stale/"},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
        {"ID": "expire-old", "Status": "Enabled", "Filter": {"Prefix": "old/"},
         "Expiration": {"Days": 1}},
        {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": "keep/"},
         "Expiration": {"Days": 1}})
    stale = s3.create_multipart_upload(Bucket=bucket, Key="stale/upload")
    s3.upload_part(Bucket=bucket, Key="stale/upload", UploadId=stale["UploadId"],
                   PartNumber=1, Body=b"p" * 1024)
    kept_upload = s3.create_multipart_upload(Bucket=bucket, Key="keep/upload")
    s3.put_object(Bucket=bucket, Key="old/object", Body=b"old")
    s3.put_object(Bucket=bucket, Key="keep/object", Body=b"keep")
    s3.put_object(Bucket=bucket, Key="untargeted", Body=b"stay")

    # A "day" is 2 s: due within 4 s, the worker runs every second.
    def done():
        uploads = [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        return "stale/upload" not in uploads and "old/object" not in keys

    _wait_for(done, what="the stale upload aborted and the old object expired")
    uploads = [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
    assert uploads == ["keep/upload"]
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))
    assert keys == ["keep/object", "untargeted"]
    expect_error(s3.list_parts, Bucket=bucket, Key="stale/upload", UploadId=stale["UploadId"],
                 code="NoSuchUpload", status=404)
    assert s3.get_object(Bucket=bucket, Key="untargeted")["Body"].read() == b"stay"

    # A replacement written after the expiry lives its own (short) life: it is expired again.
    s3.put_object(Bucket=bucket, Key="old/object", Body=b"new")
    _wait_for(lambda: "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="old/"),
              what="the replacement expired")
    log = srv.log_path.read_text(errors="replace")
    assert "lifecycle pass done" in log
    s3.abort_multipart_upload(Bucket=bucket, Key="keep/upload", UploadId=kept_upload["UploadId"])


def test_worker_in_a_versioned_bucket(make_server):
    """Versioned: Expiration adds a delete marker (the versions stay), NoncurrentVersionExpiration
    removes old versions beyond NewerNoncurrentVersions, ExpiredObjectDeleteMarker removes a
    marker left alone; tagged rules match object tags."""
    srv = make_server("--lifecycle-day", "2", "--lifecycle-interval", "1")
    s3 = srv.client()
    bucket = "lifecycle-versions"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    put(s3, bucket,
        {"ID": "expire-current", "Status": "Enabled", "Filter": {"Prefix": "cur/"},
         "Expiration": {"Days": 1}},
        {"ID": "noncurrent", "Status": "Enabled", "Filter": {"Prefix": "nc/"},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 1}},
        {"ID": "markers", "Status": "Enabled", "Filter": {"Prefix": "dm/"},
         "Expiration": {"ExpiredObjectDeleteMarker": True}},
        {"ID": "tagged", "Status": "Enabled", "Filter": {"Tag": {"Key": "temp", "Value": "yes"}},
         "Expiration": {"Days": 1}})
    cur = s3.put_object(Bucket=bucket, Key="cur/a", Body=b"a")["VersionId"]
    nc = [s3.put_object(Bucket=bucket, Key="nc/b", Body=f"{i}".encode())["VersionId"] for i in range(4)]
    s3.put_object(Bucket=bucket, Key="dm/c", Body=b"c")
    dm = s3.list_object_versions(Bucket=bucket, Prefix="dm/")["Versions"][0]["VersionId"]
    s3.delete_object(Bucket=bucket, Key="dm/c", VersionId=dm)
    s3.put_object(Bucket=bucket, Key="dm/c", Body=b"c2")
    marker = s3.delete_object(Bucket=bucket, Key="dm/c")["VersionId"]
    s3.delete_object(Bucket=bucket, Key="dm/c", VersionId=[
        v["VersionId"] for v in s3.list_object_versions(Bucket=bucket, Prefix="dm/")["Versions"]][0])
    s3.put_object(Bucket=bucket, Key="t/tagged", Body=b"t", Tagging="temp=yes")
    s3.put_object(Bucket=bucket, Key="t/untagged", Body=b"t", Tagging="temp=no")

    def versions(prefix):
        resp = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
        return ([v["VersionId"] for v in resp.get("Versions", [])],
                [m["VersionId"] for m in resp.get("DeleteMarkers", [])])

    def done():
        return (versions("cur/")[1] and versions("nc/")[0] == [nc[3], nc[2]]
                and versions("dm/") == ([], []) and versions("t/tagged")[1])

    _wait_for(done, what="the versioned rules applied")
    # Expiration kept the version under a marker; the untagged object is untouched.
    assert versions("cur/")[0] == [cur]
    assert versions("t/untagged") == (versions("t/untagged")[0], [])
    assert s3.get_object(Bucket=bucket, Key="t/untagged")["Body"].read() == b"t"
    assert marker


def test_expiration_days_removes_a_lone_delete_marker_once_that_old(make_server):
    """S3: with Expiration Days, a delete marker left as its key's only version is removed
    once it is that many days old (ExpiredObjectDeleteMarker cleanup), not before."""
    srv = make_server("--lifecycle-day", "2", "--lifecycle-interval", "1")
    s3 = srv.client()
    bucket = "lifecycle-lone-marker"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="test1/a", Body=b"a")
    deleted_at = time.monotonic()
    marker = s3.delete_object(Bucket=bucket, Key="test1/a")["VersionId"]
    put(s3, bucket,
        {"ID": "rule1", "Status": "Enabled", "Filter": {"Prefix": "test1/"},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 1}, "Expiration": {"Days": 3}})

    def versions():
        resp = s3.list_object_versions(Bucket=bucket)
        return ([v["VersionId"] for v in resp.get("Versions", [])],
                [m["VersionId"] for m in resp.get("DeleteMarkers", [])])

    _wait_for(lambda: versions()[0] == [], what="the noncurrent version expired")
    assert versions() == ([], [marker])
    _wait_for(lambda: versions() == ([], []), what="the lone delete marker removed")
    # Three 2-second days after the marker was written, rounded up to a day boundary.
    assert time.monotonic() - deleted_at >= 5.5


def test_kill_during_a_pass_expires_each_object_once(make_server):
    """kill -9 while a pass expires a versioned bucket's objects, then restart: every targeted
    key ends with exactly one delete marker (nothing applied twice), every version stays, and
    no object that no rule targets is touched."""
    from concurrent.futures import ThreadPoolExecutor

    srv = make_server("--lifecycle-day", "1", "--lifecycle-interval", "1")
    s3 = srv.client()
    bucket = "lifecycle-crash"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    targeted = [f"go/{i:05d}" for i in range(3000)]
    kept = [f"stay/{i:05d}" for i in range(200)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=b"x"), targeted + kept))
    time.sleep(2.5)  # every object is past its one-"day" expiry before the rule exists
    put(s3, bucket, {"ID": "go", "Status": "Enabled", "Filter": {"Prefix": "go/"},
                     "Expiration": {"Days": 1}})

    def markers():
        out = []
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            out += [m["Key"] for m in page.get("DeleteMarkers", [])]
        return out

    def first_expired():
        try:
            s3.head_object(Bucket=bucket, Key=targeted[0])
            return False
        except Exception:
            return True

    # The pass walks keys in order: the first key expired means the pass is under way.
    _wait_for(first_expired, what="the pass to start", timeout=30)
    srv.kill()
    # Back with a one-hour "day" (nothing due): what the killed pass committed, exactly.
    srv.extra_args = ["--lifecycle-day", "3600", "--lifecycle-interval", "1"]
    srv.restart()
    s3 = srv.client()
    at_kill = len(markers())
    assert 0 < at_kill < len(targeted), f"the kill came after the pass ({at_kill} expired)"
    # With the short day again: the next passes finish the work without redoing any.
    srv.extra_args = ["--lifecycle-day", "1", "--lifecycle-interval", "1"]
    srv.restart()
    s3 = srv.client()
    _wait_for(lambda: len(markers()) >= len(targeted), what="every targeted key expired", timeout=60)
    time.sleep(2)  # more passes run: they must not add markers again
    got = markers()
    assert sorted(got) == targeted, "each targeted key has exactly one delete marker"
    versions = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        versions += [v["Key"] for v in page.get("Versions", [])]
    assert sorted(versions) == sorted(targeted + kept)
    listed = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
              for o in p.get("Contents", [])]
    assert listed == kept


def test_lifecycle_with_the_aws_cli(aws, s3, bucket, tmp_path):
    doc = {"Rules": [{"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
                      "Expiration": {"Days": 7},
                      "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}}]}
    path = tmp_path / "lc.json"
    path.write_text(json.dumps(doc))
    aws("s3api", "put-bucket-lifecycle-configuration", "--bucket", bucket,
        "--lifecycle-configuration", f"file://{path}")
    got = json.loads(aws("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket).stdout)
    assert got["Rules"][0]["ID"] == "tmp" and got["Rules"][0]["Expiration"] == {"Days": 7}
    up = json.loads(aws("s3api", "create-multipart-upload", "--bucket", bucket, "--key", "tmp/x").stdout)
    assert up["AbortRuleId"] == "tmp" and up["AbortDate"]
    s3.abort_multipart_upload(Bucket=bucket, Key="tmp/x", UploadId=up["UploadId"])
    aws("s3api", "delete-bucket-lifecycle", "--bucket", bucket)
    expect_error(s3.get_bucket_lifecycle_configuration, Bucket=bucket,
                 code="NoSuchLifecycleConfiguration", status=404)
