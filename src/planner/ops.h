/*
 * Typed graph operations: the one form a change takes, whoever decides it (the built-in
 * planner, an LLM provider, a test). Applying operations to a graph gives a new graph in which
 * every node and edge an operation does not name is the same JSON as before (so a saved graph
 * stays byte-identical outside the change), and applying them to an empty graph builds one.
 *
 * An operation is a JSON object with "op":
 *   {"op": "add_node", "node": N}                      appends N
 *   {"op": "insert_before", "target": ID, "node": N}   N goes on every edge into ID
 *   {"op": "insert_after", "target": ID, "node": N}    N goes on every edge out of ID
 *   {"op": "remove_node", "target": ID}                its inputs are wired to its outputs
 *   {"op": "set_config", "target": ID, "config": C}    C replaces the node's config
 *   {"op": "connect", "from": A, "to": B}              adds the edge A → B
 *   {"op": "disconnect", "from": A, "to": B}           removes the edge A → B
 * A node without "id" gets a readable one from its type ("dedupe", then "dedupe_2", ...), which
 * px_graph_diff then shows among the nodes added. The resulting graph is not validated here
 * (engine/graph.h does that, against the catalog and the connections).
 */
#ifndef PX_PLANNER_OPS_H
#define PX_PLANNER_OPS_H

#include <json-c/json.h>

struct px_error;

/* Applies the array ops to graph (NULL: an empty graph) and sets *out to the new graph (owned;
 * graph is not changed). An operation that names a node the graph does not have, a duplicate
 * id, an unknown op or a malformed one is -PX_EINVALID with err naming "operations[i]" and what
 * was wrong; *out is then NULL. */
int px_graph_apply(struct json_object *graph, struct json_object *ops, struct json_object **out,
                   struct px_error *err);

#endif
