"""A retried CompleteMultipartUpload gets the first answer only when it names the same parts;
a Complete naming other parts after (or while) another one succeeded is NoSuchUpload."""

from concurrent.futures import ThreadPoolExecutor

from s3util import expect_error, random_bytes, status_of
from test_multipart_lib import (  # noqa: F401  (fixtures)
    SMALL_MIN_PART,
    get_bytes,
    part_list,
    s3_small,
    small_bucket,
    small_server,
    upload_parts,
)

BOGUS = '"0123456789abcdef0123456789abcdef"'


def _complete(s3, bucket, key, upload_id, parts):
    return s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                        MultipartUpload={"Parts": parts})


def _two_part_upload(s3, bucket, key):
    parts = {1: random_bytes(SMALL_MIN_PART), 2: random_bytes(1000)}
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    return upload_id, parts, upload_parts(s3, bucket, key, upload_id, parts)


def test_retry_with_other_parts_is_no_such_upload(s3_small, small_bucket):
    s3, bucket = s3_small, small_bucket
    upload_id, parts, etags = _two_part_upload(s3, bucket, "k")
    first = _complete(s3, bucket, "k", upload_id, part_list(etags))
    assert status_of(first) == 200
    # The identical retry is idempotent ...
    again = _complete(s3, bucket, "k", upload_id, part_list(etags))
    assert again["ETag"] == first["ETag"]
    # ... but a different list, or a bogus ETag, is not a retry of that Complete.
    expect_error(_complete, s3, bucket, "k", upload_id, part_list(etags, [1]),
                 code="NoSuchUpload", status=404)
    expect_error(_complete, s3, bucket, "k", upload_id,
                 [{"PartNumber": 1, "ETag": etags[1]}, {"PartNumber": 2, "ETag": BOGUS}],
                 code="NoSuchUpload", status=404)
    expect_error(_complete, s3, bucket, "k", upload_id,
                 [{"PartNumber": 1, "ETag": etags[1]}, {"PartNumber": 3, "ETag": etags[2]},
                  {"PartNumber": 4, "ETag": etags[2]}],
                 code="NoSuchUpload", status=404)
    assert get_bytes(s3, bucket, "k") == parts[1] + parts[2]


def test_racing_completes_with_different_lists(s3_small, small_bucket):
    s3, bucket = s3_small, small_bucket
    for attempt in range(6):
        key = f"race{attempt}"
        upload_id, parts, etags = _two_part_upload(s3, bucket, key)
        lists = {"both": part_list(etags, [1, 2]), "first": part_list(etags, [1])}
        expected = {"both": parts[1] + parts[2], "first": parts[1]}

        def run(name):
            try:
                return name, _complete(s3, bucket, key, upload_id, lists[name])
            except s3.exceptions.ClientError as e:
                return name, e

        with ThreadPoolExecutor(2) as pool:
            results = dict(pool.map(run, ["both", "first"] if attempt % 2 else ["first", "both"]))
        winners = [n for n, r in results.items() if isinstance(r, dict)]
        assert len(winners) == 1, results
        loser = ({"both", "first"} - set(winners)).pop()
        assert results[loser].response["Error"]["Code"] in ("NoSuchUpload", "InvalidPart"), results[loser].response
        body = get_bytes(s3, bucket, key)
        assert body == expected[winners[0]], (winners, len(body))
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ETag"] == results[winners[0]]["ETag"]
