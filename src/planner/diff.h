/*
 * The difference between two pipeline graphs, as a person reads it before trusting a change:
 * which nodes were added, removed or changed (with their before and after), and which edges
 * were added or removed. Nodes are matched by id, edges by (from, to); a node is changed when
 * its kind, type, connection_id or config differ. Used by update_pipeline (an explicit graph, a
 * revert, and the planner's edits) for its result and its dry run.
 */
#ifndef PX_PLANNER_DIFF_H
#define PX_PLANNER_DIFF_H

#include <json-c/json.h>

/* An owned {nodes_added: [node...], nodes_removed: [node...], nodes_changed: [{id, before,
 * after}...], edges_added: [{from, to}...], edges_removed: [...], unchanged_nodes: N}: added and
 * changed in the new graph's order, removed in the old one's. Either graph may be NULL (no
 * nodes). The graphs are borrowed; the result shares their nodes (json_object_get). */
struct json_object *px_graph_diff(struct json_object *before, struct json_object *after);

#endif
