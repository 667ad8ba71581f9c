/* admission.c -- the memory budget receivers check before decoding; see
 * admission.h.
 *
 * Lock-free: the limits, the measured usage and the bytes reserved by
 * requests in flight are atomics, and a reservation is a compare-and-swap on
 * in_flight, so many receiver threads admit at once without a lock and the
 * sum they check against the soft limit is never overshot by a race.
 *
 * Reservations are tracked even while the gate is off, so that a request
 * admitted before the limits were set releases exactly what it took. The
 * measured usage (RSS) already contains some of what is in flight; counting
 * both errs on the side of refusing early, which the client retries. */
#include "admission.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>

#define MIB (1024u * 1024u)

struct pp_admission {
    _Atomic uint64_t soft, hard; /* bytes; soft == 0: gate off */
    _Atomic uint64_t usage;      /* last measured RSS */
    _Atomic uint64_t in_flight;  /* reserved by requests being decoded or held */
    _Atomic uint32_t retry_after_ms;
};

pp_admission *pp_admission_new(void) {
    pp_admission *a = calloc(1, sizeof(*a));
    if (a) atomic_init(&a->retry_after_ms, 1000);
    return a;
}

void pp_admission_free(pp_admission *a) { free(a); }

/* Stores min(current, v) into *x, treating a current 0 as "no value". */
static void store_min(_Atomic uint64_t *x, uint64_t v) {
    uint64_t cur = atomic_load(x);
    while ((cur == 0 || v < cur) && !atomic_compare_exchange_weak(x, &cur, v)) {
    }
}

void pp_admission_set_limit(pp_admission *a, uint64_t soft_bytes, uint64_t hard_bytes) {
    if (soft_bytes == 0) {
        atomic_store(&a->soft, 0);
        atomic_store(&a->hard, 0);
        return;
    }
    store_min(&a->soft, soft_bytes);
    if (hard_bytes) store_min(&a->hard, hard_bytes);
}

void pp_admission_set_retry_after(pp_admission *a, uint32_t ms) {
    atomic_store(&a->retry_after_ms, ms ? ms : 1000);
}

void pp_admission_set_usage(pp_admission *a, uint64_t bytes) { atomic_store(&a->usage, bytes); }

uint64_t pp_admission_in_flight(const pp_admission *a) {
    return atomic_load(&a->in_flight);
}

static uint64_t reservation(size_t n) {
    uint64_t n64 = n;
    return n64 > UINT64_MAX / PP_ADMISSION_DECODE_FACTOR ? UINT64_MAX
                                                         : n64 * PP_ADMISSION_DECODE_FACTOR;
}

static uint64_t sat_add(uint64_t x, uint64_t y) { return x > UINT64_MAX - y ? UINT64_MAX : x + y; }

int pp_admission_acquire(pp_admission *a, size_t n, pp_status *st) {
    uint64_t need = reservation(n);
    uint64_t soft = atomic_load(&a->soft), hard = atomic_load(&a->hard);
    if (soft != 0 && hard != 0 && need > hard)
        return pp_fail(st, PP_TOO_LARGE,
                       "memory limit: a request of %zu bytes needs about %" PRIu64
                       " MiB decoded, more than the memory limit of %" PRIu64 " MiB",
                       n, need / MIB, hard / MIB);
    uint64_t cur = atomic_load(&a->in_flight);
    for (;;) {
        if (soft != 0) {
            uint64_t used = sat_add(atomic_load(&a->usage), cur);
            if (sat_add(used, need) > soft) {
                pp_fail(st, PP_UNAVAILABLE,
                        "memory limit: %" PRIu64 " MiB in use, soft limit %" PRIu64
                        " MiB; retry later",
                        used / MIB, soft / MIB);
                st->retry_after_ms = atomic_load(&a->retry_after_ms);
                return -1;
            }
        }
        if (atomic_compare_exchange_weak(&a->in_flight, &cur, sat_add(cur, need))) return 0;
    }
}

void pp_admission_release(pp_admission *a, size_t n) {
    atomic_fetch_sub(&a->in_flight, reservation(n));
}
