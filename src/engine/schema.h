/*
 * Schema introspection: what a connection holds, described as one bounded JSON document, for
 * the planner and for users (the service layer caches it per connection; this module does not).
 * SQL connectors (postgres, mysql, sqlite) read their catalogs; file connectors (csv, jsonl)
 * list the files of the connection's directory (beneath the organization's files directory,
 * never outside) and type their columns by reading the first rows through the sources
 * themselves, so a description and a run agree on every type. Connections are opened the way
 * runs and probes open them (egress policy, TLS per sslmode, read-only sessions, timeouts).
 * HTTP connections cannot be described (an API has no catalog): the document says so.
 *
 * The document (every member always present unless marked optional):
 *
 *   {"type": "postgres",
 *    "describable": true,            false (http): "reason" says why, "tables" is []
 *    "reason": "...",                optional, only when describable is false
 *    "tables": [
 *      {"schema": "public" | null,   postgres: the schema; mysql: the database; null for
 *                                    sqlite and files
 *       "name": "orders",            table or view name; for files the file name in the
 *                                    connection's directory (what a node's config.file takes)
 *       "kind": "table" | "view" | "file",
 *       "row_estimate": 1234 | null, postgres pg_class.reltuples (null when never analyzed);
 *                                    mysql information_schema.TABLES.TABLE_ROWS; sqlite
 *                                    count(*) when the database file is at most 64 MiB, else
 *                                    sqlite_stat1, else null; files: the records read when
 *                                    the file was read to its end within the caps, else null;
 *                                    views: null (postgres/mysql: what the catalog says)
 *       "columns": [
 *         {"name": "status",
 *          "type": "string",         the engine's type: integer | float | boolean | string |
 *                                    timestamp (what a source node reading it produces)
 *          "db_type": "varchar(20)", the database's own type name; null for files
 *          "nullable": true,         files: whether a NULL was seen, or not all rows were read
 *          "values": ["new", ...]}], optional: present only for a low-cardinality text column,
 *                                    the sorted distinct non-NULL values (at most max_values,
 *                                    each at most 256 bytes) among the first
 *                                    PX_DESCRIBE_SAMPLE_ROWS rows
 *       "column_count": 12,          columns the table has (columns[] may hold fewer)
 *       "primary_key": ["id"] | null,
 *       "unique_keys": [["email"]],  other unique keys (constraints and unique indexes)
 *       "foreign_keys": [{"columns": ["customer_id"],
 *                         "references": {"schema": "public" | null, "table": "customers",
 *                                        "columns": ["id"]}}],
 *       "truncated": false,          true when columns[] was cut at max_columns
 *       "error": {"code", "message"}}], optional, files only: the source refused this file
 *                                    (the others are still described)
 *    "table_count": 42 | null,       tables (and views, files) the connection holds
 *    "truncated": false,             true when anything was cut (tables, columns, size, time)
 *    "truncated_by": [],             what cut it: "tables", "columns", "size", "time"
 *    "sampled": true}                false when sampling was off or its time cap stopped it
 *                                    before every candidate column was sampled
 *
 * Files have no keys (primary_key null, unique_keys and foreign_keys empty).
 */
#ifndef PX_ENGINE_SCHEMA_H
#define PX_ENGINE_SCHEMA_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

struct px_engine_opts;
struct px_error;

#define PX_DESCRIBE_SAMPLE_ROWS 10000 /* rows a sample of distinct values looks at */
#define PX_DESCRIBE_VALUE_BYTES 256   /* a longer value makes a column not a category */

/* Caps of one description; 0 (or a zeroed struct, or NULL) takes each default. */
struct px_describe_opts {
    int timeout_ms;    /* the whole description, connect included (default 10000, at most 60000) */
    int sample_ms;     /* of which sampling distinct values (default 1000) */
    int max_tables;    /* tables described (default 500, at most 5000) */
    int max_columns;   /* columns per table (default 200, at most 1000) */
    int max_values;    /* distinct values per column (default and at most 50) */
    int64_t max_bytes; /* the document's size as JSON text (default 1 MiB, at most 16 MiB) */
    bool no_sampling;  /* true: no values[] at all */
};

/* Describes a connection of type with params (secrets included; never copied into the
 * document). opts->files_root confines the file connectors (the organization's files
 * directory). Returns 0 with *out an owned document (see above), or a negative code with err
 * set (a sanitized message without secrets or server paths, retryable for transient failures,
 * and a hint): -PX_EINVALID for an unknown type or bad params, the connector's error when the
 * connection cannot be opened or its catalog read. */
int px_engine_describe(const char *type, struct json_object *params,
                       const struct px_engine_opts *opts, const struct px_describe_opts *d,
                       struct json_object **out, struct px_error *err);

#endif
