/* ingest.c -- see ingest.h. */
#include "ingest.h"

#include <stdio.h>

void pp_ingest_init(pp_ingest *in, const pp_create_params *p, const char *transport) {
    snprintf(in->receiver_id, sizeof(in->receiver_id), "%s", p->id);
    in->transport = transport;
    for (int s = 0; s < PP_SIGNAL_COUNT; s++) in->next[s] = p->next[s];
    in->admission = p->host->admission;
    in->auth = NULL;
    pp_metrics *m = p->host->metrics;
    in->metrics = m;
    const char *labels[] = {"receiver", in->receiver_id, "transport", transport, NULL};
    in->accepted[PP_TRACES] =
        pp_counter_get(m, "otelcol_receiver_accepted_spans",
                       "Number of spans successfully pushed into the pipeline.", labels);
    in->refused[PP_TRACES] = pp_counter_get(
        m, "otelcol_receiver_refused_spans", "Number of spans that could not be pushed into the pipeline.",
        labels);
    in->accepted[PP_METRICS] =
        pp_counter_get(m, "otelcol_receiver_accepted_metric_points",
                       "Number of metric points successfully pushed into the pipeline.", labels);
    in->refused[PP_METRICS] =
        pp_counter_get(m, "otelcol_receiver_refused_metric_points",
                       "Number of metric points that could not be pushed into the pipeline.", labels);
    const char *ml[] = {"receiver", in->receiver_id, "transport", transport, "reason", "memory_limit",
                        NULL};
    in->refused_memory = pp_counter_get(
        m, "pipit_receiver_refused_requests",
        "Requests refused before decoding (their items are not known), by reason.", ml);
    for (int s = 0; s < PP_SIGNAL_COUNT; s++) {
        const char *l[] = {"receiver", in->receiver_id, "transport", transport, "signal",
                           pp_signal_name((pp_signal)s), NULL};
        in->failed_decode[s] = pp_counter_get(
            m, "pipit_receiver_invalid_requests",
            "Requests answered with a client error (undecodable or invalid data).", l);
    }
}

bool pp_ingest_has(const pp_ingest *in, pp_signal s) { return in->next[s] != NULL; }

int pp_ingest_authenticate(pp_ingest *in, const char *value, pp_status *st) {
    if (!in->auth) return 0;
    return in->auth->check(in->auth, value, st);
}

int pp_ingest_admit(pp_ingest *in, size_t n, pp_status *st) {
    if (!in->admission || pp_admission_acquire(in->admission, n, st) == 0) return 0;
    pp_counter_add(in->refused_memory, 1);
    return -1;
}

void pp_ingest_release(pp_ingest *in, size_t n) {
    if (in->admission) pp_admission_release(in->admission, n);
}

int pp_ingest_batch(pp_ingest *in, pp_batch *b, pp_status *st) {
    pp_signal s = b->signal;
    if (!in->next[s])
        return pp_fail(st, PP_UNIMPLEMENTED, "no %s pipeline takes data from receiver %s",
                       pp_signal_name(s), in->receiver_id);
    if (pp_consume(in->next[s], b, st) != 0) {
        if (st->code == PP_OK) pp_fail(st, PP_UNAVAILABLE, "refused by the pipeline");
        pp_counter_add(in->refused[s], b->items);
        return -1;
    }
    pp_counter_add(in->accepted[s], b->items);
    return 0;
}

int pp_ingest_protobuf(pp_ingest *in, pp_signal s, const uint8_t *buf, size_t len, pp_status *st) {
    if (!in->next[s])
        return pp_fail(st, PP_UNIMPLEMENTED, "no %s pipeline takes data from receiver %s",
                       pp_signal_name(s), in->receiver_id);
    /* Forwarding pipelines get the bytes as they came (batch.h); whatever
     * the wire check does not vouch for is decoded, which names the problem. */
    pp_batch *b = in->next[s]->takes_encoded ? pp_batch_wrap_encoded(s, buf, len) : NULL;
    if (!b) b = pp_batch_decode(s, buf, len, st);
    if (!b) {
        pp_counter_add(in->failed_decode[s], 1);
        return -1;
    }
    int rc = pp_ingest_batch(in, b, st);
    pp_batch_unref(b);
    return rc;
}
