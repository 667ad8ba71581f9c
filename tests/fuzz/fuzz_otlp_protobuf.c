/* libFuzzer target: the OTLP protobuf decode path every receiver uses
 * (pp_batch_decode: protobuf-c into an arena, then id validation), for both
 * signals. Whatever decodes must re-encode to bytes that decode to the same
 * message, must regroup by reference without losing an item, and must be
 * encodable as OTLP/JSON (the otlphttp exporter's json encoding). The
 * forwarding path's wire check (wire_check.h) must never accept what decoding
 * refuses, and must count what decoding counts; the encoded batch it makes
 * must regroup and halve without losing an item. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batch_split.h"
#include "otlp_json.h"
#include "wire_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *pack(const pp_batch *b, size_t *n) {
    *n = pp_batch_encoded_size(b);
    uint8_t *p = malloc(*n + 1);
    if (!p) abort();
    if (pp_batch_pack(b, p) != *n) abort();
    return p;
}

static int count_items(pp_batch *out, void *arg) {
    *(size_t *)arg += out->items;
    pp_batch_unref(out);
    return 0;
}

static void check(pp_batch *b) {
    /* protobuf-c canonicalises on the first encode (e.g. it drops -0.0 in
     * plain doubles), so compare the second generation with the first. */
    size_t n1, n2;
    uint8_t *p1 = pack(b, &n1);
    pp_status st = {0};
    pp_batch *again = pp_batch_decode(b->signal, p1, n1, &st);
    if (!again || again->items != b->items) abort();
    uint8_t *p2 = pack(again, &n2);
    pp_batch *third = pp_batch_decode(b->signal, p2, n2, &st);
    if (!third) abort();
    size_t n3;
    uint8_t *p3 = pack(third, &n3);
    if (n2 != n3 || memcmp(p2, p3, n2) != 0) abort();

    size_t regrouped = 0;
    if (pp_batch_regroup(&b, 1, 3, count_items, &regrouped) != 0 || regrouped != b->items) abort();

    size_t len;
    char *json = pp_otlp_json_encode_request(b, &len);
    if (!json) abort();
    free(json);
    free(p1);
    free(p2);
    free(p3);
    pp_batch_unref(again);
    pp_batch_unref(third);
}

static void check_encoded(pp_signal sig, const uint8_t *data, size_t size, size_t items) {
    pp_batch *e = pp_batch_wrap_encoded(sig, data, size);
    if (!e || e->items != items) abort();
    size_t n;
    uint8_t *p = pack(e, &n);
    if (n != size || (n && memcmp(p, data, n) != 0)) abort();
    free(p);
    size_t regrouped = 0;
    pp_batch *two[2] = {e, e};
    if (pp_batch_regroup(two, 2, 3, count_items, &regrouped) != 0 || regrouped != 2 * items)
        abort();
    pp_batch *a, *b;
    if (items >= 2) {
        if (pp_batch_halve(e, &a, &b) != 0 || a->items + b->items != items) abort();
        pp_batch_unref(a);
        pp_batch_unref(b);
    }
    pp_batch_unref(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    for (int sig = PP_TRACES; sig <= PP_METRICS; sig++) {
        pp_status st = {0};
        size_t items;
        bool vouched = pp_wire_check((pp_signal)sig, data, size, &items);
        pp_batch *b = pp_batch_decode((pp_signal)sig, data, size, &st);
        if (vouched && (!b || b->items != items)) abort();
        if (vouched) check_encoded((pp_signal)sig, data, size, items);
        if (!b) continue;
        check(b);
        pp_batch_unref(b);
    }
    return 0;
}
