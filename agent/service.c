/* service.c -- building, starting and stopping the component graph; see service.h. */
#include "service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "fanout.h"
#include "log.h"
#include "storage.h"

typedef struct instance {
    const pp_component_cfg *cfg;
    const pp_pipeline_cfg *pipeline; /* processors only */
    void *inst;
    bool started, stopped;
    char health_id[192];
} instance;

/* Where the data of a receiver (or of a connector acting as one) goes, per signal. */
typedef struct entry {
    const char *id;
    pp_fanout fan[PP_SIGNAL_COUNT];
} entry;

struct pp_service {
    const pp_config *cfg;
    pp_host *host;
    instance *insts; /* in start order */
    size_t ninsts;
    entry *entries; /* one per receiver or connector id */
    size_t nentries;
    pp_fanout *exporter_fans; /* one per pipeline */
    bool shut;
};

static entry *entry_for(pp_service *s, const char *id) {
    for (size_t i = 0; i < s->nentries; i++)
        if (strcmp(s->entries[i].id, id) == 0) return &s->entries[i];
    return NULL;
}

static instance *find_instance(pp_service *s, pp_kind kind, const char *id, const char *pipeline) {
    for (size_t i = 0; i < s->ninsts; i++) {
        instance *in = &s->insts[i];
        if (in->cfg->kind != kind || strcmp(in->cfg->id, id) != 0) continue;
        if (pipeline && (!in->pipeline || strcmp(in->pipeline->id, pipeline) != 0)) continue;
        return in;
    }
    return NULL;
}

void *pp_service_instance(pp_service *s, pp_kind kind, const char *id, const char *pipeline) {
    instance *in = find_instance(s, kind, id, pipeline);
    return in ? in->inst : NULL;
}

pp_server_auth *pp_host_authenticator(pp_host *h, const char *id) {
    if (!h->service) return NULL;
    instance *in = find_instance(h->service, PP_EXTENSION, id, NULL);
    if (!in || !in->started || !in->cfg->factory->authenticator) return NULL;
    return in->inst; /* an authenticator's instance starts with its pp_server_auth */
}

pp_store *pp_host_storage(pp_host *h, const char *id) {
    if (!h->service) return NULL;
    instance *in = find_instance(h->service, PP_EXTENSION, id, NULL);
    if (!in || !in->started || !in->cfg->factory->storage) return NULL;
    return *(pp_store **)in->inst; /* a storage's instance starts with its pp_store * */
}

/* Receivers may also name connectors, and exporters may name connectors. */
static const pp_component_cfg *lookup(const pp_config *c, pp_kind kind, const char *id) {
    const pp_component_cfg *cc = pp_config_find(c, kind, id);
    return cc ? cc : pp_config_find(c, PP_CONNECTOR, id);
}

/* Puts "prefix: " in front of st's message (truncating the end if needed). */
static void prefix_status(pp_status *st, const char *prefix) {
    char msg[sizeof(st->msg)];
    memcpy(msg, st->msg, sizeof(msg));
    msg[sizeof(msg) - 1] = '\0';
    size_t n = strlen(prefix);
    if (n > sizeof(st->msg) - 3) n = sizeof(st->msg) - 3;
    memcpy(st->msg, prefix, n);
    memcpy(st->msg + n, ": ", 2);
    size_t room = sizeof(st->msg) - n - 3, len = strlen(msg);
    if (len > room) len = room;
    memcpy(st->msg + n + 2, msg, len);
    st->msg[n + 2 + len] = '\0';
}

static instance *create(pp_service *s, const pp_component_cfg *cc, const pp_pipeline_cfg *pl,
                        pp_consumer *next, pp_status *st) {
    pp_create_params p = {.id = cc->id, .config = cc->config, .host = s->host};
    if (pl) {
        p.signal = pl->signal;
        p.next[pl->signal] = next;
    }
    /* Receivers and connectors emit into their entry fan-outs (those with members). */
    if (cc->kind == PP_RECEIVER || cc->kind == PP_CONNECTOR) {
        entry *e = entry_for(s, cc->id);
        for (int sig = 0; sig < PP_SIGNAL_COUNT; sig++)
            if (e && e->fan[sig].count > 0) p.next[sig] = &e->fan[sig].base;
    }
    instance *in = &s->insts[s->ninsts];
    memset(in, 0, sizeof(*in));
    in->cfg = cc;
    in->pipeline = pl;
    if (pl)
        snprintf(in->health_id, sizeof(in->health_id), "%s/%s@%s", pp_kind_name(cc->kind), cc->id,
                 pl->id);
    else
        snprintf(in->health_id, sizeof(in->health_id), "%s/%s", pp_kind_name(cc->kind), cc->id);
    in->inst = cc->factory->create(&p, st);
    if (!in->inst) {
        if (st->code == PP_OK) pp_fail(st, PP_INTERNAL, "create failed");
        prefix_status(st, in->health_id);
        return NULL;
    }
    s->ninsts++;
    return in;
}

/* The pipelines in an order where a pipeline fed by a connector comes before
 * the pipelines that export into that connector, so that start order (and the
 * reverse shutdown order) follows the data. Returns -1 on a cycle. */
static int pipeline_order(const pp_config *c, size_t *order) {
    size_t n = c->npipelines, done = 0;
    bool *placed = calloc(n ? n : 1, sizeof(bool));
    if (!placed) return -1;
    while (done < n) {
        bool progress = false;
        for (size_t i = 0; i < n; i++) {
            if (placed[i]) continue;
            /* i may go once every pipeline fed by i's connectors is placed. */
            bool ready = true;
            const pp_pipeline_cfg *pi = &c->pipelines[i];
            for (size_t e = 0; e < pi->nexporters && ready; e++) {
                if (!pp_config_find(c, PP_CONNECTOR, pi->exporters[e])) continue;
                for (size_t j = 0; j < n && ready; j++) {
                    if (placed[j] || j == i) continue;
                    const pp_pipeline_cfg *pj = &c->pipelines[j];
                    for (size_t r = 0; r < pj->nreceivers; r++)
                        if (strcmp(pj->receivers[r], pi->exporters[e]) == 0) ready = false;
                }
            }
            if (ready) {
                placed[i] = true;
                order[done++] = i;
                progress = true;
            }
        }
        if (!progress) break;
    }
    free(placed);
    return done == n ? 0 : -1;
}

static int build_pipeline(pp_service *s, size_t pi, pp_status *st) {
    const pp_config *c = s->cfg;
    const pp_pipeline_cfg *pl = &c->pipelines[pi];
    pp_fanout *fan = &s->exporter_fans[pi];
    for (size_t e = 0; e < pl->nexporters; e++) {
        const pp_component_cfg *cc = lookup(c, PP_EXPORTER, pl->exporters[e]);
        if (!cc) return pp_fail(st, PP_INTERNAL, "exporter %s not configured", pl->exporters[e]);
        instance *in = find_instance(s, cc->kind, cc->id, NULL);
        if (!in && !(in = create(s, cc, NULL, NULL, st))) return -1;
        pp_consumer *cons = cc->factory->consumer ? cc->factory->consumer(in->inst, pl->signal) : NULL;
        if (!cons)
            return pp_fail(st, PP_INTERNAL, "%s takes no %s", in->health_id,
                           pp_signal_name(pl->signal));
        if (pp_fanout_add(fan, cons) != 0) return pp_fail(st, PP_INTERNAL, "out of memory");
    }
    pp_consumer *next = &fan->base;
    for (size_t k = pl->nprocessors; k-- > 0;) {
        const pp_component_cfg *cc = pp_config_find(c, PP_PROCESSOR, pl->processors[k]);
        if (!cc) return pp_fail(st, PP_INTERNAL, "processor %s not configured", pl->processors[k]);
        instance *in = create(s, cc, pl, next, st);
        if (!in) return -1;
        next = cc->factory->consumer(in->inst, pl->signal);
    }
    /* The pipeline's entry joins the fan-out of each of its receivers. */
    for (size_t r = 0; r < pl->nreceivers; r++) {
        entry *en = entry_for(s, pl->receivers[r]);
        if (!en || pp_fanout_add(&en->fan[pl->signal], next) != 0)
            return pp_fail(st, PP_INTERNAL, "receiver %s: cannot wire", pl->receivers[r]);
    }
    return 0;
}

pp_service *pp_service_build(const pp_config *c, pp_host *host, pp_status *st) {
    pp_service *s = calloc(1, sizeof(*s));
    size_t *order = calloc(c->npipelines + 1, sizeof(size_t));
    if (!s || !order) goto oom;
    s->cfg = c;
    s->host = host;
    host->service = s;
    /* Upper bound: every component once plus one processor per pipeline slot. */
    size_t cap = c->ncomponents;
    for (size_t i = 0; i < c->npipelines; i++) cap += c->pipelines[i].nprocessors;
    s->insts = calloc(cap + 1, sizeof(instance));
    s->entries = calloc(c->ncomponents + 1, sizeof(entry));
    s->exporter_fans = calloc(c->npipelines + 1, sizeof(pp_fanout));
    if (!s->insts || !s->entries || !s->exporter_fans) goto oom;
    for (size_t i = 0; i < c->npipelines; i++) pp_fanout_init(&s->exporter_fans[i]);
    for (size_t i = 0; i < c->ncomponents; i++) {
        const pp_component_cfg *cc = &c->components[i];
        if (cc->kind != PP_RECEIVER && cc->kind != PP_CONNECTOR) continue;
        entry *e = &s->entries[s->nentries++];
        e->id = cc->id;
        for (int sig = 0; sig < PP_SIGNAL_COUNT; sig++) pp_fanout_init(&e->fan[sig]);
    }

    for (size_t i = 0; i < c->ncomponents; i++) {
        const pp_component_cfg *cc = &c->components[i];
        bool named = false;
        for (size_t k = 0; k < c->nextensions; k++)
            if (strcmp(c->extensions[k], cc->id) == 0) named = true;
        if (cc->kind == PP_EXTENSION && named && !create(s, cc, NULL, NULL, st)) goto fail;
    }
    if (pipeline_order(c, order) != 0) {
        pp_fail(st, PP_INVALID, "service.pipelines: connectors form a cycle");
        goto fail;
    }
    /* Wire every pipeline first (so receivers' fan-outs are complete), but
     * connectors are created while wiring and see their fan-outs grow. */
    for (size_t i = 0; i < c->npipelines; i++)
        if (build_pipeline(s, order[i], st) != 0) goto fail;
    for (size_t i = 0; i < c->ncomponents; i++) {
        const pp_component_cfg *cc = &c->components[i];
        if (cc->kind == PP_RECEIVER && cc->used && !create(s, cc, NULL, NULL, st)) goto fail;
    }
    free(order);
    return s;
oom:
    pp_fail(st, PP_INTERNAL, "out of memory building the service");
fail:
    free(order);
    pp_service_free(s);
    return NULL;
}

int pp_service_start(pp_service *s, pp_status *st) {
    for (size_t i = 0; i < s->ninsts; i++) {
        instance *in = &s->insts[i];
        pp_health_report(s->host->health, in->health_id, PP_HEALTH_STARTING, NULL);
        if (in->cfg->factory->start && in->cfg->factory->start(in->inst, s->host, st) != 0) {
            prefix_status(st, in->health_id);
            pp_health_report(s->host->health, in->health_id, PP_HEALTH_PERMANENT_ERROR, st->msg);
            pp_service_shutdown(s);
            return -1;
        }
        in->started = true;
        pp_health_report(s->host->health, in->health_id, PP_HEALTH_OK, NULL);
        pp_log_debug("service", "started", "component", in->health_id, NULL);
    }
    return 0;
}

void pp_service_shutdown(pp_service *s) {
    if (!s || s->shut) return;
    s->shut = true;
    for (size_t i = s->ninsts; i-- > 0;) {
        instance *in = &s->insts[i];
        if (!in->started || in->stopped) continue;
        pp_health_report(s->host->health, in->health_id, PP_HEALTH_STOPPING, NULL);
        if (in->cfg->factory->shutdown) in->cfg->factory->shutdown(in->inst, s->host);
        in->stopped = true;
        pp_log_debug("service", "stopped", "component", in->health_id, NULL);
    }
}

void pp_service_free(pp_service *s) {
    if (!s) return;
    if (s->host->service == s) s->host->service = NULL;
    for (size_t i = s->ninsts; i-- > 0;) {
        instance *in = &s->insts[i];
        if (in->inst && in->cfg->factory->destroy) in->cfg->factory->destroy(in->inst);
    }
    for (size_t i = 0; i < s->nentries; i++)
        for (int sig = 0; sig < PP_SIGNAL_COUNT; sig++) pp_fanout_free(&s->entries[i].fan[sig]);
    if (s->exporter_fans)
        for (size_t i = 0; i < s->cfg->npipelines; i++) pp_fanout_free(&s->exporter_fans[i]);
    free(s->exporter_fans);
    free(s->entries);
    free(s->insts);
    free(s);
}
