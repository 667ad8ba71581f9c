/* testutil_mhd.h -- scripted HTTP receivers for exporter tests: a
 * libmicrohttpd daemon on 127.0.0.1 whose handler gets whole request bodies. */
#ifndef PIPIT_TESTUTIL_MHD_H
#define PIPIT_TESTUTIL_MHD_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A request body as it arrives. */
typedef struct tu_upload { char *buf; size_t len; } tu_upload;

/* Call first in an access handler with its con_cls, data and size. Returns
 * the whole body once it is in (the handler then answers), or NULL while it
 * is still arriving (the handler returns MHD_YES at once). */
tu_upload *tu_mhd_collect(void **con_cls, const char *data, size_t *size);

/* MHD_OPTION_NOTIFY_COMPLETED callback freeing what tu_mhd_collect kept (for
 * daemons started with other options than tu_mhd_start's). */
void tu_mhd_done(void *cls, struct MHD_Connection *c, void **con_cls,
                 enum MHD_RequestTerminationCode t);

/* A daemon on a free 127.0.0.1 port (*port) with its own polling thread,
 * calling handler; bodies from tu_mhd_collect are freed when a request ends.
 * Asserts that it started. */
struct MHD_Daemon *tu_mhd_start(MHD_AccessHandlerCallback handler, uint16_t *port);

#endif
