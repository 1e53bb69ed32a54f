#!/usr/bin/env bash
# What authorization costs on small PUTs: runs `tessera-bench put-small` against one fresh
# Tessera server four ways, then prints each way's PUT/s and latency beside the first one:
#   root             the root key, no bucket policy
#   iam-user         an IAM user (tessera admin) with an inline policy: identity-policy evaluation
#   root+policy20    the root key under a 20-statement bucket policy
#   iam-user+policy20  the IAM user under that bucket policy
#   auth.sh [put-small flags]      e.g. auth.sh --count 5000 --concurrency 8
# Defaults: --size 4KiB --count 8000 --warmup 500 per way (about 2-3 minutes in all on 2 cores).
# A way the server cannot do is reported as skipped: the IAM ways need `tessera admin`
# (servers before accounts lack it), the policy ways PutBucketPolicy (exit 3 from the bench).
# BENCH_SERVER_BIN=path benchmarks that server binary (ab.sh: AB_SCRIPT=auth.sh).
# AUTH_CALLGRIND=1 runs the server under valgrind's callgrind and also reports the server's
# instructions per PUT of each way (counters zeroed before and dumped after each run): a count
# that is the same from run to run whatever else the machine does, where PUT/s on a shared
# 2-core VM moves by +-15 %. Use fewer PUTs then (valgrind is ~50x slower), e.g.
#   AUTH_CALLGRIND=1 auth.sh --count 1500 --warmup 100 --concurrency 2
# Output: each run's figures, its `BENCH {json}` line (with "variant"), then the summary.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
# shellcheck source=server.sh
source "$here/server.sh"

echo "auth.sh: building tessera and tessera-bench (release)" >&2
cargo build --release -p tessera -p tessera-bench >&2
target_dir="${CARGO_TARGET_DIR:-$root/target}"
tessera="${BENCH_SERVER_BIN:-$target_dir/release/tessera}"
bench="$target_dir/release/tessera-bench"
bucket=tessera-bench
statements="${AUTH_POLICY_STATEMENTS:-20}"

callgrind_dir=""
if [[ -n "${AUTH_CALLGRIND:-}" ]]; then
    callgrind_dir="$(mktemp -d "${TMPDIR:-/tmp}/tessera-auth-callgrind.XXXXXX")"
    SERVER_WRAPPER="valgrind --tool=callgrind --dump-instr=no --callgrind-out-file=$callgrind_dir/cg.out"
fi

trap 'stop_server; [[ -n "$callgrind_dir" ]] && rm -rf "$callgrind_dir"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
start_server
endpoint="http://127.0.0.1:$port"
lines="$(mktemp "${TMPDIR:-/tmp}/tessera-auth.XXXXXX")"
skipped=()
failed=0

# put_small LABEL ACCESS_KEY SECRET_KEY [flags]: one run; exit 3 (server lacks a feature) is a skip.
put_small() {
    local label="$1" ak="$2" sk="$3" rc=0
    shift 3
    [[ -n "$callgrind_dir" ]] && callgrind_control -z "$server_pid" >/dev/null
    AWS_ACCESS_KEY_ID="$ak" AWS_SECRET_ACCESS_KEY="$sk" \
        "$bench" put-small --endpoint "$endpoint" --bucket "$bucket" --label "$label" \
        --size 4KiB --count 8000 --warmup 500 "$@" | tee -a "$lines" || rc=$?
    if [[ -n "$callgrind_dir" && $rc == 0 ]]; then
        callgrind_instructions "$label"
    fi
    case $rc in
        0) ;;
        3) skipped+=("$label (server lacks a needed API)") ;;
        *) echo "auth.sh: put-small [$label] failed (exit $rc)" >&2; failed=1 ;;
    esac
}

# callgrind_instructions LABEL: dumps the server's counters since the last zeroing and
# records `CALLGRIND {"variant", "instructions", "puts"}` (PUTs made since, warm-up included).
callgrind_instructions() {
    local before after dump ir
    before="$(ls "$callgrind_dir" | wc -l)"
    callgrind_control -d "$server_pid" >/dev/null
    for _ in $(seq 1 600); do
        after="$(ls "$callgrind_dir" | wc -l)"
        [[ "$after" -gt "$before" ]] && break
        sleep 0.1
    done
    dump="$(ls -t "$callgrind_dir"/cg.out* | head -1)"
    ir="$(awk '/^(summary|totals):/ {print $2; exit}' "$dump")"
    python3 - "$1" "$ir" "$lines" <<'PY'
import json, sys
label, ir, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
runs = [json.loads(l[6:]) for l in open(path) if l.startswith("BENCH ")]
run = [r for r in runs if r.get("variant") == label][-1]
puts = run["count"] + run.get("warmup", 0)
with open(path, "a") as f:
    f.write("CALLGRIND " + json.dumps({"variant": label, "instructions": ir, "puts": puts}) + "\n")
PY
}

put_small root "$access_key" "$secret_key" "$@"

# An IAM user of the root account, with an inline policy as a deployment would give it.
user_ak="" user_sk=""
if "$tessera" admin --help >/dev/null 2>&1; then
    admin() { "$tessera" admin --data-dir "$data_dir" "$@"; }
    admin user create --account root bench >/dev/null
    admin user policy put --account root --user bench bench-rw "{
      \"Version\": \"2012-10-17\",
      \"Statement\": [
        {\"Sid\": \"Bucket\", \"Effect\": \"Allow\",
         \"Action\": [\"s3:CreateBucket\", \"s3:ListBucket\", \"s3:GetBucketLocation\",
                    \"s3:PutBucketPolicy\", \"s3:GetBucketPolicy\", \"s3:DeleteBucketPolicy\"],
         \"Resource\": \"arn:aws:s3:::$bucket\"},
        {\"Sid\": \"Objects\", \"Effect\": \"Allow\",
         \"Action\": [\"s3:PutObject\", \"s3:GetObject\", \"s3:DeleteObject\", \"s3:AbortMultipartUpload\"],
         \"Resource\": \"arn:aws:s3:::$bucket/tessera-bench/*\"},
        {\"Sid\": \"NeverDeleteBuckets\", \"Effect\": \"Deny\", \"Action\": \"s3:DeleteBucket\",
         \"Resource\": \"*\"}
      ]}" >/dev/null
    key_json="$(admin user key create --account root --user bench)"
    user_ak="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["access_key_id"])' <<<"$key_json")"
    user_sk="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["secret_access_key"])' <<<"$key_json")"
    put_small iam-user "$user_ak" "$user_sk" "$@"
else
    skipped+=("iam-user (this server has no 'tessera admin')")
fi

put_small "root+policy$statements" "$access_key" "$secret_key" \
    --bucket-policy-statements "$statements" "$@"
if [[ -n "$user_ak" ]]; then
    put_small "iam-user+policy$statements" "$user_ak" "$user_sk" \
        --bucket-policy-statements "$statements" "$@"
fi

python3 - "$lines" <<'PY'
import json, sys
runs = [json.loads(l[6:]) for l in open(sys.argv[1]) if l.startswith("BENCH ")]
if runs:
    base = runs[0]
    print(f"auth.sh: put-small, {base['size']} B objects, {base['count']} PUTs, "
          f"{base['concurrency']} in flight; change against '{base.get('variant')}'")
    print(f"  {'variant':22} {'PUT/s':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}"
          f" {'PUT/s':>8} {'p50':>8}")
    for r in runs:
        d_rate = (r["puts_per_sec"] / base["puts_per_sec"] - 1) * 100
        d_p50 = (r["p50_ms"] / base["p50_ms"] - 1) * 100
        print(f"  {r.get('variant', '?'):22} {r['puts_per_sec']:8.0f} {r['p50_ms']:8.3f}"
              f" {r['p90_ms']:8.3f} {r['p99_ms']:8.3f} {d_rate:+7.1f}% {d_p50:+7.1f}%")
PY
python3 - "$lines" <<'PY'
import json, sys
runs = [json.loads(l[10:]) for l in open(sys.argv[1]) if l.startswith("CALLGRIND ")]
if runs:
    base = runs[0]["instructions"] / runs[0]["puts"]
    print(f"auth.sh: server instructions per PUT (callgrind, warm-up included); change against "
          f"'{runs[0]['variant']}'")
    for r in runs:
        per = r["instructions"] / r["puts"]
        print(f"  {r['variant']:22} {per:12.0f} {(per / base - 1) * 100:+7.2f}%")
PY
for s in "${skipped[@]}"; do echo "auth.sh: skipped $s"; done
rm -f "$lines"
exit "$failed"
