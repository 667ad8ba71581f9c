/* http_server_pending.c -- TEMPORARY: stands in for the OTLP/HTTP transport
 * (http_server.c, written on another branch) so that pipit links with the otlp
 * receiver registered. Delete this file when merging the real transport. */
#include "otlp_receiver.h"

pp_http_server *pp_http_server_start(const pp_http_server_cfg *cfg, pp_ingest *in, pp_status *st) {
    (void)cfg;
    (void)in;
    pp_fail(st, PP_UNIMPLEMENTED, "OTLP/HTTP transport not built yet");
    return NULL;
}

void pp_http_server_stop(pp_http_server *s, int64_t deadline_ns) {
    (void)s;
    (void)deadline_ns;
}

void pp_http_server_free(pp_http_server *s) { (void)s; }

int pp_http_server_port(const pp_http_server *s) {
    (void)s;
    return -1;
}
