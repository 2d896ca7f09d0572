/*
 * Organizations and their API keys: the operator's side of the control plane, used by the
 * command line (app/cli.c). Key tokens are returned once, at creation, and never stored.
 */
#ifndef PX_SERVICE_ORGS_H
#define PX_SERVICE_ORGS_H

#include "base/id.h"

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

struct px_error;
struct px_store;
struct px_keyring;

struct px_org {
    char id[PX_ID_MAX];
    char name[128];
    char plan[16];
    int64_t rate_limit; /* -1: the plan's limit; 0: unlimited; N: N per minute */
    int64_t created_at;
    char files_dir[4096]; /* the operator's --files-dir (PATH_MAX); "" = files_root/<id> */
};

/* Creates an organization. Names are 1–100 printable characters and unique. */
int px_org_create(struct px_store *st, const char *name, const char *plan, struct px_org *out,
                  struct px_error *err);
/* Finds an organization by id or by its unique name. -PX_ENOTFOUND when neither matches. */
int px_org_find(struct px_store *st, const char *id_or_name, struct px_org *out,
                struct px_error *err);
/* Changes the plan (NULL: unchanged) and/or the rate-limit override (rate_limit_set: "plan",
 * "unlimited" or a positive number; NULL: unchanged). */
int px_org_update(struct px_store *st, const char *org_id, const char *plan,
                  const char *rate_limit_set, struct px_error *err);
/* The org as a JSON object {org_id, name, plan, rate_limit_per_minute, created_at,
 * files_dir, files_dir_overridden}; files_root (the shared PLANASONIX_FILES_ROOT) gives the
 * default files_dir. */
struct json_object *px_org_json(const struct px_org *org, const char *files_root);

/* The directory the organization's file connectors resolve in: its --files-dir, else
 * files_root/<org_id>; created (mode 0700) when missing. out: PATH_MAX (4096) bytes. This is
 * the only place that decides it; runs and test_connection pass it to the engine as its files
 * root. */
int px_org_files_dir(struct px_store *st, const char *files_root, const char *org_id, char *out,
                     size_t size, struct px_error *err);
/* Sets the organization's files directory (dir absolute; NULL or "default": back to
 * files_root/<org_id>). Refused when it is, contains or lies inside another organization's
 * directory (their --files-dir or their default), or contains the shared files root. */
int px_org_set_files_dir(struct px_store *st, const char *files_root, const char *org_id,
                         const char *dir, struct px_error *err);
/* Crash recovery of every organization's files directory (engine/connectors/fsroot.h
 * px_engine_recover_files): safe while another process runs, as live writers hold locks. */
void px_org_files_recover(struct px_store *st, const char *files_root);

/* Creates a key; token_out (PX_KEY_TOKEN_LEN + 1 bytes) gets the token, to be shown once.
 * expires_days 0 = never. Returns 0 and an owned JSON description of the key (no secret). */
int px_key_create(struct px_store *st, const struct px_keyring *kr, const char *org_id,
                  const char *name, uint32_t scopes, int expires_days, char *token_out,
                  struct json_object **key_out, struct px_error *err);
/* The org's keys as an owned JSON array (ids, names, scopes, times; never secrets). */
int px_key_list(struct px_store *st, const char *org_id, struct json_object **out,
                struct px_error *err);
/* Revokes a key; effective on the very next request. Revoking twice is not an error. */
int px_key_revoke(struct px_store *st, const char *key_id, struct px_error *err);

#endif
