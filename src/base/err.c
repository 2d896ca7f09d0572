/* Error records: see err.h. */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *wire;
    bool retryable;
    int rpc, http;
} err_table[] = {[PX_OK] = {"ok", false, 0, 200},
#define XX(name, wire, retry, rpc, http) [PX_E##name] = {wire, retry, rpc, http},
                 PX_ERR_MAP(XX)
#undef XX
};

void px_error_clear(struct px_error *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
}

int px_error_set(struct px_error *err, int code, const char *fmt, ...)
{
    if (code < 0)
        code = -code;
    if (code <= 0 || code >= PX_E_COUNT_)
        code = PX_EINTERNAL;
    if (err) {
        va_list ap;
        err->code = code;
        err->retryable = err_table[code].retryable;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
        err->hint[0] = '\0';
        err->field[0] = '\0';
    }
    return -code;
}

void px_error_hint(struct px_error *err, const char *fmt, ...)
{
    va_list ap;
    if (!err)
        return;
    va_start(ap, fmt);
    vsnprintf(err->hint, sizeof(err->hint), fmt, ap);
    va_end(ap);
}

void px_error_field(struct px_error *err, const char *field)
{
    if (err)
        snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
}

/* The table row of a code (either sign), or -1 when it is none. */
static int row(int code)
{
    if (code < 0)
        code = -code;
    return code < 0 || code >= PX_E_COUNT_ ? -1 : code;
}

const char *px_err_name(int code)
{
    int i = row(code);
    return i < 0 ? "internal_error" : err_table[i].wire;
}

int px_err_rpc(int code)
{
    int i = row(code);
    return i <= 0 ? PX_RPC_INTERNAL : err_table[i].rpc;
}

int px_err_http(int code)
{
    int i = row(code);
    return i < 0 ? 500 : err_table[i].http;
}
