/*
 * The tool table: the 22 tools of DESIGN §3.4, each a spec embedded from
 * src/tools/specs/NAME.json plus a handler. The registry publishes tools/list, and on
 * tools/call checks the scope, validates arguments, runs the handler (inside a transaction,
 * with its audit row, for tools that change state) and shapes the CallToolResult.
 */
#ifndef PX_TOOLS_REGISTRY_H
#define PX_TOOLS_REGISTRY_H

#include "tools/tool.h"

#include <json-c/json.h>

struct px_error;
struct px_audit_entry;
struct px_audit;

/* Parses and checks the embedded specs once (each has a handler and vice versa, a scope,
 * annotations, additionalProperties false). Returns 0 or PX_EINTERNAL (a build bug). */
int px_tools_init(struct px_error *err);
/* Checks every spec's input and output schema with px_schema_check (after px_tools_init).
 * The specs are built in, so the unit tests run this rather than every start-up. */
int px_tools_check_schemas(struct px_error *err);
/* Number of registered tools. */
int px_tools_count(void);
/* The tools/list array shaped for a protocol version ("2024-11-05" drops title, annotations
 * and outputSchema; "2025-03-26" drops title and outputSchema). Owned by the caller. */
struct json_object *px_tools_list_json(const char *protocol_version);
/* Whether a tool of this name exists. */
bool px_tools_exists(const char *name);

/* Calls a tool (name must exist: px_tools_exists). Always returns an owned CallToolResult
 * ({content, structuredContent?, isError?}); with_structured includes structuredContent
 * (2025-06-18+). audit comes prepared by the caller (time, org, key, transport, method,
 * redacted arguments); the registry completes it (tool, outcome, error code, target, latency
 * since started_us) and records it: a successful mutation's row in the mutation's own
 * transaction, everything else through the queue. */
struct json_object *px_tools_call(struct px_tool_ctx *ctx, const char *name,
                                  struct json_object *args, bool with_structured,
                                  struct px_audit_entry *audit, struct px_audit *queue,
                                  int64_t started_us);

#endif
