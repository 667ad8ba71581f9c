/* log.c -- see log.h.
 *
 * A line is built in memory and written with one write() under a mutex, so
 * lines from different threads never interleave, also when stderr is a file
 * or pipe shared with other writers (one write of a line is one append). */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "strbuf.h"

static atomic_int log_level = PP_LOG_INFO;
static atomic_int log_format = PP_LOG_AUTO; /* AUTO: resolved on first use */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static void (*log_sink)(const char *line, void *arg);
static void *log_sink_arg;

static const char *const level_names[] = {"debug", "info", "warn", "error", "none"};

static pp_log_format resolve_format(pp_log_format f) {
    if (f != PP_LOG_AUTO) return f;
    const char *env = getenv("PP_LOG_CONSOLE");
    if ((env && *env && strcmp(env, "0") != 0) || isatty(STDERR_FILENO)) return PP_LOG_CONSOLE;
    return PP_LOG_JSON;
}

void pp_log_setup(pp_log_level level, pp_log_format format) {
    atomic_store(&log_level, (int)level);
    atomic_store(&log_format, (int)resolve_format(format));
}

int pp_log_level_parse(const char *s, pp_log_level *out) {
    static const struct { const char *name; pp_log_level level; } names[] = {
        {"debug", PP_LOG_DEBUG}, {"info", PP_LOG_INFO},   {"warn", PP_LOG_WARN},
        {"warning", PP_LOG_WARN}, {"error", PP_LOG_ERROR}, {"none", PP_LOG_OFF},
    };
    for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            *out = names[i].level;
            return 0;
        }
    }
    return -1;
}

bool pp_log_enabled(pp_log_level level) {
    return level < PP_LOG_OFF && (int)level >= atomic_load_explicit(&log_level, memory_order_relaxed);
}

void pp_log_set_sink(void (*sink)(const char *line, void *arg), void *arg) {
    pthread_mutex_lock(&log_mu);
    log_sink = sink;
    log_sink_arg = arg;
    pthread_mutex_unlock(&log_mu);
}

int64_t pp_time_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pp_time_rfc3339(int64_t unix_ms, char *out, size_t outlen) {
    time_t secs = (time_t)(unix_ms / 1000);
    int ms = (int)(unix_ms % 1000);
    if (ms < 0) {
        ms += 1000;
        secs--;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    char date[24];
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outlen, "%s.%03dZ", date, ms);
}

/* A console value is quoted (JSON-style) when it would not read back as one
 * word: empty, or with spaces, quotes, '=' or control characters. */
static void console_value(pp_strbuf *sb, const char *v) {
    bool quote = *v == '\0';
    for (const char *p = v; *p && !quote; p++)
        quote = (unsigned char)*p <= ' ' || *p == '"' || *p == '=' || *p == '\\';
    if (quote) pp_sb_json_str(sb, v);
    else pp_sb_json_escape(sb, v, false); /* still replaces invalid UTF-8 */
}

static void format_line(pp_strbuf *sb, pp_log_format fmt, pp_log_level level, const char *component,
                        const char *msg, va_list ap) {
    char ts[40];
    pp_time_rfc3339(pp_time_now_ms(), ts, sizeof(ts));
    const char *lvl = level_names[level];
    if (fmt == PP_LOG_JSON) {
        pp_sb_printf(sb, "{\"ts\":\"%s\",\"level\":\"%s\"", ts, lvl);
        if (component) {
            pp_sb_puts(sb, ",\"component\":");
            pp_sb_json_str(sb, component);
        }
        pp_sb_puts(sb, ",\"msg\":");
        pp_sb_json_str(sb, msg ? msg : "");
    } else {
        pp_sb_printf(sb, "%s  %s  ", ts, lvl);
        if (component) {
            pp_sb_json_escape(sb, component, false);
            pp_sb_puts(sb, "  ");
        }
        pp_sb_json_escape(sb, msg ? msg : "", false);
    }
    /* Fields: key, value pairs up to a NULL key. A NULL value also ends the
     * list (it is the terminator of a list with an odd count). */
    const char *key;
    bool first = true;
    while ((key = va_arg(ap, const char *)) != NULL) {
        const char *val = va_arg(ap, const char *);
        if (fmt == PP_LOG_JSON) {
            pp_sb_putc(sb, ',');
            pp_sb_json_str(sb, key);
            pp_sb_putc(sb, ':');
            if (val) pp_sb_json_str(sb, val);
            else pp_sb_puts(sb, "null");
        } else {
            pp_sb_puts(sb, first ? "  " : " ");
            pp_sb_json_escape(sb, key, false);
            pp_sb_putc(sb, '=');
            console_value(sb, val ? val : "");
        }
        first = false;
        if (!val) break;
    }
    if (fmt == PP_LOG_JSON) pp_sb_putc(sb, '}');
    pp_sb_putc(sb, '\n');
}

static void write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return; /* nowhere left to report a logging failure */
        }
        p += w;
        n -= (size_t)w;
    }
}

void pp_log(pp_log_level level, const char *component, const char *msg, ...) {
    if (!pp_log_enabled(level)) return;
    int fmt = atomic_load_explicit(&log_format, memory_order_relaxed);
    if (fmt == PP_LOG_AUTO) {
        fmt = (int)resolve_format(PP_LOG_AUTO);
        atomic_store(&log_format, fmt);
    }
    pp_strbuf sb = PP_STRBUF_INIT;
    va_list ap;
    va_start(ap, msg);
    format_line(&sb, (pp_log_format)fmt, level, component, msg, ap);
    va_end(ap);
    size_t len;
    char *line = pp_sb_finish(&sb, &len);
    if (!line) return;
    pthread_mutex_lock(&log_mu);
    if (log_sink) log_sink(line, log_sink_arg);
    else write_all(STDERR_FILENO, line, len);
    pthread_mutex_unlock(&log_mu);
    free(line);
}

void pp_redact_url(const char *url, char *out, size_t outlen) {
    if (!out || outlen == 0) return;
    if (!url) {
        out[0] = '\0';
        return;
    }
    /* The authority starts after "scheme://" (or at the start when there is no
     * scheme) and ends at the first '/', '?' or '#'; userinfo is everything
     * before its last '@'. */
    const char *sep = strstr(url, "://");
    const char *auth = sep ? sep + 3 : url;
    size_t auth_len = strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < auth + auth_len; p++)
        if (*p == '@') at = p;
    if (!at) {
        snprintf(out, outlen, "%s", url);
        return;
    }
    snprintf(out, outlen, "%.*s***%s", (int)(auth - url), url, at);
}
