/*
 * Resolving a mention in a description ("order date", "Customers", "the shop db") to one of the
 * names the organization really has (columns, tables, connections), by score with a threshold
 * (reference/planner.md §3.4): an exact name; the same name once normalized (case, spaces and
 * underscores, camelCase, plural/singular of each word); a known abbreviation of a word ("qty"
 * for quantity); or, as an assumption the caller must report, a near spelling (one edit for
 * names up to 5 characters, two beyond). One best candidate resolves the mention; two at the
 * same strength, or none, is a question, and the resolution then lists the closest names to
 * offer. Pure functions: no allocation, no state.
 */
#ifndef PX_PLANNER_RESOLVE_H
#define PX_PLANNER_RESOLVE_H

#include <stddef.h>

#define PX_RESOLVE_MAX_CANDIDATES 5
#define PX_RESOLVE_NAME_MAX 128 /* longer names and mentions are compared cut to this */

/* How the best candidate matched, strongest last. */
enum px_match {
    PX_MATCH_NONE = 0,
    PX_MATCH_NEAR,       /* a near spelling: an assumption to report */
    PX_MATCH_SYNONYM,    /* a known abbreviation of a word */
    PX_MATCH_NORMALIZED, /* the same name once normalized */
    PX_MATCH_EXACT,
};

struct px_resolution {
    enum px_match match; /* of the best candidates */
    size_t count;        /* candidates at that strength (1: resolved; more: ambiguous) */
    /* Indexes into names: the candidates at the best strength, or (match NONE) the closest
     * names by spelling, closest first; at most PX_RESOLVE_MAX_CANDIDATES. */
    size_t index[PX_RESOLVE_MAX_CANDIDATES];
    size_t nindex;
};

/* The normalized form of s into out (size >= 1): lowercase words of letters and digits joined
 * by '_', camelCase split, each word singular ("OrderDates" → "order_date"). */
void px_resolve_norm(const char *s, char *out, size_t size);
/* Resolves mention among names[0..n). */
void px_resolve(const char *mention, const char *const *names, size_t n, struct px_resolution *r);

#endif
