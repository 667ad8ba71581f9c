/* scenario.h -- the named load shapes (smoke, load, stress, spike, soak):
 * default rate, duration and connections, and the rate multiplier over time.
 * Options given on the command line override the defaults. */
#ifndef PIPIT_LOADGEN_SCENARIO_H
#define PIPIT_LOADGEN_SCENARIO_H

#include "run.h"

typedef struct lg_scenario {
    const char *name;
    double rate;       /* items/s */
    double duration_s;
    int connections;
    int streams;
    lg_shape_fn shape;
    const char *help;
} lg_scenario;

/* NULL when unknown. */
const lg_scenario *lg_scenario_find(const char *name);
/* Prints one line per scenario (for --help). */
void lg_scenario_help(FILE *out);

#endif
