#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests (the postgres connector's unit and e2e tests).
#
#   scripts/pg-server.sh start DIR   initdb's a cluster under DIR, starts it on 127.0.0.1 on a
#                                    free port (scram-sha-256 password auth over TCP, unix
#                                    socket inside DIR), creates a test role and database, waits
#                                    until it accepts connections, then prints only
#                                    `export PX_TEST_PG_*=...` lines on stdout.
#   scripts/pg-server.sh stop DIR    stops it (idempotent) and removes the cluster.
#
# Uses the PostgreSQL binaries of the Debian `postgresql` package (/usr/lib/postgresql/NN/bin;
# PG_BIN overrides), never the Debian-managed cluster. As root, the server runs as the
# `postgres` system user (postgres refuses to run as root). Logs go to DIR/server.log.
set -euo pipefail

die() {
    echo "pg-server.sh: $*" >&2
    exit 1
}

usage() {
    echo "usage: scripts/pg-server.sh start|stop DIR" >&2
    exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
mkdir -p "$2"
dir=$(cd "$2" && pwd)

find_bin() {
    if [ -n "${PG_BIN:-}" ]; then
        echo "$PG_BIN"
        return
    fi
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            echo "$d"
            return
        fi
    done
    local p
    p=$(command -v pg_ctl 2>/dev/null || true)
    [ -n "$p" ] && dirname "$p" && return
    die "no PostgreSQL server binaries found (install the postgresql package: scripts/deps.sh --test)"
}

# Runs a command as the user that owns the cluster (postgres when we are root).
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u postgres -- "$@"
        else
            setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
        fi
    else
        "$@"
    fi
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

stop() {
    local data base
    data=$(cat "$dir/datadir" 2>/dev/null || true)
    base=$(cat "$dir/base" 2>/dev/null || true)
    if [ -n "$data" ] && [ -f "$data/postmaster.pid" ]; then
        local bin
        bin=$(find_bin)
        as_owner "$bin/pg_ctl" -D "$data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    if [ -n "$data" ] && [ -d "$data" ]; then
        rm -rf "$data"
    fi
    rm -rf "$dir/socket"
    # A private base under /tmp (root, DIR not reachable by postgres): keep its log in DIR.
    if [ -n "$base" ] && [ "$base" != "$dir" ] && [ -d "$base" ]; then
        cat "$base/server.log" >>"$dir/server.log" 2>/dev/null || true
        rm -rf "$base"
    fi
    rm -f "$dir/datadir" "$dir/base" "$dir/env"
}

start() {
    local bin
    bin=$(find_bin)
    [ -x "$bin/initdb" ] || die "$bin/initdb not found"
    if [ -f "$dir/env" ] && [ -f "$(cat "$dir/datadir" 2>/dev/null)/postmaster.pid" ]; then
        cat "$dir/env" # already running
        return
    fi
    stop
    local root=0
    [ "$(id -u)" -eq 0 ] && root=1
    if [ $root -eq 1 ]; then
        getent passwd postgres >/dev/null || die "running as root needs the 'postgres' system user (install the postgresql package)"
    fi
    # The data directory and socket directory: inside DIR when the owner can reach it, else a
    # private directory under /tmp (recorded in DIR/datadir).
    local base="$dir"
    if [ $root -eq 1 ] && ! runuser -u postgres -- test -x "$dir" 2>/dev/null; then
        base=$(mktemp -d /tmp/px-pg-XXXXXX)
    fi
    local data="$base/data" sock="$base/socket"
    mkdir -p "$data" "$sock"
    chmod 700 "$data"
    [ $root -eq 1 ] && chown -R postgres: "$data" "$sock" && [ "$base" != "$dir" ] && chown postgres: "$base"
    echo "$data" >"$dir/datadir"
    echo "$base" >"$dir/base"
    : >"$dir/server.log"
    [ $root -eq 1 ] && chown postgres: "$dir/server.log" 2>/dev/null || true
    local log="$dir/server.log"
    if [ $root -eq 1 ] && ! runuser -u postgres -- test -w "$log" 2>/dev/null; then
        log="$base/server.log"
        : >"$log"
        chown postgres: "$log"
    fi

    local pass user=px_test db=px_test
    pass="pw-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
    local pwfile="$base/.pw"
    printf '%s\n' "$pass" >"$pwfile"
    chmod 600 "$pwfile"
    [ $root -eq 1 ] && chown postgres: "$pwfile"

    as_owner "$bin/initdb" -D "$data" -U postgres --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >>"$log" 2>&1 ||
        as_owner "$bin/initdb" -D "$data" -U postgres --pwfile="$pwfile" -E UTF8 --locale=C \
            --auth-local=trust --auth-host=scram-sha-256 >>"$log" 2>&1 ||
        die "initdb failed (see $log)"
    rm -f "$pwfile"
    cat >>"$data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sock'
password_encryption = 'scram-sha-256'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 64MB
max_connections = 50
max_wal_size = 1GB
logging_collector = off
log_min_messages = warning
EOF

    local port="" tries=0
    while [ $tries -lt 10 ]; do
        tries=$((tries + 1))
        local p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        port_in_use "$p" && continue
        if as_owner "$bin/pg_ctl" -D "$data" -l "$log" -o "-p $p" -w -t 30 start >>"$log" 2>&1; then
            port=$p
            break
        fi
    done
    [ -n "$port" ] || die "the server did not start (see $log)"
    local i=0
    until as_owner "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1; do
        i=$((i + 1))
        [ $i -lt 30 ] || die "the server did not become ready within 30 s (see $log)"
        sleep 1
    done
    local psql="$bin/psql"
    [ -x "$psql" ] || psql=$(command -v psql) || die "psql not found"
    as_owner "$psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -U postgres -d postgres \
        >>"$log" 2>&1 <<EOF || die "creating the test role failed (see $log)"
CREATE ROLE $user LOGIN PASSWORD '$pass';
CREATE DATABASE $db OWNER $user;
EOF
    {
        echo "export PX_TEST_PG_HOST=127.0.0.1"
        echo "export PX_TEST_PG_PORT=$port"
        echo "export PX_TEST_PG_USER=$user"
        echo "export PX_TEST_PG_PASSWORD=$pass"
        echo "export PX_TEST_PG_DATABASE=$db"
    } >"$dir/env"
    chmod 600 "$dir/env"
    cat "$dir/env"
}

case "$cmd" in
start) start ;;
stop) stop ;;
*) usage ;;
esac
