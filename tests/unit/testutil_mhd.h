/* testutil_mhd.h -- request bodies in libmicrohttpd test servers: the
 * handler is called once with no data, then per chunk, then once more; these
 * keep the chunks per connection and free them when the request completes. */
#ifndef PIPIT_TESTUTIL_MHD_H
#define PIPIT_TESTUTIL_MHD_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct tu_upload {
    char *buf;
    size_t len;
} tu_upload;

/* In the access handler: true while the body is still arriving (return
 * MHD_YES); false once it is complete, with *out set to it. */
bool tu_mhd_collect(void **con_cls, const char *data, size_t *size, tu_upload **out);

/* MHD_OPTION_NOTIFY_COMPLETED callback freeing what tu_mhd_collect kept. */
void tu_mhd_done(void *cls, struct MHD_Connection *c, void **con_cls,
                 enum MHD_RequestTerminationCode t);

#endif
