/* otlphttp_wire.h -- OTLP/HTTP request bodies and answers (WIRE-SPECS 1.3),
 * shared by the otlphttp exporter and the sentry exporter's otlp mode. */
#ifndef PIPIT_OTLPHTTP_WIRE_H
#define PIPIT_OTLPHTTP_WIRE_H

#include <stdbool.h>

#include "compress.h"
#include "egress.h"
#include "exporter.h"

/* b as an Export*ServiceRequest body: protobuf, or JSON when json is true,
 * compressed with comp. NULL with st set on failure. */
pp_export_request *pp_otlphttp_encode(pp_batch *b, bool json, pp_compression comp, pp_status *st);

/* What an OTLP/HTTP answer means for the request: a transport failure (rc
 * not CURLE_OK, err: curl's words) and 429/502/503/504 are retried with
 * Retry-After; 2xx is OK with its partial success; 413 splits; anything else
 * is permanent, with the message of the body's google.rpc.Status. */
void pp_otlphttp_result(CURLcode rc, const char *err, const pp_egress_resp *resp, pp_signal sig,
                        pp_send_result *res);

#endif
