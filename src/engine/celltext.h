/*
 * A cell's value as text: the one rendering every destination that writes text (CSV, JSON
 * Lines, COPY, MySQL's batches) and the operators that turn values into text (cast, mask) share,
 * so a value reads the same wherever it lands: integers in decimal, floats with the fewest
 * digits that read back the same ("1.5", "3.0"), booleans as true/false, timestamps as
 * "2024-01-31T12:00:00Z" (".ffffff" when not whole seconds), as px_value_render writes them.
 */
#ifndef PX_ENGINE_CELLTEXT_H
#define PX_ENGINE_CELLTEXT_H

#include <stddef.h>
#include <stdint.h>

struct px_batch;
struct px_buf;

/* Renders a float with the fewest digits that read back the same ("1.5", "3.0"). */
void px_celltext_double(double d, char *out, size_t size);
/* The text of a non-NULL cell into tmp (size: at least 64; a string is cut to fit, so callers
 * write strings themselves); returns its length. */
size_t px_celltext(const struct px_batch *b, int col, int64_t r, char *tmp, size_t size);
/* The text of a non-NULL cell, strings whole, into out (reset first): 0 or negative. */
int px_celltext_buf(const struct px_batch *b, int col, int64_t r, struct px_buf *out);

#endif
