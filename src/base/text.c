/* Untrusted text cleanup: see text.h. */
#include "base/text.h"

#include "base/mem.h"

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

bool px_text_is_clean(const char *s, size_t max)
{
    if (!s)
        return false;
    size_t i = 0;
    for (const unsigned char *p = (const unsigned char *)s; p[i]; i++) {
        if (i >= max || p[i] < 0x20 || p[i] == 0x7F ||
            (p[i] == 0xC2 && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F))
            return false;
    }
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
