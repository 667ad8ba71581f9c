/* Unit tests: the durable store (agent/storage.h) and the spill tier --
 * crash points between write and ack (closing without ack, then reopening),
 * group commit under four writer threads, quota accounting (drop_oldest and
 * refuse), quarantine of a corrupt file, rows of unconfigured exporters,
 * attempt counts across restarts, and FIFO per shard across memory and disk. */
#include "testutil.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drops.h"
#include "log.h"
#include "storage.h"

typedef struct fx {
    char dir[256];
    pp_metrics *m;
} fx;

static int setup(void **state) {
    fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/pipit-storage-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->m = pp_metrics_new();
    pp_log_setup(PP_LOG_OFF, PP_LOG_JSON);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    pp_metrics_free(f->m);
    free(f);
    return 0;
}

static pp_store *open_store(fx *f, uint64_t max_bytes, pp_store_full full) {
    pp_store_opts o = {.id = "sqlite_storage", .directory = f->dir, .fsync = PP_FSYNC_BATCH,
                       .max_bytes = max_bytes, .when_full = full, .degraded_ratio = 0.8,
                       .metrics = f->m};
    pp_status st = {0};
    pp_store *s = pp_store_open(&o, &st);
    if (!s) fail_msg("open: %s", st.msg);
    return s;
}

static pp_queue_storage *queue(pp_store *s, const char *id, bool durable) {
    pp_store_queue_opts o = {.exporter = id, .durable = durable};
    pp_status st = {0};
    pp_queue_storage *q = pp_store_queue(s, &o, &st);
    if (!q) fail_msg("queue: %s", st.msg);
    return q;
}

/* A request whose body is "<tag>" followed by filler (random filler does not
 * compress, so its stored size is predictable). */
static pp_export_request *req(uint32_t tag, size_t len, uint64_t shard, bool random) {
    uint8_t *b = malloc(len);
    uint64_t rs = tag + 1;
    for (size_t i = 0; i < len; i++) b[i] = random ? (uint8_t)tu_rand(&rs) : (uint8_t)(i % 7);
    memcpy(b, &tag, sizeof(tag));
    pp_export_request *r = pp_export_request_new(NULL, b, len);
    r->signal = PP_TRACES;
    r->items = 100;
    r->shard = shard;
    return r;
}

static uint32_t tag_of(const pp_export_request *r) {
    uint32_t t;
    memcpy(&t, r->body, sizeof(t));
    return t;
}

/* Written, taken, never acked, store closed (the crash): every row comes back, in order. */
static void test_crash_between_write_and_ack(void **state) {
    fx *f = *state;
    pp_store *s = open_store(f, 1 << 30, PP_FULL_DROP_OLDEST);
    pp_queue_storage *q = queue(s, "otlp", true);
    for (uint32_t i = 0; i < 3; i++) assert_int_equal(q->put(q, req(i, 1000, 0, false)), 0);
    pp_export_request *r = q->peek(q);
    assert_non_null(r);
    assert_int_equal(tag_of(r), 0);
    q->destroy(q);
    pp_store_close(s);

    s = open_store(f, 1 << 30, PP_FULL_DROP_OLDEST);
    assert_int_equal(pp_store_rows(s), 3);
    q = queue(s, "otlp", false);
    for (uint32_t i = 0; i < 3; i++) {
        r = q->peek(q);
        assert_non_null(r);
        assert_int_equal(tag_of(r), i);
        assert_int_equal(r->len, 1000);
        assert_int_equal(r->items, 100);
        for (size_t k = 4; k < 1000; k++) assert_int_equal(r->body[k], k % 7);
        q->ack(q, r);
    }
    assert_null(q->peek(q));
    q->destroy(q);
    pp_store_close(s);
}

/* Acked, then the crash: the row is not replayed. */
static void test_ack_then_crash(void **state) {
    fx *f = *state;
    pp_store *s = open_store(f, 1 << 30, PP_FULL_DROP_OLDEST);
    pp_queue_storage *q = queue(s, "otlp", true);
    assert_int_equal(q->put(q, req(1, 500, 0, false)), 0);
    assert_int_equal(q->put(q, req(2, 500, 0, false)), 0);
    q->ack(q, q->peek(q));
    assert_int_equal(q->size(q), 1);
    q->destroy(q);
    pp_store_close(s);

    s = open_store(f, 1 << 30, PP_FULL_DROP_OLDEST);
    q = queue(s, "otlp", false);
    assert_int_equal(q->size(q), 1);
    pp_export_request *r = q->peek(q);
    assert_int_equal(tag_of(r), 2);
    q->ack(q, r);
    q->destroy(q);
    pp_store_close(s);
}

/* nack keeps the row in place with its attempt count, across a restart. */
static void test_nack_counts_attempts(void **state) {
    fx *f = *state;
    pp_store *s = open_store(f, 1 << 30, PP_FULL_DROP_OLDEST);
    pp_queue_storage *q = queue(s, "otlp", true);
    assert_int_equal(q->put(q, req(1, 100, 0, false)), 0);
    assert_int_equal(q->put(q, req(2, 100, 0, false)), 0);
    pp_export_request *r = q->peek(q);
    r->attempts = 3;
    r->first_failure_ns = 1;
    q->nack(q, r);
    r = q->peek(q);
    assert_int_equal(tag_of(r), 1); /* back at its place */
    assert_int_equal(r->attempts, 3);
    assert_int_equal(r->first_failure_ns, 0); /* a fresh retry window per dequeue */
    q->destroy(q);
    pp_store_close(s);

    s = open_store(f, 1 << 30, PP_FULL_DROP_OLDEST);
    q = queue(s, "otlp", false);
    r = q->peek(q);
    assert_int_equal(tag_of(r), 1);
    assert_int_equal(r->attempts, 3);
    q->ack(q, r);
    q->destroy(q);
    pp_store_close(s);
}

typedef struct writer_arg {
    pp_queue_storage *q;
    uint32_t base;
} writer_arg;

static void *writer(void *p) {
    writer_arg *w = p;
    for (uint32_t i = 0; i < 300; i++)
        if (w->q->put(w->q, req(w->base + i, 2000, 0, false)) != 0) fail_msg("put refused");
    return NULL;
}

/* Four threads put durably at once: each put returns committed, nothing is
 * lost or doubled, and each thread's requests keep their order. */
static void test_group_commit_four_writers(void **state) {
    fx *f = *state;
    pp_store *s = open_store(f, 1 << 30, PP_FULL_DROP_OLDEST);
    pp_queue_storage *q = queue(s, "otlp", true);
    pthread_t t[4];
    writer_arg w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (writer_arg){q, (uint32_t)i * 100000};
        pthread_create(&t[i], NULL, writer, &w[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    assert_int_equal(q->size(q), 1200);
    q->destroy(q);
    pp_store_close(s); /* nothing flushed explicitly: every put was committed already */

    s = open_store(f, 1 << 30, PP_FULL_DROP_OLDEST);
    q = queue(s, "otlp", false);
    assert_int_equal(q->size(q), 1200);
    uint32_t next[4] = {0, 0, 0, 0};
    pp_export_request *r;
    while ((r = q->peek(q)) != NULL) {
        uint32_t tag = tag_of(r), th = tag / 100000;
        assert_true(th < 4);
        assert_int_equal(tag % 100000, next[th]);
        next[th]++;
        q->ack(q, r);
    }
    for (int i = 0; i < 4; i++) assert_int_equal(next[i], 300);
    q->destroy(q);
    pp_store_close(s);
}

static uint64_t quota_drops(fx *f, const char *exporter) {
    char comp[128];
    snprintf(comp, sizeof(comp), "exporter/%s", exporter);
    return pp_counter_value(pp_drops_counter(f->m, comp, PP_TRACES, "storage_quota"));
}

/* drop_oldest: the oldest rows (of any exporter, none in flight) make room;
 * every item is either stored or counted as dropped. */
static void test_quota_drop_oldest_accounting(void **state) {
    fx *f = *state;
    /* Room for 10 rows of 10 000 incompressible bytes (+ 64 overhead each). */
    pp_store *s = open_store(f, 10 * (10000 + 64), PP_FULL_DROP_OLDEST);
    pp_queue_storage *a = queue(s, "a", false), *b = queue(s, "b", false);
    for (uint32_t i = 0; i < 6; i++) assert_int_equal(a->put(a, req(i, 10000, 0, true)), 0);
    pp_store_flush(s); /* not durable: rows are handed out once committed */
    pp_export_request *held = a->peek(a); /* in flight: never evicted */
    assert_int_equal(tag_of(held), 0);
    for (uint32_t i = 0; i < 9; i++) assert_int_equal(b->put(b, req(100 + i, 10000, 0, true)), 0);
    /* 15 put, 10 fit: rows 1..5 of a go (not 0, in flight). */
    assert_int_equal(pp_store_rows(s), 10);
    assert_int_equal(quota_drops(f, "a"), 5 * 100);
    assert_int_equal(quota_drops(f, "b"), 0);
    assert_int_equal(a->size(a), 1);
    assert_int_equal(b->size(b), 9);
    a->ack(a, held);
    /* One more to b: b's oldest goes now. */
    assert_int_equal(b->put(b, req(200, 10000, 0, true)), 0);
    assert_int_equal(b->put(b, req(201, 10000, 0, true)), 0);
    assert_int_equal(quota_drops(f, "b"), 100);
    assert_int_equal(pp_store_rows(s), 10);
    pp_store_flush(s);
    pp_export_request *r = b->peek(b);
    assert_int_equal(tag_of(r), 101);
    b->nack(b, r);
    /* items in == stored + dropped + delivered */
    uint64_t stored = (pp_store_rows(s)) * 100, delivered = 100;
    assert_int_equal(17 * 100, stored + delivered + quota_drops(f, "a") + quota_drops(f, "b"));
    a->destroy(a);
    b->destroy(b);
    pp_store_close(s);
}

static void test_quota_refuse(void **state) {
    fx *f = *state;
    pp_store *s = open_store(f, 3 * (10000 + 64), PP_FULL_REFUSE);
    pp_queue_storage *q = queue(s, "otlp", true);
    for (uint32_t i = 0; i < 3; i++) assert_int_equal(q->put(q, req(i, 10000, 0, true)), 0);
    pp_export_request *extra = req(3, 10000, 0, true);
    assert_int_equal(q->put(q, extra), -1); /* refused: still ours */
    assert_int_equal(pp_store_rows(s), 3);
    assert_int_equal(quota_drops(f, "otlp"), 0);
    q->ack(q, q->peek(q));
    assert_int_equal(q->put(q, extra), 0);
    assert_int_equal(q->size(q), 3);
    q->destroy(q);
    pp_store_close(s);
}

static int count_quarantined(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) n += strncmp(e->d_name, PP_STORE_FILE ".corrupt-", 22) == 0;
    closedir(d);
    return n;
}

/* Garbage in the file: moved aside, counted, a fresh database works. */
static void test_corrupt_file_quarantined(void **state) {
    fx *f = *state;
    char path[400];
    snprintf(path, sizeof(path), "%s/%s", f->dir, PP_STORE_FILE);
    FILE *fp = fopen(path, "wb");
    for (int i = 0; i < 4096; i++) fputc((i * 31) & 0xff, fp);
    fclose(fp);
    pp_store *s = open_store(f, 1 << 30, PP_FULL_DROP_OLDEST);
    assert_int_equal(pp_store_quarantined(s), 1);
    assert_int_equal(count_quarantined(f->dir), 1);
    const char *l[] = {"storage", "sqlite_storage", NULL};
    assert_int_equal(pp_counter_value(pp_counter_get(f->m, "pipit_storage_corrupt_files", "", l)), 1);
    pp_queue_storage *q = queue(s, "otlp", true);
    assert_int_equal(q->put(q, req(1, 100, 0, false)), 0);
    q->destroy(q);
    pp_store_close(s);
    s = open_store(f, 1 << 30, PP_FULL_DROP_OLDEST);
    assert_int_equal(pp_store_quarantined(s), 0);
    assert_int_equal(pp_store_rows(s), 1);
    pp_store_close(s);
}

/* A valid SQLite file whose pages are damaged fails quick_check. */
static void test_damaged_pages_quarantined(void **state) {
    fx *f = *state;
    pp_store *s = open_store(f, 1 << 30, PP_FULL_DROP_OLDEST);
    pp_queue_storage *q = queue(s, "otlp", true);
    for (uint32_t i = 0; i < 50; i++) assert_int_equal(q->put(q, req(i, 3000, 0, true)), 0);
    q->destroy(q);
    pp_store_close(s);
    char path[400];
    snprintf(path, sizeof(path), "%s/%s", f->dir, PP_STORE_FILE);
    FILE *fp = fopen(path, "r+b");
    fseek(fp, 4096 + 100, SEEK_SET); /* inside the table's pages, past the header */
    for (int i = 0; i < 8192; i++) fputc(0xA5, fp);
    fclose(fp);
    s = open_store(f, 1 << 30, PP_FULL_DROP_OLDEST);
    assert_int_equal(pp_store_quarantined(s), 1);
    assert_int_equal(pp_store_rows(s), 0);
    pp_store_close(s);
}

/* Rows of an exporter no longer configured: reported, kept. */
static void test_unknown_exporter_rows_kept(void **state) {
    fx *f = *state;
    pp_store *s = open_store(f, 1 << 30, PP_FULL_DROP_OLDEST);
    pp_queue_storage *q = queue(s, "otlp/old", true);
    for (uint32_t i = 0; i < 4; i++) assert_int_equal(q->put(q, req(i, 100, 0, false)), 0);
    q->destroy(q);
    pp_store_close(s);

    s = open_store(f, 1 << 30, PP_FULL_DROP_OLDEST);
    q = queue(s, "otlp/new", true);
    assert_int_equal(pp_store_report_unclaimed(s), 1);
    char *text = pp_metrics_render(f->m, NULL);
    assert_non_null(strstr(text, "pipit_storage_unconfigured_batches{exporter=\"otlp/old\","
                                 "storage=\"sqlite_storage\"} 4"));
    free(text);
    assert_int_equal(q->size(q), 0);
    q->destroy(q);
    pp_store_close(s);

    s = open_store(f, 1 << 30, PP_FULL_DROP_OLDEST);
    assert_int_equal(pp_store_rows(s), 4);
    pp_store_close(s);
}

/* Spill: memory first while it has room, disk after; one shard leaves in
 * order across both tiers, also when a memory request goes back to disk. */
static void test_spill_fifo_per_shard(void **state) {
    fx *f = *state;
    pp_store *s = open_store(f, 1 << 30, PP_FULL_DROP_OLDEST);
    pp_queue_storage *q = pp_queue_storage_spill(s, queue(s, "prw", false), 2, 0);
    for (uint32_t i = 0; i < 5; i++) assert_int_equal(q->put(q, req(i, 200, 7, false)), 0);
    assert_int_equal(q->size(q), 5);
    pp_store_flush(s);
    pp_export_request *r = q->peek(q);
    assert_int_equal(tag_of(r), 0);
    assert_null(q->peek(q)); /* shard 7 is in flight */
    q->nack(q, r);           /* from memory: to disk, keeping its place */
    assert_int_equal(q->size(q), 5);
    for (uint32_t i = 0; i < 5; i++) {
        r = q->peek(q);
        assert_non_null(r);
        assert_int_equal(tag_of(r), i);
        assert_null(q->peek(q));
        q->ack(q, r);
    }
    assert_int_equal(q->size(q), 0);
    /* Backend failing: memory requests move to disk; order still holds. */
    for (uint32_t i = 10; i < 12; i++) assert_int_equal(q->put(q, req(i, 200, 0, false)), 0);
    pp_spill_set_failing(q, true);
    assert_int_equal(q->put(q, req(12, 200, 0, false)), 0);
    pp_store_flush(s);
    assert_int_equal(pp_store_rows(s), 3);
    pp_spill_set_failing(q, false);
    for (uint32_t i = 10; i < 13; i++) {
        r = q->peek(q);
        assert_int_equal(tag_of(r), i);
        q->ack(q, r);
    }
    q->destroy(q);
    pp_store_close(s);
}

/* Spill with a byte cap: the memory tier takes requests while their bodies
 * fit max_bytes (any one when empty), the rest go to disk; leaving memory
 * (ack, nack to disk) gives the bytes back. Order holds across tiers. */
static void test_spill_bytes_cap(void **state) {
    fx *f = *state;
    pp_store *s = open_store(f, 1 << 30, PP_FULL_DROP_OLDEST);
    pp_queue_storage *q = pp_queue_storage_spill(s, queue(s, "prw", false), 100, 500);
    for (uint32_t i = 0; i < 4; i++) assert_int_equal(q->put(q, req(i, 200, 0, false)), 0);
    pp_store_flush(s);
    assert_int_equal(q->bytes(q), 400);
    assert_int_equal(pp_store_rows(s), 2); /* the third would pass 500 bytes */
    for (uint32_t i = 0; i < 4; i++) {
        pp_export_request *r = q->peek(q);
        assert_int_equal(tag_of(r), i);
        q->ack(q, r);
    }
    assert_int_equal(q->bytes(q), 0);
    assert_int_equal(q->size(q), 0);
    /* One body larger than the cap still goes to memory when it is empty. */
    assert_int_equal(q->put(q, req(9, 800, 0, false)), 0);
    assert_int_equal(q->bytes(q), 800);
    pp_export_request *r = q->peek(q);
    q->nack(q, r); /* back to disk */
    assert_int_equal(q->bytes(q), 0);
    r = q->peek(q);
    assert_int_equal(tag_of(r), 9);
    q->ack(q, r);
    q->destroy(q);
    pp_store_close(s);
}

/* The replay cap: with 100 items per request and 150 items/s, the second
 * request waits. */
static void test_replay_rate_limit(void **state) {
    fx *f = *state;
    pp_store *s = open_store(f, 1 << 30, PP_FULL_DROP_OLDEST);
    pp_store_queue_opts o = {.exporter = "otlp", .durable = true, .replay_rate = 150};
    pp_status st = {0};
    pp_queue_storage *q = pp_store_queue(s, &o, &st);
    for (uint32_t i = 0; i < 3; i++) assert_int_equal(q->put(q, req(i, 100, 0, false)), 0);
    pp_export_request *a = q->peek(q), *b = q->peek(q);
    assert_non_null(a);
    assert_non_null(b); /* 150 tokens: the first two (250 items) go, then the bucket is negative */
    assert_null(q->peek(q));
    assert_true(pp_store_queue_wait_ns(q) > 0);
    q->ack(q, a);
    q->ack(q, b);
    q->destroy(q);
    pp_store_close(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crash_between_write_and_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ack_then_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nack_counts_attempts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit_four_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota_drop_oldest_accounting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota_refuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_file_quarantined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_pages_quarantined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_exporter_rows_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spill_bytes_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spill_fifo_per_shard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_rate_limit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
