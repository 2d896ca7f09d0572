/*
 * The closed set of API key scopes (DESIGN §3.2) as a bit set. Stored as a space-separated
 * list of names; "all" exists only on the command line and expands to every scope.
 */
#ifndef PX_AUTH_SCOPES_H
#define PX_AUTH_SCOPES_H

#include <stdint.h>

struct px_error;

#define PX_SCOPE_MAP(XX)                                                                           \
    XX(PIPELINES_READ, "pipelines:read")                                                           \
    XX(PIPELINES_WRITE, "pipelines:write")                                                         \
    XX(CONNECTORS_READ, "connectors:read")                                                         \
    XX(CONNECTIONS_READ, "connections:read")                                                       \
    XX(CONNECTIONS_WRITE, "connections:write")                                                     \
    XX(SCHEDULES_READ, "schedules:read")                                                           \
    XX(SCHEDULES_WRITE, "schedules:write")

enum px_scope_bit {
#define XX(name, str) PX_SCOPE_BIT_##name,
    PX_SCOPE_MAP(XX)
#undef XX
        PX_SCOPE_COUNT
};

#define PX_SCOPES_ALL ((1u << PX_SCOPE_COUNT) - 1)

/* Parses a list separated by commas and/or spaces ("all" allowed when allow_all). Unknown
 * names are an error listing the valid ones. Returns 0 and the bit set in *out. */
int px_scopes_parse(const char *list, int allow_all, uint32_t *out, struct px_error *err);
/* Writes the canonical space-separated list into out (at least 160 bytes). */
void px_scopes_format(uint32_t scopes, char *out, unsigned size);
/* The bit of one scope name, or 0 when unknown. */
uint32_t px_scope_bit(const char *name);

#endif
