/* admission_pending.c -- TEMPORARY: the admission gate (agent/admission.c) is
 * written on branch h/memlimit. Registering the otlp receiver makes ingest.c
 * reference these two functions, so this file lets pipit link until then.
 * Nothing on this branch can create a pp_admission (pp_admission_new lives in
 * the real file), so ingest never calls these; if one ever did, it refuses
 * loudly rather than admitting. Delete this file when merging h/memlimit. */
#include "admission.h"

int pp_admission_acquire(pp_admission *a, size_t n, pp_status *st) {
    (void)a;
    (void)n;
    return pp_fail(st, PP_INTERNAL, "admission gate not built yet");
}

void pp_admission_release(pp_admission *a, size_t n) {
    (void)a;
    (void)n;
}
