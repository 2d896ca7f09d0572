/*
 * IANA time zones from the system tz database: a TZif reader (RFC 8536 / RFC 9636) and the
 * POSIX TZ footer rules, with UTC→local and local→UTC lookups. It never touches TZ, tzset or
 * localtime, so zones can be used from any thread; a loaded zone is immutable.
 *
 * How a zone is held: one sorted transition table (binary search) made of the file's own
 * transitions followed by transitions generated from the footer rule up to the year
 * TZ_EXTEND_YEAR, so that for any date a scheduler cares about a lookup is one binary search.
 * Past that year (or for a file with no transitions) the footer rule is evaluated directly,
 * with the instant first reduced modulo the 400-year Gregorian cycle.
 *
 * Semantics follow glibc (the test oracle) where RFC 9636 leaves room: the footer rule governs
 * every instant at or after the file's last transition; before the first transition time type
 * 0 applies. Leap-second records are skipped: we read the POSIX ("non-right/") zones.
 * Anything a file says is checked against the file's size before it is read.
 */
#include "base/tz.h"

#include "base/civil.h"
#include "base/err.h"
#include "base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Largest TZif file we read; real ones are under 10 KB. */
#define TZ_MAX_FILE (1 << 20)
/* Longest zone name accepted (a single path component limit on most systems). */
#define TZ_MAX_NAME 255
/* Footer rules are expanded into the table up to the end of this year, when the file's last
 * transition is after TZ_EXTEND_FROM (always, for real files). */
#define TZ_EXTEND_YEAR 2100
#define TZ_EXTEND_FROM 1800
/* Instants beyond ±2^62 s (about 1.4e11 years) are clamped: they mean nothing, and keeping
 * them away from INT64 limits keeps the arithmetic defined. */
#define TZ_LIMIT ((int64_t)1 << 62)
/* Largest |UT offset| accepted (RFC 9636 recommends -89999..93599). */
#define TZ_MAX_OFFSET 93600
/* Longest abbreviation in a footer (POSIX needs 3+; zic emits at most 6). */
#define TZ_MAX_ABBR 31
/* Seconds in the 400-year Gregorian cycle. */
#define CYCLE_SECS ((int64_t)146097 * 86400)

#define TZ_HINT                                                                                    \
    "use an IANA time zone name such as \"UTC\", \"America/New_York\" or \"Europe/Berlin\" "       \
    "(names are case-sensitive)"

struct tz_type {
    int32_t utoff;    /* seconds east of UTC: local = utc + utoff */
    bool isdst;       /* daylight saving time */
    const char *abbr; /* abbreviation, owned by the zone */
};

/* One rule date of a POSIX TZ string: "Jn", "n" or "Mm.w.d", with its time of day. */
struct tz_rule {
    char kind;    /* 'J' (1..365, no Feb 29), 'D' (0..365, counting Feb 29), 'M' */
    int n;        /* day for 'J' and 'D' */
    int m, w, d;  /* month 1..12, week 1..5 (5 = last), weekday 0..6 (0 = Sunday) for 'M' */
    int32_t time; /* seconds after local midnight, -167h..167h */
};

/* The footer: what applies at and after the last transition. */
struct tz_footer {
    bool present;                   /* the file has a non-empty footer */
    bool has_dst;                   /* the footer has a DST rule */
    int std_type;                   /* index of the standard-time type in types */
    int dst_type;                   /* index of the DST type (when has_dst) */
    struct tz_rule start;           /* DST starts (given in local standard time) */
    struct tz_rule end;             /* DST ends (given in local DST time) */
    char std_abbr[TZ_MAX_ABBR + 1]; /* abbreviation storage for the footer types */
    char dst_abbr[TZ_MAX_ABBR + 1];
    int32_t std_off; /* UT offsets of the two types */
    int32_t dst_off;
};

struct px_tz {
    char *name;         /* as loaded */
    int64_t *trans;     /* transition instants, strictly ascending */
    uint16_t *trans_ty; /* type index in force from trans[i] on */
    size_t ntrans;      /* entries in trans/trans_ty */
    struct tz_type *types;
    int ntypes;
    char *abbrs;         /* the file's abbreviation pool, NUL-terminated */
    int32_t max_abs_off; /* largest |utoff| of any type, bounds the local→UTC search */
    struct tz_footer footer;
};

/* ---- Calendar arithmetic (proleptic Gregorian, days since 1970-01-01) ---- */

/* The year of the day z days after 1970-01-01. */
static int64_t year_of_days(int64_t z)
{
    z += 719468;
    int64_t era = px_floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t y = yoe + era * 400;
    return mp >= 10 ? y + 1 : y;
}

/* The day (days since the epoch) a rule names in year y. */
static int64_t rule_day(const struct tz_rule *r, int64_t y)
{
    int64_t jan1 = px_days_from_civil(y, 1, 1);
    switch (r->kind) {
    case 'J':
        return jan1 + r->n - 1 + (px_is_leap(y) && r->n >= 60);
    case 'D':
        return jan1 + r->n;
    default: {
        int64_t first = px_days_from_civil(y, r->m, 1);
        int wd_first = (int)(((first + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
        int mday = 1 + (r->d - wd_first + 7) % 7 + 7 * (r->w - 1);
        while (mday > px_month_days(y, r->m))
            mday -= 7;
        return first + mday - 1;
    }
    }
}

/* ---- Footer rule evaluation ---- */

/* A footer transition: at `at` the type becomes dst or std. */
struct ftrans {
    int64_t at;
    bool dst;
};

/* The two footer transitions of year y. */
static void footer_year(const struct tz_footer *f, int64_t y, struct ftrans out[2])
{
    out[0].at = rule_day(&f->start, y) * 86400 + f->start.time - f->std_off;
    out[0].dst = true;
    out[1].at = rule_day(&f->end, y) * 86400 + f->end.time - f->dst_off;
    out[1].dst = false;
}

/* Orders by instant; at the same instant the DST start sorts last, so it wins (a "DST all
 * year" rule such as "J1/0,J365/25" ends and restarts DST at the same instant). */
static int ftrans_cmp(const void *a, const void *b)
{
    const struct ftrans *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return (int)x->dst - (int)y->dst;
}

/* Footer years in a window: a year's two transitions lie within about 9 days of that year
 * (rule times up to ±167 h, offsets up to ±26 h), so consecutive years may overlap (a DST
 * period that ends after the next one starts). Years y-3..y+2 around the UTC year y of t hold
 * the last transition at or before t (every transition of y-4 and earlier precedes all of
 * y-2's, which are before t) and the first one after it. */
#define FW_BEFORE 3
#define FW_YEARS 6
#define FW_N (2 * FW_YEARS)

/* The footer transitions of the years around the year of t (FW_N entries, sorted). */
static void footer_window(const struct tz_footer *f, int64_t t, struct ftrans out[FW_N])
{
    int64_t y = year_of_days(px_floor_div(t, 86400));
    for (int k = 0; k < FW_YEARS; k++)
        footer_year(f, y - FW_BEFORE + k, out + 2 * k);
    for (int i = 1; i < FW_N; i++) /* insertion sort: few entries, nearly in order */
        for (int j = i; j > 0 && ftrans_cmp(&out[j - 1], &out[j]) > 0; j--) {
            struct ftrans tmp = out[j];
            out[j] = out[j - 1];
            out[j - 1] = tmp;
        }
}

/* The whole 400-year cycles in t (|t| <= TZ_LIMIT): t - shift lies in [0, CYCLE_SECS). The
 * Gregorian calendar repeats exactly every 400 years, and so do footer rules. */
static int64_t cycle_shift(int64_t t)
{
    return px_floor_div(t, CYCLE_SECS) * CYCLE_SECS;
}

/* The footer type (index) in force at t. */
static int footer_type_at(const struct tz_footer *f, int64_t t)
{
    struct ftrans w[FW_N];
    if (!f->has_dst)
        return f->std_type;
    t = t > TZ_LIMIT ? TZ_LIMIT : t < -TZ_LIMIT ? -TZ_LIMIT : t;
    t -= cycle_shift(t);
    footer_window(f, t, w);
    bool dst = false; /* unreachable default: the window always starts years before t */
    for (int i = 0; i < FW_N && w[i].at <= t; i++)
        dst = w[i].dst;
    return dst ? f->dst_type : f->std_type;
}

/* The first footer transition strictly after t: returns false when it would overflow. */
static bool footer_next(const struct tz_footer *f, int64_t t, int64_t *at_out, int *type_out)
{
    struct ftrans w[FW_N];
    if (t >= TZ_LIMIT)
        return false;
    if (t < -TZ_LIMIT)
        t = -TZ_LIMIT;
    int64_t shift = cycle_shift(t);
    t -= shift;
    footer_window(f, t, w);
    for (int i = 0; i < FW_N; i++) {
        if (w[i].at <= t)
            continue;
        /* Of transitions at the same instant the last one wins. */
        while (i + 1 < FW_N && w[i + 1].at == w[i].at)
            i++;
        *at_out = w[i].at + shift;
        *type_out = w[i].dst ? f->dst_type : f->std_type;
        return true;
    }
    return false;
}

/* ---- POSIX TZ string (the footer) ---- */

/* Reads an abbreviation: letters, or <...> holding [A-Za-z0-9+-]; at least 3 characters. */
static bool parse_abbr(const char **pp, char *out)
{
    const char *p = *pp;
    size_t n = 0;
    if (*p == '<') {
        p++;
        while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
               *p == '+' || *p == '-') {
            if (n >= TZ_MAX_ABBR)
                return false;
            out[n++] = *p++;
        }
        if (*p != '>')
            return false;
        p++;
    } else {
        while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')) {
            if (n >= TZ_MAX_ABBR)
                return false;
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    if (n < 3)
        return false;
    *pp = p;
    return true;
}

/* Reads a non-negative decimal number of at most max_digits digits. */
static bool parse_num(const char **pp, int max_digits, int *out)
{
    const char *p = *pp;
    int v = 0, k = 0;
    while (*p >= '0' && *p <= '9' && k < max_digits) {
        v = v * 10 + (*p++ - '0');
        k++;
    }
    if (k == 0 || (*p >= '0' && *p <= '9'))
        return false;
    *out = v;
    *pp = p;
    return true;
}

/* Reads [+-]hh[:mm[:ss]] with hh ≤ 167 (RFC 9636 / TZif v3) into seconds. */
static bool parse_hms(const char **pp, int32_t *out)
{
    const char *p = *pp;
    int sign = 1, h, m = 0, s = 0;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (!parse_num(&p, 3, &h) || h > 167)
        return false;
    if (*p == ':') {
        p++;
        if (!parse_num(&p, 2, &m) || m > 59)
            return false;
        if (*p == ':') {
            p++;
            if (!parse_num(&p, 2, &s) || s > 59)
                return false;
        }
    }
    *out = sign * (h * 3600 + m * 60 + s);
    *pp = p;
    return true;
}

static bool parse_rule(const char **pp, struct tz_rule *r)
{
    const char *p = *pp;
    if (*p == 'J') {
        p++;
        r->kind = 'J';
        if (!parse_num(&p, 3, &r->n) || r->n < 1 || r->n > 365)
            return false;
    } else if (*p == 'M') {
        p++;
        r->kind = 'M';
        if (!parse_num(&p, 2, &r->m) || r->m < 1 || r->m > 12 || *p++ != '.' ||
            !parse_num(&p, 1, &r->w) || r->w < 1 || r->w > 5 || *p++ != '.' ||
            !parse_num(&p, 1, &r->d) || r->d > 6)
            return false;
    } else {
        r->kind = 'D';
        if (!parse_num(&p, 3, &r->n) || r->n > 365)
            return false;
    }
    r->time = 7200;
    if (*p == '/') {
        p++;
        if (!parse_hms(&p, &r->time))
            return false;
    }
    *pp = p;
    return true;
}

/* Parses a POSIX TZ string into f (types not yet assigned). */
static bool parse_posix_tz(const char *s, struct tz_footer *f)
{
    const char *p = s;
    int32_t off;
    if (!parse_abbr(&p, f->std_abbr) || !parse_hms(&p, &off))
        return false;
    f->std_off = -off; /* POSIX offsets count west of Greenwich */
    if (*p == '\0')
        return true;
    if (!parse_abbr(&p, f->dst_abbr))
        return false;
    f->has_dst = true;
    f->dst_off = f->std_off + 3600;
    if (*p != ',' && *p != '\0') {
        if (!parse_hms(&p, &off))
            return false;
        f->dst_off = -off;
    }
    if (*p == '\0') {
        /* No rule: the traditional US default ("posixrules"), as glibc and tzcode do. */
        const char *def = "M3.2.0,M11.1.0";
        return parse_rule(&def, &f->start) && *def++ == ',' && parse_rule(&def, &f->end);
    }
    if (*p++ != ',' || !parse_rule(&p, &f->start) || *p++ != ',' || !parse_rule(&p, &f->end))
        return false;
    return *p == '\0';
}

/* ---- TZif reading ---- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_header {
    char version;
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static void read_header(const unsigned char *p, struct tzif_header *h)
{
    h->version = (char)p[4];
    h->isutcnt = be32(p + 20);
    h->isstdcnt = be32(p + 24);
    h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32);
    h->typecnt = be32(p + 36);
    h->charcnt = be32(p + 40);
}

/* Size of the data block that follows a header, for time values of tsize bytes. */
static uint64_t block_size(const struct tzif_header *h, unsigned tsize)
{
    return (uint64_t)h->timecnt * tsize + h->timecnt + (uint64_t)h->typecnt * 6 + h->charcnt +
           (uint64_t)h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

/* Finds a type equal to (utoff, isdst, abbr) or appends one; returns its index. */
static int find_or_add_type(struct px_tz *tz, int32_t utoff, bool isdst, const char *abbr)
{
    for (int i = 0; i < tz->ntypes; i++)
        if (tz->types[i].utoff == utoff && tz->types[i].isdst == isdst &&
            strcmp(tz->types[i].abbr, abbr) == 0)
            return i;
    tz->types[tz->ntypes] = (struct tz_type){utoff, isdst, abbr};
    return tz->ntypes++;
}

/*
 * The footer governs from the file's last transition on (as in glibc): make the table say so
 * at that instant, then append the footer's own transitions up to TZ_EXTEND_YEAR, so lookups
 * in the years a scheduler cares about are a plain binary search. A last transition before
 * TZ_EXTEND_FROM is left alone: type_at then evaluates the footer directly.
 */
static void extend_with_footer(struct px_tz *tz)
{
    struct tz_footer *f = &tz->footer;
    size_t n0 = tz->ntrans;
    int64_t last = tz->trans[n0 - 1];
    int64_t y0 = year_of_days(px_floor_div(last, 86400)) - 1;

    tz->trans_ty[n0 - 1] = (uint16_t)footer_type_at(f, last);
    if (!f->has_dst || y0 < TZ_EXTEND_FROM - 1 || y0 > TZ_EXTEND_YEAR)
        return;

    size_t years = (size_t)(TZ_EXTEND_YEAR + 1 - y0 + 1), cand_n = 2 * years;
    struct ftrans *cand = px_xmalloc(cand_n * sizeof(*cand));
    for (size_t k = 0; k < years; k++)
        footer_year(f, y0 + (int64_t)k, cand + 2 * k);
    qsort(cand, cand_n, sizeof(*cand), ftrans_cmp);

    tz->trans = px_xrealloc(tz->trans, (n0 + cand_n) * sizeof(*tz->trans));
    tz->trans_ty = px_xrealloc(tz->trans_ty, (n0 + cand_n) * sizeof(*tz->trans_ty));
    int cur = tz->trans_ty[n0 - 1];
    for (size_t k = 0; k < cand_n; k++) {
        int ty = cand[k].dst ? f->dst_type : f->std_type;
        if (cand[k].at <= last)
            continue;
        if (tz->ntrans > n0 && tz->trans[tz->ntrans - 1] == cand[k].at) {
            tz->trans_ty[tz->ntrans - 1] = (uint16_t)ty; /* same instant: the later one wins */
        } else if (ty != cur) {
            tz->trans[tz->ntrans] = cand[k].at;
            tz->trans_ty[tz->ntrans] = (uint16_t)ty;
            tz->ntrans++;
        }
        cur = tz->trans_ty[tz->ntrans - 1];
    }
    free(cand);
}

/*
 * Parses a whole TZif image into tz. Returns NULL, or a short reason the file is damaged.
 */
static const char *parse_tzif(struct px_tz *tz, const unsigned char *data, size_t size)
{
    struct tzif_header h;
    size_t pos = 0;
    unsigned tsize = 4;

    if (size < 44 || memcmp(data, "TZif", 4) != 0)
        return "not a TZif file";
    read_header(data, &h);
    if (h.version != 0 && h.version < '2')
        return "unknown TZif version";
    pos = 44;
    if (h.version >= '2') {
        /* Skip the 32-bit block; the 64-bit one that follows has the full range. */
        uint64_t skip = block_size(&h, 4);
        if (skip > size - pos || size - pos - skip < 44)
            return "truncated version 1 data block";
        pos += (size_t)skip;
        if (memcmp(data + pos, "TZif", 4) != 0)
            return "second header missing";
        read_header(data + pos, &h);
        pos += 44;
        tsize = 8;
    }
    if (h.typecnt == 0 || h.typecnt > 256)
        return "bad number of time types";
    if (h.charcnt == 0)
        return "no time zone abbreviations";
    if ((h.isutcnt != 0 && h.isutcnt != h.typecnt) || (h.isstdcnt != 0 && h.isstdcnt != h.typecnt))
        return "bad standard/UT indicator counts";
    uint64_t need = block_size(&h, tsize);
    if (need > size - pos)
        return "counts exceed the file size";

    const unsigned char *times = data + pos;
    const unsigned char *idx = times + (size_t)h.timecnt * tsize;
    const unsigned char *ttinfo = idx + h.timecnt;
    const unsigned char *chars = ttinfo + (size_t)h.typecnt * 6;
    pos += (size_t)need;

    /* Footer: "\n<POSIX TZ string>\n" (v2+). */
    if (tsize == 8) {
        if (pos >= size || data[pos] != '\n')
            return "footer missing";
        const unsigned char *nl = memchr(data + pos + 1, '\n', size - pos - 1);
        if (!nl)
            return "footer not terminated";
        size_t flen = (size_t)(nl - (data + pos + 1));
        if (flen > 0) {
            char buf[256];
            if (flen >= sizeof(buf) || memchr(data + pos + 1, '\0', flen))
                return "footer too long or holds a NUL byte";
            memcpy(buf, data + pos + 1, flen);
            buf[flen] = '\0';
            if (!parse_posix_tz(buf, &tz->footer))
                return "footer TZ string not understood";
            tz->footer.present = true;
        }
    }

    tz->abbrs = px_xmalloc((size_t)h.charcnt + 1);
    memcpy(tz->abbrs, chars, h.charcnt);
    tz->abbrs[h.charcnt] = '\0';
    tz->types = px_xcalloc((size_t)h.typecnt + 2, sizeof(*tz->types));
    for (uint32_t i = 0; i < h.typecnt; i++) {
        const unsigned char *t = ttinfo + 6 * (size_t)i;
        int32_t off = (int32_t)be32(t);
        if (off < -TZ_MAX_OFFSET || off > TZ_MAX_OFFSET)
            return "UT offset out of range";
        if (t[4] > 1)
            return "bad DST flag";
        if (t[5] >= h.charcnt)
            return "abbreviation index out of range";
        tz->types[i] = (struct tz_type){off, t[4] == 1, tz->abbrs + t[5]};
    }
    tz->ntypes = (int)h.typecnt;

    /* Footer types. */
    if (tz->footer.present) {
        struct tz_footer *f = &tz->footer;
        if (f->std_off < -TZ_MAX_OFFSET || f->std_off > TZ_MAX_OFFSET ||
            f->dst_off < -TZ_MAX_OFFSET || f->dst_off > TZ_MAX_OFFSET)
            return "footer offset out of range";
        f->std_type = find_or_add_type(tz, f->std_off, false, f->std_abbr);
        if (f->has_dst)
            f->dst_type = find_or_add_type(tz, f->dst_off, true, f->dst_abbr);
    }

    tz->trans = px_xmalloc(((size_t)h.timecnt + 1) * sizeof(*tz->trans));
    tz->trans_ty = px_xmalloc(((size_t)h.timecnt + 1) * sizeof(*tz->trans_ty));
    for (uint32_t i = 0; i < h.timecnt; i++) {
        int64_t t = tsize == 8 ? be64(times + 8 * (size_t)i) : (int32_t)be32(times + 4 * (size_t)i);
        if (i > 0 && t <= tz->trans[i - 1])
            return "transition times not ascending";
        if (idx[i] >= h.typecnt)
            return "transition type index out of range";
        tz->trans[i] = t;
        tz->trans_ty[i] = idx[i];
    }
    tz->ntrans = h.timecnt;
    if (tz->footer.present && tz->ntrans > 0)
        extend_with_footer(tz);
    tz->max_abs_off = 0;
    for (int i = 0; i < tz->ntypes; i++) {
        int32_t a = tz->types[i].utoff < 0 ? -tz->types[i].utoff : tz->types[i].utoff;
        if (a > tz->max_abs_off)
            tz->max_abs_off = a;
    }
    return NULL;
}

/* Refuses names that could leave the database directory or are not zone names. */
static bool name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > TZ_MAX_NAME || name[0] == '/' || strstr(name, ".."))
        return false;
    /* Files in the database that are not civil-time zones: leap-second ("right/") variants,
     * the zic template and the host's own setting. */
    if (strncmp(name, "right/", 6) == 0 || strcmp(name, "posixrules") == 0 ||
        strcmp(name, "localtime") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '_' || c == '+' || c == '-'))
            return false;
    }
    return true;
}

static const char *tz_root(void)
{
    const char *r = getenv("PLANASONIX_TZDIR");
    if (!r || !*r)
        r = getenv("TZDIR");
    if (!r || !*r)
        r = "/usr/share/zoneinfo";
    return r;
}

/* Reads a regular file of at most TZ_MAX_FILE bytes. Returns 0, or an errno-style value (ENOENT
 * for "not a zone": missing, not a regular file, too large). */
static int read_file(const char *path, unsigned char **data_out, size_t *size_out)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return errno == ENOTDIR || errno == ELOOP || errno == ENAMETOOLONG ? ENOENT : errno;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 || st.st_size > TZ_MAX_FILE) {
        close(fd);
        return ENOENT;
    }
    size_t size = (size_t)st.st_size, got = 0;
    unsigned char *data = px_xmalloc(size + 1);
    while (got < size) {
        ssize_t r = read(fd, data + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : EIO;
            free(data);
            close(fd);
            return e;
        }
        got += (size_t)r;
    }
    close(fd);
    *data_out = data;
    *size_out = size;
    return 0;
}

/* Copies name for a message: at most 64 bytes, unprintable bytes as '?'. */
static void show_name(char *out, size_t size, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; name[i] && n + 4 < size && i < 64; i++) {
        unsigned char c = (unsigned char)name[i];
        out[n++] = (c < 0x20 || c >= 0x7f || c == '\'') ? '?' : (char)c;
    }
    if (strlen(name) > 64)
        for (int k = 0; k < 3; k++)
            out[n++] = '.';
    out[n] = '\0';
}

int px_tz_load(const char *name, struct px_tz **out, struct px_error *err)
{
    char shown[80], path[PATH_MAX];
    unsigned char *data = NULL;
    size_t size = 0;
    int rc, e;

    *out = NULL;
    if (!name)
        name = "";
    show_name(shown, sizeof(shown), name);
    if (!name_ok(name)) {
        rc = px_error_set(err, PX_EINVALID,
                          "unknown time zone '%s': a zone name is like \"Area/City\" and uses "
                          "only letters, digits, '/', '_', '+' and '-'",
                          shown);
        px_error_hint(err, TZ_HINT);
        return rc;
    }
    int pn = snprintf(path, sizeof(path), "%s/%s", tz_root(), name);
    if (pn < 0 || (size_t)pn >= sizeof(path))
        e = ENOENT;
    else
        e = read_file(path, &data, &size);
    if (e != 0) {
        if (e == ENOENT)
            rc = px_error_set(err, PX_EINVALID, "unknown time zone '%s'", shown);
        else
            rc = px_error_set(err, PX_EINVALID,
                              "unknown time zone '%s': the tz database could not be read (%s)",
                              shown, strerror(e));
        px_error_hint(err, TZ_HINT);
        return rc;
    }
    if (size < 4 || memcmp(data, "TZif", 4) != 0) {
        free(data);
        rc = px_error_set(err, PX_EINVALID, "unknown time zone '%s'", shown);
        px_error_hint(err, TZ_HINT);
        return rc;
    }

    struct px_tz *tz = px_xcalloc(1, sizeof(*tz));
    const char *why = parse_tzif(tz, data, size);
    free(data);
    if (why) {
        px_tz_free(tz);
        rc = px_error_set(err, PX_EINVALID,
                          "unknown time zone '%s': its tz database file is damaged (%s)", shown,
                          why);
        px_error_hint(err, "reinstall the tzdata package, or point PLANASONIX_TZDIR at a good "
                           "copy of the zoneinfo directory");
        return rc;
    }
    tz->name = px_xstrdup(name);
    *out = tz;
    return 0;
}

void px_tz_free(struct px_tz *tz)
{
    if (!tz)
        return;
    free(tz->name);
    free(tz->trans);
    free(tz->trans_ty);
    free(tz->types);
    free(tz->abbrs);
    free(tz);
}

const char *px_tz_name(const struct px_tz *tz)
{
    return tz->name;
}

/* ---- Lookups ---- */

/* Index of the first transition strictly after t (ntrans when none). */
static size_t upper_bound(const struct px_tz *tz, int64_t t)
{
    size_t lo = 0, hi = tz->ntrans;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The type in force at t. */
static int type_at(const struct px_tz *tz, int64_t t)
{
    if (tz->footer.present && (tz->ntrans == 0 || t >= tz->trans[tz->ntrans - 1]))
        return footer_type_at(&tz->footer, t);
    if (tz->ntrans == 0 || t < tz->trans[0])
        return 0;
    return tz->trans_ty[upper_bound(tz, t) - 1];
}

/* The first change strictly after t: its instant and the type it brings. False when none. */
static bool next_change(const struct px_tz *tz, int64_t t, int64_t *at_out, int *type_out)
{
    if (tz->ntrans > 0 && t < tz->trans[tz->ntrans - 1]) {
        size_t j = upper_bound(tz, t);
        *at_out = tz->trans[j];
        *type_out = tz->trans_ty[j];
        return true;
    }
    if (tz->footer.present && tz->footer.has_dst)
        return footer_next(&tz->footer, t, at_out, type_out);
    return false;
}

int32_t px_tz_offset_at(const struct px_tz *tz, int64_t t, const char **abbr_out, bool *is_dst_out)
{
    const struct tz_type *ty = &tz->types[type_at(tz, t)];
    if (abbr_out)
        *abbr_out = ty->abbr;
    if (is_dst_out)
        *is_dst_out = ty->isdst;
    return ty->utoff;
}

bool px_tz_next_transition(const struct px_tz *tz, int64_t t, int64_t *at_out, int32_t *off_out,
                           bool *is_dst_out, const char **abbr_out)
{
    int64_t at;
    int ty;
    if (t > TZ_LIMIT)
        t = TZ_LIMIT;
    if (t < -TZ_LIMIT)
        t = -TZ_LIMIT;
    if (!next_change(tz, t, &at, &ty))
        return false;
    if (at_out)
        *at_out = at;
    if (off_out)
        *off_out = tz->types[ty].utoff;
    if (is_dst_out)
        *is_dst_out = tz->types[ty].isdst;
    if (abbr_out)
        *abbr_out = tz->types[ty].abbr;
    return true;
}

int px_tz_local_to_utc(const struct px_tz *tz, int64_t local, int64_t out[2])
{
    if (local > TZ_LIMIT)
        local = TZ_LIMIT;
    if (local < -TZ_LIMIT)
        local = -TZ_LIMIT;

    /* Any answer u has u = local - utoff with |utoff| <= max_abs_off: walk the pieces of
     * constant offset that meet that window, and keep u where it falls inside its piece. */
    int64_t lo = local - tz->max_abs_off, hi = local + tz->max_abs_off;
    int64_t seg_start = lo, gap_end = 0, next_at;
    int ty = type_at(tz, lo), prev_ty = -1, next_ty, n = 0;
    bool have_gap = false;

    for (;;) {
        bool more = next_change(tz, seg_start, &next_at, &next_ty);
        int64_t seg_end = more ? next_at : INT64_MAX;
        int64_t u = local - tz->types[ty].utoff;
        if (u >= seg_start && u < seg_end) {
            if (n < 2)
                out[n] = u;
            n++;
        } else if (prev_ty >= 0 && !have_gap && u < seg_start &&
                   local - tz->types[prev_ty].utoff >= seg_start) {
            /* local is past the end of the previous piece and before the start of this one:
             * skipped. The first instant after the gap is where this piece begins. */
            have_gap = true;
            gap_end = seg_start;
        }
        if (!more || next_at > hi)
            break;
        prev_ty = ty;
        ty = next_ty;
        seg_start = next_at;
    }
    if (n > 2)
        n = 2;
    if (n == 0)
        out[0] = have_gap ? gap_end : local - tz->types[type_at(tz, local)].utoff;
    if (n < 2)
        out[1] = out[0];
    return n;
}
