/* agg_clock.h -- the clock of pipit's aggregating components (stream TTLs,
 * series expiry, flush timestamps), replaceable by tests.
 *
 * Production reads CLOCK_REALTIME: emitted points carry it as their time.
 * Tests install a fake clock with pp_agg_set_clock to drive TTLs without
 * sleeping; NULL restores the real one. Not for production use. */
#ifndef PIPIT_AGG_CLOCK_H
#define PIPIT_AGG_CLOCK_H

#include <stdint.h>

int64_t pp_agg_now_ns(void); /* unix time in ns */
void pp_agg_set_clock(int64_t (*fn)(void));

#endif
