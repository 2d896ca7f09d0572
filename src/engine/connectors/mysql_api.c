/* libmariadb.so.3, loaded on first use: see engine/connectors/mysql_api.h. */
#include "engine/connectors/mysql_api.h"

#include "base/dl.h"

struct px_mysql_table px_mysql;

static const struct px_dl_sym syms[] = {
#define X(f) {#f, &px_mysql.p_##f},
    PX_MYSQL_FUNCS(X)
#undef X
};

static struct px_dl_lib lib =
    PX_DL_LIB("libmariadb.so.3", "MySQL and MariaDB connections", "libmariadb3", syms);

int px_mysql_load(struct px_error *err)
{
    return px_dl_load(&lib, err);
}
