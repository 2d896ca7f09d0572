/* base/: time formatting against gmtime_r, bounded buffers, untrusted text cleanup, ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/dl.h"
#include "base/egress.h"
#include "base/err.h"
#include "base/id.h"
#include "base/json.h"
#include "base/lines.h"
#include "base/text.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void time_format_matches_gmtime(void **state)
{
    (void)state;
    char a[64], b[64];
    /* Every ~90 days from 1970 to 9999, plus leap days and month ends. */
    for (int64_t ms = 0; ms < 253402300799999LL; ms += 7777777777LL + 123) {
        px_time_format(ms, a, sizeof(a));
        time_t s = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&s, &tm);
        snprintf(b, sizeof(b), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
        assert_string_equal(a, b);
    }
    px_time_format(951782400000LL, a, sizeof(a)); /* 2000-02-29 */
    assert_string_equal(a, "2000-02-29T00:00:00.000Z");
    px_time_format(1798761599999LL, a, sizeof(a));
    assert_string_equal(a, "2026-12-31T23:59:59.999Z");
}

static void buffers_are_bounded(void **state)
{
    (void)state;
    struct px_buf b;
    px_buf_init(&b, 8);
    assert_int_equal(px_buf_puts(&b, "12345678"), 0);
    assert_int_equal(px_buf_puts(&b, "9"), -PX_ETOOLARGE);
    assert_int_equal(b.len, 8);
    px_buf_consume(&b, 3);
    assert_string_equal(b.data, "45678");
    assert_int_equal(px_buf_printf(&b, "%d", 12), 0);
    assert_string_equal(b.data, "4567812");
    px_buf_cleanup(&b);
}

static void text_is_cleaned_and_capped(void **state)
{
    (void)state;
    bool cut = false;
    char *t = px_text_clean("a\nb\x1b[31mc", 100, &cut);
    assert_string_equal(t, "a b [31mc");
    assert_false(cut);
    free(t);
    /* "é" is two bytes: a cap in its middle cuts before it. */
    t = px_text_clean("abc\xc3\xa9", 4, &cut);
    assert_string_equal(t, "abc");
    assert_true(cut);
    free(t);
    assert_true(px_utf8_valid("h\xc3\xa9llo", 6));
    assert_false(px_utf8_valid("\xc0\xaf", 2)); /* overlong */
    /* px_text_is_clean says exactly when cleaning changes nothing. */
    assert_false(px_text_is_clean(NULL, 10));
    srand(11);
    static const unsigned char pool[] = {'a',  'b',  'c',  'd',  ' ',  'e',  'f',
                                         'g',  'h',  'i',  '\n', 0x7f, 0xc2, 0x85,
                                         0xa0, 0xc3, 0xa9, 0x1b, 0x9f, 0x20, 0x7e};
    for (int round = 0; round < 20000; round++) {
        char in[41];
        int n = rand() % 41;
        /* Odd rounds: any mix; even rounds: plain text with at most one byte from the pool. */
        for (int i = 0; i < n; i++)
            in[i] = (char)pool[rand() % (round % 2 ? (int)sizeof(pool) : 10)];
        if (round % 2 == 0 && n > 0 && rand() % 2)
            in[rand() % n] = (char)pool[rand() % (int)sizeof(pool)];
        in[n] = '\0';
        size_t max = (size_t)(rand() % 42);
        t = px_text_clean(in, max, &cut);
        assert_int_equal(px_text_is_clean(in, max), !cut && strcmp(t, in) == 0);
        free(t);
    }
}

static void ids_have_kinds(void **state)
{
    (void)state;
    char id[PX_ID_MAX], other[PX_ID_MAX];
    px_id_new(PX_ID_PIPELINE, id);
    px_id_new(PX_ID_PIPELINE, other);
    assert_true(px_id_valid(PX_ID_PIPELINE, id));
    assert_string_not_equal(id, other);
    assert_false(px_id_valid(PX_ID_SCHEDULE, id));
    assert_int_equal(px_id_kind_of(id), PX_ID_PIPELINE);
    assert_int_equal(px_id_kind_of("sch_x"), PX_ID_SCHEDULE);
    assert_false(px_id_valid(PX_ID_PIPELINE, "pl_!!"));
}

struct collected {
    char lines[8][16];
    int n, oversized;
};

static bool collect(void *ctx, const char *text, size_t len)
{
    struct collected *c = ctx;
    snprintf(c->lines[c->n++], 16, "%.*s", (int)len, text);
    return true;
}

static void oversize(void *ctx)
{
    ((struct collected *)ctx)->oversized++;
}

static void lines_are_framed_and_capped(void **state)
{
    (void)state;
    struct px_lines l;
    struct collected c = {0};
    px_lines_init(&l, 8);
    /* Split across feeds, CRLF, blank lines skipped. */
    assert_true(px_lines_feed(&l, "ab", strlen("ab"), collect, oversize, &c));
    assert_true(
        px_lines_feed(&l, "c\r\n\n  \nde\n", strlen("c\r\n\n  \nde\n"), collect, oversize, &c));
    assert_int_equal(c.n, 2);
    assert_string_equal(c.lines[0], "abc");
    assert_string_equal(c.lines[1], "de");
    /* A 20-byte line with a cap of 8 is reported once; the next line still arrives. */
    assert_true(px_lines_feed(&l, "0123456789", strlen("0123456789"), collect, oversize, &c));
    assert_true(
        px_lines_feed(&l, "0123456789\nok\n", strlen("0123456789\nok\n"), collect, oversize, &c));
    assert_int_equal(c.oversized, 1);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.lines[2], "ok");
    px_lines_cleanup(&l);
}

/* px_json_write_str writes what json-c writes, and json-c reads back the original string, for
 * every byte 1..255 in every position and for random strings; px_json_raw serializes as given. */
static void check_json_string(const char *s, size_t max)
{
    struct px_buf b;
    px_buf_init(&b, max);
    px_json_write_str(&b, s);
    struct json_object *mine = json_tokener_parse(b.data);
    assert_non_null(mine);
    assert_string_equal(json_object_get_string(mine), s);
    struct json_object *theirs = json_object_new_string(s);
    assert_string_equal(b.data, px_json_str(theirs));
    json_object_put(theirs);
    json_object_put(mine);
    px_buf_cleanup(&b);
}

/* 1 when px_json_parse accepts text, 0 when it refuses it. */
static int parses(const char *text, unsigned flags)
{
    struct px_error err;
    px_error_clear(&err);
    struct json_object *o = px_json_parse_ex(text, strlen(text), 64, flags, &err);
    json_object_put(o);
    return o != NULL;
}

/* What json-c accepts but changes is refused: a NUL in a string or a member name, and an
 * integer outside 64 bits; the edges of the 64-bit range and escaped backslashes pass. */
static void json_nul_and_big_integers_are_refused(void **state)
{
    (void)state;
    assert_int_equal(parses("{\"name\":\"a\\u0000b\"}", 0), 0);
    assert_int_equal(parses("{\"na\\u0000me\":1}", 0), 0);
    assert_int_equal(parses("[\"\\u0000\"]", 0), 0);
    assert_int_equal(parses("{\"name\":\"a\\u0000b\"}", PX_JSON_ALLOW_NUL), 1);
    assert_int_equal(parses("{\"name\":\"a\\\\u0000b\"}", 0), 1); /* backslash, "u0000" */
    assert_int_equal(parses("{\"name\":\"\\u00001\\u0001\"}", 0), 0);
    assert_int_equal(parses("{\"name\":\"\\u0001\"}", 0), 1);
    assert_int_equal(parses("[18446744073709551615]", 0), 1);
    assert_int_equal(parses("[18446744073709551616]", 0), 0);
    assert_int_equal(parses("{\"id\":123456789012345678901234567890}", 0), 0);
    assert_int_equal(parses("[-9223372036854775808]", 0), 1);
    assert_int_equal(parses("[-9223372036854775809]", 0), 0);
    assert_int_equal(parses("[1, -2, 0, 123456789012345678901234567890.5, 1e30]", 0), 1);
    assert_int_equal(parses("{\"a\":\"123456789012345678901234567890\"}", 0), 1);
    struct px_error err;
    px_error_clear(&err);
    assert_null(px_json_parse("{\"x\":\"\\u0000\"}", 14, 64, &err));
    assert_non_null(strstr(err.message, "NUL"));
}

static void json_strings_match_json_c(void **state)
{
    (void)state;
    srand(7);
    char s[20];
    /* Every byte in every position of a 17-byte string (words of 8 plus a tail). */
    for (int c = 1; c < 256; c++)
        for (int at = 0; at < 17; at++) {
            memset(s, 'a', 17);
            s[17] = '\0';
            s[at] = (char)c;
            check_json_string(s, 4096);
        }
    /* Random strings, mostly plain or mostly escapes, of every length up to 300. */
    char r[301];
    for (int round = 0; round < 3000; round++) {
        int n = round % 301, plain = round % 3 != 0;
        for (int i = 0; i < n; i++)
            r[i] = (char)(plain && rand() % 8 ? 'a' + rand() % 26 : 1 + rand() % 255);
        r[n] = '\0';
        check_json_string(r, 1 << 20);
    }
    /* Near the buffer's bound (exact sizing) and past the long-string threshold. */
    memset(r, '"', 300);
    r[300] = '\0';
    check_json_string(r, 602);
    size_t big = 70000;
    char *l = malloc(big + 1);
    for (size_t i = 0; i < big; i++)
        l[i] = (char)(i % 7 ? 'x' : '\n');
    l[big] = '\0';
    check_json_string(l, 1 << 20);
    free(l);
    struct json_object *wrap = json_object_new_object();
    char *text = strdup("{\"a\":[1,\"x\"]}");
    json_object_object_add(wrap, "raw", px_json_raw(text));
    assert_string_equal(px_json_str(wrap), "{\"raw\":{\"a\":[1,\"x\"]}}");
    json_object_put(wrap);
}

static int (*dl_fn)(void);

/* A library that is not installed, or lacks a symbol, is a clear error naming the package;
 * one that loads fills every slot. */
static void libraries_load_on_first_use(void **state)
{
    (void)state;
    static const struct px_dl_sym missing_syms[] = {{"px_no_such_fn", &dl_fn}};
    static struct px_dl_lib missing =
        PX_DL_LIB("libpx-not-installed.so.1", "Test connections", "px-test-pkg", missing_syms);
    struct px_error err;
    px_error_clear(&err);
    assert_int_equal(px_dl_load(&missing, &err), -PX_EUNAVAILABLE);
    assert_non_null(strstr(err.message, "Test connections need libpx-not-installed.so.1"));
    assert_non_null(strstr(err.hint, "apt-get install px-test-pkg"));
    static const struct px_dl_sym bad_syms[] = {{"px_no_such_fn", &dl_fn}};
    static struct px_dl_lib bad = PX_DL_LIB("libsqlite3.so.0", "Test", "libsqlite3-0", bad_syms);
    px_error_clear(&err);
    assert_int_equal(px_dl_load(&bad, &err), -PX_EUNAVAILABLE);
    assert_non_null(strstr(err.message, "symbol px_no_such_fn is missing"));
    assert_null(dl_fn);
    static const char *(*version)(void);
    static const struct px_dl_sym good_syms[] = {{"sqlite3_libversion", &version}};
    static struct px_dl_lib good = PX_DL_LIB("libsqlite3.so.0", "Test", "libsqlite3-0", good_syms);
    assert_int_equal(px_dl_load(&good, &err), 0);
    assert_int_equal(px_dl_load(&good, &err), 0);
    assert_non_null(version);
    assert_string_equal(version(), sqlite3_libversion());
}

/* ---- egress policy (base/egress.h) ---- */

static struct sockaddr_storage sa_of(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
    } else {
        assert_int_equal(inet_pton(AF_INET6, ip, &a6->sin6_addr), 1);
        a6->sin6_family = AF_INET6;
    }
    return ss;
}

static bool allowed(const struct px_egress_policy *p, const char *ip, char *rule)
{
    struct sockaddr_storage ss = sa_of(ip);
    return px_egress_allowed(p, (struct sockaddr *)&ss, rule, 96);
}

static void egress_cidrs_match(void **state)
{
    (void)state;
    struct px_egress_policy p;
    struct px_error err;
    char rule[96];
    /* The defaults: link-local and metadata denied, loopback and private allowed. */
    assert_int_equal(px_egress_policy_parse(NULL, NULL, &p, &err), 0);
    assert_false(allowed(&p, "169.254.169.254", rule));
    assert_string_equal(rule, "169.254.169.254/32");
    assert_false(allowed(&p, "169.254.1.2", rule));
    assert_string_equal(rule, "169.254.0.0/16");
    assert_false(allowed(&p, "fe80::1", rule));
    assert_false(allowed(&p, "fd00:ec2::254", rule));
    assert_false(allowed(&p, "100.100.100.200", rule));
    assert_false(allowed(&p, "::ffff:169.254.169.254", rule)); /* mapped = IPv4 */
    assert_true(allowed(&p, "127.0.0.1", rule));
    assert_true(allowed(&p, "::1", rule));
    assert_true(allowed(&p, "10.1.2.3", rule));
    assert_true(allowed(&p, "192.168.0.10", rule));
    assert_true(allowed(&p, "fd00:ec2::253", rule));
    assert_true(allowed(&p, "100.100.100.201", rule));
    assert_true(allowed(&p, "93.184.216.34", rule));

    /* Operator lists: deny wins unless a narrower (longer) allow matches. */
    assert_int_equal(px_egress_policy_parse(" 127.0.0.0/8, 10.0.0.0/8 ,::1,192.168.0.0/16",
                                            "10.1.0.0/16,192.168.0.0/16,169.254.10.0/24", &p, &err),
                     0);
    assert_false(allowed(&p, "127.0.0.1", rule));
    assert_string_equal(rule, "127.0.0.0/8");
    assert_false(allowed(&p, "::ffff:127.0.0.1", rule));
    assert_false(allowed(&p, "::1", rule));
    assert_false(allowed(&p, "10.2.0.1", rule));
    assert_true(allowed(&p, "10.1.200.1", rule));       /* /16 allow inside a /8 deny */
    assert_false(allowed(&p, "192.168.1.1", rule));     /* same prefix: deny wins */
    assert_true(allowed(&p, "169.254.10.5", rule));     /* narrower than the built-in /16 */
    assert_false(allowed(&p, "169.254.169.254", rule)); /* the /32 still wins */
    assert_true(allowed(&p, "2001:db8::1", rule));

    /* Prefix boundaries that are not multiples of 8. */
    assert_int_equal(px_egress_policy_parse("172.16.0.0/12,2001:db8:8000::/33", NULL, &p, &err), 0);
    assert_false(allowed(&p, "172.31.255.255", rule));
    assert_true(allowed(&p, "172.32.0.0", rule));
    assert_true(allowed(&p, "172.15.255.255", rule));
    assert_false(allowed(&p, "2001:db8:ffff::1", rule));
    assert_true(allowed(&p, "2001:db8:7fff::1", rule));
    assert_int_equal(px_egress_policy_parse("0.0.0.0/0,::/0", NULL, &p, &err), 0);
    assert_false(allowed(&p, "8.8.8.8", rule));
    assert_false(allowed(&p, "2606:4700::1111", rule));

    /* Bad entries name the setting. */
    assert_int_equal(px_egress_policy_parse("10.0.0.0/33", NULL, &p, &err), -PX_EINVALID);
    assert_non_null(strstr(err.message, "PLANASONIX_EGRESS_DENY"));
    assert_non_null(strstr(err.message, "10.0.0.0/33"));
    assert_int_equal(px_egress_policy_parse(NULL, "example.com", &p, &err), -PX_EINVALID);
    assert_non_null(strstr(err.message, "PLANASONIX_EGRESS_ALLOW"));
    assert_int_equal(px_egress_policy_parse("10.0.0.0/", NULL, &p, &err), -PX_EINVALID);
    assert_int_equal(px_egress_policy_parse(",,", "", &p, &err), 0);

    /* The process policy comes from the environment; its message names the policy. */
    setenv("PLANASONIX_EGRESS_DENY", "127.0.0.0/8", 1);
    px_egress_reload();
    struct sockaddr_storage ss = sa_of("127.0.0.1");
    px_error_clear(&err);
    assert_int_equal(px_egress_check("postgres", (struct sockaddr *)&ss, &err), -PX_EFORBIDDEN);
    assert_non_null(strstr(err.message, "postgres: the egress policy refuses connections to "
                                        "127.0.0.1 (denied by 127.0.0.0/8)"));
    assert_non_null(strstr(err.hint, "PLANASONIX_EGRESS_DENY"));
    setenv("PLANASONIX_EGRESS_DENY", "nonsense", 1);
    px_egress_reload();
    assert_int_equal(px_egress_check("http", (struct sockaddr *)&ss, &err), -PX_EFORBIDDEN);
    assert_non_null(strstr(err.message, "malformed"));
    unsetenv("PLANASONIX_EGRESS_DENY");
    px_egress_reload();
    assert_int_equal(px_egress_check("http", (struct sockaddr *)&ss, &err), 0);
}

/* The error table (base/err.h) says what each error is on every wire; these are the values
 * clients see, pinned here as the e2e tests pin the replies that carry them. */
static void error_table_gives_each_error_its_wire_codes(void **state)
{
    (void)state;
    static const struct {
        int code;
        const char *name;
        bool retryable;
        int rpc, http;
    } want[] = {
        {PX_EINVALID, "invalid_argument", false, -32602, 400},
        {PX_ENOTFOUND, "not_found", false, -32000, 404},
        {PX_ECONFLICT, "conflict", false, -32000, 409},
        {PX_EIN_USE, "in_use", false, -32000, 409},
        {PX_EUNAUTHORIZED, "unauthorized", false, -32001, 401},
        {PX_EFORBIDDEN, "insufficient_permissions", false, -32003, 403},
        {PX_EPLAN, "plan_not_allowed", false, -32003, 403},
        {PX_ERATELIMIT, "rate_limited", true, -32029, 429},
        {PX_EUNAVAILABLE, "not_available", false, -32000, 503},
        {PX_ETOOLARGE, "too_large", false, -32000, 413},
        {PX_ESTORE, "store_error", true, -32603, 503},
        {PX_EIO, "io_error", true, -32603, 500},
        {PX_ECRYPTO, "crypto_error", false, -32603, 500},
        {PX_ENOMEM, "out_of_memory", true, -32603, 503},
        {PX_EINTERNAL, "internal_error", false, -32603, 500},
    };
    assert_int_equal(sizeof(want) / sizeof(want[0]), PX_E_COUNT_ - 1);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        struct px_error err;
        assert_int_equal(px_error_set(&err, want[i].code, "x"), -want[i].code);
        assert_int_equal(err.retryable, want[i].retryable);
        assert_string_equal(px_err_name(want[i].code), want[i].name);
        assert_string_equal(px_err_name(-want[i].code), want[i].name);
        assert_int_equal(px_err_rpc(want[i].code), want[i].rpc);
        assert_int_equal(px_err_rpc(-want[i].code), want[i].rpc);
        assert_int_equal(px_err_http(-want[i].code), want[i].http);
    }
    /* Codes outside the table are internal errors on every wire. */
    assert_string_equal(px_err_name(PX_E_COUNT_), "internal_error");
    assert_int_equal(px_err_rpc(PX_E_COUNT_ + 5), -32603);
    assert_int_equal(px_err_http(-(PX_E_COUNT_ + 5)), 500);
    /* The JSON-RPC protocol codes. */
    assert_int_equal(PX_RPC_PARSE, -32700);
    assert_int_equal(PX_RPC_INVALID_REQUEST, -32600);
    assert_int_equal(PX_RPC_METHOD_NOT_FOUND, -32601);
    assert_int_equal(PX_RPC_INVALID_PARAMS, -32602);
    assert_int_equal(PX_RPC_INTERNAL, -32603);
    assert_int_equal(PX_RPC_SERVER, -32000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(time_format_matches_gmtime),
        cmocka_unit_test(error_table_gives_each_error_its_wire_codes),
        cmocka_unit_test(buffers_are_bounded),
        cmocka_unit_test(text_is_cleaned_and_capped),
        cmocka_unit_test(ids_have_kinds),
        cmocka_unit_test(lines_are_framed_and_capped),
        cmocka_unit_test(json_strings_match_json_c),
        cmocka_unit_test(json_nul_and_big_integers_are_refused),
        cmocka_unit_test(libraries_load_on_first_use),
        cmocka_unit_test(egress_cidrs_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
