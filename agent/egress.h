/* egress.h -- one HTTP request from an exporter through a reused libcurl easy
 * handle: TLS settings, headers, per-attempt timeout, abort at the shutdown
 * deadline, and the answer's status, headers (and gRPC trailers, which
 * libcurl hands to the header callback too) and body, read into a
 * pp_egress_resp (egress_resp.h). Shared by the otlp and otlphttp exporters.
 * Set PP_CURL_VERBOSE in the environment to see libcurl's trace of every
 * request on stderr (debugging only). */
#ifndef PIPIT_EGRESS_H
#define PIPIT_EGRESS_H

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config_schema.h"
#include "egress_resp.h"
#include "tls_config.h"

typedef struct pp_egress_opts {
    const pp_tls_cfg *tls; /* NULL: defaults (verify with the system CAs) */
    int http_version;      /* CURL_HTTP_VERSION_* */
    int64_t keepalive_idle_ns, keepalive_interval_ns; /* 0: curl's default */
} pp_egress_opts;

/* A new easy handle with the options that do not change between requests.
 * It carries its own multi handle (CURLOPT_PRIVATE: do not set it), which
 * keeps its connections between requests; free it with
 * pp_egress_handle_free. */
CURL *pp_egress_handle(const pp_egress_opts *o);
void pp_egress_handle_free(CURL *c);

/* A header list: `fixed` ("name: value" strings, NULL-terminated) then the
 * user's headers. NULL when out of memory. */
struct curl_slist *pp_egress_headers(const char *const *fixed, const pp_cfg_kvs *custom);

/* POSTs body to url. Returns the CURLcode; on failure err gets curl's words.
 * Gives up after timeout_ns and when CLOCK_MONOTONIC passes *abort_at_ns. */
CURLcode pp_egress_post(CURL *c, const char *url, struct curl_slist *headers, const uint8_t *body,
                        size_t len, int64_t timeout_ns, const _Atomic int64_t *abort_at_ns,
                        pp_egress_resp *resp, char *err, size_t errlen);

/* Retry-After as delta-seconds or an HTTP-date; 0 when absent or unparsable.
 * now_unix is the wall clock in seconds (for dates). */
int64_t pp_parse_retry_after(const char *v, int64_t now_unix);

#endif
