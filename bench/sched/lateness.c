/*
 * Fire lateness of the real scheduler thread: N schedules (default 1,000) of `* * * * *` in a
 * fresh SQLite store, all due at the same minute boundary. A watcher thread polls the store
 * every millisecond and notes when each run row becomes visible (committed); lateness is that
 * instant minus the slot. Prints p50, p99 and max over M minutes (default 2).
 *
 *   bench/sched/lateness.sh [schedules] [minutes]
 */
#include "base/clock.h"
#include "base/err.h"
#include "base/id.h"
#include "service/schedule_loop.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what, const struct px_error *err)
{
    fprintf(stderr, "lateness: %s: %s\n", what, err ? err->message : "");
    exit(1);
}

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000, minutes = argc > 2 ? atoi(argv[2]) : 2;
    char dir[] = "/tmp/px-lateness-XXXXXX", db[64];
    if (!mkdtemp(dir))
        die("mkdtemp", NULL);
    snprintf(db, sizeof(db), "%s/t.db", dir);
    struct px_store *st;
    struct px_error err;
    if (px_store_open(db, &st, &err))
        die("open", &err);
    px_store_exec(st,
                  "INSERT INTO orgs (id, name, plan, created_at, updated_at)"
                  " VALUES ('org_b', 'B', 'enterprise', 1, 1)",
                  NULL, 0, NULL, &err);
    int64_t now = px_now_ms(), first = (now / 60000 + 1) * 60000;
    if (first - now < 5000) /* leave time to set up */
        first += 60000;
    if (px_store_begin(st, &err))
        die("begin", &err);
    for (int i = 0; i < n; i++) {
        char pl[PX_ID_MAX], sc[PX_ID_MAX];
        px_id_new(PX_ID_PIPELINE, pl);
        px_id_new(PX_ID_SCHEDULE, sc);
        char name[32];
        snprintf(name, sizeof(name), "p%d", i);
        if (px_store_exec(st,
                          "INSERT INTO pipelines (org_id, id, name, description, status, revision,"
                          " created_at, updated_at) VALUES ('org_b', ?, ?, 'd', 'active', 1, 1, 1)",
                          PX_PARAMS(PX_V_TEXT(pl), PX_V_TEXT(name)), 2, NULL, &err) ||
            px_store_exec(st,
                          "INSERT INTO schedules (org_id, id, pipeline_id, cron_expression,"
                          " frequency, timezone, enabled, overlap, next_fire_at, created_at,"
                          " updated_at) VALUES ('org_b', ?, ?, '* * * * *', 'custom', 'UTC', 1,"
                          " 'queue', ?, 1, 1)",
                          PX_PARAMS(PX_V_TEXT(sc), PX_V_TEXT(pl), PX_V_INT(first)), 3, NULL, &err))
            die("insert", &err);
    }
    if (px_store_commit(st, &err))
        die("commit", &err);
    struct px_scheduler *s;
    if (px_scheduler_start(db, "bench", NULL, &s, &err))
        die("scheduler", &err);
    int64_t total = (int64_t)n * minutes, seen = 0;
    int64_t *late = calloc((size_t)total, sizeof(*late));
    for (int m = 0; m < minutes; m++) {
        int64_t slot = first + (int64_t)m * 60000;
        int64_t got = 0;
        while (got < n) {
            int64_t c = 0;
            if (px_store_query_int(st, "SELECT count(*) FROM runs WHERE slot = ?",
                                   PX_PARAMS(PX_V_INT(slot)), 1, &c, &err) < 0)
                die("count", &err);
            int64_t t = px_now_ms();
            for (; got < c && seen < total; got++)
                late[seen++] = t - slot;
            if (got < n) {
                struct timespec ms = {0, t < slot - 50 ? 20000000L : 1000000L};
                nanosleep(&ms, NULL);
            }
        }
    }
    px_scheduler_stop(s);
    qsort(late, (size_t)seen, sizeof(*late), cmp);
    printf("schedules %d, minutes %d, runs %lld: lateness p50 %lld ms, p99 %lld ms, max %lld ms\n",
           n, minutes, (long long)seen, (long long)late[seen / 2],
           (long long)late[(seen * 99) / 100], (long long)late[seen - 1]);
    free(late);
    px_store_close(st);
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
