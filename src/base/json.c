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

void px_json_write_str(struct px_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    (void)px_buf_append(b, "\"", 1);
    const unsigned char *p = (const unsigned char *)s, *run = p;
    for (; *p; p++) {
        if (*p >= 0x20 && *p != '"' && *p != '\\')
            continue;
        (void)px_buf_append(b, run, (size_t)(p - run));
        char esc[6] = {'\\', (char)*p, 0, 0, 0, 0};
        size_t n = 2;
        switch (*p) {
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '"':
        case '\\':
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 15];
            n = 6;
        }
        (void)px_buf_append(b, esc, n);
        run = p + 1;
    }
    (void)px_buf_append(b, run, (size_t)(p - run));
    (void)px_buf_append(b, "\"", 1);
}

struct json_object *px_json_raw(char *text)
{
    struct json_object *o = json_object_new_object();
    json_object_set_serializer(o, json_object_userdata_to_json_string, text,
                               json_object_free_userdata);
    return o;
}
