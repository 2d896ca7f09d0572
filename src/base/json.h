/*
 * Small helpers over json-c. Ownership follows json-c: json_object_get/put refcounts; strings
 * returned by the getters below are borrowed from the object and live as long as it does.
 */
#ifndef PX_BASE_JSON_H
#define PX_BASE_JSON_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct px_buf;
struct px_error;

/* Parses text (exactly len bytes) with a nesting limit; returns an owned object or NULL with err
 * set (PX_EINVALID, saying where parsing failed). Valid JSON that json-c would change is
 * refused too: a NUL (\u0000) in any string or member name (C code would read a shorter
 * string) and an integer beyond 64 bits (json-c saturates it to another number). */
struct json_object *px_json_parse(const char *text, size_t len, int max_depth,
                                  struct px_error *err);
/* px_json_parse with flags: PX_JSON_ALLOW_NUL keeps strings with NUL (to find the id of a
 * request refused for one). */
#define PX_JSON_ALLOW_NUL 1u
struct json_object *px_json_parse_ex(const char *text, size_t len, int max_depth, unsigned flags,
                                     struct px_error *err);
/* Compact serialization, borrowed from obj (valid until obj changes or is freed). */
const char *px_json_str(struct json_object *obj);
/* Member accessors: NULL/def when missing or of another type. */
const char *px_json_get_str(struct json_object *obj, const char *key);
int64_t px_json_get_int(struct json_object *obj, const char *key, int64_t def);
bool px_json_get_bool(struct json_object *obj, const char *key, bool def);
struct json_object *px_json_get(struct json_object *obj, const char *key);
/* Adds key → value to obj, taking ownership of value (json-c semantics). */
void px_json_set(struct json_object *obj, const char *key, struct json_object *value);
/* Adds a string member (copied); NULL adds JSON null. */
void px_json_set_str(struct json_object *obj, const char *key, const char *value);
void px_json_set_int(struct json_object *obj, const char *key, int64_t value);
void px_json_set_bool(struct json_object *obj, const char *key, bool value);
/* Adds an RFC 3339 time member from ms since the epoch; ms <= 0 adds JSON null. */
void px_json_set_time(struct json_object *obj, const char *key, int64_t ms);
/* Appends s (UTF-8) to b as a JSON string literal, quotes included, escaped as px_json_str
 * does (", \\ and control characters; '/' and non-ASCII as they are). */
void px_json_write_str(struct px_buf *b, const char *s);
/* A JSON value rendered elsewhere, carried as a json_object without being parsed: serializing
 * it (px_json_str, or as part of a larger value) gives text (owned; must be valid JSON). It has
 * no members to read: parse the text when a caller needs them. */
struct json_object *px_json_raw(char *text);
/* Appends the JSON text of v (NULL → null): a px_json_raw value's text as it is, anything
 * else serialized as px_json_str does. */
void px_json_write_value(struct px_buf *b, struct json_object *v);
/* Deep equality of two JSON values. */
bool px_json_equal(struct json_object *a, struct json_object *b);

#endif
