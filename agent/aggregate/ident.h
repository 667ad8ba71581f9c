/* ident.h -- canonical byte keys for metric streams and span-metric series.
 *
 * A key is a byte string that encodes typed values (strings, numbers and
 * OTLP attribute lists) unambiguously: every value carries a type tag and
 * strings their length, so two different inputs never encode alike. Keys are
 * compared whole (memcmp) after their 64-bit hash matches, so a hash
 * collision can never merge two streams. Attribute lists can be encoded in
 * their own order (spanmetrics dimensions) or sorted by key (stream identity,
 * where OTLP attribute order carries no meaning), and decoded back into OTLP
 * KeyValues in an arena (so a series needs no other copy of its labels). */
#ifndef PIPIT_AGG_IDENT_H
#define PIPIT_AGG_IDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "otlp.h"
#include "strbuf.h"

void pp_ident_u64(pp_strbuf *k, uint64_t v);
void pp_ident_str(pp_strbuf *k, const char *s); /* NULL encodes as "" */
/* One attribute (key, value) pair; v may be NULL (an empty AnyValue). */
void pp_ident_kv(pp_strbuf *k, const char *key, const pp_any_value *v);
/* A whole attribute list: its length, then each pair, sorted by key when
 * `sorted` (the caller's array is not changed). */
void pp_ident_attrs(pp_strbuf *k, pp_key_value *const *kv, size_t n, bool sorted);

/* The identity of a metric stream: resource attributes, scope name, version
 * and attributes, metric name, unit, type and monotonicity, point attributes
 * (attribute lists in key order), then `extra` (callers' own distinctions).
 * *prefix_len (may be NULL) receives the lengths after the resource, the
 * scope and the metric parts, for grouping keys by their prefixes. */
typedef struct pp_stream_id {
    const pp_resource *resource; /* may be NULL */
    const pp_scope *scope;       /* may be NULL */
    const pp_metric *metric;
    pp_key_value *const *attrs;
    size_t n_attrs;
} pp_stream_id;
void pp_ident_stream(pp_strbuf *k, const pp_stream_id *id, uint64_t extra, size_t prefix_len[3]);

/* FNV-1a 64 of the bytes: stable across runs and machines. */
uint64_t pp_ident_hash(const void *p, size_t n);

/* Decodes a run of pairs written by pp_ident_kv (nothing else between them)
 * into KeyValues allocated in a. Returns the count, or -1 on malformed input
 * or out of memory. */
long pp_ident_decode_kvs(const void *p, size_t n, pp_arena *a, pp_key_value ***out);

#endif
