/*
 * Strict HTTP/1.1 request framing (RFC 9112) in front of libmicrohttpd, whose 0.9.75 parser is
 * lenient in ways that let a front proxy and this server disagree on where a request ends
 * (request smuggling): it takes the first of differing Content-Length headers, ignores
 * "Transfer-Encoding : chunked" (space before the colon), ends lines at a bare LF and joins
 * obs-fold continuation lines. px_http_framing_check runs on every request once its headers
 * are parsed and before any route handler, and names what is wrong; the caller answers 400
 * and closes the connection.
 *
 * The header rules (one Content-Length value, Transfer-Encoding exactly "chunked" and never
 * with Content-Length, field names that are tokens) are checked on the parsed fields. Line
 * endings and folding leave no trace in the parsed fields, so they are checked on the bytes
 * libmicrohttpd parsed in place: it ends each line by writing NUL over its CR and LF, keeps
 * the fields it hands out pointing into that buffer in request order, and copies a folded
 * field elsewhere. Between the end of one line's text and the start of the next, a CRLF line
 * therefore leaves exactly two NULs; a bare LF leaves one, and a fold leaves the continuation
 * text or a field outside the buffer. That layout is the 0.9.75 parser's (checked by
 * tests/e2e/http-framing.test.mjs), so the byte check runs only when the library loaded at run
 * time is that version; with another one those two rules are left to the library (later
 * versions have MHD_OPTION_CLIENT_DISCIPLINE_LVL for them; not verified here).
 */
#ifndef PX_TRANSPORT_HTTP_FRAMING_H
#define PX_TRANSPORT_HTTP_FRAMING_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

/* Decides once whether the line-ending check applies to the running libmicrohttpd. */
void px_http_framing_init(void);
/* True when the request's framing is unambiguous; otherwise false with the reason in why. */
bool px_http_framing_check(struct MHD_Connection *conn, const char *version, char *why,
                           size_t why_size);

#endif
