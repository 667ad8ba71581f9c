/* sqlite_storage.c -- the `sqlite_storage` extension (alias `file_storage`,
 * so Collector configs work): one SQLite database per directory that
 * exporters use as their durable queue (storage.h,
 * docs/components/storage.md).
 *
 *   extensions:
 *     sqlite_storage:
 *       directory: /var/lib/pipit/queue   # created at start if missing
 *       fsync: batch                      # always | batch | off
 *       max_size_mib: 1024                # quota
 *       when_full: drop_oldest            # or refuse
 *   exporters:
 *     otlp:
 *       sending_queue: {storage: sqlite_storage, durability: spill}
 */
#include <stdlib.h>
#include <string.h>

#include "component.h"
#include "log.h"
#include "storage.h"
#include "tick.h"

typedef struct storage_cfg {
    char *directory;
    char *fsync;
    int64_t max_size_mib;
    char *when_full;
    double degraded_fill_ratio;
} storage_cfg;

typedef struct storage_ext {
    pp_store *store; /* first: pp_host_storage reads it */
    const storage_cfg *cfg;
    char *id;
    pp_tick tick;
    bool reported;
} storage_ext;

/* true/false: the Collector's file_storage spelling (fsync every write, or not). */
static const char *const fsyncs[] = {"always", "batch", "off", "true", "false", NULL};
static const char *const fulls[] = {"drop_oldest", "refuse", NULL};

static const pp_cfg_field schema[] = {
    {.key = "directory", .type = PP_CFG_STRING, .offset = offsetof(storage_cfg, directory),
     .flags = PP_CFG_REQUIRED, .help = "where the database lives; created at start if missing"},
    {.key = "fsync", .type = PP_CFG_ENUM, .offset = offsetof(storage_cfg, fsync), .choices = fsyncs,
     .help = "always (fsync each commit), batch (default: fsync at checkpoints) or off"},
    {.key = "max_size_mib", .type = PP_CFG_INT, .offset = offsetof(storage_cfg, max_size_mib),
     .min = 1, .max = 16 * 1024 * 1024, .help = "quota on the stored requests (default 1024)"},
    {.key = "when_full", .type = PP_CFG_ENUM, .offset = offsetof(storage_cfg, when_full),
     .choices = fulls,
     .help = "drop_oldest (default: delete the oldest requests, counted) or refuse (receivers "
             "answer UNAVAILABLE)"},
    {.key = "degraded_fill_ratio", .type = PP_CFG_FLOAT,
     .offset = offsetof(storage_cfg, degraded_fill_ratio),
     .help = "health turns degraded at this fill of the quota (default 0.8)"},
    {.key = "timeout", .type = PP_CFG_IGNORED},
    {.key = "compaction", .type = PP_CFG_IGNORED},
    {.key = "create_directory", .type = PP_CFG_IGNORED},
    {.key = "directory_permissions", .type = PP_CFG_IGNORED},
    {0},
};

static void defaults(void *p) {
    storage_cfg *c = p;
    c->fsync = strdup("batch");
    c->max_size_mib = 1024;
    c->when_full = strdup("drop_oldest");
    c->degraded_fill_ratio = 0.8;
}

static size_t validate(const void *p, const char *path, pp_diag *d) {
    const storage_cfg *c = p;
    size_t errors = 0;
    char where[512];
    /* The directory need not exist yet: start() creates it. */
    if (c->directory && !c->directory[0]) {
        snprintf(where, sizeof(where), "%s.directory", path);
        pp_diag_error(d, where, 0, "must not be empty");
        errors++;
    }
    if (!(c->degraded_fill_ratio > 0.0 && c->degraded_fill_ratio <= 1.0)) {
        snprintf(where, sizeof(where), "%s.degraded_fill_ratio", path);
        pp_diag_error(d, where, 0, "must be in (0, 1] (got %g)", c->degraded_fill_ratio);
        errors++;
    }
    return errors;
}

static pp_store_fsync fsync_policy(const char *s) {
    if (!strcmp(s, "always") || !strcmp(s, "true")) return PP_FSYNC_ALWAYS;
    if (!strcmp(s, "off")) return PP_FSYNC_OFF;
    return PP_FSYNC_BATCH; /* batch, and the Collector's false (no fsync per write) */
}

static void *create(const pp_create_params *p, pp_status *st) {
    storage_ext *x = calloc(1, sizeof(*x));
    if (!x || !(x->id = strdup(p->id))) {
        free(x);
        pp_fail(st, PP_INTERNAL, "out of memory");
        return NULL;
    }
    x->cfg = p->config;
    return x;
}

/* Once every exporter has started (the loop runs only then): rows of
 * exporters that did not attach are reported. */
static void on_tick(uv_timer_t *t) {
    storage_ext *x = t->data;
    if (x->reported) return;
    x->reported = true;
    pp_store_report_unclaimed(x->store);
}

static int ext_start(void *inst, pp_host *host, pp_status *st) {
    storage_ext *x = inst;
    const storage_cfg *c = x->cfg;
    pp_store_opts o = {.id = x->id,
                       .directory = c->directory,
                       .fsync = fsync_policy(c->fsync),
                       .max_bytes = (uint64_t)c->max_size_mib << 20,
                       .when_full = !strcmp(c->when_full, "refuse") ? PP_FULL_REFUSE
                                                                    : PP_FULL_DROP_OLDEST,
                       .degraded_ratio = c->degraded_fill_ratio,
                       .metrics = host->metrics,
                       .health = host->health};
    x->store = pp_store_open(&o, st);
    if (!x->store) return -1;
    if (host->loop) {
        char comp[256];
        snprintf(comp, sizeof(comp), "extension/%s", x->id);
        if (pp_tick_start(&x->tick, host->loop, 100, on_tick, x, comp, st) != 0) return -1;
    }
    return 0;
}

/* Exporters shut down before extensions and have flushed; the store stays
 * open until destroy because exporters detach from it in their destroy. */
static void ext_shutdown(void *inst, pp_host *host) {
    storage_ext *x = inst;
    (void)host;
    pp_tick_stop(&x->tick);
    if (x->store) pp_store_flush(x->store);
}

static void destroy(void *inst) {
    storage_ext *x = inst;
    if (!x) return;
    pp_store_close(x->store);
    free(x->id);
    free(x);
}

const pp_factory pp_sqlite_storage_extension = {
    .kind = PP_EXTENSION,
    .type = "sqlite_storage",
    .alias = "file_storage",
    .storage = true,
    .config_size = sizeof(storage_cfg),
    .schema = schema,
    .config_defaults = defaults,
    .config_validate = validate,
    .create = create,
    .start = ext_start,
    .shutdown = ext_shutdown,
    .destroy = destroy,
};
