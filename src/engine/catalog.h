/*
 * The published catalog of connection types and pipeline node types (DESIGN §3.6). Each
 * entry is data: one JSON file in src/engine/catalog/ embedded at build time, carrying a
 * JSON Schema for a connection's params (secrets marked "x-secret": true) or a node's config.
 * The same catalog validates graphs, feeds list_connection_types, and (later) constrains the
 * planner. Engine callbacks (open/read/write) attach to these entries in the engine issue.
 */
#ifndef PX_ENGINE_CATALOG_H
#define PX_ENGINE_CATALOG_H

#include <json-c/json.h>
#include <stdbool.h>

struct px_error;

enum px_node_kind { PX_NODE_SOURCE, PX_NODE_TRANSFORM, PX_NODE_DESTINATION };

struct px_conn_type {
    const char *type;                  /* "postgres", "csv", ... */
    const char *title;                 /* "PostgreSQL" */
    const char *description;           /* one sentence */
    bool can_source;                   /* usable as a pipeline source */
    bool can_destination;              /* usable as a pipeline destination */
    struct json_object *params_schema; /* JSON Schema of the connection params */
    const char *const *secret_params;  /* NULL-terminated names of secret params */
    struct json_object *source_config; /* node config schema when used as a source, or NULL */
    struct json_object *dest_config;   /* node config schema as a destination, or NULL */
};

struct px_node_type {
    enum px_node_kind kind;
    const char *type; /* "filter", "postgres", ... */
    const char *title;
    const char *description;
    int min_inputs, max_inputs; /* transforms: edges into the node (join: 2..2, union: 2..n) */
    bool needs_connection;      /* sources and destinations: a connection_id of this type */
    struct json_object *config_schema;
};

/* Parses the embedded catalog once; later calls return at once. Returns 0 or an error (a
 * broken embedded file is a build bug and is reported as PX_EINTERNAL). */
int px_catalog_init(struct px_error *err);
/* Lookups; NULL when unknown. */
const struct px_conn_type *px_catalog_conn_type(const char *type);
const struct px_node_type *px_catalog_node_type(enum px_node_kind kind, const char *type);
/* The i-th connection type / node type in catalog order, NULL past the end (for checks that
 * walk the whole catalog). */
const struct px_conn_type *px_catalog_conn_type_at(size_t i);
const struct px_node_type *px_catalog_node_type_at(size_t i);
/* Every connection type, for list_connection_types: an owned JSON array of
 * {type, title, description, categories:[...], params_schema, secret_params:[...]}, filtered by
 * category ("source" or "destination"; NULL for all). */
struct json_object *px_catalog_conn_types_json(const char *category);
/* Every node type as the graph validator sees it, for list_connection_types: an owned JSON
 * array of {kind, type, title, description, needs_connection, inputs: {min, max},
 * config_schema}, in catalog order. category ("source" or "destination")
 * keeps the transforms and the node types of that kind; NULL keeps all. */
struct json_object *px_catalog_node_types_json(const char *category);
/* Comma-separated names of every node type of a kind, for error hints. Borrowed. */
const char *px_catalog_node_type_names(enum px_node_kind kind);
/* "source", "transform", "destination"; px_node_kind_parse returns -1 when unknown. */
const char *px_node_kind_name(enum px_node_kind kind);
int px_node_kind_parse(const char *s);

#endif
