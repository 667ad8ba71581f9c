/* http_export.h -- one OTLP/HTTP export request once its body is in memory:
 * decompress, decode (protobuf or JSON), hand to the pipelines, and build the
 * answer (status, body in the request's format). No sockets here, so the
 * fuzzer drives exactly what the server runs. */
#ifndef PIPIT_HTTP_EXPORT_H
#define PIPIT_HTTP_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "http_body.h"
#include "ingest.h"

typedef enum pp_http_format { PP_FMT_PROTOBUF, PP_FMT_JSON } pp_http_format;

/* Content-Type "application/x-protobuf" or "application/json", parameters
 * (charset) and case ignored. -1 for anything else. */
int pp_http_format_parse(const char *content_type, pp_http_format *f);
const char *pp_http_format_type(pp_http_format f); /* the Content-Type to answer with */

typedef struct pp_http_answer {
    unsigned status;
    pp_http_format format;
    uint8_t *body; /* malloc'd (NULL: empty body) */
    size_t len;
    unsigned retry_after_s; /* > 0: send Retry-After */
} pp_http_answer;

/* A failure answer with a google.rpc.Status body {code: grpc_code, message}. */
void pp_http_answer_error(pp_http_answer *a, unsigned status, int grpc_code, const char *msg);
/* The failure answer for st (400, 401, 404, 413, 500, 503 + Retry-After). */
void pp_http_answer_status(pp_http_answer *a, const pp_status *st);
void pp_http_answer_free(pp_http_answer *a);

/* Decompresses (output capped at limit), decodes in a->format and ingests
 * the body; fills a (a->format must be set). */
void pp_http_export(pp_ingest *in, pp_signal sig, pp_http_encoding enc, const uint8_t *body,
                    size_t len, size_t limit, pp_http_answer *a);

#endif
