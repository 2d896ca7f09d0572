/*
 * select, drop and rename (exec_int.h): the streaming operators that shape a batch's columns
 * (keep the listed ones in order, remove the listed ones, rename them) in place.
 */
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/exec_int.h"

#include <string.h>
#include <stdlib.h>

struct colop {
    struct json_object *config; /* borrowed for the run */
};

static int colop_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    (void)err;
    struct colop *s = px_xcalloc(1, sizeof(*s));
    s->config = ctx->config;
    *state_out = s;
    return 0;
}

static void colop_close(void *state)
{
    free(state);
}

static int select_process(void *state, struct px_batch *b, struct px_error *err)
{
    struct colop *s = state;
    struct json_object *cols = px_json_get(s->config, "columns");
    size_t n = json_object_array_length(cols);
    /* Check first, then reorder: wanted columns move to the front in order. */
    for (size_t k = 0; k < n; k++) {
        const char *name = json_object_get_string(json_object_array_get_idx(cols, k));
        if (px_batch_find(b, name) < 0)
            return px__no_column(b, name, err);
    }
    for (size_t k = 0; k < n; k++) {
        const char *name = json_object_get_string(json_object_array_get_idx(cols, k));
        int i = px_batch_find(b, name);
        if ((size_t)i != k) {
            struct px_column tmp = b->cols[i];
            memmove(&b->cols[k + 1], &b->cols[k], (size_t)(i - (int)k) * sizeof(*b->cols));
            b->cols[k] = tmp;
        }
    }
    while ((size_t)b->ncols > n)
        px_batch_remove_column(b, b->ncols - 1);
    return 0;
}

static int drop_process(void *state, struct px_batch *b, struct px_error *err)
{
    struct colop *s = state;
    struct json_object *cols = px_json_get(s->config, "columns");
    size_t n = json_object_array_length(cols);
    for (size_t k = 0; k < n; k++) {
        const char *name = json_object_get_string(json_object_array_get_idx(cols, k));
        if (px_batch_find(b, name) < 0)
            return px__no_column(b, name, err);
    }
    for (size_t k = 0; k < n; k++)
        px_batch_remove_column(
            b, px_batch_find(b, json_object_get_string(json_object_array_get_idx(cols, k))));
    return 0;
}

static int rename_process(void *state, struct px_batch *b, struct px_error *err)
{
    struct colop *s = state;
    struct json_object *map = px_json_get(s->config, "mapping");
    int *idx = px_xcalloc((size_t)json_object_object_length(map) + 1, sizeof(int));
    int k = 0, rc = 0;
    json_object_object_foreach(map, from, to)
    {
        (void)to;
        idx[k] = px_batch_find(b, from);
        if (idx[k] < 0) {
            rc = px__no_column(b, from, err);
            goto out;
        }
        k++;
    }
    k = 0;
    json_object_object_foreach(map, from2, to2)
    {
        (void)from2;
        free(b->cols[idx[k]].name);
        b->cols[idx[k]].name = px_xstrdup(json_object_get_string(to2));
        k++;
    }
    for (int i = 0; i < b->ncols; i++)
        for (int j = i + 1; j < b->ncols; j++)
            if (strcmp(b->cols[i].name, b->cols[j].name) == 0) {
                rc = px_error_set(err, PX_EINVALID,
                                  "renaming makes two columns named '%s'; drop one first",
                                  b->cols[i].name);
                goto out;
            }
out:
    free(idx);
    return rc;
}

const struct px_operator px__op_select = {
    1,           "select", "Keeps the listed columns, in order", colop_open, select_process,
    colop_close, NULL};
const struct px_operator px__op_drop = {
    1, "drop", "Removes the listed columns", colop_open, drop_process, colop_close, NULL};
const struct px_operator px__op_rename = {
    1, "rename", "Renames columns", colop_open, rename_process, colop_close, NULL};
