/*
 * Fuzz target: what the server and the HTTP connector parse out of HTTP headers and URLs
 * (src/transport/http_policy.c, src/transport/proxy_http.c, src/engine/connectors/http_req.c).
 * The input is split at its line ends into up to eight fields, each NUL-terminated:
 *   Origin, Host, Accept, Content-Type, Authorization, a --listen value, a URL, a reference
 * and they are given to px_http_origin_allowed and px_http_host_allowed (with extra allowed
 * origins and hosts configured), px_http_accepts, px_http_is_json, px_http_bearer,
 * px_http_parse_listen, px_proxy_endpoint (PLANASONIX_API_URL's rule), and the connector's
 * px__http_url_path, px__http_same_origin and px__http_resolve (pagination links).
 *
 * Invariants besides memory safety: every answer is the same when asked twice; a bearer token
 * lies inside the header and has no white space at its ends; an accepted listen value gives a
 * NUL-terminated host and a port <= 65535; an accepted API URL gives an http(s) endpoint whose
 * path ends in /mcp or /mcp/ (any case, as the rule matches) and a display form without the
 * query; a URL is same-origin with
 * itself when it resolves; url_path output is always terminated and never longer than asked.
 */
#include "fuzz.h"

#include "base/curl_api.h"
#include "base/err.h"
#include "engine/connectors/http.h"
#include "transport/http_policy.h"
#include "transport/proxy.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#define NFIELDS 8

static struct px_http_allow allow;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct px_error err;
    if (px_curl_load(&err) ||
        px_http_allow_init(&allow, "127.0.0.1", "https://app.example.com,http://10.0.0.5:8080",
                           "api.example.com,10.0.0.5:8080", &err)) {
        fprintf(stderr, "fuzz_http: %s\n", err.message);
        exit(1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    char *buf = malloc(size + 1);
    FUZZ_CHECK(buf);
    memcpy(buf, data, size);
    buf[size] = '\0';
    const char *f[NFIELDS];
    char *p = buf;
    for (int i = 0; i < NFIELDS; i++) {
        f[i] = p;
        char *nl = p ? strchr(p, '\n') : NULL;
        if (nl) {
            *nl = '\0';
            p = nl + 1;
        } else {
            p = NULL;
            for (int k = i + 1; k < NFIELDS; k++)
                f[k] = "";
            break;
        }
    }

    bool o = px_http_origin_allowed(&allow, f[0]);
    FUZZ_CHECK(o == px_http_origin_allowed(&allow, f[0]));
    bool h = px_http_host_allowed(&allow, f[1]);
    FUZZ_CHECK(h == px_http_host_allowed(&allow, f[1]));
    bool a = px_http_accepts(f[2], "application/json");
    FUZZ_CHECK(a == px_http_accepts(f[2], "application/json"));
    (void)px_http_accepts(f[2], "text/event-stream");
    bool j = px_http_is_json(f[3]);
    FUZZ_CHECK(j == px_http_is_json(f[3]));

    const char *tok = NULL;
    size_t len = 0;
    if (px_http_bearer(f[4], &tok, &len)) {
        FUZZ_CHECK(tok >= f[4] && tok + len <= f[4] + strlen(f[4]));
        FUZZ_CHECK(len == 0 || (!isspace((unsigned char)tok[0]) &&
                                !isspace((unsigned char)tok[len - 1])));
    } else {
        FUZZ_CHECK(tok == NULL);
    }

    char host[256];
    unsigned port = 0;
    struct px_error err;
    px_error_clear(&err);
    if (px_http_parse_listen(f[5], host, sizeof(host), &port, &err) == 0) {
        FUZZ_CHECK(memchr(host, '\0', sizeof(host)) != NULL);
        FUZZ_CHECK(port <= 65535);
    } else {
        FUZZ_CHECK(err.message[0] != '\0');
    }

    char *endpoint = NULL, *display = NULL;
    px_error_clear(&err);
    if (px_proxy_endpoint(f[6], &endpoint, &display, &err) == 0) {
        FUZZ_CHECK(endpoint && display);
        FUZZ_CHECK(strncmp(endpoint, "http://", 7) == 0 || strncmp(endpoint, "https://", 8) == 0);
        const char *q = strchr(endpoint, '?');
        size_t path_end = q ? (size_t)(q - endpoint) : strlen(endpoint);
        bool mcp = (path_end >= 4 && strncasecmp(endpoint + path_end - 4, "/mcp", 4) == 0) ||
                   (path_end >= 5 && strncasecmp(endpoint + path_end - 5, "/mcp/", 5) == 0);
        FUZZ_CHECK(mcp);
        FUZZ_CHECK(!strchr(display, '?'));
    } else {
        FUZZ_CHECK(err.message[0] != '\0');
    }
    free(endpoint);
    free(display);

    char path[64];
    memset(path, 'x', sizeof(path));
    px__http_url_path(f[6], path, sizeof(path));
    FUZZ_CHECK(memchr(path, '\0', sizeof(path)) != NULL);
    char *resolved = px__http_resolve(f[6], f[7]);
    if (resolved) {
        FUZZ_CHECK(px__http_same_origin(resolved, resolved));
        char *again = px__http_resolve(f[6], f[7]);
        FUZZ_CHECK(again && strcmp(again, resolved) == 0);
        free(again);
    }
    free(resolved);
    (void)px__http_same_origin(f[6], f[7]);
    free(buf);
    return 0;
}
