# Sourced by run.sh and auth.sh: starts and stops a throwaway Tessera server.
# After `start_server`: $server_pid, $port, $data_dir, $access_key, $secret_key (root key).
# Needs $tessera (the server binary); `trap stop_server EXIT` is the caller's.
# $SERVER_WRAPPER, if set, is put before the binary (e.g. `valgrind --tool=callgrind ...`:
# valgrind runs the server in its own process, so $server_pid stays the server's).

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
    echo "server.sh: found no free port" >&2
    return 1
}

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

server_pid=""
data_dir=""
log_dir=""

show_logs() {
    echo "---- tessera stdout (tail) ----" >&2
    tail -n 40 "$log_dir/stdout" >&2 || true
    echo "---- tessera stderr (tail) ----" >&2
    tail -n 40 "$log_dir/stderr" >&2 || true
}

stop_server() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        echo "server.sh: stopping tessera (pid $server_pid) with SIGTERM" >&2
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 300); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$server_pid" 2>/dev/null; then
            echo "server.sh: tessera still running 30 s after SIGTERM; sending SIGKILL" >&2
            kill -KILL "$server_pid" 2>/dev/null || true
        fi
        wait "$server_pid" 2>/dev/null || true
    fi
    [[ -n "$data_dir" ]] && rm -rf "$data_dir"
    [[ -n "$log_dir" ]] && rm -rf "$log_dir"
    return 0
}

# Starts `$tessera serve` on a free loopback port with a fresh data directory and
# --min-part-size 1, and waits (up to 60 s) for its "tessera listening on" line.
start_server() {
    access_key="${TESSERA_ROOT_ACCESS_KEY:-TBENCH$(random_hex 7 | tr 'a-f' 'A-F')}"
    secret_key="${TESSERA_ROOT_SECRET_KEY:-$(random_hex 20)}"
    port="$(free_port)"
    data_dir="$(mktemp -d "${TMPDIR:-/tmp}/tessera-bench-data.XXXXXX")"
    log_dir="$(mktemp -d "${TMPDIR:-/tmp}/tessera-bench-log.XXXXXX")"
    echo "server.sh: starting tessera on 127.0.0.1:$port, data in $data_dir" >&2
    # shellcheck disable=SC2086 # the wrapper is a command line of several words
    TESSERA_ROOT_ACCESS_KEY="$access_key" TESSERA_ROOT_SECRET_KEY="$secret_key" \
        ${SERVER_WRAPPER:-} "$tessera" serve --listen "127.0.0.1:$port" --data-dir "$data_dir" --min-part-size 1 \
        >"$log_dir/stdout" 2>"$log_dir/stderr" &
    server_pid=$!
    for _ in $(seq 1 600); do
        if grep -q "tessera listening on" "$log_dir/stdout" 2>/dev/null; then
            grep -m1 "tessera listening on" "$log_dir/stdout" >&2
            return 0
        fi
        if ! kill -0 "$server_pid" 2>/dev/null; then
            echo "server.sh: tessera exited before listening" >&2
            show_logs
            return 1
        fi
        sleep 0.1
    done
    echo "server.sh: no \"tessera listening on\" line within 60 s" >&2
    show_logs
    return 1
}
