#!/usr/bin/env bash
# A throwaway MariaDB server for the tests (tests/unit/test_conn_mysql.c).
#
#   scripts/mariadb-server.sh start DIR   creates a data directory under DIR, starts mariadbd on
#                                         127.0.0.1 at a free port, creates a database and a user
#                                         with a password, and prints only `export PX_TEST_MYSQL_*=`
#                                         lines (eval them; PX_TEST_MYSQL_SOCKET is the server's
#                                         Unix socket, where root logs in without a password,
#                                         for the test that connectors never use it).
#                                         Starting an already running server prints the same
#                                         lines again.
#   scripts/mariadb-server.sh stop DIR    stops it (idempotent); DIR itself is left for the
#                                         caller to remove.
#
# It never touches the system's MariaDB service or its files (--no-defaults everywhere, its own
# socket, pid file and port). As root, mariadbd runs as the mysql user and DIR is handed to it.
# Grant tables are real, so wrong passwords are refused as on a production server.
set -euo pipefail

usage() {
    echo "usage: $0 start|stop DIR" >&2
    exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
dir=$2

find_bin() {
    local name
    for name in "$@"; do
        if command -v "$name" >/dev/null 2>&1; then
            command -v "$name"
            return 0
        fi
        for d in /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin; do
            if [ -x "$d/$name" ]; then
                echo "$d/$name"
                return 0
            fi
        done
    done
    echo "mariadb-server.sh: none of $* found (install mariadb-server: scripts/deps.sh --test)" >&2
    return 1
}

server_pid() {
    local pid
    [ -f "$dir/mariadbd.pid" ] || return 1
    pid=$(cat "$dir/mariadbd.pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

stop() {
    [ -d "$dir" ] || return 0
    dir=$(cd "$dir" && pwd)
    local pid
    pid=$(server_pid) || {
        rm -f "$dir/mariadbd.pid"
        return 0
    }
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
    fi
    rm -f "$dir/mariadbd.pid"
}

# A TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    echo "mariadb-server.sh: no free port found" >&2
    return 1
}

start() {
    local mariadbd install_db admin client
    mariadbd=$(find_bin mariadbd mysqld)
    install_db=$(find_bin mariadb-install-db mysql_install_db)
    admin=$(find_bin mariadb-admin mysqladmin)
    client=$(find_bin mariadb mysql)

    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if server_pid >/dev/null && [ -f "$dir/env" ]; then
        cat "$dir/env"
        return 0
    fi
    local sock="$dir/mysqld.sock"
    if [ "${#sock}" -gt 100 ]; then
        echo "mariadb-server.sh: '$dir' is too long for a Unix socket path; use a shorter DIR" >&2
        return 1
    fi

    local userflag=()
    if [ "$(id -u)" -eq 0 ]; then
        if ! id mysql >/dev/null 2>&1; then
            echo "mariadb-server.sh: running as root needs the 'mysql' user (install mariadb-server)" >&2
            return 1
        fi
        userflag=(--user=mysql)
        chown mysql:mysql "$dir"
        chmod 0750 "$dir"
        if ! runuser -u mysql -- test -w "$dir"; then
            echo "mariadb-server.sh: the mysql user cannot write '$dir' (a parent directory is" \
                "not searchable by it); use a DIR under /tmp" >&2
            return 1
        fi
    fi

    if [ ! -d "$dir/data/mysql" ]; then
        rm -rf "$dir/data"
        if ! "$install_db" --no-defaults "${userflag[@]}" --datadir="$dir/data" \
            --auth-root-authentication-method=normal --skip-test-db \
            --skip-name-resolve >"$dir/install.log" 2>&1; then
            echo "mariadb-server.sh: mariadb-install-db failed; see $dir/install.log:" >&2
            tail -n 20 "$dir/install.log" >&2
            return 1
        fi
    fi

    # TLS with a throwaway self-signed certificate when openssl is there (the tests then
    # check sslmode prefer/require/verify-full against it).
    local tlsflags=()
    if command -v openssl >/dev/null 2>&1; then
        if [ ! -f "$dir/tls/cert.pem" ]; then
            mkdir -p "$dir/tls"
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
                -days 3650 -subj "/CN=px-test-mariadb" -keyout "$dir/tls/key.pem" \
                -out "$dir/tls/cert.pem" >"$dir/tls/openssl.log" 2>&1 || rm -rf "$dir/tls"
        fi
        if [ -f "$dir/tls/cert.pem" ]; then
            [ "$(id -u)" -eq 0 ] && chown -R mysql:mysql "$dir/tls"
            tlsflags=(--ssl-cert="$dir/tls/cert.pem" --ssl-key="$dir/tls/key.pem")
        fi
    fi

    local port pid="" ok=0
    for _attempt in 1 2 3; do
        port=$(free_port)
        rm -f "$dir/mariadbd.pid"
        setsid "$mariadbd" --no-defaults "${userflag[@]}" --datadir="$dir/data" \
            --socket="$sock" --port="$port" --bind-address=127.0.0.1 \
            --pid-file="$dir/mariadbd.pid" --log-error="$dir/mariadbd.log" \
            --skip-name-resolve --skip-log-bin --character-set-server=utf8mb4 \
            --collation-server=utf8mb4_unicode_ci --innodb-buffer-pool-size=64M \
            --innodb-log-file-size=32M --innodb-flush-log-at-trx-commit=2 \
            --innodb-doublewrite=0 --max-connections=100 --max-allowed-packet=64M \
            "${tlsflags[@]}" \
            </dev/null >"$dir/mariadbd.out" 2>&1 &
        pid=$!
        for _ in $(seq 1 300); do
            if ! kill -0 "$pid" 2>/dev/null; then
                break
            fi
            if "$admin" --no-defaults --socket="$sock" -uroot --connect-timeout=1 ping \
                >/dev/null 2>&1; then
                ok=1
                break
            fi
            sleep 0.1
        done
        [ "$ok" = 1 ] && break
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
            break # alive but not answering for 30 s: retrying on another port will not help
        fi
        grep -q "Address already in use\|Can't start server: Bind" "$dir/mariadbd.log" 2>/dev/null ||
            break
    done
    if [ "$ok" != 1 ]; then
        echo "mariadb-server.sh: mariadbd did not become ready within 30 s; log:" >&2
        tail -n 30 "$dir/mariadbd.log" >&2 2>/dev/null || true
        return 1
    fi
    [ -s "$dir/mariadbd.pid" ] || echo "$pid" >"$dir/mariadbd.pid"

    local db=pxtest user=pxtest password
    password=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
    # root keeps only root@localhost (the Unix socket, for this script), as on a packaged
    # server; the install's passwordless root@127.0.0.1 / ::1 / hostname accounts go, so that
    # a TCP login as root without a password is refused (tests/unit/test_conn_mysql.c).
    "$client" --no-defaults --socket="$sock" -uroot -N -e \
        "SELECT CONCAT('DROP USER ''root''@''', Host, ''';') FROM mysql.user WHERE User = 'root' \
         AND Host <> 'localhost'" | "$client" --no-defaults --socket="$sock" -uroot
    "$client" --no-defaults --socket="$sock" -uroot <<SQL
CREATE DATABASE IF NOT EXISTS \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
DROP USER IF EXISTS '$user'@'%';
CREATE USER '$user'@'%' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$user'@'%';
FLUSH PRIVILEGES;
SQL
    umask 077
    {
        echo "export PX_TEST_MYSQL_HOST=127.0.0.1"
        echo "export PX_TEST_MYSQL_PORT=$port"
        echo "export PX_TEST_MYSQL_USER=$user"
        echo "export PX_TEST_MYSQL_PASSWORD=$password"
        echo "export PX_TEST_MYSQL_DATABASE=$db"
        echo "export PX_TEST_MYSQL_SOCKET=$sock"
    } >"$dir/env"
    cat "$dir/env"
}

case "$cmd" in
start) start ;;
stop) stop ;;
*) usage ;;
esac
