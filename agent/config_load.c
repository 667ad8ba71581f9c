/* config_load.c -- pp_config_load: configuration files, or the embedded
 * default. Apart from config.c so that programs that only load texts (the
 * unit tests) need not link the default configuration. */
#include "config.h"

#include <stdlib.h>

pp_config *pp_config_load(const char *const *files, size_t nfiles, pp_diag *d) {
    if (nfiles == 0) {
        const char *text = pp_default_config_yaml;
        const char *name = "<default config>";
        return pp_config_load_texts(&text, &name, 1, d);
    }
    pp_node **roots = pp_xcalloc(nfiles, sizeof(*roots));
    for (size_t i = 0; i < nfiles; i++) roots[i] = pp_node_load_file(files[i], d);
    pp_config *c = pp_config_from_trees(roots, nfiles, d);
    free(roots);
    return c;
}
