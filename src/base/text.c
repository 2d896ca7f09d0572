/* Untrusted text cleanup: see text.h. */
#include "base/text.h"

#include "base/mem.h"
#include "base/swar.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

bool px_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned c = *p;
        size_t n;
        unsigned cp;
        if (c < 0x80) {
            p++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if ((size_t)(end - p) <= n)
            return false;
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += n + 1;
    }
    return true;
}

size_t px_utf8_len(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xC0) != 0x80)
            n++;
    return n;
}

/* Whether any byte of the 8 in v is below 0x20, 0x7F or 0xC2 (the lead byte of C1 controls). */
static inline bool word_may_need_cleaning(uint64_t v)
{
    return (px_swar_lt(v, 0x20) | px_swar_eq(v, 0x7F) | px_swar_eq(v, 0xC2)) != 0;
}

static bool byte_needs_cleaning(const unsigned char *p)
{
    return p[0] < 0x20 || p[0] == 0x7F || (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F);
}

bool px_text_is_clean(const char *s, size_t max)
{
    if (!s)
        return false;
    size_t len = strlen(s);
    if (len > max)
        return false;
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        if (!word_may_need_cleaning(v))
            continue;
        for (size_t k = i; k < i + 8; k++)
            if (byte_needs_cleaning(p + k))
                return false;
    }
    for (; i < len; i++)
        if (byte_needs_cleaning(p + i))
            return false;
    return true;
}

char *px_text_clean(const char *s, size_t max, bool *truncated_out)
{
    if (!s)
        s = "";
    size_t len = strlen(s);
    bool cut = false;
    if (len > max) {
        len = max;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
        cut = true;
    }
    char *out = px_xstrndup(s, len);
    unsigned char *p = (unsigned char *)out;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] == 0x7F)
            p[i] = ' ';
        /* C1 controls U+0080..U+009F are encoded as C2 80..C2 9F */
        if (p[i] == 0xC2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F) {
            p[i] = ' ';
            p[i + 1] = ' ';
        }
    }
    if (truncated_out)
        *truncated_out = cut;
    return out;
}

const char *px_text_skip_space(const char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    return s;
}

long long px_text_ll(const char *s)
{
    return s ? strtoll(s, NULL, 10) : 0;
}

double px_text_double(const char *s)
{
    return s ? strtod(s, NULL) : 0;
}
