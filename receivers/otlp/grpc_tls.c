/* grpc_tls.c -- see grpc_tls.h. GnuTLS pulls ciphertext from the chunk the
 * loop just read and pushes ciphertext straight into the loop's writer. */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_tls.h"

struct pp_grpc_tls_ctx {
    gnutls_certificate_credentials_t cred;
    gnutls_priority_t prio;
    bool require_client_cert;
};

struct pp_grpc_tls {
    gnutls_session_t s;
    bool ready;
    const uint8_t *in; /* ciphertext not yet pulled */
    size_t in_len;
    pp_grpc_tls_out out;
    void *out_arg;
};

static int tls_fail(pp_status *st, const char *what, const char *file, int rc) {
    return pp_fail(st, PP_INVALID, "tls: %s%s%s: %s", what, file ? " " : "", file ? file : "",
                   gnutls_strerror(rc));
}

pp_grpc_tls_ctx *pp_grpc_tls_ctx_new(const pp_tls_cfg *cfg, pp_status *st) {
    pp_grpc_tls_ctx *c = calloc(1, sizeof(*c));
    if (!c) {
        pp_fail(st, PP_INTERNAL, "out of memory");
        return NULL;
    }
    int rc = gnutls_certificate_allocate_credentials(&c->cred);
    if (rc < 0) {
        tls_fail(st, "credentials", NULL, rc);
        free(c);
        return NULL;
    }
    if ((rc = gnutls_certificate_set_x509_key_file(c->cred, cfg->cert_file, cfg->key_file,
                                                   GNUTLS_X509_FMT_PEM)) < 0) {
        tls_fail(st, "loading", cfg->cert_file, rc);
        goto fail;
    }
    if (cfg->client_ca_file && cfg->client_ca_file[0]) {
        if ((rc = gnutls_certificate_set_x509_trust_file(c->cred, cfg->client_ca_file,
                                                         GNUTLS_X509_FMT_PEM)) <= 0) {
            tls_fail(st, "loading client CAs from", cfg->client_ca_file,
                     rc == 0 ? GNUTLS_E_NO_CERTIFICATE_FOUND : rc);
            goto fail;
        }
        c->require_client_cert = true;
    }
    char prio[128] = "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1:-VERS-DTLS-ALL";
    if (cfg->min_version && strcmp(cfg->min_version, "1.3") == 0) strcat(prio, ":-VERS-TLS1.2");
    if (cfg->max_version && strcmp(cfg->max_version, "1.2") == 0) strcat(prio, ":-VERS-TLS1.3");
    if ((rc = gnutls_priority_init(&c->prio, prio, NULL)) < 0) {
        tls_fail(st, "priorities", NULL, rc);
        goto fail;
    }
    return c;
fail:
    gnutls_certificate_free_credentials(c->cred);
    free(c);
    return NULL;
}

void pp_grpc_tls_ctx_free(pp_grpc_tls_ctx *c) {
    if (!c) return;
    gnutls_priority_deinit(c->prio);
    gnutls_certificate_free_credentials(c->cred);
    free(c);
}

static ssize_t pull(gnutls_transport_ptr_t ptr, void *buf, size_t n) {
    pp_grpc_tls *t = ptr;
    if (t->in_len == 0) {
        gnutls_transport_set_errno(t->s, EAGAIN);
        return -1;
    }
    if (n > t->in_len) n = t->in_len;
    memcpy(buf, t->in, n);
    t->in += n;
    t->in_len -= n;
    return (ssize_t)n;
}

static ssize_t push(gnutls_transport_ptr_t ptr, const void *buf, size_t n) {
    pp_grpc_tls *t = ptr;
    if (t->out(t->out_arg, buf, n) != 0) {
        gnutls_transport_set_errno(t->s, EIO);
        return -1;
    }
    return (ssize_t)n;
}

pp_grpc_tls *pp_grpc_tls_new(pp_grpc_tls_ctx *ctx, pp_grpc_tls_out out, void *out_arg) {
    pp_grpc_tls *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->out = out;
    t->out_arg = out_arg;
    if (gnutls_init(&t->s, GNUTLS_SERVER | GNUTLS_NONBLOCK) < 0) {
        free(t);
        return NULL;
    }
    static const gnutls_datum_t h2 = {(unsigned char *)"h2", 2};
    if (gnutls_priority_set(t->s, ctx->prio) < 0 ||
        gnutls_credentials_set(t->s, GNUTLS_CRD_CERTIFICATE, ctx->cred) < 0 ||
        gnutls_alpn_set_protocols(t->s, &h2, 1, 0) < 0) {
        pp_grpc_tls_free(t);
        return NULL;
    }
    if (ctx->require_client_cert) {
        gnutls_certificate_server_set_request(t->s, GNUTLS_CERT_REQUIRE);
        gnutls_session_set_verify_cert(t->s, NULL, 0); /* the handshake verifies the chain */
    }
    gnutls_transport_set_ptr(t->s, t);
    gnutls_transport_set_pull_function(t->s, pull);
    gnutls_transport_set_push_function(t->s, push);
    return t;
}

void pp_grpc_tls_free(pp_grpc_tls *t) {
    if (!t) return;
    gnutls_deinit(t->s);
    free(t);
}

bool pp_grpc_tls_ready(const pp_grpc_tls *t) { return t->ready; }

int pp_grpc_tls_read(pp_grpc_tls *t, const uint8_t *p, size_t n, pp_grpc_tls_in in, void *in_arg) {
    t->in = p;
    t->in_len = n;
    int rc = 0;
    if (!t->ready) {
        int r = gnutls_handshake(t->s);
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) return 0;
        if (r < 0) return -1; /* the alert, if any, went out through push */
        t->ready = true;
    }
    uint8_t buf[16384];
    for (;;) {
        ssize_t r = gnutls_record_recv(t->s, buf, sizeof(buf));
        if (r > 0) {
            if ((rc = in(in_arg, buf, (size_t)r)) != 0) break;
        } else if (r == 0) {
            rc = -1; /* close_notify */
            break;
        } else if (r == GNUTLS_E_AGAIN) {
            break;
        } else if (r != GNUTLS_E_INTERRUPTED && gnutls_error_is_fatal((int)r)) {
            rc = -1;
            break;
        }
    }
    t->in = NULL;
    t->in_len = 0;
    return rc;
}

int pp_grpc_tls_write(pp_grpc_tls *t, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t r = gnutls_record_send(t->s, p, n);
        if (r < 0) return -1; /* push never blocks, so even AGAIN is a failure */
        p += r;
        n -= (size_t)r;
    }
    return 0;
}
