/* Strict HTTP/1.1 request framing: see http_framing.h. */
#include "transport/http_framing.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool check_lines;

void px_http_framing_init(void)
{
    const char *v = MHD_get_version();
    check_lines = v && strcmp(v, "0.9.75") == 0;
}

/* RFC 9110 §5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)s[i]))
            return false;
    return true;
}

/* The value without the optional whitespace around it. */
static void trim(const char **s, size_t *n)
{
    while (*n && ((*s)[0] == ' ' || (*s)[0] == '\t'))
        (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

struct scan {
    const char *prev_end; /* where the previous line's text ends (request line, then fields) */
    const char *problem;  /* the first one found (static text) */
    char name[48];        /* the field it is about, for the message */
    int ncl, nte;
    const char *cl; /* the first Content-Length value */
    size_t cl_len;
};

static void found(struct scan *s, const char *problem, const char *key, size_t key_size)
{
    if (s->problem)
        return;
    s->problem = problem;
    size_t n = key_size < sizeof(s->name) - 1 ? key_size : sizeof(s->name) - 1;
    for (size_t i = 0; i < n; i++) /* printable only: it goes into the reply */
        s->name[i] = key[i] > ' ' && key[i] < 127 ? key[i] : '?';
    s->name[n] = '\0';
}

static enum MHD_Result on_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    struct scan *s = cls;
    /* A CRLF line end leaves two NULs before the next field's name (see the header). */
    if (check_lines && s->prev_end &&
        (key - s->prev_end != 2 || s->prev_end[0] != '\0' || s->prev_end[1] != '\0'))
        found(s, "a line ends in a bare LF, or a field is folded onto the next line (obs-fold)",
              key, key_size);
    s->prev_end = value ? value + value_size : NULL;
    if (!is_token(key, key_size))
        found(s,
              "a field name is not a token (no spaces or separators, and none before the "
              "colon)",
              key, key_size);
    const char *v = value ? value : "";
    size_t n = value ? value_size : 0;
    trim(&v, &n);
    if (key_size == 14 && strncasecmp(key, "Content-Length", 14) == 0) {
        if (s->ncl++ == 0) {
            s->cl = v;
            s->cl_len = n;
        } else if (n != s->cl_len || memcmp(v, s->cl, n) != 0) {
            found(s, "differing Content-Length fields", key, key_size);
        }
        for (size_t i = 0; i < n; i++)
            if (v[i] < '0' || v[i] > '9')
                found(s, "Content-Length is not a number", key, key_size);
    } else if (key_size == 17 && strncasecmp(key, "Transfer-Encoding", 17) == 0) {
        if (s->nte++)
            found(s, "more than one Transfer-Encoding field", key, key_size);
        if (n != 7 || strncasecmp(v, "chunked", 7) != 0)
            found(s, "Transfer-Encoding other than chunked", key, key_size);
    }
    return MHD_YES;
}

bool px_http_framing_check(struct MHD_Connection *conn, const char *version, char *why,
                           size_t why_size)
{
    struct scan s = {.prev_end = version && *version ? version + strlen(version) : NULL};
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, on_field, &s);
    /* The last field's line and the empty line that ends the header section: four NULs for
     * CRLF CRLF. The two past the last line end are what follows it in the buffer: the body's
     * first bytes, or (nothing more received) bytes of the buffer, so a bodiless request
     * whose empty line is a bare LF may pass; one with a body (what smuggling needs) not. */
    if (check_lines && s.prev_end && !s.problem &&
        (s.prev_end[0] || s.prev_end[1] || s.prev_end[2] || s.prev_end[3]))
        found(&s, "the header section does not end with CRLF CRLF (a bare LF)", "", 0);
    if (!s.problem && s.nte && s.ncl)
        found(&s, "both Transfer-Encoding and Content-Length", "Transfer-Encoding", 17);
    if (!s.problem && s.nte && version && strcmp(version, "HTTP/1.0") == 0)
        found(&s, "Transfer-Encoding in an HTTP/1.0 request", "Transfer-Encoding", 17);
    if (!s.problem)
        return true;
    if (s.name[0])
        snprintf(why, why_size, "%s (field '%s')", s.problem, s.name);
    else
        snprintf(why, why_size, "%s", s.problem);
    return false;
}
