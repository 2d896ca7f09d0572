/* Resolving mentions to names: see resolve.h. */
#include "planner/resolve.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

/* Word abbreviations people write for the word a name spells out (data: one row each). */
static const char *const synonyms[][2] = {
    {"qty", "quantity"},  {"amt", "amount"},   {"num", "number"},      {"no", "number"},
    {"cust", "customer"}, {"addr", "address"}, {"dept", "department"}, {"desc", "description"},
    {"ts", "timestamp"},  {"dt", "date"},      {"pct", "percent"},     {"msg", "message"},
};

/* Singular of one lowercase word, in place: -ies → -y, -sses/-xes/-ches/-shes drop -es, a
 * final -s drops unless the word ends in -ss, -us or -is or is short. */
static void singular(char *w, size_t *len)
{
    size_t n = *len;
    if (n > 4 && strcmp(w + n - 3, "ies") == 0) {
        w[n - 3] = 'y';
        n -= 2;
    } else if (n > 4 && (strcmp(w + n - 4, "sses") == 0 || strcmp(w + n - 3, "xes") == 0 ||
                         strcmp(w + n - 4, "ches") == 0 || strcmp(w + n - 4, "shes") == 0)) {
        n -= 2;
    } else if (n > 3 && w[n - 1] == 's' && w[n - 2] != 's' && w[n - 2] != 'u' && w[n - 2] != 'i') {
        n -= 1;
    }
    w[n] = '\0';
    *len = n;
}

void px_resolve_norm(const char *s, char *out, size_t size)
{
    size_t o = 0;
    char word[PX_RESOLVE_NAME_MAX];
    size_t wl = 0;
    bool prev_lower = false;
    for (const char *p = s;; p++) {
        unsigned char c = (unsigned char)*p;
        bool alnum = c && isalnum(c);
        bool split = alnum && isupper(c) && prev_lower; /* camelCase */
        if ((!alnum || split) && wl) {
            word[wl] = '\0';
            singular(word, &wl);
            if (o && o + 1 < size)
                out[o++] = '_';
            for (size_t i = 0; i < wl && o + 1 < size; i++)
                out[o++] = word[i];
            wl = 0;
        }
        if (!c)
            break;
        if (alnum && wl + 1 < sizeof(word))
            word[wl++] = (char)tolower(c);
        prev_lower = alnum && (islower(c) || isdigit(c));
    }
    if (size)
        out[o < size ? o : size - 1] = '\0';
}

/* The normalized form with each word that is a known abbreviation spelled out. */
static void expand(const char *norm, char *out, size_t size)
{
    size_t o = 0;
    const char *p = norm;
    while (*p && o + 1 < size) {
        size_t wl = strcspn(p, "_");
        const char *w = p;
        size_t use = wl;
        for (size_t k = 0; k < sizeof(synonyms) / sizeof(synonyms[0]); k++)
            if (strlen(synonyms[k][0]) == wl && strncmp(synonyms[k][0], p, wl) == 0) {
                w = synonyms[k][1];
                use = strlen(w);
                break;
            }
        if (o && o + 1 < size)
            out[o++] = '_';
        for (size_t i = 0; i < use && o + 1 < size; i++)
            out[o++] = w[i];
        p += wl;
        if (*p == '_')
            p++;
    }
    out[o] = '\0';
}

/* Optimal string alignment distance (adjacent transpositions count one), capped at cap + 1. */
static size_t distance(const char *a, const char *b, size_t cap)
{
    size_t la = strlen(a), lb = strlen(b);
    if ((la > lb ? la - lb : lb - la) > cap)
        return cap + 1;
    size_t rows[3][PX_RESOLVE_NAME_MAX + 1];
    size_t *pp = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        size_t best = cur[0];
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t v = prev[j] + 1;
            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;
            if (prev[j - 1] + cost < v)
                v = prev[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && pp[j - 2] + 1 < v)
                v = pp[j - 2] + 1;
            cur[j] = v;
            if (v < best)
                best = v;
        }
        if (best > cap)
            return cap + 1;
        size_t *t = pp;
        pp = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

static enum px_match match_of(const char *mention, const char *mnorm, const char *mexp,
                              const char *name)
{
    if (strcmp(mention, name) == 0)
        return PX_MATCH_EXACT;
    char norm[PX_RESOLVE_NAME_MAX], exp[PX_RESOLVE_NAME_MAX];
    px_resolve_norm(name, norm, sizeof(norm));
    if (!norm[0])
        return PX_MATCH_NONE;
    if (strcmp(mnorm, norm) == 0)
        return PX_MATCH_NORMALIZED;
    expand(norm, exp, sizeof(exp));
    if (strcmp(mexp, exp) == 0)
        return PX_MATCH_SYNONYM;
    size_t cap = strlen(norm) <= 5 ? 1 : 2;
    return distance(mexp, exp, cap) <= cap ? PX_MATCH_NEAR : PX_MATCH_NONE;
}

void px_resolve(const char *mention, const char *const *names, size_t n, struct px_resolution *r)
{
    memset(r, 0, sizeof(*r));
    char mnorm[PX_RESOLVE_NAME_MAX], mexp[PX_RESOLVE_NAME_MAX];
    px_resolve_norm(mention, mnorm, sizeof(mnorm));
    expand(mnorm, mexp, sizeof(mexp));
    if (!mnorm[0])
        return;
    for (size_t i = 0; i < n; i++) {
        enum px_match m = match_of(mention, mnorm, mexp, names[i]);
        if (m == PX_MATCH_NONE || m < r->match)
            continue;
        if (m > r->match) {
            r->match = m;
            r->count = 0;
            r->nindex = 0;
        }
        r->count++;
        if (r->nindex < PX_RESOLVE_MAX_CANDIDATES)
            r->index[r->nindex++] = i;
    }
    if (r->match != PX_MATCH_NONE)
        return;
    /* Nothing close enough: offer the names closest by spelling (within half the mention). */
    size_t cap = strlen(mexp) / 2 + 1;
    for (size_t d = 1; d <= cap && r->nindex < PX_RESOLVE_MAX_CANDIDATES; d++)
        for (size_t i = 0; i < n && r->nindex < PX_RESOLVE_MAX_CANDIDATES; i++) {
            char norm[PX_RESOLVE_NAME_MAX], exp[PX_RESOLVE_NAME_MAX];
            px_resolve_norm(names[i], norm, sizeof(norm));
            expand(norm, exp, sizeof(exp));
            size_t di = distance(mexp, exp, d);
            if (di == d || (d == 1 && di == 0))
                r->index[r->nindex++] = i;
        }
}
