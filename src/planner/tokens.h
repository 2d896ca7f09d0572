/*
 * The first step of reading a description (reference/planner.md §3.2): split it into tokens
 * the grammar can match, each keeping its span in the original text (to quote it back in an
 * explanation or a question). Words are lowercased; numbers are read from digits ("1,000",
 * "2.5"), from number words up to ninety-nine ("seven", "twenty five"; larger ones are left as
 * words for the grammar to question), and with a currency sign or word ("$100", "100 dollars" → a
 * number marked money); 'quoted', "quoted" and “curly-quoted” text is one token, as written;
 * YYYY-MM-DD is a date; , ; : . ( ) are punctuation. At most PX_TOKENS_MAX tokens; a longer
 * description is refused by the caller with a clear error (planning it would be guessing).
 */
#ifndef PX_PLANNER_TOKENS_H
#define PX_PLANNER_TOKENS_H

#include <stdbool.h>
#include <stddef.h>

#define PX_TOKENS_MAX 400
#define PX_TOKEN_TEXT_MAX 128

enum px_token_kind {
    PX_TOK_WORD,   /* text: lowercase letters, digits, _ and - inside a word, ' inside a word */
    PX_TOK_NUMBER, /* number (money: with a currency sign or word) */
    PX_TOK_QUOTED, /* text: what was between the quotes, as written */
    PX_TOK_DATE,   /* text: YYYY-MM-DD */
    PX_TOK_PUNCT,  /* text: the character */
};

struct px_token {
    enum px_token_kind kind;
    char text[PX_TOKEN_TEXT_MAX]; /* cut to fit (a longer word is kept cut; spans are whole) */
    double number;
    bool money;
    size_t start, end; /* the span in the description, bytes [start, end) */
};

/* Tokenizes text into toks (room for max); returns the count, or -1 when there are more than
 * max tokens or a quote is not closed (*bad_at is then the byte where the problem starts). */
int px_tokenize(const char *text, struct px_token *toks, size_t max, size_t *bad_at);

#endif
