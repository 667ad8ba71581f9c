/* prw_value.h -- values as Prometheus label text. */
#ifndef PIPIT_PRW_VALUE_H
#define PIPIT_PRW_VALUE_H

#include <stddef.h>

#include "arena.h"
#include "otlp.h"

/* Enough for any double in positional notation (5e-324 needs 327 bytes). */
#define PP_PRW_FLOAT_TEXT_MAX 400

/* The shortest decimal that reads back as v, without an exponent, the way
 * Go's FormatFloat(v, 'f', -1, 64) writes it: 0.5, 100, 0.000001, "+Inf",
 * "-Inf", "NaN". Used for le and quantile. Returns the length. */
size_t pp_prw_float_text(double v, char out[PP_PRW_FLOAT_TEXT_MAX]);

/* An attribute value as label text: strings as they are, ints and doubles in
 * decimal, bools true/false, bytes base64, arrays and maps as JSON (map keys
 * sorted, like Go's encoding/json). An unset value is "". NULL on OOM. */
char *pp_prw_value_text(pp_arena *a, const pp_any_value *v);

#endif
