/*
 * Per-organization caps on what HTTP clients hold open in `serve`, so that one organization
 * cannot take every session, stream or call thread and lock the others out (issue 10 item 9):
 *
 * - sessions: MCP sessions in the session table (Streamable HTTP and legacy SSE);
 * - streams:  SSE response streams open (GET /sse, and POST /mcp answered as a live stream);
 * - calls:    calls running on the job threads (waiting triggers, calls with a progress
 *             token); those may last minutes, while other calls take an HTTP thread for
 *             milliseconds and are bounded by the rate limit.
 *
 * A counter per organization and kind, kept only while non-zero. Limits are fixed at creation;
 * 0 means no cap. Safe from any thread (one mutex, never held while calling out).
 */
#ifndef PX_TRANSPORT_ORGCAPS_H
#define PX_TRANSPORT_ORGCAPS_H

#include <stdbool.h>
#include <stddef.h>

struct px_error;
struct px_orgcaps;

enum px_orgcap_kind { PX_ORGCAP_SESSIONS, PX_ORGCAP_STREAMS, PX_ORGCAP_CALLS, PX_ORGCAP_KINDS };

/* Defaults when the environment says nothing (see px_orgcaps_from_env). */
#define PX_ORGCAP_DEFAULT_SESSIONS 500 /* of the 10,000 the server holds */
#define PX_ORGCAP_DEFAULT_STREAMS 100
#define PX_ORGCAP_DEFAULT_CALLS 16 /* of the 64 job threads */

struct px_orgcaps *px_orgcaps_create(const size_t limits[PX_ORGCAP_KINDS]);
void px_orgcaps_destroy(struct px_orgcaps *c);
/* Reads PLANASONIX_ORG_MAX_SESSIONS, _STREAMS and _CALLS (a whole number, 0 = no cap) into
 * limits, defaults for those unset. Returns 0 or -PX_EINVALID naming the bad variable. */
int px_orgcaps_from_env(size_t limits[PX_ORGCAP_KINDS], struct px_error *err);

/* Takes one of org_id's slots of this kind: false (nothing taken) when it holds its limit. */
bool px_orgcaps_take(struct px_orgcaps *c, const char *org_id, enum px_orgcap_kind kind);
/* Gives back one slot taken with px_orgcaps_take. */
void px_orgcaps_give(struct px_orgcaps *c, const char *org_id, enum px_orgcap_kind kind);
size_t px_orgcaps_held(struct px_orgcaps *c, const char *org_id, enum px_orgcap_kind kind);
size_t px_orgcaps_limit(const struct px_orgcaps *c, enum px_orgcap_kind kind);
/* The variable that sets the kind's limit, for messages. */
const char *px_orgcaps_env(enum px_orgcap_kind kind);

#endif
