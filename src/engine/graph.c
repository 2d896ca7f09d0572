/*
 * Pipeline graph validation (see graph.h). Checks run cheapest first and stop at the first
 * problem: the JSON shape (a schema), then each node (id, kind, catalog type, connection_id
 * presence, config against the catalog schema), then edges, acyclicity, input and output
 * counts, and last the connection lookups (which may hit the store). Every message names the
 * path and says what is expected. Does not plan or execute anything.
 *
 * Connectivity rule: every source and transform must have an outgoing edge and every
 * transform and destination its inputs; with no cycles, that means every node lies on a path
 * from a source to a destination (nothing dangles, nothing is computed for nobody).
 */
#include "engine/graph.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/id.h"
#include "base/json.h"
#include "base/mem.h"
#include "base/schema.h"
#include "base/text.h"
#include "engine/catalog.h"
#include "engine/expr/expr.h"
#include "engine/connectors/fsroot.h"
#include "engine/connectors/sqlcheck.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ECHO_MAX 40 /* bytes of a user string echoed back in a message */
#define STR_(x) #x
#define STR(x) STR_(x)

/* The graph's shape; ids, types and configs are checked in C for better messages. */
static const char shape_text[] =
    "{\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"nodes\", \"edges\"],"
    " \"properties\": {"
    "  \"nodes\": {\"type\": \"array\", \"maxItems\": " STR(
        PX_GRAPH_MAX_NODES) ","
                            "   \"items\": {\"type\": \"object\", \"additionalProperties\": false,"
                            "    \"required\": [\"id\", \"kind\", \"type\"],"
                            "    \"properties\": {"
                            "     \"id\": {\"type\": \"string\"},"
                            "     \"kind\": {\"type\": \"string\", \"enum\": [\"source\", "
                            "\"transform\", \"destination\"]},"
                            "     \"type\": {\"type\": \"string\", \"minLength\": 1},"
                            "     \"connection_id\": {\"type\": \"string\", \"minLength\": 1},"
                            "     \"config\": {\"type\": \"object\"},"
                            "     \"name\": {\"type\": \"string\", \"maxLength\": 200}}}},"
                            "  \"edges\": {\"type\": \"array\", \"maxItems\": " STR(
                                PX_GRAPH_MAX_EDGES) ","
                                                    "   \"items\": {\"type\": \"object\", "
                                                    "\"additionalProperties\": false,"
                                                    "    \"required\": [\"from\", \"to\"],"
                                                    "    \"properties\": {\"from\": {\"type\": "
                                                    "\"string\"}, \"to\": {\"type\": "
                                                    "\"string\"}}}}}}";

static struct json_object *shape;
static pthread_once_t shape_once = PTHREAD_ONCE_INIT;

static void shape_init(void)
{
    shape = px_json_parse(shape_text, sizeof(shape_text) - 1, 32, NULL);
    if (shape && px_schema_check(shape, NULL) < 0) {
        json_object_put(shape);
        shape = NULL;
    }
}

struct gnode {
    const char *id;                /* borrowed from the graph */
    enum px_node_kind kind;        /* parsed "kind" */
    const struct px_node_type *nt; /* catalog entry */
    const char *conn;              /* connection_id, or NULL for transforms */
    int in, out;                   /* edge counts */
    bool removed;                  /* cycle check: already taken off in topological order */
};

struct gedge {
    size_t from, to; /* node indexes */
};

/* Fails with PX_EINVALID: message "<field>: <what>", err->field = field. */
__attribute__((format(printf, 3, 4))) static int gfail(struct px_error *err, const char *field,
                                                       const char *fmt, ...)
{
    char msg[448];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int rc = px_error_set(err, PX_EINVALID, "%s: %s", field, msg);
    px_error_field(err, field);
    return rc;
}

/* A user string cut for a message, with "..." when cut. Owned. */
static char *echo(const char *s)
{
    bool cut = false;
    char *c = px_text_clean(s, ECHO_MAX, &cut);
    if (!cut)
        return c;
    size_t n = strlen(c);
    char *t = px_xmalloc(n + 4);
    memcpy(t, c, n);
    memcpy(t + n, "...", 4);
    free(c);
    return t;
}

static bool valid_node_id(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 63 || s[0] < 'a' || s[0] > 'z')
        return false;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

static int check_type(size_t i, enum px_node_kind kind, const char *type,
                      const struct px_node_type **out, struct px_error *err)
{
    char field[64];
    snprintf(field, sizeof(field), "graph.nodes[%zu].type", i);
    *out = px_catalog_node_type(kind, type);
    if (*out)
        return 0;
    const char *kname = px_node_kind_name(kind);
    char *t = echo(type);
    int rc;
    const struct px_conn_type *ct = px_catalog_conn_type(type);
    if (ct && kind != PX_NODE_TRANSFORM) {
        rc = gfail(err, field, "%s connections cannot be a %s (they are %s only); %s types: %s", t,
                   kname, ct->can_source ? "source" : "destination", kname,
                   px_catalog_node_type_names(kind));
    } else if (kind != PX_NODE_TRANSFORM && px_catalog_node_type(PX_NODE_TRANSFORM, type)) {
        rc = gfail(err, field, "'%s' is a transform type, not a %s type (%s types: %s)", t, kname,
                   kname, px_catalog_node_type_names(kind));
    } else if (kind == PX_NODE_TRANSFORM && ct) {
        rc = gfail(err, field,
                   "'%s' is a connection type; use kind \"source\" or \"destination\" for it "
                   "(transform types: %s)",
                   t, px_catalog_node_type_names(kind));
    } else {
        rc = gfail(err, field, "unknown %s type '%s' (valid: %s)", kname, t,
                   px_catalog_node_type_names(kind));
    }
    free(t);
    return rc;
}

/* Rules the schema subset cannot state. */
static int check_config_extra(size_t i, const struct gnode *n, struct json_object *config,
                              struct px_error *err)
{
    char field[64];
    const char *file = px_json_get_str(config, "file");
    if (file && n->kind != PX_NODE_TRANSFORM) {
        /* csv / jsonl: the file inside the connection's directory (engine/connectors/fsroot.h) */
        struct px_error ferr;
        px_error_clear(&ferr);
        if (px_fsroot_check_rel("file", file, &ferr) < 0) {
            snprintf(field, sizeof(field), "graph.nodes[%zu].config.file", i);
            int rc = gfail(err, field, "%s", ferr.message);
            px_error_hint(err, "%s", ferr.hint);
            return rc;
        }
    }
    if (n->kind == PX_NODE_DESTINATION) {
        const char *mode = px_json_get_str(config, "mode");
        bool upsert = mode && strcmp(mode, "upsert") == 0;
        bool keys = json_object_object_get_ex(config, "keys", NULL);
        if (upsert && !keys) {
            snprintf(field, sizeof(field), "graph.nodes[%zu].config", i);
            int rc = gfail(err, field,
                           "missing required property 'keys' (mode \"upsert\" needs the columns "
                           "that identify a row)");
            snprintf(field, sizeof(field), "graph.nodes[%zu].config.keys", i);
            px_error_field(err, field);
            return rc;
        }
        if (keys && !upsert) {
            snprintf(field, sizeof(field), "graph.nodes[%zu].config.keys", i);
            return gfail(err, field,
                         "only used with mode \"upsert\" (mode is \"%s\"); remove keys or set "
                         "mode to \"upsert\"",
                         mode ? mode : "append");
        }
    }
    /* A SQL source's query must only read (engine/connectors/sqlcheck.h), known before anything
     * runs. */
    const char *query = px_json_get_str(config, "query");
    if (n->kind == PX_NODE_SOURCE && query && px_sqlcheck_dialect(n->nt->type) != PX_SQL_NONE) {
        struct px_error qerr;
        px_error_clear(&qerr);
        if (px_sqlcheck_source(px_sqlcheck_dialect(n->nt->type), query, NULL, &qerr) < 0) {
            snprintf(field, sizeof(field), "graph.nodes[%zu].config.query", i);
            int rc = gfail(err, field, "%s", qerr.message);
            if (qerr.hint[0])
                px_error_hint(err, "%s", qerr.hint);
            return rc;
        }
    }
    if (n->kind == PX_NODE_TRANSFORM &&
        (strcmp(n->nt->type, "filter") == 0 || strcmp(n->nt->type, "derive") == 0)) {
        const char *prop = strcmp(n->nt->type, "filter") == 0 ? "condition" : "expression";
        struct px_expr *ex = NULL;
        struct px_error perr;
        px_error_clear(&perr);
        if (px_expr_parse(px_json_get_str(config, prop), &ex, &perr) != 0) {
            snprintf(field, sizeof(field), "graph.nodes[%zu].config.%s", i, prop);
            int rc = gfail(err, field, "%s", perr.message);
            if (perr.hint[0])
                px_error_hint(err, "%s", perr.hint);
            return rc;
        }
        px_expr_free(ex);
    }
    if (n->kind == PX_NODE_TRANSFORM && strcmp(n->nt->type, "join") == 0) {
        size_t l = json_object_array_length(px_json_get(config, "left_keys"));
        size_t r = json_object_array_length(px_json_get(config, "right_keys"));
        if (l != r) {
            snprintf(field, sizeof(field), "graph.nodes[%zu].config.right_keys", i);
            return gfail(err, field,
                         "must list as many columns as left_keys (%zu), got %zu; keys are "
                         "matched by position",
                         l, r);
        }
    }
    return 0;
}

static int check_node(size_t i, struct json_object *node, struct gnode *nodes, struct px_error *err)
{
    struct gnode *n = &nodes[i];
    char field[64];
    n->id = px_json_get_str(node, "id");
    if (!valid_node_id(n->id)) {
        snprintf(field, sizeof(field), "graph.nodes[%zu].id", i);
        char *t = echo(n->id);
        int rc = gfail(err, field,
                       "must start with a lowercase letter and contain only lowercase letters, "
                       "digits and underscores (at most 63 characters), got \"%s\"",
                       t);
        free(t);
        return rc;
    }
    for (size_t j = 0; j < i; j++)
        if (strcmp(nodes[j].id, n->id) == 0) {
            snprintf(field, sizeof(field), "graph.nodes[%zu].id", i);
            return gfail(err, field, "duplicate node id '%s' (also used by graph.nodes[%zu])",
                         n->id, j);
        }
    n->kind = (enum px_node_kind)px_node_kind_parse(px_json_get_str(node, "kind"));
    int rc = check_type(i, n->kind, px_json_get_str(node, "type"), &n->nt, err);
    if (rc < 0)
        return rc;
    n->conn = px_json_get_str(node, "connection_id");
    if (n->nt->needs_connection && !n->conn) {
        snprintf(field, sizeof(field), "graph.nodes[%zu]", i);
        rc = gfail(err, field,
                   "missing required property 'connection_id' (a %s node needs the id of a %s "
                   "connection)",
                   px_node_kind_name(n->kind), n->nt->type);
        snprintf(field, sizeof(field), "graph.nodes[%zu].connection_id", i);
        px_error_field(err, field);
        return rc;
    }
    if (!n->nt->needs_connection && json_object_object_get_ex(node, "connection_id", NULL)) {
        snprintf(field, sizeof(field), "graph.nodes[%zu].connection_id", i);
        return gfail(err, field, "a transform does not use a connection; remove connection_id");
    }
    struct json_object *config = px_json_get(node, "config");
    struct json_object *empty = config ? NULL : json_object_new_object();
    snprintf(field, sizeof(field), "graph.nodes[%zu].config", i);
    rc = px_schema_validate(n->nt->config_schema, config ? config : empty, field, err);
    if (rc == 0)
        rc = check_config_extra(i, n, config ? config : empty, err);
    json_object_put(empty);
    return rc;
}

/* Node ids for a hint, cut when long. */
static void node_id_list(const struct gnode *nodes, size_t n, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && len + 1 < cap; i++) {
        if (len > 200) {
            snprintf(out + len, cap - len, ", ...");
            return;
        }
        int w = snprintf(out + len, cap - len, "%s%s", i ? ", " : "", nodes[i].id);
        if (w < 0 || (size_t)w >= cap - len)
            return;
        len += (size_t)w;
    }
}

static int find_node(const struct gnode *nodes, size_t n, const char *id, size_t j, const char *end,
                     size_t *out, struct px_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(nodes[i].id, id) == 0) {
            *out = i;
            return 0;
        }
    char field[64], ids[300];
    snprintf(field, sizeof(field), "graph.edges[%zu].%s", j, end);
    node_id_list(nodes, n, ids, sizeof(ids));
    char *t = echo(id);
    int rc = gfail(err, field, "no node has id '%s' (node ids: %s)", t, ids);
    free(t);
    return rc;
}

static int check_edges(struct json_object *edges, struct gnode *nodes, size_t n, struct gedge *ge,
                       struct px_error *err)
{
    size_t m = json_object_array_length(edges);
    char field[64];
    for (size_t j = 0; j < m; j++) {
        struct json_object *e = json_object_array_get_idx(edges, j);
        size_t from = 0, to = 0;
        int rc = find_node(nodes, n, px_json_get_str(e, "from"), j, "from", &from, err);
        if (rc == 0)
            rc = find_node(nodes, n, px_json_get_str(e, "to"), j, "to", &to, err);
        if (rc < 0)
            return rc;
        snprintf(field, sizeof(field), "graph.edges[%zu]", j);
        if (from == to)
            return gfail(err, field, "an edge cannot connect node '%s' to itself", nodes[from].id);
        for (size_t k = 0; k < j; k++)
            if (ge[k].from == from && ge[k].to == to)
                return gfail(err, field, "duplicate of graph.edges[%zu] (%s -> %s)", k,
                             nodes[from].id, nodes[to].id);
        if (nodes[to].kind == PX_NODE_SOURCE) {
            snprintf(field, sizeof(field), "graph.edges[%zu].to", j);
            return gfail(err, field,
                         "node '%s' is a source; sources have no incoming edges (edges go from "
                         "sources toward destinations)",
                         nodes[to].id);
        }
        if (nodes[from].kind == PX_NODE_DESTINATION) {
            snprintf(field, sizeof(field), "graph.edges[%zu].from", j);
            return gfail(err, field,
                         "node '%s' is a destination; destinations have no outgoing edges",
                         nodes[from].id);
        }
        ge[j] = (struct gedge){from, to};
        nodes[from].out++;
        nodes[to].in++;
    }
    return 0;
}

/* Kahn's algorithm; on a cycle, names one node on it and the cycle itself. */
static int check_acyclic(struct gnode *nodes, size_t n, const struct gedge *ge, size_t m,
                         struct px_error *err)
{
    int *indeg = px_xcalloc(n, sizeof(*indeg));
    size_t *queue = px_xcalloc(n, sizeof(*queue));
    size_t head = 0, tail = 0;
    for (size_t i = 0; i < n; i++)
        if ((indeg[i] = nodes[i].in) == 0)
            queue[tail++] = i;
    while (head < tail) {
        size_t x = queue[head++];
        nodes[x].removed = true;
        for (size_t j = 0; j < m; j++)
            if (ge[j].from == x && --indeg[ge[j].to] == 0)
                queue[tail++] = ge[j].to;
    }
    free(queue);
    free(indeg);
    if (tail == n)
        return 0;

    /* Every remaining node has a remaining predecessor; walking back n steps from any of
     * them lands on a cycle. */
    size_t x = 0;
    while (nodes[x].removed)
        x++;
    size_t *pred = px_xcalloc(n, sizeof(*pred));
    for (size_t i = 0; i < n; i++)
        pred[i] = SIZE_MAX;
    for (size_t j = 0; j < m; j++)
        if (!nodes[ge[j].from].removed && pred[ge[j].to] == SIZE_MAX)
            pred[ge[j].to] = ge[j].from;
    for (size_t k = 0; k < n; k++)
        x = pred[x];
    /* The cycle backwards from x is x <- pred(x) <- ...; forwards it is x, then that list
     * reversed. Report it from its first node in node order, so the message is stable. */
    size_t *back = px_xcalloc(n + 1, sizeof(*back)), len = 0;
    size_t y = x;
    do {
        back[len++] = y;
        y = pred[y];
    } while (y != x && len < n);
    size_t *fwd = px_xcalloc(len, sizeof(*fwd)), start = 0;
    fwd[0] = x;
    for (size_t k = 1; k < len; k++)
        fwd[k] = back[len - k];
    for (size_t k = 1; k < len; k++)
        if (fwd[k] < fwd[start])
            start = k;
    x = fwd[start];
    struct px_buf b;
    px_buf_init(&b, 300);
    for (size_t k = 0; k < len; k++)
        if (px_buf_printf(&b, "%s -> ", nodes[fwd[(start + k) % len]].id) < 0)
            break;
    px_buf_printf(&b, "%s", nodes[x].id);
    char field[64];
    snprintf(field, sizeof(field), "graph.nodes[%zu]", x);
    int rc = gfail(err, field,
                   "node '%s' is on a cycle (%s); a pipeline graph must be acyclic, so remove "
                   "one of these edges",
                   nodes[x].id, b.data ? b.data : "");
    px_buf_cleanup(&b);
    free(fwd);
    free(back);
    free(pred);
    return rc;
}

static int check_degrees(const struct gnode *nodes, size_t n, struct px_error *err)
{
    char field[64];
    for (size_t i = 0; i < n; i++) {
        const struct gnode *g = &nodes[i];
        const char *kname = px_node_kind_name(g->kind);
        snprintf(field, sizeof(field), "graph.nodes[%zu]", i);
        if (g->kind != PX_NODE_DESTINATION && g->out == 0) {
            if (g->kind == PX_NODE_SOURCE)
                return gfail(err, field,
                             "source '%s' is not connected; add an edge from it to a "
                             "transform or a destination, or remove it",
                             g->id);
            return gfail(err, field,
                         "the output of transform '%s' is not used; add an edge from it "
                         "toward a destination, or remove it",
                         g->id);
        }
        if (g->kind == PX_NODE_SOURCE)
            continue;
        int lo = g->nt->min_inputs, hi = g->nt->max_inputs;
        if (g->in >= lo && g->in <= hi)
            continue;
        if (g->in == 0)
            return gfail(err, field, "%s '%s' has no input; add an edge into it", kname, g->id);
        char takes[64];
        if (lo == hi)
            snprintf(takes, sizeof(takes), "exactly %d %s", lo, lo == 1 ? "input" : "inputs");
        else
            snprintf(takes, sizeof(takes), "%d to %d inputs", lo, hi);
        const char *advice =
            g->in > hi && hi == 1 ? "; combine inputs with a union or join transform first" : "";
        return gfail(err, field, "%s '%s' (%s) takes %s, got %d%s", kname, g->id, g->nt->type,
                     takes, g->in, advice);
    }
    return 0;
}

/* A connection seen in the graph, looked up once. */
struct gconn {
    const char *id; /* borrowed from the graph */
    char type[32];  /* from the lookup */
    char category[16];
};

static int check_connection(size_t i, const struct gnode *g, struct gconn *conns, size_t *nconns,
                            px_conn_lookup_fn lookup, void *lookup_ctx, struct px_error *err)
{
    char field[64];
    snprintf(field, sizeof(field), "graph.nodes[%zu].connection_id", i);
    struct gconn *c = NULL;
    for (size_t k = 0; k < *nconns; k++)
        if (strcmp(conns[k].id, g->conn) == 0)
            c = &conns[k];
    if (!c) {
        int kind = px_id_kind_of(g->conn);
        if (kind >= 0 && kind != PX_ID_CONN) {
            char *t = echo(g->conn);
            const char *kn = px_id_kind_name((enum px_id_kind)kind);
            int rc =
                gfail(err, field, "'%s' is %s %s id, not a connection id (those start with %s)", t,
                      strchr("AEIOUaeiou", kn[0]) ? "an" : "a", kn, px_id_prefix(PX_ID_CONN));
            free(t);
            return rc;
        }
        c = &conns[(*nconns)++];
        memset(c, 0, sizeof(*c));
        c->id = g->conn;
        if (lookup) {
            int rc = lookup(lookup_ctx, g->conn, c->type, c->category);
            c->type[sizeof(c->type) - 1] = '\0';
            c->category[sizeof(c->category) - 1] = '\0';
            if (rc == -PX_ENOTFOUND)
                return gfail(err, field, "connection not found in this organization");
            if (rc < 0) {
                rc = px_error_set(err, rc, "%s: could not look up the connection", field);
                px_error_field(err, field);
                return rc;
            }
        }
    }
    if (!lookup)
        return 0;
    const char *kname = px_node_kind_name(g->kind);
    if (strcmp(c->type, g->nt->type) != 0)
        return gfail(err, field,
                     "connection %s is a %s connection but node '%s' has type %s; use a %s "
                     "connection or set the node type to %s",
                     c->id, c->type, g->id, g->nt->type, g->nt->type, c->type);
    if (strcmp(c->category, kname) != 0)
        return gfail(err, field,
                     "connection %s is a %s connection and cannot be %s by %s node '%s'; use a "
                     "%s connection of type %s",
                     c->id, c->category, g->kind == PX_NODE_SOURCE ? "read" : "written to", kname,
                     g->id, kname, g->nt->type);
    return 0;
}

int px_graph_validate(struct json_object *graph, px_conn_lookup_fn lookup, void *lookup_ctx,
                      struct json_object **conn_ids_out, struct px_error *err)
{
    if (conn_ids_out)
        *conn_ids_out = NULL;
    int rc = px_catalog_init(err);
    if (rc < 0)
        return rc;
    pthread_once(&shape_once, shape_init);
    if (!shape)
        return px_error_set(err, PX_EINTERNAL, "graph shape schema does not parse");
    if ((rc = px_schema_validate(shape, graph, "graph", err)) < 0)
        return rc;

    struct json_object *jnodes = px_json_get(graph, "nodes");
    struct json_object *jedges = px_json_get(graph, "edges");
    size_t n = json_object_array_length(jnodes), m = json_object_array_length(jedges);
    struct gnode *nodes = px_xcalloc(n + 1, sizeof(*nodes));
    struct gedge *ge = px_xcalloc(m + 1, sizeof(*ge));
    struct gconn *conns = px_xcalloc(n + 1, sizeof(*conns));
    size_t nconns = 0;

    for (size_t i = 0; i < n; i++)
        if ((rc = check_node(i, json_object_array_get_idx(jnodes, i), nodes, err)) < 0)
            goto out;
    bool has_source = false, has_dest = false;
    for (size_t i = 0; i < n; i++) {
        has_source |= nodes[i].kind == PX_NODE_SOURCE;
        has_dest |= nodes[i].kind == PX_NODE_DESTINATION;
    }
    if (!has_source || !has_dest) {
        rc = gfail(err, "graph.nodes",
                   "a pipeline needs at least one source and one destination node; this graph "
                   "has no %s",
                   !has_source && !has_dest ? "source and no destination"
                   : !has_source            ? "source"
                                            : "destination");
        goto out;
    }
    if ((rc = check_edges(jedges, nodes, n, ge, err)) < 0 ||
        (rc = check_acyclic(nodes, n, ge, m, err)) < 0 || (rc = check_degrees(nodes, n, err)) < 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (nodes[i].conn &&
            (rc = check_connection(i, &nodes[i], conns, &nconns, lookup, lookup_ctx, err)) < 0)
            goto out;
    if (conn_ids_out) {
        *conn_ids_out = json_object_new_array();
        for (size_t k = 0; k < nconns; k++)
            json_object_array_add(*conn_ids_out, json_object_new_string(conns[k].id));
    }
out:
    free(conns);
    free(ge);
    free(nodes);
    return rc;
}
