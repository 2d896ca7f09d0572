/*
 * libcurl (HTTP connector and the stdio proxy) as a table of function pointers.
 * Loaded on first use (base/dl.h), not linked: px_curl_load() must succeed before any call below.
 * Each function of the library that we call is listed once here; after this header, a call
 * such as curl_easy_cleanup(...) goes through the table, so the connector code reads as plain
 * calls.
 */
#ifndef PX_BASE_CURL_API_H
#define PX_BASE_CURL_API_H

#include <curl/curl.h>
/* curl.h wraps these two in argument-checking macros; the calls go through the table. */
#undef curl_easy_setopt
#undef curl_easy_getinfo

struct px_error;

#define PX_CURL_FUNCS(X)                                                                           \
    X(curl_easy_cleanup)                                                                           \
    X(curl_easy_escape)                                                                            \
    X(curl_easy_getinfo)                                                                           \
    X(curl_easy_init)                                                                              \
    X(curl_easy_perform)                                                                           \
    X(curl_easy_setopt)                                                                            \
    X(curl_easy_strerror)                                                                          \
    X(curl_free)                                                                                   \
    X(curl_getdate)                                                                                \
    X(curl_global_cleanup)                                                                         \
    X(curl_global_init)                                                                            \
    X(curl_slist_append)                                                                           \
    X(curl_slist_free_all)                                                                         \
    X(curl_url)                                                                                    \
    X(curl_url_cleanup)                                                                            \
    X(curl_url_get)                                                                                \
    X(curl_url_set)                                                                                \
    X(curl_url_strerror)

struct px_curl_table {
#define X(f) __typeof__(f) *p_##f;
    PX_CURL_FUNCS(X)
#undef X
};
extern struct px_curl_table px_curl;

/* Loads the library (once). 0, or -PX_EUNAVAILABLE with err naming the package to install. */
int px_curl_load(struct px_error *err);

#define curl_easy_cleanup (px_curl.p_curl_easy_cleanup)
#define curl_easy_escape (px_curl.p_curl_easy_escape)
#define curl_easy_getinfo (px_curl.p_curl_easy_getinfo)
#define curl_easy_init (px_curl.p_curl_easy_init)
#define curl_easy_perform (px_curl.p_curl_easy_perform)
#define curl_easy_setopt (px_curl.p_curl_easy_setopt)
#define curl_easy_strerror (px_curl.p_curl_easy_strerror)
#define curl_free (px_curl.p_curl_free)
#define curl_getdate (px_curl.p_curl_getdate)
#define curl_global_cleanup (px_curl.p_curl_global_cleanup)
#define curl_global_init (px_curl.p_curl_global_init)
#define curl_slist_append (px_curl.p_curl_slist_append)
#define curl_slist_free_all (px_curl.p_curl_slist_free_all)
#define curl_url (px_curl.p_curl_url)
#define curl_url_cleanup (px_curl.p_curl_url_cleanup)
#define curl_url_get (px_curl.p_curl_url_get)
#define curl_url_set (px_curl.p_curl_url_set)
#define curl_url_strerror (px_curl.p_curl_url_strerror)

#endif
