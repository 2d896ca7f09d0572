/*
 * Fuzz target: pipeline graph validation (src/engine/graph.c, with the catalog and the schema
 * validator under it). The input is parsed as JSON (the MCP nesting limit) and validated with
 * a fake connection lookup that knows two connections of the organization,
 *   conn_PostgresSource00000001  postgres, source
 *   conn_CsvDestination00000002  csv, destination
 * and once more with no lookup (the draft mode).
 *
 * Invariants besides memory safety: a refusal carries a message and, for -PX_EINVALID, a
 * field path under "graph"; success returns an array of distinct connection ids, each a
 * connection the lookup knows (or, without a lookup, each connection_id of the graph); the
 * lookup-free answer is never stricter than the full one.
 */
#include "fuzz.h"

#include "base/err.h"
#include "base/json.h"
#include "engine/graph.h"
#include "mcp/session.h"

#include <string.h>

#define SRC_ID "conn_PostgresSource00000001"
#define DST_ID "conn_CsvDestination00000002"

struct lookups {
    int calls;
};

static int fake_lookup(void *ctx, const char *id, char type_out[32], char category_out[16])
{
    struct lookups *l = ctx;
    l->calls++;
    FUZZ_CHECK(id != NULL);
    if (strcmp(id, SRC_ID) == 0) {
        snprintf(type_out, 32, "postgres");
        snprintf(category_out, 16, "source");
        return 0;
    }
    if (strcmp(id, DST_ID) == 0) {
        snprintf(type_out, 32, "csv");
        snprintf(category_out, 16, "destination");
        return 0;
    }
    return -PX_ENOTFOUND;
}

static void check_ids(struct json_object *ids, bool known_only)
{
    FUZZ_CHECK(json_object_is_type(ids, json_type_array));
    size_t n = json_object_array_length(ids);
    for (size_t i = 0; i < n; i++) {
        const char *a = json_object_get_string(json_object_array_get_idx(ids, i));
        FUZZ_CHECK(a != NULL);
        if (known_only)
            FUZZ_CHECK(strcmp(a, SRC_ID) == 0 || strcmp(a, DST_ID) == 0);
        for (size_t j = 0; j < i; j++)
            FUZZ_CHECK(strcmp(a, json_object_get_string(json_object_array_get_idx(ids, j))) != 0);
    }
}

static void check_refusal(int rc, const struct px_error *err)
{
    FUZZ_CHECK(rc < 0 && err->code == -rc && err->message[0] != '\0');
    if (rc == -PX_EINVALID)
        FUZZ_CHECK(strncmp(err->field, "graph", 5) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct px_error err;
    struct json_object *graph = px_json_parse((const char *)data, size, PX_MCP_MAX_DEPTH, &err);
    if (!graph)
        return 0;

    struct lookups l = {0};
    struct json_object *ids = NULL;
    px_error_clear(&err);
    int rc = px_graph_validate(graph, fake_lookup, &l, &ids, &err);
    if (rc == 0) {
        check_ids(ids, true);
        FUZZ_CHECK((size_t)l.calls == json_object_array_length(ids));
    } else {
        check_refusal(rc, &err);
    }
    json_object_put(ids);

    struct json_object *draft_ids = NULL;
    struct px_error derr;
    px_error_clear(&derr);
    int drc = px_graph_validate(graph, NULL, NULL, &draft_ids, &derr);
    if (drc == 0)
        check_ids(draft_ids, false);
    else
        check_refusal(drc, &derr);
    if (rc == 0)
        FUZZ_CHECK(drc == 0);
    json_object_put(draft_ids);

    FUZZ_CHECK(px_graph_validate(graph, fake_lookup, &l, NULL, NULL) == rc);
    json_object_put(graph);
    return 0;
}
