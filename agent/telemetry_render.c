/* telemetry_render.c -- the Prometheus text exposition format 0.0.4.
 *
 *   # HELP otelcol_exporter_sent_spans_total Number of spans sent.
 *   # TYPE otelcol_exporter_sent_spans_total counter
 *   otelcol_exporter_sent_spans_total{exporter="otlp"} 5
 *
 * Families come sorted by name and series by label values (both are kept
 * sorted at registration), so two scrapes list things in the same order. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry_internal.h"

void pp_format_float(double v, char *out, size_t outlen) {
    if (isnan(v)) {
        snprintf(out, outlen, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, outlen, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    /* The fewest significant digits that read back exactly... */
    char e[40];
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(e, sizeof(e), "%.*e", prec - 1, v);
        if (strtod(e, NULL) == v) break;
    }
    snprintf(e, sizeof(e), "%.*e", prec - 1, v);
    int exp = atoi(strchr(e, 'e') + 1);
    /* ...written as Go's strconv 'g' with precision -1 does: the exponent
     * form when the exponent is < -4 or >= 6, otherwise plain decimals. */
    if (exp < -4 || exp >= 6) {
        snprintf(out, outlen, "%s", e);
        return;
    }
    int decimals = prec - 1 - exp;
    snprintf(out, outlen, "%.*f", decimals > 0 ? decimals : 0, v);
}

/* HELP text escapes backslash and newline; label values also the quote. */
static void escape(pp_strbuf *sb, const char *s, bool quote) {
    for (; *s; s++) {
        size_t n = pp_utf8_seq_len(s);
        if (n == 0) {
            pp_sb_puts(sb, "\xEF\xBF\xBD"); /* U+FFFD: the format is UTF-8 */
            continue;
        }
        if (*s == '\\') pp_sb_puts(sb, "\\\\");
        else if (*s == '\n') pp_sb_puts(sb, "\\n");
        else if (quote && *s == '"') pp_sb_puts(sb, "\\\"");
        else pp_sb_append(sb, s, n);
        s += n - 1;
    }
}

/* name{labels[,le="..."]} -- le is the histogram bucket's bound, or NULL. */
static void sample_name(pp_strbuf *sb, const char *name, const char *suffix, const pp_series *s,
                        const char *le) {
    pp_sb_puts(sb, name);
    pp_sb_puts(sb, suffix);
    if (s->nlabels == 0 && !le) return;
    pp_sb_putc(sb, '{');
    for (size_t i = 0; i < s->nlabels; i++) {
        pp_sb_printf(sb, "%s%s=\"", i ? "," : "", s->labels[2 * i]);
        escape(sb, s->labels[2 * i + 1], true);
        pp_sb_putc(sb, '"');
    }
    if (le) pp_sb_printf(sb, "%sle=\"%s\"", s->nlabels ? "," : "", le);
    pp_sb_putc(sb, '}');
}

static void put_float(pp_strbuf *sb, double v) {
    char buf[40];
    pp_format_float(v, buf, sizeof(buf));
    pp_sb_printf(sb, " %s\n", buf);
}

static void render_histogram(pp_strbuf *sb, const char *name, const pp_series *s) {
    const struct pp_histogram *h = &s->u.h;
    uint64_t cum = 0;
    char le[40];
    for (size_t i = 0; i <= h->nbounds; i++) {
        cum += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        if (i < h->nbounds) pp_format_float(h->bounds[i], le, sizeof(le));
        else snprintf(le, sizeof(le), "+Inf");
        sample_name(sb, name, "_bucket", s, le);
        pp_sb_printf(sb, " %" PRIu64 "\n", cum);
    }
    sample_name(sb, name, "_sum", s, NULL);
    put_float(sb, pp_histogram_sum(h));
    /* The count is the +Inf bucket, so the two always agree in one scrape. */
    sample_name(sb, name, "_count", s, NULL);
    pp_sb_printf(sb, " %" PRIu64 "\n", cum);
}

static void render_family(pp_strbuf *sb, const pp_family *f) {
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    size_t nlen = strlen(f->name);
    /* Counters carry the _total suffix (unless the name already has it). */
    const char *suffix =
        f->type == PP_MT_COUNTER && !(nlen >= 6 && strcmp(f->name + nlen - 6, "_total") == 0)
            ? "_total"
            : "";
    pp_sb_printf(sb, "# HELP %s%s ", f->name, suffix);
    escape(sb, f->help, false);
    pp_sb_printf(sb, "\n# TYPE %s%s %s\n", f->name, suffix, type_names[f->type]);
    for (size_t i = 0; i < f->nseries; i++) {
        const pp_series *s = f->series[i];
        if (f->type == PP_MT_HISTOGRAM) {
            render_histogram(sb, f->name, s);
            continue;
        }
        sample_name(sb, f->name, suffix, s, NULL);
        if (s->dfn) put_float(sb, s->dfn(s->darg));
        else if (f->type == PP_MT_COUNTER)
            pp_sb_printf(sb, " %" PRIu64 "\n", atomic_load_explicit(&s->u.c.v, memory_order_relaxed));
        else if (s->u.g.fn) pp_sb_printf(sb, " %" PRId64 "\n", s->u.g.fn(s->u.g.arg));
        else pp_sb_printf(sb, " %" PRId64 "\n", atomic_load_explicit(&s->u.g.v, memory_order_relaxed));
    }
}

void pp_metrics_render_locked(pp_metrics *m, pp_strbuf *sb) {
    for (size_t i = 0; i < m->nfamilies; i++)
        if (m->families[i]->nseries > 0) render_family(sb, m->families[i]);
}

char *pp_metrics_render(pp_metrics *m, size_t *len) {
    pp_strbuf sb = PP_STRBUF_INIT;
    pthread_mutex_lock(&m->mu);
    pp_metrics_render_locked(m, &sb);
    pthread_mutex_unlock(&m->mu);
    return pp_sb_finish(&sb, len);
}
