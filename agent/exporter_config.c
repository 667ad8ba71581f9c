/* exporter_config.c -- sending_queue, retry_on_failure and circuit_breaker:
 * schemas, Collector defaults and checks (see exporter.h). */
#include <stdio.h>

#include "exporter.h"

#define SEC 1000000000LL

static const char *const durabilities[] = {"spill", "always", NULL};

const pp_cfg_field pp_queue_schema[] = {
    {.key = "enabled", .type = PP_CFG_BOOL, .offset = offsetof(pp_queue_cfg, enabled),
     .help = "queue requests and send them from consumer threads (false: send on the caller's thread)"},
    {.key = "num_consumers", .type = PP_CFG_INT, .offset = offsetof(pp_queue_cfg, num_consumers),
     .min = 1, .max = 1000, .help = "requests sent in parallel"},
    {.key = "queue_size", .type = PP_CFG_INT, .offset = offsetof(pp_queue_cfg, queue_size),
     .min = 1, .max = 100000000, .help = "requests held; when full, receivers refuse new data"},
    {.key = "storage", .type = PP_CFG_STRING, .offset = offsetof(pp_queue_cfg, storage),
     .help = "id of a storage extension (sqlite_storage / file_storage) for a durable queue"},
    {.key = "durability", .type = PP_CFG_ENUM, .offset = offsetof(pp_queue_cfg, durability),
     .choices = durabilities,
     .help = "pipit extension, with storage: spill (disk when the backend fails or the queue is "
             "full, and at shutdown) or always (on disk before the receiver answers)"},
    {.key = "replay_rate_limit", .type = PP_CFG_INT,
     .offset = offsetof(pp_queue_cfg, replay_rate_limit), .min = 0, .max = INT64_MAX,
     .help = "pipit extension, with storage: items per second read back from disk (0: no cap)"},
    {.key = "max_bytes", .type = PP_CFG_INT, .offset = offsetof(pp_queue_cfg, max_bytes),
     .min = 0, .max = INT64_MAX,
     .help = "pipit extension: bytes of requests held in memory (0: no cap); past it the queue "
             "counts as full"},
    {.key = "sizer", .type = PP_CFG_IGNORED},
    {.key = "blocking", .type = PP_CFG_IGNORED},
    {.key = "block_on_overflow", .type = PP_CFG_IGNORED},
    {.key = "wait_for_result", .type = PP_CFG_IGNORED},
    {0},
};

const pp_cfg_field pp_retry_schema[] = {
    {.key = "enabled", .type = PP_CFG_BOOL, .offset = offsetof(pp_retry_cfg, enabled)},
    {.key = "initial_interval", .type = PP_CFG_DURATION,
     .offset = offsetof(pp_retry_cfg, initial_interval_ns), .min = 1, .max = INT64_MAX,
     .help = "first backoff"},
    {.key = "max_interval", .type = PP_CFG_DURATION,
     .offset = offsetof(pp_retry_cfg, max_interval_ns), .min = 1, .max = INT64_MAX,
     .help = "cap on the backoff before jitter"},
    {.key = "multiplier", .type = PP_CFG_FLOAT, .offset = offsetof(pp_retry_cfg, multiplier),
     .help = "backoff growth per attempt"},
    {.key = "randomization_factor", .type = PP_CFG_FLOAT,
     .offset = offsetof(pp_retry_cfg, randomization_factor),
     .help = "jitter: the delay is interval x [1-f, 1+f]"},
    {.key = "max_elapsed_time", .type = PP_CFG_DURATION,
     .offset = offsetof(pp_retry_cfg, max_elapsed_time_ns), .min = 0, .max = INT64_MAX,
     .help = "give up this long after the first failure (0: never)"},
    {0},
};

const pp_cfg_field pp_breaker_schema[] = {
    {.key = "enabled", .type = PP_CFG_BOOL, .offset = offsetof(pp_breaker_cfg, enabled)},
    {.key = "failure_threshold", .type = PP_CFG_INT,
     .offset = offsetof(pp_breaker_cfg, failure_threshold), .min = 1, .max = 1000000,
     .help = "consecutive failed attempts that open the breaker"},
    {.key = "cool_down", .type = PP_CFG_DURATION, .offset = offsetof(pp_breaker_cfg, cool_down_ns),
     .min = 1, .max = INT64_MAX, .help = "wait this long before a probe"},
    {0},
};

void pp_exporter_cfg_defaults(pp_exporter_cfg *c) {
    c->sending_queue = (pp_queue_cfg){.enabled = true, .num_consumers = 10, .queue_size = 1000,
                                      .max_bytes = 128 << 20};
    c->retry_on_failure = (pp_retry_cfg){.enabled = true,
                                         .initial_interval_ns = 5 * SEC,
                                         .max_interval_ns = 30 * SEC,
                                         .multiplier = 1.5,
                                         .randomization_factor = 0.5,
                                         .max_elapsed_time_ns = 300 * SEC};
    c->circuit_breaker = (pp_breaker_cfg){.enabled = true, .failure_threshold = 5,
                                          .cool_down_ns = 10 * SEC};
}

size_t pp_exporter_cfg_validate(const pp_exporter_cfg *c, const char *path, pp_diag *d) {
    size_t errors = 0;
    char p[512];
    if (c->sending_queue.storage && !c->sending_queue.enabled) {
        /* Without a queue there is nothing to make durable: say so rather than ignore it. */
        snprintf(p, sizeof(p), "%s.sending_queue.storage", path);
        pp_diag_error(d, p, 0, "a storage needs the sending queue (sending_queue.enabled: true)");
        errors++;
    }
    if (!c->sending_queue.storage &&
        (c->sending_queue.durability || c->sending_queue.replay_rate_limit)) {
        snprintf(p, sizeof(p), "%s.sending_queue", path);
        pp_diag_error(d, p, 0, "durability and replay_rate_limit need sending_queue.storage");
        errors++;
    }
    const pp_retry_cfg *r = &c->retry_on_failure;
    snprintf(p, sizeof(p), "%s.retry_on_failure", path);
    if (r->multiplier < 1.0) {
        pp_diag_error(d, p, 0, "multiplier must be at least 1 (got %g)", r->multiplier);
        errors++;
    }
    if (r->randomization_factor < 0.0 || r->randomization_factor > 1.0) {
        pp_diag_error(d, p, 0, "randomization_factor must be between 0 and 1 (got %g)",
                      r->randomization_factor);
        errors++;
    }
    if (r->max_interval_ns < r->initial_interval_ns) {
        pp_diag_error(d, p, 0, "max_interval must be at least initial_interval");
        errors++;
    }
    return errors;
}
