/* sentry_envelope.c -- see sentry_envelope.h. */
#include "sentry_envelope.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strbuf.h"

static void put_json(pp_strbuf *sb, json_object *o) {
    if (!o) {
        sb->oom = true;
        return;
    }
    size_t n = 0;
    const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    if (!s) sb->oom = true;
    else pp_sb_append(sb, s, n);
    pp_sb_putc(sb, '\n');
}

char *pp_sentry_envelope_build(const char *item_type, const char *event_id, const char *dsn,
                               const char *item_json, size_t item_len, size_t *out_len) {
    pp_strbuf sb = PP_STRBUF_INIT;
    json_object *h = json_object_new_object(), *sdk = json_object_new_object();
    if (h && sdk) {
        json_object_object_add(h, "event_id", json_object_new_string(event_id));
        if (dsn) json_object_object_add(h, "dsn", json_object_new_string(dsn));
        json_object_object_add(sdk, "name", json_object_new_string("pipit"));
        json_object_object_add(sdk, "version", json_object_new_string(PIPIT_VERSION));
        json_object_object_add(h, "sdk", sdk);
        sdk = NULL;
    }
    put_json(&sb, h);
    json_object_put(h);
    json_object_put(sdk);

    json_object *ih = json_object_new_object();
    if (ih) {
        json_object_object_add(ih, "type", json_object_new_string(item_type));
        json_object_object_add(ih, "length", json_object_new_int64((int64_t)item_len));
        json_object_object_add(ih, "content_type", json_object_new_string("application/json"));
    }
    put_json(&sb, ih);
    json_object_put(ih);
    pp_sb_append(&sb, item_json, item_len);
    pp_sb_putc(&sb, '\n');
    return pp_sb_finish(&sb, out_len);
}

void pp_sentry_rfc3339_ms(uint64_t now_ms, char out[32]) {
    time_t t = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(now_ms % 1000));
}

char *pp_sentry_envelope_stamp(const char *env, size_t len, uint64_t now_ms, size_t *out_len) {
    const char *nl = memchr(env, '\n', len);
    size_t hlen = nl ? (size_t)(nl - env) : len;
    if (hlen < 2 || env[0] != '{') return NULL;
    /* The header is our own compact JSON: a key appears as "sent_at": only as a key. */
    for (size_t i = 0; i + 10 <= hlen; i++)
        if (memcmp(env + i, "\"sent_at\":", 10) == 0) return NULL;
    char ts[32];
    pp_sentry_rfc3339_ms(now_ms, ts);
    pp_strbuf sb = PP_STRBUF_INIT;
    pp_sb_putc(&sb, '{');
    pp_sb_printf(&sb, "\"sent_at\":\"%s\"%s", ts, env[1] == '}' ? "" : ",");
    pp_sb_append(&sb, env + 1, len - 1);
    return pp_sb_finish(&sb, out_len);
}
