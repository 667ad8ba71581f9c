/* debug_format.h -- human-readable dump of OTLP data for the debug exporter. */
#ifndef PIPIT_DEBUG_FORMAT_H
#define PIPIT_DEBUG_FORMAT_H

#include <stdio.h>

#include "batch.h"

/* Writes every resource, scope, span (with events and links) or metric data
 * point of b, one field per line, in the layout of the Collector's debug
 * exporter at verbosity detailed. */
void pp_debug_write_detailed(FILE *out, const pp_batch *b);

#endif
