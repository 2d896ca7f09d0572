#!/usr/bin/env bash
# Installs what Planasonix needs on Debian 12 (bookworm): build tools and libraries; with
# --test also what the tests need (cmocka, sqlite3 CLI, Node.js for the MCP SDK client, real
# PostgreSQL and MariaDB servers, and the current Debian tzdata for the tz oracle test).
# Idempotent: packages already present are not reinstalled.
set -euo pipefail

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

pkgs=(build-essential pkg-config libjson-c-dev libsodium-dev libsqlite3-dev libcurl4-openssl-dev libmicrohttpd-dev
      libpq-dev libmariadb-dev tzdata libtsan2)
if [ "$want_test" = 1 ]; then
    pkgs+=(libcmocka-dev sqlite3 clang-format curl postgresql mariadb-server)
    command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
    command -v npm >/dev/null 2>&1 || pkgs+=(npm)
fi

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "deps: installing ${missing[*]}" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The tz oracle test compares against the newest tzdata Debian ships, not whatever the machine
# happened to have: upgrade it when the archive has a newer one.
if [ "$want_test" = 1 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    [ "${#missing[@]}" -gt 0 ] || $SUDO apt-get update -qq
    installed=$(dpkg-query -W -f='${Version}' tzdata)
    candidate=$(apt-cache policy tzdata | sed -n 's/^ *Candidate: //p')
    if [ -n "$candidate" ] && [ "$candidate" != "(none)" ] && [ "$candidate" != "$installed" ]; then
        echo "deps: upgrading tzdata $installed -> $candidate" >&2
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends tzdata >/dev/null
    fi
fi
