/* testutil_mhd.c -- see testutil_mhd.h. */
#include "testutil_mhd.h"

#include <stdlib.h>
#include <string.h>

bool tu_mhd_collect(void **con_cls, const char *data, size_t *size, tu_upload **out) {
    tu_upload *u = *con_cls;
    if (!u) {
        *con_cls = calloc(1, sizeof(tu_upload));
        return true;
    }
    if (*size) {
        u->buf = realloc(u->buf, u->len + *size);
        memcpy(u->buf + u->len, data, *size);
        u->len += *size;
        *size = 0;
        return true;
    }
    *out = u;
    return false;
}

void tu_mhd_done(void *cls, struct MHD_Connection *c, void **con_cls,
                 enum MHD_RequestTerminationCode t) {
    (void)cls, (void)c, (void)t;
    tu_upload *u = *con_cls;
    if (u) free(u->buf);
    free(u);
    *con_cls = NULL;
}
