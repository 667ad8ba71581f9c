/* prw_bench.c -- how fast pipit turns OTLP metrics into remote-write bodies:
 * pp_prw_translate_hashed (OTLP -> WriteRequest) + pp_prw_encode_hashed (shard, cut,
 * protobuf pack, snappy) on one thread, per batch as the exporter does it.
 *
 *   pipit-prw-bench [--batches N] [--runs R] [--series S]
 *
 * Each batch: one resource, 20 counters and 20 gauges with S/20 attribute
 * sets each, 5 histograms (10 bounds) with S/20 sets, one point per series,
 * timestamps rising from batch to batch. Prints samples/s per run and the
 * median, then peak RSS after N batches and after 10 x N more (the second
 * must not grow with the number of batches). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_clock.h"
#include "batch.h"
#include "exporters/prometheusremotewrite/prw_encode.h"
#include "exporters/prometheusremotewrite/prw_translate.h"

static void *zalloc(pp_arena *a, size_t n) {
    void *p = pp_arena_alloc(a, n);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    memset(p, 0, n);
    return p;
}

static pp_key_value *kv(pp_arena *a, const char *k, const char *v) {
    pp_key_value *x = zalloc(a, sizeof(*x));
    opentelemetry__proto__common__v1__key_value__init(x);
    x->key = pp_arena_strdup(a, k);
    x->value = zalloc(a, sizeof(*x->value));
    opentelemetry__proto__common__v1__any_value__init(x->value);
    x->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    x->value->string_value = pp_arena_strdup(a, v);
    return x;
}

static pp_key_value **attrs(pp_arena *a, size_t k) {
    char route[32], code[8];
    snprintf(route, sizeof(route), "/api/v1/item/%zu", k);
    snprintf(code, sizeof(code), "%zu", 200 + k % 5);
    pp_key_value **l = zalloc(a, 2 * sizeof(*l));
    l[0] = kv(a, "http.route", route);
    l[1] = kv(a, "http.response.status_code", code);
    return l;
}

static const double BOUNDS[10] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

static pp_batch *make_batch(size_t sets, uint64_t t_ns, uint64_t round) {
    pp_batch *b = pp_batch_new(PP_METRICS, 1 << 20);
    pp_arena *a = b->arena;
    pp_resource_metrics *rm = zalloc(a, sizeof(*rm));
    opentelemetry__proto__metrics__v1__resource_metrics__init(rm);
    rm->resource = zalloc(a, sizeof(*rm->resource));
    opentelemetry__proto__resource__v1__resource__init(rm->resource);
    rm->resource->n_attributes = 3;
    rm->resource->attributes = zalloc(a, 3 * sizeof(void *));
    rm->resource->attributes[0] = kv(a, "service.name", "checkout");
    rm->resource->attributes[1] = kv(a, "service.instance.id", "pod-7f9c");
    rm->resource->attributes[2] = kv(a, "host.name", "node-12");
    pp_scope_metrics *sm = zalloc(a, sizeof(*sm));
    opentelemetry__proto__metrics__v1__scope_metrics__init(sm);
    sm->scope = zalloc(a, sizeof(*sm->scope));
    opentelemetry__proto__common__v1__instrumentation_scope__init(sm->scope);
    sm->scope->name = pp_arena_strdup(a, "bench");
    enum { COUNTERS = 20, GAUGES = 20, HISTS = 5 };
    sm->n_metrics = COUNTERS + GAUGES + HISTS;
    sm->metrics = zalloc(a, sm->n_metrics * sizeof(void *));
    pp_key_value **sets_attrs[4096];
    for (size_t k = 0; k < sets && k < 4096; k++) sets_attrs[k] = attrs(a, k);
    for (size_t m = 0; m < sm->n_metrics; m++) {
        pp_metric *mt = zalloc(a, sizeof(*mt));
        opentelemetry__proto__metrics__v1__metric__init(mt);
        char name[80];
        pp_number_point **np = NULL;
        if (m < COUNTERS + GAUGES) {
            np = zalloc(a, sets * sizeof(*np));
            for (size_t k = 0; k < sets; k++) {
                pp_number_point *p = zalloc(a, sizeof(*p));
                opentelemetry__proto__metrics__v1__number_data_point__init(p);
                p->time_unix_nano = t_ns;
                p->start_time_unix_nano = 1700000000000000000ull;
                p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
                p->as_double = (double)(round * 10 + k);
                p->n_attributes = 2;
                p->attributes = sets_attrs[k];
                np[k] = p;
            }
        }
        if (m < COUNTERS) {
            snprintf(name, sizeof(name), "http.server.request.bytes.%zu", m);
            mt->unit = pp_arena_strdup(a, "By");
            mt->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
            mt->sum = zalloc(a, sizeof(*mt->sum));
            opentelemetry__proto__metrics__v1__sum__init(mt->sum);
            mt->sum->is_monotonic = true;
            mt->sum->aggregation_temporality =
                OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
            mt->sum->n_data_points = sets;
            mt->sum->data_points = np;
        } else if (m < COUNTERS + GAUGES) {
            snprintf(name, sizeof(name), "process.memory.usage.%zu", m);
            mt->unit = pp_arena_strdup(a, "By");
            mt->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
            mt->gauge = zalloc(a, sizeof(*mt->gauge));
            opentelemetry__proto__metrics__v1__gauge__init(mt->gauge);
            mt->gauge->n_data_points = sets;
            mt->gauge->data_points = np;
        } else {
            snprintf(name, sizeof(name), "http.server.request.duration.%zu", m);
            mt->unit = pp_arena_strdup(a, "s");
            mt->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
            mt->histogram = zalloc(a, sizeof(*mt->histogram));
            opentelemetry__proto__metrics__v1__histogram__init(mt->histogram);
            mt->histogram->aggregation_temporality =
                OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
            mt->histogram->n_data_points = sets;
            mt->histogram->data_points = zalloc(a, sets * sizeof(void *));
            for (size_t k = 0; k < sets; k++) {
                pp_histogram_point *p = zalloc(a, sizeof(*p));
                opentelemetry__proto__metrics__v1__histogram_data_point__init(p);
                p->time_unix_nano = t_ns;
                p->start_time_unix_nano = 1700000000000000000ull;
                p->n_attributes = 2;
                p->attributes = sets_attrs[k];
                p->n_explicit_bounds = 10;
                p->explicit_bounds = (double *)(uintptr_t)BOUNDS;
                p->n_bucket_counts = 11;
                p->bucket_counts = zalloc(a, 11 * sizeof(uint64_t));
                for (size_t i = 0; i < 11; i++) p->count += p->bucket_counts[i] = round + i + k;
                p->sum_present_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__SUM_PRESENT_SUM;
                p->sum = (double)p->count * 0.1;
                mt->histogram->data_points[k] = p;
            }
        }
        mt->name = pp_arena_strdup(a, name);
        sm->metrics[m] = mt;
    }
    rm->n_scope_metrics = 1;
    rm->scope_metrics = zalloc(a, sizeof(void *));
    rm->scope_metrics[0] = sm;
    b->metrics->n_resource_metrics = 1;
    b->metrics->resource_metrics = zalloc(a, sizeof(void *));
    b->metrics->resource_metrics[0] = rm;
    pp_batch_recount(b);
    return b;
}

/* Translates and encodes `batches` batches; returns samples produced and
 * adds the seconds spent (batch building excluded) to *secs. */
static size_t run(size_t batches, size_t sets, uint64_t *round, double *secs, double *wall,
                  size_t *bytes) {
    pp_prw_options o;
    pp_prw_options_default(&o);
    size_t samples = 0;
    for (size_t i = 0; i < batches; i++, (*round)++) {
        pp_batch *b = make_batch(sets, 1800000000000000000ull + *round * 1000000000ull, *round);
        double t0 = bench_cpu_s(), w0 = bench_wall_s();
        pp_arena *a = pp_arena_new(1 << 20);
        pp_prw_stats st = {0};
        const uint64_t *hashes = NULL;
        Prometheus__WriteRequest *wr = pp_prw_translate_hashed(b->metrics, &o, a, &st, &hashes);
        pp_prw_part *parts = NULL;
        if (!wr || pp_prw_encode_hashed(wr, hashes, 5, 3000000, b->items, &parts) != 0) {
            fprintf(stderr, "translate/encode failed\n");
            exit(1);
        }
        for (pp_prw_part *p = parts; p; p = p->next) *bytes += p->len;
        pp_prw_parts_free(parts);
        pp_arena_destroy(a);
        *secs += bench_cpu_s() - t0;
        *wall += bench_wall_s() - w0;
        samples += st.samples;
        pp_batch_unref(b);
    }
    return samples;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int main(int argc, char **argv) {
    size_t batches = 50, runs = 5, series = 1000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--batches")) batches = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--runs")) runs = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--series")) series = strtoul(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "usage: %s [--batches N] [--runs R] [--series S]\n", argv[0]);
            return 2;
        }
    }
    size_t sets = series / 20 ? series / 20 : 1;
    if (sets > 4096) sets = 4096;
    if (runs == 0 || runs > 64) runs = 5;
    uint64_t round = 0;
    double rate[64];
    size_t bytes = 0, samples = 0;
    for (size_t r = 0; r < runs; r++) {
        double secs = 0, wall = 0;
        samples = run(batches, sets, &round, &secs, &wall, &bytes);
        rate[r] = (double)samples / secs;
        printf("run %zu: %zu batches, %zu samples in %.3f s CPU (%.3f s wall): %.0f samples/s per "
               "CPU second\n", r + 1, batches, samples, secs, wall, rate[r]);
    }
    qsort(rate, runs, sizeof(rate[0]), cmp_double);
    printf("median: %.0f samples per CPU second (%zu samples per batch, %.1f bytes per sample on the wire)\n",
           rate[runs / 2], samples / batches, (double)bytes / (double)(samples * runs));
    long rss1 = bench_peak_rss_kb();
    double secs = 0, wall = 0;
    run(batches * 10, sets, &round, &secs, &wall, &bytes);
    long rss2 = bench_peak_rss_kb();
    printf("peak RSS after %zu batches: %ld KiB; after %zu more: %ld KiB\n", batches * runs, rss1,
           batches * 10, rss2);
    return 0;
}
