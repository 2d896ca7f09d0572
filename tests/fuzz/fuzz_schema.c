/*
 * Fuzz target: the JSON Schema validator (src/base/schema.c) on untrusted values. The input is
 * parsed as JSON (with the nesting limit the MCP layer uses) and validated against every
 * embedded tool inputSchema (src/tools/specs), which is what tools/call does with arguments.
 *
 * Invariants besides memory safety: validation of a shipped schema only ever answers 0 or
 * -PX_EINVALID (-PX_EINTERNAL would mean the schema itself was refused), a refusal carries a
 * message, and both answer and message are the same when asked twice.
 */
#include "fuzz.h"

#include "base/embed.h"
#include "base/err.h"
#include "base/json.h"
#include "base/schema.h"
#include "mcp/session.h"

#include <string.h>

#define MAX_SCHEMAS 64

static struct json_object *specs[MAX_SCHEMAS];   /* parsed specs, kept for the process */
static struct json_object *schemas[MAX_SCHEMAS]; /* borrowed from specs */
static size_t nschemas;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (size_t i = 0; i < px_embed_tool_specs_count && nschemas < MAX_SCHEMAS; i++) {
        const struct px_embed *e = &px_embed_tool_specs[i];
        struct px_error err;
        struct json_object *spec = px_json_parse(e->data, e->len, 64, &err);
        struct json_object *schema = px_json_get(spec, "inputSchema");
        if (!schema) {
            fprintf(stderr, "fuzz_schema: %s has no inputSchema\n", e->name);
            exit(1);
        }
        specs[nschemas] = spec;
        schemas[nschemas++] = schema;
    }
    if (nschemas == 0) {
        fprintf(stderr, "fuzz_schema: no embedded tool specs\n");
        exit(1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct px_error err;
    struct json_object *value = px_json_parse((const char *)data, size, PX_MCP_MAX_DEPTH, &err);
    if (!value)
        return 0;
    for (size_t i = 0; i < nschemas; i++) {
        px_error_clear(&err);
        int rc = px_schema_validate(schemas[i], value, "arguments", &err);
        FUZZ_CHECK(rc == 0 || rc == -PX_EINVALID);
        if (rc == 0)
            continue;
        FUZZ_CHECK(err.code == PX_EINVALID && err.message[0] != '\0');
        FUZZ_CHECK(memchr(err.field, '\0', sizeof(err.field)) != NULL);
        struct px_error again;
        px_error_clear(&again);
        FUZZ_CHECK(px_schema_validate(schemas[i], value, "arguments", &again) == rc);
        FUZZ_CHECK(strcmp(again.message, err.message) == 0);
        FUZZ_CHECK(px_schema_validate(schemas[i], value, "", NULL) == rc);
    }
    json_object_put(value);
    return 0;
}
