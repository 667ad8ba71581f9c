/* exporter.h -- the machinery every network exporter shares: sending queue,
 * retry with backoff, splitting on "too large", circuit breaker, telemetry
 * and a bounded drain at shutdown. otlp and otlphttp use it now;
 * prometheusremotewrite and sentry will.
 *
 * Design
 * ------
 * An exporter supplies two operations (pp_exporter_ops):
 *   encode(batch) -> one or more pp_export_request: the body is encoded and
 *       compressed ONCE; a retry resends the same bytes.
 *   send(request) -> pp_send_result: OK (maybe with items the peer rejected),
 *       RETRY (maybe with the server's delay), PERMANENT (with its message),
 *       or TOO_LARGE.
 * Everything else lives here:
 *
 *   consume() -- encode on the caller's thread --> queue (pp_queue_storage)
 *        --> num_consumers threads: take the oldest request whose shard is
 *            not in flight --> breaker permit --> send --> outcome:
 *              OK          count sent (and rejected items as send_failed)
 *              RETRY       backoff with jitter (server delay wins) and send
 *                          again, until max_elapsed_time: drop "retries_exhausted"
 *              PERMANENT   drop "permanent_error", log the server's message
 *              TOO_LARGE   halve the batch, encode and send each half in
 *                          order; one item still too large: drop "too_large"
 *   ops->max_request_bytes: a request whose batch encodes larger is halved
 *   the same way in consume(), before it is queued, so the peer never sees it
 *              HOLD        the backend paused this kind of request (Sentry's
 *                          rate limits): not a failure; the request waits,
 *                          still stored, until ops->hold lets it go
 *
 * - The queue holds requests, not batches (Collector semantics: queue_size
 *   counts requests). When it is full, consume() refuses with PP_UNAVAILABLE
 *   so that the receiver answers 503 / UNAVAILABLE and the SDK retries.
 *   With sending_queue.enabled false, consume() delivers on the caller's
 *   thread and a failure to deliver travels back as the refusal.
 * - Shards: a request with shard != 0 is never in flight at the same time as
 *   another request of its shard, and requests of one shard leave in queue
 *   order (a retry keeps the shard busy). prometheusremotewrite shards by
 *   series for in-order samples; OTLP uses shard 0 (no ordering).
 * - Retries run on the consumer thread that took the request, so a request
 *   under retry counts in the queue's in-flight set and its shard stays busy.
 * - Circuit breaker (pipit extension `circuit_breaker:`): after
 *   failure_threshold consecutive retryable failures it opens; consumers then
 *   wait instead of sending, the queue fills and receivers refuse new data.
 *   After cool_down one probe is let through (half-open); success closes the
 *   breaker, failure reopens it with the cool-down doubled (up to
 *   max(cool_down, retry max_interval)). State: gauge
 *   pipit_exporter_circuit_state (0 closed, 1 half-open, 2 open) and health
 *   (RECOVERABLE_ERROR with the last error while not closed, OK when closed).
 * - Holds (ops->hold, optional): before sending a request the exporter asks
 *   the exporter's hold(r); a positive answer puts r aside in a held list
 *   (still stored and in flight for the storage, so it survives on disk and
 *   counts against queue_size) and the consumer takes the next request. A
 *   send answering HOLD does the same. Held requests go first once hold()
 *   answers 0 again. So a paused class of requests (Sentry errors) neither
 *   occupies consumer threads nor delays other classes (transactions), is
 *   never dropped for it, never counts as a failure for the breaker or for
 *   max_elapsed_time, and its time held is not retried in a loop. Gauge
 *   pipit_exporter_held_requests. Without a queue (sync) a hold is a
 *   refusal with the delay as retry_after.
 * - Shutdown: consume() refuses; consumers keep sending (retries included)
 *   until host->shutdown_deadline_ns; a send in progress is aborted at the
 *   deadline; what is left is dropped with reason "shutdown_deadline".
 *
 * Storage: the queue is reached only through pp_queue_storage (put / peek /
 * ack / nack). Without `sending_queue.storage` it is the in-memory FIFO
 * (pp_queue_storage_memory). With it (storage.h, docs/components/storage.md):
 *   durability spill (default): a memory FIFO in front of the store; requests
 *       go to disk while the breaker is open, when the memory queue is full
 *       (instead of refusing), when retries run out and at shutdown.
 *   durability always: the store itself; consume() returns once the request
 *       is committed, and consumers read it back from disk.
 * With storage, what would be dropped for "retries_exhausted" or
 * "shutdown_deadline" is nacked instead: it stays on (or goes to) disk and is
 * sent again, later or after a restart ("retry until delivered", bounded by
 * the storage quota). otelcol_exporter_queue_size then counts the disk part
 * too (as the Collector's persistent queue does).
 *
 * Threads: consume() from any thread; start/shutdown/destroy on the main one.
 * Telemetry (label exporter=<id>): otelcol_exporter_sent_spans /
 * _metric_points, otelcol_exporter_send_failed_* (items finally not
 * delivered, including rejected ones), otelcol_exporter_enqueue_failed_*,
 * otelcol_exporter_queue_size / _queue_capacity (requests),
 * pipit_exporter_retries, pipit_exporter_circuit_state, and
 * pipit_dropped_items{reason} (drops.h). */
#ifndef PIPIT_EXPORTER_H
#define PIPIT_EXPORTER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "component.h"

/* ---- configuration shared by every exporter ---- */

typedef struct pp_queue_cfg {
    bool enabled;          /* true */
    int64_t num_consumers; /* 10 */
    int64_t queue_size;    /* 1000 requests */
    char *storage;         /* extension id of a storage extension (storage.h), or NULL */
    char *durability;      /* with storage: "spill" (default) or "always" */
    int64_t replay_rate_limit; /* with storage: items/s read back from disk; 0 = no cap */
    int64_t max_bytes;     /* pipit: request bytes held in memory; 0 = no cap (128 MiB) */
} pp_queue_cfg;

typedef struct pp_retry_cfg {
    bool enabled;                 /* true */
    int64_t initial_interval_ns;  /* 5s */
    int64_t max_interval_ns;      /* 30s */
    double multiplier;            /* 1.5 */
    double randomization_factor;  /* 0.5 */
    int64_t max_elapsed_time_ns;  /* 300s; 0 = retry forever */
} pp_retry_cfg;

typedef struct pp_breaker_cfg {
    bool enabled;              /* true */
    int64_t failure_threshold; /* 5 consecutive failed attempts */
    int64_t cool_down_ns;      /* 10s */
} pp_breaker_cfg;

typedef struct pp_exporter_cfg {
    pp_queue_cfg sending_queue;
    pp_retry_cfg retry_on_failure;
    pp_breaker_cfg circuit_breaker;
} pp_exporter_cfg;

/* Schema entries for `sending_queue`, `retry_on_failure` and
 * `circuit_breaker` of a pp_exporter_cfg found at `base` in the exporter's
 * config struct. Use PP_EXPORTER_CFG_FIELDS(struct_type, member) inside a
 * schema table. */
extern const pp_cfg_field pp_queue_schema[];
extern const pp_cfg_field pp_retry_schema[];
extern const pp_cfg_field pp_breaker_schema[];
#define PP_EXPORTER_CFG_FIELDS(T, member)                                                   \
    {.key = "sending_queue", .type = PP_CFG_STRUCT,                                            \
     .offset = offsetof(T, member) + offsetof(pp_exporter_cfg, sending_queue),              \
     .children = pp_queue_schema},                                                             \
    {.key = "retry_on_failure", .type = PP_CFG_STRUCT,                                         \
     .offset = offsetof(T, member) + offsetof(pp_exporter_cfg, retry_on_failure),           \
     .children = pp_retry_schema},                                                             \
    {.key = "circuit_breaker", .type = PP_CFG_STRUCT,                                          \
     .offset = offsetof(T, member) + offsetof(pp_exporter_cfg, circuit_breaker),            \
     .children = pp_breaker_schema, .help = "pipit extension: stop hammering a failing backend"}

void pp_exporter_cfg_defaults(pp_exporter_cfg *c);
/* Cross-field checks; path is the exporter's YAML path. Returns errors added. */
size_t pp_exporter_cfg_validate(const pp_exporter_cfg *c, const char *path, pp_diag *d);

/* ---- requests and results ---- */

typedef struct pp_export_request {
    pp_signal signal;
    size_t items;           /* spans or data points in it */
    pp_batch *batch;        /* owned reference, for halving on TOO_LARGE; may be NULL */
    uint8_t *body;          /* encoded and compressed, malloc'd, owned */
    size_t len;
    uint64_t shard;         /* 0: no ordering; else one in flight per shard, FIFO */
    uint32_t attempts;      /* sends tried so far */
    int64_t first_failure_ns; /* CLOCK_MONOTONIC of the first failed attempt, 0 = none */
    uint64_t seq;           /* queue order given by a durable queue (storage.h); 0 = none */
    struct pp_export_request *next; /* list link (encode output, memory queue) */
} pp_export_request;

/* A request taking ownership of body and a new reference to b (b may be NULL). */
pp_export_request *pp_export_request_new(pp_batch *b, uint8_t *body, size_t len);
void pp_export_request_free(pp_export_request *r);

typedef enum pp_send_outcome {
    PP_SEND_OK,
    PP_SEND_RETRY,     /* transient: timeouts, no connection, UNAVAILABLE, 503 */
    PP_SEND_PERMANENT, /* never retried: bad data, auth, 400, INVALID_ARGUMENT */
    PP_SEND_TOO_LARGE, /* 413 / RESOURCE_EXHAUSTED "larger than max": split */
    PP_SEND_HOLD,      /* paused by the backend (rate limit): wait as ops->hold says */
} pp_send_outcome;

typedef struct pp_send_result {
    pp_send_outcome outcome;
    int64_t retry_after_ns; /* RETRY: the server's delay (RetryInfo, Retry-After); 0 = none */
    int64_t rejected;       /* OK: items the peer rejected (partial success) */
    char msg[256];          /* why, for logs and health (server message, curl error) */
} pp_send_result;

/* Fills res (outcome and message); printf-style. */
void pp_send_result_set(pp_send_result *res, pp_send_outcome o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef struct pp_exporter_ops {
    /* Encodes b into one or more requests (a list through ->next), built with
     * pp_export_request_new. NULL with st set when b cannot be encoded; NULL
     * with st untouched when nothing in b is to be sent (the exporter counts
     * what it left out). */
    pp_export_request *(*encode)(void *ctx, pp_batch *b, pp_status *st);
    /* A connection for one sending thread (a CURL handle), reused across
     * sends; NULL ops = none. */
    void *(*conn_new)(void *ctx);
    void (*conn_free)(void *ctx, void *conn);
    /* Sends r once. Must give up (outcome RETRY) by *abort_at_ns
     * (CLOCK_MONOTONIC ns, may move earlier while sending: the shutdown
     * deadline) and by its own per-attempt timeout. */
    void (*send)(void *ctx, void *conn, const pp_export_request *r,
                 const _Atomic int64_t *abort_at_ns, pp_send_result *res);
    void (*destroy)(void *ctx); /* frees ctx; may be NULL */
    /* Optional. How long r must still wait before it may be sent (ns; 0 or
     * less: now). first is true when r is considered the first time since it
     * was taken from the storage (for counting), false on rechecks. Called
     * with the exporter's lock held: must be quick and must not call back. */
    int64_t (*hold)(void *ctx, const pp_export_request *r, bool first);
    /* Optional. r is given up for reason ("permanent_error", ...), after the
     * exporter counted it: for an exporter's own per-kind accounting. */
    void (*dropped)(void *ctx, const pp_export_request *r, const char *reason);
    /* Optional (0 = no limit). The largest protobuf-encoded (uncompressed)
     * Export*ServiceRequest the peer accepts. A request whose batch encodes
     * larger is halved (pp_batch_halve, then encode again) before it is
     * queued or sent, until every part fits or holds a single item, instead
     * of waiting for the peer's TOO_LARGE. Applies to requests that carry
     * their batch (r->batch) and whose body is that batch's encoding (otlp). */
    size_t max_request_bytes;
} pp_exporter_ops;

/* ---- storage behind the queue ---- */

/* A FIFO of requests with per-shard exclusion. Not thread-safe: the exporter
 * calls it under its lock. Implementations: memory (below), the SQLite store
 * and the spill tier (storage.h). */
typedef struct pp_queue_storage pp_queue_storage;
struct pp_queue_storage {
    /* Takes r (0) or refuses it when full (-1, r still the caller's). */
    int (*put)(pp_queue_storage *q, pp_export_request *r);
    /* The oldest request whose shard is not in flight, marked in flight; NULL
     * when none. It stays stored until ack or nack. */
    pp_export_request *(*peek)(pp_queue_storage *q);
    /* r is done (delivered or given up): removed and freed. */
    void (*ack)(pp_queue_storage *q, pp_export_request *r);
    /* r was not delivered: back at its place for a later peek. */
    void (*nack)(pp_queue_storage *q, pp_export_request *r);
    size_t (*size)(const pp_queue_storage *q); /* stored, including in flight */
    /* Bytes of request bodies held in memory, including in flight (NULL:
     * nothing is held in memory). */
    size_t (*bytes)(const pp_queue_storage *q);
    void (*destroy)(pp_queue_storage *q);      /* frees what is still stored */
};

pp_queue_storage *pp_queue_storage_memory(size_t capacity);

/* ---- backoff and circuit breaker (pure; exposed for tests) ---- */

/* Delay before retry number `attempt` (1 = after the first failure):
 * interval = min(initial * multiplier^(attempt-1), max_interval), then jitter
 * interval * (1 + rf * (2u - 1)) for u in [0,1) (the Collector's
 * randomization: [interval*(1-rf), interval*(1+rf)]). server_delay_ns > 0
 * overrides it. */
int64_t pp_backoff_delay(const pp_retry_cfg *c, uint32_t attempt, double u,
                         int64_t server_delay_ns);

typedef enum pp_breaker_state { PP_BREAKER_CLOSED, PP_BREAKER_HALF_OPEN, PP_BREAKER_OPEN } pp_breaker_state;

typedef struct pp_breaker {
    pp_breaker_cfg cfg;
    int64_t max_cool_down_ns;
    pp_breaker_state state;
    uint32_t failures;       /* consecutive, while closed */
    int64_t cool_down_ns;    /* current (doubles while probes fail) */
    int64_t open_until_ns;   /* OPEN: when the probe may go */
    bool probe_out;          /* HALF_OPEN: the probe is in flight */
} pp_breaker;

void pp_breaker_init(pp_breaker *b, const pp_breaker_cfg *c, int64_t max_cool_down_ns);
/* May a request go now? true (and in half-open it becomes the probe), or
 * false with *wait_ns set to how long to wait before asking again. */
bool pp_breaker_permit(pp_breaker *b, int64_t now_ns, int64_t *wait_ns);
/* The outcome of a permitted attempt: failed = a retryable failure. Returns
 * true if the state changed. */
bool pp_breaker_record(pp_breaker *b, int64_t now_ns, bool failed);
/* A permitted attempt that never happened (shutdown): frees the probe slot. */
void pp_breaker_cancel(pp_breaker *b);

/* ---- the exporter ---- */

typedef struct pp_exporter pp_exporter;

typedef struct pp_exporter_params {
    const char *id;             /* "otlp/jaeger" */
    pp_host *host;
    const pp_exporter_cfg *cfg; /* lives until destroy */
    const pp_exporter_ops *ops;
    void *ctx;                  /* the exporter's own state, passed to ops */
    bool takes_encoded; /* encode() only sizes and packs batches: encoded ones are welcome */
} pp_exporter_params;

/* On failure ctx is NOT freed (the caller still owns it). */
pp_exporter *pp_exporter_new(const pp_exporter_params *p, pp_status *st);

/* Factory glue: a factory's create() returns pp_exporter_new(...) and uses
 * these for start / consumer / shutdown / destroy. */
int pp_exporter_start(void *inst, pp_host *host, pp_status *st);
pp_consumer *pp_exporter_consumer(void *inst, pp_signal s);
void pp_exporter_shutdown(void *inst, pp_host *host);
void pp_exporter_destroy(void *inst);

const char *pp_exporter_component(const pp_exporter *e); /* "exporter/otlp/jaeger" */
pp_breaker_state pp_exporter_circuit_state(pp_exporter *e);
size_t pp_exporter_queue_size(pp_exporter *e); /* queued, including in flight */
size_t pp_exporter_held(pp_exporter *e);       /* put aside by ops->hold */

#endif
