/*
 * A JSON Schema (2020-12 subset) validator for the schemas we publish ourselves: tool
 * inputSchemas, connection-type params and node-type configs. It is not a general validator;
 * it supports exactly the keywords listed below and rejects a schema that uses any other
 * keyword (so a typo in a spec fails loudly in tests instead of validating nothing).
 *
 * Supported: type (string or array of: object, array, string, integer, number, boolean, null),
 * properties, required, additionalProperties (boolean or schema), items, enum, const,
 * minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength (code points),
 * pattern (POSIX ERE, anchored as written), minItems, maxItems, uniqueItems, minProperties,
 * anyOf, oneOf, format ("date-time" is checked; others are annotations), and the boolean
 * schemas true and false. Annotations ignored: title, description, default, examples,
 * readOnly, writeOnly, $schema, $comment, and any "x-" keyword.
 */
#ifndef PX_BASE_SCHEMA_H
#define PX_BASE_SCHEMA_H

#include <json-c/json.h>

struct px_error;

/* Validates value against schema, which must have passed px_schema_check once (callers
 * check when they load a schema, not on every call). Returns 0, or -PX_EINVALID with err->message
 * saying where, what was wrong and what is expected, e.g. "limit: must be an integer between 1 and
 * 100, got 500" "graph.nodes[2].config: unknown property 'tabel' (allowed: table, query); did you
 * mean 'table'?" "graph.nodes[1]: missing required property 'type'" "status: must be one of active,
 * paused; got \"running\"" Paths are root_name, then ".prop" and "[i]"
 * ("graph.nodes[2].config.table"); with root_name
 * "" the first segment has no leading dot. err->field is the path of the offending value, or
 * of the member itself when a member is missing or unknown ("graph.nodes[1].type"). When
 * root_name is "" or "arguments" (tool calls), top-level members are called "arguments" in
 * messages. Echoed values are cut to about 40 bytes. Reports the first error found. A schema
 * that px_schema_check refuses gives -PX_EINTERNAL. Safe to call from several threads on the
 * same schema (the schema is only read). */
int px_schema_validate(struct json_object *schema, struct json_object *value, const char *root_name,
                       struct px_error *err);

/* Checks that a schema only uses supported keywords with well-formed values (patterns compile,
 * "default" values are valid, names in "required" exist when additionalProperties is false).
 * Used at load time and by tests over every shipped schema. Returns 0 or -PX_EINVALID naming
 * the problem, with err->field the JSON pointer of the subschema ("/properties/limit"). */
int px_schema_check(struct json_object *schema, struct px_error *err);

#endif
