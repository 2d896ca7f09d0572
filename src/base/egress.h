/*
 * The egress policy: which addresses a tenant's connections (PostgreSQL, MySQL, HTTP, and
 * test_connection, which uses the same code) may reach. The operator sets two comma lists of
 * CIDRs (IPv4 and IPv6): PLANASONIX_EGRESS_DENY and PLANASONIX_EGRESS_ALLOW. An address is
 * refused when it matches a deny entry (the built-in ones or the operator's) and no allow
 * entry with a longer prefix matches it: deny wins unless a narrower allow matches. Built-in
 * denies: link-local 169.254.0.0/16 and fe80::/10 and the cloud metadata addresses
 * 169.254.169.254, fd00:ec2::254 and 100.100.100.200; loopback and private ranges are allowed
 * unless the operator denies them (self-hosted databases live there). An IPv4-mapped IPv6
 * address (::ffff:a.b.c.d) is checked as the IPv4 address. The check is meant for the
 * resolved address right before connect(), so that DNS rebinding cannot slip past it.
 */
#ifndef PX_BASE_EGRESS_H
#define PX_BASE_EGRESS_H

#include <stdbool.h>
#include <stddef.h>

struct px_error;
struct sockaddr;

#define PX_EGRESS_MAX_RULES 64

struct px_cidr {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16]; /* network address (4 bytes used for AF_INET) */
    int prefix;             /* prefix length */
    char text[64];          /* as written, for messages */
};

struct px_egress_policy {
    struct px_cidr deny[PX_EGRESS_MAX_RULES];
    int ndeny;
    struct px_cidr allow[PX_EGRESS_MAX_RULES];
    int nallow;
};

/* Parses one CIDR ("10.0.0.0/8", "fd00::/8", or a bare address = a full-length prefix).
 * 0, or -PX_EINVALID with err naming the text. */
int px_cidr_parse(const char *text, struct px_cidr *out, struct px_error *err);

/* Builds a policy: the built-in denies, then the comma lists deny and allow (either may be
 * NULL or empty). 0, or -PX_EINVALID with err naming the setting and the bad entry. */
int px_egress_policy_parse(const char *deny, const char *allow, struct px_egress_policy *out,
                           struct px_error *err);

/* Whether p lets a connection reach sa (AF_INET or AF_INET6; other families are refused).
 * When refused and rule is not NULL, the deny entry that matched is copied there. */
bool px_egress_allowed(const struct px_egress_policy *p, const struct sockaddr *sa, char *rule,
                       size_t rule_size);

/* The process's policy from the environment (read on first use; px_egress_reload reads it
 * again, for tests and for an operator's change at start-up). Checks sa against it: 0, or
 * -PX_EFORBIDDEN with err saying that the egress policy refused the address, naming the
 * rule and the setting (what names the peer, e.g. "postgres", prefixes the message). A
 * malformed setting refuses every connection with the parse error (fail closed). */
int px_egress_check(const char *what, const struct sockaddr *sa, struct px_error *err);
void px_egress_reload(void);

#endif
