/* Prefixed random ids: see id.h. */
#include "base/id.h"

#include <sodium.h>
#include <string.h>

static const char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static const struct {
    const char *prefix;
    const char *name;
} kinds[PX_ID_KIND_COUNT] = {
    [PX_ID_ORG] = {"org_", "organization"},  [PX_ID_KEY] = {"key_", "API key"},
    [PX_ID_PIPELINE] = {"pl_", "pipeline"},  [PX_ID_RUN] = {"run_", "run"},
    [PX_ID_SCHEDULE] = {"sch_", "schedule"}, [PX_ID_CONN] = {"conn_", "connection"},
};

void px_random_base62(char *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = base62[randombytes_uniform(62)];
}

void px_id_new(enum px_id_kind kind, char out[PX_ID_MAX])
{
    size_t plen = strlen(kinds[kind].prefix);
    memcpy(out, kinds[kind].prefix, plen);
    px_random_base62(out + plen, PX_ID_BODY_LEN);
    out[plen + PX_ID_BODY_LEN] = '\0';
}

bool px_id_valid(enum px_id_kind kind, const char *s)
{
    size_t plen = strlen(kinds[kind].prefix);
    if (!s || strncmp(s, kinds[kind].prefix, plen) != 0 || strlen(s) != plen + PX_ID_BODY_LEN)
        return false;
    for (const char *p = s + plen; *p; p++)
        if (!strchr(base62, *p))
            return false;
    return true;
}

int px_id_kind_of(const char *s)
{
    for (int k = 0; s && k < PX_ID_KIND_COUNT; k++)
        if (strncmp(s, kinds[k].prefix, strlen(kinds[k].prefix)) == 0)
            return k;
    return -1;
}

const char *px_id_kind_name(enum px_id_kind kind)
{
    return kinds[kind].name;
}

const char *px_id_prefix(enum px_id_kind kind)
{
    return kinds[kind].prefix;
}
