/* tls_config.h -- the Collector's `tls` settings (configtls), one schema for
 * every server and client in pipit. */
#ifndef PIPIT_TLS_CONFIG_H
#define PIPIT_TLS_CONFIG_H

#include <stdbool.h>

#include "config_schema.h"

typedef struct pp_tls_cfg {
    char *ca_file;        /* clients: CAs to verify the server; servers: unused */
    char *cert_file;      /* own certificate (PEM) */
    char *key_file;       /* own private key (PEM) */
    char *client_ca_file; /* servers: require and verify client certificates (mTLS) */
    char *min_version;    /* "1.2" (default) or "1.3" */
    char *max_version;
    char *server_name_override; /* clients */
    bool insecure;              /* clients: plaintext (gRPC h2c) */
    bool insecure_skip_verify;  /* clients: do not verify the server */
} pp_tls_cfg;

/* Schema for a `tls:` block; use with PP_CFG_STRUCT and PP_CFG_HAS_PRESENT. */
extern const pp_cfg_field pp_tls_schema[];

/* Checks file pairs and versions; path is the YAML path of the tls block. */
size_t pp_tls_validate(const pp_tls_cfg *t, bool server, const char *path, pp_diag *d);

#endif
