/*
 * What the MCP transports receive from the program (app/ wires it; transport/ never includes
 * app/): the services every MCP session uses, where the store lives, and the hook that starts
 * the run workers and the scheduler once the transport is ready to serve (after `serve` has
 * opened its store pool, after stdio has loaded the tool table).
 */
#ifndef PX_TRANSPORT_ENV_H
#define PX_TRANSPORT_ENV_H

#include "mcp/session.h"

struct px_error;

struct px_transport_env {
    /* store: the process's own handle (stdio uses it; `serve` opens a pool to store_url and
     * gives each call a handle from it). All borrowed for the transport's lifetime. */
    struct px_mcp_deps deps;
    const char *store_url;
    /* Starts the run workers and the scheduler: 0, or negative with err set. */
    int (*start_workers)(void *ctx, struct px_error *err);
    void *start_ctx;
};

#endif
