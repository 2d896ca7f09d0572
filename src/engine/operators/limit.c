/*
 * limit (exec_int.h): passes on the first count rows of the run and empties every batch after.
 */
#include "base/json.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/exec_int.h"
#include <stdlib.h>

struct limitop {
    int64_t left;
};

static int limit_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    (void)err;
    struct limitop *s = px_xcalloc(1, sizeof(*s));
    s->left = px_json_get_int(ctx->config, "count", 0);
    *state_out = s;
    return 0;
}

static int limit_process(void *state, struct px_batch *b, struct px_error *err)
{
    (void)err;
    struct limitop *s = state;
    if (b->nrows > s->left) {
        bool *keep = px_xcalloc((size_t)b->nrows, sizeof(bool));
        for (int64_t r = 0; r < s->left; r++)
            keep[r] = true;
        px_batch_compact(b, keep);
        free(keep);
    }
    s->left -= b->nrows;
    return 0;
}

static void limit_close(void *state)
{
    free(state);
}

const struct px_operator px__op_limit = {
    1, "limit", "Passes on the first count rows", limit_open, limit_process, limit_close, NULL};
