#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests and benchmarks, so they pass on any machine
# with Debian's `postgresql` package, whatever its packaged cluster's auth or port:
#
#   pg-cluster.sh ensure DIR   starts a trust-auth cluster in DIR on a free loopback port
#                              (or finds the one already running there) and prints its
#                              admin URL, postgres://postgres@127.0.0.1:PORT/postgres
#   pg-cluster.sh stop DIR     stops it and removes DIR
#
# Concurrent callers (several test binaries) share one cluster: `ensure` holds a lock.
# initdb refuses to run as root, so as root the cluster belongs to the `postgres` user.
set -euo pipefail

cmd="${1:?usage: pg-cluster.sh ensure|stop DIR}"
dir="${2:?usage: pg-cluster.sh ensure|stop DIR}"

bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[[ -x "$bindir/initdb" ]] || {
    echo "PostgreSQL's server binaries are missing: apt-get install -y postgresql" >&2
    exit 1
}

# as_owner CMD...: runs CMD as the cluster's owner.
as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

case "$cmd" in
ensure)
    mkdir -p "$dir"
    [[ "$(id -u)" == 0 ]] && chown postgres: "$dir"
    exec 9>"$dir.lock"
    flock 9
    data="$dir/data"
    if [[ -f "$dir/port" ]] && as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        echo "postgres://postgres@127.0.0.1:$(cat "$dir/port")/postgres"
        exit 0
    fi
    if [[ ! -f "$data/PG_VERSION" ]]; then
        as_owner "$bindir/initdb" -A trust -U postgres -D "$data" >"$dir/initdb.log" 2>&1 || {
            cat "$dir/initdb.log" >&2
            exit 1
        }
    fi
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    # Tests create a database each and run many pools at once: more connections than 100.
    as_owner "$bindir/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=400" \
        start >/dev/null 9>&- || {
        cat "$dir/server.log" >&2
        exit 1
    }
    echo "$port" >"$dir/port"
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
stop)
    if [[ -d "$dir/data" ]]; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir" "$dir.lock"
    ;;
*)
    echo "usage: pg-cluster.sh ensure|stop DIR" >&2
    exit 2
    ;;
esac
