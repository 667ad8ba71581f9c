/* sentry_trim.c -- see sentry_trim.h. */
#include "sentry_trim.h"

#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

static const char *text(json_object *o, size_t *n) {
    return json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, n);
}

/* Cuts every string longer than max bytes to about max (on a UTF-8 boundary). */
static size_t cut_strings(json_object *o, size_t max) {
    size_t cuts = 0;
    switch (json_object_get_type(o)) {
    case json_type_string: {
        const char *s = json_object_get_string(o);
        size_t n = (size_t)json_object_get_string_len(o);
        if (n <= max) break;
        size_t keep = 0;
        while (keep < max) {
            size_t l = pp_utf8_seq_len(s + keep);
            if (keep + (l ? l : 1) > max) break;
            keep += l ? l : 1;
        }
        char *cut = malloc(keep + 4);
        if (!cut) break;
        memcpy(cut, s, keep);
        memcpy(cut + keep, "...", 4);
        json_object_set_string(o, cut);
        free(cut);
        cuts++;
        break;
    }
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(o); i++)
            cuts += cut_strings(json_object_array_get_idx(o, i), max);
        break;
    case json_type_object: {
        json_object_object_foreach(o, key, val) {
            (void)key;
            cuts += cut_strings(val, max);
        }
        break;
    }
    default: break;
    }
    return cuts;
}

char *pp_sentry_serialize_limited(json_object *item, size_t max, size_t *len, size_t *trimmed_spans,
                                  size_t *cut_values) {
    size_t n = 0;
    const char *s = text(item, &n);
    json_object *spans = NULL;
    json_object_object_get_ex(item, "spans", &spans);
    while (s && n > max && spans && json_object_array_length(spans) > 0) {
        /* Drop about as many bytes of spans as we are over, then measure again. */
        size_t over = n - max, freed = 0, k = json_object_array_length(spans), drop = 0;
        while (drop < k && freed < over) {
            size_t sl = 0;
            text(json_object_array_get_idx(spans, k - 1 - drop), &sl);
            freed += sl + 1;
            drop++;
        }
        json_object_array_del_idx(spans, k - drop, drop);
        *trimmed_spans += drop;
        s = text(item, &n);
    }
    for (size_t limit = 16384; s && n > max && limit >= 64; limit /= 4) {
        *cut_values += cut_strings(item, limit);
        s = text(item, &n);
    }
    if (!s || n > max) return NULL;
    char *out = strndup(s, n);
    if (out) *len = n;
    return out;
}
