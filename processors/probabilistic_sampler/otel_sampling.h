/* otel_sampling.h -- consistent probability sampling primitives (OTel spec,
 * "TraceState Handling" / OTEP 235).
 *
 * Randomness R and rejection threshold T are 56-bit numbers; an item is kept
 * when R >= T. T = (1 - p) * 2^56: T = 0 keeps everything (encoded "th:0"),
 * T = 2^56 keeps nothing (has no encoding). In tracestate, OpenTelemetry's
 * entry is `ot=th:<T>;rv:<R>`: th is T in 1..14 hex digits with trailing
 * zeros removed, rv is R in exactly 14 hex digits. Parsing accepts upper
 * case hex as the Collector does (Go's ParseUint); pipit writes lower case. */
#ifndef PIPIT_OTEL_SAMPLING_H
#define PIPIT_OTEL_SAMPLING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OTS_MAX_ADJUSTED ((uint64_t)1 << 56) /* also "never sample" threshold */
#define OTS_MASK56 (OTS_MAX_ADJUSTED - 1)

/* The least significant 56 bits of a 16-byte trace id (W3C level 2 random). */
uint64_t ots_randomness_from_trace_id(const uint8_t id[16]);

/* Threshold for probability p in (0, 1], rounded to prec hex digits of
 * significance (0: all 14), plus one digit per leading 0 or f, as the
 * Collector's pkg/sampling does. Returns -1 when p is out of [2^-56, 1]. */
int ots_threshold_from_probability(double p, int prec, uint64_t *t);
double ots_probability(uint64_t t);

/* th encoding; out needs 15 bytes. */
void ots_format_th(uint64_t t, char out[15]);
/* rv encoding; out needs 15 bytes. */
void ots_format_rv(uint64_t r, char out[15]);

/* The parsed `ot` entry of a W3C tracestate. */
typedef struct ots_state {
    bool has_th, has_rv;
    uint64_t th, rv;
    char rv_text[15]; /* rv as it arrived (case kept), or as ots_set_rv wrote it */
    /* The other `key:value` fields of the ot entry, verbatim ("" if none). */
    char extra[256];
    /* The tracestate without its ot entry, verbatim ("" if none). */
    const char *rest; /* points into a buffer owned by the caller of parse */
} ots_state;

/* Parses a tracestate (NULL or "" is empty). Returns -1 when the ot entry is
 * malformed (bad th or rv, too long); other vendors' entries are kept as they
 * are. rest_buf (cap bytes) receives the other entries. */
int ots_parse_tracestate(const char *ts, ots_state *st, char *rest_buf, size_t cap);

void ots_set_rv(ots_state *st, uint64_t rv);

/* Writes `ot=rv:..;th:..;extra` (the Collector's order) followed by the other entries into out (cap
 * bytes). Returns the length, or -1 if it does not fit. */
int ots_format_tracestate(const ots_state *st, char *out, size_t cap);

/* FNV-1a 32-bit over the 4 little-endian bytes of seed, then data. */
uint32_t ots_fnv1a32_seeded(uint32_t seed, const uint8_t *data, size_t len);

/* The Collector's hash_seed randomness: 56 bits whose top 14 bits are
 * 0x3fff - (hash & 0x3fff), so that R >= T exactly when (hash & 0x3fff) is
 * below the accepted bucket count. */
uint64_t ots_hash_seed_randomness(uint32_t seed, const uint8_t *data, size_t len);

#endif
