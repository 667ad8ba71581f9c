/* admission.h -- the memory budget that receivers check before decoding.
 *
 * The Collector's memory_limiter acts only after a request is decoded; pipit
 * asks first. A receiver calls pp_admission_acquire with the request's
 * declared size before it reads or decodes the body, and releases it when the
 * request is answered. The memory_limiter processor sets the limits and feeds
 * the measured usage; without one, every request is admitted. Thread-safe. */
#ifndef PIPIT_ADMISSION_H
#define PIPIT_ADMISSION_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef struct pp_admission pp_admission;

pp_admission *pp_admission_new(void);
void pp_admission_free(pp_admission *a);

/* Bytes of memory a request of one encoded byte is assumed to take while it
 * is decoded and held (see admission.c). */
#define PP_ADMISSION_DECODE_FACTOR 4u

/* soft: refuse new data above this; 0 disables the gate. While the gate is
 * on, a further call keeps the smaller of each limit (several memory_limiter
 * processors share one gate: the strictest wins); (0, 0) turns it off. */
void pp_admission_set_limit(pp_admission *a, uint64_t soft_bytes, uint64_t hard_bytes);
/* The retry hint given with a refusal (default 1000 ms). */
void pp_admission_set_retry_after(pp_admission *a, uint32_t ms);
/* The process's measured memory use (RSS), sampled every check_interval. */
void pp_admission_set_usage(pp_admission *a, uint64_t bytes);

/* Reserves room for a request of n encoded bytes (decoded data takes
 * PP_ADMISSION_DECODE_FACTOR times that). Returns 0, or -1 with
 * st = PP_UNAVAILABLE and a retry hint when usage + reservations would pass
 * the soft limit, or PP_TOO_LARGE when the request alone passes the hard
 * limit (it could never fit: retrying would loop forever). */
int pp_admission_acquire(pp_admission *a, size_t n, pp_status *st);
/* Gives back what acquire(n) reserved; n must be the same. */
void pp_admission_release(pp_admission *a, size_t n);

/* Bytes reserved by requests in flight (acquired, not yet released). */
uint64_t pp_admission_in_flight(const pp_admission *a);

#endif
