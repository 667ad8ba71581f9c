/* diag.c -- collecting and printing configuration problems; see diag.h. */
#include "diag.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void pp_diag_init(pp_diag *d) {
    memset(d, 0, sizeof(*d));
}

void pp_diag_free(pp_diag *d) {
    for (size_t i = 0; i < d->count; i++) {
        free(d->entries[i].path);
        free(d->entries[i].message);
        /* The entry owns its copy of the file name; the field is const only
         * so that readers cannot change it. */
        free((void *)(uintptr_t)d->entries[i].file);
    }
    free(d->entries);
    pp_diag_init(d);
}

static char *xstrdup(const char *s) {
    char *r = strdup(s);
    if (!r) abort();
    return r;
}

__attribute__((format(printf, 6, 0))) static void diag_addv(pp_diag *d, pp_severity sev,
                                                           const char *path, const char *file,
                                                           int line, const char *fmt, va_list ap) {
    if (d->count == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        pp_diag_entry *e = realloc(d->entries, cap * sizeof(*e));
        if (!e) abort();
        d->entries = e;
        d->cap = cap;
    }
    char *msg;
    if (vasprintf(&msg, fmt, ap) < 0) abort();
    pp_diag_entry *e = &d->entries[d->count++];
    e->severity = sev;
    e->path = xstrdup(path ? path : "");
    e->message = msg;
    e->line = line;
    e->file = file ? xstrdup(file) : NULL;
    if (sev == PP_SEV_ERROR) d->errors++;
    else d->warnings++;
}

void pp_diag_add(pp_diag *d, pp_severity sev, const char *path, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    diag_addv(d, sev, path, NULL, line, fmt, ap);
    va_end(ap);
}

void pp_diag_add_at(pp_diag *d, pp_severity sev, const char *path, const char *file, int line,
                    const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    diag_addv(d, sev, path, file, line, fmt, ap);
    va_end(ap);
}

static void print_one(const pp_diag_entry *e, FILE *out) {
    fprintf(out, "%s: ", e->severity == PP_SEV_ERROR ? "error" : "warning");
    if (e->path[0]) fprintf(out, "%s: ", e->path);
    fputs(e->message, out);
    if (e->line > 0 && e->file) fprintf(out, " (%s:%d)", e->file, e->line);
    else if (e->line > 0) fprintf(out, " (line %d)", e->line);
    fputc('\n', out);
}

void pp_diag_print(const pp_diag *d, FILE *out) {
    for (size_t i = 0; i < d->count; i++)
        if (d->entries[i].severity == PP_SEV_ERROR) print_one(&d->entries[i], out);
    for (size_t i = 0; i < d->count; i++)
        if (d->entries[i].severity == PP_SEV_WARNING) print_one(&d->entries[i], out);
}

int pp_diag_has(const pp_diag *d, const char *path, const char *msg_part) {
    for (size_t i = 0; i < d->count; i++) {
        const pp_diag_entry *e = &d->entries[i];
        if (strcmp(e->path, path) == 0 && strstr(e->message, msg_part)) return 1;
    }
    return 0;
}
