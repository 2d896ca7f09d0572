/* libpq.so.5, loaded on first use: see engine/connectors/pq_api.h. */
#include "engine/connectors/pq_api.h"

#include "base/dl.h"

struct px_pq_table px_pq;

static const struct px_dl_sym syms[] = {
#define X(f) {#f, &px_pq.p_##f},
    PX_PQ_FUNCS(X)
#undef X
};

static struct px_dl_lib lib = PX_DL_LIB("libpq.so.5", "PostgreSQL connections", "libpq5", syms);

int px_pq_load(struct px_error *err)
{
    return px_dl_load(&lib, err);
}
