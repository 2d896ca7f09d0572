/*
 * Text that came from outside (names, descriptions, upstream error messages) before it goes
 * back into a result: control characters removed, length capped on a UTF-8 boundary with an
 * explicit marker.
 */
#ifndef PX_BASE_TEXT_H
#define PX_BASE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Returns an owned copy of s with C0/C1 control characters (except none) replaced by spaces
 * and at most max bytes kept (cut at a UTF-8 boundary). *truncated_out (may be NULL) tells
 * whether anything was cut. Free with free(). */
char *px_text_clean(const char *s, size_t max, bool *truncated_out);
/* Whether px_text_clean(s, max) would return s unchanged (no cut, nothing replaced); s may be
 * NULL (cleaned to ""). Lets hot paths skip the copy. */
bool px_text_is_clean(const char *s, size_t max);
/* True when s is valid UTF-8. */
bool px_utf8_valid(const char *s, size_t len);
/* Number of Unicode code points in valid UTF-8 s. */
size_t px_utf8_len(const char *s);
/* The decimal integer / number s starts with (strtoll / strtod: no undefined behaviour on
 * overflow, unlike atoll / atof), 0 when s is NULL or starts with none: for text a peer already
 * guarantees is a number (a database catalog's counts). */
long long px_text_ll(const char *s);
double px_text_double(const char *s);
/* s past its leading white space (isspace). */
const char *px_text_skip_space(const char *s);

#endif
