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

/* soft: refuse new data above this; 0 disables the gate. */
void pp_admission_set_limit(pp_admission *a, uint64_t soft_bytes, uint64_t hard_bytes);
/* The process's measured memory use (RSS), sampled every check_interval. */
void pp_admission_set_usage(pp_admission *a, uint64_t bytes);

/* Reserves room for a request of n encoded bytes (decoded data takes a few
 * times that). Returns 0, or -1 with st = PP_UNAVAILABLE and a retry hint. */
int pp_admission_acquire(pp_admission *a, size_t n, pp_status *st);
void pp_admission_release(pp_admission *a, size_t n);

#endif
