/* Unit tests: the arena block pool, arenas built on it, and the periodic
 * memory release. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "arena_pool.h"
#include "mem_release.h"

static int empty_pool(void **state) {
    (void)state;
    pp_arena_pool_release();
    return 0;
}

static void test_pool_reuses_the_last_block_freed(void **state) {
    (void)state;
    void *a = pp_arena_pool_get(), *b = pp_arena_pool_get();
    assert_non_null(a);
    assert_non_null(b);
    memset(a, 1, PP_ARENA_POOL_BLOCK);
    pp_arena_pool_put(a);
    pp_arena_pool_put(b);
    assert_int_equal(pp_arena_pool_bytes(), 2 * PP_ARENA_POOL_BLOCK);
    assert_ptr_equal(pp_arena_pool_get(), b); /* most recently used first */
    assert_ptr_equal(pp_arena_pool_get(), a);
    assert_int_equal(pp_arena_pool_bytes(), 0);
    pp_arena_pool_put(a);
    pp_arena_pool_put(b);
    pp_arena_pool_put(NULL);
}

static void test_trim_frees_only_blocks_idle_for_a_whole_period(void **state) {
    (void)state;
    void *b[4];
    for (int i = 0; i < 4; i++) b[i] = pp_arena_pool_get();
    for (int i = 0; i < 4; i++) pp_arena_pool_put(b[i]);
    /* The pool was empty earlier in this period: nothing idled through it. */
    assert_int_equal(pp_arena_pool_trim(), 0);
    assert_int_equal(pp_arena_pool_bytes(), 4 * PP_ARENA_POOL_BLOCK);
    /* One block is used (and given back) during the next period: the three
     * that never left are freed, the one in use is kept. */
    void *x = pp_arena_pool_get();
    pp_arena_pool_put(x);
    assert_int_equal(pp_arena_pool_trim(), 3 * PP_ARENA_POOL_BLOCK);
    assert_int_equal(pp_arena_pool_bytes(), PP_ARENA_POOL_BLOCK);
    assert_ptr_equal(pp_arena_pool_get(), x); /* the cold ones went first */
    pp_arena_pool_put(x);
    assert_int_equal(pp_arena_pool_trim(), 0); /* x was used again */
    /* Idle for a whole period: everything goes. */
    assert_int_equal(pp_arena_pool_trim(), PP_ARENA_POOL_BLOCK);
    assert_int_equal(pp_arena_pool_bytes(), 0);
}

static void test_pool_is_capped(void **state) {
    (void)state;
    size_t n = PP_ARENA_POOL_MAX / PP_ARENA_POOL_BLOCK + 3;
    void **b = calloc(n, sizeof(void *));
    for (size_t i = 0; i < n; i++) assert_non_null(b[i] = pp_arena_pool_get());
    for (size_t i = 0; i < n; i++) pp_arena_pool_put(b[i]); /* the last 3 are freed */
    assert_int_equal(pp_arena_pool_bytes(), PP_ARENA_POOL_MAX);
    pp_arena_pool_release();
    assert_int_equal(pp_arena_pool_bytes(), 0);
    free(b);
}

static void test_big_arena_uses_pooled_blocks(void **state) {
    (void)state;
    pp_arena *a = pp_arena_new(1 << 20);
    size_t total = 0;
    for (int i = 0; i < 4000; i++) {
        size_t n = 16 + (size_t)(i % 97) * 3;
        unsigned char *p = pp_arena_alloc(a, n);
        assert_non_null(p);
        memset(p, 0x5A, n);
        total += n;
    }
    assert_true(pp_arena_used(a) >= total);
    /* Fixed blocks: at most one block's worth reserved beyond what is used
     * (geometric growth reserved up to twice the use). */
    assert_true(pp_arena_reserved(a) <= pp_arena_used(a) + PP_ARENA_POOL_BLOCK);
    size_t reserved = pp_arena_reserved(a);
    pp_arena_destroy(a);
    /* Every block went to the pool (a block is its payload plus a header). */
    assert_true(pp_arena_pool_bytes() >= reserved);
    assert_true(pp_arena_pool_bytes() <= reserved + PP_ARENA_POOL_BLOCK);

    /* The next arena takes them back instead of asking malloc. */
    size_t before = pp_arena_pool_bytes();
    pp_arena *b = pp_arena_new(1 << 20);
    assert_non_null(pp_arena_alloc(b, 100));
    assert_int_equal(pp_arena_pool_bytes(), before - PP_ARENA_POOL_BLOCK);
    pp_arena_destroy(b);
}

static void test_objects_larger_than_a_block(void **state) {
    (void)state;
    pp_arena *a = pp_arena_new(1 << 20);
    char *small = pp_arena_alloc(a, 100);
    size_t big = PP_ARENA_POOL_BLOCK * 3;
    char *p = pp_arena_alloc(a, big);
    assert_non_null(p);
    memset(p, 7, big);
    char *after = pp_arena_alloc(a, 100); /* still from the first block */
    assert_true(after > small && after < small + PP_ARENA_POOL_BLOCK);
    char *mid = pp_arena_alloc(a, PP_ARENA_POOL_BLOCK / 2); /* own block too */
    memset(mid, 8, PP_ARENA_POOL_BLOCK / 2);
    pp_arena_destroy(a);
    assert_int_equal(pp_arena_pool_bytes(), PP_ARENA_POOL_BLOCK); /* only the pooled one */
}

static void test_small_arena_stays_small(void **state) {
    (void)state;
    pp_arena *a = pp_arena_new(100);
    assert_non_null(pp_arena_alloc(a, 100));
    assert_true(pp_arena_reserved(a) < PP_ARENA_POOL_BLOCK / 8);
    pp_arena_destroy(a);
    assert_int_equal(pp_arena_pool_bytes(), 0);
}

static void test_release_pass_empties_an_idle_pool(void **state) {
    (void)state;
    void *b = pp_arena_pool_get();
    pp_arena_pool_put(b);
    pp_mem_release_once(); /* the block was taken during this period */
    assert_int_equal(pp_arena_pool_bytes(), PP_ARENA_POOL_BLOCK);
    assert_true(pp_mem_release_once() >= PP_ARENA_POOL_BLOCK);
    assert_int_equal(pp_arena_pool_bytes(), 0);
}

static void on_stop(uv_timer_t *t) { uv_stop(t->loop); }

static void test_release_timer_starts_and_stops(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    pp_mem_release *r = pp_mem_release_start(&loop);
    assert_non_null(r);
    uv_timer_t stop;
    uv_timer_init(&loop, &stop);
    uv_timer_start(&stop, on_stop, PP_MEM_RELEASE_PERIOD_MS + 100, 0);
    uv_run(&loop, UV_RUN_DEFAULT); /* the release timer runs once */
    pp_mem_release_stop(r);
    uv_close((uv_handle_t *)&stop, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    pp_mem_release_stop(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_pool_reuses_the_last_block_freed, empty_pool),
        cmocka_unit_test_setup(test_trim_frees_only_blocks_idle_for_a_whole_period, empty_pool),
        cmocka_unit_test_setup(test_pool_is_capped, empty_pool),
        cmocka_unit_test_setup(test_big_arena_uses_pooled_blocks, empty_pool),
        cmocka_unit_test_setup(test_objects_larger_than_a_block, empty_pool),
        cmocka_unit_test_setup(test_small_arena_stays_small, empty_pool),
        cmocka_unit_test_setup(test_release_pass_empties_an_idle_pool, empty_pool),
        cmocka_unit_test_setup(test_release_timer_starts_and_stops, empty_pool),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    pp_arena_pool_release();
    return rc;
}
