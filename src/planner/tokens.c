/* Tokens of a description: see tokens.h. */
#include "planner/tokens.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *const units[] = {"zero",    "one",     "two",       "three",    "four",
                                    "five",    "six",     "seven",     "eight",    "nine",
                                    "ten",     "eleven",  "twelve",    "thirteen", "fourteen",
                                    "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"};
static const char *const tens[] = {"twenty", "thirty",  "forty",  "fifty",
                                   "sixty",  "seventy", "eighty", "ninety"};

/* The value of a number word, or -1. */
static int number_word(const char *w)
{
    for (int i = 0; i < 20; i++)
        if (strcmp(w, units[i]) == 0)
            return i;
    for (int i = 0; i < 8; i++)
        if (strcmp(w, tens[i]) == 0)
            return 20 + 10 * i;
    return -1;
}

static void set_text(struct px_token *t, const char *p, size_t n, bool lower)
{
    if (n >= sizeof(t->text))
        n = sizeof(t->text) - 1;
    for (size_t i = 0; i < n; i++)
        t->text[i] = lower ? (char)tolower((unsigned char)p[i]) : p[i];
    t->text[n] = '\0';
}

/* Opening quote at p: its closing sequence and the opening's length, or NULL. */
static const char *quote_at(const char *p, size_t *open_len)
{
    if (*p == '"' || *p == '\'') {
        *open_len = 1;
        return *p == '"' ? "\"" : "'";
    }
    if (strncmp(p, "\xe2\x80\x9c", 3) == 0) { /* “ … ” */
        *open_len = 3;
        return "\xe2\x80\x9d";
    }
    if (strncmp(p, "\xe2\x80\x98", 3) == 0) { /* ‘ … ’ */
        *open_len = 3;
        return "\xe2\x80\x99";
    }
    return NULL;
}

static bool is_date(const char *p)
{
    for (int i = 0; i < 10; i++) {
        bool dash = i == 4 || i == 7;
        if (dash ? p[i] != '-' : !isdigit((unsigned char)p[i]))
            return false;
    }
    return !isalnum((unsigned char)p[10]);
}

int px_tokenize(const char *text, struct px_token *toks, size_t max, size_t *bad_at)
{
    size_t n = 0;
    const char *p = text;
    while (*p) {
        unsigned char c = (unsigned char)*p;
        if (isspace(c)) {
            p++;
            continue;
        }
        if (n == max) {
            *bad_at = (size_t)(p - text);
            return -1;
        }
        struct px_token *t = &toks[n];
        memset(t, 0, sizeof(*t));
        t->start = (size_t)(p - text);
        size_t ol;
        const char *close = quote_at(p, &ol);
        /* An apostrophe inside a word ("customer's") is not a quote: words take it below. */
        if (close && !(c == '\'' && p > text && isalnum((unsigned char)p[-1]))) {
            const char *e = strstr(p + ol, close);
            if (!e) {
                *bad_at = t->start;
                return -1;
            }
            t->kind = PX_TOK_QUOTED;
            set_text(t, p + ol, (size_t)(e - p - (ptrdiff_t)ol), false);
            p = e + strlen(close);
        } else if (isdigit(c) && is_date(p)) {
            t->kind = PX_TOK_DATE;
            set_text(t, p, 10, false);
            p += 10;
        } else if (isdigit(c) || (c == '$' && isdigit((unsigned char)p[1])) ||
                   (c == '.' && isdigit((unsigned char)p[1]))) {
            t->kind = PX_TOK_NUMBER;
            t->money = c == '$';
            const char *q = p + (c == '$');
            char digits[64];
            size_t k = 0;
            for (; *q &&
                   (isdigit((unsigned char)*q) || *q == '.' ||
                    (*q == ',' && isdigit((unsigned char)q[1]))) &&
                   k + 1 < sizeof(digits);
                 q++)
                if (*q != ',')
                    digits[k++] = *q;
            digits[k] = '\0';
            if (k && digits[k - 1] == '.') { /* "100." ends a sentence */
                digits[--k] = '\0';
                q--;
            }
            t->number = strtod(digits, NULL);
            set_text(t, p, (size_t)(q - p), false);
            p = q;
        } else if (isalpha(c) || c == '_' || c >= 0x80) {
            const char *q = p;
            while (*q && (isalnum((unsigned char)*q) || *q == '_' || (unsigned char)*q >= 0x80 ||
                          ((*q == '-' || *q == '\'') && isalnum((unsigned char)q[1]))))
                q++;
            t->kind = PX_TOK_WORD;
            set_text(t, p, (size_t)(q - p), true);
            p = q;
            int v = number_word(t->text);
            if (v >= 0) {
                t->kind = PX_TOK_NUMBER;
                t->number = v;
                /* "twenty five": a tens word and a unit word make one number. */
                if (v >= 20 && v % 10 == 0) {
                    const char *r = p;
                    while (*r == ' ' || *r == '-')
                        r++;
                    const char *s = r;
                    while (isalpha((unsigned char)*s))
                        s++;
                    char w[16];
                    size_t wl = (size_t)(s - r);
                    if (wl && wl < sizeof(w)) {
                        for (size_t i = 0; i < wl; i++)
                            w[i] = (char)tolower((unsigned char)r[i]);
                        w[wl] = '\0';
                        int u = number_word(w);
                        if (u >= 1 && u <= 9) {
                            t->number = v + u;
                            p = s;
                        }
                    }
                }
            }
        } else {
            t->kind = PX_TOK_PUNCT;
            set_text(t, p, 1, false);
            p++;
        }
        t->end = (size_t)(p - text);
        n++;
    }
    /* A currency word after a number makes it money ("100 dollars", "50 usd"). */
    for (size_t i = 0; i + 1 < n; i++)
        if (toks[i].kind == PX_TOK_NUMBER && toks[i + 1].kind == PX_TOK_WORD &&
            (strcmp(toks[i + 1].text, "dollars") == 0 || strcmp(toks[i + 1].text, "dollar") == 0 ||
             strcmp(toks[i + 1].text, "usd") == 0))
            toks[i].money = true;
    return (int)n;
}
