#!/usr/bin/env bash
# Next-fire throughput bench (see README.md). Builds the library if needed, then the bench
# against it, and runs it. BUILD defaults to build/release; extra arguments go to the bench
# ([schedules] [runs]).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build/release}
make -s -j2 BUILD="$BUILD" "$BUILD/libplanasonix.a"
mkdir -p "$BUILD/bench"
cc -std=c17 -O2 -g -Wall -Wextra -Werror -D_DEFAULT_SOURCE -Isrc -o "$BUILD/bench/sched_next" \
    bench/sched/next_bench.c "$BUILD/libplanasonix.a" \
    $(pkg-config --libs json-c libsodium 2>/dev/null || echo -ljson-c -lsodium) -lpthread -lm
"$BUILD/bench/sched_next" "$@"
