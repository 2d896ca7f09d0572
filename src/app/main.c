/*
 * planasonix-mcp: the command line. Parses the command, opens the platform (app/config.c) and
 * hands over to the operator commands below or to a transport (--stdio).
 */
#include "app/config.h"
#include "auth/audit.h"
#include "auth/keys.h"
#include "auth/scopes.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/json.h"
#include "service/orgs.h"
#include "service/pipelines.h"
#include "store/store.h"
#include "transport/proxy.h"
#include "transport/env.h"
#include "transport/http.h"
#include "transport/stdio.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <malloc.h>
#include <string.h>
#include <sys/resource.h>

#define PX_VERSION "0.1.0"

static const char usage[] =
    "planasonix-mcp " PX_VERSION " — a data-pipeline platform for AI assistants (MCP)\n"
    "\n"
    "usage:\n"
    "  planasonix-mcp --stdio                  MCP over stdin/stdout, acting as "
    "PLANASONIX_API_KEY\n"
    "  planasonix-mcp serve [--listen ADDR:PORT] MCP over HTTP: /mcp, /sse, /healthz, /metrics\n"
    "                                          (default 127.0.0.1:8080, or 127.0.0.1:$PORT)\n"
    "  planasonix-mcp org create NAME [--plan starter|professional|premium|enterprise] [--json]\n"
    "  planasonix-mcp org update ORG [--plan P] [--rate-limit N|plan|unlimited]\n"
    "                               [--files-dir DIR|default] [--json]\n"
    "  planasonix-mcp org list [--json]\n"
    "  planasonix-mcp key create --org ORG --scopes LIST|all [--name N] [--expires DAYS] [--json]\n"
    "  planasonix-mcp key list --org ORG [--json]\n"
    "  planasonix-mcp key revoke KEY_ID\n"
    "  planasonix-mcp pipeline restore PIPELINE_ID --org ORG [--name NEW_NAME] [--json]\n"
    "  planasonix-mcp pipeline purge PIPELINE_ID|--all-deleted --org ORG [--json]\n"
    "                                          delete deleted pipelines for good\n"
    "  planasonix-mcp migrate | version | --help\n"
    "\n"
    "ORG is an organization id (org_…) or its unique name. Scopes: pipelines:read,\n"
    "pipelines:write, connectors:read, connections:read, connections:write, schedules:read,\n"
    "schedules:write, or all.\n"
    "\n"
    "environment:\n"
    "  PLANASONIX_HOME     data directory (default $XDG_DATA_HOME/planasonix or\n"
    "                      ~/.local/share/planasonix): SQLite store and master.key\n"
    "  DATABASE_URL        postgres://… to use PostgreSQL (not in this build yet)\n"
    "  PLANASONIX_API_KEY  the key an MCP stdio session acts as\n"
    "  PLANASONIX_API_URL  with --stdio: proxy the session to this server's /mcp endpoint\n"
    "                      (e.g. https://mcp.example.com) instead of the local store\n"
    "  PLANASONIX_LOG      stderr log level: debug, info, warn, error, off (default info)\n"
    "  PORT                serve: the port when --listen is not given\n"
    "  PLANASONIX_ALLOWED_HOSTS    serve: extra Host names accepted (comma list; name or\n"
    "                              name:port); loopback names are always accepted\n"
    "  PLANASONIX_ALLOWED_ORIGINS  serve: extra browser Origins accepted (comma list)\n"
    "  PLANASONIX_HTTP_THREADS     serve: HTTP threads (default: one per core, 2 to 8)\n"
    "  PLANASONIX_FILES_ROOT       parent of the organizations' files directories\n"
    "                              (default PLANASONIX_HOME/files; each org: ROOT/<org_id>)\n"
    "  PLANASONIX_ORG_DISK_QUOTA_MB  an organization's files directory quota (default 10240)\n"
    "  PLANASONIX_RUN_WRITE_MB     bytes one run may write into files, MB (default 2048)\n";

/* Options shared by the subcommands; each command checks the ones it needs. */
struct opts {
    const char *plan, *rate_limit, *org, *scopes, *name, *expires, *listen, *files_dir;
    bool json, all_deleted;
    const char *args[4]; /* positional arguments after the command words */
    int nargs;
};

static int parse_opts(int argc, char **argv, struct opts *o, struct px_error *err)
{
    static const struct {
        const char *flag;
        size_t offset;
    } with_value[] = {
        {"--plan", offsetof(struct opts, plan)},
        {"--rate-limit", offsetof(struct opts, rate_limit)},
        {"--org", offsetof(struct opts, org)},
        {"--scopes", offsetof(struct opts, scopes)},
        {"--name", offsetof(struct opts, name)},
        {"--expires", offsetof(struct opts, expires)},
        {"--listen", offsetof(struct opts, listen)},
        {"--files-dir", offsetof(struct opts, files_dir)},
    };
    memset(o, 0, sizeof(*o));
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            o->json = true;
            continue;
        }
        if (strcmp(a, "--all-deleted") == 0) {
            o->all_deleted = true;
            continue;
        }
        bool matched = false;
        for (size_t k = 0; k < sizeof(with_value) / sizeof(with_value[0]); k++) {
            if (strcmp(a, with_value[k].flag) != 0)
                continue;
            if (i + 1 >= argc)
                return px_error_set(err, PX_EINVALID, "%s needs a value", a);
            *(const char **)((char *)o + with_value[k].offset) = argv[++i];
            matched = true;
        }
        if (matched)
            continue;
        if (a[0] == '-' && a[1] == '-')
            return px_error_set(err, PX_EINVALID, "unknown option %s (see --help)", a);
        if (o->nargs == 4)
            return px_error_set(err, PX_EINVALID, "too many arguments (see --help)");
        o->args[o->nargs++] = a;
    }
    return 0;
}

static void print_json(struct json_object *o)
{
    printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void audit_cli(struct px_app *app, const char *command, const char *org_id,
                      const char *target)
{
    struct px_audit_entry e = {.at = px_now_ms(),
                               .org_id = org_id,
                               .transport = "cli",
                               .method = command,
                               .target_id = target,
                               .outcome = "ok"};
    px_audit_write(app->store, &e, NULL);
}

static int cmd_org(struct px_app *app, const char *sub, struct opts *o, struct px_error *err)
{
    struct px_org org;
    int rc;
    if (strcmp(sub, "create") == 0) {
        if (o->nargs != 1)
            return px_error_set(err, PX_EINVALID, "usage: org create NAME [--plan P] [--json]");
        if ((rc = px_org_create(app->store, o->args[0], o->plan ? o->plan : "professional", &org,
                                err)))
            return rc;
        audit_cli(app, "org create", org.id, org.id);
        if (o->json) {
            struct json_object *j = px_org_json(&org, app->files_root);
            print_json(j);
            json_object_put(j);
        } else {
            printf("%s\n", org.id);
            fprintf(stderr,
                    "created organization '%s' (%s plan)\nnext: planasonix-mcp key "
                    "create --org %s --scopes all\n",
                    org.name, org.plan, org.id);
        }
        return 0;
    }
    if (strcmp(sub, "update") == 0) {
        if (o->nargs != 1 || (!o->plan && !o->rate_limit && !o->files_dir))
            return px_error_set(err, PX_EINVALID,
                                "usage: org update ORG [--plan P] [--rate-limit N|plan|unlimited] "
                                "[--files-dir DIR|default]");
        char id[PX_ID_MAX];
        if ((rc = px_org_find(app->store, o->args[0], &org, err)))
            return rc;
        snprintf(id, sizeof(id), "%s", org.id); /* px_org_find clears org before reading */
        if ((o->files_dir &&
             (rc = px_org_set_files_dir(app->store, app->files_root, id, o->files_dir, err))) ||
            (rc = px_org_update(app->store, id, o->plan, o->rate_limit, err)) ||
            (rc = px_org_find(app->store, id, &org, err)))
            return rc;
        audit_cli(app, "org update", org.id, org.id);
        struct json_object *j = px_org_json(&org, app->files_root);
        if (o->json)
            print_json(j);
        else
            printf("%s: plan %s, MCP rate limit %s per minute, files in %s\n", org.id, org.plan,
                   json_object_get_string(px_json_get(j, "rate_limit_per_minute")),
                   px_json_get_str(j, "files_dir"));
        json_object_put(j);
        return 0;
    }
    if (strcmp(sub, "list") == 0) {
        struct px_rows *rows;
        if ((rc = px_store_query(app->store, "SELECT id FROM orgs ORDER BY created_at, id", NULL, 0,
                                 &rows, err)))
            return rc;
        struct json_object *arr = json_object_new_array();
        while ((rc = px_rows_next(rows, err)) == 1) {
            if (px_org_find(app->store, px_rows_text(rows, 0), &org, NULL) == 0)
                json_object_array_add(arr, px_org_json(&org, app->files_root));
        }
        px_rows_free(rows);
        if (o->json) {
            struct json_object *w = json_object_new_object();
            px_json_set(w, "orgs", arr);
            print_json(w);
            json_object_put(w);
        } else {
            for (size_t i = 0; i < json_object_array_length(arr); i++) {
                struct json_object *j = json_object_array_get_idx(arr, i);
                printf("%s  %-14s %s\n", px_json_get_str(j, "org_id"), px_json_get_str(j, "plan"),
                       px_json_get_str(j, "name"));
            }
            json_object_put(arr);
        }
        return rc < 0 ? rc : 0;
    }
    return px_error_set(err, PX_EINVALID, "unknown command 'org %s' (see --help)", sub);
}

static int cmd_key(struct px_app *app, const char *sub, struct opts *o, struct px_error *err)
{
    struct px_org org;
    int rc;
    if (strcmp(sub, "create") == 0) {
        if (!o->org || !o->scopes || o->nargs)
            return px_error_set(err, PX_EINVALID,
                                "usage: key create --org ORG --scopes LIST|all [--name N] "
                                "[--expires DAYS] [--json]");
        uint32_t scopes;
        int days = 0;
        if (o->expires) {
            char *end;
            long d = strtol(o->expires, &end, 10);
            if (*end || d <= 0 || d > 3650)
                return px_error_set(err, PX_EINVALID,
                                    "--expires takes a number of days from 1 to 3650");
            days = (int)d;
        }
        if ((rc = px_scopes_parse(o->scopes, 1, &scopes, err)) ||
            (rc = px_org_find(app->store, o->org, &org, err)))
            return rc;
        char token[PX_KEY_TOKEN_LEN + 1];
        struct json_object *key;
        if ((rc = px_key_create(app->store, &app->keyring, org.id, o->name ? o->name : "default",
                                scopes, days, token, &key, err)))
            return rc;
        audit_cli(app, "key create", org.id, px_json_get_str(key, "key_id"));
        if (o->json) {
            px_json_set_str(key, "key", token);
            print_json(key);
        } else {
            printf("%s\n", token);
            fprintf(stderr,
                    "created API key %s for %s — this is the only time the key is shown.\n"
                    "MCP client config:\n"
                    "  {\"mcpServers\": {\"planasonix\": {\"command\": "
                    "\"/usr/local/bin/planasonix-mcp\", \"args\": [\"--stdio\"],\n"
                    "    \"env\": {\"PLANASONIX_API_KEY\": \"<the key above>\"}}}}\n",
                    px_json_get_str(key, "key_id"), org.id);
        }
        memset(token, 0, sizeof(token));
        json_object_put(key);
        return 0;
    }
    if (strcmp(sub, "list") == 0) {
        if (!o->org)
            return px_error_set(err, PX_EINVALID, "usage: key list --org ORG [--json]");
        struct json_object *keys;
        if ((rc = px_org_find(app->store, o->org, &org, err)) ||
            (rc = px_key_list(app->store, org.id, &keys, err)))
            return rc;
        if (o->json) {
            struct json_object *w = json_object_new_object();
            px_json_set(w, "keys", keys);
            print_json(w);
            json_object_put(w);
            return 0;
        }
        for (size_t i = 0; i < json_object_array_length(keys); i++) {
            struct json_object *k = json_object_array_get_idx(keys, i);
            const char *revoked = px_json_get_str(k, "revoked_at");
            printf("%s  %-12s %-8s %s\n", px_json_get_str(k, "key_id"), px_json_get_str(k, "name"),
                   revoked ? "revoked" : "active", px_json_str(px_json_get(k, "scopes")));
        }
        json_object_put(keys);
        return 0;
    }
    if (strcmp(sub, "revoke") == 0) {
        if (o->nargs != 1)
            return px_error_set(err, PX_EINVALID, "usage: key revoke KEY_ID");
        if ((rc = px_key_revoke(app->store, o->args[0], err)))
            return rc;
        audit_cli(app, "key revoke", NULL, o->args[0]);
        if (o->json) {
            struct json_object *j = json_object_new_object();
            px_json_set_str(j, "key_id", o->args[0]);
            px_json_set_bool(j, "revoked", true);
            print_json(j);
            json_object_put(j);
        } else {
            printf("revoked %s\n", o->args[0]);
        }
        return 0;
    }
    return px_error_set(err, PX_EINVALID, "unknown command 'key %s' (see --help)", sub);
}

static int pipeline_purge(struct px_app *app, const struct px_tenant *t, struct opts *o,
                          struct px_error *err)
{
    if (o->nargs > 1 || (o->nargs == 1) == o->all_deleted) {
        int rc = px_error_set(err, PX_EINVALID,
                              "usage: pipeline purge PIPELINE_ID|--all-deleted --org ORG [--json]");
        px_error_hint(err, "give one deleted pipeline's id, or --all-deleted for every deleted "
                           "pipeline of the organization");
        return rc;
    }
    struct json_object *r;
    int rc = px_pipeline_purge(t, o->nargs ? o->args[0] : NULL, &r, err);
    if (rc)
        return rc;
    struct json_object *list = px_json_get(r, "purged");
    size_t n = json_object_array_length(list);
    for (size_t i = 0; i < n; i++)
        audit_cli(app, "pipeline purge", t->org_id,
                  px_json_get_str(json_object_array_get_idx(list, i), "pipeline_id"));
    if (o->json) {
        print_json(r);
    } else {
        printf("purged %zu deleted pipeline%s\n", n, n == 1 ? "" : "s");
        for (size_t i = 0; i < n; i++) {
            struct json_object *p = json_object_array_get_idx(list, i);
            printf("  %s  %s\n", px_json_get_str(p, "pipeline_id"), px_json_get_str(p, "name"));
        }
    }
    json_object_put(r);
    return 0;
}

static int cmd_pipeline(struct px_app *app, const char *sub, struct opts *o, struct px_error *err)
{
    struct px_org org;
    int rc;
    bool restore = strcmp(sub, "restore") == 0, purge = strcmp(sub, "purge") == 0;
    if (!restore && !purge)
        return px_error_set(err, PX_EINVALID, "unknown command 'pipeline %s' (see --help)", sub);
    if (!o->org || (restore && (o->nargs != 1 || o->all_deleted)))
        return px_error_set(err, PX_EINVALID, "usage: %s",
                            restore ? "pipeline restore PIPELINE_ID --org ORG [--name NEW_NAME]"
                                    : "pipeline purge PIPELINE_ID|--all-deleted --org ORG");
    if ((rc = px_org_find(app->store, o->org, &org, err)))
        return rc;
    struct px_tenant t = {.store = app->store, .keyring = &app->keyring, .org_id = org.id};
    if (purge)
        return pipeline_purge(app, &t, o, err);
    struct json_object *p;
    if ((rc = px_pipeline_restore(&t, o->args[0], o->name, &p, err)))
        return rc;
    audit_cli(app, "pipeline restore", org.id, o->args[0]);
    if (o->json)
        print_json(p);
    else
        printf("restored %s%s%s; its schedules stay disabled until you enable them\n", o->args[0],
               o->name ? " as " : "", o->name ? o->name : "");
    json_object_put(p);
    return 0;
}

static int report(int rc, const struct px_error *err)
{
    fprintf(stderr, "planasonix-mcp: %s\n", err->message);
    if (err->hint[0])
        fprintf(stderr, "hint: %s\n", err->hint);
    return rc == -PX_EINVALID ? 2 : 1;
}

/* What the process does before anything else: no core files (a core would hold key material
 * and secrets), none of libpq's environment defaults (a user's connection must only ever use
 * what the user gave it: a password above all), and, for tests only, a pinned wall clock. */
static void harden_process(void)
{
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    static const char *const libpq_env[] = {
        "PGHOST",
        "PGHOSTADDR",
        "PGPORT",
        "PGDATABASE",
        "PGUSER",
        "PGPASSWORD",
        "PGPASSFILE",
        "PGSERVICE",
        "PGSERVICEFILE",
        "PGOPTIONS",
        "PGSSLMODE",
        "PGREQUIRESSL",
        "PGSSLCERT",
        "PGSSLKEY",
        "PGSSLROOTCERT",
        "PGTARGETSESSIONATTRS",
        "PGCONNECT_TIMEOUT",
    };
    for (size_t i = 0; i < sizeof(libpq_env) / sizeof(libpq_env[0]); i++)
        unsetenv(libpq_env[i]);
    const char *fake_now = getenv("PLANASONIX_FAKE_NOW_MS");
    if (fake_now && *fake_now)
        px_clock_set(strtoll(fake_now, NULL, 10));
}

/* --stdio and serve: MCP over a transport until EOF or a signal; the exit code. */
static int serve_mcp(const char *cmd, const struct opts *o)
{
    struct px_error err;
    px_error_clear(&err);
    if (strcmp(cmd, "--stdio") == 0) {
        /* Proxy mode: forwards to a remote server; needs no local store or master key. */
        const char *api_url = getenv("PLANASONIX_API_URL");
        if (api_url && *api_url)
            return px_proxy_run(api_url);
    }
    struct px_app app;
    int rc = px_app_open(&app, &err);
    if (rc)
        return report(rc, &err);
    struct px_transport_env env;
    px_app_transport_env(&app, &env);
    if (strcmp(cmd, "--stdio") == 0) {
        rc = px_stdio_run(&env);
    } else {
        /* Two malloc arenas are plenty for a few HTTP threads and keep resident memory small
         * (glibc would otherwise grow one arena per core times eight). */
        mallopt(M_ARENA_MAX, 2);
        rc = px_http_serve(&env, o->listen);
    }
    px_app_close(&app);
    return rc;
}

/* migrate and the org, key and pipeline groups: one command on the local store. */
static int run_admin(const char *cmd, const char *sub, struct opts *o)
{
    struct px_error err;
    px_error_clear(&err);
    struct px_app app;
    int rc = px_app_open(&app, &err);
    if (rc)
        return report(rc, &err);
    if (strcmp(cmd, "migrate") == 0) {
        printf("store %s at schema version %d\n", px_store_backend(app.store),
               px_store_schema_version(app.store));
    } else if (strcmp(cmd, "org") == 0) {
        rc = cmd_org(&app, sub, o, &err);
    } else if (strcmp(cmd, "key") == 0) {
        rc = cmd_key(&app, sub, o, &err);
    } else {
        rc = cmd_pipeline(&app, sub, o, &err);
    }
    px_app_close(&app);
    return rc ? report(rc, &err) : 0;
}

int main(int argc, char **argv)
{
    struct px_error err;
    px_error_clear(&err);
    harden_process();
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("planasonix-mcp %s\n", PX_VERSION);
        return 0;
    }
    bool group = strcmp(cmd, "org") == 0 || strcmp(cmd, "key") == 0 || strcmp(cmd, "pipeline") == 0;
    if (!group && strcmp(cmd, "--stdio") != 0 && strcmp(cmd, "migrate") != 0 &&
        strcmp(cmd, "serve") != 0) {
        px_error_set(&err, PX_EINVALID, "unknown command '%s'", cmd);
        px_error_hint(&err, "run `planasonix-mcp --help` for the list of commands");
        return report(-PX_EINVALID, &err);
    }
    if (group && argc < 3) {
        px_error_set(&err, PX_EINVALID, "'%s' needs a subcommand (see --help)", cmd);
        return report(-PX_EINVALID, &err);
    }
    struct opts o;
    int first = group ? 3 : 2;
    int rc = parse_opts(argc - first, argv + first, &o, &err);
    if (rc)
        return report(rc, &err);
    if (strcmp(cmd, "serve") == 0 && o.nargs)
        return report(px_error_set(&err, PX_EINVALID, "usage: serve [--listen ADDR:PORT]"), &err);
    if (strcmp(cmd, "--stdio") == 0 || strcmp(cmd, "serve") == 0)
        return serve_mcp(cmd, &o);
    return run_admin(cmd, group ? argv[2] : NULL, &o);
}
