/*
 * The 22 tool handlers (one per spec in src/tools/specs/), grouped by file:
 * pipelines.c, runs.c, schedules.c, connections.c. Only registry.c includes this.
 */
#ifndef PX_TOOLS_HANDLERS_H
#define PX_TOOLS_HANDLERS_H

#include "tools/tool.h"

#define PX_TOOL(name)                                                                              \
    int px_tool_##name(struct px_tool_ctx *ctx, struct json_object *args,                          \
                       struct json_object **out, struct px_error *err)

PX_TOOL(list_pipelines);
PX_TOOL(get_pipeline);
PX_TOOL(pause_pipeline);
PX_TOOL(resume_pipeline);
PX_TOOL(create_pipeline);
PX_TOOL(update_pipeline);
PX_TOOL(delete_pipeline);
PX_TOOL(get_run_history);
PX_TOOL(get_pipeline_health);
PX_TOOL(trigger_pipeline);
PX_TOOL(list_schedules);
PX_TOOL(create_schedule);
PX_TOOL(update_schedule);
PX_TOOL(delete_schedule);
PX_TOOL(enable_schedule);
PX_TOOL(disable_schedule);
PX_TOOL(list_connectors);
PX_TOOL(test_connection);
PX_TOOL(list_connection_types);
PX_TOOL(create_connection);
PX_TOOL(update_connection);
PX_TOOL(delete_connection);

#endif
