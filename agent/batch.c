/* batch.c -- decoding, reference counting and sizing of batches; see batch.h. */
#include "batch.h"

#include <stdlib.h>
#include <string.h>

#include "wire_check.h"

/* Deeper than any sane OTLP message (the JSON decoder allows 64 nested
 * AnyValues, about 140 message levels). */
#define MAX_DEPTH 256

const char *pp_signal_name(pp_signal s) {
    switch (s) {
    case PP_TRACES: return "traces";
    case PP_METRICS: return "metrics";
    case PP_SIGNAL_COUNT: break;
    }
    return "unknown";
}

int pp_signal_parse(const char *s, pp_signal *out) {
    if (strcmp(s, "traces") == 0) *out = PP_TRACES;
    else if (strcmp(s, "metrics") == 0) *out = PP_METRICS;
    else return -1;
    return 0;
}

static const ProtobufCMessageDescriptor *request_desc(pp_signal sig) {
    return sig == PP_TRACES ? &PP_TRACES_REQ_DESC : &PP_METRICS_REQ_DESC;
}

static bool all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

/* The ids OTLP requires: trace ids of 16 bytes, span ids of 8, neither all
 * zero; a parent span id is empty (root) or 8 bytes. */
static int validate_traces(const pp_traces_req *r, pp_status *st) {
    for (size_t i = 0; i < r->n_resource_spans; i++) {
        const pp_resource_spans *rs = r->resource_spans[i];
        for (size_t j = 0; j < rs->n_scope_spans; j++) {
            const pp_scope_spans *ss = rs->scope_spans[j];
            for (size_t k = 0; k < ss->n_spans; k++) {
                const pp_span *sp = ss->spans[k];
                if (sp->trace_id.len != 16 || all_zero(sp->trace_id.data, 16))
                    return pp_fail(st, PP_INVALID,
                                   "resource_spans[%zu].scope_spans[%zu].spans[%zu].trace_id: "
                                   "must be 16 bytes, not all zero (got %zu bytes)",
                                   i, j, k, sp->trace_id.len);
                if (sp->span_id.len != 8 || all_zero(sp->span_id.data, 8))
                    return pp_fail(st, PP_INVALID,
                                   "resource_spans[%zu].scope_spans[%zu].spans[%zu].span_id: "
                                   "must be 8 bytes, not all zero (got %zu bytes)",
                                   i, j, k, sp->span_id.len);
                if (sp->parent_span_id.len != 0 && sp->parent_span_id.len != 8)
                    return pp_fail(st, PP_INVALID,
                                   "resource_spans[%zu].scope_spans[%zu].spans[%zu].parent_span_id: "
                                   "must be empty or 8 bytes (got %zu bytes)",
                                   i, j, k, sp->parent_span_id.len);
                for (size_t l = 0; l < sp->n_links; l++) {
                    const pp_span_link *ln = sp->links[l];
                    if (ln->trace_id.len != 16 || ln->span_id.len != 8)
                        return pp_fail(st, PP_INVALID,
                                       "resource_spans[%zu].scope_spans[%zu].spans[%zu].links[%zu]: "
                                       "trace_id must be 16 bytes and span_id 8 bytes",
                                       i, j, k, l);
                }
            }
        }
    }
    return 0;
}

/* protobuf-c keeps an unknown field whose tag has field number 0 when the tag
 * is written in more than one byte, then writes it back in one byte, which it
 * and every other decoder refuse: such a request would be accepted and never
 * be deliverable. Field number 0 is invalid protobuf, so it is refused here.
 * Found by tests/fuzz/fuzz_otlp_protobuf.c. */
static bool has_field_zero(const ProtobufCMessage *m, int depth) {
    if (depth > MAX_DEPTH) return true; /* check_depth refused these already */
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0) return true;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned f = 0; f < d->n_fields; f++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[f];
        if (fd->type != PROTOBUF_C_TYPE_MESSAGE) continue;
        const char *member = (const char *)m + fd->offset;
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(const void *)((const char *)m + fd->quantifier_offset);
            ProtobufCMessage *const *items = *(ProtobufCMessage *const *const *)(const void *)member;
            for (size_t k = 0; k < n; k++)
                if (has_field_zero(items[k], depth + 1)) return true;
            continue;
        }
        if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(const void *)((const char *)m + fd->quantifier_offset) != fd->id)
            continue;
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)(const void *)member;
        if (sub && has_field_zero(sub, depth + 1)) return true;
    }
    return false;
}

int pp_batch_validate(const pp_batch *b, pp_status *st) {
    if (has_field_zero(b->msg, 0))
        return pp_fail(st, PP_INVALID, "malformed protobuf: a field with number 0");
    return b->signal == PP_TRACES ? validate_traces(b->traces, st) : 0;
}

/* protobuf-c unpacks nested messages recursively with no depth limit: a
 * request of a few MiB nesting ArrayValues 300 000 deep overflows the stack.
 * This walks the encoding iteratively, entering only message-typed fields of
 * the schema, and refuses nesting deeper than MAX_DEPTH before protobuf-c
 * sees it. Malformed encodings are left for protobuf-c to report. */
static int check_depth(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len,
                       pp_status *st) {
    struct level {
        const uint8_t *end;
        const ProtobufCMessageDescriptor *desc;
    } stack[MAX_DEPTH];
    int top = 0;
    stack[0].end = p + len;
    stack[0].desc = desc;
    for (;;) {
        while (p == stack[top].end) {
            if (top == 0) return 0;
            top--;
        }
        pp_wire_field f;
        if (!pp_wire_next_field(&p, stack[top].end, &f)) return 0;
        if (f.wire != 2 || f.num > UINT32_MAX) continue;
        const ProtobufCFieldDescriptor *fd =
            protobuf_c_message_descriptor_get_field(stack[top].desc, (unsigned)f.num);
        if (!fd || fd->type != PROTOBUF_C_TYPE_MESSAGE) continue;
        if (top + 1 >= MAX_DEPTH)
            return pp_fail(st, PP_INVALID, "malformed protobuf: messages nested deeper than %d levels",
                           MAX_DEPTH);
        top++;
        stack[top].end = f.body + f.len;
        stack[top].desc = fd->descriptor;
        p = f.body;
    }
}

pp_batch *pp_batch_decode(pp_signal sig, const uint8_t *buf, size_t len, pp_status *st) {
    if (check_depth(request_desc(sig), buf, len, st) != 0) return NULL;
    /* Decoded OTLP takes roughly 2-4x its encoded size in memory. */
    pp_arena *arena = pp_arena_new(len * 3 + 1024);
    pp_batch *b = calloc(1, sizeof(*b));
    if (!arena || !b) {
        pp_arena_destroy(arena);
        free(b);
        pp_fail(st, PP_UNAVAILABLE, "out of memory decoding %zu bytes", len);
        return NULL;
    }
    atomic_init(&b->refs, 1);
    b->signal = sig;
    b->arena = arena;
    b->msg = protobuf_c_message_unpack(request_desc(sig), pp_arena_allocator(arena), len, buf);
    if (!b->msg) {
        pp_fail(st, PP_INVALID, "malformed protobuf: not a valid %s (%zu bytes)",
                sig == PP_TRACES ? "ExportTraceServiceRequest" : "ExportMetricsServiceRequest",
                len);
        pp_batch_unref(b);
        return NULL;
    }
    if (pp_batch_validate(b, st) != 0) {
        pp_batch_unref(b);
        return NULL;
    }
    pp_batch_recount(b);
    return b;
}

pp_batch *pp_batch_new(pp_signal sig, size_t arena_hint) {
    pp_batch *b = calloc(1, sizeof(*b));
    pp_arena *arena = pp_arena_new(arena_hint);
    if (!b || !arena) goto oom;
    atomic_init(&b->refs, 1);
    b->signal = sig;
    b->arena = arena;
    if (sig == PP_TRACES) {
        pp_traces_req *r = pp_arena_alloc(arena, sizeof(*r));
        if (!r) goto oom;
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(r);
        b->traces = r;
    } else {
        pp_metrics_req *r = pp_arena_alloc(arena, sizeof(*r));
        if (!r) goto oom;
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init(r);
        b->metrics = r;
    }
    return b;
oom:
    pp_arena_destroy(arena);
    free(b);
    return NULL;
}

pp_batch *pp_batch_wrap_encoded(pp_signal sig, const uint8_t *buf, size_t len) {
    size_t items;
    if (!pp_wire_check(sig, buf, len, &items)) return NULL;
    pp_batch *b = calloc(1, sizeof(*b));
    uint8_t *copy = malloc(len ? len : 1);
    if (!b || !copy) {
        free(b);
        free(copy);
        return NULL;
    }
    if (len) memcpy(copy, buf, len);
    atomic_init(&b->refs, 1);
    b->signal = sig;
    b->encoded = true;
    b->enc = copy;
    b->enc_len = len;
    b->items = items;
    return b;
}

pp_batch *pp_batch_concat(pp_batch *const *parts, size_t n) {
    pp_batch *b = calloc(1, sizeof(*b));
    if (!b || !(b->parts = malloc((n ? n : 1) * sizeof(*b->parts)))) {
        free(b);
        return NULL;
    }
    atomic_init(&b->refs, 1);
    b->signal = n ? parts[0]->signal : PP_TRACES;
    b->encoded = true;
    for (size_t i = 0; i < n; i++) {
        b->parts[b->nparts++] = pp_batch_ref(parts[i]);
        b->items += parts[i]->items;
    }
    return b;
}

pp_batch *pp_batch_as_encoded(pp_batch *b) {
    if (b->encoded) return pp_batch_ref(b);
    pp_batch *e = calloc(1, sizeof(*e));
    size_t n = pp_batch_encoded_size(b);
    uint8_t *buf = malloc(n ? n : 1);
    if (!e || !buf) {
        free(e);
        free(buf);
        return NULL;
    }
    pp_batch_pack(b, buf);
    atomic_init(&e->refs, 1);
    e->signal = b->signal;
    e->encoded = true;
    e->enc = buf;
    e->enc_len = n;
    e->items = b->items;
    return e;
}

pp_batch *pp_batch_decoded(pp_batch *b, pp_status *st) {
    if (!b->encoded) return pp_batch_ref(b);
    if (b->enc) return pp_batch_decode(b->signal, b->enc, b->enc_len, st);
    size_t n = pp_batch_encoded_size(b);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        pp_fail(st, PP_UNAVAILABLE, "out of memory decoding %zu bytes", n);
        return NULL;
    }
    pp_batch_pack(b, buf);
    pp_batch *d = pp_batch_decode(b->signal, buf, n, st);
    free(buf);
    return d;
}

pp_batch *pp_batch_ref(pp_batch *b) {
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void pp_batch_unref(pp_batch *b) {
    if (!b) return;
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1) return;
    for (size_t i = 0; i < b->nparts; i++) pp_batch_unref(b->parts[i]);
    free(b->parts);
    free(b->enc);
    pp_arena_destroy(b->arena);
    free(b);
}

bool pp_batch_is_exclusive(const pp_batch *b) {
    return atomic_load_explicit(&b->refs, memory_order_acquire) == 1 && b->nparts == 0 &&
           !b->encoded;
}

int pp_batch_borrow(pp_batch *b, pp_batch *part) {
    pp_batch **parts = realloc(b->parts, (b->nparts + 1) * sizeof(*parts));
    if (!parts) return -1;
    b->parts = parts;
    b->parts[b->nparts++] = pp_batch_ref(part);
    return 0;
}

size_t pp_traces_count(const pp_traces_req *r) {
    size_t n = 0;
    for (size_t i = 0; i < r->n_resource_spans; i++) {
        const pp_resource_spans *rs = r->resource_spans[i];
        for (size_t j = 0; j < rs->n_scope_spans; j++) n += rs->scope_spans[j]->n_spans;
    }
    return n;
}

static size_t metric_points(const pp_metric *m) {
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE: return m->gauge->n_data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM: return m->sum->n_data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        return m->histogram->n_data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        return m->exponential_histogram->n_data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY: return m->summary->n_data_points;
    default: return 0;
    }
}

size_t pp_metrics_count(const pp_metrics_req *r) {
    size_t n = 0;
    for (size_t i = 0; i < r->n_resource_metrics; i++) {
        const pp_resource_metrics *rm = r->resource_metrics[i];
        for (size_t j = 0; j < rm->n_scope_metrics; j++) {
            const pp_scope_metrics *sm = rm->scope_metrics[j];
            for (size_t k = 0; k < sm->n_metrics; k++) n += metric_points(sm->metrics[k]);
        }
    }
    return n;
}

/* Top-level fields 1 (resource_spans / resource_metrics) of a request that
 * pp_wire_check accepted. */
static size_t count_resources(const uint8_t *p, size_t len) {
    const uint8_t *end = p + len;
    size_t n = 0;
    pp_wire_field f;
    while (p < end && pp_wire_next_field(&p, end, &f)) n += f.num == 1 && f.wire == 2;
    return n;
}

size_t pp_batch_resources(const pp_batch *b) {
    if (!b->encoded)
        return b->signal == PP_TRACES ? b->traces->n_resource_spans : b->metrics->n_resource_metrics;
    if (b->enc) return count_resources(b->enc, b->enc_len);
    size_t n = 0;
    for (size_t i = 0; i < b->nparts; i++) n += pp_batch_resources(b->parts[i]);
    return n;
}

void pp_batch_recount(pp_batch *b) {
    if (b->encoded) return; /* counted by pp_wire_check or from the parts */
    b->items = b->signal == PP_TRACES ? pp_traces_count(b->traces) : pp_metrics_count(b->metrics);
}

size_t pp_batch_encoded_size(const pp_batch *b) {
    if (!b->encoded) return protobuf_c_message_get_packed_size(b->msg);
    if (b->enc) return b->enc_len;
    size_t n = 0;
    for (size_t i = 0; i < b->nparts; i++) n += pp_batch_encoded_size(b->parts[i]);
    return n;
}

size_t pp_batch_pack(const pp_batch *b, uint8_t *out) {
    if (!b->encoded) return protobuf_c_message_pack(b->msg, out);
    if (b->enc) {
        if (b->enc_len) memcpy(out, b->enc, b->enc_len);
        return b->enc_len;
    }
    size_t n = 0;
    for (size_t i = 0; i < b->nparts; i++) n += pp_batch_pack(b->parts[i], out + n);
    return n;
}
