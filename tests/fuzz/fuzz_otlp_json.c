/* libFuzzer target: the OTLP/JSON decoder, for both signals. Whatever decodes
 * must encode, and the encoding must decode to the same message (compared as
 * packed protobuf bytes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "otlp_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_round_trip(const pp_batch *b) {
    size_t len;
    char *json = pp_otlp_json_encode_request(b, &len);
    if (!json) abort();
    pp_status st = {0};
    pp_batch *again = pp_otlp_json_decode(b->signal, json, len, &st);
    if (!again) abort(); /* our own output must be accepted */
    size_t n1 = pp_batch_encoded_size(b), n2 = pp_batch_encoded_size(again);
    if (n1 != n2 || b->items != again->items) abort();
    uint8_t *p1 = malloc(n1 + 1), *p2 = malloc(n2 + 1);
    if (!p1 || !p2) abort();
    pp_batch_pack(b, p1);
    pp_batch_pack(again, p2);
    if (memcmp(p1, p2, n1) != 0) abort();
    free(p1);
    free(p2);
    free(json);
    pp_batch_unref(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    for (int sig = PP_TRACES; sig <= PP_METRICS; sig++) {
        pp_status st = {0};
        pp_batch *b = pp_otlp_json_decode((pp_signal)sig, (const char *)data, size, &st);
        if (!b) continue;
        check_round_trip(b);
        pp_batch_unref(b);
    }
    return 0;
}
