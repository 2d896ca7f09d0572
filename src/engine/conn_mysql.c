/*
 * The MySQL/MariaDB connector (not implemented yet: the executor reports it as not available).
 */
#include "engine/exec_int.h"

const struct px_connector px__conn_mysql = {
    .version = 1, .name = "mysql", .description = "MySQL/MariaDB (not available yet)"};
