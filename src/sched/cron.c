/*
 * Cron expression parser (DESIGN §3.8): turns "30 6 * * MON-FRI" or "@daily" into the bit
 * sets of struct px_cron, or into an error that names the field, the offending token and the
 * allowed range. It does not compute fire times (the scheduler does) and knows nothing about
 * time zones.
 *
 * Dialect decisions, in one place:
 *  - Exactly 5 fields; a 6th (seconds) or 7th (year) field is refused with an explanation, as
 *    is @reboot (there is no "boot" for a schedule in a server).
 *  - Names are the three-letter English abbreviations, case-insensitive: JAN..DEC in the month
 *    field, SUN..SAT in the day-of-week field; they work wherever a number does ("MON-FRI").
 *  - Day-of-week accepts 0..7 (0 and 7 are Sunday). '*' and "a/n" in that field run to 6, so
 *    "1/2" is MON,WED,FRI; an explicit range may end at 7 ("5-7" is FRI,SAT,SUN).
 *  - "a/n" means "a-max/n". A step must be 1..width of the field (60 for minutes, 24 for
 *    hours, 31, 12, 7); a step as wide as the field selects only the first value.
 *  - '?' means '*', only in the two day fields, and only on its own.
 *  - mday_star/wday_star are true only when the field is exactly '*' or '?'. Unlike Vixie's
 *    first-character test, a star with a step (every 2nd day) counts as restricted, so the
 *    day-of-month OR day-of-week rule applies to it; this is what the field's text says.
 *  - A day-of-month that no selected month has (e.g. "0 0 30 2 *") is refused, because the
 *    schedule would never fire; with a restricted day-of-week the OR rule still fires it.
 */
#include "sched/cron.h"

#include "base/err.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Longest expression accepted; real ones are far shorter. */
#define CRON_MAX_LEN 256
/* Most fields we count when reporting a wrong field count. */
#define CRON_MAX_FIELDS 32
/* Longest token echoed back in a message. */
#define TOKEN_SHOW 40

#define CRON_HINT                                                                                  \
    "a cron expression has 5 fields: minute hour day-of-month month day-of-week, e.g. "            \
    "\"0 6 * * *\" = every day at 06:00, \"*/15 * * * MON-FRI\" = every 15 minutes on weekdays"

#define FIELD_ORDER "minute hour day-of-month month day-of-week"

enum cron_field { F_MINUTE, F_HOUR, F_MDAY, F_MONTH, F_WDAY, F_COUNT };

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const wday_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

struct field_spec {
    const char *name;         /* "minute", used in messages */
    int min;                  /* smallest value that may be written */
    int max;                  /* largest value that may be written (day-of-week: 7) */
    int star_max;             /* where '*' and "a/n" stop (day-of-week: 6) */
    const char *const *names; /* three-letter names, or NULL */
    int names_first;          /* value of names[0] */
    int names_count;          /* entries in names */
    const char *allowed;      /* the allowed values, for messages */
};

static const struct field_spec field_specs[F_COUNT] = {
    [F_MINUTE] = {"minute", 0, 59, 59, NULL, 0, 0, "0-59"},
    [F_HOUR] = {"hour", 0, 23, 23, NULL, 0, 0, "0-23"},
    [F_MDAY] = {"day-of-month", 1, 31, 31, NULL, 0, 0, "1-31"},
    [F_MONTH] = {"month", 1, 12, 12, month_names, 1, 12, "1-12 or JAN-DEC"},
    [F_WDAY] = {"day-of-week", 0, 7, 6, wday_names, 0, 7, "0-7 (0 and 7 are Sunday) or SUN-SAT"},
};

/* The text of one whitespace-separated field or of one list item. */
struct span {
    const char *p;
    size_t len;
};

/* What one field parsed into. */
struct field_result {
    uint64_t bits; /* bit v set for each selected value v (day-of-week 7 folded to 0) */
    bool star;     /* the field was exactly '*' or '?' */
    bool fixed;    /* the field was one plain value */
    bool wild;     /* some item has '*' or a step (decides fixed-time vs wildcard jobs) */
};

/* Copies a token for a message: control characters become '?', long tokens are cut. */
static void show_token(char *out, size_t size, const char *p, size_t len)
{
    size_t n = 0;
    bool cut = false;
    if (len > TOKEN_SHOW) {
        len = TOKEN_SHOW;
        cut = true;
    }
    for (size_t i = 0; i < len && n + 1 < size; i++) {
        unsigned char c = (unsigned char)p[i];
        out[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (cut)
        for (int i = 0; i < 3 && n + 1 < size; i++)
            out[n++] = '.';
    out[n] = '\0';
}

/* Sets err for a problem in field f and returns -PX_EINVALID; fmt describes the problem. */
static int field_error(struct px_error *err, enum cron_field f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int field_error(struct px_error *err, enum cron_field f, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    int rc = px_error_set(err, PX_EINVALID, "%s field (field %d of 5): %s", field_specs[f].name,
                          (int)f + 1, what);
    px_error_hint(err, "%s", CRON_HINT);
    return rc;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/*
 * Reads one value (number or name) at *pos in item. Returns 0 and the value (not yet range
 * checked), or an error. item is the whole list item, for messages.
 */
static int read_value(enum cron_field f, struct span item, size_t *pos, int *value_out,
                      struct px_error *err)
{
    const struct field_spec *spec = &field_specs[f];
    size_t i = *pos, start = i;
    char tok[TOKEN_SHOW + 8], whole[TOKEN_SHOW + 8];
    show_token(whole, sizeof(whole), item.p, item.len);

    if (i < item.len && is_digit(item.p[i])) {
        long v = 0;
        while (i < item.len && is_digit(item.p[i])) {
            if (v < 1000000)
                v = v * 10 + (item.p[i] - '0');
            i++;
        }
        if (v < spec->min || v > spec->max) {
            show_token(tok, sizeof(tok), item.p + start, i - start);
            return field_error(err, f, "'%s' is out of range %s", tok, spec->allowed);
        }
        *value_out = (int)v;
        *pos = i;
        return 0;
    }
    if (i < item.len && is_alpha(item.p[i])) {
        while (i < item.len && is_alpha(item.p[i]))
            i++;
        show_token(tok, sizeof(tok), item.p + start, i - start);
        if (!spec->names)
            return field_error(err, f, "'%s' is not a number (allowed %s)", tok, spec->allowed);
        if (i - start == 3)
            for (int k = 0; k < spec->names_count; k++)
                if (strncasecmp(item.p + start, spec->names[k], 3) == 0) {
                    *value_out = spec->names_first + k;
                    *pos = i;
                    return 0;
                }
        return field_error(err, f, "'%s' is not a %s name (allowed %s)", tok,
                           f == F_MONTH ? "month" : "day", spec->allowed);
    }
    if (i >= item.len)
        return field_error(err, f, "'%s' is incomplete: a value is missing at its end", whole);
    return field_error(err, f,
                       "'%s' is not valid: expected a value (%s), '*', a range a-b, a step "
                       "*/n, a-b/n or a/n, or a comma-separated list of those",
                       whole, spec->allowed);
}

/* True for Quartz day syntax: "L", "LW", "L-3", "15W", "5L", "MON#2". */
static bool looks_quartz(struct span item)
{
    char c0 = (char)toupper((unsigned char)item.p[0]);
    if (memchr(item.p, '#', item.len))
        return true;
    if (c0 == 'L' &&
        (item.len == 1 || item.p[1] == '-' || toupper((unsigned char)item.p[1]) == 'W'))
        return true;
    if (is_digit(item.p[0])) {
        char last = (char)toupper((unsigned char)item.p[item.len - 1]);
        return last == 'L' || last == 'W';
    }
    return false;
}

/* Parses one list item (no commas) into bits. */
static int parse_item(enum cron_field f, struct span item, struct field_result *res,
                      struct px_error *err)
{
    const struct field_spec *spec = &field_specs[f];
    bool day_field = f == F_MDAY || f == F_WDAY;
    char whole[TOKEN_SHOW + 8];
    size_t pos = 0;
    int lo, hi, step = 1;
    bool range_or_star = false;
    int rc;

    show_token(whole, sizeof(whole), item.p, item.len);
    if (item.len == 0)
        return field_error(err, f,
                           "empty item in the list (two commas in a row, or a comma at "
                           "the start or end)");

    if (item.p[0] == '?') {
        if (!day_field)
            return field_error(err, f,
                               "'?' is only allowed in the day-of-month and day-of-week "
                               "fields (use '*')");
        if (item.len != 1)
            return field_error(err, f, "'%s' is not valid: '?' must stand alone", whole);
        lo = spec->min;
        hi = spec->star_max;
        pos = 1;
        range_or_star = true;
    } else if (item.p[0] == '*') {
        lo = spec->min;
        hi = spec->star_max;
        pos = 1;
        range_or_star = true;
        if (pos < item.len && item.p[pos] != '/')
            return field_error(err, f,
                               "'%s' is not valid: '*' may only be followed by a step "
                               "such as '*/5'",
                               whole);
    } else {
        if (day_field && looks_quartz(item))
            return field_error(err, f,
                               "'%s' uses the Quartz 'L', 'W' or '#' syntax, which is not "
                               "supported (allowed %s)",
                               whole, spec->allowed);
        if ((rc = read_value(f, item, &pos, &lo, err)) < 0)
            return rc;
        hi = lo;
        if (pos < item.len && item.p[pos] == '-') {
            pos++;
            if ((rc = read_value(f, item, &pos, &hi, err)) < 0)
                return rc;
            if (lo > hi)
                return field_error(err, f,
                                   "range '%s' is reversed (start after end); ranges do not "
                                   "wrap around, write it as a list such as '22-23,0-1'",
                                   whole);
            range_or_star = true;
        }
    }

    if (pos < item.len && item.p[pos] == '/') {
        long s = 0;
        size_t ds = ++pos;
        int width = spec->star_max - spec->min + 1;
        while (pos < item.len && is_digit(item.p[pos])) {
            if (s < 1000000)
                s = s * 10 + (item.p[pos] - '0');
            pos++;
        }
        if (pos == ds || pos != item.len)
            return field_error(err, f, "'%s' is not valid: a step must be a number, as in '*/5'",
                               whole);
        if (s == 0)
            return field_error(err, f, "step 0 in '%s' is not allowed (allowed steps 1-%d)", whole,
                               width);
        if (s > width)
            return field_error(err, f, "step %ld in '%s' is out of range (allowed steps 1-%d)", s,
                               whole, width);
        step = (int)s;
        if (!range_or_star) /* "a/n" = "a-max/n"; day-of-week "7/n" is just Sunday */
            hi = lo > spec->star_max ? lo : spec->star_max;
        range_or_star = true;
    } else if (pos != item.len) {
        return field_error(err, f,
                           "'%s' is not valid: expected a value (%s), '*', a range a-b, a step "
                           "*/n, a-b/n or a/n, or a comma-separated list of those",
                           whole, spec->allowed);
    }

    for (int v = lo; v <= hi; v += step)
        res->bits |= (uint64_t)1 << (f == F_WDAY && v == 7 ? 0 : v);
    if (item.len == 1 && (item.p[0] == '*' || item.p[0] == '?'))
        res->star = true;
    res->fixed = !range_or_star;
    res->wild = item.p[0] == '*' || memchr(item.p, '/', item.len) != NULL;
    return 0;
}

/* Parses one whole field (a comma-separated list). */
static int parse_field(enum cron_field f, struct span field, struct field_result *res,
                       struct px_error *err)
{
    size_t start = 0;
    int items = 0;
    memset(res, 0, sizeof(*res));
    for (size_t i = 0; i <= field.len; i++) {
        if (i < field.len && field.p[i] != ',')
            continue;
        struct span item = {field.p + start, i - start};
        struct field_result one = {0};
        int rc = parse_item(f, item, &one, err);
        if (rc < 0)
            return rc;
        res->bits |= one.bits;
        res->star = one.star; /* only meaningful when the list has one item */
        res->fixed = one.fixed;
        res->wild = res->wild || one.wild;
        items++;
        start = i + 1;
    }
    if (items != 1) {
        res->star = false;
        res->fixed = false;
    }
    return 0;
}

static const struct {
    const char *name;
    const char *expr;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* Splits s into whitespace-separated fields; returns how many (fields beyond max counted). */
static int split_fields(const char *s, struct span *out, int max)
{
    int n = 0;
    while (*s) {
        while (*s && isspace((unsigned char)*s))
            s++;
        if (!*s)
            break;
        const char *b = s;
        while (*s && !isspace((unsigned char)*s))
            s++;
        if (n < max)
            out[n] = (struct span){b, (size_t)(s - b)};
        n++;
    }
    return n;
}

static int days_in_month_max(int month)
{
    static const int days[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return days[month];
}

static int parse_fields(const char *expr, struct px_cron *out, struct px_error *err);

int px_cron_parse(const char *expr, struct px_cron *out, struct px_error *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if (!expr)
        expr = "";
    size_t len = strlen(expr);
    if (len > CRON_MAX_LEN) {
        rc = px_error_set(err, PX_EINVALID,
                          "cron expression is too long (%zu characters, at most %d)", len,
                          CRON_MAX_LEN);
        px_error_hint(err, "%s", CRON_HINT);
        return rc;
    }
    while (*expr && isspace((unsigned char)*expr))
        expr++;
    if (*expr == '\0') {
        rc = px_error_set(err, PX_EINVALID, "cron expression is empty");
        px_error_hint(err, "%s", CRON_HINT);
        return rc;
    }

    if (*expr == '@') {
        struct span f[2];
        char tok[TOKEN_SHOW + 8];
        int n = split_fields(expr, f, 2);
        show_token(tok, sizeof(tok), f[0].p, f[0].len);
        if (f[0].len == 7 && strncasecmp(f[0].p, "@reboot", 7) == 0) {
            rc = px_error_set(err, PX_EINVALID,
                              "'@reboot' is not supported: schedules fire at times of day, not "
                              "when a server starts (a restart never fires a run)");
            px_error_hint(err, "use a time-based schedule such as \"@daily\" or \"0 6 * * *\" "
                               "(every day at 06:00), or trigger the pipeline manually");
            return rc;
        }
        for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
            if (strlen(macros[i].name) != f[0].len ||
                strncasecmp(f[0].p, macros[i].name, f[0].len) != 0)
                continue;
            if (n != 1) {
                rc = px_error_set(err, PX_EINVALID,
                                  "'%s' must stand alone, but %d more field%s follow%s it", tok,
                                  n - 1, n == 2 ? "" : "s", n == 2 ? "s" : "");
                px_error_hint(err, "write just \"%s\" (= \"%s\") or 5 fields", macros[i].name,
                              macros[i].expr);
                return rc;
            }
            return parse_fields(macros[i].expr, out, err);
        }
        rc = px_error_set(err, PX_EINVALID,
                          "unknown macro '%s' (known: @yearly @annually @monthly @weekly @daily "
                          "@midnight @hourly)",
                          tok);
        px_error_hint(err, "%s", CRON_HINT);
        return rc;
    }

    return parse_fields(expr, out, err);
}

/* Parses the 5-field form into out (left zeroed on error). */
static int parse_fields(const char *expr, struct px_cron *out, struct px_error *err)
{
    struct span fields[CRON_MAX_FIELDS];
    struct field_result res[F_COUNT];
    int n = split_fields(expr, fields, CRON_MAX_FIELDS);
    int rc;

    if (n == 6 || n == 7) {
        rc = px_error_set(err, PX_EINVALID,
                          "expected 5 fields (%s), found %d: a leading seconds field%s is not "
                          "supported; schedules have minute resolution",
                          FIELD_ORDER, n, n == 7 ? " (and a trailing year field)" : "");
        px_error_hint(err, "drop the seconds field: \"0 30 6 * * *\" becomes \"30 6 * * *\" "
                           "(every day at 06:30)");
        return rc;
    }
    if (n != F_COUNT) {
        rc = px_error_set(err, PX_EINVALID, "expected 5 fields (%s), found %d", FIELD_ORDER, n);
        px_error_hint(err, "%s", CRON_HINT);
        return rc;
    }
    for (int f = 0; f < F_COUNT; f++)
        if ((rc = parse_field((enum cron_field)f, fields[f], &res[f], err)) < 0)
            return rc;

    struct px_cron c = {
        .minutes = res[F_MINUTE].bits,
        .hours = (uint32_t)res[F_HOUR].bits,
        .mdays = (uint32_t)res[F_MDAY].bits,
        .months = (uint16_t)res[F_MONTH].bits,
        .wdays = (uint8_t)res[F_WDAY].bits,
        .mday_star = res[F_MDAY].star,
        .wday_star = res[F_WDAY].star,
        .minute_fixed = res[F_MINUTE].fixed,
        .hour_fixed = res[F_HOUR].fixed,
        .minute_wild = res[F_MINUTE].wild,
        .hour_wild = res[F_HOUR].wild,
    };

    /* With day-of-week unrestricted only day-of-month decides: make sure some month has one. */
    if (!c.mday_star && c.wday_star) {
        bool possible = false;
        int smallest = 32;
        for (int d = 1; d <= 31; d++)
            if (c.mdays & (1u << d)) {
                smallest = d;
                break;
            }
        for (int m = 1; m <= 12; m++)
            if ((c.months & (1u << m)) && smallest <= days_in_month_max(m))
                possible = true;
        if (!possible) {
            char dtok[TOKEN_SHOW + 8], mtok[TOKEN_SHOW + 8];
            show_token(dtok, sizeof(dtok), fields[F_MDAY].p, fields[F_MDAY].len);
            show_token(mtok, sizeof(mtok), fields[F_MONTH].p, fields[F_MONTH].len);
            rc = px_error_set(err, PX_EINVALID,
                              "day-of-month field (field 3 of 5): day '%s' never occurs in "
                              "month '%s', so the schedule would never fire",
                              dtok, mtok);
            px_error_hint(err, "pick a day every selected month has (February has at most 29), "
                               "e.g. \"0 0 28 2 *\" = February 28 at 00:00");
            return rc;
        }
    }
    *out = c;
    return 0;
}
