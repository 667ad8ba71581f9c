/* http_tls.h -- TLS for the OTLP/HTTP server: libmicrohttpd's GnuTLS with
 * the key, certificate and client CA read from the configured files, and the
 * per-request client certificate check for mTLS. */
#ifndef PIPIT_HTTP_TLS_H
#define PIPIT_HTTP_TLS_H

#include <microhttpd.h>
#include <stdbool.h>

#include "status.h"
#include "tls_config.h"

typedef struct pp_http_tls {
    bool on;
    char *key, *cert, *trust; /* PEM contents; trust set: client certificates required */
    const char *priorities;   /* GnuTLS priority string for min/max_version */
} pp_http_tls;

/* Reads the files; -1 with st naming the file that could not be read. */
int pp_http_tls_load(pp_http_tls *t, const pp_tls_cfg *c, pp_status *st);
/* Fills opts (at most 5, ending with MHD_OPTION_END) and adds MHD_USE_TLS to
 * *flags when TLS is on. */
void pp_http_tls_options(const pp_http_tls *t, struct MHD_OptionItem *opts, unsigned *flags);
/* With a client CA: 0 when the peer presented a certificate that verifies,
 * else -1 with st = PP_UNAUTHENTICATED. Always 0 otherwise. */
int pp_http_tls_peer_check(const pp_http_tls *t, struct MHD_Connection *c, pp_status *st);
void pp_http_tls_free(pp_http_tls *t);

#endif
