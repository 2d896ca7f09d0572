/*
 * The PostgreSQL connector (not implemented yet: the executor reports it as not available).
 */
#include "engine/exec_int.h"

const struct px_connector px__conn_postgres = {
    .version = 1, .name = "postgres", .description = "PostgreSQL (not available yet)"};
