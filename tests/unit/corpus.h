/*
 * The read-only attack corpora (tests/corpus/readonly/{pg,mysql,sqlite}.sql) for the tests
 * of engine/connectors/sqlcheck.c and of the SQL connectors. Format: an entry starts at a line
 * "-- name: NAME"; an optional next line "-- lexer: passes" marks a trick the lexer lets
 * through on purpose (only the database's read-only mode can stop it); the entry's SQL is
 * every following line up to the next entry (trailing blanks trimmed). Lines before the
 * first entry are the file's description. Include after <cmocka.h>.
 */
#ifndef PX_TESTS_CORPUS_H
#define PX_TESTS_CORPUS_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct corpus_entry {
    char name[128];
    bool lexer_passes;
    char *sql; /* owned */
};

struct corpus {
    struct corpus_entry e[200];
    size_t n;
};

/* Reads rel (relative to the repository root, where tests run, else to this file's
 * directory's ../..); fails the test when it cannot. */
static inline void corpus_load(const char *rel, struct corpus *c)
{
    memset(c, 0, sizeof(*c));
    FILE *f = fopen(rel, "r");
    if (!f) {
        char path[4096];
        const char *here = __FILE__;
        const char *slash = strrchr(here, '/');
        int dir = slash ? (int)(slash - here) : 0;
        snprintf(path, sizeof(path), "%.*s/../../%s", dir, here, rel);
        f = fopen(path, "r");
    }
    if (!f)
        fail_msg("cannot open %s", rel);
    char line[8192];
    struct corpus_entry *cur = NULL;
    size_t len = 0, cap = 0;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "-- name: ", 9) == 0) {
            if (c->n >= sizeof(c->e) / sizeof(c->e[0]))
                fail_msg("%s: too many entries", rel);
            cur = &c->e[c->n++];
            snprintf(cur->name, sizeof(cur->name), "%.*s", (int)strcspn(line + 9, "\r\n"),
                     line + 9);
            cur->sql = calloc(1, 1);
            len = 0;
            cap = 1;
            continue;
        }
        if (!cur)
            continue;
        if (len == 0 && strncmp(line, "-- lexer: passes", 16) == 0) {
            cur->lexer_passes = true;
            continue;
        }
        size_t l = strlen(line);
        if (len + l + 1 > cap) {
            cap = (len + l + 1) * 2;
            cur->sql = realloc(cur->sql, cap);
        }
        memcpy(cur->sql + len, line, l + 1);
        len += l;
    }
    fclose(f);
    for (size_t i = 0; i < c->n; i++) {
        char *s = c->e[i].sql;
        size_t n = strlen(s);
        while (n > 0 &&
               (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r' || s[n - 1] == '\t'))
            s[--n] = '\0';
    }
}

static inline void corpus_free(struct corpus *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->e[i].sql);
}

#endif
