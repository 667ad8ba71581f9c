/* health.c -- see health.h.
 *
 * The body keeps the Collector's health_check v1 shape ("status", "upSince",
 * "uptime") and adds each component's state. As in the Collector, a component
 * in recoverable_error or degraded leaves the answer 200: an orchestrator
 * restarting pipit because a backend is down would only lose the buffer.
 * Only permanent_error (or not being ready) answers 503. So that users can
 * still alert on a failing exporter, the body carries "healthy": false while
 * any component is in an error state. */
#include "health.h"

#include <pthread.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "strbuf.h"

typedef struct component {
    char *id;
    char *msg;
    pp_health_state state;
} component;

struct pp_health {
    pthread_mutex_t mu;
    atomic_bool ready; /* read without the lock by pp_health_ready */
    int64_t up_since_ms;  /* wall clock, for "upSince" */
    int64_t start_mono_ns; /* for "uptime" */
    component *comps; /* sorted by id */
    size_t ncomps, cap;
};

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

pp_health *pp_health_new(void) {
    pp_health *h = calloc(1, sizeof(*h));
    if (!h) return NULL;
    pthread_mutex_init(&h->mu, NULL);
    h->up_since_ms = pp_time_now_ms();
    h->start_mono_ns = mono_ns();
    return h;
}

void pp_health_free(pp_health *h) {
    if (!h) return;
    for (size_t i = 0; i < h->ncomps; i++) {
        free(h->comps[i].id);
        free(h->comps[i].msg);
    }
    free(h->comps);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

const char *pp_health_state_name(pp_health_state s) {
    switch (s) {
    case PP_HEALTH_STARTING: return "starting";
    case PP_HEALTH_OK: return "ok";
    case PP_HEALTH_DEGRADED: return "degraded";
    case PP_HEALTH_RECOVERABLE_ERROR: return "recoverable_error";
    case PP_HEALTH_PERMANENT_ERROR: return "permanent_error";
    case PP_HEALTH_STOPPING: return "stopping";
    }
    return "unknown";
}

void pp_health_set_ready(pp_health *h, bool ready) { atomic_store(&h->ready, ready); }

bool pp_health_ready(const pp_health *h) { return atomic_load(&h->ready); }

void pp_health_report(pp_health *h, const char *id, pp_health_state s, const char *msg) {
    char *nmsg = msg ? strdup(msg) : NULL;
    pthread_mutex_lock(&h->mu);
    size_t lo = 0, hi = h->ncomps;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(h->comps[mid].id, id);
        if (c == 0) {
            lo = mid;
            goto found;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    /* A new component: insert at lo. On OOM the report is lost (logged). */
    char *nid = strdup(id);
    if (nid && h->ncomps == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 8;
        component *p = realloc(h->comps, cap * sizeof(component));
        if (p) {
            h->comps = p;
            h->cap = cap;
        }
    }
    if (!nid || h->ncomps == h->cap) {
        pthread_mutex_unlock(&h->mu);
        free(nid);
        free(nmsg);
        pp_log_error("health", "out of memory recording a component's state", "component", id, NULL);
        return;
    }
    memmove(h->comps + lo + 1, h->comps + lo, (h->ncomps - lo) * sizeof(component));
    h->comps[lo] = (component){.id = nid};
    h->ncomps++;
found:
    free(h->comps[lo].msg);
    h->comps[lo].msg = nmsg;
    h->comps[lo].state = s;
    pthread_mutex_unlock(&h->mu);
}

/* A duration the way Go prints one ("1.5s", "2m3.25s", "1h0m0s", "250ms"),
 * as the Collector's "uptime" is, to millisecond precision. */
static void format_duration(int64_t ns, char *out, size_t outlen) {
    int64_t ms = ns / 1000000;
    if (ms <= 0) {
        snprintf(out, outlen, "0s");
        return;
    }
    if (ms < 1000) {
        snprintf(out, outlen, "%" PRId64 "ms", ms);
        return;
    }
    int64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, frac = ms % 1000;
    char secs[16];
    if (frac) {
        int digits = 3; /* "1.5", not "1.500" */
        for (; frac % 10 == 0; frac /= 10) digits--;
        snprintf(secs, sizeof(secs), "%" PRId64 ".%0*" PRId64, s, digits, frac);
    } else {
        snprintf(secs, sizeof(secs), "%" PRId64, s);
    }
    if (h) snprintf(out, outlen, "%" PRId64 "h%" PRId64 "m%ss", h, m, secs);
    else if (m) snprintf(out, outlen, "%" PRId64 "m%ss", m, secs);
    else snprintf(out, outlen, "%ss", secs);
}

char *pp_health_render(pp_health *h, int *http_status) {
    pp_strbuf sb = PP_STRBUF_INIT;
    char since[40], uptime[40];
    pthread_mutex_lock(&h->mu);
    bool available = atomic_load(&h->ready), healthy = true;
    for (size_t i = 0; i < h->ncomps; i++) {
        pp_health_state s = h->comps[i].state;
        if (s == PP_HEALTH_PERMANENT_ERROR) available = false;
        if (s == PP_HEALTH_PERMANENT_ERROR || s == PP_HEALTH_RECOVERABLE_ERROR) healthy = false;
    }
    pp_time_rfc3339(h->up_since_ms, since, sizeof(since));
    format_duration(mono_ns() - h->start_mono_ns, uptime, sizeof(uptime));
    pp_sb_printf(&sb, "{\"status\":\"%s\",\"upSince\":\"%s\",\"uptime\":\"%s\",\"healthy\":%s,"
                      "\"components\":{",
                 available ? "Server available" : "Server not available", since, uptime,
                 healthy ? "true" : "false");
    for (size_t i = 0; i < h->ncomps; i++) {
        const component *c = &h->comps[i];
        if (i) pp_sb_putc(&sb, ',');
        pp_sb_json_str(&sb, c->id);
        pp_sb_printf(&sb, ":{\"status\":\"%s\"", pp_health_state_name(c->state));
        if (c->msg) {
            pp_sb_puts(&sb, ",\"message\":");
            pp_sb_json_str(&sb, c->msg);
        }
        pp_sb_putc(&sb, '}');
    }
    pthread_mutex_unlock(&h->mu);
    pp_sb_puts(&sb, "}}");
    *http_status = available ? 200 : 503;
    return pp_sb_finish(&sb, NULL);
}
