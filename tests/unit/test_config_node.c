/* Unit tests: YAML to pp_node trees, ${env:...} substitution, merging, YAML output. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "config_node.h"

static pp_node *parse(const char *text, pp_diag *d) {
    return pp_node_parse(text, strlen(text), "t.yaml", d);
}

/* The scalar at a dotted path of map keys ("a.b.c"), or NULL. */
static const pp_node *at(const pp_node *n, const char *path) {
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    char *save = NULL;
    for (char *k = strtok_r(buf, ".", &save); k && n; k = strtok_r(NULL, ".", &save))
        n = pp_node_get(n, k);
    return n;
}

static const char *val(const pp_node *root, const char *path) {
    const pp_node *n = at(root, path);
    return n && n->type == PP_NODE_SCALAR ? n->value : NULL;
}

static void test_parse_tree_lines_and_types(void **state) {
    (void)state;
    pp_diag d;
    pp_diag_init(&d);
    pp_node *r = parse("a:\n  b: 1\n  c: \"null\"\n  e:\n  f: [x, y]\n  g: ~\n", &d);
    assert_non_null(r);
    assert_int_equal(d.count, 0);
    assert_int_equal(r->type, PP_NODE_MAP);
    assert_string_equal(val(r, "a.b"), "1");
    assert_int_equal(at(r, "a.b")->line, 2);
    assert_string_equal(at(r, "a.b")->file, "t.yaml");
    assert_false(at(r, "a.b")->quoted);
    assert_string_equal(val(r, "a.c"), "null"); /* quoted: a string */
    assert_true(at(r, "a.c")->quoted);
    assert_true(pp_node_is_null(at(r, "a.e")));
    assert_non_null(at(r, "a.e"));
    assert_true(pp_node_is_null(at(r, "a.g")));
    const pp_node *f = at(r, "a.f");
    assert_int_equal(f->type, PP_NODE_SEQ);
    assert_int_equal(f->count, 2);
    assert_string_equal(f->items[1]->value, "y");
    assert_null(pp_node_get(r, "missing"));
    assert_null(pp_node_get(f, "x")); /* not a map */
    pp_node_free(r);
    pp_diag_free(&d);
}

static void test_empty_text_is_null_root(void **state) {
    (void)state;
    pp_diag d;
    pp_diag_init(&d);
    pp_node *r = parse("", &d);
    assert_non_null(r);
    assert_true(pp_node_is_null(r));
    pp_node_free(r);
    pp_diag_free(&d);
}

static void test_duplicate_keys_all_reported(void **state) {
    (void)state;
    pp_diag d;
    pp_diag_init(&d);
    pp_node *r = parse("a:\n  b: 1\n  b:\n    deep: 2\nc: 1\nc: 2\nlist:\n  - k: 1\n    k: 2\n", &d);
    assert_null(r);
    assert_int_equal(d.errors, 3);
    assert_true(pp_diag_has(&d, "a.b", "duplicate key"));
    assert_true(pp_diag_has(&d, "c", "duplicate key"));
    assert_true(pp_diag_has(&d, "list[0].k", "duplicate key"));
    assert_int_equal(d.entries[0].line, 3);
    pp_diag_free(&d);
}

static void test_syntax_error_has_line(void **state) {
    (void)state;
    pp_diag d;
    pp_diag_init(&d);
    assert_null(parse("a: 1\nb: [1, 2\nc: 3\n", &d));
    assert_int_equal(d.errors, 1);
    assert_true(strstr(d.entries[0].message, "YAML syntax error") != NULL);
    assert_true(d.entries[0].line >= 2);
    assert_string_equal(d.entries[0].file, "t.yaml");
    pp_diag_free(&d);
}

static void test_anchors_and_aliases(void **state) {
    (void)state;
    pp_diag d;
    pp_diag_init(&d);
    pp_node *r = parse("base: &b\n  x: 1\ncopy: *b\n", &d);
    assert_non_null(r);
    assert_string_equal(val(r, "copy.x"), "1");
    assert_ptr_not_equal(at(r, "copy.x"), at(r, "base.x"));
    pp_node_free(r);
    pp_diag_free(&d);
}

static void test_env_substitution(void **state) {
    (void)state;
    setenv("PP_T_HOST", "collector", 1);
    setenv("PP_T_EMPTY", "", 1);
    unsetenv("PP_T_UNSET");
    pp_diag d;
    pp_diag_init(&d);
    pp_node *r = parse("a: ${env:PP_T_HOST}\n"
                       "b: ${PP_T_HOST}\n"
                       "c: http://${env:PP_T_HOST}:4318/${PP_T_HOST}\n"
                       "d: ${env:PP_T_UNSET:-fallback}\n"
                       "e: ${env:PP_T_EMPTY:-fallback}\n"
                       "f: ${env:PP_T_HOST:-fallback}\n"
                       "g: \"x${env:PP_T_UNSET}y\"\n"
                       "h: $$HOME and $${env:X} and $5\n"
                       "i: ${PP_T_UNSET:-plain}\n"
                       "j: ${env:PP_T_EMPTY}\n",
                       &d);
    assert_non_null(r);
    assert_string_equal(val(r, "a"), "collector");
    assert_string_equal(val(r, "b"), "collector");
    assert_string_equal(val(r, "c"), "http://collector:4318/collector");
    assert_string_equal(val(r, "d"), "fallback");
    assert_string_equal(val(r, "e"), "fallback");
    assert_string_equal(val(r, "f"), "collector");
    assert_string_equal(val(r, "g"), "xy");
    assert_string_equal(val(r, "h"), "$HOME and ${env:X} and $5");
    assert_string_equal(val(r, "i"), "plain");
    assert_string_equal(val(r, "j"), "");
    assert_int_equal(d.errors, 0);
    assert_int_equal(d.warnings, 1); /* only g: unset with no default; j is set (empty) */
    assert_true(pp_diag_has(&d, "g", "environment variable PP_T_UNSET is not set"));
    pp_node_free(r);
    pp_diag_free(&d);
}

static void test_env_substitution_errors(void **state) {
    (void)state;
    pp_diag d;
    pp_diag_init(&d);
    pp_node *r = parse("a:\n  b: ${file:/etc/secret}\n"
                       "c: [ok, \"${http://x}\"]\n"
                       "d: ${env:1BAD}\n"
                       "e: ${}\n"
                       "f: ${env:OPEN\n",
                       &d);
    assert_null(r);
    assert_int_equal(d.errors, 5);
    assert_true(pp_diag_has(&d, "a.b", "${file:...}: unsupported config provider 'file'"));
    assert_true(pp_diag_has(&d, "c[1]", "unsupported config provider 'http'"));
    assert_true(pp_diag_has(&d, "d", "invalid environment variable name \"1BAD\""));
    assert_true(pp_diag_has(&d, "e", "invalid environment variable name"));
    assert_true(pp_diag_has(&d, "f", "unterminated"));
    pp_diag_free(&d);
}

static void test_merge(void **state) {
    (void)state;
    pp_diag d;
    pp_diag_init(&d);
    pp_node *a = parse("x:\n  keep: 1\n  over: old\n  list: [1, 2, 3]\n  m: {p: 1}\ny: 1\n", &d);
    pp_node *b = parse("x:\n  over: new\n  list: [9]\n  m: {q: 2}\n  added: yes\nz: 2\n", &d);
    assert_non_null(a);
    assert_non_null(b);
    pp_node_merge(a, b);
    assert_string_equal(val(a, "x.keep"), "1");
    assert_string_equal(val(a, "x.over"), "new");
    const pp_node *list = at(a, "x.list");
    assert_int_equal(list->count, 1);
    assert_string_equal(list->items[0]->value, "9");
    assert_string_equal(val(a, "x.m.p"), "1");
    assert_string_equal(val(a, "x.m.q"), "2");
    assert_string_equal(val(a, "x.added"), "yes");
    assert_string_equal(val(a, "y"), "1");
    assert_string_equal(val(a, "z"), "2");
    /* A map replaced by a scalar, and a scalar by a map. */
    pp_node *c = parse("x: gone\ny: {now: map}\n", &d);
    pp_node_merge(a, c);
    assert_string_equal(val(a, "x"), "gone");
    assert_string_equal(val(a, "y.now"), "map");
    assert_string_equal(at(a, "y")->key, "y");
    pp_node_free(a);
    pp_diag_free(&d);
}

static void test_merge_keeps_file_names(void **state) {
    (void)state;
    pp_diag d;
    pp_diag_init(&d);
    pp_node *a = pp_node_parse("a: 1\n", 5, "one.yaml", &d);
    pp_node *b = pp_node_parse("b: 2\n", 5, "two.yaml", &d);
    pp_node_merge(a, b); /* frees b's root: b's file name must live on in "b" */
    assert_string_equal(at(a, "b")->file, "two.yaml");
    assert_string_equal(at(a, "a")->file, "one.yaml");
    pp_node_free(a);
    pp_diag_free(&d);
}

static void test_to_yaml_roundtrip_and_mask(void **state) {
    (void)state;
    pp_diag d;
    pp_diag_init(&d);
    const char *text = "a:\n  s: \"123\"\n  p: plain\n  n:\n  l: [1, \"two: x\"]\nsecret: hunter2\n";
    pp_node *r = parse(text, &d);
    char *y = pp_node_to_yaml(r);
    assert_non_null(y);
    pp_node *back = parse(y, &d);
    assert_non_null(back);
    assert_string_equal(val(back, "a.s"), "123");
    assert_true(at(back, "a.s")->quoted);
    assert_string_equal(val(back, "a.p"), "plain");
    assert_true(pp_node_is_null(at(back, "a.n")));
    assert_string_equal(at(back, "a.l")->items[1]->value, "two: x");
    assert_string_equal(val(back, "secret"), "hunter2");
    free(y);
    pp_node_free(back);
    y = pp_node_to_yaml_masked(r, NULL, NULL);
    assert_non_null(strstr(y, "hunter2"));
    free(y);
    pp_node_free(r);
    pp_diag_free(&d);
}

static void test_load_file_missing(void **state) {
    (void)state;
    pp_diag d;
    pp_diag_init(&d);
    assert_null(pp_node_load_file("/nonexistent/pipit.yaml", &d));
    assert_int_equal(d.errors, 1);
    assert_true(pp_diag_has(&d, "", "cannot read config file"));
    assert_string_equal(d.entries[0].file, "/nonexistent/pipit.yaml");
    pp_diag_free(&d);
}

static void test_diag_print_format(void **state) {
    (void)state;
    pp_diag d;
    pp_diag_init(&d);
    pp_diag_warn(&d, "x.y", 0, "defined but not used");
    pp_diag_add_at(&d, PP_SEV_ERROR, "a.b", "c.yaml", 7, "required");
    pp_diag_error(&d, "", 0, "no line");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    pp_diag_print(&d, f);
    fclose(f);
    assert_string_equal(buf, "error: a.b: required (c.yaml:7)\n"
                             "error: no line\n"
                             "warning: x.y: defined but not used\n");
    free(buf);
    assert_int_equal(d.errors, 2);
    assert_int_equal(d.warnings, 1);
    assert_false(pp_diag_has(&d, "a", "required"));
    pp_diag_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_tree_lines_and_types),
        cmocka_unit_test(test_empty_text_is_null_root),
        cmocka_unit_test(test_duplicate_keys_all_reported),
        cmocka_unit_test(test_syntax_error_has_line),
        cmocka_unit_test(test_anchors_and_aliases),
        cmocka_unit_test(test_env_substitution),
        cmocka_unit_test(test_env_substitution_errors),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_merge_keeps_file_names),
        cmocka_unit_test(test_to_yaml_roundtrip_and_mask),
        cmocka_unit_test(test_load_file_missing),
        cmocka_unit_test(test_diag_print_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
