/* HTTP request policy: see http_policy.h. */
#include "transport/http_policy.h"

#include "base/err.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const loopback_hosts[] = {"localhost", "127.0.0.1", "[::1]"};

static void lower_copy(char *out, size_t size, const char *s, size_t n)
{
    if (n >= size)
        n = size - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[n] = '\0';
}

static bool all_digits(const char *s, size_t n)
{
    if (n == 0 || n > 5)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* Splits "name[:port]" or "[v6][:port]" into the name (brackets kept for v6) and whether the
 * port part is well formed. */
static bool split_host_port(const char *s, size_t n, size_t *name_len, const char **port,
                            size_t *port_len)
{
    *port = NULL;
    *port_len = 0;
    if (n == 0)
        return false;
    size_t end;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return false;
        end = (size_t)(close - s) + 1;
    } else {
        const char *colon = memchr(s, ':', n);
        end = colon ? (size_t)(colon - s) : n;
    }
    *name_len = end;
    if (end == n)
        return end > 0;
    if (s[end] != ':' || !all_digits(s + end + 1, n - end - 1))
        return false;
    *port = s + end + 1;
    *port_len = n - end - 1;
    return end > 0;
}

static bool is_loopback_name(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof(loopback_hosts) / sizeof(loopback_hosts[0]); i++)
        if (strlen(loopback_hosts[i]) == n && strncasecmp(name, loopback_hosts[i], n) == 0)
            return true;
    return false;
}

/* Appends each trimmed entry of a comma list; returns -PX_EINVALID for an entry too long or
 * beyond the maximum count. */
static int add_list(const char *list, char (*out)[PX_HTTP_ALLOW_LEN], int *count, bool origin,
                    struct px_error *err)
{
    const char *p = list;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *s = p;
        p = comma ? comma + 1 : NULL;
        while (n && isspace((unsigned char)*s))
            s++, n--;
        while (n && isspace((unsigned char)s[n - 1]))
            n--;
        if (origin && n && s[n - 1] == '/')
            n--;
        if (n == 0)
            continue;
        if (n >= PX_HTTP_ALLOW_LEN || *count >= PX_HTTP_ALLOW_MAX)
            return px_error_set(err, PX_EINVALID,
                                "allowlist entry '%.40s' is too long or the list has more than %d "
                                "entries",
                                s, PX_HTTP_ALLOW_MAX);
        if (origin && !strstr(s, "://"))
            return px_error_set(err, PX_EINVALID,
                                "PLANASONIX_ALLOWED_ORIGINS entry '%.*s' is not an origin "
                                "(scheme://host[:port])",
                                (int)(n > 100 ? 100 : n), s);
        lower_copy(out[*count], PX_HTTP_ALLOW_LEN, s, n);
        (*count)++;
    }
    return 0;
}

int px_http_allow_init(struct px_http_allow *a, const char *listen_host, const char *extra_origins,
                       const char *extra_hosts, struct px_error *err)
{
    memset(a, 0, sizeof(*a));
    if (listen_host && *listen_host && strcmp(listen_host, "0.0.0.0") != 0 &&
        strcmp(listen_host, "::") != 0) {
        char h[PX_HTTP_ALLOW_LEN];
        if (strchr(listen_host, ':'))
            snprintf(h, sizeof(h), "[%s]", listen_host);
        else
            snprintf(h, sizeof(h), "%s", listen_host);
        lower_copy(a->hosts[a->nhosts++], PX_HTTP_ALLOW_LEN, h, strlen(h));
    }
    int rc = add_list(extra_hosts, a->hosts, &a->nhosts, false, err);
    if (!rc)
        rc = add_list(extra_origins, a->origins, &a->norigins, true, err);
    return rc;
}

bool px_http_origin_allowed(const struct px_http_allow *a, const char *origin)
{
    if (!origin)
        return false;
    size_t n = strlen(origin);
    if (n && origin[n - 1] == '/')
        n--;
    if (n == 0 || n >= PX_HTTP_ALLOW_LEN)
        return false;
    char o[PX_HTTP_ALLOW_LEN];
    lower_copy(o, sizeof(o), origin, n);
    for (int i = 0; i < a->norigins; i++)
        if (strcmp(o, a->origins[i]) == 0)
            return true;
    const char *rest;
    if (strncmp(o, "http://", 7) == 0)
        rest = o + 7;
    else if (strncmp(o, "https://", 8) == 0)
        rest = o + 8;
    else
        return false;
    size_t name_len, port_len;
    const char *port;
    if (strpbrk(rest, "/?#@") || !split_host_port(rest, strlen(rest), &name_len, &port, &port_len))
        return false;
    return is_loopback_name(rest, name_len);
}

bool px_http_host_allowed(const struct px_http_allow *a, const char *host)
{
    if (!host)
        return false;
    size_t n = strlen(host);
    size_t name_len, port_len;
    const char *port;
    if (n == 0 || n >= PX_HTTP_ALLOW_LEN || !split_host_port(host, n, &name_len, &port, &port_len))
        return false;
    if (is_loopback_name(host, name_len))
        return true;
    char h[PX_HTTP_ALLOW_LEN];
    lower_copy(h, sizeof(h), host, n);
    for (int i = 0; i < a->nhosts; i++) {
        const char *e = a->hosts[i];
        size_t en = strlen(e), e_name, e_port_len;
        const char *e_port;
        if (!split_host_port(e, en, &e_name, &e_port, &e_port_len))
            continue;
        if (e_name != name_len || strncmp(e, h, name_len) != 0)
            continue;
        if (!e_port) /* no port in the entry: any port */
            return true;
        if (port && e_port_len == port_len && memcmp(e_port, h + (port - host), port_len) == 0)
            return true;
    }
    return false;
}

bool px_http_accepts(const char *accept, const char *type)
{
    if (!accept)
        return false;
    const char *slash = strchr(type, '/');
    size_t major = slash ? (size_t)(slash - type) : strlen(type);
    const char *p = accept;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *range = p;
        p = comma ? comma + 1 : p + n;
        while (n && isspace((unsigned char)*range))
            range++, n--;
        const char *semi = memchr(range, ';', n);
        size_t rn = semi ? (size_t)(semi - range) : n;
        while (rn && isspace((unsigned char)range[rn - 1]))
            rn--;
        /* q=0 means "not acceptable". */
        bool refused = false;
        const char *end = range + n;
        for (const char *q = semi; q;) {
            const char *v = q + 1;
            q = memchr(v, ';', (size_t)(end - v));
            while (v < end && isspace((unsigned char)*v))
                v++;
            if (end - v >= 2 && (v[0] == 'q' || v[0] == 'Q') && v[1] == '=')
                refused = strtod(v + 2, NULL) <= 0.0;
        }
        if (refused || rn == 0)
            continue;
        if ((rn == 3 && strncmp(range, "*/*", 3) == 0) ||
            (rn == strlen(type) && strncasecmp(range, type, rn) == 0) ||
            (rn == major + 2 && strncasecmp(range, type, major) == 0 && range[major] == '/' &&
             range[major + 1] == '*'))
            return true;
    }
    return false;
}

bool px_http_is_json(const char *content_type)
{
    if (!content_type)
        return false;
    const char *s = content_type;
    while (isspace((unsigned char)*s))
        s++;
    static const char json[] = "application/json";
    if (strncasecmp(s, json, sizeof(json) - 1) != 0)
        return false;
    s += sizeof(json) - 1;
    while (isspace((unsigned char)*s))
        s++;
    return *s == '\0' || *s == ';';
}

bool px_http_bearer(const char *authorization, const char **token, size_t *len)
{
    *token = NULL;
    *len = 0;
    if (!authorization)
        return false;
    const char *s = authorization;
    while (isspace((unsigned char)*s))
        s++;
    if (strncasecmp(s, "Bearer", 6) != 0 || !isspace((unsigned char)s[6]))
        return false;
    s += 6;
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    *token = s;
    *len = n;
    return true;
}

int px_http_parse_listen(const char *spec, char *host, size_t host_size, unsigned *port,
                         struct px_error *err)
{
    const char *port_s;
    size_t hn;
    const char *h;
    if (!spec || !*spec)
        return px_error_set(err, PX_EINVALID, "--listen needs ADDR:PORT");
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':')
            return px_error_set(err, PX_EINVALID,
                                "--listen '%.100s': write an IPv6 address as [ADDR]:PORT", spec);
        h = spec + 1;
        hn = (size_t)(close - spec) - 1;
        port_s = close + 2;
    } else {
        const char *colon = strrchr(spec, ':');
        if (!colon) {
            h = "127.0.0.1";
            hn = strlen(h);
            port_s = spec;
        } else {
            if (memchr(spec, ':', (size_t)(colon - spec)))
                return px_error_set(err, PX_EINVALID,
                                    "--listen '%.100s': write an IPv6 address as [ADDR]:PORT",
                                    spec);
            h = spec;
            hn = (size_t)(colon - spec);
            port_s = colon + 1;
            if (hn == 0) {
                h = "127.0.0.1";
                hn = strlen(h);
            }
        }
    }
    if (!all_digits(port_s, strlen(port_s)) || strtoul(port_s, NULL, 10) > 65535)
        return px_error_set(err, PX_EINVALID,
                            "--listen '%.100s': expected ADDR:PORT with a port from 0 to 65535 "
                            "(e.g. 127.0.0.1:8080)",
                            spec);
    if (hn == 0 || hn >= host_size)
        return px_error_set(err, PX_EINVALID, "--listen '%.100s': bad address", spec);
    memcpy(host, h, hn);
    host[hn] = '\0';
    *port = (unsigned)strtoul(port_s, NULL, 10);
    return 0;
}

int64_t px_http_ceil_seconds(int64_t ms)
{
    if (ms <= 0)
        return 0;
    return (ms + 999) / 1000;
}

void px_http_ratelimit_fields(int64_t limit, int64_t remaining, int64_t seconds, char *policy,
                              size_t policy_size, char *state, size_t state_size)
{
    snprintf(policy, policy_size, "\"org\";q=%" PRId64 ";w=60", limit);
    snprintf(state, state_size, "\"org\";r=%" PRId64 ";t=%" PRId64, remaining < 0 ? 0 : remaining,
             seconds < 0 ? 0 : seconds);
}
