/*
 * Files embedded into the binary at build time (tool specs, SQL migrations, catalog entries).
 * scripts/embed.c generates one array per set; each set is sorted by file name.
 */
#ifndef PX_BASE_EMBED_H
#define PX_BASE_EMBED_H

#include <stddef.h>

struct px_embed {
    const char *name; /* file name without directory, e.g. "0001_init.sql" */
    const char *data; /* file contents, NUL-terminated */
    size_t len;       /* bytes, excluding the NUL */
};

/* Tool specs: src/tools/specs (*.json) */
extern const struct px_embed px_embed_tool_specs[];
extern const size_t px_embed_tool_specs_count;
/* SQLite migrations: src/store/migrations/sqlite (*.sql) */
extern const struct px_embed px_embed_migrations_sqlite[];
extern const size_t px_embed_migrations_sqlite_count;
/* Node and connection type catalog: src/engine/catalog (*.json) */
extern const struct px_embed px_embed_catalog[];
extern const size_t px_embed_catalog_count;

#endif
