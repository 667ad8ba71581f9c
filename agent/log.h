/* log.h -- structured logs on stderr.
 *
 * JSON lines ({"ts":...,"level":...,"component":...,"msg":...,<fields>}) by
 * default; a readable single line when stderr is a terminal or the format is
 * set to console. Fields are NULL-terminated key, value string pairs:
 *   pp_log(PP_LOG_WARN, "exporter/otlp", "send failed", "status", "503", NULL);
 * Never pass secrets: log pp_redact_url(dsn) rather than a DSN. */
#ifndef PIPIT_LOG_H
#define PIPIT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum pp_log_level { PP_LOG_DEBUG, PP_LOG_INFO, PP_LOG_WARN, PP_LOG_ERROR, PP_LOG_OFF } pp_log_level;
typedef enum pp_log_format { PP_LOG_AUTO, PP_LOG_JSON, PP_LOG_CONSOLE } pp_log_format;

void pp_log_setup(pp_log_level level, pp_log_format format);
int pp_log_level_parse(const char *s, pp_log_level *out); /* debug|info|warn|error|none */
bool pp_log_enabled(pp_log_level level);
/* The field list must end with NULL even when empty: pp_log(l, c, "msg", NULL).
 * The sentinel attribute makes a missing NULL a compile error. */
void pp_log(pp_log_level level, const char *component, const char *msg, ...)
    __attribute__((sentinel));
#define pp_log_debug(c, ...) pp_log(PP_LOG_DEBUG, (c), __VA_ARGS__)
#define pp_log_info(c, ...) pp_log(PP_LOG_INFO, (c), __VA_ARGS__)
#define pp_log_warn(c, ...) pp_log(PP_LOG_WARN, (c), __VA_ARGS__)
#define pp_log_error(c, ...) pp_log(PP_LOG_ERROR, (c), __VA_ARGS__)

/* Copies url into out with any userinfo (user:secret@) replaced by "***@". */
void pp_redact_url(const char *url, char *out, size_t outlen);

/* Tests may capture output. NULL restores stderr. The sink gets one whole
 * line (with its newline) at a time, never two at once. */
void pp_log_set_sink(void (*sink)(const char *line, void *arg), void *arg);

/* Formats unix_ms as RFC 3339 UTC with milliseconds: "2026-11-24T01:02:03.456Z". */
void pp_time_rfc3339(int64_t unix_ms, char *out, size_t outlen);
int64_t pp_time_now_ms(void); /* wall clock, ms since the epoch */

#endif
