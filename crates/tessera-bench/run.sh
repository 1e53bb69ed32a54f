#!/usr/bin/env bash
# Benchmarks a throwaway Tessera server on this machine:
#   1. builds tessera and tessera-bench in release,
#   2. starts `tessera serve` on a free loopback port with a fresh data
#      directory and --min-part-size 1, root credentials from the environment,
#   3. waits for its "tessera listening on" line,
#   4. runs `tessera-bench all --server-pid PID` against it (extra arguments
#      to this script go to tessera-bench, e.g. `run.sh --size 256MiB`),
#   5. stops the server with SIGTERM and removes the data directory.
# BENCH_SERVER_BIN=path benchmarks that server binary instead of this tree's.
# Exits with tessera-bench's status. Output: the bench's human-readable
# figures and one `BENCH {json}` line per scenario.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

echo "run.sh: building tessera and tessera-bench (release)" >&2
cargo build --release -p tessera -p tessera-bench
target_dir="${CARGO_TARGET_DIR:-$root/target}"
# BENCH_SERVER_BIN runs another build of the server (a baseline: see ab.sh) under the same bench
# (not TESSERA_*: the server refuses unknown TESSERA_ variables).
tessera="${BENCH_SERVER_BIN:-$target_dir/release/tessera}"
bench="$target_dir/release/tessera-bench"

# A loopback port nothing listens on (a refused connection means free).
free_port() {
    local port
    for _ in $(seq 1 100); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    echo "run.sh: found no free port" >&2
    return 1
}

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

access_key="${TESSERA_ROOT_ACCESS_KEY:-TBENCH$(random_hex 7 | tr 'a-f' 'A-F')}"
secret_key="${TESSERA_ROOT_SECRET_KEY:-$(random_hex 20)}"
port="$(free_port)"
data_dir="$(mktemp -d "${TMPDIR:-/tmp}/tessera-bench-data.XXXXXX")"
log_dir="$(mktemp -d "${TMPDIR:-/tmp}/tessera-bench-log.XXXXXX")"
server_pid=""

show_logs() {
    echo "---- tessera stdout (tail) ----" >&2
    tail -n 40 "$log_dir/stdout" >&2 || true
    echo "---- tessera stderr (tail) ----" >&2
    tail -n 40 "$log_dir/stderr" >&2 || true
}

cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        echo "run.sh: stopping tessera (pid $server_pid) with SIGTERM" >&2
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 300); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$server_pid" 2>/dev/null; then
            echo "run.sh: tessera still running 30 s after SIGTERM; sending SIGKILL" >&2
            kill -KILL "$server_pid" 2>/dev/null || true
        fi
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$data_dir" "$log_dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "run.sh: starting tessera on 127.0.0.1:$port, data in $data_dir" >&2
TESSERA_ROOT_ACCESS_KEY="$access_key" TESSERA_ROOT_SECRET_KEY="$secret_key" \
    "$tessera" serve --listen "127.0.0.1:$port" --data-dir "$data_dir" --min-part-size 1 \
    >"$log_dir/stdout" 2>"$log_dir/stderr" &
server_pid=$!

# Wait (up to 60 s) for the server to say it is listening.
ready=""
for _ in $(seq 1 600); do
    if grep -q "tessera listening on" "$log_dir/stdout" 2>/dev/null; then
        ready=1
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "run.sh: tessera exited before listening" >&2
        show_logs
        exit 1
    fi
    sleep 0.1
done
if [[ -z "$ready" ]]; then
    echo "run.sh: no \"tessera listening on\" line within 60 s" >&2
    show_logs
    exit 1
fi
grep -m1 "tessera listening on" "$log_dir/stdout" >&2

rc=0
AWS_ACCESS_KEY_ID="$access_key" AWS_SECRET_ACCESS_KEY="$secret_key" \
    "$bench" all --endpoint "http://127.0.0.1:$port" --server-pid "$server_pid" "$@" || rc=$?
if [[ $rc -ne 0 ]]; then
    echo "run.sh: tessera-bench failed (exit $rc)" >&2
    show_logs
fi
exit "$rc"
