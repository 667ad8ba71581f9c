/* testutil_mhd.c -- see testutil_mhd.h. */
#include "testutil_mhd.h"

#include <stdlib.h>
#include <string.h>

#include "testutil.h"

tu_upload *tu_mhd_collect(void **con_cls, const char *data, size_t *size) {
    tu_upload *u = *con_cls;
    if (!u) {
        *con_cls = calloc(1, sizeof(tu_upload));
        return NULL;
    }
    if (*size) {
        u->buf = realloc(u->buf, u->len + *size);
        memcpy(u->buf + u->len, data, *size);
        u->len += *size;
        *size = 0;
        return NULL;
    }
    return u;
}

void tu_mhd_done(void *cls, struct MHD_Connection *c, void **con_cls,
                 enum MHD_RequestTerminationCode t) {
    (void)cls, (void)c, (void)t;
    tu_upload *u = *con_cls;
    if (u) free(u->buf);
    free(u);
    *con_cls = NULL;
}

struct MHD_Daemon *tu_mhd_start(MHD_AccessHandlerCallback handler, uint16_t *port) {
    *port = tu_free_port();
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, *port, NULL, NULL,
                                            handler, NULL, MHD_OPTION_NOTIFY_COMPLETED, tu_mhd_done, NULL,
                                            MHD_OPTION_END);
    assert_non_null(d);
    return d;
}
