/*
 * The connector and operator registries: one explicit array per family, sorted by name
 * (style §3.2). Entries without callbacks are catalog types this build cannot run yet; the
 * executor reports them with a clear error.
 */
#include "engine/exec_int.h"

#include <stddef.h>
#include <string.h>

static const struct px_connector *const connectors[] = {
    &px__conn_csv,   &px__conn_http,     &px__conn_jsonl,
    &px__conn_mysql, &px__conn_postgres, &px__conn_sqlite,
};

static const struct px_operator *const operators[] = {
    &px__op_aggregate, &px__op_cast,  &px__op_convert_timezone, &px__op_dedupe,
    &px__op_derive,    &px__op_drop,  &px__op_filter,           &px__op_join,
    &px__op_limit,     &px__op_mask,  &px__op_rename,           &px__op_select,
    &px__op_sort,      &px__op_union,
};

const struct px_connector *px__connector_find(const char *name)
{
    for (size_t i = 0; i < sizeof(connectors) / sizeof(connectors[0]); i++)
        if (strcmp(connectors[i]->name, name) == 0)
            return connectors[i];
    return NULL;
}

const struct px_operator *px__operator_find(const char *name)
{
    for (size_t i = 0; i < sizeof(operators) / sizeof(operators[0]); i++)
        if (strcmp(operators[i]->name, name) == 0)
            return operators[i];
    return NULL;
}

const struct px_connector *px__connector_at(size_t i)
{
    return i < sizeof(connectors) / sizeof(connectors[0]) ? connectors[i] : NULL;
}

const struct px_operator *px__operator_at(size_t i)
{
    return i < sizeof(operators) / sizeof(operators[0]) ? operators[i] : NULL;
}
