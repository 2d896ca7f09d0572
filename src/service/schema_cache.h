/*
 * The per-process cache of connection descriptions (engine/schema.h), so that describing a
 * connection again — test_connection with include_schema, and the planner next — costs a
 * lookup. An entry is keyed by (organization, connection, the connection's updated_at): an
 * update_connection makes the old entry unreachable at once (and px_schema_cache_drop frees
 * it). Bounded, and walled per organization: at most PX_SCHEMA_CACHE_PER_ORG entries of one
 * organization (its least recently used goes first), PX_SCHEMA_CACHE_ENTRIES in all and
 * PX_SCHEMA_CACHE_BYTES of document text in all. Thread-safe.
 */
#ifndef PX_SERVICE_SCHEMA_CACHE_H
#define PX_SERVICE_SCHEMA_CACHE_H

#include <json-c/json.h>
#include <stdint.h>

#define PX_SCHEMA_CACHE_PER_ORG 8
#define PX_SCHEMA_CACHE_ENTRIES 128
#define PX_SCHEMA_CACHE_BYTES ((int64_t)32 << 20)

/* An owned copy of the cached document, or NULL; *at_ms (may be NULL) is when it was made. */
struct json_object *px_schema_cache_get(const char *org_id, const char *conn_id, int64_t version,
                                        int64_t *at_ms);
/* Stores a copy of doc (the caller keeps doc) made at at_ms. */
void px_schema_cache_put(const char *org_id, const char *conn_id, int64_t version,
                         struct json_object *doc, int64_t at_ms);
/* Forgets every entry of the connection (update_connection, delete_connection). */
void px_schema_cache_drop(const char *org_id, const char *conn_id);

#endif
