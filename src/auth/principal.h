/*
 * Who is calling: the principal resolved from an API key, and nothing else (DESIGN §3.3).
 * Every tool call below the MCP layer carries one. A missing, malformed, unknown, expired or
 * revoked key is "Unauthorized" with the same message, so a caller learns nothing about
 * which; an organization on the starter plan is refused with a message naming the plan.
 */
#ifndef PX_AUTH_PRINCIPAL_H
#define PX_AUTH_PRINCIPAL_H

#include "base/id.h"

#include <stdint.h>

struct px_error;
struct px_store;
struct px_keyring;

struct px_principal {
    char org_id[PX_ID_MAX];
    char key_id[PX_ID_MAX];
    uint32_t scopes;    /* PX_SCOPE bits */
    char plan[16];      /* starter | professional | premium | enterprise */
    int64_t rate_limit; /* MCP requests per minute; 0 = unlimited */
};

/* Resolves token at now_ms. Returns 0 and fills out, or -PX_EUNAUTHORIZED / -PX_EPLAN /
 * -PX_ESTORE with err set. Records last_used_at (at most once a minute per key). */
int px_principal_from_key(struct px_store *st, const struct px_keyring *kr, const char *token,
                          int64_t now_ms, struct px_principal *out, struct px_error *err);

/* Whether key_id can still act at now_ms: 1 when it exists, is not revoked and has not
 * expired; 0 when not; a negative code when the store did not answer. A plain read (no cache,
 * no last_used_at update), for transports that check a key they already resolved while its
 * sessions stay open. */
int px_principal_key_live(struct px_store *st, const char *key_id, int64_t now_ms,
                          struct px_error *err);
/* The ids of every key that can no longer act at now_ms (revoked, or expired), sorted with
 * strcmp, as an owned array (*ids, free it) of *n entries. Returns 0 or a negative code. */
int px_principal_dead_keys(struct px_store *st, int64_t now_ms, char (**ids)[PX_ID_MAX], size_t *n,
                           struct px_error *err);

/* Forgets every cached principal. Resolutions are cached per key digest and store connection,
 * valid while that connection's data_version is unchanged (any commit by another connection
 * or process, such as a CLI revocation, invalidates them); code that changes keys or orgs
 * through the same store connection calls this. */
void px_principal_cache_clear(void);

/* The MCP rate limit of a plan (requests per minute); 0 for starter (no MCP access), -1 for an
 * unknown plan name. */
int px_plan_rate_limit(const char *plan);

#endif
