/*
 * The read-only check of SQL source queries (postgres, mysql, sqlite): a per-dialect lexer
 * that decides whether a query given as a source's config.query is one statement that can
 * only read. It is the first of two walls (issue 10 item 4): the graph validation calls it at
 * create_pipeline/update_pipeline, and each SQL source calls it again before it sends the
 * query; the second wall is the database's own read-only mode, set up by each connector
 * (PostgreSQL default_transaction_read_only, MySQL session and transaction READ ONLY, SQLite
 * read-only open, query_only and an authorizer). The lexer exists because the database wall
 * alone does not hold everywhere: MySQL executes `/\*! ... *\/` comments and commits
 * implicitly before DDL, and functions such as dblink_exec or pg_terminate_backend act
 * outside the transaction.
 *
 * Refused, with a message naming what was found: anything but exactly one statement (text
 * after a top-level `;`), a first keyword other than SELECT, WITH, VALUES (and TABLE in
 * PostgreSQL and MySQL), data-modifying keywords anywhere (INSERT, UPDATE, DELETE, MERGE,
 * REPLACE as a statement, INTO: SELECT INTO and INTO OUTFILE), locking clauses (FOR
 * UPDATE/SHARE, LOCK IN SHARE MODE), NEXT VALUE FOR, calls of functions with effects outside
 * a read-only transaction (per dialect: see engine/connectors/sqlcheck.c), unterminated strings,
 * quoted names and comments. Comments follow each dialect: MySQL `#`, `-- ` (with a blank after the
 * dashes) and executable `/\*! *\/`, `/\*!NNNNN *\/`, `/\*M! *\/` comments (written
 * here with a backslash), whose contents are
 * checked as code; PostgreSQL nested block comments, dollar quotes and E'' strings (with
 * standard_conforming_strings on, which the source session sets); SQLite's quoting.
 * A keyword after a `.` (t.update) or in quotes is a name, not a keyword.
 */
#ifndef PX_ENGINE_SQLCHECK_H
#define PX_ENGINE_SQLCHECK_H

#include "engine/exec_int.h"

#include <stddef.h>

struct px_error;

/* Checks query in dialect d. Returns 0 and sets *stmt_len (when not NULL) to the length of the
 * statement without a final `;` and what follows it (only blanks and comments may), or
 * -PX_EINVALID with err saying what was refused and what to do. */
int px_sqlcheck_source(enum px_sql_dialect d, const char *query, size_t *stmt_len,
                       struct px_error *err);

/* The dialect of a SQL source node type ("postgres", "mysql", "sqlite"), else PX_SQL_NONE. */
enum px_sql_dialect px_sqlcheck_dialect(const char *node_type);

#endif
