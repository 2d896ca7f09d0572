/* Typed graph operations: see ops.h. */
#include "planner/ops.h"

#include "base/err.h"
#include "base/json.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The graph being built: arrays holding the input graph's own nodes and edges (shared) and the
 * new ones. */
struct work {
    struct json_object *nodes, *edges; /* owned arrays */
};

static int find_node(const struct work *w, const char *id)
{
    for (size_t i = 0; id && i < json_object_array_length(w->nodes); i++) {
        const char *nid = px_json_get_str(json_object_array_get_idx(w->nodes, i), "id");
        if (nid && strcmp(nid, id) == 0)
            return (int)i;
    }
    return -1;
}

static struct json_object *edge(const char *from, const char *to)
{
    struct json_object *e = json_object_new_object();
    px_json_set_str(e, "from", from);
    px_json_set_str(e, "to", to);
    return e;
}

static bool edge_is(struct json_object *e, const char *from, const char *to)
{
    const char *f = px_json_get_str(e, "from"), *t = px_json_get_str(e, "to");
    return f && t && (!from || strcmp(f, from) == 0) && (!to || strcmp(t, to) == 0);
}

/* Removes the edges from → to (NULL: any end); the others are kept, shared. */
static void filter_edges(struct work *w, const char *from, const char *to)
{
    struct json_object *kept = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(w->edges); i++) {
        struct json_object *e = json_object_array_get_idx(w->edges, i);
        if (!edge_is(e, from, to))
            json_object_array_add(kept, json_object_get(e));
    }
    json_object_put(w->edges);
    w->edges = kept;
}

static int op_error(size_t i, struct px_error *err, const char *what, const char *name)
{
    int rc = px_error_set(err, PX_EINVALID, "operations[%zu]: %s%s%s%s", i, what, name ? " '" : "",
                          name ? name : "", name ? "'" : "");
    char field[48];
    snprintf(field, sizeof(field), "operations[%zu]", i);
    px_error_field(err, field);
    return rc;
}

/* A copy of node with an id: its own, or a readable one from its type not taken yet. */
static int node_with_id(const struct work *w, size_t i, struct json_object *node,
                        struct json_object **out, struct px_error *err)
{
    if (!node || !json_object_is_type(node, json_type_object))
        return op_error(i, err, "\"node\" must be an object", NULL);
    struct json_object *n = NULL;
    if (json_object_deep_copy(node, &n, NULL) != 0)
        return px_error_set(err, PX_ENOMEM, "out of memory");
    const char *id = px_json_get_str(n, "id");
    if (id) {
        if (find_node(w, id) >= 0) {
            int rc = op_error(i, err, "the graph already has a node", id); /* id is in n */
            json_object_put(n);
            return rc;
        }
    } else {
        const char *type = px_json_get_str(n, "type");
        char base[64], cand[80];
        snprintf(base, sizeof(base), "%s", type && *type ? type : "node");
        snprintf(cand, sizeof(cand), "%s", base);
        for (int k = 2; find_node(w, cand) >= 0; k++)
            snprintf(cand, sizeof(cand), "%s_%d", base, k);
        px_json_set_str(n, "id", cand);
    }
    *out = n;
    return 0;
}

static int apply_one(struct work *w, size_t i, struct json_object *op, struct px_error *err)
{
    const char *kind = px_json_get_str(op, "op");
    const char *target = px_json_get_str(op, "target");
    if (!kind)
        return op_error(i, err, "\"op\" is required", NULL);
    bool needs_target = strcmp(kind, "insert_before") == 0 || strcmp(kind, "insert_after") == 0 ||
                        strcmp(kind, "remove_node") == 0 || strcmp(kind, "set_config") == 0;
    int t = needs_target ? find_node(w, target) : -1;
    if (needs_target && t < 0)
        return op_error(i, err, target ? "the graph has no node" : "\"target\" is required",
                        target);
    if (strcmp(kind, "add_node") == 0 || strcmp(kind, "insert_before") == 0 ||
        strcmp(kind, "insert_after") == 0) {
        struct json_object *n = NULL;
        int rc = node_with_id(w, i, px_json_get(op, "node"), &n, err);
        if (rc)
            return rc;
        const char *nid = px_json_get_str(n, "id");
        json_object_array_add(w->nodes, n);
        if (strcmp(kind, "add_node") == 0)
            return 0;
        bool before = kind[7] == 'b';
        struct json_object *edges = json_object_new_array();
        bool wired = false;
        for (size_t k = 0; k < json_object_array_length(w->edges); k++) {
            struct json_object *e = json_object_array_get_idx(w->edges, k);
            if (before ? edge_is(e, NULL, target) : edge_is(e, target, NULL)) {
                const char *other = px_json_get_str(e, before ? "from" : "to");
                if (before) {
                    json_object_array_add(edges, edge(other, nid));
                    if (!wired)
                        json_object_array_add(edges, edge(nid, target));
                } else {
                    if (!wired)
                        json_object_array_add(edges, edge(target, nid));
                    json_object_array_add(edges, edge(nid, other));
                }
                wired = true;
            } else {
                json_object_array_add(edges, json_object_get(e));
            }
        }
        if (!wired) /* no edge there yet: the node goes right before or after the target */
            json_object_array_add(edges, before ? edge(nid, target) : edge(target, nid));
        json_object_put(w->edges);
        w->edges = edges;
        return 0;
    }
    if (strcmp(kind, "remove_node") == 0) {
        struct json_object *ins = json_object_new_array(), *outs = json_object_new_array();
        for (size_t k = 0; k < json_object_array_length(w->edges); k++) {
            struct json_object *e = json_object_array_get_idx(w->edges, k);
            if (edge_is(e, NULL, target))
                json_object_array_add(ins, json_object_new_string(px_json_get_str(e, "from")));
            if (edge_is(e, target, NULL))
                json_object_array_add(outs, json_object_new_string(px_json_get_str(e, "to")));
        }
        filter_edges(w, target, NULL);
        filter_edges(w, NULL, target);
        for (size_t a = 0; a < json_object_array_length(ins); a++)
            for (size_t b = 0; b < json_object_array_length(outs); b++)
                json_object_array_add(
                    w->edges, edge(json_object_get_string(json_object_array_get_idx(ins, a)),
                                   json_object_get_string(json_object_array_get_idx(outs, b))));
        json_object_put(ins);
        json_object_put(outs);
        json_object_array_del_idx(w->nodes, (size_t)t, 1);
        return 0;
    }
    if (strcmp(kind, "set_config") == 0) {
        struct json_object *config = px_json_get(op, "config");
        if (!config || !json_object_is_type(config, json_type_object))
            return op_error(i, err, "\"config\" must be an object", NULL);
        struct json_object *n = NULL, *c = NULL;
        if (json_object_deep_copy(json_object_array_get_idx(w->nodes, (size_t)t), &n, NULL) ||
            json_object_deep_copy(config, &c, NULL)) {
            json_object_put(n);
            return px_error_set(err, PX_ENOMEM, "out of memory");
        }
        px_json_set(n, "config", c);
        json_object_array_put_idx(w->nodes, (size_t)t, n);
        return 0;
    }
    if (strcmp(kind, "connect") == 0 || strcmp(kind, "disconnect") == 0) {
        const char *from = px_json_get_str(op, "from"), *to = px_json_get_str(op, "to");
        if (find_node(w, from) < 0)
            return op_error(i, err, from ? "the graph has no node" : "\"from\" is required", from);
        if (find_node(w, to) < 0)
            return op_error(i, err, to ? "the graph has no node" : "\"to\" is required", to);
        filter_edges(w, from, to);
        if (kind[0] == 'c')
            json_object_array_add(w->edges, edge(from, to));
        return 0;
    }
    return op_error(i, err, "unknown op", kind);
}

int px_graph_apply(struct json_object *graph, struct json_object *ops, struct json_object **out,
                   struct px_error *err)
{
    *out = NULL;
    if (!ops || !json_object_is_type(ops, json_type_array))
        return px_error_set(err, PX_EINVALID, "operations must be an array");
    struct work w = {json_object_new_array(), json_object_new_array()};
    struct json_object *gn = graph ? px_json_get(graph, "nodes") : NULL;
    struct json_object *ge = graph ? px_json_get(graph, "edges") : NULL;
    for (size_t i = 0; gn && i < json_object_array_length(gn); i++)
        json_object_array_add(w.nodes, json_object_get(json_object_array_get_idx(gn, i)));
    for (size_t i = 0; ge && i < json_object_array_length(ge); i++)
        json_object_array_add(w.edges, json_object_get(json_object_array_get_idx(ge, i)));
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < json_object_array_length(ops); i++) {
        struct json_object *op = json_object_array_get_idx(ops, i);
        rc = json_object_is_type(op, json_type_object)
                 ? apply_one(&w, i, op, err)
                 : op_error(i, err, "must be an object", NULL);
    }
    if (rc) {
        json_object_put(w.nodes);
        json_object_put(w.edges);
        return rc;
    }
    struct json_object *g = json_object_new_object();
    px_json_set(g, "nodes", w.nodes);
    px_json_set(g, "edges", w.edges);
    *out = g;
    return 0;
}
