/* testutil.h -- helpers shared by the unit tests. */
#ifndef PIPIT_TESTUTIL_H
#define PIPIT_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <uv.h>

#include "batch.h"
#include "component.h"

/* A traces request with n_resources x n_scopes x n_spans spans, valid ids
 * (trace id derived from seed), in a new batch (refs = 1). */
pp_batch *tu_make_traces(size_t n_resources, size_t n_scopes, size_t n_spans, uint32_t seed);
/* A metrics request with n_metrics gauges of n_points points each. */
pp_batch *tu_make_metrics(size_t n_metrics, size_t n_points, uint32_t seed);

/* Metric builders (everything in b's arena). A Sum metric with room for 8
 * points (append to m->sum->data_points, bump n_data_points); a number point
 * with a double value and up to two string attributes (keys may be NULL);
 * and the batch: one resource (service.name = svc), one scope, the metrics. */
pp_metric *tu_sum_metric(pp_arena *a, const char *name, int temporality, int monotonic);
pp_number_point *tu_num_point(pp_arena *a, uint64_t start, uint64_t time, double v, const char *k1,
                              const char *v1, const char *k2, const char *v2);
pp_batch *tu_metrics_batch(pp_batch *b, const char *svc, pp_metric **ms, size_t n);

/* ---- a running service with fake ends ---- */

/* Fake receiver "frecv": tu_recv_next[s] is where the last one created feeds. */
extern pp_consumer *tu_recv_next[PP_SIGNAL_COUNT];
/* Fake exporter "fkeep": keeps a reference to every batch it takes (the first
 * TU_KEEP in got[], the latest in last); refuses with UNAVAILABLE while
 * refuse is set. tu_kept is the last one created. */
#define TU_KEEP 16
typedef struct tu_keeper {
    pp_consumer c;
    pp_batch *got[TU_KEEP];
    pp_batch *last;
    int n;
    bool refuse;
} tu_keeper;
extern tu_keeper *tu_kept;

/* A service built from yaml (which may use frecv and fkeep; see
 * testutil_world.h for tu_world_run/stop/free), already started. */
typedef struct tu_world tu_world;
tu_world *tu_keeper_world(const char *yaml);

/* Reads a whole file; caller frees. NULL on error. */
char *tu_read_file(const char *path, size_t *len);

/* ---- protobuf helpers (test_proto_*.c) ---- */

/* Deep comparison driven by the message descriptors: every field, every
 * repeated element, oneof cases, unknown-field counts; floats and doubles are
 * compared by bit pattern. A NULL string equals "" (proto3 cannot tell them
 * apart on the wire). Returns NULL when equal, otherwise a description of the
 * first difference ("Span.links[0].flags: bytes differ"), valid until the next
 * call. */
const char *tu_msg_diff(const ProtobufCMessage *a, const ProtobufCMessage *b);

/* Packs msg, unpacks it into `into` with pp_arena_allocator, asserts the copy
 * equals msg (tu_msg_diff), re-packs the copy and asserts the bytes are
 * identical to the first packing. Returns the unpacked copy; if wire is not
 * NULL, *wire / *wire_len get the packed bytes (allocated in `into`). */
ProtobufCMessage *tu_roundtrip(const ProtobufCMessage *msg, pp_arena *into,
                               const uint8_t **wire, size_t *wire_len);

/* True if needle occurs in the len bytes at hay. */
int tu_mem_contains(const uint8_t *hay, size_t len, const void *needle, size_t nlen);

/* The IEEE-754 bits of a double, and the double with these bits. */
uint64_t tu_dbits(double d);
double tu_bits2d(uint64_t bits);

/* Builders for OTLP common types; everything lives in arena a. */
void *tu_ptrs(pp_arena *a, size_t n); /* an array of n pointers (n may be 0) */
ProtobufCBinaryData tu_bytes(pp_arena *a, const void *data, size_t len);
pp_any_value *tu_any_empty(pp_arena *a);
pp_any_value *tu_any_str(pp_arena *a, const char *s);
pp_any_value *tu_any_bool(pp_arena *a, int v);
pp_any_value *tu_any_int(pp_arena *a, int64_t v);
pp_any_value *tu_any_double(pp_arena *a, double v);
pp_any_value *tu_any_bytes(pp_arena *a, const void *data, size_t len);
pp_any_value *tu_any_array(pp_arena *a, size_t n, pp_any_value **items);
pp_any_value *tu_any_kvlist(pp_arena *a, size_t n, pp_key_value **items);
pp_key_value *tu_kv(pp_arena *a, const char *key, pp_any_value *v);
/* A fixed attribute list exercising many value kinds: strings (empty,
 * multi-byte UTF-8, emoji), bool, INT64_MIN, -0.0, bytes, an empty value, an
 * empty array and a kvlist. Sets *n. */
pp_key_value **tu_attrs(pp_arena *a, size_t *n);
pp_scope *tu_scope(pp_arena *a);
pp_resource *tu_resource(pp_arena *a);
/* One HTTP request with libcurl (method "GET", "HEAD", "POST"; 5 s timeout).
 * Returns the status (0 when the request failed); body and content_type, when
 * not NULL, receive malloc'd copies (content_type "" when absent). */
long tu_http(const char *method, const char *url, char **body, char **content_type);

/* The outcome of tu_http_do: status (0: the request failed), the body and
 * the raw response header block (both malloc'd, NUL-terminated), and how
 * many new connections curl opened for it. Free with tu_http_res_free. */
typedef struct tu_http_res {
    long status;
    char *body;
    size_t len;
    char *headers;
    long connects;
} tu_http_res;

/* One request on curl handle `curl` (a CURL *; NULL: a fresh one), so that
 * several requests can share a connection. hdrs: NULL-terminated "Name: value"
 * strings, or NULL. body NULL sends none; otherwise len bytes (method POST). */
void tu_http_do(void *curl, const char *method, const char *url, const char *const *hdrs,
                const void *body, size_t len, tu_http_res *res);
/* The value of response header name (case ignored) copied into buf, or NULL. */
const char *tu_http_header(const tu_http_res *r, const char *name, char *buf, size_t n);
void tu_http_res_free(tu_http_res *r);

/* in[0..n) deflated in one go (wbits as deflateInit2: 31 gzip, 15 zlib,
 * -15 raw); malloc'd, *out_len bytes. */
uint8_t *tu_zlib_compress(const uint8_t *in, size_t n, int wbits, size_t *out_len);

/* A TCP port on 127.0.0.1 that was free a moment ago. */
uint16_t tu_free_port(void);
/* A socket listening on 127.0.0.1 (port 0: any); *port receives the port. */
int tu_listen(uint16_t *port);

/* ---- components under test (testutil.c) ---- */

#include "component.h"

/* A consumer that counts what it is given; may keep references. Thread-safe. */
typedef struct tu_span_sink {
    pp_consumer c;
    void *mu; /* pthread_mutex_t, allocated by tu_span_sink_init */
    size_t batches, spans;
    bool keep;        /* keep a reference to every batch (freed by tu_span_sink_free) */
    pp_batch **kept;
    size_t nkept, cap;
} tu_span_sink;
void tu_span_sink_init(tu_span_sink *s, bool keep);
void tu_span_sink_free(tu_span_sink *s);

/* A component created from its YAML config (the text of its map, e.g.
 * "sampling_percentage: 10\n"), with the config decoded by its schema. */
typedef struct tu_comp {
    const pp_factory *f;
    void *cfg;
    pp_node *node;
    void *inst;
} tu_comp;
/* Returns 0, or -1 with the problems printed (config errors or create failure). */
int tu_comp_create(tu_comp *tc, pp_kind kind, const char *type, const char *yaml, pp_host *h,
                   pp_signal sig, pp_consumer *next);
void tu_comp_destroy(tu_comp *tc);
/* Decodes and validates only: returns the number of errors; d receives them. */
size_t tu_comp_check(pp_kind kind, const char *type, const char *yaml, pp_diag *d);

/* Deterministic 64-bit PRNG (splitmix64). */
uint64_t tu_rand(uint64_t *state);

/* CLOCK_MONOTONIC in nanoseconds, and a sleep of ms milliseconds. */
int64_t tu_mono_ns(void);
void tu_sleep_ms(int ms);

/* Gives every span of the traces batch b one more attribute "pad", a string
 * of lo..hi bytes (uniform, drawn from *rng), allocated in b's arena. */
void tu_fatten_spans(pp_batch *b, size_t lo, size_t hi, uint64_t *rng);

#endif
