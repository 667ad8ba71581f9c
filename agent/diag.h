/* diag.h -- a list of configuration problems, each with its YAML path.
 *
 * Validation never stops at the first problem: every error and warning is
 * collected here and printed together, as "path: message". */
#ifndef PIPIT_DIAG_H
#define PIPIT_DIAG_H

#include <stdio.h>
#include <stddef.h>

typedef enum pp_severity { PP_SEV_ERROR, PP_SEV_WARNING } pp_severity;

typedef struct pp_diag_entry {
    pp_severity severity;
    char *path;    /* e.g. "exporters.otlp/jaeger.endpoint" ("" for the file itself) */
    char *message; /* e.g. "required" */
    int line;      /* 1-based line in the YAML file, 0 if unknown */
    const char *file;
} pp_diag_entry;

typedef struct pp_diag {
    pp_diag_entry *entries;
    size_t count, cap;
    size_t errors, warnings;
} pp_diag;

void pp_diag_init(pp_diag *d);
void pp_diag_free(pp_diag *d);
void pp_diag_add(pp_diag *d, pp_severity sev, const char *path, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
#define pp_diag_error(d, path, line, ...) pp_diag_add((d), PP_SEV_ERROR, (path), (line), __VA_ARGS__)
#define pp_diag_warn(d, path, line, ...) pp_diag_add((d), PP_SEV_WARNING, (path), (line), __VA_ARGS__)
/* Same, naming the file too (copied: the entry outlives the config tree). */
void pp_diag_add_at(pp_diag *d, pp_severity sev, const char *path, const char *file, int line,
                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* At a config node (any struct with file and line, e.g. pp_node; may be NULL). */
#define pp_diag_error_at(d, path, node, ...)                                               \
    pp_diag_add_at((d), PP_SEV_ERROR, (path), (node) ? (node)->file : NULL,               \
                   (node) ? (node)->line : 0, __VA_ARGS__)
#define pp_diag_warn_at(d, path, node, ...)                                                \
    pp_diag_add_at((d), PP_SEV_WARNING, (path), (node) ? (node)->file : NULL,             \
                   (node) ? (node)->line : 0, __VA_ARGS__)
/* Writes "error: path: message (file:line)" lines, errors first. */
void pp_diag_print(const pp_diag *d, FILE *out);
/* True if some entry has this exact path and contains msg_part (for tests). */
int pp_diag_has(const pp_diag *d, const char *path, const char *msg_part);

#endif
