/*
 * Prefixed random ids ("pl_3kT9…"): a kind prefix plus 22 base62 characters (> 128 bits)
 * from libsodium's CSPRNG. The prefix tells the kind, so a schedule id passed where a
 * pipeline id belongs is recognized as such.
 */
#ifndef PX_BASE_ID_H
#define PX_BASE_ID_H

#include <stdbool.h>
#include <stddef.h>

#define PX_ID_BODY_LEN 22
#define PX_ID_MAX 32 /* buffer size that holds any id with its NUL */

enum px_id_kind {
    PX_ID_ORG,
    PX_ID_KEY,
    PX_ID_PIPELINE,
    PX_ID_RUN,
    PX_ID_SCHEDULE,
    PX_ID_CONN,
    PX_ID_KIND_COUNT
};

/* Writes a new id of the kind into out (PX_ID_MAX bytes). */
void px_id_new(enum px_id_kind kind, char out[PX_ID_MAX]);
/* True when s has the kind's prefix and a well-formed body. */
bool px_id_valid(enum px_id_kind kind, const char *s);
/* The kind whose prefix s starts with, or -1. */
int px_id_kind_of(const char *s);
/* "pipeline", "schedule", ... and the prefix "pl_", "sch_", ... */
const char *px_id_kind_name(enum px_id_kind kind);
const char *px_id_prefix(enum px_id_kind kind);
/* Fills out[0..n) with base62 characters from the CSPRNG. */
void px_random_base62(char *out, size_t n);

#endif
