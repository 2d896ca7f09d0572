/* Scope sets: see scopes.h. */
#include "auth/scopes.h"

#include "base/buf.h"
#include "base/err.h"

#include <stdio.h>
#include <string.h>

static const char *const names[PX_SCOPE_COUNT] = {
#define XX(name, str) str,
    PX_SCOPE_MAP(XX)
#undef XX
};

uint32_t px_scope_bit(const char *name)
{
    for (int i = 0; i < PX_SCOPE_COUNT; i++)
        if (strcmp(names[i], name) == 0)
            return 1u << i;
    return 0;
}

int px_scopes_parse(const char *list, int allow_all, uint32_t *out, struct px_error *err)
{
    uint32_t set = 0;
    char word[64];
    const char *p = list ? list : "";
    while (*p) {
        size_t n = strcspn(p, ", \t");
        if (n == 0) {
            p++;
            continue;
        }
        if (n >= sizeof(word)) {
            return px_error_set(err, PX_EINVALID, "scope name is too long");
        }
        memcpy(word, p, n);
        word[n] = '\0';
        p += n;
        uint32_t bit = px_scope_bit(word);
        if (allow_all && strcmp(word, "all") == 0) {
            bit = PX_SCOPES_ALL;
        } else if (!bit) {
            char all[200];
            px_scopes_format(PX_SCOPES_ALL, all, sizeof(all));
            int rc = px_error_set(err, PX_EINVALID, "unknown scope '%s'", word);
            px_error_hint(err, "valid scopes: %s%s", all, allow_all ? " (or all)" : "");
            return rc;
        }
        set |= bit;
    }
    if (!set) {
        int rc = px_error_set(err, PX_EINVALID, "no scopes given");
        px_error_hint(err, "give a comma-separated list such as pipelines:read,pipelines:write, "
                           "or all");
        return rc;
    }
    *out = set;
    return 0;
}

void px_scopes_format(uint32_t scopes, char *out, unsigned size)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < PX_SCOPE_COUNT; i++) {
        if (!(scopes & (1u << i)))
            continue;
        int n = snprintf(out + used, size - used, "%s%s", used ? " " : "", names[i]);
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
}
