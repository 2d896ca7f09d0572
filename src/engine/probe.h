/*
 * Connection probes (test_connection): checks that a connection of a given type really works
 * without moving rows. File connectors (csv, jsonl) check that the path exists under the files
 * root and is readable (sources) or writable (destinations); SQLite opens the database
 * read-only (sources) or read-write (destinations) and reads its schema. Types whose connector
 * this build does not ship report reachable = false with code "not_available" (no network
 * connection is attempted). A probe never waits past timeout_ms.
 */
#ifndef PX_ENGINE_PROBE_H
#define PX_ENGINE_PROBE_H

#include "base/err.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

struct px_probe_result {
    bool reachable;
    int64_t latency_ms;      /* time the probe took when reachable, else -1 */
    char server_version[64]; /* "" when the protocol gives none */
    /* When not reachable: a sanitized error (no absolute server paths, no secrets) with
     * code, message, hint and retryable; error.code is 0 when reachable. */
    struct px_error error;
};

/* Probes a connection of type with params (secrets included; never copied into the result)
 * in category ("source" or "destination"; NULL counts as source). files_root confines file
 * connectors. Returns 0 with out filled (reachable or not), or a negative code only when type
 * is unknown. */
int px_engine_probe(const char *type, const char *category, struct json_object *params,
                    const char *files_root, int timeout_ms, struct px_probe_result *out);

/* {connection_id, reachable, latency_ms, server_version, error} of a result (error: {code,
 * message, hint, retryable} or null). Owned. */
struct json_object *px_probe_result_json(const char *connection_id,
                                         const struct px_probe_result *r);

#endif
