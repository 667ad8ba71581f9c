/* delta2cum.c -- the per-stream state of delta-to-cumulative (delta2cum.h). */
#include "delta2cum.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "agg_clock.h"
#include "exphist.h"
#include "ident.h"
#include "keymap.h"

#define NSHARDS 16
#define EXP_MAX_BUCKETS 160
#define NO_RECORDED_VALUE 1u /* DataPointFlags */

typedef enum { K_SUM_INT, K_SUM_DOUBLE, K_HIST, K_EXP } stream_kind;

typedef struct stream {
    int64_t touched_ns; /* agent time of the last update (for max_stale) */
    uint64_t start, last;
    stream_kind kind;
    union { int64_t i; double d; } value;
    /* histograms */
    uint64_t count;
    double sum, min, max;
    bool has_sum, has_min, has_max;
    size_t nbounds;
    double *bounds;
    uint64_t *buckets; /* nbounds + 1 */
    /* exponential */
    int32_t scale;
    uint64_t zero_count;
    double zero_threshold;
    pp_exph_range pos, neg;
} stream;

typedef struct shard {
    pthread_mutex_t lock;
    pp_keymap *map;
    int64_t last_sweep_ns;
} shard;

struct pp_d2c {
    pp_d2c_options opt;
    atomic_size_t count;
    shard shards[NSHARDS];
};

static void stream_fini(void *v) {
    stream *s = v;
    free(s->bounds);
    free(s->buckets);
    pp_exph_range_free(&s->pos);
    pp_exph_range_free(&s->neg);
}

pp_d2c *pp_d2c_new(const pp_d2c_options *o) {
    pp_d2c *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->opt = *o;
    for (int i = 0; i < NSHARDS; i++) {
        pthread_mutex_init(&s->shards[i].lock, NULL);
        s->shards[i].map = pp_keymap_new(sizeof(stream));
        if (!s->shards[i].map) {
            pp_d2c_free(s);
            return NULL;
        }
    }
    return s;
}

void pp_d2c_free(pp_d2c *s) {
    if (!s) return;
    for (int i = 0; i < NSHARDS; i++) {
        pp_keymap_free(s->shards[i].map, stream_fini);
        pthread_mutex_destroy(&s->shards[i].lock);
    }
    free(s);
}

size_t pp_d2c_stream_count(pp_d2c *s) { return atomic_load(&s->count); }

typedef struct sweep_arg { int64_t cutoff; size_t removed; } sweep_arg;

static bool is_stale(void *v, void *arg) {
    sweep_arg *a = arg;
    if (((stream *)v)->touched_ns > a->cutoff) return false;
    a->removed++;
    return true;
}

/* Caller holds the shard's lock. */
static size_t sweep_shard(pp_d2c *s, shard *sh, int64_t now) {
    sh->last_sweep_ns = now;
    if (s->opt.max_stale_ns <= 0) return 0;
    sweep_arg a = {now - s->opt.max_stale_ns, 0};
    pp_keymap_sweep(sh->map, is_stale, &a, stream_fini);
    atomic_fetch_sub(&s->count, a.removed);
    return a.removed;
}

size_t pp_d2c_expire(pp_d2c *s) {
    size_t n = 0;
    int64_t now = pp_agg_now_ns();
    for (int i = 0; i < NSHARDS; i++) {
        pthread_mutex_lock(&s->shards[i].lock);
        n += sweep_shard(s, &s->shards[i], now);
        pthread_mutex_unlock(&s->shards[i].lock);
    }
    return n;
}

typedef struct locked { shard *sh; stream *st; bool created; } locked;

/* Finds or creates the stream; returns with the shard locked (unless the
 * result is not OK: then nothing is locked). */
static pp_d2c_result lookup(pp_d2c *s, const pp_d2c_stream *id, int number_case, locked *out,
                            pp_d2c_stats *stats) {
    pp_strbuf k = PP_STRBUF_INIT;
    pp_ident_stream(&k, id, (uint64_t)number_case, NULL);
    if (k.oom) {
        pp_sb_free(&k);
        return PP_D2C_ERROR;
    }
    uint64_t h = pp_ident_hash(k.p, k.len);
    shard *sh = &s->shards[h % NSHARDS];
    int64_t now = pp_agg_now_ns();
    pthread_mutex_lock(&sh->lock);
    int64_t every = s->opt.max_stale_ns / 2 > 1000000000LL ? s->opt.max_stale_ns / 2 : 1000000000LL;
    if (now - sh->last_sweep_ns >= every) sweep_shard(s, sh, now);
    stream *st = pp_keymap_find(sh->map, k.p, k.len, h);
    out->created = false;
    if (!st) {
        if (s->opt.max_streams && atomic_load(&s->count) >= s->opt.max_streams) {
            pthread_mutex_unlock(&sh->lock);
            pp_sb_free(&k);
            stats->limited++;
            return PP_D2C_PASS;
        }
        st = pp_keymap_insert(sh->map, k.p, k.len, h);
        if (!st) {
            pthread_mutex_unlock(&sh->lock);
            pp_sb_free(&k);
            return PP_D2C_ERROR;
        }
        atomic_fetch_add(&s->count, 1);
        out->created = true;
    }
    pp_sb_free(&k);
    st->touched_ns = now;
    out->sh = sh;
    out->st = st;
    return PP_D2C_CONVERTED;
}

/* Older than what the stream already holds? Then adding would double count. */
static bool out_of_order(const stream *st, uint64_t start, uint64_t time) {
    return time <= st->last || (start != 0 && start < st->start);
}

static void begin(stream *st, uint64_t start, uint64_t time) {
    st->start = start ? start : time;
    st->last = time;
}

pp_d2c_result pp_d2c_sum(pp_d2c *s, const pp_d2c_stream *id, const pp_number_point *in,
                         pp_number_point *out, pp_arena *a, pp_d2c_stats *stats) {
    (void)a;
    bool is_int = in->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
    locked l;
    pp_d2c_result r = lookup(s, id, is_int ? 1 : 2, &l, stats);
    if (r != PP_D2C_CONVERTED) return r;
    stream *st = l.st;
    bool skip = (in->flags & NO_RECORDED_VALUE) != 0;
    if (l.created) {
        begin(st, in->start_time_unix_nano, in->time_unix_nano);
        st->kind = is_int ? K_SUM_INT : K_SUM_DOUBLE;
        if (!skip) {
            if (is_int) st->value.i = in->as_int;
            else st->value.d = in->as_double;
        }
    } else if (out_of_order(st, in->start_time_unix_nano, in->time_unix_nano)) {
        pthread_mutex_unlock(&l.sh->lock);
        stats->out_of_order++;
        return PP_D2C_DROP;
    } else {
        st->last = in->time_unix_nano;
        if (!skip) {
            /* Wrap like the counter it models rather than trap on overflow. */
            if (is_int) st->value.i = (int64_t)((uint64_t)st->value.i + (uint64_t)in->as_int);
            else st->value.d += in->as_double;
        }
    }
    *out = *in;
    out->start_time_unix_nano = st->start;
    if (is_int) out->as_int = st->value.i;
    else out->as_double = st->value.d;
    pthread_mutex_unlock(&l.sh->lock);
    stats->converted++;
    return PP_D2C_CONVERTED;
}

static bool same_bounds(const stream *st, const pp_histogram_point *in) {
    if (st->nbounds != in->n_explicit_bounds) return false;
    for (size_t i = 0; i < st->nbounds; i++)
        if (memcmp(&st->bounds[i], &in->explicit_bounds[i], sizeof(double)) != 0) return false;
    return true;
}

/* proto3 optional sum/min/max are one-field oneofs in protobuf-c. */
#define HAS(p, f) ((p)->f##_present_case != 0)

/* Copies min/max/sum presence and values from a first point. */
#define TAKE_STATS(st, in)                                                   \
    do {                                                                     \
        (st)->count = (in)->count;                                           \
        (st)->has_sum = HAS(in, sum), (st)->sum = (in)->sum;                 \
        (st)->has_min = HAS(in, min), (st)->min = (in)->min;                 \
        (st)->has_max = HAS(in, max), (st)->max = (in)->max;                 \
    } while (0)

/* Adds a later point's count, sum, min and max. */
#define ADD_STATS(st, in)                                                                    \
    do {                                                                                     \
        (st)->count += (in)->count;                                                          \
        (st)->has_sum = (st)->has_sum && HAS(in, sum);                                       \
        (st)->sum += (in)->sum;                                                              \
        if (HAS(in, min)) (st)->min = (st)->has_min ? fmin((st)->min, (in)->min) : (in)->min; \
        if (HAS(in, max)) (st)->max = (st)->has_max ? fmax((st)->max, (in)->max) : (in)->max; \
        (st)->has_min = (st)->has_min || HAS(in, min);                                       \
        (st)->has_max = (st)->has_max || HAS(in, max);                                       \
    } while (0)

/* P: the point type's enum prefix (OPENTELEMETRY__..._DATA_POINT). */
#define PUT_STATS_(out, st, P)                                                                 \
    do {                                                                                       \
        (out)->count = (st)->count;                                                            \
        (out)->sum_present_case = (st)->has_sum ? P##__SUM_PRESENT_SUM : P##__SUM_PRESENT__NOT_SET; \
        (out)->min_present_case = (st)->has_min ? P##__MIN_PRESENT_MIN : P##__MIN_PRESENT__NOT_SET; \
        (out)->max_present_case = (st)->has_max ? P##__MAX_PRESENT_MAX : P##__MAX_PRESENT__NOT_SET; \
        (out)->sum = (st)->sum, (out)->min = (st)->min, (out)->max = (st)->max;                \
    } while (0)
#define PUT_STATS(out, st, P) PUT_STATS_(out, st, P) /* expands P first */
#define HIST_P OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT
#define EXP_P OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT

/* (Re)starts a histogram stream from its first point. */
static int hist_begin(stream *st, const pp_histogram_point *in) {
    free(st->bounds);
    free(st->buckets);
    st->nbounds = in->n_explicit_bounds;
    st->bounds = malloc((st->nbounds + 1) * sizeof(double));
    st->buckets = calloc(st->nbounds + 1, sizeof(uint64_t));
    if (!st->bounds || !st->buckets) return -1;
    if (st->nbounds) memcpy(st->bounds, in->explicit_bounds, st->nbounds * sizeof(double));
    for (size_t i = 0; i < in->n_bucket_counts && i <= st->nbounds; i++)
        st->buckets[i] = in->bucket_counts[i];
    begin(st, in->start_time_unix_nano, in->time_unix_nano);
    TAKE_STATS(st, in);
    st->kind = K_HIST;
    return 0;
}

pp_d2c_result pp_d2c_histogram(pp_d2c *s, const pp_d2c_stream *id, const pp_histogram_point *in,
                               pp_histogram_point *out, pp_arena *a, pp_d2c_stats *stats) {
    locked l;
    pp_d2c_result r = lookup(s, id, 0, &l, stats);
    if (r != PP_D2C_CONVERTED) return r;
    stream *st = l.st;
    int rc = 0;
    if (in->flags & NO_RECORDED_VALUE) {
        if (l.created) rc = hist_begin(st, in);
    } else if (l.created) {
        rc = hist_begin(st, in);
    } else if (out_of_order(st, in->start_time_unix_nano, in->time_unix_nano)) {
        pthread_mutex_unlock(&l.sh->lock);
        stats->out_of_order++;
        return PP_D2C_DROP;
    } else if (!same_bounds(st, in)) {
        stats->resets++;
        rc = hist_begin(st, in);
    } else {
        for (size_t i = 0; i < in->n_bucket_counts && i <= st->nbounds; i++)
            st->buckets[i] += in->bucket_counts[i];
        ADD_STATS(st, in);
        st->last = in->time_unix_nano;
    }
    *out = *in;
    uint64_t *counts = rc == 0 ? pp_arena_alloc(a, (st->nbounds + 1) * sizeof(uint64_t)) : NULL;
    if (!counts) {
        pthread_mutex_unlock(&l.sh->lock);
        return PP_D2C_ERROR;
    }
    memcpy(counts, st->buckets, (st->nbounds + 1) * sizeof(uint64_t));
    out->bucket_counts = counts;
    out->n_bucket_counts = st->nbounds + 1;
    out->start_time_unix_nano = st->start;
    PUT_STATS(out, st, HIST_P);
    pthread_mutex_unlock(&l.sh->lock);
    stats->converted++;
    return PP_D2C_CONVERTED;
}

typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets exp_buckets;

/* Adds in's buckets (at in_scale) into r, keeping the other sign's range at
 * the same scale. */
static int exp_merge(pp_exph_range *r, int32_t *scale, int32_t in_scale, const exp_buckets *b,
                     pp_exph_range *other) {
    if (!b) return 0;
    return pp_exph_merge(r, scale, other, in_scale, b->offset, b->bucket_counts, b->n_bucket_counts,
                         EXP_MAX_BUCKETS);
}

static int exp_begin(stream *st, const pp_exp_histogram_point *in) {
    pp_exph_range_free(&st->pos);
    pp_exph_range_free(&st->neg);
    st->scale = in->scale;
    st->zero_count = in->zero_count;
    st->zero_threshold = in->zero_threshold;
    begin(st, in->start_time_unix_nano, in->time_unix_nano);
    TAKE_STATS(st, in);
    st->kind = K_EXP;
    if (exp_merge(&st->pos, &st->scale, in->scale, in->positive, &st->neg) != 0) return -1;
    return exp_merge(&st->neg, &st->scale, in->scale, in->negative, &st->pos);
}

static exp_buckets *exp_out(pp_arena *a, const pp_exph_range *r) {
    exp_buckets *b = pp_arena_alloc(a, sizeof(*b));
    if (!b) return NULL;
    opentelemetry__proto__metrics__v1__exponential_histogram_data_point__buckets__init(b);
    b->offset = r->offset;
    b->n_bucket_counts = r->n;
    if (r->n) {
        b->bucket_counts = pp_arena_alloc(a, r->n * sizeof(uint64_t));
        if (!b->bucket_counts) return NULL;
        memcpy(b->bucket_counts, r->counts, r->n * sizeof(uint64_t));
    }
    return b;
}

pp_d2c_result pp_d2c_exp_histogram(pp_d2c *s, const pp_d2c_stream *id,
                                   const pp_exp_histogram_point *in, pp_exp_histogram_point *out,
                                   pp_arena *a, pp_d2c_stats *stats) {
    locked l;
    pp_d2c_result r = lookup(s, id, 0, &l, stats);
    if (r != PP_D2C_CONVERTED) return r;
    stream *st = l.st;
    int rc = 0;
    if (l.created) {
        rc = exp_begin(st, in);
    } else if (in->flags & NO_RECORDED_VALUE) {
        /* emit the current total with the flag */
    } else if (out_of_order(st, in->start_time_unix_nano, in->time_unix_nano)) {
        pthread_mutex_unlock(&l.sh->lock);
        stats->out_of_order++;
        return PP_D2C_DROP;
    } else if (memcmp(&st->zero_threshold, &in->zero_threshold, sizeof(double)) != 0) {
        stats->resets++;
        rc = exp_begin(st, in);
    } else {
        rc = exp_merge(&st->pos, &st->scale, in->scale, in->positive, &st->neg);
        if (rc == 0) rc = exp_merge(&st->neg, &st->scale, in->scale, in->negative, &st->pos);
        st->zero_count += in->zero_count;
        ADD_STATS(st, in);
        st->last = in->time_unix_nano;
    }
    *out = *in;
    out->positive = rc == 0 ? exp_out(a, &st->pos) : NULL;
    out->negative = rc == 0 ? exp_out(a, &st->neg) : NULL;
    if (!out->positive || !out->negative) {
        pthread_mutex_unlock(&l.sh->lock);
        return PP_D2C_ERROR;
    }
    out->scale = st->scale;
    out->zero_count = st->zero_count;
    out->start_time_unix_nano = st->start;
    PUT_STATS(out, st, EXP_P);
    pthread_mutex_unlock(&l.sh->lock);
    stats->converted++;
    return PP_D2C_CONVERTED;
}
