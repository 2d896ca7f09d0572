/* Client libraries loaded on first use: see dl.h. */
#include "base/dl.h"

#include "base/err.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

static int fail(struct px_dl_lib *lib, struct px_error *err)
{
    int rc = px_error_set(err, PX_EUNAVAILABLE, "%s need %s, which cannot be loaded: %s", lib->what,
                          lib->soname, lib->failure);
    px_error_hint(err, "install the Debian package %s (apt-get install %s)", lib->package,
                  lib->package);
    return rc;
}

int px_dl_load(struct px_dl_lib *lib, struct px_error *err)
{
    if (atomic_load_explicit(&lib->loaded, memory_order_acquire))
        return 0;
    pthread_mutex_lock(&lib->lock);
    if (atomic_load_explicit(&lib->loaded, memory_order_relaxed)) {
        pthread_mutex_unlock(&lib->lock);
        return 0;
    }
    /* The handle is kept for the life of the process: the slots point into it. */
    void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(lib->failure, sizeof(lib->failure), "%s", dlerror());
        pthread_mutex_unlock(&lib->lock);
        return fail(lib, err);
    }
    for (size_t i = 0; i < lib->nsyms; i++) {
        void *p = dlsym(h, lib->syms[i].name);
        if (!p) {
            snprintf(lib->failure, sizeof(lib->failure), "symbol %s is missing (version %s?)",
                     lib->syms[i].name, lib->soname);
            dlclose(h);
            pthread_mutex_unlock(&lib->lock);
            return fail(lib, err);
        }
        memcpy(lib->syms[i].slot, &p, sizeof(p)); /* POSIX: a function's address as void * */
    }
    atomic_store_explicit(&lib->loaded, true, memory_order_release);
    pthread_mutex_unlock(&lib->lock);
    return 0;
}
