#!/usr/bin/env bash
# Fire-lateness bench of the real scheduler thread (see lateness.c and README.md): builds the
# library if needed, then the bench, and runs it ([schedules] [minutes]).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build/release}
make -s -j2 BUILD="$BUILD" "$BUILD/libplanasonix.a"
mkdir -p "$BUILD/bench"
cc -std=c17 -O2 -g -Wall -Wextra -Werror -D_DEFAULT_SOURCE -Isrc -o "$BUILD/bench/sched_lateness" \
    bench/sched/lateness.c "$BUILD/libplanasonix.a" \
    $(pkg-config --libs json-c libsodium sqlite3 libcurl libmicrohttpd libpq libmariadb) -lpthread -lm
"$BUILD/bench/sched_lateness" "$@"
