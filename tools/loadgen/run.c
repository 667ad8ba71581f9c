/* run.c -- see run.h. */
#include "run.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct slot {
    struct slot *next_free;
    int64_t intended;
    size_t items, bytes;
    uint8_t *buf; /* with unique ids: the copy being sent */
    lg_payload copy;
} slot;

typedef struct runner {
    const lg_run_cfg *c;
    lg_stats *st;
    slot *slots, *free_list;
    lg_hist interval; /* this progress second */
    uint64_t interval_items;
} runner;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void count_error(lg_stats *st, const char *key) {
    for (int i = 0; i < st->nerr; i++)
        if (strcmp(st->err[i].key, key) == 0) {
            st->err[i].n++;
            return;
        }
    int i = st->nerr < LG_MAX_ERR_KEYS ? st->nerr++ : LG_MAX_ERR_KEYS - 1; /* last: "other" */
    if (i == LG_MAX_ERR_KEYS - 1) key = "other";
    snprintf(st->err[i].key, sizeof(st->err[i].key), "%s", key);
    st->err[i].n++;
}

static void on_done(void *arg, void *tag, lg_outcome o, int code) {
    runner *r = arg;
    slot *s = tag;
    lg_stats *st = r->st;
    char key[40];
    if (o == LG_OK || o == LG_GRPC || o == LG_HTTP) { /* answered: latency counts */
        uint64_t lat = (uint64_t)(now_ns() - s->intended);
        lg_hist_add(&st->lat, lat);
        lg_hist_add(&r->interval, lat);
    }
    switch (o) {
    case LG_OK:
        st->ok++;
        st->items_acked += s->items;
        r->interval_items += s->items;
        break;
    case LG_GRPC: {
        const char *n = lg_grpc_code_name(code);
        if (n) snprintf(key, sizeof(key), "grpc:%s", n);
        else snprintf(key, sizeof(key), "grpc:%d", code);
        break;
    }
    case LG_HTTP: snprintf(key, sizeof(key), "http:%d", code); break;
    case LG_CONN: {
        const char *n = strerrorname_np(code);
        snprintf(key, sizeof(key), "conn:%s", n ? n : "error");
        break;
    }
    case LG_TIMEOUT: snprintf(key, sizeof(key), "timeout"); break;
    }
    if (o != LG_OK) {
        st->failed++;
        count_error(st, key);
    }
    s->next_free = r->free_list;
    r->free_list = s;
}

static void progress(runner *r, double elapsed, int64_t backlog) {
    const lg_stats *st = r->st;
    fprintf(stderr, "\r[%6.1fs] sent %llu req, %.0f %s/s, p99 %.2f ms, errors %llu, backlog %lld   ",
            elapsed, (unsigned long long)st->sent, (double)r->interval_items,
            r->c->gen.signal == PP_TRACES ? "spans" : "points",
            (double)lg_hist_quantile(&r->interval, 0.99) / 1e6, (unsigned long long)st->failed,
            (long long)backlog);
    lg_hist_reset(&r->interval);
    r->interval_items = 0;
}

static int finished(const lg_run_cfg *c, const lg_stats *st, int64_t now, int64_t t0) {
    if (c->count && st->sent >= c->count) return 1;
    return c->duration_s > 0 && (double)(now - t0) >= c->duration_s * 1e9;
}

/* The gap to the next intended send time at elapsed time `now - t0`. */
static int64_t gap_ns(const lg_run_cfg *c, double req_rate, int64_t elapsed) {
    double m = 1.0;
    if (c->shape && c->duration_s > 0) m = c->shape((double)elapsed / (c->duration_s * 1e9));
    if (m < 0.01) m = 0.01;
    return (int64_t)(1e9 / (req_rate * m));
}

int lg_run(const lg_run_cfg *c, volatile int *stop, lg_stats *st) {
    memset(st, 0, sizeof(*st));
    lg_hist_reset(&st->lat);
    lg_pool pool;
    if (lg_pool_build(&pool, &c->gen, c->pool ? c->pool : 1,
                      c->proto == LG_HTTP_PROTO ? c->tg.format : LG_PROTOBUF, c->tg.compress,
                      c->proto == LG_GRPC_PROTO) != 0)
        return -1;
    runner r = {.c = c, .st = st};
    lg_hist_reset(&r.interval);
    int cap = c->tg.connections * (c->proto == LG_GRPC_PROTO ? c->tg.streams : 1);
    if (cap < 1) cap = 1;
    r.slots = calloc((size_t)cap, sizeof(slot));
    lg_transport *t = r.slots ? (c->proto == LG_GRPC_PROTO ? lg_grpc_open(&c->tg, on_done, &r)
                                                           : lg_http_open(&c->tg, on_done, &r))
                              : NULL;
    if (!t) {
        free(r.slots);
        lg_pool_free(&pool);
        return -1;
    }
    size_t maxlen = 0;
    int fresh = c->unique_ids && pool.p[0].n_tid > 0;
    for (size_t i = 0; i < pool.n; i++) maxlen = pool.p[i].len > maxlen ? pool.p[i].len : maxlen;
    for (int i = 0; i < cap; i++) {
        r.slots[i].next_free = r.free_list;
        r.free_list = &r.slots[i];
        if (fresh && !(r.slots[i].buf = malloc(maxlen))) fresh = 0;
    }
    double req_rate = c->rate > 0 ? c->rate / (double)(c->gen.batch ? c->gen.batch : 1) : 0;
    int64_t t0 = now_ns(), next = t0, last_progress = t0;
    uint64_t idx = 0;
    while (!*stop) {
        int64_t now = now_ns();
        if (finished(c, st, now, t0)) break;
        /* Send everything that is due, while a connection has room. */
        while (r.free_list && (req_rate == 0 || next <= now) && !finished(c, st, now, t0)) {
            const lg_payload *p = &pool.p[idx % pool.n];
            slot *s = r.free_list;
            r.free_list = s->next_free;
            uint8_t *buf = s->buf;
            *s = (slot){.intended = req_rate > 0 ? next : now, .items = p->items, .bytes = p->len,
                        .buf = buf};
            if (fresh) {
                s->copy = lg_payload_fresh_ids(p, buf, idx / pool.n);
                p = &s->copy;
            }
            if (t->submit(t, p, s) != 0) {
                s->next_free = r.free_list;
                r.free_list = s;
                break;
            }
            idx++;
            st->sent++;
            st->items_sent += p->items;
            st->bytes_sent += p->len;
            if (req_rate > 0) next += gap_ns(c, req_rate, next - t0);
        }
        int64_t backlog = 0;
        if (req_rate > 0 && next <= now) {
            backlog = (now - next) / gap_ns(c, req_rate, now - t0) + 1;
            if ((uint64_t)backlog > st->max_backlog) st->max_backlog = (uint64_t)backlog;
        }
        int wait_ms = 100;
        if (req_rate > 0 && next > now) {
            int64_t w = (next - now) / 1000000;
            wait_ms = w < wait_ms ? (int)w : wait_ms;
        }
        t->poll(t, wait_ms);
        now = now_ns();
        if (c->progress && now - last_progress >= 1000000000LL) {
            last_progress = now;
            progress(&r, (double)(now - t0) / 1e9, backlog);
        }
    }
    /* Drain: wait for what is in flight, at most the request timeout and a second. */
    int64_t drain_end = now_ns() + (int64_t)(c->tg.timeout_ms + 1000) * 1000000LL;
    while (t->in_flight(t) > 0 && now_ns() < drain_end) t->poll(t, 50);
    st->elapsed_s = (double)(now_ns() - t0) / 1e9;
    t->close(t); /* anything left is reported as cancelled */
    if (c->progress) fputc('\n', stderr);
    for (int i = 0; i < cap; i++) free(r.slots[i].buf);
    free(r.slots);
    lg_pool_free(&pool);
    return 0;
}

static double ms(uint64_t ns) { return (double)ns / 1e6; }

int lg_report(FILE *out, const lg_run_cfg *c, const lg_stats *st) {
    double el = st->elapsed_s > 0 ? st->elapsed_s : 1e-9;
    double err_rate = st->sent ? (double)st->failed / (double)st->sent : 0;
    double p99 = ms(lg_hist_quantile(&st->lat, 0.99));
    int bad_p99 = c->max_p99_ms >= 0 && p99 > c->max_p99_ms;
    int bad_err = c->max_error_rate >= 0 && err_rate > c->max_error_rate;
    const char *unit = c->gen.signal == PP_TRACES ? "spans" : "points";
    fprintf(out, "{\"scenario\":\"%s\",\"protocol\":\"%s\",\"signal\":\"%s\",\"endpoint\":\"%s:%d\",",
            c->scenario, c->proto == LG_GRPC_PROTO ? "grpc" : c->tg.format == LG_JSON ? "http/json" : "http/protobuf",
            pp_signal_name(c->gen.signal), c->tg.host, c->tg.port);
    fprintf(out, "\"compression\":\"%s\",\"mode\":\"%s\",\"target_rate\":%.0f,\"batch\":%zu,",
            c->tg.compress == LG_GZIP ? "gzip" : c->tg.compress == LG_ZSTD ? "zstd" : "none",
            c->rate > 0 ? "open" : "closed", c->rate, c->gen.batch);
    fprintf(out, "\"connections\":%d,\"streams\":%d,\"elapsed_s\":%.3f,", c->tg.connections,
            c->proto == LG_GRPC_PROTO ? c->tg.streams : 1, st->elapsed_s);
    fprintf(out, "\"requests\":{\"sent\":%llu,\"ok\":%llu,\"failed\":%llu},",
            (unsigned long long)st->sent, (unsigned long long)st->ok, (unsigned long long)st->failed);
    fprintf(out, "\"%s\":{\"sent\":%llu,\"acked\":%llu},\"bytes_sent\":%llu,", unit,
            (unsigned long long)st->items_sent, (unsigned long long)st->items_acked,
            (unsigned long long)st->bytes_sent);
    fprintf(out, "\"achieved\":{\"%s_per_s\":%.1f,\"requests_per_s\":%.1f,\"bytes_per_s\":%.0f},", unit,
            (double)st->items_acked / el, (double)st->ok / el, (double)st->bytes_sent / el);
    fprintf(out, "\"latency_ms\":{\"count\":%llu,\"p50\":%.3f,\"p95\":%.3f,\"p99\":%.3f,\"p999\":%.3f,"
                 "\"max\":%.3f,\"mean\":%.3f},",
            (unsigned long long)st->lat.count, ms(lg_hist_quantile(&st->lat, 0.5)),
            ms(lg_hist_quantile(&st->lat, 0.95)), p99, ms(lg_hist_quantile(&st->lat, 0.999)),
            ms(st->lat.max), st->lat.count ? st->lat.sum / (double)st->lat.count / 1e6 : 0.0);
    fputs("\"errors\":{", out);
    for (int i = 0; i < st->nerr; i++)
        fprintf(out, "%s\"%s\":%llu", i ? "," : "", st->err[i].key, (unsigned long long)st->err[i].n);
    fprintf(out, "},\"error_rate\":%.6f,\"max_backlog\":%llu,", err_rate,
            (unsigned long long)st->max_backlog);
    fputs("\"thresholds\":{", out);
    if (c->max_p99_ms >= 0) fprintf(out, "\"max_p99_ms\":%g,", c->max_p99_ms);
    if (c->max_error_rate >= 0) fprintf(out, "\"max_error_rate\":%g,", c->max_error_rate);
    fprintf(out, "\"passed\":%s}}\n", bad_p99 || bad_err ? "false" : "true");
    fflush(out);
    if (bad_p99) fprintf(stderr, "pipit-loadgen: p99 %.3f ms exceeds --max-p99 %g\n", p99, c->max_p99_ms);
    if (bad_err)
        fprintf(stderr, "pipit-loadgen: error rate %.4f exceeds --max-error-rate %g\n", err_rate,
                c->max_error_rate);
    return bad_p99 || bad_err ? 2 : 0;
}
