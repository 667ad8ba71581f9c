/* http_deadline.c -- see http_deadline.h. */
#include "http_deadline.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

struct pp_http_conn_deadline {
    int fd;
    int64_t due_ns; /* 0: a request is being served */
    bool cut;
    pp_http_conn_deadline *prev, *next;
};

struct pp_http_deadlines {
    int64_t timeout_ns, tick_ns;
    pp_counter *cut;
    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;
    bool stop;
    pp_http_conn_deadline *conns;
    pthread_t thread;
};

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *reaper(void *arg) {
    pp_http_deadlines *d = arg;
    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        if (!d->conns) { /* nothing to watch: sleep until a connection opens */
            pthread_cond_wait(&d->cv, &d->mu);
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t wake = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + d->tick_ns;
        ts.tv_sec = (time_t)(wake / 1000000000);
        ts.tv_nsec = (long)(wake % 1000000000);
        pthread_cond_timedwait(&d->cv, &d->mu, &ts);
        int64_t now = mono_ns();
        for (pp_http_conn_deadline *c = d->conns; c; c = c->next) {
            if (c->cut || c->due_ns == 0 || now < c->due_ns) continue;
            /* Still registered, so MHD has not closed the fd yet (it tells us
             * first, under this mutex): the fd is this connection's. */
            shutdown(c->fd, SHUT_RDWR);
            c->cut = true;
            if (d->cut) pp_counter_add(d->cut, 1);
        }
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

pp_http_deadlines *pp_http_deadlines_new(int64_t timeout_ns, int64_t tick_ns, pp_counter *cut) {
    pp_http_deadlines *d = calloc(1, sizeof(*d));
    if (!d) return NULL;
    d->timeout_ns = timeout_ns;
    d->tick_ns = tick_ns;
    d->cut = cut;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&d->mu, NULL);
    if (pthread_create(&d->thread, NULL, reaper, d) != 0) {
        pthread_cond_destroy(&d->cv);
        pthread_mutex_destroy(&d->mu);
        free(d);
        return NULL;
    }
    return d;
}

void pp_http_deadlines_free(pp_http_deadlines *d) {
    if (!d) return;
    pthread_mutex_lock(&d->mu);
    d->stop = true;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->thread, NULL);
    while (d->conns) { /* connections MHD never reported closed */
        pp_http_conn_deadline *c = d->conns;
        d->conns = c->next;
        free(c);
    }
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

pp_http_conn_deadline *pp_http_deadline_open(pp_http_deadlines *d, int fd) {
    pp_http_conn_deadline *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->fd = fd;
    c->due_ns = mono_ns() + d->timeout_ns;
    pthread_mutex_lock(&d->mu);
    if (!d->conns) pthread_cond_signal(&d->cv); /* the reaper sleeps without connections */
    c->next = d->conns;
    if (d->conns) d->conns->prev = c;
    d->conns = c;
    pthread_mutex_unlock(&d->mu);
    return c;
}

void pp_http_deadline_request(pp_http_deadlines *d, pp_http_conn_deadline *c) {
    if (!c) return;
    pthread_mutex_lock(&d->mu);
    c->due_ns = 0;
    pthread_mutex_unlock(&d->mu);
}

void pp_http_deadline_done(pp_http_deadlines *d, pp_http_conn_deadline *c) {
    if (!c) return;
    int64_t due = mono_ns() + d->timeout_ns;
    pthread_mutex_lock(&d->mu);
    c->due_ns = due;
    pthread_mutex_unlock(&d->mu);
}

void pp_http_deadline_close(pp_http_deadlines *d, pp_http_conn_deadline *c) {
    if (!c) return;
    pthread_mutex_lock(&d->mu);
    if (c->prev) c->prev->next = c->next;
    else d->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    pthread_mutex_unlock(&d->mu);
    free(c);
}
