/*
 * Client libraries loaded on first use. The connectors' libraries (libpq, MariaDB
 * Connector/C, libcurl) and everything they pull in took ~3.5 ms to map and relocate at every
 * start-up, most of the time to answer `initialize` on stdio, though most sessions never open
 * a database or HTTP connection. Each is described by a table of symbols (one X-macro list in
 * its *_api.h) that px_dl_load fills once, thread-safely, with dlopen/dlsym; a missing library
 * becomes a clear error naming the Debian package to install.
 */
#ifndef PX_BASE_DL_H
#define PX_BASE_DL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct px_error;

struct px_dl_sym {
    const char *name; /* the symbol */
    void *slot;       /* where its address goes: a function pointer object */
};

struct px_dl_lib {
    const char *soname;  /* "libpq.so.5" */
    const char *what;    /* "PostgreSQL connections", for the error message */
    const char *package; /* the Debian package providing it */
    const struct px_dl_sym *syms;
    size_t nsyms;
    /* State: written under lock, loaded read without it once set. */
    pthread_mutex_t lock;
    atomic_bool loaded;
    char failure[256]; /* why the last attempt failed ("" before any) */
};

#define PX_DL_LIB(soname, what, package, syms)                                                     \
    {                                                                                              \
        (soname), (what), (package), (syms), sizeof(syms) / sizeof((syms)[0]),                     \
            PTHREAD_MUTEX_INITIALIZER, false, ""                                                   \
    }

/* Loads the library and fills every slot (once; later calls return at once). Returns 0, or
 * -PX_EUNAVAILABLE with err saying what is missing and which package to install; a failed
 * load is tried again next time. */
int px_dl_load(struct px_dl_lib *lib, struct px_error *err);

#endif
