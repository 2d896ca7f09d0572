/* Aborting allocators: see mem.h. */
#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "planasonix: out of memory (%zu bytes)\n", n);
    abort();
}

void *px_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *px_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        oom(count * size);
    return p;
}

void *px_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *px_xstrdup(const char *s)
{
    return s ? px_xstrndup(s, strlen(s)) : NULL;
}

char *px_xstrndup(const char *s, size_t n)
{
    char *p = px_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
