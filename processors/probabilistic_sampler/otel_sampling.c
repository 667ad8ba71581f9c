/* otel_sampling.c -- see otel_sampling.h. */
#include "otel_sampling.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

uint64_t ots_randomness_from_trace_id(const uint8_t id[16]) {
    uint64_t r = 0;
    for (int i = 9; i < 16; i++) r = (r << 8) | id[i];
    return r;
}

int ots_threshold_from_probability(double p, int prec, uint64_t *t) {
    const double max = (double)OTS_MAX_ADJUSTED;
    if (!(p >= 1.0 / max && p <= 1.0)) return -1;
    if (p == 1.0) {
        *t = 0;
        return 0;
    }
    if (prec <= 0 || prec > 14) prec = 14;
    /* Near either extreme the threshold has leading 0 or f digits, which
     * carry no relative precision: add one digit per 4 binary orders of
     * magnitude of p and of 1 - p (the exponents are <= 0). */
    int exp_p, exp_r;
    frexp(p, &exp_p);
    frexp(1.0 - p, &exp_r);
    int a = prec + exp_p / -4, b = prec + exp_r / -4;
    prec = a > b ? a : b;
    if (prec > 14) prec = 14;
    uint64_t th = OTS_MAX_ADJUSTED - (uint64_t)llround(p * max);
    if (prec < 14) {
        unsigned shift = 4u * (unsigned)(14 - prec);
        th += (uint64_t)1 << (shift - 1); /* round half up */
        th = (th >> shift) << shift;
    }
    *t = th;
    return 0;
}

double ots_probability(uint64_t t) {
    return (double)(OTS_MAX_ADJUSTED - t) / (double)OTS_MAX_ADJUSTED;
}

void ots_format_rv(uint64_t r, char out[15]) {
    snprintf(out, 15, "%014llx", (unsigned long long)(r & OTS_MASK56));
}

void ots_format_th(uint64_t t, char out[15]) {
    if (t == 0) {
        strcpy(out, "0");
        return;
    }
    ots_format_rv(t, out);
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '0') out[--n] = '\0';
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Parses n hex digits; -1 if any is not hex. */
static int parse_hex(const char *s, size_t n, uint64_t *v) {
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        int h = hexval(s[i]);
        if (h < 0) return -1;
        x = (x << 4) | (uint64_t)h;
    }
    *v = x;
    return 0;
}

/* Parses the value of the ot entry: fields `k:v` separated by ';'. */
static int parse_ot(const char *v, size_t len, ots_state *st) {
    size_t pos = 0, elen = 0;
    while (pos < len) {
        const char *f = v + pos;
        const char *semi = memchr(f, ';', len - pos);
        size_t flen = semi ? (size_t)(semi - f) : len - pos;
        pos += flen + (semi ? 1 : 0);
        if (flen >= 3 && f[0] == 't' && f[1] == 'h' && f[2] == ':') {
            size_t n = flen - 3;
            if (n < 1 || n > 14 || parse_hex(f + 3, n, &st->th) != 0) return -1;
            st->th <<= 4 * (14 - n);
            st->has_th = true;
        } else if (flen >= 3 && f[0] == 'r' && f[1] == 'v' && f[2] == ':') {
            if (flen - 3 != 14 || parse_hex(f + 3, 14, &st->rv) != 0) return -1;
            memcpy(st->rv_text, f + 3, 14);
            st->rv_text[14] = '\0';
            st->has_rv = true;
        } else if (flen > 0) {
            if (!memchr(f, ':', flen)) return -1;
            if (elen + flen + 2 > sizeof(st->extra)) return -1;
            if (elen) st->extra[elen++] = ';';
            memcpy(st->extra + elen, f, flen);
            elen += flen;
            st->extra[elen] = '\0';
        }
    }
    return 0;
}

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

int ots_parse_tracestate(const char *ts, ots_state *st, char *rest_buf, size_t cap) {
    memset(st, 0, sizeof(*st));
    rest_buf[0] = '\0';
    st->rest = rest_buf;
    if (!ts) return 0;
    size_t len = strlen(ts), pos = 0, rlen = 0;
    if (len > 512) return -1; /* W3C: at most 32 entries of bounded size */
    bool seen_ot = false;
    while (pos < len) {
        const char *e = ts + pos;
        const char *comma = memchr(e, ',', len - pos);
        size_t elen = comma ? (size_t)(comma - e) : len - pos;
        pos += elen + (comma ? 1 : 0);
        while (elen && is_ows(*e)) e++, elen--;
        while (elen && is_ows(e[elen - 1])) elen--;
        if (elen == 0) continue;
        if (elen >= 3 && memcmp(e, "ot=", 3) == 0) {
            if (seen_ot || parse_ot(e + 3, elen - 3, st) != 0) return -1;
            seen_ot = true;
            continue;
        }
        if (rlen + elen + 2 > cap) return -1;
        if (rlen) rest_buf[rlen++] = ',';
        memcpy(rest_buf + rlen, e, elen);
        rlen += elen;
        rest_buf[rlen] = '\0';
    }
    return 0;
}

void ots_set_rv(ots_state *st, uint64_t rv) {
    st->rv = rv & OTS_MASK56;
    st->has_rv = true;
    ots_format_rv(st->rv, st->rv_text);
}

int ots_format_tracestate(const ots_state *st, char *out, size_t cap) {
    char th[15] = "";
    if (st->has_th) ots_format_th(st->th, th);
    /* The ot entry: fields joined by ';' -- rv, th, then the others. */
    const char *fields[3];
    char rvf[18], thf[18];
    size_t nf = 0;
    if (st->has_rv) {
        snprintf(rvf, sizeof(rvf), "rv:%s", st->rv_text);
        fields[nf++] = rvf;
    }
    if (st->has_th) {
        snprintf(thf, sizeof(thf), "th:%s", th);
        fields[nf++] = thf;
    }
    if (st->extra[0]) fields[nf++] = st->extra;
    size_t n = 0;
    int w;
    /* Updated entries go first (W3C). */
    for (size_t i = 0; i < nf; i++) {
        w = snprintf(out + n, cap - n, "%s%s", i == 0 ? "ot=" : ";", fields[i]);
        if (w < 0 || (size_t)w >= cap - n) return -1;
        n += (size_t)w;
    }
    const char *rest = st->rest ? st->rest : "";
    w = snprintf(out + n, cap - n, "%s%s", nf && rest[0] ? "," : "", rest);
    if (w < 0 || (size_t)w >= cap - n) return -1;
    return (int)(n + (size_t)w);
}

uint32_t ots_fnv1a32_seeded(uint32_t seed, const uint8_t *data, size_t len) {
    uint32_t h = 2166136261u;
    for (int i = 0; i < 4; i++) {
        h ^= (uint8_t)(seed >> (8 * i));
        h *= 16777619u;
    }
    for (size_t i = 0; i < len; i++) {
        h ^= data[i];
        h *= 16777619u;
    }
    return h;
}

uint64_t ots_hash_seed_randomness(uint32_t seed, const uint8_t *data, size_t len) {
    uint32_t h = ots_fnv1a32_seeded(seed, data, len);
    uint64_t bucket = h & 0x3fffu;
    /* The top 14 bits carry the decision, the low 14 the bucket; the middle
     * 28 mix the hash's top bits. The Collector takes h >> 18 there (14 bits,
     * though its comment says 18); pipit does the same so that the rv it
     * writes is byte-identical. */
    uint64_t top = h >> 18;
    uint64_t mixed28 = top ^ (top << 10);
    return ((0x3fffu - bucket) << 42) | (mixed28 << 14) | bucket;
}
