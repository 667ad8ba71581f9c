/* tls_config.c -- see tls_config.h. */
#include "tls_config.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const tls_versions[] = {"1.2", "1.3", NULL};

const pp_cfg_field pp_tls_schema[] = {
    {.key = "ca_file", .type = PP_CFG_STRING, .offset = offsetof(pp_tls_cfg, ca_file)},
    {.key = "cert_file", .type = PP_CFG_STRING, .offset = offsetof(pp_tls_cfg, cert_file)},
    {.key = "key_file", .type = PP_CFG_STRING, .offset = offsetof(pp_tls_cfg, key_file)},
    {.key = "client_ca_file", .type = PP_CFG_STRING, .offset = offsetof(pp_tls_cfg, client_ca_file)},
    {.key = "min_version", .type = PP_CFG_ENUM, .offset = offsetof(pp_tls_cfg, min_version),
     .choices = tls_versions},
    {.key = "max_version", .type = PP_CFG_ENUM, .offset = offsetof(pp_tls_cfg, max_version),
     .choices = tls_versions},
    {.key = "server_name_override", .type = PP_CFG_STRING,
     .offset = offsetof(pp_tls_cfg, server_name_override)},
    {.key = "insecure", .type = PP_CFG_BOOL, .offset = offsetof(pp_tls_cfg, insecure)},
    {.key = "insecure_skip_verify", .type = PP_CFG_BOOL,
     .offset = offsetof(pp_tls_cfg, insecure_skip_verify)},
    {.key = "reload_interval", .type = PP_CFG_IGNORED},
    {.key = "include_system_ca_certs_pool", .type = PP_CFG_IGNORED},
    {.key = "cipher_suites", .type = PP_CFG_IGNORED},
    {.key = "curve_preferences", .type = PP_CFG_IGNORED},
    {0},
};

static size_t check_file(const char *file, const char *path, const char *key, pp_diag *d) {
    if (!file || access(file, R_OK) == 0) return 0;
    char p[512];
    snprintf(p, sizeof(p), "%s.%s", path, key);
    pp_diag_error(d, p, 0, "cannot read \"%s\"", file);
    return 1;
}

size_t pp_tls_validate(const pp_tls_cfg *t, bool server, const char *path, pp_diag *d) {
    size_t errors = 0;
    if ((t->cert_file == NULL) != (t->key_file == NULL)) {
        pp_diag_error(d, path, 0, "cert_file and key_file must be given together");
        errors++;
    }
    if (server && !t->cert_file && (t->client_ca_file || t->ca_file)) {
        pp_diag_error(d, path, 0, "a TLS server needs cert_file and key_file");
        errors++;
    }
    if (t->min_version && t->max_version && strcmp(t->min_version, t->max_version) > 0) {
        pp_diag_error(d, path, 0, "min_version is above max_version");
        errors++;
    }
    errors += check_file(t->ca_file, path, "ca_file", d);
    errors += check_file(t->cert_file, path, "cert_file", d);
    errors += check_file(t->key_file, path, "key_file", d);
    errors += check_file(t->client_ca_file, path, "client_ca_file", d);
    return errors;
}
