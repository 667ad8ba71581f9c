/* strbuf.h -- a growable string for building text responses and log lines.
 *
 * Out of memory is sticky: appends after a failed allocation do nothing and
 * pp_sb_finish() returns NULL, so builders check once at the end. */
#ifndef PIPIT_STRBUF_H
#define PIPIT_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct pp_strbuf {
    char *p;
    size_t len, cap;
    bool oom;
} pp_strbuf;

#define PP_STRBUF_INIT {NULL, 0, 0, false}

void pp_sb_append(pp_strbuf *sb, const char *s, size_t n);
void pp_sb_puts(pp_strbuf *sb, const char *s);
void pp_sb_putc(pp_strbuf *sb, char c);
void pp_sb_printf(pp_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string literal with quotes: control characters as \uXXXX (or
 * \n, \t, ...), invalid UTF-8 bytes as \ufffd. */
void pp_sb_json_str(pp_strbuf *sb, const char *s);
/* Same escaping without the surrounding quotes (quote_escaped: also \"). */
void pp_sb_json_escape(pp_strbuf *sb, const char *s, bool quote_escaped);
/* Returns the NUL-terminated text (caller frees) and its length, or NULL if an
 * allocation failed; the buffer is reset either way. */
char *pp_sb_finish(pp_strbuf *sb, size_t *len);
void pp_sb_free(pp_strbuf *sb);

/* Length (1-4) of the valid UTF-8 sequence starting at s, 0 if the bytes at s
 * are not valid UTF-8 (overlong forms, surrogates, > U+10FFFF, truncated). */
size_t pp_utf8_seq_len(const char *s);

#endif
