/* component.h -- the contract between pipit's core and its components.
 *
 * Every receiver, processor, exporter, connector and extension is a factory
 * registered under its type name. The core decodes the component's config with
 * the factory's schema, creates one instance, starts it, feeds it batches
 * through its consumer, and finally shuts it down and destroys it.
 *
 * Instances: receivers, exporters, connectors and extensions have one instance
 * per component id, shared by every pipeline that names them (as in the
 * Collector). Processors have one instance per pipeline.
 *
 * Threads: consume() may be called from any thread at once. start() and
 * shutdown() run on the main thread, which runs host->loop (libuv), so a
 * component may create uv timers in start() and close them in shutdown(). */
#ifndef PIPIT_COMPONENT_H
#define PIPIT_COMPONENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "config_schema.h"
#include "health.h"
#include "status.h"
#include "telemetry.h"

typedef struct uv_loop_s uv_loop_t;

typedef enum pp_kind {
    PP_RECEIVER,
    PP_PROCESSOR,
    PP_EXPORTER,
    PP_CONNECTOR,
    PP_EXTENSION,
    PP_KIND_COUNT
} pp_kind;

const char *pp_kind_name(pp_kind k);   /* "receiver" */
const char *pp_kind_plural(pp_kind k); /* "receivers" (the YAML section) */

/* Something that takes batches. consume() borrows b (see batch.h): it returns 0
 * once the data is safely taken (processed, or in a queue that will deliver it
 * or count its loss), or -1 with st set. A refusal (PP_UNAVAILABLE) travels
 * back to the receiver, which asks the client to retry. */
typedef struct pp_consumer pp_consumer;
struct pp_consumer {
    int (*consume)(pp_consumer *self, pp_batch *b, pp_status *st);
    /* Also takes encoded batches (batch.h): set by components that only
     * forward data and whose every downstream consumer takes them too. Set
     * when the component is created (its next consumers exist by then). */
    bool takes_encoded;
};

static inline int pp_consume(pp_consumer *c, pp_batch *b, pp_status *st) {
    return c->consume(c, b, st);
}

typedef struct pp_admission pp_admission; /* admission.h */
typedef struct pp_server_auth pp_server_auth; /* auth.h */

typedef struct pp_host {
    uv_loop_t *loop;     /* the main loop: timers and signals */
    pp_metrics *metrics; /* self-telemetry registry */
    pp_health *health;
    pp_admission *admission;      /* memory budget receivers check before decoding */
    struct pp_service *service;   /* set by the service; see pp_host_authenticator */
    int64_t shutdown_deadline_ns; /* set before shutdown(): CLOCK_MONOTONIC ns */
} pp_host;

/* The authenticator extension with this id, or NULL (not configured, not
 * started, or not an authenticator). Valid from start() on. */
pp_server_auth *pp_host_authenticator(pp_host *h, const char *id);

typedef struct pp_create_params {
    const char *id;     /* "otlp/jaeger" */
    const void *config; /* the decoded config struct (lives until destroy) */
    pp_host *host;
    /* Processors: the signal of their pipeline, and next[signal] to feed.
     * Receivers and connectors: next[s] for every signal s that has a pipeline
     * (NULL when none: the receiver answers UNIMPLEMENTED for it). */
    pp_signal signal;
    pp_consumer *next[PP_SIGNAL_COUNT];
} pp_create_params;

typedef struct pp_factory {
    pp_kind kind;
    const char *type;  /* "otlp" */
    const char *alias; /* another accepted spelling ("otlp_grpc"), or NULL */
    unsigned signals;  /* PP_SIG_BIT() mask of signals it takes (connectors: as exporter) */
    unsigned out_signals; /* connectors: signals it emits (as receiver) */
    bool authenticator;   /* extensions: the instance starts with a pp_server_auth */
    bool storage;         /* extensions: the instance starts with a pp_store * (storage.h) */

    size_t config_size;
    const pp_cfg_field *schema;
    void (*config_defaults)(void *cfg);                     /* may be NULL */
    size_t (*config_validate)(const void *cfg, const char *path, pp_diag *d); /* errors added */

    void *(*create)(const pp_create_params *p, pp_status *st);
    int (*start)(void *inst, pp_host *host, pp_status *st); /* may be NULL */
    /* Processors, exporters, connectors: where batches of signal s go in. */
    pp_consumer *(*consumer)(void *inst, pp_signal s);
    /* Stop taking data, then deliver or persist what is held, until
     * host->shutdown_deadline_ns. May run the loop (uv_run NOWAIT) while waiting. */
    void (*shutdown)(void *inst, pp_host *host);
    void (*destroy)(void *inst);
} pp_factory;

/* The registry of all built-in factories (registry.c). */
const pp_factory *pp_registry_find(pp_kind kind, const char *type);
/* For listings: returns the i-th factory, NULL past the end. */
const pp_factory *pp_registry_at(size_t i);
/* Tests only: factories looked up after the built-in ones (list must outlive use). */
void pp_registry_set_extra(const pp_factory *const *list, size_t n);

#endif
