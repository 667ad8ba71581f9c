/* grpc_result.h -- what a gRPC answer means for the otlp exporter: the
 * grpc-status (from trailers or Trailers-Only), RetryInfo in
 * grpc-status-details-bin, the partial_success of the response message, and
 * the OTLP retry rules (WIRE-SPECS 1.2 and 1.6). */
#ifndef PIPIT_GRPC_RESULT_H
#define PIPIT_GRPC_RESULT_H

#include "batch.h"
#include "egress.h"
#include "exporter.h"

/* Fills res from a completed HTTP/2 exchange. */
void pp_grpc_classify(const pp_egress_resp *r, pp_signal sig, pp_send_result *res);

/* The delay of a RetryInfo inside a base64 google.rpc.Status; 0 if none. */
int64_t pp_grpc_retry_delay(const char *details_b64);

#endif
