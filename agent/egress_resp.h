/* egress_resp.h -- an exporter's view of one HTTP answer: the status, the
 * headers and trailers exporters act on (gRPC status, message and details,
 * content type and encoding, Retry-After, one header of the caller's choice)
 * and the body up to a cap. Filled by any transport (libcurl in egress.c, the
 * h2c client in exporters/otlp/grpc_client.c) through the functions below, so
 * every transport reads an answer the same way. */
#ifndef PIPIT_EGRESS_RESP_H
#define PIPIT_EGRESS_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pp_egress_resp {
    long http_status;
    int grpc_status;        /* -1: no grpc-status seen */
    char grpc_message[512]; /* percent-decoded */
    char *grpc_details;     /* grpc-status-details-bin, base64 as received (malloc'd) */
    char content_type[128];
    char content_encoding[32]; /* grpc-encoding or Content-Encoding */
    char retry_after[64];
    const char *capture;   /* set by the caller: one more header to keep (name), or NULL */
    char captured[512];    /* its value ("" when absent) */
    uint8_t *body; /* malloc'd, at most max_body bytes are kept */
    size_t len, cap, max_body;
    bool truncated;
} pp_egress_resp;

/* Readies r for a new exchange: everything cleared but max_body (0 becomes
 * 4 MiB) and capture. Frees nothing: call after pp_egress_resp_free or on a
 * fresh r. */
void pp_egress_resp_reset(pp_egress_resp *r);

/* A new response begins (after a 1xx, or a redirect): forgets the gRPC
 * status and the kept headers of the previous one. */
void pp_egress_resp_restart(pp_egress_resp *r);

/* One header or trailer; the name is compared without case, the value is
 * taken as given (no surrounding whitespace). Unknown names are ignored. */
void pp_egress_resp_header(pp_egress_resp *r, const char *name, size_t nlen, const char *value,
                           size_t vlen);

/* Appends n body bytes, keeping at most max_body (then truncated is set).
 * false when out of memory. */
bool pp_egress_resp_body(pp_egress_resp *r, const uint8_t *data, size_t n);

void pp_egress_resp_free(pp_egress_resp *r);

#endif
