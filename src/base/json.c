/* json-c helpers: see json.h. */
#include "base/json.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/swar.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Each thread keeps its last tokener (a calloc'd parse stack and buffer) for the next parse
 * of the same depth, unless the text was long (its buffer grows to the longest token); the
 * thread's exit frees it. */
#define TOK_KEEP_MAX ((size_t)64 << 10)
static pthread_key_t tok_key;
static pthread_once_t tok_once = PTHREAD_ONCE_INIT;

struct tok_slot {
    struct json_tokener *tok;
    int depth;
};

static void tok_slot_free(void *p)
{
    struct tok_slot *slot = p;
    if (slot->tok)
        json_tokener_free(slot->tok);
    free(slot);
}

static void tok_key_init(void)
{
    (void)pthread_key_create(&tok_key, tok_slot_free);
}

static struct json_tokener *thread_tokener(int max_depth)
{
    pthread_once(&tok_once, tok_key_init);
    struct tok_slot *slot = pthread_getspecific(tok_key);
    if (!slot) {
        slot = px_xcalloc(1, sizeof(*slot));
        if (pthread_setspecific(tok_key, slot)) {
            free(slot);
            return NULL;
        }
    }
    if (slot->tok && slot->depth == max_depth) {
        json_tokener_reset(slot->tok);
        return slot->tok;
    }
    if (slot->tok)
        json_tokener_free(slot->tok); /* not NULL-safe */
    slot->tok = json_tokener_new_ex(max_depth);
    slot->depth = max_depth;
    if (slot->tok)
        json_tokener_set_flags(slot->tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    return slot->tok;
}

/* True when the n digits at d (no sign, no leading zeros: JSON has none) are an integer
 * beyond what json-c keeps: above UINT64_MAX, or below INT64_MIN when negative. */
static bool int_too_big(const char *d, size_t n, bool neg)
{
    static const char umax[] = "18446744073709551615", nmin[] = "9223372036854775808";
    const char *lim = neg ? nmin : umax;
    size_t ln = neg ? sizeof(nmin) - 1 : sizeof(umax) - 1;
    return n > ln || (n == ln && memcmp(d, lim, n) > 0);
}

/* Refuses what json-c accepts but changes: a NUL (\u0000) in a string or member name (the C
 * string would end there: "list_pipelines\u0000x" would call list_pipelines) and an integer
 * outside 64 bits (json-c saturates it). text is valid JSON (json-c parsed it), so strings
 * and numbers can be told apart by a plain scan. */
static int check_text(const char *text, size_t len, unsigned flags, struct px_error *err)
{
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_str) {
            if (c == '"') {
                in_str = false;
            } else if (c == '\\') {
                if (!(flags & PX_JSON_ALLOW_NUL) && i + 5 < len && text[i + 1] == 'u' &&
                    memcmp(text + i + 2, "0000", 4) == 0)
                    return px_error_set(err, PX_EINVALID,
                                        "a string contains a NUL character (\\u0000) at byte %zu; "
                                        "names, ids and other strings must not contain NUL",
                                        i);
                i++; /* the escaped character: an escaped backslash before "u0000" is no NUL */
            }
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t start = i, d = c == '-' ? i + 1 : i;
            for (i = d; i < len && text[i] >= '0' && text[i] <= '9';)
                i++;
            bool integer = i >= len || (text[i] != '.' && text[i] != 'e' && text[i] != 'E');
            if (integer && int_too_big(text + d, i - d, c == '-'))
                return px_error_set(err, PX_EINVALID,
                                    "the integer at byte %zu has %zu digits: it does not fit in "
                                    "64 bits (send large ids and numbers as strings)",
                                    start, i - d);
            while (i < len && strchr("0123456789.eE+-", text[i]))
                i++;
            i--;
        }
    }
    return 0;
}

struct json_object *px_json_parse(const char *text, size_t len, int max_depth, struct px_error *err)
{
    return px_json_parse_ex(text, len, max_depth, 0, err);
}

struct json_object *px_json_parse_ex(const char *text, size_t len, int max_depth, unsigned flags,
                                     struct px_error *err)
{
    if (len > (size_t)INT32_MAX) {
        px_error_set(err, PX_ETOOLARGE, "JSON text is too large");
        return NULL;
    }
    struct json_tokener *tok = thread_tokener(max_depth);
    if (!tok) {
        px_error_set(err, PX_ENOMEM, "out of memory");
        return NULL;
    }
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
    if (obj && check_text(text, len, flags, err) < 0) {
        json_object_put(obj);
        obj = NULL;
    }
    if (len > TOK_KEEP_MAX) {
        struct tok_slot *slot = pthread_getspecific(tok_key);
        json_tokener_free(tok);
        slot->tok = NULL;
    }
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

/* Marks the bytes of v that need an escape: '"', '\\', below 0x20 (base/swar.h). */
static inline uint64_t escapes_in(uint64_t v)
{
    return px_swar_eq(v, '"') | px_swar_eq(v, '\\') | px_swar_lt(v, 0x20);
}

static char *put_escape(char *o, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
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
    return o;
}

/* Writes n bytes, escaping those that need it. */
static char *put_bytes(char *o, const unsigned char *in, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (esc_len[in[k]] == 1)
            *o++ = (char)in[k];
        else
            o = put_escape(o, in[k]);
    }
    return o;
}

void px_json_write_str(struct px_buf *b, const char *s)
{
    /* One pass into room for the worst case (6 bytes out per byte in); long strings, and
     * strings near the buffer's bound, are sized exactly first. Plain stretches go 8 bytes at
     * a time; list pages and tool results are quote-dense JSON, so a word with an escape in it
     * is done byte by byte. */
    const unsigned char *in = (const unsigned char *)s;
    size_t n = strlen(s), room = 6 * n + 2;
    if (n > ((size_t)8 << 10) || px_buf_reserve(b, room)) {
        room = 2;
        for (size_t k = 0; k < n; k++)
            room += esc_len[in[k]];
        if (px_buf_reserve(b, room))
            return;
    }
    char *o = b->data + b->len;
    *o++ = '"';
    size_t k = 0;
    while (k + 8 <= n) {
        uint64_t v;
        memcpy(&v, in + k, 8);
        uint64_t hit = escapes_in(v);
        memcpy(o, &v, 8); /* fits: at least n - k + 1 bytes of room are left */
        if (!hit) {
            o += 8;
            k += 8;
            continue;
        }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        /* The first byte to escape is the lowest mark; the bytes before it are already out. */
        size_t plain = (size_t)__builtin_ctzll(hit) / 8;
        o = put_escape(o + plain, in[k + plain]);
        k += plain + 1;
#else
        o = put_bytes(o, in + k, 8);
        k += 8;
#endif
    }
    o = put_bytes(o, in + k, n - k);
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

void px_json_write_value(struct px_buf *b, struct json_object *v)
{
    /* Userdata is only ever set with json_object_userdata_to_json_string as the serializer
     * (px_json_raw and the registry's pre-rendered lists): the userdata is the text. */
    const char *raw = v ? json_object_get_userdata(v) : NULL;
    const char *text = raw ? raw : v ? px_json_str(v) : "null";
    (void)px_buf_append(b, text, strlen(text));
}
