/* strbuf.c -- see strbuf.h. */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Makes room for n more bytes plus the terminating NUL. */
static bool sb_reserve(pp_strbuf *sb, size_t n) {
    if (sb->oom) return false;
    if (sb->len + n + 1 <= sb->cap) return true;
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < sb->len + n + 1) {
        if (cap > ((size_t)-1) / 2) {
            sb->oom = true;
            return false;
        }
        cap *= 2;
    }
    char *p = realloc(sb->p, cap);
    if (!p) {
        sb->oom = true;
        return false;
    }
    sb->p = p;
    sb->cap = cap;
    return true;
}

void pp_sb_append(pp_strbuf *sb, const char *s, size_t n) {
    if (!sb_reserve(sb, n)) return;
    memcpy(sb->p + sb->len, s, n);
    sb->len += n;
    sb->p[sb->len] = '\0';
}

void pp_sb_puts(pp_strbuf *sb, const char *s) { pp_sb_append(sb, s, strlen(s)); }

void pp_sb_putc(pp_strbuf *sb, char c) { pp_sb_append(sb, &c, 1); }

void pp_sb_printf(pp_strbuf *sb, const char *fmt, ...) {
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof(small)) {
        pp_sb_append(sb, small, (size_t)n);
        return;
    }
    if (!sb_reserve(sb, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(sb->p + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

size_t pp_utf8_seq_len(const char *str) {
    const unsigned char *s = (const unsigned char *)str;
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    /* Allowed range of the second byte depends on the lead byte (RFC 3629). */
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;      /* overlong */
        else if (c == 0xED) hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;      /* overlong */
        else if (c == 0xF4) hi = 0x8F; /* > U+10FFFF */
    } else return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    /* A NUL is never a continuation byte, so this stops at the string's end. */
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return n;
}

void pp_sb_json_escape(pp_strbuf *sb, const char *s, bool quote_escaped) {
    while (*s) {
        /* Copy the longest run that needs no escaping in one append. */
        const char *run = s;
        size_t n;
        while (*s && (unsigned char)*s >= 0x20 && *s != '\\' && !(quote_escaped && *s == '"') &&
               (n = pp_utf8_seq_len(s)) != 0)
            s += n;
        if (s > run) pp_sb_append(sb, run, (size_t)(s - run));
        if (!*s) break;
        unsigned char c = (unsigned char)*s++;
        switch (c) {
        case '"': pp_sb_puts(sb, "\\\""); break;
        case '\\': pp_sb_puts(sb, "\\\\"); break;
        case '\n': pp_sb_puts(sb, "\\n"); break;
        case '\r': pp_sb_puts(sb, "\\r"); break;
        case '\t': pp_sb_puts(sb, "\\t"); break;
        case '\b': pp_sb_puts(sb, "\\b"); break;
        case '\f': pp_sb_puts(sb, "\\f"); break;
        default:
            if (c < 0x20) pp_sb_printf(sb, "\\u%04x", c);
            else pp_sb_puts(sb, "\\ufffd"); /* a byte that is not valid UTF-8 */
        }
    }
}

void pp_sb_json_str(pp_strbuf *sb, const char *s) {
    pp_sb_putc(sb, '"');
    pp_sb_json_escape(sb, s, true);
    pp_sb_putc(sb, '"');
}

char *pp_sb_finish(pp_strbuf *sb, size_t *len) {
    if (!sb->oom && !sb->p) sb_reserve(sb, 0);
    if (sb->oom) {
        pp_sb_free(sb);
        return NULL;
    }
    sb->p[sb->len] = '\0';
    char *p = sb->p;
    if (len) *len = sb->len;
    sb->p = NULL;
    sb->len = sb->cap = 0;
    return p;
}

void pp_sb_free(pp_strbuf *sb) {
    free(sb->p);
    sb->p = NULL;
    sb->len = sb->cap = 0;
    sb->oom = false;
}
