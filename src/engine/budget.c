/* A run's memory budget and its per-node accounts: see budget.h. */
#include "engine/budget.h"

#include "base/err.h"

#include <stdio.h>
#include <string.h>

void px_budget_init(struct px_budget *b, int64_t limit)
{
    b->limit = limit;
    atomic_init(&b->used, 0);
    atomic_init(&b->peak, 0);
}

void px_mem_init(struct px_mem *m, struct px_budget *run, const char *node_id, const char *type)
{
    m->run = run;
    atomic_init(&m->held, 0);
    m->node_id = node_id;
    m->type = type;
}

static void raise_peak(struct px_budget *b, int64_t now)
{
    int64_t p = atomic_load_explicit(&b->peak, memory_order_relaxed);
    while (now > p && !atomic_compare_exchange_weak_explicit(
                          &b->peak, &p, now, memory_order_relaxed, memory_order_relaxed))
        ;
}

void px_mem_add(struct px_mem *m, int64_t bytes)
{
    if (!m || !bytes)
        return;
    atomic_fetch_add_explicit(&m->held, bytes, memory_order_relaxed);
    int64_t now = atomic_fetch_add_explicit(&m->run->used, bytes, memory_order_relaxed) + bytes;
    if (bytes > 0)
        raise_peak(m->run, now);
}

bool px_mem_room(const struct px_mem *m, int64_t bytes)
{
    if (!m || !m->run)
        return true;
    return atomic_load_explicit(&m->run->used, memory_order_relaxed) + bytes <= m->run->limit;
}

bool px_budget_over(const struct px_budget *b)
{
    return atomic_load_explicit(&b->used, memory_order_relaxed) > b->limit;
}

static int budget_error(const struct px_mem *m, const char *what, int64_t need,
                        struct px_error *err);

int px_mem_reserve(struct px_mem *m, int64_t bytes, const char *what, struct px_error *err)
{
    if (!m || bytes <= 0)
        return 0;
    struct px_budget *b = m->run;
    int64_t now = atomic_fetch_add_explicit(&b->used, bytes, memory_order_relaxed) + bytes;
    if (now > b->limit) {
        atomic_fetch_sub_explicit(&b->used, bytes, memory_order_relaxed);
        return budget_error(m, what, bytes, err);
    }
    atomic_fetch_add_explicit(&m->held, bytes, memory_order_relaxed);
    raise_peak(b, now);
    return 0;
}

/* What to do about it, by node type. */
static const char *advice(const char *type)
{
    static const struct {
        const char *type, *text;
    } tab[] = {
        {"aggregate", "group by fewer or shorter keys, or aggregate in the source's SQL"},
        {"dedupe", "dedupe on fewer or shorter keys, filter the rows before it, or dedupe in "
                   "the source's SQL (SELECT DISTINCT)"},
        {"http", "ask the API for smaller pages (pagination.page_size with size_param)"},
        {"join", "filter both inputs before the join, put the smaller input second (it is "
                 "the one held in a hash table), or join in the source's SQL"},
        {"jsonl", "split long lines into smaller records"},
        {"sort", "filter or aggregate the rows before sorting, or sort in the source's SQL "
                 "(ORDER BY)"},
        {"union", "filter the inputs before the union"},
    };
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
        if (type && strcmp(type, tab[i].type) == 0)
            return tab[i].text;
    return "read fewer or narrower columns (config.columns or the query), or filter the rows "
           "earlier";
}

/* The budget message; need > 0: what a refused reservation asked for. */
static int budget_error(const struct px_mem *m, const char *what, int64_t need,
                        struct px_error *err)
{
    const struct px_budget *b = m->run;
    int64_t held = atomic_load_explicit(&m->held, memory_order_relaxed);
    const char *type = m->type ? m->type : "the node";
    int rc;
    if (need > 0)
        rc = px_error_set(err, PX_ETOOLARGE,
                          "run memory budget of %lld MiB reached (%s holds %lld MiB and needs "
                          "%lld MiB more for %s)",
                          (long long)(b->limit >> 20), type, (long long)((held + (1 << 19)) >> 20),
                          (long long)((need + (1 << 20) - 1) >> 20), what ? what : "data");
    else
        rc = px_error_set(err, PX_ETOOLARGE,
                          "run memory budget of %lld MiB reached (%s holds %lld MiB of %s)",
                          (long long)(b->limit >> 20), type, (long long)((held + (1 << 19)) >> 20),
                          what ? what : "data");
    px_error_hint(err, "raise PLANASONIX_RUN_MEMORY_MB (MiB, default 512) on the server, or %s",
                  advice(m->type));
    return rc;
}

int px_mem_error(const struct px_mem *m, const char *what, struct px_error *err)
{
    return budget_error(m, what, 0, err);
}
