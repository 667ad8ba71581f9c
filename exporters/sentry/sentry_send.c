/* sentry_send.c -- see sentry_send.h. */
#include "sentry_send.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "egress.h"
#include "exporters/otlphttp/otlphttp_wire.h"
#include "log.h"
#include "sentry_envelope.h"
#include "sentry_ratelimit.h"

#define NTYPES 2 /* pp_sentry_item_type: transaction, error */

static const char *const TYPE_NAMES[NTYPES] = {"transaction", "error"};
static const char *const DROP_REASONS[] = {"permanent_error", "retries_exhausted", "too_large",
                                           "shutdown_deadline", "oversize", NULL};
#define NREASONS 5
#define R_OVERSIZE 4

struct pp_sentry_sender {
    pp_sentry_sender_cfg cfg;
    char *component, *id, *url;
    struct curl_slist *headers;

    pthread_mutex_t lock; /* rl and limited_ms */
    pp_sentry_ratelimit rl;
    uint64_t limited_ms[NTYPES]; /* rate-limited time announced so far */

    pp_counter *sent[NTYPES], *failed[NTYPES], *dropped[NTYPES][NREASONS];
    pp_counter *limited_s[NTYPES], *held[NTYPES];
    pp_counter *trimmed, *orphans, *cut, *unparsed;
};

static uint64_t wall_ms(void) { return (uint64_t)pp_time_now_ms(); }

/* ---- request types and rate-limit categories ---- */

int pp_sentry_request_type(const pp_export_request *r, bool otlp) {
    if (otlp) return PP_SENTRY_TRANSACTION;
    const char *b = (const char *)r->body;
    const char *nl = r->body ? memchr(b, '\n', r->len) : NULL;
    if (!nl) return -1;
    size_t rest = r->len - (size_t)(nl + 1 - b);
    static const char tx[] = "{\"type\":\"transaction\"", ev[] = "{\"type\":\"event\"";
    if (rest >= sizeof(tx) - 1 && !memcmp(nl + 1, tx, sizeof(tx) - 1)) return PP_SENTRY_TRANSACTION;
    if (rest >= sizeof(ev) - 1 && !memcmp(nl + 1, ev, sizeof(ev) - 1)) return PP_SENTRY_ERROR;
    return -1;
}

/* When type's limit ends (0: not limited); "all" included. Caller holds lock. */
static uint64_t limit_end(const pp_sentry_sender *s, int type, uint64_t now) {
    uint64_t until = 0, u;
    pp_sentry_category cat = type == PP_SENTRY_ERROR ? PP_SENTRY_CAT_ERROR : PP_SENTRY_CAT_TRANSACTION;
    if (pp_sentry_rl_limited(&s->rl, cat, now, &u)) until = u;
    /* Spans sent as OTLP are also limited by the span category. */
    if (s->cfg.otlp && pp_sentry_rl_limited(&s->rl, PP_SENTRY_CAT_SPAN, now, &u) && u > until) until = u;
    return until;
}

int64_t pp_sentry_sender_hold(pp_sentry_sender *s, const pp_export_request *r, bool first) {
    int type = pp_sentry_request_type(r, s->cfg.otlp);
    if (type < 0) return 0; /* unreadable: send it and let Sentry judge */
    uint64_t now = wall_ms();
    pthread_mutex_lock(&s->lock);
    uint64_t until = limit_end(s, type, now);
    pthread_mutex_unlock(&s->lock);
    if (until <= now) return 0;
    if (first) pp_counter_add(s->held[type], 1);
    return (int64_t)(until - now) * 1000000LL;
}

void pp_sentry_sender_limits(pp_sentry_sender *s, int http_status, const char *rate_limits,
                             const char *retry_after) {
    uint64_t now = wall_ms(), before[NTYPES], after[NTYPES];
    pthread_mutex_lock(&s->lock);
    for (int t = 0; t < NTYPES; t++) before[t] = limit_end(s, t, now);
    pp_sentry_rl_update(&s->rl, http_status, rate_limits, retry_after, now);
    uint64_t add_s[NTYPES] = {0};
    for (int t = 0; t < NTYPES; t++) {
        after[t] = limit_end(s, t, now);
        if (after[t] <= before[t]) continue;
        uint64_t from = before[t] > now ? before[t] : now;
        uint64_t was = s->limited_ms[t] / 1000;
        s->limited_ms[t] += after[t] - from;
        add_s[t] = s->limited_ms[t] / 1000 - was;
    }
    pthread_mutex_unlock(&s->lock);
    for (int t = 0; t < NTYPES; t++) {
        pp_counter_add(s->limited_s[t], add_s[t]);
        if (after[t] <= before[t] || before[t] > now) continue;
        char secs[24];
        snprintf(secs, sizeof(secs), "%llu", (unsigned long long)((after[t] - now + 999) / 1000));
        pp_log_warn(s->component, "Sentry rate limit: holding events of this type in the queue",
                    "type", TYPE_NAMES[t], "seconds", secs, NULL);
    }
}

/* ---- one attempt ---- */

/* The start of an answer's body, printable, for messages. */
static void body_text(const pp_egress_resp *r, char *out, size_t outlen) {
    size_t n = r->len < outlen - 1 ? r->len : outlen - 1;
    for (size_t i = 0; i < n; i++) out[i] = r->body[i] >= 0x20 && r->body[i] < 0x7f ? (char)r->body[i] : ' ';
    out[n] = '\0';
}

static void classify_envelope(CURLcode rc, const char *err, const pp_egress_resp *resp,
                              pp_send_result *res) {
    long code = resp->http_status;
    if (rc != CURLE_OK) {
        pp_send_result_set(res, PP_SEND_RETRY, "%s", err);
        return;
    }
    if (code >= 200 && code < 300) {
        pp_send_result_set(res, PP_SEND_OK, "%s", "");
        return;
    }
    char msg[200];
    body_text(resp, msg, sizeof(msg));
    pp_send_result_set(res, PP_SEND_PERMANENT, "HTTP %ld: %s", code, msg);
    if (code == 413) {
        res->outcome = PP_SEND_TOO_LARGE;
    } else if (code == 408 || code >= 500) {
        res->outcome = PP_SEND_RETRY;
        res->retry_after_ns = pp_parse_retry_after(resp->retry_after, (int64_t)time(NULL));
    }
}

/* The body to POST: an envelope gets sent_at now, then compression. */
static int prepare(pp_sentry_sender *s, const pp_export_request *r, uint8_t **out, size_t *outlen,
                   pp_send_result *res) {
    size_t slen = 0;
    char *stamped = pp_sentry_envelope_stamp((const char *)r->body, r->len, wall_ms(), &slen);
    if (!stamped) {
        pp_send_result_set(res, PP_SEND_PERMANENT,
                           "cannot stamp sent_at: not an envelope without one (or out of memory)");
        return -1;
    }
    if (s->cfg.comp == PP_COMP_NONE) {
        *out = (uint8_t *)stamped;
        *outlen = slen;
        return 0;
    }
    int rc = pp_compress(s->cfg.comp, (const uint8_t *)stamped, slen, out, outlen);
    free(stamped);
    if (rc != 0) pp_send_result_set(res, PP_SEND_RETRY, "out of memory compressing an envelope");
    return rc;
}

void pp_sentry_sender_send(pp_sentry_sender *s, CURL *conn, const pp_export_request *r,
                           const _Atomic int64_t *abort_at, pp_send_result *res) {
    if (!conn) {
        pp_send_result_set(res, PP_SEND_RETRY, "no connection handle (out of memory)");
        return;
    }
    const uint8_t *body = r->body;
    size_t len = r->len;
    uint8_t *owned = NULL;
    if (!s->cfg.otlp) {
        if (prepare(s, r, &owned, &len, res) != 0) return;
        body = owned;
    }
    pp_egress_resp resp = {.max_body = 64u << 10, .capture = "X-Sentry-Rate-Limits"};
    char err[CURL_ERROR_SIZE + 32];
    CURLcode rc = pp_egress_post(conn, s->url, s->headers, body, len, s->cfg.timeout_ns, abort_at,
                                 &resp, err, sizeof(err));
    free(owned);
    if (rc == CURLE_OK)
        pp_sentry_sender_limits(s, (int)resp.http_status, resp.captured[0] ? resp.captured : NULL,
                                resp.retry_after[0] ? resp.retry_after : NULL);
    if (s->cfg.otlp) pp_otlphttp_result(rc, err, &resp, r->signal, res);
    else classify_envelope(rc, err, &resp, res);

    int type = pp_sentry_request_type(r, s->cfg.otlp);
    if (rc == CURLE_OK && resp.http_status == 429) {
        /* Wait in the queue until the limit of this type ends (the limits
         * now say when: a bare 429 means 60 s for everything). */
        uint64_t now = wall_ms();
        pthread_mutex_lock(&s->lock);
        uint64_t until = type >= 0 ? limit_end(s, type, now) : 0;
        pthread_mutex_unlock(&s->lock);
        if (until > now) {
            pp_send_result_set(res, PP_SEND_HOLD, "HTTP 429: rate limited for %llu ms",
                               (unsigned long long)(until - now));
            res->retry_after_ns = (int64_t)(until - now) * 1000000LL;
            if (type >= 0) pp_counter_add(s->held[type], 1);
        } else if (res->outcome != PP_SEND_RETRY) {
            /* Limited in a category that is not this type's: try again soon. */
            pp_send_result_set(res, PP_SEND_RETRY, "HTTP 429 for another category");
        }
    }
    if (res->outcome == PP_SEND_OK && !s->cfg.otlp && type >= 0) pp_counter_add(s->sent[type], 1);
    pp_egress_resp_free(&resp);
}

void pp_sentry_sender_dropped(pp_sentry_sender *s, const pp_export_request *r, const char *reason) {
    int type = pp_sentry_request_type(r, s->cfg.otlp);
    if (type < 0 || s->cfg.otlp) return; /* OTLP: counted as spans by the exporter */
    pp_counter_add(s->failed[type], 1);
    for (int i = 0; i < R_OVERSIZE; i++)
        if (!strcmp(DROP_REASONS[i], reason)) pp_counter_add(s->dropped[type][i], 1);
}

void pp_sentry_sender_count_map(pp_sentry_sender *s, const pp_sentry_map_stats *st) {
    pp_counter_add(s->trimmed, st->trimmed_spans);
    pp_counter_add(s->orphans, st->orphans);
    pp_counter_add(s->cut, st->cut_values);
    pp_counter_add(s->unparsed, st->unparsed_stacktraces);
    pp_counter_add(s->dropped[PP_SENTRY_ERROR][R_OVERSIZE], st->dropped_oversize_errors);
    pp_counter_add(s->dropped[PP_SENTRY_TRANSACTION][R_OVERSIZE],
                   st->dropped_oversize - st->dropped_oversize_errors);
}

/* ---- life cycle ---- */

static void counters(pp_sentry_sender *s, pp_metrics *m) {
    const char *l[] = {"exporter", s->id, NULL};
    for (int t = 0; t < NTYPES; t++) {
        const char *lt[] = {"exporter", s->id, "type", TYPE_NAMES[t], NULL};
        const char *lc[] = {"exporter", s->id, "category", TYPE_NAMES[t], NULL};
        s->sent[t] = pp_counter_get(m, "pipit_sentry_events_sent", "Events Sentry accepted.", lt);
        s->failed[t] = pp_counter_get(m, "pipit_sentry_events_failed",
                                      "Events given up after sending failed (see _dropped for why).", lt);
        s->held[t] = pp_counter_get(m, "pipit_sentry_events_rate_limited",
                                    "Times an event had to wait in the queue for a Sentry rate limit.", lt);
        s->limited_s[t] = pp_counter_get(m, "pipit_sentry_rate_limited_seconds",
                                         "Seconds Sentry rate-limited this category.", lc);
        for (int r = 0; r < NREASONS; r++) {
            const char *lr[] = {"exporter", s->id, "type", TYPE_NAMES[t], "reason", DROP_REASONS[r], NULL};
            s->dropped[t][r] = pp_counter_get(m, "pipit_sentry_events_dropped",
                                              "Events lost, by reason (oversize: over 1 MiB even trimmed).", lr);
        }
    }
    s->trimmed = pp_counter_get(m, "pipit_sentry_trimmed_spans",
                                "Spans left out of transactions to fit Sentry's 1 MiB item limit.", l);
    s->orphans = pp_counter_get(m, "pipit_sentry_orphan_transactions",
                                "Transactions made of spans whose parent was not in the batch.", l);
    s->cut = pp_counter_get(m, "pipit_sentry_cut_values",
                            "Strings shortened to fit Sentry's 1 MiB item limit.", l);
    s->unparsed = pp_counter_get(m, "pipit_sentry_unparsed_stacktraces",
                                 "Exception stack traces kept as raw text (format not recognised).", l);
}

pp_sentry_sender *pp_sentry_sender_new(const pp_sentry_sender_cfg *c, struct curl_slist *headers,
                                       pp_metrics *m) {
    pp_sentry_sender *s = calloc(1, sizeof(*s));
    if (!s) {
        curl_slist_free_all(headers);
        return NULL;
    }
    s->headers = headers;
    s->cfg = *c;
    s->component = strdup(c->component);
    s->id = strdup(c->id);
    s->url = strdup(c->url);
    if (!s->component || !s->id || !s->url) {
        pp_sentry_sender_free(s);
        return NULL;
    }
    s->cfg.component = s->component;
    s->cfg.id = s->id;
    s->cfg.url = s->url;
    pthread_mutex_init(&s->lock, NULL);
    pp_sentry_rl_init(&s->rl);
    counters(s, m);
    return s;
}

void pp_sentry_sender_free(pp_sentry_sender *s) {
    if (!s) return;
    if (s->component && s->id && s->url) pthread_mutex_destroy(&s->lock);
    curl_slist_free_all(s->headers);
    free(s->component);
    free(s->id);
    free(s->url);
    free(s);
}
