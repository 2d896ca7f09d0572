/*
 * JSON Schema (2020-12 subset) validation for our own published schemas: see schema.h.
 * Messages are written for an AI client: the path of the offending value, what was wrong and
 * what is expected, with short echoes of the value. Not a general-purpose validator: no $ref,
 * no if/then, no prefixItems; a schema using anything else is refused by px_schema_check.
 */
#include "base/schema.h"

#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "base/text.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PATH_MAX_LEN 256 /* longer paths are cut; they still identify the value well enough */
#define ECHO_MAX 40      /* bytes of a string value echoed back in a message */
#define LIST_MAX 300     /* bytes of an "allowed: ..." list in a message */
#define MAX_DEPTH 64     /* schema nesting limit (our schemas are far shallower) */

/* The first failure found while validating a value. */
struct vfail {
    int code;                 /* PX_EINVALID, or PX_EINTERNAL for a broken schema */
    bool discriminator;       /* failed on const/enum: the value picked another alternative */
    char path[PATH_MAX_LEN];  /* the value the message is about (prefix of the message) */
    char field[PATH_MAX_LEN]; /* err->field: the path, or the member's path when a member
                                 of an object is missing or unknown */
    char msg[400];
};

/* Validation state: the path of the value being looked at, grown and shrunk as we descend. */
struct vctx {
    char path[PATH_MAX_LEN];
    size_t len;
    size_t root_len; /* length of root_name: the path of the top-level value */
    bool arguments;  /* tool arguments: top-level members are called "arguments" */
};

/* ---- small helpers ---- */

/* A keyword's value in a schema object, or NULL (also for a JSON null value). */
static struct json_object *kw(struct json_object *schema, const char *name)
{
    struct json_object *v = NULL;
    if (schema && json_object_is_type(schema, json_type_object))
        json_object_object_get_ex(schema, name, &v);
    return v;
}

static bool is_number(struct json_object *v)
{
    return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
}

static bool is_integral(struct json_object *v)
{
    if (json_object_is_type(v, json_type_int))
        return true;
    if (!json_object_is_type(v, json_type_double))
        return false;
    double d = json_object_get_double(v);
    return isfinite(d) && floor(d) == d;
}

/* Compares two JSON numbers: <0, 0, >0. Exact for two ints, via double otherwise. */
static int num_cmp(struct json_object *a, struct json_object *b)
{
    if (json_object_is_type(a, json_type_int) && json_object_is_type(b, json_type_int)) {
        int64_t x = json_object_get_int64(a), y = json_object_get_int64(b);
        return x < y ? -1 : x > y;
    }
    double x = json_object_get_double(a), y = json_object_get_double(b);
    return x < y ? -1 : x > y;
}

/* JSON equality as JSON Schema defines it: 1 equals 1.0; object member order is ignored. */
static bool json_eq(struct json_object *a, struct json_object *b)
{
    if (is_number(a) && is_number(b))
        return num_cmp(a, b) == 0;
    enum json_type ta = json_object_get_type(a), tb = json_object_get_type(b);
    if (ta != tb)
        return false;
    switch (ta) {
    case json_type_null:
        return true;
    case json_type_boolean:
        return json_object_get_boolean(a) == json_object_get_boolean(b);
    case json_type_string:
        return json_object_get_string_len(a) == json_object_get_string_len(b) &&
               memcmp(json_object_get_string(a), json_object_get_string(b),
                      (size_t)json_object_get_string_len(a)) == 0;
    case json_type_array: {
        size_t n = json_object_array_length(a);
        if (n != json_object_array_length(b))
            return false;
        for (size_t i = 0; i < n; i++)
            if (!json_eq(json_object_array_get_idx(a, i), json_object_array_get_idx(b, i)))
                return false;
        return true;
    }
    case json_type_object: {
        if (json_object_object_length(a) != json_object_object_length(b))
            return false;
        json_object_object_foreach(a, key, va)
        {
            struct json_object *vb = NULL;
            if (!json_object_object_get_ex(b, key, &vb) || !json_eq(va, vb))
                return false;
        }
        return true;
    }
    default:
        return false;
    }
}

/* Formats a number without touching json-c's serializer (schemas are shared between threads
 * and json_object_to_json_string caches its output inside the object). */
static void fmt_num(struct json_object *v, char *out, size_t cap)
{
    if (json_object_is_type(v, json_type_int)) {
        snprintf(out, cap, "%" PRId64, json_object_get_int64(v));
        return;
    }
    double d = json_object_get_double(v);
    if (isfinite(d) && floor(d) == d && fabs(d) < 1e15)
        snprintf(out, cap, "%.0f", d);
    else
        snprintf(out, cap, "%.15g", d);
}

/* A short description of a value for "got ...": scalars are echoed (long strings cut),
 * objects and arrays are named. quote_strings false prints strings bare (enum lists). */
static void fmt_value(struct json_object *v, bool quote_strings, char *out, size_t cap)
{
    switch (json_object_get_type(v)) {
    case json_type_null:
        snprintf(out, cap, "null");
        break;
    case json_type_boolean:
        snprintf(out, cap, "%s", json_object_get_boolean(v) ? "true" : "false");
        break;
    case json_type_int:
    case json_type_double:
        fmt_num(v, out, cap);
        break;
    case json_type_string: {
        bool cut = false;
        char *s = px_text_clean(json_object_get_string(v), ECHO_MAX, &cut);
        snprintf(out, cap, quote_strings ? "\"%s%s\"" : "%s%s", s, cut ? "..." : "");
        free(s);
        break;
    }
    case json_type_array:
        snprintf(out, cap, "an array");
        break;
    case json_type_object:
        snprintf(out, cap, "an object");
        break;
    }
}

/* A key from the value, cleaned and cut for a message. Owned. */
static char *short_key(const char *key)
{
    bool cut = false;
    char *s = px_text_clean(key, ECHO_MAX, &cut);
    if (!cut)
        return s;
    size_t n = strlen(s);
    char *t = px_xmalloc(n + 4);
    memcpy(t, s, n);
    memcpy(t + n, "...", 4);
    free(s);
    return t;
}

/* Appends printf-style text to out[cap] at *len, cutting at the end (never overflows). */
__attribute__((format(printf, 4, 5))) static void appendf(char *out, size_t cap, size_t *len,
                                                          const char *fmt, ...)
{
    if (*len + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    *len += (size_t)n;
    if (*len >= cap)
        *len = cap - 1;
}

/* Appends a ", "-separated list item unless the list is already long. Returns false when the
 * item was left off (the caller then ends the list with ", ..."). */
static bool list_add(char *out, size_t cap, size_t *len, const char *item)
{
    if (*len > LIST_MAX && *len + 1 < cap)
        return false;
    appendf(out, cap, len, "%s%s", *len ? ", " : "", item);
    return true;
}

/* Levenshtein distance, capped: returns cap+1 when larger or when a string is long. */
static size_t edit_distance(const char *a, const char *b, size_t cap)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return cap + 1;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best =
                diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static const char *plural(int64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* ---- paths ---- */

static bool is_ident(const char *s)
{
    if (!*s || !(isalpha((unsigned char)*s) || *s == '_' || *s == '$'))
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-' || *s == '$'))
            return false;
    return true;
}

static size_t path_push_key(struct vctx *c, const char *key)
{
    size_t old = c->len;
    if (is_ident(key)) {
        appendf(c->path, sizeof(c->path), &c->len, "%s%s", c->len ? "." : "", key);
    } else {
        char *k = short_key(key);
        appendf(c->path, sizeof(c->path), &c->len, "[\"%s\"]", k);
        free(k);
    }
    return old;
}

static size_t path_push_index(struct vctx *c, size_t i)
{
    size_t old = c->len;
    appendf(c->path, sizeof(c->path), &c->len, "[%zu]", i);
    return old;
}

static void path_pop(struct vctx *c, size_t old)
{
    c->len = old;
    c->path[old] = '\0';
}

/* The word for a member of the object at the current path. */
static const char *member_word(const struct vctx *c)
{
    return c->arguments && c->len == c->root_len ? "argument" : "property";
}

/* The plural of member_word. */
static const char *members_word(const struct vctx *c)
{
    return c->arguments && c->len == c->root_len ? "arguments" : "properties";
}

/* Points the failure's field at member key of the object at the current path. */
static void fail_member(struct vctx *c, struct vfail *f, const char *key)
{
    size_t old = path_push_key(c, key);
    snprintf(f->field, sizeof(f->field), "%s", c->path);
    path_pop(c, old);
}

__attribute__((format(printf, 3, 4))) static int fail(struct vctx *c, struct vfail *f,
                                                      const char *fmt, ...)
{
    va_list ap;
    f->code = PX_EINVALID;
    f->discriminator = false;
    snprintf(f->path, sizeof(f->path), "%s", c->path);
    snprintf(f->field, sizeof(f->field), "%s", c->path);
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- RFC 3339 date-time ---- */

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static bool is_date_time(const char *s)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec;
    if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &sec))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap)
        return false;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
        return true;
    int oh, om;
    return (*p == '+' || *p == '-') && digits(p + 1, 2, &oh) && p[3] == ':' &&
           digits(p + 4, 2, &om) && p[6] == '\0' && oh <= 23 && om <= 59;
}

/* ---- validation ---- */

static int v_schema(struct vctx *c, struct json_object *schema, struct json_object *value,
                    struct vfail *f);

static bool type_matches(const char *t, struct json_object *v)
{
    enum json_type jt = json_object_get_type(v);
    if (strcmp(t, "object") == 0)
        return jt == json_type_object;
    if (strcmp(t, "array") == 0)
        return jt == json_type_array;
    if (strcmp(t, "string") == 0)
        return jt == json_type_string;
    if (strcmp(t, "integer") == 0)
        return is_integral(v);
    if (strcmp(t, "number") == 0)
        return is_number(v);
    if (strcmp(t, "boolean") == 0)
        return jt == json_type_boolean;
    if (strcmp(t, "null") == 0)
        return jt == json_type_null;
    return false;
}

static const char *type_noun(const char *t)
{
    static const struct {
        const char *type, *noun;
    } nouns[] = {{"object", "an object"},   {"array", "an array"},  {"string", "a string"},
                 {"integer", "an integer"}, {"number", "a number"}, {"boolean", "a boolean"},
                 {"null", "null"}};
    for (size_t i = 0; i < sizeof(nouns) / sizeof(nouns[0]); i++)
        if (strcmp(nouns[i].type, t) == 0)
            return nouns[i].noun;
    return t;
}

static int v_type(struct vctx *c, struct json_object *type, struct json_object *value,
                  struct vfail *f)
{
    char want[128] = "";
    size_t len = 0;
    char got[64];
    if (json_object_is_type(type, json_type_string)) {
        if (type_matches(json_object_get_string(type), value))
            return 0;
        appendf(want, sizeof(want), &len, "%s", type_noun(json_object_get_string(type)));
    } else {
        size_t n = json_object_array_length(type);
        for (size_t i = 0; i < n; i++)
            if (type_matches(json_object_get_string(json_object_array_get_idx(type, i)), value))
                return 0;
        for (size_t i = 0; i < n; i++) {
            const char *t = json_object_get_string(json_object_array_get_idx(type, i));
            appendf(want, sizeof(want), &len, "%s%s",
                    i == 0       ? ""
                    : i + 1 == n ? " or "
                                 : ", ",
                    type_noun(t));
        }
    }
    fmt_value(value, true, got, sizeof(got));
    return fail(c, f, "must be %s, got %s", want, got);
}

static int v_enum(struct vctx *c, struct json_object *list, struct json_object *value,
                  struct vfail *f)
{
    size_t n = json_object_array_length(list);
    for (size_t i = 0; i < n; i++)
        if (json_eq(json_object_array_get_idx(list, i), value))
            return 0;
    char want[480] = "", item[64], got[64];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        fmt_value(json_object_array_get_idx(list, i), false, item, sizeof(item));
        if (!list_add(want, sizeof(want), &len, item)) {
            appendf(want, sizeof(want), &len, ", ...");
            break;
        }
    }
    fmt_value(value, true, got, sizeof(got));
    fail(c, f, "must be one of %s; got %s", want, got);
    f->discriminator = true;
    return -1;
}

static int v_number(struct vctx *c, struct json_object *schema, struct json_object *value,
                    struct vfail *f)
{
    struct json_object *min = kw(schema, "minimum");
    struct json_object *max = kw(schema, "maximum");
    struct json_object *xmin = kw(schema, "exclusiveMinimum");
    struct json_object *xmax = kw(schema, "exclusiveMaximum");
    bool ok = (!min || num_cmp(value, min) >= 0) && (!max || num_cmp(value, max) <= 0) &&
              (!xmin || num_cmp(value, xmin) > 0) && (!xmax || num_cmp(value, xmax) < 0);
    if (ok)
        return 0;
    struct json_object *type = kw(schema, "type");
    bool integer = type && json_object_is_type(type, json_type_string) &&
                   strcmp(json_object_get_string(type), "integer") == 0;
    char desc[200] = "", a[40], b[40], got[64];
    size_t len = 0;
    fmt_value(value, true, got, sizeof(got));
    if (min && max && !xmin && !xmax) {
        fmt_num(min, a, sizeof(a));
        fmt_num(max, b, sizeof(b));
        return fail(c, f, "must be %s between %s and %s, got %s",
                    integer ? "an integer" : "a number", a, b, got);
    }
    struct {
        struct json_object *bound;
        const char *words;
    } parts[] = {{min, "at least"}, {xmin, "greater than"}, {max, "at most"}, {xmax, "less than"}};
    for (size_t i = 0; i < 4; i++) {
        if (!parts[i].bound)
            continue;
        fmt_num(parts[i].bound, a, sizeof(a));
        appendf(desc, sizeof(desc), &len, "%s%s %s", len ? " and " : "", parts[i].words, a);
    }
    return fail(c, f, "must be %s, got %s", desc, got);
}

static int v_string(struct vctx *c, struct json_object *schema, struct json_object *value,
                    struct vfail *f)
{
    const char *s = json_object_get_string(value);
    struct json_object *kmin = kw(schema, "minLength");
    struct json_object *kmax = kw(schema, "maxLength");
    char got[64];
    if (kmin || kmax) {
        int64_t n = (int64_t)px_utf8_len(s);
        int64_t lo = kmin ? json_object_get_int64(kmin) : 0;
        int64_t hi = kmax ? json_object_get_int64(kmax) : INT64_MAX;
        if (n < lo || n > hi) {
            if (n == 0 && lo == 1)
                return fail(c, f, "must not be empty");
            if (kmin && kmax && lo > 0)
                return fail(c, f,
                            "must be between %" PRId64 " and %" PRId64
                            " characters long, got %" PRId64,
                            lo, hi, n);
            if (n < lo)
                return fail(c, f, "must be at least %" PRId64 " %s long, got %" PRId64, lo,
                            plural(lo, "character", "characters"), n);
            return fail(c, f, "must be at most %" PRId64 " %s long, got %" PRId64, hi,
                        plural(hi, "character", "characters"), n);
        }
    }
    struct json_object *pattern = kw(schema, "pattern");
    if (pattern) {
        regex_t re;
        const char *p = json_object_get_string(pattern);
        if (regcomp(&re, p, REG_EXTENDED | REG_NOSUB) != 0) {
            fail(c, f, "schema error: pattern %s does not compile", p);
            f->code = PX_EINTERNAL;
            return -1;
        }
        int rc = regexec(&re, s, 0, NULL, 0);
        regfree(&re);
        if (rc != 0) {
            fmt_value(value, true, got, sizeof(got));
            return fail(c, f, "must match the pattern %s, got %s", p, got);
        }
    }
    const char *format = px_json_get_str(schema, "format");
    if (format && strcmp(format, "date-time") == 0 && !is_date_time(s)) {
        fmt_value(value, true, got, sizeof(got));
        return fail(c, f, "must be an RFC 3339 date-time such as 2024-05-01T12:00:00Z, got %s",
                    got);
    }
    return 0;
}

static int v_array(struct vctx *c, struct json_object *schema, struct json_object *value,
                   struct vfail *f)
{
    int64_t n = (int64_t)json_object_array_length(value);
    struct json_object *kmin = kw(schema, "minItems");
    struct json_object *kmax = kw(schema, "maxItems");
    if (kmin && n < json_object_get_int64(kmin)) {
        int64_t lo = json_object_get_int64(kmin);
        if (n == 0)
            return fail(c, f, "must not be empty (at least %" PRId64 " %s)", lo,
                        plural(lo, "item", "items"));
        return fail(c, f, "must contain at least %" PRId64 " %s, got %" PRId64, lo,
                    plural(lo, "item", "items"), n);
    }
    if (kmax && n > json_object_get_int64(kmax)) {
        int64_t hi = json_object_get_int64(kmax);
        return fail(c, f, "must contain at most %" PRId64 " %s, got %" PRId64, hi,
                    plural(hi, "item", "items"), n);
    }
    struct json_object *items = kw(schema, "items");
    for (int64_t i = 0; items && i < n; i++) {
        size_t old = path_push_index(c, (size_t)i);
        int rc = v_schema(c, items, json_object_array_get_idx(value, (size_t)i), f);
        path_pop(c, old);
        if (rc < 0)
            return rc;
    }
    if (px_json_get_bool(schema, "uniqueItems", false)) {
        for (int64_t i = 1; i < n; i++) {
            struct json_object *vi = json_object_array_get_idx(value, (size_t)i);
            for (int64_t j = 0; j < i; j++) {
                if (json_eq(vi, json_object_array_get_idx(value, (size_t)j))) {
                    char got[64];
                    fmt_value(vi, true, got, sizeof(got));
                    return fail(c, f,
                                "must not contain duplicates: item [%" PRId64
                                "] repeats item [%" PRId64 "] (%s)",
                                i, j, got);
                }
            }
        }
    }
    return 0;
}

/* The "did you mean" candidate among the schema's properties, or NULL. */
static const char *closest_property(struct json_object *props, const char *key)
{
    const char *best = NULL;
    size_t best_d = strlen(key) >= 5 ? 3 : 2; /* accept distance 2, or 1 for short keys */
    json_object_object_foreach(props, name, sub)
    {
        (void)sub;
        size_t d = edit_distance(key, name, 2);
        if (d < best_d) {
            best_d = d;
            best = name;
        }
    }
    return best;
}

static int v_unknown(struct vctx *c, struct json_object *props, const char *key, struct vfail *f)
{
    char allowed[400] = "";
    size_t len = 0;
    if (props) {
        json_object_object_foreach(props, name, sub)
        {
            (void)sub;
            if (!list_add(allowed, sizeof(allowed), &len, name)) {
                appendf(allowed, sizeof(allowed), &len, ", ...");
                break;
            }
        }
    }
    char *k = short_key(key);
    const char *word = member_word(c);
    if (!len) {
        fail(c, f, "unknown %s '%s' (this object takes no %s)", word, k, members_word(c));
    } else {
        const char *near = closest_property(props, key);
        if (near)
            fail(c, f, "unknown %s '%s' (allowed: %s); did you mean '%s'?", word, k, allowed, near);
        else
            fail(c, f, "unknown %s '%s' (allowed: %s)", word, k, allowed);
    }
    free(k);
    fail_member(c, f, key);
    return -1;
}

static int v_object(struct vctx *c, struct json_object *schema, struct json_object *value,
                    struct vfail *f)
{
    struct json_object *props = kw(schema, "properties");
    struct json_object *addl = kw(schema, "additionalProperties");
    /* Unknown members first: the list of allowed names usually explains a missing one too. */
    if (addl && json_object_is_type(addl, json_type_boolean) && !json_object_get_boolean(addl)) {
        json_object_object_foreach(value, key, v)
        {
            (void)v;
            if (!(props && json_object_object_get_ex(props, key, NULL)))
                return v_unknown(c, props, key, f);
        }
    }
    struct json_object *required = kw(schema, "required");
    size_t nreq = required ? json_object_array_length(required) : 0;
    for (size_t i = 0; i < nreq; i++) {
        const char *name = json_object_get_string(json_object_array_get_idx(required, i));
        if (!json_object_object_get_ex(value, name, NULL)) {
            fail(c, f, "missing required %s '%s'", member_word(c), name);
            fail_member(c, f, name);
            return -1;
        }
    }
    json_object_object_foreach(value, key, v)
    {
        struct json_object *sub = NULL;
        if (!(props && json_object_object_get_ex(props, key, &sub))) {
            if (!addl || json_object_is_type(addl, json_type_boolean))
                continue;
            sub = addl;
        }
        size_t old = path_push_key(c, key);
        int rc = v_schema(c, sub, v, f);
        path_pop(c, old);
        if (rc < 0)
            return rc;
    }
    struct json_object *kmin = kw(schema, "minProperties");
    if (kmin) {
        int64_t lo = json_object_get_int64(kmin), n = json_object_object_length(value);
        if (n < lo) {
            if (n == 0)
                return fail(c, f, "must not be empty (at least %" PRId64 " %s)", lo,
                            plural(lo, "entry", "entries"));
            return fail(c, f, "must have at least %" PRId64 " %s, got %" PRId64, lo,
                        plural(lo, "entry", "entries"), n);
        }
    }
    return 0;
}

/* True when a subschema is only {"required": [one name]} (plus annotations): the idiom for
 * "one of these properties must be given". Stores the name. */
static bool required_only(struct json_object *schema, const char **name_out)
{
    if (!json_object_is_type(schema, json_type_object))
        return false;
    struct json_object *req = NULL;
    json_object_object_foreach(schema, key, v)
    {
        if (strcmp(key, "required") == 0)
            req = v;
        else if (strcmp(key, "title") != 0 && strcmp(key, "description") != 0 &&
                 strcmp(key, "$comment") != 0)
            return false;
    }
    if (!req || json_object_array_length(req) != 1)
        return false;
    *name_out = json_object_get_string(json_object_array_get_idx(req, 0));
    return true;
}

/* The message of a branch failure relative to the current path (for combined messages). */
static void rel_msg(const struct vctx *c, const struct vfail *bf, char *out, size_t cap)
{
    const char *p = bf->path;
    if (strncmp(p, c->path, c->len) == 0)
        p += c->len;
    if (*p == '.')
        p++;
    if (*p)
        snprintf(out, cap, "%s: %s", p, bf->msg);
    else
        snprintf(out, cap, "%s", bf->msg);
}

static int v_alternatives(struct vctx *c, struct json_object *list, bool one,
                          struct json_object *value, struct vfail *f)
{
    size_t n = json_object_array_length(list);
    struct vfail *bf = px_xcalloc(n, sizeof(*bf));
    size_t matched = 0, first = 0, second = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (v_schema(c, json_object_array_get_idx(list, i), value, &bf[i]) == 0) {
            if (matched == 0)
                first = i;
            else if (matched == 1)
                second = i;
            matched++;
        } else if (bf[i].code == PX_EINTERNAL) {
            *f = bf[i];
            rc = -1;
            goto out;
        }
    }
    if (matched == 1 || (matched > 1 && !one))
        goto out;
    rc = -1;

    /* {"oneOf": [{"required": ["table"]}, {"required": ["query"]}]} and its anyOf form. */
    char names[400] = "";
    size_t len = 0;
    bool simple = true;
    for (size_t i = 0; i < n && simple; i++) {
        const char *name = NULL;
        simple = required_only(json_object_array_get_idx(list, i), &name);
        if (simple)
            appendf(names, sizeof(names), &len, "%s'%s'", i ? ", " : "", name);
    }
    if (simple) {
        if (matched > 1)
            fail(c, f, "must have only one of the %s %s, not several", members_word(c), names);
        else if (one)
            fail(c, f, "must have exactly one of the %s %s; none is given", members_word(c), names);
        else
            fail(c, f, "must have at least one of the %s %s; none is given", members_word(c),
                 names);
        goto out;
    }
    if (matched > 1) {
        fail(c, f,
             "matches more than one of the allowed forms (%zu and %zu) but must match exactly "
             "one",
             first + 1, second + 1);
        goto out;
    }
    /* Nothing matched. Branches that failed only on a const/enum were meant for another kind
     * of value; if exactly one branch failed for a more substantial reason, that is the one
     * the caller was aiming at. */
    size_t real = 0, last = 0;
    for (size_t i = 0; i < n; i++)
        if (!bf[i].discriminator) {
            real++;
            last = i;
        }
    if (real == 1) {
        *f = bf[last];
        goto out;
    }
    char msg[sizeof(f->msg)] = "", part[sizeof(f->msg)];
    len = 0;
    appendf(msg, sizeof(msg), &len, "must match one of %zu allowed forms:", n);
    for (size_t i = 0; i < n; i++) {
        rel_msg(c, &bf[i], part, sizeof(part));
        appendf(msg, sizeof(msg), &len, " (%zu) %s%s", i + 1, part, i + 1 < n ? ";" : "");
    }
    fail(c, f, "%s", msg);
out:
    free(bf);
    return rc;
}

static int v_schema(struct vctx *c, struct json_object *schema, struct json_object *value,
                    struct vfail *f)
{
    if (json_object_is_type(schema, json_type_boolean)) {
        if (json_object_get_boolean(schema))
            return 0;
        return fail(c, f, "is not allowed here");
    }
    struct json_object *k;
    if ((k = kw(schema, "type")) && v_type(c, k, value, f) < 0)
        return -1;
    if (json_object_object_get_ex(schema, "const", &k)) {
        if (!json_eq(k, value)) {
            char want[64], got[64];
            fmt_value(k, true, want, sizeof(want));
            fmt_value(value, true, got, sizeof(got));
            fail(c, f, "must be %s, got %s", want, got);
            f->discriminator = true;
            return -1;
        }
    }
    if ((k = kw(schema, "enum")) && v_enum(c, k, value, f) < 0)
        return -1;
    switch (json_object_get_type(value)) {
    case json_type_int:
    case json_type_double:
        if (v_number(c, schema, value, f) < 0)
            return -1;
        break;
    case json_type_string:
        if (v_string(c, schema, value, f) < 0)
            return -1;
        break;
    case json_type_array:
        if (v_array(c, schema, value, f) < 0)
            return -1;
        break;
    case json_type_object:
        if (v_object(c, schema, value, f) < 0)
            return -1;
        break;
    default:
        break;
    }
    if ((k = kw(schema, "anyOf")) && v_alternatives(c, k, false, value, f) < 0)
        return -1;
    if ((k = kw(schema, "oneOf")) && v_alternatives(c, k, true, value, f) < 0)
        return -1;
    return 0;
}

/* ---- schema check ---- */

/* Check state: a JSON pointer to the schema being looked at. */
struct cctx {
    char ptr[PATH_MAX_LEN];
    size_t len;
    struct px_error *err;
};

static size_t ptr_push(struct cctx *c, const char *seg)
{
    size_t old = c->len;
    appendf(c->ptr, sizeof(c->ptr), &c->len, "/");
    for (const char *p = seg; *p; p++) {
        if (*p == '~')
            appendf(c->ptr, sizeof(c->ptr), &c->len, "~0");
        else if (*p == '/')
            appendf(c->ptr, sizeof(c->ptr), &c->len, "~1");
        else
            appendf(c->ptr, sizeof(c->ptr), &c->len, "%c", *p);
    }
    return old;
}

static size_t ptr_push_index(struct cctx *c, size_t i)
{
    size_t old = c->len;
    appendf(c->ptr, sizeof(c->ptr), &c->len, "/%zu", i);
    return old;
}

static void ptr_pop(struct cctx *c, size_t old)
{
    c->len = old;
    c->ptr[old] = '\0';
}

__attribute__((format(printf, 2, 3))) static int cfail(struct cctx *c, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int rc = px_error_set(c->err, PX_EINVALID, "schema error at %s: %s",
                          c->len ? c->ptr : "the root", msg);
    px_error_field(c->err, c->len ? c->ptr : "/");
    return rc;
}

static int c_schema(struct cctx *c, struct json_object *schema, int depth);

static bool is_type_name(const char *t)
{
    static const char *const names[] = {"object", "array",   "string", "integer",
                                        "number", "boolean", "null"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(names[i], t) == 0)
            return true;
    return false;
}

static int c_type(struct cctx *c, struct json_object *v)
{
    if (json_object_is_type(v, json_type_string)) {
        if (!is_type_name(json_object_get_string(v)))
            return cfail(c,
                         "unknown type '%s' (allowed: object, array, string, integer, "
                         "number, boolean, null)",
                         json_object_get_string(v));
        return 0;
    }
    if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0)
        return cfail(c, "'type' must be a type name or a non-empty array of type names");
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        struct json_object *t = json_object_array_get_idx(v, i);
        if (!json_object_is_type(t, json_type_string) || !is_type_name(json_object_get_string(t)))
            return cfail(c, "'type' item [%zu] is not a type name", i);
    }
    return 0;
}

static int c_string_array(struct cctx *c, const char *key, struct json_object *v)
{
    if (!json_object_is_type(v, json_type_array))
        return cfail(c, "'%s' must be an array of strings", key);
    size_t n = json_object_array_length(v);
    for (size_t i = 0; i < n; i++) {
        struct json_object *s = json_object_array_get_idx(v, i);
        if (!json_object_is_type(s, json_type_string))
            return cfail(c, "'%s' item [%zu] must be a string", key, i);
        for (size_t j = 0; j < i; j++)
            if (json_eq(s, json_object_array_get_idx(v, j)))
                return cfail(c, "'%s' lists '%s' twice", key, json_object_get_string(s));
    }
    return 0;
}

static int c_alternatives(struct cctx *c, const char *key, struct json_object *v, int depth)
{
    if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0)
        return cfail(c, "'%s' must be a non-empty array of schemas", key);
    size_t old = ptr_push(c, key);
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        size_t old2 = ptr_push_index(c, i);
        int rc = c_schema(c, json_object_array_get_idx(v, i), depth + 1);
        ptr_pop(c, old2);
        if (rc < 0)
            return rc;
    }
    ptr_pop(c, old);
    return 0;
}

/* Checks one keyword of a schema object. */
static int c_keyword(struct cctx *c, const char *key, struct json_object *v, int depth)
{
    static const char *const counts[] = {"minLength", "maxLength", "minItems", "maxItems",
                                         "minProperties"};
    static const char *const bounds[] = {"minimum", "maximum", "exclusiveMinimum",
                                         "exclusiveMaximum"};
    static const char *const texts[] = {"title", "description", "$schema", "$comment", "format"};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
        if (strcmp(key, counts[i]) == 0) {
            if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
                return cfail(c, "'%s' must be a non-negative integer", key);
            return 0;
        }
    for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++)
        if (strcmp(key, bounds[i]) == 0) {
            if (!is_number(v))
                return cfail(c, "'%s' must be a number", key);
            return 0;
        }
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if (strcmp(key, texts[i]) == 0) {
            if (!json_object_is_type(v, json_type_string))
                return cfail(c, "'%s' must be a string", key);
            return 0;
        }
    if (strncmp(key, "x-", 2) == 0 || strcmp(key, "default") == 0 || strcmp(key, "const") == 0)
        return 0;
    if (strcmp(key, "examples") == 0)
        return json_object_is_type(v, json_type_array) ? 0
                                                       : cfail(c, "'examples' must be an array");
    if (strcmp(key, "readOnly") == 0 || strcmp(key, "writeOnly") == 0 ||
        strcmp(key, "uniqueItems") == 0)
        return json_object_is_type(v, json_type_boolean)
                   ? 0
                   : cfail(c, "'%s' must be true or false", key);
    if (strcmp(key, "type") == 0)
        return c_type(c, v);
    if (strcmp(key, "required") == 0)
        return c_string_array(c, key, v);
    if (strcmp(key, "enum") == 0) {
        if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0)
            return cfail(c, "'enum' must be a non-empty array");
        return 0;
    }
    if (strcmp(key, "pattern") == 0) {
        if (!json_object_is_type(v, json_type_string))
            return cfail(c, "'pattern' must be a string");
        regex_t re;
        if (regcomp(&re, json_object_get_string(v), REG_EXTENDED | REG_NOSUB) != 0)
            return cfail(c, "'pattern' %s is not a valid POSIX extended regular expression",
                         json_object_get_string(v));
        regfree(&re);
        return 0;
    }
    if (strcmp(key, "properties") == 0) {
        if (!json_object_is_type(v, json_type_object))
            return cfail(c, "'properties' must be an object of schemas");
        size_t old = ptr_push(c, "properties");
        json_object_object_foreach(v, name, sub)
        {
            size_t old2 = ptr_push(c, name);
            int rc = c_schema(c, sub, depth + 1);
            ptr_pop(c, old2);
            if (rc < 0)
                return rc;
        }
        ptr_pop(c, old);
        return 0;
    }
    if (strcmp(key, "additionalProperties") == 0 || strcmp(key, "items") == 0) {
        size_t old = ptr_push(c, key);
        int rc = c_schema(c, v, depth + 1);
        ptr_pop(c, old);
        return rc;
    }
    if (strcmp(key, "anyOf") == 0 || strcmp(key, "oneOf") == 0)
        return c_alternatives(c, key, v, depth);
    return cfail(c, "unsupported keyword '%s'", key);
}

static int c_schema(struct cctx *c, struct json_object *schema, int depth)
{
    if (json_object_is_type(schema, json_type_boolean))
        return 0;
    if (!json_object_is_type(schema, json_type_object))
        return cfail(c, "a schema must be an object or a boolean");
    if (depth > MAX_DEPTH)
        return cfail(c, "schema nesting is deeper than %d", MAX_DEPTH);
    json_object_object_foreach(schema, key, v)
    {
        int rc = c_keyword(c, key, v, depth);
        if (rc < 0)
            return rc;
    }
    /* A required name that no property allows can never be satisfied. */
    struct json_object *required = kw(schema, "required");
    struct json_object *props = kw(schema, "properties");
    struct json_object *addl = kw(schema, "additionalProperties");
    if (required && addl && json_object_is_type(addl, json_type_boolean) &&
        !json_object_get_boolean(addl)) {
        for (size_t i = 0; i < json_object_array_length(required); i++) {
            const char *name = json_object_get_string(json_object_array_get_idx(required, i));
            if (!(props && json_object_object_get_ex(props, name, NULL)))
                return cfail(c,
                             "required property '%s' is not listed in 'properties' and "
                             "additionalProperties is false",
                             name);
        }
    }
    /* A default must itself be valid, or clients that fill it in would fail. */
    struct json_object *def = NULL;
    if (json_object_object_get_ex(schema, "default", &def)) {
        struct vctx vc = {.path = "default", .len = 7, .root_len = 7};
        struct vfail f = {0};
        if (v_schema(&vc, schema, def, &f) < 0)
            return cfail(c, "the default value is not valid: %s: %s", f.path, f.msg);
    }
    return 0;
}

/* ---- public ---- */

int px_schema_check(struct json_object *schema, struct px_error *err)
{
    struct cctx c = {.err = err};
    return c_schema(&c, schema, 0);
}

int px_schema_validate(struct json_object *schema, struct json_object *value, const char *root_name,
                       struct px_error *err)
{
    /* The schema was checked once when it was loaded (px_schema_check); re-checking it here
     * would compile every pattern again on every call. */
    if (!root_name)
        root_name = "";
    struct vctx c = {.len = 0};
    appendf(c.path, sizeof(c.path), &c.len, "%s", root_name);
    c.root_len = c.len;
    c.arguments = !*root_name || strcmp(root_name, "arguments") == 0;
    struct vfail f = {0};
    if (v_schema(&c, schema, value, &f) == 0)
        return 0;
    int rc;
    if (f.path[0])
        rc = px_error_set(err, f.code, "%s: %s", f.path, f.msg);
    else
        rc = px_error_set(err, f.code, "%s", f.msg);
    px_error_field(err, f.field);
    return rc;
}
