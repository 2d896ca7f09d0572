/*
 * mask (exec_int.h): a streaming operator that hides a column's values. hash replaces each non-NULL
 * value by the lowercase hex SHA-256 (libsodium crypto_hash_sha256) of its text as cast to string
 * renders it: equal values stay equal, so joins and counts still work, but the hash is not keyed,
 * so a guessable value (a short number, a known e-mail) can be found by hashing candidates. redact
 * replaces each non-NULL value by "[redacted]". NULL stays NULL either way; the column becomes a
 * string column.
 */
#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/celltext.h"
#include "engine/exec_int.h"

#include <string.h>
#include <sodium.h>
#include <stdlib.h>

/* ---- mask ---- */

struct maskop {
    struct json_object *columns; /* borrowed */
    bool redact;
};

static int mask_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    const char *m = px_json_get_str(ctx->config, "method");
    if (sodium_init() < 0)
        return px_error_set(err, PX_EINTERNAL, "libsodium failed to initialize");
    struct maskop *s = px_xcalloc(1, sizeof(*s));
    s->columns = px_json_get(ctx->config, "columns");
    s->redact = m && strcmp(m, "redact") == 0;
    *state_out = s;
    return 0;
}

static void mask_close(void *state)
{
    free(state);
}

static int mask_process(void *state, struct px_batch *b, struct px_error *err)
{
    struct maskop *s = state;
    size_t n = json_object_array_length(s->columns);
    for (size_t k = 0; k < n; k++) {
        const char *name = json_object_get_string(json_object_array_get_idx(s->columns, k));
        if (px_batch_find(b, name) < 0)
            return px__no_column(b, name, err);
    }
    struct px_buf text;
    px_buf_init(&text, (size_t)1 << 30);
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        const char *name = json_object_get_string(json_object_array_get_idx(s->columns, k));
        int c = px_batch_find(b, name);
        int dc = px_batch_add_column(b, name, PX_COL_STRING);
        for (int64_t r = 0; r < b->nrows; r++) {
            if (px_batch_is_null(&b->cols[c], r))
                continue;
            if (s->redact) {
                b->cols[dc].v.s[r] = "[redacted]";
            } else {
                unsigned char h[crypto_hash_sha256_BYTES];
                char hex[crypto_hash_sha256_BYTES * 2 + 1];
                if (px_celltext_buf(b, c, r, &text) < 0) {
                    px_error_set(err, PX_ETOOLARGE, "column '%.200s': a value is too long to hash",
                                 name);
                    rc = px__row_error(b, r, err);
                    break;
                }
                crypto_hash_sha256(h, (const unsigned char *)(text.data ? text.data : ""),
                                   text.len);
                sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
                b->cols[dc].v.s[r] = px_batch_strdup(b, hex, sizeof(hex) - 1);
            }
            px_batch_set_null(&b->cols[dc], r, false);
        }
        px_batch_settle_column(b, c, dc, rc);
    }
    px_buf_cleanup(&text);
    return rc;
}

const struct px_operator px__op_mask = {
    1, "mask", "Hashes or redacts columns", mask_open, mask_process, mask_close, NULL};
