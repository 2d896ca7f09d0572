/* libcurl.so.4, loaded on first use: see base/curl_api.h. */
#include "base/curl_api.h"

#include "base/dl.h"

struct px_curl_table px_curl;

static const struct px_dl_sym syms[] = {
#define X(f) {#f, &px_curl.p_##f},
    PX_CURL_FUNCS(X)
#undef X
};

static struct px_dl_lib lib =
    PX_DL_LIB("libcurl.so.4", "HTTP connections and the stdio proxy", "libcurl4", syms);

int px_curl_load(struct px_error *err)
{
    return px_dl_load(&lib, err);
}
