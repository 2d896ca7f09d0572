/*
 * The HTTP JSON API connector (not implemented yet: the executor reports it as not available).
 */
#include "engine/exec_int.h"

const struct px_connector px__conn_http = {
    .version = 1, .name = "http", .description = "HTTP JSON API (not available yet)"};
