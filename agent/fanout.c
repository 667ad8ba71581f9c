/* fanout.c -- see fanout.h. */
#include "fanout.h"

#include <stdlib.h>

/* Every member gets the batch even if an earlier one refused it, so a slow
 * exporter does not starve the others. The caller sees the first refusal and
 * the client retries; members that accepted then see the data twice, which
 * is the at-least-once contract (a refusal never loses data). */
static int fanout_consume(pp_consumer *self, pp_batch *b, pp_status *st) {
    pp_fanout *f = (pp_fanout *)self;
    if (f->count == 1) return pp_consume(f->members[0], b, st);
    int rc = 0;
    pp_status one;
    for (size_t i = 0; i < f->count; i++) {
        pp_status_clear(&one);
        if (pp_consume(f->members[i], b, &one) != 0 && rc == 0) {
            rc = -1;
            if (st) *st = one;
        }
    }
    return rc;
}

void pp_fanout_init(pp_fanout *f) {
    f->base.consume = fanout_consume;
    f->base.takes_encoded = false;
    f->members = NULL;
    f->count = 0;
}

int pp_fanout_add(pp_fanout *f, pp_consumer *c) {
    for (size_t i = 0; i < f->count; i++)
        if (f->members[i] == c) return 0; /* a pipeline named twice feeds once */
    pp_consumer **m = realloc(f->members, (f->count + 1) * sizeof(*m));
    if (!m) return -1;
    f->members = m;
    f->members[f->count++] = c;
    /* Encoded batches only when every member takes them. */
    f->base.takes_encoded = (f->count == 1 || f->base.takes_encoded) && c->takes_encoded;
    return 0;
}

void pp_fanout_free(pp_fanout *f) {
    free(f->members);
    f->members = NULL;
    f->count = 0;
}
