/* test_wire_check.c -- the forwarding path's wire check (wire_check.h) and
 * encoded batches (batch.h): accepted means decodable with the same count,
 * every rule of decoding and validation is enforced, and encoded batches
 * regroup, halve and pack to what decoding the same data would give. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_split.h"
#include "otlp_json.h"
#include "service.h"
#include "testutil.h"
#include "testutil_world.h"
#include "wire_check.h"

static uint8_t *pack(const pp_batch *b, size_t *n) {
    *n = pp_batch_encoded_size(b);
    uint8_t *p = malloc(*n + 1);
    assert_non_null(p);
    assert_int_equal(pp_batch_pack(b, p), *n);
    return p;
}

static pp_batch *from_json_file(pp_signal sig, const char *name) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/data/otlp-json/%s", getenv("PIPIT_SOURCE_DIR"), name);
    size_t len;
    char *text = tu_read_file(path, &len);
    assert_non_null(text);
    pp_status st = {0};
    pp_batch *b = pp_otlp_json_decode(sig, text, len, &st);
    free(text);
    assert_non_null(b);
    return b;
}

/* Valid requests of both signals covering every message type: generated
 * spans with attributes of every kind, and the full JSON examples (gauges,
 * sums, histograms, exponential histograms, summaries, exemplars, links). */
typedef struct sample {
    pp_signal sig;
    uint8_t *buf;
    size_t len, items;
} sample;

#define NSAMPLES 4
static void samples(sample *s) {
    uint64_t rng = 7;
    pp_batch *b[NSAMPLES] = {tu_make_traces(2, 2, 5, 1), from_json_file(PP_TRACES, "traces_full.json"),
                             from_json_file(PP_METRICS, "metrics_full.json"),
                             tu_make_metrics(3, 4, 2)};
    tu_fatten_spans(b[0], 1, 40, &rng);
    for (int i = 0; i < NSAMPLES; i++) {
        s[i].sig = b[i]->signal;
        s[i].buf = pack(b[i], &s[i].len);
        s[i].items = b[i]->items;
        assert_true(s[i].items > 0);
        pp_batch_unref(b[i]);
    }
}

static void free_samples(sample *s) {
    for (int i = 0; i < NSAMPLES; i++) free(s[i].buf);
}

static void test_accepts_valid_requests_with_their_count(void **state) {
    (void)state;
    sample s[NSAMPLES];
    samples(s);
    for (int i = 0; i < NSAMPLES; i++) {
        size_t items = 0;
        assert_true(pp_wire_check(s[i].sig, s[i].buf, s[i].len, &items));
        assert_int_equal(items, s[i].items);
        /* The other signal's schema does not fit these bytes. */
        assert_false(pp_wire_check(s[i].sig == PP_TRACES ? PP_METRICS : PP_TRACES, s[i].buf,
                                   s[i].len, &items) &&
                     items == s[i].items);
    }
    size_t items = 99;
    assert_true(pp_wire_check(PP_TRACES, NULL, 0, &items)); /* an empty request is valid */
    assert_int_equal(items, 0);
    free_samples(s);
}

/* Hand-made encodings: each must be refused, and what decoding says of the
 * same bytes is checked too (refused, or accepted when the wire check is
 * merely stricter than decoding). */
static void expect(pp_signal sig, const uint8_t *buf, size_t len, bool decodes) {
    size_t items;
    assert_false(pp_wire_check(sig, buf, len, &items));
    pp_status st = {0};
    pp_batch *b = pp_batch_decode(sig, buf, len, &st);
    if (decodes) assert_non_null(b);
    else assert_null(b);
    pp_batch_unref(b);
}

/* Writes a span request: resource_spans { scope_spans { spans { fields } } }. */
static size_t span_request(uint8_t *out, const uint8_t *span, size_t n) {
    size_t k = 0;
    out[k++] = 0x0a; /* resource_spans */
    out[k++] = (uint8_t)(n + 4);
    out[k++] = 0x12; /* scope_spans */
    out[k++] = (uint8_t)(n + 2);
    out[k++] = 0x12; /* spans */
    out[k++] = (uint8_t)n;
    memcpy(out + k, span, n);
    return k + n;
}

static size_t span_fields(uint8_t *out, size_t trace_len, int trace_fill, size_t span_len,
                          size_t parent_len) {
    size_t k = 0;
    out[k++] = 0x0a;
    out[k++] = (uint8_t)trace_len;
    memset(out + k, trace_fill, trace_len);
    k += trace_len;
    out[k++] = 0x12;
    out[k++] = (uint8_t)span_len;
    memset(out + k, 2, span_len);
    k += span_len;
    if (parent_len) {
        out[k++] = 0x22;
        out[k++] = (uint8_t)parent_len;
        memset(out + k, 3, parent_len);
        k += parent_len;
    }
    return k;
}

static void test_refuses_what_decoding_or_validation_refuses(void **state) {
    (void)state;
    uint8_t span[128], req[160];
    size_t n, items;

    n = span_fields(span, 16, 1, 8, 8);
    assert_true(pp_wire_check(PP_TRACES, req, span_request(req, span, n), &items));
    assert_int_equal(items, 1);

    n = span_fields(span, 15, 1, 8, 0);
    expect(PP_TRACES, req, span_request(req, span, n), false);
    n = span_fields(span, 16, 0, 8, 0); /* all-zero trace id */
    expect(PP_TRACES, req, span_request(req, span, n), false);
    n = span_fields(span, 16, 1, 7, 0);
    expect(PP_TRACES, req, span_request(req, span, n), false);
    n = span_fields(span, 16, 1, 8, 4); /* parent of 4 bytes */
    expect(PP_TRACES, req, span_request(req, span, n), false);
    n = span_fields(span, 16, 1, 0, 0); /* no span id */
    expect(PP_TRACES, req, span_request(req, span, n), false);

    /* The last occurrence of an id counts, as in decoding. */
    n = span_fields(span, 15, 1, 8, 0);
    n += span_fields(span + n, 16, 1, 8, 0);
    assert_true(pp_wire_check(PP_TRACES, req, span_request(req, span, n), &items));

    /* name (field 5, a string) sent as a varint: a wire type mismatch. */
    n = span_fields(span, 16, 1, 8, 0);
    span[n++] = 0x28;
    span[n++] = 0x01;
    expect(PP_TRACES, req, span_request(req, span, n), false);

    /* Truncated at every length. */
    n = span_fields(span, 16, 1, 8, 0);
    size_t full = span_request(req, span, n);
    for (size_t cut = 1; cut < full; cut++) expect(PP_TRACES, req, cut, false);

    /* Field number 0, in one byte and in two. */
    static const uint8_t zero1[] = {0x00, 0x01};
    static const uint8_t zero2[] = {0x80, 0x00, 0x01};
    expect(PP_TRACES, zero1, sizeof(zero1), false);
    expect(PP_TRACES, zero2, sizeof(zero2), false);
    /* Groups and wire types 6 and 7. */
    static const uint8_t group[] = {0x0b, 0x0c};
    static const uint8_t wt7[] = {0x0f};
    expect(PP_TRACES, group, sizeof(group), false);
    expect(PP_TRACES, wt7, sizeof(wt7), false);

    /* Unknown fields of every wire type are kept, as decoding keeps them. */
    static const uint8_t unknown[] = {0x78, 0x05, 0x79, 1, 2, 3, 4, 5, 6, 7, 8, 0x7a, 0x01, 0xff,
                                      0x7d, 1, 2, 3, 4};
    assert_true(pp_wire_check(PP_TRACES, unknown, sizeof(unknown), &items));
    assert_int_equal(items, 0);
}

/* Decoding accepts these; the wire check leaves them to it. */
static void test_leaves_legal_oddities_to_decoding(void **state) {
    (void)state;
    /* A Metric with both a gauge (5) and a sum (7): the oneof keeps the last. */
    static const uint8_t two_members[] = {0x0a, 0x0a, 0x12, 0x08, 0x12, 0x06,
                                          0x2a, 0x00, 0x3a, 0x02, 0x0a, 0x00};
    expect(PP_METRICS, two_members, sizeof(two_members), true);
    /* The same member twice: protobuf-c keeps the last one (no merge), so
     * this too is decoding's call. */
    static const uint8_t same_twice[] = {0x0a, 0x0c, 0x12, 0x0a, 0x12, 0x08, 0x2a,
                                         0x02, 0x0a, 0x00, 0x2a, 0x02, 0x0a, 0x00};
    expect(PP_METRICS, same_twice, sizeof(same_twice), true);
    pp_status st = {0};
    pp_batch *b = pp_batch_decode(PP_METRICS, same_twice, sizeof(same_twice), &st);
    assert_non_null(b);
    assert_int_equal(b->items, 1);
    pp_batch_unref(b);
}

/* Prepends field `tag` (length-delimited) around buf[0..*len). */
static void wrap(uint8_t tag, uint8_t *buf, size_t *len) {
    uint8_t hdr[8];
    size_t h = 0, v = *len;
    hdr[h++] = tag;
    do {
        hdr[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    memmove(buf + h, buf, *len);
    memcpy(buf, hdr, h);
    *len += h;
}

static void test_refuses_deep_nesting_without_recursion(void **state) {
    (void)state;
    /* A span attribute whose value nests ArrayValue { values: AnyValue {
     * array_value: ... } } 300 times: 600 message levels. */
    uint8_t *buf = malloc(1 << 16);
    size_t len = 0;
    for (int level = 0; level < 300; level++) {
        wrap(0x2a, buf, &len); /* AnyValue.array_value */
        wrap(0x0a, buf, &len); /* ArrayValue.values */
    }
    wrap(0x2a, buf, &len); /* AnyValue.array_value */
    wrap(0x12, buf, &len); /* KeyValue.value */
    wrap(0x4a, buf, &len); /* Span.attributes */
    uint8_t ids[64];
    size_t n = span_fields(ids, 16, 1, 8, 0);
    memmove(buf + n, buf, len);
    memcpy(buf, ids, n);
    len += n;
    wrap(0x12, buf, &len); /* ScopeSpans.spans */
    wrap(0x12, buf, &len); /* ResourceSpans.scope_spans */
    wrap(0x0a, buf, &len); /* request.resource_spans */
    expect(PP_TRACES, buf, len, false);
    free(buf);
}

/* Lengths written in 5 bytes with a bit above 2^32 set, nested deep: the
 * wire check and the depth check read them as the too-large lengths they are
 * and stop; protobuf-c (Debian's 1.4.1) refuses them as well, so decoding
 * fails cleanly instead of recursing 40 000 levels deep. Were a protobuf-c to
 * keep only the low 32 bits, this test would crash under ASan. */
static void wrap_overlong(uint8_t tag, uint8_t *buf, size_t *len) {
    uint64_t v = *len | (1ull << 32);
    uint8_t hdr[6];
    hdr[0] = tag;
    for (int i = 0; i < 5; i++) hdr[1 + i] = (uint8_t)(((v >> (7 * i)) & 0x7f) | (i < 4 ? 0x80 : 0));
    memmove(buf + 6, buf, *len);
    memcpy(buf, hdr, 6);
    *len += 6;
}

static void test_refuses_deep_nesting_with_overlong_lengths(void **state) {
    (void)state;
    uint8_t *buf = malloc(1 << 20);
    size_t len = 0;
    for (int level = 0; level < 20000; level++) {
        wrap_overlong(0x2a, buf, &len); /* AnyValue.array_value */
        wrap_overlong(0x0a, buf, &len); /* ArrayValue.values */
    }
    wrap_overlong(0x2a, buf, &len);
    wrap_overlong(0x12, buf, &len); /* KeyValue.value */
    wrap_overlong(0x0a, buf, &len); /* Resource.attributes */
    wrap_overlong(0x0a, buf, &len); /* ResourceSpans.resource */
    wrap_overlong(0x0a, buf, &len); /* request.resource_spans */
    size_t items;
    assert_false(pp_wire_check(PP_TRACES, buf, len, &items));
    pp_status st = {0};
    pp_batch *b = pp_batch_decode(PP_TRACES, buf, len, &st); /* no stack overflow */
    assert_null(b);
    free(buf);
}

/* Random damage to valid requests: whatever the wire check accepts,
 * decoding accepts with the same count. Both outcomes must occur. */
static void test_accepted_implies_decodable(void **state) {
    (void)state;
    sample s[NSAMPLES];
    samples(s);
    uint64_t rng = 42;
    size_t accepted = 0, refused = 0;
    for (int i = 0; i < NSAMPLES; i++) {
        uint8_t *m = malloc(s[i].len + 16);
        for (int round = 0; round < 4000; round++) {
            size_t len = s[i].len;
            memcpy(m, s[i].buf, len);
            int edits = 1 + (int)(tu_rand(&rng) % 3);
            for (int e = 0; e < edits && len > 0; e++) {
                size_t at = tu_rand(&rng) % len;
                switch (tu_rand(&rng) % 4) {
                case 0: m[at] = (uint8_t)tu_rand(&rng); break;            /* any byte */
                case 1: m[at] ^= (uint8_t)(1u << (tu_rand(&rng) % 8)); break; /* one bit */
                case 2: len = at; break;                                     /* truncate */
                default: m[at] = (uint8_t)(m[at] + 1); break;             /* off by one (lengths) */
                }
            }
            size_t items;
            pp_status st = {0};
            if (pp_wire_check(s[i].sig, m, len, &items)) {
                pp_batch *b = pp_batch_decode(s[i].sig, m, len, &st);
                if (!b) fail_msg("sample %d round %d: accepted but decoding says %s", i, round, st.msg);
                assert_int_equal(b->items, items);
                pp_batch_unref(b);
                accepted++;
            } else {
                refused++;
            }
        }
        free(m);
    }
    assert_true(accepted > 100);
    assert_true(refused > 100);
    free_samples(s);
}

/* ---- encoded batches ---- */

static pp_batch *encoded_traces(size_t spans, uint32_t seed) {
    pp_batch *d = tu_make_traces(1, 1, spans, seed);
    size_t n;
    uint8_t *buf = pack(d, &n);
    pp_batch *e = pp_batch_wrap_encoded(PP_TRACES, buf, n);
    assert_non_null(e);
    assert_true(e->encoded);
    assert_null(e->msg);
    assert_int_equal(e->items, spans);
    free(buf);
    pp_batch_unref(d);
    return e;
}

/* The span ids of b in order, as decoding its bytes gives them. */
static size_t span_ids(pp_batch *b, uint64_t *ids, size_t max) {
    pp_status st = {0};
    pp_batch *d = pp_batch_decoded(b, &st);
    assert_non_null(d);
    assert_false(d->encoded);
    size_t n = 0;
    const pp_traces_req *r = d->traces;
    for (size_t i = 0; i < r->n_resource_spans; i++)
        for (size_t j = 0; j < r->resource_spans[i]->n_scope_spans; j++) {
            const pp_scope_spans *ss = r->resource_spans[i]->scope_spans[j];
            for (size_t k = 0; k < ss->n_spans && n < max; k++)
                memcpy(&ids[n++], ss->spans[k]->span_id.data, 8);
        }
    pp_batch_unref(d);
    return n;
}

typedef struct outs {
    pp_batch *b[64];
    size_t n;
} outs;

static int keep(pp_batch *out, void *arg) {
    outs *o = arg;
    assert_true(o->n < 64);
    o->b[o->n++] = out;
    return 0;
}

static void test_encoded_batches_concatenate(void **state) {
    (void)state;
    pp_batch *in[3] = {encoded_traces(3, 1), encoded_traces(4, 2), encoded_traces(5, 3)};
    pp_batch *all = pp_batch_concat(in, 3);
    assert_non_null(all);
    assert_int_equal(all->items, 12);
    assert_int_equal(pp_batch_resources(all), 3);
    size_t n = pp_batch_encoded_size(all);
    assert_int_equal(n, in[0]->enc_len + in[1]->enc_len + in[2]->enc_len);
    uint8_t *buf = malloc(n);
    assert_int_equal(pp_batch_pack(all, buf), n);
    assert_memory_equal(buf + in[0]->enc_len, in[1]->enc, in[1]->enc_len);
    /* The concatenation is one valid request with every span, in order. */
    uint64_t want[16], got[16];
    size_t k = 0;
    for (int i = 0; i < 3; i++) k += span_ids(in[i], want + k, 16 - k);
    assert_int_equal(span_ids(all, got, 16), 12);
    assert_memory_equal(got, want, sizeof(uint64_t) * 12);
    free(buf);
    pp_batch_unref(all);
    for (int i = 0; i < 3; i++) pp_batch_unref(in[i]);
}

static void test_encoded_regroup_keeps_every_span_in_order(void **state) {
    (void)state;
    /* 3 + 4 + 20 + 5 spans, max 8 per output: whole inputs side by side,
     * the 20-span input decoded and split. */
    pp_batch *in[4] = {encoded_traces(3, 1), encoded_traces(4, 2), encoded_traces(20, 3),
                       encoded_traces(5, 4)};
    uint64_t want[32], got[32];
    size_t k = 0;
    for (int i = 0; i < 4; i++) k += span_ids(in[i], want + k, 32 - k);
    outs o = {.n = 0};
    assert_int_equal(pp_batch_regroup(in, 4, 8, keep, &o), 0);
    size_t total = 0;
    for (size_t i = 0; i < o.n; i++) {
        assert_true(o.b[i]->items <= 8);
        assert_true(o.b[i]->items > 0);
        total += span_ids(o.b[i], got + total, 32 - total);
    }
    assert_int_equal(total, 32);
    assert_memory_equal(got, want, sizeof(want));
    assert_true(o.b[0]->encoded);
    assert_int_equal(o.b[0]->items, 7); /* 3 + 4, then 20 would not fit */
    for (size_t i = 0; i < o.n; i++) pp_batch_unref(o.b[i]);

    /* A byte cap: no output larger than it, unless one span alone is. */
    size_t cap = in[0]->enc_len + in[1]->enc_len;
    o.n = 0;
    size_t oversize = 0;
    assert_int_equal(pp_batch_regroup_bounded(in, 4, 0, cap, &oversize, keep, &o), 0);
    total = 0;
    for (size_t i = 0; i < o.n; i++) {
        assert_true(pp_batch_encoded_size(o.b[i]) <= cap);
        total += o.b[i]->items;
        pp_batch_unref(o.b[i]);
    }
    assert_int_equal(total, 32);
    assert_int_equal(oversize, 0);
    for (int i = 0; i < 4; i++) pp_batch_unref(in[i]);
}

static void test_mixed_regroup_packs_decoded_inputs(void **state) {
    (void)state;
    pp_batch *in[2] = {encoded_traces(3, 1), tu_make_traces(1, 1, 4, 9)};
    uint64_t want[8], got[8];
    size_t k = span_ids(in[0], want, 8);
    span_ids(in[1], want + k, 8 - k);
    outs o = {.n = 0};
    assert_int_equal(pp_batch_regroup(in, 2, 0, keep, &o), 0);
    assert_int_equal(o.n, 1);
    assert_true(o.b[0]->encoded);
    assert_int_equal(o.b[0]->items, 7);
    assert_int_equal(span_ids(o.b[0], got, 8), 7);
    assert_memory_equal(got, want, sizeof(uint64_t) * 7);
    pp_batch_unref(o.b[0]);
    pp_batch_unref(in[0]);
    pp_batch_unref(in[1]);
}

static void test_encoded_halves(void **state) {
    (void)state;
    pp_batch *in[3] = {encoded_traces(3, 1), encoded_traces(4, 2), encoded_traces(5, 3)};
    pp_batch *all = pp_batch_concat(in, 3);
    pp_batch *a, *b;
    /* Between the requests: 3 + 4 | 5 would be 7|5, 3 | 4 + 5 is 3|9: it
     * takes parts while they stay within half (6): 3 | 9. */
    assert_int_equal(pp_batch_halve(all, &a, &b), 0);
    assert_int_equal(a->items + b->items, 12);
    assert_true(a->encoded && b->encoded);
    assert_int_equal(a->items, 3);
    pp_batch_unref(a);
    pp_batch_unref(b);
    /* One request: decoded and split by span. */
    assert_int_equal(pp_batch_halve(in[2], &a, &b), 0);
    assert_int_equal(a->items, 3);
    assert_int_equal(b->items, 2);
    assert_false(a->encoded);
    pp_batch_unref(a);
    pp_batch_unref(b);
    pp_batch_unref(all);
    for (int i = 0; i < 3; i++) pp_batch_unref(in[i]);
}

static void test_wrap_refuses_what_the_check_refuses(void **state) {
    (void)state;
    static const uint8_t bad[] = {0x0a, 0x05, 0x12};
    assert_null(pp_batch_wrap_encoded(PP_TRACES, bad, sizeof(bad)));
    pp_batch *d = tu_make_metrics(2, 3, 1);
    pp_batch *e = pp_batch_as_encoded(d);
    assert_non_null(e);
    assert_int_equal(pp_batch_resources(e), pp_batch_resources(d));
    pp_batch *t = tu_make_traces(2, 2, 5, 1), *te = pp_batch_as_encoded(t);
    assert_int_equal(pp_batch_resources(te), 2);
    pp_batch_unref(te);
    pp_batch_unref(t);
    assert_true(e->encoded);
    assert_int_equal(e->items, 6);
    assert_false(pp_batch_is_exclusive(e)); /* nothing may edit a message it does not have */
    pp_status st = {0};
    pp_batch *back = pp_batch_decoded(e, &st);
    assert_non_null(back);
    assert_int_equal(back->items, 6);
    pp_batch_unref(back);
    pp_batch_unref(e);
    pp_batch_unref(d);
}

/* Whether a receiver's pipelines take encoded batches: only when every
 * component downstream only forwards. */
static bool receiver_takes_encoded(const char *processors, const char *exporters) {
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "receivers: {tu_recv: }\n"
             "processors:\n"
             "  batch: {}\n"
             "  memory_limiter: {check_interval: 1s, limit_mib: 4000}\n"
             "  probabilistic_sampler: {sampling_percentage: 50}\n"
             "exporters:\n"
             "  otlp: {endpoint: 127.0.0.1:9, tls: {insecure: true}}\n"
             "  otlphttp: {endpoint: http://127.0.0.1:9}\n"
             "  otlphttp/json: {endpoint: http://127.0.0.1:9, encoding: json}\n"
             "  debug: {}\n"
             "  debug/detailed: {verbosity: detailed}\n"
             "  tu_exp: {}\n"
             "service:\n  pipelines:\n"
             "    traces: {receivers: [tu_recv], processors: [%s], exporters: [%s]}\n",
             processors, exporters);
    tu_world *w = tu_world_new(yaml);
    tu_recv *r = pp_service_instance(w->svc, PP_RECEIVER, "tu_recv", NULL);
    assert_non_null(r);
    bool takes = r->next[PP_TRACES]->takes_encoded;
    tu_world_free(w);
    return takes;
}

static void test_only_forwarding_pipelines_take_encoded_batches(void **state) {
    (void)state;
    tu_world_register_fakes();
    assert_true(receiver_takes_encoded("batch", "otlp"));
    assert_true(receiver_takes_encoded("memory_limiter, batch", "otlp, otlphttp"));
    assert_true(receiver_takes_encoded("", "otlphttp"));
    assert_true(receiver_takes_encoded("batch", "otlp, debug")); /* basic: counts only */
    assert_false(receiver_takes_encoded("batch", "otlp, debug/detailed"));
    assert_false(receiver_takes_encoded("batch", "otlphttp/json"));
    assert_false(receiver_takes_encoded("probabilistic_sampler, batch", "otlp"));
    assert_false(receiver_takes_encoded("batch", "tu_exp"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_valid_requests_with_their_count),
        cmocka_unit_test(test_refuses_what_decoding_or_validation_refuses),
        cmocka_unit_test(test_leaves_legal_oddities_to_decoding),
        cmocka_unit_test(test_refuses_deep_nesting_without_recursion),
        cmocka_unit_test(test_refuses_deep_nesting_with_overlong_lengths),
        cmocka_unit_test(test_accepted_implies_decodable),
        cmocka_unit_test(test_encoded_batches_concatenate),
        cmocka_unit_test(test_encoded_regroup_keeps_every_span_in_order),
        cmocka_unit_test(test_mixed_regroup_packs_decoded_inputs),
        cmocka_unit_test(test_encoded_halves),
        cmocka_unit_test(test_wrap_refuses_what_the_check_refuses),
        cmocka_unit_test(test_only_forwarding_pipelines_take_encoded_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
