/* config_node.h -- the YAML document as a tree, after ${env:...} substitution.
 *
 * libyaml parses; this keeps scalars as strings (typing happens when a
 * component's schema decodes them) with the line each came from. */
#ifndef PIPIT_CONFIG_NODE_H
#define PIPIT_CONFIG_NODE_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"

typedef enum pp_node_type { PP_NODE_NULL, PP_NODE_SCALAR, PP_NODE_MAP, PP_NODE_SEQ } pp_node_type;

typedef struct pp_node pp_node;
struct pp_node {
    pp_node_type type;
    char *key;       /* key in the parent map, NULL otherwise */
    char *value;     /* scalar text (after substitution) */
    bool quoted;     /* scalar was quoted in YAML (so "null"/"" are strings) */
    pp_node **items; /* map entries (each has key) or sequence items, in order */
    size_t count;
    int line;
    const char *file; /* interned file name, lives as long as the tree root */
};

/* Parses YAML text. Substitutes ${env:VAR}, ${VAR}, ${env:VAR:-default} and $$.
 * Errors (syntax, unknown provider, duplicate key) go to d; returns NULL on failure. */
pp_node *pp_node_parse(const char *text, size_t len, const char *file, pp_diag *d);
pp_node *pp_node_load_file(const char *path, pp_diag *d);
void pp_node_free(pp_node *n);

/* Deep merge: maps merge key by key, anything else in src replaces dst's value.
 * src is consumed (its nodes move into dst or are freed). */
void pp_node_merge(pp_node *dst, pp_node *src);

const pp_node *pp_node_get(const pp_node *map, const char *key);
bool pp_node_is_null(const pp_node *n);
/* Writes the tree as YAML (for print-config). Caller frees. */
char *pp_node_to_yaml(const pp_node *n);
/* Same, writing "[REDACTED]" for every node for which mask(node, ud) is true. */
char *pp_node_to_yaml_masked(const pp_node *n, bool (*mask)(const pp_node *n, void *ud), void *ud);

/* YAML paths for diagnostics, heap-allocated: "a.b" (or "b" when parent is
 * ""), and "a.b[3]". */
char *pp_path_key(const char *parent, const char *key);
char *pp_path_index(const char *parent, size_t i);
/* strdup/calloc that abort on out-of-memory (config loading cannot go on). */
char *pp_xstrdup(const char *s);
void *pp_xcalloc(size_t n, size_t size);

#endif
