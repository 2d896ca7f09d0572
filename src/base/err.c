/* Error records: see err.h. */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *wire;
    bool retryable;
} err_table[] = {[PX_OK] = {"ok", false},
#define XX(name, wire, retry) [PX_E##name] = {wire, retry},
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

const char *px_err_name(int code)
{
    if (code < 0)
        code = -code;
    if (code < 0 || code >= PX_E_COUNT_)
        return "internal_error";
    return err_table[code].wire;
}
