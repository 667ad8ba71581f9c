/* storage.h -- the durable queue behind exporters: one SQLite database per
 * storage directory (the sqlite_storage extension owns it), holding encoded
 * export requests as rows until the backend accepted them.
 *
 * File format (table `queue`, SQLite WAL mode, PRAGMA user_version 1):
 *   seq INTEGER PRIMARY KEY   order of arrival = replay order (FIFO)
 *   exporter TEXT             exporter id ("otlp/jaeger")
 *   signal, shard, items      as in pp_export_request
 *   attempts                  sends tried so far
 *   first_failure_unix_ns     wall clock of the first failed send (0: none)
 *   enqueued_unix_ns          wall clock when the request was first queued
 *   codec                     0: body as the exporter encoded it; 1: zstd of it
 *   body BLOB
 *
 * Writes go through one writer thread with group commit: put, ack (delete)
 * and nack (attempt count) are queued to it, and it applies everything queued
 * in one transaction. A put that needs durability waits for its commit;
 * deletes and attempt counts are applied within a few milliseconds but
 * nobody waits for them (a crash before that replays a delivered row: at
 * least once). Reads (bodies for replay) use a second connection; a row is
 * handed out only once it is committed.
 *
 * An in-memory index of every row (no bodies) gives FIFO per exporter, shard
 * exclusion, quota accounting and telemetry without queries.
 *
 * Thread safety: every function may be called from any thread. */
#ifndef PIPIT_STORAGE_H
#define PIPIT_STORAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "component.h"
#include "exporter.h"

typedef enum pp_store_fsync { PP_FSYNC_ALWAYS, PP_FSYNC_BATCH, PP_FSYNC_OFF } pp_store_fsync;
typedef enum pp_store_full { PP_FULL_DROP_OLDEST, PP_FULL_REFUSE } pp_store_full;

typedef struct pp_store_opts {
    const char *id;        /* the extension id, label storage=<id> */
    const char *directory; /* created if missing */
    pp_store_fsync fsync;
    uint64_t max_bytes;    /* quota on stored rows (bodies plus a fixed overhead each) */
    pp_store_full when_full;
    double degraded_ratio; /* health turns degraded at this fill (0..1] */
    pp_metrics *metrics;   /* may be NULL (tests) */
    pp_health *health;     /* may be NULL */
} pp_store_opts;

typedef struct pp_store pp_store;

/* The database file inside the directory. */
#define PP_STORE_FILE "pipit-queue.db"

/* Opens (or creates) the database: integrity check, quarantine of a corrupt
 * file (renamed to <file>.corrupt-<unix seconds>, logged at error level and
 * counted), then the index of the rows a previous run left. */
pp_store *pp_store_open(const pp_store_opts *o, pp_status *st);
/* Commits everything queued, then closes. Queues must be detached first. */
void pp_store_close(pp_store *s);

/* Waits until everything queued so far (puts, acks, nacks) is committed. */
void pp_store_flush(pp_store *s);

/* Exporter ids with rows that no queue attached (logged at warn level, and
 * gauge pipit_storage_unconfigured_batches). Returns how many ids. */
size_t pp_store_report_unclaimed(pp_store *s);

/* Corrupt files moved aside since open (this process). */
uint64_t pp_store_quarantined(const pp_store *s);

/* ---- the queue of one exporter ----
 *
 * A pp_queue_storage (exporter.h) over the exporter's rows. put() takes
 * ownership of r (its body is copied, zstd-compressed when that makes it
 * smaller); with `durable` it returns only once the row is committed. It
 * refuses (-1) when the quota is full and when_full is refuse, or when
 * drop_oldest cannot free enough (every older row is in flight).
 * Requests handed out by peek have batch == NULL (they cannot be split on
 * TOO_LARGE), seq set, and first_failure_ns 0 (each dequeue gets a fresh
 * retry window; the row keeps the first failure time). */
typedef struct pp_store_queue_opts {
    const char *exporter;   /* id; one queue per id */
    const char *component;  /* "exporter/<id>": drop counters */
    bool durable;           /* put waits for its commit */
    double replay_rate;     /* items per second handed out by peek; 0 = no cap */
} pp_store_queue_opts;

pp_queue_storage *pp_store_queue(pp_store *s, const pp_store_queue_opts *o, pp_status *st);

/* Sequence numbers give the order of every request of an exporter, in memory
 * or on disk: a request spilled later keeps its place. */
uint64_t pp_store_next_seq(pp_store *s);

/* Rows (and stored bytes) of the queue q / of the whole store. */
size_t pp_store_queue_bytes(pp_queue_storage *q);
uint64_t pp_store_bytes(pp_store *s);
uint64_t pp_store_rows(pp_store *s);
/* Lowest seq of a committed row of q that peek could hand out now
 * (shard not in *busy), 0 when none. busy(arg, shard) tells whether a shard
 * is in flight elsewhere (the memory tier). */
uint64_t pp_store_queue_head(pp_queue_storage *q, bool (*busy)(void *arg, uint64_t shard), void *arg);
/* peek() with the same extra exclusion. */
pp_export_request *pp_store_queue_take(pp_queue_storage *q, bool (*busy)(void *arg, uint64_t shard),
                                       void *arg);
/* Whether q stores a row of shard with a lower seq (in flight or not). */
bool pp_store_queue_has_older(pp_queue_storage *q, uint64_t shard, uint64_t seq);
/* How long until the replay rate cap lets the next row go (0: now). */
int64_t pp_store_queue_wait_ns(pp_queue_storage *q);

/* The storage extension with this id (its instance starts with a
 * pp_store *), or NULL. Valid from start() on. */
pp_store *pp_host_storage(pp_host *h, const char *id);

/* ---- spill mode: a memory queue in front of a store queue ----
 *
 * put: to memory while it has room (`capacity` requests) and the backend is
 * not failing; otherwise to disk. peek: the oldest (lowest seq) request of
 * either tier whose shard is free in both. nack: a memory request goes to
 * disk (keeping its seq); a disk one stays where it is (attempts counted).
 * Not thread-safe (called under the exporter's lock, like every queue). */
pp_queue_storage *pp_queue_storage_spill(pp_store *s, pp_queue_storage *disk, size_t capacity,
                                         size_t max_bytes);
/* Backend failing (true) or answering again: while failing, puts go to disk,
 * and setting it moves every queued memory request to disk. */
void pp_spill_set_failing(pp_queue_storage *q, bool failing);
/* Moves what is queued in memory (not in flight) to disk; returns how many
 * could not be stored (quota). */
size_t pp_spill_to_disk(pp_queue_storage *q);
/* Takes the oldest request queued in memory (for dropping what the disk
 * refused at shutdown); NULL when none. */
pp_export_request *pp_spill_pop_memory(pp_queue_storage *q);

#endif
