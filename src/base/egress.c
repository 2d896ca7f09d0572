/*
 * The egress policy (base/egress.h): CIDR parsing and matching, and the process-wide policy
 * read from PLANASONIX_EGRESS_DENY / PLANASONIX_EGRESS_ALLOW.
 */
#include "base/egress.h"

#include "base/err.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const char *const builtin_deny[] = {"169.254.0.0/16", "fe80::/10", "169.254.169.254/32",
                                           "fd00:ec2::254/128", "100.100.100.200/32"};

int px_cidr_parse(const char *text, struct px_cidr *out, struct px_error *err)
{
    memset(out, 0, sizeof(*out));
    char buf[64];
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t'))
        n--;
    while (n > 0 && (*text == ' ' || *text == '\t'))
        text++, n--;
    if (n == 0 || n >= sizeof(buf))
        return px_error_set(err, PX_EINVALID, "'%.*s' is not a CIDR (like 10.0.0.0/8 or fd00::/8)",
                            (int)(n > 60 ? 60 : n), text);
    memcpy(buf, text, n);
    buf[n] = '\0';
    snprintf(out->text, sizeof(out->text), "%s", buf);
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = AF_INET;
        out->prefix = 32;
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->family = AF_INET6;
        out->prefix = 128;
    } else {
        return px_error_set(err, PX_EINVALID, "'%s' is not a CIDR (like 10.0.0.0/8 or fd00::/8)",
                            out->text);
    }
    if (slash) {
        char *end = NULL;
        long p = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || p < 0 || p > out->prefix)
            return px_error_set(err, PX_EINVALID, "'%s': the prefix length must be 0 to %d",
                                out->text, out->prefix);
        out->prefix = (int)p;
    }
    /* An IPv4-mapped IPv6 network is the IPv4 network. */
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (out->family == AF_INET6 && out->prefix >= 96 && memcmp(out->addr, mapped, 12) == 0) {
        memmove(out->addr, out->addr + 12, 4);
        memset(out->addr + 4, 0, 12);
        out->family = AF_INET;
        out->prefix -= 96;
    }
    return 0;
}

static int parse_list(const char *setting, const char *list, struct px_cidr *rules, int *n,
                      struct px_error *err)
{
    if (!list)
        return 0;
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[128];
        snprintf(item, sizeof(item), "%.*s", (int)(len < sizeof(item) ? len : sizeof(item) - 1), p);
        bool blank = strspn(item, " \t") == strlen(item);
        if (!blank) {
            if (*n >= PX_EGRESS_MAX_RULES)
                return px_error_set(err, PX_EINVALID, "%s: more than %d entries", setting,
                                    PX_EGRESS_MAX_RULES);
            struct px_error e;
            px_error_clear(&e);
            if (px_cidr_parse(item, &rules[*n], &e) < 0) {
                int rc = px_error_set(err, PX_EINVALID, "%s: %s", setting, e.message);
                px_error_hint(err, "give a comma list of CIDRs, e.g. 10.0.0.0/8,fd00::/8");
                return rc;
            }
            (*n)++;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

int px_egress_policy_parse(const char *deny, const char *allow, struct px_egress_policy *out,
                           struct px_error *err)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < sizeof(builtin_deny) / sizeof(builtin_deny[0]); i++)
        (void)px_cidr_parse(builtin_deny[i], &out->deny[out->ndeny++], NULL);
    int rc = parse_list("PLANASONIX_EGRESS_DENY", deny, out->deny, &out->ndeny, err);
    if (rc == 0)
        rc = parse_list("PLANASONIX_EGRESS_ALLOW", allow, out->allow, &out->nallow, err);
    return rc;
}

static bool matches(const struct px_cidr *c, int family, const unsigned char *a)
{
    if (c->family != family)
        return false;
    int full = c->prefix / 8, rest = c->prefix % 8;
    if (memcmp(c->addr, a, (size_t)full) != 0)
        return false;
    if (rest) {
        unsigned char mask = (unsigned char)(0xff << (8 - rest));
        if ((c->addr[full] & mask) != (a[full] & mask))
            return false;
    }
    return true;
}

/* The longest prefix among rules that match, or -1. */
static int longest(const struct px_cidr *rules, int n, int family, const unsigned char *a,
                   int *which)
{
    int best = -1;
    for (int i = 0; i < n; i++)
        if (rules[i].prefix > best && matches(&rules[i], family, a)) {
            best = rules[i].prefix;
            if (which)
                *which = i;
        }
    return best;
}

bool px_egress_allowed(const struct px_egress_policy *p, const struct sockaddr *sa, char *rule,
                       size_t rule_size)
{
    unsigned char a[16] = {0};
    int family;
    if (sa->sa_family == AF_INET) {
        memcpy(a, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        family = AF_INET;
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            memcpy(a, a6->s6_addr + 12, 4);
            family = AF_INET;
        } else {
            memcpy(a, a6->s6_addr, 16);
            family = AF_INET6;
        }
    } else {
        if (rule && rule_size)
            snprintf(rule, rule_size, "non-IP address family %d", sa->sa_family);
        return false;
    }
    int which = -1;
    int deny = longest(p->deny, p->ndeny, family, a, &which);
    if (deny < 0)
        return true;
    int allow = longest(p->allow, p->nallow, family, a, NULL);
    if (allow > deny)
        return true;
    if (rule && rule_size)
        snprintf(rule, rule_size, "%s", p->deny[which].text);
    return false;
}

/* ---- the process's policy ---- */

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static struct px_egress_policy g_policy;
static struct px_error g_parse_err;
static bool g_loaded, g_bad;

static void load_locked(void)
{
    px_error_clear(&g_parse_err);
    g_bad = px_egress_policy_parse(getenv("PLANASONIX_EGRESS_DENY"),
                                   getenv("PLANASONIX_EGRESS_ALLOW"), &g_policy, &g_parse_err) < 0;
    g_loaded = true;
}

void px_egress_reload(void)
{
    pthread_mutex_lock(&g_mu);
    load_locked();
    pthread_mutex_unlock(&g_mu);
}

int px_egress_check(const char *what, const struct sockaddr *sa, struct px_error *err)
{
    char rule[96] = "";
    char addr[INET6_ADDRSTRLEN] = "?";
    pthread_mutex_lock(&g_mu);
    if (!g_loaded)
        load_locked();
    bool bad = g_bad;
    bool ok = !bad && px_egress_allowed(&g_policy, sa, rule, sizeof(rule));
    struct px_error perr = g_parse_err;
    pthread_mutex_unlock(&g_mu);
    if (ok)
        return 0;
    if (bad) {
        int rc = px_error_set(err, PX_EFORBIDDEN, "%s: the egress policy is malformed (%s)", what,
                              perr.message);
        px_error_hint(err, "the operator must fix PLANASONIX_EGRESS_DENY / "
                           "PLANASONIX_EGRESS_ALLOW");
        return rc;
    }
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, addr,
                  sizeof(addr));
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, addr,
                  sizeof(addr));
    int rc = px_error_set(err, PX_EFORBIDDEN,
                          "%s: the egress policy refuses connections to %s (denied by %s)", what,
                          addr, rule);
    px_error_hint(err, "the operator's PLANASONIX_EGRESS_DENY (and the built-in denies of "
                       "link-local and cloud metadata addresses) forbid this address; an "
                       "operator can allow it with a narrower PLANASONIX_EGRESS_ALLOW entry");
    return rc;
}
