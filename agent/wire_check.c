/* wire_check.c -- see wire_check.h.
 *
 * The schema comes from protobuf-c's descriptors, flattened once into tables
 * indexed by field number (OTLP's field numbers are small), so the walk costs
 * a table lookup per field instead of protobuf-c's range search, and nothing
 * is allocated per request. The walk is iterative with an explicit stack
 * (no recursion on attacker-chosen nesting). */
#include "wire_check.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 256 /* as pp_batch_decode */
#define MAX_FIELD 536870911u /* 2^29 - 1, the largest field number */
#define MAX_MSGS 64   /* message types reachable from the two requests (about 30) */

enum kind { K_UNKNOWN, K_VARINT, K_FIXED64, K_FIXED32, K_BYTES, K_MESSAGE };
enum role { R_PLAIN, R_SPAN, R_LINK, R_METRIC, R_POINT };

/* Id rules, checked on the last occurrence of each id field (protobuf's
 * "last one wins"). A span needs S_TRACE and S_SPAN set and S_BAD_PARENT
 * clear at its end; a link needs S_TRACE and S_SPAN. */
enum id_rule { ID_NONE, ID_TRACE, ID_SPAN, ID_PARENT };
#define S_TRACE 1u
#define S_SPAN 2u
#define S_BAD_PARENT 4u

typedef struct wfield {
    uint8_t kind;
    uint8_t packable;    /* repeated number: a length-delimited run is accepted */
    uint8_t is_bool;     /* packed bools must be 0 or 1 (protobuf-c refuses others) */
    uint8_t id;          /* enum id_rule */
    uint8_t data_member; /* a member of Metric's `data` oneof */
    uint8_t singular;    /* K_MESSAGE, not repeated: a second occurrence means a merge */
    uint8_t counted;     /* K_MESSAGE of a span or data point: one item */
    uint8_t wire_ok;     /* bit n set: wire type n is accepted */
    uint8_t child;       /* K_MESSAGE: index in msgs[] */
} wfield;

typedef struct wmsg {
    const ProtobufCMessageDescriptor *desc;
    uint8_t role;
    uint32_t nfields; /* f[] is indexed by field number, 0 .. nfields-1 */
    wfield *f;
} wmsg;

static wmsg msgs[MAX_MSGS];
static unsigned nmsgs;
static unsigned request_index[PP_SIGNAL_COUNT];
static bool tables_ok;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static int msg_index(const ProtobufCMessageDescriptor *d);

static uint8_t role_of(const ProtobufCMessageDescriptor *d) {
    if (d == &opentelemetry__proto__trace__v1__span__descriptor) return R_SPAN;
    if (d == &opentelemetry__proto__trace__v1__span__link__descriptor) return R_LINK;
    if (d == &opentelemetry__proto__metrics__v1__metric__descriptor) return R_METRIC;
    if (d == &opentelemetry__proto__metrics__v1__number_data_point__descriptor ||
        d == &opentelemetry__proto__metrics__v1__histogram_data_point__descriptor ||
        d == &opentelemetry__proto__metrics__v1__exponential_histogram_data_point__descriptor ||
        d == &opentelemetry__proto__metrics__v1__summary_data_point__descriptor)
        return R_POINT;
    return R_PLAIN;
}

static uint8_t id_rule(uint8_t role, const char *name) {
    if (role != R_SPAN && role != R_LINK) return ID_NONE;
    if (!strcmp(name, "trace_id")) return ID_TRACE;
    if (!strcmp(name, "span_id")) return ID_SPAN;
    if (role == R_SPAN && !strcmp(name, "parent_span_id")) return ID_PARENT;
    return ID_NONE;
}

static bool fill_field(wmsg *m, const ProtobufCFieldDescriptor *fd) {
    wfield *w = &m->f[fd->id];
    w->is_bool = fd->type == PROTOBUF_C_TYPE_BOOL;
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_ENUM:
    case PROTOBUF_C_TYPE_BOOL: w->kind = K_VARINT; break;
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE: w->kind = K_FIXED64; break;
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT: w->kind = K_FIXED32; break;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES: w->kind = K_BYTES; break;
    case PROTOBUF_C_TYPE_MESSAGE: {
        int c = msg_index(fd->descriptor);
        if (c < 0) return false;
        w->kind = K_MESSAGE;
        w->child = (uint8_t)c;
        break;
    }
    default: return false;
    }
    w->packable = fd->label == PROTOBUF_C_LABEL_REPEATED && w->kind != K_BYTES &&
                  w->kind != K_MESSAGE;
    w->id = w->kind == K_BYTES ? id_rule(m->role, fd->name) : ID_NONE;
    w->singular = w->kind == K_MESSAGE && fd->label != PROTOBUF_C_LABEL_REPEATED;
    if (w->singular && fd->id >= 64) return false; /* frame.seen has 64 bits */
    w->counted = w->kind == K_MESSAGE &&
                 (msgs[w->child].role == R_SPAN || msgs[w->child].role == R_POINT);
    static const uint8_t wire_of[] = {[K_VARINT] = 1u << 0, [K_FIXED64] = 1u << 1,
                                      [K_FIXED32] = 1u << 5, [K_BYTES] = 1u << 2,
                                      [K_MESSAGE] = 1u << 2};
    w->wire_ok = (uint8_t)(wire_of[w->kind] | (w->packable ? 1u << 2 : 0));
    w->data_member = m->role == R_METRIC && w->kind == K_MESSAGE &&
                     (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF);
    return true;
}

/* The table index of d, building its table (and its children's) first. */
static int msg_index(const ProtobufCMessageDescriptor *d) {
    for (unsigned i = 0; i < nmsgs; i++)
        if (msgs[i].desc == d) return (int)i;
    if (nmsgs == MAX_MSGS) return -1;
    unsigned idx = nmsgs++;
    wmsg *m = &msgs[idx];
    m->desc = d;
    m->role = role_of(d);
    for (unsigned i = 0; i < d->n_fields; i++)
        if (d->fields[i].id + 1 > m->nfields) m->nfields = d->fields[i].id + 1;
    if (m->nfields > 4096 || !(m->f = calloc(m->nfields, sizeof(wfield)))) return -1;
    for (unsigned i = 0; i < d->n_fields; i++)
        if (!fill_field(&msgs[idx], &d->fields[i])) return -1;
    return (int)idx;
}

static void build_tables(void) {
    int t = msg_index(&PP_TRACES_REQ_DESC), m = msg_index(&PP_METRICS_REQ_DESC);
    if (t < 0 || m < 0) return; /* tables_ok stays false: every request is decoded */
    request_index[PP_TRACES] = (unsigned)t;
    request_index[PP_METRICS] = (unsigned)m;
    tables_ok = true;
}

/* A varint of at most max bytes (protobuf-c's limits: 5 for tags and
 * lengths, 10 for values). Returns its length, 0 when unterminated. */
static inline unsigned varint(const uint8_t *p, const uint8_t *end, unsigned max, uint64_t *v) {
    uint64_t x = 0;
    unsigned n = (size_t)(end - p) < max ? (unsigned)(end - p) : max;
    for (unsigned i = 0; i < n; i++) {
        x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = x;
            return i + 1;
        }
    }
    return 0;
}

bool pp_wire_next_field(const uint8_t **pp, const uint8_t *end, pp_wire_field *f) {
    const uint8_t *p = *pp;
    uint64_t tag, v;
    unsigned k = varint(p, end, 5, &tag);
    if (!k) return false;
    p += k;
    f->num = tag >> 3;
    f->wire = (unsigned)(tag & 7);
    f->body = NULL;
    f->len = 0;
    switch (f->wire) {
    case 0:
        if (!(k = varint(p, end, 10, &v))) return false;
        p += k;
        break;
    case 1:
    case 5: {
        size_t n = f->wire == 1 ? 8 : 4;
        if ((size_t)(end - p) < n) return false;
        p += n;
        break;
    }
    case 2:
        if (!(k = varint(p, end, 5, &v)) || v > (uint64_t)(end - p - k)) return false;
        f->body = p + k;
        f->len = (size_t)v;
        p += k + v;
        break;
    default: return false;
    }
    *pp = p;
    return true;
}

/* A length-delimited run of packed numbers of the field's kind. */
static bool packed_ok(const wfield *w, const uint8_t *p, size_t n) {
    if (w->kind == K_FIXED64) return n % 8 == 0;
    if (w->kind == K_FIXED32) return n % 4 == 0;
    const uint8_t *end = p + n;
    if (w->is_bool) {
        for (; p < end; p++)
            if (*p > 1) return false;
        return true;
    }
    while (p < end) {
        uint64_t v;
        unsigned k = varint(p, end, 10, &v);
        if (!k) return false;
        p += k;
    }
    return true;
}

static bool nonzero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return true;
    return false;
}

/* Records one occurrence of an id field in the span's or link's state. */
static void note_id(uint8_t rule, uint8_t role, const uint8_t *p, size_t n, uint8_t *state) {
    bool span = role == R_SPAN;
    switch (rule) {
    case ID_TRACE:
        if (n == 16 && (!span || nonzero(p, 16))) *state |= S_TRACE;
        else *state &= (uint8_t)~S_TRACE;
        break;
    case ID_SPAN:
        if (n == 8 && (!span || nonzero(p, 8))) *state |= S_SPAN;
        else *state &= (uint8_t)~S_SPAN;
        break;
    case ID_PARENT:
        if (n == 0 || n == 8) *state &= (uint8_t)~S_BAD_PARENT;
        else *state |= S_BAD_PARENT;
        break;
    default: break;
    }
}

typedef struct frame {
    const uint8_t *end;
    uint8_t msg;    /* index in msgs[] */
    uint8_t state;  /* S_* bits (spans, links) */
    uint32_t member; /* Metric: field number of its data member, 0 = none yet */
    uint64_t seen;   /* singular message fields met so far, by field number */
} frame;

static bool frame_done(const frame *f) {
    switch (msgs[f->msg].role) {
    case R_SPAN: return (f->state & (S_TRACE | S_SPAN | S_BAD_PARENT)) == (S_TRACE | S_SPAN);
    case R_LINK: return (f->state & (S_TRACE | S_SPAN)) == (S_TRACE | S_SPAN);
    default: return true;
    }
}

bool pp_wire_check(pp_signal sig, const uint8_t *p, size_t len, size_t *items) {
    pthread_once(&tables_once, build_tables);
    if (!tables_ok || (sig != PP_TRACES && sig != PP_METRICS) || (len && !p)) return false;
    frame stack[MAX_DEPTH];
    int top = 0;
    size_t count = 0;
    stack[0] = (frame){.end = p + len, .msg = (uint8_t)request_index[sig]};
    for (;;) {
        while (p == stack[top].end) {
            if (!frame_done(&stack[top])) return false;
            if (top == 0) {
                *items = count;
                return true;
            }
            top--;
        }
        frame *fr = &stack[top];
        const uint8_t *end = fr->end;
        uint64_t tag, v;
        unsigned k;
        if (*p < 0x80) { /* one-byte tags: every field OTLP defines */
            tag = *p++;
        } else {
            if (!(k = varint(p, end, 5, &tag))) return false;
            p += k;
        }
        uint64_t num = tag >> 3;
        unsigned wt = (unsigned)(tag & 7);
        if (num == 0 || num > MAX_FIELD) return false;
        const wmsg *m = &msgs[fr->msg];
        static const wfield unknown = {.kind = K_UNKNOWN, .wire_ok = 0x27}; /* 0, 1, 2, 5 */
        const wfield *w = num < m->nfields && m->f[num].kind ? &m->f[num] : &unknown;
        if (!((w->wire_ok >> wt) & 1)) return false; /* also refuses groups, 6 and 7 */
        switch (wt) {
        case 0: { /* skip a value of at most 10 bytes */
            const uint8_t *lim = end - p < 10 ? end : p + 10;
            while (p < lim && (*p & 0x80)) p++;
            if (p == lim) return false;
            p++;
            break;
        }
        case 1:
            if (end - p < 8) return false;
            p += 8;
            break;
        case 5:
            if (end - p < 4) return false;
            p += 4;
            break;
        default: { /* 2: length-delimited */
            if (p < end && *p < 0x80) {
                v = *p++;
            } else {
                if (!(k = varint(p, end, 5, &v))) return false;
                p += k;
            }
            if (v > (uint64_t)(end - p)) return false;
            const uint8_t *body = p;
            p += v;
            if (w->kind == K_MESSAGE) {
                /* A singular message sent twice is merged by protobuf's
                 * rules; protobuf-c gets some merges wrong (two AnyValues
                 * with no value set make it fail): decoding decides. */
                if (w->singular) {
                    if (fr->seen & (1ull << num)) return false;
                    fr->seen |= 1ull << num;
                }
                if (w->data_member) {
                    /* Two members: protobuf-c keeps the last: decoding decides. */
                    if (fr->member) return false;
                    fr->member = (uint32_t)num;
                }
                if (top + 1 >= MAX_DEPTH) return false;
                count += w->counted;
                stack[++top] = (frame){.end = p, .msg = w->child};
                p = body;
            } else if (w->kind == K_BYTES) {
                if (w->id) note_id(w->id, m->role, body, v, &fr->state);
            } else if (w->kind != K_UNKNOWN) {
                if (!packed_ok(w, body, v)) return false;
            }
            break;
        }
        }
    }
}
