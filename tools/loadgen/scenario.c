/* scenario.c -- see scenario.h. Shapes are in the spirit of the usual
 * load-testing vocabulary (k6, Gatling): a quick check, a steady expected
 * load with a ramp, a staircase past it, a sudden burst, and a long run. */
#include "scenario.h"

#include <string.h>

/* load: ramp from 10% to 100% over the first tenth, then hold. */
static double shape_load(double x) { return x < 0.1 ? 0.1 + 9.0 * x : 1.0; }
/* stress: four equal steps at 1x, 2x, 3x, 4x the rate. */
static double shape_stress(double x) { return x < 0.25 ? 1 : x < 0.5 ? 2 : x < 0.75 ? 3 : 4; }
/* spike: the rate, with 10x for the tenth of the run from 40% to 50%. */
static double shape_spike(double x) { return x >= 0.4 && x < 0.5 ? 10.0 : 1.0; }

static const lg_scenario scenarios[] = {
    {"smoke", 1000, 5, 1, 1, NULL,
     "1000 items/s for 5 s on one connection: does anything arrive at all"},
    {"load", 10000, 60, 4, 8, shape_load,
     "the expected load (default 10k items/s), ramped over the first 10%, then held; 60 s"},
    {"stress", 25000, 120, 8, 16, shape_stress,
     "a staircase of 1x, 2x, 3x, 4x the rate (default 25k items/s), a quarter each; 120 s"},
    {"spike", 10000, 60, 8, 16, shape_spike,
     "the rate, with a 10x burst from 40% to 50% of the run; 60 s"},
    {"soak", 10000, 3600, 4, 8, NULL, "the rate held for an hour: memory growth, leaks, drift"},
};

const lg_scenario *lg_scenario_find(const char *name) {
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
        if (strcmp(scenarios[i].name, name) == 0) return &scenarios[i];
    return NULL;
}

void lg_scenario_help(FILE *out) {
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
        fprintf(out, "  %-7s %s\n", scenarios[i].name, scenarios[i].help);
}
