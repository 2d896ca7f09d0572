/*
 * Process log on stderr (never stdout: on stdio, stdout belongs to the protocol).
 * Callers must never pass secrets; log lines are also sanitized of control characters.
 */
#ifndef PX_BASE_LOG_H
#define PX_BASE_LOG_H

enum px_log_level { PX_LOG_DEBUG, PX_LOG_INFO, PX_LOG_WARN, PX_LOG_ERROR, PX_LOG_OFF };

/* Sets the minimum level written (default PX_LOG_INFO; PLANASONIX_LOG=debug|info|warn|error|off).
 */
void px_log_set_level(enum px_log_level level);
/* Parses a level name; returns -1 when unknown. */
int px_log_level_parse(const char *name);
void px_log(enum px_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define px_debug(...) px_log(PX_LOG_DEBUG, __VA_ARGS__)
#define px_info(...) px_log(PX_LOG_INFO, __VA_ARGS__)
#define px_warn(...) px_log(PX_LOG_WARN, __VA_ARGS__)
#define px_logerr(...) px_log(PX_LOG_ERROR, __VA_ARGS__)

#endif
