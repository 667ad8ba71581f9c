/* file_exporter.c -- the `file` exporter: writes every batch to a local file.
 *
 * The subset of the Collector's fileexporter that tests and debugging need:
 *
 *   path    (required) the file; its directory must exist.
 *   format  json (default): one OTLP/JSON Export*ServiceRequest per line, as
 *           the Collector writes it; proto: each request as protobuf bytes
 *           preceded by their length, a 4-byte big-endian unsigned integer
 *           (the Collector's framing, so its readers read ours).
 *   append  false (default): the file is truncated when pipit starts;
 *           true: new requests are added after what is there.
 *   flush_interval  accepted; pipit hands each request to the kernel in one
 *           write as it arrives, which is never later than any interval.
 *   rotation, compression, group_by, encoding  accepted and ignored, with a
 *           warning at validation.
 *
 * Each request is encoded outside the lock, then written with one writev under
 * the lock, so that concurrent pipelines never interleave lines. A write that
 * fails half way is cut off again (ftruncate to the length before it), so a
 * reader never sees a torn record; the batch is refused with UNAVAILABLE and
 * counted in otelcol_exporter_send_failed_*. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "component.h"
#include "log.h"
#include "otlp_json.h"

typedef struct file_config {
    char *path;
    char *format;
    bool append;
    int64_t flush_interval_ns;
} file_config;

static const char *const formats[] = {"json", "proto", NULL};

static const pp_cfg_field file_schema[] = {
    {.key = "path", .type = PP_CFG_STRING, .offset = offsetof(file_config, path),
     .flags = PP_CFG_REQUIRED, .help = "the file to write (its directory must exist)"},
    {.key = "format", .type = PP_CFG_ENUM, .offset = offsetof(file_config, format),
     .choices = formats,
     .help = "json: one OTLP/JSON request per line; proto: 4-byte big-endian length + protobuf"},
    {.key = "append", .type = PP_CFG_BOOL, .offset = offsetof(file_config, append),
     .help = "keep what the file holds at start (false: truncate it)"},
    {.key = "flush_interval", .type = PP_CFG_DURATION,
     .offset = offsetof(file_config, flush_interval_ns), .min = 1, .max = INT64_MAX,
     .help = "accepted; pipit writes each request through as it arrives"},
    {.key = "rotation", .type = PP_CFG_IGNORED},
    {.key = "compression", .type = PP_CFG_IGNORED},
    {.key = "group_by", .type = PP_CFG_IGNORED},
    {.key = "encoding", .type = PP_CFG_IGNORED},
    {0},
};

static void file_defaults(void *cfg) {
    file_config *c = cfg;
    c->format = strdup("json");
    c->append = false;
    c->flush_interval_ns = 1000000000LL;
}

typedef struct file_exporter {
    pp_consumer consumer;
    const file_config *cfg;
    char *component; /* "exporter/file/x" for logs */
    bool proto;
    pthread_mutex_t lock; /* guards fd and the file's end */
    int fd;               /* -1 before start and after shutdown */
    pp_counter *sent[PP_SIGNAL_COUNT];
    pp_counter *failed[PP_SIGNAL_COUNT];
} file_exporter;

/* Writes all the iovecs (retrying short writes and EINTR). 0, or -1 with errno. */
static int write_all(int fd, struct iovec *iov, int n) {
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        size_t done = (size_t)w;
        while (n > 0 && done >= iov->iov_len) {
            done -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + done;
            iov->iov_len -= done;
        }
    }
    return 0;
}

/* Appends one record under the lock; on failure cuts the file back. */
static int append_record(file_exporter *f, struct iovec *iov, int n, pp_status *st) {
    pthread_mutex_lock(&f->lock);
    if (f->fd < 0) {
        pthread_mutex_unlock(&f->lock);
        return pp_fail(st, PP_UNAVAILABLE, "%s: not running", f->component);
    }
    off_t before = lseek(f->fd, 0, SEEK_END);
    int rc = write_all(f->fd, iov, n);
    int err = errno;
    if (rc != 0 && before >= 0 && ftruncate(f->fd, before) != 0) {
        /* Nothing more to do: the error below is what matters. */
    }
    pthread_mutex_unlock(&f->lock);
    if (rc != 0) {
        pp_log_error(f->component, "write failed", "path", f->cfg->path, "error", strerror(err),
                     NULL);
        return pp_fail(st, PP_UNAVAILABLE, "%s: writing %s: %s", f->component, f->cfg->path,
                       strerror(err));
    }
    return 0;
}

static int write_json(file_exporter *f, const pp_batch *b, pp_status *st) {
    size_t len = 0;
    char *json = pp_otlp_json_encode_request(b, &len);
    if (!json) return pp_fail(st, PP_UNAVAILABLE, "%s: cannot encode JSON", f->component);
    static char newline[] = "\n";
    struct iovec iov[2] = {{json, len}, {newline, 1}};
    int rc = append_record(f, iov, 2, st);
    free(json);
    return rc;
}

static int write_proto(file_exporter *f, const pp_batch *b, pp_status *st) {
    size_t len = pp_batch_encoded_size(b);
    if (len > UINT32_MAX)
        return pp_fail(st, PP_TOO_LARGE, "%s: request of %zu bytes exceeds the 4-byte length",
                       f->component, len);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) return pp_fail(st, PP_UNAVAILABLE, "%s: out of memory", f->component);
    pp_batch_pack(b, buf);
    uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                      (uint8_t)len};
    struct iovec iov[2] = {{hdr, sizeof(hdr)}, {buf, len}};
    int rc = append_record(f, iov, 2, st);
    free(buf);
    return rc;
}

static int file_consume(pp_consumer *self, pp_batch *b, pp_status *st) {
    file_exporter *f = (file_exporter *)self;
    int rc = f->proto ? write_proto(f, b, st) : write_json(f, b, st);
    pp_counter_add(rc == 0 ? f->sent[b->signal] : f->failed[b->signal], b->items);
    return rc;
}

static void *file_create(const pp_create_params *p, pp_status *st) {
    file_exporter *f = calloc(1, sizeof(*f));
    size_t n = strlen(p->id) + sizeof("exporter/");
    if (f) f->component = malloc(n);
    if (!f || !f->component) {
        free(f);
        pp_fail(st, PP_INTERNAL, "out of memory");
        return NULL;
    }
    snprintf(f->component, n, "exporter/%s", p->id);
    f->consumer.consume = file_consume;
    f->cfg = p->config;
    f->proto = strcmp(f->cfg->format, "proto") == 0;
    f->fd = -1;
    pthread_mutex_init(&f->lock, NULL);
    const char *labels[] = {"exporter", p->id, NULL};
    pp_metrics *m = p->host->metrics;
    f->sent[PP_TRACES] = pp_counter_get(m, "otelcol_exporter_sent_spans",
                                        "Number of spans successfully sent to destination.", labels);
    f->sent[PP_METRICS] =
        pp_counter_get(m, "otelcol_exporter_sent_metric_points",
                       "Number of metric points successfully sent to destination.", labels);
    f->failed[PP_TRACES] =
        pp_counter_get(m, "otelcol_exporter_send_failed_spans",
                       "Number of spans in failed attempts to send to destination.", labels);
    f->failed[PP_METRICS] =
        pp_counter_get(m, "otelcol_exporter_send_failed_metric_points",
                       "Number of metric points in failed attempts to send to destination.", labels);
    return f;
}

static int file_start(void *inst, pp_host *host, pp_status *st) {
    (void)host;
    file_exporter *f = inst;
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (f->cfg->append ? O_APPEND : O_TRUNC);
    int fd = open(f->cfg->path, flags, 0644);
    if (fd < 0)
        return pp_fail(st, PP_INTERNAL, "%s: cannot open %s: %s", f->component, f->cfg->path,
                       strerror(errno));
    pthread_mutex_lock(&f->lock);
    f->fd = fd;
    pthread_mutex_unlock(&f->lock);
    return 0;
}

static pp_consumer *file_consumer(void *inst, pp_signal s) {
    (void)s;
    return &((file_exporter *)inst)->consumer;
}

static void close_file(file_exporter *f) {
    pthread_mutex_lock(&f->lock);
    int fd = f->fd;
    f->fd = -1;
    pthread_mutex_unlock(&f->lock);
    if (fd >= 0 && close(fd) != 0)
        pp_log_error(f->component, "close failed", "path", f->cfg->path, "error",
                     strerror(errno), NULL);
}

static void file_shutdown(void *inst, pp_host *host) {
    (void)host;
    close_file(inst);
}

static void file_destroy(void *inst) {
    file_exporter *f = inst;
    close_file(f);
    pthread_mutex_destroy(&f->lock);
    free(f->component);
    free(f);
}

const pp_factory pp_file_exporter = {
    .kind = PP_EXPORTER,
    .type = "file",
    .signals = PP_SIG_BIT(PP_TRACES) | PP_SIG_BIT(PP_METRICS),
    .config_size = sizeof(file_config),
    .schema = file_schema,
    .config_defaults = file_defaults,
    .create = file_create,
    .start = file_start,
    .consumer = file_consumer,
    .shutdown = file_shutdown,
    .destroy = file_destroy,
};
