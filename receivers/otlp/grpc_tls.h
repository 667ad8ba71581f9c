/* grpc_tls.h -- TLS for the gRPC transport (GnuTLS over memory buffers, so
 * the libuv loop keeps owning the socket). ALPN "h2"; with client_ca_file,
 * client certificates are required and verified (mTLS). */
#ifndef PIPIT_GRPC_TLS_H
#define PIPIT_GRPC_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "tls_config.h"

typedef struct pp_grpc_tls_ctx pp_grpc_tls_ctx; /* credentials, shared by threads */
typedef struct pp_grpc_tls pp_grpc_tls;         /* one connection */

/* Sends ciphertext to the peer; returns 0 or -1. */
typedef int (*pp_grpc_tls_out)(void *arg, const uint8_t *p, size_t n);
/* Receives plaintext; returns 0 or -1 (close). */
typedef int (*pp_grpc_tls_in)(void *arg, const uint8_t *p, size_t n);

pp_grpc_tls_ctx *pp_grpc_tls_ctx_new(const pp_tls_cfg *cfg, pp_status *st);
void pp_grpc_tls_ctx_free(pp_grpc_tls_ctx *ctx);

pp_grpc_tls *pp_grpc_tls_new(pp_grpc_tls_ctx *ctx, pp_grpc_tls_out out, void *out_arg);
void pp_grpc_tls_free(pp_grpc_tls *t);
/* Ciphertext from the socket: drives the handshake, passes plaintext on.
 * Returns -1 when the connection must close. */
int pp_grpc_tls_read(pp_grpc_tls *t, const uint8_t *p, size_t n, pp_grpc_tls_in in, void *in_arg);
bool pp_grpc_tls_ready(const pp_grpc_tls *t); /* handshake done */
int pp_grpc_tls_write(pp_grpc_tls *t, const uint8_t *p, size_t n);

#endif
