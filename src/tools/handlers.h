/*
 * The tool handlers, one per spec in src/tools/specs/ (NAME.json is handled by px_tool_NAME,
 * defined with PX_TOOL(NAME) in the file of its group: pipelines.c, runs.c, schedules.c,
 * connections.c), and the table the build generates from the specs. Only the handler files and
 * registry.c include this.
 */
#ifndef PX_TOOLS_HANDLERS_H
#define PX_TOOLS_HANDLERS_H

#include "tools/tool.h"

#include <stddef.h>

#define PX_TOOL(name)                                                                              \
    int px_tool_##name(struct px_tool_ctx *ctx, struct json_object *args,                          \
                       struct json_object **out, struct px_error *err)

/* One declaration per spec, generated at build time (scripts/gen_tools.c). */
#include "tool_handlers.h"

/* The tool table (generated: tool_table.c), in tools/list order: the spec file NAME.json
 * supplies everything but the handler px_tool_NAME. */
struct px_tool_row {
    const char *name;
    px_tool_fn fn;
};
extern const struct px_tool_row px_tool_rows[];
extern const size_t px_tool_rows_count;

#endif
