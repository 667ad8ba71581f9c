/* sentry_envelope.h -- Sentry envelopes with one item each (WIRE-SPECS 4.2).
 *
 * An envelope is built once, when the event is mapped, and may then sit in a
 * queue or on disk. sent_at must say when it is actually sent, and a second
 * sent_at gets the envelope rejected, so building leaves it out and
 * pp_sentry_envelope_stamp adds it to a copy just before each send. */
#ifndef PIPIT_SENTRY_ENVELOPE_H
#define PIPIT_SENTRY_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

/* Builds
 *   {"event_id":...,"dsn":...,"sdk":{"name":"pipit","version":...}}\n
 *   {"type":item_type,"length":item_len,"content_type":"application/json"}\n
 *   item_json\n
 * event_id: 32 hex; dsn: the public DSN or NULL to leave it out. Returns
 * malloc'd bytes (NUL-terminated; *out_len excludes the NUL), NULL on OOM. */
char *pp_sentry_envelope_build(const char *item_type, const char *event_id, const char *dsn,
                               const char *item_json, size_t item_len, size_t *out_len);

/* A copy of env with "sent_at":"<now as RFC 3339 UTC, ms>" as the first field
 * of the header line. NULL if env has no header line, already has a sent_at,
 * or on OOM. */
char *pp_sentry_envelope_stamp(const char *env, size_t len, uint64_t now_ms, size_t *out_len);

/* now_ms as "2026-11-24T10:00:00.000Z" (25 bytes with the NUL). */
void pp_sentry_rfc3339_ms(uint64_t now_ms, char out[32]);

#endif
