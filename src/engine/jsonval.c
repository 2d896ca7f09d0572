/* JSON values as typed cells: see jsonval.h. */
#include "engine/jsonval.h"

#include "base/err.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/expr/expr.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A date-time with seconds and a zone: plain dates and zone-less times stay strings. */
static bool is_rfc3339(const char *s)
{
    size_t n = strlen(s);
    if (n < 20 || n > 40 || !strchr("Tt ", s[10]))
        return false;
    char last = s[n - 1];
    bool zone =
        last == 'Z' || last == 'z' || ((s[n - 6] == '+' || s[n - 6] == '-') && s[n - 3] == ':');
    int64_t us;
    return zone && s[16] == ':' && px_expr_parse_timestamp(s, &us) == 0;
}

int px__json_kind(struct json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null:
        return PX_JSON_NULL;
    case json_type_boolean:
        return PX_COL_BOOL;
    case json_type_int:
        return PX_COL_INT;
    case json_type_double:
        return PX_COL_FLOAT;
    case json_type_string:
        return is_rfc3339(json_object_get_string(v)) ? PX_COL_TIMESTAMP : PX_COL_STRING;
    default:
        return PX_COL_STRING;
    }
}

int px__json_merge(int current, int k)
{
    if (k == PX_JSON_NULL || current == k)
        return current;
    if (current == PX_JSON_NULL)
        return k;
    if ((current == PX_COL_INT && k == PX_COL_FLOAT) ||
        (current == PX_COL_FLOAT && k == PX_COL_INT))
        return PX_COL_FLOAT;
    return PX_COL_STRING;
}

int px__json_cell_set(struct px_batch *b, int col, int64_t row, struct json_object *v)
{
    struct px_column *c = &b->cols[col];
    int k = px__json_kind(v);
    if (k == PX_JSON_NULL)
        return 0;
    switch (c->type) {
    case PX_COL_INT:
        if (k != PX_COL_INT)
            return -PX_EINVALID;
        c->v.i[row] = json_object_get_int64(v);
        break;
    case PX_COL_FLOAT:
        if (k != PX_COL_INT && k != PX_COL_FLOAT)
            return -PX_EINVALID;
        c->v.f[row] = json_object_get_double(v);
        break;
    case PX_COL_BOOL:
        if (k != PX_COL_BOOL)
            return -PX_EINVALID;
        c->v.b[row] = json_object_get_boolean(v);
        break;
    case PX_COL_TIMESTAMP:
        if (k != PX_COL_TIMESTAMP ||
            px_expr_parse_timestamp(json_object_get_string(v), &c->v.i[row]) != 0)
            return -PX_EINVALID;
        break;
    case PX_COL_STRING: {
        const char *t = json_object_is_type(v, json_type_string)
                            ? json_object_get_string(v)
                            : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
                                                                    JSON_C_TO_STRING_NOSLASHESCAPE);
        c->v.s[row] = px_batch_strdup(b, t, strlen(t));
        break;
    }
    }
    px_batch_set_null(c, row, false);
    return 0;
}

int px__json_cols_add(struct px_json_cols *c, struct json_object *record, struct px_error *err)
{
    json_object_object_foreach(record, key, val)
    {
        int i;
        for (i = 0; i < c->n; i++)
            if (strcmp(c->names[i], key) == 0)
                break;
        if (i == c->n) {
            if (c->n >= PX_BATCH_MAX_COLS)
                return px_error_set(err, PX_ETOOLARGE, "the records have more than %d keys",
                                    PX_BATCH_MAX_COLS);
            c->names = px_xrealloc(c->names, (size_t)(c->n + 1) * sizeof(*c->names));
            c->types = px_xrealloc(c->types, (size_t)(c->n + 1) * sizeof(*c->types));
            c->names[i] = px_xstrdup(key);
            c->types[i] = PX_JSON_NULL;
            c->n++;
        }
        c->types[i] = px__json_merge(c->types[i], px__json_kind(val));
    }
    return 0;
}

void px__json_cols_done(struct px_json_cols *c)
{
    for (int i = 0; i < c->n; i++)
        if (c->types[i] == PX_JSON_NULL)
            c->types[i] = PX_COL_STRING;
}

void px__json_cols_free(struct px_json_cols *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->names[i]);
    free(c->names);
    free(c->types);
    c->names = NULL;
    c->types = NULL;
    c->n = 0;
}

/* ---- DOM cost estimate ---- */

static bool cost_top_obj(const struct px_json_cost *c)
{
    int d = c->depth - 1;
    return d >= 0 && d < 128 && ((c->obj[d >> 3] >> (d & 7)) & 1);
}

static void cost_push(struct px_json_cost *c, bool obj)
{
    int d = c->depth++;
    if (d < 128) {
        if (obj)
            c->obj[d >> 3] |= (uint8_t)(1u << (d & 7));
        else
            c->obj[d >> 3] &= (uint8_t) ~(1u << (d & 7));
    }
}

/* Bytes that end a number or literal (true, false, null). */
static const bool ENDS_LITERAL[256] = {[' '] = true, ['\t'] = true, ['\r'] = true, ['\n'] = true,
                                       [','] = true, [']'] = true,  ['}'] = true,  [':'] = true};

/* An element of an array also costs its slot in the array. */
static int64_t cost_slot(const struct px_json_cost *c)
{
    return c->depth > 0 && !cost_top_obj(c) ? 8 : 0;
}

void px__json_cost_feed(struct px_json_cost *c, const char *p, size_t n)
{
    int64_t cost = c->cost;
    size_t i = 0;
    while (i < n) {
        if (c->in_str) {
            /* Skip to the closing quote (memchr); a quote after an odd run of backslashes is
             * escaped. Every byte of a string costs one. */
            if (c->esc) { /* the piece before ended in a backslash */
                c->esc = false;
                cost++;
                i++;
                continue;
            }
            const char *q = memchr(p + i, '"', n - i);
            size_t end = q ? (size_t)(q - p) : n;
            size_t bs = 0;
            while (bs < end - i && p[end - 1 - bs] == '\\')
                bs++;
            cost += (int64_t)(end - i);
            if (!q) {
                c->esc = bs & 1; /* a trailing unpaired backslash escapes what comes next */
                i = n;
                break;
            }
            i = end + 1;
            cost++;
            if (bs & 1)
                continue; /* an escaped quote: still in the string */
            c->in_str = false;
            continue;
        }
        if (c->in_lit) {
            while (i < n && !ENDS_LITERAL[(unsigned char)p[i]])
                i++;
            if (i == n)
                break;
            c->in_lit = false;
        }
        char ch = p[i++];
        switch (ch) {
        case '{':
            cost += 784 + cost_slot(c);
            cost_push(c, true);
            c->key_next = true;
            break;
        case '[':
            cost += 144 + cost_slot(c);
            cost_push(c, false);
            c->key_next = false;
            break;
        case '}':
        case ']':
            if (c->depth > 0)
                c->depth--;
            c->key_next = false;
            break;
        case ',':
            c->key_next = cost_top_obj(c);
            break;
        case ':':
            c->key_next = false;
            break;
        case '"':
            c->in_str = true;
            cost += c->key_next ? 48 : 72 + cost_slot(c);
            c->key_next = false;
            break;
        case ' ':
        case '\t':
        case '\r':
        case '\n':
            break;
        default:
            c->in_lit = true;
            cost += 80 + cost_slot(c);
            break;
        }
    }
    c->cost = cost;
}
