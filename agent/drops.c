/* drops.c -- see drops.h. */
#include "drops.h"

pp_counter *pp_drops_counter(pp_metrics *m, const char *component, pp_signal s, const char *reason) {
    const char *labels[] = {"component", component, "signal", pp_signal_name(s), "reason", reason, NULL};
    return pp_counter_get(m, "pipit_dropped_items",
                          "Items (spans or metric points) pipit gave up on, by component and reason.",
                          labels);
}
