/*
 * Connections of one organization: typed (engine/catalog.h), with params validated against
 * the type's JSON Schema. Secret params are sealed with the keyring (auth/keyring.h), bound
 * to (org, connection), and never returned: a view shows "<param>_set": true instead.
 */
#ifndef PX_SERVICE_CONNECTIONS_H
#define PX_SERVICE_CONNECTIONS_H

#include "service/tenant.h"

#include <json-c/json.h>
#include <stdint.h>

struct px_error;

int px_connection_create(const struct px_tenant *t, const char *name, const char *type,
                         const char *category, struct json_object *params, struct json_object **out,
                         struct px_error *err);
/* name NULL: unchanged; params: only the given keys change (null removes an optional one). */
int px_connection_update(const struct px_tenant *t, const char *id, const char *name,
                         struct json_object *params, struct json_object **out,
                         struct px_error *err);
int px_connection_get(const struct px_tenant *t, const char *id, struct json_object **out,
                      struct px_error *err);
int px_connection_list(const struct px_tenant *t, const char *category, const char *type,
                       int64_t limit, const char *cursor, struct json_object **out,
                       struct px_error *err);
/* Refuses while a pipeline (even a soft-deleted, restorable one) uses the connection. */
int px_connection_delete(const struct px_tenant *t, const char *id, struct json_object **out,
                         struct px_error *err);
/* Decrypts the full params (secrets included) for the engine. Owned (json_object_put); secrets
 * are in it: do not log or return it. */
int px_connection_secret_params(const struct px_tenant *t, const char *id, struct json_object **out,
                                struct px_error *err);

/* test_connection: decrypts the connection's params (secrets go to the probe only, never into
 * the result), resolves file connections in the organization's files directory under
 * files_root (NULL: none) as runs do, and probes within timeout_ms (engine/probe.h). *out is
 * the probe result (px_probe_result_json); with include_schema it also holds "schema", what a
 * reachable connection holds (engine/schema.h; null when unreachable; cached per connection
 * until it changes, service/schema_cache.h) and "schema_cached". */
int px_connection_test(const struct px_tenant *t, const char *files_root, const char *id,
                       bool include_schema, int timeout_ms, struct json_object **out,
                       struct px_error *err);
/* A description returned to a client is cut at this many bytes of JSON (truncated: true). */
#define PX_CONNECTION_SCHEMA_BYTES (256 * 1024)

/* Seals the secret params that rows written before they were secret still hold in clear
 * (http headers saved before issue 10), at start-up; *sealed counts the connections
 * rewritten. Views already hide such values; this takes them out of the store's rows. */
struct px_store;
int px_connection_seal_clear(struct px_store *st, const struct px_keyring *keyring, int *sealed,
                             struct px_error *err);

#endif
