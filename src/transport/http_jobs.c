/*
 * The threads that run calls deferred off libmicrohttpd's threads (px_http_defer,
 * http_internal.h): a queue, PX_HTTP_WORKERS threads started with the server and more up to
 * PX_HTTP_MAX_WORKERS while every one is busy (a call may wait on a run for minutes).
 */
#include "base/mem.h"
#include "transport/http_internal.h"

#include <pthread.h>
#include <stdlib.h>

/* ---- deferred calls ----------------------------------------------------------------------- */

bool px_http_defer(struct px_http_server *srv, void (*run)(void *arg), void *arg)
{
    pthread_mutex_lock(&srv->jobs_lock);
    bool ok = !srv->jobs_stop && srv->njobs < PX_HTTP_MAX_JOBS;
    if (ok) {
        struct px_http_job *j = px_xmalloc(sizeof(*j));
        j->next = NULL;
        j->run = run;
        j->arg = arg;
        if (srv->jobs_tail)
            srv->jobs_tail->next = j;
        else
            srv->jobs_head = j;
        srv->jobs_tail = j;
        srv->njobs++;
        /* Every thread busy (calls can wait on runs for minutes): start another, so a queued
         * call never waits for an unrelated long one. */
        if (srv->idle_workers < (int)srv->njobs && srv->nworkers < PX_HTTP_MAX_WORKERS &&
            pthread_create(&srv->workers[srv->nworkers], NULL, px_http_worker_main, srv) == 0)
            srv->nworkers++;
        pthread_cond_signal(&srv->jobs_cond);
    }
    pthread_mutex_unlock(&srv->jobs_lock);
    return ok;
}

void *px_http_worker_main(void *arg)
{
    struct px_http_server *srv = arg;
    pthread_mutex_lock(&srv->jobs_lock);
    for (;;) {
        srv->idle_workers++;
        while (!srv->jobs_head && !srv->jobs_stop)
            pthread_cond_wait(&srv->jobs_cond, &srv->jobs_lock);
        srv->idle_workers--;
        if (!srv->jobs_head)
            break; /* stopping and nothing left */
        struct px_http_job *j = srv->jobs_head;
        srv->jobs_head = j->next;
        if (!srv->jobs_head)
            srv->jobs_tail = NULL;
        srv->njobs--;
        pthread_mutex_unlock(&srv->jobs_lock);
        j->run(j->arg);
        free(j);
        pthread_mutex_lock(&srv->jobs_lock);
    }
    pthread_mutex_unlock(&srv->jobs_lock);
    return NULL;
}
