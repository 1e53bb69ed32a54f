#!/usr/bin/env bash
# Side-by-side benchmark of this tree against a baseline revision, in the same run:
#   ab.sh BASE_REV [ROUNDS] [-- tessera-bench args]
# Builds BASE_REV's server (release) in a git worktree under $TMPDIR, then runs run.sh
# ROUNDS times (default 3) for each build, alternating base/head so that drift of this
# machine's speed hits both alike, and prints each scenario's figures per build (median).
# AB_BASE_BIN=path uses an already built baseline server instead of building BASE_REV.
# AB_SCRIPT=auth.sh runs auth.sh (put-small as root, IAM user, under a bucket policy) instead of
# run.sh; `ab.sh BASE 3 -- put-small` runs only put-small through run.sh. Runs a baseline cannot
# do (no IAM users or bucket policies before accounts) are left out of its column.
# "Before authorization": the commit before the accounts merge, 47504fe^1 = c851013.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
base_rev="${1:?usage: ab.sh BASE_REV [ROUNDS] [-- tessera-bench args]}"
shift
rounds=3
if [[ $# -gt 0 && "$1" != "--" ]]; then rounds="$1"; shift; fi
[[ "${1:-}" == "--" ]] && shift

base_sha="$(git rev-parse --verify "$base_rev^{commit}")"
tmp="${TMPDIR:-/tmp}"
if [[ -n "${AB_BASE_BIN:-}" ]]; then
    # A baseline binary built earlier (of BASE_REV, release): skips the baseline build.
    base_bin="$AB_BASE_BIN"
else
    base_tree="$tmp/tessera-ab-$base_sha"
    base_target="$tmp/tessera-ab-target"
    if [[ ! -d "$base_tree" ]]; then
        git worktree add --detach "$base_tree" "$base_sha" >&2
    fi
    echo "ab.sh: building baseline $base_sha (release)" >&2
    (cd "$base_tree" && CARGO_TARGET_DIR="$base_target" cargo build --release -p tessera >&2)
    base_bin="$base_target/release/tessera"
fi
cargo build --release -p tessera -p tessera-bench >&2
head_bin="${CARGO_TARGET_DIR:-$root/target}/release/tessera"

out="$(mktemp "$tmp/tessera-ab.XXXXXX")"
for round in $(seq 1 "$rounds"); do
    for which in base head; do
        bin="$base_bin"; [[ "$which" == head ]] && bin="$head_bin"
        echo "ab.sh: round $round/$rounds, $which" >&2
        BENCH_SERVER_BIN="$bin" "$root/crates/tessera-bench/${AB_SCRIPT:-run.sh}" "$@" 2>/dev/null \
            | sed -n "s/^BENCH /$which /p" >>"$out"
    done
done

# Median of every numeric field per scenario and build.
python3 - "$out" "$base_sha" <<'PY'
import json, statistics, sys
from collections import defaultdict
runs = defaultdict(lambda: defaultdict(list))
for line in open(sys.argv[1]):
    which, js = line.split(" ", 1)
    rec = json.loads(js)
    for k, v in rec.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            # put-small runs of auth.sh differ by their variant (root, iam-user, …).
            name = rec.get("scenario", "?") + (f"/{rec['variant']}" if rec.get("variant") else "")
            runs[(name, k)][which].append(v)
print(f"baseline {sys.argv[2][:10]} vs this tree; median of each figure (all runs in brackets)")
for (scenario, field), by in sorted(runs.items()):
    cells = []
    for which in ("base", "head"):
        vals = by.get(which, [])
        med = statistics.median(vals) if vals else float("nan")
        cells.append(f"{which} {med:.4g} [{', '.join(f'{v:.4g}' for v in vals)}]")
    print(f"{scenario:28} {field:24} " + "   ".join(cells))
PY
rm -f "$out"
