/*
 * A JSON Schema (2020-12 subset) validator for the schemas we publish ourselves: tool
 * inputSchemas, connection-type params and node-type configs. It is not a general validator;
 * it supports exactly the keywords listed below and rejects a schema that uses any other
 * keyword (so a typo in a spec fails loudly in tests instead of validating nothing).
 *
 * Supported: type (string or array of: object, array, string, integer, number, boolean, null),
 * properties, required, additionalProperties (boolean or schema), items, enum, const,
 * minimum, maximum, exclusiveMinimum, minLength, maxLength (code points), pattern (POSIX ERE,
 * anchored as written), minItems, maxItems, uniqueItems, minProperties, anyOf, oneOf,
 * format ("date-time" is checked; others are annotations). Annotations ignored: title,
 * description, default, examples, readOnly, writeOnly, $schema, $comment, and any "x-" keyword.
 */
#ifndef PX_BASE_SCHEMA_H
#define PX_BASE_SCHEMA_H

#include <json-c/json.h>

struct px_error;

/* Validates value against schema. Returns 0, or -PX_EINVALID with err->field set to the path
 * of the offending value (e.g. "graph.nodes[2].config.table"; root_name is the path's first
 * segment, "" for none) and err->message saying what was wrong and what is expected, e.g.
 * "graph.nodes[2].config: unknown property 'tabel' (expected one of: table, query)" or
 * "limit: must be an integer between 1 and 100, got 500". Reports the first error found. */
int px_schema_validate(struct json_object *schema, struct json_object *value,
                       const char *root_name, struct px_error *err);

/* Checks that a schema only uses supported keywords (used by tests over every shipped schema).
 * Returns 0 or -PX_EINVALID naming the unsupported keyword and its path. */
int px_schema_check(struct json_object *schema, struct px_error *err);

#endif
