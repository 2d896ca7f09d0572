/* Connection tools (see handlers.h). */
#include "base/err.h"
#include "base/json.h"
#include "engine/catalog.h"
#include "service/connections.h"
#include "tools/handlers.h"

#include <stdio.h>

/* A connection test never takes longer than this. */
#define TEST_CONNECTION_TIMEOUT_MS 5000

PX_TOOL(list_connectors)
{
    return px_connection_list(&ctx->tenant, px_json_get_str(args, "category"),
                              px_json_get_str(args, "type"), px_json_get_int(args, "limit", 0),
                              px_json_get_str(args, "cursor"), out, err);
}

PX_TOOL(test_connection)
{
    /* connector_id is the documented name; connection_id is accepted too. */
    const char *id = px_json_get_str(args, "connector_id");
    if (!id)
        id = px_json_get_str(args, "connection_id");
    if (!id) {
        int rc = px_error_set(err, PX_EINVALID, "connector_id is required");
        px_error_field(err, "connector_id");
        px_error_hint(err, "pass the connection id (conn_…) from list_connectors");
        return rc;
    }
    px_tool_target(ctx, id);
    return px_connection_test(&ctx->tenant, ctx->files_root, id,
                              px_json_get_bool(args, "include_schema", false),
                              TEST_CONNECTION_TIMEOUT_MS, out, err);
}

PX_TOOL(list_connection_types)
{
    (void)ctx;
    int rc = px_catalog_init(err);
    if (rc)
        return rc;
    struct json_object *o = json_object_new_object();
    const char *category = px_json_get_str(args, "category");
    px_json_set(o, "connection_types", px_catalog_conn_types_json(category));
    px_json_set(o, "node_types", px_catalog_node_types_json(category));
    *out = o;
    return 0;
}

PX_TOOL(create_connection)
{
    int rc = px_connection_create(&ctx->tenant, px_json_get_str(args, "name"),
                                  px_json_get_str(args, "type"), px_json_get_str(args, "category"),
                                  px_json_get(args, "params"), out, err);
    if (!rc)
        px_tool_target(ctx, px_json_get_str(*out, "connection_id"));
    return rc;
}

PX_TOOL(update_connection)
{
    const char *id = px_json_get_str(args, "connection_id");
    px_tool_target(ctx, id);
    return px_connection_update(&ctx->tenant, id, px_json_get_str(args, "name"),
                                px_json_get(args, "params"), out, err);
}

PX_TOOL(delete_connection)
{
    const char *id = px_json_get_str(args, "connection_id");
    px_tool_target(ctx, id);
    return px_connection_delete(&ctx->tenant, id, out, err);
}
