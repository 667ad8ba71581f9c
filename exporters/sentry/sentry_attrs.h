/* sentry_attrs.h -- OTLP attributes as Sentry tags and data. */
#ifndef PIPIT_SENTRY_ATTRS_H
#define PIPIT_SENTRY_ATTRS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otlp.h"

/* Relay's limit for tag keys and values, in characters. */
#define PP_SENTRY_TAG_MAX 200

/* The value of the first attribute named key, or NULL. */
const pp_any_value *pp_sentry_attr(pp_key_value *const *kv, size_t n, const char *key);
/* Its string value, NULL if absent or not a string. */
const char *pp_sentry_attr_str(pp_key_value *const *kv, size_t n, const char *key);
/* Its integer value (an int, or a string of digits as some SDKs send). */
bool pp_sentry_attr_int(pp_key_value *const *kv, size_t n, const char *key, int64_t *out);

/* A value as JSON data: strings, bools and ints as such, doubles in their
 * shortest form (non-finite ones as strings), bytes as base64, arrays and
 * kvlists as JSON arrays and objects, an unset value as null. NULL on OOM. */
json_object *pp_sentry_any_json(const pp_any_value *v);

/* Adds every string, bool, int and double attribute to tags as text (values
 * cut to 200 characters, longer keys skipped). Keys already in tags stay. */
void pp_sentry_add_tags(json_object *tags, pp_key_value *const *kv, size_t n);
/* Adds tags[key] = value cut to 200 characters, unless key is there already. */
void pp_sentry_add_tag(json_object *tags, const char *key, const char *value);
/* Adds every attribute to data (pp_sentry_any_json). */
void pp_sentry_add_data(json_object *data, pp_key_value *const *kv, size_t n);

/* ns since the epoch as float seconds with exactly microsecond precision. */
json_object *pp_sentry_time_json(uint64_t unix_nano);
/* Lower-case hex of an id (out holds 2 * len + 1). */
void pp_sentry_hex(const ProtobufCBinaryData *id, char *out);

#endif
