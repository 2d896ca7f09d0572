/*
 * MariaDB Connector/C (MySQL and MariaDB client) as a table of function pointers.
 * Loaded on first use (base/dl.h), not linked: px_mysql_load() must succeed before any call below.
 * Each function of the library that we call is listed once here; after this header, a call
 * such as mysql_close(...) goes through the table, so the connector code reads as plain calls.
 */
#ifndef PX_ENGINE_MYSQL_API_H
#define PX_ENGINE_MYSQL_API_H

#include <mysql.h>

struct px_error;

#define PX_MYSQL_FUNCS(X)                                                                          \
    X(mysql_close)                                                                                 \
    X(mysql_errno)                                                                                 \
    X(mysql_error)                                                                                 \
    X(mysql_fetch_fields)                                                                          \
    X(mysql_fetch_lengths)                                                                         \
    X(mysql_fetch_row)                                                                             \
    X(mysql_field_count)                                                                           \
    X(mysql_free_result)                                                                           \
    X(mysql_get_server_info)                                                                       \
    X(mysql_get_socket)                                                                            \
    X(mysql_get_ssl_cipher)                                                                        \
    X(mysql_get_timeout_value_ms)                                                                  \
    X(mysql_init)                                                                                  \
    X(mysql_server_init)                                                                           \
    X(mysql_num_fields)                                                                            \
    X(mysql_options)                                                                               \
    X(mysql_query)                                                                                 \
    X(mysql_real_connect_cont)                                                                     \
    X(mysql_real_connect_start)                                                                    \
    X(mysql_real_escape_string)                                                                    \
    X(mysql_real_query)                                                                            \
    X(mysql_real_query_cont)                                                                       \
    X(mysql_real_query_start)                                                                      \
    X(mysql_store_result)                                                                          \
    X(mysql_store_result_cont)                                                                     \
    X(mysql_store_result_start)                                                                    \
    X(mysql_use_result)

struct px_mysql_table {
#define X(f) __typeof__(f) *p_##f;
    PX_MYSQL_FUNCS(X)
#undef X
};
extern struct px_mysql_table px_mysql;

/* Loads the library (once). 0, or -PX_EUNAVAILABLE with err naming the package to install. */
int px_mysql_load(struct px_error *err);

#define mysql_close (px_mysql.p_mysql_close)
#define mysql_errno (px_mysql.p_mysql_errno)
#define mysql_error (px_mysql.p_mysql_error)
#define mysql_fetch_fields (px_mysql.p_mysql_fetch_fields)
#define mysql_fetch_lengths (px_mysql.p_mysql_fetch_lengths)
#define mysql_fetch_row (px_mysql.p_mysql_fetch_row)
#define mysql_field_count (px_mysql.p_mysql_field_count)
#define mysql_free_result (px_mysql.p_mysql_free_result)
#define mysql_get_server_info (px_mysql.p_mysql_get_server_info)
#define mysql_get_socket (px_mysql.p_mysql_get_socket)
#define mysql_get_ssl_cipher (px_mysql.p_mysql_get_ssl_cipher)
#define mysql_get_timeout_value_ms (px_mysql.p_mysql_get_timeout_value_ms)
#define mysql_init (px_mysql.p_mysql_init)
#define mysql_server_init (px_mysql.p_mysql_server_init)
#define mysql_num_fields (px_mysql.p_mysql_num_fields)
#define mysql_options (px_mysql.p_mysql_options)
#define mysql_query (px_mysql.p_mysql_query)
#define mysql_real_connect_cont (px_mysql.p_mysql_real_connect_cont)
#define mysql_real_connect_start (px_mysql.p_mysql_real_connect_start)
#define mysql_real_escape_string (px_mysql.p_mysql_real_escape_string)
#define mysql_real_query (px_mysql.p_mysql_real_query)
#define mysql_real_query_cont (px_mysql.p_mysql_real_query_cont)
#define mysql_real_query_start (px_mysql.p_mysql_real_query_start)
#define mysql_store_result (px_mysql.p_mysql_store_result)
#define mysql_store_result_cont (px_mysql.p_mysql_store_result_cont)
#define mysql_store_result_start (px_mysql.p_mysql_store_result_start)
#define mysql_use_result (px_mysql.p_mysql_use_result)

#endif
