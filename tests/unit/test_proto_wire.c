/* Unit tests: wire compatibility of protobuf-c (built from proto/) with
 * another encoder, Debian's protoc (protobuf-compiler 3.21).
 *
 * protoc encodes the text-format fixtures in tests/data/proto-wire/ against
 * the PUBLISHED metrics.proto (tests/data/proto-upstream/, proto3 `optional`)
 * and the unchanged protos in proto/. protobuf-c must decode those bytes to the
 * expected values, including optional presence (sum = 0 present, max absent),
 * re-encode them byte for byte, and protoc must decode protobuf-c's bytes to
 * the same text as its own. This is the proof that writing `optional double`
 * as a one-member oneof (proto/.../metrics.proto) is wire-identical.
 *
 * protoc is required: if it is not on PATH the tests fail, they do not skip. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define M(x) OPENTELEMETRY__PROTO__METRICS__V1__##x
#define METRICS_TYPE "opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest"
#define METRICS_PROTO "opentelemetry/proto/collector/metrics/v1/metrics_service.proto"
#define TRACES_TYPE "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest"
#define TRACES_PROTO "opentelemetry/proto/collector/trace/v1/trace_service.proto"

static char src_dir[4096];

static int setup(void **state) {
    (void)state;
    const char *s = getenv("PIPIT_SOURCE_DIR");
    if (!s || !*s) {
        fprintf(stderr, "PIPIT_SOURCE_DIR is not set (run the test through ctest)\n");
        return -1;
    }
    snprintf(src_dir, sizeof(src_dir), "%s", s);
    return 0;
}

/* Fails the test unless an executable protoc is on PATH. */
static void require_protoc(void) {
    const char *path = getenv("PATH");
    char dir_list[8192], cand[4352];
    snprintf(dir_list, sizeof(dir_list), "%s", path ? path : "");
    for (char *save = NULL, *d = strtok_r(dir_list, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(cand, sizeof(cand), "%s/protoc", *d ? d : ".");
        if (access(cand, X_OK) == 0) return;
    }
    fail_msg("protoc not found on PATH: install Debian's protobuf-compiler; this wire "
             "compatibility test needs a second protobuf encoder and must not be skipped");
}

/* Runs protoc --<mode>=<type> with input from in_path; returns its stdout
 * (malloc'd, NUL-terminated, length in *out_len) and asserts exit status 0. */
static char *run_protoc(const char *mode, const char *type, const char *proto, const char *in_path,
                        size_t *out_len) {
    require_protoc();
    char out_path[] = "/tmp/pipit-protoc-XXXXXX";
    int out_fd = mkstemp(out_path);
    assert_true(out_fd >= 0);
    close(out_fd);
    char mode_arg[256], inc_up[4200], inc_proto[4200], proto_arg[256];
    snprintf(proto_arg, sizeof(proto_arg), "%s", proto);
    snprintf(mode_arg, sizeof(mode_arg), "--%s=%s", mode, type);
    snprintf(inc_up, sizeof(inc_up), "-I%s/tests/data/proto-upstream", src_dir);
    snprintf(inc_proto, sizeof(inc_proto), "-I%s/proto", src_dir);
    char *argv[] = {"protoc", mode_arg, inc_up, inc_proto, proto_arg, NULL};

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, in_path, O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_TRUNC, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, "protoc", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        unlink(out_path);
        fail_msg("cannot run protoc: %s", strerror(rc));
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) assert_int_equal(errno, EINTR);
    char *out = tu_read_file(out_path, out_len);
    unlink(out_path);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("protoc %s %s < %s failed (status %d)", mode_arg, proto, in_path, status);
    assert_non_null(out);
    return out;
}

/* Writes len bytes to a new temporary file; the caller unlinks path. */
static void write_temp(char path[static 32], const void *data, size_t len) {
    snprintf(path, 32, "/tmp/pipit-wire-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

/* protoc --decode of some bytes, as text. */
static char *protoc_decode(const char *type, const char *proto, const void *data, size_t len) {
    char path[32];
    write_temp(path, data, len);
    size_t n;
    char *text = run_protoc("decode", type, proto, path, &n);
    unlink(path);
    return text;
}

/* The common check for one fixture: protoc encodes it; protobuf-c unpacks
 * those bytes into `into` (returned for value checks), re-packs them byte for
 * byte, and protoc decodes both byte strings to identical text. */
static ProtobufCMessage *check_fixture(const ProtobufCMessageDescriptor *desc, const char *type,
                                       const char *proto, const char *fixture, pp_arena *into) {
    char in_path[4200];
    snprintf(in_path, sizeof(in_path), "%s/tests/data/proto-wire/%s", src_dir, fixture);
    size_t n;
    uint8_t *theirs = (uint8_t *)run_protoc("encode", type, proto, in_path, &n);
    assert_true(n > 0);

    ProtobufCMessage *m = protobuf_c_message_unpack(desc, pp_arena_allocator(into), n, theirs);
    if (!m) fail_msg("protobuf-c cannot unpack protoc's encoding of %s", fixture);
    assert_int_equal(m->n_unknown_fields, 0);
    size_t ours_len = protobuf_c_message_get_packed_size(m);
    uint8_t *ours = pp_arena_alloc(into, ours_len ? ours_len : 1);
    assert_int_equal(protobuf_c_message_pack(m, ours), ours_len);
    if (ours_len != n || memcmp(ours, theirs, n) != 0)
        fail_msg("%s: protobuf-c packs %zu bytes, protoc %zu; the bytes differ", fixture, ours_len, n);

    char *text_theirs = protoc_decode(type, proto, theirs, n);
    char *text_ours = protoc_decode(type, proto, ours, ours_len);
    assert_true(strlen(text_theirs) > 0);
    assert_string_equal(text_ours, text_theirs);
    free(text_theirs);
    free(text_ours);
    free(theirs);
    return m;
}

static void test_histogram_optional_presence(void **state) {
    (void)state;
    pp_arena *a = pp_arena_new(0);
    pp_metrics_req *r = (pp_metrics_req *)check_fixture(&PP_METRICS_REQ_DESC, METRICS_TYPE, METRICS_PROTO,
                                                        "metrics_histogram.txtpb", a);
    assert_int_equal(r->n_resource_metrics, 1);
    pp_metric *m = r->resource_metrics[0]->scope_metrics[0]->metrics[0];
    assert_string_equal(m->name, "http.server.duration");
    assert_string_equal(m->description, "Dauer der Anfrage ⏱");
    assert_int_equal(m->data_case, M(METRIC__DATA_HISTOGRAM));
    assert_int_equal(m->histogram->aggregation_temporality,
                     M(AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE));
    pp_histogram_point *p = m->histogram->data_points[0];
    /* The point of the exercise: presence survives protoc -> protobuf-c. */
    assert_int_equal(p->sum_present_case, M(HISTOGRAM_DATA_POINT__SUM_PRESENT_SUM));
    assert_int_equal(tu_dbits(p->sum), 0);
    assert_int_equal(p->min_present_case, M(HISTOGRAM_DATA_POINT__MIN_PRESENT_MIN));
    assert_int_equal(tu_dbits(p->min), 0);
    assert_int_equal(p->max_present_case, M(HISTOGRAM_DATA_POINT__MAX_PRESENT__NOT_SET));
    assert_int_equal(p->count, 6);
    assert_int_equal(p->time_unix_nano, UINT64_MAX);
    assert_int_equal(p->n_bucket_counts, 3);
    assert_int_equal(p->bucket_counts[2], 3);
    assert_int_equal(p->n_explicit_bounds, 2);
    assert_int_equal(tu_dbits(p->explicit_bounds[0]), tu_dbits(-1.5));
    assert_int_equal(p->flags, 1);
    assert_int_equal(p->exemplars[0]->value_case, M(EXEMPLAR__VALUE_AS_INT));
    assert_int_equal(p->exemplars[0]->as_int, INT64_MIN);
    assert_int_equal(p->exemplars[0]->trace_id.len, 16);
    assert_string_equal(p->attributes[0]->value->string_value, "/api/ünï");
    assert_string_equal(m->metadata[0]->value->string_value, "histogram");

    /* And the other way round: protobuf-c with max present too, decoded by
     * protoc against the published proto, shows all three. */
    p->max_present_case = M(HISTOGRAM_DATA_POINT__MAX_PRESENT_MAX);
    p->max = 0.0;
    size_t n = protobuf_c_message_get_packed_size(&r->base);
    uint8_t *buf = pp_arena_alloc(a, n);
    protobuf_c_message_pack(&r->base, buf);
    char *text = protoc_decode(METRICS_TYPE, METRICS_PROTO, buf, n);
    assert_non_null(strstr(text, "sum: 0\n"));
    assert_non_null(strstr(text, "min: 0\n"));
    assert_non_null(strstr(text, "max: 0\n"));
    free(text);
    pp_arena_destroy(a);
}

static void test_exponential_histogram(void **state) {
    (void)state;
    pp_arena *a = pp_arena_new(0);
    pp_metrics_req *r = (pp_metrics_req *)check_fixture(&PP_METRICS_REQ_DESC, METRICS_TYPE, METRICS_PROTO,
                                                        "metrics_exp_histogram.txtpb", a);
    pp_metric *m = r->resource_metrics[0]->scope_metrics[0]->metrics[0];
    assert_int_equal(m->data_case, M(METRIC__DATA_EXPONENTIAL_HISTOGRAM));
    assert_int_equal(m->exponential_histogram->aggregation_temporality,
                     M(AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA));
    assert_int_equal(m->exponential_histogram->n_data_points, 2);
    pp_exp_histogram_point *p = m->exponential_histogram->data_points[0];
    assert_int_equal(p->count, UINT64_MAX);
    assert_int_equal(p->scale, -4);
    assert_int_equal(p->zero_count, 3);
    assert_int_equal(p->positive->offset, -7);
    assert_int_equal(p->positive->n_bucket_counts, 3);
    assert_int_equal(p->positive->bucket_counts[1], UINT64_MAX);
    assert_int_equal(p->negative->offset, INT32_MIN);
    assert_int_equal(p->negative->bucket_counts[0], 5);
    assert_int_equal(p->sum_present_case, M(EXPONENTIAL_HISTOGRAM_DATA_POINT__SUM_PRESENT_SUM));
    assert_int_equal(tu_dbits(p->sum), tu_dbits(12.5));
    assert_int_equal(tu_dbits(p->min), 0xfff0000000000000ull);
    assert_int_equal(tu_dbits(p->max), tu_dbits(1e-320)); /* subnormal */
    assert_int_equal(tu_dbits(p->zero_threshold), 0x0010000000000000ull); /* DBL_MIN */
    assert_int_equal(tu_dbits(p->attributes[0]->value->double_value), 0x8000000000000000ull);
    assert_int_equal(p->exemplars[0]->value_case, M(EXEMPLAR__VALUE_AS_DOUBLE));
    pp_exp_histogram_point *q = m->exponential_histogram->data_points[1];
    assert_int_equal(q->scale, 20);
    assert_int_equal(q->sum_present_case, M(EXPONENTIAL_HISTOGRAM_DATA_POINT__SUM_PRESENT__NOT_SET));
    assert_int_equal(q->min_present_case, M(EXPONENTIAL_HISTOGRAM_DATA_POINT__MIN_PRESENT__NOT_SET));
    assert_int_equal(q->max_present_case, M(EXPONENTIAL_HISTOGRAM_DATA_POINT__MAX_PRESENT__NOT_SET));
    assert_null(q->positive);
    pp_arena_destroy(a);
}

static void test_traces_every_field(void **state) {
    (void)state;
    pp_arena *a = pp_arena_new(0);
    pp_traces_req *r = (pp_traces_req *)check_fixture(&PP_TRACES_REQ_DESC, TRACES_TYPE, TRACES_PROTO,
                                                      "traces_full.txtpb", a);
    pp_resource_spans *rs = r->resource_spans[0];
    assert_string_equal(rs->schema_url, "https://opentelemetry.io/schemas/1.23.0");
    pp_resource *res = rs->resource;
    assert_int_equal(res->n_attributes, 9);
    assert_string_equal(res->attributes[0]->value->string_value, "サービス 🚀");
    assert_int_equal(res->attributes[2]->value->int_value, -1);
    assert_int_equal(res->attributes[7]->value->value_case,
                     OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET);
    assert_int_equal(res->attributes[8]->value->string_value_strindex, 7);
    assert_int_equal(res->attributes[8]->key_strindex, 3);
    assert_int_equal(res->entity_refs[0]->n_id_keys, 2);
    pp_scope_spans *ss = rs->scope_spans[0];
    assert_int_equal(ss->scope->dropped_attributes_count, 4);
    pp_span *s = ss->spans[0];
    assert_int_equal(s->flags, 0xFFFFFB01u);
    assert_int_equal(s->kind, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CONSUMER);
    assert_int_equal(s->start_time_unix_nano, 1700000000000000000ull);
    assert_int_equal(s->end_time_unix_nano, UINT64_MAX);
    assert_int_equal(s->span_id.len, 8);
    assert_int_equal(s->span_id.data[1], 0xf0);
    assert_int_equal(s->parent_span_id.data[7], 0xff);
    assert_string_equal(s->name, "GET /api/ünïcødé");
    assert_int_equal(s->dropped_attributes_count, 5);
    assert_int_equal(s->events[0]->time_unix_nano, 1700000000000000500ull);
    assert_int_equal(s->events[0]->dropped_attributes_count, 6);
    assert_int_equal(s->dropped_events_count, 7);
    assert_int_equal(s->links[0]->flags, 0x300u);
    assert_int_equal(s->links[0]->dropped_attributes_count, 8);
    assert_string_equal(s->links[0]->trace_state, "congo=t61rcWkgMzE");
    assert_int_equal(s->dropped_links_count, 9);
    assert_int_equal(s->status->code, OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR);
    assert_string_equal(s->status->message, "upstream unavailable");
    pp_arena_destroy(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_histogram_optional_presence),
        cmocka_unit_test(test_exponential_histogram),
        cmocka_unit_test(test_traces_every_field),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
