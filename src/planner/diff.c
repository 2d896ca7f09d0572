/* Graph differences: see diff.h. */
#include "planner/diff.h"

#include "base/json.h"

#include <stdbool.h>
#include <string.h>

static struct json_object *nodes_of(struct json_object *g)
{
    struct json_object *n = g ? px_json_get(g, "nodes") : NULL;
    return n && json_object_is_type(n, json_type_array) ? n : NULL;
}

static struct json_object *edges_of(struct json_object *g)
{
    struct json_object *e = g ? px_json_get(g, "edges") : NULL;
    return e && json_object_is_type(e, json_type_array) ? e : NULL;
}

static size_t len(struct json_object *arr)
{
    return arr ? json_object_array_length(arr) : 0;
}

/* The node of arr whose id is id, or NULL. */
static struct json_object *node_by_id(struct json_object *arr, const char *id)
{
    for (size_t i = 0; id && i < len(arr); i++) {
        struct json_object *n = json_object_array_get_idx(arr, i);
        const char *nid = px_json_get_str(n, "id");
        if (nid && strcmp(nid, id) == 0)
            return n;
    }
    return NULL;
}

static bool has_edge(struct json_object *arr, struct json_object *edge)
{
    const char *from = px_json_get_str(edge, "from"), *to = px_json_get_str(edge, "to");
    for (size_t i = 0; from && to && i < len(arr); i++) {
        struct json_object *e = json_object_array_get_idx(arr, i);
        const char *f = px_json_get_str(e, "from"), *t = px_json_get_str(e, "to");
        if (f && t && strcmp(f, from) == 0 && strcmp(t, to) == 0)
            return true;
    }
    return false;
}

static bool same_node(struct json_object *a, struct json_object *b)
{
    static const char *const keys[] = {"kind", "type", "connection_id", "config"};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
        if (!px_json_equal(px_json_get(a, keys[k]), px_json_get(b, keys[k])))
            return false;
    return true;
}

static struct json_object *edge_copy(struct json_object *e)
{
    struct json_object *o = json_object_new_object();
    px_json_set_str(o, "from", px_json_get_str(e, "from"));
    px_json_set_str(o, "to", px_json_get_str(e, "to"));
    return o;
}

struct json_object *px_graph_diff(struct json_object *before, struct json_object *after)
{
    struct json_object *bn = nodes_of(before), *an = nodes_of(after);
    struct json_object *be = edges_of(before), *ae = edges_of(after);
    struct json_object *added = json_object_new_array(), *removed = json_object_new_array();
    struct json_object *changed = json_object_new_array();
    struct json_object *eadded = json_object_new_array(), *eremoved = json_object_new_array();
    int64_t unchanged = 0;
    for (size_t i = 0; i < len(an); i++) {
        struct json_object *n = json_object_array_get_idx(an, i);
        struct json_object *old = node_by_id(bn, px_json_get_str(n, "id"));
        if (!old) {
            json_object_array_add(added, json_object_get(n));
        } else if (!same_node(old, n)) {
            struct json_object *c = json_object_new_object();
            px_json_set_str(c, "id", px_json_get_str(n, "id"));
            px_json_set(c, "before", json_object_get(old));
            px_json_set(c, "after", json_object_get(n));
            json_object_array_add(changed, c);
        } else {
            unchanged++;
        }
    }
    for (size_t i = 0; i < len(bn); i++) {
        struct json_object *n = json_object_array_get_idx(bn, i);
        if (!node_by_id(an, px_json_get_str(n, "id")))
            json_object_array_add(removed, json_object_get(n));
    }
    for (size_t i = 0; i < len(ae); i++)
        if (!has_edge(be, json_object_array_get_idx(ae, i)))
            json_object_array_add(eadded, edge_copy(json_object_array_get_idx(ae, i)));
    for (size_t i = 0; i < len(be); i++)
        if (!has_edge(ae, json_object_array_get_idx(be, i)))
            json_object_array_add(eremoved, edge_copy(json_object_array_get_idx(be, i)));
    struct json_object *o = json_object_new_object();
    px_json_set(o, "nodes_added", added);
    px_json_set(o, "nodes_removed", removed);
    px_json_set(o, "nodes_changed", changed);
    px_json_set(o, "edges_added", eadded);
    px_json_set(o, "edges_removed", eremoved);
    px_json_set_int(o, "unchanged_nodes", unchanged);
    return o;
}
