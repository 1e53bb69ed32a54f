#!/usr/bin/env bash
# Benchmarks a throwaway Tessera server on this machine:
#   1. builds tessera and tessera-bench in release,
#   2. starts `tessera serve` on a free loopback port with a fresh data
#      directory and --min-part-size 1, root credentials from the environment,
#   3. waits for its "tessera listening on" line,
#   4. runs `tessera-bench all --server-pid PID` against it (extra arguments
#      to this script go to tessera-bench, e.g. `run.sh --size 256MiB`; a first
#      argument naming a scenario runs that one instead: `run.sh put-small --count 5000`),
#   5. stops the server with SIGTERM and removes the data directory.
# BENCH_SERVER_BIN=path benchmarks that server binary instead of this tree's.
# Exits with tessera-bench's status. Output: the bench's human-readable
# figures and one `BENCH {json}` line per scenario.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
# shellcheck source=server.sh
source "$here/server.sh"

echo "run.sh: building tessera and tessera-bench (release)" >&2
cargo build --release -p tessera -p tessera-bench
target_dir="${CARGO_TARGET_DIR:-$root/target}"
# BENCH_SERVER_BIN runs another build of the server (a baseline: see ab.sh) under the same bench
# (not TESSERA_*: the server refuses unknown TESSERA_ variables).
tessera="${BENCH_SERVER_BIN:-$target_dir/release/tessera}"
bench="$target_dir/release/tessera-bench"

scenario=all
case "${1:-}" in
    put-multipart | ingest-sse | complete-many | rss | md5 | sse | put-small | all) scenario="$1"; shift ;;
esac

trap stop_server EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
start_server

rc=0
AWS_ACCESS_KEY_ID="$access_key" AWS_SECRET_ACCESS_KEY="$secret_key" \
    "$bench" "$scenario" --endpoint "http://127.0.0.1:$port" --server-pid "$server_pid" "$@" || rc=$?
if [[ $rc -ne 0 ]]; then
    echo "run.sh: tessera-bench failed (exit $rc)" >&2
    show_logs
fi
exit "$rc"
