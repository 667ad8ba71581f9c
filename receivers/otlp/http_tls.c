/* http_tls.c -- see http_tls.h. */
#include "http_tls.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_pem(const char *path, const char *what, pp_status *st) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        pp_fail(st, PP_INVALID, "tls.%s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            char *p = cap > (1u << 24) ? NULL : realloc(buf, cap = cap ? cap * 2 : 8192);
            if (!p) {
                free(buf);
                fclose(f);
                pp_fail(st, PP_INVALID, "tls.%s %s: too large or out of memory", what, path);
                return NULL;
            }
            buf = p;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) break;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

int pp_http_tls_load(pp_http_tls *t, const pp_tls_cfg *c, pp_status *st) {
    memset(t, 0, sizeof(*t));
    if (!c->cert_file || !c->key_file)
        return pp_fail(st, PP_INVALID, "tls: a server needs cert_file and key_file");
    if (!(t->cert = read_pem(c->cert_file, "cert_file", st)) ||
        !(t->key = read_pem(c->key_file, "key_file", st)) ||
        (c->client_ca_file && !(t->trust = read_pem(c->client_ca_file, "client_ca_file", st)))) {
        pp_http_tls_free(t);
        return -1;
    }
    bool min13 = c->min_version && strcmp(c->min_version, "1.3") == 0;
    bool max12 = c->max_version && strcmp(c->max_version, "1.2") == 0;
    t->priorities = min13   ? "NORMAL:-VERS-ALL:+VERS-TLS1.3"
                    : max12 ? "NORMAL:-VERS-ALL:+VERS-TLS1.2"
                            : "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";
    t->on = true;
    return 0;
}

void pp_http_tls_options(const pp_http_tls *t, struct MHD_OptionItem *opts, unsigned *flags) {
    size_t n = 0;
    if (t->on) {
        *flags |= MHD_USE_TLS;
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, t->key};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, t->cert};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                            (void *)(uintptr_t)t->priorities};
        if (t->trust) opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, t->trust};
    }
    opts[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
}

int pp_http_tls_peer_check(const pp_http_tls *t, struct MHD_Connection *c, pp_status *st) {
    if (!t->on || !t->trust) return 0;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t session = ci ? (gnutls_session_t)ci->tls_session : NULL;
    unsigned int n = 0, status = 0;
    if (!session || !gnutls_certificate_get_peers(session, &n) || n == 0)
        return pp_fail(st, PP_UNAUTHENTICATED, "a client certificate is required");
    if (gnutls_certificate_verify_peers2(session, &status) != GNUTLS_E_SUCCESS || status != 0)
        return pp_fail(st, PP_UNAUTHENTICATED, "the client certificate does not verify");
    return 0;
}

void pp_http_tls_free(pp_http_tls *t) {
    free(t->key);
    free(t->cert);
    free(t->trust);
    memset(t, 0, sizeof(*t));
}
