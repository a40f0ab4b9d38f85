#!/usr/bin/env bash
# pg_cluster.sh start DIR | stop DIR — a private, throw-away PostgreSQL 15
# cluster for tests, so `make test` and .ci/run need no system service.
#
#   start DIR  creates DIR (wiping any earlier cluster there), runs initdb and
#              pg_ctl start, waits until the server accepts connections, then
#              prints the connection URL and writes it to DIR/url.
#   stop DIR   pg_ctl stop -m fast (immediate if that fails), then removes DIR.
#
# The server listens only on a UNIX socket in DIR (listen_addresses=''), never
# on TCP, with trust authentication for the superuser "postgres" — safe only
# because the socket lives in a directory nobody else can enter (mode 0700).
# PostgreSQL refuses to run as root: as root, the cluster runs as the
# `postgres` system user (created by the postgresql package) and DIR is
# handed to it; as any other user it runs directly.
#
# Environment: PG_BIN (default /usr/lib/postgresql/15/bin), PG_PORT (5433;
# only names the socket file, so clusters in different DIRs never clash).
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_PORT=${PG_PORT:-5433}

usage() {
    echo "usage: $0 start DIR | stop DIR" >&2
    exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
dir=$2
case "$dir" in
/*) ;;
*) dir="$(pwd)/$dir" ;;
esac

# A UNIX socket path is limited to 107 bytes.
if [ $((${#dir} + 20)) -gt 107 ]; then
    echo "pg_cluster: DIR too long for a UNIX socket path: $dir" >&2
    exit 1
fi

# run CMD… as the cluster's owner.
if [ "$(id -u)" -eq 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
        echo "pg_cluster: running as root but there is no 'postgres' user (install postgresql)" >&2
        exit 1
    fi
    as_owner() { runuser -u postgres -- "$@"; }
else
    as_owner() { "$@"; }
fi

stop_cluster() {
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
            as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
}

case "$cmd" in
start)
    if [ ! -x "$PG_BIN/initdb" ]; then
        echo "pg_cluster: $PG_BIN/initdb not found (scripts/deps.sh installs postgresql)" >&2
        exit 1
    fi
    stop_cluster # a cluster left by an interrupted run
    rm -rf "$dir"
    mkdir -p "$dir"
    chmod 0700 "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$dir"
        if ! runuser -u postgres -- test -w "$dir"; then
            echo "pg_cluster: user postgres cannot reach $dir (a parent directory is closed to it)" >&2
            exit 1
        fi
    fi
    if ! as_owner "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
        --no-sync >"$dir/initdb.log" 2>&1; then
        echo "pg_cluster: initdb failed:" >&2
        cat "$dir/initdb.log" >&2
        exit 1
    fi
    if ! as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses='' -c unix_socket_directories='$dir' -p $PG_PORT -c max_connections=50" \
        start >/dev/null 2>&1; then
        echo "pg_cluster: server did not start:" >&2
        cat "$dir/server.log" >&2 || true
        exit 1
    fi
    # pg_ctl -w already waited; pg_isready confirms the socket answers.
    for _ in $(seq 1 100); do
        if "$PG_BIN/pg_isready" -q -h "$dir" -p "$PG_PORT"; then
            url="postgresql://postgres@/postgres?host=$dir&port=$PG_PORT"
            echo "$url" | as_owner tee "$dir/url" >/dev/null
            echo "$url"
            exit 0
        fi
        sleep 0.1
    done
    echo "pg_cluster: server not accepting connections" >&2
    stop_cluster
    exit 1
    ;;
stop)
    stop_cluster
    rm -rf "$dir"
    ;;
*)
    usage
    ;;
esac
