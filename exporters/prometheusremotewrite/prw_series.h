/* prw_series.h -- label sets and the table of series a translation builds.
 *
 * Internal to the remote-write translator. A label set is built on the heap
 * from strings that live in the arena; the table merges points into one
 * series per distinct (sorted) label set and finally moves everything into a
 * WriteRequest in the arena. */
#ifndef PIPIT_PRW_SERIES_H
#define PIPIT_PRW_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "prometheus/remote.pb-c.h"

typedef struct pp_prw_lbl { const char *name, *value; } pp_prw_lbl;

/* Unsorted, names unique. oom turns true when an insert failed. */
typedef struct pp_prw_lset { pp_prw_lbl *v; size_t n, cap; bool oom; } pp_prw_lset;

const char *pp_prw_lset_get(const pp_prw_lset *s, const char *name);
/* Sets name to value, replacing an existing value. */
void pp_prw_lset_set(pp_prw_lset *s, const char *name, const char *value);
/* Adds name only when it is not there yet. */
void pp_prw_lset_add_absent(pp_prw_lset *s, const char *name, const char *value);
/* dst becomes a copy of src (dst's old content is dropped). */
void pp_prw_lset_copy(pp_prw_lset *dst, const pp_prw_lset *src);
void pp_prw_lset_free(pp_prw_lset *s);

/* Sorts by name (bytewise). */
void pp_prw_lset_sort(pp_prw_lset *s);
/* Arena copies of l[0..n) as Prometheus labels, in that order. NULL on OOM. */
Prometheus__Label **pp_prw_labels_new(pp_arena *a, const pp_prw_lbl *l, size_t n);

/* Hash of sorted labels (FNV-1a over name and value, each ended by 0xff,
 * a byte UTF-8 never contains). */
uint64_t pp_prw_labels_hash(Prometheus__Label *const *labels, size_t n);

typedef struct pp_prw_series pp_prw_series;
typedef struct pp_prw_table pp_prw_table;

pp_prw_table *pp_prw_table_new(pp_arena *a);
void pp_prw_table_free(pp_prw_table *t);

/* The series of this label set (sorted by name, empty values dropped),
 * created when new (*created set). NULL on OOM. */
pp_prw_series *pp_prw_table_series(pp_prw_table *t, const pp_prw_lset *labels, bool *created);
/* Appends; 0 or -1 on OOM. */
int pp_prw_series_add_sample(pp_prw_table *t, pp_prw_series *s, double value, int64_t ts_ms);
int pp_prw_series_add_exemplar(pp_prw_series *s, Prometheus__Exemplar *e);
int pp_prw_series_add_histogram(pp_prw_series *s, Prometheus__Histogram *h);

/* Number of series so far. */
size_t pp_prw_table_count(const pp_prw_table *t);

/* Fills req->timeseries in creation order; samples, histograms and exemplars
 * of a series are stably sorted by timestamp, as remote write requires.
 * With hashes set, *hashes becomes an arena array (NULL when there are no
 * series): hashes[i] == pp_prw_labels_hash of req->timeseries[i], computed
 * once by the lookup, so that sharding need not hash every series again.
 * 0 or -1 on OOM. */
int pp_prw_table_finish(pp_prw_table *t, Prometheus__WriteRequest *req, const uint64_t **hashes);

#endif
