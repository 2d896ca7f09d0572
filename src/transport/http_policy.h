/*
 * HTTP request policy as pure functions over header strings (no libmicrohttpd here, so every
 * rule is unit-tested on its own): the Origin and Host allowlists that stop DNS rebinding
 * (mcp.md §10), the Accept and Content-Type rules of Streamable HTTP (§7.2), the bearer
 * token syntax, the --listen address syntax and the RateLimit header values.
 */
#ifndef PX_TRANSPORT_HTTP_POLICY_H
#define PX_TRANSPORT_HTTP_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct px_error;

#define PX_HTTP_ALLOW_MAX 32  /* extra entries per list */
#define PX_HTTP_ALLOW_LEN 256 /* longest entry */

/* What Origin and Host values are accepted besides the loopback defaults. */
struct px_http_allow {
    char origins[PX_HTTP_ALLOW_MAX][PX_HTTP_ALLOW_LEN]; /* "scheme://host[:port]", lowercase */
    int norigins;
    char hosts[PX_HTTP_ALLOW_MAX][PX_HTTP_ALLOW_LEN]; /* "name" (any port) or "name:port" */
    int nhosts;
};

/* Builds the allowlists: the listen host (unless it is a wildcard address) plus the comma
 * lists extra_origins (PLANASONIX_ALLOWED_ORIGINS) and extra_hosts (PLANASONIX_ALLOWED_HOSTS);
 * any of them may be NULL. Returns 0, or -PX_EINVALID naming a bad entry. */
int px_http_allow_init(struct px_http_allow *a, const char *listen_host, const char *extra_origins,
                       const char *extra_hosts, struct px_error *err);
/* Origin check: http(s)://localhost, 127.0.0.1 or [::1] with any port, or an extra origin.
 * "null" and anything malformed are refused. (An absent Origin is the caller's case: allowed.) */
bool px_http_origin_allowed(const struct px_http_allow *a, const char *origin);
/* CORS (Fetch standard): what a preflight from an allowed Origin is told, and which response
 * headers a browser script may read. Keys are bearer tokens set by the script, not cookies,
 * so credentials are never allowed. */
#define PX_HTTP_CORS_METHODS "GET, POST, DELETE"
#define PX_HTTP_CORS_HEADERS                                                                       \
    "Content-Type, Authorization, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID, Accept"
#define PX_HTTP_CORS_EXPOSE                                                                        \
    "Mcp-Session-Id, MCP-Protocol-Version, WWW-Authenticate, Retry-After, RateLimit, "             \
    "RateLimit-Policy"
#define PX_HTTP_CORS_MAX_AGE "600" /* seconds a browser may cache a preflight */

/* Host check: localhost, 127.0.0.1 or [::1] with any port, or an extra host. */
bool px_http_host_allowed(const struct px_http_allow *a, const char *host);

/* True when an Accept header value admits the media type (exact, "major/ *" or "* / *", and
 * not q=0). A NULL header admits nothing. */
bool px_http_accepts(const char *accept, const char *type);
/* True for "application/json" with optional parameters (charset), case-insensitive. */
bool px_http_is_json(const char *content_type);
/* Finds the token of "Authorization: Bearer <token>" (scheme case-insensitive). Returns false
 * when the header is absent or uses another scheme; *token then is NULL. */
bool px_http_bearer(const char *authorization, const char **token, size_t *len);

/* Parses --listen: "ADDR:PORT", "[V6ADDR]:PORT", ":PORT" (loopback) or "PORT". host gets the
 * address without brackets. Returns 0 or -PX_EINVALID. */
int px_http_parse_listen(const char *spec, char *host, size_t host_size, unsigned *port,
                         struct px_error *err);

/* Whole seconds for Retry-After / RateLimit t=, rounded up, at least 1 when ms > 0. */
int64_t px_http_ceil_seconds(int64_t ms);
/* Formats the RateLimit-Policy and RateLimit field values (draft-ietf-httpapi-ratelimit-headers):
 * policy = "org";q=LIMIT;w=60 and state = "org";r=REMAINING;t=SECONDS. */
void px_http_ratelimit_fields(int64_t limit, int64_t remaining, int64_t seconds, char *policy,
                              size_t policy_size, char *state, size_t state_size);

#endif
