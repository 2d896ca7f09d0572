/*
 * What every thread of the stdio proxy shares (proxy_int.h): the stop state (a signal, or the
 * client gone) with the pipe that wakes the reader, the monotonic clock, redaction of the key,
 * and stdout, written one whole line at a time. proxy.c (the reader, the queue and the workers)
 * and proxy_http.c (one HTTP exchange) both use it; it uses neither.
 */
#include "transport/proxy_int.h"

#include "base/clock.h"
#include "base/json.h"
#include "base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Set by a signal handler or any thread; lock-free atomics are async-signal-safe. */
static atomic_int stop_signal;
static int wake_pipe[2] = {-1, -1};

void px__proxy_on_signal(int sig)
{
    stop_signal = sig;
    if (wake_pipe[1] >= 0) {
        ssize_t w = write(wake_pipe[1], "s", 1);
        (void)w;
    }
}

void px__proxy_request_stop(int why)
{
    stop_signal = why;
    if (wake_pipe[1] >= 0) {
        ssize_t w = write(wake_pipe[1], "s", 1);
        (void)w;
    }
}

bool px__proxy_stopping(void)
{
    return stop_signal != 0;
}

int64_t px__proxy_mono_ms(void)
{
    return px_mono_us() / 1000;
}

int px__proxy_stop_reason(void)
{
    return stop_signal;
}

void px__proxy_wake_open(void)
{
    if (pipe(wake_pipe) != 0)
        return;
    for (int i = 0; i < 2; i++) {
        fcntl(wake_pipe[i], F_SETFL, fcntl(wake_pipe[i], F_GETFL) | O_NONBLOCK);
        fcntl(wake_pipe[i], F_SETFD, FD_CLOEXEC);
    }
}

int px__proxy_wake_fd(void)
{
    return wake_pipe[0];
}

void px__proxy_wake_close(void)
{
    for (int i = 0; i < 2; i++)
        if (wake_pipe[i] >= 0) {
            close(wake_pipe[i]);
            wake_pipe[i] = -1;
        }
}

/* Replaces every occurrence of the key in s (so it cannot reach a log or the client). */
void px__proxy_redact(const struct proxy *p, char *s)
{
    size_t k = strlen(p->key);
    if (k < 4)
        return;
    for (char *hit; (hit = strstr(s, p->key));) {
        memset(hit, '*', 3);
        memmove(hit + 3, hit + k, strlen(hit + k) + 1);
    }
}

/* ---- stdout ----------------------------------------------------------------------------- */

/* Writes one message as one line, atomically with respect to other writers. */
void px__proxy_write_line(struct proxy *p, const char *text, size_t n)
{
    char *line = px_xmalloc(n + 1);
    memcpy(line, text, n);
    line[n] = '\n';
    const char *s = line;
    size_t left = n + 1;
    pthread_mutex_lock(&p->out_mu);
    while (left > 0) {
        ssize_t w = write(STDOUT_FILENO, s, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            px__proxy_request_stop(SIGPIPE); /* the client is gone */
            break;
        }
        s += w;
        left -= (size_t)w;
    }
    pthread_mutex_unlock(&p->out_mu);
    free(line);
}

void px__proxy_write_json(struct proxy *p, struct json_object *m)
{
    const char *t = px_json_str(m);
    px__proxy_write_line(p, t, strlen(t));
}
