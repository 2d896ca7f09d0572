/*
 * Pipeline graph validation (DESIGN §3.6): shape, node ids, catalog types and configs,
 * edges, acyclicity, at least one source and one destination, input counts, and that every
 * connection belongs to the organization and fits the node. The engine never runs a graph
 * that has not passed here. Knows nothing about MCP or the store: connections are looked up
 * through a callback the caller provides (already scoped to the caller's organization).
 */
#ifndef PX_ENGINE_GRAPH_H
#define PX_ENGINE_GRAPH_H

#include <json-c/json.h>

struct px_error;

/* Looks up a connection of the caller's organization. Returns 0 and fills type_out
 * ("postgres") and category_out ("source"/"destination"), or -PX_ENOTFOUND. */
typedef int (*px_conn_lookup_fn)(void *ctx, const char *connection_id, char type_out[32],
                                 char category_out[16]);

#define PX_GRAPH_MAX_NODES 200
#define PX_GRAPH_MAX_EDGES 1000

/* Validates graph. On success returns 0 and, if conn_ids_out is not NULL, an owned JSON array
 * of the distinct connection ids the graph uses. On failure returns -PX_EINVALID (or the
 * lookup's error) with err->field the path ("graph.nodes[2].config.table") and a message that
 * says what is wrong and what is expected. A connection that is not found is reported as
 * "graph.nodes[0].connection_id: connection not found in this organization" without saying
 * why. Every node must lie on a path from a source to a destination. lookup may be NULL to
 * skip the connection checks (drafts); the ids are still collected. Borrows graph. */
int px_graph_validate(struct json_object *graph, px_conn_lookup_fn lookup, void *lookup_ctx,
                      struct json_object **conn_ids_out, struct px_error *err);

#endif
