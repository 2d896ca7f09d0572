/*
 * Replays fuzz inputs without libFuzzer (SQLite's fuzzcheck idea): main() runs the target's
 * LLVMFuzzerTestOneInput over every file in the directories (or files) named on the command
 * line, so each target also builds with gcc + ASan/UBSan and its committed corpus runs in the
 * ordinary test run (`make MODE=asan fuzz-replay`).
 *
 * Each input runs in its own forked child (after LLVMFuzzerInitialize ran once in the parent),
 * so one crash does not hide the next, leaks are checked per input (LeakSanitizer runs when
 * the child exits), and a hang is cut off by a per-input timeout. Files are run in name order;
 * names starting with '.' and README files are skipped.
 *
 * Usage: replay_<target> [-v] [-x] [-t SECONDS] DIR|FILE...
 *   -v  print each input's name as it runs
 *   -x  run in this process, no fork (for a debugger; the first crash ends the run)
 *   -t  per-input timeout in seconds (default 60; 0 = none)
 * Last line: "<target>: N inputs, C crashes"; exit status 1 when C > 0 or nothing ran.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Weak, so a target without LLVMFuzzerInitialize links too. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static const char *current; /* the input running in this process, for crash reports */

static void on_fatal_signal(int sig)
{
    /* Only async-signal-safe calls here. */
    static const char pre[] = "replay: input ";
    if (current) {
        (void)!write(2, pre, sizeof(pre) - 1);
        (void)!write(2, current, strlen(current));
        (void)!write(2, sig == SIGALRM ? " timed out\n" : " crashed\n", sig == SIGALRM ? 11 : 9);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

struct list {
    char **items;
    size_t n, cap;
};

static void list_add(struct list *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->items = realloc(l->items, l->cap * sizeof(*l->items));
        if (!l->items) {
            perror("replay");
            exit(2);
        }
    }
    l->items[l->n++] = strdup(s);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool skipped_name(const char *name)
{
    return name[0] == '.' || strncmp(name, "README", 6) == 0;
}

/* Adds path (a regular file) or every regular file directly in it (a directory). */
static int collect(struct list *l, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        list_add(l, path);
        return 0;
    }
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct list here = {0};
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (skipped_name(e->d_name))
            continue;
        size_t n = strlen(path) + strlen(e->d_name) + 2;
        char *full = malloc(n);
        if (!full)
            exit(2);
        snprintf(full, n, "%s/%s", path, e->d_name);
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode))
            list_add(&here, full);
        free(full);
    }
    closedir(d);
    qsort(here.items, here.n, sizeof(*here.items), cmp_str);
    for (size_t i = 0; i < here.n; i++) {
        list_add(l, here.items[i]);
        free(here.items[i]);
    }
    free(here.items);
    return 0;
}

/* Reads a whole file into a buffer of exactly its size (so ASan sees any over-read). */
static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    fclose(f);
    if (!buf)
        return NULL;
    uint8_t *exact = malloc(n ? n : 1);
    if (exact)
        memcpy(exact, buf, n);
    free(buf);
    *size = n;
    return exact;
}

static int run_one(const char *path)
{
    size_t size = 0;
    uint8_t *data = read_file(path, &size);
    if (!data) {
        fprintf(stderr, "replay: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    current = path;
    LLVMFuzzerTestOneInput(data, size);
    current = NULL;
    free(data);
    return 0;
}

int main(int argc, char **argv)
{
    bool verbose = false, nofork = false;
    unsigned timeout = 60;
    int opt;
    while ((opt = getopt(argc, argv, "vxt:")) != -1) {
        if (opt == 'v')
            verbose = true;
        else if (opt == 'x')
            nofork = true;
        else if (opt == 't')
            timeout = (unsigned)strtoul(optarg, NULL, 10);
        else {
            fprintf(stderr, "usage: %s [-v] [-x] [-t SECONDS] DIR|FILE...\n", argv[0]);
            return 2;
        }
    }
    const char *self = basename(argv[0]);
    struct list inputs = {0};
    int status = 0;
    for (int i = optind; i < argc; i++)
        if (collect(&inputs, argv[i]) < 0)
            status = 1;

    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    signal(SIGABRT, on_fatal_signal);
    signal(SIGALRM, on_fatal_signal);

    size_t crashes = 0;
    for (size_t i = 0; i < inputs.n; i++) {
        const char *path = inputs.items[i];
        if (verbose)
            fprintf(stderr, "replay: %s\n", path);
        if (nofork) {
            if (run_one(path) < 0)
                crashes++;
            continue;
        }
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid < 0) {
            perror("replay: fork");
            return 2;
        }
        if (pid == 0) {
            alarm(timeout);
            exit(run_one(path) < 0 ? 3 : 0); /* exit(), not _exit(): LeakSanitizer runs */
        }
        int ws;
        while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
            ;
        if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0)
            continue;
        crashes++;
        if (WIFSIGNALED(ws))
            fprintf(stderr, "replay: CRASH %s (signal %d%s)\n", path, WTERMSIG(ws),
                    WTERMSIG(ws) == SIGALRM ? ": timeout" : "");
        else
            fprintf(stderr, "replay: CRASH %s (exit status %d)\n", path, WEXITSTATUS(ws));
    }
    printf("%s: %zu inputs, %zu crashes\n", self, inputs.n, crashes);
    for (size_t i = 0; i < inputs.n; i++)
        free(inputs.items[i]);
    free(inputs.items);
    if (crashes || inputs.n == 0)
        status = 1;
    return status;
}
