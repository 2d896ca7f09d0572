/*
 * The catalog of connection types and node types (see catalog.h), loaded once from the JSON
 * files embedded from src/engine/catalog/. Each file is one entry:
 *   conn_<type>.json  {"kind": "connection", type, title, description, categories, params,
 *                      source_config, destination_config}
 *   op_<type>.json    {"kind": "transform", type, title, description, inputs {min, max}, config}
 * The files are checked against the meta-schemas below and every schema in them against
 * px_schema_check, so a broken entry fails the first lookup (and the unit tests) loudly.
 * Not for connector or operator code; that attaches to these entries in the engine.
 */
#include "engine/catalog.h"

#include "base/buf.h"
#include "base/embed.h"
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "base/schema.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* The shape of a conn_*.json file. type fits the 32-byte buffers of graph.h's lookup. */
static const char conn_meta_text[] =
    "{\"type\": \"object\", \"additionalProperties\": false,"
    " \"required\": [\"kind\", \"type\", \"title\", \"description\", \"categories\", \"params\"],"
    " \"properties\": {"
    "  \"kind\": {\"const\": \"connection\"},"
    "  \"type\": {\"type\": \"string\", \"pattern\": \"^[a-z][a-z0-9_]{0,30}$\"},"
    "  \"title\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 100},"
    "  \"description\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 1000},"
    "  \"categories\": {\"type\": \"array\", \"minItems\": 1, \"uniqueItems\": true,"
    "                   \"items\": {\"enum\": [\"source\", \"destination\"]}},"
    "  \"params\": {\"type\": \"object\"},"
    "  \"source_config\": {\"type\": \"object\"},"
    "  \"destination_config\": {\"type\": \"object\"}}}";

/* The shape of an op_*.json file. */
static const char transform_meta_text[] =
    "{\"type\": \"object\", \"additionalProperties\": false,"
    " \"required\": [\"kind\", \"type\", \"title\", \"description\", \"inputs\", \"config\"],"
    " \"properties\": {"
    "  \"kind\": {\"const\": \"transform\"},"
    "  \"type\": {\"type\": \"string\", \"pattern\": \"^[a-z][a-z0-9_]{0,30}$\"},"
    "  \"title\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 100},"
    "  \"description\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 1000},"
    "  \"inputs\": {\"type\": \"object\", \"additionalProperties\": false,"
    "              \"required\": [\"min\", \"max\"],"
    "              \"properties\": {\"min\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": "
    "64},"
    "                             \"max\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": "
    "64}}},"
    "  \"config\": {\"type\": \"object\"}}}";

/* Everything is built once and then only read, so lookups need no lock. */
static struct {
    int rc;                     /* 0, or the negative code of a failed load */
    struct px_error err;        /* the failure, copied to every caller */
    struct json_object **docs;  /* parsed files, kept for the life of the process */
    size_t ndocs;               /* entries used in docs */
    struct px_conn_type *conns; /* in file order (sorted by type) */
    size_t nconns;              /* entries used in conns */
    struct px_node_type *nodes; /* sources, transforms and destinations, sorted by type */
    size_t nnodes;              /* entries used in nodes */
    char *names[3];             /* comma-separated node type names per kind */
} cat;

static pthread_once_t cat_once = PTHREAD_ONCE_INIT;

static const char *const kind_names[] = {
    [PX_NODE_SOURCE] = "source",
    [PX_NODE_TRANSFORM] = "transform",
    [PX_NODE_DESTINATION] = "destination",
};

const char *px_node_kind_name(enum px_node_kind kind)
{
    return (unsigned)kind < 3 ? kind_names[kind] : "unknown";
}

int px_node_kind_parse(const char *s)
{
    for (int k = 0; s && k < 3; k++)
        if (strcmp(s, kind_names[k]) == 0)
            return k;
    return -1;
}

/* Lookups without the once-guard, for use while loading. */
static const struct px_conn_type *find_conn(const char *type)
{
    for (size_t i = 0; type && i < cat.nconns; i++)
        if (strcmp(cat.conns[i].type, type) == 0)
            return &cat.conns[i];
    return NULL;
}

static const struct px_node_type *find_node(enum px_node_kind kind, const char *type)
{
    for (size_t i = 0; type && i < cat.nnodes; i++)
        if (cat.nodes[i].kind == kind && strcmp(cat.nodes[i].type, type) == 0)
            return &cat.nodes[i];
    return NULL;
}

const struct px_conn_type *px_catalog_conn_type_at(size_t i)
{
    return i < cat.nconns ? &cat.conns[i] : NULL;
}

const struct px_node_type *px_catalog_node_type_at(size_t i)
{
    return i < cat.nnodes ? &cat.nodes[i] : NULL;
}

/* Checks a config or params schema: supported keywords only, and a closed object. */
static int check_schema(const char *file, const char *what, struct json_object *schema,
                        struct px_error *err)
{
    struct px_error e;
    px_error_clear(&e);
    if (px_schema_check(schema, &e) < 0)
        return px_error_set(err, PX_EINTERNAL, "catalog file %s: %s: %s", file, what, e.message);
    const char *type = px_json_get_str(schema, "type");
    struct json_object *addl = px_json_get(schema, "additionalProperties");
    if (!type || strcmp(type, "object") != 0 || !addl ||
        !json_object_is_type(addl, json_type_boolean) || json_object_get_boolean(addl))
        return px_error_set(err, PX_EINTERNAL,
                            "catalog file %s: %s must have \"type\": \"object\" and "
                            "\"additionalProperties\": false",
                            file, what);
    return 0;
}

/* True for a secret that is a map of secret strings ("headers": name → value): its names are
 * not secret and views list them; its values are. */
static bool is_secret_map(struct json_object *sub)
{
    const char *type = px_json_get_str(sub, "type");
    const char *item = px_json_get_str(px_json_get(sub, "additionalProperties"), "type");
    return type && strcmp(type, "object") == 0 && item && strcmp(item, "string") == 0;
}

/* Collects the secret params (x-secret: true, which must also be writeOnly strings or maps
 * of strings). */
static int load_secrets(const char *file, struct json_object *params, const char ***out,
                        struct px_error *err)
{
    struct json_object *props = px_json_get(params, "properties");
    size_t n = props ? (size_t)json_object_object_length(props) : 0, used = 0;
    const char **names = px_xcalloc(n + 1, sizeof(*names));
    *out = names;
    if (!props)
        return 0;
    json_object_object_foreach(props, name, sub)
    {
        if (!px_json_get_bool(sub, "x-secret", false))
            continue;
        const char *type = px_json_get_str(sub, "type");
        if (!px_json_get_bool(sub, "writeOnly", false) || !type ||
            (strcmp(type, "string") != 0 && !is_secret_map(sub)))
            return px_error_set(err, PX_EINTERNAL,
                                "catalog file %s: secret param '%s' must be a writeOnly string "
                                "or a writeOnly object of strings",
                                file, name);
        names[used++] = name;
    }
    return 0;
}

/* "Reads records through a PostgreSQL connection." Owned; lives as long as the catalog. */
static char *describe(const char *verb, const char *title)
{
    size_t n = strlen(verb) + strlen(title) + 40;
    char *s = px_xmalloc(n);
    snprintf(s, n, "%s records through a %s connection.", verb, title);
    return s;
}

static int load_connection(const struct px_embed *file, struct json_object *doc,
                           struct px_error *err)
{
    struct px_conn_type *ct = &cat.conns[cat.nconns];
    ct->type = px_json_get_str(doc, "type");
    ct->title = px_json_get_str(doc, "title");
    ct->description = px_json_get_str(doc, "description");
    ct->params_schema = px_json_get(doc, "params");
    ct->source_config = px_json_get(doc, "source_config");
    ct->dest_config = px_json_get(doc, "destination_config");
    struct json_object *cats = px_json_get(doc, "categories");
    for (size_t i = 0; i < json_object_array_length(cats); i++) {
        const char *c = json_object_get_string(json_object_array_get_idx(cats, i));
        if (strcmp(c, "source") == 0)
            ct->can_source = true;
        else
            ct->can_destination = true;
    }
    const char **secrets = NULL;
    int rc = load_secrets(file->name, ct->params_schema, &secrets, err);
    ct->secret_params = secrets;
    if (rc < 0)
        return rc;
    if ((rc = check_schema(file->name, "params", ct->params_schema, err)) < 0)
        return rc;
    if (ct->can_source != (ct->source_config != NULL) ||
        ct->can_destination != (ct->dest_config != NULL))
        return px_error_set(err, PX_EINTERNAL,
                            "catalog file %s: source_config/destination_config must be given "
                            "exactly for the listed categories",
                            file->name);
    if (ct->source_config) {
        if ((rc = check_schema(file->name, "source_config", ct->source_config, err)) < 0)
            return rc;
        cat.nodes[cat.nnodes++] = (struct px_node_type){
            .kind = PX_NODE_SOURCE,
            .type = ct->type,
            .title = ct->title,
            .description = describe("Reads", ct->title),
            .min_inputs = 0,
            .max_inputs = 0,
            .needs_connection = true,
            .config_schema = ct->source_config,
        };
    }
    if (ct->dest_config) {
        if ((rc = check_schema(file->name, "destination_config", ct->dest_config, err)) < 0)
            return rc;
        cat.nodes[cat.nnodes++] = (struct px_node_type){
            .kind = PX_NODE_DESTINATION,
            .type = ct->type,
            .title = ct->title,
            .description = describe("Writes", ct->title),
            .min_inputs = 1,
            .max_inputs = 1,
            .needs_connection = true,
            .config_schema = ct->dest_config,
        };
    }
    cat.nconns++;
    return 0;
}

static int load_transform(const struct px_embed *file, struct json_object *doc,
                          struct px_error *err)
{
    struct json_object *inputs = px_json_get(doc, "inputs");
    struct px_node_type nt = {
        .kind = PX_NODE_TRANSFORM,
        .type = px_json_get_str(doc, "type"),
        .title = px_json_get_str(doc, "title"),
        .description = px_json_get_str(doc, "description"),
        .min_inputs = (int)px_json_get_int(inputs, "min", 1),
        .max_inputs = (int)px_json_get_int(inputs, "max", 1),
        .needs_connection = false,
        .config_schema = px_json_get(doc, "config"),
    };
    if (nt.min_inputs > nt.max_inputs)
        return px_error_set(err, PX_EINTERNAL, "catalog file %s: inputs.min > inputs.max",
                            file->name);
    int rc = check_schema(file->name, "config", nt.config_schema, err);
    if (rc < 0)
        return rc;
    cat.nodes[cat.nnodes++] = nt;
    return 0;
}

static int load_file(const struct px_embed *file, struct json_object *conn_meta,
                     struct json_object *transform_meta, struct px_error *err)
{
    struct px_error e;
    px_error_clear(&e);
    struct json_object *doc = px_json_parse(file->data, file->len, 64, &e);
    if (!doc)
        return px_error_set(err, PX_EINTERNAL, "catalog file %s: %s", file->name, e.message);
    cat.docs[cat.ndocs++] = doc;
    const char *kind = px_json_get_str(doc, "kind");
    bool conn = kind && strcmp(kind, "connection") == 0;
    const char *prefix = conn ? "conn_" : "op_";
    if (!conn && !(kind && strcmp(kind, "transform") == 0))
        return px_error_set(err, PX_EINTERNAL,
                            "catalog file %s: kind must be \"connection\" or \"transform\"",
                            file->name);
    if (px_schema_validate(conn ? conn_meta : transform_meta, doc, "entry", &e) < 0)
        return px_error_set(err, PX_EINTERNAL, "catalog file %s: %s", file->name, e.message);
    const char *type = px_json_get_str(doc, "type");
    char want[64];
    snprintf(want, sizeof(want), "%s%s.json", prefix, type);
    if (strcmp(want, file->name) != 0)
        return px_error_set(err, PX_EINTERNAL, "catalog file %s: a %s of type '%s' belongs in %s",
                            file->name, kind, type, want);
    if (conn ? find_conn(type) != NULL : find_node(PX_NODE_TRANSFORM, type) != NULL)
        return px_error_set(err, PX_EINTERNAL, "catalog file %s: type '%s' is defined twice",
                            file->name, type);
    return conn ? load_connection(file, doc, err) : load_transform(file, doc, err);
}

static int load_all(struct px_error *err)
{
    struct px_error e;
    px_error_clear(&e);
    struct json_object *conn_meta =
        px_json_parse(conn_meta_text, sizeof(conn_meta_text) - 1, 64, &e);
    struct json_object *transform_meta =
        px_json_parse(transform_meta_text, sizeof(transform_meta_text) - 1, 64, &e);
    int rc = 0;
    if (!conn_meta || !transform_meta || px_schema_check(conn_meta, &e) < 0 ||
        px_schema_check(transform_meta, &e) < 0) {
        rc = px_error_set(err, PX_EINTERNAL, "catalog meta-schema: %s", e.message);
        goto out;
    }
    size_t n = px_embed_catalog_count;
    cat.docs = px_xcalloc(n + 1, sizeof(*cat.docs));
    cat.conns = px_xcalloc(n + 1, sizeof(*cat.conns));
    cat.nodes = px_xcalloc(2 * n + 1, sizeof(*cat.nodes));
    for (size_t i = 0; i < n; i++)
        if ((rc = load_file(&px_embed_catalog[i], conn_meta, transform_meta, err)) < 0)
            goto out;
    for (int k = 0; k < 3; k++) {
        struct px_buf b;
        px_buf_init(&b, 1 << 16);
        for (size_t i = 0; i < cat.nnodes; i++)
            if (cat.nodes[i].kind == (enum px_node_kind)k)
                px_buf_printf(&b, "%s%s", b.len ? ", " : "", cat.nodes[i].type);
        cat.names[k] = px_buf_take(&b);
    }
out:
    json_object_put(conn_meta);
    json_object_put(transform_meta);
    return rc;
}

/* Node types are added per file, so each kind comes out sorted by type (files are sorted by
 * name). Only the per-kind order matters to callers. */
static void init_once(void)
{
    px_error_clear(&cat.err);
    cat.rc = load_all(&cat.err);
    if (cat.rc < 0) {
        cat.nconns = 0;
        cat.nnodes = 0;
    }
}

int px_catalog_init(struct px_error *err)
{
    pthread_once(&cat_once, init_once);
    if (cat.rc < 0 && err)
        *err = cat.err;
    return cat.rc;
}

static void ensure(void)
{
    pthread_once(&cat_once, init_once);
}

const struct px_conn_type *px_catalog_conn_type(const char *type)
{
    ensure();
    return find_conn(type);
}

const struct px_node_type *px_catalog_node_type(enum px_node_kind kind, const char *type)
{
    ensure();
    return find_node(kind, type);
}

const char *px_catalog_node_type_names(enum px_node_kind kind)
{
    ensure();
    return (unsigned)kind < 3 && cat.names[kind] ? cat.names[kind] : "";
}

struct json_object *px_catalog_conn_types_json(const char *category)
{
    ensure();
    struct json_object *arr = json_object_new_array();
    bool want_source = !category || strcmp(category, "source") == 0;
    bool want_dest = !category || strcmp(category, "destination") == 0;
    for (size_t i = 0; i < cat.nconns; i++) {
        const struct px_conn_type *ct = &cat.conns[i];
        if (!((want_source && ct->can_source) || (want_dest && ct->can_destination)))
            continue;
        struct json_object *o = json_object_new_object();
        px_json_set_str(o, "type", ct->type);
        px_json_set_str(o, "title", ct->title);
        px_json_set_str(o, "description", ct->description);
        struct json_object *cats = json_object_new_array();
        if (ct->can_source)
            json_object_array_add(cats, json_object_new_string("source"));
        if (ct->can_destination)
            json_object_array_add(cats, json_object_new_string("destination"));
        px_json_set(o, "categories", cats);
        /* A deep copy: the catalog's objects are shared by every thread and json-c's
         * refcounts are not meant for that. */
        struct json_object *schema = NULL;
        json_object_deep_copy(ct->params_schema, &schema, NULL);
        px_json_set(o, "params_schema", schema);
        struct json_object *secrets = json_object_new_array();
        for (const char *const *s = ct->secret_params; s && *s; s++)
            json_object_array_add(secrets, json_object_new_string(*s));
        px_json_set(o, "secret_params", secrets);
        json_object_array_add(arr, o);
    }
    return arr;
}

struct json_object *px_catalog_node_types_json(const char *category)
{
    ensure();
    struct json_object *arr = json_object_new_array();
    for (size_t i = 0; i < cat.nnodes; i++) {
        const struct px_node_type *nt = &cat.nodes[i];
        if (category && nt->kind != PX_NODE_TRANSFORM &&
            strcmp(px_node_kind_name(nt->kind), category) != 0)
            continue;
        struct json_object *o = json_object_new_object();
        px_json_set_str(o, "kind", px_node_kind_name(nt->kind));
        px_json_set_str(o, "type", nt->type);
        px_json_set_str(o, "title", nt->title);
        px_json_set_str(o, "description", nt->description);
        px_json_set_bool(o, "needs_connection", nt->needs_connection);
        struct json_object *inputs = json_object_new_object();
        px_json_set_int(inputs, "min", nt->min_inputs);
        px_json_set_int(inputs, "max", nt->max_inputs);
        px_json_set(o, "inputs", inputs);
        struct json_object *schema = NULL; /* a deep copy, as in px_catalog_conn_types_json */
        json_object_deep_copy(nt->config_schema, &schema, NULL);
        px_json_set(o, "config_schema", schema);
        json_object_array_add(arr, o);
    }
    return arr;
}
