/*
 * Benchmark driver for the pipeline engine: runs one graph through px_engine_run, the same
 * entry point service/runs.c uses, without the MCP server, the store or the scheduler around
 * it, so that bench/engine/run.sh measures engine throughput alone.
 *
 *   run_graph GRAPH.json CONNECTIONS.json FILES_ROOT [BATCH_ROWS]
 *
 * CONNECTIONS.json maps each connection_id of the graph to its params
 * ({"conn_src": {"host": ..., ...}, ...}). Prints "rows_read N rows_written M" and the per-node
 * report on stdout; exits 1 with the engine's error on stderr when the run fails.
 */
#include "base/err.h"
#include "base/json.h"
#include "engine/engine.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

static int resolve(void *ctx, const char *id, struct json_object **out, struct px_error *err)
{
    struct json_object *p = px_json_get(ctx, id);
    if (!p)
        return px_error_set(err, PX_ENOTFOUND, "connection '%s' is not in the connections file",
                            id);
    *out = json_object_get(p);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s GRAPH.json CONNECTIONS.json FILES_ROOT [BATCH_ROWS]\n", argv[0]);
        return 2;
    }
    struct json_object *graph = json_object_from_file(argv[1]);
    struct json_object *conns = json_object_from_file(argv[2]);
    if (!graph || !conns) {
        fprintf(stderr, "cannot read %s or %s as JSON\n", argv[1], argv[2]);
        return 2;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct px_engine_opts opts = {
        .conn = resolve,
        .conn_ctx = conns,
        .files_root = argv[3],
        .now_us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec,
        .batch_rows = argc > 4 ? strtoll(argv[4], NULL, 10) : 0,
    };
    struct px_engine_result res;
    struct px_error err;
    px_error_clear(&err);
    int rc = px_engine_run(graph, &opts, &res, &err);
    printf("rows_read %lld rows_written %lld\n", (long long)res.rows_read,
           (long long)res.rows_written);
    if (res.nodes)
        printf("%s\n", json_object_to_json_string_ext(res.nodes, JSON_C_TO_STRING_PLAIN));
    if (rc < 0)
        fprintf(stderr, "run failed (%s): %s%s%s\n", px_err_name(rc), err.message,
                err.hint[0] ? " — " : "", err.hint);
    px_engine_result_cleanup(&res);
    json_object_put(graph);
    json_object_put(conns);
    return rc < 0 ? 1 : 0;
}
