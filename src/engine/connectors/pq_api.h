/*
 * libpq, the PostgreSQL client library, as a table of function pointers.
 * Loaded on first use (base/dl.h), not linked: px_pq_load() must succeed before any call below.
 * Each function of the library that we call is listed once here; after this header, a call
 * such as PQcancel(...) goes through the table, so the connector code reads as plain calls.
 */
#ifndef PX_ENGINE_PQ_API_H
#define PX_ENGINE_PQ_API_H

#include <libpq-fe.h>

struct px_error;

#define PX_PQ_FUNCS(X)                                                                             \
    X(PQcancel)                                                                                    \
    X(PQclear)                                                                                     \
    X(PQconnectPoll)                                                                               \
    X(PQconnectStartParams)                                                                        \
    X(PQconnectdbParams)                                                                           \
    X(PQconsumeInput)                                                                              \
    X(PQdescribePrepared)                                                                          \
    X(PQerrorMessage)                                                                              \
    X(PQexec)                                                                                      \
    X(PQexecParams)                                                                                \
    X(PQfinish)                                                                                    \
    X(PQfname)                                                                                     \
    X(PQfreeCancel)                                                                                \
    X(PQfreemem)                                                                                   \
    X(PQftype)                                                                                     \
    X(PQgetCancel)                                                                                 \
    X(PQgetCopyData)                                                                               \
    X(PQgetResult)                                                                                 \
    X(PQgetisnull)                                                                                 \
    X(PQgetvalue)                                                                                  \
    X(PQisBusy)                                                                                    \
    X(PQnfields)                                                                                   \
    X(PQntuples)                                                                                   \
    X(PQparameterStatus)                                                                           \
    X(PQprepare)                                                                                   \
    X(PQputCopyData)                                                                               \
    X(PQputCopyEnd)                                                                                \
    X(PQresultErrorField)                                                                          \
    X(PQresultStatus)                                                                              \
    X(PQsendQuery)                                                                                 \
    X(PQsocket)                                                                                    \
    X(PQstatus)

struct px_pq_table {
#define X(f) __typeof__(f) *p_##f;
    PX_PQ_FUNCS(X)
#undef X
};
extern struct px_pq_table px_pq;

/* Loads the library (once). 0, or -PX_EUNAVAILABLE with err naming the package to install. */
int px_pq_load(struct px_error *err);

#define PQcancel (px_pq.p_PQcancel)
#define PQclear (px_pq.p_PQclear)
#define PQconnectPoll (px_pq.p_PQconnectPoll)
#define PQconnectStartParams (px_pq.p_PQconnectStartParams)
#define PQconnectdbParams (px_pq.p_PQconnectdbParams)
#define PQconsumeInput (px_pq.p_PQconsumeInput)
#define PQdescribePrepared (px_pq.p_PQdescribePrepared)
#define PQerrorMessage (px_pq.p_PQerrorMessage)
#define PQexec (px_pq.p_PQexec)
#define PQexecParams (px_pq.p_PQexecParams)
#define PQfinish (px_pq.p_PQfinish)
#define PQfname (px_pq.p_PQfname)
#define PQfreeCancel (px_pq.p_PQfreeCancel)
#define PQfreemem (px_pq.p_PQfreemem)
#define PQftype (px_pq.p_PQftype)
#define PQgetCancel (px_pq.p_PQgetCancel)
#define PQgetCopyData (px_pq.p_PQgetCopyData)
#define PQgetResult (px_pq.p_PQgetResult)
#define PQgetisnull (px_pq.p_PQgetisnull)
#define PQgetvalue (px_pq.p_PQgetvalue)
#define PQisBusy (px_pq.p_PQisBusy)
#define PQnfields (px_pq.p_PQnfields)
#define PQntuples (px_pq.p_PQntuples)
#define PQparameterStatus (px_pq.p_PQparameterStatus)
#define PQprepare (px_pq.p_PQprepare)
#define PQputCopyData (px_pq.p_PQputCopyData)
#define PQputCopyEnd (px_pq.p_PQputCopyEnd)
#define PQresultErrorField (px_pq.p_PQresultErrorField)
#define PQresultStatus (px_pq.p_PQresultStatus)
#define PQsendQuery (px_pq.p_PQsendQuery)
#define PQsocket (px_pq.p_PQsocket)
#define PQstatus (px_pq.p_PQstatus)

#endif
