/* json-c helpers: see json.h. */
#include "base/json.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"

#include <string.h>

struct json_object *px_json_parse(const char *text, size_t len, int max_depth, struct px_error *err)
{
    if (len > (size_t)INT32_MAX) {
        px_error_set(err, PX_ETOOLARGE, "JSON text is too large");
        return NULL;
    }
    struct json_tokener *tok = json_tokener_new_ex(max_depth);
    if (!tok) {
        px_error_set(err, PX_ENOMEM, "out of memory");
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    struct json_object *obj = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    if (jerr == json_tokener_continue) {
        px_error_set(err, PX_EINVALID, "JSON text ends early (unterminated value)");
        json_object_put(obj);
        obj = NULL;
    } else if (jerr != json_tokener_success) {
        px_error_set(err, PX_EINVALID, "JSON parse error at byte %zu: %s",
                     json_tokener_get_parse_end(tok), json_tokener_error_desc(jerr));
        json_object_put(obj);
        obj = NULL;
    } else if (json_tokener_get_parse_end(tok) < len) {
        size_t end = json_tokener_get_parse_end(tok);
        while (end < len && strchr(" \t\r\n", text[end]))
            end++;
        if (end < len) {
            px_error_set(err, PX_EINVALID, "unexpected data after the JSON value at byte %zu", end);
            json_object_put(obj);
            obj = NULL;
        }
    }
    json_tokener_free(tok);
    return obj;
}

const char *px_json_str(struct json_object *obj)
{
    return json_object_to_json_string_ext(obj,
                                          JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

struct json_object *px_json_get(struct json_object *obj, const char *key)
{
    struct json_object *v = NULL;
    if (obj && json_object_is_type(obj, json_type_object))
        json_object_object_get_ex(obj, key, &v);
    return v;
}

const char *px_json_get_str(struct json_object *obj, const char *key)
{
    struct json_object *v = px_json_get(obj, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int64_t px_json_get_int(struct json_object *obj, const char *key, int64_t def)
{
    struct json_object *v = px_json_get(obj, key);
    return v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : def;
}

bool px_json_get_bool(struct json_object *obj, const char *key, bool def)
{
    struct json_object *v = px_json_get(obj, key);
    return v && json_object_is_type(v, json_type_boolean) ? json_object_get_boolean(v) : def;
}

void px_json_set(struct json_object *obj, const char *key, struct json_object *value)
{
    json_object_object_add(obj, key, value);
}

void px_json_set_str(struct json_object *obj, const char *key, const char *value)
{
    json_object_object_add(obj, key, value ? json_object_new_string(value) : NULL);
}

void px_json_set_int(struct json_object *obj, const char *key, int64_t value)
{
    json_object_object_add(obj, key, json_object_new_int64(value));
}

void px_json_set_bool(struct json_object *obj, const char *key, bool value)
{
    json_object_object_add(obj, key, json_object_new_boolean(value));
}

void px_json_set_time(struct json_object *obj, const char *key, int64_t ms)
{
    if (ms <= 0) {
        json_object_object_add(obj, key, NULL);
        return;
    }
    char buf[40];
    px_time_format(ms, buf, sizeof(buf));
    json_object_object_add(obj, key, json_object_new_string(buf));
}

bool px_json_equal(struct json_object *a, struct json_object *b)
{
    return json_object_equal(a, b) != 0;
}

/* Output bytes per input byte: 1, 2 for \" \\ \n \r \t \b \f, 6 for other controls. */
static const unsigned char esc_len[256] = {
    6, 6, 6, 6, 6, 6, 6, 6, 2, 2, 2, 6, 2, 2, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

void px_json_write_str(struct px_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    /* Two table-driven passes: size the output exactly, then copy the runs between escapes in
     * place (list pages and tool results are quote-dense JSON). */
    const unsigned char *in = (const unsigned char *)s;
    size_t n = 0, out = 2;
    for (; in[n]; n++)
        out += esc_len[in[n]];
    if (px_buf_reserve(b, out))
        return;
    char *o = b->data + b->len;
    *o++ = '"';
    if (out == n + 2) {
        memcpy(o, s, n);
        o += n;
    } else {
        size_t run = 0;
        for (size_t k = 0; k < n; k++) {
            unsigned char c = in[k];
            if (esc_len[c] == 1)
                continue;
            memcpy(o, in + run, k - run);
            o += k - run;
            run = k + 1;
            *o++ = '\\';
            switch (c) {
            case '\n':
                *o++ = 'n';
                break;
            case '\r':
                *o++ = 'r';
                break;
            case '\t':
                *o++ = 't';
                break;
            case '\b':
                *o++ = 'b';
                break;
            case '\f':
                *o++ = 'f';
                break;
            case '"':
            case '\\':
                *o++ = (char)c;
                break;
            default:
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = hex[c >> 4];
                *o++ = hex[c & 15];
            }
        }
        memcpy(o, in + run, n - run);
        o += n - run;
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
}

struct json_object *px_json_raw(char *text)
{
    struct json_object *o = json_object_new_object();
    json_object_set_serializer(o, json_object_userdata_to_json_string, text,
                               json_object_free_userdata);
    return o;
}
