#!/usr/bin/env bash
# Engine throughput benchmark: our engine side by side with its anchors, one run, same data.
#
#   bench/engine/run.sh            N=2000000 R=3 by default
#   N=500000 R=1 ONLY=csv bench/engine/run.sh
#
# Environment:
#   N        rows of the generated orders table (default 2,000,000)
#   R        runs per contestant; medians are reported (default 3)
#   R_SLOW   runs for pgloader, which is ~10x slower than the rest (default: R)
#   ONLY     comma list of parts to run: pg, csv, mem (default all)
#   BUILD    build directory holding libplanasonix.a (default build/release; built with make)
#   KEEP=1   keep the work directory (data, graphs, logs) instead of deleting it
#   PROFILE=1  also run ours once more under `perf record -g` per case and print the hottest
#            symbols (where the time goes)
#
# What it does: starts a throwaway PostgreSQL cluster (scripts/pg-server.sh) with databases src
# and dst, generates an orders-like table with a seeded generate_series (≈10 % duplicate
# order_id, ≈20 % status 'cancelled') and exports it to CSV, then times every contestant with
# /usr/bin/time (wall seconds, peak RSS of the largest process of the contestant: for a shell
# pipeline that is its largest member; server backends are not counted):
#   (a) psql COPY TO STDOUT | psql COPY FROM STDIN, text (the no-transform ceiling) and binary
#   (b) ours PG → PG, no transform
#   (c) ours PG → filter status <> 'cancelled' → dedupe order_id → PG
#   (d) pgloader PG → PG (data only, truncate), no transform
#   (e) Node pg + pg-copy-streams with the same filter and dedupe
#   (f) CSV → filter → dedupe → CSV: ours against DuckDB (npm @duckdb/node-api)
#   mem: ours filter only (streaming) at N and 2N rows: peak RSS must not grow with N
# Before each run into PostgreSQL the destination table is TRUNCATEd in its own transaction and
# a CHECKPOINT is taken. Every run is verified (row count, distinct order_id, and an
# order-independent checksum of the rows against the same selection computed in SQL on the
# source) and the script fails loudly on a mismatch.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
here=$repo/bench/engine

N=${N:-2000000}
R=${R:-3}
R_SLOW=${R_SLOW:-$R}
ONLY=${ONLY:-pg,csv,mem}
BUILD=${BUILD:-build/release}

want() { [[ ",$ONLY," == *",$1,"* ]]; }
die() {
    echo "bench/engine: $*" >&2
    exit 1
}
log() { echo "== $*" >&2; }

# ---- dependencies -------------------------------------------------------------------------
need_apt=()
[ -x /usr/bin/time ] || need_apt+=(time)
if want pg && ! command -v pgloader >/dev/null; then need_apt+=(pgloader); fi
if [ ${#need_apt[@]} -gt 0 ]; then
    log "installing ${need_apt[*]}"
    if [ "$(id -u)" -eq 0 ]; then
        apt-get install -y "${need_apt[@]}" >/dev/null
    else
        sudo apt-get install -y "${need_apt[@]}" >/dev/null
    fi
fi
command -v node >/dev/null || die "node is needed for the Node and DuckDB anchors"
if [ ! -d "$here/node_modules/pg-copy-streams" ] || [ ! -d "$here/node_modules/@duckdb/node-api" ]; then
    log "npm install (bench/engine)"
    (cd "$here" && npm install --no-audit --no-fund >/dev/null)
fi

# ---- build ----------------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/px-bench-engine.XXXXXX)
chmod 755 "$WORK"
PGDIR=$WORK/pg
cleanup() {
    if [ -f "$PGDIR/datadir" ]; then scripts/pg-server.sh stop "$PGDIR" >/dev/null 2>&1 || true; fi
    if [ "${KEEP:-0}" = 1 ]; then echo "work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

log "build ($BUILD) and the driver"
make -s -j2 BUILD="$BUILD" >/dev/null
# shellcheck disable=SC2046
cc -std=c17 -O2 -g -D_DEFAULT_SOURCE -Wall -Wextra -Werror -Isrc "$here/run_graph.c" \
    "$BUILD/libplanasonix.a" $(pkg-config --cflags --libs json-c libsodium sqlite3 libcurl \
    libmicrohttpd libpq libmariadb) -lpthread -lm -o "$WORK/run_graph"
DRIVER=$WORK/run_graph
FILES=$WORK/files
mkdir -p "$FILES"

# ---- results ----------------------------------------------------------------------------------
RES=$WORK/results.tsv # name  rows_in  median_s  median_rss_kb  all_times  median_cpu_s
: >"$RES"

median() { sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# timed NAME ROWS_IN RUNS PREPARE VERIFY CMD: runs CMD (a bash string) RUNS times after PREPARE,
# checks each run with VERIFY, records the medians.
timed() {
    local name=$1 rows=$2 runs=$3 prepare=$4 verify=$5 cmd=$6
    local times=() rss=() cpus=() k
    for ((k = 1; k <= runs; k++)); do
        $prepare
        if ! /usr/bin/time -f '%e %M %U %S' -o "$WORK/time" bash -c "$cmd" >"$WORK/out" 2>"$WORK/err"; then
            cat "$WORK/out" "$WORK/err" >&2
            die "$name failed (run $k)"
        fi
        $verify "$name"
        cp "$WORK/out" "$WORK/out.$name"
        read -r t m u sy <"$WORK/time"
        times+=("$t")
        rss+=("$m")
        cpus+=("$(echo "$u + $sy" | bc -l)")
        echo "   $name run $k: ${t}s, $((m / 1024)) MB" >&2
    done
    local mt mr mc
    mt=$(printf '%s\n' "${times[@]}" | median)
    mr=$(printf '%s\n' "${rss[@]}" | median)
    mc=$(printf '%s\n' "${cpus[@]}" | median)
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$rows" "$mt" "$mr" "${times[*]}" "$mc" >>"$RES"
}

# profile NAME GRAPH: our driver under perf record; the hottest symbols go to $WORK/profile.NAME.
profile() {
    command -v perf >/dev/null || return 0
    perf record -q -g -o "$WORK/perf.$1.data" "$DRIVER" "$2" "$WORK/conns.json" "$FILES" >/dev/null 2>&1 || return 0
    perf report -i "$WORK/perf.$1.data" --no-children --sort symbol --percent-limit 1.5 --stdio 2>/dev/null |
        grep -E '^ +[0-9.]+%' | sed 's/ *- *- *$//' | head -n 25 >"$WORK/profile.$1"
}

# ---- PostgreSQL -------------------------------------------------------------------------------
pg_start() {
    log "PostgreSQL (scripts/pg-server.sh)"
    [ -x scripts/pg-server.sh ] || die "scripts/pg-server.sh is missing"
    eval "$(scripts/pg-server.sh start "$PGDIR")"
    local data
    data=$(cat "$PGDIR/datadir")
    local sock
    sock=$(dirname "$data")/socket
    su_psql() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$PX_TEST_PG_PORT" -U postgres "$@"; }
    [ "$(id -u)" -eq 0 ] || su_psql() { psql -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$PX_TEST_PG_PORT" -U postgres "$@"; }
    # The test server is tuned for many tiny tests; give it a bulk-load configuration (the same
    # for every contestant) and restart.
    su_psql -d postgres >/dev/null <<EOF
ALTER SYSTEM SET shared_buffers = '1GB';
ALTER SYSTEM SET max_wal_size = '8GB';
ALTER SYSTEM SET checkpoint_timeout = '30min';
ALTER SYSTEM SET wal_level = 'minimal';
ALTER SYSTEM SET max_wal_senders = 0;
ALTER SYSTEM SET timezone = 'UTC';
CREATE DATABASE src OWNER $PX_TEST_PG_USER;
CREATE DATABASE dst OWNER $PX_TEST_PG_USER;
GRANT pg_checkpoint TO $PX_TEST_PG_USER;
EOF
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- pg_ctl -D "$data" -w -t 60 restart >/dev/null
    else
        pg_ctl -D "$data" -w -t 60 restart >/dev/null
    fi
    export PGHOST=$PX_TEST_PG_HOST PGPORT=$PX_TEST_PG_PORT PGUSER=$PX_TEST_PG_USER
    export PGPASSWORD=$PX_TEST_PG_PASSWORD
    export PGOPTIONS="-c client_min_messages=warning"
}

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

DDL="order_id bigint, customer_id int, status text, amount numeric(12,2), order_date timestamptz, note text"

gen_table() { # gen_table DB TABLE ROWS
    q "$1" "DROP TABLE IF EXISTS $2" >/dev/null
    psql -X -q -v ON_ERROR_STOP=1 -d "$1" >/dev/null <<EOF
SELECT setseed(0.42);
CREATE TABLE $2 AS
SELECT CASE WHEN i % 10 = 0 THEN 1 + floor(random() * (i - 1))::bigint ELSE i END AS order_id,
       (1 + floor(random() * 100000))::int AS customer_id,
       (ARRAY['pending', 'paid', 'shipped', 'delivered', 'cancelled'])[1 + floor(random() * 5)::int] AS status,
       round((random() * 2000)::numeric, 2)::numeric(12,2) AS amount,
       timestamptz '2026-01-01 00:00:00+00' + random() * interval '60 days' AS order_date,
       md5(i::text) AS note
FROM generate_series(1, $3) AS i;
VACUUM ANALYZE $2;
EOF
}

# Expected results, computed in SQL on the source: count, distinct order_id, checksum. The
# checksum is order-independent (sum of row hashes); keep-first follows heap (COPY) order.
expect_all() { q src "SELECT count(*), count(DISTINCT order_id), sum(hashtext(o::text)::bigint) FROM $1 o"; }
expect_fd() {
    q src "SELECT count(*), count(DISTINCT order_id), sum(hashtext(o::text)::bigint) FROM
           (SELECT DISTINCT ON (order_id) * FROM $1 WHERE status <> 'cancelled' ORDER BY order_id, ctid) o"
}
expect_f() { q src "SELECT count(*), count(DISTINCT order_id), sum(hashtext(o::text)::bigint) FROM $1 o WHERE status <> 'cancelled'"; }

DST_TABLE=orders
prep_dst() {
    q dst "TRUNCATE $DST_TABLE" >/dev/null
    q dst "CHECKPOINT" >/dev/null
}
EXPECT=""
verify_dst() {
    local got
    got=$(q dst "SELECT count(*), count(DISTINCT order_id), sum(hashtext(o::text)::bigint) FROM $DST_TABLE o")
    [ "$got" = "$EXPECT" ] || die "$1: destination has (count|distinct|checksum) $got, expected $EXPECT"
}

write_pg_graph() { # write_pg_graph FILE TABLE TRANSFORMS(none|filter|filter_dedupe) [MODE]
    local t=$3 mode=${4:-append} nodes edges
    nodes="{\"id\":\"src\",\"kind\":\"source\",\"type\":\"postgres\",\"connection_id\":\"conn_src\",\"config\":{\"table\":\"$2\"}}"
    local last=src
    if [ "$t" != none ]; then
        nodes+=",{\"id\":\"keep\",\"kind\":\"transform\",\"type\":\"filter\",\"config\":{\"condition\":\"status <> 'cancelled'\"}}"
        edges="{\"from\":\"src\",\"to\":\"keep\"},"
        last=keep
    fi
    if [ "$t" = filter_dedupe ]; then
        nodes+=",{\"id\":\"dedupe\",\"kind\":\"transform\",\"type\":\"dedupe\",\"config\":{\"keys\":[\"order_id\"]}}"
        edges+="{\"from\":\"keep\",\"to\":\"dedupe\"},"
        last=dedupe
    fi
    nodes+=",{\"id\":\"load\",\"kind\":\"destination\",\"type\":\"postgres\",\"connection_id\":\"conn_dst\",\"config\":{\"table\":\"$2\",\"mode\":\"$mode\"}}"
    edges+="{\"from\":\"$last\",\"to\":\"load\"}"
    echo "{\"nodes\":[$nodes],\"edges\":[$edges]}" >"$1"
}

run_pg() {
    pg_start
    log "generating $N rows (src.orders) and the CSV export"
    gen_table src orders "$N"
    q dst "CREATE TABLE orders ($DDL)"
    psql -X -q -d src -c "COPY orders TO STDOUT (FORMAT csv, HEADER)" >"$FILES/orders.csv"
    local all fd
    all=$(expect_all orders)
    fd=$(expect_fd orders)
    echo "   rows|distinct order_id|checksum: all $all; filtered+deduped $fd" >&2
    cat >"$WORK/conns.json" <<EOF
{"conn_src": {"host": "$PGHOST", "port": $PGPORT, "database": "src", "user": "$PGUSER", "password": "$PGPASSWORD", "sslmode": "disable"},
 "conn_dst": {"host": "$PGHOST", "port": $PGPORT, "database": "dst", "user": "$PGUSER", "password": "$PGPASSWORD", "sslmode": "disable"},
 "conn_files": {"path": "."}}
EOF
    chmod 600 "$WORK/conns.json"
    write_pg_graph "$WORK/pg_none.json" orders none
    write_pg_graph "$WORK/pg_fd.json" orders filter_dedupe
    # pgloader's "data only, truncate" empties the table and loads it: our mode replace
    # (TRUNCATE + COPY in one transaction) is the same operation.
    write_pg_graph "$WORK/pg_fd_replace.json" orders filter_dedupe replace

    log "(a) psql | psql"
    EXPECT=$all
    timed "a_psql_text" "$N" "$R" prep_dst verify_dst \
        'psql -X -q -d src -c "COPY orders TO STDOUT" | psql -X -q -d dst -c "COPY orders FROM STDIN"'
    timed "a_psql_binary" "$N" "$R" prep_dst verify_dst \
        'psql -X -q -d src -c "COPY orders TO STDOUT (FORMAT binary)" | psql -X -q -d dst -c "COPY orders FROM STDIN (FORMAT binary)"'

    log "(b)(c) ours"
    # Probe once: the postgres connector may not be there yet.
    prep_dst
    if ! "$DRIVER" "$WORK/pg_none.json" "$WORK/conns.json" "$FILES" >"$WORK/out" 2>"$WORK/err"; then
        echo "   ours PG → PG is not runnable: $(cat "$WORK/err")" >&2
        printf 'b_ours_pg\t%s\tPENDING\t0\t\t\n' "$N" >>"$RES"
        printf 'c_ours_pg_filter_dedupe\t%s\tPENDING\t0\t\t\n' "$N" >>"$RES"
    else
        EXPECT=$all
        timed "b_ours_pg" "$N" "$R" prep_dst verify_dst \
            "'$DRIVER' '$WORK/pg_none.json' '$WORK/conns.json' '$FILES'"
        EXPECT=$fd
        timed "c_ours_pg_filter_dedupe" "$N" "$R" prep_dst verify_dst \
            "'$DRIVER' '$WORK/pg_fd.json' '$WORK/conns.json' '$FILES'"
        timed "c_ours_pg_filter_dedupe_replace" "$N" "$R" prep_dst verify_dst \
            "'$DRIVER' '$WORK/pg_fd_replace.json' '$WORK/conns.json' '$FILES'"
    fi

    if [ "${PROFILE:-0}" = 1 ] && grep -q "^c_ours" "$RES" && ! grep -q PENDING "$RES"; then
        prep_dst
        profile c_ours_pg_filter_dedupe "$WORK/pg_fd.json"
        prep_dst
        profile b_ours_pg "$WORK/pg_none.json"
    fi

    log "(e) Node pg-copy-streams, filter + dedupe"
    EXPECT=$fd
    timed "e_node_filter_dedupe" "$N" "$R" prep_dst verify_dst \
        "SRC_DB=src DST_DB=dst node '$here/node_copy.mjs'"

    # pgloader's default 1 GB Lisp heap is exhausted intermittently at 2 M rows ("Heap
    # exhausted, game over"); 4 GB lets it finish (the peak RSS column shows what it used).
    log "(d) pgloader (slow)"
    cat >"$WORK/pgloader.load" <<EOF
LOAD DATABASE
  FROM pgsql://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/src
  INTO pgsql://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/dst
  WITH data only, truncate
  INCLUDING ONLY TABLE NAMES MATCHING 'orders' IN SCHEMA 'public';
EOF
    chmod 600 "$WORK/pgloader.load"
    EXPECT=$all
    timed "d_pgloader" "$N" "$R_SLOW" prep_dst verify_dst \
        "cd '$WORK' && pgloader --dynamic-space-size 4096 --no-ssl-cert-verification --root-dir '$WORK/pgloader' '$WORK/pgloader.load' </dev/null"

    if want mem; then
        log "mem: ours PG → filter → PG at N and 2N rows"
        local n2=$((N * 2))
        gen_table src orders2 "$n2"
        q dst "CREATE TABLE orders2 ($DDL)"
        write_pg_graph "$WORK/pg_f1.json" orders filter
        write_pg_graph "$WORK/pg_f2.json" orders2 filter
        if [ -x "$DRIVER" ] && grep -q b_ours_pg "$RES" && ! grep -q PENDING "$RES"; then
            EXPECT=$(expect_f orders)
            timed "m_ours_pg_filter_N" "$N" 1 prep_dst verify_dst \
                "'$DRIVER' '$WORK/pg_f1.json' '$WORK/conns.json' '$FILES'"
            DST_TABLE=orders2
            EXPECT=$(expect_f orders2)
            timed "m_ours_pg_filter_2N" "$n2" 1 prep_dst verify_dst \
                "'$DRIVER' '$WORK/pg_f2.json' '$WORK/conns.json' '$FILES'"
            DST_TABLE=orders
        fi
        psql -X -q -d src -c "COPY orders2 TO STDOUT (FORMAT csv, HEADER)" >"$FILES/orders2.csv"
    fi
}

# ---- CSV ----------------------------------------------------------------------------------------
# Without PostgreSQL the CSV is generated by awk with the same shape.
gen_csv_awk() { # gen_csv_awk FILE ROWS
    gawk -v n="$2" 'BEGIN {
        srand(42); split("pending paid shipped delivered cancelled", st, " ");
        print "order_id,customer_id,status,amount,order_date,note";
        base = 1767225600; # 2026-01-01
        for (i = 1; i <= n; i++) {
            id = (i % 10 == 0) ? 1 + int(rand() * (i - 1)) : i;
            t = base + int(rand() * 60 * 86400 * 1000000) / 1000000;
            s = int(t); us = int((t - s) * 1000000 + 0.5); if (us > 999999) us = 999999;
            printf "%d,%d,%s,%.2f,%s.%06d+00,%08x%08x%08x%08x\n", id, 1 + int(rand() * 100000),
                st[1 + int(rand() * 5)], rand() * 2000, strftime("%Y-%m-%d %H:%M:%S", s, 1), us,
                rand() * 4294967295, rand() * 4294967295, rand() * 4294967295, rand() * 4294967295;
        }
    }' >"$1"
}

csv_expect() { # csv_expect FILE dedupe(1|0) → "count distinct"
    awk -F, -v d="$2" 'NR > 1 && $3 != "cancelled" { if (d == 1) { if (!($1 in s)) { s[$1] = 1; c++ } } else { c++; s[$1] = 1 } }
        END { n = 0; for (k in s) n++; print c + 0, n }' "$1"
}
CSV_EXPECT=""
CSV_OUT=""
prep_csv() { rm -f "$CSV_OUT"; }
verify_csv() {
    local got
    got=$(awk -F, 'NR > 1 { c++; s[$1] = 1 } END { n = 0; for (k in s) n++; print c + 0, n }' "$CSV_OUT")
    [ "$got" = "$CSV_EXPECT" ] || die "$1: $CSV_OUT has (rows distinct) $got, expected $CSV_EXPECT"
}

write_csv_graph() { # write_csv_graph FILE IN OUT dedupe(1|0)
    local nodes edges
    nodes="{\"id\":\"src\",\"kind\":\"source\",\"type\":\"csv\",\"connection_id\":\"conn_files\",\"config\":{\"file\":\"$2\"}}"
    nodes+=",{\"id\":\"keep\",\"kind\":\"transform\",\"type\":\"filter\",\"config\":{\"condition\":\"status <> 'cancelled'\"}}"
    edges="{\"from\":\"src\",\"to\":\"keep\"},"
    local last=keep
    if [ "$4" = 1 ]; then
        nodes+=",{\"id\":\"dedupe\",\"kind\":\"transform\",\"type\":\"dedupe\",\"config\":{\"keys\":[\"order_id\"]}}"
        edges+="{\"from\":\"keep\",\"to\":\"dedupe\"},"
        last=dedupe
    fi
    nodes+=",{\"id\":\"load\",\"kind\":\"destination\",\"type\":\"csv\",\"connection_id\":\"conn_files\",\"config\":{\"file\":\"$3\",\"mode\":\"replace\"}}"
    edges+="{\"from\":\"$last\",\"to\":\"load\"}"
    echo "{\"nodes\":[$nodes],\"edges\":[$edges]}" >"$1"
}

run_csv() {
    if [ ! -s "$FILES/orders.csv" ]; then
        log "generating $N rows as CSV (awk)"
        gen_csv_awk "$FILES/orders.csv" "$N"
    fi
    [ -f "$WORK/conns.json" ] || echo '{"conn_files": {"path": "."}}' >"$WORK/conns.json"
    write_csv_graph "$WORK/csv_fd.json" orders.csv out_ours.csv 1
    local size
    size=$(stat -c %s "$FILES/orders.csv")
    echo "   orders.csv: $((size / 1048576)) MB" >&2
    CSV_EXPECT=$(csv_expect "$FILES/orders.csv" 1)
    log "(f) CSV → filter → dedupe → CSV: ours"
    CSV_OUT=$FILES/out_ours.csv
    timed "f_ours_csv" "$N" "$R" prep_csv verify_csv \
        "'$DRIVER' '$WORK/csv_fd.json' '$WORK/conns.json' '$FILES'"
    if [ "${PROFILE:-0}" = 1 ]; then
        prep_csv
        profile f_ours_csv "$WORK/csv_fd.json"
    fi
    log "(f) DuckDB"
    CSV_OUT=$FILES/out_duckdb.csv
    timed "f_duckdb_csv" "$N" "$R" prep_csv verify_csv \
        "node '$here/duckdb_csv.mjs' '$FILES/orders.csv' '$FILES/out_duckdb.csv'"
    rm -f "$FILES/out_duckdb.csv" "$FILES/out_ours.csv"
}

run_mem_csv() {
    log "mem: ours CSV → filter → CSV at N and 2N rows"
    local n2=$((N * 2))
    if [ ! -s "$FILES/orders2.csv" ]; then gen_csv_awk "$FILES/orders2.csv" "$n2"; fi
    write_csv_graph "$WORK/csv_f1.json" orders.csv out_f.csv 0
    write_csv_graph "$WORK/csv_f2.json" orders2.csv out_f.csv 0
    CSV_OUT=$FILES/out_f.csv
    CSV_EXPECT=$(csv_expect "$FILES/orders.csv" 0)
    timed "m_ours_csv_filter_N" "$N" 1 prep_csv verify_csv \
        "'$DRIVER' '$WORK/csv_f1.json' '$WORK/conns.json' '$FILES'"
    CSV_EXPECT=$(csv_expect "$FILES/orders2.csv" 0)
    timed "m_ours_csv_filter_2N" "$n2" 1 prep_csv verify_csv \
        "'$DRIVER' '$WORK/csv_f2.json' '$WORK/conns.json' '$FILES'"
    rm -f "$CSV_OUT"
}

if want pg; then run_pg; fi
if want csv; then run_csv; fi
if want mem; then run_mem_csv; fi

# ---- report ---------------------------------------------------------------------------------------
echo
echo "Engine throughput — $(date -u +%Y-%m-%dT%H:%MZ), N=$N, R=$R (medians), $(nproc) cores, $(uname -m)"
echo "reproduce: N=$N R=$R ONLY=$ONLY bench/engine/run.sh"
echo
printf '%-26s %9s %11s %12s %12s  %s\n' contestant "median s" "rows/s in" "peak RSS MB" "client CPU s" "runs (s)"
while IFS=$'\t' read -r name rows t m all c; do
    if [ "$t" = PENDING ]; then
        printf '%-26s %9s %11s %12s %12s  %s\n' "$name" pending - - - "connector not available"
        continue
    fi
    printf '%-26s %9.2f %11.0f %12.1f %12.2f  %s\n' "$name" "$t" "$(echo "$rows / $t" | bc -l)" \
        "$(echo "$m / 1024" | bc -l)" "$c" "$all"
done <"$RES"

t_of() { awk -F'\t' -v n="$1" '$1 == n && $3 != "PENDING" { print $3 }' "$RES"; }
ratio() { # ratio LABEL OURS ANCHOR GOAL: speed ratio = anchor time / our time
    local o a
    o=$(t_of "$2")
    a=$(t_of "$3")
    if [ -z "$o" ] || [ -z "$a" ]; then
        printf '  %-44s %s\n' "$1" "n/a (not measured)"
        return
    fi
    local r
    r=$(echo "$a / $o" | bc -l)
    printf '  %-44s %6.2fx   goal >= %s  %s\n' "$1" "$r" "$4" \
        "$(echo "$r >= $4" | bc -l | sed 's/1/MET/;s/0/missed/')"
}
echo
echo "Ratios (anchor time / our time; >1 means we are faster):"
ratio "(c) filter+dedupe vs (a) psql|psql text" c_ours_pg_filter_dedupe a_psql_text 0.9
ratio "(b) no transform vs (a) psql|psql text" b_ours_pg a_psql_text 0.9
ratio "(c) filter+dedupe vs (a) psql|psql binary" c_ours_pg_filter_dedupe a_psql_binary 0
ratio "(c) filter+dedupe vs (d) pgloader" c_ours_pg_filter_dedupe d_pgloader 10
ratio "(c, mode replace = truncate) vs (d) pgloader" c_ours_pg_filter_dedupe_replace d_pgloader 10
ratio "(c) filter+dedupe vs (e) Node pg-copy-streams" c_ours_pg_filter_dedupe e_node_filter_dedupe 2
ratio "(f) CSV ours vs DuckDB" f_ours_csv f_duckdb_csv 1
for p in m_ours_pg_filter m_ours_csv_filter; do
    a=$(awk -F'\t' -v n="${p}_N" '$1 == n { print $4 }' "$RES")
    b=$(awk -F'\t' -v n="${p}_2N" '$1 == n { print $4 }' "$RES")
    if [ -n "$a" ] && [ -n "$b" ]; then
        printf '  %-44s %.1f MB at N, %.1f MB at 2N (ratio %.2f)\n' "peak RSS, $p" \
            "$(echo "$a / 1024" | bc -l)" "$(echo "$b / 1024" | bc -l)" "$(echo "$b / $a" | bc -l)"
    fi
done
echo
echo "Our runs, per node (last run; duration_ms is time spent inside the node):"
for f in "$WORK"/out.b_* "$WORK"/out.c_* "$WORK"/out.f_ours*; do
    [ -f "$f" ] || continue
    echo "  ${f##*/out.}: $(tail -n 1 "$f")"
done
for f in "$WORK"/profile.*; do
    [ -f "$f" ] || continue
    echo
    echo "perf profile of ours, ${f##*/profile.} (self time, symbols over 1.5 %):"
    cat "$f"
done
