/* fanout.h -- one consumer that hands each batch to several.
 *
 * Used where a receiver feeds several pipelines and where a pipeline feeds
 * several exporters. Each downstream consumer borrows the same batch: no copy.
 * Members are added while the service is built, before anything runs. */
#ifndef PIPIT_FANOUT_H
#define PIPIT_FANOUT_H

#include "component.h"

typedef struct pp_fanout {
    pp_consumer base; /* first: a pp_fanout * is a pp_consumer * */
    pp_consumer **members;
    size_t count;
} pp_fanout;

void pp_fanout_init(pp_fanout *f);
int pp_fanout_add(pp_fanout *f, pp_consumer *c);
void pp_fanout_free(pp_fanout *f);

#endif
